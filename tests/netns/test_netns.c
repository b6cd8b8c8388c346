/* SPDX-License-Identifier: ISC */
/*
 * test_netns.c - real floodgated on real network stacks, one per network
 * namespace, behind a bad network: does a global limit hold?
 *
 * Set-up, per test (each Criterion test is its own process; this file
 * runs them one at a time, see main()):
 *
 *   - N network namespaces joined by the relay (netns.h, relay.c): node
 *     K is 10.77.0.(K+1)/24 on a TUN device in namespace K, and the relay
 *     forwards between them with the impairment the test sets and changes
 *     over its control socket;
 *   - a floodgated ($FLOODGATED) started inside each namespace, listening
 *     on its node's address, UDP port PORT, with its own key, segment
 *     "fg-netns-PID-K" and control socket, one keyring for all, and every
 *     other node as a peer: datagrams cross two real kernel UDP stacks
 *     and the relay;
 *   - WORKERS worker processes inside each namespace check the same key
 *     of one global rule through fg_allow() at OFFER times its rate.
 *
 * What is checked, against what the test itself counted:
 *   - the global-limit ratio: admitted / (rate x time + capacity);
 *   - convergence: every node's stats say it harvested what its workers
 *     admitted, every node holds every other node's records up to that
 *     node's own version, and its ledger holds that node's count;
 *   - nothing debited twice: what a node applied for its peers is never
 *     more than what they admitted (and, without loss, exactly that);
 *   - the network really was bad: the relay's counters.
 *
 * Nothing waits a fixed time for something to happen: every wait polls
 * its condition with a deadline.  The partition's cut and heal happen at
 * fixed times of the run: they are the scenario, not synchronisation.
 *
 * Without root, /dev/net/tun or ip(8) every test is skipped, loudly (see
 * netns.h).  The .fini of every test stops what it started (workers,
 * daemons, relay) and removes what it made (segments, namespaces, the
 * directory), also after a failed assertion; a killed run's leftovers
 * are swept by the next.  UDP port PORT is in every namespace, so no
 * other test on the host can take it.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "shm/segment.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/netns/netns.h"

#define MAXN    FGN_NODES
#define WORKERS 2 /* per node */
#define PORT    22000
#define RATE    200
#define CAP     50
#define OFFER   5 /* each node offers OFFER x RATE checks/s */
#define RULE    "lim"
#define KEY     "hot"
#define KEY_HEX "686f74"
#define SEC     1000000000ull
#define WAIT_S  FGN_WAIT_S
#define TARGET  1.05 /* admitted / budget */

static void teardown(void);

TestSuite(netns, .timeout = 150, .fini = teardown);

static struct cluster {
	int up, n;
	struct fgn_net net;
	char seg[MAXN][32];
	char ctl[MAXN][96];
	pid_t pid[MAXN], worker[MAXN * WORKERS];
	uint64_t *admitted; /* per worker, shared with them */
} W;

/* Every link has 20 ms +- 5 ms of delay, reorders and duplicates 5 % of
 * the packets, and loses loss %; node n - 1 is cut off from cut_ms to
 * heal_ms of the run, if cut_ms. */
#define IMPAIR "delay 20 jitter 5 reorder 5 dup 5"

struct scenario {
	const char *name;
	int n;
	double loss; /* % */
	unsigned ms, cut_ms, heal_ms;
};

/* -------------------------------------------------------------- daemons */

static void write_config(int k)
{
	char path[128], text[2048];
	int off, j;

	off = snprintf(text, sizeof text,
	               "segment %s\ncapacity 4096\nnode-key %s/n%d.key\n"
	               "keyring %s/keyring\nlisten 10.77.0.%d:%d\n"
	               "control %s\ninterval 100ms\n"
	               "rule " RULE " capacity %d rate %d/1s scope global\n",
	               W.seg[k], W.net.dir, k, W.net.dir, k + 1, PORT, W.ctl[k],
	               CAP, RATE);
	for (j = 0; j < W.n; j++)
		if (j != k)
			off += snprintf(text + off, sizeof text - (size_t)off,
			                "peer 10.77.0.%d:%d\n", j + 1, PORT);
	snprintf(path, sizeof path, "%s/n%d.conf", W.net.dir, k);
	write_file(path, text);
}

