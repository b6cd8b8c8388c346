/*
 * test_daemon.c - real floodgated processes on loopback: three nodes, each
 * with its own segment, port, key pair and config, started from the built
 * binary ($FLOODGATED).  Workers are ordinary processes using the public
 * API on their node's segment.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <urcu/uatomic.h>

#include "gossip/keys.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "tests/cluster.h"
#include "tests/helpers.h"

#define N 3
#define INTERVAL_MS 100

TestSuite(daemon, .timeout = 90);

static struct cluster {
	char dir[64];
	int port0;
	pid_t pid[N];
	fg_client *fg[N];
	char seg[N][64];
} K;

static void write_config(int i, const char *rules)
{
	char path[128], text[2048];
	int off, j;

	off = snprintf(text, sizeof text,
	               "segment %s\ncapacity 4096\nnode-key %s/n%d.key\n"
	               "keyring %s/keyring\nlisten 127.0.0.1:%d\n"
	               "interval %dms\n%s",
	               K.seg[i], K.dir, i, K.dir, K.port0 + i, INTERVAL_MS,
	               rules);
	for (j = 0; j < N; j++)
		if (j != i)
			off += snprintf(text + off, sizeof text - (size_t)off,
			                "peer 127.0.0.1:%d\n", K.port0 + j);
	snprintf(path, sizeof path, "%s/n%d.conf", K.dir, i);
	write_file(path, text);
}

static void start(int i)
{
	K.pid[i] = cluster_spawn(K.dir, i);
}

static void stop_with(int i, int sig)
{
	int status;

	if (K.pid[i] <= 0)
		return;
	kill(K.pid[i], sig);
	waitpid(K.pid[i], &status, 0);
	K.pid[i] = 0;
}

static void stop(int i)
{
	stop_with(i, SIGTERM);
}

/* Wait until node @i's segment has rule @rule: the daemon is up. */
static void await_ready(int i, const char *rule)
{
	uint64_t t0 = fg__now_ns();
	fg_rule_info ri;

	for (;;) {
		if (K.fg[i] == NULL && fg_open(K.seg[i], 0, &K.fg[i]) != 0)
			K.fg[i] = NULL;
		if (K.fg[i] && fg__rule_index(K.fg[i], rule) >= 0 &&
		    fg_rule_get(K.fg[i], (unsigned)fg__rule_index(K.fg[i], rule),
		                &ri) == 0)
			return;
		cr_assert_lt(fg__now_ns() - t0, 10000000000ull,
		             "node %d did not come up (see %s/n%d.log)", i, K.dir,
		             i);
		usleep(10000);
	}
}

static void cluster_up(const char *rules)
{
	int i;

	memset(&K, 0, sizeof K);
	snprintf(K.dir, sizeof K.dir, "/tmp/fgtest-dmn-XXXXXX");
	cr_assert_not_null(mkdtemp(K.dir));
	K.port0 = 20000 + (int)(getpid() % 1000) * 10;
	for (i = 0; i < N; i++) {
		snprintf(K.seg[i], sizeof K.seg[i], "fgtest-dmn%d-%d", i,
		         (int)getpid());
	}
	make_node_keys(K.dir, N);
	for (i = 0; i < N; i++) {
		write_config(i, rules);
		start(i);
	}
	for (i = 0; i < N; i++)
		await_ready(i, "g");
}

static void cluster_down(void)
{
	char cmd[256];
	int i;

	for (i = 0; i < N; i++) {
		stop(i);
		fg_close(K.fg[i]);
		fg_unlink(K.seg[i]);
	}
	snprintf(cmd, sizeof cmd,
	         "rm -rf %s /dev/shm/fgtest-dmn*-%d.state /dev/shm/fgtest-dmn*-%d.state-remote",
	         K.dir, (int)getpid(), (int)getpid());
	if (system(cmd) != 0)
		cr_log_warn("cleanup failed: %s", cmd);
}

/* Tokens left in node @i's bucket, without taking any (negative: debt). */
static int64_t left(int i, const char *rule, const char *key)
{
	int64_t n = 0;

	cr_assert_eq(fg__peek(K.fg[i], rule, key, strlen(key), &n), 0);
	return n;
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
	cr_assert_eq(fg_allow(K.fg[0], "g", "conv", 5, NULL), 1);
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
		cr_log_info("node %d converged in %.1f ms", i,
		            waited[i] / 1e6);
		/* the claim is 2 intervals; a loaded CI box gets slack */
		cr_expect_lt(waited[i], 10ull * INTERVAL_MS * 1000000,
		             "node %d took %.1f ms", i, waited[i] / 1e6);
	}
	usleep(5 * INTERVAL_MS * 1000); /* heartbeats and digests come and go */
	for (i = 0; i < N; i++)
		cr_expect_eq(left(i, "g", "conv"), 15, "node %d: counted once", i);
	cluster_down();
}

