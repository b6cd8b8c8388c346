/* SPDX-License-Identifier: ISC */
/*
 * cuckoo_int.h - what the files of the layout C table share: the word's
 * macros, the small steps on a slot or a stripe, and the functions one
 * file lends those above it (cuckoo_rec.c the lowest, then cuckoo.c, then
 * cuckoo_insert.c and cuckoo_reap.c).  Not for anything outside them.
 */
#ifndef FG_SHM_CUCKOO_INT_H
#define FG_SHM_CUCKOO_INT_H

#include <string.h>

#include "shm/clock.h"
#include "shm/cuckoo.h"

#define MS31   UINT64_C(0x7fffffff)
#define MS40   ((UINT64_C(1) << 40) - 1)
#define SEQ(w) ((w) >> 40)
#define STATE_MASK                                                             \
	((UINT64_C(7) << FG_CK_STATE_SHIFT) | (UINT64_C(1) << FG_CK_DEST_SHIFT))
#define WITH(w, st)                                                            \
	(((w) & ~STATE_MASK) | ((uint64_t)(st) << FG_CK_STATE_SHIFT))
/* The word a slot keeps when it is freed: its generation. */
#define FREED(w) ((w)&FG_CK_GEN_MASK)
/* @w with the generation of the slot whose word is @g. */
#define GEN_OF(w, g) (((w) & ~FG_CK_GEN_MASK) | ((g)&FG_CK_GEN_MASK))

#ifdef FG_CK_TEST_HOOKS
#define HOOK(t, at, s)                                                         \
	(fg__cuckoo_hook != NULL ? fg__cuckoo_hook(t, at, s) : (void)0)
#else
#define HOOK(t, at, s) ((void)(t), (void)(s))
#endif

/* CLOCK_MONOTONIC in ms (fg__cuckoo_now_ms(), inline for every file). */
static inline uint64_t now_ms(void)
{
	return fg__now_ns() / 1000000u;
}

/* cuckoo_rec.c: long keys' records (below everything else here). */
int fg__ck_rec_has(const struct fg_cuckoo *t, uint64_t r,
                   const struct fg_ck_key *k);
void fg__ck_rec_load(const struct fg_cuckoo *t, uint64_t r,
                     uint64_t full[FG_CK_KEY_MAX / 8]);
int fg__ck_rec_take(struct fg_cuckoo *t, struct fg_ck_key *k, uint64_t *tok);
int fg__ck_rec_still(const struct fg_cuckoo *t, uint64_t r, uint64_t tok);
uint64_t fg__ck_rec_tok(const struct fg_cuckoo *t, uint64_t r);
void fg__ck_rec_drop(struct fg_cuckoo *t, uint64_t r, uint64_t tok);
void fg__ck_rec_reap(struct fg_cuckoo *t, uint64_t now_ms);

/* Slot @s, whose word is @w, names @k (its bytes read after the word): a
 * short key in place; a long one by its hash, then its record's bytes, so
 * that two claims for one long key, each with its record, both name it. */
static inline int has(const struct fg_cuckoo *t, const struct fg_slot *s,
                      uint64_t w, const struct fg_ck_key *k)
{
	uint64_t b[2];

	if (FG_W_IDENT(w) != k->ident)
		return 0;
	memcpy(b, s->key, sizeof b);
	if (!k->ext)
		return ((b[0] ^ k->b[0]) | (b[1] ^ k->b[1])) == 0;
	return b[0] == k->h && fg__ck_rec_has(t, b[1], k);
}

/* @k's buckets from its hash: two different ones. */
static inline void buckets_of(const struct fg_cuckoo *t, struct fg_ck_key *k)
{
	uint64_t h = k->h;

	k->x = (uint64_t)(((fg_u128)h * t->nb) >> 64);
	k->y = (uint64_t)(((fg_u128)((h << 32) | (h >> 32)) * t->nb) >> 64);
	if (k->y == k->x)
		k->y = k->x + 1 == t->nb ? 0 : k->x + 1;
}

static inline uint64_t bucket_of(const struct fg_cuckoo *t,
                                 const struct fg_slot *s)
{
	return (uint64_t)(s - t->s) / FG_CK_WAYS;
}

static inline uint64_t other(const struct fg_ck_key *k, uint64_t b)
{
	return b == k->x ? k->y : k->x;
}

/* The destination of the move that froze @S (word @w). */
static inline struct fg_slot *dest_of(struct fg_cuckoo *t,
                                      const struct fg_slot *S, uint64_t w,
                                      const struct fg_ck_key *k)
{
	return &t->s[other(k, bucket_of(t, S)) * FG_CK_WAYS + FG_CK_DEST(w)];
}

static inline uint64_t *stripe_of(struct fg_cuckoo *t,
                                  const struct fg_ck_key *k)
{
	return &t->stripes[k->h & (FG_CK_STRIPES - 1)];
}

/* Leave a stripe, unless the reap took it back as stale meanwhile. */
static inline void stripe_leave(uint64_t *sw, uint64_t held)
{
	uint64_t nw = (((SEQ(held) + 1) & 0xffffff) << 40) | (held & MS40);

	(void)__atomic_compare_exchange_n(sw, &held, nw, 0, __ATOMIC_SEQ_CST,
	                                  __ATOMIC_SEQ_CST);
}

/* A slot went FREE for good (not as the end of a move, nor a claim
 * given back): a path search that failed may find one now. */
static inline void freed_one(struct fg_cuckoo *t)
{
	__atomic_fetch_add(t->frees, 1, __ATOMIC_RELEASE);
}

static inline uint64_t token_age(uint64_t tok, uint64_t now_ms)
{
	return (now_ms - (tok >> 32)) & MS31;
}

/* Set @s from the pair (@lo, @hi) to (@nlo, @nhi) if it holds it. */
static inline int swap(struct fg_slot *s, uint64_t lo, uint64_t hi,
                       uint64_t nlo, uint64_t nhi)
{
	return fg__dwcas(&s->tat, &lo, &hi, nlo, nhi);
}

/* The pair of @s read in one piece (a cmpxchg16b that writes nothing
 * new): for the reap, whose decisions rest on a whole pair. */
static inline void pair_snap(struct fg_slot *s, struct fg_pair *p)
{
	p->tat = p->word = 0;
	(void)fg__dwcas(&s->tat, &p->tat, &p->word, 0, 0);
}

/* What @k's buckets hold for it besides a slot of ours (survey()). */
struct survey {
	struct fg_slot *ready, *moving; /* the key's live slot */
	int copy;                       /* a move of the key under way */
	struct fg_slot *before, *after; /* claims for it, in bucket order */
};

/* cuckoo.c lends these to the insert and the reap. */
void fg__ck_key_of(const struct fg_cuckoo *t, const struct fg_slot *s,
                   uint64_t w, struct fg_ck_key *k);
uint64_t fg__ck_claim(struct fg_cuckoo *t, struct fg_slot *s, uint64_t w,
                      const struct fg_ck_key *k, uint64_t *cw);
void fg__ck_finish(struct fg_cuckoo *t, struct fg_slot *S,
                   const struct fg_pair *f, const struct fg_ck_key *k);
void fg__ck_survey(struct fg_cuckoo *t, const struct fg_ck_key *k,
                   const struct fg_slot *self, struct survey *v);

#endif
