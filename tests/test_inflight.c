/* SPDX-License-Identifier: ISC */
/*
 * test_inflight.c - in-flight limits (fg_acquire(), fg_release(),
 * lib/inflight.c, shm/lease.h): at most N requests of a key at once,
 * exact under concurrency, and the leases of a worker killed while it
 * holds them back within twice the rule's lease.
 *
 * The decision tables choose their times (fg__acquire_at(),
 * fg__release_at()); the processes use the clock.  The kill loop kills
 * workers at random moments (usleep() only spreads the moments of
 * SIGKILL) and then asks, at the time the bucket itself names, whether
 * every lease is back: no test waits for time to pass.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "daemon/config.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/lease.h"
#include "shm/scan.h"
#include "tests/policies.h"
#include "tests/procs.h"

TestSuite(inflight, .timeout = 60, .fini = pol_unlink);

static fg_client *in_flight(const char *tag, uint32_t n, uint32_t lease_ms,
                            uint32_t flags)
{
	fg_client *c = pol_create(tag, 100);
	fg_rule r = {.name = "conn",
	             .capacity = n,
	             .lease_ms = lease_ms,
	             .flags = FG_RULE_IN_FLIGHT | flags};
	int e = fg_rule_set(c, &r);

	cr_assert_eq(e, 0, "fg_rule_set: %s", fg_strerror(e));
	return c;
}

static uint64_t E_of(fg_client *c)
{
	return fg__rule_params(c, pol_rule_index(c, "conn"))->interval_ns;
}

/* fg_acquire() of "k" at @at. */
static int acq(fg_client *c, uint64_t at, fg_lease *l, fg_decision *d)
{
	unsigned idx = pol_rule_index(c, "conn");

	return fg__acquire_at(c, idx, fg__rule_params(c, idx), "k", 1, at, l,
	                      d);
}

/* -------------------------------------------------------- decision tables */

Test(inflight, n_leases_at_once_and_one_more_once_one_is_given_back)
{
	fg_client *c = in_flight("n", 2, 1000, 0);
	uint64_t E = E_of(c), t0 = (fg__now_ns() / E + 10) * E;
	fg_lease a, b, x, y;
	fg_decision d;

	cr_expect_eq(E, 60 * FG_LEASE_QUANTUM_NS, "1 s rounds up to 60 quanta");
	cr_assert_eq(acq(c, t0, &a, &d), 1);
	cr_expect_eq(d.limit, 2);
	cr_expect_eq(d.remaining, 1);
	cr_expect_eq(d.reset_ms, fg__ns_to_ms_ceil(2 * E));
	cr_assert_eq(acq(c, t0 + 1, &b, &d), 1);
	cr_expect_eq(d.remaining, 0);
	cr_assert_eq(acq(c, t0 + 2, &x, &d), 0);
	cr_expect_eq(d.retry_after_ms, fg__ns_to_ms_ceil(2 * E - 2),
	             "until the oldest lease ends by itself");
	cr_expect_eq(fg__release_at(c, &x, t0 + 3), 0, "x held nothing");
	cr_assert_eq(fg__release_at(c, &a, t0 + 3), 1);
	cr_expect_eq(fg__release_at(c, &a, t0 + 4), 0, "once only");
	cr_assert_eq(acq(c, t0 + 5, &y, &d), 1);
	cr_assert_eq(acq(c, t0 + 6, &x, &d), 0);
	cr_expect_eq(stats_of(c).denied, 2);
	cr_expect_eq(stats_of(c).consumed, 3, "leases taken, counted");
	pol_destroy(c);
}

