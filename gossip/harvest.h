/* SPDX-License-Identifier: ISC */
/*
 * harvest.h - the one pass over the segment's table each round.
 *
 * Workers count, per bucket, a grow-only `count` (tokens its key was
 * admitted) and their denials; the harvest takes the growth of each since
 * its last pass against a baseline per slot, and gives the growth of
 * every bucket of a global rule to its taker (counts.c) to gossip.  A
 * baseline moves only once the taker has taken it, so a taker without
 * room loses nothing: the page is visited again at the next pass.  A key
 * that moves to its other bucket (shm/cuckoo.c) takes its count along;
 * its baseline follows it (harvest.c), so a move neither loses nor counts
 * twice what the key consumed.  The
 * same pass keeps what the operators read without scanning the table
 * again: per rule sums (the figures of /metrics) and the keys denied most
 * (topdenied.h).
 *
 * A pass visits only the pages of buckets that changed since the previous
 * one (shm/scan.h): an idle table costs nothing.  So the sums are kept by
 * difference: each slot's baseline records what the sums hold of it, and
 * a visit takes that out and puts the slot's present figures in.
 *
 * The baseline is a file beside the segment (PATH.state), so that what
 * workers consume while no daemon runs is harvested when one is back.  It
 * names the segment it belongs to (its random hash seed and birth, which
 * a re-created segment does not share) and what the node keeps across
 * its restarts (struct fgd_keep).  It is created 0600 with O_EXCL and
 * O_NOFOLLOW under a temporary name and renamed into place; one that is not a
 * regular file of ours, closed to others, is refused: a local user who
 * could write it could make the daemon report consumption nobody had.
 *
 * Eviction lives here too, because it needs the baseline: a bucket of a
 * global rule may go only once everything it admitted was harvested.
 */
#ifndef FGD_HARVEST_H
#define FGD_HARVEST_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/topdenied.h"
#include "lib/floodgate.h"

/* Per rule, over the live buckets plus what evicted ones held, as the
 * last harvest saw them: what /metrics serves inside the daemon, so that
 * a scrape never scans the table in the daemon's loop (the harvest reads
 * these words anyway).  A bucket
 * counts denials and would-be denials alike (the slot's aux): each
 * harvest gives what the count grew by to the mode the rule has then, so
 * a rule moved from shadow to enforce keeps its past in shadow_denied.
 * The sums never fall (a bucket evicted during a pass is missed once). */
struct fgd_rule_sums {
	uint64_t keys, allowed;
	uint64_t denied, shadow_denied; /* by mode at each harvest */
	uint64_t aux;                   /* the buckets' count so far */
};

/* The live buckets' part of the sums, kept by difference. */
struct fgd_live {
	uint64_t keys, allowed, denied;
};

/*
 * What a node keeps across its restarts beside the baselines, so that a
 * daemon killed at any instant comes back as the same incarnation, its
 * counts, versions and seqs continued (node.h): in the state file (zero
 * in a new one), else in the harvest.  The take under way is journalled
 * in it: the harvest arms (jtag, jslot, jseen) before it calls the taker
 * and disarms once the baseline moved; the taker writes what it is about
 * to change (c*) under the same tag first, so that a restart can tell
 * whether the take happened (fgd_counts_recover) and finish its half
 * (fgd_harvest_recover): the growth is taken once, never twice or not at
 * all.
 */
struct fgd_keep {
	uint64_t incarnation; /* the last one this node used */
	uint64_t version;     /* of our records' last change (counts.h) */
	uint64_t total;       /* tokens harvested in this incarnation */
	uint64_t emitted;     /* version the rounds sent so far cover */
	uint64_t seq[2];      /* reserved (node.c): none used at or above */
	uint64_t jtag, jslot, jseen; /* the harvest's half: slot + 1 */
	uint64_t ctag, cid[2], ccount, ctotal, cdelta; /* the taker's */
	uint64_t pad;
};

_Static_assert(sizeof(struct fgd_keep) == 128, "the keep: two lines");

#define FGD_BASE_NONE 0u /* fgd_base.id: no bucket */
#define FGD_BASE_DEAD 2u /* an abandoned insert */

struct fgd_harvest {
	fg_client *fg;
	struct fgd_base {
		uint64_t id;      /* the slot's key (fg_slot_view.id, odd);
		                   * FGD_BASE_NONE or FGD_BASE_DEAD */
		uint64_t alt;     /* the key's other bucket (its id's) */
		uint64_t seen;    /* its count already taken */
		uint64_t allowed; /* its consumed count, in the sums */
		uint64_t denied;  /* its denials, in the sums */
	} * base;          /* per slot; in the state file when there is one */
	size_t base_bytes; /* mapped length, 0 when calloc'ed */
	struct fgd_keep *keep; /* in the state file; else &own_keep */
	struct fgd_keep own_keep;
	int resumed; /* the state file was the previous daemon's */
	uint64_t nslots;
	uint64_t passes;
	uint64_t visited; /* slots of the changed blocks the passes read */
	uint64_t last_ms; /* when the last pass ran */
	uint64_t ready;   /* buckets the last pass saw */
	uint64_t dead;    /* and abandoned inserts */
	struct fgd_rule_sums sums[FG_RULES_MAX]; /* valid once it ran */
	struct fgd_live live[FG_RULES_MAX];      /* live buckets' part */
	struct fgd_topdenied top;                /* the keys denied most */
	uint64_t table_full_seen; /* the segment's table_full at the last
	                           * eviction pass */
};

/*
 * The harvest of @fg's table, its baseline in @state_path (NULL: memory
 * only).  With a state file left by the previous daemon on this segment,
 * what workers consumed meanwhile is harvested at the first pass; without
 * one, what the segment holds now is taken as already reported.  0, or -1
 * with why in @err (a file not ours, no memory).
 */
int fgd_harvest_init(struct fgd_harvest *h, fg_client *fg,
                     const char *state_path, char *err, size_t errlen);
void fgd_harvest_fini(struct fgd_harvest *h);

/* The incarnation to use: @want, or one above the last one this node
 * used on this segment if that is not below it; recorded as the last. */
uint64_t fgd_harvest_incarnation(struct fgd_harvest *h, uint64_t want);

/* Finish the take a killed daemon left half done (struct fgd_keep): its
 * baseline moves if the taker says it was @taken; disarmed either way. */
void fgd_harvest_recover(struct fgd_harvest *h, int taken);

/* Take the growth of (@rule, @key)'s bucket: 0, or -1 to leave it for a
 * later pass.  The taker journals in the keep (struct fgd_keep). */
typedef int fgd_take_fn(void *arg, unsigned rule, const uint8_t *key,
                        size_t len, uint64_t delta, uint64_t now_ms);

/* One pass: what every bucket of a global rule admitted since the last
 * goes to @take; the sums and the ranking are brought up to date. */
void fgd_harvest_pass(struct fgd_harvest *h, uint64_t now_ms, fgd_take_fn *take,
                      void *arg);

/*
 * Table pressure: when the last pass saw more buckets than the segment is
 * sized for, or checks found no room since the last call, evict every
 * bucket that is full again and whose consumption has been harvested.  A
 * full bucket decides as an absent one would, so this changes no decision
 * and loses nothing owed to the other nodes.  With @always, whatever the
 * pressure.  Returns how many were evicted.
 */
uint64_t fgd_harvest_evict(struct fgd_harvest *h, int always);

#endif
