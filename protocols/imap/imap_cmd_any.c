/*
 * The commands of any state and of the not-authenticated state (RFC 9051
 * §6.1, §6.2): CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), STARTTLS, LOGIN,
 * AUTHENTICATE PLAIN with SASL-IR (RFC 4959, RFC 4616), plus ENABLE (RFC
 * 5161), NAMESPACE (RFC 2342) and IDLE's start (RFC 2177).  The password
 * check and the policy are the auth_* calls POP3 uses, on a worker; the
 * replies follow RFC 5530's response codes.
 */
#include "imap_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"

/* ---- private to imap_session.c and imap_cmd_any.c --------------------- */

#define IMAP__RUN_JOB 2
#define IMAP__RUN_WAIT 3
void imap__write_capability(struct po_buf *out, struct po_conn *c);
int imap__sasl_line(struct imap_cmd *cmd, const char *line, size_t len);
int imap__after_command(struct po_conn *c, struct imap_cmd *cmd);

/* RFC 2971 §3.3: at most 30 field-value pairs, fields of 30 bytes and
 * values of 1024 bytes. */
#define ID_MAX_PAIRS 30
#define ID_FIELD_MAX 30
#define ID_VALUE_MAX 1024

#define MSG_AUTH_FAILED "[AUTHENTICATIONFAILED] Authentication failed"
#define MSG_PRIVACY                                                            \
	"[PRIVACYREQUIRED] Plaintext authentication is not allowed without "   \
	"TLS; use STARTTLS first"

void imap__write_capability(struct po_buf *out, struct po_conn *c)
{
	po_buf_add_str(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE IDLE "
	                    "NAMESPACE UIDPLUS MOVE ID UNSELECT CHILDREN "
	                    "LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH "
	                    "SEARCHRES BINARY STATUS=SIZE UTF8=ACCEPT");
	if (c == NULL)
		return;
	if (conn_tls_available(c) && !conn_is_tls(c))
		po_buf_add_str(out, " STARTTLS");
	/* RFC 9051 §6.2.3, §7.2.2: LOGINDISABLED when LOGIN would be
	 * refused, and no AUTH=PLAIN then either (RFC 2595 §6). */
	if (conn_plaintext_auth_allowed(c))
		po_buf_add_str(out, " AUTH=PLAIN");
	else
		po_buf_add_str(out, " LOGINDISABLED");
}

/* ---- any state ---------------------------------------------------------- */

int imap_cmd_capability_run(struct imap_cmd *cmd)
{
	po_buf_add_str(&cmd->out, "* CAPABILITY ");
	imap__write_capability(&cmd->out,
	                       cmd->s->state == IMAP_S_NOTAUTH ? cmd->c : NULL);
	po_buf_add_str(&cmd->out, "\r\n");
	imap_cmd_result(cmd, IMAP_OK, "CAPABILITY completed");
	return IMAP_RUN_DONE;
}

int imap_cmd_noop_run(struct imap_cmd *cmd)
{
	/* The framework's sync after it is the point (RFC 9051 §6.1.2). */
	imap_cmd_result(cmd, IMAP_OK, "NOOP completed");
	return IMAP_RUN_DONE;
}

int imap_cmd_logout_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;

	/* RFC 9051 §6.1.3: BYE, then the tagged OK, then close. */
	po_buf_add_str(&cmd->out, "* BYE postoffice logging out\r\n");
	imap_cmd_result(cmd, IMAP_OK, "LOGOUT completed");
	s->logout = true;
	s->state = IMAP_S_LOGOUT;
	return IMAP_RUN_DONE;
}

int imap_cmd_id_parse(struct imap_cmd *cmd, const char **error_r)
{
	const struct imap_arg *a = cmd->args, *m;
	size_t n = 0;

	/* RFC 2971 §4: "(" field SP value ... ")" / NIL.  We only check its
	 * shape; what the client says about itself is not used. */
	if (cmd->nargs != 1 || a == NULL) {
		*error_r = "ID takes one argument";
		return -1;
	}
	if (a->type == IMAP_ARG_NIL)
		return 0;
	if (a->type != IMAP_ARG_LIST || a->count % 2 != 0 ||
	    a->count > 2 * ID_MAX_PAIRS) {
		*error_r = "Invalid ID parameter list";
		return -1;
	}
	for (m = a->children; m != NULL; m = m->next, n++) {
		bool field = n % 2 == 0;

		if (m->type != IMAP_ARG_STRING &&
		    !(m->type == IMAP_ARG_NIL && !field)) {
			*error_r = "Invalid ID parameter list";
			return -1;
		}
		if (m->len > (field ? ID_FIELD_MAX : ID_VALUE_MAX)) {
			*error_r = "ID parameter too long";
			return -1;
		}
	}
	return 0;
}

