/*
 * The service handle and account files: where an account's database lives
 * (DATA_DIR/mail/<id % 256 as 2 hex>/<id>.db, named by the numeric id only,
 * never by anything a client typed), creating, opening and removing it, the
 * per-handle prepared statement cache, the mapping of SQLite errors to
 * enum store_error, and the in-process POP3 lock (RFC 1939 §8, RFC 3206
 * [IN-USE]).  Mailbox and message operations are in store_mailbox.c and
 * store_message.c; the schema is in store_schema.c.
 */
#include "store_private.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The SQL of each cached statement, indexed by enum store_stmt. */
static const char *const stmt_sql[STMT_COUNT] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_BEGIN_READ] = "BEGIN",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_MAILBOX_BY_NAME] = "SELECT id, uidvalidity, uidnext,"
                                 " highestmodseq FROM mailboxes"
                                 " WHERE name = ?1 AND NOT noselect",
        [STMT_MAILBOX_COUNTS] = "SELECT count(*), coalesce(sum(size), 0)"
                                " FROM messages WHERE mailbox_id = ?1",
        [STMT_MAILBOX_ROW] = "SELECT uidvalidity, uidnext, highestmodseq"
                             " FROM mailboxes WHERE id = ?1"
                             " AND NOT noselect",
        [STMT_MAILBOX_BUMP] = "UPDATE mailboxes SET uidnext = ?2,"
                              " highestmodseq = ?3 WHERE id = ?1",
        [STMT_MSG_INSERT] = "INSERT INTO messages (mailbox_id, uid, modseq,"
                            " size, internal_date, flags, uidl, keywords,"
                            " sent_date, hdr_len) VALUES (?1, ?2, ?3, ?4,"
                            " ?5, ?6, ?7, ?8, ?9, ?10)",
        [STMT_BODY_INSERT] = "INSERT INTO bodies (message_id, data)"
                             " VALUES (?1, zeroblob(?2))",
        [STMT_UIDL_EXISTS] = "SELECT 1 FROM messages WHERE uidl = ?1",
        [STMT_MSG_LIST] = "SELECT uid, size, internal_date, modseq, flags,"
                          " uidl FROM messages WHERE mailbox_id = ?1"
                          " ORDER BY uid",
        [STMT_MSG_FIND] = "SELECT id, size FROM messages"
                          " WHERE mailbox_id = ?1 AND uid = ?2",
        [STMT_MSG_DELETE] = "DELETE FROM messages"
                            " WHERE mailbox_id = ?1 AND uid = ?2",
        [STMT_EXPUNGED_INSERT] = "INSERT OR REPLACE INTO expunged"
                                 " (mailbox_id, uid, modseq)"
                                 " VALUES (?1, ?2, ?3)",
        [STMT_MAILBOX_SET_MODSEQ] = "UPDATE mailboxes SET highestmodseq = ?2"
                                    " WHERE id = ?1",
        [STMT_DATA_VERSION] = "PRAGMA data_version",
        [STMT_META_INSERT] = store__meta_insert_sql,
        [STMT_MSG_LIST_EXT] = "SELECT uid, size, internal_date, modseq,"
                              " flags, uidl, keywords, sent_date, hdr_len"
                              " FROM messages WHERE mailbox_id = ?1"
                              " AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
        [STMT_MSG_FLAGS] = "SELECT id, flags, keywords, modseq FROM messages"
                           " WHERE mailbox_id = ?1 AND uid = ?2",
        [STMT_MSG_SET_FLAGS] = "UPDATE messages SET flags = ?2,"
                               " keywords = ?3, modseq = ?4 WHERE id = ?1",
        [STMT_MSG_META] = "SELECT envelope, body, bodystructure"
                          " FROM mime_meta JOIN messages"
                          " ON messages.id = mime_meta.message_id"
                          " WHERE mailbox_id = ?1 AND uid = ?2",
        [STMT_MSG_PARTS] = "SELECT parts FROM mime_meta JOIN messages"
                           " ON messages.id = mime_meta.message_id"
                           " WHERE mailbox_id = ?1 AND uid = ?2",
};

