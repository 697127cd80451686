/*
 * The FETCH argument parser (RFC 9051 §6.4.5 and §9 fetch, fetch-att,
 * section, section-binary, partial; RFC 3501 §6.4.5 for RFC822,
 * RFC822.HEADER, RFC822.TEXT; RFC 3516 BINARY; RFC 4466 §2.4 FETCH
 * modifiers): from the argument tree to a struct imap_fetch.  Pure: no I/O,
 * no store.  Every count is bounded (imap_fetch.h); anything outside the
 * grammar is refused with a reason for the BAD response.
 *
 * A section arrives inside one lenient ATOM (imap_parse.h), so the text in
 * "[...]", including a HEADER.FIELDS list of astrings, is parsed here.
 */
#include "imap_fetch.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_private.h"

/* A cursor over the atom text of one item. */
struct scan {
	const char *s;
	size_t len, i;
};

static bool at_end(const struct scan *c)
{
	return c->i >= c->len;
}

static int peek(const struct scan *c)
{
	return at_end(c) ? -1 : (unsigned char)c->s[c->i];
}

/* Consume word (case-insensitive) if the text continues with it. */
static bool take(struct scan *c, const char *word)
{
	size_t n = strlen(word);

	if (c->len - c->i < n || strncasecmp(c->s + c->i, word, n) != 0)
		return false;
	c->i += n;
	return true;
}

