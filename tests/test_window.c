/* SPDX-License-Identifier: ISC */
/*
 * test_window.c - rules of the fixed- and sliding-window algorithms
 * (shm/window.h, lib/window.c), from the config to the segment.
 *
 * The decision tables are written from the definitions (window.h):
 *
 *     fixed     admit n iff cur + n <= L; remaining L - cur;
 *               retry-after: the end of the window; reset: the same
 *               while anything is counted
 *     sliding   admit n iff prev * (W - e) / W + cur + n <= L;
 *               remaining floor(L - cur - prev * (W - e) / W);
 *               retry-after: the first instant the inequality holds;
 *               reset: the end of the next window while cur > 0, of
 *               this one while only prev is
 *
 * and the bucket math is checked again against a reference that keeps
 * every window's count, over random traces.  Times are chosen by the
 * tests (fg_allow_at()), in windows after the clock's, so every figure is
 * exact.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "daemon/config.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/scan.h"
#include "shm/table.h"
#include "shm/window.h"
#include "tests/policies.h"
#include "tests/procs.h"

TestSuite(window, .timeout = 60, .fini = pol_unlink);

#define W_MS 1000u
#define W_NS ((uint64_t)W_MS * MS)

/* The start of a window well after the clock's: times of the tests. */
static uint64_t future_window(uint64_t w_ns)
{
	return (fg__now_ns() / w_ns + 100) * w_ns;
}

static fg_client *window_rule(const char *tag, uint32_t flags, uint32_t limit,
                              uint32_t period_ms)
{
	fg_client *c = pol_create(tag, 256);
	fg_rule r = {.name = "win",
	             .capacity = limit,
	             .rate = limit,
	             .period_ms = period_ms,
	             .flags = flags};

	cr_assert_eq(fg_rule_set(c, &r), 0);
	return c;
}

/* One line of a decision table: at t0 + at_ms, a check of cost. */
struct row {
	unsigned at_ms;
	uint32_t cost;
	int admitted;
	uint32_t remaining, retry_ms, reset_ms;
};

static void play(fg_client *c, uint64_t t0, const struct row *rows, size_t n,
                 uint32_t limit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct row *x = &rows[i];
		fg_decision d;
		int r = fg_allow_at(c, "win", "k", x->cost,
		                    t0 + (uint64_t)x->at_ms * MS, &d);

		cr_expect_eq(r, x->admitted, "row %zu (t%u, %u): %d", i,
		             x->at_ms, x->cost, r);
		cr_expect_eq(d.limit, limit, "row %zu: limit", i);
		cr_expect_eq(d.remaining, x->remaining,
		             "row %zu (t%u): remaining %u, not %u", i, x->at_ms,
		             d.remaining, x->remaining);
		cr_expect_eq(d.retry_after_ms, x->retry_ms,
		             "row %zu (t%u): retry-after %u, not %u", i,
		             x->at_ms, d.retry_after_ms, x->retry_ms);
		cr_expect_eq(d.reset_ms, x->reset_ms,
		             "row %zu (t%u): reset %u, not %u", i, x->at_ms,
		             d.reset_ms, x->reset_ms);
	}
}

/* L = 3 a window of 1 s. */
Test(window, fixed_window_decides_by_the_count_of_its_window)
{
	static const struct row rows[] = {
	    {0, 1, 1, 2, 0, 1000},
	    {100, 1, 1, 1, 0, 900},
	    {200, 2, 0, 1, 800, 800}, /* 1 left: wait for the next window */
	    {300, 1, 1, 0, 0, 700},
	    {999, 1, 0, 0, 1, 1},
	    {1000, 3, 1, 0, 0, 1000}, /* a new window: all 3 */
	    {1000, 1, 0, 0, 1000, 1000},
	    {2500, 1, 1, 2, 0, 500}, /* window 1 said nothing about 2 */
	    {4000, 3, 1, 0, 0, 1000},
	};
	fg_client *c = window_rule("fixed", FG_RULE_FIXED_WINDOW, 3, W_MS);

	play(c, future_window(W_NS), rows, sizeof rows / sizeof rows[0], 3);
	pol_destroy(c);
}

