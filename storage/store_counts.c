/*
 * What a large mailbox is asked most without reading every message: its
 * counts (kept in its mailboxes row by the triggers of schema version 3,
 * store_schema.c), its UIDs alone (SELECT's sequence-number map, from the
 * (mailbox_id, uid) index without touching a message row) and its first
 * unseen message (from the partial index of unseen messages).
 *
 * The statements here are prepared per call: the statement cache lives in
 * store_account.c, and a prepare costs microseconds next to what these
 * replace (a count over every message of the mailbox).
 */
#include "store_private.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The schema's triggers and partial index spell the flags as numbers. */
_Static_assert(STORE_F_SEEN == 1 && STORE_F_DELETED == 8,
               "store_schema.c v3 counts \\Seen as 1 and \\Deleted as 8");

int store__mailbox_counts(struct store_account *a, int64_t mailbox_id,
                          struct store_mailbox_status *st_r)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	        a->db,
	        "SELECT uidvalidity, uidnext, highestmodseq, n_messages,"
	        " n_unseen, n_deleted, n_bytes, n_deleted_bytes"
	        " FROM mailboxes WHERE id = ?1 AND NOT noselect",
	        -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(st_r, 0, sizeof *st_r);
		st_r->uidvalidity = (uint32_t)sqlite3_column_int64(st, 0);
		st_r->uidnext = (uint32_t)sqlite3_column_int64(st, 1);
		st_r->highestmodseq = (uint64_t)sqlite3_column_int64(st, 2);
		st_r->messages = (uint32_t)sqlite3_column_int64(st, 3);
		st_r->unseen = (uint32_t)sqlite3_column_int64(st, 4);
		st_r->deleted = (uint32_t)sqlite3_column_int64(st, 5);
		st_r->size = (uint64_t)sqlite3_column_int64(st, 6);
		st_r->deleted_size = (uint64_t)sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_E_NOTFOUND : store__error(rc);
}

/* The part of store_uids inside its read transaction. */
static int uids_locked(struct store_account *a, int64_t mailbox_id,
                       uint32_t **uids_r, size_t *n_r)
{
	struct store_mailbox_status c;
	sqlite3_stmt *st = NULL;
	uint32_t *uids = NULL, *grown;
	size_t n = 0, cap;
	int rc, ret;

	ret = store__mailbox_counts(a, mailbox_id, &c);
	if (ret != STORE_OK)
		return ret;
	if (c.messages == 0)
		return STORE_OK;
	/* Served by the UNIQUE (mailbox_id, uid) index alone (a covering
	 * scan, in UID order): no message row is read. */
	rc = sqlite3_prepare_v2(a->db,
	                        "SELECT uid FROM messages WHERE mailbox_id = ?1"
	                        " ORDER BY uid",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_int64(st, 1, mailbox_id);
	/* The count is exact in this snapshot; growing stays as a guard. */
	cap = c.messages;
	uids = malloc(cap * sizeof *uids);
	if (uids == NULL) {
		sqlite3_finalize(st);
		return STORE_E_TEMP;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap *= 2;
			grown = realloc(uids, cap * sizeof *uids);
			if (grown == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			uids = grown;
		}
		uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || n == 0) {
		free(uids);
		return rc == SQLITE_DONE ? STORE_OK : store__error(rc);
	}
	*uids_r = uids;
	*n_r = n;
	return STORE_OK;
}

int store_uids(struct store_account *a, int64_t mailbox_id, uint32_t **uids_r,
               size_t *n_r)
{
	int ret;

	*uids_r = NULL;
	*n_r = 0;
	store__blob_release(a);
	ret = store__begin_read(a);
	if (ret != STORE_OK)
		return ret;
	ret = uids_locked(a, mailbox_id, uids_r, n_r);
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK) {
		store__rollback(a);
		free(*uids_r);
		*uids_r = NULL;
		*n_r = 0;
	}
	return ret;
}

int store_first_unseen(struct store_account *a, int64_t mailbox_id,
                       uint32_t *uid_r)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*uid_r = 0;
	store__blob_release(a);
	/* The WHERE term is the partial index's own (store_schema.c v3), so
	 * the planner may use it: one probe, however many seen messages
	 * come first. */
	rc = sqlite3_prepare_v2(a->db,
	                        "SELECT uid FROM messages WHERE mailbox_id = ?1"
	                        " AND (flags & 1) = 0 ORDER BY uid LIMIT 1",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*uid_r = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
	                                             : store__error(rc);
}
