/*
 * The selected mailbox as the client knows it (RFC 9051 §3.3, §2.3.1): the
 * map from message sequence numbers to UIDs, resolving sequence sets
 * against it, the keyword-name cache, and imap_sync(), which brings the
 * client up to date with the store through untagged EXPUNGE (§7.4.1),
 * EXISTS (§7.3.1), FETCH FLAGS (§7.5.2) and FLAGS / PERMANENTFLAGS
 * (§7.3.5, §7.1) responses.  Everything here runs on a worker thread (or
 * the loop, for the pure map functions) while the session belongs to the
 * caller.
 */
#include "imap_private.h"

#include <stdlib.h>
#include <string.h>

/* Index of the first UID >= uid in the map. */
static size_t lower_bound(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t imap_sel_seq(const struct imap_session *s, uint32_t uid)
{
	size_t i = lower_bound(s->sel.uids, s->sel.count, uid);

	if (i < s->sel.count && s->sel.uids[i] == uid)
		return (uint32_t)i + 1;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and remove duplicates; returns the new count.  Input that is
 * ascending already (UID 1:*, a single range) skips the sort: a million
 * UIDs cost a linear check, not a qsort. */
static size_t sort_unique(uint32_t *v, size_t n)
{
	size_t out = 0, k = 1;

	if (n == 0)
		return 0;
	while (k < n && v[k - 1] <= v[k])
		k++;
	if (k < n)
		qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || v[out - 1] != v[i])
			v[out++] = v[i];
	return out;
}

/* Append the map's UIDs in [lo, hi] to v. */
static size_t add_uid_range(const struct imap_session *s, uint32_t lo,
                            uint32_t hi, uint32_t *v, size_t n)
{
	for (size_t i = lower_bound(s->sel.uids, s->sel.count, lo);
	     i < s->sel.count && s->sel.uids[i] <= hi; i++)
		v[n++] = s->sel.uids[i];
	return n;
}

int imap_sel_resolve(const struct imap_session *s,
                     const struct imap_seqset *set, bool uid, uint32_t **uids_r,
                     size_t *n_r, const char **error_r)
{
	const struct imap_selected *sel = &s->sel;
	struct imap_seq_range *r;
	uint32_t *v, star;
	size_t nr, n = 0;

	*uids_r = NULL;
	*n_r = 0;
	star = uid ? (sel->count > 0 ? sel->uids[sel->count - 1] : 0)
	           : sel->count;
	if (!uid && sel->count == 0 && (set->count > 0 || set->has_star)) {
		*error_r = "Invalid sequence number";
		return -1;
	}
	if (uid && sel->count == 0)
		return 0; /* nothing matches in an empty mailbox */
	r = xcalloc(set->count + 1, sizeof(*r));
	nr = imap_seqset_resolve(set, star, r);
	/* Sequence numbers: every number must exist (RFC 9051 §9
	 * seq-number); the merged ranges then cover at most count
	 * messages, so count bounds the result as it does for UIDs. */
	for (size_t i = 0; !uid && i < nr; i++) {
		if (r[i].hi > sel->count || r[i].lo == 0) {
			free(r);
			*error_r = "Invalid sequence number";
			return -1;
		}
	}
	v = xcalloc((size_t)sel->count +
	                    (set->searchres ? sel->n_searchres : 0) + 1,
	            sizeof(*v));
	for (size_t i = 0; i < nr; i++) {
		if (uid) {
			n = add_uid_range(s, r[i].lo, r[i].hi, v, n);
			continue;
		}
		for (uint32_t k = r[i].lo; k <= r[i].hi; k++) {
			v[n++] = sel->uids[k - 1];
			if (k == UINT32_MAX)
				break;
		}
	}
	free(r);
	/* RFC 5182 "$": the saved result, restricted to the messages the
	 * client still has. */
	for (size_t i = 0; set->searchres && i < sel->n_searchres; i++)
		if (imap_sel_seq(s, sel->searchres[i]) != 0)
			v[n++] = sel->searchres[i];
	n = sort_unique(v, n);
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*uids_r = v;
	*n_r = n;
	return 0;
}

char **imap_keyword_names(struct imap_session *s, uint64_t mask)
{
	char **names = NULL;
	bool missing = s->kw_names == NULL;

	for (unsigned i = 0; !missing && i < STORE_KEYWORDS_MAX; i++)
		if ((mask & (UINT64_C(1) << i)) && s->kw_names[i] == NULL)
			missing = true;
	if (!missing || s->acct == NULL)
		return s->kw_names;
	if (store_keyword_names(s->acct, &names) != STORE_OK)
		return s->kw_names; /* keep what we had; names may be absent */
	if (s->kw_names != NULL)
		store_strv_free(s->kw_names, STORE_KEYWORDS_MAX);
	s->kw_names = names;
	return names;
}

/* The mask of every keyword whose name is cached. */
static uint64_t kw_defined(const struct imap_session *s)
{
	uint64_t m = 0;

	for (unsigned i = 0; s->kw_names != NULL && i < STORE_KEYWORDS_MAX; i++)
		if (s->kw_names[i] != NULL)
			m |= UINT64_C(1) << i;
	return m;
}

void imap_sel_close(struct imap_session *s)
{
	struct imap_selected *sel = &s->sel;

	free(sel->name);
	free(sel->uids);
	free(sel->pending_expunge);
	free(sel->searchres);
	memset(sel, 0, sizeof(*sel));
	if (s->state == IMAP_S_SELECTED)
		s->state = IMAP_S_AUTH;
}

int imap_sel_open(struct imap_session *s, const struct store_mailbox_info *mb,
                  const char *name, bool readonly)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	int ret;

	imap_sel_close(s);
	/* The UIDs alone, from the index: no per-message row, string or
	 * flag is read (a 1,000,000-message SELECT). */
	ret = store_uids(s->acct, mb->id, &uids, &n);
	if (ret != STORE_OK)
		return ret;
	if (n > UINT32_MAX) {
		free(uids);
		return STORE_E_LIMIT;
	}
	s->sel.id = mb->id;
	s->sel.name = xstrdup(name);
	s->sel.readonly = readonly;
	s->sel.uidvalidity = mb->uidvalidity;
	s->sel.uidnext = mb->uidnext;
	/* The list was read after mb: a message appended in between is in
	 * the map already and only gets an extra FETCH at the next sync; one
	 * expunged in between is simply not in the map. */
	s->sel.modseq = mb->highestmodseq;
	if (uids != NULL) {
		s->sel.uids = uids;
		s->sel.cap = (uint32_t)n;
	} else {
		s->sel.cap = 16;
		s->sel.uids = xcalloc(s->sel.cap, sizeof(*s->sel.uids));
	}
	s->sel.count = (uint32_t)n;
	/* SELECT announces every keyword in its FLAGS response. */
	if (s->kw_names != NULL) {
		store_strv_free(s->kw_names, STORE_KEYWORDS_MAX);
		s->kw_names = NULL;
	}
	imap_keyword_names(s, ~UINT64_C(0));
	s->sel.kw_announced = kw_defined(s);
	s->state = IMAP_S_SELECTED;
	return STORE_OK;
}

