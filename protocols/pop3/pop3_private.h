/*
 * Internals shared by the files of the POP3 module: the session, the
 * command parser, the byte-stuffing encoder, the command table and the
 * jobs.  Nothing outside protocols/pop3/ (and its unit tests) includes
 * this.
 */
#ifndef PO_POP3_PRIVATE_H
#define PO_POP3_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "protocol.h"
#include "store.h"
#include "util.h"

/* Session states (RFC 1939 §3), as bits so a command can list several. */
enum pop3_state {
	POP3_AUTHORIZATION = 1u << 0,
	POP3_TRANSACTION = 1u << 1,
	POP3_UPDATE = 1u << 2, /* QUIT is committing; nothing else runs */
};

/* Longest command verb we keep (RFC 2449 §3: keywords are 3 or 4
 * characters; a little more lets us name longer garbage in errors). */
#define POP3_VERB_MAX 8
/* Most bytes read from the store per RETR/TOP job. */
#define POP3_CHUNK (64u * 1024u)
/* Longest USER name we keep; longer ones still get "+OK" and then fail
 * at PASS like any unknown name. */
#define POP3_USER_MAX 255

/* One parsed command line.  args points into the caller's line. */
struct pop3_cmd {
	char verb[POP3_VERB_MAX + 1]; /* upper case */
	const char *args;             /* after the first space; "" if none */
	size_t args_len;
	bool has_args; /* a space followed the verb */
};

/*
 * Split line[0..len) into verb and arguments.  The verb is matched
 * case-insensitively (RFC 1939 §3) and returned upper-cased.  Returns 0, or
 * -1 with a reason for the client in *error_r (static text) when the line
 * is empty, holds a NUL or another control byte other than in the
 * arguments' text, or its verb is longer than POP3_VERB_MAX.  A NUL
 * anywhere in the line is an error: "PASS a\0b" must never be taken as
 * "PASS a".
 */
int pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd_r,
                       const char **error_r);

/*
 * Parse between min and max (<= 2) decimal numbers separated by single
 * spaces from args[0..len) into out[].  Only ASCII digits; each value must
 * fit in 32 bits.  Trailing spaces are tolerated (some old clients send
 * them); anything else is an error.  Returns the count, or -1 with a reason
 * in *error_r.
 */
int pop3_parse_numbers(const char *args, size_t len, size_t min, size_t max,
                       uint32_t out[2], const char **error_r);

/*
 * The state of sending one message (RETR) or its top (TOP) in chunks:
 * RFC 1939 §3 byte-stuffing of lines that start with '.', CRLF line ends
 * (a bare LF gets a CR), and for TOP the cut after the header and `lines`
 * body lines (RFC 1939 §7).  It lives across chunk boundaries, so a line
 * start that falls at the start of a chunk is still stuffed.
 */
struct pop3_stream {
	uint32_t uid;
	uint64_t offset; /* next byte to read from the store */
	uint64_t size;   /* the message's stored size */
	bool top;        /* TOP: stop after the body lines */
	uint64_t lines;  /* TOP: body lines still to send */
	bool in_body;    /* past the blank line ending the header */
	bool line_start; /* the next byte starts a line */
	bool line_empty; /* the current line has had no byte but CR yet */
	bool last_cr;    /* the last byte sent was a CR */
	bool done;       /* TOP has sent all it should */
};

/* Start s for a message of this uid and size. */
void pop3_stream_init(struct pop3_stream *s, uint32_t uid, uint64_t size,
                      bool top, uint64_t lines);
/* Encode in[0..len) onto out; sets s->done when TOP needs no more.
 * Returns the bytes of in consumed (all, unless TOP finished). */
size_t pop3_stream_encode(struct pop3_stream *s, const char *in, size_t len,
                          struct po_buf *out);
/* Append the terminating ".\r\n" (after a CRLF if the last line lacked
 * one). */
void pop3_stream_finish(struct pop3_stream *s, struct po_buf *out);

/* One message of the login-time snapshot (RFC 1939 §5). */
struct pop3_msg {
	uint32_t uid;
	uint64_t size;
	bool deleted;
	char uidl[STORE_UIDL_MAX + 1];
};

enum pop3_job_kind {
	POP3_JOB_LOGIN,
	POP3_JOB_READ,
	POP3_JOB_QUIT,
};

