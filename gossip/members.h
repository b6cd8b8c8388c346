/* SPDX-License-Identifier: ISC */
/*
 * members.h - who the members are, where they listen, whether they live,
 * and to whom a datagram goes.
 *
 * Addresses.  A member's address is taken only from a membership datagram
 * signed by that member (every ping, ack, ping-req and announcement names
 * the address its origin listens on), and only if it is newer, by
 * (incarnation, seq), than the one we hold: a relay, a replay or a
 * stranger cannot redirect a member's traffic.  The config's peers are
 * seeds: addresses of no known identity, sent to until a member is found
 * listening there.  Each node re-sends a few of the announcements it
 * holds every round, so a node that knows one seed learns every member.
 *
 * Fanout.  Each round's datagrams go to our children in the two trees of
 * their batch (spread.h: `fanout` is their arity), and a consumption
 * datagram of another origin accepted for the first time, as the replay
 * window tells, goes on unchanged to ours in its trees: without loss every
 * member gets it in the round it is sent, about twice, and it costs
 * 2 (N - 1) sends in all.  A duplicate is dropped by the window and never
 * forwarded, so forwarding ends, and a relay cannot alter what it forwards
 * (the origin's signature would fail).  Members with no address, suspect
 * or dead are passed over (their children take their place); a node that
 * can reach none of its children (no member announces an address) sends to
 * `fanout` members or seeds drawn at random instead, never to the origin
 * or to the node it came from: the design before the trees, which
 * fgd_net.random_push keeps for the benches to compare.  fanout 0 is the
 * full mesh: every member, every round, each its own copy under the MAC of
 * the key we share with it, and nothing forwarded.
 *
 * Liveness.  A member is alive while it was heard within
 * FGD_SUSPECT_ROUNDS, suspect once a probe fails after that much
 * silence, and dead after FGD_DEAD_ROUNDS of silence; talking again makes
 * it alive.  Probes are SWIM's: each round one member is pinged (round
 * robin); no ack by the next round, FGD_PING_REQ_K others are asked to
 * ping it for us, and forward its ack, signed by the member itself, so a
 * helper cannot vouch for a dead one; no ack within 2.5 rounds, the probe
 * failed.  A failed probe only confirms what silence says: one late ack
 * on a busy host must not make a member flap.  Suspicion is this node's
 * own view and is not gossiped, so a member never needs to refute it.
 * A ping carries what the owner puts in it (node.c: our digest of the
 * member, which answers with a repair when we are behind it).
 *
 * Bounds: one table entry per keyring entry, one probe and one pending
 * ping-req per member, a scratch array of keyring + seeds addresses.
 */
#ifndef FGD_MEMBERS_H
#define FGD_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/addr.h"
#include "gossip/counters.h"
#include "gossip/spread.h"
#include "gossip/wire.h"
#include "gossip/xmit.h"

#define FGD_HEARTBEAT_EVERY    10u /* rounds: an empty datagram at least */
#define FGD_SUSPECT_ROUNDS     30u /* of silence: suspect, once a probe fails */
#define FGD_DEAD_ROUNDS        100u /* of silence: dead */
#define FGD_PING_REQ_K         3    /* members asked to probe indirectly */
#define FGD_ANNOUNCE_PER_ROUND 2    /* others' announcements re-sent */
#define FGD_FANOUT_AUTO_ALL    8    /* a cluster this small: send to all */
#define FGD_FANOUT_AUTO        3
#define FGD_FORWARD_MAX        32 /* destinations of one datagram, at most */

enum fgd_peer_state {
	FGD_PEER_UNKNOWN,
	FGD_PEER_ALIVE,
	FGD_PEER_SUSPECT,
	FGD_PEER_DEAD
};

/* What this node knows of one keyring member. */
struct fgd_member {
	struct fgd_addr addr;         /* len 0: unknown */
	uint64_t addr_inc, addr_seq;  /* version of the signed word for it */
	uint8_t ann[FGW_MEMBER_SIZE]; /* its latest announcement, verified */
	size_t ann_len;
	uint64_t ann_inc, ann_seq;
	uint64_t heard_ms; /* its last datagram that passed; 0: never */
	uint8_t swim;      /* enum fgd_peer_state by probes */
	uint8_t probe;     /* 0 none, 1 direct, 2 indirect */
	uint64_t suspect_ms, probe_ms, probe_nonce;
	int relay_to; /* a ping-req asked us to probe it: who, or -1 */
	uint64_t relay_nonce, relay_ms;
};

/* Where the node is on the network (floodgated's, or a simulation's). */
struct fgd_net {
	const struct fgd_addr *self;  /* announced; NULL or len 0: none */
	const struct fgd_addr *seeds; /* the config's peers */
	size_t nseeds;
	unsigned fanout; /* 0: every member, no forwarding */
	int random_push; /* 1: fanout random members, not the trees */
	fgd_sendto_fn *send;
	void *arg;
};

