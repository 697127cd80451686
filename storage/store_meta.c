/*
 * The MIME metadata of a message (schema version 2): computed once, when
 * the message is stored, from the bytes as stored (CRLF), so that IMAP
 * answers ENVELOPE, BODY, BODYSTRUCTURE and BODY[section] without parsing
 * the message again (RFC 9051 §6.4.5, §7.5.2).
 *
 * The part table is a compact serialization of the mime_part tree in
 * preorder, one record per part:
 *
 *   varint hdr_off, hdr_len, body_off, body_len
 *   varint descendants (parts below it), children
 *   byte   flags (PART_MULTIPART, PART_MESSAGE)
 *   string encoding, type, subtype (a length byte, then the bytes)
 *
 * preceded by a varint record count.  A part's first child is the next
 * record; the next sibling is found by skipping the descendants.  Varints
 * are little-endian base 128.
 */
#include "store_private.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "util.h"

const char store__meta_insert_sql[] =
        "INSERT INTO mime_meta (message_id, envelope, body, bodystructure,"
        " parts) VALUES (?1, ?2, ?3, ?4, ?5)";

enum {
	PART_MULTIPART = 1u << 0,
	/* message/rfc822 or message/global with an encapsulated message (the
	 * one child). */
	PART_MESSAGE = 1u << 1,
};

/* More records than a tree from mime_parse can have is a corrupt table. */
#define PARTS_DECODE_MAX (2 * MIME_PARTS_MAX + 16)

/* ---- Dates (RFC 5322 §3.3, §4.3) ---- */

struct lex {
	const char *p, *end;
};

static void skip(struct lex *l)
{
	l->p = mime__skip_cfws(l->p, l->end);
}

/* Up to max digits as a number; the count of digits read in *n_r. */
static bool lex_num(struct lex *l, int max, int *v_r, int *n_r)
{
	int v = 0, n = 0;

	while (l->p < l->end && isdigit((unsigned char)*l->p) && n < max) {
		v = v * 10 + (*l->p - '0');
		l->p++;
		n++;
	}
	if (n == 0 ||
	    (l->p < l->end && isdigit((unsigned char)*l->p) && n == max))
		return false;
	*v_r = v;
	if (n_r != NULL)
		*n_r = n;
	return true;
}

/* A run of letters, at most cap - 1 kept (lower-cased) in out. */
static size_t lex_word(struct lex *l, char *out, size_t cap)
{
	size_t n = 0;

	while (l->p < l->end && isalpha((unsigned char)*l->p)) {
		if (n + 1 < cap)
			out[n] = (char)tolower((unsigned char)*l->p);
		n++;
		l->p++;
	}
	out[n < cap ? n : cap - 1] = '\0';
	return n;
}

static bool lex_char(struct lex *l, char c)
{
	skip(l);
	if (l->p < l->end && *l->p == c) {
		l->p++;
		return true;
	}
	return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
	                           31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Offset in minutes east of UTC of an obsolete zone name (RFC 5322
 * §4.3); military and unknown zones are "-0000", no offset.  */
static int obs_zone(const char *z)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
	        {"ut", 0},        {"gmt", 0},       {"est", -5 * 60},
	        {"edt", -4 * 60}, {"cst", -6 * 60}, {"cdt", -5 * 60},
	        {"mst", -7 * 60}, {"mdt", -6 * 60}, {"pst", -8 * 60},
	        {"pdt", -7 * 60},
	};

	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		if (strcmp(z, zones[i].name) == 0)
			return zones[i].minutes;
	}
	return 0;
}

