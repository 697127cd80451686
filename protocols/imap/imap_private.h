/*
 * Internals shared by the files of the IMAP module (protocols/imap/): the
 * session, the command framework, the selected mailbox and its untagged
 * updates, the output writers and the helpers several commands share.
 * Nothing outside protocols/imap/ (and its unit tests) includes this.
 *
 * How a command runs (DESIGN.md "How a command flows"):
 *
 *   on_input (loop)    assembles the command from line and literal frames
 *                      (imap_session.c), parses tag, name and arguments
 *                      (imap_parse.c), finds the command in the table
 *                      (imap_commands.c), checks the state, and calls the
 *                      command's parse function: a pure function from the
 *                      argument tree to the command's own struct (cmd->data)
 *                      or a BAD reason.
 *   run (worker)       the command's run function does the work against
 *                      the store through s->acct and appends its untagged
 *                      responses to cmd->out, then sets the result with
 *                      imap_cmd_result().  A large response stops at
 *                      IMAP_OUT_CHUNK bytes and returns IMAP_RUN_MORE; the
 *                      framework sends the chunk, waits for the socket to
 *                      drain and calls run again (cmd->step counts calls).
 *   framework (worker) after the last run: the untagged updates the command
 *                      allows (imap_sync), then "tag OK|NO|BAD text".
 *   on_job_done (loop) queues cmd->out, frees the command, reads on.
 *
 * Commands flagged IMAP_CMD_INLINE run on the loop thread instead (no store
 * access: CAPABILITY, LOGOUT, STARTTLS, ID, ENABLE, NAMESPACE, IDLE's
 * start, AUTHENTICATE's exchange); they may use cmd->c.
 *
 * While a command's job runs the loop does not touch the session, so run
 * functions read and change s (the selected map, s->acct) freely.
 */
#ifndef PO_IMAP_PRIVATE_H
#define PO_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "imap_parse.h"
#include "protocol.h"
#include "store.h"
#include "util.h"

/* ---- limits ---------------------------------------------------------- */

/* Longest tag we accept (RFC 9051 has no limit; BAD past it). */
#define IMAP_TAG_MAX 128
/* Bytes of one command other than an APPEND message literal: its lines and
 * its literals together.  A literal that would pass it is refused before it
 * is read. */
#define IMAP_CMD_MAX_BYTES (1024u * 1024u)
/* Literals in one command (APPEND's message included). */
#define IMAP_CMD_MAX_LITERALS 64
/* A LITERAL- non-synchronizing literal may be at most this (RFC 7888 §5);
 * we announce LITERAL+ but still refuse a {N+} larger than the limits
 * above, after skipping its bytes. */
#define IMAP_LITERAL_MINUS_MAX 4096
/* Output one run step produces before it yields (IMAP_RUN_MORE). */
#define IMAP_OUT_CHUNK (256u * 1024u)
/* Keywords a session caches the names of: STORE_KEYWORDS_MAX. */

/* ---- session --------------------------------------------------------- */

/* RFC 9051 §3: the states, as bits so a command lists where it is valid. */
enum imap_state {
	IMAP_S_NOTAUTH = 1u << 0,
	IMAP_S_AUTH = 1u << 1,
	IMAP_S_SELECTED = 1u << 2,
	IMAP_S_LOGOUT = 1u << 3,
};
#define IMAP_S_ANY (IMAP_S_NOTAUTH | IMAP_S_AUTH | IMAP_S_SELECTED)
#define IMAP_S_AUTHED (IMAP_S_AUTH | IMAP_S_SELECTED)

/*
 * The selected mailbox (RFC 9051 §3.3): the message sequence numbers the
 * client knows, as the UIDs they map to (uids[n - 1] is the UID of message
 * n, ascending), and the HIGHESTMODSEQ up to which the client has been told
 * of every change.  Only imap_sync() and the commands that remove messages
 * of their own (EXPUNGE, MOVE, CLOSE) change uids.
 */
