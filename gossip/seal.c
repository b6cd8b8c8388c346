/* SPDX-License-Identifier: ISC */
/*
 * seal.c - see seal.h.
 *
 * The tree of a group of n datagrams is the complete tree of 2^depth
 * leaves, depth the smallest with 2^depth >= n, whose leaves past n are
 * zero: one shape per depth, so the verifier needs nothing but the index
 * and the path, and every level of a tree of depth <= 6 fits in a 2 KiB
 * array on the stack (127 nodes).  Level k, node j lives at
 * tree[(2^(depth+1) - 2^(depth-k+1)) + j]: the leaves first, the root last.
 */
#include "gossip/seal.h"

#include <sodium.h>
#include <string.h>

_Static_assert(FGW_SIG_SIZE == crypto_sign_BYTES, "signature size");
_Static_assert(FGW_HASH_SIZE >= crypto_generichash_blake2b_BYTES_MIN,
               "hash size");
_Static_assert(FGW_GROUP_MAX <= 256, "an index is one byte");

static const uint8_t pers_leaf[crypto_generichash_blake2b_PERSONALBYTES] =
    "floodgate-leaf3";
static const uint8_t pers_node[crypto_generichash_blake2b_PERSONALBYTES] =
    "floodgate-node3";
static const uint8_t root_ctx[16] = "floodgate-root3";

static void leaf_hash(const uint8_t *buf, size_t len,
                      uint8_t out[FGW_HASH_SIZE])
{
	crypto_generichash_blake2b_salt_personal(out, FGW_HASH_SIZE, buf, len,
	                                         NULL, 0, NULL, pers_leaf);
}

static void node_hash(const uint8_t *l, const uint8_t *r,
                      uint8_t out[FGW_HASH_SIZE])
{
	uint8_t in[2 * FGW_HASH_SIZE];

	memcpy(in, l, FGW_HASH_SIZE);
	memcpy(in + FGW_HASH_SIZE, r, FGW_HASH_SIZE);
	crypto_generichash_blake2b_salt_personal(
	    out, FGW_HASH_SIZE, in, sizeof in, NULL, 0, NULL, pers_node);
}

static int sign_root(const uint8_t root[FGW_HASH_SIZE], uint8_t *sig,
                     const uint8_t *sk)
{
	uint8_t msg[sizeof root_ctx + FGW_HASH_SIZE];

	memcpy(msg, root_ctx, sizeof root_ctx);
	memcpy(msg + sizeof root_ctx, root, FGW_HASH_SIZE);
	return crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
}

int fgw_seal_verify(const uint8_t root[FGW_HASH_SIZE],
                    const uint8_t sig[FGW_SIG_SIZE],
                    const uint8_t pk[FGW_PK_SIZE])
{
	uint8_t msg[sizeof root_ctx + FGW_HASH_SIZE];

	if (sodium_init() < 0)
		return -1;
	memcpy(msg, root_ctx, sizeof root_ctx);
	memcpy(msg + sizeof root_ctx, root, FGW_HASH_SIZE);
	return crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0 ? 0
	                                                                  : -1;
}

/* Where level @k of a tree of @depth starts, in nodes. */
static size_t level_at(unsigned depth, unsigned k)
{
	return ((size_t)1 << (depth + 1)) - ((size_t)1 << (depth - k + 1));
}

size_t fgw_seal_build(size_t n, const uint8_t *const body[], const size_t len[],
                      uint8_t *const trailer[], uint8_t root[FGW_HASH_SIZE])
{
	uint8_t tree[(2 * FGW_GROUP_MAX - 1) * FGW_HASH_SIZE];
	unsigned depth = 0, k;
	size_t i, j;

	if (n == 0 || n > FGW_GROUP_MAX || sodium_init() < 0)
		return 0;
	while (((size_t)1 << depth) < n)
		depth++;
	memset(tree, 0, sizeof tree);
	for (i = 0; i < n; i++)
		leaf_hash(body[i], len[i], tree + i * FGW_HASH_SIZE);
	for (k = 1; k <= depth; k++)
		for (j = 0; j < ((size_t)1 << (depth - k)); j++)
			node_hash(tree + (level_at(depth, k - 1) + 2 * j) *
			                     FGW_HASH_SIZE,
			          tree + (level_at(depth, k - 1) + 2 * j + 1) *
			                     FGW_HASH_SIZE,
			          tree +
			              (level_at(depth, k) + j) * FGW_HASH_SIZE);
	memcpy(root, tree + level_at(depth, depth) * FGW_HASH_SIZE,
	       FGW_HASH_SIZE);
	for (i = 0; i < n; i++) {
		uint8_t *t = trailer[i];

		for (k = 0; k < depth; k++)
			memcpy(t + k * FGW_HASH_SIZE,
			       tree + (level_at(depth, k) + ((i >> k) ^ 1)) *
			                  FGW_HASH_SIZE,
			       FGW_HASH_SIZE);
		t[depth * FGW_HASH_SIZE] = (uint8_t)i;
		t[depth * FGW_HASH_SIZE + 1] = (uint8_t)depth;
		memset(t + depth * FGW_HASH_SIZE + 2, 0, FGW_SIG_SIZE);
	}
	return FGW_SEAL_SIZE(depth);
}

