/*
 * The schema of an account's mail database and its migrations.  Each
 * account file carries its version in PRAGMA user_version; opening a file
 * runs every step from that version to the newest in one IMMEDIATE
 * transaction (so two processes opening the same new file at once migrate
 * it once), and refuses a file from a newer postoffice.  Steps are only
 * ever appended.
 *
 * Version 1 holds what IMAP needs from the start (RFC 9051 §2.3.1.1 UIDs
 * and UIDVALIDITY, RFC 7162 MODSEQs and the expunged UIDs QRESYNC reports
 * as VANISHED, RFC 6154 special-use) and POP3's UIDLs (RFC 1939 §7).
 * Bodies live in their own table, keyed by the message's rowid, so listing
 * a mailbox never reads a body page.
 */
#include "store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

/* Version 1's tables.  messages.id and mailboxes.id are AUTOINCREMENT so
 * a rowid is never reused: a reader that found a message's rowid and then
 * opens its body blob either gets that message or an error, never another
 * message that took the rowid meanwhile. */
static const char schema_v1[] =
        "CREATE TABLE meta ("
        " key TEXT PRIMARY KEY,"
        " value INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', 0);"
        "CREATE TABLE mailboxes ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " name TEXT NOT NULL UNIQUE,"
        " uidvalidity INTEGER NOT NULL,"
        " uidnext INTEGER NOT NULL DEFAULT 1,"
        " highestmodseq INTEGER NOT NULL DEFAULT 1,"
        " special_use TEXT,"
        " subscribed INTEGER NOT NULL DEFAULT 1,"
        " created INTEGER NOT NULL);"
        "CREATE TABLE messages ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " mailbox_id INTEGER NOT NULL"
        "  REFERENCES mailboxes (id) ON DELETE CASCADE,"
        " uid INTEGER NOT NULL,"
        " modseq INTEGER NOT NULL,"
        " size INTEGER NOT NULL,"
        " internal_date INTEGER NOT NULL,"
        " flags INTEGER NOT NULL DEFAULT 0,"
        " uidl TEXT NOT NULL UNIQUE,"
        " UNIQUE (mailbox_id, uid));"
        "CREATE TABLE bodies ("
        " message_id INTEGER PRIMARY KEY"
        "  REFERENCES messages (id) ON DELETE CASCADE,"
        " data BLOB NOT NULL);"
        "CREATE TABLE keywords ("
        " id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE message_keywords ("
        " message_id INTEGER NOT NULL"
        "  REFERENCES messages (id) ON DELETE CASCADE,"
        " keyword_id INTEGER NOT NULL REFERENCES keywords (id),"
        " PRIMARY KEY (message_id, keyword_id)) WITHOUT ROWID;"
        "CREATE TABLE expunged ("
        " mailbox_id INTEGER NOT NULL"
        "  REFERENCES mailboxes (id) ON DELETE CASCADE,"
        " uid INTEGER NOT NULL,"
        " modseq INTEGER NOT NULL,"
        " PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;";

/* The mailboxes every new account has: INBOX, and the RFC 6154 §2
 * special-use ones. */
static const struct {
	const char *name, *special_use;
} default_mailboxes[] = {
        {"INBOX", NULL},      {"Drafts", "\\Drafts"}, {"Sent", "\\Sent"},
        {"Trash", "\\Trash"}, {"Junk", "\\Junk"},     {"Archive", "\\Archive"},
};

int store__exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/*
 * A fresh UIDVALIDITY for a mailbox being created: the current time, or
 * one more than the last one this account handed out if that is later.
 * So UIDVALIDITY strictly increases within an account, and a mailbox that
 * is deleted and created again never gets its old value back (RFC 9051
 * §2.3.1.1).  That also makes (UIDVALIDITY, UID) unique for the account's
 * life, which the generated UIDLs rely on.
 */
int store__next_uidvalidity(sqlite3 *db, uint32_t *uidvalidity_r)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	int rc;

	rc = sqlite3_prepare_v2(db,
	                        "UPDATE meta SET value = max(value + 1, ?1)"
	                        " WHERE key = 'last_uidvalidity'"
	                        " RETURNING value",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (v < 1 || v > (int64_t)UINT32_MAX)
		return rc == SQLITE_ROW ? SQLITE_RANGE : rc;
	*uidvalidity_r = (uint32_t)v;
	return SQLITE_OK;
}

