/*
 * The IMAP mailbox commands: SELECT and EXAMINE (RFC 9051 §6.3.2-3),
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (§6.3.4-8), LIST (§6.3.9
 * with RFC 5258 LIST-EXTENDED, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS)
 * and LSUB (RFC 3501 §6.3.9), STATUS (§6.3.11, RFC 8438 SIZE), APPEND
 * (§6.3.12, RFC 4315 APPENDUID, RFC 3516 literal8), and leaving or cleaning
 * a mailbox: CHECK, CLOSE (§6.4.1), UNSELECT (RFC 3691), EXPUNGE (§6.4.3)
 * and UID EXPUNGE (RFC 4315).
 *
 * Parse functions only pick the arguments apart (pointers into the
 * command's argument tree, which lives until the command ends); names are
 * decoded and checked in run (imap_mailbox_from_client), so a bad name is
 * a NO [CANNOT] with a reason, not a BAD.  The selected-mailbox map and the
 * untagged updates belong to imap_sync.c; this file only opens and closes
 * it and reports its own expunges.
 */
#include "imap_mailbox.h"
#include "imap_private.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SYSTEM_FLAGS                                                           \
	(STORE_F_SEEN | STORE_F_ANSWERED | STORE_F_FLAGGED | STORE_F_DELETED | \
	 STORE_F_DRAFT)

/* ---- LIST patterns --------------------------------------------------- */

int imap_pattern_compile(struct imap_pattern *p, const char *pat, size_t len)
{
	memset(p, 0, sizeof(*p));
	if (len > IMAP_PATTERN_MAX)
		return -1;
	p->tok = xcalloc(len + 1, sizeof(*p->tok));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];
		uint16_t t = c == '*'   ? IMAP_PAT_STAR
		             : c == '%' ? IMAP_PAT_PCT
		                        : c;

		if (t >= IMAP_PAT_STAR && p->n > 0 &&
		    p->tok[p->n - 1] >= IMAP_PAT_STAR) {
			/* "**", "%*", "*%" are "*"; "%%" is "%". */
			if (t == IMAP_PAT_STAR)
				p->tok[p->n - 1] = IMAP_PAT_STAR;
			continue;
		}
		if (t < IMAP_PAT_STAR) {
			if (p->n_lit == p->n)
				p->n_lead++;
			p->n_lit++;
		}
		p->tok[p->n++] = t;
	}
	p->cur = xcalloc(p->n + 1, sizeof(*p->cur));
	p->next = xcalloc(p->n + 1, sizeof(*p->next));
	return 0;
}

void imap_pattern_free(struct imap_pattern *p)
{
	free(p->tok);
	free(p->cur);
	free(p->next);
	memset(p, 0, sizeof(*p));
}

/* Add the states reachable without input: a wildcard matches nothing. */
static void pattern_closure(const struct imap_pattern *p, bool *set)
{
	for (size_t i = 0; i < p->n; i++)
		if (set[i] && p->tok[i] >= IMAP_PAT_STAR)
			set[i + 1] = true;
}

bool imap_pattern_match(struct imap_pattern *p, const char *name, size_t len,
                        bool inbox_ci)
{
	bool *cur = p->cur, *next = p->next;

	/* Every literal token takes one byte. */
	if (p->n_lit > len)
		return false;
	memset(cur, 0, (p->n + 1) * sizeof(*cur));
	cur[0] = true;
	pattern_closure(p, cur);
	for (size_t j = 0; j < len; j++) {
		unsigned char c = (unsigned char)name[j];
		bool any = false;

		memset(next, 0, (p->n + 1) * sizeof(*next));
		for (size_t i = 0; i < p->n; i++) {
			uint16_t t = p->tok[i];

			if (!cur[i])
				continue;
			if (t == IMAP_PAT_STAR ||
			    (t == IMAP_PAT_PCT && c != '/'))
				next[i] = any = true;
			else if (t == c ||
			         (inbox_ci && j < 5 && i < p->n_lead &&
			          tolower(t) == tolower(c)))
				next[i + 1] = any = true;
		}
		if (!any)
			return false;
		pattern_closure(p, next);
		bool *tmp = cur;
		cur = next;
		next = tmp;
	}
	return cur[p->n];
}

/* ---- shared helpers -------------------------------------------------- */

/* One mailbox argument (or two, for RENAME) as the client wrote it. */
struct mbox_args {
	const char *name, *name2;
	size_t len, len2;
};

/* Decode a client's mailbox name into buf (reset first); on failure set
 * NO [CANNOT] with the reason and return -1. */
static int client_name(struct imap_cmd *cmd, const char *name, size_t len,
                       struct po_buf *buf)
{
	const char *error = NULL;

	po_buf_reset(buf);
	if (imap_mailbox_from_client(cmd->s, name, len, buf, &error) < 0) {
		imap_cmd_result(cmd, IMAP_NO, "[CANNOT] %s",
		                error != NULL ? error : "Invalid mailbox name");
		return -1;
	}
	return 0;
}

/* A new name may not hold LIST wildcards: such a mailbox could never be
 * listed by itself (RFC 9051 §6.3.9). */
static int check_new_name(struct imap_cmd *cmd, const char *name)
{
	if (strpbrk(name, "*%") != NULL) {
		imap_cmd_result(
		        cmd, IMAP_NO,
		        "[CANNOT] Mailbox names may not contain \"*\" or "
		        "\"%%\"");
		return -1;
	}
	return 0;
}

static bool is_inbox_name(const char *name)
{
	return strcmp(name, "INBOX") == 0 || strncmp(name, "INBOX/", 6) == 0;
}

static int get_mailbox_arg(const struct imap_arg *arg, const char **str_r,
                           size_t *len_r, const char **error_r)
{
	if (!imap_arg_get_astring(arg, str_r, len_r)) {
		*error_r = "Expected a mailbox name";
		return -1;
	}
	return 0;
}

int imap_cmd_mailbox_name_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct mbox_args a = {0};

	if (get_mailbox_arg(cmd->args, &a.name, &a.len, error_r) < 0)
		return -1;
	if (cmd->nargs != 1) {
		*error_r = "Expected one mailbox name";
		return -1;
	}
	cmd->data = xmalloc(sizeof(a));
	memcpy(cmd->data, &a, sizeof(a));
	return 0;
}

int imap_cmd_rename_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct mbox_args a = {0};

	if (get_mailbox_arg(cmd->args, &a.name, &a.len, error_r) < 0 ||
	    (cmd->args != NULL &&
	     get_mailbox_arg(cmd->args->next, &a.name2, &a.len2, error_r) < 0))
		return -1;
	if (cmd->nargs != 2) {
		*error_r = "Expected two mailbox names";
		return -1;
	}
	cmd->data = xmalloc(sizeof(a));
	memcpy(cmd->data, &a, sizeof(a));
	return 0;
}

/* ---- SELECT / EXAMINE ------------------------------------------------ */

