/* SPDX-License-Identifier: ISC */
/*
 * cluster_demo.c - floodgate-cluster-demo: three hosts, one budget.
 *
 * The demo plays a three-host deployment on loopback with the cluster
 * harness (cluster.h): a key pair per node and a keyring trusting all
 * three, one floodgate.conf(5) per node with its own segment
 * ("fg-demo-<i>-<pid>", so no worker ever sees another node's buckets, as
 * on separate machines), its own UDP port on 127.0.0.1, the other two as
 * peers, gossip every 100 ms and the same global rule; three floodgated
 * ($FLOODGATED, -D, or ./daemon/floodgated from the build directory),
 * each waited for until its segment holds the rule and it says it runs.
 *
 * Then W worker processes per node (-w, default 2; load.h) check the key
 * "alice" against the rule on an absolute schedule, so that each node is
 * offered OVERLOAD (5) times the global rate, until a common deadline
 * (-d, default 10 s).  As a prefork master does, the parent attached to
 * each segment before fork().
 *
 * What it shows.  Each daemon harvests what its workers admitted, sends
 * its cumulative counts to the others in authenticated datagrams, and
 * debits what the others admitted from its own bucket.  The three buckets
 * drain as one: over an elapsed time T the cluster admits about
 *
 *     rate * T + capacity
 *
 * (the opening burst of three full buckets is paid back as debt), plus
 * at most what the other hosts admit during one propagation delay.  The
 * demo exits 1 if the total is above rate * T + capacity + (N-1) * rate *
 * 3 intervals (a loaded machine's propagation delay) or below 90% of
 * rate * T (consumption counted twice, or a node starved).
 *
 * The live view.  On a terminal (or with -m chart), a chart (chart.h) of
 * the cluster's admitted rate against the limit, a bar every 200 ms, with
 * each node's rate, the total so far against the budget and the tokens
 * left in each node's bucket beneath; otherwise (a pipe, CI, -m lines) a
 * plain line every 500 ms.  Every figure is read from the workers' own
 * counters (load.h), and a last frame or line, drawn once every worker
 * has exited, shows the exact totals the summary then breaks down.  The
 * summary ends with each daemon's own counters (SIGUSR1, read from its
 * log) once each has harvested all its workers admitted: a second source
 * for the same figures (tests/test_demo.c checks that they agree).
 *
 * With -R the daemons share their counts through a private redis-server
 * (Debian's, started by the demo on a Unix socket, demo/redisd.h)
 * instead of UDP gossip: each pushes its counts and pulls the others' in
 * one script call a round, and the bound allows for the two intervals a
 * count then takes (one to be pushed, one to be pulled).
 *
 * Cleanup.  Whatever happened (an error, SIGINT, SIGTERM), the parent
 * stops its workers and the daemons and removes the segments, their
 * files and the temporary directory (fgc_fini).  The daemons run in
 * process groups of their own, so that a ^C reaches the parent, which
 * shuts them down in order, and get SIGTERM should the parent die.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demo/chart.h"
#include "demo/cluster.h"
#include "demo/figures.h"
#include "demo/load.h"
#include "demo/redisd.h"
#include "lib/floodgate.h"
#include "shm/clock.h"

/* Plain decimal literals: the intro text spells them with STR(). */
#define NODES          3
#define RULE_NAME      "api"
#define RULE_CAPACITY  50
#define RULE_RATE      200 /* tokens per RULE_PERIOD_S */
#define RULE_PERIOD_S  1
#define DEMO_KEY       "alice"
#define INTERVAL_MS    100 /* gossip */
#define OVERLOAD       5   /* each node is offered 5x the global rate */
#define PROPAGATION    3   /* intervals allowed for a count to land */
#define CHART_TICK_MS  200u
#define LINES_TICK_MS  500u
#define START_DELAY_MS 200u  /* from the forks to the first check */
#define HARVEST_MS     3000u /* for the daemons to report every token */
#define MAX_WORKERS    16    /* per node */
#define HIST           5     /* chart ticks in the footer's rates: 1 s */
#define MAX_SECONDS    3600
#define PROG           "floodgate-cluster-demo"