struct imap_selected {
	int64_t id;
	char *name;    /* UTF-8, as the store spells it */
	bool readonly; /* EXAMINE, or the mailbox became read-only */
	uint32_t uidvalidity;
	uint32_t *uids;
	uint32_t count, cap;
	uint64_t modseq;  /* changes up to here are reflected in uids */
	uint32_t uidnext; /* as last reported */
	/* UIDs expunged in the store that could not be announced yet (a
	 * FETCH, STORE or SEARCH by sequence number was running: RFC 9051
	 * §7.5.1); still in uids, sent by the next imap_sync that may. */
	uint32_t *pending_expunge;
	size_t n_pending_expunge;
	/* RFC 5182 SEARCH SAVE: the saved result as UIDs ("$"). */
	uint32_t *searchres;
	size_t n_searchres;
	/* The keyword mask the client was last sent in FLAGS. */
	uint64_t kw_announced;
	/* The mailbox was deleted or renamed away by another session. */
	bool gone;
};

struct imap_cmd;

struct imap_session {
	enum imap_state state;
	/* Command assembly (imap_session.c). */
	struct po_buf cmdbuf;          /* lines and literals, back to back */
	struct imap_input_part *parts; /* into cmdbuf once complete */
	size_t n_parts, cap_parts;
	size_t *part_off;       /* offsets into cmdbuf */
	uint64_t literal_total; /* literal bytes of this command */
	bool skipping;          /* discarding a refused {N+} literal's bytes */
	char skip_tag[IMAP_TAG_MAX + 1]; /* tag for the BAD after skipping */
	const char *skip_error;
	bool idling;         /* IDLE accepted; DONE ends it */
	bool notify_pending; /* on_notify came while a job ran */
	bool job_running;
	bool logout;          /* BYE sent; close after the job */
	struct imap_cmd *cur; /* the command running (job or paused) */
	bool wait_drain;      /* cur returned IMAP_RUN_MORE; on_drained */
	/* SASL AUTHENTICATE exchange in progress (the next line answers). */
	bool sasl_wait;
	char sasl_tag[IMAP_TAG_MAX + 1];
	/* ENABLE (RFC 5161): what the client turned on. */
	bool enabled_rev2; /* IMAP4rev2 */
	bool enabled_utf8; /* UTF8=ACCEPT (RFC 6855) */
	/* After login. */
	struct auth_account account;
	struct store_account *acct;
	char **kw_names;          /* store_keyword_names cache, or NULL */
	struct imap_selected sel; /* valid in IMAP_S_SELECTED */
};

/* ---- commands -------------------------------------------------------- */

enum imap_status { IMAP_OK, IMAP_NO, IMAP_BAD };

enum {
	IMAP_RUN_DONE = 0,
	IMAP_RUN_MORE = 1,
};

/* struct imap_command.flags */
enum {
	IMAP_CMD_INLINE = 1u << 0,    /* run on the loop thread, no job */
	IMAP_CMD_UID = 1u << 1,       /* may follow "UID " */
	IMAP_CMD_NOEXPUNGE = 1u << 2, /* without UID: no EXPUNGE updates
	                                 (FETCH, STORE, SEARCH; §7.5.1) */
	IMAP_CMD_NOSYNC = 1u << 3,    /* no untagged updates at all */
	IMAP_CMD_APPEND = 1u << 4,    /* its literal may be a whole message
	                                 (max_message_size, not
	                                 IMAP_CMD_MAX_BYTES) */
};

