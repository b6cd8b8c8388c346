/* SPDX-License-Identifier: ISC */
/*
 * test_strict.c - strict rules (scope strict: lib/strict.c) against two
 * real floodgated sharing one real redis-server, with worker processes
 * calling fg_allow() on each.
 *
 * The claims under test: the fleet never admits more than the rule
 * (exactly, without leases; within the rule plus the leases outstanding,
 * with them); a key the local bucket denies costs no call to Redis
 * (counted by Redis itself: a MONITOR connection sees every command);
 * with Redis gone the rule's on-redis-down policy answers, flagged, and
 * no fg_allow() waits beyond FG_STRICT_WAIT_MS; with Redis back, strict
 * admission resumes.  And the config refuses a strict rule it cannot
 * serve, the daemon drops a malformed request (and counts it), and the
 * script grants what the bucket holds, no more.  Every wait polls with a
 * deadline; no sleep decides anything.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/config.h"
#include "lib/strict.h"
#include "redis/gcra.h"
#include "tests/cluster.h"
#include "tests/ports.h"
#include "tests/prom.h"
#include "tests/redis.h"

#define N       2 /* daemons */
#define WORKERS 4 /* worker processes on each */

static struct redis_fleet K;

static void teardown(void)
{
	redis_fleet_fini(&K);
}

TestSuite(strict, .fini = teardown, .timeout = 180);

/* Redis, then @n daemons with @rules, each ready for @rule. */
/* The config of the @n nodes: @rules, and sync through K.r. */
static void fleet_conf(int n, const char *rules)
{
	char text[2048], sync[256];
	struct fgc_conf conf = {.capacity = 30000, .interval_ms = 100};
	int i;

	cr_assert_eq(fgc_redis_sync_line(&K.r, sync, sizeof sync), 0);
	snprintf(text, sizeof text, "%s%sredis-timeout 200ms\n", rules, sync);
	conf.extra = text;
	for (i = 0; i < n; i++)
		CLUSTER_OK(&K.c, fgc_write_conf(&K.c, i, &conf));
}

static void fleet(int n, const char *rules, const char *rule)
{
	redis_fleet_prepare(&K, "strict", n);
	fleet_conf(n, rules);
	CLUSTER_OK(&K.c, fgc_start_all(&K.c, rule));
}

struct tally {
	uint64_t admitted, fallback, slowest_ns;
};

/* One worker: @tries checks of (@rule, @key) on segment @seg, as fast as
 * they go; what it saw added to *@t (shared memory). */
static void worker(const char *seg, const char *rule, const char *key,
                   int tries, struct tally *t)
{
	fg_client *c = NULL;
	int k;

	if (fg_open(seg, 0, &c) != 0)
		_exit(1);
	for (k = 0; k < tries; k++) {
		fg_decision d;
		uint64_t t0 = fg__now_ns(), dt;
		int r = fg_allow(c, rule, key, 1, &d);

		dt = fg__now_ns() - t0;
		if (r < 0)
			_exit(2);
		__atomic_fetch_add(&t->admitted, (uint64_t)r, __ATOMIC_RELAXED);
		if (d.flags & FG_DECISION_FALLBACK)
			__atomic_fetch_add(&t->fallback, 1, __ATOMIC_RELAXED);
		if (dt > __atomic_load_n(&t->slowest_ns, __ATOMIC_RELAXED))
			__atomic_store_n(&t->slowest_ns, dt, __ATOMIC_RELAXED);
	}
	fg_close(c);
	_exit(0);
}

/* WORKERS processes on each of the @n daemons, @tries checks each;
 * their sum. */