#define STR_(x)   #x
#define STR(x)    STR_(x)
#define RATE_TEXT STR(RULE_RATE) "/" STR(RULE_PERIOD_S) "s"
#define RULE_TEXT                                                              \
	"rule " RULE_NAME " capacity " STR(RULE_CAPACITY) " rate " RATE_TEXT   \
	                                                  " scope global"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

enum mode { MODE_AUTO, MODE_CHART, MODE_LINES };

struct demo {
	int seconds, workers, port_lo, port_hi;
	enum mode mode;
	int color;
	int redis;          /* -R: counts through Redis, not gossip */
	struct fgc_redis r; /* its redis-server */
	char rdir[64];      /* and the directory of its socket */
	struct fgc_cluster c;
	struct fgc_load load;
	struct fgc_chart chart;
	uint64_t prev[NODES + 1]; /* admitted at the previous tick */
	struct past {
		uint64_t t, n[NODES + 1];
	} hist[HIST]; /* the last HIST ticks, for the rates over ~1 s */
	unsigned ticks;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static double global_rate(void)
{
	return (double)RULE_RATE / RULE_PERIOD_S;
}

/* ------------------------------------------------------------ options */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: " PROG
	        " [-d seconds] [-w workers] [-m auto|chart|lines]"
	        "\n       [-P lo-hi] [-D floodgated] [-R]\n"
	        "  -d  seconds of load (default 10)\n"
	        "  -w  worker processes per node (default 2)\n"
	        "  -m  the live view: a chart on a terminal, else lines\n"
	        "  -P  UDP ports from this range (default: any free ones)\n"
	        "  -D  the daemon (default $FLOODGATED, else %s)\n"
	        "  -R  share counts through a private redis-server, not "
	        "UDP gossip\n",
	        FGC_DEFAULT_BIN);
}

/* A decimal integer in [min, max] into *out; 0 on success. */
static int parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_mode(const char *s, enum mode *m)
{
	static const char *const names[] = {"auto", "chart", "lines"};
	int k;

	for (k = 0; k < 3; k++)
		if (strcmp(s, names[k]) == 0) {
			*m = (enum mode)k;
			return 0;
		}
	return -1;
}

static int parse_ports(const char *s, int *lo, int *hi)
{
	char buf[32], *dash;

	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash == NULL)
		return -1;
	*dash = '\0';
	return parse_int(buf, 1024, 65535, lo) != 0 ||
	               parse_int(dash + 1, *lo + NODES - 1, 65535, hi) != 0
	           ? -1
	           : 0;
}

/* One option; 0, or 2 for a bad one. */
static int option(struct demo *d, int opt, const char *arg)
{
	switch (opt) {
	case 'd':
		return parse_int(arg, 1, MAX_SECONDS, &d->seconds) ? 2 : 0;
	case 'w':
		return parse_int(arg, 1, MAX_WORKERS, &d->workers) ? 2 : 0;
	case 'm':
		return parse_mode(arg, &d->mode) ? 2 : 0;
	case 'P':
		return parse_ports(arg, &d->port_lo, &d->port_hi) ? 2 : 0;
	case 'D':
		d->c.floodgated = arg;
		return 0;
	case 'R':
		d->redis = 1;
		return 0;
	default:
		return 2;
	}
}