/* L = 10 a window of 1 s; each expected figure from the definition. */
Test(window, sliding_window_weighs_the_previous_window_by_its_overlap)
{
	static const struct row rows[] = {
	    {0, 4, 1, 6, 0, 2000},
	    {500, 6, 1, 0, 0, 1500},
	    /* 10 now; at t1100 10 * 0.9 + 1 <= 10, at t1099 not */
	    {900, 1, 0, 0, 200, 1100},
	    /* window 1: prev 10 weighs 10; at t1100 it weighs 9 */
	    {1000, 1, 0, 0, 100, 1000},
	    /* prev weighs 7.5: 7.5 + 2 <= 10 */
	    {1250, 2, 1, 0, 0, 1750},
	    {1500, 3, 1, 0, 0, 1500}, /* 5 + 2 + 3 */
	    /* 5 + 5 = 10; at t1600 10 * 0.4 + 5 + 1 <= 10 */
	    {1500, 1, 0, 0, 100, 1500},
	    {2000, 5, 1, 0, 0, 2000}, /* prev 5 (window 1's) weighs 5 */
	    {2999, 1, 1, 3, 0, 1001}, /* 5 * 0.001 + 5 + 1 */
	    /* window 3: prev 6 weighs 0.006: 9 left; all 10 at t4000 */
	    {3999, 10, 0, 9, 1, 1},
	    {4000, 10, 1, 0, 0, 2000}, /* window 3 counted nothing */
	};
	fg_client *c = window_rule("slide", FG_RULE_SLIDING_WINDOW, 10, W_MS);

	play(c, future_window(W_NS), rows, sizeof rows / sizeof rows[0], 10);
	pol_destroy(c);
}

/* ------------------------------------------- bucket math, by reference */

/* A reference that keeps the count of every window (index from 0). */
#define REF_WINDOWS 64

struct ref {
	uint64_t W, L, t0;
	int slide;
	uint64_t count[REF_WINDOWS + 2];
};

/* Tokens counted against the limit at @t, times W (exact). */
static unsigned __int128 ref_used_w(const struct ref *r, uint64_t t)
{
	uint64_t n = (t - r->t0) / r->W, e = (t - r->t0) % r->W;
	unsigned __int128 u = (unsigned __int128)r->count[n] * r->W;

	if (r->slide && n > 0)
		u += (unsigned __int128)r->count[n - 1] * (r->W - e);
	return u;
}

static int ref_admits(const struct ref *r, uint64_t t, uint64_t cost)
{
	return ref_used_w(r, t) + (unsigned __int128)cost * r->W <=
	       (unsigned __int128)r->L * r->W;
}

static uint64_t ref_remaining(const struct ref *r, uint64_t t)
{
	unsigned __int128 u = ref_used_w(r, t);
	unsigned __int128 l = (unsigned __int128)r->L * r->W;

	return u >= l ? 0 : (uint64_t)((l - u) / r->W);
}

/* The first instant from @t at which @cost fits, by search. */
static uint64_t ref_wait(const struct ref *r, uint64_t t, uint64_t cost)
{
	uint64_t x;

	for (x = t; !ref_admits(r, x, cost); x++)
		;
	return x - t;
}

/* The time from @t until nothing counts any more: whether anything does
 * changes only where a window starts (W - e > 0 within one). */
static uint64_t ref_reset(const struct ref *r, uint64_t t)
{
	uint64_t m = (t - r->t0) / r->W;

	if (ref_used_w(r, t) == 0)
		return 0;
	while (ref_used_w(r, r->t0 + ++m * r->W) != 0)
		;
	return r->t0 + m * r->W - t;
}

