/*
 * Fuzz the core's input framer (server/frame.c).  The first four bytes
 * choose the limits and the cuts: max_line = 2..31, chunk = 1..16, long-line
 * mode on or off, and the offsets where the rest is split into reads.  The
 * rest is fed three ways (whole, at the cuts, one byte at a time) and the
 * three transcripts of events must be identical, since frame_private.h
 * promises that frames depend only on the bytes.  A line frame ending in
 * "{N}" makes the next N bytes a literal (as IMAP does), a line starting
 * with '~' toggles long-line mode and a line "!" resets the framer, so the
 * transcript drives the framer the same way in every run.  Checked: lines
 * never exceed max_line nor hold an LF, chunks never exceed chunk nor the
 * literal, and no more bytes come out than went in.
 */
#include "fuzz.h"

#include <string.h>

#include "frame_private.h"

struct run {
	struct framer f;
	struct po_buf log; /* the transcript */
	size_t max_line, chunk;
	bool long_lines;
	uint64_t lit_left; /* literal bytes still expected */
	bool in_lit;
	size_t delivered; /* frame bytes given out */
	size_t fed;       /* bytes consumed */
};

/* N of a line ending in "{N}" (at most 4 digits), or -1. */
static long literal_size(const char *s, size_t len)
{
	size_t i;
	long n = 0;

	if (len < 3 || s[len - 1] != '}')
		return -1;
	for (i = len - 2; i > 0 && s[i] >= '0' && s[i] <= '9'; i--)
		;
	if (s[i] != '{' || i == len - 2 || len - 2 - i > 4)
		return -1;
	for (i++; i < len - 1; i++)
		n = n * 10 + (s[i] - '0');
	return n;
}

static void on_line(struct run *r, const struct po_frame *fr)
{
	long n;

	FUZZ_CHECK(!r->in_lit);
	FUZZ_CHECK(fr->len <= r->max_line);
	FUZZ_CHECK(fr->data[fr->len] == '\0');
	FUZZ_CHECK(memchr(fr->data, '\n', fr->len) == NULL);
	if (fr->more) {
		FUZZ_CHECK(r->long_lines && fr->len == r->max_line);
		return;
	}
	if (fr->len == 1 && fr->data[0] == '!') {
		framer__reset(&r->f);
		return;
	}
	if (fr->len > 0 && fr->data[0] == '~') {
		r->long_lines = !r->long_lines;
		framer__set_long_lines(&r->f, r->long_lines);
	}
	n = literal_size(fr->data, fr->len);
	if (n >= 0) {
		r->in_lit = true;
		r->lit_left = (uint64_t)n;
		framer__expect_literal(&r->f, (uint64_t)n);
	}
}

static void on_literal(struct run *r, const struct po_frame *fr)
{
	FUZZ_CHECK(r->in_lit);
	FUZZ_CHECK(fr->len <= r->chunk && fr->len <= r->lit_left);
	r->lit_left -= fr->len;
	if (fr->more) {
		FUZZ_CHECK(fr->len == r->chunk && r->lit_left > 0);
	} else {
		FUZZ_CHECK(r->lit_left == 0);
		r->in_lit = false;
	}
}

static void on_event(struct run *r, enum frame_event ev,
                     const struct po_frame *fr)
{
	char head[4];
	uint64_t len = fr->len;

	if (ev == FRAME_TOO_LONG) {
		FUZZ_CHECK(!r->in_lit);
		po_buf_add(&r->log, "T", 1);
		return;
	}
	FUZZ_CHECK(ev == FRAME_READY);
	head[0] = fr->kind == PO_FRAME_LINE ? 'L' : 'B';
	head[1] = (char)('0' + fr->crlf);
	head[2] = (char)('0' + fr->more);
	head[3] = ':';
	po_buf_add(&r->log, head, sizeof head);
	po_buf_add(&r->log, &len, sizeof len);
	po_buf_add(&r->log, fr->data, fr->len);
	r->delivered += fr->len;
	FUZZ_CHECK(r->delivered <= r->fed);
	if (fr->kind == PO_FRAME_LINE)
		on_line(r, fr);
	else
		on_literal(r, fr);
}

/* Feed p[0..len) as one read, handling events until it is used up. */
static void drive(struct run *r, const char *p, size_t len)
{
	size_t off = 0, used, guard;
	struct po_frame fr;

	/* A byte yields at most a piece, a line and an empty literal. */
	for (guard = 0; guard <= 4 * len + 8; guard++) {
		enum frame_event ev =
		        framer__feed(&r->f, p + off, len - off, &used, &fr);

		FUZZ_CHECK(used <= len - off);
		off += used;
		r->fed += used;
		if (ev == FRAME_NONE) {
			FUZZ_CHECK(off == len);
			return;
		}
		on_event(r, ev, &fr);
	}
	FUZZ_CHECK(!"framer made no progress");
}

static void run_init(struct run *r, const uint8_t *cfg)
{
	memset(r, 0, sizeof(*r));
	r->max_line = 2 + cfg[0] % 30;
	r->chunk = 1 + cfg[1] % 16;
	r->long_lines = (cfg[0] & 0x80) != 0;
	framer__init(&r->f, r->max_line, r->chunk);
	framer__set_long_lines(&r->f, r->long_lines);
	po_buf_init(&r->log);
}

static void run_deinit(struct run *r)
{
	framer__deinit(&r->f);
	po_buf_deinit(&r->log);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static bool same_log(const struct run *a, const struct run *b)
{
	return a->log.len == b->log.len &&
	       (a->log.len == 0 ||
	        memcmp(a->log.data, b->log.data, a->log.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, cut, bytes;
	const char *in = (const char *)data + 4;
	size_t n, cuts[4], prev = 0;

	if (size < 4)
		return 0;
	n = size - 4;
	run_init(&whole, data);
	run_init(&cut, data);
	run_init(&bytes, data);

	drive(&whole, in, n);

	cuts[0] = data[2] % (n + 1);
	cuts[1] = data[3] % (n + 1);
	cuts[2] = (size_t)(data[2] * 31 + data[3]) % (n + 1);
	cuts[3] = n;
	qsort(cuts, 4, sizeof cuts[0], cmp_size);
	for (size_t i = 0; i < 4; i++) {
		drive(&cut, in + prev, cuts[i] - prev);
		prev = cuts[i];
	}
	for (size_t i = 0; i < n; i++)
		drive(&bytes, in + i, 1);

	FUZZ_CHECK(whole.fed == n && cut.fed == n && bytes.fed == n);
	FUZZ_CHECK(same_log(&whole, &cut));
	FUZZ_CHECK(same_log(&whole, &bytes));
	run_deinit(&whole);
	run_deinit(&cut);
	run_deinit(&bytes);
	return 0;
}
