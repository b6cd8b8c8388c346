/* SPDX-License-Identifier: ISC */
/*
 * cuckoo.c - the layout C table: find, check, remove, move (the insert is
 * in cuckoo_insert.c, the reap in cuckoo_reap.c).
 *
 * Memory: a line with the tokens' serial counter and the count of slots
 * freed (cuckoo_insert.c), FG_CK_STRIPES stripe words, then the buckets.  Every
 * change of a slot's state is one cmpxchg16b of its (tat, word) pair expecting
 * the exact pair it read, so a process killed between two steps leaves a state,
 * never half of one.
 *
 * Move of K from S (bucket X) to D (bucket Y), under K's stripe: claim D
 * as COPY, write K; freeze S, (t, READY|c) -> (t, MOVING|dest|c); copy,
 * D (token, COPY) -> (t, READY|c), which anyone who meets S frozen may do
 * (help()), expecting D's token so that it happens once; then the mover
 * alone retires S to FREE, after it saw D READY.  S frozen admits nobody,
 * so one slot holds K's live pair at any instant.  A helper copies only
 * if S still holds the pair it froze after it read D's token: the freeze
 * was then D's, since D leaves COPY only by the copy or the reap.  D
 * neither COPY nor READY with K means the copy can no longer happen (the
 * reap freed it): S is thawed back to READY.
 *
 * A miss: K moving X->Y is seen by a read of Y after one of X, Y->X by a
 * read of X after one of Y; reads X, Y, X between two equal readings of
 * K's stripe (a move takes and leaves it, seq +1 each) see K somewhere.
 * Whoever takes a stripe first ends the moves of its key that a dead
 * mover left frozen (end_moves()), so a leftover frozen copy is never
 * thawed beside a live one that moved on.
 */
#include <errno.h>
#include <string.h>
#include <urcu/arch.h>

#include "shm/cuckoo_int.h"
#include "shm/gcra.h"
#include "shm/hash.h"

#ifdef FG_CK_TEST_HOOKS
void (*fg__cuckoo_hook)(struct fg_cuckoo *t, enum fg_ck_at at,
                        struct fg_slot *s);
#endif

uint64_t fg__cuckoo_now_ms(void)
{
	return now_ms();
}

size_t fg__cuckoo_size(uint64_t nb, uint64_t nr)
{
	return FG_CK_HEAD + FG_CK_STRIPES * sizeof(uint64_t) +
	       nb * FG_CK_WAYS * sizeof(struct fg_slot) +
	       nr * (FG_CK_REC_KEY + FG_CK_REC_HEAD);
}

uint64_t fg__cuckoo_buckets_for(uint64_t keys)
{
	uint64_t nb = (keys * 4 + 6) / 7; /* keys / (2 * 0.875) */

	return nb < 2 ? 2 : nb;
}

int fg__cuckoo_attach(struct fg_cuckoo *t, void *mem, uint64_t nb, uint64_t nr,
                      const uint64_t seed[2], uint64_t stale_ms)
{
	char *m = mem;

	if (nb < 2 || nr > UINT32_MAX || ((uintptr_t)mem & 63) != 0)
		return -EINVAL;
	t->serial = (uint64_t *)(void *)m;
	t->frees = t->serial + 1;
	t->vain = t->serial + 2;
	t->hint = nb > FG_CK_BFS_NODES;
	t->stripes = (uint64_t *)(void *)(m + FG_CK_HEAD);
	t->s = (struct fg_slot *)(void *)(m + FG_CK_HEAD +
	                                  FG_CK_STRIPES * sizeof(uint64_t));
	t->rk = (struct fg_ck_rkey *)(void *)(t->s + nb * FG_CK_WAYS);
	t->rh = (struct fg_ck_rhead *)(void *)(t->rk + nr);
	t->nr = nr;
	t->nb = nb;
	t->seed[0] = seed[0];
	t->seed[1] = seed[1];
	t->stale_ms = stale_ms;
	return 0;
}

