/* SPDX-License-Identifier: ISC */
/*
 * test_reserve.c - delay instead of deny (fg_reserve(), lib/reserve.c),
 * and a rule's max-delay from the config to the segment.
 *
 * The decision tables are Go's: golang.org/x/time/rate's TestReserve* and
 * TestWait* (rate_test.go), at the times they use (t0 + k * d, d = 100 ms,
 * a limiter of 10 a second is a rule of 10 per 1000 ms), each case ported
 * where it applies and, where floodgate's answer differs by design, the
 * difference stated.  Times are chosen by the test (fg__reserve_at()), so
 * every figure is exact.  Go's Cancel tests do not apply: a reservation
 * cannot be cancelled (its tokens are counted, and gossiped, at once).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "daemon/config.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/scan.h"
#include "tests/policies.h"
#include "tests/procs.h"

TestSuite(reserve, .timeout = 60, .fini = pol_unlink);

#define D_NS (100ull * 1000000u) /* Go's d */

static uint64_t t0;

/* A limiter of Go's: @per_s tokens a second, a burst of @burst, waits of
 * up to @max_delay_ms. */
static fg_client *limiter(const char *tag, uint32_t per_s, uint32_t burst,
                          uint32_t max_delay_ms)
{
	fg_client *c = pol_create(tag, 100);
	fg_rule r = {.name = "lim",
	             .capacity = burst,
	             .rate = per_s,
	             .period_ms = 1000,
	             .max_delay_ms = max_delay_ms};

	cr_assert_eq(fg_rule_set(c, &r), 0);
	t0 = fg__now_ns();
	return c;
}

/* Go's reserveN(t@at, n) must answer ok @ok, to act at t@act. */
static void reserve(fg_client *c, unsigned at, uint32_t n, unsigned act, int ok)
{
	unsigned idx = pol_rule_index(c, "lim");
	const struct fg_rule_cache *rc = fg__rule_params(c, idx);
	uint64_t now = t0 + at * D_NS, delay = 7;
	int r;

	if (n > rc->capacity) { /* Go: not ok, whatever the time */
		cr_expect_eq(fg_reserve(c, "lim", "k", n, &delay, NULL),
		             FG_ECOST);
		cr_expect(!ok);
		return;
	}
	r = fg__reserve_at(c, idx, rc, "k", 1, n, now, &delay, NULL);
	cr_expect_eq(r, ok, "reserve(t%u, %u) = %d", at, n, r);
	if (r == 1)
		cr_expect_eq(now + delay, t0 + act * D_NS,
		             "reserve(t%u, %u) acts at t0 + %.2f d, not t%u",
		             at, n, (double)(now + delay - t0) / D_NS, act);
	else
		cr_expect_eq(delay, 0);
}

/* Go's AllowN(t@at, n). */
static void allow(fg_client *c, unsigned at, uint32_t n, int ok)
{
	unsigned idx = pol_rule_index(c, "lim");
	const struct fg_rule_cache *rc = fg__rule_params(c, idx);

	cr_expect_eq(fg__check_at(c, idx, rc, "k", 1, n, t0 + at * D_NS, NULL),
	             ok, "allow(t%u, %u)", at, n);
}

#define FOREVER (3600u * 1000u) /* Go's InfDuration, for these tables */

Test(reserve, go_simple_reserve)
{
	fg_client *c = limiter("simple", 10, 2, FOREVER);

	reserve(c, 0, 2, 0, 1);
	reserve(c, 0, 2, 2, 1);
	reserve(c, 3, 2, 4, 1);
	pol_destroy(c);
}

Test(reserve, go_mix)
{
	fg_client *c = limiter("mix", 10, 2, FOREVER);

	reserve(c, 0, 3, 1, 0); /* n > burst */
	reserve(c, 0, 2, 0, 1);
	allow(c, 1, 2, 0); /* not enough tokens */
	reserve(c, 1, 2, 2, 1);
	allow(c, 1, 1, 0); /* negative tokens */
	allow(c, 3, 1, 1);
	pol_destroy(c);
}

