/*
 * STORE, COPY and MOVE, with their UID forms (RFC 9051 §6.4.6, §6.4.7,
 * §6.4.8, §6.4.9; RFC 6851 MOVE; RFC 4315 COPYUID; RFC 7162 §3.1.3 the
 * UNCHANGEDSINCE modifier and the MODIFIED response code, accepted though
 * CONDSTORE is not announced).  Parsing is pure; the runs use the store on
 * the worker and answer with untagged FETCH, COPYUID and EXPUNGE
 * responses.  Sequence sets are resolved against the selected map with
 * imap_sel_resolve; the untagged updates that follow (imap_sync) are the
 * framework's.
 */
#include "imap_private.h"
#include "imap_search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keyword names one STORE may list (more than the store can hold, so an
 * excess becomes NO [LIMIT] from the store rather than BAD). */
#define STORE_CMD_KW_MAX (2 * STORE_KEYWORDS_MAX)

struct store_cmd {
	struct imap_seqset set;
	bool has_unchangedsince;
	uint64_t unchangedsince;
	enum store_flag_op op;
	bool silent;
	uint32_t flags;
	const char *kw[STORE_CMD_KW_MAX]; /* into the argument tree */
	size_t n_kw;
};

struct copy_cmd {
	struct imap_seqset set;
	const char *mailbox; /* into the argument tree, not NUL-terminated */
	size_t mailbox_len;
};

/* ---- STORE ------------------------------------------------------------------
 */

/* "(UNCHANGEDSINCE n)" (RFC 7162 §3.1.3, store-modifier). */
static int parse_store_modifiers(const struct imap_arg *list,
                                 struct store_cmd *sc, const char **error_r)
{
	const struct imap_arg *a;
	const char *name;

	if (list->count == 0) {
		*error_r = "Empty STORE modifier list";
		return -1;
	}
	for (a = list->children; a != NULL; a = a->next->next) {
		if (!imap_arg_get_atom(a, &name) ||
		    strcasecmp(name, "UNCHANGEDSINCE") != 0 ||
		    sc->has_unchangedsince) {
			*error_r = "Unknown STORE modifier";
			return -1;
		}
		if (!imap_arg_get_number64(a->next, &sc->unchangedsince)) {
			*error_r = "UNCHANGEDSINCE needs a mod-sequence";
			return -1;
		}
		sc->has_unchangedsince = true;
	}
	return 0;
}

/* [+|-]FLAGS[.SILENT] */
static int parse_store_item(const char *item, struct store_cmd *sc)
{
	sc->op = STORE_FLAGS_SET;
	if (item[0] == '+' || item[0] == '-') {
		sc->op = item[0] == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		item++;
	}
	if (strncasecmp(item, "FLAGS", 5) != 0)
		return -1;
	item += 5;
	if (*item == '\0')
		return 0;
	if (strcasecmp(item, ".SILENT") != 0)
		return -1;
	sc->silent = true;
	return 0;
}

/* flag-list / (flag *(SP flag)); \Recent is refused (imap_parse_flags). */
static int parse_store_flags(const struct imap_arg *a, struct store_cmd *sc,
                             const char **error_r)
{
	if (a == NULL) {
		*error_r = "Missing flags";
		return -1;
	}
	if (a->type == IMAP_ARG_LIST && a->next != NULL) {
		*error_r = "Unexpected argument after the flag list";
		return -1;
	}
	for (; a != NULL; a = a->next) {
		uint32_t flags = 0;
		size_t n = 0;

		if (imap_parse_flags(a, &flags, sc->kw + sc->n_kw,
		                     STORE_CMD_KW_MAX - sc->n_kw, &n,
		                     error_r) < 0)
			return -1;
		sc->flags |= flags;
		sc->n_kw += n;
	}
	return 0;
}

static int store_parse(const struct imap_arg *a, struct store_cmd *sc,
                       const char **error_r)
{
	const char *item;

	if (a == NULL || a->type != IMAP_ARG_ATOM) {
		*error_r = "Missing sequence set";
		return -1;
	}
	if (imap_seqset_parse(a->str, a->len, &sc->set, error_r) < 0)
		return -1;
	a = a->next;
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		if (parse_store_modifiers(a, sc, error_r) < 0)
			return -1;
		a = a->next;
	}
	if (!imap_arg_get_atom(a, &item) || parse_store_item(item, sc) < 0) {
		*error_r = "Expected FLAGS, +FLAGS or -FLAGS";
		return -1;
	}
	return parse_store_flags(a->next, sc, error_r);
}

