/*
 * The IMAP output writers: strings (quoted or literal), nstrings, astrings,
 * mailbox names, flag lists and INTERNALDATE.  Pure functions appending to
 * a struct po_buf; what may be sent as a quoted string follows RFC 9051 §4.3
 * and §9 (quoted, QUOTED-CHAR), and RFC 6855 §3 for 8-bit UTF-8 once
 * UTF8=ACCEPT is enabled.  Everything else becomes a literal.
 */
#include "imap_private.h"

#include <string.h>
#include <strings.h>
#include <time.h>

/* Longest string we send quoted; longer ones go as literals, which clients
 * read without scanning for escapes. */
#define QUOTED_MAX 1000

/* Is in[0..len) valid UTF-8 (RFC 3629: shortest form, no surrogates, at
 * most U+10FFFF)?  Private so this file does not depend on imap_mutf7.c. */
static bool utf8_ok(const unsigned char *in, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char b = in[i];
		size_t n;
		uint32_t cp;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			n = 1;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			n = 2;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			n = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((in[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (in[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* May s[0..len) be sent as a quoted string? */
static bool quotable(const char *s, size_t len, bool utf8)
{
	bool eight = false;

	if (len > QUOTED_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\0' || ch == '\r' || ch == '\n')
			return false;
		if (ch >= 0x80)
			eight = true;
	}
	if (!eight)
		return true;
	return utf8 && utf8_ok((const unsigned char *)s, len);
}

void imap_write_string(struct po_buf *out, const char *s, size_t len, bool utf8)
{
	if (!quotable(s, len, utf8)) {
		po_buf_printf(out, "{%zu}\r\n", len);
		po_buf_add(out, s, len);
		return;
	}
	po_buf_add(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		/* RFC 9051 §9: quoted-specials are escaped with "\". */
		if (s[i] == '"' || s[i] == '\\')
			po_buf_add(out, "\\", 1);
		po_buf_add(out, &s[i], 1);
	}
	po_buf_add(out, "\"", 1);
}

void imap_write_nstring(struct po_buf *out, const char *s, size_t len,
                        bool utf8)
{
	if (s == NULL)
		po_buf_add_str(out, "NIL");
	else
		imap_write_string(out, s, len, utf8);
}

/* ASTRING-CHAR (RFC 9051 §9): ATOM-CHAR or "]". */
static bool astring_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\", ch) == NULL;
}

void imap_write_astring(struct po_buf *out, const char *s, size_t len,
                        bool utf8)
{
	bool atom = len > 0 && !(len == 3 && strncasecmp(s, "NIL", 3) == 0);

	for (size_t i = 0; atom && i < len; i++)
		atom = astring_char((unsigned char)s[i]);
	if (atom)
		po_buf_add(out, s, len);
	else
		imap_write_string(out, s, len, utf8);
}

void imap_write_mailbox(const struct imap_session *s, struct po_buf *out,
                        const char *name)
{
	struct po_buf enc = PO_BUF_INIT;

	/* RFC 6855 §3: after ENABLE UTF8=ACCEPT names go out as UTF-8;
	 * otherwise in modified UTF-7 (RFC 3501 §5.1.3). */
	if (s->enabled_utf8) {
		imap_write_astring(out, name, strlen(name), true);
		return;
	}
	imap_mutf7_encode(name, strlen(name), &enc);
	imap_write_astring(out, enc.data != NULL ? enc.data : "", enc.len,
	                   false);
	po_buf_deinit(&enc);
}

void imap_write_flags(struct po_buf *out, uint32_t flags, uint64_t keywords,
                      char *const *kw_names)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} sys[] = {
	        {STORE_F_SEEN, "\\Seen"},
	        {STORE_F_ANSWERED, "\\Answered"},
	        {STORE_F_FLAGGED, "\\Flagged"},
	        {STORE_F_DELETED, "\\Deleted"},
	        {STORE_F_DRAFT, "\\Draft"},
	};
	bool first = true;

	po_buf_add(out, "(", 1);
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if ((flags & sys[i].bit) == 0)
			continue;
		if (!first)
			po_buf_add(out, " ", 1);
		po_buf_add_str(out, sys[i].name);
		first = false;
	}
	for (unsigned i = 0; i < STORE_KEYWORDS_MAX && kw_names != NULL; i++) {
		/* A bit whose name is unknown (a keyword made after the cache
		 * was filled and not refreshed) is left out rather than sent
		 * as something invalid. */
		if ((keywords & (UINT64_C(1) << i)) == 0 || kw_names[i] == NULL)
			continue;
		if (!first)
			po_buf_add(out, " ", 1);
		po_buf_add_str(out, kw_names[i]);
		first = false;
	}
	po_buf_add(out, ")", 1);
}

void imap_write_date_time(struct po_buf *out, int64_t t)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
	                                   "May", "Jun", "Jul", "Aug",
	                                   "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		po_buf_add_str(out, "\"01-Jan-1970 00:00:00 +0000\"");
		return;
	}
	/* RFC 9051 §9 date-time: date-day-fixed may be "dd" or " d"; two
	 * digits are what every client parses. */
	po_buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
	              months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	              tm.tm_min, tm.tm_sec);
}
