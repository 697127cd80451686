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
};

/* Copy name into out (AUTH_NAME_MAX + 1 bytes) in lower case.  The caller
 * has checked it with auth_name_valid. */
void auth__name_lower(const char *name, char *out);

#endif
