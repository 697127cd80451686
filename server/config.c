/*
 * The daemon's configuration (config.h): defaults, the flat INI file read
 * with inih, and -o key=value overrides.  Every key is described once in
 * the key table below (name, kind, where it lives in struct po_config and
 * its bounds); parsing a value is a lookup plus one small parser per kind.
 * Unknown keys, sections and bad values are errors that name the file,
 * line and key.  Nothing here touches sockets; the only I/O is reading the
 * file, at startup or on reload (SIGHUP).
 */
#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <ini.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum cfg_kind {
	CFG_STR,
	CFG_LISTEN,
	CFG_BOOL,
	CFG_PLAINTEXT,
	CFG_LOGLEVEL,
	CFG_UINT,
	CFG_SIZE,
	CFG_U64,
};

struct cfg_key {
	const char *name;
	enum cfg_kind kind;
	size_t offset;
	size_t size;       /* CFG_STR: the buffer's size */
	uint64_t min, max; /* numeric kinds */
};

#define OFF(f) offsetof(struct po_config, f)
#define STR(n, f)                                                              \
	{                                                                      \
		n, CFG_STR, OFF(f), sizeof(((struct po_config *)0)->f), 0, 0   \
	}
#define NUM(n, k, f, lo, hi)                                                   \
	{                                                                      \
		n, k, OFF(f), 0, lo, hi                                        \
	}
#define OTHER(n, k, f)                                                         \
	{                                                                      \
		n, k, OFF(f), 0, 0, 0                                          \
	}

static const struct cfg_key cfg_keys[] = {
        STR("data_dir", data_dir),
        STR("hostname", hostname),
        STR("user", run_user),
        STR("tls_cert", tls_cert),
        STR("tls_key", tls_key),
        OTHER("imap_listen", CFG_LISTEN, imap_listen),
        OTHER("imaps_listen", CFG_LISTEN, imaps_listen),
        OTHER("pop3_listen", CFG_LISTEN, pop3_listen),
        OTHER("pop3s_listen", CFG_LISTEN, pop3s_listen),
        OTHER("lmtp_listen", CFG_LISTEN, lmtp_listen),
        OTHER("plaintext_auth", CFG_PLAINTEXT, plaintext_auth),
        OTHER("pop_default", CFG_BOOL, pop_default),
        OTHER("imap_default", CFG_BOOL, imap_default),
        NUM("max_connections", CFG_UINT, max_connections, 1, 1000000),
        NUM("max_connections_per_ip", CFG_UINT, max_connections_per_ip, 1,
            1000000),
        NUM("max_line_length", CFG_SIZE, max_line_length, 512, 1048576),
        NUM("max_message_size", CFG_U64, max_message_size, 1024,
            UINT64_C(4294967296)),
        NUM("prelogin_timeout", CFG_UINT, prelogin_timeout, 1, 86400),
        NUM("idle_timeout", CFG_UINT, idle_timeout, 1, 604800),
        NUM("max_bad_commands", CFG_UINT, max_bad_commands, 1, 1000),
        NUM("auth_fail_delay_ms", CFG_UINT, auth_fail_delay_ms, 0, 60000),
        NUM("auth_cache_size", CFG_UINT, auth_cache_size, 0, 1000000),
        NUM("auth_cache_ttl", CFG_UINT, auth_cache_ttl, 0, 604800),
        NUM("output_buffer_max", CFG_SIZE, output_buffer_max, 4096, 67108864),
        NUM("worker_threads", CFG_UINT, worker_threads, 1, 128),
        OTHER("log_level", CFG_LOGLEVEL, log_level),
};

static char cfg_error[1536];

static const char *cfg_fail(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* Format an error into the static buffer and return it. */
static const char *cfg_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cfg_error, sizeof(cfg_error), fmt, ap);
	va_end(ap);
	return cfg_error;
}

static void set_listen1(struct po_listen *l, const char *host, uint16_t port)
{
	l->count = 1;
	snprintf(l->addr[0].host, sizeof(l->addr[0].host), "%s", host);
	l->addr[0].port = port;
}

