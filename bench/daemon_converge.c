/*
 * daemon_converge.c - how long real floodgated processes on loopback take
 * until one node's consumption shows in every node's bucket, as the
 * number of daemons grows.
 *
 * Per N (3, 5, 8, 12, 16, or the list on the command line): N daemons
 * (fork + exec of the floodgated given as argv[1], -f -c), each with a
 * small segment of its own, listening on 127.0.0.1 (ports 26000-26999,
 * a range no test uses), the default 100 ms interval, the default fanout
 * (all up to 8 members, 3 above), announcements on, one seed each as in
 * tests/test_discovery.c (node 0 for everybody, node 1 for node 0) and
 * one global rule g of 10,000 tokens refilling 1 an hour, so nothing
 * refills during a run (1,000,000 at 1 an hour would take 114 years to
 * refill, beyond the 2^56 ns, 834 days, that a rule may span).
 *
 * Discovery settles first: every node (not only node 0, since every node
 * originates trials) consumes a warm-up token and the bench waits until
 * every node's bucket shows all of them (30 s + 1 s a node at most), then
 * 20 more rounds, after which tests/test_members.c finds that 8 nodes
 * with one seed each know every address.  Then 20 trials: node
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
 * Printed per N: fanout; median, p90 and max of the trials (nearest
 * rank; a timeout counts as infinite); how many trials took more than two
 * intervals (that is not one round plus forwarding: something was lost
 * or late and a repair or a later round delivered it); whether every
 * node holds exactly capacity - 1 of every trial key at the end (nothing
 * debited twice); and the CPU time (utime + stime in /proc/PID/stat) all
 * daemons used during the trials, in % of one CPU over the trials' wall
 * time, in total and per daemon (and, with FG_CONVERGE_RAW=FILE, each
 * trial in FILE: see raw_put).  The exit status is 1 if a cluster did
 * not come up or settle, a trial timed out, or a count was not exact.
 *
 *   make bench   (or bench/daemon_converge FLOODGATED [N...])
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/node.h"
#include "gossip/keys.h"
#include "lib/client.h"
#include "lib/floodgate.h"
#include "shm/clock.h"

#define CAP         10000
#define IV_MS       100 /* the daemon's default interval: not configured */
#define TRIALS      20
#define GAP_MS      150
#define POLL_US     1000
#define TIMEOUT_NS  10000000000ull
#define SETTLE_MORE 20 /* rounds after the warm-up tokens arrived */
#define PORT_LO     26000
#define PORT_SPAN   1000
#define NEVER       UINT64_MAX

static const char *daemon_bin;

static struct {
	int n, port0;
	char dir[64];
	pid_t *pid;
	fg_client **fg;
	char (*seg)[64];
} C;

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs(text, f);
	return fclose(f);
}

/* DIR/nI.key (and .pub) named "nI" for every node, and DIR/keyring that
 * trusts them all (as tests/cluster.h make_node_keys). */
static int make_keys(void)
{
	char path[256], line[256], err[256];
	size_t cap = (size_t)C.n * 128 + 1, used = 0;
	char *keyring = calloc(1, cap);
	int i, rc = -1;

	if (keyring == NULL)
		return -1;
	for (i = 0; i < C.n; i++) {
		FILE *f;

		snprintf(path, sizeof path, "%s/n%d.key", C.dir, i);
		snprintf(line, sizeof line, "n%d", i);
		if (fgk_keygen(path, line, err, sizeof err) != 0) {
			fprintf(stderr, "keygen: %s\n", err);
			goto out;
		}
		strcat(path, ".pub");
		f = fopen(path, "r");
		if (f == NULL || fgets(line, sizeof line, f) == NULL) {
			fprintf(stderr, "%s: cannot read\n", path);
			if (f)
				fclose(f);
			goto out;
		}
		fclose(f);
		if (used + strlen(line) >= cap)
			goto out;
		memcpy(keyring + used, line, strlen(line) + 1);
		used += strlen(line);
	}
	snprintf(path, sizeof path, "%s/keyring", C.dir);
	rc = write_file(path, keyring);
out:
	free(keyring);
	return rc;
}

/* Interval, fanout and announce are left out: the defaults are what is
 * measured. */
static int write_config(int i)
{
	char path[128], text[1024];

	snprintf(text, sizeof text,
	         "segment %s\ncapacity 1024\nnode-key %s/n%d.key\n"
	         "keyring %s/keyring\nlisten 127.0.0.1:%d\ncontrol off\n"
	         "peer 127.0.0.1:%d\n"
	         "rule g capacity %d rate 1/1h scope global\n",
	         C.seg[i], C.dir, i, C.dir, C.port0 + i,
	         C.port0 + (i == 0 ? 1 : 0), CAP);
	snprintf(path, sizeof path, "%s/n%d.conf", C.dir, i);
	return write_file(path, text);
}

