/*
 * SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4), with the
 * ESEARCH response (RFC 4731, RFC 9051 §7.3.4) and the saved result "$"
 * (RFC 5182).  The program is parsed by imap_search_parse.c and matched by
 * imap_search_match.c; this file runs it against the store on the worker:
 * one store_list_ext per batch of the selected map answers every key about
 * flags, keywords, size, dates, UIDs and sequence numbers, and only a
 * message those keys leave undecided has its header (and, for BODY and
 * TEXT, its body) read with store_read, within fixed bounds.
 *
 * Dates: RFC 9051 says BEFORE/ON/SINCE compare the internal date
 * "disregarding time and timezone", which leaves open in which zone the
 * day is taken.  We take both the internal date and the Date: header (as
 * the store gives it, with its zone applied) as UTC days.  A message
 * delivered at 23:30 -0500 is therefore on the next day; the server keeps
 * no per-message zone for the internal date, and UTC is what FETCH
 * INTERNALDATE reports (imap_write_date_time), so a client that compares
 * with what it fetched sees consistent results.
 *
 * Only messages in s->sel (the sequence numbers the client knows) are
 * candidates; a message expunged in the store but not yet announced
 * (RFC 9051 §7.5.1) no longer matches anything.
 */
#include "imap_private.h"
#include "imap_search.h"

#include <stdlib.h>
#include <string.h>

/* Messages listed per store_list_ext call. */
#define SEARCH_BATCH 2000
/* Bytes read from the store per call while scanning a body. */
#define SEARCH_CHUNK (64u * 1024u)
/* MIME parts looked at for decoded BODY/TEXT matching, and their depth. */
#define SEARCH_PARTS_MAX 100
#define SEARCH_PART_DEPTH 8

/* ---- output ------------------------------------------------------------- */

void imap_search_write_set(struct po_buf *out, const uint32_t *numbers,
                           size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j + 1 < n && numbers[j + 1] == numbers[j] + 1)
			j++;
		if (i > 0)
			po_buf_add(out, ",", 1);
		if (j == i)
			po_buf_printf(out, "%u", numbers[i]);
		else
			po_buf_printf(out, "%u:%u", numbers[i], numbers[j]);
		i = j + 1;
	}
}

void imap_search_write_ordered_set(struct po_buf *out, const uint32_t *numbers,
                                   size_t n)
{
	/* Same run joining; the order of the input is kept as it is. */
	imap_search_write_set(out, numbers, n);
}

void imap_search_write_result(struct po_buf *out, const char *tag, bool uid,
                              bool has_return, unsigned ret, bool esearch,
                              const uint32_t *numbers, size_t n)
{
	if (!has_return && !esearch) {
		/* RFC 3501 §7.2.5 */
		po_buf_add_str(out, "* SEARCH");
		for (size_t i = 0; i < n; i++)
			po_buf_printf(out, " %u", numbers[i]);
		po_buf_add_str(out, "\r\n");
		return;
	}
	if (!has_return)
		ret = IMAP_SEARCH_RET_ALL;
	/* RFC 5182 §2.4 / RFC 9051 §6.4.4: SAVE alone suppresses the
	 * ESEARCH response. */
	if ((ret & ~(unsigned)IMAP_SEARCH_RET_SAVE) == 0)
		return;
	/* A tag is 1*ASTRING-CHAR without "+": never a quote or backslash,
	 * so it can always be sent quoted as it is. */
	po_buf_printf(out, "* ESEARCH (TAG \"%s\")", tag);
	if (uid)
		po_buf_add_str(out, " UID");
	if ((ret & IMAP_SEARCH_RET_MIN) && n > 0)
		po_buf_printf(out, " MIN %u", numbers[0]);
	if ((ret & IMAP_SEARCH_RET_MAX) && n > 0)
		po_buf_printf(out, " MAX %u", numbers[n - 1]);
	if (ret & IMAP_SEARCH_RET_COUNT)
		po_buf_printf(out, " COUNT %zu", n);
	if ((ret & IMAP_SEARCH_RET_ALL) && n > 0) {
		po_buf_add_str(out, " ALL ");
		imap_search_write_set(out, numbers, n);
	}
	po_buf_add_str(out, "\r\n");
}

