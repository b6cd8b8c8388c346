/* SPDX-License-Identifier: ISC */
/*
 * scan.c - consistent copies of slots, iteration and sums (see scan.h).
 *
 * A slot is copied the way a seqlock is read: its group's version, then
 * the bucket, then the version again (table.c, invariant 2).  The counters
 * are copied with single loads: each is exact at the moment it was read,
 * which is all an observer can ask of a live bucket.
 *
 * The harvest.  Every change to a block sets the block's bit in the dirty
 * map (table.h): a claim, a publish, a free, an eviction, and the first
 * admission or denial of a bucket after the harvest set its clean bits.
 * A pass clears a block's bit before it reads the block's slots, and sets
 * a bucket's clean bits with the same atomic steps that read its counts
 * (a cmpxchg16b on the pair, a fetch-or on aux).  A check that admits
 * clears the clean bit in its own cmpxchg16b and, if it was set, sets the
 * block's bit: so either the pass's read already counts the admission, or
 * the check saw the clean bit the pass set and marks the block for the
 * next pass.  No change is missed, and a block is visited at most once a
 * pass however busy it is.  A clean bit the pass finds set it leaves
 * alone, read with a plain load: nothing counted since it was set, and
 * the next admission or denial clears it and marks the block.
 */
#include "shm/scan.h"

#include <string.h>

#include "shm/group.h"
#include "shm/hash.h"
#include "shm/pair.h"
#include "shm/quota.h"
#include "shm/window.h"

uint64_t fg__table_nslots(const struct fg_table *t)
{
	return t->nblocks * FG_BLOCK_SLOTS;
}

static unsigned tag_of(const struct fg_ref *ref)
{
	unsigned i = ref->j % FG_GROUP_SLOTS;

	return (unsigned)(fg__load(&ref->g->tags) >> (8 * i)) & 0xffu;
}

unsigned fg__slot_state(const struct fg_table *t, uint64_t i)
{
	struct fg_ref ref;

	fg__table_ref_of((struct fg_table *)t, i, &ref);
	return FG_TAG_STATE(tag_of(&ref));
}

static uint64_t denials(uint64_t aux)
{
	/* a token: a publisher killed before taking it back (table.c) */
	return FG_AUX_DENIALS(aux);
}

/* The bucket's fields from its pair, cold part and key slots. */
static int copy_bucket(const struct fg_ref *ref, const struct fg_pair *p,
                       uint64_t aux, struct fg_slot_view *v)
{
	const struct fg_cold *cold = &ref->b->cold[ref->j];
	unsigned len = FG_W_KEYLEN(p->word), n;

	/* garbage, which any process attached may write: no rule index
	 * past the table (the daemon indexes its sums with it) */
	if (len == 0 || len > FG_SLOT_KEY_MAX ||
	    ref->j + (len + 15) / 16 > FG_BLOCK_SLOTS ||
	    FG_W_RULE(p->word) >= FG_MAX_RULES)
		return 0;
	v->tat = p->tat;
	v->word = p->word;
	v->count = p->word & FG_W_COUNT_MASK;
	v->origin = fg__load(&cold->base) & FG_W_COUNT_MASK;
	v->consumed = (v->count - v->origin) & FG_W_COUNT_MASK;
	v->denied = denials(aux);
	v->rule = FG_W_RULE(p->word);
	v->keylen = len;
	for (n = 0; 16 * n < len; n++)
		memcpy(v->key + 16 * n, ref->b->s[ref->j + n].key,
		       len - 16 * n < 16 ? len - 16 * n : 16);
	/* odd: never one of the values a caller may keep for "none" */
	v->id = (v->origin ^ FG_W_IDENT(p->word) ^
	         ((uint64_t)__atomic_load_n(
	              &ref->g->fp[ref->j % FG_GROUP_SLOTS], __ATOMIC_RELAXED)
	          << 32)) |
	        1u;
	return 1;
}

/* One attempt at a copy of @ref's slot: 1 done, 0 not a live bucket, -1
 * changed meanwhile.  With @harvest, the bucket's clean bits are set by
 * the reads. */
static int read_once(const struct fg_ref *ref, struct fg_slot_view *v,
                     int harvest)
{
	struct fg_pair p;
	uint64_t aux;

	v->keylen = 0; /* READY with keylen 0: no consistent copy */
	v->state = FG_TAG_STATE(tag_of(ref));
	if (v->state != FG_SLOT_READY)
		return 0;
	fg__pair_load(ref->s, &p);
	if (harvest && p.tat != FG_TAT_EVICTED) {
		while (!(p.word & FG_W_CLEAN) &&
		       !fg__dwcas(&ref->s->tat, &p.tat, &p.word, p.tat,
		                  p.word | FG_W_CLEAN))
			;
		/* set already: no denial since, and the next one marks */
		aux = fg__load(&ref->b->cold[ref->j].aux);
		if (!(aux & FG_AUX_CLEAN))
			aux = __atomic_fetch_or(&ref->b->cold[ref->j].aux,
			                        FG_AUX_CLEAN, __ATOMIC_SEQ_CST);
	} else {
		aux = fg__load(&ref->b->cold[ref->j].aux);
	}
	if (!copy_bucket(ref, &p, aux, v) || !fg__ref_valid(ref)) {
		v->keylen = 0;
		return fg__ref_valid(ref) ? 0 : -1;
	}
	return p.tat != FG_TAT_EVICTED;
}

