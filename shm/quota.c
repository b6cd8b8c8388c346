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
 * re-synchronises it: it reads each word, counts the slots of each rule's
 * buckets in the table, reads the word again, and where the word is
 * unchanged -- no operation at all during the count, which the high half
 * tells even when reservations and returns cancel out -- sets it to the
 * count with a compare-and-swap that expects it unchanged.  So a count
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

#include "shm/group.h"

/* FG_SHARE_DEFAULT (floodgate.h): no rule may hold more than half the
 * slots, so one flooded rule leaves the other half to the others. */

uint64_t fg__quota_of(uint64_t nslots, unsigned pct)
{
	uint64_t q;

	if (pct == 0 || pct >= 100)
		return 0;
	q = nslots / 100 * pct + nslots % 100 * pct / 100;
	return q > 0 ? q : 1;
}

static struct fg_rule_rec *rec_of(struct fg_table *t, unsigned rule)
{
	if (t->rules == NULL || rule >= FG_MAX_RULES)
		return NULL;
	return &t->rules[rule];
}

int fg__quota_take(struct fg_table *t, unsigned rule, unsigned span)
{
	struct fg_rule_rec *r = rec_of(t, rule);
	uint64_t quota, old;

	if (r == NULL)
		return 1;
	quota = fg__load(&r->slot_quota);
	old =
	    __atomic_fetch_add(&r->slots, FG_QUOTA_OP + span, __ATOMIC_SEQ_CST);
	if (quota == 0 || fg__quota_held(old) + span <= (int64_t)quota)
		return 1;
	__atomic_fetch_add(&r->slots, FG_QUOTA_OP - span, __ATOMIC_SEQ_CST);
	return 0;
}

void fg__quota_give(struct fg_table *t, unsigned rule, unsigned span)
{
	struct fg_rule_rec *r = rec_of(t, rule);

	if (r != NULL)
		__atomic_fetch_add(&r->slots, FG_QUOTA_OP - span,
		                   __ATOMIC_SEQ_CST);
}

/* Add the slots of the buckets of group @g to @held, per rule: 1, or 0 if
 * the group kept changing while it was read. */
static int count_group(const struct fg_block *b, unsigned half, uint32_t *held)
{
	const struct fg_group *g = &b->g[half];
	uint32_t add[FG_GROUP_SLOTS];
	unsigned rule[FG_GROUP_SLOTS], i, n, tries;
	struct gs s;

	for (tries = 0; tries < 8; tries++) {
		gload(g, &s);
		for (n = 0, i = 0; i < FG_GROUP_SLOTS; i++) {
			unsigned j = half * FG_GROUP_SLOTS + i;

			if (FG_TAG_STATE(tag_at(s.tags, i)) != FG_SLOT_READY)
				continue;
			rule[n] = FG_W_RULE(fg__load(&b->s[j].word));
			add[n++] = owned_span(s.tags, i);
		}
		cmm_smp_rmb();
		if (fg__load(&g->ver) != s.ver)
			continue;
		for (i = 0; i < n; i++)
			if (rule[i] < FG_MAX_RULES)
				held[rule[i]] += add[i];
		return 1;
	}
	return 0;
}

unsigned fg__quota_resync(struct fg_table *t)
{
	uint64_t before[FG_MAX_RULES], blk, want;
	uint32_t held[FG_MAX_RULES] = {0};
	unsigned r, fixed = 0;

	if (t->rules == NULL)
		return 0;
	for (r = 0; r < FG_MAX_RULES; r++)
		before[r] = fg__load(&t->rules[r].slots);
	for (blk = 0; blk < t->nblocks; blk++)
		if (!count_group(&t->blocks[blk], 0, held) ||
		    !count_group(&t->blocks[blk], 1, held))
			return 0; /* churn: the next maintenance */
	cmm_smp_mb();
	for (r = 0; r < FG_MAX_RULES; r++) {
		uint64_t w = before[r];

		if ((uint32_t)w == held[r])
			continue;
		want = (w & ~UINT64_C(0xffffffff)) + FG_QUOTA_OP + held[r];
		fixed += __atomic_compare_exchange_n(&t->rules[r].slots, &w,
		                                     want, 0, __ATOMIC_SEQ_CST,
		                                     __ATOMIC_SEQ_CST);
	}
	return fixed;
}