static void config_defaults(struct po_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./var");
	if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) != 0)
		snprintf(cfg->hostname, sizeof(cfg->hostname), "localhost");
	set_listen1(&cfg->imap_listen, "127.0.0.1", 1143);
	set_listen1(&cfg->imaps_listen, "127.0.0.1", 1993);
	set_listen1(&cfg->pop3_listen, "127.0.0.1", 1110);
	set_listen1(&cfg->pop3s_listen, "127.0.0.1", 1995);
	set_listen1(&cfg->lmtp_listen, "127.0.0.1", 2424);
	cfg->plaintext_auth = PO_PLAINTEXT_LOOPBACK;
	cfg->pop_default = false;
	cfg->imap_default = true;
	cfg->max_connections = 10000;
	cfg->max_connections_per_ip = 100;
	cfg->max_line_length = 65536;
	cfg->max_message_size = 52428800;
	cfg->prelogin_timeout = 60;
	cfg->idle_timeout = 1800;
	cfg->max_bad_commands = 10;
	cfg->auth_fail_delay_ms = 2000;
	cfg->auth_cache_size = 10000;
	cfg->auth_cache_ttl = 3600;
	cfg->output_buffer_max = 262144;
	cfg->worker_threads = 4;
	cfg->log_level = LOG_INFO;
}

static const struct cfg_key *cfg_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cfg_keys) / sizeof(cfg_keys[0]); i++) {
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	}
	return NULL;
}

/* Parse a decimal number into *out within [min, max]. */
static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Is host a numeric IPv4 (v6 = false) or IPv6 (v6 = true) address? */
static bool host_numeric(const char *host, bool v6)
{
	unsigned char tmp[16];

	return inet_pton(v6 ? AF_INET6 : AF_INET, host, tmp) == 1;
}

/* Parse one "ADDR:PORT" or "[V6]:PORT" item (already trimmed). */
static int parse_addr(const char *item, struct po_listen_addr *a)
{
	const char *colon, *host = item;
	size_t hlen;
	uint64_t port;
	bool v6 = item[0] == '[';

	if (v6) {
		colon = strstr(item, "]:");
		if (colon == NULL)
			return -1;
		host = item + 1;
		hlen = (size_t)(colon - host);
		colon++;
	} else {
		colon = strrchr(item, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - item);
	}
	if (hlen == 0 || hlen >= sizeof(a->host))
		return -1;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	if (!host_numeric(a->host, v6))
		return -1;
	if (parse_u64(colon + 1, 1, 65535, &port) != 0)
		return -1;
	a->port = (uint16_t)port;
	return 0;
}

/* Copy the next comma-separated item of *p, trimmed, into item. */
static int next_item(const char **p, char *item, size_t size)
{
	const char *s = *p, *e;
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	e = strchr(s, ',');
	if (e == NULL)
		e = s + strlen(s);
	*p = *e == ',' ? e + 1 : e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - s);
	if (n == 0 || n >= size)
		return -1;
	memcpy(item, s, n);
	item[n] = '\0';
	return 0;
}

static int parse_listen(const char *v, struct po_listen *out)
{
	struct po_listen l;
	char item[96];
	const char *p = v;

	memset(&l, 0, sizeof(l));
	if (strcasecmp(v, "off") == 0) {
		*out = l;
		return 0;
	}
	if (v[0] == '\0' || v[strlen(v) - 1] == ',')
		return -1; /* an empty item */
	while (*p != '\0') {
		if (l.count == PO_LISTEN_MAX)
			return -1;
		if (next_item(&p, item, sizeof(item)) != 0 ||
		    parse_addr(item, &l.addr[l.count]) != 0)
			return -1;
		l.count++;
	}
	if (l.count == 0)
		return -1;
	*out = l;
	return 0;
}

