/*
 * Unit tests of the IMAP command parser and sequence sets
 * (protocols/imap/imap_parse.c, imap_seqset.c).  Every part is copied into a
 * heap buffer of exactly its length (no NUL after it), so the ASan build
 * catches any read past the bytes the parser was given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"
#include "util.h"

#define MAX_PARTS 16

/* A command under test: parts copied to exact-size heap buffers. */
struct cmd {
	struct imap_input_part parts[MAX_PARTS];
	struct imap_input in;
	struct imap_arena arena;
	struct imap_arg *args;
	size_t count, literals;
	const char *error;
};

/* Build parts from strings: "L:" marks a literal part. */
static void cmd_build(struct cmd *c, const char *const *texts, size_t n)
{
	assert_true(n <= MAX_PARTS);
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		const char *t = texts[i];
		bool lit = strncmp(t, "L:", 2) == 0;
		size_t len = strlen(t) - (lit ? 2 : 0);
		char *buf = xmalloc(len > 0 ? len : 1);

		memcpy(buf, t + (lit ? 2 : 0), len);
		c->parts[i].data = buf;
		c->parts[i].len = len;
		c->parts[i].literal = lit;
	}
	c->in.parts = c->parts;
	c->in.count = n;
	imap_arena_init(&c->arena);
}

static int cmd_parse(struct cmd *c)
{
	return imap_parse_args(&c->in, &c->arena, &c->args, &c->count,
	                       &c->literals, &c->error);
}

static void cmd_free(struct cmd *c)
{
	for (size_t i = 0; i < c->in.count; i++)
		free((void *)(uintptr_t)c->parts[i].data);
	imap_arena_deinit(&c->arena);
}

/* Parse one line of arguments; returns the result. */
static int parse_line(const char *line, struct cmd *c)
{
	const char *t[1] = {line};

	cmd_build(c, t, 1);
	return cmd_parse(c);
}

static void expect_ok(const char *line, size_t count)
{
	struct cmd c;

	assert_int_equal(parse_line(line, &c), 0);
	assert_int_equal(c.count, count);
	cmd_free(&c);
}

static void expect_bad(const char *line)
{
	struct cmd c;

	assert_int_equal(parse_line(line, &c), -1);
	assert_non_null(c.error);
	assert_null(c.args);
	cmd_free(&c);
}

static void test_tag_command_splits_tag_name_and_rest(void **state)
{
	const char *line = "a1.2 uid FETCH 1 FLAGS", *tag, *cmd, *err;
	size_t tl, cl, rest;

	(void)state;
	assert_int_equal(imap_parse_tag_command(line, strlen(line), &tag, &tl,
	                                        &cmd, &cl, &rest, &err),
	                 0);
	assert_int_equal(tl, 4);
	assert_memory_equal(tag, "a1.2", 4);
	assert_int_equal(cl, 3);
	assert_memory_equal(cmd, "uid", 3);
	assert_string_equal(line + rest, "FETCH 1 FLAGS");
	assert_int_equal(imap_parse_tag_command("A NOOP", 6, &tag, &tl, &cmd,
	                                        &cl, &rest, &err),
	                 0);
	assert_int_equal(rest, 6);
}

static void test_tag_command_refuses_bad_forms(void **state)
{
	static const char *const bad[] = {"",        "A",       "+A NOOP",
	                                  "A+ NOOP", "A  NOOP", "A NOOP ",
	                                  "(A NOOP", "A NO(OP", "A{1} NOOP",
	                                  " A NOOP", "A%1 X",   "A NO\"P"};
	const char *tag, *cmd, *err;
	size_t tl, cl, rest;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		char *buf = xmalloc(len + 1);

		memcpy(buf, bad[i], len);
		assert_int_equal(imap_parse_tag_command(buf, len, &tag, &tl,
		                                        &cmd, &cl, &rest, &err),
		                 -1);
		free(buf);
	}
	/* A bad command name still gives the tag for the BAD reply. */
	assert_int_equal(imap_parse_tag_command("A7 NO(OP", 8, &tag, &tl, &cmd,
	                                        &cl, &rest, &err),
	                 -1);
	assert_non_null(tag);
	assert_int_equal(tl, 2);
	/* "]" is an ASTRING-CHAR, so a tag may hold it. */
	assert_int_equal(imap_parse_tag_command("a] NOOP", 7, &tag, &tl, &cmd,
	                                        &cl, &rest, &err),
	                 0);
}

