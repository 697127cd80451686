/*
 * Unit tests of the IMAP mailbox commands (protocols/imap/imap_cmd_mailbox.c)
 * and the LIST pattern matcher.  Commands run through their table entry
 * (parse, then run) on a session logged in to a real store of
 * fake_conn.c's environment, arguments parsed from exact-size parts with
 * literals as the core would hand them over; the tests assert the bytes a
 * client receives (untagged responses and the tagged line) and the store
 * afterwards.  The framework's own steps (imap_sync after a command) are
 * left out, so each expected output is exactly this file's work.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_conn.h"
#include "imap.h"
#include "imap_mailbox.h"
#include "imap_private.h"

struct h {
	struct fake_env *fe;
	struct imap_session s;
	int64_t account_id;
};

static int setup(void **state)
{
	struct h *h = xcalloc(1, sizeof(*h));

	h->fe = fake_env_new();
	h->account_id =
	        fake_env_add_account(h->fe, "alice", "secret", true, true);
	assert_int_equal(
	        store_account_open(h->fe->env.store, h->account_id, &h->s.acct),
	        STORE_OK);
	h->s.state = IMAP_S_AUTH;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct h *h = *state;

	imap_sel_close(&h->s);
	if (h->s.kw_names != NULL)
		store_strv_free(h->s.kw_names, STORE_KEYWORDS_MAX);
	store_account_close(&h->s.acct);
	fake_env_free(&h->fe);
	free(h);
	return 0;
}

/*
 * Run one command: line is "NAME args" (or "UID NAME args"); lit, when not
 * NULL, is a literal following the line (whose text must end with its
 * announcement), and after it the command ends.  Returns the untagged
 * output and "T OK|NO|BAD text\r\n" (malloc'd).
 */
static char *run_lit(struct h *h, const char *line, const char *lit,
                     size_t lit_len)
{
	struct imap_cmd cmd;
	struct imap_input_part parts[3];
	struct imap_input in;
	struct imap_arg *args = NULL;
	size_t nargs = 0, nlit = 0, name_len, np = 0;
	const char *rest, *error = NULL, *sp;
	char *bufs[3] = {NULL, NULL, NULL};
	struct po_buf out = PO_BUF_INIT;
	static const char *const st[] = {"OK", "NO", "BAD"};

	memset(&cmd, 0, sizeof(cmd));
	cmd.s = &h->s;
	cmd.env = &h->fe->env;
	strcpy(cmd.tag, "T");
	if (strncmp(line, "UID ", 4) == 0) {
		cmd.uid = true;
		line += 4;
	}
	sp = strchr(line, ' ');
	name_len = sp != NULL ? (size_t)(sp - line) : strlen(line);
	rest = sp != NULL ? sp + 1 : line + name_len;
	cmd.def = imap_command_find(line, name_len);
	assert_non_null(cmd.def);
	assert_true(cmd.def->states & h->s.state);
	/* Parts in exact-size heap buffers (ASan sees any overread). */
	bufs[np] = xmalloc(strlen(rest) + 1);
	memcpy(bufs[np], rest, strlen(rest));
	parts[np].data = bufs[np];
	parts[np].len = strlen(rest);
	parts[np++].literal = false;
	if (lit != NULL) {
		bufs[np] = xmalloc(lit_len + 1);
		memcpy(bufs[np], lit, lit_len);
		parts[np].data = bufs[np];
		parts[np].len = lit_len;
		parts[np++].literal = true;
		parts[np].data = "";
		parts[np].len = 0;
		parts[np++].literal = false;
	}
	in.parts = parts;
	in.count = np;
	imap_arena_init(&cmd.arena);
	if (imap_parse_args(&in, &cmd.arena, &args, &nargs, &nlit, &error) <
	    0) {
		po_buf_printf(&out, "T BAD %s\r\n", error);
		goto done;
	}
	cmd.args = args;
	cmd.nargs = nargs;
	if (cmd.def->parse != NULL) {
		if (cmd.def->parse(&cmd, &error) < 0) {
			po_buf_printf(&out, "T BAD %s\r\n", error);
			goto done;
		}
	} else if (nargs != 0) {
		po_buf_add_str(&out, "T BAD no arguments\r\n");
		goto done;
	}
	while (cmd.def->run(&cmd) == IMAP_RUN_MORE)
		cmd.step++;
	assert_true(cmd.result_set);
	po_buf_add(&out, cmd.out.data, cmd.out.len);
	po_buf_printf(&out, "T %s %s\r\n", st[cmd.status], cmd.result);
done:
	if (cmd.data != NULL) {
		if (cmd.def->free != NULL)
			cmd.def->free(cmd.data);
		else
			free(cmd.data);
	}
	po_buf_deinit(&cmd.out);
	imap_arena_deinit(&cmd.arena);
	for (size_t i = 0; i < 3; i++)
		free(bufs[i]);
	if (out.data == NULL)
		po_buf_add_str(&out, "");
	return po_buf_take(&out, NULL);
}

