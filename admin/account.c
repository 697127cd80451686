/*
 * `postoffice account ...`: add, remove, list and show accounts, set their
 * password, switch POP3 and IMAP on or off, disable and enable them.  The
 * directory entry is auth/'s (auth_account_*), the mail database
 * storage/'s (store_account_*); this file keeps the two in step:
 *
 *   add:  the entry is made without a password, then the mail database,
 *         then the password is set, so an account can never log in before
 *         its mailboxes exist; on a failure the steps made are undone.
 *   del:  the entry goes first (no more logins), then the mail database;
 *         a database that cannot be removed is reported, and is harmless
 *         because account ids are never reused.
 *
 * Every command takes --json and then prints the account as one JSON
 * object (list: an array of them) on stdout.  Messages go to stderr, with
 * the exit statuses listed in admin_private.h.
 */
#include "admin_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Options a subcommand accepts besides --json. */
enum {
	OPT_PASSWORD = 1 << 0, /* --password-stdin */
	OPT_TOGGLES = 1 << 1,  /* --pop on|off, --imap on|off */
};

/* Length of a generated password, in random bytes (printed as hex). */
#define GENERATED_PASSWORD_BYTES 12

struct account_args {
	const char *pos[2]; /* NAME, then on|off for pop and imap */
	size_t n_pos;
	bool password_stdin;
	int pop, imap; /* -1: not given, else 0 or 1 */
};

struct account_cmd {
	const char *name;
	int (*run)(struct admin_ctx *ctx, const struct account_args *args);
	size_t n_pos; /* positional arguments it takes */
	unsigned opts;
};

/* "on" -> 1, "off" -> 0, anything else -> -1. */
static int parse_onoff(const char *s)
{
	if (strcmp(s, "on") == 0)
		return 1;
	if (strcmp(s, "off") == 0)
		return 0;
	return -1;
}

/* Exit status and message for a negative errno from auth/. */
static int auth_failure(int err, const char *name, const char *what)
{
	switch (err) {
	case -ENOENT:
		admin__err("account '%s' does not exist", admin__quote(name));
		return EX_NOUSER;
	case -EEXIST:
		admin__err("account '%s' already exists", admin__quote(name));
		return EX_CANTCREAT;
	case -EINVAL:
		admin__err("%s '%s': invalid argument (a password is at most "
		           "511 bytes)",
		           what, admin__quote(name));
		return EX_USAGE;
	default:
		admin__err("%s '%s': cannot access the account directory", what,
		           admin__quote(name));
		return EX_TEMPFAIL;
	}
}

static int check_name(const char *name)
{
	if (auth_name_valid(name))
		return 0;
	admin__err("invalid account name '%s' (1 to %d characters of a-z 0-9 "
	           ". _ + - and at most one @ with a domain after it)",
	           admin__quote(name), AUTH_NAME_MAX);
	return EX_USAGE;
}

/*
 * Read the password from the first line of standard input into pw
 * (AUTH_PASSWORD_MAX + 1 bytes), without its CR LF.  Returns 0 or an exit
 * status.
 */
static int read_password(char *pw)
{
	size_t n = 0;
	bool nul = false, any = false;
	int c;

	while ((c = getchar()) != EOF && c != '\n') {
		any = true;
		if (n == AUTH_PASSWORD_MAX) {
			admin__err("password too long (at most %d bytes)",
			           AUTH_PASSWORD_MAX);
			explicit_bzero(pw, AUTH_PASSWORD_MAX + 1);
			return EX_USAGE;
		}
		nul |= c == '\0';
		pw[n++] = (char)c;
	}
	if (n > 0 && pw[n - 1] == '\r')
		n--;
	pw[n] = '\0';
	if (nul) {
		admin__err("the password contains a NUL byte");
		explicit_bzero(pw, AUTH_PASSWORD_MAX + 1);
		return EX_USAGE;
	}
	if (n == 0) {
		admin__err(any || c == '\n' ? "empty password"
		                            : "no password on standard input");
		return EX_USAGE;
	}
	return 0;
}

/* The password for add and passwd: from stdin, or made up (*generated_r
 * set).  Returns 0 or an exit status. */
static int get_password(const struct account_args *args, char *pw,
                        bool *generated_r)
{
	*generated_r = !args->password_stdin;
	if (args->password_stdin)
		return read_password(pw);
	po_random_hex(pw, GENERATED_PASSWORD_BYTES);
	return 0;
}

