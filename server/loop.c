/*
 * The daemon state shared by every connection (struct srv): the current
 * configuration and TLS credentials, reload, graceful stop, and the
 * per-address connection counter behind max_connections_per_ip.  Replaced
 * configurations are kept until the end because worker jobs may still be
 * reading them (protocol.h: modules must not keep pointers across
 * callbacks, but a job in flight may hold one).
 */
#include "srv_private.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_init(struct srv *s, uv_loop_t *loop, struct po_config *cfg_take,
             const char **error_r)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->config = cfg_take;
	s->env.config = cfg_take;
	if (cfg_take->tls_cert[0] != '\0' &&
	    tls__creds_load(cfg_take->tls_cert, cfg_take->tls_key, &s->creds,
	                    error_r) != 0)
		return -1;
	return 0;
}

int srv_reload(struct srv *s, struct po_config *cfg_take, const char **error_r)
{
	struct tls_creds *creds = NULL;

	if (cfg_take->tls_cert[0] != '\0' &&
	    tls__creds_load(cfg_take->tls_cert, cfg_take->tls_key, &creds,
	                    error_r) != 0) {
		free(cfg_take);
		return -1;
	}
	tls__creds_unref(&s->creds);
	s->creds = creds;
	s->old_configs =
	        xrealloc(s->old_configs,
	                 (s->n_old_configs + 1) * sizeof(*s->old_configs));
	s->old_configs[s->n_old_configs++] = s->config;
	s->config = cfg_take;
	s->env.config = cfg_take;
	return 0;
}

void srv_stop(struct srv *s)
{
	struct po_conn *c, *next;

	if (s->stopping)
		return;
	s->stopping = true;
	listener__close_all(s);
	srv__watch_stop(s);
	for (c = s->conns; c != NULL; c = next) {
		next = c->next; /* c may be unlinked only in a close callback */
		conn__shutdown(c);
	}
}

void srv_deinit(struct srv *s)
{
	size_t i;

	tls__creds_unref(&s->creds);
	srv__watch_deinit(s);
	for (i = 0; i < s->n_old_configs; i++)
		free(s->old_configs[i]);
	free(s->old_configs);
	free(s->config);
	s->config = NULL;
	for (i = 0; i < SRV_IP_BUCKETS; i++) {
		while (s->ips[i] != NULL) {
			struct srv_ip_count *e = s->ips[i];

			s->ips[i] = e->next;
			free(e);
		}
	}
}

static size_t ip_hash(const char *ip)
{
	size_t h = 5381;

	while (*ip != '\0')
		h = h * 33 + (unsigned char)*ip++;
	return h % SRV_IP_BUCKETS;
}

static struct srv_ip_count **ip_find(struct srv *s, const char *ip)
{
	struct srv_ip_count **e = &s->ips[ip_hash(ip)];

	while (*e != NULL && strcmp((*e)->ip, ip) != 0)
		e = &(*e)->next;
	return e;
}

void srv__count_ip(struct srv *s, const char *ip, int delta)
{
	struct srv_ip_count **e = ip_find(s, ip), *gone;

	if (*e == NULL) {
		if (delta <= 0)
			return;
		*e = xcalloc(1, sizeof(**e));
		snprintf((*e)->ip, sizeof((*e)->ip), "%s", ip);
	}
	(*e)->n = (unsigned)((int)(*e)->n + delta);
	if ((*e)->n == 0) {
		gone = *e;
		*e = gone->next;
		free(gone);
	}
}

unsigned srv__ip_connections(struct srv *s, const char *ip)
{
	struct srv_ip_count **e = ip_find(s, ip);

	return *e != NULL ? (*e)->n : 0;
}
