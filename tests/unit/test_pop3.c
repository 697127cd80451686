/*
 * Unit tests of the POP3 module over the in-memory core (fake_conn.c): the
 * parser and the byte-stuffing encoder on their own, then whole sessions
 * with exact reply bytes, against a real store and account directory.
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
#include "pop3.h"
#include "pop3_private.h"

#define M1 "Subject: one\r\n\r\nhello\r\n.dot line\r\n..two\r\n"
#define M2 "Subject: two\n\nline1\nline2\n"
#define M3 "Subject: three\r\n\r\nno final line end"

static int setup(void **state)
{
	struct fake_env *fe = fake_env_new();

	fake_env_add_account(fe, "alice", "secret", true, true);
	fake_env_add_account(fe, "bob", "hunter2", false, true);
	*state = fe;
	return 0;
}

static int teardown(void **state)
{
	struct fake_env *fe = *state;

	fake_env_free(&fe);
	return 0;
}

/* Assert the exact bytes the client got since the last check. */
static void expect(struct po_conn *c, const char *want)
{
	char *got = fake_take(c);

	assert_string_equal(got, want);
	free(got);
}

static struct po_conn *connect_pop(struct fake_env *fe)
{
	struct po_conn *c = fake_conn_new(fe, &pop3_protocol);

	expect(c, "+OK test.example POP3 ready\r\n");
	return c;
}

static struct po_conn *login(struct fake_env *fe, const char *user,
                             const char *pass, const char *want)
{
	struct po_conn *c = connect_pop(fe);
	char line[128];

	snprintf(line, sizeof(line), "USER %s", user);
	fake_line(c, line);
	expect(c, "+OK Send your password\r\n");
	snprintf(line, sizeof(line), "PASS %s", pass);
	fake_line(c, line);
	if (want != NULL)
		expect(c, want);
	return c;
}

/* --- parser and encoder ------------------------------------------------ */

static void test_parse_command_splits_and_upcases(void **state)
{
	struct pop3_cmd cmd;
	const char *err;

	(void)state;
	assert_int_equal(pop3_parse_command("retr 1", 6, &cmd, &err), 0);
	assert_string_equal(cmd.verb, "RETR");
	assert_string_equal(cmd.args, "1");
	assert_int_equal(pop3_parse_command("PASS a\0b", 8, &cmd, &err), -1);
	assert_int_equal(pop3_parse_command("", 0, &cmd, &err), -1);
	assert_int_equal(pop3_parse_command("LONGVERBXX", 10, &cmd, &err), -1);
}

static void test_parse_numbers_is_strict(void **state)
{
	uint32_t n[2];
	const char *err;

	(void)state;
	assert_int_equal(pop3_parse_numbers("1 2", 3, 2, 2, n, &err), 2);
	assert_int_equal(n[0], 1);
	assert_int_equal(n[1], 2);
	assert_int_equal(pop3_parse_numbers("7 ", 2, 1, 1, n, &err), 1);
	assert_int_equal(pop3_parse_numbers("-1", 2, 1, 1, n, &err), -1);
	assert_int_equal(pop3_parse_numbers("+1", 2, 1, 1, n, &err), -1);
	assert_int_equal(pop3_parse_numbers("1x", 2, 1, 1, n, &err), -1);
	assert_int_equal(pop3_parse_numbers("1  2", 4, 2, 2, n, &err), -1);
	assert_int_equal(pop3_parse_numbers("1 2", 3, 1, 1, n, &err), -1);
	assert_int_equal(pop3_parse_numbers("4294967296", 10, 1, 1, n, &err),
	                 -1);
	assert_int_equal(pop3_parse_numbers("4294967295", 10, 1, 1, n, &err),
	                 1);
	assert_int_equal(pop3_parse_numbers("", 0, 1, 1, n, &err), -1);
	assert_int_equal(pop3_parse_numbers("", 0, 0, 1, n, &err), 0);
}

