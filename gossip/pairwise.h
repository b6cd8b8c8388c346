/* SPDX-License-Identifier: ISC */
/*
 * pairwise.h - per-pair MAC keys for direct gossip (design in pairwise.c).
 *
 * Every pair of members (A, B) of the keyring shares two 32-byte keys,
 * one per direction, derived from their Ed25519 identities alone: A's key
 * for what it sends to B is B's key for what it receives from A, and no
 * third member can compute either.  They authenticate datagrams that go
 * directly from their origin to one member (FGW_F_MAC, wire.h); relayed
 * traffic keeps its Ed25519 signature.
 *
 * A struct fgw_pairwise is built once from a keyring and our key pair,
 * is immutable afterwards (its memory is read-only), and may be read by
 * any number of threads at once.  It describes that keyring only: rebuild
 * it whenever the keyring changes (member indices are keyring indices).
 */
#ifndef FG_GOSSIP_PAIRWISE_H
#define FG_GOSSIP_PAIRWISE_H

#include <stdint.h>

#include "gossip/keys.h"

#define FGW_MAC_KEY_SIZE 32 /* a pairwise key: BLAKE2b-256 */

struct fgw_pairwise;

/*
 * fgw_pairwise_new - derive the keys between us and every keyring entry.
 * @kr:  the keyring; entry i gets keys i (not retained: copied)
 * @sk:  our libsodium crypto_sign secret key (seed || public key)
 * @pk:  our public key; must be the public half of @sk
 * @out: receives the keys (free with fgw_pairwise_free), NULL on error
 *
 * An entry whose key cannot be used for key agreement (not a valid
 * Ed25519 point, or of small order) gets no keys, and neither does our
 * own entry; the others do.  Returns 0, or -1 (@sk and @pk disagree, no
 * memory, or libsodium could not start).  Never aborts, never logs.
 */
__attribute__((warn_unused_result)) int
fgw_pairwise_new(const struct fgw_keyring *kr, const uint8_t sk[FGW_SK_SIZE],
                 const uint8_t pk[FGW_PK_SIZE], struct fgw_pairwise **out);

/* Wipes and frees; NULL is fine. */
void fgw_pairwise_free(struct fgw_pairwise *p);

/*
 * fgw_pairwise_tx - the FGW_MAC_KEY_SIZE-byte key for datagrams we send
 * to keyring entry @member; NULL for ourselves, an index out of range, an
 * entry without keys, or @p NULL.  The memory is read-only and lives as
 * long as @p.
 */
const uint8_t *fgw_pairwise_tx(const struct fgw_pairwise *p, int member);

/*
 * fgw_pairwise_rx_only - a table to check what members send us, never to
 * seal: entry i of @kr gets the FGW_MAC_KEY_SIZE bytes at @rx + i *
 * FGW_MAC_KEY_SIZE (all zero: no keys), and fgw_pairwise_tx() is NULL for
 * every entry.  What the process that reads the network holds when our
 * key pair lives in another (daemon/privsep.h), which made @rx with
 * fgw_pairwise_rx().  0, or -1 (bad arguments, no memory).
 */
__attribute__((warn_unused_result)) int
fgw_pairwise_rx_only(const struct fgw_keyring *kr, const uint8_t *rx,
                     struct fgw_pairwise **out);

/* fgw_pairwise_rx - the key for datagrams @member sends us; as above. */
const uint8_t *fgw_pairwise_rx(const struct fgw_pairwise *p, int member);

/*
 * fgw_pairwise_rx_from - fgw_pairwise_rx(), but only if entry @member was
 * built from public key @pk, else NULL: what fgw_open() uses, so that keys
 * built from another keyring (indices shifted by a reload) never check a
 * datagram in some other member's name.
 */
const uint8_t *fgw_pairwise_rx_from(const struct fgw_pairwise *p, int member,
                                    const uint8_t pk[FGW_PK_SIZE]);

#endif
