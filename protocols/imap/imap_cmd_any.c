/*
 * STUB: any state and authentication (helper "core").  To be replaced.
 */
#include "imap_private.h"

#include <stdlib.h>

int imap_cmd_capability_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_noop_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_logout_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_starttls_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_login_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_authenticate_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_enable_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_id_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_namespace_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_idle_run(struct imap_cmd *cmd)
{
	imap_cmd_result(cmd, IMAP_NO, "Not implemented yet");
	return IMAP_RUN_DONE;
}

int imap_cmd_login_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_authenticate_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_enable_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}

int imap_cmd_id_parse(struct imap_cmd *cmd, const char **error_r)
{
	(void)cmd;
	(void)error_r;
	return 0;
}
