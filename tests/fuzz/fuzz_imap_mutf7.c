/*
 * Fuzz mailbox names (protocols/imap/imap_mutf7.c): imap_mutf7_decode,
 * imap_mutf7_encode, imap_utf8_valid and imap_mailbox_from_client.
 *
 * Checks (RFC 3501 §5.1.3, RFC 3629 §4):
 * - decode(x) succeeds => the result is valid UTF-8 without NUL and
 *   encode(decode(x)) == x (only the canonical spelling is accepted);
 *   printable ASCII without "&" always decodes to itself; a failed decode
 *   leaves what the buffer held before.
 * - x valid UTF-8 => encode(x) is printable ASCII, and decode(encode(x))
 *   == x exactly when x holds no NUL (U+0000 is refused by design).
 * - imap_utf8_valid agrees with a table-free reference written from the
 *   ABNF of RFC 3629 §4.
 * - imap_mailbox_from_client (UTF8=ACCEPT off and on) accepts only names
 *   that are valid UTF-8, NUL-free, NUL-terminated in the buffer and
 *   store_mailbox_name_valid; a refusal has a reason and appends nothing.
 * store_mailbox_name_valid comes from the real po_storage library.
 */
#include "fuzz.h"

#include <string.h>

#include "imap_private.h"
#include "store.h"
#include "util.h"

/* RFC 3629 §4:
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail ) */
static bool ref_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t n;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (len - i <= n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++) {
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		}
		i += n + 1;
	}
	return true;
}

static bool printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

static void check_decode(const char *x, size_t len)
{
	struct po_buf out = PO_BUF_INIT, enc = PO_BUF_INIT;
	bool plain = printable_ascii(x, len) && memchr(x, '&', len) == NULL;

	/* Something already in the buffer stays (decode appends). */
	po_buf_add(&out, "pre", 3);
	if (imap_mutf7_decode(x, len, &out) == 0) {
		const char *d = out.data + 3;
		size_t dlen = out.len - 3;

		FUZZ_CHECK(memcmp(out.data, "pre", 3) == 0);
		FUZZ_CHECK(imap_utf8_valid(d, dlen));
		FUZZ_CHECK(memchr(d, '\0', dlen) == NULL);
		imap_mutf7_encode(d, dlen, &enc);
		FUZZ_CHECK(enc.len == len &&
		           (len == 0 || memcmp(enc.data, x, len) == 0));
		if (plain)
			FUZZ_CHECK(dlen == len &&
			           (len == 0 || memcmp(d, x, len) == 0));
	} else {
		FUZZ_CHECK(!plain);
		FUZZ_CHECK(out.len == 3 && memcmp(out.data, "pre", 3) == 0);
	}
	po_buf_deinit(&enc);
	po_buf_deinit(&out);
}

static void check_encode(const char *x, size_t len)
{
	struct po_buf enc = PO_BUF_INIT, dec = PO_BUF_INIT;
	bool valid = imap_utf8_valid(x, len);

	FUZZ_CHECK(valid == ref_utf8_valid((const uint8_t *)x, len));
	/* The contract asks for valid UTF-8; anything else must still end
	 * and give printable ASCII. */
	imap_mutf7_encode(x, len, &enc);
	FUZZ_CHECK(printable_ascii(enc.data, enc.len));
	if (valid) {
		int r = imap_mutf7_decode(enc.data, enc.len, &dec);

		FUZZ_CHECK((r == 0) == (memchr(x, '\0', len) == NULL));
		if (r == 0)
			FUZZ_CHECK(dec.len == len &&
			           (len == 0 || memcmp(dec.data, x, len) == 0));
		/* Printable ASCII but "&" passes unchanged. */
		if (printable_ascii(x, len) && memchr(x, '&', len) == NULL)
			FUZZ_CHECK(enc.len == len &&
			           (len == 0 || memcmp(enc.data, x, len) == 0));
	}
	po_buf_deinit(&dec);
	po_buf_deinit(&enc);
}

static void check_from_client(const char *x, size_t len, bool utf8)
{
	/* Only enabled_utf8 is read; the rest stays zero. */
	static struct imap_session s;
	struct po_buf out = PO_BUF_INIT;
	const char *err = NULL;

	s.enabled_utf8 = utf8;
	po_buf_add(&out, "p", 1);
	if (imap_mailbox_from_client(&s, x, len, &out, &err) == 0) {
		const char *n = out.data + 1;
		size_t nlen = out.len - 1;

		FUZZ_CHECK(nlen > 0 && nlen <= STORE_MAILBOX_NAME_MAX);
		FUZZ_CHECK(n[nlen] == '\0' && strlen(n) == nlen);
		FUZZ_CHECK(imap_utf8_valid(n, nlen));
		FUZZ_CHECK(store_mailbox_name_valid(n));
		FUZZ_CHECK(n[0] != '~');
	} else {
		FUZZ_CHECK(err != NULL);
		FUZZ_CHECK(out.len == 1 && out.data[0] == 'p');
	}
	po_buf_deinit(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *x = (const char *)data;

	check_decode(x, size);
	check_encode(x, size);
	check_from_client(x, size, false);
	check_from_client(x, size, true);
	return 0;
}
