/*
 * Unit tests of IMAP's view of the store (store.h after "IMAP's view of
 * the store"): the mailbox hierarchy (create/delete/rename with children
 * and the INBOX rules, names refused), subscriptions, STATUS counts,
 * keywords, flag changes with MODSEQs and UNCHANGEDSINCE, copy and move,
 * the change log, the precomputed ENVELOPE / BODYSTRUCTURE, section
 * offsets, the Date: header as seconds, and the migration of a version 1
 * database.  Each test works in a fresh mkdtemp() data directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

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
	strcpy(f->dir, "/tmp/test_store_imap.XXXXXX");
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
	store_free(&f->store);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint32_t append(struct fixture *f, int64_t mbox, const char *text,
                       uint32_t flags)
{
	struct store_append_opts o = {.flags = flags};
	uint32_t uid = 0, uidv = 0;

	assert_int_equal(store_append_ex(f->a, mbox, text, strlen(text), &o,
	                                 &uid, &uidv),
	                 STORE_OK);
	assert_true(uid > 0);
	assert_true(uidv > 0);
	return uid;
}

static int64_t mbox_id(struct fixture *f, const char *name)
{
	struct store_mailbox_info info;

	assert_int_equal(store_mailbox_get(f->a, name, &info), STORE_OK);
	return info.id;
}

/* The stored bytes [off, off + len) of a message, NUL-terminated. */
static char *read_range(struct fixture *f, int64_t mbox, uint32_t uid,
                        uint64_t off, uint64_t len)
{
	char *buf = malloc(len + 1);
	size_t got, have = 0;

	assert_non_null(buf);
	while (have < len) {
		assert_int_equal(store_read(f->a, mbox, uid, off + have,
		                            buf + have, len - have, &got),
		                 STORE_OK);
		assert_true(got > 0);
		have += got;
	}
	buf[len] = '\0';
	return buf;
}

/* Names of the account's mailboxes, one "name[flags]" per line. */
static char *list_text(struct fixture *f)
{
	struct store_mailbox *list;
	struct po_buf b = PO_BUF_INIT;
	size_t n;

	assert_int_equal(store_mailbox_list(f->a, &list, &n), STORE_OK);
	for (size_t i = 0; i < n; i++)
		po_buf_printf(&b, "%s%s%s\n", list[i].name,
		              list[i].noselect ? " N" : "",
		              list[i].subscribed ? " S" : "");
	store_mailbox_list_free(list, n);
	return po_buf_take(&b, NULL);
}

/* ---- names ---- */

static void test_name_valid(void **state)
{
	char longname[STORE_MAILBOX_NAME_MAX + 2], deep[200];

	(void)state;
	assert_true(store_mailbox_name_valid("INBOX"));
	assert_true(store_mailbox_name_valid("a/b/c"));
	assert_true(store_mailbox_name_valid("Entw\xc3\xbcrfe"));
	assert_true(store_mailbox_name_valid("a.b/..c/x~"));
	assert_false(store_mailbox_name_valid(""));
	assert_false(store_mailbox_name_valid("/a"));
	assert_false(store_mailbox_name_valid("a/"));
	assert_false(store_mailbox_name_valid("a//b"));
	assert_false(store_mailbox_name_valid("a/./b"));
	assert_false(store_mailbox_name_valid("a/.."));
	assert_false(store_mailbox_name_valid(".."));
	assert_false(store_mailbox_name_valid("~user"));
	assert_false(store_mailbox_name_valid("a\tb"));
	assert_false(store_mailbox_name_valid("a\x7f"));
	assert_false(store_mailbox_name_valid("bad\xc3"));      /* cut */
	assert_false(store_mailbox_name_valid("over\xc0\xaf")); /* overlong */
	assert_false(store_mailbox_name_valid("sur\xed\xa0\x80")); /* D800 */
	assert_false(store_mailbox_name_valid("c1\xc2\x85"));      /* NEL */
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_false(store_mailbox_name_valid(longname));
	longname[STORE_MAILBOX_NAME_MAX] = '\0';
	assert_true(store_mailbox_name_valid(longname));
	deep[0] = '\0';
	for (int i = 0; i < STORE_MAILBOX_DEPTH_MAX; i++)
		strcat(deep, i ? "/a" : "a");
	assert_true(store_mailbox_name_valid(deep));
	strcat(deep, "/a");
	assert_false(store_mailbox_name_valid(deep));
}

/* ---- create / list / delete / rename ---- */

static void test_create_parents_and_list(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info info;
	int64_t id = 0;
	char *t;

	assert_int_equal(store_mailbox_create(f->a, "work/2024/q1", NULL, &id),
	                 STORE_OK);
	assert_true(id > 0);
	assert_int_equal(store_mailbox_get(f->a, "work/2024/q1", &info),
	                 STORE_OK);
	assert_int_equal(info.id, id);
	assert_int_equal(store_mailbox_get(f->a, "work", &info), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "work/2024", &info), STORE_OK);
	assert_int_equal(store_mailbox_create(f->a, "work/2024", NULL, NULL),
	                 STORE_E_EXISTS);
	assert_int_equal(store_mailbox_create(f->a, "inbox", NULL, NULL),
	                 STORE_E_EXISTS);
	assert_int_equal(store_mailbox_create(f->a, "a//b", NULL, NULL),
	                 STORE_E_INVALID);
	assert_int_equal(store_mailbox_create(f->a, "x", "Sent", NULL),
	                 STORE_E_INVALID);
	/* inbox/x is INBOX's child, stored so. */
	assert_int_equal(store_mailbox_create(f->a, "inbox/x", NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "INBOX/x", &info), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "iNbOx/x", &info), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "inbox", &info), STORE_OK);
	assert_int_equal(info.id, f->inbox.id);
	t = list_text(f);
	assert_string_equal(t, "INBOX S\n"
	                       "Archive S\n"
	                       "Drafts S\n"
	                       "INBOX/x S\n"
	                       "Junk S\n"
	                       "Sent S\n"
	                       "Trash S\n"
	                       "work S\n"
	                       "work/2024 S\n"
	                       "work/2024/q1 S\n");
	free(t);
}

static void test_special_use_listed(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox *list;
	size_t n;
	bool found = false;

	assert_int_equal(store_mailbox_create(f->a, "Old", "\\Archive", NULL),
	                 STORE_OK);
	assert_int_equal(store_mailbox_list(f->a, &list, &n), STORE_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, "Old") == 0) {
			assert_string_equal(list[i].special_use, "\\Archive");
			found = true;
		}
		if (strcmp(list[i].name, "Sent") == 0)
			assert_string_equal(list[i].special_use, "\\Sent");
		if (strcmp(list[i].name, "INBOX") == 0)
			assert_null(list[i].special_use);
	}
	store_mailbox_list_free(list, n);
	assert_true(found);
}

