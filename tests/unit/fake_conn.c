/*
 * The in-memory connection core for the protocol modules' unit tests (see
 * fake_conn.h).  Jobs are queued when submitted and run right after the
 * module's callback returns, so the order of events is the real core's:
 * on_input returns PO_AGAIN, then work runs, then on_job_done.
 */
#include "fake_conn.h"

#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct fake_env *fake_env_new(void)
{
	struct fake_env *fe = xcalloc(1, sizeof(*fe));
	const char *err;

	snprintf(fe->dir, sizeof(fe->dir), "/tmp/po-unit-XXXXXX");
	assert(mkdtemp(fe->dir) != NULL);
	assert(config_load(&fe->config, NULL, NULL, 0, &err) == 0);
	snprintf(fe->config.hostname, sizeof(fe->config.hostname),
	         "test.example");
	snprintf(fe->config.data_dir, sizeof(fe->config.data_dir), "%s",
	         fe->dir);
	fe->config.auth_fail_delay_ms = 2000;
	fe->config.max_message_size = 100000;
	fe->env.config = &fe->config;
	assert(store_new(fe->dir, &fe->env.store, &err) == STORE_OK);
	assert(auth_dir_open(fe->dir, &fe->env.auth, &err) == 0);
	log_set_level(LOG_WARN);
	return fe;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fake_env_free(struct fake_env **fep)
{
	struct fake_env *fe = *fep;

	auth_dir_close(&fe->env.auth);
	store_free(&fe->env.store);
	nftw(fe->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fe);
	*fep = NULL;
}

int64_t fake_env_add_account(struct fake_env *fe, const char *name,
                             const char *password, bool pop, bool imap)
{
	const char *err = NULL;
	int64_t id =
	        auth_account_add(fe->env.auth, name, password, pop, imap, &err);

	assert(id > 0);
	assert(store_account_create(fe->env.store, id) == STORE_OK);
	return id;
}

static struct store_account *open_inbox(struct fake_env *fe, const char *name,
                                        int64_t *mbox_r)
{
	struct auth_account acc;
	struct store_account *a = NULL;
	struct store_mailbox_info info;

	assert(auth_account_get(fe->env.auth, name, &acc) == 0);
	assert(store_account_open(fe->env.store, acc.id, &a) == STORE_OK);
	assert(store_mailbox_get(a, "INBOX", &info) == STORE_OK);
	*mbox_r = info.id;
	return a;
}

void fake_env_deliver(struct fake_env *fe, const char *name, const char *data)
{
	int64_t mbox;
	struct store_account *a = open_inbox(fe, name, &mbox);

	assert(store_append(a, mbox, data, strlen(data), 0, 0, NULL, NULL) ==
	       STORE_OK);
	store_account_close(&a);
}

size_t fake_env_inbox(struct fake_env *fe, const char *name, size_t i,
                      char **data_r)
{
	int64_t mbox;
	struct store_account *a = open_inbox(fe, name, &mbox);
	struct store_msg *msgs = NULL;
	size_t n = 0, got = 0;

	assert(store_list(a, mbox, &msgs, &n) == STORE_OK);
	if (data_r != NULL) {
		assert(i < n);
		*data_r = xcalloc(1, msgs[i].size + 1);
		assert(store_read(a, mbox, msgs[i].uid, 0, *data_r,
		                  msgs[i].size, &got) == STORE_OK);
		assert(got == msgs[i].size);
	}
	free(msgs);
	store_account_close(&a);
	return n;
}

/* Run queued jobs and drain the output until nothing more happens. */
static void pump(struct po_conn *c)
{
	for (int rounds = 0; rounds < 100000; rounds++) {
		if (c->job != NULL) {
			struct po_job *j = c->job;

			c->job = NULL;
			c->job_work(j);
			c->proto->on_job_done(c, j);
			continue;
		}
		if (c->pending > 0 && !c->closing) {
			c->pending = 0;
			if (c->proto->on_drained != NULL)
				c->proto->on_drained(c);
			continue;
		}
		return;
	}
	assert(!"pump did not settle");
}

struct po_conn *fake_conn_new(struct fake_env *fe,
                              const struct po_protocol *proto)
{
	struct po_conn *c = xcalloc(1, sizeof(*c));

	c->proto = proto;
	c->fe = fe;
	c->session = xcalloc(1, proto->session_size);
	c->plaintext_allowed = true;
	c->max_bad = 10;
	po_buf_init(&c->out);
	if (proto->on_connect(c) == PO_CLOSE)
		c->closing = true;
	pump(c);
	return c;
}

void fake_conn_free(struct po_conn **cp, enum po_close_why why)
{
	struct po_conn *c = *cp;

	c->closing = true;
	pump(c);
	if (!c->closed) {
		c->proto->on_close(c, why);
		c->closed = true;
	}
	po_buf_deinit(&c->out);
	free(c->session);
	free(c);
	*cp = NULL;
}

int fake_frame(struct po_conn *c, const char *data, size_t len, bool crlf,
               bool more)
{
	struct po_frame f;
	char *copy = xmalloc(len + 1);
	int ret;

	assert(!c->paused && !c->closing);
	memcpy(copy, data, len);
	copy[len] = '\0';
	f.kind = PO_FRAME_LINE;
	f.data = copy;
	f.len = len;
	f.crlf = crlf;
	f.more = more;
	ret = c->proto->on_input(c, &f);
	free(copy);
	if (ret == PO_AGAIN)
		c->paused = true;
	else if (ret == PO_CLOSE)
		c->closing = true;
	pump(c);
	return ret;
}

int fake_line(struct po_conn *c, const char *line)
{
	return fake_frame(c, line, strlen(line), true, false);
}

int fake_literal(struct po_conn *c, const void *data, size_t len, size_t chunk)
{
	const char *p = data;
	size_t off = 0;
	int ret = PO_OK;

	assert(len <= c->literal_left);
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	do {
		size_t n = len - off < chunk ? len - off : chunk;
		struct po_frame f;
		char *copy = xmalloc(n + 1);

		assert(!c->paused && !c->closing);
		memcpy(copy, p + off, n);
		copy[n] = '\0';
		c->literal_left -= n;
		f.kind = PO_FRAME_LITERAL;
		f.data = copy;
		f.len = n;
		f.crlf = false;
		f.more = c->literal_left > 0;
		ret = c->proto->on_input(c, &f);
		free(copy);
		if (ret == PO_AGAIN)
			c->paused = true;
		else if (ret == PO_CLOSE)
			c->closing = true;
		pump(c);
		off += n;
	} while (off < len && ret == PO_OK);
	return ret;
}

char *fake_take(struct po_conn *c)
{
	size_t len;
	char *s = po_buf_take(&c->out, &len);

	return s != NULL ? s : xcalloc(1, 1);
}

void fake_tls_ready(struct po_conn *c)
{
	c->tls = true;
	c->proto->on_tls_ready(c);
	pump(c);
}

void fake_notify(struct po_conn *c)
{
	if (c->proto->on_notify != NULL)
		c->proto->on_notify(c);
	pump(c);
}

/* --- the conn_* functions of protocol.h ------------------------------- */

void *conn_session(struct po_conn *c)
{
	return c->session;
}

const struct po_env *conn_env(const struct po_conn *c)
{
	return &c->fe->env;
}

int conn_write(struct po_conn *c, const void *data, size_t len)
{
	if (c->closing)
		return 0;
	po_buf_add(&c->out, data, len);
	c->pending += len;
	return 0;
}

int conn_write_str(struct po_conn *c, const char *s)
{
	return conn_write(c, s, strlen(s));
}

int conn_printf(struct po_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert(n >= 0);
	s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	conn_write(c, s, (size_t)n);
	free(s);
	return 0;
}

size_t conn_output_pending(const struct po_conn *c)
{
	return c->pending;
}

bool conn_output_full(const struct po_conn *c)
{
	return c->output_limit && c->pending >= 4096;
}

void conn_resume(struct po_conn *c)
{
	c->paused = false;
}

int conn_job_submit(struct po_conn *c, struct po_job *j,
                    void (*work)(struct po_job *j))
{
	if (c->job != NULL)
		return -EBUSY;
	j->work = work;
	j->conn = c;
	c->job = j;
	c->job_work = work;
	return 0;
}

int conn_bad_command(struct po_conn *c)
{
	if (++c->bad_commands >= c->max_bad) {
		conn_write_str(c, c->proto->msg_too_many_errors);
		return PO_CLOSE;
	}
	return PO_OK;
}

void conn_expect_literal(struct po_conn *c, uint64_t size)
{
	/* The core frames one literal at a time: the module must not
	 * announce the next one before the last byte of this one came. */
	assert(c->literal_left == 0);
	c->literal_calls++;
	c->literal_size = size;
	c->literal_left = size;
}

void conn_set_long_lines(struct po_conn *c, bool on)
{
	c->long_lines = on;
}

int conn_starttls(struct po_conn *c)
{
	if (!c->tls_available || c->tls)
		return -ENOTSUP;
	c->starttls_calls++;
	return 0;
}

bool conn_is_tls(const struct po_conn *c)
{
	return c->tls;
}

bool conn_tls_available(const struct po_conn *c)
{
	return c->tls_available;
}

bool conn_plaintext_auth_allowed(const struct po_conn *c)
{
	return c->plaintext_allowed || c->tls;
}

void conn_set_user(struct po_conn *c, const char *user)
{
	snprintf(c->user, sizeof(c->user), "%s", user);
}

void conn_watch(struct po_conn *c, int64_t account_id, int64_t mailbox_id)
{
	c->watch_account = account_id;
	c->watch_mailbox = account_id != 0 ? mailbox_id : 0;
}

void conn_delay(struct po_conn *c, unsigned ms)
{
	c->delay_ms += ms;
}

bool conn_is_closing(const struct po_conn *c)
{
	return c->closing;
}

const char *conn_peer(const struct po_conn *c)
{
	(void)c;
	return "127.0.0.1";
}

const char *conn_id(const struct po_conn *c)
{
	(void)c;
	return "0000000000000000";
}

void conn_log(struct po_conn *c, int level, const char *fmt, ...)
{
	(void)c;
	(void)level;
	(void)fmt;
}

/* Not in protocol.h (yet): close after flushing, from outside on_input. */
void conn_close(struct po_conn *c)
{
	c->closing = true;
}

void conn_run_detached(struct po_conn *c, void (*fn)(void *arg), void *arg)
{
	(void)c;
	fn(arg);
}
