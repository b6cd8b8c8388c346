/* SPDX-License-Identifier: ISC */
/*
 * cold.c - a key's denials, in the cold parts of its four slots.
 *
 * A check that denies counts the denial outside the bucket's pair, which
 * only admissions move: in a cold part of 16 bytes, aux (the count, and
 * the harvest's clean bit) and tag (the hash of the key it counts for;
 * 0: none, and a key whose hash is 0 counts in its rule's record), which
 * move together by one cmpxchg16b.  A key lives in one of four slots,
 * the two of each of its buckets, and moves between them
 * (shm/cuckoo.c) without its cold part: so a key's denials are the sum of
 * the parts tagged with its hash among its four slots, wherever it lives,
 * and a move changes nothing of it.
 *
 * A key's denials go to the part of its live slot.  When it finds that
 * part counting another key's (the slot's previous key, which moved to
 * its other bucket and left its count behind), it first takes that count
 * home: to the part of the slot where that key lives now, which may hold
 * the count of the key before it, taken home first in turn (a path of
 * moves, at most FG_CK_PATH_MAX long).  A part that counts nothing is
 * claimed by the key that lives there, with the counts the key left in
 * its other parts.  A count whose key is in the middle of a move is left
 * where it is; the denial then goes to another part of its own key if
 * it has one, else to the rule's record, with the denials of evicted
 * buckets, so that the rule's figures stay exact.  A key's parts are
 * emptied (their counts taken to its rule's record) when its bucket is
 * evicted (evict.c).  A count is moved by taking it whole, then adding
 * it where it goes: if that part went to another key in between, the
 * count goes to another part of its key, and is lost only if every one
 * did (a race of nanoseconds, in operators' figures only).
 *
 * Readers read tag, aux, tag: a part retagged meanwhile is skipped (it
 * held no count then).  A denial counted by a check that read the key's
 * pair just before its eviction lands after the parts were emptied: it
 * stays with the key's next bucket, if it comes, and is lost otherwise.
 */
#include "shm/table.h"

/* The four slots of the key of hash @h: its live slot @j first. */
static void four(const struct fg_table *t, uint64_t h, uint64_t j,
                 uint64_t c[4])
{
	uint64_t x, y, o;

	fg__table_buckets(t, h, &x, &y);
	o = j / FG_BUCKET_SLOTS == x ? y : x;
	c[0] = j;
	c[1] = j ^ 1u;
	c[2] = o * FG_BUCKET_SLOTS;
	c[3] = o * FG_BUCKET_SLOTS + 1;
}

/* Add @n denials to part @c if it is tagged @tag (@any: or counts
 * nothing): 1 done, with *@was its aux before; 0 if it is another's. */
static int add_to(struct fg_cold *c, uint64_t tag, int any, uint64_t n,
                  uint64_t *was)
{
	uint64_t lo = fg__load(&c->aux), hi = fg__load(&c->tag), nlo;

	for (;;) {
		if (hi == tag)
			nlo = (lo & ~FG_AUX_CLEAN) + n;
		else if (any && FG_AUX_DENIALS(lo) == 0)
			nlo = n;
		else
			return 0;
		if (fg__dwcas(&c->aux, &lo, &hi, nlo, tag)) {
			/* a new count, or the first since the harvest */
			*was = hi == tag ? lo : FG_AUX_CLEAN;
			return 1;
		}
	}
}

/* Take what part @c counts for @tag: the count (0 if it counts none). */
static uint64_t take(struct fg_cold *c, uint64_t tag)
{
	uint64_t lo = fg__load(&c->aux), hi = fg__load(&c->tag);

	while (hi == tag && FG_AUX_DENIALS(lo) > 0 &&
	       !fg__dwcas(&c->aux, &lo, &hi, lo & FG_AUX_CLEAN, tag))
		;
	return hi == tag ? FG_AUX_DENIALS(lo) : 0;
}

/* The slot among the key of hash @tag's four, other than @i, where it
 * lives (READY): 1 with *@at, 0 if none (gone, or being moved). */
static int live_at(const struct fg_table *t, uint64_t tag, uint64_t i,
                   uint64_t *at)
{
	uint64_t o[4];
	unsigned k;

	four(t, tag, i, o);
	for (k = 1; k < 4; k++) {
		const struct fg_slot *s = &t->slots[o[k]];
		uint64_t w = fg__load(&s->word);

		if (FG_W_STATE(w) == FG_SLOT_READY &&
		    fg__slot_hash(t, s, w) == tag) {
			*at = o[k];
			return 1;
		}
	}
	return 0;
}

/* Put @n denials of the key tagged @tag in one of its parts, @i's
 * four; 0 if none would take them (they are lost: a part taken by
 * another key in each of the few ns since they were taken). */
static int put(struct fg_table *t, uint64_t tag, uint64_t i, uint64_t n)
{
	uint64_t o[4], was;
	unsigned k;

	four(t, tag, i, o);
	for (k = 0; k < 4; k++)
		if (add_to(&t->cold[o[k]], tag, 1, n, &was))
			return 1;
	return 0;
}

