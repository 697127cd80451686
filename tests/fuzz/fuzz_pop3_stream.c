/*
 * Fuzz the POP3 byte-stuffing encoder (protocols/pop3/pop3_stream.c,
 * RFC 1939 §3 and §7).  The first byte chooses RETR or TOP and TOP's line
 * count, the second the size of the reads; the rest is the message.  The
 * output must be CRLF lines where only the final "." line starts with a
 * single '.'; removing the stuffed dots must give back the consumed input
 * with bare LFs made CRLF (and a last line completed); and TOP must stop
 * exactly after the header, its blank line and the requested body lines.
 */
#include "fuzz.h"

#include <string.h>

#include "pop3_private.h"

/* The reference: how many bytes of in TOP (or RETR, top false) sends. */
static size_t ref_consumed(const char *in, size_t len, bool top, uint64_t lines)
{
	bool in_body = false, empty = true;

	if (!top)
		return len;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\n') {
			/* As the encoder does, a line of only CRs is blank. */
			if (in[i] != '\r')
				empty = false;
			continue;
		}
		if (!in_body) {
			if (empty) {
				in_body = true;
				if (lines == 0)
					return i + 1;
			}
		} else if (--lines == 0) {
			return i + 1;
		}
		empty = true;
	}
	return len;
}

/* Bare LF becomes CRLF; an unfinished last line is ended. */
static void normalise(const char *in, size_t len, struct po_buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			po_buf_add(out, "\r", 1);
		po_buf_add(out, in + i, 1);
	}
	if (len > 0 && in[len - 1] != '\n')
		po_buf_add_str(out, in[len - 1] == '\r' ? "\n" : "\r\n");
}

/* Check the line structure and strip the stuffing into plain. */
static void unstuff(const struct po_buf *out, struct po_buf *plain)
{
	size_t pos = 0;

	FUZZ_CHECK(out->len >= 3);
	FUZZ_CHECK(memcmp(out->data + out->len - 3, ".\r\n", 3) == 0);
	while (pos < out->len) {
		const char *lf = memchr(out->data + pos, '\n', out->len - pos);
		size_t end;

		FUZZ_CHECK(lf != NULL);
		end = (size_t)(lf - out->data) + 1;
		FUZZ_CHECK(end - pos >= 2 && out->data[end - 2] == '\r');
		if (end == out->len) {
			/* The terminator, alone on its line. */
			FUZZ_CHECK(end - pos == 3);
			return;
		}
		if (out->data[pos] == '.') {
			FUZZ_CHECK(out->data[pos + 1] == '.');
			pos++;
		}
		po_buf_add(plain, out->data + pos, end - pos);
		pos = end;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_stream s;
	struct po_buf out = PO_BUF_INIT, plain = PO_BUF_INIT,
	              want = PO_BUF_INIT;
	const char *in = (const char *)data + 2;
	size_t n, step, consumed = 0;
	bool top;
	uint64_t lines;

	if (size < 2)
		return 0;
	n = size - 2;
	top = (data[0] & 1) != 0;
	lines = (uint64_t)(data[0] >> 1) % 8;
	step = 1 + data[1] % 64;
	pop3_stream_init(&s, 1, n, top, lines);
	for (size_t off = 0; off < n; off += step) {
		size_t len = n - off < step ? n - off : step;
		size_t used = pop3_stream_encode(&s, in + off, len, &out);

		FUZZ_CHECK(used <= len);
		consumed += used;
		if (used < len)
			FUZZ_CHECK(s.done);
		if (s.done) {
			FUZZ_CHECK(pop3_stream_encode(&s, in, n, &out) == 0);
			break;
		}
	}
	/* The session finishes a TOP that is done too (pop3_session.c). */
	pop3_stream_finish(&s, &out);
	FUZZ_CHECK(consumed == ref_consumed(in, n, top, lines));
	unstuff(&out, &plain);
	normalise(in, consumed, &want);
	FUZZ_CHECK(plain.len == want.len &&
	           (want.len == 0 ||
	            memcmp(plain.data, want.data, want.len) == 0));
	po_buf_deinit(&out);
	po_buf_deinit(&plain);
	po_buf_deinit(&want);
	return 0;
}