enum pop3_login_result {
	POP3_LOGIN_OK,
	POP3_LOGIN_FAILED,
	POP3_LOGIN_TEMPFAIL,
	POP3_LOGIN_DISABLED,
	POP3_LOGIN_POP_OFF,
	POP3_LOGIN_INUSE,
	POP3_LOGIN_NOMAILBOX,
};

/* A worker job of this module.  The work function reads the inputs and
 * fills the outputs; it never touches the session or calls conn_*. */
struct pop3_job {
	struct po_job base; /* first, as protocol.h requires */
	enum pop3_job_kind kind;
	struct store *store;
	struct auth_dir *auth;
	/* LOGIN in: */
	char name[POP3_USER_MAX + 1];
	char password[AUTH_PASSWORD_MAX + 1];
	/* LOGIN out (the session takes these on success): */
	enum pop3_login_result login;
	struct auth_account account;
	struct store_account *acct;
	int64_t mailbox_id;
	struct pop3_msg *msgs;
	size_t n_msgs;
	/* READ in/out, QUIT in: */
	int64_t read_mailbox;
	struct pop3_stream stream;
	uint32_t *uids;
	size_t n_uids;
	/* READ and QUIT out: */
	int error; /* STORE_OK or enum store_error */
	struct po_buf out;
};

struct pop3_session {
	enum pop3_state state;
	char user[POP3_USER_MAX + 1];
	bool have_user;   /* USER was accepted; PASS may follow */
	bool sasl_wait;   /* AUTH PLAIN sent "+ "; the next line answers */
	bool job_running; /* a job is in flight */
	bool sending;     /* a RETR/TOP is in progress */
	bool wait_drain;  /* sending, paused until on_drained */
	bool quitting;    /* QUIT answered; close when possible */
	struct auth_account account;
	bool locked; /* we hold store_pop_lock for account.id */
	struct store_account *acct;
	int64_t mailbox_id;
	struct pop3_msg *msgs;
	size_t n_msgs;
	struct pop3_stream stream;
};

/* A command handler.  Returns PO_OK, PO_AGAIN or PO_CLOSE. */
typedef int pop3_cmd_cb(struct po_conn *c, struct pop3_session *s,
                        const struct pop3_cmd *cmd);

enum {
	POP3_CMD_NOARGS = 1u << 0, /* any argument is an error */
};

struct pop3_command {
	const char *name;
	pop3_cmd_cb *handler;
	unsigned states; /* enum pop3_state bits it may run in */
	unsigned flags;  /* POP3_CMD_* */
};

/* The command table lookup (pop3_cmds.c); NULL if verb is unknown. */
const struct pop3_command *pop3__command_find(const char *verb);
/* The second line of AUTH PLAIN (pop3_cmds.c). */
int pop3__sasl_response(struct po_conn *c, struct pop3_session *s,
                        const char *line, size_t len);

/* pop3_session.c */
void pop3__enter_state(struct po_conn *c, struct pop3_session *s,
                       enum pop3_state state);
int pop3__input(struct po_conn *c, const struct po_frame *f);
/* Write "-ERR text" and count a bad command; returns PO_OK or PO_CLOSE. */
int pop3__bad(struct po_conn *c, const char *text);
/* Submit a job; returns PO_AGAIN, or PO_OK after writing an error. */
int pop3__submit(struct po_conn *c, struct pop3_session *s, struct pop3_job *j);
struct pop3_job *pop3__job_new(struct po_conn *c, enum pop3_job_kind kind);
void pop3__job_free(struct pop3_job **j);
/* Start LOGIN for name and password (wiped from the caller's copy by the
 * caller). */
int pop3__start_login(struct po_conn *c, struct pop3_session *s,
                      const char *name, const char *password);
/* Start sending message number msg (already validated). */
int pop3__start_send(struct po_conn *c, struct pop3_session *s,
                     const struct pop3_msg *m, bool top, uint64_t lines);
/* Start QUIT's UPDATE state. */
int pop3__start_quit(struct po_conn *c, struct pop3_session *s);
void pop3__job_done(struct po_conn *c, struct po_job *job);
void pop3__drained(struct po_conn *c);
/* Release everything the session holds (on_close, after STLS). */
void pop3__session_release(struct po_conn *c, struct pop3_session *s);

#endif