static char *run(struct h *h, const char *line)
{
	return run_lit(h, line, NULL, 0);
}

static void expect(struct h *h, const char *line, const char *want)
{
	char *got = run(h, line);

	assert_string_equal(got, want);
	free(got);
}

static void expect_lit(struct h *h, const char *line, const char *lit,
                       const char *want)
{
	char *got = run_lit(h, line, lit, strlen(lit));

	assert_string_equal(got, want);
	free(got);
}

static struct store_mailbox_info mbox(struct h *h, const char *name)
{
	struct store_mailbox_info info;

	assert_int_equal(store_mailbox_get(h->s.acct, name, &info), STORE_OK);
	return info;
}

static uint32_t append(struct h *h, const char *mb, const char *msg,
                       uint32_t flags)
{
	struct store_append_opts o;
	uint32_t uid = 0;

	memset(&o, 0, sizeof(o));
	o.flags = flags;
	assert_int_equal(store_append_ex(h->s.acct, mbox(h, mb).id, msg,
	                                 strlen(msg), &o, &uid, NULL),
	                 STORE_OK);
	return uid;
}

#define MSG "Subject: hi\r\n\r\nbody\r\n"
#define SYS "\\Seen \\Answered \\Flagged \\Deleted \\Draft"

/* ---- pattern matcher ------------------------------------------------- */

static bool pmatch(const char *pat, const char *name, bool inbox)
{
	struct imap_pattern p;
	bool r;

	assert_int_equal(imap_pattern_compile(&p, pat, strlen(pat)), 0);
	r = imap_pattern_match(&p, name, strlen(name), inbox);
	imap_pattern_free(&p);
	return r;
}

static void test_pattern_wildcards(void **state)
{
	(void)state;
	assert_true(pmatch("*", "a/b/c", false));
	assert_true(pmatch("%", "abc", false));
	assert_false(pmatch("%", "a/b", false));
	assert_true(pmatch("a/%", "a/b", false));
	assert_false(pmatch("a/%", "a/b/c", false));
	assert_true(pmatch("a/*", "a/b/c", false));
	assert_false(pmatch("a/*", "a", false));
	assert_true(pmatch("*c", "a/b/c", false));
	assert_true(pmatch("%/%", "a/b", false));
	assert_false(pmatch("%/%", "a/b/c", false));
	assert_true(pmatch("a%c", "abbc", false));
	assert_false(pmatch("a%c", "ab/c", false));
	assert_true(pmatch("a*%c", "ab/c", false)); /* "*%" is "*" */
	assert_true(pmatch("", "", false));
	assert_false(pmatch("", "a", false));
	assert_false(pmatch("abc", "ab", false));
	assert_false(pmatch("Sent", "sent", false));
	/* INBOX is case-insensitive, its children's first level too. */
	assert_true(pmatch("inbox", "INBOX", true));
	assert_true(pmatch("iNbOx/%", "INBOX/a", true));
	assert_false(pmatch("inbox/A", "INBOX/a", true));
	assert_false(pmatch("inbox", "INBOX", false));
}

static void test_pattern_no_backtracking_blowup(void **state)
{
	char pat[IMAP_PATTERN_MAX + 1], name[STORE_MAILBOX_NAME_MAX + 1];
	struct imap_pattern p;
	clock_t t0 = clock();

	(void)state;
	/* "*a*a*a...*b" against "aaaa...a": exponential for a naive
	 * backtracking matcher, linear-times-pattern here. */
	for (size_t i = 0; i + 2 < sizeof(pat); i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'a';
	}
	pat[sizeof(pat) - 2] = 'b';
	pat[sizeof(pat) - 1] = '\0';
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(imap_pattern_compile(&p, "*a*a*a*a*a*a*a*a*a*a*b", 22),
	                 0);
	for (int k = 0; k < 1000; k++)
		assert_false(imap_pattern_match(&p, name, strlen(name), false));
	imap_pattern_free(&p);
	assert_false(pmatch(pat, name, false));
	/* Runs of wildcards collapse: a pattern of 2000 "%" is one. */
	memset(pat, '%', sizeof(pat) - 1);
	assert_int_equal(imap_pattern_compile(&p, pat, sizeof(pat) - 1), 0);
	assert_int_equal(p.n, 1);
	assert_true(imap_pattern_match(&p, name, strlen(name), false));
	imap_pattern_free(&p);
	/* Generous bound: well under a second even in the ASan build. */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
	/* Too long a pattern is refused (LIST ignores it). */
	{
		char *big = xmalloc(IMAP_PATTERN_MAX + 1);

		memset(big, 'x', IMAP_PATTERN_MAX + 1);
		assert_int_equal(
		        imap_pattern_compile(&p, big, IMAP_PATTERN_MAX + 1),
		        -1);
		free(big);
	}
}

/* ---- SELECT / EXAMINE ------------------------------------------------ */

