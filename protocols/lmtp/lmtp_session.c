/*
 * The LMTP session (RFC 2033): the command table and its dispatcher, the
 * envelope (LHLO, MAIL, RCPT with the recipient looked up on a worker),
 * the DATA phase with dot-unstuffing and its strict end-of-data rule, and
 * the delivery job that appends the message to each recipient's INBOX and
 * answers once per recipient (RFC 2033 §4.2).  SMTP parts follow RFC 5321;
 * replies carry RFC 2034 enhanced status codes; RFC 2920 pipelining works
 * because the core hands us one line at a time and holds the rest while a
 * job runs.  Never calls store_* or auth_* on the loop thread.
 */
#include "lmtp_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

static const char *state_name(enum lmtp_state state)
{
	switch (state) {
	case LMTP_GREETED:
		return "greeted";
	case LMTP_READY:
		return "ready";
	case LMTP_MAIL:
		return "mail";
	case LMTP_DATA:
		return "data";
	}
	return "?";
}

void lmtp__enter_state(struct po_conn *c, struct lmtp_session *s,
                       enum lmtp_state state)
{
	conn_log(c, LOG_DEBUG, "state from=%s to=%s", state_name(s->state),
	         state_name(state));
	s->state = state;
}

/* Forget the transaction (RSET, LHLO, after DATA), keeping LHLO. */
void lmtp__reset(struct lmtp_session *s)
{
	s->sender[0] = '\0';
	s->n_rcpts = 0;
	po_buf_deinit(&s->data);
	s->data_bytes = 0;
	s->too_big = false;
	s->no_memory = false;
	s->continuation = false;
}

static int bad(struct po_conn *c, const char *reply)
{
	conn_write_str(c, reply);
	return conn_bad_command(c);
}

static struct lmtp_job *job_new(struct po_conn *c, enum lmtp_job_kind kind)
{
	const struct po_env *env = conn_env(c);
	struct lmtp_job *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->store = env->store;
	j->auth = env->auth;
	return j;
}

static void job_free(struct lmtp_job **jp)
{
	struct lmtp_job *j = *jp;

	free(j->data);
	free(j->rcpts);
	free(j->results);
	free(j);
	*jp = NULL;
}

/* --- commands --------------------------------------------------------- */

static int cmd_lhlo(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	if (cmd->args_len == 0)
		return bad(c, "501 5.5.4 Syntax: LHLO hostname\r\n");
	lmtp__reset(s);
	lmtp__enter_state(c, s, LMTP_READY);
	conn_printf(c,
	            "250-%s\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
	            "250 8BITMIME\r\n",
	            conn_env(c)->config->hostname);
	return PO_OK;
}

static int cmd_helo(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	(void)s;
	(void)cmd;
	/* RFC 2033 §4.1: an LMTP server must not accept HELO or EHLO. */
	return bad(c, "500 5.5.1 This is LMTP: use LHLO\r\n");
}

static int cmd_mail(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	const char *params, *error;
	size_t params_len;

	if (lmtp_parse_path(cmd->args, cmd->args_len, "FROM:", true, s->sender,
	                    &params, &params_len, &error) < 0 ||
	    lmtp_parse_mail_params(params, params_len, &error) < 0) {
		s->sender[0] = '\0';
		return bad(c, error);
	}
	lmtp__enter_state(c, s, LMTP_MAIL);
	conn_write_str(c, "250 2.1.0 OK\r\n");
	return PO_OK;
}

/* RCPT on a worker: the full address, then its local part. */
static void rcpt_work(struct po_job *job)
{
	struct lmtp_job *j = (struct lmtp_job *)job;
	struct auth_account acc;
	char local[LMTP_ADDR_MAX + 1];
	char *at;
	int ret;

	ret = auth_account_get(j->auth, j->rcpt.addr, &acc);
	if (ret == -ENOENT) {
		memcpy(local, j->rcpt.addr, sizeof(local));
		at = strrchr(local, '@');
		if (at != NULL) {
			*at = '\0';
			ret = auth_account_get(j->auth, local, &acc);
		}
	}
	if (ret == 0 && acc.state == AUTH_STATE_ACTIVE) {
		j->rcpt.account_id = acc.id;
		j->rcpt_result = LMTP_RCPT_OK;
	} else if (ret == 0 || ret == -ENOENT) {
		j->rcpt_result = LMTP_RCPT_UNKNOWN;
	} else {
		j->rcpt_result = LMTP_RCPT_TEMP;
	}
}

