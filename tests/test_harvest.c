/* SPDX-License-Identifier: ISC */
/*
 * test_harvest.c - the daemon's harvest (gossip/harvest.c) over a table
 * whose keys move.
 *
 * An insert moves keys to their other bucket along a path
 * (shm/cuckoo.c), and a key's count moves with it.  The harvest keeps a
 * baseline per slot (what it took of the slot's key so far): the rule
 * checked here is that the baseline follows the key, so that what a key
 * admitted is taken exactly once, whether the harvest meets the slot the
 * key left or the one it went to first, in one pass or over several, and
 * whether the key was clean (nothing admitted since the last pass) or
 * not when it moved.  Moves are made by hand between passes, with the
 * core's own move (fg__cuckoo_move).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "gossip/harvest.h"
#include "lib/client.h"
#include "shm/hash.h"
#include "shm/scan.h"
#include "tests/helpers.h"

TestSuite(harvest, .timeout = 60);

#define CAP 1000u /* 644 buckets: 11 pages of the dirty map */

static struct {
	fg_client *c;
	struct fgd_harvest h;
	uint64_t taken; /* what the harvest gave the taker, in all */
	unsigned idx;   /* rule "g" */
} H;

static int take(void *arg, unsigned rule, const uint8_t *key, size_t len,
                uint64_t delta, uint64_t now_ms)
{
	(void)arg;
	(void)rule;
	(void)key;
	(void)len;
	(void)now_ms;
	H.taken += delta;
	return 0;
}

static void setup(void)
{
	char err[160];
	int idx;

	memset(&H, 0, sizeof H);
	H.c = test_create("harvest", CAP);
	test_rule(H.c, "g", 1000, 1, HOUR_MS, FG_RULE_GLOBAL);
	idx = fg__rule_index(H.c, "g");
	cr_assert_geq(idx, 0);
	H.idx = (unsigned)idx;
	cr_assert_eq(fgd_harvest_init(&H.h, H.c, NULL, err, sizeof err), 0,
	             "%s", err);
}

static void teardown(void)
{
	fgd_harvest_fini(&H.h);
	fg_close(H.c);
	fg_unlink(test_segment("harvest"));
}

static void pass(void)
{
	fgd_harvest_pass(&H.h, 1, take, NULL);
}

static void admit(const char *key, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		cr_assert_eq(fg_allow(H.c, "g", key, 1, NULL), 1);
}

static uint64_t page_of(uint64_t bucket)
{
	return bucket / FG_DIRTY_BUCKETS;
}

/* Where @key's bucket is, and its other bucket. */
static uint64_t where(const char *key, uint64_t *other)
{
	struct fg_table *t = &H.c->seg.tbl;
	uint64_t h = fg__hash64(t->seed, H.idx, key, strlen(key)), x, y;
	struct fg_ref ref;

	cr_assert_not_null(
	    fg__table_lookup(t, H.idx, key, strlen(key), h, &ref));
	fg__table_buckets(t, h, &x, &y);
	*other = ref.j / 2 == x ? y : x;
	return ref.j;
}

/* Move @key to a free slot of its other bucket: its new slot. */
static uint64_t move(const char *key)
{
	struct fg_table *t = &H.c->seg.tbl;
	uint64_t to, from = where(key, &to), now;
	unsigned dest;

	for (dest = 0; dest < 2; dest++)
		if (fg__slot_state(t, to * 2 + dest) == FG_SLOT_FREE)
			break;
	cr_assert_lt(dest, 2, "a free slot in the other bucket");
	cr_assert_eq(
	    fg__cuckoo_move(&t->ck, from / 2, (unsigned)(from % 2), dest), 0);
	cr_assert_eq(where(key, &now), to * 2 + dest, "moved");
	return to * 2 + dest;
}

/* A name for a key whose buckets are on pages in the order @order asks:
 * -1 its first bucket's page before the other's, 1 after, 0 the same. */
