/*
 * SEARCH matching, without the store: the substring matcher (RFC 9051
 * §6.4.4: "a message matches the key if the string is a substring of the
 * associated text ... case insensitive for characters within the ASCII
 * range"), header fields unfolded (RFC 5322 §2.2.3) and their encoded
 * words decoded (RFC 2047; RFC 9051 §6.4.4 says [MIME-HDRS] strings MUST be
 * decoded before comparing), body transfer decoding (RFC 2045 §6.7, §6.8),
 * and the evaluation of a key tree on one message's listing and content.
 *
 * The search string is never interpreted: no wildcards, no escapes, no SQL.
 * Case folding is ASCII only; 8-bit bytes (UTF-8) compare exactly.
 */
#include "imap_private.h"
#include "imap_search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the matcher -------------------------------------------------------- */

static unsigned char fold(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

void imap_search_matcher_init(struct imap_search_matcher *m,
                              struct imap_arena *arena, const char *pat,
                              size_t len)
{
	size_t k = 0;

	m->len = len;
	m->pat = imap_arena_alloc(arena, len + 1);
	m->fail = imap_arena_alloc(arena, (len + 1) * sizeof(m->fail[0]));
	for (size_t i = 0; i < len; i++)
		m->pat[i] = fold((unsigned char)pat[i]);
	/* fail[i]: length of the longest proper prefix of pat[0..i] that is
	 * also its suffix (Knuth-Morris-Pratt). */
	for (size_t i = 1; i < len; i++) {
		while (k > 0 && m->pat[i] != m->pat[k])
			k = m->fail[k - 1];
		if (m->pat[i] == m->pat[k])
			k++;
		m->fail[i] = k;
	}
	imap_search_matcher_reset(m);
}

void imap_search_matcher_reset(struct imap_search_matcher *m)
{
	m->state = 0;
	m->matched = m->len == 0;
}

bool imap_search_matcher_feed(struct imap_search_matcher *m, const void *data,
                              size_t len)
{
	const unsigned char *p = data;
	size_t st = m->state;

	if (m->matched)
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = fold(p[i]);

		while (st > 0 && m->pat[st] != ch)
			st = m->fail[st - 1];
		if (m->pat[st] == ch && ++st == m->len) {
			m->matched = true;
			return true;
		}
	}
	m->state = st;
	return false;
}

bool imap_search_matcher_find(struct imap_search_matcher *m, const void *text,
                              size_t len)
{
	imap_search_matcher_reset(m);
	return imap_search_matcher_feed(m, text, len);
}

/* ---- RFC 2047 encoded words --------------------------------------------- */

/* Longest encoded word we decode (RFC 2047 §2 says 75; be lenient). */
#define WORD_MAX 1024

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = fold(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored,
 * decoding stops at "=". */
static void b64_decode(const char *in, size_t len, struct po_buf *out)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		int v;

		if (in[i] == '=')
			break;
		v = b64val((unsigned char)in[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			char ch = (char)((acc >> (bits - 8)) & 0xff);

			bits -= 8;
			po_buf_add(out, &ch, 1);
		}
	}
}

/* Q (RFC 2047 §4.2) when q_underscore, else quoted-printable (RFC 2045
 * §6.7: "=" at a line end is a soft line break).  A malformed "=" escape
 * is kept as written. */
static void qp_decode(const char *in, size_t len, bool q_underscore,
                      struct po_buf *out)
{
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '_' && q_underscore) {
			ch = ' ';
		} else if (ch == '=' && i + 2 < len &&
		           hexval((unsigned char)in[i + 1]) >= 0 &&
		           hexval((unsigned char)in[i + 2]) >= 0) {
			ch = (char)(hexval((unsigned char)in[i + 1]) * 16 +
			            hexval((unsigned char)in[i + 2]));
			i += 2;
		} else if (ch == '=' && !q_underscore) {
			size_t j = i + 1;

			/* Soft line break: "=" then white space to CRLF. */
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r')
				j++;
			if (j < len && in[j] == '\n') {
				i = j;
				continue;
			}
		}
		po_buf_add(out, &ch, 1);
	}
}

