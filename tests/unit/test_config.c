/*
 * Unit tests for the configuration (server/config.c): defaults, a file,
 * -o overrides, and bad values with the error message a person reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* Write text to a fresh file in the working directory; returns its name. */
static const char *write_conf(const char *text)
{
	static const char *name = "test_config.tmp.conf";
	FILE *fp = fopen(name, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return name;
}

static void test_defaults(void **state)
{
	struct po_config c;
	const char *err = NULL;

	(void)state;
	assert_int_equal(config_load(&c, NULL, NULL, 0, &err), 0);
	assert_string_equal(c.data_dir, "./var");
	assert_true(c.hostname[0] != '\0');
	assert_string_equal(c.run_user, "");
	assert_string_equal(c.tls_cert, "");
	assert_int_equal(c.pop3_listen.count, 1);
	assert_string_equal(c.pop3_listen.addr[0].host, "127.0.0.1");
	assert_int_equal(c.pop3_listen.addr[0].port, 1110);
	assert_int_equal(c.imap_listen.addr[0].port, 1143);
	assert_int_equal(c.imaps_listen.addr[0].port, 1993);
	assert_int_equal(c.pop3s_listen.addr[0].port, 1995);
	assert_int_equal(c.lmtp_listen.addr[0].port, 2424);
	assert_int_equal(c.plaintext_auth, PO_PLAINTEXT_LOOPBACK);
	assert_false(c.pop_default);
	assert_true(c.imap_default);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.max_connections_per_ip, 100);
	assert_int_equal(c.max_line_length, 65536);
	assert_int_equal(c.max_message_size, 52428800);
	assert_int_equal(c.prelogin_timeout, 60);
	assert_int_equal(c.idle_timeout, 1800);
	assert_int_equal(c.max_bad_commands, 10);
	assert_int_equal(c.auth_fail_delay_ms, 2000);
	assert_int_equal(c.output_buffer_max, 262144);
	assert_int_equal(c.worker_threads, 4);
	assert_int_equal(c.log_level, LOG_INFO);
}

static void test_sample_file_loads_with_defaults(void **state)
{
	struct po_config c, d;
	const char *err = NULL;

	(void)state;
	assert_int_equal(config_load(&d, NULL, NULL, 0, &err), 0);
	if (config_load(&c, PO_SAMPLE_CONF, NULL, 0, &err) != 0)
		fail_msg("%s", err);
	assert_memory_equal(&c, &d, sizeof(c));
}

static void test_file_values(void **state)
{
	struct po_config c;
	const char *err = NULL;
	const char *path = write_conf(
	        "# comment\n"
	        "data_dir = /srv/mail\n"
	        "pop3_listen = 0.0.0.0:110, [::1]:1110 ,127.0.0.2:5\n"
	        "imap_listen = off\n"
	        "plaintext_auth = no\n"
	        "pop_default = yes\n"
	        "imap_default = false\n"
	        "max_line_length = 1024\n"
	        "max_message_size = 1048576\n"
	        "log_level = debug\n");

	(void)state;
	if (config_load(&c, path, NULL, 0, &err) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.data_dir, "/srv/mail");
	assert_int_equal(c.pop3_listen.count, 3);
	assert_string_equal(c.pop3_listen.addr[1].host, "::1");
	assert_int_equal(c.pop3_listen.addr[1].port, 1110);
	assert_string_equal(c.pop3_listen.addr[2].host, "127.0.0.2");
	assert_int_equal(c.imap_listen.count, 0);
	assert_int_equal(c.plaintext_auth, PO_PLAINTEXT_NO);
	assert_true(c.pop_default);
	assert_false(c.imap_default);
	assert_int_equal(c.max_line_length, 1024);
	assert_int_equal(c.max_message_size, 1048576);
	assert_int_equal(c.log_level, LOG_DEBUG);
	unlink(path);
}

