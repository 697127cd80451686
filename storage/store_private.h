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
	STMT_COUNT
};

struct store_account {
	struct store *store;
	int64_t id;
	sqlite3 *db;
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