int imap_cmd_id_run(struct imap_cmd *cmd)
{
	po_buf_add_str(&cmd->out, "* ID (\"name\" \"postoffice\")\r\n");
	imap_cmd_result(cmd, IMAP_OK, "ID completed");
	return IMAP_RUN_DONE;
}

/* ---- authenticated state ------------------------------------------------ */

struct enable_data {
	bool rev2, utf8;
};

int imap_cmd_enable_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct enable_data *d;
	const struct imap_arg *a;
	const char *atom;

	if (cmd->args == NULL) {
		*error_r = "ENABLE needs capability names";
		return -1;
	}
	d = xcalloc(1, sizeof(*d));
	cmd->data = d;
	for (a = cmd->args; a != NULL; a = a->next) {
		if (!imap_arg_get_atom(a, &atom)) {
			*error_r = "Invalid capability name";
			return -1;
		}
		/* RFC 5161 §3.1: unknown names are ignored. */
		if (strcasecmp(atom, "IMAP4rev2") == 0)
			d->rev2 = true;
		else if (strcasecmp(atom, "UTF8=ACCEPT") == 0)
			d->utf8 = true;
	}
	return 0;
}

int imap_cmd_enable_run(struct imap_cmd *cmd)
{
	struct enable_data *d = cmd->data;
	struct imap_session *s = cmd->s;

	/* RFC 5161 §3.2: ENABLED lists what this command enabled. */
	po_buf_add_str(&cmd->out, "* ENABLED");
	if (d->rev2 && !s->enabled_rev2)
		po_buf_add_str(&cmd->out, " IMAP4rev2");
	if (d->utf8 && !s->enabled_utf8)
		po_buf_add_str(&cmd->out, " UTF8=ACCEPT");
	po_buf_add_str(&cmd->out, "\r\n");
	s->enabled_rev2 |= d->rev2;
	s->enabled_utf8 |= d->utf8;
	imap_cmd_result(cmd, IMAP_OK, "ENABLE completed");
	return IMAP_RUN_DONE;
}

