/* SPDX-License-Identifier: ISC */
/*
 * topdenied.h - the keys denied most in the last window, for /metrics.
 *
 * Per-key labels on every bucket would give Prometheus a series per key
 * (a million keys, a million series): instead the daemon exports the
 * FGD_TOP_N keys with the most denials over the last complete window of
 * FGD_TOP_WINDOW_MS, a bounded gauge whose series come and go with the
 * keys.
 *
 * Nothing here scans the table: the harvest visits every bucket that
 * changed since its last pass (harvest.c), and a denial is a change.  It
 * hands this module the bucket's denials now and at its previous visit.
 * Per slot the module keeps the denials at the start of the window and
 * the window that start belongs to: at a bucket's first visit in a new
 * window, its denials at the previous visit are those at the window's
 * start (nothing changed in between, or it would have been visited).  A
 * bucket new in its slot starts from 0.  The count in the window only
 * grows, and every growth is a visit, so a ranking updated at each visit
 * (an entry of the same bucket updated in place) is the exact ranking at
 * the window's close.  The first harvest after a start only takes
 * baselines, so a daemon that restarts does not rank lifetime counts as
 * one window's.
 *
 * Costs: 12 bytes a slot, allocated at the first harvest; O(FGD_TOP_N)
 * for a visit of a bucket that beats the last of the top.
 */
#ifndef FGD_TOPDENIED_H
#define FGD_TOPDENIED_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"

struct fg_slot_view;

#define FGD_TOP_N         10u    /* keys exported */
#define FGD_TOP_WINDOW_MS 10000u /* ranked over this long (or a round) */

struct fgd_top_key {
	uint64_t denied;   /* in the window */
	uint64_t slot, id; /* the bucket (fg_slot_view) */
	unsigned rule;     /* rule index */
	unsigned len;
	uint8_t key[FG_KEY_MAX];
};

struct fgd_topdenied {
	uint64_t *start; /* per slot: denials at the start of window win */
	uint32_t *win;
	uint64_t nslots;
	uint32_t window;   /* the window being counted; 0: priming */
	uint64_t start_ms; /* it began then */
	size_t nnext;      /* its ranking so far */
	struct fgd_top_key next[FGD_TOP_N];
	/* the last complete window, what /metrics shows */
	size_t n;
	uint64_t window_ms; /* its length; 0: none complete yet */
	uint64_t end_ms;
	struct fgd_top_key top[FGD_TOP_N];
};

/* A harvest of a table of @nslots begins at @now_ms: allocates on the
 * first (-1 out of memory: nothing is ranked), else 0. */
int fgd_top_begin(struct fgd_topdenied *t, uint64_t nslots, uint64_t now_ms);

/* The harvest visits the live bucket @v, which had @last denials at its
 * previous visit; @fresh: new in its slot since then. */
void fgd_top_see(struct fgd_topdenied *t, const struct fg_slot_view *v,
                 uint64_t last, int fresh);

/* The harvest is over: one that closes the window publishes its
 * ranking. */
void fgd_top_end(struct fgd_topdenied *t, uint64_t now_ms);

void fgd_top_fini(struct fgd_topdenied *t);

#endif