static pid_t daemon_start(int k)
{
	char conf[128], log[128];
	pid_t p;

	snprintf(conf, sizeof conf, "%s/n%d.conf", W.net.dir, k);
	snprintf(log, sizeof log, "%s/n%d.log", W.net.dir, k);
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		fgn_log_to(log);
		fgn_net_enter(&W.net, k);
		execl(daemon_path(), "floodgated", "-f", "-c", conf,
		      (char *)NULL);
		_exit(127);
	}
	return p;
}

/* Node @k's answer to @req over its control socket, or NULL. */
static char *ask(int k, const char *req)
{
	char *reply = NULL;

	if (fgd_ctl_request(W.ctl[k], req, &reply) != 0 ||
	    strncmp(reply, "ok\n", 3) != 0) {
		free(reply);
		return NULL;
	}
	return reply;
}

static uint64_t field(const char *text, const char *name)
{
	char pat[48];
	const char *v;

	snprintf(pat, sizeof pat, " %s=", name);
	v = strstr(text, pat);
	cr_assert_not_null(v, "no %s in %s", name, text);
	return strtoull(v + strlen(pat), NULL, 10);
}

static unsigned count_of(const char *text, const char *what)
{
	unsigned n = 0;

	while ((text = strstr(text, what)) != NULL) {
		n++;
		text += strlen(what);
	}
	return n;
}

/* Every daemon up, and each hears every other: the network works. */
static void await_mesh(void)
{
	uint64_t t0 = fg__now_ns();
	char *r = NULL;
	int k = 0;

	while (k < W.n) {
		r = ask(k, "peers");
		if (r && count_of(r, " state=alive") == (unsigned)W.n - 1) {
			free(r);
			k++;
			continue;
		}
		cr_assert_eq(waitpid(W.pid[k], NULL, WNOHANG), 0,
		             "node %d died (see %s/n%d.log)", k, W.net.dir, k);
		cr_assert_lt(fg__now_ns() - t0, WAIT_S * SEC,
		             "node %d does not hear all %d others through the "
		             "relay in %d s: %s (logs in %s)",
		             k, W.n - 1, WAIT_S, r ? r : "no answer",
		             W.net.dir);
		free(r);
		usleep(20000);
	}
}

/* --------------------------------------------------------------- cluster */

static void unlink_seg(const char *seg)
{
	test_unlink_state(seg);
	(void)fg_unlink(seg);
}

static void cluster_up(const struct scenario *s)
{
	char cmd[160];
	int k;

	memset(&W, 0, sizeof W);
	W.up = 1;
	W.n = s->n;
	fgn_net_up(&W.net, s->n);
	fgn_say("%s: %d nodes, " IMPAIR " loss %g, seed %#" PRIx64
	        " (replay: FG_NETNS_SEED=%#" PRIx64 ")",
	        s->name, W.n, s->loss, W.net.seed, W.net.seed);
	W.admitted = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(W.admitted, MAP_FAILED);
	make_node_keys(W.net.dir, W.n);
	for (k = 0; k < W.n; k++) {
		snprintf(W.seg[k], sizeof W.seg[k], FGN_PREFIX "%d-%d",
		         (int)getpid(), k);
		snprintf(W.ctl[k], sizeof W.ctl[k], "%s/n%d.sock", W.net.dir,
		         k);
		unlink_seg(W.seg[k]);
		write_config(k);
		W.pid[k] = daemon_start(k);
	}
	await_mesh();
	/* impaired only now: the mesh is known to work */
	snprintf(cmd, sizeof cmd, "set all " IMPAIR " loss %g", s->loss);
	fgn_net_do(&W.net, cmd);
}

/* Idempotent; the suite's .fini, so it runs after a failed assertion. */
static void teardown(void)
{
	int k;

	if (!W.up)
		return;
	for (k = 0; k < W.n * WORKERS; k++)
		fgn_stop(&W.worker[k], SIGKILL);
	for (k = 0; k < W.n; k++)
		fgn_stop(&W.pid[k], SIGTERM);
	for (k = 0; k < W.n; k++)
		unlink_seg(W.seg[k]);
	fgn_net_down(&W.net);
	if (W.admitted)
		munmap(W.admitted, 4096);
	memset(&W, 0, sizeof W);
}

/* ----------------------------------------------------------------- load */

