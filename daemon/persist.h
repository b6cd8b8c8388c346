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
 *
 * A periodic snapshot is written only when something it holds changed
 * since the last one written: an idle host's daemon must cost nothing,
 * and a snapshot of a million buckets is a pass over the table and 128
 * MB.  What it holds changes with each of these numbers, and only with
 * them (persist.c says why): the slots of changed blocks the harvest read
 * (or, without gossip, a pass of our own over them), the buckets the
 * daemon moved itself, the marks the ledger changed, and the sequence
 * numbers of the rules and of the run-time overrides.  Time alone
 * changes nothing: a snapshot's debts are measured from when it was
 * written, so an older one with the same buckets restores the same.
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

#define FGD_PERSIST_INPUTS 4

struct fgd_persist {
	const char *path;       /* the snapshot; "": none */
	struct fgd_ps *ps;      /* who writes and reads it */
	uint32_t every_ms;      /* how often it is written */
	fg_client *fg;          /* the buckets */
	struct fgd_node *marks; /* the remote marks; NULL: no gossip */
	/* the harvest whose passes read the changed blocks (the node's,
	 * or a single host's own: solo.h) */
	const struct fgd_harvest *harvest;
	struct fgd_counters *ctr; /* snapshots, errors, last, interval */
	fgd_log_fn *log;
	/* what the last snapshot written held changes with (persist.c) */
	uint64_t inputs[FGD_PERSIST_INPUTS];
	int written; /* inputs[] is the last written's */
};

/* Before anything starts: the snapshot's directory can hold it
 * (fgd_snapshot_check_dir).  0, or -1 logged. */
int fgd_persist_check(const char *path, fgd_log_fn *log);

/* After the rules are published: restore into a segment just created
 * (@fresh), never into one that survived (it is newer), and log the line
 * that says where and when. */
void fgd_persist_start(const struct fgd_persist *p, int fresh, uint64_t now_ms);

/* Write the snapshot; @why NULL for a periodic one, which is not written
 * when nothing it holds changed since the last one, else the occasion
 * ("at exit"), which is logged at level info and always written. */
void fgd_persist_save(struct fgd_persist *p, const char *why, uint64_t now_ms);

#endif
