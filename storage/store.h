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

struct po_buf;

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
 * STORE_E_NOTFOUND if there is none, and for a \Noselect placeholder
 * (store_mailbox_delete), which cannot be selected or appended to. */
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

/* ===================================================================
 * IMAP's view of the store (issue 3).  Everything below is the mailbox
 * hierarchy, flags and keywords, copies and moves, the MIME metadata
 * parsed once at append, and the change log a selected session reads.
 * =================================================================== */

/* Mailbox names are UTF-8 (IMAP's modified UTF-7 is decoded by the IMAP
 * module), '/'-separated, at most STORE_MAILBOX_NAME_MAX bytes, with no
 * empty level (no leading, trailing or doubled '/'), no control bytes and
 * no level "." or "..".  "INBOX" in any case is the inbox and is stored as
 * "INBOX"; "inbox/x" is a child of it and is stored as "INBOX/x".  The
 * store refuses other names with STORE_E_INVALID (the IMAP module checks
 * first, so the client gets a clear reason). */
#define STORE_MAILBOX_NAME_MAX 1000
#define STORE_MAILBOX_DEPTH_MAX 32
/* Mailboxes per account (STORE_E_LIMIT past it). */
#define STORE_MAILBOXES_MAX 10000
/* Keywords (IMAP custom flags) per account: bit i of a keyword mask is the
 * keyword with id i (store_keyword_names).  A new keyword past the limit
 * is STORE_E_LIMIT. */
#define STORE_KEYWORDS_MAX 64
/* Longest keyword (IMAP atom) we keep. */
#define STORE_KEYWORD_LEN_MAX 100

/* Is name a valid mailbox name by the rules above?  Pure; no store. */
bool store_mailbox_name_valid(const char *name);

/* One mailbox of store_mailbox_list. */
struct store_mailbox {
	int64_t id;
	char *name;        /* UTF-8, "INBOX" spelled so */
	char *special_use; /* "\\Sent" ..., or NULL (RFC 6154) */
	bool subscribed;
	/* A \Noselect placeholder: a mailbox deleted while it had children
	 * (RFC 9051 §6.3.4); it holds no messages and cannot be selected. */
	bool noselect;
};

/* Every mailbox of the account sorted by name (bytewise), INBOX first, in
 * a malloc'd array freed with store_mailbox_list_free. */
int store_mailbox_list(struct store_account *a, struct store_mailbox **list_r,
                       size_t *n_r);
void store_mailbox_list_free(struct store_mailbox *list, size_t n);

/*
 * Create name.  Missing superior levels are created too (RFC 9051 §6.3.3:
 * "a/b/c" creates "a" and "a/b"); an existing \Noselect placeholder of
 * that name becomes a real mailbox again.  special_use may be NULL.  New
 * mailboxes are subscribed.  STORE_E_EXISTS if it exists (and is not a
 * placeholder), STORE_E_INVALID for a bad name, STORE_E_LIMIT past
 * STORE_MAILBOXES_MAX.  *id_r (may be NULL) is the new id.
 */
int store_mailbox_create(struct store_account *a, const char *name,
                         const char *special_use, int64_t *id_r);

/*
 * Delete name and its messages (RFC 9051 §6.3.4).  A mailbox with children
 * is not removed but emptied and marked \Noselect; a \Noselect mailbox with
 * children is STORE_E_EXISTS ("has children"); deleting a \Noselect
 * mailbox without children removes it.  INBOX is STORE_E_INVALID;
 * STORE_E_NOTFOUND if there is none.  Announces STORE_CHANGE_EXPUNGE for
 * it (so a session that has it selected learns it is gone).
 */
int store_mailbox_delete(struct store_account *a, const char *name);

/*
 * Rename from to to, with every child ("from/x" becomes "to/x"), keeping
 * ids, UIDVALIDITY and messages (RFC 9051 §6.3.6).  Superior levels of to
 * are created as for create.  Renaming INBOX moves all its messages to a
 * new mailbox to (with new UIDs) and leaves INBOX empty; INBOX's children
 * are not moved.  STORE_E_NOTFOUND, STORE_E_EXISTS (to exists),
 * STORE_E_INVALID (bad name, to INBOX, or to inside from).
 */
int store_mailbox_rename(struct store_account *a, const char *from,
                         const char *to);

/* Subscribe or unsubscribe name (RFC 9051 §6.3.7); a name that does not
 * exist may be subscribed (it is kept in the list of subscriptions). */
int store_subscribe(struct store_account *a, const char *name, bool on);
/* The subscribed names, existing or not, sorted, in a malloc'd array of
 * malloc'd strings freed with store_strv_free. */
int store_subscriptions(struct store_account *a, char ***names_r, size_t *n_r);
void store_strv_free(char **v, size_t n);

