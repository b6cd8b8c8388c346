/* SPDX-License-Identifier: ISC */
/*
 * test_table.c - the segment's table, layout C (shm/table.c over
 * shm/cuckoo.c): where keys are found, what a full table does, long
 * keys and their records, the generation, moves, claims left by dead inserters,
 * eviction, the reap, and the harvest's marks (denials: test_cold.c).
 *
 * Most tests drive the table directly on private memory with a few
 * buckets (tests/table_priv.h); tests/test_cuckoo.c tests the core's
 * concurrency on its own.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/layout.h"
#include "shm/scan.h"
#include "shm/table.h"
#include "tests/helpers.h"
#include "tests/table_priv.h"

TestSuite(table, .timeout = 60);

Test(table, a_key_is_found_inline_in_one_of_its_two_buckets)
{
	struct fg_table *t = table_new(64);
	struct fg_ref ref = {0};
	char key[16];
	unsigned i;

	for (i = 0; i < 100; i++) {
		struct fg_slot *s;
		uint64_t h, x, y;

		key_of(key, sizeof key, "user-", i);
		s = find(t, 1, key);
		cr_assert_not_null(s);
		h = hash_of(t, 1, key);
		fg__table_buckets(t, h, &x, &y);
		cr_expect(index_of(t, s) / 2 == x || index_of(t, s) / 2 == y,
		          "%s in bucket %llu, not %llu or %llu", key,
		          (unsigned long long)(index_of(t, s) / 2),
		          (unsigned long long)x, (unsigned long long)y);
		cr_expect_eq(
		    fg__table_find_home(t, 1, key, strlen(key), h, &ref), s,
		    "found inline");
		cr_expect_eq(ref.j, index_of(t, s));
		cr_expect(fg__ref_valid(&ref));
	}
	for (i = 0; i < 100; i++) {
		key_of(key, sizeof key, "user-", i);
		cr_expect_not_null(lookup(t, 1, key), "%s", key);
	}
	cr_expect_eq(count_state(t, FG_SLOT_READY), 100);
	cr_expect_eq(t->hdr->inserts, 100);
	table_free(t);
}

/* Fill the four slots of hash @h's buckets, in the order the inline
 * find compares them (into @order), with @words and the @len bytes of
 * @keys. */
static void plant_four(struct fg_table *t, uint64_t h, const uint64_t words[4],
                       const char *const keys[4], size_t len,
                       struct fg_slot *order[4])
{
	uint64_t x, y;
	unsigned n;

	fg__table_buckets(t, h, &x, &y);
	for (n = 0; n < 4; n++) {
		order[n] = &t->slots[2 * (n < 2 ? x : y) + n % 2];
		order[n]->word = words[n];
		memcpy(order[n]->key, keys[n], len);
	}
}

/* The inline find compares a slot's bytes first: slots before the key's
 * whose bytes are the key's zero-padded bytes but whose word is another
 * rule's, another length's ("k" and "k\0") or not READY are passed, and
 * the key found in the fourth slot compared, its reference valid. */
Test(table, slots_with_the_keys_bytes_and_another_word_are_passed_inline)
{
	struct fg_table *t = table_new(8);
	const uint64_t ready = FG_W_STATE_BITS(FG_SLOT_READY);
	const uint64_t words[4] = {
	    FG_W_MAKE(0, 1, 0) | ready, FG_W_MAKE(1, 2, 0) | ready,
	    FG_W_MAKE(1, 1, 0) | FG_W_STATE_BITS(FG_SLOT_CLAIMED),
	    FG_W_MAKE(1, 1, 0) | ready};
	const char *const keys[4] = {"k", "k", "k", "k"};
	const uint64_t h = hash_of(t, 1, "k");
	struct fg_slot *order[4];
	struct fg_ref ref = {0};

	plant_four(t, h, words, keys, 1, order);
	cr_expect_eq(fg__table_find_home(t, 1, "k", 1, h, &ref), order[3]);
	cr_expect_eq(ref.j, index_of(t, order[3]));
	cr_expect(fg__ref_valid(&ref));
	cr_expect_eq(fg__table_find_home(t, 1, "k\0", 2, h, &ref), order[1],
	             "the same bytes under the length of the slot's word");
	order[3]->word = FG_W_MAKE(1, 1, 0) | FG_W_STATE_BITS(FG_SLOT_DEAD);
	cr_expect_null(fg__table_find_home(t, 1, "k", 1, h, &ref),
	               "no READY slot of the key's word: not found inline");
	table_free(t);
}