static void trace(int slide, uint64_t W, uint64_t L, uint64_t seed)
{
	struct fg_win w = {.W = W,
	                   .inv = fg__recip(W),
	                   .limit = (uint32_t)L,
	                   .slide = (unsigned)slide};
	struct ref r = {.W = W, .L = L, .slide = slide};
	uint64_t tat = 0, t, end, rng = seed;

	r.t0 = future_window(W); /* id of window 0 of the reference */
	memset(r.count, 0, sizeof r.count);
	end = r.t0 + REF_WINDOWS * W;
	for (t = r.t0; t < end; t += 1 + xorshift(&rng) % (W / 3)) {
		uint64_t cost = 1 + xorshift(&rng) % L, next = 0;
		struct fg_win_at a;
		int ok = fg__win_take(&w, tat, t, cost, &a, &next);

		cr_assert_eq(
		    ok, ref_admits(&r, t, cost), "t0 + %llu: take %llu",
		    (unsigned long long)(t - r.t0), (unsigned long long)cost);
		if (ok) {
			r.count[(t - r.t0) / W] += cost;
			tat = next;
			cr_assert_eq(fg__win_remaining(&w, &a),
			             ref_remaining(&r, t));
			cr_assert_eq(fg__win_reset(&w, &a), ref_reset(&r, t),
			             "t0 + %llu: reset",
			             (unsigned long long)(t - r.t0));
		} else {
			cr_assert_eq(fg__win_wait(&w, &a, cost),
			             ref_wait(&r, t, cost), "t0 + %llu: wait",
			             (unsigned long long)(t - r.t0));
		}
		cr_assert_eq(fg__win_left(&w, tat, t),
		             (int64_t)ref_remaining(&r, t));
	}
}

Test(window, the_bucket_math_matches_a_count_of_every_window)
{
	uint64_t seed;

	for (seed = 1; seed <= 20; seed++) {
		trace(0, 997, 7, seed);
		trace(1, 997, 7, seed);
		trace(1, 1000, 1, seed);
		trace(1, 4096, 64, seed);
	}
}

/* ------------------------------------------------------- the library */

Test(window, a_window_rule_is_its_rates_n_with_no_delay)
{
	fg_client *c = pol_create("rules", 64);
	fg_rule r = {.name = "w", .capacity = 5, .rate = 5, .period_ms = 1000};
	fg_rule_info ri;

	r.flags = FG_RULE_FIXED_WINDOW | FG_RULE_SLIDING_WINDOW;
	cr_expect_eq(fg_rule_set(c, &r), FG_EINVAL, "both algorithms");
	r.flags = FG_RULE_FIXED_WINDOW;
	r.capacity = 6;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE, "capacity is not N");
	r.capacity = 5;
	r.max_delay_ms = 10;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE, "a window has no delay");
	r.max_delay_ms = 0;
	r.flags = FG_RULE_SLIDING_WINDOW;
	r.capacity = r.rate = FG_SLIDING_WINDOW_MAX + 1;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE, "past 20 bits");
	r.capacity = r.rate = FG_SLIDING_WINDOW_MAX;
	cr_expect_eq(fg_rule_set(c, &r), 0);
	r.flags = FG_RULE_FIXED_WINDOW;
	cr_expect_eq(fg_rule_set(c, &r), FG_EKIND, "its buckets are sliding");
	r.flags = 0;
	cr_expect_eq(fg_rule_set(c, &r), FG_EKIND, "nor a token bucket");
	r.flags = FG_RULE_SLIDING_WINDOW;
	r.capacity = r.rate = 7;
	cr_expect_eq(fg_rule_set(c, &r), 0, "a new limit is fine");
	cr_assert_eq(fg_rule_get(c, (uint32_t)pol_rule_index(c, "w"), &ri), 0);
	cr_expect_eq(ri.flags & (FG_RULE_SLIDING_WINDOW | FG_RULE_FIXED_WINDOW),
	             FG_RULE_SLIDING_WINDOW);
	cr_expect_eq(ri.capacity, 7);
	pol_destroy(c);
}