int imap_cmd_select_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct mbox_args a = {0};
	const struct imap_arg *params;
	size_t n;

	if (get_mailbox_arg(cmd->args, &a.name, &a.len, error_r) < 0)
		return -1;
	if (cmd->nargs > 2) {
		*error_r = "Too many arguments";
		return -1;
	}
	if (cmd->nargs == 2) {
		/* RFC 4466 §2.1 select-params: we announce none (no CONDSTORE
		 * or QRESYNC), so only "()" is valid. */
		if (!imap_arg_get_list(cmd->args->next, &params, &n)) {
			*error_r = "Expected a list of SELECT parameters";
			return -1;
		}
		if (n > 0) {
			*error_r = "Unknown SELECT parameter";
			return -1;
		}
	}
	cmd->data = xmalloc(sizeof(a));
	memcpy(cmd->data, &a, sizeof(a));
	return 0;
}

void imap_cmd_select_free(void *data)
{
	free(data);
}

/* The mask of every keyword the account has. */
static uint64_t kw_all(char *const *names)
{
	uint64_t m = 0;

	for (unsigned i = 0; names != NULL && i < STORE_KEYWORDS_MAX; i++)
		if (names[i] != NULL)
			m |= UINT64_C(1) << i;
	return m;
}

static unsigned popcount64(uint64_t v)
{
	unsigned n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

/* "* OK [UNSEEN n]": the first unseen message (RFC 3501 §6.3.1).  Its UID
 * from the store's index of unseen messages, its number from the map: no
 * listing of the mailbox. */
static int write_first_unseen(struct imap_session *s, struct po_buf *out)
{
	uint32_t uid = 0, seq;
	int ret;

	if (s->sel.count == 0)
		return STORE_OK;
	ret = store_first_unseen(s->acct, s->sel.id, &uid);
	if (ret != STORE_OK || uid == 0)
		return ret;
	/* A message appended since the map was read is not in it (0): then
	 * none is sent, which RFC 3501 §6.3.1 allows ("If this is missing,
	 * the client can not make any assumptions"). */
	seq = imap_sel_seq(s, uid);
	if (seq != 0)
		po_buf_printf(out, "* OK [UNSEEN %u] First unseen\r\n", seq);
	return STORE_OK;
}

static void write_list_attrs(struct po_buf *out, const char *const *attrs,
                             size_t n);
static int mailbox_attrs(struct imap_session *s, const char *name,
                         struct po_buf *out);

int imap_cmd_select_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const struct mbox_args *a = cmd->data;
	bool examine = strcmp(cmd->def->name, "EXAMINE") == 0;
	struct store_mailbox_info info;
	struct po_buf name = PO_BUF_INIT, flags = PO_BUF_INIT;
	char **kw;
	uint64_t kwmask;
	int ret;

	/* RFC 9051 §6.3.2: SELECT first deselects; a failing SELECT leaves
	 * no mailbox selected.  §7.1: [CLOSED] marks the boundary. */
	if (s->state == IMAP_S_SELECTED) {
		imap_sel_close(s);
		po_buf_add_str(&cmd->out,
		               "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (client_name(cmd, a->name, a->len, &name) < 0)
		goto out;
	ret = store_mailbox_get(s->acct, name.data, &info);
	if (ret == STORE_E_NOTFOUND) {
		imap_cmd_result(cmd, IMAP_NO, "[NONEXISTENT] No such mailbox");
		goto out;
	}
	if (ret == STORE_OK)
		ret = imap_sel_open(s, &info, name.data, examine);
	if (ret != STORE_OK) {
		imap_sel_close(s);
		imap_cmd_store_error(cmd, ret, cmd->def->name);
		goto out;
	}
	kw = imap_keyword_names(s, 0);
	kwmask = kw_all(kw);
	s->sel.kw_announced = kwmask;
	imap_write_flags(&flags, SYSTEM_FLAGS, kwmask, kw);
	po_buf_printf(&cmd->out, "* %u EXISTS\r\n", s->sel.count);
	if (!s->enabled_rev2)
		po_buf_add_str(&cmd->out, "* 0 RECENT\r\n");
	po_buf_printf(&cmd->out, "* FLAGS %s\r\n", flags.data);
	if (examine) {
		po_buf_add_str(&cmd->out, "* OK [PERMANENTFLAGS ()] "
		                          "No permanent flags permitted\r\n");
	} else {
		/* "\*": new keywords may be made, until the table is full
		 * (docs/decisions.md, 64 keywords). */
		po_buf_add_str(&cmd->out, "* OK [PERMANENTFLAGS ");
		po_buf_add(&cmd->out, flags.data, flags.len - 1);
		po_buf_add_str(&cmd->out,
		               popcount64(kwmask) < STORE_KEYWORDS_MAX
		                       ? " \\*)] Flags permitted\r\n"
		                       : ")] Flags permitted\r\n");
	}
	if (!s->enabled_rev2) {
		ret = write_first_unseen(s, &cmd->out);
	} else {
		/* RFC 9051 §6.3.2: a LIST response with accurate
		 * attributes. */
		po_buf_add_str(&cmd->out, "* LIST ");
		ret = mailbox_attrs(s, name.data, &cmd->out);
		po_buf_add_str(&cmd->out, " \"/\" ");
		imap_write_mailbox(s, &cmd->out, name.data);
		po_buf_add_str(&cmd->out, "\r\n");
	}
	if (ret != STORE_OK) {
		imap_sel_close(s);
		imap_cmd_store_error(cmd, ret, cmd->def->name);
		goto out;
	}
	po_buf_printf(&cmd->out,
	              "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	              "* OK [UIDNEXT %u] Predicted next UID\r\n",
	              s->sel.uidvalidity, s->sel.uidnext);
	imap_cmd_result(cmd, IMAP_OK, "%s %s completed",
	                examine ? "[READ-ONLY]" : "[READ-WRITE]",
	                cmd->def->name);
out:
	po_buf_deinit(&name);
	po_buf_deinit(&flags);
	return IMAP_RUN_DONE;
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE ------------------ */

int imap_cmd_create_run(struct imap_cmd *cmd)
{
	const struct mbox_args *a = cmd->data;
	struct po_buf name = PO_BUF_INIT;
	size_t len = a->len;
	int ret;

	/* RFC 9051 §6.3.4: a trailing delimiter declares the intent to make
	 * children; the name created is without it. */
	if (len > 1 && a->name[len - 1] == '/')
		len--;
	if (client_name(cmd, a->name, len, &name) < 0 ||
	    check_new_name(cmd, name.data) < 0)
		goto out;
	if (strcmp(name.data, "INBOX") == 0) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[ALREADYEXISTS] INBOX always "
		                "exists");
		goto out;
	}
	ret = store_mailbox_create(cmd->s->acct, name.data, NULL, NULL);
	if (ret == STORE_E_EXISTS)
		imap_cmd_result(cmd, IMAP_NO,
		                "[ALREADYEXISTS] Mailbox already exists");
	else if (ret == STORE_E_LIMIT)
		imap_cmd_result(cmd, IMAP_NO, "[LIMIT] Too many mailboxes");
	else if (ret != STORE_OK)
		imap_cmd_store_error(cmd, ret, "CREATE");
	else
		imap_cmd_result(cmd, IMAP_OK, "CREATE completed");
out:
	po_buf_deinit(&name);
	return IMAP_RUN_DONE;
}

/*
 * RFC 9051 §6.3.5.  Deleting the selected mailbox is allowed and keeps the
 * session in the selected state (the state diagram of §3 leaves it only by
 * SELECT, EXAMINE, CLOSE, UNSELECT or LOGOUT): the store announces the
 * removal and imap_sync expunges every message, as when another session
 * deletes it.
 */
int imap_cmd_delete_run(struct imap_cmd *cmd)
{
	const struct mbox_args *a = cmd->data;
	struct po_buf name = PO_BUF_INIT;
	int ret;

	if (client_name(cmd, a->name, a->len, &name) < 0)
		goto out;
	if (strcmp(name.data, "INBOX") == 0) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[CANNOT] INBOX cannot be deleted");
		goto out;
	}
	ret = store_mailbox_delete(cmd->s->acct, name.data);
	if (ret == STORE_E_NOTFOUND)
		imap_cmd_result(cmd, IMAP_NO, "[NONEXISTENT] No such mailbox");
	else if (ret == STORE_E_EXISTS)
		/* A \Noselect name with children (§6.3.5). */
		imap_cmd_result(
		        cmd, IMAP_NO,
		        "[HASCHILDREN] Mailbox has inferior hierarchical "
		        "names");
	else if (ret != STORE_OK)
		imap_cmd_store_error(cmd, ret, "DELETE");
	else
		imap_cmd_result(cmd, IMAP_OK, "DELETE completed");
out:
	po_buf_deinit(&name);
	return IMAP_RUN_DONE;
}

