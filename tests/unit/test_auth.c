/*
 * Unit tests of auth/: password hashing and verification for every scheme
 * we accept, the account directory (add, look up, change, remove, login),
 * the login policy, the login cache, SASL PLAIN decoding and account name
 * validation.
 * Directories are made under a fresh mkdtemp() directory per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <crypt.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "auth_test.h"

struct fixture {
	char dir[64];
	struct auth_dir *ad;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *err = NULL;
	char sub[128];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_auth.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* A data dir that does not exist yet: auth_dir_open creates it. */
	snprintf(sub, sizeof sub, "%s/data/x", f->dir);
	assert_int_equal(auth_dir_open(sub, &f->ad, &err), 0);
	assert_null(err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	auth_dir_close(&f->ad);
	assert_null(f->ad);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Hash password with the libxcrypt scheme prefix, at test time. */
static void make_hash(const char *prefix, const char *password, char *out,
                      size_t outlen)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	char *salt = crypt_gensalt_ra(prefix, 0, NULL, 0);
	const char *h;

	assert_non_null(cd);
	assert_non_null(salt);
	h = crypt_r(password, salt, cd);
	assert_non_null(h);
	assert_true(strlen(h) < outlen);
	strcpy(out, h);
	free(salt);
	free(cd);
}

static void test_hash_is_yescrypt_and_verifies(void **state)
{
	char hash[256], hash2[256];

	(void)state;
	assert_int_equal(auth_password_hash("s3cret pass", hash, sizeof hash),
	                 0);
	assert_memory_equal(hash, "$y$", 3);
	assert_true(auth_password_verify("s3cret pass", hash));
	assert_false(auth_password_verify("s3cret pasS", hash));
	assert_false(auth_password_verify("", hash));
	/* A fresh salt each time. */
	assert_int_equal(auth_password_hash("s3cret pass", hash2, sizeof hash2),
	                 0);
	assert_string_not_equal(hash, hash2);
}

static void test_verify_legacy_schemes(void **state)
{
	static const char *const schemes[] = {"$6$", "$5$", "$2b$"};
	char hash[256];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		make_hash(schemes[i], "old password", hash, sizeof hash);
		assert_true(auth_password_verify("old password", hash));
		assert_false(auth_password_verify("old passwore", hash));
	}
}

static void test_verify_rejects_other_hashes(void **state)
{
	char hash[256];

	(void)state;
	make_hash("$1$", "md5 password", hash, sizeof hash);
	assert_false(auth_password_verify("md5 password", hash));
	assert_false(auth_password_verify("x", ""));
	assert_false(auth_password_verify("x", "*"));
	assert_false(auth_password_verify("x", "!$y$j9T$abc$def"));
	assert_false(auth_password_verify("x", "$y$garbage"));
}

static void test_password_too_long_refused(void **state)
{
	char *pw = malloc(AUTH_PASSWORD_MAX + 2);
	char hash[256];

	(void)state;
	assert_non_null(pw);
	/* 511 bytes is the longest libxcrypt hashes. */
	memset(pw, 'a', AUTH_PASSWORD_MAX + 1);
	pw[511] = '\0';
	assert_int_equal(auth_password_hash(pw, hash, sizeof hash), 0);
	assert_true(auth_password_verify(pw, hash));
	pw[511] = 'a';
	pw[512] = '\0';
	assert_int_equal(auth_password_hash(pw, hash, sizeof hash), -EINVAL);
	assert_false(auth_password_verify(pw, hash));
	pw[512] = 'a';
	pw[AUTH_PASSWORD_MAX + 1] = '\0';
	assert_int_equal(auth_password_hash(pw, hash, sizeof hash), -EINVAL);
	free(pw);
}

static void test_hash_small_buffer_refused(void **state)
{
	char hash[16];

	(void)state;
	assert_int_equal(auth_password_hash("pw", hash, sizeof hash), -EINVAL);
}