static void at(uint64_t t_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(t_ns / SEC),
	                      .tv_nsec = (long)(t_ns % SEC)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* Node @k's workers' admissions, summed. */
static uint64_t admitted(int k)
{
	uint64_t sum = 0;
	int w;

	for (w = 0; w < WORKERS; w++)
		sum += W.admitted[k * WORKERS + w];
	return sum;
}

/* Offer the load of @s, with its cut; the run's length in ns. */
static uint64_t run(const struct scenario *s)
{
	uint64_t t0 = fg__now_ns(), elapsed;
	int k, w, status;

	for (k = 0; k < W.n; k++)
		for (w = 0; w < WORKERS; w++) {
			pid_t p = fork();

			cr_assert_geq(p, 0);
			if (p == 0) {
				fgn_net_enter(&W.net, k);
				cluster_worker(W.seg[k], RULE, KEY,
				               OFFER * RATE / WORKERS, s->ms,
				               &W.admitted[k * WORKERS + w]);
			}
			W.worker[k * WORKERS + w] = p;
		}
	if (s->cut_ms) {
		char cmd[16];

		snprintf(cmd, sizeof cmd, "cut %d", W.n - 1);
		at(t0 + s->cut_ms * 1000000ull);
		fgn_net_do(&W.net, cmd);
		at(t0 + s->heal_ms * 1000000ull);
		fgn_net_do(&W.net, "heal");
	}
	for (k = 0; k < W.n * WORKERS; k++) {
		cr_assert_eq(waitpid(W.worker[k], &status, 0), W.worker[k]);
		W.worker[k] = 0;
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		          "worker %d failed (status %#x)", k, status);
	}
	elapsed = fg__now_ns() - t0;
	return elapsed;
}

/* The peers line of node @j in @text (a "peers" reply), or NULL. */
static const char *peer_line(const char *text, int j)
{
	char pat[32];

	snprintf(pat, sizeof pat, "peer name=n%d ", j);
	return text ? strstr(text, pat) : NULL;
}

/*
 * 1 if the cluster has converged, else 0 with the first miss in @why:
 * every node harvested what its workers admitted; every node holds every
 * other node's records up to that node's own version (the daemon's sync
 * state, sync.c); and every node's ledger holds, for every other node,
 * what that node admitted.  Under loss, a count whose last datagrams were
 * lost just before its origin's bucket was full again is not repaired:
 * it no longer matters, and node.h says so ("a ledger entry whose count
 * is all floor"); such a count may fall short, by at most one burst.
 */
static int converged(const struct scenario *s, char *why, size_t len)
{
	char *st = NULL, *pe = NULL, *rem = NULL;
	uint64_t ver[MAXN], have, count;
	const char *e;
	int i, j, ok = 1;

	for (j = 0; ok && j < W.n; j++) {
		pe = ask(j, "peers");
		ok = (e = peer_line(pe, j)) != NULL;
		ver[j] = ok ? field(e, "have") : 0;
		free(pe);
	}
	for (i = 0; ok && i < W.n; i++) {
		st = ask(i, "stats");
		pe = ask(i, "peers");
		rem = ask(i, "remote " RULE " " KEY_HEX);
		if (!st || !pe || !rem) {
			snprintf(why, len, "node %d does not answer", i);
			ok = 0;
		} else if (field(st, "harvested") != admitted(i)) {
			snprintf(why, len,
			         "node %d harvested %" PRIu64 " of %" PRIu64, i,
			         field(st, "harvested"), admitted(i));
			ok = 0;
		}
		for (j = 0; ok && j < W.n; j++) {
			char pat[24];

			if (j == i)
				continue;
			e = peer_line(pe, j);
			have = e ? field(e, "have") : 0;
			snprintf(pat, sizeof pat, "origin=n%d ", j);
			e = strstr(rem, pat);
			count = e ? field(e, "count") : 0;
			/* no mark: the origin's count became all floor (its
			 * bucket refilled), and the mark was forgotten */
			ok = have == ver[j] &&
			     (e == NULL ||
			      (count <= admitted(j) &&
			       (s->loss > 0 ? admitted(j) - count <= CAP
			                    : count == admitted(j))));
			if (!ok)
				snprintf(
				    why, len,
				    "node %d holds node %d's records up to "
				    "version %" PRIu64 " of %" PRIu64
				    ", its count %" PRIu64 " of the %" PRIu64
				    " it admitted",
				    i, j, have, ver[j], count, admitted(j));
		}
		free(st);
		free(pe);
		free(rem);
	}
	return ok;
}

