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
 * Where the table has no room for a tally, the denial goes uncounted; a
 * host rule's tally may take the place of one of the rule's own full
 * buckets, as a check's new key does (a global rule's full buckets are
 * the daemon's to evict, once harvested).
 *
 * Layering.  This file works on the table and the rule's record, with
 * what it needs of the rule in struct fg_penalty (penalty.h), and calls
 * nothing of client.c: the check calls it (fg__penalize()), so that the
 * modules stay a hierarchy.
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
 * bucket's tat, which snapshots keep, and which a refill (floodgate
 * reset) lifts.  Exactly one
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
 * A process killed between its take of the tally's last token and the
 * block leaves the key unblocked, its tally empty: the key is blocked by
 * the first denial that finds a token again, one T later at most (a lost
 * block, never a wrong one; said in CAVEATS of libfloodgate(3)).
 *
 * Other hosts.  On a global rule, the k tokens are in the count, which
 * the daemon harvests and gossips as consumption (gossip/harvest.c), and
 * the other hosts debit them from their bucket of the key: a host whose
 * bucket of the key held what this host's admissions had taken from it
 * is blocked for about B too.  Their bounds on what an honest host may
 * report (gossip/counts.c) allow for the blocks a rule can make.  The
 * tally is this host's: the other hosts count their own denials.
 */
#include "lib/penalty.h"

#include <string.h>
#include <urcu/uatomic.h>

#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/scan.h"

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

/* The one check of both fg__penalty_check() and fg__penalty_sane(). */
static int fits(uint64_t n, uint64_t window, uint64_t block, uint64_t tau,
                uint64_t max_delay, uint64_t interval_ns)
{
	return n != 0 && window != 0 && block != 0 &&
	       n <= FG_TAU_MAX / window &&
	       block <= FG_TAU_MAX - tau - max_delay &&
	       (tau + block) / interval_ns < UINT32_MAX;
}

int fg__penalty_check(const fg_rule *rule, uint64_t interval_ns)
{
	if (!(rule->flags & FG_RULE_PENALTY))
		return (rule->penalty_denials | rule->penalty_window_ms |
		        rule->penalty_block_ms)
		           ? -1
		           : 0;
	return fits(rule->penalty_denials, rule->penalty_window_ms * MS,
	            rule->penalty_block_ms * MS, rule->capacity * interval_ns,
	            rule->max_delay_ms * MS, interval_ns)
	           ? 0
	           : -1;
}

int fg__penalty_sane(const struct fg_rule_params *p)
{
	if (!(p->flags & FG__RULE_PENALTY))
		return (p->penalty_denials | p->penalty_window_ms |
		        p->penalty_block_ms | p->reserved) == 0;
	if ((p->flags & FG__RULE_IN_FLIGHT) || p->reserved != 0)
		return 0;
	/* the caller checked that capacity x interval fits */
	return fits(p->penalty_denials, p->penalty_window_ms * MS,
	            p->penalty_block_ms * MS, p->capacity * p->interval_ns,
	            p->max_delay_ns, p->interval_ns);
}

void fg__penalty_of(const struct fg_rule_params *p, struct fg_penalty *pen)
{
	memset(pen, 0, sizeof *pen);
	if (!(p->flags & FG__RULE_PENALTY))
		return;
	pen->interval_ns = p->interval_ns;
	pen->tau_ns = p->capacity * p->interval_ns;
	pen->max_delay_ns = p->max_delay_ns;
	pen->tally_ns = p->penalty_window_ms * MS;
	pen->tally_tau_ns = pen->tally_ns * p->penalty_denials;
	pen->block_ns = p->penalty_block_ms * MS;
	pen->evict = !(p->flags & FG__RULE_GLOBAL);
}

static int own_bucket(void *arg, unsigned rule)
{
	return rule == *(const unsigned *)arg;
}

/*
 * Find the bucket of (@idx, @key), inserting it if it is absent, with its
 * pair in *@p (never an eviction's mark): 1, or 0 when the table has no
 * room.  As a check finds one (fg__bucket_find()), but making room only
 * with the rule's own full buckets, and only if @pen says it may.
 */
static int find(struct fg_table *t, unsigned idx, const struct fg_penalty *pen,
                const void *key, size_t len, uint64_t now, struct fg_ref *ref,
                struct fg_pair *p)
{
	const uint64_t h = fg__hash64(t->seed, idx, key, len);
	const struct fg_room room = {own_bucket, &idx, now};
	unsigned tries = 0;

