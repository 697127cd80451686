/*
 * Messages: append, list, read and expunge.  A message is written once, in
 * one transaction: its row (UID, MODSEQ, size, internal date, flags, UIDL)
 * and its body, converted to CRLF line ends on the way in (RFC 5322 §2.1,
 * RFC 1939 §3: POP3 and IMAP sizes count CRLF), so sizes are exact without
 * rescanning.  Bodies are written and read in bounded chunks with SQLite's
 * incremental blob I/O, so a 50 MB message never needs a second 50 MB
 * buffer.  Every change commits with synchronous=FULL before the function
 * returns.
 *
 * UIDs are taken from the mailbox's UIDNEXT, which only grows, so a UID is
 * never reused (RFC 9051 §2.3.1.1).  MODSEQs come from the mailbox's
 * HIGHESTMODSEQ, bumped by each change (RFC 7162 §3.1).  Each committed
 * change is announced to the store's change callback (store_notify.c).
 */
#include "store_private.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Bytes of converted body written to the blob at a time. */
#define CHUNK 65536

/* RFC 1939 §7: 1 to 70 characters in the range 0x21 to 0x7E. */
static bool uidl_valid(const char *uidl)
{
	size_t len = strnlen(uidl, STORE_UIDL_MAX + 1);

	if (len == 0 || len > STORE_UIDL_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)uidl[i] < 0x21 ||
		    (unsigned char)uidl[i] > 0x7e)
			return false;
	}
	return true;
}

/* The size of data once every bare CR and bare LF is a CRLF. */
static uint64_t crlf_size(const unsigned char *p, size_t len)
{
	uint64_t size = len;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r') {
			if (i + 1 < len && p[i + 1] == '\n')
				i++;
			else
				size++;
		} else if (p[i] == '\n') {
			size++;
		}
	}
	return size;
}

/*
 * Write data to the blob converted to CRLF, CHUNK bytes at a time.  The
 * blob was created with exactly crlf_size(data) zero bytes.  Returns an
 * SQLite result code.
 */
static int write_crlf(sqlite3_blob *blob, const unsigned char *p, size_t len)
{
	unsigned char *buf = xmalloc(CHUNK + 2);
	size_t n = 0;
	int off = 0, rc = SQLITE_OK;

	for (size_t i = 0; i < len && rc == SQLITE_OK; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			buf[n++] = '\r';
			buf[n++] = '\n';
			if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
				i++;
		} else {
			buf[n++] = p[i];
		}
		if (n >= CHUNK) {
			rc = sqlite3_blob_write(blob, buf, (int)n, off);
			off += (int)n;
			n = 0;
		}
	}
	if (rc == SQLITE_OK && n > 0)
		rc = sqlite3_blob_write(blob, buf, (int)n, off);
	free(buf);
	return rc;
}

/* Read the mailbox's counters inside the caller's transaction.  Returns a
 * store_error (STORE_E_NOTFOUND if there is no such mailbox). */
int store__mailbox_row(struct store_account *a, int64_t mailbox_id,
                       uint32_t *uidvalidity_r, int64_t *uidnext_r,
                       int64_t *modseq_r)
{
	sqlite3_stmt *st = store__stmt(a, STMT_MAILBOX_ROW);
	int rc;

	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STORE_E_NOTFOUND : store__error(rc);
	*uidvalidity_r = (uint32_t)sqlite3_column_int64(st, 0);
	*uidnext_r = sqlite3_column_int64(st, 1);
	*modseq_r = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return STORE_OK;
}

/*
 * A fresh UIDL: UIDVALIDITY and UID in hex.  UIDVALIDITY strictly grows in
 * an account (store_schema.c) and UIDs are never reused, so the pair is
 * unique for the account's life.  Only if an imported UIDL happens to be
 * the same string is a random one used instead.
 */
int store__make_uidl(struct store_account *a, uint32_t uidvalidity,
                     uint32_t uid, char *out)
{
	sqlite3_stmt *st = store__stmt(a, STMT_UIDL_EXISTS);
	int rc;

	snprintf(out, STORE_UIDL_MAX + 1, "%08x%08x", uidvalidity, uid);
	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		po_random_hex(out, 16);
	else if (rc != SQLITE_DONE)
		return store__error(rc);
	return STORE_OK;
}

