/* SPDX-License-Identifier: ISC */
/*
 * test_redis.c - three real floodgated sharing their counts through one
 * real redis-server (Debian's, started by the test: demo/redisd.h).
 *
 * The claims under test (redis/transport.h): the three hold one budget
 * within the bound gossip holds; a count is debited once however it
 * comes (Redis, gossip, both, again after a restart of the daemon or of
 * Redis); when Redis dies or stalls the breaker opens, global rules
 * decide locally, fg_allow() and the daemon's loop carry on, and the
 * counts catch up exactly when it returns; a wrong password and a reply
 * that is not the script's are refused with a clear error and nothing
 * applied; Redis forgets what cannot matter.
 *
 * "Exactly" is checked to the token with a rule that does not refill
 * within a test (capacity 1000000 at one token a minute): every node's
 * bucket must end at capacity minus what was consumed on all nodes, and
 * stay there while the rounds go on.  Nothing waits a fixed time for
 * something to happen: every wait polls with a deadline (AWAIT); a fixed
 * wait only holds a condition already reached.
 *
 * Redis listens on a Unix socket in a directory of its own (one test
 * also on TCP), the daemons on UDP ports; the ports are tests/ports.h's;
 * segments "fg-redis-I-PID".  The fixture stops the daemons
 * (they push a last time), then Redis, and removes everything.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gossip/keys.h"
#include "tests/cluster.h"
#include "tests/ports.h"
#include "tests/prom.h"
#include "tests/redis.h"

#define N   3
#define CAP 1000000
/* the whole table: 20,000 keys of it in a segment of 30,000 */
#define G_RULE "rule g capacity 1000000 rate 1/1m scope global share 100%\n"

static struct redis_fleet K;

static void teardown(void)
{
	redis_fleet_fini(&K);
}

TestSuite(redis, .fini = teardown, .timeout = 180);

/* Redis (with @args), then the cluster's files; no daemon yet. */
static void prepare(const char *const *args, int tcp)
{
	K.r.args = args;
	K.r.port = tcp ? fgt_ports(1) : 0;
	redis_fleet_prepare(&K, "redis", N);
}

/* Node @i's config: @rules, the sync line (TCP when @tcp), @extra. */
static void configure(int i, const char *rules, enum fgc_peers peers, int tcp,
                      const char *extra)
{
	char text[2048], sync[256];
	struct fgc_conf conf = {
	    .capacity = 30000, .interval_ms = 100, .peers = peers};

	if (tcp)
		snprintf(sync, sizeof sync, "sync redis://127.0.0.1:%d\n",
		         K.r.port);
	else
		cr_assert_eq(fgc_redis_sync_line(&K.r, sync, sizeof sync), 0);
	snprintf(text, sizeof text, "%s%sredis-timeout 200ms\n%s", rules, sync,
	         extra ? extra : "");
	conf.extra = text;
	CLUSTER_OK(&K.c, fgc_write_conf(&K.c, i, &conf));
}

static const char *seg(int i)
{
	return K.c.node[i].seg;
}

static uint64_t status_u64(int i, const char *field)
{
	return ctl_u64(seg(i), "status", "redis", field);
}

static uint64_t stat_u64(int i, const char *type, const char *field)
{
	return ctl_u64(seg(i), "stats", type, field);
}

/* Every node has had an exchange with Redis answered. */
static int all_exchanged(void)
{
	int i;

	for (i = 0; i < N; i++)
		if (status_u64(i, "exchanges") == 0)
			return 0;
	return 1;
}

/* Three nodes up with @rules, each through Redis (and gossip, @peers). */
static void cluster(const char *rules, const char *rule, enum fgc_peers peers,
                    int tcp)
{
	int i;

	prepare(NULL, tcp);
	for (i = 0; i < N; i++)
		configure(i, rules, peers, tcp, NULL);
	CLUSTER_OK(&K.c, fgc_start_all(&K.c, rule));
	AWAIT(all_exchanged(), "a node never exchanged with Redis");
}

/* Node @i consumes @n tokens of (g, @key), one check each. */
static void consume(int i, const char *key, int n)
{
	int k;

	for (k = 0; k < n; k++)
		cr_assert_eq(fg_allow(K.c.node[i].fg, "g", key, 1, NULL), 1,
		             "node %d: check %d of %s", i, k, key);
}

