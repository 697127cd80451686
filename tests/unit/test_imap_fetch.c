/*
 * Unit tests of FETCH's pure parts: the item parser (every valid form of
 * RFC 9051 §6.4.5 / RFC 3516 and the invalid ones with their BAD reasons),
 * the base64 and quoted-printable decoders (RFC 2045 §6.7, §6.8) and the
 * HEADER.FIELDS subsetting on folded headers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_conn.h"
#include "imap.h"
#include "imap_fetch.h"
#include "imap_private.h"

/* --- helpers ----------------------------------------------------------- */

struct parsed {
	struct imap_arena arena;
	struct imap_fetch f;
	const char *error;
	int rc;
};

/* Parse the arguments of "FETCH <line>". */
static void parse(struct parsed *p, const char *line)
{
	struct imap_input_part part = {line, strlen(line), false};
	struct imap_input in = {&part, 1};
	struct imap_arg *args = NULL;
	size_t n = 0, lits = 0;

	memset(p, 0, sizeof(*p));
	imap_arena_init(&p->arena);
	p->rc = imap_parse_args(&in, &p->arena, &args, &n, &lits, &p->error);
	assert_int_equal(p->rc, 0);
	p->rc = imap_fetch_parse_args(args, n, &p->arena, &p->f, &p->error);
}

static void parsed_free(struct parsed *p)
{
	if (p->rc == 0)
		imap_fetch_deinit(&p->f);
	imap_arena_deinit(&p->arena);
}

/* The response names of the items, space separated. */
static void expect_names(const char *line, const char *want)
{
	struct parsed p;
	char got[2048] = "";

	parse(&p, line);
	if (p.rc != 0)
		fail_msg("\"%s\": %s", line, p.error);
	for (size_t i = 0; i < p.f.n_items; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, p.f.items[i].name);
	}
	assert_string_equal(got, want);
	parsed_free(&p);
}

static void expect_bad(const char *line, const char *want_error)
{
	struct parsed p;

	parse(&p, line);
	if (p.rc == 0)
		fail_msg("\"%s\" parsed", line);
	assert_int_equal(p.rc, -1);
	assert_string_equal(p.error, want_error);
	parsed_free(&p);
}

/* Parse one item on its own. */
static struct imap_fetch_item item(struct imap_arena *a, const char *s)
{
	struct imap_fetch_item it;
	const char *err = NULL;

	if (imap_fetch_parse_item(s, strlen(s), a, &it, &err) != 0)
		fail_msg("\"%s\": %s", s, err);
	return it;
}

/* --- the parser -------------------------------------------------------- */