static void test_delete_rules(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info info, again;
	struct store_mailbox_status st;
	uint32_t *exp;
	struct store_msg_ext *chg;
	size_t nexp, nchg;
	int64_t p;
	char *t;

	assert_int_equal(store_mailbox_delete(f->a, "INBOX"), STORE_E_INVALID);
	assert_int_equal(store_mailbox_delete(f->a, "inbox"), STORE_E_INVALID);
	assert_int_equal(store_mailbox_delete(f->a, "nope"), STORE_E_NOTFOUND);
	assert_int_equal(store_mailbox_create(f->a, "p/c", NULL, NULL),
	                 STORE_OK);
	p = mbox_id(f, "p");
	assert_int_equal(store_mailbox_get(f->a, "p", &info), STORE_OK);
	append(f, p, "Subject: x\r\n\r\nbody\r\n", 0);
	/* With a child: emptied, \Noselect, not selectable. */
	assert_int_equal(store_mailbox_delete(f->a, "p"), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "p", &again),
	                 STORE_E_NOTFOUND);
	assert_int_equal(store_mailbox_status(f->a, p, &st), STORE_E_NOTFOUND);
	assert_int_equal(store_changes_since(f->a, p, 0, &exp, &nexp, &chg,
	                                     &nchg, &again),
	                 STORE_E_NOTFOUND);
	assert_int_equal(store_append(f->a, p, "x", 1, 0, 0, NULL, NULL),
	                 STORE_E_NOTFOUND);
	t = list_text(f);
	assert_non_null(strstr(t, "\np N S\np/c S\n"));
	free(t);
	/* Deleting the placeholder again while it has children. */
	assert_int_equal(store_mailbox_delete(f->a, "p"), STORE_E_EXISTS);
	/* Creating it again revives it with a new UIDVALIDITY. */
	assert_int_equal(store_mailbox_create(f->a, "p", NULL, NULL), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "p", &again), STORE_OK);
	assert_int_equal(again.messages, 0);
	assert_true(again.uidvalidity > info.uidvalidity);
	assert_int_equal(store_mailbox_delete(f->a, "p"), STORE_OK);
	/* Child removed, then the childless placeholder is removed. */
	assert_int_equal(store_mailbox_delete(f->a, "p/c"), STORE_OK);
	assert_int_equal(store_mailbox_delete(f->a, "p"), STORE_OK);
	t = list_text(f);
	assert_null(strstr(t, "\np"));
	free(t);
	assert_int_equal(store_mailbox_delete(f->a, "p"), STORE_E_NOTFOUND);
	/* A mailbox made anew under an old name has a new UIDVALIDITY. */
	assert_int_equal(store_mailbox_create(f->a, "p", NULL, NULL), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "p", &info), STORE_OK);
	assert_true(info.uidvalidity > again.uidvalidity);
}

static void test_rename_children(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info before, after;
	char *t;

	assert_int_equal(store_mailbox_create(f->a, "a/b/c", NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_mailbox_create(f->a, "ab", NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "a/b", &before), STORE_OK);
	append(f, before.id, "Subject: kept\r\n\r\nx\r\n", 0);
	assert_int_equal(store_mailbox_rename(f->a, "a", "z/y"), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "z/y/b", &after), STORE_OK);
	assert_int_equal(after.id, before.id);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(after.messages, 1);
	assert_int_equal(store_mailbox_get(f->a, "a/b", &after),
	                 STORE_E_NOTFOUND);
	t = list_text(f);
	/* "ab" is not a child of "a"; "z" was created. */
	assert_non_null(strstr(t, "\nab S\n"));
	assert_non_null(strstr(t, "\nz S\nz/y S\nz/y/b S\nz/y/b/c S\n"));
	assert_null(strstr(t, "\na S\n"));
	free(t);
	assert_int_equal(store_mailbox_rename(f->a, "z", "z/q"),
	                 STORE_E_INVALID);
	assert_int_equal(store_mailbox_rename(f->a, "z", "ab"), STORE_E_EXISTS);
	assert_int_equal(store_mailbox_rename(f->a, "nope", "n2"),
	                 STORE_E_NOTFOUND);
	assert_int_equal(store_mailbox_rename(f->a, "ab", "inbox"),
	                 STORE_E_INVALID);
	assert_int_equal(store_mailbox_rename(f->a, "ab", "x/../y"),
	                 STORE_E_INVALID);
}

static void test_rename_inbox(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info inbox, old;
	struct store_msg *msgs;
	size_t n;
	uint32_t *exp;
	struct store_msg_ext *chg;
	size_t nexp, nchg;
	char *body;

	assert_int_equal(store_mailbox_create(f->a, "INBOX/kid", NULL, NULL),
	                 STORE_OK);
	append(f, f->inbox.id, "Subject: one\r\n\r\n1\r\n", STORE_F_SEEN);
	append(f, f->inbox.id, "Subject: two\r\n\r\n2\r\n", 0);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 2);
	char uidl0[STORE_UIDL_MAX + 1];
	strcpy(uidl0, msgs[0].uidl);
	free(msgs);
	assert_int_equal(store_mailbox_rename(f->a, "inbox", "Old"), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &inbox), STORE_OK);
	assert_int_equal(inbox.id, f->inbox.id);
	assert_int_equal(inbox.messages, 0);
	assert_int_equal(inbox.uidvalidity, f->inbox.uidvalidity);
	assert_int_equal(inbox.uidnext, 3);
	assert_int_equal(store_mailbox_get(f->a, "Old", &old), STORE_OK);
	assert_int_equal(old.messages, 2);
	assert_true(old.uidvalidity > inbox.uidvalidity);
	assert_int_equal(old.uidnext, 3);
	assert_int_equal(store_list(f->a, old.id, &msgs, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[0].flags, STORE_F_SEEN);
	assert_string_equal(msgs[0].uidl, uidl0);
	free(msgs);
	body = read_range(f, old.id, 2, 0, 19);
	assert_string_equal(body, "Subject: two\r\n\r\n2\r\n");
	free(body);
	/* INBOX's old UIDs show as expunged. */
	assert_int_equal(store_changes_since(f->a, inbox.id, 1, &exp, &nexp,
	                                     &chg, &nchg, &inbox),
	                 STORE_OK);
	assert_int_equal(nexp, 2);
	assert_int_equal(exp[0], 1);
	assert_int_equal(exp[1], 2);
	assert_int_equal(nchg, 0);
	free(exp);
	free(chg);
	/* INBOX's children stay. */
	assert_int_equal(store_mailbox_get(f->a, "INBOX/kid", &old), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "Old/kid", &old),
	                 STORE_E_NOTFOUND);
}

/* ---- subscriptions ---- */

