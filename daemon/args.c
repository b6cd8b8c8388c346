/* SPDX-License-Identifier: ISC */
/*
 * args.c - parse what operators and HTTP clients pass (see args.h).
 *
 * The number itself goes through the one strict parser (util/num.h): no
 * strtoul(), which skips white space, takes a sign and wraps negative
 * numbers around, so " -1" would be a huge cost.
 */
#include "daemon/args.h"
#include "util/num.h"

int fgd_arg_cost(const char *s, size_t n, uint32_t *out)
{
	uint64_t v;

	if (s == NULL || n > 10) /* UINT32_MAX has 10 digits */
		return -1;
	if (fgu_parse_uint(s, n, 0, UINT32_MAX, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}
