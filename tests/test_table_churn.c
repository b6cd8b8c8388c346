/* SPDX-License-Identifier: ISC */
/*
 * test_table_churn.c - the table under churn, from many processes: inserts and
 * evictions racing, keys moved by inserts under the owner's evictions and
 * reaps, concurrent inserts of one long key, and workers killed at any
 * instruction while all of that goes on.
 *
 * The claims of shm/table.c checked here, each by a figure that a table
 * without the mechanism would get wrong: one bucket per key (two
 * inserters of one key never both publish; a lookup never misses a
 * present key, or a second bucket appears), exact admission from a bucket
 * that churn around it never evicts, and tables that stay usable and
 * exact however many workers are killed.  Segments are named
 * fg-table-churn-*.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <sched.h>

#include "shm/hash.h"

#include "tests/helpers.h"
#include "tests/procs.h"

static char segment[80];

static void unlink_segment(void)
{
	if (segment[0] != '\0')
		(void)fg_unlink(segment);
}

TestSuite(table_churn, .timeout = 120, .fini = unlink_segment);

static fg_client *churn_create(const char *tag, uint64_t capacity)
{
	fg_segment_opts o = {.capacity = capacity};
	fg_client *c = NULL;
	int r;

	snprintf(segment, sizeof segment, "fg-table-churn-%s-%d", tag,
	         (int)getpid());
	(void)fg_unlink(segment);
	r = fg_create(segment, &o, 0, &c);
	cr_assert_eq(r, 0, "fg_create: %s", fg_strerror(r));
	/* churn: a token a ms, so any bucket is full again (evictable) a ms
	 * after its last check; pin: never refills, never evictable */
	test_rule(c, "churn", 1, 1, 1, 0);
	test_rule(c, "pin", 1000000, 1, 60000, FG_RULE_FAIL_CLOSED);
	return c;
}

static void churn_destroy(fg_client *c)
{
	fg_close(c);
	cr_expect_eq(fg_unlink(segment), 0);
	segment[0] = '\0';
}

/* Check churn key @k (of a pool of @pool), new or not: evictions. */
static int churn_once(fg_client *c, uint64_t *rng, unsigned pool)
{
	char key[24];

	snprintf(key, sizeof key, "c%u", (unsigned)(xorshift(rng) % pool));
	return fg_allow(c, "churn", key, 1, NULL) < 0 ? -1 : 0;
}

/* ---------------------------------- 1. exact admission amid evictions */

#define EX_WORKERS  8u
#define EX_CAPACITY 28u   /* two blocks: evictions all around the key */
#define EX_TOKENS   5000u /* the exact key's bucket */
#define EX_POOL     400u  /* churn keys: 14 times the capacity */

struct ex_shm {
	uint64_t admitted[EX_WORKERS];
	uint64_t churned[EX_WORKERS];
};

struct ex_job {
	struct ex_shm *shm;
	struct start_gun gun;
	const char *segment;
};