static struct tally run_workers(int n, const char *rule, const char *key,
                                int tries)
{
	struct tally *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0),
	             sum;
	pid_t pid[N * WORKERS];
	int i, st;

	cr_assert_neq(t, MAP_FAILED);
	memset(t, 0, sizeof *t);
	for (i = 0; i < n * WORKERS; i++) {
		pid[i] = fork();
		cr_assert_geq(pid[i], 0);
		if (pid[i] == 0)
			worker(K.c.node[i % n].seg, rule, key, tries, t);
	}
	for (i = 0; i < n * WORKERS; i++) {
		cr_assert_eq(waitpid(pid[i], &st, 0), pid[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		          "worker %d failed", i);
	}
	sum = *t;
	munmap(t, sizeof *t);
	return sum;
}

/* A connection that sees every command Redis runs (MONITOR). */
static redisContext *monitor(void)
{
	redisContext *m = redis_cli(&K.r);

	freeReplyObject(redis_do(m, "MONITOR", redisCommand(m, "MONITOR")));
	return m;
}

/* The strict rules' script calls @m saw until now: the commands naming
 * a key of theirs ("{NS}:s:") before a marker this sends (ECHO) comes. */
static unsigned strict_calls(redisContext *m)
{
	redisContext *o = redis_cli(&K.r);
	unsigned n = 0;

	freeReplyObject(
	    redis_do(o, "ECHO", redisCommand(o, "ECHO fg-strict-mark")));
	redisFree(o);
	for (;;) {
		void *rv = NULL;
		redisReply *r;

		cr_assert_eq(redisGetReply(m, &rv), REDIS_OK, "%s", m->errstr);
		r = rv;
		if (r->type == REDIS_REPLY_STATUS &&
		    strstr(r->str, "fg-strict-mark") != NULL) {
			freeReplyObject(r);
			return n;
		}
		if (r->type == REDIS_REPLY_STATUS &&
		    strstr(r->str, "\"EVALSHA\"") != NULL &&
		    strstr(r->str, "}:s:") != NULL)
			n++;
		freeReplyObject(r);
	}
}

Test(strict, two_daemons_never_admit_more_than_the_rule_fleet_wide)
{
	struct tally t;

	/* 100 tokens and one more a minute: a test admits 100 at most
	 * (deny when Redis is late: the bound holds whatever the load) */
	fleet(N,
	      "rule s capacity 100 rate 1/1m scope strict "
	      "on-redis-down deny\n",
	      "s");
	t = run_workers(N, "s", "k", 100);
	cr_assert_leq(t.admitted, 100, "the fleet admitted %llu of 100",
	              (unsigned long long)t.admitted);
	cr_expect_eq(t.admitted, 100, "tokens lost: %llu of 100 admitted",
	             (unsigned long long)t.admitted);
	cr_expect_eq(t.fallback, 0, "Redis did not answer %llu checks",
	             (unsigned long long)t.fallback);
}

Test(strict, with_leases_the_fleet_stays_within_the_rule_and_the_leases)
{
	const uint64_t cap = 50, rate = 100, lease = 10;
	uint64_t t0, ms, bound;
	redisContext *m;
	struct tally t;
	unsigned calls;

	fleet(N,
	      "rule s capacity 50 rate 100/1s scope strict lease 10 "
	      "on-redis-down deny\n",
	      "s");
	m = monitor();
	t0 = fg__now_ns();
	t = run_workers(N, "s", "k", 400);
	ms = (fg__now_ns() - t0) / 1000000u + 1;
	calls = strict_calls(m);
	redisFree(m);
	/* the rule over the run, plus each host's lease outstanding */
	bound = cap + rate * ms / 1000u + 1 + N * (lease - 1);
	cr_assert_leq(t.admitted, bound, "admitted %llu in %llu ms: above %llu",
	              (unsigned long long)t.admitted, (unsigned long long)ms,
	              (unsigned long long)bound);
	/* and at least the burst, less what the hosts still hold */
	cr_expect_geq(t.admitted, cap - N * (lease - 1), "admitted only %llu",
	              (unsigned long long)t.admitted);
	cr_expect_lt(calls, t.admitted,
	             "%u calls to Redis for %llu admitted: no lease spent",
	             calls, (unsigned long long)t.admitted);
}

