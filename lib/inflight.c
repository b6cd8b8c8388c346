/* SPDX-License-Identifier: ISC */
/*
 * inflight.c - in-flight limits: fg_acquire() and fg_release().
 *
 * For prefork servers the scarcest resource is workers, so besides a rate
 * a key may be limited in the requests it has in flight at once (nginx's
 * limit_conn, HAProxy's conn_cur).  An in-flight rule's bucket holds
 * leases instead of tokens, in the tat half of its pair (shm/lease.h
 * says how, and why a lease ends by itself): taking a lease is one
 * cmpxchg16b that also adds one to the word's count, as an admission
 * does; giving one back is one cmpxchg16b that leaves the count alone.
 * Both read the two counters at the caller's clock, so a take never lets
 * more than the capacity hold a lease, from any number of processes.
 *
 * A worker killed while it holds a lease never gives it back: the lease
 * ends by itself between E and 2E after it was taken (E: the rule's lease,
 * rounded up to 16.777216 ms), with no daemon, no scan and no knowledge of
 * processes.  The price is that a request running longer than E may lose
 * its place to another: a lease is a bound on a request's length, and an
 * operator sets it above the server's own timeout (Apache's Timeout,
 * gunicorn's --timeout), after which the server kills the request anyway.
 *
 * The lease a caller holds names its bucket by rule and key (not by slot:
 * a slot changes hands once its bucket is evicted, which happens only
 * when no lease is held) and the epoch it was counted in; giving it back
 * looks the key up, never inserts it.  A bucket is evicted only when its
 * last lease has ended (its tat is before the clock), so a lease given
 * back after its bucket went had ended already.
 */
#include "lib/client.h"

#include <string.h>

#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/lease.h"
#include "shm/table.h"

/* What a fg_lease holds. */
struct lease {
	uint64_t epoch; /* the epoch it was counted in */
	uint64_t seg;   /* the segment's first hash seed: its identity */
	uint32_t rule;
	uint8_t len, state;
	uint8_t pad[2];
	uint8_t key[FG_KEY_MAX];
};
_Static_assert(sizeof(struct lease) <= sizeof(fg_lease), "lease fits");

enum {
	EMPTY, /* nothing to give back */
	HELD,  /* counted in its bucket */
	FREE,  /* admitted without a count: no room, or a shadow rule */
};

/* The epoch of @now for @rc's lease. */
static uint64_t epoch_of(const struct fg_rule_cache *rc, uint64_t now)
{
	return fg__div(now, rc->interval_ns, rc->interval_inv);
}

static void describe(unsigned idx, const struct fg_rule_cache *rc,
                     const struct fg_leases *l, uint64_t now, int admitted,
                     fg_decision *d)
{
	uint64_t E = rc->interval_ns;

	if (d == NULL)
		return;
	d->limit = rc->capacity;
	d->remaining = rc->capacity > fg__leases_held(l)
	                   ? rc->capacity - fg__leases_held(l)
	                   : 0;
	d->retry_after_ms =
	    admitted ? 0 : fg__ns_to_ms_ceil(fg__leases_next_end(l, E, now));
	d->reset_ms = fg__ns_to_ms_ceil(fg__leases_all_end(l, E, now));
	d->flags = 0;
	d->rule = idx;
}

/* Take a lease in the bucket of @ref, read as *@p: 1 with @l the
 * leases after it; 0 when all are held (@l as found); -1 when the
 * bucket must be found anew. */
static int take(struct fg_table *t, const struct fg_rule_cache *rc,
                struct fg_ref *ref, struct fg_pair *p, uint64_t now,
                struct fg_leases *l)
{
	const uint64_t E = rc->interval_ns, n = epoch_of(rc, now);

	for (;;) {
		fg__leases_at(p->tat, n, E, l);
		if (fg__leases_held(l) >= rc->capacity)
			return 0;
		l->cur++;
		if (fg__pair_advance(ref->s, p, fg__leases_tat(l, E), 1)) {
			if (p->word & FG_W_CLEAN) /* as an admission */
				fg__table_touch(t, fg__ref_block(t, ref));
			return 1;
		}
		if (!fg__ref_valid(ref) || p->tat == FG_TAT_EVICTED)
			return -1;
	}
}

