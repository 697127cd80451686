/*
 * MIME structure parsing (see mime.h for the contract): header blocks and
 * unfolding (RFC 5322 §2.2), Content-* fields (RFC 2045), parameters with
 * RFC 2231 continuations, multipart splitting (RFC 2046 §5.1.1) and
 * encapsulated messages.  Address lists are in mime_addr.c; the IMAP
 * writers are not here.
 */
#include "mime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

struct mime_ctx {
	const char *msg;
	size_t parts;
};

char *mime__strndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *strndup_lower(const char *s, size_t n)
{
	char *p = mime__strndup(s, n);

	for (size_t i = 0; i < n; i++)
		p[i] = (char)tolower((unsigned char)p[i]);
	return p;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* The end of the line starting at pos (the index after its LF, or end). */
static size_t line_next(const char *s, size_t pos, size_t end)
{
	const char *lf = memchr(s + pos, '\n', end - pos);

	return lf == NULL ? end : (size_t)(lf - s) + 1;
}

/* Length of the line [pos, next) without its CRLF or LF. */
static size_t line_len(const char *s, size_t pos, size_t next)
{
	size_t n = next - pos;

	if (n > 0 && s[pos + n - 1] == '\n')
		n--;
	if (n > 0 && s[pos + n - 1] == '\r')
		n--;
	return n;
}

/* One header field: name [name_off, +name_len), raw value [val_off, val_end)
 * including folds.  Advances *pos past the field.  Returns false at the
 * end of the header block. */
static bool next_field(const char *s, size_t *pos, size_t end, size_t *name_off,
                       size_t *name_len, size_t *val_off, size_t *val_end)
{
	while (*pos < end) {
		size_t p = *pos, next = line_next(s, p, end);
		size_t n = line_len(s, p, next);
		const char *colon = memchr(s + p, ':', n);

		if (n == 0)
			return false;
		/* Continuation lines are consumed with their field; a stray
		 * one, or a line without a colon, is skipped. */
		*pos = next;
		if (colon == NULL || is_wsp(s[p]))
			continue;
		*name_off = p;
		*name_len = (size_t)(colon - (s + p));
		while (*name_len > 0 && is_wsp(s[p + *name_len - 1]))
			(*name_len)--;
		*val_off = (size_t)(colon - s) + 1;
		while (*pos < end && is_wsp(s[*pos]))
			*pos = line_next(s, *pos, end);
		*val_end = *pos;
		return true;
	}
	return false;
}

/* Append the unfolded, trimmed value s[off, end) to out, at most
 * MIME_FIELD_MAX bytes: CR and LF are dropped (RFC 5322 §2.2.3). */
static void unfold(const char *s, size_t off, size_t end, struct po_buf *out)
{
	size_t start = out->len, kept = 0;

	while (off < end && is_wsp(s[off]))
		off++;
	for (; off < end && kept < MIME_FIELD_MAX; off++) {
		if (s[off] == '\r' || s[off] == '\n')
			continue;
		po_buf_add(out, &s[off], 1);
		kept++;
	}
	while (out->len > start && is_wsp(out->data[out->len - 1]))
		out->data[--out->len] = '\0';
}

int mime_header_get(const char *msg, size_t hdr_off, size_t hdr_len,
                    const char *name, struct po_buf *value_r)
{
	size_t pos = hdr_off, end = hdr_off + hdr_len, nlen = strlen(name);
	size_t no, nl, vo, ve;

	while (next_field(msg, &pos, end, &no, &nl, &vo, &ve)) {
		if (nl == nlen && strncasecmp(msg + no, name, nl) == 0) {
			if (value_r->data == NULL)
				po_buf_add(value_r, "", 0);
			unfold(msg, vo, ve, value_r);
			return 1;
		}
	}
	return 0;
}

/* A lexer over an unfolded structured value (RFC 2045 §5.1 tokens). */
struct lex {
	const char *p, *end;
};

/* Skip folding white space and comments, nested ones included
 * (RFC 5322 §3.2.2); bounded by the input since every step consumes a byte.
 * Shared by the Content-* lexer here and the address lexer in mime_addr.c. */
const char *mime__skip_cfws(const char *p, const char *end)
{
	while (p < end) {
		int depth = 0;

		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			p++;
			continue;
		}
		if (*p != '(')
			return p;
		for (; p < end; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
	return p;
}

static void skip_cfws(struct lex *l)
{
	l->p = mime__skip_cfws(l->p, l->end);
}

static bool is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* An RFC 2045 token (8-bit bytes tolerated). */
static bool lex_token(struct lex *l, const char **s, size_t *n)
{
	const char *start;

	skip_cfws(l);
	start = l->p;
	while (l->p < l->end && !is_tspecial(*l->p) &&
	       (unsigned char)*l->p > ' ' && *l->p != 0x7f)
		l->p++;
	*s = start;
	*n = (size_t)(l->p - start);
	return *n > 0;
}

/* A quoted-string or a token, unquoted, appended to out. */
static bool lex_value(struct lex *l, struct po_buf *out)
{
	const char *s;
	size_t n;

	skip_cfws(l);
	if (l->p < l->end && *l->p == '"') {
		for (l->p++; l->p < l->end && *l->p != '"'; l->p++) {
			if (*l->p == '\\' && l->p + 1 < l->end)
				l->p++;
			po_buf_add(out, l->p, 1);
		}
		if (l->p < l->end)
			l->p++;
		return true;
	}
	if (!lex_token(l, &s, &n))
		return false;
	po_buf_add(out, s, n);
	return true;
}

static bool lex_char(struct lex *l, char c)
{
	skip_cfws(l);
	if (l->p < l->end && *l->p == c) {
		l->p++;
		return true;
	}
	return false;
}

/* One "name[*N][*]=value" before RFC 2231 joining. */
struct raw_param {
	char *name;
	char *value;
	long section; /* -1 without a section */
	bool encoded; /* trailing '*' */
};

static void raw_param_add(struct raw_param *raw, size_t *count, const char *s,
                          size_t n, struct po_buf *val)
{
	struct raw_param *r = &raw[*count];
	const char *star = memchr(s, '*', n);

	r->section = -1;
	r->encoded = n > 0 && s[n - 1] == '*';
	r->name = strndup_lower(s, star != NULL ? (size_t)(star - s) : n);
	if (star != NULL && star + 1 < s + n && isdigit((unsigned char)star[1]))
		r->section = strtol(star + 1, NULL, 10);
	if (r->section > MIME_PARAMS_MAX)
		r->section = MIME_PARAMS_MAX;
	r->value = mime__strndup(val->data != NULL ? val->data : "", val->len);
	(*count)++;
}

/* Append a plain continuation section to an extended value, %-encoding
 * what RFC 2231 §7 attribute-char does not allow. */
static void add_pct_encoded(struct po_buf *out, const char *v)
{
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c <= ' ' || c >= 0x7f || c == '%' || c == '\'' ||
		    c == '*' || is_tspecial((char)c))
			po_buf_printf(out, "%%%02X", c);
		else
			po_buf_add(out, v, 1);
	}
}

