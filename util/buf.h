/* SPDX-License-Identifier: ISC */
/*
 * buf.h - a growable text buffer.
 *
 * Text for a socket, an HTTP body or a terminal is built in memory first
 * and sent whole: the daemon answers its control socket and HTTP clients
 * from one, the CLI prints one.  Allocation failure is recorded rather
 * than returned at every call, so a renderer appends without checking and
 * its caller looks at @oom once at the end.
 *
 * (The name keeps the daemon's prefix it was born with: every renderer of
 * the daemon uses it.)
 */
#ifndef FGU_BUF_H
#define FGU_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct fgd_buf {
	char *p;
	size_t len, cap;
	int oom;
}; /* zero-initialised is empty */

/* Append formatted text; on allocation failure set @b->oom and keep what
 * is there.  p is NUL-terminated whenever len > 0. */
void fgd_buf_printf(struct fgd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fgd_buf_vprintf(struct fgd_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append @n bytes of @s as they are. */
void fgd_buf_add(struct fgd_buf *b, const char *s, size_t n);
void fgd_buf_free(struct fgd_buf *b);

#endif
