/*
 * Unit tests of mailbox-name handling (protocols/imap/imap_mutf7.c):
 * modified UTF-7 (RFC 3501 §5.1.3) both ways, strict UTF-8 (RFC 3629), and
 * imap_mailbox_from_client's normalisation and refusals.  Inputs are copied
 * into exact-size heap buffers so the ASan build catches a read past them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap_private.h"

/* Decode s; returns the result and leaves the UTF-8 in *out. */
static int decode(const char *s, struct po_buf *out)
{
	size_t len = strlen(s);
	char *copy = xmalloc(len > 0 ? len : 1);
	int ret;

	memcpy(copy, s, len);
	po_buf_reset(out);
	ret = imap_mutf7_decode(copy, len, out);
	free(copy);
	return ret;
}

static void expect_decode(const char *mutf7, const char *utf8)
{
	struct po_buf out = PO_BUF_INIT;

	assert_int_equal(decode(mutf7, &out), 0);
	assert_int_equal(out.len, strlen(utf8));
	assert_memory_equal(out.data, utf8, out.len);
	po_buf_deinit(&out);
}

static void expect_encode(const char *utf8, const char *mutf7)
{
	struct po_buf out = PO_BUF_INIT;

	imap_mutf7_encode(utf8, strlen(utf8), &out);
	assert_string_equal(out.data != NULL ? out.data : "", mutf7);
	po_buf_deinit(&out);
}

static void expect_bad(const char *mutf7)
{
	struct po_buf out = PO_BUF_INIT;

	po_buf_add_str(&out, "keep");
	assert_int_equal(imap_mutf7_decode(mutf7, strlen(mutf7), &out), -1);
	/* Nothing of a refused name is left behind. */
	assert_string_equal(out.data, "keep");
	po_buf_deinit(&out);
}

static void test_mutf7_rfc3501_example(void **state)
{
	(void)state;
	/* RFC 3501 §5.1.3: "~peter/mail/台北/日本語". */
	expect_decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	              "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	              "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	expect_encode("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	              "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	              "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
}

static void test_mutf7_ascii_and_ampersand(void **state)
{
	(void)state;
	expect_decode("Sent Items", "Sent Items");
	expect_decode("&-", "&");
	expect_decode("A&-B&-", "A&B&");
	expect_encode("Tom & Jerry", "Tom &- Jerry");
	expect_encode("", "");
	expect_decode("", "");
}

static void test_mutf7_round_trips(void **state)
{
	static const char *const names[] = {
	        "Entw\xc3\xbc"
	        "rfe",                      /* Entwürfe */
	        "\xc3\xa4",                 /* one unit, 2 bits pad */
	        "\xc3\xa4\xc3\xb6",         /* two units, 4 bits */
	        "\xc3\xa4\xc3\xb6\xc3\xbc", /* three units, none */
	        "\xf0\x9f\x93\xa7 mail",    /* U+1F4E7: a pair */
	        "a\x7f"
	        "b",                         /* DEL is encoded */
	        "\xe2\x82\xac&\xe2\x82\xac", /* € & € */
	        "x/\xd0\x9f\xd0\xbe\xd1\x87\xd1\x82\xd0\xb0/y", /* Почта */
	};
	struct po_buf enc = PO_BUF_INIT, dec = PO_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		po_buf_reset(&enc);
		imap_mutf7_encode(names[i], strlen(names[i]), &enc);
		/* 7-bit printable only. */
		for (size_t k = 0; k < enc.len; k++)
			assert_true(enc.data[k] >= 0x20 && enc.data[k] < 0x7f);
		assert_int_equal(decode(enc.data, &dec), 0);
		assert_int_equal(dec.len, strlen(names[i]));
		assert_memory_equal(dec.data, names[i], dec.len);
	}
	expect_encode("\xc3\xa4", "&AOQ-");
	expect_encode("\xf0\x9f\x93\xa7", "&2D3c5w-");
	po_buf_deinit(&enc);
	po_buf_deinit(&dec);
}