Test(daemon, three_nodes_hold_one_global_limit)
{
	const unsigned rate = 100, cap = 20, ms = 3000;
	uint64_t *admitted, total = 0, t0, elapsed;
	double bound, floor_;
	int i;

	cluster_up("rule g capacity 20 rate 100/1s scope global\n");
	admitted = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(admitted, MAP_FAILED);
	t0 = fg__now_ns();
	for (i = 0; i < N; i++)
		if (fork() == 0)
			cluster_worker(K.seg[i], "g", "hot", 5 * rate, ms,
			               &admitted[i]);
	wait_children(N);
	elapsed = fg__now_ns() - t0;
	for (i = 0; i < N; i++)
		total += admitted[i];
	/* rate x time + capacity, plus what the other nodes admit during
	 * one propagation delay (taken as 3 intervals). */
	bound = rate * (elapsed / 1e9) + cap +
	        (N - 1) * rate * (3.0 * INTERVAL_MS / 1000);
	floor_ = 0.9 * rate * (elapsed / 1e9);
	cr_log_info("admitted %llu in %.2f s: %llu/%llu/%llu; bound %.0f",
	            (unsigned long long)total, elapsed / 1e9,
	            (unsigned long long)admitted[0],
	            (unsigned long long)admitted[1],
	            (unsigned long long)admitted[2], bound);
	cr_expect_leq(total, bound, "admitted %llu > bound %.0f",
	              (unsigned long long)total, bound);
	cr_expect_geq(total, floor_, "admitted %llu < %.0f: consumption lost",
	              (unsigned long long)total, floor_);
	for (i = 0; i < N; i++)
		cr_expect_gt(admitted[i], 0, "node %d admitted nothing", i);
	munmap(admitted, 4096);
	cluster_down();
}

Test(daemon, a_restarted_daemon_keeps_buckets_and_counts_nothing_twice)
{
	cluster_up("rule g capacity 20 rate 1/1h scope global\n");
	cr_assert_eq(fg_allow(K.fg[0], "g", "r", 4, NULL), 1);
	cr_expect(await_left(1, "g", "r", 16));
	stop(0);
	/* workers go on without the daemon */
	cr_assert_eq(fg_allow(K.fg[0], "g", "r", 3, NULL), 1);
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
	cr_assert_eq(fg_allow(K.fg[1], "g", "p", 5, NULL), 1);
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
	cr_assert_eq(fg_allow(K.fg[1], "g", "x", 7, NULL), 1);
	cr_expect(await_left(0, "g", "x", 993));
	for (n = 0; n < 20; n++)
		cr_assert_eq(fg_allow(K.fg[0], "g", "x", 1, NULL), 1);
	stop_with(0, SIGKILL);
	/* workers do not wait for a dead daemon */
	t0 = fg__now_ns();
	for (n = 0; n < 30; n++)
		cr_assert_eq(fg_allow(K.fg[0], "g", "x", 1, NULL), 1);
	cr_expect_lt(fg__now_ns() - t0, 100000000ull, "30 checks in < 100 ms");
	start(0);
	await_ready(0, "g");
	/* 7 on node 1, 50 on node 0: everyone agrees, nothing twice */
	cr_expect(await_left(1, "g", "x", 943));
	cr_expect(await_left(2, "g", "x", 943));
	usleep(15 * INTERVAL_MS * 1000); /* heartbeats and repairs come and go */
	cr_expect_eq(left(0, "g", "x"), 943);
	cr_expect_eq(left(1, "g", "x"), 943);
	cr_expect_eq(left(2, "g", "x"), 943);
	cluster_down();
}

Test(daemon, sighup_applies_a_good_config_and_rejects_a_bad_one_whole)
{
	char path[128], log[128], cmd[256];
	fg_decision d;

	cluster_up("rule g capacity 20 rate 1/1h scope global\n");
	write_config(0, "rule g capacity 50 rate 1/1h scope global\n"
	                "rule extra capacity 1 rate 1/1s\n");
	kill(K.pid[0], SIGHUP);
	await_ready(0, "extra");
	cr_expect_eq(fg_allow(K.fg[0], "g", "h1", 1, &d), 1);
	cr_expect_eq(d.limit, 50);
	/* one bad line: nothing of the new file applies */
	snprintf(path, sizeof path, "%s/n0.conf", K.dir);
	write_config(0, "rule g capacity 7 rate 1/1h scope global\n"
	                "rule broken capacity zero\n");
	kill(K.pid[0], SIGHUP);
	usleep(3 * INTERVAL_MS * 1000);
	cr_expect_eq(fg_allow(K.fg[0], "g", "h2", 1, &d), 1);
	cr_expect_eq(d.limit, 50, "the old rules stay in force");
	snprintf(log, sizeof log, "%s/n0.log", K.dir);
	snprintf(cmd, sizeof cmd, "grep -q 'n0.conf:[0-9]*:' %s", log);
	cr_expect_eq(system(cmd), 0, "the log names file:line");
	cluster_down();
}
