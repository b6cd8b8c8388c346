/* SPDX-License-Identifier: ISC */
/*
 * test_table_room.c - where an insert whose key's two buckets are full
 * finds room (shm/evict.c): a near path of moves first; then a full
 * bucket of those two that the caller may evict, before any far path;
 * a far path when none may go; and nothing evicted for a caller that
 * gave no room.  A handle whose near searches keep finding nothing
 * evicts first.
 *
 * Each table holds the new key's two buckets full of four keys placed by
 * hand (fg__cuckoo_move()), each of which could move to an empty bucket:
 * a path of one move is always there.  A table whose near search looks
 * at the key's own two buckets alone (t->near = 2) has that path far.
 */
#include "tests/table_priv.h"

TestSuite(table_room, .timeout = 30);

#define NB 8u

static int any_rule(void *arg, unsigned rule)
{
	(void)arg;
	(void)rule;
	return 1;
}

static int no_rule(void *arg, unsigned rule)
{
	(void)arg;
	(void)rule;
	return 0;
}

/* A key of rule 0 whose buckets are @x and one of @free's (a bucket
 * with no key of ours): its name in @buf. */
static void key_between(struct fg_table *t, uint64_t x, const int used[NB],
                        char *buf, size_t size, unsigned *serial)
{
	uint64_t a, b;

	for (;; (*serial)++) {
		key_of(buf, size, "k", *serial);
		fg__table_buckets(t, hash_of(t, 0, buf), &a, &b);
		if ((a == x && !used[b]) || (b == x && !used[a])) {
			(*serial)++;
			return;
		}
	}
}

/* Insert @key and move it into bucket @x if the core put it elsewhere;
 * its slot, admitted at tat @tat. */
static uint64_t place_in(struct fg_table *t, const char *key, uint64_t x,
                         uint64_t tat)
{
	struct fg_slot *s = find(t, 0, key);
	uint64_t i, w;

	cr_assert_not_null(s, "%s", key);
	i = index_of(t, s);
	if (i / FG_BUCKET_SLOTS != x) {
		for (w = 0;
		     fg__slot_state(t, x * FG_BUCKET_SLOTS + w) != FG_SLOT_FREE;
		     w++)
			cr_assert_lt(w + 1, FG_BUCKET_SLOTS);
		cr_assert_eq(fg__cuckoo_move(&t->ck, i / FG_BUCKET_SLOTS,
		                             (unsigned)(i % FG_BUCKET_SLOTS),
		                             (unsigned)w),
		             0);
		s = find(t, 0, key);
	}
	admit(s, tat, 1);
	return index_of(t, s);
}

struct home {
	char keys[4][16]; /* the four keys, in the new key's buckets */
	uint64_t at[4];   /* their slots */
};

/* "new"'s two buckets filled with four keys admitted at tat 1000. */
static void fill_home(struct fg_table *t, struct home *h)
{
	int used[NB] = {0};
	unsigned serial = 0, i;
	uint64_t b[2];

	fg__table_buckets(t, hash_of(t, 0, "new"), &b[0], &b[1]);
	used[b[0]] = used[b[1]] = 1;
	for (i = 0; i < 4; i++) {
		key_between(t, b[i / 2], used, h->keys[i], sizeof h->keys[i],
		            &serial);
		h->at[i] = place_in(t, h->keys[i], b[i / 2], 1000);
	}
	cr_assert_eq(count_state(t, FG_SLOT_READY), 4);
}

/* How many of @h's keys are still where they were (*@present: how many
 * are still in the table). */
static unsigned in_place(struct fg_table *t, const struct home *h,
                         unsigned *present)
{
	unsigned i, n = 0;

	*present = 0;
	for (i = 0; i < 4; i++) {
		struct fg_slot *s = lookup(t, 0, h->keys[i]);

		*present += s != NULL;
		n += s != NULL && index_of(t, s) == h->at[i];
	}
	return n;
}

/* A table whose near search looks at @near buckets and whose handle saw
 * @vain near searches in vain in a row, "new"'s two buckets filled
 * (*@h), then "new" found with @room (NULL: fg__table_find_ref()). */
static struct fg_table *insert_after(unsigned near, unsigned vain,
                                     const struct fg_room *room, struct home *h)
{
	struct fg_table *t = table_new(NB);
	struct fg_ref ref;

	t->near = near;
	t->near_vain = vain;
	fill_home(t, h);
	cr_assert_not_null(
	    room != NULL ? fg__table_find_evict(
	                       t, 0, "new", 3, hash_of(t, 0, "new"), &ref, room)
	                 : find(t, 0, "new"));
	return t;
}

