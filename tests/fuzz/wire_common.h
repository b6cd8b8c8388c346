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
 * Walk.  fgw_open() promises that an opened datagram is exactly nrec
 * well-formed records ending at the signature; fuzz_walk() holds
 * fgw_next() to that, record by record, and reads every byte it is handed
 * so that ASan sees any record pointing outside the datagram.
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

struct fuzz_ids {
	uint8_t sk[2][FGW_SK_SIZE]; /* fuzz-a, fuzz-b */
	struct fgw_peer_key keys[2];
	struct fgw_keyring ring;
};

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
 * the layout; append each to @w when it is not NULL.  Returns the number
 * of records.
 */
static inline size_t fuzz_walk(struct fgw_view *v, const uint8_t *buf,
                               size_t len, struct fgw_writer *w)
{
	const size_t end = len - FGW_SIG_SIZE;
	size_t pos = FGW_HDR_SIZE, n = 0, i;
	struct fgw_record r;
	volatile uint8_t sink = 0;

	FUZZ_ASSERT(v->buf == buf && v->len == len);
	FUZZ_ASSERT(len >= FGW_MIN_SIZE && len <= FGW_MAX_SIZE);
	if (v->type == FGW_TYPE_MEMBER) {
		struct fgw_member m;

		/* No records; a body of the one size, with valid values. */
		FUZZ_ASSERT(len == FGW_MEMBER_SIZE && v->nrec == 0);
		FUZZ_ASSERT(fgw_next(v, &r) == 0);
		FUZZ_ASSERT(fgw_member_get(v, &m) == 0);
		FUZZ_ASSERT(m.kind >= FGW_PING && m.kind <= FGW_ANNOUNCE);
		FUZZ_ASSERT(m.family == 0 || m.family == 4 || m.family == 6);
		return 0;
	}
	FUZZ_ASSERT(v->type == FGW_TYPE_CONSUMPTION);
	{
		struct fgw_member m;

		FUZZ_ASSERT(fgw_member_get(v, &m) == -1);
	}
	while (fgw_next(v, &r)) {
		FUZZ_ASSERT(r.rule_len >= 1 && r.rule_len <= FGW_RULE_MAX);
		FUZZ_ASSERT(r.key_len >= 1 && r.key_len <= FGW_KEY_MAX);
		/* Records are contiguous: this one starts where the last
		 * ended, and it ends before the signature. */
		FUZZ_ASSERT(r.rule == buf + pos + FGW_REC_FIXED);
		FUZZ_ASSERT(r.key == r.rule + r.rule_len);
		pos += FGW_REC_FIXED + r.rule_len + r.key_len;
		FUZZ_ASSERT(pos <= end);
		for (i = 0; i < r.rule_len; i++)
			sink ^= r.rule[i];
		for (i = 0; i < r.key_len; i++)
			sink ^= r.key[i];
		if (w != NULL)
			FUZZ_ASSERT(fgw_add(w, (const char *)r.rule, r.rule_len,
			                    r.key, r.key_len, r.count) == 0);
		n++;
	}
	(void)sink;
	/* All nrec records, and nothing but records before the signature. */
	FUZZ_ASSERT(n == v->nrec);
	FUZZ_ASSERT(pos == end);
	return n;
}

#endif
