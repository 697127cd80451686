/*
 * The POP3 commands: the table the dispatcher (pop3_session.c) checks, and
 * one handler per verb.  RFC 1939 (USER, PASS, STAT, LIST, RETR, DELE,
 * NOOP, RSET, TOP, UIDL, QUIT; APOP is not offered), RFC 2449 (CAPA),
 * RFC 2595 §4 (STLS), RFC 5034 (AUTH, with SASL PLAIN of RFC 4616 only),
 * RFC 3206 (response codes).  Handlers decide and reply; anything that
 * needs the disk or a password check is started as a job.
 */
#include "pop3_private.h"

#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"

#define MSG_PLAINTEXT_OFF                                                      \
	"Plaintext authentication is not allowed without TLS; use STLS "       \
	"first"

/* Message number n of the snapshot, or NULL after writing why not. */
static struct pop3_msg *get_msg(struct po_conn *c, struct pop3_session *s,
                                uint32_t n)
{
	struct pop3_msg *m;

	if (n == 0 || n > s->n_msgs) {
		conn_write_str(c, "-ERR No such message\r\n");
		return NULL;
	}
	m = &s->msgs[n - 1];
	if (m->deleted) {
		conn_printf(c, "-ERR Message %u already deleted\r\n", n);
		return NULL;
	}
	return m;
}

/* Parse the numeric arguments; on error reply and count a bad command.
 * Returns the count, or -1 with *ret_r the on_input result. */
static int numbers(struct po_conn *c, const struct pop3_cmd *cmd, size_t min,
                   size_t max, uint32_t out[2], int *ret_r)
{
	const char *error;
	int n = pop3_parse_numbers(cmd->args, cmd->args_len, min, max, out,
	                           &error);

	if (n < 0)
		*ret_r = pop3__bad(c, error);
	return n;
}

static int cmd_capa(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	bool plain = conn_plaintext_auth_allowed(c);

	(void)cmd;
	conn_write_str(c, "+OK Capability list follows\r\n"
	                  "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	                  "PIPELINING\r\n");
	/* RFC 2595 §4: without a usable plaintext login the USER and SASL
	 * PLAIN capabilities are simply not announced. */
	if (plain && s->state == POP3_AUTHORIZATION)
		conn_write_str(c, "USER\r\nSASL PLAIN\r\n");
	if (s->state == POP3_AUTHORIZATION && conn_tls_available(c) &&
	    !conn_is_tls(c))
		conn_write_str(c, "STLS\r\n");
	conn_write_str(c, "IMPLEMENTATION postoffice\r\n.\r\n");
	return PO_OK;
}

static int cmd_user(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	if (!conn_plaintext_auth_allowed(c)) {
		/* No [AUTH] code on USER (RFC 3206 §5 note). */
		conn_write_str(c, "-ERR " MSG_PLAINTEXT_OFF "\r\n");
		return PO_OK;
	}
	if (cmd->args_len == 0)
		return pop3__bad(c, "USER needs a name");
	if (cmd->args_len > POP3_USER_MAX)
		return pop3__bad(c, "Name too long");
	memcpy(s->user, cmd->args, cmd->args_len);
	s->user[cmd->args_len] = '\0';
	s->have_user = true;
	/* Same reply whether the name exists or not. */
	conn_write_str(c, "+OK Send your password\r\n");
	return PO_OK;
}

static int cmd_pass(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	char password[AUTH_PASSWORD_MAX + 1];
	int ret;

	if (!s->have_user) {
		conn_write_str(c, "-ERR USER first\r\n");
		return conn_bad_command(c);
	}
	s->have_user = false;
	if (!conn_plaintext_auth_allowed(c)) {
		conn_write_str(c, "-ERR [AUTH] " MSG_PLAINTEXT_OFF "\r\n");
		return PO_OK;
	}
	/* RFC 1939 §7: the password is the rest of the line, spaces and
	 * all. */
	if (cmd->args_len == 0 || cmd->args_len > AUTH_PASSWORD_MAX) {
		conn_delay(c, conn_env(c)->config->auth_fail_delay_ms);
		conn_write_str(c, "-ERR [AUTH] Authentication failed\r\n");
		return PO_OK;
	}
	memcpy(password, cmd->args, cmd->args_len);
	password[cmd->args_len] = '\0';
	ret = pop3__start_login(c, s, s->user, password);
	explicit_bzero(password, sizeof(password));
	return ret;
}

/* Decode a SASL PLAIN response and start the login. */
static int sasl_plain(struct po_conn *c, struct pop3_session *s,
                      const char *b64, size_t len)
{
	char authzid[AUTH_PASSWORD_MAX + 1];
	char authcid[AUTH_PASSWORD_MAX + 1];
	char passwd[AUTH_PASSWORD_MAX + 1];
	int ret;

	/* RFC 5034 §4: "=" is an empty initial response. */
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (sasl_plain_decode(b64, len, authzid, authcid, passwd) < 0) {
		conn_write_str(c, "-ERR [AUTH] Invalid SASL PLAIN response "
		                  "(bad base64 or format)\r\n");
		ret = PO_OK;
	} else if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		/* No proxy authorisation: acting as another user. */
		conn_delay(c, conn_env(c)->config->auth_fail_delay_ms);
		conn_write_str(c, "-ERR [AUTH] Authentication failed\r\n");
		ret = PO_OK;
	} else {
		ret = pop3__start_login(c, s, authcid, passwd);
	}
	explicit_bzero(passwd, sizeof(passwd));
	explicit_bzero(authcid, sizeof(authcid));
	explicit_bzero(authzid, sizeof(authzid));
	return ret;
}

