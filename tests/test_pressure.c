/* SPDX-License-Identifier: ISC */
/*
 * test_pressure.c - a table with more keys than slots.
 *
 * The rule under test: a bucket that has refilled completely decides as
 * an absent one would, so it may be evicted to make room, and nothing
 * else may.  Workers evict buckets of host-scope rules from the buckets
 * of a key that finds no room (and those their keys could move to); the
 * daemon evicts global ones only after harvesting them.  When nothing
 * can be evicted the rule's fail policy answers and table_full counts it.
 *
 * A key finds no room when both its buckets are full and no path of
 * moves frees a slot in them.  Where keys go follows the segment's secret
 * seed, so the tests make that happen on purpose: PAIR_KEYS keys whose
 * buckets are the same two (a "pair"), found by hashing names with the
 * segment's seed, fill both, and a fifth of them has nowhere to go (its
 * four neighbours can only move to each other's buckets).
 */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "gossip/node.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/scan.h"
#include "tests/helpers.h"

#define SMALL_CAP 8
#define PAIR_KEYS (2 * FG_BUCKET_SLOTS) /* what a pair of buckets holds */
/* more keys than the table is sized for, far fewer than its slots */
#define PRESSED_KEYS (2 * SMALL_CAP)

static fg_segment_stats stats_of(fg_client *c)
{
	fg_segment_stats st;

	cr_assert_eq(fg_stats(c, &st), 0);
	return st;
}

static void key_name(char *buf, size_t size, const char *prefix, unsigned i)
{
	snprintf(buf, size, "%s-%u", prefix, i);
}

/* Let @ms of monotonic time go by: buckets refill with time, not events. */
static void let_time_pass(unsigned ms)
{
	uint64_t until = fg__now_ns() + (uint64_t)ms * 1000000u;
	struct timespec ts = {0, 200000};

	while (fg__now_ns() < until)
		nanosleep(&ts, NULL);
}

/* The two buckets of (@rule, @key), lower first. */
static void pair_of(fg_client *c, const char *rule, const char *key,
                    uint64_t b[2])
{
	struct fg_table *t = &c->seg.tbl;
	int idx = fg__rule_index(c, rule);
	uint64_t x, y;

	cr_assert_geq(idx, 0);
	fg__table_buckets(
	    t, fg__hash64(t->seed, (unsigned)idx, key, strlen(key)), &x, &y);
	b[0] = x < y ? x : y;
	b[1] = x < y ? y : x;
}

/* Names of @n keys of @rule ("PREFIX-N") whose buckets are those of
 * "PREFIX-0", into @keys. */
static void same_pair(fg_client *c, const char *rule, const char *prefix,
                      char keys[][32], unsigned n)
{
	uint64_t want[2], got[2];
	unsigned i, k = 0;

	key_name(keys[0], 32, prefix, 0);
	pair_of(c, rule, keys[0], want);
	for (i = 1, k = 1; k < n; i++) {
		cr_assert_lt(i, 1000000, "no keys of one pair");
		key_name(keys[k], 32, prefix, i);
		pair_of(c, rule, keys[k], got);
		k += got[0] == want[0] && got[1] == want[1];
	}
}

/* Fill a pair of buckets with keys of @rule, each admitted once; in
 * @newcomer, a key of that pair with no room left. */
static void fill(fg_client *c, const char *rule, char newcomer[32])
{
	char keys[PAIR_KEYS + 1][32];
	fg_decision d;
	unsigned i;

	same_pair(c, rule, "fill", keys, PAIR_KEYS + 1);
	for (i = 0; i < PAIR_KEYS; i++) {
		cr_assert_eq(fg_allow(c, rule, keys[i], 1, &d), 1);
		cr_assert_eq(d.flags & FG_DECISION_UNTRACKED, 0,
		             "%s found no room", keys[i]);
	}
	cr_assert_eq(stats_of(c).used, PAIR_KEYS);
	memcpy(newcomer, keys[PAIR_KEYS], 32);
}

/* The keys fill() used (the first PAIR_KEYS of its pair). */
static void filled(fg_client *c, const char *rule, char keys[][32])
{
	same_pair(c, rule, "fill", keys, PAIR_KEYS);
}

