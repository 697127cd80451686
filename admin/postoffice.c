/*
 * postoffice: the operator's command line tool.  It reads the same
 * configuration as the daemon (config_load, with the same -o key=value
 * overrides), opens the account directory and the store in the data
 * directory, and runs one command.  It works while postofficed runs: both
 * use SQLite in WAL mode with a busy timeout, and the daemon reads an
 * account's settings at every login, so a change applies from the next
 * login on.  Command groups live in their own files (account.c); this file
 * parses the global options and dispatches.
 */
#include "admin_private.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Most -o overrides, as the daemon. */
#define MAX_OVERRIDES 64

void admin__usage(FILE *fp)
{
	fputs("usage: postoffice -c FILE [-o key=value ...] COMMAND [--json]\n"
	      "\n"
	      "  -c FILE   configuration file, as postofficed's (required)\n"
	      "  -o k=v    override one configuration key\n"
	      "  -h        this help\n"
	      "\n"
	      "commands:\n"
	      "  account add NAME [--password-stdin] [--pop on|off] "
	      "[--imap on|off]\n"
	      "  account passwd NAME [--password-stdin]\n"
	      "  account del NAME\n"
	      "  account list\n"
	      "  account show NAME\n"
	      "  account pop NAME on|off\n"
	      "  account imap NAME on|off\n"
	      "  account disable NAME\n"
	      "  account enable NAME\n"
	      "\n"
	      "--password-stdin reads the password from the first line of\n"
	      "standard input; without it, add and passwd set a random one\n"
	      "and print it.  --pop/--imap default to the pop_default and\n"
	      "imap_default configuration keys.  --json prints the account\n"
	      "(an array for list) as JSON.\n"
	      "\n"
	      "exit status: 0 ok, 64 usage or invalid argument, 67 no such\n"
	      "account, 73 account exists or cannot be created, 75 temporary\n"
	      "failure (database busy or I/O error), 78 configuration error\n",
	      fp);
}

void admin__err(const char *fmt, ...)
{
	va_list ap;

	fputs("postoffice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *admin__quote(const char *s)
{
	static char bufs[4][160];
	static unsigned next;
	char *out = bufs[next++ % 4];

	return log_sanitize(s, strlen(s), out, sizeof bufs[0]);
}

void admin__json_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

int admin__open(struct admin_ctx *ctx)
{
	const char *err = NULL;

	if (auth_dir_open(ctx->cfg.data_dir, &ctx->dir, &err) != 0) {
		admin__err("%s: %s", admin__quote(ctx->cfg.data_dir), err);
		return EX_TEMPFAIL;
	}
	if (store_new(ctx->cfg.data_dir, &ctx->store, &err) != STORE_OK) {
		admin__err("%s: %s", admin__quote(ctx->cfg.data_dir), err);
		auth_dir_close(&ctx->dir);
		return EX_TEMPFAIL;
	}
	return 0;
}

static const struct {
	const char *name;
	int (*run)(struct admin_ctx *ctx, int argc, char **argv);
} groups[] = {
        {"account", admin__account_main},
};

static int dispatch(struct admin_ctx *ctx, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
		if (strcmp(argv[0], groups[i].name) == 0)
			return groups[i].run(ctx, argc, argv);
	}
	admin__err("unknown command '%s'", admin__quote(argv[0]));
	admin__usage(stderr);
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	const char *overrides[MAX_OVERRIDES], *path = NULL, *err = NULL;
	struct admin_ctx ctx;
	size_t n_overrides = 0;
	int ch, ret;

	memset(&ctx, 0, sizeof ctx);
	/* '+': stop at the command, so its own options are left to it. */
	while ((ch = getopt(argc, argv, "+c:o:h")) != -1) {
		if (ch == 'c') {
			path = optarg;
		} else if (ch == 'o' && n_overrides < MAX_OVERRIDES) {
			overrides[n_overrides++] = optarg;
		} else if (ch == 'h') {
			admin__usage(stdout);
			return 0;
		} else {
			admin__usage(stderr);
			return EX_USAGE;
		}
	}
	if (path == NULL || optind >= argc) {
		admin__err(path == NULL ? "-c FILE is required"
		                        : "no command given");
		admin__usage(stderr);
		return EX_USAGE;
	}
	if (config_load(&ctx.cfg, path, overrides, n_overrides, &err) != 0) {
		admin__err("%s", err);
		return EX_CONFIG;
	}
	ret = dispatch(&ctx, argc - optind, argv + optind);
	auth_dir_close(&ctx.dir);
	store_free(&ctx.store);
	if (fflush(stdout) != 0 && ret == 0) {
		admin__err("cannot write the output");
		ret = EX_IOERR;
	}
	return ret;
}
