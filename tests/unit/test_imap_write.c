/*
 * Unit tests of the IMAP writers (imap_write.c) and input helpers
 * (imap_util.c): the exact bytes of strings, astrings, flag lists and
 * dates, and what the flag and date parsers accept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "imap_private.h"

static void check_string(const char *in, size_t len, bool utf8,
                         const char *want, size_t want_len)
{
	struct po_buf out = PO_BUF_INIT;

	imap_write_string(&out, in, len, utf8);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(out.data, want, want_len);
	po_buf_deinit(&out);
}

#define CHECK_STRING(in, utf8, want)                                           \
	check_string(in, sizeof(in) - 1, utf8, want, sizeof(want) - 1)

static void test_string_quotes_and_escapes(void **state)
{
	(void)state;
	CHECK_STRING("abc", false, "\"abc\"");
	CHECK_STRING("", false, "\"\"");
	CHECK_STRING("a b(c)", false, "\"a b(c)\"");
	CHECK_STRING("say \"hi\"", false, "\"say \\\"hi\\\"\"");
	CHECK_STRING("back\\slash", false, "\"back\\\\slash\"");
}

static void test_string_uses_literal_when_it_must(void **state)
{
	char big[1001];

	(void)state;
	/* 8-bit: a literal, unless UTF8=ACCEPT and valid UTF-8. */
	CHECK_STRING("caf\xc3\xa9", false, "{5}\r\ncaf\xc3\xa9");
	CHECK_STRING("caf\xc3\xa9", true, "\"caf\xc3\xa9\"");
	CHECK_STRING("bad\xff", true, "{4}\r\nbad\xff");
	CHECK_STRING("\xc0\xaf", true, "{2}\r\n\xc0\xaf"); /* overlong */
	CHECK_STRING("a\r\nb", false, "{4}\r\na\r\nb");
	CHECK_STRING("a\nb", true, "{3}\r\na\nb");
	memset(big, 'x', sizeof(big));
	{
		struct po_buf out = PO_BUF_INIT;

		imap_write_string(&out, big, 1000, false);
		assert_int_equal(out.len, 1002);
		po_buf_reset(&out);
		imap_write_string(&out, big, 1001, false);
		assert_memory_equal(out.data, "{1001}\r\nxxx", 11);
		po_buf_deinit(&out);
	}
}

static void test_nstring_and_astring(void **state)
{
	struct po_buf out = PO_BUF_INIT;

	(void)state;
	imap_write_nstring(&out, NULL, 0, false);
	po_buf_add(&out, " ", 1);
	imap_write_nstring(&out, "x", 1, false);
	po_buf_add(&out, " ", 1);
	imap_write_astring(&out, "INBOX", 5, false);
	po_buf_add(&out, " ", 1);
	imap_write_astring(&out, "a]b", 3, false);
	po_buf_add(&out, " ", 1);
	imap_write_astring(&out, "nil", 3, false);
	po_buf_add(&out, " ", 1);
	imap_write_astring(&out, "", 0, false);
	po_buf_add(&out, " ", 1);
	imap_write_astring(&out, "a%", 2, false);
	po_buf_add(&out, " ", 1);
	imap_write_astring(&out, "Sent Items", 10, false);
	po_buf_add(&out, " ", 1);
	imap_write_astring(&out, "a{b", 3, false);
	assert_string_equal(out.data, "NIL \"x\" INBOX a]b \"nil\" \"\" \"a%\" "
	                              "\"Sent Items\" \"a{b\"");
	po_buf_deinit(&out);
}

static void test_mailbox_name_is_mutf7_unless_utf8(void **state)
{
	struct imap_session s;
	struct po_buf out = PO_BUF_INIT;

	(void)state;
	memset(&s, 0, sizeof(s));
	imap_write_mailbox(&s, &out, "Entw\xc3\xbcrfe");
	assert_string_equal(out.data, "Entw&APw-rfe");
	po_buf_reset(&out);
	s.enabled_utf8 = true;
	imap_write_mailbox(&s, &out, "Entw\xc3\xbcrfe");
	assert_string_equal(out.data, "\"Entw\xc3\xbcrfe\"");
	po_buf_deinit(&out);
}

static void test_flags_and_date_time(void **state)
{
	struct po_buf out = PO_BUF_INIT;
	char *names[STORE_KEYWORDS_MAX] = {NULL};

	(void)state;
	names[0] = "$Work";
	names[3] = "Later";
	imap_write_flags(&out, 0, 0, NULL);
	po_buf_add(&out, " ", 1);
	imap_write_flags(&out, STORE_F_SEEN | STORE_F_DELETED,
	                 (1u << 0) | (1u << 3) | (1u << 5), names);
	assert_string_equal(out.data, "() (\\Seen \\Deleted $Work Later)");
	po_buf_reset(&out);
	imap_write_date_time(&out, 837596665);
	po_buf_add(&out, " ", 1);
	imap_write_date_time(&out, 0);
	assert_string_equal(out.data, "\"17-Jul-1996 09:44:25 +0000\" "
	                              "\"01-Jan-1970 00:00:00 +0000\"");
	po_buf_deinit(&out);
}