static void test_args_atoms_strings_nil_lists(void **state)
{
	struct cmd c;
	const struct imap_arg *a, *l;
	const char *s;
	size_t len, n;

	(void)state;
	assert_int_equal(
	        parse_line("INBOX \"a \\\"q\\\\\" nil (\\Seen $Junk) ()", &c),
	        0);
	assert_int_equal(c.count, 5);
	a = c.args;
	assert_int_equal(a->type, IMAP_ARG_ATOM);
	assert_string_equal(a->str, "INBOX");
	a = a->next;
	assert_int_equal(a->type, IMAP_ARG_STRING);
	assert_int_equal(a->len, 5);
	assert_string_equal(a->str, "a \"q\\");
	a = a->next;
	assert_int_equal(a->type, IMAP_ARG_NIL);
	assert_true(imap_arg_get_nstring(a, &s, &len));
	assert_null(s);
	a = a->next;
	assert_true(imap_arg_get_list(a, &l, &n));
	assert_int_equal(n, 2);
	assert_string_equal(l->str, "\\Seen");
	assert_string_equal(l->next->str, "$Junk");
	assert_null(l->next->next);
	a = a->next;
	assert_true(imap_arg_get_list(a, &l, &n));
	assert_int_equal(n, 0);
	assert_null(l);
	assert_null(a->next);
	cmd_free(&c);
	expect_ok("", 0);
	expect_ok("\"\"", 1);
	expect_ok("\"caf\xc3\xa9\"", 1);
}

static void test_args_fetch_section_is_one_atom(void **state)
{
	struct cmd c;

	(void)state;
	assert_int_equal(
	        parse_line("1:* (FLAGS BODY.PEEK[HEADER.FIELDS (A B)]<0.100>)",
	                   &c),
	        0);
	assert_int_equal(c.count, 2);
	assert_string_equal(c.args->next->children->next->str,
	                    "BODY.PEEK[HEADER.FIELDS (A B)]<0.100>");
	cmd_free(&c);
	expect_ok("BODY[]", 1);
	expect_bad("BODY[HEADER");
	expect_bad("BODY[\x01]");
}

