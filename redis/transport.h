/* SPDX-License-Identifier: ISC */
/*
 * transport.h - the Redis transport: a node's counts shared through one
 * Redis instead of (or besides) the signed UDP gossip.
 *
 * The redis/ room.  A second way for a node (gossip/node.h) to share
 * what it consumed and learn what others did, for fleets that cannot
 * gossip (containers behind NAT, pools that come and go) but run Redis.
 * It depends downward only: on the gossip engine's ledgers (counts.h),
 * which keep their semantics whatever carries the counts, and on
 * hiredis.  Its files, bottom up: conf (the directives), secret (the
 * password file), script (the Lua run in Redis), proto (the script's
 * call and reply), breaker (when to stop asking), conn (one non-blocking
 * connection), transport (this: a round).  The daemon drives it from its
 * poll() loop; workers never see it: fg_allow() stays a shared-memory
 * check whatever Redis does.
 *
 * What travels is what gossip carries (counts.h): per (rule, key), this
 * node's cumulative count in its incarnation, its floor, and the version
 * of its last change.  A receiver debits only the increase over its mark
 * (the highest count seen from that origin), from the same remote ledger
 * as gossip: so nothing is debited twice, however often a record is
 * read, and with both transports a count that comes both ways is debited
 * once (the origin is named by its node key either way, fgd_origin_of).
 *
 * Design: per-origin hashes and a change log, not a stream.  Each origin
 * has a hash of its records (field: rule and key; value: version, count,
 * floor) and a sorted set of the same fields scored by version: its
 * change log, one entry per record however often it changed.  A reader
 * holds, per origin, a cursor (incarnation, version): it asks for the
 * records changed after it, which is the digest exchange of gossip's
 * sync (gossip/sync.h) with Redis as the one who answers.  A stream
 * would hold one entry per change, so a hot key costs an entry per
 * round for as long as the stream is kept, and a reader that restarts
 * must replay all of it or lose what was trimmed; here memory follows
 * the records that still matter, and any reader, new or back, catches up
 * from its cursor (from version 0: everything that still matters, and
 * its marks make the rest a no-op).
 *
 * A round (script.h): push the records changed since the versions Redis
 * holds of us, in version order, in batches of FGR_PUSH_MAX, one EVALSHA
 * each, up to FGR_BATCHES pipelined (the rest next round); each batch
 * completes the versions up to its last record, and Redis takes one only
 * if it follows what Redis holds, so that Redis never holds a version of
 * ours without every one below it.  The last batch also pulls at most
 * FGR_PULL_MAX records the others changed since our cursors.  Cost per round:
 * one round trip; in Redis O(R log N + O) for R records pushed and pulled and O
 * origins; on the wire about 60 + key bytes per record each way.  One exchange
 * at a time: a round that finds the last still out skips (counted).  While the
 * breaker is closed, a floor moves only once Redis holds the count under it
 * (counts.pushed), as it waits for the gossip's round: every increase is in
 * Redis before its record says it no longer matters. While it is open, floors
 * move as during a gossip partition (what the origin's bucket forgot, every
 * bucket has), so that a long outage does not keep every count owed, the ledger
 * full and the table unevictable.
 *
 * Memory in Redis per (origin, key) that still matters: a hash field and
 * a sorted-set member, about 220 bytes for a 10-byte key (3.7 times a
 * plain SET of the same name; bench/redis_bench, BENCHMARKS.md), plus a
 * few hundred bytes per origin.  Redis CPU: about 4 us per record pushed,
 * 1 us per record pulled, 30 us per idle round (3 origins).  Nothing outlives
 * its use: an origin's keys expire TTL after its last call (TTL: the
 * longest time a global rule takes to refill its bucket, plus the debt
 * window, from FGD_LOCAL_TTL_MS to FGD_REMOTE_STALE_MS: consumption
 * older than that no longer changes any bucket), and a record that went
 * all floor is dropped FGR_GC_MS later.
 *
 * Catch-up.  After a restart of this daemon: a new incarnation, pushed
 * from version 0; the cursors restart at 0 (reading all that matters)
 * and the remote ledger's file keeps the marks, so nothing is debited
 * twice.  After Redis lost data (restarted without persistence, flushed,
 * failed over to a replica behind): the push finds Redis holding less of
 * us than we pushed ("gap") and pushes again from there; a cursor ahead
 * of what Redis holds comes back down to it.  After an outage: the
 * exchange that closes the breaker pushes everything changed meanwhile
 * and pulls everything the others pushed.  Meanwhile global rules decide
 * on local state alone, as during a gossip partition, and the debt the
 * catch-up brings is bounded as gossip's (counts.h).
 *
 * Trust: Redis, and whoever may write to it, is trusted as the keyring
 * is: records in Redis are not signed.  Use ACLs (redis-auth with a user
 * that may only run scripts on the namespace's keys).
 */
