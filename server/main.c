/*
 * postofficed: the daemon's entry point.  Reads the configuration, loads
 * the TLS credentials, binds the listeners (IMAP, IMAPS, POP3, POP3S, LMTP),
 * drops privileges when started as root, opens the account directory and the
 * store, and runs the libuv loop until SIGTERM/SIGINT (graceful stop).
 * SIGHUP reloads the configuration file (with the same -o overrides) and
 * the TLS credentials; listeners are not rebound.
 */
#include "srv_private.h"
#include "log.h"

#include "auth.h"
#include "imap.h"
#include "lmtp.h"
#include "pop3.h"
#include "store.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OVERRIDES 64

struct daemon {
	struct srv srv;
	uv_loop_t loop;
	uv_signal_t sig_term, sig_int, sig_hup;
	const char *path;
	const char *overrides[MAX_OVERRIDES];
	size_t n_overrides;
};

static void usage(FILE *fp)
{
	fputs("usage: postofficed -c FILE [-o key=value ...] [-h]\n"
	      "  -c FILE        configuration file (see etc/postoffice.conf)\n"
	      "  -o key=value   override one configuration key\n"
	      "  -h             show this help\n",
	      fp);
}

static void parse_args(struct daemon *d, int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "c:o:h")) != -1) {
		if (ch == 'c') {
			d->path = optarg;
		} else if (ch == 'o' && d->n_overrides < MAX_OVERRIDES) {
			d->overrides[d->n_overrides++] = optarg;
		} else if (ch == 'h') {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			exit(1);
		}
	}
	if (d->path == NULL || optind != argc) {
		usage(stderr);
		exit(1);
	}
}

static struct po_config *load_config(struct daemon *d, const char **error_r)
{
	struct po_config *cfg = xmalloc(sizeof(*cfg));

	if (config_load(cfg, d->path, d->overrides, d->n_overrides, error_r) !=
	    0) {
		free(cfg);
		return NULL;
	}
	return cfg;
}

static void log_skipped(const struct po_listen *l, const char *name,
                        const char *why)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		log_info("%s listener %s:%u not started: %s", name,
		         l->addr[i].host, l->addr[i].port, why);
}

static void open_listeners(struct srv *s)
{
	const struct po_config *cfg = s->config;
	int r = 0;

	r |= listener__open(s, &cfg->imap_listen, &imap_protocol, false);
	r |= listener__open(s, &cfg->pop3_listen, &pop3_protocol, false);
	r |= listener__open(s, &cfg->lmtp_listen, &lmtp_protocol, false);
	if (s->creds != NULL) {
		r |= listener__open(s, &cfg->imaps_listen, &imap_protocol,
		                    true);
		r |= listener__open(s, &cfg->pop3s_listen, &pop3_protocol,
		                    true);
	} else {
		log_skipped(&cfg->imaps_listen, "imaps",
		            "no tls_cert configured");
		log_skipped(&cfg->pop3s_listen, "pop3s",
		            "no tls_cert configured");
	}
	if (r != 0)
		fatalx("cannot open the listeners");
}

/* Started as root with user set: become that user before any client is
 * served (DESIGN.md "Bad input"). */
static void drop_privileges(const struct po_config *cfg)
{
	struct passwd *pw;

	if (cfg->run_user[0] == '\0')
		return;
	if (geteuid() != 0) {
		log_info("not started as root: user=%s ignored", cfg->run_user);
		return;
	}
	pw = getpwnam(cfg->run_user);
	if (pw == NULL)
		fatalx("user %s does not exist", cfg->run_user);
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		fatal("cannot switch to user %s", cfg->run_user);
	if (setuid(0) == 0)
		fatalx("could regain root after dropping privileges");
	log_info("running as user=%s", cfg->run_user);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	log_info("stopping signal=%s", strsignal(signum));
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	srv_stop(&d->srv);
}

static void on_hup(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	struct po_config *cfg;
	const char *err;

	(void)signum;
	cfg = load_config(d, &err);
	if (cfg == NULL || srv_reload(&d->srv, cfg, &err) != 0) {
		log_warnx("reload failed, keeping the old configuration: %s",
		          err);
		return;
	}
	log_set_level(cfg->log_level);
	log_info("reloaded config=%s tls=%s (limits, timeouts and TLS "
	         "credentials apply now; listeners are not rebound)",
	         d->path, d->srv.creds != NULL ? "on" : "off");
}

static void start_signals(struct daemon *d)
{
	uv_signal_init(&d->loop, &d->sig_term);
	uv_signal_init(&d->loop, &d->sig_int);
	uv_signal_init(&d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, on_stop_signal, SIGTERM);
	uv_signal_start(&d->sig_int, on_stop_signal, SIGINT);
	uv_signal_start(&d->sig_hup, on_hup, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
}

static void open_services(struct srv *s)
{
	const char *err;

	if (auth_dir_open(s->config->data_dir, &s->env.auth, &err) != 0)
		fatalx("cannot open the account directory in %s: %s",
		       s->config->data_dir, err);
	if (auth_dir_set_cache(s->env.auth, s->config->auth_cache_size,
	                       s->config->auth_cache_ttl) != 0)
		fatalx("cannot set up the login cache");
	if (store_new(s->config->data_dir, &s->env.store, &err) != 0)
		fatalx("cannot open the store in %s: %s", s->config->data_dir,
		       err);
}

static void setup(struct daemon *d)
{
	struct po_config *cfg;
	char threads[16];
	const char *err;

	cfg = load_config(d, &err);
	if (cfg == NULL)
		fatalx("%s", err);
	log_set_level(cfg->log_level);
	/* libuv reads this once, at the first uv_queue_work. */
	snprintf(threads, sizeof(threads), "%u", cfg->worker_threads);
	setenv("UV_THREADPOOL_SIZE", threads, 1);
	if (uv_loop_init(&d->loop) != 0)
		fatalx("cannot create the event loop");
	if (srv_init(&d->srv, &d->loop, cfg, &err) != 0)
		fatalx("%s", err);
	if (d->srv.creds == NULL)
		log_info("tls_cert is empty: TLS listeners and STLS are off");
	open_listeners(&d->srv);
	drop_privileges(d->srv.config);
	open_services(&d->srv);
	srv__watch_start(&d->srv);
	start_signals(d);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	int r;

	parse_args(&d, argc, argv);
	setup(&d);
	listener__log_ready(&d.srv);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	auth_dir_close(&d.srv.env.auth);
	store_free(&d.srv.env.store);
	srv_deinit(&d.srv);
	r = uv_loop_close(&d.loop);
	if (r != 0)
		log_warnx("event loop closed with handles open: %s",
		          uv_strerror(r));
	log_info("stopped");
	return 0;
}
