/*
 * Unit tests of storage/: account files, mailboxes, append/list/read round
 * trips with CRLF conversion, UIDs and UIDLs, expunge, durability across a
 * reopen and across a process that dies without closing, the POP3 lock,
 * and change announcements (the callback, and changes by other connections
 * and processes).  Each test works in a fresh mkdtemp() data directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

struct fixture {
	char dir[64];
	struct store *store;
	struct store_account *a;
	struct store_mailbox_info inbox;
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

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_new(f->dir, &f->store, &err), STORE_OK);
	assert_int_equal(store_account_create(f->store, 7), STORE_OK);
	assert_int_equal(store_account_open(f->store, 7, &f->a), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &f->inbox), STORE_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_account_close(&f->a);
	assert_null(f->a);
	store_free(&f->store);
	assert_null(f->store);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Reopen the account in a fresh store handle, as another process would. */
static void reopen(struct fixture *f)
{
	const char *err = NULL;

	store_account_close(&f->a);
	store_free(&f->store);
	assert_int_equal(store_new(f->dir, &f->store, &err), STORE_OK);
	assert_int_equal(store_account_open(f->store, 7, &f->a), STORE_OK);
}

/* Read the whole message uid into a malloc'd buffer. */
static char *read_all(struct fixture *f, uint32_t uid, size_t *len_r)
{
	size_t cap = 16, len = 0, got;
	char *buf = malloc(cap);

	assert_non_null(buf);
	for (int i = 0; i < 100000; i++) {
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		assert_int_equal(store_read(f->a, f->inbox.id, uid, len,
		                            buf + len, cap - len, &got),
		                 STORE_OK);
		if (got == 0)
			break;
		len += got;
	}
	*len_r = len;
	return buf;
}

static void test_account_file_layout(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct stat st;

	snprintf(path, sizeof path, "%s/mail/07/7.db", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(store_account_create(f->store, 7), STORE_E_EXISTS);
	assert_int_equal(store_account_create(f->store, 263), STORE_OK);
	snprintf(path, sizeof path, "%s/mail/07/263.db", f->dir);
	assert_int_equal(stat(path, &st), 0);
}

static void test_account_remove_and_open_missing(void **state)
{
	struct fixture *f = *state;
	struct store_account *b = NULL;
	char path[128];
	struct stat st;

	assert_int_equal(store_account_open(f->store, 8, &b), STORE_E_NOTFOUND);
	assert_int_equal(store_account_create(f->store, 8), STORE_OK);
	assert_int_equal(store_account_open(f->store, 8, &b), STORE_OK);
	store_account_close(&b);
	assert_int_equal(store_account_remove(f->store, 8), STORE_OK);
	snprintf(path, sizeof path, "%s/mail/08/8.db", f->dir);
	assert_int_not_equal(stat(path, &st), 0);
	snprintf(path, sizeof path, "%s/mail/08/8.db-wal", f->dir);
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_equal(store_account_remove(f->store, 8), STORE_E_NOTFOUND);
	assert_int_equal(store_account_open(f->store, 8, &b), STORE_E_NOTFOUND);
}

/* A closed handle is kept and handed out again for the same account (no
 * reopen, and no checkpoint-on-close fsyncs per delivery), with what was
 * committed through it; other accounts get their own. */
static void test_closed_handles_reused(void **state)
{
	struct fixture *f = *state;
	struct store_account *kept = f->a, *b = NULL;
	struct store_mailbox_info info;

	assert_int_equal(store_append(f->a, f->inbox.id, "A: 1\r\n\r\nx\r\n",
	                              11, 0, 0, NULL, NULL),
	                 STORE_OK);
	store_account_close(&f->a);
	assert_int_equal(store_account_create(f->store, 8), STORE_OK);
	assert_int_equal(store_account_open(f->store, 8, &b), STORE_OK);
	assert_ptr_not_equal(b, kept);
	assert_int_equal(store_mailbox_get(b, "INBOX", &info), STORE_OK);
	assert_int_equal(info.messages, 0);
	store_account_close(&b);
	assert_int_equal(store_account_open(f->store, 7, &f->a), STORE_OK);
	assert_ptr_equal(f->a, kept);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &info), STORE_OK);
	assert_int_equal(info.messages, 1);
}