static int read_slot(const struct fg_table *t, uint64_t i,
                     struct fg_slot_view *v, int harvest)
{
	struct fg_ref ref;
	int r, tries = 0;

	v->slot = i;
	/* A slot given to another bucket while we copied it: read the new
	 * one (a few times at most: a slot reused that fast is churn). */
	do {
		fg__table_ref_of((struct fg_table *)t, i, &ref);
		r = read_once(&ref, v, harvest);
	} while (r < 0 && ++tries < 4);
	return r > 0;
}

int fg__slot_read(const struct fg_table *t, uint64_t i, struct fg_slot_view *v)
{
	return read_slot(t, i, v, 0);
}

int fg__slot_next(const struct fg_table *t, uint64_t *cursor,
                  struct fg_slot_view *v)
{
	uint64_t n = fg__table_nslots(t);

	while (*cursor < n)
		if (fg__slot_read(t, (*cursor)++, v))
			return 1;
	return 0;
}

/* The next dirty block at or after @blk, its bit cleared: its index, or
 * nblocks at the end. */
static uint64_t next_dirty(struct fg_table *t, uint64_t blk)
{
	while (blk < t->nblocks) {
		uint64_t *w = &t->dirty[blk >> 6];
		uint64_t bits = fg__load(w) >> (blk & 63);

		if (bits == 0) {
			blk = (blk | 63) + 1;
			continue;
		}
		blk += (uint64_t)__builtin_ctzll(bits);
		if (blk >= t->nblocks)
			break;
		__atomic_fetch_and(w, ~(UINT64_C(1) << (blk & 63)),
		                   __ATOMIC_SEQ_CST);
		return blk;
	}
	return t->nblocks;
}

/* The next block at or after @blk whose bit is set, bits left alone. */
static uint64_t peek_dirty(const struct fg_table *t, uint64_t blk)
{
	while (blk < t->nblocks) {
		uint64_t bits = fg__load(&t->dirty[blk >> 6]) >> (blk & 63);

		if (bits != 0)
			return blk + (uint64_t)__builtin_ctzll(bits);
		blk = (blk | 63) + 1;
	}
	return t->nblocks;
}

/*
 * The pass's reads of one bucket take a few hundred instructions, so the
 * processor never has the next bucket's loads in flight while it waits
 * for this one's: every bucket would cost a full miss.  So the pass asks
 * ahead, in two steps: the metadata line of the block after next, and the
 * lines of the buckets of the next block, whose tags that line, asked for
 * a block earlier, now holds.
 */
static void prefetch_ahead(const struct fg_table *t, uint64_t blk)
{
	uint64_t n1 = peek_dirty(t, blk + 1), n2;
	const struct fg_block *b;
	unsigned j, h;

	if (n1 >= t->nblocks)
		return;
	n2 = peek_dirty(t, n1 + 1);
	if (n2 < t->nblocks)
		__builtin_prefetch(&t->blocks[n2].g[0]);
	b = &t->blocks[n1];
	for (h = 0; h < 2; h++) {
		uint64_t tags = fg__load(&b->g[h].tags);

		for (j = 0; j < FG_GROUP_SLOTS; j++, tags >>= 8)
			if (FG_TAG_STATE((unsigned)tags & 0xffu) ==
			    FG_SLOT_READY) {
				unsigned k = h * FG_GROUP_SLOTS + j;

				__builtin_prefetch(&b->s[k], 1);
				__builtin_prefetch(&b->cold[k], 1);
			}
	}
}

/* What the harvest reports of slot @i: a copy of a bucket, or only the
 * state of a slot that holds none (from its group's tags, one load: most
 * slots of a dirty block are empty). */
static void harvest_slot(struct fg_table *t, uint64_t i, struct fg_slot_view *v)
{
	const struct fg_group *g =
	    &t->blocks[i / FG_BLOCK_SLOTS]
	         .g[(unsigned)(i % FG_BLOCK_SLOTS) / FG_GROUP_SLOTS];
	unsigned st = FG_TAG_STATE(
	    (unsigned)(fg__load(&g->tags) >> (8 * (i % FG_GROUP_SLOTS))));

	if (st != FG_SLOT_READY) {
		v->slot = i;
		v->state = st;
		v->keylen = 0;
		return;
	}
	(void)read_slot(t, i, v, 1);
}

