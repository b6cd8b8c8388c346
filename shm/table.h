/* SPDX-License-Identifier: ISC */
/*
 * table.h - the table of buckets in blocks of 16 slots (see table.c).
 */
#ifndef FG_SHM_TABLE_H
#define FG_SHM_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <urcu/arch.h>

#include "shm/hash.h"
#include "shm/layout.h"
#include "shm/pair.h"

/* A claim unchanged this long is taken for abandoned (its inserter died or
 * is stopped) by a process that needs the same key. */
#define FG_CLAIM_STALE_NS (20u * 1000000u)

/* A process-private view of the table: geometry copied once, validated,
 * never re-read from shared memory. */
struct fg_table {
	struct fg_seg_hdr *hdr;
	struct fg_rule_rec *rules; /* NULL in tests of the table alone */
	struct fg_block *blocks;
	uint64_t *dirty; /* a bit a block; NULL: not tracked */
	uint64_t nblocks;
	uint64_t seed[2];
	/* For tests: run between an insert's scan and its claim, where
	 * another process may act (NULL: nothing). */
	void (*between)(struct fg_table *t, void *arg);
	void *between_arg;
};

/* Where a bucket was found, and the version of its group then: a copy of
 * the bucket is the bucket's while the version has not moved (table.c). */
struct fg_ref {
	struct fg_block *b;
	struct fg_group *g;
	struct fg_slot *s;
	uint64_t ver;
	unsigned j;          /* slot in the block, 0..15 */
	unsigned over_quota; /* fg__table_find_slow() found no room because
	                      * the rule is at its quota (shm/quota.c) */
};

/* Groups a check looks through inline: its home block's two, the next
 * block's two; the rest of the window is fg__table_lookup_from()'s. */
#define FG_INLINE_GROUPS 8u

#define FG__ONES UINT64_C(0x0101010101010101)
#define FG__HIGH UINT64_C(0x8080808080808080)
#define FG__LOW7 UINT64_C(0x7f7f7f7f7f7f7f7f)

/* The high bit of each byte of @x that is zero, and only of those. */
static inline uint64_t fg__zero_bytes(uint64_t x)
{
	return ~(((x & FG__LOW7) + FG__LOW7) | x | FG__LOW7);
}

/* Bytes of @tags equal to @tag, as high bits. */
static inline uint64_t fg__tag_match(uint64_t tags, uint8_t tag)
{
	return fg__zero_bytes(tags ^ (FG__ONES * tag));
}

static inline uint64_t fg__table_home(const struct fg_table *t, uint64_t h)
{
	return (uint64_t)(((unsigned __int128)h * t->nblocks) >> 64);
}

/* The slot a key prefers in its home block (bits the home does not use). */
static inline unsigned fg__table_pref(uint64_t h)
{
	return (unsigned)(h >> 24) & 15u;
}

static inline uint8_t fg__table_fp5(uint64_t h)
{
	return (uint8_t)((h >> 16) & 31u);
}

