/*
 * The SEARCH program parser: a pure function from the argument tree of
 * "SEARCH [RETURN (...)] [CHARSET x] key..." to a tree of keys in the
 * command's arena (RFC 9051 §6.4.4 and §9 "search-key", RFC 3501 §6.4.4
 * for NEW, OLD and RECENT, RFC 4731 §3.1 and RFC 5182 for RETURN).  Keys
 * are case-insensitive.  Nothing here touches the store: keywords are
 * looked up and the keys evaluated in imap_search.c.
 *
 * Bounds: IMAP_SEARCH_MAX_DEPTH levels of NOT / OR / parentheses (so
 * "NOT NOT ... ALL" cannot recurse deeper than that), IMAP_SEARCH_MAX_KEYS
 * keys, and every string is as long as the command allowed.
 */
#include "imap_private.h"
#include "imap_search.h"

#include <string.h>
#include <strings.h>

struct search_parser {
	struct imap_arena *arena;
	size_t nkeys;
	unsigned need;
	const char *error;
};

/* How a key is written and what follows it. */
enum key_arg {
	ARG_NONE,
	ARG_STRING, /* astring */
	ARG_HEADER, /* field-name astring */
	ARG_DATE,
	ARG_NUMBER64,
	ARG_KEYWORD, /* flag-keyword (atom) */
	ARG_SEQSET,
	ARG_KEY,  /* NOT */
	ARG_KEY2, /* OR */
};

struct key_def {
	const char *name;
	enum imap_search_kind kind;
	enum key_arg arg;
	uint32_t flag;     /* FLAG */
	bool negate;       /* FLAG, KEYWORD */
	const char *field; /* HEADER shorthands */
};

static const struct key_def key_defs[] = {
        {"ALL", IMAP_SK_ALL, ARG_NONE, 0, false, NULL},
        {"ANSWERED", IMAP_SK_FLAG, ARG_NONE, STORE_F_ANSWERED, false, NULL},
        {"BCC", IMAP_SK_HEADER, ARG_STRING, 0, false, "Bcc"},
        {"BEFORE", IMAP_SK_BEFORE, ARG_DATE, 0, false, NULL},
        {"BODY", IMAP_SK_BODY, ARG_STRING, 0, false, NULL},
        {"CC", IMAP_SK_HEADER, ARG_STRING, 0, false, "Cc"},
        {"DELETED", IMAP_SK_FLAG, ARG_NONE, STORE_F_DELETED, false, NULL},
        {"DRAFT", IMAP_SK_FLAG, ARG_NONE, STORE_F_DRAFT, false, NULL},
        {"FLAGGED", IMAP_SK_FLAG, ARG_NONE, STORE_F_FLAGGED, false, NULL},
        {"FROM", IMAP_SK_HEADER, ARG_STRING, 0, false, "From"},
        {"HEADER", IMAP_SK_HEADER, ARG_HEADER, 0, false, NULL},
        {"KEYWORD", IMAP_SK_KEYWORD, ARG_KEYWORD, 0, false, NULL},
        {"LARGER", IMAP_SK_LARGER, ARG_NUMBER64, 0, false, NULL},
        /* RFC 3501: NEW is RECENT UNSEEN, OLD is NOT RECENT.  No message
         * is \Recent here (RFC 9051 §2.3.2 dropped it), so NEW and RECENT
         * match nothing and OLD everything. */
        {"NEW", IMAP_SK_NONE, ARG_NONE, 0, false, NULL},
        {"NOT", IMAP_SK_NOT, ARG_KEY, 0, false, NULL},
        {"OLD", IMAP_SK_ALL, ARG_NONE, 0, false, NULL},
        {"ON", IMAP_SK_ON, ARG_DATE, 0, false, NULL},
        {"OR", IMAP_SK_OR, ARG_KEY2, 0, false, NULL},
        {"RECENT", IMAP_SK_NONE, ARG_NONE, 0, false, NULL},
        {"SEEN", IMAP_SK_FLAG, ARG_NONE, STORE_F_SEEN, false, NULL},
        {"SENTBEFORE", IMAP_SK_SENTBEFORE, ARG_DATE, 0, false, NULL},
        {"SENTON", IMAP_SK_SENTON, ARG_DATE, 0, false, NULL},
        {"SENTSINCE", IMAP_SK_SENTSINCE, ARG_DATE, 0, false, NULL},
        {"SINCE", IMAP_SK_SINCE, ARG_DATE, 0, false, NULL},
        {"SMALLER", IMAP_SK_SMALLER, ARG_NUMBER64, 0, false, NULL},
        {"SUBJECT", IMAP_SK_HEADER, ARG_STRING, 0, false, "Subject"},
        {"TEXT", IMAP_SK_TEXT, ARG_STRING, 0, false, NULL},
        {"TO", IMAP_SK_HEADER, ARG_STRING, 0, false, "To"},
        {"UID", IMAP_SK_UIDSET, ARG_SEQSET, 0, false, NULL},
        {"UNANSWERED", IMAP_SK_FLAG, ARG_NONE, STORE_F_ANSWERED, true, NULL},
        {"UNDELETED", IMAP_SK_FLAG, ARG_NONE, STORE_F_DELETED, true, NULL},
        {"UNDRAFT", IMAP_SK_FLAG, ARG_NONE, STORE_F_DRAFT, true, NULL},
        {"UNFLAGGED", IMAP_SK_FLAG, ARG_NONE, STORE_F_FLAGGED, true, NULL},
        {"UNKEYWORD", IMAP_SK_KEYWORD, ARG_KEYWORD, 0, true, NULL},
        {"UNSEEN", IMAP_SK_FLAG, ARG_NONE, STORE_F_SEEN, true, NULL},
};

