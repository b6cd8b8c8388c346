/* SPDX-License-Identifier: ISC */
/*
 * table.c - lock-free find-or-insert of buckets in shared memory.
 *
 * The table is an array of blocks of 16 slots in two groups of 8
 * (layout.h).  A key's hash names a home block and a preferred slot,
 * whose group is the key's first group in every block; its probe sequence
 * is, for each of the FG_PROBE_BLOCKS blocks from home on, that group and
 * then the other one.  Processes that share the table may die at any
 * instruction, so nothing here waits on another process without a way
 * out, and no state is left that needs more than the owner's periodic
 * maintenance to recover.
 *
 * States (a slot's tag; every change of tags is one cmpxchg16b of the
 * group's (tags, ver) that also moves ver):
 *
 *   EMPTY/FREE --claim--> CLAIMED --publish--> READY --evict--> EMPTY/FREE
 *                         CLAIMED --yield----> EMPTY/FREE
 *                         CLAIMED --stale----> DEAD --reap--> EMPTY/FREE
 *   FREE (in a closed group) --reopen (owner)--> EMPTY
 *
 * A key of more than 16 bytes claims one to three EXT slots after its own
 * in the same cmpxchg16b, and they are freed with it: an EXT slot belongs
 * to the nearest slot before it that is not EXT.
 *
 * Open and closed.  A group with an EMPTY slot is open; one without is
 * closed.  A lookup stops after the first open group of its sequence.
 * Freed slots become EMPTY if their group is open at that instant (the
 * same cmpxchg16b that frees them sees the group's tags), FREE otherwise.
 * An inserter takes the first group of its sequence with room (EMPTY or
 * FREE slots where its key fits); a long key that finds no room before the
 * first open group closes that group (its EMPTY slots become FREE) and goes
 * on.  Only the owner makes a closed group open again (reopen, below).
 *
 * Invariants.
 *  1. No key is behind an open group: if a READY or CLAIMED key K is in
 *     group q_K, every group before q_K in K's sequence is closed.
 *  2. A READY slot's key, rule and length never change while its group's
 *     ver stays the same; ver moves on every change of the group's tags
 *     (and never repeats: +2 each time, 64 bits).
 *  3. At most one READY slot holds a given (rule, key).
 *  4. A slot's pair never returns to a value it had before an eviction.
 *
 * Proof of 1 (a lookup never misses a present key).  An inserter passes a
 * group only when it saw it closed and without room.  A closed group
 * becomes open in two ways only.  (a) Freeing slots marks them EMPTY only
 * if the group already has an EMPTY slot, in the cmpxchg16b that checks
 * it: so it never opens a closed group.  (b) The owner's reopen.  An
 * inserter, after its claim and before publishing, reads again every
 * group it passed: if one is open, or is being reopened (ver's bit 0) and
 * has a FREE slot, it yields its claim and starts over.  The owner sets
 * bit 0 on a closed group q that has a FREE slot, then scans the groups
 * after q (in the sequences that pass q) up to the first open one for a
 * key that passed q, or any claim; it finds none, then opens q with a
 * cmpxchg16b that expects q exactly as it marked it (so no claim in q
 * since: while q has a FREE slot, no inserter passes it).  An inserter
 * that re-read q before the mark had claimed before it, so the owner's
 * scan, which follows the mark, sees that claim and gives up; one that
 * re-reads q between the mark and the opening sees the mark and a FREE
 * slot and starts over; one that re-reads q after the opening sees it
 * open and starts over.  The scan reaches the claim: every group between
 * q and it was passed by the inserter, so was closed, and stays closed
 * (owner operations are serialised by the owner lock, and a reopen of one
 * of them would have seen the same claim).  A lookup of a present K
 * therefore finds every group before q_K closed, and q_K holds K.
 *
 * Proof of 3 (concurrent inserters of one key never both publish).  An
 * inserter claims first and checks after.  Its claim records five bits of
 * the key's fingerprint in the tag, in the cmpxchg16b itself, so a claim
 * for the same key always matches (a claim for another key matches one
 * time in 32, which costs a wait, never correctness).  After claiming it
 * scans its sequence again, up to the first open group: it yields if it
 * finds the key READY, or a matching claim earlier in the sequence than
 * its own, and waits for a matching claim later than its own.  Of two
 * inserters A and B of one key, say A claims first.  B's second scan
 * follows B's claim, which follows A's: it sees A's claim, or what
 * followed it (A's bucket READY, or A gone, which frees the slot).  Both
 * scans cover both slots: each claimed slot is before the first open
 * group (invariant 1, by the same argument), and a group passed is closed.
 * If A is earlier in the sequence, B yields or finds A READY; if B is
 * earlier, B waits, and A's second scan sees B's claim and yields.  Waits
 * go only to later claims, and a later claimer never waits for an earlier
 * one, so waits end.
 *
 * Proof of 4, and why a stale copy can never commit.  A check reads the
 * group's ver, finds its key, copies the pair, and reads ver again: equal,
 * the pair is its bucket's (2).  Its cmpxchg16b then succeeds only if the
 * pair is unchanged.  After an eviction the pair cannot come back: the
 * count in the word never decreases in a slot (a new bucket starts where
 * the last stopped: base), and a pair with the same count is made only by
 * steps that leave tat at 0 (a claim), at FG_TAT_EVICTED or FG_TAT_EXT, or
 * later than the eviction (debits and refills use a fresh clock, and a
 * bucket is evicted only when its tat is strictly before the evictor's
 * clock and not 0; a window rule's only when its windows have passed, and
 * later states name later windows: shm/window.h).  So a stale copy's cmpxchg16b
 * fails, and the check, reading ver again, looks its key up anew.
 *
 * Abandoned claims.  A claimer writes a token in the slot's aux right after
 * claiming: bit 63 and the time of the claim.  A claim older than
 * FG_CLAIM_STALE_NS is abandoned (marked DEAD) by a waiter or the owner's
 * reap; one without a token (its claimer died before writing it) is given
 * one by whoever first sees it, and is abandoned when that ages.  The
 * claimer publishes only if its tag and token are still in the slot, in
 * the cmpxchg16b that expects the group as it read it: an abandoned claim
 * never becomes READY, even if its slot was reused meanwhile.  DEAD slots
 * are freed by the reap after a grace period long enough that a stopped
 * claimer is not still writing into them.
 *
 * Eviction.  A bucket that is full again decides exactly as an absent one
 * would.  Evicting one takes two steps: a cmpxchg16b moves its pair to
 * (FG_TAT_EVICTED, word), which any check that meets it treats as absent
 * and then finishes; the second frees the slot (and its EXT slots), and
 * moves the bucket's counts to its rule's record.  Owners evict buckets of
 * any rule whose consumption has been harvested; workers that find no room
 * evict buckets of host-scope rules only (client.c).
 *
 * Quotas.  An insert reserves its slots in its rule's quota before it
 * claims, and gives them back unless it publishes; the burier of a bucket
 * gives its slots back (quota.c).  A check of a present key never looks.
 *
 * Cost.  A check of a key in its home group reads one metadata line and
 * one slot line, inline in table.h; only the rest comes here.  A lookup
 * past the inline groups goes a block at a time: both groups' tags in
 * one compare (block_match(), group.h).
 */
