/* SPDX-License-Identifier: ISC */
/*
 * test_gcra.c - the bucket math of shm/gcra.h, against a token bucket kept
 * the textbook way.
 *
 * The reference keeps a level L in token-nanoseconds (tokens times T),
 * capped at tau = C*T, and the time of its last update:
 *
 *     refill   L = min(tau, L + (t - last))
 *     take n   iff L >= n*T, then L -= n*T
 *     debit n  L -= n*T (may go below zero; TAT - t capped at max_debt)
 *     remaining floor(L / T), 0 when L <= 0
 *     wait n   n*T - L when L < n*T, else 0
 *     reset    tau - L
 *
 * It is computed in 128-bit integers, so it cannot overflow where the
 * 64-bit GCRA might.  Pure math: no segment, no clock.
 */
#include "tests/helpers.h"

#include <inttypes.h>
#include <stdarg.h>

#include "shm/clock.h"
#include "shm/gcra.h"

typedef __int128 i128;

/* ----------------------------------------------------------- reference */

struct ref {
	i128 level; /* token-ns */
	uint64_t last;
	uint64_t T, tau;
};

static void ref_init(struct ref *r, uint64_t T, uint64_t tau, uint64_t now)
{
	r->level = tau; /* a key seen for the first time: full */
	r->last = now;
	r->T = T;
	r->tau = tau;
}

static void ref_refill(struct ref *r, uint64_t now)
{
	r->level += (i128)(now - r->last);
	if (r->level > (i128)r->tau)
		r->level = r->tau;
	r->last = now;
}

static int ref_take(struct ref *r, uint64_t n)
{
	i128 need = (i128)n * r->T;

	if (r->level < need)
		return 0;
	r->level -= need;
	return 1;
}

static void ref_debit(struct ref *r, uint64_t n, uint64_t max_debt)
{
	/* TAT - t is tau - L: the debit may deepen it up to max_debt */
	i128 floor_level = (i128)r->tau - (i128)max_debt;
	i128 next;

	if ((i128)r->tau - r->level >= (i128)max_debt)
		return;
	next = r->level - (i128)n * r->T;
	r->level = next < floor_level ? floor_level : next;
}

static uint64_t ref_remaining(const struct ref *r)
{
	return r->level <= 0 ? 0 : (uint64_t)(r->level / r->T);
}

static uint64_t ref_wait(const struct ref *r, uint64_t n)
{
	i128 need = (i128)n * r->T;

	return r->level >= need ? 0 : (uint64_t)(need - r->level);
}

static uint64_t ref_reset(const struct ref *r)
{
	return (uint64_t)((i128)r->tau - r->level);
}