/* Encode in at every split point and compare with want. */
static void check_encode(const char *in, bool top, uint64_t lines,
                         const char *want)
{
	size_t len = strlen(in);

	for (size_t cut = 0; cut <= len; cut++) {
		struct pop3_stream s;
		struct po_buf out = PO_BUF_INIT;

		pop3_stream_init(&s, 1, len, top, lines);
		pop3_stream_encode(&s, in, cut, &out);
		if (!s.done)
			pop3_stream_encode(&s, in + cut, len - cut, &out);
		pop3_stream_finish(&s, &out);
		assert_string_equal(out.data, want);
		po_buf_deinit(&out);
	}
}

static void test_stream_stuffs_dots_across_every_split(void **state)
{
	(void)state;
	check_encode(".a\r\n..b\r\nc.\r\n.\r\n", false, 0,
	             "..a\r\n...b\r\nc.\r\n..\r\n.\r\n");
	check_encode("a\nb\n.c", false, 0, "a\r\nb\r\n..c\r\n.\r\n");
	check_encode("H: 1\r\n\r\nb1\r\n.b2\r\nb3\r\n", true, 2,
	             "H: 1\r\n\r\nb1\r\n..b2\r\n.\r\n");
	check_encode("H: 1\r\n\r\nb1\r\n", true, 0, "H: 1\r\n\r\n.\r\n");
	check_encode("H: 1\r\nH: 2\r\n", true, 5, "H: 1\r\nH: 2\r\n.\r\n");
	check_encode("", false, 0, ".\r\n");
}

/* --- sessions ----------------------------------------------------------- */

