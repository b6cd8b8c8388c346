/* SPDX-License-Identifier: ISC */
/*
 * reserve.c - delay instead of deny (fg_reserve()).
 *
 * A prefork server often prefers to hold a request a little rather than
 * refuse it (nginx's burst with delay, x/time/rate's Reserve and Wait).
 * A rule with a maximum delay D lets a request go now if a check would
 * admit it, and otherwise after the wait until its tokens are there, if
 * that wait is at most D.  In GCRA terms (shm/gcra.h) the tolerance tau
 * stretches to tau + D:
 *
 *     n = max(TAT, t) + cost * T;   n - t <= tau + D   then   TAT <- n
 *
 * and the request may proceed after max(0, n - t - tau).  The tokens are
 * taken now, by the same cmpxchg16b as a check's, which also adds them to
 * the count: the bucket goes up to D into debt, and whoever comes next
 * waits behind it, or is denied (checks deny while the bucket is in
 * debt).  Beyond D the request is denied and takes nothing.  A request
 * proceeds at n - tau: each reservation moves TAT by its own cost, so
 * concurrent reservations from any number of processes get distinct
 * times, cost x T apart, never more than the bucket allows by then.
 *
 * Against x/time/rate's Reserve (golang.org/x/time/rate): the same
 * arithmetic (Go keeps tokens = (tau - (TAT - t)) / T and waits for the
 * missing ones at the rate), and the same refusal of a request above the
 * burst (FG_ECOST) or beyond the longest wait (Go's maxFutureReserve,
 * Wait's context deadline).  Three differences, each by design: time is
 * CLOCK_MONOTONIC shared by processes, and an older reading is stricter,
 * never looser (Go resets its clock to a time that went backwards); a
 * rule change keeps a bucket's debt as time, as for checks (Go converts
 * its tokens to the new rate); and there is no Cancel, since the tokens of
 * a reservation are counted, and may be gossiped, at once.  A shadow rule
 * never delays: it answers as a check would.
 *
 * A window rule (shm/window.h) has no maximum delay: what it admits is
 * counted in the window it arrives in, and a later window owes it nothing.
 * fg_reserve() answers for it exactly as fg_allow() does, with no delay.
 */
#include "lib/client.h"

#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/table.h"

/* The details of a bucket left at @tat (or found there) at @now. */
static void describe(unsigned idx, const struct fg_rule_cache *rc, uint64_t tat,
                     uint64_t now, uint64_t retry_ns, unsigned flags,
                     fg_decision *d)
{
	if (d == NULL)
		return;
	d->limit = rc->capacity;
	d->remaining = (uint32_t)fg__gcra_remaining_inv(
	    tat, now, rc->interval_ns, rc->interval_inv, rc->tau_ns);
	d->retry_after_ms = fg__ns_to_ms_ceil(retry_ns);
	d->reset_ms = fg__ns_to_ms_ceil(fg__gcra_reset(tat, now));
	d->flags = flags;
	d->rule = idx;
}

int fg__reserve_at(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                   const void *key, size_t len, uint32_t cost, uint64_t now,
                   uint64_t *delay_ns, fg_decision *d)
{
	struct fg_table *t = &c->seg.tbl;
	const int shadow = (rc->flags & FG__RULE_SHADOW) != 0;
	const uint64_t most = rc->tau_ns + (shadow ? 0 : rc->max_delay_ns);
	uint64_t h = fg__hash64(t->seed, idx, key, len), next;
	struct fg_ref ref;
	struct fg_pair p;

	*delay_ns = 0;
	if (rc->flags & FG__RULE_WINDOWS) /* no delay: a check */
		return fg__win_check_at(c, idx, rc, key, len, cost, now, d);
	if (!fg__bucket_find(c, idx, key, len, h, now, &ref, &p))
		return fg__untracked(c, idx, rc, d);
	for (;;) {
		next = fg__gcra_base(p.tat, now) + cost * rc->interval_ns;
		if (next - now > most)
			break; /* beyond the longest wait */
		if (fg__pair_advance(ref.s, &p, next, cost)) {
			if (p.word & FG_W_CLEAN) /* as a check's admission */
				fg__table_touch(t, fg__ref_block(t, &ref));
			if (next - now > rc->tau_ns)
				*delay_ns = next - now - rc->tau_ns;
			describe(idx, rc, next, now, 0, 0, d);
			return 1;
		}
		/* moved by another process; or the key moved, or the
		 * bucket is being evicted: the key's bucket again */
		if ((!fg__ref_valid(&ref) || p.tat == FG_TAT_EVICTED) &&
		    !fg__bucket_find(c, idx, key, len, h, now, &ref, &p))
			return fg__untracked(c, idx, rc, d);
	}
	fg__table_deny(t, &ref); /* for operators */
	if (!shadow) { /* a block moves the time a reservation would fit */
		fg__penalize(c, idx, rc, key, len, now, &ref, &p);
		next = fg__gcra_base(p.tat, now) + cost * rc->interval_ns;
	}
	describe(idx, rc, p.tat, now, shadow ? 0 : next - now - most,
	         shadow ? FG_DECISION_SHADOW : 0, d);
	return shadow;
}

int fg_reserve(fg_client *c, const char *rule, const char *key, uint32_t cost,
               uint64_t *delay_ns, fg_decision *d)
{
	const struct fg_rule_cache *rc;
	struct fg_rule_cache buf;
	size_t len;
	int idx;

	if (delay_ns == NULL)
		return FG_EINVAL;
	*delay_ns = 0;
	idx = fg__call_args(c, rule, key, 0, cost, &len, &rc, &buf);
	if (idx < 0)
		return idx;
	return fg__reserve_at(c, (unsigned)idx, rc, key, len, cost,
	                      fg__now_ns(), delay_ns, d);
}
