/* SPDX-License-Identifier: ISC */
/*
 * control.c - floodgated's control socket (see control.h).
 *
 * Why a Unix socket and not the segment: what the daemon knows beyond the
 * buckets (peers, the remote ledger, gossip counters) lives in its private
 * memory, and a socket with mode 0600 gives it to the daemon's user and
 * root only (the peer's credentials are checked too).
 *
 * Invariants.  The loop is never blocked: the listening and connected
 * sockets are non-blocking, a request is answered whole from memory the
 * moment its line is complete (requests.c: answers are bounded), and the
 * reply drains as the client reads.  A slot is
 * freed on every path: reply sent, error, or deadline passed.
 */
#include "daemon/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/client.h"

/* ---------------------------------------------------------------- path */

int fgd_ctl_path(const struct fgd_config *cfg, char *out, size_t outlen)
{
	char seg[FG_SEG_PATH_MAX + 16];
	int n;

	if (strcmp(cfg->control, "off") == 0)
		return 1;
	if (cfg->control[0] != '\0') {
		n = snprintf(out, outlen, "%s", cfg->control);
	} else {
		if (fg__seg_path(cfg->segment, seg, sizeof seg) != 0)
			return FG_ENAME;
		n = snprintf(out, outlen, "%s.sock", seg);
	}
	if (n < 0 || (size_t)n >= outlen || (size_t)n > FGD_CONTROL_MAX)
		return FG_ENAME;
	return 0;
}

/* --------------------------------------------------------------- server */

/* Is somebody answering at @path? */
static int answers(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return 0;
	memcpy(sa.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return r;
}

int fgd_ctl_open(struct fgd_ctl *ctl, const char *path,
                 const struct fgd_ctl_env *env, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	unsigned i;
	int r;

	memset(ctl, 0, sizeof *ctl);
	ctl->lfd = -1;
	for (i = 0; i < FGD_CTL_CLIENTS; i++)
		ctl->c[i].fd = -1;
	ctl->env = *env;
	if (strlen(path) > FGD_CONTROL_MAX || path[0] != '/') {
		snprintf(err, errlen,
		         "control %s: not an absolute path of at "
		         "most %u bytes",
		         path, (unsigned)FGD_CONTROL_MAX);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
			         "control %s: exists and is not "
			         "a socket; not replaced",
			         path);
			return -1;
		}
		if (answers(path)) {
			snprintf(err, errlen,
			         "control %s: another daemon "
			         "answers there",
			         path);
			return -1;
		}
		(void)unlink(path); /* left by a daemon that is gone */
	}
	ctl->lfd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->lfd < 0)
		goto fail;
	memcpy(sa.sun_path, path, strlen(path));
	old = umask(0177); /* 0600 from the start: no window with more */
	r = bind(ctl->lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r != 0 || listen(ctl->lfd, 16) != 0)
		goto fail;
	snprintf(ctl->path, sizeof ctl->path, "%s", path);
	return 0;
fail:
	snprintf(err, errlen, "control %s: %s", path, strerror(errno));
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	ctl->lfd = -1;
	return -1;
}