/* A key of 9-16 bytes is compared on its bytes 8-15 first: slots that
 * share those and not its first 8, or its first 8 and not those, are
 * passed, and it is found in the fourth slot compared. */
Test(table, slots_sharing_either_half_of_a_key_are_passed_inline)
{
	struct fg_table *t = table_new(8);
	const uint64_t ready = FG_W_STATE_BITS(FG_SLOT_READY);
	const uint64_t words[4] = {
	    FG_W_MAKE(1, 12, 0) | ready, FG_W_MAKE(1, 12, 0) | ready,
	    FG_W_MAKE(0, 12, 0) | ready, FG_W_MAKE(1, 12, 0) | ready};
	const char *const keys[4] = {"USER:1234567", "user:1234568",
	                             "user:1234567", "user:1234567"};
	const uint64_t h = hash_of(t, 1, keys[3]);
	struct fg_slot *order[4];
	struct fg_ref ref = {0};

	plant_four(t, h, words, keys, 12, order);
	cr_expect_eq(fg__table_find_home(t, 1, keys[3], 12, h, &ref), order[3]);
	cr_expect(fg__ref_valid(&ref));
	cr_expect_eq(fg__table_find_home(t, 1, keys[0], 12, h, &ref), order[0],
	             "the slot whose first 8 bytes differ is its key's");
	cr_expect_eq(fg__table_find_home(t, 1, keys[1], 12, h, &ref), order[1],
	             "the slot whose last 4 bytes differ is its key's");
	table_free(t);
}

/* The inline path computes the key's buckets itself: they must be the
 * core's, for every table size. */
Test(table, the_inline_buckets_are_the_ones_the_core_uses)
{
	const uint64_t sizes[] = {2, 3, 7, 64, 1000, 571429};
	struct fg_ck_key k;
	char key[16];
	unsigned i, n;

	for (n = 0; n < sizeof sizes / sizeof sizes[0]; n++) {
		struct fg_table t;

		memset(&t, 0, sizeof t);
		t.nbuckets = t.ck.nb = sizes[n];
		t.seed[0] = t.ck.seed[0] = priv_seed[0];
		t.seed[1] = t.ck.seed[1] = priv_seed[1];
		for (i = 0; i < 20000; i++) {
			uint64_t x, y;

			key_of(key, sizeof key, "k", i);
			cr_assert_eq(
			    fg__cuckoo_key(&t.ck, &k, i % 7, key, strlen(key)),
			    0);
			cr_assert_eq(k.h, hash_of(&t, i % 7, key));
			fg__table_buckets(&t, k.h, &x, &y);
			cr_assert(x == k.x && y == k.y, "%s in %llu buckets",
			          key, (unsigned long long)sizes[n]);
		}
	}
}

Test(table, same_key_under_two_rules_is_two_buckets)
{
	struct fg_table *t = table_new(16);
	struct fg_slot *a = find(t, 0, "k"), *b = find(t, 1, "k");

	cr_assert(a && b);
	cr_expect_neq(a, b);
	cr_expect_eq(find(t, 0, "k"), a);
	cr_expect_eq(find(t, 1, "k"), b);
	table_free(t);
}

/* A key of @len bytes: "long-" and its index, then 'x's (a key of 64
 * bytes differs from one of 63 in length, from another of 64 at the
 * start; @last set: in its last byte only). */
static void long_key(char *buf, size_t len, unsigned i, char last)
{
	memset(buf, 'x', len);
	buf[len] = '\0';
	buf[snprintf(buf, len, "long-%u", i)] = 'x';
	if (last)
		buf[len - 1] = last;
}

/* Keys of 17-64 bytes take a slot naming their record: the inline find
 * compares the hash, then the record's line, and finds the slot the
 * insert made; the reference holds the hash and the record; a scan reads
 * the whole key back, and keys that differ past their 16th byte, or only
 * in their last, are distinct buckets. */