/* Insert the message row; its rowid goes to *rowid_r. */
static int insert_row(struct store_account *a, int64_t mailbox_id,
                      const struct store_msg_ext *x, int64_t *rowid_r)
{
	sqlite3_stmt *st = store__stmt(a, STMT_MSG_INSERT);
	const struct store_msg *m = &x->m;
	int rc;

	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, m->uid);
	sqlite3_bind_int64(st, 3, (int64_t)m->modseq);
	sqlite3_bind_int64(st, 4, (int64_t)m->size);
	sqlite3_bind_int64(st, 5, m->internal_date);
	sqlite3_bind_int64(st, 6, m->flags);
	sqlite3_bind_text(st, 7, m->uidl, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (int64_t)x->keywords);
	sqlite3_bind_int64(st, 9, x->sent_date);
	sqlite3_bind_int64(st, 10, (int64_t)x->hdr_len);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store__error(rc);
	*rowid_r = sqlite3_last_insert_rowid(a->db);
	return STORE_OK;
}

/* Insert the body row and fill it with the converted data. */
static int insert_body(struct store_account *a, int64_t rowid, const void *data,
                       size_t len, uint64_t size)
{
	sqlite3_stmt *st = store__stmt(a, STMT_BODY_INSERT);
	sqlite3_blob *blob = NULL;
	int rc;

	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, rowid);
	sqlite3_bind_int64(st, 2, (int64_t)size);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store__error(rc);
	if (size == 0)
		return STORE_OK;
	rc = sqlite3_blob_open(a->db, "main", "bodies", "data", rowid, 1,
	                       &blob);
	if (rc == SQLITE_OK)
		rc = write_crlf(blob, data, len);
	if (blob != NULL && sqlite3_blob_close(blob) != SQLITE_OK &&
	    rc == SQLITE_OK)
		rc = SQLITE_IOERR;
	return store__error(rc);
}

int store__set_counters(struct store_account *a, int64_t mailbox_id,
                        int64_t uidnext, uint64_t modseq)
{
	sqlite3_stmt *st = store__stmt(a, STMT_MAILBOX_BUMP);
	int rc;

	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uidnext);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return store__error(rc);
}

/* The part of store_append_ex inside the transaction. */
static int append_locked(struct store_account *a, int64_t mailbox_id,
                         const void *data, size_t len, struct store_msg_ext *x,
                         const struct store_meta *meta, uint32_t *uidvalidity_r)
{
	struct store_msg *m = &x->m;
	sqlite3_stmt *st;
	int64_t uidnext = 0, modseq = 0, rowid = 0;
	int ret, rc;

	ret = store__mailbox_row(a, mailbox_id, uidvalidity_r, &uidnext,
	                         &modseq);
	if (ret != STORE_OK)
		return ret;
	/* UIDs are 32-bit and never reused: a full mailbox stays full. */
	if (uidnext < 1 || uidnext >= (int64_t)UINT32_MAX)
		return STORE_E_LIMIT;
	m->uid = (uint32_t)uidnext;
	m->modseq = (uint64_t)modseq + 1;
	if (m->uidl[0] == '\0') {
		ret = store__make_uidl(a, *uidvalidity_r, m->uid, m->uidl);
		if (ret != STORE_OK)
			return ret;
	}
	ret = insert_row(a, mailbox_id, x, &rowid);
	if (ret == STORE_OK)
		ret = insert_body(a, rowid, data, len, m->size);
	if (ret == STORE_OK) {
		st = store__stmt(a, STMT_META_INSERT);
		if (st == NULL)
			return STORE_E_TEMP;
		rc = store__meta_insert(st, rowid, meta);
		ret = store__error(rc);
	}
	if (ret == STORE_OK)
		ret = store__set_counters(a, mailbox_id, uidnext + 1,
		                          m->modseq);
	return ret;
}

/* data converted to CRLF in a malloc'd buffer, or NULL when memory runs
 * out.  Only used when data is not CRLF already. */
static char *to_crlf(const unsigned char *p, size_t len, uint64_t size)
{
	char *out = malloc((size_t)size + 1);
	size_t n = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			out[n++] = '\r';
			out[n++] = '\n';
			if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
				i++;
		} else {
			out[n++] = (char)p[i];
		}
	}
	return out;
}

