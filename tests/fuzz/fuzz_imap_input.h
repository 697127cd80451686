/*
 * Shared by the IMAP argument-level fuzz targets (fuzz_imap_fetch.c,
 * fuzz_imap_search.c): the input read as the wire would bring it, as
 * fuzz_imap_parse.c does: a line up to LF (a CR before it dropped); when
 * imap_line_literal() says the line announces a literal of N bytes, the
 * next N bytes (if that many are left) are the literal and another line
 * follows.  Every part is copied to a heap buffer of exactly its size, so
 * a read past a part's end is caught by AddressSanitizer.
 */
#ifndef PO_FUZZ_IMAP_INPUT_H
#define PO_FUZZ_IMAP_INPUT_H

#include "fuzz.h"

#include <string.h>

#include "imap_parse.h"

#define FUZZ_IMAP_MAX_PARTS 64

struct fuzz_imap_parts {
	struct imap_input_part p[FUZZ_IMAP_MAX_PARTS];
	size_t n;
};

static inline void fuzz_imap_add_part(struct fuzz_imap_parts *ps,
                                      const uint8_t *d, size_t len,
                                      bool literal)
{
	char *buf = malloc(len > 0 ? len : 1);

	FUZZ_CHECK(buf != NULL);
	if (len > 0)
		memcpy(buf, d, len);
	ps->p[ps->n].data = buf;
	ps->p[ps->n].len = len;
	ps->p[ps->n].literal = literal;
	ps->n++;
}

/* Split data into line and literal parts as the core and module would. */
static inline void fuzz_imap_split(const uint8_t *data, size_t size,
                                   struct fuzz_imap_parts *ps)
{
	size_t pos = 0;

	ps->n = 0;
	while (ps->n + 2 < FUZZ_IMAP_MAX_PARTS) {
		const uint8_t *lf =
		        size > pos ? memchr(data + pos, '\n', size - pos)
		                   : NULL;
		size_t end = lf != NULL ? (size_t)(lf - data) : size;
		size_t len = end - pos;
		uint64_t lit;
		bool ns, bin;
		const char *err;

		if (len > 0 && data[pos + len - 1] == '\r')
			len--;
		fuzz_imap_add_part(ps, data + pos, len, false);
		pos = lf != NULL ? end + 1 : size;
		if (imap_line_literal(ps->p[ps->n - 1].data, len, &lit, &ns,
		                      &bin, &err) != 1 ||
		    lit > size - pos)
			return;
		fuzz_imap_add_part(ps, data + pos, (size_t)lit, true);
		pos += (size_t)lit;
	}
}

static inline void fuzz_imap_parts_free(struct fuzz_imap_parts *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free((void *)(uintptr_t)ps->p[i].data);
	ps->n = 0;
}

/* A parsed sequence set keeps its documented shape. */
static inline void fuzz_imap_check_set(const struct imap_seqset *set)
{
	FUZZ_CHECK(set->count <= IMAP_SEQSET_MAX_RANGES);
	for (size_t i = 0; i < set->count; i++) {
		FUZZ_CHECK(set->ranges[i].lo >= 1 &&
		           set->ranges[i].lo <= set->ranges[i].hi);
		if (i > 0)
			FUZZ_CHECK(set->ranges[i - 1].hi + 1 <
			           set->ranges[i].lo);
	}
}

#endif
