/*
 * The IMAP command parser (private to protocols/imap/): pure functions from
 * the bytes of one command to a tree of arguments, plus sequence sets.
 * Nothing here does I/O; memory comes from a struct imap_arena (or, for a
 * sequence set, one bounded xmalloc'd array).  RFC 9051 §9 and RFC 3501 §9
 * (Formal Syntax), RFC 7888 (LITERAL+ / LITERAL-), RFC 5182 ("$").
 *
 * A command reaches the module from the core as line pieces and literal
 * bodies: "A1 LOGIN {5}" + "alice" + " {6}" + "secret" + "".  Before asking
 * the core for a literal the module calls imap_line_literal() on the line;
 * once the command is complete it calls imap_parse_tag_command() on the first
 * line and imap_parse_args() on the rest.
 */
#ifndef PO_IMAP_PARSE_H
#define PO_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits the parser applies to one command. */
#define IMAP_PARSE_MAX_DEPTH 16      /* nested lists: 16 levels, not 17 */
#define IMAP_PARSE_MAX_ARGS 1000     /* arguments, lists and their members */
#define IMAP_SEQSET_MAX_RANGES 10000 /* comma-separated elements */

/*
 * A bump allocator for one command's arguments: blocks are allocated with
 * xmalloc (sizes are bounded by the core's line-length limit and
 * IMAP_PARSE_MAX_ARGS) and all freed at once by imap_arena_deinit().
 */
struct imap_arena {
	struct imap_arena_block *head;
};

/* Start an empty arena.  Never fails. */
void imap_arena_init(struct imap_arena *a);
/* Free every block; the arena is empty again and may be reused.  Every
 * pointer obtained from it becomes invalid. */
void imap_arena_deinit(struct imap_arena *a);
/* Return size bytes (zeroed, aligned for any type) valid until
 * imap_arena_deinit().  Aborts when memory runs out, like xmalloc. */
void *imap_arena_alloc(struct imap_arena *a, size_t size);

/* One piece of a command: line text (without its line end) or the bytes of
 * a literal.  data is borrowed. */
struct imap_input_part {
	const char *data;
	size_t len;
	bool literal;
};

/* A complete command (after the tag and command name): parts alternate
 * line, literal, line, ..., and the last one is a line.  Every line part but
 * the last ends with a literal announcement whose size is the length of the
 * literal part after it. */
struct imap_input {
	const struct imap_input_part *parts;
	size_t count;
};

enum imap_arg_type {
	IMAP_ARG_ATOM,   /* a bare token; see below for what it may hold */
	IMAP_ARG_STRING, /* quoted or literal */
	IMAP_ARG_NIL,    /* the atom NIL, any case */
	IMAP_ARG_LIST,   /* ( ... ) */
};

#define IMAP_ARG_F_LITERAL 0x01  /* STRING came from {N} or {N+} */
#define IMAP_ARG_F_LITERAL8 0x02 /* STRING came from ~{N} (may hold NUL) */
#define IMAP_ARG_F_NONSYNC 0x04  /* the literal was {N+} */

/*
 * One argument.  For ATOM, NIL and STRING, str/len hold the text: atoms and
 * quoted strings (unescaped) are NUL-terminated copies in the arena; a
 * literal's str points into the input part (borrowed, valid as long as the
 * input, not necessarily NUL-terminated; always use len).  NIL's str is
 * "NIL" as the client wrote it.  For LIST, children is its first member and
 * count the number of members.  next is the following sibling or NULL.
 *
 * An ATOM is lenient so one reader serves every command: an optional leading
 * "\" (flags), then any bytes but SP, CTL, 8-bit, ( ) { " \, where "[" opens
 * a section that runs to its "]" and may hold SP and parentheses
 * ("BODY.PEEK[HEADER.FIELDS (A B)]<0.10>").  So an ATOM may hold "]", "%",
 * "*"; the imap_arg_get_* helpers check the strict grammar each command
 * needs.
 */
struct imap_arg {
	enum imap_arg_type type;
	unsigned flags;
	const char *str;
	size_t len;
	struct imap_arg *children;
	size_t count;
	struct imap_arg *next;
};

/*
 * Does a line end with a literal announcement "{N}", "{N+}", "~{N}" or
 * "~{N+}" (RFC 9051 §4.3, RFC 7888)?  Call it on every line piece before
 * reading on, so a literal can be refused before its bytes are read.
 * Returns 1 and sets *size_r, *nonsync_r ("+") and *binary_r ("~"); 0 when
 * the line does not end with one; -1 with *error_r (a static string) when it
 * ends with a malformed one ("{}", "{+}") or N does not fit 64 bits.  Only
 * the end of the line is looked at; imap_parse_args() checks the rest.
 */
int imap_line_literal(const char *line, size_t len, uint64_t *size_r,
                      bool *nonsync_r, bool *binary_r, const char **error_r);

