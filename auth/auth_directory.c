/*
 * The account directory: DATA_DIR/directory.db, one SQLite database in WAL
 * mode that the daemon (many worker threads) and the admin tool (another
 * process) use at the same time.  This file owns its schema, migrates it
 * forward at open (PRAGMA user_version), and implements the account
 * operations and auth_login of auth.h.  Account ids come from AUTOINCREMENT
 * and are never reused, because an account's mail database is named by its
 * id: a new account must never inherit a file a removed one left behind.
 *
 * Concurrency: one connection, one mutex around every use of it.  The
 * mutex is never held while a password is hashed or verified; auth_login
 * reads the row under the lock, releases it, then runs crypt (unless the
 * login cache of auth_cache.c knows this password for this stored hash).  Other
 * processes are waited for by SQLite's busy timeout.
 */
#include "auth_private.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

/* How long a statement waits for another process's write lock. */
#define AUTH_BUSY_TIMEOUT_MS 5000

/* The schema, one step per version: migrations[i] takes user_version i to
 * i + 1.  Append new steps; never edit a released one. */
static const char *const migrations[] = {
        "CREATE TABLE accounts ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        " password_hash TEXT,"
        " state INTEGER NOT NULL DEFAULT 0,"
        " pop_allowed INTEGER NOT NULL DEFAULT 0,"
        " imap_allowed INTEGER NOT NULL DEFAULT 1,"
        " quota_bytes INTEGER NOT NULL DEFAULT 1073741824,"
        " created INTEGER NOT NULL,"
        " changed INTEGER NOT NULL);",
};

#define ACCOUNT_COLUMNS                                                        \
	"id, name, state, pop_allowed, imap_allowed, quota_bytes, created"

void auth__name_lower(const char *name, char *out)
{
	size_t i;

	for (i = 0; i < AUTH_NAME_MAX && name[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[i] = '\0';
}

/* Characters allowed in the local part (before '@'), upper case included
 * because names are folded to lower case. */
static bool local_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
	       c == '-';
}

bool auth_name_valid(const char *name)
{
	size_t len, at = 0, n_at = 0;

	if (name == NULL)
		return false;
	len = strnlen(name, AUTH_NAME_MAX + 1);
	if (len == 0 || len > AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '@') {
			n_at++;
			at = i;
		} else if (!local_char(name[i])) {
			return false;
		}
	}
	/* At most one '@', with something on both sides of it. */
	if (n_at > 1 || (n_at == 1 && (at == 0 || at + 1 == len)))
		return false;
	return true;
}

/* Run sql (no results) on db; returns the SQLite result code. */
static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int user_version(sqlite3 *db, int *version_r)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*version_r = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Bring the schema to the newest version, in one transaction that also
 * re-reads the version so two processes opening at once migrate once. */
static int migrate(sqlite3 *db, const char **error_r)
{
	const int newest = (int)(sizeof migrations / sizeof migrations[0]);
	char sql[64];
	int version = 0, rc;

	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
		*error_r = "cannot lock directory.db";
		return -1;
	}
	rc = user_version(db, &version);
	if (rc == SQLITE_OK && version > newest) {
		exec(db, "ROLLBACK");
		*error_r = "directory.db is from a newer postoffice";
		return -1;
	}
	for (int v = version; rc == SQLITE_OK && v < newest; v++)
		rc = exec(db, migrations[v]);
	if (rc == SQLITE_OK && version < newest) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", newest);
		rc = exec(db, sql);
	}
	if (rc == SQLITE_OK)
		rc = exec(db, "COMMIT");
	if (rc != SQLITE_OK) {
		exec(db, "ROLLBACK");
		*error_r = "cannot migrate directory.db";
		return -1;
	}
	return 0;
}

/* mkdir -p with mode 0700 for each directory it creates.  Returns 0 or
 * -1 (errno set). */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	/* Each prefix ending before a '/', then the whole path. */
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		buf[i] = i == len ? '\0' : '/';
	}
	return 0;
}

static int open_db(const char *data_dir, sqlite3 **db_r, const char **error_r)
{
	char path[4096];
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_FULLMUTEX;

	if (make_dirs(data_dir) < 0) {
		*error_r = "cannot create the data directory";
		return -1;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/directory.db", data_dir) >=
	    sizeof path) {
		*error_r = "data directory path too long";
		return -1;
	}
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		*error_r = "cannot open directory.db";
		return -1;
	}
	sqlite3_busy_timeout(db, AUTH_BUSY_TIMEOUT_MS);
	if (exec(db, "PRAGMA journal_mode = WAL") != SQLITE_OK ||
	    exec(db, "PRAGMA synchronous = FULL") != SQLITE_OK ||
	    exec(db, "PRAGMA foreign_keys = ON") != SQLITE_OK ||
	    migrate(db, error_r) < 0) {
		if (*error_r == NULL)
			*error_r = "cannot set up directory.db";
		sqlite3_close(db);
		return -1;
	}
	*db_r = db;
	return 0;
}

