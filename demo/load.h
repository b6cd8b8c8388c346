/* SPDX-License-Identifier: ISC */
/*
 * load.h - worker processes offering load to a cluster's segments, as a
 * prefork server's workers would, and counting what they were admitted.
 *
 * The parent attaches to each node's segment before fork() (the cluster's
 * fgc_await_ready does), as a prefork master must; each worker checks one
 * (rule, key) on an absolute schedule (clock_nanosleep TIMER_ABSTIME), so
 * the offered rate does not sag with the cost of a check, and the
 * workers of a node are spread over its gap.  Every worker owns a
 * cache-line-sized row in a shared anonymous mapping and stores its
 * running counts there with relaxed atomic stores: one writer per row,
 * so anyone may read a consistent running figure at any time (the live
 * view) and the exact one after the worker exited (the report).
 */
#ifndef FG_DEMO_LOAD_H
#define FG_DEMO_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "demo/cluster.h"
#include "lib/floodgate.h"

struct fgc_row {
	uint64_t admitted, denied;
	uint64_t first_ns, last_ns; /* before its first check, after its last */
	int64_t error;              /* what stopped it early: fg_allow's code */
	int64_t sys_errno;          /* or clock_nanosleep's */
	uint64_t done;              /* 1 once it ran its whole schedule */
} __attribute__((aligned(64)));

/*
 * fgc_offer() - check (@rule, @key) on @fg once every @gap_ns, at
 * @first_ns + k * @gap_ns while that is before @deadline_ns, counting
 * into @row.  0, or -1 with row->error (an fg_allow error) or
 * row->sys_errno (clock_nanosleep's) set.
 */
int fgc_offer(fg_client *fg, const char *rule, const char *key, uint64_t gap_ns,
              uint64_t first_ns, uint64_t deadline_ns, struct fgc_row *row);

struct fgc_load {
	/* the caller's */
	const char *rule, *key;
	int per_node;            /* worker processes per node */
	unsigned offer;          /* checks/s offered to a node, all workers */
	unsigned ms;             /* for how long */
	unsigned start_delay_ms; /* from the first fork to the first check */
	/* fgc_load_start()'s */
	int nodes;
	uint64_t start_ns, deadline_ns;
	struct fgc_row *rows; /* nodes * per_node, node-major */
	pid_t *pid;           /* 0 once reaped */
	size_t bytes;
};

/*
 * fgc_load_start() - fork per_node workers for every node of @c (each
 * attached by fgc_await_ready) to offer @l's load from now +
 * start_delay_ms for ms.  On -1 (@c->err), the workers already started
 * are left for fgc_load_wait(l, 1).
 */
int fgc_load_start(struct fgc_cluster *c, struct fgc_load *l);

/*
 * fgc_load_wait() - reap every worker, SIGTERMing them first if @stop.
 * 0 when each exited 0 having run its whole schedule; else -1 and what
 * went wrong in @err.
 */
int fgc_load_wait(struct fgc_load *l, int stop, char *err, size_t errlen);

/* The workers' counts so far, for node @node or every node (-1): sums of
 * admitted and denied, the earliest first_ns and the latest last_ns. */
void fgc_load_sum(const struct fgc_load *l, int node, struct fgc_row *sum);

/* Unmap and free; the workers must have been reaped. */
void fgc_load_free(struct fgc_load *l);

#endif