int imap_cmd_store_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct store_cmd *sc = xcalloc(1, sizeof(*sc));

	if (store_parse(cmd->args, sc, error_r) < 0) {
		imap_cmd_store_free(sc);
		return -1;
	}
	cmd->data = sc;
	return 0;
}

void imap_cmd_store_free(void *data)
{
	struct store_cmd *sc = data;

	if (sc == NULL)
		return;
	imap_seqset_deinit(&sc->set);
	free(sc);
}

/* "* n FETCH ([UID u ]FLAGS (...))" */
static void write_fetch_flags(struct imap_cmd *cmd, uint32_t seq,
                              const struct store_flag_result *res, char **names)
{
	po_buf_printf(&cmd->out, "* %u FETCH (", seq);
	if (cmd->uid)
		po_buf_printf(&cmd->out, "UID %u ", res->uid);
	po_buf_add_str(&cmd->out, "FLAGS ");
	imap_write_flags(&cmd->out, res->flags, res->keywords, names);
	po_buf_add_str(&cmd->out, ")\r\n");
}

/* The tagged result, with [MODIFIED set] when some messages failed the
 * UNCHANGEDSINCE test (RFC 7162 §3.1.3).  The tagged text is bounded by
 * the framework; a set too long for it is sent as the range from its
 * first to its last number, a superset the client re-checks with FETCH
 * (RFC 7162 §3.1.3 asks clients to verify MODIFIED messages anyway). */
static void store_result(struct imap_cmd *cmd, const uint32_t *modified,
                         size_t n_modified)
{
	struct po_buf set = PO_BUF_INIT;

	if (n_modified == 0) {
		imap_cmd_result(cmd, IMAP_OK, "STORE completed");
		return;
	}
	imap_search_write_set(&set, modified, n_modified);
	imap_cmd_result(cmd, IMAP_OK, "[MODIFIED %s] Conditional STORE failed",
	                set.data);
	po_buf_deinit(&set);
}

/*
 * Report the results of store_set_flags.  Our own change gets a new MODSEQ
 * in the store, so the imap_sync that runs after us would report it again
 * as an unsolicited FETCH (legal, RFC 9051 §7.5.2, but noisy, and it
 * defeats .SILENT).  When that MODSEQ is exactly the one after the
 * session's sel.modseq, no other change (flags, append or expunge) can
 * have happened between what the client was told and our change, so the
 * client now knows everything up to it and we may advance sel.modseq.
 * Otherwise we leave it: imap_sync then reports the other changes and ours
 * once more.  A keyword the client has not been sent in FLAGS yet is
 * announced first (FLAGS and PERMANENTFLAGS, RFC 9051 §7.3.5), before the
 * FETCH that shows it.
 */
static void store_report(struct imap_cmd *cmd, const struct store_cmd *sc,
                         const struct store_flag_result *res, size_t n_res)
{
	struct imap_session *s = cmd->s;
	uint64_t mask = 0, new_modseq = 0;
	uint32_t *modified = xmalloc((n_res + 1) * sizeof(*modified));
	size_t n_modified = 0;
	char **names;

	for (size_t i = 0; i < n_res; i++) {
		mask |= res[i].keywords;
		if (res[i].changed)
			new_modseq = res[i].modseq;
	}
	imap_sel_announce_keywords(s, &cmd->out, mask);
	names = imap_keyword_names(s, mask);
	for (size_t i = 0; i < n_res; i++) {
		uint32_t seq = imap_sel_seq(s, res[i].uid);

		if (seq == 0)
			continue;
		if (sc->has_unchangedsince && !res[i].changed &&
		    res[i].modseq > sc->unchangedsince) {
			modified[n_modified++] = cmd->uid ? res[i].uid : seq;
			continue;
		}
		if (!sc->silent)
			write_fetch_flags(cmd, seq, &res[i], names);
	}
	if (new_modseq != 0 && new_modseq == s->sel.modseq + 1)
		s->sel.modseq = new_modseq;
	store_result(cmd, modified, n_modified);
	free(modified);
}