Test(table, long_keys_are_found_inline_through_their_record)
{
	static const size_t lens[] = {17, 32, 33, 63, 64};
	struct fg_table *t = table_new(64);
	char key[FG_TABLE_KEY_MAX + 1], other[FG_TABLE_KEY_MAX + 1];
	struct fg_slot_view v;
	unsigned i;

	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct fg_ref ref = {0}, ref2 = {0};
		struct fg_slot *s, *o;
		uint64_t h;

		long_key(key, lens[i], i, 0);
		long_key(other, lens[i], i, 'y');
		h = hash_of(t, 1, key);
		s = fg__table_find_ref(t, 1, key, lens[i], h, &ref);
		cr_assert_not_null(s, "%zu bytes", lens[i]);
		cr_expect_eq(ref.kb[0], h, "the slot names the key's hash");
		cr_expect_lt(FG_CK_REC_OF(ref.kb[1]), t->nrecords,
		             "and a record");
		cr_expect_eq(FG_CK_REC_LEN(ref.kb[1]), lens[i],
		             "and its length");
		cr_expect_eq(FG_W_KEYLEN(ref.live), FG_W_KEYLEN_REC);
		cr_expect(fg__ref_valid(&ref));
		cr_expect_eq(fg__table_find_home(t, 1, key, lens[i], h, &ref2),
		             s, "found inline, %zu bytes", lens[i]);
		cr_expect_eq(ref2.live, ref.live);
		cr_expect_eq(ref2.kb[1], ref.kb[1]);
		cr_expect_eq(lookup(t, 1, key), s);
		cr_expect_null(lookup(t, 1, other), "differs in its last byte");
		o = find(t, 1, other);
		cr_assert_not_null(o);
		cr_expect_neq(o, s);
		cr_assert(fg__slot_read(t, index_of(t, s), &v));
		cr_expect_eq(v.keylen, lens[i]);
		cr_expect_eq(memcmp(v.key, key, lens[i]), 0,
		             "the key read back");
	}
	cr_expect_eq(count_state(t, FG_SLOT_READY), 10);
	cr_expect_not_null(find(t, 0, "0123456789abcdef"), "16 bytes inline");
	table_free(t);
}

/* A long key's eviction frees its slot and its record: as many long keys
 * as there are records fill them, another finds no room, and one evicted
 * lets it in. */
Test(table, an_evicted_long_key_gives_back_its_record)
{
	struct fg_table *t = table_new(64);
	char key[41];
	struct fg_ref ref;
	struct fg_pair p;
	struct fg_slot *s;
	unsigned i;

	cr_assert_eq(t->nrecords, 64, "a small table: a record a key");
	for (i = 0; i < t->nrecords; i++) {
		long_key(key, 40, i, 0);
		cr_assert_not_null(find(t, 0, key), "%u", i);
	}
	long_key(key, 40, i, 0);
	cr_expect_null(find(t, 0, key), "no record left");
	cr_expect_eq(count_state(t, FG_SLOT_READY), t->nrecords);
	long_key(key, 40, 0, 0);
	s = lookup(t, 0, key);
	cr_assert_not_null(s);
	admit(s, 1000, 3);
	fg__table_ref_of(t, index_of(t, s), &ref);
	cr_expect_eq(ref.h, hash_of(t, 0, key), "its hash from its slot");
	fg__pair_load(s, &p);
	cr_assert_eq(fg__table_evict(t, &ref, &p, 1001), FG__EVICT_FREED);
	cr_expect_null(lookup(t, 0, key));
	cr_expect_eq(t->rules[0].evicted_consumed, 3);
	long_key(key, 40, (unsigned)t->nrecords, 0);
	cr_expect_not_null(find(t, 0, key), "the freed record taken");
	table_free(t);
}

/* The generation: a reference to a slot its key left and came back to
 * (removed, then inserted into the same slot) is no longer valid, though
 * rule, length, key bytes and pair are the same again. */
