/* SPDX-License-Identifier: ISC */
/*
 * penalty.h - the penalty box (penalty.c), below the client: it works on
 * the table and a rule's record, so that the check (client.c) can call it
 * on its denial path.
 */
#ifndef FG_LIB_PENALTY_H
#define FG_LIB_PENALTY_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"
#include "shm/layout.h"
#include "shm/pair.h"
#include "shm/table.h"

/* What the penalty of a rule needs, as a process last validated it (in
 * its rule cache, lib/client.h); all 0 without FG__RULE_PENALTY. */
struct fg_penalty {
	uint64_t interval_ns, tau_ns, max_delay_ns; /* the rule's */
	uint64_t tally_ns;     /* T: the count forgets a denial each T */
	uint64_t tally_tau_ns; /* N x T: the count holds N denials */
	uint64_t block_ns;     /* B */
	int evict; /* host scope: a tally may take the place of one of the
	            * rule's full buckets (a global rule's: the daemon's) */
};

/* Whether @rule's penalty fields hold together, for a rule of tokens of
 * @interval_ns per token (fg_rule_set()): 0, or -1. */
int fg__penalty_check(const fg_rule *rule, uint64_t interval_ns);

/* Whether @p's penalty fields are ones fg_rule_set() writes (for readers
 * of the segment, which trust nothing in it). */
int fg__penalty_sane(const struct fg_rule_params *p);

/* @pen from @p, which fg__penalty_sane() accepts. */
void fg__penalty_of(const struct fg_rule_params *p, struct fg_penalty *pen);

/*
 * After a denial of (@idx, @key) at @now by a rule whose record is @rec
 * and penalty @pen: count it, and if it is the one that makes N within T,
 * block the key: its bucket, found at @ref with the pair *@p, is taken to
 * @now + tau + block.  1 blocked, with *@p the pair as left (and @ref, if
 * the key had to be found again); 0 not.
 */
int fg__penalty(struct fg_table *t, struct fg_rule_rec *rec, unsigned idx,
                const struct fg_penalty *pen, const void *key, size_t len,
                uint64_t now, struct fg_ref *ref, struct fg_pair *p);

/*
 * Lift a block of (@idx, @key): refill its bucket and forget its recent
 * denials (floodgate reset).  1 if there was something to refill, else 0;
 * or FG_EINVAL.
 */
int fg__penalty_lift(struct fg_table *t, unsigned idx, const void *key,
                     size_t len, uint64_t now);

/* How long from @now the bucket at @tat of a rule with the penalty @pen
 * stays blocked: the time until it is empty again, when its debt goes
 * past what admissions and reservations make; else 0 (also for a rule
 * without a penalty, whose @pen is all 0). */
static inline uint64_t fg__penalty_blocked(const struct fg_penalty *pen,
                                           uint64_t tat, uint64_t now)
{
	if (pen->block_ns == 0 || tat == FG_TAT_EVICTED || tat <= now ||
	    tat - now <= pen->tau_ns + pen->max_delay_ns)
		return 0;
	return tat - now - pen->tau_ns;
}

/* Whether a bucket's key is a penalty's count of denials (penalty.c),
 * which no caller's key is: for what lists keys. */
static inline int fg__penalty_tally(const uint8_t *key, size_t len)
{
	return len > 0 && key[0] == '\0';
}

#endif
