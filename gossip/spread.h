/* SPDX-License-Identifier: ISC */
/*
 * spread.h - where a relayed datagram goes: two trees over the keyring.
 *
 * Random push ("infect and die": forward the first copy to `fanout` members
 * drawn at random) misses about e^-fanout of the nodes with every datagram,
 * loss or no loss: 5 % at fanout 3, so at 1000 nodes some node misses every
 * round and waits for a repair.  Here the members instead forward along
 * trees that every node computes alike from what the datagram says, so that
 * without loss every member gets every datagram, in one round, and each
 * about twice, whatever N:
 *
 *   - The members but the origin stand in a ring ordered by public key,
 *     starting after the origin (the order of the keyring file does not
 *     matter, its set does).
 *   - A batch (its seq of part 0, seq - part, which every part carries) and
 *     its origin pick a rotation r of that ring; tree 0 lays the ring,
 *     rotated by r, into a complete heap of arity `fanout` under the origin
 *     (position p has children fanout x p + 1 .. fanout x p + fanout), tree
 *     1 the same with the rotation moved half way round.  Every batch of
 *     an origin takes new trees, so the inner nodes change from batch to
 *     batch.
 *   - A node that accepts a datagram for the first time sends it to its
 *     children in both trees.  For fanout >= 2 the inner positions of the
 *     two trees are disjoint stretches of the ring, so a node is inner in
 *     one tree at most, and one silent node cuts nobody off: its subtree
 *     hears through the other tree.
 *   - A child that this node cannot reach (no address, or suspect or dead
 *     by its probes) is passed over: its children take its place, within a
 *     bound of positions looked at (FGD_SPREAD_VISIT) and of destinations
 *     (the caller's).
 *
 * Cost: each datagram travels 2 (N - 1) times in all, the origin sends at
 * most 2 x fanout copies and an inner node fanout, and the depth is
 * log_fanout N hops.  Loss on a path costs its subtree the datagram in one
 * tree; a node misses it only if both its paths lose it, and then learns
 * of its gap from the next datagram or flooded heartbeat of the origin and
 * asks for a repair (sync.c).  Nodes whose keyrings differ compute other
 * trees: some then miss datagrams and are repaired; nothing is debited
 * twice (the counts are cumulative, counts.h).
 *
 * Immutable after fgd_spread_init(): per keyring, rebuilt with it.
 */
#ifndef FGD_SPREAD_H
#define FGD_SPREAD_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/keys.h"

#define FGD_SPREAD_VISIT 64u /* positions looked at past unreachable ones */

struct fgd_spread {
	size_t n;          /* keyring entries */
	uint32_t *rank;    /* keyring index -> place in public key order */
	uint32_t *at_rank; /* and back */
};

/* 0, or -1 out of memory. */
int fgd_spread_init(struct fgd_spread *s, const struct fgw_keyring *kr);
void fgd_spread_fini(struct fgd_spread *s);

/* Whether to send to keyring entry @member (the caller's view): > 0 yes;
 * 0 it cannot be reached, its children take its place; < 0 no, it has
 * the datagram (the node it came from). */
typedef int fgd_reach_fn(void *arg, int member);

/*
 * The members keyring entry @self sends a datagram of batch @base of
 * @origin to: its children in the two trees of arity @fanout (>= 1), the
 * unreachable ones replaced by their own children.  Up to @max distinct
 * keyring indices into @out (never @self or @origin); returns how many.
 * *@passed (if not NULL): how many children could not be reached (0 for
 * a leaf of both trees); more than 0 with none returned: nobody could.
 */
size_t fgd_spread_children(const struct fgd_spread *s, int origin,
                           uint64_t base, int self, unsigned fanout,
                           fgd_reach_fn *reach, void *arg, int *out, size_t max,
                           size_t *passed);

#endif