Test(pressure, a_full_pair_of_buckets_makes_room_by_evicting_a_refilled_bucket)
{
	fg_client *c = test_create("evict", SMALL_CAP);
	fg_segment_stats st;
	fg_decision d;
	char newcomer[32];

	test_rule(c, "fast", 1, 1, 1, 0); /* one token per ms */
	fill(c, "fast", newcomer);
	let_time_pass(3);
	cr_expect_eq(fg_allow(c, "fast", newcomer, 1, &d), 1);
	cr_expect_eq(d.flags & FG_DECISION_UNTRACKED, 0,
	             "the newcomer got a bucket of its own");
	st = stats_of(c);
	cr_expect_eq(st.evicted, 1, "one bucket evicted, %llu",
	             (unsigned long long)st.evicted);
	cr_expect_eq(st.table_full, 0);
	cr_expect_eq(st.used, PAIR_KEYS);
	/* the newcomer's bucket is tracked: it holds its one admission (read
	 * from the table: a second check a ms later would be admitted) */
	{
		struct fg_slot_view v;

		cr_expect(fg__bucket_get(&c->seg.tbl,
		                         (unsigned)fg__rule_index(c, "fast"),
		                         newcomer, strlen(newcomer), &v));
		cr_expect_eq(v.consumed, 1);
	}
	/* the evicted bucket's count moved to its rule */
	cr_expect_eq(c->seg.rules[fg__rule_index(c, "fast")].evicted_consumed,
	             1);
	fg_close(c);
	fg_unlink(test_segment("evict"));
}

Test(pressure, a_bucket_that_has_not_refilled_is_never_evicted)
{
	fg_client *c = test_create("keep", SMALL_CAP);
	fg_segment_stats st;
	fg_decision d;
	char keys[PAIR_KEYS][32], newcomer[32];
	unsigned i;

	test_rule(c, "slow", 2, 1, HOUR_MS, 0);
	fill(c, "slow", newcomer); /* every bucket has 1 of 2 tokens left */
	cr_expect_eq(fg_allow(c, "slow", newcomer, 1, &d), 1, "fail-open");
	cr_expect_neq(d.flags & FG_DECISION_UNTRACKED, 0);
	st = stats_of(c);
	cr_expect_eq(st.evicted, 0);
	cr_expect_eq(st.table_full, 1);
	/* every old key kept its bucket: exactly one more token each */
	filled(c, "slow", keys);
	for (i = 0; i < PAIR_KEYS; i++) {
		cr_expect_eq(fg_allow(c, "slow", keys[i], 1, NULL), 1);
		cr_expect_eq(fg_allow(c, "slow", keys[i], 1, NULL), 0,
		             "%s admitted a third time", keys[i]);
	}
	fg_close(c);
	fg_unlink(test_segment("keep"));
}

Test(pressure, a_full_pair_of_unrefilled_buckets_applies_fail_closed)
{
	fg_client *c = test_create("closed", SMALL_CAP);
	fg_decision d;
	char newcomer[32];

	test_rule(c, "slow", 2, 1, HOUR_MS, FG_RULE_FAIL_CLOSED);
	fill(c, "slow", newcomer);
	cr_expect_eq(fg_allow(c, "slow", newcomer, 1, &d), 0);
	cr_expect_neq(d.flags & FG_DECISION_UNTRACKED, 0);
	cr_expect_eq(stats_of(c).table_full, 1);
	fg_close(c);
	fg_unlink(test_segment("closed"));
}

Test(pressure, workers_never_evict_buckets_of_a_global_rule)
{
	fg_client *c = test_create("global", SMALL_CAP);
	fg_decision d;
	char newcomer[32];

	test_rule(c, "fastg", 1, 1, 1, FG_RULE_GLOBAL);
	fill(c, "fastg", newcomer);
	let_time_pass(3);
	/* full again, but maybe not harvested: only the daemon may judge */
	cr_expect_eq(fg_allow(c, "fastg", newcomer, 1, &d), 1, "fail-open");
	cr_expect_neq(d.flags & FG_DECISION_UNTRACKED, 0);
	cr_expect_eq(stats_of(c).evicted, 0);
	fg_close(c);
	fg_unlink(test_segment("global"));
}

/* A key of rule @rule whose buckets are the pair fill() filled with keys
 * of rule @filler, in @key. */
static void key_of_pair(fg_client *c, const char *filler, const char *rule,
                        char key[32])
{
	uint64_t want[2], got[2];
	char first[32];
	unsigned i;

	key_name(first, sizeof first, "fill", 0);
	pair_of(c, filler, first, want);
	for (i = 0;; i++) {
		cr_assert_lt(i, 1000000, "no key of that pair");
		key_name(key, 32, "newcomer", i);
		pair_of(c, rule, key, got);
		if (got[0] == want[0] && got[1] == want[1])
			return;
	}
}