/* What floodgate status says of node @i's segment has @text. */
static int cli_says(int i, const char *text)
{
	const char *cli = getenv("FLOODGATE_CLI");
	char cmd[512], out[4096];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof cmd, "%s -s %s status",
	         cli ? cli : "./cli/floodgate", K.c.node[i].seg);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	return strstr(out, text) != NULL;
}

/* The sample @sample of node @i's metrics (control socket), which must
 * be there, as a number; the whole page passes the format's checks. */
static uint64_t metric_u64(int i, const char *sample)
{
	char *m = ctl_ask(K.c.node[i].seg, "metrics"), *text, *at;
	const char *why;
	uint64_t v;

	cr_assert_not_null(m);
	text = strchr(m, '\n'); /* after "ok" */
	cr_assert_not_null(text);
	why = prom_check(text + 1);
	cr_expect_null(why, "%s", why);
	for (at = text; (at = strstr(at + 1, sample)) != NULL;)
		if (at[-1] == '\n' && at[strlen(sample)] == ' ')
			break; /* a sample's line, not its family's */
	cr_assert_not_null(at, "no %s in node %d's metrics", sample, i);
	v = strtoull(at + strlen(sample) + 1, NULL, 10);
	free(m);
	return v;
}

Test(strict, a_key_the_local_bucket_denies_costs_no_redis_call)
{
	redisContext *m;
	struct tally t;
	unsigned calls;

	fleet(N, "rule s capacity 5 rate 1/1m scope strict\n", "s");
	m = monitor();
	/* node 0 takes the fleet's 5 tokens: 5 calls, then its own bucket
	 * (5 tokens taken) denies without asking */
	t = run_workers(1, "s", "k", 10);
	cr_assert_eq(t.admitted, 5);
	cr_expect_eq(strict_calls(m), 5, "node 0's denials called Redis");
	/* node 1's bucket is full: its first check asks, is denied, and
	 * mirrors the fleet's bucket; the rest are denied locally */
	{
		fg_client *c = K.c.node[1].fg;
		int k, admitted = 0;

		for (k = 0; k < 50; k++)
			admitted += fg_allow(c, "s", "k", 1, NULL) == 1;
		cr_assert_eq(admitted, 0);
	}
	calls = strict_calls(m);
	redisFree(m);
	cr_expect_eq(calls, 1, "%u calls for node 1's 50 denials", calls);
	/* what the daemons say they sent, against what Redis saw */
	cr_expect_eq(ctl_u64(K.c.node[0].seg, "status", "strict", "calls"), 5);
	cr_expect_eq(ctl_u64(K.c.node[1].seg, "status", "strict", "calls"), 1);
	cr_expect_eq(ctl_u64(K.c.node[1].seg, "status", "strict", "denied"), 1);
	/* the same in the metrics, against what the workers got */
	cr_expect_eq(metric_u64(0, "floodgate_strict_redis_calls_total"), 5);
	cr_expect_eq(metric_u64(1, "floodgate_strict_redis_calls_total"), 1);
	cr_expect_eq(
	    metric_u64(0,
	               "floodgate_strict_requests_total{verdict=\"granted\"}"),
	    t.admitted);
	cr_expect_eq(
	    metric_u64(1,
	               "floodgate_strict_requests_total{verdict=\"denied\"}"),
	    1);
	cr_expect_eq(
	    metric_u64(1,
	               "floodgate_strict_requests_total{verdict=\"granted\"}"),
	    0);
	cr_expect_eq(metric_u64(0, "floodgate_strict_granted_from_lease_total"),
	             0);
	cr_expect_eq(metric_u64(0, "floodgate_strict_redis_up"), 1);
	cr_expect(cli_says(0, "strict:    breaker closed, 5 granted, 0 denied, "
	                      "0 down (the rules' on-redis-down decided), 5 "
	                      "Redis calls, 0 from leases"),
	          "floodgate status");
}