Test(table, a_reference_to_a_slot_reused_by_the_same_key_is_not_valid)
{
	struct fg_table *t = table_new(2);
	struct fg_ref ref, again;
	struct fg_ck_key k;
	struct fg_slot *s;
	int tries;

	s = fg__table_find_ref(t, 0, "same", 4, hash_of(t, 0, "same"), &ref);
	cr_assert_not_null(s);
	for (tries = 0; tries < 16; tries++) {
		cr_assert_eq(fg__cuckoo_key(&t->ck, &k, 0, "same", 4), 0);
		cr_assert_eq(fg__cuckoo_remove(&t->ck, &k, UINT64_MAX), 0);
		if (fg__table_find_ref(t, 0, "same", 4, hash_of(t, 0, "same"),
		                       &again) == s)
			break;
	}
	cr_assert_eq(again.s, s, "back in its slot");
	cr_expect_eq(again.kb[0], ref.kb[0]);
	cr_expect_neq(again.live, ref.live, "another generation");
	cr_expect_not(fg__ref_valid(&ref), "the old reference is stale");
	cr_expect(fg__ref_valid(&again));
	table_free(t);
}

/* The count is 42 bits (layout.h): admissions past 2^42 wrap within it
 * and leave the generation, the state and the key's ident alone, so the
 * reference stays valid and the harvest's difference is exact. */
Test(table, the_count_wraps_at_2_to_the_42_within_its_field)
{
	struct fg_table *t = table_new(8);
	struct fg_ref ref;
	struct fg_slot *s;
	struct fg_pair p;
	uint64_t before;

	cr_assert_eq(FG_W_COUNT_MASK, (UINT64_C(1) << 42) - 1);
	s = fg__table_find_ref(t, 0, "wrap", 4, hash_of(t, 0, "wrap"), &ref);
	cr_assert_not_null(s);
	s->word |= FG_W_COUNT_MASK - 1; /* 2^42 - 2 tokens admitted */
	fg__pair_load(s, &p);
	before = p.word;
	cr_assert(fg__pair_advance(s, &p, 5, 3));
	fg__pair_load(s, &p);
	cr_expect_eq(p.word & FG_W_COUNT_MASK, 1, "wrapped");
	cr_expect_eq(p.word & ~(FG_W_COUNT_MASK | FG_W_CLEAN),
	             before & ~(FG_W_COUNT_MASK | FG_W_CLEAN),
	             "gen, state, dest, length and rule untouched");
	cr_expect(fg__ref_valid(&ref));
	cr_expect_eq(((p.word & FG_W_COUNT_MASK) - (before & FG_W_COUNT_MASK)) &
	                 FG_W_COUNT_MASK,
	             3, "a difference modulo 2^42 is what was admitted");
	table_free(t);
}

/* fg_allow() takes keys up to FG_KEY_MAX (64) bytes, now the table's,
 * and refuses a longer one. */
Test(table, fg_allow_takes_keys_of_64_bytes_and_refuses_65)
{
	fg_client *c = test_create("longkey", 100);
	char k64[FG_KEY_MAX + 1], k65[FG_KEY_MAX + 2];

	cr_assert_eq(FG_TABLE_KEY_MAX, FG_KEY_MAX);
	long_key(k64, FG_KEY_MAX, 0, 0);
	long_key(k65, FG_KEY_MAX + 1, 0, 0);
	test_rule(c, "r", 2, 1, HOUR_MS, 0);
	cr_expect_eq(fg_allow(c, "r", k64, 1, NULL), 1);
	cr_expect_eq(fg_allow(c, "r", k64, 1, NULL), 1);
	cr_expect_eq(fg_allow(c, "r", k64, 1, NULL), 0, "one bucket");
	cr_expect_eq(fg_allow(c, "r", k65, 1, NULL), FG_EKEYLEN);
	fg_close(c);
	fg_unlink(test_segment("longkey"));
}

/* With two buckets every key has both: four keys fill the table, and
 * the fifth finds no room, leaving the table as it was. */
