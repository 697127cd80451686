/*
 * RFC 5322 §3.4 address lists for the IMAP ENVELOPE (RFC 9051 §7.5.2):
 * mailboxes, name-addr with quoted display names, groups (start and end
 * markers), the obsolete source route (RFC 5322 §4.4) kept as adl.
 * Comments are skipped.  Lenient: what does not parse is skipped up to the
 * next comma, never an error.
 */
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct alex {
	const char *p, *end;
};

static void a_skip(struct alex *l)
{
	l->p = mime__skip_cfws(l->p, l->end);
}

static bool a_special(char c)
{
	return strchr("()<>[]:;@\\,\"", c) != NULL;
}

/* Next word (atom with dots, quoted string unquoted, or domain literal)
 * appended to out; returns false at a special or the end. */
static bool a_word(struct alex *l, struct po_buf *out)
{
	a_skip(l);
	if (l->p >= l->end)
		return false;
	if (*l->p == '"') {
		for (l->p++; l->p < l->end && *l->p != '"'; l->p++) {
			if (*l->p == '\\' && l->p + 1 < l->end)
				l->p++;
			po_buf_add(out, l->p, 1);
		}
		if (l->p < l->end)
			l->p++;
		return true;
	}
	if (*l->p == '[') {
		const char *s = l->p;

		while (l->p < l->end && *l->p != ']')
			l->p++;
		if (l->p < l->end)
			l->p++;
		po_buf_add(out, s, (size_t)(l->p - s));
		return true;
	}
	if (a_special(*l->p))
		return false;
	{
		const char *s = l->p;

		while (l->p < l->end && !a_special(*l->p) && *l->p != ' ' &&
		       *l->p != '\t' && *l->p != '\r' && *l->p != '\n')
			l->p++;
		po_buf_add(out, s, (size_t)(l->p - s));
	}
	return true;
}

static bool a_peek(struct alex *l, char c)
{
	a_skip(l);
	return l->p < l->end && *l->p == c;
}

static char *take_or_null(struct po_buf *b)
{
	if (b->len == 0) {
		po_buf_deinit(b);
		return NULL;
	}
	return po_buf_take(b, NULL);
}

static void add_addr(struct mime_addr_list *list, char *name, char *adl,
                     char *mailbox, char *host)
{
	struct mime_address *a;

	if (list->count >= MIME_ADDRS_MAX) {
		free(name);
		free(adl);
		free(mailbox);
		free(host);
		return;
	}
	list->addrs =
	        xrealloc(list->addrs, (list->count + 1) * sizeof(*list->addrs));
	a = &list->addrs[list->count++];
	a->name = name;
	a->adl = adl;
	a->mailbox = mailbox;
	a->host = host;
}

/* Words joined by dots until a special: a local part or a domain. */
static void a_dotted(struct alex *l, struct po_buf *out)
{
	while (a_word(l, out)) {
		/* Atoms already carry their dots; quoted words are joined
		 * as sent. */
	}
	while (a_peek(l, '.') || (l->p < l->end && *l->p == '.')) {
		po_buf_add(out, ".", 1);
		l->p++;
		a_word(l, out);
	}
}

/* "<" [route ":"] addr-spec ">" with l just past "<". */
static void a_angle(struct alex *l, struct mime_addr_list *list, char *name)
{
	struct po_buf adl = PO_BUF_INIT, mbox = PO_BUF_INIT, host = PO_BUF_INIT;

	if (a_peek(l, '@')) {
		/* Obsolete route: "@a,@b:" (RFC 5322 §4.4). */
		while (l->p < l->end && *l->p != ':' && *l->p != '>')
			po_buf_add(&adl, l->p++, 1);
		if (l->p < l->end && *l->p == ':')
			l->p++;
	}
	a_dotted(l, &mbox);
	if (a_peek(l, '@')) {
		l->p++;
		a_dotted(l, &host);
	}
	while (l->p < l->end && *l->p != '>')
		l->p++;
	if (l->p < l->end)
		l->p++;
	if (host.len == 0)
		po_buf_add_str(&host, ".MISSING-HOST-NAME.");
	add_addr(list, name, take_or_null(&adl), take_or_null(&mbox),
	         take_or_null(&host));
}

/* Skip to after the next "," (or to a ";" ending a group). */
static void a_resync(struct alex *l)
{
	while (l->p < l->end && *l->p != ',' && *l->p != ';')
		l->p++;
	if (l->p < l->end && *l->p == ',')
		l->p++;
}

/* One mailbox, group start or group end.  Updates *in_group. */
static void a_one(struct alex *l, struct mime_addr_list *list, bool *in_group)
{
	struct po_buf phrase = PO_BUF_INIT, local = PO_BUF_INIT;
	const char *start;
	size_t words = 0;

	a_skip(l);
	start = l->p;
	/* Phrase words joined by single spaces; local joins them bare. */
	for (;;) {
		size_t before = phrase.len;

		if (words > 0)
			po_buf_add(&phrase, " ", 1);
		if (!a_word(l, &phrase)) {
			phrase.len = before;
			if (phrase.data != NULL)
				phrase.data[before] = '\0';
			break;
		}
		/* An empty quoted word may leave phrase.data NULL. */
		if (phrase.len > before + (words > 0))
			po_buf_add(&local, phrase.data + before + (words > 0),
			           phrase.len - before - (words > 0));
		words++;
	}
	if (a_peek(l, '<')) {
		l->p++;
		po_buf_deinit(&local);
		a_angle(l, list, take_or_null(&phrase));
	} else if (a_peek(l, ':')) {
		l->p++;
		po_buf_deinit(&local);
		if (*in_group)
			add_addr(list, NULL, NULL, NULL, NULL);
		add_addr(list, NULL, NULL, take_or_null(&phrase), NULL);
		*in_group = true;
		return;
	} else if (a_peek(l, '@') && words > 0) {
		struct po_buf host = PO_BUF_INIT;

		l->p++;
		a_dotted(l, &host);
		po_buf_deinit(&phrase);
		if (host.len == 0)
			po_buf_add_str(&host, ".MISSING-HOST-NAME.");
		add_addr(list, NULL, NULL, take_or_null(&local),
		         take_or_null(&host));
	} else if (words > 0) {
		po_buf_deinit(&phrase);
		add_addr(list, NULL, NULL, take_or_null(&local),
		         xstrdup(".MISSING-HOST-NAME."));
	} else {
		po_buf_deinit(&phrase);
		po_buf_deinit(&local);
	}
	po_buf_deinit(&phrase);
	po_buf_deinit(&local);
	if (a_peek(l, ';') && *in_group) {
		l->p++;
		add_addr(list, NULL, NULL, NULL, NULL);
		*in_group = false;
	}
	a_resync(l);
	if (l->p == start && l->p < l->end)
		l->p++; /* Always progress. */
}

void mime__parse_addresses(const char *value, size_t len,
                           struct mime_addr_list *list)
{
	struct alex l = {value, value + len};
	bool in_group = false;

	while (l.p < l.end)
		a_one(&l, list, &in_group);
	if (in_group)
		add_addr(list, NULL, NULL, NULL, NULL);
}

void mime__addr_list_deinit(struct mime_addr_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->addrs[i].name);
		free(list->addrs[i].adl);
		free(list->addrs[i].mailbox);
		free(list->addrs[i].host);
	}
	free(list->addrs);
	memset(list, 0, sizeof(*list));
}
