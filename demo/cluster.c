/* SPDX-License-Identifier: ISC */
/*
 * cluster.c - the "start N real daemons" harness (cluster.h).
 *
 * Processes.  A daemon is fork() + exec of floodgated -f -c DIR/nI.conf
 * with its output appended to DIR/nI.log.  The child sets
 * PR_SET_PDEATHSIG and then checks that its parent is still the one that
 * forked it (the parent may have died between fork and prctl), so a
 * daemon never outlives its harness.  Exits are observed with
 * waitpid(WNOHANG) in polling loops with a deadline; the harness never
 * calls wait() for "any child", since its callers have children of their
 * own (workers, relays).
 *
 * Readiness.  Node I is ready when its segment opens and holds the rule
 * asked for and its log, read from where it stood when the daemon was
 * started, shows FGC_READY_MARK.  The log offset matters on a restart:
 * the previous life's mark is still in the file.
 *
 * Files.  Everything the harness writes is in a directory it made with
 * mkdtemp (mode 0700), so no other user can plant a file there; the
 * segments and their .state/.state-local/.state-remote/.sock files are the
 * daemon's, under names with our pid, removed at init (a previous process with
 * our pid may have left them) and at fini.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo/cluster.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/segment.h"

#define NS_PER_MS 1000000ull
#define POLL_MS   10u

static int fail(struct fgc_cluster *c, const char *f, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct fgc_cluster *c, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	(void)vsnprintf(c->err, sizeof c->err, f, ap);
	va_end(ap);
	return -1;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};

	(void)nanosleep(&ts, NULL); /* a signal only shortens a poll */
}

static int cancelled(struct fgc_cluster *c)
{
	return c->cancel != NULL && *c->cancel != 0 ? fail(c, "interrupted")
	                                            : 0;
}

static int valid(const struct fgc_cluster *c, int i)
{
	return c->node != NULL && i >= 0 && i < c->n;
}

const char *fgc_floodgated(void)
{
	const char *p = getenv("FLOODGATED");

	return p != NULL && p[0] != '\0' ? p : FGC_DEFAULT_BIN;
}

/* ------------------------------------------------------------- files */

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

long fgc_log_size(const struct fgc_cluster *c, int i)
{
	char path[FGC_NAME_MAX + 32];

	return fgc_file(c, i, "log", path, sizeof path) == 0 ? file_size(path)
	                                                     : 0;
}

