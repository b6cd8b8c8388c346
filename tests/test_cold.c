/* SPDX-License-Identifier: ISC */
/*
 * test_cold.c - a key's denials in the cold parts of its four slots
 * (shm/cold.c): what the harvest reads of them, a key that moves, the
 * count a moved key left where another key now lives, and a denial with
 * no part to be had.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "shm/scan.h"
#include "shm/table.h"
#include "tests/table_priv.h"

TestSuite(cold, .timeout = 60);

/* What the harvest reads of slot @i now (the pass marks nothing else). */
static struct fg_slot_view harvest_one(struct fg_table *t, uint64_t i)
{
	struct fg_slot_view v, got = {0};
	uint64_t cur = 0;

	fg__harvest_again(t, i);
	while (fg__harvest_next(t, &cur, &v))
		if (v.slot == i)
			got = v;
	cr_assert_eq(got.slot, i, "the pass visited the slot");
	return got;
}

Test(cold, denials_read_the_same_by_every_pass_clean_bit_or_not)
{
	struct fg_table *t = table_new(8);
	struct fg_slot_view v;
	struct fg_ref ref;
	uint64_t i;

	cr_assert_not_null(
	    fg__table_find_ref(t, 0, "k", 1, hash_of(t, 0, "k"), &ref));
	i = ref.j;
	fg__table_deny(t, &ref);
	fg__table_deny(t, &ref);
	v = harvest_one(t, i);
	cr_expect_eq(v.denied, 2);
	/* the pass left the clean bit set: a second pass over the page
	 * (another bucket of it changed) reads the same count */
	cr_expect(t->cold[i].aux & FG_AUX_CLEAN);
	v = harvest_one(t, i);
	cr_expect_eq(v.denied, 2, "a set clean bit is no denial");
	cr_expect_eq(fg__slot_read(t, i, &v), 1);
	cr_expect_eq(v.denied, 2);
	/* the next denial clears it and marks the page */
	memset(t->dirty, 0, sizeof *t->dirty);
	fg__table_deny(t, &ref);
	cr_expect(t->dirty[0] & 1, "the page is marked");
	cr_expect(!(t->cold[i].aux & FG_AUX_CLEAN));
	v = harvest_one(t, i);
	cr_expect_eq(v.denied, 3);
	/* a cold part tagged for another key: none of its denials */
	t->cold[i].tag ^= 2;
	v = harvest_one(t, i);
	cr_expect_eq(v.denied, 0);
	table_free(t);
}

/* A key's denials are counted in the cold parts of its four slots: a key
 * that moves keeps them, and its next denial gathers them in the part of
 * the slot it lives in. */
Test(cold, a_key_that_moves_keeps_its_denials)
{
	struct fg_table *t = table_new(8);
	struct fg_slot_view v;
	struct fg_ref ref;
	uint64_t i, n;

	cr_assert_not_null(
	    fg__table_find_ref(t, 0, "k", 1, hash_of(t, 0, "k"), &ref));
	i = ref.j;
	fg__table_deny(t, &ref);
	fg__table_deny(t, &ref);
	cr_assert_eq(fg__cuckoo_move(&t->ck, i / 2, (unsigned)(i % 2), 0), 0);
	cr_assert_not_null(
	    fg__table_find_ref(t, 0, "k", 1, hash_of(t, 0, "k"), &ref));
	n = ref.j;
	cr_assert_neq(n, i);
	cr_expect_eq(fg__slot_read(t, n, &v), 1);
	cr_expect_eq(v.denied, 2, "at its new slot");
	fg__table_deny(t, &ref);
	cr_expect_eq(fg__slot_read(t, n, &v), 1);
	cr_expect_eq(v.denied, 3);
	cr_expect_eq(FG_AUX_DENIALS(t->cold[n].aux), 3,
	             "in the part of its slot, with what it left");
	cr_expect_eq(FG_AUX_DENIALS(t->cold[i].aux), 0);
	table_free(t);
}

/* A key that moved left its count in the part of the slot it left; the
 * first denial of the key that lives there now takes that count home,
 * to the part of the slot where the first key lives, and takes the part. */
Test(cold, a_denial_takes_home_the_count_a_moved_key_left)
{
	struct fg_table *t = table_new(2);
	struct fg_ref a, b;
	uint64_t sa;
	unsigned i;

	cr_assert_not_null(
	    fg__table_find_ref(t, 0, "a", 1, hash_of(t, 0, "a"), &a));
	sa = a.j;
	for (i = 0; i < 3; i++)
		fg__table_deny(t, &a);
	cr_assert_eq(fg__cuckoo_move(&t->ck, sa / 2, (unsigned)(sa % 2), 0), 0);
	cr_assert_not_null(
	    fg__table_find_ref(t, 0, "b", 1, hash_of(t, 0, "b"), &b));
	cr_assert_eq(b.j, sa, "b took the slot a left");
	cr_assert_not_null(
	    fg__table_find_ref(t, 0, "a", 1, hash_of(t, 0, "a"), &a));
	cr_expect_eq(t->cold[sa].tag, a.h, "a's count is still there");
	fg__table_deny(t, &b);
	cr_expect_eq(t->cold[sa].tag, b.h, "b's part now");
	cr_expect_eq(FG_AUX_DENIALS(t->cold[sa].aux), 1);
	cr_expect_eq(t->cold[a.j].tag, a.h, "a's count went home");
	cr_expect_eq(FG_AUX_DENIALS(t->cold[a.j].aux), 3);
	cr_expect_eq(fg__table_denials(t, a.h, a.j, 0), 3);
	cr_expect_eq(t->rules[0].evicted_denied, 0, "nothing to the rule");
	table_free(t);
}

/* When the key's part counts for a key that cannot be found (here: none
 * lives in the table), and the key has no other part, the denial goes to
 * its rule's record, which the rule's figures add: none is lost. */
Test(cold, a_denial_with_no_part_to_be_had_is_counted_in_its_rule)
{
	struct fg_table *t = table_new(2);
	struct fg_table_sums sums;
	struct fg_ref ref;
	unsigned i;

	cr_assert_not_null(
	    fg__table_find_ref(t, 4, "k", 1, hash_of(t, 4, "k"), &ref));
	for (i = 0; i < 4; i++) { /* four keys' counts: no part to spare */
		t->cold[i].aux = 5;
		t->cold[i].tag = 0x990 + i;
	}
	fg__table_deny(t, &ref);
	cr_expect_eq(t->rules[4].evicted_denied, 1);
	for (i = 0; i < 4; i++)
		cr_expect_eq(t->cold[i].aux, 5, "part %u left alone", i);
	fg__table_sums(t, &sums);
	cr_expect_eq(sums.r[4].denied, 1);
	table_free(t);
}