static void key_with(char *key, size_t size, int order)
{
	struct fg_table *t = &H.c->seg.tbl;
	unsigned i;

	for (i = 0;; i++) {
		uint64_t x, y, px, py;

		cr_assert_lt(i, 100000);
		snprintf(key, size, "k%d-%u", order + 1, i);
		fg__table_buckets(
		    t, fg__hash64(t->seed, H.idx, key, strlen(key)), &x, &y);
		/* inserted in an empty table, a key goes to its first */
		px = page_of(x);
		py = page_of(y);
		if ((order < 0 && px < py) || (order > 0 && px > py) ||
		    (order == 0 && px == py))
			return;
	}
}

/* What was admitted since the last pass is taken by the next two at most
 * (a baseline that follows its key marks the page it goes to, which one
 * pass may have left behind), and nothing more by a third. */
static void expect_taken(uint64_t want, const char *when)
{
	pass();
	pass();
	cr_expect_eq(H.taken, want, "%s: %llu taken of %llu", when,
	             (unsigned long long)H.taken, (unsigned long long)want);
	pass();
	cr_expect_eq(H.taken, want, "%s: nothing more", when);
}

/* The case of @order: admissions before and after moves back and forth,
 * each move made while the key had admissions not yet harvested. */
static void moves_while_dirty(int order)
{
	char key[32];

	key_with(key, sizeof key, order);
	admit(key, 5);
	expect_taken(5, "before any move");
	admit(key, 3);
	(void)move(key);
	expect_taken(8, "moved after 3 more");
	admit(key, 2);
	expect_taken(10, "admitted where it went");
	admit(key, 1);
	(void)move(key);
	expect_taken(11, "moved back");
	cr_expect_eq(H.h.sums[H.idx].allowed, 11, "the rule's sums");
	cr_expect_eq(H.h.sums[H.idx].keys, 1);
}

Test(harvest, a_key_moved_to_a_later_page_is_taken_once, .init = setup,
     .fini = teardown)
{
	moves_while_dirty(-1);
}

Test(harvest, a_key_moved_to_an_earlier_page_is_taken_once, .init = setup,
     .fini = teardown)
{
	moves_while_dirty(1);
}

Test(harvest, a_key_moved_within_its_page_is_taken_once, .init = setup,
     .fini = teardown)
{
	moves_while_dirty(0);
}

/* A clean key moves without marking any page: its next admission marks
 * the page where it went, and the harvest finds its baseline at the slot
 * it left. */
Test(harvest, a_clean_key_that_moved_is_followed_from_its_next_admission,
     .init = setup, .fini = teardown)
{
	char key[32];

	key_with(key, sizeof key, -1);
	admit(key, 5);
	expect_taken(5, "before the move");
	(void)move(key);
	expect_taken(5, "a clean move: nothing to take");
	admit(key, 4);
	expect_taken(9, "4 where it went, not 9 again");
	cr_expect_eq(H.h.sums[H.idx].allowed, 9);
}

/* A key evicted (by a worker) and made again between two passes counts
 * from 0: the harvest takes its new count, not the difference with the
 * old one. */
Test(harvest, a_key_made_again_between_two_passes_counts_from_zero,
     .init = setup, .fini = teardown)
{
	struct fg_table *t = &H.c->seg.tbl;
	struct fg_slot_view v;
	char key[32];
	uint64_t i, other;

	key_with(key, sizeof key, 0);
	admit(key, 5);
	expect_taken(5, "the first bucket");
	i = where(key, &other);
	cr_assert(fg__slot_read(t, i, &v));
	cr_assert(fg__bucket_evict(t, &v, v.tat + 1), "full by then");
	admit(key, 2);
	expect_taken(7, "the second bucket's 2");
}

/* A key frozen for a move keeps its baseline until the move ends. */
Test(harvest, a_key_frozen_for_a_move_keeps_its_baseline, .init = setup,
     .fini = teardown)
{
	struct fg_table *t = &H.c->seg.tbl;
	const uint64_t moving = FG_W_STATE_BITS(FG_SLOT_MOVING);
	struct fg_slot *s;
	char key[32];
	uint64_t i, other;

	key_with(key, sizeof key, 1);
	admit(key, 5);
	expect_taken(5, "before");
	admit(key, 3);
	i = where(key, &other);
	s = &t->slots[i];
	s->word ^= FG_W_STATE_BITS(FG_SLOT_READY) ^ moving; /* frozen */
	pass();
	cr_expect_eq(H.taken, 5, "nothing taken while it is frozen");
	cr_expect_eq(H.h.sums[H.idx].keys, 1, "and its baseline kept");
	s->word ^= FG_W_STATE_BITS(FG_SLOT_READY) ^ moving; /* thawed */
	expect_taken(8, "thawed");
}