int store__run(struct store_account *a, const char *sql, int64_t p1, int64_t p2,
               int64_t p3)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
	int nparam;

	if (rc != SQLITE_OK)
		return rc;
	nparam = sqlite3_bind_parameter_count(st);
	if (nparam >= 1)
		sqlite3_bind_int64(st, 1, p1);
	if (nparam >= 2)
		sqlite3_bind_int64(st, 2, p2);
	if (nparam >= 3)
		sqlite3_bind_int64(st, 3, p3);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store__error(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return STORE_OK;
	case SQLITE_CONSTRAINT:
		return STORE_E_EXISTS;
	case SQLITE_TOOBIG:
		return STORE_E_LIMIT;
	default:
		/* BUSY, LOCKED, IOERR, FULL, NOMEM, CORRUPT, CANTOPEN ...:
		 * the client may try again later; nothing was changed. */
		return STORE_E_TEMP;
	}
}

sqlite3_stmt *store__stmt(struct store_account *a, enum store_stmt id)
{
	sqlite3_stmt **st = &a->stmts[id];

	assert(id < STMT_COUNT && stmt_sql[id] != NULL);
	if (*st == NULL) {
		if (sqlite3_prepare_v3(a->db, stmt_sql[id], -1,
		                       SQLITE_PREPARE_PERSISTENT, st,
		                       NULL) != SQLITE_OK) {
			*st = NULL;
			return NULL;
		}
		return *st;
	}
	sqlite3_reset(*st);
	sqlite3_clear_bindings(*st);
	return *st;
}

/* Run one of the transaction statements. */
static int run_stmt(struct store_account *a, enum store_stmt id)
{
	sqlite3_stmt *st = store__stmt(a, id);
	int rc;

	if (st == NULL)
		return STORE_E_TEMP;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return store__error(rc);
}

int store__begin(struct store_account *a)
{
	store__blob_release(a);
	return run_stmt(a, STMT_BEGIN);
}

int store__begin_read(struct store_account *a)
{
	store__blob_release(a);
	return run_stmt(a, STMT_BEGIN_READ);
}

int store__commit(struct store_account *a)
{
	return run_stmt(a, STMT_COMMIT);
}

void store__rollback(struct store_account *a)
{
	/* Statements still stepping would make ROLLBACK fail; reset all. */
	for (size_t i = 0; i < STMT_COUNT; i++) {
		if (a->stmts[i] != NULL)
			sqlite3_reset(a->stmts[i]);
	}
	if (sqlite3_get_autocommit(a->db) == 0)
		(void)run_stmt(a, STMT_ROLLBACK);
}

int store__path(const struct store *store, int64_t account_id, bool dir_only,
                char *out, size_t outlen)
{
	int n;

	if (dir_only)
		n = snprintf(out, outlen, "%s/mail/%02x", store->data_dir,
		             (unsigned)(account_id % 256));
	else
		n = snprintf(out, outlen, "%s/mail/%02x/%" PRId64 ".db",
		             store->data_dir, (unsigned)(account_id % 256),
		             account_id);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* mkdir with mode 0700; an existing directory is fine. */
static int make_dir(const char *path)
{
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* mkdir -p with mode 0700 for each directory it creates. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (make_dir(buf) < 0)
			return -1;
		buf[i] = i == len ? '\0' : '/';
	}
	return 0;
}

