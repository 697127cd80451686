/*
 * Input helpers several IMAP commands share: system flag names, flag lists
 * (APPEND, STORE: RFC 9051 §6.3.12, §6.4.6, flag grammar of §9), the
 * date-time of APPEND and the date of SEARCH (RFC 9051 §9), and the mapping
 * of store errors to tagged NO results with RFC 5530 response codes.  Pure
 * functions; no I/O.
 */
#include "imap_private.h"

#include <string.h>
#include <strings.h>

uint32_t imap_system_flag(const char *name, size_t len)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} sys[] = {
	        {"\\Seen", STORE_F_SEEN},
	        {"\\Answered", STORE_F_ANSWERED},
	        {"\\Flagged", STORE_F_FLAGGED},
	        {"\\Deleted", STORE_F_DELETED},
	        {"\\Draft", STORE_F_DRAFT},
	};

	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if (strlen(sys[i].name) == len &&
		    strncasecmp(sys[i].name, name, len) == 0)
			return sys[i].bit;
	}
	return 0;
}

/* ATOM-CHAR (RFC 9051 §9): CHAR except atom-specials. */
static bool atom_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", ch) == NULL;
}

static bool is_atom(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!atom_char((unsigned char)s[i]))
			return false;
	return true;
}

/* One flag: a system flag into *flags_r, or a keyword appended to kw. */
static int parse_one_flag(const struct imap_arg *arg, uint32_t *flags_r,
                          const char **kw, size_t max_kw, size_t *n_kw,
                          const char **error_r)
{
	uint32_t bit;

	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL) {
		*error_r = "Invalid flag";
		return -1;
	}
	if (arg->len > 0 && arg->str[0] == '\\') {
		/* flag-extension = "\" atom; only the system flags may be
		 * set, and RFC 9051 removed \Recent (§2.3.2). */
		if (!is_atom(arg->str + 1, arg->len - 1)) {
			*error_r = "Invalid flag";
			return -1;
		}
		bit = imap_system_flag(arg->str, arg->len);
		if (bit == 0) {
			*error_r =
			        arg->len == 7 && strncasecmp(arg->str,
			                                     "\\Recent", 7) == 0
			                ? "\\Recent cannot be set"
			                : "Unknown system flag";
			return -1;
		}
		*flags_r |= bit;
		return 0;
	}
	if (!is_atom(arg->str, arg->len)) {
		*error_r = "Invalid flag";
		return -1;
	}
	if (arg->len > STORE_KEYWORD_LEN_MAX) {
		*error_r = "Keyword too long";
		return -1;
	}
	if (*n_kw >= max_kw) {
		*error_r = "Too many keywords";
		return -1;
	}
	kw[(*n_kw)++] = arg->str;
	return 0;
}

int imap_parse_flags(const struct imap_arg *arg, uint32_t *flags_r,
                     const char **kw, size_t max_kw, size_t *n_kw_r,
                     const char **error_r)
{
	const struct imap_arg *a;

	*flags_r = 0;
	*n_kw_r = 0;
	if (arg == NULL) {
		*error_r = "Missing flags";
		return -1;
	}
	if (arg->type != IMAP_ARG_LIST)
		return parse_one_flag(arg, flags_r, kw, max_kw, n_kw_r,
		                      error_r);
	for (a = arg->children; a != NULL; a = a->next)
		if (parse_one_flag(a, flags_r, kw, max_kw, n_kw_r, error_r) < 0)
			return -1;
	return 0;
}

/* ---- dates ----------------------------------------------------------- */

static int month_of(const char *s)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
	                                   "May", "Jun", "Jul", "Aug",
	                                   "Sep", "Oct", "Nov", "Dec"};

	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, months[i], 3) == 0)
			return i + 1;
	return 0;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30,
	                          31, 31, 30, 31, 30, 31};

	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * "d-Mon-yyyy" at s[0..len) with a day of one or two digits, or (fixed)
 * " d" too.  Sets *used_r to the bytes read (the date may be followed by
 * more).  Returns 0 or -1.
 */
static int parse_day_month_year(const char *s, size_t len, bool fixed,
                                int64_t *days_r, size_t *used_r)
{
	size_t i = 0;
	int day, mon, year;

	if (fixed && len > 0 && s[0] == ' ')
		i = 1;
	if (i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9' && i == 0) {
		day = digits(s, 2);
		i = 2;
	} else {
		day = i < len ? digits(s + i, 1) : -1;
		i++;
	}
	if (day < 1 || i + 9 > len || s[i] != '-' || s[i + 4] != '-')
		return -1;
	mon = month_of(s + i + 1);
	year = digits(s + i + 5, 4);
	if (mon == 0 || year < 1 || day > days_in_month(year, mon))
		return -1;
	*days_r = days_from_civil(year, mon, day);
	*used_r = i + 9;
	return 0;
}

int imap_parse_date(const char *s, size_t len, int64_t *t_r)
{
	int64_t days;
	size_t used;

	if (parse_day_month_year(s, len, false, &days, &used) < 0 ||
	    used != len)
		return -1;
	*t_r = days * 86400;
	return 0;
}

int imap_parse_date_time(const char *s, size_t len, int64_t *t_r)
{
	int64_t days;
	size_t used;
	int hh, mm, ss, zh, zm;
	const char *t;

	if (parse_day_month_year(s, len, true, &days, &used) < 0)
		return -1;
	/* SP time SP zone: " hh:mm:ss +zzzz" */
	if (len - used != 15)
		return -1;
	t = s + used;
	if (t[0] != ' ' || t[3] != ':' || t[6] != ':' || t[9] != ' ' ||
	    (t[10] != '+' && t[10] != '-'))
		return -1;
	hh = digits(t + 1, 2);
	mm = digits(t + 4, 2);
	ss = digits(t + 7, 2);
	zh = digits(t + 11, 2);
	zm = digits(t + 13, 2);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 ||
	    zh < 0 || zh > 23 || zm < 0 || zm > 59)
		return -1;
	*t_r = days * 86400 + hh * 3600 + mm * 60 + ss -
	       (t[10] == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
	return 0;
}

/* ---- results --------------------------------------------------------- */

void imap_cmd_store_error(struct imap_cmd *cmd, int store_error,
                          const char *what)
{
	switch (store_error) {
	case STORE_E_NOQUOTA:
		imap_cmd_result(cmd, IMAP_NO, "[OVERQUOTA] %s: quota exceeded",
		                what);
		break;
	case STORE_E_NOTFOUND:
		imap_cmd_result(cmd, IMAP_NO,
		                "[NONEXISTENT] %s: no such mailbox", what);
		break;
	case STORE_E_EXISTS:
		imap_cmd_result(cmd, IMAP_NO,
		                "[ALREADYEXISTS] %s: it already exists", what);
		break;
	case STORE_E_EXPUNGED:
		imap_cmd_result(cmd, IMAP_NO,
		                "[EXPUNGEISSUED] %s: a message was expunged",
		                what);
		break;
	case STORE_E_LIMIT:
		imap_cmd_result(cmd, IMAP_NO, "[LIMIT] %s: limit reached",
		                what);
		break;
	case STORE_E_INVALID:
		imap_cmd_result(cmd, IMAP_NO, "[CANNOT] %s: not possible",
		                what);
		break;
	case STORE_E_INUSE:
		imap_cmd_result(cmd, IMAP_NO, "[INUSE] %s: in use, try again",
		                what);
		break;
	default:
		imap_cmd_result(
		        cmd, IMAP_NO,
		        "[UNAVAILABLE] %s: temporary failure, try again "
		        "later",
		        what);
		break;
	}
}