Test(inflight, a_lease_counts_for_between_one_and_two_leases_then_ends)
{
	fg_client *c = in_flight("ends", 2, 1000, 0);
	uint64_t E = E_of(c), t0 = (fg__now_ns() / E + 10) * E;
	fg_lease a, b, x, y, z;

	cr_assert_eq(acq(c, t0 + E - 1, &a, NULL), 1); /* late in its epoch */
	cr_assert_eq(acq(c, t0 + E, &b, NULL), 1);     /* early in the next */
	/* a's epoch ends at t0 + E; a still counts through the next one */
	cr_expect_eq(acq(c, t0 + 2 * E - 1, &x, NULL), 0);
	/* then a has ended (it lasted E + 1 ns), b not */
	cr_expect_eq(acq(c, t0 + 2 * E, &x, NULL), 1);
	cr_expect_eq(acq(c, t0 + 2 * E, &y, NULL), 0);
	/* b ends at t0 + 3E (after 2E), x at t0 + 4E */
	cr_expect_eq(acq(c, t0 + 3 * E, &y, NULL), 1);
	cr_expect_eq(acq(c, t0 + 3 * E, &z, NULL), 0);
	/* giving back a lease that ended takes nothing from the others */
	cr_expect_eq(fg__release_at(c, &a, t0 + 3 * E), 0);
	cr_expect_eq(fg__release_at(c, &b, t0 + 3 * E), 0);
	cr_expect_eq(acq(c, t0 + 3 * E + 1, &z, NULL), 0, "x and y hold");
	/* one of the previous epoch is given back from there */
	cr_expect_eq(fg__release_at(c, &x, t0 + 3 * E + 2), 1);
	cr_expect_eq(acq(c, t0 + 3 * E + 3, &z, NULL), 1);
	pol_destroy(c);
}

/* A process whose clock reading is older than the epoch another moved
 * the bucket to counts its lease in that epoch (not in an older one that
 * would end sooner). */
Test(inflight, an_older_clock_counts_in_the_bucket_s_epoch)
{
	fg_client *c = in_flight("older", 2, 1000, 0);
	uint64_t E = E_of(c), t0 = (fg__now_ns() / E + 10) * E;
	fg_lease a, b, x;

	cr_assert_eq(acq(c, t0 + E, &a, NULL), 1);
	cr_assert_eq(acq(c, t0, &b, NULL), 1); /* read before a was taken */
	cr_expect_eq(acq(c, t0 + 3 * E - 1, &x, NULL), 0,
	             "b ends with a, at t0 + 3E");
	cr_expect_eq(acq(c, t0 + 3 * E, &x, NULL), 1);
	pol_destroy(c);
}

Test(inflight, a_shadow_rule_never_denies_and_counts_no_extra_lease)
{
	fg_client *c = in_flight("shadow", 1, 1000, FG_RULE_SHADOW);
	fg_lease a, b;
	fg_decision d;

	cr_assert_eq(fg_acquire(c, "conn", "k", &a, &d), 1);
	cr_expect_eq(d.flags, 0);
	cr_assert_eq(fg_acquire(c, "conn", "k", &b, &d), 1);
	cr_expect_eq(d.flags, FG_DECISION_SHADOW);
	cr_expect_eq(fg_release(c, &b), 0, "b was never counted");
	cr_expect_eq(pol_left(c, "conn", "k"), 0, "a still is");
	cr_expect_eq(fg_release(c, &a), 1);
	cr_expect_eq(pol_left(c, "conn", "k"), 1);
	cr_expect_eq(stats_of(c).denied, 1, "the would-be denial counted");
	pol_destroy(c);
}

/* ---------------------------------------------------------------- kinds */

Test(inflight, each_kind_of_rule_refuses_the_calls_of_the_other)
{
	fg_client *c = in_flight("kinds", 2, 1000, 0);
	fg_triple t = {.rule = "conn", .key = "k", .cost = 1};
	uint64_t delay;
	fg_lease l;

	test_rule(c, "rate", 5, 1, HOUR_MS, 0);
	cr_expect_eq(fg_allow(c, "conn", "k", 1, NULL), FG_EKIND);
	cr_expect_eq(fg_allow_at(c, "conn", "k", 1, fg__now_ns(), NULL),
	             FG_EKIND);
	cr_expect_eq(fg_allow_many(c, &t, 1, NULL, NULL), FG_EKIND);
	cr_expect_eq(fg_reserve(c, "conn", "k", 1, &delay, NULL), FG_EKIND);
	cr_expect_eq(
	    fg__debit(c, pol_rule_index(c, "conn"), "k", 1, 1, HOUR_MS, NULL),
	    FG_EKIND);
	cr_expect_eq(fg__raise(c, pol_rule_index(c, "conn"), "k", 1, 1000),
	             FG_EKIND);
	cr_expect_eq(fg_acquire(c, "rate", "k", &l, NULL), FG_EKIND);
	cr_expect_eq(fg_release(c, &l), 0, "an empty lease");
	cr_expect(strstr(fg_strerror(FG_EKIND), "fg_acquire"));
	cr_expect_eq(pol_left(c, "conn", "k"), 2, "nothing taken");
	cr_expect_eq(pol_left(c, "rate", "k"), 5);
	pol_destroy(c);
}

