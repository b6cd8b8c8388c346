/* SPDX-License-Identifier: ISC */
/*
 * test_snapshot_idle.c - a periodic snapshot is written when something it
 * holds changed since the last one, and only then (issue 14: an idle
 * daemon costs nothing; a million buckets are 128 MB of file a minute).
 *
 * Real floodgated, snapshots every second, metrics through the control
 * socket.  An idle daemon counts its skipped snapshots and writes none
 * (the file's mtime stays); a check, an operator's refill, and another
 * node's consumption debited here each make the next one be written; a
 * daemon killed after idle rounds restores what was spent before them,
 * from the file it kept.  Each on a node that gossips and, where it has
 * no node of its own to change things, on a single host.
 *
 * Ports: tests/ports.h's; segments "fg-snapidle-dI-PID".
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "daemon/control.h"
#include "lib/client.h"
#include "lib/penalty.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"
#include "tests/prom.h"

#define SEC_NS  UINT64_C(1000000000)
#define WAIT_NS (15 * SEC_NS)

static struct fgc_cluster K;

static void teardown(void)
{
	if (fgc_fini(&K, 0) != 0)
		cr_log_warn("cleanup: %s", K.err);
}

TestSuite(snapshot_idle, .timeout = 120, .fini = teardown);

/* Node @i's file "DIR/nI.@ext". */
static void node_file(int i, const char *ext, char *buf, size_t len)
{
	CLUSTER_OK(&K, fgc_file(&K, i, ext, buf, len));
}

/* Node @i's config: a node of the cluster's keyring when @gossip, else
 * a single host (no node key, so no harvest: its own passes). */
static void conf_write(int i, int gossip, unsigned interval_ms)
{
	char sock[128], snap[128], extra[512], path[128], text[1024];
	struct fgc_conf conf = {.interval_ms = interval_ms, .extra = extra};

	node_file(i, "sock", sock, sizeof sock);
	node_file(i, "snap", snap, sizeof snap);
	snprintf(extra, sizeof extra,
	         "control %s\nsnapshot %s every 1s\n"
	         "rule api capacity 10 rate 1/1h scope global\n",
	         sock, snap);
	if (gossip) {
		CLUSTER_OK(&K, fgc_write_conf(&K, i, &conf));
		return;
	}
	snprintf(text, sizeof text, "segment %s\ncapacity 1024\n%s",
	         K.node[i].seg, extra);
	node_file(i, "conf", path, sizeof path);
	write_file(path, text);
}

static void cluster_up(int n, int gossip)
{
	int i;

	CLUSTER_OK(&K, fgc_init(&K, n, "fg-snapidle-d"));
	fgc_set_ports(&K, fgt_ports(K.n));
	if (gossip)
		CLUSTER_OK(&K, fgc_make_keys(&K));
	for (i = 0; i < n; i++)
		conf_write(i, gossip, 50);
	CLUSTER_OK(&K, fgc_start_all(&K, "api"));
}

/* One sample of node @i's metrics. */
static uint64_t metric(int i, const char *name)
{
	char sock[128], *reply = NULL;
	double v;

	node_file(i, "sock", sock, sizeof sock);
	cr_assert_eq(fgd_ctl_request(sock, "metrics", &reply), 0);
	v = prom_value(reply, name);
	free(reply);
	cr_assert_geq(v, 0, "no %s in node %d's metrics", name, i);
	return (uint64_t)v;
}

#define WRITTEN   "floodgate_snapshots_total"
#define UNCHANGED "floodgate_snapshots_unchanged_total"

/* Wait until node @i's @name exceeds @than; its value then. */
static uint64_t metric_above(int i, const char *name, uint64_t than)
{
	uint64_t t0 = fg__now_ns(), v;

	while ((v = metric(i, name)) <= than) {
		cr_assert_lt(fg__now_ns() - t0, WAIT_NS,
		             "node %d: %s stayed at %" PRIu64, i, name, v);
		usleep(20000);
	}
	return v;
}

/* The snapshot file's mtime, ns. */
static uint64_t snap_mtime(int i)
{
	char snap[128];
	struct stat st;

	node_file(i, "snap", snap, sizeof snap);
	cr_assert_eq(stat(snap, &st), 0, "%s", snap);
	return (uint64_t)st.st_mtim.tv_sec * SEC_NS +
	       (uint64_t)st.st_mtim.tv_nsec;
}

/* Node @i written at least once since now, then idle: once one periodic
 * snapshot was skipped (the writes a change makes are done: the one
 * right after it, and the one after the harvest read it), two more are,
 * and none is written, the file untouched.  The count of written ones. */
static uint64_t idle_rounds(int i)
{
	uint64_t w, u, m;

	(void)metric_above(i, WRITTEN, metric(i, WRITTEN));
	u = metric_above(i, UNCHANGED, metric(i, UNCHANGED));
	w = metric(i, WRITTEN);
	m = snap_mtime(i);
	(void)metric_above(i, UNCHANGED, u + 1);
	cr_expect_eq(metric(i, WRITTEN), w, "node %d wrote while idle", i);
	cr_expect_eq(snap_mtime(i), m, "node %d's file was rewritten", i);
	return w;
}

/* One daemon, @cost of @key spent, then idle (idle_rounds()): the count
 * of snapshots written; the rule's index in *@idx. */