bool imap_search_decode_body(const char *encoding, const char *in, size_t len,
                             struct po_buf *out)
{
	if (strcasecmp(encoding, "base64") == 0)
		b64_decode(in, len, out);
	else if (strcasecmp(encoding, "quoted-printable") == 0)
		qp_decode(in, len, false, out);
	else
		return false;
	return true;
}

static bool charset_is_latin1(const char *cs, size_t len)
{
	static const char *const names[] = {"iso-8859-1", "latin1",
	                                    "iso8859-1",  "windows-1252",
	                                    "cp1252",     "iso-8859-15"};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strlen(names[i]) == len &&
		    strncasecmp(names[i], cs, len) == 0)
			return true;
	}
	return false;
}

/*
 * The encoded word at in[0..len) ("=?" is at in[0]): when it is well
 * formed, decode it to out (UTF-8 when the charset is known), set
 * *wlen_r to its length and return true.
 */
static bool decode_word(const char *in, size_t len, size_t *wlen_r,
                        struct po_buf *out)
{
	size_t cs_end, cs_len, text_start, text_end, i;
	struct po_buf raw = PO_BUF_INIT;
	char enc;

	if (len > WORD_MAX)
		len = WORD_MAX;
	for (cs_end = 2; cs_end < len && in[cs_end] != '?'; cs_end++) {
		if (in[cs_end] == ' ' || in[cs_end] == '\t' ||
		    in[cs_end] == '=')
			return false;
	}
	if (cs_end == 2 || cs_end + 3 >= len || in[cs_end + 2] != '?')
		return false;
	enc = (char)fold((unsigned char)in[cs_end + 1]);
	if (enc != 'b' && enc != 'q')
		return false;
	text_start = cs_end + 3;
	for (i = text_start; i + 1 < len; i++) {
		if (in[i] == ' ' || in[i] == '\t')
			return false;
		if (in[i] == '?' && in[i + 1] == '=')
			break;
	}
	if (i + 1 >= len)
		return false;
	text_end = i;
	/* RFC 2231 §5: "charset*language". */
	for (cs_len = 0; 2 + cs_len < cs_end && in[2 + cs_len] != '*';)
		cs_len++;
	if (enc == 'b')
		b64_decode(in + text_start, text_end - text_start, &raw);
	else
		qp_decode(in + text_start, text_end - text_start, true, &raw);
	if (charset_is_latin1(in + 2, cs_len)) {
		for (i = 0; i < raw.len; i++) {
			unsigned char ch = (unsigned char)raw.data[i];
			char u[2] = {(char)(0xc0 | (ch >> 6)),
			             (char)(0x80 | (ch & 0x3f))};

			if (ch < 0x80)
				po_buf_add(out, &raw.data[i], 1);
			else
				po_buf_add(out, u, 2);
		}
	} else if (raw.len > 0) {
		po_buf_add(out, raw.data, raw.len);
	}
	po_buf_deinit(&raw);
	*wlen_r = text_end + 2;
	return true;
}

static bool all_wsp(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	}
	return true;
}

void imap_search_decode_header(const char *in, size_t len, struct po_buf *out)
{
	size_t i = 0, j, wlen;
	bool last_word = false;

	while (i < len) {
		for (j = i; j + 1 < len; j++) {
			if (in[j] == '=' && in[j + 1] == '?')
				break;
		}
		if (j + 1 >= len) {
			po_buf_add(out, in + i, len - i);
			return;
		}
		/* RFC 2047 §6.2: white space between adjacent encoded words
		 * is not displayed. */
		if (!(last_word && all_wsp(in + i, j - i)))
			po_buf_add(out, in + i, j - i);
		if (decode_word(in + j, len - j, &wlen, out)) {
			i = j + wlen;
			last_word = true;
		} else {
			po_buf_add(out, in + j, 1);
			i = j + 1;
			last_word = false;
		}
	}
}

/* ---- header fields ------------------------------------------------------ */

