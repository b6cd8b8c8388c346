/* SPDX-License-Identifier: ISC */
/*
 * persist.h - when floodgated writes and restores its snapshot, and what
 * it says about it (the format is snapshot.h's).
 *
 * Snapshots do not need gossip: a single host keeps its buckets across a
 * reboot just as a cluster node does, and a node that gossips adds its
 * remote marks.  The records are taken and applied here, in the process
 * that has the segment; the file and its MAC's key are the privileged
 * process's (privsep.h), which writes and checks it.  One line at start says
 * where the snapshot is, what was restored from it and how often it is written;
 * each write at exit is logged, the periodic ones at debug level, every failure
 * as an error.
 */
#ifndef FGD_PERSIST_H
#define FGD_PERSIST_H

#include <stdint.h>

#include "gossip/node.h"
#include "daemon/privsep.h"
#include "daemon/snapshot.h"
#include "lib/floodgate.h"

/* The daemon's logger: syslog priority, printf format. */
typedef void fgd_log_fn(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct fgd_persist {
	const char *path;         /* the snapshot; "": none */
	struct fgd_ps *ps;        /* who writes and reads it */
	uint32_t every_ms;        /* how often it is written */
	fg_client *fg;            /* the buckets */
	struct fgd_node *marks;   /* the remote marks; NULL: no gossip */
	struct fgd_counters *ctr; /* snapshots, errors, last, interval */
	fgd_log_fn *log;
};

/* Before anything starts: the snapshot's directory can hold it
 * (fgd_snapshot_check_dir).  0, or -1 logged. */
int fgd_persist_check(const char *path, fgd_log_fn *log);

/* After the rules are published: restore into a segment just created
 * (@fresh), never into one that survived (it is newer), and log the line
 * that says where and when. */
void fgd_persist_start(const struct fgd_persist *p, int fresh, uint64_t now_ms);

/* Write the snapshot; @why NULL for a periodic one, else the occasion
 * ("at exit"), which is logged at level info. */
void fgd_persist_save(const struct fgd_persist *p, const char *why,
                      uint64_t now_ms);

#endif
