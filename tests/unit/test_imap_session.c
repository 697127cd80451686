/*
 * Unit tests of the IMAP session framework over the in-memory core
 * (fake_conn.c): the greeting and CAPABILITY, LOGIN and AUTHENTICATE,
 * literals and their limits, pipelining, BAD replies, IDLE, and the
 * untagged updates after changes made through another store handle.
 * Exact bytes throughout, against a real store and account directory.
 * Literals: fake_conn.c records each conn_expect_literal announcement and
 * fake_literal() delivers the bytes as the core would, as PO_FRAME_LITERAL
 * chunks.
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
#include "imap.h"
#include "imap_private.h"

#define CAPS                                                                   \
	"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE IDLE NAMESPACE UIDPLUS "  \
	"MOVE ID UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE "     \
	"ESEARCH SEARCHRES BINARY STATUS=SIZE UTF8=ACCEPT"
#define AUTH_FAILED "NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
/* base64 of "\0alice\0secret" */
#define PLAIN_ALICE "AGFsaWNlAHNlY3JldA=="

static int64_t alice_id;

static int setup(void **state)
{
	struct fake_env *fe = fake_env_new();

	alice_id = fake_env_add_account(fe, "alice", "secret", true, true);
	fake_env_add_account(fe, "bob", "hunter2", true, false);
	fake_env_add_account(fe, "carol", "pw", true, true);
	assert_int_equal(auth_account_set_state(fe->env.auth, "carol",
	                                        AUTH_STATE_DISABLED),
	                 0);
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

static struct po_conn *connect_imap(struct fake_env *fe)
{
	struct po_conn *c = fake_conn_new(fe, &imap_protocol);

	expect(c, "* OK [CAPABILITY " CAPS " AUTH=PLAIN] postoffice ready\r\n");
	return c;
}

static struct po_conn *login(struct fake_env *fe)
{
	struct po_conn *c = connect_imap(fe);

	fake_line(c, "L1 LOGIN alice secret");
	expect(c, "L1 OK [CAPABILITY " CAPS "] Logged in\r\n");
	return c;
}

/* SELECT INBOX (the mailbox helper's command); its untagged lines are
 * checked by that helper's tests. */
static void select_inbox(struct po_conn *c)
{
	char *got;

	fake_line(c, "S1 SELECT INBOX");
	got = fake_take(c);
	assert_non_null(strstr(got, "\r\nS1 OK [READ-WRITE]"));
	free(got);
}

static struct store_account *other_handle(struct fake_env *fe, int64_t *inbox_r)
{
	struct store_account *a = NULL;
	struct store_mailbox_info info;

	assert_int_equal(store_account_open(fe->env.store, alice_id, &a),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(a, "INBOX", &info), STORE_OK);
	*inbox_r = info.id;
	return a;
}

/* --- greeting, CAPABILITY, STARTTLS ------------------------------------ */

static void test_capability_before_and_after_login_and_tls(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);

	c->tls_available = true;
	c->plaintext_allowed = false;
	fake_line(c, "a CAPABILITY");
	expect(c, "* CAPABILITY " CAPS " STARTTLS LOGINDISABLED\r\n"
	          "a OK CAPABILITY completed\r\n");
	fake_line(c, "b LOGIN alice secret");
	expect(c, "b NO [PRIVACYREQUIRED] Plaintext authentication is not "
	          "allowed without TLS; use STARTTLS first\r\n");
	assert_int_equal(c->delay_ms, 0);
	fake_line(c, "c AUTHENTICATE PLAIN " PLAIN_ALICE);
	expect(c, "c NO [PRIVACYREQUIRED] Plaintext authentication is not "
	          "allowed without TLS; use STARTTLS first\r\n");
	fake_line(c, "d STARTTLS");
	expect(c, "d OK Begin TLS negotiation now\r\n");
	assert_int_equal(c->starttls_calls, 1);
	fake_tls_ready(c);
	expect(c, "");
	fake_line(c, "e CAPABILITY");
	expect(c, "* CAPABILITY " CAPS " AUTH=PLAIN\r\ne OK CAPABILITY "
	          "completed\r\n");
	fake_line(c, "f STARTTLS");
	expect(c, "f BAD TLS is already active\r\n");
	fake_line(c, "g LOGIN alice secret");
	expect(c, "g OK [CAPABILITY " CAPS "] Logged in\r\n");
	fake_line(c, "h CAPABILITY");
	expect(c, "* CAPABILITY " CAPS "\r\nh OK CAPABILITY completed\r\n");
	fake_line(c, "i STARTTLS");
	expect(c, "i BAD STARTTLS not allowed now\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_id_namespace_enable(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);
	struct imap_session *s = conn_session(c);

	fake_line(c, "1 ID (\"name\" \"test\" \"version\" NIL)");
	expect(c, "* ID (\"name\" \"postoffice\")\r\n1 OK ID completed\r\n");
	fake_line(c, "2 id nil");
	expect(c, "* ID (\"name\" \"postoffice\")\r\n2 OK ID completed\r\n");
	fake_line(c, "3 ID (\"name\")");
	expect(c, "3 BAD Invalid ID parameter list\r\n");
	fake_line(c, "4 ENABLE IMAP4rev2");
	expect(c, "4 BAD ENABLE not allowed now\r\n");
	fake_line(c, "5 LOGIN alice secret");
	free(fake_take(c));
	fake_line(c, "6 NAMESPACE");
	expect(c, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
	          "6 OK NAMESPACE completed\r\n");
	fake_line(c, "7 ENABLE CONDSTORE utf8=accept");
	expect(c, "* ENABLED UTF8=ACCEPT\r\n7 OK ENABLE completed\r\n");
	assert_true(s->enabled_utf8);
	assert_false(s->enabled_rev2);
	fake_line(c, "8 ENABLE UTF8=ACCEPT IMAP4rev2");
	expect(c, "* ENABLED IMAP4rev2\r\n8 OK ENABLE completed\r\n");
	assert_true(s->enabled_rev2);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

/* --- LOGIN and AUTHENTICATE --------------------------------------------- */

static void test_login_results(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);

	/* Wrong password and unknown user: the same reply and delay. */
	fake_line(c, "A1 LOGIN alice wrong");
	expect(c, "A1 " AUTH_FAILED);
	assert_int_equal(c->delay_ms, 2000);
	fake_line(c, "A2 LOGIN nobody secret");
	expect(c, "A2 " AUTH_FAILED);
	assert_int_equal(c->delay_ms, 4000);
	/* IMAP switched off: told only after a correct password. */
	fake_line(c, "A3 LOGIN bob wrong");
	expect(c, "A3 " AUTH_FAILED);
	fake_line(c, "A4 LOGIN bob hunter2");
	expect(c, "A4 NO [CONTACTADMIN] IMAP access is disabled for this "
	          "account\r\n");
	assert_int_equal(c->delay_ms, 6000);
	fake_line(c, "A5 LOGIN carol pw");
	expect(c, "A5 NO [CONTACTADMIN] This account is disabled\r\n");
	fake_line(c, "A6 LOGIN carol bad");
	expect(c, "A6 " AUTH_FAILED);
	assert_string_equal(c->user, "");
	/* Quoted strings; a name in another case. */
	fake_line(c, "A7 LOGIN \"ALICE\" \"secret\"");
	expect(c, "A7 OK [CAPABILITY " CAPS "] Logged in\r\n");
	assert_string_equal(c->user, "alice");
	fake_line(c, "A8 LOGIN alice secret");
	expect(c, "A8 BAD LOGIN not allowed now\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_authenticate_plain(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);

	/* Without an initial response: "+ " and the next line. */
	fake_line(c, "A1 AUTHENTICATE PLAIN");
	expect(c, "+ \r\n");
	fake_line(c, "*");
	expect(c, "A1 BAD Authentication cancelled\r\n");
	fake_line(c, "A2 AUTHENTICATE PLAIN");
	expect(c, "+ \r\n");
	fake_line(c, "!!!");
	expect(c, "A2 BAD Invalid SASL PLAIN response (bad base64 or "
	          "format)\r\n");
	fake_line(c, "A3 AUTHENTICATE PLAIN");
	expect(c, "+ \r\n");
	fake_line(c, "AGFsaWNlAHdyb25n"); /* \0alice\0wrong */
	expect(c, "A3 " AUTH_FAILED);
	assert_int_equal(c->delay_ms, 2000);
	fake_line(c, "A4 AUTHENTICATE CRAM-MD5");
	expect(c, "A4 NO [CANNOT] Unsupported authentication mechanism\r\n");
	fake_line(c, "A5 AUTHENTICATE PLAIN");
	expect(c, "+ \r\n");
	fake_line(c, PLAIN_ALICE);
	expect(c, "A5 OK [CAPABILITY " CAPS "] Logged in\r\n");
	assert_string_equal(c->user, "alice");
	fake_conn_free(&c, PO_CLOSE_CLIENT);

	/* SASL-IR (RFC 4959): no continuation. */
	c = connect_imap(fe);
	fake_line(c, "B1 authenticate plain " PLAIN_ALICE);
	expect(c, "B1 OK [CAPABILITY " CAPS "] Logged in\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

/* --- literals ------------------------------------------------------------ */

static void test_literals_sync_and_nonsync(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c;

	c = connect_imap(fe);
	c->literal_calls = 0;
	fake_line(c, "A1 LOGIN {5}");
	expect(c, "+ Ready for literal data\r\n");
	assert_int_equal(c->literal_calls, 1);
	assert_int_equal(c->literal_size, 5);
	fake_literal(c, "alice", 5, 2);
	fake_line(c, " {6+}");
	expect(c, ""); /* LITERAL+: no continuation */
	assert_int_equal(c->literal_calls, 2);
	assert_int_equal(c->literal_size, 6);
	fake_literal(c, "secret", 6, 4);
	assert_int_equal(c->literal_left, 0);
	fake_line(c, "");
	expect(c, "A1 OK [CAPABILITY " CAPS "] Logged in\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_literal_too_big_is_refused_before_reading(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);

	/* Before login a command may have 64 KiB. */
	fake_line(c, "A1 LOGIN {70000}");
	expect(c, "A1 NO [TOOBIG] Command too large\r\n");
	assert_int_equal(c->literal_calls, 0);
	fake_line(c, "A2 NOOP");
	expect(c, "A2 OK NOOP completed\r\n");
	fake_line(c, "A3 FROB {5}");
	expect(c, "A3 BAD Unknown command\r\n");
	assert_int_equal(c->literal_calls, 0);
	fake_line(c, "A4 SELECT {5}");
	expect(c, "A4 BAD Command not allowed now\r\n");
	fake_line(c, "A5 LOGIN {}");
	expect(c, "A5 BAD Invalid literal size\r\n");
	assert_int_equal(c->literal_calls, 0);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_refused_nonsync_literal_is_skipped(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);
	static char junk[70000];
	const char *inner = "\r\nA2 LOGOUT\r\n";

	memset(junk, 'x', sizeof(junk));
	memcpy(junk + 100, inner, strlen(inner));
	fake_line(c, "A1 LOGIN alice {70000+}");
	expect(c, "");
	assert_int_equal(c->literal_calls, 1);
	assert_int_equal(c->literal_size, 70000);
	assert_int_equal(fake_literal(c, junk, sizeof(junk), 4096), PO_OK);
	expect(c, "");
	/* The rest of the command may announce another {N+}: skipped too. */
	fake_line(c, " {3+}");
	assert_int_equal(c->literal_calls, 2);
	fake_literal(c, "abc", 3, 3);
	expect(c, "");
	fake_line(c, "");
	expect(c, "A1 BAD [TOOBIG] Command too large\r\n");
	assert_false(c->closing);
	/* A2 LOGOUT inside the bytes never ran. */
	fake_line(c, "A3 NOOP");
	expect(c, "A3 OK NOOP completed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);

	/* An absurd {N+} is not read at all. */
	c = connect_imap(fe);
	c->literal_calls = 0;
	assert_int_equal(fake_line(c, "A1 LOGIN alice {99999999999+}"),
	                 PO_CLOSE);
	expect(c, "* BYE [TOOBIG] Literal too large\r\n");
	assert_int_equal(c->literal_calls, 0);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_too_many_literals(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = login(fe);
	char line[32];

	fake_line(c, "A1 ID ({1+}");
	fake_literal(c, "a", 1, 1);
	for (int i = 1; i < IMAP_CMD_MAX_LITERALS; i++) {
		snprintf(line, sizeof(line), " {1+}");
		fake_line(c, line);
		fake_literal(c, "b", 1, 1);
	}
	expect(c, "");
	c->literal_calls = 0;
	fake_line(c, " {1}");
	expect(c, "A1 NO [LIMIT] Too many literals in one command\r\n");
	assert_int_equal(c->literal_calls, 0);
	fake_line(c, "A2 NOOP");
	expect(c, "A2 OK NOOP completed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

/* --- dispatch --------------------------------------------------------------
 */

static void test_pipelined_commands_answer_in_order(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);

	fake_line(c, "p1 NOOP");
	fake_line(c, "p2 LOGIN alice secret");
	fake_line(c, "p3 NAMESPACE");
	fake_line(c, "p4 NOOP");
	fake_line(c, "p5 LOGOUT");
	expect(c, "p1 OK NOOP completed\r\n"
	          "p2 OK [CAPABILITY " CAPS "] Logged in\r\n"
	          "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
	          "p3 OK NAMESPACE completed\r\n"
	          "p4 OK NOOP completed\r\n"
	          "* BYE postoffice logging out\r\n"
	          "p5 OK LOGOUT completed\r\n");
	assert_true(c->closing);
	fake_conn_free(&c, PO_CLOSE_PROTOCOL);
}

static void test_bad_commands_keep_their_tag(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = connect_imap(fe);

	fake_line(c, "x1 FROB");
	expect(c, "x1 BAD Unknown command\r\n");
	fake_line(c, "x2 LOGIN alice");
	expect(c, "x2 BAD LOGIN needs a user name and a password\r\n");
	fake_line(c, "x3 SELECT INBOX");
	expect(c, "x3 BAD SELECT not allowed now\r\n");
	fake_line(c, "x4 UID NOOP");
	expect(c, "x4 BAD Unknown UID command\r\n");
	fake_line(c, "x5 NOOP extra");
	expect(c, "x5 BAD Unexpected arguments\r\n");
	fake_line(c, "x6 LOGIN \"a");
	expect(c, "x6 BAD Unterminated quoted string\r\n");
	fake_line(c, "");
	expect(c, "* BAD Empty command\r\n");
	fake_line(c, "x8 UID FETCH 1 FLAGS");
	expect(c, "x8 BAD UID FETCH not allowed now\r\n");
	assert_int_equal(c->bad_commands, 8);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

/* --- IDLE and untagged updates ---------------------------------------------
 */

static void test_idle_done_and_bad_line(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = login(fe);

	fake_line(c, "I1 IDLE");
	expect(c, "+ idling\r\n");
	fake_notify(c);
	expect(c, "");
	fake_line(c, "done");
	expect(c, "I1 OK IDLE terminated\r\n");
	fake_line(c, "I2 IDLE");
	expect(c, "+ idling\r\n");
	fake_line(c, "I3 NOOP");
	expect(c, "I2 BAD Expected DONE\r\n");
	fake_line(c, "I4 NOOP");
	expect(c, "I4 OK NOOP completed\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_idle_reports_append_from_another_handle(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = login(fe);
	int64_t inbox;
	struct store_account *a = other_handle(fe, &inbox);

	select_inbox(c);
	assert_int_equal(c->watch_account, alice_id);
	assert_int_equal(c->watch_mailbox, inbox);
	fake_line(c, "I1 IDLE");
	expect(c, "+ idling\r\n");
	/* Idling, the session holds no database handle (hibernation). */
	assert_null(((struct imap_session *)c->session)->acct);
	assert_int_equal(store_append(a, inbox, "Subject: x\r\n\r\nx\r\n", 17,
	                              0, 0, NULL, NULL),
	                 STORE_OK);
	fake_notify(c);
	expect(c, "* 1 EXISTS\r\n");
	assert_null(((struct imap_session *)c->session)->acct);
	fake_notify(c);
	expect(c, "");
	assert_int_equal(store_append(a, inbox, "Subject: y\r\n\r\ny\r\n", 17,
	                              0, 0, NULL, NULL),
	                 STORE_OK);
	fake_notify(c);
	expect(c, "* 2 EXISTS\r\n");
	fake_line(c, "DONE");
	expect(c, "I1 OK IDLE terminated\r\n");
	/* Leaving the mailbox stops the watch. */
	fake_line(c, "U1 UNSELECT");
	free(fake_take(c));
	assert_int_equal(c->watch_account, 0);
	store_account_close(&a);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_noop_reports_expunge_and_flags(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c;
	int64_t inbox;
	struct store_account *a = other_handle(fe, &inbox);
	struct store_flag_result *res = NULL;
	size_t n_res = 0;
	uint32_t uid1, uid2;
	uint64_t kw = 0;
	const char *name = "$Work";

	assert_int_equal(
	        store_append(a, inbox, "A: 1\r\n\r\n", 8, 0, 0, NULL, &uid1),
	        STORE_OK);
	assert_int_equal(
	        store_append(a, inbox, "A: 2\r\n\r\n", 8, 0, 0, NULL, &uid2),
	        STORE_OK);
	c = login(fe);
	select_inbox(c);
	fake_line(c, "N1 NOOP");
	expect(c, "N1 OK NOOP completed\r\n");
	assert_int_equal(store_expunge(a, inbox, &uid1, 1), STORE_OK);
	fake_line(c, "N2 NOOP");
	expect(c, "* 1 EXPUNGE\r\nN2 OK NOOP completed\r\n");
	assert_int_equal(store_set_flags(a, inbox, &uid2, 1, STORE_FLAGS_ADD,
	                                 STORE_F_SEEN, 0, 0, &res, &n_res),
	                 STORE_OK);
	free(res);
	fake_line(c, "N3 NOOP");
	expect(c, "* 1 FETCH (UID 2 FLAGS (\\Seen))\r\nN3 OK NOOP "
	          "completed\r\n");
	/* A new keyword: FLAGS and PERMANENTFLAGS before the FETCH. */
	assert_int_equal(store_keyword_mask(a, &name, 1, true, &kw), STORE_OK);
	assert_int_equal(store_set_flags(a, inbox, &uid2, 1, STORE_FLAGS_ADD, 0,
	                                 kw, 0, &res, &n_res),
	                 STORE_OK);
	free(res);
	fake_line(c, "N4 NOOP");
	expect(c, "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft "
	          "$Work)\r\n"
	          "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted "
	          "\\Draft $Work \\*)] Flags permitted\r\n"
	          "* 1 FETCH (UID 2 FLAGS (\\Seen $Work))\r\n"
	          "N4 OK NOOP completed\r\n");
	store_account_close(&a);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_sync_holds_expunges_when_not_allowed(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c;
	int64_t inbox;
	struct store_account *a = other_handle(fe, &inbox);
	struct imap_session *s;
	struct po_buf out = PO_BUF_INIT;
	uint32_t uids[3];

	for (int i = 0; i < 3; i++)
		assert_int_equal(store_append(a, inbox, "A: 1\r\n\r\n", 8, 0, 0,
		                              NULL, &uids[i]),
		                 STORE_OK);
	c = login(fe);
	select_inbox(c);
	s = conn_session(c);
	assert_int_equal(s->sel.count, 3);
	assert_int_equal(store_expunge(a, inbox, &uids[0], 1), STORE_OK);
	assert_int_equal(store_expunge(a, inbox, &uids[2], 1), STORE_OK);
	assert_int_equal(
	        store_append(a, inbox, "A: 4\r\n\r\n", 8, 0, 0, NULL, NULL),
	        STORE_OK);
	/* As during FETCH by sequence number: EXISTS counts the messages
	 * the client still has. */
	assert_int_equal(imap_sync(s, &out, false), STORE_OK);
	assert_string_equal(out.data, "* 4 EXISTS\r\n");
	assert_int_equal(s->sel.n_pending_expunge, 2);
	po_buf_reset(&out);
	assert_int_equal(imap_sync(s, &out, false), STORE_OK);
	assert_int_equal(out.len, 0);
	/* Highest sequence number first. */
	assert_int_equal(imap_sync(s, &out, true), STORE_OK);
	assert_string_equal(out.data, "* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n");
	assert_int_equal(s->sel.count, 2);
	assert_int_equal(s->sel.uids[0], uids[1]);
	po_buf_deinit(&out);
	store_account_close(&a);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_deleted_mailbox_expunges_everything(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = login(fe);
	struct store_account *a;
	struct store_mailbox_info info;
	int64_t inbox, box;
	struct imap_session *s = conn_session(c);
	char *got;

	a = other_handle(fe, &inbox);
	assert_int_equal(store_mailbox_create(a, "Box", NULL, &box), STORE_OK);
	for (int i = 0; i < 2; i++)
		assert_int_equal(store_append(a, box, "A: 1\r\n\r\n", 8, 0, 0,
		                              NULL, NULL),
		                 STORE_OK);
	fake_line(c, "S2 SELECT Box");
	got = fake_take(c);
	assert_non_null(strstr(got, "* 2 EXISTS\r\n"));
	free(got);
	assert_int_equal(c->watch_mailbox, box);
	assert_int_equal(store_mailbox_delete(a, "Box"), STORE_OK);
	assert_int_equal(store_mailbox_get(a, "Box", &info), STORE_E_NOTFOUND);
	fake_line(c, "N1 NOOP");
	expect(c, "* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nN1 OK NOOP completed\r\n");
	assert_true(s->sel.gone);
	fake_line(c, "N2 NOOP");
	expect(c, "N2 OK NOOP completed\r\n");
	store_account_close(&a);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

/* A response larger than IMAP_OUT_CHUNK goes out in steps, each after the
 * output drained, and the tagged line comes last. */
static void test_large_fetch_resumes_after_drain(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c;
	int64_t inbox;
	struct store_account *a = other_handle(fe, &inbox);
	size_t size = 90000, n = 4;
	char *msg = malloc(size), *got, *p;
	size_t count = 0;

	memset(msg, 'x', size);
	memcpy(msg, "Subject: big\r\n\r\n", 16);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		        store_append(a, inbox, msg, size, 0, 0, NULL, NULL),
		        STORE_OK);
	c = login(fe);
	select_inbox(c);
	c->output_limit = true;
	fake_line(c, "F1 FETCH 1:* BODY.PEEK[]");
	got = fake_take(c);
	if (strlen(got) <= n * size)
		fail_msg("got %zu: %.300s paused %d job %p", strlen(got), got,
		         c->paused, (void *)c->job);
	for (p = got; (p = strstr(p, " FETCH (")) != NULL; p++)
		count++;
	assert_int_equal(count, n);
	p = strstr(got, "F1 OK");
	assert_non_null(p);
	assert_string_equal(p + strcspn(p, "\r"), "\r\n");
	free(got);
	assert_false(c->paused);
	fake_line(c, "N1 NOOP");
	expect(c, "N1 OK NOOP completed\r\n");
	free(msg);
	store_account_close(&a);
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_sel_resolve(void **state)
{
	struct imap_session s;
	struct imap_seqset set;
	uint32_t map[] = {3, 5, 9, 10}, saved[] = {9, 4};
	uint32_t *u;
	size_t n;
	const char *err;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.sel.uids = map;
	s.sel.count = 4;
	s.sel.searchres = saved;
	s.sel.n_searchres = 2;
	assert_int_equal(imap_seqset_parse("2:*", 3, &set, &err), 0);
	assert_int_equal(imap_sel_resolve(&s, &set, false, &u, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(u[0], 5);
	assert_int_equal(u[2], 10);
	free(u);
	imap_seqset_deinit(&set);
	assert_int_equal(imap_seqset_parse("5", 1, &set, &err), 0);
	assert_int_equal(imap_sel_resolve(&s, &set, false, &u, &n, &err), -1);
	assert_string_equal(err, "Invalid sequence number");
	/* As UIDs: 5 is there; 4 is not. */
	assert_int_equal(imap_sel_resolve(&s, &set, true, &u, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(u[0], 5);
	free(u);
	imap_seqset_deinit(&set);
	assert_int_equal(imap_seqset_parse("4,11:*,$", 8, &set, &err), 0);
	assert_int_equal(imap_sel_resolve(&s, &set, true, &u, &n, &err), 0);
	assert_int_equal(n, 2); /* 10 (as "*"), 9 from "$" */
	assert_int_equal(u[0], 9);
	assert_int_equal(u[1], 10);
	free(u);
	imap_seqset_deinit(&set);
	assert_int_equal(imap_sel_seq(&s, 9), 3);
	assert_int_equal(imap_sel_seq(&s, 4), 0);
	s.sel.count = 0;
	assert_int_equal(imap_seqset_parse("1:*", 3, &set, &err), 0);
	assert_int_equal(imap_sel_resolve(&s, &set, true, &u, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(u);
	assert_int_equal(imap_sel_resolve(&s, &set, false, &u, &n, &err), -1);
	imap_seqset_deinit(&set);
}

static void test_logout_after_select_releases(void **state)
{
	struct fake_env *fe = *state;
	struct po_conn *c = login(fe);
	struct imap_session *s = conn_session(c);

	select_inbox(c);
	assert_int_equal(fake_line(c, "Z LOGOUT"), PO_CLOSE);
	expect(c, "* BYE postoffice logging out\r\nZ OK LOGOUT completed\r\n");
	assert_null(s->acct);
	assert_null(s->sel.uids);
	fake_conn_free(&c, PO_CLOSE_PROTOCOL);
}

/* Many messages leave the map in one call (EXPUNGE, MOVE): the numbers
 * the client must read in either order, the map compacted once, the
 * announced UIDs no longer pending. */
static void test_sel_expunge_uids_batch(void **state)
{
	struct imap_session s;
	struct po_buf out = PO_BUF_INIT;
	uint32_t gone[] = {9, 2, 5, 42, 2};
	const uint32_t left[] = {1, 3, 4, 6, 7, 8, 10};
	size_t big = 200000;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.sel.cap = s.sel.count = 10;
	s.sel.uids = calloc(10, sizeof(uint32_t));
	for (uint32_t i = 0; i < 10; i++)
		s.sel.uids[i] = i + 1;
	s.sel.pending_expunge = calloc(2, sizeof(uint32_t));
	s.sel.pending_expunge[0] = 7;
	s.sel.pending_expunge[1] = 5;
	s.sel.n_pending_expunge = 2;
	imap_sel_expunge_uids(&s, &out, gone, 5, true);
	assert_string_equal(out.data,
	                    "* 9 EXPUNGE\r\n* 5 EXPUNGE\r\n* 2 EXPUNGE\r\n");
	assert_int_equal(s.sel.count, 7);
	assert_memory_equal(s.sel.uids, left, sizeof(left));
	assert_int_equal(s.sel.n_pending_expunge, 1);
	assert_int_equal(s.sel.pending_expunge[0], 7);
	/* Lowest first: 3 is message 2, then 6 is message 4 - 1 = 3. */
	po_buf_reset(&out);
	gone[0] = 6;
	gone[1] = 3;
	imap_sel_expunge_uids(&s, &out, gone, 2, false);
	assert_string_equal(out.data, "* 2 EXPUNGE\r\n* 3 EXPUNGE\r\n");
	assert_int_equal(s.sel.count, 5);
	assert_int_equal(s.sel.uids[1], 4);
	assert_int_equal(s.sel.uids[2], 7);
	/* 200000 messages at once: one compaction (one by one, each removal
	 * moved the rest of the map: 2 * 10^10 word moves). */
	free(s.sel.uids);
	s.sel.uids = calloc(big, sizeof(uint32_t));
	for (size_t i = 0; i < big; i++)
		s.sel.uids[i] = (uint32_t)i + 1;
	s.sel.count = s.sel.cap = (uint32_t)big;
	po_buf_reset(&out);
	imap_sel_expunge_uids(&s, &out, s.sel.uids, big - 1, false);
	assert_int_equal(s.sel.count, 1);
	assert_int_equal(s.sel.uids[0], big);
	assert_int_equal(out.len, (big - 1) * strlen("* 1 EXPUNGE\r\n"));
	po_buf_deinit(&out);
	free(s.sel.uids);
	free(s.sel.pending_expunge);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_capability_before_and_after_login_and_tls),
	        T(test_id_namespace_enable),
	        T(test_login_results),
	        T(test_authenticate_plain),
	        T(test_literals_sync_and_nonsync),
	        T(test_literal_too_big_is_refused_before_reading),
	        T(test_refused_nonsync_literal_is_skipped),
	        T(test_too_many_literals),
	        T(test_pipelined_commands_answer_in_order),
	        T(test_bad_commands_keep_their_tag),
	        T(test_idle_done_and_bad_line),
	        T(test_idle_reports_append_from_another_handle),
	        T(test_noop_reports_expunge_and_flags),
	        T(test_sync_holds_expunges_when_not_allowed),
	        T(test_deleted_mailbox_expunges_everything),
	        T(test_large_fetch_resumes_after_drain),
	        cmocka_unit_test(test_sel_resolve),
	        cmocka_unit_test(test_sel_expunge_uids_batch),
	        T(test_logout_after_select_releases),
	};

	return cmocka_run_group_tests_name("imap_session", tests, NULL, NULL);
}
