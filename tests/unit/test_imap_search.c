/*
 * Unit tests of SEARCH, STORE, COPY and MOVE: the search program parser
 * (every key, the invalid forms and the bounds), the literal substring
 * matcher, RFC 2047 header decoding, the ESEARCH / SEARCH writers and the
 * saved result; then the evaluator over a real store (fake_conn.c's
 * environment) with a hand-made selected map; then whole sessions through
 * the in-memory core, with the exact bytes a client receives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_conn.h"
#include "imap_private.h"
#include "imap_search.h"

/* --- helpers ----------------------------------------------------------- */

struct parsed {
	struct imap_arena arena;
	struct imap_search_program *prog;
	const char *error;
	int rc;
};

/* Parse the arguments of "SEARCH <line>". */
static void parse(struct parsed *p, const char *line)
{
	struct imap_input_part part = {line, strlen(line), false};
	struct imap_input in = {&part, 1};
	struct imap_arg *args = NULL;
	size_t n = 0, lits = 0;

	memset(p, 0, sizeof(*p));
	imap_arena_init(&p->arena);
	p->rc = imap_parse_args(&in, &p->arena, &args, &n, &lits, &p->error);
	if (p->rc == 0)
		p->rc = imap_search_parse(&p->arena, args, &p->prog, &p->error);
}

static void expect_ok(const char *line)
{
	struct parsed p;

	parse(&p, line);
	if (p.rc != 0)
		fail_msg("\"%s\": %s", line, p.error);
	imap_arena_deinit(&p.arena);
}

static void expect_bad(const char *line, const char *want_error)
{
	struct parsed p;

	parse(&p, line);
	if (p.rc == 0)
		fail_msg("\"%s\" parsed", line);
	if (want_error != NULL)
		assert_string_equal(p.error, want_error);
	imap_arena_deinit(&p.arena);
}

/* The kind of the only key of line. */
static enum imap_search_kind first_kind(const char *line)
{
	struct parsed p;
	enum imap_search_kind k;

	parse(&p, line);
	if (p.rc != 0)
		fail_msg("\"%s\": %s", line, p.error);
	assert_non_null(p.prog->root->children);
	k = p.prog->root->children->kind;
	imap_arena_deinit(&p.arena);
	return k;
}

/* --- the parser -------------------------------------------------------- */

static void test_parse_every_key(void **state)
{
	static const struct {
		const char *line;
		enum imap_search_kind kind;
	} t[] = {
	        {"ALL", IMAP_SK_ALL},
	        {"ANSWERED", IMAP_SK_FLAG},
	        {"BCC x", IMAP_SK_HEADER},
	        {"BEFORE 1-Feb-1994", IMAP_SK_BEFORE},
	        {"BODY \"hello world\"", IMAP_SK_BODY},
	        {"CC \"a b\"", IMAP_SK_HEADER},
	        {"DELETED", IMAP_SK_FLAG},
	        {"DRAFT", IMAP_SK_FLAG},
	        {"FLAGGED", IMAP_SK_FLAG},
	        {"FROM smith", IMAP_SK_HEADER},
	        {"HEADER Message-ID \"<a@b>\"", IMAP_SK_HEADER},
	        {"KEYWORD $Junk", IMAP_SK_KEYWORD},
	        {"LARGER 1000", IMAP_SK_LARGER},
	        {"NEW", IMAP_SK_NONE},
	        {"NOT SEEN", IMAP_SK_NOT},
	        {"OLD", IMAP_SK_ALL},
	        {"ON \"1-Feb-1994\"", IMAP_SK_ON},
	        {"OR SEEN FLAGGED", IMAP_SK_OR},
	        {"RECENT", IMAP_SK_NONE},
	        {"SEEN", IMAP_SK_FLAG},
	        {"SENTBEFORE 01-Jan-2000", IMAP_SK_SENTBEFORE},
	        {"SENTON 1-Jan-2000", IMAP_SK_SENTON},
	        {"SENTSINCE 1-Jan-2000", IMAP_SK_SENTSINCE},
	        {"SINCE 1-Jan-2000", IMAP_SK_SINCE},
	        {"SMALLER 9223372036854775807", IMAP_SK_SMALLER},
	        {"SUBJECT \"\"", IMAP_SK_HEADER},
	        {"TEXT x", IMAP_SK_TEXT},
	        {"TO x", IMAP_SK_HEADER},
	        {"UID 1:*,7", IMAP_SK_UIDSET},
	        {"UNANSWERED", IMAP_SK_FLAG},
	        {"UNDELETED", IMAP_SK_FLAG},
	        {"UNDRAFT", IMAP_SK_FLAG},
	        {"UNFLAGGED", IMAP_SK_FLAG},
	        {"UNKEYWORD $Junk", IMAP_SK_KEYWORD},
	        {"UNSEEN", IMAP_SK_FLAG},
	        {"1:3,5", IMAP_SK_SEQSET},
	        {"*", IMAP_SK_SEQSET},
	        {"$", IMAP_SK_SEQSET},
	        {"(SEEN FLAGGED)", IMAP_SK_AND},
	        {"unseen", IMAP_SK_FLAG},
	        {"uId 4", IMAP_SK_UIDSET},
	};

	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		assert_int_equal(first_kind(t[i].line), t[i].kind);
	}
}

