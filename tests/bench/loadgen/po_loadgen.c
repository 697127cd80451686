/*
 * po-loadgen: the IMAP load generator of the benchmark suite (issue 4).
 *
 * One libuv loop, non-blocking sockets, one command in flight per
 * connection, so that the generator spends its time in the kernel's
 * socket calls and not in parsing: it reads responses with a minimal
 * reader (lines, and {N} literals that are skipped without buffering),
 * not a full IMAP parser.  TLS (implicit, the imaps port) goes through
 * GnuTLS with memory transport functions: ciphertext read from the socket
 * is handed to GnuTLS by the pull function, and what GnuTLS pushes is
 * written straight to the socket.
 *
 * Workloads (README.md has the interface):
 *
 *   sync  issue workload 4: every client runs a mail client's mix in a
 *         loop (see sync_mix below for the weights); latency of each
 *         command from sending it to its tagged reply.
 *   idle  workload 6: C connections LOGIN, SELECT and IDLE; "ready" event
 *         line; wait for "go" on stdin; time until every client has seen
 *         the new EXISTS; DONE and LOGOUT.
 *   noop  workload 7: NOOP back-to-back (or every --interval-ms) on a
 *         selected mailbox; p50/p99/max latency.
 *
 * Deterministic: every client has its own PRNG seeded from --seed and its
 * index; what it sends depends only on that and on the server's replies.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <uv.h>

#define MAX_CLIENTS 100000
#define MAX_RESP_LINE (16u << 20) /* longest response line we buffer */
#define READ_BUF (256u << 10)     /* the loop's one socket read buffer */
#define PLAIN_BUF (64u << 10)     /* the loop's one decrypted buffer */
#define CMD_BUF 8192              /* longest command we send */
#define MAX_APPENDED 32           /* APPENDed, not yet expunged, per client */
#define MAX_MOVED_TEXT 2048       /* text of the UIDs parked in Archive */
#define TLS_SPINS 100000          /* bound on EAGAIN retries with input */
#define MAX_ERROR_LOGS 20         /* error messages printed to stderr */
#define SYNC_IDLE_MS 20           /* how long sync's IDLE lasts */
#define STOP_GRACE_MS 20000       /* after the window: time to log out */
#define SETUP_STALL_S 60          /* setup: longest time without progress */

/* ---- options ------------------------------------------------------------- */

enum workload { WL_SYNC, WL_IDLE, WL_NOOP };

static const char *const workload_name[] = {"sync", "idle", "noop"};

struct opts {
	const char *host;
	int port;
	bool tls;
	const char *cafile;
	const char *user_fmt, *pass_fmt;
	unsigned accounts, clients;
	enum workload wl;
	double duration;
	const char *mailbox;
	const char *archive;
	uint64_t seed;
	double connect_rate;
	unsigned interval_ms;
	unsigned ops_per_select;
};

/* ---- statistics ---------------------------------------------------------- */

enum kind {
	K_LOGIN,
	K_SELECT,
	K_FETCH_FLAGS,
	K_FETCH_BODY,
	K_STORE,
	K_SEARCH,
	K_APPEND,
	K_UID_EXPUNGE,
	K_EXPUNGE,
	K_MOVE,
	K_IDLE,
	K_NOOP,
	K_LOGOUT,
	K_COUNT
};

static const char *const kind_name[K_COUNT] = {
        "LOGIN",          "SELECT",      "UID FETCH FLAGS",
        "UID FETCH BODY", "UID STORE",   "UID SEARCH",
        "APPEND",         "UID EXPUNGE", "EXPUNGE",
        "UID MOVE",       "IDLE",        "NOOP",
        "LOGOUT",
};

/* Latencies in microseconds. */
struct lat {
	uint32_t *v;
	size_t n, cap;
};

/* ---- buffers ------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

/* ---- clients ------------------------------------------------------------- */

enum cstate {
	C_NEW,
	C_CONNECTING,
	C_HANDSHAKE,
	C_GREETING,
	C_AUTH, /* LOGIN sent */
	C_RUN,
	C_LOGOUT, /* LOGOUT sent: the server's close is expected */
	C_DEAD,
};

/* Where a sync client is in its loop (sync_next). */
enum sync_phase {
	S_SELECT,      /* SELECT INBOX next */
	S_POLL,        /* UID FETCH 1:* (FLAGS) next */
	S_OPS,         /* the weighted mix */
	S_DEL_EXPUNGE, /* after STORE \Deleted of one APPENDed message */
	S_CLEAN,       /* end of a round: delete what is left of APPENDs */
	S_CLEAN_EXPUNGE,
	S_ARCHIVE, /* move what went to Archive back */
	S_ARCHIVE_MOVE,
};

struct uidinfo {
	uint32_t uid;
	bool seen;
};

struct client {
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_timer_t timer;
	bool timer_init;
	unsigned idx, acct;
	enum cstate st;
	bool logged_in;

	/* TLS: ciphertext the pull function hands to GnuTLS */
	gnutls_session_t tls;
	const char *tls_src;
	size_t tls_srclen;
	struct buf tls_pend;

	/* the response reader */
	struct buf in; /* an incomplete line */
	uint64_t lit;  /* literal bytes still to skip */
	bool cont;     /* the next line continues a response */

	/* the command in flight */
	bool busy;
	uint32_t tag;
	enum kind kind;
	uint64_t t_sent, t_cont, t_done;
	bool idling; /* IDLE got its "+" */
	bool done_sent;

	/* workload state */
	uint64_t rng;
	enum sync_phase phase;
	unsigned ops_left;
	struct uidinfo *pool; /* INBOX's UIDs from the last poll */
	unsigned npool, cappool;
	bool collecting;
	unsigned cur; /* pool index the command in flight is about */
	uint32_t app[MAX_APPENDED];
	unsigned napp;
	unsigned appends;
	char moved[MAX_MOVED_TEXT]; /* "uid,uid" now in Archive */
	size_t moved_len;
	bool expunge_by_uid;
	uint32_t exists;
	bool arrived;
	uint64_t t_arr;
	uint64_t next_noop;
};

/* ---- global state -------------------------------------------------------- */

static struct {
	struct opts o;
	uv_loop_t *loop;
	struct sockaddr_storage addr;
	gnutls_certificate_credentials_t cred;
	struct client *c;
	unsigned launched, closed, failed, ready, lost;
	uint64_t t_start;
	uint64_t win_start, win_end; /* hrtime; 0 = not yet */
	bool stopping;
	uint64_t errors;
	unsigned error_logs;
	uint64_t rx_bytes;
	struct lat lat[K_COUNT];
	uv_timer_t pace, window, hard;
	struct rusage ru_win;
	char since[5][16]; /* SEARCH SINCE dates */
	/* idle */
	bool ready_sent, go, all_arrived;
	uint64_t t_ready, t_go;
	unsigned setup_progress;
	uint64_t t_progress;
	unsigned arrived;
	struct buf stdin_line;
	union {
		uv_pipe_t pipe;
		uv_tty_t tty;
	} in;
} g;

static char read_buf[READ_BUF];
static char plain_buf[PLAIN_BUF];