static void conn_free(struct fgd_ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	fgd_buf_free(&c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void fgd_ctl_close(struct fgd_ctl *ctl)
{
	unsigned i;

	if (ctl->lfd < 0)
		return; /* never opened: no connection either */
	for (i = 0; i < FGD_CTL_CLIENTS; i++)
		if (ctl->c[i].fd >= 0)
			conn_free(&ctl->c[i]);
	close(ctl->lfd);
	(void)unlink(ctl->path);
	ctl->lfd = -1;
}

unsigned fgd_ctl_pollfds(struct fgd_ctl *ctl, struct pollfd *pfd,
                         uint64_t now_ms, int *timeout)
{
	unsigned i, n = 0;

	if (ctl->lfd < 0)
		return 0;
	pfd[n++] = (struct pollfd){.fd = ctl->lfd, .events = POLLIN};
	for (i = 0; i < FGD_CTL_CLIENTS; i++) {
		struct fgd_ctl_conn *c = &ctl->c[i];
		int left;

		pfd[n++] = (struct pollfd){
		    .fd = c->fd, .events = c->writing ? POLLOUT : POLLIN};
		if (c->fd < 0)
			continue;
		left = c->deadline_ms > now_ms ? (int)(c->deadline_ms - now_ms)
		                               : 0;
		if (*timeout < 0 || left < *timeout)
			*timeout = left;
	}
	return n;
}

/* Only the daemon's user and root may ask. */
static int peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return 0;
	return cr.uid == 0 || cr.uid == geteuid();
}

/* Send what the kernel takes now; 1 when all of it is sent. */
static int conn_flush(struct fgd_ctl_conn *c)
{
	while (c->off < c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->off, c->out.len - c->off,
		                 MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ||
			               errno == EINTR
			           ? 0
			           : -1;
		c->off += (size_t)w;
	}
	return 1;
}

static void conn_reply(struct fgd_ctl *ctl, struct fgd_ctl_conn *c,
                       const char *line, uint64_t now)
{
	fgd_ctl_answer(&ctl->env, line, now, &c->out);
	if (c->out.oom) {
		fgd_buf_free(&c->out);
		fgd_buf_printf(&c->out, "error: out of memory\n");
	}
	c->writing = 1;
	c->deadline_ms = now + FGD_CTL_IDLE_MS;
	if (conn_flush(c) != 0)
		conn_free(c);
}

static void conn_accept(struct fgd_ctl *ctl, uint64_t now)
{
	unsigned i, k;

	for (k = 0; k < 64; k++) { /* bounded: the loop has other work */
		struct fgd_ctl_conn *c = NULL;
		int fd =
		    accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		for (i = 0; i < FGD_CTL_CLIENTS && c == NULL; i++)
			if (ctl->c[i].fd < 0)
				c = &ctl->c[i];
		if (c == NULL || !peer_allowed(fd)) {
			static const char busy[] = "error: busy, try again\n";
			static const char perm[] = "error: permission denied\n";

			/* a fresh socket's buffer takes one short line */
			if (c == NULL)
				(void)!send(fd, busy, sizeof busy - 1,
				            MSG_NOSIGNAL);
			else
				(void)!send(fd, perm, sizeof perm - 1,
				            MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline_ms = now + FGD_CTL_IDLE_MS;
	}
}

static void conn_read(struct fgd_ctl *ctl, struct fgd_ctl_conn *c, uint64_t now)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->in + c->inlen,
		                 sizeof c->in - 1 - c->inlen, 0);
		char *nl;

		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				conn_free(c);
			return;
		}
		c->inlen += (size_t)r;
		c->in[c->inlen] = '\0';
		nl = memchr(c->in, '\n', c->inlen);
		if (nl != NULL ||
		    r == 0) { /* a line, or all the client sends */
			if (nl != NULL)
				*nl = '\0';
			if (strlen(c->in) !=
			    (nl ? (size_t)(nl - c->in) : c->inlen)) {
				fgd_buf_printf(&c->out, "error: NUL byte in "
				                        "the request\n");
				c->writing = 1;
				if (conn_flush(c) != 0)
					conn_free(c);
				return;
			}
			conn_reply(ctl, c, c->in, now);
			return;
		}
		if (c->inlen > FGD_CTL_LINE_MAX) {
			fgd_buf_printf(&c->out,
			               "error: request longer than %u bytes\n",
			               FGD_CTL_LINE_MAX);
			c->writing = 1;
			if (conn_flush(c) != 0)
				conn_free(c);
			return;
		}
	}
}

/* What @c's poll result @ev calls for; its slot freed when it is done. */
static void conn_service(struct fgd_ctl *ctl, struct fgd_ctl_conn *c, short ev,
                         uint64_t now_ms)
{
	if (ev & (POLLERR | POLLNVAL)) {
		conn_free(c);
	} else if (c->writing && (ev & (POLLOUT | POLLHUP))) {
		if (conn_flush(c) != 0)
			conn_free(c);
	} else if (!c->writing && (ev & (POLLIN | POLLHUP))) {
		conn_read(ctl, c, now_ms);
	}
	if (c->fd >= 0 && now_ms >= c->deadline_ms)
		conn_free(c); /* idle, or not reading its reply */
}

void fgd_ctl_service(struct fgd_ctl *ctl, const struct pollfd *pfd, unsigned n,
                     uint64_t now_ms)
{
	unsigned i;

	if (n == 0 || ctl->lfd < 0)
		return;
	for (i = 0; i + 1 < n && i < FGD_CTL_CLIENTS; i++) {
		struct fgd_ctl_conn *c = &ctl->c[i];

		if (c->fd >= 0 && pfd[i + 1].fd == c->fd)
			conn_service(ctl, c, pfd[i + 1].revents, now_ms);
	}
	if (pfd[0].revents & POLLIN)
		conn_accept(ctl, now_ms);
}

/* --------------------------------------------------------------- client */

/* Everything the daemon writes on @fd until it closes, into @b: 0 or a
 * negative errno. */
static int reply_read(int fd, struct fgd_buf *b)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof chunk, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return b->len == 0 ? -EPROTO : 0; /* closed without a
			                                   * word: not ours */
		if (b->len + (size_t)n > FGD_CTL_REPLY_MAX)
			return -EMSGSIZE;
		fgd_buf_printf(b, "%.*s", (int)n, chunk);
		if (b->oom)
			return -ENOMEM;
	}
}

/* A socket connected to @path with @line sent: its fd, or a negative
 * errno. */
static int request_send(const char *path, const char *line, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = FGD_CTL_IDLE_MS / 1000};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    send(fd, line, len, MSG_NOSIGNAL) == (ssize_t)len &&
	    send(fd, "\n", 1, MSG_NOSIGNAL) == 1)
		return fd;
	e = errno;
	close(fd);
	return -e;
}

int fgd_ctl_request(const char *path, const char *line, char **reply)
{
	struct fgd_buf b = {0};
	size_t len = strlen(line);
	int fd, r;

	*reply = NULL;
	if (strlen(path) > FGD_CONTROL_MAX || len > FGD_CTL_LINE_MAX ||
	    memchr(line, '\n', len) != NULL)
		return -EINVAL;
	fd = request_send(path, line, len);
	if (fd < 0)
		return fd;
	r = reply_read(fd, &b);
	close(fd);
	if (r == 0) {
		*reply = b.p;
		b.p = NULL;
	}
	fgd_buf_free(&b);
	return r;
}