/* Convergence (bounded wait), then nothing debited twice. */
static void check_ledgers(const struct scenario *s)
{
	uint64_t t0 = fg__now_ns();
	char why[300] = "node 0 does not answer";
	int i, j;

	while (!converged(s, why, sizeof why)) {
		cr_assert_lt(fg__now_ns() - t0, WAIT_S * SEC,
		             "%s: no convergence in %d s: %s", s->name, WAIT_S,
		             why);
		usleep(20000);
	}
	fgn_say("%s: converged %.2f s after the run", s->name,
	        (fg__now_ns() - t0) / 1e9);
	for (i = 0; i < W.n; i++) {
		char *st = ask(i, "stats");
		uint64_t others = 0, applied;

		cr_assert_not_null(st);
		for (j = 0; j < W.n; j++)
			others += j == i ? 0 : admitted(j);
		applied = field(st, "applied");
		fgn_say("%s: node %d admitted %" PRIu64 ", applied %" PRIu64
		        " for its peers, which admitted %" PRIu64,
		        s->name, i, admitted(i), applied, others);
		cr_expect_leq(applied, others,
		              "node %d debited %" PRIu64 " for peers that "
		              "admitted %" PRIu64 ": some twice",
		              i, applied, others);
		if (s->loss == 0)
			cr_expect_eq(applied, others,
			             "node %d applied %" PRIu64 " of %" PRIu64,
			             i, applied, others);
		free(st);
	}
}

/* The relay did impair: what @s asked for happened, and was counted. */
static void check_relay(const struct scenario *s)
{
	char *r = fgn_net_cmd(&W.net, "show");
	const char *t = strstr(r, "\ntotal ");

	cr_assert_not_null(t, "no totals in %s", r);
	fgn_say("%s: relay lost %" PRIu64 ", duplicated %" PRIu64
	        ", delayed %" PRIu64 ", reordered %" PRIu64 ", cut %" PRIu64
	        " of %" PRIu64 " packets",
	        s->name, field(t, "lost"), field(t, "duplicated"),
	        field(t, "delayed"), field(t, "reordered"), field(t, "cut"),
	        field(t, "in"));
	cr_expect_gt(field(t, "delayed"), 0);
	cr_expect_gt(field(t, "reordered"), 0);
	cr_expect_gt(field(t, "duplicated"), 0);
	if (s->loss > 0)
		cr_expect_gt(field(t, "lost"), 0);
	if (s->cut_ms)
		cr_expect_gt(field(t, "cut"), 0);
	cr_expect_eq(field(t, "overflow"), 0, "the relay's queue filled");
	cr_expect_eq(field(t, "errors"), 0, "the relay could not write");
	free(r);
}

/* Every daemon exits 0 on SIGTERM (a crash or a sanitizer's report shows
 * here, with the end of its log). */
static void stop_daemons_clean(void)
{
	char path[128], tail[1024];
	int k, status;

	for (k = 0; k < W.n; k++) {
		status = fgn_stop(&W.pid[k], SIGTERM);
		if (status == 0)
			continue;
		snprintf(path, sizeof path, "%s/n%d.log", W.net.dir, k);
		cluster_log_tail(path, tail, sizeof tail);
		cr_expect_fail("node %d exited with status %#x; its log ends:"
		               "\n%s",
		               k, status, tail);
	}
}

/* With FG_LOSS_RAW set, a scenario without a cut appends "LOSS RATIO
 * NODES" to that file: the data of overshoot-loss.svg (scripts/charts.sh,
 * which runs the sweep below). */
static void record_loss(const struct scenario *s, double ratio)
{
	const char *path = getenv("FG_LOSS_RAW");
	FILE *f;

	if (path == NULL || s->cut_ms)
		return;
	f = fopen(path, "a");
	cr_assert_not_null(f, "FG_LOSS_RAW %s", path);
	fprintf(f, "%g %.4f %d\n", s->loss, ratio, s->n);
	cr_assert_eq(fclose(f), 0);
}

