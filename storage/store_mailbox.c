/*
 * Mailboxes of an account: looking one up by name with its counters.
 * Mailbox names are compared exactly, except that "INBOX" in any case is
 * the inbox (RFC 9051 §5.1).  Creating, renaming and deleting mailboxes
 * (IMAP CREATE/RENAME/DELETE) will come here too; a new account's default
 * mailboxes are made by the schema (store_schema.c).
 */
#include "store_private.h"

#include <strings.h>

int store_mailbox_get(struct store_account *a, const char *name,
                      struct store_mailbox_info *info_r)
{
	sqlite3_stmt *st;
	int rc, ret;

	if (name == NULL || name[0] == '\0')
		return STORE_E_NOTFOUND;
	if (strcasecmp(name, "INBOX") == 0)
		name = "INBOX";
	/* One read transaction so the counts match UIDNEXT and MODSEQ. */
	ret = store__begin_read(a);
	if (ret != STORE_OK)
		return ret;
	st = store__stmt(a, STMT_MAILBOX_BY_NAME);
	if (st == NULL) {
		ret = STORE_E_TEMP;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = rc == SQLITE_DONE ? STORE_E_NOTFOUND : store__error(rc);
		goto out;
	}
	info_r->id = sqlite3_column_int64(st, 0);
	info_r->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
	info_r->uidnext = (uint32_t)sqlite3_column_int64(st, 2);
	info_r->highestmodseq = (uint64_t)sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	st = store__stmt(a, STMT_MAILBOX_COUNTS);
	if (st == NULL) {
		ret = STORE_E_TEMP;
		goto out;
	}
	sqlite3_bind_int64(st, 1, info_r->id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = store__error(rc == SQLITE_DONE ? SQLITE_ERROR : rc);
		goto out;
	}
	info_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
	info_r->bytes = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	ret = store__commit(a);
out:
	if (ret != STORE_OK)
		store__rollback(a);
	return ret;
}
