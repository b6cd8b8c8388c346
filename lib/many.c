/* SPDX-License-Identifier: ISC */
/*
 * many.c - one request under several rules: all admit, or none keeps a
 * token (fg_allow_many()).
 *
 * A request is usually limited by several rules at once (per user, per
 * address, per endpoint); it may go only if every rule admits it, and a
 * rule that admitted must not pay for a request another rule denied.  The
 * buckets are in different slots, so no single cmpxchg16b moves them all;
 * a multi-word CAS would need descriptors that a process killed half-way
 * leaves behind.  Instead the check goes in three steps, each of them
 * lock-free, and gives back what it took when a race makes it lose.
 *
 *  1. Read.  Every triple's bucket is found (inserted if absent) and its
 *     pair copied, all at one clock reading.  If any rule denies at that
 *     moment, the request is denied and nothing was written but the
 *     denials of the rules that deny: the common denial costs no more
 *     than single checks do.
 *  2. Take.  Each bucket's tat moves by a cmpxchg16b from the pair read,
 *     in order of fewest tokens left first (where a race is most likely
 *     lost, before anything else is held).  A cmpxchg16b that fails was
 *     beaten by another check: the rule is judged again on the pair it
 *     returned, and if it now denies, the tokens already taken are given
 *     back (a refund) and the request is denied.
 *  3. Count.  Once every bucket is taken, the count of each grows by its
 *     cost.  The last take of step 2 moves tat and count in one step, so
 *     a single-rule call is exactly fg_allow()'s one cmpxchg16b, and n
 *     rules cost 2n - 1.
 *
 * Why tat first and the count after.  The daemon harvests each bucket's
 * grow-only count (gossip/harvest.c): whatever the count reads when a
 * pass comes by is gossiped to the other hosts as consumed, and a pass
 * may come between any two of our steps.  So the count must only ever
 * hold tokens that stay taken.  A take that may be refunded moves the
 * level that decides here (tat) and leaves the count alone; a refund
 * moves tat back and leaves the count alone too.  A refunded token was
 * therefore never in the count, no harvest can have read it, and the
 * count stays grow-only (the harvest takes differences modulo 2^48: a
 * count that went down would read as 2^48 tokens consumed).  A token that
 * stays taken is counted in step 3 and gossiped at the next pass, as any
 * other.  A pair moved by tat alone keeps the count it had.
 *
 * A refund is relative: tat goes back by cost x T from wherever other
 * checks have moved it since (levels add), never below the check's time
 * (a bucket is never fuller than full).  It must go to the bucket the
 * tokens came from.  While the slot still holds the key, it is that
 * bucket (shm/table.c).  When it does not (the key moved to its other
 * bucket, say), the key is looked up again, but only while the clock is before
 * our take's tat: a bucket is evicted only once it is full at the
 * evictor's clock, so until then the key's bucket is still ours.  Past
 * that time the refund is given up: its tokens stay taken until they
 * refill, which errs on the side of the limit.
 *
 * A worker killed between steps 2 and 3 leaves the tokens it took from
 * the rules it passed taken until they refill (at most one request's
 * costs), and never counted: they are never gossiped.
 *
 * What concurrent checks see.  No rule ever admits more than its bucket
 * holds: every take is the GCRA admission test on the pair it replaces.
 * A check that runs while a multi-rule check holds tokens it is about to
 * give back may be denied for want of them: a denial a serial order
 * would not have made, never an admission.  Two multi-rule checks that
 * each hold a rule the other needs may both be denied; the tokens come
 * back at once.
 */
#include "lib/client.h"

#include <urcu/uatomic.h>

#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/table.h"

/* What a triple's rule says, as last judged. */
enum { TAKE, SKIP, DENY };

struct item {
	const struct fg__triple *in;
	const struct fg_rule_cache *rc;
	const struct fg_win *win; /* a window rule's, else NULL (GCRA) */
	struct fg_rule_cache ovr; /* rc, when the key has an override */
	uint64_t h;
	struct fg_ref ref;
	struct fg_pair p; /* the bucket's pair as last read or left */
	uint64_t next;    /* TAKE: tat once taken */
	uint64_t extra;   /* ns past tau it may take: a reservation's delay */
	uint64_t left;    /* whole tokens left then (untracked: most) */
	unsigned pos;     /* in the caller's array */
	unsigned state;   /* TAKE, SKIP (a shadow rule that would deny, or
	                   * no room and fail-open), DENY */
	unsigned flags;   /* FG_DECISION_* */
	int tracked;      /* it has a bucket: ref and p mean something */
	int held;         /* step 2 moved its tat only: count or refund */
};

