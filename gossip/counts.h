/* SPDX-License-Identifier: ISC */
/*
 * counts.h - the two ledgers: what this node consumed, and what each
 * other node says it consumed.
 *
 * Ours: each round the harvest gives us what workers admitted on global
 * rules; we add it to our cumulative count per (rule, key), which takes
 * the next version of our records (sync.c repairs by version) and is
 * gossiped as it is, never as a delta.  Theirs: a received count is
 * compared with the mark, the highest count seen from that origin for
 * that key, and only the increase is debited from our bucket, as debt
 * (the bucket may go below zero) so that all hosts draw on one budget.
 * So every datagram is idempotent: lost ones are repaired by the next,
 * duplicated or replayed ones debit nothing.
 *
 * Floors say how much of a count still matters: the floor is what the
 * origin had consumed when its own bucket was last seen full (absorb(),
 * every FGD_ABSORB_EVERY passes, and only once the change was sent).
 * Consumption below the floor is forgotten by every bucket, so a node
 * that never heard of a key (it joined, or forgot the key) debits only
 * count - floor, and a mark whose count is all floor is forgotten at
 * once.  A key new in our ledger starts at count = floor = everything
 * harvested so far, above any mark a receiver may still hold of it.
 *
 * Two bounds keep a debit honest, and they are stated in floodgated(8):
 *  - An increase is debited up to what an honest origin can have admitted
 *    since the mark last moved: its own bucket's capacity plus its refill
 *    over that time (FGD_HONEST_SLACK_MS to spare).  A partition lasts
 *    as long as that time, so what the origin admitted meanwhile is all
 *    paid back when it heals.
 *  - The debt a bucket may carry: its capacity time, plus, per peer, its
 *    capacity time and the debt window (FGD_DEBT_WINDOW_MS, config
 *    debt-window).  That is what honest peers can leave in a partition
 *    of that length; a peer whose key was stolen can push a key no
 *    further, and what lies beyond is forgiven.
 * What either bound keeps out is counted, never silently dropped.
 *
 * Bounded ledgers (ledger.h).  Ours holds capacity counts; when full, the
 * counts that are all floor go first, and a count that still finds no
 * room is left in the segment for a later pass (nothing lost).  Theirs
 * holds ledger-size marks; when it is full of marks still owed, the one
 * idle longest among a sample is forgotten (counted, and logged by the
 * daemon): if its origin sends the key again, the increase is measured
 * from the origin's floor instead of our mark, so the key pays twice for
 * what its origin consumed since its bucket was last full, at most down
 * to the debt bound.  Stricter, never looser: a full ledger can never
 * switch a global limit off.
 *
 * Both ledgers outlive the daemon when it keeps state beside its segment
 * (files PATH-local and PATH-remote, mapped): ours with the version, the
 * total and the journal of the take under way in the harvest's keep
 * (struct fgd_keep), so that a restarted daemon goes on as the same
 * incarnation and sends what its predecessor took and did not send
 * (node.h).
 */
#ifndef FGD_COUNTS_H
#define FGD_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/counters.h"
#include "gossip/harvest.h"
#include "gossip/ledger.h"
#include "gossip/wire.h"
#include "lib/floodgate.h"

/* Our absorbed counts stay FGD_LOCAL_TTL_MS after their last change, so
 * that a repair can still carry their floor to a node that missed it
 * (sync.c); a full ledger drops them first.  A mark still owed is
 * forgotten after FGD_REMOTE_STALE_MS without news (its origin is gone,
 * or far away behind a partition: it repairs it on its return). */
#define FGD_LOCAL_TTL_MS    60000u
#define FGD_REMOTE_STALE_MS 3600000u
#define FGD_ABSORB_EVERY    10u /* passes: floors are looked at */
/* Debt a partition leaves is paid back in full up to this long a cut. */
#define FGD_DEBT_WINDOW_MS 60000u
/* An increase is debited up to what an honest origin can have consumed
 * since the mark's last increase, give or take this much. */
