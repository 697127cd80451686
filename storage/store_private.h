/*
 * Declarations shared by the files of storage/ and nothing else: the
 * layout of the service and account handles, the prepared-statement cache
 * and the helpers one file offers another.  SQL lives in the .c files.
 */
#ifndef PO_STORE_PRIVATE_H
#define PO_STORE_PRIVATE_H

#include "store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/types.h>

/* Idle account handles a struct store keeps open (see struct store). */
#define STORE_CACHE_MAX 16

/* How long a statement waits for another connection's write lock. */
#define STORE_BUSY_TIMEOUT_MS 5000

struct store {
	char *data_dir;
	/* Account ids with a POP3 session in this process (store_pop_lock). */
	pthread_mutex_t pop_lock;
	int64_t *pop_ids;
	size_t pop_n, pop_cap;
	/* The change callback (store_set_change_cb); the lock keeps the
	 * callback and its context a matching pair. */
	pthread_mutex_t change_lock;
	store_change_cb *change_cb;
	void *change_ctx;
	/* Closed account handles kept open for the next store_account_open
	 * of the same account, most recently closed last: a delivery or a
	 * login then costs no open, no schema check and, above all, no
	 * checkpoint-on-close (SQLite checkpoints and fsyncs the database
	 * when its last connection closes). */
	pthread_mutex_t cache_lock;
	struct store_account *cache[STORE_CACHE_MAX];
	size_t cache_n;
};

/* Every statement the account handle prepares once and keeps. */
enum store_stmt {
	STMT_BEGIN,
	STMT_BEGIN_READ,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_MAILBOX_BY_NAME,
	STMT_MAILBOX_COUNTS,
	STMT_MAILBOX_ROW,
	STMT_MAILBOX_BUMP,
	STMT_MSG_INSERT,
	STMT_BODY_INSERT,
	STMT_UIDL_EXISTS,
	STMT_MSG_LIST,
	STMT_MSG_FIND,
	STMT_MSG_DELETE,
	STMT_EXPUNGED_INSERT,
	STMT_MAILBOX_SET_MODSEQ,
	STMT_DATA_VERSION,
	STMT_META_INSERT,
	STMT_MSG_LIST_EXT,
	STMT_MSG_FLAGS,
	STMT_MSG_SET_FLAGS,
	STMT_MSG_META,
	STMT_MSG_PARTS,
	STMT_COUNT
};

struct store_account {
	struct store *store;
	int64_t id;
	sqlite3 *db;
	/* The file opened, to notice a cached handle whose file was replaced
	 * or removed by another process. */
	dev_t dev;
	ino_t ino;
	sqlite3_stmt *stmts[STMT_COUNT];
	/* The body being read by store_read, kept open between calls: SQLite
	 * walks a blob's overflow pages from the start at every open, so
	 * reopening per chunk would make reading a large message quadratic.
	 * While open it holds a read snapshot; it is released when the read
	 * reaches the end, and before any other operation on the handle. */
	sqlite3_blob *blob;
	int64_t blob_mailbox;
	uint32_t blob_uid;
	uint64_t blob_size;
	/* PRAGMA data_version at the last store_account_changed call. */
	bool data_version_set;
	int64_t data_version;
};

/* System flags a message may carry. */
#define STORE_F_ALL                                                            \
	(STORE_F_SEEN | STORE_F_ANSWERED | STORE_F_FLAGGED | STORE_F_DELETED | \
	 STORE_F_DRAFT)

/*
 * What the store keeps about a message's MIME structure (schema version
 * 2, store_meta.c), computed once from the message's stored bytes: the
 * IMAP ENVELOPE, BODY and BODYSTRUCTURE text, the serialized part table
 * store_section_find reads, the Date: header as seconds and the header's
 * length.
 */
struct store_meta {
	struct po_buf *envelope, *body, *bodystructure, *parts;
	int64_t sent_date;
	uint64_t hdr_len;
};

/* Compute m (whose buffers the caller initialised) from msg[0..len), the
 * message as stored (CRLF).  Never fails. */
void store__meta_build(const char *msg, size_t len, struct store_meta *m);
/* Insert m for message rowid with st, a prepared "INSERT INTO mime_meta
 * (message_id, envelope, body, bodystructure, parts) VALUES (?1, ?2, ?3,
 * ?4, ?5)".  Returns an SQLite result code. */