static void test_subscriptions(void **state)
{
	struct fixture *f = *state;
	char **v;
	size_t n;
	char *t;

	assert_int_equal(store_subscribe(f->a, "Sent", false), STORE_OK);
	assert_int_equal(store_subscribe(f->a, "ghost/one", true), STORE_OK);
	assert_int_equal(store_subscribe(f->a, "ghost/one", true), STORE_OK);
	assert_int_equal(store_subscribe(f->a, "inbox", false), STORE_OK);
	assert_int_equal(store_subscribe(f->a, "a//b", true), STORE_E_INVALID);
	assert_int_equal(store_subscriptions(f->a, &v, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_string_equal(v[0], "Archive");
	assert_string_equal(v[1], "Drafts");
	assert_string_equal(v[2], "Junk");
	assert_string_equal(v[3], "Trash");
	assert_string_equal(v[4], "ghost/one");
	store_strv_free(v, n);
	t = list_text(f);
	assert_non_null(strstr(t, "\nSent\n"));
	assert_non_null(strstr(t, "INBOX\n"));
	free(t);
	/* Deleting a mailbox keeps its subscription (RFC 9051 §6.3.4). */
	assert_int_equal(store_mailbox_delete(f->a, "Junk"), STORE_OK);
	assert_int_equal(store_subscriptions(f->a, &v, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_string_equal(v[2], "Junk");
	store_strv_free(v, n);
}

/* ---- status, keywords, flags ---- */

static void test_status_counts(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status st;
	struct store_flag_result *res;
	size_t nres;
	uint32_t uids[2];

	append(f, f->inbox.id, "a\r\n", 0);                       /* 3 */
	uids[0] = append(f, f->inbox.id, "bb\r\n", STORE_F_SEEN); /* 4 */
	uids[1] = append(f, f->inbox.id, "ccc\r\n", 0);           /* 5 */
	assert_int_equal(store_mailbox_status(f->a, f->inbox.id, &st),
	                 STORE_OK);
	assert_int_equal(st.messages, 3);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.deleted, 0);
	assert_int_equal(st.size, 12);
	assert_int_equal(st.uidnext, 4);
	assert_int_equal(st.uidvalidity, f->inbox.uidvalidity);
	assert_int_equal(st.highestmodseq, 4);
	assert_int_equal(store_set_flags(f->a, f->inbox.id, uids, 2,
	                                 STORE_FLAGS_ADD,
	                                 STORE_F_DELETED | STORE_F_SEEN, 0, 0,
	                                 &res, &nres),
	                 STORE_OK);
	free(res);
	assert_int_equal(store_mailbox_status(f->a, f->inbox.id, &st),
	                 STORE_OK);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.deleted, 2);
	assert_int_equal(st.deleted_size, 9);
	assert_int_equal(st.highestmodseq, 5);
	assert_int_equal(store_mailbox_status(f->a, 9999, &st),
	                 STORE_E_NOTFOUND);
}

static void test_keywords(void **state)
{
	struct fixture *f = *state;
	const char *names[] = {"$Forwarded", "Work", "$forwarded"};
	const char *other[] = {"WORK", "Unknown"};
	const char *bad1[] = {"\\Seen"};
	const char *bad2[] = {"a b"};
	const char *bad3[] = {"x]"};
	char name[16], **v;
	const char *one[1] = {name};
	uint64_t mask;

	assert_int_equal(store_keyword_mask(f->a, names, 3, true, &mask),
	                 STORE_OK);
	assert_int_equal(mask, 0x3);
	assert_int_equal(store_keyword_mask(f->a, other, 2, false, &mask),
	                 STORE_OK);
	assert_int_equal(mask, 0x2);
	assert_int_equal(store_keyword_names(f->a, &v), STORE_OK);
	assert_string_equal(v[0], "$Forwarded");
	assert_string_equal(v[1], "Work");
	assert_null(v[2]);
	store_strv_free(v, STORE_KEYWORDS_MAX);
	assert_int_equal(store_keyword_mask(f->a, bad1, 1, true, &mask),
	                 STORE_E_INVALID);
	assert_int_equal(store_keyword_mask(f->a, bad2, 1, true, &mask),
	                 STORE_E_INVALID);
	assert_int_equal(store_keyword_mask(f->a, bad3, 1, false, &mask),
	                 STORE_E_INVALID);
	for (int i = 2; i < STORE_KEYWORDS_MAX; i++) {
		snprintf(name, sizeof name, "k%d", i);
		assert_int_equal(store_keyword_mask(f->a, one, 1, true, &mask),
		                 STORE_OK);
		assert_int_equal(mask, (uint64_t)1 << i);
	}
	strcpy(name, "one-too-many");
	assert_int_equal(store_keyword_mask(f->a, one, 1, true, &mask),
	                 STORE_E_LIMIT);
	assert_int_equal(store_keyword_mask(f->a, one, 1, false, &mask),
	                 STORE_OK);
	assert_int_equal(mask, 0);
	/* An existing one still maps when the table is full. */
	strcpy(name, "K63");
	assert_int_equal(store_keyword_mask(f->a, one, 1, true, &mask),
	                 STORE_OK);
	assert_int_equal(mask, (uint64_t)1 << 63);
}

static void test_set_flags_modseq(void **state)
{
	struct fixture *f = *state;
	struct store_flag_result *res;
	struct store_mailbox_info info;
	struct store_msg_ext *l;
	size_t nres, n;
	uint32_t uids[4];

	for (int i = 0; i < 3; i++)
		uids[i] = append(f, f->inbox.id, "x\r\n", 0);
	uids[3] = 99; /* missing: skipped */
	/* HIGHESTMODSEQ is 4 after three appends (start 1). */
	assert_int_equal(store_set_flags(f->a, f->inbox.id, uids, 4,
	                                 STORE_FLAGS_ADD, STORE_F_FLAGGED, 0x5,
	                                 0, &res, &nres),
	                 STORE_OK);
	assert_int_equal(nres, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(res[i].uid, uids[i]);
		assert_true(res[i].changed);
		assert_int_equal(res[i].modseq, 5);
		assert_int_equal(res[i].flags, STORE_F_FLAGGED);
		assert_int_equal(res[i].keywords, 0x5);
	}
	free(res);
	/* Only uid 2 changes: uid 1 already has it. */
	assert_int_equal(store_set_flags(f->a, f->inbox.id, &uids[1], 1,
	                                 STORE_FLAGS_REMOVE, STORE_F_FLAGGED,
	                                 0x1, 0, &res, &nres),
	                 STORE_OK);
	assert_int_equal(nres, 1);
	assert_true(res[0].changed);
	assert_int_equal(res[0].modseq, 6);
	assert_int_equal(res[0].flags, 0);
	assert_int_equal(res[0].keywords, 0x4);
	free(res);
	/* No change: no new MODSEQ. */
	assert_int_equal(store_set_flags(f->a, f->inbox.id, uids, 1,
	                                 STORE_FLAGS_ADD, STORE_F_FLAGGED, 0, 0,
	                                 &res, &nres),
	                 STORE_OK);
	assert_false(res[0].changed);
	assert_int_equal(res[0].modseq, 5);
	free(res);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &info), STORE_OK);
	assert_int_equal(info.highestmodseq, 6);
	/* UNCHANGEDSINCE 5: uid 2 (modseq 6) is refused, 1 and 3 change. */
	assert_int_equal(store_set_flags(f->a, f->inbox.id, uids, 3,
	                                 STORE_FLAGS_SET, STORE_F_ANSWERED, 0,
	                                 5, &res, &nres),
	                 STORE_OK);
	assert_int_equal(nres, 3);
	assert_true(res[0].changed);
	assert_false(res[1].changed);
	assert_int_equal(res[1].modseq, 6);
	assert_int_equal(res[1].keywords, 0x4);
	assert_true(res[2].changed);
	assert_int_equal(res[2].modseq, 7);
	free(res);
	assert_int_equal(
	        store_list_ext(f->a, f->inbox.id, 1, UINT32_MAX, &l, &n),
	        STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(l[0].m.flags, STORE_F_ANSWERED);
	assert_int_equal(l[0].keywords, 0);
	assert_int_equal(l[0].m.modseq, 7);
	assert_int_equal(l[1].m.flags, 0);
	assert_int_equal(l[1].m.modseq, 6);
	free(l);
	assert_int_equal(store_list_ext(f->a, f->inbox.id, 2, 2, &l, &n),
	                 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].m.uid, 2);
	free(l);
	assert_int_equal(store_set_flags(f->a, f->inbox.id, uids, 1,
	                                 STORE_FLAGS_SET, 1u << 9, 0, 0, &res,
	                                 &nres),
	                 STORE_E_INVALID);
}

/* ---- announcements ---- */

struct rec {
	int n;
	struct store_change ch[8];
};

static void record(void *ctx, const struct store_change *ch)
{
	struct rec *r = ctx;

	if (r->n < 8)
		r->ch[r->n] = *ch;
	r->n++;
}

static void test_announcements(void **state)
{
	struct fixture *f = *state;
	struct store_flag_result *res;
	struct rec r = {0};
	uint32_t uid, *su, *du, v;
	size_t nres, n;
	int64_t trash = mbox_id(f, "Trash");

	uid = append(f, f->inbox.id, "x\r\n", 0);
	store_set_change_cb(f->store, record, &r);
	assert_int_equal(store_set_flags(f->a, f->inbox.id, &uid, 1,
	                                 STORE_FLAGS_ADD, STORE_F_SEEN, 0, 0,
	                                 &res, &nres),
	                 STORE_OK);
	free(res);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ch[0].kind, STORE_CHANGE_FLAGS);
	assert_int_equal(r.ch[0].highestmodseq, 3);
	/* Nothing changed: nothing announced. */
	assert_int_equal(store_set_flags(f->a, f->inbox.id, &uid, 1,
	                                 STORE_FLAGS_ADD, STORE_F_SEEN, 0, 0,
	                                 &res, &nres),
	                 STORE_OK);
	free(res);
	assert_int_equal(r.n, 1);
	assert_int_equal(store_copy(f->a, f->inbox.id, &uid, 1, trash, true, &v,
	                            &su, &du, &n),
	                 STORE_OK);
	free(su);
	free(du);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ch[1].kind, STORE_CHANGE_APPEND);
	assert_int_equal(r.ch[1].mailbox_id, trash);
	assert_int_equal(r.ch[1].uidnext, 2);
	assert_int_equal(r.ch[2].kind, STORE_CHANGE_EXPUNGE);
	assert_int_equal(r.ch[2].mailbox_id, f->inbox.id);
	assert_int_equal(r.ch[2].highestmodseq, 4);
	assert_int_equal(store_mailbox_delete(f->a, "Trash"), STORE_OK);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.ch[3].kind, STORE_CHANGE_EXPUNGE);
	assert_int_equal(r.ch[3].mailbox_id, trash);
	store_set_change_cb(f->store, NULL, NULL);
}

