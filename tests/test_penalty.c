/* SPDX-License-Identifier: ISC */
/*
 * test_penalty.c - the penalty box (lib/penalty.c): N denials within T
 * block a key for B.
 *
 * The decision tables run at times the test chooses (fg__check_at()), so
 * every figure is exact.  The rule admits one request an hour, so that a
 * key stays denied through every table and only the penalty moves it:
 * with N = 3, T = 10 s and B = 30 s, the block leaves the bucket empty 30 s
 * after the denial that made it, and the next request may go one token's
 * time (an hour) later.
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
#include "shm/scan.h"
#include "tests/policies.h"
#include "tests/procs.h"

TestSuite(penalty, .timeout = 60, .fini = pol_unlink);

#define N_DENIALS 3u
#define WINDOW_MS 10000u
#define BLOCK_MS  30000u
#define HOUR_NS   (3600ull * SEC)

static uint64_t t0;

/* A segment with rule "api": one request an hour, penalty 3 denials in
 * 10 s block 30 s (and @flags). */
static fg_client *boxed(const char *tag, uint32_t flags)
{
	fg_client *c = pol_create(tag, 100);
	fg_rule r = {.name = "api",
	             .capacity = 1,
	             .rate = 1,
	             .period_ms = HOUR_MS,
	             .flags = FG_RULE_PENALTY | flags,
	             .penalty_denials = N_DENIALS,
	             .penalty_window_ms = WINDOW_MS,
	             .penalty_block_ms = BLOCK_MS};

	cr_assert_eq(fg_rule_set(c, &r), 0);
	t0 = fg__now_ns();
	return c;
}

/* fg_allow() of "api"/@key at t0 + @at_ms: the answer, *@d filled. */
static int at(fg_client *c, const char *key, uint64_t at_ms, fg_decision *d)
{
	unsigned idx = pol_rule_index(c, "api");

	return fg__check_at(c, idx, fg__rule_params(c, idx), key, strlen(key),
	                    1, t0 + at_ms * MS, d);
}

static uint64_t blocks(fg_client *c)
{
	fg_rule_info ri;

	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "api"), &ri), 0);
	return ri.penalties;
}

/* Tokens rule api's blocks counted (its record: for the metrics). */
static uint64_t block_tokens(fg_client *c)
{
	return c->seg.rules[pol_rule_index(c, "api")].penalty_tokens;
}

/* Denied at each of @n times (ms from t0); the retry_after_ms of the last. */
static uint64_t denials(fg_client *c, const char *key, const uint64_t *ms,
                        unsigned n)
{
	fg_decision d = {0};
	unsigned i;

	for (i = 0; i < n; i++)
		cr_assert_eq(at(c, key, ms[i], &d), 0, "t0 + %llu ms",
		             (unsigned long long)ms[i]);
	return d.retry_after_ms;
}

/* The wait of a denial at @ms without a block: the hour's token, from
 * the admission at t0. */
#define UNBLOCKED_WAIT(ms) (HOUR_MS - (ms))

Test(penalty, n_denials_within_t_block_the_key_for_b)
{
	fg_client *c = boxed("within", 0);
	static const uint64_t ms[] = {1000, 5500, 10900}; /* 9.9 s apart */
	fg_decision d;

	cr_assert_eq(at(c, "k", 0, &d), 1);
	cr_expect_eq(denials(c, "k", ms, 2), UNBLOCKED_WAIT(5500));
	cr_expect_eq(blocks(c), 0);
	/* the third: empty 30 s from now, a token an hour after that */
	cr_expect_eq(denials(c, "k", ms + 2, 1), BLOCK_MS + HOUR_MS);
	cr_expect_eq(blocks(c), 1);
	cr_expect_eq(at(c, "k", 10900 + BLOCK_MS + HOUR_MS - 1, &d), 0);
	cr_expect_eq(d.retry_after_ms, 1);
	cr_expect_eq(at(c, "k", 10900 + BLOCK_MS + HOUR_MS, &d), 1);
	cr_expect_eq(blocks(c), 1, "nothing blocked it again");
	pol_destroy(c);
}

/* Processes that read the key's pair before any of them blocked it,
 * whose clocks run in another order than their denials land: the second
 * denial to land comes with the earliest clock.  One block. */