/* What a ping is for the owner to fill in (a digest), before it goes. */
typedef void fgd_ping_fn(void *arg, int member, struct fgw_member *m);

struct fgd_members {
	struct fgd_xmit *x;
	struct fgd_member *mem; /* per keyring entry */
	size_t n;
	struct fgd_addr self_addr;
	struct fgd_addr *seeds;
	int *seed_member; /* per seed: the member found there, or -1 */
	size_t nseeds;
	unsigned fanout;
	int random_push;
	struct fgd_spread spread;     /* the trees over our keyring */
	const struct fgd_addr **cand; /* scratch: kr->n + nseeds */
	int *cand_member;             /* per cand: keyring index, -1: seed */
	uint8_t *cand_done;           /* per cand: sent a MAC'd copy */
	size_t ncand;                 /* of this round */
	uint64_t rng;
	size_t probe_next, ann_next; /* round robins, from a random start */
	unsigned phase; /* of our heartbeats: in rounds r + phase = 0 mod */
	uint64_t interval_ms; /* the unit of every timeout, at least 1 */
	uint64_t started_ms;  /* the first tick: "heard" for the unheard */
	fgd_ping_fn *on_ping;
	void *on_ping_arg;
	struct fgd_counters *ctr;
};

/* One entry per keyring entry of @x.  0 or -1 (no memory). */
int fgd_members_init(struct fgd_members *mb, struct fgd_xmit *x,
                     uint32_t interval_ms, struct fgd_counters *ctr);
void fgd_members_fini(struct fgd_members *mb);

/* Attach a network: where we listen (announced), the seeds, the fanout
 * and how to send.  Copies what it needs; call again after a reload.
 * 0, or -1 out of memory. */
int fgd_members_set_net(struct fgd_members *mb, const struct fgd_net *net);

/* The fanout a cluster of @members keyring entries gets by default. */
unsigned fgd_fanout_auto(size_t members);

/* What this node thinks of keyring entry @i at @now_ms. */
enum fgd_peer_state fgd_members_state(const struct fgd_members *mb, int i,
                                      uint64_t now_ms);
const char *fgd_peer_state_name(enum fgd_peer_state s);

/* Member @i's datagram passed: it talks, so it is alive. */
void fgd_members_heard(struct fgd_members *mb, int i, uint64_t now_ms);

/* 1 if @buf is byte for byte an announcement already verified and kept:
 * nothing to verify or do. */
int fgd_members_known(const struct fgd_members *mb, const uint8_t *buf,
                      size_t len);

/* An opened announcement: kept if newer than the one we have (no replay
 * window: announcements are re-sent by others, idempotent by version). */
enum fgw_drop fgd_members_announce(struct fgd_members *mb,
                                   const struct fgw_view *v);

/* An opened, fresh membership datagram of member @v->origin but an
 * announcement, whose body is @m, that came from @from (NULL: not known):
 * the address it signs is learned, a ping answered with an ack, an ack
 * or ping-req followed.  1 if it is a ping or a sync request for us, whose
 * digest the owner answers (sync.c); else 0. */
int fgd_members_receive(struct fgd_members *mb, const struct fgw_view *v,
                        const struct fgw_member *m, const struct fgd_addr *from,
                        uint64_t now_ms);

/* Sign a membership datagram of ours (our address filled in) and send it
 * to @to. */
void fgd_members_send(struct fgd_members *mb, const struct fgd_addr *to,
                      struct fgw_member *m);

/* Forward @v, accepted for the first time, unchanged to our children in
 * the trees of its batch, never to its origin or the sender @from. */
void fgd_members_forward(struct fgd_members *mb, const struct fgw_view *v,
                         const struct fgd_addr *from, uint64_t now_ms);

/*
 * A round's destinations: our children in the trees of the batch about to
 * be sent (its part 0 takes our next relayed seq), or every member with
 * fanout 0.  Then hand
 * fgd_members_round_send and fgd_members_round_seal (with the members as
 * their argument) to the batch of the round (xmit.h): each destination we
 * share a MAC key with gets its own sealed copy, the others the signed
 * one.  Returns how many destinations.
 */
size_t fgd_members_round(struct fgd_members *mb, uint64_t now_ms);
void fgd_members_round_send(void *mb, const uint8_t *buf, size_t len);
int fgd_members_round_seal(void *mb, const struct fgw_writer *w);

/* After a round: our announcement (with @own) and a few of others', and
 * a SWIM step: the probes in flight, and a new one. */
void fgd_members_tick(struct fgd_members *mb, int own, uint64_t now_ms);

#endif
