/*
 * FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2; RFC 3501 §6.4.5; RFC 3516
 * BINARY): the parsed request, the pure pieces (item parser, transfer
 * decoders, header subsetting) and the resumable renderer.  Private to
 * protocols/imap/ and its unit tests.
 *
 * imap_fetch_parse.c  the item parser, pure (argument tree to request)
 * imap_decode.c       base64 / quoted-printable decoders, HEADER.FIELDS
 * imap_fetch.c        the run: metadata per batch, sections streamed
 */
#ifndef PO_IMAP_FETCH_H
#define PO_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"
#include "store.h"
#include "util.h"

struct imap_session;

/* Limits of one request. */
#define IMAP_FETCH_MAX_ITEMS 100     /* data items in the list */
#define IMAP_FETCH_MAX_DEPTH 32      /* part numbers in a section ("1.2.3") */
#define IMAP_FETCH_MAX_FIELDS 100    /* names in HEADER.FIELDS (...) */
#define IMAP_FETCH_MAX_FIELD_LEN 200 /* bytes of one field name */

enum imap_fetch_kind {
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY, /* non-extensible BODYSTRUCTURE */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_SECTION,     /* BODY[...], BODY.PEEK[...], RFC822* */
	IMAP_FETCH_BINARY,      /* BINARY[...], BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE, /* BINARY.SIZE[...] */
};

/* What a section names after its part numbers (RFC 9051 §6.4.5.1). */
enum imap_fetch_spec {
	IMAP_SPEC_NONE, /* BODY[] (whole message) or BODY[1.2] */
	IMAP_SPEC_HEADER,
	IMAP_SPEC_FIELDS,     /* HEADER.FIELDS (...) */
	IMAP_SPEC_FIELDS_NOT, /* HEADER.FIELDS.NOT (...) */
	IMAP_SPEC_TEXT,
	IMAP_SPEC_MIME, /* only after a part number */
};

/*
 * One data item.  name is the item as the response spells it, without the
 * origin octet: "FLAGS", "BODY[HEADER.FIELDS (SUBJECT)]", "BINARY[1]",
 * "RFC822.TEXT" (BODY.PEEK and BINARY.PEEK answer as BODY and BINARY).
 * fields are upper-cased copies (NUL-terminated, no NUL inside).
 */
struct imap_fetch_item {
	enum imap_fetch_kind kind;
	enum imap_fetch_spec spec;
	bool sets_seen; /* BODY[..], BINARY[..], RFC822, RFC822.TEXT */
	uint32_t path[IMAP_FETCH_MAX_DEPTH];
	size_t depth;
	char **fields;
	size_t n_fields;
	bool partial;
	uint64_t offset, length; /* <offset.length>, length > 0 */
	const char *name;
};

/* Where the renderer is (it resumes here after IMAP_RUN_MORE). */
struct imap_fetch_pos {
	size_t msg;        /* index into uids */
	size_t item;       /* index into the message's item list */
	bool in_msg;       /* "* n FETCH (" written */
	bool any;          /* an item of this message written */
	bool in_literal;   /* streaming a literal's bytes */
	bool lit_mem;      /* from mem (else from the store) */
	bool pad;          /* the source failed: finish with spaces */
	bool lit_nonul;    /* a literal, not literal8: NUL sent as 0x80 */
	uint64_t lit_off;  /* next byte: store offset or index into mem */
	uint64_t lit_left; /* bytes still to send */
	struct po_buf mem; /* decoded or filtered section being sent */
	/* Where the message and the item began in out, and whether that was
	 * during this call (so nothing of it was sent yet and it can be
	 * taken back when the message turns out to be gone). */
	size_t msg_start, item_start;
	bool msg_fresh, item_fresh;
};

