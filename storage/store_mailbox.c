/*
 * Mailboxes of an account: looking one up by name, the hierarchy (list,
 * create, delete, rename; RFC 9051 §6.3.3-§6.3.6), subscriptions
 * (§6.3.7), STATUS counts (§6.3.11, RFC 8438) and the keyword names of the
 * account (§2.3.2).  Mailbox names are compared exactly (bytewise UTF-8),
 * except that "INBOX" in any case is the inbox (RFC 9051 §5.1), also as
 * the first level of a longer name ("inbox/x" is "INBOX/x").  A new
 * account's default mailboxes are made by the schema (store_schema.c).
 *
 * Children of "p" are the names in ["p/", "p0"): '0' follows '/' in
 * ASCII, so one range scan of the name index finds them, with no LIKE and
 * no wildcard a client could slip in.
 */
#include "store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* ---- Names ---- */

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0.
 * Overlong forms, surrogates and code points past U+10FFFF are refused
 * (RFC 3629 §3); so are C1 controls U+0080..U+009F. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

bool store_mailbox_name_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len, level = 0, depth = 1, step;

	if (name == NULL)
		return false;
	len = strnlen(name, STORE_MAILBOX_NAME_MAX + 1);
	if (len == 0 || len > STORE_MAILBOX_NAME_MAX)
		return false;
	/* "~" starts a home-directory path in some servers' namespaces
	 * (RFC 9051 §5.1.2 advises caution); refuse it as a first level. */
	if (p[0] == '~')
		return false;
	for (size_t i = 0; i <= len; i += step) {
		step = 1;
		if (i == len || p[i] == '/') {
			/* The level just ended: not empty, not "." or "..". */
			if (level == 0 || (level == 1 && p[i - 1] == '.') ||
			    (level == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return false;
			if (i < len && ++depth > STORE_MAILBOX_DEPTH_MAX)
				return false;
			level = 0;
			continue;
		}
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		step = utf8_seq(p + i, len - i);
		if (step == 0)
			return false;
		level += step;
	}
	return true;
}

/* Copy name to out (STORE_MAILBOX_NAME_MAX + 1 bytes) with a first level
 * "INBOX" in any case spelled "INBOX".  false if it is not valid. */
static bool norm_name(const char *name, char *out)
{
	if (!store_mailbox_name_valid(name))
		return false;
	strcpy(out, name);
	if (strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return true;
}

static bool is_inbox(const char *norm)
{
	return strcmp(norm, "INBOX") == 0;
}

/* The bounds of name's children: [name/, name0). */
static void child_range(const char *name, char *lo, char *hi)
{
	size_t n = strlen(name);

	memcpy(lo, name, n);
	memcpy(hi, name, n);
	lo[n] = '/';
	hi[n] = '0';
	lo[n + 1] = hi[n + 1] = '\0';
}

/* ---- Lookups ---- */

struct mbox_row {
	int64_t id;
	int64_t uidnext, modseq;
	bool noselect;
};

/* The mailbox called name, placeholders included.  Returns a store_error
 * (STORE_E_NOTFOUND when there is none). */
static int lookup(struct store_account *a, const char *name, struct mbox_row *r)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(a->db,
	                            "SELECT id, uidnext, highestmodseq,"
	                            " noselect FROM mailboxes WHERE name = ?1",
	                            -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->id = sqlite3_column_int64(st, 0);
		r->uidnext = sqlite3_column_int64(st, 1);
		r->modseq = sqlite3_column_int64(st, 2);
		r->noselect = sqlite3_column_int(st, 3) != 0;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_E_NOTFOUND : store__error(rc);
}

/* One integer from sql with text parameters ?1 and ?2 (p2 may be NULL);
 * *v_r is 0 when there is no row. */
static int query_int(struct store_account *a, const char *sql, const char *p1,
                     const char *p2, int64_t *v_r)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store__error(rc);
	if (p1 != NULL)
		sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
	if (p2 != NULL)
		sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*v_r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
	                                             : store__error(rc);
}

static int has_children(struct store_account *a, const char *name, bool *yes_r)
{
	char lo[STORE_MAILBOX_NAME_MAX + 2], hi[STORE_MAILBOX_NAME_MAX + 2];
	int64_t v = 0;
	int ret;

	child_range(name, lo, hi);
	ret = query_int(a,
	                "SELECT 1 FROM mailboxes WHERE name >= ?1"
	                " AND name < ?2 LIMIT 1",
	                lo, hi, &v);
	*yes_r = v != 0;
	return ret;
}

/* Run sql with text ?1 (and ?2 if given).  Returns a store_error. */
static int exec_text(struct store_account *a, const char *sql, const char *p1,
                     const char *p2)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
	if (p2 != NULL)
		sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : store__error(rc);
}

