/* SPDX-License-Identifier: ISC */
/*
 * redis_bench.c - what the Redis transport costs, next to its limits
 * measured in the same run (BENCHMARKS.md, "Redis transport").
 *
 * A private redis-server (demo/redisd.h: Debian's, nothing persisted) on
 * a Unix socket, one client (hiredis, blocking), on this machine:
 *
 *   1. a local check, fg_allow() on a key with a bucket, next to a clock
 *      read: what a worker pays whatever the transport;
 *   2. round trips: PING, then a bare Redis+Lua check (a GCRA step in a
 *      ten-line script, EVALSHA): what a check would cost if it went to
 *      Redis, the floor of any exchange;
 *   3. a round of the transport (script.h), as a node sends it with two
 *      other origins in Redis: idle (nothing to push or pull), 100
 *      records pushed and 100 pulled, and the most a round carries (2048
 *      pushed, 4000 pulled), as a ratio of the bare call;
 *   5. a strict check (scope strict: lib/strict.c), fg_allow() on a
 *      floodgated that runs the GCRA script of redis/gcra.h in this
 *      Redis: admitted (a round trip to the daemon and to Redis), from a
 *      lease (to the daemon only), and denied by the host's bucket (no
 *      round trip), next to 1 and 2;
 *   4. Redis memory per (origin, key), filling 100,000 keys from one
 *      origin then from three, next to 100,000 plain SET keys of the same
 *      names; and Redis CPU (INFO cpu) per 100,000 records pushed and
 *      pulled, and per 1000 idle rounds with those keys held, next to
 *      100,000 bare Lua checks.
 *
 * Latencies are the median (p50) and p99 of N calls; run it a few times
 * on a quiet machine.  Usage: bench/redis_bench [-n CALLS]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo/cluster.h"
#include "demo/redisd.h"
#include "lib/client.h"
#include "lib/floodgate.h"
#include "redis/proto.h"
#include "redis/script.h"
#include "shm/clock.h"

#define KEYS 100000u

static const char gcra[] =
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000000 + t[2]\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or now)\n"
    "local interval, tau = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "if tat < now then tat = now end\n"
    "if tat + interval - now > tau then return 0 end\n"
    "redis.call('SET', KEYS[1], tat + interval, 'PX', 60000)\n"
    "return 1\n";

static unsigned ncalls = 20000;
static redisContext *rc;
static char sha_gcra[41], sha_fg[41];

static void die(const char *what)
{
	fprintf(stderr, "redis_bench: %s\n", what);
	exit(1);
}

static redisReply *cmd(redisReply *r)
{
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		die(r ? r->str : rc->errstr);
	return r;
}

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 of @n samples (sorted in place), in µs. */
static void pct(uint64_t *ns, unsigned n, double *p50, double *p99)
{
	qsort(ns, n, sizeof *ns, by_u64);
	*p50 = ns[n / 2] / 1e3;
	*p99 = ns[(size_t)n * 99 / 100] / 1e3;
}

static double redis_cpu(void)
{
	redisReply *r = cmd(redisCommand(rc, "INFO cpu"));
	double u = 0, s = 0;
	const char *p = strstr(r->str, "used_cpu_user:"),
	           *q = strstr(r->str, "used_cpu_sys:");

	if (p)
		u = atof(p + 14);
	if (q)
		s = atof(q + 13);
	freeReplyObject(r);
	return u + s;
}

static long long redis_mem(void)
{
	redisReply *r = cmd(redisCommand(rc, "INFO memory"));
	const char *p = strstr(r->str, "used_memory:");
	long long m = p ? atoll(p + 12) : 0;

	freeReplyObject(r);
	return m;
}

/* ------------------------------------------------------------ 1. local */

static double local_check(void)
{
	fg_rule rule = {.name = "b",
	                .capacity = 1000000000,
	                .rate = 1,
	                .period_ms = 1,
	                .flags = 0};
	fg_segment_opts o = {
	    .capacity = 1024, .mode = 0600, .uid = -1, .gid = -1};
	char seg[64];
	uint64_t *ns = malloc(ncalls * sizeof *ns), t0, sum = 0;
	double p50, p99, clock50, clock99;
	fg_client *fg = NULL;
	unsigned i, k;

	snprintf(seg, sizeof seg, "fg-redis-bench-%d", (int)getpid());
	(void)fg_unlink(seg);
	if (ns == NULL || fg_create(seg, &o, 0, &fg) != 0 ||
	    fg_rule_set(fg, &rule) != 0)
		die("segment");
	for (i = 0; i < ncalls; i++) { /* 64 checks a sample */
		t0 = fg__now_ns();
		for (k = 0; k < 64; k++)
			sum += (uint64_t)fg_allow(fg, "b", "alice", 1, NULL);
		ns[i] = (fg__now_ns() - t0) / 64;
	}
	pct(ns, ncalls, &p50, &p99);
	for (i = 0; i < ncalls; i++) {
		t0 = fg__now_ns();
		for (k = 0; k < 64; k++)
			sum += fg__now_ns() & 1;
		ns[i] = (fg__now_ns() - t0) / 64;
	}
	pct(ns, ncalls, &clock50, &clock99);
	printf("local check (fg_allow)          %8.3f us p50  (clock read "
	       "%.3f us: %.1fx)  [%llu]\n",
	       p50, clock50, p50 / clock50, (unsigned long long)(sum & 1));
	fg_close(fg);
	(void)fg_unlink(seg);
	free(ns);
	return p50;
}

