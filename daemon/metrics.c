/* SPDX-License-Identifier: ISC */
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
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include "daemon/metrics.h"
#include "daemon/procmetrics.h"
#include "daemon/solo.h"
#include "gossip/node.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/layout.h"
#include "shm/scan.h"

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

/* One sample, @v printed with @prec decimals. */
static void rule_sample(struct fgd_buf *b, const char *name,
                        const fg_rule_info *ri, int prec, double v)
{
	fgd_buf_printf(b, "floodgate_%s{rule=\"", name);
	label_value(b, ri->name);
	fgd_buf_printf(b, "\"} %.*f\n", prec, v);
}

/* Per rule: what a scan or the daemon's last harvest found. */
struct scan {
	uint64_t used, dead;
	struct fgd_rule_sums r[FG_MAX_RULES];
	fg_share_info share[FG_MAX_RULES];   /* read, never scanned */
	uint32_t overrides[FG_MAX_RULES];    /* the override table's */
	uint64_t block_tokens[FG_MAX_RULES]; /* the rule record's */
};

/* Outside the daemon (the CLI without one): one pass over the slots.
 * With no history, a rule's denials all go to the mode it has now. */
static int slots_scan(fg_client *fg, const fg_rule_info *ri,
                      const uint8_t *active, struct scan *s)
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
		s->r[i].aux = sums->r[i].denied;
		if (active[i] && (ri[i].flags & FG_RULE_SHADOW))
			s->r[i].shadow_denied = sums->r[i].denied;
		else
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
	RF_SHADOW,
	RF_FULL,
	RF_SLOTS,
	RF_QUOTA,
	RF_OVER,
	RF_BLOCKS,
	RF_BLOCK_TOKENS,
	RF_OVERRIDES
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
		case RF_PERIOD: /* base unit: seconds, to the millisecond */
			rule_sample(b, name, &ri[i], 3,
			            ri[i].period_ms / 1000.0);
			continue;
		case RF_KEYS:
			v = r->keys;
			break;
		case RF_ALLOWED:
			v = r->allowed;
			break;
		case RF_DENIED:
			v = r->denied;
			break;
		case RF_SHADOW:
			v = r->shadow_denied;
			break;
		case RF_FULL:
			v = ri[i].table_full;
			break;
		case RF_SLOTS:
			v = s->share[i].slots;
			break;
		case RF_QUOTA:
			v = s->share[i].slot_quota;
			break;
		case RF_OVER:
			v = s->share[i].over_quota;
			break;
		case RF_BLOCKS:
			v = ri[i].penalties;
			break;
		case RF_BLOCK_TOKENS:
			v = s->block_tokens[i];
			break;
		case RF_OVERRIDES:
			v = s->overrides[i];
			break;
		}
		rule_sample(b, name, &ri[i], 0, (double)v);
	}
}

static void rule_info(struct fgd_buf *b, const fg_rule_info *ri,
                      const uint8_t *active)
{
	unsigned i;

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
}

