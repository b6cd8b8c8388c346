/* SPDX-License-Identifier: ISC */
/*
 * test_many.c - one request under several rules (fg_allow_many(),
 * lib/many.c): every rule admits it and pays, or none keeps a token.
 *
 * The decision tables run in one process at times the test chooses
 * (fg__check_many(), the function behind fg_allow_many(), at an explicit
 * clock reading).  The races are made two ways: deterministically, by the
 * check's test hook acting between its steps as another process would;
 * and for real, by four processes on three rules.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include "gossip/harvest.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/scan.h"
#include "tests/policies.h"
#include "tests/procs.h"

TestSuite(many, .timeout = 60, .fini = pol_unlink);

#define T_MS 1000000ull /* ns */

/* Rules of the tables: none refills within a test unless it says so. */
static fg_client *three_rules(const char *tag)
{
	fg_client *c = pol_create(tag, 1000);

	test_rule(c, "user", 5, 1, HOUR_MS, FG_RULE_GLOBAL);
	test_rule(c, "ip", 3, 1, HOUR_MS, FG_RULE_GLOBAL);
	test_rule(c, "endpoint", 10, 1, 100, FG_RULE_GLOBAL); /* 100 ms */
	return c;
}

static int many_at(fg_client *c, const struct fg__triple *t, unsigned n,
                   uint64_t now, fg_decision *d, unsigned *which)
{
	return fg__check_many(c, t, n, now, d, which);
}

/* ------------------------------------------------------ decision tables */

Test(many, a_request_every_rule_admits_takes_its_cost_from_every_bucket)
{
	fg_client *c = three_rules("all");
	struct fg__triple t[3] = {pol_triple(c, "user", "alice", 1),
	                          pol_triple(c, "ip", "10.0.0.1", 2),
	                          pol_triple(c, "endpoint", "/login", 3)};
	fg_decision d;
	unsigned which = 9;

	cr_assert_eq(many_at(c, t, 3, fg__now_ns(), &d, &which), 1);
	cr_expect_eq(pol_left(c, "user", "alice"), 4);
	cr_expect_eq(pol_left(c, "ip", "10.0.0.1"), 1);
	cr_expect_eq(pol_left(c, "endpoint", "/login"), 7);
	/* the rule with the fewest tokens left describes it */
	cr_expect_eq(which, 1);
	cr_expect_eq(d.rule, t[1].rule);
	cr_expect_eq(d.limit, 3);
	cr_expect_eq(d.remaining, 1);
	cr_expect_eq(d.retry_after_ms, 0);
	cr_expect_eq(d.flags, 0);
	pol_destroy(c);
}

Test(many, a_denied_request_takes_nothing_from_the_rules_that_admitted)
{
	fg_client *c = three_rules("none");
	struct fg__triple t[3] = {pol_triple(c, "user", "alice", 1),
	                          pol_triple(c, "ip", "10.0.0.1", 1),
	                          pol_triple(c, "endpoint", "/login", 1)};
	uint64_t now = fg__now_ns();
	fg_segment_stats st;
	fg_decision d;
	unsigned which, i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(many_at(c, t, 3, now, &d, &which), 1);
	/* ip is empty: the fourth and fifth requests are denied by it */
	for (i = 0; i < 2; i++) {
		cr_assert_eq(many_at(c, t, 3, now, &d, &which), 0);
		cr_expect_eq(which, 1);
		cr_expect_eq(d.rule, t[1].rule);
		cr_expect_eq(d.remaining, 0);
		cr_expect_eq(d.retry_after_ms, HOUR_MS); /* one token */
	}
	cr_expect_eq(pol_left(c, "user", "alice"), 2, "3 taken, no more");
	cr_expect_eq(pol_left(c, "endpoint", "/login"), 7);
	st = stats_of(c);
	cr_expect_eq(st.consumed, 9, "3 requests x 3 rules counted");
	cr_expect_eq(st.denied, 2, "only the rule that denied counts them");
	pol_destroy(c);
}

