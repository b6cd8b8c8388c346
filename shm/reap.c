/* SPDX-License-Identifier: ISC */
/*
 * reap.c - the owner's maintenance of the table (see table.c).
 *
 * Claims older than the grace period become DEAD, DEAD slots old enough
 * become free, and groups of tombstones become open again when no key is
 * stored behind them: a mark on the group, a scan of the groups after it
 * for a key that passed it (or any claim), then a cmpxchg16b that opens
 * the group only if it is still as marked.  Why that is safe with
 * inserters running is proof 1 at the top of table.c.  One owner at a
 * time: the caller holds the owner lock, so a mark found here was left by
 * an owner that died.
 */
#include "shm/group.h"
#include "shm/hash.h"

/* Whether the key in slot @i of group @hm of block @m, read as @s, has
 * passed group @half of block @blk: 1, 0, or 1 when unsure. */
static int passed(struct fg_table *t, uint64_t m, unsigned hm,
                  const struct gs *s, unsigned i, uint64_t blk, unsigned half)
{
	struct fg_block *b = &t->blocks[m];
	unsigned j = hm * FG_GROUP_SLOTS + i, n, first;
	uint64_t w = fg__load(&b->s[j].word), home, dq, dm, h, window;
	uint8_t key[FG_SLOT_KEY_MAX];
	size_t len = FG_W_KEYLEN(w);

	if (len == 0 || len > FG_SLOT_KEY_MAX ||
	    j + span_of(len) > (hm + 1) * FG_GROUP_SLOTS)
		return 1;
	for (n = 0; n * 16 < len; n++)
		memcpy(key + 16 * n, b->s[j + n].key,
		       len - 16 * n < 16 ? len - 16 * n : 16);
	cmm_smp_rmb();
	if (fg__load(&b->g[hm].ver) != s->ver)
		return 1; /* changed while read */
	h = fg__hash64(t->seed, FG_W_RULE(w), key, len);
	home = fg__table_home(t, h);
	first = fg__table_pref(h) / FG_GROUP_SLOTS;
	window = t->nblocks < FG_PROBE_BLOCKS ? t->nblocks : FG_PROBE_BLOCKS;
	dq = blk >= home ? blk - home : blk + t->nblocks - home;
	dm = m >= home ? m - home : m + t->nblocks - home;
	if (dq >= window)
		return 0; /* its sequence does not reach the group */
	return 2 * dq + (half != first) < 2 * dm + (hm != first);
}

/* A key or a claim in group @hm of block @m that passed (@blk, @half):
 * 1 if there is one (or it could not be told), 0 if not. */
static int group_blocks(struct fg_table *t, uint64_t m, unsigned hm,
                        uint64_t blk, unsigned half, int *open)
{
	struct gs s;
	unsigned i;

	gload(&t->blocks[m].g[hm], &s);
	*open |= is_open(s.tags);
	for (i = 0; i < FG_GROUP_SLOTS; i++) {
		unsigned st = FG_TAG_STATE(tag_at(s.tags, i));

		if (st == FG_SLOT_CLAIMED)
			return 1;
		if (st == FG_SLOT_READY && passed(t, m, hm, &s, i, blk, half))
			return 1;
	}
	return 0;
}

/* Whether a key may be behind group @half of block @blk: the groups after
 * it up to the first open one hold one that passed it, or a claim. */
static int blocked(struct fg_table *t, uint64_t blk, unsigned half)
{
	uint64_t window = t->nblocks < FG_PROBE_BLOCKS ? t->nblocks
	                                               : FG_PROBE_BLOCKS,
	         d;
	int open = 0;

	if (group_blocks(t, blk, half ^ 1u, blk, half, &open))
		return 1;
	for (d = 1; d < window && !open; d++) {
		uint64_t m =
		    blk + d < t->nblocks ? blk + d : blk + d - t->nblocks;

		if (group_blocks(t, m, 0, blk, half, &open) ||
		    group_blocks(t, m, 1, blk, half, &open))
			return 1;
	}
	return 0;
}

/* Clear the reopening mark of @g (ours, or left by an owner that died). */
static void unmark(struct fg_group *g)
{
	struct gs s;

	gload(g, &s);
	while ((s.ver & FG_VER_REOPENING) &&
	       !gcas(g, &s, s.tags, (s.ver + 2) & ~FG_VER_REOPENING))
		;
}

