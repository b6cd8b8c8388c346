/* SPDX-License-Identifier: ISC */
/*
 * wire_common.h - the fixed identities of the wire targets, the record
 * walk all of them check, and the reference verdict of a consumption
 * datagram.
 *
 * Identities.  A datagram is worth nothing to a fuzzer until its origin
 * is in the receiver's keyring and its signature (or MAC) verifies.  The
 * test identities ("fuzz-a", "fuzz-b", "fuzz-c") are therefore derived
 * with crypto_sign_seed_keypair() from fixed seeds (32 bytes of 0xa0,
 * 0xb0 and 0xd0): the same keys in every run and every build, so the
 * datagrams of the seed corpus, signed once by fuzz-a, stay valid.  A
 * fourth seed (0xc0, "stranger") signs datagrams no keyring trusts.  The
 * pairwise MAC keys (gossip/pairwise.h) are derived from the identities
 * alone, so they are fixed too.  These keys are public knowledge: never
 * use them outside tests.
 *
 * Keyrings.  `ring` holds fuzz-a and fuzz-b and no pairwise keys (pw
 * NULL: every FGW_F_MAC datagram is BADSIG), as fuzz_wire_signed.c needs.
 * `ring_b` holds the same two keys as fuzz-b holds them, with fuzz-b's
 * pairwise keys: a MAC'd datagram from fuzz-a under `mac_ab` opens there,
 * one "from" fuzz-b itself never does (no key for ourselves).
 * fuzz_wire.c receives as fuzz-b; fuzz_wire_mac.c makes its own keyrings
 * of the three identities.
 *
 * Walk.  fgw_open() promises that an opened consumption datagram has
 * known flags, a batch with from <= to, and exactly nrec well-formed
 * records from FGW_CONS_HDR to its trailer (the seal, or with
 * FGW_F_MAC the MAC), none more recent than its count, and a view whose
 * `end` is where that trailer starts; fuzz_walk() holds the view and
 * fgw_next() to that, record by record, against the bytes themselves
 * (read here independently of wire.c), and reads every byte it is handed
 * so that ASan sees any record pointing outside the datagram.
 *
 * Reference.  fuzz_ref_verdict() restates, without wire.c, what wire.h
 * says of a consumption datagram from a trusted origin: the signed and
 * the MAC targets hold fgw_open() to it.
 */
#ifndef FG_TESTS_FUZZ_WIRE_COMMON_H
#define FG_TESTS_FUZZ_WIRE_COMMON_H

#include <sodium.h>
#include <string.h>

#include "gossip/pairwise.h"
#include "gossip/wire.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_SEED_A        0xa0
#define FUZZ_SEED_B        0xb0
#define FUZZ_SEED_C        0xd0
#define FUZZ_SEED_STRANGER 0xc0

/* Indices of the identities in fuzz_ids (and in every test keyring). */
#define FUZZ_A 0
#define FUZZ_B 1
#define FUZZ_C 2

/* Every flag a consumption datagram may carry (wire.h). */
#define FUZZ_CONS_FLAGS (FGW_F_LAST | FGW_F_REPAIR | FGW_F_FLOOD | FGW_F_MAC)

struct fuzz_ids {
	uint8_t sk[3][FGW_SK_SIZE]; /* fuzz-a, fuzz-b, fuzz-c */
	struct fgw_peer_key keys[3];
	struct fgw_keyring ring;   /* fuzz-a, fuzz-b; no pairwise keys */
	struct fgw_keyring ring_b; /* the same, with fuzz-b's pairwise keys */
	/* fuzz-a's key for what it sends fuzz-b, as fuzz-a derives it */
	uint8_t mac_ab[FGW_MAC_KEY_SIZE];
};

/* Big-endian, as on the wire. */
static inline uint64_t fuzz_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void fuzz_keypair(int seed_byte, uint8_t pk[FGW_PK_SIZE],
                                uint8_t sk[FGW_SK_SIZE])
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	memset(seed, seed_byte, sizeof seed);
	FUZZ_ASSERT(crypto_sign_seed_keypair(pk, sk, seed) == 0);
}

/* The pairwise keys of the identity @sk/@pk over @kr (fatal if they
 * cannot be made): fixed like the identities. */