/* STATUS counts (RFC 9051 §6.3.11, RFC 8438 SIZE). */
struct store_mailbox_status {
	uint32_t messages, unseen, deleted;
	uint64_t size;         /* bytes of all messages */
	uint64_t deleted_size; /* bytes of the \Deleted ones */
	uint32_t uidnext, uidvalidity;
	uint64_t highestmodseq;
};
int store_mailbox_status(struct store_account *a, int64_t mailbox_id,
                         struct store_mailbox_status *st_r);

/* The keyword names by id: a malloc'd array of STORE_KEYWORDS_MAX entries,
 * entry i the name of bit i or NULL when unused; free with store_strv_free
 * (n = STORE_KEYWORDS_MAX). */
int store_keyword_names(struct store_account *a, char ***names_r);
/*
 * The mask of these keyword names (compared case-insensitively, RFC 9051
 * §2.3.2).  With create, unknown names get ids (in their own committed
 * transaction); otherwise unknown names are left out of the mask.
 * STORE_E_LIMIT when creating would pass STORE_KEYWORDS_MAX,
 * STORE_E_INVALID for a name that is not an IMAP atom or starts with "\".
 */
int store_keyword_mask(struct store_account *a, const char *const *names,
                       size_t n, bool create, uint64_t *mask_r);

/*
 * One message's listing in a mailbox, with what SEARCH can answer without
 * reading the body.  (struct store_msg above carries uid, size,
 * internal_date, modseq, flags and uidl.)
 */
struct store_msg_ext {
	struct store_msg m;
	uint64_t keywords; /* keyword mask */
	int64_t sent_date; /* the Date: header as seconds since the epoch
	                      with its zone applied, or 0 if none/invalid */
	uint64_t hdr_len;  /* bytes of the message header, blank line
	                      included (BODY[HEADER]) */
};

/* The messages whose UID is in [uid_lo, uid_hi], ascending UID, in a
 * malloc'd array (NULL when *n_r is 0). */
int store_list_ext(struct store_account *a, int64_t mailbox_id, uint32_t uid_lo,
                   uint32_t uid_hi, struct store_msg_ext **msgs_r, size_t *n_r);

/*
 * What changed in a mailbox since modseq (a session's last known
 * HIGHESTMODSEQ): *expunged_r the UIDs expunged after it (ascending, from
 * the expunged table), *changed_r the messages whose MODSEQ is greater
 * (ascending UID; new messages and flag changes alike), and *info_r the
 * mailbox's counters now.  All read in one snapshot.  Either array may be
 * NULL with count 0.  STORE_E_NOTFOUND if the mailbox was deleted.
 */
int store_changes_since(struct store_account *a, int64_t mailbox_id,
                        uint64_t modseq, uint32_t **expunged_r,
                        size_t *n_expunged_r, struct store_msg_ext **changed_r,
                        size_t *n_changed_r, struct store_mailbox_info *info_r);

/* Options of store_append_ex (zero: now, no flags, fresh UIDL). */
struct store_append_opts {
	int64_t internal_date; /* 0: now */
	uint32_t flags;        /* STORE_F_* */
	uint64_t keywords;     /* keyword mask (ids already made) */
	const char *uidl;      /* NULL: a fresh one */
};

/* store_append with keywords; also returns the mailbox's UIDVALIDITY for
 * APPENDUID (RFC 4315).  Parses the message's MIME structure (ENVELOPE,
 * BODYSTRUCTURE, section offsets, Date) and stores it in the same
 * transaction.  uidvalidity_r may be NULL. */
int store_append_ex(struct store_account *a, int64_t mailbox_id,
                    const void *data, size_t len,
                    const struct store_append_opts *opts, uint32_t *uid_r,
                    uint32_t *uidvalidity_r);

enum store_flag_op {
	STORE_FLAGS_SET,    /* FLAGS */
	STORE_FLAGS_ADD,    /* +FLAGS */
	STORE_FLAGS_REMOVE, /* -FLAGS */
};

/* One message's flags after store_set_flags. */
struct store_flag_result {
	uint32_t uid;
	uint32_t flags;
	uint64_t keywords;
	uint64_t modseq;
	bool changed; /* this call changed it (and gave it a new MODSEQ) */
};

/*
 * Change the flags of the messages with these UIDs (ascending) in one
 * durable transaction.  Each message that changes gets a new MODSEQ (one
 * per call, shared, RFC 7162 §3.1) and the mailbox's HIGHESTMODSEQ is
 * bumped.  unchangedsince > 0 skips messages whose MODSEQ is greater
 * (reported with changed false; RFC 7162 §3.1.3).  *res_r lists every UID
 * still present, in order; missing UIDs are skipped.  Announces
 * STORE_CHANGE_FLAGS when anything changed.
 */
