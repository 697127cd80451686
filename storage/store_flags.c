/*
 * IMAP's view of a mailbox's messages: listing with keywords, Date and
 * header length (store_list_ext), what changed since a MODSEQ
 * (store_changes_since, for a selected session and RFC 7162 / QRESYNC),
 * flag changes (STORE, RFC 9051 §6.4.6, RFC 7162 §3.1) and COPY / MOVE
 * (RFC 9051 §6.4.7, RFC 6851, RFC 4315 COPYUID).  Each change is one
 * durable transaction, announced after it commits.
 */
#include "store_private.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Fill *x from a row of uid, size, internal_date, modseq, flags, uidl,
 * keywords, sent_date, hdr_len. */
static void read_ext(sqlite3_stmt *st, struct store_msg_ext *x)
{
	const unsigned char *uidl = sqlite3_column_text(st, 5);

	memset(x, 0, sizeof *x);
	x->m.uid = (uint32_t)sqlite3_column_int64(st, 0);
	x->m.size = (uint64_t)sqlite3_column_int64(st, 1);
	x->m.internal_date = sqlite3_column_int64(st, 2);
	x->m.modseq = (uint64_t)sqlite3_column_int64(st, 3);
	x->m.flags = (uint32_t)sqlite3_column_int64(st, 4);
	if (uidl != NULL) {
		size_t n = strnlen((const char *)uidl, STORE_UIDL_MAX);

		memcpy(x->m.uidl, uidl, n);
	}
	x->keywords = (uint64_t)sqlite3_column_int64(st, 6);
	x->sent_date = sqlite3_column_int64(st, 7);
	x->hdr_len = (uint64_t)sqlite3_column_int64(st, 8);
}

/* Step st to the end, collecting rows into a malloc'd array.  Returns an
 * SQLite result code (SQLITE_DONE on success). */
static int collect_ext(sqlite3_stmt *st, struct store_msg_ext **msgs_r,
                       size_t *n_r)
{
	struct store_msg_ext *msgs = NULL, *grown;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			/* A mailbox's size is not ours to bound: check. */
			cap = cap ? cap * 2 : 64;
			grown = realloc(msgs, cap * sizeof *msgs);
			if (grown == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			msgs = grown;
		}
		read_ext(st, &msgs[n++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(msgs);
		return rc;
	}
	*msgs_r = msgs;
	*n_r = n;
	return rc;
}

int store_list_ext(struct store_account *a, int64_t mailbox_id, uint32_t uid_lo,
                   uint32_t uid_hi, struct store_msg_ext **msgs_r, size_t *n_r)
{
	sqlite3_stmt *st;
	int rc;

	*msgs_r = NULL;
	*n_r = 0;
	store__blob_release(a);
	st = store__stmt(a, STMT_MSG_LIST_EXT);
	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid_lo);
	sqlite3_bind_int64(st, 3, uid_hi);
	rc = collect_ext(st, msgs_r, n_r);
	return rc == SQLITE_DONE ? STORE_OK : store__error(rc);
}

/* The expunged UIDs of mailbox_id after modseq, ascending. */
static int expunged_since(struct store_account *a, int64_t mailbox_id,
                          uint64_t modseq, uint32_t **uids_r, size_t *n_r)
{
	sqlite3_stmt *st = NULL;
	uint32_t *uids = NULL, *grown;
	size_t n = 0, cap = 0;
	int rc;

	rc = sqlite3_prepare_v2(a->db,
	                        "SELECT uid FROM expunged WHERE mailbox_id = ?1"
	                        " AND modseq > ?2 ORDER BY uid",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store__error(rc);
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (int64_t)modseq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(uids, cap * sizeof *uids);
			if (grown == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			uids = grown;
		}
		uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(uids);
		return store__error(rc);
	}
	*uids_r = uids;
	*n_r = n;
	return STORE_OK;
}