static inline struct fgw_pairwise *fuzz_pairwise(const struct fgw_keyring *kr,
                                                 const uint8_t sk[FGW_SK_SIZE],
                                                 const uint8_t pk[FGW_PK_SIZE])
{
	struct fgw_pairwise *pw = NULL;

	FUZZ_ASSERT(fgw_pairwise_new(kr, sk, pk, &pw) == 0 && pw != NULL);
	return pw;
}

/* Made on first use and never freed: the same for every input. */
static inline const struct fuzz_ids *fuzz_ids(void)
{
	static struct fuzz_ids ids;
	static int ready;
	struct fgw_pairwise *pw_a;
	const uint8_t *k;

	if (ready)
		return &ids;
	FUZZ_ASSERT(sodium_init() >= 0);
	fuzz_keypair(FUZZ_SEED_A, ids.keys[FUZZ_A].pk, ids.sk[FUZZ_A]);
	strcpy(ids.keys[FUZZ_A].name, "fuzz-a");
	fuzz_keypair(FUZZ_SEED_B, ids.keys[FUZZ_B].pk, ids.sk[FUZZ_B]);
	strcpy(ids.keys[FUZZ_B].name, "fuzz-b");
	fuzz_keypair(FUZZ_SEED_C, ids.keys[FUZZ_C].pk, ids.sk[FUZZ_C]);
	strcpy(ids.keys[FUZZ_C].name, "fuzz-c");
	ids.ring.n = 2;
	ids.ring.keys = ids.keys;
	ids.ring.pw = NULL;
	ids.ring_b = ids.ring;
	ids.ring_b.pw =
	    fuzz_pairwise(&ids.ring, ids.sk[FUZZ_B], ids.keys[FUZZ_B].pk);
	/* a's tx key toward b is b's rx key from a; b has none for itself */
	pw_a = fuzz_pairwise(&ids.ring, ids.sk[FUZZ_A], ids.keys[FUZZ_A].pk);
	k = fgw_pairwise_tx(pw_a, FUZZ_B);
	FUZZ_ASSERT(k != NULL);
	memcpy(ids.mac_ab, k, FGW_MAC_KEY_SIZE);
	fgw_pairwise_free(pw_a);
	k = fgw_pairwise_rx(ids.ring_b.pw, FUZZ_A);
	FUZZ_ASSERT(k != NULL && memcmp(k, ids.mac_ab, FGW_MAC_KEY_SIZE) == 0);
	FUZZ_ASSERT(fgw_pairwise_rx(ids.ring_b.pw, FUZZ_B) == NULL);
	ready = 1;
	return &ids;
}

/* The trailer wire.h gives the @len bytes of @buf (its type and flags
 * bytes, and a seal's depth, the byte before its signature): its length.
 * Membership: a signature; consumption: a MAC, or a seal of 66 bytes and
 * 16 a level (gossip/seal.h). */
static inline size_t fuzz_trailer(const uint8_t *buf, size_t len)
{
	if (buf[4] == FGW_TYPE_CONSUMPTION && (buf[5] & FGW_F_MAC))
		return FGW_MAC_SIZE;
	if (buf[4] != FGW_TYPE_CONSUMPTION)
		return FGW_SIG_SIZE;
	return 2 + FGW_SIG_SIZE + (size_t)buf[len - FGW_SIG_SIZE - 1] * 16;
}

/*
 * The root a sealed consumption datagram folds to, computed here from
 * gossip/seal.h's definition and not by seal.c: the leaf is BLAKE2b-128,
 * personal "floodgate-leaf3", of the datagram up to its trailer; each
 * level hashes (left || right), personal "floodgate-node3", the datagram's
 * side given by the index's bits from the bottom.  The signed message is
 * "floodgate-root3" NUL || root.  1 if @pk signed it, else 0.
 */
static inline int fuzz_ref_seal(const uint8_t *buf, size_t len,
                                const uint8_t pk[FGW_PK_SIZE])
{
	static const uint8_t leaf[16] = "floodgate-leaf3",
	                     node[16] = "floodgate-node3",
	                     ctx[16] = "floodgate-root3";
	size_t depth = buf[len - FGW_SIG_SIZE - 1], t, k;
	size_t index = buf[len - FGW_SIG_SIZE - 2];
	uint8_t h[16], pair[32], msg[32];

	t = len - 2 - FGW_SIG_SIZE - depth * 16;
	if (index >= ((size_t)1 << depth))
		return 0;
	FUZZ_ASSERT(crypto_generichash_blake2b_salt_personal(
	                h, 16, buf, t, NULL, 0, NULL, leaf) == 0);
	for (k = 0; k < depth; k++) {
		const uint8_t *sib = buf + t + k * 16;

		memcpy(pair, (index >> k) & 1 ? sib : h, 16);
		memcpy(pair + 16, (index >> k) & 1 ? h : sib, 16);
		FUZZ_ASSERT(crypto_generichash_blake2b_salt_personal(
		                h, 16, pair, 32, NULL, 0, NULL, node) == 0);
	}
	memcpy(msg, ctx, 16);
	memcpy(msg + 16, h, 16);
	return crypto_sign_verify_detached(buf + len - FGW_SIG_SIZE, msg, 32,
	                                   pk) == 0;
}