static int cmd_rcpt(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	struct lmtp_job *j;
	const char *params, *error;
	size_t params_len;

	j = job_new(c, LMTP_JOB_RCPT);
	if (lmtp_parse_path(cmd->args, cmd->args_len, "TO:", false,
	                    j->rcpt.addr, &params, &params_len, &error) < 0) {
		job_free(&j);
		return bad(c, error);
	}
	if (params_len > 0) {
		job_free(&j);
		return bad(c, "555 5.5.4 Unsupported RCPT parameter\r\n");
	}
	if (s->n_rcpts >= LMTP_RCPT_MAX) {
		job_free(&j);
		conn_write_str(c, "452 4.5.3 Too many recipients\r\n");
		return PO_OK;
	}
	if (conn_job_submit(c, &j->base, rcpt_work) < 0) {
		job_free(&j);
		conn_write_str(c, "451 4.3.0 Internal error\r\n");
		return PO_OK;
	}
	s->job_running = true;
	return PO_AGAIN;
}

static void rcpt_done(struct po_conn *c, struct lmtp_session *s,
                      struct lmtp_job *j)
{
	switch (j->rcpt_result) {
	case LMTP_RCPT_OK:
		if (s->rcpts == NULL)
			s->rcpts = xcalloc(LMTP_RCPT_MAX, sizeof(*s->rcpts));
		s->rcpts[s->n_rcpts++] = j->rcpt;
		conn_write_str(c, "250 2.1.5 OK\r\n");
		break;
	case LMTP_RCPT_UNKNOWN:
		conn_printf(c, "550 5.1.1 <%s>: no such user\r\n",
		            j->rcpt.addr);
		break;
	case LMTP_RCPT_TEMP:
		conn_printf(c,
		            "451 4.3.0 <%s>: temporary failure, try again "
		            "later\r\n",
		            j->rcpt.addr);
		break;
	}
}

static int cmd_data(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	if (cmd->args_len > 0)
		return bad(c, "501 5.5.4 DATA takes no arguments\r\n");
	if (s->n_rcpts == 0) {
		/* RFC 5321 §3.3: no valid recipients. */
		conn_write_str(c, "554 5.5.1 No valid recipients\r\n");
		return PO_OK;
	}
	po_buf_deinit(&s->data);
	s->data_bytes = 0;
	s->too_big = false;
	s->no_memory = false;
	s->continuation = false;
	s->last_crlf = true; /* the DATA line itself counts as CRLF */
	/* RFC 5321 §4.4: the final delivery server records the
	 * reverse-path; the store keeps it as the first header line. */
	if (po_buf_try_add(&s->data, "Return-Path: <", 14) < 0 ||
	    po_buf_try_add(&s->data, s->sender, strlen(s->sender)) < 0 ||
	    po_buf_try_add(&s->data, ">\r\n", 3) < 0)
		s->no_memory = true;
	conn_set_long_lines(c, true);
	lmtp__enter_state(c, s, LMTP_DATA);
	conn_write_str(c, "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
	return PO_OK;
}

static int cmd_rset(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	(void)cmd;
	lmtp__reset(s);
	if (s->state == LMTP_MAIL)
		lmtp__enter_state(c, s, LMTP_READY);
	conn_write_str(c, "250 2.0.0 OK\r\n");
	return PO_OK;
}

static int cmd_noop(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	(void)s;
	(void)cmd;
	conn_write_str(c, "250 2.0.0 OK\r\n");
	return PO_OK;
}

static int cmd_vrfy(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	(void)s;
	(void)cmd;
	/* RFC 5321 §3.5.3: 252 when we will not verify. */
	conn_write_str(c, "252 2.5.2 Cannot VRFY user; try RCPT\r\n");
	return PO_OK;
}

static int cmd_quit(struct po_conn *c, struct lmtp_session *s,
                    const struct lmtp_cmd *cmd)
{
	(void)s;
	(void)cmd;
	conn_printf(c, "221 2.0.0 %s Bye\r\n", conn_env(c)->config->hostname);
	return PO_CLOSE;
}

#define ANY (LMTP_GREETED | LMTP_READY | LMTP_MAIL)

static const struct lmtp_command commands[] = {
        {"LHLO", cmd_lhlo, ANY, NULL},
        {"HELO", cmd_helo, ANY, NULL},
        {"EHLO", cmd_helo, ANY, NULL},
        {"MAIL", cmd_mail, LMTP_READY,
         NULL /* depends on the state, see wrong_state() */},
        {"RCPT", cmd_rcpt, LMTP_MAIL, "503 5.5.1 Send MAIL first\r\n"},
        {"DATA", cmd_data, LMTP_MAIL, "503 5.5.1 Send MAIL first\r\n"},
        {"RSET", cmd_rset, ANY, NULL},
        {"NOOP", cmd_noop, ANY, NULL},
        {"VRFY", cmd_vrfy, ANY, NULL},
        {"QUIT", cmd_quit, ANY, NULL},
};

static const struct lmtp_command *command_find(const char *verb)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, verb) == 0)
			return &commands[i];
	return NULL;
}