Test(many, a_denial_names_the_rule_whose_retry_after_is_the_longest)
{
	fg_client *c = pol_create("longest", 1000);
	struct fg__triple t[3];
	uint64_t now = fg__now_ns();
	fg_decision d;
	unsigned which;

	test_rule(c, "fast", 1, 1, 10, 0);   /* a token every 10 ms */
	test_rule(c, "slow", 1, 1, 1000, 0); /* a token a second */
	test_rule(c, "roomy", 100, 1, 1000, 0);
	t[0] = pol_triple(c, "fast", "k", 1);
	t[1] = pol_triple(c, "roomy", "k", 1);
	t[2] = pol_triple(c, "slow", "k", 1);
	cr_assert_eq(many_at(c, t, 3, now, &d, &which), 1);
	cr_assert_eq(many_at(c, t, 3, now + 4 * T_MS, &d, &which), 0);
	cr_expect_eq(which, 2, "slow, not fast, is what the client waits for");
	cr_expect_eq(d.rule, t[2].rule);
	cr_expect_eq(d.retry_after_ms, 996);
	/* at 10 ms fast admits again; slow still denies */
	cr_assert_eq(many_at(c, t, 3, now + 10 * T_MS, &d, &which), 0);
	cr_expect_eq(which, 2);
	cr_expect_eq(d.retry_after_ms, 990);
	cr_assert_eq(many_at(c, t, 3, now + 1000 * T_MS, &d, &which), 1);
	cr_expect_eq(pol_left(c, "roomy", "k"), 98, "two admitted, no more");
	pol_destroy(c);
}

Test(many, one_triple_decides_exactly_as_fg_allow_at)
{
	fg_client *c = pol_create("one", 1000);
	uint64_t now = fg__now_ns(), step = 37 * T_MS / 10;
	struct fg__triple t;
	fg_decision a, b;
	unsigned i, which;

	test_rule(c, "r", 4, 3, 100, 0);
	t = pol_triple(c, "r", "many", 1);
	for (i = 0; i < 60; i++) {
		uint32_t cost = 1 + i % 3;
		int ra, rb;

		t.cost = cost;
		ra = fg_allow_at(c, "r", "single", cost, now + i * step, &a);
		rb = many_at(c, &t, 1, now + i * step, &b, &which);
		cr_assert_eq(ra, rb, "step %u", i);
		cr_assert_eq(memcmp(&a, &b, sizeof a) == 0 ? 0 : 1, 0,
		             "step %u: the same decision", i);
	}
	cr_expect_eq(stats_of(c).consumed / 2 * 2, stats_of(c).consumed);
	pol_destroy(c);
}

Test(many, the_same_bucket_twice_pays_both_costs_or_neither)
{
	fg_client *c = pol_create("twice", 1000);
	struct fg__triple t[2];
	uint64_t now = fg__now_ns();
	unsigned which;

	test_rule(c, "r", 5, 1, HOUR_MS, 0);
	t[0] = pol_triple(c, "r", "k", 2);
	t[1] = pol_triple(c, "r", "k", 2);
	cr_assert_eq(many_at(c, t, 2, now, NULL, &which), 1);
	cr_expect_eq(pol_left(c, "r", "k"), 1);
	cr_assert_eq(many_at(c, t, 2, now, NULL, &which), 0,
	             "2 + 2 of 1 left: denied, though each alone fits");
	cr_expect_eq(pol_left(c, "r", "k"), 1, "and nothing taken");
	pol_destroy(c);
}