/* After a RENAME of from to to, the selected mailbox (from itself or one of
 * its children) keeps its id and UIDVALIDITY under its new name. */
static void rename_selected(struct imap_session *s, const char *from,
                            const char *to)
{
	size_t flen = strlen(from);
	struct po_buf n = PO_BUF_INIT;

	if (s->state != IMAP_S_SELECTED || s->sel.name == NULL ||
	    strcmp(from, "INBOX") == 0 ||
	    strncmp(s->sel.name, from, flen) != 0 ||
	    (s->sel.name[flen] != '\0' && s->sel.name[flen] != '/'))
		return;
	po_buf_add_str(&n, to);
	po_buf_add_str(&n, s->sel.name + flen);
	free(s->sel.name);
	s->sel.name = po_buf_take(&n, NULL);
}

int imap_cmd_rename_run(struct imap_cmd *cmd)
{
	const struct mbox_args *a = cmd->data;
	struct po_buf from = PO_BUF_INIT, to = PO_BUF_INIT;
	int ret;

	if (client_name(cmd, a->name, a->len, &from) < 0 ||
	    client_name(cmd, a->name2, a->len2, &to) < 0 ||
	    check_new_name(cmd, to.data) < 0)
		goto out;
	/* §6.3.6: renaming INBOX moves its messages; renaming to INBOX (which
	 * always exists) is an error. */
	if (strcmp(to.data, "INBOX") == 0) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[ALREADYEXISTS] INBOX always "
		                "exists");
		goto out;
	}
	ret = store_mailbox_rename(cmd->s->acct, from.data, to.data);
	if (ret == STORE_E_NOTFOUND) {
		imap_cmd_result(cmd, IMAP_NO, "[NONEXISTENT] No such mailbox");
	} else if (ret == STORE_E_EXISTS) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[ALREADYEXISTS] Target mailbox "
		                "already exists");
	} else if (ret == STORE_E_INVALID) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[CANNOT] Cannot rename a mailbox into itself");
	} else if (ret != STORE_OK) {
		imap_cmd_store_error(cmd, ret, "RENAME");
	} else {
		rename_selected(cmd->s, from.data, to.data);
		imap_cmd_result(cmd, IMAP_OK, "RENAME completed");
	}
out:
	po_buf_deinit(&from);
	po_buf_deinit(&to);
	return IMAP_RUN_DONE;
}

static int subscribe(struct imap_cmd *cmd, bool on)
{
	const struct mbox_args *a = cmd->data;
	struct po_buf name = PO_BUF_INIT;
	int ret;

	/* §6.3.7: a name that does not exist may be subscribed. */
	if (client_name(cmd, a->name, a->len, &name) < 0)
		goto out;
	ret = store_subscribe(cmd->s->acct, name.data, on);
	if (ret != STORE_OK)
		imap_cmd_store_error(cmd, ret, cmd->def->name);
	else
		imap_cmd_result(cmd, IMAP_OK, "%s completed", cmd->def->name);
out:
	po_buf_deinit(&name);
	return IMAP_RUN_DONE;
}

int imap_cmd_subscribe_run(struct imap_cmd *cmd)
{
	return subscribe(cmd, true);
}

int imap_cmd_unsubscribe_run(struct imap_cmd *cmd)
{
	return subscribe(cmd, false);
}

/* ---- STATUS ---------------------------------------------------------- */

enum status_item {
	ST_MESSAGES,
	ST_UIDNEXT,
	ST_UIDVALIDITY,
	ST_UNSEEN,
	ST_DELETED,
	ST_SIZE,
	ST_RECENT,
	ST_HIGHESTMODSEQ,
	ST_COUNT
};

static const char *const status_names[ST_COUNT] = {
        "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
        "DELETED",  "SIZE",    "RECENT",      "HIGHESTMODSEQ",
};

/* The items asked for, in the client's order, each once. */
struct status_items {
	uint8_t item[ST_COUNT];
	size_t n;
};

/* Parse a status-att list (RFC 9051 §9: at least one).  Returns 0 or -1
 * with *error_r for BAD. */
static int parse_status_items(const struct imap_arg *arg,
                              struct status_items *it, const char **error_r)
{
	const struct imap_arg *a;
	unsigned seen = 0;
	size_t n;

	memset(it, 0, sizeof(*it));
	if (!imap_arg_get_list(arg, &a, &n) || n == 0) {
		*error_r = "Expected a list of STATUS items";
		return -1;
	}
	for (; a != NULL; a = a->next) {
		const char *atom;
		unsigned i;

		if (!imap_arg_get_atom(a, &atom)) {
			*error_r = "Expected a STATUS item";
			return -1;
		}
		for (i = 0; i < ST_COUNT; i++)
			if (strcasecmp(atom, status_names[i]) == 0)
				break;
		if (i == ST_COUNT) {
			*error_r = "Unknown STATUS item";
			return -1;
		}
		if (seen & (1u << i))
			continue;
		seen |= 1u << i;
		it->item[it->n++] = (uint8_t)i;
	}
	return 0;
}