/* Whole tokens left in @it's bucket once taken (for the order of step 2
 * and the choice of what to describe). */
static uint64_t item_left(const struct item *it, uint64_t now)
{
	const struct fg_rule_cache *rc = it->rc;

	uint64_t tat = it->state == TAKE ? it->next : it->p.tat;
	int64_t left;

	if (!it->tracked)
		return UINT64_MAX;
	if (it->win != NULL) {
		left = fg__win_left(it->win, tat, now);
		return left > 0 ? (uint64_t)left : 0;
	}
	return fg__gcra_remaining_inv(tat, now, rc->interval_ns,
	                              rc->interval_inv, rc->tau_ns);
}

/* Whether @it's rule admits its cost on the pair read, with it->next. */
static int item_admits(struct item *it, uint64_t now)
{
	const struct fg_rule_cache *rc = it->rc;
	struct fg_win_at a;

	if (it->win != NULL)
		return fg__win_take(it->win, it->p.tat, now, it->in->cost, &a,
		                    &it->next);
	return fg__gcra_take(it->p.tat, now, rc->interval_ns,
	                     rc->tau_ns + it->extra, it->in->cost, &it->next);
}

/* Judge @it's rule on the pair read, at @now. */
static void item_judge(struct item *it, uint64_t now)
{
	const struct fg_rule_cache *rc = it->rc;

	it->flags = it->tracked ? 0 : FG_DECISION_UNTRACKED;
	if (it->tracked ? item_admits(it, now)
	                : !(rc->flags & FG__RULE_FAIL_CLOSED))
		it->state = it->tracked ? TAKE : SKIP;
	else if (rc->flags & FG__RULE_SHADOW) { /* never denies */
		it->state = SKIP;
		it->flags |= FG_DECISION_SHADOW;
	} else {
		it->state = DENY;
	}
	it->left = item_left(it, now);
}

/* Find @it's bucket and judge its rule.  The bucket at home, where keys
 * mostly are, inline. */
static inline __attribute__((always_inline)) void
item_read(fg_client *c, struct item *it, uint64_t now)
{
	const struct fg__triple *in = it->in;
	struct fg_slot *s = fg__table_find_home(&c->seg.tbl, in->rule, in->key,
	                                        in->len, it->h, &it->ref);

	it->tracked = 0;
	if (s != NULL) {
		fg__pair_load(s, &it->p);
		it->tracked =
		    fg__ref_valid(&it->ref) && it->p.tat != FG_TAT_EVICTED;
	}
	if (!it->tracked)
		it->tracked = fg__bucket_find(c, in->rule, in->key, in->len,
		                              it->h, now, &it->ref, &it->p);
	if (!it->tracked)
		uatomic_inc(&c->seg.rules[in->rule].table_full);
	item_judge(it, now);
}

/* ns until @it's rule would admit it (0 if it does). */
static uint64_t item_wait(const struct item *it, uint64_t now)
{
	const struct fg_rule_cache *rc = it->rc;

	if (it->state == TAKE)
		return 0;
	struct fg_win_at a;

	if (!it->tracked)
		return rc->interval_ns;
	if (it->win != NULL) {
		fg__win_read(it->win, it->p.tat, now, &a);
		return fg__win_wait(it->win, &a, it->in->cost);
	}
	return fg__gcra_wait(it->p.tat, now, rc->interval_ns,
	                     rc->tau_ns + it->extra, it->in->cost);
}

/* ns after @now when @it's taken tokens are there (0: now; a window
 * rule never delays, and its next is counts, not a time). */
static uint64_t item_delay(const struct item *it, uint64_t now)
{
	uint64_t ahead = it->next - now;

	return it->state == TAKE && it->win == NULL && ahead > it->rc->tau_ns
	           ? ahead - it->rc->tau_ns
	           : 0;
}

/* Count a denial (or a shadow rule's would-be denial) in @it's bucket,
 * and a denial's penalty (lib/penalty.c: it->p as a block leaves it). */