/* ------------------------------------------------------ 2. round trips */

static double round_trips(void)
{
	uint64_t *ns = malloc(ncalls * sizeof *ns), t0;
	double ping50, ping99, lua50, lua99;
	unsigned i;

	for (i = 0; i < ncalls; i++) {
		t0 = fg__now_ns();
		freeReplyObject(cmd(redisCommand(rc, "PING")));
		ns[i] = fg__now_ns() - t0;
	}
	pct(ns, ncalls, &ping50, &ping99);
	for (i = 0; i < ncalls; i++) {
		t0 = fg__now_ns();
		freeReplyObject(cmd(redisCommand(
		    rc, "EVALSHA %s 1 gcra:alice 1000 1000000", sha_gcra)));
		ns[i] = fg__now_ns() - t0;
	}
	pct(ns, ncalls, &lua50, &lua99);
	printf("PING round trip                 %8.1f us p50, %.1f p99\n",
	       ping50, ping99);
	printf("bare Redis+Lua check (GCRA)     %8.1f us p50, %.1f p99 "
	       "(%.1fx PING)\n",
	       lua50, lua99, lua50 / ping50);
	free(ns);
	return lua50;
}

/* ------------------------------------------------------ 5. strict checks */

/* p50 and p99 of @n checks of (@rule, @key) on @fg, in µs; *@admitted
 * the checks admitted. */
static void strict_run(fg_client *fg, const char *rule, unsigned n, double *p50,
                       double *p99, unsigned *admitted)
{
	uint64_t *ns = malloc(n * sizeof *ns), t0;
	unsigned i;

	if (ns == NULL)
		die("out of memory");
	*admitted = 0;
	for (i = 0; i < n; i++) {
		t0 = fg__now_ns();
		*admitted += fg_allow(fg, rule, "alice", 1, NULL) == 1;
		ns[i] = fg__now_ns() - t0;
	}
	pct(ns, n, p50, p99);
	free(ns);
}

static void strict_checks(const struct fgc_redis *r, double local50,
                          double lua50)
{
	static const struct {
		const char *rule, *what;
	} runs[] = {
	    {"s", "strict check, admitted by Redis"},
	    {"l", "strict check, from a lease of 100"},
	    {"d", "strict check, denied by the host"},
	};
	char sync[256], text[1024];
	struct fgc_conf conf = {.capacity = 4096};
	struct fgc_cluster c;
	double p50, p99;
	unsigned i, n = ncalls / 4 ? ncalls / 4 : 1, ok;

	if (fgc_redis_sync_line(r, sync, sizeof sync) != 0 ||
	    fgc_init(&c, 1, "fg-strict-bench-") != 0)
		die("strict: cluster");
	snprintf(text, sizeof text,
	         "%sredis-timeout 250ms\n"
	         "rule s capacity 1000000000 rate 1000000/1s scope strict\n"
	         "rule l capacity 1000000000 rate 1000000/1s scope strict "
	         "lease 100\n"
	         "rule d capacity 1 rate 1/1h scope strict\n",
	         sync);
	conf.extra = text;
	fgc_set_ports(&c, 28990); /* the redis tests' range */
	if (fgc_make_keys(&c) != 0 || fgc_write_conf(&c, 0, &conf) != 0 ||
	    fgc_start_all(&c, "d") != 0)
		die(c.err);
	for (i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		strict_run(c.node[0].fg, runs[i].rule, n, &p50, &p99, &ok);
		printf("%-32s %8.3f us p50, %.1f p99 (%.2fx the bare Lua "
		       "call, %.0fx a local check) [%u of %u admitted]\n",
		       runs[i].what, p50, p99, p50 / lua50, p50 / local50, ok,
		       n);
	}
	(void)fgc_fini(&c, 0);
}