/* Every node's bucket of (g, @key) holds CAP - @used. */
static int all_left(const char *key, int64_t used)
{
	int64_t l;
	int i;

	for (i = 0; i < N; i++)
		if (fgc_left(&K.c, i, "g", key, &l) != 0 || l != CAP - used)
			return 0;
	return 1;
}

static void expect_left(const char *key, int64_t used)
{
	int64_t l;
	int i;

	for (i = 0; i < N; i++) {
		cr_assert_eq(fgc_left(&K.c, i, "g", key, &l), 0);
		cr_expect_eq(l, CAP - used,
		             "node %d: %lld left of (g, %s), not %lld", i,
		             (long long)l, key, (long long)(CAP - used));
	}
}

/* The exact state is reached: it holds while the rounds go on (a count
 * read again must not be debited again). */
static void hold(const char *key, int64_t used)
{
	AWAIT(all_left(key, used), "buckets never at %lld", (long long)used);
	usleep(1000000); /* ten rounds: holds, not waits for */
	expect_left(key, used);
}

/* Each node debited exactly what the others harvested. */
static int applied_all(void)
{
	uint64_t h[N], sum = 0;
	int i;

	for (i = 0; i < N; i++)
		sum += h[i] = stat_u64(i, "gossip", "harvested");
	for (i = 0; i < N; i++)
		if (stat_u64(i, "gossip", "applied") != sum - h[i])
			return 0;
	return 1;
}

static int all_state(const char *state)
{
	int i;

	for (i = 0; i < N; i++)
		if (!redis_is(seg(i), "state", state))
			return 0;
	return 1;
}

static int all_caught_up(void)
{
	int i;

	for (i = 0; i < N; i++)
		if (!redis_is(seg(i), "state", "closed") ||
		    status_u64(i, "unpushed") != 0)
			return 0;
	return 1;
}

/* ------------------------------------------------------------ budget */

Test(redis, three_daemons_sharing_one_redis_hold_one_budget)
{
	struct fgc_load l = {.rule = "api",
	                     .key = "alice",
	                     .per_node = 2,
	                     .offer = 1000,
	                     .ms = 10000,
	                     .start_delay_ms = 200};
	struct fgc_row all;
	double elapsed, budget;
	redisContext *rc;
	redisReply *keys;
	char err[256];
	size_t k;

	cluster("rule api capacity 50 rate 200/1s scope global\n", "api",
	        FGC_PEERS_NONE, 1);
	CLUSTER_OK(&K.c, fgc_load_start(&K.c, &l));
	cr_assert_eq(fgc_load_wait(&l, 0, err, sizeof err), 0, "%s", err);
	fgc_load_sum(&l, -1, &all);
	elapsed = (double)(all.last_ns - l.start_ns) / 1e9;
	budget = 200 * elapsed + 50;
	cr_log_info("alice over Redis: %llu admitted in %.2f s against rate x "
	            "time + capacity = %.0f: ratio %.3f",
	            (unsigned long long)all.admitted, elapsed, budget,
	            all.admitted / budget);
	cr_expect_leq(all.admitted, 1.05 * budget,
	              "%llu admitted: more than one budget of %.0f",
	              (unsigned long long)all.admitted, budget);
	cr_expect_geq(all.admitted, 0.9 * budget,
	              "%llu admitted: far below %.0f",
	              (unsigned long long)all.admitted, budget);
	fgc_load_free(&l);
	/* what each node debited, against what the others harvested:
	 * every increase is in Redis before its floor moves (counts.h) */
	AWAIT(all_caught_up() && applied_all(),
	      "applied never equals the others' harvest");
	/* Redis forgets: every key of ours expires within the TTL, the
	 * refill time of the rule (250 ms) and the debt window (60 s) */
	rc = redis_cli(&K.r);
	keys = redis_do(rc, "KEYS", redisCommand(rc, "KEYS {floodgate}:*"));
	cr_expect_geq(keys->elements, 2 + 2 * N);
	for (k = 0; k < keys->elements; k++) {
		redisReply *t = redis_do(
		    rc, "PTTL",
		    redisCommand(rc, "PTTL %s", keys->element[k]->str));

		cr_expect(t->integer > 0 && t->integer <= 60250,
		          "%s: PTTL %lld", keys->element[k]->str, t->integer);
		freeReplyObject(t);
	}
	freeReplyObject(keys);
	redisFree(rc);
}

/* ----------------------------------------------------------- operators */

