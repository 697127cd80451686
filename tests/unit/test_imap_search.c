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
#include "imap.h"

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

/* --- sessions over the in-memory core ------------------------------------ */

/* Small corpus: 1 from Smith (encoded subject), 2 from Jörg, 3 large. */
#define MSG1                                                                   \
	"From: John Smith <smith@example.com>\r\n"                             \
	"To: alice@example.com\r\n"                                            \
	"Subject: =?UTF-8?Q?Caf=C3=A9_meeting?=\r\n"                           \
	"Date: Tue, 1 Feb 1994 10:00:00 +0000\r\n"                             \
	"\r\n"                                                                 \
	"See you at 50% off.\r\n"
#define MSG2                                                                   \
	"From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.org>\r\n"                \
	"To: alice@example.com\r\n"                                            \
	"Subject: lunch\r\n"                                                   \
	"X-Tag: a_c\r\n"                                                       \
	"Content-Transfer-Encoding: base64\r\n"                                \
	"\r\n"                                                                 \
	"c2VjcmV0IHdvcmQ=\r\n"
#define MSG3                                                                   \
	"From: Bob <bob@example.net>\r\n"                                      \
	"Subject: report\r\n"                                                  \
	"Date: Sat, 1 Jan 2000 00:00:00 +0000\r\n"                             \
	"\r\n"                                                                 \
	"A long body line to make this one larger than the others, with "      \
	"more words: abc abc abc abc abc abc abc abc abc abc abc abc abc.\r\n"

static int session_setup(void **state)
{
	struct fake_env *fe = fake_env_new();

	fake_env_add_account(fe, "alice", "secret", true, true);
	fake_env_deliver(fe, "alice", MSG1);
	fake_env_deliver(fe, "alice", MSG2);
	fake_env_deliver(fe, "alice", MSG3);
	*state = fe;
	return 0;
}

static int session_teardown(void **state)
{
	struct fake_env *fe = *state;

	fake_env_free(&fe);
	return 0;
}

static char *take(struct po_conn *c)
{
	return fake_take(c);
}

/* Logged in, INBOX selected, output taken. */
static struct po_conn *session(struct fake_env *fe)
{
	struct po_conn *c = fake_conn_new(fe, &imap_protocol);
	char *got;

	struct imap_session *s = c->session;

	/* imap_session.c (being written) does not set the first state yet. */
	if (s->state == 0)
		s->state = IMAP_S_NOTAUTH;
	c->plaintext_allowed = true;
	fake_line(c, "a LOGIN alice secret");
	fake_line(c, "b SELECT INBOX");
	got = take(c);
	if (strstr(got, "b OK") == NULL)
		fail_msg("%s", got);
	free(got);
	return c;
}

/* Send line, expect the exact reply. */
static void cmd(struct po_conn *c, const char *line, const char *want)
{
	char *got;

	c->bad_commands = 0;
	fake_line(c, line);
	got = take(c);
	if (want == NULL)
		printf("%s => %s", line, got);
	else if (strcmp(got, want) != 0)
		fail_msg("%s\n got: \"%s\"\nwant: \"%s\"", line, got, want);
	free(got);
}