static const struct {
	const char *name, *type, *help;
	enum rule_fig fig;
} rule_families[] = {
    {"rule_capacity_tokens", "gauge",
     "Bucket capacity (burst) of the rule, in tokens.", RF_CAPACITY},
    {"rule_rate_tokens", "gauge",
     "Tokens refilled per period (see floodgate_rule_period_seconds).",
     RF_RATE},
    {"rule_period_seconds", "gauge", "Refill period of the rule.", RF_PERIOD},
    {"rule_keys", "gauge", "Live buckets (keys) under the rule.", RF_KEYS},
    {"rule_allowed_tokens_total", "counter",
     "Tokens admitted on this host under the rule (a check of cost N "
     "counts N): its live buckets plus what evicted ones held; checks "
     "answered by the on-full policy and the would-be denials of a shadow "
     "rule are not included.",
     RF_ALLOWED},
    {"rule_denials_total", "counter",
     "Checks denied under the rule while it enforced: its live buckets "
     "plus evicted ones.",
     RF_DENIED},
    {"rule_shadow_denials_total", "counter",
     "Checks a rule in shadow mode admitted but would have denied "
     "(never in floodgate_rule_denials_total).",
     RF_SHADOW},
    {"rule_table_full_total", "counter",
     "Checks that found no room in the table for a new key (answered by "
     "the rule's on-full policy).",
     RF_FULL},
    {"rule_slots", "gauge",
     "Slots of the table the rule's buckets hold (a key of more than 16 "
     "bytes takes 2 to 4).",
     RF_SLOTS},
    {"rule_slot_quota", "gauge",
     "The most slots the rule's buckets may hold (its share of the "
     "table); 0: no quota.",
     RF_QUOTA},
    {"rule_over_quota_total", "counter",
     "Of floodgate_rule_table_full_total: checks of a new key refused "
     "because the rule's buckets held its quota of slots.",
     RF_OVER},
    {"rule_penalty_blocks_total", "counter",
     "Keys this host blocked by the rule's penalty (N denials within T: "
     "denied for B); a block is counted where its denials were.",
     RF_BLOCKS},
    {"rule_penalty_block_tokens_total", "counter",
     "Tokens those blocks took (a blocked key's bucket is emptied to B "
     "past now, and counted as consumed so that other hosts block it "
     "too): they are in floodgate_rule_allowed_tokens_total, which less "
     "this is what the rule admitted.",
     RF_BLOCK_TOKENS},
    {"rule_overrides", "gauge",
     "Keys and key prefixes with a capacity and rate of their own under "
     "the rule (floodgate override list), from the config and set at run "
     "time.",
     RF_OVERRIDES},
};

/* Inside the daemon, the last harvest's sums (refreshed by a scrape, see
 * fgd_metrics_scrape): a scrape must not scan a million slots in the
 * daemon's loop. */
static void harvest_sums(const struct fgd_harvest *h, struct scan *s)
{
	s->used = h->ready;
	s->dead = h->dead;
	memcpy(s->r, h->sums, sizeof s->r);
}

_Static_assert(sizeof((struct scan *)0)->r ==
                   sizeof((struct fgd_harvest *)0)->sums,
               "a harvest's sums are a scan's");

static void segment_metrics(struct fgd_buf *b, fg_client *fg,
                            const struct fgd_harvest *hv)
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
		active[i] = fg_rule_get(fg, i, &ri[i]) == 0 &&
		            fg_rule_share_get(fg, i, &s->share[i]) == 0;
	fg__override_counts(fg, s->overrides);
	for (i = 0; i < FG_MAX_RULES; i++)
		s->block_tokens[i] =
		    uatomic_read(&fg->seg.rules[i].penalty_tokens);
	if (hv != NULL && hv->passes != 0 && hv->fg == fg) {
		harvest_sums(hv, s);
	} else if (slots_scan(fg, ri, active, s) != 0) {
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
	rule_info(b, ri, active);
	for (i = 0; i < sizeof rule_families / sizeof rule_families[0]; i++)
		rules_family(b, ri, active, s, rule_families[i].name,
		             rule_families[i].type, rule_families[i].help,
		             rule_families[i].fig);
out:
	free(s);
	free(ri);
}

#define CTR(field, name, help)                                                 \
	{                                                                      \
		name, help, offsetof(struct fgd_counters, field)               \
	}

/* The daemon's counters (gossip/counters.h), each under its name. */
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
    CTR(records_badkey, "gossip_records_bad_key_total",
        "Received records whose key holds a NUL byte (no caller's key "
        "does): not applied."),
    CTR(records_noroom, "gossip_records_no_room_total",
        "Received records not applied for want of room in the table "
        "(retried by a repair)."),
    CTR(ledger_evicted, "ledger_evicted_total",
        "Marks still owed forgotten because the remote ledger was full "
        "(the key may be charged twice: stricter, never looser)."),
    CTR(debit_clamped, "ledger_clamped_tokens_total",
        "Tokens peers reported beyond what they can have admitted: not "
        "debited."),
    CTR(debt_capped, "ledger_capped_tokens_total",
        "Tokens of debt beyond the debt bound: forgiven."),
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