static int changes_locked(struct store_account *a, int64_t mailbox_id,
                          uint64_t modseq, uint32_t **expunged_r,
                          size_t *n_expunged_r,
                          struct store_msg_ext **changed_r, size_t *n_changed_r,
                          struct store_mailbox_info *info_r)
{
	struct store_mailbox_status counts;
	sqlite3_stmt *st = NULL;
	int rc, ret;

	/* The counts kept in the row (schema v3): a sync after every
	 * command costs no count over the mailbox's messages. */
	ret = store__mailbox_counts(a, mailbox_id, &counts);
	if (ret != STORE_OK)
		return ret;
	memset(info_r, 0, sizeof *info_r);
	info_r->id = mailbox_id;
	info_r->uidvalidity = counts.uidvalidity;
	info_r->uidnext = counts.uidnext;
	info_r->highestmodseq = counts.highestmodseq;
	info_r->messages = counts.messages;
	info_r->bytes = counts.size;
	ret = expunged_since(a, mailbox_id, modseq, expunged_r, n_expunged_r);
	if (ret != STORE_OK)
		return ret;
	/* Served by the (mailbox_id, modseq) index; few rows are newer. */
	rc = sqlite3_prepare_v2(
	        a->db,
	        "SELECT uid, size, internal_date, modseq, flags,"
	        " uidl, keywords, sent_date, hdr_len"
	        " FROM messages WHERE mailbox_id = ?1"
	        " AND modseq > ?2 ORDER BY uid",
	        -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (int64_t)modseq);
		rc = collect_ext(st, changed_r, n_changed_r);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(*expunged_r);
		*expunged_r = NULL;
		*n_expunged_r = 0;
		return store__error(rc);
	}
	return STORE_OK;
}

int store_changes_since(struct store_account *a, int64_t mailbox_id,
                        uint64_t modseq, uint32_t **expunged_r,
                        size_t *n_expunged_r, struct store_msg_ext **changed_r,
                        size_t *n_changed_r, struct store_mailbox_info *info_r)
{
	int ret;

	*expunged_r = NULL;
	*n_expunged_r = 0;
	*changed_r = NULL;
	*n_changed_r = 0;
	if (modseq > INT64_MAX)
		modseq = INT64_MAX;
	/* One read transaction: the lists and counters are one snapshot. */
	ret = store__begin_read(a);
	if (ret != STORE_OK)
		return ret;
	ret = changes_locked(a, mailbox_id, modseq, expunged_r, n_expunged_r,
	                     changed_r, n_changed_r, info_r);
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK) {
		store__rollback(a);
		free(*expunged_r);
		free(*changed_r);
		*expunged_r = NULL;
		*n_expunged_r = 0;
		*changed_r = NULL;
		*n_changed_r = 0;
	}
	return ret;
}

/* ---- STORE ---- */

static void apply_op(enum store_flag_op op, uint32_t flags, uint64_t keywords,
                     uint32_t *f, uint64_t *k)
{
	switch (op) {
	case STORE_FLAGS_SET:
		*f = flags;
		*k = keywords;
		break;
	case STORE_FLAGS_ADD:
		*f |= flags;
		*k |= keywords;
		break;
	case STORE_FLAGS_REMOVE:
		*f &= ~flags;
		*k &= ~keywords;
		break;
	}
}