static void test_capa_depends_on_tls_and_plaintext(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_pop(fe);

	fake_line(c, "CAPA");
	expect(c, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
	          "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\n"
	          "SASL PLAIN\r\nIMPLEMENTATION postoffice\r\n.\r\n");
	c->tls_available = true;
	c->plaintext_allowed = false;
	fake_line(c, "CAPA");
	expect(c, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
	          "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\n"
	          "IMPLEMENTATION postoffice\r\n.\r\n");
	fake_line(c, "USER alice");
	expect(c, "-ERR Plaintext authentication is not allowed without "
	          "TLS; use STLS first\r\n");
	fake_line(c, "STLS");
	expect(c, "+OK Begin TLS negotiation\r\n");
	assert_int_equal(c->starttls_calls, 1);
	fake_tls_ready(c);
	fake_line(c, "CAPA");
	expect(c, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
	          "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\n"
	          "SASL PLAIN\r\nIMPLEMENTATION postoffice\r\n.\r\n");
	fake_line(c, "STLS");
	expect(c, "-ERR TLS is already active\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_full_session(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c;
	char want[512], *data;
	size_t s1 = strlen(M1), s2 = strlen(M2) + 4, s3 = strlen(M3);

	fake_env_deliver(fe, "alice", M1);
	fake_env_deliver(fe, "alice", M2);
	fake_env_deliver(fe, "alice", M3);
	snprintf(want, sizeof(want),
	         "+OK Logged in, 3 messages (%zu octets)\r\n", s1 + s2 + s3);
	c = login(fe, "alice", "secret", want);
	assert_string_equal(c->user, "alice");
	assert_int_equal(c->delay_ms, 0);

	fake_line(c, "STAT");
	snprintf(want, sizeof(want), "+OK 3 %zu\r\n", s1 + s2 + s3);
	expect(c, want);
	fake_line(c, "LIST");
	snprintf(want, sizeof(want),
	         "+OK Scan listing follows\r\n1 %zu\r\n2 %zu\r\n3 %zu\r\n.\r\n",
	         s1, s2, s3);
	expect(c, want);
	fake_line(c, "LIST 2");
	snprintf(want, sizeof(want), "+OK 2 %zu\r\n", s2);
	expect(c, want);
	fake_line(c, "LIST 4");
	expect(c, "-ERR No such message\r\n");

	fake_line(c, "RETR 1");
	snprintf(want, sizeof(want),
	         "+OK %zu octets\r\nSubject: one\r\n\r\nhello\r\n"
	         "..dot line\r\n...two\r\n.\r\n",
	         s1);
	expect(c, want);
	fake_line(c, "RETR 2");
	snprintf(want, sizeof(want),
	         "+OK %zu octets\r\nSubject: two\r\n\r\nline1\r\nline2\r\n"
	         ".\r\n",
	         s2);
	expect(c, want);
	fake_line(c, "RETR 3");
	snprintf(want, sizeof(want), "+OK %zu octets\r\n%s\r\n.\r\n", s3, M3);
	expect(c, want);
	fake_line(c, "TOP 2 1");
	expect(c, "+OK Top of message follows\r\nSubject: two\r\n\r\n"
	          "line1\r\n.\r\n");
	fake_line(c, "TOP 1 0");
	expect(c, "+OK Top of message follows\r\nSubject: one\r\n\r\n.\r\n");

	fake_line(c, "DELE 1");
	expect(c, "+OK Message 1 deleted\r\n");
	fake_line(c, "DELE 1");
	expect(c, "-ERR Message 1 already deleted\r\n");
	fake_line(c, "RETR 1");
	expect(c, "-ERR Message 1 already deleted\r\n");
	fake_line(c, "UIDL 1");
	expect(c, "-ERR Message 1 already deleted\r\n");
	fake_line(c, "STAT");
	snprintf(want, sizeof(want), "+OK 2 %zu\r\n", s2 + s3);
	expect(c, want);
	fake_line(c, "RSET");
	snprintf(want, sizeof(want),
	         "+OK Maildrop has 3 messages (%zu octets)\r\n", s1 + s2 + s3);
	expect(c, want);
	fake_line(c, "DELE 2");
	expect(c, "+OK Message 2 deleted\r\n");
	fake_line(c, "UIDL");
	data = fake_take(c);
	assert_true(strncmp(data, "+OK Unique-ID listing follows\r\n1 ", 33) ==
	            0);
	assert_null(strstr(data, "\r\n2 "));
	assert_non_null(strstr(data, "\r\n3 "));
	free(data);
	fake_line(c, "QUIT");
	expect(c, "+OK test.example POP3 server signing off (1 messages "
	          "deleted)\r\n");
	assert_true(c->closing);
	fake_conn_free(&c, PO_CLOSE_PROTOCOL);

	assert_int_equal(fake_env_inbox(fe, "alice", 0, &data), 2);
	assert_string_equal(data, M1);
	free(data);
	fake_env_inbox(fe, "alice", 1, &data);
	assert_string_equal(data, M3);
	free(data);
}

static void test_drop_without_quit_deletes_nothing(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c;

	fake_env_deliver(fe, "alice", M1);
	c = login(fe, "alice", "secret",
	          "+OK Logged in, 1 messages (41 octets)\r\n");
	fake_line(c, "DELE 1");
	expect(c, "+OK Message 1 deleted\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
	assert_int_equal(fake_env_inbox(fe, "alice", 0, NULL), 1);
	/* The lock was released: a new session may log in. */
	c = login(fe, "alice", "secret",
	          "+OK Logged in, 1 messages (41 octets)\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_second_session_is_in_use(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *a, *b;

	a = login(fe, "alice", "secret",
	          "+OK Logged in, 0 messages (0 octets)\r\n");
	b = login(fe, "alice", "secret",
	          "-ERR [IN-USE] Mailbox already in use by another POP3 "
	          "session\r\n");
	fake_conn_free(&b, PO_CLOSE_CLIENT);
	fake_conn_free(&a, PO_CLOSE_CLIENT);
}

static void test_pop_off_told_only_after_right_password(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c;

	c = login(fe, "bob", "wrong", "-ERR [AUTH] Authentication failed\r\n");
	assert_int_equal(c->delay_ms, 2000);
	fake_line(c, "USER bob");
	expect(c, "+OK Send your password\r\n");
	fake_line(c, "PASS hunter2");
	expect(c, "-ERR [AUTH] POP3 access is disabled for this account\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);

	auth_account_set_state(fe->env.auth, "alice", AUTH_STATE_DISABLED);
	c = login(fe, "alice", "secret", "-ERR [AUTH] Account disabled\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_wrong_password_and_unknown_user_look_alike(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *a, *b;

	a = login(fe, "alice", "nope", "-ERR [AUTH] Authentication failed\r\n");
	b = login(fe, "nobody", "nope",
	          "-ERR [AUTH] Authentication failed\r\n");
	assert_int_equal(a->delay_ms, b->delay_ms);
	assert_int_equal(a->delay_ms, 2000);
	fake_conn_free(&a, PO_CLOSE_CLIENT);
	fake_conn_free(&b, PO_CLOSE_CLIENT);
}

static void test_nul_in_pass_is_refused(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_pop(fe);

	fake_line(c, "USER alice");
	expect(c, "+OK Send your password\r\n");
	fake_frame(c, "PASS secret\0junk", 16, true, false);
	expect(c, "-ERR NUL byte in command\r\n");
	fake_line(c, "USER alice");
	fake_frame(c, "PASS wrong\0secret", 17, true, false);
	expect(c, "+OK Send your password\r\n-ERR NUL byte in command\r\n");
	fake_line(c, "STAT");
	expect(c, "-ERR STAT is not allowed in this state\r\n");
	assert_int_equal(c->bad_commands, 3);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_auth_plain(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_pop(fe);

	fake_line(c, "AUTH");
	expect(c, "+OK Supported mechanisms follow\r\nPLAIN\r\n.\r\n");
	fake_line(c, "AUTH CRAM-MD5");
	expect(c, "-ERR Unsupported authentication mechanism\r\n");
	fake_line(c, "AUTH PLAIN");
	expect(c, "+ \r\n");
	fake_line(c, "*");
	expect(c, "-ERR Authentication cancelled\r\n");
	fake_line(c, "AUTH PLAIN !!!!");
	expect(c, "-ERR [AUTH] Invalid SASL PLAIN response (bad base64 or "
	          "format)\r\n");
	fake_line(c, "AUTH PLAIN");
	expect(c, "+ \r\n");
	fake_line(c, "AGFsaWNl=AHNl");
	expect(c, "-ERR [AUTH] Invalid SASL PLAIN response (bad base64 or "
	          "format)\r\n");
	fake_line(c, "AUTH PLAIN =");
	expect(c, "-ERR [AUTH] Invalid SASL PLAIN response (bad base64 or "
	          "format)\r\n");
	fake_line(c, "AUTH PLAIN AGFsaWNlAHdyb25n");
	expect(c, "-ERR [AUTH] Authentication failed\r\n");
	fake_line(c, "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==");
	expect(c, "-ERR [AUTH] Authentication failed\r\n");
	fake_line(c, "AUTH PLAIN");
	expect(c, "+ \r\n");
	fake_line(c, "AGFsaWNlAHNlY3JldA==");
	expect(c, "+OK Logged in, 0 messages (0 octets)\r\n");
	fake_line(c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==");
	expect(c, "-ERR AUTH is not allowed in this state\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);

	c = connect_pop(fe);
	fake_line(c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==");
	expect(c, "+OK Logged in, 0 messages (0 octets)\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_commands_in_wrong_state_and_bad_args(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_pop(fe);

	fake_line(c, "RETR 1");
	expect(c, "-ERR RETR is not allowed in this state\r\n");
	fake_line(c, "PASS x");
	expect(c, "-ERR USER first\r\n");
	fake_line(c, "XYZZY");
	expect(c, "-ERR Unknown command\r\n");
	fake_line(c, "USER alice");
	fake_line(c, "PASS secret");
	expect(c, "+OK Send your password\r\n"
	          "+OK Logged in, 0 messages (0 octets)\r\n");
	fake_line(c, "USER alice");
	expect(c, "-ERR USER is not allowed in this state\r\n");
	fake_line(c, "STLS");
	expect(c, "-ERR STLS is not allowed in this state\r\n");
	fake_line(c, "RETR");
	expect(c, "-ERR Missing argument\r\n");
	fake_line(c, "RETR 1 2");
	expect(c, "-ERR Too many arguments\r\n");
	fake_line(c, "RETR 99999999999");
	expect(c, "-ERR Invalid argument: a number is expected\r\n");
	fake_line(c, "STAT now");
	expect(c, "-ERR STAT takes no arguments\r\n");
	fake_line(c, "RETR 0");
	expect(c, "-ERR No such message\r\n");
	assert_int_equal(c->bad_commands, 9);
	fake_line(c, "NOOP");
	expect(c, "+OK\r\n");
	assert_int_equal(fake_line(c, "QUIT"), PO_AGAIN);
	expect(c, "+OK test.example POP3 server signing off (0 messages "
	          "deleted)\r\n");
	fake_conn_free(&c, PO_CLOSE_PROTOCOL);

	c = connect_pop(fe);
	assert_int_equal(fake_line(c, "QUIT"), PO_CLOSE);
	expect(c, "+OK test.example POP3 server signing off\r\n");
	fake_conn_free(&c, PO_CLOSE_PROTOCOL);
}

static void test_large_retr_is_chunked_and_stuffed(void **state)
{
	struct fake_env *fe = *state;
	struct po_buf msg = PO_BUF_INIT, want = PO_BUF_INIT;
	struct po_conn *c;
	char *got;

	/* Lines of 99 bytes + CRLF that start with '.', so line starts
	 * fall on chunk boundaries (65536 is a multiple of... nothing
	 * here, which is the point: they land at every phase). */
	po_buf_add_str(&msg, "Subject: big\r\n\r\n");
	for (int i = 0; i < 3000; i++) {
		char line[128];

		snprintf(line, sizeof(line), ".%097d\r\n", i);
		po_buf_add_str(&msg, line);
	}
	fake_env_deliver(fe, "alice", msg.data);
	po_buf_printf(&want, "+OK %zu octets\r\n", msg.len);
	for (size_t i = 0; i < msg.len; i++) {
		if (msg.data[i] == '.' && (i == 0 || msg.data[i - 1] == '\n'))
			po_buf_add(&want, ".", 1);
		po_buf_add(&want, &msg.data[i], 1);
	}
	po_buf_add_str(&want, ".\r\n");

	c = login(fe, "alice", "secret", NULL);
	free(fake_take(c));
	c->output_limit = true;
	fake_line(c, "RETR 1");
	got = fake_take(c);
	assert_int_equal(strlen(got), want.len);
	assert_memory_equal(got, want.data, want.len);
	free(got);
	fake_line(c, "NOOP");
	expect(c, "+OK\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
	po_buf_deinit(&msg);
	po_buf_deinit(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_command_splits_and_upcases),
	        cmocka_unit_test(test_parse_numbers_is_strict),
	        cmocka_unit_test(test_stream_stuffs_dots_across_every_split),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	        T(test_capa_depends_on_tls_and_plaintext),
	        T(test_full_session),
	        T(test_drop_without_quit_deletes_nothing),
	        T(test_second_session_is_in_use),
	        T(test_pop_off_told_only_after_right_password),
	        T(test_wrong_password_and_unknown_user_look_alike),
	        T(test_nul_in_pass_is_refused),
	        T(test_auth_plain),
	        T(test_commands_in_wrong_state_and_bad_args),
	        T(test_large_retr_is_chunked_and_stuffed),
	};

	return cmocka_run_group_tests_name("pop3", tests, NULL, NULL);
}