static void test_overrides_win_over_file(void **state)
{
	struct po_config c;
	const char *err = NULL;
	const char *path = write_conf("idle_timeout = 100\n");
	const char *const o[] = {"idle_timeout=200", "lmtp_listen=off",
	                         "tls_cert=/a.pem", "tls_key=/a.key"};

	(void)state;
	if (config_load(&c, path, o, 4, &err) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.idle_timeout, 200);
	assert_int_equal(c.lmtp_listen.count, 0);
	assert_string_equal(c.tls_cert, "/a.pem");
	unlink(path);
}

/* Load text (or overrides) and expect failure with message containing
 * want. */
static void expect_error(const char *text, const char *override,
                         const char *want)
{
	struct po_config c;
	const char *err = NULL;
	const char *path = text != NULL ? write_conf(text) : NULL;

	if (config_load(&c, path, &override, override != NULL ? 1 : 0, &err) !=
	    -1)
		fail_msg("accepted: %s %s", text ? text : "",
		         override ? override : "");
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	if (path != NULL)
		unlink(path);
}

static void test_bad_values_name_file_line_and_key(void **state)
{
	(void)state;
	expect_error("data_dir = x\nbogus = 1\n", NULL,
	             "test_config.tmp.conf:2: unknown key \"bogus\"");
	expect_error("\n\nmax_connections = 0\n", NULL,
	             ":3: bad value for max_connections: expected a number "
	             "from 1 to 1000000");
	expect_error("max_line_length = 12x\n", NULL, "max_line_length");
	expect_error("max_line_length = -1\n", NULL, "max_line_length");
	expect_error("pop_default = maybe\n", NULL, "pop_default");
	expect_error("plaintext_auth = sometimes\n", NULL,
	             "no, loopback or yes");
	expect_error("log_level = loud\n", NULL, "log_level");
	expect_error("pop3_listen = localhost:110\n", NULL, "pop3_listen");
	expect_error("pop3_listen = 127.0.0.1:0\n", NULL, "pop3_listen");
	expect_error("pop3_listen = 127.0.0.1:70000\n", NULL, "pop3_listen");
	expect_error("pop3_listen = ::1:110\n", NULL, "pop3_listen");
	expect_error("pop3_listen = 127.0.0.1:1,\n", NULL, "pop3_listen");
	expect_error("[imap]\nimap_listen = off\n", NULL, ":2: sections");
	expect_error("this is not ini\n", NULL, ":1: syntax error");
	expect_error(NULL, "worker_threads=0", "-o worker_threads: bad value");
	expect_error(NULL, "nokey", "-o nokey: expected key=value");
	expect_error(NULL, "tls_cert=/x.pem", "tls_key");
}

static void test_missing_file(void **state)
{
	struct po_config c;
	const char *err = NULL;

	(void)state;
	assert_int_equal(config_load(&c, "/nonexistent/po.conf", NULL, 0, &err),
	                 -1);
	assert_non_null(strstr(err, "/nonexistent/po.conf"));
}

static void test_config_set_single_key(void **state)
{
	struct po_config c;
	const char *err = NULL;

	(void)state;
	assert_int_equal(config_load(&c, NULL, NULL, 0, &err), 0);
	assert_int_equal(
	        config_set(&c, "pop3_listen", "[::]:995, 0.0.0.0:995", &err),
	        0);
	assert_int_equal(c.pop3_listen.count, 2);
	assert_string_equal(c.pop3_listen.addr[0].host, "::");
	assert_int_equal(config_set(&c, "nope", "1", &err), -1);
	assert_non_null(strstr(err, "unknown key \"nope\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_sample_file_loads_with_defaults),
	        cmocka_unit_test(test_file_values),
	        cmocka_unit_test(test_overrides_win_over_file),
	        cmocka_unit_test(test_bad_values_name_file_line_and_key),
	        cmocka_unit_test(test_missing_file),
	        cmocka_unit_test(test_config_set_single_key),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
