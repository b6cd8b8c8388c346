/* SPDX-License-Identifier: ISC */
/*
 * human.h - figures as people read them, for the CLI's tables and the
 * daemon's log: durations ("850 ms", "4.6 s", "2.5 h"), rates ("5/s",
 * "1/h", "3/10 s"), counts with their noun ("1 peer", "2 peers").
 *
 * Machines get the raw integers instead (JSON fields named with their
 * unit, such as uptime_ms): these strings are for reading, not parsing.
 */
#ifndef FGU_HUMAN_H
#define FGU_HUMAN_H

#include <stddef.h>
#include <stdint.h>

#define FGU_HUMAN_MAX 32 /* bytes any of these writes, with the NUL */

/*
 * A duration of @ms milliseconds in the largest unit (ms, s, min, h, d)
 * in which it is at least 1: one decimal below 10 of the unit, none from
 * 10 on, and no ".0" ("850 ms", "4.6 s", "42 s", "1 h", "3.5 d"), rounded
 * to nearest ("1 min" for 59999 ms).  Returns @out.
 */
char *fgu_duration(uint64_t ms, char *out, size_t len);

/*
 * A rate of @rate per @period_ms: "R/UNIT" when the period is one unit
 * (5/s, 1/h, 100/min, 2/d, 10/ms), else "R/" and the period as
 * fgu_duration() writes it ("3/10 s", "1/1.5 s").  Returns @out.
 */
char *fgu_rate(uint64_t rate, uint64_t period_ms, char *out, size_t len);

/* "@n @one" or "@n @many": fgu_count(1, "peer", "peers", ...) is "1
 * peer".  Returns @out. */
char *fgu_count(uint64_t n, const char *one, const char *many, char *out,
                size_t len);

#endif
