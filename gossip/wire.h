/* SPDX-License-Identifier: ISC */
/*
 * wire.h - the gossip datagram: signed (or MAC'd), cumulative, per-key
 * consumption.
 *
 *   offset  size
 *        0     4  magic "FGW" and version (3)
 *        4     1  type (1: consumption, 2: membership)
 *        5     1  flags: type 1: FGW_F_LAST, FGW_F_REPAIR, FGW_F_FLOOD,
 *                 FGW_F_MAC; type 2: 0
 *        6     2  nrec, records that follow (big-endian, as every field)
 *        8    32  origin: Ed25519 public key of the node that signed
 *                 (or MAC'd) it
 *       40     8  incarnation: changes when the origin restarts
 *       48     8  seq: per (origin, incarnation) datagram counter
 *
 * Type 1, consumption:
 *
 *       56     8  from \  this datagram is part of a batch that carries
 *       64     8  to   /   every record the origin changed in versions
 *                          (from, to]: a round, or a repair (see below)
 *       72     4  part: its index in the batch; FGW_F_LAST on the last
 *       76     .  records: rule_len u8, key_len u8, count u64,
 *                 recent u32, rule, key
 *      end     .  the seal (gossip/seal.h): the path from this datagram
 *                 to the root of its seal group (16 bytes a level), its
 *                 index in the group (1), the depth (1, 0 .. 6) and the
 *                 Ed25519 signature of the root (64); 66 bytes for a
 *                 group of one, at most 162;
 *             16  or, with FGW_F_MAC: its MAC (below)
 *
 * Version 3 (this one) signs up to 64 datagrams of an origin with one
 * signature, the root of a Merkle tree over them (seal.h), instead of
 * each datagram with its own: a receiver checks the signature once per
 * group (~57 us) and hashes each datagram (~2 us), so the signed path takes
 * as many changed keys a second as the MAC'd one, and every datagram still
 * carries its origin's proof, whoever relays it.  Version 2 ended each
 * type 1 datagram with the signature of everything before it.
 *
 * count is the origin's cumulative consumption of (rule, key) in this
 * incarnation: a grow-only counter.  recent is how much of it the
 * origin's own bucket has not absorbed yet (count - recent was consumed
 * before the bucket was last seen full, and no longer matters to any
 * bucket); it saturates at 2^32 - 1.  A receiver keeps the highest count
 * per (origin, incarnation, rule, key) and debits only the increase over
 * max(that mark, count - recent), so loss is repaired by a later
 * datagram, duplicates, reordering and replays change nothing, and a
 * node that never heard of a key debits only what still matters.
 *
 * Incarnations (gossip/node.h).  A receiver drops a datagram whose
 * incarnation is older than any it has seen from that origin, in either
 * seq space (FGW_STALE), and takes a later one as a new life whose
 * counts, versions and seqs restart.  Nothing compares an incarnation
 * with a clock: an origin picks its first as it likes (floodgated uses
 * its wall clock, a guess), and the digest_inc of every ping and sync
 * request a member sends it names the incarnation the member knows it
 * by, so an origin that restarted below that (a clock set back across a
 * reboot) learns it from the next probe and moves past it.
 *
 * Versions (the digest exchange, gossip/sync.c): every change of an
 * origin's record takes the origin's next version.  A round's datagrams
 * carry (from, to] = the versions since its previous round, parts 0..n-1;
 * a receiver that holds every part of a batch whose `from` it has reached
 * has reached its `to`.  FGW_F_REPAIR marks the answer to a digest (a
 * ping or a sync request saying "I hold you up to version h"): every
 * record changed after h that still matters, unicast, never forwarded.
 * FGW_F_FLOOD marks a heartbeat round's batch sent soon after a change
 * (records or not): relays forward it even without records, so that a
 * node that missed the round with the origin's last change learns of its
 * version anyway.
 *
 * FGW_F_MAC marks a datagram sent directly by its origin to one member,
 * authenticated for that member alone: it ends with a 16-byte MAC instead
 * of the 64-byte signature, keyed BLAKE2b (crypto_generichash, 16 bytes
 * out) of everything before it under the 32-byte key the origin and that
 * member share for that direction (gossip/pairwise.h: derived from their
 * two Ed25519 identities, so there is nothing new to distribute).  The MAC
 * of a 1200-byte datagram costs ~1.6 us where a verification costs ~57,
 * and what goes straight from origin to member needs no more: every round
 * of a small cluster (which sends to every member and forwards nothing),
 * and repairs.  What a MAC cannot do is prove the origin to a third node.
 * The key from A to B is known to A and B only, so a compromised B can
 * make "A's" MAC'd datagrams, but only ones B itself accepts; it cannot
 * make one that C accepts in A's name (nor could it sign one).  Hence a
 * MAC'd datagram is never relayed: its proof is good for its receiver
 * only.  Relayed traffic keeps its seal.  The two directions of a
 * pair have different keys and a node has none for itself, so a MAC'd
 * datagram cannot be reflected to its origin nor replayed to another
 * member; replays to its own receiver are the replay window's business,
 * as for signed datagrams.  The writer keeps room for the largest seal
 * either way: a datagram that fits signed fits MAC'd.
 *
 * Type 2 (membership: SWIM ping, ack, ping-req, address announcement,
 * sync request) has the same first 56 bytes with nrec 0, and a fixed
 * body of FGW_MEMBER_BODY bytes instead of records:
 *
 *       56     1  kind: 1 ping, 2 ack, 3 ping-req, 4 announce, 5 sync
 *       57     1  address family of the sender: 0 none, 4 IPv4, 6 IPv6
 *       58     2  port
 *       60    16  address (IPv4: 4 bytes, then 12 zero bytes)
 *       76     8  nonce: a probe's, copied from ping to ack
 *       84    32  target: ping: the member pinged; ack: the member whose
 *                 probe it answers; ping-req: the member to probe;
 *                 sync: the member asked
 *      116    32  requester: in a ping sent for a ping-req, and in its
 *                 ack, the member that asked; otherwise zero
 *      148     8  digest (ping, sync; zero in the others): the target's
 *      156     8  incarnation and the highest version of its records
 *                 the sender holds completely
 *      164    64  signature of everything before it (no seal group:
 *                 membership datagrams go one at a time)
 *
 * Every membership message carries the address its origin listens on,
 * signed by the origin itself: a node learns where a member is only from
 * that member, so nobody can redirect a member's traffic, and a repair is
 * sent only to the address its requester signed.
 *
 * A receiver checks, in order and before it trusts anything: length
 * bounds, magic/version/type/flags (and the seal's depth), that the origin
 * is in its keyring, the seal or signature (or MAC), then the body (every
 * record's bounds, recent <= count, from <= to).  Each reason for dropping
 * a datagram has its own counter (enum fgw_drop).  Version 1 and 2
 * datagrams are dropped as BADVERSION: a cluster is upgraded all at once
 * (workers limit locally meanwhile).
 */
