/* SPDX-License-Identifier: ISC */
/*
 * penalty.c - the penalty box: a key denied N times within T is denied
 * for B (floodgate.conf's "penalty N denials in T block B").
 *
 * A client that keeps hammering after its 429s should be shut out for a
 * while, not served again the moment one token refills.  Everything here
 * runs on the denial path, which is already the slow one: an admission
 * pays nothing for the feature (a rule's flags are read by every check
 * anyway; FG__RULE_PENALTY is looked at only after a denial).
 *
 * Counting.  The denials of (rule, key) are counted in the table itself,
 * in a second bucket of the same rule, the tally, under a key no caller
 * can give: a NUL, then the key's bytes (keys given to the library are C
 * strings; of a 64-byte key, the first 55 bytes and 8 of a hash keyed by
 * the segment's secret seed, so that it still fits a slot).  The tally is
 * a GCRA bucket (shm/gcra.h) of N tokens refilled one every T; each denial
 * takes one, with one cmpxchg16b that leaves its count alone (a tally
 * admits nothing: the harvest never sees it grow, nothing is gossiped).
 * The denial whose take leaves it with no whole token blocks the key.
 *
 * Why one token every T, not every T/N.  From a full tally, the N-th of
 * denials at t1 <= ... <= tN empties it iff tN - t1 < T: N denials within
 * T block, N - 1 never do, and N spread over T or more do not (the terms
 * of the directive).  A refill of one every T/N would block only N
 * denials within T/N.  What the bucket adds to "N within T": denials that
 * keep coming more often than one every T on average block too, after
 * more of them (the tally forgets one denial each T).  Documented in
 * floodgate.conf(5).
 *
 * Blocking.  A block takes the key's own bucket to now + tau + B (or
 * leaves it where it is if it is further), with the same kind of
 * cmpxchg16b as an admission, and adds to its count the k tokens that
 * reach that far, rounded up.  So the bucket is empty B from now, and
 * refills at the rule's rate from there: the next request may go after
 * B and one token's time (retry_after says so).  The block is the
 * bucket's tat, which
 * snapshots keep; and a refill (floodgate reset) lifts it.  Exactly one
 * denial takes the tally's last token, so concurrent denials from any
 * number of processes make one block, and no check after the block's
 * cmpxchg16b is admitted before it ends (each admission is the GCRA test
 * on the pair it replaces).  Denials during a block are not counted: a
 * key is blocked for B, not for as long as it keeps asking (a bucket in
 * debt past its burst and any reservation's delay is blocked; so is one
 * that other hosts' consumption took there).  The tally refills during
 * the block, by B / T denials: after a block shorter than N x T, fewer
 * denials than N may block the key again.
 *
 * Other hosts.  On a global rule, the k tokens are in the count, which
 * the daemon harvests and gossips as consumption (gossip/harvest.c), and
 * the other hosts debit them from their bucket of the key: a host whose
 * bucket of the key held what this host's admissions had taken from it
 * is blocked for about B too.  Their bounds on what an honest host may
 * report (gossip/counts.c) allow for the blocks a rule can make.  The
 * tally is this host's: the other hosts count their own denials.
 */
#include "lib/client.h"

#include <urcu/uatomic.h>

#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/scan.h"
#include "shm/table.h"

#define MS UINT64_C(1000000)

/* The tally's key of the key @key (@len bytes) of rule @idx, into @out:
 * its length. */
static size_t tally_key(const struct fg_table *t, unsigned idx, const void *key,
                        size_t len, uint8_t out[FG_KEY_MAX])
{
	uint64_t h;

	out[0] = '\0';
	if (len < FG_KEY_MAX) {
		memcpy(out + 1, key, len);
		return len + 1;
	}
	h = fg__hash64(t->seed, ~(uint64_t)idx, key, len);
	memcpy(out + 1, key, FG_KEY_MAX - 1 - sizeof h);
	memcpy(out + FG_KEY_MAX - sizeof h, &h, sizeof h);
	return FG_KEY_MAX;
}

enum fg__rule_bad fg__penalty_check(const fg_rule *rule, uint64_t interval_ns)
{
	const uint64_t tau = rule->capacity * interval_ns;
	const uint64_t window = rule->penalty_window_ms * MS;
	const uint64_t block = rule->penalty_block_ms * MS;

	if (!(rule->flags & FG_RULE_PENALTY))
		return (rule->penalty_denials | rule->penalty_window_ms |
		        rule->penalty_block_ms)
		           ? FG__RULE_BAD_PENALTY
		           : FG__RULE_OK;
	if (rule->penalty_denials == 0 || window == 0 || block == 0 ||
	    rule->penalty_denials > FG_TAU_MAX / window ||
	    block > FG_TAU_MAX - tau - rule->max_delay_ms * MS ||
	    (tau + block) / interval_ns >= UINT32_MAX)
		return FG__RULE_BAD_PENALTY;
	return FG__RULE_OK;
}