int store_append_ex(struct store_account *a, int64_t mailbox_id,
                    const void *data, size_t len,
                    const struct store_append_opts *opts, uint32_t *uid_r,
                    uint32_t *uidvalidity_r)
{
	static const struct store_append_opts none = {0};
	struct po_buf env = PO_BUF_INIT, body = PO_BUF_INIT, bs = PO_BUF_INIT,
	              parts = PO_BUF_INIT;
	struct store_meta meta = {&env, &body, &bs, &parts, 0, 0};
	struct store_msg_ext x;
	struct store_msg *m = &x.m;
	uint32_t uidvalidity = 0;
	char *converted = NULL;
	int ret;

	if (opts == NULL)
		opts = &none;
	if ((data == NULL && len > 0) ||
	    (opts->flags & ~(uint32_t)STORE_F_ALL) ||
	    (opts->uidl != NULL && !uidl_valid(opts->uidl)))
		return STORE_E_INVALID;
	memset(&x, 0, sizeof x);
	m->size = crlf_size(data, len);
	/* The blob API addresses bytes with an int; SQLite's own limit on a
	 * value's length is lower still (1e9 by default). */
	if (m->size > (uint64_t)sqlite3_limit(a->db, SQLITE_LIMIT_LENGTH, -1) ||
	    m->size > INT_MAX)
		return STORE_E_LIMIT;
	m->internal_date = opts->internal_date != 0 ? opts->internal_date
	                                            : (int64_t)time(NULL);
	m->flags = opts->flags;
	x.keywords = opts->keywords;
	if (opts->uidl != NULL)
		strcpy(m->uidl, opts->uidl);
	/* The MIME structure is computed on the bytes as they will be stored
	 * (offsets must match store_read), and before the write lock is
	 * taken, so the CPU it costs holds up no other writer. */
	if (m->size != len) {
		converted = to_crlf(data, len, m->size);
		if (converted == NULL)
			return STORE_E_TEMP;
		data = converted;
		len = (size_t)m->size;
	}
	store__meta_build(data != NULL ? data : "", len, &meta);
	x.sent_date = meta.sent_date;
	x.hdr_len = meta.hdr_len;
	ret = store__begin(a);
	if (ret == STORE_OK) {
		ret = append_locked(a, mailbox_id, data, len, &x, &meta,
		                    &uidvalidity);
		if (ret == STORE_OK)
			ret = store__commit(a);
		if (ret != STORE_OK)
			store__rollback(a);
	}
	free(converted);
	po_buf_deinit(&env);
	po_buf_deinit(&body);
	po_buf_deinit(&bs);
	po_buf_deinit(&parts);
	if (ret != STORE_OK)
		return ret;
	/* Committed: only now may sessions be told (store.h). */
	store__announce(a, mailbox_id, STORE_CHANGE_APPEND, m->uid + 1,
	                m->modseq);
	if (uid_r != NULL)
		*uid_r = m->uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = uidvalidity;
	return STORE_OK;
}

int store_append(struct store_account *a, int64_t mailbox_id, const void *data,
                 size_t len, int64_t internal_date, uint32_t flags,
                 const char *uidl, uint32_t *uid_r)
{
	struct store_append_opts opts = {
	        .internal_date = internal_date,
	        .flags = flags,
	        .uidl = uidl,
	};

	return store_append_ex(a, mailbox_id, data, len, &opts, uid_r, NULL);
}

/* Fill *m from a STMT_MSG_LIST row. */
static void read_msg(sqlite3_stmt *st, struct store_msg *m)
{
	const unsigned char *uidl = sqlite3_column_text(st, 5);

	memset(m, 0, sizeof *m);
	m->uid = (uint32_t)sqlite3_column_int64(st, 0);
	m->size = (uint64_t)sqlite3_column_int64(st, 1);
	m->internal_date = sqlite3_column_int64(st, 2);
	m->modseq = (uint64_t)sqlite3_column_int64(st, 3);
	m->flags = (uint32_t)sqlite3_column_int64(st, 4);
	if (uidl != NULL)
		snprintf(m->uidl, sizeof m->uidl, "%s", (const char *)uidl);
}

int store_list(struct store_account *a, int64_t mailbox_id,
               struct store_msg **msgs_r, size_t *n_r)
{
	sqlite3_stmt *st = store__stmt(a, STMT_MSG_LIST);
	struct store_msg *msgs = NULL, *grown;
	size_t n = 0, cap = 0;
	int rc;