int imap_cmd_namespace_run(struct imap_cmd *cmd)
{
	/* RFC 2342 / RFC 9051 §6.3.10: one personal namespace, "/". */
	po_buf_add_str(&cmd->out, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_cmd_result(cmd, IMAP_OK, "NAMESPACE completed");
	return IMAP_RUN_DONE;
}

int imap_cmd_idle_run(struct imap_cmd *cmd)
{
	/* RFC 2177 §3: "+" and updates as they come until DONE; the
	 * framework reads the lines and sends the tagged reply. */
	po_buf_add_str(&cmd->out, "+ idling\r\n");
	cmd->no_tagged = true;
	cmd->s->idling = true;
	return IMAP__RUN_WAIT;
}

/* ---- not authenticated -------------------------------------------------- */

int imap_cmd_starttls_run(struct imap_cmd *cmd)
{
	if (conn_is_tls(cmd->c))
		imap_cmd_result(cmd, IMAP_BAD, "TLS is already active");
	else if (!conn_tls_available(cmd->c))
		imap_cmd_result(cmd, IMAP_NO, "TLS is not available");
	else
		imap_cmd_result(cmd, IMAP_OK, "Begin TLS negotiation now");
	return IMAP_RUN_DONE;
}

/* The credentials of LOGIN or AUTHENTICATE, checked on a worker. */
struct login_data {
	bool privacy;   /* plaintext not allowed here: refuse unchecked */
	bool mech_ok;   /* AUTHENTICATE: the mechanism is PLAIN */
	bool have_ir;   /* AUTHENTICATE: an initial response was given */
	bool bad_creds; /* fail without asking (too long, authzid) */
	bool failed;    /* the delay applies */
	char user[AUTH_NAME_MAX + 1];
	char pass[AUTH_PASSWORD_MAX + 1];
	/* AUTHENTICATE's initial response, until decoded on the loop. */
	const char *ir;
	size_t ir_len;
};

static void login_free(struct login_data *d)
{
	explicit_bzero(d, sizeof(*d));
	free(d);
}

/* Copy name and password; a name or password we cannot hold still gets
 * the common failure (same text, same delay). */
static void set_creds(struct login_data *d, const char *user, size_t ulen,
                      const char *pass, size_t plen)
{
	if (ulen == 0 || ulen > AUTH_NAME_MAX || plen == 0 ||
	    plen > AUTH_PASSWORD_MAX || memchr(user, '\0', ulen) != NULL ||
	    memchr(pass, '\0', plen) != NULL) {
		d->bad_creds = true;
		return;
	}
	memcpy(d->user, user, ulen);
	d->user[ulen] = '\0';
	memcpy(d->pass, pass, plen);
	d->pass[plen] = '\0';
}

int imap_cmd_login_parse(struct imap_cmd *cmd, const char **error_r)
{
	const struct imap_arg *a = cmd->args;
	const char *user, *pass;
	size_t ulen, plen;
	struct login_data *d;

	if (cmd->nargs != 2 || !imap_arg_get_astring(a, &user, &ulen) ||
	    !imap_arg_get_astring(a->next, &pass, &plen)) {
		*error_r = "LOGIN needs a user name and a password";
		return -1;
	}
	d = xcalloc(1, sizeof(*d));
	cmd->data = d;
	/* The parse runs on the loop, where the connection may be asked. */
	d->privacy = !conn_plaintext_auth_allowed(cmd->c);
	if (!d->privacy)
		set_creds(d, user, ulen, pass, plen);
	return 0;
}

/* The login itself (worker): password, then policy, then the store. */
static int login_work(struct imap_cmd *cmd, struct login_data *d)
{
	struct imap_session *s = cmd->s;
	struct auth_account acc;
	struct po_buf caps = PO_BUF_INIT;
	enum auth_result ar;
	int ret;

	if (d->bad_creds) {
		d->failed = true;
		imap_cmd_result(cmd, IMAP_NO, MSG_AUTH_FAILED);
		return IMAP_RUN_DONE;
	}
	ar = auth_login(cmd->env->auth, d->user, d->pass, &acc);
	explicit_bzero(d->pass, sizeof(d->pass));
	if (ar == AUTH_FAILED) {
		d->failed = true;
		imap_cmd_result(cmd, IMAP_NO, MSG_AUTH_FAILED);
		return IMAP_RUN_DONE;
	}
	if (ar != AUTH_OK) {
		imap_cmd_result(cmd, IMAP_NO,
		                "[UNAVAILABLE] Temporary failure, try again "
		                "later");
		return IMAP_RUN_DONE;
	}
	/* The policy is told only to a client that knows the password. */
	switch (auth_policy_check(&acc, AUTH_PROTO_IMAP)) {
	case AUTH_DENIED_DISABLED:
		imap_cmd_result(cmd, IMAP_NO,
		                "[CONTACTADMIN] This account is disabled");
		return IMAP_RUN_DONE;
	case AUTH_DENIED_PROTOCOL:
		imap_cmd_result(cmd, IMAP_NO,
		                "[CONTACTADMIN] IMAP access is disabled for "
		                "this account");
		return IMAP_RUN_DONE;
	case AUTH_ALLOWED:
		break;
	}
	ret = store_account_open(cmd->env->store, acc.id, &s->acct);
	if (ret != STORE_OK) {
		imap_cmd_result(
		        cmd, IMAP_NO,
		        ret == STORE_E_NOTFOUND
		                ? "[CONTACTADMIN] Mail storage not found, "
		                  "contact your administrator"
		                : "[UNAVAILABLE] Temporary failure, try "
		                  "again later");
		return IMAP_RUN_DONE;
	}
	s->account = acc;
	s->state = IMAP_S_AUTH;
	/* RFC 9051 §6.2.3: the new capabilities in the OK. */
	imap__write_capability(&caps, NULL);
	imap_cmd_result(cmd, IMAP_OK, "[CAPABILITY %s] Logged in", caps.data);
	po_buf_deinit(&caps);
	return IMAP_RUN_DONE;
}

int imap_cmd_login_run(struct imap_cmd *cmd)
{
	struct login_data *d = cmd->data;

	if (d->privacy) {
		imap_cmd_result(cmd, IMAP_NO, MSG_PRIVACY);
		return IMAP_RUN_DONE;
	}
	return login_work(cmd, d);
}

int imap_cmd_authenticate_parse(struct imap_cmd *cmd, const char **error_r)
{
	const struct imap_arg *a = cmd->args;
	const char *mech;
	struct login_data *d;

	if (cmd->nargs < 1 || cmd->nargs > 2 || !imap_arg_get_atom(a, &mech)) {
		*error_r = "AUTHENTICATE needs a mechanism name";
		return -1;
	}
	d = xcalloc(1, sizeof(*d));
	cmd->data = d;
	d->mech_ok = strcasecmp(mech, "PLAIN") == 0;
	d->privacy = !conn_plaintext_auth_allowed(cmd->c);
	if (cmd->nargs == 2) {
		/* RFC 4959: initial-response = base64 / "=" (empty). */
		const struct imap_arg *ir = a->next;

		if (ir->type != IMAP_ARG_ATOM) {
			*error_r = "Invalid initial response";
			return -1;
		}
		d->have_ir = true;
		d->ir = ir->str;
		d->ir_len = ir->len;
	}
	return 0;
}

/* Decode a SASL PLAIN response (RFC 4616) into d.  Returns IMAP__RUN_JOB,
 * or IMAP_RUN_DONE with a BAD result for a malformed one (RFC 9051
 * §6.2.2: invalid base64 is BAD). */
static int sasl_plain(struct imap_cmd *cmd, struct login_data *d,
                      const char *b64, size_t len)
{
	char *authzid = xmalloc(AUTH_PASSWORD_MAX + 1);
	char *authcid = xmalloc(AUTH_PASSWORD_MAX + 1);
	char *passwd = xmalloc(AUTH_PASSWORD_MAX + 1);
	int ret = IMAP__RUN_JOB;

	if (len == 1 && b64[0] == '=')
		len = 0;
	if (memchr(b64, '\0', len) != NULL ||
	    sasl_plain_decode(b64, len, authzid, authcid, passwd) < 0) {
		imap_cmd_result(cmd, IMAP_BAD,
		                "Invalid SASL PLAIN response (bad base64 or "
		                "format)");
		ret = IMAP_RUN_DONE;
	} else if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		/* No proxy authorisation: acting as another user fails
		 * like a wrong password. */
		d->bad_creds = true;
	} else {
		set_creds(d, authcid, strlen(authcid), passwd, strlen(passwd));
	}
	explicit_bzero(passwd, AUTH_PASSWORD_MAX + 1);
	explicit_bzero(authcid, AUTH_PASSWORD_MAX + 1);
	explicit_bzero(authzid, AUTH_PASSWORD_MAX + 1);
	free(passwd);
	free(authcid);
	free(authzid);
	return ret;
}

