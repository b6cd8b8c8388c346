/* SPDX-License-Identifier: ISC */
/*
 * test_daemon.c - real floodgated processes on loopback: three nodes, each
 * with its own segment, port, key pair and config, started from the built
 * binary ($FLOODGATED) by the cluster harness (demo/cluster.h).  Workers
 * are ordinary processes using the public API on their node's segment
 * (demo/load.h).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "tests/cluster.h"
#include "tests/ports.h"
#include "tests/helpers.h"

#define N           3
#define INTERVAL_MS 100

static void cluster_down(void);

/* .fini: a failed test leaves no files behind either */
TestSuite(daemon, .timeout = 90, .fini = cluster_down);

static struct fgc_cluster K;

static void write_config(int i, const char *rules)
{
	struct fgc_conf conf = {
	    .interval_ms = INTERVAL_MS, .peers = FGC_PEERS_ALL, .extra = rules};

	CLUSTER_OK(&K, fgc_write_conf(&K, i, &conf));
}

static void start(int i)
{
	CLUSTER_OK(&K, fgc_start(&K, i));
}

static void stop_with(int i, int sig)
{
	cr_assert_geq(fgc_kill(&K, i, sig), 0, "%s", K.err);
}

static void stop(int i)
{
	stop_with(i, SIGTERM);
}

/* Wait until node @i's segment has rule @rule: the daemon is up. */
static void await_ready(int i, const char *rule)
{
	CLUSTER_OK(&K, fgc_await_ready(&K, i, rule));
}

static void cluster_up(const char *rules)
{
	int i;

	CLUSTER_OK(&K, fgc_init(&K, N, "fgtest-dmn"));
	fgc_set_ports(&K, fgt_ports(K.n));
	CLUSTER_OK(&K, fgc_make_keys(&K));
	for (i = 0; i < N; i++)
		write_config(i, rules);
	CLUSTER_OK(&K, fgc_start_all(&K, "g"));
}

/* Idempotent. */
static void cluster_down(void)
{
	if (fgc_fini(&K, 0) != 0)
		cr_log_warn("cleanup: %s", K.err);
}

/* Tokens left in node @i's bucket, without taking any (negative: debt). */
static int64_t left(int i, const char *rule, const char *key)
{
	int64_t n = 0;

	CLUSTER_OK(&K, fgc_left(&K, i, rule, key, &n));
	return n;
}

static int contains(const char *text, void *needle)
{
	return strstr(text, needle) != NULL;
}

/* Wait (bounded) until node @i's log shows @text. */
static void await_logged(int i, const char *text)
{
	CLUSTER_OK(&K, fgc_await_log(&K, i, 0, contains, (void *)text, text));
}

/* Wait (bounded) until node @i's bucket shows @want tokens left. */
static int await_left(int i, const char *rule, const char *key, int64_t want)
{
	uint64_t t0 = fg__now_ns();

	while (left(i, rule, key) != want) {
		if (fg__now_ns() - t0 > 10000000000ull)
			return 0;
		usleep(2000);
	}
	return 1;
}

Test(daemon, consumption_on_one_node_reaches_the_others)
{
	uint64_t t0, waited[N] = {0};
	int i, done;

	cluster_up("rule g capacity 20 rate 1/1h scope global\n");
	cr_assert_eq(fg_allow(K.node[0].fg, "g", "conv", 5, NULL), 1);
	t0 = fg__now_ns();
	do {
		done = 1;
		for (i = 1; i < N; i++) {
			if (waited[i] == 0 && left(i, "g", "conv") == 15)
				waited[i] = fg__now_ns() - t0;
			done &= waited[i] != 0;
		}
		if (!done)
			usleep(2000);
	} while (!done && fg__now_ns() - t0 < 5000000000ull);
	for (i = 1; i < N; i++) {
		cr_expect_neq(waited[i], 0, "node %d never saw it", i);
		cr_log_info("node %d converged in %.1f ms", i, waited[i] / 1e6);
		/* the claim is 2 intervals; a loaded CI box gets slack */
		cr_expect_lt(waited[i], 10ull * INTERVAL_MS * 1000000,
		             "node %d took %.1f ms", i, waited[i] / 1e6);
	}
	usleep(5 * INTERVAL_MS * 1000); /* heartbeats and digests come and go */
	for (i = 0; i < N; i++)
		cr_expect_eq(left(i, "g", "conv"), 15, "node %d: counted once",
		             i);
	cluster_down();
}

Test(daemon, three_nodes_hold_one_global_limit)
{
	const unsigned rate = 100, cap = 20, ms = 3000;
	struct fgc_load load = {.rule = "g",
	                        .key = "hot",
	                        .per_node = 1,
	                        .offer = 5 * rate,
	                        .ms = ms};
	struct fgc_row all, node[N];
	uint64_t total, elapsed;
	double bound, floor_;
	char err[256];
	int i;

	cluster_up("rule g capacity 20 rate 100/1s scope global\n");
	CLUSTER_OK(&K, fgc_load_start(&K, &load));
	cr_assert_eq(fgc_load_wait(&load, 0, err, sizeof err), 0, "%s", err);
	fgc_load_sum(&load, -1, &all);
	for (i = 0; i < N; i++)
		fgc_load_sum(&load, i, &node[i]);
	total = all.admitted;
	elapsed = all.last_ns - load.start_ns;
	/* rate x time + capacity, plus what the other nodes admit during
	 * one propagation delay (taken as 3 intervals). */
	bound = rate * (elapsed / 1e9) + cap +
	        (N - 1) * rate * (3.0 * INTERVAL_MS / 1000);
	floor_ = 0.9 * rate * (elapsed / 1e9);
	cr_log_info("admitted %llu in %.2f s: %llu/%llu/%llu; bound %.0f",
	            (unsigned long long)total, elapsed / 1e9,
	            (unsigned long long)node[0].admitted,
	            (unsigned long long)node[1].admitted,
	            (unsigned long long)node[2].admitted, bound);
	cr_expect_leq(total, bound, "admitted %llu > bound %.0f",
	              (unsigned long long)total, bound);
	cr_expect_geq(total, floor_, "admitted %llu < %.0f: consumption lost",
	              (unsigned long long)total, floor_);
	for (i = 0; i < N; i++)
		cr_expect_gt(node[i].admitted, 0, "node %d admitted nothing",
		             i);
	fgc_load_free(&load);
	cluster_down();
}

