/* SPDX-License-Identifier: ISC */
/*
 * limits.c - see limits.h.
 */
#include "bench/limits.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "shm/clock.h"
#include "shm/gcra.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

uint64_t fgb_rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double fgb_rank(double *v, unsigned n, double q)
{
	unsigned r = (unsigned)(q * n + 0.999999);

	qsort(v, n, sizeof *v, cmp_double);
	return v[(r < 1 ? 1 : r) - 1];
}

double fgb_median(double *v, unsigned n)
{
	return fgb_rank(v, n, 0.5);
}

void *fgb_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		abort();
	return p;
}

double fgb_clock_ns(unsigned iters)
{
	uint64_t t0 = fg__now_ns(), sink = 0;
	unsigned i;

	for (i = 0; i < iters; i++)
		sink += fg__now_ns();
	__asm__ __volatile__("" ::"r"(sink));
	return (double)(fg__now_ns() - t0) / iters;
}

double fgb_cas_limit_ns(struct fgb_pair16 *p, unsigned iters)
{
	typedef unsigned __int128 u128;
	const uint64_t T = 1, tau = UINT64_C(1) << 40;
	uint64_t t0 = fg__now_ns();
	unsigned i;

	for (i = 0; i < iters; i++) {
		uint64_t now = fg__now_ns(), next;
		u128 old = ((u128)p->consumed << 64) | p->tat, nw;

		if (!fg__gcra_take(p->tat, now, T, tau, 1, &next))
			next = p->tat;
		nw = ((u128)(p->consumed + 1) << 64) | next;
		(void)__sync_val_compare_and_swap((u128 *)(void *)p, old, nw);
	}
	return (double)(fg__now_ns() - t0) / iters;
}

void fgb_chase_build(uint64_t *buf, uint64_t n)
{
	uint64_t *perm = malloc(n * sizeof *perm), i;

	if (perm == NULL)
		abort();
	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--) {
		uint64_t j = fgb_rnd() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < n; i++)
		buf[perm[i] * 8] = perm[(i + 1) % n];
	free(perm);
}

double fgb_random_read_ns(const uint64_t *buf, uint64_t *at, unsigned iters)
{
	uint64_t t0 = fg__now_ns(), next = *at, sink = 0;
	unsigned i;

	for (i = 0; i < iters; i++) {
		sink += fg__now_ns();
		next = buf[next * 8];
	}
	__asm__ __volatile__("" ::"r"(sink));
	*at = next;
	return (double)(fg__now_ns() - t0) / iters;
}