#include "shm/table.h"

#include <sched.h>
#include <urcu/arch.h>

#include "shm/clock.h"
#include "shm/group.h"
#include "shm/hash.h"
#include "shm/quota.h"
#include "shm/window.h"

/* Where a probe sequence goes. */
struct probe {
	uint64_t home;  /* block */
	unsigned first; /* group first visited in each block */
	unsigned pref;  /* preferred slot in that group */
	unsigned steps; /* groups in the sequence */
};

/* The first slot of the group where @span slots from it are free, trying
 * @pref's neighbourhood first; -1 if there is none. */
static int room(uint64_t tags, unsigned span, unsigned pref)
{
	unsigned i, k, start;

	if (span == 1) {
		if (slot_free(tags, pref))
			return (int)pref;
		if (slot_free(tags, pref ^ 1u))
			return (int)(pref ^ 1u);
		for (i = 0; i < FG_GROUP_SLOTS; i++)
			if (slot_free(tags, i))
				return (int)i;
		return -1;
	}
	/* a long key starts on an even slot: its first 32 bytes in a line */
	for (k = 0; k <= FG_GROUP_SLOTS / 2; k++) {
		start = k == 0 ? pref & ~1u : 2 * (k - 1);
		if (start + span > FG_GROUP_SLOTS)
			continue;
		for (i = 0; i < span && slot_free(tags, start + i); i++)
			;
		if (i == span)
			return (int)start;
	}
	return -1;
}

