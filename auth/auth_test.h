/*
 * Hooks for tests/unit/test_auth.c only: nothing else includes this file.
 * They let a test see whether a login ran the password hash and move the
 * login cache's clock.
 */
#ifndef PO_AUTH_TEST_H
#define PO_AUTH_TEST_H

#include <stddef.h>
#include <stdint.h>

struct auth_dir;

/* How many times auth_password_verify ran crypt, in this process. */
unsigned long auth__verify_count(void);
/* Replace the login cache's clock (seconds; NULL: CLOCK_MONOTONIC). */
void auth__cache_set_clock(struct auth_dir *dir, int64_t (*now)(void));
/* How many slots of the login cache are in use. */
size_t auth__cache_used(struct auth_dir *dir);

#endif