/* One check: its answer, flags and how long it took. */
static int check_timed(fg_client *c, const char *rule, fg_decision *d,
                       uint64_t *ns)
{
	uint64_t t0 = fg__now_ns();
	int r = fg_allow(c, rule, "k", 1, d);

	*ns = fg__now_ns() - t0;
	return r;
}

static int admits_strictly(fg_client *c, const char *rule)
{
	fg_decision d;
	uint64_t ns;

	return check_timed(c, rule, &d, &ns) == 1 &&
	       !(d.flags & FG_DECISION_FALLBACK);
}

Test(strict, redis_killed_the_policy_answers_in_bound_and_redis_back_resumes)
{
	fg_client *c;
	fg_decision d;
	uint64_t ns, slowest = 0;
	int k;

	fleet(1,
	      "rule sa capacity 1000 rate 1/1m scope strict "
	      "on-redis-down allow\n"
	      "rule sd capacity 1000 rate 1/1m scope strict "
	      "on-redis-down deny\n",
	      "sd");
	c = K.c.node[0].fg;
	cr_assert(admits_strictly(c, "sa") && admits_strictly(c, "sd"));
	cr_assert_eq(fgc_redis_stop(&K.r, SIGKILL), 0);
	for (k = 0; k < 20; k++) {
		cr_assert_eq(check_timed(c, "sa", &d, &ns), 1);
		cr_expect(d.flags & FG_DECISION_FALLBACK, "check %d", k);
		slowest = ns > slowest ? ns : slowest;
		cr_assert_eq(check_timed(c, "sd", &d, &ns), 0);
		cr_expect(d.flags & FG_DECISION_FALLBACK, "check %d", k);
		slowest = ns > slowest ? ns : slowest;
	}
	cr_assert_leq(slowest, (uint64_t)FG_STRICT_WAIT_MS * 1000000u,
	              "fg_allow waited %llu ns", (unsigned long long)slowest);
	/* the daemon's figures: every one of the 40 answered "down" */
	AWAIT(metric_u64(
	          0, "floodgate_strict_requests_total{verdict=\"down\"}") == 40,
	      "down answers counted: %llu of 40",
	      (unsigned long long)metric_u64(
	          0, "floodgate_strict_requests_total{verdict=\"down\"}"));
	cr_expect_eq(metric_u64(0, "floodgate_strict_redis_up"), 0);
	redis_up(&K.r, K.rdir); /* empty: the fleet's buckets are full */
	AWAIT(admits_strictly(c, "sd"), "strict admission never resumed");
	cr_expect(admits_strictly(c, "sa"));
}

/* The socket of strict rules opens with the reload that brings the first
 * of them, before the rule is published: no check falls back. */
Test(strict, a_reload_that_brings_the_first_strict_rule_serves_it_at_once)
{
	fg_client *c;
	char *reply;

	fleet(1, "rule h capacity 10 rate 1/1m\n", "h");
	c = K.c.node[0].fg;
	fleet_conf(1, "rule h capacity 10 rate 1/1m\n"
	              "rule s capacity 3 rate 1/1m scope strict "
	              "on-redis-down allow\n");
	reply = ctl_ask(K.c.node[0].seg, "reload");
	cr_assert_not_null(reply);
	cr_expect_eq(strncmp(reply, "ok", 2), 0, "%s", reply);
	free(reply);
	cr_expect(admits_strictly(c, "s"), "the first check fell back");
	cr_expect(admits_strictly(c, "s"));
	cr_expect(admits_strictly(c, "s"));
	cr_expect_eq(fg_allow(c, "s", "k", 1, NULL), 0, "3 of 3 taken");
	cr_expect_eq(
	    metric_u64(0,
	               "floodgate_strict_requests_total{verdict=\"granted\"}"),
	    3);
	cr_expect_eq(
	    metric_u64(0, "floodgate_strict_requests_total{verdict=\"down\"}"),
	    0);
}