Test(table, a_full_table_returns_null_and_changes_nothing)
{
	struct fg_table *t = table_new(2);
	struct fg_slot *s[4];
	char key[16];
	unsigned i;

	for (i = 0; i < 4; i++) {
		key_of(key, sizeof key, "k", i);
		s[i] = find(t, 0, key);
		cr_assert_not_null(s[i], "%s", key);
	}
	cr_expect_null(find(t, 0, "fifth"));
	cr_expect_eq(count_state(t, FG_SLOT_READY), 4);
	cr_expect_eq(count_state(t, FG_SLOT_FREE), 0, "no claim left");
	for (i = 0; i < 4; i++) {
		key_of(key, sizeof key, "k", i);
		cr_expect_eq(lookup(t, 0, key), s[i], "%s where it was", key);
	}
	cr_expect_eq(t->rules[0].slots & 0xffffffffu, 4,
	             "the fifth's reservation was given back");
	table_free(t);
}

/* A key moved to its other bucket (as an insert's path moves it) is
 * found inline there, with the tokens it had counted. */
Test(table, a_moved_key_is_found_inline_at_its_new_slot_with_its_count)
{
	struct fg_table *t = table_new(8);
	struct fg_slot *s = find(t, 3, "mover"), *n;
	uint64_t i, x, y, other;
	struct fg_pair p;

	cr_assert_not_null(s);
	admit(s, 12345, 7);
	i = index_of(t, s);
	fg__table_buckets(t, hash_of(t, 3, "mover"), &x, &y);
	other = i / 2 == x ? y : x;
	cr_assert_eq(fg__cuckoo_move(&t->ck, i / 2, (unsigned)(i % 2), 1), 0);
	cr_expect_eq(fg__slot_state(t, i), FG_SLOT_FREE);
	n = find(t, 3, "mover");
	cr_assert_eq(n, &t->slots[other * 2 + 1]);
	fg__pair_load(n, &p);
	cr_expect_eq(p.tat, 12345);
	cr_expect_eq(p.word & FG_W_COUNT_MASK, 7, "the count moved along");
	table_free(t);
}

/* A copy of a pair taken before a key was frozen for a move is never
 * committed: fg__pair_advance() refuses a frozen pair. */
Test(table, a_frozen_pair_is_never_advanced)
{
	struct fg_table *t = table_new(8);
	struct fg_slot *s = find(t, 0, "k");
	struct fg_pair p, frozen;

	cr_assert_not_null(s);
	fg__pair_load(s, &p);
	frozen = p;
	frozen.word =
	    (p.word & ~FG_W_STATE_BITS(7)) | FG_W_STATE_BITS(FG_SLOT_MOVING);
	cr_assert(fg__dwcas(&s->tat, &p.tat, &p.word, frozen.tat, frozen.word));
	p = frozen;
	cr_expect_not(fg__pair_advance(s, &p, 999, 1));
	fg__pair_load(s, &p);
	cr_expect_eq(p.tat, frozen.tat);
	cr_expect_eq(p.word, frozen.word, "unchanged");
	table_free(t);
}

/* A claim as a process killed between claiming and publishing leaves it:
 * the slot's index. */
static uint64_t plant(struct fg_table *t, unsigned rule, const char *key)
{
	int64_t i = fg__table_plant_claim(t, rule, key, strlen(key),
	                                  hash_of(t, rule, key));

	cr_assert_geq(i, 0);
	return (uint64_t)i;
}

Test(table, claim_of_a_dead_inserter_is_abandoned_and_the_key_inserted)
{
	struct fg_table *t = table_new(8);
	uint64_t dead, t0, t1;
	struct fg_slot *s;

	dead = plant(t, 0, "victim");
	t0 = fg__now_ns();
	s = find(t, 0, "victim");
	t1 = fg__now_ns();
	cr_assert_not_null(s);
	cr_expect_neq(index_of(t, s), dead,
	              "the dead claim is never published");
	cr_expect_eq(fg__slot_state(t, dead), FG_SLOT_DEAD);
	cr_expect_geq(t1 - t0, FG_CLAIM_STALE_NS, "waited for the claimer");
	cr_expect_eq(t->hdr->abandoned, 1);
	cr_expect_eq(find(t, 0, "victim"), s, "found again, no wait");
	table_free(t);
}