static void test_parse_return_and_charset(void **state)
{
	struct parsed p;

	(void)state;
	parse(&p, "RETURN (MIN MAX COUNT) CHARSET utf-8 ALL");
	assert_int_equal(p.rc, 0);
	assert_true(p.prog->has_return);
	assert_int_equal(p.prog->ret, IMAP_SEARCH_RET_MIN |
	                                      IMAP_SEARCH_RET_MAX |
	                                      IMAP_SEARCH_RET_COUNT);
	assert_false(p.prog->bad_charset);
	imap_arena_deinit(&p.arena);

	parse(&p, "RETURN () ALL");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.prog->ret, IMAP_SEARCH_RET_ALL);
	imap_arena_deinit(&p.arena);

	parse(&p, "return (save) CHARSET US-ASCII seen");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.prog->ret, IMAP_SEARCH_RET_SAVE);
	assert_false(p.prog->bad_charset);
	imap_arena_deinit(&p.arena);

	/* An unknown charset is NO [BADCHARSET], decided at run time. */
	parse(&p, "CHARSET KOI8-R TEXT x");
	assert_int_equal(p.rc, 0);
	assert_true(p.prog->bad_charset);
	imap_arena_deinit(&p.arena);

	parse(&p, "SEEN");
	assert_int_equal(p.rc, 0);
	assert_false(p.prog->has_return);
	imap_arena_deinit(&p.arena);
}

static void test_parse_invalid(void **state)
{
	(void)state;
	expect_bad("BEFORE", "Missing argument to search key");
	expect_bad("FROM", "Missing argument to search key");
	expect_bad("HEADER Subject", "Missing argument to search key");
	expect_bad("HEADER \"\" x", "Invalid header field name");
	expect_bad("HEADER \"a:b\" x", "Invalid header field name");
	expect_bad("BEFORE 32-Jan-2020", "Invalid date");
	expect_bad("SINCE 1-Foo-2020", "Invalid date");
	expect_bad("ON 2020-01-01", "Invalid date");
	expect_bad("LARGER abc", "Invalid number");
	expect_bad("SMALLER -1", "Invalid number");
	expect_bad("KEYWORD \\Seen", "Invalid keyword");
	expect_bad("KEYWORD (a)", "Invalid keyword");
	expect_bad("UID x", NULL);
	expect_bad("UID 0", NULL);
	expect_bad("0", NULL);
	expect_bad("FOO", "Unknown search key");
	expect_bad("SEEN BOGUS", "Unknown search key");
	expect_bad("\"SEEN\"", "Invalid search key");
	expect_bad("NIL", "Invalid search key");
	expect_bad("NOT", "Missing argument to search key");
	expect_bad("OR SEEN", "Missing search key");
	expect_bad("()", "Empty search key list");
	expect_bad("(SEEN", NULL); /* unbalanced: the argument parser */
	expect_bad("SEEN)", NULL);
	expect_bad("", "Missing search criteria");
	expect_bad("RETURN (MIN)", "Missing search criteria");
	expect_bad("RETURN (FOO) ALL", "Unknown RETURN option");
	expect_bad("RETURN MIN ALL", "RETURN needs a list of options");
	expect_bad("CHARSET", "CHARSET needs a name");
	expect_bad("CHARSET (x) ALL", "CHARSET needs a name");
	expect_bad("CHARSET UTF-8", "Missing search criteria");
	/* RETURN and CHARSET only at the start, in that order. */
	expect_bad("CHARSET UTF-8 RETURN (MIN) ALL", "Unknown search key");
	expect_bad("ALL CHARSET UTF-8", "Unknown search key");
}

