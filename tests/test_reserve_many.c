/* SPDX-License-Identifier: ISC */
/*
 * test_reserve_many.c - delay instead of deny under several rules
 * (fg_reserve_many(), lib/many.c): every rule takes its cost within its
 * own longest wait, the request goes when the slowest allows, or no rule
 * keeps anything.
 *
 * The decision tables run at clock readings the test chooses
 * (fg__reserve_many()); the races run for real, four processes on three
 * rules of one token an hour, so that nothing refills while they run and
 * every figure is exact.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "tests/policies.h"
#include "tests/procs.h"

TestSuite(reserve_many, .timeout = 60, .fini = pol_unlink);

#define HOUR_NS (3600ull * SEC)

static void rule(fg_client *c, const char *name, uint32_t cap,
                 uint32_t max_delay_h, uint32_t flags)
{
	fg_rule r = {.name = name,
	             .capacity = cap,
	             .rate = 1,
	             .period_ms = HOUR_MS,
	             .flags = flags,
	             .max_delay_ms = max_delay_h * HOUR_MS};
	int e = fg_rule_set(c, &r);

	cr_assert_eq(e, 0, "%s: %s", name, fg_strerror(e));
}

/* fg__reserve_many() at @now over @n triples; the delay in *@delay. */
static int reserve_at(fg_client *c, const struct fg__triple *t, unsigned n,
                      uint64_t now, uint64_t *delay, fg_decision *d,
                      unsigned *which)
{
	return fg__reserve_many(c, t, n, now, delay, d, which);
}

/* ------------------------------------------------------ decision tables */

Test(reserve_many, every_rule_admitting_now_means_no_delay)
{
	fg_client *c = pol_create("now", 1000);
	struct fg__triple t[2];
	uint64_t now = fg__now_ns(), delay = 7;

	rule(c, "a", 3, 2, 0);
	rule(c, "b", 5, 0, 0);
	t[0] = pol_triple(c, "a", "k", 1);
	t[1] = pol_triple(c, "b", "k", 2);
	cr_assert_eq(reserve_at(c, t, 2, now, &delay, NULL, NULL), 1);
	cr_expect_eq(delay, 0);
	cr_expect_eq(pol_left(c, "a", "k"), 2);
	cr_expect_eq(pol_left(c, "b", "k"), 3);
	pol_destroy(c);
}

Test(reserve_many, the_request_waits_for_the_slowest_rule)
{
	fg_client *c = pol_create("slowest", 1000);
	struct fg__triple t[2];
	uint64_t now = fg__now_ns(), delay;
	int i;

	rule(c, "a", 1, 5, 0); /* one now, then one an hour, 5 h at most */
	rule(c, "b", 1, 5, 0);
	t[0] = pol_triple(c, "a", "k", 1);
	t[1] = pol_triple(c, "b", "k", 1);
	/* a 2 tokens into debt, b empty: a next waits 3 h, b 1 h */
	for (i = 0; i < 3; i++)
		cr_assert_eq(reserve_at(c, &t[0], 1, now, &delay, NULL, NULL),
		             1);
	cr_assert_eq(reserve_at(c, &t[1], 1, now, &delay, NULL, NULL), 1);
	cr_assert_eq(reserve_at(c, t, 2, now, &delay, NULL, NULL), 1);
	cr_expect_eq(delay, 3 * HOUR_NS, "a's wait, the longer");
	cr_expect_eq(pol_left(c, "a", "k"), -3);
	cr_expect_eq(pol_left(c, "b", "k"), -1);
	pol_destroy(c);
}

