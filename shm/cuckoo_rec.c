/* SPDX-License-Identifier: ISC */
/*
 * cuckoo_rec.c - the records of long keys (17-64 bytes) in the layout C
 * table: a region of nr keys of a line each, and their heads beside.
 *
 * A long key's slot holds its hash and the index of its record, so its
 * check compares the hash in place and then the record's line; a short
 * key's slot never names one, and its check never comes here.
 *
 * Life of a record (head (tok, h); tok 0 is FREE):
 *  1. An inserter takes one, (0, *) -> (token, hash) in one cmpxchg16b
 *     (token: FG_CK_TOKEN | ms:30 | serial:32), writes the key, then
 *     claims a slot naming it: the claim's fence publishes the bytes.
 *  2. Slots name it only in its key's two buckets: the inserter's claim,
 *     then the READY slot, then the COPY and MOVING slots of the key's
 *     moves, which copy the slot's bytes, never the record.
 *  3. It is freed, tok -> 0 expecting the token read while it was named,
 *     by the inserter whose claim did not publish, by whoever removes the
 *     key after freeing its slot, or by the reap: a record older than
 *     twice stale_ms that no slot of its key's buckets names (a killed
 *     inserter's or remover's).
 * The reap must never free a record that a claim is about to publish.
 * It first marks the head DYING (bit 62 of tok), then looks for a slot
 * naming it (stripe, X, Y, X, stripe, as a miss is confirmed), and frees
 * it only if none, else takes the mark back.  The inserter, after its
 * claim and before publishing, checks that the head still holds its own
 * token: of the two writes then reads, one sees the other (Dekker), so
 * either the reap sees the claim or the inserter gives its claim back.
 * Left: an inserter stopped for twice stale_ms between taking a record
 * and writing its bytes may write them into a record taken since, as a
 * claimer stopped that long may write into a slot (cuckoo_reap.c).
 */
#include <errno.h>

#include "shm/cuckoo_int.h"

#define MS30      ((UINT64_C(1) << 30) - 1)
#define REC_DYING (UINT64_C(1) << 62)

int fg__ck_rec_has(const struct fg_cuckoo *t, uint64_t r,
                   const struct fg_ck_key *k)
{
	uint64_t i = FG_CK_REC_OF(r);

	return FG_CK_REC_LEN(r) == k->len && i < t->nr &&
	       memcmp(t->rk[i].b, k->full, sizeof t->rk[i].b) == 0;
}

void fg__ck_rec_load(const struct fg_cuckoo *t, uint64_t r,
                     uint64_t full[FG_CK_KEY_MAX / 8])
{
	r = FG_CK_REC_OF(r);
	if (r < t->nr)
		memcpy(full, t->rk[r].b, FG_CK_REC_KEY);
	else
		memset(full, 0, FG_CK_REC_KEY);
}

/*
 * Take a FREE record for the long key @k and write the key into it: 0
 * with @k's slot bytes naming it and *@tok its token, or -ENOSPC when
 * every record is held.  Nothing looks a record up by its place, so the
 * search starts anywhere (from the token's serial, scattering inserters)
 * and may go round the whole region: a scan of 16-byte heads in order, a
 * few lines while the region has room, all of it only when it is full.
 */
int fg__ck_rec_take(struct fg_cuckoo *t, struct fg_ck_key *k, uint64_t *tok)
{
	uint64_t n = __atomic_fetch_add(t->serial, 1, __ATOMIC_RELAXED);
	uint64_t tk =
	    FG_CK_TOKEN | ((now_ms() & MS30) << 32) | (n & 0xffffffffu);
	uint64_t i, r;

	r = (uint64_t)(((fg_u128)(n * UINT64_C(0x9e3779b97f4a7c15)) * t->nr) >>
	               64);
	for (i = 0; i < t->nr; i++, r = r + 1 == t->nr ? 0 : r + 1) {
		struct fg_ck_rhead *rh = &t->rh[r];
		uint64_t lo = fg__load(&rh->tok), hi = fg__load(&rh->h);

		if (lo != 0 || !fg__dwcas(&rh->tok, &lo, &hi, tk, k->h))
			continue;
		memcpy(t->rk[r].b, k->full, FG_CK_REC_KEY);
		k->b[1] = FG_CK_REC_B1(r, k->len);
		*tok = tk;
		return 0;
	}
	return -ENOSPC;
}