/* --------------------------------------------------- 3. the transport */

static char keyname[KEYS][16];

static struct fgr_out out_of(unsigned k, uint64_t ver)
{
	return (struct fgr_out){.rule = "api",
	                        .rule_len = 3,
	                        .key = (const uint8_t *)keyname[k],
	                        .key_len = strlen(keyname[k]),
	                        .ver = ver,
	                        .count = ver,
	                        .floor = 0};
}

/* One call of the transport's script; 0, or -1 if it was not "ok". */
static int exchange(const struct fgr_call *c)
{
	struct fgr_argv a;
	struct fgr_reply p;
	redisReply *r;
	char why[256];
	int ok;

	if (fgr_argv_build(&a, sha_fg, "bench", c) != 0)
		die("argv");
	r = cmd(redisCommandArgv(rc, a.argc, a.argv, a.len));
	fgr_argv_free(&a);
	ok = fgr_reply_open(r, &p, why, sizeof why) == 0 &&
	     p.status == FGR_PUSHED;
	if (!ok)
		fprintf(stderr, "redis_bench: %s\n", why);
	freeReplyObject(r);
	return ok ? 0 : -1;
}

struct node {
	uint64_t oid, ver; /* its origin id, its last version pushed */
	struct fgr_cursor cur[2];
};

/* Node @n pushes @npush records (keys from @first) and pulls at most
 * @budget from the other two; the call's latency in ns. */
static uint64_t node_round(struct node *n, struct fgr_out *out, unsigned first,
                           unsigned npush, unsigned budget)
{
	struct fgr_call c = {.self = n->oid,
	                     .inc = 1,
	                     .from = n->ver,
	                     .ttl_ms = 600000,
	                     .budget = budget,
	                     .out = out,
	                     .nout = npush,
	                     .cur = n->cur,
	                     .ncur = 2};
	uint64_t t0;
	unsigned i;

	for (i = 0; i < npush; i++)
		out[i] = out_of((first + i) % KEYS, n->ver + 1 + i);
	c.to = n->ver + npush;
	t0 = fg__now_ns();
	if (exchange(&c) != 0)
		die("exchange");
	n->ver = c.to;
	return fg__now_ns() - t0;
}

static void rounds(struct node *nodes, double lua50)
{
	static struct fgr_out out[FGR_PUSH_MAX];
	static const unsigned push[] = {0, 100, FGR_PUSH_MAX};
	uint64_t *ns = malloc(ncalls * sizeof *ns);
	double p50, p99;
	unsigned s, i, reps;

	for (s = 0; s < 3; s++) {
		reps = push[s] > 100 ? ncalls / 100 : ncalls / 4;
		for (i = 0; i < reps; i++) {
			/* the others change as much, so that there is as
			 * much to pull; node 0's call is timed */
			(void)node_round(&nodes[1], out, i * 7, push[s], 0);
			ns[i] = node_round(&nodes[0], out, i * 13, push[s],
			                   push[s] ? push[s] * 2 > FGR_PULL_MAX
			                                 ? FGR_PULL_MAX
			                                 : push[s] * 2
			                           : 1);
			nodes[0].cur[0].have = nodes[1].ver; /* pulled */
		}
		pct(ns, reps, &p50, &p99);
		printf("transport round, %4u pushed/pulled %8.1f us p50, %.1f "
		       "p99 (%.1fx the bare check)\n",
		       push[s], p50, p99, p50 / lua50);
	}
	free(ns);
}

/* ----------------------------------------------- 4. memory and CPU */

static void fill(struct node *n, unsigned budget)
{
	static struct fgr_out out[FGR_PUSH_MAX];
	unsigned k;

	for (k = 0; k < KEYS; k += FGR_PUSH_MAX) {
		unsigned m = KEYS - k < FGR_PUSH_MAX ? KEYS - k : FGR_PUSH_MAX;

		(void)node_round(n, out, k, m, budget);
	}
}

