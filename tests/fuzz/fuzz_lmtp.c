/*
 * Fuzz the LMTP command, path and MAIL parameter parsers
 * (protocols/lmtp/lmtp_parse.c).  The input is one command line without
 * its CRLF.  MAIL and RCPT arguments go through lmtp_parse_path as the
 * session does; the whole input also goes through each parser directly so
 * the fuzzer need not find a verb first.  The address buffer is exactly
 * LMTP_ADDR_MAX + 1 bytes on the heap, so AddressSanitizer sees any
 * overflow.  Every error is a complete reply line.
 */
#include "fuzz.h"

#include <string.h>

#include "lmtp_private.h"

static void check_reply(const char *error)
{
	size_t n;

	FUZZ_CHECK(error != NULL);
	n = strlen(error);
	FUZZ_CHECK(n >= 6 && error[0] >= '2' && error[0] <= '5');
	FUZZ_CHECK(error[n - 2] == '\r' && error[n - 1] == '\n');
}

static void check_path(const char *args, size_t len, const char *prefix,
                       bool allow_empty)
{
	char *addr = malloc(LMTP_ADDR_MAX + 1);
	const char *params = NULL, *error = NULL;
	size_t params_len = 0, alen;

	FUZZ_CHECK(addr != NULL);
	if (lmtp_parse_path(args, len, prefix, allow_empty, addr, &params,
	                    &params_len, &error) < 0) {
		check_reply(error);
		free(addr);
		return;
	}
	alen = strlen(addr);
	FUZZ_CHECK(alen <= LMTP_ADDR_MAX);
	FUZZ_CHECK(alen > 0 || allow_empty);
	for (size_t i = 0; i < alen; i++) {
		unsigned char ch = (unsigned char)addr[i];

		FUZZ_CHECK(ch >= 0x21 && ch <= 0x7e && ch != '<' && ch != '>');
	}
	/* The address came from inside the brackets. */
	FUZZ_CHECK(alen == 0 || memmem(args, len, addr, alen) != NULL);
	FUZZ_CHECK(params >= args && params + params_len == args + len);
	FUZZ_CHECK(params_len == 0 || params[0] != ' ');
	error = NULL;
	if (lmtp_parse_mail_params(params, params_len, &error) < 0)
		check_reply(error);
	free(addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	const char *error = NULL;
	struct lmtp_cmd cmd;
	size_t vlen;

	check_path(line, size, "FROM:", true);
	check_path(line, size, "TO:", false);
	if (lmtp_parse_mail_params(line, size, &error) < 0)
		check_reply(error);

	error = NULL;
	if (lmtp_parse_command(line, size, &cmd, &error) < 0) {
		check_reply(error);
		return 0;
	}
	vlen = strlen(cmd.verb);
	FUZZ_CHECK(vlen >= 1 && vlen <= LMTP_VERB_MAX && vlen <= size);
	for (size_t i = 0; i < vlen; i++)
		FUZZ_CHECK(cmd.verb[i] >= 'A' && cmd.verb[i] <= 'Z');
	FUZZ_CHECK(cmd.args_len == 0 || (cmd.args == line + vlen + 1 &&
	                                 cmd.args_len == size - vlen - 1));
	if (strcmp(cmd.verb, "MAIL") == 0)
		check_path(cmd.args, cmd.args_len, "FROM:", true);
	else if (strcmp(cmd.verb, "RCPT") == 0)
		check_path(cmd.args, cmd.args_len, "TO:", false);
	return 0;
}
