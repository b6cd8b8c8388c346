/* SPDX-License-Identifier: ISC */
/*
 * show.c - floodgate status, rules and get: what the segment holds, with
 * what the daemon adds when it answers.  None of them needs the daemon:
 * without it they say so and show the segment.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "shm/clock.h"
#include "util/human.h"
#include "util/hex.h"

static void iso_time(uint64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static unsigned rules_count(struct fgc *c)
{
	fg_rule_info ri;
	unsigned i, n = 0;

	for (i = 0; i < FG_RULES_MAX; i++)
		n += fg_rule_get(c->fg, i, &ri) == 0;
	return n;
}

/* ---------------------------------------------------------------- status */

struct status {
	fg_segment_stats st;
	unsigned nrules;
	char created[32];
	struct fgc_reply r;
	int daemon; /* 0: answers; else the exit status ask() gave */
	const struct fgc_rline *dl, *pl, *rl, *sl;
};

static void status_json(struct fgc *c, const struct status *s)
{
	struct fgu_json *j = &c->j;
	const fg_segment_stats *st = &s->st;

	fgu_json_object(j);
	fgu_json_kstr(j, "segment", c->segment);
	fgu_json_kstr(j, "path", c->seg_path);
	fgu_json_ku64(j, "layout_version", c->fg->seg.tbl.hdr->layout_version);
	fgu_json_ku64(j, "size_bytes", c->fg->seg.size);
	fgu_json_ku64(j, "capacity", st->capacity);
	fgu_json_ku64(j, "slots", st->nslots);
	fgu_json_ku64(j, "used", st->used);
	fgu_json_ku64(j, "dead", st->dead);
	fgu_json_name(j, "occupancy");
	fgu_json_fixed(
	    j, st->capacity ? (double)st->used / (double)st->capacity : 0.0, 4);
	fgu_json_ku64(j, "rules", s->nrules);
	fgu_json_kstr(j, "created", s->created);
	fgu_json_name(j, "daemon");
	fgu_json_object(j);
	fgu_json_name(j, "running");
	if (s->daemon == EXIT_PERM)
		fgu_json_null(j); /* not ours to know */
	else
		fgu_json_bool(j, s->daemon == 0);
	if (s->dl) {
		fgu_json_name(j, "status");
		fgc_json_line(c, s->dl);
	}
	if (s->pl) {
		fgu_json_name(j, "peers");
		fgc_json_line(c, s->pl);
	}
	if (s->rl) {
		fgu_json_name(j, "redis");
		fgc_json_line(c, s->rl);
	}
	if (s->sl) {
		fgu_json_name(j, "strict");
		fgc_json_line(c, s->sl);
	}
	fgu_json_object_end(j);
	fgu_json_object_end(j);
}

/* The Redis transport's line: its breaker, and since when. */
static void status_redis_text(struct fgc *c, const struct fgc_rline *rl)
{
	char since[FGU_HUMAN_MAX], ago[64];
	const char *state = fgc_kv(rl, "state");

	fgu_duration(fgc_kv_u64(rl, "since_ms_ago"), since, sizeof since);
	if (strcmp(state, "closed") == 0)
		fgc_out(c,
		        "redis:     %s, breaker closed, %s other nodes, "
		        "last exchange %s\n",
		        fgc_kv(rl, "url"), fgc_kv(rl, "origins"),
		        fgc_ago(fgc_kv(rl, "last_ms_ago"), ago, sizeof ago));
	else
		fgc_out(c,
		        "redis:     %s, breaker %s for %s (%s): global rules "
		        "decide on local state\n",
		        fgc_kv(rl, "url"), state, since, fgc_kv(rl, "reason"));
}