static struct fg_table *insert_new(unsigned near, const struct fg_room *room,
                                   struct home *h)
{
	return insert_after(near, 0, room, h);
}

/* A path of moves made room: a key moved, none evicted. */
static void expect_moved_not_evicted(struct fg_table *t, const struct home *h)
{
	unsigned present;

	cr_expect_eq(t->hdr->evicted, 0);
	cr_expect_lt(in_place(t, h, &present), 4, "a key moved");
	cr_expect_eq(present, 4, "all kept");
}

Test(table_room, a_near_path_of_moves_goes_before_an_eviction)
{
	const struct fg_room room = {any_rule, NULL, 2000};
	struct home h;
	struct fg_table *t = insert_new(FG_CK_BFS_NEAR, &room, &h);

	expect_moved_not_evicted(t, &h);
	table_free(t);
}

Test(table_room, a_full_bucket_of_the_keys_own_two_goes_before_a_far_path)
{
	const struct fg_room room = {any_rule, NULL, 2000};
	struct home h;
	struct fg_table *t = insert_new(2, &room, &h);
	unsigned present;

	cr_expect_eq(in_place(t, &h, &present), 3, "none moved");
	cr_expect_eq(present, 3, "one evicted");
	cr_expect_eq(t->hdr->evicted, 1);
	cr_expect_eq(t->rules[0].evicted_consumed, 1, "its count kept");
	table_free(t);
}

Test(table_room, buckets_not_yet_full_again_are_moved_not_evicted)
{
	const struct fg_room room = {any_rule, NULL, 999};
	struct home h;
	struct fg_table *t = insert_new(2, &room, &h);

	expect_moved_not_evicted(t, &h);
	table_free(t);
}

Test(table_room, a_rule_the_caller_may_not_evict_is_moved_not_evicted)
{
	const struct fg_room room = {no_rule, NULL, 2000};
	struct home h;
	struct fg_table *t = insert_new(2, &room, &h);

	expect_moved_not_evicted(t, &h);
	table_free(t);
}

Test(table_room, without_a_room_the_insert_evicts_nothing)
{
	struct home h;
	struct fg_table *t = insert_new(2, NULL, &h);

	cr_expect_eq(t->hdr->evicted, 0);
	cr_expect_eq(count_state(t, FG_SLOT_READY), 5, "all five kept");
	table_free(t);
}

/* The near path is there, but the handle has seen near searches find
 * nothing (a table past its capacity): a full bucket goes first. */
Test(table_room, after_near_searches_in_vain_an_eviction_goes_first)
{
	const struct fg_room room = {any_rule, NULL, 2000};
	struct home h;
	struct fg_table *t = insert_after(FG_CK_BFS_NEAR, 100, &room, &h);
	unsigned present;

	cr_expect_eq(in_place(t, &h, &present), 3, "none moved");
	cr_expect_eq(present, 3, "one evicted");
	cr_expect_eq(t->near_vain, 100, "and no search was made");
	table_free(t);
}

Test(table_room, a_near_search_counts_its_failures_and_a_path_ends_them)
{
	const struct fg_room none = {no_rule, NULL, 2000};
	const struct fg_room room = {any_rule, NULL, 2000};
	struct home h;
	struct fg_table *t = insert_after(2, 2, &none, &h);

	cr_expect_eq(t->near_vain, 3, "a search in vain more");
	table_free(t);
	t = insert_after(FG_CK_BFS_NEAR, 2, &room, &h);
	expect_moved_not_evicted(t, &h);
	cr_expect_eq(t->near_vain, 0, "a path found: the streak is over");
	table_free(t);
}

/* Past the streak, one insert in FG_NEAR_PROBE (16) still searches
 * first, so that a table that has room again is seen to. */
Test(table_room, a_handle_that_evicts_first_still_searches_now_and_then)
{
	const struct fg_room room = {any_rule, NULL, 2000};
	struct home h;
	struct fg_table *t = table_new(NB);
	struct fg_ref ref;

	t->near = FG_CK_BFS_NEAR;
	t->near_vain = 100;
	t->near_skips = 15; /* the next is the 16th */
	fill_home(t, &h);
	cr_assert_not_null(fg__table_find_evict(
	    t, 0, "new", 3, hash_of(t, 0, "new"), &ref, &room));
	expect_moved_not_evicted(t, &h);
	cr_expect_eq(t->near_vain, 0);
	table_free(t);
}
