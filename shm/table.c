/* SPDX-License-Identifier: ISC */
/*
 * table.c - the segment's table over the layout C core: lookups, inserts,
 * quotas, denials and their cold parts (eviction: evict.c; the owner's
 * maintenance: reap.c; reading from outside: scan.c).
 *
 * shm/cuckoo.c owns the states of slots (layout.h) and proves that a key
 * is only ever in its two buckets, that exactly one slot holds its live
 * pair (none while it is frozen for a move), that a miss confirmed by its
 * stripe is a miss, and that whatever a killed process leaves is undone
 * by its reap.  What this file adds is the segment's: the rule's quota of
 * slots, the harvest's dirty marks, the counters, the cold parts, and the
 * check's contract with lib/ (table.h).
 *
 * The check's contract.  fg__table_find_home() (inline) or a lookup here
 * returns a slot whose word was READY with the key's rule and length and
 * whose bytes were the key's when each was read (inline the bytes first,
 * here the word first: neither order alone proves both were one bucket's),
 * and a reference that remembers the word's rule, length and state, the 16
 * key bytes as the slot holds them and the slot's generation.  The caller
 * copies the pair, then fg__ref_valid() reads the word and the bytes
 * again: if they are unchanged, the copy was taken while the slot held the
 * key (its bytes change only after the slot was FREE, which changes its
 * word, and are written before the word is READY again).  That copy may be
 * frozen (MOVING): a decision to deny on it is the key's own state, and
 * fg__pair_advance() never commits one.  A key that leaves the slot and
 * comes back to it (two moves, a removal and an insert) between the
 * caller's copy and its cmpxchg16b comes back with another generation
 * (every claim of a slot moves it): the cmpxchg16b fails and the reference
 * is no longer valid, so the caller finds the key again.
 *
 * Long keys (17-64 bytes) are the core's records (cuckoo_rec.c): their
 * slot's key bytes are their hash and their record's index, which the
 * reference remembers; a find compares the hash, then the record's line
 * (fg__table_find_long(): one line more than a short key).  A record is
 * its key's as long as a slot names it, so fg__ref_valid() needs nothing
 * more for them.
 *
 * Inserts.  An insert reserves one slot in its rule's quota before the
 * core inserts, and gives it back unless its bucket is the one that
 * stays; the bucket's remover gives it back (evict.c).  The new bucket's
 * page is marked for the harvest once it is READY.  The core's moves mark
 * nothing: a moved bucket keeps its clean bit, so its first admission at
 * the new slot marks that page, and a harvest that meets the page of the
 * old slot finds it at the other one (gossip/harvest.c).
 *
 * Denials are counted in the cold parts of the key's slots (cold.c).
 */
#include "shm/table.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>

#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/quota.h"

_Static_assert(FG_TABLE_HEAD == FG_CK_HEAD, "the core's serial line");
_Static_assert(FG_TABLE_STRIPES == FG_CK_STRIPES, "the core's stripes");
_Static_assert(FG_BUCKET_SLOTS == FG_CK_WAYS, "the core's buckets");
_Static_assert(FG_TABLE_KEY_MAX <= FG_CK_KEY_MAX, "keys the core holds");
_Static_assert(FG_TABLE_KEY_MAX == FG_CK_KEY_MAX, "every key in the core");
_Static_assert(FG_SLOT_KEY_INLINE == FG_CK_INLINE, "the core's short keys");
_Static_assert(FG_RECORD_SIZE == FG_CK_REC_KEY + FG_CK_REC_HEAD,
               "the core's records");
_Static_assert(FG_W_COUNT_MASK == FG_CK_COUNT_MASK, "the core's count");
_Static_assert(FG_W_GEN_SHIFT == FG_CK_GEN_SHIFT &&
                   FG_W_GEN_MASK == FG_CK_GEN_MASK,
               "the core's generation");
_Static_assert(FG_W_STATE_SHIFT == FG_CK_STATE_SHIFT &&
                   FG_W_DEST_SHIFT == FG_CK_DEST_SHIFT,
               "the core's word");
_Static_assert((int)FG_SLOT_FREE == (int)FG_CK_FREE &&
                   (int)FG_SLOT_CLAIMED == (int)FG_CK_CLAIMED &&
                   (int)FG_SLOT_READY == (int)FG_CK_READY &&
                   (int)FG_SLOT_MOVING == (int)FG_CK_MOVING &&
                   (int)FG_SLOT_COPY == (int)FG_CK_COPY &&
                   (int)FG_SLOT_DEAD == (int)FG_CK_DEAD,
               "the core's states");

size_t fg__table_region_size(uint64_t nb, uint64_t nr)
{
	return fg__cuckoo_size(nb, nr);
}