int store__mailbox_insert(sqlite3 *db, const char *name,
                          const char *special_use, int64_t *id_r)
{
	sqlite3_stmt *st = NULL;
	uint32_t uidvalidity = 0;
	int rc = store__next_uidvalidity(db, &uidvalidity);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		        db,
		        "INSERT INTO mailboxes (name, uidvalidity,"
		        " special_use, created) VALUES (?1, ?2, ?3, ?4)",
		        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uidvalidity);
	if (special_use != NULL)
		sqlite3_bind_text(st, 3, special_use, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE && id_r != NULL)
		*id_r = sqlite3_last_insert_rowid(db);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Create one mailbox inside the caller's transaction.  Returns an SQLite
 * result code. */
static int create_mailbox(sqlite3 *db, const char *name,
                          const char *special_use)
{
	return store__mailbox_insert(db, name, special_use, NULL);
}

static int migrate_to_1(sqlite3 *db)
{
	int rc = store__exec(db, schema_v1);
	size_t n = sizeof default_mailboxes / sizeof default_mailboxes[0];

	for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
		rc = create_mailbox(db, default_mailboxes[i].name,
		                    default_mailboxes[i].special_use);
	return rc;
}

/*
 * Version 2: what IMAP reads without opening a body.  messages gains the
 * keyword mask (bit i is keywords.id i, ids 0..63; the v1 table
 * message_keywords stays unused), the Date: header as seconds (SEARCH
 * SENTBEFORE ...) and the header length (BODY[HEADER]).  mime_meta keeps
 * the ENVELOPE / BODY / BODYSTRUCTURE text and the part table of each
 * message (store_meta.c).  Subscriptions are names, which need not exist
 * as mailboxes (RFC 9051 §6.3.7), so they get their own table (the v1
 * column mailboxes.subscribed is copied once and then unused).  noselect
 * marks a mailbox deleted while it had children (RFC 9051 §6.3.4).  The
 * (mailbox_id, modseq) index serves store_changes_since.
 */
static const char schema_v2[] =
        "ALTER TABLE messages ADD COLUMN keywords INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE messages ADD COLUMN sent_date INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE messages ADD COLUMN hdr_len INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE mailboxes ADD COLUMN noselect INTEGER NOT NULL"
        " DEFAULT 0;"
        "CREATE TABLE mime_meta ("
        " message_id INTEGER PRIMARY KEY"
        "  REFERENCES messages (id) ON DELETE CASCADE,"
        " envelope BLOB NOT NULL,"
        " body BLOB NOT NULL,"
        " bodystructure BLOB NOT NULL,"
        " parts BLOB NOT NULL);"
        "CREATE TABLE subscriptions ("
        " name TEXT PRIMARY KEY) WITHOUT ROWID;"
        "INSERT INTO subscriptions (name)"
        " SELECT name FROM mailboxes WHERE subscribed;"
        "DELETE FROM message_keywords;"
        "DELETE FROM keywords;"
        "CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);";