static void probe_init(const struct fg_table *t, uint64_t h, struct probe *p)
{
	unsigned pref = fg__table_pref(h);
	uint64_t blocks =
	    t->nblocks < FG_PROBE_BLOCKS ? t->nblocks : FG_PROBE_BLOCKS;

	p->home = fg__table_home(t, h);
	p->first = pref / FG_GROUP_SLOTS;
	p->pref = pref % FG_GROUP_SLOTS;
	p->steps = (unsigned)(2 * blocks);
}

static void pos_at(const struct fg_table *t, const struct probe *p, unsigned k,
                   struct pos *at)
{
	uint64_t blk = p->home + k / 2;

	if (blk >= t->nblocks)
		blk -= t->nblocks;
	at->b = &t->blocks[blk];
	at->half = p->first ^ (k & 1u);
	at->g = &at->b->g[at->half];
}

int fg__table_key_equal(const struct fg_block *b, unsigned j, const void *key,
                        size_t len)
{
	const uint8_t *k = key;
	size_t off;

	if (!fg__key16_equal(b->s[j].key, k, FG_SLOT_KEY_INLINE))
		return 0;
	for (off = FG_SLOT_KEY_INLINE; off < len; off += FG_SLOT_KEY_INLINE) {
		size_t n = len - off < 16 ? len - off : 16;

		j++;
		if (j >= FG_BLOCK_SLOTS ||
		    !fg__key16_equal(b->s[j].key, k + off, n))
			return 0;
	}
	return 1;
}

/* The READY slot of (@rule, @key) in the group at @at read as @s: its
 * index in the group, or -1. */
static int match_ready(const struct pos *at, const struct gs *s, unsigned rule,
                       const void *key, size_t len, uint64_t h)
{
	uint64_t m =
	    fg__tag_match(s->tags, FG_TAG(FG_SLOT_READY, fg__table_fp5(h)));
	uint64_t ident = FG_W_MAKE(rule, len, 0);

	while (m) {
		unsigned i = (unsigned)__builtin_ctzll(m) >> 3;
		unsigned j = at->half * FG_GROUP_SLOTS + i;

		m &= m - 1;
		if (__atomic_load_n(&at->g->fp[i], __ATOMIC_RELAXED) ==
		        fg__table_fp16(h) &&
		    FG_W_IDENT(fg__load(&at->b->s[j].word)) == ident &&
		    fg__key_equal(at->b, j, key, len))
			return (int)i;
	}
	return -1;
}

static void set_ref(const struct pos *at, unsigned i, uint64_t ver,
                    struct fg_ref *ref)
{
	ref->b = at->b;
	ref->g = at->g;
	ref->j = at->half * FG_GROUP_SLOTS + i;
	ref->s = &at->b->s[ref->j];
	ref->ver = ver;
}

/*
 * Wait for the claim at slot @i of @at (tag @tag) to end: spin briefly (a
 * claim lasts nanoseconds), then yield the CPU so that a preempted claimer
 * can finish, and once the claim is FG_CLAIM_STALE_NS old mark it DEAD.
 */
