/*
 * The login policy: after a correct password, may this account use this
 * protocol now?  The answer depends only on the account's settings as read
 * from the directory at this login, so an operator's `postoffice account
 * pop NAME off` or `account disable NAME` applies from the next login on.
 * Protocol modules turn the answer into their own words (RFC 3206
 * [AUTH] / [SYS/PERM] for POP3, RFC 5530 [NOPERM] / [CONTACTADMIN] for
 * IMAP); failure delays are the caller's business.
 */
#include "auth_private.h"

#include <assert.h>

enum auth_policy auth_policy_check(const struct auth_account *account,
                                   enum auth_proto proto)
{
	assert(account != NULL);
	/* A disabled account is refused whatever the protocol toggles say. */
	if (account->state != AUTH_STATE_ACTIVE)
		return AUTH_DENIED_DISABLED;
	switch (proto) {
	case AUTH_PROTO_POP3:
		return account->pop_allowed ? AUTH_ALLOWED
		                            : AUTH_DENIED_PROTOCOL;
	case AUTH_PROTO_IMAP:
		return account->imap_allowed ? AUTH_ALLOWED
		                             : AUTH_DENIED_PROTOCOL;
	}
	/* An unknown protocol value is never allowed. */
	return AUTH_DENIED_PROTOCOL;
}