static void memory_and_cpu(struct node *nodes)
{
	long long m0, m1, m3, s0, s1;
	double c0, c1, cl0, cl1, ci0, ci1;
	unsigned k, i;

	freeReplyObject(cmd(redisCommand(rc, "FLUSHALL")));
	m0 = redis_mem();
	for (k = 0; k < KEYS; k++)
		freeReplyObject(cmd(redisCommand(rc, "SET %s 1", keyname[k])));
	s1 = redis_mem();
	freeReplyObject(cmd(redisCommand(rc, "FLUSHALL")));
	s0 = redis_mem();
	for (i = 0; i < 3; i++) {
		nodes[i].ver = 0;
		nodes[i].cur[0].have = nodes[i].cur[1].have = 0;
		nodes[i].cur[0].inc = nodes[i].cur[1].inc = 1;
	}
	c0 = redis_cpu();
	fill(&nodes[0], 0);
	c1 = redis_cpu();
	m1 = redis_mem();
	fill(&nodes[1], 0);
	fill(&nodes[2], 0);
	m3 = redis_mem();
	/* node 0 pulls what 1 and 2 pushed: 200,000 records */
	cl0 = redis_cpu();
	for (k = 0; k < 2 * KEYS; k += FGR_PULL_MAX) {
		static struct fgr_out none[1];

		(void)node_round(&nodes[0], none, 0, 0, FGR_PULL_MAX);
	}
	cl1 = redis_cpu();
	ci0 = redis_cpu();
	for (k = 0; k < 1000; k++) {
		static struct fgr_out none[1];

		nodes[0].cur[0].have = nodes[1].ver;
		nodes[0].cur[1].have = nodes[2].ver;
		(void)node_round(&nodes[0], none, 0, 0, FGR_PULL_MAX);
	}
	ci1 = redis_cpu();
	printf("Redis memory, 100k keys of one origin  %6.0f bytes a key "
	       "(plain SET of the same names: %.0f, %.1fx)\n",
	       (double)(m1 - s0) / KEYS, (double)(s1 - m0) / KEYS,
	       (double)(m1 - s0) / (double)(s1 - m0));
	printf("Redis memory, the same from 3 origins  %6.0f bytes an "
	       "(origin, key)\n",
	       (double)(m3 - s0) / (3.0 * KEYS));
	printf("Redis CPU, 100k records pushed         %6.3f s\n", c1 - c0);
	printf("Redis CPU, 100k records pulled         %6.3f s\n",
	       (cl1 - cl0) / 2);
	printf("Redis CPU, 1000 idle rounds, 300k held %6.3f s (%.1f us a "
	       "round)\n",
	       ci1 - ci0, (ci1 - ci0) * 1e3);
}

/* The CPU Redis spends on 100,000 bare Lua checks. */
static double bare_cpu(void)
{
	double c0 = redis_cpu(), c1;
	unsigned i;

	for (i = 0; i < 100000; i++)
		freeReplyObject(
		    cmd(redisCommand(rc, "EVALSHA %s 1 gcra:k%u 1000 1000000",
		                     sha_gcra, i % 64)));
	c1 = redis_cpu();
	return c1 - c0;
}

int main(int argc, char **argv)
{
	struct fgc_redis r = {0};
	struct node nodes[3] = {
	    {.oid = 0xa1,
	     .cur = {{.oid = 0xa2, .inc = 1}, {.oid = 0xa3, .inc = 1}}},
	    {.oid = 0xa2,
	     .cur = {{.oid = 0xa1, .inc = 1}, {.oid = 0xa3, .inc = 1}}},
	    {.oid = 0xa3,
	     .cur = {{.oid = 0xa1, .inc = 1}, {.oid = 0xa2, .inc = 1}}}};
	char dir[64], rm[128];
	redisReply *x;
	double lua50, local50;
	unsigned k;
	int opt;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			ncalls = (unsigned)atoi(optarg);
	if (ncalls < 1000)
		ncalls = 1000;
	for (k = 0; k < KEYS; k++)
		snprintf(keyname[k], sizeof keyname[k], "user:%06u", k);
	snprintf(dir, sizeof dir, "/tmp/fg-redis-bench-XXXXXX");
	if (mkdtemp(dir) == NULL || fgc_redis_start(&r, dir) != 0)
		die(r.err[0] ? r.err : "mkdtemp");
	rc = fgc_redis_connect(&r, 60000);
	if (rc == NULL)
		die(r.err);
	x = cmd(redisCommand(rc, "SCRIPT LOAD %s", gcra));
	memcpy(sha_gcra, x->str, 41);
	freeReplyObject(x);
	x = cmd(redisCommand(rc, "SCRIPT LOAD %s", fgr_script));
	memcpy(sha_fg, x->str, 41);
	freeReplyObject(x);
	printf("redis_bench: %u calls a figure, one client on a Unix socket\n",
	       ncalls);
	local50 = local_check();
	lua50 = round_trips();
	strict_checks(&r, local50, lua50);
	rounds(nodes, lua50);
	printf("Redis CPU, 100k bare Lua checks        %6.3f s\n", bare_cpu());
	memory_and_cpu(nodes);
	redisFree(rc);
	(void)fgc_redis_stop(&r, SIGKILL);
	snprintf(rm, sizeof rm, "rm -rf %s", dir);
	return system(rm) == 0 ? 0 : 1;
}