/* UNCHANGEDSINCE 0 fails for every message (RFC 7162 §3.1.3, Example 8:
 * a system flag always exists); the store reads 0 as "no condition". */
static void store_all_modified(struct imap_cmd *cmd, const uint32_t *uids,
                               size_t n)
{
	uint32_t *modified = xmalloc((n + 1) * sizeof(*modified));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t seq = imap_sel_seq(cmd->s, uids[i]);

		if (seq != 0)
			modified[k++] = cmd->uid ? uids[i] : seq;
	}
	store_result(cmd, modified, k);
	free(modified);
}

int imap_cmd_store_run(struct imap_cmd *cmd)
{
	struct store_cmd *sc = cmd->data;
	struct imap_session *s = cmd->s;
	struct store_flag_result *res = NULL;
	uint32_t *uids = NULL;
	size_t n = 0, n_res = 0;
	uint64_t mask = 0;
	const char *error;
	int r;

	if (s->sel.readonly) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[READ-ONLY] Mailbox is selected read-only");
		return IMAP_RUN_DONE;
	}
	if (imap_sel_resolve(s, &sc->set, cmd->uid, &uids, &n, &error) < 0) {
		imap_cmd_result(cmd, IMAP_BAD, "%s", error);
		return IMAP_RUN_DONE;
	}
	/* RFC 9051 §2.3.2: keywords are created by storing them, not by
	 * removing them. */
	r = sc->n_kw == 0
	            ? STORE_OK
	            : store_keyword_mask(s->acct, sc->kw, sc->n_kw,
	                                 sc->op != STORE_FLAGS_REMOVE, &mask);
	if (r == STORE_E_LIMIT) {
		imap_cmd_result(cmd, IMAP_NO, "[LIMIT] Too many keywords");
	} else if (r != STORE_OK) {
		imap_cmd_store_error(cmd, r, "STORE");
	} else if (n == 0) {
		imap_cmd_result(cmd, IMAP_OK, "STORE completed");
	} else if (sc->has_unchangedsince && sc->unchangedsince == 0) {
		store_all_modified(cmd, uids, n);
	} else {
		r = store_set_flags(s->acct, s->sel.id, uids, n, sc->op,
		                    sc->flags, mask, sc->unchangedsince, &res,
		                    &n_res);
		if (r != STORE_OK)
			imap_cmd_store_error(cmd, r, "STORE");
		else
			store_report(cmd, sc, res, n_res);
	}
	free(res);
	free(uids);
	return IMAP_RUN_DONE;
}

/* ---- COPY and MOVE --------------------------------------------------------
 */

static int copy_parse(const struct imap_arg *a, struct copy_cmd *cc,
                      const char **error_r)
{
	if (a == NULL || a->type != IMAP_ARG_ATOM) {
		*error_r = "Missing sequence set";
		return -1;
	}
	if (imap_seqset_parse(a->str, a->len, &cc->set, error_r) < 0)
		return -1;
	a = a->next;
	if (!imap_arg_get_astring(a, &cc->mailbox, &cc->mailbox_len)) {
		*error_r = "Missing mailbox name";
		return -1;
	}
	if (a->next != NULL) {
		*error_r = "Unexpected argument after the mailbox name";
		return -1;
	}
	return 0;
}

int imap_cmd_copy_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct copy_cmd *cc = xcalloc(1, sizeof(*cc));

	if (copy_parse(cmd->args, cc, error_r) < 0) {
		imap_cmd_copy_free(cc);
		return -1;
	}
	cmd->data = cc;
	return 0;
}

void imap_cmd_copy_free(void *data)
{
	struct copy_cmd *cc = data;

	if (cc == NULL)
		return;
	imap_seqset_deinit(&cc->set);
	free(cc);
}

/* "COPYUID uidvalidity src dst" (RFC 4315 §3) */
static void write_copyuid(struct po_buf *out, uint32_t uidvalidity,
                          const uint32_t *src, const uint32_t *dst, size_t n)
{
	po_buf_printf(out, "COPYUID %u ", uidvalidity);
	imap_search_write_ordered_set(out, src, n);
	po_buf_add(out, " ", 1);
	imap_search_write_ordered_set(out, dst, n);
}

