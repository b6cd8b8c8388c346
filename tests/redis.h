/* SPDX-License-Identifier: ISC */
/*
 * redis.h - what the Redis tests share: a private redis-server
 * (demo/redisd.h) as a Criterion fixture would use it, the rule that
 * such a test skips only where redis-server cannot be had (never in CI:
 * .ci/run sets FG_REDIS_REQUIRED), and the daemon's control socket read
 * field by field.
 */
#ifndef FG_TESTS_REDIS_H
#define FG_TESTS_REDIS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "daemon/control.h"
#include "demo/redisd.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/segment.h"
#include "tests/cluster.h"
#include "tests/ports.h"

#define REDIS_WAIT_S 30 /* the most a test waits for anything */

/* Poll @cond until it holds; fail after REDIS_WAIT_S with @... */
#define AWAIT(cond, ...)                                                       \
	do {                                                                   \
		uint64_t t0_ = fg__now_ns();                                   \
		while (!(cond)) {                                              \
			cr_assert_lt(fg__now_ns() - t0_,                       \
			             (uint64_t)REDIS_WAIT_S * 1000000000u,     \
			             __VA_ARGS__);                             \
			usleep(20000);                                         \
		}                                                              \
	} while (0)

/* A TAP SKIP without redis-server, a failure if it was required. */
static inline void redis_required(void)
{
	const char *req = getenv("FG_REDIS_REQUIRED");

	if (fgc_redis_server() != NULL)
		return;
	cr_assert(req == NULL || req[0] == '\0' || strcmp(req, "0") == 0,
	          "redis-server not found, and FG_REDIS_REQUIRED is set "
	          "(scripts/deps.sh installs it)");
	cr_skip_test("redis-server not installed (apt-get install "
	             "redis-server)");
}

/* Start @r with its socket in @dir, or fail the test with why. */
static inline void redis_up(struct fgc_redis *r, const char *dir)
{
	cr_assert_eq(fgc_redis_start(r, dir), 0, "%s", r->err);
}

/* What a Redis test holds: a private Redis in its own directory, and
 * the cluster of daemons beside it. */
struct redis_fleet {
	struct fgc_cluster c;
	struct fgc_redis r; /* its args and port set before the start */
	char rdir[64];
	int up; /* c was made */
};

/* @f's Redis, started in a fresh directory under /tmp named for @tag
 * (or the test is skipped where it cannot be: redis_required). */
static inline void redis_fleet_redis(struct redis_fleet *f, const char *tag)
{
	redis_required();
	snprintf(f->rdir, sizeof f->rdir, "/tmp/fg-%s-r-XXXXXX", tag);
	cr_assert_not_null(mkdtemp(f->rdir));
	redis_up(&f->r, f->rdir);
}

/* @f's Redis, then the files of @n daemons (keys, ports: no daemon
 * runs yet); their segments are named "fg-@tag-". */
static inline void redis_fleet_prepare(struct redis_fleet *f, const char *tag,
                                       int n)
{
	char prefix[32];

	redis_fleet_redis(f, tag);
	snprintf(prefix, sizeof prefix, "fg-%s-", tag);
	CLUSTER_OK(&f->c, fgc_init(&f->c, n, prefix));
	f->up = 1;
	fgc_set_ports(&f->c, fgt_ports(n));
	CLUSTER_OK(&f->c, fgc_make_keys(&f->c));
}

/* The daemons stopped (they push a last time), Redis killed, its
 * directory removed: a suite's .fini. */
static inline void redis_fleet_fini(struct redis_fleet *f)
{
	char cmd[128];

	if (f->up)
		(void)fgc_fini(&f->c, 0);
	(void)fgc_redis_stop(&f->r, SIGKILL);
	if (f->rdir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf %s", f->rdir);
		(void)system(cmd);
	}
}

/* A blocking connection to @r, or fail the test. */
static inline redisContext *redis_cli(struct fgc_redis *r)
{
	redisContext *c = fgc_redis_connect(r, 5000);

	cr_assert_not_null(c, "%s", r->err);
	return c;
}

/* Run a command on @c that must not fail; its reply (free it). */
static inline redisReply *redis_do(redisContext *c, const char *what,
                                   redisReply *r)
{
	cr_assert_not_null(r, "%s: %s", what, c->errstr);
	cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s: %s", what, r->str);
	return r;
}

/* The daemon of segment @seg answers @request on its control socket:
 * the reply (free it), or NULL when nobody answers. */
static inline char *ctl_ask(const char *seg, const char *request)
{
	char sock[FG_SEG_PATH_MAX + 16], *reply = NULL;

	if (fg__seg_path(seg, sock, sizeof sock - 8) != 0)
		return NULL;
	strcat(sock, ".sock");
	if (fgd_ctl_request(sock, request, &reply) != 0)
		return NULL;
	return reply;
}

/* Field @field of the first line of type @type in the reply to
 * @request, into @out: 0, or -1 when there is no such line or field. */
static inline int ctl_field(const char *seg, const char *request,
                            const char *type, const char *field, char *out,
                            size_t len)
{
	char pat[64], *reply = ctl_ask(seg, request), *line, *v;
	size_t n;
	int r = -1;

	if (reply == NULL)
		return -1;
	snprintf(pat, sizeof pat, "\n%s ", type);
	line = strstr(reply, pat);
	if (line != NULL) {
		char *end = strchr(line + 1, '\n');

		if (end != NULL)
			*end = '\0';
		snprintf(pat, sizeof pat, " %s=", field);
		v = strstr(line + 1, pat);
		if (v != NULL) {
			v += strlen(pat);
			n = strcspn(v, " ");
			snprintf(out, len, "%.*s", (int)n, v);
			r = 0;
		}
	}
	free(reply);
	return r;
}

/* The same, as a number (the test fails if it is not there). */
static inline uint64_t ctl_u64(const char *seg, const char *request,
                               const char *type, const char *field)
{
	char v[64];

	cr_assert_eq(ctl_field(seg, request, type, field, v, sizeof v), 0,
	             "%s: no %s %s=", seg, type, field);
	return strtoull(v, NULL, 10);
}

/* Whether the redis line of @seg's status has @field=@want. */
static inline int redis_is(const char *seg, const char *field, const char *want)
{
	char v[64];

	return ctl_field(seg, "status", "redis", field, v, sizeof v) == 0 &&
	       strcmp(v, want) == 0;
}

#endif
