/* SPDX-License-Identifier: ISC */
/*
 * scan.c - consistent copies of slots, iteration and sums (see scan.h).
 *
 * A slot is copied the way a seqlock is read: its word, then the bucket's
 * key (a long key's from its record) and cold part, then the word again
 * (shm/table.c says why that is enough: the word's generation moves with
 * every claim of the slot, and a record stays its key's while a slot
 * names it).  The counters are copied with single loads: each is exact at
 * the moment it was read, which is all an observer can ask of a live
 * bucket.
 *
 * The harvest.  Every change to a page of buckets sets the page's bit in
 * the dirty map (table.h): an insert, an eviction, the reap's changes, a
 * denial that tags a cold part, and the first admission or denial of a
 * bucket after the harvest set its clean bits.  A pass clears a page's
 * bit before it reads the page's slots, and sets a bucket's clean bits
 * with the same atomic steps that read its counts (a cmpxchg16b on the
 * pair, a fetch-or on aux).  A check that admits clears the clean bit in
 * its own cmpxchg16b and, if it was set, sets the page's bit: so either
 * the pass's read already counts the admission, or the check saw the
 * clean bit the pass set and marks the page for the next pass.  A key
 * that moves takes its clean bit along, so the same holds at its new
 * slot; its old slot's page may not be marked (the core's moves mark
 * nothing), which the harvest allows for (gossip/harvest.c).  A page is
 * visited at most once a pass however busy it is.
 */
#include "shm/scan.h"

#include <string.h>

#include "shm/hash.h"
#include "shm/pair.h"
#include "shm/quota.h"
#include "shm/window.h"

#define PAGE_SLOTS (FG_DIRTY_BUCKETS * FG_BUCKET_SLOTS)

uint64_t fg__table_nslots(const struct fg_table *t)
{
	return t->nbuckets * FG_BUCKET_SLOTS;
}

unsigned fg__slot_state(const struct fg_table *t, uint64_t i)
{
	return FG_W_STATE(fg__load(&t->slots[i].word));
}

/* Set the harvest's clean bit of the live pair *@p of @s (its count read
 * by the same step), as long as it is the bucket it was. */
static void clean(struct fg_slot *s, struct fg_pair *p)
{
	const uint64_t live = p->word & FG_W_LIVE_MASK;

	while (p->tat != FG_TAT_EVICTED && !(p->word & FG_W_CLEAN) &&
	       (p->word & FG_W_LIVE_MASK) == live &&
	       !fg__dwcas(&s->tat, &p->tat, &p->word, p->tat,
	                  p->word | FG_W_CLEAN))
		;
}

/* The bucket's fields from its pair and key bytes @kb (a long key's:
 * @kb's hash, its key @key), and its key's hash in *@h: 0 if they are
 * garbage, which any process attached may write (no rule index past the
 * table: the daemon indexes its sums with it; a key in one of its own
 * buckets, a long key with its own hash). */
static int copy_bucket(const struct fg_table *t, uint64_t i,
                       const struct fg_pair *p, const uint64_t kb[2],
                       const uint8_t *key, size_t len, struct fg_slot_view *v,
                       uint64_t *h)
{
	uint64_t x, y;

	if (len == 0 || FG_W_RULE(p->word) >= FG_MAX_RULES)
		return 0;
	*h = fg__hash64(t->seed, FG_W_RULE(p->word), key, len);
	if (len > FG_SLOT_KEY_INLINE && *h != kb[0])
		return 0;
	fg__table_buckets(t, *h, &x, &y);
	if (i / FG_BUCKET_SLOTS != x && i / FG_BUCKET_SLOTS != y)
		return 0;
	v->tat = p->tat;
	v->word = p->word;
	v->count = p->word & FG_W_COUNT_MASK;
	v->origin = 0; /* a new bucket starts at 0 (layout.h) */
	v->consumed = v->count;
	v->rule = FG_W_RULE(p->word);
	v->keylen = (unsigned)len;
	memcpy(v->key, key, len);
	v->id = ((uint64_t)v->rule << 56) | (*h >> 8) | 1u;
	v->alt = i / FG_BUCKET_SLOTS == x ? y : x;
	return 1;
}

/* One attempt at a copy of slot @i: 1 done, 0 not a live bucket, -1
 * changed meanwhile.  With @harvest, the bucket's clean bits are set by
 * the reads. */
static int read_once(const struct fg_table *t, uint64_t i,
                     struct fg_slot_view *v, int harvest)
{
	struct fg_slot *s = &t->slots[i];
	uint8_t key[FG_TABLE_KEY_MAX];
	struct fg_pair p;
	uint64_t h, live, kb[2];
	size_t len;

	v->keylen = 0; /* READY with keylen 0: no consistent copy */
	fg__pair_load(s, &p);
	v->state = FG_W_STATE(p.word);
	if (v->state != FG_SLOT_READY)
		return 0;
	live = p.word & FG_W_LIVE_MASK;
	memcpy(kb, s->key, sizeof kb);
	len = fg__table_key_bytes(t, p.word, kb, key);
	cmm_smp_rmb();
	if ((fg__load(&s->word) & FG_W_LIVE_MASK) != live)
		return -1;
	if (!copy_bucket(t, i, &p, kb, key, len, v, &h))
		return 0;
	v->denied = fg__table_denials((struct fg_table *)t, h, i, harvest);
	if (!harvest)
		return p.tat != FG_TAT_EVICTED;
	clean(s, &p);
	if ((p.word & FG_W_LIVE_MASK) != live) {
		v->keylen = 0;
		return -1; /* another bucket's pair by now */
	}
	v->tat = p.tat; /* the pair as the clean bit's step read it */
	v->word = p.word;
	v->count = v->consumed = p.word & FG_W_COUNT_MASK;
	return p.tat != FG_TAT_EVICTED;
}

