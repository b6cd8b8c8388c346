/* SPDX-License-Identifier: ISC */
/*
 * counters.h - what the gossip engine counts: one set per node, owned by
 * the node (node.h) and counted into by each of its modules through a
 * pointer, read by the daemon's operators' views (stats, /metrics, logs).
 * Every drop and every bound that kept something out has its own.
 */
#ifndef FGD_COUNTERS_H
#define FGD_COUNTERS_H

#include <stdint.h>

#include "gossip/wire.h"

struct fgd_counters {
	uint64_t drops[FGW_NDROPS]; /* datagrams dropped, by reason */
	uint64_t drops_self;        /* our own datagrams come back */
	uint64_t rx_datagrams, rx_bytes;
	uint64_t rx_overflow; /* dropped by the kernel: our receive
	                       * buffer was full (the daemon's loop) */
	uint64_t tx_datagrams, tx_bytes, tx_errors;
	/* the ledgers (counts.c) */
	uint64_t harvested;       /* tokens harvested from local buckets */
	uint64_t applied;         /* tokens debited for other nodes */
	uint64_t records_unknown; /* records for a rule not global here */
	uint64_t records_badkey;  /* records whose key holds a NUL: no
	                           * caller's key does (a penalty's tally
	                           * key does, and is this host's alone) */
	uint64_t records_noroom;  /* no room in the table for a debit:
	                           * retried by a repair */
	uint64_t local_noroom;    /* harvest found no room in the ledger:
	                           * retried at the next round */
	uint64_t ledger_evicted;  /* marks still owed, forgotten for room
	                           * (a stricter answer, bounded) */
	uint64_t debit_clamped;   /* tokens more than an honest origin can
	                           * have consumed: not debited */
	uint64_t debt_capped;     /* tokens beyond the debt bound: not
	                           * debited */
	/* dissemination and membership (members.c) */
	uint64_t relayed; /* datagrams of other origins forwarded */
	uint64_t pings, acks, ping_reqs; /* probes sent, acks to ours, asked */
	uint64_t acks_relayed;           /* acks forwarded for a ping-req */
	uint64_t suspected, declared_dead;
	uint64_t announces;      /* announcements of others learned */
	uint64_t member_ignored; /* signed but not for us: ping to another
	                          * member, ack to no probe, bad ping-req,
	                          * a digest ahead of us */
	uint64_t incarnations;   /* moved past an incarnation of ours a
	                          * member knew (node.c) */
	/* repair (sync.c) */
	uint64_t sync_requests; /* sent: we were behind an origin */
	uint64_t repairs;       /* answers to digests, sent */
	uint64_t repair_datagrams;
	uint64_t repairs_limited; /* digests not answered: too soon */
	uint64_t caught_up;       /* batches completed by a repair */
	/* snapshots (the daemon's, floodgated.c) */
	uint64_t snapshots, snapshot_errors; /* written, failed */
	uint64_t snapshots_unchanged; /* not written: nothing had changed */
	uint64_t snapshot_ms;         /* the last written or found current
	                               * (monotonic); 0 none */
	uint64_t snapshot_every_ms;   /* 0: snapshots are off */
};

#endif