Test(inflight, a_name_keeps_its_kind)
{
	fg_client *c = in_flight("keep", 2, 1000, 0);
	fg_rule as_rate = {
	    .name = "conn", .capacity = 2, .rate = 1, .period_ms = 1000};
	fg_rule longer = {.name = "conn",
	                  .capacity = 3,
	                  .lease_ms = 5000,
	                  .flags = FG_RULE_IN_FLIGHT};
	fg_rule_info ri;

	cr_expect_eq(fg_rule_set(c, &as_rate), FG_EKIND);
	cr_assert_eq(fg_rule_remove(c, "conn"), 0);
	cr_expect_eq(fg_rule_set(c, &as_rate), FG_EKIND, "removed, too");
	cr_expect_eq(fg_rule_set(c, &longer), 0);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "conn"), &ri), 0);
	cr_expect_eq(ri.capacity, 3);
	cr_expect_eq(ri.lease_ms, 5000);
	cr_expect_eq(ri.rate, 0);
	cr_expect_eq(ri.period_ms, 0);
	cr_expect_eq(ri.flags, FG_RULE_IN_FLIGHT);
	cr_expect_eq(ri.interval_ns, fg__lease_epoch_ns(5000));
	pol_destroy(c);
}

Test(inflight, bad_in_flight_rules_are_refused)
{
	fg_client *c = pol_create("badrules", 100);
	static const fg_rule bad[] = {
	    {.name = "a",
	     .capacity = 0,
	     .lease_ms = 1000,
	     .flags = FG_RULE_IN_FLIGHT},
	    {.name = "a",
	     .capacity = FG_LEASES_MAX + 1,
	     .lease_ms = 1000,
	     .flags = FG_RULE_IN_FLIGHT},
	    {.name = "a",
	     .capacity = 1,
	     .lease_ms = 0,
	     .flags = FG_RULE_IN_FLIGHT},
	    {.name = "a",
	     .capacity = 1,
	     .lease_ms = 86400001,
	     .flags = FG_RULE_IN_FLIGHT},
	    {.name = "a",
	     .capacity = 1,
	     .lease_ms = 1000,
	     .rate = 1,
	     .period_ms = 1000,
	     .flags = FG_RULE_IN_FLIGHT},
	    {.name = "a",
	     .capacity = 1,
	     .lease_ms = 1000,
	     .flags = FG_RULE_IN_FLIGHT | FG_RULE_GLOBAL},
	    {.name = "a",
	     .capacity = 1,
	     .lease_ms = 1000,
	     .flags = FG_RULE_IN_FLIGHT | FG_RULE_DEFAULT},
	    {.name = "a",
	     .capacity = 1,
	     .lease_ms = 1000,
	     .max_delay_ms = 1,
	     .flags = FG_RULE_IN_FLIGHT},
	    {.name = "a",
	     .capacity = 1,
	     .rate = 1,
	     .period_ms = 1000,
	     .lease_ms = 1000}, /* a lease for a rule of tokens */
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_eq(fg_rule_set(c, &bad[i]), FG_ERULE, "rule %zu", i);
	pol_destroy(c);
}

Test(inflight, a_reset_leaves_leases_alone)
{
	fg_client *c = in_flight("reset", 1, 1000, 0);
	struct fg_slot_view v;
	fg_lease l;

	cr_assert_eq(fg_acquire(c, "conn", "k", &l, NULL), 1);
	cr_assert(bucket_of(c, "conn", "k", &v));
	cr_expect_eq(fg__bucket_refill(&c->seg.tbl, &v, fg__now_ns()), 0);
	cr_expect_eq(pol_left(c, "conn", "k"), 0);
	cr_expect_eq(fg_release(c, &l), 1);
	pol_destroy(c);
}

Test(inflight, a_lease_of_another_segment_is_refused)
{
	fg_client *c = in_flight("seg-a", 1, 1000, 0), *o;
	char other[80];
	fg_lease l;

	snprintf(other, sizeof other, "fg-policies-seg-b-%d", (int)getpid());
	(void)fg_unlink(other);
	cr_assert_eq(fg_create(other, NULL, 0, &o), 0);
	cr_assert_eq(fg_acquire(c, "conn", "k", &l, NULL), 1);
	cr_expect_eq(fg_release(o, &l), FG_EINVAL);
	cr_expect_eq(fg_release(c, &l), 1, "still the lease of its own");
	cr_expect_eq(fg_release(c, NULL), FG_EINVAL);
	cr_expect_eq(fg_acquire(c, "conn", "k", NULL, NULL), FG_EINVAL);
	fg_close(o);
	(void)fg_unlink(other);
	pol_destroy(c);
}

/* A small table, full of buckets that cannot go: a key without a bucket
 * is decided by the rule's policy, and its lease holds nothing.  (Which
 * new key finds no room depends on where keys go: the test adds keys
 * until one does, for each rule.) */
#define FULL_MAX 64u

Test(inflight, a_key_the_table_cannot_hold_follows_the_fail_policy)
{
	fg_client *c = pol_create("full", 8);
	fg_rule open = {.name = "open",
	                .capacity = 1,
	                .lease_ms = 1000,
	                .flags = FG_RULE_IN_FLIGHT};
	fg_rule closed = {.name = "closed",
	                  .capacity = 1,
	                  .lease_ms = 1000,
	                  .flags = FG_RULE_IN_FLIGHT | FG_RULE_FAIL_CLOSED};
	fg_lease l[2 * FULL_MAX];
	fg_decision d;
	char key[16];
	unsigned i, n = 0, full = 0;

	cr_assert_eq(fg_rule_set(c, &open), 0);
	cr_assert_eq(fg_rule_set(c, &closed), 0);
	cr_assert_eq(fg_rule_share_set(c, "open", 100), 0); /* all of it */
	cr_assert_eq(fg_rule_share_set(c, "closed", 100), 0);
	for (i = 0; i < FULL_MAX && !full; i++, n++) { /* each holds a lease */
		snprintf(key, sizeof key, "fill-%u", i);
		cr_assert_eq(fg_acquire(c, "open", key, &l[n], &d), 1);
		full = d.flags == FG_DECISION_UNTRACKED;
		if (full)
			cr_expect_eq(fg_release(c, &l[n]), 0,
			             "nothing to give back");
	}
	cr_assert(full && n > 8, "%u keys before one found no room", n);
	n--;
	for (i = 0, full = 0; i < FULL_MAX && !full; i++, n++) {
		snprintf(key, sizeof key, "closed-%u", i);
		full = fg_acquire(c, "closed", key, &l[n], &d) == 0;
		if (full) {
			cr_expect_eq(d.flags, FG_DECISION_UNTRACKED);
			cr_expect_eq(fg_release(c, &l[n]), 0);
		}
	}
	cr_assert(full, "the closed rule's keys found no room either");
	/* given back, the buckets hold nothing, but have not ended: they
	 * stay until their epoch ends (a full bucket can go) */
	for (i = 0; i + 1 < n; i++)
		cr_expect_eq(fg_release(c, &l[i]), 1);
	pol_destroy(c);
}

/* ---------------------------------------------------------------- config */

Test(inflight, in_flight_rules_in_the_config)
{
	static const char text[] = "segment x\n"
	                           "rule uploads in-flight 4 lease 30s\n"
	                           "rule conns in-flight 16 on-full closed "
	                           "scope host\n";
	fg_client *c = pol_create("config", 100);
	struct fgd_config cfg;
	fg_rule_info ri;

	pol_config(c, text, &cfg);
	cr_expect_eq(cfg.rules[0].capacity, 4);
	cr_expect_eq(cfg.rules[0].lease_ms, 30000);
	cr_expect_eq(cfg.rules[1].lease_ms, 60000, "the default lease");
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "conns"), &ri), 0);
	cr_expect_eq(ri.flags, FG_RULE_IN_FLIGHT | FG_RULE_FAIL_CLOSED);
	fgd_config_free(&cfg);
	pol_destroy(c);
}