Test(penalty, denials_with_clocks_out_of_order_make_one_block)
{
	fg_client *c = boxed("order", 0);
	static const uint64_t ms[] = {10, 5, 10, 10}; /* in landing order */
	const unsigned idx = pol_rule_index(c, "api");
	const struct fg_rule_cache *rc = fg__rule_params(c, idx);
	struct fg_table *t = &c->seg.tbl;
	unsigned i, made = 0;
	struct fg_ref ref;
	struct fg_pair p;
	fg_decision d;

	cr_assert_eq(at(c, "k", 0, &d), 1);
	cr_assert_not_null(fg__table_find_ref(
	    t, idx, "k", 1, fg__hash64(t->seed, idx, "k", 1), &ref));
	fg__pair_load(ref.s, &p); /* what each of them read */
	for (i = 0; i < 4; i++) {
		struct fg_ref r = ref;
		struct fg_pair q = p;

		made +=
		    (unsigned)fg__penalty(t, &c->seg.rules[idx], idx, &rc->pen,
		                          "k", 1, t0 + ms[i] * MS, &r, &q);
	}
	cr_expect_eq(made, 1, "blocks made: %u", made);
	cr_expect_eq(blocks(c), 1);
	pol_destroy(c);
}

Test(penalty, n_minus_1_denials_never_block)
{
	fg_client *c = boxed("nminus1", 0);
	static const uint64_t ms[] = {1000, 1001};
	fg_decision d;

	cr_assert_eq(at(c, "k", 0, &d), 1);
	cr_expect_eq(denials(c, "k", ms, 2), UNBLOCKED_WAIT(1001));
	cr_expect_eq(blocks(c), 0);
	cr_expect_eq(at(c, "k", HOUR_MS, &d), 1, "the hour's token came");
	pol_destroy(c);
}

Test(penalty, n_denials_spread_over_t_or_more_do_not_block)
{
	fg_client *c = boxed("spread", 0);
	static const uint64_t exactly[] = {1000, 5000, 11000}; /* T apart */
	static const uint64_t more[] = {40000, 45000, 50001};
	fg_decision d;

	cr_assert_eq(at(c, "k", 0, &d), 1);
	cr_expect_eq(denials(c, "k", exactly, 3), UNBLOCKED_WAIT(11000));
	cr_expect_eq(denials(c, "k", more, 3), UNBLOCKED_WAIT(50001));
	cr_expect_eq(blocks(c), 0);
	pol_destroy(c);
}

Test(penalty, denials_during_a_block_do_not_extend_it)
{
	fg_client *c = boxed("during", 0);
	static const uint64_t ms[] = {1000, 1001, 1002};
	uint64_t t;
	fg_decision d;

	cr_assert_eq(at(c, "k", 0, &d), 1);
	cr_expect_eq(denials(c, "k", ms, 3), BLOCK_MS + HOUR_MS);
	for (t = 1100; t < 1002 + BLOCK_MS; t += 700) {
		cr_assert_eq(at(c, "k", t, &d), 0);
		cr_expect_eq(d.retry_after_ms, 1002 + BLOCK_MS + HOUR_MS - t);
	}
	cr_expect_eq(blocks(c), 1);
	pol_destroy(c);
}

Test(penalty, keys_are_counted_apart)
{
	fg_client *c = boxed("apart", 0);
	static const uint64_t ms[] = {1000, 1001, 1002};
	fg_decision d;

	cr_assert_eq(at(c, "a", 0, &d), 1);
	cr_assert_eq(at(c, "b", 0, &d), 1);
	(void)denials(c, "a", ms, 2);
	cr_expect_eq(denials(c, "b", ms, 2), UNBLOCKED_WAIT(1001));
	cr_expect_eq(blocks(c), 0, "two and two are not three");
	cr_expect_eq(denials(c, "a", ms + 2, 1), BLOCK_MS + HOUR_MS);
	cr_expect_eq(blocks(c), 1);
	cr_expect_eq(pol_left(c, "api", "b"), 0,
	             "b is empty, not in debt past it");
	cr_expect_lt(pol_left(c, "api", "a"), 0, "a is");
	pol_destroy(c);
}

Test(penalty, a_shadow_rule_never_blocks)
{
	fg_client *c = boxed("shadow", FG_RULE_SHADOW);
	fg_decision d;
	unsigned i;

	cr_assert_eq(at(c, "k", 0, &d), 1);
	for (i = 1; i <= 10; i++) {
		cr_assert_eq(at(c, "k", i, &d), 1);
		cr_expect_eq(d.flags, FG_DECISION_SHADOW);
	}
	cr_expect_eq(blocks(c), 0);
	pol_destroy(c);
}

