/*
 * The account directory, password hashes, SASL PLAIN decoding and the login
 * policy.  The directory is one SQLite database, DATA_DIR/directory.db
 * (auth/ is the only code that knows its schema).  Every function that
 * touches the database or hashes may block: call it from a worker job or
 * the admin tool, never from the loop.  struct auth_dir may be used from
 * several threads at once.
 */
#ifndef PO_AUTH_H
#define PO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Account names: 1..64 bytes of [a-z0-9._+-] and at most one '@' with a
 * domain after it; stored lower-case; lookups are case-insensitive. */
#define AUTH_NAME_MAX 64
/* Passwords longer than this are refused (and never hashed).  libxcrypt
 * itself hashes at most 511 bytes (CRYPT_MAX_PASSPHRASE_SIZE - 1), so
 * auth_password_hash refuses a longer one with -EINVAL and it never
 * verifies; this larger bound sizes protocol and SASL buffers. */
#define AUTH_PASSWORD_MAX 1024

enum auth_state { AUTH_STATE_ACTIVE = 0, AUTH_STATE_DISABLED = 1 };
enum auth_proto { AUTH_PROTO_POP3, AUTH_PROTO_IMAP };

struct auth_account {
	int64_t id;
	char name[AUTH_NAME_MAX + 1];
	enum auth_state state;
	bool pop_allowed;
	bool imap_allowed;
	uint64_t quota_bytes; /* 0: no quota */
	int64_t created;      /* seconds since the epoch */
};

struct auth_dir;

/* Open (creating and migrating) DATA_DIR/directory.db.  Returns 0, or -1
 * with a reason in *error_r (static). */
int auth_dir_open(const char *data_dir, struct auth_dir **dir_r,
                  const char **error_r);
void auth_dir_close(struct auth_dir **dir);

/* Is name a valid account name (see AUTH_NAME_MAX)? */
bool auth_name_valid(const char *name);

/*
 * Add an account.  password NULL leaves it without one (no login until
 * auth_account_set_password).  Returns the new account's id (> 0), or
 * -EINVAL (bad name or password), -EEXIST, -EIO with *error_r set.
 * Creating the account's mail database is the caller's job
 * (store_account_create), so a half-made account never logs in.
 */
int64_t auth_account_add(struct auth_dir *dir, const char *name,
                         const char *password, bool pop_allowed,
                         bool imap_allowed, const char **error_r);
/* Remove an account: 0, -ENOENT, -EIO. */
int auth_account_del(struct auth_dir *dir, const char *name);
/* Look an account up by name: 0, -ENOENT, -EIO. */
int auth_account_get(struct auth_dir *dir, const char *name,
                     struct auth_account *account_r);
/* All accounts by name, in a malloc'd array the caller frees: 0 or -EIO. */
int auth_account_list(struct auth_dir *dir, struct auth_account **list_r,
                      size_t *n_r);
/* Each returns 0, -ENOENT, -EINVAL, -EIO. */
int auth_account_set_password(struct auth_dir *dir, const char *name,
                              const char *password);
int auth_account_set_pop(struct auth_dir *dir, const char *name, bool on);
int auth_account_set_imap(struct auth_dir *dir, const char *name, bool on);
int auth_account_set_state(struct auth_dir *dir, const char *name,
                           enum auth_state state);

enum auth_result {
	AUTH_OK,       /* *account_r is filled in */
	AUTH_FAILED,   /* unknown account or wrong password: indistinguishable
	                  by reply and by time (an unknown name is checked
	                  against a dummy hash of the default scheme) */
	AUTH_TEMPFAIL, /* the directory could not be read */
};

/* Check a name and password.  The policy (state, protocol toggles) is
 * checked separately, after a correct password, with auth_policy_check. */
enum auth_result auth_login(struct auth_dir *dir, const char *name,
                            const char *password,
                            struct auth_account *account_r);

/*
 * The login cache (Dovecot's auth_cache_size and auth_cache_ttl): after a
 * correct password, auth_login remembers a keyed digest (HMAC-SHA-256 with
 * a per-process random key; never the password) of the account id, its
 * stored hash and the password, for ttl seconds, so the same account
 * logging in again with the same password skips the password hash.  A
 * changed password (a new stored hash) misses at once; wrong passwords are
 * never cached and always pay for a real verification.  The defaults are
 * on; auth_dir_set_cache changes them (dropping every entry): entries 0 or
 * ttl_seconds 0 turns the cache off.  Returns 0, or -EINVAL (entries over
 * 1,000,000, ttl negative or over a week), -EIO (no cache could be made).
 */
#define AUTH_CACHE_SIZE_DEFAULT 10000
#define AUTH_CACHE_TTL_DEFAULT 3600
int auth_dir_set_cache(struct auth_dir *dir, size_t entries,
                       int64_t ttl_seconds);

enum auth_policy {
	AUTH_ALLOWED,
	AUTH_DENIED_DISABLED, /* the account is disabled */
	AUTH_DENIED_PROTOCOL, /* this protocol is switched off for it */
};

enum auth_policy auth_policy_check(const struct auth_account *account,
                                   enum auth_proto proto);

/* Hash a password with yescrypt ($y$) into out (outlen >= 128).  Returns
 * 0, or -EINVAL, -EIO. */
int auth_password_hash(const char *password, char *out, size_t outlen);
/* Verify against a $y$, $2b$, $6$ or $5$ hash (constant-time compare). */
bool auth_password_verify(const char *password, const char *hash);

/*
 * Decode a SASL PLAIN response (RFC 4616) given in base64.  On success
 * fills authzid (may be empty), authcid and passwd (each buffer of size
 * AUTH_PASSWORD_MAX + 1) and returns 0.  Returns -EINVAL for bad base64, a
 * message without exactly two NUL separators, an empty authcid or passwd,
 * or a part too long.  The caller wipes passwd with explicit_bzero.
 */
int sasl_plain_decode(const char *b64, size_t len, char *authzid, char *authcid,
                      char *passwd);

#endif
