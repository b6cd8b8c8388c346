/* SPDX-License-Identifier: ISC */
/*
 * loop.c - one thread, one poll() loop over the signalfd, the gossip
 * socket, the control socket's clients, the HTTP endpoint and Redis,
 * woken at least every round (the gossip interval).
 *
 * Workers never wait on it: if it is down they keep limiting on local
 * state, and when it comes back it re-attaches to the same segment and
 * goes on: the same incarnation, its counts continued from the files
 * beside the segment (gossip/node.h), so that peers count nothing twice
 * and lose nothing it took before it died.
 * Timers are due times on the monotonic clock; a round that fell behind
 * is not made up in a burst.  Signals: SIGTERM/SIGINT flush one last
 * round and the snapshot and exit 0; SIGHUP reloads (reload.h); SIGUSR1
 * logs the counters.
 */
#include "daemon/loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/segment.h"
#include "daemon/net.h"
#include "daemon/notes.h"
#include "daemon/reload.h"

#define REAP_EVERY_MS   10000u
#define REAP_MIN_AGE_MS 60000u
#define EXPIRE_EVERY_MS 10000u

struct timers {
	uint64_t round, reap, expire, snap; /* next due, monotonic ms */
};

static void round_run(struct fgd_daemon *d, uint64_t t)
{
	if (!d->node_ok) {
		fgd_solo_pass(&d->solo, t);
		return;
	}
	fgd_node_harvest(&d->node, t);
	(void)fgd_node_tick(&d->node, t);
	fgd_notes_peers(d, t);
	fgr_sync_round(&d->redis, t);
}

/* Run what is due at @t; the poll timeout until the next round. */
static int timers_run(struct fgd_daemon *d, struct timers *tm, uint64_t t)
{
	if (t >= tm->round) {
		round_run(d, t);
		tm->round += d->cfg.interval_ms;
		if (tm->round <= t) /* fell behind: do not burst */
			tm->round = t + d->cfg.interval_ms;
	}
	if (t >= tm->reap) {
		int n = fg_reap(d->fg, REAP_MIN_AGE_MS);

		if (n > 0)
			fgd_log(LOG_INFO, "reaped %d abandoned slots", n);
		fgd_segment_watch(d->fg);
		tm->reap = t + REAP_EVERY_MS;
	}
	if (t >= tm->expire && d->node_ok) {
		fgd_node_expire(&d->node, t);
		fgd_notes_ledger(d, EXPIRE_EVERY_MS);
		tm->expire = t + EXPIRE_EVERY_MS;
	}
	if (t >= tm->snap) {
		fgd_persist_save(&d->persist, NULL, t);
		tm->snap = t + d->cfg.snapshot_every_ms;
	}
	return (int)(tm->round > t ? tm->round - t : 0);
}

/* A signal from the signalfd: 1 to exit, else 0. */
static int signal_take(struct fgd_daemon *d)
{
	struct signalfd_siginfo si;
	char why[1100];

	if (read(d->sigfd, &si, sizeof si) != sizeof si)
		return 0;
	switch (si.ssi_signo) {
	case SIGHUP:
		(void)fgd_reload(d, why, sizeof why);
		return 0;
	case SIGUSR1:
		fgd_notes_counters(d);
		return 0;
	default: /* SIGTERM, SIGINT */
		fgd_log(LOG_INFO, "signal %u: exiting", si.ssi_signo);
		round_run(d, fgd_now_ms()); /* flush */
		if (d->node_ok)
			fgd_xmit_flush(&d->node.x);
		fgr_sync_flush(&d->redis, fgd_now_ms);
		fgd_persist_save(&d->persist, "at exit", fgd_now_ms());
		return 1;
	}
}

int fgd_run(struct fgd_daemon *d)
{
	uint64_t t = fgd_now_ms();
	struct timers tm = {.round = t,
	                    .reap = t + REAP_EVERY_MS,
	                    .expire = t + EXPIRE_EVERY_MS,
	                    .snap = t + d->cfg.snapshot_every_ms};

	for (;;) {
		struct pollfd pfd[2 + FGD_CTL_NFDS + 2 + FGD_STRICT_NFDS] = {
		    {.fd = d->sigfd, .events = POLLIN},
		    {.fd = d->sock, .events = POLLIN}};
		unsigned nctl, nhttp, nfd, nstrict;
		int timeout;

		t = fgd_now_ms();
		timeout = timers_run(d, &tm, t);
		nctl = fgd_ctl_pollfds(&d->ctl, pfd + 2, t, &timeout);
		/* poll() skips a negative fd: no socket, no control slot */
		nhttp = fgd_http_pollfd(d->http, pfd + 2 + nctl, &timeout);
		nfd = 2 + nctl + nhttp; /* and Redis's, fd -1 when down */
		fgr_sync_pollfd(&d->redis, &pfd[nfd], t, &timeout);
		nstrict =
		    fgd_strict_pollfds(&d->strict, &pfd[nfd + 1], t, &timeout);
		if (poll(pfd, nfd + 1 + nstrict, timeout) < 0 &&
		    errno != EINTR) {
			fgd_log(LOG_ERR, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[1].revents & POLLIN)
			fgd_net_receive(d, fgd_now_ms());
		fgd_ctl_service(&d->ctl, pfd + 2, nctl, fgd_now_ms());
		fgd_http_service(d->http);
		fgr_sync_service(&d->redis, pfd[nfd].revents, fgd_now_ms());
		fgd_strict_service(&d->strict, &pfd[nfd + 1], nstrict,
		                   fgd_now_ms());
		if (d->node_ok) /* what this pass made, proved at once */
			fgd_xmit_flush(&d->node.x);
		if ((pfd[0].revents & POLLIN) && signal_take(d))
			return 0;
	}
}