static void sync_next(struct client *c);
static void noop_next(struct client *c);
static void client_fail(struct client *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void finish(void);

/* ---- small helpers ------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("po-loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL)
		die("out of memory (%zu bytes)", n);
	return q;
}

static void buf_add(struct buf *b, const void *d, size_t n)
{
	size_t cap;

	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (b->len == 0 && b->cap > 4096) { /* idle clients stay small */
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* splitmix64: small, fast, and the same sequence on every machine. */
static uint64_t rnd(struct client *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rnd_below(struct client *c, unsigned n)
{
	return n ? (unsigned)(rnd(c) % n) : 0;
}

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

static double cpu_seconds(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

static void log_error(struct client *c, const char *what, const char *l,
                      size_t n)
{
	if (g.error_logs >= MAX_ERROR_LOGS)
		return;
	g.error_logs++;
	if (n > 200)
		n = 200;
	fprintf(stderr, "po-loadgen: client %u: %s: %.*s\n", c->idx, what,
	        (int)n, l);
	if (g.error_logs == MAX_ERROR_LOGS)
		fprintf(stderr, "po-loadgen: (further errors not shown)\n");
}

/* FMT with its one %d replaced by n ("%%" is a percent sign).  Done by
 * hand: a format string from the command line never reaches printf. */
static void expand_fmt(char *out, size_t cap, const char *fmt, unsigned n)
{
	size_t o = 0;
	char num[16];
	const char *p;
	int k;

	for (p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			k = snprintf(num, sizeof(num), "%u", n);
			if (o + (size_t)k >= cap)
				die("expanded name too long: %s", fmt);
			memcpy(out + o, num, (size_t)k);
			o += (size_t)k;
			p++;
			continue;
		}
		if (p[0] == '%' && p[1] == '%')
			p++;
		if (o + 1 >= cap)
			die("expanded name too long: %s", fmt);
		out[o++] = *p;
	}
	out[o] = '\0';
}

static void check_fmt(const char *what, const char *fmt)
{
	unsigned d = 0;
	const char *p;

	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (p[1] == 'd')
			d++;
		else if (p[1] != '%')
			die("%s: only %%d and %%%% may follow %%: %s", what,
			    fmt);
		p++;
	}
	if (d > 1)
		die("%s holds more than one %%d: %s", what, fmt);
}

/* An IMAP quoted string ("..." with \ and " escaped) for LOGIN. */
static int quote(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	if (cap < 3)
		return -1;
	out[o++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '\r' || *s == '\n')
			return -1;
		if (o + 4 >= cap)
			return -1;
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

/* ---- latency records ----------------------------------------------------- */

static void lat_add(struct lat *l, uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void lat_sort(struct lat *l)
{
	if (l->n > 1) /* qsort of NULL is undefined, even for 0 */
		qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
}

/* Nearest-rank percentile of sorted v, in milliseconds. */
static double pct_ms(const uint32_t *v, size_t n, double q)
{
	double r;
	size_t k;

	if (n == 0)
		return 0;
	r = q * (double)n;
	k = (size_t)r;
	if ((double)k < r)
		k++;
	if (k == 0)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1] / 1000.0;
}

/* ---- writing ------------------------------------------------------------- */

struct wreq {
	uv_write_t req;
	struct client *c;
	char data[];
};

static void write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct client *c = w->c;

	free(w);
	if (status < 0 && status != UV_ECANCELED && c->st != C_DEAD &&
	    c->st != C_LOGOUT)
		client_fail(c, "write: %s", uv_strerror(status));
}

/* Write to the socket: straight away if the kernel takes it all, else the
 * rest is copied and queued (libuv keeps the order: uv_try_write refuses
 * while a queued write is pending). */
static void raw_write(struct client *c, const void *d, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)d, (unsigned)n);
	struct wreq *w;
	int r;

	if (c->st == C_DEAD)
		return;
	r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (r >= 0 && (size_t)r == n)
		return;
	if (r < 0 && r != UV_EAGAIN) {
		client_fail(c, "write: %s", uv_strerror(r));
		return;
	}
	if (r < 0)
		r = 0;
	w = xrealloc(NULL, sizeof(*w) + n - (size_t)r);
	w->c = c;
	memcpy(w->data, (const char *)d + r, n - (size_t)r);
	b = uv_buf_init(w->data, (unsigned)(n - (size_t)r));
	r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (r < 0) {
		free(w);
		client_fail(c, "write: %s", uv_strerror(r));
	}
}

static void conn_send(struct client *c, const char *d, size_t n)
{
	size_t off = 0;
	ssize_t r;

	if (c->tls == NULL) {
		raw_write(c, d, n);
		return;
	}
	while (off < n && c->st != C_DEAD) {
		r = gnutls_record_send(c->tls, d + off, n - off);
		if (r <= 0) { /* the push function never says EAGAIN */
			client_fail(c, "tls send: %s", gnutls_strerror((int)r));
			return;
		}
		off += (size_t)r;
	}
}

/* Send "A<n> <text>\r\n" and start the command's clock. */
static void send_cmd(struct client *c, enum kind k, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void send_cmd(struct client *c, enum kind k, const char *fmt, ...)
{
	char out[CMD_BUF];
	va_list ap;
	int h, n;

	c->tag++;
	h = snprintf(out, sizeof(out), "A%" PRIu32 " ", c->tag);
	va_start(ap, fmt);
	n = vsnprintf(out + h, sizeof(out) - (size_t)h - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)(h + n) + 2 >= sizeof(out))
		die("internal: command longer than %d bytes", CMD_BUF);
	memcpy(out + h + n, "\r\n", 2);
	c->busy = true;
	c->kind = k;
	c->idling = false;
	c->done_sent = false;
	c->t_sent = now_ns();
	conn_send(c, out, (size_t)(h + n + 2));
}

static void send_logout(struct client *c)
{
	c->st = C_LOGOUT;
	send_cmd(c, K_LOGOUT, "LOGOUT");
}

static void send_done(struct client *c)
{
	if (c->done_sent)
		return;
	c->done_sent = true;
	c->t_done = now_ns();
	conn_send(c, "DONE\r\n", 6);
}

/* ---- closing ------------------------------------------------------------- */

static void on_tcp_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	if (c->tls != NULL)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	buf_free(&c->in);
	buf_free(&c->tls_pend);
	free(c->pool);
	c->pool = NULL;
	g.closed++;
	if (g.closed == g.o.clients)
		finish();
}

static void close_client(struct client *c)
{
	if (c->st == C_DEAD)
		return;
	c->st = C_DEAD;
	c->busy = false;
	if (c->timer_init) {
		uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, NULL);
		c->timer_init = false;
	}
	uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

static void check_setup(void);
static void check_arrivals(void);