static void item_deny(fg_client *c, struct item *it, uint64_t now)
{
	const struct fg__triple *in = it->in;

	if (!it->tracked ||
	    !(it->state == DENY || it->flags & FG_DECISION_SHADOW))
		return;
	fg__table_deny(&c->seg.tbl, &it->ref);
	if (it->state == DENY)
		fg__penalize(c, in->rule, it->rc, in->key, in->len, now,
		             &it->ref, &it->p);
}

/*
 * Step 2 for @it: move its tat, and with @count its count as well.  1
 * taken; 0 when, judged again after losing a race, its rule no longer
 * takes (state DENY, or SKIP).
 */
static int item_take(fg_client *c, struct item *it, uint64_t now, int count)
{
	struct fg_table *t = &c->seg.tbl;

	while (it->state == TAKE) {
		if (fg__pair_advance(it->ref.s, &it->p, it->next,
		                     count ? it->in->cost : 0)) {
			if (count && (it->p.word & FG_W_CLEAN))
				fg__table_touch(t, fg__ref_block(t, &it->ref));
			it->p.tat = it->next; /* the pair as we left it */
			it->held = !count;
			return 1;
		}
		/* Moved by another check: judge the pair it returned.  The
		 * key moved, or the bucket is being evicted: find the key
		 * again. */
		if (fg__ref_valid(&it->ref) && it->p.tat != FG_TAT_EVICTED)
			item_judge(it, now);
		else
			item_read(c, it, now);
	}
	item_deny(c, it, now);
	return 0;
}

/* The tat a fresh bucket of @it's rule moves to with a count only. */
static uint64_t fresh_tat(const struct item *it, uint64_t now)
{
	struct fg_win_at a;

	if (it->win == NULL)
		return now;
	fg__win_read(it->win, 0, now, &a);
	return fg__win_tat(it->win, &a);
}

/* Step 3 for @it: its count grows by its cost, tat left as it is. */
static void item_count(fg_client *c, struct item *it, uint64_t now)
{
	struct fg_table *t = &c->seg.tbl;
	const struct fg__triple *in = it->in;

	for (;;) {
		/* a bucket found anew is fresh (tat 0): it moves to now, or
		 * to the current window with nothing counted */
		uint64_t tat = it->p.tat ? it->p.tat : fresh_tat(it, now);

		if (fg__pair_advance(it->ref.s, &it->p, tat, in->cost)) {
			if (it->p.word & FG_W_CLEAN)
				fg__table_touch(t, fg__ref_block(t, &it->ref));
			return;
		}
		if (fg__ref_valid(&it->ref) && it->p.tat != FG_TAT_EVICTED)
			continue;
		/* The key moved, or the bucket went (we were stopped until
		 * it refilled): the key's bucket now counts it. */
		if (!fg__bucket_find(c, in->rule, in->key, in->len, it->h, now,
		                     &it->ref, &it->p))
			return; /* no room: taken, and counted nowhere */
	}
}

/* @it's slot changed under a refund: its bucket again, if it is surely
 * the one the tokens came from (see the top of the file); 0 if not. */
static int item_again(fg_client *c, struct item *it)
{
	const struct fg__triple *in = it->in;
	struct fg_table *t = &c->seg.tbl;

	uint64_t now = fg__now_ns();

	if (it->win != NULL ? fg__win_left(it->win, it->next, now) ==
	                          (int64_t)it->win->limit
	                    : now >= it->next)
		return 0; /* it may have been evicted: give up */
	do {
		if (fg__table_lookup(t, in->rule, in->key, in->len, it->h,
		                     &it->ref) == NULL)
			return 0;
		fg__pair_load(it->ref.s, &it->p);
	} while (!fg__ref_valid(&it->ref));
	return it->p.tat != FG_TAT_EVICTED;
}

/* Give back what step 2 took of @it: its tat goes back by cost x T. */
static void item_refund(fg_client *c, struct item *it, uint64_t now)
{
	const uint64_t back = it->in->cost * it->rc->interval_ns;

	for (;;) {
		uint64_t tat = it->p.tat, next;

		if (it->win != NULL)
			next = fg__win_refund(it->win, tat, it->next, now,
			                      it->in->cost);
		else if (tat <= now)
			return; /* full at our time: refilled by the owner */
		else
			next = tat - now > back ? tat - back : now;
		if (next == tat || fg__pair_advance(it->ref.s, &it->p, next, 0))
			return;
		if (fg__ref_valid(&it->ref) && it->p.tat != FG_TAT_EVICTED)
			continue;
		if (!item_again(c, it))
			return;
	}
}