static void test_mutf7_long_run(void **state)
{
	struct po_buf utf8 = PO_BUF_INIT, enc = PO_BUF_INIT, dec = PO_BUF_INIT;

	(void)state;
	/* 300 non-ASCII characters: one run, no null shifts inside. */
	for (int i = 0; i < 300; i++)
		po_buf_add_str(&utf8, "\xd0\x96");
	imap_mutf7_encode(utf8.data, utf8.len, &enc);
	assert_int_equal(enc.data[0], '&');
	assert_int_equal(enc.data[enc.len - 1], '-');
	assert_null(memchr(enc.data + 1, '&', enc.len - 1));
	assert_int_equal(decode(enc.data, &dec), 0);
	assert_int_equal(dec.len, utf8.len);
	assert_memory_equal(dec.data, utf8.data, dec.len);
	po_buf_deinit(&utf8);
	po_buf_deinit(&enc);
	po_buf_deinit(&dec);
}

static void test_mutf7_refuses_noncanonical(void **state)
{
	(void)state;
	expect_bad("&AGE-");       /* "a" in base64 */
	expect_bad("&ACY-");       /* "&" in base64 instead of "&-" */
	expect_bad("&AOQ-&AOQ-");  /* null shift: one run would do */
	expect_bad("&AOR-");       /* padding bits not zero */
	expect_bad("&AOQA-");      /* a whole spare character */
	expect_bad("&-&");         /* unterminated */
	expect_bad("&AOQ");        /* unterminated */
	expect_bad("&");           /* unterminated */
	expect_bad("&AO.-");       /* not base64 */
	expect_bad("&AO/-");       /* "/" is not modified base64 */
	expect_bad("&AO=-");       /* no padding in modified base64 */
	expect_bad("&2D0-");       /* lone high surrogate */
	expect_bad("&3dw-");       /* lone low surrogate */
	expect_bad("&2D3YPQ-");    /* high surrogate followed by high */
	expect_bad("&AAA-");       /* U+0000 */
	expect_bad("tab\there");   /* control byte */
	expect_bad("caf\xc3\xa9"); /* 8-bit is not modified UTF-7 */
}