Test(penalty, a_64_byte_key_has_a_count_of_its_own)
{
	fg_client *c = boxed("long", 0);
	static const uint64_t ms[] = {1, 2, 3};
	char a[FG_KEY_MAX + 1], b[FG_KEY_MAX + 1];
	fg_decision d;

	memset(a, 'x', FG_KEY_MAX);
	a[FG_KEY_MAX] = '\0';
	memcpy(b, a, sizeof b);
	b[FG_KEY_MAX - 1] = 'y'; /* differs in the last byte only */
	cr_assert_eq(at(c, a, 0, &d), 1);
	cr_assert_eq(at(c, b, 0, &d), 1);
	(void)denials(c, a, ms, 2);
	(void)denials(c, b, ms, 2);
	cr_expect_eq(blocks(c), 0);
	cr_expect_eq(denials(c, a, ms + 2, 1), BLOCK_MS + HOUR_MS);
	cr_expect_eq(blocks(c), 1);
	pol_destroy(c);
}

/* fg_reserve() and fg_allow_many() deny through the same door. */
Test(penalty, denials_of_reservations_and_multi_rule_checks_count)
{
	fg_client *c = boxed("paths", 0);
	fg_triple t = {.rule = "api", .key = "k", .cost = 1};
	uint64_t delay;
	fg_decision d;

	cr_assert_eq(fg_allow(c, "api", "k", 1, &d), 1);
	cr_assert_eq(fg_reserve(c, "api", "k", 1, &delay, &d), 0);
	cr_assert_eq(fg_allow_many(c, &t, 1, &d, NULL), 0);
	cr_expect_eq(blocks(c), 0);
	cr_assert_eq(fg_allow_many(c, &t, 1, &d, NULL), 0);
	cr_expect_eq(blocks(c), 1);
	cr_expect_geq(d.retry_after_ms, BLOCK_MS + HOUR_MS - 1000,
	              "the block's wait: %llu ms",
	              (unsigned long long)d.retry_after_ms);
	pol_destroy(c);
}

Test(penalty, reset_lifts_the_block_and_forgets_the_denials)
{
	fg_client *c = boxed("lift", 0);
	static const uint64_t ms[] = {1, 2, 3};
	unsigned idx;

	cr_assert_eq(fg_allow(c, "api", "k", 1, NULL), 1);
	t0 = fg__now_ns();
	(void)denials(c, "k", ms, 3);
	cr_assert_eq(blocks(c), 1);
	idx = pol_rule_index(c, "api");
	cr_assert_eq(fg__penalty_lift(&c->seg.tbl, idx, "k", 1, fg__now_ns()),
	             1);
	cr_expect_eq(pol_left(c, "api", "k"), 1, "refilled");
	cr_expect_eq(fg_allow(c, "api", "k", 1, NULL), 1);
	/* the count starts again: two denials do not block */
	cr_expect_eq(fg_allow(c, "api", "k", 1, NULL), 0);
	cr_expect_eq(fg_allow(c, "api", "k", 1, NULL), 0);
	cr_expect_eq(blocks(c), 1);
	cr_expect_eq(
	    fg__penalty_lift(&c->seg.tbl, idx, "absent", 6, fg__now_ns()), 0);
	pol_destroy(c);
}

Test(penalty, a_block_is_counted_as_the_tokens_it_takes)
{
	fg_client *c = boxed("count", 0);
	static const uint64_t ms[] = {0, 0, 0};
	struct fg_slot_view v;
	fg_decision d;

	cr_assert_eq(at(c, "k", 0, &d), 1);
	(void)denials(c, "k", ms, 3);
	cr_assert(bucket_of(c, "api", "k", &v));
	/* empty an hour from t0, taken 30 s further: one token (rounded
	 * up) beyond the one admitted */
	cr_expect_eq(v.tat, t0 + HOUR_NS + BLOCK_MS * MS);
	cr_expect_eq(v.consumed, 2);
	cr_expect_eq(v.denied, 3);
	cr_expect_eq(block_tokens(c), 1, "the count less the one admitted");
	pol_destroy(c);
}

