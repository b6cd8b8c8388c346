/* SPDX-License-Identifier: ISC */
/*
 * daemon_converge.c - how long real floodgated processes on loopback take
 * until one node's consumption shows in every node's bucket, as the
 * number of daemons grows.
 *
 * Per N (3, 8, 16, 32, 64, or the list on the command line): N daemons
 * (the floodgated given as argv[1], started by the cluster harness,
 * demo/cluster.h), each with a small segment of its own, listening on
 * 127.0.0.1 (free ports in 27000-27999, the range of issue 15's
 * engineer), the default 100 ms interval, the default fanout (the full
 * mesh up to 8 members, trees of fanout 3 above: gossip/spread.h),
 * announcements on, one seed each as in
 * tests/test_discovery.c (node 0 for everybody, node 1 for node 0) and
 * one global rule g of 10,000 tokens refilling 1 an hour, so nothing
 * refills during a run (1,000,000 at 1 an hour would take 114 years to
 * refill, beyond the 2^56 ns, 834 days, that a rule may span).
 *
 * Discovery settles first: every node (not only node 0, since every node
 * originates trials) consumes a warm-up token and the bench waits until
 * every node's bucket shows all of them (30 s + 1 s a node at most), then
 * 20 more rounds, after which tests/test_members.c finds that 8 nodes
 * with one seed each know every address.  Then 100 trials (-t): node
 * (trial % N) takes 1 token of key "k<trial>" with fg_allow(), and every
 * node's bucket is read with fg__peek every millisecond until all show
 * capacity - 1 (10 s at most: a timeout).  A trial's figure is the time
 * from just before fg_allow() to the poll at which the last node showed
 * the token, so it is up to 1 ms late.  Between trials the bench waits
 * 150 ms plus a random part of an interval: with a fixed gap the trials
 * lock onto the origin's round (a trial that takes 50 ms plus 150 ms of
 * gap starts the next one at the same point of the round), and every
 * trial measured the same ~50 ms instead of the 0-100 ms spread of a
 * round.
 *
 * Printed per N: fanout; p50, p90, p99 and max of the trials in ms
 * (nearest rank; a timeout counts as infinite), and p99 and max in
 * rounds, ms over the interval rounded up: the limit each trial is
 * measured against (a consumption waits up to a round for its node's
 * harvest, so 1 is "in the round it went out", 2 "the round after");
 * issue 15's target next to them (2 up to 16 nodes, log2(N) + 2
 * beyond); how many trials took more than two intervals; whether every
 * node holds exactly capacity - 1 of every trial key at the end (nothing
 * debited twice); the datagrams and bytes each daemon sent per round
 * during the trials (their own counters, SIGUSR1); and the CPU time
 * (utime + stime in /proc/PID/stat) the daemons used during the trials,
 * in % of one CPU over the trials' wall time, per daemon (and, with
 * FG_CONVERGE_RAW=FILE, each trial in FILE: see raw_put).  The exit
 * status is 1 if a cluster did not come up or settle, a trial timed out,
 * or a count was not exact.
 *
 *   make bench   (or bench/daemon_converge FLOODGATED [-t TRIALS] [N...])
 */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gossip/node.h"
#include "demo/cluster.h"
#include "demo/figures.h"
#include "gossip/keys.h"
#include "lib/floodgate.h"
#include "shm/clock.h"

#define CAP         10000
#define IV_MS       100 /* the daemon's default interval: not configured */
#define TRIALS_MAX  1000
#define GAP_MS      150
#define POLL_US     1000
#define TIMEOUT_NS  10000000000ull
#define SETTLE_MORE 20 /* rounds after the warm-up tokens arrived */
#define PORT_LO     27000
#define PORT_HI     27999
#define NEVER       UINT64_MAX

static const char *daemon_bin;
static struct fgc_cluster C;
static int trials_n = 100;

/* What one N's run measured. */
struct result {
	uint64_t took[TRIALS_MAX]; /* per trial, NEVER for a timeout */
	uint64_t settle;           /* warm-up tokens everywhere after */
	int over, slow, timeouts, exact;
	double cpu_pct;     /* all daemons, % of one CPU over the trials */
	double dg_rd, b_rd; /* datagrams and bytes a daemon sent a round */
};

