/* SPDX-License-Identifier: ISC */
/*
 * control.h - floodgated's control socket, and its client.
 *
 * A Unix stream socket (owner-only, 0600) through which floodgate(1) asks
 * the daemon what only the daemon knows: its peers, its remote ledger, its
 * counters.  One request line per connection, at most FGD_CTL_LINE_MAX
 * bytes; the reply's first line is "ok" or "error: REASON", then text, then
 * the daemon closes.  Every reply line after the first is
 * "TYPE name=value ..." (values never hold a blank: keys travel in hex),
 * except after "metrics", which is Prometheus text.
 *
 * The server half lives in floodgated's single-threaded poll() loop and
 * never blocks it: sockets are non-blocking, at most FGD_CTL_CLIENTS are
 * served at once (more are told "busy"), a client that does not send its
 * line or take its reply within FGD_CTL_IDLE_MS is dropped.
 */
#ifndef FGD_CONTROL_H
#define FGD_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/requests.h"
#include "lib/floodgate.h"
#include "util/buf.h"

#define FGD_CTL_CLIENTS   8u          /* served at once */
#define FGD_CTL_IDLE_MS   5000u       /* to send a line or take a reply */
#define FGD_CTL_REPLY_MAX (64u << 20) /* the client reads no more */
#define FGD_CTL_NFDS      (1u + FGD_CTL_CLIENTS)

struct fgd_ctl_conn {
	int fd; /* -1: free */
	uint64_t deadline_ms;
	size_t inlen;
	char in[FGD_CTL_LINE_MAX + 2];
	struct fgd_buf out;
	size_t off;  /* bytes of out written */
	int writing; /* the request is read; out is the reply */
};

struct fgd_ctl {
	int lfd; /* -1: no control socket */
	char path[FGD_CONTROL_MAX + 1];
	struct fgd_ctl_env env;
	struct fgd_ctl_conn c[FGD_CTL_CLIENTS];
};

/*
 * The control socket's path for @cfg: its "control" directive, or the
 * segment's path with ".sock" appended.  0; 1 when it is "off";
 * FG_ENAME when the derived path does not fit a Unix socket address.
 */
int fgd_ctl_path(const struct fgd_config *cfg, char *out, size_t outlen);

/*
 * Listen on @path (created 0600).  A socket file left by a daemon that is
 * gone is replaced; one that answers, or a file that is not a socket, is
 * not.  0, or -1 with a reason in @err.
 */
int fgd_ctl_open(struct fgd_ctl *ctl, const char *path,
                 const struct fgd_ctl_env *env, char *err, size_t errlen);
/* Close every connection and the socket, and remove its file. */
void fgd_ctl_close(struct fgd_ctl *ctl);

/* Fill up to FGD_CTL_NFDS pollfds; returns how many.  Lowers *@timeout
 * (ms, -1 = none) to the nearest client deadline. */
unsigned fgd_ctl_pollfds(struct fgd_ctl *ctl, struct pollfd *pfd,
                         uint64_t now_ms, int *timeout);
/* Serve what poll() reported in the @n pollfds fgd_ctl_pollfds filled. */
void fgd_ctl_service(struct fgd_ctl *ctl, const struct pollfd *pfd, unsigned n,
                     uint64_t now_ms);

/*
 * Client: send @line to the daemon at @path and read its whole reply
 * into *@reply (malloc'ed, NUL-terminated).  0, or a negative errno:
 * -ENOENT or -ECONNREFUSED when no daemon listens there.
 */
int fgd_ctl_request(const char *path, const char *line, char **reply);

#endif