static void test_parse_depth_and_key_bounds(void **state)
{
	char line[4096] = "";
	char *p;

	(void)state;
	/* 31 NOTs and the key are 32 levels: fine; 32 NOTs are not. */
	for (int i = 0; i < 31; i++)
		strcat(line, "NOT ");
	strcat(line, "SEEN");
	expect_ok(line);
	strcpy(line, "NOT ");
	for (int i = 0; i < 31; i++)
		strcat(line, "NOT ");
	strcat(line, "SEEN");
	expect_bad(line, "Search keys nested too deeply");
	line[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(line, "OR SEEN ");
	strcat(line, "SEEN");
	expect_bad(line, "Search keys nested too deeply");
	/* Keys: 999 keys and the implicit AND are 1000. */
	p = malloc(8 * 1001);
	p[0] = '\0';
	for (int i = 0; i < 999; i++)
		strcat(p, i ? " SEEN" : "SEEN");
	expect_ok(p);
	strcat(p, " SEEN");
	expect_bad(p, NULL);
	free(p);
}

static void test_parse_sorts_cheap_keys_first(void **state)
{
	struct parsed p;
	struct imap_search_key *k;

	(void)state;
	parse(&p, "BODY x SUBJECT y SEEN UID 1:5");
	assert_int_equal(p.rc, 0);
	k = p.prog->root->children;
	assert_int_equal(k->kind, IMAP_SK_FLAG);
	assert_int_equal(k->next->kind, IMAP_SK_UIDSET);
	assert_int_equal(k->next->next->kind, IMAP_SK_HEADER);
	assert_int_equal(k->next->next->next->kind, IMAP_SK_BODY);
	assert_int_equal(p.prog->need,
	                 IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY);
	imap_arena_deinit(&p.arena);
}

/* --- matching ---------------------------------------------------------- */

static bool contains(const char *hay, const char *needle)
{
	struct imap_arena a;
	struct imap_search_matcher m;
	bool r;

	imap_arena_init(&a);
	imap_search_matcher_init(&m, &a, needle, strlen(needle));
	r = imap_search_matcher_find(&m, hay, strlen(hay));
	imap_arena_deinit(&a);
	return r;
}

static void test_match_is_literal(void **state)
{
	(void)state;
	assert_true(contains("50% off", "50%"));
	assert_false(contains("500 off", "50%"));
	assert_false(contains("abc", "a_c"));
	assert_true(contains("a_c", "a_c"));
	assert_false(contains("anything", "*"));
	assert_false(contains("anything", "%"));
	assert_true(contains("say \"hi\" now", "\"hi\""));
	assert_false(contains("say hi now", "\"hi\""));
	assert_true(contains("C:\\dir", "c:\\DIR"));
	assert_false(contains("C:dir", "c:\\dir"));
	assert_false(contains("it's", "it''s"));
}

static void test_match_case_and_bytes(void **state)
{
	(void)state;
	assert_true(contains("Hello World", "hello WORLD"));
	assert_true(contains("", ""));
	assert_true(contains("x", ""));
	assert_false(contains("", "x"));
	/* 8-bit bytes compare exactly: "é" does not match "É". */
	assert_true(contains("caf\xc3\xa9", "CAF\xc3\xa9"));
	assert_false(contains("CAF\xc3\x89", "caf\xc3\xa9"));
	/* Partial matches that restart (the KMP failure links). */
	assert_true(contains("aaab", "aab"));
	assert_true(contains("abababca", "ababca"));
	assert_false(contains("abababc", "ababca"));
}

static void test_match_in_pieces(void **state)
{
	static const char text[] = "xxabcabcabdxx";
	struct imap_arena a;
	struct imap_search_matcher m;

	(void)state;
	imap_arena_init(&a);
	imap_search_matcher_init(&m, &a, "ABCABD", 6);
	/* Split at every offset: the match is found whatever the split. */
	for (size_t cut = 0; cut <= sizeof(text) - 1; cut++) {
		imap_search_matcher_reset(&m);
		bool r = imap_search_matcher_feed(&m, text, cut);

		r = imap_search_matcher_feed(&m, text + cut,
		                             sizeof(text) - 1 - cut) ||
		    r;
		assert_true(r);
	}
	/* One byte at a time. */
	imap_search_matcher_reset(&m);
	for (size_t i = 0; i < sizeof(text) - 1; i++)
		imap_search_matcher_feed(&m, text + i, 1);
	assert_true(m.matched);
	imap_arena_deinit(&a);
}

static void expect_decoded(const char *in, const char *want)
{
	struct po_buf out = PO_BUF_INIT;

	imap_search_decode_header(in, strlen(in), &out);
	assert_string_equal(out.data != NULL ? out.data : "", want);
	po_buf_deinit(&out);
}

static void test_decode_encoded_words(void **state)
{
	(void)state;
	expect_decoded("=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9");
	expect_decoded("=?utf-8?q?caf=C3=A9_au_lait?=", "caf\xc3\xa9 au lait");
	expect_decoded("=?ISO-8859-1?Q?caf=E9?=", "caf\xc3\xa9");
	expect_decoded("=?iso-8859-1?b?Y2Fm6Q==?=", "caf\xc3\xa9");
	/* RFC 2047 §6.2: white space between encoded words goes. */
	expect_decoded("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab");
	expect_decoded("=?UTF-8?Q?a?= x =?UTF-8?Q?b?=", "a x b");
	expect_decoded("Re: =?UTF-8?Q?hi?= there", "Re: hi there");
	/* RFC 2231 language suffix. */
	expect_decoded("=?UTF-8*en?Q?hi?=", "hi");
	/* Malformed words are kept as written. */
	expect_decoded("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=");
	expect_decoded("=?UTF-8?Q?no end", "=?UTF-8?Q?no end");
	expect_decoded("=? x", "=? x");
	expect_decoded("a = b", "a = b");
}

static void test_header_fields_unfolded(void **state)
{
	static const char hdr[] = "Subject: one\r\n two\r\n"
	                          "From: =?UTF-8?Q?J=C3=B6rg?= <j@x>\r\n"
	                          "X-Empty:\r\n"
	                          "bogus line\r\n"
	                          "To:\ta@b\n"
	                          "\r\n"
	                          "Body: not a field\r\n";
	struct imap_search_header h = {0};
	const struct imap_search_field *f;

	(void)state;
	imap_search_header_parse(&h, hdr, sizeof(hdr) - 1);
	assert_int_equal(h.count, 4);
	f = &h.fields[0];
	assert_memory_equal(h.buf.data + f->name_off, "Subject", 7);
	assert_int_equal(f->value_len, 7);
	assert_memory_equal(h.buf.data + f->value_off, "one two", 7);
	f = &h.fields[1];
	assert_int_equal(f->value_len, strlen("J\xc3\xb6rg <j@x>"));
	assert_memory_equal(h.buf.data + f->value_off, "J\xc3\xb6rg <j@x>",
	                    f->value_len);
	assert_int_equal(h.fields[2].value_len, 0);
	assert_int_equal(h.fields[3].value_len, 3);
	imap_search_header_deinit(&h);
}

static void test_decode_body(void **state)
{
	struct po_buf out = PO_BUF_INIT;

	(void)state;
	assert_true(
	        imap_search_decode_body("BASE64", "aGVs\r\nbG8=", 10, &out));
	assert_string_equal(out.data, "hello");
	po_buf_reset(&out);
	assert_true(imap_search_decode_body("quoted-printable",
	                                    "caf=C3=A9 =\r\nx=3D", 18, &out));
	assert_string_equal(out.data, "caf\xc3\xa9 x=");
	po_buf_reset(&out);
	assert_false(imap_search_decode_body("7bit", "x", 1, &out));
	assert_int_equal(out.len, 0);
	po_buf_deinit(&out);
}

/* --- output ------------------------------------------------------------ */

static void expect_result(const char *tag, bool uid, bool has_return,
                          unsigned ret, bool esearch, const uint32_t *v,
                          size_t n, const char *want)
{
	struct po_buf out = PO_BUF_INIT;

	imap_search_write_result(&out, tag, uid, has_return, ret, esearch, v,
	                         n);
	assert_string_equal(out.data != NULL ? out.data : "", want);
	po_buf_deinit(&out);
}

static void test_write_set_compresses(void **state)
{
	static const uint32_t v[] = {1, 2, 3, 5, 7, 8, 10, 4294967295u};
	static const uint32_t w[] = {9, 10, 11, 3, 4, 20};
	struct po_buf out = PO_BUF_INIT;

	(void)state;
	imap_search_write_set(&out, v, 8);
	assert_string_equal(out.data, "1:3,5,7:8,10,4294967295");
	po_buf_reset(&out);
	imap_search_write_set(&out, v, 1);
	assert_string_equal(out.data, "1");
	po_buf_reset(&out);
	imap_search_write_ordered_set(&out, w, 6);
	assert_string_equal(out.data, "9:11,3:4,20");
	po_buf_deinit(&out);
}

static void test_write_search_and_esearch(void **state)
{
	static const uint32_t v[] = {2, 10, 11};
	const unsigned all = IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX |
	                     IMAP_SEARCH_RET_COUNT | IMAP_SEARCH_RET_ALL;

	(void)state;
	expect_result("A1", false, false, 0, false, v, 3,
	              "* SEARCH 2 10 11\r\n");
	expect_result("A1", true, false, 0, false, NULL, 0, "* SEARCH\r\n");
	/* IMAP4rev2 enabled: ESEARCH with ALL. */
	expect_result("A283", false, false, 0, true, v, 3,
	              "* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n");
	expect_result("A282", false, true,
	              IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_COUNT, false, v, 3,
	              "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n");
	expect_result("t", true, true, all, false, v, 3,
	              "* ESEARCH (TAG \"t\") UID MIN 2 MAX 11 COUNT 3 "
	              "ALL 2,10:11\r\n");
	/* No match: only COUNT is sent (RFC 9051 §6.4.4). */
	expect_result("t", true, true, all, false, NULL, 0,
	              "* ESEARCH (TAG \"t\") UID COUNT 0\r\n");
	expect_result("A284", false, true, IMAP_SEARCH_RET_ALL, true, NULL, 0,
	              "* ESEARCH (TAG \"A284\")\r\n");
	/* SAVE alone: no response (RFC 5182 §2.4). */
	expect_result("t", false, true, IMAP_SEARCH_RET_SAVE, false, v, 3, "");
	expect_result("t", false, true,
	              IMAP_SEARCH_RET_SAVE | IMAP_SEARCH_RET_MIN, false, v, 3,
	              "* ESEARCH (TAG \"t\") MIN 2\r\n");
}

static void expect_saved(unsigned ret, const uint32_t *v, size_t n,
                         const char *want)
{
	struct po_buf out = PO_BUF_INIT;
	uint32_t *saved;
	size_t ns;

	imap_search_saved_result(ret | IMAP_SEARCH_RET_SAVE, v, n, &saved, &ns);
	imap_search_write_set(&out, saved, ns);
	assert_string_equal(out.data != NULL ? out.data : "", want);
	free(saved);
	po_buf_deinit(&out);
}

static void test_saved_result_rules(void **state)
{
	static const uint32_t v[] = {4, 7, 9};

	(void)state;
	expect_saved(0, v, 3, "4,7,9");
	expect_saved(IMAP_SEARCH_RET_MIN, v, 3, "4");
	expect_saved(IMAP_SEARCH_RET_MAX, v, 3, "9");
	expect_saved(IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX, v, 3, "4,9");
	expect_saved(IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX, v, 1, "4");
	expect_saved(IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_COUNT, v, 3,
	             "4,7,9");
	expect_saved(IMAP_SEARCH_RET_ALL, NULL, 0, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_every_key),
	        cmocka_unit_test(test_parse_return_and_charset),
	        cmocka_unit_test(test_parse_invalid),
	        cmocka_unit_test(test_parse_depth_and_key_bounds),
	        cmocka_unit_test(test_parse_sorts_cheap_keys_first),
	        cmocka_unit_test(test_match_is_literal),
	        cmocka_unit_test(test_match_case_and_bytes),
	        cmocka_unit_test(test_match_in_pieces),
	        cmocka_unit_test(test_decode_encoded_words),
	        cmocka_unit_test(test_header_fields_unfolded),
	        cmocka_unit_test(test_decode_body),
	        cmocka_unit_test(test_write_set_compresses),
	        cmocka_unit_test(test_write_search_and_esearch),
	        cmocka_unit_test(test_saved_result_rules),
	};

	return cmocka_run_group_tests_name("imap_search", tests, NULL, NULL);
}