/* ------------------------------------------------------- fg_rule_set() */

Test(penalty, rule_set_refuses_penalties_that_do_not_hold_together)
{
	fg_client *c = pol_create("refuse", 100);
	const fg_rule ok = {.name = "r",
	                    .capacity = 10,
	                    .rate = 10,
	                    .period_ms = 1000,
	                    .flags = FG_RULE_PENALTY,
	                    .penalty_denials = 5,
	                    .penalty_window_ms = 1000,
	                    .penalty_block_ms = 60000};
	fg_rule r;
	fg_rule_info ri;

	cr_assert_eq(fg_rule_set(c, &ok), 0);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "r"), &ri), 0);
	cr_expect_eq(ri.flags, FG_RULE_PENALTY);
	cr_expect_eq(ri.penalty_denials, 5);
	cr_expect_eq(ri.penalty_window_ms, 1000);
	cr_expect_eq(ri.penalty_block_ms, 60000);
	r = ok;
	r.flags = 0; /* fields without the flag */
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE);
	r = ok;
	r.penalty_denials = 0;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE);
	r = ok;
	r.penalty_window_ms = 0;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE);
	r = ok;
	r.penalty_block_ms = 0;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE);
	r = ok; /* a block whose tokens do not fit 32 bits */
	r.rate = 1000000;
	r.period_ms = 1;
	r.penalty_block_ms = UINT32_MAX;
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE);
	r = (fg_rule){.name = "lease",
	              .capacity = 2,
	              .flags = FG_RULE_IN_FLIGHT | FG_RULE_PENALTY,
	              .lease_ms = 1000,
	              .penalty_denials = 1,
	              .penalty_window_ms = 1,
	              .penalty_block_ms = 1};
	cr_expect_eq(fg_rule_set(c, &r), FG_ERULE);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "r"), &ri), 0);
	cr_expect_eq(ri.penalty_block_ms, 60000, "what was refused left it");
	pol_destroy(c);
}

/* Layout 6 gave the rule parameters their penalty (shm/layout.h): a
 * segment of layout 5, as the version before wrote it (its seed of the
 * segment fuzz corpus), whose clients would read the second copy of a
 * rule's parameters at the wrong offset, is refused. */
Test(penalty, a_segment_of_layout_version_5_is_refused)
{
	char name[64];

	snprintf(name, sizeof name, "fg-policies-v5-%d", (int)getpid());
	expect_old_segment_refused(
	    "tests/fuzz/corpus/segment/v5-capacity-1-full", name);
	cr_expect_geq(FG_LAYOUT_VERSION, 6);
}

/* -------------------------------------------------- four processes */

/*
 * Four processes hammer one key of a rule of 2 tokens refilled one every
 * second, penalty 3 denials in 20 s block 8 s, for 3 s after a common
 * start.  Without the block they would be admitted 5 times; with it, the
 * 2 of the burst and nothing more: the third denial, whichever process
 * makes it, blocks the key until well after they stop.  Exactly one
 * block, whatever the interleaving: one take empties the count.  The
 * refill is slow because the denial that empties the tally places the
 * block a few instructions later: a process preempted between the two
 * for a whole refill (a loaded CI machine under ASan did it to a refill
 * of 200 ms) lets a check admitted under the rate come first, which is
 * right, and not what this test is about.
 */
#define MP_PROCS   4u
#define MP_RUN_NS  (3000ull * MS)
#define MP_TICK_MS 1000u

struct mp_shm {
	uint64_t admitted[MP_PROCS];
	uint64_t denied[MP_PROCS];
	uint64_t last_admit_ns[MP_PROCS];
	uint64_t start_ns;
};

struct mp_job {
	struct mp_shm *shm;
	struct start_gun gun;
};

static int mp_worker(void *arg, unsigned i)
{
	struct mp_job *job = arg;
	fg_client *c;
	uint64_t end;

	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	end = load64(&job->shm->start_ns) + MP_RUN_NS;
	while (fg__now_ns() < end) {
		int r = fg_allow(c, "api", "hammer", 1, NULL);

		if (r < 0)
			return WX_ERROR;
		if (r == 1) {
			job->shm->admitted[i]++;
			job->shm->last_admit_ns[i] = fg__now_ns();
		} else {
			job->shm->denied[i]++;
		}
	}
	fg_close(c);
	return 0;
}

