/*
 * The login cache (like Dovecot's auth_cache_size / auth_cache_ttl).  A
 * yescrypt verification costs about a quarter of a second of CPU, so a
 * client that logs in and out in a loop would be bounded by it.  After a
 * SUCCESSFUL verification auth_login remembers, for the account id, a
 * keyed digest
 *
 *   HMAC-SHA-256(secret, id (8 bytes, big-endian) || stored hash || NUL ||
 *                password)
 *
 * where secret is 32 random bytes made when the directory is opened and
 * never leaves this process.  A later login for the same id whose digest,
 * computed the same way with the hash read from the directory for that
 * login, matches (constant-time compare) skips crypt.  Because the stored
 * hash is inside the digest, a password change (a new hash, from this
 * process or the admin tool) invalidates the entry by itself; an account
 * removed and re-added gets a new id and a new hash.  The password itself
 * is never stored, and the digest is useless without the secret.
 *
 * Failed verifications are never cached: a wrong password (and an unknown
 * account, against the dummy hash) always costs a real verification.  The
 * login policy is not cached either (auth_policy_check runs on the row
 * read for each login).
 *
 * The table is bounded and set-associative: entries / CACHE_WAYS sets of
 * CACHE_WAYS slots; an id lives in set id % n_sets (ids are sequential,
 * so they spread evenly) and a full set evicts its least recently used
 * slot.  An entry lives ttl seconds from the verification that made it
 * (a hit does not extend it), by CLOCK_MONOTONIC.  One mutex guards the
 * table; it is held only for a few comparisons, never while hashing.
 */
#include "auth_private.h"
#include "auth_test.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util.h"

#define CACHE_WAYS 4
/* The largest table auth_dir_set_cache accepts (about 56 MB). */
#define CACHE_ENTRIES_MAX 1000000
#define CACHE_TTL_MAX (7 * 24 * 3600)

struct cache_entry {
	int64_t id; /* 0: empty (account ids are > 0) */
	int64_t added;
	uint64_t used; /* tick of the last hit or insertion, for LRU */
	uint8_t digest[AUTH_CACHE_DIGEST];
};

struct auth_cache {
	pthread_mutex_t lock;
	uint8_t secret[32];
	struct cache_entry *slots; /* n_sets * ways, NULL when off */
	size_t n_sets, ways;
	int64_t ttl;
	uint64_t tick;
	int64_t (*now)(void);
};

static int64_t monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Allocate the table for entries slots (0: off); caller holds the lock. */
static void cache_resize(struct auth_cache *c, size_t entries)
{
	if (c->slots != NULL) {
		explicit_bzero(c->slots,
		               c->n_sets * c->ways * sizeof *c->slots);
		free(c->slots);
	}
	c->slots = NULL;
	c->n_sets = c->ways = 0;
	if (entries == 0)
		return;
	/* Never more slots than asked for. */
	if (entries < CACHE_WAYS) {
		c->n_sets = 1;
		c->ways = entries;
	} else {
		c->n_sets = entries / CACHE_WAYS;
		c->ways = CACHE_WAYS;
	}
	c->slots = xcalloc(c->n_sets * c->ways, sizeof *c->slots);
}

struct auth_cache *auth__cache_new(void)
{
	struct auth_cache *c = xcalloc(1, sizeof *c);
	size_t done = 0;

	while (done < sizeof c->secret) {
		ssize_t got =
		        getrandom(c->secret + done, sizeof c->secret - done, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			/* No secret, no cache: logins just always hash. */
			free(c);
			return NULL;
		}
		done += (size_t)got;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->ttl = AUTH_CACHE_TTL_DEFAULT;
	c->now = monotonic_now;
	cache_resize(c, AUTH_CACHE_SIZE_DEFAULT);
	return c;
}

void auth__cache_free(struct auth_cache *c)
{
	if (c == NULL)
		return;
	cache_resize(c, 0);
	pthread_mutex_destroy(&c->lock);
	explicit_bzero(c, sizeof *c);
	free(c);
}

int auth__cache_digest(struct auth_cache *c, int64_t id, const char *hash,
                       const char *password, uint8_t digest[AUTH_CACHE_DIGEST])
{
	gnutls_hmac_hd_t h;
	uint8_t idb[8];
	size_t plen;
	int ok;

	if (c == NULL || password == NULL || hash == NULL)
		return -1;
	plen = strnlen(password, AUTH_PASSWORD_MAX + 1);
	if (plen > AUTH_PASSWORD_MAX)
		return -1;
	for (int i = 0; i < 8; i++)
		idb[i] = (uint8_t)((uint64_t)id >> (56 - 8 * i));
	/* Streamed, so no buffer ever holds a copy of the password.  The
	 * hash has no NUL in it, so the NUL after it keeps the fields
	 * apart. */
	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, c->secret,
	                     sizeof c->secret) < 0)
		return -1;
	ok = gnutls_hmac(h, idb, sizeof idb) == 0 &&
	     gnutls_hmac(h, hash, strlen(hash) + 1) == 0 &&
	     gnutls_hmac(h, password, plen) == 0;
	gnutls_hmac_deinit(h, digest);
	if (!ok) {
		explicit_bzero(digest, AUTH_CACHE_DIGEST);
		return -1;
	}
	return 0;
}

