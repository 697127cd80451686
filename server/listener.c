/*
 * TCP listeners: one uv_tcp_t per address of each *_listen key, bound at
 * startup (before privileges are dropped) and never rebound on reload.
 * IPv6 listeners are IPv6-only so "0.0.0.0:110, [::]:110" works.
 */
#include "srv_private.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTEN_BACKLOG 511

static void listener_on_connection(uv_stream_t *server, int status)
{
	struct srv_listener *l = server->data;

	if (status < 0) {
		log_warnx("accept failed on %s: %s", l->addr,
		          uv_strerror(status));
		return;
	}
	conn__accept(l);
}

static int listener_bind(struct srv_listener *l, const struct po_listen_addr *a)
{
	struct sockaddr_storage ss;
	bool v6 = strchr(a->host, ':') != NULL;
	int r;

	if (v6)
		r = uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)&ss);
	else
		r = uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)&ss);
	if (r == 0)
		r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss,
		                v6 ? UV_TCP_IPV6ONLY : 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG,
		              listener_on_connection);
	return r;
}

static void listener_free_cb(uv_handle_t *h)
{
	free(h->data);
}

int listener__open(struct srv *s, const struct po_listen *lst,
                   const struct po_protocol *proto, bool implicit_tls)
{
	size_t i;
	int r;

	for (i = 0; i < lst->count; i++) {
		const struct po_listen_addr *a = &lst->addr[i];
		struct srv_listener *l = xcalloc(1, sizeof(*l));

		l->srv = s;
		l->proto = proto;
		l->implicit_tls = implicit_tls;
		snprintf(l->addr, sizeof(l->addr),
		         strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host,
		         a->port);
		uv_tcp_init(s->loop, &l->tcp);
		l->tcp.data = l;
		l->next = s->listeners;
		s->listeners = l;
		r = listener_bind(l, a);
		if (r != 0) {
			log_warnx("cannot listen on %s for %s%s: %s", l->addr,
			          proto->name, implicit_tls ? "s" : "",
			          uv_strerror(r));
			return -1;
		}
	}
	return 0;
}

void listener__close_all(struct srv *s)
{
	struct srv_listener *l = s->listeners, *next;

	s->listeners = NULL;
	for (; l != NULL; l = next) {
		next = l->next;
		uv_close((uv_handle_t *)&l->tcp, listener_free_cb);
	}
}

void listener__log_ready(struct srv *s)
{
	char list[2048] = "";
	size_t n = 0;
	struct srv_listener *l;

	for (l = s->listeners; l != NULL; l = l->next) {
		int r = snprintf(list + n, sizeof(list) - n, " %s%s=%s",
		                 l->proto->name, l->implicit_tls ? "s" : "",
		                 l->addr);

		if (r < 0 || (size_t)r >= sizeof(list) - n)
			break;
		n += (size_t)r;
	}
	log_info("postofficed ready%s", list);
}