Test(penalty, four_processes_make_one_block_and_none_is_admitted_during_it)
{
	fg_client *c = pol_create("mp", 100);
	struct mp_shm *shm = shared_alloc(sizeof *shm);
	struct mp_job job = {.shm = shm};
	fg_rule r = {.name = "api",
	             .capacity = 2,
	             .rate = 1,
	             .period_ms = MP_TICK_MS,
	             .flags = FG_RULE_PENALTY,
	             .penalty_denials = 3,
	             .penalty_window_ms = 20000,
	             .penalty_block_ms = 8000};
	struct fg_slot_view v;
	uint64_t admitted = 0, denied = 0;
	unsigned p;

	cr_assert_eq(fg_rule_set(c, &r), 0);
	gun_load(&job.gun);
	spawn_n(mp_worker, &job, MP_PROCS);
	store64(&shm->start_ns, fg__now_ns() + 50 * MS);
	gun_fire(&job.gun, MP_PROCS);
	wait_children((int)MP_PROCS);
	for (p = 0; p < MP_PROCS; p++) {
		admitted += shm->admitted[p];
		denied += shm->denied[p];
		cr_expect_gt(shm->denied[p], 0, "process %u was denied", p);
	}
	cr_expect_eq(admitted, 2, "admitted %llu (no block: about 5)",
	             (unsigned long long)admitted);
	cr_expect_eq(blocks(c), 1);
	cr_assert(bucket_of(c, "api", "hammer", &v));
	cr_expect_eq(v.denied, denied);
	cr_expect_eq(block_tokens(c), v.consumed - admitted,
	             "the block's tokens: the count less what was admitted");
	cr_expect_gt(v.tat, shm->start_ns + MP_RUN_NS + 2 * MP_TICK_MS * MS,
	             "still blocked after the run");
	munmap(shm, sizeof *shm);
	pol_destroy(c);
}

/* ------------------------------------------------------------- kills */

#define KL_PROCS  4u
#define KL_KEYS   16u
#define KL_ROUNDS 20u
#define KL_T_MS   200u /* the penalty's window: its tally refills a denial */
#define KL_B_MS   100u /* the block: short, so that keys block again */

/* Checks of random keys until killed (or the deadline: a hang). */
static int kl_worker(void *arg, unsigned i)
{
	uint64_t rng = (uint64_t)getpid() << 16 | (i + 1);
	uint64_t end = fg__now_ns() + WORKER_DEADLINE_NS;
	fg_client *c;
	char key[16];

	(void)arg;
	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	while (fg__now_ns() < end) {
		snprintf(key, sizeof key, "k%u",
		         (unsigned)(xorshift(&rng) % KL_KEYS));
		if (fg_allow(c, "api", key, 1, NULL) < 0)
			return WX_ERROR;
	}
	return WX_DEADLINE;
}

/* Whether @key gets blocked within 3 s of denials 5 ms apart (a block:
 * a wait beyond the hour's token); *@admitted counts what was not
 * denied (nothing, once the workers took the key's token of the hour). */
static int kl_blocks(fg_client *c, const char *key, unsigned *admitted)
{
	uint64_t end = fg__now_ns() + 3 * SEC;
	fg_decision d;

	while (fg__now_ns() < end) {
		int r = fg_allow(c, "api", key, 1, &d);

		cr_assert_geq(r, 0, "%s: %s", key, fg_strerror(r));
		*admitted += (unsigned)r;
		if (r == 0 && d.retry_after_ms > HOUR_MS)
			return 1;
		usleep(5000); /* the tally refills with time, one every T */
	}
	return 0;
}

/* A worker killed between the tally's last token and the block loses
 * that block (libfloodgate(3), CAVEATS), and nothing more: whatever
 * instant the kills land, every key blocks again within T of more
 * denials, none is admitted beyond its rule, and the table stays sound. */
