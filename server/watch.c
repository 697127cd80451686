/*
 * Change announcements (DESIGN.md "How a command flows"): the store calls
 * back on the worker thread that committed a change; this file queues the
 * (account, mailbox) under a lock and wakes the loop with uv_async_send,
 * and the loop calls on_notify of every connection watching that mailbox
 * (conn_watch).  A sweep timer also notifies each watcher once per
 * PO_WATCH_POLL_MS, so that a module can look for changes another process
 * (the admin tool, a second daemon) made, which no callback announces.
 *
 * uv_async_send coalesces wake-ups, so the queue is drained whole at each
 * one; past SRV_WATCH_QUEUE_MAX queued changes it collapses into "notify
 * everyone", which keeps memory bounded under any delivery rate.
 */
#include "srv_private.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "store.h"

static size_t bucket_of(int64_t account_id)
{
	uint64_t h = (uint64_t)account_id * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) % SRV_WATCH_BUCKETS;
}

/* Worker thread (or the loop, for changes made there): queue and wake. */
static void on_store_change(void *ctx, const struct store_change *ch)
{
	struct srv *s = ctx;
	struct srv_watch *w = &s->watch;

	uv_mutex_lock(&w->lock);
	if (w->n_queue < SRV_WATCH_QUEUE_MAX) {
		w->queue[w->n_queue].account_id = ch->account_id;
		w->queue[w->n_queue].mailbox_id = ch->mailbox_id;
		w->n_queue++;
	} else {
		w->overflow = true;
	}
	uv_mutex_unlock(&w->lock);
	uv_async_send(&w->async);
}

static void notify(struct srv *s, struct po_conn *c)
{
	if (c->watch_generation == s->watch.generation)
		return; /* already told in this round */
	c->watch_generation = s->watch.generation;
	c->watch_last_ms = uv_now(s->loop);
	if (!c->closing && c->proto->on_notify != NULL)
		c->proto->on_notify(c);
}

/* Notify the watchers matching ch (mailbox 0 on either side matches every
 * mailbox of the account). */
static void deliver(struct srv *s, const struct srv_change *ch)
{
	struct po_conn *c, *next;

	for (c = s->watch.buckets[bucket_of(ch->account_id)]; c != NULL;
	     c = next) {
		next = c->watch_next; /* on_notify may change c's watch */
		if (c->watch_account != ch->account_id)
			continue;
		if (c->watch_mailbox != 0 && ch->mailbox_id != 0 &&
		    c->watch_mailbox != ch->mailbox_id)
			continue;
		notify(s, c);
	}
}

static void notify_all(struct srv *s, bool only_due)
{
	uint64_t now = uv_now(s->loop);
	struct po_conn *c, *next;

	for (size_t b = 0; b < SRV_WATCH_BUCKETS; b++) {
		for (c = s->watch.buckets[b]; c != NULL; c = next) {
			next = c->watch_next;
			if (only_due &&
			    now - c->watch_last_ms < PO_WATCH_POLL_MS)
				continue;
			notify(s, c);
		}
	}
}

static void on_async(uv_async_t *h)
{
	struct srv *s = h->data;
	struct srv_watch *w = &s->watch;
	struct srv_change *batch;
	size_t n;
	bool overflow;

	uv_mutex_lock(&w->lock);
	n = w->n_queue;
	overflow = w->overflow;
	batch = xmalloc((n > 0 ? n : 1) * sizeof(*batch));
	memcpy(batch, w->queue, n * sizeof(*batch));
	w->n_queue = 0;
	w->overflow = false;
	uv_mutex_unlock(&w->lock);

	w->generation++;
	if (overflow)
		notify_all(s, false);
	else
		for (size_t i = 0; i < n; i++)
			deliver(s, &batch[i]);
	free(batch);
}

#ifdef __GLIBC__
static void trim_work(uv_work_t *w)
{
	(void)w;
	malloc_trim(0);
}

static void trim_done(uv_work_t *w, int status)
{
	struct srv *s = w->data;

	(void)status;
	s->watch.trimming = false;
}
#endif

static void on_sweep(uv_timer_t *t)
{
	struct srv *s = t->data;

	s->watch.generation++;
	notify_all(s, true);
#ifdef __GLIBC__
	/* Sessions that go idle free what their jobs allocated on worker
	 * threads (an SQLite handle, its page cache), but the small blocks
	 * they keep (a mailbox's UID map) pin those pages in glibc's arenas:
	 * 10,000 idle IMAP connections measured ~140 KB each before a trim
	 * and ~25 KB after.  malloc_trim gives the free pages back; it walks
	 * the whole heap, so it runs on a worker, not on the loop. */
	if (++s->watch.sweeps % SRV_TRIM_SWEEPS == 0 && !s->watch.trimming) {
		s->watch.trim.data = s;
		if (uv_queue_work(s->loop, &s->watch.trim, trim_work,
		                  trim_done) == 0)
			s->watch.trimming = true;
	}
#endif
}

void srv__watch_start(struct srv *s)
{
	struct srv_watch *w = &s->watch;

	w->queue = xmalloc(SRV_WATCH_QUEUE_MAX * sizeof(*w->queue));
	if (uv_mutex_init(&w->lock) != 0)
		fatalx("cannot create a mutex");
	uv_async_init(s->loop, &w->async, on_async);
	w->async.data = s;
	uv_timer_init(s->loop, &w->sweep);
	w->sweep.data = s;
	uv_timer_start(&w->sweep, on_sweep, SRV_WATCH_SWEEP_MS,
	               SRV_WATCH_SWEEP_MS);
	w->started = true;
	store_set_change_cb(s->env.store, on_store_change, s);
}

void srv__watch_stop(struct srv *s)
{
	struct srv_watch *w = &s->watch;

	if (!w->started)
		return;
	/* Jobs still running may commit: they then find no callback. */
	store_set_change_cb(s->env.store, NULL, NULL);
	uv_close((uv_handle_t *)&w->async, NULL);
	uv_close((uv_handle_t *)&w->sweep, NULL);
	w->started = false;
}

void srv__watch_deinit(struct srv *s)
{
	struct srv_watch *w = &s->watch;

	if (w->queue == NULL)
		return;
	uv_mutex_destroy(&w->lock);
	free(w->queue);
	w->queue = NULL;
}

void srv__watch_remove(struct po_conn *c)
{
	struct srv_watch *w = &c->srv->watch;

	if (c->watch_account == 0)
		return;
	if (c->watch_prev != NULL)
		c->watch_prev->watch_next = c->watch_next;
	else
		w->buckets[bucket_of(c->watch_account)] = c->watch_next;
	if (c->watch_next != NULL)
		c->watch_next->watch_prev = c->watch_prev;
	c->watch_prev = c->watch_next = NULL;
	c->watch_account = c->watch_mailbox = 0;
}

void conn_watch(struct po_conn *c, int64_t account_id, int64_t mailbox_id)
{
	struct srv_watch *w = &c->srv->watch;
	struct po_conn **head;

	srv__watch_remove(c);
	if (account_id == 0 || c->closing)
		return;
	c->watch_account = account_id;
	c->watch_mailbox = mailbox_id;
	c->watch_last_ms = uv_now(c->srv->loop);
	head = &w->buckets[bucket_of(account_id)];
	c->watch_next = *head;
	if (*head != NULL)
		(*head)->watch_prev = c;
	*head = c;
}