static void test_account_add_get_case_insensitive(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	int64_t id;

	id = auth_account_add(f->ad, "Alice@Example.org", "pw1", false, true,
	                      &err);
	assert_true(id > 0);
	assert_int_equal(auth_account_get(f->ad, "alice@example.ORG", &a), 0);
	assert_int_equal(a.id, id);
	assert_string_equal(a.name, "alice@example.org");
	assert_int_equal(a.state, AUTH_STATE_ACTIVE);
	assert_false(a.pop_allowed);
	assert_true(a.imap_allowed);
	assert_int_equal(a.quota_bytes, 1073741824ULL);
	assert_true(a.created > 1600000000);
	assert_int_equal(auth_account_get(f->ad, "bob", &a), -ENOENT);
	assert_int_equal(auth_account_get(f->ad, "bad name", &a), -ENOENT);
}

static void test_account_add_duplicate_and_invalid(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;

	assert_true(auth_account_add(f->ad, "bob", "pw", true, true, &err) > 0);
	assert_int_equal(auth_account_add(f->ad, "BOB", "x", true, true, &err),
	                 -EEXIST);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(auth_account_add(f->ad, "b/ob", "x", true, true, &err),
	                 -EINVAL);
	assert_non_null(err);
}

static void test_login_ok_wrong_unknown(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	int64_t id =
	        auth_account_add(f->ad, "carol", "right", true, false, &err);

	assert_true(id > 0);
	memset(&a, 0, sizeof a);
	assert_int_equal(auth_login(f->ad, "CAROL", "right", &a), AUTH_OK);
	assert_int_equal(a.id, id);
	assert_string_equal(a.name, "carol");
	assert_true(a.pop_allowed);
	assert_false(a.imap_allowed);
	assert_int_equal(auth_login(f->ad, "carol", "wrong", &a), AUTH_FAILED);
	assert_int_equal(auth_login(f->ad, "carol", "", &a), AUTH_FAILED);
	assert_int_equal(auth_login(f->ad, "nobody", "right", &a), AUTH_FAILED);
	assert_int_equal(auth_login(f->ad, "in valid", "right", &a),
	                 AUTH_FAILED);
}

static void test_login_without_password_fails(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;

	assert_true(auth_account_add(f->ad, "dave", NULL, true, true, &err) >
	            0);
	assert_int_equal(auth_login(f->ad, "dave", "", &a), AUTH_FAILED);
	assert_int_equal(auth_login(f->ad, "dave", "x", &a), AUTH_FAILED);
	assert_int_equal(auth_account_set_password(f->ad, "dave", "new"), 0);
	assert_int_equal(auth_login(f->ad, "dave", "new", &a), AUTH_OK);
	assert_int_equal(auth_account_set_password(f->ad, "eve", "new"),
	                 -ENOENT);
}

static void test_account_settings_change(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;

	assert_true(auth_account_add(f->ad, "frank", "pw", false, true, &err) >
	            0);
	assert_int_equal(auth_account_set_pop(f->ad, "Frank", true), 0);
	assert_int_equal(auth_account_set_imap(f->ad, "frank", false), 0);
	assert_int_equal(
	        auth_account_set_state(f->ad, "frank", AUTH_STATE_DISABLED), 0);
	assert_int_equal(auth_account_get(f->ad, "frank", &a), 0);
	assert_true(a.pop_allowed);
	assert_false(a.imap_allowed);
	assert_int_equal(a.state, AUTH_STATE_DISABLED);
	assert_int_equal(auth_account_set_pop(f->ad, "nobody", true), -ENOENT);
	assert_int_equal(auth_account_set_imap(f->ad, "nobody", true), -ENOENT);
	assert_int_equal(
	        auth_account_set_state(f->ad, "nobody", AUTH_STATE_ACTIVE),
	        -ENOENT);
	assert_int_equal(
	        auth_account_set_state(f->ad, "frank", (enum auth_state)7),
	        -EINVAL);
}

