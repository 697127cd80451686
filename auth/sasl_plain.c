/*
 * Decoding of the SASL PLAIN mechanism's one message (RFC 4616 §2):
 *
 *     message = [authzid] UTF8NUL authcid UTF8NUL passwd
 *
 * as the protocols carry it, in base64 (RFC 4648 §4).  The decoder is
 * strict: only the base64 alphabet, length a multiple of four, at most two
 * '=' and only at the end, and zero padding bits (RFC 4648 §3.5), so one
 * message has exactly one encoding.  Whether the authcid may act as the
 * authzid, and checking the password, are left to the caller.
 */
#include "auth_private.h"

#include <errno.h>
#include <string.h>

/* The longest message we accept: three parts of AUTH_PASSWORD_MAX bytes
 * and two NULs.  Anything longer has a part that is too long. */
#define SASL_PLAIN_MAX (3 * AUTH_PASSWORD_MAX + 2)

/* Value of one base64 digit, or -1 if c is not one. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode one group of four characters (the last one may end in "=" or
 * "==") into out.  Returns how many bytes it gave (1..3), or -1.
 */
static int b64_quad(const char *in, bool last, unsigned char *out)
{
	int v[4], pad = 0;

	for (int i = 0; i < 4; i++) {
		if (in[i] == '=' && last && i >= 2) {
			v[i] = 0;
			pad++;
			continue;
		}
		/* A digit after a '=' ("a=b=") is not padding. */
		if (pad > 0)
			return -1;
		v[i] = b64_value((unsigned char)in[i]);
		if (v[i] < 0)
			return -1;
	}
	/* Padding bits must be zero so one message has one encoding. */
	if ((pad == 2 && (v[1] & 0x0f) != 0) || (pad == 1 && (v[2] & 0x03)))
		return -1;
	out[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	out[1] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
	out[2] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	return 3 - pad;
}

/* Decode b64 into out (SASL_PLAIN_MAX bytes).  Returns the decoded length,
 * or -1 if the input is not strict base64 or decodes too long. */
static int b64_decode(const char *b64, size_t len, unsigned char *out)
{
	size_t n = 0;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > SASL_PLAIN_MAX + 2)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		unsigned char q[3];
		int got = b64_quad(b64 + i, i + 4 == len, q);

		if (got < 0 || n + (size_t)got > SASL_PLAIN_MAX)
			return -1;
		memcpy(out + n, q, (size_t)got);
		n += (size_t)got;
	}
	return (int)n;
}

/* Copy the part [start, end) into out (AUTH_PASSWORD_MAX + 1 bytes) as a
 * C string.  Returns -1 if it is too long. */
static int copy_part(const unsigned char *start, const unsigned char *end,
                     char *out)
{
	size_t n = (size_t)(end - start);

	if (n > AUTH_PASSWORD_MAX)
		return -1;
	memcpy(out, start, n);
	out[n] = '\0';
	return 0;
}

/* Split msg at its NULs into the three parts.  Returns 0 or -EINVAL. */
static int split_parts(const unsigned char *msg, size_t n, char *authzid,
                       char *authcid, char *passwd)
{
	const unsigned char *end = msg + n, *nul1, *nul2;

	nul1 = memchr(msg, '\0', n);
	if (nul1 == NULL)
		return -EINVAL;
	nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1));
	/* Exactly two separators: a third NUL would end up inside passwd. */
	if (nul2 == NULL ||
	    memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) != NULL)
		return -EINVAL;
	/* RFC 4616 §2: authcid and passwd are 1*SAFE, authzid optional. */
	if (nul2 == nul1 + 1 || nul2 + 1 == end)
		return -EINVAL;
	if (copy_part(msg, nul1, authzid) < 0 ||
	    copy_part(nul1 + 1, nul2, authcid) < 0 ||
	    copy_part(nul2 + 1, end, passwd) < 0)
		return -EINVAL;
	return 0;
}

int sasl_plain_decode(const char *b64, size_t len, char *authzid, char *authcid,
                      char *passwd)
{
	unsigned char msg[SASL_PLAIN_MAX];
	int n, ret;

	authzid[0] = authcid[0] = passwd[0] = '\0';
	n = b64_decode(b64, len, msg);
	if (n < 0) {
		explicit_bzero(msg, sizeof msg);
		return -EINVAL;
	}
	ret = split_parts(msg, (size_t)n, authzid, authcid, passwd);
	if (ret < 0)
		authzid[0] = authcid[0] = passwd[0] = '\0';
	/* The decoded message holds the password. */
	explicit_bzero(msg, sizeof msg);
	if (ret < 0)
		explicit_bzero(passwd, AUTH_PASSWORD_MAX + 1);
	return ret;
}
