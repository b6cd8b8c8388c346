/* SPDX-License-Identifier: ISC */
/*
 * table.h - the segment's table of buckets: layout C (see table.c).
 *
 * The check's own path is inline here: a key's two buckets are known from
 * its hash, both lines are fetched at once, and the key is compared in
 * place in the four slots.  Everything else (a key in the middle of a
 * move, an insert, an eviction) is table.c's, over the concurrent core
 * of shm/cuckoo.c.
 */
#ifndef FG_SHM_TABLE_H
#define FG_SHM_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <urcu/arch.h>

#include "shm/cuckoo.h"
#include "shm/hash.h"
#include "shm/layout.h"
#include "shm/pair.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fg__key_words() pads keys as a little-endian host reads them"
#endif

/* A claim unchanged this long is taken for abandoned (its inserter died or
 * is stopped) by a process that needs the same key. */
#define FG_CLAIM_STALE_NS (20u * 1000000u)

/* A process-private view of the table: geometry copied once, validated,
 * never re-read from shared memory. */
struct fg_table {
	struct fg_seg_hdr *hdr;
	struct fg_rule_rec *rules; /* NULL in tests of the table alone */
	struct fg_cuckoo ck;       /* the core's view (shm/cuckoo.h) */
	struct fg_slot *slots;     /* ck.s: bucket b is slots[2b], [2b + 1] */
	struct fg_ck_rkey *rk;     /* ck.rk: long keys' records */
	uint64_t nrecords;         /* ck.nr */
	struct fg_cold *cold;      /* slot i's cold part is cold[i] */
	uint64_t *dirty;           /* a bit a FG_DIRTY_BUCKETS; NULL: none */
	uint64_t nbuckets;
	uint64_t seed[2];
	unsigned near; /* buckets a search looks at before evicting (evict.c) */
	/* this handle's near searches that found no path, in a row, and
	 * the inserts that evicted first since (evict.c) */
	unsigned near_vain, near_skips;
	/* For tests: run before an insert claims, where another process
	 * may act (NULL: nothing). */
	void (*between)(struct fg_table *t, void *arg);
	void *between_arg;
};

/*
 * Where a bucket was found.  A copy of its pair taken after the find is
 * the bucket's if fg__ref_valid() then finds the slot still READY with
 * the same rule, length, generation and key bytes (table.c says why).
 */
struct fg_ref {
	struct fg_slot *s;
	uint64_t j;          /* slot index: bucket j / 2, way j % 2 */
	uint64_t live;       /* the word as found, FG_W_LIVE_MASK of it */
	uint64_t kb[2];      /* the key's bytes as the slot holds them (a
	                      * long key's: its hash, its record) */
	uint64_t h;          /* the key's hash */
	unsigned over_quota; /* fg__table_find_slow() found no room because
	                      * the rule is at its quota (shm/quota.c) */
	unsigned crowded;    /* or because the key's buckets are full and a
	                      * near search found no path (evict.c) */
};

/*
 * Whose full buckets an insert may evict when its key finds no room, and
 * when they count as full (shm/evict.c): @evictable(@arg, rule) says yes
 * for the rules it may take buckets of, at time @now.
 */
struct fg_room {
	int (*evictable)(void *arg, unsigned rule);
	void *arg;
	uint64_t now;
};

/* What a check's inline path has looked at: both buckets (the argument
 * fg__table_lookup_from() takes). */
#define FG_INLINE_GROUPS 1u

/*
 * Initialise @t over a segment's table: @mem the table's region
 * (serial line, stripes, buckets, records), @cold and @dirty the other
 * regions' starts (@dirty may be NULL), @nb buckets, @nr records.  0, or
 * -EINVAL.
 */
int fg__table_init(struct fg_table *t, void *hdr, struct fg_rule_rec *rules,
                   void *mem, struct fg_cold *cold, uint64_t *dirty,
                   uint64_t nb, uint64_t nr, const uint64_t seed[2]);