int fg__harvest_next(struct fg_table *t, uint64_t *cursor,
                     struct fg_slot_view *v)
{
	uint64_t i = *cursor;

	if (t->dirty == NULL) { /* not tracked: every slot, every time */
		if (i >= fg__table_nslots(t))
			return 0;
		harvest_slot(t, i, v);
		*cursor = i + 1;
		return 1;
	}
	if (i % FG_BLOCK_SLOTS == 0) {
		uint64_t blk = next_dirty(t, i / FG_BLOCK_SLOTS);

		if (blk >= t->nblocks) {
			*cursor = fg__table_nslots(t);
			return 0;
		}
		i = blk * FG_BLOCK_SLOTS;
		prefetch_ahead(t, blk);
	}
	harvest_slot(t, i, v);
	*cursor = i + 1;
	return 1;
}

void fg__harvest_again(struct fg_table *t, uint64_t slot)
{
	fg__table_touch(t, slot / FG_BLOCK_SLOTS);
}

void fg__harvest_all(struct fg_table *t)
{
	uint64_t blk;

	for (blk = 0; blk < t->nblocks; blk++)
		fg__table_touch(t, blk);
}

int fg__harvest_pending(const struct fg_table *t)
{
	uint64_t i;

	if (t->dirty == NULL)
		return 1;
	for (i = 0; i < (t->nblocks + 63) / 64; i++)
		if (fg__load(&t->dirty[i]) != 0)
			return 1;
	return 0;
}

int fg__bucket_get(const struct fg_table *t, unsigned rule, const void *key,
                   size_t len, struct fg_slot_view *v)
{
	struct fg_table *tt = (struct fg_table *)t;
	uint64_t h;
	struct fg_ref ref;

	if (len == 0 || len > FG_SLOT_KEY_MAX)
		return 0;
	h = fg__hash64(t->seed, rule, key, len);
	if (fg__table_lookup(tt, rule, key, len, h, &ref) == NULL)
		return 0;
	return fg__slot_read(
	    t, (uint64_t)(ref.b - t->blocks) * FG_BLOCK_SLOTS + ref.j, v);
}

/* A reference to @v's slot if it still holds @v's bucket: 1, else 0. */
static int same_bucket(struct fg_table *t, const struct fg_slot_view *v,
                       struct fg_ref *ref)
{
	struct fg_slot_view now;

	fg__table_ref_of(t, v->slot, ref);
	if (read_once(ref, &now, 0) <= 0)
		return 0;
	return now.id == v->id && now.keylen == v->keylen &&
	       memcmp(now.key, v->key, v->keylen) == 0;
}

/* Whether rule @r holds leases (shm/lease.h): a name keeps its kind, so
 * the flags of either copy of its parameters say. */
static int in_flight(const struct fg_table *t, unsigned r)
{
	const struct fg_rule_rec *rec;

	if (t->rules == NULL || r >= FG_MAX_RULES)
		return 0;
	rec = &t->rules[r];
	return (__atomic_load_n(&rec->params[0].flags, __ATOMIC_RELAXED) |
	        __atomic_load_n(&rec->params[1].flags, __ATOMIC_RELAXED)) &
	       FG__RULE_IN_FLIGHT;
}

/* fg__bucket_refill() of a window rule's bucket: its counts become 0 in
 * the current window (never tat 0, and a state of this window: it passes
 * with it, as shm/window.h wants). */
static int window_refill(const struct fg_win *w, const struct fg_ref *ref,
                         struct fg_pair *p, uint64_t now)
{
	struct fg_win_at a;

	while (fg__ref_valid(ref) && p->tat != FG_TAT_EVICTED) {
		fg__win_read(w, p->tat, now, &a);
		if (a.prev == 0 && a.cur == 0)
			return 0; /* nothing counted */
		a.prev = a.cur = 0;
		if (fg__pair_advance(ref->s, p, fg__win_tat(w, &a), 0))
			return 1;
	}
	return 0;
}

/* fg__bucket_refill() of a GCRA rule's bucket: a tat not after now; the
 * counts stay (the daemon harvests them).  tat becomes now, not 0: a
 * bucket that moved never shows tat 0 again (eviction relies on it). */
static int gcra_refill(const struct fg_ref *ref, struct fg_pair *p,
                       uint64_t now)
{
	while (fg__ref_valid(ref)) {
		if (p->tat <= now || p->tat == FG_TAT_EVICTED)
			return 0;
		if (fg__pair_advance(ref->s, p, now, 0))
			return 1;
	}
	return 0;
}