/* A connection that broke or a server that misbehaved. */
static void client_fail(struct client *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (c->st == C_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error(c, "failed", msg, strlen(msg));
	g.errors++;
	if (!c->logged_in)
		g.failed++;
	else
		g.lost++;
	close_client(c);
	check_setup();
	check_arrivals();
}

/* ---- the sync workload --------------------------------------------------- */

/*
 * The mix: every round is
 *
 *   SELECT INBOX
 *   UID FETCH 1:* (FLAGS)                       the changes poll
 *   --ops-per-select (default 20) operations drawn with these weights:
 */
enum sync_op {
	OP_FETCH_BODY,    /* 30  UID FETCH <uid> (BODY.PEEK[]) */
	OP_STORE,         /* 15  UID STORE <uid> +FLAGS or -FLAGS (\Seen),
	                   *     whichever toggles it */
	OP_NOOP,          /* 15  NOOP */
	OP_SEARCH_UNSEEN, /*  5  UID SEARCH UNSEEN */
	OP_SEARCH_SINCE,  /*  5  UID SEARCH SINCE <1, 7, 30, 365 days ago> */
	OP_APPEND,        /*  8  APPEND INBOX {~1 KB+} */
	OP_DELETE,        /*  8  UID STORE <appended> +FLAGS.SILENT (\Deleted)
	                   *     then UID EXPUNGE <it> or EXPUNGE (half each) */
	OP_MOVE,          /*  6  UID MOVE <uid> Archive */
	OP_IDLE,          /*  4  IDLE, DONE after 20 ms */
	OP_POLL,          /*  4  UID FETCH 1:* (FLAGS) again */
};
/*
 *   end of round: what is left of the APPENDed messages is deleted
 *   (UID STORE +FLAGS.SILENT (\Deleted), UID EXPUNGE), and if messages went
 *   to Archive: SELECT Archive, UID MOVE <them> INBOX.
 *
 * So the mailbox keeps its size and its messages (moved ones come back
 * with new UIDs).  DELETE with nothing APPENDed does an APPEND instead,
 * APPEND with MAX_APPENDED pending a DELETE; an operation that needs a UID
 * in an empty mailbox is a NOOP.  IDLE's latency is its two waits (IDLE
 * to "+", DONE to the tagged OK), not the 20 ms in between.
 */
static const unsigned sync_mix[][2] = {
        {OP_FETCH_BODY, 30},   {OP_STORE, 15},       {OP_NOOP, 15},
        {OP_SEARCH_UNSEEN, 5}, {OP_SEARCH_SINCE, 5}, {OP_APPEND, 8},
        {OP_DELETE, 8},        {OP_MOVE, 6},         {OP_IDLE, 4},
        {OP_POLL, 4},
};

static enum sync_op draw_op(struct client *c)
{
	unsigned total = 0, i, r;

	for (i = 0; i < sizeof(sync_mix) / sizeof(sync_mix[0]); i++)
		total += sync_mix[i][1];
	r = rnd_below(c, total);
	for (i = 0; i < sizeof(sync_mix) / sizeof(sync_mix[0]); i++) {
		if (r < sync_mix[i][1])
			return (enum sync_op)sync_mix[i][0];
		r -= sync_mix[i][1];
	}
	return OP_NOOP;
}

static void pool_add(struct client *c, uint32_t uid, bool seen)
{
	if (c->npool == c->cappool) {
		c->cappool = c->cappool ? c->cappool * 2 : 256;
		c->pool = xrealloc(c->pool, c->cappool * sizeof(*c->pool));
	}
	c->pool[c->npool].uid = uid;
	c->pool[c->npool].seen = seen;
	c->npool++;
}

static const char *mailbox_arg(const char *name, char *tmp, size_t cap)
{
	if (quote(tmp, cap, name) < 0)
		die("bad mailbox name: %s", name);
	return tmp;
}

/* A small deterministic message (~1 KB, CRLF lines). */
static size_t make_message(struct client *c, char *out, size_t cap)
{
	static const char *const words[] = {
	        "meeting", "report", "budget", "lunch",  "project", "draft",
	        "review",  "notes",  "agenda", "update", "invoice", "plan",
	};
	size_t o;
	int n, i, j;

	c->appends++;
	n = snprintf(out, cap,
	             "From: Load Generator <loadgen@example.org>\r\n"
	             "To: account%u@example.org\r\n"
	             "Subject: po-loadgen %u.%u %s\r\n"
	             "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	             "Message-ID: <lg-%" PRIu64 "-%u-%u@po-loadgen>\r\n"
	             "MIME-Version: 1.0\r\n"
	             "Content-Type: text/plain; charset=us-ascii\r\n"
	             "\r\n",
	             c->acct, c->idx, c->appends, words[rnd_below(c, 12)],
	             g.o.seed, c->idx, c->appends);
	o = (size_t)n;
	for (i = 0; i < 12 && o + 100 < cap; i++) {
		for (j = 0; j < 8; j++) {
			n = snprintf(out + o, cap - o, "%s%s", j ? " " : "",
			             words[rnd_below(c, 12)]);
			o += (size_t)n;
		}
		memcpy(out + o, ".\r\n", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

/* "a,b,c" of the pending APPEND UIDs. */
static void appended_set(struct client *c, char *out, size_t cap)
{
	size_t o = 0;
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < c->napp; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%" PRIu32,
		                      i ? "," : "", c->app[i]);
}

static void sync_op(struct client *c)
{
	char tmp[512], msg[4096];
	enum sync_op op = draw_op(c);
	size_t n;
	uint32_t uid;

	if (op == OP_DELETE && c->napp == 0)
		op = OP_APPEND;
	if (op == OP_APPEND && c->napp == MAX_APPENDED)
		op = OP_DELETE;
	if ((op == OP_FETCH_BODY || op == OP_STORE || op == OP_MOVE) &&
	    c->npool == 0)
		op = OP_NOOP;
	if (op == OP_MOVE && c->moved_len + 24 >= MAX_MOVED_TEXT)
		op = OP_NOOP;

	c->cur = c->npool ? rnd_below(c, c->npool) : 0;
	uid = c->npool ? c->pool[c->cur].uid : 0;
	switch (op) {
	case OP_FETCH_BODY:
		send_cmd(c, K_FETCH_BODY, "UID FETCH %" PRIu32 " (BODY.PEEK[])",
		         uid);
		break;
	case OP_STORE:
		send_cmd(c, K_STORE, "UID STORE %" PRIu32 " %cFLAGS (\\Seen)",
		         uid, c->pool[c->cur].seen ? '-' : '+');
		break;
	case OP_NOOP:
		send_cmd(c, K_NOOP, "NOOP");
		break;
	case OP_SEARCH_UNSEEN:
		send_cmd(c, K_SEARCH, "UID SEARCH UNSEEN");
		break;
	case OP_SEARCH_SINCE:
		send_cmd(c, K_SEARCH, "UID SEARCH SINCE %s",
		         g.since[rnd_below(c, 4)]);
		break;
	case OP_APPEND:
		n = make_message(c, msg, sizeof(msg));
		/* LITERAL+ (RFC 7888): no round trip for the "+" */
		send_cmd(c, K_APPEND, "APPEND %s {%zu+}\r\n%s",
		         mailbox_arg(g.o.mailbox, tmp, sizeof(tmp)), n, msg);
		break;
	case OP_DELETE:
		c->cur = rnd_below(c, c->napp);
		c->expunge_by_uid = rnd_below(c, 2) == 0;
		send_cmd(c, K_STORE,
		         "UID STORE %" PRIu32 " +FLAGS.SILENT (\\Deleted)",
		         c->app[c->cur]);
		c->phase = S_DEL_EXPUNGE;
		break;
	case OP_MOVE:
		send_cmd(c, K_MOVE, "UID MOVE %" PRIu32 " %s", uid,
		         mailbox_arg(g.o.archive, tmp, sizeof(tmp)));
		break;
	case OP_IDLE:
		send_cmd(c, K_IDLE, "IDLE");
		break;
	case OP_POLL:
		c->collecting = true;
		c->npool = 0;
		send_cmd(c, K_FETCH_FLAGS, "UID FETCH 1:* (FLAGS)");
		break;
	}
}

static void sync_next(struct client *c)
{
	char tmp[512], set[MAX_APPENDED * 12];
	uint32_t uid;

	if (c->st != C_RUN)
		return;
	if (g.stopping) {
		/* the end: put the mailbox back as it was, then LOGOUT */
		if ((c->phase == S_SELECT || c->phase == S_POLL) &&
		    c->napp == 0 && c->moved_len == 0) {
			send_logout(c);
			return;
		}
		if (c->phase == S_SELECT || c->phase == S_POLL ||
		    c->phase == S_OPS)
			c->phase = S_CLEAN;
	}
	switch (c->phase) {
	case S_SELECT:
		c->phase = S_POLL;
		send_cmd(c, K_SELECT, "SELECT %s",
		         mailbox_arg(g.o.mailbox, tmp, sizeof(tmp)));
		return;
	case S_POLL:
		c->phase = S_OPS;
		c->ops_left = g.o.ops_per_select;
		c->collecting = true;
		c->npool = 0;
		send_cmd(c, K_FETCH_FLAGS, "UID FETCH 1:* (FLAGS)");
		return;
	case S_OPS:
		if (c->ops_left == 0) {
			c->phase = S_CLEAN;
			sync_next(c);
			return;
		}
		c->ops_left--;
		sync_op(c);
		return;
	case S_DEL_EXPUNGE:
		c->phase = S_OPS;
		uid = c->app[c->cur];
		c->app[c->cur] = c->app[--c->napp];
		if (c->expunge_by_uid)
			send_cmd(c, K_UID_EXPUNGE, "UID EXPUNGE %" PRIu32, uid);
		else
			send_cmd(c, K_EXPUNGE, "EXPUNGE");
		return;
	case S_CLEAN:
		c->phase = S_ARCHIVE;
		if (c->napp == 0) {
			sync_next(c);
			return;
		}
		appended_set(c, set, sizeof(set));
		c->phase = S_CLEAN_EXPUNGE;
		send_cmd(c, K_STORE, "UID STORE %s +FLAGS.SILENT (\\Deleted)",
		         set);
		return;
	case S_CLEAN_EXPUNGE:
		appended_set(c, set, sizeof(set));
		c->napp = 0;
		c->phase = S_ARCHIVE;
		send_cmd(c, K_UID_EXPUNGE, "UID EXPUNGE %s", set);
		return;
	case S_ARCHIVE:
		c->phase = S_SELECT;
		if (c->moved_len == 0) {
			sync_next(c);
			return;
		}
		c->phase = S_ARCHIVE_MOVE;
		send_cmd(c, K_SELECT, "SELECT %s",
		         mailbox_arg(g.o.archive, tmp, sizeof(tmp)));
		return;
	case S_ARCHIVE_MOVE:
		c->phase = S_SELECT;
		send_cmd(c, K_MOVE, "UID MOVE %.*s %s", (int)c->moved_len,
		         c->moved, mailbox_arg(g.o.mailbox, tmp, sizeof(tmp)));
		c->moved_len = 0;
		return;
	}
}

/* The number after "[CODE " up to the first space or ']' etc. */
static const char *find_code(const char *l, size_t n, const char *code)
{
	size_t k = strlen(code);
	const char *p = memmem(l, n, code, k);

	return p ? p + k : NULL;
}

static uint64_t parse_num(const char **pp, const char *end)
{
	const char *p = *pp;
	uint64_t v = 0;

	while (p < end && *p >= '0' && *p <= '9' && v < UINT64_MAX / 10)
		v = v * 10 + (uint64_t)(*p++ - '0');
	*pp = p;
	return v;
}

/* After a tagged OK: what the command taught us. */
static void sync_result(struct client *c, const char *l, size_t n)
{
	const char *end = l + n, *p;
	uint64_t v;

	switch (c->kind) {
	case K_STORE:
		if (c->phase == S_OPS && c->cur < c->npool) /* a \Seen toggle */
			c->pool[c->cur].seen = !c->pool[c->cur].seen;
		break;
	case K_APPEND:
		/* "[APPENDUID <uidvalidity> <uid>]" (RFC 4315 §3) */
		p = find_code(l, n, "[APPENDUID ");
		if (p == NULL)
			break;
		parse_num(&p, end);
		if (p < end && *p == ' ')
			p++;
		v = parse_num(&p, end);
		if (v > 0 && v <= UINT32_MAX && c->napp < MAX_APPENDED)
			c->app[c->napp++] = (uint32_t)v;
		break;
	case K_MOVE:
		/* the source UID left INBOX (a MOVE back is done in a round's
		 * end, when the pool is rebuilt anyway) */
		if (c->phase == S_OPS && c->cur < c->npool)
			c->pool[c->cur] = c->pool[--c->npool];
		break;
	default:
		break;
	}
}

/* "[COPYUID <uidvalidity> <src> <dst>]" (RFC 4315 §3; for MOVE in an
 * untagged OK or the tagged one, RFC 6851 §4.3): remember dst. */
static void note_copyuid(struct client *c, const char *l, size_t n)
{
	const char *end = l + n, *p = find_code(l, n, "[COPYUID ");
	const char *d;
	int spaces = 0;

	if (p == NULL || c->kind != K_MOVE || c->phase != S_OPS)
		return;
	while (p < end && spaces < 2) /* skip uidvalidity and src */
		if (*p++ == ' ')
			spaces++;
	d = p;
	while (p < end && *p != ']' && *p != ' ')
		p++;
	if (p == d || c->moved_len + (size_t)(p - d) + 2 >= MAX_MOVED_TEXT)
		return;
	if (c->moved_len > 0)
		c->moved[c->moved_len++] = ',';
	memcpy(c->moved + c->moved_len, d, (size_t)(p - d));
	c->moved_len += (size_t)(p - d);
}

/* "* n FETCH (... UID u ... FLAGS (...) ...)" during a poll. */
static void note_fetch(struct client *c, const char *l, size_t n)
{
	const char *end = l + n, *p = l;
	uint64_t uid = 0;
	unsigned i;

	while ((p = memmem(p, (size_t)(end - p), "UID ", 4)) != NULL) {
		if (p > l && (p[-1] == ' ' || p[-1] == '(')) {
			p += 4;
			uid = parse_num(&p, end);
			break;
		}
		p += 4;
	}
	if (uid == 0 || uid > UINT32_MAX)
		return;
	/* our own APPENDs are deleted at the end of the round: not moved */
	for (i = 0; i < c->napp; i++)
		if (c->app[i] == uid)
			return;
	pool_add(c, (uint32_t)uid, memmem(l, n, "\\Seen", 5) != NULL);
}

/* ---- the noop workload --------------------------------------------------- */

static void noop_timer(uv_timer_t *t)
{
	struct client *c = t->data;

	if (c->st != C_RUN || c->busy)
		return;
	if (g.stopping) {
		send_logout(c);
		return;
	}
	send_cmd(c, K_NOOP, "NOOP");
}

static void noop_next(struct client *c)
{
	uint64_t now;

	if (c->st != C_RUN)
		return;
	if (g.stopping) {
		send_logout(c);
		return;
	}
	if (g.o.interval_ms == 0) {
		send_cmd(c, K_NOOP, "NOOP");
		return;
	}
	/* a fixed schedule: a late reply makes the next NOOP go at once */
	now = uv_now(g.loop);
	if (c->next_noop == 0)
		c->next_noop = now;
	c->next_noop += g.o.interval_ms;
	if (c->next_noop <= now) {
		c->next_noop = now;
		send_cmd(c, K_NOOP, "NOOP");
		return;
	}
	uv_timer_start(&c->timer, noop_timer, c->next_noop - now, 0);
}

/* ---- phases: setup, window, stop ----------------------------------------- */

static void window_end(uv_timer_t *t);
static void hard_stop(uv_timer_t *t);
static void start_stdin(void);

static void start_stopping(void)
{
	unsigned i;
	struct client *c;

	if (g.stopping)
		return;
	g.stopping = true;
	uv_timer_start(&g.hard, hard_stop, STOP_GRACE_MS, 0);
	for (i = 0; i < g.launched; i++) {
		c = &g.c[i];
		if (c->st != C_RUN)
			continue;
		if (c->busy && c->kind == K_IDLE && c->idling) {
			if (g.o.wl == WL_IDLE)
				send_done(c);
			continue; /* sync: its timer sends DONE */
		}
		if (!c->busy) {
			if (c->timer_init)
				uv_timer_stop(&c->timer);
			if (g.o.wl == WL_SYNC)
				sync_next(c);
			else
				send_logout(c);
		}
	}
}

static void window_end(uv_timer_t *t)
{
	(void)t;
	g.win_end = now_ns();
	getrusage(RUSAGE_SELF, &g.ru_win); /* the window's CPU: see report */
	start_stopping();
}

static void hard_stop(uv_timer_t *t)
{
	unsigned i;

	(void)t;
	fprintf(stderr,
	        "po-loadgen: %u connections still open %d s after "
	        "the end; closing them\n",
	        g.o.clients - g.closed, STOP_GRACE_MS / 1000);
	for (i = 0; i < g.o.clients; i++)
		if (g.c[i].st != C_DEAD) {
			if (g.c[i].st != C_NEW)
				g.errors++;
			if (g.c[i].st == C_NEW) {
				g.c[i].st = C_DEAD;
				g.closed++;
				continue;
			}
			close_client(&g.c[i]);
		}
	if (g.closed == g.o.clients)
		finish();
}

static struct rusage ru_start_win;

/* Every client is logged in (sync) or has its mailbox selected (noop):
 * the measurement window opens for all at once. */
static void start_window(void)
{
	unsigned i;

	g.win_start = now_ns();
	getrusage(RUSAGE_SELF, &ru_start_win);
	uv_timer_start(&g.window, window_end,
	               (uint64_t)(g.o.duration * 1000.0 + 0.5), 0);
	for (i = 0; i < g.o.clients; i++) {
		if (g.c[i].st != C_RUN)
			continue;
		if (g.o.wl == WL_SYNC)
			sync_next(&g.c[i]);
		else
			noop_next(&g.c[i]);
	}
}

/* A client is set up (or failed): all of them? */
static void check_setup(void)
{
	if (g.ready + g.failed < g.o.clients || g.ready_sent)
		return;
	g.ready_sent = true;
	g.t_ready = now_ns();
	if (g.failed * 100 > g.o.clients || g.ready == 0)
		die("%u of %u clients failed to connect/log in/select",
		    g.failed, g.o.clients);
	uv_timer_stop(&g.hard);
	if (g.o.wl == WL_IDLE) {
		printf("{\"event\":\"ready\",\"clients\":%u,\"failed\":%u,"
		       "\"connect_s\":%.3f}\n",
		       g.ready, g.failed, (g.t_ready - g.t_start) / 1e9);
		fflush(stdout);
		start_stdin();
	} else {
		start_window();
	}
}

/* The setup may take long (a server that hashes passwords slowly logs in
 * a few dozen clients a second), so it fails only when no client got
 * further for SETUP_STALL_S. */
static void setup_timeout(uv_timer_t *t)
{
	unsigned progress = g.ready + g.failed;

	(void)t;
	if (progress != g.setup_progress) {
		g.setup_progress = progress;
		g.t_progress = now_ns();
		return;
	}
	if (now_ns() - g.t_progress > (uint64_t)SETUP_STALL_S * 1000000000u)
		die("setup stalled: %u of %u clients ready, %u failed, no "
		    "progress for %d s",
		    g.ready, g.o.clients, g.failed, SETUP_STALL_S);
}

/* ---- the idle workload --------------------------------------------------- */

static void check_arrivals(void)
{
	if (!g.go || g.all_arrived)
		return;
	if (g.arrived + g.lost < g.ready)
		return;
	g.all_arrived = true;
	g.win_end = now_ns();
	uv_timer_stop(&g.window);
	start_stopping();
}

static void arrival_timeout(uv_timer_t *t)
{
	(void)t;
	fprintf(stderr,
	        "po-loadgen: %u of %u clients saw no new EXISTS within %g s\n",
	        g.ready - g.lost - g.arrived, g.ready, g.o.duration);
	g.errors += g.ready - g.lost - g.arrived;
	g.win_end = now_ns();
	start_stopping();
}

static void go(void)
{
	if (g.go)
		return;
	g.go = true;
	g.t_go = now_ns();
	uv_timer_start(&g.window, arrival_timeout,
	               (uint64_t)(g.o.duration * 1000.0 + 0.5), 0);
	check_arrivals(); /* a delivery before "go" */
}

static void stdin_line(const char *l, size_t n)
{
	while (n > 0 && (l[n - 1] == '\r' || l[n - 1] == ' '))
		n--;
	if (n == 2 && memcmp(l, "go", 2) == 0)
		go();
}

static void stdin_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char sbuf[1024];

	(void)h;
	(void)hint;
	*b = uv_buf_init(sbuf, sizeof(sbuf));
}

static void stdin_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct buf *l = &g.stdin_line;
	char *nl;

	if (n < 0) {
		uv_read_stop(s);
		if (!g.go)
			die("stdin closed before \"go\"");
		return;
	}
	buf_add(l, b->base, (size_t)n);
	while (l->len > 0 && (nl = memchr(l->p, '\n', l->len)) != NULL) {
		stdin_line(l->p, (size_t)(nl - l->p));
		buf_consume(l, (size_t)(nl - l->p) + 1);
	}
	if (l->len > 4096)
		die("stdin: line too long");
	if (g.go)
		uv_read_stop(s);
}

static void start_stdin(void)
{
	char line[256];
	uv_handle_type t = uv_guess_handle(0);
	uv_stream_t *s;

	if (t == UV_NAMED_PIPE) {
		uv_pipe_init(g.loop, &g.in.pipe, 0);
		if (uv_pipe_open(&g.in.pipe, 0) < 0)
			die("cannot read stdin");
		s = (uv_stream_t *)&g.in.pipe;
	} else if (t == UV_TTY) {
		if (uv_tty_init(g.loop, &g.in.tty, 0, 1) < 0)
			die("cannot read stdin");
		s = (uv_stream_t *)&g.in.tty;
	} else {
		/* a file: read it now (it cannot block for long) */
		while (fgets(line, sizeof(line), stdin) != NULL) {
			stdin_line(line, strcspn(line, "\n"));
			if (g.go)
				return;
		}
		die("stdin ended before \"go\"");
	}
	if (uv_read_start(s, stdin_alloc, stdin_read) < 0)
		die("cannot read stdin");
}

static void on_exists(struct client *c, uint32_t n)
{
	if (c->busy && c->kind == K_SELECT) {
		c->exists = n;
		return;
	}
	if (g.o.wl != WL_IDLE || c->arrived || n <= c->exists)
		return;
	c->arrived = true;
	c->t_arr = now_ns();
	g.arrived++;
	check_arrivals();
}

/* ---- responses ----------------------------------------------------------- */

static void logged_in(struct client *c)
{
	char tmp[512];

	c->logged_in = true;
	c->st = C_RUN;
	if (g.o.wl == WL_SYNC) {
		c->phase = S_SELECT;
		g.ready++;
		check_setup();
		return;
	}
	send_cmd(c, K_SELECT, "SELECT %s",
	         mailbox_arg(g.o.mailbox, tmp, sizeof(tmp)));
}

static void send_login(struct client *c)
{
	char user[256], pass[256], qu[600], qp[600];

	expand_fmt(user, sizeof(user), g.o.user_fmt, c->acct);
	expand_fmt(pass, sizeof(pass), g.o.pass_fmt, c->acct);
	if (quote(qu, sizeof(qu), user) < 0 || quote(qp, sizeof(qp), pass) < 0)
		die("user name or password cannot be quoted");
	c->st = C_AUTH;
	send_cmd(c, K_LOGIN, "LOGIN %s %s", qu, qp);
}

static void sync_idle_timer(uv_timer_t *t)
{
	send_done(t->data);
}

/* The tagged reply of the command in flight. */
static void complete(struct client *c, const char *l, size_t n, bool ok)
{
	uint64_t now = now_ns(), lat;
	enum kind k = c->kind;
	bool in_win;

	if (k == K_IDLE && c->idling)
		lat = (c->t_cont - c->t_sent) + (now - c->t_done);
	else
		lat = now - c->t_sent;
	c->busy = false;
	c->idling = false;
	c->collecting = false;
	/* sync and noop: only commands sent and answered inside the window;
	 * idle: the setup's commands too */
	if (g.o.wl == WL_IDLE)
		in_win = true;
	else
		in_win = g.win_start != 0 && c->t_sent >= g.win_start &&
		         (g.win_end == 0 || now <= g.win_end);
	if (in_win)
		lat_add(&g.lat[k], lat);

	if (k == K_LOGOUT) {
		close_client(c);
		return;
	}
	if (!ok) {
		if (k == K_LOGIN) {
			char user[256];

			expand_fmt(user, sizeof(user), g.o.user_fmt, c->acct);
			die("LOGIN %s failed: %.*s", user,
			    (int)(n > 200 ? 200 : n), l);
		}
		g.errors++;
		log_error(c, kind_name[k], l, n);
		if (k == K_SELECT && g.o.wl != WL_SYNC) {
			client_fail(c, "SELECT failed");
			return;
		}
	}
	if (k == K_LOGIN) {
		logged_in(c);
		return;
	}
	switch (g.o.wl) {
	case WL_SYNC:
		if (ok)
			sync_result(c, l, n);
		sync_next(c);
		return;
	case WL_NOOP:
		if (k == K_SELECT) {
			g.ready++;
			check_setup();
			return;
		}
		noop_next(c);
		return;
	case WL_IDLE:
		if (k == K_SELECT) {
			if (g.stopping) {
				send_logout(c);
				return;
			}
			send_cmd(c, K_IDLE, "IDLE");
			return;
		}
		send_logout(c); /* IDLE is over: DONE was sent */
		return;
	}
}

/* A continuation request "+ ...". */
static void on_continuation(struct client *c)
{
	if (!c->busy || c->kind != K_IDLE || c->idling)
		return; /* APPEND uses LITERAL+: no "+" expected */
	c->idling = true;
	c->t_cont = now_ns();
	if (g.o.wl == WL_SYNC) {
		if (!c->timer_init) {
			uv_timer_init(g.loop, &c->timer);
			c->timer.data = c;
			c->timer_init = true;
		}
		uv_timer_start(&c->timer, sync_idle_timer, SYNC_IDLE_MS, 0);
	} else if (g.o.wl == WL_IDLE) {
		if (g.stopping) {
			send_done(c);
			return;
		}
		if (!c->logged_in)
			return;
		g.ready++;
		check_setup();
	}
}

static void untagged(struct client *c, const char *l, size_t n)
{
	const char *end = l + n, *p = l;
	uint64_t num;

	if (n > 0 && *p >= '0' && *p <= '9') {
		num = parse_num(&p, end);
		if ((size_t)(end - p) == 7 && memcmp(p, " EXISTS", 7) == 0) {
			on_exists(c, num > UINT32_MAX ? UINT32_MAX
			                              : (uint32_t)num);
			return;
		}
		if (c->collecting && (size_t)(end - p) > 7 &&
		    memcmp(p, " FETCH ", 7) == 0)
			note_fetch(c, p + 7, (size_t)(end - p - 7));
		return;
	}
	if (n >= 3 && memcmp(l, "BYE", 3) == 0) {
		if (c->st != C_LOGOUT) /* counted as failed or lost */
			client_fail(c, "unexpected %.*s",
			            (int)(n > 100 ? 100 : n), l);
		return;
	}
	if (n >= 3 && memcmp(l, "OK ", 3) == 0 && g.o.wl == WL_SYNC)
		note_copyuid(c, l, n);
}

/* One response's first line (without CRLF). */
static void on_response(struct client *c, const char *l, size_t n)
{
	const char *p = l, *end = l + n;
	uint64_t tag;
	bool ok;

	if (c->st == C_GREETING) {
		if (n >= 4 && memcmp(l, "* OK", 4) == 0)
			send_login(c);
		else if (n >= 9 && memcmp(l, "* PREAUTH", 9) == 0)
			logged_in(c);
		else
			client_fail(c, "greeting: %.*s",
			            (int)(n > 100 ? 100 : n), l);
		return;
	}
	if (n >= 1 && l[0] == '+') {
		on_continuation(c);
		return;
	}
	if (n >= 2 && l[0] == '*' && l[1] == ' ') {
		untagged(c, l + 2, n - 2);
		return;
	}
	if (n < 2 || l[0] != 'A') {
		client_fail(c, "unexpected response: %.*s",
		            (int)(n > 100 ? 100 : n), l);
		return;
	}
	p++;
	tag = parse_num(&p, end);
	if (!c->busy || tag != c->tag || p >= end || *p != ' ') {
		client_fail(c, "unexpected tagged response: %.*s",
		            (int)(n > 100 ? 100 : n), l);
		return;
	}
	p++;
	ok = end - p >= 2 && memcmp(p, "OK", 2) == 0 &&
	     (end - p == 2 || p[2] == ' ');
	if (ok && g.o.wl == WL_SYNC)
		note_copyuid(c, l, n);
	complete(c, l, n, ok);
}

/* A line with its LF; a literal announced at its end is skipped next. */
static void on_line(struct client *c, const char *l, size_t n)
{
	bool cont = c->cont;
	size_t m = n - 1, k, e;
	uint64_t v = 0;

	if (m > 0 && l[m - 1] == '\r')
		m--;
	c->cont = false;
	if (m >= 3 && l[m - 1] == '}') {
		/* "{N}" or "~{N}" (RFC 3516), "{N+}" tolerated */
		k = m - 1;
		if (l[k - 1] == '+')
			k--;
		e = k;
		while (k > 0 && l[k - 1] >= '0' && l[k - 1] <= '9')
			k--;
		if (k < e && e - k <= 18 && k > 0 && l[k - 1] == '{') {
			const char *q = l + k;

			v = parse_num(&q, l + e);
			c->lit = v;
			c->cont = true;
		}
	}
	if (!cont)
		on_response(c, l, m);
}

/* Plain text from the server: returns how much was used (the rest is an
 * incomplete line). */
static size_t feed(struct client *c, const char *d, size_t n)
{
	size_t off = 0, k;
	const char *nl;

	while (off < n && c->st != C_DEAD) {
		if (c->lit > 0) {
			k = n - off < c->lit ? n - off : (size_t)c->lit;
			c->lit -= k;
			off += k;
			continue;
		}
		nl = memchr(d + off, '\n', n - off);
		if (nl == NULL)
			break;
		k = (size_t)(nl - (d + off)) + 1;
		on_line(c, d + off, k);
		off += k;
	}
	return off;
}

static void input(struct client *c, const char *d, size_t n)
{
	size_t used;

	if (c->in.len == 0) {
		used = feed(c, d, n);
		if (c->st != C_DEAD && used < n)
			buf_add(&c->in, d + used, n - used);
	} else {
		buf_add(&c->in, d, n);
		used = feed(c, c->in.p, c->in.len);
		if (c->st != C_DEAD)
			buf_consume(&c->in, used);
	}
	if (c->st != C_DEAD && c->in.len > MAX_RESP_LINE)
		client_fail(c, "response line longer than %u bytes",
		            MAX_RESP_LINE);
}

/* ---- TLS ----------------------------------------------------------------- */

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *d, size_t n)
{
	raw_write(p, d, n);
	return (ssize_t)n;
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *d, size_t n)
{
	struct client *c = p;

	if (c->tls_pend.len > 0) {
		if (n > c->tls_pend.len)
			n = c->tls_pend.len;
		memcpy(d, c->tls_pend.p, n);
		buf_consume(&c->tls_pend, n);
		return (ssize_t)n;
	}
	if (c->tls_srclen > 0) {
		if (n > c->tls_srclen)
			n = c->tls_srclen;
		memcpy(d, c->tls_src, n);
		c->tls_src += n;
		c->tls_srclen -= n;
		return (ssize_t)n;
	}
	gnutls_transport_set_errno(c->tls, EAGAIN);
	return -1;
}