#ifndef FGR_TRANSPORT_H
#define FGR_TRANSPORT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/node.h"
#include "redis/breaker.h"
#include "redis/conf.h"
#include "redis/conn.h"
#include "redis/proto.h"

#define FGR_BATCHES 8u /* pushed in a round, pipelined: FGR_PUSH_MAX each */

struct fgr_stats {
	uint64_t exchanges;         /* answered by the script */
	uint64_t fails[FGR_NFAILS]; /* by reason (conn.h) */
	uint64_t pushed, pulled;    /* records */
	uint64_t busy;              /* rounds skipped: the last still out */
	uint64_t gaps, stale;       /* pushes Redis refused, by why */
	uint64_t noroom;            /* records not applied for want of
	                             * room in the table: pulled again */
	uint64_t origins_ignored;   /* beyond FGR_ORIGINS_MAX */
	uint64_t last_ms;           /* last exchange answered; 0: none */
	uint64_t last_rtt_ms;       /* how long it took */
	uint64_t connects;          /* handshakes completed */
};

typedef void fgr_log_fn(int prio, const char *fmt, ...);

struct fgr_sync {
	struct fgd_node *node;
	struct fgr_conn conn;
	struct fgr_breaker br;
	uint64_t self;              /* our origin id */
	char url[300];              /* for messages */
	uint64_t pushed;            /* Redis holds our versions up to this, */
	uint64_t pushed_inc;        /* of this incarnation (0: none yet) */
	uint64_t sent_inc, sent_ms; /* the exchange out: */
	uint64_t sent_to[FGR_BATCHES]; /* each batch's last version */
	size_t sent_n[FGR_BATCHES];    /* and records */
	size_t nsent, nreplied;        /* batches, and replies read */
	int want;                      /* an exchange is due once connected */
	struct fgr_cursor *cur;        /* where we are in the others' records */
	size_t ncur;
	const struct fgd_local **sel; /* scratch: our changed records */
	struct fgr_out *out;
	size_t cap;
	struct fgr_stats st;
	char last_err[256]; /* why the last failure */
	enum fgr_fail last_fail;
	fgr_log_fn *log; /* NULL: silent */
};

/* The transport of node @n to the server of @conf (address resolved and
 * password read now, unless @pw holds it: fgr_conn_init).  0, or -1 with
 * why in @err.  A transport left all zero is off: every call below does
 * nothing (fd -1), fini included. */
int fgr_sync_init(struct fgr_sync *s, struct fgd_node *n,
                  const struct fgr_conf *conf, struct fgr_secret *pw,
                  fgr_log_fn *log, uint64_t now_ms, char *err, size_t errlen);
void fgr_sync_fini(struct fgr_sync *s);

/* Once a round, after the node's harvest: start an exchange if none is
 * out and the breaker allows (connecting first if need be). */
void fgr_sync_round(struct fgr_sync *s, uint64_t now_ms);

/* The one pollfd (fd -1 when there is no connection); @timeout lowered
 * to the next deadline. */
void fgr_sync_pollfd(const struct fgr_sync *s, struct pollfd *pfd,
                     uint64_t now_ms, int *timeout);

/* After poll(): progress on @revents and on the clock (deadlines). */
void fgr_sync_service(struct fgr_sync *s, short revents, uint64_t now_ms);

/* At exit, after the node's last harvest: one more exchange, waited for
 * (the one out first, if any) until twice redis-timeout at most, so that
 * what workers consumed in this incarnation is in Redis before it ends.
 * Nothing when the breaker is open.  @clock_ms: the monotonic clock. */
void fgr_sync_flush(struct fgr_sync *s, uint64_t (*clock_ms)(void));

/* How long our keys live in Redis after our last call, for the rules
 * the segment holds now (see above). */
uint32_t fgr_sync_ttl(const struct fgr_sync *s);

/* Our versions not yet in Redis. */
uint64_t fgr_sync_unpushed(const struct fgr_sync *s);

#endif