/* A long key's slot bytes are its hash and its record, unknown here. */
static void key_fill(const struct fg_cuckoo *t, struct fg_ck_key *k,
                     unsigned rule, const uint8_t pad[FG_CK_KEY_MAX],
                     size_t len)
{
	k->ident = FG_W_MAKE(rule, len, 0);
	k->len = (unsigned)len;
	k->h = fg__hash64(t->seed, rule, pad, len);
	k->ext = len > FG_CK_INLINE;
	if (k->ext) {
		memcpy(k->full, pad, sizeof k->full);
		k->b[0] = k->h;
		k->b[1] = 0;
	} else {
		memcpy(k->b, pad, sizeof k->b);
	}
	buckets_of(t, k);
}

int fg__cuckoo_key(const struct fg_cuckoo *t, struct fg_ck_key *k,
                   unsigned rule, const void *key, size_t len)
{
	uint8_t pad[FG_CK_KEY_MAX] = {0};

	if (len > FG_CK_KEY_MAX || rule > FG_MAX_RULES)
		return -EINVAL;
	if (len > 0)
		memcpy(pad, key, len);
	key_fill(t, k, rule, pad, len);
	return 0;
}

/* The key a slot's word and bytes name (a move's, the reap's); a long
 * one with the hash and record the slot names, which a move copies. */
void fg__ck_key_of(const struct fg_cuckoo *t, const struct fg_slot *s,
                   uint64_t w, struct fg_ck_key *k)
{
	uint8_t pad[FG_CK_KEY_MAX] = {0};
	size_t len = FG_W_KEYLEN(w);

	memcpy(pad, s->key, FG_CK_INLINE);
	if (len <= FG_CK_INLINE) {
		key_fill(t, k, FG_W_RULE(w), pad, len);
		return;
	}
	k->ident = FG_W_IDENT(w);
	k->ext = 1;
	memcpy(k->b, pad, sizeof k->b);
	k->len = FG_CK_REC_LEN(k->b[1]);
	k->h = k->b[0];
	fg__ck_rec_load(t, k->b[1], k->full);
	buckets_of(t, k);
}

/* Take @k's stripe: 0 with *@held, or -EBUSY.  A stripe held for longer
 * than stale_ms is a dead mover's (or one stopped that long, as the reap
 * takes it): taken over in one step, the reap's release and our take,
 * so that inserts need not wait for the owner's reap to get past a
 * killed mover; the caller then ends the moves it left (end_moves()). */
static int stripe_take(const struct fg_cuckoo *t, uint64_t *sw, uint64_t *held)
{
	uint64_t w = fg__load(sw), now = now_ms(), step = 1, nw;

	if ((SEQ(w) & 1) != 0) {
		if (((now - w) & MS40) <= t->stale_ms)
			return -EBUSY;
		step = 2;
	}
	nw = (((SEQ(w) + step) & 0xffffff) << 40) | (now & MS40);
	if (!__atomic_compare_exchange_n(sw, &w, nw, 0, __ATOMIC_SEQ_CST,
	                                 __ATOMIC_SEQ_CST))
		return -EBUSY;
	*held = nw;
	return 0;
}

/* Claim the FREE slot @s with word @w, its generation moved on, and
 * write @k's bytes: the token, the word claimed in *@cw; or 0 if @s was
 * not FREE. */
uint64_t fg__ck_claim(struct fg_cuckoo *t, struct fg_slot *s, uint64_t w,
                      const struct fg_ck_key *k, uint64_t *cw)
{
	uint64_t n = __atomic_fetch_add(t->serial, 1, __ATOMIC_RELAXED);
	uint64_t tok =
	    FG_CK_TOKEN | ((now_ms() & MS31) << 32) | (n & 0xffffffffu);
	uint64_t lo = 0, hi = fg__load(&s->word);

	if (FG_CK_STATE(hi) != FG_CK_FREE)
		return 0;
	*cw = GEN_OF(w, hi + (UINT64_C(1) << FG_CK_GEN_SHIFT));
	if (!fg__dwcas(&s->tat, &lo, &hi, tok, *cw))
		return 0;
	memcpy(s->key, k->b, sizeof k->b);
	cmm_smp_mb(); /* the key before any read (not a C11 fence: TSan) */
	return tok;
}