static int tls_start(struct client *c)
{
	bool ip = strchr(g.o.host, ':') != NULL ||
	          strspn(g.o.host, "0123456789.") == strlen(g.o.host);

	if (gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0) {
		c->tls = NULL;
		return -1;
	}
	if (gnutls_set_default_priority(c->tls) < 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, g.cred) < 0)
		return -1;
	if (!ip)
		gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, g.o.host,
		                       strlen(g.o.host));
	if (g.o.cafile != NULL) /* the certificate must name --host */
		gnutls_session_set_verify_cert(c->tls, g.o.host, 0);
	gnutls_transport_set_ptr(c->tls, c);
	gnutls_transport_set_push_function(c->tls, tls_push);
	gnutls_transport_set_pull_function(c->tls, tls_pull);
	c->st = C_HANDSHAKE;
	return 0;
}

/* Ciphertext arrived: handshake, then decrypt and feed every record. */
/* Ciphertext not yet read by GnuTLS, or plaintext it holds. */
static bool tls_unread(struct client *c)
{
	return c->tls_srclen > 0 || c->tls_pend.len > 0 ||
	       gnutls_record_check_pending(c->tls) > 0;
}

static void tls_input(struct client *c, const char *d, size_t n)
{
	unsigned spins = 0;
	ssize_t r;
	int h;

	c->tls_src = d;
	c->tls_srclen = n;
	while (c->st == C_HANDSHAKE) {
		h = gnutls_handshake(c->tls);
		if (h == GNUTLS_E_AGAIN || h == GNUTLS_E_INTERRUPTED) {
			if (tls_unread(c) && ++spins < TLS_SPINS)
				continue;
			goto keep;
		}
		if (h < 0) {
			client_fail(c, "tls handshake: %s", gnutls_strerror(h));
			return;
		}
		c->st = C_GREETING;
	}
	while (c->st != C_DEAD) {
		r = gnutls_record_recv(c->tls, plain_buf, sizeof(plain_buf));
		if (r > 0) {
			input(c, plain_buf, (size_t)r);
			continue;
		}
		/* GnuTLS says EAGAIN after a post-handshake message (a TLS
		 * 1.3 NewSessionTicket) even when more records follow in
		 * what we gave it: go on while there is input */
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			if (tls_unread(c) && ++spins < TLS_SPINS)
				continue;
			break;
		}
		if (r == 0) {
			if (c->st == C_LOGOUT)
				close_client(c);
			else
				client_fail(c, "server closed the connection");
			return;
		}
		if (gnutls_error_is_fatal((int)r)) {
			client_fail(c, "tls: %s", gnutls_strerror((int)r));
			return;
		}
	}
