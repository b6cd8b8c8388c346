/* SPDX-License-Identifier: ISC */
/*
 * test_churn.c - a global limit holds while new keys pour in (issue 20).
 *
 * Three real floodgated on loopback with a small table (capacity 2000),
 * and on every node a churn process that checks brand-new random keys of
 * the same global rule all along: 30 % of about 5,500 checks a second are
 * keys never seen before, the rest keys it checked recently.  After the
 * churn has run long enough to fill a ledger that keeps idle marks (the
 * remote ledger of the old design held 4 x capacity marks for 120 s and
 * was full within 3 s here), each node offers key "alice" 1000 checks a
 * second for 10 s against a rule of 200 a second: the cluster must admit
 * one budget, rate x time + capacity, not one per node (3.0x before).
 *
 * What each node harvested is then held against what its workers
 * admitted into buckets (their own counts, less the checks the full
 * table had no room for), and what each node applied for its peers
 * against what the peers harvested (daemon stats over the control
 * socket): every admission taken once however keys move, no honest
 * round clamped, nothing lost for want of room, nothing dropped
 * silently.
 *
 * Ports: tests/ports.h's, taken for the test's process.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <urcu/uatomic.h>

#include "daemon/control.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/scan.h"
#include "shm/segment.h"
#include "tests/cluster.h"
#include "tests/helpers.h"
#include "tests/ports.h"

#define N           3
#define CAPACITY    2000
#define RATE        200
#define BURST       50
#define CHURN_PER_S 5500
#define CHURN_MS    17000
#define WARMUP_MS   6000
#define ALICE_MS    10000
#define SEC         1000000000ull

static void teardown(void);

TestSuite(churn, .timeout = 120, .fini = teardown);

static struct cluster {
	char dir[64];
	int port0;
	pid_t pid[N];
	char seg[N][64];
} K;

static void write_config(int i)
{
	char path[128], text[2048];
	int off, j;

	off = snprintf(text, sizeof text,
	               "segment %s\ncapacity %d\nnode-key %s/n%d.key\n"
	               "keyring %s/keyring\nlisten 127.0.0.1:%d\n"
	               "interval 100ms\n"
	               "rule api capacity %d rate %d/1s scope global "
	               "share 100%%\n", /* the only rule: the whole table */
	               K.seg[i], CAPACITY, K.dir, i, K.dir, K.port0 + i, BURST,
	               RATE);
	for (j = 0; j < N; j++)
		if (j != i)
			off += snprintf(text + off, sizeof text - (size_t)off,
			                "peer 127.0.0.1:%d\n", K.port0 + j);
	snprintf(path, sizeof path, "%s/n%d.conf", K.dir, i);
	write_file(path, text);
}

/* The value of @field in the line of type @type of node @i's stats. */
static uint64_t stat_of(int i, const char *type, const char *field)
{
	char sock[128], pat[64], *reply = NULL, *line, *v;
	uint64_t x;

	cr_assert_eq(fg__seg_path(K.seg[i], sock, sizeof sock - 8), 0);
	strcat(sock, ".sock");
	cr_assert_eq(fgd_ctl_request(sock, "stats", &reply), 0,
	             "node %d's control socket", i);
	snprintf(pat, sizeof pat, "\n%s ", type);
	line = strstr(reply, pat);
	cr_assert_not_null(line, "no %s line in: %s", type, reply);
	snprintf(pat, sizeof pat, " %s=", field);
	v = strstr(line + 1, pat);
	cr_assert_not_null(v, "no %s in the %s line", field, type);
	x = strtoull(v + strlen(pat), NULL, 10);
	free(reply);
	return x;
}

/* Every node's harvested count into @harvested once each node took what
 * its workers admitted into buckets (@tracked) and applied what its peers
 * harvested, or after 15 s (the last rounds, consumption left in the
 * segment for want of room in a ledger, and the repairs of debits that
 * found no room take a few rounds; under ASan on a loaded machine, more). */
static void settled(const uint64_t tracked[N], uint64_t harvested[N])
{
	uint64_t end = fg__now_ns() + 15 * 1000000000ull;
	int i, j, done;

	do {
		usleep(200000);
		for (done = 1, i = 0; i < N; i++) {
			harvested[i] = stat_of(i, "gossip", "harvested");
			done &= harvested[i] == tracked[i];
		}
		for (i = 0; i < N && done; i++) {
			uint64_t peers = 0;

			for (j = 0; j < N; j++)
				peers += j == i ? 0 : harvested[j];
			done = stat_of(i, "gossip", "applied") == peers;
		}
	} while (!done && fg__now_ns() < end);
}

static void await_up(int i)
{
	uint64_t t0 = fg__now_ns();
	char sock[128], *reply = NULL;
	fg_client *c = NULL;

	cr_assert_eq(fg__seg_path(K.seg[i], sock, sizeof sock - 8), 0);
	strcat(sock, ".sock");
	for (;;) {
		if (c == NULL && fg_open(K.seg[i], 0, &c) != 0)
			c = NULL;
		if (c != NULL && fg__rule_index(c, "api") >= 0 &&
		    fgd_ctl_request(sock, "stats", &reply) == 0)
			break;
		cr_assert_lt(fg__now_ns() - t0, 10 * SEC,
		             "node %d did not come up (see %s/n%d.log)", i,
		             K.dir, i);
		usleep(10000);
	}
	free(reply);
	fg_close(c);
}

