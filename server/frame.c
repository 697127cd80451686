/*
 * Input framing (frame_private.h): a small state machine that turns a byte
 * stream into lines and literal chunks.  It is pure (no sockets, no clock)
 * so it is unit-tested by feeding the same stream whole, byte by byte and
 * split at every offset.  Where frames are cut depends only on the bytes,
 * never on how they were split into reads.  Lines end at LF; a CR just
 * before the LF is stripped (RFC 1939 §3, RFC 5321 §2.3.8 want CRLF, but
 * bare LF is accepted and reported so a module may refuse it).
 */
#include "frame_private.h"

#include <assert.h>
#include <string.h>

void framer__init(struct framer *f, size_t max_line, size_t chunk)
{
	assert(max_line >= 2 && chunk >= 1);
	memset(f, 0, sizeof(*f));
	f->max_line = max_line;
	f->chunk = chunk;
	po_buf_init(&f->buf);
}

void framer__deinit(struct framer *f)
{
	po_buf_deinit(&f->buf);
}

void framer__expect_literal(struct framer *f, uint64_t size)
{
	f->in_literal = true;
	f->literal_left = size;
}

void framer__set_long_lines(struct framer *f, bool on)
{
	f->long_lines = on;
}

void framer__reset(struct framer *f)
{
	size_t max_line = f->max_line, chunk = f->chunk;
	bool long_lines = f->long_lines;

	po_buf_deinit(&f->buf);
	framer__init(f, max_line, chunk);
	f->long_lines = long_lines;
}

bool framer__idle(const struct framer *f)
{
	return !f->in_literal && !f->discarding && !f->has_carry &&
	       (f->emitted || f->buf.len == 0);
}

/* Drop the frame returned by the previous call, keeping a cut piece's
 * carry byte.  A large buffer left by a literal is released. */
static void framer_clear(struct framer *f)
{
	if (!f->emitted)
		return;
	f->emitted = false;
	/* An idle connection keeps no more than a short line's worth. */
	if (f->buf.cap > 4096)
		po_buf_deinit(&f->buf);
	po_buf_reset(&f->buf);
	if (f->has_carry) {
		po_buf_add(&f->buf, &f->carry, 1);
		f->has_carry = false;
	}
}

/* Make *frame_r describe the buffered bytes. */
static enum frame_event framer_emit(struct framer *f, enum po_frame_kind kind,
                                    bool crlf, bool more,
                                    struct po_frame *frame_r)
{
	frame_r->kind = kind;
	frame_r->data = f->buf.data != NULL ? f->buf.data : "";
	frame_r->len = f->buf.len;
	frame_r->crlf = crlf;
	frame_r->more = more;
	f->emitted = true;
	return FRAME_READY;
}

/* Long-line mode: the buffer holds max_line + 1 bytes and the line goes
 * on; deliver the first max_line bytes and carry the last one over. */
static enum frame_event framer_piece(struct framer *f, struct po_frame *fr)
{
	f->carry = f->buf.data[f->max_line];
	f->has_carry = true;
	f->buf.len = f->max_line;
	f->buf.data[f->buf.len] = '\0';
	return framer_emit(f, PO_FRAME_LINE, false, true, fr);
}

/* The line ran past max_line: refuse it once and skip through its LF. */
static enum frame_event framer_too_long(struct framer *f, bool at_lf)
{
	po_buf_reset(&f->buf);
	f->discarding = !at_lf;
	return FRAME_TOO_LONG;
}

/* All bytes before the LF are buffered; *used_r covers them.  Finish the
 * line, or (when it is one byte too long) cut it first. */
static enum frame_event framer_line_end(struct framer *f, size_t *used_r,
                                        struct po_frame *fr)
{
	struct po_buf *b = &f->buf;

	if (b->len > 0 && b->data[b->len - 1] == '\r') {
		b->data[--b->len] = '\0';
		(*used_r)++;
		return framer_emit(f, PO_FRAME_LINE, true, false, fr);
	}
	if (b->len <= f->max_line) {
		(*used_r)++;
		return framer_emit(f, PO_FRAME_LINE, false, false, fr);
	}
	if (f->long_lines)
		return framer_piece(f, fr); /* the LF is read next call */
	(*used_r)++;
	return framer_too_long(f, true);
}

static enum frame_event framer_line(struct framer *f, const char *data,
                                    size_t len, size_t *used_r,
                                    struct po_frame *fr)
{
	const char *lf = memchr(data, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - data) : len;
	size_t space = f->max_line + 1 - f->buf.len;
	size_t take = n < space ? n : space;

	po_buf_add(&f->buf, data, take);
	*used_r = take;
	if (take < n) {
		/* Full, and a byte other than LF follows. */
		if (f->long_lines)
			return framer_piece(f, fr);
		return framer_too_long(f, false);
	}
	if (lf == NULL)
		return FRAME_NONE;
	return framer_line_end(f, used_r, fr);
}

/* Skip the rest of an over-long line, through its LF. */
static void framer_skip(struct framer *f, const char *data, size_t len,
                        size_t *used_r)
{
	const char *lf = memchr(data, '\n', len);

	if (lf == NULL) {
		*used_r = len;
		return;
	}
	*used_r = (size_t)(lf - data) + 1;
	f->discarding = false;
}

static enum frame_event framer_literal(struct framer *f, const char *data,
                                       size_t len, size_t *used_r,
                                       struct po_frame *fr)
{
	size_t room = f->chunk - f->buf.len;
	size_t take = len < room ? len : room;

	if (take > f->literal_left)
		take = (size_t)f->literal_left;
	po_buf_add(&f->buf, data, take);
	f->literal_left -= take;
	*used_r = take;
	if (f->literal_left == 0) {
		f->in_literal = false;
		return framer_emit(f, PO_FRAME_LITERAL, false, false, fr);
	}
	if (f->buf.len == f->chunk)
		return framer_emit(f, PO_FRAME_LITERAL, false, true, fr);
	return FRAME_NONE;
}

enum frame_event framer__feed(struct framer *f, const char *data, size_t len,
                              size_t *used_r, struct po_frame *frame_r)
{
	enum frame_event ev;

	framer_clear(f);
	*used_r = 0;
	if (f->in_literal)
		return framer_literal(f, data, len, used_r, frame_r);
	if (len == 0)
		return FRAME_NONE;
	if (f->discarding) {
		size_t skipped;

		framer_skip(f, data, len, &skipped);
		if (f->discarding || skipped == len) {
			*used_r = skipped;
			return FRAME_NONE;
		}
		ev = framer_line(f, data + skipped, len - skipped, used_r,
		                 frame_r);
		*used_r += skipped;
		return ev;
	}
	return framer_line(f, data, len, used_r, frame_r);
}
