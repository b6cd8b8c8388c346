/* SPDX-License-Identifier: ISC */
/*
 * http.h - floodgated's HTTP endpoint (libmicrohttpd), off by default.
 *
 *   POST /v1/allow?rule=R&key=K[&cost=N] 200 allowed, 429 denied, 400 bad
 *   GET /check?user_id=U&endpoint=E      the classic allowRequest: rule E
 *                                        (else the default rule), key U;
 *                                        consumes, yet GET as in the seed
 *   GET|HEAD /metrics                    Prometheus text (daemon/metrics.h)
 *   GET|HEAD /healthz                    200 while the segment is linked
 *
 * It runs inside the daemon's single poll() loop: libmicrohttpd without a
 * thread of its own, in epoll mode, so that the whole server is one file
 * descriptor in the loop's poll set and every request is answered by the
 * loop's thread; nothing the node holds needs a lock.  A check is an
 * fg_allow() on the daemon's own handle, as a worker's would be.
 */
#ifndef FGD_HTTP_H
#define FGD_HTTP_H

#include <poll.h>
#include <stddef.h>

#include "daemon/config.h"
#include "lib/floodgate.h"

struct fgd_node;
struct fgd_solo; /* solo.h */
struct fgd_http;

/*
 * Start the endpoint of @cfg (cfg->http; len 0: off, *@out = NULL, 0).
 * @fg and @node (NULL when the daemon does not gossip; then @solo, its
 * own counters, may give the snapshot figures) must outlive it.
 * Return: 0, or -1 with the reason in @err.
 */
int fgd_http_start(struct fgd_http **out, const struct fgd_config *cfg,
                   fg_client *fg, struct fgd_node *node, struct fgd_solo *solo,
                   char *err, size_t errlen);

/* The node and the strict rules' server (either NULL), once they are up
 * (they start after the endpoint, see start.c): their metrics join
 * /metrics.  @h NULL is allowed. */
struct fgd_strict;
void fgd_http_attach(struct fgd_http *h, struct fgd_node *node,
                     const struct fgd_strict *strict);

/* Fill @pfd with the server's descriptor and lower *@timeout_ms to when
 * it next needs to run (the nearest request deadline, MHD's timers).
 * Returns the number of descriptors filled: 0 (off) or 1. */
unsigned fgd_http_pollfd(struct fgd_http *h, struct pollfd *pfd,
                         int *timeout_ms);

/* After poll(): end the connections past their deadline, accept, read
 * and answer what is ready.  Never blocks. */
void fgd_http_service(struct fgd_http *h);

/* Close every connection and the listening socket.  NULL is allowed. */
void fgd_http_stop(struct fgd_http *h);

#endif
