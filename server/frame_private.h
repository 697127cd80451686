/*
 * Input framing for the connection core, with no sockets: bytes go in,
 * frames (struct po_frame of protocol.h) come out.  Lines end at LF (an
 * optional CR before it is stripped and reported as crlf); a line longer
 * than max_line bytes is refused once and skipped through its LF, or, in
 * long-line mode, delivered in pieces; a literal of N bytes is delivered in
 * chunks of at most chunk bytes.  Memory is bounded by max(max_line + 1,
 * chunk) + 1 bytes per framer, allocated only as input needs it.
 */
#ifndef PO_FRAME_PRIVATE_H
#define PO_FRAME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"
#include "util.h"

/* Default literal chunk size. */
#define FRAME_CHUNK_DEFAULT 65536

enum frame_event {
	FRAME_NONE,     /* every byte given was consumed; need more input */
	FRAME_READY,    /* *frame_r holds a frame */
	FRAME_TOO_LONG, /* a line exceeded max_line (reported once per line;
	                   the rest of it up to its LF is skipped) */
};

struct framer {
	size_t max_line; /* longest line content, without line end */
	size_t chunk;    /* largest literal chunk */
	bool long_lines; /* deliver over-long lines in pieces */
	bool discarding; /* skipping the rest of an over-long line */
	bool in_literal; /* literal mode */
	bool emitted;    /* buf holds the frame returned last */
	bool has_carry;  /* a piece was cut: carry starts the next */
	char carry;
	uint64_t literal_left; /* bytes of the literal not yet buffered */
	struct po_buf buf;
};

/* Set up f for lines of at most max_line (>= 2) bytes and literal chunks
 * of at most chunk (>= 1) bytes.  Allocates nothing yet. */
void framer__init(struct framer *f, size_t max_line, size_t chunk);
/* Release f's memory. */
void framer__deinit(struct framer *f);

/*
 * Consume input from data[0..len) until one event happens.  *used_r is set
 * to the bytes consumed (possibly fewer than len, possibly 0 with an event).
 * On FRAME_READY, *frame_r points into f's buffer, NUL-terminated, valid
 * until the next call on f.  Call again with the unconsumed rest until it
 * returns FRAME_NONE.  A pending zero-length literal is delivered even for
 * len == 0.
 */
enum frame_event framer__feed(struct framer *f, const char *data, size_t len,
                              size_t *used_r, struct po_frame *frame_r);

/* The next size bytes are a literal (call between frames, in line mode). */
void framer__expect_literal(struct framer *f, uint64_t size);
/* Turn long-line mode on or off (takes effect from the next byte). */
void framer__set_long_lines(struct framer *f, bool on);
/* Forget every partial line or literal (used for STARTTLS). */
void framer__reset(struct framer *f);
/* True when no partial frame is buffered (between commands). */
bool framer__idle(const struct framer *f);

#endif