static void test_args_refuses_bad_syntax(void **state)
{
	static const char *const bad[] = {
	        " a",     "a ",     "a  b",     "(a",       "a)",    "(a ))",
	        "( a)",   "(a )",   "\"abc",    "\"a\\n\"", "\"a\\", "a\"b\"",
	        "\"a\"b", "\\",     "\x01",     "\x80",     "a\x7f", "(a)(b)",
	        "{3}",    "abc{3}", "\"a\rb\"", "\"a\nb\"", ")",     "a (b",
	        "{}",     "~{x}",   "x\tb",     "((a) b",   "(",     "a (",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(bad[i]);
	/* NUL in a quoted string. */
	{
		struct cmd c;
		const char *t[1] = {"\"a"};

		cmd_build(&c, t, 1);
		free((void *)(uintptr_t)c.parts[0].data);
		c.parts[0].data = xmalloc(4);
		memcpy((char *)(uintptr_t)c.parts[0].data, "\"a\0\"", 4);
		c.parts[0].len = 4;
		assert_int_equal(cmd_parse(&c), -1);
		cmd_free(&c);
	}
}

/* Build "((((...x...))))" nested depth deep. */
static char *nested(unsigned depth)
{
	char *s = xmalloc(2 * depth + 2);
	size_t n = 0;

	for (unsigned i = 0; i < depth; i++)
		s[n++] = '(';
	s[n++] = 'x';
	for (unsigned i = 0; i < depth; i++)
		s[n++] = ')';
	s[n] = '\0';
	return s;
}

static void test_args_nesting_limit(void **state)
{
	char *ok = nested(IMAP_PARSE_MAX_DEPTH);
	char *bad = nested(IMAP_PARSE_MAX_DEPTH + 1);

	(void)state;
	expect_ok(ok, 1);
	expect_bad(bad);
	free(ok);
	free(bad);
}

static void test_args_count_limit(void **state)
{
	struct po_buf b = PO_BUF_INIT;

	(void)state;
	for (int i = 0; i < IMAP_PARSE_MAX_ARGS; i++)
		po_buf_add_str(&b, i == 0 ? "a" : " a");
	expect_ok(b.data, IMAP_PARSE_MAX_ARGS);
	po_buf_add_str(&b, " a");
	expect_bad(b.data);
	po_buf_reset(&b);
	/* Lists count as arguments too. */
	po_buf_add_str(&b, "(");
	for (int i = 0; i < IMAP_PARSE_MAX_ARGS - 1; i++)
		po_buf_add_str(&b, i == 0 ? "a" : " a");
	po_buf_add_str(&b, ")");
	expect_ok(b.data, 1);
	b.data[b.len - 1] = ' ';
	po_buf_add_str(&b, "a)");
	expect_bad(b.data);
	po_buf_deinit(&b);
}

static void test_args_literals(void **state)
{
	static const char *const t[] = {"{5}", "L:alice", " ~{3+}", "L:axb",
	                                "",    "L:x",     ""};
	struct cmd c;
	const struct imap_arg *a;
	const char *s;
	size_t len;

	(void)state;
	{
		static const char *const login[] = {"{5}", "L:alice", " {6+}",
		                                    "L:secret", ""};

		cmd_build(&c, login, 5);
		assert_int_equal(cmd_parse(&c), 0);
		assert_int_equal(c.count, 2);
		assert_int_equal(c.literals, 2);
		a = c.args;
		assert_true(imap_arg_get_astring(a, &s, &len));
		assert_int_equal(len, 5);
		assert_memory_equal(s, "alice", 5);
		assert_int_equal(a->flags, IMAP_ARG_F_LITERAL);
		a = a->next;
		assert_int_equal(a->flags,
		                 IMAP_ARG_F_LITERAL | IMAP_ARG_F_NONSYNC);
		cmd_free(&c);
	}
	/* Literal inside a list, followed by more of the list. */
	{
		static const char *const l[] = {"(a {1}", "L:x", " b) c"};

		cmd_build(&c, l, 3);
		assert_int_equal(cmd_parse(&c), 0);
		assert_int_equal(c.count, 2);
		assert_int_equal(c.args->count, 3);
		cmd_free(&c);
	}
	/* Zero-length literal. */
	{
		static const char *const z[] = {"{0}", "L:", ""};

		cmd_build(&c, z, 3);
		assert_int_equal(cmd_parse(&c), 0);
		assert_int_equal(c.args->len, 0);
		cmd_free(&c);
	}
	/* Wrong size, missing data, extra parts, NUL outside literal8. */
	{
		static const char *const w[] = {"{4}", "L:abc", ""};
		static const char *const m[] = {"{3}"};
		static const char *const m2[] = {"{3}", "L:abc"};
		static const char *const x[] = {"a", "L:b", ""};
		static const char *const after[] = {"{1}", "L:a", "b"};

		cmd_build(&c, w, 3);
		assert_int_equal(cmd_parse(&c), -1);
		cmd_free(&c);
		cmd_build(&c, m, 1);
		assert_int_equal(cmd_parse(&c), -1);
		cmd_free(&c);
		cmd_build(&c, m2, 2);
		assert_int_equal(cmd_parse(&c), -1);
		cmd_free(&c);
		cmd_build(&c, x, 3);
		assert_int_equal(cmd_parse(&c), -1);
		cmd_free(&c);
		cmd_build(&c, after, 3);
		assert_int_equal(cmd_parse(&c), -1);
		cmd_free(&c);
	}
	/* literal8 may hold NUL; a plain literal may not.  The test
	 * strings cannot hold NUL, so patch the part. */
	cmd_build(&c, t, 5);
	((char *)(uintptr_t)c.parts[3].data)[1] = '\0';
	assert_int_equal(cmd_parse(&c), 0);
	assert_int_equal(c.args->next->flags, IMAP_ARG_F_LITERAL |
	                                              IMAP_ARG_F_LITERAL8 |
	                                              IMAP_ARG_F_NONSYNC);
	cmd_free(&c);
	{
		static const char *const n[] = {"{3}", "L:abc", ""};

		cmd_build(&c, n, 3);
		((char *)(uintptr_t)c.parts[1].data)[1] = '\0';
		assert_int_equal(cmd_parse(&c), -1);
		cmd_free(&c);
	}
}

static int line_lit(const char *s, uint64_t *size, bool *ns, bool *bin)
{
	const char *err = NULL;
	size_t len = strlen(s);
	char *buf = xmalloc(len + 1);
	int r;

	memcpy(buf, s, len);
	r = imap_line_literal(buf, len, size, ns, bin, &err);
	if (r < 0)
		assert_non_null(err);
	free(buf);
	return r;
}

static void test_line_literal_announcements(void **state)
{
	uint64_t size;
	bool ns, bin;

	(void)state;
	assert_int_equal(line_lit("A1 LOGIN {5}", &size, &ns, &bin), 1);
	assert_int_equal(size, 5);
	assert_false(ns);
	assert_false(bin);
	assert_int_equal(line_lit("A APPEND x ~{12+}", &size, &ns, &bin), 1);
	assert_int_equal(size, 12);
	assert_true(ns);
	assert_true(bin);
	assert_int_equal(line_lit("{18446744073709551615}", &size, &ns, &bin),
	                 1);
	assert_true(size == UINT64_MAX);
	assert_int_equal(line_lit("{0}", &size, &ns, &bin), 1);
	assert_int_equal(size, 0);
	assert_int_equal(
	        line_lit("A X {18446744073709551616}", &size, &ns, &bin), -1);
	assert_int_equal(
	        line_lit("A X {99999999999999999999999999}", &size, &ns, &bin),
	        -1);
	assert_int_equal(line_lit("A X {}", &size, &ns, &bin), -1);
	assert_int_equal(line_lit("A X {+}", &size, &ns, &bin), -1);
	assert_int_equal(line_lit("A X {5++}", &size, &ns, &bin), 0);
	assert_int_equal(line_lit("A NOOP", &size, &ns, &bin), 0);
	assert_int_equal(line_lit("", &size, &ns, &bin), 0);
	assert_int_equal(line_lit("}", &size, &ns, &bin), 0);
	assert_int_equal(line_lit("a}", &size, &ns, &bin), 0);
	assert_int_equal(line_lit("5}", &size, &ns, &bin), 0);
	assert_int_equal(line_lit("{5", &size, &ns, &bin), 0);
}

static void test_helpers_check_strict_grammar(void **state)
{
	struct cmd c;
	const struct imap_arg *a;
	const char *s;
	size_t len;
	uint32_t n;
	uint64_t n64;

	(void)state;
	assert_int_equal(parse_line("a] a%* 4294967295 4294967296 "
	                            "9223372036854775807 9223372036854775808",
	                            &c),
	                 0);
	a = c.args;
	assert_false(imap_arg_get_atom(a, &s));
	assert_true(imap_arg_get_astring(a, &s, &len));
	assert_false(imap_arg_get_string(a, &s, &len));
	a = a->next;
	assert_false(imap_arg_get_astring(a, &s, &len));
	assert_true(imap_arg_get_list_mailbox(a, &s, &len));
	assert_string_equal(s, "a%*");
	a = a->next;
	assert_true(imap_arg_get_number(a, &n));
	assert_true(n == UINT32_MAX);
	a = a->next;
	assert_false(imap_arg_get_number(a, &n));
	assert_true(imap_arg_get_number64(a, &n64));
	a = a->next;
	assert_true(imap_arg_get_number64(a, &n64));
	assert_true(n64 == INT64_MAX);
	a = a->next;
	assert_false(imap_arg_get_number64(a, &n64));
	assert_false(imap_arg_get_number(NULL, &n));
	cmd_free(&c);
}

static int seq(const char *s, struct imap_seqset *set)
{
	const char *err = NULL;
	size_t len = strlen(s);
	char *buf = xmalloc(len + 1);
	int r;

	memcpy(buf, s, len);
	r = imap_seqset_parse(buf, len, set, &err);
	if (r < 0)
		assert_non_null(err);
	free(buf);
	return r;
}

static void test_seqset_sorts_and_merges(void **state)
{
	struct imap_seqset set;

	(void)state;
	assert_int_equal(seq("9,5:3,1,2,4,20:22,21,11:10", &set), 0);
	assert_int_equal(set.count, 3);
	assert_int_equal(set.ranges[0].lo, 1);
	assert_int_equal(set.ranges[0].hi, 5);
	assert_int_equal(set.ranges[1].lo, 9);
	assert_int_equal(set.ranges[1].hi, 11);
	assert_int_equal(set.ranges[2].lo, 20);
	assert_int_equal(set.ranges[2].hi, 22);
	assert_false(set.has_star);
	assert_true(imap_seqset_contains(&set, 10, 100));
	assert_false(imap_seqset_contains(&set, 6, 100));
	assert_false(imap_seqset_contains(&set, 23, 100));
	imap_seqset_deinit(&set);
	assert_int_equal(seq("4294967295,1:4294967295", &set), 0);
	assert_int_equal(set.count, 1);
	assert_true(set.ranges[0].hi == UINT32_MAX);
	imap_seqset_deinit(&set);
}

static void test_seqset_star(void **state)
{
	struct imap_seqset set;
	struct imap_seq_range out[8];
	size_t n;

	(void)state;
	assert_int_equal(seq("1,7:*", &set), 0);
	assert_true(set.has_star);
	assert_true(imap_seqset_contains(&set, 8, 10));
	assert_false(imap_seqset_contains(&set, 3, 10));
	/* 7:* with * = 5 is 5:7. */
	assert_true(imap_seqset_contains(&set, 5, 5));
	assert_true(imap_seqset_contains(&set, 7, 5));
	n = imap_seqset_resolve(&set, 5, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[1].lo, 5);
	assert_int_equal(out[1].hi, 7);
	n = imap_seqset_resolve(&set, 2, out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].lo, 1);
	assert_int_equal(out[0].hi, 7);
	/* An empty mailbox: "*" matches nothing. */
	assert_false(imap_seqset_contains(&set, 7, 0));
	n = imap_seqset_resolve(&set, 0, out);
	assert_int_equal(n, 1);
	imap_seqset_deinit(&set);
	assert_int_equal(seq("*", &set), 0);
	assert_true(imap_seqset_contains(&set, 42, 42));
	assert_false(imap_seqset_contains(&set, 41, 42));
	imap_seqset_deinit(&set);
	assert_int_equal(seq("*:3", &set), 0);
	assert_true(imap_seqset_contains(&set, 3, 9));
	imap_seqset_deinit(&set);
}

