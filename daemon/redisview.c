/* SPDX-License-Identifier: ISC */
/*
 * redisview.c - the Redis transport's status line and metrics
 * (redisview.h), read from its state: nothing here touches Redis.
 */
#include "daemon/redisview.h"

#include <inttypes.h>
#include <stddef.h>

#include "daemon/metrics.h"

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static uint64_t fails(const struct fgr_sync *s)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < FGR_NFAILS; i++)
		n += s->st.fails[i];
	return n;
}

static int up(const struct fgr_sync *s)
{
	return s->br.state == FGR_CLOSED && s->st.exchanges > 0 &&
	       s->conn.state != FGR_CONN_DOWN;
}

void fgd_redis_status(struct fgd_buf *o, const struct fgr_sync *s,
                      uint64_t now_ms)
{
	fgd_buf_printf(o,
	               "redis url=%s state=%s up=%d since_ms_ago=%" PRIu64
	               " exchanges=%" PRIu64 " errors=%" PRIu64
	               " opens=%" PRIu64 " probes=%" PRIu64 " pushed=%" PRIu64
	               " pulled=%" PRIu64 " unpushed=%" PRIu64
	               " origins=%zu rtt_ms=%" PRIu64,
	               s->url, fgr_breaker_name(s->br.state), up(s),
	               since(now_ms, s->br.since_ms), s->st.exchanges, fails(s),
	               s->br.opens, s->br.probes, s->st.pushed, s->st.pulled,
	               fgr_sync_unpushed(s), s->ncur, s->st.last_rtt_ms);
	if (s->st.last_ms != 0)
		fgd_buf_printf(o, " last_ms_ago=%" PRIu64,
		               since(now_ms, s->st.last_ms));
	else
		fgd_buf_printf(o, " last_ms_ago=-1");
	fgd_buf_printf(o, " reason=%s\n",
	               fails(s) ? fgr_fail_name(s->last_fail) : "-");
}

static const struct {
	const char *name, *help;
	size_t off;
} counters[] = {
    {"redis_exchanges_total",
     "Exchanges with Redis answered by the script (one a round).",
     offsetof(struct fgr_stats, exchanges)},
    {"redis_records_pushed_total", "Records of ours Redis took.",
     offsetof(struct fgr_stats, pushed)},
    {"redis_records_pulled_total",
     "Records of other nodes pulled from Redis and applied.",
     offsetof(struct fgr_stats, pulled)},
    {"redis_rounds_skipped_total",
     "Rounds that sent nothing: the last exchange was still out.",
     offsetof(struct fgr_stats, busy)},
    {"redis_gaps_total",
     "Pushes Redis refused because it had lost some of our counts "
     "(pushed again).",
     offsetof(struct fgr_stats, gaps)},
    {"redis_stale_total",
     "Pushes Redis refused because it held a later incarnation of this "
     "node.",
     offsetof(struct fgr_stats, stale)},
    {"redis_noroom_total",
     "Pulled records not applied for want of room in the table (pulled "
     "again).",
     offsetof(struct fgr_stats, noroom)},
    {"redis_connects_total",
     "Connections to Redis that completed the "
     "handshake.",
     offsetof(struct fgr_stats, connects)},
};

static void breaker_metrics(struct fgd_buf *b, const struct fgr_sync *s)
{
	int st;

	fgd_metrics_family(b, "redis_breaker_state", "gauge",
	                   "The circuit breaker in front of Redis: 1 for the "
	                   "state it is in (open: global rules decide on "
	                   "local state).");
	for (st = FGR_CLOSED; st <= FGR_HALF_OPEN; st++)
		fgd_buf_printf(b,
		               "floodgate_redis_breaker_state{state=\"%s\"} "
		               "%d\n",
		               fgr_breaker_name((enum fgr_breaker_state)st),
		               s->br.state == (enum fgr_breaker_state)st);
	fgd_metrics_scalar(b, "redis_breaker_opens_total", "counter",
	                   "Times the breaker opened.", s->br.opens);
	fgd_metrics_scalar(b, "redis_probes_total", "counter",
	                   "Probes of Redis while the breaker was open.",
	                   s->br.probes);
	fgd_metrics_family(b, "redis_errors_total", "counter",
	                   "Failed exchanges with Redis, by reason.");
	for (st = 0; st < FGR_NFAILS; st++)
		fgd_buf_printf(b,
		               "floodgate_redis_errors_total{reason=\"%s\"} "
		               "%" PRIu64 "\n",
		               fgr_fail_name((enum fgr_fail)st),
		               s->st.fails[st]);
}

void fgd_redis_metrics(struct fgd_buf *b, const void *arg, uint64_t now_ms)
{
	const struct fgr_sync *s = arg;
	size_t i;

	fgd_metrics_scalar(b, "redis_up", "gauge",
	                   "1 when the breaker is closed and the last exchange "
	                   "with Redis succeeded.",
	                   (uint64_t)up(s));
	breaker_metrics(b, s);
	for (i = 0; i < sizeof counters / sizeof counters[0]; i++)
		fgd_metrics_scalar(b, counters[i].name, "counter",
		                   counters[i].help,
		                   *(const uint64_t *)((const char *)&s->st +
		                                       counters[i].off));
	fgd_metrics_scalar(b, "redis_origins", "gauge",
	                   "Other nodes whose counts Redis holds.", s->ncur);
	fgd_metrics_scalar(b, "redis_unpushed_versions", "gauge",
	                   "Changes of our counts Redis does not hold yet.",
	                   fgr_sync_unpushed(s));
	fgd_metrics_family(b, "redis_last_exchange_duration_seconds", "gauge",
	                   "How long the last exchange with Redis took.");
	fgd_buf_printf(b,
	               "floodgate_redis_last_exchange_duration_seconds %.3f\n",
	               s->st.last_rtt_ms / 1000.0);
	if (s->st.last_ms == 0)
		return;
	fgd_metrics_family(b, "redis_last_exchange_age_seconds", "gauge",
	                   "Seconds since the last exchange with Redis "
	                   "succeeded.");
	fgd_buf_printf(b, "floodgate_redis_last_exchange_age_seconds %.3f\n",
	               since(now_ms, s->st.last_ms) / 1000.0);
}
