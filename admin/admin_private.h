/*
 * Declarations shared by the files of admin/: the context every command
 * gets, the exit statuses, and helpers for messages and JSON output.
 */
#ifndef PO_ADMIN_PRIVATE_H
#define PO_ADMIN_PRIVATE_H

#include <stdbool.h>
#include <stdio.h>
#include <sysexits.h>

#include "auth.h"
#include "config.h"
#include "store.h"

/*
 * Exit statuses (sysexits.h), documented in the usage text:
 *   0             success
 *   EX_USAGE 64   bad command line, invalid name or password
 *   EX_NOUSER 67  no such account
 *   EX_CANTCREAT 73  the account already exists, or cannot be created
 *   EX_TEMPFAIL 75   the directory or a mail database is busy or failing
 *   EX_CONFIG 78  the configuration file or an -o override is bad
 */

struct admin_ctx {
	struct po_config cfg;
	struct auth_dir *dir;
	struct store *store;
	bool json; /* --json: machine-readable output on stdout */
};

/* Print "postoffice: <message>\n" on stderr. */
void admin__err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* s made safe to print (control and 8-bit bytes escaped, length capped),
 * in one of a few static buffers that rotate, so a message can quote two
 * strings.  Valid until the fourth call after this one. */
const char *admin__quote(const char *s);

/* Write s as a JSON string, quotes included (RFC 8259 §7). */
void admin__json_string(FILE *fp, const char *s);

/* Print the usage text on fp. */
void admin__usage(FILE *fp);

/* Open the account directory and the store on cfg.data_dir.  Returns 0 or
 * an exit status (a message has been printed). */
int admin__open(struct admin_ctx *ctx);

/* `postoffice account ...`: argv[0] is "account".  Returns an exit
 * status. */
int admin__account_main(struct admin_ctx *ctx, int argc, char **argv);

#endif