static void peer_sample(struct fgd_buf *b, const char *name, const char *peer,
                        const char *state, double v)
{
	fgd_buf_printf(b, "floodgate_%s{peer=\"", name);
	label_value(b, peer);
	if (state != NULL)
		fgd_buf_printf(b, "\",state=\"%s", state);
	fgd_buf_printf(b, "\"} %.3f\n", v);
}

/* Each other keyring member: its state, how long since it was heard, and
 * how many of its versions this node still lacks (sync.c). */
static void peers_metrics(struct fgd_buf *b, const struct fgd_node *n,
                          uint64_t now_ms)
{
	uint64_t by_state[4] = {0, 0, 0, 0};
	size_t i;
	int d;

	for (i = 0; i < n->kr->n; i++) {
		enum fgd_peer_state st;

		if ((int)i == n->x.self)
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
	family(b, "peer_state", "gauge",
	       "Each other node of the keyring: 1 for the state it is in.");
	for (i = 0; i < n->kr->n; i++) {
		enum fgd_peer_state st;

		if ((int)i == n->x.self)
			continue;
		st = fgd_node_peer_state(n, (int)i, now_ms);
		for (d = 0; d < 4; d++)
			peer_sample(b, "peer_state", n->kr->keys[i].name,
			            fgd_peer_state_name((enum fgd_peer_state)d),
			            st == (enum fgd_peer_state)d);
	}
	family(b, "peer_heard_age_seconds", "gauge",
	       "Time since the last datagram from each other node (absent: "
	       "never heard).");
	for (i = 0; i < n->kr->n; i++)
		if ((int)i != n->x.self && n->members.mem[i].heard_ms != 0 &&
		    now_ms >= n->members.mem[i].heard_ms)
			peer_sample(b, "peer_heard_age_seconds",
			            n->kr->keys[i].name, NULL,
			            (now_ms - n->members.mem[i].heard_ms) /
			                1000.0);
	family(b, "peer_versions_behind", "gauge",
	       "Versions of each other node's records heard of but not yet "
	       "held (repaired by sync; 0: up to date).");
	for (i = 0; i < n->kr->n; i++)
		if ((int)i != n->x.self)
			peer_sample(b, "peer_versions_behind",
			            n->kr->keys[i].name, NULL,
			            n->sync.o[i].latest > n->sync.o[i].have
			                ? (double)(n->sync.o[i].latest -
			                           n->sync.o[i].have)
			                : 0.0);
}

static void harvest_metrics(struct fgd_buf *b, const struct fgd_harvest *h,
                            uint64_t now_ms)
{
	scalar(b, "harvests_total", "counter",
	       "Passes over the table that took the workers' consumption "
	       "(one a round, and one brought forward by a scrape).",
	       h->passes);
	scalar(b, "harvest_slots_read_total", "counter",
	       "Slots the harvests read: only those of pages of buckets "
	       "that changed since the pass before.",
	       h->visited);
	family(b, "harvest_age_seconds", "gauge",
	       "Age of the per-rule figures, the occupancy and the top "
	       "denied keys: since the last harvest.");
	fgd_buf_printf(b, "floodgate_harvest_age_seconds %.3f\n",
	               h->passes && now_ms >= h->last_ms
	                   ? (now_ms - h->last_ms) / 1000.0
	                   : 0.0);
}

/* A key as a label value: printable ASCII up to FGD_TOP_TEXT_MAX bytes as
 * it is (escaped), anything else as hex of at most FGD_TOP_HEX_MAX bytes;
 * the encoding label says which, and "hex-prefix" that it was clipped. */
#define FGD_TOP_TEXT_MAX 48u
#define FGD_TOP_HEX_MAX  16u

static const char *key_label(char *out, const uint8_t *k, unsigned len)
{
	unsigned i, text = len <= FGD_TOP_TEXT_MAX;

	for (i = 0; i < len && text; i++)
		text = k[i] >= 0x20 && k[i] < 0x7f;
	if (text) {
		memcpy(out, k, len);
		out[len] = '\0';
		return "text";
	}
	for (i = 0; i < len && i < FGD_TOP_HEX_MAX; i++)
		sprintf(out + 2 * i, "%02x", k[i]);
	out[2 * i] = '\0';
	return len > FGD_TOP_HEX_MAX ? "hex-prefix" : "hex";
}

static void top_metrics(struct fgd_buf *b, const struct fgd_harvest *h)
{
	const struct fgd_topdenied *t = &h->top;
	char seen[FGD_TOP_N][FGD_TOP_TEXT_MAX + 2 * FGD_TOP_HEX_MAX + 48];
	size_t i, j, nseen = 0;

	family(b, "top_denied_window_seconds", "gauge",
	       "Length of the last complete window the top denied keys are "
	       "counted over (0: none yet).");
	fgd_buf_printf(b, "floodgate_top_denied_window_seconds %.3f\n",
	               t->window_ms / 1000.0);
	family(b, "top_denied_key_denials", "gauge",
	       "The keys denied most in the last complete window (at most "
	       "10, by rule), with their denials in it; enforced and shadow "
	       "rules alike.");
	for (i = 0; i < t->n; i++) {
		char key[FGD_TOP_TEXT_MAX + 2 * FGD_TOP_HEX_MAX + 1];
		const char *enc;
		fg_rule_info ri;
		uint64_t sum = t->top[i].denied;

		if (fg_rule_get(h->fg, t->top[i].rule, &ri) != 0)
			continue; /* removed since */
		enc = key_label(key, t->top[i].key, t->top[i].len);
		snprintf(seen[nseen], sizeof seen[0], "%s/%s/%s", ri.name, enc,
		         key);
		for (j = 0; j < nseen; j++)
			if (strcmp(seen[j], seen[nseen]) == 0)
				break;
		if (j < nseen)
			continue; /* merged into the first below */
		for (j = i + 1; j < t->n; j++) {
			char k2[sizeof key];

			if (t->top[j].rule == t->top[i].rule &&
			    strcmp(key_label(k2, t->top[j].key, t->top[j].len),
			           enc) == 0 &&
			    strcmp(k2, key) == 0)
				sum += t->top[j].denied;
		}
		nseen++;
		fgd_buf_printf(b, "floodgate_top_denied_key_denials{rule=\"");
		label_value(b, ri.name);
		fgd_buf_printf(b, "\",key=\"");
		label_value(b, key);
		fgd_buf_printf(b, "\",encoding=\"%s\"} %llu\n", enc,
		               (unsigned long long)sum);
	}
}

static void snapshot_metrics(struct fgd_buf *b, const struct fgd_counters *c,
                             uint64_t now_ms)
{
	scalar(b, "snapshots_total", "counter", "Snapshots written.",
	       c->snapshots);
	scalar(b, "snapshot_errors_total", "counter",
	       "Snapshots that could not be written (the log says why).",
	       c->snapshot_errors);
	scalar(b, "snapshots_unchanged_total", "counter",
	       "Periodic snapshots not written: nothing they hold had changed "
	       "since the last one.",
	       c->snapshots_unchanged);
	family(b, "snapshot_interval_seconds", "gauge",
	       "Time between two snapshots (absent: snapshots off, or none "
	       "tried yet).");
	if (c->snapshot_every_ms)
		fgd_buf_printf(b, "floodgate_snapshot_interval_seconds %.3f\n",
		               c->snapshot_every_ms / 1000.0);
	family(b, "snapshot_age_seconds", "gauge",
	       "Time since the snapshot on disk was last written or found "
	       "current (absent: none yet).");
	if (c->snapshot_ms && now_ms >= c->snapshot_ms)
		fgd_buf_printf(b, "floodgate_snapshot_age_seconds %.3f\n",
		               (now_ms - c->snapshot_ms) / 1000.0);
}

static void daemon_metrics(struct fgd_buf *b, const struct fgd_node *n,
                           uint64_t now_ms)
{
	const struct fgd_counters *c = &n->ctr;
	size_t k;
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
	scalar(b, "ledger_marks", "gauge",
	       "Marks of other nodes' counts held in the remote ledger.",
	       n->counts.remote.n);
	scalar(b, "ledger_marks_max", "gauge",
	       "Marks the remote ledger holds at most (ledger-size).",
	       n->counts.remote.max);

	family(b, "gossip_interval_seconds", "gauge",
	       "Time between two gossip rounds (the interval directive).");
	fgd_buf_printf(b, "floodgate_gossip_interval_seconds %.3f\n",
	               fgd_interval_ms(n) / 1e3);
	peers_metrics(b, n, now_ms);
	harvest_metrics(b, &n->harvest, now_ms);
	top_metrics(b, &n->harvest);
	snapshot_metrics(b, &n->ctr, now_ms);
	if (n->metrics_more != NULL) /* the Redis transport (redisview.h) */
		n->metrics_more(b, n->metrics_arg, now_ms);
}

void fgd_metrics_family(struct fgd_buf *b, const char *name, const char *type,
                        const char *help)
{
	family(b, name, type, help);
}

void fgd_metrics_scalar(struct fgd_buf *b, const char *name, const char *type,
                        const char *help, uint64_t v)
{
	scalar(b, name, type, help, v);
}

void fgd_metrics_labelled(struct fgd_buf *b, const char *name, const char *type,
                          const char *help, const char *label,
                          const struct fgd_metrics_sample *s, size_t n)
{
	size_t i;

	family(b, name, type, help);
	for (i = 0; i < n; i++)
		fgd_buf_printf(b, "floodgate_%s{%s=\"%s\"} %" PRIu64 "\n", name,
		               label, s[i].value, s[i].n);
}

/* A single host's daemon: its harvest's figures and its snapshots'. */
static void solo_metrics(struct fgd_buf *b, const struct fgd_solo *solo,
                         uint64_t now_ms)
{
	if (solo->up) {
		harvest_metrics(b, &solo->harvest, now_ms);
		top_metrics(b, &solo->harvest);
	}
	snapshot_metrics(b, &solo->ctr, now_ms);
}

void fgd_metrics_prometheus(struct fgd_buf *b, fg_client *fg,
                            const struct fgd_node *n,
                            const struct fgd_solo *solo, uint64_t now_ms)
{
	const struct fgd_harvest *h = n != NULL ? &n->harvest
	                              : solo != NULL && solo->up
	                                  ? &solo->harvest
	                                  : NULL;

	if (fg != NULL)
		segment_metrics(b, fg, h);
	if (n != NULL)
		daemon_metrics(b, n, now_ms);
	else if (solo != NULL)
		solo_metrics(b, solo, now_ms);
	/* the owner of the segment renders: the daemon, not the CLI */
	if (fg != NULL &&
	    uatomic_read(&fg->seg.tbl.hdr->owner_pid) == (uint64_t)getpid())
		fgd_metrics_process(b);
}

void fgd_metrics_scrape(struct fgd_buf *b, fg_client *fg, struct fgd_node *n,
                        struct fgd_solo *solo, uint64_t now_ms)
{
	uint64_t *next = NULL, t0 = fg__now_ns();

	/* The harvest of the next round, brought forward: what workers did
	 * up to this request is in the figures.  A pass over a large table
	 * takes a while, so a flood of scrapes may not harvest more than
	 * FGD_SCRAPE_SHARE of the daemon's time: after a pass of D, scrapes
	 * read it until D * (FGD_SCRAPE_SHARE - 1) later. */
	if (n != NULL && n->fg == fg)
		next = &n->scrape_next_ns;
	else if (n == NULL && solo != NULL && solo->up &&
	         solo->harvest.fg == fg)
		next = &solo->scrape_next_ns;
	if (next != NULL && t0 >= *next) {
		if (n != NULL)
			fgd_node_harvest(n, now_ms);
		else
			fgd_solo_pass(solo, now_ms);
		*next = t0 + (fg__now_ns() - t0) * FGD_SCRAPE_SHARE;
	}
	fgd_metrics_prometheus(b, fg, n, solo, now_ms);
}
