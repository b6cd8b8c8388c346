/* SPDX-License-Identifier: ISC */
/*
 * stats.c - floodgate stats: the segment's counters, tokens allowed and
 * denials per rule summed over the live buckets, and the daemon's
 * counters when it answers; or all of it in the Prometheus text format,
 * rendered by the daemon's own renderer (daemon/metrics.h) so that the
 * CLI and GET /metrics never disagree on a name.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/metrics.h"
#include "shm/clock.h"
#include "shm/scan.h"

struct sums {
	uint64_t allowed[FG_RULES_MAX], denied[FG_RULES_MAX];
};

/* Allowed and denied per rule, over the live buckets. */
static void per_rule(struct fgc *c, struct sums *s)
{
	struct fg_slot_view v;
	uint64_t cur = 0;

	memset(s, 0, sizeof *s);
	while (fg__slot_next(&c->fg->seg.tbl, &cur, &v)) {
		if (v.rule >= FG_RULES_MAX)
			continue;
		s->allowed[v.rule] += v.consumed;
		s->denied[v.rule] += v.denied;
	}
}

static void segment_json(struct fgc *c, const fg_segment_stats *st)
{
	struct fgu_json *j = &c->j;

	fgu_json_name(j, "segment");
	fgu_json_object(j);
	fgu_json_ku64(j, "used", st->used);
	fgu_json_ku64(j, "capacity", st->capacity);
	fgu_json_ku64(j, "dead", st->dead);
	fgu_json_ku64(j, "inserts", st->inserts);
	fgu_json_ku64(j, "abandoned", st->abandoned);
	fgu_json_ku64(j, "reaped", st->reaped);
	fgu_json_ku64(j, "consumed", st->consumed);
	fgu_json_ku64(j, "denied", st->denied);
	fgu_json_ku64(j, "table_full", st->table_full);
	fgu_json_object_end(j);
}

static void stats_json(struct fgc *c, const fg_segment_stats *st,
                       const struct sums *s, const struct fgc_reply *r, int up)
{
	struct fgu_json *j = &c->j;
	fg_rule_info ri;
	fg_share_info si;
	unsigned i;
	size_t k;

	fgu_json_object(j);
	segment_json(c, st);
	fgu_json_name(j, "rules");
	fgu_json_array(j);
	for (i = 0; i < FG_RULES_MAX; i++) {
		if (fg_rule_get(c->fg, i, &ri) != 0 ||
		    fg_rule_share_get(c->fg, i, &si) != 0)
			continue;
		fgu_json_object(j);
		fgu_json_kstr(j, "name", ri.name);
		fgu_json_ku64(j, "allowed", s->allowed[i]);
		fgu_json_ku64(j, "denied", s->denied[i]);
		fgu_json_ku64(j, "table_full", ri.table_full);
		fgu_json_ku64(j, "over_quota", si.over_quota);
		fgu_json_ku64(j, "slots", si.slots);
		fgu_json_ku64(j, "slot_quota", si.slot_quota);
		fgu_json_ku64(j, "penalty_blocks", ri.penalties);
		fgu_json_object_end(j);
	}
	fgu_json_array_end(j);
	fgu_json_name(j, "daemon");
	if (!up) {
		fgu_json_null(j);
	} else { /* gossip, members, sync, drops: one object each */
		fgu_json_object(j);
		for (k = 0; k < r->n; k++) {
			fgu_json_name(j, r->l[k].type);
			fgc_json_line(c, &r->l[k]);
		}
		fgu_json_object_end(j);
	}
	fgu_json_object_end(j);
}

static void stats_text(struct fgc *c, const fg_segment_stats *st,
                       const struct sums *s, const struct fgc_reply *r, int up)
{
	fg_rule_info ri;
	fg_share_info si;
	unsigned i;
	size_t k;
	int f;

	fgc_out(c,
	        "segment: %" PRIu64 " keys of %" PRIu64 ", %" PRIu64
	        " inserted, %" PRIu64 " abandoned, %" PRIu64 " reaped, %" PRIu64
	        " table full\n",
	        st->used, st->capacity, st->inserts, st->abandoned, st->reaped,
	        st->table_full);
	fgc_out(c, "%-20s %12s %12s %10s %10s %10s\n", "RULE", "ALLOWED",
	        "DENIED", "TABLE-FULL", "OVER-QUOTA", "BLOCKS");
	for (i = 0; i < FG_RULES_MAX; i++)
		if (fg_rule_get(c->fg, i, &ri) == 0 &&
		    fg_rule_share_get(c->fg, i, &si) == 0)
			fgc_out(c,
			        "%-20s %12" PRIu64 " %12" PRIu64 " %10" PRIu64
			        " %10" PRIu64 " %10" PRIu64 "\n",
			        ri.name, s->allowed[i], s->denied[i],
			        ri.table_full, si.over_quota, ri.penalties);
	if (!up)
		fgc_out(c, "daemon: not running\n");
	else if (r->n == 0)
		fgc_out(c, "daemon: gossip off\n");
	for (k = 0; up && k < r->n; k++)
		for (f = 0; f < r->l[k].nkv; f++)
			fgc_out(c, "%-8s %-18s %s\n", r->l[k].type,
			        r->l[k].k[f], r->l[k].v[f]);
}

/* The Prometheus text: the daemon's (a superset), else the segment's. */
static int stats_prometheus(struct fgc *c)
{
	struct fgc_reply r;

	if (fgc_ask(c, "metrics", &r, 1) == 0) {
		fgd_buf_add(&c->out, r.text + 3, strlen(r.text + 3));
		fgc_reply_free(&r);
		return 0;
	}
	fgd_metrics_prometheus(&c->out, c->fg, NULL, NULL,
	                       fg__now_ns() / 1000000u);
	return 0;
}

static int stats_options(struct fgc *c, int argc, char **argv, int *prom)
{
	static const struct option lo[] = {
	    {"prometheus", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
	int o;

	*prom = 0;
	while ((o = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		if (o != 'p')
			return fgc_bad_option(c, argv, optind, o);
		*prom = 1;
	}
	if (optind != argc)
		return fgc_usage_error(c);
	if (*prom && c->json) {
		fgc_warn("--json and --prometheus are two output formats: give "
		         "one of them");
		return EXIT_USAGE;
	}
	return 0;
}

int fgc_cmd_stats(struct fgc *c, int argc, char **argv)
{
	struct sums *s = NULL;
	fg_segment_stats st;
	struct fgc_reply r;
	int e, prom, up;

	if ((e = stats_options(c, argc, argv, &prom)) != 0 ||
	    (e = fgc_seg_open(c)) != 0)
		return e;
	if (prom)
		return stats_prometheus(c);
	if (fg_stats(c->fg, &st) != 0)
		return fgc_fail(c, "stats", FG_ESYS);
	s = malloc(sizeof *s);
	if (s == NULL)
		return fgc_fail(c, "stats", FG_ENOMEM);
	per_rule(c, s);
	up = fgc_ask(c, "stats", &r, 0) == 0;
	if (c->json)
		stats_json(c, &st, s, &r, up);
	else
		stats_text(c, &st, s, &r, up);
	fgc_reply_free(&r);
	free(s);
	return 0;
}
