/* SPDX-License-Identifier: ISC */
/*
 * peek.c - what a bucket holds, read without taking anything: tokens
 * left for operators (floodgate get and list, the HTTP endpoint) and
 * whether a bucket is full, for the daemon's harvest; the overrides each
 * rule has, for floodgate rules and /metrics.  Above the check
 * (client.c), which never calls it.
 */
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/lease.h"
#include "shm/table.h"

/* The tat of the bucket of (@rule, @key): 1, or 0 if it is absent. */
static int bucket_tat(fg_client *c, unsigned rule, const void *key, size_t len,
                      uint64_t *tat)
{
	struct fg_table *t = &c->seg.tbl;
	uint64_t h = fg__hash64(t->seed, rule, key, len);
	struct fg_ref ref;

	do {
		if (fg__table_lookup(t, rule, key, len, h, &ref) == NULL)
			return 0;
		*tat = fg__load(&ref.s->tat);
	} while (!fg__ref_valid(&ref));
	return 1;
}

int fg__active_rule(fg_client *c, const char *rule,
                    const struct fg_rule_cache **rc)
{
	int idx = fg__rule_index(c, rule);

	if (idx < 0)
		return FG_ENORULE;
	*rc = fg__rule_params(c, (unsigned)idx);
	return (*rc)->flags & FG__RULE_ACTIVE ? idx : FG_ENORULE;
}

/* Leases held at @now in a bucket of the in-flight rule @rc at @tat. */
static int64_t leases_held(const struct fg_rule_cache *rc, uint64_t tat,
                           uint64_t now)
{
	struct fg_leases l;

	fg__leases_at(tat, fg__div(now, rc->interval_ns, rc->interval_inv),
	              rc->interval_ns, &l);
	return fg__leases_held(&l);
}

int fg__peek(fg_client *c, const char *rule, const void *key, size_t len,
             int64_t *left)
{
	const struct fg_rule_cache *rc;
	struct fg_rule_cache buf;
	uint64_t tat;
	int idx;

	if (c == NULL || rule == NULL || left == NULL)
		return FG_EINVAL;
	if (key == NULL || len == 0)
		return FG_EKEY;
	if (len > FG_KEY_MAX)
		return FG_EKEYLEN;
	idx = fg__active_rule(c, rule, &rc);
	if (idx < 0)
		return idx;
	rc = fg__rule_key(c, (unsigned)idx, rc, key, len, &buf);
	if (!bucket_tat(c, (unsigned)idx, key, len, &tat)) {
		*left = rc->capacity;
		return 0;
	}
	*left = fg__tokens_left(c, (unsigned)idx, rc, tat, fg__now_ns());
	return 0;
}

int64_t fg__tokens_left(fg_client *c, unsigned idx,
                        const struct fg_rule_cache *rc, uint64_t tat,
                        uint64_t now)
{
	uint64_t debt, q;

	if (tat == FG_TAT_EVICTED) /* evicted: full, like an absent key */
		return rc->capacity;
	if (rc->flags & FG__RULE_IN_FLIGHT) /* leases free */
		return (int64_t)rc->capacity - leases_held(rc, tat, now);
	if (rc->flags & FG__RULE_WINDOWS)
		return fg__win_left(&c->win[idx], tat, now);
	if (tat <= now + rc->tau_ns)
		return (int64_t)fg__gcra_remaining_inv(
		    tat, now, rc->interval_ns, rc->interval_inv, rc->tau_ns);
	/* in debt: floor of the level, as for a positive one */
	debt = tat - now - rc->tau_ns;
	q = fg__div(debt, rc->interval_ns, rc->interval_inv);
	return -(int64_t)(q * rc->interval_ns < debt ? q + 1 : q);
}

int fg__bucket_full(fg_client *c, unsigned rule, const void *key, size_t len,
                    uint64_t now_ns)
{
	uint64_t tat;

	if (c == NULL || rule >= FG_MAX_RULES || key == NULL || len == 0 ||
	    len > FG_KEY_MAX)
		return FG_EINVAL;
	if (!bucket_tat(c, rule, key, len, &tat))
		return 1;
	if (tat == FG_TAT_EVICTED || tat == 0)
		return 1;
	if (fg__rule_params(c, rule)->flags & FG__RULE_WINDOWS)
		return fg__win_left(&c->win[rule], tat, now_ns) ==
		       (int64_t)c->win[rule].limit; /* nothing counted */
	return tat <= now_ns;
}

void fg__override_counts(fg_client *c, uint32_t n[FG_MAX_RULES])
{
	struct fg_ovr_entry e;
	unsigned i = 0;

	memset(n, 0, FG_MAX_RULES * sizeof *n);
	while (fg__override_next(c, &i, &e))
		if (e.rule < FG_MAX_RULES)
			n[e.rule]++;
}