/* A key, in @b, whose first bucket is @a's first (@other 0) or its other
 * bucket (@other 1), and whose other bucket is neither of @a's: inserted
 * in a table where that bucket is empty, it goes there, and a move
 * takes it to a third. */
static void key_near(const char *a, int other, char *b, size_t size)
{
	struct fg_table *t = &H.c->seg.tbl;
	uint64_t xa, ya, x, y;
	unsigned i;

	fg__table_buckets(t, fg__hash64(t->seed, H.idx, a, strlen(a)), &xa,
	                  &ya);
	for (i = 0;; i++) {
		cr_assert_lt(i, 10000000);
		snprintf(b, size, "%c%u", other ? 'c' : 'b', i);
		fg__table_buckets(t, fg__hash64(t->seed, H.idx, b, strlen(b)),
		                  &x, &y);
		if (x == (other ? ya : xa) && y != xa && y != ya)
			return;
	}
}

/* Two keys of one bucket trade ways (each out to its other bucket and
 * back into the other's way), their admissions not yet harvested: each
 * baseline is where the other's key is.  Taken once, the sums exact,
 * and settled: the next passes read no slot. */
Test(harvest, keys_that_traded_places_are_taken_once_and_settle, .init = setup,
     .fini = teardown)
{
	struct fg_table *t = &H.c->seg.tbl;
	char a[32], b[32];
	uint64_t ia, ib, ja, jb, xa, xb, visited;

	key_with(a, sizeof a, -1);
	key_near(a, 0, b, sizeof b);
	admit(a, 5);
	admit(b, 3);
	ia = where(a, &xa);
	if (where(b, &xb) / 2 != ia / 2) /* put in the emptier bucket */
		(void)move(b);
	expect_taken(8, "before");
	ib = where(b, &xb);
	cr_assert_eq(ia / 2, ib / 2, "one bucket");
	admit(a, 2);
	admit(b, 1);
	ja = move(a);
	jb = move(b);
	/* back, each into the other's way */
	cr_assert_eq(fg__cuckoo_move(&t->ck, ja / 2, (unsigned)(ja % 2),
	                             (unsigned)(ib % 2)),
	             0);
	cr_assert_eq(fg__cuckoo_move(&t->ck, jb / 2, (unsigned)(jb % 2),
	                             (unsigned)(ia % 2)),
	             0);
	cr_assert_eq(where(a, &xa), ib, "a where b was");
	cr_assert_eq(where(b, &xb), ia, "b where a was");
	expect_taken(11, "traded places");
	cr_expect_eq(H.h.sums[H.idx].keys, 2);
	cr_expect_eq(H.h.sums[H.idx].allowed, 11);
	visited = H.h.visited;
	pass();
	cr_expect_eq(H.h.visited, visited, "settled: no slot read again");
	admit(b, 4);
	expect_taken(15, "and followed after");
}

/* Move @key to way @way of its other bucket: its new slot, or UINT64_MAX
 * when that way is taken. */
static uint64_t move_to(const char *key, unsigned way)
{
	struct fg_table *t = &H.c->seg.tbl;
	uint64_t to, from = where(key, &to);

	if (fg__slot_state(t, to * 2 + way) != FG_SLOT_FREE)
		return UINT64_MAX;
	cr_assert_eq(
	    fg__cuckoo_move(&t->ck, from / 2, (unsigned)(from % 2), way), 0);
	return to * 2 + way;
}

/* A chain of moves whose second key came back to its bucket's other
 * way: A goes to the slot B left, B is beside it.  A's baseline follows A
 * to B's slot, and B's, there first, follows B from there: found at a
 * slot of B (once the harvest swapped B's baseline to where A had been,
 * not one of B's slots, lost it, and took B's 4 twice). */