static const char *wrong_state(const struct lmtp_command *cmd,
                               const struct lmtp_session *s)
{
	if (s->state == LMTP_GREETED)
		return "503 5.5.1 Send LHLO first\r\n";
	if (cmd->wrong_state != NULL)
		return cmd->wrong_state;
	if (s->state == LMTP_MAIL)
		return "503 5.5.1 Nested MAIL command\r\n";
	return "503 5.5.1 Bad sequence of commands\r\n";
}

/* --- DATA --------------------------------------------------------------- */

/* Append client bytes unless discarding; enforce max_message_size. */
static void data_add(struct po_conn *c, struct lmtp_session *s, const char *p,
                     size_t n)
{
	uint64_t max = conn_env(c)->config->max_message_size;

	if (s->too_big || s->no_memory)
		return;
	s->data_bytes += n;
	if (s->data_bytes > max) {
		/* Keep reading to the end, but hold nothing more. */
		s->too_big = true;
		po_buf_deinit(&s->data);
		return;
	}
	if (po_buf_try_add(&s->data, p, n) < 0) {
		s->no_memory = true;
		po_buf_deinit(&s->data);
	}
}

static void deliver_work(struct po_job *job);

/* Answer every recipient with the same line (too big, no memory). */
static void reply_all(struct po_conn *c, struct lmtp_session *s,
                      const char *code, const char *text)
{
	for (size_t i = 0; i < s->n_rcpts; i++)
		conn_printf(c, "%s <%s> %s\r\n", code, s->rcpts[i].addr, text);
}

/* The lone "." line arrived: deliver (RFC 2033 §4.2). */
static int data_end(struct po_conn *c, struct lmtp_session *s)
{
	struct lmtp_job *j;
	int ret = PO_OK;

	conn_set_long_lines(c, false);
	lmtp__enter_state(c, s, LMTP_READY);
	if (s->too_big) {
		reply_all(c, s, "552 5.3.4", "Message too big for system");
	} else if (s->no_memory) {
		reply_all(c, s, "452 4.3.1", "Insufficient system storage");
	} else {
		j = job_new(c, LMTP_JOB_DELIVER);
		j->data = po_buf_take(&s->data, &j->len);
		j->rcpts = xcalloc(s->n_rcpts, sizeof(*j->rcpts));
		memcpy(j->rcpts, s->rcpts, s->n_rcpts * sizeof(*j->rcpts));
		j->n_rcpts = s->n_rcpts;
		j->results = xcalloc(s->n_rcpts, sizeof(*j->results));
		if (conn_job_submit(c, &j->base, deliver_work) < 0) {
			reply_all(c, s, "451 4.3.0", "Temporary failure");
			job_free(&j);
		} else {
			s->job_running = true;
			ret = PO_AGAIN;
		}
	}
	lmtp__reset(s);
	return ret;
}

/*
 * One line (or piece of a long line) of the message.  The data ends only
 * at CRLF "." CRLF: a line that is exactly "." ended by CRLF, whose
 * previous line also ended in CRLF, and not the tail piece of a long line.
 * A "." with a bare LF on either side is message text, so no second
 * message can be smuggled in (RFC 5321 §4.1.1.4, §4.5.2).  A line that
 * starts with "." and has more characters loses that first "."
 * (RFC 5321 §4.5.2).  Lines are stored with CRLF.
 */
