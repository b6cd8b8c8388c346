/*
 * test_discovery.c - real floodgated processes on loopback that know one
 * seed each and gossip with fanout 2: they find each other through signed
 * announcements, relay each other's datagrams, and every node's bucket
 * ends at the exact global total.  A daemon started late gets, by a
 * repair it asks for, what the others consumed before it existed.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "tests/cluster.h"
#include "tests/helpers.h"

#define N           5
#define CAP         1000
#define INTERVAL_MS 50

static struct {
	char dir[64];
	int port0;
	pid_t pid[N];
	fg_client *fg[N];
	char seg[N][64];
} K;

static void write_config(int i)
{
	char path[128], text[1024];

	/* node 0's seed is node 1; everybody else knows node 0 only */
	snprintf(text, sizeof text,
	         "segment %s\ncapacity 1024\nnode-key %s/n%d.key\n"
	         "keyring %s/keyring\nlisten 127.0.0.1:%d\n"
	         "interval %dms\nfanout 2\ncontrol off\n"
	         "peer 127.0.0.1:%d\n"
	         "rule g capacity %d rate 1/1h scope global\n",
	         K.seg[i], K.dir, i, K.dir, K.port0 + i, INTERVAL_MS,
	         K.port0 + (i == 0 ? 1 : 0), CAP);
	snprintf(path, sizeof path, "%s/n%d.conf", K.dir, i);
	write_file(path, text);
}

static void await_ready(int i)
{
	uint64_t t0 = fg__now_ns();

	while (K.fg[i] == NULL || fg__rule_index(K.fg[i], "g") < 0) {
		if (K.fg[i] == NULL && fg_open(K.seg[i], 0, &K.fg[i]) != 0)
			K.fg[i] = NULL;
		cr_assert_lt(fg__now_ns() - t0, 10000000000ull,
		             "node %d did not come up (see %s/n%d.log)", i,
		             K.dir, i);
		usleep(10000);
	}
}

static void down(void)
{
	char cmd[256];
	int i, status;

	for (i = 0; i < N; i++) {
		if (K.pid[i] > 0) {
			kill(K.pid[i], SIGTERM);
			waitpid(K.pid[i], &status, 0);
		}
		if (K.fg[i])
			fg_close(K.fg[i]);
		fg_unlink(K.seg[i]);
	}
	snprintf(cmd, sizeof cmd,
	         "rm -rf %s /dev/shm/fgtest-dsc*-%d.state "
	         "/dev/shm/fgtest-dsc*-%d.state-remote",
	         K.dir, (int)getpid(), (int)getpid());
	if (system(cmd) != 0)
		cr_log_warn("cleanup failed: %s", cmd);
}

static int64_t left(int i, const char *key)
{
	int64_t n = 0;

	cr_assert_eq(fg__peek(K.fg[i], "g", key, strlen(key), &n), 0);
	return n;
}

TestSuite(discovery, .fini = down, .timeout = 90);

/* Keys, configs and segment names for N nodes; none started. */
static void prepare(void)
{
	int i;

	memset(&K, 0, sizeof K);
	snprintf(K.dir, sizeof K.dir, "/tmp/fgtest-dsc-XXXXXX");
	cr_assert_not_null(mkdtemp(K.dir));
	/* this helper's range: 24000-24499, ten ports a run */
	K.port0 = 24000 + (int)(getpid() % 50) * 10;
	for (i = 0; i < N; i++)
		snprintf(K.seg[i], sizeof K.seg[i], "fgtest-dsc%d-%d", i,
		         (int)getpid());
	make_node_keys(K.dir, N);
	for (i = 0; i < N; i++)
		write_config(i);
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
		K.pid[i] = cluster_spawn(K.dir, i);
	for (i = 0; i < N; i++)
		await_ready(i);
	/* consumption on every node, several rounds apart */
	for (r = 0; r < 10; r++) {
		for (i = 0; i < N; i++) {
			cr_assert_eq(fg_allow(K.fg[i], "g", "shared",
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
		K.pid[i] = cluster_spawn(K.dir, i);
	for (i = 0; i < N - 1; i++)
		await_ready(i);
	cr_assert_eq(fg_allow(K.fg[1], "g", "old", 7, NULL), 1);
	cr_assert_eq(fg_allow(K.fg[3], "g", "old", 5, NULL), 1);
	await_left(N - 1, "old", CAP - 12);
	/* long enough that no round or heartbeat carries it any more: 40
	 * rounds, four heartbeat periods */
	usleep(40 * INTERVAL_MS * 1000);
	K.pid[N - 1] = cluster_spawn(K.dir, N - 1); /* seed: node 0 only */
	await_ready(N - 1);
	took = await_left(N, "old", CAP - 12);
	cr_log_info("a daemon started late caught up in %.0f ms", took / 1e6);
	/* and nothing twice, however many digests it sends */
	usleep(30 * INTERVAL_MS * 1000);
	for (i = 0; i < N; i++)
		cr_expect_eq(left(i, "old"), CAP - 12, "node %d later", i);
}