/* 0 to run, 1 after -h, 2 on a bad command line. */
static int parse_args(struct demo *d, int argc, char **argv)
{
	const char *bin = fgc_floodgated();
	int opt;

	d->seconds = 10;
	d->workers = 2;
	d->c.floodgated = bin;
	while ((opt = getopt(argc, argv, "d:w:m:P:D:Rh")) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 1;
		}
		if (option(d, opt, optarg) != 0) {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (access(d->c.floodgated, X_OK) != 0) {
		fprintf(stderr,
		        PROG ": %s: %s\n  run it from the build directory, or "
		             "give the daemon with -D or $FLOODGATED\n",
		        d->c.floodgated, strerror(errno));
		return 2;
	}
	if (d->mode == MODE_AUTO)
		d->mode = isatty(STDOUT_FILENO) ? MODE_CHART : MODE_LINES;
	d->color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL &&
	           (getenv("TERM") == NULL || strcmp(getenv("TERM"), "dumb"));
	return 0;
}

/* ------------------------------------------------------------- set-up */

/* -R: the demo's redis-server, and the sync line of every node. */
static int redis_up(struct demo *d, char *extra, size_t len)
{
	size_t n = strlen(extra);

	snprintf(d->rdir, sizeof d->rdir, "/tmp/fg-demo-redis-XXXXXX");
	if (mkdtemp(d->rdir) == NULL) {
		d->rdir[0] = '\0';
		snprintf(d->c.err, sizeof d->c.err, "mkdtemp: %s",
		         strerror(errno));
		return -1;
	}
	d->r.pdeathsig = SIGTERM;
	if (fgc_redis_start(&d->r, d->rdir) != 0) {
		snprintf(d->c.err, sizeof d->c.err, "%s", d->r.err);
		return -1;
	}
	return fgc_redis_sync_line(&d->r, extra + n, len - n);
}

static void redis_down(struct demo *d)
{
	char path[128];

	(void)fgc_redis_stop(&d->r, SIGTERM);
	if (d->rdir[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/redis.sock", d->rdir);
	(void)unlink(path);
	snprintf(path, sizeof path, "%s/redis.log", d->rdir);
	(void)unlink(path);
	(void)rmdir(d->rdir);
}

static int set_up(struct demo *d)
{
	const char *bin = d->c.floodgated;
	static char extra[512] = RULE_TEXT "\n";
	struct fgc_conf conf = {
	    .interval_ms = INTERVAL_MS, .peers = FGC_PEERS_ALL, .extra = extra};
	int i;

	if (d->redis) {
		conf.peers = FGC_PEERS_NONE;
		if (redis_up(d, extra, sizeof extra) != 0)
			return -1;
	}
	if (fgc_init(&d->c, NODES, "fg-demo-") != 0)
		return -1;
	d->c.floodgated = bin;
	d->c.own_pgrp = 1; /* a ^C is ours to handle, in order */
	d->c.pdeathsig = SIGTERM;
	d->c.cancel = &interrupted;
	if (fgc_pick_ports(&d->c, d->port_lo, d->port_hi) != 0 ||
	    fgc_make_keys(&d->c) != 0)
		return -1;
	for (i = 0; i < NODES; i++)
		if (fgc_write_conf(&d->c, i, &conf) != 0)
			return -1;
	return 0;
}

static const char *const intro[] = {
    PROG ": three hosts, one budget.",
    "",
    "Three floodgated daemons run on loopback, each standing in for a host:",
    "each owns a segment of its own, so the workers on one node never see",
    "another node's buckets, as on separate machines.  All three publish",
    "the same global rule",
    "",
    "    " RULE_TEXT,
    "",
    "and the workers of every node check the key \"" DEMO_KEY "\" against it,",
    "offering each node " STR(OVERLOAD) " times the global rate.",
    "",
};

static const char *const intro_gossip[] = {
    "Every " STR(INTERVAL_MS) " ms, each daemon harvests what its workers "
                              "admitted",
    "and sends its cumulative counts to the others in authenticated UDP",
    "datagrams (a datagram from a key not in the keyring, or with a bad",
    "signature, is dropped), and debits what the others admitted from its",
    "own bucket.  So the hosts spend one budget: together they admit",
    RATE_TEXT ", as the rule says, not " RATE_TEXT " each.",
    "",
};

static const char *const intro_redis[] = {
    "Every " STR(INTERVAL_MS) " ms, each daemon harvests what its workers "
                              "admitted,",
    "pushes its cumulative counts to a redis-server the demo started (-R)",
    "and pulls what the others pushed, in one script call, and debits what",
    "the others admitted from its own bucket.  So the hosts spend one",
    "budget: together they admit " RATE_TEXT ", as the rule says, not",
    RATE_TEXT " each.  A count takes up to two intervals to land.",
    "",
};

static const char *const intro_tail[] = {
    "The first figures are high: every bucket starts full, and all three",
    "are spent before the first gossip round; the debt this leaves is paid",
    "back out of the refill that follows.  From then on the cluster holds",
    "the limit.  Tokens left in a node's bucket are negative while in debt.",
    "",
};

static const char *const intro_chart =
    "The chart: the cluster's admitted rate over the last second, a bar\n"
    "every 200 ms, against the limit; beneath it each node's rate, the\n"
    "total so far against the budget and the tokens left in each bucket.\n";

static const char *const intro_lines =
    "A line every 500 ms: the cluster's total so far, what each node and\n"
    "the cluster admitted per second since the line before, against the\n"
    "limit, and the tokens left in each node's bucket.\n";

static int start(struct demo *d)
{
	uint64_t t0 = fg__now_ns();
	size_t k;

	for (k = 0; k < sizeof intro / sizeof intro[0]; k++)
		puts(intro[k]);
	for (k = 0; k < sizeof intro_gossip / sizeof intro_gossip[0]; k++)
		puts(d->redis ? intro_redis[k] : intro_gossip[k]);
	for (k = 0; k < sizeof intro_tail / sizeof intro_tail[0]; k++)
		puts(intro_tail[k]);
	puts(d->mode == MODE_CHART ? intro_chart : intro_lines);
	if (fgc_start_all(&d->c, RULE_NAME) != 0)
		return -1;
	printf("%d daemons (%s) up in %.0f ms on UDP ports %d, %d, %d%s%s;\n"
	       "%d workers per node offer %d checks/s each, for %d s.\n\n",
	       NODES, d->c.floodgated, (double)(fg__now_ns() - t0) / NS_PER_MS,
	       d->c.node[0].port, d->c.node[1].port, d->c.node[2].port,
	       d->redis ? ", Redis on " : "", d->redis ? d->r.sock : "",
	       d->workers, OVERLOAD * RULE_RATE / RULE_PERIOD_S / d->workers,
	       d->seconds);
	d->load =
	    (struct fgc_load){.rule = RULE_NAME,
	                      .key = DEMO_KEY,
	                      .per_node = d->workers,
	                      .offer = OVERLOAD * RULE_RATE / RULE_PERIOD_S,
	                      .ms = (unsigned)d->seconds * 1000u,
	                      .start_delay_ms = START_DELAY_MS};
	return fgc_load_start(&d->c, &d->load);
}

/* ---------------------------------------------------------- live view */

/* Tokens left in node @i's bucket, as text ("?" if unreadable). */
static void node_left(struct demo *d, int i, char *buf, size_t len)
{
	int64_t l;

	if (fgc_left(&d->c, i, RULE_NAME, DEMO_KEY, &l) == 0)
		snprintf(buf, len, "%" PRId64, l);
	else
		snprintf(buf, len, "?");
}

/* What one tick shows: per node and in total (index NODES). */
struct tick {
	double secs;             /* since the load started */
	double rate[NODES + 1];  /* per s, since the previous tick */
	double rate1[NODES + 1]; /* per s, over the last second or so */
	uint64_t admitted;       /* by the cluster so far */
	char left[NODES][16];    /* tokens left in each node's bucket */
};

/* Read the workers' counters at @t into @tk; rate[] is over the time
 * since @t_prev, rate1[] over the last HIST ticks. */
static void sample(struct demo *d, uint64_t t, uint64_t t_prev, struct tick *tk)
{
	struct past *slot = &d->hist[d->ticks % HIST];
	struct past base = {.t = d->load.start_ns};
	double secs = (double)(t - t_prev) / NS_PER_S, secs1;
	struct fgc_row sum;
	int i;

	if (d->ticks >= HIST)
		base = *slot; /* the sample HIST ticks ago */
	memset(tk, 0, sizeof *tk);
	tk->secs = (double)(t - d->load.start_ns) / NS_PER_S;
	secs1 = (double)(t - base.t) / NS_PER_S;
	for (i = 0; i <= NODES; i++) {
		uint64_t n;

		if (i < NODES) {
			fgc_load_sum(&d->load, i, &sum);
			n = sum.admitted;
			tk->admitted += n;
			node_left(d, i, tk->left[i], sizeof tk->left[i]);
		} else {
			n = tk->admitted;
		}
		tk->rate[i] = (double)(n - d->prev[i]) / secs;
		tk->rate1[i] = (double)(n - base.n[i]) / secs1;
		d->prev[i] = slot->n[i] = n;
	}
	slot->t = t;
	d->ticks++;
}

static double budget_at(double secs)
{
	return global_rate() * secs + RULE_CAPACITY;
}

static int draw_chart(struct demo *d, const struct tick *tk, int final)
{
	char title[128], f[3][128];
	const char *foot[3] = {f[0], f[1], f[2]};

	snprintf(title, sizeof title,
	         "cluster admitted/s (last 1 s) vs the limit %.0f/s    t = "
	         "%.1f of %d s%s",
	         global_rate(), tk->secs, d->seconds, final ? ", done" : "");
	snprintf(f[0], sizeof f[0],
	         "%s node0 %4.0f/s  node1 %4.0f/s  node2 %4.0f/s  cluster "
	         "%4.0f/s = %3.0f%%",
	         final ? "whole run:" : "last 1 s: ", tk->rate1[0],
	         tk->rate1[1], tk->rate1[2], tk->rate1[NODES],
	         100.0 * tk->rate1[NODES] / global_rate());
	snprintf(f[1], sizeof f[1],
	         "admitted so far %" PRIu64 ", budget rate x time + capacity "
	         "%.0f: %.3fx",
	         tk->admitted, budget_at(tk->secs),
	         (double)tk->admitted / budget_at(tk->secs));
	snprintf(f[2], sizeof f[2],
	         "tokens left in each node's bucket: %s %s %s", tk->left[0],
	         tk->left[1], tk->left[2]);
	if (!final)
		fgc_chart_add(&d->chart, tk->rate1[NODES]);
	return fgc_chart_draw(&d->chart, stdout, title, foot, 3);
}

static void print_line(const struct tick *tk, int final)
{
	if (final)
		printf("%7s", "end");
	else
		printf("%5.1f s", tk->secs);
	printf(" %8" PRIu64 " %7.0f %7.0f %7.0f %9.0f %6.0f%%  %s/%s/%s\n",
	       tk->admitted, tk->rate[0], tk->rate[1], tk->rate[2],
	       tk->rate[NODES], 100.0 * tk->rate[NODES] / global_rate(),
	       tk->left[0], tk->left[1], tk->left[2]);
	(void)fflush(stdout);
}

/* Sleep until CLOCK_MONOTONIC @t: 0, or -1 when a signal came. */
static int sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S),
	                      .tv_nsec = (long)(t % NS_PER_S)};
	int e;

	while ((e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
	                            NULL)) == EINTR &&
	       !interrupted)
		;
	return e == 0 && !interrupted ? 0 : -1;
}