static void test_fetch_macros_expand(void **state)
{
	(void)state;
	expect_names("1:* ALL", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE");
	expect_names("1 fast", "FLAGS INTERNALDATE RFC822.SIZE");
	expect_names("1 Full", "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY");
}

static void test_fetch_simple_items(void **state)
{
	struct parsed p;

	(void)state;
	expect_names("1,3:5 (flags internaldate rfc822.size envelope body "
	             "bodystructure uid rfc822 rfc822.header rfc822.text)",
	             "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY "
	             "BODYSTRUCTURE UID RFC822 RFC822.HEADER RFC822.TEXT");
	expect_names("2 UID", "UID");
	parse(&p, "1 (RFC822 RFC822.HEADER RFC822.TEXT FLAGS UID)");
	assert_int_equal(p.rc, 0);
	assert_true(p.f.items[0].sets_seen);
	assert_int_equal(p.f.items[0].spec, IMAP_SPEC_NONE);
	assert_false(p.f.items[1].sets_seen);
	assert_int_equal(p.f.items[1].spec, IMAP_SPEC_HEADER);
	assert_true(p.f.items[2].sets_seen);
	assert_int_equal(p.f.items[2].spec, IMAP_SPEC_TEXT);
	assert_true(p.f.sets_seen);
	assert_true(p.f.has_flags);
	assert_true(p.f.has_uid);
	parsed_free(&p);
}

static void test_fetch_searchres_set(void **state)
{
	struct parsed p;

	(void)state;
	parse(&p, "$ (FLAGS)");
	assert_int_equal(p.rc, 0);
	assert_true(p.f.set.searchres);
	assert_false(p.f.sets_seen);
	parsed_free(&p);
}

static void test_fetch_sections(void **state)
{
	(void)state;
	expect_names("1 (BODY[] body.peek[] BODY[1.2.3] BODY[HEADER] "
	             "BODY[TEXT] BODY[1.MIME] BODY[2.HEADER] BODY[2.text] "
	             "BODY[4294967295])",
	             "BODY[] BODY[] BODY[1.2.3] BODY[HEADER] BODY[TEXT] "
	             "BODY[1.MIME] BODY[2.HEADER] BODY[2.TEXT] "
	             "BODY[4294967295]");
	expect_names("1 BODY.PEEK[HEADER.FIELDS (Subject from)]",
	             "BODY[HEADER.FIELDS (SUBJECT FROM)]");
	expect_names("1 BODY[1.2.HEADER.FIELDS.NOT (X-A)]",
	             "BODY[1.2.HEADER.FIELDS.NOT (X-A)]");
	expect_names("1 BODY[HEADER.FIELDS (\"X-Q\" \"a(b\" \"c\\\"d\")]",
	             "BODY[HEADER.FIELDS (X-Q \"A(B\" \"C\\\"D\")]");
	expect_names("1 (BINARY[1] BINARY.PEEK[1.2]<5.100> BINARY.SIZE[3] "
	             "BINARY[] binary.size[])",
	             "BINARY[1] BINARY[1.2] BINARY.SIZE[3] BINARY[] "
	             "BINARY.SIZE[]");
}

static void test_fetch_section_fields(void **state)
{
	struct imap_arena a;
	struct imap_fetch_item it;

	(void)state;
	imap_arena_init(&a);
	it = item(&a, "BODY.PEEK[3.1.HEADER.FIELDS (a \"B\")]<7.9>");
	assert_int_equal(it.kind, IMAP_FETCH_SECTION);
	assert_int_equal(it.spec, IMAP_SPEC_FIELDS);
	assert_false(it.sets_seen);
	assert_int_equal(it.depth, 2);
	assert_int_equal(it.path[0], 3);
	assert_int_equal(it.path[1], 1);
	assert_int_equal(it.n_fields, 2);
	assert_string_equal(it.fields[0], "A");
	assert_string_equal(it.fields[1], "B");
	assert_true(it.partial);
	assert_int_equal(it.offset, 7);
	assert_int_equal(it.length, 9);

	it = item(&a, "BODY[]<0.9223372036854775807>");
	assert_true(it.sets_seen);
	assert_int_equal(it.offset, 0);
	assert_int_equal(it.length, INT64_MAX);

	it = item(&a, "BINARY[2]");
	assert_int_equal(it.kind, IMAP_FETCH_BINARY);
	assert_true(it.sets_seen);
	it = item(&a, "BINARY.PEEK[2]");
	assert_false(it.sets_seen);
	it = item(&a, "BINARY.SIZE[2]");
	assert_int_equal(it.kind, IMAP_FETCH_BINARY_SIZE);
	assert_false(it.sets_seen);
	imap_arena_deinit(&a);
}

static void test_fetch_section_depth_bound(void **state)
{
	char line[512] = "1 BODY[";

	(void)state;
	for (int i = 0; i < IMAP_FETCH_MAX_DEPTH; i++)
		strcat(line, i == 0 ? "1" : ".1");
	strcat(line, "]");
	{
		struct parsed p;

		parse(&p, line);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.f.items[0].depth, IMAP_FETCH_MAX_DEPTH);
		parsed_free(&p);
	}
	line[strlen(line) - 1] = '\0';
	strcat(line, ".1]");
	expect_bad(line, "Section nested too deeply");
}

static void test_fetch_field_and_item_bounds(void **state)
{
	char line[4096] = "1 BODY[HEADER.FIELDS (";
	char items[4096] = "1 (";

	(void)state;
	for (int i = 0; i < IMAP_FETCH_MAX_FIELDS; i++)
		sprintf(line + strlen(line), "%sX%d", i ? " " : "", i);
	strcat(line, ")]");
	{
		struct parsed p;

		parse(&p, line);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.f.items[0].n_fields, IMAP_FETCH_MAX_FIELDS);
		parsed_free(&p);
	}
	line[strlen(line) - 2] = '\0';
	strcat(line, " Y)]");
	expect_bad(line, "Too many header field names");

	for (int i = 0; i <= IMAP_FETCH_MAX_ITEMS; i++)
		strcat(items, i ? " UID" : "UID");
	strcat(items, ")");
	expect_bad(items, "Too many FETCH items");
}

