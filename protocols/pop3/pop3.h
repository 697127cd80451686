/*
 * The POP3 protocol module (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034
 * AUTH, RFC 3206 response codes) on the shared store.
 */
#ifndef PO_POP3_H
#define PO_POP3_H

#include "protocol.h"

extern const struct po_protocol pop3_protocol;

#endif