static void wait_claim(struct fg_table *t, const struct pos *at, unsigned i,
                       unsigned tag)
{
	unsigned spins = 0;
	struct gs s;

	for (;;) {
		gload(at->g, &s);
		if (tag_at(s.tags, i) != tag)
			return;
		if (++spins < 256) {
			caa_cpu_relax();
			continue;
		}
		spins = 0;
		if (abandon(t, at, &s, i, fg__load(aux_of(at, i)), fg__now_ns(),
		            FG_CLAIM_STALE_NS))
			return;
		(void)sched_yield();
	}
}

/* Our claim of @span slots at slot @i of @at. */
struct claim {
	struct pos at;
	unsigned i, span, k; /* slot in group, slots, rank in the sequence */
	unsigned tag;        /* CLAIMED | fp5 */
	uint64_t token;
};

static int claim_ours(const struct claim *c, const struct gs *s)
{
	return tag_at(s->tags, c->i) == c->tag &&
	       fg__load(aux_of(&c->at, c->i)) == c->token;
}

/* Give the claim back; if it was taken for abandoned, leave it. */
static void yield_claim(struct fg_table *t, const struct claim *c)
{
	struct gs s;

	gload(c->at.g, &s);
	while (claim_ours(c, &s)) {
		__atomic_store_n(aux_of(&c->at, c->i), 0, __ATOMIC_SEQ_CST);
		if (gcas(c->at.g, &s, freed(s.tags, c->i, c->span),
		         s.ver + 2)) {
			fg__table_touch(t, block_index(t, c->at.b));
			return;
		}
		/* a neighbour changed: ours still, unless the token went */
		__atomic_store_n(aux_of(&c->at, c->i), c->token,
		                 __ATOMIC_SEQ_CST);
	}
}

/* Write the bucket of a new claim: counts, fingerprint, key, EXT slots. */
static void claim_fill(struct claim *c, unsigned rule, const void *key,
                       size_t len, uint64_t h)
{
	struct fg_block *b = c->at.b;
	unsigned j = c->at.half * FG_GROUP_SLOTS + c->i, k;
	struct fg_slot *s = &b->s[j];
	uint64_t count = fg__load(&s->word) & FG_W_COUNT_MASK;
	const uint8_t *kb = key;

	__atomic_store_n(&b->cold[j].aux, c->token, __ATOMIC_SEQ_CST);
	__atomic_store_n(&b->cold[j].base, count, __ATOMIC_RELAXED);
	__atomic_store_n(&c->at.g->fp[c->i], fg__table_fp16(h),
	                 __ATOMIC_RELAXED);
	__atomic_store_n(&s->tat, 0, __ATOMIC_RELAXED); /* a full bucket */
	__atomic_store_n(&s->word, FG_W_MAKE(rule, len, count),
	                 __ATOMIC_RELAXED);
	memset(s->key, 0, sizeof s->key);
	memcpy(s->key, kb, len < 16 ? len : 16);
	for (k = 1; k < c->span; k++) {
		struct fg_slot *x = &b->s[j + k];
		size_t off = 16 * k, n = len - off < 16 ? len - off : 16;
		uint64_t xc = fg__load(&x->word) & FG_W_COUNT_MASK;

		__atomic_store_n(&b->cold[j + k].aux, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&x->tat, FG_TAT_EXT, __ATOMIC_RELAXED);
		__atomic_store_n(&x->word, FG_W_MAKE(0, 0, xc),
		                 __ATOMIC_RELAXED);
		memset(x->key, 0, sizeof x->key);
		memcpy(x->key, kb + off, n);
	}
}

/* Take @span slots at the group of rank @k (read as @s) for a key: 1 with
 * @c set, 0 if the group changed under us. */
static int claim_at(struct fg_table *t, const struct probe *p, unsigned k,
                    struct gs *s, unsigned span, uint64_t h, struct claim *c)
{
	int i = room(s->tags, span, p->pref);
	uint64_t tags;
	unsigned n;

