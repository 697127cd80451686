/*
 * The daemon's configuration: one flat INI file of key = value lines (read
 * with inih), each key overridable on the command line with -o key=value.
 * etc/postoffice.conf documents every key and its default.  Protocol
 * modules read the parsed values through conn_env(c)->config.
 */
#ifndef PO_CONFIG_H
#define PO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most addresses one *_listen key may list. */
#define PO_LISTEN_MAX 8

/* Where a listener binds.  host is a numeric IPv4 or IPv6 address. */
struct po_listen_addr {
	char host[64];
	uint16_t port;
};

/* One *_listen key: "off", or a comma-separated list of ADDR:PORT, with IPv6
 * addresses in brackets ("127.0.0.1:1110, [::1]:1110"). */
struct po_listen {
	size_t count; /* 0: the listener is off */
	struct po_listen_addr addr[PO_LISTEN_MAX];
};

/* plaintext_auth: when USER/PASS, AUTH PLAIN and LOGIN may run without TLS. */
enum po_plaintext {
	PO_PLAINTEXT_NO,       /* never */
	PO_PLAINTEXT_LOOPBACK, /* only for clients on 127.0.0.0/8 or ::1 */
	PO_PLAINTEXT_YES,      /* always (not recommended) */
};

struct po_config {
	char data_dir[1024]; /* data_dir = ./var */
	char hostname[256];  /* hostname = (gethostname()) */
	char run_user[64];   /* user = (empty: do not drop privileges) */
	char tls_cert[1024]; /* tls_cert = (empty: no TLS) PEM file */
	char tls_key[1024];  /* tls_key = PEM file */
	struct po_listen imap_listen;     /* imap_listen = 127.0.0.1:1143 */
	struct po_listen imaps_listen;    /* imaps_listen = 127.0.0.1:1993 */
	struct po_listen pop3_listen;     /* pop3_listen = 127.0.0.1:1110 */
	struct po_listen pop3s_listen;    /* pop3s_listen = 127.0.0.1:1995 */
	struct po_listen lmtp_listen;     /* lmtp_listen = 127.0.0.1:2424 */
	enum po_plaintext plaintext_auth; /* plaintext_auth = loopback */
	bool pop_default;                 /* pop_default = off */
	bool imap_default;                /* imap_default = on */
	unsigned max_connections;         /* max_connections = 10000 */
	unsigned max_connections_per_ip;  /* max_connections_per_ip = 100 */
	size_t max_line_length;           /* max_line_length = 8192 */
	uint64_t max_message_size;        /* max_message_size = 52428800 */
	unsigned prelogin_timeout;        /* prelogin_timeout = 60 (seconds) */
	unsigned idle_timeout;            /* idle_timeout = 1800 (seconds) */
	unsigned max_bad_commands;        /* max_bad_commands = 10 */
	unsigned auth_fail_delay_ms;      /* auth_fail_delay_ms = 2000 */
	unsigned auth_cache_size;         /* auth_cache_size = 10000 */
	unsigned auth_cache_ttl;          /* auth_cache_ttl = 3600 (seconds) */
	size_t output_buffer_max;         /* output_buffer_max = 262144 */
	unsigned worker_threads;          /* worker_threads = 4 */
	int log_level; /* log_level = info (debug|info|warn) */
};

/*
 * Fill *cfg with defaults, then read path (NULL: defaults only), then apply
 * each "key=value" of overrides[0..n_overrides).  Returns 0, or -1 with a
 * message naming the file, line and key in *error_r (a static buffer, valid
 * until the next call).  Unknown keys and bad values are errors.
 */
int config_load(struct po_config *cfg, const char *path,
                const char *const *overrides, size_t n_overrides,
                const char **error_r);

/* Apply one key and value to *cfg.  Returns 0, or -1 with *error_r set. */
int config_set(struct po_config *cfg, const char *key, const char *value,
               const char **error_r);

#endif
