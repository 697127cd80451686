/*
 * Fuzz SEARCH: the program parser (protocols/imap/imap_search_parse.c)
 * behind the argument parser, and the pure matching of
 * imap_search_match.c: the substring matcher, RFC 2047 header decoding,
 * header splitting, body transfer decoding and the key evaluator.
 *
 * Input: ARGS [NUL PATTERN [NUL TEXT]].  ARGS is SEARCH's arguments after
 * the command name as the wire brings them (fuzz_imap_input.h), e.g.
 * "CHARSET UTF-8 OR (FROM {3}\r\nbob) NOT SEEN".  The matcher gets PATTERN
 * and TEXT; without a NUL the input's first half is the pattern and its
 * second half the text.
 *
 * Checks: an accepted program is a tree of at most IMAP_SEARCH_MAX_KEYS
 * keys (counted == nkeys) nested at most IMAP_SEARCH_MAX_DEPTH deep, OR
 * has two children and NOT one, AND's children are sorted by cost and no
 * child costs more than its parent, need says exactly which keys need the
 * header and the body; evaluated on a message made from the input, the
 * cheap pass (no content) never contradicts the full pass, and the full
 * pass equals a plain recursive evaluation of the tree.  The matcher
 * agrees with a naive case-insensitive substring search, whole or fed in
 * pieces.  Decoding a header never more than doubles it and leaves text
 * without "=?" as it is; transfer decoding never grows the text.
 *
 * imap_util.c (imap_parse_date, which SEARCH's dates use) also holds
 * imap_cmd_store_error, which calls imap_cmd_result of imap_session.c,
 * which needs the connection core (conn_*).  Rather than link the core,
 * this file defines imap_cmd_result as a stub that aborts: no parser or
 * matcher function reaches it.
 */
#include "fuzz_imap_input.h"

#include <string.h>

#include "imap_private.h"
#include "imap_search.h"
#include "store.h"
#include "util.h"

void imap_cmd_result(struct imap_cmd *cmd, enum imap_status st, const char *fmt,
                     ...)
{
	(void)cmd;
	(void)st;
	(void)fmt;
	abort(); /* see the comment at the top */
}

/* ---- references ----------------------------------------------------- */

static unsigned char fold(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch | 0x20) : ch;
}

/* Does text contain pat, ASCII letters compared case-insensitively? */
static bool naive_find(const uint8_t *pat, size_t plen, const uint8_t *text,
                       size_t tlen)
{
	if (plen == 0)
		return true;
	for (size_t i = 0; i + plen <= tlen; i++) {
		size_t k = 0;

		while (k < plen && fold(text[i + k]) == fold(pat[k]))
			k++;
		if (k == plen)
			return true;
	}
	return false;
}

/* ---- the program ---------------------------------------------------- */

struct walk {
	size_t nkeys;
	unsigned need;
};

static void check_key(const struct imap_search_key *k, unsigned depth,
                      struct walk *w)
{
	size_t nchild = 0;
	unsigned prev_cost = 0;

	FUZZ_CHECK(depth <= IMAP_SEARCH_MAX_DEPTH);
	FUZZ_CHECK(w->nkeys < IMAP_SEARCH_MAX_KEYS);
	w->nkeys++;
	for (const struct imap_search_key *c = k->children; c != NULL;
	     c = c->next) {
		nchild++;
		FUZZ_CHECK(c->cost <= k->cost);
		if (k->kind == IMAP_SK_AND)
			FUZZ_CHECK(c->cost >= prev_cost);
		prev_cost = c->cost;
		check_key(c, depth + 1, w);
	}
	switch (k->kind) {
	case IMAP_SK_AND:
		FUZZ_CHECK(nchild >= 1);
		break;
	case IMAP_SK_OR:
		FUZZ_CHECK(nchild == 2);
		break;
	case IMAP_SK_NOT:
		FUZZ_CHECK(nchild == 1);
		break;
	case IMAP_SK_HEADER:
		FUZZ_CHECK(nchild == 0 && k->name != NULL);
		FUZZ_CHECK(strlen(k->name) >= 1 && strlen(k->name) <= 200);
		FUZZ_CHECK(strchr(k->name, ':') == NULL);
		FUZZ_CHECK(k->m.pat != NULL && k->cost == 10);
		w->need |= IMAP_SEARCH_NEED_HEADER;
		break;
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		FUZZ_CHECK(nchild == 0 && k->m.pat != NULL && k->cost == 100);
		w->need |= IMAP_SEARCH_NEED_BODY;
		if (k->kind == IMAP_SK_TEXT)
			w->need |= IMAP_SEARCH_NEED_HEADER;
		break;
	case IMAP_SK_KEYWORD:
		FUZZ_CHECK(nchild == 0 && k->name != NULL &&
		           k->name[0] != '\\');
		break;
	case IMAP_SK_SEQSET:
	case IMAP_SK_UIDSET:
		FUZZ_CHECK(nchild == 0);
		fuzz_imap_check_set(&k->set);
		break;
	default:
		FUZZ_CHECK(nchild == 0 && k->cost == 1);
		break;
	}
}

