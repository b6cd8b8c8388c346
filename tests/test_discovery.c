/* SPDX-License-Identifier: ISC */
/*
 * test_discovery.c - real floodgated processes on loopback that know one
 * seed each and gossip with fanout 2: they find each other through signed
 * announcements, relay each other's datagrams, and every node's bucket
 * ends at the exact global total.  A daemon started late gets, by a
 * repair it asks for, what the others consumed before it existed.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "shm/clock.h"
#include "tests/cluster.h"
#include "tests/ports.h"

#define N           5
#define CAP         1000
#define INTERVAL_MS 50

static struct fgc_cluster K;

static void await_ready(int i)
{
	CLUSTER_OK(&K, fgc_await_ready(&K, i, "g"));
}

/* Idempotent: the suite's .fini. */
static void down(void)
{
	if (fgc_fini(&K, 0) != 0)
		cr_log_warn("cleanup: %s", K.err);
}

static int64_t left(int i, const char *key)
{
	int64_t n = 0;

	CLUSTER_OK(&K, fgc_left(&K, i, "g", key, &n));
	return n;
}

TestSuite(discovery, .fini = down, .timeout = 90);

/* Keys, configs and segment names for N nodes; none started.  Node 0's
 * seed is node 1; everybody else knows node 0 only. */
static void prepare(void)
{
	char rule[128];
	struct fgc_conf conf = {.capacity = 1024,
	                        .interval_ms = INTERVAL_MS,
	                        .peers = FGC_PEERS_SEED,
	                        .extra = rule};
	int i;

	snprintf(rule, sizeof rule,
	         "fanout 2\ncontrol off\nrule g capacity %d rate 1/1h "
	         "scope global\n",
	         CAP);
	CLUSTER_OK(&K, fgc_init(&K, N, "fgtest-dsc"));
	fgc_set_ports(&K, fgt_ports(K.n));
	CLUSTER_OK(&K, fgc_make_keys(&K));
	for (i = 0; i < N; i++)
		CLUSTER_OK(&K, fgc_write_conf(&K, i, &conf));
}

static void start(int i)
{
	CLUSTER_OK(&K, fgc_start(&K, i));
}

/* Poll until nodes [0, @n) all show @want left of @key (bounded). */
static uint64_t await_left(int n, const char *key, int64_t want)
{
	uint64_t t0 = fg__now_ns();
	int i, ok;

	do {
		for (ok = 1, i = 0; i < n; i++)
			ok &= left(i, key) == want;
		if (!ok)
			usleep(5000);
	} while (!ok && fg__now_ns() - t0 < 20000000000ull);
	for (i = 0; i < n; i++)
		cr_assert_eq(left(i, key), want,
		             "node %d: %lld left of %s, want %lld (logs in %s)",
		             i, (long long)left(i, key), key, (long long)want,
		             K.dir);
	return fg__now_ns() - t0;
}

Test(discovery, five_daemons_with_one_seed_each_and_fanout_2_converge_exactly)
{
	int64_t total = 0;
	uint64_t t0, took;
	int i, r, ok;

	prepare();
	for (i = 0; i < N; i++)
		start(i);
	for (i = 0; i < N; i++)
		await_ready(i);
	/* consumption on every node, several rounds apart */
	for (r = 0; r < 10; r++) {
		for (i = 0; i < N; i++) {
			cr_assert_eq(fg_allow(K.node[i].fg, "g", "shared",
			                      (uint32_t)(i + 1), NULL),
			             1);
			total += i + 1;
		}
		usleep(INTERVAL_MS * 1000 / 2);
	}
	t0 = fg__now_ns();
	do {
		for (ok = 1, i = 0; i < N; i++)
			ok &= left(i, "shared") == CAP - total;
		if (!ok)
			usleep(5000);
	} while (!ok && fg__now_ns() - t0 < 20000000000ull);
	took = fg__now_ns() - t0;
	for (i = 0; i < N; i++)
		cr_expect_eq(left(i, "shared"), CAP - total,
		             "node %d: %lld left, want %lld (logs in %s)", i,
		             (long long)left(i, "shared"),
		             (long long)(CAP - total), K.dir);
	cr_log_info("5 daemons, one seed each, fanout 2: exact after %.0f ms",
	            took / 1e6);
	/* and it stays exact: repairs and relays debit nothing twice */
	usleep(30 * INTERVAL_MS * 1000);
	for (i = 0; i < N; i++)
		cr_expect_eq(left(i, "shared"), CAP - total, "node %d later",
		             i);
}

Test(discovery, a_daemon_started_late_gets_what_was_consumed_before_it_came)
{
	uint64_t took;
	int i;

	prepare();
	for (i = 0; i < N - 1; i++)
		start(i);
	for (i = 0; i < N - 1; i++)
		await_ready(i);
	cr_assert_eq(fg_allow(K.node[1].fg, "g", "old", 7, NULL), 1);
	cr_assert_eq(fg_allow(K.node[3].fg, "g", "old", 5, NULL), 1);
	await_left(N - 1, "old", CAP - 12);
	/* long enough that no round or heartbeat carries it any more: 40
	 * rounds, four heartbeat periods */
	usleep(40 * INTERVAL_MS * 1000);
	start(N - 1); /* seed: node 0 only */
	await_ready(N - 1);
	took = await_left(N, "old", CAP - 12);
	cr_log_info("a daemon started late caught up in %.0f ms", took / 1e6);
	/* and nothing twice, however many digests it sends */
	usleep(30 * INTERVAL_MS * 1000);
	for (i = 0; i < N; i++)
		cr_expect_eq(left(i, "old"), CAP - 12, "node %d later", i);
}
