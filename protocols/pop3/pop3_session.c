/*
 * The POP3 session: the dispatcher that checks each command against the
 * command table (state and argument flags) before its handler runs, the
 * state changes, and the worker jobs (login, reading a message in chunks,
 * QUIT's update) with what the loop does when each finishes.  Work that
 * touches disk or hashes a password runs in a job; this file never calls
 * store_* or auth_* on the loop thread except store_pop_unlock (memory
 * only) and, when a client drops without QUIT, store_account_close.
 * RFC 1939 §3-§6, RFC 2449 (response codes), RFC 3206 ([AUTH], [SYS]).
 */
#include "pop3_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

static const char *state_name(enum pop3_state state)
{
	switch (state) {
	case POP3_AUTHORIZATION:
		return "authorization";
	case POP3_TRANSACTION:
		return "transaction";
	case POP3_UPDATE:
		return "update";
	}
	return "?";
}

void pop3__enter_state(struct po_conn *c, struct pop3_session *s,
                       enum pop3_state state)
{
	conn_log(c, LOG_DEBUG, "state from=%s to=%s", state_name(s->state),
	         state_name(state));
	s->state = state;
}

int pop3__bad(struct po_conn *c, const char *text)
{
	conn_printf(c, "-ERR %s\r\n", text);
	return conn_bad_command(c);
}

int pop3__input(struct po_conn *c, const struct po_frame *f)
{
	struct pop3_session *s = conn_session(c);
	const struct pop3_command *cmd;
	struct pop3_cmd pc;
	const char *error;

	if (f->kind != PO_FRAME_LINE)
		return pop3__bad(c, "Unexpected input");
	if (s->quitting)
		return PO_CLOSE;
	if (s->sasl_wait)
		return pop3__sasl_response(c, s, f->data, f->len);
	if (pop3_parse_command(f->data, f->len, &pc, &error) < 0)
		return pop3__bad(c, error);
	cmd = pop3__command_find(pc.verb);
	if (cmd == NULL)
		return pop3__bad(c, "Unknown command");
	if ((cmd->states & s->state) == 0) {
		conn_printf(c, "-ERR %s is not allowed in this state\r\n",
		            cmd->name);
		return conn_bad_command(c);
	}
	if ((cmd->flags & POP3_CMD_NOARGS) && pc.has_args) {
		conn_printf(c, "-ERR %s takes no arguments\r\n", cmd->name);
		return conn_bad_command(c);
	}
	return cmd->handler(c, s, &pc);
}

struct pop3_job *pop3__job_new(struct po_conn *c, enum pop3_job_kind kind)
{
	const struct po_env *env = conn_env(c);
	struct pop3_job *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->store = env->store;
	j->auth = env->auth;
	po_buf_init(&j->out);
	return j;
}

void pop3__job_free(struct pop3_job **jp)
{
	struct pop3_job *j = *jp;

	if (j == NULL)
		return;
	explicit_bzero(j->password, sizeof(j->password));
	po_buf_deinit(&j->out);
	free(j->msgs);
	free(j->uids);
	free(j);
	*jp = NULL;
}

/* --- LOGIN ------------------------------------------------------------ */

/* Take the INBOX snapshot (RFC 1939 §5: fixed for the session). */
static int snapshot(struct pop3_job *j)
{
	struct store_mailbox_info info;
	struct store_msg *list = NULL;
	size_t n = 0;
	int ret;

	ret = store_mailbox_get(j->acct, "INBOX", &info);
	if (ret != STORE_OK)
		return ret;
	ret = store_list(j->acct, info.id, &list, &n);
	if (ret != STORE_OK)
		return ret;
	j->mailbox_id = info.id;
	j->msgs = xcalloc(n ? n : 1, sizeof(*j->msgs));
	for (size_t i = 0; i < n; i++) {
		j->msgs[i].uid = list[i].uid;
		j->msgs[i].size = list[i].size;
		memcpy(j->msgs[i].uidl, list[i].uidl, sizeof(list[i].uidl));
	}
	j->n_msgs = n;
	free(list);
	return STORE_OK;
}

/* Open the mailbox after a correct password and an allowed policy. */
static enum pop3_login_result login_open(struct pop3_job *j)
{
	int ret;

