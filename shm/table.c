/*
 * table.c - lock-free find-or-insert of buckets in shared memory.
 *
 * The table is an array of fixed-size slots with linear probing from a
 * key's home slot, bounded by FG_PROBE_MAX.  Processes that share it may
 * die at any instruction, so nothing here ever waits on another process
 * without a way out, and no state is left that needs recovery.
 *
 * Slot states (ctl word, layout.h):
 *
 *   EMPTY --claim--> CLAIMED --publish--> READY --evict--> FREE
 *   FREE  --claim--> CLAIMED --yield----> FREE
 *                    CLAIMED --stale----> DEAD --reap (owner)--> FREE
 *
 * Invariants.
 *  1. A slot never returns to EMPTY.  So every slot between a key's home
 *     and the slot that holds it stays non-EMPTY, and a lookup may stop at
 *     the first EMPTY slot.
 *  2. Only the claimer writes a CLAIMED slot's key and bucket, and only
 *     before it publishes; a READY slot's key never changes while its ctl
 *     word stays the same (a reuse after eviction changes the generation).
 *  3. At most one READY slot holds a given (rule, key).
 *
 * Inserting keeps (3) without a lock by claiming first and checking after.
 * The inserter claims the first FREE or EMPTY slot of the window with a
 * CAS that also records the key's fingerprint, then scans the window again.
 * If it finds the key READY elsewhere it yields its claim; if it finds
 * another claim for a key with the same fingerprint, the lower slot wins:
 * a claimer below waits for the one above to yield, the one above yields
 * at once.  Both claims and both scans are ordered by the CAS's full
 * barrier, so of two concurrent inserters at least one sees the other's
 * claim: they cannot both publish.  Waits only go upward, so they end.
 *
 * A claim whose process died would block same-key inserters for ever; a
 * waiter that sees a claim unchanged for FG_CLAIM_STALE_NS marks it DEAD
 * and goes on.  If the claimer was only slow, its publishing CAS fails and
 * it starts over: an abandoned claim never becomes READY.  A claim that no
 * inserter of the same key comes to abandon is found by the owner's
 * periodic fg_reap(), which marks it DEAD once it has seen it unchanged
 * for the grace period.  DEAD slots are made FREE again by fg_reap() after
 * a grace period long enough that a stopped claimer is not still writing
 * into them.
 *
 * Eviction.  When the table fills up, a bucket that is full again is worth
 * nothing: it decides exactly as an absent one would.  Evicting one takes
 * two CASes.  The first moves the (tat, consumed) pair from the values
 * that showed it full to (FG_TAT_EVICTED, consumed): a check racing it
 * either moved the pair first (the CAS fails: the bucket is in use, not
 * evicted) or meets the mark, which denies, and then looks the key up
 * again.  The second turns ctl from READY to FREE with the same state
 * bits as before, so the slot is reusable at once.  Two things keep a
 * check that read the old bucket from touching the next one: a check
 * compares the slot's ctl (its generation changes on every claim) after
 * any failed CAS, and a bucket whose tat is still 0 (published, never
 * moved) is never evicted, so no new bucket can show the pair an old
 * one was read with (a new bucket's tat is 0 or later than the eviction,
 * the old one's was non-zero and earlier).  Owners evict buckets of any
 * rule whose consumption has been harvested; workers that find no room
 * evict buckets of host-scope rules only (table.h, client.c).
 *
 * Cost.  A lookup of a live key reads ctl words (one cache line each)
 * until its fingerprint matches, then compares the key once; the inline
 * fast path in table.h covers that.  Only the first check of a key, or one
 * that meets a claim in progress, comes here.
 */
#include "shm/table.h"

#include <sched.h>

#include "shm/clock.h"
#include "shm/pair.h"

#define STATE_MASK ((uint64_t)7)

static unsigned window_of(const struct fg_table *t)
{
	return t->nslots < FG_PROBE_MAX ? (unsigned)t->nslots : FG_PROBE_MAX;
}

static struct fg_slot *slot_at(struct fg_table *t, uint64_t home, unsigned j)
{
	uint64_t i = home + j;

