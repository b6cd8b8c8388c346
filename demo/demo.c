/* SPDX-License-Identifier: ISC */
/*
 * demo.c - floodgate-demo: worker processes sharing token buckets.
 *
 * The demo plays every part of a prefork deployment in one program.  As
 * the owner it creates a private segment ("floodgate-demo-<pid>") and
 * publishes two rules; as the master it attaches with fg_open() before
 * fork(), as a prefork server must; then each forked worker calls
 * fg_allow() as fast as it can, round-robin over four (rule, key) pairs,
 * until a common deadline.
 *
 * What it shows.  The buckets live in the segment, not in the workers, so
 * however many workers hammer a key, together they admit no more than one
 * bucket allows.  A key's bucket starts full (capacity C tokens) and
 * refills @rate tokens per @period_ms, so between the first check of the
 * run and the last, elapsed ns apart, a key can be admitted at most
 *
 *     C + floor(rate * elapsed / (period_ms * 10^6))
 *
 * times.  The library refills one token every ceil(period / rate) ns,
 * never faster, so the bound must hold: a key admitted more often is a
 * VIOLATION and the demo exits 1.  It also checks that the segment's
 * own counters (fg_stats) agree with what the workers counted.
 *
 * Counting.  Each worker counts in local variables and writes its totals,
 * and the CLOCK_MONOTONIC times before its first check and after its last,
 * to its own row of an anonymous shared mapping once it is done: no
 * atomics and no false sharing on the hot path.  The parent sums the rows
 * after reaping every worker; elapsed runs from the earliest first check
 * to the latest last one.
 *
 * Cleanup.  The segment is unlinked on every path out of the parent,
 * including SIGINT and SIGTERM (the parent catches them, stops and reaps
 * its workers, then cleans up).  Workers never unlink: they _exit().
 *
 * Only the public API (floodgate.h) is used: this is also an example.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <floodgate.h>

#define DEMO_CAPACITY 1024u /* keys the segment is sized for */
#define MAX_WORKERS   64
#define MAX_SECONDS   3600

static const fg_rule demo_rules[] = {
    /* the seed example: bursts of 10, then 5 requests a second */
    {.name = "api", .capacity = 10, .rate = 5, .period_ms = 1000},
    /* a stricter rule, as for a login form */
    {.name = "login", .capacity = 3, .rate = 1, .period_ms = 1000},
};
#define NRULES (sizeof demo_rules / sizeof demo_rules[0])

struct demo_key {
	unsigned rule; /* index into demo_rules */
	const char *key;
};

static const struct demo_key demo_keys[] = {
    {0, "alice"},
    {0, "bob"},
    {0, "carol"},
    {1, "mallory"},
};
#define NKEYS (sizeof demo_keys / sizeof demo_keys[0])

/* One worker's results, written once by that worker when it is done. */
struct worker_row {
	uint64_t admitted[NKEYS];
	uint64_t denied[NKEYS];
	uint64_t retry_max_ms[NKEYS]; /* longest Retry-After it was told */
	uint64_t first_ns;            /* before its first check */
	uint64_t last_ns;             /* after its last check */
	int done;                     /* 1 once the row is complete */
} __attribute__((aligned(64)));

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: floodgate-demo [-d seconds] [-w workers]\n");
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

/*
 * The body of a worker process: check the keys round-robin until
 * @deadline, then publish the counts in @row.  Returns the exit status.
 */
static int worker(fg_client *fg, uint64_t deadline, struct worker_row *row)
{
	uint64_t admitted[NKEYS] = {0}, denied[NKEYS] = {0};
	uint64_t retry_max[NKEYS] = {0};
	uint64_t first, last;
	fg_decision d;
	unsigned k;
	int r = 0;

	first = now_ns();
	do {
		for (k = 0; k < NKEYS; k++) {
			r = fg_allow(fg, demo_rules[demo_keys[k].rule].name,
			             demo_keys[k].key, 1, &d);
			if (r < 0)
				goto out;
			if (r == 1) {
				admitted[k]++;
				continue;
			}
			/* Denied: a server would answer 429 with
			 * Retry-After: ceil(d.retry_after_ms / 1000). */
			denied[k]++;
			if (d.retry_after_ms > retry_max[k])
				retry_max[k] = d.retry_after_ms;
		}
		last = now_ns();
	} while (last < deadline && !interrupted);

	memcpy(row->admitted, admitted, sizeof admitted);
	memcpy(row->denied, denied, sizeof denied);
	memcpy(row->retry_max_ms, retry_max, sizeof retry_max);
	row->first_ns = first;
	row->last_ns = last;
	row->done = 1;
	r = 0;
out:
	if (r < 0)
		fprintf(stderr,
		        "floodgate-demo: worker: fg_allow(%s, %s): %s\n",
		        demo_rules[demo_keys[k].rule].name, demo_keys[k].key,
		        fg_strerror(r));
	fg_close(fg); /* this process's copy of the handle */
	return r < 0 ? 1 : 0;
}

