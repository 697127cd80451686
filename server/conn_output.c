/*
 * The output side of a connection: conn_write() copies into a queue, and
 * the queue goes to the socket one uv_write at a time (through GnuTLS when
 * TLS is on).  When the queue reaches output_buffer_max, reading and frame
 * delivery stop; when it empties, the module's on_drained runs and input
 * resumes.  Nothing is sent while conn_delay() holds the connection.
 */
#include "srv_private.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn_write_req {
	uv_write_t req;
	struct po_conn *conn;
	char *data;
	size_t len;
};

size_t conn_output_pending(const struct po_conn *c)
{
	return c->out.len + c->tls_out.len + c->in_flight;
}

bool conn_output_full(const struct po_conn *c)
{
	return conn_output_pending(c) >= c->srv->config->output_buffer_max;
}

/* The queue emptied: tell the module, then take input again. */
static void conn_drained(struct po_conn *c)
{
	if (c->closing) {
		conn__maybe_finish_close(c);
		return;
	}
	if (c->starttls_pending) {
		c->starttls_pending = false;
		if (tls__start(c) != 0)
			conn__close(c, PO_CLOSE_ERROR);
		return;
	}
	if (c->proto->on_drained != NULL && c->started && !c->handshaking)
		c->proto->on_drained(c);
	conn__update_reading(c);
	conn__schedule_input(c);
}

static void conn_write_cb(uv_write_t *req, int status)
{
	struct conn_write_req *w = (struct conn_write_req *)req;
	struct po_conn *c = w->conn;

	c->in_flight -= w->len;
	free(w->data);
	free(w);
	if (status < 0) {
		conn__close(c, PO_CLOSE_ERROR);
		return;
	}
	conn__flush(c);
}

/* Hand the bytes in b to one uv_write.  Returns 0 or -1. */
static int conn_send(struct po_conn *c, struct po_buf *b)
{
	struct conn_write_req *w = xmalloc(sizeof(*w));
	uv_buf_t ub;

	w->conn = c;
	w->data = po_buf_take(b, &w->len);
	ub = uv_buf_init(w->data, (unsigned)w->len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, conn_write_cb) !=
	    0) {
		free(w->data);
		free(w);
		return -1;
	}
	c->in_flight += w->len;
	return 0;
}

void conn__flush(struct po_conn *c)
{
	if (c->close_started || c->delayed || c->in_flight > 0)
		return;
	if (c->tls_on && !c->handshaking && c->out.len > 0) {
		if (tls__encrypt(c, c->out.data, c->out.len) != 0) {
			conn__close(c, PO_CLOSE_ERROR);
			return;
		}
		po_buf_reset(&c->out);
		po_buf_trim(&c->out, SRV_BUF_KEEP);
	}
	if (c->tls_out.len > 0 || (!c->tls_on && c->out.len > 0)) {
		if (conn_send(c, c->tls_out.len > 0 ? &c->tls_out : &c->out) !=
		    0)
			conn__close(c, PO_CLOSE_ERROR);
		return;
	}
	if (!c->handshaking)
		conn_drained(c);
}

/* Queue without the closing check; flushing happens from the caller's
 * return to the loop (an idle pass) so replies are batched. */
static int conn_queue(struct po_conn *c, const void *data, size_t len)
{
	if (po_buf_try_add(&c->out, data, len) != 0)
		return -ENOMEM;
	if (c->in_flight == 0)
		conn__flush(c);
	return 0;
}

void conn__write_final(struct po_conn *c, const char *msg)
{
	if (msg != NULL && !c->close_started)
		conn_queue(c, msg, strlen(msg));
}

int conn_write(struct po_conn *c, const void *data, size_t len)
{
	if (c->closing)
		return 0;
	return conn_queue(c, data, len);
}

int conn_write_str(struct po_conn *c, const char *s)
{
	return conn_write(c, s, strlen(s));
}

int conn_printf(struct po_conn *c, const char *fmt, ...)
{
	char small[512], *big;
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return conn_write(c, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r = conn_write(c, big, (size_t)n);
	free(big);
	return r;
}
