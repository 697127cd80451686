/*
 * The life of one connection: accept (with the total and per-address
 * limits), the TLS handshake of implicit-TLS listeners, the greeting, the
 * pre-login and idle timeouts, and the one teardown path.  Teardown follows
 * libuv's close rule: a connection is freed only after every one of its
 * handles' close callbacks ran, and only after its job in flight (if any)
 * finished and the module's on_close ran.  Input is in conn_input.c, output
 * in conn_output.c, TLS in tls.c.
 */
#include "srv_private.h"
#include "log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static void conn_handle_closed(uv_handle_t *h)
{
	struct po_conn *c = h->data;

	assert(c->open_handles > 0);
	if (--c->open_handles > 0)
		return;
	tls__deinit(c);
	framer__deinit(&c->framer);
	po_buf_deinit(&c->in);
	po_buf_deinit(&c->out);
	po_buf_deinit(&c->tls_in);
	po_buf_deinit(&c->tls_out);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
}

static void conn_free_handles(struct po_conn *c)
{
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->delay, conn_handle_closed);
	uv_close((uv_handle_t *)&c->resume, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static const char *const why_names[] = {
        "client", "protocol", "timeout", "errors", "error", "shutdown",
};

void conn__maybe_finish_close(struct po_conn *c)
{
	if (!c->closing || c->close_started || c->job != NULL)
		return;
	if (c->close_when_flushed && conn_output_pending(c) > 0)
		return;
	c->close_started = true;
	srv__watch_remove(c);
	if (c->started && !c->on_close_done && c->proto->on_close != NULL) {
		c->on_close_done = true;
		c->proto->on_close(c, c->why);
	}
	if (c->counted) {
		c->srv->n_conns--;
		srv__count_ip(c->srv, c->peer, -1);
	} else {
		c->srv->n_refused--;
	}
	conn_log(c, LOG_INFO, "disconnected reason=%s", why_names[c->why]);
	conn_free_handles(c);
}

void conn__close(struct po_conn *c, enum po_close_why why)
{
	if (c->close_started)
		return;
	if (!c->closing)
		c->why = why;
	c->closing = true;
	c->close_when_flushed = false;
	uv_timer_stop(&c->timer);
	uv_timer_stop(&c->delay);
	uv_idle_stop(&c->resume);
	conn__update_reading(c);
	conn__maybe_finish_close(c);
}

static void conn_grace_expired(uv_timer_t *t)
{
	struct po_conn *c = t->data;

	conn__close(c, c->why);
}

void conn__close_after_flush(struct po_conn *c, enum po_close_why why)
{
	if (c->closing)
		return;
	c->why = why;
	c->closing = true;
	c->close_when_flushed = true;
	uv_idle_stop(&c->resume);
	uv_timer_start(&c->timer, conn_grace_expired, SRV_CLOSE_GRACE_MS, 0);
	conn__update_reading(c);
	conn__flush(c);
	conn__maybe_finish_close(c);
}

static void conn_timed_out(uv_timer_t *t)
{
	struct po_conn *c = t->data;

	if (c->handshaking || !c->started) {
		conn__close(c, PO_CLOSE_TIMEOUT);
		return;
	}
	if (c->job != NULL) {
		/* The client is waiting for us (a LOGIN queued behind other
		 * password checks on a busy pool): not its idleness.  The
		 * clock starts again when the job is done. */
		conn__touch(c);
		return;
	}
	conn__write_final(c, c->proto->msg_timeout);
	conn__close_after_flush(c, PO_CLOSE_TIMEOUT);
}

void conn__touch(struct po_conn *c)
{
	const struct po_config *cfg = c->srv->config;
	uint64_t secs = c->logged_in && !c->handshaking ? cfg->idle_timeout
	                                                : cfg->prelogin_timeout;

	if (c->closing)
		return;
	uv_timer_start(&c->timer, conn_timed_out, secs * 1000, 0);
}

void conn__start(struct po_conn *c)
{
	int r;

	c->started = true;
	r = c->proto->on_connect(c);
	if (r == PO_CLOSE)
		conn__close_after_flush(c, PO_CLOSE_PROTOCOL);
	else
		conn__schedule_input(c);
}

void conn__shutdown(struct po_conn *c)
{
	if (c->closing)
		return;
	if (c->job != NULL)
		return; /* closed when the job is done (worker.c) */
	if (c->started && !c->handshaking && !c->paused &&
	    framer__idle(&c->framer) && c->in.len == 0)
		conn__write_final(c, c->proto->msg_shutdown);
	conn__close_after_flush(c, PO_CLOSE_SHUTDOWN);
}

/* Fill c->peer with the client's numeric address. */
static void conn_peer_name(struct po_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	snprintf(c->peer, sizeof(c->peer), "unknown");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer,
		            sizeof(c->peer));
	else
		uv_ip4_name((struct sockaddr_in *)&ss, c->peer,
		            sizeof(c->peer));
}

static struct po_conn *conn_new(struct srv_listener *l)
{
	struct srv *s = l->srv;
	struct po_conn *c = xcalloc(1, sizeof(*c) + l->proto->session_size);

	c->srv = s;
	c->env = s->env;
	c->proto = l->proto;
	c->implicit_tls = l->implicit_tls;
	po_random_hex(c->id, 8);
	framer__init(&c->framer, s->config->max_line_length,
	             FRAME_CHUNK_DEFAULT);
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	uv_timer_init(s->loop, &c->delay);
	uv_idle_init(s->loop, &c->resume);
	c->tcp.data = c->timer.data = c->delay.data = c->resume.data = c;
	c->open_handles = 4;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	return c;
}

/* Over a limit?  Returns the reason for the log, or NULL. */
static const char *conn_over_limit(struct po_conn *c)
{
	const struct po_config *cfg = c->srv->config;

	if (c->srv->stopping)
		return "shutting down";
	if (c->srv->n_conns >= cfg->max_connections)
		return "max_connections";
	if (srv__ip_connections(c->srv, c->peer) >= cfg->max_connections_per_ip)
		return "max_connections_per_ip";
	return NULL;
}

static void conn_refuse(struct po_conn *c, const char *why)
{
	c->srv->n_refused++;
	conn_log(c, LOG_WARN, "refused reason=%s", why);
	if (c->srv->n_refused > SRV_REFUSED_MAX) {
		conn__close(c, PO_CLOSE_PROTOCOL); /* a flood: no words */
		return;
	}
	if (!c->implicit_tls)
		conn__write_final(c, c->proto->msg_too_many_connections);
	conn__close_after_flush(c, PO_CLOSE_PROTOCOL);
}

void conn__accept(struct srv_listener *l)
{
	struct po_conn *c = conn_new(l);
	const char *why;

	if (uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&c->tcp) != 0) {
		l->srv->n_refused++;
		c->closing = true;
		conn__maybe_finish_close(c);
		return;
	}
	/* Replies are written whole, so Nagle only adds a delayed-ACK wait
	 * (about 40 ms) to every multi-segment reply such as a RETR. */
	uv_tcp_nodelay(&c->tcp, 1);
	conn_peer_name(c);
	why = conn_over_limit(c);
	if (why != NULL) {
		conn_refuse(c, why);
		return;
	}
	c->counted = true;
	l->srv->n_conns++;
	srv__count_ip(l->srv, c->peer, 1);
	conn_log(c, LOG_INFO, "connected%s", c->implicit_tls ? " tls=yes" : "");
	conn__touch(c);
	conn__update_reading(c);
	if (!c->implicit_tls) {
		conn__start(c);
		return;
	}
	if (tls__start(c) != 0)
		conn__close(c, PO_CLOSE_ERROR);
}