static const struct key_def *key_def_find(const char *name)
{
	for (size_t i = 0; i < sizeof key_defs / sizeof key_defs[0]; i++) {
		if (strcasecmp(key_defs[i].name, name) == 0)
			return &key_defs[i];
	}
	return NULL;
}

static int fail(struct search_parser *p, const char *error)
{
	if (p->error == NULL)
		p->error = error;
	return -1;
}

static struct imap_search_key *key_new(struct search_parser *p,
                                       enum imap_search_kind kind)
{
	struct imap_search_key *k;

	if (p->nkeys >= IMAP_SEARCH_MAX_KEYS) {
		fail(p, "Too many search keys");
		return NULL;
	}
	p->nkeys++;
	k = imap_arena_alloc(p->arena, sizeof(*k));
	k->kind = kind;
	k->cost = 1;
	return k;
}

static char *arena_strndup(struct imap_arena *a, const char *s, size_t len)
{
	char *d = imap_arena_alloc(a, len + 1);

	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* Floor division: days since the epoch of a (possibly negative) time. */
static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* A sequence set whose ranges live in the arena (nothing to free). */
static int parse_set(struct search_parser *p, const char *str, size_t len,
                     struct imap_seqset *set_r)
{
	struct imap_seqset set;
	const char *error;

	if (imap_seqset_parse(str, len, &set, &error) < 0)
		return fail(p, error);
	*set_r = set;
	set_r->ranges = imap_arena_alloc(
	        p->arena, (set.count + 1) * sizeof(set.ranges[0]));
	if (set.count > 0)
		memcpy(set_r->ranges, set.ranges,
		       set.count * sizeof(set.ranges[0]));
	imap_seqset_deinit(&set);
	return 0;
}

/* RFC 5322 §3.6.8 field-name: printable US-ASCII but ":". */
static bool field_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > 200)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 33 || ch > 126 || ch == ':')
			return false;
	}
	return true;
}

static int parse_string_arg(struct search_parser *p, struct imap_search_key *k,
                            const struct imap_arg *a)
{
	const char *str;
	size_t len;

	if (!imap_arg_get_astring(a, &str, &len))
		return fail(p, "Missing or invalid search string");
	imap_search_matcher_init(&k->m, p->arena, str, len);
	return 0;
}

static struct imap_search_key *parse_key(struct search_parser *p,
                                         const struct imap_arg **argp,
                                         unsigned depth);

/* Append child to the AND/OR list of parent, keeping the children sorted
 * by cost (stable), so that the evaluation tries the cheap keys first. */