Test(many, a_shadow_rule_never_denies_and_counts_what_it_would_have_denied)
{
	fg_client *c = pol_create("shadow", 1000);
	struct fg__triple t[2];
	uint64_t now = fg__now_ns();
	fg_decision d;
	unsigned which;

	test_rule(c, "enforced", 10, 1, HOUR_MS, 0);
	test_rule(c, "trial", 1, 1, HOUR_MS, FG_RULE_SHADOW);
	t[0] = pol_triple(c, "enforced", "k", 1);
	t[1] = pol_triple(c, "trial", "k", 1);
	cr_assert_eq(many_at(c, t, 2, now, &d, &which), 1);
	cr_expect_eq(d.flags, 0);
	cr_assert_eq(many_at(c, t, 2, now, &d, &which), 1);
	cr_expect_eq(which, 1, "the shadow rule that would have denied");
	cr_expect_eq(d.flags, FG_DECISION_SHADOW);
	cr_expect_eq(pol_left(c, "enforced", "k"), 8);
	cr_expect_eq(pol_left(c, "trial", "k"), 0,
	             "a would-be denial takes "
	             "nothing");
	cr_expect_eq(stats_of(c).denied, 1);
	pol_destroy(c);
}

/* A small table, full of buckets that cannot go: fillers until one
 * finds no room. */
static fg_client *full_table(const char *tag)
{
	fg_client *c = pol_create(tag, 8);
	fg_decision d;
	char key[16];
	unsigned i;

	test_rule(c, "filler", 5, 1, HOUR_MS, 0);
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof key, "fill-%u", i);
		cr_assert_eq(fg_allow(c, "filler", key, 1, &d), 1);
		if (d.flags & FG_DECISION_UNTRACKED)
			break;
	}
	cr_assert(i >= 8 && i < 64, "%u fillers before one found no room", i);
	return c;
}

/* A key of @rule that finds no room in @c's full table (which key does
 * depends on where keys go: those that find room take it), in @buf. */
static const char *roomless(fg_client *c, const char *rule, char *buf,
                            size_t size)
{
	fg_decision d;
	unsigned i;

	for (i = 0; i < 64; i++) {
		snprintf(buf, size, "newcomer-%u", i);
		if (fg_allow(c, rule, buf, 1, &d) >= 0 &&
		    (d.flags & FG_DECISION_UNTRACKED))
			return buf;
	}
	cr_assert_fail("every %s key found room", rule);
	return NULL;
}

Test(many, a_key_the_full_table_cannot_hold_is_decided_by_its_rules_policy)
{
	fg_client *c = full_table("full");
	struct fg__triple t[2];
	uint64_t now = fg__now_ns();
	fg_decision d;
	char key[32];
	unsigned which;

	test_rule(c, "open", 5, 1, HOUR_MS, 0);
	test_rule(c, "closed", 5, 1, HOUR_MS, FG_RULE_FAIL_CLOSED);
	t[0] = pol_triple(c, "filler", "fill-3", 1); /* has a bucket */
	t[1] = pol_triple(c, "open", roomless(c, "open", key, sizeof key), 1);
	cr_assert_eq(many_at(c, t, 2, now, &d, &which), 1);
	cr_expect_eq(pol_left(c, "filler", "fill-3"), 3);
	t[1] =
	    pol_triple(c, "closed", roomless(c, "closed", key, sizeof key), 1);
	cr_assert_eq(many_at(c, t, 2, now, &d, &which), 0);
	cr_expect_eq(which, 1);
	cr_expect_eq(d.flags, FG_DECISION_UNTRACKED);
	cr_expect_eq(d.retry_after_ms, HOUR_MS);
	cr_expect_eq(pol_left(c, "filler", "fill-3"), 3, "nothing taken");
	pol_destroy(c);
}

/* ------------------------------------------------------------- arguments */

/* A call's names are found first where the last call had them
 * (lib/client.c: fg__rule_index_hint): a name at another position, a
 * name that begins like another, or one added since, is its own rule. */