int fg__table_init(struct fg_table *t, void *hdr, struct fg_rule_rec *rules,
                   void *mem, struct fg_cold *cold, uint64_t *dirty,
                   uint64_t nb, uint64_t nr, const uint64_t seed[2])
{
	memset(t, 0, sizeof *t);
	if (fg__cuckoo_attach(&t->ck, mem, nb, nr, seed,
	                      FG_CLAIM_STALE_NS / 1000000u) != 0)
		return -EINVAL;
	t->hdr = hdr;
	t->rules = rules;
	t->slots = t->ck.s;
	t->rk = t->ck.rk;
	t->nrecords = nr;
	t->cold = cold;
	t->dirty = dirty;
	t->nbuckets = nb;
	t->seed[0] = seed[0];
	t->seed[1] = seed[1];
	t->near = FG_CK_BFS_NEAR;
	return 0;
}

/* The core's key for (@rule, @key): 0, or -1 for a key it cannot hold. */
static int key_of(const struct fg_table *t, struct fg_ck_key *k, unsigned rule,
                  const void *key, size_t len)
{
	if (len == 0 || len > FG_TABLE_KEY_MAX)
		return -1;
	return fg__cuckoo_key(&t->ck, k, rule, key, len) == 0 ? 0 : -1;
}

/* The live slot of @k as the core finds it (helping a move it meets),
 * with @ref set from one reading of its word and bytes; NULL if absent.
 * A long key's bytes in its slot are its hash and its record, which the
 * core compared: they are taken as the slot holds them. */
static struct fg_slot *get_ref(struct fg_table *t, const struct fg_ck_key *k,
                               const void *key, size_t len, struct fg_ref *ref)
{
	const uint64_t live = k->ident | FG_W_STATE_BITS(FG_SLOT_READY);
	struct fg_slot *s;
	struct fg_pair p;
	uint64_t w;

	if (!k->ext)
		fg__key_words(key, len, ref->kb);
	do { /* a slot changed since the core read it: the core again */
		s = fg__cuckoo_get(&t->ck, k, &p);
		if (s == NULL)
			return NULL;
		if (k->ext) {
			ref->kb[0] = k->h;
			memcpy(&ref->kb[1], s->key + 8, 8);
		}
	} while (!fg__slot_holds(s, live, ref->kb, &w));
	ref->s = s;
	ref->j = (uint64_t)(s - t->slots);
	ref->live = w & FG_W_LIVE_MASK;
	ref->h = k->h;
	return s;
}

/* Slot @s names the long key of @len bytes whose zero-padded bytes are
 * @full: its word matches @live, its hash is @h, its length @len, and its
 * record holds the key (*@r: the slot's record and length word). */
static int names_long(const struct fg_table *t, const struct fg_slot *s,
                      uint64_t live, uint64_t h, size_t len,
                      const uint64_t *full, uint64_t *w, uint64_t *r)
{
	const uint64_t *rec;
	uint64_t d = 0;
	unsigned i;

	*w = fg__load(&s->word);
	if ((*w & FG_W_MATCH_MASK) != live || fg__rd64(s->key) != h)
		return 0;
	*r = fg__rd64(s->key + 8); /* the record and the length */
	if (FG_CK_REC_OF(*r) >= t->nrecords || FG_CK_REC_LEN(*r) != len)
		return 0;
	rec = (const uint64_t *)(const void *)t->rk[FG_CK_REC_OF(*r)].b;
	for (i = 0; i < FG_TABLE_KEY_MAX / 8; i++)
		d |= fg__load(&rec[i]) ^ full[i];
	return d == 0;
}

struct fg_slot *fg__table_find_long(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    struct fg_ref *ref)
{
	const uint64_t live = FG_W_LIVE(rule, len);
	uint64_t full[FG_TABLE_KEY_MAX / 8] = {0}, b[2], w, r;
	unsigned i;

	if (len > FG_TABLE_KEY_MAX)
		return NULL;
	fg__table_buckets(t, h, &b[0], &b[1]);
	__builtin_prefetch(&t->slots[b[0] * FG_BUCKET_SLOTS], 1, 3);
	__builtin_prefetch(&t->slots[b[1] * FG_BUCKET_SLOTS], 1, 3);
	memcpy(full, key, len);
	for (i = 0; i < 2 * FG_BUCKET_SLOTS; i++) {
		struct fg_slot *s =
		    &t->slots[b[i / FG_BUCKET_SLOTS] * FG_BUCKET_SLOTS +
		              i % FG_BUCKET_SLOTS];

		if (!names_long(t, s, live, h, len, full, &w, &r))
			continue;
		ref->s = s;
		ref->j = (uint64_t)(s - t->slots);
		ref->live = w & FG_W_LIVE_MASK;
		ref->kb[0] = h;
		ref->kb[1] = r;
		ref->h = h;
		return s;
	}
	return NULL;
}

