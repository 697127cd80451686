/*
 * The POP3 command parser: bytes of one line in, a struct pop3_cmd out, and
 * the strict parsing of message-number arguments.  No I/O and no session
 * state, so it can be unit-tested and fuzzed on its own.  RFC 1939 §3:
 * keywords are case-insensitive and separated from arguments by a single
 * space; arguments are printable ASCII.  Line length limits are the
 * core's (RFC 2449 §4 allows 255 octets; max_line_length is larger).
 */
#include "pop3_private.h"

#include <ctype.h>
#include <string.h>

int pop3_parse_command(const char *line, size_t len, struct pop3_cmd *cmd_r,
                       const char **error_r)
{
	size_t i;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->args = "";
	if (len == 0) {
		*error_r = "Empty command";
		return -1;
	}
	/* A NUL can never be part of a POP3 line; refuse the whole command
	 * rather than let a C-string consumer cut the line at it. */
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL byte in command";
		return -1;
	}
	for (i = 0; i < len && line[i] != ' '; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (i >= POP3_VERB_MAX || !isalpha(ch)) {
			*error_r = "Unknown command";
			return -1;
		}
		cmd_r->verb[i] = (char)toupper(ch);
	}
	if (i == 0) {
		*error_r = "Unknown command";
		return -1;
	}
	if (i < len) {
		cmd_r->has_args = true;
		cmd_r->args = line + i + 1;
		cmd_r->args_len = len - i - 1;
	}
	return 0;
}

/* Parse one number at s[*pos..len); advance *pos.  Returns 0 or -1. */
static int parse_number(const char *s, size_t len, size_t *pos, uint32_t *out)
{
	uint64_t v = 0;
	size_t start = *pos;

	while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
		v = v * 10 + (uint64_t)(s[*pos] - '0');
		if (v > UINT32_MAX)
			return -1;
		(*pos)++;
	}
	if (*pos == start)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int pop3_parse_numbers(const char *args, size_t len, size_t min, size_t max,
                       uint32_t out[2], const char **error_r)
{
	size_t pos = 0, count = 0, end = len;

	/* Tolerate trailing spaces only. */
	while (end > 0 && args[end - 1] == ' ')
		end--;
	while (pos < end) {
		if (count == max) {
			*error_r = "Too many arguments";
			return -1;
		}
		if (count > 0) {
			if (args[pos] != ' ') {
				*error_r = "Invalid argument: a number is "
				           "expected";
				return -1;
			}
			pos++;
		}
		if (parse_number(args, end, &pos, &out[count]) < 0) {
			*error_r = "Invalid argument: a number is expected";
			return -1;
		}
		count++;
	}
	if (count < min) {
		*error_r = "Missing argument";
		return -1;
	}
	return (int)count;
}