static void test_default_mailboxes(void **state)
{
	static const char *const names[] = {"INBOX", "Drafts", "Sent",
	                                    "Trash", "Junk",   "Archive"};
	struct fixture *f = *state;
	struct store_mailbox_info mb, prev = {0};

	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(store_mailbox_get(f->a, names[i], &mb),
		                 STORE_OK);
		assert_int_equal(mb.messages, 0);
		assert_int_equal(mb.bytes, 0);
		assert_int_equal(mb.uidnext, 1);
		assert_true(mb.uidvalidity > 0);
		/* Distinct UIDVALIDITYs, so generated UIDLs never clash. */
		assert_true(mb.uidvalidity > prev.uidvalidity);
		prev = mb;
	}
	assert_int_equal(store_mailbox_get(f->a, "inbox", &mb), STORE_OK);
	assert_int_equal(mb.id, f->inbox.id);
	assert_int_equal(store_mailbox_get(f->a, "iNbOx", &mb), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "sent", &mb),
	                 STORE_E_NOTFOUND);
	assert_int_equal(store_mailbox_get(f->a, "Nope", &mb),
	                 STORE_E_NOTFOUND);
}

static void test_append_list_read_crlf(void **state)
{
	struct fixture *f = *state;
	static const char in[] = "a\nb\r\nc\rd\r\r\n\n";
	static const char want[] = "a\r\nb\r\nc\r\nd\r\n\r\n\r\n";
	struct store_msg *msgs = NULL;
	struct store_mailbox_info mb;
	size_t n = 0, len;
	uint32_t uid = 0;
	char *body;

	assert_int_equal(store_append(f->a, f->inbox.id, in, sizeof in - 1,
	                              1700000000, STORE_F_SEEN, NULL, &uid),
	                 STORE_OK);
	assert_int_equal(uid, 1);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[0].size, sizeof want - 1);
	assert_int_equal(msgs[0].internal_date, 1700000000);
	assert_int_equal(msgs[0].flags, STORE_F_SEEN);
	assert_true(msgs[0].modseq > f->inbox.highestmodseq);
	free(msgs);
	body = read_all(f, 1, &len);
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(body, want, len);
	free(body);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.messages, 1);
	assert_int_equal(mb.bytes, sizeof want - 1);
	assert_int_equal(mb.uidnext, 2);
	assert_int_equal(mb.highestmodseq, f->inbox.highestmodseq + 1);
}

static void test_append_trailing_cr_and_empty(void **state)
{
	struct fixture *f = *state;
	struct store_msg *msgs = NULL;
	size_t n = 0, len;
	char *body;

	assert_int_equal(
	        store_append(f->a, f->inbox.id, "x\r", 2, 0, 0, NULL, NULL),
	        STORE_OK);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "", 0, 0, 0, NULL, NULL),
	        STORE_OK);
	body = read_all(f, 1, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(body, "x\r\n", 3);
	free(body);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[1].size, 0);
	/* Internal date 0 means now. */
	assert_true(msgs[1].internal_date > 1600000000);
	free(msgs);
}

/* A body bigger than the append's chunk, with line ends across chunk
 * boundaries, read back in odd-sized pieces at every kind of offset. */
static void test_large_message_incremental_read(void **state)
{
	struct fixture *f = *state;
	size_t in_len = 300000, want_len = 0, got;
	char *in = malloc(in_len), *want = malloc(2 * in_len), buf[777];
	uint64_t off;

	assert_non_null(in);
	assert_non_null(want);
	for (size_t i = 0; i < in_len; i++) {
		in[i] = i % 61 == 60 ? '\n' : (char)('A' + i % 26);
		if (in[i] == '\n')
			want[want_len++] = '\r';
		want[want_len++] = in[i];
	}
	assert_int_equal(
	        store_append(f->a, f->inbox.id, in, in_len, 0, 0, NULL, NULL),
	        STORE_OK);
	for (off = 0; off < want_len; off += got) {
		assert_int_equal(store_read(f->a, f->inbox.id, 1, off, buf,
		                            sizeof buf, &got),
		                 STORE_OK);
		assert_true(got > 0);
		assert_memory_equal(buf, want + off, got);
	}
	assert_int_equal(off, want_len);
	/* At and past the end: nothing, and no error. */
	assert_int_equal(store_read(f->a, f->inbox.id, 1, want_len, buf,
	                            sizeof buf, &got),
	                 STORE_OK);
	assert_int_equal(got, 0);
	assert_int_equal(store_read(f->a, f->inbox.id, 1, want_len + 5, buf,
	                            sizeof buf, &got),
	                 STORE_OK);
	assert_int_equal(got, 0);
	/* A read in the middle. */
	assert_int_equal(store_read(f->a, f->inbox.id, 1, 12345, buf, 10, &got),
	                 STORE_OK);
	assert_int_equal(got, 10);
	assert_memory_equal(buf, want + 12345, 10);
	free(in);
	free(want);
}

