/*
 * The IMAP session framework: the greeting, command assembly from line and
 * literal frames with every limit checked before a byte of a literal is
 * read (RFC 9051 §4.3, §7.5; RFC 7888 LITERAL+), dispatch through the
 * command table (tag, "UID" prefix, state, arguments, the command's parse),
 * running commands on the loop or as worker jobs with chunked output, the
 * untagged updates after each command (imap_sync), IDLE (RFC 2177), the
 * SASL continuation of AUTHENTICATE, and the teardown.  The command
 * handlers live in the imap_cmd_*.c files; imap_private.h describes the
 * contract between them and this file.
 */
#include "imap_private.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"

/* ---- private to imap_session.c and imap_cmd_any.c --------------------- */

/* Extra results of a run function on the loop (INLINE commands): go on on
 * a worker (run is called again there, cmd->step counting), or wait for
 * the client's next line (AUTHENTICATE's response, IDLE's DONE). */
#define IMAP__RUN_JOB 2
#define IMAP__RUN_WAIT 3
/* The capability list; c non-NULL adds the words of the not-authenticated
 * state (STARTTLS, AUTH=PLAIN or LOGINDISABLED), which need the loop. */
void imap__write_capability(struct po_buf *out, struct po_conn *c);
/* The line answering AUTHENTICATE's "+ ": IMAP_RUN_DONE with the result
 * set, or IMAP__RUN_JOB to check the credentials on a worker. */
int imap__sasl_line(struct imap_cmd *cmd, const char *line, size_t len);
/* What a command does on the loop after its tagged line was queued
 * (STARTTLS's handshake, a failed login's delay, the user for the logs).
 * Returns PO_OK or PO_CLOSE. */
int imap__after_command(struct po_conn *c, struct imap_cmd *cmd);

/* ---- limits ------------------------------------------------------------ */

/* Bytes of a command before login (RFC 9051 leaves it to us; a LOGIN
 * never needs more). */
#define PRELOGIN_CMD_MAX (64u * 1024u)
/* Parts of one command: a line before and after every literal. */
#define MAX_PARTS (2 * IMAP_CMD_MAX_LITERALS + 1)
/* A command buffer larger than this is freed, not kept, when it ends. */
#define CMDBUF_KEEP (64u * 1024u)

enum imap_job_kind {
	JOB_RUN,    /* call cmd->def->run, then sync and the tagged line */
	JOB_FINISH, /* run is done (INLINE): sync and the tagged line */
	JOB_IDLE,   /* IDLE: untagged updates only */
};

struct imap_job {
	struct po_job base; /* first, as protocol.h requires */
	enum imap_job_kind kind;
	struct imap_session *s;
	struct imap_cmd *cmd;
	int ret;             /* JOB_RUN: what run returned */
	struct po_buf out;   /* JOB_IDLE */
	struct store *store; /* to reopen a hibernated session's account */
	/* To start or stop watching when the job changed the selection. */
	enum imap_state prev_state;
	int64_t prev_sel;
};

/* ---- results and commands ---------------------------------------------- */

