/*
 * test_table.c - the open-addressing table: placement, collisions, claims
 * left by dead inserters, reaping, and the probe bound.
 *
 * These tests drive fg__table_find() directly on a table in private
 * memory, choosing hashes by hand so that collisions are certain rather
 * than hoped for.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/layout.h"
#include "shm/table.h"
#include "tests/helpers.h"

TestSuite(table, .timeout = 30);

static struct fg_table *table_new(uint64_t nslots)
{
	struct fg_table *t = calloc(1, sizeof *t);

	cr_assert_not_null(t);
	t->hdr = aligned_alloc(64, sizeof *t->hdr);
	t->slots = aligned_alloc(64, nslots * sizeof *t->slots);
	cr_assert(t->hdr && t->slots);
	memset(t->hdr, 0, sizeof *t->hdr);
	memset(t->slots, 0, nslots * sizeof *t->slots);
	t->nslots = nslots;
	t->seed[0] = 1;
	t->seed[1] = 2;
	return t;
}

static void table_free(struct fg_table *t)
{
	free(t->slots);
	free(t->hdr);
	free(t);
}

static struct fg_slot *find(struct fg_table *t, unsigned rule, const char *key,
                            uint64_t h)
{
	return fg__table_find(t, rule, key, strlen(key), h);
}

static unsigned count_state(struct fg_table *t, unsigned state)
{
	unsigned n = 0;
	uint64_t i;

	for (i = 0; i < t->nslots; i++)
		n += FG_CTL_STATE(t->slots[i].ctl) == state;
	return n;
}

Test(table, finds_the_slot_it_inserted)
{
	struct fg_table *t = table_new(64);
	struct fg_slot *a = find(t, 0, "alice", 12345);

	cr_assert_not_null(a);
	cr_expect_eq(FG_CTL_STATE(a->ctl), FG_SLOT_READY);
	cr_expect_eq(memcmp(a->key, "alice", 5), 0);
	cr_expect_eq(find(t, 0, "alice", 12345), a);
	cr_expect_eq(t->hdr->inserts, 1);
	table_free(t);
}

Test(table, keys_with_the_same_hash_get_distinct_slots)
{
	struct fg_table *t = table_new(64);
	const char *keys[] = {"k1", "k2", "k3", "longer-key", "x"};
	struct fg_slot *s[5];
	unsigned i, j;

	/* Same hash: same home and same fingerprint; only the bytes differ
	 * (k1/k2/k3 even have the same length). */
	for (i = 0; i < 5; i++)
		s[i] = find(t, 0, keys[i], 777);
	for (i = 0; i < 5; i++) {
		cr_assert_not_null(s[i]);
		cr_expect_eq(find(t, 0, keys[i], 777), s[i]);
		for (j = 0; j < i; j++)
			cr_expect_neq(s[i], s[j]);
	}
	cr_expect_eq(count_state(t, FG_SLOT_READY), 5);
	table_free(t);
}

Test(table, same_key_under_two_rules_is_two_buckets)
{
	struct fg_table *t = table_new(64);
	struct fg_slot *a = find(t, 0, "alice", 99);
	struct fg_slot *b = find(t, 1, "alice", 99);

	cr_assert(a && b);
	cr_expect_neq(a, b);
	cr_expect_eq(find(t, 1, "alice", 99), b);
	table_free(t);
}

Test(table, probing_wraps_around_the_end_of_the_table)
{
	struct fg_table *t = table_new(8);
	uint64_t last = UINT64_MAX; /* home = nslots - 1 */
	struct fg_slot *a = find(t, 0, "a", last);
	struct fg_slot *b = find(t, 0, "b", last);

	cr_assert(a && b);
	cr_expect_eq(a, &t->slots[7]);
	cr_expect_eq(b, &t->slots[0]);
	cr_expect_eq(find(t, 0, "b", last), b);
	table_free(t);
}

