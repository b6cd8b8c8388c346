/* SPDX-License-Identifier: ISC */
/*
 * buf.c - a growable text buffer (see buf.h).
 *
 * Invariant: cap is 0 (p NULL) or p holds cap bytes of which len are text
 * and p[len] is '\0'.  The buffer doubles, so n appends cost O(n) copies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Room for @need more bytes and a NUL; 0, or -1 with oom set. */
static int reserve(struct fgd_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->oom)
		return -1;
	if (need < b->cap - b->len)
		return 0;
	while (cap - b->len <= need) {
		if (cap > ((size_t)-1) / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void fgd_buf_vprintf(struct fgd_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	if (b->oom)
		return;
	va_copy(again, ap);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
	if (n >= 0 && (size_t)n >= b->cap - b->len &&
	    reserve(b, (size_t)n) == 0)
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, again);
	va_end(again);
	if (n < 0)
		b->oom = 1;
	if (!b->oom)
		b->len += (size_t)n;
	else if (b->p != NULL)
		b->p[b->len] = '\0'; /* a cut-short first try is not text */
}

void fgd_buf_printf(struct fgd_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fgd_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void fgd_buf_add(struct fgd_buf *b, const char *s, size_t n)
{
	if (n == 0 || reserve(b, n) != 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void fgd_buf_free(struct fgd_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
