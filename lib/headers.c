/* SPDX-License-Identifier: ISC */
/*
 * headers.c - the RateLimit-Policy and RateLimit header values of a
 * decision (fg_ratelimit_headers()), for every HTTP front end.
 *
 * The form is draft-ietf-httpapi-ratelimit-headers-10's quota policy and
 * service limit:
 *
 *     RateLimit-Policy: "RULE";q=CAPACITY;w=SECONDS
 *     RateLimit:        "RULE";r=REMAINING[;t=SECONDS]
 *
 * The bucket holds q tokens and refills from empty in w seconds: q/w is
 * the rule's rate, w = capacity x period / rate rounded up (at least 1),
 * from the rule's own figures, exact.  r is the whole tokens left.  t is
 * when r next grows, the next token: with tau = q x T (T the ns per
 * token) and debt the time until the bucket is full (reset_ms), the next
 * token is in debt + (r + 1) T - tau, rounded up to seconds.  There is no
 * t when the bucket is full or untracked (nothing more is coming).  A
 * 429's Retry-After (the time until cost tokens, ceil(retry_after_ms /
 * 1000), at least 1) is never earlier than t, as the draft asks: reset_ms
 * is rounded up, so t is capped at Retry-After where that is shorter.
 *
 * The library formats them because it owns the figures: the rule's name,
 * rate and period are in the segment, under the index the decision names,
 * and each front end (floodgated's HTTP endpoint, mod_floodgate, the nginx
 * module, the PHP extension, the Python binding) would otherwise repeat
 * this arithmetic and drift.  Rule names are of [A-Za-z0-9_.:/-], so the
 * quoted string needs no escaping.
 */
#include <stdio.h>
#include <string.h>

#include "lib/floodgate.h"

static uint64_t ceil_s(unsigned __int128 ns)
{
	ns = (ns + 999999999u) / 1000000000u;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* t of the RateLimit field, or 0 when there is none. */
static uint64_t next_token_s(const fg_decision *d, uint64_t interval_ns)
{
	unsigned __int128 tau = (unsigned __int128)d->limit * interval_ns;
	unsigned __int128 debt = (unsigned __int128)d->reset_ms * 1000000u;
	unsigned __int128 next =
	    debt + ((unsigned __int128)d->remaining + 1) * interval_ns;
	uint64_t t, ra;

	if (d->reset_ms == 0 || d->remaining >= d->limit || next <= tau)
		return 0;
	t = ceil_s(next - tau);
	ra = (d->retry_after_ms + 999) / 1000;
	return ra && ra < t ? ra : t;
}

/* "RULE";q=CAPACITY;w=SECONDS and "RULE";r=REMAINING[;t=SECONDS] into the
 * buffers; FG_ESPACE when one is too small. */
static int format(const fg_rule_info *ri, const fg_decision *d, char *policy,
                  size_t policy_len, char *ratelimit, size_t ratelimit_len)
{
	uint64_t w =
	    ceil_s(((unsigned __int128)ri->capacity * ri->period_ms * 1000000u +
	            ri->rate - 1) /
	           ri->rate);
	/* a window gives its tokens back at once, when it has passed */
	uint64_t t = ri->flags & (FG_RULE_FIXED_WINDOW | FG_RULE_SLIDING_WINDOW)
	                 ? ceil_s((unsigned __int128)d->reset_ms * 1000000u)
	                 : next_token_s(d, ri->interval_ns);
	int n, m;

	n = snprintf(policy, policy_len, "\"%s\";q=%u;w=%llu", ri->name,
	             (unsigned)d->limit, (unsigned long long)(w ? w : 1));
	m = snprintf(ratelimit, ratelimit_len,
	             t ? "\"%s\";r=%u;t=%llu" : "\"%s\";r=%u", ri->name,
	             (unsigned)d->remaining, (unsigned long long)t);
	if (n < 0 || m < 0 || (size_t)n >= policy_len ||
	    (size_t)m >= ratelimit_len)
		return FG_ESPACE;
	return 0;
}

int fg_ratelimit_headers(fg_client *c, const fg_decision *d, char *policy,
                         size_t plen, char *ratelimit, size_t rlen)
{
	fg_rule_info ri;
	int r;

	if (c == NULL || d == NULL || policy == NULL || ratelimit == NULL)
		r = FG_EINVAL;
	else if ((r = fg_rule_get(c, d->rule, &ri)) == 0)
		r = ri.flags & FG_RULE_IN_FLIGHT
		        ? FG_EKIND
		        : format(&ri, d, policy, plen, ratelimit, rlen);
	if (r < 0 && policy != NULL && plen > 0)
		policy[0] = '\0';
	if (r < 0 && ratelimit != NULL && rlen > 0)
		ratelimit[0] = '\0';
	return r;
}