#ifndef FG_GOSSIP_WIRE_H
#define FG_GOSSIP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/pairwise.h"
#include "gossip/seal.h"

#define FGW_MAGIC            "FGW\x03"
#define FGW_VERSION          3
#define FGW_TYPE_CONSUMPTION 1
#define FGW_TYPE_MEMBER      2
#define FGW_HDR_SIZE         56   /* common to both types */
#define FGW_CONS_HDR         76   /* type 1: where its records start */
#define FGW_F_LAST           0x01 /* type 1: the last part of its batch */
#define FGW_F_REPAIR         0x02 /* type 1: an answer to a digest: unicast */
#define FGW_F_FLOOD          0x04 /* type 1: forwarded even without records */
#define FGW_F_MAC            0x08 /* type 1: direct, ends with a MAC: never relayed */
#define FGW_MAC_SIZE         16
#define FGW_REC_FIXED        14 /* rule_len, key_len, count, recent */
#define FGW_RULE_MAX         31 /* = FG_RULE_NAME_MAX */
#define FGW_KEY_MAX          64 /* = FG_KEY_MAX */
#define FGW_REC_MAX          (FGW_REC_FIXED + FGW_RULE_MAX + FGW_KEY_MAX)
#define FGW_MIN_SIZE         (FGW_HDR_SIZE + FGW_SIG_SIZE) /* signed, any type */
#define FGW_CONS_MIN         (FGW_CONS_HDR + FGW_SEAL_FIXED) /* sealed */
#define FGW_MAC_MIN          (FGW_CONS_HDR + FGW_MAC_SIZE) /* the shortest of all */
#define FGW_MAX_SIZE         1400
#define FGW_MEMBER_BODY      108
#define FGW_MEMBER_SIZE      (FGW_HDR_SIZE + FGW_MEMBER_BODY + FGW_SIG_SIZE)

