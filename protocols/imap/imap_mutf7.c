/*
 * Mailbox names between the client and the store: modified UTF-7 (RFC 3501
 * §5.1.3, still what IMAP4rev2 clients send unless UTF8=ACCEPT is on, RFC
 * 9051 §5.1) to UTF-8 and back, strict UTF-8 validation (RFC 3629), and the
 * checks a name a client typed must pass before it reaches the store, each
 * with a reason the client can read.  Pure functions; no store access
 * beyond store_mailbox_name_valid (itself pure).
 *
 * The decoder accepts only the canonical spelling: the one the encoder
 * produces.  RFC 3501 §5.1.3 forbids base64 for printable ASCII and null
 * shifts ("-&" inside base64), and a name has exactly one spelling, so
 * "&AGE-" (an "a") or "&AOQ-&AOQ-" are refused rather than silently made
 * to name the same mailbox as "a" or "&AOQA5A-".
 */
#include "imap_private.h"

#include <string.h>
#include <strings.h>

/* Modified base64 (RFC 3501 §5.1.3): "," instead of "/", no padding. */
static const char b64_chars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

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
	if (c == ',')
		return 63;
	return -1;
}

static void utf8_put(struct po_buf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	po_buf_add(out, b, n);
}

/*
 * Read one code point of strict UTF-8 (RFC 3629 §4: no overlong forms, no
 * surrogates, nothing past U+10FFFF) at in[*i], advancing *i.  Returns the
 * code point or -1.
 */