static void test_select_rev1_responses(void **state)
{
	struct h *h = *state;
	struct store_mailbox_info info;
	char want[1024];

	append(h, "INBOX", MSG, STORE_F_SEEN);
	append(h, "INBOX", MSG, 0);
	info = mbox(h, "INBOX");
	snprintf(want, sizeof(want),
	         "* 2 EXISTS\r\n"
	         "* 0 RECENT\r\n"
	         "* FLAGS (" SYS ")\r\n"
	         "* OK [PERMANENTFLAGS (" SYS " \\*)] Flags permitted\r\n"
	         "* OK [UNSEEN 2] First unseen\r\n"
	         "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	         "* OK [UIDNEXT 3] Predicted next UID\r\n"
	         "T OK [READ-WRITE] SELECT completed\r\n",
	         info.uidvalidity);
	expect(h, "SELECT inbox", want);
	assert_int_equal(h->s.state, IMAP_S_SELECTED);
	assert_string_equal(h->s.sel.name, "INBOX");
	assert_int_equal(h->s.sel.count, 2);
	assert_false(h->s.sel.readonly);
}

static void test_select_rev2_lists_and_no_recent(void **state)
{
	struct h *h = *state;
	struct store_mailbox_info info;
	char want[1024];

	h->s.enabled_rev2 = true;
	append(h, "Sent", MSG, 0);
	info = mbox(h, "Sent");
	snprintf(want, sizeof(want),
	         "* 1 EXISTS\r\n"
	         "* FLAGS (" SYS ")\r\n"
	         "* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"
	         "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	         "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	         "* OK [UIDNEXT 2] Predicted next UID\r\n"
	         "T OK [READ-ONLY] EXAMINE completed\r\n",
	         info.uidvalidity);
	expect(h, "EXAMINE Sent", want);
	assert_true(h->s.sel.readonly);
	/* EXPUNGE in an EXAMINE'd mailbox is refused (RFC 9051 §6.3.3). */
	expect(h, "EXPUNGE", "T NO [READ-ONLY] Mailbox is read-only\r\n");
}

static void test_select_keywords_in_flags(void **state)
{
	struct h *h = *state;
	const char *kw[] = {"$Forwarded", "Work"};
	uint64_t mask;
	char *got;

	assert_int_equal(store_keyword_mask(h->s.acct, kw, 2, true, &mask),
	                 STORE_OK);
	got = run(h, "SELECT INBOX");
	assert_non_null(strstr(got, "* FLAGS (" SYS " $Forwarded Work)\r\n"));
	assert_non_null(strstr(got, "* OK [PERMANENTFLAGS (" SYS
	                            " $Forwarded Work \\*)] "));
	free(got);
}

static void test_select_again_closes_then_fails(void **state)
{
	struct h *h = *state;
	char *got;

	free(run(h, "SELECT INBOX"));
	got = run(h, "SELECT Drafts");
	assert_int_equal(
	        strncmp(got, "* OK [CLOSED] Previous mailbox closed\r\n", 39),
	        0);
	assert_string_equal(h->s.sel.name, "Drafts");
	free(got);
	/* A failing SELECT leaves no mailbox selected (§6.3.2). */
	expect(h, "SELECT nosuch",
	       "* OK [CLOSED] Previous mailbox closed\r\n"
	       "T NO [NONEXISTENT] No such mailbox\r\n");
	assert_int_equal(h->s.state, IMAP_S_AUTH);
	expect(h, "SELECT nosuch", "T NO [NONEXISTENT] No such mailbox\r\n");
}

static void test_select_parameters(void **state)
{
	struct h *h = *state;
	char *got;

	got = run(h, "SELECT INBOX ()");
	assert_non_null(strstr(got, "T OK [READ-WRITE] SELECT completed\r\n"));
	free(got);
	expect(h, "SELECT INBOX (CONDSTORE)",
	       "T BAD Unknown SELECT parameter\r\n");
	expect(h, "SELECT INBOX x",
	       "T BAD Expected a list of SELECT parameters\r\n");
	expect(h, "SELECT", "T BAD Expected a mailbox name\r\n");
	expect(h, "SELECT &AGE-",
	       "* OK [CLOSED] Previous mailbox closed\r\n"
	       "T NO [CANNOT] Mailbox name is not in canonical modified "
	       "UTF-7 (RFC 3501 section 5.1.3)\r\n");
}

/* ---- CREATE / DELETE / RENAME ---------------------------------------- */