	for (;;) {
		struct fg_slot *s =
		    pen->evict
		        ? fg__table_find_evict(t, idx, key, len, h, ref, &room)
		        : fg__table_find_ref(t, idx, key, len, h, ref);

		if (s == NULL) {
			if (!pen->evict || tries++ == 4 ||
			    !fg__table_make_room(t, h, &room))
				return 0;
			continue;
		}
		fg__pair_load(s, p);
		if (!fg__ref_valid(ref))
			continue;
		if (p->tat != FG_TAT_EVICTED)
			return 1;
		fg__table_bury(t, ref); /* evicted under us: absent now */
	}
}

/*
 * Count a denial of (@idx, @key) at @now in its tally: 1 if it is the
 * one that empties it (the key is to be blocked).  Concurrent denials
 * read their clocks in another order than their takes land: a take
 * whose clock is earlier than the one before it finds fewer tokens than
 * a later clock would, and may see the tally empty before its last
 * token went, and the next take empty it again.  So the take that
 * empties it leaves it empty at its own clock (no token for any clock
 * less than one interval later), and every other denial of those
 * processes then finds it empty: one block.
 */
static int tally(struct fg_table *t, unsigned idx, const struct fg_penalty *pen,
                 const void *key, size_t len, uint64_t now)
{
	uint8_t k[FG_KEY_MAX];
	size_t klen = tally_key(t, idx, key, len, k);
	struct fg_ref ref;
	struct fg_pair p;
	uint64_t next;

	if (!find(t, idx, pen, k, klen, now, &ref, &p))
		return 0; /* no room: the denial goes uncounted */
	for (;;) {
		int empties;

		if (!fg__gcra_take(p.tat, now, pen->tally_ns, pen->tally_tau_ns,
		                   1, &next))
			return 0; /* empty already: blocked, or just was */
		empties = next - now > pen->tally_tau_ns - pen->tally_ns;
		if (empties && next - now < pen->tally_tau_ns)
			next = now + pen->tally_tau_ns;
		if (fg__pair_advance(ref.s, &p, next, 0))
			return empties;
		/* moved by another denial; or the key moved, or the
		 * tally is being evicted: find it again */
		if ((!fg__ref_valid(&ref) || p.tat == FG_TAT_EVICTED) &&
		    !find(t, idx, pen, k, klen, now, &ref, &p))
			return 0;
	}
}

/* Take the bucket of (@idx, @key), at @ref with pair *@p, to at least
 * @now + tau + block, counting the whole tokens that reach that far (a
 * fraction of one more than tat moves: the other hosts block no less):
 * 1 done (*@p as left, *@took the tokens counted), 0 when it is gone and
 * the table has no room for it again. */
static int block(struct fg_table *t, unsigned idx, const struct fg_penalty *pen,
                 const void *key, size_t len, uint64_t now, struct fg_ref *ref,
                 struct fg_pair *p, uint64_t *took)
{
	const uint64_t until = now + pen->tau_ns + pen->block_ns;
	const uint64_t T = pen->interval_ns;

	for (;;) {
		uint64_t base = fg__gcra_base(p->tat, now), k;

		*took = 0;
		if (base >= until)
			return 1;               /* in debt that long already */
		k = (until - base + T - 1) / T; /* below 2^32: fits() */
		*took = k;
		if (fg__pair_advance(ref->s, p, until, k)) {
			if (p->word & FG_W_CLEAN) /* for the harvest */
				fg__table_touch(t, fg__ref_block(t, ref));
			p->tat = until;
			p->word = (p->word & ~FG_W_CLEAN) + k;
			return 1;
		}
		if ((!fg__ref_valid(ref) || p->tat == FG_TAT_EVICTED) &&
		    !find(t, idx, pen, key, len, now, ref, p))
			return 0;
	}
}

int fg__penalty(struct fg_table *t, struct fg_rule_rec *rec, unsigned idx,
                const struct fg_penalty *pen, const void *key, size_t len,
                uint64_t now, struct fg_ref *ref, struct fg_pair *p)
{
	uint64_t took;

	if (fg__penalty_blocked(pen, p->tat, now))
		return 0; /* what it is denied while blocked does not count */
	if (!tally(t, idx, pen, key, len, now) ||
	    !block(t, idx, pen, key, len, now, ref, p, &took))
		return 0;
	uatomic_inc(&rec->penalties);
	/* for operators: a block's tokens are in the count, with what the
	 * rule admitted */
	uatomic_add(&rec->penalty_tokens, took);
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

int fg__penalty_lift(struct fg_table *t, unsigned idx, const void *key,
                     size_t len, uint64_t now)
{
	uint8_t k[FG_KEY_MAX];
	size_t klen;
	int done;

	if (t == NULL || idx >= FG_MAX_RULES || key == NULL || len == 0 ||
	    len > FG_KEY_MAX)
		return FG_EINVAL;
	klen = tally_key(t, idx, key, len, k);
	done = refill(t, idx, key, len, now);
	(void)refill(t, idx, k, klen, now); /* its denials are forgiven */
	return done;
}
