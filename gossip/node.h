/* SPDX-License-Identifier: ISC */
/*
 * node.h - the gossip engine: what one floodgated knows, and how it
 * gossips it.  Socket-free: the daemon (daemon/floodgated.c), the tests'
 * simulated network (tests/sim.h) and the benches drive it with datagrams
 * and the monotonic clock, and it hands back datagrams to send.
 *
 * A node owns a segment.  Each round it harvests what its workers
 * consumed on global rules (harvest.c) into its own cumulative counts
 * (counts.c), and sends the counts that changed as one batch (xmit.c) to
 * every member, or to its children in the batch's two trees (spread.c),
 * who forward what they accept for the first time to theirs.  A received
 * count debits only its increase over the highest seen from that origin
 * (counts.c), and a node that finds it lacks some of an origin's
 * versions asks the origin for them (sync.c).
 * Liveness is SWIM's (members.c); a ping carries our digest of the member
 * pinged, so the round robin of probes is the round robin of digests.
 *
 * Modules depend downward only, and each owns its state and constants:
 *
 *     node ── sync ── counts ── harvest ── topdenied
 *        │      └──── members ── xmit ── wire ── seal, pairwise
 *        └── replay      └── spread         ledger, addr (below counts,
 *                                           members)
 *
 * Incarnations.  A node's counts, versions and seqs belong to its
 * incarnation; receivers take a higher incarnation's counts afresh.  A
 * restart keeps the incarnation when its counts go on where the
 * previous daemon left them: the harvest's state file (the baselines,
 * and the keep: versions, total, seqs reserved, the journal of the take
 * under way: harvest.h) and our ledger (PATH-local, bound to the
 * segment and to our key) are the previous daemon's.  Every change to
 * them is a store to those mapped files, so a daemon killed at any
 * instant, even between its harvest and its send, loses nothing: what
 * it took and did not send is sent by the next, once.  Otherwise (the
 * first start, a state file lost or of an older format, a new key) the
 * start is a new incarnation, and what the previous one took but never
 * sent is lost to the others.  A new one is the caller's guess (the
 * daemon's wall clock), raised above the last one this node used on
 * this segment.  The wall clock decides nothing: a member that pings us
 * or asks us for a repair names the incarnation it knows us by (its
 * digest), and a node that learns it is known by a later one than its
 * own moves past it at once, so a clock set back across a reboot costs
 * at most the time until the next such datagram (a probe cycle), never
 * a split.
 *
 * Time enters only as arguments (monotonic ms), so tests drive rounds.
 */
#ifndef FGD_NODE_H
#define FGD_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/counters.h"
#include "gossip/counts.h"
#include "gossip/harvest.h"
#include "gossip/members.h"
#include "gossip/replay.h"
#include "gossip/sync.h"
#include "gossip/wire.h"
#include "gossip/xmit.h"
#include "lib/floodgate.h"

struct fgd_buf; /* util/buf.h */

#define FGD_FLOOD_HEARTBEATS 3u /* heartbeats after a change forwarded */
#define FGD_FLOOD_QUIET      2u /* quiet rounds after a change: a heartbeat */

struct fgd_node {
	fg_client *fg;
	const struct fgw_keyring *kr; /* ours: &x.ring */
	struct fgd_counters ctr;
	struct fgd_xmit x;
	struct fgd_harvest harvest;
	struct fgd_counts counts;
	struct fgd_members members;
	struct fgd_sync sync;
	struct fgw_replay *replay;        /* per keyring entry: relayed */
	struct fgw_replay *replay_direct; /* and the others */
	struct fgw_roots roots;           /* seal roots verified (seal.h) */
	uint64_t rounds;
	uint64_t changed_round;  /* the last round that sent a change; 0 none */
	uint64_t scrape_next_ns; /* the daemon's: a scrape may harvest then */
	/* the daemon's: more families for /metrics after the node's (its
	 * Redis transport's, daemon/redisview.h); NULL: none */
	void (*metrics_more)(struct fgd_buf *b, const void *arg,
	                     uint64_t now_ms);
	const void *metrics_arg;
};

