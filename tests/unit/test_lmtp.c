/*
 * Unit tests of the LMTP module over the in-memory core (fake_conn.c): the
 * path parser on its own, then whole dialogues with exact reply bytes, and
 * what reached the store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fake_conn.h"
#include "lmtp.h"
#include "lmtp_private.h"

#define LHLO_REPLY                                                             \
	"250-test.example\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"    \
	"250 8BITMIME\r\n"

static int setup(void **state)
{
	struct fake_env *fe = fake_env_new();

	fake_env_add_account(fe, "alice", "secret", true, true);
	fake_env_add_account(fe, "carol@example.org", "secret", false, true);
	fake_env_add_account(fe, "dave", "secret", true, true);
	auth_account_set_state(fe->env.auth, "dave", AUTH_STATE_DISABLED);
	*state = fe;
	return 0;
}

static int teardown(void **state)
{
	struct fake_env *fe = *state;

	fake_env_free(&fe);
	return 0;
}

static void expect(struct po_conn *c, const char *want)
{
	char *got = fake_take(c);

	assert_string_equal(got, want);
	free(got);
}

static struct po_conn *connect_lmtp(struct fake_env *fe)
{
	struct po_conn *c = fake_conn_new(fe, &lmtp_protocol);

	expect(c, "220 test.example LMTP ready\r\n");
	fake_line(c, "LHLO mta.example");
	expect(c, LHLO_REPLY);
	return c;
}

static void test_parse_path(void **state)
{
	char addr[LMTP_ADDR_MAX + 1];
	const char *params, *err;
	size_t plen;

	(void)state;
	assert_int_equal(lmtp_parse_path("FROM:<a@b> BODY=8BITMIME", 24,
	                                 "FROM:", true, addr, &params, &plen,
	                                 &err),
	                 0);
	assert_string_equal(addr, "a@b");
	assert_int_equal(plen, 13);
	assert_int_equal(lmtp_parse_path("from: <>", 8, "FROM:", true, addr,
	                                 &params, &plen, &err),
	                 0);
	assert_string_equal(addr, "");
	assert_int_equal(lmtp_parse_path("TO:<>", 5, "TO:", false, addr,
	                                 &params, &plen, &err),
	                 -1);
	assert_int_equal(lmtp_parse_path("TO:<@r1,@r2:u@d>", 16, "TO:", false,
	                                 addr, &params, &plen, &err),
	                 0);
	assert_string_equal(addr, "u@d");
	assert_int_equal(lmtp_parse_path("TO:u@d", 6, "TO:", false, addr,
	                                 &params, &plen, &err),
	                 -1);
	assert_int_equal(lmtp_parse_path("TO:<a b>", 8, "TO:", false, addr,
	                                 &params, &plen, &err),
	                 -1);
	assert_int_equal(lmtp_parse_mail_params("BODY=7BIT SIZE=12", 17, &err),
	                 0);
	assert_int_equal(lmtp_parse_mail_params("AUTH=<>", 7, &err), -1);
}

static void test_two_recipients_one_unknown(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_lmtp(fe);
	char *data;

	fake_line(c, "MAIL FROM:<sender@example.net> BODY=8BITMIME");
	expect(c, "250 2.1.0 OK\r\n");
	assert_int_equal(fake_line(c, "RCPT TO:<alice@example.org>"), PO_AGAIN);
	expect(c, "250 2.1.5 OK\r\n");
	fake_line(c, "RCPT TO:<nobody@example.org>");
	expect(c, "550 5.1.1 <nobody@example.org>: no such user\r\n");
	fake_line(c, "RCPT TO:<dave@example.org>");
	expect(c, "550 5.1.1 <dave@example.org>: no such user\r\n");
	fake_line(c, "RCPT TO:<carol@example.org>");
	expect(c, "250 2.1.5 OK\r\n");
	fake_line(c, "DATA");
	expect(c, "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
	assert_true(c->long_lines);
	fake_line(c, "Subject: hi");
	fake_line(c, "");
	fake_line(c, "..leading dot");
	fake_line(c, "...two");
	fake_frame(c, ".", 1, false, false);
	fake_frame(c, "MAIL FROM:<x@y>", 15, false, false);
	fake_frame(c, "e", 1, false, false);
	fake_line(c, ".");
	fake_frame(c, "part one ", 9, true, true);
	fake_frame(c, ".not a dot line", 15, true, false);
	expect(c, "");
	assert_int_equal(fake_line(c, "."), PO_AGAIN);
	expect(c, "250 2.0.0 <alice@example.org> Message delivered\r\n"
	          "250 2.0.0 <carol@example.org> Message delivered\r\n");
	assert_false(c->long_lines);
	assert_int_equal(fake_env_inbox(fe, "alice", 0, &data), 1);
	assert_string_equal(data, "Return-Path: <sender@example.net>\r\n"
	                          "Subject: hi\r\n\r\n.leading dot\r\n"
	                          "..two\r\n.\r\nMAIL FROM:<x@y>\r\ne\r\n.\r\n"
	                          "part one .not a dot line\r\n");
	free(data);
	assert_int_equal(fake_env_inbox(fe, "carol@example.org", 0, NULL), 1);
	/* A second transaction on the same connection. */
	fake_line(c, "MAIL FROM:<>");
	fake_line(c, "RCPT TO:<ALICE>");
	fake_line(c, "DATA");
	fake_line(c, "x");
	fake_line(c, ".");
	expect(c, "250 2.1.0 OK\r\n250 2.1.5 OK\r\n"
	          "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
	          "250 2.0.0 <ALICE> Message delivered\r\n");
	assert_int_equal(fake_env_inbox(fe, "alice", 1, &data), 2);
	assert_string_equal(data, "Return-Path: <>\r\nx\r\n");
	free(data);
	assert_int_equal(fake_line(c, "QUIT"), PO_CLOSE);
	expect(c, "221 2.0.0 test.example Bye\r\n");
	fake_conn_free(&c, PO_CLOSE_PROTOCOL);
}

