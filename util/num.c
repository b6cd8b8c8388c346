/* SPDX-License-Identifier: ISC */
/*
 * num.c - the strict integer parser (see num.h).
 *
 * Syntax is checked over the whole text before the value, so "12x" is
 * junk rather than a number that overflowed, and a value is accumulated
 * with the overflow test before each step (v * 10 + d <= max).
 */
#include "util/num.h"

#include <string.h>

int fgu_parse_uint(const char *s, size_t n, uint64_t min, uint64_t max,
                   uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || n == 0)
		return FGU_NUM_EMPTY;
	if (s[0] == '-')
		return FGU_NUM_NEGATIVE;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return FGU_NUM_SYNTAX;
	for (i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (d > max || v > (max - d) / 10)
			return FGU_NUM_RANGE;
		v = v * 10 + d;
	}
	if (v < min)
		return FGU_NUM_RANGE;
	*out = v;
	return 0;
}

const char *fgu_num_strerror(int err)
{
	switch (err) {
	case 0:
		return "is a number";
	case FGU_NUM_EMPTY:
		return "is empty";
	case FGU_NUM_NEGATIVE:
		return "is negative";
	case FGU_NUM_SYNTAX:
		return "is not a whole number";
	default:
		return "is out of range";
	}
}

int fgu_parse_duration(const char *s, uint64_t max_ms, uint64_t *ms)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	size_t n = strspn(s, "0123456789"), i;
	uint64_t v;

	if (n == 0)
		return FGU_DUR_SYNTAX;
	if (s[n] == '\0')
		return FGU_DUR_NOUNIT;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(s + n, units[i].name) != 0)
			continue;
		if (fgu_parse_uint(s, n, 0, max_ms / units[i].ms, &v) != 0)
			return FGU_DUR_RANGE;
		*ms = v * units[i].ms;
		return 0;
	}
	return FGU_DUR_SYNTAX;
}
