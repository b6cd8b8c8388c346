/* SPDX-License-Identifier: ISC */
/*
 * conn.c - one connection to Redis (conn.h).
 *
 * The handshake is a list of steps decided at init (AUTH only with a
 * password, SELECT only for a database other than 0), sent together and
 * checked in order as their replies come.  An error reply names the step
 * it answered, so that "WRONGPASS" reads as a refused password and
 * "NOAUTH" as a password the config lacks.
 */
#include "redis/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "redis/proto.h"
#include "redis/script.h"
#include "util/why.h"

enum step { S_AUTH, S_SELECT, S_NAME, S_LOAD };

static const char *const step_names[] = {"AUTH", "SELECT", "CLIENT SETNAME",
                                         "SCRIPT LOAD"};

const char *fgr_fail_name(enum fgr_fail f)
{
	static const char *const names[FGR_NFAILS] = {
	    "connect", "timeout", "auth", "redis", "reply", "io"};

	return (unsigned)f < FGR_NFAILS ? names[f] : "?";
}

/* Fail with @f and a message; closes.  Always FGR_EV_FAIL. */
__attribute__((format(printf, 3, 4))) static enum fgr_event
fail(struct fgr_conn *c, enum fgr_fail f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(c->err, sizeof c->err, fmt, ap) < 0)
		c->err[0] = '\0';
	va_end(ap);
	c->fail = f;
	fgr_conn_close(c);
	return FGR_EV_FAIL;
}

/* ------------------------------------------------------------- set-up */

static int resolve(struct fgr_conn *c, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV},
	                *res = NULL;
	char port[8];
	int r;

	if (c->conf.unix_sock) {
		struct sockaddr_un *un = (struct sockaddr_un *)&c->ss;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%s", c->conf.path);
		c->sslen = sizeof *un;
		return 0;
	}
	snprintf(port, sizeof port, "%u", (unsigned)c->conf.port);
	r = getaddrinfo(c->conf.host, port, &hints, &res);
	if (r != 0 || res == NULL || res->ai_addrlen > sizeof c->ss)
		return fgu_why(err, errlen, "sync: cannot resolve %s: %s",
		               c->conf.host,
		               r != 0 ? gai_strerror(r) : "no address");
	memcpy(&c->ss, res->ai_addr, res->ai_addrlen);
	c->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int fgr_conn_init(struct fgr_conn *c, const struct fgr_conf *conf,
                  const char *name, struct fgr_secret *pw, char *err,
                  size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->conf = *conf;
	c->script = fgr_script;
	snprintf(c->name, sizeof c->name, "%s", name);
	if (pw != NULL && pw->pw != NULL) {
		c->pw = *pw; /* taken over */
		memset(pw, 0, sizeof *pw);
	}
	if (resolve(c, err, errlen) != 0)
		return -1;
	if (conf->password_file[0] && c->pw.pw == NULL &&
	    fgr_secret_load(&c->pw, conf->password_file, err, errlen) != 0)
		return -1;
	if (c->pw.pw != NULL)
		c->steps[c->nsteps++] = S_AUTH;
	if (conf->db != 0)
		c->steps[c->nsteps++] = S_SELECT;
	c->steps[c->nsteps++] = S_NAME;
	c->steps[c->nsteps++] = S_LOAD;
	return 0;
}

void fgr_conn_fini(struct fgr_conn *c)
{
	fgr_conn_close(c);
	fgr_secret_free(&c->pw);
}

void fgr_conn_close(struct fgr_conn *c)
{
	if (c->ctx != NULL)
		redisFree(c->ctx); /* closes the socket */
	c->ctx = NULL;
	c->state = FGR_CONN_DOWN;
	c->expect = 0;
}

/* ------------------------------------------------------------ connect */

static int handshake_append(struct fgr_conn *c)
{
	char db[16];
	unsigned i;
	int r = REDIS_OK;

	for (i = 0; i < c->nsteps && r == REDIS_OK; i++) {
		switch (c->steps[i]) {
		case S_AUTH:
			if (c->conf.user[0])
				r = redisAppendCommand(c->ctx, "AUTH %s %b",
				                       c->conf.user, c->pw.pw,
				                       c->pw.len);
			else
				r = redisAppendCommand(c->ctx, "AUTH %b",
				                       c->pw.pw, c->pw.len);
			break;
		case S_SELECT:
			snprintf(db, sizeof db, "%u", (unsigned)c->conf.db);
			r = redisAppendCommand(c->ctx, "SELECT %s", db);
			break;
		case S_NAME:
			r = redisAppendCommand(c->ctx, "CLIENT SETNAME %s",
			                       c->name);
			break;
		default:
			r = redisAppendCommand(c->ctx, "SCRIPT LOAD %s",
			                       c->script);
			break;
		}
	}
	c->step = 0;
	return r == REDIS_OK ? 0 : -1;
}