	if (i < 0)
		return 0;
	pos_at(t, p, k, &c->at);
	c->i = (unsigned)i;
	c->span = span;
	c->k = k;
	c->tag = FG_TAG(FG_SLOT_CLAIMED, fg__table_fp5(h));
	tags = with_tag(s->tags, c->i, c->tag);
	for (n = 1; n < span; n++)
		tags = with_tag(tags, c->i + n, TAG_EXT);
	if (!gcas(c->at.g, s, tags, s->ver + 2))
		return 0;
	/* (no mark for the harvest: a claim is not a bucket; its publish,
	 * yield or abandonment marks the block) */
	c->token = TOKEN_BIT | fg__now_ns();
	return 1;
}

/* Close the open group at @at (its EMPTY slots become FREE), so that a
 * long key that found no room before it may go on; 1 if done. */
static int close_group(struct fg_table *t, const struct pos *at, struct gs *s)
{
	uint64_t tags = s->tags;
	unsigned i;

	for (i = 0; i < FG_GROUP_SLOTS; i++)
		if (tag_at(tags, i) == FG_TAG(FG_SLOT_EMPTY, 0))
			tags = with_tag(tags, i, TAG_FREE);
	if (!gcas(at->g, s, tags, s->ver + 2))
		return 0;
	fg__table_touch(t, block_index(t, at->b));
	return 1;
}

/* A claim that may be for our key at the group of rank @k, other than
 * @mine: its slot, or -1. */
static int matching_claim(const struct gs *s, unsigned tag, unsigned k,
                          const struct claim *mine)
{
	uint64_t m = fg__tag_match(s->tags, (uint8_t)tag);

	while (m) {
		unsigned i = (unsigned)__builtin_ctzll(m) >> 3;

		m &= m - 1;
		if (mine == NULL || k != mine->k || i != mine->i)
			return (int)i;
	}
	return -1;
}

enum verdict { GO_ON, FOUND, RESTART };

/*
 * The check after a claim (proof of 3 above): the sequence again, up to
 * the first open group at or after ours.  FOUND with @ref if the key is
 * READY elsewhere, RESTART if we must yield, GO_ON if we may publish.
 */
static enum verdict recheck(struct fg_table *t, const struct probe *p,
                            const struct claim *c, unsigned rule,
                            const void *key, size_t len, uint64_t h,
                            struct fg_ref *ref)
{
	struct pos at;
	struct gs s;
	unsigned k;
	int i;

	for (k = 0; k < p->steps; k++) {
		pos_at(t, p, k, &at);
		gload(at.g, &s);
		if (k < c->k &&
		    (is_open(s.tags) ||
		     ((s.ver & FG_VER_REOPENING) && has_free(s.tags))))
			return RESTART; /* a group we passed is (being) opened
			                 */
		i = match_ready(&at, &s, rule, key, len, h);
		if (i >= 0) {
			set_ref(&at, (unsigned)i, s.ver, ref);
			return FOUND;
		}
		i = matching_claim(&s, c->tag, k, c);
		if (i >= 0) {
			if (k * FG_GROUP_SLOTS + (unsigned)i <
			    c->k * FG_GROUP_SLOTS + c->i)
				return RESTART; /* the earlier claim wins */
			wait_claim(t, &at, (unsigned)i, c->tag);
			k--; /* look at this group again */
			continue;
		}
		if (k >= c->k && is_open(s.tags))
			break;
	}
	return GO_ON;
}

/* Make our claim a bucket: 1 with @ref set; 0 if it was abandoned. */
static int publish(struct fg_table *t, const struct claim *c,
                   struct fg_ref *ref)
{
	uint64_t *aux = aux_of(&c->at, c->i);
	unsigned ready = FG_TAG(FG_SLOT_READY, c->tag >> 3);
	struct gs s;