static void test_seqset_searchres(void **state)
{
	struct imap_seqset set;

	(void)state;
	assert_int_equal(seq("$", &set), 0);
	assert_true(set.searchres);
	assert_int_equal(set.count, 0);
	imap_seqset_deinit(&set);
	assert_int_equal(seq("1,$", &set), 0);
	assert_true(set.searchres);
	imap_seqset_deinit(&set);
}

static void test_seqset_refuses_bad_forms(void **state)
{
	static const char *const bad[] = {
	        "",
	        "0",
	        "1:0",
	        "0:*",
	        "4294967296",
	        "1,",
	        ",1",
	        "1::2",
	        "1:",
	        ":1",
	        "a",
	        "1 2",
	        "-1",
	        "1,,2",
	        "**",
	        "$:1",
	        "99999999999999999999",
	        "1:*:2",
	};
	struct imap_seqset set;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(seq(bad[i], &set), -1);
		assert_null(set.ranges);
	}
}

static void test_seqset_range_limit(void **state)
{
	struct po_buf b = PO_BUF_INIT;
	struct imap_seqset set;

	(void)state;
	for (int i = 0; i < IMAP_SEQSET_MAX_RANGES; i++)
		po_buf_printf(&b, i == 0 ? "%d" : ",%d", 2 * i + 1);
	assert_int_equal(seq(b.data, &set), 0);
	assert_int_equal(set.count, IMAP_SEQSET_MAX_RANGES);
	assert_true(imap_seqset_contains(&set, 19999, 1));
	assert_false(imap_seqset_contains(&set, 20000, 1));
	imap_seqset_deinit(&set);
	po_buf_add_str(&b, ",1");
	assert_int_equal(seq(b.data, &set), -1);
	po_buf_deinit(&b);
}

