/*
 * The MIME parser the store runs once, at delivery or APPEND time, so that
 * IMAP can answer ENVELOPE, BODYSTRUCTURE and section fetches from stored
 * offsets without re-reading a body.  Private to storage/.
 *
 * It is a pure function from the bytes of one message held in memory (CRLF
 * line ends, as the store keeps them; bare LF is tolerated everywhere) to a
 * tree of struct mime_part.  Nothing here does I/O or knows SQL.
 *
 * Malformed MIME degrades and never fails (the delivery must not): a
 * multipart without a boundary parameter, or whose boundary never appears,
 * or that has no part between its delimiters, becomes a single text/plain
 * leaf (MIME_PART_DEGRADED is set and its parameters are dropped).  An
 * unparsable Content-Type is the RFC 2045 §5.2 default text/plain;
 * charset=us-ascii.
 *
 * Limits: nesting deeper than MIME_DEPTH_MAX makes leaves; past
 * MIME_PARTS_MAX parts in one message no further part is split out (the
 * bytes stay in the message, only the structure stops); a header field's
 * unfolded value is cut at MIME_FIELD_MAX bytes; MIME_PARAMS_MAX parameters
 * per field and MIME_ADDRS_MAX addresses per header are kept.  Every byte of
 * the message is scanned a bounded number of times (at most once per
 * nesting level), and memory is linear in the message size because every
 * header byte belongs to at most one part's header.
 *
 * Implements RFC 5322 (header syntax, unfolding, addresses), RFC 2045 and
 * RFC 2046 (MIME headers, multipart boundaries), RFC 2231 (parameter
 * continuations) and the content of RFC 9051 §7.5.2 / RFC 3501 §7.4.2
 * ENVELOPE and BODYSTRUCTURE.
 */
#ifndef PO_MIME_H
#define PO_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct po_buf;

/* Nesting depth (multipart and message/rfc822 levels) past which parts are
 * leaves. */
#define MIME_DEPTH_MAX 32
/* Parts in one message, root and encapsulated messages included. */
#define MIME_PARTS_MAX 1000
/* Bytes of one unfolded header field value that are kept. */
#define MIME_FIELD_MAX 16384
/* Parameters kept per Content-Type or Content-Disposition. */
#define MIME_PARAMS_MAX 64
/* Addresses (group markers included) kept per address header. */
#define MIME_ADDRS_MAX 500
/* RFC 2046 §5.1.1 allows 70; a longer boundary is still accepted up to
 * this many bytes, past it the multipart degrades. */
#define MIME_BOUNDARY_MAX 200

/* One parameter of Content-Type or Content-Disposition.  name is
 * lower-cased, without RFC 2231 "*" or section suffixes.  value is the
 * unquoted value; RFC 2231 continuations (name*0, name*1, ...) are joined
 * in section order.  When the parameter used the RFC 2231 extended form
 * (name* or name*0*), extended is true and value stays raw as sent:
 * charset'language'%XX-encoded, with any plain continuation sections
 * %-encoded where needed so the whole value stays in one encoding. */
struct mime_param {
	char *name;
	char *value;
	bool extended;
};

/* An address of RFC 9051 §7.5.2 (ENVELOPE): name, adl (source route),
 * mailbox, host, each NULL for NIL.  Group syntax (RFC 5322 §3.4) gives a
 * start marker (host NULL, mailbox = group name) and an end marker (all
 * NULL).  A mailbox without a domain gets host ".MISSING-HOST-NAME." (the
 * UW IMAP convention), so host NULL always means a group marker.  name is
 * unquoted; encoded words are left as sent. */
struct mime_address {
	char *name;
	char *adl;
	char *mailbox;
	char *host;
};

/* A list of addresses; count 0 with present false means the header was
 * absent, count 0 with present true means it was there but empty. */
struct mime_addr_list {
	struct mime_address *addrs;
	size_t count;
	bool present;
};

/* The envelope of a message (the root, or a message/rfc822 part's child).
 * Strings are the unfolded header values with leading and trailing white
 * space removed, encoded words left as sent, NULL when the header is
 * absent.  sender and reply_to are as parsed: the rule that an absent or
 * empty Sender/Reply-To is reported as From (RFC 9051 §7.5.2) is applied by
 * mime_envelope_sender() / mime_envelope_reply_to() and the writer. */
struct mime_envelope {
	char *date;
	char *subject;
	struct mime_addr_list from, sender, reply_to, to, cc, bcc;
	char *in_reply_to;
	char *message_id;
};

enum {
	/* The part was a multipart that could not be split (see above). */
	MIME_PART_DEGRADED = 1u << 0,
	/* The part had no empty line ending its header: all of it is header
	 * and the body is empty. */
	MIME_PART_NO_BODY_SEP = 1u << 1,
	/* A multipart whose close delimiter never appeared. */
	MIME_PART_NO_CLOSE = 1u << 2,
};

