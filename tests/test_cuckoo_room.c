/* SPDX-License-Identifier: ISC */
/*
 * test_cuckoo_room.c - the layout C table's search for room
 * (shm/cuckoo_insert.c): a search for a path of moves that failed is not
 * made again until a slot is freed for good, by a removal or by the reap;
 * an insert that finds a FREE slot in its own buckets needs none; in a
 * table a search sees whole, every insert searches.  The
 * searches are counted through the hook of this test's own build of
 * cuckoo*.c (FG_CK_AT_SEARCH).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/cuckoo.h"

TestSuite(cuckoo_room, .timeout = 30);

#define RULE  1u
#define STALE 2u /* ms */

static const uint64_t seed[2] = {0x1234, 0x5678};
static unsigned searches;

static void count_searches(struct fg_cuckoo *t, enum fg_ck_at at,
                           struct fg_slot *s)
{
	(void)t;
	(void)s;
	searches += at == FG_CK_AT_SEARCH;
}

static void key_n(const struct fg_cuckoo *t, struct fg_ck_key *k, unsigned n)
{
	char b[16];
	int len = snprintf(b, sizeof b, "user-%u", n);

	cr_assert_eq(fg__cuckoo_key(t, k, RULE, b, (size_t)len), 0);
}

static int insert_n(struct fg_cuckoo *t, unsigned n)
{
	struct fg_ck_key k;

	key_n(t, &k, n);
	return fg__cuckoo_insert(t, &k);
}