	if (i >= t->nslots)
		i -= t->nslots;
	return &t->slots[i];
}

static int key_equal(const struct fg_slot *s, const void *key, size_t len)
{
	cmm_smp_rmb(); /* the key bytes were published by the ctl CAS */
	return memcmp(s->key, key, len) == 0;
}

static uint64_t with_state(uint64_t c, unsigned state)
{
	return (c & ~STATE_MASK) | state;
}

/*
 * Wait for the claim @c on @s to end: returns the ctl the slot holds next.
 * Spins briefly (a claim lasts nanoseconds), then yields the CPU so that a
 * preempted claimer can finish, and after FG_CLAIM_STALE_NS without change
 * marks the claim DEAD.
 */
static uint64_t wait_claim(struct fg_table *t, struct fg_slot *s, uint64_t c)
{
	uint64_t start = 0;
	unsigned spins = 0;

	for (;;) {
		uint64_t cur = uatomic_read(&s->ctl);
		uint64_t now;

		if (cur != c)
			return cur;
		if (++spins < 256) {
			caa_cpu_relax();
			continue;
		}
		spins = 0;
		now = fg__now_ns();
		if (start == 0) {
			start = now;
		} else if (now - start >= FG_CLAIM_STALE_NS) {
			uint64_t dead = with_state(c, FG_SLOT_DEAD);

			cur = uatomic_cmpxchg(&s->ctl, c, dead);
			if (cur != c)
				return cur;
			uatomic_set(&s->aux, now);
			uatomic_inc(&t->hdr->abandoned);
			return dead;
		}
		(void)sched_yield();
	}
}

/* Give a claim back; if it was already taken for abandoned, leave it. */
static void yield_claim(struct fg_slot *s, uint64_t claimed)
{
	(void)uatomic_cmpxchg(&s->ctl, claimed, with_state(claimed, FG_SLOT_FREE));
}

struct fg_slot *fg__table_find_slow(struct fg_table *t, unsigned rule,
                                    const void *key, size_t len, uint64_t h,
                                    uint64_t *ctl)
{
	const uint64_t meta = fg__table_meta(h, rule, len);
	const uint64_t home = fg__table_home(t, h);
	const unsigned window = window_of(t);
	struct fg_slot *s, *mine;
	uint64_t c, claimed;
	unsigned j, target;

restart:
	/* 1. Look for the key; note the first slot a claim could take. */
	target = window;
	for (j = 0; j < window; j++) {
		s = slot_at(t, home, j);
		c = uatomic_read(&s->ctl);
	examine:
		switch (FG_CTL_STATE(c)) {
		case FG_SLOT_EMPTY:
			if (target == window)
				target = j;
			goto claim; /* end of chain (invariant 1) */
		case FG_SLOT_READY:
			if ((c & FG_CTL_META_MASK) == meta &&
			    key_equal(s, key, len)) {
				*ctl = c;
				return s;
			}
			break;
		case FG_SLOT_CLAIMED:
			if ((c & FG_CTL_META_MASK) == meta) {
				c = wait_claim(t, s, c);
				goto examine;
			}
			break;
		case FG_SLOT_FREE:
			if (target == window)
				target = j;
			break;
		default: /* DEAD, or garbage from a corrupt segment: skip */
			break;
		}
	}
	if (target == window)
		return NULL; /* no room in the window */

claim:
	/* 2. Claim the target, recording the key's fingerprint. */
	mine = slot_at(t, home, target);
	c = uatomic_read(&mine->ctl);
	if (FG_CTL_STATE(c) != FG_SLOT_EMPTY && FG_CTL_STATE(c) != FG_SLOT_FREE)
		goto restart;
	claimed = meta | FG_SLOT_CLAIMED |
	          ((uint64_t)((FG_CTL_GEN(c) + 1) & 0x3fffu) << 18);
	if (uatomic_cmpxchg(&mine->ctl, c, claimed) != c)
		goto restart;
	uatomic_set(&mine->aux, 0);
	uatomic_set(&mine->tat, 0); /* 0: a full bucket */
	uatomic_set(&mine->consumed, 0);
	memcpy(mine->key, key, len);
	memset(mine->key + len, 0, FG_SLOT_KEY_MAX - len);

	/* 3. Check that nobody else holds or is inserting the key. */
	for (j = 0; j < window; j++) {
		if (j == target)
			continue;
		s = slot_at(t, home, j);
		c = uatomic_read(&s->ctl);
	recheck:
		if (FG_CTL_STATE(c) == FG_SLOT_EMPTY)
			break;
		if ((c & FG_CTL_META_MASK) != meta)
			continue;
		if (FG_CTL_STATE(c) == FG_SLOT_READY) {
			if (key_equal(s, key, len)) {
				yield_claim(mine, claimed);
				*ctl = c;
				return s;
			}
		} else if (FG_CTL_STATE(c) == FG_SLOT_CLAIMED) {
			if (j < target) { /* the lower claim wins */
				yield_claim(mine, claimed);
				goto restart;
			}
			c = wait_claim(t, s, c);
			goto recheck;
		}
	}

	/* 4. Publish; fails only if a waiter took the claim for abandoned. */
	*ctl = with_state(claimed, FG_SLOT_READY);
	if (uatomic_cmpxchg(&mine->ctl, claimed, *ctl) != claimed)
		goto restart;
	uatomic_inc(&t->hdr->inserts);
	return mine;
}