	gload(c->at.g, &s);
	do {
		if (!claim_ours(c, &s))
			return 0;
	} while (!gcas(c->at.g, &s, with_tag(s.tags, c->i, ready), s.ver + 2));
	/* the token goes; denials counted meanwhile stay */
	__atomic_fetch_sub(aux, c->token, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&t->hdr->inserts, 1, __ATOMIC_SEQ_CST);
	fg__table_touch(t, block_index(t, c->at.b));
	set_ref(&c->at, c->i, s.ver + 2, ref);
	return 1;
}

/*
 * Step 1 of an insert: look for the key along the sequence (waiting for
 * claims that may be for it), and choose where a claim could go.  FOUND
 * with @ref, or GO_ON with *@target (the rank of a group with room, read
 * as @ts), or RESTART when there is no room in the window.
 */
static enum verdict scan(struct fg_table *t, const struct probe *p,
                         unsigned rule, const void *key, size_t len, uint64_t h,
                         struct fg_ref *ref, unsigned *target, struct gs *ts)
{
	const unsigned span = span_of(len);
	const unsigned claimed = FG_TAG(FG_SLOT_CLAIMED, fg__table_fp5(h));
	unsigned k, found = p->steps;
	struct pos at;
	struct gs s;
	int i;

	for (k = 0; k < p->steps; k++) {
		pos_at(t, p, k, &at);
		gload(at.g, &s);
		i = match_ready(&at, &s, rule, key, len, h);
		if (i >= 0) {
			set_ref(&at, (unsigned)i, s.ver, ref);
			return FOUND;
		}
		i = matching_claim(&s, claimed, k, NULL);
		if (i >= 0) {
			wait_claim(t, &at, (unsigned)i, claimed);
			k--;
			continue;
		}
		if (found == p->steps && room(s.tags, span, p->pref) >= 0) {
			found = k;
			*ts = s;
		}
		if (!is_open(s.tags))
			continue;
		if (found != p->steps)
			break; /* the key is not behind an open group */
		if (!close_group(t, &at, &s))
			k--; /* changed: look again */
	}
	*target = found;
	return found == p->steps ? RESTART : GO_ON;
}

/* Give back the slots reserved for a bucket that was not made; @s. */
static struct fg_slot *unreserve(struct fg_table *t, unsigned rule, size_t len,
                                 int reserved, struct fg_slot *s)
{
	if (reserved)
		fg__quota_give(t->rules, rule, span_of(len));
	return s;
}

struct fg_slot *fg__table_find_slow(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    struct fg_ref *ref)
{
	struct probe p;
	struct claim c;
	unsigned target;
	struct gs s;
	int reserved = 0;

	ref->over_quota = 0;
	probe_init(t, h, &p);
	for (;;) {
		/* 1. Look for the key; choose a group with room. */
		switch (scan(t, &p, rule, key, len, h, ref, &target, &s)) {
		case FOUND:
			return unreserve(t, rule, len, reserved, ref->s);
		case RESTART: /* no room in the window */
			return unreserve(t, rule, len, reserved, NULL);
		default:
			break;
		}
		/* 2. A new bucket: its rule's quota first (quota.c). */
		if (!reserved && !(reserved = fg__quota_take(t->rules, rule,
		                                             span_of(len)))) {
			ref->over_quota = 1;
			return NULL;
		}
		if (caa_unlikely(t->between != NULL))
			t->between(t, t->between_arg);
		/* 3. Claim there, recording the key's fingerprint. */
		if (!claim_at(t, &p, target, &s, span_of(len), h, &c))
			continue;
		claim_fill(&c, rule, key, len, h);
		/* 4. Check that nobody else holds or is inserting the key. */
		switch (recheck(t, &p, &c, rule, key, len, h, ref)) {
		case FOUND:
			yield_claim(t, &c);
			return unreserve(t, rule, len, reserved, ref->s);
		case RESTART:
			yield_claim(t, &c);
			continue;
		default:
			break;
		}
		/* 5. Publish; fails only if our claim was taken for
		 * abandoned.  The reservation stays with the bucket. */
		if (publish(t, &c, ref))
			return ref->s;
	}
}