int auth_dir_open(const char *data_dir, struct auth_dir **dir_r,
                  const char **error_r)
{
	struct auth_dir *dir;
	char secret[33];

	*error_r = NULL;
	dir = xcalloc(1, sizeof *dir);
	if (open_db(data_dir, &dir->db, error_r) < 0) {
		free(dir);
		return -1;
	}
	pthread_mutex_init(&dir->lock, NULL);
	/* The dummy hash's password is random and forgotten at once. */
	po_random_hex(secret, 16);
	if (auth_password_hash(secret, dir->dummy_hash,
	                       sizeof dir->dummy_hash) < 0) {
		explicit_bzero(secret, sizeof secret);
		auth_dir_close(&dir);
		*error_r = "cannot compute a password hash (libcrypt)";
		return -1;
	}
	explicit_bzero(secret, sizeof secret);
	dir->cache = auth__cache_new();
	*dir_r = dir;
	return 0;
}

void auth_dir_close(struct auth_dir **dirp)
{
	struct auth_dir *dir = *dirp;

	if (dir == NULL)
		return;
	*dirp = NULL;
	auth__cache_free(dir->cache);
	sqlite3_close(dir->db);
	pthread_mutex_destroy(&dir->lock);
	free(dir);
}

/* Fill *a from a row whose first columns are ACCOUNT_COLUMNS. */
static void read_row(sqlite3_stmt *st, struct auth_account *a)
{
	const unsigned char *name = sqlite3_column_text(st, 1);

	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, 0);
	if (name != NULL)
		auth__name_lower((const char *)name, a->name);
	a->state = sqlite3_column_int(st, 2) == AUTH_STATE_ACTIVE
	                   ? AUTH_STATE_ACTIVE
	                   : AUTH_STATE_DISABLED;
	a->pop_allowed = sqlite3_column_int(st, 3) != 0;
	a->imap_allowed = sqlite3_column_int(st, 4) != 0;
	a->quota_bytes = (uint64_t)sqlite3_column_int64(st, 5);
	a->created = sqlite3_column_int64(st, 6);
}

/*
 * Look name up and copy its row into *a and, if hash is not NULL, its
 * password hash into hash (AUTH_HASH_MAX bytes; "" when it has none).
 * Takes the lock itself.  Returns 0, -ENOENT or -EIO.
 */
static int lookup(struct auth_dir *dir, const char *name,
                  struct auth_account *a, char *hash)
{
	sqlite3_stmt *st = NULL;
	int rc, ret;

	pthread_mutex_lock(&dir->lock);
	rc = sqlite3_prepare_v2(dir->db,
	                        "SELECT " ACCOUNT_COLUMNS ", password_hash"
	                        " FROM accounts WHERE name = ?1",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 7);

		read_row(st, a);
		if (hash != NULL) {
			hash[0] = '\0';
			if (h != NULL &&
			    strlen((const char *)h) < AUTH_HASH_MAX)
				strcpy(hash, (const char *)h);
		}
		ret = 0;
	} else {
		ret = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&dir->lock);
	return ret;
}

int auth_account_get(struct auth_dir *dir, const char *name,
                     struct auth_account *account_r)
{
	if (!auth_name_valid(name))
		return -ENOENT;
	return lookup(dir, name, account_r, NULL);
}

enum auth_result auth_login(struct auth_dir *dir, const char *name,
                            const char *password,
                            struct auth_account *account_r)
{
	char hash[AUTH_HASH_MAX];
	uint8_t digest[AUTH_CACHE_DIGEST];
	struct auth_account a;
	int ret = -ENOENT;
	bool ok, cacheable;

	if (auth_name_valid(name))
		ret = lookup(dir, name, &a, hash);
	if (ret == -EIO)
		return AUTH_TEMPFAIL;
	/* An unknown name, or an account without a password, still pays for
	 * one verification, against the dummy hash, so it answers in the
	 * same time as a wrong password. */
	if (ret == -ENOENT || hash[0] == '\0') {
		(void)auth_password_verify(password, dir->dummy_hash);
		return AUTH_FAILED;
	}
	/* A password this process verified against this very stored hash
	 * within the cache's ttl skips crypt (auth_cache.c).  Only a success
	 * is remembered: a wrong password always pays for the hash. */
	cacheable = auth__cache_digest(dir->cache, a.id, hash, password,
	                               digest) == 0;
	ok = cacheable && auth__cache_hit(dir->cache, a.id, digest);
	if (!ok) {
		ok = auth_password_verify(password, hash);
		if (ok && cacheable)
			auth__cache_put(dir->cache, a.id, digest);
	}
	explicit_bzero(digest, sizeof digest);
	explicit_bzero(hash, sizeof hash);
	if (!ok)
		return AUTH_FAILED;
	*account_r = a;
	return AUTH_OK;
}

/* Map a failed step's result code to -errno. */
static int step_error(int rc)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return -EEXIST;
	return -EIO;
}