static void status_daemon_text(struct fgc *c, const struct status *s)
{
	char up[FGU_HUMAN_MAX], peers[FGU_HUMAN_MAX];
	const struct fgc_rline *pl = s->pl;

	if (s->dl)
		fgc_out(
		    c,
		    "daemon:    running, pid %s, up %s, gossip %s, "
		    "incarnation %s\n",
		    fgc_kv(s->dl, "pid"),
		    fgu_duration(fgc_kv_u64(s->dl, "uptime_ms"), up, sizeof up),
		    fgc_kv(s->dl, "gossip"), fgc_kv(s->dl, "incarnation"));
	else if (s->daemon == EXIT_PERM)
		fgc_out(c, "daemon:    unknown (permission denied on %s)\n",
		        c->ctl_path);
	else
		fgc_out(c, "daemon:    not running (nobody answers on %s)\n",
		        c->ctl_path[0] ? c->ctl_path
		                       : "no socket: control off");
	if (pl)
		fgc_out(
		    c,
		    "peers:     %s: %s alive, %s suspect, %s dead, %s never "
		    "heard\n",
		    fgu_count(fgc_kv_u64(pl, "total"), "peer", "peers", peers,
		              sizeof peers),
		    fgc_kv(pl, "alive"), fgc_kv(pl, "suspect"),
		    fgc_kv(pl, "dead"), fgc_kv(pl, "unknown"));
	if (s->rl)
		status_redis_text(c, s->rl);
	if (s->sl) /* strict rules (floodgated(8), Strict rules) */
		fgc_out(c,
		        "strict:    breaker %s, %s granted, %s denied, %s down "
		        "(the rules' on-redis-down decided), %s Redis calls, "
		        "%s from leases\n",
		        fgc_kv(s->sl, "state"), fgc_kv(s->sl, "granted"),
		        fgc_kv(s->sl, "denied"), fgc_kv(s->sl, "down"),
		        fgc_kv(s->sl, "calls"), fgc_kv(s->sl, "leased"));
}

static void status_text(struct fgc *c, const struct status *s)
{
	const fg_segment_stats *st = &s->st;

	fgc_out(c, "segment:   %s (%s)\n", c->segment, c->seg_path);
	fgc_out(c, "layout:    version %u, %zu bytes, created %s\n",
	        c->fg->seg.tbl.hdr->layout_version, c->fg->seg.size,
	        s->created);
	fgc_out(c,
	        "keys:      %" PRIu64 " of %" PRIu64 " (%.1f%%), %" PRIu64
	        " slots, %" PRIu64 " dead\n",
	        st->used, st->capacity,
	        st->capacity ? 100.0 * (double)st->used / (double)st->capacity
	                     : 0.0,
	        st->nslots, st->dead);
	fgc_out(c, "rules:     %u\n", s->nrules);
	status_daemon_text(c, s);
}

int fgc_cmd_status(struct fgc *c, int argc, char **argv)
{
	struct status s;
	int e;

	(void)argc;
	(void)argv;
	if ((e = fgc_seg_open(c)) != 0)
		return e;
	memset(&s, 0, sizeof s);
	if (fg_stats(c->fg, &s.st) != 0)
		return fgc_fail(c, "status", FG_ESYS);
	s.nrules = rules_count(c);
	iso_time(c->fg->seg.tbl.hdr->created_ns, s.created, sizeof s.created);
	s.daemon = fgc_ask(c, "status", &s.r, 0);
	if (s.daemon == 0) {
		s.dl = fgc_reply_find(&s.r, "status");
		s.pl = fgc_reply_find(&s.r, "peers");
		s.rl = fgc_reply_find(&s.r, "redis");
		s.sl = fgc_reply_find(&s.r, "strict");
	}
	if (c->json)
		status_json(c, &s);
	else
		status_text(c, &s);
	fgc_reply_free(&s.r);
	return 0;
}

/* ----------------------------------------------------------------- rules */

static void rule_json(struct fgc *c, const fg_rule_info *ri,
                      const fg_share_info *si, uint32_t overrides)
{
	struct fgu_json *j = &c->j;

	fgu_json_object(j);
	fgu_json_kstr(j, "name", ri->name);
	fgu_json_ku64(j, "capacity", ri->capacity);
	fgu_json_ku64(j, "rate", ri->rate);
	fgu_json_ku64(j, "period_ms", ri->period_ms);
	fgu_json_kstr(j, "scope", fgc_rule_scope(ri->flags));
	fgu_json_kstr(j, "on_full",
	              ri->flags & FG_RULE_FAIL_CLOSED ? "closed" : "open");
	fgu_json_kstr(j, "mode",
	              ri->flags & FG_RULE_SHADOW ? "shadow" : "enforce");
	fgu_json_kbool(j, "default", ri->flags & FG_RULE_DEFAULT);
	fgu_json_ku64(j, "table_full", ri->table_full);
	fgu_json_ku64(j, "slots", si->slots);
	fgu_json_ku64(j, "slot_quota", si->slot_quota);
	fgu_json_ku64(j, "over_quota", si->over_quota);
	fgu_json_ku64(j, "max_delay_ms", ri->max_delay_ms);
	fgu_json_kbool(j, "in_flight", ri->flags & FG_RULE_IN_FLIGHT);
	fgu_json_ku64(j, "lease_ms", ri->lease_ms);
	fgu_json_ku64(j, "penalty_denials", ri->penalty_denials);
	fgu_json_ku64(j, "penalty_window_ms", ri->penalty_window_ms);
	fgu_json_ku64(j, "penalty_block_ms", ri->penalty_block_ms);
	fgu_json_ku64(j, "penalty_blocks", ri->penalties);
	fgu_json_kstr(j, "algorithm", fgc_rule_algorithm(ri->flags));
	fgu_json_ku64(j, "overrides", overrides);
	fgu_json_object_end(j);
}

