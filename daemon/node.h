/*
 * node.h - what one floodgated knows, and how it gossips it.
 *
 * A node owns a segment.  Each round it harvests the consumption its
 * workers admitted on global rules (each slot's grow-only `consumed`
 * counter, against a per-slot baseline), adds it to its own cumulative
 * per-(rule, key) counts, and emits signed datagrams carrying the counts
 * that changed.  A received count is compared with the highest seen from
 * that origin for that key, and only the increase is debited from the
 * local bucket: duplicates, reordering and replays change nothing.
 *
 * What still matters: each count carries its floor, the part consumed
 * before the origin's own bucket was last seen full (fgd_node_harvest
 * looks every FGD_ABSORB_EVERY rounds).  Consumption below the floor is
 * forgotten by every bucket, so a node that never heard of a key (it just
 * joined, or forgot the key) debits only count - floor, not the
 * incarnation's whole history; and a ledger entry whose count is all
 * floor can be dropped at any time by sender and receiver alike.  A key
 * new in the ledger starts at count = floor = everything harvested so far
 * in the incarnation, above any mark a receiver may still hold for it.
 *
 * Repair (sync.c): every change takes the origin's next version; rounds
 * carry their version range, so a receiver knows up to which version it
 * holds an origin completely, and tells the origin so in its pings and,
 * when it finds itself behind, in a sync request.  The origin answers
 * with every record changed since then that still matters.  That is what
 * repairs loss and catches up a node that joined or came back.
 *
 * Dissemination and membership (members.c): with a network attached
 * (fgd_node_set_net), each round's datagrams go to `fanout` members
 * chosen at random among the live ones, and a consumption datagram of
 * another origin accepted for the first time is forwarded unchanged (its
 * origin's signature travels with it) to `fanout` others; duplicates are
 * never forwarded, so forwarding ends.  Liveness is SWIM's: a ping per
 * round, an indirect ping through FGD_PING_REQ_K others when no ack
 * comes, suspect when both fail, dead after a suspicion timeout, alive
 * as soon as the member talks again.  Addresses of members not in the
 * config are learned from their own signed announcements.
 *
 * Time enters only as arguments (monotonic ms), so tests drive rounds.
 */
#ifndef FGD_NODE_H
#define FGD_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/keymap.h"
#include "gossip/pairwise.h"
#include "gossip/replay.h"
#include "gossip/wire.h"
#include "lib/floodgate.h"

/* Absorbed counts (all floor) are dropped after this long idle, by the
 * origin (FGD_LOCAL_TTL_MS) and by receivers (FGD_REMOTE_TTL_MS): nothing
 * in them matters any more.  A receiver also drops a count still owed
 * after FGD_REMOTE_STALE_MS without news of it: its origin is gone, or
 * far away behind a partition (it would repair it on its return). */
#define FGD_LOCAL_TTL_MS     60000u
#define FGD_REMOTE_TTL_MS    120000u
#define FGD_REMOTE_STALE_MS  3600000u
#define FGD_HEARTBEAT_EVERY  10u /* rounds: an empty datagram at least */
#define FGD_ABSORB_EVERY     10u /* rounds: floors are looked at */
#define FGD_FLOOD_HEARTBEATS 3u  /* heartbeats after a change forwarded */

/* Liveness, from the last datagram heard (a node sends at least a
 * heartbeat every FGD_HEARTBEAT_EVERY rounds): alive within this many
 * heartbeat periods, then suspect, then dead.  A node that talks again is
 * alive. */
#define FGD_SUSPECT_AFTER 3u
#define FGD_DEAD_AFTER    10u

enum fgd_peer_state {
	FGD_PEER_UNKNOWN,
	FGD_PEER_ALIVE,
	FGD_PEER_SUSPECT,
	FGD_PEER_DEAD
};