/* floodgated -f -c DIR/nI.conf, stdout and stderr to DIR/nI.log; it dies
 * with the bench, so that an interrupted run leaves no daemon behind. */
static pid_t spawn(int i)
{
	char conf[128], log[128];
	pid_t parent = getpid(), p;

	snprintf(conf, sizeof conf, "%s/n%d.conf", C.dir, i);
	snprintf(log, sizeof log, "%s/n%d.log", C.dir, i);
	p = fork();
	if (p == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* the bench died before prctl */
			_exit(1);
		execl(daemon_bin, "floodgated", "-f", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return p;
}

/* A daemon that exited is reported with the end of its log. */
static int dead(int i)
{
	char cmd[160];
	int status;

	if (waitpid(C.pid[i], &status, WNOHANG) != C.pid[i])
		return 0;
	C.pid[i] = 0;
	fprintf(stderr, "node %d exited (status %d); its log:\n", i, status);
	snprintf(cmd, sizeof cmd, "tail -n 20 %s/n%d.log >&2", C.dir, i);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
	return 1;
}

/* Up when its segment opens and holds rule g. */
static int await_ready(int i)
{
	uint64_t t0 = fg__now_ns();

	while (C.fg[i] == NULL || fg__rule_index(C.fg[i], "g") < 0) {
		if (C.fg[i] == NULL && fg_open(C.seg[i], 0, &C.fg[i]) != 0)
			C.fg[i] = NULL;
		if (dead(i) || fg__now_ns() - t0 > 10000000000ull) {
			fprintf(stderr, "node %d did not come up (see %s)\n", i,
			        C.dir);
			return -1;
		}
		usleep(10000);
	}
	return 0;
}

static int64_t left(int i, const char *key)
{
	int64_t n = 0;

	if (fg__peek(C.fg[i], "g", key, strlen(key), &n) != 0)
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

/* utime + stime of @pid, in clock ticks (fields 14 and 15 of
 * /proc/PID/stat, counted after the ')' that ends the command name). */
static unsigned long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t len;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2,
	                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	                        "%llu %llu",
	                        &ut, &st) != 2)
		return 0;
	return ut + st;
}