static inline uint16_t fg__table_fp16(uint64_t h)
{
	return (uint16_t)h;
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

/* The key bytes of the bucket at slot @j of @b equal @key (@len bytes;
 * the word has told that the lengths are equal). */
int fg__table_key_equal(const struct fg_block *b, unsigned j, const void *key,
                        size_t len);

static inline __attribute__((always_inline)) int
fg__key_equal(const struct fg_block *b, unsigned j, const void *key, size_t len)
{
	if (len <= FG_SLOT_KEY_INLINE)
		return fg__key16_equal(b->s[j].key, (const uint8_t *)key, len);
	return fg__table_key_equal(b, j, key, len);
}

/* The bucket of (@rule, @key) if it is in the table; never inserts. */
struct fg_slot *fg__table_lookup(struct fg_table *t, unsigned rule,
                                 const void *key, size_t len, uint64_t h,
                                 struct fg_ref *ref);

/* The same, looking for the key only from the @from-th group of its
 * sequence on (the caller has seen the ones before: their ends still
 * count). */
struct fg_slot *fg__table_lookup_from(struct fg_table *t, unsigned rule,
                                      const void *key, size_t len, uint64_t h,
                                      unsigned from, struct fg_ref *ref);

struct fg_slot *fg__table_find_slow(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    struct fg_ref *ref);

/*
 * Find the bucket of (@rule, @key), whose hash is @h, in the first
 * FG_INLINE_GROUPS groups of its sequence: the slot, with @ref set, or
 * NULL when they do not hold it.
 * Reads the group's version, then its tags, then the candidate's word and
 * key: a caller validates with fg__ref_valid() after copying the pair.
 */
static inline __attribute__((always_inline)) struct fg_slot *
fg__table_find_home(struct fg_table *t, unsigned rule, const void *key,
                    size_t len, uint64_t h, struct fg_ref *ref)
{
	struct fg_block *b = &t->blocks[fg__table_home(t, h)];
	const unsigned pref = fg__table_pref(h);
	unsigned half = pref >> 3, i = pref % FG_GROUP_SLOTS, k;
	struct fg_group *g = &b->g[half];
	const uint64_t ident = FG_W_MAKE(rule, len, 0);
	const uint8_t tag = FG_TAG(FG_SLOT_READY, fg__table_fp5(h));
	struct fg_slot *s = &b->s[pref];
	uint64_t ver, tags, m;

	/* The key is most likely in its preferred slot: every address of
	 * that guess is known from the hash, so its loads (and the slot's
	 * line, fetched to be written) go out together with the metadata;
	 * the key's own bytes, rule and length decide. */
	__builtin_prefetch(s, 1, 3);
	ver = fg__load(&g->ver);
	tags = fg__load(&g->tags);
	if (caa_likely(((tags >> (8 * i)) & 0xffu) == tag &&
	               FG_W_IDENT(fg__load(&s->word)) == ident &&
	               fg__key_equal(b, pref, key, len)))
		goto found;
	/* Elsewhere in the group, then in the other group of the block (the
	 * same line of metadata), then the next block's (FG_INLINE_GROUPS in
	 * all: 99% of keys at capacity): the fingerprints first, so that
	 * other keys' slot lines are not read. */
	for (k = 0;;) {
		for (m = fg__tag_match(tags, tag); m; m &= m - 1) {
			i = (unsigned)__builtin_ctzll(m) >> 3;
			s = &b->s[half * FG_GROUP_SLOTS + i];
			if (__atomic_load_n(&g->fp[i], __ATOMIC_RELAXED) ==
			        fg__table_fp16(h) &&
			    FG_W_IDENT(fg__load(&s->word)) == ident &&
			    fg__key_equal(b, half * FG_GROUP_SLOTS + i, key,
			                  len))
				goto found;
		}
		if (++k == FG_INLINE_GROUPS || fg__tag_match(tags, 0))
			return NULL; /* seen enough, or an open group ends it */
		half ^= 1;
		if (half == pref >> 3) { /* the next block */
			b = b + 1 == t->blocks + t->nblocks ? t->blocks : b + 1;
			if (t->nblocks < 2)
				return NULL;
		}
		g = &b->g[half];
		ver = fg__load(&g->ver);
		tags = fg__load(&g->tags);
	}
found:
	ref->b = b;
	ref->g = g;
	ref->s = s;
	ref->ver = ver;
	ref->j = half * FG_GROUP_SLOTS + i;
	return s;
}

/* Start fetching what fg__table_find_home() reads first for @h: a caller
 * with several keys to find lets their misses overlap. */
static inline void fg__table_prefetch(const struct fg_table *t, uint64_t h)
{
	const struct fg_block *b = &t->blocks[fg__table_home(t, h)];
	const unsigned pref = fg__table_pref(h);

	__builtin_prefetch(&b->g[pref >> 3], 0, 3);
	__builtin_prefetch(&b->s[pref], 1, 3);
}

/* The group has not changed state since @ref was taken: what was read
 * of its bucket since then is the bucket's. */
static inline int fg__ref_valid(const struct fg_ref *ref)
{
	cmm_smp_rmb(); /* the copies first */
	return fg__load(&ref->g->ver) == ref->ver;
}

/*
 * Find the bucket of (@rule, @key), inserting it if it is absent: the
 * slot with @ref set, or NULL when the probe window has no room, or when
 * the rule's buckets hold its quota of slots (ref->over_quota set).  The
 * common case, a live key in its home group, stays inline.
 */
static inline __attribute__((always_inline)) struct fg_slot *
fg__table_find_ref(struct fg_table *t, unsigned rule, const void *key,
                   size_t len, uint64_t h, struct fg_ref *ref)
{
	struct fg_slot *s = fg__table_find_home(t, rule, key, len, h, ref);

	if (s == NULL) /* elsewhere in the window, or absent */
		s = fg__table_lookup(t, rule, key, len, h, ref);
	return s ? s : fg__table_find_slow(t, rule, key, len, h, ref);
}

/* Mark block @blk as changed for the owner's harvest (shm/scan.c). */
static inline void fg__table_touch(struct fg_table *t, uint64_t blk)
{
	uint64_t *w, bit;

	if (t->dirty == NULL)
		return;
	w = &t->dirty[blk >> 6];
	bit = UINT64_C(1) << (blk & 63);
	if (!(fg__load(w) & bit))
		__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST);
}