struct fgd_node_params {
	uint64_t incarnation; /* a first guess: see the incarnations above */
	size_t max_datagram;
	uint32_t interval_ms;
	size_t npeers;
	/* Where the harvest baseline and the keep (PATH), our counts
	 * (PATH-local) and the marks of other nodes' counts (PATH-remote)
	 * survive a daemon restart: files beside the segment.  NULL: memory
	 * only. */
	const char *state_path;
	size_t ledger_max;       /* marks of others kept; 0: the default */
	uint32_t debt_window_ms; /* 0: FGD_DEBT_WINDOW_MS */
	char *err;               /* why init failed, when it says */
	size_t errlen;
	/* Init without a secret key (@sk NULL): our key pair is in another
	 * process, which proves what we send (xmit.h) and made these: the
	 * remote ledger's id key, and our rx-only pairwise table (taken
	 * over: freed with the node; NULL: everything is signed). */
	const uint8_t *ledger_key;
	struct fgw_pairwise *pw_rx;
	fgd_prove_fn *prove;
	void *prove_arg;
};

/* @fg: the segment (this node owns it); @kr the keyring, @sk and @pk our
 * keys (kept by reference: they must outlive the node); @sk NULL: see
 * the params' prove.  0 or -1. */
int fgd_node_init(struct fgd_node *n, fg_client *fg,
                  const struct fgw_keyring *kr, const uint8_t *sk,
                  const uint8_t pk[FGW_PK_SIZE],
                  const struct fgd_node_params *p);
void fgd_node_fini(struct fgd_node *n);

/* Attach a network (members.h).  0, or -1 out of memory. */
int fgd_node_set_net(struct fgd_node *n, const struct fgd_net *net);

/* Add what the workers consumed since the last harvest to our counts;
 * floor what no longer matters; relieve table pressure. */
void fgd_node_harvest(struct fgd_node *n, uint64_t now_ms);

/* Sign and hand to @send the datagrams of this round: the counts that
 * changed since the last round, as one batch; every FGD_HEARTBEAT_EVERY
 * rounds at least an empty one.  With @full, every count that still
 * matters, as the batch (0, version]: what a node without a network to
 * ask for repairs can be sent.  Returns the number of datagrams. */
size_t fgd_node_emit(struct fgd_node *n, uint64_t now_ms, int full,
                     fgd_send_fn *send, void *arg);
/* fgd_node_emit, with MAC'd copies sealed by @seal (struct fgd_batch,
 * xmit.h) before any signed one goes to @send. */
size_t fgd_node_emit_sealed(struct fgd_node *n, uint64_t now_ms, int full,
                            fgd_send_fn *send,
                            int (*seal)(void *arg, const struct fgw_writer *w),
                            void *arg);

/* One round on the attached network (harvest first): this round's
 * datagrams to `fanout` live members, announcements, a SWIM step, and the
 * sync requests due.  Returns the number of datagrams of the round. */
size_t fgd_node_tick(struct fgd_node *n, uint64_t now_ms);

/* Check and take one datagram that came from @from (NULL: unknown):
 * FGW_OK, or why it was dropped (counted).  Probes are answered, and a
 * consumption datagram accepted first is forwarded to `fanout` others. */
enum fgw_drop fgd_node_receive_from(struct fgd_node *n, const uint8_t *buf,
                                    size_t len, const struct fgd_addr *from,
                                    uint64_t now_ms);
enum fgw_drop fgd_node_receive(struct fgd_node *n, const uint8_t *buf,
                               size_t len, uint64_t now_ms);

/* Someone knows us by incarnation @known, later than ours (a member's
 * digest, or the Redis transport): move past it, so that what we send is
 * not dropped as our own past (see the incarnations above). */
void fgd_node_learn_incarnation(struct fgd_node *n, uint64_t known);

/* What this node thinks of keyring entry @origin at @now_ms. */
enum fgd_peer_state fgd_node_peer_state(const struct fgd_node *n, int origin,
                                        uint64_t now_ms);

/* Table pressure only (harvest.h); returns how many were evicted. */
uint64_t fgd_node_evict(struct fgd_node *n);

/* Forget what expired; call now and then. */
void fgd_node_expire(struct fgd_node *n, uint64_t now_ms);

/* The round interval in ms, at least 1: the unit of every timeout. */
static inline uint64_t fgd_interval_ms(const struct fgd_node *n)
{
	return n->members.interval_ms;
}

/* Our own count of (rule, key), or NULL (tests, operators). */
struct fgd_local *fgd_node_count(struct fgd_node *n, const char *rule,
                                 const void *key, size_t len);
/* The mark of @origin_id's (rule, key), or NULL (control, snapshots). */
struct fgd_remote *fgd_node_mark(struct fgd_node *n, uint64_t origin_id,
                                 const char *rule, size_t rule_len,
                                 const void *key, size_t key_len);
void fgd_node_mark_id(const struct fgd_node *n, uint64_t origin_id,
                      const char *rule, size_t rule_len, const void *key,
                      size_t key_len, uint64_t id[2]);

#endif