/* Record @r still holds @tok: not freed, not being judged by the reap. */
int fg__ck_rec_still(const struct fg_cuckoo *t, uint64_t r, uint64_t tok)
{
	r = FG_CK_REC_OF(r);
	return r < t->nr && fg__load(&t->rh[r].tok) == tok;
}

uint64_t fg__ck_rec_tok(const struct fg_cuckoo *t, uint64_t r)
{
	r = FG_CK_REC_OF(r);
	return r < t->nr ? fg__load(&t->rh[r].tok) : 0;
}

/* Free record @r if it still holds @tok; one the reap is judging, it
 * frees (no slot names it now). */
void fg__ck_rec_drop(struct fg_cuckoo *t, uint64_t r, uint64_t tok)
{
	r = FG_CK_REC_OF(r);
	if (r < t->nr && tok != 0 && (tok & REC_DYING) == 0)
		(void)__atomic_compare_exchange_n(&t->rh[r].tok, &tok, 0, 0,
		                                  __ATOMIC_SEQ_CST,
		                                  __ATOMIC_SEQ_CST);
}

/* Slot @s, not FREE, names record @r of the key of hash @h. */
static int names(const struct fg_slot *s, uint64_t h, uint64_t r)
{
	uint64_t w = fg__load(&s->word), b[2];

	if (FG_CK_STATE(w) == FG_CK_FREE || FG_W_KEYLEN(w) <= FG_CK_INLINE)
		return 0;
	memcpy(b, s->key, sizeof b);
	return b[0] == h && FG_CK_REC_OF(b[1]) == r;
}

/* A slot of the buckets of hash @h names record @r: X, Y, X between two
 * equal readings of the key's stripe, so that a move cannot hide it. */
static int named(struct fg_cuckoo *t, uint64_t r, uint64_t h)
{
	const uint64_t *sw = &t->stripes[h & (FG_CK_STRIPES - 1)];
	struct fg_ck_key k = {.h = h}; /* buckets_of() reads the hash alone */
	uint64_t s1, b[3];
	unsigned i;

	buckets_of(t, &k);
	b[0] = b[2] = k.x;
	b[1] = k.y;
	do {
		s1 = fg__load(sw);
		for (i = 0; i < 3 * FG_CK_WAYS; i++)
			if (names(&t->s[b[i / FG_CK_WAYS] * FG_CK_WAYS +
			                i % FG_CK_WAYS],
			          h, r))
				return 1;
	} while (fg__load(sw) != s1);
	return 0;
}

static void reap_rec(struct fg_cuckoo *t, uint64_t r, uint64_t now)
{
	struct fg_ck_rhead *rh = &t->rh[r];
	uint64_t tok = fg__load(&rh->tok), h = fg__load(&rh->h), mark;

	if (tok == 0)
		return;
	if ((tok & REC_DYING) == 0) { /* else a reap killed mid-way left it */
		if (((now - ((tok >> 32) & MS30)) & MS30) <= 2 * t->stale_ms)
			return;
		mark = tok | REC_DYING;
		if (!__atomic_compare_exchange_n(&rh->tok, &tok, mark, 0,
		                                 __ATOMIC_SEQ_CST,
		                                 __ATOMIC_SEQ_CST))
			return;
		tok = mark;
	}
	mark = named(t, r, h) ? tok & ~REC_DYING : 0;
	(void)__atomic_compare_exchange_n(&rh->tok, &tok, mark, 0,
	                                  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Free the records no slot names, as old as twice stale_ms at @now. */
void fg__ck_rec_reap(struct fg_cuckoo *t, uint64_t now)
{
	uint64_t r;

	for (r = 0; r < t->nr; r++)
		reap_rec(t, r, now);
}