Test(window, fg_reserve_on_a_window_rule_answers_as_fg_allow_without_delay)
{
	fg_client *c = window_rule("reserve", FG_RULE_FIXED_WINDOW, 2, HOUR_MS);
	uint64_t delay = 7;
	fg_decision d;

	cr_expect_eq(fg_reserve(c, "win", "k", 2, &delay, &d), 1);
	cr_expect_eq(delay, 0);
	cr_expect_eq(d.remaining, 0);
	delay = 7;
	cr_expect_eq(fg_reserve(c, "win", "k", 1, &delay, &d), 0);
	cr_expect_eq(delay, 0);
	cr_expect_gt(d.retry_after_ms, 0);
	cr_expect_eq(pol_left(c, "win", "k"), 0, "the denial took nothing");
	pol_destroy(c);
}

/* The RateLimit fields of a window: its N a window of its period, and
 * the tokens back all at once when the window has passed (t). */
Test(window, ratelimit_headers_of_a_window_name_its_limit_and_its_end)
{
	fg_client *c = window_rule("headers", FG_RULE_FIXED_WINDOW, 5, 60000);
	uint64_t t0 = future_window(60000 * MS);
	char policy[128], rl[128];
	fg_decision d;

	cr_assert_eq(fg_allow_at(c, "win", "k", 3, t0 + 20500 * MS, &d), 1);
	cr_assert_eq(
	    fg_ratelimit_headers(c, &d, policy, sizeof policy, rl, sizeof rl),
	    0);
	cr_expect_str_eq(policy, "\"win\";q=5;w=60");
	cr_expect_str_eq(rl, "\"win\";r=2;t=40");
	pol_destroy(c);
}

/* A check whose clock reading is older than the window another process
 * moved the bucket into decides in that window: it never wipes its
 * counts by writing an older one. */
Test(window, an_older_clock_never_moves_a_window_back)
{
	fg_client *c = window_rule("older", FG_RULE_FIXED_WINDOW, 3, W_MS);
	uint64_t t0 = (fg__now_ns() / W_NS - 5) * W_NS; /* before the clock */
	fg_decision d;

	cr_assert_eq(fg_allow_at(c, "win", "k", 3, t0 + W_NS, &d), 1);
	cr_expect_eq(fg_allow_at(c, "win", "k", 1, t0 + W_NS - 1, &d), 0,
	             "window 1's 3 still count");
	cr_expect_eq(fg_allow_at(c, "win", "k", 1, t0 + 2 * W_NS, &d), 1,
	             "window 2 is new");
	pol_destroy(c);
}

/* What other hosts consumed (the daemon's debit) counts in the current
 * window, up to the cap, and shows as tokens owed. */
Test(window, a_debit_counts_in_the_current_window_up_to_its_cap)
{
	fg_client *c =
	    window_rule("debit", FG_RULE_SLIDING_WINDOW, 10, HOUR_MS);
	unsigned idx = pol_rule_index(c, "win");
	const struct fg_rule_cache *rc = fg__rule_params(c, idx);
	uint64_t capped = 9;

	cr_assert_eq(fg_allow(c, "win", "k", 4, NULL), 1);
	cr_assert_eq(
	    fg__debit(c, idx, "k", 1, 5, 100 * rc->interval_ns, &capped), 0);
	cr_expect_eq(capped, 0);
	cr_expect_eq(pol_left(c, "win", "k"), 1);
	/* at most 12 tokens of debt: 9 counted, 3 kept out */
	cr_assert_eq(
	    fg__debit(c, idx, "k", 1, 6, 12 * rc->interval_ns, &capped), 0);
	cr_expect_eq(capped, 3);
	cr_expect_eq(pol_left(c, "win", "k"), -2);
	cr_expect_eq(fg_allow(c, "win", "k", 1, NULL), 0);
	pol_destroy(c);
}

/* The copy of a bucket of @key, with its reference. */
static void win_bucket(fg_client *c, const char *key, struct fg_ref *ref,
                       struct fg_pair *p)
{
	struct fg_table *t = &c->seg.tbl;
	unsigned idx = pol_rule_index(c, "win");
	uint64_t h = fg__hash64(t->seed, idx, key, strlen(key));

	cr_assert_not_null(fg__table_lookup(t, idx, key, strlen(key), h, ref));
	fg__pair_load(ref->s, p);
}