Test(reserve, go_reserve_max)
{
	fg_client *c = limiter("max", 10, 2, 100); /* maxT = d */
	uint64_t delay;
	fg_decision d;

	reserve(c, 0, 2, 0, 1);
	reserve(c, 0, 1, 1, 1); /* reserve for close future */
	reserve(c, 0, 1, 2, 0); /* time to act too far in the future */
	/* ours: the refusal took nothing, and says when one fits */
	cr_assert_eq(
	    fg__reserve_at(c, pol_rule_index(c, "lim"),
	                   fg__rule_params(c, pol_rule_index(c, "lim")), "k", 1,
	                   1, t0, &delay, &d),
	    0);
	cr_expect_eq(d.retry_after_ms, 100);
	cr_expect_eq(d.remaining, 0);
	reserve(c, 1, 1, 2, 1);
	pol_destroy(c);
}

Test(reserve, go_wait_simple)
{
	fg_client *c = limiter("wait", 10, 3, FOREVER);

	reserve(c, 0, 4, 0, 0); /* exceed-burst-error */
	reserve(c, 0, 2, 0, 1); /* act-now */
	reserve(c, 0, 3, 2, 1); /* act-later */
	pol_destroy(c);
}

/* Go's WaitN with a context that ends in d: the wait for 3 would be 2d,
 * so it fails at once, and (ours) takes nothing. */
Test(reserve, go_wait_timeout)
{
	fg_client *c = limiter("timeout", 10, 3, 100);

	reserve(c, 0, 2, 0, 1); /* act-now */
	reserve(c, 0, 3, 0, 0); /* w-timeout-err */
	reserve(c, 0, 1, 0, 1); /* the one token left is still there */
	pol_destroy(c);
}

/* Go's TestReserveJumpBack starts at t1, then asks at t0: Go resets its
 * clock to the earlier time and answers t1, then t3.  An older reading of
 * CLOCK_MONOTONIC is never looser here (fg_allow_at()): at t0 the bucket
 * holds one token less than at t1, so the answer is t2, then t4. */
Test(reserve, an_earlier_time_is_stricter_than_go_jumping_back)
{
	fg_client *c = limiter("jumpback", 10, 2, FOREVER);

	reserve(c, 1, 2, 1, 1); /* start at t1 */
	reserve(c, 0, 1, 2, 1); /* Go: t1 */
	reserve(c, 2, 2, 4, 1); /* Go: t3 */
	pol_destroy(c);
}

/* Go's TestReserveSetLimit: 5 a second, burst 2; at t2 the limit becomes
 * 10 a second, and a reservation of 1 acts at t4 in Go, which converts
 * its tokens to the new rate.  A rule change here keeps a bucket's debt as
 * time (fg_rule_set()): the debt until t8 stays, so it acts at t7. */
Test(reserve, a_rule_change_keeps_the_debt_as_time_unlike_go_set_limit)
{
	fg_client *c = limiter("setlimit", 5, 2, FOREVER);
	fg_rule faster = {.name = "lim",
	                  .capacity = 2,
	                  .rate = 10,
	                  .period_ms = 1000,
	                  .max_delay_ms = FOREVER};

	reserve(c, 0, 2, 0, 1);
	reserve(c, 0, 2, 4, 1);
	cr_assert_eq(fg_rule_set(c, &faster), 0);
	reserve(c, 2, 1, 7, 1); /* Go: t4 */
	pol_destroy(c);
}

/* ------------------------------------------------------------ the rest */

Test(reserve, without_max_delay_a_reservation_is_a_check)
{
	fg_client *c = limiter("nodelay", 10, 2, 0);
	uint64_t delay = 9;
	fg_decision d;

	reserve(c, 0, 2, 0, 1);
	cr_assert_eq(fg_reserve(c, "lim", "k", 1, &delay, &d), 0);
	cr_expect_eq(delay, 0);
	cr_expect_gt(d.retry_after_ms, 0);
	cr_expect_eq(pol_left(c, "lim", "k"), 0, "nothing taken");
	pol_destroy(c);
}

