/*
 * The POP3 module's table for the connection core (protocol.h) and its
 * callbacks: greeting, input (handed to the dispatcher in
 * pop3_session.c), TLS upgrade, drained output, finished jobs and close.
 * The msg_* strings are the core's own replies in POP3 terms; the ones sent
 * just before the core closes carry [SYS/TEMP] (RFC 3206 §4) because
 * trying again later will work.
 */
#include "pop3.h"
#include "pop3_private.h"

#include "config.h"

static int pop3_on_connect(struct po_conn *c)
{
	struct pop3_session *s = conn_session(c);

	s->state = POP3_AUTHORIZATION;
	conn_printf(c, "+OK %s POP3 ready\r\n", conn_env(c)->config->hostname);
	return PO_OK;
}

static void pop3_on_tls_ready(struct po_conn *c)
{
	struct pop3_session *s = conn_session(c);

	/* RFC 2595 §4: after STLS the session starts over in the
	 * AUTHORIZATION state with nothing remembered.  No greeting. */
	pop3__session_release(c, s);
	s->state = POP3_AUTHORIZATION;
}

static void pop3_on_close(struct po_conn *c, enum po_close_why why)
{
	(void)why;
	pop3__session_release(c, conn_session(c));
}

const struct po_protocol pop3_protocol = {
        .name = "pop3",
        .flags = PO_PROTO_STARTTLS,
        .session_size = sizeof(struct pop3_session),
        .on_connect = pop3_on_connect,
        .on_input = pop3__input,
        .on_tls_ready = pop3_on_tls_ready,
        .on_drained = pop3__drained,
        .on_job_done = pop3__job_done,
        .on_close = pop3_on_close,
        .msg_internal_error = "-ERR [SYS/TEMP] Internal error\r\n",
        .msg_line_too_long = "-ERR Line too long\r\n",
        .msg_too_many_errors = "-ERR Too many bad commands, closing "
                               "connection\r\n",
        .msg_timeout = "-ERR [SYS/TEMP] Idle timeout, closing connection\r\n",
        .msg_shutdown = "-ERR [SYS/TEMP] Server shutting down\r\n",
        .msg_too_many_connections = "-ERR [SYS/TEMP] Too many connections, "
                                    "try again later\r\n",
};
