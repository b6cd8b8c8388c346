/* SPDX-License-Identifier: ISC */
/*
 * quota.c - per-rule quotas of slots, so that one rule cannot starve all.
 *
 * Without quotas, one rule flooded with new keys (random addresses, forged
 * user ids) fills the table, and then every new key of every rule finds
 * no room: a fail-closed rule denies everyone new, and the daemon's debits
 * of global rules are dropped.  With them, each rule's buckets may hold at
 * most its quota of slots (its share of the table, FG_SHARE_DEFAULT percent
 * unless configured), and an insert past it is refused for that rule alone:
 * the inserter then makes room among the rule's own full buckets, and when
 * there are none the rule's on-full policy decides, exactly as when the
 * table is full.  The other rules keep the rest of the table.
 *
 * The count.  A rule record holds one word: the slots its buckets hold in
 * the low half, and a count of operations on it in the high half.  An
 * inserter reserves its key's slots with one fetch-and-add, before it
 * claims, and takes them back if that goes past the quota; so however
 * many processes insert at once, the rule's buckets never hold more than
 * the quota (a check of a key already present never looks).  Slots come
 * back with another fetch-and-add when an insert ends without a new bucket
 * (the key was there after all, no room) and when a bucket is freed (its
 * burier, table.c, once per bucket).  Neither is a system call, and only
 * inserts and evictions, never the check of a present key, touch the word.
 *
 * Killed processes.  The word cannot move in the same instruction as the
 * table, so a process killed between the two leaves it wrong: an inserter
 * killed after reserving (before its claim, or with its claim, which is
 * then abandoned and reaped), a burier killed after freeing the slot.
 * Each leaves the count too high, never too low, by its key's slots: the
 * rule then has less than its quota, and nobody else loses anything.  The
 * owner's periodic maintenance (fg_reap(), every 10 s in floodgated)
 * re-synchronises it (fg__table_quota_resync(), shm/scan.c): it reads
 * each word, counts the slots of each rule's buckets in the table, and
 * where the word is still unchanged -- no operation at all during the
 * count, which the high half tells even when reservations and returns
 * cancel out -- sets it to the count with a compare-and-swap that
 * expects it unchanged.  So a count
 * left wrong by killed processes is right again at the first maintenance
 * during which its rule inserted and freed nothing.
 *
 * Bound.  A re-sync that coincides with inserts already reserved but not
 * yet published (or buckets freed whose slots are not given back yet)
 * sets the word without them, and their later publication or return moves
 * it away from the truth: by at most the slots of the processes that were
 * in the middle of an insert or an eviction of that rule at that instant
 * (4 slots each), until the next quiet re-sync.  A rule may so hold a few
 * slots more than its quota, never more than that.
 */
#include "shm/quota.h"

/* A share of @pct percent; FG_SHARE_DEFAULT (floodgate.h), a new rule's,
 * is 50: one flooded rule leaves the other half to the others. */
uint64_t fg__quota_of(uint64_t nslots, unsigned pct)
{
	uint64_t q;

	if (pct == 0 || pct >= 100)
		return 0;
	q = nslots / 100 * pct + nslots % 100 * pct / 100;
	return q > 0 ? q : 1;
}

static struct fg_rule_rec *rec_of(struct fg_rule_rec *rules, unsigned rule)
{
	if (rules == NULL || rule >= FG_MAX_RULES)
		return NULL;
	return &rules[rule];
}

int fg__quota_take(struct fg_rule_rec *rules, unsigned rule, unsigned span)
{
	struct fg_rule_rec *r = rec_of(rules, rule);
	uint64_t quota, old;

	if (r == NULL)
		return 1;
	quota = __atomic_load_n(&r->slot_quota, __ATOMIC_RELAXED);
	old =
	    __atomic_fetch_add(&r->slots, FG_QUOTA_OP + span, __ATOMIC_SEQ_CST);
	if (quota == 0 || fg__quota_held(old) + span <= (int64_t)quota)
		return 1;
	__atomic_fetch_add(&r->slots, FG_QUOTA_OP - span, __ATOMIC_SEQ_CST);
	return 0;
}

void fg__quota_give(struct fg_rule_rec *rules, unsigned rule, unsigned span)
{
	struct fg_rule_rec *r = rec_of(rules, rule);

	if (r != NULL)
		__atomic_fetch_add(&r->slots, FG_QUOTA_OP - span,
		                   __ATOMIC_SEQ_CST);
}

int fg__quota_set(struct fg_rule_rec *r, uint64_t before, uint32_t held)
{
	uint64_t want;

	if ((uint32_t)before == held)
		return 0;
	want = (before & ~UINT64_C(0xffffffff)) + FG_QUOTA_OP + held;
	return __atomic_compare_exchange_n(&r->slots, &before, want, 0,
	                                   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