int64_t store__parse_date(const char *s, size_t len)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const char days[] = "montuewedthufrisatsun";
	struct lex l = {s, s + len};
	char word[16];
	int day, month = 0, year, ny, hour, min, sec = 0, zone = 0, v, nd;
	const char *m;

	skip(&l);
	/* [ day-of-week "," ] */
	if (l.p < l.end && isalpha((unsigned char)*l.p)) {
		if (lex_word(&l, word, sizeof word) < 3)
			return 0;
		word[3] = '\0';
		m = strstr(days, word);
		if (m == NULL || (m - days) % 3 != 0)
			return 0;
		(void)lex_char(&l, ',');
	}
	skip(&l);
	if (!lex_num(&l, 2, &day, NULL))
		return 0;
	skip(&l);
	if (lex_word(&l, word, sizeof word) < 3)
		return 0;
	word[3] = '\0';
	m = strstr(months, word);
	if (m == NULL || (m - months) % 3 != 0)
		return 0;
	month = (int)((m - months) / 3) + 1;
	skip(&l);
	if (!lex_num(&l, 4, &year, &ny)) {
		/* years past 9999 are not dates we can keep */
		return 0;
	}
	/* RFC 5322 §4.3: two digits are 1950..2049, three add 1900. */
	if (ny == 2)
		year += year < 50 ? 2000 : 1900;
	else if (ny == 3)
		year += 1900;
	skip(&l);
	if (!lex_num(&l, 2, &hour, NULL) || !lex_char(&l, ':'))
		return 0;
	skip(&l);
	if (!lex_num(&l, 2, &min, NULL))
		return 0;
	if (lex_char(&l, ':')) {
		skip(&l);
		if (!lex_num(&l, 2, &sec, NULL))
			return 0;
	}
	skip(&l);
	if (l.p < l.end && (*l.p == '+' || *l.p == '-')) {
		bool neg = *l.p == '-';

		l.p++;
		if (!lex_num(&l, 4, &v, &nd) || nd != 4 || v % 100 > 59)
			return 0;
		zone = (v / 100) * 60 + v % 100;
		if (neg)
			zone = -zone;
	} else if (l.p < l.end && isalpha((unsigned char)*l.p)) {
		lex_word(&l, word, sizeof word);
		zone = obs_zone(word);
	}
	/* A missing zone is taken as UTC (there is nothing better). */
	if (year < 1900 || month < 1 || day < 1 ||
	    day > month_days(year, month) || hour > 23 || min > 59 || sec > 60)
		return 0;
	return days_from_civil(year, month, day) * 86400 + hour * 3600 +
	       min * 60 + sec - (int64_t)zone * 60;
}

/* ---- Building the metadata ---- */

static void put_varint(struct po_buf *b, uint64_t v)
{
	unsigned char c;

	do {
		c = v & 0x7f;
		v >>= 7;
		if (v != 0)
			c |= 0x80;
		po_buf_add(b, &c, 1);
	} while (v != 0);
}

static void put_str(struct po_buf *b, const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;
	unsigned char c;

	if (n > max)
		n = max;
	c = (unsigned char)n;
	po_buf_add(b, &c, 1);
	po_buf_add(b, s, n);
}

static bool is_message(const struct mime_part *p)
{
	return p->type != NULL && p->subtype != NULL &&
	       strcmp(p->type, "message") == 0 &&
	       (strcmp(p->subtype, "rfc822") == 0 ||
	        strcmp(p->subtype, "global") == 0) &&
	       p->child_count == 1;
}

static bool is_multipart(const struct mime_part *p)
{
	return p->type != NULL && strcmp(p->type, "multipart") == 0 &&
	       p->child_count > 0;
}

static void put_part(struct po_buf *b, const struct mime_part *p)
{
	unsigned char flags = 0;

	put_varint(b, p->hdr_off);
	put_varint(b, p->hdr_len);
	put_varint(b, p->body_off);
	put_varint(b, p->body_len);
	put_varint(b, mime_part_count(p) - 1);
	put_varint(b, p->child_count);
	if (is_multipart(p))
		flags |= PART_MULTIPART;
	if (is_message(p))
		flags |= PART_MESSAGE;
	po_buf_add(b, &flags, 1);
	put_str(b, p->encoding != NULL ? p->encoding : "7bit", 31);
	put_str(b, p->type, 63);
	put_str(b, p->subtype, 63);
	for (size_t i = 0; i < p->child_count; i++)
		put_part(b, p->children[i]);
}