static int set_flags_locked(struct store_account *a, int64_t mailbox_id,
                            const uint32_t *uids, size_t n,
                            enum store_flag_op op, uint32_t flags,
                            uint64_t keywords, uint64_t unchangedsince,
                            struct store_flag_result *res, size_t *n_res_r,
                            uint64_t *modseq_r, uint32_t *uidnext_r)
{
	sqlite3_stmt *st;
	uint32_t uidvalidity;
	int64_t uidnext, highest;
	uint64_t modseq;
	size_t nres = 0;
	bool changed = false;
	int rc, ret;

	ret = store__mailbox_row(a, mailbox_id, &uidvalidity, &uidnext,
	                         &highest);
	if (ret != STORE_OK)
		return ret;
	/* One new MODSEQ shared by every message this call changes (RFC 7162
	 * §3.1: a STORE is one change). */
	modseq = (uint64_t)highest + 1;
	for (size_t i = 0; i < n; i++) {
		struct store_flag_result *r = &res[nres];
		int64_t rowid;
		uint32_t f;
		uint64_t k;

		st = store__stmt(a, STMT_MSG_FLAGS);
		if (st == NULL)
			return STORE_E_TEMP;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uids[i]);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			continue; /* expunged meanwhile: skipped */
		if (rc != SQLITE_ROW)
			return store__error(rc);
		rowid = sqlite3_column_int64(st, 0);
		memset(r, 0, sizeof *r);
		r->uid = uids[i];
		r->flags = (uint32_t)sqlite3_column_int64(st, 1);
		r->keywords = (uint64_t)sqlite3_column_int64(st, 2);
		r->modseq = (uint64_t)sqlite3_column_int64(st, 3);
		sqlite3_reset(st);
		nres++;
		/* RFC 7162 §3.1.3: UNCHANGEDSINCE fails for a message whose
		 * MODSEQ is greater. */
		if (unchangedsince > 0 && r->modseq > unchangedsince)
			continue;
		f = r->flags;
		k = r->keywords;
		apply_op(op, flags, keywords, &f, &k);
		if (f == r->flags && k == r->keywords)
			continue; /* no change, no new MODSEQ */
		st = store__stmt(a, STMT_MSG_SET_FLAGS);
		if (st == NULL)
			return STORE_E_TEMP;
		sqlite3_bind_int64(st, 1, rowid);
		sqlite3_bind_int64(st, 2, f);
		sqlite3_bind_int64(st, 3, (int64_t)k);
		sqlite3_bind_int64(st, 4, (int64_t)modseq);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return store__error(rc);
		r->flags = f;
		r->keywords = k;
		r->modseq = modseq;
		r->changed = true;
		changed = true;
	}
	if (changed) {
		st = store__stmt(a, STMT_MAILBOX_SET_MODSEQ);
		if (st == NULL)
			return STORE_E_TEMP;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, (int64_t)modseq);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return store__error(rc);
		*modseq_r = modseq;
	}
	*uidnext_r = (uint32_t)uidnext;
	*n_res_r = nres;
	return STORE_OK;
}

int store_set_flags(struct store_account *a, int64_t mailbox_id,
                    const uint32_t *uids, size_t n, enum store_flag_op op,
                    uint32_t flags, uint64_t keywords, uint64_t unchangedsince,
                    struct store_flag_result **res_r, size_t *n_res_r)
{
	struct store_flag_result *res = NULL;
	uint64_t modseq = 0;
	uint32_t uidnext = 0;
	size_t nres = 0;
	int ret;

	*res_r = NULL;
	*n_res_r = 0;
	if ((n > 0 && uids == NULL) || (flags & ~(uint32_t)STORE_F_ALL) ||
	    (op != STORE_FLAGS_SET && op != STORE_FLAGS_ADD &&
	     op != STORE_FLAGS_REMOVE) ||
	    unchangedsince > INT64_MAX)
		return STORE_E_INVALID;
	if (n > SIZE_MAX / sizeof *res)
		return STORE_E_LIMIT;
	if (n > 0) {
		res = malloc(n * sizeof *res);
		if (res == NULL)
			return STORE_E_TEMP;
	}
	ret = store__begin(a);
	if (ret == STORE_OK) {
		ret = set_flags_locked(a, mailbox_id, uids, n, op, flags,
		                       keywords, unchangedsince, res, &nres,
		                       &modseq, &uidnext);
		if (ret == STORE_OK)
			ret = store__commit(a);
		if (ret != STORE_OK)
			store__rollback(a);
	}
	if (ret != STORE_OK) {
		free(res);
		return ret;
	}
	if (modseq != 0)
		store__announce(a, mailbox_id, STORE_CHANGE_FLAGS, uidnext,
		                modseq);
	if (nres == 0) {
		free(res);
		res = NULL;
	}
	*res_r = res;
	*n_res_r = nres;
	return STORE_OK;
}