/* Run @s; admitted / budget, with @extra tokens added to the budget. */
static double measure(const struct scenario *s, double extra)
{
	uint64_t elapsed, total = 0;
	double budget;
	int k;

	cluster_up(s);
	elapsed = run(s);
	for (k = 0; k < W.n; k++)
		total += admitted(k);
	budget = RATE * (elapsed / 1e9) + CAP;
	fgn_say("%s: admitted %" PRIu64 " in %.2f s, rate x time + capacity "
	        "= %.0f: ratio %.3f",
	        s->name, total, elapsed / 1e9, budget, total / budget);
	check_ledgers(s);
	check_relay(s);
	stop_daemons_clean();
	/* every node admitted something: the limit is shared, not hogged */
	for (k = 0; k < W.n; k++)
		cr_expect_gt(admitted(k), 0, "node %d admitted nothing", k);
	cr_expect_geq(total, 0.95 * budget,
	              "%s: admitted %" PRIu64 ", under 95%% of %.0f: "
	              "consumption counted that never happened",
	              s->name, total, budget);
	record_loss(s, total / (budget + extra));
	return total / (budget + extra);
}

/* ---------------------------------------------------------------- tests */

Test(netns, five_nodes_hold_one_global_limit_through_10_percent_loss)
{
	const struct scenario s = {
	    .name = "10% loss", .n = 5, .loss = 10, .ms = 10000};
	double r = measure(&s, 0);

	cr_expect_leq(r, TARGET, "%s: ratio %.3f over %.2f", s.name, r, TARGET);
}

Test(netns, three_nodes_hold_one_global_limit_through_30_percent_loss)
{
	const struct scenario s = {
	    .name = "30% loss", .n = 3, .loss = 30, .ms = 10000};
	double r = measure(&s, 0);

	cr_expect_leq(r, TARGET, "%s: ratio %.3f over %.2f", s.name, r, TARGET);
}

/*
 * The overshoot does not grow with loss within the range promised: three
 * nodes, 10 s at each loss, each run a new cluster.  For the chart,
 * FG_LOSS_RAW also runs 40 and 50 %: past the promise, recorded but not
 * held to the target.
 */
Test(netns, three_nodes_stay_within_the_target_at_every_loss_up_to_30_percent,
     .timeout = 400)
{
	static const double loss[] = {0, 10, 20, 30, 40, 50};
	int i, n = getenv("FG_LOSS_RAW") ? 6 : 4;

	for (i = 0; i < n; i++) {
		char name[32];
		struct scenario s = {
		    .name = name, .n = 3, .loss = loss[i], .ms = 10000};
		double r;

		snprintf(name, sizeof name, "sweep %g%% loss", loss[i]);
		r = measure(&s, 0);
		if (loss[i] <= 30)
			cr_expect_leq(r, TARGET, "%s: ratio %.3f over %.2f",
			              s.name, r, TARGET);
		teardown();
	}
}

/*
 * While node 2 is cut off, each side spends its own bucket's refill: the
 * cluster admits RATE x cut too many, which it can pay back only out of
 * the refill after the heal.  An honest cluster's best is thus rate x
 * time + capacity + RATE x max(0, cut - (time - heal)): in a 10 s run
 * cut 2.5..7.5 s, 500 tokens; in a 20 s run cut 5..10 s, none.
 */
static double partition(const struct scenario *s)
{
	double cut = (s->heal_ms - s->cut_ms) / 1e3;
	double after = (s->ms - s->heal_ms) / 1e3;
	double unpaid = RATE * (cut > after ? cut - after : 0);

	return measure(s, unpaid);
}

Test(netns, a_node_cut_off_for_5_of_10_s_pays_back_what_the_heal_allows)
{
	const struct scenario s = {.name = "partition 5 of 10 s",
	                           .n = 3,
	                           .ms = 10000,
	                           .cut_ms = 2500,
	                           .heal_ms = 7500};
	double r = partition(&s);

	fgn_say("%s: ratio to an honest cluster's best %.3f", s.name, r);
	cr_expect_leq(r, TARGET,
	              "%s: ratio to an honest cluster's best "
	              "%.3f, over %.2f",
	              s.name, r, TARGET);
}

Test(netns, a_node_cut_off_for_5_of_20_s_pays_its_debt_back)
{
	const struct scenario s = {.name = "partition 5 of 20 s",
	                           .n = 3,
	                           .ms = 20000,
	                           .cut_ms = 5000,
	                           .heal_ms = 10000};
	double r = partition(&s);

	cr_expect_leq(r, TARGET, "%s: ratio %.3f over %.2f", s.name, r, TARGET);
}

/* One test at a time: each builds its own cluster and measures a ratio
 * that CPU starvation by a sibling would only blur.  CRITERION_JOBS or
 * --jobs still override. */
int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	criterion_options.jobs = 1;
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}
