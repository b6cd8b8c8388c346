/* SPDX-License-Identifier: ISC */
/*
 * allow.c - fg_allow(), fg_allow_at() and fg_allow_request(): the check
 * of client.c, and for a strict rule, which client.c's check hands back
 * untouched (FG__STRICT), the strict check of strict.c (fg_allow_at()
 * refuses strict rules: their answer is the fleet's, now).  Above both, so that
 * the check itself (client.c) depends on nothing that talks to the daemon: a
 * rule that is not strict costs one compare of the result more.
 */
#include <urcu/compiler.h>
#include <urcu/uatomic.h>

#include "lib/client.h"

/* fg__check(), and the strict check where it says so. */
static inline int check_any(fg_client *c, unsigned idx, const char *key,
                            size_t len, uint32_t cost, fg_decision *d)
{
	int r = fg__check(c, idx, key, len, cost, d);

	if (caa_unlikely(r == FG__STRICT))
		return fg__strict_check(c, idx, fg__rule_params(c, idx), key,
		                        len, cost, d);
	return r;
}

int fg_allow(fg_client *c, const char *rule, const char *key, uint32_t cost,
             fg_decision *d)
{
	size_t len;
	int idx, r = fg__key_args(c, rule, key, &len);

	if (r != 0)
		return r;
	idx = fg__rule_index(c, rule);
	if (idx < 0)
		return FG_ENORULE;
	return check_any(c, (unsigned)idx, key, len, cost, d);
}

int fg_allow_request(fg_client *c, const char *user_id, const char *endpoint)
{
	size_t len;
	uint64_t def;
	int idx, r = fg__key_args(c, endpoint, user_id, &len);

	if (r != 0)
		return r;
	idx = fg__rule_index(c, endpoint);
	if (idx < 0 ||
	    !(fg__rule_params(c, (unsigned)idx)->flags & FG__RULE_ACTIVE)) {
		def = uatomic_read(&c->seg.tbl.hdr->default_rule);
		if (def == 0 || def > FG_MAX_RULES)
			return FG_ENORULE;
		idx = (int)def - 1;
	}
	return check_any(c, (unsigned)idx, user_id, len, 1, NULL);
}

int fg_allow_at(fg_client *c, const char *rule, const char *key, uint32_t cost,
                uint64_t now_ns, fg_decision *d)
{
	const struct fg_rule_cache *rc;
	struct fg_rule_cache buf;
	size_t len;
	int idx, r = fg__key_args(c, rule, key, &len);

	if (r != 0)
		return r;
	if (now_ns >= FG_TAT_EVICTED / 2)
		return FG_EINVAL; /* not a monotonic reading */
	idx = fg__active_rule(c, rule, &rc);
	if (idx < 0)
		return idx;
	if (rc->flags & (FG__RULE_IN_FLIGHT | FG__RULE_STRICT))
		return FG_EKIND;
	rc = fg__rule_key(c, (unsigned)idx, rc, key, len, &buf);
	if (cost == 0 || cost > rc->capacity)
		return FG_ECOST;
	return fg__check_at(c, (unsigned)idx, rc, key, len, cost, now_ns, d);
}
