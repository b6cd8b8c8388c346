/* SPDX-License-Identifier: ISC */
/*
 * soak.c - make soak: three real floodgated on loopback under key churn
 * for ten minutes, and what an operator would watch while it runs.
 *
 * Every node's churn process checks about 3,333 keys a second it never
 * checked before (200,000 a minute) and as many it checked recently, on
 * one global rule, like a service whose clients come and go.  Every
 * minute (-i) the soak prints per node: the daemon's resident memory and
 * CPU share over the minute, the remote ledger's fill, its own ledger,
 * and what it applied for its peers against what they harvested.  At the
 * end, once the churn stopped and the last rounds are in: applied against
 * harvested in full, and how long a key consumed on node 0 takes to
 * reach the other two nodes (the figure the old ledger took 37-46 s for).
 *
 * Not part of make check (it runs for minutes): make soak, or
 * bench/soak [-d SECONDS] [-k NEW_KEYS_PER_MINUTE] [-c CAPACITY]
 *            [-i REPORT_SECONDS] [FLOODGATED].
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/control.h"
#include "demo/cluster.h"
#include "demo/figures.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/segment.h"

#define N   3
#define SEC 1000000000ull

struct opts {
	unsigned seconds, per_min, capacity, every;
	const char *bin;
};

/* The value of @field on the line of type @type of node @i's stats; 0
 * when it does not say. */
static unsigned long long stat_of(struct fgc_cluster *c, int i,
                                  const char *type, const char *field)
{
	char sock[160], pat[64], *reply = NULL, *line, *v;
	unsigned long long x = 0;

	if (fg__seg_path(c->node[i].seg, sock, sizeof sock - 8) != 0)
		return 0;
	strcat(sock, ".sock");
	if (fgd_ctl_request(sock, "stats", &reply) != 0)
		return 0;
	snprintf(pat, sizeof pat, "\n%s ", type);
	line = strstr(reply, pat);
	snprintf(pat, sizeof pat, " %s=", field);
	v = line ? strstr(line + 1, pat) : NULL;
	if (v != NULL)
		x = strtoull(v + strlen(pat), NULL, 10);
	free(reply);
	return x;
}

/* Resident memory of @pid in MiB (VmRSS), 0 if unknown. */
static double rss_mib(pid_t pid)
{
	char path[64], line[256];
	double kib = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %lf kB", &kib) == 1)
			break;
	fclose(f);
	return kib / 1024;
}

/* A churn process: @per_min new keys a minute and as many recent ones,
 * in batches every 10 ms, for @seconds. */
static void churn(const char *seg, unsigned per_min, unsigned seconds, int id)
{
	static char ring[1024][24];
	uint64_t start = fg__now_ns(), next = start, made = 0;
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ull + 1;
	unsigned batch = per_min / 6000 ? per_min / 6000 : 1, k;
	fg_client *fg = NULL;

	if (fg_open(seg, 0, &fg) != 0)
		_exit(1);
	while (fg__now_ns() - start < (uint64_t)seconds * SEC) {
		struct timespec ts;

		for (k = 0; k < 2 * batch; k++) {
			const char *key;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (k % 2 == 0 || made == 0) {
				char *slot = ring[made % 1024];

				snprintf(slot, 24, "s%d-%llu", id,
				         (unsigned long long)made);
				made++;
				key = slot;
			} else {
				key = ring[x % (made < 1024 ? made : 1024)];
			}
			if (fg_allow(fg, "api", key, 1, NULL) < 0)
				_exit(2);
		}
		next += 10000000;
		ts.tv_sec = (time_t)(next / SEC);
		ts.tv_nsec = (long)(next % SEC);
		(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                      NULL);
	}
	fg_close(fg);
	_exit(0);
}

static void report(struct fgc_cluster *c, double t, unsigned long long ticks[N],
                   double period)
{
	unsigned long long harvested[N], applied[N], peers, now;
	long hz = sysconf(_SC_CLK_TCK);
	int i, j;

	/* applied first: while the churn runs, what is applied was
	 * harvested before, never the other way round */
	for (i = 0; i < N; i++)
		applied[i] = stat_of(c, i, "gossip", "applied");
	for (i = 0; i < N; i++)
		harvested[i] = stat_of(c, i, "gossip", "harvested");
	for (i = 0; i < N; i++) {
		now = fgc_cpu_ticks(c->node[i].pid);
		for (peers = 0, j = 0; j < N; j++)
			peers += j == i ? 0 : harvested[j];
		printf(
		    "%6.0f s  node %d  rss %6.1f MiB  cpu %5.1f %%  marks "
		    "%7llu/%llu  own %7llu  applied %10llu of %10llu "
		    "(%.2f %%)  forgotten %llu  no-room %llu\n",
		    t, i, rss_mib(c->node[i].pid),
		    period > 0
		        ? 100.0 * (double)(now - ticks[i]) / (double)hz / period
		        : 0.0,
		    stat_of(c, i, "ledger", "marks"),
		    stat_of(c, i, "ledger", "max"),
		    stat_of(c, i, "ledger", "own"), applied[i], peers,
		    peers ? 100.0 * (double)applied[i] / (double)peers : 100.0,
		    stat_of(c, i, "ledger", "evicted"),
		    stat_of(c, i, "gossip", "records_noroom"));
		ticks[i] = now;
	}
	fflush(stdout);
}