/* ---- copy / move ---- */

static void test_copy(void **state)
{
	struct fixture *f = *state;
	const char *kw[] = {"$Label1"};
	struct store_append_opts o = {.flags = STORE_F_SEEN,
	                              .internal_date = 1000000000};
	struct store_msg_ext *l;
	struct store_msg *src;
	uint32_t uids[3], *su, *du, v, u;
	size_t n, nsrc;
	int64_t arch = mbox_id(f, "Archive");
	struct store_mailbox_info ai;
	struct po_buf b = PO_BUF_INIT;
	char *text;

	assert_int_equal(store_keyword_mask(f->a, kw, 1, true, &o.keywords),
	                 STORE_OK);
	assert_int_equal(store_append_ex(f->a, f->inbox.id,
	                                 "Subject: c1\r\n\r\none\r\n", 20, &o,
	                                 &u, NULL),
	                 STORE_OK);
	uids[0] = u;
	uids[1] = 50; /* missing */
	uids[2] = append(f, f->inbox.id, "Subject: c2\r\n\r\ntwo\r\n", 0);
	/* Archive already has one message: the copies get 2 and 3. */
	append(f, arch, "Subject: a\r\n\r\na\r\n", 0);
	assert_int_equal(store_copy(f->a, f->inbox.id, uids, 3, arch, false, &v,
	                            &su, &du, &n),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "Archive", &ai), STORE_OK);
	assert_int_equal(v, ai.uidvalidity);
	assert_int_equal(n, 2);
	assert_int_equal(su[0], 1);
	assert_int_equal(su[1], 2);
	assert_int_equal(du[0], 2);
	assert_int_equal(du[1], 3);
	free(su);
	free(du);
	assert_int_equal(ai.uidnext, 4);
	assert_int_equal(store_list_ext(f->a, arch, 2, 3, &l, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(l[0].m.flags, STORE_F_SEEN);
	assert_int_equal(l[0].keywords, o.keywords);
	assert_int_equal(l[0].m.internal_date, 1000000000);
	assert_int_equal(l[0].hdr_len, 15);
	assert_int_equal(l[0].m.modseq, ai.highestmodseq);
	assert_int_equal(store_list(f->a, f->inbox.id, &src, &nsrc), STORE_OK);
	assert_int_equal(nsrc, 2);
	/* Fresh UIDLs for copies. */
	assert_string_not_equal(l[0].m.uidl, src[0].uidl);
	free(src);
	free(l);
	text = read_range(f, arch, 3, 0, 20);
	assert_string_equal(text, "Subject: c2\r\n\r\ntwo\r\n");
	free(text);
	assert_int_equal(store_msg_meta(f->a, arch, 2, STORE_META_ENVELOPE, &b),
	                 STORE_OK);
	assert_string_equal(b.data,
	                    "(NIL \"c1\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	po_buf_deinit(&b);
	/* Copy to the same mailbox. */
	assert_int_equal(store_copy(f->a, f->inbox.id, uids, 1, f->inbox.id,
	                            false, &v, &su, &du, &n),
	                 STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(du[0], 3);
	free(su);
	free(du);
	/* Nothing to copy. */
	assert_int_equal(store_copy(f->a, f->inbox.id, &uids[1], 1, arch, false,
	                            &v, &su, &du, &n),
	                 STORE_OK);
	assert_int_equal(n, 0);
	assert_null(su);
	assert_null(du);
	assert_int_equal(store_copy(f->a, f->inbox.id, uids, 1, 9999, false, &v,
	                            &su, &du, &n),
	                 STORE_E_NOTFOUND);
}

static void test_move(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info in0, in1, tr;
	struct store_msg *msgs;
	struct store_msg_ext *chg;
	uint32_t uids[2], *su, *du, *exp, v;
	size_t n, nexp, nchg;
	char uidl[STORE_UIDL_MAX + 1];
	int64_t trash = mbox_id(f, "Trash");
	char *text;

	uids[0] = append(f, f->inbox.id, "Subject: m1\r\n\r\none\r\n",
	                 STORE_F_FLAGGED);
	uids[1] = append(f, f->inbox.id, "Subject: m2\r\n\r\ntwo\r\n", 0);
	assert_int_equal(store_list(f->a, f->inbox.id, &msgs, &n), STORE_OK);
	strcpy(uidl, msgs[0].uidl);
	free(msgs);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &in0), STORE_OK);
	assert_int_equal(store_copy(f->a, f->inbox.id, uids, 2, trash, true, &v,
	                            &su, &du, &n),
	                 STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(su[0], 1);
	assert_int_equal(du[0], 1);
	assert_int_equal(du[1], 2);
	free(su);
	free(du);
	assert_int_equal(store_mailbox_get(f->a, "Trash", &tr), STORE_OK);
	assert_int_equal(tr.messages, 2);
	assert_int_equal(tr.uidnext, 3);
	assert_int_equal(v, tr.uidvalidity);
	assert_int_equal(store_list(f->a, trash, &msgs, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(msgs[0].uidl, uidl); /* a move keeps the UIDL */
	assert_int_equal(msgs[0].flags, STORE_F_FLAGGED);
	assert_int_equal(msgs[0].modseq, tr.highestmodseq);
	free(msgs);
	text = read_range(f, trash, 2, 0, 20);
	assert_string_equal(text, "Subject: m2\r\n\r\ntwo\r\n");
	free(text);
	/* The source sees them expunged at its new MODSEQ. */
	assert_int_equal(store_changes_since(f->a, f->inbox.id,
	                                     in0.highestmodseq, &exp, &nexp,
	                                     &chg, &nchg, &in1),
	                 STORE_OK);
	assert_int_equal(nexp, 2);
	assert_int_equal(exp[0], 1);
	assert_int_equal(exp[1], 2);
	assert_int_equal(nchg, 0);
	assert_null(chg);
	assert_int_equal(in1.messages, 0);
	assert_int_equal(in1.highestmodseq, in0.highestmodseq + 1);
	free(exp);
	/* And since the new MODSEQ, nothing. */
	assert_int_equal(store_changes_since(f->a, f->inbox.id,
	                                     in1.highestmodseq, &exp, &nexp,
	                                     &chg, &nchg, &in1),
	                 STORE_OK);
	assert_int_equal(nexp, 0);
	assert_null(exp);
	assert_int_equal(store_read(f->a, f->inbox.id, 1, 0, uidl, 1, &n),
	                 STORE_E_EXPUNGED);
}

/* ---- changes since ---- */

static void test_changes_since(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info info;
	struct store_flag_result *res;
	struct store_msg_ext *chg;
	uint32_t u[3], *exp;
	size_t nexp, nchg, nres;

	for (int i = 0; i < 3; i++)
		u[i] = append(f, f->inbox.id, "Subject: s\r\n\r\nx\r\n", 0);
	/* modseq 4 now */
	assert_int_equal(store_changes_since(f->a, f->inbox.id, 2, &exp, &nexp,
	                                     &chg, &nchg, &info),
	                 STORE_OK);
	assert_int_equal(nexp, 0);
	assert_int_equal(nchg, 2);
	assert_int_equal(chg[0].m.uid, 2);
	assert_int_equal(chg[1].m.uid, 3);
	assert_int_equal(chg[1].hdr_len, 14);
	assert_int_equal(info.messages, 3);
	assert_int_equal(info.uidnext, 4);
	assert_int_equal(info.highestmodseq, 4);
	free(chg);
	assert_int_equal(store_set_flags(f->a, f->inbox.id, &u[0], 1,
	                                 STORE_FLAGS_ADD, STORE_F_SEEN, 0, 0,
	                                 &res, &nres),
	                 STORE_OK);
	free(res);
	assert_int_equal(store_expunge(f->a, f->inbox.id, &u[1], 1), STORE_OK);
	assert_int_equal(store_changes_since(f->a, f->inbox.id, 4, &exp, &nexp,
	                                     &chg, &nchg, &info),
	                 STORE_OK);
	assert_int_equal(nexp, 1);
	assert_int_equal(exp[0], 2);
	assert_int_equal(nchg, 1);
	assert_int_equal(chg[0].m.uid, 1);
	assert_int_equal(chg[0].m.flags, STORE_F_SEEN);
	assert_int_equal(chg[0].m.modseq, 5);
	assert_int_equal(info.highestmodseq, 6);
	assert_int_equal(info.messages, 2);
	free(exp);
	free(chg);
	assert_int_equal(store_changes_since(f->a, 9999, 0, &exp, &nexp, &chg,
	                                     &nchg, &info),
	                 STORE_E_NOTFOUND);
}

/* ---- MIME metadata ---- */

static const char multi_msg[] =
        "From: Ann <ann@example.org>\r\n"
        "To: bob@example.net\r\n"
        "Subject: test\r\n"
        "Date: Tue, 1 Mar 2022 10:00:00 +0100\r\n"
        "Message-ID: <m1@example.org>\r\n"
        "Content-Type: multipart/mixed; boundary=b1\r\n"
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "hello\r\n"
        "--b1\r\n"
        "Content-Type: application/octet-stream; name=x.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "AAAA\r\n"
        "--b1--\r\n";

static void test_meta_text(void **state)
{
	struct fixture *f = *state;
	struct po_buf b = PO_BUF_INIT;
	uint32_t uid = append(f, f->inbox.id, multi_msg, 0);
	struct store_msg_ext *l;
	size_t n;

	assert_int_equal(
	        store_msg_meta(f->a, f->inbox.id, uid, STORE_META_ENVELOPE, &b),
	        STORE_OK);
	assert_string_equal(b.data,
	                    "(\"Tue, 1 Mar 2022 10:00:00 +0100\" \"test\""
	                    " ((\"Ann\" NIL \"ann\" \"example.org\"))"
	                    " ((\"Ann\" NIL \"ann\" \"example.org\"))"
	                    " ((\"Ann\" NIL \"ann\" \"example.org\"))"
	                    " ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL"
	                    " \"<m1@example.org>\")");
	po_buf_reset(&b);
	assert_int_equal(store_msg_meta(f->a, f->inbox.id, uid,
	                                STORE_META_BODYSTRUCTURE, &b),
	                 STORE_OK);
	assert_string_equal(
	        b.data,
	        "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"
	        " \"7bit\" 5 1 NIL NIL NIL NIL)"
	        "(\"application\" \"octet-stream\" (\"name\" \"x.bin\") NIL"
	        " NIL \"base64\" 4 NIL NIL NIL NIL)"
	        " \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)");
	po_buf_reset(&b);
	assert_int_equal(
	        store_msg_meta(f->a, f->inbox.id, uid, STORE_META_BODY, &b),
	        STORE_OK);
	assert_string_equal(b.data,
	                    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL"
	                    " NIL \"7bit\" 5 1)"
	                    "(\"application\" \"octet-stream\" (\"name\""
	                    " \"x.bin\") NIL NIL \"base64\" 4) \"mixed\")");
	po_buf_deinit(&b);
	assert_int_equal(
	        store_msg_meta(f->a, f->inbox.id, uid + 1, STORE_META_BODY, &b),
	        STORE_E_EXPUNGED);
	assert_int_equal(store_list_ext(f->a, f->inbox.id, uid, uid, &l, &n),
	                 STORE_OK);
	assert_int_equal(l[0].sent_date, 1646125200);
	assert_int_equal(l[0].hdr_len,
	                 strstr(multi_msg, "\r\n\r\n") - multi_msg + 4);
	free(l);
}

/* Find path in message uid and compare the section's bytes. */
static void expect_section(struct fixture *f, uint32_t uid,
                           const uint32_t *path, size_t depth, const char *mime,
                           const char *body)
{
	struct store_section s;
	char *t;

	assert_int_equal(
	        store_section_find(f->a, f->inbox.id, uid, path, depth, &s),
	        STORE_OK);
	if (mime != NULL) {
		t = read_range(f, f->inbox.id, uid, s.mime_off, s.mime_len);
		assert_string_equal(t, mime);
		free(t);
	}
	if (body != NULL) {
		t = read_range(f, f->inbox.id, uid, s.body_off, s.body_len);
		assert_string_equal(t, body);
		free(t);
	}
}

static void test_section_plain(void **state)
{
	struct fixture *f = *state;
	/* Stored with bare LFs: offsets are into the CRLF form. */
	uint32_t uid = append(f, f->inbox.id,
	                      "Subject: p\nContent-Transfer-Encoding: QUOTED-"
	                      "printable\n\nline=20one\nline two\n",
	                      0);
	const uint32_t one[] = {1}, two[] = {2}, oneone[] = {1, 1};
	struct store_section s;
	char *t;

	/* depth 0: header and text */
	assert_int_equal(
	        store_section_find(f->a, f->inbox.id, uid, NULL, 0, &s),
	        STORE_OK);
	assert_true(s.is_message);
	assert_false(s.is_multipart);
	t = read_range(f, f->inbox.id, uid, s.msg_hdr_off, s.msg_hdr_len);
	assert_string_equal(t, "Subject: p\r\nContent-Transfer-Encoding: "
	                       "QUOTED-printable\r\n\r\n");
	free(t);
	t = read_range(f, f->inbox.id, uid, s.msg_text_off, s.msg_text_len);
	assert_string_equal(t, "line=20one\r\nline two\r\n");
	free(t);
	assert_string_equal(s.type, "text");
	assert_string_equal(s.subtype, "plain");
	assert_string_equal(s.encoding, "quoted-printable");
	/* "1" of a non-multipart message is its body. */
	expect_section(f, uid, one, 1, NULL, "line=20one\r\nline two\r\n");
	assert_int_equal(store_section_find(f->a, f->inbox.id, uid, two, 1, &s),
	                 STORE_E_NOTFOUND);
	assert_int_equal(
	        store_section_find(f->a, f->inbox.id, uid, oneone, 2, &s),
	        STORE_E_NOTFOUND);
	assert_int_equal(
	        store_section_find(f->a, f->inbox.id, uid + 1, one, 1, &s),
	        STORE_E_EXPUNGED);
}

static const char nested_msg[] =
        "From: a@b.c\r\n"
        "Subject: nested\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
        "\r\n"
        "preamble\r\n"
        "--outer\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "part one\r\n"
        "--outer\r\n"
        "Content-Type: multipart/alternative; boundary=inner\r\n"
        "\r\n"
        "--inner\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "alt text\r\n"
        "--inner\r\n"
        "Content-Type: text/html\r\n"
        "\r\n"
        "<p>alt</p>\r\n"
        "--inner--\r\n"
        "--outer\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        "Subject: inner msg\r\n"
        "From: c@d.e\r\n"
        "\r\n"
        "inner body\r\n"
        "--outer--\r\n";

static void test_section_nested(void **state)
{
	struct fixture *f = *state;
	uint32_t uid = append(f, f->inbox.id, nested_msg, 0);
	const uint32_t p1[] = {1}, p2[] = {2}, p21[] = {2, 1}, p22[] = {2, 2},
	               p3[] = {3}, p31[] = {3, 1}, p4[] = {4}, p23[] = {2, 3},
	               p11[] = {1, 1}, p32[] = {3, 2}, p311[] = {3, 1, 1},
	               p0[] = {0};
	struct store_section s;
	char *t;

	assert_int_equal(
	        store_section_find(f->a, f->inbox.id, uid, NULL, 0, &s),
	        STORE_OK);
	assert_true(s.is_multipart);
	assert_string_equal(s.subtype, "mixed");
	expect_section(f, uid, p1, 1, "Content-Type: text/plain\r\n\r\n",
	               "part one");
	expect_section(f, uid, p21, 2, "Content-Type: text/plain\r\n\r\n",
	               "alt text");
	expect_section(f, uid, p22, 2, "Content-Type: text/html\r\n\r\n",
	               "<p>alt</p>");
	assert_int_equal(store_section_find(f->a, f->inbox.id, uid, p2, 1, &s),
	                 STORE_OK);
	assert_true(s.is_multipart);
	assert_false(s.is_message);
	assert_string_equal(s.subtype, "alternative");
	t = read_range(f, f->inbox.id, uid, s.body_off, s.body_len);
	assert_true(strncmp(t, "--inner\r\n", 9) == 0);
	free(t);
	/* 3 is message/rfc822: 3.MIME, 3.HEADER, 3.TEXT, and 3.1 the text
	 * of its non-multipart message. */
	assert_int_equal(store_section_find(f->a, f->inbox.id, uid, p3, 1, &s),
	                 STORE_OK);
	assert_true(s.is_message);
	assert_false(s.is_multipart);
	assert_string_equal(s.type, "message");
	assert_string_equal(s.subtype, "rfc822");
	t = read_range(f, f->inbox.id, uid, s.mime_off, s.mime_len);
	assert_string_equal(t, "Content-Type: message/rfc822\r\n\r\n");
	free(t);
	t = read_range(f, f->inbox.id, uid, s.msg_hdr_off, s.msg_hdr_len);
	assert_string_equal(t, "Subject: inner msg\r\nFrom: c@d.e\r\n\r\n");
	free(t);
	t = read_range(f, f->inbox.id, uid, s.msg_text_off, s.msg_text_len);
	assert_string_equal(t, "inner body");
	free(t);
	t = read_range(f, f->inbox.id, uid, s.body_off, s.body_len);
	assert_string_equal(t, "Subject: inner msg\r\nFrom: c@d.e\r\n\r\n"
	                       "inner body");
	free(t);
	expect_section(f, uid, p31, 2, NULL, "inner body");
	const uint32_t *bad[] = {p4, p23, p11, p32, p311, p0};
	const size_t bad_depth[] = {1, 2, 2, 2, 3, 1};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(store_section_find(f->a, f->inbox.id, uid,
		                                    bad[i], bad_depth[i], &s),
		                 STORE_E_NOTFOUND);
}

/* ---- Date: ---- */

static int64_t sent_date_of(struct fixture *f, const char *date)
{
	char msg[256];
	struct store_msg_ext *l;
	size_t n;
	uint32_t uid;
	int64_t v;

	snprintf(msg, sizeof msg, "Subject: d\r\nDate: %s\r\n\r\nx\r\n", date);
	uid = append(f, f->inbox.id, date[0] ? msg : "Subject: d\r\n\r\nx\r\n",
	             0);
	assert_int_equal(store_list_ext(f->a, f->inbox.id, uid, uid, &l, &n),
	                 STORE_OK);
	assert_int_equal(n, 1);
	v = l[0].sent_date;
	free(l);
	return v;
}

static void test_sent_date(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(sent_date_of(f, "Mon, 7 Feb 1994 21:52:25 -0800"),
	                 760686745);
	assert_int_equal(sent_date_of(f, "7 Feb 1994 21:52 GMT"), 760657920);
	assert_int_equal(sent_date_of(f, "Mon, 07 Feb 94 21:52:25 EST"),
	                 760675945);
	assert_int_equal(sent_date_of(f, "monday,  7 feb 1994 21 : 52 : 25"
	                                 " -0800 (PST)"),
	                 760686745);
	assert_int_equal(
	        sent_date_of(f, "Tue, 1 Mar 2022 10:00:00 +0100 (CET)"),
	        1646125200);
	assert_int_equal(sent_date_of(f, "(c) Tue, 1 Mar 2022 10:00:00 +0100"),
	                 1646125200);
	assert_int_equal(sent_date_of(f, "Fri, 31 Dec 49 23:59:59 Z"),
	                 2524607999);
	assert_int_equal(sent_date_of(f, "Thu, 31 Feb 2022 10:00:00 +0000"), 0);
	assert_int_equal(sent_date_of(f, "1 Foo 2022 10:00:00 +0000"), 0);
	assert_int_equal(sent_date_of(f, "1 Mar 2022 25:00:00 +0000"), 0);
	assert_int_equal(sent_date_of(f, "1 Mar 2022 10:00:00 +00"), 0);
	assert_int_equal(sent_date_of(f, "yesterday"), 0);
	assert_int_equal(sent_date_of(f, ""), 0);
}

/* ---- migration from version 1 ---- */

/* Version 1 as store_schema.c made it (frozen). */
static const char v1_schema[] =
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
        " WITHOUT ROWID;"
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', 100);"
        "CREATE TABLE mailboxes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " name TEXT NOT NULL UNIQUE, uidvalidity INTEGER NOT NULL,"
        " uidnext INTEGER NOT NULL DEFAULT 1,"
        " highestmodseq INTEGER NOT NULL DEFAULT 1, special_use TEXT,"
        " subscribed INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL);"
        "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id)"
        " ON DELETE CASCADE, uid INTEGER NOT NULL,"
        " modseq INTEGER NOT NULL, size INTEGER NOT NULL,"
        " internal_date INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0,"
        " uidl TEXT NOT NULL UNIQUE, UNIQUE (mailbox_id, uid));"
        "CREATE TABLE bodies (message_id INTEGER PRIMARY KEY"
        " REFERENCES messages (id) ON DELETE CASCADE, data BLOB NOT NULL);"
        "CREATE TABLE keywords (id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE message_keywords (message_id INTEGER NOT NULL"
        " REFERENCES messages (id) ON DELETE CASCADE,"
        " keyword_id INTEGER NOT NULL REFERENCES keywords (id),"
        " PRIMARY KEY (message_id, keyword_id)) WITHOUT ROWID;"
        "CREATE TABLE expunged (mailbox_id INTEGER NOT NULL"
        " REFERENCES mailboxes (id) ON DELETE CASCADE,"
        " uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
        " PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
        "INSERT INTO mailboxes (name, uidvalidity, created)"
        " VALUES ('INBOX', 100, 0);"
        "INSERT INTO mailboxes (name, uidvalidity, created, subscribed)"
        " VALUES ('Hidden', 99, 0, 0);"
        "INSERT INTO messages (mailbox_id, uid, modseq, size,"
        " internal_date, flags, uidl) VALUES (1, 1, 2, 59, 5, 1, 'u1');"
        "INSERT INTO bodies (message_id, data) VALUES (1, CAST("
        "'Subject: old' || char(13, 10) ||"
        " 'Date: 7 Feb 1994 21:52 GMT' || char(13, 10, 13, 10) ||"
        " 'old body text' || char(13, 10) AS BLOB));"
        "UPDATE mailboxes SET uidnext = 2, highestmodseq = 2 WHERE id = 1;"
        "PRAGMA user_version = 1;";

static void test_migration_v1(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_info info;
	struct store_section s;
	struct store_msg_ext *l;
	struct po_buf b = PO_BUF_INIT;
	char path[128], **v;
	sqlite3 *db;
	size_t n;
	const uint32_t one[] = {1};
	char *t;

	store_account_close(&f->a);
	snprintf(path, sizeof path, "%s/mail/08", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/mail/08/8.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_account_open(f->store, 8, &f->a), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &info), STORE_OK);
	assert_int_equal(info.messages, 1);
	assert_int_equal(
	        store_msg_meta(f->a, info.id, 1, STORE_META_ENVELOPE, &b),
	        STORE_OK);
	assert_string_equal(b.data, "(\"7 Feb 1994 21:52 GMT\" \"old\" NIL NIL"
	                            " NIL NIL NIL NIL NIL NIL)");
	po_buf_deinit(&b);
	assert_int_equal(store_list_ext(f->a, info.id, 1, 1, &l, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].sent_date, 760657920);
	assert_int_equal(l[0].hdr_len, 44);
	assert_int_equal(l[0].keywords, 0);
	assert_int_equal(l[0].m.flags, 1);
	assert_string_equal(l[0].m.uidl, "u1");
	free(l);
	assert_int_equal(store_section_find(f->a, info.id, 1, one, 1, &s),
	                 STORE_OK);
	t = read_range(f, info.id, 1, s.body_off, s.body_len);
	assert_string_equal(t, "old body text\r\n");
	free(t);
	/* v1's subscribed column became the subscriptions. */
	assert_int_equal(store_subscriptions(f->a, &v, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "INBOX");
	store_strv_free(v, n);
	/* New mail in the migrated file works as usual. */
	append(f, info.id, "Subject: new\r\n\r\nnew\r\n", 0);
	/* Reopening does not migrate again. */
	store_account_close(&f->a);
	assert_int_equal(store_account_open(f->store, 8, &f->a), STORE_OK);
	assert_int_equal(store_mailbox_get(f->a, "INBOX", &info), STORE_OK);
	assert_int_equal(info.messages, 2);
}

/* ---- list_ext on a large mailbox ---- */

static void test_list_ext_large(void **state)
{
	struct fixture *f = *state;
	struct store_msg_ext *l;
	size_t n;

	for (int i = 0; i < 300; i++)
		append(f, f->inbox.id, "Subject: s\r\n\r\nx\r\n", 0);
	assert_int_equal(store_list_ext(f->a, f->inbox.id, 100, 109, &l, &n),
	                 STORE_OK);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(l[i].m.uid, 100 + i);
	free(l);
	assert_int_equal(
	        store_list_ext(f->a, f->inbox.id, 301, UINT32_MAX, &l, &n),
	        STORE_OK);
	assert_int_equal(n, 0);
	assert_null(l);
}

/* ---- counts kept in the mailboxes row (schema v3) ---- */

/* Recount mailbox id from its listing and compare with STATUS and
 * store_mailbox_get; the listing does not read the kept counts. */
static void check_counts(struct fixture *f, int64_t id, const char *name)
{
	struct store_mailbox_status st;
	struct store_mailbox_info info;
	struct store_msg_ext *l = NULL;
	uint32_t unseen = 0, deleted = 0;
	uint64_t size = 0, dsize = 0;
	size_t n = 0;

	assert_int_equal(store_list_ext(f->a, id, 1, UINT32_MAX, &l, &n),
	                 STORE_OK);
	for (size_t i = 0; i < n; i++) {
		size += l[i].m.size;
		if (!(l[i].m.flags & STORE_F_SEEN))
			unseen++;
		if (l[i].m.flags & STORE_F_DELETED) {
			deleted++;
			dsize += l[i].m.size;
		}
	}
	free(l);
	assert_int_equal(store_mailbox_status(f->a, id, &st), STORE_OK);
	assert_int_equal(st.messages, n);
	assert_int_equal(st.unseen, unseen);
	assert_int_equal(st.deleted, deleted);
	assert_int_equal(st.size, size);
	assert_int_equal(st.deleted_size, dsize);
	assert_int_equal(store_mailbox_get(f->a, name, &info), STORE_OK);
	assert_int_equal(info.id, id);
	assert_int_equal(info.messages, n);
	assert_int_equal(info.bytes, size);
}

/* Every selectable mailbox of the account. */
static void check_all_counts(struct fixture *f)
{
	struct store_mailbox *mbs = NULL;
	size_t n = 0;

	assert_int_equal(store_mailbox_list(f->a, &mbs, &n), STORE_OK);
	for (size_t i = 0; i < n; i++)
		if (!mbs[i].noselect)
			check_counts(f, mbs[i].id, mbs[i].name);
	store_mailbox_list_free(mbs, n);
}

static void flags_op(struct fixture *f, int64_t mbox, const uint32_t *uids,
                     size_t n, enum store_flag_op op, uint32_t flags)
{
	struct store_flag_result *res = NULL;
	size_t nres = 0;

	assert_int_equal(store_set_flags(f->a, mbox, uids, n, op, flags, 0, 0,
	                                 &res, &nres),
	                 STORE_OK);
	free(res);
}

static void copy_op(struct fixture *f, int64_t src, const uint32_t *uids,
                    size_t n, int64_t dst, bool move, size_t expect)
{
	uint32_t uidv = 0, *su = NULL, *du = NULL;
	size_t nc = 0;

	assert_int_equal(
	        store_copy(f->a, src, uids, n, dst, move, &uidv, &su, &du, &nc),
	        STORE_OK);
	assert_int_equal(nc, expect);
	free(su);
	free(du);
}

static void test_counts_exact(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status st;
	int64_t inbox = f->inbox.id, trash = mbox_id(f, "Trash"), a, ab;
	uint32_t u[8];
	const uint32_t gone[] = {2, 3, 999};
	const uint32_t all[] = {1, 2, 3, 4, 5, 6, 7, 8};

	check_all_counts(f);
	assert_int_equal(store_mailbox_create(f->a, "a/b", NULL, &ab),
	                 STORE_OK);
	a = mbox_id(f, "a");
	u[0] = append(f, inbox, "one\r\n", 0);
	u[1] = append(f, inbox, "two two\n", STORE_F_SEEN);
	u[2] = append(f, inbox, "three\r\n", STORE_F_DELETED);
	u[3] = append(f, inbox, "four\r\n", STORE_F_SEEN | STORE_F_DELETED);
	u[4] = append(f, inbox, "five\r\n", STORE_F_FLAGGED);
	append(f, ab, "in a/b\r\n", 0);
	append(f, a, "in a\r\n", STORE_F_SEEN);
	check_all_counts(f);
	assert_int_equal(store_mailbox_status(f->a, inbox, &st), STORE_OK);
	assert_int_equal(st.messages, 5);
	assert_int_equal(st.unseen, 3);
	assert_int_equal(st.deleted, 2);
	assert_int_equal(st.size, 5 + 9 + 7 + 6 + 6);
	assert_int_equal(st.deleted_size, 7 + 6);
	/* Flag changes: each op, a no-op, and keywords only. */
	flags_op(f, inbox, u, 5, STORE_FLAGS_ADD, STORE_F_SEEN);
	check_all_counts(f);
	flags_op(f, inbox, u, 5, STORE_FLAGS_ADD, STORE_F_SEEN);
	check_all_counts(f);
	flags_op(f, inbox, &u[1], 3, STORE_FLAGS_REMOVE,
	         STORE_F_SEEN | STORE_F_DELETED);
	check_all_counts(f);
	flags_op(f, inbox, u, 5, STORE_FLAGS_SET, STORE_F_DELETED);
	check_all_counts(f);
	flags_op(f, inbox, &u[4], 1, STORE_FLAGS_SET,
	         STORE_F_SEEN | STORE_F_ANSWERED);
	check_all_counts(f);
	assert_int_equal(store_mailbox_status(f->a, inbox, &st), STORE_OK);
	assert_int_equal(st.unseen, 4);
	assert_int_equal(st.deleted, 4);
	/* Expunge, with UIDs already gone and missing. */
	assert_int_equal(store_expunge(f->a, inbox, gone, 3), STORE_OK);
	check_all_counts(f);
	assert_int_equal(store_expunge(f->a, inbox, gone, 3), STORE_OK);
	check_all_counts(f);
	/* Copy to another mailbox and to itself; move. */
	copy_op(f, inbox, all, 8, trash, false, 3);
	check_all_counts(f);
	/* UIDs 1..5 only: 6.. are the copies being made. */
	copy_op(f, inbox, all, 5, inbox, false, 3);
	check_all_counts(f);
	copy_op(f, trash, all, 8, a, true, 3);
	check_all_counts(f);
	assert_int_equal(store_mailbox_status(f->a, trash, &st), STORE_OK);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.size, 0);
	/* Delete a mailbox with children (emptied, \Noselect), then its
	 * child, then create it again: a fresh empty mailbox. */
	assert_int_equal(store_mailbox_delete(f->a, "a"), STORE_OK);
	assert_int_equal(store_mailbox_status(f->a, a, &st), STORE_E_NOTFOUND);
	check_all_counts(f);
	assert_int_equal(store_mailbox_delete(f->a, "a/b"), STORE_OK);
	check_all_counts(f);
	assert_int_equal(store_mailbox_create(f->a, "a", NULL, NULL), STORE_OK);
	check_all_counts(f);
	assert_int_equal(store_mailbox_status(f->a, a, &st), STORE_OK);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.unseen, 0);
	assert_int_equal(st.size, 0);
	/* Renaming INBOX moves its messages; another rename keeps them. */
	assert_int_equal(store_mailbox_rename(f->a, "INBOX", "old"), STORE_OK);
	check_all_counts(f);
	assert_int_equal(store_mailbox_status(f->a, inbox, &st), STORE_OK);
	assert_int_equal(st.messages, 0);
	assert_int_equal(store_mailbox_rename(f->a, "old", "older"), STORE_OK);
	check_all_counts(f);
	assert_int_equal(store_mailbox_status(f->a, mbox_id(f, "older"), &st),
	                 STORE_OK);
	assert_int_equal(st.messages, 6);
}

/* A change by another connection (another struct store, as the admin
 * tool would be) is counted too: the triggers run in its transaction. */
static void test_counts_other_connection(void **state)
{
	struct fixture *f = *state;
	struct store *other = NULL;
	struct store_account *b = NULL;
	const char *err = NULL;
	const uint32_t one[] = {1};

	assert_int_equal(store_new(f->dir, &other, &err), STORE_OK);
	assert_int_equal(store_account_open(other, 7, &b), STORE_OK);
	assert_int_equal(
	        store_append(b, f->inbox.id, "x\r\n", 3, 0, 0, NULL, NULL),
	        STORE_OK);
	assert_int_equal(store_append(b, f->inbox.id, "yy\r\n", 4, 0,
	                              STORE_F_DELETED, NULL, NULL),
	                 STORE_OK);
	check_all_counts(f);
	assert_int_equal(store_expunge(b, f->inbox.id, one, 1), STORE_OK);
	check_all_counts(f);
	store_account_close(&b);
	store_free(&other);
}

static void test_uids(void **state)
{
	struct fixture *f = *state;
	uint32_t *v = NULL, uid = 7;
	size_t n = 7;
	uint32_t u[6];

	assert_int_equal(store_uids(f->a, f->inbox.id, &v, &n), STORE_OK);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(store_first_unseen(f->a, f->inbox.id, &uid), STORE_OK);
	assert_int_equal(uid, 0);
	for (int i = 0; i < 6; i++)
		u[i] = append(f, f->inbox.id, "m\r\n", STORE_F_SEEN);
	assert_int_equal(store_first_unseen(f->a, f->inbox.id, &uid), STORE_OK);
	assert_int_equal(uid, 0);
	flags_op(f, f->inbox.id, &u[4], 1, STORE_FLAGS_REMOVE, STORE_F_SEEN);
	flags_op(f, f->inbox.id, &u[2], 1, STORE_FLAGS_REMOVE, STORE_F_SEEN);
	assert_int_equal(store_first_unseen(f->a, f->inbox.id, &uid), STORE_OK);
	assert_int_equal(uid, u[2]);
	assert_int_equal(store_expunge(f->a, f->inbox.id, &u[2], 1), STORE_OK);
	assert_int_equal(store_expunge(f->a, f->inbox.id, &u[0], 1), STORE_OK);
	assert_int_equal(store_first_unseen(f->a, f->inbox.id, &uid), STORE_OK);
	assert_int_equal(uid, u[4]);
	assert_int_equal(store_uids(f->a, f->inbox.id, &v, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(v[0], u[1]);
	assert_int_equal(v[1], u[3]);
	assert_int_equal(v[2], u[4]);
	assert_int_equal(v[3], u[5]);
	free(v);
	/* Only this mailbox's UIDs. */
	append(f, mbox_id(f, "Trash"), "t\r\n", 0);
	assert_int_equal(store_uids(f->a, f->inbox.id, &v, &n), STORE_OK);
	assert_int_equal(n, 4);
	free(v);
	assert_int_equal(store_uids(f->a, 9999, &v, &n), STORE_E_NOTFOUND);
	assert_null(v);
	assert_int_equal(n, 0);
}

/* A version 2 file (the counts' columns, triggers and index taken away
 * again) gets its counts computed by the migration. */
static void test_migration_v2_counts(void **state)
{
	struct fixture *f = *state;
	struct store *other = NULL;
	struct store_account *b = NULL;
	int64_t inbox, sent;
	char path[128];
	const char *err = NULL;
	sqlite3 *db;
	struct store_mailbox_status st;

	/* Made through its own struct store, closed (and out of any cache)
	 * before the file is rewritten. */
	assert_int_equal(store_new(f->dir, &other, &err), STORE_OK);
	assert_int_equal(store_account_create(other, 9), STORE_OK);
	assert_int_equal(store_account_open(other, 9, &b), STORE_OK);
	assert_int_equal(store_mailbox_create(b, "Box", NULL, NULL), STORE_OK);
	{
		struct store_mailbox_info info;

		assert_int_equal(store_mailbox_get(b, "INBOX", &info),
		                 STORE_OK);
		inbox = info.id;
		assert_int_equal(store_mailbox_get(b, "Sent", &info), STORE_OK);
		sent = info.id;
	}
	assert_int_equal(store_append(b, inbox, "a\r\n", 3, 0, 0, NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_append(b, inbox, "bb\r\n", 4, 0,
	                              STORE_F_SEEN | STORE_F_DELETED, NULL,
	                              NULL),
	                 STORE_OK);
	assert_int_equal(store_append(b, sent, "ccc\r\n", 5, 0, STORE_F_SEEN,
	                              NULL, NULL),
	                 STORE_OK);
	store_account_close(&b);
	store_free(&other);
	snprintf(path, sizeof path, "%s/mail/09/9.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	        sqlite3_exec(db,
	                     "DROP TRIGGER messages_count_insert;"
	                     "DROP TRIGGER messages_count_delete;"
	                     "DROP TRIGGER messages_count_update;"
	                     "DROP INDEX messages_unseen;"
	                     "ALTER TABLE mailboxes DROP COLUMN n_messages;"
	                     "ALTER TABLE mailboxes DROP COLUMN n_unseen;"
	                     "ALTER TABLE mailboxes DROP COLUMN n_deleted;"
	                     "ALTER TABLE mailboxes DROP COLUMN n_bytes;"
	                     "ALTER TABLE mailboxes DROP COLUMN"
	                     " n_deleted_bytes;"
	                     /* A v2 change the triggers never saw. */
	                     "UPDATE messages SET flags = 8 WHERE uid = 1"
	                     " AND mailbox_id = (SELECT id FROM mailboxes"
	                     "  WHERE name = 'INBOX');"
	                     "PRAGMA user_version = 2;",
	                     NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);
	store_account_close(&f->a);
	assert_int_equal(store_account_open(f->store, 9, &f->a), STORE_OK);
	check_all_counts(f);
	assert_int_equal(store_mailbox_status(f->a, inbox, &st), STORE_OK);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.deleted, 2);
	assert_int_equal(st.size, 7);
	assert_int_equal(st.deleted_size, 7);
	assert_int_equal(store_mailbox_status(f->a, sent, &st), STORE_OK);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.unseen, 0);
	assert_int_equal(st.size, 5);
	/* The triggers work in the migrated file. */
	append(f, sent, "dddd\r\n", 0);
	check_all_counts(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_valid),
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	        T(test_create_parents_and_list),
	        T(test_special_use_listed),
	        T(test_delete_rules),
	        T(test_rename_children),
	        T(test_rename_inbox),
	        T(test_subscriptions),
	        T(test_status_counts),
	        T(test_keywords),
	        T(test_set_flags_modseq),
	        T(test_announcements),
	        T(test_copy),
	        T(test_move),
	        T(test_changes_since),
	        T(test_meta_text),
	        T(test_section_plain),
	        T(test_section_nested),
	        T(test_sent_date),
	        T(test_migration_v1),
	        T(test_list_ext_large),
	        T(test_counts_exact),
	        T(test_counts_other_connection),
	        T(test_uids),
	        T(test_migration_v2_counts),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