/*
 * fuzz_ref_verdict - what wire.h says of a consumption datagram from a
 * trusted origin: the common header with @flags and @nrec, then @body
 * (@len bytes: the batch fields, then records), then a trailer of
 * @trailer bytes.  @proof: whether the proof @flags call for is there and
 * verifies (the origin's seal of a group of one, 66 bytes; with
 * FGW_F_MAC, its MAC under the key the receiver shares with the origin).
 * The datagram must not exceed FGW_MAX_SIZE (OVERSIZED is fuzz_wire.c's).
 *
 * In fgw_open()'s order: shorter than the shortest datagram of all
 * (FGW_MAC_MIN), TRUNCATED before a byte is read; a flag that is not
 * ours, BADVERSION; too short for the batch fields and the trailer the
 * flags call for, TRUNCATED; no proof, BADSIG; then from > to, or a body
 * that is not exactly nrec well-formed records with recent <= count,
 * MALFORMED; else OK.  (The seal's depth is 0 wherever this is asked:
 * the targets seal groups of one.)
 */
static inline enum fgw_drop fuzz_ref_verdict(unsigned flags, unsigned nrec,
                                             const uint8_t *body, size_t len,
                                             size_t trailer, int proof)
{
	const size_t batch = FGW_CONS_HDR - FGW_HDR_SIZE;
	const size_t dlen = FGW_HDR_SIZE + len + trailer;
	const size_t want =
	    (flags & FGW_F_MAC) ? FGW_MAC_SIZE : 2 + FGW_SIG_SIZE;
	size_t pos = batch;
	unsigned n = 0;

	FUZZ_ASSERT(dlen <= FGW_MAX_SIZE);
	if (dlen < FGW_MAC_MIN)
		return FGW_TRUNCATED;
	if ((flags & ~(unsigned)FUZZ_CONS_FLAGS) != 0)
		return FGW_BADVERSION;
	if (dlen < FGW_CONS_HDR + want)
		return FGW_TRUNCATED;
	if (!proof)
		return FGW_BADSIG;
	/* A proof that verified is the trailer the flags call for. */
	FUZZ_ASSERT(trailer == want && len >= batch);
	if (fuzz_get(body, 8) > fuzz_get(body + 8, 8)) /* from > to */
		return FGW_MALFORMED;
	while (pos < len) {
		size_t rule_len, key_len;

		if (len - pos < FGW_REC_FIXED)
			return FGW_MALFORMED;
		rule_len = body[pos];
		key_len = body[pos + 1];
		if (rule_len < 1 || rule_len > FGW_RULE_MAX)
			return FGW_MALFORMED;
		if (key_len < 1 || key_len > FGW_KEY_MAX)
			return FGW_MALFORMED;
		/* recent (u32 at 10) <= count (u64 at 2) */
		if (fuzz_get(body + pos + 10, 4) > fuzz_get(body + pos + 2, 8))
			return FGW_MALFORMED;
		pos += FGW_REC_FIXED;
		if (len - pos < rule_len + key_len)
			return FGW_MALFORMED;
		pos += rule_len + key_len;
		n++;
	}
	return n == nrec ? FGW_OK : FGW_MALFORMED;
}

/*
 * Walk the records of @v, opened from @buf/@len, checking each against
 * the layout; append each to @w when it is not NULL (with the floor it
 * came with: the caller sets the batch).  Returns the number of records.
 */