	if (store_pop_lock(j->store, j->account.id) == STORE_E_INUSE)
		return POP3_LOGIN_INUSE;
	ret = store_account_open(j->store, j->account.id, &j->acct);
	if (ret == STORE_OK)
		ret = snapshot(j);
	if (ret == STORE_OK)
		return POP3_LOGIN_OK;
	if (j->acct != NULL)
		store_account_close(&j->acct);
	store_pop_unlock(j->store, j->account.id);
	return ret == STORE_E_NOTFOUND ? POP3_LOGIN_NOMAILBOX
	                               : POP3_LOGIN_TEMPFAIL;
}

static void login_work(struct po_job *job)
{
	struct pop3_job *j = (struct pop3_job *)job;
	enum auth_result ar;

	ar = auth_login(j->auth, j->name, j->password, &j->account);
	explicit_bzero(j->password, sizeof(j->password));
	if (ar == AUTH_FAILED) {
		j->login = POP3_LOGIN_FAILED;
		return;
	}
	if (ar != AUTH_OK) {
		j->login = POP3_LOGIN_TEMPFAIL;
		return;
	}
	/* The policy is told only to a client that knows the password. */
	switch (auth_policy_check(&j->account, AUTH_PROTO_POP3)) {
	case AUTH_DENIED_DISABLED:
		j->login = POP3_LOGIN_DISABLED;
		return;
	case AUTH_DENIED_PROTOCOL:
		j->login = POP3_LOGIN_POP_OFF;
		return;
	case AUTH_ALLOWED:
		break;
	}
	j->login = login_open(j);
}

int pop3__start_login(struct po_conn *c, struct pop3_session *s,
                      const char *name, const char *password)
{
	struct pop3_job *j = pop3__job_new(c, POP3_JOB_LOGIN);

	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->password, sizeof(j->password), "%s", password);
	return pop3__submit(c, s, j);
}

/* The replies for each refused login.  RFC 3206 §5: [AUTH] covers wrong
 * credentials and "an attempt to authenticate in violation of policy",
 * which is what a disabled account or POP switched off is.  RFC 2449 §8.1.1:
 * [IN-USE] when the maildrop lock is held.  RFC 3206 §4: [SYS/TEMP] for a
 * passing system problem, [SYS/PERM] for one that needs an administrator. */
static const char *login_error(enum pop3_login_result r)
{
	switch (r) {
	case POP3_LOGIN_OK:
		break;
	case POP3_LOGIN_FAILED:
		return "-ERR [AUTH] Authentication failed\r\n";
	case POP3_LOGIN_TEMPFAIL:
		return "-ERR [SYS/TEMP] Temporary server failure, try again "
		       "later\r\n";
	case POP3_LOGIN_DISABLED:
		return "-ERR [AUTH] Account disabled\r\n";
	case POP3_LOGIN_POP_OFF:
		return "-ERR [AUTH] POP3 access is disabled for this "
		       "account\r\n";
	case POP3_LOGIN_INUSE:
		return "-ERR [IN-USE] Mailbox already in use by another POP3 "
		       "session\r\n";
	case POP3_LOGIN_NOMAILBOX:
		return "-ERR [SYS/PERM] Mailbox not found, contact your "
		       "administrator\r\n";
	}
	return "-ERR [SYS/TEMP] Internal error\r\n";
}

static void login_done(struct po_conn *c, struct pop3_session *s,
                       struct pop3_job *j)
{
	uint64_t bytes = 0;

	if (j->login != POP3_LOGIN_OK) {
		if (j->login == POP3_LOGIN_FAILED)
			conn_delay(c, conn_env(c)->config->auth_fail_delay_ms);
		conn_log(c, LOG_INFO, "login failed result=%d", (int)j->login);
		conn_write_str(c, login_error(j->login));
		return;
	}
	s->account = j->account;
	s->locked = true;
	s->acct = j->acct;
	j->acct = NULL;
	s->mailbox_id = j->mailbox_id;
	s->msgs = j->msgs;
	j->msgs = NULL;
	s->n_msgs = j->n_msgs;
	for (size_t i = 0; i < s->n_msgs; i++)
		bytes += s->msgs[i].size;
	conn_set_user(c, s->account.name);
	pop3__enter_state(c, s, POP3_TRANSACTION);
	conn_log(c, LOG_INFO, "logged in messages=%zu", s->n_msgs);
	conn_printf(c, "+OK Logged in, %zu messages (%llu octets)\r\n",
	            s->n_msgs, (unsigned long long)bytes);
}

