/* SPDX-License-Identifier: ISC */
/*
 * breaker.h - the circuit breaker in front of Redis: closed while Redis
 * answers within its deadline; open from the first exchange that failed
 * (a timeout, a refused connection, an error reply, a reply that is not
 * the script's), when the node stops asking and global rules decide on
 * local state alone, as during a gossip partition; half-open while a
 * probe (connect, handshake, one exchange) is under way.
 *
 * A probe comes after a backoff that doubles from FGR_BACKOFF_MIN_MS to
 * FGR_BACKOFF_MAX_MS with each failed one, at a random point of its
 * second half, so that a fleet whose Redis came back does not knock all
 * at once.  A probe that succeeds closes the breaker, and the exchange it
 * made is already the catch-up: it pushes what changed since the last
 * push Redis took and pulls what changed since the cursors (transport.h).
 *
 * Pure: time and randomness come in as arguments, so the tests drive it.
 */
#ifndef FGR_BREAKER_H
#define FGR_BREAKER_H

#include <stdint.h>

#define FGR_BACKOFF_MIN_MS 200u
#define FGR_BACKOFF_MAX_MS 10000u

enum fgr_breaker_state { FGR_CLOSED, FGR_OPEN, FGR_HALF_OPEN };

struct fgr_breaker {
	enum fgr_breaker_state state;
	uint64_t since_ms;   /* when it entered the state */
	uint64_t opened_ms;  /* when it last opened */
	uint64_t probe_ms;   /* open: when the next probe may start */
	uint32_t backoff_ms; /* open: the wait that led to probe_ms */
	uint64_t opens, probes, failures, successes;
};

void fgr_breaker_init(struct fgr_breaker *b, uint64_t now_ms);

/* May an attempt start now?  Closed: yes.  Open: once probe_ms has come,
 * and it is then half-open (a probe, counted). */
int fgr_breaker_allow(struct fgr_breaker *b, uint64_t now_ms);

/* The attempt succeeded: closed.  1 if that closed an open breaker. */
int fgr_breaker_success(struct fgr_breaker *b, uint64_t now_ms);

/* The attempt failed: open, the next probe after the backoff (@rnd picks
 * the point in its second half).  1 if that opened a closed breaker. */
int fgr_breaker_failure(struct fgr_breaker *b, uint64_t now_ms, uint32_t rnd);

const char *fgr_breaker_name(enum fgr_breaker_state s);

#endif
