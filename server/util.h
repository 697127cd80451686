/*
 * Small helpers every layer may use: allocation that aborts on failure (for
 * fixed-size allocations whose size no client controls; see STYLE.md,
 * ownership rule 5) and a growable byte buffer.  Nothing here does I/O.
 */
#ifndef PO_UTIL_H
#define PO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/realloc/strdup that abort the process on failure.  Only for
 * sizes bounded by our own limits; client-sized data uses po_buf_try_*. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/*
 * A growable byte buffer.  data is always NUL-terminated (the NUL is not
 * counted in len) so a buffer holding text can be used as a C string.
 * Initialise with PO_BUF_INIT or po_buf_init(); release with po_buf_deinit().
 */
struct po_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define PO_BUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void po_buf_init(struct po_buf *b);
void po_buf_deinit(struct po_buf *b);
/* Empty the buffer, keeping its memory. */
void po_buf_reset(struct po_buf *b);
/* Append; abort on allocation failure (fixed, small sizes). */
void po_buf_add(struct po_buf *b, const void *data, size_t len);
void po_buf_add_str(struct po_buf *b, const char *s);
void po_buf_printf(struct po_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Append client-sized data: returns 0, or -ENOMEM (buffer unchanged) when
 * memory runs out. */
int po_buf_try_add(struct po_buf *b, const void *data, size_t len);
/* Remove the first n bytes. */
void po_buf_consume(struct po_buf *b, size_t n);
/* When b is empty and holds more than keep bytes of capacity, free it: for
 * buffers of long-lived idle connections (memory per connection). */
void po_buf_trim(struct po_buf *b, size_t keep);
/* Take ownership of the bytes (NUL-terminated); the buffer becomes empty. */
char *po_buf_take(struct po_buf *b, size_t *len_r);

/* Lower-case hex of n random bytes from the system CSPRNG into out, which
 * must hold 2n + 1 bytes. */
void po_random_hex(char *out, size_t n);

#endif