/* Drop from pending_expunge the UIDs of the sorted gone[0..n) (they
 * have been announced): one pass over both, sorted. */
static void pending_forget(struct imap_selected *sel, const uint32_t *gone,
                           size_t n)
{
	size_t w = 0, p = 0;

	if (sel->n_pending_expunge == 0)
		return;
	sel->n_pending_expunge =
	        sort_unique(sel->pending_expunge, sel->n_pending_expunge);
	for (size_t i = 0; i < sel->n_pending_expunge; i++) {
		uint32_t uid = sel->pending_expunge[i];

		while (p < n && gone[p] < uid)
			p++;
		if (p < n && gone[p] == uid)
			continue;
		sel->pending_expunge[w++] = uid;
	}
	sel->n_pending_expunge = w;
}

void imap_sel_expunge_uids(struct imap_session *s, struct po_buf *out,
                           const uint32_t *uids, size_t n, bool descending)
{
	struct imap_selected *sel = &s->sel;
	uint32_t *gone;
	size_t *pos, n_pos = 0, w, p;

	if (n == 0 || sel->count == 0)
		return;
	gone = xcalloc(n, sizeof(*gone));
	memcpy(gone, uids, n * sizeof(*gone));
	n = sort_unique(gone, n);
	/* The map indexes of the UIDs it holds, ascending. */
	pos = xcalloc(n, sizeof(*pos));
	for (size_t i = 0; i < n; i++) {
		size_t k = lower_bound(sel->uids, sel->count, gone[i]);

		if (k < sel->count && sel->uids[k] == gone[i])
			pos[n_pos++] = k;
	}
	/* RFC 9051 §7.5.1: each EXPUNGE renumbers the messages after it.
	 * Highest first, every number is the one the client has now;
	 * lowest first, the j-th removal sees j fewer messages before it
	 * (RFC 6851 §4.3 shows "* 2 EXPUNGE" repeated). */
	for (size_t j = 0; j < n_pos; j++) {
		size_t k = descending ? pos[n_pos - 1 - j] + 1 : pos[j] + 1 - j;

		po_buf_printf(out, "* %zu EXPUNGE\r\n", k);
	}
	/* One compaction of the map, from the first removed message on. */
	if (n_pos > 0) {
		w = pos[0];
		p = 0;
		for (size_t i = pos[0]; i < sel->count; i++) {
			if (p < n_pos && pos[p] == i) {
				p++;
				continue;
			}
			sel->uids[w++] = sel->uids[i];
		}
		sel->count = (uint32_t)w;
	}
	pending_forget(sel, gone, n);
	free(pos);
	free(gone);
}