static void cluster_up(void)
{
	int i;

	K.port0 = fgt_ports(N);
	snprintf(K.dir, sizeof K.dir, "/tmp/fgtest-churn-XXXXXX");
	cr_assert_not_null(mkdtemp(K.dir));
	make_node_keys(K.dir, N);
	for (i = 0; i < N; i++) {
		snprintf(K.seg[i], sizeof K.seg[i], "fgtest-churn%d-%d", i,
		         (int)getpid());
		fg_unlink(K.seg[i]);
		write_config(i);
		K.pid[i] = cluster_spawn(K.dir, i);
	}
	for (i = 0; i < N; i++)
		await_up(i);
}

static void teardown(void)
{
	char path[256];
	int i;

	for (i = 0; i < N; i++) {
		if (K.pid[i] > 0) {
			kill(K.pid[i], SIGTERM);
			waitpid(K.pid[i], NULL, 0);
		}
		if (K.seg[i][0] == '\0')
			continue;
		fg_unlink(K.seg[i]);
		test_unlink_state(K.seg[i]);
		snprintf(path, sizeof path, "%s/n%d.conf", K.dir, i);
		unlink(path);
		snprintf(path, sizeof path, "%s/n%d.log", K.dir, i);
		unlink(path);
		snprintf(path, sizeof path, "%s/n%d.key", K.dir, i);
		unlink(path);
		strcat(path, ".pub");
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/keyring", K.dir);
	unlink(path);
	if (K.dir[0])
		rmdir(K.dir);
}

/*
 * A churn process: about @per_s checks a second of rule "api" for @ms on
 * segment @seg, 30 % of them keys never seen before, the others one of
 * the last 1024 it made.
 */
static void churn(const char *seg, unsigned per_s, unsigned ms, unsigned id,
                  uint64_t *admitted)
{
	static char ring[1024][24];
	uint64_t start = fg__now_ns(), next = start, made = 0, x = id + 1;
	uint64_t yes = 0;
	int r;
	unsigned batch = per_s / 100, k;
	fg_client *c = NULL;

	if (fg_open(seg, 0, &c) != 0)
		_exit(1);
	while (fg__now_ns() - start < (uint64_t)ms * 1000000) {
		struct timespec ts;

		for (k = 0; k < batch; k++) {
			const char *key;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (made == 0 || x % 10 < 3) {
				char *slot = ring[made % 1024];

				snprintf(slot, 24, "c%u-%llu", id,
				         (unsigned long long)made);
				made++;
				key = slot;
			} else {
				key = ring[(x >> 8) %
				           (made < 1024 ? made : 1024)];
			}
			r = fg_allow(c, "api", key, 1, NULL);
			if (r < 0)
				_exit(2);
			yes += (uint64_t)r;
		}
		next += 10000000; /* a batch every 10 ms */
		ts.tv_sec = (time_t)(next / SEC);
		ts.tv_nsec = (long)(next % SEC);
		(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                      NULL);
	}
	uatomic_set(admitted, yes);
	fg_close(c);
	_exit(0);
}

static pid_t spawn_churn(int i, uint64_t *admitted)
{
	pid_t p = fork();

	cr_assert_geq(p, 0);
	if (p == 0)
		churn(K.seg[i], CHURN_PER_S, CHURN_MS, (unsigned)i, admitted);
	return p;
}

/* What node @i's table says its buckets of "api" admitted, live and
 * evicted: for the message of a failure. */
static uint64_t table_allowed(int i)
{
	struct fg_table_sums s;
	fg_client *c = NULL;
	int idx;

	cr_assert_eq(fg_open(K.seg[i], 0, &c), 0);
	idx = fg__rule_index(c, "api");
	cr_assert_geq(idx, 0);
	fg__table_sums(&c->seg.tbl, &s);
	fg_close(c);
	return s.r[idx].allowed;
}

/* Checks node @i's workers admitted without a bucket (the table was
 * full: fail-open, so admitted, and in no count the harvest reads). */
static uint64_t untracked(int i)
{
	fg_segment_stats st;
	fg_client *c = NULL;

	cr_assert_eq(fg_open(K.seg[i], 0, &c), 0);
	cr_assert_eq(fg_stats(c, &st), 0);
	fg_close(c);
	return st.table_full;
}

static void reap(pid_t p)
{
	int st;

	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a worker failed");
}

Test(churn, a_global_limit_holds_one_budget_while_new_keys_pour_in)
{
	uint64_t *admitted, *churned, t0, elapsed, total = 0;
	uint64_t harvested[N], tracked[N];
	pid_t ch[N], al[N];
	double budget;
	int i, j;

	admitted = mmap(NULL, 2 * N * sizeof *admitted, PROT_READ | PROT_WRITE,
	                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(admitted, MAP_FAILED);
	churned = admitted + N;
	cluster_up();
	for (i = 0; i < N; i++)
		ch[i] = spawn_churn(i, &churned[i]);
	usleep(WARMUP_MS * 1000);
	t0 = fg__now_ns();
	for (i = 0; i < N; i++) {
		al[i] = fork();
		cr_assert_geq(al[i], 0);
		if (al[i] == 0)
			cluster_worker(K.seg[i], "api", "alice", 1000, ALICE_MS,
			               &admitted[i]);
	}
	for (i = 0; i < N; i++)
		reap(al[i]);
	elapsed = fg__now_ns() - t0;
	for (i = 0; i < N; i++)
		reap(ch[i]);
	for (i = 0; i < N; i++)
		total += admitted[i];
	budget = RATE * (double)elapsed / 1e9 + BURST;
	cr_log_info("alice: %llu + %llu + %llu = %llu admitted over %.2f s "
	            "against rate x time + capacity = %.0f: ratio %.3f",
	            (unsigned long long)admitted[0],
	            (unsigned long long)admitted[1],
	            (unsigned long long)admitted[2], (unsigned long long)total,
	            elapsed / 1e9, budget, total / budget);
	cr_expect_leq(total, 1.05 * budget,
	              "%llu admitted: more than one budget of %.0f",
	              (unsigned long long)total, budget);
	cr_expect_geq(total, 0.9 * budget, "%llu admitted: far below %.0f",
	              (unsigned long long)total, budget);

	/* What each node harvested, against what its workers admitted into
	 * buckets (second source: the workers' own counts), and what each
	 * node applied for its peers, against what they harvested, once
	 * the last rounds and repairs are in. */
	for (i = 0; i < N; i++)
		tracked[i] = admitted[i] + churned[i] - untracked(i);
	settled(tracked, harvested);
	for (i = 0; i < N; i++) {
		uint64_t peers = 0, applied = stat_of(i, "gossip", "applied");
		uint64_t evicted = stat_of(i, "ledger", "evicted");
		uint64_t noroom = stat_of(i, "gossip", "records_noroom");
		uint64_t clamped = stat_of(i, "ledger", "clamped");

		for (j = 0; j < N; j++)
			peers += j == i ? 0 : harvested[j];
		cr_log_info(
		    "node %d: harvested %llu of %llu admitted in buckets; "
		    "applied %llu of the %llu its peers harvested; %llu "
		    "marks (max %llu), %llu forgotten, %llu debits without "
		    "room",
		    i, (unsigned long long)harvested[i],
		    (unsigned long long)tracked[i], (unsigned long long)applied,
		    (unsigned long long)peers,
		    (unsigned long long)stat_of(i, "ledger", "marks"),
		    (unsigned long long)stat_of(i, "ledger", "max"),
		    (unsigned long long)evicted, (unsigned long long)noroom);
		/* each admission once: a key moved by the inserts of new
		 * ones keeps its count (gossip/harvest.c) */
		cr_expect_eq(harvested[i], tracked[i],
		             "node %d harvested %llu of %llu admitted (%llu "
		             "alice, %llu churn, %llu without a bucket; the "
		             "table's buckets say %llu)",
		             i, (unsigned long long)harvested[i],
		             (unsigned long long)tracked[i],
		             (unsigned long long)admitted[i],
		             (unsigned long long)churned[i],
		             (unsigned long long)untracked(i),
		             (unsigned long long)table_allowed(i));
		cr_expect_eq(evicted, 0, "node %d forgot marks still owed", i);
		/* honest origins are never held to be lying */
		cr_expect_eq(clamped, 0, "node %d clamped %llu honest tokens",
		             i, (unsigned long long)clamped);
		/* every token once, unless the kernel dropped a datagram
		 * that a repair brought after the origin's bucket refilled
		 * (then it no longer matters, and is not debited).  A debit
		 * that finds the table full (it holds 2000 keys and takes
		 * ~15,000 new ones a second) waits for a repair: it may
		 * happen on a loaded machine, and must lose nothing. */
		if (stat_of(i, "gossip", "buffer_full") == 0)
			cr_expect_eq(
			    applied, peers,
			    "node %d applied %llu of %llu (harvested %llu "
			    "%llu %llu; capped %llu noroom %llu; caught up "
			    "%llu)",
			    i, (unsigned long long)applied,
			    (unsigned long long)peers,
			    (unsigned long long)harvested[0],
			    (unsigned long long)harvested[1],
			    (unsigned long long)harvested[2],
			    (unsigned long long)stat_of(i, "ledger", "capped"),
			    (unsigned long long)noroom,
			    (unsigned long long)stat_of(i, "sync",
			                                "caught_up"));
		cr_expect_geq(applied, peers - peers / 100,
		              "node %d applied %llu of %llu", i,
		              (unsigned long long)applied,
		              (unsigned long long)peers);
		cr_expect_leq(applied, peers, "node %d applied more", i);
	}
}