/* "N/WINDOW BLOCK" of a rule's penalty, "-" for none. */
static char *penalty_text(const fg_rule_info *ri, char *buf, size_t len)
{
	char w[FGU_HUMAN_MAX], b[FGU_HUMAN_MAX];

	if (!(ri->flags & FG_RULE_PENALTY))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%u in %s, %s", ri->penalty_denials,
		         fgu_duration(ri->penalty_window_ms, w, sizeof w),
		         fgu_duration(ri->penalty_block_ms, b, sizeof b));
	return buf;
}

static void rule_text(struct fgc *c, const fg_rule_info *ri,
                      const fg_share_info *si, uint32_t overrides)
{
	char rate[FGU_HUMAN_MAX], quota[24] = "-", pen[3 * FGU_HUMAN_MAX];

	if (si->slot_quota != 0)
		snprintf(quota, sizeof quota, "%" PRIu64, si->slot_quota);
	fgc_out(c,
	        "%-20s %10u %12s %-6s %-7s %-7s %-7s %10" PRIu64 " %8" PRIu64
	        " %8s %-18s %8" PRIu64 " %-14s %u\n",
	        ri->name, ri->capacity, fgc_rule_rate(ri, rate, sizeof rate),
	        fgc_rule_scope(ri->flags),
	        ri->flags & FG_RULE_FAIL_CLOSED ? "closed" : "open",
	        ri->flags & FG_RULE_SHADOW ? "shadow" : "enforce",
	        ri->flags & FG_RULE_DEFAULT ? "yes" : "no", ri->table_full,
	        si->slots, quota, penalty_text(ri, pen, sizeof pen),
	        ri->penalties, fgc_rule_algorithm(ri->flags), overrides);
}

int fgc_cmd_rules(struct fgc *c, int argc, char **argv)
{
	uint32_t ovr[FG_MAX_RULES];
	fg_rule_info ri;
	fg_share_info si;
	unsigned i;
	int e;

	(void)argc;
	(void)argv;
	if ((e = fgc_seg_open(c)) != 0)
		return e;
	fg__override_counts(c->fg, ovr);
	if (c->json)
		fgu_json_array(&c->j);
	else
		fgc_out(
		    c,
		    "%-20s %10s %12s %-6s %-7s %-7s %-7s %10s %8s %8s %-18s "
		    "%8s %-14s %s\n",
		    "RULE", "CAPACITY", "RATE", "SCOPE", "ON-FULL", "MODE",
		    "DEFAULT", "TABLE-FULL", "SLOTS", "QUOTA", "PENALTY",
		    "BLOCKS", "ALGORITHM", "OVERRIDES");
	for (i = 0; i < FG_RULES_MAX; i++) {
		if (fg_rule_get(c->fg, i, &ri) != 0 ||
		    fg_rule_share_get(c->fg, i, &si) != 0)
			continue;
		if (c->json)
			rule_json(c, &ri, &si, ovr[i]);
		else
			rule_text(c, &ri, &si, ovr[i]);
	}
	if (c->json)
		fgu_json_array_end(&c->j);
	return 0;
}

/* ------------------------------------------------------------------- get */

struct bucket {
	const char *rule, *key;
	size_t len;
	fg_rule_info ri;
	int64_t left;
	uint64_t blocked_ms; /* by the rule's penalty, from now */
	struct fgc_item x;
	int found;
	struct fgc_reply r;
	int up;
	struct fg_ovr_entry ov; /* the key's override, when has_ov */
	int has_ov;
};

