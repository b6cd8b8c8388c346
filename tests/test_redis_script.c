/* SPDX-License-Identifier: ISC */
/*
 * test_redis_script.c - the script every node runs in Redis (script.h),
 * held to what it promises, in a real redis-server: a push taken only
 * when it completes what Redis holds ("gap" otherwise) and only from
 * the latest incarnation ("stale" otherwise); a late push that cannot
 * take a count back; a pull that brings each record changed since a
 * cursor once, in version order, within its budget; and keys that expire.
 *
 * Two origins, A and B, are played by the test: it builds each call with
 * proto.c, as a node does, sends it with hiredis, and reads the reply
 * with proto.c.  One redis-server per test, on a Unix socket in a
 * temporary directory (nothing persisted), stopped after.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis/proto.h"
#include "redis/script.h"
#include "shm/clock.h"
#include "tests/redis.h"

#define A   0x00000000000000aaull
#define B   0x00000000000000bbull
#define TTL 60000u

static struct {
	char dir[64];
	struct fgc_redis r;
	redisContext *c;
	char sha[41];
	redisReply *last;
	struct fgr_reply p;
} K;

static void setup(void)
{
	redisReply *r;

	redis_required();
	snprintf(K.dir, sizeof K.dir, "/tmp/fg-redis-script-XXXXXX");
	cr_assert_not_null(mkdtemp(K.dir));
	redis_up(&K.r, K.dir);
	K.c = redis_cli(&K.r);
	r = redis_do(K.c, "SCRIPT LOAD",
	             redisCommand(K.c, "SCRIPT LOAD %s", fgr_script));
	cr_assert_eq(r->len, 40);
	memcpy(K.sha, r->str, 41);
	freeReplyObject(r);
}

static void teardown(void)
{
	char cmd[128];

	if (K.last != NULL)
		freeReplyObject(K.last);
	if (K.c != NULL)
		redisFree(K.c);
	(void)fgc_redis_stop(&K.r, SIGKILL);
	if (K.dir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf %s", K.dir);
		(void)system(cmd);
	}
}

TestSuite(redis_script, .init = setup, .fini = teardown, .timeout = 60);

/* A record of rule "api", key @key. */
static struct fgr_out rec(const char *key, uint64_t ver, uint64_t count,
                          uint64_t floor)
{
	return (struct fgr_out){.rule = "api",
	                        .rule_len = 3,
	                        .key = (const uint8_t *)key,
	                        .key_len = strlen(key),
	                        .ver = ver,
	                        .count = count,
	                        .floor = floor};
}

/* One call; its reply, checked, in K.p. */
static const struct fgr_reply *call(const struct fgr_call *cl)
{
	struct fgr_argv a;
	char why[256];

	if (K.last != NULL)
		freeReplyObject(K.last);
	cr_assert_eq(fgr_argv_build(&a, K.sha, "t", cl), 0);
	K.last = redisCommandArgv(K.c, a.argc, a.argv, a.len);
	fgr_argv_free(&a);
	cr_assert_not_null(K.last, "%s", K.c->errstr);
	cr_assert_eq(fgr_reply_open(K.last, &K.p, why, sizeof why), 0, "%s",
	             why);
	return &K.p;
}

static const struct fgr_reply *push(uint64_t who, uint64_t inc, uint64_t from,
                                    uint64_t to, const struct fgr_out *out,
                                    size_t n)
{
	struct fgr_call cl = {.self = who,
	                      .inc = inc,
	                      .from = from,
	                      .to = to,
	                      .ttl_ms = TTL,
	                      .out = out,
	                      .nout = n};

	return call(&cl);
}

/* B pulls from A's (@inc, @have) with @budget: A's origin, or fails. */
static void pull(uint64_t inc, uint64_t have, unsigned budget,
                 struct fgr_origin *o)
{
	struct fgr_cursor cur = {.oid = A, .inc = inc, .have = have};
	struct fgr_call cl = {.self = B,
	                      .inc = 1,
	                      .ttl_ms = TTL,
	                      .budget = budget,
	                      .cur = &cur,
	                      .ncur = inc ? 1 : 0};
	const struct fgr_reply *p = call(&cl);