static void test_fetch_invalid(void **state)
{
	(void)state;
	expect_bad("", "Missing sequence set");
	expect_bad("(FLAGS)", "Missing sequence set");
	expect_bad("0 FLAGS", "Zero in sequence set");
	expect_bad("1", "Missing FETCH items");
	expect_bad("1 FOO", "Unknown FETCH item");
	expect_bad("1 (FLAGS FOO)", "Unknown FETCH item");
	expect_bad("1 BODY.PEEK", "Unknown FETCH item");
	expect_bad("1 RFC822.PEEK[]", "Unknown FETCH item");
	expect_bad("1 ()", "Empty FETCH item list");
	expect_bad("1 (ALL)", "ALL, FAST and FULL must be used alone");
	expect_bad("1 (FLAGS FAST)", "ALL, FAST and FULL must be used alone");
	expect_bad("1 (FLAGS (UID))", "Nested list in FETCH items");
	expect_bad("1 \"FLAGS\"", "Invalid FETCH item");
	expect_bad("1 NIL", "Invalid FETCH item");
	expect_bad("1 BODY[1..2]", "Invalid section");
	expect_bad("1 BODY[1.]", "Invalid section");
	expect_bad("1 BODY[.1]", "Invalid section");
	expect_bad("1 BODY[1X]", "Invalid section");
	expect_bad("1 BODY[0]", "Part numbers start at 1");
	expect_bad("1 BODY[1.0]", "Part numbers start at 1");
	expect_bad("1 BODY[01]", "Part numbers start at 1");
	expect_bad("1 BODY[4294967296]", "Invalid part number in section");
	expect_bad("1 BODY[HEADER.FIELDS]",
	           "HEADER.FIELDS needs a list of field names");
	expect_bad("1 BODY[HEADER.FIELDS.NOT]",
	           "HEADER.FIELDS needs a list of field names");
	expect_bad("1 BODY[HEADER.FIELDS ()]", "Empty header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A  B)]", "Empty header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A:B)]", "Invalid header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A]", "Invalid header field list");
	expect_bad("1 BODY[HEADER.FIELDS (\"A)]",
	           "Invalid quoted header field name");
	expect_bad("1 BODY[HEADER.FIELDS (A)X]", "Invalid section");
	expect_bad("1 BODY[MIME]", "MIME needs a part number");
	expect_bad("1 BODY[TEXT.HEADER]", "Invalid section");
	expect_bad("1 BODY[HEADERS]", "Invalid section");
	expect_bad("1 BODY[FOO]", "Invalid section");
	expect_bad("1 BODY[]<1.0>", "Partial length must not be 0");
	expect_bad("1 BODY[]<1>", "Invalid partial <offset.length>");
	expect_bad("1 BODY[]<1.2>x", "Invalid partial <offset.length>");
	expect_bad("1 BODY[]<.2>", "Invalid partial <offset.length>");
	expect_bad("1 BODY[]<9223372036854775808.1>",
	           "Invalid partial <offset.length>");
	expect_bad("1 BODY[]x", "Invalid partial <offset.length>");
	expect_bad("1 BINARY[HEADER]", "BINARY takes only part numbers");
	expect_bad("1 BINARY[1.MIME]", "BINARY takes only part numbers");
	expect_bad("1 BINARY.PEEK[1.TEXT]", "BINARY takes only part numbers");
	expect_bad("1 BINARY.SIZE[1]<0.1>", "BINARY.SIZE takes no partial");
	expect_bad("1 FLAGS (CHANGEDSINCE 1)", "Unknown FETCH modifier");
	expect_bad("1 FLAGS X", "Too many FETCH arguments");
	expect_bad("1 FLAGS (A) (B)", "Too many FETCH arguments");
}

/* --- decoders ---------------------------------------------------------- */

static void expect_decoded(int (*dec)(const char *, size_t, struct po_buf *),
                           const char *in, const char *want, size_t want_len)
{
	struct po_buf out = PO_BUF_INIT;

	assert_int_equal(dec(in, strlen(in), &out), 0);
	assert_int_equal(out.len, want_len);
	assert_memory_equal(out.data == NULL ? "" : out.data, want, want_len);
	po_buf_deinit(&out);
}

#define EXPECT_DEC(fn, in, want) expect_decoded(fn, in, want, sizeof(want) - 1)

static void test_base64_decodes(void **state)
{
	(void)state;
	EXPECT_DEC(imap_base64_decode, "aGVsbG8gd29ybGQ=", "hello world");
	EXPECT_DEC(imap_base64_decode, "aGVsbG8gd29ybGQh", "hello world!");
	EXPECT_DEC(imap_base64_decode, "aGk=", "hi");
	EXPECT_DEC(imap_base64_decode, "aGk", "hi");
	EXPECT_DEC(imap_base64_decode, "aA==", "h");
	EXPECT_DEC(imap_base64_decode, "", "");
	EXPECT_DEC(imap_base64_decode, "AAEC/w==", "\0\1\2\xff");
	EXPECT_DEC(imap_base64_decode, "+/+/", "\xfb\xff\xbf");
}

static void test_base64_ignores_line_breaks_and_junk(void **state)
{
	(void)state;
	EXPECT_DEC(imap_base64_decode, "aGVs\r\nbG8g\r\n*d29y bGQ=\r\n",
	           "hello world");
	EXPECT_DEC(imap_base64_decode, "  a\tG\rk\n", "hi");
	/* "=" ends the data (RFC 2045 §6.8). */
	EXPECT_DEC(imap_base64_decode, "aGk=aGk=", "hi");
	/* A lone sextet is no byte. */
	EXPECT_DEC(imap_base64_decode, "aGkx\r\nY", "hi1");
}

static void test_qp_decodes(void **state)
{
	(void)state;
	EXPECT_DEC(imap_qp_decode, "caf=C3=A9\r\n", "caf\xc3\xa9\r\n");
	EXPECT_DEC(imap_qp_decode, "a=3db=3D", "a=b=");
	EXPECT_DEC(imap_qp_decode, "no line end", "no line end");
	EXPECT_DEC(imap_qp_decode, "=00=0A", "\0\n");
}

