/*
 * The input side of a connection: reading from the socket (only while the
 * connection can take more: not paused, not delayed, output not backed up,
 * input buffer not full), decryption hand-off to tls.c, framing (frame.c)
 * and delivery of frames to the module one at a time.  Frames buffered
 * while the module was paused are delivered later from a uv_idle callback,
 * never re-entrantly from conn_resume().  Over-long lines get the module's
 * msg_line_too_long and count as bad commands.
 */
#include "srv_private.h"
#include "log.h"

#include <string.h>

static bool conn_wants_input(const struct po_conn *c)
{
	if (c->closing || c->delayed)
		return false;
	if (c->handshaking || c->starttls_pending)
		return true; /* handshake bytes, or discarded pipelining */
	return !c->paused && !conn_output_full(c) && c->in.len < SRV_INPUT_MAX;
}

static void conn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct po_conn *c = h->data;

	(void)hint;
	buf->base = c->srv->read_buf;
	buf->len = sizeof(c->srv->read_buf);
}

void conn__update_reading(struct po_conn *c)
{
	bool want = conn_wants_input(c);

	if (c->close_started || want == c->reading)
		return;
	if (want && uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb,
	                          conn__read_cb) != 0) {
		conn__close(c, PO_CLOSE_ERROR);
		return;
	}
	if (!want)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = want;
}

void conn__read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct po_conn *c = stream->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		conn__close(c,
		            nread == UV_EOF ? PO_CLOSE_CLIENT : PO_CLOSE_ERROR);
		return;
	}
	if (c->closing)
		return;
	conn__touch(c);
	if (c->starttls_pending)
		return; /* RFC 2595 §3.1: pipelined bytes after STLS are
		           dropped */
	if (c->tls_on)
		tls__input(c, buf->base, (size_t)nread);
	else
		conn__input(c, buf->base, (size_t)nread);
}

/* A line longer than max_line_length: RFC 2449 §4 and RFC 3501 §4 allow
 * refusing it; say so in the module's words and count a bad command. */
static int conn_line_too_long(struct po_conn *c)
{
	conn_log(c, LOG_DEBUG, "line too long");
	conn_write_str(c, c->proto->msg_line_too_long);
	/* A protocol that cannot tell where the dropped line's command ends
	 * (IMAP: it may have announced a literal) closes instead. */
	if (c->proto->flags & PO_PROTO_CLOSE_LONG_LINE)
		return PO_CLOSE;
	return conn_bad_command(c);
}

/* Act on what on_input returned.  Returns false to stop delivering. */
static bool conn_after_input(struct po_conn *c, int r)
{
	if (r == PO_CLOSE) {
		conn__close_after_flush(
		        c, c->bad_commands >= c->srv->config->max_bad_commands
		                   ? PO_CLOSE_ERRORS
		                   : PO_CLOSE_PROTOCOL);
		return false;
	}
	if (r == PO_AGAIN)
		c->paused = true;
	return !c->paused && !c->closing && !c->starttls_pending;
}

static bool conn_can_deliver(const struct po_conn *c)
{
	return c->started && !c->closing && !c->paused && !c->delayed &&
	       !c->handshaking && !c->starttls_pending && !conn_output_full(c);
}

/* Deliver as many buffered frames as the connection's state allows. */
static void conn_deliver(struct po_conn *c)
{
	struct po_frame fr;
	enum frame_event ev;
	size_t off = 0, used;
	bool go = true;

	while (go && conn_can_deliver(c)) {
		const char *p = c->in.data != NULL ? c->in.data + off : "";

		ev = framer__feed(&c->framer, p, c->in.len - off, &used, &fr);
		off += used;
		if (c->job == NULL)
			c->env = c->srv->env;
		if (ev == FRAME_READY)
			go = conn_after_input(c, c->proto->on_input(c, &fr));
		else if (ev == FRAME_TOO_LONG)
			go = conn_after_input(c, conn_line_too_long(c));
		else
			break;
	}
	if (c->starttls_pending) {
		/* RFC 2595 §3.1, RFC 3207 §4.2: nothing the client sent after
		 * the command may run; then send the go-ahead and (once it is
		 * out) start the handshake. */
		framer__reset(&c->framer);
		po_buf_reset(&c->in);
		conn__flush(c);
	} else if (off > 0) {
		po_buf_consume(&c->in, off);
		po_buf_trim(&c->in, SRV_BUF_KEEP);
	}
}

void conn__input(struct po_conn *c, const char *data, size_t len)
{
	if (len > 0)
		po_buf_add(&c->in, data, len);
	conn_deliver(c);
	conn__update_reading(c);
}

static void conn_resume_cb(uv_idle_t *h)
{
	struct po_conn *c = h->data;

	uv_idle_stop(h);
	conn__input(c, NULL, 0);
}

void conn__schedule_input(struct po_conn *c)
{
	if (c->closing)
		return;
	uv_idle_start(&c->resume, conn_resume_cb);
}

void conn_resume(struct po_conn *c)
{
	c->paused = false;
	conn__schedule_input(c);
}

void conn_expect_literal(struct po_conn *c, uint64_t size)
{
	framer__expect_literal(&c->framer, size);
}

void conn_set_long_lines(struct po_conn *c, bool on)
{
	framer__set_long_lines(&c->framer, on);
}
