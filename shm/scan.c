/*
 * scan.c - consistent copies of slots, iteration and sums (see scan.h).
 *
 * A slot is copied the way a seqlock is read: its control word, then the
 * bucket, then the control word again.  The control word changes (its
 * generation moves) whenever the slot is claimed for another bucket, and a
 * READY slot's key never changes while its control word stays the same
 * (table.c, invariant 2), so two equal reads bracket a copy of one bucket.
 * The counters are copied with single loads: each is exact at the moment
 * it was read, which is all an observer can ask of a live bucket.
 */
#include "shm/scan.h"

#include <string.h>
#include <urcu/uatomic.h>

#include "shm/hash.h"
#include "shm/pair.h"

uint64_t fg__table_nslots(const struct fg_table *t)
{
	return t->nslots;
}

unsigned fg__slot_state(const struct fg_table *t, uint64_t i)
{
	return FG_CTL_STATE(uatomic_read(&t->slots[i].ctl));
}

/* One attempt at a copy: 1 done, 0 not a bucket, -1 changed meanwhile. */
static int read_once(const struct fg_table *t, uint64_t i,
                     struct fg_slot_view *v)
{
	struct fg_slot *s = &t->slots[i];
	uint64_t c = uatomic_read(&s->ctl);
	unsigned len = FG_CTL_KEYLEN(c);

	v->slot = i;
	v->state = FG_CTL_STATE(c);
	if (v->state != FG_SLOT_READY || len == 0 || len > FG_SLOT_KEY_MAX)
		return 0;
	cmm_smp_rmb(); /* the bucket after ctl */
	v->id = c;
	v->rule = FG_CTL_RULE(c);
	v->keylen = len;
	memcpy(v->key, s->key, len);
	v->tat = uatomic_read(&s->tat);
	v->count = uatomic_read(&s->consumed);
	v->origin = 0; /* a v2 slot's counter starts with each bucket */
	v->consumed = v->count;
	v->denied = uatomic_read(&s->aux);
	cmm_smp_rmb(); /* ... before ctl again */
	if (uatomic_read(&s->ctl) != c)
		return -1;
	return v->tat != FG_TAT_EVICTED;
}

int fg__slot_read(const struct fg_table *t, uint64_t i, struct fg_slot_view *v)
{
	int r, tries = 0;

	/* A slot given to another bucket while we copied it: read the new
	 * one (a few times at most: a slot reused that fast is churn). */
	while ((r = read_once(t, i, v)) < 0 && ++tries < 4)
		;
	return r > 0;
}

int fg__slot_next(const struct fg_table *t, uint64_t *cursor,
                  struct fg_slot_view *v)
{
	while (*cursor < t->nslots)
		if (fg__slot_read(t, (*cursor)++, v))
			return 1;
	return 0;
}

int fg__harvest_next(struct fg_table *t, uint64_t *cursor,
                     struct fg_slot_view *v)
{
	/* No change tracking in this layout: every slot, every time. */
	if (*cursor >= t->nslots)
		return 0;
	(void)fg__slot_read(t, (*cursor)++, v);
	return 1;
}

int fg__bucket_get(const struct fg_table *t, unsigned rule, const void *key,
                   size_t len, struct fg_slot_view *v)
{
	struct fg_table *tt = (struct fg_table *)t;
	struct fg_slot *s;

	if (len == 0 || len > FG_SLOT_KEY_MAX)
		return 0;
	s = fg__table_lookup(tt, rule, key, len,
	                     fg__hash64(t->seed, rule, key, len));
	return s != NULL && fg__slot_read(t, (uint64_t)(s - t->slots), v);
}

int fg__bucket_refill(struct fg_table *t, const struct fg_slot_view *v,
                      uint64_t now)
{
	struct fg_slot *s = &t->slots[v->slot];
	struct fg_pair p;

	fg__pair_load(s, &p);
	for (;;) {
		/* Refill = a tat not after now; the counts stay (the daemon
		 * harvests them).  tat becomes now, not 0: a bucket that moved
		 * never shows tat 0 again (eviction relies on it). */
		if (uatomic_read(&s->ctl) != v->id || p.tat <= now ||
		    p.tat == FG_TAT_EVICTED)
			return 0;
		if (fg__pair_advance(s, &p, now, 0))
			return 1;
	}
}

int fg__bucket_evict(struct fg_table *t, const struct fg_slot_view *v,
                     uint64_t now)
{
	struct fg_slot *s = &t->slots[v->slot];
	struct fg_pair p = {.tat = v->tat, .consumed = v->count};

	return fg__table_evict(t, s, v->id, &p, now);
}

int fg__bucket_mark_evicted(struct fg_table *t, const struct fg_slot_view *v)
{
	struct fg_slot *s = &t->slots[v->slot];
	struct fg_pair p = {.tat = v->tat, .consumed = v->count};

	return uatomic_read(&s->ctl) == v->id &&
	       fg__pair_advance(s, &p, FG_TAT_EVICTED, 0);
}

void fg__table_sums(const struct fg_table *t, struct fg_table_sums *s)
{
	struct fg_slot_view v;
	uint64_t i;

	memset(s, 0, sizeof *s);
	/* What evicted buckets held, first: a bucket evicted during the
	 * scan is then missed at worst (once), never counted twice. */
	if (t->rules != NULL)
		for (i = 0; i < FG_MAX_RULES; i++) {
			s->r[i].allowed =
			    uatomic_read(&t->rules[i].evicted_consumed);
			s->r[i].denied =
			    uatomic_read(&t->rules[i].evicted_denied);
		}
	for (i = 0; i < t->nslots; i++) {
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
