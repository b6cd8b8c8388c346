/*
 * node.h - what one floodgated knows, and how it gossips it.
 *
 * A node owns a segment.  Each round it harvests the consumption its
 * workers admitted on global rules (each slot's grow-only `consumed`
 * counter, against a per-slot baseline), adds it to its own cumulative
 * per-(rule, key) counts, and emits signed datagrams carrying the counts
 * that changed; every few rounds it re-emits every recently active count,
 * which repairs any loss.  A received count is compared with the highest
 * seen from that origin for that key, and only the increase is debited
 * from the local bucket: duplicates, reordering and replays change
 * nothing, and a later datagram repairs a lost one.
 *
 * Time enters only as arguments (monotonic ms), so tests drive rounds.
 */
#ifndef FGD_NODE_H
#define FGD_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/keymap.h"
#include "gossip/replay.h"
#include "gossip/wire.h"
#include "lib/floodgate.h"

/* A count is re-sent in full syncs for this long after its last change; a
 * receiver forgets a count it has not heard for FGD_REMOTE_TTL_MS; the
 * sender forgets it only after both, so that a count restarting from zero
 * never meets a receiver that still remembers the old one. */
#define FGD_SYNC_WINDOW_MS 60000u
#define FGD_REMOTE_TTL_MS 120000u
#define FGD_LOCAL_TTL_MS (FGD_SYNC_WINDOW_MS + FGD_REMOTE_TTL_MS + 60000u)
#define FGD_FULL_SYNC_EVERY 10u /* rounds */

/* Liveness, from the last datagram heard (a node sends at least a
 * heartbeat every full-sync round): alive within this many full-sync
 * periods, then suspect, then dead.  A node that talks again is alive. */
#define FGD_SUSPECT_AFTER 3u
#define FGD_DEAD_AFTER 10u

enum fgd_peer_state { FGD_PEER_UNKNOWN, FGD_PEER_ALIVE, FGD_PEER_SUSPECT,
                      FGD_PEER_DEAD };

struct fgd_counters {
	uint64_t drops[FGW_NDROPS]; /* datagrams dropped, by reason */
	uint64_t drops_self;        /* our own datagrams come back */
	uint64_t rx_datagrams, rx_bytes;
	uint64_t tx_datagrams, tx_bytes, tx_errors;
	uint64_t harvested;       /* tokens harvested from local buckets */
	uint64_t applied;         /* tokens debited for other nodes */
	uint64_t records_unknown; /* records for a rule not global here */
	uint64_t records_noroom;  /* no room in a ledger or the table */
	uint64_t local_noroom;    /* harvest found no room in the ledger */
};

struct fgd_node {
	fg_client *fg;
	const struct fgw_keyring *kr;
	const uint8_t *sk; /* read-only secret key */
	uint8_t pk[FGW_PK_SIZE];
	int self; /* our index in the keyring, or -1 */
	uint64_t incarnation;
	uint64_t seq;
	uint64_t rounds;
	size_t max_datagram;
	uint64_t interval_ns;
	size_t npeers;
	struct fgd_map local;
	struct fgd_map remote;
	struct fgw_replay *replay; /* per keyring entry */
	uint64_t *heard_ms;        /* per keyring entry: last datagram */
	struct fgd_base {
		uint64_t ctl;  /* the slot's ctl when the baseline was taken */
		uint64_t seen; /* its consumed count already harvested */
	} *base;           /* per slot; in the state file when there is one */
	size_t base_bytes; /* mapped length, 0 when calloc'ed */
	uint64_t nslots;
	uint64_t ready;           /* buckets the last harvest saw */
	uint64_t table_full_seen; /* the segment's table_full at the last
	                           * eviction pass */
	struct fgd_counters ctr;
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

/* Sign and hand to @send the datagrams of this round: changed counts, or
 * (every FGD_FULL_SYNC_EVERY rounds, or when @full) every count changed
 * within FGD_SYNC_WINDOW_MS, and at least a heartbeat.  Returns the
 * number of datagrams. */
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
