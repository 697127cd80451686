/*
 * Password hashing and verification through libxcrypt.  New hashes are
 * yescrypt ("$y$", libxcrypt's default cost); verification accepts what
 * crypt(3) on Debian 12 understands and we care to migrate from: yescrypt,
 * bcrypt ("$2b$"), SHA-512-crypt ("$6$") and SHA-256-crypt ("$5$").  Only
 * the reentrant calls are used (crypt_rn with a heap-allocated struct
 * crypt_data, about 32 KiB), so any number of threads may hash at once.
 * Passwords and intermediate buffers are wiped after use; nothing here
 * logs.
 */
#include "auth_private.h"
#include "auth_test.h"

#include <crypt.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The longest password libxcrypt hashes (it refuses longer ones). */
#define HASH_PASSWORD_MAX (CRYPT_MAX_PASSPHRASE_SIZE - 1)

/* Verifications that ran crypt (auth_test.h): tests use it to tell a
 * cached login from a hashed one. */
static atomic_ulong verify_count;

unsigned long auth__verify_count(void)
{
	return atomic_load(&verify_count);
}

/* Is the hash one of the schemes we accept for verification?  Anything
 * else (DES, MD5, "*" or "!" locked markers) never verifies. */
static bool scheme_accepted(const char *hash)
{
	static const char *const prefixes[] = {"$y$", "$2b$", "$6$", "$5$"};

	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	}
	return false;
}

/* Compare two strings in time that depends only on their lengths, not on
 * where they first differ. */
static bool equal_const_time(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	unsigned char diff = (unsigned char)(alen != blen);
	size_t n = alen < blen ? alen : blen;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int auth_password_hash(const char *password, char *out, size_t outlen)
{
	struct crypt_data *cd;
	char *salt;
	const char *res;
	int ret = 0;

	if (password == NULL || strlen(password) > HASH_PASSWORD_MAX)
		return -EINVAL;
	/* count 0 picks libxcrypt's default yescrypt cost; rbytes NULL has
	 * it read the salt from the system's random source. */
	salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
	if (salt == NULL)
		return -EIO;
	cd = calloc(1, sizeof *cd);
	if (cd == NULL) {
		free(salt);
		return -EIO;
	}
	res = crypt_rn(password, salt, cd, (int)sizeof *cd);
	if (res == NULL || res[0] == '*')
		ret = -EIO;
	else if (strlen(res) >= outlen)
		ret = -EINVAL;
	else
		memcpy(out, res, strlen(res) + 1);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	free(salt);
	return ret;
}

bool auth_password_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *res;
	bool ok;

	if (password == NULL || hash == NULL || !scheme_accepted(hash) ||
	    strlen(password) > HASH_PASSWORD_MAX)
		return false;
	cd = calloc(1, sizeof *cd);
	if (cd == NULL)
		return false;
	atomic_fetch_add(&verify_count, 1);
	/* crypt_rn reads the scheme and parameters from hash itself and
	 * returns NULL (or a "*" failure token) for a malformed one. */
	res = crypt_rn(password, hash, cd, (int)sizeof *cd);
	ok = res != NULL && res[0] != '*' && equal_const_time(res, hash);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}
