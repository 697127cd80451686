/*
 * The content-transfer decoders FETCH BINARY needs (RFC 3516; RFC 2045
 * §6.7 quoted-printable and §6.8 base64), line-end normalisation for
 * decoded text, and the header subsetting of BODY[HEADER.FIELDS (...)] and
 * BODY[HEADER.FIELDS.NOT (...)] (RFC 9051 §6.4.5.1).  Pure functions over
 * memory; the caller bounds the input (one body part of one message, at
 * most the message size limit).
 */
#include "imap_fetch.h"

#include <string.h>
#include <strings.h>

/* Append what is pending in a small stack buffer; keeps the per-byte loops
 * from calling into po_buf for every byte. */
struct sink {
	struct po_buf *out;
	char buf[4096];
	size_t n;
	int err;
};

static void sink_flush(struct sink *k)
{
	if (k->n > 0 && k->err == 0 && po_buf_try_add(k->out, k->buf, k->n) < 0)
		k->err = -1;
	k->n = 0;
}

static void sink_put(struct sink *k, char c)
{
	if (k->n == sizeof(k->buf))
		sink_flush(k);
	k->buf[k->n++] = c;
}

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

int imap_base64_decode(const char *in, size_t len, struct po_buf *out)
{
	struct sink k = {.out = out};
	uint32_t acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < len; i++) {
		int v;

		/* RFC 2045 §6.8: "=" is padding and so marks the end; every
		 * character outside the alphabet is ignored. */
		if (in[i] == '=')
			break;
		v = b64_value((unsigned char)in[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sink_put(&k, (char)((acc >> bits) & 0xff));
		}
	}
	/* Fewer than 8 leftover bits are the zero padding of the last
	 * group (or junk from a truncated one): no byte. */
	sink_flush(&k);
	return k.err;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The end of the line starting at i: the index of its CR or LF, or len. */
static size_t line_end(const char *in, size_t len, size_t i)
{
	while (i < len && in[i] != '\r' && in[i] != '\n')
		i++;
	return i;
}

/* Length of the line break at i (CRLF 2, lone CR or LF 1, none 0). */
static size_t break_len(const char *in, size_t len, size_t i)
{
	if (i >= len)
		return 0;
	if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
		return 2;
	return 1;
}

/* Decode one line of quoted-printable, in[i..e) without its line break.
 * Returns true when it ends in a soft line break. */
static bool qp_line(struct sink *k, const char *in, size_t i, size_t e)
{
	/* RFC 2045 §6.7 rule 3: trailing white space is transport padding
	 * and must be deleted. */
	while (e > i && (in[e - 1] == ' ' || in[e - 1] == '\t'))
		e--;
	while (i < e) {
		int hi, lo;

		if (in[i] != '=') {
			sink_put(k, in[i++]);
			continue;
		}
		if (i + 1 == e)
			return true; /* rule 5: "=" at the end, soft break */
		hi = hex_value((unsigned char)in[i + 1]);
		lo = i + 2 < e ? hex_value((unsigned char)in[i + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			sink_put(k, (char)(hi << 4 | lo));
			i += 3;
		} else {
			/* §6.7 note (2): keep a malformed "=" as it is. */
			sink_put(k, in[i++]);
		}
	}
	return false;
}

int imap_qp_decode(const char *in, size_t len, struct po_buf *out)
{
	struct sink k = {.out = out};
	size_t i = 0;

	while (i < len) {
		size_t e = line_end(in, len, i);
		size_t b = break_len(in, len, e);
		bool soft = qp_line(&k, in, i, e);

		/* A hard line break is CRLF in the decoded text, however the
		 * encoded line ended (RFC 2045 §6.7 rule 4). */
		if (b > 0 && !soft) {
			sink_put(&k, '\r');
			sink_put(&k, '\n');
		}
		i = e + b;
	}
	sink_flush(&k);
	return k.err;
}

int imap_crlf_normalize(const char *in, size_t len, struct po_buf *out)
{
	struct sink k = {.out = out};

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			sink_put(&k, '\r');
			sink_put(&k, '\n');
		} else {
			sink_put(&k, in[i]);
		}
	}
	sink_flush(&k);
	return k.err;
}

/* Is the field starting at hdr[0..n) (its first line) named one of
 * names?  The name runs to the ":", without white space before it (RFC
 * 5322 §4.5.3 obsolete syntax allows "Subject :"). */
static bool field_matches(const char *hdr, size_t n, char *const *names,
                          size_t n_names)
{
	const char *colon = memchr(hdr, ':', line_end(hdr, n, 0));
	size_t nl;

	if (colon == NULL)
		return false;
	nl = (size_t)(colon - hdr);
	while (nl > 0 && (hdr[nl - 1] == ' ' || hdr[nl - 1] == '\t'))
		nl--;
	if (nl == 0)
		return false;
	for (size_t i = 0; i < n_names; i++) {
		if (strlen(names[i]) == nl &&
		    strncasecmp(names[i], hdr, nl) == 0)
			return true;
	}
	return false;
}

/* The end of the field starting at i: past its line break and every
 * continuation line (starting with SP or HTAB). */
static size_t field_end(const char *hdr, size_t len, size_t i)
{
	do {
		size_t e = line_end(hdr, len, i);

		i = e + break_len(hdr, len, e);
	} while (i < len && (hdr[i] == ' ' || hdr[i] == '\t'));
	return i;
}

int imap_header_filter(const char *hdr, size_t len, char *const *names,
                       size_t n_names, bool not_, struct po_buf *out)
{
	size_t i = 0;

	while (i < len) {
		size_t e;

		/* An empty line ends the header; it is part of every header
		 * fetch (RFC 9051 §6.4.5.1), subset or not. */
		if (hdr[i] == '\r' || hdr[i] == '\n')
			return po_buf_try_add(out, "\r\n", 2) < 0 ? -1 : 0;
		e = field_end(hdr, len, i);
		if (field_matches(hdr + i, e - i, names, n_names) != not_ &&
		    po_buf_try_add(out, hdr + i, e - i) < 0)
			return -1;
		i = e;
	}
	return 0;
}