int imap_cmd_authenticate_run(struct imap_cmd *cmd)
{
	struct login_data *d = cmd->data;
	struct imap_session *s = cmd->s;
	int ret;

	if (cmd->step > 0)
		return login_work(cmd, d); /* on the worker */
	if (!d->mech_ok) {
		imap_cmd_result(
		        cmd, IMAP_NO,
		        "[CANNOT] Unsupported authentication mechanism");
		return IMAP_RUN_DONE;
	}
	if (d->privacy) {
		imap_cmd_result(cmd, IMAP_NO, MSG_PRIVACY);
		return IMAP_RUN_DONE;
	}
	if (d->have_ir) {
		ret = sasl_plain(cmd, d, d->ir, d->ir_len);
		d->ir = NULL;
		return ret;
	}
	/* RFC 9051 §6.2.2: an empty challenge is "+ ". */
	po_buf_add_str(&cmd->out, "+ \r\n");
	s->sasl_wait = true;
	snprintf(s->sasl_tag, sizeof(s->sasl_tag), "%s", cmd->tag);
	return IMAP__RUN_WAIT;
}

int imap__sasl_line(struct imap_cmd *cmd, const char *line, size_t len)
{
	struct login_data *d = cmd->data;

	/* RFC 9051 §6.2.2: "*" cancels, with a tagged BAD. */
	if (len == 1 && line[0] == '*') {
		imap_cmd_result(cmd, IMAP_BAD, "Authentication cancelled");
		return IMAP_RUN_DONE;
	}
	return sasl_plain(cmd, d, line, len);
}

int imap__after_command(struct po_conn *c, struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct login_data *d;

	if (cmd->def->run == imap_cmd_login_run ||
	    cmd->def->run == imap_cmd_authenticate_run) {
		d = cmd->data;
		if (d != NULL && d->failed) {
			conn_delay(c, conn_env(c)->config->auth_fail_delay_ms);
			conn_log(c, LOG_INFO, "login failed");
		} else if (s->state == IMAP_S_AUTH && cmd->status == IMAP_OK) {
			conn_set_user(c, s->account.name);
			conn_log(c, LOG_INFO, "logged in");
		}
		if (d != NULL) {
			login_free(d);
			cmd->data = NULL;
		}
		return PO_OK;
	}
	if (cmd->def->run == imap_cmd_starttls_run && cmd->status == IMAP_OK) {
		/* The OK is queued; the core sends it, drops whatever the
		 * client pipelined after STARTTLS (RFC 9051 §6.2.1) and
		 * starts the handshake. */
		if (conn_starttls(c) < 0)
			return PO_CLOSE;
	}
	return PO_OK;
}