/* "* STATUS name (ITEM n ...)" for mailbox id. */
static int write_status(struct imap_session *s, struct po_buf *out,
                        const char *name, int64_t id,
                        const struct status_items *it)
{
	struct store_mailbox_status st;
	int ret = store_mailbox_status(s->acct, id, &st);

	if (ret != STORE_OK)
		return ret;
	po_buf_add_str(out, "* STATUS ");
	imap_write_mailbox(s, out, name);
	po_buf_add_str(out, " (");
	for (size_t i = 0; i < it->n; i++) {
		uint64_t v = 0;

		switch ((enum status_item)it->item[i]) {
		case ST_MESSAGES:
			v = st.messages;
			break;
		case ST_UIDNEXT:
			v = st.uidnext;
			break;
		case ST_UIDVALIDITY:
			v = st.uidvalidity;
			break;
		case ST_UNSEEN:
			v = st.unseen;
			break;
		case ST_DELETED:
			v = st.deleted;
			break;
		case ST_SIZE:
			v = st.size;
			break;
		case ST_RECENT: /* no \Recent: always 0 (RFC 9051 drops it) */
			v = 0;
			break;
		case ST_HIGHESTMODSEQ:
			v = st.highestmodseq;
			break;
		case ST_COUNT:
			break;
		}
		po_buf_printf(out, "%s%s %llu", i > 0 ? " " : "",
		              status_names[it->item[i]], (unsigned long long)v);
	}
	po_buf_add_str(out, ")\r\n");
	return STORE_OK;
}

struct status_req {
	const char *name;
	size_t len;
	struct status_items items;
};

int imap_cmd_status_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct status_req r;

	memset(&r, 0, sizeof(r));
	if (get_mailbox_arg(cmd->args, &r.name, &r.len, error_r) < 0)
		return -1;
	if (cmd->nargs != 2) {
		*error_r = "Expected a mailbox name and a list of items";
		return -1;
	}
	if (parse_status_items(cmd->args->next, &r.items, error_r) < 0)
		return -1;
	cmd->data = xmalloc(sizeof(r));
	memcpy(cmd->data, &r, sizeof(r));
	return 0;
}

void imap_cmd_status_free(void *data)
{
	free(data);
}

int imap_cmd_status_run(struct imap_cmd *cmd)
{
	const struct status_req *r = cmd->data;
	struct store_mailbox_info info;
	struct po_buf name = PO_BUF_INIT;
	int ret;

	if (client_name(cmd, r->name, r->len, &name) < 0)
		goto out;
	/* §6.3.11: STATUS of the selected mailbox is allowed too. */
	ret = store_mailbox_get(cmd->s->acct, name.data, &info);
	if (ret == STORE_OK)
		ret = write_status(cmd->s, &cmd->out, name.data, info.id,
		                   &r->items);
	if (ret == STORE_E_NOTFOUND)
		imap_cmd_result(cmd, IMAP_NO, "[NONEXISTENT] No such mailbox");
	else if (ret != STORE_OK)
		imap_cmd_store_error(cmd, ret, "STATUS");
	else
		imap_cmd_result(cmd, IMAP_OK, "STATUS completed");
out:
	po_buf_deinit(&name);
	return IMAP_RUN_DONE;
}

/* ---- LIST and LSUB --------------------------------------------------- */

#define LIST_MAX_PATTERNS 64

enum {
	SEL_SUBSCRIBED = 1u << 0,
	SEL_REMOTE = 1u << 1,
	SEL_RECURSIVEMATCH = 1u << 2,
	SEL_SPECIALUSE = 1u << 3,
};

enum {
	RET_SUBSCRIBED = 1u << 0,
	RET_CHILDREN = 1u << 1,
	RET_SPECIALUSE = 1u << 2,
	RET_STATUS = 1u << 3,
};

struct list_req {
	bool lsub;
	bool extended; /* RFC 9051 §6.3.9: options or a pattern list */
	unsigned sel, ret;
	struct status_items status;
	const char *ref;
	size_t ref_len;
	size_t n_pats;
	const char *pat[LIST_MAX_PATTERNS];
	size_t pat_len[LIST_MAX_PATTERNS];
};

static int parse_select_opts(const struct imap_arg *list, struct list_req *r,
                             const char **error_r)
{
	const struct imap_arg *a;
	size_t n;

	(void)imap_arg_get_list(list, &a, &n);
	for (; a != NULL; a = a->next) {
		const char *atom;

		if (!imap_arg_get_atom(a, &atom)) {
			*error_r = "Expected a LIST selection option";
			return -1;
		}
		if (strcasecmp(atom, "SUBSCRIBED") == 0)
			r->sel |= SEL_SUBSCRIBED;
		else if (strcasecmp(atom, "REMOTE") == 0)
			r->sel |= SEL_REMOTE;
		else if (strcasecmp(atom, "RECURSIVEMATCH") == 0)
			r->sel |= SEL_RECURSIVEMATCH;
		else if (strcasecmp(atom, "SPECIAL-USE") == 0)
			r->sel |= SEL_SPECIALUSE;
		else {
			*error_r = "Unknown LIST selection option";
			return -1;
		}
	}
	/* RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE) is BAD. */
	if ((r->sel & SEL_RECURSIVEMATCH) &&
	    (r->sel & (SEL_SUBSCRIBED | SEL_SPECIALUSE)) == 0) {
		*error_r = "RECURSIVEMATCH needs another selection option";
		return -1;
	}
	return 0;
}

static int parse_return_opts(const struct imap_arg *list, struct list_req *r,
                             const char **error_r)
{
	const struct imap_arg *a;
	size_t n;

	(void)imap_arg_get_list(list, &a, &n);
	for (; a != NULL; a = a->next) {
		const char *atom;

		if (!imap_arg_get_atom(a, &atom)) {
			*error_r = "Expected a LIST return option";
			return -1;
		}
		if (strcasecmp(atom, "SUBSCRIBED") == 0) {
			r->ret |= RET_SUBSCRIBED;
		} else if (strcasecmp(atom, "CHILDREN") == 0) {
			r->ret |= RET_CHILDREN;
		} else if (strcasecmp(atom, "SPECIAL-USE") == 0) {
			r->ret |= RET_SPECIALUSE;
		} else if (strcasecmp(atom, "STATUS") == 0) {
			/* RFC 5819: STATUS (items). */
			if (parse_status_items(a->next, &r->status, error_r) <
			    0)
				return -1;
			r->ret |= RET_STATUS;
			a = a->next;
		} else {
			*error_r = "Unknown LIST return option";
			return -1;
		}
	}
	return 0;
}

static int add_pattern(struct list_req *r, const struct imap_arg *a,
                       const char **error_r)
{
	if (r->n_pats == LIST_MAX_PATTERNS) {
		*error_r = "Too many LIST patterns";
		return -1;
	}
	if (!imap_arg_get_list_mailbox(a, &r->pat[r->n_pats],
	                               &r->pat_len[r->n_pats])) {
		*error_r = "Expected a mailbox pattern";
		return -1;
	}
	r->n_pats++;
	return 0;
}

/* RFC 9051 §6.3.9 / RFC 5258 §6:
 * LIST [SP list-select-opts] SP mailbox SP mbox-or-pat
 *      [SP list-return-opts] */
