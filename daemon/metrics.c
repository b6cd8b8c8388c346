/*
 * metrics.c - Prometheus text exposition of the segment and the daemon.
 *
 * The segment keeps no per-rule allowed/denied counters: a check touches
 * only its own slot (tat and consumed move in one CAS; a denial bumps the
 * slot's aux), and a shared per-rule counter would cost every check a
 * contended atomic.  The per-rule figures are therefore sums over a scan
 * of the slot table: consumed (tokens admitted here) and aux (denials) of
 * each live bucket, grouped by its rule.  Under table pressure an idle,
 * full bucket is evicted and its counts go with it, so these sums are
 * gauges, not counters: they fall by what evicted buckets held
 * (floodgate_segment_evicted_total says when).  A scan costs O(slots),
 * which is for a scrape, never for a request; one scan serves every
 * figure (fg_stats() would be a second).
 *
 * Everything is appended to a growable buffer that records allocation
 * failure instead of reporting it at each call: the caller checks once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/uatomic.h>

#include "daemon/metrics.h"
#include "daemon/node.h"
#include "lib/client.h"
#include "shm/layout.h"
#include "shm/scan.h"

void fgd_buf_printf(struct fgd_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (b->oom)
		return;
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n >= room) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap - b->len <= (size_t)n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
	}
	b->len += (size_t)n;
}

void fgd_buf_free(struct fgd_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* A family's header: # HELP and # TYPE. */
static void family(struct fgd_buf *b, const char *name, const char *type,
                   const char *help)
{
	fgd_buf_printf(b, "# HELP floodgate_%s %s\n# TYPE floodgate_%s %s\n",
	               name, help, name, type);
}

static void scalar(struct fgd_buf *b, const char *name, const char *type,
                   const char *help, uint64_t v)
{
	family(b, name, type, help);
	fgd_buf_printf(b, "floodgate_%s %llu\n", name, (unsigned long long)v);
}

/* A label value: backslash, double quote and newline escaped, as the
 * exposition format requires (rule names cannot hold them today; the
 * format must not depend on that). */
static void label_value(struct fgd_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fgd_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			fgd_buf_printf(b, "\\n");
		else
			fgd_buf_printf(b, "%c", *s);
	}
}

static void rule_sample(struct fgd_buf *b, const char *name,
                        const fg_rule_info *ri, uint64_t v)
{
	fgd_buf_printf(b, "floodgate_%s{rule=\"", name);
	label_value(b, ri->name);
	fgd_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
}

struct scan {
	uint64_t used, dead;
	struct fgd_rule_sums r[FG_MAX_RULES];
};

_Static_assert(sizeof((struct scan *)0)->r ==
                   sizeof((struct fgd_node *)0)->sums,
               "a harvest's sums are a scan's");

static int slots_scan(fg_client *fg, struct scan *s)
{
	struct fg_table_sums *sums = malloc(sizeof *sums);
	unsigned i;

	if (sums == NULL)
		return -1;
	fg__table_sums(&fg->seg.tbl, sums);
	s->used = sums->used;
	s->dead = sums->dead;
	for (i = 0; i < FG_MAX_RULES; i++) {
		s->r[i].keys = sums->r[i].keys;
		s->r[i].allowed = sums->r[i].allowed;
		s->r[i].denied = sums->r[i].denied;
	}
	free(sums);
	return 0;
}

/* Each active rule's sample of one family. */
enum rule_fig {
	RF_CAPACITY,
	RF_RATE,
	RF_PERIOD,
	RF_KEYS,
	RF_ALLOWED,
	RF_DENIED,
	RF_FULL
};

static void rules_family(struct fgd_buf *b, const fg_rule_info *ri,
                         const uint8_t *active, const struct scan *s,
                         const char *name, const char *type, const char *help,
                         enum rule_fig fig)
{
	unsigned i;

	family(b, name, type, help);
	for (i = 0; i < FG_MAX_RULES; i++) {
		const struct fgd_rule_sums *r = &s->r[i];
		uint64_t v = 0;

		if (!active[i])
			continue;
		switch (fig) {
		case RF_CAPACITY:
			v = ri[i].capacity;
			break;
		case RF_RATE:
			v = ri[i].rate;
			break;
		case RF_PERIOD:
			v = ri[i].period_ms;
			break;
		case RF_KEYS:
			v = r->keys;
			break;
		case RF_ALLOWED:
			v = r->allowed;
			break;
		case RF_DENIED:
			v = r->denied;
			break;
		case RF_FULL:
			v = ri[i].table_full;
			break;
		}
		rule_sample(b, name, &ri[i], v);
	}
}

/* Inside the daemon, the last harvest's sums (at most one interval old):
 * a scrape must not scan a million slots in the daemon's loop. */
static void node_sums(const struct fgd_node *n, struct scan *s)
{
	s->used = n->ready;
	s->dead = n->dead;
	memcpy(s->r, n->sums, sizeof n->sums);
}

