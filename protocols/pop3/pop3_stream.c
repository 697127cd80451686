/*
 * The encoder that turns a stored message into a POP3 multi-line response
 * body, chunk by chunk (RFC 1939 §3): a line that starts with '.' gets one
 * more '.', every line ends in CRLF (the store keeps CRLF already; a bare
 * LF is repaired defensively), and the response ends with ".\r\n".  For
 * TOP (RFC 1939 §7) it stops after the header, the blank line and the
 * requested number of body lines.  Pure: no I/O, no session.
 */
#include "pop3_private.h"

#include <string.h>

void pop3_stream_init(struct pop3_stream *s, uint32_t uid, uint64_t size,
                      bool top, uint64_t lines)
{
	memset(s, 0, sizeof(*s));
	s->uid = uid;
	s->size = size;
	s->top = top;
	s->lines = lines;
	s->line_start = true;
	s->line_empty = true;
	/* TOP n 0 with an empty header still ends at the blank line. */
}

/* A line just ended.  For TOP, count it and say whether to stop. */
static bool line_ended(struct pop3_stream *s)
{
	bool was_empty = s->line_empty;

	s->line_start = true;
	s->line_empty = true;
	if (!s->top)
		return false;
	if (!s->in_body) {
		if (was_empty) {
			s->in_body = true;
			return s->lines == 0;
		}
		return false;
	}
	return --s->lines == 0;
}

size_t pop3_stream_encode(struct pop3_stream *s, const char *in, size_t len,
                          struct po_buf *out)
{
	size_t i;

	if (s->done)
		return 0;
	for (i = 0; i < len; i++) {
		char ch = in[i];

		if (s->line_start && ch == '.')
			po_buf_add(out, ".", 1);
		s->line_start = false;
		if (ch == '\n') {
			if (!s->last_cr)
				po_buf_add(out, "\r", 1);
			po_buf_add(out, "\n", 1);
			s->last_cr = false;
			if (line_ended(s)) {
				s->done = true;
				return i + 1;
			}
			continue;
		}
		po_buf_add(out, &ch, 1);
		s->last_cr = ch == '\r';
		if (ch != '\r')
			s->line_empty = false;
	}
	return len;
}

void pop3_stream_finish(struct pop3_stream *s, struct po_buf *out)
{
	if (!s->line_start) {
		if (!s->last_cr)
			po_buf_add(out, "\r", 1);
		po_buf_add(out, "\n", 1);
	}
	po_buf_add(out, ".\r\n", 3);
	s->done = true;
}