int fgc_file(const struct fgc_cluster *c, int i, const char *ext, char *buf,
             size_t len)
{
	int n = snprintf(buf, len, "%s/n%d.%s", c->dir, i, ext);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

ssize_t fgc_log_tail(const struct fgc_cluster *c, int i, char *buf, size_t len)
{
	char path[FGC_NAME_MAX + 32];

	if (fgc_file(c, i, "log", path, sizeof path) != 0)
		return -1;
	return fgc_read_span(path, 0, buf, len);
}

/* "node I: WHAT; its log ends:\n..." into c->err. */
static int fail_with_log(struct fgc_cluster *c, int i, const char *what)
{
	char tail[600];

	if (fgc_log_tail(c, i, tail, sizeof tail) <= 0)
		(void)snprintf(tail, sizeof tail, "(nothing)\n");
	return fail(c, "node %d: %s; its log (%s/n%d.log) ends:\n%s", i, what,
	            c->dir, i, tail);
}

/* ------------------------------------------------------ keys, configs */

int fgc_make_keys(struct fgc_cluster *c)
{
	return fgc_keys_in(c->dir, c->n, c->err, sizeof c->err);
}

/* The "peer" lines of node @i's config into @buf. */
static int peer_lines(const struct fgc_cluster *c, int i, enum fgc_peers p,
                      char *buf, size_t len)
{
	size_t off = 0;
	int j, w;

	buf[0] = '\0';
	for (j = 0; j < c->n; j++) {
		int want = p == FGC_PEERS_ALL
		               ? j != i
		               : p == FGC_PEERS_SEED && j == (i == 0 ? 1 : 0);

		if (!want)
			continue;
		w = snprintf(buf + off, len - off, "peer 127.0.0.1:%d\n",
		             c->node[j].port);
		if (w < 0 || (size_t)w >= len - off)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

int fgc_write_conf(struct fgc_cluster *c, int i, const struct fgc_conf *conf)
{
	char path[FGC_NAME_MAX + 32], iv[32] = "", *text = NULL, *peers;
	size_t plen = (size_t)c->n * 32 + 1, tlen;
	int w, rc = -1;

	if (!valid(c, i))
		return fail(c, "node %d: no such node", i);
	tlen = plen + 1024 + (conf->extra ? strlen(conf->extra) : 0);
	peers = malloc(plen);
	text = malloc(tlen);
	if (peers == NULL || text == NULL) {
		fail(c, "out of memory");
		goto out;
	}
	if (peer_lines(c, i, conf->peers, peers, plen) != 0 ||
	    fgc_file(c, i, "conf", path, sizeof path) != 0) {
		fail(c, "node %d: config too long", i);
		goto out;
	}
	if (conf->interval_ms)
		(void)snprintf(iv, sizeof iv, "interval %ums\n",
		               conf->interval_ms);
	w = snprintf(text, tlen,
	             "segment %s\ncapacity %u\nnode-key %s/n%d.key\n"
	             "keyring %s/keyring\nlisten 127.0.0.1:%d\n%s%s%s",
	             c->node[i].seg,
	             conf->capacity ? conf->capacity : FGC_SEG_CAPACITY, c->dir,
	             i, c->dir, c->node[i].port, iv,
	             conf->extra ? conf->extra : "", peers);
	if (w < 0 || (size_t)w >= tlen) {
		fail(c, "node %d: config too long", i);
		goto out;
	}
	rc = fgc_write_file(path, text, c->err, sizeof c->err);
out:
	free(peers);
	free(text);
	return rc;
}

/* ------------------------------------------------------------- ports */

/* 1 if 127.0.0.1:@port (0: any) binds a UDP socket now; its port in
 * *@got and, if @keep, the socket in *@fd. */
static int udp_free(int port, int *got, int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof a;
	int s, ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
	     getsockname(s, (struct sockaddr *)&a, &len) == 0;
	if (ok && got)
		*got = ntohs(a.sin_port);
	if (ok && fd)
		*fd = s;
	else
		(void)close(s);
	return ok;
}

void fgc_set_ports(struct fgc_cluster *c, int base)
{
	int i;

	for (i = 0; i < c->n; i++)
		c->node[i].port = base + i;
}

/* n ports the kernel picks, all bound at once so that they differ. */
static int kernel_ports(struct fgc_cluster *c)
{
	int *fd = calloc((size_t)c->n, sizeof *fd), i, rc = 0;

	if (fd == NULL)
		return fail(c, "out of memory");
	for (i = 0; i < c->n; i++) {
		fd[i] = -1;
		if (rc == 0 && !udp_free(0, &c->node[i].port, &fd[i]))
			rc = fail(c, "a UDP port on 127.0.0.1: %s",
			          strerror(errno));
	}
	for (i = 0; i < c->n; i++)
		if (fd[i] >= 0)
			(void)close(fd[i]);
	free(fd);
	return rc;
}

int fgc_pick_ports(struct fgc_cluster *c, int lo, int hi)
{
	int blocks, b, k, i;

	if (lo == 0)
		return kernel_ports(c);
	blocks = (hi - lo + 1) / c->n;
	if (blocks < 1 || lo < 1 || hi > 65535)
		return fail(c, "%d ports do not fit in %d-%d", c->n, lo, hi);
	for (k = 0; k < blocks; k++) {
		b = lo + (int)((getpid() + k) % blocks) * c->n;
		for (i = 0; i < c->n && udp_free(b + i, NULL, NULL); i++)
			;
		if (i == c->n) {
			fgc_set_ports(c, b);
			return 0;
		}
	}
	return fail(c, "no %d free UDP ports in a row in %d-%d", c->n, lo, hi);
}

/* --------------------------------------------------------- set-up */

/* Remove segment @seg and the files the daemon keeps beside it. */
static void remove_segment(const char *seg)
{
	static const char *const ext[] = {".state", ".state-local",
	                                  ".state-remote", ".sock"};
	char path[FG_SEG_PATH_MAX + 32];
	size_t k, n;

	(void)fg_unlink(seg);
	if (fg__seg_path(seg, path, FG_SEG_PATH_MAX) != 0)
		return;
	n = strlen(path);
	for (k = 0; k < sizeof ext / sizeof ext[0]; k++) {
		strcpy(path + n, ext[k]);
		(void)unlink(path);
	}
}

int fgc_init(struct fgc_cluster *c, int n, const char *prefix)
{
	size_t plen = strlen(prefix);
	int i, w;

	memset(c, 0, sizeof *c);
	c->n = n;
	c->floodgated = fgc_floodgated();
	c->pdeathsig = SIGKILL;
	c->ready_ms = FGC_READY_MS;
	c->stop_ms = FGC_STOP_MS;
	if (n < 1 || plen == 0 || plen > 24)
		return fail(c, "bad cluster: %d nodes, prefix \"%s\"", n,
		            prefix);
	c->node = calloc((size_t)n, sizeof *c->node);
	if (c->node == NULL)
		return fail(c, "out of memory");
	(void)snprintf(c->dir, sizeof c->dir, "/tmp/%s%sXXXXXX", prefix,
	               prefix[plen - 1] == '-' ? "" : "-");
	if (mkdtemp(c->dir) == NULL) {
		fail(c, "mkdtemp %s: %s", c->dir, strerror(errno));
		c->dir[0] = '\0';
		return -1;
	}
	for (i = 0; i < n; i++) {
		w = snprintf(c->node[i].seg, sizeof c->node[i].seg, "%s%d-%d",
		             prefix, i, (int)getpid());
		if (w < 0 || (size_t)w >= sizeof c->node[i].seg)
			return fail(c, "segment name too long");
		remove_segment(c->node[i].seg);
	}
	return 0;
}

/* Remove the directory and the files in it (it has no subdirectories). */
static int remove_dir(struct fgc_cluster *c)
{
	struct dirent *e;
	DIR *dir = opendir(c->dir);
	int rc = 0;

	if (dir == NULL)
		return fail(c, "%s: %s", c->dir, strerror(errno));
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(dir), e->d_name, 0) != 0)
			rc = fail(c, "%s/%s: %s", c->dir, e->d_name,
			          strerror(errno));
	}
	(void)closedir(dir);
	if (rmdir(c->dir) != 0)
		rc = fail(c, "rmdir %s: %s", c->dir, strerror(errno));
	return rc;
}

