/*
 * The LMTP protocol module (RFC 2033): delivery from the site's MTA into
 * the accounts' INBOXes.
 */
#ifndef PO_LMTP_H
#define PO_LMTP_H

#include "protocol.h"

extern const struct po_protocol lmtp_protocol;

#endif