Test(reserve_many, a_rule_that_cannot_wait_denies_and_no_rule_keeps_anything)
{
	fg_client *c = pol_create("deny", 1000);
	struct fg__triple t[3];
	uint64_t now = fg__now_ns(), delay = 7;
	fg_decision d;
	unsigned which = 9;

	rule(c, "patient", 2, 10, 0);
	rule(c, "strict", 1, 0, 0); /* no max delay: admits now or denies */
	rule(c, "roomy", 100, 10, 0);
	t[0] = pol_triple(c, "patient", "k", 1);
	t[1] = pol_triple(c, "roomy", "k", 1);
	t[2] = pol_triple(c, "strict", "k", 1);
	cr_assert_eq(reserve_at(c, t, 3, now, &delay, &d, &which), 1);
	cr_assert_eq(reserve_at(c, t, 3, now, &delay, &d, &which), 0);
	cr_expect_eq(delay, 0);
	cr_expect_eq(which, 2, "the strict rule denied");
	cr_expect_eq(d.retry_after_ms, 3600u * 1000u, "until it refills");
	cr_expect_eq(pol_left(c, "patient", "k"), 1, "one taken, no more");
	cr_expect_eq(pol_left(c, "roomy", "k"), 99);
	pol_destroy(c);
}

Test(reserve_many, beyond_a_rules_max_delay_is_a_denial_naming_that_wait)
{
	fg_client *c = pol_create("beyond", 1000);
	struct fg__triple t[2];
	uint64_t now = fg__now_ns(), delay;
	fg_decision d;
	unsigned which = 9;
	int i;

	rule(c, "a", 1, 2, 0); /* 1 now + 2 delayed */
	rule(c, "b", 50, 0, 0);
	t[0] = pol_triple(c, "b", "k", 1);
	t[1] = pol_triple(c, "a", "k", 1);
	for (i = 0; i < 3; i++)
		cr_assert_eq(reserve_at(c, t, 2, now, &delay, NULL, NULL), 1);
	cr_expect_eq(delay, 2 * HOUR_NS);
	cr_assert_eq(reserve_at(c, t, 2, now, &delay, &d, &which), 0);
	cr_expect_eq(which, 1);
	cr_expect_eq(d.retry_after_ms, 3600u * 1000u,
	             "an hour until a reservation fits in a's 2 h");
	cr_expect_eq(pol_left(c, "b", "k"), 47,
	             "3 taken, the 4th took nothing");
	pol_destroy(c);
}

Test(reserve_many, a_shadow_rule_never_delays_nor_denies)
{
	fg_client *c = pol_create("shadow", 1000);
	struct fg__triple t[2];
	uint64_t now = fg__now_ns(), delay = 7;
	fg_decision d;

	rule(c, "trial", 1, 10, FG_RULE_SHADOW);
	rule(c, "real", 10, 0, 0);
	t[0] = pol_triple(c, "trial", "k", 1);
	t[1] = pol_triple(c, "real", "k", 1);
	cr_assert_eq(reserve_at(c, t, 2, now, &delay, NULL, NULL), 1);
	cr_assert_eq(reserve_at(c, t, 2, now, &delay, &d, NULL), 1);
	cr_expect_eq(delay, 0, "the shadow rule's max delay is not used");
	cr_expect(d.flags & FG_DECISION_SHADOW);
	cr_expect_eq(pol_left(c, "real", "k"), 8);
	pol_destroy(c);
}

Test(reserve_many, bad_arguments_take_nothing)
{
	fg_client *c = pol_create("bad", 1000);
	fg_triple t[2] = {{"a", "k", 1}, {"nosuch", "k", 1}};
	uint64_t delay = 7;
	unsigned which = 9;

	rule(c, "a", 5, 1, 0);
	cr_expect_eq(fg_reserve_many(c, t, 2, NULL, NULL, NULL), FG_EINVAL);
	cr_expect_eq(fg_reserve_many(c, t, 0, &delay, NULL, NULL), FG_EINVAL);
	cr_expect_eq(delay, 0);
	cr_expect_eq(fg_reserve_many(c, t, 2, &delay, NULL, &which),
	             FG_ENORULE);
	cr_expect_eq(which, 1);
	t[1] = (fg_triple){"a", "k", 6};
	cr_expect_eq(fg_reserve_many(c, t, 2, &delay, NULL, &which), FG_ECOST);
	cr_expect_eq(pol_left(c, "a", "k"), 5, "nothing taken");
	t[1] = (fg_triple){"a", "k", 1};
	cr_expect_eq(fg_reserve_many(c, t, 2, &delay, NULL, &which), 1);
	cr_expect_eq(pol_left(c, "a", "k"), 3);
	pol_destroy(c);
}