int imap_cmd_list_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct list_req r;
	const struct imap_arg *a = cmd->args, *c;
	const char *atom;
	size_t n;

	memset(&r, 0, sizeof(r));
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		r.extended = true;
		if (parse_select_opts(a, &r, error_r) < 0)
			return -1;
		a = a->next;
	}
	if (!imap_arg_get_astring(a, &r.ref, &r.ref_len)) {
		*error_r = "Expected a reference name";
		return -1;
	}
	a = a->next;
	if (imap_arg_get_list(a, &c, &n)) {
		r.extended = true;
		if (n == 0) {
			*error_r = "Expected mailbox patterns";
			return -1;
		}
		for (; c != NULL; c = c->next)
			if (add_pattern(&r, c, error_r) < 0)
				return -1;
	} else if (add_pattern(&r, a, error_r) < 0) {
		return -1;
	}
	a = a->next;
	if (a != NULL) {
		if (!imap_arg_get_atom(a, &atom) ||
		    strcasecmp(atom, "RETURN") != 0 || a->next == NULL ||
		    a->next->type != IMAP_ARG_LIST || a->next->next != NULL) {
			*error_r = "Expected RETURN (options) or nothing";
			return -1;
		}
		r.extended = true;
		if (parse_return_opts(a->next, &r, error_r) < 0)
			return -1;
	}
	/* RFC 5258 §3.1, RFC 6154 §3: these selection options imply their
	 * return options. */
	if (r.sel & SEL_SUBSCRIBED)
		r.ret |= RET_SUBSCRIBED;
	if (r.sel & SEL_SPECIALUSE)
		r.ret |= RET_SPECIALUSE;
	cmd->data = xmalloc(sizeof(r));
	memcpy(cmd->data, &r, sizeof(r));
	return 0;
}

/* RFC 3501 §6.3.9: LSUB reference mailbox-pattern. */
int imap_cmd_lsub_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct list_req r;

	memset(&r, 0, sizeof(r));
	r.lsub = true;
	if (!imap_arg_get_astring(cmd->args, &r.ref, &r.ref_len)) {
		*error_r = "Expected a reference name";
		return -1;
	}
	if (add_pattern(&r, cmd->args->next, error_r) < 0)
		return -1;
	if (cmd->nargs != 2) {
		*error_r = "Expected a reference and a pattern";
		return -1;
	}
	cmd->data = xmalloc(sizeof(r));
	memcpy(cmd->data, &r, sizeof(r));
	return 0;
}

void imap_cmd_list_free(void *data)
{
	free(data);
}

/* One name LIST considers: a mailbox, a subscription, or (with
 * RECURSIVEMATCH and LSUB) a superior level of a subscription. */
struct list_entry {
	const char *name;
	char *own;                      /* name, when this entry owns it */
	const struct store_mailbox *mb; /* NULL: no such mailbox */
	bool subscribed;
	bool matched; /* matches a pattern */
	bool meets;   /* meets the selection criteria */
};

struct list_state {
	struct list_req *r;
	struct imap_session *s;
	struct imap_pattern pats[LIST_MAX_PATTERNS];
	bool pat_encoded[LIST_MAX_PATTERNS]; /* match the mUTF-7 spelling */
	size_t n_pats;
	bool any_encoded;
	struct store_mailbox *mbs;
	size_t n_mbs;
	char **subs;
	size_t n_subs;
	struct list_entry *e;
	size_t n, cap;
};

static void entry_add(struct list_state *st, const char *name, char *own,
                      const struct store_mailbox *mb, bool subscribed)
{
	if (st->n == st->cap) {
		st->cap = st->cap == 0 ? 64 : st->cap * 2;
		st->e = xrealloc(st->e, st->cap * sizeof(*st->e));
	}
	memset(&st->e[st->n], 0, sizeof(st->e[0]));
	st->e[st->n].name = name;
	st->e[st->n].own = own;
	st->e[st->n].mb = mb;
	st->e[st->n].subscribed = subscribed;
	st->n++;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Sort and join entries of the same name. */
static void entries_merge(struct list_state *st)
{
	size_t w = 0;

	qsort(st->e, st->n, sizeof(*st->e), cmp_entry);
	for (size_t i = 0; i < st->n; i++) {
		if (w > 0 && strcmp(st->e[w - 1].name, st->e[i].name) == 0) {
			struct list_entry *d = &st->e[w - 1];

			if (d->mb == NULL)
				d->mb = st->e[i].mb;
			d->subscribed |= st->e[i].subscribed;
			free(st->e[i].own);
			continue;
		}
		st->e[w++] = st->e[i];
	}
	/* Entries that moved keep pointing at their own strings. */
	st->n = w;
}

/* Compile the canonical patterns: reference + pattern (RFC 9051 §6.3.9,
 * "normally the reference name appended with the mailbox name"), as
 * UTF-8 when the text decodes, else matched against the modified UTF-7
 * spelling of each name.  Patterns we cannot take are ignored, as
 * §6.3.9 requires. */
static void list_compile(struct list_state *st)
{
	const struct list_req *r = st->r;
	struct po_buf canon = PO_BUF_INIT, dec = PO_BUF_INIT;

	for (size_t i = 0; i < r->n_pats; i++) {
		bool raw = st->s->enabled_utf8, enc = false;
		const char *p;
		size_t len;

		/* In the extended syntax an empty pattern matches nothing
		 * (RFC 5258 §3). */
		if (r->pat_len[i] == 0 && !r->lsub)
			continue;
		po_buf_reset(&canon);
		po_buf_add(&canon, r->ref, r->ref_len);
		po_buf_add(&canon, r->pat[i], r->pat_len[i]);
		if (canon.len > IMAP_PATTERN_MAX ||
		    memchr(canon.data, '\0', canon.len) != NULL)
			continue;
		for (size_t k = 0; k < canon.len && !raw; k++)
			if ((unsigned char)canon.data[k] >= 0x80)
				raw = true;
		p = canon.data;
		len = canon.len;
		if (raw) {
			if (!imap_utf8_valid(p, len))
				continue;
		} else {
			po_buf_reset(&dec);
			if (imap_mutf7_decode(p, len, &dec) == 0) {
				p = dec.data != NULL ? dec.data : "";
				len = dec.len;
			} else {
				enc = true;
			}
		}
		if (imap_pattern_compile(&st->pats[st->n_pats], p, len) < 0)
			continue;
		st->pat_encoded[st->n_pats] = enc;
		st->any_encoded |= enc;
		st->n_pats++;
	}
	po_buf_deinit(&canon);
	po_buf_deinit(&dec);
}

static bool entry_matches(struct list_state *st, const char *name)
{
	struct po_buf enc = PO_BUF_INIT;
	bool inbox = is_inbox_name(name), hit = false;

	if (st->any_encoded)
		imap_mutf7_encode(name, strlen(name), &enc);
	for (size_t i = 0; i < st->n_pats && !hit; i++) {
		const char *n = name;
		size_t len = strlen(name);

		if (st->pat_encoded[i]) {
			n = enc.data != NULL ? enc.data : "";
			len = enc.len;
		}
		hit = imap_pattern_match(&st->pats[i], n, len, inbox);
	}
	po_buf_deinit(&enc);
	return hit;
}

/* Build the entries: mailboxes, subscriptions and, when asked, the
 * superior levels of subscriptions. */
static int list_load(struct list_state *st)
{
	const struct list_req *r = st->r;
	bool want_subs = r->lsub || (r->sel & SEL_SUBSCRIBED) ||
	                 (r->ret & RET_SUBSCRIBED);
	bool parents = r->lsub || (r->sel & SEL_RECURSIVEMATCH);
	int ret;

	ret = store_mailbox_list(st->s->acct, &st->mbs, &st->n_mbs);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < st->n_mbs; i++)
		entry_add(st, st->mbs[i].name, NULL, &st->mbs[i], false);
	if (!want_subs)
		return STORE_OK;
	ret = store_subscriptions(st->s->acct, &st->subs, &st->n_subs);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < st->n_subs; i++) {
		const char *sub = st->subs[i];

		entry_add(st, sub, NULL, NULL, true);
		for (const char *sl = strchr(sub, '/'); parents && sl != NULL;
		     sl = strchr(sl + 1, '/')) {
			size_t len = (size_t)(sl - sub);
			char *anc = xmalloc(len + 1);

			memcpy(anc, sub, len);
			anc[len] = '\0';
			entry_add(st, anc, anc, NULL, false);
		}
	}
	return STORE_OK;
}