	cr_assert_eq(p->norigins, 1, "B sees %zu origins", p->norigins);
	fgr_reply_origin(p, 0, o);
	cr_assert_eq(o->oid, A);
}

static void expect_rec(const struct fgr_origin *o, size_t j, const char *key,
                       uint64_t ver, uint64_t count, uint64_t floor)
{
	struct fgr_record r;

	fgr_reply_record(o, j, &r);
	cr_expect(r.key_len == strlen(key) &&
	              memcmp(r.key, key, r.key_len) == 0,
	          "record %zu: key %.*s, not %s", j, r.key_len, r.key, key);
	cr_expect(r.ver == ver && r.count == count && r.floor == floor,
	          "record %zu: %llu %llu %llu", j, (unsigned long long)r.ver,
	          (unsigned long long)r.count, (unsigned long long)r.floor);
}

Test(redis_script, a_pull_brings_each_record_changed_since_a_cursor_once)
{
	struct fgr_out out[3] = {rec("a", 1, 10, 0), rec("b", 2, 5, 0),
	                         rec("c", 3, 7, 7)};
	const struct fgr_reply *p = push(A, 100, 0, 3, out, 3);
	struct fgr_origin o;

	cr_expect_eq(p->status, FGR_PUSHED);
	cr_expect(p->inc == 100 && p->top == 3);
	pull(0, 0, 100, &o);
	cr_expect_eq(o.inc, 100);
	cr_expect_eq(o.next, 3);
	cr_assert_eq(o.nrec, 3);
	expect_rec(&o, 0, "a", 1, 10, 0);
	expect_rec(&o, 2, "c", 3, 7, 7);
	pull(100, 3, 100, &o);
	cr_expect_eq(o.nrec, 0, "nothing changed since version 3");
	cr_expect_eq(o.next, 3);
	/* "a" changes again: one entry, with its last value */
	out[0] = rec("a", 4, 12, 0);
	out[1] = rec("a", 5, 15, 0);
	cr_expect_eq(push(A, 100, 3, 4, out, 1)->status, FGR_PUSHED);
	cr_expect_eq(push(A, 100, 4, 5, out + 1, 1)->status, FGR_PUSHED);
	pull(100, 3, 100, &o);
	cr_assert_eq(o.nrec, 1);
	expect_rec(&o, 0, "a", 5, 15, 0);
	cr_expect_eq(o.next, 5);
	pull(0, 0, 100, &o);
	cr_expect_eq(o.nrec, 3, "a stranger gets every record once");
}

Test(redis_script, a_late_push_cannot_take_a_count_back)
{
	struct fgr_out newer = rec("a", 5, 50, 0), older = rec("a", 4, 40, 0);
	struct fgr_origin o;

	cr_expect_eq(push(A, 100, 0, 5, &newer, 1)->status, FGR_PUSHED);
	/* the push of version 4 arrives after (another connection) */
	cr_expect_eq(push(A, 100, 0, 4, &older, 1)->status, FGR_PUSHED);
	cr_expect_eq(K.p.top, 5, "the top does not come down either");
	pull(0, 0, 100, &o);
	cr_assert_eq(o.nrec, 1);
	expect_rec(&o, 0, "a", 5, 50, 0);
}

Test(redis_script, a_push_beyond_what_redis_holds_is_a_gap_and_stores_nothing)
{
	struct fgr_out r1 = rec("a", 1, 1, 0), r9 = rec("b", 9, 9, 0);
	struct fgr_origin o;

	cr_expect_eq(push(A, 100, 0, 3, &r1, 1)->status, FGR_PUSHED);
	/* Redis lost versions 4..8 of ours (say): this push cannot claim
	 * them */
	cr_expect_eq(push(A, 100, 8, 9, &r9, 1)->status, FGR_GAP);
	cr_expect_eq(K.p.top, 3, "it says how far it holds us");
	pull(0, 0, 100, &o);
	cr_expect_eq(o.nrec, 1);
	cr_expect_eq(o.next, 3);
	/* the same after a flush: from version 0 */
	freeReplyObject(
	    redis_do(K.c, "FLUSHALL", redisCommand(K.c, "FLUSHALL")));
	cr_expect_eq(push(A, 100, 3, 9, &r9, 1)->status, FGR_GAP);
	cr_expect_eq(K.p.top, 0);
	cr_expect_eq(push(A, 100, 0, 9, &r9, 1)->status, FGR_PUSHED);
	cr_expect_eq(K.p.top, 9);
}