int pop3__sasl_response(struct po_conn *c, struct pop3_session *s,
                        const char *line, size_t len)
{
	s->sasl_wait = false;
	if (len == 1 && line[0] == '*') {
		conn_write_str(c, "-ERR Authentication cancelled\r\n");
		return PO_OK;
	}
	if (memchr(line, '\0', len) != NULL) {
		conn_write_str(c, "-ERR [AUTH] Invalid SASL PLAIN response "
		                  "(bad base64 or format)\r\n");
		return PO_OK;
	}
	return sasl_plain(c, s, line, len);
}

static int cmd_auth(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	const char *sp;
	size_t mech_len;

	if (cmd->args_len == 0) {
		/* The mechanism list (RFC 1734's form, still common). */
		conn_write_str(c, "+OK Supported mechanisms follow\r\n");
		if (conn_plaintext_auth_allowed(c))
			conn_write_str(c, "PLAIN\r\n");
		conn_write_str(c, ".\r\n");
		return PO_OK;
	}
	sp = memchr(cmd->args, ' ', cmd->args_len);
	mech_len = sp != NULL ? (size_t)(sp - cmd->args) : cmd->args_len;
	if (mech_len != 5 || strncasecmp(cmd->args, "PLAIN", 5) != 0) {
		conn_write_str(c, "-ERR Unsupported authentication "
		                  "mechanism\r\n");
		return PO_OK;
	}
	if (!conn_plaintext_auth_allowed(c)) {
		conn_write_str(c, "-ERR [AUTH] " MSG_PLAINTEXT_OFF "\r\n");
		return PO_OK;
	}
	s->have_user = false;
	if (sp == NULL) {
		s->sasl_wait = true;
		conn_write_str(c, "+ \r\n");
		return PO_OK;
	}
	return sasl_plain(c, s, sp + 1,
	                  cmd->args_len - (size_t)(sp + 1 - cmd->args));
}

static int cmd_stls(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	(void)cmd;
	if (conn_is_tls(c)) {
		conn_write_str(c, "-ERR TLS is already active\r\n");
		return conn_bad_command(c);
	}
	if (!conn_tls_available(c)) {
		conn_write_str(c, "-ERR TLS is not available\r\n");
		return PO_OK;
	}
	conn_write_str(c, "+OK Begin TLS negotiation\r\n");
	if (conn_starttls(c) < 0)
		return PO_CLOSE;
	/* RFC 2595 §4: forget whatever the client told us before. */
	s->have_user = false;
	explicit_bzero(s->user, sizeof(s->user));
	return PO_OK;
}

static int cmd_quit(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	(void)cmd;
	if (s->state == POP3_AUTHORIZATION) {
		conn_printf(c, "+OK %s POP3 server signing off\r\n",
		            conn_env(c)->config->hostname);
		return PO_CLOSE;
	}
	return pop3__start_quit(c, s);
}

static int cmd_noop(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	(void)s;
	(void)cmd;
	conn_write_str(c, "+OK\r\n");
	return PO_OK;
}

static int cmd_stat(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	size_t n = 0;
	uint64_t bytes = 0;

	(void)cmd;
	for (size_t i = 0; i < s->n_msgs; i++) {
		if (!s->msgs[i].deleted) {
			n++;
			bytes += s->msgs[i].size;
		}
	}
	conn_printf(c, "+OK %zu %llu\r\n", n, (unsigned long long)bytes);
	return PO_OK;
}