/* The entries below st->e[i]: [*lo_r, return value).  Every name with the
 * prefix "name/" sorts together; find the first by binary search (names
 * such as "name!" or "name x/y" sort between "name" and "name/"). */
static size_t descendants(const struct list_state *st, size_t i, size_t *lo_r)
{
	const char *name = st->e[i].name;
	size_t len = strlen(name), lo = i + 1, hi = st->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = st->e[mid].name;
		int c = strncmp(m, name, len);

		/* Compare m with name + "/": below when its first len bytes
		 * are smaller, or equal and the next byte is below '/'. */
		if (c < 0 || (c == 0 && (unsigned char)m[len] < '/'))
			lo = mid + 1;
		else
			hi = mid;
	}
	*lo_r = lo;
	hi = lo;
	while (hi < st->n && strncmp(st->e[hi].name, name, len) == 0 &&
	       st->e[hi].name[len] == '/')
		hi++;
	return hi;
}

static void write_list_attrs(struct po_buf *out, const char *const *attrs,
                             size_t n)
{
	po_buf_add(out, "(", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			po_buf_add(out, " ", 1);
		po_buf_add_str(out, attrs[i]);
	}
	po_buf_add(out, ")", 1);
}

/* RFC 6154 §2 leaves plain LIST free to show special-use attributes, and
 * clients that never ask with RETURN (SPECIAL-USE) find Sent, Trash and the
 * rest by them, so every LIST shows them; LSUB (RFC 3501) does not. */
static bool special_use_shown(const struct list_state *st)
{
	return !st->r->lsub;
}

/* Write one LIST (or LSUB) response for entry i, and its STATUS. */
static void list_write(struct list_state *st, size_t i, bool childinfo,
                       bool has_children, struct po_buf *out)
{
	const struct list_req *r = st->r;
	const struct list_entry *e = &st->e[i];
	const char *attrs[6];
	size_t na = 0;

	if (r->lsub) {
		/* RFC 3501 §6.3.9: a level that is not subscribed but has
		 * subscribed children is \Noselect; so is a subscribed name
		 * that cannot be selected. */
		if (!e->subscribed || e->mb == NULL || e->mb->noselect)
			attrs[na++] = "\\Noselect";
		po_buf_add_str(out, "* LSUB ");
	} else {
		if (e->mb == NULL)
			attrs[na++] = "\\NonExistent";
		else if (e->mb->noselect)
			attrs[na++] = "\\Noselect";
		/* RFC 9051 §6.3.9.5: children are existing mailboxes; a
		 * name that does not exist says nothing unless it has
		 * some (RFC 5258 example 11). */
		if (has_children)
			attrs[na++] = "\\HasChildren";
		else if (e->mb != NULL)
			attrs[na++] = "\\HasNoChildren";
		if ((r->ret & RET_SUBSCRIBED) && e->subscribed)
			attrs[na++] = "\\Subscribed";
		if (e->mb != NULL && e->mb->special_use != NULL &&
		    special_use_shown(st))
			attrs[na++] = e->mb->special_use;
		po_buf_add_str(out, "* LIST ");
	}
	write_list_attrs(out, attrs, na);
	po_buf_add_str(out, " \"/\" ");
	imap_write_mailbox(st->s, out, e->name);
	if (childinfo && !r->lsub) {
		/* RFC 5258 §3.5: the selection criteria the children meet. */
		po_buf_add_str(out, " (\"CHILDINFO\" (");
		if (r->sel & SEL_SUBSCRIBED)
			po_buf_add_str(out, "\"SUBSCRIBED\"");
		if (r->sel & SEL_SPECIALUSE)
			po_buf_add_str(out, (r->sel & SEL_SUBSCRIBED)
			                            ? " \"SPECIAL-USE\""
			                            : "\"SPECIAL-USE\"");
		po_buf_add_str(out, "))");
	}
	po_buf_add_str(out, "\r\n");
	/* RFC 5819: STATUS after the LIST of each selectable mailbox that
	 * meets the criteria; a failure drops the STATUS only. */
	if ((r->ret & RET_STATUS) && e->meets && e->mb != NULL &&
	    !e->mb->noselect)
		(void)write_status(st->s, out, e->name, e->mb->id, &r->status);
}

static bool entry_meets(const struct list_req *r, const struct list_entry *e)
{
	bool special = e->mb != NULL && e->mb->special_use != NULL;

	if (r->lsub)
		return e->subscribed;
	if (r->sel & SEL_SUBSCRIBED)
		return e->subscribed && (!(r->sel & SEL_SPECIALUSE) || special);
	if (r->sel & SEL_SPECIALUSE)
		return special;
	return e->mb != NULL;
}

/* Decide and write entry i. */
static void list_entry_out(struct list_state *st, size_t i, struct po_buf *out)
{
	const struct list_req *r = st->r;
	const struct list_entry *e = &st->e[i];
	bool recursive = r->lsub || (r->sel & SEL_RECURSIVEMATCH);
	bool has_children = false, childinfo = false;
	size_t lo, end;

	if (!e->matched)
		return;
	end = descendants(st, i, &lo);
	for (size_t j = lo; j < end; j++) {
		const struct list_entry *d = &st->e[j];

		if (d->mb != NULL)
			has_children = true;
		/* RFC 5258 §3.5: CHILDINFO only when a child that meets
		 * the criteria is not itself returned. */
		if (recursive && d->meets && !d->matched)
			childinfo = true;
	}
	if (!e->meets && !childinfo)
		return;
	list_write(st, i, childinfo, has_children, out);
}

