/* SPDX-License-Identifier: ISC */
/*
 * evict.c - taking full buckets out of the table to make room.
 *
 * A bucket that is full again decides exactly as an absent one would, so
 * it may go when room is needed.  Owners evict buckets of any rule whose
 * consumption has been harvested; workers that find no room evict buckets
 * of host-scope rules only (lib/client.c).
 *
 * An eviction takes two steps.  (1) One cmpxchg16b that expects the pair
 * exactly as the evictor read it (so nothing was admitted since) resets it
 * to a new bucket's, (0, READY, 0 tokens), and its counts go to its rule's
 * record: from here the bucket is a new one, whatever happens next.  (2)
 * The core removes the key only if its tat is still 0 (nothing admitted
 * since the reset), under its stripe, after ending any move of it a dead
 * mover left (shm/cuckoo.c), so that no frozen copy of it can come back.
 * A check that admits between the steps keeps the bucket alive, counting
 * from 0; a removal of a bucket at (0, 0 tokens) by anyone loses nothing,
 * however late it comes, since such a bucket holds nothing to lose.
 *
 * The mark FG_TAT_EVICTED of layouts 3-8 (a pair taken out of use before
 * its slot is freed) is still understood: a check that meets it buries
 * the bucket, and fg__bucket_mark_evicted() sets it for tests of that.
 *
 * Room.  An insert whose two buckets are full looks for a near path of
 * moves (FG_CK_BFS_NEAR buckets: cheap, and it keeps a full bucket whose
 * key may come back), then evicts a full bucket of its own two
 * (fg__table_find_evict()), and only then looks further.  Once a
 * handle's near searches found no path FG_NEAR_VAIN times in a row (a
 * table filled past its capacity, as a rule without a quota may fill it:
 * each such search hashed the keys of 16 buckets read at random, 3-5 us
 * in vain), its inserts evict first and search only if nothing could go,
 * and one in FG_NEAR_PROBE searches first anyway, to see paths come back
 * (a search that finds one ends the streak).  A far path
 * costs up to FG_CK_BFS_NODES random reads and hashes, all in vain in a
 * table full of refilled buckets, where the eviction loses nothing.  A worker's
 * inserts take only their own rule's buckets there (lib/client.c), so that a
 * flooded rule leaves the others' alone while moves can make room.  One that
 * finds no path at all evicts from its two buckets and then from those their
 * four keys could move to: one bucket freed anywhere there makes a path.
 */
#include "shm/clock.h"
#include "shm/quota.h"
#include "shm/table.h"
#include "shm/window.h"

/* Step 2: the core removes the key of the bucket reset at @ref (key
 * @k) if nothing was admitted since.  1 if the slot was freed. */
static int remove_reset(struct fg_table *t, const struct fg_ref *ref,
                        const struct fg_ck_key *k)
{
	unsigned rule = FG_W_RULE(k->ident);

	if (fg__cuckoo_remove(&t->ck, k, 0) != 0)
		return 0; /* used again, or a move holds the stripe: it stays */
	__atomic_fetch_add(&t->hdr->evicted, 1, __ATOMIC_SEQ_CST);
	fg__quota_give(t->rules, rule, 1);
	fg__table_touch(t, fg__ref_block(t, ref));
	return 1;
}

/* Step 1 from the pair *@p of @ref's slot, then step 2: FG__EVICT_FREED,
 * FG__EVICT_RENEWED when step 2 kept the new bucket, or 0 (untouched). */
static int retire(struct fg_table *t, const struct fg_ref *ref,
                  const struct fg_pair *p)
{
	struct fg_pair cur = *p;
	/* rule, length and the slot's generation: a fresh bucket there */
	const uint64_t fresh = (p->word & ~(FG_W_LOW_MASK | FG_W_CLEAN)) |
	                       (p->word & FG_W_GEN_MASK);
	unsigned rule = FG_W_RULE(p->word);
	uint8_t key[FG_TABLE_KEY_MAX];
	uint64_t denied;
	struct fg_ck_key k;
	size_t len;

	if (FG_W_STATE(p->word) != FG_SLOT_READY ||
	    (len = fg__table_key_bytes(t, p->word, ref->kb, key)) == 0 ||
	    fg__cuckoo_key(&t->ck, &k, rule, key, len) != 0)
		return 0;
	if (!fg__dwcas(&ref->s->tat, &cur.tat, &cur.word, 0,
	               fresh | FG_W_STATE_BITS(FG_SLOT_READY)))
		return 0; /* in use since it was read: keep it */
	denied = fg__table_take_denials(t, k.h, ref->j);
	if (t->rules != NULL && rule < FG_MAX_RULES) {
		struct fg_rule_rec *r = &t->rules[rule];

		__atomic_fetch_add(&r->evicted_consumed,
		                   p->word & FG_W_COUNT_MASK, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&r->evicted_denied, denied,
		                   __ATOMIC_SEQ_CST);
	}
	fg__table_touch(t, fg__ref_block(t, ref));
	return remove_reset(t, ref, &k) ? FG__EVICT_FREED : FG__EVICT_RENEWED;
}

