/* SPDX-License-Identifier: ISC */
/*
 * override.h - the override table of a segment (override.c).
 */
#ifndef FG_SHM_OVERRIDE_H
#define FG_SHM_OVERRIDE_H

#include <stddef.h>
#include <stdint.h>

#include "shm/layout.h"

/* Slots a probe visits at most: an entry further from its home is
 * refused at insert, so a lookup that has seen this many is done. */
#define FG_OVR_PROBE 32u

/*
 * The live entry of (@rule, @kind, @key) of @len bytes (@kind:
 * FG_OVR_PREFIX or 0), copied to *@out: 1, or 0 when there is none (or
 * the owner rewrote it under us so often that it counts as none).  Any
 * process, without a lock.
 */
int fg__ovr_find(const struct fg_ovr_region *o, const uint64_t seed[2],
                 unsigned rule, unsigned kind, const void *key, size_t len,
                 struct fg_ovr_entry *out);

/*
 * The owner's writes (the segment's owner lock held).  fg__ovr_put makes
 * @e (state FG_OVR_LIVE, fields checked by the caller) the live entry of
 * its (rule, kind, key): 0, or FG_ENOMEM when its probe window is full.
 * fg__ovr_del removes that entry: 1 removed, 0 there was none.
 */
int fg__ovr_put(struct fg_ovr_region *o, const uint64_t seed[2],
                const struct fg_ovr_entry *e);
int fg__ovr_del(struct fg_ovr_region *o, const uint64_t seed[2], unsigned rule,
                unsigned kind, const void *key, size_t len);

/* The live entry of slot @i (below FG_OVR_SLOTS) into *@out: 1, or 0
 * when it holds none.  For listings and snapshots. */
int fg__ovr_at(const struct fg_ovr_region *o, unsigned i,
               struct fg_ovr_entry *out);

/* The override in effect for (@rule, @key): its exact entry, else its
 * longest prefix entry, with numbers a check can use; 1 with *@out, or
 * 0.  Any process, without a lock. */
int fg__ovr_lookup(const struct fg_ovr_region *o, const uint64_t seed[2],
                   unsigned rule, const void *key, size_t len,
                   struct fg_ovr_entry *out);

/* The next live, usable entry from *@cursor (0 to start): 1 with *@out,
 * 0 at the end. */
int fg__ovr_next(const struct fg_ovr_region *o, unsigned *cursor,
                 struct fg_ovr_entry *out);

/* Rule @rule's live entries: how many, and in *@lens the mask of its
 * prefixes' lengths (bit L-1 for L bytes).  A scan of the whole table. */
unsigned fg__ovr_count(const struct fg_ovr_region *o, unsigned rule,
                       uint64_t *lens);

#endif