static int32_t utf8_get(const unsigned char *in, size_t len, size_t *i)
{
	unsigned char c = in[*i];
	uint32_t cp, min;
	size_t n;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (len - *i <= n)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		unsigned char cc = in[*i + k];

		if ((cc & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (cc & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return (int32_t)cp;
}

bool imap_utf8_valid(const char *in, size_t len)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0;

	while (i < len) {
		if (utf8_get(u, len, &i) < 0)
			return false;
	}
	return true;
}

/* A modified base64 run being written (imap_mutf7_encode). */
struct b64_writer {
	bool open;
	uint32_t bits;
	unsigned nbits;
};

static void b64_unit(struct b64_writer *w, struct po_buf *out, uint16_t unit)
{
	if (!w->open) {
		po_buf_add(out, "&", 1);
		w->open = true;
	}
	w->bits = (w->bits << 16) | unit;
	w->nbits += 16;
	while (w->nbits >= 6) {
		w->nbits -= 6;
		po_buf_add(out, &b64_chars[(w->bits >> w->nbits) & 0x3f], 1);
	}
	w->bits &= (1u << w->nbits) - 1;
}

/* End the run: the last bits padded with zero bits, then "-". */
static void b64_close(struct b64_writer *w, struct po_buf *out)
{
	if (!w->open)
		return;
	if (w->nbits > 0)
		po_buf_add(out, &b64_chars[(w->bits << (6 - w->nbits)) & 0x3f],
		           1);
	po_buf_add(out, "-", 1);
	w->open = false;
	w->bits = 0;
	w->nbits = 0;
}

void imap_mutf7_encode(const char *in, size_t len, struct po_buf *out)
{
	const unsigned char *u = (const unsigned char *)in;
	struct b64_writer w = {false, 0, 0};
	size_t i = 0;

	while (i < len) {
		int32_t cp = utf8_get(u, len, &i);

		if (cp < 0) {
			/* Contract: in is valid UTF-8.  Skip a bad byte
			 * rather than loop forever. */
			i++;
			continue;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			b64_close(&w, out);
			if (cp == '&')
				po_buf_add(out, "&-", 2);
			else
				po_buf_add(out, &u[i - 1], 1);
		} else if (cp >= 0x10000) {
			uint32_t v = (uint32_t)cp - 0x10000;

			b64_unit(&w, out, (uint16_t)(0xd800 | (v >> 10)));
			b64_unit(&w, out, (uint16_t)(0xdc00 | (v & 0x3ff)));
		} else {
			b64_unit(&w, out, (uint16_t)cp);
		}
	}
	b64_close(&w, out);
}

/*
 * Decode one base64 run starting after its "&" at in[*i], up to and
 * including its "-", appending UTF-8 to out.  Refuses bad base64, an
 * unterminated run, leftover bits that are not zero padding (or a whole
 * spare character), lone or reversed surrogates, U+0000 and printable
 * ASCII (which must represent itself).
 */
static int b64_decode_run(const char *in, size_t len, size_t *i,
                          struct po_buf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t n = 0;

	for (;;) {
		int v;

		if (*i >= len)
			return -1; /* no "-": a name must end in US-ASCII */
		if (in[*i] == '-')
			break;
		v = b64_value((unsigned char)in[*i]);
		if (v < 0)
			return -1;
		(*i)++;
		n++;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;

		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			utf8_put(out, 0x10000 + ((high - 0xd800) << 10) +
			                      (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;
		} else if (unit == 0 || (unit >= 0x20 && unit <= 0x7e)) {
			return -1;
		} else {
			utf8_put(out, unit);
		}
	}
	(*i)++; /* the "-" */
	/* "&-" is handled by the caller; an empty run never gets here.
	 * Padding: fewer than 6 bits, all zero. */
	if (n == 0 || high != 0 || nbits >= 6 || bits != 0)
		return -1;
	return 0;
}

int imap_mutf7_decode(const char *in, size_t len, struct po_buf *out)
{
	size_t start = out->len, i = 0;
	struct po_buf check = PO_BUF_INIT;
	bool ok;

	if (len == 0)
		return 0;
	while (i < len) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x20 || c > 0x7e)
			goto fail;
		if (c != '&') {
			po_buf_add(out, &in[i], 1);
			i++;
			continue;
		}
		i++;
		if (i < len && in[i] == '-') {
			po_buf_add(out, "&", 1);
			i++;
			continue;
		}
		if (b64_decode_run(in, len, &i, out) < 0)
			goto fail;
	}
	/* One spelling per name: what we decoded must encode back to
	 * exactly the input (this refuses null shifts such as "&AOQ-&AOQ-"
	 * that the run decoder alone would take). */
	imap_mutf7_encode(out->data + start, out->len - start, &check);
	ok = check.len == len && memcmp(check.data, in, len) == 0;
	po_buf_deinit(&check);
	if (ok)
		return 0;
fail:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}

/*
 * Check the name's levels with a reason for each refusal (the store's own
 * check, store_mailbox_name_valid, follows and has the last word).
 */
static int check_levels(const char *name, size_t len, const char **error_r)
{
	size_t depth = 0, start = 0;

	if (len == 0) {
		*error_r = "Empty mailbox name";
		return -1;
	}
	if (len > STORE_MAILBOX_NAME_MAX) {
		*error_r = "Mailbox name too long";
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		size_t n;

		if (i < len && name[i] != '/') {
			unsigned char c = (unsigned char)name[i];

			if (c < 0x20 || c == 0x7f) {
				*error_r = "Mailbox name contains a control "
				           "character";
				return -1;
			}
			continue;
		}
		n = i - start;
		if (n == 0) {
			*error_r = "Mailbox name has an empty level (leading, "
			           "trailing or doubled \"/\")";
			return -1;
		}
		if ((n == 1 && name[start] == '.') ||
		    (n == 2 && name[start] == '.' && name[start + 1] == '.')) {
			*error_r = "Mailbox name has a \".\" or \"..\" level";
			return -1;
		}
		if (start == 0 && name[0] == '~') {
			/* RFC 9051 §5.1: "~" leads other users' namespaces
			 * on many servers; we have none and refuse it. */
			*error_r = "Mailbox name may not start with \"~\"";
			return -1;
		}
		if (++depth > STORE_MAILBOX_DEPTH_MAX) {
			*error_r = "Mailbox name has too many levels";
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

int imap_mailbox_from_client(const struct imap_session *s, const char *name,
                             size_t len, struct po_buf *out,
                             const char **error_r)
{
	size_t start = out->len;
	bool raw = s->enabled_utf8;
	const char *p;

	*error_r = NULL;
	if (memchr(name, '\0', len) != NULL) {
		*error_r = "Mailbox name contains NUL";
		return -1;
	}
	/* Bound the work before decoding: base64 never shrinks a name by
	 * more than a factor of 8/3. */
	if (len > 4 * STORE_MAILBOX_NAME_MAX) {
		*error_r = "Mailbox name too long";
		return -1;
	}
	for (size_t i = 0; i < len && !raw; i++) {
		/* 8-bit bytes are never modified UTF-7: the client sent
		 * UTF-8 (RFC 6855 §3 lets a server accept it). */
		if ((unsigned char)name[i] >= 0x80)
			raw = true;
	}
	if (raw) {
		if (!imap_utf8_valid(name, len)) {
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		po_buf_add(out, name, len);
	} else if (imap_mutf7_decode(name, len, out) < 0) {
		*error_r = "Mailbox name is not in canonical modified UTF-7 "
		           "(RFC 3501 section 5.1.3)";
		return -1;
	}
	/* RFC 9051 §5.1: INBOX is case-insensitive, also as the first level
	 * of its children. */
	p = out->data + start;
	if (out->len - start >= 5 && strncasecmp(p, "INBOX", 5) == 0 &&
	    (out->len - start == 5 || p[5] == '/'))
		memcpy(out->data + start, "INBOX", 5);
	if (check_levels(out->data + start, out->len - start, error_r) < 0 ||
	    memchr(out->data + start, '\0', out->len - start) != NULL)
		goto fail;
	if (!store_mailbox_name_valid(out->data + start)) {
		*error_r = "Invalid mailbox name";
		goto fail;
	}
	return 0;
fail:
	if (*error_r == NULL)
		*error_r = "Invalid mailbox name";
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}