enum fgw_member_kind {
	FGW_PING = 1,
	FGW_ACK = 2,
	FGW_PING_REQ = 3,
	FGW_ANNOUNCE = 4,
	FGW_SYNC = 5,
};

/* The body of a type 2 datagram. */
struct fgw_member {
	uint8_t kind;   /* enum fgw_member_kind */
	uint8_t family; /* 0: no address, 4, 6 */
	uint16_t port;
	uint8_t addr[16];
	uint64_t nonce;
	uint8_t target[FGW_PK_SIZE];
	uint8_t requester[FGW_PK_SIZE];
	uint64_t digest_inc;  /* ping, sync: the target's incarnation and */
	uint64_t digest_have; /* the version of it held completely */
};

enum fgw_drop {
	FGW_OK = 0,
	FGW_TRUNCATED,  /* shorter than a header and its signature, seal
	                 * or MAC (type 1: and its batch fields) */
	FGW_OVERSIZED,  /* longer than FGW_MAX_SIZE */
	FGW_BADVERSION, /* magic, version, type or flags not ours, or a
	                 * seal deeper than FGW_DEPTH_MAX */
	FGW_UNKNOWNKEY, /* origin not in the keyring */
	FGW_BADSIG,     /* signature, seal or MAC does not verify (a seal
	                 * whose index is beyond its depth), or no key to
	                 * check a MAC with */
	FGW_STALE,      /* incarnation older than one already seen */
	FGW_REPLAY,     /* seq already seen or older than the window */
	FGW_MALFORMED,  /* records overrun, count disagrees with nrec,
	                 * recent > count, from > to; a membership body of
	                 * the wrong size or values */
	FGW_NDROPS
};

const char *fgw_drop_name(enum fgw_drop d);

struct fgw_record {
	const uint8_t *rule;
	uint8_t rule_len;
	const uint8_t *key;
	uint8_t key_len;
	uint64_t count;
	uint64_t floor; /* count - recent: consumption that no longer
	                 * matters */
};

/* Building a datagram. */
struct fgw_writer {
	uint8_t buf[FGW_MAX_SIZE];
	size_t len; /* bytes written so far */
	size_t cap; /* max datagram size, <= FGW_MAX_SIZE */
	uint16_t nrec;
};

void fgw_begin(struct fgw_writer *w, size_t cap,
               const uint8_t origin[FGW_PK_SIZE], uint64_t incarnation,
               uint64_t seq);
/* 0, or -1 when the record would not fit (start a new datagram) or
 * @floor > @count.  recent = count - floor, saturated. */
int fgw_add(struct fgw_writer *w, const char *rule, size_t rule_len,
            const void *key, size_t key_len, uint64_t count, uint64_t floor);
/* The batch this datagram belongs to (fgw_begin: 0, 0, 0, no flags);
 * call before fgw_finish.  Ignored if @from > @to or @flags has bits
 * other than FGW_F_LAST, FGW_F_REPAIR and FGW_F_FLOOD. */
void fgw_set_batch(struct fgw_writer *w, uint64_t from, uint64_t to,
                   uint32_t part, unsigned flags);
/* Seal with @sk (libsodium crypto_sign secret key), a group of one;
 * returns the length, 0 if @w is finished or could not be signed.  With
 * @sk NULL the signature is left zero (see fgw_finish_group_root). */
size_t fgw_finish(struct fgw_writer *w, const uint8_t sk[FGW_SK_SIZE]);
/*
 * fgw_finish_group - seal @n (1 .. FGW_GROUP_MAX) unfinished datagrams with
 * one signature (seal.h): each is finished, w[i]->len its length.  0, or
 * -1 (bad arguments, a finished writer, signing failed) and none is.
 */
int fgw_finish_group(struct fgw_writer *const w[], size_t n,
                     const uint8_t sk[FGW_SK_SIZE]);
/*
 * fgw_finish_group_root - the same without a key: the seal's signature is
 * left zero, for the process that has the key (daemon/privsep.h) to make
 * from the group's @root (fgw_seal_sign_root) and for the caller to put in
 * the last FGW_SIG_SIZE bytes of each datagram.  0 or -1, as above.
 */
int fgw_finish_group_root(struct fgw_writer *const w[], size_t n,
                          uint8_t root[FGW_HASH_SIZE]);
/*
 * fgw_seal_mac - the unfinished datagram of @w, for one member: copied to
 * @out with FGW_F_MAC set and nrec filled in, followed by its MAC under
 * @key (fgw_pairwise_tx() toward that member).  Returns its length, 0 if
 * @w is finished or not a datagram.  @w is not modified: seal it again for
 * each member with that member's key, and/or fgw_finish() it for relays
 * (the same seq in every copy: a receiver takes whichever comes first and
 * drops the others as REPLAY).  Never send the result to anyone else.
 */