static void test_create_hierarchy_and_list(void **state)
{
	struct h *h = *state;

	expect(h, "CREATE a/b/c/", "T OK CREATE completed\r\n");
	expect(h, "LIST \"\" a*",
	       "* LIST (\\HasChildren) \"/\" a\r\n"
	       "* LIST (\\HasChildren) \"/\" a/b\r\n"
	       "* LIST (\\HasNoChildren) \"/\" a/b/c\r\n"
	       "T OK LIST completed\r\n");
	expect(h, "CREATE a/b",
	       "T NO [ALREADYEXISTS] Mailbox already exists\r\n");
	expect(h, "CREATE inbox",
	       "T NO [ALREADYEXISTS] INBOX always exists\r\n");
	expect(h, "CREATE \"a*b\"",
	       "T NO [CANNOT] Mailbox names may not contain \"*\" or "
	       "\"%\"\r\n");
	expect(h, "CREATE a//b",
	       "T NO [CANNOT] Mailbox name has an empty level (leading, "
	       "trailing or doubled \"/\")\r\n");
	expect(h, "CREATE ~x",
	       "T NO [CANNOT] Mailbox name may not start "
	       "with \"~\"\r\n");
	expect(h, "CREATE a/../b",
	       "T NO [CANNOT] Mailbox name has a \".\" or \"..\" level\r\n");
	expect(h, "CREATE", "T BAD Expected a mailbox name\r\n");
	expect(h, "CREATE a b", "T BAD Expected one mailbox name\r\n");
	/* International names: decoded on the way in, encoded out. */
	expect(h, "CREATE Entw&APw-rfe", "T OK CREATE completed\r\n");
	assert_int_equal(mbox(h, "Entw\xc3\xbcrfe").messages, 0);
	expect(h, "LIST \"\" Entw*",
	       "* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\r\n"
	       "T OK LIST completed\r\n");
	h->s.enabled_utf8 = true;
	expect(h, "LIST \"\" Entw*",
	       "* LIST (\\HasNoChildren) \"/\" \"Entw\xc3\xbcrfe\"\r\n"
	       "T OK LIST completed\r\n");
}

static void test_delete_rules(void **state)
{
	struct h *h = *state;

	expect(h, "CREATE a/b", "T OK CREATE completed\r\n");
	expect(h, "DELETE INBOX", "T NO [CANNOT] INBOX cannot be deleted\r\n");
	expect(h, "DELETE nosuch", "T NO [NONEXISTENT] No such mailbox\r\n");
	/* §6.3.5: a mailbox with children becomes \Noselect. */
	expect(h, "DELETE a", "T OK DELETE completed\r\n");
	expect(h, "LIST \"\" a*",
	       "* LIST (\\Noselect \\HasChildren) \"/\" a\r\n"
	       "* LIST (\\HasNoChildren) \"/\" a/b\r\n"
	       "T OK LIST completed\r\n");
	expect(h, "DELETE a",
	       "T NO [HASCHILDREN] Mailbox has inferior "
	       "hierarchical names\r\n");
	expect(h, "SELECT a", "T NO [NONEXISTENT] No such mailbox\r\n");
	expect(h, "DELETE a/b", "T OK DELETE completed\r\n");
	expect(h, "DELETE a", "T OK DELETE completed\r\n");
	expect(h, "LIST \"\" a*", "T OK LIST completed\r\n");
}

static void test_delete_selected_stays_selected(void **state)
{
	struct h *h = *state;

	expect(h, "CREATE x", "T OK CREATE completed\r\n");
	free(run(h, "SELECT x"));
	expect(h, "DELETE x", "T OK DELETE completed\r\n");
	/* RFC 9051 §3: only SELECT/EXAMINE/CLOSE/UNSELECT leave it. */
	assert_int_equal(h->s.state, IMAP_S_SELECTED);
	expect(h, "UNSELECT", "T OK UNSELECT completed\r\n");
	assert_int_equal(h->s.state, IMAP_S_AUTH);
}

static void test_rename(void **state)
{
	struct h *h = *state;
	struct store_mailbox_info before, after;

	expect(h, "CREATE a/b", "T OK CREATE completed\r\n");
	before = mbox(h, "a/b");
	free(run(h, "SELECT a/b"));
	expect(h, "RENAME a z/y", "T OK RENAME completed\r\n");
	after = mbox(h, "z/y/b");
	assert_int_equal(before.id, after.id);
	assert_int_equal(before.uidvalidity, after.uidvalidity);
	/* The selected mailbox moved with its parent. */
	assert_string_equal(h->s.sel.name, "z/y/b");
	expect(h, "RENAME nosuch q", "T NO [NONEXISTENT] No such mailbox\r\n");
	expect(h, "RENAME z Sent",
	       "T NO [ALREADYEXISTS] Target mailbox already exists\r\n");
	expect(h, "RENAME z inbox",
	       "T NO [ALREADYEXISTS] INBOX always exists\r\n");
	expect(h, "RENAME z", "T BAD Expected a mailbox name\r\n");
	/* §6.3.6: renaming INBOX moves its messages, INBOX stays. */
	append(h, "INBOX", MSG, 0);
	expect(h, "RENAME INBOX old", "T OK RENAME completed\r\n");
	assert_int_equal(mbox(h, "INBOX").messages, 0);
	assert_int_equal(mbox(h, "old").messages, 1);
}

/* ---- LIST, LSUB, subscriptions --------------------------------------- */