/* Bytes of the table's region for @nb buckets and @nr records. */
size_t fg__table_region_size(uint64_t nb, uint64_t nr);

/* The two buckets of the key of hash @h (as shm/cuckoo.c places it:
 * tests/test_table.c checks that they agree). */
static inline void fg__table_buckets(const struct fg_table *t, uint64_t h,
                                     uint64_t *x, uint64_t *y)
{
	*x = (uint64_t)(((fg_u128)h * t->nbuckets) >> 64);
	*y = (uint64_t)(((fg_u128)((h << 32) | (h >> 32)) * t->nbuckets) >> 64);
	if (*y == *x)
		*y = *x + 1 == t->nbuckets ? 0 : *x + 1;
}

/* No FREE slot in buckets @x and @y (read without a lock: a hint). */
static inline int fg__table_full_at(const struct fg_table *t, uint64_t x,
                                    uint64_t y)
{
	unsigned w;

	for (w = 0; w < 2 * FG_BUCKET_SLOTS; w++)
		if (FG_W_STATE(
		        fg__load(&t->slots[(w < FG_BUCKET_SLOTS ? x : y) *
		                               FG_BUCKET_SLOTS +
		                           w % FG_BUCKET_SLOTS]
		                      .word)) == FG_SLOT_FREE)
			return 0;
	return 1;
}

/* Whether the first @len (1..16) bytes at @a and @b are equal. */
static inline __attribute__((always_inline)) int
fg__key16_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	if (len >= 8)
		return ((fg__rd64(a) ^ fg__rd64(b)) |
		        (fg__rd64(a + len - 8) ^ fg__rd64(b + len - 8))) == 0;
	if (len >= 4)
		return ((fg__rd32(a) ^ fg__rd32(b)) |
		        (fg__rd32(a + len - 4) ^ fg__rd32(b + len - 4))) == 0;
	return a[0] == b[0] && a[len >> 1] == b[len >> 1] &&
	       a[len - 1] == b[len - 1];
}

/* The key @key of @len (1..16) bytes as the slot holds it, zero-padded
 * to two words, read without a byte past its end (a key may end a
 * page): a slot's key is then two compares. */
static inline __attribute__((always_inline)) void
fg__key_words(const uint8_t *key, size_t len, uint64_t w[2])
{
	if (len >= 8) {
		w[0] = fg__rd64(key);
		w[1] =
		    len > 8 ? fg__rd64(key + len - 8) >> (8 * (16 - len)) : 0;
	} else if (len >= 4) {
		w[0] = fg__rd32(key) |
		       ((fg__rd32(key + len - 4) >> (8 * (8 - len))) << 32);
		w[1] = 0;
	} else {
		w[0] = key[0] | (len > 1 ? (uint64_t)key[1] << 8 : 0) |
		       (len > 2 ? (uint64_t)key[2] << 16 : 0);
		w[1] = 0;
	}
}

/* Slot @s holds a live bucket of word @live's rule and length for the key
 * of words @w: the word first (into *@word), then the bytes (written
 * before the word went READY). */
static inline __attribute__((always_inline)) int
fg__slot_holds(const struct fg_slot *s, uint64_t live, const uint64_t w[2],
               uint64_t *word)
{
	*word = fg__load(&s->word);
	return (*word & FG_W_MATCH_MASK) == live &&
	       ((fg__rd64(s->key) ^ w[0]) | (fg__rd64(s->key + 8) ^ w[1])) == 0;
}

/*
 * The same, the bytes first: @a, the key's word @f (its bytes 8-15 if it
 * is longer than 8 bytes, the ones that differ most often between keys,
 * as the digits of "user:1234567"; else bytes 0-7), then @b, the other.
 * A slot of another key, the common miss, costs one compare and one
 * branch; only a slot whose bytes match has its word read and compared
 * (fg__table_find_home() says why that order is enough there).
 */