static void test_qp_soft_breaks_and_padding(void **state)
{
	(void)state;
	EXPECT_DEC(imap_qp_decode, "long=\r\nline\r\nnext  \r\nend=\r\n",
	           "longline\r\nnext\r\nend");
	/* "=" followed by transport padding is still a soft break. */
	EXPECT_DEC(imap_qp_decode, "a= \t\r\nb", "ab");
	/* Bare LF line ends decode to CRLF. */
	EXPECT_DEC(imap_qp_decode, "x\ny=\nz\n", "x\r\nyz\r\n");
	/* Malformed "=" sequences are kept (RFC 2045 §6.7 note 2). */
	EXPECT_DEC(imap_qp_decode, "=ZZ=4=x4 = y", "=ZZ=4=x4 = y");
	EXPECT_DEC(imap_qp_decode, "end=4", "end=4");
}

static void test_crlf_normalize(void **state)
{
	(void)state;
	EXPECT_DEC(imap_crlf_normalize, "a\nb\rc\r\nd\n\re",
	           "a\r\nb\r\nc\r\nd\r\n\r\ne");
}

/* --- HEADER.FIELDS ------------------------------------------------------ */

#define HDR                                                                    \
	"From: a@example.org\r\n"                                              \
	"Subject: a long\r\n"                                                  \
	" folded\r\n"                                                          \
	"\tsubject\r\n"                                                        \
	"X-Subject: no\r\n"                                                    \
	"subject : second\r\n"                                                 \
	"To: b@example.org,\r\n"                                               \
	"  c@example.org\r\n"                                                  \
	"\r\n"

static void expect_filter(const char *hdr, const char *names_csv, bool not_,
                          const char *want)
{
	char buf[256], *names[8];
	size_t n = 0;
	struct po_buf out = PO_BUF_INIT;

	snprintf(buf, sizeof(buf), "%s", names_csv);
	for (char *t = strtok(buf, ","); t != NULL; t = strtok(NULL, ","))
		names[n++] = t;
	assert_int_equal(
	        imap_header_filter(hdr, strlen(hdr), names, n, not_, &out), 0);
	assert_string_equal(out.data == NULL ? "" : out.data, want);
	po_buf_deinit(&out);
}

static void test_header_fields_keeps_folded_fields(void **state)
{
	(void)state;
	expect_filter(HDR, "SUBJECT", false,
	              "Subject: a long\r\n folded\r\n\tsubject\r\n"
	              "subject : second\r\n\r\n");
	expect_filter(HDR, "to,FROM", false,
	              "From: a@example.org\r\n"
	              "To: b@example.org,\r\n  c@example.org\r\n\r\n");
	expect_filter(HDR, "X-NONE", false, "\r\n");
}

static void test_header_fields_not(void **state)
{
	(void)state;
	expect_filter(HDR, "SUBJECT,TO", true,
	              "From: a@example.org\r\nX-Subject: no\r\n\r\n");
}

static void test_header_fields_without_blank_line(void **state)
{
	(void)state;
	/* A message with no body and no blank line gets none (RFC 9051
	 * §6.4.5.1). */
	expect_filter("Subject: x\r\nFrom: y\r\n", "FROM", false,
	              "From: y\r\n");
	expect_filter("Subject: x", "SUBJECT", false, "Subject: x");
	/* A line without a colon never matches. */
	expect_filter("junk\r\nA: 1\r\n\r\n", "JUNK,A", false, "A: 1\r\n\r\n");
	expect_filter("junk\r\nA: 1\r\n\r\n", "A", true, "junk\r\n\r\n");
}

/* --- whole FETCH commands over the in-memory core ------------------------ */

/* One test's world: an account with mail and a session that selected
 * INBOX. */
struct world {
	struct fake_env *fe;
	int64_t acct_id;
	struct po_conn *c;
};

/* Store msg in alice's INBOX with a fixed internal date; returns its
 * UID. */
static uint32_t deliver(struct world *w, const char *msg, size_t len,
                        uint32_t flags)
{
	struct store_account *a = NULL;
	struct store_mailbox_info info;
	struct store_append_opts opts = {.internal_date = 1700000000,
	                                 .flags = flags};
	uint32_t uid = 0;

	assert_int_equal(store_account_open(w->fe->env.store, w->acct_id, &a),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(a, "INBOX", &info), STORE_OK);
	assert_int_equal(
	        store_append_ex(a, info.id, msg, len, &opts, &uid, NULL),
	        STORE_OK);
	store_account_close(&a);
	return uid;
}

/* Everything the client got since the last call (malloc'd). */
static char *take(struct world *w)
{
	return fake_take(w->c);
}

/* Send one command line and return the reply (malloc'd). */
static char *command(struct world *w, const char *line)
{
	fake_line(w->c, line);
	return take(w);
}

static void expect_reply(struct world *w, const char *line, const char *want)
{
	char *got = command(w, line);

	assert_string_equal(got, want);
	free(got);
}