static void test_list_defaults_and_special_use(void **state)
{
	struct h *h = *state;

	expect(h, "LIST \"\" %",
	       "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	       "* LIST (\\HasNoChildren \\Archive) \"/\" Archive\r\n"
	       "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts\r\n"
	       "* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n"
	       "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	       "* LIST (\\HasNoChildren \\Trash) \"/\" Trash\r\n"
	       "T OK LIST completed\r\n");
	expect(h, "LIST (SPECIAL-USE) \"\" *",
	       "* LIST (\\HasNoChildren \\Archive) \"/\" Archive\r\n"
	       "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts\r\n"
	       "* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n"
	       "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	       "* LIST (\\HasNoChildren \\Trash) \"/\" Trash\r\n"
	       "T OK LIST completed\r\n");
	expect(h, "LIST \"\" (inbox Sent) RETURN (SPECIAL-USE CHILDREN)",
	       "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	       "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	       "T OK LIST completed\r\n");
	/* Every LIST shows special use (RFC 6154 §2 allows it). */
	h->s.enabled_rev2 = true;
	expect(h, "LIST \"\" Junk",
	       "* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n"
	       "T OK LIST completed\r\n");
}

static void test_list_root_reference_and_empty(void **state)
{
	struct h *h = *state;

	expect(h, "LIST \"\" \"\"",
	       "* LIST (\\Noselect) \"/\" \"\"\r\n"
	       "T OK LIST completed\r\n");
	/* Extended syntax: an empty pattern matches nothing (RFC 5258). */
	expect(h, "LIST () \"\" \"\"", "T OK LIST completed\r\n");
	expect(h, "CREATE Work/Projects/X", "T OK CREATE completed\r\n");
	expect(h, "LIST Work/ %",
	       "* LIST (\\HasChildren) \"/\" Work/Projects\r\n"
	       "T OK LIST completed\r\n");
	expect(h, "LIST Work/ *",
	       "* LIST (\\HasChildren) \"/\" Work/Projects\r\n"
	       "* LIST (\\HasNoChildren) \"/\" Work/Projects/X\r\n"
	       "T OK LIST completed\r\n");
	expect(h, "LIST \"\" (Work Work/% Work)",
	       "* LIST (\\HasChildren) \"/\" Work\r\n"
	       "* LIST (\\HasChildren) \"/\" Work/Projects\r\n"
	       "T OK LIST completed\r\n");
	/* A non-canonical pattern still matches the names' spelling. */
	expect(h, "LIST \"\" %/&AGE*", "T OK LIST completed\r\n");
}

