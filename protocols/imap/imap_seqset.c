/*
 * IMAP sequence sets (RFC 9051 §9 sequence-set, seq-range; RFC 5182 "$"):
 * parse "1,3:5,7:*,$" into sorted, merged ranges with "*" kept apart until
 * the caller knows the largest number in use.  Pure functions; the range
 * array is one xmalloc bounded by IMAP_SEQSET_MAX_RANGES.  What the numbers
 * mean (sequence numbers or UIDs) is left to the module.
 */
#include "imap_parse.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* One element's number: nz-number (1..2^32-1) or "*" (*star_r set). */
static int parse_number(const char *s, size_t len, size_t *i, uint32_t *n_r,
                        bool *star_r, const char **error_r)
{
	uint64_t n = 0;
	size_t start = *i;

	*star_r = false;
	if (*i < len && s[*i] == '*') {
		(*i)++;
		*star_r = true;
		return 0;
	}
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		n = n * 10 + (unsigned)(s[*i] - '0');
		if (n > UINT32_MAX) {
			*error_r = "Number too large in sequence set";
			return -1;
		}
		(*i)++;
	}
	if (*i == start) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (n == 0) {
		*error_r = "Zero in sequence set";
		return -1;
	}
	*n_r = (uint32_t)n;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->hi > y->hi) - (x->hi < y->hi);
}

/* Sort r[0..n) and join overlapping or adjacent ranges; returns the new
 * count. */
static size_t merge_ranges(struct imap_seq_range *r, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range);
	for (size_t i = 1; i < n; i++) {
		if (r[out].hi == UINT32_MAX || r[i].lo <= r[out].hi + 1) {
			if (r[i].hi > r[out].hi)
				r[out].hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

/* Add one element a[:b] to set. */
static void add_element(struct imap_seqset *set, uint32_t a, bool a_star,
                        uint32_t b, bool b_star)
{
	if (a_star && b_star) {
		set->has_star = true;
	} else if (a_star || b_star) {
		uint32_t n = a_star ? b : a;

		set->has_star = true;
		if (n < set->star_lo)
			set->star_lo = n;
		if (n > set->star_hi)
			set->star_hi = n;
	} else {
		struct imap_seq_range *r = &set->ranges[set->count++];

		r->lo = a < b ? a : b;
		r->hi = a < b ? b : a;
	}
}

static int parse_elements(const char *s, size_t len, struct imap_seqset *set,
                          const char **error_r)
{
	size_t i = 0;

	for (;;) {
		uint32_t a = 0, b;
		bool a_star, b_star;

		if (i < len && s[i] == '$') {
			set->searchres = true;
			i++;
		} else {
			if (parse_number(s, len, &i, &a, &a_star, error_r) < 0)
				return -1;
			b = a;
			b_star = a_star;
			if (i < len && s[i] == ':') {
				i++;
				if (parse_number(s, len, &i, &b, &b_star,
				                 error_r) < 0)
					return -1;
			}
			add_element(set, a, a_star, b, b_star);
		}
		if (i == len)
			return 0;
		if (s[i] != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		i++;
	}
}

int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set,
                      const char **error_r)
{
	size_t elements = 1;

	memset(set, 0, sizeof(*set));
	set->star_lo = UINT32_MAX;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ',')
			elements++;
	}
	if (elements > IMAP_SEQSET_MAX_RANGES) {
		*error_r = "Too many ranges in sequence set";
		return -1;
	}
	set->ranges = xmalloc(elements * sizeof(*set->ranges));
	if (parse_elements(s, len, set, error_r) < 0) {
		imap_seqset_deinit(set);
		return -1;
	}
	set->count = merge_ranges(set->ranges, set->count);
	return 0;
}

void imap_seqset_deinit(struct imap_seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
	set->star_lo = UINT32_MAX;
}

/* The "*" part resolved against star: false when there is none. */
static bool star_range(const struct imap_seqset *set, uint32_t star,
                       struct imap_seq_range *r)
{
	if (!set->has_star || star == 0)
		return false;
	r->lo = set->star_lo < star ? set->star_lo : star;
	r->hi = set->star_hi > star ? set->star_hi : star;
	return true;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n,
                          uint32_t star)
{
	struct imap_seq_range sr;
	size_t lo = 0, hi = set->count;

	if (star_range(set, star, &sr) && n >= sr.lo && n <= sr.hi)
		return true;
	/* Binary search in the sorted, disjoint ranges. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n < set->ranges[mid].lo)
			hi = mid;
		else if (n > set->ranges[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

size_t imap_seqset_resolve(const struct imap_seqset *set, uint32_t star,
                           struct imap_seq_range *out)
{
	size_t n = set->count;

	if (n > 0)
		memcpy(out, set->ranges, n * sizeof(*out));
	if (star_range(set, star, &out[n]))
		n++;
	return merge_ranges(out, n);
}