/* The slots of the groups of ranks @k and @k + 1 (one block, @first the
 * group of even ranks) that are not before rank @from. */
static uint32_t ranks_from(unsigned k, unsigned first, unsigned from)
{
	uint32_t m = 0xffffu;

	if (k < from)
		m &= ~(0xffu << (FG_GROUP_SLOTS * first));
	if (k + 1 < from)
		m &= ~(0xffu << (FG_GROUP_SLOTS * (first ^ 1u)));
	return m;
}

/*
 * A block at a time: both groups' versions, then both groups' tags
 * compared at once.  A block with an open group ends the sequence; looking
 * at its other group as well (past the end, when the first is open) can
 * find only the key's one bucket (invariant 3), never another.
 */
struct fg_slot *fg__table_lookup_from(struct fg_table *t, unsigned rule,
                                      const void *key, size_t len, uint64_t h,
                                      unsigned from, struct fg_ref *ref)
{
	const uint8_t tag = FG_TAG(FG_SLOT_READY, fg__table_fp5(h));
	const uint64_t ident = FG_W_MAKE(rule, len, 0);
	uint64_t ver[2];
	uint32_t m, open;
	struct probe p;
	struct pos at;
	unsigned k, j;

	probe_init(t, h, &p);
	for (k = 0; k < p.steps; k += 2) {
		pos_at(t, &p, k, &at);
		ver[0] = fg__load(&at.b->g[0].ver);
		ver[1] = fg__load(&at.b->g[1].ver);
		m = block_match(at.b, tag, &open) &
		    ranks_from(k, p.first, from);
		for (; m; m &= m - 1) {
			j = (unsigned)__builtin_ctz(m);
			at.half = j / FG_GROUP_SLOTS;
			at.g = &at.b->g[at.half];
			if (__atomic_load_n(&at.g->fp[j % FG_GROUP_SLOTS],
			                    __ATOMIC_RELAXED) ==
			        fg__table_fp16(h) &&
			    FG_W_IDENT(fg__load(&at.b->s[j].word)) == ident &&
			    fg__key_equal(at.b, j, key, len)) {
				set_ref(&at, j % FG_GROUP_SLOTS, ver[at.half],
				        ref);
				return ref->s;
			}
		}
		if (open)
			return NULL;
	}
	return NULL;
}

struct fg_slot *fg__table_lookup(struct fg_table *t, unsigned rule,
                                 const void *key, size_t len, uint64_t h,
                                 struct fg_ref *ref)
{
	return fg__table_lookup_from(t, rule, key, len, h, 0, ref);
}

void fg__table_ref_of(struct fg_table *t, uint64_t i, struct fg_ref *ref)
{
	struct pos at;

	at.b = &t->blocks[i / FG_BLOCK_SLOTS];
	at.half = (unsigned)(i % FG_BLOCK_SLOTS) / FG_GROUP_SLOTS;
	at.g = &at.b->g[at.half];
	set_ref(&at, (unsigned)(i % FG_GROUP_SLOTS), fg__load(&at.g->ver), ref);
}

/* ------------------------------------------------------------ eviction */

int fg__table_evict(struct fg_table *t, const struct fg_ref *ref,
                    const struct fg_pair *p, uint64_t now)
{
	struct fg_pair cur = *p;

	/* Strictly before now, and moved at least once (invariant 4); a
	 * window rule's: its windows passed (shm/window.h). */
	if (!fg__bucket_refilled(t->rules, p->tat, p->word, now))
		return 0;
	if (!fg__dwcas(&ref->s->tat, &cur.tat, &cur.word, FG_TAT_EVICTED,
	               p->word))
		return 0; /* in use since it was read: keep it */
	fg__table_bury(t, ref);
	return 1;
}

