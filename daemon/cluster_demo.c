/*
 * cluster_demo.c - floodgate-cluster-demo: three hosts, one budget.
 *
 * The demo plays a three-host deployment on loopback.  It makes a
 * temporary directory, generates a key pair per node (fgk_keygen) and a
 * keyring that trusts all three, and writes one floodgate.conf(5) per
 * node: its own segment ("fgdemo-<i>-<pid>", so no worker ever sees
 * another node's buckets, as on separate machines), its own UDP port on
 * 127.0.0.1, the other two as peers, gossip every 100 ms, and the same
 * global rule.  It starts three floodgated processes ($FLOODGATED, -D,
 * or ./daemon/floodgated from the build directory) and waits until each
 * segment holds the rule and each daemon says it is running.
 *
 * Then it forks, per node, W worker processes (-w, default 2) that check
 * the key "alice" against the rule, paced with clock_nanosleep on an
 * absolute schedule so that each node is offered OVERLOAD (5) times the
 * global rate in total, until a common deadline (-d, default 10 s).  As a
 * prefork master does, the parent attaches to each segment before fork().
 *
 * What it shows.  Each daemon harvests what its workers admitted, sends
 * its cumulative counts to the others in authenticated datagrams (three
 * nodes: straight to each, under pairwise MACs), and
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
 * The live view.  Every 500 ms the parent prints each node's admitted/s,
 * the cluster's against the global rate, and the tokens left in each
 * node's bucket.  The public API has no peek, so tokens_left() reads the
 * slot through the internals (libfgcore), as tests/test_daemon.c does.
 * At the end it prints the totals and each daemon's own counters, which
 * it asks for with SIGUSR1 and reads from the daemon's log.
 *
 * Counting.  Each worker has its own cache line in a shared anonymous
 * mapping and stores its running counts there with relaxed atomic stores:
 * one writer per counter, the parent only reads.
 *
 * Cleanup.  Whatever happened (an error, SIGINT, SIGTERM), the parent
 * stops its workers, stops the daemons with SIGTERM and waits for them
 * (SIGKILL after 5 s), removes the segments and the daemons' state files
 * (/dev/shm/fgdemo-<i>-<pid>.state) and the temporary directory.  The
 * daemons run in a process group of their own, so that a ^C reaches the
 * parent, which shuts them down in order, and get SIGTERM should the
 * parent die (PR_SET_PDEATHSIG).  Workers and children only _exit().
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include "gossip/keys.h"
#include "lib/client.h"
#include "lib/floodgate.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/segment.h"
#include "shm/table.h"

/* Plain decimal literals: the intro text spells them with STR(). */
#define NODES              3
#define RULE_NAME          "api"
#define RULE_CAPACITY      50
#define RULE_RATE          200 /* tokens per RULE_PERIOD_S */
#define RULE_PERIOD_S      1
#define DEMO_KEY           "alice"
#define INTERVAL_MS        100   /* gossip */
#define SEG_CAPACITY       4096u /* keys per segment */
#define OVERLOAD           5     /* each node is offered 5x the global rate */
#define PROPAGATION        3     /* intervals allowed for a count to land */
#define TICK_MS            500u  /* live view */
#define START_DELAY_MS     200u  /* from the forks to the first check */
#define READY_TIMEOUT_MS   10000u
#define STOP_TIMEOUT_MS    5000u
#define COUNTERS_WAIT_MS   2000u
#define SETTLE_MS          (5u * INTERVAL_MS)
#define MAX_WORKERS        16 /* per node */
#define MAX_SECONDS        3600
#define DEFAULT_FLOODGATED "./daemon/floodgated"

#define STR_(x) #x
#define STR(x)  STR_(x)
/* The rule, as the configs have it and the intro shows it. */
#define RATE_TEXT STR(RULE_RATE) "/" STR(RULE_PERIOD_S) "s"
#define RULE_TEXT                                                              \
	"rule " RULE_NAME " capacity " STR(RULE_CAPACITY) " rate " RATE_TEXT   \
	                                                  " scope global"
#define INTERVAL_TEXT STR(INTERVAL_MS) " ms"

#define NS_PER_MS 1000000u
#define NS_PER_S  1000000000u

/* One worker's counts, stored as they change by that worker only. */
struct row {
	uint64_t admitted;
	uint64_t denied;
	uint64_t last_ns; /* after its last check */
	uint64_t done;    /* 1 once it finished its schedule */
} __attribute__((aligned(64)));

/* A daemon's counters, as it logs them on SIGUSR1. */
struct gossip {
	unsigned long long rx, rx_bytes, tx, tx_bytes, tx_errors;
	unsigned long long harvested, applied, unknown, noroom, dropped;
};

