/*
 * Logging to stderr, declared in log.h.  Each event becomes exactly one
 * line, "2026-11-23T19:05:01Z info message", formatted into a stack buffer
 * and handed to one write(2) so lines from worker threads never interleave.
 * Over-long messages are cut (marked with "...").  Client text is escaped by
 * log_sanitize() before it reaches a format string argument.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static atomic_int log_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(int level)
{
	if (level < LOG_DEBUG)
		level = LOG_DEBUG;
	if (level > LOG_ERROR)
		level = LOG_ERROR;
	atomic_store(&log_level, level);
}

int log_get_level(void)
{
	return atomic_load(&log_level);
}

/* Write the prefix "TIMESTAMP LEVEL " into buf; returns its length. */
static size_t log_prefix(char *buf, size_t size, int level)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	n += (size_t)snprintf(buf + n, size - n, "%s ", level_names[level]);
	return n;
}

/* Format one line with an optional ": strerror(err)" suffix (err > 0) and
 * write it with a single write(2). */
static void log_emit(int level, int err, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

static void log_emit(int level, int err, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n, room;
	int r;

	if (level < atomic_load(&log_level))
		return;
	n = log_prefix(line, sizeof(line), level);
	room = sizeof(line) - n - 1; /* keep one byte for the newline */
	r = vsnprintf(line + n, room, fmt, ap);
	if (r < 0)
		r = 0;
	if ((size_t)r >= room) {
		n += room - 1;
		memcpy(line + n - 3, "...", 3);
	} else {
		n += (size_t)r;
	}
	if (err > 0 && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - 1 - n, ": %s",
		             strerror(err));
		if (r > 0 && (size_t)r >= sizeof(line) - 1 - n)
			n = sizeof(line) - 2;
		else if (r > 0)
			n += (size_t)r;
	}
	line[n++] = '\n';
	/* One write per line keeps concurrent lines whole; a short write to
	 * stderr is not worth retrying. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, 0, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARN, err, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARN, 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_ERROR, err, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

char *log_sanitize(const char *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	for (i = 0; i < inlen; i++) {
		unsigned char ch = (unsigned char)in[i];
		size_t need = (ch < 0x20 || ch >= 0x7f || ch == '\\') ? 4 : 1;

		if (o + need > outlen - 4) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 1) {
			out[o++] = (char)ch;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[ch >> 4];
		out[o++] = hex[ch & 0xf];
	}
	out[o] = '\0';
	return out;
}