struct fg_slot *fg__table_lookup(struct fg_table *t, unsigned rule,
                                 const void *key, size_t len, uint64_t h)
{
	const uint64_t meta = fg__table_meta(h, rule, len);
	const uint64_t home = fg__table_home(t, h);
	const unsigned window = window_of(t);
	unsigned j;

	for (j = 0; j < window; j++) {
		struct fg_slot *s = slot_at(t, home, j);
		uint64_t c = uatomic_read(&s->ctl);

		if (FG_CTL_STATE(c) == FG_SLOT_EMPTY)
			return NULL;
		if (FG_CTL_STATE(c) == FG_SLOT_READY &&
		    (c & FG_CTL_META_MASK) == meta && key_equal(s, key, len))
			return s;
	}
	return NULL;
}

uint64_t fg__table_reap(struct fg_table *t, uint64_t now, uint64_t min_age_ns)
{
	uint64_t stale = min_age_ns > FG_CLAIM_STALE_NS ? min_age_ns
	                                                : FG_CLAIM_STALE_NS;
	uint64_t i, n = 0;

	for (i = 0; i < t->nslots; i++) {
		struct fg_slot *s = &t->slots[i];
		uint64_t c = uatomic_read(&s->ctl);
		uint64_t since;

		switch (FG_CTL_STATE(c)) {
		case FG_SLOT_CLAIMED:
			/*
			 * A claim whose inserter died is abandoned by the next
			 * inserter of the same key; if none comes, by us.  The
			 * claim's tat is 0 (a full bucket) until published:
			 * stamp it with the time we first saw the claim.  The
			 * stamp only ever replaces 0, and any tat <= now reads
			 * as a full bucket, so a stamp that lands on a bucket
			 * published meanwhile changes nothing.  A tat beyond
			 * now is such a bucket, already in use: never touch it.
			 */
			since = uatomic_read(&s->tat);
			if (since == 0)
				(void)uatomic_cmpxchg(&s->tat, 0, now);
			else if (since <= now && now - since >= stale &&
			         uatomic_cmpxchg(&s->ctl, c,
			                         with_state(c, FG_SLOT_DEAD)) == c) {
				uatomic_set(&s->aux, now);
				uatomic_inc(&t->hdr->abandoned);
			}
			break;
		case FG_SLOT_DEAD:
			since = uatomic_read(&s->aux);
			if (since == 0 || since > now) {
				/* The marker died before stamping it, or a slow
				 * claimer wrote over the stamp: start the clock. */
				(void)uatomic_cmpxchg(&s->aux, since, now);
			} else if (now - since >= min_age_ns) {
				/* Clear the claim stamp first: once FREE, a new
				 * claim must not be judged by an old one. */
				uatomic_set(&s->tat, 0);
				if (uatomic_cmpxchg(&s->ctl, c,
				                    with_state(c, FG_SLOT_FREE)) == c)
					n++;
			}
			break;
		default:
			break;
		}
	}
	if (n)
		uatomic_add(&t->hdr->reaped, n);
	return n;
}