Test(table, claim_for_another_key_is_skipped_without_waiting)
{
	struct fg_table *t = table_new(2);
	uint64_t claim, t0;
	struct fg_slot *s;

	claim = plant(t, 0, "someone-else");
	t0 = fg__now_ns();
	s = find(t, 0, "mine");
	cr_assert_not_null(s);
	cr_expect_lt(fg__now_ns() - t0, FG_CLAIM_STALE_NS);
	cr_expect_eq(fg__slot_state(t, claim), FG_SLOT_CLAIMED);
	table_free(t);
}

Test(table, an_evicted_bucket_frees_its_slot_and_its_counts_go_to_its_rule)
{
	struct fg_table *t = table_new(8);
	struct fg_slot *s = find(t, 2, "gone");
	struct fg_ref ref;
	struct fg_pair p;
	uint64_t i;

	cr_assert_not_null(s);
	i = index_of(t, s);
	admit(s, 1000, 7);
	fg__table_ref_of(t, i, &ref);
	fg__table_deny(t, &ref);
	fg__pair_load(s, &p);
	cr_expect_not(fg__table_evict(t, &ref, &p, 999), "not full yet");
	cr_assert_eq(fg__table_evict(t, &ref, &p, 1001), FG__EVICT_FREED);
	cr_expect_eq(fg__slot_state(t, i), FG_SLOT_FREE);
	cr_expect_eq(t->rules[2].evicted_consumed, 7);
	cr_expect_eq(t->rules[2].evicted_denied, 1);
	cr_expect_eq(t->hdr->evicted, 1);
	cr_expect_eq(t->rules[2].slots & 0xffffffffu, 0, "slot given back");
	cr_expect_null(lookup(t, 2, "gone"));
	s = find(t, 2, "gone");
	cr_assert_not_null(s);
	fg__pair_load(s, &p);
	cr_expect(p.tat == 0 && (p.word & FG_W_COUNT_MASK) == 0,
	          "a new bucket starts at 0");
	table_free(t);
}

/* An eviction whose removal cannot happen (here: a move of the key holds
 * its stripe) leaves a new bucket, its counts already with the rule, and
 * the bucket counts from 0 when it is used again. */
Test(table, an_eviction_that_cannot_remove_leaves_a_new_bucket)
{
	struct fg_table *t = table_new(8);
	struct fg_slot *s = find(t, 2, "kept");
	uint64_t *stripe, held, i;
	struct fg_ref ref;
	struct fg_pair p;

	cr_assert_not_null(s);
	i = index_of(t, s);
	admit(s, 1000, 5);
	stripe = &t->ck.stripes[hash_of(t, 2, "kept") & (FG_CK_STRIPES - 1)];
	held = *stripe;
	/* odd: held, since now (a stripe held past stale_ms is taken over) */
	*stripe = ((held >> 40) + 1) << 40 | fg__cuckoo_now_ms();
	fg__table_ref_of(t, i, &ref);
	fg__pair_load(s, &p);
	cr_expect_eq(fg__table_evict(t, &ref, &p, 2000), FG__EVICT_RENEWED,
	             "reset, not freed");
	*stripe = held + (UINT64_C(2) << 40);
	fg__pair_load(s, &p);
	cr_expect_eq(FG_W_STATE(p.word), FG_SLOT_READY, "still there");
	cr_expect(p.tat == 0 && (p.word & FG_W_COUNT_MASK) == 0,
	          "as a new bucket");
	cr_expect_eq(t->rules[2].evicted_consumed, 5, "its counts went");
	admit(s, 3000, 2);
	fg__pair_load(s, &p);
	cr_expect_eq(p.word & FG_W_COUNT_MASK, 2, "counting from 0");
	table_free(t);
}

/* A check that meets an eviction's mark (an evictor stopped after it)
 * buries the bucket: its slot is freed, its counts go to its rule. */