/* ------------------------------------------------------- four processes */

#define MP_PROCS 4u
#define MP_TRIES 30u

struct mp_shm {
	uint64_t granted[2];
	uint64_t act[2][MP_PROCS * MP_TRIES]; /* when each may go */
};

struct mp_job {
	struct mp_shm *shm;
	struct start_gun gun;
};

/* Phase 0: rules a (5 + 10 delayed), b (20), c (40) on key k0: a binds.
 * Phase 1: a, b8 (8), c on key k1: b8 binds while a could still wait. */
static const char *const mp_rules[2][3] = {{"a", "b", "c"}, {"a", "b8", "c"}};

/* The triples of phase @ph, in the internal form (the call at a clock
 * reading of the worker's: the time it may go is exact); 0 or -1. */
static int mp_triples(fg_client *c, unsigned ph, struct fg__triple *t)
{
	const char *key = ph ? "k1" : "k0";
	unsigned k;

	for (k = 0; k < 3; k++) {
		int idx = fg__rule_index(c, mp_rules[ph][k]);

		if (idx < 0)
			return -1;
		(void)fg__rule_params(c, (unsigned)idx);
		t[k] = (struct fg__triple){(unsigned)idx, key, strlen(key), 1};
	}
	return 0;
}

static int mp_worker(void *arg, unsigned i)
{
	struct mp_job *job = arg;
	struct fg__triple t[3];
	fg_client *c;
	unsigned ph, n;

	(void)i;
	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	for (ph = 0; ph < 2; ph++) {
		if (mp_triples(c, ph, t) != 0)
			return WX_START;
		for (n = 0; n < MP_TRIES; n++) {
			uint64_t now = fg__now_ns(), delay, slot;
			int r =
			    fg__reserve_many(c, t, 3, now, &delay, NULL, NULL);

			if (r == 0)
				continue;
			slot = __atomic_fetch_add(&job->shm->granted[ph], 1,
			                          __ATOMIC_SEQ_CST);
			job->shm->act[ph][slot] = now + delay;
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

Test(reserve_many, four_processes_get_exactly_what_the_binding_rule_allows)
{
	fg_client *c = pol_create("mp", 1000);
	struct mp_shm *shm = shared_alloc(sizeof *shm);
	struct mp_job job = {.shm = shm};
	uint64_t *act = shm->act[0];
	unsigned j;

	rule(c, "a", 5, 10, 0);
	rule(c, "b", 20, 0, 0);
	rule(c, "b8", 8, 0, 0);
	rule(c, "c", 40, 0, 0);
	gun_load(&job.gun);
	spawn_n(mp_worker, &job, MP_PROCS);
	gun_fire(&job.gun, MP_PROCS);
	wait_children((int)MP_PROCS);

	cr_assert_eq(shm->granted[0], 15, "a: 5 now and 10 delayed, got %llu",
	             (unsigned long long)shm->granted[0]);
	cr_expect_eq(pol_left(c, "a", "k0"), -10);
	cr_expect_eq(pol_left(c, "b", "k0"), 5, "b paid for granted only");
	cr_expect_eq(pol_left(c, "c", "k0"), 25, "c paid for granted only");
	qsort(act, 15, sizeof *act, cmp_u64);
	for (j = 6; j < 15; j++)
		cr_expect_eq(act[j] - act[5], (j - 5) * HOUR_NS,
		             "reservation %u at %llu ns past the first delayed",
		             j, (unsigned long long)(act[j] - act[5]));

	cr_assert_eq(shm->granted[1], 8, "b8 binds: got %llu",
	             (unsigned long long)shm->granted[1]);
	cr_expect_eq(pol_left(c, "a", "k1"), -3, "a lost nothing to denials");
	cr_expect_eq(pol_left(c, "b8", "k1"), 0);
	cr_expect_eq(pol_left(c, "c", "k1"), 32);
	munmap(shm, sizeof *shm);
	pol_destroy(c);
}
