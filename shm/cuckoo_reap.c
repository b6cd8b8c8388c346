/* SPDX-License-Identifier: ISC */
/*
 * cuckoo_reap.c - the owner's reap of the layout C table: what killed
 * workers left, undone once it is stale_ms old.
 *
 * A claim that old is marked DEAD, and a DEAD slot freed after as long
 * again, so that a claimer stopped (not killed) past stale_ms is not still
 * writing into a slot someone else took.  A dead mover leaves its stripe
 * held, S frozen and D COPY or READY; the reap, once they are stale_ms
 * old, copies, retires or thaws (fg__ck_finish()), then frees the stripe.
 */
#include "shm/cuckoo_int.h"

static int stripe_fresh(struct fg_cuckoo *t, const struct fg_ck_key *k,
                        uint64_t now)
{
	uint64_t w = fg__load(stripe_of(t, k));

	return (SEQ(w) & 1) != 0 && ((now - w) & MS40) <= t->stale_ms;
}

/* A COPY slot whose mover is dead: the copy done if its source froze,
 * else freed. */
static void reap_copy(struct fg_cuckoo *t, struct fg_slot *D,
                      const struct fg_pair *p, uint64_t now)
{
	struct fg_ck_key k;
	uint64_t ob;
	unsigned i;

	if (token_age(p->tat, now) <= t->stale_ms)
		return;
	fg__ck_key_of(t, D, p->word, &k);
	if (stripe_fresh(t, &k, now))
		return;
	ob = other(&k, bucket_of(t, D));
	for (i = 0; i < FG_CK_WAYS; i++) {
		struct fg_slot *S = &t->s[ob * FG_CK_WAYS + i];
		struct fg_pair q;

		pair_snap(S, &q);
		if (FG_CK_STATE(q.word) == FG_CK_MOVING &&
		    has(t, S, q.word, &k) && dest_of(t, S, q.word, &k) == D) {
			fg__ck_finish(t, S, &q, &k);
			return;
		}
	}
	if (swap(D, p->tat, p->word, 0, FREED(p->word)))
		freed_one(t);
}

static void reap_slot(struct fg_cuckoo *t, struct fg_slot *s, uint64_t now)
{
	struct fg_ck_key k;
	struct fg_pair p;

	pair_snap(s, &p);
	switch (FG_CK_STATE(p.word)) {
	case FG_CK_CLAIMED:
		if (token_age(p.tat, now) > t->stale_ms)
			(void)swap(s, p.tat, p.word, now,
			           WITH(p.word, FG_CK_DEAD));
		break;
	case FG_CK_DEAD:
		if (now - p.tat > t->stale_ms && now >= p.tat &&
		    swap(s, p.tat, p.word, 0, FREED(p.word)))
			freed_one(t);
		break;
	case FG_CK_MOVING:
		fg__ck_key_of(t, s, p.word, &k);
		if (!stripe_fresh(t, &k, now))
			fg__ck_finish(t, s, &p, &k);
		break;
	case FG_CK_COPY:
		reap_copy(t, s, &p, now);
		break;
	default:
		break;
	}
}

void fg__cuckoo_reap(struct fg_cuckoo *t, uint64_t now)
{
	uint64_t i;

	for (i = 0; i < t->nb * FG_CK_WAYS; i++)
		reap_slot(t, &t->s[i], now);
	fg__ck_rec_reap(t, now); /* after the slots: DEAD ones freed */
	for (i = 0; i < FG_CK_STRIPES; i++) {
		uint64_t w = fg__load(&t->stripes[i]);

		if ((SEQ(w) & 1) != 0 && ((now - w) & MS40) > t->stale_ms)
			stripe_leave(&t->stripes[i], w);
	}
}