static void test_uids_ascending_never_reused(void **state)
{
	struct fixture *f = *state;
	uint32_t uid, all[5], gone[] = {4, 5};
	struct store_msg *msgs = NULL;
	size_t n = 0;

	for (int i = 0; i < 5; i++) {
		assert_int_equal(store_append(f->a, f->inbox.id, "m", 1, 0, 0,
		                              NULL, &all[i]),
		                 STORE_OK);
		assert_int_equal(all[i], (uint32_t)i + 1);
	}
	/* Expunge the highest UIDs, then reopen: the next UID is still 6. */
	assert_int_equal(store_expunge(f->a, f->inbox.id, gone, 2), STORE_OK);
	reopen(f);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, NULL, &uid),
	        STORE_OK);
	assert_int_equal(uid, 6);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 4);
	for (size_t i = 1; i < n; i++)
		assert_true(msgs[i].uid > msgs[i - 1].uid);
	assert_int_equal(msgs[3].uid, 6);
	free(msgs);
}

static void test_uidls_unique_and_stable(void **state)
{
	struct fixture *f = *state;
	struct store_msg *before = NULL, *after = NULL;
	struct store_mailbox_info sent;
	size_t n = 0, m = 0;
	uint32_t one = 1;

	for (int i = 0; i < 10; i++)
		assert_int_equal(store_append(f->a, f->inbox.id, "m", 1, 0, 0,
		                              NULL, NULL),
		                 STORE_OK);
	/* Same UIDs in another mailbox must still get other UIDLs. */
	assert_int_equal(store_mailbox_get(f->a, "Sent", &sent), STORE_OK);
	assert_int_equal(store_append(f->a, sent.id, "m", 1, 0, 0, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_list(f->a, f->inbox.id, &before, &n), STORE_OK);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(before[i].uidl);

		assert_true(len >= 1 && len <= STORE_UIDL_MAX);
		for (size_t k = 0; k < len; k++)
			assert_true(before[i].uidl[k] >= 0x21 &&
			            before[i].uidl[k] <= 0x7e);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(before[i].uidl, before[j].uidl);
	}
	assert_int_equal(store_list(f->a, sent.id, &after, &m), STORE_OK);
	assert_int_equal(m, 1);
	assert_string_not_equal(after[0].uidl, before[0].uidl);
	free(after);
	/* Expunging one message leaves the others' UIDLs as they were. */
	assert_int_equal(store_expunge(f->a, f->inbox.id, &one, 1), STORE_OK);
	reopen(f);
	assert_int_equal(store_list(f->a, f->inbox.id, &after, &m), STORE_OK);
	assert_int_equal(m, 9);
	for (size_t i = 0; i < m; i++) {
		assert_int_equal(after[i].uid, before[i + 1].uid);
		assert_string_equal(after[i].uidl, before[i + 1].uidl);
	}
	free(before);
	free(after);
}