static void field_add(struct imap_search_header *h, const char *name,
                      size_t name_len, const struct po_buf *raw)
{
	struct imap_search_field *f;
	size_t vlen = raw->len;

	if (h->count >= IMAP_SEARCH_FIELDS_MAX)
		return;
	while (vlen > 0 &&
	       (raw->data[vlen - 1] == ' ' || raw->data[vlen - 1] == '\t'))
		vlen--;
	if (h->count == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->fields = xrealloc(h->fields, h->cap * sizeof(*h->fields));
	}
	f = &h->fields[h->count++];
	f->name_off = h->buf.len;
	f->name_len = name_len;
	po_buf_add(&h->buf, name, name_len);
	f->value_off = h->buf.len;
	imap_search_decode_header(raw->data, vlen, &h->buf);
	f->value_len = h->buf.len - f->value_off;
}

void imap_search_header_parse(struct imap_search_header *h, const char *hdr,
                              size_t len)
{
	struct po_buf raw = PO_BUF_INIT;
	const char *name = NULL;
	size_t name_len = 0, i = 0;

	po_buf_reset(&h->buf);
	h->count = 0;
	while (i < len) {
		const char *line = hdr + i, *nl = memchr(line, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - line) : len - i;
		const char *colon;

		i += ll + (nl != NULL);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll > 0 && (line[0] == ' ' || line[0] == '\t')) {
			/* Continuation: unfold by dropping the line break. */
			if (name != NULL)
				po_buf_add(&raw, line, ll);
			continue;
		}
		if (name != NULL)
			field_add(h, name, name_len, &raw);
		name = NULL;
		if (ll == 0)
			break; /* the blank line ending the header */
		colon = memchr(line, ':', ll);
		if (colon == NULL)
			continue;
		name = line;
		name_len = (size_t)(colon - line);
		while (name_len > 0 && (name[name_len - 1] == ' ' ||
		                        name[name_len - 1] == '\t'))
			name_len--;
		po_buf_reset(&raw);
		colon++;
		while (colon < line + ll && (*colon == ' ' || *colon == '\t'))
			colon++;
		po_buf_add(&raw, colon, (size_t)(line + ll - colon));
	}
	if (name != NULL)
		field_add(h, name, name_len, &raw);
	po_buf_deinit(&raw);
}

void imap_search_header_deinit(struct imap_search_header *h)
{
	po_buf_deinit(&h->buf);
	free(h->fields);
	h->fields = NULL;
	h->count = h->cap = 0;
}

/* ---- evaluation ---------------------------------------------------------- */

static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