/* Join raw parameters (RFC 2231 §3): sections 0, 1, ... of one name in
 * order, stopping at the first missing one. */
static void join_params(struct raw_param *raw, size_t count,
                        struct mime_param **params_r, size_t *count_r)
{
	struct mime_param *out = xcalloc(count + 1, sizeof(*out));
	size_t n = 0;

	for (size_t i = 0; i < count; i++) {
		struct po_buf v = PO_BUF_INIT;
		bool ext = raw[i].encoded, dup = false;

		if (raw[i].section > 0)
			continue;
		for (size_t k = 0; k < n; k++)
			dup = dup || strcmp(out[k].name, raw[i].name) == 0;
		if (dup)
			continue;
		po_buf_add_str(&v, raw[i].value);
		for (long sec = 1; raw[i].section == 0; sec++) {
			size_t j;

			for (j = 0; j < count; j++)
				if (raw[j].section == sec &&
				    strcmp(raw[j].name, raw[i].name) == 0)
					break;
			if (j == count)
				break;
			if (ext && !raw[j].encoded)
				add_pct_encoded(&v, raw[j].value);
			else
				po_buf_add_str(&v, raw[j].value);
		}
		out[n].name = xstrdup(raw[i].name);
		out[n].value =
		        v.data != NULL ? po_buf_take(&v, NULL) : xstrdup("");
		out[n].extended = ext;
		n++;
	}
	*params_r = out;
	*count_r = n;
}