uint64_t fg__slot_hash(const struct fg_table *t, const struct fg_slot *s,
                       uint64_t w)
{
	size_t len = FG_W_KEYLEN(w);

	if (len == FG_W_KEYLEN_REC)
		return fg__rd64(s->key);
	if (len == 0 || len > FG_SLOT_KEY_INLINE)
		return 0;
	return fg__hash64(t->seed, FG_W_RULE(w), s->key, len);
}

size_t fg__table_key_bytes(const struct fg_table *t, uint64_t w,
                           const uint64_t kb[2], uint8_t out[FG_TABLE_KEY_MAX])
{
	size_t len = FG_W_KEYLEN(w);

	if (len == 0 || len > FG_W_KEYLEN_REC)
		return 0;
	if (len <= FG_SLOT_KEY_INLINE) {
		memcpy(out, kb, len);
		return len;
	}
	len = FG_CK_REC_LEN(kb[1]);
	if (len <= FG_SLOT_KEY_INLINE || len > FG_TABLE_KEY_MAX ||
	    FG_CK_REC_OF(kb[1]) >= t->nrecords)
		return 0;
	memcpy(out, t->rk[FG_CK_REC_OF(kb[1])].b, len);
	return len;
}

struct fg_slot *fg__table_lookup_from(struct fg_table *t, unsigned rule,
                                      const void *key, size_t len, uint64_t h,
                                      unsigned from, struct fg_ref *ref)
{
	struct fg_ck_key k;

	(void)h;    /* the core hashes the key itself */
	(void)from; /* one look at four slots: nothing to skip */
	if (key_of(t, &k, rule, key, len) != 0)
		return NULL;
	return get_ref(t, &k, key, len, ref);
}

struct fg_slot *fg__table_lookup(struct fg_table *t, unsigned rule,
                                 const void *key, size_t len, uint64_t h,
                                 struct fg_ref *ref)
{
	return fg__table_lookup_from(t, rule, key, len, h, 0, ref);
}

/* Slot @s holds a claim for @k, read as *@p (a long key's: a claim
 * naming its hash, whichever record it took). */
static int claim_for(const struct fg_slot *s, const struct fg_pair *p,
                     const struct fg_ck_key *k)
{
	uint64_t b[2];

	if (FG_W_STATE(p->word) != FG_SLOT_CLAIMED ||
	    FG_W_IDENT(p->word) != k->ident)
		return 0;
	memcpy(b, s->key, sizeof b);
	return ((b[0] ^ k->b[0]) | (k->ext ? 0 : b[1] ^ k->b[1])) == 0;
}

/*
 * Wait for the claims for @k in its four slots to end: published, given
 * back, or once stale marked DEAD here (as the core would: its token's
 * ms are older than stale_ms), so that the header counts the inserts
 * found abandoned.  A claim that appears after this look is the core's
 * to wait for.
 */
static void wait_claims(struct fg_table *t, const struct fg_ck_key *k)
{
	unsigned i;

	for (i = 0; i < 2 * FG_BUCKET_SLOTS; i++) {
		uint64_t b = i < FG_BUCKET_SLOTS ? k->x : k->y;
		struct fg_slot *s = &t->slots[b * FG_BUCKET_SLOTS + i % 2];
		struct fg_pair p;

		for (fg__pair_load(s, &p); claim_for(s, &p, k);
		     fg__pair_load(s, &p)) {
			uint64_t now = fg__cuckoo_now_ms();
			uint64_t dead = (p.word & ~FG_W_STATE_BITS(7)) |
			                FG_W_STATE_BITS(FG_SLOT_DEAD);

			if (((now - (p.tat >> 32)) & 0x7fffffffu) <=
			    t->ck.stale_ms) {
				(void)sched_yield(); /* let it finish */
				continue;
			}
			if (fg__dwcas(&s->tat, &p.tat, &p.word, now, dead)) {
				__atomic_fetch_add(&t->hdr->abandoned, 1,
				                   __ATOMIC_SEQ_CST);
				fg__table_touch(t, b);
			}
		}
	}
}

/* Give back the slot reserved for a bucket that was not made; @s. */
static struct fg_slot *unreserve(struct fg_table *t, unsigned rule,
                                 int reserved, struct fg_slot *s)
{
	if (reserved)
		fg__quota_give(t->rules, rule, 1);
	return s;
}

/* The core's insert of @k: with @near, a path of moves among that many
 * buckets at most when its two are full (-ENOSPC with *@crowded set
 * when there is none). */