static inline size_t fuzz_walk(struct fgw_view *v, const uint8_t *buf,
                               size_t len, struct fgw_writer *w)
{
	size_t end, pos = FGW_CONS_HDR, n = 0, i;
	struct fgw_record r;
	volatile uint8_t sink = 0;

	FUZZ_ASSERT(v->buf == buf && v->len == len);
	FUZZ_ASSERT(len >= FGW_MAC_MIN && len <= FGW_MAX_SIZE);
	/* The body ends where the trailer its type and flags call for
	 * starts: before the seal, the signature, or the MAC. */
	end = len - fuzz_trailer(buf, len);
	FUZZ_ASSERT(v->end == end);
	if (v->type == FGW_TYPE_MEMBER) {
		struct fgw_member m;

		/* No records, no flags, no batch; a body of the one size,
		 * with valid values. */
		FUZZ_ASSERT(len == FGW_MEMBER_SIZE && v->nrec == 0);
		FUZZ_ASSERT(end == FGW_MEMBER_SIZE - FGW_SIG_SIZE);
		FUZZ_ASSERT(v->flags == 0 && buf[5] == 0);
		FUZZ_ASSERT(v->from == 0 && v->to == 0 && v->part == 0);
		FUZZ_ASSERT(fgw_next(v, &r) == 0);
		FUZZ_ASSERT(fgw_member_get(v, &m) == 0);
		FUZZ_ASSERT(m.kind >= FGW_PING && m.kind <= FGW_SYNC);
		FUZZ_ASSERT(m.family == 0 || m.family == 4 || m.family == 6);
		/* Only a ping or a sync request carries a digest. */
		if (m.kind != FGW_PING && m.kind != FGW_SYNC)
			FUZZ_ASSERT(m.digest_inc == 0 && m.digest_have == 0);
		FUZZ_ASSERT(m.digest_inc ==
		            fuzz_get(buf + FGW_HDR_SIZE + 92, 8));
		FUZZ_ASSERT(m.digest_have ==
		            fuzz_get(buf + FGW_HDR_SIZE + 100, 8));
		return 0;
	}
	FUZZ_ASSERT(v->type == FGW_TYPE_CONSUMPTION);
	FUZZ_ASSERT(len >=
	            ((v->flags & FGW_F_MAC) ? FGW_MAC_MIN : FGW_CONS_MIN));
	FUZZ_ASSERT(end >= FGW_CONS_HDR);
	FUZZ_ASSERT(v->nrec == fuzz_get(buf + 6, 2));
	{
		struct fgw_member m;

		FUZZ_ASSERT(fgw_member_get(v, &m) == -1);
	}
	/* The batch fields, as wire.h places them. */
	FUZZ_ASSERT(v->flags == buf[5]);
	FUZZ_ASSERT((v->flags & ~FUZZ_CONS_FLAGS) == 0);
	FUZZ_ASSERT(v->from == fuzz_get(buf + 56, 8));
	FUZZ_ASSERT(v->to == fuzz_get(buf + 64, 8));
	FUZZ_ASSERT(v->part == fuzz_get(buf + 72, 4));
	FUZZ_ASSERT(v->from <= v->to);
	while (fgw_next(v, &r)) {
		FUZZ_ASSERT(r.rule_len >= 1 && r.rule_len <= FGW_RULE_MAX);
		FUZZ_ASSERT(r.key_len >= 1 && r.key_len <= FGW_KEY_MAX);
		/* Records are contiguous: this one starts where the last
		 * ended, and it ends before the trailer. */
		FUZZ_ASSERT(r.rule == buf + pos + FGW_REC_FIXED);
		FUZZ_ASSERT(r.key == r.rule + r.rule_len);
		/* count and recent as on the wire; floor = count - recent */
		FUZZ_ASSERT(r.count == fuzz_get(buf + pos + 2, 8));
		FUZZ_ASSERT(r.floor <= r.count);
		FUZZ_ASSERT(r.count - r.floor == fuzz_get(buf + pos + 10, 4));
		pos += FGW_REC_FIXED + r.rule_len + r.key_len;
		FUZZ_ASSERT(pos <= end);
		for (i = 0; i < r.rule_len; i++)
			sink ^= r.rule[i];
		for (i = 0; i < r.key_len; i++)
			sink ^= r.key[i];
		if (w != NULL)
			FUZZ_ASSERT(fgw_add(w, (const char *)r.rule, r.rule_len,
			                    r.key, r.key_len, r.count,
			                    r.floor) == 0);
		n++;
	}
	(void)sink;
	/* All nrec records, and nothing but records before the trailer. */
	FUZZ_ASSERT(n == v->nrec);
	FUZZ_ASSERT(pos == end);
	return n;
}

#endif