keep:
	if (c->st != C_DEAD && c->tls_srclen > 0)
		buf_add(&c->tls_pend, c->tls_src, c->tls_srclen);
	c->tls_src = NULL;
	c->tls_srclen = 0;
}

/* ---- connections --------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	(void)hint;
	*b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;

	if (n == 0 || c->st == C_DEAD)
		return;
	if (n < 0) {
		if (c->st == C_LOGOUT)
			close_client(c);
		else
			client_fail(c, "read: %s",
			            n == UV_EOF ? "server closed the connection"
			                        : uv_strerror((int)n));
		return;
	}
	g.rx_bytes += (uint64_t)n;
	if (c->tls != NULL)
		tls_input(c, b->base, (size_t)n);
	else
		input(c, b->base, (size_t)n);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct client *c = req->data;
	int h;

	if (status < 0) {
		client_fail(c, "connect: %s", uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
		client_fail(c, "read start failed");
		return;
	}
	if (!g.o.tls) {
		c->st = C_GREETING;
		return;
	}
	if (tls_start(c) < 0) {
		client_fail(c, "tls init failed");
		return;
	}
	h = gnutls_handshake(c->tls); /* sends the ClientHello */
	if (h < 0 && h != GNUTLS_E_AGAIN && h != GNUTLS_E_INTERRUPTED)
		client_fail(c, "tls handshake: %s", gnutls_strerror(h));
}

