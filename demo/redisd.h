/* SPDX-License-Identifier: ISC */
/*
 * redisd.h - a private redis-server for a cluster (cluster.h) whose
 * daemons share their counts through Redis (floodgated(8), sync): the
 * cluster demo's -R, the Redis tests and the Redis bench.
 *
 * Debian's redis-server, started by us with nothing persisted (no RDB,
 * no AOF: a restart loses everything, the worst case the transport must
 * survive), listening on a Unix socket in the caller's directory and,
 * when a port is given, on 127.0.0.1:port; its log beside the socket.
 * DEBUG is enabled for local clients (the tests make Redis sleep).  It
 * dies with the process that started it (PR_SET_PDEATHSIG), and is
 * waited for by polling PING with a deadline, never by sleeping.
 */
#ifndef FG_DEMO_REDISD_H
#define FG_DEMO_REDISD_H

#include <hiredis/hiredis.h>
#include <sys/types.h>

#define FGC_REDIS_READY_MS 10000u

struct fgc_redis {
	const char *server; /* redis-server; NULL: fgc_redis_server() */
	int port;           /* also on 127.0.0.1:port; 0: the socket only */
	const char *const *args; /* more words for it, NULL-ended; or NULL */
	int pdeathsig;           /* it gets this when we die; 0: SIGKILL */
	char sock[108];          /* DIR/redis.sock */
	char log[160];           /* DIR/redis.log */
	pid_t pid;               /* 0 when not running */
	char err[1024];
};

/* $REDIS_SERVER if set, else redis-server from $PATH, /usr/bin or
 * /usr/sbin; NULL when there is none. */
const char *fgc_redis_server(void);

/* Start it with its socket and log in @dir (it must exist), and wait
 * until it answers PING.  0, or -1 with why in r->err (with its log's
 * end when it started and died). */
int fgc_redis_start(struct fgc_redis *r, const char *dir);

/* Send @sig and reap it (SIGKILL: a crash; SIGTERM: a clean stop).  0,
 * or -1 if it was not running. */
int fgc_redis_stop(struct fgc_redis *r, int sig);

/* A blocking connection to it through its socket, @ms to connect and
 * per command; NULL on failure (r->err says why).  redisFree() it. */
redisContext *fgc_redis_connect(struct fgc_redis *r, unsigned ms);

/* "sync unix:DIR/redis.sock\n", for a node's config, into @buf. */
int fgc_redis_sync_line(const struct fgc_redis *r, char *buf, size_t len);

#endif
