/*
 * Private declarations of the connection core (server/): the daemon state
 * (struct srv), the connection (struct po_conn), listeners, TLS
 * credentials, and the functions the core's files share.  Nothing outside
 * server/ includes this; protocol modules see only protocol.h.
 */
#ifndef PO_SRV_PRIVATE_H
#define PO_SRV_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <uv.h>

#include "config.h"
#include "frame_private.h"
#include "protocol.h"
#include "util.h"

/* Plaintext input buffered ahead of framing before reads stop. */
#define SRV_INPUT_MAX 65536
/* Capacity an empty per-connection buffer may keep; more is freed, so an
 * idle connection does not hold what its largest reply needed. */
#define SRV_BUF_KEEP 4096
/* Size of the shared read buffer. */
#define SRV_READ_BUF 65536
/* Seconds a closing connection may take to flush its last reply. */
#define SRV_CLOSE_GRACE_MS 10000
/* Refused connections still flushing their refusal, at most. */
#define SRV_REFUSED_MAX 1000
/* Buckets of the per-address connection counter. */
#define SRV_IP_BUCKETS 1024

/* Certificate and key, shared by every TLS connection that started with
 * them; a reload makes new ones and the old ones live on until their last
 * connection closes. */
struct tls_creds {
	gnutls_certificate_credentials_t cred;
	unsigned refs;
};

struct srv_ip_count {
	struct srv_ip_count *next;
	unsigned n;
	char ip[64];
};

struct srv_listener {
	uv_tcp_t tcp;
	struct srv *srv;
	struct srv_listener *next;
	const struct po_protocol *proto;
	bool implicit_tls;
	char addr[96]; /* "127.0.0.1:1110", for logs */
};

/* Buckets of the account -> watching connections table. */
#define SRV_WATCH_BUCKETS 4096
/* Changes queued between two wake-ups of the loop before they are merged
 * into "notify every watcher". */
#define SRV_WATCH_QUEUE_MAX 4096
/* How often the poll sweep runs (each watcher is notified once per
 * PO_WATCH_POLL_MS). */
#define SRV_WATCH_SWEEP_MS 1000
/* Every this many sweeps, free memory goes back to the system. */
#define SRV_TRIM_SWEEPS 5

struct srv_change {
	int64_t account_id, mailbox_id;
};

/* Change announcements from the store's worker threads to the loop
 * (watch.c). */
struct srv_watch {
	uv_async_t async;
	uv_timer_t sweep;
	bool started;
	/* Filled by worker threads under lock, drained by the loop. */
	uv_mutex_t lock;
	struct srv_change *queue;
	size_t n_queue;
	bool overflow;
	/* Connections watching, by account id. */
	struct po_conn *buckets[SRV_WATCH_BUCKETS];
	uint64_t generation; /* of the current delivery round */
	unsigned sweeps;     /* sweep timer ticks */
	uv_work_t trim;      /* malloc_trim on a worker */
	bool trimming;       /* trim is queued or running */
};

/* The daemon: one per process, lives on the loop thread. */
struct srv {
	uv_loop_t *loop;
	struct po_env env;
	struct po_config *config;       /* current (env.config) */
	struct po_config **old_configs; /* replaced by reloads; freed at end */
	size_t n_old_configs;
	struct tls_creds *creds; /* NULL: no TLS */
	struct srv_listener *listeners;
	struct po_conn *conns; /* every open connection */
	unsigned n_conns;      /* accepted and counted */
	unsigned n_refused;    /* refused, still flushing */
	struct srv_ip_count *ips[SRV_IP_BUCKETS];
	bool stopping;
	struct srv_watch watch;
	char read_buf[SRV_READ_BUF]; /* lent to one read callback at a time */
};

struct po_conn {
	struct srv *srv;
	/* What conn_env() returns: a copy of srv->env refreshed on the loop
	 * thread only while no job runs (before each input and each job), so
	 * a reload never changes the config under a worker. */
	struct po_env env;
	const struct po_protocol *proto;
	struct po_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer; /* timeouts, then the close grace period */
	uv_timer_t delay; /* conn_delay */
	uv_idle_t resume; /* deliver buffered frames from the loop */
	unsigned open_handles;
	char id[17];
	char peer[64];
	char user[128];
	struct framer framer;
	struct po_buf in;      /* plaintext not yet framed */
	struct po_buf out;     /* plaintext queued, not yet encrypted/sent */
	size_t in_flight;      /* bytes handed to uv_write, not yet done */
	struct po_buf tls_in;  /* ciphertext received, not yet decrypted */
	struct po_buf tls_out; /* ciphertext made by GnuTLS, to be sent */
	gnutls_session_t tls;
	struct tls_creds *creds;
	unsigned bad_commands;
	struct po_job *job;
	uv_work_t work;
	enum po_close_why why;
	bool counted; /* counts towards n_conns and the ip table */
	bool reading; /* uv_read_start is in effect */
	bool started; /* on_connect has run */
	bool paused;  /* on_input returned PO_AGAIN */
	bool delayed; /* conn_delay is holding the connection */
	bool closing; /* no more input; writes are dropped */
	bool close_when_flushed;
	bool close_started; /* handles are being closed */
	bool on_close_done;
	bool tls_on; /* TLS is (being) set up */
	bool handshaking;
	bool implicit_tls;
	bool starttls_pending; /* waiting for the go-ahead to be sent */
	bool logged_in;
	/* conn_watch: the mailbox watched (account 0: none) and the links of
	 * its bucket in srv->watch. */
	int64_t watch_account, watch_mailbox;
	struct po_conn *watch_prev, *watch_next;
	uint64_t watch_generation; /* last round that notified it */
	uint64_t watch_last_ms;    /* uv_now of its last notification */
	max_align_t session[];     /* the module's area */
};