/* The reply's last line starts with want (the tagged result). */
static void expect_tagged(struct world *w, const char *line, const char *want)
{
	char *got = command(w, line);
	size_t n = strlen(got);
	const char *last = got;

	for (size_t i = 0; n >= 2 && i + 2 < n; i++) {
		if (got[i] == '\n')
			last = got + i + 1;
	}
	if (strncmp(last, want, strlen(want)) != 0)
		fail_msg("%s -> %s", line, got);
	free(got);
}

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	w->fe = fake_env_new();
	w->acct_id = fake_env_add_account(w->fe, "alice", "secret", true, true);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	if (w->c != NULL)
		fake_conn_free(&w->c, PO_CLOSE_CLIENT);
	fake_env_free(&w->fe);
	free(w);
	return 0;
}

/* Log in and SELECT (or EXAMINE) INBOX. */
static void open_inbox(struct world *w, bool readonly)
{
	char *greeting;

	w->c = fake_conn_new(w->fe, &imap_protocol);
	greeting = take(w);
	assert_non_null(strstr(greeting, "* OK"));
	free(greeting);
	expect_tagged(w, "L LOGIN alice secret", "L OK ");
	expect_tagged(w, readonly ? "S EXAMINE INBOX" : "S SELECT INBOX",
	              "S OK [");
}

#define SMALL                                                                  \
	"From: a@example.org\r\n"                                              \
	"Subject: hi\r\n"                                                      \
	"\r\n"                                                                 \
	"hello\r\n"

#define NESTED                                                                 \
	"From: a@example.org\r\n"                                              \
	"Subject: nested\r\n"                                                  \
	"MIME-Version: 1.0\r\n"                                                \
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"                \
	"\r\n"                                                                 \
	"preamble\r\n"                                                         \
	"--outer\r\n"                                                          \
	"Content-Type: multipart/alternative; boundary=\"inner\"\r\n"          \
	"\r\n"                                                                 \
	"--inner\r\n"                                                          \
	"Content-Type: text/plain\r\n"                                         \
	"\r\n"                                                                 \
	"plain text\r\n"                                                       \
	"--inner\r\n"                                                          \
	"Content-Type: text/html\r\n"                                          \
	"\r\n"                                                                 \
	"<p>html</p>\r\n"                                                      \
	"--inner--\r\n"                                                        \
	"\r\n"                                                                 \
	"--outer\r\n"                                                          \
	"Content-Type: message/rfc822\r\n"                                     \
	"\r\n"                                                                 \
	"From: b@example.org\r\n"                                              \
	"Subject: inner message\r\n"                                           \
	"\r\n"                                                                 \
	"inner body\r\n"                                                       \
	"--outer\r\n"                                                          \
	"Content-Type: application/octet-stream\r\n"                           \
	"Content-Transfer-Encoding: base64\r\n"                                \
	"\r\n"                                                                 \
	"aGVsbG8g\r\n"                                                         \
	"d29ybGQ=\r\n"                                                         \
	"--outer\r\n"                                                          \
	"Content-Type: application/octet-stream\r\n"                           \
	"Content-Transfer-Encoding: base64\r\n"                                \
	"\r\n"                                                                 \
	"AAEC\r\n"                                                             \
	"--outer\r\n"                                                          \
	"Content-Type: text/plain; charset=utf-8\r\n"                          \
	"Content-Transfer-Encoding: quoted-printable\r\n"                      \
	"\r\n"                                                                 \
	"caf=C3=A9 soft=\r\n"                                                  \
	"break\r\n"                                                            \
	"--outer\r\n"                                                          \
	"Content-Type: application/x-thing\r\n"                                \
	"Content-Transfer-Encoding: x-uuencode\r\n"                            \
	"\r\n"                                                                 \
	"begin 644 x\r\n"                                                      \
	"--outer--\r\n"

static void test_fetch_body_of_small_message(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 BODY.PEEK[]",
	             "* 1 FETCH (BODY[] {43}\r\n" SMALL ")\r\n"
	             "a OK FETCH completed\r\n");
	expect_reply(w, "b FETCH 1 (RFC822.SIZE RFC822.HEADER UID)",
	             "* 1 FETCH (RFC822.SIZE 43 RFC822.HEADER {36}\r\n"
	             "From: a@example.org\r\nSubject: hi\r\n\r\n UID 1)\r\n"
	             "b OK FETCH completed\r\n");
}

static void test_fetch_header_fields_subject(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 BODY.PEEK[HEADER.FIELDS (subject)]",
	             "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {15}\r\n"
	             "Subject: hi\r\n\r\n)\r\n"
	             "a OK FETCH completed\r\n");
	expect_reply(w, "b FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Subject)]",
	             "* 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT)] {23}\r\n"
	             "From: a@example.org\r\n\r\n)\r\n"
	             "b OK FETCH completed\r\n");
}

