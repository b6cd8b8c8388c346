/*
 * topdenied.h - the keys denied most in the last window, for /metrics.
 *
 * Per-key labels on every bucket would give Prometheus a series per key
 * (a million keys, a million series): instead the daemon exports the
 * FGD_TOP_N keys with the most denials over the last complete window of
 * FGD_TOP_WINDOW_MS, a bounded gauge whose series come and go with the
 * keys.
 *
 * Nothing here scans the table: the harvest visits every live bucket each
 * round anyway (harvest.c), and hands this module the bucket's denial count
 * (the slot's aux, in the cache line it reads for ctl).  Each slot has a
 * baseline, the denials it had at the start of the window; the harvest
 * that closes a window ranks count - baseline over the slots and takes
 * the new baselines in the same pass; other harvests only reset the
 * baseline of a bucket that is new in its slot (its denials all fall in
 * the window).  The first harvest only takes baselines, so a daemon that
 * restarts does not rank lifetime counts as one window's.
 *
 * Costs: 8 bytes a slot, allocated at the first harvest; O(FGD_TOP_N) for
 * a bucket that beats the last of the top, once a window.
 */
#ifndef FGD_TOPDENIED_H
#define FGD_TOPDENIED_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"

struct fg_slot;

#define FGD_TOP_N         10u    /* keys exported */
#define FGD_TOP_WINDOW_MS 10000u /* ranked over this long (or a round) */

struct fgd_top_key {
	uint64_t denied; /* in the window */
	unsigned rule;   /* rule index */
	unsigned len;
	uint8_t key[FG_KEY_MAX];
};

struct fgd_topdenied {
	uint64_t *base; /* per slot: denials at the window's start */
	uint64_t nslots;
	uint64_t start_ms; /* the window being counted began then */
	int priming;       /* the first harvest: baselines only */
	int closing;       /* this harvest closes the window */
	size_t nnext;      /* its ranking so far */
	struct fgd_top_key next[FGD_TOP_N];
	/* the last complete window, what /metrics shows */
	size_t n;
	uint64_t window_ms; /* its length; 0: none complete yet */
	uint64_t end_ms;
	struct fgd_top_key top[FGD_TOP_N];
};

/* A harvest of a table of @nslots begins at @now_ms: allocates on the
 * first (returns -1 out of memory: nothing is ranked), and says (1)
 * whether this harvest closes a window, then fgd_top_see() wants every
 * live bucket; 0 otherwise. */
int fgd_top_begin(struct fgd_topdenied *t, uint64_t nslots, uint64_t now_ms);

/* Slot @i holds a bucket new since the last harvest. */
static inline void fgd_top_new(struct fgd_topdenied *t, uint64_t i)
{
	if (t->base != NULL && i < t->nslots)
		t->base[i] = 0;
}

/* Live bucket at slot @i (ctl @ctl as the harvest read it) with @denied
 * denials; only while closing.  Its key is copied only when it enters
 * the ranking, and dropped if the slot changed meanwhile. */
void fgd_top_see(struct fgd_topdenied *t, uint64_t i, const struct fg_slot *s,
                 uint64_t ctl, uint64_t denied);

/* The harvest is over: a closing one publishes its ranking. */
void fgd_top_end(struct fgd_topdenied *t, uint64_t now_ms);

void fgd_top_fini(struct fgd_topdenied *t);

#endif