/* imap_search_prepare (imap_search.c) resolves keywords with the store;
 * give each keyword a bit from its name instead. */
static void resolve_keywords(struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->kind == IMAP_SK_KEYWORD)
			k->kw_mask = 1ull << (strlen(k->name) % 64);
		resolve_keywords(k->children);
	}
}

struct body {
	const uint8_t *text;
	size_t len;
};

static bool body_find(void *ctx, struct imap_search_matcher *m)
{
	const struct body *b = ctx;

	return imap_search_matcher_find(m, b->text, b->len);
}

/* The plain meaning of the tree, from the leaves' own results. */
static bool ref_eval(struct imap_search_key *k,
                     const struct imap_search_msg *msg)
{
	bool r;

	switch (k->kind) {
	case IMAP_SK_AND:
		r = true;
		for (struct imap_search_key *c = k->children; c != NULL;
		     c = c->next)
			r = ref_eval(c, msg) && r;
		return r;
	case IMAP_SK_OR:
		r = false;
		for (struct imap_search_key *c = k->children; c != NULL;
		     c = c->next)
			r = ref_eval(c, msg) || r;
		return r;
	case IMAP_SK_NOT:
		return !ref_eval(k->children, msg);
	default: {
		enum imap_search_tri t = imap_search_eval(k, msg);

		FUZZ_CHECK(t != IMAP_ST_UNKNOWN);
		return t == IMAP_ST_TRUE;
	}
	}
}

