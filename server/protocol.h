/*
 * The interface between the connection core (server/) and the protocol
 * modules (protocols/imap, pop3, lmtp).  A module is a table of callbacks;
 * the core owns sockets, TLS, framing, every limit, timeouts, the
 * bad-command counter, backpressure and the worker pool, and never writes a
 * protocol word except the module's msg_* strings.  A module talks to the
 * core only through the conn_* functions below, which is also what lets the
 * unit tests run a module over an in-memory transport (tests/unit/fake_conn.c
 * implements the same functions).
 *
 * Threading: every callback and every conn_* function runs on the loop
 * thread, except a job's work function, which runs on a worker thread and
 * must not call any conn_* function.
 */
#ifndef PO_PROTOCOL_H
#define PO_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct po_conn;
struct po_config;
struct store;
struct auth_dir;

/* What on_input returns. */
enum {
	PO_OK = 0,    /* go on: deliver the next frame when there is one */
	PO_AGAIN = 1, /* stop delivering frames until the module calls
	                 conn_resume() (typically from on_job_done) */
	PO_CLOSE = 2, /* flush what is queued, then close the connection */
};

/* po_protocol.flags */
#define PO_PROTO_STARTTLS 0x1u /* may upgrade in-band (STARTTLS, STLS) */
#define PO_PROTO_LITERALS 0x2u /* uses conn_expect_literal() */
/* An over-long line ends the connection after msg_line_too_long: for a
 * protocol where the dropped line may have announced a literal whose bytes
 * must not be read as commands (IMAP's {N+}). */
#define PO_PROTO_CLOSE_LONG_LINE 0x4u

enum po_frame_kind {
	PO_FRAME_LINE,    /* one line, without its line end */
	PO_FRAME_LITERAL, /* bytes announced with conn_expect_literal() */
};

/*
 * One unit of input.  data is valid only during the on_input call and is
 * NUL-terminated (the NUL is not counted in len); it may itself contain NUL
 * bytes, so use len.
 */
struct po_frame {
	enum po_frame_kind kind;
	const char *data;
	size_t len;
	bool crlf; /* LINE: it ended in CRLF; false: in a bare LF */
	bool more; /* LITERAL: more chunks of this literal follow.
	              LINE in long-line mode: this is a piece of a line longer
	              than max_line_length and more of it follows (crlf is then
	              meaningless) */
};

enum po_close_why {
	PO_CLOSE_CLIENT,   /* the client closed or reset the connection */
	PO_CLOSE_PROTOCOL, /* the module returned PO_CLOSE */
	PO_CLOSE_TIMEOUT,  /* pre-login, idle or TLS handshake timeout */
	PO_CLOSE_ERRORS,   /* too many bad commands */
	PO_CLOSE_ERROR,    /* I/O or TLS error */
	PO_CLOSE_SHUTDOWN, /* the daemon is stopping */
};

/*
 * A piece of work for the worker pool.  A module embeds this as the first
 * member of its own job struct, fills in its own fields and calls
 * conn_job_submit().  work runs on a worker thread; then the core calls the
 * module's on_job_done on the loop thread, which owns the job again (and
 * frees it).  A connection has at most one job in flight; the core keeps the
 * session alive until on_job_done has run, even if the client has gone (the
 * module then sees conn_is_closing() == true).
 */
struct po_job {
	void (*work)(struct po_job *j); /* set by conn_job_submit */
	struct po_conn *conn;           /* set by conn_job_submit */
};

/* Everything a module needs from the daemon: the configuration and the two
 * services.  Owned by the core; valid for the life of the connection.  The
 * config may be replaced by a reload between commands, so do not keep
 * pointers into it across callbacks. */
struct po_env {
	const struct po_config *config;
	struct store *store;
	struct auth_dir *auth;
};

struct po_protocol {
	const char *name;    /* "imap", "pop3", "lmtp": logs, config */
	unsigned flags;      /* PO_PROTO_* */
	size_t session_size; /* the core allocates this much, zeroed */
	/* A new connection: write the greeting.  For an implicit-TLS
	 * listener this runs after the handshake. */
	int (*on_connect)(struct po_conn *c);
	/* A complete frame.  Returns PO_OK, PO_AGAIN or PO_CLOSE. */
	int (*on_input)(struct po_conn *c, const struct po_frame *f);
	/* An in-band TLS upgrade (conn_starttls) finished its handshake. */
	void (*on_tls_ready)(struct po_conn *c);
	/* The output queue became empty: resume chunked output.  May be
	 * NULL. */
	void (*on_drained)(struct po_conn *c);
	/* A job finished; runs on the loop thread.  The module owns j again. */
	void (*on_job_done)(struct po_conn *c, struct po_job *j);
	/* The connection is going away; release what the session holds.  Runs
	 * once, after any job in flight has finished.  Nothing written now is
	 * sent. */
	void (*on_close)(struct po_conn *c, enum po_close_why why);
	/* A change was committed to the mailbox this connection watches
	 * (conn_watch), or the watch's poll interval (PO_WATCH_POLL_MS)
	 * passed, so that changes made by another process can be looked
	 * for.  Runs on the loop, possibly while a job is in flight.  May be
	 * NULL. */
	void (*on_notify)(struct po_conn *c);
	/* The core's words, in this protocol, each a complete reply with its
	 * line end ("-ERR ...\r\n").  The core sends msg_line_too_long for an
	 * over-long line (outside long-line mode) and counts it as a bad
	 * command; msg_too_many_errors, msg_timeout and msg_shutdown just
	 * before closing; msg_internal_error when a job's memory could not be
	 * had. */
	const char *msg_internal_error;
	const char *msg_line_too_long;
	const char *msg_too_many_errors;
	const char *msg_timeout;
	const char *msg_shutdown;
	const char *msg_too_many_connections;
};