int store_set_flags(struct store_account *a, int64_t mailbox_id,
                    const uint32_t *uids, size_t n, enum store_flag_op op,
                    uint32_t flags, uint64_t keywords, uint64_t unchangedsince,
                    struct store_flag_result **res_r, size_t *n_res_r);

/*
 * Copy (move false) or move the messages with these UIDs (ascending) from
 * src to dst in one durable transaction (RFC 9051 §6.4.7, RFC 6851).
 * Copies keep flags, keywords, internal date and MIME metadata, get new
 * UIDs in dst (in the order of uids) and fresh UIDLs; a move keeps the
 * message's UIDL and records the source UIDs as expunged.  Missing UIDs
 * are skipped.  *src_uids_r and *dst_uids_r (malloc'd, *n_r entries, may
 * be NULL when 0) pair old and new UIDs for COPYUID (RFC 4315), and
 * *dst_uidvalidity_r is dst's UIDVALIDITY.  Announces APPEND on dst and,
 * for a move, EXPUNGE on src.  src == dst is allowed for copy.
 */
int store_copy(struct store_account *a, int64_t src, const uint32_t *uids,
               size_t n, int64_t dst, bool move, uint32_t *dst_uidvalidity_r,
               uint32_t **src_uids_r, uint32_t **dst_uids_r, size_t *n_r);

/* Which precomputed IMAP text store_msg_meta returns. */
enum store_meta_kind {
	STORE_META_ENVELOPE,      /* "(date subject from ...)" */
	STORE_META_BODY,          /* BODY, non-extensible form */
	STORE_META_BODYSTRUCTURE, /* BODYSTRUCTURE, extensible form */
};

/* Append the message's precomputed ENVELOPE / BODY / BODYSTRUCTURE text,
 * exactly as IMAP sends it (strings quoted or as literals), to out.
 * STORE_E_EXPUNGED if the message is gone. */
int store_msg_meta(struct store_account *a, int64_t mailbox_id, uint32_t uid,
                   enum store_meta_kind kind, struct po_buf *out);

/*
 * Where a body part of a message lies (RFC 9051 §6.4.5 section numbers).
 * path[0..depth) are the part numbers ("1.2.3" is {1,2,3}); depth 0 is the
 * message itself.  Numbering: the message, and every message/rfc822 part's
 * encapsulated message, number the parts of their body: the children of a
 * multipart body, or 1 for a non-multipart body (which is then the
 * message's own body: "1" of a text/plain message is its text).  The
 * children of a nested multipart part are numbered in turn.  A leaf that
 * is not a message has no sub-parts (STORE_E_NOTFOUND, as for a number
 * past the last part).
 *
 * Offsets are into the stored message (store_read):
 *   mime_*: the part's own MIME header (for depth 0: the message header),
 *           blank line included (BODY[n.MIME]);
 *   body_*: the part's body (BODY[n]; depth 0: the text);
 *   is_message: the part is message/rfc822 (or message/global) with an
 *           encapsulated message; then msg_hdr_* / msg_text_* are its header
 *           and text (BODY[n.HEADER], BODY[n.TEXT]).  Depth 0 always has
 *           is_message, with msg_hdr = mime and msg_text = body.
 *   is_multipart, encoding (lower-case Content-Transfer-Encoding of the
 *           part, "7bit" by default; for BINARY[]), type/subtype
 *           lower-case.
 */
struct store_section {
	uint64_t mime_off, mime_len;
	uint64_t body_off, body_len;
	bool is_message;
	uint64_t msg_hdr_off, msg_hdr_len;
	uint64_t msg_text_off, msg_text_len;
	bool is_multipart;
	char encoding[32];
	char type[64], subtype[64];
};
int store_section_find(struct store_account *a, int64_t mailbox_id,
                       uint32_t uid, const uint32_t *path, size_t depth,
                       struct store_section *sec_r);

/* ===================================================================
 * Large mailboxes (benchmark issue 4): what SELECT needs without loading
 * every message.  The counts of store_mailbox_get, store_mailbox_status
 * and store_changes_since are kept in the mailbox's row (schema v3), so
 * they cost O(1).
 * =================================================================== */

/* The mailbox's UIDs, ascending, in a malloc'd array (NULL when *n_r is
 * 0), read from the (mailbox_id, uid) index alone in one snapshot.
 * STORE_E_NOTFOUND if the mailbox is gone or \Noselect. */
int store_uids(struct store_account *a, int64_t mailbox_id, uint32_t **uids_r,
               size_t *n_r);

/* The lowest UID of a message without \Seen, or 0 when every message is
 * seen (for IMAP4rev1's [UNSEEN n], RFC 3501 §6.3.1).  One index probe. */
int store_first_unseen(struct store_account *a, int64_t mailbox_id,
                       uint32_t *uid_r);

#endif
