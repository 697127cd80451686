/*
 * The IMAP protocol module (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1, with
 * the extensions listed in its CAPABILITY) on the shared store.
 */
#ifndef PO_IMAP_H
#define PO_IMAP_H

#include "protocol.h"

extern const struct po_protocol imap_protocol;

#endif