static void test_fetch_nested_sections(void **state)
{
	struct world *w = *state;

	deliver(w, NESTED, strlen(NESTED), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 (BODY.PEEK[1.2] BODY.PEEK[2.HEADER])",
	             "* 1 FETCH (BODY[1.2] {11}\r\n<p>html</p> "
	             "BODY[2.HEADER] {47}\r\n"
	             "From: b@example.org\r\nSubject: inner message\r\n\r\n"
	             ")\r\na OK FETCH completed\r\n");
	expect_reply(w, "b FETCH 1 (BODY.PEEK[1.1.MIME] BODY.PEEK[2.TEXT])",
	             "* 1 FETCH (BODY[1.1.MIME] {28}\r\n"
	             "Content-Type: text/plain\r\n\r\n "
	             "BODY[2.TEXT] {10}\r\ninner body)\r\n"
	             "b OK FETCH completed\r\n");
	/* Sections the message does not have: NIL (RFC 9051 §4.5, §9). */
	expect_reply(w, "c FETCH 1 (BODY.PEEK[9] BODY.PEEK[1.1.HEADER])",
	             "* 1 FETCH (BODY[9] NIL BODY[1.1.HEADER] NIL)\r\n"
	             "c OK FETCH completed\r\n");
}

static void test_fetch_partial(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 BODY.PEEK[]<0.10>",
	             "* 1 FETCH (BODY[]<0> {10}\r\nFrom: a@ex)\r\n"
	             "a OK FETCH completed\r\n");
	expect_reply(w, "b FETCH 1 BODY.PEEK[TEXT]<2.1000>",
	             "* 1 FETCH (BODY[TEXT]<2> {5}\r\nllo\r\n)\r\n"
	             "b OK FETCH completed\r\n");
	expect_reply(w, "c FETCH 1 BODY.PEEK[]<1000.10>",
	             "* 1 FETCH (BODY[]<1000> \"\")\r\n"
	             "c OK FETCH completed\r\n");
}

static void test_fetch_binary_decodes(void **state)
{
	struct world *w = *state;

	deliver(w, NESTED, strlen(NESTED), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 (BINARY.PEEK[3] BINARY.SIZE[3])",
	             "* 1 FETCH (BINARY[3] {11}\r\nhello world "
	             "BINARY.SIZE[3] 11)\r\n"
	             "a OK FETCH completed\r\n");
	expect_reply(w, "b FETCH 1 BINARY.PEEK[3]<6.100>",
	             "* 1 FETCH (BINARY[3]<6> {5}\r\nworld)\r\n"
	             "b OK FETCH completed\r\n");
	{
		static const char want[] = "* 1 FETCH (BINARY[4] ~{3}\r\n"
		                           "\0\1\2)\r\n"
		                           "c OK FETCH completed\r\n";
		char *got;

		fake_line(w->c, "c FETCH 1 BINARY.PEEK[4]");
		got = take(w);
		assert_memory_equal(got, want, sizeof(want) - 1);
		free(got);
	}
	expect_reply(w, "d FETCH 1 (BINARY.PEEK[5] BINARY.SIZE[5])",
	             "* 1 FETCH (BINARY[5] {15}\r\ncaf\xc3\xa9 softbreak "
	             "BINARY.SIZE[5] 15)\r\n"
	             "d OK FETCH completed\r\n");
	expect_reply(
	        w, "e FETCH 1 BINARY.PEEK[6]",
	        "e NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding\r\n");
	expect_reply(w, "f FETCH 1 BINARY.PEEK[1]",
	             "f NO [CANNOT] BINARY is only for leaf body parts\r\n");
}

/* A message APPENDed as literal8 (RFC 3516 §4.4) may hold NUL.  Only
 * BINARY's literal8 may carry it (RFC 9051 §4.3.1, §5: a literal is CHAR8,
 * no NUL): BODY[] sends it as 0x80, with the same length. */
static void test_fetch_body_with_nul_is_no_binary_string(void **state)
{
	struct world *w = *state;
	static const char msg[] = "A: b\r\n\r\nab\0cd\0";
	static const char want[] = "* 1 FETCH (BODY[] {14}\r\n"
	                           "A: b\r\n\r\nab\x80"
	                           "cd\x80 BODY[TEXT] {6}\r\nab\x80"
	                           "cd\x80 BINARY[1] ~{6}\r\nab\0cd\0 "
	                           "RFC822.SIZE 14)\r\n"
	                           "a OK FETCH completed\r\n";
	char *got;

	deliver(w, msg, sizeof(msg) - 1, 0);
	open_inbox(w, false);
	fake_line(w->c, "a FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT] "
	                "BINARY.PEEK[1] RFC822.SIZE)");
	got = take(w);
	assert_memory_equal(got, want, sizeof(want) - 1);
	assert_int_equal(strlen(got + sizeof(want) - 1), 0);
	free(got);
}

/* The flags of message 1 as FETCH FLAGS shows them. */
static void expect_flags(struct world *w, const char *want)
{
	char line[128];

	snprintf(line, sizeof(line),
	         "* 1 FETCH (FLAGS %s)\r\nf OK FETCH "
	         "completed\r\n",
	         want);
	expect_reply(w, "f FETCH 1 FLAGS", line);
}