/* A window bucket decides as an absent one once its windows passed:
 * only then may it go; a sliding one a window later than a fixed one. */
Test(window, a_bucket_is_evicted_only_once_its_windows_have_passed)
{
	static const uint32_t flags[2] = {FG_RULE_FIXED_WINDOW,
	                                  FG_RULE_SLIDING_WINDOW};
	unsigned k;

	for (k = 0; k < 2; k++) {
		fg_client *c = window_rule("evict", flags[k], 5, W_MS);
		uint64_t t0 = future_window(W_NS);
		struct fg_ref ref;
		struct fg_pair p;

		cr_assert_eq(fg_allow_at(c, "win", "k", 5, t0, NULL), 1);
		win_bucket(c, "k", &ref, &p);
		cr_expect_not(
		    fg__table_evict(&c->seg.tbl, &ref, &p, t0 + W_NS - 1));
		cr_expect_eq(fg__table_evict(&c->seg.tbl, &ref, &p, t0 + W_NS),
		             k == 0, "window 0 is the previous one");
		if (k == 1)
			cr_expect(fg__table_evict(&c->seg.tbl, &ref, &p,
			                          t0 + 2 * W_NS));
		cr_expect_null(fg__table_lookup(
		    &c->seg.tbl, pol_rule_index(c, "win"), "k", 1,
		    fg__hash64(c->seg.tbl.seed, pol_rule_index(c, "win"), "k",
		               1),
		    &ref));
		pol_destroy(c);
	}
}

/* floodgate reset (fg__bucket_refill) forgets what a window counted. */
Test(window, a_reset_forgets_the_counts_of_the_window)
{
	fg_client *c = window_rule("reset", FG_RULE_SLIDING_WINDOW, 5, HOUR_MS);
	struct fg_slot_view v;
	struct fg_ref ref;
	struct fg_pair p;
	uint64_t i;

	cr_assert_eq(fg_allow(c, "win", "k", 5, NULL), 1);
	win_bucket(c, "k", &ref, &p);
	i = ref.j;
	cr_assert_eq(fg__slot_read(&c->seg.tbl, i, &v), 1);
	cr_expect_eq(fg__bucket_refill(&c->seg.tbl, &v, fg__now_ns()), 1);
	cr_expect_eq(pol_left(c, "win", "k"), 5);
	cr_expect_eq(fg_allow(c, "win", "k", 5, NULL), 1);
	pol_destroy(c);
}

/* Several rules a request, windows among them: all admit or none keeps
 * a token, a refund given back to the window it was taken from. */
Test(window, a_multi_rule_check_refunds_a_window_it_took_from)
{
	fg_client *c = window_rule("many", FG_RULE_FIXED_WINDOW, 3, HOUR_MS);
	fg_rule g = {
	    .name = "g", .capacity = 1, .rate = 1, .period_ms = HOUR_MS};
	struct fg__triple t[2];
	fg_decision d;
	unsigned which = 9;
	uint64_t now = fg__now_ns();

	cr_assert_eq(fg_rule_set(c, &g), 0);
	t[0] = pol_triple(c, "win", "k", 2);
	t[1] = pol_triple(c, "g", "k", 1);
	cr_expect_eq(fg__check_many(c, t, 2, now, &d, &which), 1);
	cr_expect_eq(pol_left(c, "win", "k"), 1);
	t[0].cost = 1;
	cr_expect_eq(fg__check_many(c, t, 2, now, &d, &which), 0);
	cr_expect_eq(which, 1, "g denies");
	cr_expect_eq(pol_left(c, "win", "k"), 1, "the window kept its token");
	pol_destroy(c);
}

/* Another process drains g between the window's take and g's. */
static void drain_g(fg_client *c, unsigned stage, void *arg)
{
	(void)arg;
	if (stage == 1)
		cr_assert_eq(fg_allow(c, "g", "k", 2, NULL), 1);
}

