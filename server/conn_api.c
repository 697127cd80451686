/*
 * The small conn_* functions of protocol.h: accessors, the bad-command
 * counter, login (which switches the pre-login timeout to the idle
 * timeout), the failed-login delay, the plaintext-auth policy and the
 * per-connection log line "<id> <proto> <message> ip=<addr> user=<user>".
 */
#include "srv_private.h"
#include "log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void *conn_session(struct po_conn *c)
{
	return c->session;
}

const struct po_env *conn_env(const struct po_conn *c)
{
	return &c->env;
}

void conn_close(struct po_conn *c)
{
	conn__close_after_flush(c, PO_CLOSE_PROTOCOL);
}

bool conn_is_closing(const struct po_conn *c)
{
	return c->closing;
}

const char *conn_peer(const struct po_conn *c)
{
	return c->peer;
}

const char *conn_id(const struct po_conn *c)
{
	return c->id;
}

bool conn_is_tls(const struct po_conn *c)
{
	return c->tls_on && !c->handshaking;
}

bool conn_tls_available(const struct po_conn *c)
{
	return c->srv->creds != NULL;
}

int conn_bad_command(struct po_conn *c)
{
	if (++c->bad_commands < c->srv->config->max_bad_commands)
		return PO_OK;
	conn_log(c, LOG_INFO, "too many bad commands count=%u",
	         c->bad_commands);
	conn_write_str(c, c->proto->msg_too_many_errors);
	return PO_CLOSE;
}

void conn_set_user(struct po_conn *c, const char *user)
{
	char clean[128];

	log_sanitize(user, strlen(user), clean, sizeof(clean));
	snprintf(c->user, sizeof(c->user), "%s", clean);
	c->logged_in = true;
	conn_log(c, LOG_INFO, "login");
	conn__touch(c);
}

static void conn_delay_done(uv_timer_t *t)
{
	struct po_conn *c = t->data;

	c->delayed = false;
	conn__flush(c);
	conn__update_reading(c);
	conn__schedule_input(c);
}

void conn_delay(struct po_conn *c, unsigned ms)
{
	if (c->closing)
		return;
	c->delayed = true;
	conn__update_reading(c);
	uv_timer_start(&c->delay, conn_delay_done, ms, 0);
}

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool peer_is_loopback(const char *peer)
{
	struct in6_addr a6;
	struct in_addr a4;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
	                                         0, 0, 0, 0, 0xff, 0xff};

	if (inet_pton(AF_INET, peer, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, peer, &a6) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return true;
	return memcmp(a6.s6_addr, mapped, 12) == 0 && a6.s6_addr[12] == 127;
}

bool conn_plaintext_auth_allowed(const struct po_conn *c)
{
	switch (c->srv->config->plaintext_auth) {
	case PO_PLAINTEXT_YES:
		return true;
	case PO_PLAINTEXT_LOOPBACK:
		return conn_is_tls(c) || peer_is_loopback(c->peer);
	default:
		return conn_is_tls(c);
	}
}

void conn_log(struct po_conn *c, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level < log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->user[0] != '\0')
		log_msg(level, "%s %s %s ip=%s user=%s", c->id, c->proto->name,
		        msg, c->peer, c->user);
	else
		log_msg(level, "%s %s %s ip=%s", c->id, c->proto->name, msg,
		        c->peer);
}