static void hook(fg_client *c, unsigned stage)
{
	if (caa_unlikely(c->many_hook != NULL))
		c->many_hook(c, stage, c->many_arg);
}

/* Fill @d from @it; @admitted: the request went through. */
static void describe(const struct item *it, uint64_t now, int admitted,
                     fg_decision *d)
{
	const struct fg_rule_cache *rc = it->rc;
	uint64_t tat = it->state == TAKE ? it->next : it->p.tat;

	d->limit = rc->capacity;
	d->remaining = 0;
	d->reset_ms = 0;
	d->retry_after_ms =
	    admitted ? 0 : fg__ns_to_ms_ceil(item_wait(it, now));
	d->flags = it->flags;
	d->rule = it->in->rule;
	if (!it->tracked)
		return;
	if (it->win != NULL) {
		struct fg_win_at a;

		fg__win_read(it->win, tat, now, &a);
		d->remaining = (uint32_t)fg__win_remaining(it->win, &a);
		d->reset_ms = fg__ns_to_ms_ceil(fg__win_reset(it->win, &a));
		return;
	}
	d->remaining = (uint32_t)fg__gcra_remaining_inv(
	    tat, now, rc->interval_ns, rc->interval_inv, rc->tau_ns);
	d->reset_ms = fg__ns_to_ms_ceil(fg__gcra_reset(tat, now));
}

/* The item of @items whose @state is @state and whose wait is the
 * longest (@most) or tokens left the fewest (!@most); NULL if none. */
static const struct item *pick(const struct item *items, unsigned n,
                               unsigned state, unsigned flags, int most,
                               uint64_t now)
{
	const struct item *best = NULL;
	uint64_t bv = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct item *it = &items[i];
		uint64_t v;

		if (it->state != state || (it->flags & flags) != flags)
			continue;
		v = most ? item_wait(it, now) : it->left;
		if (best == NULL || (most ? v > bv : v < bv)) {
			best = it;
			bv = v;
		}
	}
	return best;
}

static int decided(const struct item *it, uint64_t now, int admitted,
                   fg_decision *d, unsigned *which)
{
	if (d != NULL)
		describe(it, now, admitted, d);
	if (which != NULL)
		*which = it->pos;
	return admitted;
}

/* Step 2's order: fewest tokens left first (ties: the caller's order). */
static unsigned take_order(struct item *items, unsigned n, struct item **order)
{
	unsigned i, j, k = 0;

	for (i = 0; i < n; i++) {
		if (items[i].state != TAKE)
			continue;
		for (j = k++; j > 0 && order[j - 1]->left > items[i].left; j--)
			order[j] = order[j - 1];
		order[j] = &items[i];
	}
	return k;
}

/* What the request that went through says: a shadow rule that would have
 * denied, else the rule with the fewest tokens left, else (all untracked) the
 * first. */
static int admitted(const struct item *items, unsigned n, uint64_t now,
                    fg_decision *d, unsigned *which)
{
	const struct item *it;

	if (d == NULL && which == NULL)
		return 1;
	it = pick(items, n, SKIP, FG_DECISION_SHADOW, 1, now);

	if (it == NULL)
		it = pick(items, n, TAKE, 0, 0, now);
	return decided(it ? it : &items[0], now, 1, d, which);
}

/* @it for triple @in at @pos; @reserve: a reservation's (its rule's
 * max delay stretches its tolerance, but never a shadow rule's). */
static void item_init(fg_client *c, struct item *it,
                      const struct fg__triple *in, unsigned pos, int reserve)
{
	it->in = in;
	it->h = fg__hash64(c->seg.tbl.seed, in->rule, in->key, in->len);
	fg__table_prefetch(&c->seg.tbl, it->h);
	it->rc = fg__rule_key_h(c, in->rule, &c->rc[in->rule], in->key, in->len,
	                        it->h, &it->ovr);
	it->win = it->rc->flags & FG__RULE_WINDOWS ? &c->win[in->rule] : NULL;
	it->pos = pos;
	it->held = 0;
	it->extra = reserve && !(it->rc->flags & FG__RULE_SHADOW)
	                ? it->rc->max_delay_ns
	                : 0;
}

/* fg__check_many(), and with @delay_ns a reservation of them all
 * (fg__reserve_many()). */
