/* SPDX-License-Identifier: ISC */
/*
 * strict.c - a worker's check of a strict rule (FG_RULE_STRICT): the
 * fleet-wide total never exceeds the rule, because Redis decides.
 *
 * Design.  The library links no Redis client, so the worker asks the
 * daemon, which holds the one connection to Redis: a synchronous request
 * over a Unix socket beside the segment (strict.h), with an absolute
 * deadline of FG_STRICT_WAIT_MS from the check's start.  The daemon runs
 * a GCRA script in Redis for each request (pipelined across workers:
 * daemon/strict.c), so Redis holds the one bucket of the fleet and every
 * admission of every host is a token taken from it.  In order:
 *
 *   1. The local bucket (the rule's parameters, this host's shm) is a
 *      pre-filter: the normal one-CAS check.  A denial there is the
 *      answer, with no round trip: the local bucket mirrors the fleet's
 *      as Redis last described it (step 3), so a key the fleet denies
 *      is denied here until it would refill.
 *   2. What the local bucket admitted is asked of the daemon.
 *   3. Granted: admitted, and the local bucket is raised to the fleet's
 *      (TAT - now, from Redis's reply).  Denied: the local tokens are
 *      given back and the bucket raised the same way.
 *   4. No answer in time (no daemon, Redis down or slow: the daemon says
 *      "down" after its redis-timeout, which config.c keeps below half
 *      of FG_STRICT_WAIT_MS; a socket that does not belong to the
 *      segment's owner): the rule's on-redis-down policy, its
 *      FG__RULE_FAIL_CLOSED bit.  Allow: the local bucket's answer
 *      stands (the host limits alone, as a host rule); deny: given back
 *      and denied.  FG_DECISION_FALLBACK says so.
 *
 * Overshoot.  Without leases, none: every admission took its cost from
 * the bucket in Redis, so over any window the fleet admits at most
 * capacity + rate x window (while Redis answers; during an outage with
 * on-redis-down allow, each host admits up to the rule on its own).
 * With "lease N" the daemon takes up to N tokens at once and spends the
 * rest on later requests (daemon/strict.c): tokens taken from Redis
 * before a window and spent in it are the only excess, so the fleet
 * admits at most the rule plus the leases outstanding at the window's
 * start: H x (N - 1) tokens a key for H hosts at cost 1.
 *
 * Cost: a connect, a write, a poll and a read on a Unix socket, plus the
 * daemon's Redis round trip (BENCHMARKS.md).  Never a lock; a worker
 * killed mid-request leaves only a closed socket.
 */
#include "lib/strict.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/gcra.h"

/* Whether the peer of @fd is a process we may take answers from: the
 * daemon attached as the segment's owner (which runs as its own user),
 * root, ourselves, or the owner of the segment's file.  Anybody else
 * may have bound the name in a shared directory first. */
static int peer_trusted(const fg_client *c, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	struct stat st;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    len != sizeof cr)
		return 0;
	if (cr.uid == 0 || cr.uid == geteuid() ||
	    (uint64_t)cr.pid ==
	        __atomic_load_n(&c->seg.tbl.hdr->owner_pid, __ATOMIC_RELAXED))
		return 1;
	return fstat(c->seg.fd, &st) == 0 && st.st_uid == cr.uid;
}

/* Wait for @ev on @fd until @deadline (ns): 1 ready, 0 not in time. */
static int wait_for(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = ev};
		uint64_t now = fg__now_ns();
		int r;

		if (now >= deadline)
			return 0;
		r = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

/* Read the reply into @rep until @deadline: 0, or -1. */
static int read_reply(int fd, struct fg__strict_rep *rep, uint64_t deadline)
{
	size_t got = 0;

	while (got < sizeof *rep) {
		ssize_t n;

		if (!wait_for(fd, POLLIN, deadline))
			return -1;
		n = recv(fd, (char *)rep + got, sizeof *rep - got, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return rep->magic == FG_STRICT_MAGIC ? 0 : -1;
}

/* Ask the daemon: its verdict, FG_STRICT_DOWN when none came in time. */
static unsigned ask(fg_client *c, const struct fg__strict_req *q,
                    uint64_t deadline, uint64_t *debt_ns)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fg__strict_rep rep;
	unsigned v = FG_STRICT_DOWN;
	int fd, n;

	n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s" FG_STRICT_SUFFIX,
	             c->seg.path);
	if (n < 0 || (size_t)n >= sizeof sa.sun_path)
		return v;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return v;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 &&
	    (errno != EINPROGRESS || !wait_for(fd, POLLOUT, deadline)))
		goto out;
	if (!peer_trusted(c, fd) ||
	    send(fd, q, sizeof *q, MSG_NOSIGNAL) != (ssize_t)sizeof *q ||
	    read_reply(fd, &rep, deadline) != 0 || rep.verdict > FG_STRICT_DOWN)
		goto out;
	v = rep.verdict;
	*debt_ns = rep.debt_ns > FG_TAU_MAX ? FG_TAU_MAX : rep.debt_ns;
out:
	close(fd);
	return v;
}

int fg__strict_check(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                     const void *key, size_t len, uint32_t cost, fg_decision *d)
{
	uint64_t now = fg__now_ns(), debt = 0,
	         back = (uint64_t)cost * rc->interval_ns;
	struct fg__strict_req q = {.magic = FG_STRICT_MAGIC, .cost = cost};
	unsigned v;

	if (!fg__check_at(c, idx, rc, key, len, cost, now, d))
		return 0; /* 1: the pre-filter denies, no round trip */
	q.rule_len = c->name_len[idx];
	q.key_len = (uint8_t)len;
	memcpy(q.rule, c->names[idx], q.rule_len);
	memcpy(q.key, key, len);
	v = ask(c, &q, now + (uint64_t)FG_STRICT_WAIT_MS * 1000000u, &debt);
	if (v == FG_STRICT_GRANT) { /* 3; from a lease: nothing to mirror */
		if (debt != 0)
			(void)fg__settle(c, idx, key, len, 0, debt);
		return 1;
	}
	if (v == FG_STRICT_DOWN && !(rc->flags & FG__RULE_FAIL_CLOSED)) {
		if (d) /* 4: allow: the local answer stands */
			d->flags |= FG_DECISION_FALLBACK;
		return 1;
	}
	(void)fg__settle(c, idx, key, len, back, debt);
	if (d) {
		d->remaining = 0;
		d->retry_after_ms = fg__ns_to_ms_ceil(
		    debt > rc->tau_ns - back ? debt - (rc->tau_ns - back)
		                             : rc->interval_ns);
		d->flags |= v == FG_STRICT_DOWN ? FG_DECISION_FALLBACK : 0;
	}
	return 0;
}
