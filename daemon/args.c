/*
 * args.c - parse what operators and HTTP clients pass (see args.h).
 *
 * strtoul() is not used: it skips white space, takes a sign and wraps
 * negative numbers around, so " -1" would be a huge cost.
 */
#include "daemon/args.h"

int fgd_arg_cost(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}