/* A fleet that shares through Redis needs no keyring of the others: what
 * an origin the keyring does not name consumed is still shown, under its
 * origin id. */
Test(redis, an_origin_the_keyring_does_not_name_is_shown_by_its_id)
{
	char path[FGC_NAME_MAX + 16], pub[FGC_NAME_MAX + 24], err[256];
	char *reply, *line;
	int64_t left = 0;
	int i;

	prepare(NULL, 0);
	/* node 0 signs with a key of its own, which no keyring lists */
	snprintf(path, sizeof path, "%s/n0.key", K.c.dir);
	snprintf(pub, sizeof pub, "%s.pub", path);
	cr_assert_eq(unlink(path) | unlink(pub), 0);
	cr_assert_eq(fgk_keygen(path, "stranger", err, sizeof err), 0, "%s",
	             err);
	for (i = 0; i < N; i++)
		configure(i, G_RULE, FGC_PEERS_NONE, 0, NULL);
	CLUSTER_OK(&K.c, fgc_start_all(&K.c, "g"));
	AWAIT(all_exchanged(), "a node never exchanged with Redis");
	consume(0, "alice", 7);
	AWAIT(fgc_left(&K.c, 1, "g", "alice", &left) == 0 && left == CAP - 7,
	      "node 1 holds %lld of alice's bucket", (long long)left);
	reply = ctl_ask(seg(1), "remote g 616c696365"); /* "alice" */
	cr_assert_not_null(reply);
	line = strstr(reply, "remote origin=");
	cr_assert_not_null(line, "no origin: %s", reply);
	cr_expect_eq(strspn(line + 14, "0123456789abcdef"), 16,
	             "an origin id: %s", line);
	cr_expect_neq(strstr(line, " count=7 consumed=7 "), NULL, "%s", line);
	cr_expect_null(strstr(line + 1, "remote origin="), "one origin: %s",
	               reply);
	free(reply);
}

/* ------------------------------------------------------------- once */

Test(redis, a_count_that_comes_by_gossip_and_by_redis_is_debited_once)
{
	int i, k;

	cluster(G_RULE, "g", FGC_PEERS_ALL, 0);
	for (k = 0; k < 20; k++)
		for (i = 0; i < N; i++)
			consume(i, "both", i + 1);
	hold("both", 20 * (1 + 2 + 3));
	for (i = 0; i < N; i++) {
		cr_expect_gt(stat_u64(i, "gossip", "rx_datagrams"), 0,
		             "node %d heard no gossip", i);
		cr_expect_gt(status_u64(i, "pulled"), 0,
		             "node %d pulled nothing from Redis", i);
	}
	cr_expect(applied_all());
}

Test(redis, a_daemon_restarted_catches_up_from_redis_and_debits_nothing_twice)
{
	int i;

	cluster(G_RULE, "g", FGC_PEERS_NONE, 0);
	for (i = 0; i < N; i++)
		consume(i, "k", 10);
	hold("k", 30);
	CLUSTER_OK(&K.c, fgc_stop(&K.c, 1));
	consume(0, "k", 15);
	consume(2, "k", 25);
	consume(1, "k", 5); /* while its daemon is down */
	CLUSTER_OK(&K.c, fgc_start(&K.c, 1));
	CLUSTER_OK(&K.c, fgc_await_ready(&K.c, 1, "g"));
	hold("k", 75);
}

/* Every node holds CAP - 1 for each of the @n keys "bK". */
static int batch_keys_left(unsigned n)
{
	char key[16];
	int64_t l;
	unsigned k;
	int i;

	for (k = 0; k < n; k++) {
		snprintf(key, sizeof key, "b%u", k);
		for (i = 0; i < N; i++)
			if (fgc_left(&K.c, i, "g", key, &l) != 0 ||
			    l != CAP - 1)
				return 0;
	}
	return 1;
}

Test(redis, more_counts_than_a_batch_go_pipelined_and_arrive_whole)
{
	const unsigned n = 20000; /* 10 batches: 8 in a round, then 2 */
	char key[16];
	unsigned k;

	cluster(G_RULE, "g", FGC_PEERS_NONE, 0);
	for (k = 0; k < n; k++) {
		snprintf(key, sizeof key, "b%u", k);
		consume(0, key, 1);
	}
	AWAIT(batch_keys_left(n), "a key of the batches never arrived");
	AWAIT(all_caught_up() && applied_all(),
	      "applied never equals the others' harvest");
	cr_expect_geq(status_u64(0, "pushed"), n);
	cr_expect_geq(status_u64(1, "pulled"), n);
}