static void launch(struct client *c)
{
	int r;

	uv_tcp_init(g.loop, &c->tcp);
	c->tcp.data = c;
	c->creq.data = c;
	c->st = C_CONNECTING;
	if (g.o.wl == WL_NOOP) {
		uv_timer_init(g.loop, &c->timer);
		c->timer.data = c;
		c->timer_init = true;
	}
	r = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&g.addr,
	                   on_connect);
	if (r < 0)
		client_fail(c, "connect: %s", uv_strerror(r));
}

/* Open connections at --connect-rate per second. */
static void pace(uv_timer_t *t)
{
	double elapsed = (now_ns() - g.t_start) / 1e9;
	uint64_t due = (uint64_t)(elapsed * g.o.connect_rate) + 1;

	while (g.launched < g.o.clients && g.launched < due)
		launch(&g.c[g.launched++]);
	if (g.launched == g.o.clients)
		uv_timer_stop(t);
}

/* ---- the report ---------------------------------------------------------- */

static void print_by_command(void)
{
	bool first = true;
	int k;

	printf("\"by_command\":{");
	for (k = 0; k < K_COUNT; k++) {
		struct lat *l = &g.lat[k];

		if (l->n == 0)
			continue;
		lat_sort(l);
		printf("%s\"%s\":{\"n\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
		       "\"max_ms\":%.3f}",
		       first ? "" : ",", kind_name[k], l->n,
		       pct_ms(l->v, l->n, 0.50), pct_ms(l->v, l->n, 0.99),
		       l->v[l->n - 1] / 1000.0);
		first = false;
	}
	printf("}");
}