/*
 * @S (which @k's scan met) froze @P: copy it into its destination D if D
 * is still the COPY of that freeze; thaw S if D can no longer be.
 */
static void help(struct fg_cuckoo *t, struct fg_slot *S,
                 const struct fg_pair *P, const struct fg_ck_key *k)
{
	struct fg_slot *D = dest_of(t, S, P->word, k);
	uint64_t ready = WITH(P->word, FG_CK_READY);
	struct fg_pair q, cur;

	fg__pair_load(D, &q);
	if (FG_CK_STATE(q.word) == FG_CK_COPY && has(t, D, q.word, k)) {
		fg__pair_load(S, &cur);
		if (cur.tat == P->tat && cur.word == P->word)
			(void)swap(D, q.tat, q.word, P->tat,
			           GEN_OF(ready, q.word));
		return;
	}
	if (FG_CK_STATE(q.word) == FG_CK_READY && has(t, D, q.word, k))
		return; /* copied: the mover (or the reap) retires S */
	(void)swap(S, P->tat, P->word, P->tat, ready);
}

/* Take a frozen @S's move to its end: D copied and S retired, or S
 * thawed.  Called by the mover, or the reap once the mover is dead. */
void fg__ck_finish(struct fg_cuckoo *t, struct fg_slot *S,
                   const struct fg_pair *f, const struct fg_ck_key *k)
{
	struct fg_slot *D = dest_of(t, S, f->word, k);
	struct fg_pair q, cur;

	for (;;) {
		fg__pair_load(D, &q);
		fg__pair_load(S, &cur);
		if (FG_CK_STATE(q.word) != FG_CK_COPY ||
		    !has(t, D, q.word, k) || cur.tat != f->tat ||
		    cur.word != f->word)
			break;
		help(t, S, f, k);
	}
	if (FG_CK_STATE(q.word) == FG_CK_READY && has(t, D, q.word, k))
		(void)swap(S, f->tat, f->word, 0, FREED(f->word));
	else
		help(t, S, f, k);
}

/*
 * End the moves of @k that a dead mover left (its stripe just taken, so
 * no live one is under way): before a new move or a removal, so that a
 * stale frozen copy of the key is never thawed beside its live one.
 */
static void end_moves(struct fg_cuckoo *t, const struct fg_ck_key *k)
{
	unsigned i;

	for (i = 0; i < 2 * FG_CK_WAYS; i++) {
		uint64_t b = i < FG_CK_WAYS ? k->x : k->y;
		struct fg_slot *S = &t->s[b * FG_CK_WAYS + i % FG_CK_WAYS];
		struct fg_pair f;

		pair_snap(S, &f);
		if (FG_CK_STATE(f.word) == FG_CK_MOVING && has(t, S, f.word, k))
			fg__ck_finish(t, S, &f, k);
	}
}

static unsigned order(const struct fg_cuckoo *t, const struct fg_ck_key *k,
                      const struct fg_slot *s)
{
	return (bucket_of(t, s) == k->x ? 0u : 2u) +
	       (unsigned)((uint64_t)(s - t->s) % FG_CK_WAYS);
}

static void survey_bucket(struct fg_cuckoo *t, const struct fg_ck_key *k,
                          uint64_t b, const struct fg_slot *self,
                          struct survey *v)
{
	unsigned i;

	for (i = 0; i < FG_CK_WAYS; i++) {
		struct fg_slot *s = &t->s[b * FG_CK_WAYS + i];
		uint64_t w = fg__load(&s->word);

		if (s == self || !has(t, s, w, k))
			continue;
		switch (FG_CK_STATE(w)) {
		case FG_CK_READY:
			v->ready = s;
			break;
		case FG_CK_MOVING:
			v->moving = s;
			break;
		case FG_CK_COPY:
			v->copy = 1;
			break;
		case FG_CK_CLAIMED:
			if (self == NULL || order(t, k, s) < order(t, k, self))
				v->before = s;
			else
				v->after = s;
			break;
		default:
			break;
		}
	}
}

