/* SPDX-License-Identifier: ISC */
/*
 * sync.h - the digest exchange: how a node finds out what it missed of an
 * origin's records, and gets it from the origin.
 *
 * Scuttlebutt's idea with the origin as the one who answers.  Every
 * change of an origin's record takes the origin's next version (counts.c),
 * and each round's datagrams form a batch covering the versions since the
 * previous round, (from, to], in parts 0..n-1, the last one flagged.  A
 * receiver keeps, per origin, `have`: it holds every part of every batch
 * up to that version.  A batch whose `from` it has reached and whose parts
 * it all holds moves `have` to the batch's `to`; batches that arrive early
 * (reordering, relays) wait in a few pending slots until they join up.
 *
 * The digest is (origin's incarnation, have).  A node sends it to each
 * member in its SWIM pings, which go round robin, and to an origin it has
 * been behind for FGD_SYNC_GRACE rounds in a sync request (it learns the
 * origin's latest version from every datagram's `to`).  A round or a
 * flooded heartbeat whose `from` is past `have` asks on receipt, with no
 * grace: the rounds it lacks went out a round ago or more, nothing of them
 * is still on its way, and the repair then comes in the round that showed
 * the gap (a gap within a batch, whose parts may still be in flight,
 * waits the grace).  The origin
 * answers a digest below its version with a repair: every record changed
 * after `have` that still matters (count above floor), in version order,
 * each datagram a batch of its own (so that each one that arrives is
 * progress), flagged FGW_F_REPAIR and never forwarded; to a node that holds
 * part of our history, records that became all floor since go too, so
 * that a node that lost the datagram saying so forgets its mark.  It goes under
 * a MAC of the key we share with the requester (gossip/pairwise.h; signed when
 * there is none), to the address the requester signed (or, in a cluster that
 * does not announce addresses, to where its request came from).  Without a
 * known address for an origin, a request goes to the seeds no member was found
 * at (a few at a time): only the origin answers it.  A record that no longer
 * matters is left out: a node without it debits nothing for it anyway (node.c).
 * So the lost datagram, the node that joined late, restarted, or was cut off by
 * a partition all get the same thing: what they lack, once.
 *
 * Why the origin and not any node: records carry their origin's proof
 * (a signature, or a MAC only their one recipient can check), and a third
 * node holds them only as datagrams of another shape; it cannot re-batch
 * them with proof.  Why not a periodic full re-send: it costs every
 * active key every period, to every node, most of which have it.
 *
 * A ping's digest lags by the rounds still in flight, so a ping is
 * answered only for what went out FGD_SYNC_GRACE rounds ago or earlier.
 *
 * Bounds: a repair holds at most FGD_REPAIR_MAX records (it then ends at
 * the last version sent, and the requester asks again for the rest); a
 * node answers one member at most once per FGD_SYNC_RETRY rounds and asks
 * one at most as often, so a request can never make a node send more than
 * one repair per period to its signed address.  A digest ahead of what we
 * have sent (a confused or compromised member) is ignored and counted.
 */
#ifndef FGD_SYNC_H
#define FGD_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/addr.h"
#include "gossip/counters.h"
#include "gossip/counts.h"
#include "gossip/members.h"
#include "gossip/wire.h"
#include "gossip/xmit.h"

#define FGD_SYNC_PENDING 8
#define FGD_SYNC_GRACE   2u    /* rounds behind before asking */
#define FGD_SYNC_RETRY   2u    /* rounds between two requests, or repairs */
#define FGD_REPAIR_MAX   4096u /* records per repair; the rest next time */
#define FGD_VER_HIST     8u    /* rounds of our versions kept (> GRACE) */

/*
 * How far this node holds an origin's records: every version up to
 * `have` of its incarnation `inc`.  Batches beyond it are collected in
 * `pend` until they join up.
 */
struct fgd_sync_origin {
	uint64_t inc, have;
	uint64_t latest;      /* the highest version heard of */
	uint64_t behind_ms;   /* since when have < latest; 0: not behind */
	uint64_t asked_ms;    /* our last request to it; 0: none */
	uint64_t answered_ms; /* our last repair for it; 0: none */
	struct fgd_pending {
		uint64_t from, to;
		uint64_t base;   /* seq of its part 0 */
		int repair;      /* a repair's (another seq space) */
		uint32_t got, n; /* parts held; n: 0 until the last is seen */
	} pend[FGD_SYNC_PENDING];
};

struct fgd_sync {
	struct fgd_sync_origin *o; /* per keyring entry */
	size_t n;
	size_t seed_next; /* where the next seed-wide request starts */
	uint64_t rounds;  /* ours sent so far */
	uint64_t ver_hist[FGD_VER_HIST]; /* our version after round r, at r % */
	struct fgd_counts *counts;       /* our records, for repairs */
	struct fgd_members *mb;          /* where origins and askers are */
	struct fgd_xmit *x;
	struct fgd_counters *ctr;
};

/* Per keyring entry state.  0 or -1. */
int fgd_sync_init(struct fgd_sync *sy, struct fgd_counts *counts,
                  struct fgd_members *mb, struct fgd_xmit *x,
                  struct fgd_counters *ctr);
void fgd_sync_fini(struct fgd_sync *sy);

/* A round of ours went out, covering our records up to @version. */
void fgd_sync_round(struct fgd_sync *sy, uint64_t version);

/* A datagram of @origin's incarnation @inc passed: a later one than we
 * knew is a new life, whose versions restart (and our digests name it,
 * so that a node restarted below its last incarnation learns of it). */
void fgd_sync_known(struct fgd_sync *sy, int origin, uint64_t inc);

/* An accepted consumption datagram of @origin: count its part of its
 * batch (if @whole: every record of it was recorded), and move `have` on
 * when batches join up. */
void fgd_sync_note(struct fgd_sync *sy, int origin, const struct fgw_view *v,
                   int whole, uint64_t now_ms);

/* Our digest of @origin, into a ping or a sync request. */
void fgd_sync_digest(const struct fgd_sync *sy, int origin,
                     struct fgw_member *m);

/* A digest of us from @origin (its ping or sync request, verified and
 * fresh, its address learned), which came from @from (NULL: unknown):
 * send it what it lacks. */
void fgd_sync_answer(struct fgd_sync *sy, int origin,
                     const struct fgw_member *m, const struct fgd_addr *from,
                     uint64_t now_ms);

/* Once a round: ask the origins we have been behind for a while.
 * Returns how many requests were sent. */
size_t fgd_sync_tick(struct fgd_sync *sy, uint64_t now_ms);

#endif