static void test_fetch_body_sets_seen_and_peek_does_not(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 BODY.PEEK[TEXT]",
	             "* 1 FETCH (BODY[TEXT] {7}\r\nhello\r\n)\r\n"
	             "a OK FETCH completed\r\n");
	expect_flags(w, "()");
	/* RFC 9051 §6.4.5: the changed flags come with the response. */
	expect_reply(w, "b FETCH 1 BODY[TEXT]",
	             "* 1 FETCH (BODY[TEXT] {7}\r\nhello\r\n FLAGS (\\Seen))"
	             "\r\nb OK FETCH completed\r\n");
	expect_flags(w, "(\\Seen)");
	expect_reply(w, "c FETCH 1 BODY[TEXT]",
	             "* 1 FETCH (BODY[TEXT] {7}\r\nhello\r\n)\r\n"
	             "c OK FETCH completed\r\n");
}

static void test_fetch_examine_does_not_set_seen(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, true);
	expect_reply(w, "a FETCH 1 RFC822.TEXT",
	             "* 1 FETCH (RFC822.TEXT {7}\r\nhello\r\n)\r\n"
	             "a OK FETCH completed\r\n");
	expect_flags(w, "()");
}

static void test_uid_fetch_adds_uid(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), STORE_F_FLAGGED);
	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	expect_reply(w, "a UID FETCH 1:* FLAGS",
	             "* 1 FETCH (FLAGS (\\Flagged) UID 1)\r\n"
	             "* 2 FETCH (FLAGS () UID 2)\r\n"
	             "a OK FETCH completed\r\n");
	expect_reply(w, "b UID FETCH 2,7 (UID RFC822.SIZE INTERNALDATE)",
	             "* 2 FETCH (UID 2 RFC822.SIZE 43 INTERNALDATE "
	             "\"14-Nov-2023 22:13:20 +0000\")\r\n"
	             "b OK FETCH completed\r\n");
	expect_tagged(w, "c FETCH 3 FLAGS",
	              "c BAD Invalid sequence number\r\n");
}

/* A message of n bytes whose body is a pattern, so an offset error
 * shows. */
static char *big_message(size_t n)
{
	static const char hdr[] = "Subject: big\r\n\r\n";
	char *m = malloc(n + 1);

	memcpy(m, hdr, sizeof(hdr) - 1);
	for (size_t i = sizeof(hdr) - 1; i < n; i++)
		m[i] = (i % 100) >= 98 ? "\r\n"[i % 100 - 98]
		                       : (char)('a' + (i / 100) % 26);
	m[n] = '\0';
	return m;
}

static void test_fetch_large_message_streams_exactly(void **state)
{
	struct world *w = *state;
	size_t n1 = 3 * IMAP_OUT_CHUNK + 12345, n2 = IMAP_OUT_CHUNK / 2;
	char *m1 = big_message(n1), *m2 = big_message(n2), *got;
	struct po_buf want = PO_BUF_INIT;

	deliver(w, m1, n1, 0);
	deliver(w, m2, n2, 0);
	open_inbox(w, false);
	po_buf_printf(&want, "* 1 FETCH (UID 1 BODY[] {%zu}\r\n", n1);
	po_buf_add(&want, m1, n1);
	po_buf_printf(&want, ")\r\n* 2 FETCH (UID 2 BODY[] {%zu}\r\n", n2);
	po_buf_add(&want, m2, n2);
	po_buf_add_str(&want, ")\r\na OK FETCH completed\r\n");
	got = command(w, "a FETCH 1:2 (UID BODY.PEEK[])");
	assert_int_equal(strlen(got), want.len);
	assert_memory_equal(got, want.data, want.len);
	free(got);
	po_buf_deinit(&want);
	free(m1);
	free(m2);
}

static void test_fetch_expunged_meanwhile(void **state)
{
	struct world *w = *state;
	struct store_account *a = NULL;
	struct store_mailbox_info info;
	uint32_t uid = deliver(w, SMALL, strlen(SMALL), 0);

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	assert_int_equal(store_account_open(w->fe->env.store, w->acct_id, &a),
	                 STORE_OK);
	assert_int_equal(store_mailbox_get(a, "INBOX", &info), STORE_OK);
	assert_int_equal(store_expunge(a, info.id, &uid, 1), STORE_OK);
	store_account_close(&a);
	expect_reply(w, "a FETCH 1:2 (FLAGS)",
	             "* 2 FETCH (FLAGS ())\r\n"
	             "a OK [EXPUNGEISSUED] Some messages were expunged "
	             "meanwhile\r\n");
}

