/* SPDX-License-Identifier: ISC */
/*
 * reap.c - the owner's maintenance of the table (see table.c).
 *
 * The core's reap (shm/cuckoo.c) does the work: claims older than the
 * grace period become DEAD, DEAD slots that old become FREE, moves left by
 * dead movers are finished or undone, and stripes they held are released.
 * What it does not know is the segment's: how many slots it freed and
 * claims it abandoned (the header's counters), and which pages changed
 * (the harvest's dirty map).  So a pass first notes the slots it will
 * change (any slot neither FREE nor READY: nothing else changes in a
 * reap), counts the DEAD ones old enough to be freed and the claims old
 * enough to be abandoned by the same tests the core applies, lets the
 * core run, then marks the pages it noted.  One owner at a time: the
 * caller holds the owner lock.
 */
#include <stdlib.h>

#include "shm/table.h"

/* What the first pass saw. */
struct seen {
	uint64_t freed, abandoned;
	uint64_t *pages; /* a bit a page of buckets to mark; NULL: all */
};

static void note(struct fg_table *t, uint64_t i, uint64_t now_ms,
                 uint64_t stale_ms, struct seen *s)
{
	struct fg_pair p;
	uint64_t page = i / FG_BUCKET_SLOTS / FG_DIRTY_BUCKETS;

	fg__pair_load(&t->slots[i], &p);
	switch (FG_W_STATE(p.word)) {
	case FG_SLOT_FREE:
	case FG_SLOT_READY:
		return;
	case FG_SLOT_DEAD: /* tat: when it was abandoned, in ms */
		s->freed += now_ms >= p.tat && now_ms - p.tat > stale_ms;
		break;
	case FG_SLOT_CLAIMED: /* tat: the token, ms in bits 32-62 */
		s->abandoned +=
		    ((now_ms - (p.tat >> 32)) & 0x7fffffffu) > stale_ms;
		break;
	default:
		break;
	}
	if (s->pages != NULL)
		s->pages[page / 64] |= UINT64_C(1) << (page % 64);
}

static void mark(struct fg_table *t, const struct seen *s)
{
	uint64_t b;

	for (b = 0; b < t->nbuckets; b += FG_DIRTY_BUCKETS) {
		uint64_t page = b / FG_DIRTY_BUCKETS;

		if (s->pages == NULL ||
		    (s->pages[page / 64] >> (page % 64) & 1u))
			fg__table_touch(t, b);
	}
}

uint64_t fg__table_reap(struct fg_table *t, uint64_t now, uint64_t min_age_ns)
{
	uint64_t stale_ns =
	    min_age_ns > FG_CLAIM_STALE_NS ? min_age_ns : FG_CLAIM_STALE_NS;
	uint64_t npages =
	    (t->nbuckets + FG_DIRTY_BUCKETS - 1) / FG_DIRTY_BUCKETS;
	uint64_t now_ms = now / 1000000u, i;
	struct fg_cuckoo ck = t->ck;
	struct seen s = {0, 0, NULL};

	/* the core's clock is in ms, rounded up: never before min_age */
	ck.stale_ms = (stale_ns + 999999u) / 1000000u;
	s.pages = calloc((npages + 63) / 64, sizeof *s.pages);
	for (i = 0; i < t->nbuckets * FG_BUCKET_SLOTS; i++)
		note(t, i, now_ms, ck.stale_ms, &s);
	fg__cuckoo_reap(&ck, now_ms);
	mark(t, &s);
	free(s.pages);
	if (s.abandoned)
		__atomic_fetch_add(&t->hdr->abandoned, s.abandoned,
		                   __ATOMIC_SEQ_CST);
	if (s.freed)
		__atomic_fetch_add(&t->hdr->reaped, s.freed, __ATOMIC_SEQ_CST);
	return s.freed;
}

uint64_t fg__table_reopen(struct fg_table *t)
{
	(void)t;
	return 0;
}