Test(table, full_window_returns_null_and_changes_nothing)
{
	struct fg_table *t = table_new(4);
	char key[8];
	unsigned i;

	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "k%u", i);
		cr_assert_not_null(find(t, 0, key, i * 1000));
	}
	cr_expect_null(find(t, 0, "one-too-many", 5));
	cr_expect_eq(count_state(t, FG_SLOT_READY), 4);
	cr_expect_not_null(find(t, 0, "k2", 2000)); /* old keys still found */
	table_free(t);
}

Test(table, probe_sequence_is_bounded_by_probe_max)
{
	uint64_t n = FG_PROBE_MAX * 2, i;
	struct fg_table *t = table_new(n);
	char key[16];

	/* Fill the whole window of home 0 with other keys of home 0. */
	for (i = 0; i < FG_PROBE_MAX; i++) {
		snprintf(key, sizeof key, "k%llu", (unsigned long long)i);
		cr_assert_not_null(find(t, 0, key, 0));
	}
	cr_expect_null(find(t, 0, "beyond", 0));
	cr_expect_eq(FG_CTL_STATE(t->slots[FG_PROBE_MAX].ctl), FG_SLOT_EMPTY);
	table_free(t);
}

/* A claim as a process killed between claiming and publishing leaves it. */
static void plant_claim(struct fg_table *t, uint64_t i, unsigned rule,
                        const char *key, uint64_t h)
{
	t->slots[i].ctl = fg__table_meta(h, rule, strlen(key)) |
	                  FG_SLOT_CLAIMED | ((uint64_t)5 << 18);
}

Test(table, claim_of_a_dead_inserter_is_abandoned_and_the_key_inserted)
{
	struct fg_table *t = table_new(64);
	uint64_t h = 4242, home = fg__table_home(t, h), t0, t1;
	struct fg_slot *s;

	plant_claim(t, home, 0, "victim", h);
	t0 = fg__now_ns();
	s = find(t, 0, "victim", h);
	t1 = fg__now_ns();
	cr_assert_not_null(s);
	cr_expect_neq(s, &t->slots[home], "the dead claim is never published");
	cr_expect_eq(FG_CTL_STATE(t->slots[home].ctl), FG_SLOT_DEAD);
	cr_expect_geq(t1 - t0, FG_CLAIM_STALE_NS, "waited for the claimer");
	cr_expect_eq(t->hdr->abandoned, 1);
	cr_expect_eq(find(t, 0, "victim", h), s, "found again, no wait");
	table_free(t);
}

Test(table, claim_for_another_key_is_skipped_without_waiting)
{
	struct fg_table *t = table_new(64);
	uint64_t h = 4242, home = fg__table_home(t, h), t0;
	struct fg_slot *s;

	/* Same home, different fingerprint: cannot be our key. */
	plant_claim(t, home, 0, "someone-else", h ^ 0xffffffffu);
	t0 = fg__now_ns();
	s = find(t, 0, "mine", h);
	cr_assert_not_null(s);
	cr_expect_lt(fg__now_ns() - t0, FG_CLAIM_STALE_NS);
	cr_expect_eq(FG_CTL_STATE(t->slots[home].ctl), FG_SLOT_CLAIMED);
	table_free(t);
}

Test(table, dead_and_free_slots_do_not_hide_keys_behind_them)
{
	struct fg_table *t = table_new(64);
	uint64_t h = 10, home = fg__table_home(t, h);
	struct fg_slot *b;

	cr_assert_not_null(find(t, 0, "a", h)); /* home */
	b = find(t, 0, "b", h);                 /* home + 1 */
	cr_assert_eq(b, &t->slots[home + 1]);
	t->slots[home].ctl = (t->slots[home].ctl & ~(uint64_t)7) | FG_SLOT_DEAD;
	cr_expect_eq(find(t, 0, "b", h), b);
	t->slots[home].ctl = (t->slots[home].ctl & ~(uint64_t)7) | FG_SLOT_FREE;
	cr_expect_eq(find(t, 0, "b", h), b);
	table_free(t);
}

