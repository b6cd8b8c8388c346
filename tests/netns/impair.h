/* SPDX-License-Identifier: ISC */
/*
 * impair.h - what the relay does to a packet on its way from node i to
 * node j: netem's loss, duplication, delay with jitter, reordering, and a
 * partition switch, per direction, in user space.
 *
 * Each directed link has its own settings, counters and random stream.
 * The stream is seeded from the relay's seed and the link, and every
 * packet draws the same number of values from it whatever the settings,
 * so a seed replays the same decisions for the same sequence of packets
 * on a link (the interleaving of live traffic is not replayed: timing is
 * the kernel's and the daemons').
 *
 * Per packet, in this order: a cut link drops it (cut); it is lost with
 * probability loss (lost); it is doubled with probability dup
 * (duplicated); each copy then goes out at once with probability reorder
 * (reordered: it overtakes those held back, as netem's "reorder") or is
 * held back for delay +- jitter, uniformly drawn (delayed).  A copy due
 * when its link has been cut since is dropped as cut.  The queue of held
 * copies is bounded (qmax); a copy that finds it full is dropped
 * (overflow).  Every copy is thus counted once in out, lost, cut,
 * overflow, errors or queued:
 *
 *   in + duplicated == out + lost + cut + overflow + errors + queued
 *
 * which fgn_impair_balanced() checks.
 */
#ifndef FGN_IMPAIR_H
#define FGN_IMPAIR_H

#include <stddef.h>
#include <stdint.h>

#define FGN_MAX_NODES 16
#define FGN_MTU       1500 /* the TUN devices' MTU: no IPv4 packet is longer */
#define FGN_PPM       1000000u /* probabilities are in parts per million */

struct fgn_params {
	uint32_t loss, dup, reorder; /* ppm */
	uint32_t delay_us, jitter_us;
	int cut;
};

struct fgn_counters {
	uint64_t in, out, lost, duplicated, delayed, reordered, cut, overflow,
	    errors;
};

struct fgn_link {
	struct fgn_params p;
	struct fgn_counters c;
	uint64_t rng;
};

struct fgn_held {
	uint64_t at, seq; /* due (monotonic ns); order of equals */
	uint16_t from, to, len;
	uint8_t buf[FGN_MTU];
};

/* Write @len bytes to node @to's device; 0, or -1 (counted as an error). */
typedef int (*fgn_send_fn)(void *arg, unsigned to, const uint8_t *buf,
                           size_t len);

struct fgn_impair {
	unsigned n;
	uint64_t seed;
	struct fgn_link link[FGN_MAX_NODES][FGN_MAX_NODES];
	unsigned qmax, nq;
	uint64_t seq;
	struct fgn_held *slot; /* qmax of them */
	uint32_t *heap;        /* nq slot indices, earliest due first */
	uint32_t *spare;       /* qmax - nq free slot indices */
	fgn_send_fn send;
	void *arg;
};

/* 0, or -1 when out of memory. */
int fgn_impair_init(struct fgn_impair *im, unsigned n, unsigned qmax,
                    uint64_t seed, fgn_send_fn send, void *arg);
void fgn_impair_fini(struct fgn_impair *im);

/* A packet from node @from to node @to, at monotonic time @now_ns. */
void fgn_impair_packet(struct fgn_impair *im, unsigned from, unsigned to,
                       const uint8_t *buf, size_t len, uint64_t now_ns);

/* Send what is due at @now_ns; the time the next copy is due, or
 * UINT64_MAX when none is held. */
uint64_t fgn_impair_release(struct fgn_impair *im, uint64_t now_ns);

/* The counters of every link, summed, with the copies still queued. */
void fgn_impair_total(const struct fgn_impair *im, struct fgn_counters *sum,
                      uint64_t *queued);

/* 1 if every copy is accounted for (the equation above). */
int fgn_impair_balanced(const struct fgn_impair *im);

#endif
