/*
 * Unit tests of FETCH's pure parts: the item parser (every valid form of
 * RFC 9051 §6.4.5 / RFC 3516 and the invalid ones with their BAD reasons),
 * the base64 and quoted-printable decoders (RFC 2045 §6.7, §6.8) and the
 * HEADER.FIELDS subsetting on folded headers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_fetch.h"

/* --- helpers ----------------------------------------------------------- */

struct parsed {
	struct imap_arena arena;
	struct imap_fetch f;
	const char *error;
	int rc;
};

/* Parse the arguments of "FETCH <line>". */
static void parse(struct parsed *p, const char *line)
{
	struct imap_input_part part = {line, strlen(line), false};
	struct imap_input in = {&part, 1};
	struct imap_arg *args = NULL;
	size_t n = 0, lits = 0;

	memset(p, 0, sizeof(*p));
	imap_arena_init(&p->arena);
	p->rc = imap_parse_args(&in, &p->arena, &args, &n, &lits, &p->error);
	assert_int_equal(p->rc, 0);
	p->rc = imap_fetch_parse_args(args, n, &p->arena, &p->f, &p->error);
}

static void parsed_free(struct parsed *p)
{
	if (p->rc == 0)
		imap_fetch_deinit(&p->f);
	imap_arena_deinit(&p->arena);
}

/* The response names of the items, space separated. */
static void expect_names(const char *line, const char *want)
{
	struct parsed p;
	char got[2048] = "";

	parse(&p, line);
	if (p.rc != 0)
		fail_msg("\"%s\": %s", line, p.error);
	for (size_t i = 0; i < p.f.n_items; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, p.f.items[i].name);
	}
	assert_string_equal(got, want);
	parsed_free(&p);
}

static void expect_bad(const char *line, const char *want_error)
{
	struct parsed p;

	parse(&p, line);
	if (p.rc == 0)
		fail_msg("\"%s\" parsed", line);
	assert_int_equal(p.rc, -1);
	assert_string_equal(p.error, want_error);
	parsed_free(&p);
}

/* Parse one item on its own. */
static struct imap_fetch_item item(struct imap_arena *a, const char *s)
{
	struct imap_fetch_item it;
	const char *err = NULL;

	if (imap_fetch_parse_item(s, strlen(s), a, &it, &err) != 0)
		fail_msg("\"%s\": %s", s, err);
	return it;
}

/* --- the parser -------------------------------------------------------- */