Test(table, free_slot_is_reused_by_the_next_insert)
{
	struct fg_table *t = table_new(64);
	uint64_t h = 10, home = fg__table_home(t, h);
	unsigned gen;

	cr_assert_not_null(find(t, 0, "a", h));
	cr_assert_not_null(find(t, 0, "b", h));
	gen = FG_CTL_GEN(t->slots[home].ctl);
	t->slots[home].ctl = (t->slots[home].ctl & ~(uint64_t)7) | FG_SLOT_FREE;
	t->slots[home].tat = 123456; /* old bucket state must not leak */
	t->slots[home].consumed = 77;
	cr_expect_eq(find(t, 0, "c", h), &t->slots[home]);
	cr_expect_eq(FG_CTL_GEN(t->slots[home].ctl), gen + 1);
	cr_expect_eq(t->slots[home].tat, 0);
	cr_expect_eq(t->slots[home].consumed, 0);
	table_free(t);
}

Test(table, reap_frees_only_dead_slots_older_than_the_grace_period)
{
	struct fg_table *t = table_new(64);
	uint64_t now = fg__now_ns();

	t->slots[1].ctl = FG_SLOT_DEAD;
	t->slots[1].aux = now - 5000000000ull; /* dead 5 s ago */
	t->slots[2].ctl = FG_SLOT_DEAD;
	t->slots[2].aux = now - 1000; /* just now */
	t->slots[3].ctl = FG_SLOT_DEAD;
	t->slots[3].aux = 0; /* stamp lost: the clock starts at reaping */
	cr_assert_not_null(find(t, 0, "live", 77));

	cr_expect_eq(fg__table_reap(t, now, 1000000000ull), 1);
	cr_expect_eq(FG_CTL_STATE(t->slots[1].ctl), FG_SLOT_FREE);
	cr_expect_eq(FG_CTL_STATE(t->slots[2].ctl), FG_SLOT_DEAD);
	cr_expect_eq(FG_CTL_STATE(t->slots[3].ctl), FG_SLOT_DEAD);
	cr_expect_eq(t->slots[3].aux, now);
	cr_expect_eq(count_state(t, FG_SLOT_READY), 1, "live keys untouched");
	cr_expect_eq(fg__table_reap(t, now + 2000000000ull, 1000000000ull), 2);
	cr_expect_eq(t->hdr->reaped, 3);
	table_free(t);
}

Test(table, garbage_slot_states_are_skipped_not_trusted)
{
	struct fg_table *t = table_new(64);
	uint64_t h = 10, home = fg__table_home(t, h);
	struct fg_slot *s;

	/* A corrupt segment: states 5..7 do not exist. */
	t->slots[home].ctl = 7 | ((uint64_t)0x7f << 3);
	t->slots[home + 1].ctl = 5;
	s = find(t, 0, "k", h);
	cr_assert_not_null(s);
	cr_expect_eq(s, &t->slots[home + 2]);
	table_free(t);
}

Test(table, default_segment_holds_a_million_keys_in_128_mib)
{
	fg_client *c = test_create("million", 0);
	fg_segment_stats st;
	fg_decision d;
	char key[32];
	unsigned i, untracked = 0;

	test_rule(c, "r", 1, 1, HOUR_MS, 0);
	for (i = 0; i < FG_DEFAULT_CAPACITY; i++) {
		snprintf(key, sizeof key, "user-%u", i);
		cr_assert_eq(fg_allow(c, "r", key, 1, &d), 1);
		untracked += (d.flags & FG_DECISION_UNTRACKED) != 0;
	}
	cr_expect_eq(untracked, 0);
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_expect_eq(st.used, FG_DEFAULT_CAPACITY);
	cr_expect_leq(st.nslots * FG_SLOT_SIZE + 4096 + 65536,
	              128ull * 1024 * 1024);
	/* and each of them is a bucket: the first key is now empty */
	cr_expect_eq(fg_allow(c, "r", "user-0", 1, NULL), 0);
	fg_close(c);
	fg_unlink(test_segment("million"));
}

