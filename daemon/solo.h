/* SPDX-License-Identifier: ISC */
/*
 * solo.h - what a daemon without gossip keeps in the node's place.
 *
 * A single host's daemon has no node (gossip/node.h), but two of the
 * node's parts serve it all the same: the counters its snapshots report,
 * and a harvest (gossip/harvest.h).  The harvest takes nothing (there is
 * nobody to tell), but keeps /metrics' per-rule sums by difference and
 * tells the snapshots whether anything changed, each pass reading only
 * the pages of buckets that changed since the last one: an idle table
 * costs nothing, and a scrape never scans the whole table, just as on a
 * node.  Its baseline lives in memory: at start it reads the segment
 * once, which is then all in the sums.
 */
#ifndef FGD_SOLO_H
#define FGD_SOLO_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/counters.h"
#include "gossip/harvest.h"
#include "lib/floodgate.h"

struct fgd_solo {
	struct fgd_counters ctr;    /* the snapshots' */
	struct fgd_harvest harvest; /* once up */
	int up;
	uint64_t scrape_next_ns; /* a scrape may harvest then (metrics.h) */
};

/* The harvest of @fg: 0, or -1 with why in @err. */
int fgd_solo_init(struct fgd_solo *s, fg_client *fg, char *err, size_t errlen);
void fgd_solo_fini(struct fgd_solo *s);

/* One pass of the harvest (a round's, or a scrape's brought forward). */
void fgd_solo_pass(struct fgd_solo *s, uint64_t now_ms);

#endif