/* One command being run.  Owned by the session (s->cur). */
struct imap_cmd {
	struct imap_session *s;
	struct po_conn *c; /* for INLINE commands only (loop thread) */
	const struct imap_command *def;
	char tag[IMAP_TAG_MAX + 1];
	bool uid;                    /* "UID FETCH" ... */
	struct imap_arena arena;     /* the argument tree lives here */
	const struct imap_arg *args; /* first argument, NULL if none */
	size_t nargs;
	void *data;        /* the command's parsed form (parse sets,
	                      def->free releases) */
	struct po_buf out; /* what run produced, sent after it */
	unsigned step;     /* run calls before this one */
	/* The services and config, a snapshot for the worker. */
	const struct po_env *env;
	/* The result (imap_cmd_result). */
	enum imap_status status;
	char result[512]; /* "[CODE] text", no line end */
	/* A result longer than result (COPYUID or MODIFIED of many UIDs):
	 * malloc'd, freed with the command; NULL otherwise. */
	char *result_long;
	bool result_set;
	bool no_tagged; /* the framework writes no tagged line (IDLE's sync
	                   step, LOGOUT writes its own) */
};

/* Parse cmd->args into cmd->data (loop thread, pure).  Returns 0, or -1
 * with a static *error_r for "tag BAD <error>". */
typedef int imap_parse_fn(struct imap_cmd *cmd, const char **error_r);
/* Do the work; append untagged output to cmd->out and set the result.
 * Returns IMAP_RUN_DONE or IMAP_RUN_MORE. */
typedef int imap_run_fn(struct imap_cmd *cmd);
typedef void imap_free_fn(void *data);

struct imap_command {
	const char *name;     /* upper case */
	unsigned states;      /* enum imap_state bits */
	unsigned flags;       /* IMAP_CMD_* */
	imap_parse_fn *parse; /* NULL: the command takes no arguments */
	imap_run_fn *run;
	imap_free_fn *free; /* NULL: free(data) */
};

/* The table lookup (imap_commands.c); name is case-insensitive.  NULL if
 * unknown. */
const struct imap_command *imap_command_find(const char *name, size_t len);

/* Set the tagged result: "tag OK|NO|BAD <fmt...>".  fmt usually starts with
 * a response code: imap_cmd_result(cmd, IMAP_NO, "[NONEXISTENT] No such
 * mailbox"). */