/* number64 / nz-number64 (RFC 9051 §9): digits, below 2^63. */
static bool take_number64(struct scan *c, uint64_t *n_r)
{
	uint64_t n = 0;
	size_t start = c->i;

	while (!at_end(c) && peek(c) >= '0' && peek(c) <= '9') {
		unsigned d = (unsigned)(peek(c) - '0');

		if (n > ((uint64_t)INT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
		c->i++;
	}
	*n_r = n;
	return c->i > start;
}

/* section-part: nz-number *("." nz-number), each below 2^32, at most
 * IMAP_FETCH_MAX_DEPTH of them.  Stops before a "." that is not followed by
 * a digit (the section-text follows). */
static int parse_part(struct scan *c, struct imap_fetch_item *it,
                      const char **error_r)
{
	for (;;) {
		uint64_t n;

		if (peek(c) == '0') {
			*error_r = "Part numbers start at 1";
			return -1;
		}
		if (!take_number64(c, &n) || n > UINT32_MAX) {
			*error_r = "Invalid part number in section";
			return -1;
		}
		if (it->depth == IMAP_FETCH_MAX_DEPTH) {
			*error_r = "Section nested too deeply";
			return -1;
		}
		it->path[it->depth++] = (uint32_t)n;
		if (peek(c) != '.')
			return 0;
		c->i++;
		if (peek(c) < '0' || peek(c) > '9')
			return 0;
	}
}

static bool field_char_ok(unsigned char ch)
{
	/* RFC 5322 §3.6.8 ftext: printable US-ASCII but ":". */
	return ch >= 33 && ch <= 126 && ch != ':';
}

/* One header-fld-name (astring): a quoted string or a run of ASTRING-CHARs,
 * into buf (NUL-terminated, upper-cased). */
static int parse_field_name(struct scan *c, char *buf, size_t *n_r,
                            const char **error_r)
{
	size_t n = 0;
	bool quoted = peek(c) == '"';

	if (quoted)
		c->i++;
	while (!at_end(c)) {
		int ch = peek(c);

		if (quoted && ch == '"')
			break;
		if (!quoted &&
		    (ch == ' ' || ch == ')' || ch == '(' || ch == '"' ||
		     ch == '{' || ch == '%' || ch == '*' || ch == ']'))
			break;
		if (quoted && ch == '\\') {
			c->i++;
			ch = peek(c);
			if (ch != '"' && ch != '\\')
				break;
		}
		if (!field_char_ok((unsigned char)ch)) {
			*error_r = "Invalid header field name";
			return -1;
		}
		if (n == IMAP_FETCH_MAX_FIELD_LEN) {
			*error_r = "Header field name too long";
			return -1;
		}
		buf[n++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
		c->i++;
	}
	if (quoted) {
		if (peek(c) != '"') {
			*error_r = "Invalid quoted header field name";
			return -1;
		}
		c->i++;
	}
	if (n == 0) {
		*error_r = "Empty header field name";
		return -1;
	}
	buf[n] = '\0';
	*n_r = n;
	return 0;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")". */
static int parse_header_list(struct scan *c, struct imap_arena *arena,
                             struct imap_fetch_item *it, const char **error_r)
{
	char buf[IMAP_FETCH_MAX_FIELD_LEN + 1];
	char *names[IMAP_FETCH_MAX_FIELDS];
	size_t n = 0;

	if (!take(c, " (")) {
		*error_r = "HEADER.FIELDS needs a list of field names";
		return -1;
	}
	for (;;) {
		size_t len;

		if (n == IMAP_FETCH_MAX_FIELDS) {
			*error_r = "Too many header field names";
			return -1;
		}
		if (parse_field_name(c, buf, &len, error_r) < 0)
			return -1;
		names[n] = imap_arena_alloc(arena, len + 1);
		memcpy(names[n++], buf, len + 1);
		if (peek(c) == ')')
			break;
		if (peek(c) != ' ') {
			*error_r = "Invalid header field list";
			return -1;
		}
		c->i++;
	}
	c->i++;
	it->fields = imap_arena_alloc(arena, n * sizeof(*it->fields));
	memcpy(it->fields, names, n * sizeof(*names));
	it->n_fields = n;
	return 0;
}

/* section-text after the part numbers (or section-msgtext alone). */
static int parse_section_text(struct scan *c, struct imap_arena *arena,
                              struct imap_fetch_item *it, const char **error_r)
{
	if (take(c, "HEADER.FIELDS.NOT")) {
		it->spec = IMAP_SPEC_FIELDS_NOT;
		return parse_header_list(c, arena, it, error_r);
	}
	if (take(c, "HEADER.FIELDS")) {
		it->spec = IMAP_SPEC_FIELDS;
		return parse_header_list(c, arena, it, error_r);
	}
	if (take(c, "HEADER")) {
		it->spec = IMAP_SPEC_HEADER;
	} else if (take(c, "TEXT")) {
		it->spec = IMAP_SPEC_TEXT;
	} else if (take(c, "MIME")) {
		/* RFC 9051 §6.4.5.1: MIME MUST be prefixed by a part. */
		if (it->depth == 0) {
			*error_r = "MIME needs a part number";
			return -1;
		}
		it->spec = IMAP_SPEC_MIME;
	} else {
		*error_r = "Invalid section";
		return -1;
	}
	return 0;
}

/* The text between "[" and "]" (section or section-binary). */
static int parse_section(struct scan *c, struct imap_arena *arena,
                         struct imap_fetch_item *it, bool binary,
                         const char **error_r)
{
	if (peek(c) == ']')
		return 0;
	if (peek(c) >= '0' && peek(c) <= '9') {
		if (parse_part(c, it, error_r) < 0)
			return -1;
		/* parse_part stops after a "." only when a section-text
		 * follows; otherwise only "]" may. */
		if (c->s[c->i - 1] != '.')
			return 0;
		if (peek(c) == ']') {
			*error_r = "Invalid section";
			return -1;
		}
	}
	if (binary) {
		/* RFC 3516 §7: section-binary is part numbers only. */
		*error_r = "BINARY takes only part numbers";
		return -1;
	}
	return parse_section_text(c, arena, it, error_r);
}

/* partial = "<" number64 "." nz-number64 ">" (RFC 9051 §9). */
static int parse_partial(struct scan *c, struct imap_fetch_item *it,
                         const char **error_r)
{
	if (at_end(c))
		return 0;
	if (!take(c, "<") || !take_number64(c, &it->offset) || !take(c, ".") ||
	    !take_number64(c, &it->length) || !take(c, ">") || !at_end(c)) {
		*error_r = "Invalid partial <offset.length>";
		return -1;
	}
	if (it->length == 0) {
		*error_r = "Partial length must not be 0";
		return -1;
	}
	it->partial = true;
	return 0;
}

/* Append field to b as an astring (atom when it is one, else quoted). */
static void add_astring(struct po_buf *b, const char *field)
{
	bool atom = true;

	for (const char *p = field; *p != '\0'; p++) {
		if (strchr("(){%*\"\\]", *p) != NULL)
			atom = false;
	}
	if (atom) {
		po_buf_add_str(b, field);
		return;
	}
	po_buf_add(b, "\"", 1);
	for (const char *p = field; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			po_buf_add(b, "\\", 1);
		po_buf_add(b, p, 1);
	}
	po_buf_add(b, "\"", 1);
}

static const char *const spec_names[] = {
        [IMAP_SPEC_NONE] = "",
        [IMAP_SPEC_HEADER] = "HEADER",
        [IMAP_SPEC_FIELDS] = "HEADER.FIELDS",
        [IMAP_SPEC_FIELDS_NOT] = "HEADER.FIELDS.NOT",
        [IMAP_SPEC_TEXT] = "TEXT",
        [IMAP_SPEC_MIME] = "MIME",
};

/* The response name: "BODY[1.2.HEADER.FIELDS (A B)]", in the arena. */
static const char *section_name(const char *prefix,
                                const struct imap_fetch_item *it,
                                struct imap_arena *arena)
{
	struct po_buf b = PO_BUF_INIT;
	char *name;

	po_buf_printf(&b, "%s[", prefix);
	for (size_t i = 0; i < it->depth; i++)
		po_buf_printf(&b, i == 0 ? "%u" : ".%u", it->path[i]);
	if (it->spec != IMAP_SPEC_NONE)
		po_buf_printf(&b, "%s%s", it->depth > 0 ? "." : "",
		              spec_names[it->spec]);
	for (size_t i = 0; i < it->n_fields; i++) {
		po_buf_add_str(&b, i == 0 ? " (" : " ");
		add_astring(&b, it->fields[i]);
	}
	po_buf_add_str(&b, it->n_fields > 0 ? ")]" : "]");
	name = imap_arena_alloc(arena, b.len + 1);
	memcpy(name, b.data, b.len + 1);
	po_buf_deinit(&b);
	return name;
}

/* Items without a section; RFC822* are BODY[...] under another name
 * (RFC 3501 §6.4.5). */
static int parse_simple(const char *s, size_t len, struct imap_fetch_item *it,
                        const char **error_r)
{
	static const struct {
		const char *name;
		enum imap_fetch_kind kind;
		enum imap_fetch_spec spec;
		bool seen;
	} simple[] = {
	        {"FLAGS", IMAP_FETCH_FLAGS, IMAP_SPEC_NONE, false},
	        {"INTERNALDATE", IMAP_FETCH_INTERNALDATE, IMAP_SPEC_NONE,
	         false},
	        {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, IMAP_SPEC_NONE, false},
	        {"ENVELOPE", IMAP_FETCH_ENVELOPE, IMAP_SPEC_NONE, false},
	        {"BODY", IMAP_FETCH_BODY, IMAP_SPEC_NONE, false},
	        {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, IMAP_SPEC_NONE,
	         false},
	        {"UID", IMAP_FETCH_UID, IMAP_SPEC_NONE, false},
	        {"RFC822", IMAP_FETCH_SECTION, IMAP_SPEC_NONE, true},
	        {"RFC822.HEADER", IMAP_FETCH_SECTION, IMAP_SPEC_HEADER, false},
	        {"RFC822.TEXT", IMAP_FETCH_SECTION, IMAP_SPEC_TEXT, true},
	};

	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (strlen(simple[i].name) == len &&
		    strncasecmp(simple[i].name, s, len) == 0) {
			it->kind = simple[i].kind;
			it->spec = simple[i].spec;
			it->sets_seen = simple[i].seen;
			it->name = simple[i].name;
			return 0;
		}
	}
	if ((len == 3 && strncasecmp(s, "ALL", 3) == 0) ||
	    (len == 4 && strncasecmp(s, "FAST", 4) == 0) ||
	    (len == 4 && strncasecmp(s, "FULL", 4) == 0))
		*error_r = "ALL, FAST and FULL must be used alone";
	else
		*error_r = "Unknown FETCH item";
	return -1;
}

int imap_fetch_parse_item(const char *s, size_t len, struct imap_arena *arena,
                          struct imap_fetch_item *it, const char **error_r)
{
	const char *br = memchr(s, '[', len);
	struct scan c = {s, len, 0};
	const char *prefix;
	bool binary = false;

	memset(it, 0, sizeof(*it));
	if (br == NULL)
		return parse_simple(s, len, it, error_r);
	c.i = (size_t)(br - s);
	if (c.i == 4 && strncasecmp(s, "BODY", 4) == 0) {
		it->kind = IMAP_FETCH_SECTION;
		it->sets_seen = true;
		prefix = "BODY";
	} else if (c.i == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0) {
		it->kind = IMAP_FETCH_SECTION;
		prefix = "BODY";
	} else if (c.i == 6 && strncasecmp(s, "BINARY", 6) == 0) {
		it->kind = IMAP_FETCH_BINARY;
		it->sets_seen = true;
		prefix = "BINARY";
	} else if (c.i == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0) {
		it->kind = IMAP_FETCH_BINARY;
		prefix = "BINARY";
	} else if (c.i == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0) {
		it->kind = IMAP_FETCH_BINARY_SIZE;
		prefix = "BINARY.SIZE";
	} else {
		*error_r = "Unknown FETCH item";
		return -1;
	}
	binary = it->kind != IMAP_FETCH_SECTION;
	c.i++;
	if (parse_section(&c, arena, it, binary, error_r) < 0)
		return -1;
	if (!take(&c, "]")) {
		*error_r = "Invalid section";
		return -1;
	}
	if (it->kind == IMAP_FETCH_BINARY_SIZE && !at_end(&c)) {
		*error_r = "BINARY.SIZE takes no partial";
		return -1;
	}
	if (parse_partial(&c, it, error_r) < 0)
		return -1;
	it->name = section_name(prefix, it, arena);
	return 0;
}

/* The macros of RFC 9051 §6.4.5. */
static int expand_macro(const char *s, size_t len, struct imap_arena *arena,
                        struct imap_fetch *f)
{
	static const char *const all[] = {"FLAGS", "INTERNALDATE",
	                                  "RFC822.SIZE", "ENVELOPE", "BODY"};
	size_t n;
	const char *err;

	if (len == 3 && strncasecmp(s, "ALL", 3) == 0)
		n = 4;
	else if (len == 4 && strncasecmp(s, "FAST", 4) == 0)
		n = 3;
	else if (len == 4 && strncasecmp(s, "FULL", 4) == 0)
		n = 5;
	else
		return 0;
	f->items = imap_arena_alloc(arena, n * sizeof(*f->items));
	for (size_t i = 0; i < n; i++) {
		if (imap_fetch_parse_item(all[i], strlen(all[i]), arena,
		                          &f->items[i], &err) < 0)
			abort(); /* our own names always parse */
	}
	f->n_items = n;
	return 1;
}

/* One item or a list of items into f->items. */
static int parse_items(const struct imap_arg *arg, struct imap_arena *arena,
                       struct imap_fetch *f, const char **error_r)
{
	const struct imap_arg *first = arg;
	size_t n = 1;

	if (arg->type == IMAP_ARG_ATOM &&
	    expand_macro(arg->str, arg->len, arena, f) > 0)
		return 0;
	if (imap_arg_get_list(arg, &first, &n) && n == 0) {
		*error_r = "Empty FETCH item list";
		return -1;
	}
	if (n > IMAP_FETCH_MAX_ITEMS) {
		*error_r = "Too many FETCH items";
		return -1;
	}
	f->items = imap_arena_alloc(arena, n * sizeof(*f->items));
	for (const struct imap_arg *a = first; a != NULL && f->n_items < n;
	     a = a->next) {
		if (a->type != IMAP_ARG_ATOM) {
			*error_r = a->type == IMAP_ARG_LIST
			                   ? "Nested list in FETCH items"
			                   : "Invalid FETCH item";
			return -1;
		}
		if (imap_fetch_parse_item(a->str, a->len, arena,
		                          &f->items[f->n_items], error_r) < 0)
			return -1;
		f->n_items++;
	}
	return 0;
}

int imap_fetch_parse_args(const struct imap_arg *args, size_t nargs,
                          struct imap_arena *arena, struct imap_fetch *f,
                          const char **error_r)
{
	memset(f, 0, sizeof(*f));
	if (args == NULL || args->type != IMAP_ARG_ATOM) {
		*error_r = "Missing sequence set";
		return -1;
	}
	if (imap_seqset_parse(args->str, args->len, &f->set, error_r) < 0)
		return -1;
	if (nargs < 2 || args->next == NULL) {
		*error_r = "Missing FETCH items";
		goto fail;
	}
	if (parse_items(args->next, arena, f, error_r) < 0)
		goto fail;
	if (nargs > 2) {
		/* RFC 4466 §2.4: modifiers we do not support are BAD;
		 * CHANGEDSINCE needs CONDSTORE, which is not announced. */
		*error_r = nargs == 3 && args->next->next->type == IMAP_ARG_LIST
		                   ? "Unknown FETCH modifier"
		                   : "Too many FETCH arguments";
		goto fail;
	}
	for (size_t i = 0; i < f->n_items; i++) {
		const struct imap_fetch_item *it = &f->items[i];

		f->sets_seen |= it->sets_seen;
		f->has_flags |= it->kind == IMAP_FETCH_FLAGS;
		f->has_uid |= it->kind == IMAP_FETCH_UID;
	}
	return 0;
fail:
	imap_seqset_deinit(&f->set);
	f->n_items = 0;
	return -1;
}

void imap_fetch_deinit(struct imap_fetch *f)
{
	imap_seqset_deinit(&f->set);
	free(f->uids);
	free(f->batch);
	free(f->seen_changed);
	free(f->rbuf);
	po_buf_deinit(&f->pos.mem);
	f->rbuf = NULL;
	f->uids = NULL;
	f->batch = NULL;
	f->seen_changed = NULL;
}

int imap_cmd_fetch_parse(struct imap_cmd *cmd, const char **error_r)
{
	struct imap_fetch *f = xcalloc(1, sizeof(*f));

	if (imap_fetch_parse_args(cmd->args, cmd->nargs, &cmd->arena, f,
	                          error_r) < 0) {
		free(f);
		return -1;
	}
	cmd->data = f;
	return 0;
}

void imap_cmd_fetch_free(void *data)
{
	struct imap_fetch *f = data;

	if (f == NULL)
		return;
	imap_fetch_deinit(f);
	free(f);
}