/* The module's session area (session_size bytes, zeroed at connect). */
void *conn_session(struct po_conn *c);
const struct po_env *conn_env(const struct po_conn *c);

/* Queue bytes for the client (copied).  Returns 0, or -ENOMEM.  Writes after
 * the connection started closing are dropped. */
int conn_write(struct po_conn *c, const void *data, size_t len);
int conn_write_str(struct po_conn *c, const char *s);
int conn_printf(struct po_conn *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Bytes queued and not yet written to the socket. */
size_t conn_output_pending(const struct po_conn *c);
/* True when the queue is at or past output_buffer_max: a module producing a
 * large reply stops and continues from on_drained. */
bool conn_output_full(const struct po_conn *c);

/* After on_input returned PO_AGAIN: deliver frames again (any already
 * buffered are delivered from the loop, not from inside this call). */
void conn_resume(struct po_conn *c);

/* Run j->work on the worker pool (j is the module's struct, embedding
 * struct po_job first).  Returns 0, or -EBUSY if a job is in flight. */
int conn_job_submit(struct po_conn *c, struct po_job *j,
                    void (*work)(struct po_job *j));

/* Run fn(arg) on the worker pool, detached from the connection: for
 * blocking clean-up a closing session must not do on the loop thread
 * (closing a database).  fn must not touch the connection.  At shutdown the
 * daemon waits for it before it closes the store. */
void conn_run_detached(struct po_conn *c, void (*fn)(void *arg), void *arg);

/* Count a bad command.  Returns PO_OK, or PO_CLOSE once max_bad_commands is
 * reached, after the core has queued msg_too_many_errors: the module then
 * returns PO_CLOSE. */
int conn_bad_command(struct po_conn *c);

/* The next size bytes of input are a literal: they arrive as
 * PO_FRAME_LITERAL frames in chunks (more = true on all but the last), then
 * line framing continues.  The module has already checked size against its
 * limits. */
void conn_expect_literal(struct po_conn *c, uint64_t size);

/* Long-line mode (LMTP DATA): lines longer than max_line_length arrive in
 * pieces with more = true instead of being refused. */
void conn_set_long_lines(struct po_conn *c, bool on);

/* In-band TLS: call after queueing the go-ahead reply.  The core sends what
 * is queued, discards every byte the client sent after the command
 * (RFC 2595 §3.1, RFC 3207 §4.2: pipelined commands must not run), and runs
 * the handshake; then on_tls_ready.  Returns 0, or -ENOTSUP when no
 * certificate is configured or TLS is already on. */
int conn_starttls(struct po_conn *c);
bool conn_is_tls(const struct po_conn *c);
/* A certificate is configured, so STARTTLS/STLS can be offered. */
bool conn_tls_available(const struct po_conn *c);
/* Whether a plaintext password may be accepted on this connection now
 * (plaintext_auth, the client's address, and whether TLS is on). */
bool conn_plaintext_auth_allowed(const struct po_conn *c);

/* How often a watching connection gets on_notify without a change. */
#define PO_WATCH_POLL_MS 30000

/* Watch a mailbox of an account for changes committed through this daemon's
 * store (store_set_change_cb): on_notify runs on the loop after each one.
 * mailbox_id 0 watches every mailbox of the account; account_id 0 stops
 * watching.  Replaces any earlier watch of c; ends when c closes. */
void conn_watch(struct po_conn *c, int64_t account_id, int64_t mailbox_id);

/* The session has logged in as user: logs name the account from now on and
 * the idle timeout replaces the pre-login timeout. */
void conn_set_user(struct po_conn *c, const char *user);

/* Hold the connection for ms milliseconds: nothing queued is sent and no
 * input is read until then (failed-login delay). */
void conn_delay(struct po_conn *c, unsigned ms);

/* Flush what is queued, then close (PO_CLOSE_PROTOCOL): for a module that
 * ends the session from outside on_input, e.g. POP3's QUIT after its
 * expunge job. */
void conn_close(struct po_conn *c);

/* True once the connection is closing (client gone, shutdown). */
bool conn_is_closing(const struct po_conn *c);

/* The client's numeric address ("127.0.0.1", "::1"), and the 16-hex session
 * id that starts every log line of this connection. */
const char *conn_peer(const struct po_conn *c);
const char *conn_id(const struct po_conn *c);

/* Log one event of this connection: "<id> <proto> <message> user=...
 * ip=...".  level is one of the LOG_* values of log.h. */
void conn_log(struct po_conn *c, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