int fgc_fini(struct fgc_cluster *c, int keep)
{
	char why[64];
	int i, st, rc = 0;

	for (i = 0; c->node != NULL && i < c->n; i++) {
		int running = c->node[i].pid > 0;

		st = fgc_stop(c, i);
		if (running && st != 0) {
			if (st > 0)
				fail_with_log(
				    c, i, fgc_status_text(st, why, sizeof why));
			rc = -1;
		}
		fg_close(c->node[i].fg);
		c->node[i].fg = NULL;
		remove_segment(c->node[i].seg);
	}
	if (c->dir[0] != '\0' && !keep && remove_dir(c) != 0)
		rc = -1;
	if (!keep)
		c->dir[0] = '\0';
	free(c->node);
	c->node = NULL;
	return rc;
}

/* --------------------------------------------------------- processes */

pid_t fgc_spawn(const char *floodgated, const char *conf, const char *log,
                int pdeathsig, int own_pgrp)
{
	pid_t parent = getpid(), p = fork();
	int in, fd;

	if (p != 0)
		return p;
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (in < 0 || fd < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 ||
	    dup2(fd, 2) < 0 || (own_pgrp && setpgid(0, 0) != 0) ||
	    prctl(PR_SET_PDEATHSIG, pdeathsig) != 0 || getppid() != parent)
		_exit(126);
	execl(floodgated, "floodgated", "-f", "-c", conf, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", floodgated, strerror(errno));
	_exit(127);
}

int fgc_start(struct fgc_cluster *c, int i)
{
	char conf[FGC_NAME_MAX + 32], log[FGC_NAME_MAX + 32];
	pid_t p;

	if (!valid(c, i))
		return fail(c, "node %d: no such node", i);
	if (c->node[i].pid > 0)
		return fail(c, "node %d: already running", i);
	if (fgc_file(c, i, "conf", conf, sizeof conf) != 0 ||
	    fgc_file(c, i, "log", log, sizeof log) != 0)
		return fail(c, "node %d: path too long", i);
	c->node[i].log_mark = file_size(log);
	p = fgc_spawn(c->floodgated, conf, log, c->pdeathsig, c->own_pgrp);
	if (p < 0)
		return fail(c, "fork: %s", strerror(errno));
	c->node[i].pid = p;
	return 0;
}

const char *fgc_status_text(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		(void)snprintf(buf, len, "killed by signal %d",
		               WTERMSIG(status));
	else if (WIFEXITED(status))
		(void)snprintf(
		    buf, len, "exited %d%s", WEXITSTATUS(status),
		    WEXITSTATUS(status) >= 126 ? " (could not run it)" : "");
	else
		(void)snprintf(buf, len, "status %#x", status);
	return buf;
}

/* Reap node @i if it exited: 1 (status saved), 0 while it runs, -1 on a
 * waitpid error. */
static int reap(struct fgc_cluster *c, int i, int flags)
{
	int status;
	pid_t p;

	do
		p = waitpid(c->node[i].pid, &status, flags);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return 0;
	c->node[i].pid = 0;
	if (p < 0)
		return fail(c, "node %d: waitpid: %s", i, strerror(errno));
	c->node[i].status = status;
	return 1;
}

int fgc_exited(struct fgc_cluster *c, int i)
{
	if (!valid(c, i) || c->node[i].pid <= 0)
		return 1;
	return reap(c, i, WNOHANG) != 0;
}

/* Wait up to @ms for node @i to exit: 1 when it did, 0 if still running. */
static int await_exit(struct fgc_cluster *c, int i, unsigned ms)
{
	uint64_t end = fg__now_ns() + ms * NS_PER_MS;

	for (;;) {
		int r = reap(c, i, WNOHANG);

		if (r != 0)
			return r;
		if (fg__now_ns() > end)
			return 0;
		sleep_ms(POLL_MS);
	}
}

int fgc_kill(struct fgc_cluster *c, int i, int sig)
{
	int r;

	if (!valid(c, i))
		return fail(c, "node %d: no such node", i);
	if (c->node[i].pid <= 0)
		return 0;
	if (kill(c->node[i].pid, sig) != 0 && errno != ESRCH)
		return fail(c, "node %d: kill: %s", i, strerror(errno));
	r = await_exit(c, i, c->stop_ms);
	if (r == 0) { /* it hangs: its status says SIGKILL */
		(void)kill(c->node[i].pid, SIGKILL);
		r = reap(c, i, 0);
	}
	return r < 0 ? -1 : c->node[i].status;
}

int fgc_stop(struct fgc_cluster *c, int i)
{
	return fgc_kill(c, i, SIGTERM);
}

/* 1 when segment @fg holds rule @rule. */
static int has_rule(fg_client *fg, const char *rule)
{
	fg_rule_info ri;
	int idx = fg__rule_index(fg, rule);

	return idx >= 0 && fg_rule_get(fg, (unsigned)idx, &ri) == 0;
}

/* 1 when node @i's log shows FGC_READY_MARK since it was started. */
static int marked_ready(const struct fgc_cluster *c, int i)
{
	char path[FGC_NAME_MAX + 32], text[8192];

	return fgc_file(c, i, "log", path, sizeof path) == 0 &&
	       fgc_read_span(path, c->node[i].log_mark, text, sizeof text) >=
	           0 &&
	       strstr(text, FGC_READY_MARK) != NULL;
}

int fgc_await_ready(struct fgc_cluster *c, int i, const char *rule)
{
	uint64_t end = fg__now_ns() + c->ready_ms * NS_PER_MS;
	struct fgc_node *nd;
	char why[256];
	int r = FG_ENOSEG;

	if (!valid(c, i))
		return fail(c, "node %d: no such node", i);
	nd = &c->node[i];
	for (;;) {
		if (cancelled(c))
			return -1;
		if (nd->fg == NULL && (r = fg_open(nd->seg, 0, &nd->fg)) != 0)
			nd->fg = NULL;
		if (nd->fg != NULL && has_rule(nd->fg, rule) &&
		    marked_ready(c, i))
			return 0;
		if (fgc_exited(c, i))
			return fail_with_log(
			    c, i, fgc_status_text(nd->status, why, sizeof why));
		if (fg__now_ns() > end) {
			(void)snprintf(why, sizeof why,
			               "not ready in %u ms (segment %s: %s)",
			               c->ready_ms, nd->seg,
			               nd->fg ? "attached" : fg_strerror(r));
			return fail_with_log(c, i, why);
		}
		sleep_ms(POLL_MS);
	}
}

int fgc_await_log(struct fgc_cluster *c, int i, long mark,
                  int (*found)(const char *text, void *arg), void *arg,
                  const char *what)
{
	uint64_t end = fg__now_ns() + c->ready_ms * NS_PER_MS;
	char path[FGC_NAME_MAX + 32], text[16384], why[128];

	if (!valid(c, i) || fgc_file(c, i, "log", path, sizeof path) != 0)
		return fail(c, "node %d: no such node", i);
	for (;;) {
		if (cancelled(c))
			return -1;
		if (fgc_read_span(path, mark, text, sizeof text) >= 0 &&
		    found(text, arg))
			return 0;
		(void)snprintf(why, sizeof why, "%s not logged", what);
		if (fgc_exited(c, i) || fg__now_ns() > end)
			return fail_with_log(c, i, why);
		sleep_ms(POLL_MS);
	}
}

int fgc_start_all(struct fgc_cluster *c, const char *rule)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (fgc_start(c, i) != 0)
			return -1;
	for (i = 0; i < c->n; i++)
		if (fgc_await_ready(c, i, rule) != 0)
			return -1;
	return 0;
}