static int64_t left(int i, const char *key)
{
	int64_t n = 0;

	if (fgc_left(&C, i, "g", key, &n) != 0)
		return INT64_MIN;
	return n;
}

/* Poll every node's bucket of each of @nkeys keys every @poll_us until all
 * show @want; the time from @t0 to the poll that saw the last one, or
 * NEVER after @limit_ns.  A bucket below @want (a debit twice) is
 * counted in *@over. */
static uint64_t await_all(char (*keys)[16], int nkeys, int64_t want,
                          uint64_t t0, uint64_t limit_ns, unsigned poll_us,
                          int *over)
{
	size_t total = (size_t)C.n * (size_t)nkeys, seen_n = 0, j;
	unsigned char *seen = calloc(total, 1);
	uint64_t last = NEVER, now;

	if (seen == NULL)
		return NEVER;
	for (;;) {
		now = fg__now_ns();
		for (j = 0; j < total; j++) {
			int64_t l;

			if (seen[j])
				continue;
			l = left((int)(j % (size_t)C.n), keys[j / (size_t)C.n]);
			if (l <= want) {
				seen[j] = 1;
				seen_n++;
				if (l < want && over)
					(*over)++;
			}
		}
		if (seen_n == total) {
			last = now - t0;
			break;
		}
		if (now - t0 > limit_ns)
			break;
		usleep(poll_us);
	}
	free(seen);
	return last;
}

/* How long discovery may take: 30 s, plus 1 s a node.  With one seed
 * each, a node learns the others' addresses from announcements (its own
 * every 10 rounds, two others' a round), and the round robin of digests
 * repairs what the warm-up burst lost (all N nodes consume in the same
 * round: from 64 nodes on, the daemons' socket buffers overflow), so
 * settling grows with N: 3-5 s at 16 nodes, 35-38 s at 96 on the 2-core
 * machine of BENCHMARKS.md. */