int fg__table_evict(struct fg_table *t, struct fg_slot *s, uint64_t c,
                    const struct fg_pair *p, uint64_t now)
{
	struct fg_pair cur = *p;

	if (FG_CTL_STATE(c) != FG_SLOT_READY || p->tat == 0 || p->tat > now)
		return 0;
	if (!fg__pair_advance(s, &cur, FG_TAT_EVICTED, 0))
		return 0; /* in use since it was read: keep it */
	fg__table_bury(t, s, c);
	return 1;
}

void fg__table_bury(struct fg_table *t, struct fg_slot *s, uint64_t c)
{
	/* The mark stops every check and debit, so consumed and the denial
	 * count are final; read them before the slot can be reused. */
	uint64_t consumed = uatomic_read(&s->consumed);
	uint64_t denied = uatomic_read(&s->aux);
	unsigned rule = FG_CTL_RULE(c);

	/* Anyone who meets the mark may finish the eviction; one CAS wins,
	 * and only a READY ctl that the mark was put on can match.  The
	 * winner moves the bucket's counts to its rule, so that per-rule
	 * totals survive the bucket. */
	if (uatomic_cmpxchg(&s->ctl, c, with_state(c, FG_SLOT_FREE)) != c)
		return;
	uatomic_inc(&t->hdr->evicted);
	if (t->rules != NULL && rule < FG_MAX_RULES) {
		uatomic_add(&t->rules[rule].evicted_consumed, consumed);
		uatomic_add(&t->rules[rule].evicted_denied, denied);
	}
}

int fg__table_make_room(struct fg_table *t, uint64_t h, uint64_t now,
                        int (*evictable)(void *arg, unsigned rule),
                        void *arg)
{
	const uint64_t home = fg__table_home(t, h);
	const unsigned window = window_of(t);
	unsigned j;

	for (j = 0; j < window; j++) {
		struct fg_slot *s = slot_at(t, home, j);
		uint64_t c = uatomic_read(&s->ctl);
		struct fg_pair p;

		if (FG_CTL_STATE(c) != FG_SLOT_READY)
			continue;
		fg__pair_load(s, &p);
		if (p.tat == FG_TAT_EVICTED) { /* an evictor stopped half-way */
			fg__table_bury(t, s, c);
			return 1;
		}
		if (p.tat == 0 || p.tat > now || !evictable(arg, FG_CTL_RULE(c)))
			continue;
		if (fg__table_evict(t, s, c, &p, now))
			return 1;
	}
	return 0;
}

int64_t fg__table_plant_claim(struct fg_table *t, unsigned rule,
                              const void *key, size_t len, uint64_t h)
{
	const uint64_t meta = fg__table_meta(h, rule, len);
	const uint64_t home = fg__table_home(t, h);
	const unsigned window = window_of(t);
	unsigned j;

	if (fg__table_lookup(t, rule, key, len, h) != NULL)
		return -1;
	for (j = 0; j < window; j++) {
		struct fg_slot *s = slot_at(t, home, j);
		uint64_t c = uatomic_read(&s->ctl);

		if (FG_CTL_STATE(c) != FG_SLOT_EMPTY &&
		    FG_CTL_STATE(c) != FG_SLOT_FREE)
			continue;
		if (uatomic_cmpxchg(&s->ctl, c,
		                    meta | FG_SLOT_CLAIMED |
		                        ((uint64_t)((FG_CTL_GEN(c) + 1) & 0x3fffu)
		                         << 18)) != c)
			continue;
		uatomic_set(&s->tat, 0);
		memcpy(s->key, key, len);
		return (int64_t)(s - t->slots);
	}
	return -1;
}