/* LIST and UIDL share their shape (RFC 1939 §5, §7). */
static int list_or_uidl(struct po_conn *c, struct pop3_session *s,
                        const struct pop3_cmd *cmd, bool uidl)
{
	uint32_t num[2];
	struct pop3_msg *m;
	struct po_buf out = PO_BUF_INIT;
	int n, ret = PO_OK;

	n = numbers(c, cmd, 0, 1, num, &ret);
	if (n < 0)
		return ret;
	if (n == 1) {
		m = get_msg(c, s, num[0]);
		if (m == NULL)
			return PO_OK;
		if (uidl)
			conn_printf(c, "+OK %u %s\r\n", num[0], m->uidl);
		else
			conn_printf(c, "+OK %u %llu\r\n", num[0],
			            (unsigned long long)m->size);
		return PO_OK;
	}
	/* The listing is bounded by the snapshot, built once here. */
	po_buf_add_str(&out, uidl ? "+OK Unique-ID listing follows\r\n"
	                          : "+OK Scan listing follows\r\n");
	for (size_t i = 0; i < s->n_msgs; i++) {
		m = &s->msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			po_buf_printf(&out, "%zu %s\r\n", i + 1, m->uidl);
		else
			po_buf_printf(&out, "%zu %llu\r\n", i + 1,
			              (unsigned long long)m->size);
	}
	po_buf_add_str(&out, ".\r\n");
	conn_write(c, out.data, out.len);
	po_buf_deinit(&out);
	return PO_OK;
}

static int cmd_list(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	return list_or_uidl(c, s, cmd, false);
}

static int cmd_uidl(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	return list_or_uidl(c, s, cmd, true);
}

static int cmd_retr(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	uint32_t num[2];
	struct pop3_msg *m;
	int ret = PO_OK;

	if (numbers(c, cmd, 1, 1, num, &ret) < 0)
		return ret;
	m = get_msg(c, s, num[0]);
	if (m == NULL)
		return PO_OK;
	return pop3__start_send(c, s, m, false, 0);
}

static int cmd_top(struct po_conn *c, struct pop3_session *s,
                   const struct pop3_cmd *cmd)
{
	uint32_t num[2];
	struct pop3_msg *m;
	int ret = PO_OK;

	if (numbers(c, cmd, 2, 2, num, &ret) < 0)
		return ret;
	m = get_msg(c, s, num[0]);
	if (m == NULL)
		return PO_OK;
	return pop3__start_send(c, s, m, true, num[1]);
}

static int cmd_dele(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	uint32_t num[2];
	struct pop3_msg *m;
	int ret = PO_OK;

	if (numbers(c, cmd, 1, 1, num, &ret) < 0)
		return ret;
	m = get_msg(c, s, num[0]);
	if (m == NULL)
		return PO_OK;
	m->deleted = true;
	conn_printf(c, "+OK Message %u deleted\r\n", num[0]);
	return PO_OK;
}

static int cmd_rset(struct po_conn *c, struct pop3_session *s,
                    const struct pop3_cmd *cmd)
{
	size_t n = 0;
	uint64_t bytes = 0;

	(void)cmd;
	for (size_t i = 0; i < s->n_msgs; i++) {
		s->msgs[i].deleted = false;
		bytes += s->msgs[i].size;
		n++;
	}
	conn_printf(c, "+OK Maildrop has %zu messages (%llu octets)\r\n", n,
	            (unsigned long long)bytes);
	return PO_OK;
}

#define AUTHZ POP3_AUTHORIZATION
#define TRANS POP3_TRANSACTION

static const struct pop3_command commands[] = {
        {"CAPA", cmd_capa, AUTHZ | TRANS, POP3_CMD_NOARGS},
        {"USER", cmd_user, AUTHZ, 0},
        {"PASS", cmd_pass, AUTHZ, 0},
        {"AUTH", cmd_auth, AUTHZ, 0},
        {"STLS", cmd_stls, AUTHZ, POP3_CMD_NOARGS},
        {"QUIT", cmd_quit, AUTHZ | TRANS, POP3_CMD_NOARGS},
        {"NOOP", cmd_noop, TRANS, POP3_CMD_NOARGS},
        {"STAT", cmd_stat, TRANS, POP3_CMD_NOARGS},
        {"LIST", cmd_list, TRANS, 0},
        {"UIDL", cmd_uidl, TRANS, 0},
        {"RETR", cmd_retr, TRANS, 0},
        {"TOP", cmd_top, TRANS, 0},
        {"DELE", cmd_dele, TRANS, 0},
        {"RSET", cmd_rset, TRANS, POP3_CMD_NOARGS},
};

const struct pop3_command *pop3__command_find(const char *verb)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, verb) == 0)
			return &commands[i];
	return NULL;
}
