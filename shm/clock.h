/* SPDX-License-Identifier: ISC */
/*
 * clock.h - the one clock every bucket is measured against.
 *
 * CLOCK_MONOTONIC is shared by every process on a host, never jumps with
 * the wall clock, and is read through the vDSO without a system call
 * (about 27 ns here: most of a check's cost).  Bucket state is absolute
 * monotonic nanoseconds, so a daemon restart keeps it; a reboot clears
 * /dev/shm anyway.
 */
#ifndef FG_SHM_CLOCK_H
#define FG_SHM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t fg__now_ns(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns to ms, rounded up: a client told to retry after N ms must find the
 * tokens there. */
static inline uint64_t fg__ns_to_ms_ceil(uint64_t ns)
{
	return ns / 1000000u + (ns % 1000000u != 0);
}

#endif