/* --- RETR / TOP --------------------------------------------------------- */

/* Read and encode one chunk.  j->acct is the session's, borrowed: the
 * session runs one job at a time, so only this thread uses it now. */
static void read_work(struct po_job *job)
{
	struct pop3_job *j = (struct pop3_job *)job;
	struct pop3_stream *st = &j->stream;
	char *buf = xmalloc(POP3_CHUNK);
	size_t got = 0;

	j->error = store_read(j->acct, j->read_mailbox, st->uid, st->offset,
	                      buf, POP3_CHUNK, &got);
	if (j->error == STORE_OK) {
		st->offset += got;
		pop3_stream_encode(st, buf, got, &j->out);
		/* got == 0 before size: the message shrank; end it anyway. */
		if (st->offset >= st->size || got == 0 || st->done)
			pop3_stream_finish(st, &j->out);
	}
	free(buf);
}

static int submit_read(struct po_conn *c, struct pop3_session *s)
{
	struct pop3_job *j = pop3__job_new(c, POP3_JOB_READ);

	j->acct = s->acct;
	j->read_mailbox = s->mailbox_id;
	j->stream = s->stream;
	return pop3__submit(c, s, j);
}

int pop3__start_send(struct po_conn *c, struct pop3_session *s,
                     const struct pop3_msg *m, bool top, uint64_t lines)
{
	pop3_stream_init(&s->stream, m->uid, m->size, top, lines);
	s->sending = true;
	s->wait_drain = false;
	return submit_read(c, s);
}

/* RFC 1939 §5 keeps the snapshot, but the message may have been expunged
 * by an IMAP session since; say so plainly.  Nothing has been sent for it
 * yet when the first chunk fails, so a -ERR is still a valid reply. */
static const char *read_error(int error)
{
	if (error == STORE_E_EXPUNGED || error == STORE_E_NOTFOUND)
		return "-ERR Message was deleted by another session\r\n";
	return "-ERR [SYS/TEMP] Could not read the message, try again "
	       "later\r\n";
}

static void read_done(struct po_conn *c, struct pop3_session *s,
                      struct pop3_job *j)
{
	bool first = s->stream.offset == 0;

	if (j->error != STORE_OK) {
		s->sending = false;
		if (first) {
			conn_write_str(c, read_error(j->error));
			conn_resume(c);
			return;
		}
		/* Mid-message: the client cannot be told in-band (the
		 * response is already started), so drop it rather than
		 * let it take a truncated message as whole. */
		conn_log(c, LOG_WARN, "read failed uid=%u error=%d",
		         s->stream.uid, j->error);
		s->quitting = true;
		conn_close(c);
		return;
	}
	if (first) {
		if (s->stream.top)
			conn_write_str(c, "+OK Top of message follows\r\n");
		else
			conn_printf(c, "+OK %llu octets\r\n",
			            (unsigned long long)s->stream.size);
	}
	s->stream = j->stream;
	if (j->out.len > 0)
		conn_write(c, j->out.data, j->out.len);
	if (s->stream.done) {
		s->sending = false;
		conn_resume(c);
		return;
	}
	if (conn_output_full(c))
		s->wait_drain = true;
	else
		submit_read(c, s);
}

void pop3__drained(struct po_conn *c)
{
	struct pop3_session *s = conn_session(c);

	if (s->sending && s->wait_drain && !s->job_running) {
		s->wait_drain = false;
		submit_read(c, s);
	}
}

/* --- QUIT (UPDATE state, RFC 1939 §6) --------------------------------- */

static void quit_work(struct po_job *job)
{
	struct pop3_job *j = (struct pop3_job *)job;

	j->error = STORE_OK;
	if (j->n_uids > 0)
		j->error = store_expunge(j->acct, j->read_mailbox, j->uids,
		                         j->n_uids);
	/* The session ends either way: close the database here, off the
	 * loop. */
	store_account_close(&j->acct);
}

