/*
 * STUB: mailboxes, APPEND, leaving a mailbox (helper "mailbox").  To be replaced.
 */
#include "imap_private.h"

#include <stdlib.h>

int imap_cmd_select_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_create_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_delete_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_rename_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_subscribe_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_unsubscribe_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_list_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_lsub_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_status_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_append_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_check_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_close_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_unselect_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_expunge_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_select_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_mailbox_name_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_rename_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_list_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_lsub_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_status_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_append_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_uid_expunge_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

void imap_cmd_select_free(void *data)
{
	free(data);
}

void imap_cmd_list_free(void *data)
{
	free(data);
}

void imap_cmd_status_free(void *data)
{
	free(data);
}

void imap_cmd_append_free(void *data)
{
	free(data);
}