Test(pressure, a_host_key_may_evict_a_refilled_bucket_of_another_host_rule)
{
	fg_client *c = test_create("other", SMALL_CAP);
	fg_decision d;
	char newcomer[32];

	test_rule(c, "fast", 1, 1, 1, 0);
	test_rule(c, "slow", 1, 1, HOUR_MS, FG_RULE_FAIL_CLOSED);
	fill(c, "fast", newcomer);
	key_of_pair(c, "fast", "slow", newcomer);
	let_time_pass(3);
	cr_expect_eq(fg_allow(c, "slow", newcomer, 1, &d), 1);
	cr_expect_eq(d.flags & FG_DECISION_UNTRACKED, 0);
	cr_expect_eq(stats_of(c).evicted, 1);
	cr_expect_eq(fg_allow(c, "slow", newcomer, 1, &d), 0,
	             "its bucket is tracked");
	fg_close(c);
	fg_unlink(test_segment("other"));
}

/* The bucket of (@rule, @key): 1 with @v, 0 if absent. */
static int bucket_of(fg_client *c, const char *rule, const char *key,
                     struct fg_slot_view *v)
{
	int idx = fg__rule_index(c, rule);

	cr_assert_geq(idx, 0);
	return fg__bucket_get(&c->seg.tbl, (unsigned)idx, key, strlen(key), v);
}

Test(pressure, a_check_that_meets_a_half_done_eviction_finishes_it)
{
	fg_client *c = test_create("half", SMALL_CAP);
	struct fg_slot_view v;
	fg_segment_stats st;
	fg_decision d;

	test_rule(c, "slow", 3, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c, "slow", "k", 1, NULL), 1);
	cr_assert(bucket_of(c, "slow", "k", &v));
	/* an evictor set its mark and died before freeing the slot */
	cr_assert(fg__bucket_mark_evicted(&c->seg.tbl, &v));
	cr_expect_eq(fg_allow(c, "slow", "k", 1, &d), 1);
	cr_expect_eq(d.remaining, 2, "a fresh bucket (the old one was full)");
	cr_expect_eq(d.flags & FG_DECISION_UNTRACKED, 0);
	st = stats_of(c);
	cr_expect_eq(st.evicted, 1, "the check finished the eviction");
	cr_expect_eq(st.used, 1, "and the key has one bucket");
	cr_expect(bucket_of(c, "slow", "k", &v));
	fg_close(c);
	fg_unlink(test_segment("half"));
}

Test(pressure, evicting_a_bucket_used_since_it_was_read_fails)
{
	fg_client *c = test_create("race", SMALL_CAP);
	struct fg_slot_view v;
	uint64_t now;

	test_rule(c, "fast", 2, 2, 2, 0);
	cr_assert_eq(fg_allow(c, "fast", "k", 1, NULL), 1);
	let_time_pass(3);
	/* Full, as the evictor sees it.  Every later step is at one instant:
	 * a token a ms refills in any pause (a sanitizer's, a preemption),
	 * and "kept count" must not depend on the pause being short. */
	now = fg__now_ns();
	cr_assert(bucket_of(c, "fast", "k", &v));
	cr_assert_eq(fg_allow_at(c, "fast", "k", 1, now, NULL), 1); /* wins */
	cr_expect_eq(fg__bucket_evict(&c->seg.tbl, &v, now), 0);
	cr_expect_eq(stats_of(c).evicted, 0);
	cr_expect_eq(fg_allow_at(c, "fast", "k", 1, now, NULL), 1);
	cr_expect_eq(fg_allow_at(c, "fast", "k", 1, now, NULL), 0,
	             "the bucket kept count");
	fg_close(c);
	fg_unlink(test_segment("race"));
}

/*
 * Many processes, ten times more keys than slots.  "churn" keys (host
 * scope, a token per microsecond) refill almost at once, so they keep
 * being evicted and reinserted; "exact" keys (3 tokens an hour,
 * fail-closed) never refill, so no eviction may ever take their bucket:
 * each must be admitted exactly 3 times however hard the churn pushes.
 */
#define PW_WORKERS 4
#define PW_CAP     64
#define PW_SLOTS   (FG_BUCKETS_FOR(PW_CAP) * FG_BUCKET_SLOTS)
#define PW_CHURN   (10 * PW_SLOTS)
#define PW_EXACT   24
#define PW_ROUNDS  40