int store__meta_insert(sqlite3_stmt *st, int64_t rowid,
                       const struct store_meta *m);
/* RFC 5322 §3.3 date-time (with the §4.3 obsolete forms) as seconds since
 * the epoch with the zone applied; 0 if it cannot be parsed. */
int64_t store__parse_date(const char *s, size_t len);

/* The SQL of the v2 mime_meta insert (shared by append and migration). */
extern const char store__meta_insert_sql[];

/* Create a mailbox row inside the caller's write transaction with a fresh
 * UIDVALIDITY (store_schema.c).  Returns an SQLite result code; the new
 * id goes to *id_r (may be NULL). */
int store__mailbox_insert(sqlite3 *db, const char *name,
                          const char *special_use, int64_t *id_r);
/* A fresh UIDVALIDITY (store_schema.c), inside a write transaction.
 * Returns an SQLite result code. */
int store__next_uidvalidity(sqlite3 *db, uint32_t *uidvalidity_r);

/* Read a mailbox's counters inside the caller's transaction; a \Noselect
 * placeholder is STORE_E_NOTFOUND like a missing one.  Returns a
 * store_error. */
int store__mailbox_row(struct store_account *a, int64_t mailbox_id,
                       uint32_t *uidvalidity_r, int64_t *uidnext_r,
                       int64_t *modseq_r);
/* A fresh UIDL for (uidvalidity, uid) into out (STORE_UIDL_MAX + 1
 * bytes), inside the caller's transaction.  Returns a store_error. */
int store__make_uidl(struct store_account *a, uint32_t uidvalidity,
                     uint32_t uid, char *out);
/* The mailbox's row with its counts (schema v3, kept by triggers), inside
 * the caller's transaction.  STORE_E_NOTFOUND if there is no such
 * mailbox or it is \Noselect (store_counts.c). */
int store__mailbox_counts(struct store_account *a, int64_t mailbox_id,
                          struct store_mailbox_status *st_r);
/* Set a mailbox's UIDNEXT and HIGHESTMODSEQ.  Returns a store_error. */
int store__set_counters(struct store_account *a, int64_t mailbox_id,
                        int64_t uidnext, uint64_t modseq);
/* Run one statement of sql with up to 3 int64 bindings (?1..?3) on a's
 * database, to completion.  Returns an SQLite result code. */
int store__run(struct store_account *a, const char *sql, int64_t p1, int64_t p2,
               int64_t p3);

/* Close the body kept open by store_read, if any. */
void store__blob_release(struct store_account *a);

/* The prepared statement id of a, reset and with no bindings, or NULL if
 * it cannot be prepared. */
sqlite3_stmt *store__stmt(struct store_account *a, enum store_stmt id);

/* Announce a committed change of mailbox_id to the store's change
 * callback, if there is one (store_notify.c). */
void store__announce(struct store_account *a, int64_t mailbox_id,
                     enum store_change_kind kind, uint32_t uidnext,
                     uint64_t highestmodseq);

/* Map an SQLite result code to enum store_error. */
int store__error(int rc);

/* Write DATA_DIR/mail/<id % 256 as 2 hex>/<id>.db into out (outlen bytes);
 * with dir_only, just the directory.  Returns 0 or -1 if it does not
 * fit. */
int store__path(const struct store *store, int64_t account_id, bool dir_only,
                char *out, size_t outlen);

/* Set up a freshly opened connection: busy timeout, WAL, synchronous=FULL,
 * foreign keys; then migrate the schema to the newest version (creating
 * the default mailboxes on a new database).  Returns a store_error. */
int store__schema_setup(sqlite3 *db);

/* Run sql (no results).  Returns the SQLite result code. */
int store__exec(sqlite3 *db, const char *sql);

/* BEGIN IMMEDIATE (to write), BEGIN (a consistent read), COMMIT and
 * ROLLBACK through the statement cache.  begin and commit return a
 * store_error; rollback cannot fail usefully. */
int store__begin(struct store_account *a);
int store__begin_read(struct store_account *a);
int store__commit(struct store_account *a);
void store__rollback(struct store_account *a);

#endif
