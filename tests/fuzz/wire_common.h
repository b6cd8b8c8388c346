/*
 * wire_common.h - the fixed identities of the wire targets, and the
 * record walk both of them check.
 *
 * Identities.  A datagram is worth nothing to a fuzzer until its origin
 * is in the receiver's keyring and its signature verifies.  The two keys
 * of the test keyring ("fuzz-a", "fuzz-b") are therefore derived with
 * crypto_sign_seed_keypair() from fixed seeds (32 bytes of 0xa0 and of
 * 0xb0): the same keys in every run and every build, so the datagrams of
 * the seed corpus, signed once by fuzz-a, stay valid.  A third seed
 * (0xc0, "stranger") signs datagrams no keyring trusts.  These keys are
 * public knowledge: never use them outside tests.
 *
 * Walk.  fgw_open() promises that an opened consumption datagram has
 * known flags, a batch with from <= to, and exactly nrec well-formed
 * records from FGW_CONS_HDR to the signature, none more recent than its
 * count; fuzz_walk() holds the view and fgw_next() to that, record by
 * record, against the bytes themselves (read here independently of
 * wire.c), and reads every byte it is handed so that ASan sees any record
 * pointing outside the datagram.
 */
#ifndef FG_TESTS_FUZZ_WIRE_COMMON_H
#define FG_TESTS_FUZZ_WIRE_COMMON_H

#include <sodium.h>
#include <string.h>

#include "gossip/wire.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_SEED_A        0xa0
#define FUZZ_SEED_B        0xb0
#define FUZZ_SEED_STRANGER 0xc0

/* Every flag a consumption datagram may carry (wire.h). */
#define FUZZ_CONS_FLAGS (FGW_F_LAST | FGW_F_REPAIR | FGW_F_FLOOD)

struct fuzz_ids {
	uint8_t sk[2][FGW_SK_SIZE]; /* fuzz-a, fuzz-b */
	struct fgw_peer_key keys[2];
	struct fgw_keyring ring;
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

/* Made on first use and never freed: the same for every input. */
static inline const struct fuzz_ids *fuzz_ids(void)
{
	static struct fuzz_ids ids;
	static int ready;

	if (ready)
		return &ids;
	FUZZ_ASSERT(sodium_init() >= 0);
	fuzz_keypair(FUZZ_SEED_A, ids.keys[0].pk, ids.sk[0]);
	strcpy(ids.keys[0].name, "fuzz-a");
	fuzz_keypair(FUZZ_SEED_B, ids.keys[1].pk, ids.sk[1]);
	strcpy(ids.keys[1].name, "fuzz-b");
	ids.ring.n = 2;
	ids.ring.keys = ids.keys;
	ready = 1;
	return &ids;
}

/*
 * Walk the records of @v, opened from @buf/@len, checking each against
 * the layout; append each to @w when it is not NULL (with the floor it
 * came with: the caller sets the batch).  Returns the number of records.
 */
static inline size_t fuzz_walk(struct fgw_view *v, const uint8_t *buf,
                               size_t len, struct fgw_writer *w)
{
	const size_t end = len - FGW_SIG_SIZE;
	size_t pos = FGW_CONS_HDR, n = 0, i;
	struct fgw_record r;
	volatile uint8_t sink = 0;

	FUZZ_ASSERT(v->buf == buf && v->len == len);
	FUZZ_ASSERT(len >= FGW_MIN_SIZE && len <= FGW_MAX_SIZE);
	if (v->type == FGW_TYPE_MEMBER) {
		struct fgw_member m;

		/* No records, no flags, no batch; a body of the one size,
		 * with valid values. */
		FUZZ_ASSERT(len == FGW_MEMBER_SIZE && v->nrec == 0);
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
	FUZZ_ASSERT(len >= FGW_CONS_MIN);
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
		 * ended, and it ends before the signature. */
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
	/* All nrec records, and nothing but records before the signature. */
	FUZZ_ASSERT(n == v->nrec);
	FUZZ_ASSERT(pos == end);
	return n;
}

#endif
