/* SPDX-License-Identifier: ISC */
/*
 * override.h - the override table of a segment (override.c).
 */
#ifndef FG_SHM_OVERRIDE_H
#define FG_SHM_OVERRIDE_H

#include <stddef.h>
#include <stdint.h>

#include "shm/hash.h"
#include "shm/layout.h"

/* Slots a probe visits at most: an entry further from its home is
 * refused at insert, so a lookup that has seen this many is done. */
#define FG_OVR_PROBE 32u

/* Items the live copy of the filter takes before the owner rebuilds it:
 * 1 a word (4 bits of 64 each): false positives under 1e-4. */
#define FG_OVR_FILTER_REBUILD FG_OVR_FILTER_WORDS

/* Tags of the override table: above any rule index (the table's tags). */
#define FG_OVR_TAG UINT64_C(0x4f56520000000000)

/* Where (@rule, @kind, @key)'s entry lives. */
static inline uint64_t fg__ovr_hash(const uint64_t seed[2], unsigned rule,
                                    unsigned kind, const void *key, size_t len)
{
	return fg__hash64(seed, FG_OVR_TAG | (uint64_t)kind << 8 | rule, key,
	                  len);
}

/*
 * A prefix's item in the filter: the @len bytes at @key under @rule,
 * keyed by the segment's seed; one multiplication up to 16 bytes (a
 * check makes one for each prefix length of its rule).  Not for
 * placement: its worst collisions cost a probe.  The bytes are read as
 * fg__hash64() reads them (shm/hash.h: no byte beyond @len).
 */
static inline uint64_t fg__ovr_prefix_item(const uint64_t seed[2],
                                           unsigned rule, const void *key,
                                           size_t len)
{
	const uint8_t *p = (const uint8_t *)key;
	uint64_t s = seed[0] ^ ((uint64_t)rule << 8 | len) * FG__P2, a, b;

	if (len >= 4 && len <= 16) {
		size_t q = (len >> 3) << 2;

		a = (fg__rd32(p) << 32) | fg__rd32(p + q);
		b = (fg__rd32(p + len - 4) << 32) | fg__rd32(p + len - 4 - q);
	} else if (len < 4) {
		a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) |
		    p[len - 1];
		b = 0;
	} else {
		size_t i = len;

		for (; i > 16; i -= 16, p += 16)
			s = fg__mix(fg__rd64(p) ^ FG__P1, fg__rd64(p + 8) ^ s);
		a = fg__rd64(p + i - 16);
		b = fg__rd64(p + i - 8);
	}
	return fg__mix(a ^ s, b ^ seed[1] ^ FG__P0);
}

/* An item's word in a copy of the filter, and its four bits in it. */
static inline unsigned fg__ovr_filter_word(uint64_t h)
{
	return (unsigned)(h >> 12) & (FG_OVR_FILTER_WORDS - 1);
}

static inline uint64_t fg__ovr_filter_bits(uint64_t h)
{
	return UINT64_C(1) << (h >> 25 & 63) | UINT64_C(1) << (h >> 31 & 63) |
	       UINT64_C(1) << (h >> 37 & 63) | UINT64_C(1) << (h >> 43 & 63);
}

/* Whether copy @f holds item @h.  An acquire load: whatever the caller
 * reads after (the generation that vouches for @f) is read after it. */
static inline int fg__ovr_filter_has(const uint64_t *f, uint64_t h)
{
	uint64_t m = fg__ovr_filter_bits(h);

	return (__atomic_load_n(&f[fg__ovr_filter_word(h)], __ATOMIC_ACQUIRE) &
	        m) == m;
}

/* What a lookup of a key probes: its exact entry (exact), and its
 * prefixes of the lengths in lens (bit L-1 for L bytes). */
struct fg_ovr_cands {
	uint64_t lens;
	unsigned exact;
};

/*
 * The filter's verdict on (@rule, @key), whose hash in the bucket table
 * is @h (fg__hash64(seed, rule, key, len)): in *@k what may have an
 * entry, and whether anything may (0: the key had no override at a
 * moment during the call).  Every candidate when the owner rebuilt the
 * filter during the call.  Inline: a check of a key without an override
 * pays this and no call.
 */
static inline __attribute__((always_inline)) int
fg__ovr_filter(const struct fg_ovr_region *o, const uint64_t seed[2],
               unsigned rule, const void *key, size_t len, uint64_t h,
               struct fg_ovr_cands *k)
{
	uint64_t lens, keep = 0, g;
	const uint64_t *f;
	unsigned exact;