int store_mailbox_get(struct store_account *a, const char *name,
                      struct store_mailbox_info *info_r)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	struct store_mailbox_status counts;
	sqlite3_stmt *st;
	int rc, ret;

	if (!norm_name(name, norm))
		return STORE_E_NOTFOUND;
	/* One read transaction so the counts match UIDNEXT and MODSEQ. */
	ret = store__begin_read(a);
	if (ret != STORE_OK)
		return ret;
	/* A \Noselect placeholder is not found (it cannot be selected). */
	st = store__stmt(a, STMT_MAILBOX_BY_NAME);
	if (st == NULL) {
		ret = STORE_E_TEMP;
		goto out;
	}
	sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = rc == SQLITE_DONE ? STORE_E_NOTFOUND : store__error(rc);
		goto out;
	}
	info_r->id = sqlite3_column_int64(st, 0);
	info_r->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
	info_r->uidnext = (uint32_t)sqlite3_column_int64(st, 2);
	info_r->highestmodseq = (uint64_t)sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	/* The counts kept in the row (schema v3): no count over the
	 * messages. */
	ret = store__mailbox_counts(a, info_r->id, &counts);
	if (ret != STORE_OK)
		goto out;
	info_r->messages = counts.messages;
	info_r->bytes = counts.size;
	ret = store__commit(a);
out:
	if (ret != STORE_OK)
		store__rollback(a);
	return ret;
}

/* ---- LIST ---- */

static char *dup_col(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s != NULL ? xstrdup((const char *)s) : NULL;
}