/* Take tokens from "exact" until it is empty, a churn key between two. */
static int ex_worker(void *arg, unsigned i)
{
	const struct ex_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (i + 1), admitted = 0, n = 0;
	unsigned run = 0;
	fg_client *c = NULL;

	if (fg_open(job->segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	/* until the bucket is empty and the churn has evicted more than the
	 * table holds (a churn key refills, and may go, 1 ms after its check:
	 * a fast run must go on a little) */
	while (run < 2000 || __atomic_load_n(&c->seg.tbl.hdr->evicted,
	                                     __ATOMIC_RELAXED) <= EX_CAPACITY) {
		fg_decision d;
		int r = fg_allow(c, "pin", "exact", 1, &d);

		if (r < 0 || churn_once(c, &rng, EX_POOL) != 0)
			return WX_ERROR;
		if (r == 1) {
			admitted++;
			run = 0;
		} else if (!(d.flags & FG_DECISION_UNTRACKED)) {
			run++; /* a real denial: the bucket is empty */
		}
		if ((++n & 255) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
	store64(&job->shm->admitted[i], admitted);
	store64(&job->shm->churned[i], n);
	fg_close(c);
	return 0;
}

static void exact_amid_evictions(const char *tag, unsigned nworkers)
{
	fg_client *c = churn_create(tag, EX_CAPACITY);
	struct ex_shm *shm = shared_alloc(sizeof *shm);
	struct ex_job job = {.shm = shm, .segment = segment};
	struct fg_slot_view v;
	uint64_t admitted = 0, churned = 0;
	fg_segment_stats st;
	unsigned i;

	test_rule(c, "pin", EX_TOKENS, 1, 60000, FG_RULE_FAIL_CLOSED);
	gun_load(&job.gun);
	spawn_n(ex_worker, &job, nworkers);
	gun_fire(&job.gun, nworkers);
	wait_children((int)nworkers);

	for (i = 0; i < nworkers; i++) {
		admitted += load64(&shm->admitted[i]);
		churned += load64(&shm->churned[i]);
	}
	st = stats_of(c);
	cr_log_info("%u workers: %llu admitted of %u, %llu churn checks, "
	            "%llu evictions",
	            nworkers, (unsigned long long)admitted, EX_TOKENS,
	            (unsigned long long)churned,
	            (unsigned long long)st.evicted);
	cr_expect_eq(admitted, EX_TOKENS, "%u workers admitted %llu of %u",
	             nworkers, (unsigned long long)admitted, EX_TOKENS);
	cr_assert(bucket_of(c, "pin", "exact", &v), "the key kept its bucket");
	cr_expect_eq(v.consumed, EX_TOKENS);
	cr_expect_gt(st.evicted, EX_CAPACITY, "the churn did evict");
	cr_expect_eq(duplicate_buckets(c), 0, "no key has two buckets");
	munmap(shm, sizeof *shm);
	churn_destroy(c);
}

Test(table_churn, exact_admits_amid_evictions_with_2_workers)
{
	exact_amid_evictions("exact2", 2);
}

Test(table_churn, exact_admits_amid_evictions_with_4_workers)
{
	exact_amid_evictions("exact4", 4);
}

Test(table_churn, exact_admits_amid_evictions_with_8_workers)
{
	exact_amid_evictions("exact8", 8);
}

/* ------------------ 2. keys moved by inserts, amid evictions and reaps */

#define RO_CAPACITY 28u
#define RO_PINS     12u  /* keys that must never be missed */
#define RO_POOL     200u /* churn keys */
#define RO_WORKERS  4u
#define RO_RUN_NS   (1500 * MS)

struct ro_shm {
	uint64_t stop;
	uint64_t pinned[RO_WORKERS]; /* admissions on pin keys */
};

struct ro_job {
	struct ro_shm *shm;
	struct start_gun gun;
	const char *segment;
};

/* Churn, and check pin keys (each admitted: 10^6 tokens) in between. */
static int ro_worker(void *arg, unsigned i)
{
	const struct ro_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	uint64_t rng = 0x51ed270b27d4a1c5ull * (i + 1), pinned = 0;
	fg_client *c = NULL;
	char key[16];

	if (fg_open(job->segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	while (!load64(&job->shm->stop)) {
		int r;

		if (churn_once(c, &rng, RO_POOL) != 0)
			return WX_ERROR;
		snprintf(key, sizeof key, "p%u",
		         (unsigned)(xorshift(&rng) % RO_PINS));
		r = fg_allow(c, "pin", key, 1, NULL);
		if (r < 0)
			return WX_ERROR;
		pinned += (uint64_t)r;
		if (fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
	store64(&job->shm->pinned[i], pinned);
	fg_close(c);
	return 0;
}

/* As the daemon does under pressure: evict every bucket that is full
 * again (pin buckets never are), after refilling those of rule @refill
 * if it is not NULL.  Returns how many. */
static uint64_t evict_full(fg_client *c, const char *refill)
{
	int fill = refill ? rule_index(c, refill) : -1;
	uint64_t cur = 0, n = 0, now = fg__now_ns();
	struct fg_slot_view v;

	while (fg__slot_next(&c->seg.tbl, &cur, &v)) {
		if ((int)v.rule == fill &&
		    fg__bucket_refill(&c->seg.tbl, &v, now - 1))
			(void)fg__slot_read(&c->seg.tbl, v.slot, &v);
		n += fg__bucket_evict(&c->seg.tbl, &v, now) == FG__EVICT_FREED;
	}
	return n;
}

/* The slot of each pin key, in @at. */
static void pin_slots(fg_client *c, uint64_t at[RO_PINS])
{
	char key[16];
	unsigned i;

	for (i = 0; i < RO_PINS; i++) {
		struct fg_slot_view v;

		snprintf(key, sizeof key, "p%u", i);
		cr_assert(bucket_of(c, "pin", key, &v), "%s has a bucket", key);
		at[i] = v.slot;
	}
}

/*
 * Pin keys sit among churn keys in a small table that keeps filling up:
 * the inserts of churn keys move pin keys to their other buckets (paths
 * of moves) while checks of them run, and the parent, as the owner,
 * evicts the buckets that are full again and runs the reap without pause.
 * A check that missed a pin key in flight would insert a second bucket (a
 * pin bucket is never evicted, so it would still be there), and the
 * admissions would split.
 */
Test(table_churn,
     keys_moved_by_inserts_amid_evictions_and_reaps_stay_one_bucket)
{
	fg_client *c = churn_create("moves", RO_CAPACITY);
	struct ro_shm *shm = shared_alloc(sizeof *shm);
	struct ro_job job = {.shm = shm, .segment = segment};
	uint64_t t0, pinned = RO_PINS, consumed = 0, passes = 0;
	uint64_t before[RO_PINS], after[RO_PINS];
	fg_segment_stats st;
	unsigned i, moved = 0;
	char key[16];

	for (i = 0; i < RO_PINS; i++) {
		snprintf(key, sizeof key, "p%u", i);
		cr_assert_eq(fg_allow(c, "pin", key, 1, NULL), 1);
	}
	pin_slots(c, before);
	gun_load(&job.gun);
	spawn_n(ro_worker, &job, RO_WORKERS);
	gun_fire(&job.gun, RO_WORKERS);
	t0 = fg__now_ns();
	while (fg__now_ns() - t0 < RO_RUN_NS) {
		(void)evict_full(c, NULL);
		cr_assert_geq(fg_reap(c, 0), 0);
		passes++;
	}
	store64(&shm->stop, 1);
	wait_children(RO_WORKERS);

	for (i = 0; i < RO_WORKERS; i++)
		pinned += load64(&shm->pinned[i]);
	pin_slots(c, after);
	for (i = 0; i < RO_PINS; i++) {
		struct fg_slot_view v;

		snprintf(key, sizeof key, "p%u", i);
		cr_assert(bucket_of(c, "pin", key, &v));
		consumed += v.consumed;
		moved += after[i] != before[i];
	}
	st = stats_of(c);
	cr_log_info("%u of %u pins at another slot at the end, %llu reap "
	            "passes, %llu evictions, %llu pin admissions",
	            moved, RO_PINS, (unsigned long long)passes,
	            (unsigned long long)st.evicted, (unsigned long long)pinned);
	cr_expect_eq(duplicate_buckets(c), 0, "no key has two buckets");
	cr_expect_eq(consumed, pinned, "every pin admission in one bucket");
	cr_expect_gt(moved, 0, "inserts moved pin keys");
	munmap(shm, sizeof *shm);
	churn_destroy(c);
}

/* ------------------------------------------- 3. long keys, same order */

#define LK_KEYS    120u
#define LK_WORKERS 8u

struct lk_shm {
	uint64_t admitted[LK_KEYS];
	uint64_t done[LK_KEYS];
};

struct lk_job {
	struct lk_shm *shm;
	struct start_gun gun;
	fg_client *c;
};

/* Keys of 17 to 64 bytes: a slot and a record each. */
static void long_key(char *buf, unsigned k)
{
	unsigned len = 17 + k % 48;

	memset(buf, 'a' + (char)(k % 26), len);
	snprintf(buf, len, "long-%u-", k);
	buf[strlen(buf)] = 'x';
	buf[len] = '\0';
}

static int lk_worker(void *arg, unsigned i)
{
	const struct lk_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	char key[FG_KEY_MAX + 1];
	unsigned k;

	(void)i;
	map_segment(job->c);
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	for (k = 0; k < LK_KEYS; k++) {
		int r;

		long_key(key, k);
		while (k > 0 && load64(&job->shm->done[k - 1]) < LK_WORKERS) {
			if (fg__now_ns() > deadline)
				return WX_DEADLINE;
			(void)sched_yield();
		}
		r = fg_allow(job->c, "once", key, 1, NULL);
		if (r < 0)
			return WX_ERROR;
		if (r == 1)
			__atomic_add_fetch(&job->shm->admitted[k], 1,
			                   __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&job->shm->done[k], 1, __ATOMIC_SEQ_CST);
	}
	return 0;
}

/* 8 workers insert the same long keys in step: every key is new to all
 * of them at once, and each of them takes a record before it claims. */
Test(table_churn, same_long_keys_from_8_workers_get_one_bucket_each)
{
	fg_client *c = churn_create("longkeys", 4 * LK_KEYS);
	struct lk_shm *shm = shared_alloc(sizeof *shm);
	struct lk_job job = {.shm = shm, .c = c};
	unsigned k, wrong = 0;

	test_rule(c, "once", 1, 1, HOUR_MS, 0);
	gun_load(&job.gun);
	spawn_n(lk_worker, &job, LK_WORKERS);
	gun_fire(&job.gun, LK_WORKERS);
	wait_children(LK_WORKERS);
	for (k = 0; k < LK_KEYS; k++)
		if (load64(&shm->admitted[k]) != 1 && wrong++ == 0)
			cr_log_error(
			    "long key %u admitted %llu times", k,
			    (unsigned long long)load64(&shm->admitted[k]));
	cr_expect_eq(wrong, 0, "%u of %u keys not admitted exactly once", wrong,
	             LK_KEYS);
	cr_expect_eq(duplicate_buckets(c), 0, "no key has two buckets");
	cr_expect_eq(stats_of(c).used, LK_KEYS);
	cr_expect_eq(stats_of(c).inserts, LK_KEYS);
	munmap(shm, sizeof *shm);
	churn_destroy(c);
}

/* ------------------------ 4. SIGKILL storms amid inserts and evictions */

#define KS_CAPACITY 42u /* 24 buckets */
#define KS_PINS     6u
#define KS_TOKENS   400u /* each pin key's bucket */
#define KS_POOL     300u
#define KS_WORKERS  4u
#define KS_ROUNDS   60u
#define KS_GAP_US   300u

struct ks_job {
	struct start_gun gun;
	fg_client *c;
	uint64_t seed;
};

/* Churn keys (short and long) and pin keys, until killed. */
static int ks_worker(void *arg, unsigned i)
{
	const struct ks_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	uint64_t rng = (job->seed ^ (i + 1) * 0x9e3779b97f4a7c15ull) | 1;
	char key[FG_KEY_MAX + 1];

	map_segment(job->c);
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	for (;;) {
		uint64_t x = xorshift(&rng);

		if (x % 4 == 0) {
			snprintf(key, sizeof key, "p%u",
			         (unsigned)(x / 4 % KS_PINS));
			if (fg_allow(job->c, "pin", key, 1, NULL) < 0)
				return WX_ERROR;
		} else if (x % 4 == 1) {
			long_key(key, (unsigned)(x / 4 % KS_POOL));
			if (fg_allow(job->c, "churn", key, 1, NULL) < 0)
				return WX_ERROR;
		} else if (churn_once(job->c, &rng, KS_POOL) != 0) {
			return WX_ERROR;
		}
		if (fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
}

static void ks_round(fg_client *c, uint64_t *rng)
{
	struct ks_job job = {.c = c, .seed = xorshift(rng)};
	pid_t pids[KS_WORKERS];
	unsigned i;

	gun_load(&job.gun);
	for (i = 0; i < KS_WORKERS; i++)
		pids[i] = spawn(ks_worker, &job, i);
	gun_fire(&job.gun, KS_WORKERS);
	kill_each(pids, KS_WORKERS, rng, KS_GAP_US);
}

/*
 * Rounds of workers, all killed at random moments, in a table at
 * capacity where every check of a churn key may evict, insert or move
 * keys along a path; the owner reaps between rounds (twice: claims
 * become DEAD, then free once as old again).  Then: no key has two buckets,
 * every pin key's bucket gives exactly its capacity however many kills hit it,
 * and the table still takes keys.
 */
Test(table_churn, sigkill_storm_amid_inserts_and_evictions_leaves_buckets_exact)
{
	fg_client *c = churn_create("sigkill", KS_CAPACITY);
	uint64_t rng = fg__now_ns() | 1, reaped = 0;
	char key[16];
	unsigned r, k, inexact = 0;

	test_rule(c, "pin", KS_TOKENS, 1, 60000, FG_RULE_FAIL_CLOSED);
	for (k = 0; k < KS_PINS; k++) { /* in place before the churn */
		snprintf(key, sizeof key, "p%u", k);
		cr_assert_eq(fg_allow(c, "pin", key, 1, NULL), 1);
	}
	for (r = 0; r < KS_ROUNDS; r++) {
		ks_round(c, &rng);
		/* every worker dead: claims left are abandoned */
		usleep(FG_CLAIM_STALE_NS / 1000 + 1000);
		reaped += (uint64_t)fg_reap(c, 0);
		usleep(FG_CLAIM_STALE_NS / 1000 + 1000);
		reaped += (uint64_t)fg_reap(c, 0);
	}
	cr_expect_eq(duplicate_buckets(c), 0, "no key has two buckets");
	for (k = 0; k < KS_PINS; k++) {
		struct fg_slot_view v;
		unsigned got = 0;

		snprintf(key, sizeof key, "p%u", k);
		cr_assert(bucket_of(c, "pin", key, &v), "%s kept its bucket",
		          key);
		while (fg_allow(c, "pin", key, 1, NULL) == 1 &&
		       got <= KS_TOKENS)
			got++;
		cr_assert(bucket_of(c, "pin", key, &v));
		if (v.consumed != KS_TOKENS && inexact++ == 0)
			cr_log_error("%s: %llu consumed of %u (%u drained)",
			             key, (unsigned long long)v.consumed,
			             KS_TOKENS, got);
	}
	cr_expect_eq(inexact, 0, "%u pin buckets not exact", inexact);
	cr_expect_eq(count_state(c, FG_SLOT_CLAIMED), 0);
	cr_expect_eq(count_state(c, FG_SLOT_DEAD), 0);
	cr_log_info(
	    "%u rounds of %u kills: %llu abandoned, %llu reaped, %llu evicted",
	    KS_ROUNDS, KS_WORKERS, (unsigned long long)stats_of(c).abandoned,
	    (unsigned long long)reaped,
	    (unsigned long long)stats_of(c).evicted);
	/* still usable: a new key gets a bucket (evicting a churn key) */
	cr_expect_eq(fg_allow(c, "churn", "after-the-storm", 1, NULL), 1);
	churn_destroy(c);
}