/* A connected (or connecting) socket to the server: its fd, or -1. */
static int socket_to(struct fgr_conn *c, int *in_progress)
{
	int one = 1, fd;

	fd = socket(c->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0)
		return -1;
	if (c->ss.ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof one);
	*in_progress = 0;
	if (connect(fd, (struct sockaddr *)&c->ss, c->sslen) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*in_progress = 1;
		return fd;
	}
	close(fd);
	return -1;
}

int fgr_conn_open(struct fgr_conn *c, uint64_t now_ms)
{
	int in_progress, fd;

	if (c->state != FGR_CONN_DOWN)
		return 0;
	fd = socket_to(c, &in_progress);
	if (fd < 0)
		return fail(c, FGR_F_CONNECT, "connect: %s", strerror(errno)),
		       -1;
	c->ctx = redisConnectFd(fd);
	if (c->ctx == NULL) {
		close(fd);
		return fail(c, FGR_F_CONNECT, "out of memory"), -1;
	}
	c->ctx->flags &= ~REDIS_BLOCK; /* we poll; writes may be partial */
	fgr_reader_bound(c->ctx->reader);
	if (handshake_append(c) != 0)
		return fail(c, FGR_F_CONNECT, "out of memory"), -1;
	c->state = in_progress ? FGR_CONN_CONNECTING : FGR_CONN_HANDSHAKE;
	c->deadline_ms = now_ms + c->conf.timeout_ms;
	c->rx = 0;
	return 0;
}

int fgr_conn_append(struct fgr_conn *c, int argc, const char **argv,
                    const size_t *len)
{
	if (c->state != FGR_CONN_READY)
		return fail(c, FGR_F_IO, "not connected"), -1;
	if (redisAppendCommandArgv(c->ctx, argc, argv, len) != REDIS_OK)
		return fail(c, FGR_F_IO, "out of memory"), -1;
	c->expect++;
	return 0;
}

int fgr_conn_send(struct fgr_conn *c, uint64_t now_ms)
{
	int done = 0;

	if (c->state != FGR_CONN_READY || c->expect == 0)
		return fail(c, FGR_F_IO, "nothing to send"), -1;
	c->state = FGR_CONN_BUSY;
	c->deadline_ms = now_ms + c->conf.timeout_ms;
	c->rx = 0;
	if (redisBufferWrite(c->ctx, &done) != REDIS_OK)
		return fail(c, FGR_F_IO, "write: %s", c->ctx->errstr), -1;
	return 0;
}

void fgr_conn_pollfd(const struct fgr_conn *c, struct pollfd *pfd,
                     uint64_t now_ms, int *timeout)
{
	pfd->fd = -1;
	pfd->events = 0;
	pfd->revents = 0;
	if (c->ctx == NULL)
		return;
	pfd->fd = c->ctx->fd;
	pfd->events = POLLIN;
	if (c->state == FGR_CONN_CONNECTING ||
	    (c->ctx->obuf != NULL && sdslen(c->ctx->obuf) > 0))
		pfd->events |= POLLOUT;
	if (c->state != FGR_CONN_READY) {
		int left = c->deadline_ms > now_ms
		               ? (int)(c->deadline_ms - now_ms)
		               : 0;

		if (*timeout < 0 || left < *timeout)
			*timeout = left;
	}
}

/* ------------------------------------------------------------ service */

/* A handshake step's reply: 0, or FGR_EV_FAIL. */
static enum fgr_event step_reply(struct fgr_conn *c, const redisReply *r)
{
	unsigned s = c->steps[c->step];
	char text[160];

	if (r->type == REDIS_REPLY_ERROR) {
		fgr_error_text(r, text, sizeof text);
		if (s == S_AUTH)
			return fail(c, FGR_F_AUTH, "AUTH refused: %s", text);
		if (strncmp(text, "NOAUTH", 6) == 0)
			return fail(c, FGR_F_AUTH,
			            "Redis wants a password (redis-auth): %s",
			            text);
		return fail(c, FGR_F_REDIS, "%s: %s", step_names[s], text);
	}
	if (s == S_LOAD) {
		if (r->type != REDIS_REPLY_STRING || r->len != 40)
			return fail(c, FGR_F_REPLY,
			            "SCRIPT LOAD: not a script's SHA1");
		memcpy(c->sha, r->str, 40);
		c->sha[40] = '\0';
	} else if (r->type != REDIS_REPLY_STATUS) {
		return fail(c, FGR_F_REPLY, "%s: not +OK", step_names[s]);
	}
	c->step++;
	return FGR_EV_NONE;
}