size_t fgw_seal_mac(const struct fgw_writer *w,
                    const uint8_t key[FGW_MAC_KEY_SIZE],
                    uint8_t out[FGW_MAX_SIZE]);
/* fgw_seal_mac, the MAC left zero for fgw_prove() to make. */
size_t fgw_seal_later(const struct fgw_writer *w, uint8_t out[FGW_MAX_SIZE]);

/* The proof a datagram we made still needs, in its last bytes:
 * FGW_PROOF_SIG (a membership datagram: the signature of the rest),
 * FGW_PROOF_MAC (the MAC of the rest), FGW_PROOF_SEAL (a sealed one: the
 * signature of its group's root, seal.h), or FGW_PROOF_NONE when @buf is
 * none of those from @origin (a datagram relayed). */
#define FGW_PROOF_NONE 0
#define FGW_PROOF_SIG  1
#define FGW_PROOF_MAC  2
#define FGW_PROOF_SEAL 3
int fgw_proof_needed(const uint8_t *buf, size_t len,
                     const uint8_t origin[FGW_PK_SIZE]);
/* Write the proof of the @len bytes at @buf into their last bytes: the
 * MAC under @mac_key if not NULL, else the signature under @sk of a
 * membership datagram (anything else is refused: a seal's is made by
 * fgw_seal_sign_root).  0 or -1.  Not a check: whoever holds the key
 * proves what it is given. */
int fgw_prove(uint8_t *buf, size_t len, const uint8_t *sk,
              const uint8_t *mac_key);

/* A datagram that passed fgw_open(). */
struct fgw_view {
	const uint8_t *buf;
	size_t len;
	int origin;   /* index in the keyring */
	uint8_t type; /* FGW_TYPE_* */
	uint8_t kind; /* type 2: its FGW_PING.. kind; else 0 */
	uint64_t incarnation;
	uint64_t seq;
	uint16_t nrec;
	uint8_t flags;     /* type 1: FGW_F_* */
	uint64_t from, to; /* type 1: its batch's versions (from, to] */
	uint32_t part;     /* type 1: its index in the batch */
	size_t end;        /* where the body ends: before the seal (type
	                    * 1), the signature (type 2) or the MAC */
	size_t pos;        /* of the next record */
};

/*
 * Check @buf in the order above: FGW_OK and @v set, or the reason to drop
 * it.  Records are all bounds-checked here, before any is returned.
 */
enum fgw_drop fgw_open(const uint8_t *buf, size_t len,
                       const struct fgw_keyring *kr, struct fgw_view *v);
/* fgw_open, remembering in @roots the seal roots whose signature verified
 * and checking no signature again for a root found there (seal.h); NULL:
 * every seal's signature is checked. */
enum fgw_drop fgw_open_cached(const uint8_t *buf, size_t len,
                              const struct fgw_keyring *kr,
                              struct fgw_roots *roots, struct fgw_view *v);
/*
 * Steps 1 to 3 only, nothing authenticated: FGW_OK with @v's origin, type,
 * flags, incarnation and seq, or the reason to drop @buf.  For a receiver
 * to drop, before paying for step 4, a copy of a datagram its replay window
 * already holds (a relayed datagram comes about twice): whatever it reads
 * here must never change any state.
 */
enum fgw_drop fgw_peek(const uint8_t *buf, size_t len,
                       const struct fgw_keyring *kr, struct fgw_view *v);
/* The next record of an opened datagram: 1, or 0 at the end (always 0
 * for a membership datagram). */
int fgw_next(struct fgw_view *v, struct fgw_record *r);

/* Sign a membership datagram into @buf (FGW_MEMBER_SIZE bytes); returns
 * its length, or 0 if @m is not valid or it could not be signed.  @sk
 * NULL: the signature is left zero, as fgw_finish's. */
size_t fgw_member_write(uint8_t buf[FGW_MEMBER_SIZE],
                        const uint8_t origin[FGW_PK_SIZE], uint64_t incarnation,
                        uint64_t seq, const struct fgw_member *m,
                        const uint8_t sk[FGW_SK_SIZE]);
/* The body of an opened membership datagram: 0, or -1 if @v is not one. */
int fgw_member_get(const struct fgw_view *v, struct fgw_member *m);

#endif
