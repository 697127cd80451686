/*
 * STUB: SEARCH (helper "search").  To be replaced.
 */
#include "imap_private.h"

#include <stdlib.h>

int imap_cmd_search_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_search_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

void imap_cmd_search_free(void *data)
{
	free(data);
}