Test(inflight, bad_in_flight_config_is_refused_with_its_reason)
{
	static const struct {
		const char *rule, *why;
	} bad[] = {
	    {"rule a in-flight 0", "from 1 to 4095"},
	    {"rule a in-flight 4096", "from 1 to 4095"},
	    {"rule a in-flight many", "from 1 to 4095"},
	    {"rule a in-flight 4 lease 25h", "from 1ms to"},
	    {"rule a in-flight 4 lease 0ms", "from 1ms to"},
	    {"rule a in-flight 4 lease 30", "needs a unit"},
	    {"rule a in-flight 4 capacity 5", "takes no 'capacity'"},
	    {"rule a in-flight 4 rate 1/1s", "takes no 'rate'"},
	    {"rule a in-flight 4 max-delay 1s", "takes no 'max-delay'"},
	    {"rule a in-flight 4 default", "takes no 'default'"},
	    {"rule a in-flight 4 scope global", "scope global is refused"},
	    {"rule a capacity 4 rate 1/1s lease 1s", "lease is for in-flight"},
	    {"rule a lease 1s", "lease is for in-flight"},
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *e = pol_config_error(bad[i].rule);

		cr_expect(e != NULL && strstr(e, "t.conf:2: ") == e &&
		              strstr(e, bad[i].why),
		          "%s: %s", bad[i].rule, e ? e : "accepted");
	}
}