struct pw_shared {
	uint64_t admitted[PW_EXACT];
	uint64_t untracked_exact;
	uint64_t churn_checks, churn_untracked;
};

static void pressure_worker(fg_client *c, struct pw_shared *sh, unsigned w)
{
	char key[32];
	unsigned r, i, k;
	fg_decision d;

	for (r = 0; r < PW_ROUNDS; r++) {
		for (i = 0; i < PW_CHURN; i++) {
			key_name(key, sizeof key, "churn",
			         (i * 7 + w * 131 + r) % PW_CHURN);
			if (fg_allow(c, "churn", key, 1, &d) < 0)
				_exit(3);
			__atomic_add_fetch(&sh->churn_checks, 1,
			                   __ATOMIC_RELAXED);
			if (d.flags & FG_DECISION_UNTRACKED)
				__atomic_add_fetch(&sh->churn_untracked, 1,
				                   __ATOMIC_RELAXED);
			if (i % (PW_CHURN / PW_EXACT) != 0)
				continue;
			k = (i / (PW_CHURN / PW_EXACT) + w) % PW_EXACT;
			key_name(key, sizeof key, "exact", k);
			switch (fg_allow(c, "exact", key, 1, &d)) {
			case 1:
				__atomic_add_fetch(&sh->admitted[k], 1,
				                   __ATOMIC_RELAXED);
				break;
			case 0:
				if (d.flags & FG_DECISION_UNTRACKED)
					__atomic_add_fetch(&sh->untracked_exact,
					                   1, __ATOMIC_RELAXED);
				break;
			default:
				_exit(4);
			}
		}
	}
}

Test(pressure, ten_times_more_keys_than_slots_never_evicts_a_bucket_in_use,
     .timeout = 120)
{
	fg_client *c = test_create("churn", PW_CAP);
	struct pw_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const char *name = test_segment("churn"); /* before fork: the pid */
	fg_segment_stats st;
	unsigned w, k, wrong = 0, done;

	cr_assert_neq(sh, MAP_FAILED);
	memset(sh, 0, sizeof *sh);
	test_rule(c, "churn", 1, 1000, 1, 0); /* a token per microsecond */
	test_rule(c, "exact", 3, 1, HOUR_MS, FG_RULE_FAIL_CLOSED);
	for (w = 0; w < PW_WORKERS; w++) {
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			fg_client *wc = NULL;

			if (fg_open(name, 0, &wc) != 0)
				_exit(2);
			pressure_worker(wc, sh, w);
			fg_close(wc);
			_exit(0);
		}
	}
	/* The owner's maintenance runs alongside, as floodgated's does: on a
	 * loaded machine a worker preempted for 20 ms in the middle of an
	 * insert has its claim abandoned, and only the reap gives such a
	 * slot back (after 200 ms here, a minute in floodgated). */
	for (done = 0; done < PW_WORKERS;) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p > 0) {
			cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			          "worker %d: %#x", (int)p, status);
			done++;
			continue;
		}
		cr_assert_geq(fg_reap(c, 200), 0);
		usleep(10000);
	}

	for (k = 0; k < PW_EXACT; k++)
		if (sh->admitted[k] != 3 && wrong++ < 5)
			cr_log_error("exact-%u admitted %llu times, not 3", k,
			             (unsigned long long)sh->admitted[k]);
	cr_expect_eq(wrong, 0,
	             "%u of %u exact keys admitted other than 3 times", wrong,
	             PW_EXACT);
	st = stats_of(c);
	cr_log_info("%llu churn checks, %llu untracked, %llu evictions, "
	            "%llu exact checks found no room",
	            (unsigned long long)sh->churn_checks,
	            (unsigned long long)sh->churn_untracked,
	            (unsigned long long)st.evicted,
	            (unsigned long long)sh->untracked_exact);
	cr_expect_gt(st.evicted, PW_CHURN,
	             "churn keys were evicted and "
	             "reinserted, %llu",
	             (unsigned long long)st.evicted);
	cr_expect_lt(sh->churn_untracked * 10, sh->churn_checks,
	             "most churn checks found room (%llu of %llu did not)",
	             (unsigned long long)sh->churn_untracked,
	             (unsigned long long)sh->churn_checks);
	cr_expect_eq(st.table_full, sh->churn_untracked + sh->untracked_exact,
	             "every check without a bucket is counted");
	munmap(sh, sizeof *sh);
	fg_close(c);
	fg_unlink(test_segment("churn"));
}

