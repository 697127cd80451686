/*
 * FETCH and UID FETCH, the run (RFC 9051 §6.4.5, §6.4.8, §7.5.2; RFC 3501
 * §6.4.5; RFC 3516 BINARY; RFC 5530 EXPUNGEISSUED).  The parser is in
 * imap_fetch_parse.c, the decoders in imap_decode.c.
 *
 * The messages are taken in batches of consecutive UIDs: one
 * store_list_ext per batch gives FLAGS, INTERNALDATE, RFC822.SIZE, UID and
 * the header length, so "FETCH 1:* (UID FLAGS)" costs a statement per
 * thousand messages.  A batch whose items set \Seen gets it set first, in
 * one store_set_flags.  Body sections are streamed: "{N}\r\n" and then the
 * bytes in pieces read with store_read, stopping whenever the output holds
 * IMAP_OUT_CHUNK bytes and resuming at the same byte on the next call, so
 * a 50 MB message or a BODY.PEEK[] of a whole mailbox never sits in
 * memory.  Only HEADER.FIELDS subsets and BINARY decodings are built in
 * memory (one part of one message, bounded by the message size limit).
 */
#include "imap_fetch.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_private.h"

/* Messages per store_list_ext, and the widest UID range one may span (so
 * a sparse set like "1,100000" does not list everything in between). */
#define FETCH_BATCH_MAX 1024
#define FETCH_BATCH_SPAN 4096
/* Bytes per store_read. */
#define FETCH_READ_CHUNK (64u * 1024u)
/* Not a store error: the command fails with f->fail_text. */
#define FETCH_E_FAIL (-100)