int64_t auth_account_add(struct auth_dir *dir, const char *name,
                         const char *password, bool pop_allowed,
                         bool imap_allowed, const char **error_r)
{
	char lower[AUTH_NAME_MAX + 1], hash[AUTH_HASH_MAX] = "";
	sqlite3_stmt *st = NULL;
	const char *dummy;
	int64_t id;
	int rc;

	if (error_r == NULL)
		error_r = &dummy;
	if (!auth_name_valid(name)) {
		*error_r = "invalid account name";
		return -EINVAL;
	}
	/* Hash before taking the lock: yescrypt is slow on purpose. */
	if (password != NULL &&
	    auth_password_hash(password, hash, sizeof hash) < 0) {
		*error_r = "invalid password (too long?)";
		return -EINVAL;
	}
	auth__name_lower(name, lower);
	pthread_mutex_lock(&dir->lock);
	rc = sqlite3_prepare_v2(
	        dir->db,
	        "INSERT INTO accounts (name, password_hash, pop_allowed,"
	        " imap_allowed, created, changed) VALUES (?1, ?2, ?3, ?4,"
	        " ?5, ?5)",
	        -1, &st, NULL);
	if (rc == SQLITE_OK) {
		int64_t now = (int64_t)time(NULL);

		sqlite3_bind_text(st, 1, lower, -1, SQLITE_STATIC);
		if (hash[0] != '\0')
			sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, pop_allowed);
		sqlite3_bind_int(st, 4, imap_allowed);
		sqlite3_bind_int64(st, 5, now);
		rc = sqlite3_step(st);
	}
	id = rc == SQLITE_DONE ? sqlite3_last_insert_rowid(dir->db)
	                       : step_error(rc);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&dir->lock);
	if (id == -EEXIST)
		*error_r = "account already exists";
	else if (id < 0)
		*error_r = "cannot write directory.db";
	return id;
}

/*
 * Run one UPDATE or DELETE on the account called name, with ?1 bound to
 * name and ?2 to value (if sql uses it; text if text is not NULL, else the
 * integer).  Returns 0, -ENOENT if no row matched, -EIO.
 */
static int change(struct auth_dir *dir, const char *sql, const char *name,
                  const char *text, int64_t value)
{
	sqlite3_stmt *st = NULL;
	int rc, ret;

	if (!auth_name_valid(name))
		return -ENOENT;
	pthread_mutex_lock(&dir->lock);
	rc = sqlite3_prepare_v2(dir->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) >= 2) {
			if (text != NULL)
				sqlite3_bind_text(st, 2, text, -1,
				                  SQLITE_STATIC);
			else
				sqlite3_bind_int64(st, 2, value);
		}
		if (sqlite3_bind_parameter_count(st) >= 3)
			sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		ret = -EIO;
	else
		ret = sqlite3_changes(dir->db) > 0 ? 0 : -ENOENT;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&dir->lock);
	return ret;
}

int auth_account_del(struct auth_dir *dir, const char *name)
{
	return change(dir, "DELETE FROM accounts WHERE name = ?1", name, NULL,
	              0);
}

int auth_account_set_password(struct auth_dir *dir, const char *name,
                              const char *password)
{
	char hash[AUTH_HASH_MAX];
	int ret;

	if (!auth_name_valid(name))
		return -ENOENT;
	ret = auth_password_hash(password, hash, sizeof hash);
	if (ret < 0)
		return ret;
	ret = change(dir,
	             "UPDATE accounts SET password_hash = ?2, changed = ?3"
	             " WHERE name = ?1",
	             name, hash, 0);
	explicit_bzero(hash, sizeof hash);
	return ret;
}

int auth_account_set_pop(struct auth_dir *dir, const char *name, bool on)
{
	return change(dir,
	              "UPDATE accounts SET pop_allowed = ?2, changed = ?3"
	              " WHERE name = ?1",
	              name, NULL, on);
}

int auth_account_set_imap(struct auth_dir *dir, const char *name, bool on)
{
	return change(dir,
	              "UPDATE accounts SET imap_allowed = ?2, changed = ?3"
	              " WHERE name = ?1",
	              name, NULL, on);
}

int auth_account_set_state(struct auth_dir *dir, const char *name,
                           enum auth_state state)
{
	if (state != AUTH_STATE_ACTIVE && state != AUTH_STATE_DISABLED)
		return -EINVAL;
	return change(dir,
	              "UPDATE accounts SET state = ?2, changed = ?3"
	              " WHERE name = ?1",
	              name, NULL, state);
}

int auth_account_list(struct auth_dir *dir, struct auth_account **list_r,
                      size_t *n_r)
{
	sqlite3_stmt *st = NULL;
	struct auth_account *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	pthread_mutex_lock(&dir->lock);
	rc = sqlite3_prepare_v2(dir->db,
	                        "SELECT " ACCOUNT_COLUMNS
	                        " FROM accounts ORDER BY name",
	                        -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		read_row(st, &list[n++]);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&dir->lock);
	if (rc != SQLITE_DONE) {
		free(list);
		return -EIO;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}