static uint64_t spent_then_idle(int gossip, const char *key, uint32_t cost,
                                unsigned *idx)
{
	int r;

	cluster_up(1, gossip);
	cr_assert_eq(fg_allow(K.node[0].fg, "api", key, cost, NULL), 1);
	r = fg__rule_index(K.node[0].fg, "api");
	cr_assert_geq(r, 0);
	*idx = (unsigned)r;
	return idle_rounds(0);
}

static void idle_then_a_check(int gossip)
{
	unsigned idx;
	uint64_t w = spent_then_idle(gossip, "alice", 3, &idx);

	cr_assert_eq(fg_allow(K.node[0].fg, "api", "alice", 1, NULL), 1);
	metric_above(0, WRITTEN, w);
}

Test(snapshot_idle, an_idle_node_writes_no_snapshot_until_a_check_changes_one)
{
	idle_then_a_check(1);
}

Test(snapshot_idle, an_idle_single_host_writes_none_until_a_check_changes_one)
{
	idle_then_a_check(0);
}

/* `floodgate reset` refills in the operator's process, not the daemon's:
 * the block it marks is what the daemon sees. */
static void idle_then_a_refill(int gossip)
{
	unsigned idx;
	uint64_t w = spent_then_idle(gossip, "bob", 4, &idx);

	cr_assert_eq(fg__penalty_lift(&K.node[0].fg->seg.tbl, idx, "bob", 3,
	                              fg__now_ns()),
	             1);
	metric_above(0, WRITTEN, w);
}

Test(snapshot_idle, an_operators_refill_is_written_by_the_next_snapshot)
{
	idle_then_a_refill(1);
}

Test(snapshot_idle, a_single_hosts_refill_is_written_by_the_next_snapshot)
{
	idle_then_a_refill(0);
}

/* A run-time override (`floodgate override set`, in the operator's
 * process): the snapshot keeps it, so it is written by the next one. */
static void idle_then_an_override(int gossip)
{
	struct fg_ovr_entry e;
	unsigned idx;
	uint64_t w = spent_then_idle(gossip, "erin", 1, &idx);

	memset(&e, 0, sizeof e);
	e.rule = (uint8_t)idx;
	e.kind = FG_OVR_RUNTIME;
	e.keylen = 4;
	memcpy(e.key, "erin", 4);
	e.capacity = 50;
	e.rate = 5;
	e.period_ms = 1000;
	cr_assert_eq(fg__override_set(K.node[0].fg, &e), 0);
	metric_above(0, WRITTEN, w);
}

Test(snapshot_idle, a_run_time_override_is_written_by_the_next_snapshot)
{
	idle_then_an_override(1);
}

Test(snapshot_idle, a_single_hosts_override_is_written_by_the_next_snapshot)
{
	idle_then_an_override(0);
}

/* Node 1 idle; node 0's workers consume; node 1's daemon debits it (a
 * move of its own, which marks no block) and its next snapshot has it. */
Test(snapshot_idle, another_nodes_consumption_is_written_by_the_next_snapshot)
{
	uint64_t w, t0 = fg__now_ns();
	int64_t left = 10;

	cluster_up(2, 1);
	cr_assert_eq(fg_allow(K.node[1].fg, "api", "warm", 1, NULL), 1);
	w = idle_rounds(1);
	cr_assert_eq(fg_allow(K.node[0].fg, "api", "carol", 6, NULL), 1);
	while (left != 4) {
		CLUSTER_OK(&K, fgc_left(&K, 1, "api", "carol", &left));
		cr_assert_lt(fg__now_ns() - t0, WAIT_NS,
		             "node 1 holds %" PRId64, left);
		usleep(20000);
	}
	metric_above(1, WRITTEN, w);
}

static int restored(const char *text, void *arg)
{
	(void)arg;
	return strstr(text, ": restored ") != NULL;
}

/* What was spent before the idle rounds is in the file they kept: a
 * SIGKILL, the segment lost as a reboot loses it, a start, and the
 * bucket is back as it was. */
static void idle_then_killed(int gossip)
{
	int64_t left;
	unsigned idx;

	(void)spent_then_idle(gossip, "dave", 7, &idx);
	cr_assert_geq(fgc_kill(&K, 0, SIGKILL), 0, "%s", K.err);
	fg_close(K.node[0].fg);
	K.node[0].fg = NULL;
	cr_assert_eq(fg_unlink(K.node[0].seg), 0);
	test_unlink_state(K.node[0].seg);
	CLUSTER_OK(&K, fgc_start(&K, 0));
	CLUSTER_OK(&K, fgc_await_ready(&K, 0, "api"));
	CLUSTER_OK(&K, fgc_await_log(&K, 0, K.node[0].log_mark, restored, NULL,
	                             "the restore"));
	CLUSTER_OK(&K, fgc_left(&K, 0, "api", "dave", &left));
	cr_expect_eq(left, 3, "%" PRId64 " left, not 3", left);
}

Test(snapshot_idle, a_node_killed_after_idle_rounds_restores_what_was_spent)
{
	idle_then_killed(1);
}

Test(snapshot_idle, a_single_host_killed_after_idle_rounds_restores_it_too)
{
	idle_then_killed(0);
}