	if (rule >= FG_MAX_RULES || len == 0 || len > FG_SLOT_KEY_MAX)
		return 0;
	/* acquire loads, in this order: a length's bit, the generation,
	 * the words it names, the generation again (no compiler barrier:
	 * the check around keeps its registers) */
	lens = __atomic_load_n(&o->prefix_lens[rule], __ATOMIC_ACQUIRE);
	if (len < 64)
		lens &= (UINT64_C(1) << len) - 1; /* prefixes up to len */
	k->exact = 1;
	k->lens = lens;
	g = __atomic_load_n(&o->filter_gen, __ATOMIC_ACQUIRE);
	f = o->filter[g & 1];
	exact = (unsigned)fg__ovr_filter_has(f, h);
	while (lens != 0) {
		unsigned l = 64u - (unsigned)__builtin_clzll(lens);
		uint64_t bit = UINT64_C(1) << (l - 1);

		if (fg__ovr_filter_has(f,
		                       fg__ovr_prefix_item(seed, rule, key, l)))
			keep |= bit;
		lens &= ~bit;
	}
	if (__atomic_load_n(&o->filter_gen, __ATOMIC_ACQUIRE) == g) {
		k->exact = exact;
		k->lens = keep;
	}
	return k->exact || k->lens != 0;
}

/* The probes of *@k (of fg__ovr_filter()) for (@rule, @key): as
 * fg__ovr_lookup(). */
int fg__ovr_probe(const struct fg_ovr_region *o, const uint64_t seed[2],
                  unsigned rule, const void *key, size_t len,
                  const struct fg_ovr_cands *k, struct fg_ovr_entry *out);

/* Rebuild the filter from the live entries into its spare copy, then
 * make that copy live (the owner lock held).  fg__ovr_place() does when
 * the live copy has taken FG_OVR_FILTER_REBUILD items. */
void fg__ovr_filter_rebuild(struct fg_ovr_region *o, const uint64_t seed[2]);

/*
 * The live entry of (@rule, @kind, @key) of @len bytes (@kind:
 * FG_OVR_PREFIX or 0), copied to *@out: 1, or 0 when there is none (or
 * the owner rewrote it under us so often that it counts as none).  Any
 * process, without a lock.
 */
int fg__ovr_find(const struct fg_ovr_region *o, const uint64_t seed[2],
                 unsigned rule, unsigned kind, const void *key, size_t len,
                 struct fg_ovr_entry *out);

/*
 * The owner's writes (the segment's owner lock held).  Making @e (state
 * FG_OVR_LIVE, fields checked by the caller) the live entry of its
 * (rule, kind, key) takes two calls: fg__ovr_place() sets @e's bits in
 * the filter and returns the slot the entry goes to (its live one, or
 * a free one), or NULL when its probe window is full (FG_ENOMEM: no bit
 * set); fg__ovr_publish() then makes @e that slot's live copy.  An owner
 * killed between the two leaves bits without an entry: a wasted probe.
 * fg__ovr_del removes that entry: 1 removed, 0 there was none.
 */
struct fg_ovr_slot *fg__ovr_place(struct fg_ovr_region *o,
                                  const uint64_t seed[2],
                                  const struct fg_ovr_entry *e);
void fg__ovr_publish(struct fg_ovr_slot *s, const struct fg_ovr_entry *e);
int fg__ovr_del(struct fg_ovr_region *o, const uint64_t seed[2], unsigned rule,
                unsigned kind, const void *key, size_t len);

/* The live entry of slot @i (below FG_OVR_SLOTS) into *@out: 1, or 0
 * when it holds none.  For listings and snapshots. */
int fg__ovr_at(const struct fg_ovr_region *o, unsigned i,
               struct fg_ovr_entry *out);

/* The override in effect for (@rule, @key), whose hash in the bucket
 * table is @h (fg__hash64(seed, rule, key, len)): its exact entry, else
 * its longest prefix entry, with numbers a check can use; 1 with *@out,
 * or 0.  Any process, without a lock; probes only what the filter may
 * hold (fg__ovr_filter(), then fg__ovr_probe()). */
int fg__ovr_lookup(const struct fg_ovr_region *o, const uint64_t seed[2],
                   unsigned rule, const void *key, size_t len, uint64_t h,
                   struct fg_ovr_entry *out);

/* The next live, usable entry from *@cursor (0 to start): 1 with *@out,
 * 0 at the end. */
int fg__ovr_next(const struct fg_ovr_region *o, unsigned *cursor,
                 struct fg_ovr_entry *out);

/* Rule @rule's live entries: how many, and in *@lens the mask of its
 * prefixes' lengths (bit L-1 for L bytes).  A scan of the whole table. */
unsigned fg__ovr_count(const struct fg_ovr_region *o, unsigned rule,
                       uint64_t *lens);

#endif