void store__meta_build(const char *msg, size_t len, struct store_meta *m)
{
	struct mime_part *root = NULL;

	(void)mime_parse(msg, len, &root);
	mime_write_envelope(m->envelope, root->env);
	mime_write_bodystructure(m->body, root, false);
	mime_write_bodystructure(m->bodystructure, root, true);
	put_varint(m->parts, mime_part_count(root));
	put_part(m->parts, root);
	m->hdr_len = root->hdr_len;
	m->sent_date = root->env != NULL && root->env->date != NULL
	                       ? store__parse_date(root->env->date,
	                                           strlen(root->env->date))
	                       : 0;
	mime_free(&root);
}

int store__meta_insert(sqlite3_stmt *st, int64_t rowid,
                       const struct store_meta *m)
{
	int rc;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_int64(st, 1, rowid);
	sqlite3_bind_blob(st, 2, m->envelope->data, (int)m->envelope->len,
	                  SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, m->body->data, (int)m->body->len,
	                  SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, m->bodystructure->data,
	                  (int)m->bodystructure->len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, m->parts->data, (int)m->parts->len,
	                  SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- Reading it back ---- */

int store_msg_meta(struct store_account *a, int64_t mailbox_id, uint32_t uid,
                   enum store_meta_kind kind, struct po_buf *out)
{
	sqlite3_stmt *st;
	int col, rc, ret = STORE_OK;

	switch (kind) {
	case STORE_META_ENVELOPE:
		col = 0;
		break;
	case STORE_META_BODY:
		col = 1;
		break;
	case STORE_META_BODYSTRUCTURE:
		col = 2;
		break;
	default:
		return STORE_E_INVALID;
	}
	store__blob_release(a);
	st = store__stmt(a, STMT_MSG_META);
	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, col);
		int n = sqlite3_column_bytes(st, col);

		if (n > 0 && po_buf_try_add(out, p, (size_t)n) < 0)
			ret = STORE_E_TEMP;
	} else {
		ret = rc == SQLITE_DONE ? STORE_E_EXPUNGED : store__error(rc);
	}
	sqlite3_reset(st);
	return ret;
}

struct dpart {
	uint64_t hdr_off, hdr_len, body_off, body_len;
	uint64_t descendants, children;
	unsigned flags;
	char encoding[32], type[64], subtype[64];
};

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t get_varint(struct reader *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		v |= (uint64_t)(*r->p & 0x7f) << shift;
		if ((*r->p++ & 0x80) == 0)
			return v;
	}
	r->bad = true;
	return 0;
}

static void get_str(struct reader *r, char *out, size_t cap)
{
	size_t n;

	out[0] = '\0';
	if (r->p >= r->end) {
		r->bad = true;
		return;
	}
	n = *r->p++;
	if (n >= cap || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return;
	}
	memcpy(out, r->p, n);
	out[n] = '\0';
	r->p += n;
}

/* Decode a part table; NULL if it is malformed. */
static struct dpart *decode_parts(const void *blob, size_t len, size_t *n_r)
{
	struct reader r = {blob, (const unsigned char *)blob + len, false};
	uint64_t n = get_varint(&r);
	struct dpart *parts;

	if (r.bad || n == 0 || n > PARTS_DECODE_MAX)
		return NULL;
	parts = xcalloc((size_t)n, sizeof *parts);
	for (size_t i = 0; i < n && !r.bad; i++) {
		struct dpart *d = &parts[i];

		d->hdr_off = get_varint(&r);
		d->hdr_len = get_varint(&r);
		d->body_off = get_varint(&r);
		d->body_len = get_varint(&r);
		d->descendants = get_varint(&r);
		d->children = get_varint(&r);
		if (r.p >= r.end) {
			r.bad = true;
			break;
		}
		d->flags = *r.p++;
		get_str(&r, d->encoding, sizeof d->encoding);
		get_str(&r, d->type, sizeof d->type);
		get_str(&r, d->subtype, sizeof d->subtype);
		if (d->descendants >= n - i || d->children > d->descendants)
			r.bad = true;
	}
	if (r.bad) {
		free(parts);
		return NULL;
	}
	*n_r = (size_t)n;
	return parts;
}