/* ------------------------------------------------------------ outages */

static int pulled_all(void)
{
	int i;

	for (i = 0; i < N; i++)
		if (status_u64(i, "pulled") == 0)
			return 0;
	return 1;
}

/* The metrics line @sample of node @i's /metrics (control socket). */
static int metric_is(int i, const char *sample)
{
	char *m = ctl_ask(seg(i), "metrics");
	int found = m != NULL && strstr(m, sample) != NULL;

	free(m);
	return found;
}

/* Node @i's /metrics passes the strict checker and promtool. */
static void expect_metrics_valid(int i)
{
	char *m = ctl_ask(seg(i), "metrics"), *text;
	const char *why;

	cr_assert_not_null(m);
	text = strchr(m, '\n'); /* after "ok" */
	cr_assert_not_null(text);
	why = prom_check(text + 1);
	cr_expect_null(why, "%s", why);
	why = prom_promtool(text + 1);
	cr_expect_null(why, "%s", why);
	free(m);
}

/* floodgate(1) status of node @i's segment contains @text. */
static int cli_says(int i, const char *text)
{
	const char *cli = getenv("FLOODGATE_CLI");
	char cmd[512], out[4096];
	size_t n;
	FILE *p;

	if (cli == NULL)
		cli = "./cli/floodgate";
	snprintf(cmd, sizeof cmd, "%s -s %s status", cli, seg(i));
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	return strstr(out, text) != NULL;
}

Test(redis, redis_killed_and_restarted_mid_load_the_counts_catch_up_exactly)
{
	struct fgc_load l = {.rule = "g",
	                     .key = "k",
	                     .per_node = 1,
	                     .offer = 200,
	                     .ms = 6000,
	                     .start_delay_ms = 100};
	struct fgc_row all;
	char err[256];
	int i;

	cluster(G_RULE, "g", FGC_PEERS_NONE, 0);
	CLUSTER_OK(&K.c, fgc_load_start(&K.c, &l));
	AWAIT(pulled_all(), "no node pulled a count from Redis");
	cr_assert_eq(fgc_redis_stop(&K.r, SIGKILL), 0);
	AWAIT(all_state("open"), "the breaker did not open on every node");
	cr_expect(metric_is(0, "floodgate_redis_breaker_state{state=\"open\"} "
	                       "1\n"));
	cr_expect(metric_is(0, "floodgate_redis_up 0\n"));
	expect_metrics_valid(0);
	cr_expect(cli_says(0, "breaker open"), "floodgate status");
	redis_up(&K.r, K.rdir); /* empty: it lost everything */
	AWAIT(all_state("closed"), "the breaker did not close again");
	cr_assert_eq(fgc_load_wait(&l, 0, err, sizeof err), 0, "%s", err);
	fgc_load_sum(&l, -1, &all);
	fgc_load_free(&l);
	AWAIT(all_caught_up(), "a node never pushed everything again");
	hold("k", (int64_t)all.admitted);
	cr_expect(applied_all(), "a count applied twice, or lost");
	for (i = 0; i < N; i++) {
		cr_expect_geq(fgc_log_count(&K.c, i, "breaker open"), 1);
		cr_expect_geq(fgc_log_count(&K.c, i, "lost data"), 1,
		              "node %d did not push again", i);
		cr_expect_geq(fgc_log_count(&K.c, i, "answers again"), 1);
		cr_expect_geq(status_u64(i, "opens"), 1);
	}
	cr_expect(metric_is(0, "floodgate_redis_up 1\n"));
	cr_expect(cli_says(0, "breaker closed"), "floodgate status");
}

/* @fd has something to read now (the DEBUG SLEEP's reply). */
static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

