/*
 * Allocation helpers and the growable byte buffer declared in util.h.  Used
 * by every layer; knows nothing of sockets, protocols or the store.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void oom(void)
{
	fputs("postoffice: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

void po_buf_init(struct po_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void po_buf_deinit(struct po_buf *b)
{
	free(b->data);
	po_buf_init(b);
}

void po_buf_reset(struct po_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for len more bytes plus the terminating NUL. */
static int reserve(struct po_buf *b, size_t len)
{
	size_t need, cap;
	char *p;

	if (len > SIZE_MAX - b->len - 1)
		return -ENOMEM;
	need = b->len + len + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int po_buf_try_add(struct po_buf *b, const void *data, size_t len)
{
	if (reserve(b, len) < 0)
		return -ENOMEM;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void po_buf_add(struct po_buf *b, const void *data, size_t len)
{
	if (po_buf_try_add(b, data, len) < 0)
		oom();
}

void po_buf_add_str(struct po_buf *b, const char *s)
{
	po_buf_add(b, s, strlen(s));
}

void po_buf_printf(struct po_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (reserve(b, (size_t)n) < 0)
		oom();
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void po_buf_trim(struct po_buf *b, size_t keep)
{
	if (b->len == 0 && b->cap > keep)
		po_buf_deinit(b);
}

void po_buf_consume(struct po_buf *b, size_t n)
{
	if (n >= b->len) {
		po_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *po_buf_take(struct po_buf *b, size_t *len_r)
{
	char *p = b->data;

	if (p == NULL)
		p = xcalloc(1, 1);
	if (len_r != NULL)
		*len_r = b->len;
	po_buf_init(b);
	return p;
}

void po_random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t i, done = 0;

	while (done < n) {
		size_t chunk = n - done < sizeof(raw) ? n - done : sizeof(raw);
		ssize_t got = getrandom(raw, chunk, 0);

		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			abort();
		}
		for (i = 0; i < (size_t)got; i++) {
			out[2 * (done + i)] = hex[raw[i] >> 4];
			out[2 * (done + i) + 1] = hex[raw[i] & 15];
		}
		done += (size_t)got;
	}
	out[2 * n] = '\0';
}