static void test_parse_date_time(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(
	        imap_parse_date_time("17-Jul-1996 02:44:25 -0700", 26, &t), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(
	        imap_parse_date_time("17-jul-1996 09:44:25 +0000", 26, &t), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(
	        imap_parse_date_time(" 1-Jan-1970 01:00:00 +0100", 26, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(
	        imap_parse_date_time("01-Jan-1970 00:00:00 +0000", 26, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(
	        imap_parse_date_time("32-Jan-1970 00:00:00 +0000", 26, &t), -1);
	assert_int_equal(
	        imap_parse_date_time("29-Feb-2001 00:00:00 +0000", 26, &t), -1);
	assert_int_equal(
	        imap_parse_date_time("01-Foo-1970 00:00:00 +0000", 26, &t), -1);
	assert_int_equal(
	        imap_parse_date_time("01-Jan-1970 24:00:00 +0000", 26, &t), -1);
	assert_int_equal(
	        imap_parse_date_time("01-Jan-1970 00:00:00 0000", 25, &t), -1);
	assert_int_equal(
	        imap_parse_date_time("01-Jan-1970 00:00:00 +0000x", 27, &t),
	        -1);
	assert_int_equal(imap_parse_date_time("01-Jan-1970", 11, &t), -1);
	assert_int_equal(imap_parse_date("29-Feb-2000", 11, &t), 0);
	assert_int_equal(t, 951782400);
	assert_int_equal(imap_parse_date("1-Jan-1970", 10, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(imap_parse_date(" 1-Jan-1970", 11, &t), -1);
	assert_int_equal(imap_parse_date("1-Jan-70", 8, &t), -1);
	/* Every prefix of a valid date-time is refused, never overread. */
	for (size_t n = 0; n < 26; n++)
		assert_int_equal(imap_parse_date_time("17-Jul-1996 02:44:25 "
		                                      "-0700",
		                                      n, &t),
		                 -1);
}

/* Parse one command's arguments from text. */
static struct imap_arg *args_of(struct imap_arena *arena, const char *text)
{
	struct imap_input_part part = {text, strlen(text), false};
	struct imap_input in = {&part, 1};
	struct imap_arg *args;
	size_t n, lits;
	const char *err;

	assert_int_equal(imap_parse_args(&in, arena, &args, &n, &lits, &err),
	                 0);
	return args;
}

static void test_parse_flags(void **state)
{
	struct imap_arena arena;
	const char *kw[4], *err;
	size_t n_kw;
	uint32_t flags;

	(void)state;
	imap_arena_init(&arena);
	assert_int_equal(
	        imap_parse_flags(args_of(&arena, "(\\seen $Work \\Draft"
	                                         " later)"),
	                         &flags, kw, 4, &n_kw, &err),
	        0);
	assert_int_equal(flags, STORE_F_SEEN | STORE_F_DRAFT);
	assert_int_equal(n_kw, 2);
	assert_string_equal(kw[0], "$Work");
	assert_string_equal(kw[1], "later");
	assert_int_equal(imap_parse_flags(args_of(&arena, "\\Flagged"), &flags,
	                                  kw, 4, &n_kw, &err),
	                 0);
	assert_int_equal(flags, STORE_F_FLAGGED);
	assert_int_equal(n_kw, 0);
	assert_int_equal(imap_parse_flags(args_of(&arena, "()"), &flags, kw, 4,
	                                  &n_kw, &err),
	                 0);
	assert_int_equal(flags, 0);
	assert_int_equal(imap_parse_flags(args_of(&arena, "(\\Recent)"), &flags,
	                                  kw, 4, &n_kw, &err),
	                 -1);
	assert_string_equal(err, "\\Recent cannot be set");
	assert_int_equal(imap_parse_flags(args_of(&arena, "(\\Foo)"), &flags,
	                                  kw, 4, &n_kw, &err),
	                 -1);
	assert_string_equal(err, "Unknown system flag");
	assert_int_equal(imap_parse_flags(args_of(&arena, "(\"quoted\")"),
	                                  &flags, kw, 4, &n_kw, &err),
	                 -1);
	assert_int_equal(imap_parse_flags(args_of(&arena, "((a))"), &flags, kw,
	                                  4, &n_kw, &err),
	                 -1);
	assert_int_equal(imap_parse_flags(args_of(&arena, "(a])"), &flags, kw,
	                                  4, &n_kw, &err),
	                 -1);
	assert_int_equal(imap_parse_flags(args_of(&arena, "(a b c d e)"),
	                                  &flags, kw, 4, &n_kw, &err),
	                 -1);
	assert_string_equal(err, "Too many keywords");
	assert_int_equal(imap_system_flag("\\ANSWERED", 9), STORE_F_ANSWERED);
	assert_int_equal(imap_system_flag("\\Recent", 7), 0);
	imap_arena_deinit(&arena);
}

static void test_store_error_codes(void **state)
{
	struct imap_cmd cmd;

	(void)state;
	memset(&cmd, 0, sizeof(cmd));
	imap_cmd_store_error(&cmd, STORE_E_NOTFOUND, "SELECT");
	assert_int_equal(cmd.status, IMAP_NO);
	assert_string_equal(cmd.result, "[NONEXISTENT] SELECT: no such "
	                                "mailbox");
	imap_cmd_store_error(&cmd, STORE_E_NOQUOTA, "APPEND");
	assert_memory_equal(cmd.result, "[OVERQUOTA]", 11);
	imap_cmd_store_error(&cmd, STORE_E_TEMP, "APPEND");
	assert_memory_equal(cmd.result, "[UNAVAILABLE]", 13);
	imap_cmd_store_error(&cmd, STORE_E_EXPUNGED, "FETCH");
	assert_memory_equal(cmd.result, "[EXPUNGEISSUED]", 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_string_quotes_and_escapes),
	        cmocka_unit_test(test_string_uses_literal_when_it_must),
	        cmocka_unit_test(test_nstring_and_astring),
	        cmocka_unit_test(test_mailbox_name_is_mutf7_unless_utf8),
	        cmocka_unit_test(test_flags_and_date_time),
	        cmocka_unit_test(test_parse_date_time),
	        cmocka_unit_test(test_parse_flags),
	        cmocka_unit_test(test_store_error_codes),
	};

	return cmocka_run_group_tests_name("imap_write", tests, NULL, NULL);
}