/* What @k's buckets hold for it besides @self: X, Y, X between two equal
 * readings of its stripe, so that a move cannot hide it. */
void fg__ck_survey(struct fg_cuckoo *t, const struct fg_ck_key *k,
                   const struct fg_slot *self, struct survey *v)
{
	const uint64_t *sw = stripe_of(t, k);
	uint64_t s1;

	do {
		memset(v, 0, sizeof *v);
		s1 = fg__load(sw);
		survey_bucket(t, k, k->x, self, v);
		survey_bucket(t, k, k->y, self, v);
		survey_bucket(t, k, k->x, self, v);
	} while (fg__load(sw) != s1);
}

/* The check's fast path: bucket X then Y, a READY slot of @k first. */
static struct fg_slot *scan(struct fg_cuckoo *t, const struct fg_ck_key *k)
{
	struct fg_slot *moving = NULL;
	unsigned i;

	for (i = 0; i < 2 * FG_CK_WAYS; i++) {
		uint64_t b = i < FG_CK_WAYS ? k->x : k->y;
		struct fg_slot *s = &t->s[b * FG_CK_WAYS + i % FG_CK_WAYS];
		uint64_t w = fg__load(&s->word);

		if (!has(t, s, w, k))
			continue;
		if (FG_CK_STATE(w) == FG_CK_READY)
			return s;
		if (FG_CK_STATE(w) == FG_CK_MOVING)
			moving = s;
	}
	return moving;
}

struct fg_slot *fg__cuckoo_get(struct fg_cuckoo *t, const struct fg_ck_key *k,
                               struct fg_pair *p)
{
	struct survey v;
	struct fg_slot *s;

	for (;;) {
		s = scan(t, k);
		if (s == NULL) {
			fg__ck_survey(t, k, NULL, &v);
			s = v.ready != NULL ? v.ready : v.moving;
			if (s == NULL)
				return NULL;
		}
		fg__pair_load(s, p);
		if (!has(t, s, p->word, k))
			continue;
		if (FG_CK_STATE(p->word) == FG_CK_READY)
			return s;
		if (FG_CK_STATE(p->word) == FG_CK_MOVING)
			help(t, s, p, k);
	}
}

/* The GCRA step on the pair *@p of @s: 1, 0, or -1 if @s is no longer
 * @k's live slot.  The count is masked: it must not carry into gen.  The
 * pair's gen makes the cmpxchg16b fail if @s was reused since @k was
 * seen in it, whatever key is there now. */
static int take(struct fg_cuckoo *t, struct fg_slot *s, struct fg_pair *p,
                const struct fg_ck_key *k, uint64_t now, uint64_t T,
                uint64_t tau, uint64_t cost)
{
	uint64_t next, w;

	for (;;) {
		if (FG_CK_STATE(p->word) != FG_CK_READY ||
		    !has(t, s, p->word, k))
			return -1;
		if (!fg__gcra_take(p->tat, now, T, tau, cost, &next))
			return 0; /* a torn tat is older: only more lenient */
		w = (p->word & ~(FG_CK_COUNT_MASK | FG_W_CLEAN)) |
		    ((p->word + cost) & FG_CK_COUNT_MASK);
		HOOK(t, FG_CK_AT_TAKE, s);
		if (fg__dwcas(&s->tat, &p->tat, &p->word, next, w))
			return 1;
	}
}

int fg__cuckoo_check(struct fg_cuckoo *t, const struct fg_ck_key *k,
                     uint64_t now, uint64_t T, uint64_t tau, uint64_t cost)
{
	struct fg_pair p;
	struct fg_slot *s;
	int r;

	for (;;) {
		s = fg__cuckoo_get(t, k, &p);
		if (s == NULL)
			return -ENOENT;
		r = take(t, s, &p, k, now, T, tau, cost);
		if (r >= 0)
			return r;
	}
}