/* Part @i counts the denials of a key that no longer lives at slot @i:
 * take them home (see the top).  1 if part @i counts none now.  The
 * count is taken in one step, then added: two processes taking the same
 * count home never both add it. */
static int take_home(struct fg_table *t, uint64_t i, unsigned depth)
{
	struct fg_cold *c = &t->cold[i], *home;
	uint64_t tag = fg__load(&c->tag), at, n, was;

	if (FG_AUX_DENIALS(fg__load(&c->aux)) == 0)
		return 1;
	if (tag == 0 || depth > FG_CK_PATH_MAX || !live_at(t, tag, i, &at))
		return 0;
	home = &t->cold[at];
	if (fg__load(&home->tag) != tag &&
	    FG_AUX_DENIALS(fg__load(&home->aux)) != 0 &&
	    !take_home(t, at, depth + 1))
		return 0; /* the part there counts another's, kept there */
	n = take(c, tag);
	if (n != 0 && !add_to(home, tag, 1, n, &was))
		(void)put(t, tag, i, n); /* home was taken meanwhile */
	return FG_AUX_DENIALS(fg__load(&c->aux)) == 0;
}

/* Take what the key tagged @tag counted in its parts @c[1..3]. */
static uint64_t gather(struct fg_table *t, uint64_t tag, const uint64_t c[4])
{
	uint64_t n = 0;
	unsigned k;

	for (k = 1; k < 4; k++)
		n += take(&t->cold[c[k]], tag);
	return n;
}

/* Count *@n denials for @ref's key: 1, with *@was, if in one of its
 * parts; 0 if none could be had, with *@n what is left to count (the
 * denials, and what it took from its other parts meanwhile). */
static int count(struct fg_table *t, const struct fg_ref *ref, uint64_t *n,
                 uint64_t *was)
{
	struct fg_cold *live = &t->cold[ref->j];
	uint64_t c[4];
	unsigned k, tries;

	four(t, ref->h, ref->j, c);
	for (tries = 0; tries < 2; tries++) {
		if (add_to(live, ref->h, 0, *n, was))
			return 1;
		if (FG_AUX_DENIALS(fg__load(&live->aux)) == 0 ||
		    take_home(t, ref->j, 0)) {
			*n += gather(t, ref->h, c);
			if (add_to(live, ref->h, 1, *n, was))
				return 1;
		}
	}
	for (k = 1; k < 4; k++)
		if (add_to(&t->cold[c[k]], ref->h, 0, *n, was))
			return 1;
	return 0;
}

void fg__table_deny(struct fg_table *t, const struct fg_ref *ref)
{
	uint64_t was = 0, n = 1;

	if (ref->h != 0 && count(t, ref, &n, &was)) {
		if (was & FG_AUX_CLEAN)
			fg__table_touch(t, fg__ref_block(t, ref));
		return;
	}
	/* no part to be had: the rule's record */
	if (t->rules != NULL && FG_W_RULE(ref->live) < FG_MAX_RULES)
		__atomic_fetch_add(
		    &t->rules[FG_W_RULE(ref->live)].evicted_denied, n,
		    __ATOMIC_SEQ_CST);
}

/* The count of part @c for @tag (0 if it is not tagged so); with
 * @clean, its clean bit set by the same read. */
static uint64_t read_part(struct fg_cold *c, uint64_t tag, int clean)
{
	uint64_t aux;

	if (fg__load(&c->tag) != tag)
		return 0;
	aux = fg__load(&c->aux);
	if (clean && !(aux & FG_AUX_CLEAN))
		aux =
		    __atomic_fetch_or(&c->aux, FG_AUX_CLEAN, __ATOMIC_SEQ_CST);
	return fg__load(&c->tag) == tag ? FG_AUX_DENIALS(aux) : 0;
}

uint64_t fg__table_denials(struct fg_table *t, uint64_t h, uint64_t j,
                           int clean)
{
	uint64_t c[4], n = 0;
	unsigned i;

	four(t, h, j, c);
	for (i = 0; i < 4 && h != 0; i++)
		n += read_part(&t->cold[c[i]], h, clean);
	return n;
}

uint64_t fg__table_take_denials(struct fg_table *t, uint64_t h, uint64_t j)
{
	const uint64_t tag = h;
	uint64_t c[4], n = 0;
	unsigned i;

	four(t, h, j, c);
	for (i = 0; i < 4 && tag != 0; i++) {
		struct fg_cold *p = &t->cold[c[i]];
		uint64_t lo = fg__load(&p->aux), hi = fg__load(&p->tag);

		while (hi == tag && !fg__dwcas(&p->aux, &lo, &hi, 0, tag))
			;
		if (hi == tag)
			n += FG_AUX_DENIALS(lo);
	}
	return n;
}