Test(many, each_triple_pays_the_rule_it_names_wherever_it_stands)
{
	fg_client *c = three_rules("names");
	fg_triple t[3] = {
	    {"user", "k", 1}, {"ip", "k", 1}, {"endpoint", "k", 1}};
	fg_triple u[3] = {
	    {"endpoint", "k", 1}, {"user", "k", 1}, {"ip", "k", 1}};
	fg_triple v[3] = {{"use", "k", 1}, {"ip", "k", 1}, {"users", "k", 1}};
	unsigned which;

	cr_assert_eq(fg_allow_many(c, t, 3, NULL, NULL), 1);
	cr_assert_eq(fg_allow_many(c, u, 3, NULL, NULL), 1);
	cr_expect_eq(pol_left(c, "user", "k"), 3);
	cr_expect_eq(pol_left(c, "ip", "k"), 1);
	cr_expect_eq(pol_left(c, "endpoint", "k"), 8);
	cr_expect_eq(fg_allow_many(c, v, 3, NULL, &which), FG_ENORULE);
	cr_expect_eq(which, 0, "\"use\" is not \"user\"");
	test_rule(c, "use", 5, 1, HOUR_MS, FG_RULE_GLOBAL);
	test_rule(c, "users", 5, 1, HOUR_MS, FG_RULE_GLOBAL);
	cr_assert_eq(fg_allow_many(c, v, 3, NULL, NULL), 1, "added since");
	cr_expect_eq(pol_left(c, "use", "k"), 4);
	cr_expect_eq(pol_left(c, "users", "k"), 4);
	cr_expect_eq(pol_left(c, "user", "k"), 3);
	cr_expect_eq(pol_left(c, "ip", "k"), 0);
	pol_destroy(c);
}

Test(many, a_bad_triple_is_named_and_nothing_is_consumed)
{
	fg_client *c = three_rules("args");
	char long_key[FG_KEY_MAX + 2];
	fg_triple t[FG_TRIPLES_MAX + 1];
	unsigned which, i;

	memset(long_key, 'k', sizeof long_key - 1);
	long_key[sizeof long_key - 1] = '\0';
	for (i = 0; i <= FG_TRIPLES_MAX; i++)
		t[i] = (fg_triple){.rule = "user", .key = "alice", .cost = 1};
	t[2] = (fg_triple){.rule = "nope", .key = "alice", .cost = 1};
	cr_expect_eq(fg_allow_many(c, t, 3, NULL, &which), FG_ENORULE);
	cr_expect_eq(which, 2);
	t[2] = (fg_triple){.rule = "ip", .key = "alice", .cost = 4};
	cr_expect_eq(fg_allow_many(c, t, 3, NULL, &which), FG_ECOST);
	cr_expect_eq(which, 2);
	t[1] = (fg_triple){.rule = "ip", .key = "", .cost = 1};
	cr_expect_eq(fg_allow_many(c, t, 3, NULL, &which), FG_EKEY);
	cr_expect_eq(which, 1);
	t[1] = (fg_triple){.rule = "ip", .key = long_key, .cost = 1};
	cr_expect_eq(fg_allow_many(c, t, 3, NULL, &which), FG_EKEYLEN);
	cr_expect_eq(which, 1);
	t[1] = (fg_triple){.rule = NULL, .key = "alice", .cost = 1};
	cr_expect_eq(fg_allow_many(c, t, 3, NULL, &which), FG_EINVAL);
	cr_expect_eq(which, 1);
	t[1] = t[2] = t[0];
	cr_expect_eq(fg_allow_many(c, t, 0, NULL, &which), FG_EINVAL);
	cr_expect_eq(fg_allow_many(c, t, FG_TRIPLES_MAX + 1, NULL, &which),
	             FG_EINVAL);
	cr_expect_eq(fg_allow_many(c, NULL, 1, NULL, &which), FG_EINVAL);
	cr_expect_eq(fg_allow_many(NULL, t, 1, NULL, NULL), FG_EINVAL);
	cr_expect_eq(pol_left(c, "user", "alice"), 5, "nothing consumed");
	cr_expect_eq(stats_of(c).used, 0, "no bucket made either");
	/* eight is the most, and fine */
	cr_expect_eq(fg_allow_many(c, t, FG_TRIPLES_MAX, NULL, &which), 0,
	             "8 tokens from a bucket of 5");
	t[0].rule = t[1].rule = "endpoint";
	for (i = 2; i < FG_TRIPLES_MAX; i++)
		t[i] = t[0];
	cr_expect_eq(fg_allow_many(c, t, FG_TRIPLES_MAX, NULL, &which), 1);
	cr_expect_eq(pol_left(c, "endpoint", "alice"), 2);
	pol_destroy(c);
}

