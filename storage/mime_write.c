/*
 * IMAP syntax for a parsed message: ENVELOPE and BODY / BODYSTRUCTURE
 * (RFC 9051 §7.5.2 and the "body" and "envelope" rules of §9; the same
 * shape as RFC 3501 §7.4.2).  Only formatting: the values come from
 * mime.c and mime_addr.c.
 */
#include "mime.h"

#include <inttypes.h>
#include <string.h>

#include "util.h"

/* RFC 9051 §9: a quoted string holds 7-bit text without CR, LF or NUL;
 * anything else, or a long value, goes as a literal. */
static void write_nstring(struct po_buf *out, const char *s)
{
	size_t n;
	bool quoted = true;

	if (s == NULL) {
		po_buf_add_str(out, "NIL");
		return;
	}
	n = strlen(s);
	for (size_t i = 0; i < n && quoted; i++) {
		unsigned char c = (unsigned char)s[i];

		quoted = c != '\r' && c != '\n' && c < 0x80;
	}
	if (!quoted || n >= 1024) {
		po_buf_printf(out, "{%zu}\r\n", n);
		po_buf_add(out, s, n);
		return;
	}
	po_buf_add(out, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			po_buf_add(out, "\\", 1);
		po_buf_add(out, &s[i], 1);
	}
	po_buf_add(out, "\"", 1);
}

static void write_addrs(struct po_buf *out, const struct mime_addr_list *l)
{
	if (l->count == 0) {
		po_buf_add_str(out, "NIL");
		return;
	}
	po_buf_add(out, "(", 1);
	for (size_t i = 0; i < l->count; i++) {
		const struct mime_address *a = &l->addrs[i];

		po_buf_add(out, "(", 1);
		write_nstring(out, a->name);
		po_buf_add(out, " ", 1);
		write_nstring(out, a->adl);
		po_buf_add(out, " ", 1);
		write_nstring(out, a->mailbox);
		po_buf_add(out, " ", 1);
		write_nstring(out, a->host);
		po_buf_add(out, ")", 1);
	}
	po_buf_add(out, ")", 1);
}

void mime_write_envelope(struct po_buf *out, const struct mime_envelope *env)
{
	po_buf_add(out, "(", 1);
	write_nstring(out, env->date);
	po_buf_add(out, " ", 1);
	write_nstring(out, env->subject);
	po_buf_add(out, " ", 1);
	write_addrs(out, &env->from);
	po_buf_add(out, " ", 1);
	write_addrs(out, mime_envelope_sender(env));
	po_buf_add(out, " ", 1);
	write_addrs(out, mime_envelope_reply_to(env));
	po_buf_add(out, " ", 1);
	write_addrs(out, &env->to);
	po_buf_add(out, " ", 1);
	write_addrs(out, &env->cc);
	po_buf_add(out, " ", 1);
	write_addrs(out, &env->bcc);
	po_buf_add(out, " ", 1);
	write_nstring(out, env->in_reply_to);
	po_buf_add(out, " ", 1);
	write_nstring(out, env->message_id);
	po_buf_add(out, ")", 1);
}

static void write_params(struct po_buf *out, const struct mime_param *p,
                         size_t n)
{
	if (n == 0) {
		po_buf_add_str(out, "NIL");
		return;
	}
	po_buf_add(out, "(", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			po_buf_add(out, " ", 1);
		if (p[i].extended) {
			struct po_buf name = PO_BUF_INIT;

			po_buf_printf(&name, "%s*", p[i].name);
			write_nstring(out, name.data);
			po_buf_deinit(&name);
		} else {
			write_nstring(out, p[i].name);
		}
		po_buf_add(out, " ", 1);
		write_nstring(out, p[i].value);
	}
	po_buf_add(out, ")", 1);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void write_ext_tail(struct po_buf *out, const struct mime_part *part)
{
	po_buf_add(out, " ", 1);
	if (part->disposition == NULL) {
		po_buf_add_str(out, "NIL");
	} else {
		po_buf_add(out, "(", 1);
		write_nstring(out, part->disposition);
		po_buf_add(out, " ", 1);
		write_params(out, part->disp_params, part->disp_param_count);
		po_buf_add(out, ")", 1);
	}
	po_buf_add(out, " ", 1);
	write_nstring(out, part->language);
	po_buf_add(out, " ", 1);
	write_nstring(out, part->location);
}

static bool is_message_type(const struct mime_part *part)
{
	return strcmp(part->type, "message") == 0 &&
	       (strcmp(part->subtype, "rfc822") == 0 ||
	        strcmp(part->subtype, "global") == 0);
}

static void write_single(struct po_buf *out, const struct mime_part *part,
                         bool extended)
{
	write_nstring(out, part->type);
	po_buf_add(out, " ", 1);
	write_nstring(out, part->subtype);
	po_buf_add(out, " ", 1);
	write_params(out, part->params, part->param_count);
	po_buf_add(out, " ", 1);
	write_nstring(out, part->id);
	po_buf_add(out, " ", 1);
	write_nstring(out, part->description);
	po_buf_add(out, " ", 1);
	write_nstring(out, part->encoding);
	po_buf_printf(out, " %zu", part->body_len);
	if (part->child_count == 1 && part->children[0]->env != NULL) {
		po_buf_add(out, " ", 1);
		mime_write_envelope(out, part->children[0]->env);
		po_buf_add(out, " ", 1);
		mime_write_bodystructure(out, part->children[0], extended);
		po_buf_printf(out, " %" PRIu64, part->lines);
	} else if (is_message_type(part)) {
		/* An encoded or too deeply nested message has no parsed
		 * child, but RFC 9051 §9 body-type-msg still needs an
		 * envelope, a body and a line count. */
		po_buf_printf(out,
		              " (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
		              "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0) "
		              "%" PRIu64,
		              part->lines);
	} else if (strcmp(part->type, "text") == 0) {
		po_buf_printf(out, " %" PRIu64, part->lines);
	}
	if (extended) {
		po_buf_add(out, " ", 1);
		write_nstring(out, part->md5);
		write_ext_tail(out, part);
	}
}

void mime_write_bodystructure(struct po_buf *out, const struct mime_part *part,
                              bool extended)
{
	bool multi =
	        strcmp(part->type, "multipart") == 0 && part->child_count > 0;

	po_buf_add(out, "(", 1);
	if (!multi) {
		write_single(out, part, extended);
	} else {
		for (size_t i = 0; i < part->child_count; i++)
			mime_write_bodystructure(out, part->children[i],
			                         extended);
		po_buf_add(out, " ", 1);
		write_nstring(out, part->subtype);
		if (extended) {
			po_buf_add(out, " ", 1);
			write_params(out, part->params, part->param_count);
			write_ext_tail(out, part);
		}
	}
	po_buf_add(out, ")", 1);
}