/* Milliseconds until 5 tokens of a fresh key consumed on node 0 show on
 * nodes 1 and 2; -1 after 60 s. */
static double fresh_key_ms(struct fgc_cluster *c)
{
	uint64_t t0 = fg__now_ns();
	int64_t l1 = 0, l2 = 0;

	if (fg_allow(c->node[0].fg, "api", "fresh-at-the-end", 5, NULL) != 1)
		return -1;
	while (fg__now_ns() - t0 < 60 * SEC) {
		if (fgc_left(c, 1, "api", "fresh-at-the-end", &l1) == 0 &&
		    fgc_left(c, 2, "api", "fresh-at-the-end", &l2) == 0 &&
		    l1 <= 45 && l2 <= 45)
			return (double)(fg__now_ns() - t0) / 1e6;
		usleep(1000);
	}
	return -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int ch;

	*o = (struct opts){600, 200000, 100000, 60, NULL};
	while ((ch = getopt(argc, argv, "d:k:c:i:")) != -1) {
		unsigned v = (unsigned)strtoul(optarg, NULL, 10);

		if (v == 0)
			return -1;
		if (ch == 'd')
			o->seconds = v;
		else if (ch == 'k')
			o->per_min = v;
		else if (ch == 'c')
			o->capacity = v;
		else if (ch == 'i')
			o->every = v;
		else
			return -1;
	}
	o->bin = optind < argc ? argv[optind] : NULL;
	return 0;
}

static int cluster(struct fgc_cluster *c, const struct opts *o)
{
	struct fgc_conf conf = {
	    .capacity = o->capacity,
	    .peers = FGC_PEERS_ALL,
	    .extra = "rule api capacity 50 rate 200/1s scope global\n"};
	int i;

	if (fgc_init(c, N, "fgsoak-") != 0)
		return -1;
	if (o->bin != NULL)
		c->floodgated = o->bin;
	if (fgc_pick_ports(c, 27000, 27999) != 0 || fgc_make_keys(c) != 0)
		return -1;
	for (i = 0; i < N; i++)
		if (fgc_write_conf(c, i, &conf) != 0)
			return -1;
	return fgc_start_all(c, "api");
}

int main(int argc, char **argv)
{
	struct fgc_cluster c = {0};
	unsigned long long ticks[N] = {0};
	struct opts o;
	pid_t pid[N];
	uint64_t t0, last;
	double ms;
	int i, rc = 1;

	if (parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: soak [-d SECONDS] [-k NEW_KEYS_PER_MIN]"
		                " [-c CAPACITY] [-i REPORT_SECONDS] "
		                "[FLOODGATED]\n");
		return 64;
	}
	if (cluster(&c, &o) != 0) {
		fprintf(stderr, "soak: %s\n", c.err);
		goto out;
	}
	printf("soak: 3 nodes, capacity %u, %u new keys a minute per node, "
	       "%u s\n",
	       o.capacity, o.per_min, o.seconds);
	for (i = 0; i < N; i++) {
		ticks[i] = fgc_cpu_ticks(c.node[i].pid);
		pid[i] = fork();
		if (pid[i] == 0)
			churn(c.node[i].seg, o.per_min, o.seconds, i);
	}
	t0 = last = fg__now_ns();
	while (fg__now_ns() - t0 < (uint64_t)o.seconds * SEC) {
		sleep(1);
		if (fg__now_ns() - last >= (uint64_t)o.every * SEC) {
			report(&c, (double)(fg__now_ns() - t0) / 1e9, ticks,
			       (double)(fg__now_ns() - last) / 1e9);
			last = fg__now_ns();
		}
	}
	for (i = 0; i < N; i++)
		(void)waitpid(pid[i], NULL, 0);
	sleep(2); /* the last rounds and repairs */
	report(&c, (double)(fg__now_ns() - t0) / 1e9, ticks,
	       (double)(fg__now_ns() - last) / 1e9);
	ms = fresh_key_ms(&c);
	printf("a fresh key consumed on node 0 reached nodes 1 and 2 in "
	       "%.0f ms\n",
	       ms);
	rc = ms < 0;
out:
	fgc_fini(&c, rc != 0);
	return rc;
}