Test(window, a_race_lost_after_a_windows_take_gives_its_tokens_back)
{
	fg_client *c = window_rule("refund", FG_RULE_FIXED_WINDOW, 3, HOUR_MS);
	fg_rule g = {
	    .name = "g", .capacity = 2, .rate = 1, .period_ms = HOUR_MS};
	struct fg_table_sums *sums = malloc(sizeof *sums);
	struct fg__triple t[2];
	unsigned which = 9;

	cr_assert_not_null(sums);
	cr_assert_eq(fg_rule_set(c, &g), 0);
	cr_assert_eq(fg_allow(c, "win", "k", 2, NULL), 1);
	/* the window has 1 left, g 2: the window is taken first */
	t[0] = pol_triple(c, "g", "k", 1);
	t[1] = pol_triple(c, "win", "k", 1);
	c->many_hook = drain_g;
	cr_expect_eq(fg__check_many(c, t, 2, fg__now_ns(), NULL, &which), 0);
	c->many_hook = NULL;
	cr_expect_eq(which, 0, "g denies");
	cr_expect_eq(pol_left(c, "win", "k"), 1, "the refund came back");
	fg__table_sums(&c->seg.tbl, sums);
	cr_expect_eq(sums->r[pol_rule_index(c, "win")].allowed, 2,
	             "the refunded token was never counted");
	free(sums);
	pol_destroy(c);
}

/* --------------------------------------------- several processes, exact */

#define MPW_PROCS  4u
#define MPW_RUN    5000u /* denials in a row that end a phase */
#define MPW_PHASES 4u
#define MPW_L      20000u

struct mpw_shm {
	pthread_barrier_t phase; /* process-shared */
	uint64_t t0;
	uint64_t admitted[MPW_PROCS][MPW_PHASES];
};

struct mpw_job {
	struct mpw_shm *shm;
	struct start_gun gun;
};

/* Phase p: every worker checks at the middle of window p, all at once. */
static int mpw_worker(void *arg, unsigned i)
{
	struct mpw_job *job = arg;
	fg_client *c;
	unsigned p, run;

	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	for (p = 0; p < MPW_PHASES; p++) {
		uint64_t now = job->shm->t0 + p * W_NS + W_NS / 2;

		(void)pthread_barrier_wait(&job->shm->phase);
		for (run = 0; run < MPW_RUN;) {
			int r = fg_allow_at(c, "win", "k", 1, now, NULL);

			if (r < 0)
				return WX_ERROR;
			job->shm->admitted[i][p] += (uint64_t)r;
			run = r ? 0 : run + 1;
		}
	}
	fg_close(c);
	return 0;
}

/* Four processes hammer one key through @phases windows: each admits
 * exactly @expect[p], and the slot's count (what the daemon gossips)
 * holds exactly what they admitted. */
static void hammer(uint32_t flags, const uint64_t expect[MPW_PHASES])
{
	fg_client *c = window_rule("mp", flags, MPW_L, W_MS);
	struct mpw_shm *shm = shared_alloc(sizeof *shm);
	struct mpw_job job = {.shm = shm};
	struct fg_table_sums *sums = malloc(sizeof *sums);
	pthread_barrierattr_t ba;
	uint64_t all = 0;
	unsigned p, i;

	cr_assert_not_null(sums);
	cr_assert_eq(pthread_barrierattr_init(&ba), 0);
	cr_assert_eq(
	    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED), 0);
	cr_assert_eq(pthread_barrier_init(&shm->phase, &ba, MPW_PROCS), 0);
	shm->t0 = future_window(W_NS);
	gun_load(&job.gun);
	spawn_n(mpw_worker, &job, MPW_PROCS);
	gun_fire(&job.gun, MPW_PROCS);
	wait_children((int)MPW_PROCS);
	for (p = 0; p < MPW_PHASES; p++) {
		uint64_t n = 0;

		for (i = 0; i < MPW_PROCS; i++)
			n += shm->admitted[i][p];
		cr_expect_eq(n, expect[p], "window %u: %llu admitted, not %llu",
		             p, (unsigned long long)n,
		             (unsigned long long)expect[p]);
		all += n;
	}
	fg__table_sums(&c->seg.tbl, sums);
	cr_expect_eq(sums->r[pol_rule_index(c, "win")].allowed, all);
	free(sums);
	munmap(shm, sizeof *shm);
	pol_destroy(c);
}

