/*
 * LIST pattern matching (protocols/imap/imap_cmd_mailbox.c), exposed for
 * its unit tests.  A pattern is client input, so matching is a set-of-
 * states simulation bounded by (name length x pattern length), never a
 * backtracking search.
 */
#ifndef PO_IMAP_MAILBOX_H
#define PO_IMAP_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest pattern (after reference + name joining) we match; a longer one
 * is silently ignored (RFC 9051 §6.3.9: a pattern the server does not
 * accept yields no responses). */
#define IMAP_PATTERN_MAX 2048

/* A compiled LIST pattern: RFC 9051 §6.3.9 "*" (anything) and "%"
 * (anything but the hierarchy delimiter "/"). */
struct imap_pattern {
	uint16_t *tok;    /* bytes 0..255, or IMAP_PAT_STAR / IMAP_PAT_PCT */
	size_t n;         /* tokens */
	size_t n_lit;     /* literal tokens: the shortest name it matches */
	size_t n_lead;    /* literal tokens before the first wildcard */
	bool *cur, *next; /* n + 1 states each, scratch for matching */
};

#define IMAP_PAT_STAR 256
#define IMAP_PAT_PCT 257

/* Compile pat[0..len) (runs of wildcards are joined: "%*" is "*").
 * Returns 0, or -1 when len > IMAP_PATTERN_MAX (nothing allocated). */
int imap_pattern_compile(struct imap_pattern *p, const char *pat, size_t len);
void imap_pattern_free(struct imap_pattern *p);
/*
 * Does name[0..len) match?  inbox_ci (the name is INBOX or one of its
 * children): INBOX is case-insensitive (RFC 9051 §5.1), so the first five
 * bytes are compared case-insensitively with the pattern's leading literal
 * text ("inbox/%", "in*"), never with what a wildcard reached ("%o%" does
 * not match "INBOX").  Cost O(len * p->n).
 */
bool imap_pattern_match(struct imap_pattern *p, const char *name, size_t len,
                        bool inbox_ci);

#endif