static uint64_t settle_ns(int n)
{
	return (30u + (uint64_t)n) * 1000000000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least @q of them at or
 * below it. */
static void put_rank(const uint64_t *sorted, int n, double q)
{
	int r = (int)(q * n + 0.999999);
	uint64_t v = sorted[(r < 1 ? 1 : r) - 1];

	if (v == NEVER)
		printf(" %8s", "timeout");
	else
		printf(" %8.1f", v / 1e6);
}

/* With FG_CONVERGE_RAW=FILE, every trial appended to FILE as "N MS" (MS
 * "timeout" for one that timed out), sorted: what scripts/charts.sh
 * draws the CDF of. */
static void raw_put(int n, const uint64_t *sorted)
{
	const char *path = getenv("FG_CONVERGE_RAW");
	FILE *f;
	int t;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	for (t = 0; t < trials_n; t++)
		if (sorted[t] == NEVER)
			fprintf(f, "%d timeout\n", n);
		else
			fprintf(f, "%d %.3f\n", n, sorted[t] / 1e6);
	fclose(f);
}

/* N daemons up, one seed each.  Interval, fanout and announce are left
 * out of the configs: the defaults are what is measured. */
static int cluster_up(int n)
{
	char extra[128];
	struct fgc_conf conf = {
	    .capacity = 1024, .peers = FGC_PEERS_SEED, .extra = extra};
	int i;

	snprintf(extra, sizeof extra,
	         "control off\nrule g capacity %d rate 1/1h scope global\n",
	         CAP);
	if (fgc_init(&C, n, "fgbench-dcv") != 0)
		return -1;
	C.floodgated = daemon_bin;
	if (fgc_pick_ports(&C, PORT_LO, PORT_HI) != 0 || fgc_make_keys(&C) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (fgc_write_conf(&C, i, &conf) != 0)
			return -1;
	return fgc_start_all(&C, "g");
}

/* Discovery: a token from every node (not only node 0), so that every
 * origin is known to reach every node before trials start from each of
 * them in turn.  N x N buckets: polled every 10 ms, not every 1, or the
 * bench takes a CPU from the daemons at large N. */
static int warm_up(int n, char (*keys)[16], struct result *res)
{
	uint64_t t0 = fg__now_ns();
	int i;

	for (i = 0; i < n; i++) {
		snprintf(keys[i], sizeof keys[i], "warm%d", i);
		if (fg_allow(C.node[i].fg, "g", keys[i], 1, NULL) != 1)
			return -1;
	}
	res->settle =
	    await_all(keys, n, CAP - 1, t0, settle_ns(n), 10000, &res->over);
	if (res->settle == NEVER) {
		fprintf(stderr,
		        "%d nodes: warm-up tokens not everywhere after %llu "
		        "s\n",
		        n, (unsigned long long)(settle_ns(n) / 1000000000u));
		return -1;
	}
	usleep(SETTLE_MORE * IV_MS * 1000);
	return 0;
}

/* What every daemon has sent so far, by its own counters: 0 or -1. */
static int sent_so_far(int n, unsigned long long *dg, unsigned long long *b)
{
	struct fgc_counters g;
	int i;

	*dg = *b = 0;
	for (i = 0; i < n; i++) {
		if (fgc_counters(&C, i, &g) != 0)
			return -1;
		*dg += g.tx;
		*b += g.tx_bytes;
	}
	return 0;
}

/* The trials, and the daemons' CPU time and traffic over them. */
static int trials(int n, char (*keys)[16], struct result *res)
{
	unsigned long long cpu0 = 0, cpu1 = 0, dg0, b0, dg1, b1;
	uint64_t wall0, wall, t0;
	int i, t;

	if (sent_so_far(n, &dg0, &b0) != 0)
		return -1;
	for (i = 0; i < n; i++)
		cpu0 += fgc_cpu_ticks(C.node[i].pid);
	wall0 = fg__now_ns();
	for (t = 0; t < trials_n; t++) {
		snprintf(keys[0], sizeof keys[0], "k%d", t);
		t0 = fg__now_ns();
		if (fg_allow(C.node[t % n].fg, "g", keys[0], 1, NULL) != 1)
			return -1;
		res->took[t] = await_all(keys, 1, CAP - 1, t0, TIMEOUT_NS,
		                         POLL_US, &res->over);
		if (res->took[t] == NEVER)
			res->timeouts++;
		else if (res->took[t] > 2ull * IV_MS * 1000000)
			res->slow++;
		usleep(GAP_MS * 1000 + randombytes_uniform(IV_MS * 1000));
	}
	wall = fg__now_ns() - wall0;
	for (i = 0; i < n; i++) {
		if (fgc_exited(&C, i)) {
			fprintf(stderr, "node %d exited\n", i);
			return -1;
		}
		cpu1 += fgc_cpu_ticks(C.node[i].pid);
	}
	if (sent_so_far(n, &dg1, &b1) != 0)
		return -1;
	res->cpu_pct = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) /
	               (wall / 1e9) * 100;
	res->dg_rd = (double)(dg1 - dg0) / n / (wall / 1e6 / IV_MS);
	res->b_rd = (double)(b1 - b0) / n / (wall / 1e6 / IV_MS);
	return 0;
}

/* Exact: every trial key at capacity - 1 on every node, after the
 * repairs and heartbeats of the last trials had time to run. */
static void check_exact(int n, char (*keys)[16], struct result *res)
{
	int i, t;

	usleep(10 * IV_MS * 1000);
	for (res->exact = 1, t = 0; t < trials_n; t++) {
		snprintf(keys[0], sizeof keys[0], "k%d", t);
		for (i = 0; i < n; i++)
			res->exact &= left(i, keys[0]) == CAP - 1;
	}
}

/* The sample of rank @q (nearest rank) of the sorted @v. */
static uint64_t rank_of(const uint64_t *v, int n, double q)
{
	int r = (int)ceil(q * n);

	return v[(r < 1 ? 1 : r) - 1];
}

/* A trial's time in rounds: ms over the interval, rounded up. */
static void put_rounds(uint64_t ns)
{
	if (ns == NEVER)
		printf(" %6s", "-");
	else
		printf(" %6llu",
		       (unsigned long long)((ns + IV_MS * 1000000ull - 1) /
		                            (IV_MS * 1000000ull)));
}

static void print_row(int n, struct result *res)
{
	const double q[] = {0.5, 0.9, 0.99, 1.0};
	size_t k;

	qsort(res->took, (size_t)trials_n, sizeof res->took[0], cmp_u64);
	raw_put(n, res->took);
	if (fgd_fanout_auto((size_t)n) == 0)
		printf("%6d %7s", n, "all");
	else
		printf("%6d %7u", n, fgd_fanout_auto((size_t)n));
	for (k = 0; k < sizeof q / sizeof q[0]; k++)
		put_rank(res->took, trials_n, q[k]);
	put_rounds(rank_of(res->took, trials_n, 0.99));
	put_rounds(rank_of(res->took, trials_n, 1.0));
	printf(" %6.1f %8d %5d %6s %9.0f %8.1f %8.0f %9.2f\n",
	       n <= 16 ? 2.0 : log2(n) + 2, res->timeouts, res->slow,
	       res->exact && !res->over ? "yes" : "NO", res->settle / 1e6,
	       res->dg_rd, res->b_rd, res->cpu_pct / n);
	fflush(stdout);
}

static int run(int n)
{
	char(*keys)[16] =
	    calloc((size_t)(n > trials_n ? n : trials_n), sizeof *keys);
	struct result res = {0};
	int ok;

	ok = keys != NULL && cluster_up(n) == 0 &&
	     warm_up(n, keys, &res) == 0 && trials(n, keys, &res) == 0;
	if (ok) {
		check_exact(n, keys, &res);
		print_row(n, &res);
	} else {
		fprintf(stderr, "%d nodes: %s\n", n, C.err);
	}
	/* a daemon failed: its log is the evidence */
	if (fgc_fini(&C, !ok) != 0)
		fprintf(stderr, "%d nodes: %s\n", n, C.err);
	if (!ok)
		fprintf(stderr, "logs kept in %s\n", C.dir);
	free(keys);
	return !ok || res.timeouts || !res.exact || res.over;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {3, 8, 16, 32, 64};
	int i = 2, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FLOODGATED [-t TRIALS] [N...]\n",
		        argv[0]);
		return 2;
	}
	daemon_bin = argv[1];
	if (access(daemon_bin, X_OK) != 0) {
		fprintf(stderr, "%s: %s\n", daemon_bin, strerror(errno));
		return 2;
	}
	if (argc > 3 && strcmp(argv[2], "-t") == 0) {
		trials_n = atoi(argv[3]);
		i = 4;
	}
	if (trials_n < 1 || trials_n > TRIALS_MAX) {
		fprintf(stderr, "bad number of trials\n");
		return 2;
	}
	printf("daemon_converge: real floodgated on 127.0.0.1, interval "
	       "%d ms (default), default fanout, one seed each; %d trials "
	       "per N, 1 token on node (trial %% N), polled every %d us\n",
	       IV_MS, trials_n, POLL_US);
	printf("%6s %7s %8s %8s %8s %8s %6s %6s %6s %8s %5s %6s %9s %8s %8s "
	       "%9s\n",
	       "nodes", "fanout", "p50 ms", "p90 ms", "p99 ms", "max ms",
	       "p99 rd", "max rd", "target", "timeouts", ">2iv", "exact",
	       "settle ms", "dg/nd/rd", "B/nd/rd", "CPU%/node");
	if (argc > i) {
		for (; i < argc; i++) {
			int n = atoi(argv[i]);

			if (n < 2 || n > PORT_HI - PORT_LO + 1 ||
			    n > FGK_KEYRING_MAX) {
				fprintf(stderr, "bad N: %s\n", argv[i]);
				return 2;
			}
			rc |= run(n);
		}
		return rc ? 1 : 0;
	}
	for (i = 0; i < (int)(sizeof sizes / sizeof sizes[0]); i++)
		rc |= run(sizes[i]);
	return rc ? 1 : 0;
}
