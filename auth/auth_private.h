/*
 * Declarations shared by the files of auth/ and nothing else: the directory
 * handle's layout and the helpers one file offers another.
 */
#ifndef PO_AUTH_PRIVATE_H
#define PO_AUTH_PRIVATE_H

#include "auth.h"

#include <pthread.h>
#include <sqlite3.h>

/* Size of the buffer a password hash is written into. */
#define AUTH_HASH_MAX 256

struct auth_dir {
	/* One connection shared by every thread.  lock serialises its use
	 * (a statement's prepare, step and finalize run under it); it is
	 * never held while a password is hashed or verified, so a slow
	 * yescrypt in one login does not stall the others. */
	sqlite3 *db;
	pthread_mutex_t lock;
	/* A yescrypt hash of a random password, made once at open: an
	 * unknown account is verified against it so that it costs the same
	 * time as a wrong password (auth.h, AUTH_FAILED). */
	char dummy_hash[AUTH_HASH_MAX];
	/* The login cache (auth_cache.c), with its own lock; NULL if no
	 * random secret could be made (then every login hashes). */
	struct auth_cache *cache;
};

/* Copy name into out (AUTH_NAME_MAX + 1 bytes) in lower case.  The caller
 * has checked it with auth_name_valid. */
void auth__name_lower(const char *name, char *out);

/* The login cache (auth_cache.c).  Every function accepts a NULL cache
 * (then nothing is cached). */
#define AUTH_CACHE_DIGEST 32
struct auth_cache;
struct auth_cache *auth__cache_new(void);
void auth__cache_free(struct auth_cache *cache);
/* The keyed digest of (id, stored hash, password): 0, or -1 (do not use
 * the cache for this login). */
int auth__cache_digest(struct auth_cache *cache, int64_t id, const char *hash,
                       const char *password, uint8_t digest[AUTH_CACHE_DIGEST]);
/* Is there an unexpired entry for id with this digest? */
bool auth__cache_hit(struct auth_cache *cache, int64_t id,
                     const uint8_t digest[AUTH_CACHE_DIGEST]);
/* Remember a digest whose password was just verified for real. */
void auth__cache_put(struct auth_cache *cache, int64_t id,
                     const uint8_t digest[AUTH_CACHE_DIGEST]);

#endif