/* The replies that are complete: the handshake's, or the exchange's. */
static enum fgr_event replies(struct fgr_conn *c, redisReply **reply)
{
	for (;;) {
		void *r = NULL;
		enum fgr_event ev = FGR_EV_NONE;

		if (redisGetReplyFromReader(c->ctx, &r) != REDIS_OK)
			return fail(c, FGR_F_REPLY, "not RESP: %s",
			            c->ctx->errstr);
		if (r == NULL)
			return FGR_EV_NONE;
		if (c->state == FGR_CONN_HANDSHAKE) {
			ev = step_reply(c, r);
			freeReplyObject(r);
			if (ev == FGR_EV_FAIL)
				return ev;
			if (c->step == c->nsteps) {
				c->state = FGR_CONN_READY;
				return FGR_EV_READY;
			}
			continue;
		}
		if (c->state != FGR_CONN_BUSY || c->expect == 0) {
			freeReplyObject(r);
			return fail(c, FGR_F_REPLY, "a reply nobody asked for");
		}
		if (--c->expect == 0)
			c->state = FGR_CONN_READY;
		*reply = r;
		return FGR_EV_REPLY;
	}
}

/* Read what is there, into hiredis's reader: 0, or FGR_EV_FAIL. */
static enum fgr_event drain(struct fgr_conn *c)
{
	char buf[16384];

	for (;;) {
		ssize_t n = read(c->ctx->fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return FGR_EV_NONE;
		if (n < 0)
			return fail(c, FGR_F_IO, "read: %s", strerror(errno));
		if (n == 0)
			return fail(c, FGR_F_IO, "connection closed by Redis");
		c->rx += (size_t)n;
		if (c->rx > FGR_REPLY_MAX)
			return fail(c, FGR_F_REPLY,
			            "a reply of more than %u bytes",
			            FGR_REPLY_MAX);
		if (redisReaderFeed(c->ctx->reader, buf, (size_t)n) != REDIS_OK)
			return fail(c, FGR_F_REPLY, "out of memory");
	}
}

static enum fgr_event connected(struct fgr_conn *c)
{
	int e = 0;
	socklen_t el = sizeof e;

	if (getsockopt(c->ctx->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
		e = errno;
	if (e != 0)
		return fail(c, FGR_F_CONNECT, "connect: %s", strerror(e));
	c->state = FGR_CONN_HANDSHAKE;
	return FGR_EV_NONE;
}

/* What poll() said: connected, written, read.  FGR_EV_FAIL, or NONE. */
static enum fgr_event io(struct fgr_conn *c, short revents)
{
	int done = 0;

	if (c->state == FGR_CONN_CONNECTING)
		return revents != 0 ? connected(c) : FGR_EV_NONE;
	if ((revents & POLLOUT) && redisBufferWrite(c->ctx, &done) != REDIS_OK)
		return fail(c, FGR_F_IO, "write: %s", c->ctx->errstr);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		return drain(c);
	return FGR_EV_NONE;
}

enum fgr_event fgr_conn_service(struct fgr_conn *c, short revents,
                                uint64_t now_ms, redisReply **reply)
{
	*reply = NULL;
	if (c->ctx == NULL)
		return FGR_EV_NONE;
	if (io(c, revents) == FGR_EV_FAIL)
		return FGR_EV_FAIL;
	if (c->state == FGR_CONN_HANDSHAKE || c->state == FGR_CONN_BUSY ||
	    (revents & POLLIN)) {
		/* what the reader holds, read now or at an earlier call */
		enum fgr_event ev = replies(c, reply);

		if (ev != FGR_EV_NONE)
			return ev;
	}
	if (c->state != FGR_CONN_READY && c->state != FGR_CONN_DOWN &&
	    now_ms >= c->deadline_ms)
		return fail(c, FGR_F_TIMEOUT,
		            "no answer within %u ms (redis-timeout)",
		            (unsigned)c->conf.timeout_ms);
	return FGR_EV_NONE;
}
