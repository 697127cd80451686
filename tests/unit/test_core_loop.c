/*
 * Runs the real connection core (server/) over loopback with a test-only
 * echo module: greeting, pipelined lines with a worker job in the middle
 * (PO_AGAIN / conn_resume keeps the order), over-long lines, the
 * bad-command limit, the per-address connection limit, and a graceful stop
 * that leaves no handle open (uv_loop_close() == 0), and change
 * announcements: a commit in the store reaches on_notify of exactly the
 * connections watching that account's mailbox (conn_watch).  The client side
 * runs on a plain thread with blocking sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "srv_private.h"
#include "store.h"

/* The store of the running test, for the APPEND job. */
static struct store *test_store;
static int64_t inbox_id;

struct echo_job {
	struct po_job job;
	int value;
	bool append;
	bool slow;
};

static int echo_connect(struct po_conn *c)
{
	return conn_write_str(c, "+OK hello\r\n") == 0 ? PO_OK : PO_CLOSE;
}

static void echo_work(struct po_job *j)
{
	struct echo_job *ej = (struct echo_job *)j;
	struct store_account *a = NULL;
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";

	ej->value = 42;
	if (ej->slow)
		usleep(1600 * 1000); /* longer than prelogin_timeout */
	if (!ej->append)
		return;
	/* A commit on a worker thread, as a delivery makes it. */
	if (store_account_open(test_store, 1, &a) != STORE_OK ||
	    store_append(a, inbox_id, msg, sizeof(msg) - 1, 0, 0, NULL, NULL) !=
	            STORE_OK)
		ej->value = -1;
	store_account_close(&a);
}

static void echo_notify(struct po_conn *c)
{
	conn_write_str(c, "* notify\r\n");
}

static int echo_input(struct po_conn *c, const struct po_frame *f)
{
	struct echo_job *j;

	if (f->len == 4 && memcmp(f->data, "QUIT", 4) == 0) {
		conn_write_str(c, "+OK bye\r\n");
		return PO_CLOSE;
	}
	if (f->len == 5 && memcmp(f->data, "WATCH", 5) == 0) {
		conn_watch(c, 1, inbox_id);
		return conn_write_str(c, "+OK watching\r\n");
	}
	if (f->len == 5 && memcmp(f->data, "OTHER", 5) == 0) {
		conn_watch(c, 2, 0);
		return conn_write_str(c, "+OK watching\r\n");
	}
	if (f->len == 7 && memcmp(f->data, "UNWATCH", 7) == 0) {
		conn_watch(c, 0, 0);
		return conn_write_str(c, "+OK unwatched\r\n");
	}
	if ((f->len == 3 && memcmp(f->data, "JOB", 3) == 0) ||
	    (f->len == 4 && memcmp(f->data, "SLOW", 4) == 0) ||
	    (f->len == 6 && memcmp(f->data, "APPEND", 6) == 0)) {
		j = calloc(1, sizeof(*j));
		assert_non_null(j);
		j->append = f->len == 6;
		j->slow = f->len == 4;
		assert_int_equal(conn_job_submit(c, &j->job, echo_work), 0);
		return PO_AGAIN;
	}
	if (f->len == 3 && memcmp(f->data, "BAD", 3) == 0) {
		if (conn_bad_command(c) == PO_CLOSE)
			return PO_CLOSE;
		conn_write_str(c, "-ERR bad\r\n");
		return PO_OK;
	}
	conn_printf(c, "echo %.*s\r\n", (int)f->len, f->data);
	return PO_OK;
}

static void echo_job_done(struct po_conn *c, struct po_job *j)
{
	conn_printf(c, "+OK job %d\r\n", ((struct echo_job *)j)->value);
	free(j);
	conn_resume(c);
}

static void echo_close(struct po_conn *c, enum po_close_why why)
{
	(void)c;
	(void)why;
}

static const struct po_protocol echo_protocol = {
        .name = "echo",
        .session_size = 16,
        .on_connect = echo_connect,
        .on_input = echo_input,
        .on_job_done = echo_job_done,
        .on_close = echo_close,
        .on_notify = echo_notify,
        .msg_internal_error = "-ERR internal\r\n",
        .msg_line_too_long = "-ERR too long\r\n",
        .msg_too_many_errors = "-ERR too many errors\r\n",
        .msg_timeout = "-ERR timeout\r\n",
        .msg_shutdown = "-ERR shutdown\r\n",
        .msg_too_many_connections = "-ERR too many connections\r\n",
};

struct fixture {
	char dir[64];
	uv_loop_t loop;
	struct srv srv;
	uv_async_t stop;
	uint16_t port;
	pthread_t client;
	void (*script)(struct fixture *fx);
	int failures;
	bool stop_sent; /* the script stopped the server itself */
};

