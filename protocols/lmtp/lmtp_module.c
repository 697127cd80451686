/*
 * The LMTP module's table for the connection core (protocol.h): greeting,
 * input (lmtp_session.c), finished jobs and close.  LMTP has no in-band
 * TLS here: it is meant for the local MTA on loopback or a socket.  The
 * core's own replies use 421 with RFC 2034 codes (RFC 5321 §3.8: 421 when
 * the service is closing the channel).
 */
#include "lmtp.h"
#include "lmtp_private.h"

#include <stdlib.h>

#include "config.h"

static int lmtp_on_connect(struct po_conn *c)
{
	struct lmtp_session *s = conn_session(c);

	s->state = LMTP_GREETED;
	po_buf_init(&s->data);
	conn_printf(c, "220 %s LMTP ready\r\n", conn_env(c)->config->hostname);
	return PO_OK;
}

static void lmtp_on_close(struct po_conn *c, enum po_close_why why)
{
	struct lmtp_session *s = conn_session(c);

	(void)why;
	/* A drop in the middle of DATA stores nothing: the message only
	 * ever lived in this buffer. */
	lmtp__reset(s);
	free(s->rcpts);
	s->rcpts = NULL;
}

static void lmtp_on_tls_ready(struct po_conn *c)
{
	(void)c;
}

const struct po_protocol lmtp_protocol = {
        .name = "lmtp",
        .flags = 0,
        .session_size = sizeof(struct lmtp_session),
        .on_connect = lmtp_on_connect,
        .on_input = lmtp__input,
        .on_tls_ready = lmtp_on_tls_ready,
        .on_drained = NULL,
        .on_job_done = lmtp__job_done,
        .on_close = lmtp_on_close,
        .msg_internal_error = "451 4.3.0 Internal error\r\n",
        .msg_line_too_long = "500 5.5.2 Line too long\r\n",
        .msg_too_many_errors = "421 4.7.0 Too many bad commands, closing "
                               "connection\r\n",
        .msg_timeout = "421 4.4.2 Idle timeout, closing connection\r\n",
        .msg_shutdown = "421 4.3.2 Server shutting down\r\n",
        .msg_too_many_connections = "421 4.3.2 Too many connections, try "
                                    "again later\r\n",
};
