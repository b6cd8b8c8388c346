/* SPDX-License-Identifier: ISC */
/*
 * metrics.h - the daemon's and the segment's figures as text.
 *
 * One renderer of the Prometheus text exposition format (version 0.0.4),
 * shared by the daemon's HTTP endpoint (GET /metrics) and the floodgate
 * CLI (floodgate stats --prometheus), so that both show the same figures.
 * Inside the daemon the per-rule sums come from its harvest (struct
 * fgd_rule_sums, harvest.h: the node's, or a single host's own, solo.h),
 * brought forward by a scrape within a bounded share of the daemon's time
 * (fgd_metrics_scrape); the CLI reads the segment with the O(slots) scan
 * of an operator's tool.  Never touches the path of a check.
 */
#ifndef FGD_METRICS_H
#define FGD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"
#include "util/buf.h" /* struct fgd_buf */

struct fgd_node;
struct fgd_solo; /* solo.h */

/* Prometheus text exposition format (# HELP/# TYPE, metric names prefixed
 * floodgate_, base units): segment figures from @fg (occupancy, inserts,
 * abandoned, reaped, evicted; rules with their parameters; per rule the
 * tokens allowed, the denials, the would-be denials of shadow mode and
 * the checks that found the table full), and when @n is not NULL (inside
 * a gossiping daemon) the daemon's counters (struct fgd_counters in
 * gossip/counters.h, each gossip drop by reason), peers by state and each
 * peer's, harvests, the top denied keys (topdenied.h) and snapshots;
 * without @n, a single host's daemon gives @solo, its own harvest and
 * counters, for the harvest, top denied keys and snapshot figures (NULL:
 * the CLI, no daemon figures at all).  The
 * owner of the segment (the daemon) adds the standard process_* figures.
 * man/floodgated.8 (METRICS) lists every name. */
void fgd_metrics_prometheus(struct fgd_buf *b, fg_client *fg,
                            const struct fgd_node *n,
                            const struct fgd_solo *solo, uint64_t now_ms);

/* A family's # HELP and # TYPE lines for floodgate_@name; and a family of
 * one unlabelled sample @v: for the daemon's other renderers of families
 * (redisview.c), so that every name is written the one way. */
void fgd_metrics_family(struct fgd_buf *b, const char *name, const char *type,
                        const char *help);
void fgd_metrics_scalar(struct fgd_buf *b, const char *name, const char *type,
                        const char *help, uint64_t v);

/* A family whose samples differ by one label @label: @n of them, the
 * label's value and the sample's each. */
struct fgd_metrics_sample {
	const char *value;
	uint64_t n;
};
void fgd_metrics_labelled(struct fgd_buf *b, const char *name, const char *type,
                          const char *help, const char *label,
                          const struct fgd_metrics_sample *s, size_t n);

/* What a scrape of the daemon (GET /metrics, the control socket's
 * "metrics") answers: with @n (or @solo), the next round's harvest is brought
 * forward, so that the figures include every check that returned before
 * the request, whichever way they are read; then fgd_metrics_prometheus().
 * Scrapes harvest at most 1/FGD_SCRAPE_SHARE of the time (a pass over a
 * million slots takes milliseconds): a scrape that follows one sooner
 * reads that one's harvest. */
#define FGD_SCRAPE_SHARE 5u
void fgd_metrics_scrape(struct fgd_buf *b, fg_client *fg, struct fgd_node *n,
                        struct fgd_solo *solo, uint64_t now_ms);

#endif
