/*
 * An in-memory stand-in for the connection core, for unit tests of the
 * protocol modules.  fake_conn.c implements every conn_* function of
 * server/protocol.h over a struct po_conn that keeps the output in a
 * buffer, runs jobs synchronously (work, then the module's on_job_done)
 * after the callback that submitted them returns, and records delays, TLS
 * upgrades and bad commands.  The environment has a real store and
 * account directory in a fresh mkdtemp directory.
 */
#ifndef PO_FAKE_CONN_H
#define PO_FAKE_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "config.h"
#include "protocol.h"
#include "store.h"
#include "util.h"

/* The services shared by the connections of one test. */
struct fake_env {
	char dir[64];
	struct po_config config;
	struct po_env env;
};

/* Make a temporary data directory, open the store and the directory, and
 * set hostname "test.example" and small, test-friendly limits. */
struct fake_env *fake_env_new(void);
/* Close everything and remove the directory. */
void fake_env_free(struct fake_env **fe);
/* Add an account with a mail database; returns its id. */
int64_t fake_env_add_account(struct fake_env *fe, const char *name,
                             const char *password, bool pop, bool imap);
/* Append a message to name's INBOX. */
void fake_env_deliver(struct fake_env *fe, const char *name, const char *data);
/* Number of messages in name's INBOX; with i >= 0 also a malloc'd copy
 * of message i's bytes in *data_r. */
size_t fake_env_inbox(struct fake_env *fe, const char *name, size_t i,
                      char **data_r);

struct po_conn {
	const struct po_protocol *proto;
	struct fake_env *fe;
	void *session;
	struct po_buf out; /* everything written, not yet taken */
	size_t pending;    /* bytes not yet "drained" */
	bool output_limit; /* conn_output_full once pending >= 4096 */
	bool paused;       /* on_input returned PO_AGAIN */
	bool closing;      /* PO_CLOSE, conn_close or fake_close */
	bool closed;       /* on_close ran */
	bool tls;
	bool tls_available;
	bool plaintext_allowed;
	bool long_lines;
	unsigned delay_ms; /* sum of conn_delay() */
	unsigned bad_commands;
	unsigned max_bad;
	unsigned starttls_calls;
	char user[128];
	int64_t watch_account, watch_mailbox; /* conn_watch */
	/* conn_expect_literal: how often it was called, the last size
	 * announced, and the bytes of it fake_literal has not delivered. */
	unsigned literal_calls;
	uint64_t literal_size;
	uint64_t literal_left;
	struct po_job *job; /* submitted, not yet run */
	void (*job_work)(struct po_job *j);
};

/* A connection of proto in fe; runs on_connect. */
struct po_conn *fake_conn_new(struct fake_env *fe,
                              const struct po_protocol *proto);
/* Run on_close (if not yet) and free the connection. */
void fake_conn_free(struct po_conn **c, enum po_close_why why);
/* Feed one line ending in CRLF (crlf) or bare LF; runs queued jobs and
 * drains.  Returns the on_input result. */
int fake_frame(struct po_conn *c, const char *data, size_t len, bool crlf,
               bool more);
int fake_line(struct po_conn *c, const char *line);
/* Deliver len bytes of the literal the module announced with
 * conn_expect_literal (at most what is left of it) as PO_FRAME_LITERAL
 * frames of at most chunk bytes (0: one frame), "more" set while bytes of
 * the literal remain, as the core does; runs queued jobs and drains after
 * each frame.  Stops early when on_input does not return PO_OK and returns
 * the last on_input result. */
int fake_literal(struct po_conn *c, const void *data, size_t len, size_t chunk);
/* Take everything written so far (malloc'd, NUL-terminated). */
char *fake_take(struct po_conn *c);
/* The in-band TLS handshake "finished". */
void fake_tls_ready(struct po_conn *c);
/* Run the module's on_notify (as after a change to the watched mailbox),
 * then any job it submitted. */
void fake_notify(struct po_conn *c);

#endif