/* Compute and store the metadata of message rowid from its body. */
static int meta_one(sqlite3 *db, sqlite3_stmt *get, sqlite3_stmt *ins,
                    sqlite3_stmt *upd, int64_t rowid)
{
	struct po_buf env = PO_BUF_INIT, body = PO_BUF_INIT, bs = PO_BUF_INIT,
	              parts = PO_BUF_INIT;
	struct store_meta m = {&env, &body, &bs, &parts, 0, 0};
	int rc;

	(void)db;
	sqlite3_reset(get);
	sqlite3_bind_int64(get, 1, rowid);
	rc = sqlite3_step(get);
	if (rc == SQLITE_DONE)
		return SQLITE_OK; /* a message without a body: leave it */
	if (rc != SQLITE_ROW)
		return rc;
	store__meta_build(sqlite3_column_blob(get, 0),
	                  (size_t)sqlite3_column_bytes(get, 0), &m);
	sqlite3_reset(get);
	rc = store__meta_insert(ins, rowid, &m);
	if (rc == SQLITE_OK) {
		sqlite3_reset(upd);
		sqlite3_bind_int64(upd, 1, rowid);
		sqlite3_bind_int64(upd, 2, m.sent_date);
		sqlite3_bind_int64(upd, 3, (int64_t)m.hdr_len);
		rc = sqlite3_step(upd);
		sqlite3_reset(upd);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	po_buf_deinit(&env);
	po_buf_deinit(&body);
	po_buf_deinit(&bs);
	po_buf_deinit(&parts);
	return rc;
}

static int migrate_to_2(sqlite3 *db)
{
	sqlite3_stmt *ids = NULL, *get = NULL, *ins = NULL, *upd = NULL;
	int64_t *rowids = NULL;
	size_t n = 0, cap = 0;
	int rc = store__exec(db, schema_v2);

	/* The rowids first: rows are updated while we go, and a SELECT
	 * stepping over a table being changed is not well defined. */
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT id FROM messages", -1, &ids,
		                        NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(ids)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			rowids = xrealloc(rowids, cap * sizeof *rowids);
		}
		rowids[n++] = sqlite3_column_int64(ids, 0);
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(ids);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		        db, "SELECT data FROM bodies WHERE message_id = ?1", -1,
		        &get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, store__meta_insert_sql, -1, &ins,
		                        NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
		                        "UPDATE messages SET sent_date = ?2,"
		                        " hdr_len = ?3 WHERE id = ?1",
		                        -1, &upd, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
		rc = meta_one(db, get, ins, upd, rowids[i]);
	sqlite3_finalize(get);
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	free(rowids);
	return rc;
}

/*
 * Version 3: a mailbox's counts kept in its row, so STATUS, SELECT and
 * every command's sync read them in O(1) instead of counting (and summing
 * the sizes of) every message: a 1,000,000-message mailbox took a third
 * of a second to count.  Triggers keep them, so every change of messages
 * (append, expunge, flag change, copy, move, the INBOX rename, a mailbox
 * emptied or deleted, and whatever another process such as the admin
 * tool does) updates them in its own statement, inside its own write
 * transaction: they cannot drift from the rows, and SQLite serialises
 * writers, so they stay exact under concurrency.  1 is STORE_F_SEEN and 8
 * STORE_F_DELETED (checked in store_counts.c).
 *
 * The partial index holds only the unseen messages: the first unseen one
 * (IMAP4rev1 SELECT's [UNSEEN n], RFC 3501 §6.3.1) is then one index
 * probe, not a walk over every seen message before it.
 */