static void test_fetch_many_messages_in_batches(void **state)
{
	struct world *w = *state;
	const size_t n = 1100;
	struct po_buf want = PO_BUF_INIT;
	char *got;

	for (size_t i = 0; i < n; i++)
		deliver(w, SMALL, strlen(SMALL), i % 3 == 0 ? STORE_F_SEEN : 0);
	open_inbox(w, false);
	for (size_t i = 1; i <= n; i++)
		po_buf_printf(&want, "* %zu FETCH (UID %zu FLAGS (%s))\r\n", i,
		              i, i % 3 == 1 ? "\\Seen" : "");
	po_buf_add_str(&want, "a OK FETCH completed\r\n");
	got = command(w, "a FETCH 1:* (UID FLAGS)");
	assert_string_equal(got, want.data);
	free(got);
	po_buf_deinit(&want);
}

static void test_fetch_macro_and_structure(void **state)
{
	struct world *w = *state;
	char *got;

	deliver(w, SMALL, strlen(SMALL), STORE_F_ANSWERED);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 FAST",
	             "* 1 FETCH (FLAGS (\\Answered) INTERNALDATE "
	             "\"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE 43)\r\n"
	             "a OK FETCH completed\r\n");
	got = command(w, "b FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)");
	assert_int_equal(strncmp(got, "* 1 FETCH (ENVELOPE (", 21), 0);
	assert_non_null(strstr(got, "\"hi\""));
	assert_non_null(strstr(got, ") BODY ("));
	assert_non_null(strstr(got, ") BODYSTRUCTURE ("));
	assert_non_null(strstr(got, "))\r\nb OK FETCH completed\r\n"));
	free(got);
}

static void test_fetch_rfc822_sets_seen(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 (FLAGS RFC822)",
	             "* 1 FETCH (FLAGS (\\Seen) RFC822 {43}\r\n" SMALL ")\r\n"
	             "a OK FETCH completed\r\n");
}

static void test_fetch_header_fields_partial(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	/* RFC 9051 §6.4.5: the substring is taken after subsetting. */
	expect_reply(w, "a FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]<9.100>",
	             "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<9> {6}\r\n"
	             "hi\r\n\r\n)\r\n"
	             "a OK FETCH completed\r\n");
}

static void test_fetch_bad_arguments_over_session(void **state)
{
	struct world *w = *state;

	deliver(w, SMALL, strlen(SMALL), 0);
	open_inbox(w, false);
	expect_reply(w, "a FETCH 1 FLAGS (CHANGEDSINCE 1)",
	             "a BAD Unknown FETCH modifier\r\n");
	expect_reply(w, "b FETCH 1 BODY[1..2]", "b BAD Invalid section\r\n");
	expect_reply(w, "c FETCH 1 BODY[]<0.0>",
	             "c BAD Partial length must not be 0\r\n");
	expect_reply(w, "d UID FETCH 5 FLAGS", "d OK FETCH completed\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fetch_macros_expand),
	        cmocka_unit_test(test_fetch_simple_items),
	        cmocka_unit_test(test_fetch_searchres_set),
	        cmocka_unit_test(test_fetch_sections),
	        cmocka_unit_test(test_fetch_section_fields),
	        cmocka_unit_test(test_fetch_section_depth_bound),
	        cmocka_unit_test(test_fetch_field_and_item_bounds),
	        cmocka_unit_test(test_fetch_invalid),
	        cmocka_unit_test(test_base64_decodes),
	        cmocka_unit_test(test_base64_ignores_line_breaks_and_junk),
	        cmocka_unit_test(test_qp_decodes),
	        cmocka_unit_test(test_qp_soft_breaks_and_padding),
	        cmocka_unit_test(test_crlf_normalize),
	        cmocka_unit_test(test_header_fields_keeps_folded_fields),
	        cmocka_unit_test(test_header_fields_not),
	        cmocka_unit_test(test_header_fields_without_blank_line),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_body_of_small_message, world_setup,
	                world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_header_fields_subject, world_setup,
	                world_teardown),
	        cmocka_unit_test_setup_teardown(test_fetch_nested_sections,
	                                        world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(test_fetch_partial, world_setup,
	                                        world_teardown),
	        cmocka_unit_test_setup_teardown(test_fetch_binary_decodes,
	                                        world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_body_sets_seen_and_peek_does_not,
	                world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_examine_does_not_set_seen, world_setup,
	                world_teardown),
	        cmocka_unit_test_setup_teardown(test_uid_fetch_adds_uid,
	                                        world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_large_message_streams_exactly, world_setup,
	                world_teardown),
	        cmocka_unit_test_setup_teardown(test_fetch_expunged_meanwhile,
	                                        world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_many_messages_in_batches, world_setup,
	                world_teardown),
	        cmocka_unit_test_setup_teardown(test_fetch_macro_and_structure,
	                                        world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(test_fetch_rfc822_sets_seen,
	                                        world_setup, world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_header_fields_partial, world_setup,
	                world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_bad_arguments_over_session, world_setup,
	                world_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fetch_body_with_nul_is_no_binary_string,
	                world_setup, world_teardown),
	};

	return cmocka_run_group_tests_name("imap_fetch", tests, NULL, NULL);
}
