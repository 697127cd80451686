/*
 * The maildrop service: the one API every protocol and the admin tool use
 * to read and change mail.  storage/ is the only code that knows SQL and the
 * mail schema.  Each account's mail lives in its own SQLite database,
 * DATA_DIR/mail/<id % 256 as 2 hex>/<id>.db, named by the account's numeric
 * id (never by a name a client typed).  Messages are stored whole with CRLF
 * line ends, so POP3 and IMAP sizes are exact without rescanning.
 *
 * Durability: every function that changes mail returns only after its
 * transaction is on disk (WAL, synchronous=FULL), so a 250 / +OK / OK sent
 * after it is a promise kept across a crash.
 *
 * Threading: struct store may be used from any thread.  A struct
 * store_account is used by one thread at a time (a session's jobs run one
 * after the other, so a session may keep one open across jobs).  Every call
 * may block on disk: call them from worker jobs, never from the loop.
 */
#ifndef PO_STORE_H
#define PO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_error {
	STORE_OK = 0,
	STORE_E_TEMP = -1,     /* I/O error, database busy or corrupt */
	STORE_E_NOQUOTA = -2,  /* over quota */
	STORE_E_NOTFOUND = -3, /* no such account, mailbox or message */
	STORE_E_EXISTS = -4,   /* already exists */
	STORE_E_EXPUNGED = -5, /* the message was expunged meanwhile */
	STORE_E_INUSE = -6,    /* locked by another session */
	STORE_E_LIMIT = -7,    /* a size or count limit */
	STORE_E_INVALID = -8,  /* bad argument (name, size) */
};

/* System flags (IMAP \Seen ...). */
enum {
	STORE_F_SEEN = 1u << 0,
	STORE_F_ANSWERED = 1u << 1,
	STORE_F_FLAGGED = 1u << 2,
	STORE_F_DELETED = 1u << 3,
	STORE_F_DRAFT = 1u << 4,
};

/* RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
#define STORE_UIDL_MAX 70

struct store;
struct store_account;

/* Open the service on data_dir (created with mode 0700 if missing).
 * Returns STORE_OK, or STORE_E_TEMP with a reason in *error_r (static). */
int store_new(const char *data_dir, struct store **store_r,
              const char **error_r);
/* Close; every store_account must have been closed.  NULLs *store. */
void store_free(struct store **store);

/* Create the account's database with INBOX and the special-use mailboxes
 * Drafts, Sent, Trash, Junk, Archive.  STORE_E_EXISTS if it is there. */
int store_account_create(struct store *store, int64_t account_id);
/* Delete the account's database files.  STORE_E_NOTFOUND if absent. */
int store_account_remove(struct store *store, int64_t account_id);
/* Open an existing account's database (migrating its schema forward).
 * STORE_E_NOTFOUND if it does not exist. */
int store_account_open(struct store *store, int64_t account_id,
                       struct store_account **account_r);
void store_account_close(struct store_account **account);

struct store_mailbox_info {
	int64_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint64_t bytes;
};

/* Look a mailbox up by name ("INBOX" in any case is the inbox).
 * STORE_E_NOTFOUND if there is none. */
int store_mailbox_get(struct store_account *a, const char *name,
                      struct store_mailbox_info *info_r);

struct store_msg {
	uint32_t uid;
	uint64_t size;         /* bytes as stored, CRLF line ends */
	int64_t internal_date; /* seconds since the epoch */
	uint64_t modseq;
	uint32_t flags; /* STORE_F_* */
	char uidl[STORE_UIDL_MAX + 1];
};

/*
 * Store one message in a mailbox, durably.  data is converted to CRLF line
 * ends (a bare LF or a bare CR becomes CRLF).  internal_date 0 means now.
 * uidl NULL gives the message a fresh unique POP3 UIDL; otherwise it must be
 * 1..70 bytes of 0x21..0x7E (STORE_E_INVALID) and is kept as given.  On
 * success *uid_r (may be NULL) is the new UID.  Nothing is stored on any
 * failure.
 */
