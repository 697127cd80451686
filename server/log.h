/*
 * Logging to stderr: one line per event, "LEVEL message", where message is
 * key=value pairs after a short event phrase.  Client text must pass through
 * log_sanitize() first.  Secrets are never logged.
 */
#ifndef PO_LOG_H
#define PO_LOG_H

#include <stddef.h>

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Messages below level are dropped (default LOG_INFO). */
void log_set_level(int level);
int log_get_level(void);

void log_msg(int level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1): only at startup or on corrupt state. */
void fatal(const char *fmt, ...)
        __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
        __attribute__((format(printf, 1, 2), noreturn));

/* Copy client text into out (size outlen >= 8) with control and 8-bit bytes
 * escaped as \xNN and the result cut at outlen - 1 bytes ("..." marks a
 * cut).  Returns out. */
char *log_sanitize(const char *in, size_t inlen, char *out, size_t outlen);

#endif