int fg__table_evict(struct fg_table *t, const struct fg_ref *ref,
                    const struct fg_pair *p, uint64_t now)
{
	/* Strictly before now, and moved at least once; a window rule's:
	 * its windows passed (shm/window.h). */
	if (!fg__bucket_refilled(t->rules, p->tat, p->word, now))
		return 0;
	return retire(t, ref, p);
}

/* fg__table_bury(): 1 if this call freed the slot. */
static int bury(struct fg_table *t, const struct fg_ref *ref)
{
	struct fg_pair p;

	fg__pair_load(ref->s, &p);
	if (p.tat != FG_TAT_EVICTED || !fg__ref_valid(ref))
		return 0; /* buried by someone else */
	return retire(t, ref, &p) == FG__EVICT_FREED;
}

void fg__table_bury(struct fg_table *t, const struct fg_ref *ref)
{
	(void)bury(t, ref);
}

/* Evict the bucket of slot @i if it is full and @evictable accepts its
 * rule (or finish a stopped eviction there): 1 if a slot was freed. */
static int evict_slot(struct fg_table *t, uint64_t i, uint64_t now,
                      int (*evictable)(void *arg, unsigned rule), void *arg)
{
	struct fg_ref ref;
	struct fg_pair p;

	if (FG_W_STATE(fg__load(&t->slots[i].word)) != FG_SLOT_READY)
		return 0;
	fg__table_ref_of(t, i, &ref);
	fg__pair_load(ref.s, &p);
	if (!fg__ref_valid(&ref))
		return 0;
	if (p.tat == FG_TAT_EVICTED) /* an evictor stopped */
		return bury(t, &ref);
	if (!fg__bucket_refilled(t->rules, p.tat, p.word, now) ||
	    !evictable(arg, FG_W_RULE(p.word)))
		return 0;
	return retire(t, &ref, &p) == FG__EVICT_FREED;
}

/* The other bucket of the key in slot @i, or @i's own if it holds none. */
static uint64_t alt_of(struct fg_table *t, uint64_t i)
{
	struct fg_ref ref;
	uint64_t x, y;

	fg__table_ref_of(t, i, &ref);
	if (ref.h == 0)
		return i / FG_BUCKET_SLOTS;
	fg__table_buckets(t, ref.h, &x, &y);
	return i / FG_BUCKET_SLOTS == x ? y : x;
}

/* Evict one full bucket @room accepts among the slots of the @n
 * buckets @b: 1 if a slot was freed. */
static int evict_among(struct fg_table *t, const uint64_t *b, unsigned n,
                       const struct fg_room *room)
{
	unsigned i, w;

	for (i = 0; i < n; i++)
		for (w = 0; w < FG_BUCKET_SLOTS; w++)
			if (evict_slot(t, b[i] * FG_BUCKET_SLOTS + w, room->now,
			               room->evictable, room->arg))
				return 1;
	return 0;
}

#define FG_NEAR_VAIN  4u  /* near searches in vain: evict first */
#define FG_NEAR_PROBE 16u /* but search first once in this many */

/* Whether this insert evicts before it searches (the comment above). */
static int evict_first(struct fg_table *t, const uint64_t b[2])
{
	if (t->near_vain < FG_NEAR_VAIN)
		return 0;
	return ++t->near_skips % FG_NEAR_PROBE != 0 &&
	       fg__table_full_at(t, b[0], b[1]);
}

struct fg_slot *fg__table_find_evict(struct fg_table *t, unsigned rule,
                                     const void *key, size_t len, uint64_t h,
                                     struct fg_ref *ref,
                                     const struct fg_room *room)
{
	struct fg_slot *s;
	uint64_t b[2];

	fg__table_buckets(t, h, &b[0], &b[1]);
	if (evict_first(t, b) && evict_among(t, b, 2, room))
		return fg__table_find_ref(t, rule, key, len, h, ref);
	s = fg__table_find_near(t, rule, key, len, h, ref, t->near);
	if (s != NULL || !ref->crowded)
		return s;
	(void)evict_among(t, b, 2, room);
	return fg__table_find_ref(t, rule, key, len, h, ref);
}

int fg__table_make_room(struct fg_table *t, uint64_t h,
                        const struct fg_room *room)
{
	uint64_t b[2 + 2 * FG_BUCKET_SLOTS];
	unsigned n;

	fg__table_buckets(t, h, &b[0], &b[1]);
	for (n = 0; n < 2 * FG_BUCKET_SLOTS; n++)
		b[2 + n] = alt_of(t, b[n / FG_BUCKET_SLOTS] * FG_BUCKET_SLOTS +
		                         n % FG_BUCKET_SLOTS);
	return evict_among(t, b, 2 + 2 * FG_BUCKET_SLOTS, room);
}