Test(harvest, a_chain_of_moves_ending_beside_its_start_is_taken_once,
     .init = setup, .fini = teardown)
{
	char a[32], b[32];
	uint64_t ia, ib, xa, xb;

	key_with(a, sizeof a, -1); /* A's page before its other bucket's */
	key_near(a, 1, b, sizeof b);
	admit(a, 5);
	admit(b, 3);
	ia = where(a, &xa);
	ib = where(b, &xb);
	cr_assert_eq(ib / 2, xa, "B in A's other bucket");
	cr_assert_eq(ib % 2, 0, "at its first way");
	expect_taken(8, "before");
	admit(a, 2);
	admit(b, 1);
	cr_assert_neq(move_to(b, 0), UINT64_MAX); /* out... */
	cr_assert_eq(move_to(b, 1), ib + 1);      /* ...and back beside */
	cr_assert_eq(move_to(a, 0), ib, "A where B was");
	(void)ia;
	expect_taken(11, "a chain of two");
	cr_expect_eq(H.h.sums[H.idx].keys, 2);
	cr_expect_eq(H.h.sums[H.idx].allowed, 11);
	admit(a, 1);
	admit(b, 4);
	expect_taken(16, "and each followed after");
}

#define MANY_KEYS  300u
#define MANY_ROUND 400u

/* Keys admitted and moved at random, several moves between passes (paths,
 * chains, keys that came back, cycles): every admission taken once. */
Test(harvest, however_keys_move_between_passes_each_admission_is_taken_once,
     .init = setup, .fini = teardown)
{
	static char keys[MANY_KEYS][16];
	uint64_t x = 0x9e3779b97f4a7c15ull, admitted = 0;
	unsigned i, r, moves = 0;

	for (i = 0; i < MANY_KEYS; i++) {
		snprintf(keys[i], sizeof keys[i], "m%u", i);
		admit(keys[i], 1);
		admitted++;
	}
	for (r = 0; r < MANY_ROUND; r++) {
		for (i = 0; i < 20; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			admit(keys[x % MANY_KEYS], 1 + (unsigned)(x >> 60) % 2);
			admitted += 1 + (x >> 60) % 2;
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (move_to(keys[x % MANY_KEYS], (unsigned)(x >> 63)) !=
			    UINT64_MAX)
				moves++;
		}
		if (r % 3 == 0)
			pass();
	}
	cr_assert_gt(moves, MANY_ROUND * 20 / 4, "keys moved: %u", moves);
	expect_taken(admitted, "after random moves");
	cr_expect_eq(H.h.sums[H.idx].keys, MANY_KEYS);
	cr_expect_eq(H.h.sums[H.idx].allowed, admitted);
}

/* An eviction whose reset bucket had to stay (here a move held its
 * stripe; or a check admitted in it first) leaves a new bucket of the
 * key, counting from 0: its baseline does too.  Kept at 1, it made the
 * harvest miss the new bucket's first token once it counted 2. */
Test(harvest, a_bucket_reset_by_an_eviction_that_stayed_counts_from_zero,
     .init = setup, .fini = teardown)
{
	struct fg_cuckoo *ck = &H.c->seg.tbl.ck;
	static uint64_t was[FG_CK_STRIPES];
	struct fg_table_sums sums;
	uint64_t until;
	unsigned i;

	test_rule(H.c, "f", 2, 1, 1, FG_RULE_GLOBAL); /* a token a ms */
	cr_assert_eq(fg_allow(H.c, "f", "k", 1, NULL), 1);
	expect_taken(1, "before");
	until = fg__now_ns() + 3000000; /* full again */
	while (fg__now_ns() < until)
		;
	for (i = 0; i < FG_CK_STRIPES; i++) { /* held, as by a move */
		was[i] = ck->stripes[i];
		ck->stripes[i] = (UINT64_C(1) << 40) | fg__cuckoo_now_ms();
	}
	cr_expect_eq(fgd_harvest_evict(&H.h, 1), 0, "reset, not freed");
	memcpy(ck->stripes, was, sizeof was);
	fg__table_sums(&H.c->seg.tbl, &sums);
	cr_expect_eq(sums.used, 1, "the key's bucket stays");
	cr_assert_eq(fg_allow(H.c, "f", "k", 1, NULL), 1);
	cr_assert_eq(fg_allow(H.c, "f", "k", 1, NULL), 1);
	expect_taken(3, "both tokens of the new bucket");
}