/* ------------------------------------------ four processes: exact at once */

#define EX_PROCS 4u
#define EX_N     2u
#define EX_GOAL  25000u /* leases each worker takes */

struct ex_shm {
	uint64_t inside, most; /* requests holding a lease now, at most */
	uint64_t acquired[EX_PROCS], denied[EX_PROCS];
	uint64_t lost[EX_PROCS]; /* given back, found not counted */
};

struct ex_job {
	struct ex_shm *shm;
	struct start_gun gun;
};

/* Note @in requests inside at once. */
static void ex_note(struct ex_shm *shm, uint64_t in)
{
	uint64_t most = load64(&shm->most);

	while (in > most &&
	       !__atomic_compare_exchange_n(&shm->most, &most, in, 0,
	                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

/* Take EX_GOAL leases, each held a random while; denied, try again. */
static int ex_worker(void *arg, unsigned i)
{
	struct ex_job *job = arg;
	struct ex_shm *shm = job->shm;
	uint64_t rng = 0x2545f4914f6cdd1dull * (i + 1),
	         deadline = fg__now_ns() + WORKER_DEADLINE_NS, n = 0;
	fg_client *c;

	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	while (shm->acquired[i] < EX_GOAL) {
		fg_lease l;
		uint64_t spin;
		int r = fg_acquire(c, "conn", "k", &l, NULL);

		if (r < 0)
			return WX_ERROR;
		if ((++n & 1023) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
		if (r == 0) {
			shm->denied[i]++;
			continue;
		}
		shm->acquired[i]++;
		ex_note(shm,
		        __atomic_add_fetch(&shm->inside, 1, __ATOMIC_SEQ_CST));
		/* hold it a while, letting the others run meanwhile now and
		 * then even on one CPU */
		for (spin = xorshift(&rng) % 512; spin > 0; spin--)
			__asm__ __volatile__("" ::: "memory");
		if (xorshift(&rng) % 16 == 0)
			sched_yield();
		__atomic_sub_fetch(&shm->inside, 1, __ATOMIC_SEQ_CST);
		r = fg_release(c, &l);
		if (r < 0)
			return WX_ERROR;
		shm->lost[i] += r == 0;
	}
	fg_close(c);
	return 0;
}

Test(inflight, four_processes_never_hold_more_than_n_leases)
{
	fg_client *c = in_flight("exact", EX_N, 60000, 0);
	struct ex_shm *shm = shared_alloc(sizeof *shm);
	struct ex_job job = {.shm = shm};
	struct fg_slot_view v;
	uint64_t acquired = 0, denied = 0, lost = 0;
	unsigned i;

	gun_load(&job.gun);
	spawn_n(ex_worker, &job, EX_PROCS);
	gun_fire(&job.gun, EX_PROCS);
	wait_children((int)EX_PROCS);
	for (i = 0; i < EX_PROCS; i++) {
		acquired += shm->acquired[i];
		denied += shm->denied[i];
		lost += shm->lost[i];
	}
	cr_log_info("%llu acquired, %llu denied, at most %llu at once",
	            (unsigned long long)acquired, (unsigned long long)denied,
	            (unsigned long long)shm->most);
	cr_expect_leq(shm->most, EX_N, "%llu leases held at once",
	              (unsigned long long)shm->most);
	cr_expect_gt(denied, 0, "the limit was reached");
	cr_expect_eq(lost, 0, "%llu leases were not counted when given back",
	             (unsigned long long)lost);
	cr_expect_eq(pol_left(c, "conn", "k"), EX_N, "all given back");
	cr_assert(bucket_of(c, "conn", "k", &v));
	cr_expect_eq(v.consumed, acquired, "every lease counted once");
	cr_expect_eq(v.denied, denied, "every denial counted once");
	munmap(shm, sizeof *shm);
	pol_destroy(c);
}

/* ------------------------------------------- a kill loop: leases come back */

/*
 * Each round, six workers take and give back leases of a fresh key (4 at
 * once, a lease of 60 s) and are SIGKILLed at random moments: holding a
 * lease, in fg_acquire(), in fg_release().  After each round, what the
 * bucket holds is at least what the dead said they held and at most one
 * each (nothing ended early, nothing was counted twice), and at the time
 * the bucket says its last lease ends, within twice the lease of the
 * round, all 4 are there again, and no more.
 */
#define KL_ROUNDS 12u
#define KL_PROCS  6u
#define KL_N      4u

struct kl_shm {
	uint64_t holds[KL_PROCS]; /* 1 between fg_acquire() and fg_release() */
	uint64_t started;
};

struct kl_job {
	struct kl_shm *shm;
	const char *key;
};

static int kl_worker(void *arg, unsigned i)
{
	struct kl_job *job = arg;
	uint64_t rng = fg__now_ns() ^ (i + 1) * 0x9e3779b97f4a7c15ull,
	         deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	fg_client *c;

	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	__atomic_fetch_add(&job->shm->started, 1, __ATOMIC_SEQ_CST);
	while (fg__now_ns() < deadline) { /* until killed */
		fg_lease l;
		uint64_t spin;
		int r = fg_acquire(c, "conn", job->key, &l, NULL);

		if (r < 0)
			return WX_ERROR;
		if (r == 0) {
			sched_yield();
			continue;
		}
		store64(&job->shm->holds[i], 1);
		/* a short request, or now and then a long one */
		for (spin = xorshift(&rng) %
		            (xorshift(&rng) % 4 ? 4096 : 1u << 20);
		     spin > 0; spin--)
			__asm__ __volatile__("" ::: "memory");
		/* said before it is given back: the parent's lower bound
		 * stays a lower bound */
		store64(&job->shm->holds[i], 0);
		if (fg_release(c, &l) < 0)
			return WX_ERROR;
	}
	return WX_DEADLINE;
}

Test(inflight, leases_of_killed_workers_come_back_within_twice_the_lease)
{
	fg_client *c = in_flight("kill", KL_N, 60000, 0);
	struct kl_shm *shm = shared_alloc(sizeof *shm);
	uint64_t E = E_of(c), rng = 42;
	unsigned round, i, idx = pol_rule_index(c, "conn");

	for (round = 0; round < KL_ROUNDS; round++) {
		struct kl_job job = {.shm = shm};
		pid_t pids[KL_PROCS];
		uint64_t held = 0, now, end, n;
		struct fg_slot_view v;
		char key[16];
		int64_t left;
		fg_lease l[KL_N + 1];

		snprintf(key, sizeof key, "round-%u", round);
		job.key = key;
		memset(shm, 0, sizeof *shm);
		for (i = 0; i < KL_PROCS; i++)
			pids[i] = spawn(kl_worker, &job, i);
		await_count(&shm->started, KL_PROCS, "workers started");
		kill_each(pids, KL_PROCS, &rng, 2000);
		for (i = 0; i < KL_PROCS; i++)
			held += load64(&shm->holds[i]);

		/* nothing came back early, nothing was counted twice */
		left = pol_left(c, "conn", key);
		cr_expect(held <= KL_N - (uint64_t)left &&
		              KL_N - (uint64_t)left <= KL_PROCS,
		          "round %u: %lld leases held, the dead said %llu",
		          round, (long long)(KL_N - left),
		          (unsigned long long)held);
		if (left == KL_N)
			continue; /* none was held: nothing to come back */

		/* the last lease ends at the bucket's window end */
		cr_assert(bucket_of(c, "conn", key, &v));
		now = fg__now_ns();
		end = v.tat & ~(FG_LEASE_QUANTUM_NS - 1);
		cr_expect(end > now + E / 2 && end <= now + 2 * E,
		          "round %u: the last lease ends %lld ms from now",
		          round, (long long)(end - now) / 1000000);
		for (n = 0; n <= KL_N; n++)
			if (fg__acquire_at(c, idx, fg__rule_params(c, idx), key,
			                   strlen(key), end, &l[n], NULL) != 1)
				break;
		cr_expect_eq(n, KL_N, "round %u: %llu of %u back at the end",
		             round, (unsigned long long)n, KL_N);
	}
	munmap(shm, sizeof *shm);
	pol_destroy(c);
}