struct fgd_counters {
	uint64_t drops[FGW_NDROPS]; /* datagrams dropped, by reason */
	uint64_t drops_self;        /* our own datagrams come back */
	uint64_t rx_datagrams, rx_bytes;
	uint64_t rx_overflow; /* dropped by the kernel: our receive
	                       * buffer was full (the daemon's loop) */
	uint64_t tx_datagrams, tx_bytes, tx_errors;
	uint64_t harvested;       /* tokens harvested from local buckets */
	uint64_t applied;         /* tokens debited for other nodes */
	uint64_t records_unknown; /* records for a rule not global here */
	uint64_t records_noroom;  /* no room in a ledger or the table */
	uint64_t local_noroom;    /* harvest found no room in the ledger:
	                           * retried at the next round */
	/* dissemination and membership */
	uint64_t relayed; /* datagrams of other origins forwarded */
	uint64_t pings, acks, ping_reqs; /* probes sent, acks to ours, asked */
	uint64_t acks_relayed;           /* acks forwarded for a ping-req */
	uint64_t suspected, declared_dead;
	uint64_t announces;      /* announcements of others learned */
	uint64_t member_ignored; /* signed but not for us: ping to another
	                          * member, ack to no probe, bad ping-req,
	                          * a digest ahead of us */
	/* repair (sync.c) */
	uint64_t sync_requests; /* sent: we were behind an origin */
	uint64_t repairs;       /* answers to digests, sent */
	uint64_t repair_datagrams;
	uint64_t repairs_limited; /* digests not answered: too soon */
	uint64_t caught_up;       /* batches completed by a repair */
};

#define FGD_PING_REQ_K         3  /* members asked to probe indirectly */
#define FGD_SUSPICION_ROUNDS   20 /* suspect this long, then dead */
#define FGD_ANNOUNCE_PER_ROUND 2  /* others' announcements re-sent */
#define FGD_FANOUT_AUTO_ALL    8  /* a cluster this small: send to all */
#define FGD_FANOUT_AUTO        3

/*
 * How far this node holds an origin's records (sync.c): every version up
 * to `have` of its incarnation `inc`.  Batches beyond it are collected in
 * `pend` until they join up.
 */
#define FGD_SYNC_PENDING 8
#define FGD_SYNC_GRACE   2u    /* rounds behind before asking */
#define FGD_SYNC_RETRY   5u    /* rounds between two requests, or repairs */
#define FGD_REPAIR_MAX   4096u /* records per repair; the rest next time */
#define FGD_VER_HIST     8u    /* rounds of our versions kept (> GRACE) */