/* The sequence number of uid in the selected map, or 0. */
static uint32_t seq_of(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->sel.count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->sel.uids[mid] == uid)
			return (uint32_t)(mid + 1);
		if (s->sel.uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The batch's listing of uid, or NULL when it is gone. */
static struct store_msg_ext *batch_find(struct imap_fetch *f, uint32_t uid)
{
	size_t lo = 0, hi = f->n_batch;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->batch[mid].m.uid == uid)
			return &f->batch[mid];
		if (f->batch[mid].m.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The index of uid in f->uids[batch_lo, batch_hi). */
static size_t uid_index(const struct imap_fetch *f, uint32_t uid)
{
	size_t lo = f->batch_lo, hi = f->batch_hi;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * RFC 9051 §6.4.5: BODY[...] (and BINARY[...], RFC822, RFC822.TEXT) set
 * \Seen; "if this causes the flags to change, they SHOULD be included as
 * part of the FETCH responses".  Done for the whole batch before any of
 * its responses is written, in one transaction.
 */
static int mark_seen(struct imap_session *s, struct imap_fetch *f)
{
	size_t n = f->batch_hi - f->batch_lo, k = 0, n_res = 0;
	uint32_t *todo = xmalloc(n * sizeof(*todo));
	struct store_flag_result *res = NULL;
	uint64_t new_modseq = 0;
	int rc;

	for (size_t i = f->batch_lo; i < f->batch_hi; i++) {
		const struct store_msg_ext *m = batch_find(f, f->uids[i]);

		if (m != NULL && !(m->m.flags & STORE_F_SEEN))
			todo[k++] = f->uids[i];
	}
	rc = k == 0 ? STORE_OK
	            : store_set_flags(s->acct, s->sel.id, todo, k,
	                              STORE_FLAGS_ADD, STORE_F_SEEN, 0, 0, &res,
	                              &n_res);
	free(todo);
	for (size_t i = 0; rc == STORE_OK && i < n_res; i++) {
		struct store_msg_ext *m = batch_find(f, res[i].uid);

		if (res[i].changed)
			new_modseq = res[i].modseq;
		if (m == NULL)
			continue;
		m->m.flags = res[i].flags;
		m->keywords = res[i].keywords;
		m->m.modseq = res[i].modseq;
		if (res[i].changed)
			f->seen_changed[uid_index(f, res[i].uid) -
			                f->batch_lo] = true;
	}
	free(res);
	/* The FETCH responses tell the client of this change, so the
	 * imap_sync after the command need not repeat it: when its MODSEQ
	 * directly follows what the client knew, nothing else happened in
	 * between (STORE does the same, imap_cmd_store.c). */
	if (new_modseq != 0 && new_modseq == s->sel.modseq + 1)
		s->sel.modseq = new_modseq;
	return rc;
}

/* List the batch starting at f->pos.msg. */
static int load_batch(struct imap_session *s, struct imap_fetch *f)
{
	size_t lo = f->pos.msg, hi = lo + 1;
	int rc;

	while (hi < f->n_uids && hi - lo < FETCH_BATCH_MAX &&
	       f->uids[hi] - f->uids[lo] < FETCH_BATCH_SPAN)
		hi++;
	free(f->batch);
	f->batch = NULL;
	f->n_batch = 0;
	free(f->seen_changed);
	f->seen_changed = xcalloc(hi - lo, sizeof(*f->seen_changed));
	f->batch_lo = lo;
	f->batch_hi = hi;
	rc = store_list_ext(s->acct, s->sel.id, f->uids[lo], f->uids[hi - 1],
	                    &f->batch, &f->n_batch);
	if (rc == STORE_OK && f->sets_seen && !s->sel.readonly)
		rc = mark_seen(s, f);
	return rc;
}

static void truncate_out(struct po_buf *out, size_t len)
{
	out->len = len;
	if (out->data != NULL)
		out->data[len] = '\0';
}

/* Append bytes [off, off + len) of the current message to dst. */
static int read_range(struct imap_session *s, struct imap_fetch *f,
                      uint64_t off, uint64_t len, struct po_buf *dst)
{
	while (len > 0) {
		size_t want =
		        len < FETCH_READ_CHUNK ? (size_t)len : FETCH_READ_CHUNK;
		size_t got = 0;
		int rc = store_read(s->acct, s->sel.id, f->cur->m.uid, off,
		                    f->rbuf, want, &got);

		if (rc != STORE_OK)
			return rc;
		if (got == 0)
			return STORE_E_TEMP; /* shorter than its metadata */
		if (po_buf_try_add(dst, f->rbuf, got) < 0)
			return STORE_E_TEMP;
		off += got;
		len -= got;
	}
	return STORE_OK;
}

/* Does [off, off + len) of the current message hold a NUL byte? */
static int range_has_nul(struct imap_session *s, struct imap_fetch *f,
                         uint64_t off, uint64_t len, bool *nul_r)
{
	*nul_r = false;
	while (len > 0 && !*nul_r) {
		size_t want =
		        len < FETCH_READ_CHUNK ? (size_t)len : FETCH_READ_CHUNK;
		size_t got = 0;
		int rc = store_read(s->acct, s->sel.id, f->cur->m.uid, off,
		                    f->rbuf, want, &got);

		if (rc != STORE_OK)
			return rc;
		if (got == 0)
			return STORE_E_TEMP;
		*nul_r = memchr(f->rbuf, '\0', got) != NULL;
		off += got;
		len -= got;
	}
	return STORE_OK;
}

/*
 * Write "name[<origin>] " and start the literal of total bytes at src (a
 * store offset, or an index into pos.mem when mem), cut to the item's
 * partial range.  RFC 9051 §6.4.5: a partial fetch answers with its origin
 * octet even when truncated, and one starting past the end gets "".
 */
static void begin_literal(struct imap_fetch *f,
                          const struct imap_fetch_item *it, struct po_buf *out,
                          uint64_t src, uint64_t total, bool mem, bool literal8)
{
	struct imap_fetch_pos *p = &f->pos;
	uint64_t start = 0, n = total;

	if (it->partial) {
		start = it->offset < total ? it->offset : total;
		n = total - start < it->length ? total - start : it->length;
		po_buf_printf(out, "%s<%llu> ", it->name,
		              (unsigned long long)it->offset);
	} else {
		po_buf_printf(out, "%s ", it->name);
	}
	if (n == 0) {
		po_buf_add_str(out, "\"\"");
		return;
	}
	po_buf_printf(out, "%s{%llu}\r\n", literal8 ? "~" : "",
	              (unsigned long long)n);
	p->in_literal = true;
	p->lit_mem = mem;
	p->pad = false;
	p->lit_nonul = !literal8;
	p->lit_off = src + start;
	p->lit_left = n;
}

/* "name NIL": a section the message does not have.  RFC 9051 §9
 * msg-att-static gives BODY[...] an nstring, and §4.5: NIL "represents
 * the non-existence of a particular data item that is represented as a
 * string". */
static void write_nil(const struct imap_fetch_item *it, struct po_buf *out)
{
	if (it->partial)
		po_buf_printf(out, "%s<%llu> NIL", it->name,
		              (unsigned long long)it->offset);
	else
		po_buf_printf(out, "%s NIL", it->name);
}

/* Read the header at [off, off + len), keep the fields asked for in
 * pos.mem and start sending them. */
static int send_fields(struct imap_session *s, struct imap_fetch *f,
                       const struct imap_fetch_item *it, struct po_buf *out,
                       uint64_t off, uint64_t len)
{
	struct po_buf hdr = PO_BUF_INIT;
	int rc = read_range(s, f, off, len, &hdr);

	po_buf_reset(&f->pos.mem);
	if (rc == STORE_OK &&
	    imap_header_filter(hdr.data, hdr.len, it->fields, it->n_fields,
	                       it->spec == IMAP_SPEC_FIELDS_NOT,
	                       &f->pos.mem) < 0)
		rc = STORE_E_TEMP;
	po_buf_deinit(&hdr);
	if (rc == STORE_OK)
		begin_literal(f, it, out, 0, f->pos.mem.len, true, false);
	return rc;
}

/* BODY[section]<partial>, BODY.PEEK[...], RFC822, RFC822.HEADER,
 * RFC822.TEXT. */
static int fetch_section(struct imap_session *s, struct imap_fetch *f,
                         const struct imap_fetch_item *it, struct po_buf *out)
{
	const struct store_msg_ext *m = f->cur;
	struct store_section sec = {0};
	uint64_t off, len;
	int rc;

	if (it->depth == 0) {
		/* The message itself: its header length is in the listing,
		 * no section lookup needed. */
		sec.msg_hdr_off = 0;
		sec.msg_hdr_len = m->hdr_len;
		sec.msg_text_off = m->hdr_len;
		sec.msg_text_len = m->m.size - m->hdr_len;
		sec.body_off = 0;
		sec.body_len = m->m.size;
		sec.is_message = true;
	} else {
		rc = store_section_find(s->acct, s->sel.id, m->m.uid, it->path,
		                        it->depth, &sec);
		if (rc == STORE_E_NOTFOUND) {
			write_nil(it, out);
			return STORE_OK;
		}
		if (rc != STORE_OK)
			return rc;
	}
	switch (it->spec) {
	case IMAP_SPEC_NONE:
		off = sec.body_off;
		len = sec.body_len;
		break;
	case IMAP_SPEC_MIME:
		off = sec.mime_off;
		len = sec.mime_len;
		break;
	case IMAP_SPEC_TEXT:
		off = sec.msg_text_off;
		len = sec.msg_text_len;
		break;
	default: /* HEADER, HEADER.FIELDS[.NOT] */
		off = sec.msg_hdr_off;
		len = sec.msg_hdr_len;
		break;
	}
	/* HEADER and TEXT of a part exist only for a message/rfc822 part
	 * (RFC 9051 §6.4.5.1). */
	if (it->spec != IMAP_SPEC_NONE && it->spec != IMAP_SPEC_MIME &&
	    !sec.is_message) {
		write_nil(it, out);
		return STORE_OK;
	}
	if (it->spec == IMAP_SPEC_FIELDS || it->spec == IMAP_SPEC_FIELDS_NOT)
		return send_fields(s, f, it, out, off, len);
	begin_literal(f, it, out, off, len, false, false);
	return STORE_OK;
}

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP, CTE_UNKNOWN };

static enum cte cte_of(const char *enc)
{
	if (enc[0] == '\0' || strcasecmp(enc, "7bit") == 0 ||
	    strcasecmp(enc, "8bit") == 0 || strcasecmp(enc, "binary") == 0)
		return CTE_IDENTITY;
	if (strcasecmp(enc, "base64") == 0)
		return CTE_BASE64;
	if (strcasecmp(enc, "quoted-printable") == 0)
		return CTE_QP;
	return CTE_UNKNOWN;
}

/* Decode the body at [off, off + len) by cte into pos.mem (after what is
 * there).  Decoded text gets CRLF line ends (RFC 3516 §6). */
static int decode_into_mem(struct imap_session *s, struct imap_fetch *f,
                           enum cte cte, bool text, uint64_t off, uint64_t len)
{
	struct po_buf raw = PO_BUF_INIT, dec = PO_BUF_INIT;
	int rc = read_range(s, f, off, len, &raw);

	if (rc == STORE_OK) {
		int r = cte == CTE_BASE64
		                ? imap_base64_decode(raw.data, raw.len, &dec)
		                : imap_qp_decode(raw.data, raw.len, &dec);
		if (r == 0)
			r = text ? imap_crlf_normalize(dec.data, dec.len,
			                               &f->pos.mem)
			         : po_buf_try_add(&f->pos.mem, dec.data,
			                          dec.len);
		if (r < 0)
			rc = STORE_E_TEMP;
	}
	po_buf_deinit(&raw);
	po_buf_deinit(&dec);
	return rc;
}

/* BINARY[part]<partial>, BINARY.PEEK[...] and BINARY.SIZE[part] (RFC
 * 3516, RFC 9051 §6.4.5).  BINARY[] is the message's header as it is
 * followed by its decoded body. */
static int fetch_binary(struct imap_session *s, struct imap_fetch *f,
                        const struct imap_fetch_item *it, struct po_buf *out)
{
	const struct store_msg_ext *m = f->cur;
	struct store_section sec;
	uint64_t off, len;
	enum cte cte;
	bool nul = false;
	int rc;

	rc = store_section_find(s->acct, s->sel.id, m->m.uid, it->path,
	                        it->depth, &sec);
	if (rc == STORE_E_NOTFOUND) {
		/* No such part: BINARY gets NIL as BODY does; BINARY.SIZE
		 * must be a number (RFC 9051 §9), the size of nothing. */
		if (it->kind == IMAP_FETCH_BINARY_SIZE)
			po_buf_printf(out, "%s 0", it->name);
		else
			write_nil(it, out);
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	/* RFC 9051 §6.4.5: only for leaf parts. */
	if (it->depth > 0 && (sec.is_multipart || sec.is_message)) {
		f->fail_text = "[CANNOT] BINARY is only for leaf body parts";
		return FETCH_E_FAIL;
	}
	cte = cte_of(sec.encoding);
	if (cte == CTE_UNKNOWN) {
		/* RFC 3516 §4.2, §4.3. */
		f->fail_text =
		        "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding";
		return FETCH_E_FAIL;
	}
	off = it->depth == 0 ? 0 : sec.body_off;
	len = it->depth == 0 ? m->m.size : sec.body_len;
	if (cte == CTE_IDENTITY) {
		if (it->kind == IMAP_FETCH_BINARY_SIZE) {
			po_buf_printf(out, "%s %llu", it->name,
			              (unsigned long long)len);
			return STORE_OK;
		}
		rc = range_has_nul(s, f, off, len, &nul);
		if (rc == STORE_OK)
			begin_literal(f, it, out, off, len, false, nul);
		return rc;
	}
	po_buf_reset(&f->pos.mem);
	if (it->depth == 0)
		rc = read_range(s, f, 0, m->hdr_len, &f->pos.mem);
	if (rc == STORE_OK)
		rc = decode_into_mem(s, f, cte,
		                     strcasecmp(sec.type, "text") == 0,
		                     sec.body_off, sec.body_len);
	if (rc != STORE_OK)
		return rc;
	if (it->kind == IMAP_FETCH_BINARY_SIZE) {
		po_buf_printf(out, "%s %zu", it->name, f->pos.mem.len);
		po_buf_deinit(&f->pos.mem);
		return STORE_OK;
	}
	/* RFC 3516 §4.3: literal8 only when the data holds NUL. */
	nul = memchr(f->pos.mem.data, '\0', f->pos.mem.len) != NULL;
	begin_literal(f, it, out, 0, f->pos.mem.len, true, nul);
	return STORE_OK;
}

static void write_flags(struct imap_session *s, const struct store_msg_ext *m,
                        struct po_buf *out)
{
	po_buf_add_str(out, "FLAGS ");
	imap_write_flags(out, m->m.flags, m->keywords,
	                 imap_keyword_names(s, m->keywords));
}

/* Did this FETCH set \Seen on the current message? */
static bool seen_changed(const struct imap_fetch *f)
{
	return f->seen_changed[f->pos.msg - f->batch_lo];
}

/* Item idx of the current message: f->items[idx], or after them the UID a
 * UID FETCH adds and the FLAGS that setting \Seen adds. */
static int fetch_item(struct imap_session *s, struct imap_fetch *f, size_t idx,
                      struct po_buf *out)
{
	const struct store_msg_ext *m = f->cur;
	const struct imap_fetch_item *it;
	enum imap_fetch_kind kind;

	if (idx >= f->n_items) {
		/* The UID a UID FETCH adds (RFC 9051 §6.4.8), then the FLAGS
		 * that setting \Seen adds (§6.4.5). */
		bool add = idx == f->n_items ? f->want_uid
		                             : !f->has_flags && seen_changed(f);

		if (!add)
			return STORE_OK;
		if (f->pos.any)
			po_buf_add(out, " ", 1);
		f->pos.any = true;
		if (idx == f->n_items)
			po_buf_printf(out, "UID %u", m->m.uid);
		else
			write_flags(s, m, out);
		return STORE_OK;
	}
	it = &f->items[idx];
	kind = it->kind;
	if (f->pos.any)
		po_buf_add(out, " ", 1);
	f->pos.any = true;
	switch (kind) {
	case IMAP_FETCH_FLAGS:
		write_flags(s, m, out);
		return STORE_OK;
	case IMAP_FETCH_INTERNALDATE:
		po_buf_add_str(out, "INTERNALDATE ");
		imap_write_date_time(out, m->m.internal_date);
		return STORE_OK;
	case IMAP_FETCH_RFC822_SIZE:
		po_buf_printf(out, "RFC822.SIZE %llu",
		              (unsigned long long)m->m.size);
		return STORE_OK;
	case IMAP_FETCH_UID:
		po_buf_printf(out, "UID %u", m->m.uid);
		return STORE_OK;
	case IMAP_FETCH_ENVELOPE:
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		po_buf_printf(out, "%s ", it->name);
		return store_msg_meta(
		        s->acct, s->sel.id, m->m.uid,
		        kind == IMAP_FETCH_ENVELOPE ? STORE_META_ENVELOPE
		        : kind == IMAP_FETCH_BODY   ? STORE_META_BODY
		                                    : STORE_META_BODYSTRUCTURE,
		        out);
	case IMAP_FETCH_SECTION:
		return fetch_section(s, f, it, out);
	default:
		return fetch_binary(s, f, it, out);
	}
}

/* Send what is left of the literal being streamed. */
static int stream_literal(struct imap_session *s, struct imap_fetch *f,
                          struct po_buf *out)
{
	struct imap_fetch_pos *p = &f->pos;

	while (p->lit_left > 0) {
		size_t n = p->lit_left < FETCH_READ_CHUNK ? (size_t)p->lit_left
		                                          : FETCH_READ_CHUNK;
		size_t got = n;

		if (out->len >= IMAP_OUT_CHUNK)
			return IMAP_RUN_MORE;
		if (p->pad) {
			memset(f->rbuf, ' ', n);
		} else if (p->lit_mem) {
			memcpy(f->rbuf, p->mem.data + p->lit_off, n);
		} else {
			int rc = store_read(s->acct, s->sel.id, f->cur->m.uid,
			                    p->lit_off, f->rbuf, n, &got);

			if (rc != STORE_OK)
				return rc;
			if (got == 0)
				return STORE_E_TEMP;
		}
		/* RFC 9051 §4.3.1 (literal is CHAR8, no NUL) and §5: a
		 * binary string goes only in BINARY's literal8.  A message
		 * APPENDed as literal8 may hold NUL; BODY[] sends it as
		 * 0x80, keeping the literal's (and RFC822.SIZE's) length. */
		for (char *z = p->lit_nonul ? memchr(f->rbuf, '\0', got) : NULL;
		     z != NULL;
		     z = memchr(z + 1, '\0', got - (size_t)(z + 1 - f->rbuf)))
			*z = (char)0x80;
		po_buf_add(out, f->rbuf, got);
		p->lit_off += got;
		p->lit_left -= got;
	}
	p->in_literal = false;
	if (p->lit_mem)
		po_buf_deinit(&p->mem);
	return IMAP_RUN_DONE;
}

/*
 * The current message failed with rc (a store error or FETCH_E_FAIL).
 * Record why; then take back what this call wrote of it, or, when part of
 * it was sent already, end it as well-formed as possible: the item is
 * dropped if it began in this call, a literal already under way is filled
 * with spaces.  Returns true when the message was dropped entirely.
 */
static bool abandon(struct imap_fetch *f, struct po_buf *out, int rc)
{
	struct imap_fetch_pos *p = &f->pos;

	if (rc == STORE_E_EXPUNGED)
		f->expunged = true;
	else if (rc != FETCH_E_FAIL)
		f->failure = rc;
	p->item = f->n_items + 2;
	if (p->msg_fresh) {
		truncate_out(out, p->msg_start);
		p->in_msg = false;
		p->in_literal = false;
		p->msg++;
		return true;
	}
	if (p->item_fresh) {
		truncate_out(out, p->item_start);
		p->in_literal = false;
	} else if (p->in_literal) {
		p->pad = true;
	}
	return false;
}

/* Start the message at pos.msg: "* n FETCH (".  Returns 1 when started, 0
 * when it is gone (skipped), or a store error. */
static int start_message(struct imap_session *s, struct imap_fetch *f,
                         struct po_buf *out)
{
	struct imap_fetch_pos *p = &f->pos;
	uint32_t uid = f->uids[p->msg], seq;
	int rc;

	if (p->msg >= f->batch_hi) {
		rc = load_batch(s, f);
		if (rc != STORE_OK)
			return rc;
	}
	f->cur = batch_find(f, uid);
	seq = seq_of(s, uid);
	if (f->cur == NULL || seq == 0) {
		/* RFC 5530 EXPUNGEISSUED: expunged by another session
		 * since the client last heard of the mailbox. */
		f->expunged = true;
		p->msg++;
		return 0;
	}
	p->msg_start = out->len;
	p->msg_fresh = true;
	p->in_msg = true;
	p->any = false;
	p->item = 0;
	po_buf_printf(out, "* %u FETCH (", seq);
	return 1;
}

/* Produce (the rest of) the message at pos.msg. */
static int fetch_message(struct imap_session *s, struct imap_fetch *f,
                         struct po_buf *out)
{
	struct imap_fetch_pos *p = &f->pos;
	int rc;

	if (!p->in_msg) {
		rc = start_message(s, f, out);
		if (rc <= 0) {
			if (rc < 0)
				f->failure = rc;
			return IMAP_RUN_DONE;
		}
	}
	for (;;) {
		if (p->in_literal) {
			rc = stream_literal(s, f, out);
			if (rc == IMAP_RUN_MORE)
				return IMAP_RUN_MORE;
			if (rc < 0 && abandon(f, out, rc))
				return IMAP_RUN_DONE;
			if (rc == IMAP_RUN_DONE)
				p->item++;
			continue;
		}
		if (p->item >= f->n_items + 2)
			break;
		if (out->len >= IMAP_OUT_CHUNK)
			return IMAP_RUN_MORE;
		p->item_start = out->len;
		p->item_fresh = true;
		rc = fetch_item(s, f, p->item, out);
		if (rc < 0 && abandon(f, out, rc))
			return IMAP_RUN_DONE;
		if (rc == STORE_OK && !p->in_literal)
			p->item++;
	}
	po_buf_add_str(out, ")\r\n");
	p->in_msg = false;
	p->msg++;
	return IMAP_RUN_DONE;
}

int imap_fetch_step(struct imap_session *s, struct imap_fetch *f, bool uid,
                    struct po_buf *out, const char **error_r)
{
	*error_r = NULL;
	if (!f->started) {
		f->started = true;
		if (imap_sel_resolve(s, &f->set, uid, &f->uids, &f->n_uids,
		                     error_r) < 0)
			return IMAP_RUN_DONE;
		/* RFC 9051 §6.4.8: UID FETCH always answers with UID. */
		f->want_uid = uid && !f->has_uid;
		f->rbuf = xmalloc(FETCH_READ_CHUNK);
	}
	/* Everything written before this call has been sent. */
	f->pos.msg_fresh = false;
	f->pos.item_fresh = false;
	while (f->pos.msg < f->n_uids || f->pos.in_msg) {
		if (!f->pos.in_msg && (f->failure != 0 || f->fail_text != NULL))
			break;
		if (!f->pos.in_msg && out->len >= IMAP_OUT_CHUNK)
			return IMAP_RUN_MORE;
		if (fetch_message(s, f, out) == IMAP_RUN_MORE)
			return IMAP_RUN_MORE;
	}
	return IMAP_RUN_DONE;
}

int imap_cmd_fetch_run(struct imap_cmd *cmd)
{
	struct imap_fetch *f = cmd->data;
	const char *error;

	if (imap_fetch_step(cmd->s, f, cmd->uid, &cmd->out, &error) ==
	    IMAP_RUN_MORE)
		return IMAP_RUN_MORE;
	if (error != NULL)
		imap_cmd_result(cmd, IMAP_BAD, "%s", error);
	else if (f->failure != 0)
		imap_cmd_store_error(cmd, f->failure, "FETCH");
	else if (f->fail_text != NULL)
		imap_cmd_result(cmd, IMAP_NO, "%s", f->fail_text);
	else if (f->expunged)
		imap_cmd_result(cmd, IMAP_OK,
		                "[EXPUNGEISSUED] Some messages were expunged "
		                "meanwhile");
	else
		imap_cmd_result(cmd, IMAP_OK, "FETCH completed");
	return IMAP_RUN_DONE;
}
