/* SPDX-License-Identifier: ISC */
/*
 * ovrset.c - setting and removing overrides: the owner's side.
 *
 * The owner lock serialises writers (the daemon's config, the CLI).  A
 * rule's FG__RULE_OVERRIDES flag stays true to its entries: it is set
 * before the rule's first entry goes live and cleared after its last is
 * removed; a prefix's length bit likewise (shm/override.c).  After each change
 * the rule's entries are counted again (a scan of 4096 entries) and flag and
 * mask follow the count: a writer killed half-way leaves at worst a flag or a
 * bit too many, which the next change of that rule repairs, never an entry
 * nobody looks up.  The entry's bits in the filter go in before the entry
 * (shm/override.c), for the same reason.
 */
#include <string.h>
#include <urcu/uatomic.h>

#include "lib/client.h"
#include "shm/gcra.h"
#include "shm/override.h"

/* ns per token of @rate tokens per @period_ms: 0 when the three do not
 * make a rate fg_rule_set() would take (as fg__rule_check judges). */
static uint64_t interval_of(uint32_t capacity, uint32_t rate,
                            uint32_t period_ms)
{
	uint64_t period_ns = (uint64_t)period_ms * 1000000u, t;

	if (capacity == 0 || rate == 0 || period_ms == 0 || rate > period_ns)
		return 0;
	t = (period_ns + rate - 1) / rate;
	return capacity > FG_TAU_MAX / t ? 0 : t;
}

/* Rule @idx's flag: set or cleared (owner lock held). */
static void flag_set(fg_client *c, unsigned idx, int on)
{
	struct fg_rule_rec *rec = &c->seg.rules[idx];
	struct fg_rule_params p;
	uint32_t was;

	memcpy(&p, &rec->params[uatomic_read(&rec->seq) & 1], sizeof p);
	was = p.flags;
	if (on)
		p.flags |= FG__RULE_OVERRIDES;
	else
		p.flags &= ~FG__RULE_OVERRIDES;
	if (p.flags != was)
		fg__params_publish(c, idx, &p);
}

/* Flag and prefix mask of rule @idx as its entries say (lock held). */
static void resync(fg_client *c, unsigned idx)
{
	uint64_t lens;
	unsigned n = fg__ovr_count(c->seg.ovr, idx, &lens);

	uatomic_set(&c->seg.ovr->prefix_lens[idx], lens);
	flag_set(c, idx, n > 0);
}

/* Whether rule @idx takes overrides: an active GCRA rule of tokens (a
 * window's limit is its window's, a strict rule's Redis's). */
static int rule_takes(fg_client *c, unsigned idx)
{
	const struct fg_rule_cache *rc;

	(void)fg__rule_index(c, ""); /* the names given so far */
	if (idx >= c->nnames)
		return FG_ENORULE;
	rc = fg__rule_params(c, idx);
	if (!(rc->flags & FG__RULE_ACTIVE))
		return FG_ENORULE;
	return rc->flags &
	               (FG__RULE_IN_FLIGHT | FG__RULE_WINDOWS | FG__RULE_STRICT)
	           ? FG_EKIND
	           : 0;
}

int fg__override_set(fg_client *c, const struct fg_ovr_entry *in)
{
	struct fg_ovr_entry e;
	struct fg_ovr_slot *s;
	int r;

	if (c == NULL || in == NULL || in->keylen == 0 ||
	    in->keylen > FG_SLOT_KEY_MAX ||
	    (in->kind & ~(FG_OVR_PREFIX | FG_OVR_RUNTIME)))
		return FG_EINVAL;
	memset(&e, 0, sizeof e);
	e.state = FG_OVR_LIVE;
	e.rule = in->rule;
	e.keylen = in->keylen;
	e.kind = in->kind;
	e.capacity = in->capacity;
	e.rate = in->rate;
	e.period_ms = in->period_ms;
	memcpy(e.key, in->key, in->keylen);
	memcpy(e.tier, in->tier, strnlen(in->tier, FG_OVR_TIER_MAX));
	e.interval_ns = interval_of(e.capacity, e.rate, e.period_ms);
	if (e.interval_ns == 0)
		return FG_ERULE;
	r = fg__seg_lock(&c->seg);
	if (r != 0)
		return r;
	r = rule_takes(c, e.rule);
	if (r != 0)
		goto out;
	flag_set(c, e.rule, 1); /* before the entry can be found */
	if (e.kind & FG_OVR_PREFIX)
		uatomic_or(&c->seg.ovr->prefix_lens[e.rule],
		           UINT64_C(1) << (e.keylen - 1));
	s = fg__ovr_place(c->seg.ovr, c->seg.tbl.seed, &e); /* its bits */
	if (s == NULL) {
		r = FG_ENOMEM;
		resync(c, e.rule); /* what the flag and the bit were set for */
		goto out;
	}
	if (c->ovr_hook != NULL)
		c->ovr_hook(c, c->ovr_arg);
	fg__ovr_publish(s, &e); /* then the entry */
out:
	fg__seg_unlock(&c->seg);
	return r;
}

int fg__override_remove(fg_client *c, unsigned idx, unsigned kind,
                        const void *key, size_t len)
{
	int r;

	if (c == NULL || key == NULL || len == 0 || len > FG_SLOT_KEY_MAX ||
	    (kind & ~FG_OVR_PREFIX) || idx >= FG_MAX_RULES)
		return FG_EINVAL;
	r = fg__seg_lock(&c->seg);
	if (r != 0)
		return r;
	r = fg__ovr_del(c->seg.ovr, c->seg.tbl.seed, idx, kind, key, len);
	resync(c, idx);
	fg__seg_unlock(&c->seg);
	return r;
}