Test(strict, the_daemon_gone_the_policy_answers_at_once)
{
	fg_client *c;
	fg_decision d;
	uint64_t ns;

	fleet(1,
	      "rule sa capacity 10 rate 1/1m scope strict\n"
	      "rule sd capacity 10 rate 1/1m scope strict "
	      "on-redis-down deny\n",
	      "sd");
	c = K.c.node[0].fg;
	cr_assert_eq(fgc_stop(&K.c, 0), 0);
	cr_assert_eq(check_timed(c, "sa", &d, &ns), 1);
	cr_expect(d.flags & FG_DECISION_FALLBACK);
	cr_assert_eq(check_timed(c, "sd", &d, &ns), 0);
	cr_expect(d.flags & FG_DECISION_FALLBACK);
	cr_expect_lt(ns, (uint64_t)FG_STRICT_WAIT_MS * 1000000u);
}

/* The config's verdict on @text: "" when it parses, else the reason. */
static const char *verdict(const char *text)
{
	static char err[512];
	struct fgd_config cfg;

	if (fgd_config_parse(text, strlen(text), "t.conf", &cfg, err,
	                     sizeof err) == 0) {
		fgd_config_free(&cfg);
		err[0] = '\0';
	}
	return err;
}

Test(strict, the_config_refuses_a_strict_rule_it_cannot_serve)
{
	const char *sync = "node-key /k\nsync redis://127.0.0.1\n";
	char text[512];

	cr_expect(strstr(verdict("rule s capacity 5 rate 1/1s scope strict\n"),
	                 "needs sync") != NULL);
	snprintf(text, sizeof text,
	         "%srule s capacity 5 rate 1/1s scope strict lease 3 "
	         "on-redis-down deny\n",
	         sync);
	cr_expect_str_eq(verdict(text), "");
	snprintf(text, sizeof text,
	         "%sredis-timeout 600ms\nrule s capacity 5 rate 1/1s "
	         "scope strict\n",
	         sync);
	cr_expect(strstr(verdict(text), "redis-timeout below") != NULL);
	snprintf(text, sizeof text,
	         "%srule s capacity 5 rate 1/1s scope strict on-full closed\n",
	         sync);
	cr_expect(strstr(verdict(text), "not on-full") != NULL);
	snprintf(text, sizeof text,
	         "%srule s capacity 5 rate 1/1s scope strict lease 0\n", sync);
	cr_expect(strstr(verdict(text), "lease '0'") != NULL);
	cr_expect(strstr(verdict("rule h capacity 5 rate 1/1s "
	                         "on-redis-down deny\n"),
	                 "for scope strict") != NULL);
	cr_expect(strstr(verdict("rule h capacity 5 rate 1/1s scope world\n"),
	                 "host, global or strict") != NULL);
}

/* Write @len bytes of @q to the strict socket of node 0, and read what
 * comes back until the daemon closes: the bytes read. */
static ssize_t raw_request(const void *q, size_t len, void *rep, size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = 5};

	cr_assert_geq(fd, 0);
	cr_assert_eq(
	    fg__seg_path(K.c.node[0].seg, sa.sun_path, sizeof sa.sun_path - 8),
	    0);
	strcat(sa.sun_path, FG_STRICT_SUFFIX);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv),
	             0);
	cr_assert_eq(write(fd, q, len), (ssize_t)len);
	for (;;) {
		ssize_t n = read(fd, (char *)rep + got, cap - got);

		if (n < 0 && errno == ECONNRESET)
			break; /* closed with our junk unread */
		cr_assert_geq(n, 0, "the daemon neither answered nor closed");
		if (n == 0 || (got += (size_t)n) == cap)
			break;
	}
	close(fd);
	return (ssize_t)got;
}