static int insert(struct fg_table *t, const struct fg_ck_key *k, unsigned near,
                  unsigned *crowded)
{
	int rc;

	if (near == 0 || !fg__table_full_at(t, k->x, k->y))
		return fg__cuckoo_insert(&t->ck, k);
	rc = fg__cuckoo_insert_within(&t->ck, k, near);
	*crowded = rc == -ENOSPC;
	t->near_vain = *crowded ? t->near_vain + (t->near_vain < UINT_MAX) : 0;
	return rc;
}

struct fg_slot *fg__table_find_slow(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    struct fg_ref *ref, unsigned near)
{
	struct fg_ck_key k;
	struct fg_slot *s;
	int reserved = 0, rc;

	(void)h;
	ref->over_quota = 0;
	ref->crowded = 0;
	if (key_of(t, &k, rule, key, len) != 0)
		return NULL;
	for (;;) {
		/* 1. The key may be there (or have come meanwhile). */
		s = get_ref(t, &k, key, len, ref);
		if (s != NULL)
			return unreserve(t, rule, reserved, s);
		/* 2. A new bucket: its rule's quota first (quota.c). */
		if (!reserved &&
		    !(reserved = fg__quota_take(t->rules, rule, 1))) {
			ref->over_quota = 1;
			return NULL;
		}
		if (caa_unlikely(t->between != NULL))
			t->between(t, t->between_arg);
		wait_claims(t, &k);
		/* 3. The core claims, checks for rivals and publishes,
		 * moving keys along a path (a near one only, with @near). */
		rc = insert(t, &k, near, &ref->crowded);
		if (rc < 0) /* no path of moves made room, or no record */
			return unreserve(t, rule, reserved, NULL);
		if (rc == 0)
			continue; /* someone else's insert won: take theirs */
		/* 4. Ours: the reservation stays with the bucket (its
		 * remover gives it back, even if that is already done). */
		reserved = 0;
		__atomic_fetch_add(&t->hdr->inserts, 1, __ATOMIC_SEQ_CST);
		s = get_ref(t, &k, key, len, ref);
		if (s != NULL) {
			fg__table_touch(t, fg__ref_block(t, ref));
			return s;
		}
	}
}

void fg__table_ref_of(struct fg_table *t, uint64_t i, struct fg_ref *ref)
{
	struct fg_slot *s = &t->slots[i];
	uint64_t w = fg__load(&s->word);

	ref->s = s;
	ref->j = i;
	ref->live = (w & (FG_W_LIVE_MASK & ~FG_W_STATE_BITS(7))) |
	            FG_W_STATE_BITS(FG_SLOT_READY);
	memcpy(ref->kb, s->key, sizeof ref->kb);
	ref->over_quota = 0;
	ref->h = fg__slot_hash(t, s, w);
}

/* ---------------------------------------------------------------- tests */

int64_t fg__table_plant_claim(struct fg_table *t, unsigned rule,
                              const void *key, size_t len, uint64_t h)
{
	const uint64_t claimed =
	    FG_W_MAKE(rule, len, 0) | FG_W_STATE_BITS(FG_SLOT_CLAIMED);
	const uint64_t gen1 = UINT64_C(1) << FG_W_GEN_SHIFT;
	struct fg_ck_key k;
	struct fg_ref ref;
	uint64_t b[2], i, n;
	unsigned w;

	if (key_of(t, &k, rule, key, len) != 0 || k.ext ||
	    fg__table_lookup(t, rule, key, len, h, &ref) != NULL)
		return -1;
	b[0] = k.x;
	b[1] = k.y;
	for (w = 0; w < 2 * FG_BUCKET_SLOTS; w++) {
		uint64_t lo = 0, hi, tok;

		i = b[w / FG_BUCKET_SLOTS] * FG_BUCKET_SLOTS +
		    w % FG_BUCKET_SLOTS;
		hi = fg__load(&t->slots[i].word);
		if (FG_W_STATE(hi) != FG_SLOT_FREE)
			continue;
		/* a token as the core makes them: its bit, ms:31, serial */
		n = __atomic_fetch_add(t->ck.serial, 1, __ATOMIC_RELAXED);
		tok = FG_CK_TOKEN |
		      ((fg__cuckoo_now_ms() & 0x7fffffffu) << 32) |
		      (n & 0xffffffffu);
		if (!fg__dwcas(&t->slots[i].tat, &lo, &hi, tok,
		               claimed | ((hi + gen1) & FG_W_GEN_MASK)))
			continue;
		memcpy(t->slots[i].key, k.b, sizeof k.b);
		return (int64_t)i;
	}
	return -1;
}
