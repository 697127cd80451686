/*
 * Internals shared by the files of the LMTP module: the command and path
 * parsers, the session and the jobs.  Nothing outside protocols/lmtp/ (and
 * its unit tests) includes this.
 */
#ifndef PO_LMTP_PRIVATE_H
#define PO_LMTP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "protocol.h"
#include "store.h"
#include "util.h"

/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets. */
#define LMTP_ADDR_MAX 254
/* Most accepted recipients per transaction (RFC 5321 §4.5.3.1.8 asks for
 * at least 100). */
#define LMTP_RCPT_MAX 100
#define LMTP_VERB_MAX 8

/* One parsed command line; args points into the caller's line. */
struct lmtp_cmd {
	char verb[LMTP_VERB_MAX + 1]; /* upper case */
	const char *args;             /* after the first space; "" if none */
	size_t args_len;
};

/*
 * Split line[0..len) into an upper-cased verb and its arguments.  Returns
 * 0, or -1 with a complete reply line (static, with CRLF) in *error_r for
 * an empty line, a NUL byte, or a verb that is not 1..LMTP_VERB_MAX
 * letters.
 */
int lmtp_parse_command(const char *line, size_t len, struct lmtp_cmd *cmd_r,
                       const char **error_r);

/*
 * Parse "FROM:<path> [params]" (what is "MAIL FROM") or "TO:<path>
 * [params]" from args[0..len): prefix is "FROM:" or "TO:", matched without
 * case; spaces after the colon are tolerated.  The address (without
 * brackets and any source route, RFC 5321 §4.1.1.3) goes to addr_r (size
 * LMTP_ADDR_MAX + 1); it must be 0x21..0x7E without '<' '>' and may be
 * empty only when allow_empty ("<>", the null reverse-path).  The rest
 * after the path (its leading spaces skipped) is *params_r, *params_len_r.
 * Returns 0, or -1 with a complete reply line in *error_r.
 */
int lmtp_parse_path(const char *args, size_t len, const char *prefix,
                    bool allow_empty, char *addr_r, const char **params_r,
                    size_t *params_len_r, const char **error_r);

/*
 * Check MAIL parameters: BODY=7BIT or BODY=8BITMIME (RFC 1652) and SIZE=n
 * (RFC 1870, accepted and ignored), separated by spaces.  Returns 0, or -1
 * with a complete reply line in *error_r (555 for an unknown parameter).
 */
int lmtp_parse_mail_params(const char *params, size_t len,
                           const char **error_r);

/* Session states; bits so a command may list several. */
enum lmtp_state {
	LMTP_GREETED = 1u << 0, /* no LHLO yet */
	LMTP_READY = 1u << 1,   /* LHLO done, no transaction */
	LMTP_MAIL = 1u << 2,    /* MAIL accepted */
	LMTP_DATA = 1u << 3,    /* reading the message */
};

struct lmtp_rcpt {
	char addr[LMTP_ADDR_MAX + 1];
	int64_t account_id;
};

enum lmtp_job_kind { LMTP_JOB_RCPT, LMTP_JOB_DELIVER };

enum lmtp_rcpt_result { LMTP_RCPT_OK, LMTP_RCPT_UNKNOWN, LMTP_RCPT_TEMP };

/* A worker job.  The work function uses only the job's fields. */
struct lmtp_job {
	struct po_job base; /* first, as protocol.h requires */
	enum lmtp_job_kind kind;
	struct store *store;
	struct auth_dir *auth;
	/* RCPT: in addr, out result and account_id. */
	struct lmtp_rcpt rcpt;
	enum lmtp_rcpt_result rcpt_result;
	/* DELIVER: in the message and the recipients; out one store
	 * result per recipient. */
	char *data;
	size_t len;
	struct lmtp_rcpt *rcpts;
	size_t n_rcpts;
	int *results;
};

struct lmtp_session {
	enum lmtp_state state;
	char sender[LMTP_ADDR_MAX + 1];
	struct lmtp_rcpt *rcpts; /* LMTP_RCPT_MAX entries once needed */
	size_t n_rcpts;
	struct po_buf data;  /* the message being received */
	uint64_t data_bytes; /* the client's bytes so far */
	bool too_big;        /* past max_message_size: discarding */
	bool no_memory;      /* the buffer could not grow: discarding */
	bool continuation;   /* the last frame was a piece of a line */
	bool last_crlf;      /* the last whole line ended in CRLF */
	bool job_running;
};

typedef int lmtp_cmd_cb(struct po_conn *c, struct lmtp_session *s,
                        const struct lmtp_cmd *cmd);

struct lmtp_command {
	const char *name;
	lmtp_cmd_cb *handler;
	unsigned states;         /* enum lmtp_state bits */
	const char *wrong_state; /* the reply outside them */
};

/* lmtp_session.c */
int lmtp__input(struct po_conn *c, const struct po_frame *f);
void lmtp__job_done(struct po_conn *c, struct po_job *job);
void lmtp__reset(struct lmtp_session *s);
void lmtp__enter_state(struct po_conn *c, struct lmtp_session *s,
                       enum lmtp_state state);

#endif
