/*
 * SEARCH internals shared by imap_search*.c, imap_cmd_store.c and their
 * unit tests: the search program (a tree of keys parsed from the argument
 * tree), the string matcher, header decoding, evaluation and the writers
 * of sequence sets and ESEARCH responses.  RFC 9051 §6.4.4, RFC 3501
 * §6.4.4, RFC 4731 (ESEARCH), RFC 5182 (SEARCHRES), RFC 2047 (encoded
 * words).
 */
#ifndef PO_IMAP_SEARCH_H
#define PO_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"
#include "util.h"

struct imap_session;
struct store_account;
struct store_msg_ext;

/* Nesting of NOT, OR and parenthesised lists in one program. */
#define IMAP_SEARCH_MAX_DEPTH 32
/* Keys in one program (every key, list and operator counts). */
#define IMAP_SEARCH_MAX_KEYS 1000
/* Bytes of a message header looked at by header keys; the rest of a
 * larger header is not searched. */
#define IMAP_SEARCH_HDR_MAX (256u * 1024u)
/* Header fields of one message looked at. */
#define IMAP_SEARCH_FIELDS_MAX 2000
/* A body part is also searched decoded (base64, quoted-printable) when its
 * encoded size is at most this; larger parts are searched as stored. */
#define IMAP_SEARCH_DECODE_MAX (4u * 1024u * 1024u)

enum imap_search_kind {
	IMAP_SK_ALL,
	IMAP_SK_NONE,    /* RECENT, NEW: we keep no \Recent (RFC 9051) */
	IMAP_SK_AND,     /* children, all must match */
	IMAP_SK_OR,      /* two children */
	IMAP_SK_NOT,     /* one child */
	IMAP_SK_FLAG,    /* flag set (negate: unset) */
	IMAP_SK_KEYWORD, /* kw set (negate: UNKEYWORD) */
	IMAP_SK_SEQSET,  /* message numbers */
	IMAP_SK_UIDSET,  /* UID set */
	IMAP_SK_BEFORE,  /* internal date's day < day */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE, /* Date: header's day */
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_LARGER, /* size > num */
	IMAP_SK_SMALLER,
	IMAP_SK_HEADER, /* field contains str (FROM, TO, CC, BCC, SUBJECT) */
	IMAP_SK_BODY,
	IMAP_SK_TEXT,
};

/*
 * A case-insensitive substring matcher (ASCII letters fold, every other
 * byte compares exactly) that can be fed a text in pieces: a
 * Knuth-Morris-Pratt automaton over the folded pattern, so the text is
 * scanned once and no piece boundary can hide a match.  The pattern is
 * taken literally: '%', '_', '*', quotes and backslashes are plain bytes.
 */
struct imap_search_matcher {
	unsigned char *pat; /* folded */
	size_t len;
	size_t *fail;
	size_t state; /* pattern bytes matched so far */
	bool matched;
};

struct imap_search_key {
	enum imap_search_kind kind;
	bool negate;                      /* FLAG, KEYWORD: UN... */
	struct imap_search_key *children; /* AND, OR, NOT */
	struct imap_search_key *next;
	unsigned cost;    /* 1 metadata, 10 header, 100 body */
	uint32_t flag;    /* FLAG: STORE_F_* */
	int64_t day;      /* dates: days since 1970-01-01 (UTC) */
	uint64_t num;     /* LARGER, SMALLER */
	const char *name; /* KEYWORD; HEADER's field name (NUL-terminated) */
	uint64_t kw_mask; /* KEYWORD, resolved by imap_search_prepare */
	struct imap_seqset set;       /* SEQSET, UIDSET: ranges in the arena */
	struct imap_search_matcher m; /* HEADER, BODY, TEXT */
};

/* RETURN options (RFC 4731, RFC 5182). */
enum {
	IMAP_SEARCH_RET_MIN = 1u << 0,
	IMAP_SEARCH_RET_MAX = 1u << 1,
	IMAP_SEARCH_RET_ALL = 1u << 2,
	IMAP_SEARCH_RET_COUNT = 1u << 3,
	IMAP_SEARCH_RET_SAVE = 1u << 4,
};

/* What evaluation needs beyond the listing. */
enum {
	IMAP_SEARCH_NEED_HEADER = 1u << 0,
	IMAP_SEARCH_NEED_BODY = 1u << 1,
};

struct imap_search_program {
	bool has_return;  /* RETURN (...) was given */
	unsigned ret;     /* IMAP_SEARCH_RET_*; () means ALL */
	bool bad_charset; /* CHARSET other than UTF-8/US-ASCII: NO */
	struct imap_search_key *root; /* an AND */
	size_t nkeys;
	unsigned need;
};

/*
 * Parse the arguments of SEARCH (after the command name) into a program
 * allocated in arena; strings are copied into the arena, so the program
 * does not point into the argument tree.  Returns 0, or -1 with a static
 * *error_r for "BAD": an unknown key or RETURN option, a missing or
 * malformed argument (date, number, sequence set, flag), unbalanced or
 * empty parentheses, nesting past IMAP_SEARCH_MAX_DEPTH, more than
 * IMAP_SEARCH_MAX_KEYS keys.  An unsupported CHARSET is not an error
 * here: it sets bad_charset (the command answers NO [BADCHARSET]).
 * Pure: no I/O, no session.
 */
int imap_search_parse(struct imap_arena *arena, const struct imap_arg *args,
                      struct imap_search_program **prog_r,
                      const char **error_r);