static inline __attribute__((always_inline)) int
fg__slot_is(const struct fg_slot *s, uint64_t live, uint64_t a, uint64_t b,
            size_t f, uint64_t *word)
{
	if (__builtin_expect(fg__rd64(s->key + 8 * f) != a, 1) ||
	    fg__rd64(s->key + 8 * (f ^ 1)) != b)
		return 0;
	*word = fg__load(&s->word);
	return (*word & FG_W_MATCH_MASK) == live;
}

/* The long key (17-64 bytes) of @t's find: the slot with @ref set, or
 * NULL (table.c). */
struct fg_slot *fg__table_find_long(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    struct fg_ref *ref);

/* The bucket of (@rule, @key) if it is in the table; never inserts.  A
 * key being moved is waited for (helped): a miss is a miss. */
struct fg_slot *fg__table_lookup(struct fg_table *t, unsigned rule,
                                 const void *key, size_t len, uint64_t h,
                                 struct fg_ref *ref);

/* The same, after the caller's inline look (@from: FG_INLINE_GROUPS if
 * it saw both buckets, 0 if not). */
struct fg_slot *fg__table_lookup_from(struct fg_table *t, unsigned rule,
                                      const void *key, size_t len, uint64_t h,
                                      unsigned from, struct fg_ref *ref);

/* The key absent from its buckets: inserted, moving keys along a path of
 * moves if both are full; with @near (not 0), a path among that many
 * buckets at most, NULL with ref->crowded set when none is found there. */
struct fg_slot *fg__table_find_slow(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    struct fg_ref *ref, unsigned near);

/*
 * Find the bucket of (@rule, @key), whose hash is @h, where it is when no
 * move is under way: the slot, with @ref set, or NULL.  Both lines are
 * fetched before either is read, so their misses overlap; then a branch a
 * slot, bucket X's then Y's (a predicted branch lets the pair's load leave
 * at once: BENCHMARKS.md), on one word of the slot's key bytes: a key in
 * the fourth slot costs three compares more than one in the first, not
 * three of the word and then of the bytes (BENCHMARKS.md, "The fourth
 * slot").  The word of the slot whose bytes match is read after them: the
 * reference keeps the bytes searched for, not those read, and the
 * generation of that word, so what vouches for the slot is
 * fg__ref_valid(), which reads the word and then the bytes again after
 * the caller copied the pair.
 */
static inline __attribute__((always_inline)) struct fg_slot *
fg__table_find_home(struct fg_table *t, unsigned rule, const void *key,
                    size_t len, uint64_t h, struct fg_ref *ref)
{
	const uint64_t live = FG_W_LIVE(rule, len);
	struct fg_slot *x, *y, *s;
	uint64_t bx, by, w, kw[2], a, b;
	size_t f;

	if (caa_unlikely(len == 0 || len > FG_SLOT_KEY_INLINE))
		return len > FG_SLOT_KEY_INLINE
		           ? fg__table_find_long(t, rule, key, len, h, ref)
		           : NULL;
	fg__table_buckets(t, h, &bx, &by);
	x = &t->slots[bx * FG_BUCKET_SLOTS];
	y = &t->slots[by * FG_BUCKET_SLOTS];
	__builtin_prefetch(x, 1, 3);
	__builtin_prefetch(y, 1, 3);
	fg__key_words((const uint8_t *)key, len, kw);
	ref->kb[0] = kw[0];
	ref->kb[1] = kw[1];
	f = len > 8; /* which word first (fg__slot_is()), in registers */
	a = f ? kw[1] : kw[0];
	b = f ? kw[0] : kw[1];
	if (fg__slot_is(&x[0], live, a, b, f, &w))
		s = &x[0];
	else if (fg__slot_is(&x[1], live, a, b, f, &w))
		s = &x[1];
	else if (fg__slot_is(&y[0], live, a, b, f, &w))
		s = &y[0];
	else if (fg__slot_is(&y[1], live, a, b, f, &w))
		s = &y[1];
	else
		return NULL;
	ref->s = s;
	ref->j = (uint64_t)(s - t->slots);
	ref->live = w & FG_W_LIVE_MASK;
	ref->h = h;
	return s;
}