Test(table, debit_puts_a_bucket_in_debt_without_counting_local_consumption)
{
	fg_client *c = test_create("debit", 100);
	fg_decision d;
	uint64_t capped = 1;
	int idx;

	test_rule(c, "g", 10, 1, HOUR_MS, FG_RULE_GLOBAL);
	idx = fg__rule_index(c, "g");
	cr_assert_geq(idx, 0);
	/* 15 tokens consumed elsewhere: 5 beyond the burst, in debt */
	cr_assert_eq(fg__debit(c, (unsigned)idx, "k", 1, 15,
	                       UINT64_C(100) * 3600 * 1000000000, &capped),
	             0);
	cr_expect_eq(capped, 0, "within the cap: all of it debited");
	cr_expect_eq(fg_allow(c, "g", "k", 1, &d), 0);
	cr_expect_eq(d.remaining, 0);
	cr_expect_gt(d.retry_after_ms, 5ull * HOUR_MS, "debt repaid first");
	/* a capped debit: never more than max_debt ahead of now */
	cr_assert_eq(
	    fg__debit(c, (unsigned)idx, "k2", 2, 1000000, 1000, &capped), 0);
	cr_expect_eq(capped, 1000000, "the cap kept out all %llu tokens",
	             1000000ull);
	cr_expect_eq(fg_allow(c, "g", "k2", 1, &d), 1,
	             "1 us of debt cap is less than one token interval");
	cr_expect_eq(fg__debit(c, 200, "k", 1, 1, 1, NULL), FG_ENORULE);
	fg_segment_stats st;
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_expect_eq(st.consumed, 1, "only the local admission is consumed");
	fg_close(c);
	fg_unlink(test_segment("debit"));
}

Test(table, reap_abandons_a_claim_no_inserter_came_back_for)
{
	struct fg_table *t = table_new(64);
	uint64_t now = fg__now_ns();

	plant_claim(t, 9, 0, "orphan", 1);
	/* first pass: the claim is stamped, not judged */
	cr_expect_eq(fg__table_reap(t, now, 0), 0);
	cr_expect_eq(FG_CTL_STATE(t->slots[9].ctl), FG_SLOT_CLAIMED);
	cr_expect_eq(t->slots[9].tat, now);
	/* still within the grace period: left alone */
	cr_expect_eq(fg__table_reap(t, now + 1000, 0), 0);
	cr_expect_eq(FG_CTL_STATE(t->slots[9].ctl), FG_SLOT_CLAIMED);
	/* unchanged past FG_CLAIM_STALE_NS: dead, then free */
	now += FG_CLAIM_STALE_NS;
	cr_expect_eq(fg__table_reap(t, now, 0), 0);
	cr_expect_eq(FG_CTL_STATE(t->slots[9].ctl), FG_SLOT_DEAD);
	cr_expect_eq(t->hdr->abandoned, 1);
	cr_expect_eq(fg__table_reap(t, now, 0), 1);
	cr_expect_eq(FG_CTL_STATE(t->slots[9].ctl), FG_SLOT_FREE);
	table_free(t);
}

Test(table, reap_stamp_on_a_just_published_bucket_leaves_it_full)
{
	fg_client *c = test_create("stamp", 100);
	fg_decision d;
	struct fg_slot *s;
	int idx;

	test_rule(c, "r", 3, 1, HOUR_MS, 0);
	idx = fg__rule_index(c, "r");
	s = fg__table_find(&c->seg.tbl, (unsigned)idx, "k", 1,
	                   fg__hash64(c->seg.tbl.seed, (unsigned)idx, "k", 1));
	cr_assert_not_null(s);
	s->tat = fg__now_ns(); /* what a reaper's stamp leaves behind */
	cr_expect_eq(fg_allow(c, "r", "k", 1, &d), 1);
	cr_expect_eq(d.remaining, 2, "a stamp is never a debit");
	fg_close(c);
	fg_unlink(test_segment("stamp"));
}

