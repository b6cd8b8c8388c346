/* SPDX-License-Identifier: ISC */
/*
 * test_table_room.c - where an insert whose key's two buckets are full
 * finds room (shm/evict.c): a near path of moves first; then a full
 * bucket of those two that the caller may evict, before any far path;
 * a far path when none may go; and nothing evicted for a caller that
 * gave no room.
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

/* A table whose near search looks at @near buckets, "new"'s two buckets
 * filled (*@h), then "new" found with @room (NULL: fg__table_find_ref()). */
static struct fg_table *insert_new(unsigned near, const struct fg_room *room,
                                   struct home *h)
{
	struct fg_table *t = table_new(NB);
	struct fg_ref ref;

	t->near = near;
	fill_home(t, h);
	cr_assert_not_null(
	    room != NULL ? fg__table_find_evict(
	                       t, 0, "new", 3, hash_of(t, 0, "new"), &ref, room)
	                 : find(t, 0, "new"));
	return t;
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