/* loop.c */
/* Set up s on loop with cfg (taken; freed by srv_deinit): load the TLS
 * credentials when tls_cert is set.  Returns 0, or -1 with *error_r. */
int srv_init(struct srv *s, uv_loop_t *loop, struct po_config *cfg_take,
             const char **error_r);
/* Replace the configuration (taken) and reload TLS credentials.  On error
 * nothing changes and cfg_take is freed.  Returns 0 or -1 with *error_r. */
int srv_reload(struct srv *s, struct po_config *cfg_take, const char **error_r);
/* Graceful stop: close listeners; idle connections get msg_shutdown and
 * close; busy ones close once their job is done.  uv_run then returns. */
void srv_stop(struct srv *s);
/* Free what srv_init made (after uv_run returned). */
void srv_deinit(struct srv *s);
void srv__count_ip(struct srv *s, const char *ip, int delta);
unsigned srv__ip_connections(struct srv *s, const char *ip);

/* watch.c */
/* Route the store's change announcements to watching connections
 * (conn_watch): sets the store's change callback.  Call on the loop after
 * the store is open. */
void srv__watch_start(struct srv *s);
/* Close the handles (at stop) and clear the store's callback. */
void srv__watch_stop(struct srv *s);
/* Free what start made (after uv_run returned). */
void srv__watch_deinit(struct srv *s);
/* Stop c's watch (it is closing). */
void srv__watch_remove(struct po_conn *c);

/* conn.c: lifecycle */
void conn__accept(struct srv_listener *l);
/* Start closing now: no more input, queued output is dropped. */
void conn__close(struct po_conn *c, enum po_close_why why);
/* Stop input, send what is queued, then close (bounded by a grace timer). */
void conn__close_after_flush(struct po_conn *c, enum po_close_why why);
/* The connection is ready for the module: call on_connect. */
void conn__start(struct po_conn *c);
/* Rearm the pre-login / idle timer. */
void conn__touch(struct po_conn *c);
/* A job finished or the module closed: finish a pending close. */
void conn__maybe_finish_close(struct po_conn *c);
/* Graceful stop of one connection at shutdown. */
void conn__shutdown(struct po_conn *c);

/* conn_input.c */
/* Start or stop reading from the socket to match the connection's state. */
void conn__update_reading(struct po_conn *c);
/* Deliver buffered frames from the loop, soon, not from this call. */
void conn__schedule_input(struct po_conn *c);
/* Plaintext arrived (decrypted if TLS): buffer it and deliver frames. */
void conn__input(struct po_conn *c, const char *data, size_t len);
void conn__read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* conn_output.c */
/* Send what is queued (encrypting it if TLS is on), one write at a time. */
void conn__flush(struct po_conn *c);
/* Queue bytes even while closing (the core's own last words). */
void conn__write_final(struct po_conn *c, const char *msg);

/* tls.c */
int tls__creds_load(const char *cert, const char *key,
                    struct tls_creds **creds_r, const char **error_r);
void tls__creds_ref(struct tls_creds *cr);
void tls__creds_unref(struct tls_creds **cr);
/* Begin a server handshake on c with the daemon's current credentials. */
int tls__start(struct po_conn *c);
/* Ciphertext arrived: advance the handshake or decrypt into conn__input. */
void tls__input(struct po_conn *c, const char *data, size_t len);
/* Encrypt len bytes of plaintext into c->tls_out.  Returns 0 or -1. */
int tls__encrypt(struct po_conn *c, const char *data, size_t len);
/* Release the GnuTLS session and the credential reference. */
void tls__deinit(struct po_conn *c);

/* listener.c */
int listener__open(struct srv *s, const struct po_listen *l,
                   const struct po_protocol *proto, bool implicit_tls);
void listener__close_all(struct srv *s);
/* Log "postofficed ready" with every listener address. */
void listener__log_ready(struct srv *s);

#endif