/* Matcher set-up in arena (pat need not be NUL-terminated). */
void imap_search_matcher_init(struct imap_search_matcher *m,
                              struct imap_arena *arena, const char *pat,
                              size_t len);
/* Forget what was fed (start of a new text). */
void imap_search_matcher_reset(struct imap_search_matcher *m);
/* Feed the next piece; returns true once the pattern has been seen (and
 * stays true until reset).  The empty pattern matches at once. */
bool imap_search_matcher_feed(struct imap_search_matcher *m, const void *data,
                              size_t len);
/* reset + feed: does text contain the pattern? */
bool imap_search_matcher_find(struct imap_search_matcher *m, const void *text,
                              size_t len);

/*
 * Decode the RFC 2047 encoded words of an unfolded header value and append
 * the result to out: "=?charset?B|Q?text?=" in UTF-8 and US-ASCII (copied)
 * or ISO-8859-1 / Windows-1252's ASCII-compatible part (converted to
 * UTF-8); other charsets keep their decoded bytes.  White space between two
 * adjacent encoded words is dropped (RFC 2047 §6.2); a malformed word is
 * kept as written.
 */
void imap_search_decode_header(const char *in, size_t len, struct po_buf *out);

/* Decode a body of Content-Transfer-Encoding encoding (lower or upper
 * case) into out: base64 and quoted-printable; returns false (out
 * unchanged) for any other encoding. */
bool imap_search_decode_body(const char *encoding, const char *in, size_t len,
                             struct po_buf *out);

/* One header field: name and its unfolded, decoded value, in fields->buf. */
struct imap_search_field {
	size_t name_off, name_len;
	size_t value_off, value_len;
};
struct imap_search_header {
	struct po_buf buf;
	struct imap_search_field *fields;
	size_t count, cap;
};
/* Split hdr[0..len) (CRLF or LF line ends) into at most
 * IMAP_SEARCH_FIELDS_MAX fields, unfolded and decoded.  Replaces what h
 * held. */
void imap_search_header_parse(struct imap_search_header *h, const char *hdr,
                              size_t len);
void imap_search_header_deinit(struct imap_search_header *h);

/*
 * The per-message input of an evaluation: the listing, the sequence
 * number, and (when the program needs them and the metadata did not
 * decide) the parsed header and a way to scan the body.
 */
struct imap_search_msg {
	const struct store_msg_ext *x;
	uint32_t seq;
	/* The largest sequence number and UID in the map ("*"). */
	uint32_t max_seq, max_uid;
	/* The saved result ("$"), ascending UIDs. */
	const uint32_t *saved;
	size_t n_saved;
	/* false: the cheap pass, keys that need the header or body give
	 * IMAP_ST_UNKNOWN.  true: hdr is set when the program needs it. */
	bool full;
	const struct imap_search_header *hdr;
	/* Scan the body for m (reset first); returns true on a match.
	 * NULL: body keys do not match. */
	bool (*body_find)(void *ctx, struct imap_search_matcher *m);
	void *ctx;
};

/* Evaluation result when not all inputs are there. */
enum imap_search_tri { IMAP_ST_FALSE, IMAP_ST_TRUE, IMAP_ST_UNKNOWN };

/* Evaluate key on msg (msg->full false: keys needing content give
 * IMAP_ST_UNKNOWN).  Children of AND / OR are tried in their (cost)
 * order and the evaluation stops as soon as the result is known. */
enum imap_search_tri imap_search_eval(struct imap_search_key *key,
                                      const struct imap_search_msg *msg);

/* Append numbers[0..n) (ascending) as a compressed sequence set:
 * "1:3,5,7:8".  Nothing for n == 0. */
void imap_search_write_set(struct po_buf *out, const uint32_t *numbers,
                           size_t n);
/* Append numbers[0..n) in their given order, consecutive runs (each one
 * more than the last) joined as "a:b" (COPYUID, RFC 4315 §3). */
void imap_search_write_ordered_set(struct po_buf *out, const uint32_t *numbers,
                                   size_t n);

/*
 * Append the response of a finished search: numbers[0..n) ascending
 * (sequence numbers, or UIDs for UID SEARCH).  Without RETURN and without
 * esearch: "* SEARCH 2 3\r\n".  Otherwise "* ESEARCH (TAG "tag") [UID]"
 * then MIN, MAX, ALL (only when there is a match) and COUNT (always) as
 * ret asks (RFC 4731 §3.1, RFC 9051 §7.3.4); SAVE alone gives nothing
 * (RFC 5182 §2.4).
 */
void imap_search_write_result(struct po_buf *out, const char *tag, bool uid,
                              bool has_return, unsigned ret, bool esearch,
                              const uint32_t *numbers, size_t n);

/*
 * What SAVE stores (RFC 5182 §2.4): all of uids, or only the MIN and/or
 * MAX ones when those are the only other options.  Writes into saved_r
 * (malloc'd, NULL when 0) and *n_r.
 */
void imap_search_saved_result(unsigned ret, const uint32_t *uids, size_t n,
                              uint32_t **saved_r, size_t *n_r);

/*
 * Run program over the selected mailbox of s: the matching messages'
 * sequence numbers and UIDs (ascending) into malloc'd arrays.  Keywords
 * are resolved with the store first.  Returns a store error (STORE_OK).
 */
int imap_search_run_program(struct imap_session *s,
                            struct imap_search_program *prog, uint32_t **seqs_r,
                            uint32_t **uids_r, size_t *n_r);

#endif