/* Equal in a time that does not depend on where they differ. */
static bool digest_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < AUTH_CACHE_DIGEST; i++)
		diff |= (uint8_t)(a[i] ^ b[i]);
	return diff == 0;
}

static struct cache_entry *set_of(struct auth_cache *c, int64_t id)
{
	return c->slots + ((uint64_t)id % c->n_sets) * c->ways;
}

static bool expired(const struct auth_cache *c, const struct cache_entry *e,
                    int64_t now)
{
	/* A clock that went backwards counts as expired too. */
	return now < e->added || now - e->added >= c->ttl;
}

bool auth__cache_hit(struct auth_cache *c, int64_t id,
                     const uint8_t digest[AUTH_CACHE_DIGEST])
{
	struct cache_entry *set;
	bool hit = false;

	if (c == NULL || id <= 0)
		return false;
	pthread_mutex_lock(&c->lock);
	if (c->slots == NULL)
		goto out;
	set = set_of(c, id);
	for (size_t w = 0; w < c->ways; w++) {
		struct cache_entry *e = &set[w];

		if (e->id != id)
			continue;
		if (expired(c, e, c->now())) {
			explicit_bzero(e, sizeof *e);
			break;
		}
		/* A different digest (wrong password, or the hash changed)
		 * leaves the entry alone: the caller verifies for real and
		 * a success replaces it. */
		if (digest_equal(e->digest, digest)) {
			e->used = ++c->tick;
			hit = true;
		}
		break;
	}
out:
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void auth__cache_put(struct auth_cache *c, int64_t id,
                     const uint8_t digest[AUTH_CACHE_DIGEST])
{
	struct cache_entry *set, *victim = NULL;

	if (c == NULL || id <= 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->slots == NULL)
		goto out;
	set = set_of(c, id);
	/* The id's own slot, else an empty one, else the least recently
	 * used one of the set. */
	for (size_t w = 0; w < c->ways; w++) {
		if (set[w].id == id) {
			victim = &set[w];
			break;
		}
		if (victim == NULL ||
		    (victim->id != 0 &&
		     (set[w].id == 0 || set[w].used < victim->used)))
			victim = &set[w];
	}
	victim->id = id;
	victim->added = c->now();
	victim->used = ++c->tick;
	memcpy(victim->digest, digest, AUTH_CACHE_DIGEST);
out:
	pthread_mutex_unlock(&c->lock);
}

int auth_dir_set_cache(struct auth_dir *dir, size_t entries,
                       int64_t ttl_seconds)
{
	struct auth_cache *c = dir->cache;

	if (entries > CACHE_ENTRIES_MAX || ttl_seconds < 0 ||
	    ttl_seconds > CACHE_TTL_MAX)
		return -EINVAL;
	if (c == NULL)
		return entries == 0 || ttl_seconds == 0 ? 0 : -EIO;
	pthread_mutex_lock(&c->lock);
	/* A ttl of 0 turns the cache off as well as a size of 0. */
	cache_resize(c, ttl_seconds == 0 ? 0 : entries);
	c->ttl = ttl_seconds;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void auth__cache_set_clock(struct auth_dir *dir, int64_t (*now)(void))
{
	struct auth_cache *c = dir->cache;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->now = now != NULL ? now : monotonic_now;
	pthread_mutex_unlock(&c->lock);
}

size_t auth__cache_used(struct auth_dir *dir)
{
	struct auth_cache *c = dir->cache;
	size_t n = 0;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; c->slots != NULL && i < c->n_sets * c->ways; i++)
		n += c->slots[i].id != 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}
