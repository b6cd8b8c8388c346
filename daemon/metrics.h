/*
 * metrics.h - the daemon's and the segment's figures as text.
 *
 * One renderer of the Prometheus text exposition format (version 0.0.4),
 * shared by the daemon's HTTP endpoint (GET /metrics) and the floodgate
 * CLI (floodgate stats --prometheus), so that both show the same figures.
 * Inside a gossiping daemon the per-rule sums come from its last harvest
 * (struct fgd_rule_sums, node.h), so a scrape does not scan the table in
 * the daemon's loop; otherwise it reads the segment with the O(slots)
 * scan of an operator's tool.  Never touches the path of a check.
 */
#ifndef FGD_METRICS_H
#define FGD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"
#include "util/buf.h" /* struct fgd_buf */

struct fgd_node;

/* Prometheus text exposition format (# HELP/# TYPE, metric names prefixed
 * floodgate_): segment figures from @fg (fg_stats: occupancy, inserts,
 * abandoned, reaped, table_full per rule; rules with their parameters as
 * labels/gauges; allowed/denied per rule if the segment has them — see
 * below), and when @n is not NULL (inside the daemon) the daemon's
 * counters: struct fgd_counters in daemon/node.h incl. each gossip drop
 * reason (label reason=...), bytes/datagrams in/out, peers by state. */
void fgd_metrics_prometheus(struct fgd_buf *b, fg_client *fg,
                            const struct fgd_node *n, uint64_t now_ms);

#endif