Test(reserve, a_shadow_rule_never_delays)
{
	fg_client *c = pol_create("shadow", 100);
	fg_rule r = {.name = "dry",
	             .capacity = 1,
	             .rate = 1,
	             .period_ms = HOUR_MS,
	             .flags = FG_RULE_SHADOW,
	             .max_delay_ms = HOUR_MS};
	uint64_t delay = 9;
	fg_decision d;

	cr_assert_eq(fg_rule_set(c, &r), 0);
	cr_assert_eq(fg_reserve(c, "dry", "k", 1, &delay, &d), 1);
	cr_expect_eq(delay, 0);
	cr_assert_eq(fg_reserve(c, "dry", "k", 1, &delay, &d), 1);
	cr_expect_eq(delay, 0, "a would-be wait is no wait");
	cr_expect_eq(d.flags, FG_DECISION_SHADOW);
	cr_expect_eq(pol_left(c, "dry", "k"), 0, "and takes nothing");
	pol_destroy(c);
}

Test(reserve, a_reservation_in_debt_makes_checks_deny_until_it_is_repaid)
{
	fg_client *c = limiter("debt", 10, 2, 1000);
	unsigned idx = pol_rule_index(c, "lim");
	uint64_t delay;
	fg_decision d;

	reserve(c, 0, 2, 0, 1);
	cr_assert_eq(fg__reserve_at(c, idx, fg__rule_params(c, idx), "k", 1, 2,
	                            t0, &delay, &d),
	             1);
	cr_expect_eq(delay, 2 * D_NS);
	cr_expect_eq(d.remaining, 0);
	cr_expect_eq(d.reset_ms, 400, "full once the debt and burst refill");
	/* at t2, when the reservation goes, the bucket is empty; a token is
	 * back at t3 */
	allow(c, 2, 1, 0);
	allow(c, 3, 1, 1);
	pol_destroy(c);
}

Test(reserve, bad_arguments_take_nothing)
{
	fg_client *c = limiter("args", 10, 2, 1000);
	uint64_t delay = 5;

	cr_expect_eq(fg_reserve(c, "lim", "k", 1, NULL, NULL), FG_EINVAL);
	cr_expect_eq(fg_reserve(NULL, "lim", "k", 1, &delay, NULL), FG_EINVAL);
	cr_expect_eq(delay, 0);
	cr_expect_eq(fg_reserve(c, "nope", "k", 1, &delay, NULL), FG_ENORULE);
	cr_expect_eq(fg_reserve(c, "lim", "", 1, &delay, NULL), FG_EKEY);
	cr_expect_eq(fg_reserve(c, "lim", "k", 0, &delay, NULL), FG_ECOST);
	cr_expect_eq(fg_reserve(c, "lim", "k", 3, &delay, NULL), FG_ECOST);
	cr_expect_eq(pol_left(c, "lim", "k"), 2);
	pol_destroy(c);
}

/* ------------------------------------------------------------ the rule */

Test(reserve, max_delay_goes_from_the_config_to_the_segment)
{
	static const char text[] = "segment x\n"
	                           "rule api capacity 10 rate 5/1s "
	                           "max-delay 2s\n"
	                           "rule plain capacity 1 rate 1/1s\n";
	fg_client *c = pol_create("config", 100);
	struct fgd_config cfg;
	fg_rule_info ri;

	pol_config(c, text, &cfg);
	cr_assert_eq(cfg.nrules, 2);
	cr_expect_eq(cfg.rules[0].max_delay_ms, 2000);
	cr_expect_eq(cfg.rules[1].max_delay_ms, 0);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "api"), &ri), 0);
	cr_expect_eq(ri.max_delay_ms, 2000);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "plain"), &ri), 0);
	cr_expect_eq(ri.max_delay_ms, 0);
	fgd_config_free(&cfg);
	pol_destroy(c);
}

static void config_refuses(const char *rule, const char *why)
{
	const char *e = pol_config_error(rule);

	cr_expect(e != NULL && strstr(e, "t.conf:2: ") == e && strstr(e, why),
	          "%s: %s", rule, e ? e : "accepted");
}