static void add_child(struct imap_search_key *parent,
                      struct imap_search_key *child, bool sorted)
{
	struct imap_search_key **pp = &parent->children;

	while (*pp != NULL && (!sorted || (*pp)->cost <= child->cost))
		pp = &(*pp)->next;
	child->next = *pp;
	*pp = child;
	if (child->cost > parent->cost)
		parent->cost = child->cost;
}

/* The argument that follows a key, by its def. */
static int parse_key_arg(struct search_parser *p, const struct key_def *d,
                         struct imap_search_key *k,
                         const struct imap_arg **argp, unsigned depth)
{
	const struct imap_arg *a = *argp;
	const char *str;
	size_t len;
	int64_t t;

	if (d->arg == ARG_NONE)
		return 0;
	if (a == NULL)
		return fail(p, "Missing argument to search key");
	*argp = a->next;
	switch (d->arg) {
	case ARG_STRING:
		if (d->field != NULL)
			k->name = d->field;
		k->cost = d->kind == IMAP_SK_HEADER ? 10 : 100;
		return parse_string_arg(p, k, a);
	case ARG_HEADER:
		if (!imap_arg_get_astring(a, &str, &len) ||
		    !field_name_valid(str, len))
			return fail(p, "Invalid header field name");
		k->name = arena_strndup(p->arena, str, len);
		k->cost = 10;
		if (*argp == NULL)
			return fail(p, "Missing argument to search key");
		a = *argp;
		*argp = a->next;
		return parse_string_arg(p, k, a);
	case ARG_DATE:
		/* date = date-text / DQUOTE date-text DQUOTE */
		if (!imap_arg_get_astring(a, &str, &len) ||
		    imap_parse_date(str, len, &t) < 0)
			return fail(p, "Invalid date");
		k->day = day_of(t);
		return 0;
	case ARG_NUMBER64:
		if (!imap_arg_get_number64(a, &k->num))
			return fail(p, "Invalid number");
		return 0;
	case ARG_KEYWORD:
		if (!imap_arg_get_atom(a, &str) || str[0] == '\\')
			return fail(p, "Invalid keyword");
		k->name = arena_strndup(p->arena, str, strlen(str));
		return 0;
	case ARG_SEQSET:
		if (a->type != IMAP_ARG_ATOM)
			return fail(p, "Invalid sequence set");
		return parse_set(p, a->str, a->len, &k->set);
	case ARG_KEY:
	case ARG_KEY2: {
		struct imap_search_key *c;

		*argp = a;
		for (int i = 0; i < (d->arg == ARG_KEY2 ? 2 : 1); i++) {
			c = parse_key(p, argp, depth + 1);
			if (c == NULL)
				return -1;
			/* OR keeps its order; evaluation is symmetric. */
			add_child(k, c, true);
		}
		return 0;
	}
	case ARG_NONE:
		break;
	}
	return 0;
}

static struct imap_search_key *
parse_list(struct search_parser *p, const struct imap_arg *a, unsigned depth)
{
	struct imap_search_key *k, *c;
	const struct imap_arg *cur = a->children;

	if (a->count == 0 || cur == NULL) {
		fail(p, "Empty search key list");
		return NULL;
	}
	k = key_new(p, IMAP_SK_AND);
	if (k == NULL)
		return NULL;
	while (cur != NULL) {
		c = parse_key(p, &cur, depth + 1);
		if (c == NULL)
			return NULL;
		add_child(k, c, true);
	}
	return k;
}

static bool is_seqset_start(char ch)
{
	return (ch >= '0' && ch <= '9') || ch == '*' || ch == '$';
}

