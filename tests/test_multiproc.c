/* SPDX-License-Identifier: ISC */
/*
 * test_multiproc.c - many processes on one segment, as in a prefork server:
 * exact admission under contention, concurrent inserts of the same new
 * keys, refill against the wall clock, workers killed at any instruction,
 * handles inherited across fork(), and rule changes under running workers.
 *
 * Workers are forked children.  They never call cr_assert (Criterion's
 * runner must only hear from the test process): they report through an
 * anonymous MAP_SHARED page and their exit status, always leave with
 * _exit(), die with the test process (PR_SET_PDEATHSIG) and give up after
 * WORKER_DEADLINE_NS, so a broken library fails a test instead of hanging
 * it.  Nothing here sleeps to avoid a race: workers start together from a
 * start gun, and usleep() only spreads the moments of SIGKILL.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/layout.h"
#include "shm/scan.h"
#include "tests/helpers.h"
#include "tests/procs.h"

static char segment[80]; /* of the running test, for the fini hook */

static void unlink_segment(void)
{
	if (segment[0] != '\0')
		(void)fg_unlink(segment);
}

TestSuite(multiproc, .timeout = 60, .fini = unlink_segment);

/* A segment of the test's own, removed after the test even if it fails. */
static fg_client *mp_create(const char *tag, uint64_t capacity)
{
	fg_client *c = test_create(tag, capacity);

	snprintf(segment, sizeof segment, "%s", test_segment(tag));
	return c;
}

static void mp_destroy(fg_client *c)
{
	fg_close(c);
	cr_expect_eq(fg_unlink(segment), 0);
	segment[0] = '\0';
}

/* ------------------------------------------ draining one key from N workers */

#define MAX_WORKERS 8u
/* Denials in a row after which a worker takes a bucket that does not
 * refill for empty.  With exact buckets the first denial would do; a long
 * run keeps a denial that came too early (under contention, say) from
 * hiding behind a worker that stopped. */
#define DENIAL_RUN 20000u

struct drain_shm {
	uint64_t admitted[MAX_WORKERS];
	uint64_t denied[MAX_WORKERS];
};

struct drain_job {
	struct drain_shm *shm;
	struct start_gun gun;
	fg_client *c;        /* the parent's handle, or NULL: open one */
	const char *segment; /* for fg_open */
	const char *rule, *key;
};