/*
 * One MIME entity.  Offsets are from the start of the message given to
 * mime_parse().  The part is [part_off, part_off + part_len): its header
 * [hdr_off, hdr_off + hdr_len) including the empty line that ends it (what
 * IMAP BODY[n.MIME] and BODY[HEADER] return) and its body [body_off,
 * body_off + body_len) (BODY[n], BODY[TEXT] of the root).  For a child of a
 * multipart the part excludes the CRLF before the next delimiter (RFC 2046
 * §5.1.1: that CRLF belongs to the delimiter).
 *
 * type and subtype are lower-case.  Every string is NUL-terminated and
 * owned by the tree; NULL means absent.  encoding is the
 * Content-Transfer-Encoding, lower-cased, "7bit" by default.  lines is the
 * body's line count (meaningful for text/ and message/rfc822|global, as
 * IMAP reports it; computed for every part).  A message/rfc822 (or
 * message/global) part that is not base64/quoted-printable encoded has
 * exactly one child, the encapsulated message, whose env is set; a
 * multipart has one or more children; any other part has none.  env is
 * set on the root and on encapsulated messages, NULL elsewhere.
 */
struct mime_part {
	size_t part_off, part_len;
	size_t hdr_off, hdr_len;
	size_t body_off, body_len;
	uint64_t lines;
	unsigned flags;

	char *type, *subtype;
	struct mime_param *params;
	size_t param_count;
	char *id, *description, *encoding, *md5;
	char *disposition;
	struct mime_param *disp_params;
	size_t disp_param_count;
	char *language, *location;

	struct mime_envelope *env;
	struct mime_part **children;
	size_t child_count;
};

/*
 * Parse msg[0..len) into a tree.  Always succeeds and returns 0 with the
 * root in *root_r (for an empty message: a text/plain root with empty
 * header and body).  The tree is owned by the caller and freed with
 * mime_free(); it does not point into msg.  Allocation failure aborts
 * (memory is linear in len, see the limits above).  msg need not be
 * NUL-terminated and may contain NUL and 8-bit bytes.
 */
int mime_parse(const char *msg, size_t len, struct mime_part **root_r);

/* Free a tree from mime_parse() and NULL *root.  NULL is accepted. */
void mime_free(struct mime_part **root);

/* Number of parts in the tree (root included). */
size_t mime_part_count(const struct mime_part *root);

/* The value of the parameter name (case-insensitive) in params[0..count),
 * or NULL.  The result lives as long as the tree. */
const char *mime_param_get(const struct mime_param *params, size_t count,
                           const char *name);

/* The envelope's Sender/Reply-To as IMAP reports it: the parsed list, or
 * From when the header is absent or empty (RFC 9051 §7.5.2). */
const struct mime_addr_list *
mime_envelope_sender(const struct mime_envelope *env);
const struct mime_addr_list *
mime_envelope_reply_to(const struct mime_envelope *env);

/*
 * Find the first header field called name (case-insensitive, without the
 * colon) in msg[hdr_off, hdr_off + hdr_len) and append its unfolded value
 * to value_r: line breaks before white space are removed (RFC 5322 §2.2.3)
 * and leading and trailing white space trimmed.  At most MIME_FIELD_MAX
 * bytes are appended.  Returns 1 if found, 0 if not (value_r unchanged).
 * The range must lie inside msg.
 */
int mime_header_get(const char *msg, size_t hdr_off, size_t hdr_len,
                    const char *name, struct po_buf *value_r);

/*
 * Append the IMAP ENVELOPE list (RFC 9051 §7.5.2), starting with "(", for
 * env to out.  Strings are written as quoted strings when they hold only
 * 7-bit bytes other than NUL, CR and LF (with " and \ escaped) and shorter
 * than 1024 bytes, as literals {N}\r\n otherwise; NULL is NIL.
 */
void mime_write_envelope(struct po_buf *out, const struct mime_envelope *env);

/*
 * Append the IMAP BODYSTRUCTURE (extended true) or BODY (extended false)
 * of part, starting with "(", to out (RFC 9051 §7.5.2, §9 "body").
 * Strings follow the same rules as mime_write_envelope().  An RFC 2231
 * extended parameter is written with the name "name*" and its raw value.
 */
void mime_write_bodystructure(struct po_buf *out, const struct mime_part *part,
                              bool extended);

/* Internal to the mime_*.c files. */

/* Parse an RFC 5322 address-list value (unfolded) into list, appending at
 * most MIME_ADDRS_MAX addresses; never fails, skips what it cannot parse.
 * Strings are allocated with xmalloc and owned by list. */
void mime__parse_addresses(const char *value, size_t len,
                           struct mime_addr_list *list);
/* Free the strings and array of list and zero it. */
void mime__addr_list_deinit(struct mime_addr_list *list);
/* xmalloc'ed NUL-terminated copy of s[0..n). */
char *mime__strndup(const char *s, size_t n);

/* Return the first byte at or after p (before end) that is neither
 * folding white space nor inside a comment (RFC 5322 §3.2.2 CFWS); end when
 * there is none.  Nested comments and quoted pairs are honoured. */
const char *mime__skip_cfws(const char *p, const char *end);

#endif