static struct imap_search_key *
parse_key(struct search_parser *p, const struct imap_arg **argp, unsigned depth)
{
	const struct imap_arg *a = *argp;
	const struct key_def *d;
	struct imap_search_key *k;

	if (a == NULL) {
		fail(p, "Missing search key");
		return NULL;
	}
	if (depth > IMAP_SEARCH_MAX_DEPTH) {
		fail(p, "Search keys nested too deeply");
		return NULL;
	}
	*argp = a->next;
	if (a->type == IMAP_ARG_LIST)
		return parse_list(p, a, depth);
	if (a->type != IMAP_ARG_ATOM || a->len == 0) {
		fail(p, "Invalid search key");
		return NULL;
	}
	if (is_seqset_start(a->str[0])) {
		k = key_new(p, IMAP_SK_SEQSET);
		if (k == NULL || parse_set(p, a->str, a->len, &k->set) < 0)
			return NULL;
		return k;
	}
	d = key_def_find(a->str);
	if (d == NULL) {
		fail(p, "Unknown search key");
		return NULL;
	}
	k = key_new(p, d->kind);
	if (k == NULL)
		return NULL;
	k->flag = d->flag;
	k->negate = d->negate;
	if (parse_key_arg(p, d, k, argp, depth) < 0)
		return NULL;
	if (k->kind == IMAP_SK_HEADER)
		p->need |= IMAP_SEARCH_NEED_HEADER;
	else if (k->kind == IMAP_SK_BODY)
		p->need |= IMAP_SEARCH_NEED_BODY;
	else if (k->kind == IMAP_SK_TEXT)
		p->need |= IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY;
	return k;
}

/* "RETURN (MIN MAX ALL COUNT SAVE)" (RFC 4731 §3.1, RFC 5182 §2.4). */
static int parse_return(struct search_parser *p, const struct imap_arg *a,
                        struct imap_search_program *prog)
{
	const struct imap_arg *opt;
	static const char *const names[] = {"MIN", "MAX", "ALL", "COUNT",
	                                    "SAVE"};
	size_t i;

	if (a == NULL || a->type != IMAP_ARG_LIST)
		return fail(p, "RETURN needs a list of options");
	prog->has_return = true;
	for (opt = a->children; opt != NULL; opt = opt->next) {
		if (opt->type != IMAP_ARG_ATOM)
			return fail(p, "Unknown RETURN option");
		for (i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strcasecmp(opt->str, names[i]) == 0)
				break;
		}
		if (i == sizeof names / sizeof names[0])
			return fail(p, "Unknown RETURN option");
		prog->ret |= 1u << i;
	}
	/* RFC 9051 §6.4.4: "()" means ALL. */
	if (prog->ret == 0)
		prog->ret = IMAP_SEARCH_RET_ALL;
	return 0;
}

static bool atom_is(const struct imap_arg *a, const char *word)
{
	return a != NULL && a->type == IMAP_ARG_ATOM &&
	       strcasecmp(a->str, word) == 0;
}

int imap_search_parse(struct imap_arena *arena, const struct imap_arg *args,
                      struct imap_search_program **prog_r, const char **error_r)
{
	struct search_parser p = {.arena = arena};
	struct imap_search_program *prog;
	const struct imap_arg *a = args;
	struct imap_search_key *k;
	const char *cs;
	size_t cs_len;

	prog = imap_arena_alloc(arena, sizeof(*prog));
	if (atom_is(a, "RETURN")) {
		if (parse_return(&p, a->next, prog) < 0)
			goto failed;
		a = a->next->next;
	}
	if (atom_is(a, "CHARSET")) {
		a = a->next;
		if (!imap_arg_get_astring(a, &cs, &cs_len)) {
			fail(&p, "CHARSET needs a name");
			goto failed;
		}
		/* RFC 9051 §6.4.4: UTF-8 and US-ASCII must be supported (and
		 * US-ASCII is a subset); anything else is NO [BADCHARSET]. */
		if (!(cs_len == 5 && strncasecmp(cs, "UTF-8", 5) == 0) &&
		    !(cs_len == 8 && strncasecmp(cs, "US-ASCII", 8) == 0))
			prog->bad_charset = true;
		a = a->next;
	}
	if (a == NULL) {
		fail(&p, "Missing search criteria");
		goto failed;
	}
	prog->root = key_new(&p, IMAP_SK_AND);
	while (a != NULL) {
		k = parse_key(&p, &a, 1);
		if (k == NULL)
			goto failed;
		add_child(prog->root, k, true);
	}
	prog->nkeys = p.nkeys;
	prog->need = p.need;
	*prog_r = prog;
	return 0;
failed:
	*error_r = p.error != NULL ? p.error : "Invalid search";
	return -1;
}
