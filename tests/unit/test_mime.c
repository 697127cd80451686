/*
 * Tests of storage/mime.c, mime_addr.c and mime_write.c: a corpus of
 * tricky messages built here, with offsets checked against the exact bytes
 * they must point at.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "util.h"

static struct mime_part *parse(const char *msg)
{
	struct mime_part *root = NULL;

	assert_int_equal(mime_parse(msg, strlen(msg), &root), 0);
	assert_non_null(root);
	return root;
}

static void assert_bytes(const char *msg, size_t off, size_t len,
                         const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(msg + off, want, len);
}

static void assert_type(const struct mime_part *p, const char *t,
                        const char *st)
{
	assert_string_equal(p->type, t);
	assert_string_equal(p->subtype, st);
}

static void test_simple_text_defaults(void **state)
{
	const char *m = "Subject: hi\r\nFrom: a@b.c\r\n\r\nline1\r\nline2\r\n";
	struct mime_part *r = parse(m);

	(void)state;
	assert_type(r, "text", "plain");
	assert_string_equal(
	        mime_param_get(r->params, r->param_count, "charset"),
	        "us-ascii");
	assert_string_equal(r->encoding, "7bit");
	assert_bytes(m, r->hdr_off, r->hdr_len,
	             "Subject: hi\r\nFrom: a@b.c\r\n\r\n");
	assert_bytes(m, r->body_off, r->body_len, "line1\r\nline2\r\n");
	assert_int_equal(r->lines, 2);
	assert_int_equal(r->part_len, strlen(m));
	assert_string_equal(r->env->subject, "hi");
	assert_int_equal(r->env->from.count, 1);
	assert_string_equal(r->env->from.addrs[0].mailbox, "a");
	assert_string_equal(r->env->from.addrs[0].host, "b.c");
	mime_free(&r);
	assert_null(r);
}

static const char alt_msg[] =
        "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
        "\r\n"
        "preamble\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "plain\r\n"
        "--b1 \t\r\n"
        "Content-Type: text/html\r\n"
        "\r\n"
        "<p>x</p>\r\n"
        "--b1--\r\n"
        "epilogue\r\n";

static void test_multipart_alternative_offsets(void **state)
{
	struct mime_part *r = parse(alt_msg);
	struct mime_part *c1, *c2;

	(void)state;
	assert_type(r, "multipart", "alternative");
	assert_int_equal(r->child_count, 2);
	c1 = r->children[0];
	c2 = r->children[1];
	assert_type(c1, "text", "plain");
	assert_string_equal(
	        mime_param_get(c1->params, c1->param_count, "charset"),
	        "utf-8");
	assert_bytes(alt_msg, c1->part_off, c1->part_len,
	             "Content-Type: text/plain; charset=utf-8\r\n\r\nplain");
	assert_bytes(alt_msg, c1->hdr_off, c1->hdr_len,
	             "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	assert_bytes(alt_msg, c1->body_off, c1->body_len, "plain");
	assert_int_equal(c1->lines, 1);
	assert_type(c2, "text", "html");
	assert_bytes(alt_msg, c2->body_off, c2->body_len, "<p>x</p>");
	assert_int_equal(r->flags & MIME_PART_NO_CLOSE, 0);
	mime_free(&r);
}

static void test_mixed_with_attachment_rfc2231(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
	                "--XX\r\n\r\nbody text\r\n"
	                "--XX\r\n"
	                "Content-Type: application/pdf; name=\"a b.pdf\"\r\n"
	                "Content-Transfer-Encoding: BASE64\r\n"
	                "Content-Disposition: attachment;\r\n"
	                " filename*0*=utf-8''%E2%82%AC;\r\n"
	                " filename*1=\" rate.pdf\"\r\n"
	                "Content-ID: <id1@x>\r\n"
	                "Content-Description: the doc\r\n"
	                "Content-Language: en\r\n"
	                "Content-Location: http://x/y\r\n"
	                "Content-MD5: abc=\r\n"
	                "\r\nQUJD\r\n"
	                "--XX--\r\n";
	struct mime_part *r = parse(m);
	struct mime_part *a;

	(void)state;
	assert_int_equal(r->child_count, 2);
	assert_type(r->children[0], "text", "plain");
	assert_bytes(m, r->children[0]->body_off, r->children[0]->body_len,
	             "body text");
	a = r->children[1];
	assert_type(a, "application", "pdf");
	assert_string_equal(a->encoding, "base64");
	assert_string_equal(mime_param_get(a->params, a->param_count, "name"),
	                    "a b.pdf");
	assert_string_equal(a->disposition, "attachment");
	assert_int_equal(a->disp_param_count, 1);
	assert_string_equal(a->disp_params[0].name, "filename");
	assert_true(a->disp_params[0].extended);
	assert_string_equal(a->disp_params[0].value,
	                    "utf-8''%E2%82%AC%20rate.pdf");
	assert_string_equal(a->id, "<id1@x>");
	assert_string_equal(a->description, "the doc");
	assert_string_equal(a->language, "en");
	assert_string_equal(a->location, "http://x/y");
	assert_string_equal(a->md5, "abc=");
	assert_bytes(m, a->body_off, a->body_len, "QUJD");
	mime_free(&r);
}

static const char rfc822_msg[] =
        "From: outer@x.org\r\n"
        "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
        "--o\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        "Subject: inner\r\n"
        "From: \"Doe, J\" <j@in.org>\r\n"
        "Content-Type: multipart/alternative; boundary=i\r\n\r\n"
        "--i\r\n\r\nA\r\n--i\r\n\r\nB\r\n--i--\r\n"
        "--o--\r\n";

static void test_message_rfc822_nested(void **state)
{
	struct mime_part *r = parse(rfc822_msg);
	struct mime_part *p, *inner;

	(void)state;
	assert_int_equal(r->child_count, 1);
	p = r->children[0];
	assert_type(p, "message", "rfc822");
	assert_null(p->env);
	assert_int_equal(p->child_count, 1);
	inner = p->children[0];
	assert_non_null(inner->env);
	assert_string_equal(inner->env->subject, "inner");
	assert_string_equal(inner->env->from.addrs[0].name, "Doe, J");
	assert_string_equal(inner->env->from.addrs[0].mailbox, "j");
	assert_int_equal(inner->part_off, p->body_off);
	assert_int_equal(inner->part_len, p->body_len);
	assert_type(inner, "multipart", "alternative");
	assert_int_equal(inner->child_count, 2);
	assert_bytes(rfc822_msg, inner->children[0]->body_off,
	             inner->children[0]->body_len, "A");
	assert_bytes(rfc822_msg, inner->children[1]->body_off,
	             inner->children[1]->body_len, "B");
	assert_int_equal(mime_part_count(r), 5);
	mime_free(&r);
}

static void test_missing_boundary_degrades(void **state)
{
	const char *m = "Content-Type: multipart/mixed\r\n\r\n--x\r\nhi\r\n";
	struct mime_part *r = parse(m);

	(void)state;
	assert_type(r, "text", "plain");
	assert_true(r->flags & MIME_PART_DEGRADED);
	assert_int_equal(r->child_count, 0);
	assert_bytes(m, r->body_off, r->body_len, "--x\r\nhi\r\n");
	mime_free(&r);
}

static void test_boundary_never_found_degrades(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
	                "--z\r\n-zz\r\n --zz\r\n";
	struct mime_part *r = parse(m);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	assert_type(r, "text", "plain");
	assert_true(r->flags & MIME_PART_DEGRADED);
	mime_write_bodystructure(&b, r, false);
	assert_string_equal(b.data, "(\"text\" \"plain\" NIL NIL NIL \"7bit\" "
	                            "17 3)");
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_unclosed_multipart_runs_to_end(void **state)
{
	const char *m = "Content-Type: multipart/mixed; boundary=q\r\n\r\n"
	                "--q\r\n\r\none\r\n--q\r\n\r\ntwo\r\n";
	struct mime_part *r = parse(m);

	(void)state;
	assert_int_equal(r->child_count, 2);
	assert_true(r->flags & MIME_PART_NO_CLOSE);
	assert_bytes(m, r->children[1]->body_off, r->children[1]->body_len,
	             "two\r\n");
	mime_free(&r);
}

static void test_8bit_headers_become_literals(void **state)
{
	const char *m = "Subject: caf\xc3\xa9 \"q\"\r\n\r\nx";
	struct mime_part *r = parse(m);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	assert_string_equal(r->env->subject, "caf\xc3\xa9 \"q\"");
	mime_write_envelope(&b, r->env);
	assert_string_equal(b.data, "(NIL {9}\r\ncaf\xc3\xa9 \"q\" NIL NIL NIL "
	                            "NIL NIL NIL NIL NIL)");
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_group_addresses(void **state)
{
	const char *m = "To: Friends: a@x, \"B (b)\" <b@y>;, c@z,"
	                " undisclosed-recipients:;\r\n"
	                "Cc: (comment) <@r1,@r2:d@w> (tail)\r\n\r\n";
	struct mime_part *r = parse(m);
	const struct mime_addr_list *to = &r->env->to;
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	assert_int_equal(to->count, 7);
	assert_string_equal(to->addrs[0].mailbox, "Friends");
	assert_null(to->addrs[0].host);
	assert_string_equal(to->addrs[1].mailbox, "a");
	assert_string_equal(to->addrs[2].name, "B (b)");
	assert_string_equal(to->addrs[2].host, "y");
	assert_null(to->addrs[3].mailbox);
	assert_null(to->addrs[3].host);
	assert_string_equal(to->addrs[4].host, "z");
	assert_string_equal(to->addrs[5].mailbox, "undisclosed-recipients");
	assert_null(to->addrs[6].mailbox);
	assert_int_equal(r->env->cc.count, 1);
	assert_string_equal(r->env->cc.addrs[0].adl, "@r1,@r2");
	assert_string_equal(r->env->cc.addrs[0].mailbox, "d");
	assert_null(r->env->cc.addrs[0].name);
	mime_write_envelope(&b, r->env);
	assert_non_null(strstr(b.data, "((NIL \"@r1,@r2\" \"d\" \"w\"))"));
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_missing_headers_are_nil(void **state)
{
	const char *m = "From: a@b\r\n\r\n";
	struct mime_part *r = parse(m);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	mime_write_envelope(&b, r->env);
	/* Sender and Reply-To default to From (RFC 9051 §7.5.2). */
	assert_string_equal(b.data, "(NIL NIL ((NIL NIL \"a\" \"b\")) "
	                            "((NIL NIL \"a\" \"b\")) "
	                            "((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL "
	                            "NIL)");
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_bare_lf_tolerated(void **state)
{
	const char *m = "Content-Type: multipart/mixed;\n boundary=b\n\n"
	                "--b\nContent-Type: text/x\n\nhello\n--b--\n";
	struct mime_part *r = parse(m);

	(void)state;
	assert_int_equal(r->child_count, 1);
	assert_type(r->children[0], "text", "x");
	assert_bytes(m, r->children[0]->body_off, r->children[0]->body_len,
	             "hello");
	mime_free(&r);
}

