/*
 * STUB: STORE, COPY, MOVE (helper "search").  To be replaced.
 */
#include "imap_private.h"

#include <stdlib.h>

int imap_cmd_store_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_copy_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_move_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_store_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_copy_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

void imap_cmd_store_free(void *data)
{
	free(data);
}

void imap_cmd_copy_free(void *data)
{
	free(data);
}