static void test_list_bad_options(void **state)
{
	struct h *h = *state;

	expect(h, "LIST (RECURSIVEMATCH) \"\" *",
	       "T BAD RECURSIVEMATCH needs another selection option\r\n");
	expect(h, "LIST (REMOTE RECURSIVEMATCH) \"\" *",
	       "T BAD RECURSIVEMATCH needs another selection option\r\n");
	expect(h, "LIST (FOO) \"\" *",
	       "T BAD Unknown LIST selection option\r\n");
	expect(h, "LIST \"\" * RETURN (FOO)",
	       "T BAD Unknown LIST return option\r\n");
	expect(h, "LIST \"\" * RETURN (STATUS (FOO))",
	       "T BAD Unknown STATUS item\r\n");
	expect(h, "LIST \"\" * RETURN (STATUS)",
	       "T BAD Expected a list of STATUS items\r\n");
	expect(h, "LIST \"\" * FOO",
	       "T BAD Expected RETURN (options) or "
	       "nothing\r\n");
	expect(h, "LIST \"\" ()", "T BAD Expected mailbox patterns\r\n");
	expect(h, "LIST \"\"", "T BAD Expected a mailbox pattern\r\n");
	/* REMOTE alone is fine: we have no remote mailboxes. */
	expect(h, "LIST (REMOTE) \"\" Sent",
	       "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	       "T OK LIST completed\r\n");
}

static void test_list_subscribed_recursivematch_lsub(void **state)
{
	struct h *h = *state;

	/* RFC 5258 example 8/10 shapes: "Foo" exists, unsubscribed, with
	 * subscribed child "Foo/Baz"; "ghost/kid" is subscribed only. */
	expect(h, "CREATE Foo/Baz", "T OK CREATE completed\r\n");
	expect(h, "UNSUBSCRIBE Foo", "T OK UNSUBSCRIBE completed\r\n");
	expect(h, "SUBSCRIBE ghost/kid", "T OK SUBSCRIBE completed\r\n");
	expect(h, "UNSUBSCRIBE never", "T OK UNSUBSCRIBE completed\r\n");
	expect(h, "LIST (SUBSCRIBED) \"\" *",
	       "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX\r\n"
	       "* LIST (\\HasNoChildren \\Subscribed \\Archive) \"/\" "
	       "Archive\r\n"
	       "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" Drafts\r\n"
	       "* LIST (\\HasNoChildren \\Subscribed) \"/\" Foo/Baz\r\n"
	       "* LIST (\\HasNoChildren \\Subscribed \\Junk) \"/\" Junk\r\n"
	       "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" Sent\r\n"
	       "* LIST (\\HasNoChildren \\Subscribed \\Trash) \"/\" Trash\r\n"
	       "* LIST (\\NonExistent \\Subscribed) \"/\" ghost/kid\r\n"
	       "T OK LIST completed\r\n");
	expect(h, "LIST (SUBSCRIBED) \"\" (Foo ghost)",
	       "T OK LIST completed\r\n");
	expect(h, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (Foo ghost)",
	       "* LIST (\\HasChildren) \"/\" Foo (\"CHILDINFO\" "
	       "(\"SUBSCRIBED\"))\r\n"
	       "* LIST (\\NonExistent) \"/\" ghost (\"CHILDINFO\" "
	       "(\"SUBSCRIBED\"))\r\n"
	       "T OK LIST completed\r\n");
	/* No CHILDINFO when the child is returned too (§3.5). */
	expect(h, "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Foo*",
	       "* LIST (\\HasNoChildren \\Subscribed) \"/\" Foo/Baz\r\n"
	       "T OK LIST completed\r\n");
	/* RETURN (SUBSCRIBED) marks, without selecting. */
	expect(h, "LIST \"\" Foo* RETURN (SUBSCRIBED)",
	       "* LIST (\\HasChildren) \"/\" Foo\r\n"
	       "* LIST (\\HasNoChildren \\Subscribed) \"/\" Foo/Baz\r\n"
	       "T OK LIST completed\r\n");
	/* RFC 3501 §6.3.9: LSUB with "%" shows unsubscribed parents of
	 * subscribed names as \Noselect. */
	expect(h, "LSUB \"\" %o%",
	       "* LSUB (\\Noselect) \"/\" Foo\r\n"
	       "* LSUB (\\Noselect) \"/\" ghost\r\n"
	       "T OK LSUB completed\r\n");
	expect(h, "LSUB \"\" *o*",
	       "* LSUB () \"/\" Foo/Baz\r\n"
	       "* LSUB (\\Noselect) \"/\" ghost/kid\r\n"
	       "T OK LSUB completed\r\n");
	expect(h, "LSUB \"\" INBOX",
	       "* LSUB () \"/\" INBOX\r\n"
	       "T OK LSUB completed\r\n");
}

static void test_list_status_return(void **state)
{
	struct h *h = *state;
	struct store_mailbox_info info;
	char want[512];

	append(h, "Sent", MSG, STORE_F_SEEN);
	append(h, "Sent", MSG, 0);
	expect(h, "CREATE p/q", "T OK CREATE completed\r\n");
	expect(h, "DELETE p", "T OK DELETE completed\r\n");
	info = mbox(h, "Sent");
	snprintf(want, sizeof(want),
	         "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	         "* STATUS Sent (MESSAGES 2 UNSEEN 1 SIZE %zu UIDVALIDITY "
	         "%u)\r\n"
	         "* LIST (\\Noselect \\HasChildren) \"/\" p\r\n"
	         "T OK LIST completed\r\n",
	         2 * strlen(MSG), info.uidvalidity);
	expect(h,
	       "LIST \"\" (p Sent) RETURN (STATUS (MESSAGES UNSEEN SIZE "
	       "UIDVALIDITY MESSAGES))",
	       want);
}

/* ---- STATUS ---------------------------------------------------------- */

static void test_status(void **state)
{
	struct h *h = *state;
	char want[512];
	struct store_mailbox_info info;

	append(h, "INBOX", MSG, STORE_F_DELETED);
	append(h, "INBOX", MSG, STORE_F_SEEN);
	append(h, "INBOX", MSG, 0);
	info = mbox(h, "INBOX");
	snprintf(want, sizeof(want),
	         "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UNSEEN 2 DELETED 1 "
	         "SIZE %zu RECENT 0 HIGHESTMODSEQ %llu)\r\n"
	         "T OK STATUS completed\r\n",
	         3 * strlen(MSG), (unsigned long long)info.highestmodseq);
	expect(h,
	       "STATUS inbox (MESSAGES UIDNEXT UNSEEN DELETED SIZE RECENT "
	       "HIGHESTMODSEQ)",
	       want);
	/* STATUS of the selected mailbox is allowed. */
	free(run(h, "SELECT INBOX"));
	expect(h, "STATUS INBOX (MESSAGES)",
	       "* STATUS INBOX (MESSAGES 3)\r\nT OK STATUS completed\r\n");
	expect(h, "STATUS INBOX (FOO)", "T BAD Unknown STATUS item\r\n");
	expect(h, "STATUS INBOX ()",
	       "T BAD Expected a list of STATUS items\r\n");
	expect(h, "STATUS INBOX",
	       "T BAD Expected a mailbox name and a list "
	       "of items\r\n");
	expect(h, "STATUS nosuch (MESSAGES)",
	       "T NO [NONEXISTENT] No such mailbox\r\n");
}

/* ---- APPEND ---------------------------------------------------------- */

static void test_append(void **state)
{
	struct h *h = *state;
	struct store_mailbox_info info = mbox(h, "Drafts");
	struct store_msg_ext *msgs = NULL;
	char **names = NULL;
	size_t n = 0;
	char want[128];

	snprintf(want, sizeof(want),
	         "T OK [APPENDUID %u 1] APPEND completed\r\n",
	         info.uidvalidity);
	expect_lit(h,
	           "APPEND Drafts (\\Seen \\Draft $Work) "
	           "\"17-Jul-1996 02:44:25 -0700\" {21}",
	           MSG, want);
	assert_int_equal(
	        store_list_ext(h->s.acct, info.id, 1, UINT32_MAX, &msgs, &n),
	        STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].m.flags, STORE_F_SEEN | STORE_F_DRAFT);
	assert_int_equal(msgs[0].m.internal_date, 837596665);
	assert_int_equal(msgs[0].m.size, strlen(MSG));
	assert_int_equal(store_keyword_names(h->s.acct, &names), STORE_OK);
	for (unsigned i = 0; i < STORE_KEYWORDS_MAX; i++)
		if (msgs[0].keywords & (UINT64_C(1) << i))
			assert_string_equal(names[i], "$Work");
	assert_true(msgs[0].keywords != 0);
	store_strv_free(names, STORE_KEYWORDS_MAX);
	free(msgs);
	/* A literal8 (RFC 3516), no flags or date. */
	snprintf(want, sizeof(want),
	         "T OK [APPENDUID %u 2] APPEND completed\r\n",
	         info.uidvalidity);
	expect_lit(h, "APPEND Drafts ~{21}", MSG, want);
	assert_int_equal(mbox(h, "Drafts").messages, 2);
	expect_lit(h, "APPEND nosuch {21}", MSG,
	           "T NO [TRYCREATE] Mailbox does not exist\r\n");
	expect_lit(h, "APPEND INBOX {0}", "", "T BAD Empty message\r\n");
	expect(h, "APPEND INBOX \"Subject: x\"",
	       "T BAD Expected the message as a literal\r\n");
	expect_lit(h, "APPEND INBOX \"yesterday\" {21}", MSG,
	           "T BAD Invalid date-time\r\n");
	expect_lit(h, "APPEND INBOX (\\Recent) {21}", MSG,
	           "T BAD \\Recent cannot be set\r\n");
	assert_int_equal(mbox(h, "INBOX").messages, 0);
}

/* ---- EXPUNGE, CLOSE, UNSELECT ---------------------------------------- */

static void set_deleted(struct h *h, const char *mb, const uint32_t *uids,
                        size_t n)
{
	struct store_flag_result *res = NULL;
	size_t nres = 0;

	assert_int_equal(store_set_flags(h->s.acct, mbox(h, mb).id, uids, n,
	                                 STORE_FLAGS_ADD, STORE_F_DELETED, 0, 0,
	                                 &res, &nres),
	                 STORE_OK);
	free(res);
}

static void test_expunge_numbers(void **state)
{
	struct h *h = *state;
	uint32_t del[] = {1, 3, 4};

	for (int i = 0; i < 5; i++)
		append(h, "INBOX", MSG, 0);
	free(run(h, "SELECT INBOX"));
	set_deleted(h, "INBOX", del, 3);
	/* Highest first: each number is right as sent. */
	expect(h, "EXPUNGE",
	       "* 4 EXPUNGE\r\n* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n"
	       "T OK EXPUNGE completed\r\n");
	assert_int_equal(h->s.sel.count, 2);
	assert_int_equal(h->s.sel.uids[0], 2);
	assert_int_equal(h->s.sel.uids[1], 5);
	assert_int_equal(mbox(h, "INBOX").messages, 2);
	expect(h, "EXPUNGE", "T OK EXPUNGE completed\r\n");
	expect(h, "EXPUNGE 1", "T BAD EXPUNGE takes no arguments\r\n");
}

static void test_uid_expunge_only_listed(void **state)
{
	struct h *h = *state;
	uint32_t del[] = {1, 2, 3};

	for (int i = 0; i < 4; i++)
		append(h, "INBOX", MSG, 0);
	free(run(h, "SELECT INBOX"));
	set_deleted(h, "INBOX", del, 3);
	/* RFC 4315 §2.1: only \Deleted messages among the UIDs. */
	expect(h, "UID EXPUNGE 2:4",
	       "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n"
	       "T OK EXPUNGE completed\r\n");
	assert_int_equal(h->s.sel.count, 2);
	assert_int_equal(h->s.sel.uids[0], 1);
	assert_int_equal(h->s.sel.uids[1], 4);
	expect(h, "UID EXPUNGE", "T BAD Expected a UID set\r\n");
	expect(h, "UID EXPUNGE 0", "T BAD Zero in sequence set\r\n");
	expect(h, "UID EXPUNGE 99", "T OK EXPUNGE completed\r\n");
}

static void test_close_expunges_silently(void **state)
{
	struct h *h = *state;
	uint32_t del[] = {2};

	for (int i = 0; i < 3; i++)
		append(h, "INBOX", MSG, 0);
	free(run(h, "SELECT INBOX"));
	set_deleted(h, "INBOX", del, 1);
	expect(h, "CHECK", "T OK CHECK completed\r\n");
	expect(h, "UNSELECT", "T OK UNSELECT completed\r\n");
	assert_int_equal(mbox(h, "INBOX").messages, 3);
	/* EXAMINE + CLOSE removes nothing. */
	free(run(h, "EXAMINE INBOX"));
	expect(h, "CLOSE", "T OK CLOSE completed\r\n");
	assert_int_equal(mbox(h, "INBOX").messages, 3);
	free(run(h, "SELECT INBOX"));
	expect(h, "CLOSE", "T OK CLOSE completed\r\n");
	assert_int_equal(h->s.state, IMAP_S_AUTH);
	assert_int_equal(mbox(h, "INBOX").messages, 2);
}

/* ---- through the session framework (fake_conn.c) --------------------- */

static void take_expect(struct po_conn *c, const char *want)
{
	char *got = fake_take(c);

	assert_string_equal(got, want);
	free(got);
}

static struct po_conn *e2e_login(struct h *h)
{
	struct po_conn *c = fake_conn_new(h->fe, &imap_protocol);

	free(fake_take(c));
	fake_line(c, "L LOGIN alice secret");
	free(fake_take(c));
	return c;
}

static void test_session_select_append_close(void **state)
{
	struct h *h = *state;
	struct po_conn *c = e2e_login(h);
	struct store_mailbox_info info = mbox(h, "INBOX");
	char want[1024];

	fake_line(c, "A SELECT INBOX");
	snprintf(want, sizeof(want),
	         "* 0 EXISTS\r\n"
	         "* 0 RECENT\r\n"
	         "* FLAGS (" SYS ")\r\n"
	         "* OK [PERMANENTFLAGS (" SYS " \\*)] Flags permitted\r\n"
	         "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	         "* OK [UIDNEXT 1] Predicted next UID\r\n"
	         "A OK [READ-WRITE] SELECT completed\r\n",
	         info.uidvalidity);
	take_expect(c, want);
	assert_int_equal(c->watch_mailbox, info.id);
	/* APPEND to the selected mailbox: the framework's update (EXISTS)
	 * comes before the tagged APPENDUID. */
	fake_line(c, "B APPEND INBOX (\\Deleted) {21+}");
	fake_literal(c, MSG, strlen(MSG), 0);
	fake_line(c, "");
	snprintf(want, sizeof(want),
	         "* 1 EXISTS\r\n"
	         "B OK [APPENDUID %u 1] APPEND completed\r\n",
	         info.uidvalidity);
	take_expect(c, want);
	fake_line(c, "C LIST \"\" inbox");
	take_expect(c, "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	               "C OK LIST completed\r\n");
	fake_line(c, "D CLOSE");
	take_expect(c, "D OK CLOSE completed\r\n");
	assert_int_equal(mbox(h, "INBOX").messages, 0);
	fake_line(c, "E EXPUNGE");
	take_expect(c, "E BAD EXPUNGE not allowed now\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

static void test_session_expunge_and_status(void **state)
{
	struct h *h = *state;
	struct po_conn *c;
	uint32_t del[] = {2};

	for (int i = 0; i < 3; i++)
		append(h, "INBOX", MSG, 0);
	c = e2e_login(h);
	fake_line(c, "A SELECT INBOX");
	free(fake_take(c));
	set_deleted(h, "INBOX", del, 1);
	fake_line(c, "B UID EXPUNGE 1:*");
	take_expect(c, "* 2 EXPUNGE\r\nB OK EXPUNGE completed\r\n");
	fake_line(c, "C STATUS INBOX (MESSAGES UIDNEXT)");
	take_expect(c, "* STATUS INBOX (MESSAGES 2 UIDNEXT 4)\r\n"
	               "C OK STATUS completed\r\n");
	fake_line(c, "D EXAMINE Trash");
	free(fake_take(c));
	fake_line(c, "E EXPUNGE");
	take_expect(c, "E NO [READ-ONLY] Mailbox is read-only\r\n");
	fake_conn_free(&c, PO_CLOSE_CLIENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pattern_wildcards),
	        cmocka_unit_test(test_pattern_no_backtracking_blowup),
	        T(test_select_rev1_responses),
	        T(test_select_rev2_lists_and_no_recent),
	        T(test_select_keywords_in_flags),
	        T(test_select_again_closes_then_fails),
	        T(test_select_parameters),
	        T(test_create_hierarchy_and_list),
	        T(test_delete_rules),
	        T(test_delete_selected_stays_selected),
	        T(test_rename),
	        T(test_list_defaults_and_special_use),
	        T(test_list_root_reference_and_empty),
	        T(test_list_bad_options),
	        T(test_list_subscribed_recursivematch_lsub),
	        T(test_list_status_return),
	        T(test_status),
	        T(test_append),
	        T(test_expunge_numbers),
	        T(test_uid_expunge_only_listed),
	        T(test_close_expunges_silently),
	        T(test_session_select_append_close),
	        T(test_session_expunge_and_status),
	};

	return cmocka_run_group_tests_name("imap_mailbox", tests, NULL, NULL);
}