static int rm_one(const char *path, const struct stat *sb, int type,
                  struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Daemons stopped, segments and their .state files removed; the temp
 * dir too unless @keep (a daemon failed: its log is the evidence). */
static void cluster_down(int keep)
{
	char pat[128];
	int i, status;
	size_t k;

	for (i = 0; i < C.n; i++)
		if (C.pid[i] > 0)
			kill(C.pid[i], SIGTERM);
	for (i = 0; i < C.n; i++) {
		glob_t g;

		if (C.pid[i] > 0)
			waitpid(C.pid[i], &status, 0);
		if (C.fg[i])
			fg_close(C.fg[i]);
		fg_unlink(C.seg[i]);
		/* the harvest baseline beside the segment (floodgated.c) */
		snprintf(pat, sizeof pat, "/dev/shm/%s.state*", C.seg[i]);
		if (glob(pat, 0, NULL, &g) == 0) {
			for (k = 0; k < g.gl_pathc; k++)
				unlink(g.gl_pathv[k]);
			globfree(&g);
		}
	}
	if (keep)
		fprintf(stderr, "logs kept in %s\n", C.dir);
	else
		nftw(C.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(C.pid);
	free(C.fg);
	free(C.seg);
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
	for (t = 0; t < TRIALS; t++)
		if (sorted[t] == NEVER)
			fprintf(f, "%d timeout\n", n);
		else
			fprintf(f, "%d %.3f\n", n, sorted[t] / 1e6);
	fclose(f);
}

static int run(int n)
{
	char(*keys)[16] =
	    calloc((size_t)(n > TRIALS ? n : TRIALS), sizeof *keys);
	uint64_t took[TRIALS], t0, settle, wall0, wall;
	unsigned long long cpu0 = 0, cpu1 = 0;
	int i, t, over = 0, slow = 0, timeouts = 0, exact;
	double cpu_pct;

	memset(&C, 0, sizeof C);
	C.n = n;
	C.pid = calloc((size_t)n, sizeof *C.pid);
	C.fg = calloc((size_t)n, sizeof *C.fg);
	C.seg = calloc((size_t)n, sizeof *C.seg);
	if (keys == NULL || C.pid == NULL || C.fg == NULL || C.seg == NULL)
		return 1;
	/* one block of n ports in 26000-26999 per run, by pid, so that two
	 * benches at once rarely collide */
	C.port0 = PORT_LO + (int)(getpid() % (PORT_SPAN / n)) * n;
	snprintf(C.dir, sizeof C.dir, "/tmp/fgbench-dcv-XXXXXX");
	if (mkdtemp(C.dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	for (i = 0; i < n; i++)
		snprintf(C.seg[i], sizeof C.seg[i], "fgbench-dcv%d-%d", i,
		         (int)getpid());
	if (make_keys() != 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (write_config(i) != 0)
			goto fail;
	for (i = 0; i < n; i++)
		if ((C.pid[i] = spawn(i)) < 0)
			goto fail;
	for (i = 0; i < n; i++)
		if (await_ready(i) != 0)
			goto fail;

	/* Discovery: a token from every node (not only node 0), so that
	 * every origin is known to reach every node before trials start
	 * from each of them in turn. */
	t0 = fg__now_ns();
	for (i = 0; i < n; i++) {
		snprintf(keys[i], sizeof keys[i], "warm%d", i);
		if (fg_allow(C.fg[i], "g", keys[i], 1, NULL) != 1)
			goto fail;
	}
	/* N x N buckets: polled every 10 ms, not every 1, or the bench
	 * takes a CPU from the daemons at large N */
	settle = await_all(keys, n, CAP - 1, t0, settle_ns(n), 10000, &over);
	if (settle == NEVER) {
		fprintf(stderr,
		        "%d nodes: warm-up tokens not everywhere "
		        "after %llu s\n",
		        n, (unsigned long long)(settle_ns(n) / 1000000000u));
		goto fail;
	}
	usleep(SETTLE_MORE * IV_MS * 1000);

	for (i = 0; i < n; i++)
		cpu0 += cpu_ticks(C.pid[i]);
	wall0 = fg__now_ns();
	for (t = 0; t < TRIALS; t++) {
		int o = t % n;

		snprintf(keys[0], sizeof keys[0], "k%d", t);
		t0 = fg__now_ns();
		if (fg_allow(C.fg[o], "g", keys[0], 1, NULL) != 1)
			goto fail;
		took[t] =
		    await_all(keys, 1, CAP - 1, t0, TIMEOUT_NS, POLL_US, &over);
		if (took[t] == NEVER)
			timeouts++;
		else if (took[t] > 2ull * IV_MS * 1000000)
			slow++;
		usleep(GAP_MS * 1000 + randombytes_uniform(IV_MS * 1000));
	}
	wall = fg__now_ns() - wall0;
	for (i = 0; i < n; i++) {
		if (dead(i))
			goto fail;
		cpu1 += cpu_ticks(C.pid[i]);
	}
	cpu_pct = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) /
	          (wall / 1e9) * 100;

	/* Exact: every trial key at capacity - 1 on every node, after the
	 * repairs and heartbeats of the last trials had time to run. */
	usleep(10 * IV_MS * 1000);
	for (exact = 1, t = 0; t < TRIALS; t++) {
		snprintf(keys[0], sizeof keys[0], "k%d", t);
		for (i = 0; i < n; i++)
			exact &= left(i, keys[0]) == CAP - 1;
	}

	qsort(took, TRIALS, sizeof took[0], cmp_u64);
	raw_put(n, took);
	if (fgd_fanout_auto((size_t)n) == 0)
		printf("%6d %7s", n, "all");
	else
		printf("%6d %7u", n, fgd_fanout_auto((size_t)n));
	put_rank(took, TRIALS, 0.5);
	put_rank(took, TRIALS, 0.9);
	put_rank(took, TRIALS, 1.0);
	printf(" %8d %5d %6s %9.0f %9.1f %9.1f\n", timeouts, slow,
	       exact && !over ? "yes" : "NO", settle / 1e6, cpu_pct,
	       cpu_pct / n);
	fflush(stdout);
	cluster_down(0);
	free(keys);
	return timeouts || !exact || over;
fail:
	cluster_down(1);
	free(keys);
	return 1;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {3, 5, 8, 12, 16};
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FLOODGATED [N...]\n", argv[0]);
		return 2;
	}
	daemon_bin = argv[1];
	if (access(daemon_bin, X_OK) != 0) {
		fprintf(stderr, "%s: %s\n", daemon_bin, strerror(errno));
		return 2;
	}
	printf("daemon_converge: real floodgated on 127.0.0.1, interval "
	       "%d ms (default), default fanout, one seed each; %d trials "
	       "per N, 1 token on node (trial %% N), polled every %d us\n",
	       IV_MS, TRIALS, POLL_US);
	printf("%6s %7s %8s %8s %8s %8s %5s %6s %9s %9s %9s\n", "nodes",
	       "fanout", "med ms", "p90 ms", "max ms", "timeouts", ">2iv",
	       "exact", "settle ms", "CPU% all", "CPU%/node");
	if (argc > 2) {
		for (i = 2; i < argc; i++) {
			int n = atoi(argv[i]);

			if (n < 2 || n > PORT_SPAN || n > FGK_KEYRING_MAX) {
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