static void test_utf8_strict(void **state)
{
	(void)state;
	assert_true(imap_utf8_valid("", 0));
	assert_true(imap_utf8_valid("abc", 3));
	assert_true(imap_utf8_valid("\xc3\xa4", 2));
	assert_true(imap_utf8_valid("\xef\xbf\xbf", 3));
	assert_true(imap_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	assert_false(imap_utf8_valid("\xc0\xaf", 2));        /* overlong / */
	assert_false(imap_utf8_valid("\xc1\xbf", 2));
	assert_false(imap_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	assert_false(imap_utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
	assert_false(imap_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(imap_utf8_valid("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
	assert_false(imap_utf8_valid("\xf5\x80\x80\x80", 4));
	assert_false(imap_utf8_valid("\xc3", 1)); /* truncated */
	assert_false(imap_utf8_valid("\xe2\x82", 2));
	assert_false(imap_utf8_valid("\x80", 1)); /* lone cont. */
	assert_false(imap_utf8_valid("\xc3\x28", 2));
	assert_false(imap_utf8_valid("\xff", 1));
}

/* ---- imap_mailbox_from_client ---------------------------------------- */

static int from_client(bool utf8, const char *name, struct po_buf *out,
                       const char **error_r)
{
	struct imap_session s;
	size_t len = strlen(name);
	char *copy = xmalloc(len > 0 ? len : 1);
	int ret;

	memset(&s, 0, sizeof s);
	s.enabled_utf8 = utf8;
	memcpy(copy, name, len);
	po_buf_reset(out);
	*error_r = NULL;
	ret = imap_mailbox_from_client(&s, copy, len, out, error_r);
	free(copy);
	return ret;
}

static void expect_name(bool utf8, const char *name, const char *store)
{
	struct po_buf out = PO_BUF_INIT;
	const char *error;

	assert_int_equal(from_client(utf8, name, &out, &error), 0);
	assert_string_equal(out.data, store);
	assert_int_equal(out.len, strlen(store));
	po_buf_deinit(&out);
}

static void expect_refused(bool utf8, const char *name, const char *reason)
{
	struct po_buf out = PO_BUF_INIT;
	const char *error;

	assert_int_equal(from_client(utf8, name, &out, &error), -1);
	assert_non_null(error);
	assert_string_equal(error, reason);
	assert_int_equal(out.len, 0);
	po_buf_deinit(&out);
}

static void test_name_inbox_any_case(void **state)
{
	(void)state;
	expect_name(false, "inbox", "INBOX");
	expect_name(false, "InBoX", "INBOX");
	expect_name(false, "inbox/x", "INBOX/x");
	expect_name(false, "inboxes", "inboxes");
	expect_name(false, "x/inbox", "x/inbox");
	expect_name(true, "iNBOX/Sub", "INBOX/Sub");
}

static void test_name_decoding(void **state)
{
	(void)state;
	expect_name(false, "Entw&APw-rfe",
	            "Entw\xc3\xbc"
	            "rfe");
	expect_name(false, "A&-B", "A&B");
	/* Raw UTF-8 is taken as it is, UTF8=ACCEPT or not. */
	expect_name(false,
	            "Entw\xc3\xbc"
	            "rfe",
	            "Entw\xc3\xbc"
	            "rfe");
	/* With UTF8=ACCEPT names are UTF-8: "&" is itself (RFC 6855 §3). */
	expect_name(true, "Entw&APw-rfe", "Entw&APw-rfe");
	expect_name(true, "Tom & Jerry", "Tom & Jerry");
}

static void test_name_refusals(void **state)
{
	static const char mutf7[] = "Mailbox name is not in canonical "
	                            "modified UTF-7 (RFC 3501 section 5.1.3)";
	static const char empty_level[] =
	        "Mailbox name has an empty level (leading, trailing or "
	        "doubled \"/\")";
	static const char dots[] = "Mailbox name has a \".\" or \"..\" level";
	char big[STORE_MAILBOX_NAME_MAX + 2];
	char deep[2 * (STORE_MAILBOX_DEPTH_MAX + 1)];

	(void)state;
	expect_refused(false, "&AGE-", mutf7);
	expect_refused(false, "x/&AOQ", mutf7);
	expect_refused(false, "&AO!-", mutf7);
	expect_refused(false, "&2D0-", mutf7);
	expect_refused(false, "caf\xc3", "Mailbox name is not valid UTF-8");
	expect_refused(true, "\xed\xa0\x80", "Mailbox name is not valid UTF-8");
	expect_refused(false, "", "Empty mailbox name");
	expect_refused(false, "/a", empty_level);
	expect_refused(false, "a/", empty_level);
	expect_refused(false, "a//b", empty_level);
	expect_refused(false, ".", dots);
	expect_refused(false, "a/../b", dots);
	expect_refused(false, "a/.", dots);
	expect_refused(false, "~peter/mail",
	               "Mailbox name may not start with \"~\"");
	expect_refused(true, "a\tb",
	               "Mailbox name contains a control character");
	expect_refused(true,
	               "a\x7f"
	               "b",
	               "Mailbox name contains a control character");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	expect_refused(false, big, "Mailbox name too long");
	for (size_t i = 0; i < sizeof deep - 1; i++)
		deep[i] = i % 2 == 0 ? 'a' : '/';
	deep[sizeof deep - 1] = '\0';
	expect_refused(false, deep, "Mailbox name has too many levels");
	/* Allowed: "~" inside, dots within a level. */
	expect_name(false, "a/~b", "a/~b");
	expect_name(false, "a/.b/c..", "a/.b/c..");
	big[sizeof big - 2] = '\0';
	expect_name(false, big, big);
}

static void test_name_nul_refused(void **state)
{
	struct imap_session s;
	struct po_buf out = PO_BUF_INIT;
	const char *error = NULL;

	(void)state;
	memset(&s, 0, sizeof s);
	assert_int_equal(imap_mailbox_from_client(&s, "a\0b", 3, &out, &error),
	                 -1);
	assert_string_equal(error, "Mailbox name contains NUL");
	po_buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mutf7_rfc3501_example),
	        cmocka_unit_test(test_mutf7_ascii_and_ampersand),
	        cmocka_unit_test(test_mutf7_round_trips),
	        cmocka_unit_test(test_mutf7_long_run),
	        cmocka_unit_test(test_mutf7_refuses_noncanonical),
	        cmocka_unit_test(test_utf8_strict),
	        cmocka_unit_test(test_name_inbox_any_case),
	        cmocka_unit_test(test_name_decoding),
	        cmocka_unit_test(test_name_refusals),
	        cmocka_unit_test(test_name_nul_refused),
	};

	return cmocka_run_group_tests_name("imap_mutf7", tests, NULL, NULL);
}
