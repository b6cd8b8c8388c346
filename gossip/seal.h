/* SPDX-License-Identifier: ISC */
/*
 * seal.h - one signature for a group of datagrams: the trailer of a signed
 * consumption datagram (wire.h, format version 3).
 *
 * An Ed25519 verification costs ~57 us, the work of ~150 records, so a
 * receiver that checked one per datagram could not take a million changed
 * keys a second on one core (issue 15: 208 ms of work per 100 ms round).
 * Instead an origin signs up to FGW_GROUP_MAX datagrams at once, as a
 * Merkle tree:
 *
 *   leaf i  = BLAKE2b-128(datagram i up to its trailer), personal "leaf"
 *   node    = BLAKE2b-128(left || right), personal "node"; the leaves are
 *             those of a complete tree of 2^depth, the missing ones zero
 *   signed  = Ed25519("floodgate-root3" NUL || root)
 *
 * and each datagram carries the path from its leaf to the root and the
 * one signature, so that every datagram is checked on its own, whatever
 * others of its group were lost, and a relay forwards it unchanged with
 * its origin's proof.  A receiver hashes the datagram and folds its path
 * (~2 us for 1200 bytes and depth 6) and checks the signature only for a
 * root it has not seen verified: the rest of a group costs no signature.
 *
 * The trailer, after the records:
 *
 *       path   depth x 16  the siblings of the nodes from the leaf up
 *       index  1           the datagram's leaf, < 2^depth
 *       depth  1           0 .. FGW_DEPTH_MAX (0: a group of one)
 *       sig    64          Ed25519 signature of the root
 *
 * Hashes are 128 bits: a relay that wants a datagram of its own under a
 * signed root needs a second preimage (2^128 work); a collision (2^64)
 * would only let the origin sign two datagrams at once, which it can do
 * anyway.  Leaves and nodes are hashed under different personalisations,
 * so a node can never pass for a leaf.  What a root proves is what the
 * leaves hold: origin, incarnation, seq and records; replays are the
 * replay window's business, as for any signed datagram.
 *
 * The cache of verified roots is the receiver's (struct fgw_roots): a
 * root gets in only after its signature verified, so it cannot be
 * poisoned, and what it forgets only costs a verification again.
 */
#ifndef FG_GOSSIP_SEAL_H
#define FG_GOSSIP_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/keys.h"

#define FGW_SIG_SIZE         64
#define FGW_HASH_SIZE        16
#define FGW_DEPTH_MAX        6
#define FGW_GROUP_MAX        (1u << FGW_DEPTH_MAX)
#define FGW_SEAL_FIXED       (2 + FGW_SIG_SIZE) /* index, depth, signature */
#define FGW_SEAL_SIZE(depth) (FGW_SEAL_FIXED + (size_t)(depth)*FGW_HASH_SIZE)
#define FGW_SEAL_MAX         FGW_SEAL_SIZE(FGW_DEPTH_MAX)
#define FGW_ROOTS            64 /* verified roots a receiver remembers */

/*
 * fgw_seal_sign - sign @n (1 .. FGW_GROUP_MAX) datagrams at once: datagram
 * i is @body[i], @len[i] bytes, and its trailer is written at @trailer[i]
 * (FGW_SEAL_SIZE(depth) bytes, depth the smallest with 2^depth >= @n).
 * Returns the trailers' size, or 0 (bad arguments, signing failed).
 */
size_t fgw_seal_sign(size_t n, const uint8_t *const body[], const size_t len[],
                     uint8_t *const trailer[], const uint8_t sk[FGW_SK_SIZE]);

/*
 * The same in two steps, for an origin whose key is in another process
 * (daemon/privsep.h): fgw_seal_build writes the trailers with the
 * signature left zero and gives the group's @root; fgw_seal_sign_root,
 * where the key is, signs it into @sig (0, or -1), which then goes into
 * the last FGW_SIG_SIZE bytes of every datagram of the group.  What is
 * signed is a root and its context string, never anything else of ours
 * (a membership datagram, wire.h), so the one who asks for it gets a
 * signature good for nothing but a seal.
 */
size_t fgw_seal_build(size_t n, const uint8_t *const body[], const size_t len[],
                      uint8_t *const trailer[], uint8_t root[FGW_HASH_SIZE]);
int fgw_seal_sign_root(const uint8_t root[FGW_HASH_SIZE],
                       uint8_t sig[FGW_SIG_SIZE], const uint8_t *sk);

/*
 * fgw_seal_size - the size of the trailer that ends the @len bytes at
 * @buf, read from its depth byte: 0 if @len is too short for one, or its
 * depth is over FGW_DEPTH_MAX.  Nothing is authenticated yet.
 */
size_t fgw_seal_size(const uint8_t *buf, size_t len);

/*
 * fgw_seal_root - the root of the group a datagram of @len bytes, ending
 * in a trailer of @tlen (fgw_seal_size), says it belongs to: 0, or -1 when
 * its index is beyond its depth.  @sig points at the signature to check.
 */
int fgw_seal_root(const uint8_t *buf, size_t len, size_t tlen,
                  uint8_t root[FGW_HASH_SIZE], const uint8_t **sig);

/* 0 if @sig is @pk's signature of @root, else -1. */
int fgw_seal_verify(const uint8_t root[FGW_HASH_SIZE],
                    const uint8_t sig[FGW_SIG_SIZE],
                    const uint8_t pk[FGW_PK_SIZE]);

/* Roots whose signature verified, by origin (a keyring index): the last
 * FGW_ROOTS.  A zeroed struct is empty.  Not thread-safe: the receive
 * loop's. */
struct fgw_roots {
	struct fgw_root {
		uint8_t root[FGW_HASH_SIZE];
		int32_t origin; /* + 1: 0 is an empty entry */
	} e[FGW_ROOTS];
	unsigned next; /* the entry replaced next */
	uint64_t hits, misses;
};

int fgw_roots_has(struct fgw_roots *c, int origin,
                  const uint8_t root[FGW_HASH_SIZE]);
void fgw_roots_add(struct fgw_roots *c, int origin,
                   const uint8_t root[FGW_HASH_SIZE]);

#endif