void fg__table_bury(struct fg_table *t, const struct fg_ref *ref)
{
	unsigned i = ref->j % FG_GROUP_SLOTS;
	const struct fg_cold *cold = &ref->b->cold[ref->j];
	uint64_t word, base, aux;
	struct gs s;

	gload(ref->g, &s);
	for (;;) {
		if (FG_TAG_STATE(tag_at(s.tags, i)) != FG_SLOT_READY ||
		    fg__load(&ref->s->tat) != FG_TAT_EVICTED)
			return; /* buried by someone else */
		/* The mark stops every check and debit: the counts are final;
		 * read them before the slot can be reused. */
		word = fg__load(&ref->s->word);
		base = fg__load(&cold->base);
		aux = fg__load(&cold->aux);
		if (gcas(ref->g, &s, freed(s.tags, i, owned_span(s.tags, i)),
		         s.ver + 2))
			break;
	}
	__atomic_fetch_add(&t->hdr->evicted, 1, __ATOMIC_SEQ_CST);
	fg__table_touch(t, block_index(t, ref->b));
	fg__quota_give(t->rules, FG_W_RULE(word), span_of(FG_W_KEYLEN(word)));
	if (t->rules != NULL && FG_W_RULE(word) < FG_MAX_RULES) {
		struct fg_rule_rec *r = &t->rules[FG_W_RULE(word)];

		__atomic_fetch_add(&r->evicted_consumed,
		                   (word - base) & FG_W_COUNT_MASK,
		                   __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&r->evicted_denied, FG_AUX_DENIALS(aux),
		                   __ATOMIC_SEQ_CST);
	}
}

/* The READY buckets of the group at @at: evict the first full one @evictable
 * accepts (or finish a stopped eviction); 1 if a slot was freed. */
static int evict_one(struct fg_table *t, const struct pos *at, uint64_t now,
                     int (*evictable)(void *arg, unsigned rule), void *arg)
{
	uint64_t m;
	struct gs s;

	gload(at->g, &s);
	for (m = FG__HIGH; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m) >> 3;
		struct fg_ref ref;
		struct fg_pair p;

		if (FG_TAG_STATE(tag_at(s.tags, i)) != FG_SLOT_READY)
			continue;
		set_ref(at, i, s.ver, &ref);
		fg__pair_load(ref.s, &p);
		if (!fg__ref_valid(&ref)) {
			gload(at->g, &s); /* changed: go on with it as it is */
			continue;
		}
		if (p.tat == FG_TAT_EVICTED) { /* an evictor stopped */
			fg__table_bury(t, &ref);
			return 1;
		}
		if (!fg__bucket_refilled(t->rules, p.tat, p.word, now) ||
		    !evictable(arg, FG_W_RULE(p.word)))
			continue;
		if (fg__table_evict(t, &ref, &p, now))
			return 1;
	}
	return 0;
}

int fg__table_make_room(struct fg_table *t, uint64_t h, uint64_t now,
                        int (*evictable)(void *arg, unsigned rule), void *arg)
{
	struct probe p;
	struct pos at;
	unsigned k;

	probe_init(t, h, &p);
	for (k = 0; k < p.steps; k++) {
		pos_at(t, &p, k, &at);
		if (evict_one(t, &at, now, evictable, arg))
			return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- tests */

int64_t fg__table_plant_claim(struct fg_table *t, unsigned rule,
                              const void *key, size_t len, uint64_t h)
{
	struct fg_ref ref;
	struct probe p;
	struct claim c;
	struct gs s;
	unsigned target;

	if (fg__table_lookup(t, rule, key, len, h, &ref) != NULL)
		return -1;
	probe_init(t, h, &p);
	do {
		if (scan(t, &p, rule, key, len, h, &ref, &target, &s) != GO_ON)
			return -1;
	} while (!claim_at(t, &p, target, &s, span_of(len), h, &c));
	claim_fill(&c, rule, key, len, h);
	return (int64_t)(block_index(t, c.at.b) * FG_BLOCK_SLOTS +
	                 c.at.half * FG_GROUP_SLOTS + c.i);
}