static void finish(void)
{
	struct rusage ru;
	struct lat all = {0};
	uint64_t ops = 0;
	double win_s, cpu, win_cpu;
	unsigned i;
	int k;
	bool fail;

	getrusage(RUSAGE_SELF, &ru);
	cpu = cpu_seconds(&ru);
	for (k = 0; k < K_COUNT; k++) {
		if (k == K_LOGIN || k == K_LOGOUT)
			continue;
		for (i = 0; i < g.lat[k].n; i++)
			lat_add(&all, (uint64_t)g.lat[k].v[i] * 1000);
	}
	ops = all.n;
	lat_sort(&all);
	printf("{\"workload\":\"%s\",\"clients\":%u,\"accounts\":%u,"
	       "\"tls\":%s,",
	       workload_name[g.o.wl], g.o.clients, g.o.accounts,
	       g.o.tls ? "true" : "false");
	if (g.o.wl == WL_IDLE) {
		struct lat d = {0};

		for (i = 0; i < g.o.clients; i++)
			if (g.c[i].arrived)
				lat_add(&d, g.c[i].t_arr > g.t_go
				                    ? g.c[i].t_arr - g.t_go
				                    : 0);
		lat_sort(&d);
		printf("\"ready_clients\":%u,\"connect_s\":%.3f,"
		       "\"arrived\":%u,\"delivery_p50_ms\":%.3f,"
		       "\"delivery_p99_ms\":%.3f,\"delivery_max_ms\":%.3f,",
		       g.ready, (g.t_ready - g.t_start) / 1e9, g.arrived,
		       pct_ms(d.v, d.n, 0.5), pct_ms(d.v, d.n, 0.99),
		       d.n ? d.v[d.n - 1] / 1000.0 : 0.0);
		if (g.all_arrived)
			printf("\"all_arrived_ms\":%.3f,",
			       d.n ? d.v[d.n - 1] / 1000.0 : 0.0);
		else
			printf("\"all_arrived_ms\":null,");
		free(d.v);
		win_cpu = cpu;
		win_s = (now_ns() - g.t_start) / 1e9;
	} else {
		uint64_t we = g.win_end ? g.win_end : now_ns();

		win_s = g.win_start ? (we - g.win_start) / 1e9 : 0;
		win_cpu = g.win_end ? cpu_seconds(&g.ru_win) -
		                              cpu_seconds(&ru_start_win)
		                    : 0;
		printf("\"duration_s\":%.3f,\"ops\":%" PRIu64 ","
		       "\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
		       "\"max_ms\":%.3f,",
		       win_s, ops, win_s > 0 ? ops / win_s : 0.0,
		       pct_ms(all.v, all.n, 0.5), pct_ms(all.v, all.n, 0.99),
		       all.n ? all.v[all.n - 1] / 1000.0 : 0.0);
		if (g.o.wl == WL_NOOP)
			printf("\"interval_ms\":%u,", g.o.interval_ms);
	}
	printf("\"errors\":%" PRIu64 ",", g.errors);
	print_by_command();
	printf(",\"rx_mb\":%.3f,\"loadgen_cpu_s\":%.3f,"
	       "\"loadgen_busy_pct\":%.1f,\"loadgen_max_rss_kb\":%ld}\n",
	       g.rx_bytes / 1e6, cpu, win_s > 0 ? 100.0 * win_cpu / win_s : 0.0,
	       ru.ru_maxrss);
	fflush(stdout);
	free(all.v);

	fail = g.errors * 100 > (ops > 0 ? ops : 1);
	if (g.o.wl == WL_IDLE && !g.all_arrived)
		fail = true;
	if (g.o.wl != WL_IDLE && ops == 0)
		fail = true;
	if (fail)
		fprintf(stderr,
		        "po-loadgen: FAILED: %" PRIu64 " errors in %" PRIu64
		        " commands%s\n",
		        g.errors, ops,
		        g.o.wl == WL_IDLE && !g.all_arrived
		                ? "; not every client saw the delivery"
		                : "");
	exit(fail ? 1 : 0);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
	        "usage: po-loadgen --host ADDR --port N [--tls [--cafile "
	        "FILE]]\n"
	        "         --user-fmt FMT --pass-fmt FMT --accounts K --clients "
	        "C\n"
	        "         --workload sync|idle|noop --duration SECONDS\n"
	        "         [--mailbox INBOX] [--archive Archive] [--seed S]\n"
	        "         [--connect-rate R] [--interval-ms MS]\n"
	        "         [--ops-per-select N]\n"
	        "FMT holds one %%d: the account index 0..K-1 (client i uses "
	        "i %% K).\n");
	exit(2);
}