#define FGD_HONEST_SLACK_MS 2000u
/* Marks sampled to pick one to forget when the remote ledger is full. */
#define FGD_VICTIM_SAMPLE 32u
/* The remote ledger's default size: a mark per key of the table per
 * peer, for up to FGD_LEDGER_PEERS peers (a key in use on every host
 * needs a mark per other host; most keys are not). */
#define FGD_LEDGER_PEERS 4u

/*
 * The ledgers' records.  Ours: what this node consumed of (rule, key) in
 * its incarnation, with the version of its last change and its floor.
 * Theirs: the highest count an origin sent for (rule, key), its floor,
 * and what that origin consumed of the key since the mark was made, for
 * operators.  A mark is 64 bytes, so that the ledger a node keeps of all
 * others is stated per key: 80 bytes of memory per ledger-size mark, at
 * most.
 */
struct fgd_local {
	uint64_t id[2]; /* of (rule index, key) */
	uint64_t count, floor;
	uint64_t ver;     /* the version of its last change */
	uint64_t touched; /* ms of its last change */
	uint8_t rule;     /* the segment's index of the rule */
	uint8_t key_len;
	uint8_t pad[6];
	uint8_t key[FG_KEY_MAX];
};

struct fgd_remote {
	uint64_t id[2]; /* of (origin, rule name, key) */
	uint64_t origin;
	uint64_t incarnation;
	uint64_t count, floor;
	uint64_t consumed; /* increases debited for it: the origin's use */
	uint64_t touched;  /* ms of its last increase (CLOCK_MONOTONIC) */
};

_Static_assert(sizeof(struct fgd_remote) == 64, "a mark: one line");

struct fgd_counts_params {
	size_t ledger_max;       /* marks of others kept; 0: the default */
	uint32_t debt_window_ms; /* 0: FGD_DEBT_WINDOW_MS */
	size_t npeers;           /* members that may consume, but us */
	/* the remote ledger's file (it must outlive the daemon: the debits
	 * it records stay in the segment); NULL: memory only */
	const char *path;
	/* ours, so that a restart continues our counts (node.h) */
	const char *local_path;
	const uint64_t *ident; /* [3]: the segment's seed and birth */
	/* the remote ledger's id key when init is given no secret key (a
	 * daemon whose key is in another process: fgd_counts_ledger_key
	 * made it there) */
	const uint8_t *ledger_key;
};

/* The remote ledger's id key of the node whose secret key is @sk. */
void fgd_counts_ledger_key(const uint8_t *sk, uint8_t key[FGD_LEDGER_KEYBYTES]);

struct fgd_counts {
	fg_client *fg;
	struct fgd_harvest *harvest;  /* to make room for a debit */
	const struct fgw_keyring *kr; /* names the origins */
	struct fgd_ledger local;      /* struct fgd_local */
	struct fgd_ledger remote;     /* struct fgd_remote */
	/* of our records, this incarnation: the version of the last
	 * change, what the rounds sent cover, the tokens harvested; kept
	 * by the harvest, across restarts (struct fgd_keep) */
	struct fgd_keep *k;
	uint64_t pushed; /* the version Redis holds (redis/); UINT64_MAX
	                  * without the Redis transport */
	uint64_t debt_window_ns;
	size_t npeers;
	uint64_t remote_changes; /* marks added, changed or forgotten */
	uint64_t purged_pass;    /* harvest pass of the last drop for room */
	uint64_t evicted_pass;   /* and of the last eviction for a debit */
	struct fgd_counters *ctr;
};

/* The remote ledger's default size for @capacity keys and @peers. */
size_t fgd_ledger_default(uint64_t capacity, size_t peers);

/* 0, or -1 with why in @err.  The remote ledger's ids are keyed by a key
 * derived from the node's secret key @sk (stable across restarts). */
int fgd_counts_init(struct fgd_counts *c, fg_client *fg, struct fgd_harvest *h,
                    const struct fgw_keyring *kr, const uint8_t *sk,
                    const struct fgd_counts_params *p, struct fgd_counters *ctr,
                    char *err, size_t errlen);