int fg__acquire_at(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                   const void *key, size_t len, uint64_t now, fg_lease *out,
                   fg_decision *d)
{
	struct fg_table *t = &c->seg.tbl;
	uint64_t h = fg__hash64(t->seed, idx, key, len);
	struct lease ls = {.seg = t->seed[0], .rule = idx, .len = (uint8_t)len};
	struct fg_leases l;
	struct fg_ref ref;
	struct fg_pair p;
	int r;

	memcpy(ls.key, key, len);
	memset(out, 0, sizeof *out);
	do {
		if (!fg__bucket_find(c, idx, key, len, h, now, &ref, &p)) {
			r = fg__untracked(c, idx, rc, d);
			ls.state = r ? FREE : EMPTY;
			goto out;
		}
	} while ((r = take(t, rc, &ref, &p, now, &l)) < 0);
	describe(idx, rc, &l, now, r, d);
	if (r) {
		ls.epoch = l.epoch;
		ls.state = HELD;
		goto out;
	}
	fg__table_deny(t, &ref);           /* for operators */
	if (rc->flags & FG__RULE_SHADOW) { /* never denies, counts nothing */
		if (d != NULL) {
			d->flags = FG_DECISION_SHADOW;
			d->retry_after_ms = 0;
		}
		ls.state = FREE;
		r = 1;
	}
out:
	if (ls.state != EMPTY)
		memcpy(out, &ls, sizeof ls);
	return r;
}

/* Give @ls back to the bucket of @ref, read as *@p: 1 done; 0 when it
 * had ended; -1 when the bucket must be looked up anew. */
static int give_back(const struct fg_rule_cache *rc, const struct lease *ls,
                     struct fg_ref *ref, struct fg_pair *p, uint64_t now)
{
	const uint64_t E = rc->interval_ns, n = epoch_of(rc, now);
	struct fg_leases l;

	for (;;) {
		fg__leases_at(p->tat, n, E, &l);
		if (ls->epoch == l.epoch && l.cur > 0)
			l.cur--;
		else if (ls->epoch + 1 == l.epoch && l.prev > 0)
			l.prev--;
		else
			return 0;
		if (fg__pair_advance(ref->s, p, fg__leases_tat(&l, E), 0))
			return 1;
		if (!fg__ref_valid(ref) || p->tat == FG_TAT_EVICTED)
			return -1;
	}
}

int fg__release_at(fg_client *c, fg_lease *lease, uint64_t now)
{
	struct fg_table *t = &c->seg.tbl;
	const struct fg_rule_cache *rc;
	struct fg_ref ref;
	struct fg_pair p;
	struct lease ls;
	uint64_t h;
	int r;

	memcpy(&ls, lease, sizeof ls);
	memset(lease, 0, sizeof *lease); /* given back once */
	if (ls.state != HELD || ls.rule >= FG_MAX_RULES || ls.len == 0 ||
	    ls.len > FG_KEY_MAX)
		return 0;
	rc = fg__rule_params(c, ls.rule);
	if ((rc->flags & (FG__RULE_ACTIVE | FG__RULE_IN_FLIGHT)) !=
	    (FG__RULE_ACTIVE | FG__RULE_IN_FLIGHT))
		return 0; /* the rule went: nothing counts its leases */
	h = fg__hash64(t->seed, ls.rule, ls.key, ls.len);
	for (;;) {
		if (fg__table_lookup(t, ls.rule, ls.key, ls.len, h, &ref) ==
		    NULL)
			return 0; /* evicted: every lease in it had ended */
		fg__pair_load(ref.s, &p);
		if (!fg__ref_valid(&ref))
			continue;
		if (p.tat == FG_TAT_EVICTED) {
			fg__table_bury(t, &ref);
			continue;
		}
		r = give_back(rc, &ls, &ref, &p, now);
		if (r >= 0)
			return r;
	}
}

int fg_acquire(fg_client *c, const char *rule, const char *key, fg_lease *lease,
               fg_decision *d)
{
	const struct fg_rule_cache *rc;
	struct fg_rule_cache buf; /* unused: in-flight rules take none */
	size_t len;
	int idx;

	if (lease == NULL)
		return FG_EINVAL;
	memset(lease, 0, sizeof *lease);
	idx =
	    fg__call_args(c, rule, key, FG__RULE_IN_FLIGHT, 0, &len, &rc, &buf);
	if (idx < 0)
		return idx;
	return fg__acquire_at(c, (unsigned)idx, rc, key, len, fg__now_ns(),
	                      lease, d);
}

int fg_release(fg_client *c, fg_lease *lease)
{
	struct lease ls;

	if (c == NULL || lease == NULL)
		return FG_EINVAL;
	memcpy(&ls, lease, sizeof ls);
	if (ls.state != EMPTY && ls.seg != c->seg.tbl.seed[0])
		return FG_EINVAL; /* another segment's: its rule index means
		                   * nothing here */
	return fg__release_at(c, lease, fg__now_ns());
}