static int parse_enum(const char *v, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(v, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* Store a number of kind k at p after the bounds check. */
static int set_number(const struct cfg_key *k, void *p, const char *v)
{
	uint64_t n;

	if (parse_u64(v, k->min, k->max, &n) != 0)
		return -1;
	if (k->kind == CFG_UINT)
		*(unsigned *)p = (unsigned)n;
	else if (k->kind == CFG_SIZE)
		*(size_t *)p = (size_t)n;
	else
		*(uint64_t *)p = n;
	return 0;
}

static int set_value(const struct cfg_key *k, void *p, const char *v)
{
	static const char *const pt[] = {"no", "loopback", "yes"};
	static const char *const lv[] = {"debug", "info", "warn"};
	int e;

	switch (k->kind) {
	case CFG_STR:
		if (strlen(v) >= k->size || memchr(v, '\n', strlen(v)))
			return -1;
		memcpy(p, v, strlen(v) + 1);
		return 0;
	case CFG_LISTEN:
		return parse_listen(v, p);
	case CFG_BOOL:
		return parse_bool(v, p);
	case CFG_PLAINTEXT:
		if ((e = parse_enum(v, pt, 3)) < 0)
			return -1;
		*(enum po_plaintext *)p = (enum po_plaintext)e;
		return 0;
	case CFG_LOGLEVEL:
		if ((e = parse_enum(v, lv, 3)) < 0)
			return -1;
		*(int *)p = e;
		return 0;
	default:
		return set_number(k, p, v);
	}
}

/* What a good value of kind k looks like, for error messages. */
static const char *kind_hint(const struct cfg_key *k)
{
	static char buf[96];

	switch (k->kind) {
	case CFG_STR:
		return "a string without line breaks, not too long";
	case CFG_LISTEN:
		return "off, or a list of ADDR:PORT / [V6ADDR]:PORT (at most "
		       "8)";
	case CFG_BOOL:
		return "on/off, yes/no or true/false";
	case CFG_PLAINTEXT:
		return "no, loopback or yes";
	case CFG_LOGLEVEL:
		return "debug, info or warn";
	default:
		snprintf(buf, sizeof(buf), "a number from %llu to %llu",
		         (unsigned long long)k->min,
		         (unsigned long long)k->max);
		return buf;
	}
}

int config_set(struct po_config *cfg, const char *key, const char *value,
               const char **error_r)
{
	const struct cfg_key *k = cfg_find(key);

	if (k == NULL) {
		*error_r = cfg_fail("unknown key \"%s\"", key);
		return -1;
	}
	if (set_value(k, (char *)cfg + k->offset, value) != 0) {
		*error_r = cfg_fail("bad value for %s: expected %s", key,
		                    kind_hint(k));
		return -1;
	}
	return 0;
}

struct cfg_parse {
	struct po_config *cfg;
	char error[1024];
	bool failed;
};

/* inih's callback: one key = value line.  Returns 1 to go on, 0 to report
 * an error on this line (inih returns the first such line number). */
static int cfg_handler(void *user, const char *section, const char *name,
                       const char *value)
{
	struct cfg_parse *p = user;
	const char *err;

	if (section[0] != '\0') {
		err = cfg_fail("sections are not used (found [%s])", section);
	} else if (config_set(p->cfg, name, value, &err) == 0) {
		return 1;
	}
	if (!p->failed) {
		snprintf(p->error, sizeof(p->error), "%s", err);
		p->failed = true;
	}
	return 0;
}

/* Read path into cfg; on failure fill cfg_error with "path:line: reason". */
static int config_read(struct po_config *cfg, const char *path)
{
	struct cfg_parse p = {.cfg = cfg};
	int r = ini_parse(path, cfg_handler, &p);

	if (r == 0)
		return 0;
	if (r < 0) {
		snprintf(cfg_error, sizeof(cfg_error), "%s: %s", path,
		         r == -1 ? strerror(errno) : "out of memory");
	} else if (p.failed) {
		snprintf(cfg_error, sizeof(cfg_error), "%s:%d: %s", path, r,
		         p.error);
	} else {
		snprintf(cfg_error, sizeof(cfg_error),
		         "%s:%d: syntax error (expected key = value)", path, r);
	}
	return -1;
}

/* Apply one "key=value" override. */
static int config_override(struct po_config *cfg, const char *kv)
{
	char key[64];
	const char *eq = strchr(kv, '='), *err;
	size_t n;

	if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		cfg_fail("-o %s: expected key=value", kv);
		return -1;
	}
	n = (size_t)(eq - kv);
	memcpy(key, kv, n);
	key[n] = '\0';
	if (config_set(cfg, key, eq + 1, &err) != 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", err);
		cfg_fail("-o %s: %s", key, msg);
		return -1;
	}
	return 0;
}

int config_load(struct po_config *cfg, const char *path,
                const char *const *overrides, size_t n_overrides,
                const char **error_r)
{
	size_t i;

	config_defaults(cfg);
	if (path != NULL && config_read(cfg, path) != 0) {
		*error_r = cfg_error;
		return -1;
	}
	for (i = 0; i < n_overrides; i++) {
		if (config_override(cfg, overrides[i]) != 0) {
			*error_r = cfg_error;
			return -1;
		}
	}
	if (cfg->tls_cert[0] != '\0' && cfg->tls_key[0] == '\0') {
		*error_r = cfg_fail("tls_cert is set but tls_key is not");
		return -1;
	}
	return 0;
}