/* Freeze @S if it holds @k READY: 1 with *@f the frozen pair. */
static int freeze(struct fg_cuckoo *t, struct fg_slot *S,
                  const struct fg_ck_key *k, unsigned dest, struct fg_pair *f)
{
	uint64_t nw;

	fg__pair_load(S, f);
	for (;;) {
		if (FG_CK_STATE(f->word) != FG_CK_READY ||
		    !has(t, S, f->word, k))
			return 0;
		nw = WITH(f->word, FG_CK_MOVING) |
		     ((uint64_t)dest << FG_CK_DEST_SHIFT);
		if (fg__dwcas(&S->tat, &f->tat, &f->word, f->tat, nw)) {
			f->word = nw;
			return 1;
		}
	}
}

/* The move of @k from @S to @D (slot @dest of its other bucket), the
 * stripe held. */
static int move_held(struct fg_cuckoo *t, const struct fg_ck_key *k,
                     struct fg_slot *S, struct fg_slot *D, unsigned dest)
{
	uint64_t copy, tok;
	struct fg_pair f;

	tok = fg__ck_claim(t, D, FG_CK_WORD(k->ident, FG_CK_COPY, 0, 0), k,
	                   &copy);
	if (tok == 0)
		return -EAGAIN;
	if (!freeze(t, S, k, dest, &f)) {
		(void)swap(D, tok, copy, 0, FREED(copy));
		return -EAGAIN;
	}
	fg__ck_finish(t, S, &f, k);
	return 0;
}

int fg__cuckoo_move(struct fg_cuckoo *t, uint64_t b, unsigned slot,
                    unsigned dest)
{
	struct fg_slot *S, *D;
	struct fg_ck_key k;
	uint64_t w, held, *sw;
	int rc;

	if (b >= t->nb || slot >= FG_CK_WAYS || dest >= FG_CK_WAYS)
		return -EINVAL;
	S = &t->s[b * FG_CK_WAYS + slot];
	w = fg__load(&S->word);
	if (FG_CK_STATE(w) != FG_CK_READY)
		return -EAGAIN;
	fg__ck_key_of(t, S, w, &k); /* freeze() checks the key is still S's */
	if (b != k.x && b != k.y)
		return -EAGAIN; /* torn: bytes of another key */
	D = &t->s[other(&k, b) * FG_CK_WAYS + dest];
	sw = stripe_of(t, &k);
	if (stripe_take(t, sw, &held) != 0)
		return -EBUSY;
	end_moves(t, &k);
	rc = move_held(t, &k, S, D, dest);
	stripe_leave(sw, held);
	return rc;
}

/* Free @k's live slot @s (pair *@p) and a long key's record, whose token
 * is read while the slot still names it: the drop then frees that record
 * or nothing, never one taken since.  1, or 0 with *@p reloaded. */
static int free_live(struct fg_cuckoo *t, struct fg_slot *s, struct fg_pair *p,
                     const struct fg_ck_key *k)
{
	uint64_t b[2] = {0, 0}, rtok = 0;

	if (k->ext) {
		memcpy(b, s->key, sizeof b);
		rtok = fg__ck_rec_tok(t, b[1]);
	}
	if (!fg__dwcas(&s->tat, &p->tat, &p->word, 0, FREED(p->word)))
		return 0;
	freed_one(t);
	if (k->ext)
		fg__ck_rec_drop(t, b[1], rtok);
	return 1;
}

int fg__cuckoo_remove(struct fg_cuckoo *t, const struct fg_ck_key *k,
                      uint64_t full_at)
{
	uint64_t *sw = stripe_of(t, k), held;
	struct fg_pair p;
	struct fg_slot *s;
	int rc = -ENOENT;

	if (stripe_take(t, sw, &held) != 0)
		return -EBUSY;
	end_moves(t, k);
	for (s = fg__cuckoo_get(t, k, &p); s != NULL;) {
		if (full_at != UINT64_MAX && p.tat > full_at) {
			rc = -EBUSY;
			break;
		}
		if (free_live(t, s, &p, k)) {
			rc = 0;
			break;
		}
		if (FG_CK_STATE(p.word) != FG_CK_READY || !has(t, s, p.word, k))
			s = fg__cuckoo_get(t, k, &p);
	}
	stripe_leave(sw, held);
	return rc;
}