/* Reopen the closed group @half of block @blk if no key is behind it
 * (proof of 1 in the comment at the top): 1 if done. */
static int reopen(struct fg_table *t, uint64_t blk, unsigned half)
{
	struct fg_group *g = &t->blocks[blk].g[half];
	struct gs s, marked;
	uint64_t tags;
	unsigned i;

	gload(g, &s);
	if (is_open(s.tags) || !has_free(s.tags))
		return 0;
	marked.tags = s.tags;
	marked.ver = (s.ver + 2) | FG_VER_REOPENING;
	if (!gcas(g, &s, marked.tags, marked.ver))
		return 0;
	if (!blocked(t, blk, half)) {
		tags = marked.tags;
		for (i = 0; i < FG_GROUP_SLOTS; i++)
			if (tag_at(tags, i) == TAG_FREE)
				tags =
				    with_tag(tags, i, FG_TAG(FG_SLOT_EMPTY, 0));
		if (gcas(g, &marked, tags,
		         (marked.ver + 2) & ~FG_VER_REOPENING)) {
			__atomic_fetch_add(&t->hdr->reopened, 1,
			                   __ATOMIC_SEQ_CST);
			fg__table_touch(t, blk);
			return 1;
		}
	}
	unmark(g);
	return 0;
}

/* The DEAD slot @i of @at, read as @s: restart its clock if it has none,
 * free it once it is @min_age_ns dead.  1 if freed. */
static int reap_dead(struct fg_table *t, const struct pos *at, struct gs *s,
                     unsigned i, uint64_t now, uint64_t min_age_ns)
{
	uint64_t since = fg__load(aux_of(at, i));

	if (since == 0 || since > now) {
		/* the marker died before stamping it, or a slow claimer
		 * wrote its token over the stamp: start the clock */
		(void)__atomic_compare_exchange_n(aux_of(at, i), &since, now, 0,
		                                  __ATOMIC_SEQ_CST,
		                                  __ATOMIC_SEQ_CST);
		return 0;
	}
	if (now - since < min_age_ns)
		return 0;
	if (!gcas(at->g, s, freed(s->tags, i, owned_span(s->tags, i)),
	          s->ver + 2))
		return 0;
	fg__table_touch(t, block_index(t, at->b));
	return 1;
}

/* Abandon stale claims and free old DEAD slots of one group. */
static uint64_t reap_group(struct fg_table *t, const struct pos *at,
                           uint64_t now, uint64_t stale, uint64_t min_age)
{
	uint64_t n = 0;
	struct gs s;
	unsigned i;

	gload(at->g, &s);
	if (s.ver & FG_VER_REOPENING) /* we hold the owner lock: stale */
		unmark(at->g);
	for (i = 0; i < FG_GROUP_SLOTS; i++) {
		switch (FG_TAG_STATE(tag_at(s.tags, i))) {
		case FG_SLOT_CLAIMED:
			(void)abandon(t, at, &s, i, fg__load(aux_of(at, i)),
			              now, stale);
			break;
		case FG_SLOT_DEAD:
			n += (uint64_t)reap_dead(t, at, &s, i, now, min_age);
			break;
		default:
			continue;
		}
		gload(at->g, &s);
	}
	return n;
}

uint64_t fg__table_reopen(struct fg_table *t)
{
	uint64_t blk, n = 0;
	unsigned half;

	for (blk = 0; blk < t->nblocks; blk++)
		for (half = 0; half < 2; half++)
			n += (uint64_t)reopen(t, blk, half);
	return n;
}

uint64_t fg__table_reap(struct fg_table *t, uint64_t now, uint64_t min_age_ns)
{
	uint64_t stale =
	    min_age_ns > FG_CLAIM_STALE_NS ? min_age_ns : FG_CLAIM_STALE_NS;
	uint64_t blk, n = 0;
	unsigned half;

	for (blk = 0; blk < t->nblocks; blk++) {
		for (half = 0; half < 2; half++) {
			struct pos at = {.b = &t->blocks[blk], .half = half};

			at.g = &at.b->g[half];
			n += reap_group(t, &at, now, stale, min_age_ns);
		}
	}
	/* Then the tombstones: freed slots may have opened the way. */
	(void)fg__table_reopen(t);
	if (n)
		__atomic_fetch_add(&t->hdr->reaped, n, __ATOMIC_SEQ_CST);
	return n;
}
