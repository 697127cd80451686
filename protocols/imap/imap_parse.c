/*
 * The IMAP command parser: tag and command name, the arguments of a complete
 * command (atoms, NIL, quoted strings, literals, literal8, lists) read from
 * the line pieces and literal bodies the core delivered, and the literal
 * announcement at the end of a line.  It does no I/O and allocates only from
 * a struct imap_arena.  What each command's arguments mean is left to the
 * command parsers, which use the imap_arg_get_* helpers; sequence sets are in
 * imap_seqset.c.  RFC 9051 §4 and §9, RFC 3501 §9, RFC 7888.
 */
#include "imap_parse.h"

#include <assert.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define ARENA_BLOCK 4096

struct imap_arena_block {
	struct imap_arena_block *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

void imap_arena_init(struct imap_arena *a)
{
	a->head = NULL;
}

void imap_arena_deinit(struct imap_arena *a)
{
	struct imap_arena_block *b = a->head;

	while (b != NULL) {
		struct imap_arena_block *next = b->next;

		/* Arguments may be a LOGIN password: leave no copy in freed
		 * memory. */
		explicit_bzero(b->data, b->used);
		free(b);
		b = next;
	}
	a->head = NULL;
}

void *imap_arena_alloc(struct imap_arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	struct imap_arena_block *b = a->head;
	void *p;

	assert(size <= SIZE_MAX / 2);
	size = (size + align - 1) / align * align;
	if (size == 0)
		size = align;
	if (b == NULL || b->cap - b->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;

		b = xmalloc(sizeof(*b) + cap);
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

/* CTL = %x00-1F / %x7F; CHAR = %x01-7F (RFC 5234 B.1). */
static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* ASTRING-CHAR = ATOM-CHAR / "]" (RFC 9051 §9). */
static bool is_astring_char(unsigned char c)
{
	if (c >= 0x80 || is_ctl(c))
		return false;
	return strchr("(){ %*\"\\", c) == NULL;
}

static bool is_atom_char(unsigned char c)
{
	return c != ']' && is_astring_char(c);
}

/* list-char = ATOM-CHAR / list-wildcards / resp-specials. */
static bool is_list_char(unsigned char c)
{
	return is_astring_char(c) || c == '%' || c == '*';
}

/* Ends a lenient atom (see struct imap_arg): SP, CTL, 8-bit, ( ) { " \. */
static bool ends_atom(unsigned char c)
{
	return c >= 0x80 || is_ctl(c) || strchr(" (){\"\\", c) != NULL;
}

/* Parse "{" digits ["+"] "}" filling exactly s[0..len).  Returns 0, or -1
 * with *error_r. */
static int parse_announce(const char *s, size_t len, uint64_t *size_r,
                          bool *nonsync_r, const char **error_r)
{
	uint64_t n = 0;
	size_t i = 1, digits = 0;

	if (len < 2 || s[0] != '{' || s[len - 1] != '}') {
		*error_r = "Invalid literal";
		return -1;
	}
	for (; i < len - 1 && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (n > (UINT64_MAX - d) / 10) {
			*error_r = "Literal size too large";
			return -1;
		}
		n = n * 10 + d;
	}
	*nonsync_r = false;
	if (i < len - 1 && s[i] == '+') {
		*nonsync_r = true;
		i++;
	}
	if (digits == 0 || i != len - 1) {
		*error_r = "Invalid literal size";
		return -1;
	}
	*size_r = n;
	return 0;
}

int imap_line_literal(const char *line, size_t len, uint64_t *size_r,
                      bool *nonsync_r, bool *binary_r, const char **error_r)
{
	size_t i;

	if (len == 0 || line[len - 1] != '}')
		return 0;
	/* Scan back over [+] and digits; anything else before a "{" means
	 * the "}" ends an atom (ATOM-CHAR allows "}"). */
	i = len - 1;
	if (i > 0 && line[i - 1] == '+')
		i--;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == 0 || line[i - 1] != '{')
		return 0;
	i--;
	if (parse_announce(line + i, len - i, size_r, nonsync_r, error_r) < 0)
		return -1;
	*binary_r = i > 0 && line[i - 1] == '~';
	return 1;
}

int imap_parse_tag_command(const char *line, size_t len, const char **tag_r,
                           size_t *tag_len_r, const char **cmd_r,
                           size_t *cmd_len_r, size_t *rest_r,
                           const char **error_r)
{
	size_t i = 0, start;

	*tag_r = NULL;
	while (i < len && is_astring_char((unsigned char)line[i]) &&
	       line[i] != '+')
		i++;
	if (i == 0 || (i < len && line[i] != ' ')) {
		*error_r = "Invalid tag";
		return -1;
	}
	*tag_r = line;
	*tag_len_r = i;
	if (i == len) {
		*error_r = "Missing command";
		return -1;
	}
	start = ++i;
	while (i < len && is_atom_char((unsigned char)line[i]))
		i++;
	if (i == start || (i < len && line[i] != ' ')) {
		*error_r = "Invalid command name";
		return -1;
	}
	*cmd_r = line + start;
	*cmd_len_r = i - start;
	if (i < len && ++i == len) {
		*error_r = "Trailing space after command name";
		return -1;
	}
	*rest_r = i;
	return 0;
}

struct parser {
	const struct imap_input *in;
	size_t part, pos; /* the current line part and offset in it */
	struct imap_arena *arena;
	size_t nargs, nlits;
	const char *error;
};

static const struct imap_input_part *cur(const struct parser *p)
{
	return &p->in->parts[p->part];
}

/* The next byte of the current line, or -1 at its end. */
static int peek(const struct parser *p)
{
	const struct imap_input_part *pt = cur(p);

	return p->pos < pt->len ? (unsigned char)pt->data[p->pos] : -1;
}

static int fail(struct parser *p, const char *error)
{
	p->error = error;
	return -1;
}

static char *arena_copy(struct parser *p, const char *s, size_t len)
{
	char *c = imap_arena_alloc(p->arena, len + 1);

	memcpy(c, s, len);
	return c;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; the escapes are \" and \\ only. */
static int parse_quoted(struct parser *p, struct imap_arg *arg)
{
	const struct imap_input_part *pt = cur(p);
	char *out = imap_arena_alloc(p->arena, pt->len - p->pos);
	size_t n = 0, i = p->pos + 1;

	for (;; i++) {
		unsigned char c;

		if (i >= pt->len)
			return fail(p, "Unterminated quoted string");
		c = (unsigned char)pt->data[i];
		if (c == '"')
			break;
		if (c == '\0' || c == '\r' || c == '\n')
			return fail(p, "Invalid character in quoted string");
		if (c == '\\') {
			if (++i >= pt->len)
				return fail(p, "Unterminated quoted string");
			c = (unsigned char)pt->data[i];
			if (c != '"' && c != '\\')
				return fail(p, "Invalid escape in quoted "
				               "string");
		}
		out[n++] = (char)c;
	}
	arg->type = IMAP_ARG_STRING;
	arg->str = out;
	arg->len = n;
	p->pos = i + 1;
	return 0;
}

/* A literal announced at the end of this line part: its bytes are the next
 * part and the command goes on in the part after that. */
static int parse_literal(struct parser *p, struct imap_arg *arg, bool binary)
{
	const struct imap_input_part *pt = cur(p), *lit;
	size_t start = p->pos + (binary ? 1 : 0);
	uint64_t size;
	bool nonsync;
	const char *error;

	if (parse_announce(pt->data + start, pt->len - start, &size, &nonsync,
	                   &error) < 0)
		return fail(p, error);
	if (p->part + 2 >= p->in->count || !p->in->parts[p->part + 1].literal ||
	    p->in->parts[p->part + 2].literal)
		return fail(p, "Literal without its data");
	lit = &p->in->parts[p->part + 1];
	if (lit->len != size)
		return fail(p, "Literal of the wrong size");
	if (!binary && memchr(lit->data, '\0', lit->len) != NULL)
		return fail(p, "NUL in literal (use literal8)");
	arg->type = IMAP_ARG_STRING;
	arg->flags = IMAP_ARG_F_LITERAL | (binary ? IMAP_ARG_F_LITERAL8 : 0) |
	             (nonsync ? IMAP_ARG_F_NONSYNC : 0);
	arg->str = lit->data;
	arg->len = lit->len;
	p->nlits++;
	p->part += 2;
	p->pos = 0;
	return 0;
}

/* A lenient atom (see struct imap_arg); "[" ... "]" may hold SP and
 * parentheses, for FETCH's BODY[...] (RFC 9051 §6.4.5). */
static int parse_atom(struct parser *p, struct imap_arg *arg)
{
	const struct imap_input_part *pt = cur(p);
	size_t i = p->pos;

	if (pt->data[i] == '\\')
		i++;
	while (i < pt->len) {
		unsigned char c = (unsigned char)pt->data[i];

		if (c == '[') {
			while (i < pt->len && pt->data[i] != ']') {
				c = (unsigned char)pt->data[i++];
				if (c >= 0x80 || is_ctl(c))
					return fail(p, "Invalid character in "
					               "section");
			}
			if (i == pt->len)
				return fail(p, "Missing ]");
		} else if (ends_atom(c)) {
			break;
		}
		i++;
	}
	if (i == p->pos || (i == p->pos + 1 && pt->data[p->pos] == '\\'))
		return fail(p, "Invalid character");
	arg->type = IMAP_ARG_ATOM;
	arg->len = i - p->pos;
	arg->str = arena_copy(p, pt->data + p->pos, arg->len);
	if (arg->len == 3 && strncasecmp(arg->str, "NIL", 3) == 0)
		arg->type = IMAP_ARG_NIL;
	p->pos = i;
	return 0;
}

static int parse_items(struct parser *p, unsigned depth, bool in_list,
                       struct imap_arg **first_r, size_t *count_r);

static int parse_arg(struct parser *p, unsigned depth, struct imap_arg *arg)
{
	const struct imap_input_part *pt = cur(p);
	int c = peek(p);

	if (++p->nargs > IMAP_PARSE_MAX_ARGS)
		return fail(p, "Too many arguments");
	switch (c) {
	case -1:
		/* Only "(" at the end of a line gets here. */
		return fail(p, "Missing )");
	case '(':
		if (depth + 1 > IMAP_PARSE_MAX_DEPTH)
			return fail(p, "Lists nested too deeply");
		p->pos++;
		arg->type = IMAP_ARG_LIST;
		return parse_items(p, depth + 1, true, &arg->children,
		                   &arg->count);
	case ')':
		return fail(p, "Unexpected )");
	case '"':
		return parse_quoted(p, arg);
	case '{':
		return parse_literal(p, arg, false);
	case '~':
		if (p->pos + 1 < pt->len && pt->data[p->pos + 1] == '{')
			return parse_literal(p, arg, true);
		return parse_atom(p, arg);
	default:
		return parse_atom(p, arg);
	}
}

/* Members of a list (after its "(", through its ")") or the top level
 * (through the end of the last line), single SP between them. */
static int parse_items(struct parser *p, unsigned depth, bool in_list,
                       struct imap_arg **first_r, size_t *count_r)
{
	struct imap_arg **tail = first_r;

	*first_r = NULL;
	*count_r = 0;
	if (in_list && peek(p) == ')') {
		p->pos++;
		return 0;
	}
	if (!in_list && peek(p) < 0)
		return 0;
	for (;;) {
		struct imap_arg *arg = imap_arena_alloc(p->arena, sizeof(*arg));
		int c;

		if (parse_arg(p, depth, arg) < 0)
			return -1;
		*tail = arg;
		tail = &arg->next;
		(*count_r)++;
		c = peek(p);
		if (c < 0) {
			if (in_list)
				return fail(p, "Missing )");
			return 0;
		}
		if (in_list && c == ')') {
			p->pos++;
			return 0;
		}
		if (c != ' ')
			return fail(p, "Expected a space between arguments");
		p->pos++;
		c = peek(p);
		if (c < 0 || c == ' ' || (in_list && c == ')'))
			return fail(p, "Unexpected space");
	}
}

int imap_parse_args(const struct imap_input *in, struct imap_arena *arena,
                    struct imap_arg **args_r, size_t *count_r,
                    size_t *literals_r, const char **error_r)
{
	struct parser p = {.in = in, .arena = arena};

	*args_r = NULL;
	*count_r = 0;
	*literals_r = 0;
	if (in->count == 0 || in->parts[0].literal) {
		*error_r = "Missing command line";
		return -1;
	}
	if (parse_items(&p, 0, false, args_r, count_r) < 0 ||
	    (p.part + 1 != in->count &&
	     fail(&p, "Data after the end of the command") < 0)) {
		*error_r = p.error;
		*args_r = NULL;
		*count_r = 0;
		return -1;
	}
	*literals_r = p.nlits;
	return 0;
}

/* Is every byte of arg's text accepted by ok? */
static bool all_chars(const struct imap_arg *arg, bool (*ok)(unsigned char))
{
	for (size_t i = 0; i < arg->len; i++) {
		if (!ok((unsigned char)arg->str[i]))
			return false;
	}
	return arg->len > 0;
}

static bool is_bare(const struct imap_arg *arg)
{
	return arg != NULL &&
	       (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL);
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (!is_bare(arg) || !all_chars(arg, is_atom_char))
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r,
                         size_t *len_r)
{
	if (arg == NULL || arg->type != IMAP_ARG_STRING)
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r,
                          size_t *len_r)
{
	if (is_bare(arg) && all_chars(arg, is_astring_char)) {
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r,
                          size_t *len_r)
{
	if (arg != NULL && arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		*len_r = 0;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool imap_arg_get_list_mailbox(const struct imap_arg *arg, const char **str_r,
                               size_t *len_r)
{
	if (is_bare(arg) && all_chars(arg, is_list_char)) {
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

/* 1*DIGIT no larger than max. */
static bool get_number(const struct imap_arg *arg, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;

	if (arg == NULL || arg->type != IMAP_ARG_ATOM || arg->len == 0)
		return false;
	for (size_t i = 0; i < arg->len; i++) {
		char c = arg->str[i];

		if (c < '0' || c > '9')
			return false;
		if (n > (max - (unsigned)(c - '0')) / 10)
			return false;
		n = n * 10 + (unsigned)(c - '0');
	}
	*n_r = n;
	return true;
}

bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *n_r)
{
	uint64_t n;

	if (!get_number(arg, UINT32_MAX, &n))
		return false;
	*n_r = (uint32_t)n;
	return true;
}

bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *n_r)
{
	return get_number(arg, INT64_MAX, n_r);
}

bool imap_arg_get_list(const struct imap_arg *arg,
                       const struct imap_arg **first_r, size_t *count_r)
{
	if (arg == NULL || arg->type != IMAP_ARG_LIST)
		return false;
	*first_r = arg->children;
	*count_r = arg->count;
	return true;
}