/* ------------------------------------------------- races, made to order */

/* What the harvest gave the taker: tokens per rule. */
struct gossiped {
	uint64_t per_rule[FG_RULES_MAX];
};

static int take_fn(void *arg, unsigned rule, const uint8_t *key, size_t len,
                   uint64_t delta, uint64_t now_ms)
{
	struct gossiped *g = arg;

	(void)key;
	(void)len;
	(void)now_ms;
	g->per_rule[rule] += delta;
	return 0;
}

struct race {
	fg_client *other; /* another process's handle */
	struct fgd_harvest h;
	struct gossiped g;
	const char *drain_rule, *drain_key; /* emptied at stage 0 */
	int move_user;                      /* user's alice moves at stage 1 */
	unsigned stage1_harvested;          /* passes run at stage 1 */
	uint64_t user_count_at_1;           /* user's bucket count at stage 1 */
};

/* Move (@rule, @key)'s bucket to a free slot of its other bucket, as a
 * path of moves of an insert would (shm/cuckoo.c). */
static void move_away(fg_client *c, const char *rule, const char *key)
{
	struct fg_table *t = &c->seg.tbl;
	unsigned idx = pol_rule_index(c, rule);
	uint64_t h = fg__hash64(t->seed, idx, key, strlen(key)), x, y, to;
	struct fg_ref ref;
	unsigned dest;

	cr_assert_not_null(fg__table_lookup(t, idx, key, strlen(key), h, &ref));
	fg__table_buckets(t, h, &x, &y);
	to = ref.j / 2 == x ? y : x;
	for (dest = 0; dest < 2; dest++)
		if (fg__slot_state(t, to * 2 + dest) == FG_SLOT_FREE)
			break;
	cr_assert_lt(dest, 2, "a free slot in the other bucket");
	cr_assert_eq(
	    fg__cuckoo_move(&t->ck, ref.j / 2, (unsigned)(ref.j % 2), dest), 0);
	cr_assert_not_null(fg__table_lookup(t, idx, key, strlen(key), h, &ref));
	cr_assert_eq(ref.j, to * 2 + dest, "moved");
}

/* Between the steps of the check under test, as another process. */
static void race_hook(fg_client *c, unsigned stage, void *arg)
{
	struct race *r = arg;
	struct fg_slot_view v;

	if (stage == 0) { /* between read and take: a rule runs out */
		while (fg_allow(r->other, r->drain_rule, r->drain_key, 1,
		                NULL) == 1)
			;
		return;
	}
	if (stage != 1)
		return;
	/* one bucket taken, the other not yet: the daemon harvests now */
	fgd_harvest_pass(&r->h, 1, take_fn, &r->g);
	r->stage1_harvested++;
	if (bucket_of(c, "user", "alice", &v))
		r->user_count_at_1 = v.count;
	if (r->move_user)
		move_away(c, "user", "alice");
}

static void race_start(struct race *r, fg_client *c)
{
	char err[160];

	cr_assert_eq(fg_open(pol_segment, 0, &r->other), 0);
	cr_assert_eq(fgd_harvest_init(&r->h, c, NULL, err, sizeof err), 0, "%s",
	             err);
	c->many_hook = race_hook;
	c->many_arg = r;
}

static void race_end(struct race *r, fg_client *c)
{
	c->many_hook = NULL;
	fgd_harvest_fini(&r->h);
	fg_close(r->other);
}

