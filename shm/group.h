/* SPDX-License-Identifier: ISC */
/*
 * group.h - a group's control word, for table.c, reap.c and scan.c
 * (internal).
 *
 * A group of 8 slots is controlled by one 16-byte word, its tags and its
 * version, which every change of state moves with one cmpxchg16b
 * (layout.h; the state machine is table.c's).  These are the helpers both
 * the insert path and the owner's maintenance read and change it with.
 */
#ifndef FG_SHM_GROUP_H
#define FG_SHM_GROUP_H

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "shm/table.h"

#define TAG_FREE  FG_TAG(FG_SLOT_FREE, 0)
#define TAG_EXT   FG_TAG(FG_SLOT_EXT, 0)
#define TOKEN_BIT FG_AUX_TOKEN
/* tat of an EXT slot: not a time, and not a pair any bucket had */
#define FG_TAT_EXT (FG_TAT_EVICTED + 1)

/* A group's control word as read. */
struct gs {
	uint64_t tags, ver;
};

/* A group of the sequence, by its rank @k. */
struct pos {
	struct fg_block *b;
	struct fg_group *g;
	unsigned half;
};

static inline void gload(const struct fg_group *g, struct gs *s)
{
	s->ver = fg__load(&g->ver);
	s->tags = fg__load(&g->tags);
}

static inline int gcas(struct fg_group *g, struct gs *s, uint64_t tags,
                       uint64_t ver)
{
	return fg__dwcas(&g->tags, &s->tags, &s->ver, tags, ver);
}

static inline unsigned tag_at(uint64_t tags, unsigned i)
{
	return (unsigned)(tags >> (8 * i)) & 0xffu;
}

static inline uint64_t with_tag(uint64_t tags, unsigned i, unsigned tag)
{
	return (tags & ~(UINT64_C(0xff) << (8 * i))) |
	       ((uint64_t)tag << (8 * i));
}

static inline int is_open(uint64_t tags)
{
	return fg__tag_match(tags, FG_TAG(FG_SLOT_EMPTY, 0)) != 0;
}

static inline int has_free(uint64_t tags)
{
	return fg__tag_match(tags, TAG_FREE) != 0;
}

static inline int slot_free(uint64_t tags, unsigned i)
{
	unsigned tag = tag_at(tags, i);

	return tag == FG_TAG(FG_SLOT_EMPTY, 0) || tag == TAG_FREE;
}

/* Slots a key of @len bytes takes: its own and 0-3 EXT. */
static inline unsigned span_of(size_t len)
{
	return len <= FG_SLOT_KEY_INLINE ? 1u : (unsigned)((len + 15) / 16);
}

/* Free @span slots from @i in @tags: EMPTY if the group is open without
 * them, FREE otherwise (the rule that keeps invariant 1). */
static inline uint64_t freed(uint64_t tags, unsigned i, unsigned span)
{
	uint64_t t = tags;
	unsigned k, tag;

	for (k = 0; k < span; k++)
		t = with_tag(t, i + k, TAG_FREE);
	tag = is_open(t) ? FG_TAG(FG_SLOT_EMPTY, 0) : TAG_FREE;
	for (k = 0; k < span; k++)
		t = with_tag(t, i + k, tag);
	return t;
}

/* Slots from @i that belong to the bucket or claim at @i: it and the EXT
 * slots after it. */
static inline unsigned owned_span(uint64_t tags, unsigned i)
{
	unsigned n = 1;

	while (i + n < FG_GROUP_SLOTS && tag_at(tags, i + n) == TAG_EXT)
		n++;
	return n;
}

/* block_match() one slot at a time: the reference the SSE2 version is
 * tested against, and the one of a build without SSE2. */
static inline uint32_t block_match_slots(const struct fg_block *b, uint8_t tag,
                                         uint32_t *open)
{
	const uint64_t t0 = fg__load(&b->g[0].tags),
	               t1 = fg__load(&b->g[1].tags);
	uint32_t m = 0, o = 0;
	unsigned j;

	for (j = 0; j < FG_BLOCK_SLOTS; j++) {
		unsigned x = (unsigned)((j < FG_GROUP_SLOTS ? t0 : t1) >>
		                        (8 * (j % FG_GROUP_SLOTS))) &
		             0xffu;

		m |= (uint32_t)(x == tag) << j;
		o |= (uint32_t)(x == 0) << j;
	}
	*open = o;
	return m;
}

/* The slots of block @b (bit j: slot j) whose tag is @tag; in *@open,
 * those that are EMPTY.  Its groups' versions have been read. */
static inline uint32_t block_match(const struct fg_block *b, uint8_t tag,
                                   uint32_t *open)
{
#ifdef __SSE2__
	/* the tags by the atomic loads every reader uses, then compared in
	 * one register */
	const __m128i v = _mm_set_epi64x((long long)fg__load(&b->g[1].tags),
	                                 (long long)fg__load(&b->g[0].tags));

	*open =
	    (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
	return (uint32_t)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(v, _mm_set1_epi8((char)tag)));
#else
	return block_match_slots(b, tag, open);
#endif
}

static inline uint64_t block_index(const struct fg_table *t,
                                   const struct fg_block *b)
{
	return (uint64_t)(b - t->blocks);
}

static inline uint64_t *aux_of(const struct pos *at, unsigned i)
{
	return &at->b->cold[at->half * FG_GROUP_SLOTS + i].aux;
}

/*
 * The age of the claim at slot @i of @at (whose aux was read as @aux), in
 * ns at @now; a claim without a token gets one now (and is 0 old).
 */
static inline uint64_t claim_age(const struct pos *at, unsigned i, uint64_t aux,
                                 uint64_t now)
{
	uint64_t since;

	if (!(aux & TOKEN_BIT)) {
		(void)__atomic_compare_exchange_n(
		    aux_of(at, i), &aux, TOKEN_BIT | now, 0, __ATOMIC_SEQ_CST,
		    __ATOMIC_SEQ_CST);
		return 0;
	}
	since = aux & ~TOKEN_BIT;
	return now > since ? now - since : 0;
}

/*
 * Mark the claim at slot @i, read as (@s, @aux), DEAD if it is older than
 * @stale at @now: 1 if this call did.
 */
static inline int abandon(struct fg_table *t, const struct pos *at,
                          struct gs *s, unsigned i, uint64_t aux, uint64_t now,
                          uint64_t stale)
{
	unsigned tag = tag_at(s->tags, i);

	if (FG_TAG_STATE(tag) != FG_SLOT_CLAIMED ||
	    claim_age(at, i, aux, now) < stale)
		return 0;
	if (!gcas(at->g, s, with_tag(s->tags, i, FG_TAG(FG_SLOT_DEAD, 0)),
	          s->ver + 2))
		return 0;
	__atomic_store_n(aux_of(at, i), now, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&t->hdr->abandoned, 1, __ATOMIC_SEQ_CST);
	fg__table_touch(t, block_index(t, at->b));
	return 1;
}

#endif