static void test_account_del_and_ids_not_reused(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	int64_t id1, id2;

	id1 = auth_account_add(f->ad, "gina", "pw", false, true, &err);
	assert_true(id1 > 0);
	assert_int_equal(auth_account_del(f->ad, "GINA"), 0);
	assert_int_equal(auth_account_get(f->ad, "gina", &a), -ENOENT);
	assert_int_equal(auth_account_del(f->ad, "gina"), -ENOENT);
	assert_int_equal(auth_login(f->ad, "gina", "pw", &a), AUTH_FAILED);
	id2 = auth_account_add(f->ad, "gina", "pw", false, true, &err);
	assert_true(id2 > id1);
}

static void test_account_list_sorted(void **state)
{
	struct fixture *f = *state;
	struct auth_account *list = NULL;
	const char *err = NULL;
	size_t n = 99;

	assert_int_equal(auth_account_list(f->ad, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
	assert_true(auth_account_add(f->ad, "zed", NULL, 0, 1, &err) > 0);
	assert_true(auth_account_add(f->ad, "amy", NULL, 1, 1, &err) > 0);
	assert_true(auth_account_add(f->ad, "Max", NULL, 0, 0, &err) > 0);
	assert_int_equal(auth_account_list(f->ad, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "amy");
	assert_true(list[0].pop_allowed);
	assert_string_equal(list[1].name, "max");
	assert_string_equal(list[2].name, "zed");
	free(list);
}

static void test_reopen_keeps_accounts(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	char sub[128];

	assert_true(auth_account_add(f->ad, "hal", "pw", true, true, &err) > 0);
	auth_dir_close(&f->ad);
	snprintf(sub, sizeof sub, "%s/data/x", f->dir);
	assert_int_equal(auth_dir_open(sub, &f->ad, &err), 0);
	assert_int_equal(auth_login(f->ad, "hal", "pw", &a), AUTH_OK);
}

struct login_job {
	struct auth_dir *ad;
	int ok;
};

static void *login_thread(void *arg)
{
	struct login_job *j = arg;
	struct auth_account a;

	for (int i = 0; i < 2; i++) {
		if (auth_login(j->ad, "ivy", "pw", &a) == AUTH_OK &&
		    auth_login(j->ad, "ivy", "no", &a) == AUTH_FAILED)
			j->ok++;
	}
	return NULL;
}

static void test_concurrent_logins(void **state)
{
	struct fixture *f = *state;
	struct login_job jobs[4];
	pthread_t t[4];
	const char *err = NULL;

	assert_true(auth_account_add(f->ad, "ivy", "pw", true, true, &err) > 0);
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct login_job){f->ad, 0};
		assert_int_equal(
		        pthread_create(&t[i], NULL, login_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(jobs[i].ok, 2);
	}
}

/* Logins that ran the password hash since *mark; moves *mark on. */
static unsigned long hashed(unsigned long *mark)
{
	unsigned long now = auth__verify_count(), n = now - *mark;

	*mark = now;
	return n;
}

static void test_cache_second_login_skips_hash(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	int64_t id = auth_account_add(f->ad, "kim", "s3cret", true, true, &err);
	unsigned long mark = auth__verify_count();

	assert_true(id > 0);
	assert_int_equal(auth_login(f->ad, "kim", "s3cret", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	memset(&a, 0, sizeof a);
	assert_int_equal(auth_login(f->ad, "KIM", "s3cret", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);
	assert_int_equal(a.id, id);
	assert_string_equal(a.name, "kim");
	assert_int_equal(auth__cache_used(f->ad), 1);
	/* Failures are never cached: each one hashes, every time. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(auth_login(f->ad, "kim", "s3crex", &a),
		                 AUTH_FAILED);
		assert_int_equal(hashed(&mark), 1);
		assert_int_equal(auth_login(f->ad, "nobody", "s3cret", &a),
		                 AUTH_FAILED);
		assert_int_equal(hashed(&mark), 1);
	}
	/* The wrong passwords did not spoil the right one's entry. */
	assert_int_equal(auth_login(f->ad, "kim", "s3cret", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);
	/* A prefix or an extension of the password is another password. */
	assert_int_equal(auth_login(f->ad, "kim", "s3cre", &a), AUTH_FAILED);
	assert_int_equal(auth_login(f->ad, "kim", "s3cret ", &a), AUTH_FAILED);
	assert_int_equal(hashed(&mark), 2);
}

static void test_cache_policy_fields_fresh(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	unsigned long mark;

	assert_true(auth_account_add(f->ad, "lou", "pw", true, true, &err) > 0);
	assert_int_equal(auth_login(f->ad, "lou", "pw", &a), AUTH_OK);
	mark = auth__verify_count();
	/* A cached login still returns the row as it is now, so the
	 * caller's auth_policy_check sees every change at once. */
	assert_int_equal(
	        auth_account_set_state(f->ad, "lou", AUTH_STATE_DISABLED), 0);
	assert_int_equal(auth_account_set_imap(f->ad, "lou", false), 0);
	assert_int_equal(auth_login(f->ad, "lou", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);
	assert_int_equal(a.state, AUTH_STATE_DISABLED);
	assert_false(a.imap_allowed);
	assert_int_equal(auth_policy_check(&a, AUTH_PROTO_IMAP),
	                 AUTH_DENIED_DISABLED);
	assert_int_equal(
	        auth_account_set_state(f->ad, "lou", AUTH_STATE_ACTIVE), 0);
	assert_int_equal(auth_login(f->ad, "lou", "pw", &a), AUTH_OK);
	assert_int_equal(auth_policy_check(&a, AUTH_PROTO_IMAP),
	                 AUTH_DENIED_PROTOCOL);
	assert_int_equal(auth_policy_check(&a, AUTH_PROTO_POP3), AUTH_ALLOWED);
	assert_int_equal(hashed(&mark), 0);
}

static void test_cache_password_change(void **state)
{
	struct fixture *f = *state;
	struct auth_dir *other = NULL;
	struct auth_account a;
	const char *err = NULL;
	char sub[128];
	unsigned long mark;

	assert_true(auth_account_add(f->ad, "max", "old", true, true, &err) >
	            0);
	assert_int_equal(auth_login(f->ad, "max", "old", &a), AUTH_OK);
	assert_int_equal(auth_login(f->ad, "max", "old", &a), AUTH_OK);
	assert_int_equal(auth_account_set_password(f->ad, "max", "new"), 0);
	mark = auth__verify_count();
	assert_int_equal(auth_login(f->ad, "max", "old", &a), AUTH_FAILED);
	assert_int_equal(hashed(&mark), 1);
	assert_int_equal(auth_login(f->ad, "max", "new", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	assert_int_equal(auth_login(f->ad, "max", "new", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);

	/* Changed by another process (the admin tool): the stored hash is
	 * read at each login, so the entry misses at once. */
	snprintf(sub, sizeof sub, "%s/data/x", f->dir);
	assert_int_equal(auth_dir_open(sub, &other, &err), 0);
	assert_int_equal(auth_account_set_password(other, "max", "newer"), 0);
	auth_dir_close(&other);
	mark = auth__verify_count();
	assert_int_equal(auth_login(f->ad, "max", "new", &a), AUTH_FAILED);
	assert_int_equal(auth_login(f->ad, "max", "newer", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 2);

	/* Even the same password again is a new hash (a new salt). */
	assert_int_equal(auth_account_set_password(f->ad, "max", "newer"), 0);
	assert_int_equal(auth_login(f->ad, "max", "newer", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);

	/* Removed, then re-made with the same name and password: a new id
	 * and hash, never the old entry. */
	assert_int_equal(auth_account_del(f->ad, "max"), 0);
	assert_int_equal(auth_login(f->ad, "max", "newer", &a), AUTH_FAILED);
	assert_true(auth_account_add(f->ad, "max", "newer", true, true, &err) >
	            0);
	mark = auth__verify_count();
	assert_int_equal(auth_login(f->ad, "max", "newer", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now;
}

static void test_cache_expiry(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	unsigned long mark;

	assert_true(auth_account_add(f->ad, "ned", "pw", true, true, &err) > 0);
	fake_now = 1000;
	auth__cache_set_clock(f->ad, fake_clock);
	mark = auth__verify_count();
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	/* A hit does not extend the entry's life. */
	fake_now += AUTH_CACHE_TTL_DEFAULT - 1;
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);
	fake_now += 1;
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);
	/* A clock that went backwards expires it too. */
	fake_now -= 10;
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);

	/* A short ttl set through the API. */
	assert_int_equal(auth_dir_set_cache(f->ad, 100, 5), 0);
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	fake_now += 4;
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	fake_now += 1;
	assert_int_equal(auth_login(f->ad, "ned", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	auth__cache_set_clock(f->ad, NULL);
}

static void test_cache_bounded(void **state)
{
	struct fixture *f = *state;
	struct auth_account a;
	const char *err = NULL;
	const char *const names[] = {"u1", "u2", "u3"};
	unsigned long mark;

	assert_int_equal(auth_dir_set_cache(f->ad, 1000001, 60), -EINVAL);
	assert_int_equal(auth_dir_set_cache(f->ad, 10, -1), -EINVAL);
	assert_int_equal(auth_dir_set_cache(f->ad, 2, 3600), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(auth_account_add(f->ad, names[i], "pw", true, true,
		                             &err) > 0);
		assert_int_equal(auth_login(f->ad, names[i], "pw", &a),
		                 AUTH_OK);
	}
	assert_int_equal(auth__cache_used(f->ad), 2);
	/* u1 was evicted (least recently used); u2 and u3 are cached. */
	mark = auth__verify_count();
	assert_int_equal(auth_login(f->ad, "u3", "pw", &a), AUTH_OK);
	assert_int_equal(auth_login(f->ad, "u2", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);
	assert_int_equal(auth_login(f->ad, "u1", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	/* Now u3 is the least recently used one. */
	assert_int_equal(auth_login(f->ad, "u2", "pw", &a), AUTH_OK);
	assert_int_equal(auth_login(f->ad, "u1", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 0);
	assert_int_equal(auth_login(f->ad, "u3", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 1);
	assert_int_equal(auth__cache_used(f->ad), 2);

	/* A size that is not a multiple of the set size never holds more
	 * than asked for. */
	assert_int_equal(auth_dir_set_cache(f->ad, 3, 3600), 0);
	assert_int_equal(auth__cache_used(f->ad), 0);
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < 3; i++)
			assert_int_equal(auth_login(f->ad, names[i], "pw", &a),
			                 AUTH_OK);
	}
	assert_int_equal(hashed(&mark), 3);
	assert_int_equal(auth__cache_used(f->ad), 3);

	/* Off: every login hashes. */
	assert_int_equal(auth_dir_set_cache(f->ad, 0, 3600), 0);
	assert_int_equal(auth_login(f->ad, "u1", "pw", &a), AUTH_OK);
	assert_int_equal(auth_login(f->ad, "u1", "pw", &a), AUTH_OK);
	assert_int_equal(hashed(&mark), 2);
	assert_int_equal(auth__cache_used(f->ad), 0);
}

static void test_policy_matrix(void **state)
{
	struct auth_account a;

	(void)state;
	memset(&a, 0, sizeof a);
	for (int st = 0; st < 2; st++) {
		for (int pop = 0; pop < 2; pop++) {
			for (int imap = 0; imap < 2; imap++) {
				enum auth_policy want_pop, want_imap;

				a.state = st ? AUTH_STATE_DISABLED
				             : AUTH_STATE_ACTIVE;
				a.pop_allowed = pop;
				a.imap_allowed = imap;
				want_pop = st    ? AUTH_DENIED_DISABLED
				           : pop ? AUTH_ALLOWED
				                 : AUTH_DENIED_PROTOCOL;
				want_imap = st     ? AUTH_DENIED_DISABLED
				            : imap ? AUTH_ALLOWED
				                   : AUTH_DENIED_PROTOCOL;
				assert_int_equal(
				        auth_policy_check(&a, AUTH_PROTO_POP3),
				        want_pop);
				assert_int_equal(
				        auth_policy_check(&a, AUTH_PROTO_IMAP),
				        want_imap);
			}
		}
	}
}

/* Base64-encode len bytes of in into out (4 * ceil(len / 3) + 1). */
static void b64(const void *in, size_t len, char *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                         "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[o++] = al[v >> 18 & 63];
		out[o++] = al[v >> 12 & 63];
		out[o++] = i + 1 < len ? al[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? al[v & 63] : '=';
	}
	out[o] = '\0';
}

struct sasl_out {
	char authzid[AUTH_PASSWORD_MAX + 1];
	char authcid[AUTH_PASSWORD_MAX + 1];
	char passwd[AUTH_PASSWORD_MAX + 1];
};

/* Decode the raw message msg (len bytes) after encoding it. */
static int decode_raw(const char *msg, size_t len, struct sasl_out *o)
{
	char *enc = malloc(len / 3 * 4 + 8);
	int ret;

	assert_non_null(enc);
	b64(msg, len, enc);
	ret = sasl_plain_decode(enc, strlen(enc), o->authzid, o->authcid,
	                        o->passwd);
	free(enc);
	return ret;
}

static void test_sasl_plain_valid(void **state)
{
	struct sasl_out o;

	(void)state;
	/* RFC 4616 §4 example: no authzid. */
	assert_int_equal(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", 28,
	                                   o.authzid, o.authcid, o.passwd),
	                 0);
	assert_string_equal(o.authzid, "");
	assert_string_equal(o.authcid, "tim");
	assert_string_equal(o.passwd, "tanstaaftanstaaf");
	/* With an authzid; lengths giving each padding case. */
	assert_int_equal(decode_raw("Ursel\0Kurt\0xipj3plmq", 20, &o), 0);
	assert_string_equal(o.authzid, "Ursel");
	assert_string_equal(o.authcid, "Kurt");
	assert_string_equal(o.passwd, "xipj3plmq");
	assert_int_equal(decode_raw("\0a\0b", 4, &o), 0);
	assert_string_equal(o.passwd, "b");
	assert_int_equal(decode_raw("\0a\0bc", 5, &o), 0);
	assert_string_equal(o.passwd, "bc");
	assert_int_equal(decode_raw("\0a\0bcd", 6, &o), 0);
	assert_string_equal(o.passwd, "bcd");
}

static void test_sasl_plain_bad_base64(void **state)
{
	struct sasl_out o;
	static const char *const bad[] = {
	        "",             /* empty */
	        "AHRpbQB0YW5",  /* not a multiple of 4 */
	        "AHRp!QB0YW5z", /* bad character */
	        "AHRp bQB0YW5", /* space */
	        "AH=pbQB0YW5z", /* '=' in the middle */
	        "AHRpbQ=0YW5z", /* '=' not at the end */
	        "AGEAYg=a",     /* digit after padding */
	        "AGEAY===",     /* three '=' */
	        "AGEAYh==",     /* non-zero padding bits */
	        "AGEAYmL=",     /* non-zero padding bits */
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		strcpy(o.passwd, "junk");
		assert_int_equal(sasl_plain_decode(bad[i], strlen(bad[i]),
		                                   o.authzid, o.authcid,
		                                   o.passwd),
		                 -EINVAL);
		assert_string_equal(o.passwd, "");
	}
}

static void test_sasl_plain_bad_structure(void **state)
{
	struct sasl_out o;

	(void)state;
	assert_int_equal(decode_raw("alice", 5, &o), -EINVAL);
	assert_int_equal(decode_raw("alice\0pw", 8, &o), -EINVAL);
	assert_int_equal(decode_raw("\0alice\0pw\0", 10, &o), -EINVAL);
	assert_int_equal(decode_raw("\0alice\0p\0w", 10, &o), -EINVAL);
	assert_int_equal(decode_raw("\0alice\0", 7, &o), -EINVAL);
	assert_int_equal(decode_raw("\0\0pw", 4, &o), -EINVAL);
	assert_int_equal(decode_raw("z\0\0pw", 5, &o), -EINVAL);
}

static void test_sasl_plain_part_limits(void **state)
{
	size_t n = 3 + AUTH_PASSWORD_MAX + 1;
	char *msg = malloc(n);
	struct sasl_out *o = malloc(sizeof *o);

	(void)state;
	assert_non_null(msg);
	assert_non_null(o);
	/* "\0a\0" then a password of exactly AUTH_PASSWORD_MAX bytes. */
	memcpy(msg, "\0a\0", 3);
	memset(msg + 3, 'p', AUTH_PASSWORD_MAX + 1);
	assert_int_equal(decode_raw(msg, n - 1, o), 0);
	assert_int_equal(strlen(o->passwd), AUTH_PASSWORD_MAX);
	assert_int_equal(decode_raw(msg, n, o), -EINVAL);
	free(msg);
	free(o);
}

static void test_name_validation(void **state)
{
	static const char *const good[] = {
	        "a",   "alice",      "Alice", "a.b-c_d+e", "bob@example.org",
	        "x@y", "0123456789",
	};
	static const char *const bad[] = {
	        "",   "a b", "a/b",  "../x", "a@b@c", "@x",
	        "x@", "é",   "a\tb", "a;b",  "a%b",
	};
	char longname[AUTH_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(auth_name_valid(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(auth_name_valid(bad[i]));
	assert_false(auth_name_valid(NULL));
	memset(longname, 'a', sizeof longname);
	longname[AUTH_NAME_MAX] = '\0';
	assert_true(auth_name_valid(longname));
	longname[AUTH_NAME_MAX] = 'a';
	longname[AUTH_NAME_MAX + 1] = '\0';
	assert_false(auth_name_valid(longname));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hash_is_yescrypt_and_verifies),
	        cmocka_unit_test(test_verify_legacy_schemes),
	        cmocka_unit_test(test_verify_rejects_other_hashes),
	        cmocka_unit_test(test_password_too_long_refused),
	        cmocka_unit_test(test_hash_small_buffer_refused),
	        T(test_account_add_get_case_insensitive),
	        T(test_account_add_duplicate_and_invalid),
	        T(test_login_ok_wrong_unknown),
	        T(test_login_without_password_fails),
	        T(test_account_settings_change),
	        T(test_account_del_and_ids_not_reused),
	        T(test_account_list_sorted),
	        T(test_reopen_keeps_accounts),
	        T(test_concurrent_logins),
	        T(test_cache_second_login_skips_hash),
	        T(test_cache_policy_fields_fresh),
	        T(test_cache_password_change),
	        T(test_cache_expiry),
	        T(test_cache_bounded),
	        cmocka_unit_test(test_policy_matrix),
	        cmocka_unit_test(test_sasl_plain_valid),
	        cmocka_unit_test(test_sasl_plain_bad_base64),
	        cmocka_unit_test(test_sasl_plain_bad_structure),
	        cmocka_unit_test(test_sasl_plain_part_limits),
	        cmocka_unit_test(test_name_validation),
	};

	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