/* Start fetching both lines of @h's buckets: a caller with several keys
 * to find lets their misses overlap, and a check issues them before it
 * reads the clock, whose wait they then share. */
static inline void fg__table_prefetch(const struct fg_table *t, uint64_t h)
{
	uint64_t x, y;

	fg__table_buckets(t, h, &x, &y);
	__builtin_prefetch(&t->slots[x * FG_BUCKET_SLOTS], 1, 3);
	__builtin_prefetch(&t->slots[y * FG_BUCKET_SLOTS], 1, 3);
}

/* The slot still holds the bucket @ref found: what was read of it since
 * then is the bucket's (a pair copied meanwhile may still be frozen by a
 * move, which fg__pair_advance() refuses to commit).  The generation is
 * part of it: a slot the key left and took again (a removal and an
 * insert, two moves) is another bucket, which a caller finds again.  A
 * long key's record is its own as long as its slot names it. */
static inline int fg__ref_valid(const struct fg_ref *ref)
{
	/* The caller's own fields read before the barrier, not after it
	 * (a check 0.3 ns faster: BENCHMARKS.md, "The fourth slot"). */
	const struct fg_slot *s = ref->s;
	const uint64_t live = ref->live, k0 = ref->kb[0], k1 = ref->kb[1];

	cmm_smp_rmb(); /* the copies first */
	return (fg__load(&s->word) & FG_W_LIVE_MASK) == live &&
	       ((fg__rd64(s->key) ^ k0) | (fg__rd64(s->key + 8) ^ k1)) == 0;
}

/*
 * Find the bucket of (@rule, @key), inserting it if it is absent: the
 * slot with @ref set, or NULL when no room could be made, or when the
 * rule's buckets hold its quota of slots (ref->over_quota set).  The
 * common case, a live key not being moved, stays inline.  @near: as
 * fg__table_find_slow() takes it (fg__table_find_ref(): 0, any path).
 */
static inline __attribute__((always_inline)) struct fg_slot *
fg__table_find_near(struct fg_table *t, unsigned rule, const void *key,
                    size_t len, uint64_t h, struct fg_ref *ref, unsigned near)
{
	struct fg_slot *s = fg__table_find_home(t, rule, key, len, h, ref);

	if (s == NULL) /* being moved, or absent */
		s = fg__table_lookup(t, rule, key, len, h, ref);
	return s ? s : fg__table_find_slow(t, rule, key, len, h, ref, near);
}

static inline __attribute__((always_inline)) struct fg_slot *
fg__table_find_ref(struct fg_table *t, unsigned rule, const void *key,
                   size_t len, uint64_t h, struct fg_ref *ref)
{
	return fg__table_find_near(t, rule, key, len, h, ref, 0);
}

/* Mark bucket @b's page as changed for the owner's harvest (shm/scan.c). */
static inline void fg__table_touch(struct fg_table *t, uint64_t b)
{
	uint64_t *w, bit, page = b / FG_DIRTY_BUCKETS;

	if (t->dirty == NULL)
		return;
	w = &t->dirty[page >> 6];
	bit = UINT64_C(1) << (page & 63);
	if (!(fg__load(w) & bit))
		__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST);
}

/* The bucket of @ref (what fg__table_touch() takes). */
static inline uint64_t fg__ref_block(const struct fg_table *t,
                                     const struct fg_ref *ref)
{
	(void)t;
	return ref->j / FG_BUCKET_SLOTS;
}

/* The hash of the key of READY slot @s, whose word is @w (a long key's
 * is in its slot); 0 for garbage (a length past FG_TABLE_KEY_MAX). */
uint64_t fg__slot_hash(const struct fg_table *t, const struct fg_slot *s,
                       uint64_t w);

