/*
 * Fuzz the IMAP command parser (protocols/imap/imap_parse.c) and sequence
 * sets (imap_seqset.c).  The input is read as the wire would bring it: a
 * line up to LF (a CR before it dropped); when imap_line_literal() says the
 * line announces a literal of N bytes, the next N bytes (if that many are
 * left) are the literal and another line follows.  Every part is copied to a
 * heap buffer of exactly its size.  Checks: a literal argument points into a
 * literal part and has its length; counts stay within the limits; every
 * atom that parses as a sequence set gives sorted, disjoint, non-adjacent
 * ranges that imap_seqset_contains() and imap_seqset_resolve() agree with.
 */
#include "fuzz.h"

#include <string.h>

#include "imap_parse.h"
#include "util.h"

#define MAX_PARTS 64

struct parts {
	struct imap_input_part p[MAX_PARTS];
	size_t n;
};

static void add_part(struct parts *ps, const uint8_t *d, size_t len,
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
static void split(const uint8_t *data, size_t size, struct parts *ps)
{
	size_t pos = 0;

	while (ps->n + 2 < MAX_PARTS) {
		const uint8_t *lf = memchr(data + pos, '\n', size - pos);
		size_t end = lf != NULL ? (size_t)(lf - data) : size;
		size_t len = end - pos;
		uint64_t lit;
		bool ns, bin;
		const char *err;

		if (len > 0 && data[pos + len - 1] == '\r')
			len--;
		add_part(ps, data + pos, len, false);
		pos = lf != NULL ? end + 1 : size;
		if (imap_line_literal(ps->p[ps->n - 1].data, len, &lit, &ns,
		                      &bin, &err) != 1 ||
		    lit > size - pos)
			return;
		add_part(ps, data + pos, (size_t)lit, true);
		pos += (size_t)lit;
	}
}

static void check_seqset(const struct imap_arg *a)
{
	struct imap_seqset set;
	struct imap_seq_range *out;
	const char *err;
	size_t n;

	if (imap_seqset_parse(a->str, a->len, &set, &err) < 0) {
		FUZZ_CHECK(set.ranges == NULL && set.count == 0);
		return;
	}
	FUZZ_CHECK(set.count <= IMAP_SEQSET_MAX_RANGES);
	for (size_t i = 0; i < set.count; i++) {
		FUZZ_CHECK(set.ranges[i].lo >= 1 &&
		           set.ranges[i].lo <= set.ranges[i].hi);
		if (i > 0)
			FUZZ_CHECK(set.ranges[i - 1].hi + 1 < set.ranges[i].lo);
		FUZZ_CHECK(imap_seqset_contains(&set, set.ranges[i].lo, 0));
		FUZZ_CHECK(imap_seqset_contains(&set, set.ranges[i].hi, 0));
	}
	out = malloc((set.count + 1) * sizeof(*out));
	FUZZ_CHECK(out != NULL);
	n = imap_seqset_resolve(&set, 100, out);
	FUZZ_CHECK(n <= set.count + 1);
	for (uint32_t v = 1; v <= 200; v++) {
		bool in = false;

		for (size_t i = 0; i < n; i++)
			in = in || (v >= out[i].lo && v <= out[i].hi);
		FUZZ_CHECK(in == imap_seqset_contains(&set, v, 100));
	}
	free(out);
	imap_seqset_deinit(&set);
}

/* Walk a list of siblings and their lists; returns the number of
 * siblings. */
static size_t check_args(const struct imap_arg *a, const struct parts *ps,
                         unsigned depth)
{
	size_t n = 0;

	FUZZ_CHECK(depth <= IMAP_PARSE_MAX_DEPTH);
	for (; a != NULL; a = a->next) {
		n++;
		if (a->type == IMAP_ARG_LIST) {
			FUZZ_CHECK(check_args(a->children, ps, depth + 1) ==
			           a->count);
		} else if (a->flags & IMAP_ARG_F_LITERAL) {
			bool found = false;

			for (size_t i = 0; i < ps->n; i++)
				found = found || (ps->p[i].literal &&
				                  ps->p[i].data == a->str &&
				                  ps->p[i].len == a->len);
			FUZZ_CHECK(found);
		} else if (a->type == IMAP_ARG_ATOM) {
			FUZZ_CHECK(a->len > 0 && a->str[a->len] == '\0');
			check_seqset(a);
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parts ps = {.n = 0};
	struct imap_arena arena;
	struct imap_arg *args;
	size_t count, lits;
	const char *err;

	split(data, size, &ps);
	imap_arena_init(&arena);
	if (imap_parse_args(&(struct imap_input){ps.p, ps.n}, &arena, &args,
	                    &count, &lits, &err) == 0) {
		FUZZ_CHECK(check_args(args, &ps, 0) == count);
		FUZZ_CHECK(lits * 2 < ps.n);
	} else {
		FUZZ_CHECK(args == NULL && err != NULL);
	}
	if (ps.n > 0) {
		const char *tag, *cmd;
		size_t tl, cl, rest;

		if (imap_parse_tag_command(ps.p[0].data, ps.p[0].len, &tag, &tl,
		                           &cmd, &cl, &rest, &err) == 0)
			FUZZ_CHECK(tl > 0 && cl > 0 && rest <= ps.p[0].len);
	}
	imap_arena_deinit(&arena);
	for (size_t i = 0; i < ps.n; i++)
		free((void *)(uintptr_t)ps.p[i].data);
	return 0;
}
