/* SPDX-License-Identifier: ISC */
/*
 * lease.h - an in-flight limit's bucket in one word (internal).
 *
 * A rule of the in-flight kind (FG__RULE_IN_FLIGHT) admits at most N
 * requests of a key at once: fg_acquire() takes a lease, fg_release()
 * gives it back.  Its bucket is a slot of the table like any other, and
 * its state fits in the tat half of the slot's pair, so that taking and
 * giving back a lease are each one cmpxchg16b (and taking one adds to the
 * word's grow-only count, as an admission does).
 *
 * A worker killed while it holds a lease never gives it back, so a lease
 * also ends by itself.  Time is cut into epochs of E ns (the rule's lease,
 * rounded up to a multiple of FG_LEASE_QUANTUM_NS); a lease counts in the
 * epoch it was taken in and in the next, and then no more.  The bucket
 * keeps two counters, the leases of its epoch e and those of e - 1:
 *
 *   tat = (e + 2) * E | cur << 12 | prev      (cur, prev: 0..4095)
 *
 * (e + 2) * E is a multiple of 2^24, so the counters take its low 24 bits,
 * and it is the moment the last lease counted expires: a bucket whose tat
 * is before the clock holds no lease, which is what eviction asks of a
 * full bucket (shm/table.c), unchanged.  Read at a time of epoch n: n = e,
 * as stored; n = e + 1, cur becomes prev; later, both are 0.  A clock
 * reading earlier than e (a process that read it before another moved
 * the bucket on) reads the state as stored.  A lease records the epoch it
 * was counted in, and giving it back takes it from cur or prev if that
 * epoch is still one of the two, else from nothing (it had ended).
 *
 * So a lease counts from its fg_acquire() until its fg_release() or until
 * between E and 2E later, whichever comes first; that of a process killed
 * while holding it comes back within 2E.  Counts are exact: a counter is
 * moved only by the cmpxchg16b of a take or a give-back that read it.
 * When the owner changes a rule's lease, E changes under the stored
 * epochs: leases taken before end within twice the longer of the two.
 */
#ifndef FG_SHM_LEASE_H
#define FG_SHM_LEASE_H

#include <stdint.h>

#define FG_LEASE_QUANTUM_NS (UINT64_C(1) << 24)   /* 16.777216 ms */
#define FG_LEASE_COUNT_MAX  4095u                 /* a counter's 12 bits */
#define FG_LEASE_MAX_MS     (24u * 3600u * 1000u) /* a day */

/* The two counters of a bucket, brought to an epoch. */
struct fg_leases {
	uint64_t epoch; /* e: cur counts the leases of e, prev of e - 1 */
	unsigned cur, prev;
};

/* E for a lease of @ms (1..FG_LEASE_MAX_MS): ms rounded up to a multiple
 * of the quantum. */
static inline uint64_t fg__lease_epoch_ns(uint64_t ms)
{
	uint64_t ns = ms * 1000000u;

	return (ns + FG_LEASE_QUANTUM_NS - 1) & ~(FG_LEASE_QUANTUM_NS - 1);
}

/* The leases held in a bucket whose tat is @tat, at @now (a time of
 * epoch @n = now / E, which the caller has computed). */
static inline void fg__leases_at(uint64_t tat, uint64_t n, uint64_t E,
                                 struct fg_leases *l)
{
	uint64_t end = tat & ~(FG_LEASE_QUANTUM_NS - 1), e;

	l->cur = (unsigned)(tat >> 12) & 0xfffu;
	l->prev = (unsigned)tat & 0xfffu;
	l->epoch = n;
	if (l->cur + l->prev == 0 || end / E < 2)
		l->cur = l->prev = 0; /* fresh, or held nothing */
	else if ((e = end / E - 2) >= n)
		l->epoch = e; /* as stored (or our clock is behind it) */
	else if (e + 1 == n) {
		l->prev = l->cur; /* one epoch on */
		l->cur = 0;
	} else {
		l->cur = l->prev = 0; /* all ended */
	}
}

static inline unsigned fg__leases_held(const struct fg_leases *l)
{
	return l->cur + l->prev;
}

/* The tat that holds @l. */
static inline uint64_t fg__leases_tat(const struct fg_leases *l, uint64_t E)
{
	return (l->epoch + 2) * E | (uint64_t)l->cur << 12 | l->prev;
}

/* ns from @now until a lease of @l ends by itself (the oldest), and
 * until all have (0 when none is held). */
static inline uint64_t fg__leases_next_end(const struct fg_leases *l,
                                           uint64_t E, uint64_t now)
{
	uint64_t at = (l->epoch + (l->prev ? 1 : 2)) * E;

	return fg__leases_held(l) && at > now ? at - now : 0;
}

static inline uint64_t fg__leases_all_end(const struct fg_leases *l, uint64_t E,
                                          uint64_t now)
{
	uint64_t at = (l->epoch + 2) * E;

	return fg__leases_held(l) && at > now ? at - now : 0;
}

#endif