static void get_json(struct fgc *c, const struct bucket *b)
{
	struct fgu_json *j = &c->j;
	char hex[2 * FG_KEY_MAX + 1];
	uint64_t total = 0;
	size_t i;

	fgu_hex(b->key, b->len, hex);
	fgu_json_object(j);
	fgu_json_kstr(j, "rule", b->rule);
	fgu_json_name(j, "key");
	fgu_json_bytes(j, b->key, b->len);
	fgu_json_kstr(j, "key_hex", hex);
	fgu_json_ki64(j, "tokens_left", b->left);
	fgu_json_ku64(j, "capacity",
	              b->has_ov ? b->ov.capacity : b->ri.capacity);
	fgu_json_name(j, "override");
	if (b->has_ov)
		fgc_override_json(c, NULL, &b->ov);
	else
		fgu_json_null(j);
	fgu_json_ku64(j, "local_consumed", b->x.consumed);
	fgu_json_ku64(j, "denied", b->x.denied);
	fgu_json_ku64(j, "blocked_ms", b->blocked_ms);
	fgu_json_kbool(j, "daemon", b->up);
	fgu_json_name(j, "remote");
	if (!b->up) {
		fgu_json_null(j);
		fgu_json_name(j, "remote_consumed");
		fgu_json_null(j);
		fgu_json_object_end(j);
		return;
	}
	fgu_json_array(j);
	for (i = 0; i < b->r.n; i++) {
		fgc_json_line(c, &b->r.l[i]);
		total += fgc_kv_u64(&b->r.l[i], "consumed");
	}
	fgu_json_array_end(j);
	fgu_json_ku64(j, "remote_consumed", total);
	fgu_json_object_end(j);
}

static void get_text(struct fgc *c, const struct bucket *b)
{
	char hk[HUMAN_KEY_MAX], rate[FGU_HUMAN_MAX], lag[FGU_HUMAN_MAX + 8];
	char blk[FGU_HUMAN_MAX];
	char ov[512];
	size_t i;

	fgc_human_key((const uint8_t *)b->key, b->len, hk);
	fgc_out(c, "rule:         %s (capacity %u, %s, %s)\n", b->rule,
	        b->ri.capacity, fgc_rule_rate(&b->ri, rate, sizeof rate),
	        fgc_rule_scope(b->ri.flags));
	fgc_out(c, "key:          %s\n", hk);
	if (b->has_ov)
		fgc_override_say(&b->ov, ov, sizeof ov);
	fgc_out(c, "override:     %s\n", b->has_ov ? ov : "none");
	fgc_out(c, "tokens left:  %" PRId64 "\n", b->left);
	if (b->blocked_ms != 0)
		fgc_out(c, "blocked:      for %s more (penalty)\n",
		        fgu_duration(b->blocked_ms, blk, sizeof blk));
	fgc_out(c, "local:        %" PRIu64 " consumed, %" PRIu64 " denied%s\n",
	        b->x.consumed, b->x.denied, b->found ? "" : " (no bucket yet)");
	if (!b->up)
		fgc_out(c, "remote:       unknown (daemon not running)\n");
	else if (b->r.n == 0)
		fgc_out(c, "remote:       none\n");
	for (i = 0; b->up && i < b->r.n; i++)
		fgc_out(c, "remote:       %s consumed %s, last heard %s\n",
		        fgc_kv(&b->r.l[i], "origin"),
		        fgc_kv(&b->r.l[i], "consumed"),
		        fgc_ago(fgc_kv(&b->r.l[i], "lag_ms"), lag, sizeof lag));
}

int fgc_cmd_get(struct fgc *c, int argc, char **argv)
{
	char hex[2 * FG_KEY_MAX + 1], req[FGD_CTL_LINE_MAX + 1];
	struct bucket b;
	unsigned idx;
	int e;

	memset(&b, 0, sizeof b);
	if (argc != 3)
		return fgc_usage_error(c);
	b.rule = argv[1];
	b.key = argv[2];
	if ((e = fgc_key_arg(b.key, &b.len)) != 0 ||
	    (e = fgc_seg_open(c)) != 0 ||
	    (e = fgc_rule_find(c, b.rule, &idx, &b.ri)) != 0)
		return e;
	b.has_ov = fg__override_get(c->fg, idx, b.key, b.len, &b.ov);
	if ((e = fg__peek(c->fg, b.rule, b.key, b.len, &b.left)) != 0)
		return fgc_fail(c, b.rule, e);
	b.found = fgc_bucket_read(c, idx, b.key, b.len, &b.x);
	if (b.found)
		b.blocked_ms = fgc_blocked_ms(c, idx, b.x.tat, fg__now_ns());
	fgu_hex(b.key, b.len, hex);
	snprintf(req, sizeof req, "remote %s %s", b.rule, hex);
	b.up = fgc_ask(c, req, &b.r, 0) == 0;
	if (c->json)
		get_json(c, &b);
	else
		get_text(c, &b);
	fgc_reply_free(&b.r);
	return 0;
}