Test(table, reap_never_touches_a_bucket_already_in_use)
{
	struct fg_table *t = table_new(64);
	uint64_t now = fg__now_ns(), later = now + 5000000000ull;

	/* The reaper read ctl as CLAIMED; the insert was then published
	 * and tokens taken, so tat is beyond now: not a stamp to judge. */
	plant_claim(t, 3, 0, "busy", 1);
	t->slots[3].tat = later;
	cr_expect_eq(fg__table_reap(t, now, 0), 0);
	cr_expect_eq(t->slots[3].tat, later, "a live bucket is not rewound");
	cr_expect_eq(FG_CTL_STATE(t->slots[3].ctl), FG_SLOT_CLAIMED);
	table_free(t);
}

Test(table, a_reaped_slot_carries_no_old_stamp_into_its_next_claim)
{
	struct fg_table *t = table_new(64);
	uint64_t now = fg__now_ns();

	t->slots[4].ctl = FG_SLOT_DEAD;
	t->slots[4].aux = now - 5000000000ull;
	t->slots[4].tat = now - 5000000000ull; /* the old claim's stamp */
	cr_expect_eq(fg__table_reap(t, now, 1000), 1);
	cr_expect_eq(FG_CTL_STATE(t->slots[4].ctl), FG_SLOT_FREE);
	cr_expect_eq(t->slots[4].tat, 0);
	table_free(t);
}

Test(table, owner_lock_excludes_a_child_using_the_parents_handle)
{
	fg_client *c = test_create("lockfork", 16);
	int go[2], done[2], status;
	char b;
	pid_t p;

	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(done), 0);
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		fg_rule rule = {
		    .name = "x", .capacity = 1, .rate = 1, .period_ms = 1000};

		/* once the parent holds the lock, an owner operation through
		 * the very handle inherited from it must wait */
		if (read(go[0], &b, 1) != 1)
			_exit(2);
		_exit(fg_rule_set(c, &rule) == 0 && write(done[1], "x", 1) == 1
		          ? 0
		          : 1);
	}
	cr_assert_eq(fg__seg_lock(&c->seg), 0);
	cr_assert_eq(write(go[1], "g", 1), 1);
	usleep(200000);
	cr_expect_eq(waitpid(p, &status, WNOHANG), 0,
	             "the child got the lock the parent holds");
	fg__seg_unlock(&c->seg);
	cr_assert_eq(read(done[0], &b, 1), 1);
	cr_assert_eq(waitpid(p, &status, 0), p);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fg_close(c);
	fg_unlink(test_segment("lockfork"));
}

Test(table, peek_reads_a_bucket_without_taking_or_creating_anything)
{
	fg_client *c = test_create("peek", 100);
	fg_segment_stats st;
	int64_t n = 0;
	int idx;

	test_rule(c, "r", 10, 1, HOUR_MS, 0);
	cr_expect_eq(fg__peek(c, "r", "absent", 6, &n), 0);
	cr_expect_eq(n, 10, "an absent key has a full bucket");
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_expect_eq(st.used, 0, "and peeking did not create it");
	cr_assert_eq(fg_allow(c, "r", "k", 4, NULL), 1);
	cr_expect_eq(fg__peek(c, "r", "k", 1, &n), 0);
	cr_expect_eq(n, 6);
	cr_expect_eq(fg__peek(c, "r", "k", 1, &n), 0);
	cr_expect_eq(n, 6, "peeking takes nothing");
	idx = fg__rule_index(c, "r");
	cr_assert_eq(
	    fg__debit(c, (unsigned)idx, "k", 1, 9, UINT64_MAX / 4, NULL), 0);
	cr_expect_eq(fg__peek(c, "r", "k", 1, &n), 0);
	cr_expect_eq(n, -3, "3 tokens in debt");
	cr_expect_eq(fg__peek(c, "nope", "k", 1, &n), FG_ENORULE);
	cr_expect_eq(fg__peek(c, "r", "k", 0, &n), FG_EKEY);
	cr_expect_eq(fg__peek(c, "r", "k", FG_KEY_MAX + 1, &n), FG_EKEYLEN);
	fg_close(c);
	fg_unlink(test_segment("peek"));
}