Test(table, a_bucket_a_stopped_evictor_marked_is_buried)
{
	struct fg_table *t = table_new(8);
	struct fg_slot *s = find(t, 1, "marked");
	struct fg_slot_view v;
	struct fg_ref ref;
	uint64_t i;

	cr_assert_not_null(s);
	i = index_of(t, s);
	admit(s, 1000, 3);
	cr_assert(fg__slot_read(t, i, &v));
	cr_assert(fg__bucket_mark_evicted(t, &v));
	cr_expect_not(fg__slot_read(t, i, &v), "being evicted: not live");
	cr_assert_not_null(fg__table_find_home(t, 1, "marked", 6,
	                                       hash_of(t, 1, "marked"), &ref));
	fg__table_bury(t, &ref);
	cr_expect_eq(fg__slot_state(t, i), FG_SLOT_FREE);
	cr_expect_eq(t->rules[1].evicted_consumed, 3);
	table_free(t);
}

/* Room for a key whose buckets are full: a full bucket of a rule the
 * caller may evict, in its buckets or where their keys could move. */
static int only_rule_1(void *arg, unsigned rule)
{
	(void)arg;
	return rule == 1;
}

Test(table, make_room_evicts_only_full_buckets_of_rules_it_may)
{
	const struct fg_room early = {only_rule_1, NULL, 999};
	const struct fg_room later = {only_rule_1, NULL, 2000};
	struct fg_table *t = table_new(2);
	struct fg_slot *s[4];
	char key[16];
	unsigned i;

	for (i = 0; i < 4; i++) {
		key_of(key, sizeof key, "k", i);
		s[i] = find(t, i == 3, key); /* k3 is rule 1's */
		cr_assert_not_null(s[i]);
		admit(s[i], 1000, 1);
	}
	cr_expect_not(fg__table_make_room(t, hash_of(t, 0, "new"), &early),
	              "none full yet");
	cr_expect(fg__table_make_room(t, hash_of(t, 0, "new"), &later));
	cr_expect_null(lookup(t, 1, "k3"), "rule 1's went");
	for (i = 0; i < 3; i++) {
		key_of(key, sizeof key, "k", i);
		cr_expect_not_null(lookup(t, 0, key), "%s stays", key);
	}
	cr_expect_not_null(find(t, 0, "new"));
	table_free(t);
}

Test(table, reap_frees_only_dead_slots_older_than_the_grace_period)
{
	struct fg_table *t = table_new(8);
	uint64_t now = fg__now_ns(), a, b;

	a = plant(t, 0, "a");
	b = plant(t, 0, "b");
	cr_assert_not_null(find(t, 0, "live"));
	/* stale after FG_CLAIM_STALE_NS: dead, then free after the grace */
	now += 2 * FG_CLAIM_STALE_NS;
	cr_expect_eq(fg__table_reap(t, now, FG_CLAIM_STALE_NS), 0);
	cr_expect_eq(fg__slot_state(t, a), FG_SLOT_DEAD);
	cr_expect_eq(fg__slot_state(t, b), FG_SLOT_DEAD);
	cr_expect_eq(t->hdr->abandoned, 2);
	cr_expect_eq(fg__table_reap(t, now + 1000000, FG_CLAIM_STALE_NS), 0,
	             "dead for 1 ms only");
	cr_expect_eq(
	    fg__table_reap(t, now + 2 * FG_CLAIM_STALE_NS, FG_CLAIM_STALE_NS),
	    2);
	cr_expect_eq(fg__slot_state(t, a), FG_SLOT_FREE);
	cr_expect_eq(count_state(t, FG_SLOT_READY), 1, "live keys untouched");
	cr_expect_eq(t->hdr->reaped, 2);
	table_free(t);
}

/* The reap marks the pages whose slots it changes, and only those. */
Test(table, reap_marks_the_pages_it_changes_for_the_harvest)
{
	struct fg_table *t = table_new(3 * FG_DIRTY_BUCKETS);
	uint64_t now = fg__now_ns(), i, page;

	i = plant(t, 0, "claimed");
	page = i / 2 / FG_DIRTY_BUCKETS;
	memset(t->dirty, 0, 8);
	cr_expect_eq(fg__table_reap(t, now + 2 * FG_CLAIM_STALE_NS, 0), 0);
	cr_expect_eq(fg__slot_state(t, i), FG_SLOT_DEAD);
	cr_expect_eq(t->dirty[0], UINT64_C(1) << page, "its page alone");
	table_free(t);
}