struct fgd_sync {
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

/* What this node knows of one keyring member (see members.c). */
struct fgd_member {
	struct fgd_addr addr;         /* len 0: unknown */
	uint64_t addr_inc, addr_seq;  /* version of the signed word for it */
	uint8_t ann[FGW_MEMBER_SIZE]; /* its latest announcement, verified */
	size_t ann_len;
	uint64_t ann_inc, ann_seq;
	uint8_t swim;  /* enum fgd_peer_state by probes */
	uint8_t probe; /* 0 none, 1 direct, 2 indirect */
	uint64_t suspect_ms, probe_ms, probe_nonce;
	int relay_to; /* a ping-req asked us to probe it: who, or -1 */
	uint64_t relay_nonce, relay_ms;
};

typedef void fgd_sendto_fn(void *arg, const struct fgd_addr *to,
                           const uint8_t *buf, size_t len);

struct fgd_net {
	const struct fgd_addr *self;  /* announced; NULL or len 0: none */
	const struct fgd_addr *seeds; /* the config's peers */
	size_t nseeds;
	unsigned fanout; /* 0: every member, no forwarding */
	fgd_sendto_fn *send;
	void *arg;
};

/* Per rule, over the live buckets plus what evicted ones held, as the
 * last harvest saw them: what /metrics serves inside the daemon, so that
 * a scrape never scans the table in the daemon's loop (the harvest reads
 * these words anyway, in the cache line of each slot's ctl). */
struct fgd_rule_sums {
	uint64_t keys, allowed, denied;
};

#define FGD_BASE_NONE 0u /* fgd_base.id: no bucket */
#define FGD_BASE_DEAD 2u /* an abandoned insert */

/* Pairwise MAC keys (gossip/pairwise.h) are derived at start for
 * keyrings up to this size (~90 us a member): in larger clusters rounds
 * are relayed, and relaying needs the origin's signature anyway. */
#define FGD_PAIRWISE_MAX 256

struct fgd_node {
	fg_client *fg;
	const struct fgw_keyring *kr; /* &ring */
	struct fgw_keyring ring;      /* the caller's, with our pairwise keys */
	struct fgw_pairwise *pw;      /* NULL: everything is signed */
	const uint8_t *sk;            /* read-only secret key */
	uint8_t pk[FGW_PK_SIZE];
	int self; /* our index in the keyring, or -1 */
	uint64_t incarnation;
	/* Two seq spaces, each with its own replay window at receivers:
	 * what is relayed (rounds) and what goes straight to one member
	 * (probes, announcements, sync requests, repairs), so that many of
	 * the latter never push the window past a relayed datagram still
	 * on its way. */
	uint64_t seq, seq_direct;
	uint64_t rounds;
	uint64_t version; /* of our records' last change, this incarnation */
	uint64_t emitted; /* version covered by the rounds sent so far */
	uint64_t changed_round; /* the last round that sent a change; 0 none */
	uint64_t ver_hist[FGD_VER_HIST]; /* version after round r, at r % */
	uint64_t total; /* tokens harvested in this incarnation */
	uint64_t harvests;
	size_t max_datagram;
	uint64_t interval_ns;
	size_t npeers;
	struct fgd_map local;
	struct fgd_map remote;
	struct fgw_replay *replay; /* per keyring entry: relayed datagrams */
	struct fgw_replay *replay_direct; /* and the others */
	uint64_t *heard_ms;               /* per keyring entry: last datagram */
	/* What the harvest last saw of each slot: the baseline of its
	 * gossip (seen) and what the sums hold of it.  The harvest visits
	 * only the blocks that changed (shm/scan.c), so the sums are kept
	 * by difference. */
	struct fgd_base {
		uint64_t id;      /* the slot's bucket (fg_slot_view.id, odd);
		                   * FGD_BASE_NONE or FGD_BASE_DEAD */
		uint64_t seen;    /* its count already harvested */
		uint64_t allowed; /* its consumed count, in the sums */
		uint64_t denied;  /* its denials, in the sums */
	} * base;          /* per slot; in the state file when there is one */
	size_t base_bytes; /* mapped length, 0 when calloc'ed */
	uint64_t nslots;
	uint64_t ready; /* buckets the last harvest saw */
	uint64_t dead;  /* and abandoned inserts */
	struct fgd_rule_sums sums[FG_RULES_MAX]; /* valid once harvests */
	struct fgd_rule_sums live[FG_RULES_MAX]; /* live buckets' part */
	uint64_t table_full_seen; /* the segment's table_full at the last
	                           * eviction pass */
	struct fgd_counters ctr;
	/* dissemination and membership (members.c) */
	struct fgd_member *mem; /* per keyring entry */
	struct fgd_addr self_addr;
	struct fgd_addr *seeds;
	int *seed_member; /* per seed: the member found there, or -1 */
	size_t nseeds;
	unsigned fanout;
	fgd_sendto_fn *net_send;
	void *net_arg;
	const struct fgd_addr **cand; /* scratch: kr->n + nseeds */
	int *cand_member;             /* per cand: keyring index, -1: seed */
	uint8_t *cand_done;           /* per cand: sent a MAC'd copy */
	uint64_t rng;
	size_t probe_next, ann_next;
	struct fgd_sync *sync; /* per keyring entry (sync.c) */
	size_t sync_seed;      /* where the next seed-wide request starts */
};

struct fgd_node_params {
	uint64_t incarnation; /* must grow across restarts of this node */
	size_t max_datagram;
	uint32_t interval_ms;
	size_t npeers;
	/* Where the harvest baseline, the incarnation and (in PATH-remote)
	 * the high-water marks of other nodes' counts survive a daemon
	 * restart: files beside the segment.  NULL: memory only. */
	const char *state_path;
};

/*
 * @fg: the segment (this node owns it).  With a state file left by the
 * previous daemon on this segment, what the workers consumed while no
 * daemon ran is harvested at the first round: a restart loses nothing.
 * Without one, consumption already in the segment is taken as reported.
 */
int fgd_node_init(struct fgd_node *n, fg_client *fg,
                  const struct fgw_keyring *kr, const uint8_t *sk,
                  const uint8_t pk[FGW_PK_SIZE],
                  const struct fgd_node_params *p);
void fgd_node_fini(struct fgd_node *n);

/* Add what the workers consumed since the last harvest to the ledger,
 * then relieve table pressure (fgd_node_evict). */
void fgd_node_harvest(struct fgd_node *n, uint64_t now_ms);

typedef void fgd_send_fn(void *arg, const uint8_t *buf, size_t len);

/* Sign and hand to @send the datagrams of this round: the counts that
 * changed since the last round, as one batch; every FGD_HEARTBEAT_EVERY
 * rounds at least an empty one.  With @full, every count that still
 * matters, as the batch (0, version]: what a node without a network to
 * ask for repairs can be sent.  Returns the number of datagrams. */
size_t fgd_node_emit(struct fgd_node *n, uint64_t now_ms, int full,
                     fgd_send_fn *send, void *arg);

/* Check and apply one datagram; FGW_OK or why it was dropped (counted). */
enum fgw_drop fgd_node_receive(struct fgd_node *n, const uint8_t *buf,
                               size_t len, uint64_t now_ms);

/* What this node thinks of keyring entry @origin at @now_ms. */
enum fgd_peer_state fgd_node_peer_state(const struct fgd_node *n, int origin,
                                        uint64_t now_ms);
const char *fgd_peer_state_name(enum fgd_peer_state s);

/*
 * Attach a network: where we listen (announced to members), the seeds,
 * the fanout and how to send.  Copies what it needs; call again after a
 * reload.  0, or -1 out of memory.
 */
int fgd_node_set_net(struct fgd_node *n, const struct fgd_net *net);

/* The round interval in ms, at least 1: the unit of every timeout. */
static inline uint64_t fgd_interval_ms(const struct fgd_node *n)
{
	uint64_t ms = n->interval_ns / 1000000u;

	return ms ? ms : 1;
}

/* The fanout a cluster of @members keyring entries gets by default. */
unsigned fgd_fanout_auto(size_t members);

/*
 * One round on the attached network (harvest first): this round's
 * datagrams to `fanout` live members, announcements, and a SWIM step.
 * Returns the number of datagrams sent.
 */
size_t fgd_node_tick(struct fgd_node *n, uint64_t now_ms);

/* fgd_node_receive, from @from (NULL: unknown): also answers probes and
 * forwards what it accepted first to `fanout` others. */
enum fgw_drop fgd_node_receive_from(struct fgd_node *n, const uint8_t *buf,
                                    size_t len, const struct fgd_addr *from,
                                    uint64_t now_ms);

/*
 * Table pressure: when the last harvest saw more buckets than the segment
 * is sized for, or checks found no room since the last call, evict every
 * bucket that is full again and whose consumption has been harvested
 * (call right after fgd_node_harvest).  A full bucket decides as an
 * absent one would, so this changes no decision and loses nothing that
 * is owed to the other nodes.  Returns how many were evicted.  Called by
 * fgd_node_harvest.
 */
uint64_t fgd_node_evict(struct fgd_node *n);

/* Forget what expired; call now and then. */
void fgd_node_expire(struct fgd_node *n, uint64_t now_ms);

#endif