static void test_session_search_corpus(void **state)
{
	struct po_conn *c = session(*state);
	char line[128];
	size_t big = strlen(MSG1) > strlen(MSG2) ? strlen(MSG1) : strlen(MSG2);

	cmd(c, "s SEARCH FROM smith",
	    "* SEARCH 1\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH from SMITH@EXAMPLE",
	    "* SEARCH 1\r\ns OK SEARCH completed\r\n");
	/* Encoded words are decoded before matching (RFC 2047). */
	cmd(c, "s SEARCH SUBJECT \"caf\xc3\xa9 meeting\"",
	    "* SEARCH 1\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH CHARSET UTF-8 FROM \"J\xc3\xb6rg\"",
	    "* SEARCH 2\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH SUBJECT Q?Caf",
	    "* SEARCH\r\ns OK SEARCH completed\r\n");
	/* The string is literal: no wildcards. */
	cmd(c, "s SEARCH SUBJECT \"%\"",
	    "* SEARCH\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH HEADER X-Tag a_c",
	    "* SEARCH 2\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH HEADER X-Tag abc",
	    "* SEARCH\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH HEADER x-tag \"\"",
	    "* SEARCH 2\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH BODY \"50%\"",
	    "* SEARCH 1\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH BODY lunch", "* SEARCH\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH TEXT lunch",
	    "* SEARCH 2\r\ns OK SEARCH completed\r\n");
	snprintf(line, sizeof(line), "s SEARCH LARGER %zu", big);
	cmd(c, line, "* SEARCH 3\r\ns OK SEARCH completed\r\n");
	snprintf(line, sizeof(line), "s SEARCH SMALLER %zu", big + 1);
	cmd(c, line, "* SEARCH 1 2\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH NOT FROM smith",
	    "* SEARCH 2 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH OR FROM smith FROM bob",
	    "* SEARCH 1 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH (OR FROM smith FROM bob) NOT 1",
	    "* SEARCH 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s UID SEARCH UID 2:*",
	    "* SEARCH 2 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s UID SEARCH UID 7:*",
	    "* SEARCH 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH 2:*", "* SEARCH 2 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH SENTBEFORE 1-Jan-2000",
	    "* SEARCH 1\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH SENTON 1-Feb-1994",
	    "* SEARCH 1\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH SENTSINCE 1-Jan-2000",
	    "* SEARCH 3\r\ns OK SEARCH completed\r\n");
	/* Internal dates are now. */
	cmd(c, "s SEARCH SINCE 1-Jan-2000",
	    "* SEARCH 1 2 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH BEFORE 1-Jan-2000",
	    "* SEARCH\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH BEFORE 32-Jan-2020", "s BAD Invalid date\r\n");
	cmd(c, "s SEARCH CHARSET KOI8-R ALL",
	    "s NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_session_search_decodes_base64_body(void **state)
{
	struct po_conn *c = session(*state);

	cmd(c, "s SEARCH BODY \"secret word\"",
	    "* SEARCH 2\r\ns OK SEARCH completed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_session_esearch_and_save(void **state)
{
	struct po_conn *c = session(*state);

	cmd(c, "s SEARCH RETURN (MIN MAX COUNT ALL) NOT FROM smith",
	    "* ESEARCH (TAG \"s\") MIN 2 MAX 3 COUNT 2 ALL 2:3\r\n"
	    "s OK SEARCH completed\r\n");
	cmd(c, "s UID SEARCH RETURN (COUNT) FROM nobody",
	    "* ESEARCH (TAG \"s\") UID COUNT 0\r\n"
	    "s OK SEARCH completed\r\n");
	cmd(c, "s SEARCH RETURN (SAVE) OR FROM bob FROM smith",
	    "s OK SEARCH completed\r\n");
	cmd(c, "s SEARCH $", "* SEARCH 1 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s UID SEARCH NOT UID $",
	    "* SEARCH 2\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH RETURN (SAVE MAX) ALL",
	    "* ESEARCH (TAG \"s\") MAX 3\r\ns OK SEARCH completed\r\n");
	cmd(c, "s SEARCH $", "* SEARCH 3\r\ns OK SEARCH completed\r\n");
	/* A SEARCH with SAVE that fails with NO empties "$" (RFC 5182). */
	cmd(c, "s SEARCH RETURN (SAVE) CHARSET X ALL",
	    "s NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n");
	cmd(c, "s SEARCH $", "* SEARCH\r\ns OK SEARCH completed\r\n");
	/* IMAP4rev2 clients get ESEARCH. */
	fake_line(c, "e ENABLE IMAP4rev2");
	free(take(c));
	cmd(c, "s SEARCH FROM smith",
	    "* ESEARCH (TAG \"s\") ALL 1\r\ns OK SEARCH completed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_session_store_responses(void **state)
{
	struct po_conn *c = session(*state);

	cmd(c, "t STORE 1 +FLAGS (\\Seen)",
	    "* 1 FETCH (FLAGS (\\Seen))\r\nt OK STORE completed\r\n");
	cmd(c, "t UID STORE 2 FLAGS.SILENT (\\Flagged $Work)",
	    /* A new keyword: FLAGS and PERMANENTFLAGS announce it
	     * (RFC 9051 §7.3.5); .SILENT still means no FETCH. */
	    "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work)\r\n"
	    "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted "
	    "\\Draft $Work \\*)] Flags permitted\r\n"
	    "t OK STORE completed\r\n");
	/* Not silent: the announcement comes before the FETCH showing the
	 * keyword, and the FETCH comes once. */
	cmd(c, "t STORE 3 +FLAGS ($Other)",
	    "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work "
	    "$Other)\r\n"
	    "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted "
	    "\\Draft $Work $Other \\*)] Flags permitted\r\n"
	    "* 3 FETCH (FLAGS ($Other))\r\n"
	    "t OK STORE completed\r\n");
	cmd(c, "t STORE 3 -FLAGS.SILENT ($Other)", "t OK STORE completed\r\n");
	cmd(c, "t UID STORE 1:3 +FLAGS \\Answered",
	    "* 1 FETCH (UID 1 FLAGS (\\Seen \\Answered))\r\n"
	    "* 2 FETCH (UID 2 FLAGS (\\Answered \\Flagged $Work))\r\n"
	    "* 3 FETCH (UID 3 FLAGS (\\Answered))\r\n"
	    "t OK STORE completed\r\n");
	cmd(c, "t STORE 1:2 -FLAGS.SILENT (\\Answered $Work)",
	    "t OK STORE completed\r\n");
	cmd(c, "t SEARCH KEYWORD $work",
	    "* SEARCH\r\nt OK SEARCH completed\r\n");
	cmd(c, "t STORE 3 +flags $Work",
	    "* 3 FETCH (FLAGS (\\Answered $Work))\r\n"
	    "t OK STORE completed\r\n");
	cmd(c, "t SEARCH KEYWORD $work",
	    "* SEARCH 3\r\nt OK SEARCH completed\r\n");
	cmd(c, "t SEARCH UNKEYWORD $Work",
	    "* SEARCH 1 2\r\nt OK SEARCH completed\r\n");
	cmd(c, "t SEARCH KEYWORD $Nope",
	    "* SEARCH\r\nt OK SEARCH completed\r\n");
	cmd(c, "t SEARCH SEEN FLAGGED",
	    "* SEARCH\r\nt OK SEARCH completed\r\n");
	cmd(c, "t SEARCH UNSEEN UNANSWERED",
	    "* SEARCH 2\r\nt OK SEARCH completed\r\n");
	/* UNCHANGEDSINCE 0 always fails (RFC 7162 §3.1.3). */
	cmd(c, "t STORE 1,3 (UNCHANGEDSINCE 0) +FLAGS (\\Deleted)",
	    "t OK [MODIFIED 1,3] Conditional STORE failed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static uint32_t uidvalidity_of(struct fake_env *fe, const char *name,
                               uint32_t *messages_r);

/* The MODSEQ of INBOX's message uid. */
static uint64_t modseq_of(struct fake_env *fe, uint32_t uid)
{
	struct auth_account acc;
	struct store_account *a = NULL;
	struct store_mailbox_info info;
	struct store_msg_ext *list = NULL;
	size_t n = 0;
	uint64_t m;

	assert_int_equal(auth_account_get(fe->env.auth, "alice", &acc), 0);
	assert_int_equal(store_account_open(fe->env.store, acc.id, &a),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(a, "INBOX", &info), STORE_OK);
	assert_int_equal(store_list_ext(a, info.id, uid, uid, &list, &n),
	                 STORE_OK);
	assert_int_equal(n, 1);
	m = list[0].m.modseq;
	free(list);
	store_account_close(&a);
	return m;
}

static void test_session_store_unchangedsince(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = session(fe);
	char line[128];

	cmd(c, "t STORE 1 +FLAGS.SILENT (\\Seen)", "t OK STORE completed\r\n");
	/* Message 1 changed after message 3's MODSEQ: only 3 is stored. */
	snprintf(line, sizeof(line),
	         "t STORE 1:3 (UNCHANGEDSINCE %llu) +FLAGS (\\Deleted)",
	         (unsigned long long)modseq_of(fe, 3));
	cmd(c, line,
	    "* 2 FETCH (FLAGS (\\Deleted))\r\n"
	    "* 3 FETCH (FLAGS (\\Deleted))\r\n"
	    "t OK [MODIFIED 1] Conditional STORE failed\r\n");
	snprintf(line, sizeof(line),
	         "t UID STORE 1 (UNCHANGEDSINCE %llu) -FLAGS (\\Seen)",
	         (unsigned long long)modseq_of(fe, 1));
	cmd(c, line, "* 1 FETCH (UID 1 FLAGS ())\r\nt OK STORE completed\r\n");
	cmd(c, "t SEARCH DELETED", "* SEARCH 2 3\r\nt OK SEARCH completed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_session_store_invalid(void **state)
{
	struct po_conn *c = session(*state);

	cmd(c, "t STORE 1 +FLAGS (\\Recent)",
	    "t BAD \\Recent cannot be set\r\n");
	cmd(c, "t STORE 1 FLAGS", "t BAD Missing flags\r\n");
	cmd(c, "t STORE 1 XFLAGS (\\Seen)",
	    "t BAD Expected FLAGS, +FLAGS or -FLAGS\r\n");
	cmd(c, "t STORE 1 FLAGS.LOUD (\\Seen)",
	    "t BAD Expected FLAGS, +FLAGS or -FLAGS\r\n");
	cmd(c, "t STORE 1 (FOO 1) FLAGS (\\Seen)",
	    "t BAD Unknown STORE modifier\r\n");
	cmd(c, "t STORE 1 (UNCHANGEDSINCE) FLAGS (\\Seen)",
	    "t BAD UNCHANGEDSINCE needs a mod-sequence\r\n");
	cmd(c, "t STORE 1 FLAGS (\\Seen) extra",
	    "t BAD Unexpected argument after the flag list\r\n");
	cmd(c, "t STORE x FLAGS (\\Seen)", "t BAD Invalid sequence set\r\n");
	cmd(c, "t STORE", "t BAD Missing sequence set\r\n");
	cmd(c, "t STORE 4 FLAGS (\\Seen)", "t BAD Invalid sequence number\r\n");
	fake_line(c, "x EXAMINE INBOX");
	free(take(c));
	cmd(c, "t STORE 1 FLAGS (\\Seen)",
	    "t NO [READ-ONLY] Mailbox is selected read-only\r\n");
	cmd(c, "t MOVE 1 Archive",
	    "t NO [READ-ONLY] Mailbox is selected read-only\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static uint32_t uidvalidity_of(struct fake_env *fe, const char *name,
                               uint32_t *messages_r)
{
	struct auth_account acc;
	struct store_account *a = NULL;
	struct store_mailbox_info info;

	assert_int_equal(auth_account_get(fe->env.auth, "alice", &acc), 0);
	assert_int_equal(store_account_open(fe->env.store, acc.id, &a),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(a, name, &info), STORE_OK);
	store_account_close(&a);
	if (messages_r != NULL)
		*messages_r = info.messages;
	return info.uidvalidity;
}

static void test_session_copy_move(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = session(fe);
	uint32_t v = uidvalidity_of(fe, "Archive", NULL), n;
	char want[256];

	cmd(c, "t COPY 1 Nope",
	    "t NO [TRYCREATE] Destination mailbox does not exist\r\n");
	cmd(c, "t COPY 1", "t BAD Missing mailbox name\r\n");
	snprintf(want, sizeof(want),
	         "t OK [COPYUID %u 1,3 1:2] COPY completed\r\n", v);
	cmd(c, "t COPY 1,3 Archive", want);
	uidvalidity_of(fe, "Archive", &n);
	assert_int_equal(n, 2);
	cmd(c, "t UID COPY 9:10 Archive", "t OK COPY completed\r\n");
	snprintf(want, sizeof(want),
	         "* OK [COPYUID %u 2:3 3:4] Moved\r\n"
	         "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nt OK MOVE completed\r\n",
	         v);
	cmd(c, "t MOVE 2:3 Archive", want);
	uidvalidity_of(fe, "Archive", &n);
	assert_int_equal(n, 4);
	uidvalidity_of(fe, "INBOX", &n);
	assert_int_equal(n, 1);
	cmd(c, "t SEARCH ALL", "* SEARCH 1\r\nt OK SEARCH completed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
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

	const struct CMUnitTest session_tests[] = {
#define SESSION_TEST(t)                                                        \
	cmocka_unit_test_setup_teardown(t, session_setup, session_teardown)
	        SESSION_TEST(test_session_search_corpus),
	        SESSION_TEST(test_session_search_decodes_base64_body),
	        SESSION_TEST(test_session_esearch_and_save),
	        SESSION_TEST(test_session_store_responses),
	        SESSION_TEST(test_session_store_unchangedsince),
	        SESSION_TEST(test_session_store_invalid),
	        SESSION_TEST(test_session_copy_move),
	};
	int r = cmocka_run_group_tests_name("imap_search", tests, NULL, NULL);

	return r + cmocka_run_group_tests_name("imap_search_sessions",
	                                       session_tests, NULL, NULL);
}
