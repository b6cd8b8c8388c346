/* SPDX-License-Identifier: ISC */
/*
 * window.c - the check of a fixed- or sliding-window rule.
 *
 * The same shape as a GCRA check (client.c): find the key's bucket (there,
 * fg__win_check_at), judge the pair read, move it with one cmpxchg16b that
 * also adds the cost to the slot's count (what the daemon harvests and
 * gossips; here, fg__win_step).  Only the
 * meaning of tat differs: a window's id and counts (shm/window.h) instead
 * of a time.  A GCRA rule never comes here: fg__check sends a window rule
 * off its inline path on the flag test it already makes, so the GCRA
 * check pays nothing for windows.
 */
#include "lib/window.h"

#include "shm/clock.h"
#include "shm/window.h"

/* The decision's details of counts @a after a check of @cost: 1 admitted,
 * else 0 (or 1 for a shadow rule). */
static int decide(unsigned idx, uint32_t flags, const struct fg_win *w,
                  const struct fg_win_at *a, uint32_t cost, int admitted,
                  fg_decision *d)
{
	if (d) {
		d->limit = w->limit;
		d->remaining = (uint32_t)fg__win_remaining(w, a);
		d->retry_after_ms = 0;
		d->reset_ms = fg__ns_to_ms_ceil(fg__win_reset(w, a));
		d->flags = 0;
		d->rule = idx;
	}
	if (admitted)
		return 1;
	if (flags & FG__RULE_SHADOW) {
		if (d)
			d->flags = FG_DECISION_SHADOW;
		return 1;
	}
	if (d)
		d->retry_after_ms = fg__ns_to_ms_ceil(fg__win_wait(w, a, cost));
	return 0;
}

int fg__win_step(struct fg_table *t, const struct fg_win *w, unsigned idx,
                 uint32_t flags, struct fg_ref *ref, struct fg_pair *p,
                 uint32_t cost, uint64_t now, fg_decision *d)
{
	struct fg_win_at a;
	uint64_t next;
	int admitted;

	for (;;) {
		/* never an eviction's mark here: found anew when one shows */
		admitted = fg__win_take(w, p->tat, now, cost, &a, &next);
		if (!admitted) {
			fg__table_deny(t, ref); /* for operators */
			break;
		}
		if (fg__pair_advance(ref->s, p, next, cost)) {
			/* the first admission since the owner's harvest */
			if (p->word & FG_W_CLEAN)
				fg__table_touch(t, fg__ref_block(t, ref));
			break;
		}
		/* moved by another check; or the key moved, or the bucket is
		 * being evicted: the key's bucket again */
		if (!fg__ref_valid(ref) || p->tat == FG_TAT_EVICTED)
			return -1;
	}
	return decide(idx, flags, w, &a, cost, admitted, d);
}
