/* SPDX-License-Identifier: ISC */
/*
 * scan.h - reading the table from outside the request path.
 *
 * The daemon's harvest, snapshots, metrics, the operator's CLI, benchmarks
 * and tests all need to look at buckets without taking part in the state
 * machine of table.c.  This is their only way in: nothing outside shm/
 * and lib/ reads the slot array or its control words.
 *
 * Every copy is consistent: the slot's word is read before and after the
 * bucket is copied (its key bytes change only after the slot was FREE,
 * which changes the word), and a copy taken while the slot changed hands
 * is thrown away.  A copy may be stale a moment later (workers keep
 * checking, keys move); what it promises is that its key, rule and
 * counters belong to one bucket.
 *
 * Counters.  A slot's `count` is the number of tokens its key was
 * admitted; it never decreases while a bucket lives, moves with the key
 * when the key moves to its other bucket, and the harvest takes
 * differences of it.  `origin` is what count was when the bucket was
 * created (0 since layout 9: a new bucket starts at 0), so `consumed` =
 * count - origin.  `id` names the key (its rule in the top 8 bits, and
 * its hash): the same at every slot the key moves to, and `alt` is the
 * key's other bucket, where a move would take it.  A harvest that finds
 * a key new at a slot looks for what it knew of it at the key's other
 * slots first (gossip/harvest.c).
 */
#ifndef FG_SHM_SCAN_H
#define FG_SHM_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "shm/layout.h"
#include "shm/table.h"

/* A consistent copy of one slot. */
struct fg_slot_view {
	uint64_t slot;     /* its index, below fg__table_nslots() */
	uint64_t id;       /* rule << 56 | the key's hash (odd): the key's */
	uint64_t alt;      /* the key's other bucket */
	uint64_t tat;      /* GCRA TAT; FG_TAT_EVICTED while evicted */
	uint64_t word;     /* the bucket's word as read (layout.h) */
	uint64_t count;    /* tokens admitted in the slot (grow-only) */
	uint64_t origin;   /* count when the bucket was created */
	uint64_t consumed; /* count - origin: this bucket's admissions */
	uint64_t denied;   /* denials counted in this bucket */
	unsigned state;    /* enum fg_slot_state */
	unsigned rule;     /* rule index (READY only) */
	unsigned keylen;   /* 1..FG_TABLE_KEY_MAX (READY only) */
	uint8_t key[FG_SLOT_KEY_MAX];
};

/* Per-rule sums over the live buckets plus what evicted ones held. */
struct fg_rule_sum {
	uint64_t keys, allowed, denied;
};

struct fg_table_sums {
	uint64_t used;    /* slots holding a live bucket */
	uint64_t dead;    /* abandoned claims not yet reaped */
	uint64_t claimed; /* claims in progress (or abandoned, unseen) */
	uint64_t consumed, denied; /* over the live buckets only */
	struct fg_rule_sum r[FG_MAX_RULES];
};

/* Slots in the table (the range of fg_slot_view.slot). */
uint64_t fg__table_nslots(const struct fg_table *t);

/*
 * Copy slot @i: 1 if it holds a live bucket (READY, not being evicted),
 * with every field of @v set; 0 otherwise, with v->slot and v->state set
 * (state FG_SLOT_READY then means: changed while being read, being
 * evicted, or corrupt).
 */
int fg__slot_read(const struct fg_table *t, uint64_t i, struct fg_slot_view *v);

/* The next live bucket at slot *@cursor or after: 1 with @v and *@cursor
 * moved past it, 0 at the end of the table.  Start with *@cursor = 0. */
int fg__slot_next(const struct fg_table *t, uint64_t *cursor,
                  struct fg_slot_view *v);

/*
 * The slots of the pages of buckets that changed since the previous pass
 * (scan.c), one at a time, live or not: 1 with @v (v->state tells whether
 * it is a bucket; READY with keylen 0: one that kept changing while it was
 * read, or is corrupt, to be visited again; MOVING or COPY: a key in
 * flight), 0 when done.  A pass starts with *@cursor = 0; only the owner's
 * harvest may run passes (a pass resets what the next one sees).
 */
int fg__harvest_next(struct fg_table *t, uint64_t *cursor,
                     struct fg_slot_view *v);

/* Have the next pass visit @slot's page again (the harvest could not
 * take what it read there yet). */
void fg__harvest_again(struct fg_table *t, uint64_t slot);

/* Have the next pass visit every page (a daemon that does not know what
 * happened since its last pass: it restarted). */
void fg__harvest_all(struct fg_table *t);

/* Whether the next pass has a block to visit: 1 when a bucket changed
 * since the last pass read it (or the table is not tracked), else 0.  A
 * bucket that is not clean has its block marked until a pass reads it:
 * the first change after a read marks it. */
int fg__harvest_pending(const struct fg_table *t);

/* The live bucket of (@rule, @key): 1 with @v, 0 if it is absent. */
int fg__bucket_get(const struct fg_table *t, unsigned rule, const void *key,
                   size_t len, struct fg_slot_view *v);

/*
 * Refill the bucket @v (read by one of the functions above) at @now: its
 * TAT becomes @now, its counts stay.  1 refilled; 0 if it was full
 * already, is being evicted, holds leases (an in-flight rule's), or the
 * slot holds another bucket now.
 */
int fg__bucket_refill(struct fg_table *t, const struct fg_slot_view *v,
                      uint64_t now);

/*
 * Evict the bucket @v if it is full at @now and unchanged since it was
 * read (nothing admitted or denied since: its counts go to its rule's
 * record).  FG__EVICT_FREED evicted; FG__EVICT_RENEWED reset to a new
 * bucket of the key, which stays (a check admitted in it first, or a move
 * held it): it counts from 0; 0 left alone.  For the owner, who decides
 * that nothing in it is still owed (table.h).
 */
int fg__bucket_evict(struct fg_table *t, const struct fg_slot_view *v,
                     uint64_t now);

/* The first half of an eviction, as an evictor stopped half-way leaves
 * it (for tests): 1 if @v was marked. */
int fg__bucket_mark_evicted(struct fg_table *t, const struct fg_slot_view *v);

/* The state of slot @i (enum fg_slot_state), for counts in tests. */
unsigned fg__slot_state(const struct fg_table *t, uint64_t i);

/*
 * The owner's re-synchronisation of the rules' quota words (shm/quota.c):
 * count the slots each rule's buckets hold, and set every word that no
 * insert or eviction moved during the count to it.  Returns how many were
 * set.  O(slots); the caller holds the owner lock.
 */
unsigned fg__table_quota_resync(struct fg_table *t);

/* Sum the table: occupancy, and per rule the live buckets, their
 * admissions and denials plus the rule's evicted counts.  O(slots). */
void fg__table_sums(const struct fg_table *t, struct fg_table_sums *s);

#endif