static void segment_metrics(struct fgd_buf *b, fg_client *fg,
                            const struct fgd_node *n)
{
	const struct fg_seg_hdr *h = fg->seg.tbl.hdr;
	struct scan *s;
	fg_rule_info *ri;
	uint8_t active[FG_MAX_RULES];
	unsigned i;

	s = calloc(1, sizeof *s);
	ri = calloc(FG_MAX_RULES, sizeof *ri);
	if (s == NULL || ri == NULL) {
		b->oom = 1;
		goto out;
	}
	for (i = 0; i < FG_MAX_RULES; i++)
		active[i] = fg_rule_get(fg, i, &ri[i]) == 0;
	if (n != NULL && n->harvests != 0 && n->fg == fg) {
		node_sums(n, s);
	} else if (slots_scan(fg, s) != 0) {
		b->oom = 1;
		goto out;
	}

	scalar(b, "segment_capacity_keys", "gauge",
	       "Keys the segment's table is sized for.", fg->seg.capacity);
	scalar(b, "segment_slots", "gauge", "Slots in the segment's table.",
	       fg__table_nslots(&fg->seg.tbl));
	scalar(b, "segment_slots_used", "gauge",
	       "Slots holding a live bucket (occupancy).", s->used);
	scalar(b, "segment_slots_dead", "gauge",
	       "Abandoned half-inserts awaiting reaping.", s->dead);
	scalar(b, "segment_inserts_total", "counter", "Keys inserted, ever.",
	       uatomic_read(&h->inserts));
	scalar(b, "segment_abandoned_total", "counter",
	       "Inserts found stale (their process died) and skipped.",
	       uatomic_read(&h->abandoned));
	scalar(b, "segment_reaped_total", "counter",
	       "Dead slots made reusable.", uatomic_read(&h->reaped));
	scalar(b, "segment_evicted_total", "counter",
	       "Idle full buckets evicted to make room (their counts move "
	       "to their rule's totals).",
	       uatomic_read(&h->evicted));

	family(b, "rule_info", "gauge",
	       "Rules in force (value 1), their scope, policy when the table "
	       "is full, mode, and whether the rule is the default.");
	for (i = 0; i < FG_MAX_RULES; i++) {
		uint32_t f = ri[i].flags;

		if (!active[i])
			continue;
		fgd_buf_printf(b, "floodgate_rule_info{rule=\"");
		label_value(b, ri[i].name);
		fgd_buf_printf(b,
		               "\",scope=\"%s\",on_full=\"%s\",mode=\"%s\","
		               "default=\"%s\"} 1\n",
		               f & FG_RULE_GLOBAL ? "global" : "host",
		               f & FG_RULE_FAIL_CLOSED ? "closed" : "open",
		               f & FG_RULE_SHADOW ? "shadow" : "enforce",
		               f & FG_RULE_DEFAULT ? "yes" : "no");
	}
	rules_family(b, ri, active, s, "rule_capacity_tokens", "gauge",
	             "Bucket capacity (burst) of the rule, in tokens.",
	             RF_CAPACITY);
	rules_family(b, ri, active, s, "rule_rate_tokens", "gauge",
	             "Tokens refilled per period (see "
	             "floodgate_rule_period_milliseconds).",
	             RF_RATE);
	rules_family(b, ri, active, s, "rule_period_milliseconds", "gauge",
	             "Refill period of the rule.", RF_PERIOD);
	rules_family(b, ri, active, s, "rule_keys", "gauge",
	             "Live buckets (keys) under the rule.", RF_KEYS);
	rules_family(b, ri, active, s, "rule_allowed_tokens_total", "counter",
	             "Tokens admitted on this host under the rule (a check "
	             "of cost N counts N): its live buckets, summed by a scan "
	             "of the slot table, plus what evicted ones held; checks "
	             "answered by the on-full policy are not included.",
	             RF_ALLOWED);
	rules_family(b, ri, active, s, "rule_denials_total", "counter",
	             "Checks denied under the rule (for a shadow rule: that "
	             "would have been denied): its live buckets plus evicted "
	             "ones.",
	             RF_DENIED);
	rules_family(b, ri, active, s, "rule_table_full_total", "counter",
	             "Checks that found no room in the table for a new key "
	             "(answered by the rule's on-full policy).",
	             RF_FULL);
out:
	free(s);
	free(ri);
}

#define CTR(field, name, help)                                                 \
	{                                                                      \
		name, help, offsetof(struct fgd_counters, field)               \
	}