void imap_search_saved_result(unsigned ret, const uint32_t *uids, size_t n,
                              uint32_t **saved_r, size_t *n_r)
{
	uint32_t *v;
	size_t k = 0;

	*saved_r = NULL;
	*n_r = 0;
	if (n == 0)
		return;
	if ((ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) ||
	    !(ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX))) {
		v = xmalloc(n * sizeof(*v));
		memcpy(v, uids, n * sizeof(*v));
		*saved_r = v;
		*n_r = n;
		return;
	}
	/* RFC 5182 §2.4: SAVE with only MIN and/or MAX keeps just those. */
	v = xmalloc(2 * sizeof(*v));
	if (ret & IMAP_SEARCH_RET_MIN)
		v[k++] = uids[0];
	if ((ret & IMAP_SEARCH_RET_MAX) && (k == 0 || uids[n - 1] != v[0]))
		v[k++] = uids[n - 1];
	*saved_r = v;
	*n_r = k;
}

/* ---- evaluation against the store ---------------------------------------- */

struct body_ctx {
	struct store_account *a;
	int64_t mailbox;
	const struct store_msg_ext *x;
	char *chunk; /* SEARCH_CHUNK bytes */
	int err;     /* first store error */
	unsigned parts;
};

/* Read [off, off + len) of the message into out. */
static int read_range(struct body_ctx *bc, uint64_t off, uint64_t len,
                      struct po_buf *out)
{
	while (len > 0) {
		size_t want = len < SEARCH_CHUNK ? (size_t)len : SEARCH_CHUNK;
		size_t got = 0;
		int r = store_read(bc->a, bc->mailbox, bc->x->m.uid, off,
		                   bc->chunk, want, &got);

		if (r != STORE_OK)
			return r;
		if (got == 0)
			break;
		if (po_buf_try_add(out, bc->chunk, got) < 0)
			return STORE_E_TEMP;
		off += got;
		len -= got;
	}
	return STORE_OK;
}

static bool type_is(const char *type, const char *want)
{
	return strcmp(type, want) == 0;
}

/* Look through the part at path[0..depth) and its sub-parts for an encoded
 * text part whose decoded body contains m.  1 found, 0 not, -1 no such
 * part, -2 store error (bc->err). */
static int find_decoded(struct body_ctx *bc, struct imap_search_matcher *m,
                        uint32_t *path, size_t depth)
{
	struct store_section sec;
	struct po_buf raw = PO_BUF_INIT, dec = PO_BUF_INIT;
	int r;

	if (++bc->parts > SEARCH_PARTS_MAX)
		return 0;
	r = store_section_find(bc->a, bc->mailbox, bc->x->m.uid, path, depth,
	                       &sec);
	if (r == STORE_E_NOTFOUND)
		return -1;
	if (r != STORE_OK) {
		bc->err = r;
		return -2;
	}
	if (sec.is_multipart) {
		if (depth >= SEARCH_PART_DEPTH)
			return 0;
		for (uint32_t i = 1; i <= SEARCH_PARTS_MAX; i++) {
			path[depth] = i;
			r = find_decoded(bc, m, path, depth + 1);
			if (r == -1)
				break;
			if (r != 0)
				return r;
		}
		return 0;
	}
	/* RFC 9051 §6.4.4: parts other than text and message may be left
	 * out; decoding images would only find noise. */
	if (!type_is(sec.type, "text") && !type_is(sec.type, "message"))
		return 0;
	if (sec.body_len > IMAP_SEARCH_DECODE_MAX ||
	    (!type_is(sec.encoding, "base64") &&
	     !type_is(sec.encoding, "quoted-printable")))
		return 0;
	r = read_range(bc, sec.body_off, sec.body_len, &raw);
	if (r == STORE_OK &&
	    imap_search_decode_body(sec.encoding, raw.data, raw.len, &dec))
		r = imap_search_matcher_find(m, dec.data, dec.len) ? 1 : 0;
	else if (r != STORE_OK) {
		bc->err = r;
		r = -2;
	} else {
		r = 0;
	}
	po_buf_deinit(&raw);
	po_buf_deinit(&dec);
	return r;
}

/* BODY: the body as stored, streamed through the matcher, then the
 * decoded text parts (RFC 9051 §6.4.4: transfer encodings MUST be
 * decoded before comparing). */