void imap_sel_expunged(struct imap_session *s, struct po_buf *out, uint32_t uid)
{
	imap_sel_expunge_uids(s, out, &uid, 1, true);
}

/* Remember expunged UIDs that are in the map for a later EXPUNGE: at most
 * one entry per message of the map (sorted and unique afterwards). */
static void pending_add(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_selected *sel = &s->sel;
	size_t k = sel->n_pending_expunge;

	if (n == 0)
		return;
	sel->pending_expunge =
	        xrealloc(sel->pending_expunge, (k + n) * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		if (imap_sel_seq(s, uids[i]) != 0)
			sel->pending_expunge[k++] = uids[i];
	sel->n_pending_expunge = sort_unique(sel->pending_expunge, k);
}

/*
 * Send EXPUNGE for every pending UID and drop them from the map in one
 * pass.  Highest sequence number first: removing a message only renumbers
 * the ones after it (RFC 9051 §7.4.1), so each number sent is still right
 * when the client reads it.
 */
static void flush_expunges(struct imap_session *s, struct po_buf *out)
{
	struct imap_selected *sel = &s->sel;
	size_t n = sort_unique(sel->pending_expunge, sel->n_pending_expunge);
	size_t w = 0, p = 0;

	for (size_t i = n; i-- > 0;) {
		uint32_t seq = imap_sel_seq(s, sel->pending_expunge[i]);

		if (seq != 0)
			po_buf_printf(out, "* %u EXPUNGE\r\n", seq);
	}
	/* Compact the map, skipping the expunged UIDs (both sorted). */
	for (size_t i = 0; i < sel->count; i++) {
		while (p < n && sel->pending_expunge[p] < sel->uids[i])
			p++;
		if (p < n && sel->pending_expunge[p] == sel->uids[i])
			continue;
		sel->uids[w++] = sel->uids[i];
	}
	sel->count = (uint32_t)w;
	free(sel->pending_expunge);
	sel->pending_expunge = NULL;
	sel->n_pending_expunge = 0;
}

/* The mailbox went away: every message of the map is expunged. */
static void expunge_all(struct imap_session *s, struct po_buf *out)
{
	struct imap_selected *sel = &s->sel;

	for (uint32_t i = sel->count; i > 0; i--)
		po_buf_printf(out, "* %u EXPUNGE\r\n", i);
	sel->count = 0;
	free(sel->pending_expunge);
	sel->pending_expunge = NULL;
	sel->n_pending_expunge = 0;
}

static void map_append(struct imap_selected *sel, uint32_t uid)
{
	if (sel->count == sel->cap) {
		sel->cap = sel->cap > 0 ? sel->cap * 2 : 16;
		sel->uids = xrealloc(sel->uids, sel->cap * sizeof(*sel->uids));
	}
	sel->uids[sel->count++] = uid;
}

/* New keywords in use: FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5: the
 * client learns the mailbox's flags from FLAGS), before any FETCH that
 * shows them. */
void imap_sel_announce_keywords(struct imap_session *s, struct po_buf *out,
                                uint64_t used)
{
	struct po_buf list = PO_BUF_INIT;
	uint64_t all;
	char **names;
	const uint32_t sys = STORE_F_SEEN | STORE_F_ANSWERED | STORE_F_FLAGGED |
	                     STORE_F_DELETED | STORE_F_DRAFT;

	if ((used & ~s->sel.kw_announced) == 0)
		return;
	names = imap_keyword_names(s, used);
	all = kw_defined(s) | s->sel.kw_announced;
	imap_write_flags(&list, sys, all, names);
	po_buf_printf(out, "* FLAGS %s\r\n* OK [PERMANENTFLAGS ", list.data);
	if (s->sel.readonly) {
		po_buf_add_str(out, "()");
	} else {
		/* The same list with "\\*" while new keywords may be made
		 * (RFC 9051 §7.1; the store holds STORE_KEYWORDS_MAX).
		 * list is "(...)" and never empty. */
		po_buf_add(out, list.data, list.len - 1);
		po_buf_add_str(out,
		               __builtin_popcountll(all) < STORE_KEYWORDS_MAX
		                       ? " \\*)"
		                       : ")");
	}
	po_buf_add_str(out, "] Flags permitted\r\n");
	po_buf_deinit(&list);
	s->sel.kw_announced = all;
}

static void write_changes(struct imap_session *s, struct po_buf *out,
                          const struct store_msg_ext *chg, size_t n_chg)
{
	struct imap_selected *sel = &s->sel;
	uint32_t max = sel->count > 0 ? sel->uids[sel->count - 1] : 0;
	uint32_t before = sel->count;
	uint64_t used = 0;

	for (size_t i = 0; i < n_chg; i++)
		used |= chg[i].keywords;
	imap_sel_announce_keywords(s, out, used);
	/* Flag changes of messages the client knows (§7.5.2); new ones are
	 * told by EXISTS below and fetched by the client. */
	for (size_t i = 0; i < n_chg; i++) {
		uint32_t seq;

		if (chg[i].m.uid > max)
			break;
		seq = imap_sel_seq(s, chg[i].m.uid);
		if (seq == 0)
			continue;
		po_buf_printf(out, "* %u FETCH (UID %u FLAGS ", seq,
		              chg[i].m.uid);
		imap_write_flags(out, chg[i].m.flags, chg[i].keywords,
		                 s->kw_names);
		po_buf_add_str(out, ")\r\n");
	}
	for (size_t i = 0; i < n_chg; i++)
		if (chg[i].m.uid > max)
			map_append(sel, chg[i].m.uid);
	if (sel->count != before)
		po_buf_printf(out, "* %u EXISTS\r\n", sel->count);
}

int imap_sync(struct imap_session *s, struct po_buf *out, bool allow_expunge)
{
	struct imap_selected *sel = &s->sel;
	uint32_t *exp = NULL;
	struct store_msg_ext *chg = NULL;
	size_t n_exp = 0, n_chg = 0;
	struct store_mailbox_info info;
	int ret;

	if (s->state != IMAP_S_SELECTED || s->acct == NULL)
		return STORE_OK;
	if (sel->gone) {
		if (allow_expunge && sel->count > 0)
			expunge_all(s, out);
		return STORE_OK;
	}
	ret = store_changes_since(s->acct, sel->id, sel->modseq, &exp, &n_exp,
	                          &chg, &n_chg, &info);
	if (ret == STORE_E_NOTFOUND) {
		/* Deleted (or renamed away) by another session: the client
		 * keeps its view until it may be told every message is gone;
		 * commands on it then fail with NONEXISTENT. */
		sel->gone = true;
		if (allow_expunge)
			expunge_all(s, out);
		return STORE_OK;
	}
	if (ret != STORE_OK)
		return ret;
	pending_add(s, exp, n_exp);
	free(exp);
	/* RFC 9051 §7.4.1: no EXPUNGE while a FETCH, STORE or SEARCH by
	 * sequence number runs; the UIDs wait in pending_expunge. */
	if (allow_expunge && sel->n_pending_expunge > 0)
		flush_expunges(s, out);
	write_changes(s, out, chg, n_chg);
	free(chg);
	sel->modseq = info.highestmodseq;
	sel->uidnext = info.uidnext;
	return STORE_OK;
}