Test(reserve, a_bad_max_delay_is_refused_with_its_reason)
{
	config_refuses("rule a capacity 1 rate 1/1s max-delay 2",
	               "needs a unit");
	config_refuses("rule a capacity 1 rate 1/1s max-delay soon",
	               "max-delay must be a duration");
	config_refuses("rule a capacity 1 rate 1/1s max-delay 50d",
	               "max-delay must be a duration");
	config_refuses("rule a capacity 1 rate 1/1s max-delay",
	               "needs a value");
	config_refuses("rule a capacity 1 rate 1/1s max-delay 1s max-delay 2s",
	               "given twice");
	/* 17 tokens of 49 days: 833 of the 834 days a bucket may span */
	config_refuses("rule a capacity 17 rate 1/1176h max-delay 24h",
	               "plus max-delay spans more than 2^56 ns");
}

Test(reserve, the_library_refuses_a_delay_past_2_56_ns_of_debt)
{
	fg_client *c = pol_create("libcheck", 100);
	fg_rule r = {.name = "a",
	             .capacity = 17,
	             .rate = 1,
	             .period_ms = 1176u * 3600000u,
	             .max_delay_ms = 23u * 3600000u};

	cr_expect_eq(fg_rule_set(c, &r), 0, "23 hours still fit");
	r.max_delay_ms = 24u * 3600000u;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE);
	pol_destroy(c);
}

/* A reader of layout 4 takes a rule whose flags it does not know for
 * absent: a rule of a kind it would misread, set by a newer owner. */
Test(reserve, a_rule_with_flags_this_reader_does_not_know_is_absent)
{
	fg_client *c = limiter("unknown", 10, 2, 0), *w = NULL;
	unsigned idx = pol_rule_index(c, "lim");
	struct fg_rule_rec *rec = &c->seg.rules[idx];
	uint64_t seq = rec->seq;

	cr_assert_eq(fg_open(pol_segment, 0, &w), 0);
	cr_assert_eq(fg_allow(w, "lim", "k", 1, NULL), 1);
	rec->params[(seq + 1) & 1] = rec->params[seq & 1];
	rec->params[(seq + 1) & 1].flags |= 0x80000000u;
	__atomic_store_n(&rec->seq, seq + 1, __ATOMIC_RELEASE);
	cr_expect_eq(fg_allow(w, "lim", "k", 1, NULL), FG_ENORULE);
	fg_close(w);
	pol_destroy(c);
}

/* Layout 4 (shm/layout.h) is what fg_reserve() came with: a segment of
 * layout 3, as the previous version wrote it (its seed of the segment
 * fuzz corpus), is refused, with what to do. */
Test(reserve, a_segment_of_layout_version_3_is_refused)
{
	char name[64];

	snprintf(name, sizeof name, "fg-policies-v3-%d", (int)getpid());
	expect_old_segment_refused(
	    "tests/fuzz/corpus/segment/v3-capacity-1-full", name);
	cr_expect_geq(FG_LAYOUT_VERSION, 4);
}

/* -------------------------------------------- four processes, exact times */

/*
 * Four processes reserve on the same keys at once (a barrier, then a
 * spin start, per key) until refused.  A bucket of 5 that never refills,
 * with a delay of up to 20 tokens' time, admits exactly 25: 5 at once and
 * 20 at times exactly one interval apart after the first take, whoever
 * made them.  Lost updates would show as two requests at one time, or as
 * more than 25.
 */
#define RP_PROCS 4u
#define RP_KEYS  64u
#define RP_CAP   5u
#define RP_WAITS 20u
#define RP_ALL   (RP_CAP + RP_WAITS)
#define RP_TRIES (4u * RP_ALL)

struct rp_shm {
	pthread_barrier_t at_key;
	uint64_t started[RP_KEYS];
	uint64_t n[RP_KEYS];             /* reservations made */
	uint64_t act[RP_KEYS][RP_TRIES]; /* when each may go */
	uint64_t first[RP_KEYS];         /* the earliest clock of a 0 wait */
};

struct rp_job {
	struct rp_shm *shm;
	struct start_gun gun;
};