	/* A body kept open would pin an old snapshot: list what is now. */
	store__blob_release(a);
	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
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
		read_msg(st, &msgs[n++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(msgs);
		return store__error(rc);
	}
	*msgs_r = msgs;
	*n_r = n;
	return STORE_OK;
}

/* The rowid and size of the message, or STORE_E_EXPUNGED. */
static int find_msg(struct store_account *a, int64_t mailbox_id, uint32_t uid,
                    int64_t *rowid_r, uint64_t *size_r)
{
	sqlite3_stmt *st = store__stmt(a, STMT_MSG_FIND);
	int rc;

	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*rowid_r = sqlite3_column_int64(st, 0);
		*size_r = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return STORE_E_EXPUNGED;
	return store__error(rc);
}

void store__blob_release(struct store_account *a)
{
	if (a->blob == NULL)
		return;
	sqlite3_blob_close(a->blob);
	a->blob = NULL;
}

/* Make a->blob the body of (mailbox_id, uid), reusing the open one if it
 * is that message.  Returns a store_error. */
static int blob_for(struct store_account *a, int64_t mailbox_id, uint32_t uid)
{
	int64_t rowid = 0;
	uint64_t size = 0;
	int rc, ret;

	if (a->blob != NULL && a->blob_mailbox == mailbox_id &&
	    a->blob_uid == uid)
		return STORE_OK;
	store__blob_release(a);
	ret = find_msg(a, mailbox_id, uid, &rowid, &size);
	if (ret != STORE_OK)
		return ret;
	/* The row was found a moment ago; message rowids are never reused
	 * (store_schema.c), so if it has gone since, opening fails rather
	 * than reading another message. */
	rc = sqlite3_blob_open(a->db, "main", "bodies", "data", rowid, 0,
	                       &a->blob);
	if (rc != SQLITE_OK) {
		sqlite3_blob_close(a->blob);
		a->blob = NULL;
		return rc == SQLITE_ERROR ? STORE_E_EXPUNGED : store__error(rc);
	}
	a->blob_mailbox = mailbox_id;
	a->blob_uid = uid;
	a->blob_size = size;
	return STORE_OK;
}

int store_read(struct store_account *a, int64_t mailbox_id, uint32_t uid,
               uint64_t offset, void *buf, size_t len, size_t *got_r)
{
	size_t n;
	int rc, ret;

	*got_r = 0;
	ret = blob_for(a, mailbox_id, uid);
	if (ret != STORE_OK)
		return ret;
	if (offset >= a->blob_size || len == 0) {
		if (offset >= a->blob_size)
			store__blob_release(a);
		return STORE_OK;
	}
	n = a->blob_size - offset < len ? (size_t)(a->blob_size - offset) : len;
	rc = sqlite3_blob_read(a->blob, buf, (int)n, (int)offset);
	/* At the end, let go of the snapshot the open blob holds. */
	if (rc != SQLITE_OK || offset + n == a->blob_size)
		store__blob_release(a);
	if (rc != SQLITE_OK)
		return rc == SQLITE_ABORT ? STORE_E_EXPUNGED : store__error(rc);
	*got_r = n;
	return STORE_OK;
}

/* Delete one message and remember its UID as expunged at modseq.  Sets
 * *removed_r when there was such a message. */
static int expunge_one(struct store_account *a, int64_t mailbox_id,
                       uint32_t uid, uint64_t modseq, bool *removed_r)
{
	sqlite3_stmt *st = store__stmt(a, STMT_MSG_DELETE);
	int rc;

	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store__error(rc);
	if (sqlite3_changes(a->db) == 0)
		return STORE_OK;
	*removed_r = true;
	st = store__stmt(a, STMT_EXPUNGED_INSERT);
	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return store__error(rc);
}

/* The part of store_expunge inside the transaction.  When a message was
 * removed, *ch_r gets the mailbox's new counters and *removed_r is set. */
static int expunge_locked(struct store_account *a, int64_t mailbox_id,
                          const uint32_t *uids, size_t n,
                          struct store_change *ch_r, bool *removed_r)
{
	sqlite3_stmt *st;
	uint32_t uidvalidity;
	int64_t uidnext = 0, modseq = 0;
	bool removed = false;
	int ret, rc;

	*removed_r = false;
	ret = store__mailbox_row(a, mailbox_id, &uidvalidity, &uidnext,
	                         &modseq);
	for (size_t i = 0; ret == STORE_OK && i < n; i++)
		ret = expunge_one(a, mailbox_id, uids[i], (uint64_t)modseq + 1,
		                  &removed);
	/* HIGHESTMODSEQ moves only if a message was removed, and each removed
	 * UID is remembered with the new MODSEQ (RFC 7162 §3.2.7). */
	if (ret != STORE_OK || !removed)
		return ret;
	st = store__stmt(a, STMT_MAILBOX_SET_MODSEQ);
	if (st == NULL)
		return STORE_E_TEMP;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, modseq + 1);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	ret = store__error(rc);
	if (ret == STORE_OK) {
		ch_r->uidnext = (uint32_t)uidnext;
		ch_r->highestmodseq = (uint64_t)modseq + 1;
		*removed_r = true;
	}
	return ret;
}

int store_expunge(struct store_account *a, int64_t mailbox_id,
                  const uint32_t *uids, size_t n)
{
	struct store_change ch = {0};
	bool removed = false;
	int ret;

	if (n > 0 && uids == NULL)
		return STORE_E_INVALID;
	ret = store__begin(a);
	if (ret != STORE_OK)
		return ret;
	ret = expunge_locked(a, mailbox_id, uids, n, &ch, &removed);
	if (ret == STORE_OK)
		ret = store__commit(a);
	if (ret != STORE_OK) {
		store__rollback(a);
		return ret;
	}
	/* Committed; an expunge of UIDs already gone changed nothing. */
	if (removed)
		store__announce(a, mailbox_id, STORE_CHANGE_EXPUNGE, ch.uidnext,
		                ch.highestmodseq);
	return STORE_OK;
}
