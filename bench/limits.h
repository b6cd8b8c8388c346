/* SPDX-License-Identifier: ISC */
/*
 * limits.h - what a bench measures its figures against, in the same run.
 *
 * This 2-core VM's speed moves from one second to the next, so a figure
 * alone says little; next to its limit, measured in turns with it, the
 * ratio holds to about 0.02.  The limits: one clock_gettime(MONOTONIC),
 * which every check makes; the "CAS limit", the clock plus one GCRA step
 * committed with one cmpxchg16b on a private 16-byte pair (a check whose
 * bucket cost nothing to find); and one random 64-byte read over a buffer
 * of a table's size, chased so that reads cannot overlap (the floor of a
 * check whose bucket is in no cache).  Shared by bench/table_bench.c and
 * bench/layout_proto.c, with the statistics they report them by.
 */
#ifndef FG_BENCH_LIMITS_H
#define FG_BENCH_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* A private pair, alone on its line, for fgb_cas_limit_ns(). */
struct fgb_pair16 {
	uint64_t tat, consumed;
} __attribute__((aligned(64)));

/* xorshift64: the benches' keys and orders, the same every run. */
uint64_t fgb_rnd(void);

/* The value at rank @q (0..1) of @n samples (nearest rank); sorts @v. */
double fgb_rank(double *v, unsigned n, double q);
double fgb_median(double *v, unsigned n);

/* @size bytes of private anonymous memory; aborts when there are none. */
void *fgb_map(size_t size);

/* ns of one clock read, over @iters of them. */
double fgb_clock_ns(unsigned iters);

/* ns of the clock, a GCRA step and a cmpxchg16b on @p, over @iters. */
double fgb_cas_limit_ns(struct fgb_pair16 *p, unsigned iters);

/* Make @buf (@n lines of 64 bytes) one random cycle: line i holds the
 * index of the next. */
void fgb_chase_build(uint64_t *buf, uint64_t n);

/* ns of a clock read and one read of the cycle's next line, over @iters,
 * from line *@at on (left at the next): each call reads lines the calls
 * before did not, so that none is in a cache (from line 0 every time, a
 * call read the lines the last one had brought into L2 and L3). */
double fgb_random_read_ns(const uint64_t *buf, uint64_t *at, unsigned iters);

#endif