Test(strict, a_malformed_request_is_dropped_and_counted_and_nothing_taken)
{
	struct fg__strict_req q = {.magic = FG_STRICT_MAGIC,
	                           .cost = 1,
	                           .rule_len = 1,
	                           .key_len = 1,
	                           .rule = "s",
	                           .key = "k"};
	struct fg__strict_req bad;
	struct fg__strict_rep rep;
	char junk[4096];

	fleet(1, "rule s capacity 2 rate 1/1m scope strict\n", "s");
	bad = q;
	bad.magic ^= 1;
	cr_expect_eq(raw_request(&bad, sizeof bad, &rep, sizeof rep), 0);
	bad = q;
	bad.pad[2] = 1;
	cr_expect_eq(raw_request(&bad, sizeof bad, &rep, sizeof rep), 0);
	bad = q;
	bad.cost = 3; /* above the capacity */
	cr_expect_eq(raw_request(&bad, sizeof bad, &rep, sizeof rep), 0);
	bad = q;
	memcpy(bad.rule, "t", 1); /* no such rule */
	cr_expect_eq(raw_request(&bad, sizeof bad, &rep, sizeof rep), 0);
	memset(junk, 0xff, sizeof junk);
	cr_expect_eq(raw_request(junk, sizeof junk, &rep, sizeof rep), 0);
	AWAIT(ctl_u64(K.c.node[0].seg, "status", "strict", "dropped") == 5,
	      "5 malformed requests, not counted");
	cr_expect_eq(ctl_u64(K.c.node[0].seg, "status", "strict", "calls"), 0);
	/* and the daemon still answers, from the whole budget */
	cr_assert_eq(raw_request(&q, sizeof q, &rep, sizeof rep), sizeof rep);
	cr_expect_eq(rep.magic, FG_STRICT_MAGIC);
	cr_expect_eq(rep.verdict, FG_STRICT_GRANT);
	cr_expect_eq(fg_allow(K.c.node[0].fg, "s", "k", 1, NULL), 1);
	cr_expect_eq(fg_allow(K.c.node[0].fg, "s", "k", 1, NULL), 0);
}

/* The GCRA script on (@key) with interval @t and tau @tau us, @cost and
 * @want: granted tokens, and the debt into *@debt. */
static long long gcra(redisContext *r, const char *sha, const char *key,
                      long long t, long long tau, int cost, int want,
                      long long *debt)
{
	redisReply *x =
	    redis_do(r, "EVALSHA",
	             redisCommand(r, "EVALSHA %s 1 %s %lld %lld %d %d", sha,
	                          key, t, tau, cost, want));
	long long n;

	cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(x->elements, 2);
	n = x->element[0]->integer;
	*debt = x->element[1]->integer;
	freeReplyObject(x);
	return n;
}

Test(strict, the_gcra_script_grants_what_the_bucket_holds_and_no_more)
{
	redisContext *r;
	redisReply *x;
	char sha[41];
	long long debt, ttl;

	redis_fleet_redis(&K, "strict");
	r = redis_cli(&K.r);
	x = redis_do(r, "SCRIPT LOAD",
	             redisCommand(r, "SCRIPT LOAD %s", fgr_gcra_script));
	memcpy(sha, x->str, 41);
	freeReplyObject(x);
	/* an hour a token, 10 of them: a test sees no refill */
	cr_expect_eq(
	    gcra(r, sha, "b", 3600000000LL, 36000000000LL, 1, 4, &debt),
	    4); /* want 4: granted 4 */
	cr_expect_geq(debt, 4 * 3600000000LL - 1000000);
	cr_expect_eq(
	    gcra(r, sha, "b", 3600000000LL, 36000000000LL, 3, 8, &debt),
	    6); /* 6 left: fewer than wanted, at least the cost */
	cr_expect_eq(
	    gcra(r, sha, "b", 3600000000LL, 36000000000LL, 1, 1, &debt),
	    0); /* empty: denied, nothing taken */
	cr_expect_leq(debt, 36000000000LL);
	x = redis_do(r, "PTTL", redisCommand(r, "PTTL b"));
	ttl = x->integer;
	freeReplyObject(x);
	/* the key lives until its bucket is full again: 10 hours */
	cr_expect(ttl > 35990000LL && ttl <= 36000001LL, "PTTL %lld", ttl);
	redisFree(r);
}