/* ----------------------------------------------------------- random */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* uniform in [lo, hi] (close enough: the bias does not matter here) */
static uint64_t rnd_in(uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo;

	if (span == UINT64_MAX)
		return rnd();
	return lo + rnd() % (span + 1);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A (C, T) pair of the kinds rules produce, always with C*T <= FG_TAU_MAX. */
static void rnd_rule(uint64_t *C, uint64_t *T)
{
	uint64_t t, c, cmax;

	switch (rnd() % 8) {
	case 0:
		t = 1; /* a million tokens per ms */
		break;
	case 1:
		t = rnd_in(1, 1000);
		break;
	case 2:
		t = 200000000; /* the seed rule: 5 per 1000 ms */
		break;
	case 3: /* as fg_rule_set derives it: ceil(period / rate) */
	{
		uint64_t period_ns = rnd_in(1, UINT32_MAX) * 1000000u;
		uint64_t rate = rnd_in(1, min_u64(UINT32_MAX, period_ns));

		t = (period_ns + rate - 1) / rate;
		break;
	}
	case 4:
		t = rnd_in(1, UINT64_C(1000000000000));
		break;
	case 5:
		t = FG_TAU_MAX; /* C must be 1 */
		break;
	case 6:
		t = rnd_in(FG_TAU_MAX / 1024, FG_TAU_MAX);
		break;
	default:
		t = UINT64_C(1) << rnd_in(0, 56);
		break;
	}
	cmax = FG_TAU_MAX / t;
	switch (rnd() % 6) {
	case 0:
		c = 1;
		break;
	case 1:
		c = rnd_in(1, min_u64(cmax, 100));
		break;
	case 2:
		c = rnd_in(1, min_u64(cmax, UINT32_MAX));
		break;
	case 3:
		c = cmax; /* the largest burst window a rule may have */
		break;
	case 4:
		c = rnd_in(1, cmax);
		break;
	default:
		c = min_u64(cmax, 5);
		break;
	}
	*C = c;
	*T = t;
}

static uint64_t rnd_cost(uint64_t C)
{
	switch (rnd() % 10) {
	case 0:
	case 1:
	case 2:
	case 3:
		return 1;
	case 4:
	case 5:
	case 6:
		return rnd_in(1, C);
	case 7:
		return C;
	case 8:
		return rnd_in(1, min_u64(C, 4));
	default:
		/* above capacity: never admitted; the math must hold */
		return C + rnd_in(1, C);
	}
}

static uint64_t rnd_advance(uint64_t T, uint64_t tau, uint64_t wait,
                            uint64_t reset)
{
	switch (rnd() % 16) {
	case 0:
	case 1:
	case 2:
	case 3:
		return 0;
	case 4:
	case 5:
	case 6:
		return rnd_in(0, T - 1);
	case 7:
	case 8: /* whole intervals, give or take 1 ns */
	{
		uint64_t k = rnd_in(1, 3) * T;

		return k + rnd_in(0, 2) - 1;
	}
	case 9:
		return rnd_in(0, 3 * T);
	case 10:
		return wait; /* a client that retries exactly when told */
	case 11:
		return wait > 0 ? wait - 1 : 0; /* ... or 1 ns too early */
	case 12:
		return reset; /* until full */
	case 13:
		return reset + rnd_in(0, 10);
	default:
		return rnd_in(0, tau);
	}
}

static uint64_t rnd_max_debt(uint64_t tau)
{
	switch (rnd() % 6) {
	case 0:
		return tau;
	case 1:
		return 2 * tau;
	case 2:
		return 8 * tau;
	case 3:
		return rnd_in(0, 4 * tau);
	case 4:
		return 0;
	default:
		return rnd_in(tau, 8 * tau);
	}
}

static uint64_t rnd_debit_cost(uint64_t C)
{
	switch (rnd() % 4) {
	case 0:
		return 1;
	case 1:
		return rnd_in(1, C);
	case 2:
		return rnd_in(1, 3 * C);
	default:
		return rnd(); /* an absurd remote figure */
	}
}

/* ----------------------------------------------------------- checks */

/* Criterion reports every assertion it evaluates; a million steps only
 * report the ones that fail. */
__attribute__((format(printf, 4, 5))) static void
check_failed(const char *what, uint64_t got, uint64_t want, const char *fmt,
             ...)
{
	char ctx[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	cr_assert_fail("%s = %" PRIu64 ", want %" PRIu64 ": %s", what, got,
	               want, ctx);
}

#define CHECK_EQ(a, b, ...)                                                    \
	do {                                                                   \
		uint64_t a_ = (a), b_ = (b);                                   \
		if (a_ != b_)                                                  \
			check_failed(#a, a_, b_, __VA_ARGS__);                 \
	} while (0)

#define CTX_FMT                                                                \
	"trace %u step %u C=%" PRIu64 " T=%" PRIu64 " tat=%" PRIu64            \
	" now=%" PRIu64 " cost=%" PRIu64 " seed=%" PRIu64
#define CTX_ARGS trace, step, C, T, tat, now, cost, seed
#define CTX      CTX_FMT, CTX_ARGS

/* Above this (292 years of uptime) the trace stops: tat + max_debt
 * (at most 2^59 here) must stay below 2^64. */
#define NOW_LIMIT (UINT64_C(1) << 63)

/* What a trace exercised, so that a trace that tests nothing fails. */
struct coverage {
	uint64_t steps, allowed, denied, debits, in_debt, full, capped;
};

/* Traces of up to @nsteps steps, each on a new random rule, until @total
 * steps were made (a trace stops early when its clock nears 2^63). */
static void run_traces(uint64_t seed, unsigned nsteps, uint64_t total,
                       struct coverage *cov)
{
	unsigned trace, step;

	rng_state = seed;
	for (trace = 0; cov->steps + cov->debits < total; trace++) {
		uint64_t C, T, tau, tat, now, cost = 0;
		uint64_t wait = 0, reset = 0, inv;
		struct ref r;

		rnd_rule(&C, &T);
		tau = C * T;
		inv = fg__recip(T);
		now = rnd_in(0, UINT64_C(1) << 56);
		/* a new slot has tat 0; a reused one may hold any past time */
		tat = rnd() % 2 ? 0 : rnd_in(0, now);
		ref_init(&r, T, tau, now);

		for (step = 0; step < nsteps; step++) {
			uint64_t adv = rnd_advance(T, tau, wait, reset);
			uint64_t next = 0, rem;
			int ok, want;

			if (now + adv > NOW_LIMIT)
				break;
			now += adv;
			ref_refill(&r, now);

			if (rnd() % 32 == 0) {
				uint64_t n = rnd_debit_cost(C);
				uint64_t max_debt = rnd_max_debt(tau);

				cost = n;
				tat = fg__gcra_debit(tat, now, T, n, max_debt);
				ref_debit(&r, n, max_debt);
				cov->debits++;
				cov->capped += tat - now == max_debt;
				CHECK_EQ(fg__gcra_reset(tat, now),
				         ref_reset(&r),
				         "after debit, " CTX_FMT
				         " max_debt=%" PRIu64,
				         CTX_ARGS, max_debt);
				CHECK_EQ(fg__gcra_remaining(tat, now, T, tau),
				         ref_remaining(&r),
				         "after debit, " CTX);
				CHECK_EQ(fg__gcra_remaining_inv(tat, now, T,
				                                inv, tau),
				         ref_remaining(&r),
				         "after debit, " CTX);
				continue;
			}

			cost = rnd_cost(C);
			cov->steps++;
			cov->in_debt += r.level < 0;
			cov->full += r.level == (i128)tau;
			/* the state the check sees */
			rem = fg__gcra_remaining(tat, now, T, tau);
			CHECK_EQ(rem, ref_remaining(&r), "before, " CTX);
			CHECK_EQ(fg__gcra_remaining_inv(tat, now, T, inv, tau),
			         rem, "before, " CTX);
			CHECK_EQ(fg__gcra_reset(tat, now), ref_reset(&r),
			         "before, " CTX);
			wait = fg__gcra_wait(tat, now, T, tau, cost);
			CHECK_EQ(wait, ref_wait(&r, cost), CTX);

			ok = fg__gcra_take(tat, now, T, tau, cost, &next);
			want = ref_take(&r, cost);
			CHECK_EQ(ok, want, "decision, " CTX);
			cov->allowed += ok;
			cov->denied += !ok;
			/* whole tokens and the decision agree */
			CHECK_EQ(ok, rem >= cost, CTX_FMT " remaining=%" PRIu64,
			         CTX_ARGS, rem);
			/* denied exactly when there is something to wait for */
			CHECK_EQ(ok, wait == 0, CTX_FMT " wait=%" PRIu64,
			         CTX_ARGS, wait);
			if (!ok) {
				uint64_t dummy;

				/* retrying when told works, 1 ns early not */
				CHECK_EQ(fg__gcra_take(tat, now + wait, T, tau,
				                       cost, &dummy),
				         cost <= C, "retry at wait, " CTX);
				CHECK_EQ(fg__gcra_take(tat, now + wait - 1, T,
				                       tau, cost, &dummy),
				         0, "retry 1 ns early, " CTX);
			} else {
				tat = next;
			}
			/* what fg_allow() reports after the check */
			CHECK_EQ(fg__gcra_remaining(tat, now, T, tau),
			         ref_remaining(&r), "after, " CTX);
			CHECK_EQ(fg__gcra_remaining_inv(tat, now, T, inv, tau),
			         ref_remaining(&r), "after, " CTX);
			reset = fg__gcra_reset(tat, now);
			CHECK_EQ(reset, ref_reset(&r), "after, " CTX);
			CHECK_EQ(reset <= tau || !ok, 1, "reset > tau, " CTX);
		}
	}
}

TestSuite(gcra, .timeout = 30);

/* ------------------------------------------------------ unit examples */

#define MS UINT64_C(1000000)

/* The seed example: 5 per 1000 ms, T = 200 ms, tau = 1000 ms. */
Test(gcra, seed_rule_bursts_five_then_denies_with_retry_200ms)
{
	const uint64_t T = 200 * MS, tau = 5 * T;
	uint64_t tat = 0, now = 5000 * MS, next;
	unsigned i;

	cr_assert_eq(fg__gcra_remaining(tat, now, T, tau), 5);
	cr_assert_eq(fg__gcra_reset(tat, now), 0);
	for (i = 1; i <= 5; i++) {
		cr_assert(fg__gcra_take(tat, now, T, tau, 1, &next),
		          "request %u of the burst", i);
		tat = next;
		cr_assert_eq(fg__gcra_remaining(tat, now, T, tau), 5 - i);
		cr_assert_eq(fg__gcra_reset(tat, now), i * T);
	}
	cr_assert_not(fg__gcra_take(tat, now, T, tau, 1, &next),
	              "sixth request of the burst admitted");
	cr_assert_eq(fg__gcra_wait(tat, now, T, tau, 1), 200 * MS);
	cr_assert_eq(fg__ns_to_ms_ceil(fg__gcra_wait(tat, now, T, tau, 1)),
	             200);
	cr_assert_eq(fg__ns_to_ms_ceil(fg__gcra_reset(tat, now)), 1000);
	/* two tokens: 400 ms */
	cr_assert_eq(fg__gcra_wait(tat, now, T, tau, 2), 400 * MS);

	/* 1 ns short of the retry time: still nothing, 1 ns to wait */
	cr_assert_not(fg__gcra_take(tat, now + T - 1, T, tau, 1, &next));
	cr_assert_eq(fg__gcra_remaining(tat, now + T - 1, T, tau), 0);
	cr_assert_eq(fg__gcra_wait(tat, now + T - 1, T, tau, 1), 1);
	cr_assert_eq(fg__ns_to_ms_ceil(1), 1, "a retry is never 0 ms early");

	/* after 200 ms one token is back, and only one */
	now += T;
	cr_assert_eq(fg__gcra_remaining(tat, now, T, tau), 1);
	cr_assert_eq(fg__gcra_wait(tat, now, T, tau, 1), 0);
	cr_assert(fg__gcra_take(tat, now, T, tau, 1, &next));
	tat = next;
	cr_assert_not(fg__gcra_take(tat, now, T, tau, 1, &next));
	cr_assert_eq(fg__gcra_wait(tat, now, T, tau, 1), 200 * MS);

	/* 1000 ms later the bucket is full again: five, not more */
	now += 1000 * MS;
	cr_assert_eq(fg__gcra_remaining(tat, now, T, tau), 5);
	cr_assert_eq(fg__gcra_reset(tat, now), 0);
	now += 3600000 * MS;
	cr_assert_eq(fg__gcra_remaining(tat, now, T, tau), 5,
	             "the bucket never holds more than its capacity");
}

Test(gcra, cost_equal_to_capacity_empties_full_bucket_and_above_never_passes)
{
	const uint64_t T = 200 * MS, tau = 5 * T;
	uint64_t now = 1000 * MS, next;

	cr_assert_not(fg__gcra_take(0, now, T, tau, 6, &next));
	cr_assert_eq(fg__gcra_wait(0, now, T, tau, 6), T,
	             "the arithmetic wait for C+1 tokens is one interval");
	cr_assert(fg__gcra_take(0, now, T, tau, 5, &next));
	cr_assert_eq(next, now + tau);
	cr_assert_eq(fg__gcra_remaining(next, now, T, tau), 0);
	cr_assert_eq(fg__gcra_reset(next, now), tau);
	cr_assert_eq(fg__gcra_wait(next, now, T, tau, 5), tau);
	cr_assert(fg__gcra_take(next, now + tau, T, tau, 5, &next));
}

Test(gcra, partial_interval_gives_no_token)
{
	const uint64_t T = 3, tau = 2 * T;
	uint64_t tat = 0, now = 100, next;

	cr_assert(fg__gcra_take(tat, now, T, tau, 2, &next));
	tat = next; /* empty */
	cr_assert_eq(fg__gcra_remaining(tat, now + 2, T, tau), 0);
	cr_assert_eq(fg__gcra_wait(tat, now + 2, T, tau, 1), 1);
	cr_assert_not(fg__gcra_take(tat, now + 2, T, tau, 1, &next));
	cr_assert_eq(fg__gcra_remaining(tat, now + 3, T, tau), 1);
	cr_assert(fg__gcra_take(tat, now + 3, T, tau, 1, &next));
	cr_assert_eq(fg__gcra_remaining(tat, now + 5, T, tau), 1);
	cr_assert_eq(fg__gcra_remaining(tat, now + 6, T, tau), 2);
}

Test(gcra, bucket_idle_for_long_is_full_whatever_its_old_tat)
{
	const uint64_t T = 7, tau = 10 * T;

	cr_assert_eq(fg__gcra_remaining(0, UINT64_C(1) << 60, T, tau), 10);
	cr_assert_eq(fg__gcra_remaining(1000, 1000, T, tau), 10);
	cr_assert_eq(fg__gcra_reset(1000, 1000), 0);
	cr_assert_eq(fg__gcra_wait(999, 1000, T, tau, 10), 0);
}

Test(gcra, debit_puts_bucket_in_debt_repaid_by_refill)
{
	const uint64_t T = 200 * MS, tau = 5 * T;
	uint64_t tat = 0, now = 10000 * MS, next;

	/* a remote host consumed 8: three tokens of debt below empty */
	tat = fg__gcra_debit(tat, now, T, 8, 10 * tau);
	cr_assert_eq(tat, now + 8 * T);
	cr_assert_eq(fg__gcra_remaining(tat, now, T, tau), 0);
	cr_assert_eq(fg__gcra_reset(tat, now), 1600 * MS);
	cr_assert_eq(fg__gcra_wait(tat, now, T, tau, 1), 800 * MS,
	             "three tokens of debt, then one token");
	cr_assert_not(fg__gcra_take(tat, now + 800 * MS - 1, T, tau, 1, &next));
	cr_assert_eq(fg__gcra_remaining(tat, now + 799 * MS, T, tau), 0);
	cr_assert(fg__gcra_take(tat, now + 800 * MS, T, tau, 1, &next));
	cr_assert_eq(fg__gcra_remaining(tat, now + 800 * MS, T, tau), 1);

	/* a debit on a bucket that has refilled past full starts from now */
	tat = fg__gcra_debit(0, now, T, 1, tau);
	cr_assert_eq(tat, now + T);
	cr_assert_eq(fg__gcra_remaining(tat, now, T, tau), 4);
}

Test(gcra, debit_is_capped_at_max_debt)
{
	const uint64_t T = 200 * MS, tau = 5 * T, cap = 2 * tau;
	const uint64_t now = 10000 * MS;

	/* exactly to the cap, and one token past it */
	cr_assert_eq(fg__gcra_debit(0, now, T, 10, cap), now + cap);
	cr_assert_eq(fg__gcra_debit(0, now, T, 11, cap), now + cap);
	cr_assert_eq(fg__gcra_debit(0, now, T, 9, cap), now + 9 * T);
	/* an absurd remote figure: capped, no wrap-around */
	cr_assert_eq(fg__gcra_debit(0, now, T, UINT64_MAX, cap), now + cap);
	cr_assert_eq(fg__gcra_debit(now + T, now, T, UINT64_MAX / T + 1, cap),
	             now + cap);
	/* cost*T would overflow 64 bits */
	cr_assert_eq(fg__gcra_debit(0, now, FG_TAU_MAX, UINT64_C(1) << 10,
	                            2 * FG_TAU_MAX),
	             now + 2 * FG_TAU_MAX);
	/* already at or beyond the cap: left where it is, never lowered */
	cr_assert_eq(fg__gcra_debit(now + cap, now, T, 1, cap), now + cap);
	cr_assert_eq(fg__gcra_debit(now + 3 * cap, now, T, 1, cap),
	             now + 3 * cap);
	/* the cap applies from where the debt already is */
	cr_assert_eq(fg__gcra_debit(now + cap - T, now, T, 1, cap), now + cap);
	cr_assert_eq(fg__gcra_debit(now + cap - T, now, T, 2, cap), now + cap);
	cr_assert_eq(fg__gcra_debit(now + cap - 2 * T, now, T, 1, cap),
	             now + cap - T);
	/* max_debt 0: no debt at all, but a past tat moves to now */
	cr_assert_eq(fg__gcra_debit(0, now, T, 3, 0), now);
	cr_assert_eq(fg__gcra_debit(now + T, now, T, 3, 0), now + T);
}

Test(gcra, debit_cap_holds_over_random_inputs)
{
	unsigned i;

	rng_state = 42;
	for (i = 0; i < 1000000; i++) {
		uint64_t C, T, tau, now, tat, cost, max_debt, base, got;

		rnd_rule(&C, &T);
		tau = C * T;
		now = rnd_in(0, UINT64_C(1) << 60);
		max_debt = rnd_max_debt(tau);
		tat = now + rnd_in(0, 2 * max_debt + 1) - rnd_in(0, now);
		cost = rnd_debit_cost(C);
		base = tat > now ? tat : now;
		got = fg__gcra_debit(tat, now, T, cost, max_debt);
		if (got < base)
			cr_assert_fail("debit refunded: tat %" PRIu64
			               " -> %" PRIu64 " (now %" PRIu64 ")",
			               tat, got, now);
		if (got - now > max_debt && got != base)
			cr_assert_fail("debit past the cap: %" PRIu64
			               " - now > %" PRIu64,
			               got, max_debt);
		if (base - now < max_debt &&
		    cost <= (max_debt - (base - now)) / T)
			CHECK_EQ(got, base + cost * T, "uncapped debit");
	}
}

Test(gcra, largest_burst_window_does_not_overflow)
{
	uint64_t next, now = UINT64_C(1) << 58;

	/* T = 1 ns, C = 2^56 */
	cr_assert_eq(fg__gcra_remaining(0, now, 1, FG_TAU_MAX), FG_TAU_MAX);
	cr_assert(fg__gcra_take(0, now, 1, FG_TAU_MAX, FG_TAU_MAX, &next));
	cr_assert_eq(next, now + FG_TAU_MAX);
	cr_assert_eq(fg__gcra_remaining(next, now, 1, FG_TAU_MAX), 0);
	cr_assert_eq(fg__gcra_wait(next, now, 1, FG_TAU_MAX, FG_TAU_MAX),
	             FG_TAU_MAX);
	/* T = 2^56, C = 1 */
	cr_assert(fg__gcra_take(0, now, FG_TAU_MAX, FG_TAU_MAX, 1, &next));
	cr_assert_not(fg__gcra_take(next, now + FG_TAU_MAX - 1, FG_TAU_MAX,
	                            FG_TAU_MAX, 1, &next));
	cr_assert_eq(
	    fg__gcra_remaining(next, now + FG_TAU_MAX, FG_TAU_MAX, FG_TAU_MAX),
	    1);
}

/* fg__div(x, d, fg__recip(d)) is x / d: the request path's division. */
static void div_check(uint64_t x, uint64_t d)
{
	uint64_t inv = fg__recip(d);
	uint64_t est = (uint64_t)(((unsigned __int128)x * inv) >> 64);

	CHECK_EQ(fg__div(x, d, inv), x / d, "x=%" PRIu64 " d=%" PRIu64, x, d);
	/* the estimate is never above the quotient, and at most 2 below */
	if (est > x / d || x / d - est > 2)
		cr_assert_fail("x=%" PRIu64 " d=%" PRIu64 ": estimate %" PRIu64
		               ", quotient %" PRIu64,
		               x, d, est, x / d);
}

Test(gcra, division_by_reciprocal_is_exact)
{
	static const uint64_t ds[] = {
	    1,
	    2,
	    3,
	    7,
	    10,
	    1000000,
	    200000000,
	    333334,
	    UINT32_MAX,
	    UINT64_C(1) << 32,
	    (UINT64_C(1) << 32) + 1,
	    FG_TAU_MAX - 1,
	    FG_TAU_MAX,
	    UINT64_C(1) << 63,
	    (UINT64_C(1) << 63) + 1,
	    UINT64_MAX - 1,
	    UINT64_MAX,
	};
	unsigned i, k;

	for (i = 0; i < sizeof ds / sizeof ds[0]; i++) {
		uint64_t d = ds[i];

		div_check(0, d);
		div_check(1, d);
		div_check(d - 1, d);
		div_check(d, d);
		div_check(UINT64_MAX, d);
		div_check(UINT64_MAX - 1, d);
		div_check(FG_TAU_MAX, d);
		for (k = 1; k < 1000; k++) {
			if (d > UINT64_MAX / (k + 1))
				break;
			div_check(k * d - 1, d);
			div_check(k * d, d);
			div_check(k * d + 1, d);
		}
	}
	rng_state = 7;
	for (i = 0; i < 2000000; i++) {
		uint64_t d = rnd() >> (rnd() % 64), x = rnd() >> (rnd() % 64);

		div_check(x, d ? d : 1);
	}
}

Test(gcra, ms_rounding_is_upward)
{
	cr_assert_eq(fg__ns_to_ms_ceil(0), 0);
	cr_assert_eq(fg__ns_to_ms_ceil(1), 1);
	cr_assert_eq(fg__ns_to_ms_ceil(999999), 1);
	cr_assert_eq(fg__ns_to_ms_ceil(1000000), 1);
	cr_assert_eq(fg__ns_to_ms_ceil(1000001), 2);
	cr_assert_eq(fg__ns_to_ms_ceil(UINT64_MAX), UINT64_MAX / 1000000 + 1);
}

/* ------------------------------------------------------ random traces */

static void coverage_check(const struct coverage *c, uint64_t steps)
{
	cr_log_info("%" PRIu64 " checks: %" PRIu64 " allowed, %" PRIu64
	            " denied, %" PRIu64 " in debt, %" PRIu64 " on a full "
	            "bucket; %" PRIu64 " debits, %" PRIu64 " capped",
	            c->steps, c->allowed, c->denied, c->in_debt, c->full,
	            c->debits, c->capped);
	cr_assert_geq(c->steps + c->debits, steps);
	cr_assert_geq(c->allowed, c->steps / 10);
	cr_assert_geq(c->denied, c->steps / 10);
	cr_assert_geq(c->in_debt, c->steps / 100);
	cr_assert_geq(c->full, c->steps / 20);
	cr_assert_geq(c->debits, c->steps / 100);
	cr_assert_geq(c->capped, c->debits / 20);
}

/* Random rules x 500 steps: a million checks against the reference. */
Test(gcra, matches_reference_bucket_over_million_random_steps)
{
	struct coverage cov = {0};

	run_traces(UINT64_C(0x5eed0001), 500, 1000000, &cov);
	coverage_check(&cov, 1000000);
}

/* Many short lives: each trace starts from a fresh (or reused) slot. */
Test(gcra, matches_reference_bucket_over_many_short_traces)
{
	struct coverage cov = {0};

	run_traces(UINT64_C(0x5eed0002), 10, 1000000, &cov);
	coverage_check(&cov, 1000000);
}

/* Each rule kind alone, so a failure names the kind. */
Test(gcra, matches_reference_with_one_ns_interval)
{
	unsigned trace;

	for (trace = 0; trace < 200; trace++) {
		uint64_t seed = UINT64_C(0x7e570000) + trace;
		uint64_t C =
		    trace == 0 ? FG_TAU_MAX : (seed * 2654435761u) % 1000 + 1;
		uint64_t T = 1, tau = C * T, tat = 0, now = 1000, cost = 0;
		unsigned step;
		struct ref r;

		rng_state = seed;
		ref_init(&r, T, tau, now);
		for (step = 0; step < 2000; step++) {
			uint64_t next = 0;
			int ok;

			now += rnd_in(0, 3);
			ref_refill(&r, now);
			cost = rnd_in(1, min_u64(C, 3));
			CHECK_EQ(fg__gcra_wait(tat, now, T, tau, cost),
			         ref_wait(&r, cost), CTX);
			ok = fg__gcra_take(tat, now, T, tau, cost, &next);
			CHECK_EQ(ok, ref_take(&r, cost), CTX);
			if (ok)
				tat = next;
			CHECK_EQ(fg__gcra_remaining(tat, now, T, tau),
			         ref_remaining(&r), CTX);
			CHECK_EQ(fg__gcra_reset(tat, now), ref_reset(&r), CTX);
		}
	}
}
