/*
 * Fuzz the FETCH item parser (protocols/imap/imap_fetch_parse.c) behind the
 * argument parser (imap_parse.c): the input is FETCH's arguments after the
 * command name, as the wire brings them (line and literal parts, see
 * fuzz_imap_input.h), e.g. "1:* (UID BODY.PEEK[HEADER.FIELDS (From)]<0.9>)".
 *
 * Checks on an accepted request, from the bounds and promises of
 * imap_fetch.h: 1..IMAP_FETCH_MAX_ITEMS items; part numbers >= 1, at most
 * IMAP_FETCH_MAX_DEPTH; HEADER.FIELDS has 1..IMAP_FETCH_MAX_FIELDS names,
 * each upper-cased ftext of at most IMAP_FETCH_MAX_FIELD_LEN bytes; MIME
 * only after a part; BINARY* only part numbers, BINARY.SIZE no partial; a
 * partial has length > 0; sets_seen / has_flags / has_uid summarise the
 * items; and the response name of every item parses back to the same
 * section (so what a client reads is what it asked for).  A refused
 * request has a reason and owns nothing.  imap_fetch_deinit frees the set
 * (LeakSanitizer checks).  imap_fetch_parse_item is also run on the first
 * line as raw bytes.
 */
#include "fuzz_imap_input.h"

#include <string.h>

#include "imap_fetch.h"
#include "util.h"

/* Whatever the rest of the item, the name begins with its prefix. */
static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static void check_item(const struct imap_fetch_item *it,
                       struct imap_arena *arena)
{
	struct imap_fetch_item again;
	const char *err = NULL;

	FUZZ_CHECK(it->name != NULL);
	FUZZ_CHECK(it->depth <= IMAP_FETCH_MAX_DEPTH);
	for (size_t i = 0; i < it->depth; i++)
		FUZZ_CHECK(it->path[i] >= 1);
	FUZZ_CHECK(it->n_fields <= IMAP_FETCH_MAX_FIELDS);
	FUZZ_CHECK((it->n_fields > 0) == (it->spec == IMAP_SPEC_FIELDS ||
	                                  it->spec == IMAP_SPEC_FIELDS_NOT));
	for (size_t i = 0; i < it->n_fields; i++) {
		const char *f = it->fields[i];
		size_t n = strlen(f);

		FUZZ_CHECK(n >= 1 && n <= IMAP_FETCH_MAX_FIELD_LEN);
		for (size_t k = 0; k < n; k++) {
			unsigned char ch = (unsigned char)f[k];

			FUZZ_CHECK(ch >= 33 && ch <= 126 && ch != ':');
			FUZZ_CHECK(!(ch >= 'a' && ch <= 'z'));
		}
	}
	FUZZ_CHECK(it->spec != IMAP_SPEC_MIME || it->depth > 0);
	FUZZ_CHECK(!it->partial || it->length > 0);
	FUZZ_CHECK(it->partial || (it->offset == 0 && it->length == 0));
	switch (it->kind) {
	case IMAP_FETCH_SECTION:
		/* RFC822* keep their own names (RFC 3501 §6.4.5). */
		FUZZ_CHECK(has_prefix(it->name, "BODY[") ||
		           has_prefix(it->name, "RFC822"));
		break;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		FUZZ_CHECK(it->spec == IMAP_SPEC_NONE && it->n_fields == 0);
		FUZZ_CHECK(has_prefix(it->name, it->kind == IMAP_FETCH_BINARY
		                                        ? "BINARY["
		                                        : "BINARY.SIZE["));
		FUZZ_CHECK(it->kind == IMAP_FETCH_BINARY || !it->partial);
		FUZZ_CHECK(it->kind == IMAP_FETCH_BINARY || !it->sets_seen);
		break;
	default:
		FUZZ_CHECK(!it->partial && it->depth == 0 &&
		           it->n_fields == 0 && !it->sets_seen);
		FUZZ_CHECK(strchr(it->name, '[') == NULL);
		break;
	}

	/* The name the response uses parses back to the same item (less
	 * the partial, which the response writes as "<origin>" only). */
	FUZZ_CHECK(imap_fetch_parse_item(it->name, strlen(it->name), arena,
	                                 &again, &err) == 0);
	FUZZ_CHECK(strcmp(again.name, it->name) == 0);
	FUZZ_CHECK(again.kind == it->kind && again.spec == it->spec);
	FUZZ_CHECK(again.depth == it->depth && !again.partial);
	FUZZ_CHECK(memcmp(again.path, it->path,
	                  it->depth * sizeof(it->path[0])) == 0);
	FUZZ_CHECK(again.n_fields == it->n_fields);
	for (size_t i = 0; i < it->n_fields; i++)
		FUZZ_CHECK(strcmp(again.fields[i], it->fields[i]) == 0);
	/* BODY.PEEK[x] answers as BODY[x], which would set \Seen. */
	FUZZ_CHECK(again.sets_seen || !it->sets_seen);
}

static void check_fetch(const struct imap_fetch *f, struct imap_arena *arena)
{
	bool seen = false, flags = false, uid = false;

	FUZZ_CHECK(f->n_items >= 1 && f->n_items <= IMAP_FETCH_MAX_ITEMS);
	FUZZ_CHECK(f->items != NULL);
	fuzz_imap_check_set(&f->set);
	for (size_t i = 0; i < f->n_items; i++) {
		check_item(&f->items[i], arena);
		seen |= f->items[i].sets_seen;
		flags |= f->items[i].kind == IMAP_FETCH_FLAGS;
		uid |= f->items[i].kind == IMAP_FETCH_UID;
	}
	FUZZ_CHECK(f->sets_seen == seen && f->has_flags == flags &&
	           f->has_uid == uid);
	/* Nothing of the run state is set by the parser. */
	FUZZ_CHECK(!f->started && f->uids == NULL && f->batch == NULL &&
	           f->rbuf == NULL && f->failure == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_imap_parts ps;
	struct imap_arena arena;
	struct imap_arg *args;
	size_t count, lits;
	const char *err = NULL;

	fuzz_imap_split(data, size, &ps);
	imap_arena_init(&arena);
	if (imap_parse_args(&(struct imap_input){ps.p, ps.n}, &arena, &args,
	                    &count, &lits, &err) == 0) {
		struct imap_fetch f;

		err = NULL;
		if (imap_fetch_parse_args(args, count, &arena, &f, &err) == 0) {
			check_fetch(&f, &arena);
			imap_fetch_deinit(&f);
			/* deinit twice is harmless (the command's free
			 * function may meet a half-run command). */
			imap_fetch_deinit(&f);
		} else {
			FUZZ_CHECK(err != NULL);
			FUZZ_CHECK(f.set.ranges == NULL && f.n_items == 0);
		}
	}
	/* The item parser alone on the raw first line (any bytes). */
	if (ps.n > 0) {
		struct imap_fetch_item it;

		err = NULL;
		if (imap_fetch_parse_item(ps.p[0].data, ps.p[0].len, &arena,
		                          &it, &err) == 0)
			check_item(&it, &arena);
		else
			FUZZ_CHECK(err != NULL);
	}
	imap_arena_deinit(&arena);
	fuzz_imap_parts_free(&ps);
	return 0;
}