int fgw_seal_sign_root(const uint8_t root[FGW_HASH_SIZE],
                       uint8_t sig[FGW_SIG_SIZE], const uint8_t *sk)
{
	if (sk == NULL || sodium_init() < 0)
		return -1;
	return sign_root(root, sig, sk) == 0 ? 0 : -1;
}

size_t fgw_seal_sign(size_t n, const uint8_t *const body[], const size_t len[],
                     uint8_t *const trailer[], const uint8_t sk[FGW_SK_SIZE])
{
	uint8_t root[FGW_HASH_SIZE], sig[FGW_SIG_SIZE];
	size_t i, tlen = fgw_seal_build(n, body, len, trailer, root);

	if (tlen == 0 || fgw_seal_sign_root(root, sig, sk) != 0)
		return 0;
	for (i = 0; i < n; i++)
		memcpy(trailer[i] + tlen - FGW_SIG_SIZE, sig, FGW_SIG_SIZE);
	sodium_memzero(sig, sizeof sig);
	return tlen;
}

size_t fgw_seal_size(const uint8_t *buf, size_t len)
{
	unsigned depth;

	if (buf == NULL || len < FGW_SEAL_FIXED)
		return 0;
	depth = buf[len - FGW_SIG_SIZE - 1];
	if (depth > FGW_DEPTH_MAX || len < FGW_SEAL_SIZE(depth))
		return 0;
	return FGW_SEAL_SIZE(depth);
}

int fgw_seal_root(const uint8_t *buf, size_t len, size_t tlen,
                  uint8_t root[FGW_HASH_SIZE], const uint8_t **sig)
{
	const uint8_t *t = buf + len - tlen;
	unsigned depth = (unsigned)((tlen - FGW_SEAL_FIXED) / FGW_HASH_SIZE),
	         index, k;

	index = t[depth * FGW_HASH_SIZE];
	if (index >= (1u << depth) || sodium_init() < 0)
		return -1;
	leaf_hash(buf, len - tlen, root);
	for (k = 0; k < depth; k++) {
		if ((index >> k) & 1)
			node_hash(t + k * FGW_HASH_SIZE, root, root);
		else
			node_hash(root, t + k * FGW_HASH_SIZE, root);
	}
	*sig = t + depth * FGW_HASH_SIZE + 2;
	return 0;
}

/* ------------------------------------------------------------- the cache */

/* Fully associative, replaced in turn: 64 compares (~50 ns) cost nothing
 * next to the verification a miss costs, and a round's groups, which
 * arrive interleaved through relays, never evict one another (a direct
 * mapped cache would make two groups that share a slot thrash). */
int fgw_roots_has(struct fgw_roots *c, int origin,
                  const uint8_t root[FGW_HASH_SIZE])
{
	size_t i;

	for (i = 0; i < FGW_ROOTS; i++)
		if (c->e[i].origin == origin + 1 &&
		    memcmp(c->e[i].root, root, FGW_HASH_SIZE) == 0) {
			c->hits++;
			return 1;
		}
	c->misses++;
	return 0;
}

void fgw_roots_add(struct fgw_roots *c, int origin,
                   const uint8_t root[FGW_HASH_SIZE])
{
	struct fgw_root *e = &c->e[c->next++ % FGW_ROOTS];

	memcpy(e->root, root, FGW_HASH_SIZE);
	e->origin = origin + 1;
}