static int check_many(fg_client *c, const struct fg__triple *in, unsigned n,
                      uint64_t now, uint64_t *delay_ns, fg_decision *d,
                      unsigned *which)
{
	struct item items[FG_TRIPLES_MAX], *order[FG_TRIPLES_MAX];
	unsigned i, k, j, denials = 0;

	/* 1. read: every key's hash (and the fetch of its lines) first, so
	 * that the lookups do not wait for one another's misses */
	for (i = 0; i < n; i++)
		item_init(c, &items[i], &in[i], i, delay_ns != NULL);
	for (i = 0; i < n; i++) {
		struct item *it = &items[i];

		item_read(c, it, now);
		if (caa_unlikely(it->state != TAKE)) {
			item_deny(c, it, now);
			denials += it->state == DENY;
		}
	}
	if (denials > 0)
		return decided(pick(items, n, DENY, 0, 1, now), now, 0, d,
		               which);
	hook(c, 0);
	k = take_order(items, n, order);
	for (j = 0; j < k; j++) { /* 2. take */
		if (item_take(c, order[j], now, j + 1 == k)) {
			hook(c, j + 1);
			continue;
		}
		if (order[j]->state != DENY)
			continue; /* a shadow rule, or no room: nothing to take
			           */
		for (i = 0; i < j; i++)
			if (order[i]->held)
				item_refund(c, order[i], now);
		return decided(order[j], now, 0, d, which);
	}
	for (j = 0; j < k; j++) { /* 3. count */
		if (order[j]->held)
			item_count(c, order[j], now);
		if (delay_ns != NULL && item_delay(order[j], now) > *delay_ns)
			*delay_ns = item_delay(order[j], now);
	}
	return admitted(items, n, now, d, which);
}

int fg__check_many(fg_client *c, const struct fg__triple *in, unsigned n,
                   uint64_t now, fg_decision *d, unsigned *which)
{
	return check_many(c, in, n, now, NULL, d, which);
}

int fg__reserve_many(fg_client *c, const struct fg__triple *in, unsigned n,
                     uint64_t now, uint64_t *delay_ns, fg_decision *d,
                     unsigned *which)
{
	*delay_ns = 0;
	return check_many(c, in, n, now, delay_ns, d, which);
}

/* @ck checked as fg_allow() checks its arguments, into @t: 0 or the
 * error. */
static int triple(fg_client *c, const fg_triple *ck, struct fg__triple *t,
                  unsigned pos)
{
	const struct fg_rule_cache *rc;
	struct fg_rule_cache buf;
	size_t len;
	int idx = fg__call_args_hint(c, ck->rule, ck->key, 0, ck->cost, &len,
	                             &rc, &buf, &c->many_hint[pos]);

	if (idx < 0)
		return idx;
	t->rule = (unsigned)idx;
	t->key = ck->key;
	t->len = len;
	t->cost = ck->cost;
	return 0;
}

/* The triples of a public call checked into @in: 0 or the error (and
 * *@which the triple at fault). */
static int triples_in(fg_client *c, const fg_triple *triples, unsigned n,
                      struct fg__triple *in, unsigned *which)
{
	unsigned i;
	int r;

	if (which != NULL)
		*which = 0;
	if (c == NULL || triples == NULL || n == 0 || n > FG_TRIPLES_MAX)
		return FG_EINVAL;
	for (i = 0; i < n; i++) {
		r = triple(c, &triples[i], &in[i], i);
		if (r != 0) {
			if (which != NULL)
				*which = i;
			return r;
		}
	}
	return 0;
}

int fg_allow_many(fg_client *c, const fg_triple *triples, unsigned n,
                  fg_decision *d, unsigned *which)
{
	struct fg__triple in[FG_TRIPLES_MAX];
	int r = triples_in(c, triples, n, in, which);

	if (r != 0)
		return r;
	return fg__check_many(c, in, n, fg__now_ns(), d, which);
}

int fg_reserve_many(fg_client *c, const fg_triple *triples, unsigned n,
                    uint64_t *delay_ns, fg_decision *d, unsigned *which)
{
	struct fg__triple in[FG_TRIPLES_MAX];
	int r;

	if (delay_ns == NULL)
		return FG_EINVAL;
	*delay_ns = 0;
	r = triples_in(c, triples, n, in, which);
	if (r != 0)
		return r;
	return fg__reserve_many(c, in, n, fg__now_ns(), delay_ns, d, which);
}
