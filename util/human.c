/* SPDX-License-Identifier: ISC */
/*
 * human.c - durations, rates and counts for people (see human.h).
 *
 * Rounding: a duration is first rounded to what its unit shows (a tenth
 * of the unit below 10, the unit from 10 on, to nearest), and the unit is
 * chosen again for the rounded value, so 59999 ms reads "1 min" rather
 * than "60 s", and an hour less a few milliseconds "1 h".  Each unit is a
 * whole number of the previous one's steps, so a value that crosses into
 * the next unit lands exactly on 1 of it.
 */
#include <inttypes.h>
#include <stdio.h>

#include "util/human.h"

static const struct unit {
	const char *name;
	uint64_t ms;
} units[] = {
    {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000},
};

#define NUNITS (sizeof units / sizeof units[0])

/* The largest unit of which @ms holds at least one (ms for 0). */
static const struct unit *unit_of(uint64_t ms)
{
	size_t i = NUNITS - 1;

	while (i > 0 && ms < units[i].ms)
		i--;
	return &units[i];
}

/* What @u shows of a duration: a tenth below 10 of it, else one. */
static uint64_t step_of(const struct unit *u, uint64_t ms)
{
	return u->ms == 1 || ms >= 10 * u->ms ? u->ms : u->ms / 10;
}

char *fgu_duration(uint64_t ms, char *out, size_t len)
{
	const struct unit *u = unit_of(ms);
	uint64_t step = step_of(u, ms), r, n;

	r = ms / step * step;
	if (ms % step >= (step + 1) / 2 && r + step > r)
		r += step; /* to nearest, unless it would wrap */
	u = unit_of(r);
	step = step_of(u, r);
	n = r / step; /* exact: r is a multiple of step */
	if (step == u->ms || n % 10 == 0)
		snprintf(out, len, "%" PRIu64 " %s", step == u->ms ? n : n / 10,
		         u->name);
	else
		snprintf(out, len, "%" PRIu64 ".%" PRIu64 " %s", n / 10, n % 10,
		         u->name);
	return out;
}

char *fgu_rate(uint64_t rate, uint64_t period_ms, char *out, size_t len)
{
	char d[FGU_HUMAN_MAX];
	size_t i;

	for (i = 0; i < NUNITS; i++) {
		if (period_ms == units[i].ms) {
			snprintf(out, len, "%" PRIu64 "/%s", rate,
			         units[i].name);
			return out;
		}
	}
	snprintf(out, len, "%" PRIu64 "/%s", rate,
	         fgu_duration(period_ms, d, sizeof d));
	return out;
}

char *fgu_count(uint64_t n, const char *one, const char *many, char *out,
                size_t len)
{
	snprintf(out, len, "%" PRIu64 " %s", n, n == 1 ? one : many);
	return out;
}
