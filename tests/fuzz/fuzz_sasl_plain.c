/*
 * Fuzz the SASL PLAIN decoder (auth/sasl_plain.c, RFC 4616 §2 in base64).
 * The three output buffers are exactly AUTH_PASSWORD_MAX + 1 bytes on the
 * heap.  Since the decoder is strict (one message has one encoding), an
 * accepted input must be exactly the base64 of authzid NUL authcid NUL
 * passwd; a refused one must leave all three empty.
 */
#include "fuzz.h"

#include <string.h>

#include "auth.h"
#include "util.h"

static const char b64_digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Append the base64 (RFC 4648 §4, padded) of in[0..n) to out. */
static void b64_encode(const unsigned char *in, size_t n, struct po_buf *out)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		q[0] = b64_digits[v >> 18 & 63];
		q[1] = b64_digits[v >> 12 & 63];
		q[2] = i + 1 < n ? b64_digits[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? b64_digits[v & 63] : '=';
		po_buf_add(out, q, 4);
	}
}

static void check_accepted(const char *b64, size_t len, const char *authzid,
                           const char *authcid, const char *passwd)
{
	struct po_buf msg = PO_BUF_INIT, enc = PO_BUF_INIT;

	FUZZ_CHECK(strlen(authzid) <= AUTH_PASSWORD_MAX);
	FUZZ_CHECK(strlen(authcid) >= 1 &&
	           strlen(authcid) <= AUTH_PASSWORD_MAX);
	FUZZ_CHECK(strlen(passwd) >= 1 && strlen(passwd) <= AUTH_PASSWORD_MAX);
	po_buf_add(&msg, authzid, strlen(authzid) + 1);
	po_buf_add(&msg, authcid, strlen(authcid) + 1);
	po_buf_add_str(&msg, passwd);
	b64_encode((const unsigned char *)msg.data, msg.len, &enc);
	FUZZ_CHECK(enc.len == len && memcmp(enc.data, b64, len) == 0);
	po_buf_deinit(&msg);
	po_buf_deinit(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *authzid = malloc(AUTH_PASSWORD_MAX + 1);
	char *authcid = malloc(AUTH_PASSWORD_MAX + 1);
	char *passwd = malloc(AUTH_PASSWORD_MAX + 1);
	const char *b64 = (const char *)data;

	FUZZ_CHECK(authzid != NULL && authcid != NULL && passwd != NULL);
	if (sasl_plain_decode(b64, size, authzid, authcid, passwd) == 0) {
		check_accepted(b64, size, authzid, authcid, passwd);
	} else {
		FUZZ_CHECK(authzid[0] == '\0' && authcid[0] == '\0' &&
		           passwd[0] == '\0');
	}
	free(authzid);
	free(authcid);
	free(passwd);
	return 0;
}