Test(redis_script, a_later_incarnation_replaces_the_old_and_an_older_is_stale)
{
	struct fgr_out old = rec("a", 1, 10, 0), now = rec("b", 1, 3, 0);
	struct fgr_origin o;

	cr_expect_eq(push(A, 100, 0, 1, &old, 1)->status, FGR_PUSHED);
	cr_expect_eq(push(A, 200, 0, 1, &now, 1)->status, FGR_PUSHED);
	cr_expect_eq(K.p.inc, 200);
	/* B still at incarnation 100, version 1: all of 200 comes, and
	 * nothing of 100 */
	pull(100, 1, 100, &o);
	cr_expect_eq(o.inc, 200);
	cr_assert_eq(o.nrec, 1);
	expect_rec(&o, 0, "b", 1, 3, 0);
	cr_expect_eq(push(A, 150, 0, 1, &old, 1)->status, FGR_STALE);
	cr_expect_eq(K.p.inc, 200, "it names the later one");
	pull(0, 0, 100, &o);
	cr_expect_eq(o.inc, 200);
	cr_expect_eq(o.nrec, 1);
}

Test(redis_script,
     the_budget_ends_a_pull_at_its_last_version_and_the_next_goes_on)
{
	struct fgr_out out[10];
	char keys[10][4];
	uint64_t have = 0;
	size_t got = 0;
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		out[i] = rec(keys[i], (uint64_t)(i + 1) * 2, 1, 0);
	}
	cr_expect_eq(push(A, 100, 0, 25, out, 10)->status, FGR_PUSHED);
	for (i = 0; i < 3; i++) {
		struct fgr_origin o;

		pull(100, have, 4, &o);
		got += o.nrec;
		if (i < 2)
			cr_expect_eq(o.next, (uint64_t)(i + 1) * 8,
			             "pull %d ends at %llu", i,
			             (unsigned long long)o.next);
		else
			cr_expect_eq(o.next, 25, "the last reaches the top");
		have = o.next;
	}
	cr_expect_eq(got, 10);
}

Test(redis_script, a_cursor_ahead_of_what_redis_holds_comes_back_down)
{
	struct fgr_out r = rec("a", 4, 4, 0);
	struct fgr_origin o;

	cr_expect_eq(push(A, 100, 0, 4, &r, 1)->status, FGR_PUSHED);
	/* B holds A up to 10 (before Redis went back in time) */
	pull(100, 10, 100, &o);
	cr_expect_eq(o.nrec, 0);
	cr_expect_eq(o.next, 4);
}

Test(redis_script, an_origins_keys_expire_with_its_ttl_and_it_is_forgotten)
{
	struct fgr_out r = rec("a", 1, 1, 0);
	struct fgr_call cl = {.self = A,
	                      .inc = 100,
	                      .to = 1,
	                      .ttl_ms = TTL,
	                      .out = &r,
	                      .nout = 1};
	static const char *const keys[] = {"{t}:h:00000000000000aa",
	                                   "{t}:l:00000000000000aa", "{t}:tops",
	                                   "{t}:origins"};
	uint64_t t0;
	size_t i;

	(void)call(&cl);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		redisReply *x = redis_do(K.c, keys[i],
		                         redisCommand(K.c, "PTTL %s", keys[i]));

		cr_expect(x->integer > 0 && x->integer <= TTL, "%s: PTTL %lld",
		          keys[i], x->integer);
		freeReplyObject(x);
	}
	/* a push with a TTL of 1 ms: the next call of anyone forgets it */
	cl.ttl_ms = 1;
	cl.from = 1;
	(void)call(&cl);
	t0 = fg__now_ns();
	for (;;) {
		struct fgr_call b = {.self = B, .inc = 1, .ttl_ms = TTL};
		const struct fgr_reply *p = call(&b);

		if (p->norigins == 0)
			break;
		cr_assert_lt(fg__now_ns() - t0, 5000000000ull,
		             "A is never forgotten");
		usleep(2000);
	}
}