/* Take tokens from one key until DENIAL_RUN denials in a row. */
static int drain_worker(void *arg, unsigned i)
{
	const struct drain_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	uint64_t admitted = 0, denied = 0, n = 0;
	fg_client *c = job->c;
	unsigned run = 0;

	if (c == NULL && fg_open(job->segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	while (run < DENIAL_RUN) {
		int r = fg_allow(c, job->rule, job->key, 1, NULL);

		if (r == 1) {
			admitted++;
			run = 0;
		} else if (r == 0) {
			denied++;
			run++;
		} else {
			return WX_ERROR;
		}
		if ((++n & 1023) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
	store64(&job->shm->admitted[i], admitted);
	store64(&job->shm->denied[i], denied);
	if (job->c == NULL)
		fg_close(c);
	return 0;
}

static uint64_t sum(const uint64_t *v, unsigned n)
{
	uint64_t s = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		s += load64(&v[i]);
	return s;
}

/* ----------------------------------------------------- 1. exact admission */

#define EXACT_CAPACITY 20000u

/*
 * @nworkers processes, each with its own handle, start together on a key
 * nobody has checked yet (so they also race to insert it) and take tokens
 * from a bucket that never refills until each sees it empty.
 */
static void exact_admits(const char *tag, unsigned nworkers)
{
	fg_client *c = mp_create(tag, 64);
	struct drain_shm *shm = shared_alloc(sizeof *shm);
	struct drain_job job = {.shm = shm,
	                        .segment = segment,
	                        .rule = "exact",
	                        .key = "the-one-key"};
	fg_segment_stats st;
	uint64_t admitted;

	test_rule(c, "exact", EXACT_CAPACITY, 1, HOUR_MS, 0);
	gun_load(&job.gun);
	spawn_n(drain_worker, &job, nworkers);
	gun_fire(&job.gun, nworkers);
	wait_children((int)nworkers);

	admitted = sum(shm->admitted, nworkers);
	cr_expect_eq(admitted, EXACT_CAPACITY,
	             "%u workers admitted %llu from a bucket of %u", nworkers,
	             (unsigned long long)admitted, EXACT_CAPACITY);
	cr_expect_eq(fg_allow(c, "exact", "the-one-key", 1, NULL), 0,
	             "the bucket is empty afterwards");
	st = stats_of(c);
	cr_expect_eq(st.consumed, EXACT_CAPACITY, "consumed %llu",
	             (unsigned long long)st.consumed);
	cr_expect_eq(st.used, 1, "one bucket for one key, not %llu",
	             (unsigned long long)st.used);
	cr_expect_eq(st.inserts, 1);
	cr_expect_eq(st.denied, sum(shm->denied, nworkers) + 1,
	             "every denial is counted once");
	munmap(shm, sizeof *shm);
	mp_destroy(c);
}

Test(multiproc, exact_admits_with_2_workers)
{
	exact_admits("exact2", 2);
}

Test(multiproc, exact_admits_with_4_workers)
{
	exact_admits("exact4", 4);
}

Test(multiproc, exact_admits_with_8_workers)
{
	exact_admits("exact8", 8);
}

/* ------------------------------------ 2. concurrent inserts of new keys */

#define FRESH_KEYS     500u
#define INSERT_WORKERS 8u

struct insert_shm {
	uint64_t admitted[FRESH_KEYS];
	uint64_t done[FRESH_KEYS]; /* workers past their k-th check */
};

struct insert_job {
	struct insert_shm *shm;
	struct start_gun gun;
	fg_client *c;
	int shuffled; /* each worker its own order; else all 0, 1, 2 ... */
};

static void fresh_key(char *buf, size_t size, unsigned k)
{
	snprintf(buf, size, "fresh-%u", k);
}

/*
 * Check every fresh key once, under a rule of capacity 1.  The workers go
 * in step: none starts its k-th check before all have done their k-1-th,
 * so that with one order for all, every key is new to all of them at once.
 */
static int insert_worker(void *arg, unsigned i)
{
	const struct insert_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (i + 1);
	unsigned order[FRESH_KEYS], k;
	char key[32];

	for (k = 0; k < FRESH_KEYS; k++)
		order[k] = k;
	for (k = FRESH_KEYS - 1; job->shuffled && k > 0; k--) {
		unsigned j = (unsigned)(xorshift(&rng) % (k + 1));
		unsigned tmp = order[k];

		order[k] = order[j];
		order[j] = tmp;
	}
	map_segment(job->c);
	if (fg_allow(job->c, "once", "warm", 1, NULL) != 0)
		return WX_ERROR; /* runs the code of a check, takes nothing */
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	for (k = 0; k < FRESH_KEYS; k++) {
		int r;

		fresh_key(key, sizeof key, order[k]);
		while (k > 0 &&
		       load64(&job->shm->done[k - 1]) < INSERT_WORKERS) {
			if (fg__now_ns() > deadline)
				return WX_DEADLINE;
			(void)sched_yield();
		}
		r = fg_allow(job->c, "once", key, 1, NULL);
		if (r < 0)
			return WX_ERROR;
		if (r == 1)
			__atomic_add_fetch(&job->shm->admitted[order[k]], 1,
			                   __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&job->shm->done[k], 1, __ATOMIC_SEQ_CST);
	}
	return 0;
}

/*
 * INSERT_WORKERS processes check the same FRESH_KEYS new keys in a table
 * sized for exactly that many keys (so probe chains are long): one bucket
 * per key must come out, each admitting its single token once.
 */
static void one_bucket_per_key(const char *tag, int shuffled)
{
	fg_client *c = mp_create(tag, FRESH_KEYS);
	struct insert_shm *shm = shared_alloc(sizeof *shm);
	struct insert_job job = {.shm = shm, .c = c, .shuffled = shuffled};
	unsigned k, wrong = 0;
	fg_segment_stats st;

	test_rule(c, "once", 1, 1, HOUR_MS, 0);
	cr_assert_eq(fg_allow(c, "once", "warm", 1, NULL), 1);
	gun_load(&job.gun);
	spawn_n(insert_worker, &job, INSERT_WORKERS);
	gun_fire(&job.gun, INSERT_WORKERS);
	wait_children(INSERT_WORKERS);

	for (k = 0; k < FRESH_KEYS; k++) {
		uint64_t n = load64(&shm->admitted[k]);

		if (n != 1 && wrong++ == 0)
			cr_log_error("key fresh-%u admitted %llu times", k,
			             (unsigned long long)n);
	}
	cr_expect_eq(wrong, 0, "%u of %u keys not admitted exactly once", wrong,
	             FRESH_KEYS);
	cr_expect_eq(duplicate_buckets(c), 0, "no key has two buckets");
	st = stats_of(c); /* the fresh keys, and "warm" */
	cr_expect_eq(st.used, FRESH_KEYS + 1, "%llu buckets for %u keys",
	             (unsigned long long)st.used, FRESH_KEYS + 1);
	cr_expect_eq(st.inserts, FRESH_KEYS + 1, "%llu inserts for %u keys",
	             (unsigned long long)st.inserts, FRESH_KEYS + 1);
	cr_expect_eq(st.consumed, FRESH_KEYS + 1);
	cr_expect_eq(st.denied,
	             (INSERT_WORKERS - 1) * FRESH_KEYS + INSERT_WORKERS,
	             "%llu denials counted of %u (rule %llu)",
	             (unsigned long long)st.denied,
	             (INSERT_WORKERS - 1) * FRESH_KEYS + INSERT_WORKERS,
	             (unsigned long long)c->seg.rules[rule_index(c, "once")]
	                 .evicted_denied);
	cr_expect_eq(st.table_full, 0);
	munmap(shm, sizeof *shm);
	mp_destroy(c);
}

Test(multiproc, same_new_keys_in_same_order_from_8_workers_get_one_bucket_each)
{
	one_bucket_per_key("samekeys", 0);
}

Test(multiproc,
     same_new_keys_in_other_orders_from_8_workers_get_one_bucket_each)
{
	one_bucket_per_key("shufkeys", 1);
}

/* ----------------------------------------------------------- 3. refill */

#define REFILL_WORKERS  4u
#define REFILL_CAPACITY 50u
#define REFILL_RATE     1000u /* tokens ... */
#define REFILL_PERIOD   1000u /* ... per this many ms: one per ms */
#define REFILL_RUN_NS   (300 * MS)

struct refill_shm {
	uint64_t first_ns[REFILL_WORKERS]; /* before its first check */
	uint64_t last_ns[REFILL_WORKERS];  /* after its last check */
	uint64_t admitted[REFILL_WORKERS];
};

struct refill_job {
	struct refill_shm *shm;
	struct start_gun gun;
	fg_client *c;
};

static int refill_worker(void *arg, unsigned i)
{
	const struct refill_job *job = arg;
	uint64_t admitted = 0, t0, t;

	if (gun_wait(&job->gun) != 0)
		return WX_START;
	t0 = fg__now_ns();
	do {
		int r = fg_allow(job->c, "refill", "hot", 1, NULL);

		if (r < 0)
			return WX_ERROR;
		admitted += (uint64_t)r;
		t = fg__now_ns();
	} while (t - t0 < REFILL_RUN_NS);
	store64(&job->shm->first_ns[i], t0);
	store64(&job->shm->last_ns[i], t);
	store64(&job->shm->admitted[i], admitted);
	return 0;
}

/*
 * A bucket first seen at t0 is full then and gains one token per interval:
 * by t it has admitted at most capacity + (t - t0) / interval.  The lower
 * bound only shows that refill happens at all: a quarter of the refill is
 * enough, as a loaded machine may keep every worker off the CPU for longer
 * than the bucket takes to fill (50 ms), and tokens not taken then are lost.
 */
Test(multiproc, admitted_with_refill_never_exceed_capacity_plus_refill)
{
	fg_client *c = mp_create("refill", 64);
	struct refill_shm *shm = shared_alloc(sizeof *shm);
	struct refill_job job = {.shm = shm, .c = c};
	uint64_t first = UINT64_MAX, last = 0, elapsed, refill, admitted;
	uint64_t interval =
	    ((uint64_t)REFILL_PERIOD * MS + REFILL_RATE - 1) / REFILL_RATE;
	unsigned i;

	test_rule(c, "refill", REFILL_CAPACITY, REFILL_RATE, REFILL_PERIOD, 0);
	gun_load(&job.gun);
	spawn_n(refill_worker, &job, REFILL_WORKERS);
	gun_fire(&job.gun, REFILL_WORKERS);
	wait_children(REFILL_WORKERS);

	for (i = 0; i < REFILL_WORKERS; i++) {
		if (load64(&shm->first_ns[i]) < first)
			first = load64(&shm->first_ns[i]);
		if (load64(&shm->last_ns[i]) > last)
			last = load64(&shm->last_ns[i]);
	}
	elapsed = last - first;
	refill = elapsed / interval;
	admitted = sum(shm->admitted, REFILL_WORKERS);
	cr_log_info("refill: %llu admitted in %llu ms (bound %llu)",
	            (unsigned long long)admitted,
	            (unsigned long long)(elapsed / MS),
	            (unsigned long long)(REFILL_CAPACITY + refill + 1));
	cr_expect_leq(admitted, REFILL_CAPACITY + refill + 1,
	              "admitted %llu > capacity %u + %llu refilled in %llu ns",
	              (unsigned long long)admitted, REFILL_CAPACITY,
	              (unsigned long long)refill, (unsigned long long)elapsed);
	cr_expect_geq(admitted, REFILL_CAPACITY + refill / 4,
	              "admitted %llu: the bucket hardly refills (%llu ns)",
	              (unsigned long long)admitted,
	              (unsigned long long)elapsed);
	cr_expect_eq(stats_of(c).consumed, admitted);
	munmap(shm, sizeof *shm);
	mp_destroy(c);
}

/* ---------------------------------------------- 4. workers killed anywhere */

/*
 * Rounds of KILL_WORKERS workers, all killed: KILL_MIN_KILLS kill events,
 * more while kills have left fewer than KILL_WANT_STALE claims and time is
 * below KILL_MORE_NS, fewer if a very slow machine reaches KILL_MAX_NS.
 */
#define KILL_WORKERS    4u
#define KILL_MIN_KILLS  200u
#define KILL_WANT_STALE 10u
#define KILL_MORE_NS    (5 * SEC)
#define KILL_MAX_NS     (8 * SEC)
#define KILL_MAX_ROUNDS 100u
#define KILL_KEYS       512u /* fresh keys per round */
#define KILL_KEY_SIZE   16u
#define KILL_TOKENS     64u   /* per-round shared bucket, no refill */
#define KILL_GAP_US     150u  /* longest pause before each kill */
#define KILL_AFTER_KEYS 2000u /* inserted after reaping */
#define KILL_PLANTED    8u    /* rounds that start with a dead claim */
/* buckets of a round: its keys, its shared key, two warm-up keys a worker */
#define KILL_ROUND_KEYS (KILL_KEYS + 1 + 2 * KILL_WORKERS)

struct kill_shm {
	uint64_t cursor[KILL_MAX_ROUNDS]; /* each round's next fresh key */
};

struct kill_job {
	fg_client *c;
	struct kill_shm *shm;
	unsigned round;
	uint64_t seed;
	struct start_gun gun;
};

static void kill_key(char *buf, size_t size, unsigned round, unsigned k)
{
	snprintf(buf, size, "r%u-k%u", round, k);
}

static void kill_shared_key(char *buf, size_t size, unsigned round)
{
	snprintf(buf, size, "r%u-shared", round);
}

/*
 * Get a new worker to full speed before it is let go: map every page of
 * the segment and run the code of a check once, so that a kill does not
 * merely interrupt page faults.
 */
static int warm_up(const struct kill_job *job, unsigned i)
{
	char key[KILL_KEY_SIZE];

	map_segment(job->c);
	snprintf(key, sizeof key, "r%u-w%u", job->round, i);
	if (fg_allow(job->c, "pool", key, 1, NULL) < 0 ||
	    fg_allow(job->c, "pool", key, 1, NULL) < 0 ||
	    fg_allow(job->c, "drain", key, 1, NULL) < 0)
		return -1;
	return 0;
}

/*
 * The round's workers check the round's fresh keys together, in the same
 * order (a shared cursor moves on after each check), so that most checks
 * are inserts and several processes race to insert each key; every fourth
 * check is followed by one on the round's shared bucket.  Once the keys
 * run out, look up random ones.  Until killed.
 */
static int kill_worker(void *arg, unsigned i)
{
	const struct kill_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS;
	uint64_t rng = (job->seed ^ (i + 1) * 0x9e3779b97f4a7c15ull) | 1;
	uint64_t *cursor = &job->shm->cursor[job->round];
	char keys[KILL_KEYS][KILL_KEY_SIZE], shared[KILL_KEY_SIZE];
	uint64_t j, k;

	for (k = 0; k < KILL_KEYS; k++)
		kill_key(keys[k], sizeof keys[k], job->round, (unsigned)k);
	kill_shared_key(shared, sizeof shared, job->round);
	if (warm_up(job, i) != 0)
		return WX_ERROR;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	for (j = 0;; j++) {
		k = load64(cursor);
		if (k < KILL_KEYS) {
			uint64_t seen = k; /* a failed CAS overwrites it */

			(void)__atomic_compare_exchange_n(cursor, &seen, k + 1,
			                                  0, __ATOMIC_SEQ_CST,
			                                  __ATOMIC_SEQ_CST);
		} else {
			k = xorshift(&rng) % KILL_KEYS;
		}
		if (fg_allow(job->c, "pool", keys[k], 1, NULL) < 0)
			return WX_ERROR;
		if ((j & 3) == 0 &&
		    fg_allow(job->c, "drain", shared, 1, NULL) < 0)
			return WX_ERROR;
		if ((j & 255) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
}

/*
 * Leave in the table what a worker killed between claiming a slot for
 * @key and publishing it leaves, and return that slot.  Random kills do
 * this only now and then; this makes sure that every run has workers of
 * other processes meet such claims.
 */
static uint64_t plant_dead_claim(fg_client *c, const char *rule,
                                 const char *key)
{
	struct fg_table *t = &c->seg.tbl;
	unsigned idx = (unsigned)rule_index(c, rule);
	size_t len = strlen(key);
	int64_t i = fg__table_plant_claim(t, idx, key, len,
	                                  fg__hash64(t->seed, idx, key, len));

	cr_assert_geq(i, 0, "%s is not new, or finds no room", key);
	return (uint64_t)i;
}

/*
 * One round: KILL_WORKERS workers start together on fresh keys; each is
 * killed after a random pause of up to KILL_GAP_US after the previous kill.
 */
static void kill_round(fg_client *c, struct kill_shm *shm, unsigned round,
                       uint64_t *rng)
{
	struct kill_job job = {
	    .c = c, .shm = shm, .round = round, .seed = xorshift(rng)};
	pid_t pids[KILL_WORKERS];
	unsigned i;

	gun_load(&job.gun);
	for (i = 0; i < KILL_WORKERS; i++)
		pids[i] = spawn(kill_worker, &job, i);
	gun_fire(&job.gun, KILL_WORKERS);
	kill_each(pids, KILL_WORKERS, rng, KILL_GAP_US);
}

/* The shared bucket of a round: workers took at most its capacity, and
 * draining it now gives exactly the rest (no token lost to a kill). */
static int kill_shared_exact(fg_client *c, unsigned round)
{
	uint64_t before, after, got = 0;
	struct fg_slot_view v;
	char key[KILL_KEY_SIZE];

	kill_shared_key(key, sizeof key, round);
	before = bucket_of(c, "drain", key, &v) ? v.consumed : 0;
	while (got <= KILL_TOKENS) {
		int r = fg_allow(c, "drain", key, 1, NULL);

		cr_assert(r == 0 || r == 1, "%s: %s", key, fg_strerror(r));
		if (r == 0)
			break;
		got++;
	}
	cr_assert(bucket_of(c, "drain", key, &v), "%s has a bucket", key);
	after = v.consumed;
	if (before + got == KILL_TOKENS && after == KILL_TOKENS)
		return 1;
	cr_log_error("%s: workers took %llu, then %llu drained, consumed %llu "
	             "of %u",
	             key, (unsigned long long)before, (unsigned long long)got,
	             (unsigned long long)after, KILL_TOKENS);
	return 0;
}

Test(multiproc, sigkill_workers_at_random_moments_leaves_table_usable_and_exact)
{
	fg_client *c = mp_create("sigkill", KILL_MAX_ROUNDS * KILL_ROUND_KEYS +
	                                        KILL_AFTER_KEYS);
	struct kill_shm *shm = shared_alloc(sizeof *shm);
	uint64_t t0 = fg__now_ns(), t1, rng = t0 | 1;
	unsigned rounds, round, k, stale = 0, bad = 0, inexact = 0, claimed;
	uint64_t planted[KILL_PLANTED];
	uint64_t reaped;
	fg_segment_stats st;
	char key[KILL_KEY_SIZE];

	test_rule(c, "pool", 1000, 1, HOUR_MS, 0);
	test_rule(c, "drain", KILL_TOKENS, 1, HOUR_MS, 0);
	for (rounds = 0; rounds < KILL_MAX_ROUNDS; rounds++) {
		uint64_t spent = fg__now_ns() - t0;

		if (spent > KILL_MAX_NS ||
		    (rounds * KILL_WORKERS >= KILL_MIN_KILLS &&
		     (stale >= KILL_WANT_STALE || spent > KILL_MORE_NS)))
			break;
		if (rounds < KILL_PLANTED) {
			kill_key(key, sizeof key, rounds, KILL_KEYS / 2);
			planted[rounds] = plant_dead_claim(c, "pool", key);
		}
		kill_round(c, shm, rounds, &rng);
		/* with every worker dead, a claim is one a kill left */
		stale = count_state(c, FG_SLOT_CLAIMED) +
		        count_state(c, FG_SLOT_DEAD);
	}
	t1 = fg__now_ns();
	cr_assert_geq(rounds, KILL_PLANTED, "%u rounds in %llu ms", rounds,
	              (unsigned long long)((t1 - t0) / MS));

	for (round = 0; round < rounds; round++)
		inexact += !kill_shared_exact(c, round);
	cr_expect_eq(inexact, 0, "%u shared buckets not exact", inexact);

	/* Every key still answers (the suite's timeout catches a hang). */
	for (round = 0; round < rounds; round++) {
		for (k = 0; k < KILL_KEYS; k++) {
			int r;

			kill_key(key, sizeof key, round, k);
			r = fg_allow(c, "pool", key, 1, NULL);
			if (r != 0 && r != 1 && bad++ == 0)
				cr_log_error("%s: %s", key, fg_strerror(r));
		}
	}
	cr_expect_eq(bad, 0, "%u keys cannot be checked", bad);
	cr_expect_eq(duplicate_buckets(c), 0, "no key has two buckets");
	for (k = 0; k < KILL_PLANTED; k++)
		cr_expect_eq(fg__slot_state(&c->seg.tbl, planted[k]),
		             FG_SLOT_DEAD,
		             "the claim planted in round %u was "
		             "abandoned, never published",
		             k);

	st = stats_of(c);
	claimed = count_state(c, FG_SLOT_CLAIMED);
	cr_log_info("sigkill: %u kills in %llu ms left %u claims; checking "
	            "every key took %llu ms; %llu abandoned, %llu dead, %u "
	            "claims left",
	            rounds * KILL_WORKERS, (unsigned long long)((t1 - t0) / MS),
	            stale, (unsigned long long)((fg__now_ns() - t1) / MS),
	            (unsigned long long)st.abandoned,
	            (unsigned long long)st.dead, claimed);
	cr_expect_eq(st.used, rounds * KILL_ROUND_KEYS,
	             "%llu buckets for %u keys", (unsigned long long)st.used,
	             rounds * KILL_ROUND_KEYS);
	cr_expect_eq(st.table_full, 0);
	cr_expect_geq(st.abandoned, KILL_PLANTED);

	/*
	 * Reaping gives every slot a kill left back: a claim nobody came
	 * back for, once FG_CLAIM_STALE_NS old (its token says when it was
	 * made), is marked DEAD, and a DEAD slot that old again becomes
	 * FREE.  The last round's claims may be younger than that when the
	 * checks above end: the first pass comes once they are not.
	 */
	usleep(FG_CLAIM_STALE_NS / 1000 + 5000);
	reaped = fg_reap(c, 0);
	usleep(FG_CLAIM_STALE_NS / 1000 + 5000);
	reaped += fg_reap(c, 0);
	reaped += fg_reap(c, 0);
	cr_expect_eq(reaped, st.dead + claimed, "reaped %llu of %llu + %u",
	             (unsigned long long)reaped, (unsigned long long)st.dead,
	             claimed);
	cr_expect_eq(count_state(c, FG_SLOT_CLAIMED), 0);
	cr_expect_eq(stats_of(c).dead, 0, "DEAD slots after reaping");
	cr_expect_eq(stats_of(c).reaped, reaped);
	cr_expect_eq(stats_of(c).abandoned, st.abandoned + claimed);
	st = stats_of(c);

	/* The freed slots take new keys, still one bucket per key. */
	for (k = 0; k < KILL_AFTER_KEYS; k++) {
		snprintf(key, sizeof key, "after-%u", k);
		cr_expect_eq(fg_allow(c, "pool", key, 1, NULL), 1, "%s", key);
	}
	cr_expect_eq(duplicate_buckets(c), 0, "no key has two buckets");
	cr_expect_eq(stats_of(c).used, st.used + KILL_AFTER_KEYS);
	munmap(shm, sizeof *shm);
	mp_destroy(c);
}

/* ------------------------------------------------------- 5. fork and open */

#define FORK_WORKERS 4u
/* Enough tokens that the parent is still draining when the children are;
 * one token per 10 minutes keeps that many within FG_TAU_MAX (HOUR_MS
 * allows about 20000) and is no refill for the length of a test. */
#define FORK_CAPACITY  100000u
#define FORK_PERIOD_MS 600000u

/*
 * The prefork pattern: the parent attaches before fork() and every child
 * checks through its copy of that handle.  Together the children take
 * exactly one capacity from a bucket, and the parent's handle sees it.
 */
Test(multiproc, child_keeps_using_parent_client_after_fork)
{
	fg_client *owner = mp_create("inherit", 64), *w = NULL;
	struct drain_shm *shm = shared_alloc(sizeof *shm);
	struct drain_job job = {.shm = shm, .rule = "fork", .key = "k"};
	uint64_t admitted;
	int r;

	test_rule(owner, "fork", FORK_CAPACITY, 1, FORK_PERIOD_MS, 0);
	r = fg_open(segment, 0, &w);
	cr_assert_eq(r, 0, "fg_open: %s", fg_strerror(r));
	/* the handle has cached the rule before the fork */
	cr_assert_eq(fg_allow(w, "fork", "warm", 1, NULL), 1);
	job.c = w;
	gun_load(&job.gun);
	spawn_n(drain_worker, &job, FORK_WORKERS);
	gun_fire(&job.gun, FORK_WORKERS);
	wait_children(FORK_WORKERS);

	admitted = sum(shm->admitted, FORK_WORKERS);
	cr_expect_eq(admitted, FORK_CAPACITY, "children admitted %llu of %u",
	             (unsigned long long)admitted, FORK_CAPACITY);
	cr_expect_eq(fg_allow(w, "fork", "k", 1, NULL), 0,
	             "the parent's handle sees the children's consumption");
	cr_expect_eq(fg_allow(w, "fork", "new-after-fork", 1, NULL), 1,
	             "and still inserts keys");
	cr_expect_eq(stats_of(owner).consumed, FORK_CAPACITY + 2);
	fg_close(w);
	munmap(shm, sizeof *shm);
	mp_destroy(owner);
}

/*
 * Children that attach on their own, and the parent through its handle,
 * share the buckets: the parent takes half of a bucket, then drains it
 * along with the children; together they take one capacity.
 */
Test(multiproc, child_can_open_its_own_client)
{
	fg_client *owner = mp_create("ownopen", 64);
	struct drain_shm *shm = shared_alloc(sizeof *shm);
	struct drain_job job = {
	    .shm = shm, .segment = segment, .rule = "fork", .key = "k"};
	uint64_t parent, admitted;
	unsigned run = 0;

	test_rule(owner, "fork", FORK_CAPACITY, 1, FORK_PERIOD_MS, 0);
	for (parent = 0; parent < FORK_CAPACITY / 2; parent++)
		cr_assert_eq(fg_allow(owner, "fork", "k", 1, NULL), 1);
	gun_load(&job.gun);
	spawn_n(drain_worker, &job, FORK_WORKERS);
	gun_fire(&job.gun, FORK_WORKERS);
	while (run < DENIAL_RUN) { /* the parent drains along */
		int r = fg_allow(owner, "fork", "k", 1, NULL);

		cr_assert(r == 0 || r == 1, "%s", fg_strerror(r));
		parent += (uint64_t)r;
		run = r ? 0 : run + 1;
	}
	wait_children(FORK_WORKERS);

	admitted = sum(shm->admitted, FORK_WORKERS);
	cr_log_info("own clients: children %llu, parent %llu",
	            (unsigned long long)admitted, (unsigned long long)parent);
	cr_expect_eq(admitted + parent, FORK_CAPACITY,
	             "children %llu + parent %llu of %u",
	             (unsigned long long)admitted, (unsigned long long)parent,
	             FORK_CAPACITY);
	cr_expect_eq(stats_of(owner).consumed, FORK_CAPACITY);
	cr_expect_eq(stats_of(owner).used, 1);
	munmap(shm, sizeof *shm);
	mp_destroy(owner);
}

/* ------------------------------------------------------ 6. rule changes */

#define CHANGE_WORKERS 4u
#define CHANGE_BIG     1000u

struct change_shm {
	uint64_t saw_denial; /* workers denied under capacity 1 */
	uint64_t saw_shadow; /* workers allowed with FG_DECISION_SHADOW */
	uint64_t saw_big;    /* workers that saw the capacity CHANGE_BIG */
	uint64_t admitted_small[CHANGE_WORKERS];
	uint64_t admitted_big[CHANGE_WORKERS];
};

struct change_job {
	struct change_shm *shm;
	fg_client *c;
};

/*
 * Check one key without pause, through one handle, and report each
 * behaviour the first time it shows: denial at capacity 1, shadow
 * allowance, then capacity CHANGE_BIG until the bucket is empty again.
 */
static int change_worker(void *arg, unsigned i)
{
	const struct change_job *job = arg;
	struct change_shm *shm = job->shm;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS, n = 0;
	uint64_t small = 0, big = 0;
	int denied = 0, shadow = 0, saw_big = 0;
	unsigned run = 0;

	while (run < DENIAL_RUN) {
		fg_decision d;
		int r = fg_allow(job->c, "change", "k", 1, &d);

		if (r < 0)
			return WX_ERROR;
		if (d.limit == 1 && !(d.flags & FG_DECISION_SHADOW)) {
			small += (uint64_t)r;
			if (r == 0 && !denied++)
				__atomic_add_fetch(&shm->saw_denial, 1,
				                   __ATOMIC_SEQ_CST);
		} else if (d.limit == 1) {
			if (r != 1)
				return WX_ERROR; /* shadow denied */
			if (!shadow++)
				__atomic_add_fetch(&shm->saw_shadow, 1,
				                   __ATOMIC_SEQ_CST);
		} else if (d.limit == CHANGE_BIG) {
			if (!saw_big++)
				__atomic_add_fetch(&shm->saw_big, 1,
				                   __ATOMIC_SEQ_CST);
			big += (uint64_t)r;
			run = r ? 0 : run + 1;
		} else {
			return WX_ERROR;
		}
		if ((++n & 1023) == 0 && fg__now_ns() > deadline)
			return WX_DEADLINE;
	}
	store64(&shm->admitted_small[i], small);
	store64(&shm->admitted_big[i], big);
	return 0;
}

Test(multiproc, rule_change_reaches_running_workers)
{
	fg_client *c = mp_create("rulechg", 64);
	struct change_shm *shm = shared_alloc(sizeof *shm);
	struct change_job job = {.shm = shm, .c = c};
	uint64_t small, big;

	test_rule(c, "change", 1, 1, HOUR_MS, 0);
	spawn_n(change_worker, &job, CHANGE_WORKERS);
	await_count(&shm->saw_denial, CHANGE_WORKERS,
	            "workers denied at capacity 1");
	test_rule(c, "change", 1, 1, HOUR_MS, FG_RULE_SHADOW);
	await_count(&shm->saw_shadow, CHANGE_WORKERS, "workers in shadow mode");
	test_rule(c, "change", CHANGE_BIG, 1, HOUR_MS, 0);
	wait_children(CHANGE_WORKERS);

	cr_expect_eq(load64(&shm->saw_big), CHANGE_WORKERS);
	small = sum(shm->admitted_small, CHANGE_WORKERS);
	big = sum(shm->admitted_big, CHANGE_WORKERS);
	cr_expect_eq(small, 1, "capacity 1 admitted %llu",
	             (unsigned long long)small);
	/* the bucket keeps its state: one token spent, CHANGE_BIG - 1 left */
	cr_expect_eq(big, CHANGE_BIG - 1, "capacity %u then admitted %llu",
	             CHANGE_BIG, (unsigned long long)big);
	cr_expect_eq(stats_of(c).consumed, CHANGE_BIG,
	             "shadow allowances consume nothing");
	munmap(shm, sizeof *shm);
	mp_destroy(c);
}