/* Parse ";" name "=" value pairs from l into params. */
static void parse_params(struct lex *l, struct mime_param **params_r,
                         size_t *count_r)
{
	struct raw_param raw[MIME_PARAMS_MAX] = {0};
	size_t count = 0;

	while (count < MIME_PARAMS_MAX && lex_char(l, ';')) {
		struct po_buf val = PO_BUF_INIT;
		const char *s;
		size_t n;

		if (!lex_token(l, &s, &n))
			continue;
		if (lex_char(l, '=') && lex_value(l, &val))
			raw_param_add(raw, &count, s, n, &val);
		po_buf_deinit(&val);
	}
	join_params(raw, count, params_r, count_r);
	for (size_t i = 0; i < count; i++) {
		free(raw[i].name);
		free(raw[i].value);
	}
}

static void free_params(struct mime_param *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

static void set_default_type(struct mime_part *part, bool digest_child)
{
	free(part->type);
	free(part->subtype);
	free_params(part->params, part->param_count);
	part->params = NULL;
	part->param_count = 0;
	if (digest_child) {
		/* RFC 2046 §5.1.5: the default in a digest. */
		part->type = xstrdup("message");
		part->subtype = xstrdup("rfc822");
		return;
	}
	part->type = xstrdup("text");
	part->subtype = xstrdup("plain");
	part->params = xcalloc(1, sizeof(*part->params));
	part->params[0].name = xstrdup("charset");
	part->params[0].value = xstrdup("us-ascii");
	part->param_count = 1;
}

static void parse_content_type(struct mime_part *part, const char *v, size_t n)
{
	struct lex l = {v, v + n};
	const char *t, *st;
	size_t tn, stn;

	if (!lex_token(&l, &t, &tn) || !lex_char(&l, '/') ||
	    !lex_token(&l, &st, &stn))
		return;
	free(part->type);
	free(part->subtype);
	free_params(part->params, part->param_count);
	part->type = strndup_lower(t, tn);
	part->subtype = strndup_lower(st, stn);
	parse_params(&l, &part->params, &part->param_count);
}

static void parse_disposition(struct mime_part *part, const char *v, size_t n)
{
	struct lex l = {v, v + n};
	const char *t;
	size_t tn;

	if (part->disposition != NULL || !lex_token(&l, &t, &tn))
		return;
	part->disposition = strndup_lower(t, tn);
	parse_params(&l, &part->disp_params, &part->disp_param_count);
}

/* A simple value: trimmed unfolded text, first occurrence wins. */
static void set_string(char **dst, const char *v, size_t n, bool lower)
{
	if (*dst == NULL)
		*dst = lower ? strndup_lower(v, n) : mime__strndup(v, n);
}

static void set_token(char **dst, const char *v, size_t n)
{
	struct lex l = {v, v + n};
	const char *t;
	size_t tn;

	if (*dst == NULL && lex_token(&l, &t, &tn))
		*dst = strndup_lower(t, tn);
}

static struct mime_addr_list *env_list(struct mime_envelope *env,
                                       const char *name, size_t n)
{
	static const char *const names[] = {"from", "sender", "reply-to",
	                                    "to",   "cc",     "bcc"};
	struct mime_addr_list *lists[] = {&env->from,     &env->sender,
	                                  &env->reply_to, &env->to,
	                                  &env->cc,       &env->bcc};

	for (size_t i = 0; i < 6; i++)
		if (strlen(names[i]) == n &&
		    strncasecmp(names[i], name, n) == 0)
			return lists[i];
	return NULL;
}

static void env_field(struct mime_envelope *env, const char *name, size_t nl,
                      const char *v, size_t n)
{
	struct mime_addr_list *list = env_list(env, name, nl);

	if (list != NULL) {
		if (!list->present)
			mime__parse_addresses(v, n, list);
		list->present = true;
	} else if (nl == 4 && strncasecmp(name, "date", 4) == 0) {
		set_string(&env->date, v, n, false);
	} else if (nl == 7 && strncasecmp(name, "subject", 7) == 0) {
		set_string(&env->subject, v, n, false);
	} else if (nl == 11 && strncasecmp(name, "in-reply-to", 11) == 0) {
		set_string(&env->in_reply_to, v, n, false);
	} else if (nl == 10 && strncasecmp(name, "message-id", 10) == 0) {
		set_string(&env->message_id, v, n, false);
	}
}

static void mime_field(struct mime_part *part, const char *name, size_t nl,
                       const char *v, size_t n, bool *have_ct)
{
	if (nl < 8 || strncasecmp(name, "content-", 8) != 0)
		return;
	name += 8;
	nl -= 8;
#define IS(s) (nl == sizeof(s) - 1 && strncasecmp(name, s, nl) == 0)
	if (IS("type") && !*have_ct) {
		*have_ct = true;
		parse_content_type(part, v, n);
	} else if (IS("transfer-encoding")) {
		set_token(&part->encoding, v, n);
	} else if (IS("id")) {
		set_string(&part->id, v, n, false);
	} else if (IS("description")) {
		set_string(&part->description, v, n, false);
	} else if (IS("disposition")) {
		parse_disposition(part, v, n);
	} else if (IS("language")) {
		set_string(&part->language, v, n, false);
	} else if (IS("location")) {
		set_string(&part->location, v, n, false);
	} else if (IS("md5")) {
		set_string(&part->md5, v, n, false);
	}
#undef IS
}

/* Read the header fields of part (and its envelope when env is set). */
static void parse_fields(struct mime_ctx *ctx, struct mime_part *part,
                         struct mime_envelope *env)
{
	size_t pos = part->hdr_off, end = part->hdr_off + part->hdr_len;
	size_t no, nl, vo, ve;
	struct po_buf v = PO_BUF_INIT;
	bool have_ct = false;

	while (next_field(ctx->msg, &pos, end, &no, &nl, &vo, &ve)) {
		po_buf_reset(&v);
		po_buf_add(&v, "", 0);
		unfold(ctx->msg, vo, ve, &v);
		mime_field(part, ctx->msg + no, nl, v.data, v.len, &have_ct);
		if (env != NULL)
			env_field(env, ctx->msg + no, nl, v.data, v.len);
	}
	po_buf_deinit(&v);
	if (part->encoding == NULL)
		part->encoding = xstrdup("7bit");
}

/* Split [off, off + len) into header and body. */
static void split_header(struct mime_ctx *ctx, struct mime_part *part,
                         size_t off, size_t len)
{
	const char *s = ctx->msg;
	size_t pos = off, end = off + len;

	part->part_off = part->hdr_off = off;
	part->part_len = len;
	while (pos < end) {
		size_t next = line_next(s, pos, end);

		if (line_len(s, pos, next) == 0 && next > pos &&
		    s[next - 1] == '\n') {
			part->hdr_len = next - off;
			part->body_off = next;
			part->body_len = end - next;
			return;
		}
		pos = next;
	}
	part->hdr_len = len;
	part->body_off = end;
	part->body_len = 0;
	part->flags |= MIME_PART_NO_BODY_SEP;
}

static uint64_t count_lines(const char *s, size_t len)
{
	uint64_t n = 0;

	for (const char *p = s, *e = s + len;
	     (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		n++;
	if (len > 0 && s[len - 1] != '\n')
		n++;
	return n;
}

static struct mime_part *parse_part(struct mime_ctx *ctx, size_t off,
                                    size_t len, int depth, bool digest_child,
                                    bool is_message);

/* Is the line [pos, pos+n) a delimiter for bnd?  1 = boundary, 2 = close
 * delimiter, 0 = neither (RFC 2046 §5.1.1; trailing white space allowed). */
static int delimiter(const char *s, size_t pos, size_t n, const char *bnd,
                     size_t bl)
{
	size_t i;

	if (n < bl + 2 || s[pos] != '-' || s[pos + 1] != '-' ||
	    memcmp(s + pos + 2, bnd, bl) != 0)
		return 0;
	i = pos + 2 + bl;
	if (i + 2 <= pos + n && s[i] == '-' && s[i + 1] == '-')
		return 2;
	for (; i < pos + n; i++)
		if (!is_wsp(s[i]))
			return 0;
	return 1;
}

static void add_child(struct mime_part *parent, struct mime_part *child)
{
	parent->children = xrealloc(parent->children,
	                            (parent->child_count + 1) * sizeof(child));
	parent->children[parent->child_count++] = child;
}

/* The end of a child's content: the CRLF (or LF) before the delimiter line
 * at dpos belongs to the delimiter. */
static size_t content_end(const char *s, size_t start, size_t dpos)
{
	if (dpos > start && s[dpos - 1] == '\n')
		dpos--;
	if (dpos > start && s[dpos - 1] == '\r')
		dpos--;
	return dpos;
}

static void split_multipart(struct mime_ctx *ctx, struct mime_part *part,
                            int depth)
{
	const char *s = ctx->msg;
	const char *bnd =
	        mime_param_get(part->params, part->param_count, "boundary");
	size_t bl = bnd != NULL ? strlen(bnd) : 0;
	size_t pos = part->body_off, end = part->body_off + part->body_len;
	size_t start = 0;
	bool open = false, digest = strcmp(part->subtype, "digest") == 0;

	if (bl == 0 || bl > MIME_BOUNDARY_MAX)
		return;
	part->flags |= MIME_PART_NO_CLOSE;
	while (pos < end) {
		size_t next = line_next(s, pos, end);
		int d = delimiter(s, pos, line_len(s, pos, next), bnd, bl);

		if (d != 0 && open && ctx->parts < MIME_PARTS_MAX) {
			size_t ce = content_end(s, start, pos);

			add_child(part, parse_part(ctx, start, ce - start,
			                           depth + 1, digest, false));
		}
		if (d == 2) {
			part->flags &= ~(unsigned)MIME_PART_NO_CLOSE;
			return;
		}
		if (d == 1) {
			open = true;
			start = next;
		}
		pos = next;
	}
	if (open && ctx->parts < MIME_PARTS_MAX)
		add_child(part, parse_part(ctx, start, end - start, depth + 1,
		                           digest, false));
}

static bool is_encapsulated(const struct mime_part *part)
{
	return strcmp(part->type, "message") == 0 &&
	       (strcmp(part->subtype, "rfc822") == 0 ||
	        strcmp(part->subtype, "global") == 0) &&
	       strcmp(part->encoding, "base64") != 0 &&
	       strcmp(part->encoding, "quoted-printable") != 0;
}

static struct mime_part *parse_part(struct mime_ctx *ctx, size_t off,
                                    size_t len, int depth, bool digest_child,
                                    bool is_message)
{
	struct mime_part *part = xcalloc(1, sizeof(*part));

	ctx->parts++;
	set_default_type(part, digest_child);
	split_header(ctx, part, off, len);
	if (is_message)
		part->env = xcalloc(1, sizeof(*part->env));
	parse_fields(ctx, part, part->env);
	part->lines = count_lines(ctx->msg + part->body_off, part->body_len);
	if (depth >= MIME_DEPTH_MAX)
		return part;
	if (strcmp(part->type, "multipart") == 0) {
		split_multipart(ctx, part, depth);
		if (part->child_count == 0) {
			part->flags |= MIME_PART_DEGRADED;
			set_default_type(part, false);
			free_params(part->params, part->param_count);
			part->params = NULL;
			part->param_count = 0;
		}
	} else if (is_encapsulated(part) && ctx->parts < MIME_PARTS_MAX) {
		add_child(part, parse_part(ctx, part->body_off, part->body_len,
		                           depth + 1, false, true));
	}
	return part;
}

int mime_parse(const char *msg, size_t len, struct mime_part **root_r)
{
	struct mime_ctx ctx = {msg, 0};

	*root_r = parse_part(&ctx, 0, len, 0, false, true);
	return 0;
}

static void envelope_free(struct mime_envelope *env)
{
	if (env == NULL)
		return;
	free(env->date);
	free(env->subject);
	free(env->in_reply_to);
	free(env->message_id);
	mime__addr_list_deinit(&env->from);
	mime__addr_list_deinit(&env->sender);
	mime__addr_list_deinit(&env->reply_to);
	mime__addr_list_deinit(&env->to);
	mime__addr_list_deinit(&env->cc);
	mime__addr_list_deinit(&env->bcc);
	free(env);
}

void mime_free(struct mime_part **root)
{
	struct mime_part *p = *root;

	if (p == NULL)
		return;
	*root = NULL;
	for (size_t i = 0; i < p->child_count; i++)
		mime_free(&p->children[i]);
	free(p->children);
	free(p->type);
	free(p->subtype);
	free_params(p->params, p->param_count);
	free_params(p->disp_params, p->disp_param_count);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->disposition);
	free(p->language);
	free(p->location);
	envelope_free(p->env);
	free(p);
}

size_t mime_part_count(const struct mime_part *root)
{
	size_t n = 1;

	for (size_t i = 0; i < root->child_count; i++)
		n += mime_part_count(root->children[i]);
	return n;
}

const char *mime_param_get(const struct mime_param *params, size_t count,
                           const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcasecmp(params[i].name, name) == 0)
			return params[i].value;
	return NULL;
}

const struct mime_addr_list *
mime_envelope_sender(const struct mime_envelope *env)
{
	return env->sender.count > 0 ? &env->sender : &env->from;
}

const struct mime_addr_list *
mime_envelope_reply_to(const struct mime_envelope *env)
{
	return env->reply_to.count > 0 ? &env->reply_to : &env->from;
}