static void test_no_header_separator(void **state)
{
	const char *m = "Subject: only\r\n";
	struct mime_part *r = parse(m);

	(void)state;
	assert_true(r->flags & MIME_PART_NO_BODY_SEP);
	assert_int_equal(r->hdr_len, strlen(m));
	assert_int_equal(r->body_len, 0);
	assert_string_equal(r->env->subject, "only");
	mime_free(&r);
	r = parse("");
	assert_type(r, "text", "plain");
	mime_free(&r);
}

static void test_deep_nesting_is_bounded(void **state)
{
	struct po_buf m = PO_BUF_INIT;
	struct mime_part *r, *p;
	int depth = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		po_buf_printf(&m,
		              "Content-Type: multipart/mixed; boundary=b%d\r\n"
		              "\r\n--b%d\r\n",
		              i, i);
	po_buf_add_str(&m, "\r\nleaf\r\n");
	assert_int_equal(mime_parse(m.data, m.len, &r), 0);
	for (p = r; p->child_count > 0; p = p->children[0])
		depth++;
	assert_int_equal(depth, MIME_DEPTH_MAX);
	assert_type(p, "multipart", "mixed");
	mime_free(&r);
	po_buf_deinit(&m);
}

static void test_part_count_is_bounded(void **state)
{
	struct po_buf m = PO_BUF_INIT;
	struct mime_part *r;

	(void)state;
	po_buf_add_str(&m, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 3000; i++)
		po_buf_add_str(&m, "--b\r\n\r\nx\r\n");
	assert_int_equal(mime_parse(m.data, m.len, &r), 0);
	assert_int_equal(mime_part_count(r), MIME_PARTS_MAX);
	mime_free(&r);
	po_buf_deinit(&m);
}