/* Every prefix of valid lines parses or fails cleanly, within its bytes
 * (the ASan build checks the reads). */
static void test_args_every_prefix_stays_in_bounds(void **state)
{
	static const char *const lines[] = {
	        "INBOX \"a \\\"q\\\\\" nil (\\Seen $Junk) ()",
	        "1:* (FLAGS BODY.PEEK[HEADER.FIELDS (A B)]<0.100>)",
	        "\"\" \"%/*\" ((x)) ~{3}",
	        "a b {5+}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		for (size_t n = 0; n <= strlen(lines[i]); n++) {
			char *prefix = xmalloc(n + 1);
			struct cmd c;
			uint64_t size;
			bool ns, bin;
			const char *err;

			memcpy(prefix, lines[i], n);
			prefix[n] = '\0';
			(void)parse_line(prefix, &c);
			(void)imap_line_literal(c.parts[0].data, n, &size, &ns,
			                        &bin, &err);
			cmd_free(&c);
			free(prefix);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tag_command_splits_tag_name_and_rest),
	        cmocka_unit_test(test_tag_command_refuses_bad_forms),
	        cmocka_unit_test(test_args_atoms_strings_nil_lists),
	        cmocka_unit_test(test_args_fetch_section_is_one_atom),
	        cmocka_unit_test(test_args_refuses_bad_syntax),
	        cmocka_unit_test(test_args_nesting_limit),
	        cmocka_unit_test(test_args_count_limit),
	        cmocka_unit_test(test_args_literals),
	        cmocka_unit_test(test_args_every_prefix_stays_in_bounds),
	        cmocka_unit_test(test_line_literal_announcements),
	        cmocka_unit_test(test_helpers_check_strict_grammar),
	        cmocka_unit_test(test_seqset_sorts_and_merges),
	        cmocka_unit_test(test_seqset_star),
	        cmocka_unit_test(test_seqset_searchres),
	        cmocka_unit_test(test_seqset_refuses_bad_forms),
	        cmocka_unit_test(test_seqset_range_limit),
	};

	return cmocka_run_group_tests_name("imap_parse", tests, NULL, NULL);
}