static void test_bad_sequences(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = fake_conn_new(fe, &lmtp_protocol);

	expect(c, "220 test.example LMTP ready\r\n");
	c->max_bad = 12;
	fake_line(c, "EHLO x");
	expect(c, "500 5.5.1 This is LMTP: use LHLO\r\n");
	fake_line(c, "MAIL FROM:<a@b>");
	expect(c, "503 5.5.1 Send LHLO first\r\n");
	fake_line(c, "LHLO");
	expect(c, "501 5.5.4 Syntax: LHLO hostname\r\n");
	fake_line(c, "LHLO x");
	expect(c, LHLO_REPLY);
	fake_line(c, "RCPT TO:<alice>");
	expect(c, "503 5.5.1 Send MAIL first\r\n");
	fake_line(c, "DATA");
	expect(c, "503 5.5.1 Send MAIL first\r\n");
	fake_line(c, "MAIL FROM:a@b");
	expect(c, "501 5.5.4 Syntax error in address\r\n");
	fake_line(c, "MAIL FROM:<a@b> FOO=BAR");
	expect(c, "555 5.5.4 Unsupported MAIL parameter\r\n");
	fake_line(c, "MAIL FROM:<a@b>");
	expect(c, "250 2.1.0 OK\r\n");
	fake_line(c, "MAIL FROM:<a@b>");
	expect(c, "503 5.5.1 Nested MAIL command\r\n");
	fake_line(c, "DATA");
	expect(c, "554 5.5.1 No valid recipients\r\n");
	fake_line(c, "RCPT TO:<nobody>");
	expect(c, "550 5.1.1 <nobody>: no such user\r\n");
	fake_line(c, "DATA");
	expect(c, "554 5.5.1 No valid recipients\r\n");
	fake_line(c, "RSET");
	expect(c, "250 2.0.0 OK\r\n");
	fake_line(c, "RCPT TO:<alice>");
	expect(c, "503 5.5.1 Send MAIL first\r\n");
	fake_frame(c, "NOOP\0x", 6, true, false);
	expect(c, "500 5.5.2 NUL byte in command\r\n");
	fake_line(c, "FROB");
	expect(c, "500 5.5.2 Command not recognized\r\n");
	fake_line(c, "VRFY alice");
	expect(c, "252 2.5.2 Cannot VRFY user; try RCPT\r\n");
	assert_int_equal(c->bad_commands, 11);
	assert_false(c->closing);
	assert_int_equal(fake_line(c, "HELO x"), PO_CLOSE);
	expect(c, "500 5.5.1 This is LMTP: use LHLO\r\n"
	          "421 4.7.0 Too many bad commands, closing connection\r\n");
	fake_conn_free(&c, PO_CLOSE_ERRORS);
}

static void test_drop_mid_data_stores_nothing(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_lmtp(fe);

	fake_line(c, "MAIL FROM:<a@b>");
	fake_line(c, "RCPT TO:<alice@x>");
	fake_line(c, "DATA");
	fake_line(c, "Subject: lost");
	fake_frame(c, ".", 1, false, false);
	expect(c, "250 2.1.0 OK\r\n250 2.1.5 OK\r\n"
	          "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
	assert_int_equal(fake_env_inbox(fe, "alice", 0, NULL), 0);
}

static void test_too_big_is_refused_per_recipient(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_lmtp(fe);
	char line[1001];

	fe->config.max_message_size = 5000;
	memset(line, 'x', 1000);
	line[1000] = '\0';
	fake_line(c, "MAIL FROM:<a@b>");
	fake_line(c, "RCPT TO:<alice@x>");
	fake_line(c, "RCPT TO:<carol@example.org>");
	fake_line(c, "DATA");
	for (int i = 0; i < 10; i++)
		fake_line(c, line);
	fake_line(c, ".");
	expect(c, "250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n"
	          "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
	          "552 5.3.4 <alice@x> Message too big for system\r\n"
	          "552 5.3.4 <carol@example.org> Message too big for "
	          "system\r\n");
	assert_int_equal(fake_env_inbox(fe, "alice", 0, NULL), 0);
	fake_line(c, "NOOP");
	expect(c, "250 2.0.0 OK\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_recipient_limit(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_lmtp(fe);
	char *out;

	fake_line(c, "MAIL FROM:<a@b>");
	for (int i = 0; i < LMTP_RCPT_MAX; i++)
		fake_line(c, "RCPT TO:<alice@x>");
	out = fake_take(c);
	free(out);
	fake_line(c, "RCPT TO:<alice@x>");
	expect(c, "452 4.5.3 Too many recipients\r\n");
	fake_line(c, "DATA");
	fake_line(c, "x");
	fake_line(c, ".");
	out = fake_take(c);
	/* One copy in the mailbox, one reply per accepted RCPT. */
	assert_int_equal(fake_env_inbox(fe, "alice", 0, NULL), 1);
	assert_non_null(strstr(out, "250 2.0.0 <alice@x> Message delivered"));
	free(out);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_path),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	        T(test_two_recipients_one_unknown),
	        T(test_bad_sequences),
	        T(test_drop_mid_data_stores_nothing),
	        T(test_too_big_is_refused_per_recipient),
	        T(test_recipient_limit),
	};

	return cmocka_run_group_tests_name("lmtp", tests, NULL, NULL);
}