static void print_time(FILE *fp, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	if (gmtime_r(&tt, &tm) != NULL &&
	    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		fputs(buf, fp);
	else
		fprintf(fp, "%lld", (long long)t);
}

/* One account as a JSON object (no newline); password may be NULL. */
static void json_account(const struct auth_account *a, const char *password)
{
	fputs("{\"name\": ", stdout);
	admin__json_string(stdout, a->name);
	printf(", \"id\": %lld, \"state\": \"%s\", \"pop\": %s, "
	       "\"imap\": %s, \"quota_bytes\": %llu, \"created\": %lld",
	       (long long)a->id,
	       a->state == AUTH_STATE_ACTIVE ? "active" : "disabled",
	       a->pop_allowed ? "true" : "false",
	       a->imap_allowed ? "true" : "false",
	       (unsigned long long)a->quota_bytes, (long long)a->created);
	if (password != NULL) {
		fputs(", \"password\": ", stdout);
		admin__json_string(stdout, password);
	}
	fputc('}', stdout);
}

/* The account as text or JSON; password (may be NULL) is a generated one
 * the operator must see. */
static void print_account(const struct admin_ctx *ctx,
                          const struct auth_account *a, const char *password)
{
	if (ctx->json) {
		json_account(a, password);
		fputc('\n', stdout);
		return;
	}
	printf("name:        %s\n"
	       "id:          %lld\n"
	       "state:       %s\n"
	       "pop:         %s\n"
	       "imap:        %s\n"
	       "quota_bytes: %llu\n"
	       "created:     ",
	       a->name, (long long)a->id,
	       a->state == AUTH_STATE_ACTIVE ? "active" : "disabled",
	       a->pop_allowed ? "on" : "off", a->imap_allowed ? "on" : "off",
	       (unsigned long long)a->quota_bytes);
	print_time(stdout, a->created);
	fputc('\n', stdout);
	if (password != NULL)
		printf("password:    %s\n", password);
}

/* Look the account up and print it (after a change).  Returns 0 or an
 * exit status. */
static int show_account(struct admin_ctx *ctx, const char *name,
                        const char *password)
{
	struct auth_account a;
	int ret = auth_account_get(ctx->dir, name, &a);

	if (ret < 0)
		return auth_failure(ret, name, "cannot read account");
	print_account(ctx, &a, password);
	return 0;
}

/* Undo a half-made account: its mail database and directory entry. */
static void undo_add(struct admin_ctx *ctx, const char *name, int64_t id,
                     bool store_made)
{
	if (store_made && store_account_remove(ctx->store, id) == STORE_E_TEMP)
		admin__err("could not remove the new mail database of '%s'",
		           admin__quote(name));
	if (auth_account_del(ctx->dir, name) < 0)
		admin__err("could not remove the new directory entry of '%s'",
		           admin__quote(name));
}

static int make_account(struct admin_ctx *ctx, const struct account_args *args,
                        const char *pw)
{
	const char *name = args->pos[0], *err = "";
	bool pop = args->pop >= 0 ? args->pop : ctx->cfg.pop_default;
	bool imap = args->imap >= 0 ? args->imap : ctx->cfg.imap_default;
	int64_t id;
	int ret;

	id = auth_account_add(ctx->dir, name, NULL, pop, imap, &err);
	if (id < 0)
		return auth_failure((int)id, name, "cannot add account");
	ret = store_account_create(ctx->store, id);
	if (ret != STORE_OK) {
		admin__err("cannot create the mail database of '%s' (id %lld)",
		           admin__quote(name), (long long)id);
		undo_add(ctx, name, id, false);
		return ret == STORE_E_EXISTS ? EX_CANTCREAT : EX_TEMPFAIL;
	}
	ret = auth_account_set_password(ctx->dir, name, pw);
	if (ret < 0) {
		undo_add(ctx, name, id, true);
		return auth_failure(ret, name, "cannot set the password of");
	}
	return 0;
}

static int cmd_add(struct admin_ctx *ctx, const struct account_args *args)
{
	char pw[AUTH_PASSWORD_MAX + 1];
	bool generated;
	int ret;

	ret = check_name(args->pos[0]);
	if (ret == 0)
		ret = get_password(args, pw, &generated);
	if (ret == 0)
		ret = make_account(ctx, args, pw);
	if (ret == 0) {
		if (!ctx->json)
			fputs("added account\n", stdout);
		ret = show_account(ctx, args->pos[0], generated ? pw : NULL);
	}
	explicit_bzero(pw, sizeof pw);
	return ret;
}

static int cmd_passwd(struct admin_ctx *ctx, const struct account_args *args)
{
	char pw[AUTH_PASSWORD_MAX + 1];
	struct auth_account a;
	bool generated;
	int ret;

	ret = check_name(args->pos[0]);
	/* Say "does not exist" before asking for a password. */
	if (ret == 0 &&
	    (ret = auth_account_get(ctx->dir, args->pos[0], &a)) < 0)
		return auth_failure(ret, args->pos[0], "cannot read account");
	if (ret == 0)
		ret = get_password(args, pw, &generated);
	if (ret == 0) {
		ret = auth_account_set_password(ctx->dir, args->pos[0], pw);
		if (ret < 0)
			ret = auth_failure(ret, args->pos[0],
			                   "cannot set the password of");
	}
	if (ret == 0) {
		if (!ctx->json)
			printf("password changed for %s\n", a.name);
		if (ctx->json || generated)
			ret = show_account(ctx, args->pos[0],
			                   generated ? pw : NULL);
	}
	explicit_bzero(pw, sizeof pw);
	return ret;
}

static int cmd_del(struct admin_ctx *ctx, const struct account_args *args)
{
	const char *name = args->pos[0];
	struct auth_account a;
	int ret;

	ret = check_name(name);
	if (ret != 0)
		return ret;
	ret = auth_account_get(ctx->dir, name, &a);
	if (ret == 0)
		ret = auth_account_del(ctx->dir, name);
	if (ret < 0)
		return auth_failure(ret, name, "cannot delete account");
	ret = store_account_remove(ctx->store, a.id);
	if (ret == STORE_E_TEMP) {
		admin__err("account '%s' deleted, but its mail database (id "
		           "%lld) could not be removed",
		           admin__quote(name), (long long)a.id);
		return EX_TEMPFAIL;
	}
	if (ctx->json) {
		fputs("{\"name\": ", stdout);
		admin__json_string(stdout, a.name);
		printf(", \"id\": %lld, \"deleted\": true}\n", (long long)a.id);
	} else {
		printf("deleted account %s\n", a.name);
	}
	return 0;
}

static int cmd_list(struct admin_ctx *ctx, const struct account_args *args)
{
	struct auth_account *list = NULL;
	size_t n = 0;

	(void)args;
	if (auth_account_list(ctx->dir, &list, &n) < 0) {
		admin__err("cannot read the account directory");
		return EX_TEMPFAIL;
	}
	if (ctx->json)
		fputc('[', stdout);
	else
		printf("%-32s %8s %-8s %-4s %-4s\n", "NAME", "ID", "STATE",
		       "POP", "IMAP");
	for (size_t i = 0; i < n; i++) {
		const struct auth_account *a = &list[i];

		if (ctx->json) {
			fputs(i == 0 ? "\n  " : ",\n  ", stdout);
			json_account(a, NULL);
			continue;
		}
		printf("%-32s %8lld %-8s %-4s %-4s\n", a->name,
		       (long long)a->id,
		       a->state == AUTH_STATE_ACTIVE ? "active" : "disabled",
		       a->pop_allowed ? "on" : "off",
		       a->imap_allowed ? "on" : "off");
	}
	if (ctx->json)
		fputs(n > 0 ? "\n]\n" : "]\n", stdout);
	free(list);
	return 0;
}

static int cmd_show(struct admin_ctx *ctx, const struct account_args *args)
{
	int ret = check_name(args->pos[0]);

	return ret != 0 ? ret : show_account(ctx, args->pos[0], NULL);
}

/* After a successful change: a line of text, or the account as JSON. */
static int changed(struct admin_ctx *ctx, const char *name, const char *what)
{
	struct auth_account a;
	int ret;

	if (ctx->json)
		return show_account(ctx, name, NULL);
	ret = auth_account_get(ctx->dir, name, &a);
	if (ret < 0)
		return auth_failure(ret, name, "cannot read account");
	printf("account %s: %s\n", a.name, what);
	return 0;
}

/* pop and imap: NAME on|off. */
static int cmd_toggle(struct admin_ctx *ctx, const struct account_args *args,
                      bool pop)
{
	const char *name = args->pos[0];
	int on = parse_onoff(args->pos[1]), ret;

	ret = check_name(name);
	if (ret != 0)
		return ret;
	if (on < 0) {
		admin__err("expected on or off, not '%s'",
		           admin__quote(args->pos[1]));
		return EX_USAGE;
	}
	ret = pop ? auth_account_set_pop(ctx->dir, name, on)
	          : auth_account_set_imap(ctx->dir, name, on);
	if (ret < 0)
		return auth_failure(ret, name, "cannot change account");
	return changed(ctx, name,
	               pop ? (on ? "pop on" : "pop off")
	                   : (on ? "imap on" : "imap off"));
}

static int cmd_pop(struct admin_ctx *ctx, const struct account_args *args)
{
	return cmd_toggle(ctx, args, true);
}

static int cmd_imap(struct admin_ctx *ctx, const struct account_args *args)
{
	return cmd_toggle(ctx, args, false);
}

static int set_state(struct admin_ctx *ctx, const char *name,
                     enum auth_state state)
{
	int ret = check_name(name);

	if (ret != 0)
		return ret;
	ret = auth_account_set_state(ctx->dir, name, state);
	if (ret < 0)
		return auth_failure(ret, name, "cannot change account");
	return changed(ctx, name,
	               state == AUTH_STATE_ACTIVE ? "enabled" : "disabled");
}

static int cmd_disable(struct admin_ctx *ctx, const struct account_args *args)
{
	return set_state(ctx, args->pos[0], AUTH_STATE_DISABLED);
}

static int cmd_enable(struct admin_ctx *ctx, const struct account_args *args)
{
	return set_state(ctx, args->pos[0], AUTH_STATE_ACTIVE);
}

static const struct account_cmd commands[] = {
        {"add", cmd_add, 1, OPT_PASSWORD | OPT_TOGGLES},
        {"passwd", cmd_passwd, 1, OPT_PASSWORD},
        {"del", cmd_del, 1, 0},
        {"list", cmd_list, 0, 0},
        {"show", cmd_show, 1, 0},
        {"pop", cmd_pop, 2, 0},
        {"imap", cmd_imap, 2, 0},
        {"disable", cmd_disable, 1, 0},
        {"enable", cmd_enable, 1, 0},
};

/* Parse "--pop on" / "--pop=on" at argv[*i] into *out.  Returns 0 or
 * EX_USAGE. */
static int parse_toggle_opt(int argc, char **argv, int *i, const char *opt,
                            int *out)
{
	const char *arg = argv[*i] + strlen(opt), *value;

	if (*arg == '=')
		value = arg + 1;
	else if (*i + 1 < argc)
		value = argv[++*i];
	else
		value = "";
	*out = parse_onoff(value);
	if (*out >= 0)
		return 0;
	admin__err("%s expects on or off", opt);
	return EX_USAGE;
}

/* Is arg the option opt, alone or as opt=VALUE? */
static bool is_opt(const char *arg, const char *opt)
{
	size_t n = strlen(opt);

	return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Sort argv[2..] into options and positional arguments for cmd. */
static int parse_args(struct admin_ctx *ctx, const struct account_cmd *cmd,
                      int argc, char **argv, struct account_args *args)
{
	memset(args, 0, sizeof *args);
	args->pop = args->imap = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		int ret = 0;

		if (strcmp(a, "--json") == 0)
			ctx->json = true;
		else if ((cmd->opts & OPT_PASSWORD) &&
		         strcmp(a, "--password-stdin") == 0)
			args->password_stdin = true;
		else if ((cmd->opts & OPT_TOGGLES) && is_opt(a, "--pop"))
			ret = parse_toggle_opt(argc, argv, &i, "--pop",
			                       &args->pop);
		else if ((cmd->opts & OPT_TOGGLES) && is_opt(a, "--imap"))
			ret = parse_toggle_opt(argc, argv, &i, "--imap",
			                       &args->imap);
		else if (a[0] == '-' && a[1] == '-') {
			admin__err("account %s: unknown option '%s'", cmd->name,
			           admin__quote(a));
			return EX_USAGE;
		} else if (args->n_pos < cmd->n_pos)
			args->pos[args->n_pos++] = a;
		else {
			admin__err("account %s: unexpected argument '%s'",
			           cmd->name, admin__quote(a));
			return EX_USAGE;
		}
		if (ret != 0)
			return ret;
	}
	if (args->n_pos == cmd->n_pos)
		return 0;
	admin__err("account %s: missing argument", cmd->name);
	admin__usage(stderr);
	return EX_USAGE;
}

int admin__account_main(struct admin_ctx *ctx, int argc, char **argv)
{
	const struct account_cmd *cmd = NULL;
	struct account_args args;
	int ret;

	if (argc < 2) {
		admin__err("account: missing subcommand");
		admin__usage(stderr);
		return EX_USAGE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	}
	if (cmd == NULL) {
		admin__err("account: unknown subcommand '%s'",
		           admin__quote(argv[1]));
		admin__usage(stderr);
		return EX_USAGE;
	}
	ret = parse_args(ctx, cmd, argc, argv, &args);
	if (ret == 0)
		ret = admin__open(ctx);
	if (ret == 0)
		ret = cmd->run(ctx, &args);
	return ret;
}