/* The daemon's counters (daemon/node.h), each under its name. */
static const struct {
	const char *name, *help;
	size_t off;
} counters[] = {
    CTR(rx_datagrams, "gossip_received_datagrams_total",
        "Gossip datagrams received."),
    CTR(rx_bytes, "gossip_received_bytes_total",
        "Bytes of gossip datagrams received."),
    CTR(rx_overflow, "gossip_receive_buffer_drops_total",
        "Datagrams the kernel dropped because the daemon's receive buffer "
        "was full."),
    CTR(tx_datagrams, "gossip_sent_datagrams_total",
        "Gossip datagrams sent (one per peer)."),
    CTR(tx_bytes, "gossip_sent_bytes_total", "Bytes of gossip datagrams sent."),
    CTR(tx_errors, "gossip_send_errors_total",
        "Gossip datagrams the kernel refused to send."),
    CTR(harvested, "gossip_harvested_tokens_total",
        "Tokens admitted here on global rules, harvested for gossip."),
    CTR(applied, "gossip_applied_tokens_total",
        "Tokens debited here for consumption on other nodes."),
    CTR(records_unknown, "gossip_records_unknown_rule_total",
        "Received records for a rule that is not global here."),
    CTR(records_noroom, "gossip_records_no_room_total",
        "Received records dropped for want of room in the remote ledger "
        "or the table."),
    CTR(local_noroom, "gossip_local_no_room_total",
        "Harvests of a key deferred: the local ledger had no room "
        "(retried at the next round)."),
    CTR(relayed, "gossip_relayed_datagrams_total",
        "Datagrams of other origins forwarded to other members."),
    CTR(pings, "members_pings_total", "Direct probes sent."),
    CTR(acks, "members_acks_total",
        "Acknowledgements received for our probes."),
    CTR(ping_reqs, "members_ping_requests_total",
        "Indirect probes asked of other members."),
    CTR(acks_relayed, "members_acks_relayed_total",
        "Acknowledgements forwarded for another member's indirect probe."),
    CTR(suspected, "members_suspected_total",
        "Members that failed a direct and an indirect probe."),
    CTR(declared_dead, "members_declared_dead_total",
        "Suspected members declared dead after the suspicion time."),
    CTR(announces, "members_announcements_total",
        "Announcements of other members' addresses learned."),
    CTR(member_ignored, "members_ignored_total",
        "Signed membership datagrams not meant for us (a ping for another "
        "member, an ack to no probe, a bad ping request, a digest ahead "
        "of what we sent)."),
    CTR(sync_requests, "sync_requests_total",
        "Sync requests sent to origins this node was behind."),
    CTR(repairs, "sync_repairs_total",
        "Repairs sent: answers to another member's digest."),
    CTR(repair_datagrams, "sync_repair_datagrams_total",
        "Datagrams of the repairs sent."),
    CTR(repairs_limited, "sync_repairs_limited_total",
        "Digests not answered: a repair went to that member less than 5 "
        "rounds before."),
    CTR(caught_up, "sync_caught_up_total",
        "Repairs received that completed a batch."),
};

static void daemon_metrics(struct fgd_buf *b, const struct fgd_node *n,
                           uint64_t now_ms)
{
	const struct fgd_counters *c = &n->ctr;
	uint64_t by_state[4] = {0, 0, 0, 0};
	size_t i, k;
	int d;

	family(b, "gossip_dropped_datagrams_total", "counter",
	       "Gossip datagrams dropped, by reason (self: our own, come "
	       "back).");
	for (d = 1; d < FGW_NDROPS; d++)
		fgd_buf_printf(b,
		               "floodgate_gossip_dropped_datagrams_total"
		               "{reason=\"%s\"} %llu\n",
		               fgw_drop_name((enum fgw_drop)d),
		               (unsigned long long)c->drops[d]);
	fgd_buf_printf(b,
	               "floodgate_gossip_dropped_datagrams_total"
	               "{reason=\"self\"} %llu\n",
	               (unsigned long long)c->drops_self);
	for (k = 0; k < sizeof counters / sizeof counters[0]; k++)
		scalar(b, counters[k].name, "counter", counters[k].help,
		       *(const uint64_t *)((const char *)c + counters[k].off));
	scalar(b, "gossip_rounds_total", "counter", "Gossip rounds run.",
	       n->rounds);

	for (i = 0; i < n->kr->n; i++) {
		enum fgd_peer_state st;

		if ((int)i == n->self)
			continue;
		st = fgd_node_peer_state(n, (int)i, now_ms);
		if ((unsigned)st < 4)
			by_state[st]++;
	}
	family(b, "peers", "gauge",
	       "Other nodes of the keyring, by state (from the last "
	       "datagram heard).");
	for (d = 0; d < 4; d++)
		fgd_buf_printf(b, "floodgate_peers{state=\"%s\"} %llu\n",
		               fgd_peer_state_name((enum fgd_peer_state)d),
		               (unsigned long long)by_state[d]);
}

void fgd_metrics_prometheus(struct fgd_buf *b, fg_client *fg,
                            const struct fgd_node *n, uint64_t now_ms)
{
	if (fg != NULL)
		segment_metrics(b, fg, n);
	if (n != NULL)
		daemon_metrics(b, n, now_ms);
}