Test(window, four_processes_on_a_fixed_window_admit_its_limit_exactly)
{
	static const uint64_t expect[MPW_PHASES] = {MPW_L, MPW_L, MPW_L, MPW_L};

	hammer(FG_RULE_FIXED_WINDOW, expect);
}

/* At the middle of each window the previous weighs half: 20000, then
 * 20000 - 10000, 20000 - 5000, 20000 - 7500. */
Test(window, four_processes_on_a_sliding_window_admit_its_limit_exactly)
{
	static const uint64_t expect[MPW_PHASES] = {20000, 10000, 15000, 12500};

	hammer(FG_RULE_SLIDING_WINDOW, expect);
}

/* -------------------------------------------------------------- config */

Test(window, the_config_sets_a_rules_algorithm)
{
	static const char text[] =
	    "segment x\n"
	    "rule a rate 100/1m algorithm sliding-window\n"
	    "rule b rate 5/1s algorithm fixed-window capacity 5\n"
	    "rule c capacity 10 rate 5/1s algorithm gcra\n";
	fg_client *c = pol_create("config", 64);
	struct fgd_config cfg;
	fg_rule_info ri;

	pol_config(c, text, &cfg);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "a"), &ri), 0);
	cr_expect_eq(ri.flags & FG_RULE_SLIDING_WINDOW, FG_RULE_SLIDING_WINDOW);
	cr_expect_eq(ri.capacity, 100, "a window's capacity is its N");
	cr_expect_eq(ri.period_ms, 60000);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "b"), &ri), 0);
	cr_expect_eq(ri.flags & FG_RULE_FIXED_WINDOW, FG_RULE_FIXED_WINDOW);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "c"), &ri), 0);
	cr_expect_eq(ri.flags & (FG_RULE_FIXED_WINDOW | FG_RULE_SLIDING_WINDOW),
	             0);
	fgd_config_free(&cfg);
	pol_destroy(c);
}

static void refused(const char *rule, const char *says)
{
	const char *err = pol_config_error(rule);

	cr_expect_not_null(err, "%s: accepted", rule);
	if (err != NULL)
		cr_expect_not_null(strstr(err, says), "%s: %s", rule, err);
}

Test(window, a_bad_algorithm_is_refused_with_its_reason)
{
	refused("rule a rate 5/1s algorithm leaky-bucket",
	        "t.conf:2: rule 'a': algorithm must be gcra, sliding-window or "
	        "fixed-window, not 'leaky-bucket'");
	refused("rule a rate 5/1s algorithm", "'algorithm' needs a value");
	refused("rule a rate 5/1s algorithm fixed-window algorithm gcra",
	        "'algorithm' given twice");
	refused("rule a rate 5/1s algorithm fixed-window capacity 6",
	        "capacity, if given, must be N");
	refused("rule a rate 5/1s algorithm fixed-window max-delay 1s",
	        "no max-delay");
	refused("rule a rate 2000000/1m algorithm sliding-window",
	        "a sliding window's N is at most 1048575");
	refused("rule a in-flight 5 algorithm fixed-window",
	        "an in-flight rule takes no 'algorithm'");
	refused("rule a algorithm sliding-window", "needs rate R/PERIOD");
	refused("rule a rate 5/1s", "needs capacity N");
}

/* Layout 6 (shm/layout.h) gave the window rules their buckets: a segment
 * of layout 5, as the previous version wrote it (its seed of the segment
 * fuzz corpus), whose clients would read window counts as times, is
 * refused. */
Test(window, a_segment_of_layout_version_5_is_refused)
{
	char name[64];

	snprintf(name, sizeof name, "fg-windows-v5-%d", (int)getpid());
	expect_old_segment_refused(
	    "tests/fuzz/corpus/segment/v5-capacity-1-full", name);
}
