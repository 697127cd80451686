/*
 * Fuzz the POP3 command parser (protocols/pop3/pop3_parse.c).  The input
 * is one command line without its CRLF, as the framer delivers it.  The
 * verb must come back upper-case alphabetic, 1..POP3_VERB_MAX letters,
 * and the arguments must point just past it inside the line.  The
 * message-number parser runs on the arguments and on the whole input with
 * several bounds, and its result is compared with a simple reference.
 */
#include "fuzz.h"

#include <string.h>

#include "pop3_private.h"

/* The reference for pop3_parse_numbers: trailing spaces trimmed, numbers
 * of ASCII digits below 2^32 separated by single spaces.  Returns the
 * count, or -1. */
static int ref_numbers(const char *s, size_t len, size_t min, size_t max,
                       uint32_t out[2])
{
	size_t pos = 0, count = 0;

	while (len > 0 && s[len - 1] == ' ')
		len--;
	while (pos < len) {
		uint64_t v = 0;
		size_t start;

		if (count > 0 && s[pos++] != ' ')
			return -1;
		if (count == max)
			return -1;
		for (start = pos; pos < len && s[pos] >= '0' && s[pos] <= '9';
		     pos++) {
			v = v * 10 + (uint64_t)(s[pos] - '0');
			if (v > UINT32_MAX)
				return -1;
		}
		if (pos == start)
			return -1;
		out[count++] = (uint32_t)v;
	}
	return count < min ? -1 : (int)count;
}

static void check_numbers(const char *s, size_t len)
{
	static const size_t bounds[][2] = {{0, 1}, {1, 1}, {1, 2}, {2, 2}};

	for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
		uint32_t got[2] = {0, 0}, want[2] = {0, 0};
		const char *error = NULL;
		int n = pop3_parse_numbers(s, len, bounds[i][0], bounds[i][1],
		                           got, &error);
		int m = ref_numbers(s, len, bounds[i][0], bounds[i][1], want);

		FUZZ_CHECK(n == m);
		if (n < 0) {
			FUZZ_CHECK(error != NULL);
			continue;
		}
		for (int k = 0; k < n; k++)
			FUZZ_CHECK(got[k] == want[k]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct pop3_cmd cmd;
	const char *error = NULL;
	size_t vlen;

	if (pop3_parse_command(line, size, &cmd, &error) < 0) {
		FUZZ_CHECK(error != NULL);
		check_numbers(line, size);
		return 0;
	}
	FUZZ_CHECK(size > 0 && memchr(line, '\0', size) == NULL);
	vlen = strlen(cmd.verb);
	FUZZ_CHECK(vlen >= 1 && vlen <= POP3_VERB_MAX);
	for (size_t i = 0; i < vlen; i++)
		FUZZ_CHECK(cmd.verb[i] >= 'A' && cmd.verb[i] <= 'Z');
	if (cmd.has_args) {
		FUZZ_CHECK(line[vlen] == ' ');
		FUZZ_CHECK(cmd.args == line + vlen + 1);
		FUZZ_CHECK(cmd.args_len == size - vlen - 1);
		check_numbers(cmd.args, cmd.args_len);
	} else {
		FUZZ_CHECK(vlen == size && cmd.args_len == 0);
	}
	check_numbers(line, size);
	return 0;
}