static int read_slot(const struct fg_table *t, uint64_t i,
                     struct fg_slot_view *v, int harvest)
{
	int r, tries = 0;

	v->slot = i;
	/* A slot given to another bucket while we copied it: read the new
	 * one (a few times at most: a slot reused that fast is churn). */
	do
		r = read_once(t, i, v, harvest);
	while (r < 0 && ++tries < 4);
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

static uint64_t npages(const struct fg_table *t)
{
	return (t->nbuckets + FG_DIRTY_BUCKETS - 1) / FG_DIRTY_BUCKETS;
}

/* The next dirty page at or after @pg, its bit cleared: its index, or
 * npages at the end. */
static uint64_t next_dirty(struct fg_table *t, uint64_t pg)
{
	const uint64_t n = npages(t);

	while (pg < n) {
		uint64_t *w = &t->dirty[pg >> 6];
		uint64_t bits = fg__load(w) >> (pg & 63);

		if (bits == 0) {
			pg = (pg | 63) + 1;
			continue;
		}
		pg += (uint64_t)__builtin_ctzll(bits);
		if (pg >= n)
			break;
		__atomic_fetch_and(w, ~(UINT64_C(1) << (pg & 63)),
		                   __ATOMIC_SEQ_CST);
		return pg;
	}
	return n;
}

/* What the harvest reports of slot @i: a copy of a bucket, or only the
 * state of a slot that holds none (one load of its word).  The lines a
 * few buckets on are asked for now: the pass's reads of one bucket take
 * a few hundred instructions, which would otherwise leave every line a
 * full miss. */
static void harvest_slot(struct fg_table *t, uint64_t i, struct fg_slot_view *v)
{
	const uint64_t ahead = i + 8 * FG_BUCKET_SLOTS;
	unsigned st;

	if (i % FG_BUCKET_SLOTS == 0 && ahead < fg__table_nslots(t)) {
		__builtin_prefetch(&t->slots[ahead], 1);
		__builtin_prefetch(&t->cold[ahead], 1);
	}
	st = FG_W_STATE(fg__load(&t->slots[i].word));
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

	if (i >= fg__table_nslots(t))
		return 0;
	if (t->dirty != NULL && i % PAGE_SLOTS == 0) {
		uint64_t pg = next_dirty(t, i / PAGE_SLOTS);

		if (pg >= npages(t)) {
			*cursor = fg__table_nslots(t);
			return 0;
		}
		i = pg * PAGE_SLOTS;
	}
	harvest_slot(t, i, v);
	*cursor = i + 1;
	return 1;
}

void fg__harvest_again(struct fg_table *t, uint64_t slot)
{
	fg__table_touch(t, slot / FG_BUCKET_SLOTS);
}

void fg__harvest_all(struct fg_table *t)
{
	uint64_t b;

	for (b = 0; b < t->nbuckets; b += FG_DIRTY_BUCKETS)
		fg__table_touch(t, b);
}

int fg__harvest_pending(const struct fg_table *t)
{
	uint64_t i;

	if (t->dirty == NULL)
		return 1;
	for (i = 0; i < (npages(t) + 63) / 64; i++)
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

	if (len == 0 || len > FG_TABLE_KEY_MAX)
		return 0;
	h = fg__hash64(t->seed, rule, key, len);
	if (fg__table_lookup(tt, rule, key, len, h, &ref) == NULL)
		return 0;
	return fg__slot_read(t, ref.j, v);
}

/* A reference to @v's slot if it still holds @v's bucket: 1, else 0. */
static int same_bucket(struct fg_table *t, const struct fg_slot_view *v,
                       struct fg_ref *ref)
{
	struct fg_slot_view now;

	fg__table_ref_of(t, v->slot, ref);
	if (read_once(t, v->slot, &now, 0) <= 0)
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
	return FG_W_STATE(p.word) == FG_SLOT_READY &&
	       fg__dwcas(&ref.s->tat, &p.tat, &p.word, FG_TAT_EVICTED, p.word);
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

/*
 * Slots held per rule: a READY or MOVING slot holds one for its key (a
 * COPY is the same key's).  A key that moves while it is counted may be
 * counted twice or not at all; moves do not touch the quota word, so
 * such a count may be set: it is off by the keys in flight at that
 * instant, until the next quiet re-sync.
 */
unsigned fg__table_quota_resync(struct fg_table *t)
{
	uint64_t before[FG_MAX_RULES], i;
	uint32_t held[FG_MAX_RULES] = {0};
	unsigned r, fixed = 0;

	if (t->rules == NULL)
		return 0;
	for (r = 0; r < FG_MAX_RULES; r++)
		before[r] = fg__load(&t->rules[r].slots);
	for (i = 0; i < fg__table_nslots(t); i++) {
		uint64_t w = fg__load(&t->slots[i].word);
		unsigned st = FG_W_STATE(w);

		if ((st == FG_SLOT_READY || st == FG_SLOT_MOVING) &&
		    FG_W_RULE(w) < FG_MAX_RULES)
			held[FG_W_RULE(w)]++;
	}
	cmm_smp_mb();
	for (r = 0; r < FG_MAX_RULES; r++)
		fixed +=
		    (unsigned)fg__quota_set(&t->rules[r], before[r], held[r]);
	return fixed;
}