static void test_imported_uidl_kept_and_invalid_refused(void **state)
{
	struct fixture *f = *state;
	struct store_msg *msgs = NULL;
	char uidl70[STORE_UIDL_MAX + 2];
	size_t n = 0;

	assert_int_equal(store_append(f->a, f->inbox.id, "m", 1, 0, 0,
	                              "<old-server.1234@x>", NULL),
	                 STORE_OK);
	assert_int_equal(store_append(f->a, f->inbox.id, "m", 1, 0, 0,
	                              "<old-server.1234@x>", NULL),
	                 STORE_E_EXISTS);
	assert_int_equal(store_append(f->a, f->inbox.id, "m", 1, 0, 0,
	                              "has space", NULL),
	                 STORE_E_INVALID);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, "", NULL),
	        STORE_E_INVALID);
	assert_int_equal(store_append(f->a, f->inbox.id, "m", 1, 0, 0,
	                              "tab\there", NULL),
	                 STORE_E_INVALID);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, "\x7f", NULL),
	        STORE_E_INVALID);
	memset(uidl70, '~', sizeof uidl70);
	uidl70[STORE_UIDL_MAX + 1] = '\0';
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, uidl70, NULL),
	        STORE_E_INVALID);
	uidl70[STORE_UIDL_MAX] = '\0';
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, uidl70, NULL),
	        STORE_OK);
	reopen(f);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	/* Failed appends stored nothing and used no UID. */
	assert_int_equal(n, 2);
	assert_string_equal(msgs[0].uidl, "<old-server.1234@x>");
	assert_string_equal(msgs[1].uidl, uidl70);
	assert_int_equal(msgs[1].uid, 2);
	free(msgs);
}

static void test_append_bad_arguments(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(store_append(f->a, 9999, "m", 1, 0, 0, NULL, NULL),
	                 STORE_E_NOTFOUND);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 1u << 9, NULL, NULL),
	        STORE_E_INVALID);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, NULL, 1, 0, 0, NULL, NULL),
	        STORE_E_INVALID);
}

static void test_expunge_removes_exactly_given(void **state)
{
	struct fixture *f = *state;
	uint32_t del[] = {2, 4, 4, 99}, none[] = {50};
	struct store_msg *msgs = NULL;
	struct store_mailbox_info mb, mb2;
	size_t n = 0, got;
	char buf[8];

	for (int i = 0; i < 5; i++)
		assert_int_equal(store_append(f->a, f->inbox.id, "abc", 3, 0, 0,
		                              NULL, NULL),
		                 STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &mb), STORE_OK);
	assert_int_equal(store_expunge(f->a, f->inbox.id, del, 4), STORE_OK);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[1].uid, 3);
	assert_int_equal(msgs[2].uid, 5);
	free(msgs);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &mb2), STORE_OK);
	assert_int_equal(mb2.messages, 3);
	assert_int_equal(mb2.bytes, 3 * 3);
	assert_int_equal(mb2.highestmodseq, mb.highestmodseq + 1);
	assert_int_equal(
	        store_read(f->a, f->inbox.id, 2, 0, buf, sizeof buf, &got),
	        STORE_E_EXPUNGED);
	assert_int_equal(got, 0);
	/* Nothing to remove: nothing changes. */
	assert_int_equal(store_expunge(f->a, f->inbox.id, none, 1), STORE_OK);
	assert_int_equal(store_expunge(f->a, f->inbox.id, NULL, 0), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.highestmodseq, mb2.highestmodseq);
	assert_int_equal(mb.messages, 3);
}

static void test_expunge_in_one_mailbox_only(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info trash;
	struct store_msg *msgs = NULL;
	uint32_t one = 1;
	size_t n = 0;

	assert_int_equal(store_mailbox_get(f->a, "Trash", &trash), STORE_OK);
	assert_int_equal(store_append(f->a, trash.id, "t", 1, 0, 0, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "i", 1, 0, 0, NULL, NULL),
	        STORE_OK);
	assert_int_equal(store_expunge(f->a, f->inbox.id, &one, 1), STORE_OK);
	assert_int_equal(store_list(f->a, trash.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 1);
	free(msgs);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_null(msgs);
}

static void test_append_durable_across_reopen(void **state)
{
	struct fixture *f = *state;
	struct store_msg *msgs = NULL;
	size_t n = 0, len;
	char *body;

	assert_int_equal(store_append(f->a, f->inbox.id, "durable\n", 8, 0, 0,
	                              NULL, NULL),
	                 STORE_OK);
	reopen(f);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 1);
	free(msgs);
	body = read_all(f, 1, &len);
	assert_int_equal(len, 9);
	assert_memory_equal(body, "durable\r\n", 9);
	free(body);
}

/* A child process appends, then dies with _exit() without closing
 * anything: the acknowledged message must be there for the parent. */