static void test_header_get_unfolds(void **state)
{
	const char *m =
	        "X-A: 1\r\nsubject:  two\r\n\tlines \r\n\r\nSubject: no";
	struct mime_part *r = parse(m);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	assert_int_equal(
	        mime_header_get(m, r->hdr_off, r->hdr_len, "Subject", &b), 1);
	assert_string_equal(b.data, "two\tlines");
	po_buf_reset(&b);
	assert_int_equal(mime_header_get(m, r->hdr_off, r->hdr_len, "To", &b),
	                 0);
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_bodystructure_extended(void **state)
{
	struct mime_part *r = parse(alt_msg);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	mime_write_bodystructure(&b, r, true);
	assert_string_equal(
	        b.data, "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	                "\"7bit\" 5 "
	                "1 NIL NIL NIL NIL)(\"text\" \"html\" NIL NIL NIL "
	                "\"7bit\" 8 1 NIL NIL NIL NIL) "
	                "\"alternative\" (\"boundary\" \"b1\") NIL NIL NIL)");
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_bodystructure_message_rfc822(void **state)
{
	struct mime_part *r = parse(rfc822_msg);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	mime_write_bodystructure(&b, r, false);
	assert_non_null(strstr(b.data, "(\"message\" \"rfc822\" NIL NIL NIL "
	                               "\"7bit\" "));
	assert_non_null(strstr(b.data, "\"inner\" ((\"Doe, J\" NIL \"j\" "
	                               "\"in.org\"))"));
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_encoded_rfc822_still_has_msg_shape(void **state)
{
	const char *m =
	        "Content-Type: message/rfc822\r\n"
	        "Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdA==\r\n";
	struct mime_part *r = parse(m);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	assert_int_equal(r->child_count, 0);
	mime_write_bodystructure(&b, r, false);
	assert_string_equal(b.data,
	                    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 14 "
	                    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	                    "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0) 1)");
	po_buf_deinit(&b);
	mime_free(&r);
}

static void test_extended_param_written_with_star(void **state)
{
	const char *m = "Content-Type: text/plain; title*=us-ascii'en'a%20b;"
	                " x*1=2; x*0=1\r\n\r\n";
	struct mime_part *r = parse(m);
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	assert_string_equal(mime_param_get(r->params, r->param_count, "x"),
	                    "12");
	mime_write_bodystructure(&b, r, false);
	assert_string_equal(b.data, "(\"text\" \"plain\" (\"title*\" "
	                            "\"us-ascii'en'a%20b\" \"x\" \"12\") NIL "
	                            "NIL \"7bit\" 0 0)");
	po_buf_deinit(&b);
	mime_free(&r);
}

static void check_ranges(const struct mime_part *p, size_t len)
{
	assert_true(p->part_off + p->part_len <= len);
	assert_int_equal(p->hdr_len + p->body_len, p->part_len);
	for (size_t i = 0; i < p->child_count; i++) {
		assert_true(p->children[i]->part_off >= p->body_off);
		check_ranges(p->children[i], len);
	}
}

/* Every prefix of the corpus messages (a message cut anywhere) parses with
 * every range inside the bytes it was given. */
static void test_every_prefix_stays_in_bounds(void **state)
{
	const char *msgs[] = {alt_msg, rfc822_msg};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		for (size_t n = 0; n <= strlen(msgs[k]); n++) {
			struct mime_part *r = NULL;
			char *copy = malloc(n + 1);

			assert_non_null(copy);
			memcpy(copy, msgs[k], n);
			assert_int_equal(mime_parse(copy, n, &r), 0);
			check_ranges(r, n);
			mime_free(&r);
			free(copy);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_simple_text_defaults),
	        cmocka_unit_test(test_multipart_alternative_offsets),
	        cmocka_unit_test(test_mixed_with_attachment_rfc2231),
	        cmocka_unit_test(test_message_rfc822_nested),
	        cmocka_unit_test(test_missing_boundary_degrades),
	        cmocka_unit_test(test_boundary_never_found_degrades),
	        cmocka_unit_test(test_unclosed_multipart_runs_to_end),
	        cmocka_unit_test(test_8bit_headers_become_literals),
	        cmocka_unit_test(test_group_addresses),
	        cmocka_unit_test(test_missing_headers_are_nil),
	        cmocka_unit_test(test_bare_lf_tolerated),
	        cmocka_unit_test(test_no_header_separator),
	        cmocka_unit_test(test_deep_nesting_is_bounded),
	        cmocka_unit_test(test_part_count_is_bounded),
	        cmocka_unit_test(test_header_get_unfolds),
	        cmocka_unit_test(test_bodystructure_extended),
	        cmocka_unit_test(test_bodystructure_message_rfc822),
	        cmocka_unit_test(test_encoded_rfc822_still_has_msg_shape),
	        cmocka_unit_test(test_extended_param_written_with_star),
	        cmocka_unit_test(test_every_prefix_stays_in_bounds),
	};

	return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