static uint64_t mix(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

static void eval_program(struct imap_search_program *prog, const uint8_t *data,
                         size_t size, const uint8_t *text, size_t tlen)
{
	static const uint32_t saved[] = {1, 3, 7, 100};
	struct imap_search_header hdr = {.buf = PO_BUF_INIT};
	struct store_msg_ext x;
	struct body b = {text, tlen};
	uint64_t h = mix(data, size);
	struct imap_search_msg msg = {.x = &x};
	enum imap_search_tri cheap, full;

	memset(&x, 0, sizeof(x));
	x.m.uid = (uint32_t)(h & 0x7f) + 1;
	x.m.flags = (uint32_t)(h >> 7) & 0x1f;
	x.m.size = (h >> 12) & 0xffff;
	x.m.internal_date = (int64_t)((h >> 28) & 0x3fffffff) - 0x10000000;
	x.sent_date = (h >> 58) & 1 ? 0 : x.m.internal_date + 86400;
	x.keywords = h * 31;
	msg.seq = (uint32_t)((h >> 20) & 0x3f) + 1;
	msg.max_seq = msg.seq + 5;
	msg.max_uid = x.m.uid + 10;
	msg.saved = saved;
	msg.n_saved = (h >> 40) & 1 ? 4 : 0;
	resolve_keywords(prog->root);

	msg.full = false;
	cheap = imap_search_eval(prog->root, &msg);
	imap_search_header_parse(&hdr, (const char *)text, tlen);
	msg.full = true;
	msg.hdr = &hdr;
	msg.body_find = body_find;
	msg.ctx = &b;
	full = imap_search_eval(prog->root, &msg);
	FUZZ_CHECK(full != IMAP_ST_UNKNOWN);
	FUZZ_CHECK(cheap == IMAP_ST_UNKNOWN || cheap == full);
	FUZZ_CHECK((full == IMAP_ST_TRUE) == ref_eval(prog->root, &msg));
	if (prog->need == 0)
		FUZZ_CHECK(cheap == full);
	imap_search_header_deinit(&hdr);
}

static void check_program(struct imap_search_program *prog, const uint8_t *data,
                          size_t size, const uint8_t *text, size_t tlen)
{
	struct walk w = {0, 0};

	FUZZ_CHECK(prog->root != NULL && prog->root->kind == IMAP_SK_AND);
	FUZZ_CHECK(prog->nkeys <= IMAP_SEARCH_MAX_KEYS);
	check_key(prog->root, 0, &w);
	FUZZ_CHECK(w.nkeys == prog->nkeys);
	FUZZ_CHECK(w.need == prog->need);
	FUZZ_CHECK(prog->has_return == (prog->ret != 0));
	FUZZ_CHECK(prog->ret < (IMAP_SEARCH_RET_SAVE << 1));
	eval_program(prog, data, size, text, tlen);
}

/* ---- matcher and decoders ------------------------------------------- */

static void check_matcher(struct imap_arena *arena, const uint8_t *pat,
                          size_t plen, const uint8_t *text, size_t tlen)
{
	struct imap_search_matcher m;
	bool found, piecewise = false;
	size_t step = plen % 7 + 1;

	imap_search_matcher_init(&m, arena, (const char *)pat, plen);
	found = imap_search_matcher_find(&m, text, tlen);
	/* The naive search is O(plen * tlen): bound it. */
	if (plen * tlen <= (1u << 22))
		FUZZ_CHECK(found == naive_find(pat, plen, text, tlen));
	imap_search_matcher_reset(&m);
	FUZZ_CHECK(m.matched == (plen == 0));
	for (size_t i = 0; i < tlen; i += step)
		piecewise = imap_search_matcher_feed(
		        &m, text + i, tlen - i < step ? tlen - i : step);
	if (tlen == 0)
		piecewise = imap_search_matcher_feed(&m, text, 0);
	FUZZ_CHECK(piecewise == found);
	/* Once seen, a match stays. */
	if (found)
		FUZZ_CHECK(imap_search_matcher_feed(&m, "x", 1));
	/* The text is found in itself, and so is every piece of it. */
	imap_search_matcher_init(&m, arena, (const char *)text, tlen);
	FUZZ_CHECK(imap_search_matcher_find(&m, text, tlen));
	if (tlen > 2) {
		imap_search_matcher_init(&m, arena, (const char *)text + 1,
		                         tlen / 2);
		FUZZ_CHECK(imap_search_matcher_find(&m, text, tlen));
	}
}

static void check_decoders(const uint8_t *text, size_t tlen)
{
	struct imap_search_header h = {.buf = PO_BUF_INIT};
	struct po_buf out = PO_BUF_INIT;
	const char *t = (const char *)text;
	bool has_word = false;

	for (size_t i = 0; i + 1 < tlen && !has_word; i++)
		has_word = text[i] == '=' && text[i + 1] == '?';
	imap_search_decode_header(t, tlen, &out);
	FUZZ_CHECK(out.len <= 2 * tlen);
	if (!has_word)
		FUZZ_CHECK(out.len == tlen &&
		           (tlen == 0 || memcmp(out.data, text, tlen) == 0));

	po_buf_reset(&out);
	FUZZ_CHECK(imap_search_decode_body("BASE64", t, tlen, &out));
	FUZZ_CHECK(out.len <= tlen);
	po_buf_reset(&out);
	FUZZ_CHECK(imap_search_decode_body("quoted-printable", t, tlen, &out));
	FUZZ_CHECK(out.len <= tlen);
	po_buf_reset(&out);
	FUZZ_CHECK(!imap_search_decode_body("7bit", t, tlen, &out));
	FUZZ_CHECK(out.len == 0);
	po_buf_deinit(&out);

	imap_search_header_parse(&h, t, tlen);
	FUZZ_CHECK(h.count <= IMAP_SEARCH_FIELDS_MAX);
	for (size_t i = 0; i < h.count; i++) {
		const struct imap_search_field *f = &h.fields[i];

		FUZZ_CHECK(f->name_off + f->name_len <= f->value_off);
		FUZZ_CHECK(f->value_off + f->value_len <= h.buf.len);
		FUZZ_CHECK(memchr(h.buf.data + f->name_off, ':', f->name_len) ==
		           NULL);
		FUZZ_CHECK(memchr(h.buf.data + f->name_off, '\n',
		                  f->name_len) == NULL);
	}
	/* Parsing again replaces what was there. */
	imap_search_header_parse(&h, t, tlen);
	FUZZ_CHECK(h.count <= IMAP_SEARCH_FIELDS_MAX);
	imap_search_header_deinit(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t alen = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *pat, *text;
	size_t plen, tlen;
	struct fuzz_imap_parts ps;
	struct imap_arena arena;
	struct imap_arg *args;
	size_t count, lits;
	const char *err = NULL;

	if (nul != NULL) {
		const uint8_t *rest = nul + 1;
		size_t rlen = size - alen - 1;
		const uint8_t *nul2 = memchr(rest, '\0', rlen);

		pat = rest;
		plen = nul2 != NULL ? (size_t)(nul2 - rest) : rlen;
		text = nul2 != NULL ? nul2 + 1 : rest + rlen;
		tlen = nul2 != NULL ? rlen - plen - 1 : 0;
	} else {
		pat = data;
		plen = size / 2;
		text = data + plen;
		tlen = size - plen;
	}

	fuzz_imap_split(data, alen, &ps);
	imap_arena_init(&arena);
	if (imap_parse_args(&(struct imap_input){ps.p, ps.n}, &arena, &args,
	                    &count, &lits, &err) == 0) {
		struct imap_search_program *prog = NULL;

		err = NULL;
		if (imap_search_parse(&arena, args, &prog, &err) == 0)
			check_program(prog, data, size, text, tlen);
		else
			FUZZ_CHECK(err != NULL);
	}
	check_matcher(&arena, pat, plen, text, tlen);
	check_decoders(text, tlen);
	imap_arena_deinit(&arena);
	fuzz_imap_parts_free(&ps);
	return 0;
}