/* A frame or line per tick until the deadline; -1 when interrupted or a
 * daemon died. */
static int live_view(struct demo *d)
{
	unsigned tick_ms =
	    d->mode == MODE_CHART ? CHART_TICK_MS : LINES_TICK_MS;
	uint64_t t = d->load.start_ns, t_prev, next;
	struct tick tk;
	int i;

	if (d->mode == MODE_CHART)
		fgc_chart_init(&d->chart, global_rate(), tick_ms, d->color);
	else
		printf("%7s %8s %7s %7s %7s %9s %7s  %s\n", "time", "admitted",
		       "node0/s", "node1/s", "node2/s", "cluster/s", "limit",
		       "tokens left");
	if (sleep_until(t) != 0)
		return -1;
	for (next = t; next < d->load.deadline_ns;) {
		next += tick_ms * NS_PER_MS;
		if (next > d->load.deadline_ns)
			next = d->load.deadline_ns;
		if (sleep_until(next) != 0)
			return -1;
		for (i = 0; i < NODES; i++)
			if (fgc_exited(&d->c, i)) {
				fprintf(stderr,
				        PROG ": node%d's daemon "
				             "exited\n",
				        i);
				return -1;
			}
		t_prev = t;
		t = fg__now_ns();
		sample(d, t, t_prev, &tk);
		if (d->mode == MODE_CHART)
			(void)draw_chart(d, &tk, 0);
		else
			print_line(&tk, 0);
	}
	return 0;
}