static void test_fetch_macros_expand(void **state)
{
	(void)state;
	expect_names("1:* ALL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE");
	expect_names("1 fast", "FLAGS INTERNALDATE RFC822.SIZE");
	expect_names("1 Full", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY");
}

static void test_fetch_simple_items(void **state)
{
	struct parsed p;

	(void)state;
	expect_names("1,3:5 (flags internaldate rfc822.size envelope body "
	             "bodystructure uid rfc822 rfc822.header rfc822.text)",
	             "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY "
	             "BODYSTRUCTURE UID RFC822 RFC822.HEADER RFC822.TEXT");
	expect_names("2 UID", "UID");
	parse(&p, "1 (RFC822 RFC822.HEADER RFC822.TEXT FLAGS UID)");
	assert_int_equal(p.rc, 0);
	assert_true(p.f.items[0].sets_seen);
	assert_int_equal(p.f.items[0].spec, IMAP_SPEC_NONE);
	assert_false(p.f.items[1].sets_seen);
	assert_int_equal(p.f.items[1].spec, IMAP_SPEC_HEADER);
	assert_true(p.f.items[2].sets_seen);
	assert_int_equal(p.f.items[2].spec, IMAP_SPEC_TEXT);
	assert_true(p.f.sets_seen);
	assert_true(p.f.has_flags);
	assert_true(p.f.has_uid);
	parsed_free(&p);
}

static void test_fetch_searchres_set(void **state)
{
	struct parsed p;

	(void)state;
	parse(&p, "$ (FLAGS)");
	assert_int_equal(p.rc, 0);
	assert_true(p.f.set.searchres);
	assert_false(p.f.sets_seen);
	parsed_free(&p);
}

static void test_fetch_sections(void **state)
{
	(void)state;
	expect_names("1 (BODY[] body.peek[] BODY[1.2.3] BODY[HEADER] "
	             "BODY[TEXT] BODY[1.MIME] BODY[2.HEADER] BODY[2.text] "
	             "BODY[4294967295])",
	             "BODY[] BODY[] BODY[1.2.3] BODY[HEADER] BODY[TEXT] "
	             "BODY[1.MIME] BODY[2.HEADER] BODY[2.TEXT] "
	             "BODY[4294967295]");
	expect_names("1 BODY.PEEK[HEADER.FIELDS (Subject from)]",
	             "BODY[HEADER.FIELDS (SUBJECT FROM)]");
	expect_names("1 BODY[1.2.HEADER.FIELDS.NOT (X-A)]",
	             "BODY[1.2.HEADER.FIELDS.NOT (X-A)]");
	expect_names("1 BODY[HEADER.FIELDS (\"X-Q\" \"a(b\" \"c\\\"d\")]",
	             "BODY[HEADER.FIELDS (X-Q \"A(B\" \"C\\\"D\")]");
	expect_names("1 (BINARY[1] BINARY.PEEK[1.2]<5.100> BINARY.SIZE[3] "
	             "BINARY[] binary.size[])",
	             "BINARY[1] BINARY[1.2] BINARY.SIZE[3] BINARY[] "
	             "BINARY.SIZE[]");
}

static void test_fetch_section_fields(void **state)
{
	struct imap_arena a;
	struct imap_fetch_item it;

	(void)state;
	imap_arena_init(&a);
	it = item(&a, "BODY.PEEK[3.1.HEADER.FIELDS (a \"B\")]<7.9>");
	assert_int_equal(it.kind, IMAP_FETCH_SECTION);
	assert_int_equal(it.spec, IMAP_SPEC_FIELDS);
	assert_false(it.sets_seen);
	assert_int_equal(it.depth, 2);
	assert_int_equal(it.path[0], 3);
	assert_int_equal(it.path[1], 1);
	assert_int_equal(it.n_fields, 2);
	assert_string_equal(it.fields[0], "A");
	assert_string_equal(it.fields[1], "B");
	assert_true(it.partial);
	assert_int_equal(it.offset, 7);
	assert_int_equal(it.length, 9);

	it = item(&a, "BODY[]<0.9223372036854775807>");
	assert_true(it.sets_seen);
	assert_int_equal(it.offset, 0);
	assert_int_equal(it.length, INT64_MAX);

	it = item(&a, "BINARY[2]");
	assert_int_equal(it.kind, IMAP_FETCH_BINARY);
	assert_true(it.sets_seen);
	it = item(&a, "BINARY.PEEK[2]");
	assert_false(it.sets_seen);
	it = item(&a, "BINARY.SIZE[2]");
	assert_int_equal(it.kind, IMAP_FETCH_BINARY_SIZE);
	assert_false(it.sets_seen);
	imap_arena_deinit(&a);
}

static void test_fetch_section_depth_bound(void **state)
{
	char line[512] = "1 BODY[";

	(void)state;
	for (int i = 0; i < IMAP_FETCH_MAX_DEPTH; i++)
		strcat(line, i == 0 ? "1" : ".1");
	strcat(line, "]");
	{
		struct parsed p;

		parse(&p, line);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.f.items[0].depth, IMAP_FETCH_MAX_DEPTH);
		parsed_free(&p);
	}
	line[strlen(line) - 1] = '\0';
	strcat(line, ".1]");
	expect_bad(line, "Section nested too deeply");
}

static void test_fetch_field_and_item_bounds(void **state)
{
	char line[4096] = "1 BODY[HEADER.FIELDS (";
	char items[4096] = "1 (";

	(void)state;
	for (int i = 0; i < IMAP_FETCH_MAX_FIELDS; i++)
		sprintf(line + strlen(line), "%sX%d", i ? " " : "", i);
	strcat(line, ")]");
	{
		struct parsed p;

		parse(&p, line);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.f.items[0].n_fields, IMAP_FETCH_MAX_FIELDS);
		parsed_free(&p);
	}
	line[strlen(line) - 2] = '\0';
	strcat(line, " Y)]");
	expect_bad(line, "Too many header field names");

	for (int i = 0; i <= IMAP_FETCH_MAX_ITEMS; i++)
		strcat(items, i ? " UID" : "UID");
	strcat(items, ")");
	expect_bad(items, "Too many FETCH items");
}