/* What any process attached may write: a READY slot whose key is not of
 * its buckets, whose length is 0 or too long, or whose rule is past the
 * table, is no bucket to a scan, and lookups do not take it. */
Test(table, garbage_words_are_skipped_not_trusted)
{
	struct fg_table *t = table_new(8);
	const uint64_t ready = FG_W_STATE_BITS(FG_SLOT_READY);
	const uint64_t words[] = {
	    FG_W_MAKE(0, 0, 0) | ready, FG_W_MAKE(0, 40, 0) | ready,
	    FG_W_MAKE(255, 1, 0) | ready, FG_W_MAKE(0, 1, 0) | ready};
	struct fg_slot_view v;
	uint64_t i, x, y;
	unsigned n;

	fg__table_buckets(t, hash_of(t, 0, "z"), &x, &y);
	for (i = 0; i < 8 && (i == x || i == y); i++)
		;
	for (n = 0; n < 4; n++) { /* "z" in a bucket that is not its */
		t->slots[2 * i].word = words[n];
		memcpy(t->slots[2 * i].key, "z", 1);
		cr_expect_not(fg__slot_read(t, 2 * i, &v), "word %u", n);
		cr_expect_eq(v.keylen, 0);
	}
	cr_expect_null(lookup(t, 0, "z"));
	cr_expect_not_null(find(t, 0, "z"), "inserted where it belongs");
	table_free(t);
}

Test(table, an_insert_and_the_first_admission_after_a_harvest_mark_the_page)
{
	struct fg_table *t = table_new(4 * FG_DIRTY_BUCKETS);
	struct fg_slot_view v;
	struct fg_slot *s;
	uint64_t cur = 0, page, i;
	struct fg_pair p;

	s = find(t, 0, "k");
	cr_assert_not_null(s);
	i = index_of(t, s);
	page = i / 2 / FG_DIRTY_BUCKETS;
	cr_expect_eq(t->dirty[0], UINT64_C(1) << page, "the insert's page");
	while (fg__harvest_next(t, &cur, &v))
		;
	cr_expect_eq(t->dirty[0], 0, "the pass took the mark");
	fg__pair_load(s, &p);
	cr_expect(p.word & FG_W_CLEAN, "and set the clean bit");
	cr_assert(fg__pair_advance(s, &p, 5, 1));
	cr_expect(p.word & FG_W_CLEAN, "the admission saw it");
	fg__table_touch(t, i / 2); /* what a check does then */
	cr_expect_eq(t->dirty[0], UINT64_C(1) << page);
	table_free(t);
}

/* The table's figures for a million keys at the default capacity. */
Test(table, default_segment_holds_a_million_keys_in_64_bytes_each)
{
	fg_client *c = test_create("million", 0);
	fg_segment_stats st;
	fg_decision d;
	struct stat sb;
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
	cr_assert_eq(fstat(c->seg.fd, &sb), 0);
	cr_expect_leq((uint64_t)sb.st_size, 64ull * FG_DEFAULT_CAPACITY,
	              "%lld bytes", (long long)sb.st_size);
	/* and each of them is a bucket: the first key is now empty */
	cr_expect_eq(fg_allow(c, "r", "user-0", 1, NULL), 0);
	fg_close(c);
	fg_unlink(test_segment("million"));
}

/* A segment of layout 8 (blocks of 16 slots), planted from the segment
 * fuzz corpus, is refused for its version, not called corrupt. */
Test(table, a_segment_of_layout_version_8_is_refused)
{
	char name[64];

	snprintf(name, sizeof name, "fg-table-v8-%d", (int)getpid());
	expect_old_segment_refused(
	    "tests/fuzz/corpus/segment/v8-capacity-1-full", name);
	cr_expect_geq(FG_LAYOUT_VERSION, 9);
}

Test(table, debit_puts_a_bucket_in_debt_without_counting_local_consumption)
{
	fg_client *c = test_create("debit", 100);
	fg_segment_stats st;
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
	cr_assert_eq(fg_stats(c, &st), 0);
	cr_expect_eq(st.consumed, 1, "only the local admission is consumed");
	fg_close(c);
	fg_unlink(test_segment("debit"));
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