struct demo {
	const char *floodgated;
	int seconds;
	int workers;  /* per node */
	char dir[64]; /* temporary directory, "" until made */
	int named;    /* the segment names below are ours to remove */
	char seg[NODES][64];
	int port[NODES];
	pid_t daemon[NODES]; /* 0 when not running */
	fg_client *fg[NODES];
	pid_t *wpid;      /* NODES * workers; 0 when reaped */
	struct row *rows; /* shared: NODES * workers */
	size_t rows_bytes;
	uint64_t start_ns, deadline_ns;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static uint64_t now_ns(void)
{
	return fg__now_ns();
}

/* Sleep until CLOCK_MONOTONIC @t; 0, or an errno value (EINTR: a signal
 * came, the caller decides). */
static int sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S),
	                      .tv_nsec = (long)(t % NS_PER_S)};

	return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Sleep @ms unless interrupted; 0, or -1 when a signal stopped it. */
static int sleep_ms(uint64_t ms)
{
	uint64_t until = now_ns() + ms * NS_PER_MS;
	int e;

	while ((e = sleep_until(until)) == EINTR && !interrupted)
		;
	return e == 0 && !interrupted ? 0 : -1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: floodgate-cluster-demo [-d seconds] [-w workers] "
	        "[-D floodgated]\n"
	        "  -d  seconds of load (default 10)\n"
	        "  -w  worker processes per node (default 2)\n"
	        "  -D  the daemon (default $FLOODGATED, else %s)\n",
	        DEFAULT_FLOODGATED);
}

/* Parse a decimal integer in [min, max] into *out; 0 on success. */
static int parse_uint(const char *s, long min, long max, int *out)
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

/* snprintf that fails, with a message, instead of truncating. */
static int fmt(char *buf, size_t len, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "floodgate-cluster-demo: name too long\n");
		return -1;
	}
	return 0;
}