/*
 * alice has spent 1 of user's 5: user (cost 4, none left once taken) has
 * fewer tokens left than ip (cost 1 of 3), so step 2 takes user first;
 * then ip, emptied by another process meanwhile, denies.  user's tokens
 * go back, and the harvest that ran while they were taken saw none of
 * them.  With @key_moves, alice's bucket moves to its other bucket
 * meanwhile (as an insert's path of moves would move it): the refund
 * looks alice up again.
 */
static void refund_case(const char *tag, int key_moves)
{
	fg_client *c = three_rules(tag);
	struct fg__triple t[2];
	struct race r = {.drain_rule = "ip",
	                 .drain_key = "10.0.0.1",
	                 .move_user = key_moves};
	uint64_t count_before;
	struct fg_slot_view v;
	fg_decision d;
	unsigned which;

	t[0] = pol_triple(c, "ip", "10.0.0.1", 1);
	t[1] = pol_triple(c, "user", "alice", 4);
	cr_assert_eq(fg_allow(c, "user", "alice", 1, NULL), 1); /* exists */
	cr_assert(bucket_of(c, "user", "alice", &v));
	count_before = v.count;
	race_start(&r, c);
	cr_assert_eq(many_at(c, t, 2, fg__now_ns(), &d, &which), 0);
	race_end(&r, c);

	cr_expect_eq(r.stage1_harvested, 1, "user was taken before ip lost");
	cr_expect_eq(r.user_count_at_1, count_before,
	             "a token that may be refunded is not in the count");
	cr_expect_eq(which, 0);
	cr_expect_eq(d.rule, t[0].rule);
	cr_expect_eq(pol_left(c, "user", "alice"), 4, "user's 4 came back");
	cr_assert(bucket_of(c, "user", "alice", &v));
	cr_expect_eq(v.count, count_before, "and were never counted");
	cr_expect_eq(r.g.per_rule[t[1].rule], 0,
	             "the harvest gossiped none of them");
	cr_expect_eq(v.denied, 0, "user did not deny");
	pol_destroy(c);
}

Test(many, a_refunded_token_is_never_counted_nor_gossiped)
{
	refund_case("refund", 0);
}

Test(many, a_refund_finds_its_bucket_after_its_key_moved)
{
	refund_case("refund-moved", 1);
}

/* ------------------------------------------------- four processes, for real */

/*
 * Four processes meet at each key (a process-shared barrier) and each
 * makes MP_TRIES requests of the three rules, the triples in a new order
 * each time, so that two processes often take ip and endpoint in opposite
 * orders and one of them loses the second after taking the first: the
 * refund is exercised at every key.  ip and endpoint are equally tight.
 * A request may be denied while another holds tokens it then gives back;
 * so once the workers are done, the test takes what is left, alone.
 */
#define MP_PROCS 4u
#define MP_KEYS  200u
#define MP_TIGHT 24u /* ip and endpoint */
#define MP_LOOSE 60u /* user */
#define MP_TRIES (3u * MP_TIGHT)

struct mp_shm {
	pthread_barrier_t at_key; /* process-shared */
	uint64_t started[MP_KEYS];
	uint64_t admitted[MP_PROCS][MP_KEYS];
};

struct mp_job {
	struct mp_shm *shm;
	struct start_gun gun;
};

static const char *mp_rules[3] = {"user", "ip", "endpoint"};

static int mp_request(fg_client *c, const char *key, uint64_t *rng)
{
	unsigned first = (unsigned)(xorshift(rng) % 3), j;
	int back = (int)(xorshift(rng) & 1);
	fg_triple t[3];

	for (j = 0; j < 3; j++)
		t[back ? 2 - j : j] = (fg_triple){
		    .rule = mp_rules[(first + j) % 3], .key = key, .cost = 1};
	return fg_allow_many(c, t, 3, NULL, NULL);
}

