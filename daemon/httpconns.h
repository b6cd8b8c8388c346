/* SPDX-License-Identifier: ISC */
/*
 * httpconns.h - the HTTP endpoint's connections: an absolute deadline for
 * each request, and the places one address may hold (daemon/http.c).
 *
 * libmicrohttpd's own time-out (MHD_OPTION_CONNECTION_TIMEOUT) is an
 * inactivity timer that every byte restarts: one byte every few seconds
 * holds a connection for ever.  So each connection MHD opens is tracked
 * here (MHD_OPTION_NOTIFY_CONNECTION) in a list ordered by when its clock
 * started: at accept, and again when an answer has gone out whole
 * (MHD_OPTION_NOTIFY_COMPLETED).  A request must arrive whole and be
 * answered within timeout_ms of the connection's opening or of the
 * previous answer on it, however its bytes trickle; an idle kept-alive
 * connection ends at the same point.  MHD 0.9.75 has no call that closes
 * a connection outside its callbacks, so fgd_hc_expire() shuts the socket
 * down (shutdown(2) on MHD_CONNECTION_INFO_CONNECTION_FD): MHD's next run
 * sees the hang-up and closes the connection itself; nothing here ever
 * close()s a descriptor MHD owns.
 *
 * Places.  One address (IPv4; an IPv6 client by its /64, which one host
 * or site routinely holds; an IPv4-mapped address as its IPv4 address)
 * holds at most per_address connections: one more is refused by MHD's
 * accept policy callback, before a byte is read.  With all connections
 * taken, a newcomer takes the place of the oldest connection of the
 * address holding the most: while attackers come from fewer addresses
 * than there are places, one of theirs always holds two or more, and a
 * client holding one keeps it.  MHD's own limit must leave room
 * (FGD_HC_MHD_LIMIT) for connections shut down and not closed yet.
 *
 * Everything runs on the daemon loop's thread (MHD without a thread of its
 * own).  The bookkeeping is a pass over the list per connection opened or
 * closed: at most 1024 entries, against a system call's cost.
 */
#ifndef FGD_HTTPCONNS_H
#define FGD_HTTPCONNS_H

#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

/* MHD's connection limit for @connections of ours, with room for those
 * shut down and not closed yet (at most ours, from before a run) and for
 * those one run accepts (10 in 0.9.75) */
#define FGD_HC_MHD_LIMIT(connections) (2u * (connections) + 16u)

struct fgd_hc_conn;

struct fgd_hc {
	struct fgd_hc_conn *head, *tail; /* live, oldest clock first */
	uint32_t nlive;
	uint32_t timeout_ms, connections, per_address;
	/* connections ended here, by why (for /metrics) */
	uint64_t refused;   /* over the per-address limit, at accept */
	uint64_t displaced; /* gave their place to a newcomer */
	uint64_t expired;   /* their request's deadline came */
	uint64_t untracked; /* no memory to track them: shut at once */
};

void fgd_hc_init(struct fgd_hc *hc, uint32_t timeout_ms, uint32_t connections,
                 uint32_t per_address);

/* MHD's callbacks, each with @cls the struct fgd_hc: the accept policy
 * (MHD_start_daemon's apc), MHD_OPTION_NOTIFY_CONNECTION and
 * MHD_OPTION_NOTIFY_COMPLETED. */
enum MHD_Result fgd_hc_accept(void *cls, const struct sockaddr *sa,
                              socklen_t len);
void fgd_hc_notify(void *cls, struct MHD_Connection *mc, void **sc,
                   enum MHD_ConnectionNotificationCode what);
void fgd_hc_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                      enum MHD_RequestTerminationCode toe);

/* Shut down every connection whose deadline has come by @now_ms
 * (CLOCK_MONOTONIC); MHD's next run closes them. */
void fgd_hc_expire(struct fgd_hc *hc, uint64_t now_ms);

/* ms from @now_ms to the nearest deadline (0: passed), UINT64_MAX if no
 * connection is open. */
uint64_t fgd_hc_next(const struct fgd_hc *hc, uint64_t now_ms);

#endif