int store_append(struct store_account *a, int64_t mailbox_id, const void *data,
                 size_t len, int64_t internal_date, uint32_t flags,
                 const char *uidl, uint32_t *uid_r);

/* The mailbox's messages in ascending UID order, in a malloc'd array the
 * caller frees.  *n_r may be 0 (then *msgs_r is NULL). */
int store_list(struct store_account *a, int64_t mailbox_id,
               struct store_msg **msgs_r, size_t *n_r);

/* Copy up to len bytes of the stored message starting at offset into buf;
 * *got_r is how many (0 at or past the end).  STORE_E_EXPUNGED if the
 * message is gone. */
int store_read(struct store_account *a, int64_t mailbox_id, uint32_t uid,
               uint64_t offset, void *buf, size_t len, size_t *got_r);

/* Remove the messages with these UIDs, in one durable transaction; UIDs
 * that are already gone are skipped.  Bumps HIGHESTMODSEQ. */
int store_expunge(struct store_account *a, int64_t mailbox_id,
                  const uint32_t *uids, size_t n);

/* One POP3 session per account (RFC 1939 §8, RFC 3206 [IN-USE]): take the
 * lock, or STORE_E_INUSE if another session holds it.  Held in memory by
 * this process; released by store_pop_unlock. */
int store_pop_lock(struct store *store, int64_t account_id);
void store_pop_unlock(struct store *store, int64_t account_id);

/*
 * Change announcements (DESIGN.md): how a session with a mailbox selected
 * learns that it must send untagged EXISTS / EXPUNGE / FETCH (RFC 9051
 * §7.4.1, §7.5.1, §7.5.2).  Two halves:
 *
 * - Changes made through this struct store are announced at once by a
 *   callback, after their transaction has committed.
 * - Changes made by any other connection to an account's database (another
 *   process such as the admin tool or a second daemon, or another struct
 *   store in this one) are found by polling store_account_changed.
 *
 * Neither says exactly what changed: the session re-reads the mailbox
 * (store_mailbox_get, store_list) and compares with what it has told its
 * client.
 */

enum store_change_kind {
	STORE_CHANGE_APPEND,  /* a message was added (store_append) */
	STORE_CHANGE_EXPUNGE, /* messages were removed (store_expunge) */
	STORE_CHANGE_FLAGS,   /* flags changed (the coming flag store) */
};

/* One committed change.  uidnext and highestmodseq are the mailbox's
 * counters as that commit left them. */
struct store_change {
	int64_t account_id;
	int64_t mailbox_id;
	enum store_change_kind kind;
	uint32_t uidnext;
	uint64_t highestmodseq;
};

/*
 * Called once for each committed change made through the store.  It runs
 * on the thread that made the change (a worker job), after the commit and
 * before the changing function returns, so it must be thread-safe and
 * quick: record the change and wake the loop (uv_async_send), nothing
 * more; it must not call back into the store.  ch is valid only during the
 * call.  It is never called for a change that was rolled back or changed
 * nothing (a failed append, an expunge of UIDs already gone).
 */
typedef void store_change_cb(void *ctx, const struct store_change *ch);

/* Set the change callback and its context for every account opened from
 * store (NULL cb: none, the default).  May be called at any time, from any
 * thread; a change committing concurrently sees either the old or the new
 * callback with its own context. */
void store_set_change_cb(struct store *store, store_change_cb *cb, void *ctx);

/*
 * Whether another connection has committed to this account's database
 * since the previous call on this handle: another process (the admin tool,
 * a second daemon), another struct store_account or another struct store.
 * Changes made through this handle itself do not count (the callback
 * announces them).  Based on PRAGMA data_version.  The first call on a
 * handle sets the baseline and reports false.
 *
 * A session with a mailbox selected polls this (on its IDLE timer, at NOOP
 * and between commands) and, when *changed_r is true, re-reads the mailbox
 * with store_mailbox_get and store_list.  *changed_r may be true for a
 * change to another mailbox of the account.  Returns STORE_OK, or
 * STORE_E_TEMP (then *changed_r is false and the baseline is unchanged).
 */
int store_account_changed(struct store_account *a, bool *changed_r);

#endif
