/*
 * table.h - the open-addressing table of buckets (see table.c).
 */
#ifndef FG_SHM_TABLE_H
#define FG_SHM_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <urcu/uatomic.h>

#include "shm/layout.h"
#include "shm/pair.h"

/* A claim unchanged this long is taken for abandoned (its inserter died or
 * is stopped) by a process that needs the same key. */
#define FG_CLAIM_STALE_NS (20u * 1000000u)

/* A process-private view of the table: geometry copied once, validated,
 * never re-read from shared memory. */
struct fg_table {
	struct fg_seg_hdr *hdr;
	struct fg_rule_rec *rules; /* NULL in tests of the table alone */
	struct fg_slot *slots;
	uint64_t nslots;
	uint64_t seed[2];
};

static inline uint64_t fg__table_home(const struct fg_table *t, uint64_t h)
{
	return (uint64_t)(((unsigned __int128)h * t->nslots) >> 64);
}

static inline uint64_t fg__table_meta(uint64_t h, unsigned rule, size_t len)
{
	return FG_CTL_MAKE(0, len, rule, 0, (uint32_t)h);
}

struct fg_slot *fg__table_find_slow(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    uint64_t *ctl);

/*
 * Find the bucket of (@rule, @key) whose hash is @h, inserting it if it is
 * absent; *@ctl gets the slot's ctl word as it was found READY (a check
 * compares it again after a failed CAS: eviction).  NULL when the probe
 * window has no room.  The common case, a live key near its home slot,
 * stays inline; anything else (end of chain, a claim in progress) goes to
 * the slow path.
 */
static inline struct fg_slot *fg__table_find_ctl(struct fg_table *t,
                                                 unsigned rule,
                                                 const void *key, size_t len,
                                                 uint64_t h, uint64_t *ctl)
{
	uint64_t meta = fg__table_meta(h, rule, len);
	uint64_t i = fg__table_home(t, h);
	unsigned j;

	for (j = 0; j < 8; j++) {
		struct fg_slot *s = &t->slots[i];
		uint64_t c = uatomic_read(&s->ctl);

		if (FG_CTL_STATE(c) == FG_SLOT_READY) {
			if ((c & FG_CTL_META_MASK) == meta) {
				cmm_smp_rmb(); /* key bytes after ctl */
				if (memcmp(s->key, key, len) == 0) {
					*ctl = c;
					return s;
				}
			}
		} else if (FG_CTL_STATE(c) != FG_SLOT_FREE &&
		           FG_CTL_STATE(c) != FG_SLOT_DEAD) {
			break;
		}
		if (++i == t->nslots)
			i = 0;
	}
	return fg__table_find_slow(t, rule, key, len, h, ctl);
}

static inline struct fg_slot *fg__table_find(struct fg_table *t,
                                             unsigned rule, const void *key,
                                             size_t len, uint64_t h)
{
	uint64_t ctl;

	return fg__table_find_ctl(t, rule, key, len, h, &ctl);
}

/* The bucket of (@rule, @key) if it is in the table; never inserts. */
struct fg_slot *fg__table_lookup(struct fg_table *t, unsigned rule,
                                 const void *key, size_t len, uint64_t h);

/* Mark claims seen unchanged for @min_age_ns (at least FG_CLAIM_STALE_NS)
 * DEAD, and make DEAD slots older than @min_age_ns FREE; returns how many
 * slots were freed.  Owner-side maintenance: O(slots). */
uint64_t fg__table_reap(struct fg_table *t, uint64_t now, uint64_t min_age_ns);

/*
 * Eviction (table.c).  fg__table_evict() frees @s, read as READY with ctl
 * @c and pair *@p, if the bucket is full at @now (and has been used); 0
 * when it is not, or was used meanwhile.  The caller decides that nothing
 * in it is still owed to anyone (the owner's harvest).  fg__table_bury()
 * finishes an eviction a stopped evictor left with its mark set.
 * fg__table_make_room() evicts one full bucket, of a rule @evictable
 * accepts, from the probe window of hash @h; 1 if it freed a slot.
 */
int fg__table_evict(struct fg_table *t, struct fg_slot *s, uint64_t c,
                    const struct fg_pair *p, uint64_t now);
void fg__table_bury(struct fg_table *t, struct fg_slot *s, uint64_t c);
int fg__table_make_room(struct fg_table *t, uint64_t h, uint64_t now,
                        int (*evictable)(void *arg, unsigned rule),
                        void *arg);

/*
 * For tests that stand in for a process killed at a given instruction.
 * fg__table_plant_claim() claims a slot for (@rule, @key) and stops, as
 * an inserter killed between claiming and publishing leaves it; it returns
 * the slot's index, or -1 if the key is present or the window is full.
 */
int64_t fg__table_plant_claim(struct fg_table *t, unsigned rule,
                              const void *key, size_t len, uint64_t h);

#endif