static bool body_find(void *ctx, struct imap_search_matcher *m)
{
	struct body_ctx *bc = ctx;
	uint64_t off = bc->x->hdr_len;
	uint32_t path[SEARCH_PART_DEPTH + 1];

	imap_search_matcher_reset(m);
	if (bc->err != STORE_OK)
		return false;
	while (off < bc->x->m.size) {
		size_t got = 0;
		int r = store_read(bc->a, bc->mailbox, bc->x->m.uid, off,
		                   bc->chunk, SEARCH_CHUNK, &got);

		if (r != STORE_OK) {
			bc->err = r;
			return false;
		}
		if (got == 0)
			break;
		if (imap_search_matcher_feed(m, bc->chunk, got))
			return true;
		off += got;
	}
	if (m->len == 0)
		return true;
	bc->parts = 0;
	return find_decoded(bc, m, path, 0) == 1;
}

static int load_header(struct body_ctx *bc, struct imap_search_header *h)
{
	struct po_buf raw = PO_BUF_INIT;
	uint64_t len = bc->x->hdr_len;
	int r;

	if (len > IMAP_SEARCH_HDR_MAX)
		len = IMAP_SEARCH_HDR_MAX;
	r = read_range(bc, 0, len, &raw);
	if (r == STORE_OK)
		imap_search_header_parse(h, raw.data, raw.len);
	po_buf_deinit(&raw);
	return r;
}

static int resolve_keywords(struct store_account *a, struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->kind == IMAP_SK_KEYWORD) {
			const char *name = k->name;
			int r = store_keyword_mask(a, &name, 1, false,
			                           &k->kw_mask);

			/* A name the store refuses is no keyword any message
			 * has. */
			if (r == STORE_E_INVALID)
				k->kw_mask = 0;
			else if (r != STORE_OK)
				return r;
		}
		if (k->children != NULL) {
			int r = resolve_keywords(a, k->children);

			if (r != STORE_OK)
				return r;
		}
	}
	return STORE_OK;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct search_run {
	struct imap_session *s;
	struct imap_search_program *prog;
	struct imap_search_msg msg;
	struct body_ctx bc;
	struct imap_search_header hdr;
	uint32_t *seqs, *uids;
	size_t n;
};

/* Decide one message; -1 on a store error (in run->bc.err). */
static int search_one(struct search_run *run, const struct store_msg_ext *x,
                      uint32_t seq)
{
	enum imap_search_tri r;

	run->msg.x = x;
	run->msg.seq = seq;
	run->msg.full = false;
	r = imap_search_eval(run->prog->root, &run->msg);
	if (r == IMAP_ST_UNKNOWN) {
		run->bc.x = x;
		run->bc.err = STORE_OK;
		run->msg.hdr = NULL;
		if ((run->prog->need & IMAP_SEARCH_NEED_HEADER) &&
		    load_header(&run->bc, &run->hdr) == STORE_OK)
			run->msg.hdr = &run->hdr;
		run->msg.full = true;
		run->msg.body_find = body_find;
		run->msg.ctx = &run->bc;
		r = run->bc.err == STORE_OK
		            ? imap_search_eval(run->prog->root, &run->msg)
		            : IMAP_ST_FALSE;
		if (run->bc.err == STORE_E_EXPUNGED)
			return 0; /* gone meanwhile: no match */
		if (run->bc.err != STORE_OK)
			return -1;
	}
	if (r == IMAP_ST_TRUE) {
		run->seqs[run->n] = seq;
		run->uids[run->n] = x->m.uid;
		run->n++;
	}
	return 0;
}

/* The messages of the map between indexes lo and hi (inclusive). */
static int search_batch(struct search_run *run, size_t lo, size_t hi)
{
	const struct imap_selected *sel = &run->s->sel;
	struct store_msg_ext *list = NULL;
	size_t nl = 0, j = 0;
	int r;

	r = store_list_ext(run->s->acct, sel->id, sel->uids[lo], sel->uids[hi],
	                   &list, &nl);
	if (r != STORE_OK)
		return r;
	for (size_t i = lo; i <= hi && j < nl; i++) {
		while (j < nl && list[j].m.uid < sel->uids[i])
			j++;
		if (j == nl || list[j].m.uid != sel->uids[i])
			continue; /* expunged, not yet announced */
		if (search_one(run, &list[j], (uint32_t)(i + 1)) < 0) {
			r = run->bc.err;
			break;
		}
	}
	free(list);
	return r;
}