int store_mailbox_list(struct store_account *a, struct store_mailbox **list_r,
                       size_t *n_r)
{
	struct store_mailbox *list = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*list_r = NULL;
	*n_r = 0;
	store__blob_release(a);
	rc = sqlite3_prepare_v2(
	        a->db,
	        "SELECT id, name, special_use, noselect,"
	        " EXISTS (SELECT 1 FROM subscriptions s"
	        "  WHERE s.name = mailboxes.name)"
	        " FROM mailboxes ORDER BY name <> 'INBOX', name",
	        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	/* At most STORE_MAILBOXES_MAX rows (and a few over from an older
	 * file): a bounded size, so xrealloc. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_mailbox *m;

		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		m = &list[n++];
		m->id = sqlite3_column_int64(st, 0);
		m->name = dup_col(st, 1);
		m->special_use = dup_col(st, 2);
		m->noselect = sqlite3_column_int(st, 3) != 0;
		m->subscribed = sqlite3_column_int(st, 4) != 0;
		if (m->name == NULL)
			m->name = xstrdup("");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_mailbox_list_free(list, n);
		return store__error(rc);
	}
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}

void store_mailbox_list_free(struct store_mailbox *list, size_t n)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(list[i].name);
		free(list[i].special_use);
	}
	free(list);
}

/* ---- CREATE ---- */

static int check_count(struct store_account *a)
{
	int64_t v = 0;
	int ret =
	        query_int(a, "SELECT count(*) FROM mailboxes", NULL, NULL, &v);

	if (ret == STORE_OK && v >= STORE_MAILBOXES_MAX)
		return STORE_E_LIMIT;
	return ret;
}

/* Insert a new, subscribed mailbox. */
static int insert_new(struct store_account *a, const char *name,
                      const char *special_use, int64_t *id_r)
{
	int ret = check_count(a);

	if (ret == STORE_OK)
		ret = store__error(
		        store__mailbox_insert(a->db, name, special_use, id_r));
	if (ret == STORE_OK)
		ret = exec_text(a,
		                "INSERT OR IGNORE INTO subscriptions (name)"
		                " VALUES (?1)",
		                name, NULL);
	return ret;
}

/* Create every missing superior level of name (RFC 9051 §6.3.3). */
static int ensure_parents(struct store_account *a, const char *name)
{
	char buf[STORE_MAILBOX_NAME_MAX + 1];
	struct mbox_row r;
	int ret;

	strcpy(buf, name);
	for (char *p = strchr(buf, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		ret = lookup(a, buf, &r);
		if (ret == STORE_E_NOTFOUND)
			ret = insert_new(a, buf, NULL, NULL);
		*p = '/';
		if (ret != STORE_OK)
			return ret;
	}
	return STORE_OK;
}

static int create_locked(struct store_account *a, const char *name,
                         const char *special_use, int64_t *id_r)
{
	sqlite3_stmt *st = NULL;
	struct mbox_row r;
	uint32_t uidvalidity;
	int rc, ret;

	ret = ensure_parents(a, name);
	if (ret != STORE_OK)
		return ret;
	ret = lookup(a, name, &r);
	if (ret == STORE_E_NOTFOUND)
		return insert_new(a, name, special_use, id_r);
	if (ret != STORE_OK)
		return ret;
	if (!r.noselect)
		return STORE_E_EXISTS;
	/* A placeholder becomes a mailbox again.  It is a new mailbox as far
	 * as clients can tell, so a new UIDVALIDITY (RFC 9051 §2.3.1.1); the
	 * old expunged UIDs belong to the old one. */
	rc = store__next_uidvalidity(a->db, &uidvalidity);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(a->db,
		                        "UPDATE mailboxes SET noselect = 0,"
		                        " uidvalidity = ?2, special_use = ?3"
		                        " WHERE id = ?1",
		                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_int64(st, 1, r.id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	if (special_use != NULL)
		sqlite3_bind_text(st, 3, special_use, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store__error(rc);
	rc = store__run(a, "DELETE FROM expunged WHERE mailbox_id = ?1", r.id,
	                0, 0);
	if (rc != SQLITE_OK)
		return store__error(rc);
	ret = exec_text(a,
	                "INSERT OR IGNORE INTO subscriptions (name)"
	                " VALUES (?1)",
	                name, NULL);
	if (ret == STORE_OK && id_r != NULL)
		*id_r = r.id;
	return ret;
}

/* RFC 6154 attributes are short atoms starting with "\". */
static bool special_use_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return true;
	n = strnlen(s, 33);
	if (n < 2 || n > 32 || s[0] != '\\')
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int store_mailbox_create(struct store_account *a, const char *name,
                         const char *special_use, int64_t *id_r)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	int64_t id = 0;
	int ret;

	if (!norm_name(name, norm) || !special_use_valid(special_use))
		return STORE_E_INVALID;
	if (is_inbox(norm))
		return STORE_E_EXISTS;
	ret = store__begin(a);
	if (ret != STORE_OK)
		return ret;
	ret = create_locked(a, norm, special_use, &id);
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK) {
		store__rollback(a);
		return ret;
	}
	if (id_r != NULL)
		*id_r = id;
	return STORE_OK;
}

/* ---- DELETE ---- */

static int delete_locked(struct store_account *a, const char *name,
                         struct mbox_row *r)
{
	bool children = false;
	int ret, rc;

	ret = lookup(a, name, r);
	if (ret == STORE_OK)
		ret = has_children(a, name, &children);
	if (ret != STORE_OK)
		return ret;
	if (!children) {
		/* Messages, bodies, metadata and expunged UIDs cascade. */
		rc = store__run(a, "DELETE FROM mailboxes WHERE id = ?1", r->id,
		                0, 0);
		return store__error(rc);
	}
	/* RFC 9051 §6.3.4: a mailbox with inferiors loses its messages and
	 * becomes \Noselect; deleting that again is an error. */
	if (r->noselect)
		return STORE_E_EXISTS;
	r->modseq++;
	rc = store__run(a, "DELETE FROM messages WHERE mailbox_id = ?1", r->id,
	                0, 0);
	if (rc == SQLITE_OK)
		rc = store__run(a, "DELETE FROM expunged WHERE mailbox_id = ?1",
		                r->id, 0, 0);
	if (rc == SQLITE_OK)
		rc = store__run(a,
		                "UPDATE mailboxes SET noselect = 1,"
		                " special_use = NULL, highestmodseq = ?2"
		                " WHERE id = ?1",
		                r->id, r->modseq, 0);
	return store__error(rc);
}

int store_mailbox_delete(struct store_account *a, const char *name)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	struct mbox_row r = {0};
	int ret;

	if (!norm_name(name, norm) || is_inbox(norm))
		return STORE_E_INVALID;
	ret = store__begin(a);
	if (ret != STORE_OK)
		return ret;
	ret = delete_locked(a, norm, &r);
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK) {
		store__rollback(a);
		return ret;
	}
	/* A session with it selected re-reads it and finds it gone. */
	store__announce(a, r.id, STORE_CHANGE_EXPUNGE, (uint32_t)r.uidnext,
	                (uint64_t)r.modseq);
	return STORE_OK;
}

/* ---- RENAME ---- */

/* Move every message of INBOX to the new mailbox dst with new UIDs (RFC
 * 9051 §6.3.6: INBOX stays, empty).  *moved_r counts them. */
static int move_inbox(struct store_account *a, const struct mbox_row *inbox,
                      int64_t dst, int64_t *dst_uidnext_r, int64_t *modseq_r,
                      size_t *moved_r)
{
	sqlite3_stmt *st = NULL;
	int64_t *ids = NULL, *uids = NULL;
	size_t n = 0, cap = 0;
	uint32_t v;
	int64_t uidnext, dst_modseq;
	int rc, ret = STORE_OK;

	ret = store__mailbox_row(a, dst, &v, &uidnext, &dst_modseq);
	if (ret != STORE_OK)
		return ret;
	rc = sqlite3_prepare_v2(a->db,
	                        "SELECT id, uid FROM messages"
	                        " WHERE mailbox_id = ?1 ORDER BY uid",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_int64(st, 1, inbox->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *gi, *gu;

			cap = cap ? cap * 2 : 64;
			gi = realloc(ids, cap * sizeof *ids);
			if (gi != NULL)
				ids = gi;
			gu = realloc(uids, cap * sizeof *uids);
			if (gu != NULL)
				uids = gu;
			if (gi == NULL || gu == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
		}
		ids[n] = sqlite3_column_int64(st, 0);
		uids[n++] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		ret = store__error(rc);
	if (uidnext + (int64_t)n >= (int64_t)UINT32_MAX)
		ret = STORE_E_LIMIT;
	st = NULL;
	if (ret == STORE_OK && n > 0) {
		rc = sqlite3_prepare_v2(a->db,
		                        "UPDATE messages SET mailbox_id = ?2,"
		                        " uid = ?3, modseq = ?4 WHERE id = ?1",
		                        -1, &st, NULL);
		ret = store__error(rc);
	}
	for (size_t i = 0; ret == STORE_OK && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, dst);
		sqlite3_bind_int64(st, 3, uidnext + (int64_t)i);
		sqlite3_bind_int64(st, 4, dst_modseq + 1);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		if (rc == SQLITE_OK)
			rc = store__run(a,
			                "INSERT OR REPLACE INTO expunged"
			                " (mailbox_id, uid, modseq)"
			                " VALUES (?1, ?2, ?3)",
			                inbox->id, uids[i], inbox->modseq + 1);
		ret = store__error(rc);
	}
	sqlite3_finalize(st);
	free(ids);
	free(uids);
	if (ret != STORE_OK || n == 0) {
		*moved_r = 0;
		return ret;
	}
	*moved_r = n;
	*dst_uidnext_r = uidnext + (int64_t)n;
	*modseq_r = dst_modseq + 1;
	ret = store__set_counters(a, dst, uidnext + (int64_t)n,
	                          (uint64_t)dst_modseq + 1);
	if (ret == STORE_OK)
		ret = store__error(store__run(a,
		                              "UPDATE mailboxes SET"
		                              " highestmodseq = ?2"
		                              " WHERE id = ?1",
		                              inbox->id, inbox->modseq + 1, 0));
	return ret;
}

/* Rename one mailbox; its subscription follows it, so a client that
 * lists subscribed mailboxes still sees it under the new name. */
static int rename_one(struct store_account *a, const char *from, const char *to)
{
	int ret = exec_text(a, "UPDATE mailboxes SET name = ?2 WHERE name = ?1",
	                    from, to);

	if (ret == STORE_OK)
		ret = exec_text(a,
		                "UPDATE OR REPLACE subscriptions SET name = ?2"
		                " WHERE name = ?1",
		                from, to);
	return ret;
}

/* Rename from (and its children) to to. */
static int rename_tree(struct store_account *a, const char *from,
                       const char *to, const struct mbox_row *r)
{
	char lo[STORE_MAILBOX_NAME_MAX + 2], hi[STORE_MAILBOX_NAME_MAX + 2];
	char newname[2 * STORE_MAILBOX_NAME_MAX + 2];
	size_t from_len = strlen(from), n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int64_t *ids = NULL;
	char **names = NULL;
	int rc, ret = STORE_OK;

	child_range(from, lo, hi);
	rc = sqlite3_prepare_v2(a->db,
	                        "SELECT id, name FROM mailboxes"
	                        " WHERE name >= ?1 AND name < ?2",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_text(st, 1, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
	/* Bounded by STORE_MAILBOXES_MAX. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ids = xrealloc(ids, cap * sizeof *ids);
			names = xrealloc(names, cap * sizeof *names);
		}
		ids[n] = sqlite3_column_int64(st, 0);
		names[n++] = dup_col(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		ret = store__error(rc);
	if (ret == STORE_OK)
		ret = rename_one(a, from, to);
	for (size_t i = 0; ret == STORE_OK && i < n; i++) {
		if (names[i] == NULL || strlen(names[i]) <= from_len) {
			ret = STORE_E_TEMP;
			break;
		}
		snprintf(newname, sizeof newname, "%s%s", to,
		         names[i] + from_len);
		/* The new name must still be a valid one (length, depth). */
		if (!store_mailbox_name_valid(newname)) {
			ret = STORE_E_INVALID;
			break;
		}
		ret = rename_one(a, names[i], newname);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(ids);
	(void)r;
	return ret;
}

struct rename_result {
	int64_t inbox_id, dst_id;
	int64_t dst_uidnext, dst_modseq;
	struct mbox_row inbox;
	size_t moved;
};

static int rename_locked(struct store_account *a, const char *from,
                         const char *to, struct rename_result *res)
{
	struct mbox_row r, t;
	int ret;

	ret = lookup(a, from, &r);
	if (ret != STORE_OK)
		return ret;
	ret = lookup(a, to, &t);
	if (ret == STORE_OK)
		return STORE_E_EXISTS;
	if (ret != STORE_E_NOTFOUND)
		return ret;
	ret = ensure_parents(a, to);
	if (ret != STORE_OK)
		return ret;
	if (!is_inbox(from))
		return rename_tree(a, from, to, &r);
	ret = insert_new(a, to, NULL, &res->dst_id);
	if (ret != STORE_OK)
		return ret;
	res->inbox = r;
	return move_inbox(a, &r, res->dst_id, &res->dst_uidnext,
	                  &res->dst_modseq, &res->moved);
}

int store_mailbox_rename(struct store_account *a, const char *from,
                         const char *to)
{
	char f[STORE_MAILBOX_NAME_MAX + 1], t[STORE_MAILBOX_NAME_MAX + 1];
	struct rename_result res = {0};
	size_t flen;
	int ret;

	if (!norm_name(from, f) || !norm_name(to, t) || is_inbox(t))
		return STORE_E_INVALID;
	flen = strlen(f);
	/* Into itself: "a" to "a/b" (RFC 9051 §6.3.6). */
	if (strncmp(t, f, flen) == 0 && t[flen] == '/')
		return STORE_E_INVALID;
	if (strcmp(f, t) == 0)
		return STORE_E_EXISTS;
	ret = store__begin(a);
	if (ret != STORE_OK)
		return ret;
	ret = rename_locked(a, f, t, &res);
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK) {
		store__rollback(a);
		return ret;
	}
	if (res.moved > 0) {
		store__announce(a, res.inbox.id, STORE_CHANGE_EXPUNGE,
		                (uint32_t)res.inbox.uidnext,
		                (uint64_t)res.inbox.modseq + 1);
		store__announce(a, res.dst_id, STORE_CHANGE_APPEND,
		                (uint32_t)res.dst_uidnext,
		                (uint64_t)res.dst_modseq);
	}
	return STORE_OK;
}

/* ---- Subscriptions ---- */

int store_subscribe(struct store_account *a, const char *name, bool on)
{
	char norm[STORE_MAILBOX_NAME_MAX + 1];
	int64_t count = 0;
	int ret;

	if (!norm_name(name, norm))
		return STORE_E_INVALID;
	ret = store__begin(a);
	if (ret != STORE_OK)
		return ret;
	if (on) {
		ret = query_int(a, "SELECT count(*) FROM subscriptions", NULL,
		                NULL, &count);
		if (ret == STORE_OK && count >= STORE_MAILBOXES_MAX)
			ret = STORE_E_LIMIT;
		if (ret == STORE_OK)
			ret = exec_text(a,
			                "INSERT OR IGNORE INTO subscriptions"
			                " (name) VALUES (?1)",
			                norm, NULL);
	} else {
		/* Unsubscribing a name that is not subscribed is no error. */
		ret = exec_text(a, "DELETE FROM subscriptions WHERE name = ?1",
		                norm, NULL);
	}
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK)
		store__rollback(a);
	return ret;
}

int store_subscriptions(struct store_account *a, char ***names_r, size_t *n_r)
{
	sqlite3_stmt *st = NULL;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*names_r = NULL;
	*n_r = 0;
	store__blob_release(a);
	rc = sqlite3_prepare_v2(a->db,
	                        "SELECT name FROM subscriptions ORDER BY name",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	/* Bounded by STORE_MAILBOXES_MAX (store_subscribe). */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *s = dup_col(st, 0);

		if (s == NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n++] = s;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_strv_free(v, n);
		return store__error(rc);
	}
	*names_r = v;
	*n_r = n;
	return STORE_OK;
}

void store_strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- STATUS ---- */

/* The counts are kept in the mailbox's row by the triggers of schema v3
 * (store_schema.c): O(1) however large the mailbox. */
static int status_locked(struct store_account *a, int64_t mailbox_id,
                         struct store_mailbox_status *st_r)
{
	return store__mailbox_counts(a, mailbox_id, st_r);
}

int store_mailbox_status(struct store_account *a, int64_t mailbox_id,
                         struct store_mailbox_status *st_r)
{
	int ret = store__begin_read(a);

	if (ret != STORE_OK)
		return ret;
	ret = status_locked(a, mailbox_id, st_r);
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK)
		store__rollback(a);
	return ret;
}

/* ---- Keywords ---- */

/* The account's keywords, names[i] the name of id i or NULL. */
static int load_keywords(struct store_account *a, char **names)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(a->db,
	                            "SELECT id, name FROM keywords"
	                            " WHERE id >= 0 AND id < ?1",
	                            -1, &st, NULL);

	memset(names, 0, STORE_KEYWORDS_MAX * sizeof *names);
	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_int(st, 1, STORE_KEYWORDS_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int id = sqlite3_column_int(st, 0);

		free(names[id]);
		names[id] = dup_col(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		for (int i = 0; i < STORE_KEYWORDS_MAX; i++) {
			free(names[i]);
			names[i] = NULL;
		}
		return store__error(rc);
	}
	return STORE_OK;
}

int store_keyword_names(struct store_account *a, char ***names_r)
{
	char **names = xcalloc(STORE_KEYWORDS_MAX, sizeof *names);
	int ret;

	*names_r = NULL;
	store__blob_release(a);
	ret = load_keywords(a, names);
	if (ret != STORE_OK) {
		free(names);
		return ret;
	}
	*names_r = names;
	return STORE_OK;
}

/* RFC 9051 §9: flag-keyword is an atom; a name starting with "\" is a
 * system flag (and "\" is not an atom character anyway). */
static bool keyword_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, STORE_KEYWORD_LEN_MAX + 1);
	if (n == 0 || n > STORE_KEYWORD_LEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* The id of name in names (case-insensitive), or -1. */
static int keyword_find(char *const *names, const char *name)
{
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++) {
		if (names[i] != NULL && strcasecmp(names[i], name) == 0)
			return i;
	}
	return -1;
}

/* Give every unknown name of names an id. */
static int keyword_create(struct store_account *a, char **known,
                          const char *const *names, size_t n)
{
	sqlite3_stmt *st = NULL;
	int ret, rc = SQLITE_OK;

	ret = load_keywords(a, known);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; ret == STORE_OK && i < n; i++) {
		int id = -1;

		if (keyword_find(known, names[i]) >= 0)
			continue;
		for (int k = 0; k < STORE_KEYWORDS_MAX && id < 0; k++) {
			if (known[k] == NULL)
				id = k;
		}
		if (id < 0) {
			ret = STORE_E_LIMIT;
			break;
		}
		rc = SQLITE_OK;
		if (st == NULL)
			rc = sqlite3_prepare_v2(
			        a->db,
			        "INSERT INTO keywords (id, name)"
			        " VALUES (?1, ?2)",
			        -1, &st, NULL);
		if (rc != SQLITE_OK) {
			ret = store__error(rc);
			break;
		}
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, id);
		sqlite3_bind_text(st, 2, names[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			ret = store__error(rc);
		else
			known[id] = xstrdup(names[i]);
	}
	sqlite3_finalize(st);
	return ret;
}

int store_keyword_mask(struct store_account *a, const char *const *names,
                       size_t n, bool create, uint64_t *mask_r)
{
	char *known[STORE_KEYWORDS_MAX];
	uint64_t mask = 0;
	bool missing = false;
	int ret;

	*mask_r = 0;
	if (n > 0 && names == NULL)
		return STORE_E_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (!keyword_valid(names[i]))
			return STORE_E_INVALID;
	}
	store__blob_release(a);
	ret = load_keywords(a, known);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n && !missing; i++)
		missing = keyword_find(known, names[i]) < 0;
	if (missing && create) {
		for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
			free(known[i]);
		/* Its own committed transaction, reading the table again
		 * under the write lock (another session may have added). */
		ret = store__begin(a);
		if (ret != STORE_OK)
			return ret;
		ret = keyword_create(a, known, names, n);
		if (ret == STORE_OK)
			ret = store__commit(a);
		if (ret != STORE_OK) {
			store__rollback(a);
			for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
				free(known[i]);
			return ret;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int id = keyword_find(known, names[i]);

		if (id >= 0)
			mask |= (uint64_t)1 << id;
	}
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
		free(known[i]);
	*mask_r = mask;
	return STORE_OK;
}
