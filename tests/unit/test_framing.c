/*
 * Unit tests for the core's input framing (server/frame.c).  Each stream is
 * fed whole, one byte at a time, and split in two at every offset, and the
 * resulting transcript of events must be the same every time and equal to
 * the expected one.  A line ending in "{N}" switches to an N-byte literal,
 * as an IMAP module would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_private.h"
#include "util.h"

struct params {
	size_t max_line;
	size_t chunk;
	bool long_lines;
};

/* Append one event to the transcript t: "L[crlf,more]:<data>|" etc. */
static void note_frame(struct po_buf *t, const struct po_frame *fr)
{
	size_t i;

	po_buf_printf(t, "%c%s%s:", fr->kind == PO_FRAME_LINE ? 'L' : 'X',
	              fr->crlf ? "c" : "", fr->more ? "+" : "");
	for (i = 0; i < fr->len; i++) {
		unsigned char ch = (unsigned char)fr->data[i];

		if (ch < 0x20 || ch == '|')
			po_buf_printf(t, "\\%02x", ch);
		else
			po_buf_add(t, &fr->data[i], 1);
	}
	assert_int_equal(fr->data[fr->len], '\0');
	po_buf_add_str(t, "|");
}

/* A complete line "...{N}" announces an N-byte literal. */
static void maybe_literal(struct framer *f, const struct po_frame *fr)
{
	const char *open;

	if (fr->kind != PO_FRAME_LINE || fr->more || fr->len < 3 ||
	    fr->data[fr->len - 1] != '}')
		return;
	open = strrchr(fr->data, '{');
	if (open != NULL)
		framer__expect_literal(f, strtoull(open + 1, NULL, 10));
}

/* Feed one piece completely, recording every event. */
static void feed(struct framer *f, const char *data, size_t len,
                 struct po_buf *t)
{
	struct po_frame fr;
	enum frame_event ev;
	size_t used, guard = 0;

	do {
		ev = framer__feed(f, data, len, &used, &fr);
		assert_true(used <= len);
		data += used;
		len -= used;
		if (ev == FRAME_READY) {
			note_frame(t, &fr);
			maybe_literal(f, &fr);
		} else if (ev == FRAME_TOO_LONG) {
			po_buf_add_str(t, "TOOLONG|");
		}
		assert_true(++guard < 1000000);
	} while (ev != FRAME_NONE || len > 0);
}

/* Run the stream split at the given offsets (sorted, count n). */
static char *run_split(const struct params *p, const char *s, size_t len,
                       const size_t *cuts, size_t n)
{
	struct framer f;
	struct po_buf t = PO_BUF_INIT;
	size_t i, at = 0;

	framer__init(&f, p->max_line, p->chunk);
	framer__set_long_lines(&f, p->long_lines);
	po_buf_add_str(&t, "");
	for (i = 0; i <= n; i++) {
		size_t end = i < n ? cuts[i] : len;

		feed(&f, s + at, end - at, &t);
		at = end;
	}
	framer__deinit(&f);
	return po_buf_take(&t, NULL);
}

/* Check the transcript of s against expect in every split. */
static void check(const struct params *p, const char *s, size_t len,
                  const char *expect)
{
	char *whole = run_split(p, s, len, NULL, 0);
	size_t *cuts = calloc(len + 1, sizeof(*cuts));
	size_t i;

	assert_non_null(cuts);
	assert_string_equal(whole, expect);
	for (i = 0; i < len; i++)
		cuts[i] = i;
	for (i = 0; i <= len; i++) {
		char *split = run_split(p, s, len, &i, 1);

		assert_string_equal(split, expect);
		free(split);
	}
	if (len > 0) {
		char *bytes = run_split(p, s, len, cuts + 1, len - 1);

		assert_string_equal(bytes, expect);
		free(bytes);
	}
	free(cuts);
	free(whole);
}

#define CHECK(p, lit, expect) check(p, lit, sizeof(lit) - 1, expect)

static const struct params small = {16, 8, false};
static const struct params small_long = {8, 8, true};

static void test_lines_crlf_and_bare_lf(void **state)
{
	(void)state;
	CHECK(&small, "USER a\r\nPASS b\nQUIT\r\n",
	      "Lc:USER a|L:PASS b|Lc:QUIT|");
}

static void test_empty_lines_and_lone_cr(void **state)
{
	(void)state;
	CHECK(&small, "\r\n\n\r\r\na\rb\n", "Lc:|L:|Lc:\\0d|L:a\\0db|");
}

static void test_nul_bytes_inside_line(void **state)
{
	(void)state;
	CHECK(&small, "a\0b\r\n\0\n", "Lc:a\\00b|L:\\00|");
}

static void test_partial_line_waits_for_lf(void **state)
{
	(void)state;
	CHECK(&small, "NOOP\r\nPARTIAL", "Lc:NOOP|");
}

static void test_line_of_exactly_max_length(void **state)
{
	(void)state;
	CHECK(&small, "0123456789abcdef\r\n0123456789abcdef\n",
	      "Lc:0123456789abcdef|L:0123456789abcdef|");
}