/*
 * Split the first line of a command into tag (1*ASTRING-CHAR except "+") and
 * command name (1*ATOM-CHAR; compare it case-insensitively).  On success
 * returns 0, points *tag_r / *cmd_r into line with their lengths, and sets
 * *rest_r to the offset of the arguments (len when there are none; just
 * after the SP otherwise).  Returns -1 with a static *error_r when the line
 * is malformed (then *tag_r is set if a tag could be read, so the BAD
 * response can carry it, else NULL).  "UID" is left to the module.
 */
int imap_parse_tag_command(const char *line, size_t len, const char **tag_r,
                           size_t *tag_len_r, const char **cmd_r,
                           size_t *cmd_len_r, size_t *rest_r,
                           const char **error_r);

/*
 * Parse the arguments of a complete command: SP-separated atoms, NIL,
 * quoted strings (escapes \" and \\ only; no NUL, CR, LF; 8-bit allowed for
 * UTF-8), literals, literal8 and parenthesised lists.  Returns 0 and sets
 * *args_r to the first argument (NULL for none) and *count_r to their
 * number, *literals_r to the number of literals; or -1 with a static
 * *error_r for the BAD response.  Limits: IMAP_PARSE_MAX_DEPTH,
 * IMAP_PARSE_MAX_ARGS.  A literal (not literal8) holding NUL is refused.
 * Results live in arena (and in the input, for literals).  Never reads
 * outside the parts' [data, data + len).
 */
int imap_parse_args(const struct imap_input *in, struct imap_arena *arena,
                    struct imap_arg **args_r, size_t *count_r,
                    size_t *literals_r, const char **error_r);

/* Helpers for command parsers; each returns false when arg (may be NULL) is
 * not of the form named, and leaves the outputs alone then. */

/* atom = 1*ATOM-CHAR (RFC 9051 §9).  NIL counts as an atom here. */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* astring = 1*ASTRING-CHAR / string.  *str_r may hold NUL bytes only for a
 * literal8, so check len against strlen where that matters. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r,
                          size_t *len_r);
/* string = quoted / literal. */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r,
                         size_t *len_r);
/* nstring = string / NIL; *str_r is NULL for NIL. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r,
                          size_t *len_r);
/* list-mailbox = 1*list-char / string (atoms may hold % and *). */
bool imap_arg_get_list_mailbox(const struct imap_arg *arg, const char **str_r,
                               size_t *len_r);
/* number (32-bit, RFC 9051 number = 1*DIGIT, < 2^32). */
bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *n_r);
/* number64 (< 2^63, RFC 9051 §9). */
bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *n_r);
/* A list; *first_r is its first member (NULL when empty). */
bool imap_arg_get_list(const struct imap_arg *arg,
                       const struct imap_arg **first_r, size_t *count_r);

/* One range of a sequence set, lo <= hi, both >= 1. */
struct imap_seq_range {
	uint32_t lo, hi;
};

/*
 * A parsed sequence set: the ranges without "*", sorted and merged
 * (overlapping or adjacent ranges joined); and the "*" part, kept apart
 * until the largest number in use is known.  Every "n:*" (or "*:n") means
 * n..star, or star..n when n > star (RFC 9051 §9, seq-range); their union
 * together with a lone "*" is the one interval
 * [min(star_lo, star), max(star_hi, star)].  searchres is set when "$"
 * (RFC 5182, the saved SEARCH result) appeared; the module adds that set.
 */
struct imap_seqset {
	struct imap_seq_range *ranges; /* xmalloc'd; imap_seqset_deinit() */
	size_t count;
	bool has_star;
	uint32_t star_lo, star_hi; /* for n:*; UINT32_MAX / 0 when none */
	bool searchres;
};

/*
 * Parse s[0..len) as a sequence-set: elements nz-number, "*", a:b (either
 * order) or "$", separated by ",".  Returns 0 with *set filled (free it with
 * imap_seqset_deinit()), or -1 with a static *error_r and *set empty: for
 * 0, a number past 2^32 - 1, an empty element, any other byte, or more than
 * IMAP_SEQSET_MAX_RANGES elements.
 */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set,
                      const char **error_r);
/* Release the ranges; *set becomes empty. */
void imap_seqset_deinit(struct imap_seqset *set);
/* Is n in the set, "*" being star (the largest number in use; 0 for an empty
 * mailbox, where "*" matches nothing)?  "$" is not considered. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n,
                          uint32_t star);
/*
 * Resolve "*" against star and write the set as sorted, merged ranges into
 * out, which must hold set->count + 1 entries; returns their number.  Use it
 * to iterate: for each range, lo..hi.  Numbers above star are kept (for UIDs
 * they are simply absent; for sequence numbers the module decides).
 */
size_t imap_seqset_resolve(const struct imap_seqset *set, uint32_t star,
                           struct imap_seq_range *out);

#endif