/* The index of the k-th (1-based) child of part i, or -1. */
static long child_of(const struct dpart *parts, size_t n, size_t i, uint32_t k)
{
	size_t j = i + 1;

	if (k == 0 || k > parts[i].children)
		return -1;
	for (uint32_t c = 1; c < k; c++) {
		j += 1 + parts[j].descendants;
		if (j >= n)
			return -1;
	}
	return j < n ? (long)j : -1;
}

/*
 * Walk path (store.h): at each step the current node is either "a
 * message" (the root, or the child of a message/rfc822 part), whose body
 * parts are numbered, or a part reached by number, which has sub-parts
 * only if it is a multipart or an encapsulating message part.
 */
static long resolve(const struct dpart *parts, size_t n, const uint32_t *path,
                    size_t depth)
{
	size_t cur = 0;

	for (size_t d = 0; d < depth; d++) {
		size_t container;
		long next;

		if (d == 0) {
			container = 0;
		} else if (parts[cur].flags & PART_MESSAGE) {
			container = cur + 1;
		} else if (parts[cur].flags & PART_MULTIPART) {
			container = cur;
		} else {
			return -1;
		}
		if (container >= n)
			return -1;
		if (parts[container].flags & PART_MULTIPART) {
			next = child_of(parts, n, container, path[d]);
			if (next < 0)
				return -1;
			cur = (size_t)next;
		} else {
			/* A message with a non-multipart body: "1" is the
			 * body itself (RFC 9051 §6.4.5). */
			if (path[d] != 1)
				return -1;
			cur = container;
		}
	}
	return (long)cur;
}

int store_section_find(struct store_account *a, int64_t mailbox_id,
                       uint32_t uid, const uint32_t *path, size_t depth,
                       struct store_section *sec_r)
{
	struct dpart *parts = NULL, *p;
	sqlite3_stmt *st;
	size_t n = 0;
	long idx;
	int rc, ret;

	if (depth > 0 && path == NULL)
		return STORE_E_INVALID;
	store__blob_release(a);
	st = store__stmt(a, STMT_MSG_PARTS);
	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		parts = decode_parts(sqlite3_column_blob(st, 0),
		                     (size_t)sqlite3_column_bytes(st, 0), &n);
		ret = parts != NULL ? STORE_OK : STORE_E_TEMP;
	} else {
		ret = rc == SQLITE_DONE ? STORE_E_EXPUNGED : store__error(rc);
	}
	sqlite3_reset(st);
	if (ret != STORE_OK)
		return ret;
	/* Deeper than any tree we store cannot name a part. */
	idx = depth > MIME_DEPTH_MAX * 2 + 2 ? -1
	                                     : resolve(parts, n, path, depth);
	if (idx < 0) {
		free(parts);
		return STORE_E_NOTFOUND;
	}
	p = &parts[idx];
	memset(sec_r, 0, sizeof *sec_r);
	sec_r->mime_off = p->hdr_off;
	sec_r->mime_len = p->hdr_len;
	sec_r->body_off = p->body_off;
	sec_r->body_len = p->body_len;
	if (depth == 0) {
		sec_r->is_message = true;
		sec_r->msg_hdr_off = p->hdr_off;
		sec_r->msg_hdr_len = p->hdr_len;
		sec_r->msg_text_off = p->body_off;
		sec_r->msg_text_len = p->body_len;
	} else if ((p->flags & PART_MESSAGE) && (size_t)idx + 1 < n) {
		sec_r->is_message = true;
		sec_r->msg_hdr_off = parts[idx + 1].hdr_off;
		sec_r->msg_hdr_len = parts[idx + 1].hdr_len;
		sec_r->msg_text_off = parts[idx + 1].body_off;
		sec_r->msg_text_len = parts[idx + 1].body_len;
	}
	sec_r->is_multipart = (p->flags & PART_MULTIPART) != 0;
	memcpy(sec_r->encoding, p->encoding, sizeof sec_r->encoding);
	memcpy(sec_r->type, p->type, sizeof sec_r->type);
	memcpy(sec_r->subtype, p->subtype, sizeof sec_r->subtype);
	free(parts);
	return STORE_OK;
}