static void test_overlong_line_refused_once_then_skipped(void **state)
{
	(void)state;
	CHECK(&small, "0123456789abcdefg\r\nOK\r\n", "TOOLONG|Lc:OK|");
	CHECK(&small, "0123456789abcdefg\nOK\n", "TOOLONG|L:OK|");
	CHECK(&small, "0123456789abcdef0123456789abcdef0123456789\r\nNEXT\r\n",
	      "TOOLONG|Lc:NEXT|");
	CHECK(&small, "0123456789abcdefXYZ\r\n0123456789abcdefXYZ\r\nA\n",
	      "TOOLONG|TOOLONG|L:A|");
}

static void test_long_line_mode_delivers_pieces(void **state)
{
	(void)state;
	CHECK(&small_long, "0123456789abcdefghij\r\nok\r\n",
	      "L+:01234567|L+:89abcdef|Lc:ghij|Lc:ok|");
	/* A piece boundary right before the line end. */
	CHECK(&small_long, "01234567\r\n012345678\r\n0123456789\n",
	      "Lc:01234567|L+:01234567|Lc:8|L+:01234567|L:89|");
	CHECK(&small_long, "012345678\n", "L+:01234567|L:8|");
	CHECK(&small_long, "0123456\r\r\n", "Lc:0123456\\0d|");
	/* A cut piece's carry byte is a CR that is not a line end. */
	CHECK(&small_long, "01234567\rx\n", "L+:01234567|L:\\0dx|");
}

static void test_literal_in_chunks_then_lines(void **state)
{
	(void)state;
	CHECK(&small, "A APPEND {20}\r\n0123456789\r\nabcdef\r\n)\r\nB\r\n",
	      "Lc:A APPEND {20}|X+:01234567|X+:89\\0d\\0aabcd|X:ef\\0d\\0a|"
	      "Lc:)|Lc:B|");
}

static void test_literal_of_zero_and_exact_chunk(void **state)
{
	(void)state;
	CHECK(&small, "a {0}\r\nb {8}\r\n\n\n\n\n\n\n\n\nc\r\n",
	      "Lc:a {0}|X:|Lc:b {8}|X:\\0a\\0a\\0a\\0a\\0a\\0a\\0a\\0a|Lc:c|");
}

static void test_literal_keeps_nul_and_lf(void **state)
{
	(void)state;
	CHECK(&small, "{3}\n\0\n\0x\n", "L:{3}|X:\\00\\0a\\00|L:x|");
}

static void test_reset_discards_partial_input(void **state)
{
	struct framer f;
	struct po_frame fr;
	size_t used;

	(void)state;
	framer__init(&f, 16, 8);
	assert_int_equal(framer__feed(&f, "STLS\r\nCAPA", 10, &used, &fr),
	                 FRAME_READY);
	assert_int_equal(used, 6);
	assert_int_equal(framer__feed(&f, "CAPA", 4, &used, &fr), FRAME_NONE);
	assert_false(framer__idle(&f));
	framer__reset(&f);
	assert_true(framer__idle(&f));
	assert_int_equal(framer__feed(&f, "X\r\n", 3, &used, &fr), FRAME_READY);
	assert_int_equal(fr.len, 1);
	assert_memory_equal(fr.data, "X", 1);
	framer__deinit(&f);
}

static void test_big_literal_uses_bounded_memory(void **state)
{
	struct framer f;
	struct po_frame fr;
	char block[4096];
	size_t used, total = 0, chunks = 0, i;

	(void)state;
	memset(block, 'x', sizeof(block));
	framer__init(&f, 64, FRAME_CHUNK_DEFAULT);
	framer__expect_literal(&f, 1000 * sizeof(block));
	for (i = 0; i < 1000; i++) {
		size_t off = 0;

		while (off < sizeof(block)) {
			if (framer__feed(&f, block + off, sizeof(block) - off,
			                 &used, &fr) == FRAME_READY) {
				total += fr.len;
				chunks++;
				assert_true(fr.len <= FRAME_CHUNK_DEFAULT);
			}
			off += used;
			assert_true(f.buf.cap <= 2 * FRAME_CHUNK_DEFAULT);
		}
	}
	assert_int_equal(total, 1000 * sizeof(block));
	assert_int_equal(chunks, (total + FRAME_CHUNK_DEFAULT - 1) /
	                                 FRAME_CHUNK_DEFAULT);
	framer__deinit(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lines_crlf_and_bare_lf),
	        cmocka_unit_test(test_empty_lines_and_lone_cr),
	        cmocka_unit_test(test_nul_bytes_inside_line),
	        cmocka_unit_test(test_partial_line_waits_for_lf),
	        cmocka_unit_test(test_line_of_exactly_max_length),
	        cmocka_unit_test(test_overlong_line_refused_once_then_skipped),
	        cmocka_unit_test(test_long_line_mode_delivers_pieces),
	        cmocka_unit_test(test_literal_in_chunks_then_lines),
	        cmocka_unit_test(test_literal_of_zero_and_exact_chunk),
	        cmocka_unit_test(test_literal_keeps_nul_and_lf),
	        cmocka_unit_test(test_reset_discards_partial_input),
	        cmocka_unit_test(test_big_literal_uses_bounded_memory),
	};

	return cmocka_run_group_tests_name("framing", tests, NULL, NULL);
}