static int data_input(struct po_conn *c, struct lmtp_session *s,
                      const struct po_frame *f)
{
	const char *p = f->data;
	size_t n = f->len;

	if (!s->continuation) {
		if (!f->more && f->crlf && s->last_crlf && n == 1 &&
		    p[0] == '.')
			return data_end(c, s);
		if (n >= 2 && p[0] == '.') {
			p++;
			n--;
		}
	}
	data_add(c, s, p, n);
	if (!f->more)
		data_add(c, s, "\r\n", 2);
	s->continuation = f->more;
	if (!f->more)
		s->last_crlf = f->crlf;
	return PO_OK;
}

/* --- delivery ------------------------------------------------------------ */

static int deliver_one(struct lmtp_job *j, int64_t account_id)
{
	struct store_account *acct = NULL;
	struct store_mailbox_info info;
	int ret;

	ret = store_account_open(j->store, account_id, &acct);
	if (ret != STORE_OK)
		return ret;
	ret = store_mailbox_get(acct, "INBOX", &info);
	if (ret == STORE_OK)
		ret = store_append(acct, info.id, j->data, j->len, 0, 0, NULL,
		                   NULL);
	store_account_close(&acct);
	return ret;
}

static void deliver_work(struct po_job *job)
{
	struct lmtp_job *j = (struct lmtp_job *)job;

	for (size_t i = 0; i < j->n_rcpts; i++) {
		size_t k;

		/* One copy per account, even if named twice. */
		for (k = 0; k < i; k++)
			if (j->rcpts[k].account_id == j->rcpts[i].account_id)
				break;
		if (k < i)
			j->results[i] = j->results[k];
		else
			j->results[i] = deliver_one(j, j->rcpts[i].account_id);
	}
}

static void deliver_done(struct po_conn *c, struct lmtp_job *j)
{
	for (size_t i = 0; i < j->n_rcpts; i++) {
		const char *addr = j->rcpts[i].addr;

		switch (j->results[i]) {
		case STORE_OK:
			conn_printf(c, "250 2.0.0 <%s> Message delivered\r\n",
			            addr);
			break;
		case STORE_E_NOQUOTA:
			conn_printf(c, "552 5.2.2 <%s> Mailbox full\r\n", addr);
			break;
		case STORE_E_LIMIT:
			conn_printf(c, "552 5.3.4 <%s> Message too big\r\n",
			            addr);
			break;
		default:
			conn_log(c, LOG_WARN, "delivery failed error=%d",
			         j->results[i]);
			conn_printf(c, "451 4.3.0 <%s> Temporary failure\r\n",
			            addr);
			break;
		}
	}
	conn_log(c, LOG_INFO, "delivered size=%zu recipients=%zu", j->len,
	         j->n_rcpts);
}

void lmtp__job_done(struct po_conn *c, struct po_job *job)
{
	struct lmtp_session *s = conn_session(c);
	struct lmtp_job *j = (struct lmtp_job *)job;

	s->job_running = false;
	if (!conn_is_closing(c)) {
		if (j->kind == LMTP_JOB_RCPT)
			rcpt_done(c, s, j);
		else
			deliver_done(c, j);
		conn_resume(c);
	}
	job_free(&j);
}

/* --- dispatch --------------------------------------------------------- */

int lmtp__input(struct po_conn *c, const struct po_frame *f)
{
	struct lmtp_session *s = conn_session(c);
	const struct lmtp_command *cmd;
	struct lmtp_cmd lc;
	const char *error;

	if (f->kind != PO_FRAME_LINE)
		return bad(c, "500 5.5.2 Unexpected input\r\n");
	if (s->state == LMTP_DATA)
		return data_input(c, s, f);
	if (lmtp_parse_command(f->data, f->len, &lc, &error) < 0)
		return bad(c, error);
	cmd = command_find(lc.verb);
	if (cmd == NULL)
		return bad(c, "500 5.5.2 Command not recognized\r\n");
	if ((cmd->states & s->state) == 0)
		return bad(c, wrong_state(cmd, s));
	return cmd->handler(c, s, &lc);
}