static bool uid_saved(const struct imap_search_msg *msg, uint32_t uid)
{
	size_t lo = 0, hi = msg->n_saved;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (msg->saved[mid] == uid)
			return true;
		if (msg->saved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool header_match(struct imap_search_key *k,
                         const struct imap_search_header *h)
{
	size_t nlen = strlen(k->name);

	for (size_t i = 0; i < h->count; i++) {
		const struct imap_search_field *f = &h->fields[i];

		if (f->name_len != nlen ||
		    strncasecmp(h->buf.data + f->name_off, k->name, nlen) != 0)
			continue;
		if (imap_search_matcher_find(&k->m, h->buf.data + f->value_off,
		                             f->value_len))
			return true;
	}
	return false;
}

/* TEXT over the header: each field as "Name: value". */
static bool text_header_match(struct imap_search_key *k,
                              const struct imap_search_header *h)
{
	for (size_t i = 0; i < h->count; i++) {
		const struct imap_search_field *f = &h->fields[i];

		imap_search_matcher_reset(&k->m);
		imap_search_matcher_feed(&k->m, h->buf.data + f->name_off,
		                         f->name_len);
		imap_search_matcher_feed(&k->m, ": ", 2);
		if (imap_search_matcher_feed(&k->m, h->buf.data + f->value_off,
		                             f->value_len))
			return true;
	}
	return false;
}

static enum imap_search_tri tri(bool b)
{
	return b ? IMAP_ST_TRUE : IMAP_ST_FALSE;
}

static enum imap_search_tri eval_list(struct imap_search_key *k,
                                      const struct imap_search_msg *msg)
{
	/* AND: any false decides; OR: any true decides. */
	enum imap_search_tri decide =
	        k->kind == IMAP_SK_AND ? IMAP_ST_FALSE : IMAP_ST_TRUE;
	enum imap_search_tri res =
	        k->kind == IMAP_SK_AND ? IMAP_ST_TRUE : IMAP_ST_FALSE;

	for (struct imap_search_key *c = k->children; c != NULL; c = c->next) {
		enum imap_search_tri r = imap_search_eval(c, msg);

		if (r == decide)
			return r;
		if (r == IMAP_ST_UNKNOWN)
			res = IMAP_ST_UNKNOWN;
	}
	return res;
}

static enum imap_search_tri eval_content(struct imap_search_key *k,
                                         const struct imap_search_msg *msg)
{
	if (!msg->full)
		return IMAP_ST_UNKNOWN;
	switch (k->kind) {
	case IMAP_SK_HEADER:
		return tri(msg->hdr != NULL && header_match(k, msg->hdr));
	case IMAP_SK_TEXT:
		if (msg->hdr != NULL && text_header_match(k, msg->hdr))
			return IMAP_ST_TRUE;
		/* TEXT is the header or the body: go on to the body. */
		__attribute__((fallthrough));
	case IMAP_SK_BODY:
		return tri(msg->body_find != NULL &&
		           msg->body_find(msg->ctx, &k->m));
	default:
		return IMAP_ST_FALSE;
	}
}

enum imap_search_tri imap_search_eval(struct imap_search_key *k,
                                      const struct imap_search_msg *msg)
{
	const struct store_msg_ext *x = msg->x;
	int64_t day;

	switch (k->kind) {
	case IMAP_SK_ALL:
		return IMAP_ST_TRUE;
	case IMAP_SK_NONE:
		return IMAP_ST_FALSE;
	case IMAP_SK_AND:
	case IMAP_SK_OR:
		return eval_list(k, msg);
	case IMAP_SK_NOT: {
		enum imap_search_tri r = imap_search_eval(k->children, msg);

		return r == IMAP_ST_UNKNOWN ? r : tri(r == IMAP_ST_FALSE);
	}
	case IMAP_SK_FLAG:
		return tri(((x->m.flags & k->flag) != 0) != k->negate);
	case IMAP_SK_KEYWORD:
		/* kw_mask 0: a keyword the store has never seen. */
		return tri(((x->keywords & k->kw_mask) != 0) != k->negate);
	case IMAP_SK_SEQSET:
		return tri(
		        imap_seqset_contains(&k->set, msg->seq, msg->max_seq) ||
		        (k->set.searchres && uid_saved(msg, x->m.uid)));
	case IMAP_SK_UIDSET:
		return tri(
		        imap_seqset_contains(&k->set, x->m.uid, msg->max_uid) ||
		        (k->set.searchres && uid_saved(msg, x->m.uid)));
	case IMAP_SK_BEFORE:
		return tri(day_of(x->m.internal_date) < k->day);
	case IMAP_SK_ON:
		return tri(day_of(x->m.internal_date) == k->day);
	case IMAP_SK_SINCE:
		return tri(day_of(x->m.internal_date) >= k->day);
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		/* No (valid) Date: field: the SENT keys do not match. */
		if (x->sent_date == 0)
			return IMAP_ST_FALSE;
		day = day_of(x->sent_date);
		if (k->kind == IMAP_SK_SENTBEFORE)
			return tri(day < k->day);
		if (k->kind == IMAP_SK_SENTON)
			return tri(day == k->day);
		return tri(day >= k->day);
	case IMAP_SK_LARGER:
		return tri(x->m.size > k->num);
	case IMAP_SK_SMALLER:
		return tri(x->m.size < k->num);
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return eval_content(k, msg);
	}
	return IMAP_ST_FALSE;
}