Test(penalty, workers_killed_mid_check_leave_every_key_able_to_block)
{
	fg_client *c = pol_create("kill", 1000);
	fg_rule r = {.name = "api",
	             .capacity = 1,
	             .rate = 1,
	             .period_ms = HOUR_MS,
	             .flags = FG_RULE_PENALTY,
	             .penalty_denials = N_DENIALS,
	             .penalty_window_ms = KL_T_MS,
	             .penalty_block_ms = KL_B_MS};
	uint64_t rng = fg__now_ns() | 1;
	pid_t pids[KL_PROCS];
	unsigned round, k, i, admitted = 0;
	char key[16];

	cr_assert_eq(fg_rule_set(c, &r), 0);
	for (round = 0; round < KL_ROUNDS; round++) {
		for (i = 0; i < KL_PROCS; i++)
			pids[i] = spawn(kl_worker, NULL, i);
		kill_each(pids, KL_PROCS, &rng, 20000);
	}
	cr_expect_gt(blocks(c), 0, "the workers blocked keys");
	cr_assert_geq(fg_reap(c, 0), 0);
	for (k = 0; k < KL_KEYS; k++) {
		struct fg_slot_view v;
		unsigned before = admitted;

		snprintf(key, sizeof key, "k%u", k);
		cr_assert(bucket_of(c, "api", key, &v), "%s never checked",
		          key);
		cr_expect(kl_blocks(c, key, &admitted), "%s never blocked",
		          key);
		cr_expect_eq(admitted, before,
		             "%s admitted past its token of the hour", key);
	}
	pol_destroy(c);
}

/* ------------------------------------------------------ floodgate.conf */

Test(penalty, the_config_penalty_reaches_the_segment)
{
	fg_client *c = pol_create("conf", 100);
	struct fgd_config cfg;
	fg_rule_info ri;

	pol_config(c,
	           "segment x\n"
	           "rule api capacity 1 rate 1/1h scope global "
	           "penalty 3 denials in 10s block 30s share 20%\n",
	           &cfg);
	cr_assert_eq(fg_rule_get(c, pol_rule_index(c, "api"), &ri), 0);
	cr_expect_eq(ri.flags, FG_RULE_PENALTY | FG_RULE_GLOBAL);
	cr_expect_eq(ri.penalty_denials, 3);
	cr_expect_eq(ri.penalty_window_ms, 10000);
	cr_expect_eq(ri.penalty_block_ms, 30000);
	fgd_config_free(&cfg);
	pol_destroy(c);
}

static void refused(const char *rule, const char *why)
{
	const char *err = pol_config_error(rule);

	cr_assert_not_null(err, "accepted: %s", rule);
	cr_expect(strstr(err, why) != NULL, "%s\n  said: %s\n  not: %s", rule,
	          err, why);
}

Test(penalty, config_errors_say_what_is_wrong_with_the_penalty)
{
	refused("rule a capacity 1 rate 1/1s penalty 0 denials in 10s block 1m",
	        "t.conf:2: rule 'a': penalty denials '0' must be a number "
	        "from 1 to 1000000");
	refused("rule a capacity 1 rate 1/1s penalty x denials in 10s block 1m",
	        "penalty denials 'x' must be a number");
	refused("rule a capacity 1 rate 1/1s penalty 5 denial in 10s block 1m",
	        "rule 'a': penalty must read penalty N denials in DURATION "
	        "block DURATION, like penalty 5 denials in 10s block 1m");
	refused("rule a capacity 1 rate 1/1s penalty 5 denials in 10 block 1m",
	        "rule 'a': penalty window '10' needs a unit");
	refused(
	    "rule a capacity 1 rate 1/1s penalty 5 denials in 10s block 0ms",
	    "rule 'a': penalty block must be a duration like 500ms, from "
	    "1ms to");
	refused("rule a capacity 1 rate 1/1s penalty 5 denials in 2d block 1m",
	        "penalty window must be a duration");
	refused("rule a capacity 1 rate 1/1s penalty 5 denials in 10s",
	        "rule 'a': penalty needs its words: penalty N denials in "
	        "DURATION block DURATION");
	refused("rule a capacity 1 rate 1/1s penalty 5 denials in 10s block 1m "
	        "penalty 5 denials in 10s block 1m",
	        "'penalty' given twice");
	refused("rule a in-flight 4 penalty 5 denials in 10s block 1m",
	        "an in-flight rule takes no 'penalty'");
	refused("rule a capacity 1 rate 1000000/1ms "
	        "penalty 5 denials in 10s block 24h",
	        "rule 'a': the penalty's block plus capacity / rate and "
	        "max-delay spans more than 2^56 ns, or is 2^32 tokens or more");
	cr_expect_null(pol_config_error("rule a capacity 1 rate 1/1s "
	                                "penalty 1 denials in 1ms block 24h"));
}