static inline uint64_t fg__ref_block(const struct fg_table *t,
                                     const struct fg_ref *ref)
{
	return (uint64_t)(ref->b - t->blocks);
}

/* Count a denial in the bucket of @ref (aux; the harvest's clean bit). */
static inline void fg__table_deny(struct fg_table *t, const struct fg_ref *ref)
{
	uint64_t *aux = &ref->b->cold[ref->j].aux;

	if (__atomic_fetch_add(aux, 1, __ATOMIC_SEQ_CST) & FG_AUX_CLEAN) {
		__atomic_fetch_and(aux, ~FG_AUX_CLEAN, __ATOMIC_SEQ_CST);
		fg__table_touch(t, fg__ref_block(t, ref));
	}
}

/*
 * Maintenance for the owner: claims seen unchanged for @min_age_ns (at
 * least FG_CLAIM_STALE_NS) are marked DEAD, DEAD slots older than
 * @min_age_ns become reusable, and groups whose tombstones no key is
 * behind become open again.  Returns how many slots were freed.  O(slots);
 * the caller holds the owner lock (fg__seg_lock).
 */
uint64_t fg__table_reap(struct fg_table *t, uint64_t now, uint64_t min_age_ns);

/* Only the last part of the reap: reopen the groups of tombstones that no
 * key is behind, as the owner does after evicting.  Returns how many. */
uint64_t fg__table_reopen(struct fg_table *t);

/*
 * Eviction (table.c).  fg__table_evict() frees the bucket of @ref whose
 * pair was read as *@p, if it is full at @now (and has been used); 0 when
 * it is not, or was used meanwhile.  The caller decides that nothing in it
 * is still owed to anyone (the owner's harvest).  fg__table_bury()
 * finishes an eviction a stopped evictor left with its mark set.
 * fg__table_make_room() evicts one full bucket, of a rule @evictable
 * accepts, from the probe window of hash @h; 1 if it freed a slot.
 */
int fg__table_evict(struct fg_table *t, const struct fg_ref *ref,
                    const struct fg_pair *p, uint64_t now);
void fg__table_bury(struct fg_table *t, const struct fg_ref *ref);
int fg__table_make_room(struct fg_table *t, uint64_t h, uint64_t now,
                        int (*evictable)(void *arg, unsigned rule), void *arg);

/* Slot @i (0 .. nblocks * 16 - 1) as a reference, its version read now. */
void fg__table_ref_of(struct fg_table *t, uint64_t i, struct fg_ref *ref);

/*
 * For tests that stand in for a process killed at a given instruction.
 * fg__table_plant_claim() claims a slot for (@rule, @key) and stops, as
 * an inserter killed between claiming and publishing leaves it; it returns
 * the slot's index, or -1 if the key is present or the window is full.
 */
int64_t fg__table_plant_claim(struct fg_table *t, unsigned rule,
                              const void *key, size_t len, uint64_t h);

#endif
