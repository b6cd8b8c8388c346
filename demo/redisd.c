/* SPDX-License-Identifier: ISC */
/*
 * redisd.c - a private redis-server (redisd.h).
 */
#include "demo/redisd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo/files.h"

#define MAX_ARGS 48

static int fail(struct fgc_redis *r, const char *f, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct fgc_redis *r, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(r->err, sizeof r->err, f, ap);
	va_end(ap);
	return -1;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *fgc_redis_server(void)
{
	static char found[512];
	const char *env = getenv("REDIS_SERVER"), *path = getenv("PATH");
	char dirs[2048];
	char *save = NULL, *d;

	if (env != NULL && env[0] != '\0')
		return env;
	snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin", path ? path : "");
	for (d = strtok_r(dirs, ":", &save); d != NULL;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof found, "%s/redis-server", d);
		if (access(found, X_OK) == 0)
			return found;
	}
	return NULL;
}

/* The child: its output to the log, then exec. */
static void child(const struct fgc_redis *r, const char *server,
                  char *const *argv, pid_t parent)
{
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (in < 0 || fd < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 ||
	    dup2(fd, 2) < 0 ||
	    prctl(PR_SET_PDEATHSIG, r->pdeathsig ? r->pdeathsig : SIGKILL) !=
	        0 ||
	    getppid() != parent)
		_exit(126);
	execv(server, argv);
	fprintf(stderr, "exec %s: %s\n", server, strerror(errno));
	_exit(127);
}

/* Its command line into @argv (@port: its text's storage). */
static void command_line(const struct fgc_redis *r, const char *server,
                         const char *dir, char *port, const char **argv)
{
	int n = 0, k;

	snprintf(port, 16, "%d", r->port);
	argv[n++] = server;
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--unixsocket";
	argv[n++] = r->sock;
	argv[n++] = "--unixsocketperm"; /* floodgated's network process runs */
	argv[n++] = "777";              /* as the floodgate user: see start */
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--dir";
	argv[n++] = dir;
	argv[n++] = "--daemonize";
	argv[n++] = "no";
	argv[n++] = "--enable-debug-command";
	argv[n++] = "local";
	for (k = 0; r->args != NULL && r->args[k] != NULL && n < MAX_ARGS - 1;
	     k++)
		argv[n++] = r->args[k];
	argv[n] = NULL;
}

/* 1 once it answers PING on its socket. */
static int pong(const struct fgc_redis *r)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	redisContext *c = redisConnectUnixWithTimeout(r->sock, tv);
	redisReply *rep = NULL;
	int ok = 0;

	if (c != NULL && !c->err)
		rep = redisCommand(c, "PING");
	/* a server that wants a password answers NOAUTH: it is up too */
	ok = rep != NULL && (rep->type == REDIS_REPLY_STATUS ||
	                     rep->type == REDIS_REPLY_ERROR);
	if (rep != NULL)
		freeReplyObject(rep);
	if (c != NULL)
		redisFree(c);
	return ok;
}

static int await_pong(struct fgc_redis *r)
{
	uint64_t end = mono_ms() + FGC_REDIS_READY_MS;
	char tail[600];
	int st;

	for (;;) {
		if (pong(r))
			return 0;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			r->pid = 0;
			if (fgc_read_span(r->log, 0, tail, sizeof tail) < 0)
				tail[0] = '\0';
			return fail(r, "redis-server exited; %s ends:\n%s",
			            r->log, tail);
		}
		if (mono_ms() >= end)
			return fail(r,
			            "redis-server did not answer within "
			            "%u ms (see %s)",
			            FGC_REDIS_READY_MS, r->log);
		usleep(10000);
	}
}

int fgc_redis_start(struct fgc_redis *r, const char *dir)
{
	const char *server = r->server ? r->server : fgc_redis_server();
	const char *argv[MAX_ARGS];
	char port[16];
	pid_t parent = getpid();

	if (server == NULL)
		return fail(r, "redis-server not found (install Debian's "
		               "redis-server, or set $REDIS_SERVER)");
	if (r->pid > 0)
		return fail(r, "redis-server already running");
	if ((size_t)snprintf(r->sock, sizeof r->sock, "%s/redis.sock", dir) >=
	        sizeof r->sock ||
	    (size_t)snprintf(r->log, sizeof r->log, "%s/redis.log", dir) >=
	        sizeof r->log)
		return fail(r, "%s: too long a directory for a socket", dir);
	/* The daemons connect as the floodgate user when the test is root
	 * (floodgated(8), SECURITY): the socket's directory must let them
	 * through; the socket itself is 0777 (loopback, a test's own). */
	(void)chmod(dir, 0711);
	command_line(r, server, dir, port, argv);
	r->pid = fork();
	if (r->pid < 0) {
		r->pid = 0;
		return fail(r, "fork: %s", strerror(errno));
	}
	if (r->pid == 0)
		child(r, server, (char *const *)argv, parent);
	return await_pong(r);
}

int fgc_redis_stop(struct fgc_redis *r, int sig)
{
	int st;

	if (r->pid <= 0)
		return -1;
	(void)kill(r->pid, sig);
	while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
		;
	r->pid = 0;
	return 0;
}

redisContext *fgc_redis_connect(struct fgc_redis *r, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000,
	                     .tv_usec = (long)(ms % 1000) * 1000};
	redisContext *c = redisConnectUnixWithTimeout(r->sock, tv);

	if (c == NULL || c->err) {
		fail(r, "connect %s: %s", r->sock, c ? c->errstr : "no memory");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	(void)redisSetTimeout(c, tv);
	return c;
}

int fgc_redis_sync_line(const struct fgc_redis *r, char *buf, size_t len)
{
	int n = snprintf(buf, len, "sync unix:%s\n", r->sock);

	return n > 0 && (size_t)n < len ? 0 : -1;
}