static int mp_worker(void *arg, unsigned i)
{
	struct mp_job *job = arg;
	uint64_t deadline = fg__now_ns() + WORKER_DEADLINE_NS,
	         rng = 0x9e3779b97f4a7c15ull * (i + 1);
	fg_client *c;
	unsigned k, n;
	char key[16];

	if (fg_open(pol_segment, 0, &c) != 0)
		return WX_OPEN;
	if (gun_wait(&job->gun) != 0)
		return WX_START;
	for (k = 0; k < MP_KEYS; k++) {
		snprintf(key, sizeof key, "key-%u", k);
		/* all at the key, then all off at once: a barrier wakes its
		 * waiters one by one, too slowly for them to meet */
		(void)pthread_barrier_wait(&job->shm->at_key);
		__atomic_fetch_add(&job->shm->started[k], 1, __ATOMIC_SEQ_CST);
		while (load64(&job->shm->started[k]) < MP_PROCS) {
			if (fg__now_ns() > deadline)
				return WX_DEADLINE;
			sched_yield();
		}
		for (n = 0; n < MP_TRIES; n++) {
			int r = mp_request(c, key, &rng);

			if (r < 0)
				return WX_ERROR;
			job->shm->admitted[i][k] += (uint64_t)r;
		}
	}
	fg_close(c);
	return 0;
}

Test(many, four_processes_on_three_rules_admit_the_tightest_and_lose_nothing)
{
	fg_client *c = pol_create("mp", 4 * MP_KEYS) /* 3 buckets a key */;
	struct mp_shm *shm = shared_alloc(sizeof *shm);
	struct mp_job job = {.shm = shm};
	struct fg_table_sums *sums = malloc(sizeof *sums);
	uint64_t rng = 1, after = 0;
	char key[16];
	unsigned k, p;

	pthread_barrierattr_t ba;

	cr_assert_not_null(sums);
	cr_assert_eq(pthread_barrierattr_init(&ba), 0);
	cr_assert_eq(
	    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED), 0);
	cr_assert_eq(pthread_barrier_init(&shm->at_key, &ba, MP_PROCS), 0);
	test_rule(c, "user", MP_LOOSE, 1, HOUR_MS, FG_RULE_GLOBAL);
	test_rule(c, "ip", MP_TIGHT, 1, HOUR_MS, FG_RULE_GLOBAL);
	test_rule(c, "endpoint", MP_TIGHT, 1, HOUR_MS, FG_RULE_GLOBAL);
	gun_load(&job.gun);
	spawn_n(mp_worker, &job, MP_PROCS);
	gun_fire(&job.gun, MP_PROCS);
	wait_children((int)MP_PROCS);

	for (k = 0; k < MP_KEYS; k++) {
		uint64_t admitted = 0;
		int r;

		snprintf(key, sizeof key, "key-%u", k);
		for (p = 0; p < MP_PROCS; p++)
			admitted += shm->admitted[p][k];
		while ((r = mp_request(c, key, &rng)) == 1) {
			admitted++; /* left by momentary denials */
			after++;
		}
		cr_assert_eq(r, 0);
		cr_expect_eq(admitted, MP_TIGHT, "%s: %llu admitted", key,
		             (unsigned long long)admitted);
		cr_expect_eq(pol_left(c, "user", key), MP_LOOSE - MP_TIGHT,
		             "%s: user lost tokens to denied requests", key);
		cr_expect_eq(pol_left(c, "ip", key), 0, "%s", key);
		cr_expect_eq(pol_left(c, "endpoint", key), 0, "%s", key);
	}
	/* what the harvest would gossip: exactly the admissions */
	fg__table_sums(&c->seg.tbl, sums);
	for (p = 0; p < 3; p++) {
		unsigned idx = pol_rule_index(c, mp_rules[p]);

		cr_expect_eq(sums->r[idx].allowed, MP_KEYS * MP_TIGHT,
		             "%s counted %llu", mp_rules[p],
		             (unsigned long long)sums->r[idx].allowed);
	}
	cr_log_info("%llu of %u admissions taken after the workers",
	            (unsigned long long)after, MP_KEYS * MP_TIGHT);
	free(sums);
	munmap(shm, sizeof *shm);
	pol_destroy(c);
}