void imap_cmd_result(struct imap_cmd *cmd, enum imap_status st, const char *fmt,
                     ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd->result, sizeof(cmd->result), fmt, ap);
	va_end(ap);
	free(cmd->result_long);
	cmd->result_long = NULL;
	if (n >= (int)sizeof(cmd->result)) {
		/* COPYUID of thousands of scattered UIDs: RFC 4315 puts it in
		 * the tagged line, however long (bounded by the mailbox). */
		cmd->result_long = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(cmd->result_long, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	cmd->status = st;
	cmd->result_set = true;
}

static const char *status_word(enum imap_status st)
{
	switch (st) {
	case IMAP_OK:
		return "OK";
	case IMAP_NO:
		return "NO";
	case IMAP_BAD:
		return "BAD";
	}
	return "BAD";
}

static struct imap_cmd *cmd_new(struct po_conn *c, struct imap_session *s,
                                const struct imap_command *def, const char *tag,
                                size_t tag_len, bool uid)
{
	struct imap_cmd *cmd = xcalloc(1, sizeof(*cmd));

	cmd->s = s;
	cmd->c = c;
	cmd->def = def;
	memcpy(cmd->tag, tag, tag_len);
	cmd->tag[tag_len] = '\0';
	cmd->uid = uid;
	imap_arena_init(&cmd->arena);
	po_buf_init(&cmd->out);
	cmd->env = conn_env(c);
	return cmd;
}

static void cmd_free(struct imap_cmd *cmd)
{
	if (cmd == NULL)
		return;
	if (cmd->data != NULL) {
		if (cmd->def->free != NULL)
			cmd->def->free(cmd->data);
		else
			free(cmd->data);
	}
	imap_arena_deinit(&cmd->arena);
	po_buf_deinit(&cmd->out);
	free(cmd->result_long);
	free(cmd);
}

/* Append "tag OK|NO|BAD result" (either thread). */
static void cmd_tagged(struct imap_cmd *cmd)
{
	if (cmd->no_tagged)
		return;
	if (!cmd->result_set)
		imap_cmd_result(cmd, IMAP_NO,
		                "[SERVERBUG] The command did not complete");
	po_buf_printf(
	        &cmd->out, "%s %s %s\r\n", cmd->tag, status_word(cmd->status),
	        cmd->result_long != NULL ? cmd->result_long : cmd->result);
}

/* After the last run (worker): the updates the command allows, then the
 * tagged line.  RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH
 * by sequence number (their UID forms may). */
static void cmd_finish(struct imap_cmd *cmd)
{
	unsigned fl = cmd->def->flags;

	if (!(fl & IMAP_CMD_NOSYNC))
		imap_sync(cmd->s, &cmd->out,
		          !(fl & IMAP_CMD_NOEXPUNGE) || cmd->uid);
	cmd_tagged(cmd);
}

/* ---- command assembly --------------------------------------------------- */

/* Forget the command being assembled; its bytes are wiped when small (a
 * LOGIN's password), and a large buffer (an APPEND) is released. */
static void asm_reset(struct imap_session *s)
{
	if (s->cmdbuf.len > 0 && s->cmdbuf.len <= CMDBUF_KEEP)
		explicit_bzero(s->cmdbuf.data, s->cmdbuf.len);
	if (s->cmdbuf.cap > CMDBUF_KEEP)
		po_buf_deinit(&s->cmdbuf);
	else
		po_buf_reset(&s->cmdbuf);
	s->n_parts = 0;
	s->literal_total = 0;
}

/* Start a new part of the command at the end of cmdbuf. */
static void part_push(struct imap_session *s, bool literal)
{
	/* literal_check keeps a command within MAX_PARTS parts. */
	assert(s->n_parts < MAX_PARTS + 1);
	if (s->n_parts == s->cap_parts) {
		s->cap_parts = MAX_PARTS + 1;
		s->parts = xrealloc(s->parts, s->cap_parts * sizeof(*s->parts));
		s->part_off = xrealloc(s->part_off,
		                       s->cap_parts * sizeof(*s->part_off));
	}
	s->parts[s->n_parts].data = NULL;
	s->parts[s->n_parts].len = 0;
	s->parts[s->n_parts].literal = literal;
	s->part_off[s->n_parts] = s->cmdbuf.len;
	s->n_parts++;
}

/* The last part ends at the end of cmdbuf. */
static void part_close(struct imap_session *s)
{
	size_t i = s->n_parts - 1;

	s->parts[i].len = s->cmdbuf.len - s->part_off[i];
}

/* Literals announced so far in this command. */
static size_t literal_count(const struct imap_session *s)
{
	return s->n_parts / 2;
}

/* The head of a command line: tag, command (after any "UID"), where the
 * arguments start.  Returns 0; or -1 with *error_r (h->tag set when a tag
 * could be read) for a malformed line or an unknown command. */
struct head {
	const char *tag;
	size_t tag_len;
	const struct imap_command *def;
	bool uid;
	size_t rest;
};

static int parse_head(const char *line, size_t len, struct head *h,
                      const char **error_r)
{
	const char *name, *w;
	size_t name_len, rest, wlen;

	memset(h, 0, sizeof(*h));
	if (imap_parse_tag_command(line, len, &h->tag, &h->tag_len, &name,
	                           &name_len, &rest, error_r) < 0)
		return -1;
	if (h->tag_len > IMAP_TAG_MAX) {
		h->tag = NULL;
		*error_r = "Tag too long";
		return -1;
	}
	if (name_len == 3 && strncasecmp(name, "UID", 3) == 0) {
		/* RFC 9051 §6.4.9: "UID" SP (copy / move / fetch / search /
		 * store / uid-expunge). */
		w = line + rest;
		wlen = 0;
		while (rest + wlen < len && w[wlen] != ' ')
			wlen++;
		if (wlen == 0) {
			*error_r = "Missing command after UID";
			return -1;
		}
		h->def = imap_command_find(w, wlen);
		if (h->def == NULL || !(h->def->flags & IMAP_CMD_UID)) {
			*error_r = "Unknown UID command";
			return -1;
		}
		h->uid = true;
		rest += wlen;
		if (rest < len)
			rest++; /* the SP */
		h->rest = rest;
		return 0;
	}
	h->def = imap_command_find(name, name_len);
	if (h->def == NULL) {
		*error_r = "Unknown command";
		return -1;
	}
	h->rest = rest;
	return 0;
}

/* Reply BAD (with the tag when there is one) and count it. */
static int reply_bad(struct po_conn *c, const char *tag, size_t tag_len,
                     const char *text)
{
	if (tag != NULL)
		conn_printf(c, "%.*s BAD %s\r\n", (int)tag_len, tag, text);
	else
		conn_printf(c, "* BAD %s\r\n", text);
	return conn_bad_command(c);
}

static uint64_t absurd_literal(const struct po_conn *c)
{
	return 2 * conn_env(c)->config->max_message_size + IMAP_CMD_MAX_BYTES;
}

/* Is the command being assembled one whose literal may be a whole message
 * (APPEND, and allowed in this state)? */
static bool is_append(const struct imap_session *s, const struct head *h)
{
	return h->def != NULL && (h->def->flags & IMAP_CMD_APPEND) &&
	       (h->def->states & s->state) && s->state != IMAP_S_NOTAUTH;
}

/*
 * May a literal of size bytes join the command?  NULL if so, else the
 * reason.  RFC 7888 §4 / RFC 9051 §7.1: a refused literal gets [TOOBIG].
 */
static const char *literal_check(const struct po_conn *c,
                                 const struct imap_session *s,
                                 const struct head *h, uint64_t size)
{
	uint64_t max_msg = conn_env(c)->config->max_message_size;
	uint64_t limit = s->state == IMAP_S_NOTAUTH ? PRELOGIN_CMD_MAX
	                                            : IMAP_CMD_MAX_BYTES;

	if (literal_count(s) >= IMAP_CMD_MAX_LITERALS)
		return "[LIMIT] Too many literals in one command";
	if (is_append(s, h)) {
		if (size > max_msg)
			return "[TOOBIG] Message too large";
		limit += max_msg;
	}
	if (size > limit || s->cmdbuf.len + size > limit)
		return "[TOOBIG] Command too large";
	return NULL;
}

static int dispatch(struct po_conn *c, struct imap_session *s);

/* Refuse a {N+} literal: its bytes are read and dropped, and so is the rest
 * of the command, then "tag BAD" (RFC 7888 §4). */
static int skip_literal(struct po_conn *c, struct imap_session *s,
                        uint64_t size, const char *error)
{
	if (size > absurd_literal(c)) {
		conn_write_str(c, "* BYE [TOOBIG] Literal too large\r\n");
		return PO_CLOSE;
	}
	s->skipping = true;
	s->skip_error = error;
	asm_reset(s);
	conn_expect_literal(c, size);
	return PO_OK;
}

/* A line after a refused {N+} literal: the rest of that command. */
static int skip_line(struct po_conn *c, struct imap_session *s,
                     const char *line, size_t len)
{
	uint64_t size;
	bool nonsync, binary;
	const char *err, *error = s->skip_error;

	if (imap_line_literal(line, len, &size, &nonsync, &binary, &err) == 1 &&
	    nonsync)
		return skip_literal(c, s, size, error);
	/* The command ends here (a synchronizing literal announced now is
	 * never sent: the client waits for "+", and gets the BAD). */
	s->skip_error = NULL;
	return reply_bad(c, s->skip_tag[0] != '\0' ? s->skip_tag : NULL,
	                 strlen(s->skip_tag), error);
}

/* A line ending in a literal announcement. */
static int line_literal(struct po_conn *c, struct imap_session *s,
                        uint64_t size, bool nonsync)
{
	const char *line = s->cmdbuf.data + s->part_off[0];
	const char *error, *why = NULL;
	struct head h;
	int ph;

	ph = parse_head(line, s->parts[0].len, &h, &error);
	if (ph == 0 && !(h.def->states & s->state))
		why = "Command not allowed now";
	else if (ph < 0)
		why = error;
	if (why == NULL)
		why = literal_check(c, s, &h, size);
	if (why != NULL && nonsync)
		return skip_literal(c, s, size, why);
	if (why != NULL) {
		/* RFC 9051 §4.3 / RFC 7888 §3: the client sends nothing
		 * after a refused synchronizing literal. */
		const char *tag = h.tag != NULL ? s->skip_tag : NULL;
		bool toobig = strncmp(why, "[TOOBIG]", 8) == 0 ||
		              strncmp(why, "[LIMIT]", 7) == 0;

		asm_reset(s);
		if (toobig && tag != NULL) {
			conn_printf(c, "%s NO %s\r\n", tag, why);
			return PO_OK;
		}
		return reply_bad(c, tag, tag != NULL ? strlen(tag) : 0, why);
	}
	if (!nonsync)
		conn_write_str(c, "+ Ready for literal data\r\n");
	part_push(s, true);
	s->literal_total += size;
	conn_expect_literal(c, size);
	return PO_OK;
}

/* Remember the tag of a new command for replies before it is parsed. */
static void note_tag(struct imap_session *s, const char *line, size_t len)
{
	const char *tag, *name, *err;
	size_t tag_len, name_len, rest;

	s->skip_tag[0] = '\0';
	if (imap_parse_tag_command(line, len, &tag, &tag_len, &name, &name_len,
	                           &rest, &err) < 0 &&
	    tag == NULL)
		return;
	if (tag != NULL && tag_len <= IMAP_TAG_MAX) {
		memcpy(s->skip_tag, tag, tag_len);
		s->skip_tag[tag_len] = '\0';
	}
}

static int command_line(struct po_conn *c, struct imap_session *s,
                        const char *line, size_t len)
{
	uint64_t size;
	bool nonsync, binary;
	const char *err;
	size_t limit = s->state == IMAP_S_NOTAUTH ? PRELOGIN_CMD_MAX
	                                          : IMAP_CMD_MAX_BYTES;
	int r;

	if (s->n_parts == 0 && len == 0)
		return reply_bad(c, NULL, 0, "Empty command");
	if (s->n_parts == 0)
		note_tag(s, line, len);
	if (s->cmdbuf.len - s->literal_total + len > limit) {
		asm_reset(s);
		return reply_bad(c, s->skip_tag[0] ? s->skip_tag : NULL,
		                 strlen(s->skip_tag),
		                 "[TOOBIG] Command too long");
	}
	part_push(s, false);
	if (po_buf_try_add(&s->cmdbuf, line, len) < 0) {
		asm_reset(s);
		conn_write_str(c, "* BYE [UNAVAILABLE] Out of memory\r\n");
		return PO_CLOSE;
	}
	part_close(s);
	r = imap_line_literal(line, len, &size, &nonsync, &binary, &err);
	if (r < 0) {
		asm_reset(s);
		return reply_bad(c, s->skip_tag[0] ? s->skip_tag : NULL,
		                 strlen(s->skip_tag), err);
	}
	if (r == 1)
		return line_literal(c, s, size, nonsync);
	return dispatch(c, s);
}

/* A chunk of a literal. */
static int literal_frame(struct po_conn *c, struct imap_session *s,
                         const struct po_frame *f)
{
	if (s->skipping) {
		if (!f->more)
			s->skipping = false;
		return PO_OK;
	}
	if (s->n_parts == 0 || !s->parts[s->n_parts - 1].literal) {
		/* Not announced: the core only sends what we asked for. */
		return reply_bad(c, NULL, 0, "Unexpected literal data");
	}
	if (po_buf_try_add(&s->cmdbuf, f->data, f->len) < 0) {
		/* Read the rest and drop the command. */
		asm_reset(s);
		s->skipping = f->more;
		s->skip_error = "[UNAVAILABLE] Out of memory";
		return PO_OK;
	}
	if (!f->more)
		part_close(s);
	return PO_OK;
}

/* ---- running commands --------------------------------------------------- */

static void job_work(struct po_job *pj);

static int submit(struct po_conn *c, struct imap_session *s,
                  enum imap_job_kind kind)
{
	struct imap_job *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->s = s;
	j->store = conn_env(c)->store;
	j->cmd = kind == JOB_IDLE ? NULL : s->cur;
	j->prev_state = s->state;
	j->prev_sel = s->sel.id;
	po_buf_init(&j->out);
	if (j->cmd != NULL)
		j->cmd->c = NULL; /* the worker must not use the connection */
	if (conn_job_submit(c, &j->base, job_work) < 0) {
		conn_log(c, LOG_WARN, "job submit failed");
		po_buf_deinit(&j->out);
		free(j);
		return -1;
	}
	s->job_running = true;
	return 0;
}

/* A hibernated session (see hibernate) gets its account back for the job.
 * Returns false when it cannot be had. */
static bool wake_account(struct imap_job *j)
{
	struct imap_session *s = j->s;

	if (s->acct != NULL || (s->state & IMAP_S_AUTHED) == 0)
		return true;
	return store_account_open(j->store, s->account.id, &s->acct) ==
	       STORE_OK;
}

static void job_work(struct po_job *pj)
{
	struct imap_job *j = (struct imap_job *)pj;
	struct imap_cmd *cmd = j->cmd;

	if (!wake_account(j)) {
		if (cmd != NULL) {
			imap_cmd_result(cmd, IMAP_NO,
			                "[UNAVAILABLE] The mailbox is not "
			                "available now; try again");
			j->ret = IMAP_RUN_DONE;
			cmd_tagged(cmd);
		}
		return;
	}
	switch (j->kind) {
	case JOB_RUN:
		j->ret = cmd->def->run(cmd);
		cmd->step++;
		if (j->ret != IMAP_RUN_MORE) {
			j->ret = IMAP_RUN_DONE;
			cmd_finish(cmd);
		}
		break;
	case JOB_FINISH:
		j->ret = IMAP_RUN_DONE;
		cmd_finish(cmd);
		break;
	case JOB_IDLE:
		imap_sync(j->s, &j->out, true);
		break;
	}
}

static void close_account(void *arg)
{
	struct store_account *a = arg;

	store_account_close(&a);
}

/* Release the store account off the loop (closing may checkpoint). */
static void release_account(struct po_conn *c, struct imap_session *s)
{
	imap_sel_close(s);
	if (s->kw_names != NULL) {
		store_strv_free(s->kw_names, STORE_KEYWORDS_MAX);
		s->kw_names = NULL;
	}
	if (s->acct != NULL) {
		conn_run_detached(c, close_account, s->acct);
		s->acct = NULL;
	}
}

/*
 * While a session idles (IDLE) it gives back what it holds that a watcher
 * does not need: the account's database handle (to the store's cache of
 * recently closed handles, which bounds how many stay open), the keyword
 * names and the command buffer's memory.  The selected map stays.  The next
 * job (a change to report, DONE's sync, any command) reopens the account
 * (wake_account).  Issue 4: memory per idle connection.
 */
static void hibernate(struct po_conn *c, struct imap_session *s)
{
	if (s->kw_names != NULL) {
		store_strv_free(s->kw_names, STORE_KEYWORDS_MAX);
		s->kw_names = NULL;
	}
	if (s->acct != NULL) {
		conn_run_detached(c, close_account, s->acct);
		s->acct = NULL;
	}
	if (s->n_parts == 0)
		po_buf_deinit(&s->cmdbuf);
}

/*
 * The current command is over and its output (tagged line included) is in
 * cmd->out: send it, do what must follow on the loop, and get ready for
 * the next command.  Returns PO_OK or PO_CLOSE.
 */
static int command_complete(struct po_conn *c, struct imap_session *s)
{
	struct imap_cmd *cmd = s->cur;
	int ret;

	cmd->c = c;
	if (cmd->out.len > 0)
		conn_write(c, cmd->out.data, cmd->out.len);
	ret = imap__after_command(c, cmd);
	if (cmd->status == IMAP_BAD && !cmd->no_tagged &&
	    conn_bad_command(c) == PO_CLOSE)
		ret = PO_CLOSE;
	s->cur = NULL;
	cmd_free(cmd);
	asm_reset(s);
	if (s->logout) {
		release_account(c, s);
		return PO_CLOSE;
	}
	return ret;
}

/* What the loop does after a run on the loop returned ret. */
static int after_loop_run(struct po_conn *c, struct imap_session *s, int ret)
{
	struct imap_cmd *cmd = s->cur;

	switch (ret) {
	case IMAP__RUN_WAIT:
		conn_write(c, cmd->out.data, cmd->out.len);
		po_buf_reset(&cmd->out);
		if (s->idling) {
			/* RFC 2177 §3: report what is pending at once. */
			s->notify_pending = false;
			submit(c, s, JOB_IDLE);
		}
		return PO_OK;
	case IMAP__RUN_JOB:
		if (submit(c, s, JOB_RUN) < 0)
			break;
		return PO_AGAIN;
	default:
		if (!(cmd->def->flags & IMAP_CMD_NOSYNC) &&
		    s->state == IMAP_S_SELECTED) {
			if (submit(c, s, JOB_FINISH) < 0)
				break;
			return PO_AGAIN;
		}
		cmd_tagged(cmd);
		return command_complete(c, s);
	}
	imap_cmd_result(cmd, IMAP_NO, "[SERVERBUG] Internal error");
	cmd->no_tagged = false;
	cmd_tagged(cmd);
	return command_complete(c, s);
}

/* Run the parsed command s->cur. */
static int command_start(struct po_conn *c, struct imap_session *s)
{
	struct imap_cmd *cmd = s->cur;

	int ret;

	if (cmd->def->flags & IMAP_CMD_INLINE) {
		ret = cmd->def->run(cmd);
		cmd->step++;
		return after_loop_run(c, s, ret);
	}
	if (submit(c, s, JOB_RUN) < 0)
		return after_loop_run(c, s, -1);
	return PO_AGAIN;
}

/* The command in cmdbuf is complete: parse and run it. */
static int dispatch(struct po_conn *c, struct imap_session *s)
{
	struct imap_input_part *p = s->parts;
	struct imap_input in;
	struct imap_arg *args;
	struct imap_cmd *cmd;
	struct head h;
	const char *error;
	size_t nargs, nlit;

	for (size_t i = 0; i < s->n_parts; i++)
		p[i].data = s->cmdbuf.data + s->part_off[i];
	if (parse_head(p[0].data, p[0].len, &h, &error) < 0) {
		int r = reply_bad(c, h.tag, h.tag_len, error); /* h.tag is
		                                                  in cmdbuf */

		asm_reset(s);
		return r;
	}
	if (!(h.def->states & s->state)) {
		int r;

		conn_printf(c, "%.*s BAD %s%s not allowed now\r\n",
		            (int)h.tag_len, h.tag, h.uid ? "UID " : "",
		            h.def->name);
		asm_reset(s);
		r = conn_bad_command(c);
		return r;
	}
	cmd = cmd_new(c, s, h.def, h.tag, h.tag_len, h.uid);
	/* The arguments start after the command name. */
	p[0].data += h.rest;
	p[0].len -= h.rest;
	in.parts = p;
	in.count = s->n_parts;
	if (imap_parse_args(&in, &cmd->arena, &args, &nargs, &nlit, &error) < 0)
		goto bad;
	cmd->args = args;
	cmd->nargs = nargs;
	if (h.def->parse == NULL && nargs > 0) {
		error = "Unexpected arguments";
		goto bad;
	}
	if (h.def->parse != NULL && h.def->parse(cmd, &error) < 0)
		goto bad;
	s->cur = cmd;
	return command_start(c, s);
bad:
	conn_printf(c, "%s BAD %s\r\n", cmd->tag, error);
	cmd_free(cmd);
	asm_reset(s);
	return conn_bad_command(c);
}

/* ---- IDLE and AUTHENTICATE continuations -------------------------------- */

/* IDLE is over (DONE or a wrong line): the tagged reply. */
static int idle_finish(struct po_conn *c, struct imap_session *s)
{
	cmd_tagged(s->cur);
	return command_complete(c, s);
}

static int idle_line(struct po_conn *c, struct imap_session *s,
                     const char *line, size_t len)
{
	struct imap_cmd *cmd = s->cur;

	s->idling = false;
	cmd->no_tagged = false;
	/* RFC 2177 §3: "DONE" ends it (atoms are case-insensitive). */
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_cmd_result(cmd, IMAP_OK, "IDLE terminated");
	else
		imap_cmd_result(cmd, IMAP_BAD, "Expected DONE");
	if (s->job_running)
		return PO_AGAIN; /* on_job_done sends the updates first */
	return idle_finish(c, s);
}

static int sasl_line(struct po_conn *c, struct imap_session *s,
                     const char *line, size_t len)
{
	struct imap_cmd *cmd = s->cur;

	s->sasl_wait = false;
	cmd->c = c;
	return after_loop_run(c, s, imap__sasl_line(cmd, line, len));
}

/* ---- the protocol callbacks ---------------------------------------------- */

static int imap_on_connect(struct po_conn *c)
{
	struct imap_session *s = conn_session(c);
	struct po_buf b = PO_BUF_INIT;

	s->state = IMAP_S_NOTAUTH;
	/* RFC 9051 §7.1: the greeting may carry the capabilities. */
	po_buf_add_str(&b, "* OK [CAPABILITY ");
	imap__write_capability(&b, c);
	po_buf_add_str(&b, "] postoffice ready\r\n");
	conn_write(c, b.data, b.len);
	po_buf_deinit(&b);
	return PO_OK;
}

static int imap_on_input(struct po_conn *c, const struct po_frame *f)
{
	struct imap_session *s = conn_session(c);

	if (s->logout)
		return PO_CLOSE;
	if (f->kind == PO_FRAME_LITERAL)
		return literal_frame(c, s, f);
	if (s->cur != NULL && s->idling)
		return idle_line(c, s, f->data, f->len);
	if (s->cur != NULL && s->sasl_wait)
		return sasl_line(c, s, f->data, f->len);
	if (s->skip_error != NULL)
		return skip_line(c, s, f->data, f->len);
	if (s->cur != NULL) {
		/* Frames are not read while a command runs. */
		return reply_bad(c, NULL, 0, "Command in progress");
	}
	return command_line(c, s, f->data, f->len);
}

/* Start or stop watching when the job changed the selected mailbox. */
static void update_watch(struct po_conn *c, struct imap_session *s,
                         const struct imap_job *j)
{
	if (s->state == IMAP_S_SELECTED &&
	    (j->prev_state != IMAP_S_SELECTED || j->prev_sel != s->sel.id))
		conn_watch(c, s->account.id, s->sel.id);
	else if (s->state != IMAP_S_SELECTED &&
	         j->prev_state == IMAP_S_SELECTED)
		conn_watch(c, 0, 0);
}

static void idle_job_done(struct po_conn *c, struct imap_session *s,
                          struct imap_job *j)
{
	if (j->out.len > 0)
		conn_write(c, j->out.data, j->out.len);
	if (s->cur == NULL)
		return;
	if (s->idling) {
		if (s->notify_pending) {
			s->notify_pending = false;
			submit(c, s, JOB_IDLE);
		} else {
			hibernate(c, s);
		}
		return;
	}
	/* DONE came while the updates were being read. */
	if (idle_finish(c, s) == PO_CLOSE)
		conn_close(c);
	else
		conn_resume(c);
}

static void cmd_job_done(struct po_conn *c, struct imap_session *s,
                         struct imap_job *j)
{
	struct imap_cmd *cmd = j->cmd;

	cmd->c = c;
	update_watch(c, s, j);
	if (j->ret == IMAP_RUN_MORE) {
		conn_write(c, cmd->out.data, cmd->out.len);
		po_buf_reset(&cmd->out);
		if (conn_output_full(c))
			s->wait_drain = true;
		else if (submit(c, s, JOB_RUN) < 0)
			conn_close(c);
		return;
	}
	if (command_complete(c, s) == PO_CLOSE)
		conn_close(c);
	else
		conn_resume(c);
}

static void imap_on_job_done(struct po_conn *c, struct po_job *pj)
{
	struct imap_session *s = conn_session(c);
	struct imap_job *j = (struct imap_job *)pj;

	s->job_running = false;
	if (conn_is_closing(c)) {
		/* on_close releases the command and the account. */
		po_buf_deinit(&j->out);
		free(j);
		return;
	}
	if (j->kind == JOB_IDLE)
		idle_job_done(c, s, j);
	else
		cmd_job_done(c, s, j);
	po_buf_deinit(&j->out);
	free(j);
}

static void imap_on_drained(struct po_conn *c)
{
	struct imap_session *s = conn_session(c);

	if (s->wait_drain && s->cur != NULL && !s->job_running) {
		s->wait_drain = false;
		if (submit(c, s, JOB_RUN) < 0)
			conn_close(c);
	}
}

static void imap_on_notify(struct po_conn *c)
{
	struct imap_session *s = conn_session(c);

	/* RFC 2177: while idling, updates go out as they happen; otherwise
	 * the next command's sync reports them. */
	if (s->idling && !s->job_running && s->cur != NULL)
		submit(c, s, JOB_IDLE);
	else
		s->notify_pending = true;
}

static void imap_on_tls_ready(struct po_conn *c)
{
	/* RFC 9051 §6.2.1: no new greeting; the client asks CAPABILITY. */
	(void)c;
}

static void imap_on_close(struct po_conn *c, enum po_close_why why)
{
	struct imap_session *s = conn_session(c);

	(void)why;
	cmd_free(s->cur);
	s->cur = NULL;
	asm_reset(s);
	po_buf_deinit(&s->cmdbuf);
	free(s->parts);
	free(s->part_off);
	s->parts = NULL;
	s->part_off = NULL;
	s->cap_parts = 0;
	release_account(c, s);
	explicit_bzero(&s->account, sizeof(s->account));
}

const struct po_protocol imap_protocol = {
        .name = "imap",
        .flags = PO_PROTO_STARTTLS | PO_PROTO_LITERALS |
                 PO_PROTO_CLOSE_LONG_LINE,
        .session_size = sizeof(struct imap_session),
        .on_connect = imap_on_connect,
        .on_input = imap_on_input,
        .on_tls_ready = imap_on_tls_ready,
        .on_drained = imap_on_drained,
        .on_job_done = imap_on_job_done,
        .on_close = imap_on_close,
        .on_notify = imap_on_notify,
        .msg_internal_error = "* BYE [UNAVAILABLE] Internal error\r\n",
        /* The dropped line may have ended in a {N+} announcement whose
         * bytes would then be read as commands: close (the core does, for
         * PO_PROTO_CLOSE_LONG_LINE). */
        .msg_line_too_long = "* BYE [TOOBIG] Line too long\r\n",
        .msg_too_many_errors = "* BYE Too many bad commands\r\n",
        .msg_timeout = "* BYE Autologout; idle for too long\r\n",
        .msg_shutdown = "* BYE [UNAVAILABLE] Server shutting down\r\n",
        .msg_too_many_connections =
                "* BYE [UNAVAILABLE] Too many connections\r\n",
};
