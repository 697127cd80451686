/*
 * Jobs on libuv's thread pool (uv_queue_work; its size is set from
 * worker_threads in main.c before the loop first uses it).  A connection
 * has at most one job in flight; while it runs, the connection cannot be
 * freed: a close waits for the job, then on_job_done runs (the module sees
 * conn_is_closing()), then on_close.  STYLE.md ownership rule 4.
 */
#include "srv_private.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>

static void worker_run(uv_work_t *w)
{
	struct po_conn *c = w->data;

	c->job->work(c->job);
}

static void worker_done(uv_work_t *w, int status)
{
	struct po_conn *c = w->data;
	struct po_job *j = c->job;

	(void)status; /* jobs are never cancelled */
	c->job = NULL;
	/* The reply is on its way: the client's time starts now. */
	conn__touch(c);
	c->proto->on_job_done(c, j);
	if (c->closing) {
		conn__maybe_finish_close(c);
		return;
	}
	if (c->srv->stopping)
		conn__shutdown(c);
}

int conn_job_submit(struct po_conn *c, struct po_job *j,
                    void (*work)(struct po_job *j))
{
	int r;

	if (c->job != NULL)
		return -EBUSY;
	j->work = work;
	j->conn = c;
	c->job = j;
	c->work.data = c;
	r = uv_queue_work(c->srv->loop, &c->work, worker_run, worker_done);
	if (r != 0) {
		c->job = NULL;
		return r;
	}
	return 0;
}

/* A detached job: its own request, freed when it is done. */
struct detached {
	uv_work_t work;
	void (*fn)(void *arg);
	void *arg;
};

static void detached_run(uv_work_t *w)
{
	struct detached *d = w->data;

	d->fn(d->arg);
}

static void detached_done(uv_work_t *w, int status)
{
	(void)status;
	free(w->data);
}

void conn_run_detached(struct po_conn *c, void (*fn)(void *arg), void *arg)
{
	struct detached *d = xmalloc(sizeof(*d));

	d->fn = fn;
	d->arg = arg;
	d->work.data = d;
	if (uv_queue_work(c->srv->loop, &d->work, detached_run,
	                  detached_done) != 0) {
		/* Only fails for a closing loop: run it here rather than
		 * leak what it releases. */
		free(d);
		fn(arg);
	}
}