static int dial(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	struct timeval tv = {.tv_sec = 10};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A reply that never comes fails the test instead of hanging it. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	return fd;
}

/* Read until the peer closes or want bytes of text have arrived. */
static char *read_n(int fd, size_t want)
{
	static char buf[8192];
	size_t n = 0;
	ssize_t r;

	while (n < want && n < sizeof(buf) - 1) {
		r = read(fd, buf + n, want - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);

	if (write(fd, s, n) != (ssize_t)n)
		abort();
}

#define EXPECT(fx, fd, s)                                                      \
	do {                                                                   \
		const char *got_ = read_n(fd, strlen(s));                      \
		if (strcmp(got_, s) != 0) {                                    \
			fprintf(stderr, "expected \"%s\" got \"%s\"\n", s,     \
			        got_);                                         \
			(fx)->failures++;                                      \
		}                                                              \
	} while (0)

static void *client_main(void *arg)
{
	struct fixture *fx = arg;

	fx->script(fx);
	if (!fx->stop_sent)
		uv_async_send(&fx->stop);
	return NULL;
}

static void on_stop(uv_async_t *a)
{
	struct fixture *fx = a->data;

	uv_close((uv_handle_t *)a, NULL);
	srv_stop(&fx->srv);
}

static void run(struct fixture *fx, void (*script)(struct fixture *fx))
{
	struct po_listen l = {.count = 1};
	struct sockaddr_in sa;
	int len = sizeof(sa);

	fx->script = script;
	snprintf(l.addr[0].host, sizeof(l.addr[0].host), "127.0.0.1");
	assert_int_equal(listener__open(&fx->srv, &l, &echo_protocol, false),
	                 0);
	uv_tcp_getsockname(&fx->srv.listeners->tcp, (struct sockaddr *)&sa,
	                   &len);
	fx->port = ntohs(sa.sin_port);
	uv_async_init(&fx->loop, &fx->stop, on_stop);
	fx->stop.data = fx;
	assert_int_equal(pthread_create(&fx->client, NULL, client_main, fx), 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	pthread_join(fx->client, NULL);
	assert_int_equal(fx->failures, 0);
}

static int short_timeout;

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct po_config *cfg = malloc(sizeof(*cfg));
	const char *err;
	const char *const o[] = {"max_line_length=512", "max_bad_commands=3",
	                         "max_connections_per_ip=2",
	                         "prelogin_timeout=1"};
	/* Only test_slow_job_is_not_a_timeout runs with a 1 s timeout
	 * (setup_short_timeout); the others get the default. */
	size_t n_o = *state == (void *)&short_timeout ? 4 : 3;

	assert_non_null(fx);
	assert_non_null(cfg);
	assert_int_equal(config_load(cfg, NULL, o, n_o, &err), 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(srv_init(&fx->srv, &fx->loop, cfg, &err), 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/po-core-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(store_new(fx->dir, &fx->srv.env.store, &err), 0);
	assert_int_equal(store_account_create(fx->srv.env.store, 1), 0);
	assert_int_equal(store_account_create(fx->srv.env.store, 2), 0);
	{
		struct store_account *a = NULL;
		struct store_mailbox_info info;

		assert_int_equal(store_account_open(fx->srv.env.store, 1, &a),
		                 0);
		assert_int_equal(store_mailbox_get(a, "INBOX", &info), 0);
		inbox_id = info.id;
		store_account_close(&a);
	}
	test_store = fx->srv.env.store;
	srv__watch_start(&fx->srv);
	*state = fx;
	return 0;
}

static int setup_short_timeout(void **state)
{
	*state = &short_timeout;
	return setup(state);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	srv_deinit(&fx->srv);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	store_account_remove(fx->srv.env.store, 1);
	store_account_remove(fx->srv.env.store, 2);
	store_free(&fx->srv.env.store);
	test_store = NULL;
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
		assert_int_equal(system(cmd), 0);
	}
	free(fx);
	return 0;
}

static void script_pipelined_job(struct fixture *fx)
{
	int fd = dial(fx->port);

	EXPECT(fx, fd, "+OK hello\r\n");
	send_str(fd, "a\r\nJOB\r\nb\nQUIT\r\nnever\r\n");
	EXPECT(fx, fd, "echo a\r\n+OK job 42\r\necho b\r\n+OK bye\r\n");
	EXPECT(fx, fd, "");
	close(fd);
}

static void test_pipelined_lines_wait_for_job(void **state)
{
	run(*state, script_pipelined_job);
}

static void script_long_and_bad(struct fixture *fx)
{
	char line[1200];
	int fd = dial(fx->port);

	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\0';
	EXPECT(fx, fd, "+OK hello\r\n");
	send_str(fd, line);
	send_str(fd, "\nok\r\n");
	EXPECT(fx, fd, "-ERR too long\r\necho ok\r\n");
	send_str(fd, "BAD\r\nBAD\r\nafter\r\n");
	EXPECT(fx, fd, "-ERR bad\r\n-ERR too many errors\r\n");
	EXPECT(fx, fd, "");
	close(fd);
}

static void test_overlong_line_and_bad_command_limit(void **state)
{
	run(*state, script_long_and_bad);
}

static void script_per_ip_limit(struct fixture *fx)
{
	int a = dial(fx->port), b = dial(fx->port), c;

	EXPECT(fx, a, "+OK hello\r\n");
	EXPECT(fx, b, "+OK hello\r\n");
	c = dial(fx->port);
	EXPECT(fx, c, "-ERR too many connections\r\n");
	EXPECT(fx, c, "");
	close(c);
	close(b);
	send_str(a, "QUIT\r\n");
	EXPECT(fx, a, "+OK bye\r\n");
	close(a);
}

static void test_per_address_limit(void **state)
{
	run(*state, script_per_ip_limit);
}

static void script_shutdown(struct fixture *fx)
{
	int fd = dial(fx->port);

	EXPECT(fx, fd, "+OK hello\r\n");
	/* The stop is requested while this connection is idle. */
	fx->stop_sent = true;
	uv_async_send(&fx->stop);
	EXPECT(fx, fd, "-ERR shutdown\r\n");
	EXPECT(fx, fd, "");
	close(fd);
}

static void test_graceful_stop_says_goodbye(void **state)
{
	run(*state, script_shutdown);
}

static void script_watch(struct fixture *fx)
{
	int a = dial(fx->port), b = dial(fx->port), c;

	EXPECT(fx, a, "+OK hello\r\n");
	EXPECT(fx, b, "+OK hello\r\n");
	send_str(a, "WATCH\r\n");
	EXPECT(fx, a, "+OK watching\r\n");
	send_str(b, "OTHER\r\n");
	EXPECT(fx, b, "+OK watching\r\n");
	close(b); /* per-address limit 2: make room for the writer */
	c = dial(fx->port);
	EXPECT(fx, c, "+OK hello\r\n");
	/* A commit to account 1's INBOX reaches a, which watches it. */
	send_str(c, "APPEND\r\n");
	EXPECT(fx, c, "+OK job 42\r\n");
	EXPECT(fx, a, "* notify\r\n");
	/* Unwatched, a hears nothing of the next one. */
	send_str(a, "UNWATCH\r\n");
	EXPECT(fx, a, "+OK unwatched\r\n");
	send_str(c, "APPEND\r\nping\r\n");
	EXPECT(fx, c, "+OK job 42\r\necho ping\r\n");
	send_str(a, "ping\r\n");
	EXPECT(fx, a, "echo ping\r\n");
	close(c);
	close(a);
}

/* prelogin_timeout is 1 s: a job that takes longer is the server's time,
 * not the client's idleness; the client still gets its answer. */
static void script_slow_job(struct fixture *fx)
{
	int fd = dial(fx->port);

	EXPECT(fx, fd, "+OK hello\r\n");
	send_str(fd, "SLOW\r\n");
	EXPECT(fx, fd, "+OK job 42\r\n");
	send_str(fd, "ping\r\n");
	EXPECT(fx, fd, "echo ping\r\n");
	close(fd);
}

static void test_slow_job_is_not_a_timeout(void **state)
{
	run(*state, script_slow_job);
}

static void test_change_reaches_watchers(void **state)
{
	run(*state, script_watch);
}

static void script_watch_other_account(struct fixture *fx)
{
	int b = dial(fx->port), c = dial(fx->port);

	EXPECT(fx, b, "+OK hello\r\n");
	EXPECT(fx, c, "+OK hello\r\n");
	send_str(b, "OTHER\r\n");
	EXPECT(fx, b, "+OK watching\r\n");
	/* Account 1 changes; b watches account 2 and is not told. */
	send_str(c, "APPEND\r\nping\r\n");
	EXPECT(fx, c, "+OK job 42\r\necho ping\r\n");
	send_str(b, "ping\r\n");
	EXPECT(fx, b, "echo ping\r\n");
	close(c);
	close(b);
}

static void test_change_skips_other_accounts(void **state)
{
	run(*state, script_watch_other_account);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_pipelined_lines_wait_for_job, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_overlong_line_and_bad_command_limit, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_per_address_limit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_graceful_stop_says_goodbye,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_slow_job_is_not_a_timeout,
	                                        setup_short_timeout, teardown),
	        cmocka_unit_test_setup_teardown(test_change_reaches_watchers,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_change_skips_other_accounts, setup, teardown),
	};

	return cmocka_run_group_tests_name("core_loop", tests, NULL, NULL);
}