/*
 * Wait for the @n workers in @pids, stopping them first if @stop is set or
 * a signal comes.  Returns 0 when every worker exited 0.
 */
static int reap_workers(const pid_t *pids, int n, int stop)
{
	int status, i, failed = 0, killed = 0;
	pid_t p;

	for (i = 0; i < n; i++) {
		if ((stop || interrupted) && !killed) {
			int j;

			for (j = i; j < n; j++)
				(void)kill(pids[j], SIGTERM);
			killed = 1;
		}
		p = waitpid(pids[i], &status, 0);
		if (p < 0 && errno == EINTR) {
			i--; /* retry this one, stopping the rest first */
			continue;
		}
		if (p < 0) {
			fprintf(stderr, "floodgate-demo: waitpid: %s\n",
			        strerror(errno));
			failed = 1;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		failed = 1;
		if (WIFSIGNALED(status))
			fprintf(stderr,
			        "floodgate-demo: worker %d: signal %d\n",
			        (int)p, WTERMSIG(status));
		else
			fprintf(stderr, "floodgate-demo: worker %d exited %d\n",
			        (int)p, WEXITSTATUS(status));
	}
	return failed ? -1 : 0;
}

static const char *const intro[] = {
    "Each worker calls fg_allow() in a tight loop, round-robin over the keys",
    "below.  The buckets are in shared memory, so all workers draw from one",
    "bucket per key.  A bucket starts full and refills at its rule's rate:",
    "together the workers may admit at most",
    "",
    "    bound = capacity + floor(rate * elapsed / period)",
    "",
    "requests per key, however many workers there are.  The rest are denied;",
    "a server would answer them 429 with Retry-After: ceil(retry_after_ms /",
    "1000).  \"retry max\" is the longest retry_after_ms a denial was given:",
    "about one refill interval, as the next token is never further away.",
    "",
};

/* Print the explanation and the rules as the segment holds them. */
static int print_header(fg_client *owner, const char *segment, int nworkers,
                        int seconds)
{
	fg_rule_info info;
	unsigned i;
	int r;

	printf("floodgate-demo: %d worker processes share token buckets in "
	       "the segment\n/dev/shm/%s for %d s.\n\n",
	       nworkers, segment, seconds);
	for (i = 0; i < sizeof intro / sizeof intro[0]; i++)
		puts(intro[i]);
	puts("rules");
	for (i = 0; i < FG_RULES_MAX; i++) {
		r = fg_rule_get(owner, i, &info);
		if (r == FG_ENORULE)
			continue;
		if (r != 0)
			goto out;
		printf("  %-6s capacity %" PRIu32 ", %" PRIu32 " per %" PRIu32
		       " ms: one token every %" PRIu64 " ns\n",
		       info.name, info.capacity, info.rate, info.period_ms,
		       info.interval_ns);
	}
	r = 0;
out:
	if (r != 0)
		fprintf(stderr, "floodgate-demo: fg_rule_get: %s\n",
		        fg_strerror(r));
	return r;
}

/* Sum one key's figures over the workers' rows, print its line, and
 * check it against its bound (elapsed ns from the first check to the
 * last).  1 when within the bound. */
static int report_key(unsigned k, const struct worker_row *rows, int n,
                      uint64_t elapsed, uint64_t *admitted_all,
                      uint64_t *denied_all)
{
	const fg_rule *rule = &demo_rules[demo_keys[k].rule];
	uint64_t admitted = 0, denied = 0, retry = 0, bound, period_ns;
	int i, ok;

	for (i = 0; i < n; i++) {
		admitted += rows[i].admitted[k];
		denied += rows[i].denied[k];
		if (rows[i].retry_max_ms[k] > retry)
			retry = rows[i].retry_max_ms[k];
	}
	/* elapsed <= MAX_SECONDS s: the product stays far below 2^64 */
	period_ns = (uint64_t)rule->period_ms * 1000000u;
	bound = rule->capacity + rule->rate * elapsed / period_ns;
	ok = admitted <= bound;
	*admitted_all += admitted;
	*denied_all += denied;
	printf("%-6s %-8s %10" PRIu64 " %12" PRIu64 " %7" PRIu64 " %8" PRIu64
	       " ms  %s\n",
	       rule->name, demo_keys[k].key, admitted, denied, bound, retry,
	       ok ? "OK" : "VIOLATION");
	return ok;
}

/* The segment's own counters must agree with the workers' sums: 0 when
 * they do, 1 when not, -1 when they cannot be read. */
static int check_stats(fg_client *owner, uint64_t admitted, uint64_t denied)
{
	fg_segment_stats st;
	int r = fg_stats(owner, &st);

	if (r != 0) {
		fprintf(stderr, "floodgate-demo: fg_stats: %s\n",
		        fg_strerror(r));
		return -1;
	}
	printf("fg_stats: %" PRIu64 " buckets in %" PRIu64 " slots, %" PRIu64
	       " consumed, %" PRIu64 " denied, %" PRIu64 " table-full\n",
	       st.used, st.nslots, st.consumed, st.denied, st.table_full);
	if (st.used != NKEYS || st.consumed != admitted ||
	    st.denied != denied || st.table_full != 0) {
		printf("segment counters disagree with the workers' counts: "
		       "VIOLATION\n");
		return 1;
	}
	return 0;
}

/*
 * Sum the workers' rows, print a line per key and the totals, and check
 * every key against its bound and the segment's counters against the sums.
 * Returns 0 when everything holds.
 */
static int report(fg_client *owner, const struct worker_row *rows, int n)
{
	uint64_t first = UINT64_MAX, last = 0, elapsed, admitted = 0,
	         denied = 0;
	unsigned k;
	int i, r, violations = 0;

	for (i = 0; i < n; i++) {
		if (rows[i].first_ns < first)
			first = rows[i].first_ns;
		if (rows[i].last_ns > last)
			last = rows[i].last_ns;
	}
	elapsed = last - first;

	printf("\n%-6s %-8s %10s %12s %7s %11s  %s\n", "rule", "key",
	       "admitted", "denied", "bound", "retry max", "result");
	for (k = 0; k < NKEYS; k++)
		violations +=
		    !report_key(k, rows, n, elapsed, &admitted, &denied);
	printf("\n%" PRIu64 " checks in %.6f s (%.1f million/s over %d "
	       "workers)\n",
	       admitted + denied, (double)elapsed / 1e9,
	       elapsed
	           ? (double)(admitted + denied) / ((double)elapsed / 1e9) / 1e6
	           : 0.0,
	       n);
	r = check_stats(owner, admitted, denied);
	if (r < 0)
		return -1;
	violations += r;
	printf("%s\n", violations ? "VIOLATION: see above"
	                          : "OK: every key stayed within its bound, "
	                            "and the segment agrees");
	return violations ? -1 : 0;
}

/* 0 to run, 1 after -h, 2 on a bad command line. */
static int parse_args(int argc, char **argv, int *nworkers, int *seconds)
{
	int opt;

	while ((opt = getopt(argc, argv, "d:w:h")) != -1) {
		switch (opt) {
		case 'd':
			if (parse_uint(optarg, 1, MAX_SECONDS, seconds)) {
				fprintf(stderr, "floodgate-demo: -d 1..%d\n",
				        MAX_SECONDS);
				return 2;
			}
			break;
		case 'w':
			if (parse_uint(optarg, 1, MAX_WORKERS, nworkers)) {
				fprintf(stderr, "floodgate-demo: -w 1..%d\n",
				        MAX_WORKERS);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

/* The owner's part: a fresh segment @segment holding the demo's rules.
 * A segment left by an earlier run with our pid would be kept, with its
 * buckets, by fg_create (same capacity): start from nothing. */
static int make_segment(const char *segment, fg_client **owner)
{
	fg_segment_opts opts = {.capacity = DEMO_CAPACITY};
	unsigned k;
	int r;

	r = fg_unlink(segment);
	if (r != 0 && r != FG_ENOSEG) {
		fprintf(stderr, "floodgate-demo: fg_unlink(%s): %s\n", segment,
		        fg_strerror(r));
		return -1;
	}
	r = fg_create(segment, &opts, FG_CREATE_REPLACE, owner);
	if (r != 0) {
		fprintf(stderr, "floodgate-demo: fg_create(%s): %s\n", segment,
		        fg_strerror(r));
		return -1;
	}
	for (k = 0; k < NRULES; k++) {
		r = fg_rule_set(*owner, &demo_rules[k]);
		if (r != 0) {
			fprintf(stderr, "floodgate-demo: fg_rule_set(%s): %s\n",
			        demo_rules[k].name, fg_strerror(r));
			return -1;
		}
	}
	return 0;
}

/* What a prefork master does: attach once, before fork(). */
static int attach(const char *segment, fg_client **fg)
{
	char why[256];
	int r = fg_open(segment, 0, fg);

	if (r == 0)
		return 0;
	(void)fg_diagnose(segment, why, sizeof why);
	fprintf(stderr, "floodgate-demo: fg_open(%s): %s\n  %s\n", segment,
	        fg_strerror(r), why);
	return -1;
}

/* Fork @nworkers workers on @fg until a common deadline @seconds away,
 * reap them and check that each wrote its row.  0 when all did. */
static int run_workers(fg_client *fg, struct worker_row *rows, int nworkers,
                       int seconds)
{
	pid_t pids[MAX_WORKERS];
	int i, started = 0, forkfail = 0;
	uint64_t deadline;

	(void)fflush(stdout); /* or workers would inherit buffered output */
	deadline = now_ns() + (uint64_t)seconds * 1000000000u;
	for (i = 0; i < nworkers && !interrupted; i++) {
		pid_t p = fork();

		if (p < 0) {
			fprintf(stderr, "floodgate-demo: fork: %s\n",
			        strerror(errno));
			forkfail = 1; /* stop those already started */
			break;
		}
		if (p == 0) {
			struct sigaction dfl = {.sa_handler = SIG_DFL};

			if (sigaction(SIGINT, &dfl, NULL) != 0 ||
			    sigaction(SIGTERM, &dfl, NULL) != 0)
				_exit(1);
			_exit(worker(fg, deadline, &rows[i]));
		}
		pids[started++] = p;
	}
	if (reap_workers(pids, started, forkfail) != 0 || interrupted ||
	    forkfail)
		return -1;
	for (i = 0; i < nworkers; i++)
		if (!rows[i].done) {
			fprintf(stderr,
			        "floodgate-demo: worker %d: no report\n", i);
			return -1;
		}
	return 0;
}

static int run(const char *segment, int nworkers, int seconds,
               fg_client **owner, fg_client **fg, struct worker_row **rows)
{
	void *m;

	if (make_segment(segment, owner) != 0 ||
	    print_header(*owner, segment, nworkers, seconds) != 0 ||
	    attach(segment, fg) != 0)
		return -1;
	m = mmap(NULL, sizeof **rows * (size_t)nworkers, PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		fprintf(stderr, "floodgate-demo: mmap: %s\n", strerror(errno));
		return -1;
	}
	*rows = m;
	if (run_workers(*fg, *rows, nworkers, seconds) != 0)
		return -1;
	return report(*owner, *rows, nworkers);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	fg_client *owner = NULL, *fg = NULL;
	struct worker_row *rows = NULL;
	char segment[64];
	int nworkers = 4, seconds = 3, r, status;

	status = parse_args(argc, argv, &nworkers, &seconds);
	if (status != 0)
		return status == 1 ? 0 : 2;
	/* Caught, not ignored: the parent cleans up; workers go back to
	 * the default action. */
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0) {
		fprintf(stderr, "floodgate-demo: sigaction: %s\n",
		        strerror(errno));
		return 1;
	}
	/* From here on, whatever has this name is ours to remove. */
	snprintf(segment, sizeof segment, "floodgate-demo-%d", (int)getpid());
	status =
	    run(segment, nworkers, seconds, &owner, &fg, &rows) == 0 ? 0 : 1;
	if (interrupted)
		fprintf(stderr, "floodgate-demo: stopped by signal %d\n",
		        (int)interrupted);
	if (rows != NULL)
		(void)munmap(rows, sizeof *rows * (size_t)nworkers);
	fg_close(fg);
	fg_close(owner);
	r = fg_unlink(segment);
	if (r != 0 && r != FG_ENOSEG) {
		fprintf(stderr, "floodgate-demo: fg_unlink(%s): %s\n", segment,
		        fg_strerror(r));
		status = 1;
	}
	return status;
}