/* After the workers exited: the exact totals, as a last frame or line
 * whose rates are over the whole run. */
static void final_view(struct demo *d)
{
	struct fgc_row all, sum;
	struct tick tk;
	double secs;
	int i;

	fgc_load_sum(&d->load, -1, &all);
	secs = (double)(all.last_ns - d->load.start_ns) / NS_PER_S;
	memset(&tk, 0, sizeof tk);
	tk.secs = secs;
	tk.admitted = all.admitted;
	for (i = 0; i < NODES; i++) {
		fgc_load_sum(&d->load, i, &sum);
		tk.rate[i] = tk.rate1[i] = (double)sum.admitted / secs;
		node_left(d, i, tk.left[i], sizeof tk.left[i]);
	}
	tk.rate[NODES] = tk.rate1[NODES] = (double)all.admitted / secs;
	if (d->mode == MODE_CHART) {
		(void)draw_chart(d, &tk, 1);
		(void)fgc_chart_done(&d->chart, stdout);
	} else {
		print_line(&tk, 1);
	}
}

/* ------------------------------------------------------------- report */

/* Ask the daemons for their counters until each has harvested what its
 * workers admitted and debited what the others harvested (HARVEST_MS at
 * most: then the last figures are shown as they are).  ok[i]: node i
 * answered. */