static const char schema_v3[] =
        "ALTER TABLE mailboxes ADD COLUMN n_messages INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE mailboxes ADD COLUMN n_unseen INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE mailboxes ADD COLUMN n_deleted INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE mailboxes ADD COLUMN n_bytes INTEGER NOT NULL"
        " DEFAULT 0;"
        "ALTER TABLE mailboxes ADD COLUMN n_deleted_bytes INTEGER NOT NULL"
        " DEFAULT 0;"
        "UPDATE mailboxes SET (n_messages, n_unseen, n_deleted, n_bytes,"
        " n_deleted_bytes) = (SELECT count(*),"
        "  coalesce(sum((flags & 1) = 0), 0),"
        "  coalesce(sum((flags & 8) <> 0), 0),"
        "  coalesce(sum(size), 0),"
        "  coalesce(sum(CASE WHEN (flags & 8) <> 0 THEN size ELSE 0 END),"
        "   0)"
        " FROM messages WHERE mailbox_id = mailboxes.id);"
        "CREATE TRIGGER messages_count_insert AFTER INSERT ON messages"
        " BEGIN"
        "  UPDATE mailboxes SET n_messages = n_messages + 1,"
        "   n_unseen = n_unseen + ((NEW.flags & 1) = 0),"
        "   n_deleted = n_deleted + ((NEW.flags & 8) <> 0),"
        "   n_bytes = n_bytes + NEW.size,"
        "   n_deleted_bytes = n_deleted_bytes"
        "    + (CASE WHEN (NEW.flags & 8) <> 0 THEN NEW.size ELSE 0 END)"
        "   WHERE id = NEW.mailbox_id;"
        " END;"
        "CREATE TRIGGER messages_count_delete AFTER DELETE ON messages"
        " BEGIN"
        "  UPDATE mailboxes SET n_messages = n_messages - 1,"
        "   n_unseen = n_unseen - ((OLD.flags & 1) = 0),"
        "   n_deleted = n_deleted - ((OLD.flags & 8) <> 0),"
        "   n_bytes = n_bytes - OLD.size,"
        "   n_deleted_bytes = n_deleted_bytes"
        "    - (CASE WHEN (OLD.flags & 8) <> 0 THEN OLD.size ELSE 0 END)"
        "   WHERE id = OLD.mailbox_id;"
        " END;"
        "CREATE TRIGGER messages_count_update"
        " AFTER UPDATE OF mailbox_id, flags, size ON messages"
        " WHEN OLD.mailbox_id <> NEW.mailbox_id"
        "  OR (OLD.flags & 9) <> (NEW.flags & 9) OR OLD.size <> NEW.size"
        " BEGIN"
        "  UPDATE mailboxes SET n_messages = n_messages - 1,"
        "   n_unseen = n_unseen - ((OLD.flags & 1) = 0),"
        "   n_deleted = n_deleted - ((OLD.flags & 8) <> 0),"
        "   n_bytes = n_bytes - OLD.size,"
        "   n_deleted_bytes = n_deleted_bytes"
        "    - (CASE WHEN (OLD.flags & 8) <> 0 THEN OLD.size ELSE 0 END)"
        "   WHERE id = OLD.mailbox_id;"
        "  UPDATE mailboxes SET n_messages = n_messages + 1,"
        "   n_unseen = n_unseen + ((NEW.flags & 1) = 0),"
        "   n_deleted = n_deleted + ((NEW.flags & 8) <> 0),"
        "   n_bytes = n_bytes + NEW.size,"
        "   n_deleted_bytes = n_deleted_bytes"
        "    + (CASE WHEN (NEW.flags & 8) <> 0 THEN NEW.size ELSE 0 END)"
        "   WHERE id = NEW.mailbox_id;"
        " END;"
        "CREATE INDEX messages_unseen ON messages (mailbox_id, uid)"
        " WHERE (flags & 1) = 0;";

static int migrate_to_3(sqlite3 *db)
{
	return store__exec(db, schema_v3);
}

/* migrations[i] takes user_version i to i + 1. */
static int (*const migrations[])(sqlite3 *db) = {
        migrate_to_1,
        migrate_to_2,
        migrate_to_3,
};

#define SCHEMA_NEWEST ((int)(sizeof migrations / sizeof migrations[0]))

static int user_version(sqlite3 *db, int *version_r)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version_r = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static int migrate(sqlite3 *db)
{
	char sql[64];
	int version = 0, rc;

	/* Most opens find the newest version: check without a write lock. */
	rc = user_version(db, &version);
	if (rc != SQLITE_OK)
		return store__error(rc);
	if (version == SCHEMA_NEWEST)
		return STORE_OK;
	if (version > SCHEMA_NEWEST)
		return STORE_E_TEMP;
	rc = store__exec(db, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK)
		return store__error(rc);
	rc = user_version(db, &version);
	if (rc == SQLITE_OK && version > SCHEMA_NEWEST) {
		store__exec(db, "ROLLBACK");
		return STORE_E_TEMP;
	}
	for (int v = version; rc == SQLITE_OK && v < SCHEMA_NEWEST; v++)
		rc = migrations[v](db);
	if (rc == SQLITE_OK) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
		         SCHEMA_NEWEST);
		rc = store__exec(db, sql);
	}
	if (rc == SQLITE_OK)
		rc = store__exec(db, "COMMIT");
	if (rc != SQLITE_OK) {
		store__exec(db, "ROLLBACK");
		return store__error(rc);
	}
	return STORE_OK;
}

int store__schema_setup(sqlite3 *db)
{
	int rc;

	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	/* WAL lets readers (another session, the admin tool) run beside the
	 * one writer; synchronous=FULL fsyncs the WAL at every commit, which
	 * is what makes an acknowledged message survive a power loss. */
	rc = store__exec(db, "PRAGMA journal_mode = WAL");
	if (rc == SQLITE_OK)
		rc = store__exec(db, "PRAGMA synchronous = FULL");
	if (rc == SQLITE_OK)
		rc = store__exec(db, "PRAGMA foreign_keys = ON");
	if (rc != SQLITE_OK)
		return store__error(rc);
	return migrate(db);
}
