/* SPDX-License-Identifier: ISC */
/*
 * strictview.c - the strict rules' server as operators see it: the
 * counts strict.c keeps (answers by verdict, calls to Redis, grants from
 * leases, requests dropped) and its breaker, on one status line and as
 * Prometheus families.  Apart from strict.c, which the fuzz target of
 * its requests links without the daemon's metrics.
 */
#include "daemon/strictview.h"

#include <inttypes.h>

#include "daemon/metrics.h"

void fgd_strict_status(struct fgd_buf *o, const struct fgd_strict *s)
{
	if (s->lfd < 0)
		return;
	fgd_buf_printf(o,
	               "strict state=%s asked=%" PRIu64 " granted=%" PRIu64
	               " denied=%" PRIu64 " down=%" PRIu64 " calls=%" PRIu64
	               " leased=%" PRIu64 " dropped=%" PRIu64 "\n",
	               fgr_breaker_name(s->br.state), s->st.asked,
	               s->st.granted, s->st.denied, s->st.down, s->st.calls,
	               s->st.leased, s->st.dropped);
}

void fgd_strict_metrics(struct fgd_buf *b, const struct fgd_strict *s)
{
	const struct fgd_metrics_sample v[] = {{"granted", s->st.granted},
	                                       {"denied", s->st.denied},
	                                       {"down", s->st.down}};

	if (s->lfd < 0)
		return;
	fgd_metrics_scalar(b, "strict_redis_up", "gauge",
	                   "1 while the breaker in front of Redis for strict "
	                   "rules is closed.",
	                   (uint64_t)(s->br.state == FGR_CLOSED));
	fgd_metrics_labelled(
	    b, "strict_requests_total", "counter",
	    "Checks of strict rules workers asked this daemon, "
	    "by answer: granted (by Redis or from a lease), "
	    "denied by Redis, down (no answer from Redis: the "
	    "rule's on-redis-down decided).",
	    "verdict", v, sizeof v / sizeof v[0]);
	fgd_metrics_scalar(b, "strict_granted_from_lease_total", "counter",
	                   "Granted checks of strict rules taken from a lease "
	                   "this host held, without a call to Redis.",
	                   s->st.leased);
	fgd_metrics_scalar(b, "strict_redis_calls_total", "counter",
	                   "Calls of the strict rules' script sent to Redis.",
	                   s->st.calls);
	fgd_metrics_scalar(b, "strict_dropped_total", "counter",
	                   "Requests of workers refused unanswered: malformed, "
	                   "for no strict rule, or every connection busy.",
	                   s->st.dropped);
}