static void daemon_counters(struct demo *d, const uint64_t *admitted,
                            struct fgc_counters *g, int *ok)
{
	uint64_t end = fg__now_ns() + HARVEST_MS * NS_PER_MS;
	unsigned long long all;
	int i, done;

	do {
		for (all = 0, i = 0; i < NODES; i++) {
			ok[i] = fgc_counters(&d->c, i, &g[i]) == 0;
			all += ok[i] ? g[i].harvested : 0;
		}
		for (done = 1, i = 0; i < NODES; i++)
			done &= ok[i] && g[i].harvested == admitted[i] &&
			        g[i].applied == all - g[i].harvested;
	} while (!done && !interrupted && fg__now_ns() < end &&
	         sleep_until(fg__now_ns() + INTERVAL_MS * NS_PER_MS) == 0);
}

static void print_counters(struct demo *d, const uint64_t *admitted)
{
	struct fgc_counters g[NODES];
	int ok[NODES], i, j;

	daemon_counters(d, admitted, g, ok);
	printf("\n%s, from each daemon's counters (SIGUSR1):\n",
	       d->redis ? "through Redis" : "gossip");
	for (i = 0; i < NODES; i++) {
		unsigned long long others = 0;

		if (!ok[i]) {
			printf("  node%d: counters not available: %s\n", i,
			       d->c.err);
			continue;
		}
		for (j = 0; j < NODES; j++)
			if (j != i && ok[j])
				others += g[j].harvested;
		printf("  node%d: harvested %llu (its workers admitted %" PRIu64
		       "), sent %llu datagrams;\n"
		       "         received %llu authenticated datagrams, "
		       "dropped %llu; debited %llu\n"
		       "         for the other nodes (which harvested %llu)\n",
		       i, g[i].harvested, admitted[i], g[i].tx, g[i].rx,
		       g[i].dropped, g[i].applied, others);
	}
}