/* ---------------------------------------------------------- the daemon */

/* A daemon's node, alone in its keyring, owning a small segment. */
static struct pnode {
	struct fgw_peer_key key;
	struct fgw_keyring kr;
	uint8_t sk[FGW_SK_SIZE];
	struct fgd_node n;
	fg_client *c;
	char seg[64];
} P;

static void pnode_setup(void)
{
	fg_segment_opts o = {.capacity = SMALL_CAP};
	struct fgd_node_params np = {.incarnation = 1,
	                             .max_datagram = 1200,
	                             .interval_ms = 100,
	                             .npeers = 0};

	memset(&P, 0, sizeof P);
	cr_assert_geq(sodium_init(), 0);
	snprintf(P.key.name, sizeof P.key.name, "self");
	crypto_sign_keypair(P.key.pk, P.sk);
	P.kr.n = 1;
	P.kr.keys = &P.key;
	snprintf(P.seg, sizeof P.seg, "fgtest-pnode-%d", (int)getpid());
	fg_unlink(P.seg);
	cr_assert_eq(fg_create(P.seg, &o, 0, &P.c), 0);
	test_rule(P.c, "fastg", 1, 1, 1, FG_RULE_GLOBAL);
	test_rule(P.c, "fast", 1, 1, 1, 0);
	cr_assert_eq(fgd_node_init(&P.n, P.c, &P.kr, P.sk, P.key.pk, &np), 0);
}

static void pnode_teardown(void)
{
	fgd_node_fini(&P.n);
	fg_close(P.c);
	fg_unlink(P.seg);
}

Test(pressure, the_daemon_evicts_a_global_bucket_only_once_it_is_harvested,
     .init = pnode_setup, .fini = pnode_teardown)
{
	fg_client *c = P.c;
	const struct fgd_local *e;
	char key_s[32];
	unsigned i;
	uint64_t total = 0;

	/* more buckets than the segment is sized for (the ledger holds
	 * SMALL_CAP keys: the rest are host-scope) */
	for (i = 0; i < PRESSED_KEYS; i++) {
		key_name(key_s, sizeof key_s, "g", i);
		cr_assert_eq(fg_allow(c, i < SMALL_CAP ? "fastg" : "fast",
		                      key_s, 1, NULL),
		             1);
	}
	let_time_pass(3); /* all full again, none harvested yet */
	P.n.harvest.ready = PRESSED_KEYS;
	cr_expect_eq(fgd_node_evict(&P.n), PRESSED_KEYS - SMALL_CAP,
	             "host buckets evicted, global ones not yet harvested");
	cr_expect_eq(stats_of(c).used, SMALL_CAP);
	/* pressure again; this time the harvest comes first */
	for (i = SMALL_CAP; i < PRESSED_KEYS; i++) {
		key_name(key_s, sizeof key_s, "h", i);
		cr_assert_eq(fg_allow(c, "fast", key_s, 1, NULL), 1);
	}
	let_time_pass(3);
	fgd_node_harvest(&P.n, 1); /* harvests, then evicts */
	cr_expect_eq(stats_of(c).evicted,
	             2 * (PRESSED_KEYS - SMALL_CAP) + SMALL_CAP);
	cr_expect_eq(stats_of(c).used, 0);
	for (i = 0; i < SMALL_CAP; i++) {
		key_name(key_s, sizeof key_s, "g", i);
		e = fgd_node_count(&P.n, "fastg", key_s, strlen(key_s));
		cr_expect_not_null(e, "%s reached the ledger", key_s);
		if (e) /* a new count starts at its floor (node.h) */
			total += e->count - e->floor;
	}
	cr_expect_eq(total, SMALL_CAP, "every admission is in the ledger");
	cr_expect_eq(P.n.ctr.harvested, SMALL_CAP);
}

Test(pressure, the_daemon_leaves_a_table_below_capacity_alone,
     .init = pnode_setup, .fini = pnode_teardown)
{
	cr_assert_eq(fg_allow(P.c, "fast", "a", 1, NULL), 1);
	cr_assert_eq(fg_allow(P.c, "fast", "b", 1, NULL), 1);
	let_time_pass(3);
	fgd_node_harvest(&P.n, 1);
	cr_expect_eq(stats_of(P.c).evicted, 0, "no pressure, no eviction");
	cr_expect_eq(stats_of(P.c).used, 2);
}
