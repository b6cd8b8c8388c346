/* SPDX-License-Identifier: ISC */
/*
 * quota.h - a rule's share of the table's slots (see quota.c).
 */
#ifndef FG_SHM_QUOTA_H
#define FG_SHM_QUOTA_H

#include <stdint.h>

#include "shm/layout.h"

/* One operation on a quota word: the high half counts them (quota.c). */
#define FG_QUOTA_OP (UINT64_C(1) << 32)

/* The slots a quota word says are held (its low half, signed: a re-sync
 * racing an insert may leave it a little below the truth). */
static inline int64_t fg__quota_held(uint64_t word)
{
	return (int32_t)(uint32_t)word;
}

/* The quota of slots for a share of @pct percent of @nslots: at least
 * one; 0 (no quota) for 100 percent. */
uint64_t fg__quota_of(uint64_t nslots, unsigned pct);

/*
 * Reserve @span slots for a new bucket of rule @rule: 1 if its quota
 * allows them (or it has none), 0 if they would take it past its quota
 * (nothing reserved).  @rules may be NULL (no quotas).  Every reservation is
 * given back with fg__quota_give() when the bucket is freed, or not made after
 * all.
 */
int fg__quota_take(struct fg_rule_rec *rules, unsigned rule, unsigned span);
void fg__quota_give(struct fg_rule_rec *rules, unsigned rule, unsigned span);

/*
 * The owner's re-synchronisation: rule @r's buckets were counted holding
 * @held slots while its word read @before at the start of the count; set
 * the word to @held if no operation moved it since.  1 if it was set.
 */
int fg__quota_set(struct fg_rule_rec *r, uint64_t before, uint32_t held);

#endif