Test(redis, redis_asleep_slows_neither_fg_allow_nor_the_daemons_loop)
{
	redisContext *sleeper;
	redisReply *r = NULL;
	uint64_t rounds;
	int done = 0;

	cluster(G_RULE, "g", FGC_PEERS_NONE, 0);
	sleeper = redis_cli(&K.r);
	cr_assert_eq(redisAppendCommand(sleeper, "DEBUG SLEEP 20"), REDIS_OK);
	while (!done)
		cr_assert_eq(redisBufferWrite(sleeper, &done), REDIS_OK);
	/* Redis asleep: checks still go, the loop still turns, and the
	 * breaker opens on the deadline, all before it wakes */
	consume(0, "k", 1000);
	AWAIT(all_state("open"), "the breaker did not open on every node");
	cr_expect(redis_is(seg(0), "reason", "timeout"));
	rounds = ctl_u64(seg(0), "status", "status", "rounds");
	AWAIT(ctl_u64(seg(0), "status", "status", "rounds") > rounds + 5,
	      "the daemon's rounds stopped");
	cr_assert_not(readable(sleeper->fd),
	              "Redis woke before the checks were done: too slow a "
	              "machine for this test");
	/* awake: everyone catches up with the 1000 node 0 took */
	cr_assert_eq(redisSetTimeout(sleeper, (struct timeval){.tv_sec = 60}),
	             REDIS_OK);
	cr_assert_eq(redisGetReply(sleeper, (void **)&r), REDIS_OK, "%s",
	             sleeper->errstr);
	freeReplyObject(r);
	redisFree(sleeper);
	AWAIT(all_state("closed"), "the breaker did not close");
	hold("k", 1000);
}

/* --------------------------------------------------------- bad input */

static void write_secret(const char *name, const char *text, mode_t mode,
                         char *path, size_t len)
{
	snprintf(path, len, "%s/%s", K.c.dir, name);
	write_file(path, text);
	cr_assert_eq(chmod(path, mode), 0);
}

static int log_has(int i, const char *text)
{
	return fgc_log_count(&K.c, i, text) > 0;
}

Test(redis, a_wrong_or_missing_password_is_refused_with_a_clear_error)
{
	static const char *const args[] = {"--requirepass", "s3cret", NULL};
	char good[256], bad[256], acl[256], extra[300];
	redisContext *rc;
	int64_t l;

	prepare(args, 0);
	write_secret("good.pw", "s3cret\n", 0600, good, sizeof good);
	write_secret("bad.pw", "wrong\n", 0600, bad, sizeof bad);
	write_secret("acl.pw", "p2\n", 0600, acl, sizeof acl);
	rc = redis_cli(&K.r);
	freeReplyObject(redis_do(rc, "AUTH", redisCommand(rc, "AUTH s3cret")));
	freeReplyObject(redis_do(
	    rc, "ACL SETUSER",
	    redisCommand(rc, "ACL SETUSER fg on >p2 ~{floodgate}:* +@all")));
	redisFree(rc);
	snprintf(extra, sizeof extra, "redis-auth %s\n", good);
	configure(0, G_RULE, FGC_PEERS_NONE, 0, extra);
	configure(1, G_RULE, FGC_PEERS_NONE, 0, NULL);
	snprintf(extra, sizeof extra, "redis-auth fg %s\n", acl);
	configure(2, G_RULE, FGC_PEERS_NONE, 0, extra);
	CLUSTER_OK(&K.c, fgc_start_all(&K.c, "g"));
	AWAIT(status_u64(0, "exchanges") > 0 && status_u64(2, "exchanges") > 0,
	      "the right password and the ACL user were not let in");
	AWAIT(log_has(1, "Redis wants a password (redis-auth): NOAUTH"),
	      "no clear error without a password");
	cr_expect(redis_is(seg(1), "reason", "auth"));
	cr_expect(redis_is(seg(1), "state", "open"));
	/* the same node with a wrong one */
	CLUSTER_OK(&K.c, fgc_stop(&K.c, 1));
	snprintf(extra, sizeof extra, "redis-auth %s\n", bad);
	configure(1, G_RULE, FGC_PEERS_NONE, 0, extra);
	CLUSTER_OK(&K.c, fgc_start(&K.c, 1));
	CLUSTER_OK(&K.c, fgc_await_ready(&K.c, 1, "g"));
	AWAIT(log_has(1, "AUTH refused: WRONGPASS"),
	      "no clear error for a wrong password");
	cr_expect(redis_is(seg(1), "reason", "auth"));
	cr_expect_eq(status_u64(1, "exchanges"), 0);
	/* it still limits, on its own: node 2 sees node 0's 7 through
	 * Redis, node 1 sees nothing but its own 5 */
	consume(1, "k", 5);
	consume(0, "k", 7);
	AWAIT(fgc_left(&K.c, 2, "g", "k", &l) == 0 && l == CAP - 7,
	      "node 2 never saw node 0's 7");
	cr_assert_eq(fgc_left(&K.c, 1, "g", "k", &l), 0);
	cr_expect_eq(l, CAP - 5, "node 1 got something from Redis");
}