int imap_search_run_program(struct imap_session *s,
                            struct imap_search_program *prog, uint32_t **seqs_r,
                            uint32_t **uids_r, size_t *n_r)
{
	const struct imap_selected *sel = &s->sel;
	struct search_run run = {.s = s, .prog = prog};
	uint32_t *saved = NULL;
	int r;

	*seqs_r = *uids_r = NULL;
	*n_r = 0;
	r = resolve_keywords(s->acct, prog->root);
	if (r != STORE_OK || sel->count == 0)
		return r;
	if (sel->n_searchres > 0) {
		saved = xmalloc(sel->n_searchres * sizeof(*saved));
		memcpy(saved, sel->searchres,
		       sel->n_searchres * sizeof(*saved));
		qsort(saved, sel->n_searchres, sizeof(*saved), cmp_u32);
	}
	run.msg.saved = saved;
	run.msg.n_saved = sel->n_searchres;
	run.msg.max_seq = sel->count;
	run.msg.max_uid = sel->uids[sel->count - 1];
	run.bc.a = s->acct;
	run.bc.mailbox = sel->id;
	run.bc.chunk = xmalloc(SEARCH_CHUNK);
	run.seqs = xmalloc(sel->count * sizeof(uint32_t));
	run.uids = xmalloc(sel->count * sizeof(uint32_t));
	for (size_t i = 0; i < sel->count && r == STORE_OK; i += SEARCH_BATCH) {
		size_t hi = i + SEARCH_BATCH - 1;

		r = search_batch(&run, i,
		                 hi < sel->count ? hi : sel->count - 1);
	}
	free(saved);
	free(run.bc.chunk);
	imap_search_header_deinit(&run.hdr);
	if (r != STORE_OK || run.n == 0) {
		free(run.seqs);
		free(run.uids);
		return r;
	}
	*seqs_r = run.seqs;
	*uids_r = run.uids;
	*n_r = run.n;
	return STORE_OK;
}

/* ---- the command ----------------------------------------------------------
 */

int imap_cmd_search_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct imap_search_program *prog;

	if (imap_search_parse(&cmd->arena, cmd->args, &prog, error_r) < 0)
		return -1;
	cmd->data = prog;
	return 0;
}

/* RFC 5182 §2.1: a SEARCH with SAVE that fails with NO empties "$". */
static void searchres_set(struct imap_session *s, uint32_t *uids, size_t n)
{
	free(s->sel.searchres);
	s->sel.searchres = uids;
	s->sel.n_searchres = n;
}

int imap_cmd_search_run(struct imap_cmd *cmd)
{
	struct imap_search_program *prog = cmd->data;
	struct imap_session *s = cmd->s;
	bool save = prog->has_return && (prog->ret & IMAP_SEARCH_RET_SAVE);
	uint32_t *seqs, *uids, *saved;
	size_t n, n_saved;
	int r;

	if (prog->bad_charset) {
		if (save)
			searchres_set(s, NULL, 0);
		imap_cmd_result(cmd, IMAP_NO,
		                "[BADCHARSET (UTF-8 US-ASCII)] "
		                "Unsupported charset");
		return IMAP_RUN_DONE;
	}
	r = imap_search_run_program(s, prog, &seqs, &uids, &n);
	if (r != STORE_OK) {
		if (save)
			searchres_set(s, NULL, 0);
		imap_cmd_store_error(cmd, r, "SEARCH");
		return IMAP_RUN_DONE;
	}
	imap_search_write_result(&cmd->out, cmd->tag, cmd->uid,
	                         prog->has_return, prog->ret, s->enabled_rev2,
	                         cmd->uid ? uids : seqs, n);
	if (save) {
		imap_search_saved_result(prog->ret, uids, n, &saved, &n_saved);
		searchres_set(s, saved, n_saved);
	}
	free(seqs);
	free(uids);
	imap_cmd_result(cmd, IMAP_OK, "SEARCH completed");
	return IMAP_RUN_DONE;
}

void imap_cmd_search_free(void *data)
{
	/* The program lives in the command's arena. */
	(void)data;
}