int pop3__start_quit(struct po_conn *c, struct pop3_session *s)
{
	struct pop3_job *j = pop3__job_new(c, POP3_JOB_QUIT);

	j->uids = xcalloc(s->n_msgs ? s->n_msgs : 1, sizeof(*j->uids));
	for (size_t i = 0; i < s->n_msgs; i++)
		if (s->msgs[i].deleted)
			j->uids[j->n_uids++] = s->msgs[i].uid;
	j->acct = s->acct;
	s->acct = NULL; /* the job closes it */
	j->read_mailbox = s->mailbox_id;
	pop3__enter_state(c, s, POP3_UPDATE);
	return pop3__submit(c, s, j);
}

static void quit_done(struct po_conn *c, struct pop3_session *s,
                      struct pop3_job *j)
{
	const struct po_env *env = conn_env(c);

	if (s->locked) {
		store_pop_unlock(env->store, s->account.id);
		s->locked = false;
	}
	if (j->error != STORE_OK) {
		conn_log(c, LOG_WARN, "quit expunge failed error=%d", j->error);
		conn_write_str(c, "-ERR [SYS/TEMP] Could not delete the "
		                  "marked messages; none were deleted\r\n");
	} else {
		conn_log(c, LOG_INFO, "quit deleted=%zu", j->n_uids);
		conn_printf(c,
		            "+OK %s POP3 server signing off (%zu messages "
		            "deleted)\r\n",
		            env->config->hostname, j->n_uids);
	}
	s->quitting = true;
	conn_close(c);
}

/* --- jobs ------------------------------------------------------------- */

static void (*const job_work[])(struct po_job *) = {
        [POP3_JOB_LOGIN] = login_work,
        [POP3_JOB_READ] = read_work,
        [POP3_JOB_QUIT] = quit_work,
};

int pop3__submit(struct po_conn *c, struct pop3_session *s, struct pop3_job *j)
{
	int ret = conn_job_submit(c, &j->base, job_work[j->kind]);

	if (ret < 0) {
		/* Only one job at a time: a bug, not the client's fault. */
		conn_log(c, LOG_WARN, "job submit failed error=%d", ret);
		/* READ borrowed the session's database; QUIT took it. */
		if (j->kind == POP3_JOB_QUIT)
			s->acct = j->acct;
		j->acct = NULL;
		pop3__job_free(&j);
		s->sending = false;
		conn_write_str(c, "-ERR [SYS/TEMP] Internal error\r\n");
		return PO_OK;
	}
	s->job_running = true;
	return PO_AGAIN;
}

void pop3__job_done(struct po_conn *c, struct po_job *job)
{
	struct pop3_session *s = conn_session(c);
	struct pop3_job *j = (struct pop3_job *)job;

	s->job_running = false;
	if (conn_is_closing(c)) {
		/* Keep what the session must release in on_close. */
		if (j->kind == POP3_JOB_LOGIN && j->login == POP3_LOGIN_OK) {
			s->account = j->account;
			s->locked = true;
			s->acct = j->acct;
			j->acct = NULL;
		}
		if (j->kind == POP3_JOB_READ)
			j->acct = NULL;
		pop3__job_free(&j);
		return;
	}
	switch (j->kind) {
	case POP3_JOB_LOGIN:
		login_done(c, s, j);
		conn_resume(c);
		break;
	case POP3_JOB_READ:
		j->acct = NULL;
		read_done(c, s, j);
		break;
	case POP3_JOB_QUIT:
		quit_done(c, s, j);
		break;
	}
	pop3__job_free(&j);
}

static void close_account(void *arg)
{
	struct store_account *a = arg;

	store_account_close(&a);
}

void pop3__session_release(struct po_conn *c, struct pop3_session *s)
{
	const struct po_env *env = conn_env(c);

	/* A drop without QUIT deletes nothing (RFC 1939 §6): the marks
	 * only live here.  Closing the database may checkpoint its WAL, so
	 * it runs on a worker, never on the loop. */
	if (s->acct != NULL) {
		conn_run_detached(c, close_account, s->acct);
		s->acct = NULL;
	}
	if (s->locked) {
		store_pop_unlock(env->store, s->account.id);
		s->locked = false;
	}
	free(s->msgs);
	s->msgs = NULL;
	s->n_msgs = 0;
	s->sending = false;
	s->have_user = false;
	s->sasl_wait = false;
	explicit_bzero(s->user, sizeof(s->user));
}
