/*
 * Change announcements, the storage half of DESIGN.md's "changes are
 * announced": the change callback that store_append and store_expunge call
 * after each commit, and store_account_changed, which notices commits made
 * by other connections to an account's database.  Waking the loop and
 * queueing untagged EXISTS / EXPUNGE / FETCH (RFC 9051 §7.4.1, §7.5) is
 * left to the core and the IMAP module.
 *
 * Other processes are noticed through SQLite's PRAGMA data_version, a
 * per-connection counter that changes when any other connection commits
 * to the database file and never for this connection's own commits.
 */
#include "store_private.h"

void store_set_change_cb(struct store *store, store_change_cb *cb, void *ctx)
{
	pthread_mutex_lock(&store->change_lock);
	store->change_cb = cb;
	store->change_ctx = ctx;
	pthread_mutex_unlock(&store->change_lock);
}

void store__announce(struct store_account *a, int64_t mailbox_id,
                     enum store_change_kind kind, uint32_t uidnext,
                     uint64_t highestmodseq)
{
	struct store_change ch = {
	        .account_id = a->id,
	        .mailbox_id = mailbox_id,
	        .kind = kind,
	        .uidnext = uidnext,
	        .highestmodseq = highestmodseq,
	};
	store_change_cb *cb;
	void *ctx;

	/* Call outside the lock: a slow callback must not hold up other
	 * threads' announcements behind a mutex. */
	pthread_mutex_lock(&a->store->change_lock);
	cb = a->store->change_cb;
	ctx = a->store->change_ctx;
	pthread_mutex_unlock(&a->store->change_lock);
	if (cb != NULL)
		cb(ctx, &ch);
}

int store_account_changed(struct store_account *a, bool *changed_r)
{
	sqlite3_stmt *st;
	int64_t version;
	int rc;

	*changed_r = false;
	/* An open body holds a read snapshot, and data_version is only
	 * brought up to date when a read transaction starts. */
	store__blob_release(a);
	st = store__stmt(a, STMT_DATA_VERSION);
	if (st == NULL)
		return STORE_E_TEMP;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return STORE_E_TEMP;
	}
	version = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (a->data_version_set && version != a->data_version)
		*changed_r = true;
	a->data_version = version;
	a->data_version_set = true;
	return STORE_OK;
}