static void test_append_survives_process_death(void **state)
{
	struct fixture *f = *state;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	int status;
	pid_t pid;

	/* The parent's connection is not shared with the child. */
	store_account_close(&f->a);
	store_free(&f->store);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		struct store_account *a;
		const char *err;
		uint32_t uid = 0;

		if (store_new(f->dir, &s, &err) != STORE_OK ||
		    store_account_open(s, 7, &a) != STORE_OK ||
		    store_append(a, f->inbox.id, "crash\n", 6, 0, 0, "keep-me",
		                 &uid) != STORE_OK ||
		    uid != 1)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	reopen(f);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(msgs[0].uidl, "keep-me");
	assert_int_equal(msgs[0].size, 7);
	free(msgs);
}

static void test_pop_lock_in_use(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(store_pop_lock(f->store, 7), STORE_OK);
	assert_int_equal(store_pop_lock(f->store, 7), STORE_E_INUSE);
	assert_int_equal(store_pop_lock(f->store, 8), STORE_OK);
	store_pop_unlock(f->store, 7);
	assert_int_equal(store_pop_lock(f->store, 8), STORE_E_INUSE);
	assert_int_equal(store_pop_lock(f->store, 7), STORE_OK);
	store_pop_unlock(f->store, 7);
	store_pop_unlock(f->store, 8);
	/* Unlocking what is not locked is harmless. */
	store_pop_unlock(f->store, 8);
	for (int64_t id = 1; id <= 200; id++)
		assert_int_equal(store_pop_lock(f->store, id), STORE_OK);
	assert_int_equal(store_pop_lock(f->store, 100), STORE_E_INUSE);
	for (int64_t id = 1; id <= 200; id++)
		store_pop_unlock(f->store, id);
	assert_int_equal(store_pop_lock(f->store, 100), STORE_OK);
	store_pop_unlock(f->store, 100);
}

static void test_two_handles_see_each_other(void **state)
{
	struct fixture *f = *state;
	struct store_account *b = NULL;
	struct store_msg *msgs = NULL;
	uint32_t uid1 = 0, uid2 = 0;
	size_t n = 0;

	assert_int_equal(store_account_open(f->store, 7, &b), STORE_OK);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "1", 1, 0, 0, NULL, &uid1),
	        STORE_OK);
	assert_int_equal(
	        store_append(b, f->inbox.id, "2", 1, 0, 0, NULL, &uid2),
	        STORE_OK);
	assert_int_equal(uid2, uid1 + 1);
	assert_int_equal(store_list(b, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 2);
	free(msgs);
	assert_int_equal(store_expunge(b, f->inbox.id, &uid1, 1), STORE_OK);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].uid, uid2);
	free(msgs);
	store_account_close(&b);
}

/* store_read keeps a body open between calls; that must never hide a
 * change made meanwhile, through this handle or another. */