/* The parsed command (cmd->data) and its run state. */
struct imap_fetch {
	struct imap_seqset set;
	struct imap_fetch_item *items;
	size_t n_items;
	bool sets_seen; /* some item sets \Seen */
	bool has_flags; /* FLAGS was asked for */
	bool has_uid;   /* UID was asked for */
	/* Run state (imap_fetch.c). */
	bool started;
	bool want_uid; /* UID FETCH without UID: add it (§6.4.8) */
	char *rbuf;    /* store_read buffer */
	uint32_t *uids;
	size_t n_uids;
	struct store_msg_ext *batch; /* metadata of uids[batch_lo..hi) */
	size_t n_batch, batch_lo, batch_hi;
	bool *seen_changed;              /* per batch message: add FLAGS */
	const struct store_msg_ext *cur; /* metadata of uids[pos.msg] */
	struct imap_fetch_pos pos;
	bool expunged; /* a message vanished meanwhile (EXPUNGEISSUED) */
	int failure;   /* a store error ending the command, or 0 */
	const char *fail_text; /* NO text for a failure that is not a store
	                          error (UNKNOWN-CTE, not a leaf part) */
};

/*
 * Parse FETCH's arguments after the command name: sequence set, then a
 * macro (ALL, FAST, FULL), one item or a parenthesised list of items, then
 * optionally a list of FETCH modifiers (RFC 4466 §2.4), none of which we
 * support (BAD).  Names,
 * fields and items are allocated in arena.  Returns 0 with *f filled (free
 * the set and the run state with imap_fetch_deinit), or -1 with a static
 * *error_r for BAD.  Pure.
 */
int imap_fetch_parse_args(const struct imap_arg *args, size_t nargs,
                          struct imap_arena *arena, struct imap_fetch *f,
                          const char **error_r);
/* Parse one data item (not a macro) from its atom text.  Returns 0 or -1
 * with *error_r.  Pure; exposed for the unit tests. */
int imap_fetch_parse_item(const char *s, size_t len, struct imap_arena *arena,
                          struct imap_fetch_item *item, const char **error_r);
/* Release what f owns (the set, the run state); not f itself. */
void imap_fetch_deinit(struct imap_fetch *f);

/* ---- decoders and header subsetting (imap_decode.c) -------------------- */

/*
 * Decode base64 (RFC 2045 §6.8) from in[0..len) and append to out: bytes
 * outside the alphabet (line breaks, junk) are ignored, "=" ends the data,
 * and a final incomplete group yields the whole bytes it holds.  Returns 0,
 * or -1 when memory runs out (out may have grown).
 */
int imap_base64_decode(const char *in, size_t len, struct po_buf *out);
/*
 * Decode quoted-printable (RFC 2045 §6.7) and append to out: "=XX" (either
 * case of hex), soft line breaks "=" [spaces] CRLF (or LF), trailing
 * spaces and tabs of a line removed, any other "=" kept as it is (§6.7
 * note 2).  Returns 0 or -1 when memory runs out.
 */
int imap_qp_decode(const char *in, size_t len, struct po_buf *out);
/* Append in to out with every bare CR or LF made CRLF (RFC 3516 §6: text
 * sent by BINARY has CRLF line ends).  Returns 0 or -1 on no memory. */
int imap_crlf_normalize(const char *in, size_t len, struct po_buf *out);

/*
 * HEADER.FIELDS (not_ false) or HEADER.FIELDS.NOT (not_ true): append to out
 * the fields of the header hdr[0..len) whose name is (or is not) one of
 * names (ASCII case-insensitive, RFC 9051 §6.4.5.1), each whole with its
 * continuation lines, in their order, then the blank line that ends the
 * header if hdr has one.  Returns 0 or -1 when memory runs out.
 */
int imap_header_filter(const char *hdr, size_t len, char *const *names,
                       size_t n_names, bool not_, struct po_buf *out);

/* ---- the run (imap_fetch.c) -------------------------------------------- */

/*
 * Produce FETCH responses for f on session s (SELECTED, s->acct open) into
 * out, resuming from f's state: resolves the set on the first call.
 * Returns IMAP_RUN_MORE once out holds IMAP_OUT_CHUNK bytes or more (call
 * again after sending them), IMAP_RUN_DONE when finished; then the result
 * is in f->failure / f->fail_text / f->expunged, or *error_r is set for a
 * bad sequence set (BAD).
 */
int imap_fetch_step(struct imap_session *s, struct imap_fetch *f, bool uid,
                    struct po_buf *out, const char **error_r);

#endif