int fg__bucket_refill(struct fg_table *t, const struct fg_slot_view *v,
                      uint64_t now)
{
	struct fg_win w;
	struct fg_ref ref;
	struct fg_pair p;
	int done;

	/* Leases are not refilled: they end by themselves, and forgetting
	 * them would let their holders give back leases of others. */
	if (in_flight(t, v->rule) || !same_bucket(t, v, &ref))
		return 0;
	fg__pair_load(ref.s, &p);
	if (t->rules != NULL && v->rule < FG_MAX_RULES &&
	    fg__win_of_rec(&t->rules[v->rule], &w))
		done = window_refill(&w, &ref, &p, now);
	else
		done = gcra_refill(&ref, &p, now);
	/* No check marked the block: the daemon, whose snapshot must hold
	 * the refill (daemon/persist.c), learns of it from the mark. */
	if (done)
		fg__table_touch(t, fg__ref_block(t, &ref));
	return done;
}

int fg__bucket_evict(struct fg_table *t, const struct fg_slot_view *v,
                     uint64_t now)
{
	struct fg_pair p = {.tat = v->tat, .word = v->word};
	struct fg_ref ref;

	if (!same_bucket(t, v, &ref))
		return 0;
	return fg__table_evict(t, &ref, &p, now);
}

int fg__bucket_mark_evicted(struct fg_table *t, const struct fg_slot_view *v)
{
	struct fg_pair p = {.tat = v->tat, .word = v->word};
	struct fg_ref ref;

	if (!same_bucket(t, v, &ref))
		return 0;
	return fg__dwcas(&ref.s->tat, &p.tat, &p.word, FG_TAT_EVICTED, p.word);
}

void fg__table_sums(const struct fg_table *t, struct fg_table_sums *s)
{
	struct fg_slot_view v;
	uint64_t i, n = fg__table_nslots(t);

	memset(s, 0, sizeof *s);
	/* What evicted buckets held, first: a bucket evicted during the
	 * scan is then missed at worst (once), never counted twice. */
	if (t->rules != NULL)
		for (i = 0; i < FG_MAX_RULES; i++) {
			s->r[i].allowed =
			    fg__load(&t->rules[i].evicted_consumed);
			s->r[i].denied = fg__load(&t->rules[i].evicted_denied);
		}
	for (i = 0; i < n; i++) {
		if (!fg__slot_read(t, i, &v)) {
			s->dead += v.state == FG_SLOT_DEAD;
			s->claimed += v.state == FG_SLOT_CLAIMED;
			continue;
		}
		s->used++;
		s->consumed += v.consumed;
		s->denied += v.denied;
		if (v.rule >= FG_MAX_RULES)
			continue;
		s->r[v.rule].keys++;
		s->r[v.rule].allowed += v.consumed;
		s->r[v.rule].denied += v.denied;
	}
}

/* ------------------------------------------------------------ quotas */

/* Add the slots of the buckets of group @g to @held, per rule: 1, or 0 if
 * the group kept changing while it was read. */
static int count_group(const struct fg_block *b, unsigned half, uint32_t *held)
{
	const struct fg_group *g = &b->g[half];
	uint32_t add[FG_GROUP_SLOTS];
	unsigned rule[FG_GROUP_SLOTS], i, n, tries;
	struct gs s;

	for (tries = 0; tries < 8; tries++) {
		gload(g, &s);
		for (n = 0, i = 0; i < FG_GROUP_SLOTS; i++) {
			unsigned j = half * FG_GROUP_SLOTS + i;

			if (FG_TAG_STATE(tag_at(s.tags, i)) != FG_SLOT_READY)
				continue;
			rule[n] = FG_W_RULE(fg__load(&b->s[j].word));
			add[n++] = owned_span(s.tags, i);
		}
		cmm_smp_rmb();
		if (fg__load(&g->ver) != s.ver)
			continue;
		for (i = 0; i < n; i++)
			if (rule[i] < FG_MAX_RULES)
				held[rule[i]] += add[i];
		return 1;
	}
	return 0;
}

unsigned fg__table_quota_resync(struct fg_table *t)
{
	uint64_t before[FG_MAX_RULES], blk;
	uint32_t held[FG_MAX_RULES] = {0};
	unsigned r, fixed = 0;

	if (t->rules == NULL)
		return 0;
	for (r = 0; r < FG_MAX_RULES; r++)
		before[r] = fg__load(&t->rules[r].slots);
	for (blk = 0; blk < t->nblocks; blk++)
		if (!count_group(&t->blocks[blk], 0, held) ||
		    !count_group(&t->blocks[blk], 1, held))
			return 0; /* churn: the next maintenance */
	cmm_smp_mb();
	for (r = 0; r < FG_MAX_RULES; r++)
		fixed +=
		    (unsigned)fg__quota_set(&t->rules[r], before[r], held[r]);
	return fixed;
}