Test(daemon, a_restarted_daemon_keeps_buckets_and_counts_nothing_twice)
{
	cluster_up("rule g capacity 20 rate 1/1h scope global\n");
	cr_assert_eq(fg_allow(K.node[0].fg, "g", "r", 4, NULL), 1);
	cr_expect(await_left(1, "g", "r", 16));
	stop(0);
	/* workers go on without the daemon */
	cr_assert_eq(fg_allow(K.node[0].fg, "g", "r", 3, NULL), 1);
	start(0);
	cr_expect(await_left(1, "g", "r", 13), "the 3 taken meanwhile arrive");
	cr_expect(await_left(2, "g", "r", 13));
	usleep(5 * INTERVAL_MS * 1000); /* and nothing more comes */
	cr_expect_eq(left(0, "g", "r"), 13, "the segment kept its buckets");
	cr_expect_eq(left(1, "g", "r"), 13, "counted once");
	cr_expect_eq(left(2, "g", "r"), 13);
	cluster_down();
}

Test(daemon, a_restarted_daemon_does_not_debit_its_peers_consumption_again)
{
	cluster_up("rule g capacity 20 rate 1/1h scope global\n");
	cr_assert_eq(fg_allow(K.node[1].fg, "g", "p", 5, NULL), 1);
	cr_expect(await_left(0, "g", "p", 15));
	stop(0);
	start(0);
	await_ready(0, "g");
	/* node 0's new life asks node 1 for a repair of everything, its
	 * count of 5 included: node 0 must take none of it as new */
	usleep(25 * INTERVAL_MS * 1000);
	cr_expect_eq(left(0, "g", "p"), 15, "counted once across the restart");
	cluster_down();
}

Test(daemon, a_daemon_killed_with_sigkill_under_load_loses_and_doubles_nothing)
{
	uint64_t t0;
	int n;

	cluster_up("rule g capacity 1000 rate 1/1m scope global\n");
	/* load on both sides while node 0's daemon dies without warning */
	cr_assert_eq(fg_allow(K.node[1].fg, "g", "x", 7, NULL), 1);
	cr_expect(await_left(0, "g", "x", 993));
	for (n = 0; n < 20; n++)
		cr_assert_eq(fg_allow(K.node[0].fg, "g", "x", 1, NULL), 1);
	stop_with(0, SIGKILL);
	/* workers do not wait for a dead daemon */
	t0 = fg__now_ns();
	for (n = 0; n < 30; n++)
		cr_assert_eq(fg_allow(K.node[0].fg, "g", "x", 1, NULL), 1);
	cr_expect_lt(fg__now_ns() - t0, 100000000ull, "30 checks in < 100 ms");
	start(0);
	await_ready(0, "g");
	/* 7 on node 1, 50 on node 0: everyone agrees, nothing twice (a
	 * node at 963 lost the 20 taken before the kill, at 923 doubled
	 * them) */
	for (n = 1; n < N; n++)
		cr_expect(await_left(n, "g", "x", 943), "node %d: %lld left", n,
		          (long long)left(n, "g", "x"));
	usleep(15 * INTERVAL_MS *
	       1000); /* heartbeats and repairs come and go */
	for (n = 0; n < N; n++) {
		int64_t v = left(n, "g", "x");

		cr_expect_eq(v, 943, "node %d: %lld left", n, (long long)v);
	}
	cluster_down();
}

Test(daemon, sighup_applies_a_good_config_and_rejects_a_bad_one_whole)
{
	char path[128], log[128], cmd[256];
	fg_decision d;

	cluster_up("rule g capacity 20 rate 1/1h scope global\n");
	write_config(0, "rule g capacity 50 rate 1/1h scope global\n"
	                "rule extra capacity 1 rate 1/1s\n");
	kill(K.node[0].pid, SIGHUP);
	await_ready(0, "extra");
	cr_expect_eq(fg_allow(K.node[0].fg, "g", "h1", 1, &d), 1);
	cr_expect_eq(d.limit, 50);
	/* one bad line: nothing of the new file applies */
	snprintf(path, sizeof path, "%s/n0.conf", K.dir);
	write_config(0, "rule g capacity 7 rate 1/1h scope global\n"
	                "rule broken capacity zero\n");
	kill(K.node[0].pid, SIGHUP);
	await_logged(0, "n0.conf:");
	cr_expect_eq(fg_allow(K.node[0].fg, "g", "h2", 1, &d), 1);
	cr_expect_eq(d.limit, 50, "the old rules stay in force");
	snprintf(log, sizeof log, "%s/n0.log", K.dir);
	snprintf(cmd, sizeof cmd, "grep -q 'n0.conf:[0-9]*:' %s", log);
	cr_expect_eq(system(cmd), 0, "the log names file:line");
	cluster_down();
}
