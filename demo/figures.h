/* SPDX-License-Identifier: ISC */
/*
 * figures.h - what a running cluster (cluster.h) says: the tokens left in
 * a node's bucket, what its daemon logged, its counters, its CPU time.
 * The figures a demo, a bench or a test compares with what its own
 * workers counted.
 */
#ifndef FG_DEMO_FIGURES_H
#define FG_DEMO_FIGURES_H

#include <stdint.h>
#include <sys/types.h>

#include "demo/cluster.h"

/* Whole tokens left in node @i's bucket of (@rule, @key), taking none;
 * negative while in debt; full for a key the node has no bucket for. */
int fgc_left(struct fgc_cluster *c, int i, const char *rule, const char *key,
             int64_t *out);

/* How many times node @i's log (its last 64 KiB) contains @needle. */
int fgc_log_count(const struct fgc_cluster *c, int i, const char *needle);

/* A daemon's counters, as it logs them on SIGUSR1. */
struct fgc_counters {
	unsigned long long rx, rx_bytes, tx, tx_bytes, tx_errors;
	unsigned long long harvested, applied, unknown, noroom;
	unsigned long long dropped; /* every reason but our own (self=) */
};

/* Parse the last counters line in @log; 0, or -1 if there is none. */
int fgc_parse_counters(const char *log, struct fgc_counters *g);

/*
 * fgc_counters() - ask node @i's daemon for its counters (SIGUSR1) and
 * poll its log until a counters line newer than the signal shows, for
 * ready_ms at most.
 */
int fgc_counters(struct fgc_cluster *c, int i, struct fgc_counters *g);

/* CPU time (utime + stime) @pid used so far, in clock ticks; 0 if gone. */
unsigned long long fgc_cpu_ticks(pid_t pid);

#endif
