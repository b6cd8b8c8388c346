/* SPDX-License-Identifier: ISC */
/*
 * gcra.h - the token bucket in one word.
 *
 * A token bucket of capacity C tokens refilled one token every T ns holds,
 * at time t, L(t) token-nanoseconds (tokens times T), capped at tau = C*T.
 * GCRA (the generic cell rate algorithm, virtual scheduling form) keeps
 * instead the theoretical arrival time TAT, related to the level by
 *
 *     L(t) = tau - max(0, TAT - t)
 *
 * Refill is implicit: as t grows the difference shrinks, and once t passes
 * TAT the bucket is full (the cap is the max(0, .)).  Taking n tokens,
 * allowed iff L(t) >= n*T, is
 *
 *     max(TAT, t) + n*T - t <= tau   then   TAT <- max(TAT, t) + n*T
 *
 * and whole tokens remaining are floor(L(t) / T).  tests/test_gcra.c
 * checks every function below against a bucket kept the textbook way, over
 * long random traces.  Everything is integer nanoseconds: nothing drifts.
 *
 * A debit (consumption reported by another host, applied by the daemon)
 * is the same step without the test: the level may go below zero, and the
 * debt is repaid by refill before this host admits again.
 */
#ifndef FG_SHM_GCRA_H
#define FG_SHM_GCRA_H

#include <stdint.h>

/* Largest tau (C*T) a rule may have: keeps every sum below 2^63 for
 * centuries of monotonic time. */
#define FG_TAU_MAX (UINT64_C(1) << 56)

static inline uint64_t fg__gcra_base(uint64_t tat, uint64_t now)
{
	return tat > now ? tat : now;
}

/* 1 and *next when @cost tokens are there at @now; 0 otherwise. */
static inline int fg__gcra_take(uint64_t tat, uint64_t now, uint64_t T,
                                uint64_t tau, uint64_t cost, uint64_t *next)
{
	uint64_t n = fg__gcra_base(tat, now) + cost * T;

	if (n - now > tau)
		return 0;
	*next = n;
	return 1;
}

/*
 * Division by a rule's T without a div instruction (up to 40 cycles, a
 * quarter of a check's budget): @inv = fg__recip(T) is computed when the
 * rule is read; the estimate mulhi(x, inv) is at most 2 below the
 * quotient, and the correction makes it exact.
 */
static inline uint64_t fg__recip(uint64_t d)
{
	return UINT64_MAX / d;
}

static inline uint64_t fg__div(uint64_t x, uint64_t d, uint64_t inv)
{
	uint64_t q = (uint64_t)(((unsigned __int128)x * inv) >> 64);
	uint64_t r = x - q * d;

	while (r >= d) {
		q++;
		r -= d;
	}
	return q;
}

/* Whole tokens available at @now (0 while in debt). */
static inline uint64_t fg__gcra_remaining(uint64_t tat, uint64_t now,
                                          uint64_t T, uint64_t tau)
{
	uint64_t debt = tat > now ? tat - now : 0;

	return debt >= tau ? 0 : (tau - debt) / T;
}

/* The same, for the request path; @inv = fg__recip(T). */
static inline uint64_t fg__gcra_remaining_inv(uint64_t tat, uint64_t now,
                                              uint64_t T, uint64_t inv,
                                              uint64_t tau)
{
	uint64_t debt = tat > now ? tat - now : 0;

	return debt >= tau ? 0 : fg__div(tau - debt, T, inv);
}

/* ns until @cost tokens are there (0 if they are now). */
static inline uint64_t fg__gcra_wait(uint64_t tat, uint64_t now, uint64_t T,
                                     uint64_t tau, uint64_t cost)
{
	uint64_t n = fg__gcra_base(tat, now) + cost * T;

	return n - now > tau ? n - now - tau : 0;
}

/* ns until the bucket is full. */
static inline uint64_t fg__gcra_reset(uint64_t tat, uint64_t now)
{
	return tat > now ? tat - now : 0;
}

/* TAT after a debit of @cost tokens, with TAT - now capped at @max_debt ns
 * (the daemon's guard against absurd remote figures). */
static inline uint64_t fg__gcra_debit(uint64_t tat, uint64_t now, uint64_t T,
                                      uint64_t cost, uint64_t max_debt)
{
	uint64_t base = fg__gcra_base(tat, now);
	uint64_t room = now + max_debt - base;

	if (base - now >= max_debt)
		return base;
	if (cost > room / T)
		return now + max_debt;
	return base + cost * T;
}

#endif