/* A table of two buckets (every key has both), its four slots full. */
static void *full_table(struct fg_cuckoo *t)
{
	void *m = aligned_alloc(64, fg__cuckoo_size(2, 0));
	unsigned i;

	cr_assert_not_null(m);
	memset(m, 0, fg__cuckoo_size(2, 0));
	cr_assert_eq(fg__cuckoo_attach(t, m, 2, 0, seed, STALE), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(insert_n(t, i), 1, "key %u", i);
	t->hint = 1; /* as a table of more buckets than a search sees */
	searches = 0;
	fg__cuckoo_hook = count_searches;
	return m;
}

static void done(void *m)
{
	fg__cuckoo_hook = NULL;
	free(m);
}

Test(cuckoo_room, a_search_that_failed_is_not_made_again_until_a_removal)
{
	struct fg_cuckoo t;
	void *m = full_table(&t);
	struct fg_ck_key k0;

	cr_expect_eq(insert_n(&t, 4), -ENOSPC);
	cr_expect_eq(searches, 1);
	cr_expect_eq(insert_n(&t, 5), -ENOSPC);
	cr_expect_eq(searches, 1, "not searched again");
	key_n(&t, &k0, 0);
	cr_assert_eq(fg__cuckoo_remove(&t, &k0, UINT64_MAX), 0);
	cr_expect_eq(insert_n(&t, 6), 1, "the freed slot taken");
	cr_expect_eq(searches, 1, "a FREE slot of its own: no search");
	cr_expect_eq(insert_n(&t, 7), -ENOSPC);
	cr_expect_eq(searches, 2, "searched again after a removal");
	done(m);
}

Test(cuckoo_room, a_slot_the_reap_frees_lets_an_insert_search_again)
{
	struct fg_cuckoo t;
	void *m = full_table(&t);
	struct fg_ck_key k0;
	struct fg_pair p;
	struct fg_slot *s;

	key_n(&t, &k0, 0);
	s = fg__cuckoo_get(&t, &k0, &p);
	cr_assert_not_null(s);
	/* as a claimer killed long ago leaves it once marked */
	s->tat = fg__cuckoo_now_ms();
	s->word = (s->word & ~(UINT64_C(7) << FG_CK_STATE_SHIFT)) |
	          ((uint64_t)FG_CK_DEAD << FG_CK_STATE_SHIFT);
	cr_expect_eq(insert_n(&t, 4), -ENOSPC, "a DEAD slot is not FREE");
	cr_expect_eq(searches, 1);
	fg__cuckoo_reap(&t, fg__cuckoo_now_ms() + 10 * STALE);
	cr_expect_eq(insert_n(&t, 5), 1, "the reaped slot taken");
	cr_expect_eq(insert_n(&t, 6), -ENOSPC);
	cr_expect_eq(searches, 2, "searched again after the reap");
	done(m);
}

Test(cuckoo_room, in_a_table_a_search_sees_whole_every_insert_searches)
{
	struct fg_cuckoo t;
	void *m = full_table(&t);

	t.hint = 0; /* as fg__cuckoo_attach() leaves a table of 2 buckets */
	cr_expect_eq(insert_n(&t, 4), -ENOSPC);
	cr_expect_eq(insert_n(&t, 5), -ENOSPC);
	cr_expect_eq(searches, 2, "searched again");
	done(m);
}

Test(cuckoo_room, only_a_table_larger_than_a_search_heeds_a_failed_one)
{
	size_t big = fg__cuckoo_size(2 * FG_CK_BFS_NODES, 0);
	void *m = aligned_alloc(64, big);
	struct fg_cuckoo t;

	cr_assert_not_null(m);
	memset(m, 0, big);
	cr_assert_eq(fg__cuckoo_attach(&t, m, FG_CK_BFS_NODES, 0, seed, STALE),
	             0);
	cr_expect_not(t.hint);
	cr_assert_eq(
	    fg__cuckoo_attach(&t, m, FG_CK_BFS_NODES + 1, 0, seed, STALE), 0);
	cr_expect(t.hint);
	free(m);
}

/* Whether both of @k's buckets are full of READY keys (an insert moves). */
static int both_full(const struct fg_cuckoo *t, const struct fg_ck_key *k)
{
	unsigned i;

	for (i = 0; i < 2 * FG_CK_WAYS; i++) {
		uint64_t b = i < FG_CK_WAYS ? k->x : k->y;

		if (FG_CK_STATE(t->s[b * FG_CK_WAYS + i % FG_CK_WAYS].word) !=
		    FG_CK_READY)
			return 0;
	}
	return 1;
}

/*
 * A worker killed while moving a key leaves its stripe held; once
 * stale_ms old, the next mover takes it over.  An insert whose path
 * crosses it waits for that (its check would otherwise go uncounted:
 * the CI failure of test_multiproc's kill storm).
 */
Test(cuckoo_room, an_insert_whose_moves_a_dead_mover_holds_waits_it_out)
{
	const uint64_t stale = 200; /* ms: 1024 yields take far less */
	size_t size = fg__cuckoo_size(8, 0);
	void *m = aligned_alloc(64, size);
	struct fg_cuckoo t;
	struct fg_ck_key k;
	struct fg_pair p;
	uint64_t t0, ms;
	unsigned n, i;

	cr_assert_not_null(m);
	memset(m, 0, size);
	cr_assert_eq(fg__cuckoo_attach(&t, m, 8, 0, seed, stale), 0);
	for (n = 0; n < 10; n++)
		cr_assert_eq(insert_n(&t, n), 1, "key %u", n);
	for (;; n++) { /* a new key whose buckets are both full */
		cr_assert_lt(n, 1000);
		key_n(&t, &k, n);
		if (both_full(&t, &k))
			break;
	}
	t0 = fg__cuckoo_now_ms();
	for (i = 0; i < FG_CK_STRIPES; i++) /* held, as a killed mover's */
		t.stripes[i] = (UINT64_C(1) << 40) | t0;
	cr_assert_eq(fg__cuckoo_insert(&t, &k), 1, "inserted, not given up");
	ms = fg__cuckoo_now_ms() - t0;
	cr_expect_geq(ms, stale, "after the stripe went stale: %llu ms",
	              (unsigned long long)ms);
	cr_expect_leq(ms, 2 * stale + 2, "%llu ms", (unsigned long long)ms);
	cr_expect_not_null(fg__cuckoo_get(&t, &k, &p), "found");
	free(m);
}
