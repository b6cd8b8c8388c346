/*
 * num.c - the strict integer parser (see num.h).
 *
 * Syntax is checked over the whole text before the value, so "12x" is
 * junk rather than a number that overflowed, and a value is accumulated
 * with the overflow test before each step (v * 10 + d <= max).
 */
#include "util/num.h"

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