static double num_arg(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		die("--%s: not a number in [%g, %g]: %s", name, lo, hi, s);
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"host", required_argument, NULL, 'h'},
	        {"port", required_argument, NULL, 'p'},
	        {"tls", no_argument, NULL, 't'},
	        {"cafile", required_argument, NULL, 'C'},
	        {"user-fmt", required_argument, NULL, 'u'},
	        {"pass-fmt", required_argument, NULL, 'P'},
	        {"accounts", required_argument, NULL, 'k'},
	        {"clients", required_argument, NULL, 'c'},
	        {"workload", required_argument, NULL, 'w'},
	        {"duration", required_argument, NULL, 'd'},
	        {"mailbox", required_argument, NULL, 'm'},
	        {"archive", required_argument, NULL, 'a'},
	        {"seed", required_argument, NULL, 's'},
	        {"connect-rate", required_argument, NULL, 'r'},
	        {"interval-ms", required_argument, NULL, 'i'},
	        {"ops-per-select", required_argument, NULL, 'o'},
	        {"help", no_argument, NULL, '?'},
	        {NULL, 0, NULL, 0},
	};
	struct opts *o = &g.o;
	int ch;
	bool have_wl = false;

	o->host = "127.0.0.1";
	o->port = 0;
	o->accounts = 1;
	o->clients = 1;
	o->duration = 0;
	o->mailbox = "INBOX";
	o->archive = "Archive";
	o->seed = 1;
	o->connect_rate = 500;
	o->ops_per_select = 20;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			o->port = (int)num_arg("port", optarg, 1, 65535);
			break;
		case 't':
			o->tls = true;
			break;
		case 'C':
			o->cafile = optarg;
			break;
		case 'u':
			o->user_fmt = optarg;
			break;
		case 'P':
			o->pass_fmt = optarg;
			break;
		case 'k':
			o->accounts =
			        (unsigned)num_arg("accounts", optarg, 1, 1e7);
			break;
		case 'c':
			o->clients = (unsigned)num_arg("clients", optarg, 1,
			                               MAX_CLIENTS);
			break;
		case 'w':
			have_wl = true;
			if (strcmp(optarg, "sync") == 0)
				o->wl = WL_SYNC;
			else if (strcmp(optarg, "idle") == 0)
				o->wl = WL_IDLE;
			else if (strcmp(optarg, "noop") == 0)
				o->wl = WL_NOOP;
			else
				die("--workload: sync, idle or noop");
			break;
		case 'd':
			o->duration = num_arg("duration", optarg, 0.1, 86400);
			break;
		case 'm':
			o->mailbox = optarg;
			break;
		case 'a':
			o->archive = optarg;
			break;
		case 's':
			o->seed = (uint64_t)num_arg("seed", optarg, 0, 1e15);
			break;
		case 'r':
			o->connect_rate =
			        num_arg("connect-rate", optarg, 1, 1e6);
			break;
		case 'i':
			o->interval_ms = (unsigned)num_arg("interval-ms",
			                                   optarg, 0, 6e4);
			break;
		case 'o':
			o->ops_per_select = (unsigned)num_arg("ops-per-select",
			                                      optarg, 1, 1e6);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->port == 0 || o->user_fmt == NULL ||
	    o->pass_fmt == NULL || !have_wl || o->duration <= 0)
		usage();
	if (o->cafile != NULL && !o->tls)
		die("--cafile needs --tls");
	check_fmt("--user-fmt", o->user_fmt);
	check_fmt("--pass-fmt", o->pass_fmt);
}

/* RLIMIT_NOFILE up to the hard limit: 10,000 sockets need it. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < g.o.clients + 32)
		die("RLIMIT_NOFILE is %llu: too low for %u clients (raise the "
		    "hard limit, ulimit -Hn)",
		    (unsigned long long)rl.rlim_cur, g.o.clients);
}

static void resolve(void)
{
	struct addrinfo hints = {0}, *res;
	char port[16];
	int r;

	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", g.o.port);
	r = getaddrinfo(g.o.host, port, &hints, &res);
	if (r != 0)
		die("%s: %s", g.o.host, gai_strerror(r));
	memcpy(&g.addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
}

/* SEARCH SINCE dates: 1, 7, 30 and 365 days ago (RFC 9051 date-text). */
static void make_dates(void)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr",
	                                  "May", "Jun", "Jul", "Aug",
	                                  "Sep", "Oct", "Nov", "Dec"};
	static const int days[] = {1, 7, 30, 365};
	time_t now = time(NULL), t;
	struct tm tm;
	unsigned i;

	for (i = 0; i < 4; i++) {
		t = now - (time_t)days[i] * 86400;
		gmtime_r(&t, &tm);
		snprintf(g.since[i], sizeof(g.since[i]), "%d-%s-%d", tm.tm_mday,
		         mon[tm.tm_mon], tm.tm_year + 1900);
	}
}

int main(int argc, char **argv)
{
	unsigned i;
	int r;

	parse_args(argc, argv);
	raise_nofile();
	resolve();
	make_dates();
	if (g.o.tls) {
		if (gnutls_global_init() < 0 ||
		    gnutls_certificate_allocate_credentials(&g.cred) < 0)
			die("gnutls init failed");
		if (g.o.cafile != NULL) {
			r = gnutls_certificate_set_x509_trust_file(
			        g.cred, g.o.cafile, GNUTLS_X509_FMT_PEM);
			if (r <= 0)
				die("--cafile %s: %s", g.o.cafile,
				    r < 0 ? gnutls_strerror(r)
				          : "no certificate");
		}
	}
	g.c = calloc(g.o.clients, sizeof(*g.c));
	if (g.c == NULL)
		die("out of memory");
	for (i = 0; i < g.o.clients; i++) {
		g.c[i].idx = i;
		g.c[i].acct = i % g.o.accounts;
		g.c[i].rng = g.o.seed * 0x100000001b3ULL + i;
	}
	g.loop = uv_default_loop();
	g.t_start = now_ns();
	uv_timer_init(g.loop, &g.pace);
	uv_timer_init(g.loop, &g.window);
	uv_timer_init(g.loop, &g.hard);
	uv_timer_start(&g.pace, pace, 0, 10);
	g.t_progress = g.t_start;
	uv_timer_start(&g.hard, setup_timeout, 1000, 1000);
	uv_run(g.loop, UV_RUN_DEFAULT);
	die("internal: the loop ended early");
}