/* ---- COPY / MOVE ---- */

enum { CP_ROW, CP_BODY, CP_META, MV_ROW, CP_COUNT };

static const char *const copy_sql[CP_COUNT] = {
        [CP_ROW] = "INSERT INTO messages (mailbox_id, uid, modseq, size,"
                   " internal_date, flags, uidl, keywords, sent_date,"
                   " hdr_len) SELECT ?1, ?2, ?3, size, internal_date, flags,"
                   " ?4, keywords, sent_date, hdr_len FROM messages"
                   " WHERE id = ?5",
        [CP_BODY] = "INSERT INTO bodies (message_id, data)"
                    " SELECT ?1, data FROM bodies WHERE message_id = ?2",
        [CP_META] = "INSERT INTO mime_meta (message_id, envelope, body,"
                    " bodystructure, parts) SELECT ?1, envelope, body,"
                    " bodystructure, parts FROM mime_meta"
                    " WHERE message_id = ?2",
        [MV_ROW] = "UPDATE messages SET mailbox_id = ?2, uid = ?3,"
                   " modseq = ?4 WHERE id = ?1",
};

struct copy_ctx {
	sqlite3_stmt *st[CP_COUNT];
	int64_t src, dst;
	bool move;
	uint32_t dst_uidvalidity;
	int64_t dst_uidnext, dst_modseq;
	int64_t src_uidnext, src_modseq;
};

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? STORE_OK : store__error(rc);
}

/* Copy or move the message rowid as uid (dst's next). */
static int copy_one(struct store_account *a, struct copy_ctx *c, int64_t rowid,
                    uint32_t old_uid, uint32_t uid)
{
	char uidl[STORE_UIDL_MAX + 1];
	sqlite3_stmt *st;
	int64_t newid;
	int ret;

	if (c->move) {
		st = c->st[MV_ROW];
		sqlite3_bind_int64(st, 1, rowid);
		sqlite3_bind_int64(st, 2, c->dst);
		sqlite3_bind_int64(st, 3, uid);
		sqlite3_bind_int64(st, 4, c->dst_modseq);
		ret = step_done(st);
		if (ret != STORE_OK)
			return ret;
		/* RFC 6851 §4.3 / RFC 7162 §3.2.7: the source UID is gone, as
		 * by EXPUNGE, at the source's new MODSEQ. */
		st = store__stmt(a, STMT_EXPUNGED_INSERT);
		if (st == NULL)
			return STORE_E_TEMP;
		sqlite3_bind_int64(st, 1, c->src);
		sqlite3_bind_int64(st, 2, old_uid);
		sqlite3_bind_int64(st, 3, c->src_modseq);
		return step_done(st);
	}
	ret = store__make_uidl(a, c->dst_uidvalidity, uid, uidl);
	if (ret != STORE_OK)
		return ret;
	st = c->st[CP_ROW];
	sqlite3_bind_int64(st, 1, c->dst);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, c->dst_modseq);
	sqlite3_bind_text(st, 4, uidl, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, rowid);
	ret = step_done(st);
	if (ret != STORE_OK)
		return ret;
	newid = sqlite3_last_insert_rowid(a->db);
	for (int i = CP_BODY; i <= CP_META; i++) {
		st = c->st[i];
		sqlite3_bind_int64(st, 1, newid);
		sqlite3_bind_int64(st, 2, rowid);
		ret = step_done(st);
		if (ret != STORE_OK)
			return ret;
	}
	return STORE_OK;
}