static void test_fetch_invalid(void **state)
{
	(void)state;
	expect_bad("", "Missing sequence set");
	expect_bad("(FLAGS)", "Missing sequence set");
	expect_bad("0 FLAGS", "Zero in sequence set");
	expect_bad("1", "Missing FETCH items");
	expect_bad("1 FOO", "Unknown FETCH item");
	expect_bad("1 (FLAGS FOO)", "Unknown FETCH item");
	expect_bad("1 BODY.PEEK", "Unknown FETCH item");
	expect_bad("1 RFC822.PEEK[]", "Unknown FETCH item");
	expect_bad("1 ()", "Empty FETCH item list");
	expect_bad("1 (ALL)", "ALL, FAST and FULL must be used alone");
	expect_bad("1 (FLAGS FAST)", "ALL, FAST and FULL must be used alone");
	expect_bad("1 (FLAGS (UID))", "Nested list in FETCH items");
	expect_bad("1 \"FLAGS\"", "Invalid FETCH item");
	expect_bad("1 NIL", "Invalid FETCH item");
	expect_bad("1 BODY[1..2]", "Invalid section");
	expect_bad("1 BODY[1.]", "Invalid section");
	expect_bad("1 BODY[.1]", "Invalid section");
	expect_bad("1 BODY[1X]", "Invalid section");
	expect_bad("1 BODY[0]", "Part numbers start at 1");
	expect_bad("1 BODY[1.0]", "Part numbers start at 1");
	expect_bad("1 BODY[01]", "Part numbers start at 1");
	expect_bad("1 BODY[4294967296]", "Invalid part number in section");
	expect_bad("1 BODY[HEADER.FIELDS]",
	           "HEADER.FIELDS needs a list of field names");
	expect_bad("1 BODY[HEADER.FIELDS.NOT]",
	           "HEADER.FIELDS needs a list of field names");
	expect_bad("1 BODY[HEADER.FIELDS ()]", "Empty header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A  B)]", "Empty header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A:B)]", "Invalid header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A]", "Invalid header field list");
	expect_bad("1 BODY[HEADER.FIELDS (\"A)]",
	           "Invalid quoted header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A)X]", "Invalid section");
	expect_bad("1 BODY[MIME]", "MIME needs a part number");
	expect_bad("1 BODY[TEXT.HEADER]", "Invalid section");
	expect_bad("1 BODY[HEADERS]", "Invalid section");
	expect_bad("1 BODY[FOO]", "Invalid section");
	expect_bad("1 BODY[]<1.0>", "Partial length must not be 0");
	expect_bad("1 BODY[]<1>", "Invalid partial <offset.length>");
	expect_bad("1 BODY[]<1.2>x", "Invalid partial <offset.length>");
	expect_bad("1 BODY[]<.2>", "Invalid partial <offset.length>");
	expect_bad("1 BODY[]<9223372036854775808.1>",
	           "Invalid partial <offset.length>");
	expect_bad("1 BODY[]x", "Invalid partial <offset.length>");
	expect_bad("1 BINARY[HEADER]", "BINARY takes only part numbers");
	expect_bad("1 BINARY[1.MIME]", "BINARY takes only part numbers");
	expect_bad("1 BINARY.PEEK[1.TEXT]", "BINARY takes only part numbers");
	expect_bad("1 BINARY.SIZE[1]<0.1>", "BINARY.SIZE takes no partial");
	expect_bad("1 FLAGS (CHANGEDSINCE 1)", "Unknown FETCH modifier");
	expect_bad("1 FLAGS X", "Too many FETCH arguments");
	expect_bad("1 FLAGS (A) (B)", "Too many FETCH arguments");
}

/* --- decoders ---------------------------------------------------------- */

static void expect_decoded(int (*dec)(const char *, size_t, struct po_buf *),
                           const char *in, const char *want, size_t want_len)
{
	struct po_buf out = PO_BUF_INIT;

	assert_int_equal(dec(in, strlen(in), &out), 0);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(out.data == NULL ? "" : out.data, want, want_len);
	po_buf_deinit(&out);
}

#define EXPECT_DEC(fn, in, want) expect_decoded(fn, in, want, sizeof(want) - 1)

static void test_base64_decodes(void **state)
{
	(void)state;
	EXPECT_DEC(imap_base64_decode, "aGVsbG8gd29ybGQ=", "hello world");
	EXPECT_DEC(imap_base64_decode, "aGVsbG8gd29ybGQh", "hello world!");
	EXPECT_DEC(imap_base64_decode, "aGk=", "hi");
	EXPECT_DEC(imap_base64_decode, "aGk", "hi");
	EXPECT_DEC(imap_base64_decode, "aA==", "h");
	EXPECT_DEC(imap_base64_decode, "", "");
	EXPECT_DEC(imap_base64_decode, "AAEC/w==", "\0\1\2\xff");
	EXPECT_DEC(imap_base64_decode, "+/+/", "\xfb\xff\xbf");
}

static void test_base64_ignores_line_breaks_and_junk(void **state)
{
	(void)state;
	EXPECT_DEC(imap_base64_decode, "aGVs\r\nbG8g\r\n*d29y bGQ=\r\n",
	           "hello world");
	EXPECT_DEC(imap_base64_decode, "  a\tG\rk\n", "hi");
	/* "=" ends the data (RFC 2045 §6.8). */
	EXPECT_DEC(imap_base64_decode, "aGk=aGk=", "hi");
	/* A lone sextet is no byte. */
	EXPECT_DEC(imap_base64_decode, "aGkx\r\nY", "hi1");
}

static void test_qp_decodes(void **state)
{
	(void)state;
	EXPECT_DEC(imap_qp_decode, "caf=C3=A9\r\n", "caf\xc3\xa9\r\n");
	EXPECT_DEC(imap_qp_decode, "a=3db=3D", "a=b=");
	EXPECT_DEC(imap_qp_decode, "no line end", "no line end");
	EXPECT_DEC(imap_qp_decode, "=00=0A", "\0\n");
}