Test(redis, a_password_file_others_may_read_stops_the_daemon_at_start)
{
	char pw[256], extra[300];

	prepare(NULL, 0);
	write_secret("open.pw", "s3cret\n", 0644, pw, sizeof pw);
	snprintf(extra, sizeof extra, "redis-auth %s\n", pw);
	configure(0, G_RULE, FGC_PEERS_NONE, 0, extra);
	CLUSTER_OK(&K.c, fgc_start(&K.c, 0));
	AWAIT(fgc_exited(&K.c, 0), "the daemon started anyway");
	cr_expect(WIFEXITED(K.c.node[0].status) &&
	          WEXITSTATUS(K.c.node[0].status) == 1);
	cr_expect(log_has(0, "lets group or others read a password; fix "
	                     "with: chmod 600"));
}

static int all_logged(const char *text)
{
	int i;

	for (i = 0; i < N; i++)
		if (!log_has(i, text))
			return 0;
	return 1;
}

Test(redis, a_reply_not_the_scripts_is_refused_and_nothing_applied)
{
	redisContext *rc;
	int64_t l;
	int i;

	cluster(G_RULE, "g", FGC_PEERS_NONE, 0);
	rc = redis_cli(&K.r);
	/* an origin nobody runs, whose record is not "VERSION COUNT FLOOR" */
	freeReplyObject(redis_do(
	    rc, "HSET tops",
	    redisCommand(rc, "HSET {floodgate}:tops 0123456789abcdef %s",
	                 "5 3")));
	freeReplyObject(redis_do(
	    rc, "ZADD",
	    redisCommand(rc, "ZADD {floodgate}:l:0123456789abcdef 1 %b",
	                 "\x01gk", (size_t)3)));
	freeReplyObject(redis_do(
	    rc, "HSET h",
	    redisCommand(rc, "HSET {floodgate}:h:0123456789abcdef %b junk",
	                 "\x01gk", (size_t)3)));
	AWAIT(all_logged("origin 0123456789abcdef: record 0 is not a rule "
	                 "and key"),
	      "a bad record was not told");
	for (i = 0; i < N; i++) {
		cr_expect(redis_is(seg(i), "reason", "reply"));
		cr_expect(redis_is(seg(i), "state", "open") ||
		          redis_is(seg(i), "state", "half-open"));
		cr_expect_eq(stat_u64(i, "gossip", "applied"), 0);
		cr_assert_eq(fgc_left(&K.c, i, "g", "k", &l), 0);
		cr_expect_eq(l, CAP);
	}
	/* the namespace's key of another type: what Redis said */
	freeReplyObject(redis_do(rc, "FLUSHALL", redisCommand(rc, "FLUSHALL")));
	freeReplyObject(redis_do(
	    rc, "SET", redisCommand(rc, "SET {floodgate}:tops not-a-hash")));
	AWAIT(all_logged("Redis said: ") && all_logged("WRONGTYPE"),
	      "a script error was not told");
	cr_expect(redis_is(seg(0), "reason", "redis"));
	/* cleaned up: every node back, and counts flow */
	freeReplyObject(
	    redis_do(rc, "DEL", redisCommand(rc, "DEL {floodgate}:tops")));
	redisFree(rc);
	AWAIT(all_state("closed"), "the breaker did not close");
	consume(2, "k", 9);
	hold("k", 9);
}

/* ---------------------------------------------------------------- demo */

Test(redis, the_cluster_demo_holds_one_budget_over_redis_with_its_flag)
{
	const char *demos = getenv("FLOODGATE_DEMOS");
	char cmd[512], out[16384];
	size_t n;
	FILE *p;
	int st;

	redis_required();
	snprintf(cmd, sizeof cmd,
	         "%s/floodgate-cluster-demo -R -d 2 -m lines -P 28000-28899 "
	         "2>&1",
	         demos ? demos : "./demo");
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	st = pclose(p);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
	cr_expect(strstr(out, "OK: three hosts, one budget") != NULL, "%s",
	          out);
	cr_expect(strstr(out, "through Redis, from each daemon's counters") !=
	              NULL,
	          "%s", out);
}