void fgd_counts_fini(struct fgd_counts *c);

/* Whether our counts continue where the previous daemon left them: the
 * harvest's state and our ledger are its, made for this segment under our
 * key (node.h's incarnations). */
int fgd_counts_resumable(const struct fgd_counts *c);

/* A new incarnation: our counts, versions and total start again. */
void fgd_counts_restart(struct fgd_counts *c);

/* Finish the take a killed daemon left half done: 1 if it changed our
 * count (its version and total are made whole), else 0; what
 * fgd_harvest_recover() takes. */
int fgd_counts_recover(struct fgd_counts *c);

/* The harvest's taker (harvest.h): add @delta to our count of the key;
 * @arg is the counts. */
int fgd_counts_take(void *arg, unsigned rule, const uint8_t *key, size_t len,
                    uint64_t delta, uint64_t now_ms);

/* Floor every count sent since whose bucket is full (or gone) now. */
void fgd_counts_absorb(struct fgd_counts *c, uint64_t now_ms);

/* Debit what @rec of keyring entry @origin's incarnation @inc adds: 0, or
 * -1 if the table had no room for the bucket (a repair brings it again). */
int fgd_counts_apply(struct fgd_counts *c, int origin, uint64_t inc,
                     const struct fgw_record *rec, uint64_t now_ms);

/* The same for a count of the origin named @oid (fgd_origin_of), which
 * came by another way than gossip (the Redis transport, redis/): the
 * same mark, so that a count that came both ways is debited once. */
int fgd_counts_apply_from(struct fgd_counts *c, uint64_t oid, uint64_t inc,
                          const struct fgw_record *rec, uint64_t now_ms);

/*
 * The same for the @n records of a datagram, @recs: how many found no room
 * in the table.  They are worked on FGD_APPLY_MAX at a time, in two passes:
 * first each one's rule and mark are found and the memory it will touch
 * (its mark, its bucket) is fetched, then each is applied, so that the
 * cache misses of a datagram's records overlap instead of coming one
 * after the other (most of what a record costs: issue 15).
 */
#define FGD_APPLY_MAX 96
size_t fgd_counts_apply_all(struct fgd_counts *c, int origin, uint64_t inc,
                            const struct fgw_record *recs, size_t n,
                            uint64_t now_ms);

/* What applying one record needs (counts.c). */
struct fgd_rule_seen {
	char name[FG_RULE_NAME_MAX + 1];
	size_t len; /* of name; 0: none yet */
	int idx;
	const struct fg_rule_cache *rc;
};

struct fgd_apply {
	int idx; /* the rule's, -1: not an active global rule here */
	const struct fg_rule_cache *rc;
	uint64_t id[2]; /* of its mark */
	uint64_t oid, inc;
};

/* Forget what expired; now and then. */
void fgd_counts_expire(struct fgd_counts *c, uint64_t now_ms);

/* A stable name for keyring entry @origin: indices change when the
 * keyring is edited, its key does not.  Never 0. */
uint64_t fgd_origin_id(const struct fgw_keyring *kr, int origin);
/* The same name for the node of public key @pk. */
uint64_t fgd_origin_of(const uint8_t pk[FGW_PK_SIZE]);

/* Our count of (rule, key), or NULL (tests, operators). */
struct fgd_local *fgd_counts_local(struct fgd_counts *c, const char *rule,
                                   const void *key, size_t len);

/* The remote ledger's id of @origin_id's (rule, key); lengths in bounds
 * (1..FG_RULE_NAME_MAX, 1..FG_KEY_MAX). */
void fgd_counts_mark_id(const struct fgd_counts *c, uint64_t origin_id,
                        const char *rule, size_t rule_len, const void *key,
                        size_t key_len, uint64_t id[2]);

/* The mark of @origin_id's (rule, key), or NULL. */
struct fgd_remote *fgd_counts_mark(struct fgd_counts *c, uint64_t origin_id,
                                   const char *rule, size_t rule_len,
                                   const void *key, size_t key_len);

#endif
