/* SPDX-License-Identifier: ISC */
/*
 * why.c - a refusal's message into the caller's buffer (why.h).
 */
#include "util/why.h"

#include <stdarg.h>
#include <stdio.h>

int fgu_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || len == 0)
		return -1;
	va_start(ap, fmt);
	if (vsnprintf(why, len, fmt, ap) < 0)
		why[0] = '\0';
	va_end(ap);
	return -1;
}