static int rp_worker(void *arg, unsigned i)
{
	struct rp_job *job = arg;
	struct rp_shm *shm = job->shm;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	fg_client *c;
	unsigned k, n;
	char key[16];
	int idx;

	(void)i;
	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	idx = fg__rule_index(c, "r");
	if (idx < 0 || gun_wait(&job->gun) != 0)
		return WX_START;
	for (k = 0; k < RP_KEYS; k++) {
		snprintf(key, sizeof key, "key-%u", k);
		(void)pthread_barrier_wait(&shm->at_key);
		__atomic_fetch_add(&shm->started[k], 1, __ATOMIC_SEQ_CST);
		while (load64(&shm->started[k]) < RP_PROCS)
			if (fg__now_ns() > deadline)
				return WX_DEADLINE;
		for (n = 0; n < RP_TRIES; n++) {
			const struct fg_rule_cache *rc =
			    fg__rule_params(c, (unsigned)idx);
			uint64_t now = fg__now_ns(), delay, slot;
			int r =
			    fg__reserve_at(c, (unsigned)idx, rc, key,
			                   strlen(key), 1, now, &delay, NULL);

			if (r < 0)
				return WX_ERROR;
			if (r == 0)
				continue;
			slot =
			    __atomic_fetch_add(&shm->n[k], 1, __ATOMIC_SEQ_CST);
			if (slot < RP_TRIES)
				shm->act[k][slot] = now + delay;
		}
	}
	fg_close(c);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

Test(reserve, four_processes_get_distinct_times_one_interval_apart)
{
	fg_client *c = pol_create("mp", 2 * RP_KEYS);
	struct rp_shm *shm = shared_alloc(sizeof *shm);
	struct rp_job job = {.shm = shm};
	const uint64_t T = 3600ull * 1000000000u; /* 1/h */
	fg_rule r = {.name = "r",
	             .capacity = RP_CAP,
	             .rate = 1,
	             .period_ms = HOUR_MS,
	             .max_delay_ms = RP_WAITS * HOUR_MS};
	pthread_barrierattr_t ba;
	struct fg_slot_view v;
	unsigned k, j;
	char key[16];

	cr_assert_eq(fg_rule_set(c, &r), 0);
	cr_assert_eq(pthread_barrierattr_init(&ba), 0);
	cr_assert_eq(
	    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED), 0);
	cr_assert_eq(pthread_barrier_init(&shm->at_key, &ba, RP_PROCS), 0);
	gun_load(&job.gun);
	spawn_n(rp_worker, &job, RP_PROCS);
	gun_fire(&job.gun, RP_PROCS);
	wait_children((int)RP_PROCS);

	for (k = 0; k < RP_KEYS; k++) {
		uint64_t *act = shm->act[k];

		snprintf(key, sizeof key, "key-%u", k);
		cr_assert_eq(shm->n[k], RP_ALL, "%s: %llu reservations", key,
		             (unsigned long long)shm->n[k]);
		qsort(act, RP_ALL, sizeof *act, cmp_u64);
		/* The first 5 go at once (at their callers' clocks, a
		 * few microseconds apart); the bucket is then at a + 5T,
		 * a the clock of the first take, and each wait ends one
		 * interval after the one before: a + T, a + 2T, ... */
		cr_expect(act[RP_CAP] > act[RP_CAP - 1] &&
		              act[RP_CAP] - act[RP_CAP - 1] <= T,
		          "%s: the first wait ends within T of the last "
		          "undelayed request",
		          key);
		for (j = RP_CAP + 1; j < RP_ALL; j++)
			cr_expect_eq(
			    act[j] - act[RP_CAP], (j - RP_CAP) * T,
			    "%s: reservation %u at %llu ns past the "
			    "first delayed one",
			    key, j, (unsigned long long)(act[j] - act[RP_CAP]));
		cr_assert(bucket_of(c, "r", key, &v));
		cr_expect_eq(v.consumed, RP_ALL, "%s: counted", key);
	}
	munmap(shm, sizeof *shm);
	pol_destroy(c);
}
