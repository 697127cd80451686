/*
 * The LMTP command parser: one line in, a verb and its arguments out, plus
 * the MAIL/RCPT path and parameter parsers.  No I/O and no session state.
 * RFC 5321 §4.1.1 (command syntax), §4.1.2 (paths), RFC 1652 (BODY=).
 * Replies for errors are complete lines with RFC 2034 enhanced codes.
 */
#include "lmtp_private.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int lmtp_parse_command(const char *line, size_t len, struct lmtp_cmd *cmd_r,
                       const char **error_r)
{
	size_t i;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->args = "";
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "500 5.5.2 NUL byte in command\r\n";
		return -1;
	}
	for (i = 0; i < len && line[i] != ' '; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (i >= LMTP_VERB_MAX || !isalpha(ch)) {
			*error_r = "500 5.5.2 Command not recognized\r\n";
			return -1;
		}
		cmd_r->verb[i] = (char)toupper(ch);
	}
	if (i == 0) {
		*error_r = "500 5.5.2 Command not recognized\r\n";
		return -1;
	}
	if (i < len) {
		cmd_r->args = line + i + 1;
		cmd_r->args_len = len - i - 1;
	}
	return 0;
}

/* Is ch allowed in an address we accept? */
static bool addr_char(unsigned char ch)
{
	return ch >= 0x21 && ch <= 0x7e && ch != '<' && ch != '>';
}

int lmtp_parse_path(const char *args, size_t len, const char *prefix,
                    bool allow_empty, char *addr_r, const char **params_r,
                    size_t *params_len_r, const char **error_r)
{
	size_t plen = strlen(prefix), pos, start, end;
	const char *colon;

	*error_r = "501 5.5.4 Syntax error in address\r\n";
	if (len < plen || strncasecmp(args, prefix, plen) != 0) {
		*error_r = strcmp(prefix, "FROM:") == 0
		                   ? "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
		                   : "501 5.5.4 Syntax: RCPT TO:<address>\r\n";
		return -1;
	}
	pos = plen;
	while (pos < len && args[pos] == ' ')
		pos++;
	if (pos >= len || args[pos] != '<')
		return -1;
	start = ++pos;
	while (pos < len && addr_char((unsigned char)args[pos]))
		pos++;
	if (pos >= len || args[pos] != '>')
		return -1;
	end = pos++;
	/* A source route ("@a,@b:user@c") is accepted and dropped
	 * (RFC 5321 §4.1.1.3, §C). */
	if (end > start && args[start] == '@') {
		colon = memchr(args + start, ':', end - start);
		if (colon == NULL)
			return -1;
		start = (size_t)(colon - args) + 1;
	}
	if (end - start > LMTP_ADDR_MAX) {
		*error_r = "501 5.1.3 Address too long\r\n";
		return -1;
	}
	if (end == start && !allow_empty)
		return -1;
	memcpy(addr_r, args + start, end - start);
	addr_r[end - start] = '\0';
	if (pos < len && args[pos] != ' ')
		return -1;
	while (pos < len && args[pos] == ' ')
		pos++;
	*params_r = args + pos;
	*params_len_r = len - pos;
	return 0;
}

/* Is the parameter p[0..n) named name= with one of the given values? */
static bool param_is(const char *p, size_t n, const char *name,
                     const char *const *values)
{
	size_t nl = strlen(name);

	if (n <= nl || strncasecmp(p, name, nl) != 0)
		return false;
	for (size_t i = 0; values[i] != NULL; i++)
		if (n - nl == strlen(values[i]) &&
		    strncasecmp(p + nl, values[i], n - nl) == 0)
			return true;
	return false;
}

static bool size_param(const char *p, size_t n)
{
	if (n <= 5 || strncasecmp(p, "SIZE=", 5) != 0 || n - 5 > 20)
		return false;
	for (size_t i = 5; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

int lmtp_parse_mail_params(const char *params, size_t len, const char **error_r)
{
	static const char *const body[] = {"7BIT", "8BITMIME", NULL};
	size_t pos = 0, start;

	while (pos < len) {
		start = pos;
		while (pos < len && params[pos] != ' ')
			pos++;
		if (pos > start &&
		    !param_is(params + start, pos - start, "BODY=", body) &&
		    !size_param(params + start, pos - start)) {
			*error_r = "555 5.5.4 Unsupported MAIL parameter\r\n";
			return -1;
		}
		while (pos < len && params[pos] == ' ')
			pos++;
	}
	return 0;
}