/* Really close a handle. */
static void handle_free(struct store_account *a)
{
	store__blob_release(a);
	for (size_t i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(a->stmts[i]);
	sqlite3_close(a->db);
	free(a);
}

/* Take account_id's cached handle out of the cache, or NULL. */
static struct store_account *cache_take(struct store *store, int64_t id)
{
	struct store_account *a = NULL;

	pthread_mutex_lock(&store->cache_lock);
	for (size_t i = store->cache_n; i-- > 0;) {
		if (store->cache[i]->id != id)
			continue;
		a = store->cache[i];
		memmove(&store->cache[i], &store->cache[i + 1],
		        (store->cache_n - i - 1) * sizeof(store->cache[0]));
		store->cache_n--;
		break;
	}
	pthread_mutex_unlock(&store->cache_lock);
	return a;
}

/* Close every cached handle of account_id (it is being removed). */
static void cache_purge(struct store *store, int64_t id)
{
	struct store_account *a;

	while ((a = cache_take(store, id)) != NULL)
		handle_free(a);
}

int store_new(const char *data_dir, struct store **store_r,
              const char **error_r)
{
	struct store *store;
	char mail[4096];

	/* struct store is shared by threads: SQLite must be thread-safe
	 * (each account connection is then used by one thread at a time). */
	if (sqlite3_threadsafe() == 0) {
		*error_r = "SQLite was built without thread support";
		return STORE_E_TEMP;
	}
	if ((size_t)snprintf(mail, sizeof mail, "%s/mail", data_dir) >=
	    sizeof mail - 64) {
		*error_r = "data directory path too long";
		return STORE_E_TEMP;
	}
	if (make_dirs(data_dir) < 0 || make_dir(mail) < 0) {
		*error_r = "cannot create the mail directory";
		return STORE_E_TEMP;
	}
	store = xcalloc(1, sizeof *store);
	store->data_dir = xstrdup(data_dir);
	pthread_mutex_init(&store->pop_lock, NULL);
	pthread_mutex_init(&store->change_lock, NULL);
	pthread_mutex_init(&store->cache_lock, NULL);
	*store_r = store;
	return STORE_OK;
}

void store_free(struct store **storep)
{
	struct store *store = *storep;

	if (store == NULL)
		return;
	*storep = NULL;
	for (size_t i = 0; i < store->cache_n; i++)
		handle_free(store->cache[i]);
	pthread_mutex_destroy(&store->cache_lock);
	pthread_mutex_destroy(&store->pop_lock);
	pthread_mutex_destroy(&store->change_lock);
	free(store->pop_ids);
	free(store->data_dir);
	free(store);
}

/* Remove path's -wal and -shm companions. */
static void unlink_companions(const char *path)
{
	char p[4200];

	snprintf(p, sizeof p, "%s-wal", path);
	(void)unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	(void)unlink(p);
}

/* fsync a directory so a file created or removed in it stays so. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

static int open_db(const char *path, sqlite3 **db_r)
{
	sqlite3 *db = NULL;
	int rc;

	/* NOMUTEX: one thread at a time uses an account handle (store.h). */
	rc = sqlite3_open_v2(path, &db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = store__schema_setup(db);
	else
		rc = store__error(rc);
	if (rc != STORE_OK) {
		sqlite3_close(db);
		return rc;
	}
	*db_r = db;
	return STORE_OK;
}

int store_account_create(struct store *store, int64_t account_id)
{
	char dir[4096], path[4096];
	sqlite3 *db = NULL;
	int fd, ret;

	if (account_id <= 0)
		return STORE_E_INVALID;
	if (store__path(store, account_id, true, dir, sizeof dir) < 0 ||
	    store__path(store, account_id, false, path, sizeof path) < 0 ||
	    make_dir(dir) < 0)
		return STORE_E_TEMP;
	/* O_EXCL decides between two creators.  A -wal left behind by some
	 * earlier file of this name must not be replayed into the new one. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? STORE_E_EXISTS : STORE_E_TEMP;
	close(fd);
	unlink_companions(path);
	ret = open_db(path, &db);
	sqlite3_close(db);
	if (ret != STORE_OK) {
		(void)unlink(path);
		unlink_companions(path);
		return ret;
	}
	sync_dir(dir);
	return STORE_OK;
}

int store_account_remove(struct store *store, int64_t account_id)
{
	char dir[4096], path[4096];
	int ret = STORE_OK;

	if (store__path(store, account_id, true, dir, sizeof dir) < 0 ||
	    store__path(store, account_id, false, path, sizeof path) < 0)
		return STORE_E_TEMP;
	cache_purge(store, account_id);
	/* The main file goes first: once it is gone the account is. */
	if (unlink(path) < 0)
		ret = errno == ENOENT ? STORE_E_NOTFOUND : STORE_E_TEMP;
	if (ret != STORE_E_TEMP)
		unlink_companions(path);
	sync_dir(dir);
	return ret;
}

int store_account_open(struct store *store, int64_t account_id,
                       struct store_account **account_r)
{
	struct store_account *a;
	char path[4096];
	struct stat st;
	int ret;

	if (store__path(store, account_id, false, path, sizeof path) < 0)
		return STORE_E_TEMP;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? STORE_E_NOTFOUND : STORE_E_TEMP;
	while ((a = cache_take(store, account_id)) != NULL) {
		if (a->dev == st.st_dev && a->ino == st.st_ino) {
			/* A new user of the handle: store_account_changed
			 * starts a new baseline. */
			a->data_version_set = false;
			*account_r = a;
			return STORE_OK;
		}
		handle_free(a); /* the file was replaced meanwhile */
	}
	a = xcalloc(1, sizeof *a);
	a->store = store;
	a->id = account_id;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	ret = open_db(path, &a->db);
	if (ret != STORE_OK) {
		free(a);
		return ret;
	}
	*account_r = a;
	return STORE_OK;
}

void store_account_close(struct store_account **ap)
{
	struct store_account *a = *ap;

	if (a == NULL)
		return;
	*ap = NULL;
	store__blob_release(a);
	/* Keep it for the next open of this account, unless it is in the
	 * middle of a transaction (an error path); the oldest cached handle
	 * makes room. */
	if (sqlite3_get_autocommit(a->db) != 0) {
		struct store *store = a->store;
		struct store_account *evict = NULL;

		pthread_mutex_lock(&store->cache_lock);
		if (store->cache_n == STORE_CACHE_MAX) {
			evict = store->cache[0];
			memmove(&store->cache[0], &store->cache[1],
			        (store->cache_n - 1) * sizeof(store->cache[0]));
			store->cache_n--;
		}
		store->cache[store->cache_n++] = a;
		pthread_mutex_unlock(&store->cache_lock);
		if (evict != NULL)
			handle_free(evict);
		return;
	}
	handle_free(a);
}

int store_pop_lock(struct store *store, int64_t account_id)
{
	int ret = STORE_OK;

	pthread_mutex_lock(&store->pop_lock);
	for (size_t i = 0; i < store->pop_n; i++) {
		if (store->pop_ids[i] == account_id) {
			ret = STORE_E_INUSE;
			break;
		}
	}
	if (ret == STORE_OK) {
		if (store->pop_n == store->pop_cap) {
			store->pop_cap =
			        store->pop_cap ? store->pop_cap * 2 : 64;
			store->pop_ids =
			        xrealloc(store->pop_ids,
			                 store->pop_cap * sizeof(int64_t));
		}
		store->pop_ids[store->pop_n++] = account_id;
	}
	pthread_mutex_unlock(&store->pop_lock);
	return ret;
}

void store_pop_unlock(struct store *store, int64_t account_id)
{
	pthread_mutex_lock(&store->pop_lock);
	for (size_t i = 0; i < store->pop_n; i++) {
		if (store->pop_ids[i] == account_id) {
			/* Order does not matter: move the last one here. */
			store->pop_ids[i] = store->pop_ids[--store->pop_n];
			break;
		}
	}
	pthread_mutex_unlock(&store->pop_lock);
}