/* The tagged OK of COPY with COPYUID (RFC 4315 §3), however long. */
static void copy_result(struct imap_cmd *cmd, uint32_t uidvalidity,
                        const uint32_t *src, const uint32_t *dst, size_t n)
{
	struct po_buf code = PO_BUF_INIT;

	write_copyuid(&code, uidvalidity, src, dst, n);
	imap_cmd_result(cmd, IMAP_OK, "[%s] COPY completed", code.data);
	po_buf_deinit(&code);
}

/* RFC 6851 §4.3: the COPYUID in an untagged OK, then the EXPUNGEs. */
static void move_result(struct imap_cmd *cmd, uint32_t uidvalidity,
                        const uint32_t *src, const uint32_t *dst, size_t n)
{
	po_buf_add_str(&cmd->out, "* OK [");
	write_copyuid(&cmd->out, uidvalidity, src, dst, n);
	po_buf_add_str(&cmd->out, "] Moved\r\n");
	imap_sel_expunge_uids(cmd->s, &cmd->out, src, n, false);
	imap_cmd_result(cmd, IMAP_OK, "MOVE completed");
}

/* Look up the destination; on failure the result is set. */
static int copy_target(struct imap_cmd *cmd, const struct copy_cmd *cc,
                       struct store_mailbox_info *info)
{
	struct po_buf name = PO_BUF_INIT;
	const char *error;
	int r;

	if (imap_mailbox_from_client(cmd->s, cc->mailbox, cc->mailbox_len,
	                             &name, &error) < 0) {
		imap_cmd_result(cmd, IMAP_NO, "[CANNOT] %s", error);
		po_buf_deinit(&name);
		return -1;
	}
	r = store_mailbox_get(cmd->s->acct, name.data, info);
	po_buf_deinit(&name);
	if (r == STORE_E_NOTFOUND) {
		/* RFC 9051 §6.4.7: MUST NOT create it; hint with TRYCREATE. */
		imap_cmd_result(
		        cmd, IMAP_NO,
		        "[TRYCREATE] Destination mailbox does not exist");
		return -1;
	}
	if (r != STORE_OK) {
		imap_cmd_store_error(cmd, r, cmd->def->name);
		return -1;
	}
	return 0;
}

static int copy_or_move(struct imap_cmd *cmd, bool move)
{
	struct copy_cmd *cc = cmd->data;
	struct imap_session *s = cmd->s;
	struct store_mailbox_info info;
	uint32_t *uids = NULL, *src = NULL, *dst = NULL, uidvalidity = 0;
	size_t n = 0, n_copied = 0;
	const char *error;
	int r;

	if (move && s->sel.readonly) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[READ-ONLY] Mailbox is selected read-only");
		return IMAP_RUN_DONE;
	}
	if (imap_sel_resolve(s, &cc->set, cmd->uid, &uids, &n, &error) < 0) {
		imap_cmd_result(cmd, IMAP_BAD, "%s", error);
		return IMAP_RUN_DONE;
	}
	if (copy_target(cmd, cc, &info) < 0) {
		free(uids);
		return IMAP_RUN_DONE;
	}
	if (n > 0) {
		r = store_copy(s->acct, s->sel.id, uids, n, info.id, move,
		               &uidvalidity, &src, &dst, &n_copied);
		if (r == STORE_E_NOTFOUND)
			imap_cmd_result(cmd, IMAP_NO,
			                "[TRYCREATE] Destination mailbox does "
			                "not exist");
		else if (r != STORE_OK)
			imap_cmd_store_error(cmd, r, cmd->def->name);
		if (r != STORE_OK)
			goto out;
	}
	if (n_copied == 0)
		imap_cmd_result(cmd, IMAP_OK, "%s completed", cmd->def->name);
	else if (move)
		move_result(cmd, uidvalidity, src, dst, n_copied);
	else
		copy_result(cmd, uidvalidity, src, dst, n_copied);
out:
	free(uids);
	free(src);
	free(dst);
	return IMAP_RUN_DONE;
}

int imap_cmd_copy_run(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, false);
}

int imap_cmd_move_run(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, true);
}
