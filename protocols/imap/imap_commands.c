/*
 * The IMAP command table: every command of RFC 9051 and RFC 3501 with the
 * extensions we announce, the states it is valid in (RFC 9051 §6) and how
 * the framework runs it.  The handlers live in the imap_cmd_*.c,
 * imap_fetch.c and imap_search.c files.
 */
#include "imap_private.h"

#include <string.h>
#include <strings.h>

#define INLINE IMAP_CMD_INLINE
#define UID IMAP_CMD_UID
#define NOEXP IMAP_CMD_NOEXPUNGE
#define NOSYNC IMAP_CMD_NOSYNC

static const struct imap_command commands[] = {
        /* RFC 9051 §6.1: any state. */
        {"CAPABILITY", IMAP_S_ANY, INLINE, NULL, imap_cmd_capability_run, NULL},
        {"NOOP", IMAP_S_ANY, 0, NULL, imap_cmd_noop_run, NULL},
        {"LOGOUT", IMAP_S_ANY, INLINE, NULL, imap_cmd_logout_run, NULL},
        {"ID", IMAP_S_ANY, INLINE, imap_cmd_id_parse, imap_cmd_id_run, NULL},
        /* §6.2: not authenticated. */
        {"STARTTLS", IMAP_S_NOTAUTH, INLINE, NULL, imap_cmd_starttls_run, NULL},
        {"AUTHENTICATE", IMAP_S_NOTAUTH, INLINE | NOSYNC,
         imap_cmd_authenticate_parse, imap_cmd_authenticate_run, NULL},
        {"LOGIN", IMAP_S_NOTAUTH, NOSYNC, imap_cmd_login_parse,
         imap_cmd_login_run, NULL},
        /* §6.3: authenticated. */
        {"ENABLE", IMAP_S_AUTHED, INLINE, imap_cmd_enable_parse,
         imap_cmd_enable_run, NULL},
        {"SELECT", IMAP_S_AUTHED, NOSYNC, imap_cmd_select_parse,
         imap_cmd_select_run, imap_cmd_select_free},
        {"EXAMINE", IMAP_S_AUTHED, NOSYNC, imap_cmd_select_parse,
         imap_cmd_select_run, imap_cmd_select_free},
        {"CREATE", IMAP_S_AUTHED, 0, imap_cmd_mailbox_name_parse,
         imap_cmd_create_run, NULL},
        {"DELETE", IMAP_S_AUTHED, 0, imap_cmd_mailbox_name_parse,
         imap_cmd_delete_run, NULL},
        {"RENAME", IMAP_S_AUTHED, 0, imap_cmd_rename_parse, imap_cmd_rename_run,
         NULL},
        {"SUBSCRIBE", IMAP_S_AUTHED, 0, imap_cmd_mailbox_name_parse,
         imap_cmd_subscribe_run, NULL},
        {"UNSUBSCRIBE", IMAP_S_AUTHED, 0, imap_cmd_mailbox_name_parse,
         imap_cmd_unsubscribe_run, NULL},
        {"LIST", IMAP_S_AUTHED, 0, imap_cmd_list_parse, imap_cmd_list_run,
         imap_cmd_list_free},
        {"LSUB", IMAP_S_AUTHED, 0, imap_cmd_lsub_parse, imap_cmd_lsub_run,
         imap_cmd_list_free},
        {"NAMESPACE", IMAP_S_AUTHED, INLINE, NULL, imap_cmd_namespace_run,
         NULL},
        {"STATUS", IMAP_S_AUTHED, 0, imap_cmd_status_parse, imap_cmd_status_run,
         imap_cmd_status_free},
        {"APPEND", IMAP_S_AUTHED, IMAP_CMD_APPEND, imap_cmd_append_parse,
         imap_cmd_append_run, imap_cmd_append_free},
        {"IDLE", IMAP_S_AUTHED, INLINE | NOSYNC, NULL, imap_cmd_idle_run, NULL},
        /* §6.4: selected. */
        {"CHECK", IMAP_S_SELECTED, 0, NULL, imap_cmd_check_run, NULL},
        {"CLOSE", IMAP_S_SELECTED, NOSYNC, NULL, imap_cmd_close_run, NULL},
        {"UNSELECT", IMAP_S_SELECTED, NOSYNC, NULL, imap_cmd_unselect_run,
         NULL},
        {"EXPUNGE", IMAP_S_SELECTED, UID, imap_cmd_uid_expunge_parse,
         imap_cmd_expunge_run, NULL},
        {"SEARCH", IMAP_S_SELECTED, UID | NOEXP, imap_cmd_search_parse,
         imap_cmd_search_run, imap_cmd_search_free},
        {"FETCH", IMAP_S_SELECTED, UID | NOEXP, imap_cmd_fetch_parse,
         imap_cmd_fetch_run, imap_cmd_fetch_free},
        {"STORE", IMAP_S_SELECTED, UID | NOEXP, imap_cmd_store_parse,
         imap_cmd_store_run, imap_cmd_store_free},
        {"COPY", IMAP_S_SELECTED, UID, imap_cmd_copy_parse, imap_cmd_copy_run,
         imap_cmd_copy_free},
        {"MOVE", IMAP_S_SELECTED, UID, imap_cmd_copy_parse, imap_cmd_move_run,
         imap_cmd_copy_free},
};

const struct imap_command *imap_command_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strlen(commands[i].name) == len &&
		    strncasecmp(commands[i].name, name, len) == 0)
			return &commands[i];
	}
	return NULL;
}