/* Create @path (never overwriting) with @mode and write @text into it. */
static int write_text(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text), off = 0;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          mode);
	if (fd < 0)
		goto out;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "floodgate-cluster-demo: %s: %s\n", path,
		        strerror(errno));
	if (fd >= 0 && close(fd) != 0 && rc == 0) {
		fprintf(stderr, "floodgate-cluster-demo: %s: %s\n", path,
		        strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Read the last @cap - 1 bytes (at most) of @path into @buf, NUL-ended.
 * Returns the length, or -1. */
static ssize_t read_tail(const char *path, char *buf, size_t cap)
{
	struct stat st;
	ssize_t rc = -1;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto out;
	if ((size_t)st.st_size >= cap &&
	    lseek(fd, st.st_size - (off_t)(cap - 1), SEEK_SET) < 0)
		goto out;
	while (off < cap - 1) {
		ssize_t n = read(fd, buf + off, cap - 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	rc = (ssize_t)off;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

static int log_path(const struct demo *d, int i, char *buf, size_t len)
{
	return fmt(buf, len, "%s/node%d.log", d->dir, i);
}

/* 1 when node @i's log contains @needle. */
static int log_has(const struct demo *d, int i, const char *needle)
{
	char path[128], text[8192];

	if (log_path(d, i, path, sizeof path) != 0 ||
	    read_tail(path, text, sizeof text) < 0)
		return 0;
	return strstr(text, needle) != NULL;
}

/* Copy node @i's log to stderr: what a daemon that failed said. */
static void dump_log(const struct demo *d, int i)
{
	char path[128], text[4096], *line, *save = NULL;

	if (log_path(d, i, path, sizeof path) != 0 ||
	    read_tail(path, text, sizeof text) <= 0) {
		fprintf(stderr, "  (node%d's daemon logged nothing)\n", i);
		return;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "  node%d| %s\n", i, line);
}

/* ------------------------------------------------------------- set-up */

/* Three free UDP ports on 127.0.0.1: bound together, so distinct. */
static int pick_ports(int port[NODES])
{
	int fd[NODES], i, rc = -1;

	for (i = 0; i < NODES; i++)
		fd[i] = -1;
	for (i = 0; i < NODES; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof a;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd[i] < 0 ||
		    bind(fd[i], (struct sockaddr *)&a, sizeof a) != 0 ||
		    getsockname(fd[i], (struct sockaddr *)&a, &len) != 0) {
			fprintf(stderr,
			        "floodgate-cluster-demo: a UDP port on "
			        "127.0.0.1: %s\n",
			        strerror(errno));
			goto out;
		}
		port[i] = ntohs(a.sin_port);
	}
	rc = 0;
out:
	for (i = 0; i < NODES; i++)
		if (fd[i] >= 0)
			(void)close(fd[i]);
	return rc;
}

/* A key pair per node, and one keyring that trusts the three. */
static int make_identities(const struct demo *d)
{
	char path[128], name[16], line[256], keyring[NODES * 256];
	char err[512];
	size_t off = 0;
	ssize_t n;
	int i, rc = -1;

	keyring[0] = '\0';
	for (i = 0; i < NODES; i++) {
		if (fmt(path, sizeof path, "%s/node%d.key", d->dir, i) != 0 ||
		    fmt(name, sizeof name, "node%d", i) != 0)
			goto out;
		if (fgk_keygen(path, name, err, sizeof err) != 0) {
			fprintf(stderr, "floodgate-cluster-demo: %s\n", err);
			goto out;
		}
		/* PATH.pub holds the keyring line "NAME BASE64" */
		if (fmt(path, sizeof path, "%s/node%d.key.pub", d->dir, i) != 0)
			goto out;
		n = read_tail(path, line, sizeof line);
		if (n <= 0 || (size_t)n + off >= sizeof keyring) {
			fprintf(stderr,
			        "floodgate-cluster-demo: %s: unreadable\n",
			        path);
			goto out;
		}
		memcpy(keyring + off, line, (size_t)n + 1);
		off += (size_t)n;
	}
	if (fmt(path, sizeof path, "%s/keyring", d->dir) != 0 ||
	    write_text(path, keyring, 0644) != 0)
		goto out;
	rc = 0;
out:
	return rc;
}

/* floodgate.conf(5) of node @i. */
static int write_config(const struct demo *d, int i)
{
	char path[128], text[2048], peers[128];
	size_t off = 0;
	int j;

	peers[0] = '\0';
	for (j = 0; j < NODES; j++) {
		if (j == i)
			continue;
		if (fmt(peers + off, sizeof peers - off, "peer 127.0.0.1:%d\n",
		        d->port[j]) != 0)
			return -1;
		off += strlen(peers + off);
	}
	if (fmt(text, sizeof text,
	        "# floodgate-cluster-demo: node%d of %d\n"
	        "segment %s\n"
	        "capacity %u\n"
	        "node-key %s/node%d.key\n"
	        "keyring %s/keyring\n"
	        "listen 127.0.0.1:%d\n"
	        "%s"
	        "interval %dms\n" RULE_TEXT "\n",
	        i, NODES, d->seg[i], SEG_CAPACITY, d->dir, i, d->dir,
	        d->port[i], peers, INTERVAL_MS) != 0 ||
	    fmt(path, sizeof path, "%s/node%d.conf", d->dir, i) != 0)
		return -1;
	return write_text(path, text, 0600);
}

/* The daemon's harvest baseline lives in SEGMENT.state beside the
 * segment (floodgated.c: node_start). */
static int state_path(const struct demo *d, int i, char *buf, size_t len)
{
	if (fg__seg_path(d->seg[i], buf, len - 8) != 0) {
		fprintf(stderr, "floodgate-cluster-demo: bad segment name %s\n",
		        d->seg[i]);
		return -1;
	}
	strcat(buf, ".state");
	return 0;
}

/* Remove node @i's segment and state files; absent ones are fine. */
static int remove_segment(const struct demo *d, int i)
{
	char state[FG_SEG_PATH_MAX + 32];
	int r, rc = 0;

	r = fg_unlink(d->seg[i]);
	if (r != 0 && r != FG_ENOSEG) {
		fprintf(stderr, "floodgate-cluster-demo: fg_unlink(%s): %s\n",
		        d->seg[i], fg_strerror(r));
		rc = -1;
	}
	if (state_path(d, i, state, sizeof state - 8) != 0)
		return -1;
	if (unlink(state) != 0 && errno != ENOENT) {
		fprintf(stderr, "floodgate-cluster-demo: %s: %s\n", state,
		        strerror(errno));
		rc = -1;
	}
	strcat(state, "-remote"); /* the ledger of the others' counts */
	if (unlink(state) != 0 && errno != ENOENT) {
		fprintf(stderr, "floodgate-cluster-demo: %s: %s\n", state,
		        strerror(errno));
		rc = -1;
	}
	return rc;
}

/* ------------------------------------------------------------ daemons */

static int start_daemon(struct demo *d, int i)
{
	char conf[128], log[128];
	pid_t parent = getpid(), p;

	if (fmt(conf, sizeof conf, "%s/node%d.conf", d->dir, i) != 0 ||
	    log_path(d, i, log, sizeof log) != 0)
		return -1;
	p = fork();
	if (p < 0) {
		fprintf(stderr, "floodgate-cluster-demo: fork: %s\n",
		        strerror(errno));
		return -1;
	}
	if (p == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int fd =
		    open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		/* Its own process group: a ^C goes to the parent, which
		 * stops the daemons in order.  SIGTERM if the parent dies. */
		if (in < 0 || fd < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0 || setpgid(0, 0) != 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
		    getppid() != parent)
			_exit(126);
		execl(d->floodgated, "floodgated", "-f", "-c", conf,
		      (char *)NULL);
		fprintf(stderr, "floodgate-cluster-demo: exec %s: %s\n",
		        d->floodgated, strerror(errno));
		_exit(127);
	}
	d->daemon[i] = p;
	return 0;
}

/* Say how node @i's daemon ended, unless it exited 0. */
static void daemon_status(int i, int status)
{
	if (WIFSIGNALED(status))
		fprintf(stderr,
		        "floodgate-cluster-demo: node%d: floodgated killed by "
		        "signal %d\n",
		        i, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fprintf(
		    stderr,
		    "floodgate-cluster-demo: node%d: floodgated exited %d%s\n",
		    i, WEXITSTATUS(status),
		    WEXITSTATUS(status) >= 126 ? " (could not run it)" : "");
}

/* 1 (and a message) when node @i's daemon is no longer running. */
static int daemon_gone(struct demo *d, int i)
{
	int status;
	pid_t p;

	if (d->daemon[i] <= 0)
		return 1;
	p = waitpid(d->daemon[i], &status, WNOHANG);
	if (p == 0 || (p < 0 && errno == EINTR))
		return 0;
	d->daemon[i] = 0;
	if (p < 0)
		fprintf(stderr, "floodgate-cluster-demo: node%d: waitpid: %s\n",
		        i, strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		fprintf(stderr,
		        "floodgate-cluster-demo: node%d: floodgated "
		        "exited\n",
		        i);
	else
		daemon_status(i, status);
	return 1;
}

/* SIGTERM, then wait up to STOP_TIMEOUT_MS; SIGKILL if it hangs. */
static int stop_daemon(struct demo *d, int i)
{
	uint64_t t0 = now_ns();
	int status, rc = -1;
	pid_t p;

	if (d->daemon[i] <= 0)
		return 0;
	if (kill(d->daemon[i], SIGTERM) != 0 && errno != ESRCH)
		goto out;
	for (;;) {
		p = waitpid(d->daemon[i], &status, WNOHANG);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			goto out;
		if (p > 0)
			break;
		if (now_ns() - t0 > (uint64_t)STOP_TIMEOUT_MS * NS_PER_MS) {
			fprintf(stderr,
			        "floodgate-cluster-demo: node%d: floodgated "
			        "ignores SIGTERM: SIGKILL\n",
			        i);
			if (kill(d->daemon[i], SIGKILL) != 0)
				goto out;
			while ((p = waitpid(d->daemon[i], &status, 0)) < 0 &&
			       errno == EINTR)
				;
			if (p < 0)
				goto out;
			break;
		}
		(void)sleep_until(now_ns() + 10 * NS_PER_MS); /* EINTR: loop */
	}
	rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
	daemon_status(i, status);
	d->daemon[i] = 0;
	return rc;
out:
	fprintf(stderr, "floodgate-cluster-demo: node%d: stopping pid %d: %s\n",
	        i, (int)d->daemon[i], strerror(errno));
	d->daemon[i] = 0;
	return rc;
}

/* Rule RULE_NAME as segment @fg holds it: 0, or -1 when it has none. */
static int find_rule(fg_client *fg, fg_rule_info *info)
{
	unsigned idx;

	for (idx = 0; idx < FG_RULES_MAX; idx++)
		if (fg_rule_get(fg, idx, info) == 0 &&
		    strcmp(info->name, RULE_NAME) == 0)
			return 0;
	return -1;
}

/*
 * Wait until node @i is up: its segment holds the rule (attach to it, as a
 * worker would) and the daemon logged "running:", which it does once its
 * socket is bound and its gossip state made, so that nothing the workers
 * admit goes unreported.
 */
static int await_ready(struct demo *d, int i)
{
	uint64_t t0 = now_ns();
	fg_rule_info info;
	int r = FG_ENOSEG;

	for (;;) {
		if (interrupted)
			return -1;
		if (daemon_gone(d, i))
			goto fail;
		if (d->fg[i] == NULL) {
			r = fg_open(d->seg[i], 0, &d->fg[i]);
			if (r != 0)
				d->fg[i] = NULL;
		}
		if (d->fg[i] != NULL && find_rule(d->fg[i], &info) == 0 &&
		    log_has(d, i, "running:"))
			return 0;
		if (now_ns() - t0 > (uint64_t)READY_TIMEOUT_MS * NS_PER_MS) {
			fprintf(
			    stderr,
			    "floodgate-cluster-demo: node%d did not come up "
			    "in %u ms (segment %s: %s)\n",
			    i, READY_TIMEOUT_MS, d->seg[i],
			    d->fg[i] ? "attached" : fg_strerror(r));
			goto fail;
		}
		if (sleep_ms(10) != 0)
			return -1;
	}
fail:
	dump_log(d, i);
	return -1;
}

/* ------------------------------------------------------------ workers */

/*
 * The body of worker @k of node @node: one check of DEMO_KEY every gap ns
 * on an absolute schedule (phases spread over the node's workers) from
 * start_ns to deadline_ns.  Returns the exit status.
 */
static int worker(const struct demo *d, int node, int k, struct row *row)
{
	uint64_t gap = (uint64_t)RULE_PERIOD_S * NS_PER_S *
	               (uint64_t)d->workers / (OVERLOAD * RULE_RATE);
	uint64_t next = d->start_ns + gap * (uint64_t)k / (uint64_t)d->workers;
	uint64_t admitted = 0, denied = 0;
	int r = 0, e = 0;

	while (next < d->deadline_ns && !interrupted) {
		while ((e = sleep_until(next)) == EINTR && !interrupted)
			;
		if (e != 0 && e != EINTR)
			goto out;
		e = 0;
		r = fg_allow(d->fg[node], RULE_NAME, DEMO_KEY, 1, NULL);
		if (r < 0)
			goto out;
		if (r == 1)
			uatomic_set(&row->admitted, ++admitted);
		else
			uatomic_set(&row->denied, ++denied);
		uatomic_set(&row->last_ns, now_ns());
		next += gap;
	}
	uatomic_set(&row->done, 1);
	r = 0;
out:
	if (e != 0)
		fprintf(stderr,
		        "floodgate-cluster-demo: worker on node%d: "
		        "clock_nanosleep: %s\n",
		        node, strerror(e));
	else if (r < 0)
		fprintf(stderr,
		        "floodgate-cluster-demo: worker on node%d: "
		        "fg_allow(%s, %s): %s\n",
		        node, RULE_NAME, DEMO_KEY, fg_strerror(r));
	return e != 0 || r < 0 ? 1 : 0;
}

static int start_workers(struct demo *d)
{
	int node, k;

	d->start_ns = now_ns() + (uint64_t)START_DELAY_MS * NS_PER_MS;
	d->deadline_ns = d->start_ns + (uint64_t)d->seconds * NS_PER_S;
	(void)fflush(stdout); /* or workers would inherit buffered output */
	for (node = 0; node < NODES; node++) {
		for (k = 0; k < d->workers; k++) {
			int w = node * d->workers + k;
			pid_t p = fork();

			if (p < 0) {
				fprintf(stderr,
				        "floodgate-cluster-demo: fork: %s\n",
				        strerror(errno));
				return -1; /* cleanup stops those started */
			}
			if (p == 0) {
				struct sigaction dfl = {.sa_handler = SIG_DFL};

				if (sigaction(SIGINT, &dfl, NULL) != 0 ||
				    sigaction(SIGTERM, &dfl, NULL) != 0)
					_exit(1);
				_exit(worker(d, node, k, &d->rows[w]));
			}
			d->wpid[w] = p;
		}
	}
	return 0;
}

/*
 * Wait for every worker, stopping them first if @stop is set or a signal
 * came.  Returns 0 when every worker ran its schedule and exited 0.
 */
static int reap_workers(struct demo *d, int stop)
{
	int n = NODES * d->workers, i, status, failed = 0, killed = 0;
	pid_t p;

	for (i = 0; i < n; i++) {
		if (d->wpid[i] <= 0)
			continue;
		if ((stop || interrupted) && !killed) {
			int j;

			for (j = i; j < n; j++)
				if (d->wpid[j] > 0)
					(void)kill(d->wpid[j], SIGTERM);
			killed = 1;
		}
		p = waitpid(d->wpid[i], &status, 0);
		if (p < 0 && errno == EINTR) {
			i--; /* retry this one, stopping the rest first */
			continue;
		}
		d->wpid[i] = 0;
		if (p < 0) {
			fprintf(stderr, "floodgate-cluster-demo: waitpid: %s\n",
			        strerror(errno));
			failed = 1;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		failed = 1;
		if (killed)
			continue; /* we stopped it */
		if (WIFSIGNALED(status))
			fprintf(
			    stderr,
			    "floodgate-cluster-demo: worker %d: signal %d\n",
			    (int)p, WTERMSIG(status));
		else
			fprintf(stderr,
			        "floodgate-cluster-demo: worker %d exited %d\n",
			        (int)p, WEXITSTATUS(status));
	}
	return failed ? -1 : 0;
}

/* ---------------------------------------------------------- live view */

/* Whole tokens left in node @fg's bucket of DEMO_KEY, without taking
 * any; negative while in debt. */
static int tokens_left(fg_client *fg, int64_t *out)
{
	return fg__peek(fg, RULE_NAME, DEMO_KEY, strlen(DEMO_KEY), out) == 0
	               ? 0
	               : -1;
}

static uint64_t node_admitted(const struct demo *d, int node)
{
	uint64_t sum = 0;
	int k;

	for (k = 0; k < d->workers; k++)
		sum += uatomic_read(&d->rows[node * d->workers + k].admitted);
	return sum;
}

static double global_rate(void)
{
	return (double)RULE_RATE / RULE_PERIOD_S;
}

/* One line every TICK_MS until the deadline.  0, or -1 when interrupted
 * or a daemon died. */
static int live_view(struct demo *d)
{
	uint64_t prev[NODES] = {0}, t_prev = d->start_ns, tick, t;
	unsigned k;
	int i, e;

	printf("%7s %8s %8s %8s %10s %8s   %s\n", "time", "node0/s", "node1/s",
	       "node2/s", "cluster/s", "of limit", "tokens left n0/n1/n2");
	for (k = 1;; k++) {
		double secs, total = 0;
		char left[NODES][16];

		tick = d->start_ns + (uint64_t)k * TICK_MS * NS_PER_MS;
		if (tick > d->deadline_ns)
			tick = d->deadline_ns;
		while ((e = sleep_until(tick)) == EINTR && !interrupted)
			;
		if (interrupted)
			return -1;
		if (e != 0) {
			fprintf(stderr,
			        "floodgate-cluster-demo: clock_nanosleep: %s\n",
			        strerror(e));
			return -1;
		}
		for (i = 0; i < NODES; i++)
			if (daemon_gone(d, i)) {
				dump_log(d, i);
				return -1;
			}
		t = now_ns();
		secs = (double)(t - t_prev) / NS_PER_S;
		printf("%5.1f s", (double)(t - d->start_ns) / NS_PER_S);
		for (i = 0; i < NODES; i++) {
			uint64_t cur = node_admitted(d, i);
			int64_t l;

			printf(" %8.0f", (double)(cur - prev[i]) / secs);
			total += (double)(cur - prev[i]);
			prev[i] = cur;
			if (tokens_left(d->fg[i], &l) == 0)
				(void)snprintf(left[i], sizeof left[i],
				               "%" PRId64, l);
			else
				(void)snprintf(left[i], sizeof left[i], "?");
		}
		printf(" %10.0f %7.0f%%   %5s %5s %5s\n", total / secs,
		       100.0 * total / secs / global_rate(), left[0], left[1],
		       left[2]);
		(void)fflush(stdout);
		t_prev = t;
		if (tick >= d->deadline_ns)
			return 0;
	}
}

/* ------------------------------------------------------------- report */

/* Parse the last counters line of a daemon's log (floodgated.c:
 * counters_log); 0, or -1 when there is none or it reads otherwise. */
static int parse_counters(const char *log, struct gossip *g)
{
	const char *p = NULL, *q = log;
	char line[1024], *tok, *save = NULL, *drops;
	size_t len;

	while ((q = strstr(q, "floodgated: rx ")) != NULL)
		p = q++;
	if (p == NULL)
		return -1;
	len = strcspn(p, "\n");
	if (len >= sizeof line)
		return -1;
	memcpy(line, p, len);
	line[len] = '\0';
	memset(g, 0, sizeof *g);
	if (sscanf(line,
	           "floodgated: rx %llu datagrams %llu bytes, tx %llu "
	           "datagrams %llu bytes (%llu errors), harvested %llu, "
	           "applied %llu, unknown-rule %llu, no-room %llu",
	           &g->rx, &g->rx_bytes, &g->tx, &g->tx_bytes, &g->tx_errors,
	           &g->harvested, &g->applied, &g->unknown, &g->noroom) != 9)
		return -1;
	drops = strstr(line, "dropped:");
	if (drops == NULL)
		return -1;
	/* "dropped: truncated=0 ... malformed=0 self=0 buffer-full=0": our
	 * own datagrams coming back (self) are not a peer's loss; those the
	 * kernel dropped for a full receive buffer are */
	for (tok = strtok_r(drops + 8, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			return -1;
		if (strncmp(tok, "self=", 5) != 0)
			g->dropped += strtoull(eq + 1, NULL, 10);
	}
	return 0;
}

/* Ask each daemon for its counters (SIGUSR1) and read them from its log.
 * ok[i] says which arrived; a daemon that logs otherwise is no error. */
static void daemon_counters(struct demo *d, struct gossip g[NODES],
                            int ok[NODES])
{
	char path[128], text[16384];
	uint64_t t0;
	int i;

	for (i = 0; i < NODES; i++) {
		ok[i] = 0;
		if (d->daemon[i] > 0 && kill(d->daemon[i], SIGUSR1) != 0)
			fprintf(stderr,
			        "floodgate-cluster-demo: node%d: SIGUSR1: %s\n",
			        i, strerror(errno));
	}
	t0 = now_ns();
	for (;;) {
		int all = 1;

		for (i = 0; i < NODES; i++) {
			if (ok[i])
				continue;
			if (log_path(d, i, path, sizeof path) == 0 &&
			    read_tail(path, text, sizeof text) >= 0 &&
			    parse_counters(text, &g[i]) == 0)
				ok[i] = 1;
			all &= ok[i];
		}
		if (all ||
		    now_ns() - t0 > (uint64_t)COUNTERS_WAIT_MS * NS_PER_MS ||
		    sleep_ms(20) != 0)
			return;
	}
}

static const char *const intro[] = {
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
    "Every " INTERVAL_TEXT ", each daemon harvests what its workers admitted",
    "and sends its cumulative counts to the others in UDP datagrams signed",
    "with its Ed25519 key (one from a key not in the keyring, or with a bad",
    "signature, is dropped), and debits what the others admitted from its",
    "own bucket.  So the hosts spend one budget: together they admit",
    RATE_TEXT ", as the rule says, not " RATE_TEXT " each.",
    "",
    "A line every 500 ms: what each node admitted per second, the cluster's",
    "total against the limit, and the tokens left in each node's bucket",
    "(negative: debt, what the other hosts admitted not yet refilled).  The",
    "first line has the opening burst: every bucket starts full, and all are",
    "spent before the first gossip round; the debt this leaves is paid back",
    "out of the refill that follows.",
    "",
};

/*
 * Print each node's figures, the total against rate * T + capacity and
 * the bounds, and each daemon's counters.  Returns 0 when the total is
 * within the bounds.
 */
static int report(struct demo *d)
{
	uint64_t admitted[NODES] = {0}, denied[NODES] = {0}, last = 0;
	uint64_t total = 0, total_denied = 0;
	double elapsed, budget, bound, floor_;
	struct gossip g[NODES];
	int ok[NODES], i, k, rc;

	for (i = 0; i < NODES; i++) {
		for (k = 0; k < d->workers; k++) {
			const struct row *r = &d->rows[i * d->workers + k];

			admitted[i] += r->admitted;
			denied[i] += r->denied;
			if (r->last_ns > last)
				last = r->last_ns;
		}
		total += admitted[i];
		total_denied += denied[i];
	}
	elapsed =
	    last > d->start_ns ? (double)(last - d->start_ns) / NS_PER_S : 0.0;
	budget = global_rate() * elapsed + RULE_CAPACITY;
	bound = budget + (NODES - 1) * global_rate() *
	                     (PROPAGATION * INTERVAL_MS / 1000.0);
	floor_ = 0.9 * global_rate() * elapsed;

	printf("\n%-8s %9s %7s %9s %9s %9s\n", "", "admitted", "share", "per s",
	       "denied", "offered");
	for (i = 0; i <= NODES; i++) {
		uint64_t a = i < NODES ? admitted[i] : total;
		uint64_t n = i < NODES ? denied[i] : total_denied;
		char name[16];

		(void)snprintf(name, sizeof name,
		               i < NODES ? "node%d" : "cluster", i);
		printf("%-8s %9" PRIu64 " %6.1f%% %9.1f %9" PRIu64 " %9" PRIu64
		       "\n",
		       name, a, total ? 100.0 * (double)a / (double)total : 0.0,
		       elapsed > 0 ? (double)a / elapsed : 0.0, n, a + n);
	}
	printf("\nin %.2f s the cluster admitted %" PRIu64 "; one budget "
	       "allows\n  rate x time + capacity = %.0f/s x %.2f s + %d = "
	       "%.0f\n  ratio %.3f\n",
	       elapsed, total, global_rate(), elapsed, RULE_CAPACITY, budget,
	       budget > 0 ? (double)total / budget : 0.0);
	printf("accepted: from 90%% of rate x time (%.0f) to the budget plus "
	       "what the\n  other hosts admit in %d gossip intervals "
	       "(%d x %.0f/s x %.1f s): %.0f\n",
	       floor_, PROPAGATION, NODES - 1, global_rate(),
	       PROPAGATION * INTERVAL_MS / 1000.0, bound);
	if ((double)total > bound)
		printf("VIOLATION: the cluster admitted more than one budget "
		       "allows\n");
	else if ((double)total < floor_)
		printf("VIOLATION: the cluster admitted less than it may "
		       "(consumption counted twice?)\n");
	else
		printf("OK: three hosts, one budget\n");
	rc = (double)total > bound || (double)total < floor_ ? -1 : 0;

	/* The daemons' side: let the last rounds land, then ask. */
	if (sleep_ms(SETTLE_MS) != 0)
		return -1;
	daemon_counters(d, g, ok);
	printf("\ngossip, from each daemon's counters (SIGUSR1):\n");
	for (i = 0; i < NODES; i++) {
		unsigned long long others = 0;
		int j;

		if (!ok[i]) {
			printf("  node%d: counters not available\n", i);
			continue;
		}
		for (j = 0; j < NODES; j++)
			if (j != i && ok[j])
				others += g[j].harvested;
		printf("  node%d: harvested %llu (its workers admitted %" PRIu64
		       "), sent %llu datagrams;\n"
		       "         received %llu authenticated datagrams, dropped "
		       "%llu; "
		       "debited %llu\n"
		       "         for the other nodes (which harvested %llu)\n",
		       i, g[i].harvested, admitted[i], g[i].tx, g[i].rx,
		       g[i].dropped, g[i].applied, others);
	}
	return rc;
}

/* --------------------------------------------------------------- main */

/* Remove the temporary directory and what the demo put in it. */
static int remove_dir(const char *path)
{
	struct dirent *e;
	DIR *dir;
	int rc = -1;

	dir = opendir(path);
	if (dir == NULL)
		goto out;
	errno = 0;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(dir), e->d_name, 0) != 0)
			goto out;
		errno = 0;
	}
	if (errno != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "floodgate-cluster-demo: removing %s: %s\n",
		        path, strerror(errno));
	if (dir != NULL && closedir(dir) != 0)
		rc = -1;
	if (rc == 0 && rmdir(path) != 0) {
		fprintf(stderr, "floodgate-cluster-demo: rmdir %s: %s\n", path,
		        strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Undo everything main() did, in reverse.  0, or -1 if a step failed. */
static int cleanup(struct demo *d)
{
	int i, rc = 0;

	if (d->wpid != NULL) {
		(void)reap_workers(d, 1); /* their failures are reported */
		free(d->wpid);
		d->wpid = NULL;
	}
	if (d->rows != NULL && munmap(d->rows, d->rows_bytes) != 0)
		rc = -1;
	d->rows = NULL;
	for (i = 0; i < NODES; i++)
		if (stop_daemon(d, i) != 0)
			rc = -1;
	for (i = 0; i < NODES; i++) {
		fg_close(d->fg[i]);
		d->fg[i] = NULL;
		if (d->named && remove_segment(d, i) != 0)
			rc = -1;
	}
	if (d->dir[0] != '\0' && remove_dir(d->dir) != 0)
		rc = -1;
	d->dir[0] = '\0';
	return rc;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct demo d = {.seconds = 10, .workers = 2};
	fg_rule_info info;
	uint64_t t0;
	int opt, i, status = 1;
	void *rows;

	d.floodgated = getenv("FLOODGATED");
	if (d.floodgated == NULL || d.floodgated[0] == '\0')
		d.floodgated = DEFAULT_FLOODGATED;
	while ((opt = getopt(argc, argv, "d:w:D:h")) != -1) {
		switch (opt) {
		case 'd':
			if (parse_uint(optarg, 1, MAX_SECONDS, &d.seconds)) {
				fprintf(stderr,
				        "floodgate-cluster-demo: -d 1..%d\n",
				        MAX_SECONDS);
				return 2;
			}
			break;
		case 'w':
			if (parse_uint(optarg, 1, MAX_WORKERS, &d.workers)) {
				fprintf(stderr,
				        "floodgate-cluster-demo: -w 1..%d\n",
				        MAX_WORKERS);
				return 2;
			}
			break;
		case 'D':
			d.floodgated = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (access(d.floodgated, X_OK) != 0) {
		fprintf(
		    stderr,
		    "floodgate-cluster-demo: %s: %s\n  run it from the build "
		    "directory, or give the daemon with -D or $FLOODGATED\n",
		    d.floodgated, strerror(errno));
		return 2;
	}

	/* Caught, not ignored: the parent cleans up; workers go back to the
	 * default action, and the daemons (an exec) get it anyway. */
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0) {
		fprintf(stderr, "floodgate-cluster-demo: sigaction: %s\n",
		        strerror(errno));
		goto out;
	}

	d.wpid = calloc((size_t)(NODES * d.workers), sizeof *d.wpid);
	if (d.wpid == NULL) {
		fprintf(stderr, "floodgate-cluster-demo: out of memory\n");
		goto out;
	}
	d.rows_bytes = sizeof *d.rows * (size_t)(NODES * d.workers);
	rows = mmap(NULL, d.rows_bytes, PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rows == MAP_FAILED) {
		fprintf(stderr, "floodgate-cluster-demo: mmap: %s\n",
		        strerror(errno));
		goto out;
	}
	d.rows = rows;

	(void)snprintf(d.dir, sizeof d.dir, "/tmp/fgdemo-XXXXXX");
	if (mkdtemp(d.dir) == NULL) {
		fprintf(stderr, "floodgate-cluster-demo: mkdtemp %s: %s\n",
		        d.dir, strerror(errno));
		d.dir[0] = '\0';
		goto out;
	}
	/* A segment left by an earlier run with our pid would be kept, with
	 * its buckets, by the daemon: start from nothing.  From here on,
	 * whatever has these names is ours to remove. */
	d.named = 1;
	for (i = 0; i < NODES; i++)
		if (fmt(d.seg[i], sizeof d.seg[i], "fgdemo-%d-%d", i,
		        (int)getpid()) != 0 ||
		    remove_segment(&d, i) != 0)
			goto out;
	if (pick_ports(d.port) != 0 || make_identities(&d) != 0)
		goto out;
	for (i = 0; i < NODES; i++)
		if (write_config(&d, i) != 0)
			goto out;

	printf("floodgate-cluster-demo: three hosts, one budget.\n\n");
	for (i = 0; i < (int)(sizeof intro / sizeof intro[0]); i++)
		puts(intro[i]);
	(void)fflush(stdout);

	t0 = now_ns();
	for (i = 0; i < NODES; i++)
		if (start_daemon(&d, i) != 0)
			goto out;
	for (i = 0; i < NODES; i++)
		if (await_ready(&d, i) != 0)
			goto out;
	if (find_rule(d.fg[0], &info) != 0)
		goto out;
	printf("%d daemons (%s) up in %.0f ms on UDP ports %d, %d, %d.\n"
	       "node0's segment holds rule %s: capacity %" PRIu32 ", %" PRIu32
	       " per %" PRIu32 " ms, %s.\n"
	       "%d workers per node offer %d checks/s each, for %d s.\n\n",
	       NODES, d.floodgated, (double)(now_ns() - t0) / NS_PER_MS,
	       d.port[0], d.port[1], d.port[2], info.name, info.capacity,
	       info.rate, info.period_ms,
	       (info.flags & FG_RULE_GLOBAL) ? "global" : "host", d.workers,
	       OVERLOAD * RULE_RATE / RULE_PERIOD_S / d.workers, d.seconds);

	if (start_workers(&d) != 0 || live_view(&d) != 0 ||
	    reap_workers(&d, 0) != 0)
		goto out;
	for (i = 0; i < NODES * d.workers; i++) {
		if (!d.rows[i].done) {
			fprintf(
			    stderr,
			    "floodgate-cluster-demo: worker %d: no report\n",
			    i);
			goto out;
		}
	}
	if (report(&d) != 0)
		goto out;
	status = 0;
out:
	if (interrupted)
		fprintf(stderr,
		        "floodgate-cluster-demo: stopped by signal %d\n",
		        (int)interrupted);
	if (cleanup(&d) != 0)
		status = 1;
	return status;
}