static int copy_locked(struct store_account *a, struct copy_ctx *c,
                       const uint32_t *uids, size_t n, uint32_t *src_uids,
                       uint32_t *dst_uids, size_t *n_r)
{
	uint32_t v;
	size_t k = 0;
	int rc, ret;

	ret = store__mailbox_row(a, c->src, &v, &c->src_uidnext,
	                         &c->src_modseq);
	if (ret == STORE_OK)
		ret = store__mailbox_row(a, c->dst, &c->dst_uidvalidity,
		                         &c->dst_uidnext, &c->dst_modseq);
	if (ret != STORE_OK)
		return ret;
	c->src_modseq++;
	c->dst_modseq++;
	if (c->src == c->dst)
		c->src_modseq = c->dst_modseq;
	for (int i = 0; i < CP_COUNT; i++) {
		rc = sqlite3_prepare_v2(a->db, copy_sql[i], -1, &c->st[i],
		                        NULL);
		if (rc != SQLITE_OK)
			return store__error(rc);
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = store__stmt(a, STMT_MSG_FLAGS);
		int64_t rowid;

		if (st == NULL)
			return STORE_E_TEMP;
		sqlite3_bind_int64(st, 1, c->src);
		sqlite3_bind_int64(st, 2, uids[i]);
		rc = sqlite3_step(st);
		rowid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			continue; /* gone: skipped */
		if (rc != SQLITE_ROW)
			return store__error(rc);
		/* UIDs are 32-bit and never reused. */
		if (c->dst_uidnext + (int64_t)k >= (int64_t)UINT32_MAX)
			return STORE_E_LIMIT;
		src_uids[k] = uids[i];
		dst_uids[k] = (uint32_t)(c->dst_uidnext + (int64_t)k);
		ret = copy_one(a, c, rowid, uids[i], dst_uids[k]);
		if (ret != STORE_OK)
			return ret;
		k++;
	}
	*n_r = k;
	if (k == 0)
		return STORE_OK;
	c->dst_uidnext += (int64_t)k;
	ret = store__set_counters(a, c->dst, c->dst_uidnext,
	                          (uint64_t)c->dst_modseq);
	if (ret == STORE_OK && c->move && c->src != c->dst)
		ret = store__set_counters(a, c->src, c->src_uidnext,
		                          (uint64_t)c->src_modseq);
	return ret;
}

int store_copy(struct store_account *a, int64_t src, const uint32_t *uids,
               size_t n, int64_t dst, bool move, uint32_t *dst_uidvalidity_r,
               uint32_t **src_uids_r, uint32_t **dst_uids_r, size_t *n_r)
{
	struct copy_ctx c = {.src = src, .dst = dst, .move = move};
	uint32_t *su = NULL, *du = NULL;
	size_t k = 0;
	int ret;

	*src_uids_r = NULL;
	*dst_uids_r = NULL;
	*n_r = 0;
	if (n > 0 && uids == NULL)
		return STORE_E_INVALID;
	if (n > SIZE_MAX / sizeof *su)
		return STORE_E_LIMIT;
	if (n > 0) {
		su = malloc(n * sizeof *su);
		du = malloc(n * sizeof *du);
		if (su == NULL || du == NULL) {
			free(su);
			free(du);
			return STORE_E_TEMP;
		}
	}
	ret = store__begin(a);
	if (ret == STORE_OK) {
		ret = copy_locked(a, &c, uids, n, su, du, &k);
		for (int i = 0; i < CP_COUNT; i++)
			sqlite3_finalize(c.st[i]);
		if (ret == STORE_OK)
			ret = store__commit(a);
		if (ret != STORE_OK)
			store__rollback(a);
	}
	if (ret != STORE_OK || k == 0) {
		free(su);
		free(du);
		su = du = NULL;
		k = 0;
	}
	if (ret != STORE_OK)
		return ret;
	if (k > 0) {
		store__announce(a, dst, STORE_CHANGE_APPEND,
		                (uint32_t)c.dst_uidnext,
		                (uint64_t)c.dst_modseq);
		if (move)
			store__announce(a, src, STORE_CHANGE_EXPUNGE,
			                (uint32_t)(src == dst ? c.dst_uidnext
			                                      : c.src_uidnext),
			                (uint64_t)c.src_modseq);
	}
	if (dst_uidvalidity_r != NULL)
		*dst_uidvalidity_r = c.dst_uidvalidity;
	*src_uids_r = su;
	*dst_uids_r = du;
	*n_r = k;
	return STORE_OK;
}