static int list_run(struct imap_cmd *cmd)
{
	struct list_state st;
	size_t inbox = SIZE_MAX;
	int ret;

	memset(&st, 0, sizeof(st));
	st.r = cmd->data;
	st.s = cmd->s;
	/* RFC 9051 §6.3.9: basic LIST with an empty pattern asks for the
	 * delimiter and the root. */
	if (!st.r->lsub && !st.r->extended && st.r->n_pats == 1 &&
	    st.r->pat_len[0] == 0) {
		po_buf_add_str(&cmd->out, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		goto done;
	}
	list_compile(&st);
	if (st.n_pats == 0)
		goto done;
	ret = list_load(&st);
	if (ret != STORE_OK) {
		imap_cmd_store_error(cmd, ret, cmd->def->name);
		goto out;
	}
	entries_merge(&st);
	for (size_t i = 0; i < st.n; i++) {
		st.e[i].matched = entry_matches(&st, st.e[i].name);
		st.e[i].meets = entry_meets(st.r, &st.e[i]);
		if (strcmp(st.e[i].name, "INBOX") == 0)
			inbox = i;
	}
	/* INBOX first, then the rest in order. */
	if (inbox != SIZE_MAX)
		list_entry_out(&st, inbox, &cmd->out);
	for (size_t i = 0; i < st.n; i++)
		if (i != inbox)
			list_entry_out(&st, i, &cmd->out);
done:
	imap_cmd_result(cmd, IMAP_OK, "%s completed", cmd->def->name);
out:
	for (size_t i = 0; i < st.n_pats; i++)
		imap_pattern_free(&st.pats[i]);
	for (size_t i = 0; i < st.n; i++)
		free(st.e[i].own);
	free(st.e);
	if (st.mbs != NULL)
		store_mailbox_list_free(st.mbs, st.n_mbs);
	if (st.subs != NULL)
		store_strv_free(st.subs, st.n_subs);
	return IMAP_RUN_DONE;
}

int imap_cmd_list_run(struct imap_cmd *cmd)
{
	return list_run(cmd);
}

int imap_cmd_lsub_run(struct imap_cmd *cmd)
{
	return list_run(cmd);
}

/* SELECT's LIST response (RFC 9051 §6.3.2): the attributes of name. */
static int mailbox_attrs(struct imap_session *s, const char *name,
                         struct po_buf *out)
{
	struct store_mailbox *mbs = NULL;
	size_t n = 0, len = strlen(name), na = 0;
	const char *attrs[3];
	const char *special = NULL;
	bool children = false;
	int ret;

	ret = store_mailbox_list(s->acct, &mbs, &n);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(mbs[i].name, name) == 0)
			special = mbs[i].special_use;
		else if (strncmp(mbs[i].name, name, len) == 0 &&
		         mbs[i].name[len] == '/')
			children = true;
	}
	attrs[na++] = children ? "\\HasChildren" : "\\HasNoChildren";
	if (special != NULL)
		attrs[na++] = special;
	write_list_attrs(out, attrs, na);
	store_mailbox_list_free(mbs, n);
	return STORE_OK;
}

/* ---- APPEND ---------------------------------------------------------- */

struct append_req {
	const char *name;
	size_t len;
	uint32_t flags;
	const char *kw[STORE_KEYWORDS_MAX];
	size_t n_kw;
	int64_t date; /* 0: now */
	const char *msg;
	size_t msg_len;
};

/* RFC 9051 §6.3.12: APPEND mailbox [SP flag-list] [SP date-time] SP
 * literal; RFC 3516: the literal may be a literal8 ("~{N}"). */
int imap_cmd_append_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct append_req *r;
	const struct imap_arg *a = cmd->args;
	const char *name, *str;
	size_t len;

	if (get_mailbox_arg(a, &name, &len, error_r) < 0)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->name = name;
	r->len = len;
	a = a->next;
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		if (imap_parse_flags(a, &r->flags, r->kw, STORE_KEYWORDS_MAX,
		                     &r->n_kw, error_r) < 0)
			goto fail;
		a = a->next;
	}
	if (a != NULL && a->next != NULL && a->type == IMAP_ARG_STRING &&
	    !(a->flags & (IMAP_ARG_F_LITERAL | IMAP_ARG_F_LITERAL8))) {
		/* date-time is a quoted string; the message is a literal. */
		if (!imap_arg_get_string(a, &str, &len) ||
		    imap_parse_date_time(str, len, &r->date) < 0) {
			*error_r = "Invalid date-time";
			goto fail;
		}
		if (r->date == 0)
			r->date = 1; /* 0 means "now" to the store */
		a = a->next;
	}
	if (a == NULL || a->type != IMAP_ARG_STRING ||
	    !(a->flags & (IMAP_ARG_F_LITERAL | IMAP_ARG_F_LITERAL8))) {
		*error_r = "Expected the message as a literal";
		goto fail;
	}
	if (a->next != NULL) {
		/* RFC 3502 MULTIAPPEND is not announced. */
		*error_r = "Unexpected arguments after the message";
		goto fail;
	}
	if (a->len == 0) {
		/* A 0-byte message is legal syntax but no message at all. */
		*error_r = "Empty message";
		goto fail;
	}
	r->msg = a->str;
	r->msg_len = a->len;
	cmd->data = r;
	return 0;
fail:
	free(r);
	return -1;
}

void imap_cmd_append_free(void *data)
{
	free(data);
}

int imap_cmd_append_run(struct imap_cmd *cmd)
{
	const struct append_req *r = cmd->data;
	struct store_append_opts opts;
	struct store_mailbox_info info;
	struct po_buf name = PO_BUF_INIT;
	uint32_t uid = 0, uidvalidity = 0;
	int ret;

	memset(&opts, 0, sizeof(opts));
	if (client_name(cmd, r->name, r->len, &name) < 0)
		goto out;
	ret = store_mailbox_get(cmd->s->acct, name.data, &info);
	if (ret == STORE_E_NOTFOUND) {
		/* §6.3.12: the client may CREATE it and try again. */
		imap_cmd_result(cmd, IMAP_NO,
		                "[TRYCREATE] Mailbox does not exist");
		goto out;
	}
	if (ret != STORE_OK) {
		imap_cmd_store_error(cmd, ret, "APPEND");
		goto out;
	}
	if (r->n_kw > 0) {
		ret = store_keyword_mask(cmd->s->acct, r->kw, r->n_kw, true,
		                         &opts.keywords);
		if (ret == STORE_E_LIMIT) {
			imap_cmd_result(cmd, IMAP_NO,
			                "[LIMIT] Too many keywords in this "
			                "account");
			goto out;
		}
		if (ret != STORE_OK) {
			imap_cmd_store_error(cmd, ret, "APPEND");
			goto out;
		}
	}
	opts.flags = r->flags;
	opts.internal_date = r->date;
	ret = store_append_ex(cmd->s->acct, info.id, r->msg, r->msg_len, &opts,
	                      &uid, &uidvalidity);
	if (ret == STORE_E_NOTFOUND)
		imap_cmd_result(cmd, IMAP_NO,
		                "[TRYCREATE] Mailbox does not exist");
	else if (ret != STORE_OK)
		imap_cmd_store_error(cmd, ret, "APPEND");
	else
		imap_cmd_result(cmd, IMAP_OK,
		                "[APPENDUID %u %u] APPEND completed",
		                uidvalidity, uid);
out:
	po_buf_deinit(&name);
	return IMAP_RUN_DONE;
}