static void test_partial_read_then_changes(void **state)
{
	struct fixture *f = *state;
	struct store_account *b = NULL;
	struct store_msg *msgs = NULL;
	uint32_t one = 1, two = 2;
	size_t n = 0, got;
	char buf[4];

	assert_int_equal(store_append(f->a, f->inbox.id, "abcdefgh", 8, 0, 0,
	                              NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_read(f->a, f->inbox.id, 1, 0, buf, 4, &got),
	                 STORE_OK);
	assert_memory_equal(buf, "abcd", 4);
	/* Another connection delivers: this handle's list sees it. */
	assert_int_equal(store_account_open(f->store, 7, &b), STORE_OK);
	assert_int_equal(store_append(b, f->inbox.id, "x", 1, 0, 0, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 2);
	free(msgs);
	/* Mid-read, another connection expunges: this read finishes from a
	 * consistent snapshot, and the next one finds the message gone. */
	assert_int_equal(store_read(f->a, f->inbox.id, 1, 0, buf, 4, &got),
	                 STORE_OK);
	assert_int_equal(store_expunge(b, f->inbox.id, &one, 1), STORE_OK);
	assert_int_equal(store_read(f->a, f->inbox.id, 1, 4, buf, 4, &got),
	                 STORE_OK);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "efgh", 4);
	assert_int_equal(store_read(f->a, f->inbox.id, 1, 0, buf, 4, &got),
	                 STORE_E_EXPUNGED);
	/* Mid-read, this handle expunges: the message is gone at once. */
	assert_int_equal(store_read(f->a, f->inbox.id, 2, 0, buf, 0, &got),
	                 STORE_OK);
	assert_int_equal(store_expunge(f->a, f->inbox.id, &two, 1), STORE_OK);
	assert_int_equal(store_read(f->a, f->inbox.id, 2, 0, buf, 1, &got),
	                 STORE_E_EXPUNGED);
	store_account_close(&b);
}

/* What the change callback saw: each call appended here. */
struct seen {
	struct store_change ch[16];
	int n;
};

static void record_change(void *ctx, const struct store_change *ch)
{
	struct seen *seen = ctx;

	assert_true(seen->n < 16);
	seen->ch[seen->n++] = *ch;
}

static void assert_change(const struct store_change *ch, int64_t mailbox_id,
                          enum store_change_kind kind, uint32_t uidnext,
                          uint64_t highestmodseq)
{
	assert_int_equal(ch->account_id, 7);
	assert_int_equal(ch->mailbox_id, mailbox_id);
	assert_int_equal(ch->kind, kind);
	assert_int_equal(ch->uidnext, uidnext);
	assert_int_equal(ch->highestmodseq, highestmodseq);
}

static void test_change_cb_once_per_append_and_expunge(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info trash, mb;
	struct seen seen = {0};
	uint32_t del[] = {1, 2, 99};
	uint64_t m0 = f->inbox.highestmodseq;

	assert_int_equal(store_mailbox_get(f->a, "Trash", &trash), STORE_OK);
	store_set_change_cb(f->store, record_change, &seen);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_append(f->a, f->inbox.id, "m", 1, 0, 0,
		                              NULL, NULL),
		                 STORE_OK);
	assert_int_equal(seen.n, 3);
	for (int i = 0; i < 3; i++)
		assert_change(&seen.ch[i], f->inbox.id, STORE_CHANGE_APPEND,
		              (uint32_t)i + 2, m0 + (uint64_t)i + 1);
	assert_int_equal(store_append(f->a, trash.id, "t", 1, 0, 0, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(seen.n, 4);
	assert_change(&seen.ch[3], trash.id, STORE_CHANGE_APPEND, 2,
	              trash.highestmodseq + 1);
	/* One expunge of two messages (and one UID not there): one call. */
	assert_int_equal(store_expunge(f->a, f->inbox.id, del, 3), STORE_OK);
	assert_int_equal(seen.n, 5);
	assert_change(&seen.ch[4], f->inbox.id, STORE_CHANGE_EXPUNGE, 4,
	              m0 + 4);
	/* The announced counters are what a reader then finds. */
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &mb), STORE_OK);
	assert_int_equal(mb.uidnext, seen.ch[4].uidnext);
	assert_int_equal(mb.highestmodseq, seen.ch[4].highestmodseq);
	/* Expunging what is gone, or nothing, changes nothing: no call. */
	assert_int_equal(store_expunge(f->a, f->inbox.id, del, 3), STORE_OK);
	assert_int_equal(store_expunge(f->a, f->inbox.id, NULL, 0), STORE_OK);
	assert_int_equal(seen.n, 5);
	/* Without a callback, changes still work and nothing is recorded. */
	store_set_change_cb(f->store, NULL, NULL);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, NULL, NULL),
	        STORE_OK);
	assert_int_equal(seen.n, 5);
}

/* A failed or rolled-back change is never announced. */
static void test_change_cb_not_called_on_failure(void **state)
{
	struct fixture *f = *state;
	struct seen seen = {0};
	uint32_t one = 1;

	store_set_change_cb(f->store, record_change, &seen);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, "bad uidl", NULL),
	        STORE_E_INVALID);
	assert_int_equal(store_append(f->a, 9999, "m", 1, 0, 0, NULL, NULL),
	                 STORE_E_NOTFOUND);
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, "dup", NULL),
	        STORE_OK);
	assert_int_equal(seen.n, 1);
	/* Fails inside the transaction (UNIQUE uidl), after the UID was
	 * taken: rolled back, so not announced. */
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, "dup", NULL),
	        STORE_E_EXISTS);
	assert_int_equal(store_expunge(f->a, 9999, &one, 1), STORE_E_NOTFOUND);
	assert_int_equal(store_expunge(f->a, f->inbox.id, NULL, 1),
	                 STORE_E_INVALID);
	assert_int_equal(seen.n, 1);
	assert_change(&seen.ch[0], f->inbox.id, STORE_CHANGE_APPEND, 2,
	              f->inbox.highestmodseq + 1);
}