void imap_cmd_result(struct imap_cmd *cmd, enum imap_status st, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
/* Map a store error to a NO result with the RFC 5530 code that fits
 * (STORE_E_TEMP: [UNAVAILABLE], NOQUOTA: [OVERQUOTA], NOTFOUND:
 * [NONEXISTENT], EXISTS: [ALREADYEXISTS], EXPUNGED: [EXPUNGEISSUED],
 * LIMIT: [LIMIT], INVALID: [CANNOT]); what names the operation. */
void imap_cmd_store_error(struct imap_cmd *cmd, int store_error,
                          const char *what);

/* ---- the command handlers (one file per group) ----------------------- */

/* imap_cmd_any.c: any state, and authentication. */
imap_run_fn imap_cmd_capability_run, imap_cmd_noop_run, imap_cmd_logout_run,
        imap_cmd_starttls_run, imap_cmd_login_run, imap_cmd_authenticate_run,
        imap_cmd_enable_run, imap_cmd_id_run, imap_cmd_namespace_run,
        imap_cmd_idle_run;
imap_parse_fn imap_cmd_login_parse, imap_cmd_authenticate_parse,
        imap_cmd_enable_parse, imap_cmd_id_parse;

/* imap_cmd_mailbox.c: mailboxes, APPEND, and leaving a mailbox. */
imap_parse_fn imap_cmd_select_parse, imap_cmd_mailbox_name_parse,
        imap_cmd_rename_parse, imap_cmd_list_parse, imap_cmd_lsub_parse,
        imap_cmd_status_parse, imap_cmd_append_parse,
        imap_cmd_uid_expunge_parse;
imap_run_fn imap_cmd_select_run, imap_cmd_create_run, imap_cmd_delete_run,
        imap_cmd_rename_run, imap_cmd_subscribe_run, imap_cmd_unsubscribe_run,
        imap_cmd_list_run, imap_cmd_lsub_run, imap_cmd_status_run,
        imap_cmd_append_run, imap_cmd_check_run, imap_cmd_close_run,
        imap_cmd_unselect_run, imap_cmd_expunge_run;
imap_free_fn imap_cmd_select_free, imap_cmd_list_free, imap_cmd_status_free,
        imap_cmd_append_free;

/* imap_fetch.c */
imap_parse_fn imap_cmd_fetch_parse;
imap_run_fn imap_cmd_fetch_run;
imap_free_fn imap_cmd_fetch_free;

/* imap_search.c, imap_cmd_store.c */
imap_parse_fn imap_cmd_search_parse, imap_cmd_store_parse, imap_cmd_copy_parse;
imap_run_fn imap_cmd_search_run, imap_cmd_store_run, imap_cmd_copy_run,
        imap_cmd_move_run;
imap_free_fn imap_cmd_search_free, imap_cmd_store_free, imap_cmd_copy_free;

/* ---- the selected mailbox (imap_sync.c) ------------------------------ */

/*
 * Bring the client up to date with the store (RFC 9051 §7.4.1 EXPUNGE,
 * §7.3.1 EXISTS, §7.5.2 unsolicited FETCH FLAGS) by appending untagged
 * responses to out: EXPUNGE (only when allow_expunge; otherwise the UIDs
 * wait in sel.pending_expunge), FETCH (UID n FLAGS (...)) for changed
 * flags, FLAGS/PERMANENTFLAGS when new keywords appeared, and EXISTS for
 * new messages.  A mailbox deleted meanwhile: "* BYE"-free handling per
 * RFC 9051 (sel.gone, every message EXPUNGEd when allowed).  Worker thread.
 * Returns a store error (STORE_OK).
 */
int imap_sync(struct imap_session *s, struct po_buf *out, bool allow_expunge);

/* Enter SELECTED on mailbox (already looked up): fill s->sel from the
 * store (the UID list, counters) and s->kw_names.  Worker thread. */
int imap_sel_open(struct imap_session *s, const struct store_mailbox_info *mb,
                  const char *name, bool readonly);
/* Leave SELECTED (free s->sel, state AUTH).  Any thread that owns s. */
void imap_sel_close(struct imap_session *s);
/* Remove uid from the map if present and write "* n EXPUNGE" for it. */
void imap_sel_expunged(struct imap_session *s, struct po_buf *out,
                       uint32_t uid);
/* The same for the n UIDs of uids (any order, those not in the map are
 * skipped), with one compaction of the map: "* n EXPUNGE" highest
 * sequence number first (descending) or lowest first, each number then
 * counting the removals before it (RFC 6851 §4.3's "* 2 EXPUNGE" x3). */
void imap_sel_expunge_uids(struct imap_session *s, struct po_buf *out,
                           const uint32_t *uids, size_t n, bool descending);
/* Keywords of used the client was not sent yet: "* FLAGS" and "* OK
 * [PERMANENTFLAGS ...]" with them (RFC 9051 §7.3.5), before any FETCH
 * that shows them; nothing when all are known.  Worker thread. */
void imap_sel_announce_keywords(struct imap_session *s, struct po_buf *out,
                                uint64_t used);
/* The sequence number of uid, or 0 when it is not in the map. */
uint32_t imap_sel_seq(const struct imap_session *s, uint32_t uid);

/*
 * The UIDs of the selected map that set names, ascending, in a malloc'd
 * array (*uids_r NULL when *n_r is 0).  uid false: set holds sequence
 * numbers, "*" is the count, and a number past the count is an error (-1,
 * *error_r "Invalid sequence number"); uid true: set holds UIDs, "*" is the
 * largest UID in the map (nothing when empty), UIDs not in the map are left
 * out (RFC 9051 §6.4.8).  "$" adds sel.searchres.  Returns 0 or -1.
 */
int imap_sel_resolve(const struct imap_session *s,
                     const struct imap_seqset *set, bool uid, uint32_t **uids_r,
                     size_t *n_r, const char **error_r);

/* The session's keyword names (s->kw_names), refreshed from the store when
 * mask has a bit whose name is not cached.  Worker thread. */
char **imap_keyword_names(struct imap_session *s, uint64_t mask);

/* ---- output (imap_write.c) ------------------------------------------- */

/* A string as IMAP sends it: a quoted string when it holds only 7-bit
 * bytes other than NUL, CR, LF and is at most 1000 bytes (8-bit UTF-8 is
 * quoted too when utf8 is true, RFC 6855), otherwise a literal {N}. */
void imap_write_string(struct po_buf *out, const char *s, size_t len,
                       bool utf8);
/* NIL for NULL, else imap_write_string. */
void imap_write_nstring(struct po_buf *out, const char *s, size_t len,
                        bool utf8);
/* An astring: the atom itself when it is a valid non-empty atom (and not
 * NIL), else imap_write_string. */
void imap_write_astring(struct po_buf *out, const char *s, size_t len,
                        bool utf8);
/* A mailbox name (UTF-8 from the store) as this client reads it: modified
 * UTF-7 unless UTF8=ACCEPT is enabled (RFC 6855 §3), as an astring. */
void imap_write_mailbox(const struct imap_session *s, struct po_buf *out,
                        const char *name);
/* "(\Seen \Answered $Label)" for flags and the keyword mask. */
void imap_write_flags(struct po_buf *out, uint32_t flags, uint64_t keywords,
                      char *const *kw_names);
/* INTERNALDATE's date-time: "\"17-Jul-1996 02:44:25 -0700\"" (UTC). */
void imap_write_date_time(struct po_buf *out, int64_t t);

/* ---- input helpers (imap_util.c) ------------------------------------- */

/* System flag of name ("\Seen", any case) or 0; "\Recent" is 0 too. */
uint32_t imap_system_flag(const char *name, size_t len);

/*
 * A flag list "(\Seen $Work)" or a single flag (APPEND, STORE accept both,
 * RFC 9051 §6.3.12, §6.4.6): system flags into *flags_r, keywords (atoms
 * not starting with "\") into kw[0..*n_kw_r), at most max_kw, pointing into
 * the arg tree.  \Recent is refused (RFC 9051 drops it), as is any other
 * "\" flag that is not a system flag.  Returns 0 or -1 with *error_r.
 */
int imap_parse_flags(const struct imap_arg *arg, uint32_t *flags_r,
                     const char **kw, size_t max_kw, size_t *n_kw_r,
                     const char **error_r);

/* RFC 9051 date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d") as
 * seconds since the epoch.  Returns 0 or -1. */
int imap_parse_date_time(const char *s, size_t len, int64_t *t_r);
/* RFC 9051 date "d-Mon-yyyy" (SEARCH BEFORE ...) as the epoch second of
 * its 00:00 UTC.  Returns 0 or -1. */
int imap_parse_date(const char *s, size_t len, int64_t *t_r);

/* ---- mailbox names (imap_mutf7.c) ------------------------------------ */

/* RFC 3501 §5.1.3 modified UTF-7 to UTF-8 (appended to out).  Returns 0,
 * or -1 for a malformed or non-canonical spelling. */
int imap_mutf7_decode(const char *in, size_t len, struct po_buf *out);
/* UTF-8 to modified UTF-7 (appended to out).  in must be valid UTF-8. */
void imap_mutf7_encode(const char *in, size_t len, struct po_buf *out);
/* Is in[0..len) valid UTF-8 (RFC 3629: no overlongs, no surrogates)? */
bool imap_utf8_valid(const char *in, size_t len);

/*
 * The store name of the mailbox a client named: modified UTF-7 decoded
 * (unless UTF8=ACCEPT is on; raw UTF-8 is accepted either way), "INBOX" in
 * any case made "INBOX", and checked with store_mailbox_name_valid (no
 * "..", no "~", no empty level, no control bytes).  Appends to out (NUL
 * terminated) and returns 0, or -1 with *error_r for NO [CANNOT].
 */
int imap_mailbox_from_client(const struct imap_session *s, const char *name,
                             size_t len, struct po_buf *out,
                             const char **error_r);

/* ---- the module (imap_session.c) ------------------------------------- */

extern const struct po_protocol imap_protocol;

#endif