/* The key of a slot whose word is @w and whose key bytes were read as
 * @kb (a long key's: its length there, its bytes from its record) into
 * @out: its length, or 0 for garbage (no length, no record). */
size_t fg__table_key_bytes(const struct fg_table *t, uint64_t w,
                           const uint64_t kb[2], uint8_t out[FG_TABLE_KEY_MAX]);

/* Count a denial in the bucket of @ref: in a cold part of one of its
 * key's four slots (cold.c), marking the page for the harvest when it is
 * the first since the harvest read it. */
void fg__table_deny(struct fg_table *t, const struct fg_ref *ref);

/* The denials of the key of hash @h living at slot @j (the sum over its
 * four slots); with @clean, the harvest's clean bits set by the reads. */
uint64_t fg__table_denials(struct fg_table *t, uint64_t h, uint64_t j,
                           int clean);

/* The same, taken: the parts count none after it (an eviction's). */
uint64_t fg__table_take_denials(struct fg_table *t, uint64_t h, uint64_t j);

/*
 * Maintenance for the owner: claims, moves and stripes left by processes
 * that died are undone or finished once FG_CLAIM_STALE_NS (or @min_age_ns,
 * if longer) old, DEAD slots that old become FREE.  Returns how many slots
 * were freed.  O(slots); the caller holds the owner lock (fg__seg_lock).
 */
uint64_t fg__table_reap(struct fg_table *t, uint64_t now, uint64_t min_age_ns);

/* Layouts 3-8 reopened groups of tombstones here; layout C has none:
 * returns 0.  Kept so that the owner's callers need not know. */
uint64_t fg__table_reopen(struct fg_table *t);

/*
 * Eviction (evict.c).  fg__table_evict() frees the bucket of @ref whose
 * pair was read as *@p, if it is full at @now (and has been used):
 * FG__EVICT_FREED; 0 when it is not, or was used meanwhile.
 * FG__EVICT_RENEWED when it was reset to a new bucket (its counts went to
 * its rule's record) that could not go, a check having admitted in it or
 * a move holding it: the key's bucket stays, counting from 0.  The caller
 * decides that nothing in it is still owed to anyone (the owner's
 * harvest).  fg__table_bury() finishes an eviction a stopped evictor left
 * with its mark set.
 * fg__table_make_room() evicts one full bucket, of a rule @room accepts,
 * from hash @h's buckets or those their keys could move to; 1 if it freed
 * a slot.
 */
#define FG__EVICT_FREED   1
#define FG__EVICT_RENEWED 2
int fg__table_evict(struct fg_table *t, const struct fg_ref *ref,
                    const struct fg_pair *p, uint64_t now);
void fg__table_bury(struct fg_table *t, const struct fg_ref *ref);
int fg__table_make_room(struct fg_table *t, uint64_t h,
                        const struct fg_room *room);

/*
 * fg__table_find_ref() for a caller that may evict (@room): when the
 * key's two buckets are full, a path among t->near buckets first, then a
 * full bucket of those two that @room accepts goes, then a path among all
 * a search may visit; the eviction first once this handle's near
 * searches keep finding nothing (evict.c says why).
 */
struct fg_slot *fg__table_find_evict(struct fg_table *t, unsigned rule,
                                     const void *key, size_t len, uint64_t h,
                                     struct fg_ref *ref,
                                     const struct fg_room *room);

/* Slot @i (0 .. 2 * nbuckets - 1) as a reference to what it holds now. */
void fg__table_ref_of(struct fg_table *t, uint64_t i, struct fg_ref *ref);

/*
 * For tests that stand in for a process killed at a given instruction.
 * fg__table_plant_claim() claims a slot for (@rule, @key) and stops, as
 * an inserter killed between claiming and publishing leaves it; it returns
 * the slot's index, or -1 if the key is present or its buckets are full.
 */
int64_t fg__table_plant_claim(struct fg_table *t, unsigned rule,
                              const void *key, size_t len, uint64_t h);

#endif
