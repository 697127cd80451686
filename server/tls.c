/*
 * TLS with GnuTLS over libuv streams.  GnuTLS never touches the socket: its
 * pull function reads ciphertext that the read callback stored in
 * c->tls_in, and its push function appends ciphertext to c->tls_out, which
 * conn_output.c writes with uv_write.  Used for implicit-TLS listeners
 * (handshake before the greeting) and for in-band upgrades (STLS,
 * STARTTLS: RFC 2595 §3.1, RFC 3207 §4.2), where everything the client
 * pipelined after the command is discarded.  Credentials are reference
 * counted so a reload (SIGHUP) never pulls them from under a live session.
 */
#include "srv_private.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TLS_RECORD_MAX 16384

int tls__creds_load(const char *cert, const char *key,
                    struct tls_creds **creds_r, const char **error_r)
{
	static char err[1536];
	struct tls_creds *cr = xcalloc(1, sizeof(*cr));
	int r = gnutls_certificate_allocate_credentials(&cr->cred);

	if (r == 0)
		r = gnutls_certificate_set_x509_key_file(cr->cred, cert, key,
		                                         GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		snprintf(err, sizeof(err), "tls_cert %s / tls_key %s: %s", cert,
		         key, gnutls_strerror(r));
		*error_r = err;
		if (cr->cred != NULL)
			gnutls_certificate_free_credentials(cr->cred);
		free(cr);
		return -1;
	}
	cr->refs = 1;
	*creds_r = cr;
	return 0;
}

void tls__creds_ref(struct tls_creds *cr)
{
	cr->refs++;
}

void tls__creds_unref(struct tls_creds **crp)
{
	struct tls_creds *cr = *crp;

	*crp = NULL;
	if (cr == NULL || --cr->refs > 0)
		return;
	gnutls_certificate_free_credentials(cr->cred);
	free(cr);
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct po_conn *c = p;

	po_buf_add(&c->tls_out, data, len);
	return (ssize_t)len;
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct po_conn *c = p;

	if (c->tls_in.len == 0) {
		gnutls_transport_set_errno(c->tls, EAGAIN);
		return -1;
	}
	if (len > c->tls_in.len)
		len = c->tls_in.len;
	memcpy(data, c->tls_in.data, len);
	po_buf_consume(&c->tls_in, len);
	po_buf_trim(&c->tls_in, SRV_BUF_KEEP);
	return (ssize_t)len;
}

int tls__start(struct po_conn *c)
{
	if (c->srv->creds == NULL)
		return -1;
	if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
		c->tls = NULL;
		return -1;
	}
	c->creds = c->srv->creds;
	tls__creds_ref(c->creds);
	if (gnutls_set_default_priority(c->tls) < 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
	                           c->creds->cred) < 0)
		return -1;
	gnutls_transport_set_ptr(c->tls, c);
	gnutls_transport_set_push_function(c->tls, tls_push);
	gnutls_transport_set_pull_function(c->tls, tls_pull);
	c->tls_on = true;
	c->handshaking = true;
	po_buf_reset(&c->tls_in);
	conn__touch(c); /* the handshake gets prelogin_timeout */
	conn__update_reading(c);
	return 0;
}

static void tls_established(struct po_conn *c)
{
	c->handshaking = false;
	conn_log(c, LOG_INFO, "tls version=%s cipher=%s",
	         gnutls_protocol_get_name(gnutls_protocol_get_version(c->tls)),
	         gnutls_cipher_get_name(gnutls_cipher_get(c->tls)));
	conn__touch(c);
	if (!c->started)
		conn__start(c);
	else if (c->proto->on_tls_ready != NULL)
		c->proto->on_tls_ready(c);
}

/* Advance the handshake.  Returns true when application data may follow. */
static bool tls_handshake_step(struct po_conn *c)
{
	int r = gnutls_handshake(c->tls);

	conn__flush(c);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return false;
	if (r < 0) {
		conn_log(c, LOG_INFO, "tls handshake failed error=\"%s\"",
		         gnutls_strerror(r));
		conn__close(c, PO_CLOSE_ERROR);
		return false;
	}
	tls_established(c);
	return !c->closing;
}

/* Decrypt every complete record in tls_in into c->in. */
static int tls_decrypt(struct po_conn *c)
{
	char buf[TLS_RECORD_MAX];
	ssize_t r;

	for (;;) {
		r = gnutls_record_recv(c->tls, buf, sizeof(buf));
		if (r > 0) {
			po_buf_add(&c->in, buf, (size_t)r);
			continue;
		}
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return 0;
		if (r == 0) {
			conn__close(c, PO_CLOSE_CLIENT);
			return -1;
		}
		if (gnutls_error_is_fatal((int)r)) {
			conn_log(c, LOG_INFO, "tls error=\"%s\"",
			         gnutls_strerror((int)r));
			conn__close(c, PO_CLOSE_ERROR);
			return -1;
		}
	}
}

void tls__input(struct po_conn *c, const char *data, size_t len)
{
	po_buf_add(&c->tls_in, data, len);
	if (c->handshaking && !tls_handshake_step(c))
		return;
	if (tls_decrypt(c) == 0)
		conn__input(c, NULL, 0);
}

int tls__encrypt(struct po_conn *c, const char *data, size_t len)
{
	size_t off = 0, n;
	ssize_t r;

	while (off < len) {
		n = len - off < TLS_RECORD_MAX ? len - off : TLS_RECORD_MAX;
		r = gnutls_record_send(c->tls, data + off, n);
		if (r <= 0)
			return -1; /* the memory push never says EAGAIN */
		off += (size_t)r;
	}
	return 0;
}

void tls__deinit(struct po_conn *c)
{
	if (c->tls != NULL)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	tls__creds_unref(&c->creds);
}

int conn_starttls(struct po_conn *c)
{
	if (c->srv->creds == NULL || c->tls_on || c->starttls_pending)
		return -ENOTSUP;
	c->starttls_pending = true;
	conn_log(c, LOG_DEBUG, "starttls");
	conn__schedule_input(c);
	return 0;
}