/* ---- CHECK, CLOSE, UNSELECT, EXPUNGE --------------------------------- */

int imap_cmd_check_run(struct imap_cmd *cmd)
{
	/* RFC 9051 drops CHECK; RFC 3501 §6.4.1: every change is on disk
	 * already, so it is a NOOP (the framework sends updates). */
	imap_cmd_result(cmd, IMAP_OK, "CHECK completed");
	return IMAP_RUN_DONE;
}

/*
 * The UIDs of the \Deleted messages among uids (ascending, or every
 * message of the selected mailbox when uids is NULL), in a malloc'd array.
 */
static int deleted_uids(struct imap_session *s, const uint32_t *uids,
                        size_t n_uids, uint32_t **out_r, size_t *n_r)
{
	struct store_msg_ext *msgs = NULL;
	struct store_mailbox_status st;
	size_t n = 0, k = 0, w = 0;
	uint32_t lo = 1, hi = UINT32_MAX;
	int ret;

	*out_r = NULL;
	*n_r = 0;
	if (uids != NULL) {
		if (n_uids == 0)
			return STORE_OK;
		lo = uids[0];
		hi = uids[n_uids - 1];
	}
	/* The kept count first (O(1)): a CLOSE or EXPUNGE of a large
	 * mailbox without \Deleted messages lists nothing. */
	ret = store_mailbox_status(s->acct, s->sel.id, &st);
	if (ret != STORE_OK || st.deleted == 0)
		return ret;
	ret = store_list_ext(s->acct, s->sel.id, lo, hi, &msgs, &n);
	if (ret != STORE_OK || n == 0)
		return ret;
	*out_r = xcalloc(n, sizeof(**out_r));
	for (size_t i = 0; i < n; i++) {
		uint32_t uid = msgs[i].m.uid;

		if (!(msgs[i].m.flags & STORE_F_DELETED))
			continue;
		if (uids != NULL) {
			while (k < n_uids && uids[k] < uid)
				k++;
			if (k == n_uids || uids[k] != uid)
				continue;
		}
		(*out_r)[w++] = uid;
	}
	free(msgs);
	*n_r = w;
	if (w == 0) {
		free(*out_r);
		*out_r = NULL;
	}
	return STORE_OK;
}

/* Expunge the \Deleted messages (among uids when not NULL); with out,
 * report each "* n EXPUNGE" (RFC 9051 §7.5.1), highest first so every
 * number is right when sent and needs no renumbering by the client. */
static int expunge_deleted(struct imap_session *s, const uint32_t *uids,
                           size_t n_uids, struct po_buf *out)
{
	uint32_t *del;
	size_t n;
	int ret = deleted_uids(s, uids, n_uids, &del, &n);

	if (ret != STORE_OK || n == 0)
		return ret;
	ret = store_expunge(s->acct, s->sel.id, del, n);
	if (ret == STORE_OK && out != NULL)
		imap_sel_expunge_uids(s, out, del, n, true);
	free(del);
	return ret;
}

/* RFC 9051 §6.4.1: expunge silently (read-write only), then leave. */
int imap_cmd_close_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	int ret = STORE_OK;

	if (!s->sel.readonly && !s->sel.gone)
		ret = expunge_deleted(s, NULL, 0, NULL);
	if (ret != STORE_OK && ret != STORE_E_NOTFOUND) {
		/* Nothing was removed; stay selected so the client can
		 * retry or UNSELECT. */
		imap_cmd_store_error(cmd, ret, "CLOSE");
		return IMAP_RUN_DONE;
	}
	imap_sel_close(s);
	imap_cmd_result(cmd, IMAP_OK, "CLOSE completed");
	return IMAP_RUN_DONE;
}

/* RFC 3691: leave without expunging. */
int imap_cmd_unselect_run(struct imap_cmd *cmd)
{
	imap_sel_close(cmd->s);
	imap_cmd_result(cmd, IMAP_OK, "UNSELECT completed");
	return IMAP_RUN_DONE;
}

/* The UID set of UID EXPUNGE, ranges in the same allocation. */
struct expunge_req {
	struct imap_seqset set;
	struct imap_seq_range ranges[];
};

/* EXPUNGE takes nothing; UID EXPUNGE a sequence set (RFC 4315 §2.1). */
int imap_cmd_uid_expunge_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct imap_seqset set;
	struct expunge_req *r;

	if (!cmd->uid) {
		if (cmd->nargs != 0) {
			*error_r = "EXPUNGE takes no arguments";
			return -1;
		}
		return 0;
	}
	/* A sequence set is no strict atom ("*" is a list wildcard), so
	 * take the lenient atom as the parser read it. */
	if (cmd->nargs != 1 || cmd->args->type != IMAP_ARG_ATOM) {
		*error_r = "Expected a UID set";
		return -1;
	}
	if (imap_seqset_parse(cmd->args->str, cmd->args->len, &set, error_r) <
	    0)
		return -1;
	/* The command's free is free(): keep it one allocation. */
	r = xmalloc(sizeof(*r) + set.count * sizeof(r->ranges[0]));
	r->set = set;
	if (set.count > 0)
		memcpy(r->ranges, set.ranges, set.count * sizeof(r->ranges[0]));
	r->set.ranges = r->ranges;
	imap_seqset_deinit(&set);
	cmd->data = r;
	return 0;
}

int imap_cmd_expunge_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const struct expunge_req *r = cmd->data;
	uint32_t *uids = NULL;
	size_t n = 0;
	const char *error = NULL;
	int ret;

	if (s->sel.readonly) {
		/* §6.4.3 / RFC 5530: EXAMINE'd mailboxes cannot change. */
		imap_cmd_result(cmd, IMAP_NO,
		                "[READ-ONLY] Mailbox is read-only");
		return IMAP_RUN_DONE;
	}
	if (r != NULL) {
		/* RFC 4315 §2.1: only the \Deleted ones among these UIDs. */
		if (imap_sel_resolve(s, &r->set, true, &uids, &n, &error) < 0) {
			imap_cmd_result(cmd, IMAP_BAD, "%s",
			                error != NULL ? error
			                              : "Invalid UID set");
			return IMAP_RUN_DONE;
		}
		ret = n > 0 ? expunge_deleted(s, uids, n, &cmd->out) : STORE_OK;
		free(uids);
	} else {
		ret = expunge_deleted(s, NULL, 0, &cmd->out);
	}
	if (ret != STORE_OK)
		imap_cmd_store_error(cmd, ret, "EXPUNGE");
	else
		imap_cmd_result(cmd, IMAP_OK, "EXPUNGE completed");
	return IMAP_RUN_DONE;
}