int fg__penalty_sane(const struct fg_rule_params *p)
{
	const uint64_t window = p->penalty_window_ms * MS;
	const uint64_t block = p->penalty_block_ms * MS;
	uint64_t tau;

	if (!(p->flags & FG__RULE_PENALTY))
		return (p->penalty_denials | p->penalty_window_ms |
		        p->penalty_block_ms | p->reserved) == 0;
	if ((p->flags & FG__RULE_IN_FLIGHT) || p->reserved != 0 ||
	    p->penalty_denials == 0 || window == 0 || block == 0)
		return 0;
	tau = p->capacity * p->interval_ns; /* the caller checked it fits */
	return p->penalty_denials <= FG_TAU_MAX / window &&
	       block <= FG_TAU_MAX - tau - p->max_delay_ns &&
	       (tau + block) / p->interval_ns < UINT32_MAX;
}

/* Count a denial of (@idx, @key) at @now in its tally: 1 if it is the
 * one that empties it (the key is to be blocked). */
static int tally(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                 const void *key, size_t len, uint64_t now)
{
	struct fg_table *t = &c->seg.tbl;
	uint8_t k[FG_KEY_MAX];
	size_t klen = tally_key(t, idx, key, len, k);
	uint64_t h = fg__hash64(t->seed, idx, k, klen), next;
	struct fg_ref ref;
	struct fg_pair p;

	if (!fg__bucket_find(c, idx, k, klen, h, now, &ref, &p))
		return 0; /* no room: the denial goes uncounted */
	for (;;) {
		if (!fg__gcra_take(p.tat, now, rc->tally_ns, rc->tally_tau_ns,
		                   1, &next))
			return 0; /* empty already: blocked, or just was */
		if (fg__pair_advance(ref.s, &p, next, 0))
			return next - now > rc->tally_tau_ns - rc->tally_ns;
		/* moved by another denial; or the group changed, or the
		 * tally is being evicted: find it again */
		if ((!fg__ref_valid(&ref) || p.tat == FG_TAT_EVICTED) &&
		    !fg__bucket_find(c, idx, k, klen, h, now, &ref, &p))
			return 0;
	}
}

/* Take the bucket of (@idx, @key), at @ref with pair *@p, to at least
 * @now + tau + block, counting the whole tokens that reach that far (a
 * fraction of one more than tat moves: the other hosts block no less):
 * 1 done (*@p as left), 0 when it is gone and the table has no room for
 * it again. */
static int block(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                 const void *key, size_t len, uint64_t now, struct fg_ref *ref,
                 struct fg_pair *p)
{
	struct fg_table *t = &c->seg.tbl;
	const uint64_t until = now + rc->tau_ns + rc->block_ns;
	const uint64_t T = rc->interval_ns;

	for (;;) {
		uint64_t base = fg__gcra_base(p->tat, now), k;

		if (base >= until)
			return 1;               /* in debt that long already */
		k = (until - base + T - 1) / T; /* below 2^32: penalty_sane */
		if (fg__pair_advance(ref->s, p, until, k)) {
			if (p->word & FG_W_CLEAN) /* for the harvest */
				fg__table_touch(t, fg__ref_block(t, ref));
			p->tat = until;
			p->word = (p->word & ~FG_W_CLEAN) + k;
			return 1;
		}
		if ((!fg__ref_valid(ref) || p->tat == FG_TAT_EVICTED) &&
		    !fg__bucket_find(c, idx, key, len,
		                     fg__hash64(t->seed, idx, key, len), now,
		                     ref, p))
			return 0;
	}
}

int fg__penalty(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                const void *key, size_t len, uint64_t now, struct fg_ref *ref,
                struct fg_pair *p)
{
	if (fg__penalty_blocked(rc, p->tat, now))
		return 0; /* what it is denied while blocked does not count */
	if (!tally(c, idx, rc, key, len, now) ||
	    !block(c, idx, rc, key, len, now, ref, p))
		return 0;
	uatomic_inc(&c->seg.rules[idx].penalties);
	return 1;
}

/* Refill the bucket of (@idx, @key) at @now: 1 if it was not full. */
static int refill(struct fg_table *t, unsigned idx, const void *key, size_t len,
                  uint64_t now)
{
	struct fg_slot_view v;

	if (!fg__bucket_get(t, idx, key, len, &v))
		return 0;
	return fg__bucket_refill(t, &v, now);
}

int fg__penalty_lift(fg_client *c, unsigned idx, const void *key, size_t len,
                     uint64_t now)
{
	struct fg_table *t;
	uint8_t k[FG_KEY_MAX];
	size_t klen;
	int done;

	if (c == NULL || idx >= FG_MAX_RULES || key == NULL || len == 0 ||
	    len > FG_KEY_MAX)
		return FG_EINVAL;
	t = &c->seg.tbl;
	klen = tally_key(t, idx, key, len, k);
	done = refill(t, idx, key, len, now);
	(void)refill(t, idx, k, klen, now); /* its denials are forgiven */
	return done;
}