/* The verdict on @total over @elapsed s: 0 within the bounds. */
static int verdict(uint64_t total, double elapsed, int propagation)
{
	double budget = budget_at(elapsed), floor_;
	double bound = budget + (NODES - 1) * global_rate() *
	                            (propagation * INTERVAL_MS / 1000.0);

	floor_ = 0.9 * global_rate() * elapsed;
	printf("\nin %.2f s the cluster admitted %" PRIu64 "; one budget "
	       "allows\n  rate x time + capacity = %.0f/s x %.2f s + %d = "
	       "%.0f\n  ratio %.3f\n",
	       elapsed, total, global_rate(), elapsed, RULE_CAPACITY, budget,
	       budget > 0 ? (double)total / budget : 0.0);
	printf("accepted: from 90%% of rate x time (%.0f) to the budget plus "
	       "what the\n  other hosts admit in %d intervals "
	       "(%d x %.0f/s x %.1f s): %.0f\n",
	       floor_, propagation, NODES - 1, global_rate(),
	       propagation * INTERVAL_MS / 1000.0, bound);
	if ((double)total > bound)
		printf("VIOLATION: the cluster admitted more than one budget "
		       "allows\n");
	else if ((double)total < floor_)
		printf("VIOLATION: the cluster admitted less than it may "
		       "(consumption counted twice?)\n");
	else
		printf("OK: three hosts, one budget\n");
	return (double)total > bound || (double)total < floor_ ? -1 : 0;
}

/* Each node's figures, the verdict, the daemons' counters. */
static int report(struct demo *d)
{
	uint64_t admitted[NODES];
	struct fgc_row all, r;
	double elapsed;
	int i, rc;

	fgc_load_sum(&d->load, -1, &all);
	elapsed = (double)(all.last_ns - d->load.start_ns) / NS_PER_S;
	printf("\n%-8s %9s %7s %9s %9s %9s\n", "", "admitted", "share", "per s",
	       "denied", "offered");
	for (i = 0; i <= NODES; i++) {
		char name[16];

		if (i < NODES)
			fgc_load_sum(&d->load, i, &r);
		else
			r = all;
		if (i < NODES)
			admitted[i] = r.admitted;
		snprintf(name, sizeof name, i < NODES ? "node%d" : "cluster",
		         i);
		printf("%-8s %9" PRIu64 " %6.1f%% %9.1f %9" PRIu64 " %9" PRIu64
		       "\n",
		       name, r.admitted,
		       all.admitted
		           ? 100.0 * (double)r.admitted / (double)all.admitted
		           : 0.0,
		       (double)r.admitted / elapsed, r.denied,
		       r.admitted + r.denied);
	}
	/* through Redis a count is pushed, then pulled: two hops */
	rc = verdict(all.admitted, elapsed,
	             d->redis ? 2 * PROPAGATION : PROPAGATION);
	print_counters(d, admitted);
	return rc;
}

/* --------------------------------------------------------------- main */

static int run(struct demo *d)
{
	char err[256];

	if (set_up(d) != 0 || start(d) != 0)
		return -1;
	if (live_view(d) != 0)
		return -1;
	if (fgc_load_wait(&d->load, 0, err, sizeof err) != 0) {
		(void)fgc_chart_done(&d->chart, stdout);
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	final_view(d);
	return report(d) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	static struct demo d;
	char err[256];
	int status;

	status = parse_args(&d, argc, argv);
	if (status != 0)
		return status == 1 ? 0 : 2;
	/* Caught, not ignored: the parent cleans up; workers go back to the
	 * default action, and the daemons (an exec) get it anyway. */
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0) {
		fprintf(stderr, PROG ": sigaction: %s\n", strerror(errno));
		return 1;
	}
	status = run(&d);
	(void)fgc_chart_done(&d.chart, stdout);
	if (status < 0 && !interrupted)
		fprintf(stderr, PROG ": %s\n", d.c.err);
	if (status != 0)
		status = 1;
	(void)fgc_load_wait(&d.load, 1, err, sizeof err);
	fgc_load_free(&d.load);
	if (interrupted)
		fprintf(stderr, PROG ": stopped by signal %d\n",
		        (int)interrupted);
	if (fgc_fini(&d.c, 0) != 0) {
		fprintf(stderr, PROG ": %s\n", d.c.err);
		status = 1;
	}
	redis_down(&d); /* after the daemons: they push a last time */
	return status;
}
