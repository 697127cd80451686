/*
 * STUB: the IMAP session framework (helper "core").  To be replaced.
 */
#include "imap_private.h"

#include <stdarg.h>
#include <stdio.h>

static int stub_connect(struct po_conn *c)
{
	conn_write_str(c, "* BYE IMAP is not implemented yet\r\n");
	return PO_CLOSE;
}

static int stub_input(struct po_conn *c, const struct po_frame *f)
{
	(void)c;
	(void)f;
	return PO_CLOSE;
}

static void stub_job_done(struct po_conn *c, struct po_job *j)
{
	(void)c;
	(void)j;
}

static void stub_close(struct po_conn *c, enum po_close_why why)
{
	(void)c;
	(void)why;
}

void imap_cmd_result(struct imap_cmd *cmd, enum imap_status st,
                     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd->result, sizeof(cmd->result), fmt, ap);
	va_end(ap);
	cmd->status = st;
	cmd->result_set = true;
}

const struct po_protocol imap_protocol = {
        .name = "imap",
        .flags = PO_PROTO_STARTTLS | PO_PROTO_LITERALS,
        .session_size = sizeof(struct imap_session),
        .on_connect = stub_connect,
        .on_input = stub_input,
        .on_job_done = stub_job_done,
        .on_close = stub_close,
        .msg_internal_error = "* BYE [UNAVAILABLE] Internal error\r\n",
        .msg_line_too_long = "* BAD [TOOBIG] Line too long\r\n",
        .msg_too_many_errors = "* BYE Too many bad commands\r\n",
        .msg_timeout = "* BYE Autologout; idle for too long\r\n",
        .msg_shutdown = "* BYE [UNAVAILABLE] Server shutting down\r\n",
        .msg_too_many_connections =
                "* BYE [UNAVAILABLE] Too many connections\r\n",
};
