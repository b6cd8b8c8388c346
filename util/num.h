/* SPDX-License-Identifier: ISC */
/*
 * num.h - the one strict integer parser, for every number floodgate reads
 * from people: the CLI's options, the daemon's command line, the HTTP
 * query's cost, floodgate.conf(5).
 *
 * strtoul() is not used anywhere: it skips leading blanks, takes a sign
 * and wraps a negative number around (" -1" becomes 18446744073709551615),
 * reads a base prefix with base 0, stops silently at junk and reports
 * overflow only through errno.  Here a number is decimal digits and
 * nothing else, its range is the caller's, and each way to be wrong has
 * its own code so that a message can say which.
 */
#ifndef FGU_NUM_H
#define FGU_NUM_H

#include <stddef.h>
#include <stdint.h>

enum fgu_num_error {
	FGU_NUM_EMPTY = -1,    /* no characters */
	FGU_NUM_NEGATIVE = -2, /* starts with '-' */
	FGU_NUM_SYNTAX = -3,   /* anything but [0-9]: sign, blank, junk */
	FGU_NUM_RANGE = -4,    /* below @min or above @max (or 2^64) */
};

/*
 * Parse @n bytes of @s (need not be NUL-terminated) as a decimal integer
 * from @min to @max: one or more digits [0-9] and nothing else (leading
 * zeros are decimal, not octal).  0 with *@out set, or a negative
 * enum fgu_num_error with *@out untouched.
 */
int fgu_parse_uint(const char *s, size_t n, uint64_t min, uint64_t max,
                   uint64_t *out);

/* What is wrong, as words that follow the text in a sentence: "is not a
 * whole number", "is negative", ... */
const char *fgu_num_strerror(int err);

enum fgu_duration_error {
	FGU_DUR_SYNTAX = -1, /* not digits and a unit */
	FGU_DUR_NOUNIT = -2, /* digits alone: "100" (ms? s?) */
	FGU_DUR_RANGE = -3,  /* above @max_ms */
};

/* A duration written with a unit, "500ms", "10s", "1m", "1h", of at most
 * @max_ms: 0 with *@ms set, or a negative enum fgu_duration_error. */
int fgu_parse_duration(const char *s, uint64_t max_ms, uint64_t *ms);

#endif