static void test_account_changed_by_other_connection(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = NULL;
	struct store_account *b = NULL;
	const char *err = NULL;
	uint32_t uid = 0;
	bool changed = true;

	/* The first call sets the baseline. */
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
	/* This handle's own changes are announced by the callback. */
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, NULL, &uid),
	        STORE_OK);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
	/* Another store instance on the same data dir, as another process
	 * would have: its commit is noticed, once. */
	assert_int_equal(store_new(f->dir, &s2, &err), STORE_OK);
	assert_int_equal(store_account_open(s2, 7, &b), STORE_OK);
	assert_int_equal(store_append(b, f->inbox.id, "x", 1, 0, 0, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_true(changed);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
	/* An expunge by the other connection is noticed too. */
	assert_int_equal(store_expunge(b, f->inbox.id, &uid, 1), STORE_OK);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_true(changed);
	/* A read by the other connection is not a change. */
	assert_int_equal(store_account_changed(b, &changed), STORE_OK);
	assert_false(changed);
	assert_int_equal(store_mailbox_get(b, "INBOX", &f->inbox), STORE_OK);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
	/* And b sees f->a's commits. */
	assert_int_equal(
	        store_append(f->a, f->inbox.id, "m", 1, 0, 0, NULL, NULL),
	        STORE_OK);
	assert_int_equal(store_account_changed(b, &changed), STORE_OK);
	assert_true(changed);
	store_account_close(&b);
	store_free(&s2);
}

/* A body kept open by a partial store_read must not hide a change. */
static void test_account_changed_during_partial_read(void **state)
{
	struct fixture *f = *state;
	struct store_account *b = NULL;
	bool changed = true;
	size_t got;
	char buf[2];

	assert_int_equal(
	        store_append(f->a, f->inbox.id, "abcd", 4, 0, 0, NULL, NULL),
	        STORE_OK);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
	assert_int_equal(store_read(f->a, f->inbox.id, 1, 0, buf, 2, &got),
	                 STORE_OK);
	assert_int_equal(store_account_open(f->store, 7, &b), STORE_OK);
	assert_int_equal(store_append(b, f->inbox.id, "x", 1, 0, 0, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_true(changed);
	store_account_close(&b);
}

/* A change by another process (a forked child with its own store) is
 * noticed by a handle that stayed open across it. */
static void test_account_changed_by_other_process(void **state)
{
	struct fixture *f = *state;
	bool changed = true;
	int status;
	pid_t pid;

	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		struct store_account *a;
		const char *err;

		/* Never touch the parent's connection here. */
		if (store_new(f->dir, &s, &err) != STORE_OK ||
		    store_account_open(s, 7, &a) != STORE_OK ||
		    store_append(a, f->inbox.id, "child\n", 6, 0, 0, NULL,
		                 NULL) != STORE_OK)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_true(changed);
	assert_int_equal(store_account_changed(f->a, &changed), STORE_OK);
	assert_false(changed);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_account_file_layout),
	        T(test_account_remove_and_open_missing),
	        T(test_closed_handles_reused),
	        T(test_default_mailboxes),
	        T(test_append_list_read_crlf),
	        T(test_append_trailing_cr_and_empty),
	        T(test_large_message_incremental_read),
	        T(test_uids_ascending_never_reused),
	        T(test_uidls_unique_and_stable),
	        T(test_imported_uidl_kept_and_invalid_refused),
	        T(test_append_bad_arguments),
	        T(test_expunge_removes_exactly_given),
	        T(test_expunge_in_one_mailbox_only),
	        T(test_append_durable_across_reopen),
	        T(test_append_survives_process_death),
	        T(test_pop_lock_in_use),
	        T(test_two_handles_see_each_other),
	        T(test_partial_read_then_changes),
	        T(test_change_cb_once_per_append_and_expunge),
	        T(test_change_cb_not_called_on_failure),
	        T(test_account_changed_by_other_connection),
	        T(test_account_changed_during_partial_read),
	        T(test_account_changed_by_other_process),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