static void test_qp_soft_breaks_and_padding(void **state)
{
	(void)state;
	EXPECT_DEC(imap_qp_decode, "long=\r\nline\r\nnext  \r\nend=\r\n",
	           "longline\r\nnext\r\nend");
	/* "=" followed by transport padding is still a soft break. */
	EXPECT_DEC(imap_qp_decode, "a= \t\r\nb", "ab");
	/* Bare LF line ends decode to CRLF. */
	EXPECT_DEC(imap_qp_decode, "x\ny=\nz\n", "x\r\nyz\r\n");
	/* Malformed "=" sequences are kept (RFC 2045 §6.7 note 2). */
	EXPECT_DEC(imap_qp_decode, "=ZZ=4=x4 = y", "=ZZ=4=x4 = y");
	EXPECT_DEC(imap_qp_decode, "end=4", "end=4");
}

static void test_crlf_normalize(void **state)
{
	(void)state;
	EXPECT_DEC(imap_crlf_normalize, "a\nb\rc\r\nd\n\re",
	           "a\r\nb\r\nc\r\nd\r\n\r\ne");
}

/* --- HEADER.FIELDS ------------------------------------------------------ */

#define HDR                                                                    \
	"From: a@example.org\r\n"                                              \
	"Subject: a long\r\n"                                                  \
	" folded\r\n"                                                          \
	"\tsubject\r\n"                                                        \
	"X-Subject: no\r\n"                                                    \
	"subject : second\r\n"                                                 \
	"To: b@example.org,\r\n"                                               \
	"  c@example.org\r\n"                                                  \
	"\r\n"

static void expect_filter(const char *hdr, const char *names_csv, bool not_,
                          const char *want)
{
	char buf[256], *names[8];
	size_t n = 0;
	struct po_buf out = PO_BUF_INIT;

	snprintf(buf, sizeof(buf), "%s", names_csv);
	for (char *t = strtok(buf, ","); t != NULL; t = strtok(NULL, ","))
		names[n++] = t;
	assert_int_equal(
	        imap_header_filter(hdr, strlen(hdr), names, n, not_, &out), 0);
	assert_string_equal(out.data == NULL ? "" : out.data, want);
	po_buf_deinit(&out);
}

static void test_header_fields_keeps_folded_fields(void **state)
{
	(void)state;
	expect_filter(HDR, "SUBJECT", false,
	              "Subject: a long\r\n folded\r\n\tsubject\r\n"
	              "subject : second\r\n\r\n");
	expect_filter(HDR, "to,FROM", false,
	              "From: a@example.org\r\n"
	              "To: b@example.org,\r\n  c@example.org\r\n\r\n");
	expect_filter(HDR, "X-NONE", false, "\r\n");
}

static void test_header_fields_not(void **state)
{
	(void)state;
	expect_filter(HDR, "SUBJECT,TO", true,
	              "From: a@example.org\r\nX-Subject: no\r\n\r\n");
}

static void test_header_fields_without_blank_line(void **state)
{
	(void)state;
	/* A message with no body and no blank line gets none (RFC 9051
	 * §6.4.5.1). */
	expect_filter("Subject: x\r\nFrom: y\r\n", "FROM", false,
	              "From: y\r\n");
	expect_filter("Subject: x", "SUBJECT", false, "Subject: x");
	/* A line without a colon never matches. */
	expect_filter("junk\r\nA: 1\r\n\r\n", "JUNK,A", false, "A: 1\r\n\r\n");
	expect_filter("junk\r\nA: 1\r\n\r\n", "A", true, "junk\r\n\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fetch_macros_expand),
	        cmocka_unit_test(test_fetch_simple_items),
	        cmocka_unit_test(test_fetch_searchres_set),
	        cmocka_unit_test(test_fetch_sections),
	        cmocka_unit_test(test_fetch_section_fields),
	        cmocka_unit_test(test_fetch_section_depth_bound),
	        cmocka_unit_test(test_fetch_field_and_item_bounds),
	        cmocka_unit_test(test_fetch_invalid),
	        cmocka_unit_test(test_base64_decodes),
	        cmocka_unit_test(test_base64_ignores_line_breaks_and_junk),
	        cmocka_unit_test(test_qp_decodes),
	        cmocka_unit_test(test_qp_soft_breaks_and_padding),
	        cmocka_unit_test(test_crlf_normalize),
	        cmocka_unit_test(test_header_fields_keeps_folded_fields),
	        cmocka_unit_test(test_header_fields_not),
	        cmocka_unit_test(test_header_fields_without_blank_line),
	};

	return cmocka_run_group_tests_name("imap_fetch", tests, NULL, NULL);
}
