/* SPDX-License-Identifier: ISC */
/*
 * test_pairwise.c - pairwise MAC keys (gossip/pairwise.h) and the MAC'd
 * datagrams they authenticate (FGW_F_MAC, gossip/wire.h).
 *
 * Three members a, b, c share one keyring; each has its own pairwise keys
 * and its own view of the keyring (the same entries, its own `pw`), as
 * three daemons would.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/pairwise.h"
#include "gossip/wire.h"
#include "tests/helpers.h"

#define N           3 /* a, b, c */
#define KNOWN_FLAGS (FGW_F_LAST | FGW_F_REPAIR | FGW_F_FLOOD | FGW_F_MAC)

struct member {
	uint8_t pk[FGW_PK_SIZE];
	uint8_t sk[FGW_SK_SIZE];
	struct fgw_pairwise *pw;
	struct fgw_keyring ring; /* its view: the shared keys, its own pw */
};

static struct member m[N], stranger;
static struct fgw_peer_key keys[N];

static void setup(void)
{
	int i;

	cr_assert_geq(sodium_init(), 0);
	crypto_sign_keypair(stranger.pk, stranger.sk);
	for (i = 0; i < N; i++) {
		crypto_sign_keypair(m[i].pk, m[i].sk);
		memcpy(keys[i].pk, m[i].pk, FGW_PK_SIZE);
		keys[i].name[0] = (char)('a' + i);
	}
	for (i = 0; i < N; i++) {
		m[i].ring = (struct fgw_keyring){.n = N, .keys = keys};
		cr_assert_eq(
		    fgw_pairwise_new(&m[i].ring, m[i].sk, m[i].pk, &m[i].pw),
		    0);
		cr_assert_not_null(m[i].pw);
		m[i].ring.pw = m[i].pw;
	}
}

static void teardown(void)
{
	int i;

	for (i = 0; i < N; i++) {
		fgw_pairwise_free(m[i].pw);
		m[i].pw = NULL;
	}
}

TestSuite(pairwise, .init = setup, .fini = teardown, .timeout = 60);

/* A consumption datagram of @from in @w: two records and a batch. */
static void two_records(struct fgw_writer *w, int from)
{
	fgw_begin(w, 1200, m[from].pk, 7, 42);
	cr_assert_eq(fgw_add(w, "api", 3, "k1", 2, 100, 40), 0);
	cr_assert_eq(fgw_add(w, "login", 5, "10.0.0.1", 8, 5, 5), 0);
	fgw_set_batch(w, 10, 12, 1, FGW_F_LAST);
}

/* @from's datagram of two_records(), MAC'd for @to, into @out. */
static size_t sealed(uint8_t out[FGW_MAX_SIZE], int from, int to)
{
	struct fgw_writer w;
	size_t len;

	two_records(&w, from);
	len = fgw_seal_mac(&w, fgw_pairwise_tx(m[from].pw, to), out);
	cr_assert_gt(len, 0);
	return len;
}

/* fgw_open() on an exact-size heap copy: ASan sees any overread. */
static enum fgw_drop open_at(int at, const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct fgw_view v;
	enum fgw_drop d;

	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	d = fgw_open(copy, len, &m[at].ring, &v);
	free(copy);
	return d;
}

/* Append the MAC of [0, len) under @key to @buf. */
static size_t mac_raw(uint8_t *buf, size_t len, const uint8_t *key)
{
	cr_assert_eq(crypto_generichash(buf + len, FGW_MAC_SIZE, buf, len, key,
	                                FGW_MAC_KEY_SIZE),
	             0);
	return len + FGW_MAC_SIZE;
}

/* ------------------------------------------------------------ keys */

Test(pairwise, keys_agree_across_the_two_ends_and_differ_by_direction_and_pair)
{
	const uint8_t *k[N * N];
	int i, j, x, y;

	for (i = 0; i < N; i++) {
		for (j = 0; j < N; j++) {
			const uint8_t *tx = fgw_pairwise_tx(m[i].pw, j);
			const uint8_t *rx = fgw_pairwise_rx(m[j].pw, i);

			k[i * N + j] = tx;
			if (i == j) {
				cr_expect_null(tx, "no key with ourselves");
				cr_expect_null(fgw_pairwise_rx(m[i].pw, i));
				continue;
			}
			cr_assert_not_null(tx);
			cr_assert_not_null(rx);
			/* what i sends to j, j receives from i */
			cr_expect_eq(memcmp(tx, rx, FGW_MAC_KEY_SIZE), 0,
			             "%d -> %d", i, j);
			/* the other direction of the same pair differs */
			cr_expect_neq(memcmp(tx, fgw_pairwise_rx(m[i].pw, j),
			                     FGW_MAC_KEY_SIZE),
			              0, "%d <-> %d", i, j);
			cr_expect_not(sodium_is_zero(tx, FGW_MAC_KEY_SIZE));
		}
	}
	/* all N * (N - 1) directed keys are distinct */
	for (x = 0; x < N * N; x++)
		for (y = x + 1; y < N * N; y++)
			if (k[x] != NULL && k[y] != NULL)
				cr_expect_neq(
				    memcmp(k[x], k[y], FGW_MAC_KEY_SIZE), 0,
				    "keys %d and %d", x, y);
}

Test(pairwise, out_of_range_members_and_a_null_set_have_no_key)
{
	cr_expect_null(fgw_pairwise_tx(m[0].pw, -1));
	cr_expect_null(fgw_pairwise_rx(m[0].pw, -1));
	cr_expect_null(fgw_pairwise_tx(m[0].pw, N));
	cr_expect_null(fgw_pairwise_rx(m[0].pw, N));
	cr_expect_null(fgw_pairwise_tx(m[0].pw, INT_MAX));
	cr_expect_null(fgw_pairwise_tx(NULL, 1));
	cr_expect_null(fgw_pairwise_rx(NULL, 1));
	cr_expect_null(fgw_pairwise_rx_from(NULL, 1, m[1].pk));
	cr_expect_not_null(fgw_pairwise_rx_from(m[0].pw, 1, m[1].pk));
	cr_expect_null(fgw_pairwise_rx_from(m[0].pw, 1, m[2].pk));
	fgw_pairwise_free(NULL);
}

Test(pairwise, the_keys_are_the_same_every_time_they_are_derived)
{
	struct fgw_pairwise *again = NULL;

	cr_assert_eq(fgw_pairwise_new(&m[0].ring, m[0].sk, m[0].pk, &again), 0);
	cr_expect_eq(memcmp(fgw_pairwise_tx(again, 1),
	                    fgw_pairwise_tx(m[0].pw, 1), FGW_MAC_KEY_SIZE),
	             0);
	cr_expect_eq(memcmp(fgw_pairwise_rx(again, 2),
	                    fgw_pairwise_rx(m[0].pw, 2), FGW_MAC_KEY_SIZE),
	             0);
	fgw_pairwise_free(again);
}

Test(pairwise, a_secret_key_that_is_not_the_public_keys_is_refused)
{
	static char sentinel;
	struct fgw_pairwise *p = (struct fgw_pairwise *)(void *)&sentinel;
	struct fgw_keyring empty = {.n = 0, .keys = NULL};
	uint8_t sk[FGW_SK_SIZE];

	cr_expect_eq(fgw_pairwise_new(&m[0].ring, m[0].sk, m[1].pk, &p), -1);
	cr_expect_null(p, "no keys on failure");
	/* the right public half, another seed */
	memcpy(sk, m[1].sk, FGW_SK_SIZE);
	memcpy(sk + crypto_sign_SEEDBYTES, m[0].pk, FGW_PK_SIZE);
	cr_expect_eq(fgw_pairwise_new(&m[0].ring, sk, m[0].pk, &p), -1);
	cr_expect_null(p);
	sodium_memzero(sk, sizeof sk);
	cr_expect_eq(fgw_pairwise_new(NULL, m[0].sk, m[0].pk, &p), -1);
	cr_expect_eq(fgw_pairwise_new(&m[0].ring, m[0].sk, m[0].pk, NULL), -1);
	/* an empty keyring is no error: there is just nobody to talk to */
	cr_expect_eq(fgw_pairwise_new(&empty, m[0].sk, m[0].pk, &p), 0);
	cr_expect_null(fgw_pairwise_tx(p, 0));
	fgw_pairwise_free(p);
}

/* A 32-byte string that is not a usable Ed25519 public key. */
static void unusable_pk(uint8_t pk[FGW_PK_SIZE], unsigned start)
{
	uint8_t x[crypto_scalarmult_curve25519_BYTES];

	unsigned i;

	memset(pk, 0, FGW_PK_SIZE);
	for (i = start; i < 256; i++) {
		pk[0] = (uint8_t)i;
		if (crypto_sign_ed25519_pk_to_curve25519(x, pk) != 0)
			return;
	}
	cr_assert_fail("no unusable key found");
}

Test(pairwise, an_entry_without_a_derivable_key_gets_none_and_others_do)
{
	struct fgw_peer_key k5[5];
	struct fgw_keyring ring = {.n = 5, .keys = k5};
	struct fgw_pairwise *p = NULL;
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_writer w;
	size_t len;
	int i;

	/* a, the identity point (small order), b, a non-point, c */
	memcpy(k5[0].pk, m[0].pk, FGW_PK_SIZE);
	memset(k5[1].pk, 0, FGW_PK_SIZE);
	k5[1].pk[0] = 1;
	memcpy(k5[2].pk, m[1].pk, FGW_PK_SIZE);
	unusable_pk(k5[3].pk, 2);
	cr_assert_not(crypto_core_ed25519_is_valid_point(k5[3].pk));
	memcpy(k5[4].pk, m[2].pk, FGW_PK_SIZE);
	for (i = 0; i < 5; i++)
		k5[i].name[0] = (char)('0' + i);

	cr_assert_eq(fgw_pairwise_new(&ring, m[1].sk, m[1].pk, &p), 0);
	cr_expect_null(fgw_pairwise_tx(p, 1));
	cr_expect_null(fgw_pairwise_rx(p, 1));
	cr_expect_null(fgw_pairwise_tx(p, 3));
	cr_expect_null(fgw_pairwise_rx(p, 3));
	cr_expect_null(fgw_pairwise_tx(p, 2), "ourselves");
	/* the usable ones agree with what a and c derived on their own */
	cr_assert_not_null(fgw_pairwise_rx(p, 0));
	cr_expect_eq(memcmp(fgw_pairwise_rx(p, 0), fgw_pairwise_tx(m[0].pw, 1),
	                    FGW_MAC_KEY_SIZE),
	             0);
	cr_assert_not_null(fgw_pairwise_tx(p, 4));
	cr_expect_eq(memcmp(fgw_pairwise_tx(p, 4), fgw_pairwise_rx(m[2].pw, 1),
	                    FGW_MAC_KEY_SIZE),
	             0);

	/* A MAC'd datagram in the name of the key-less entries: b has no
	 * key to check it with, whatever key made it. */
	ring.pw = p;
	for (i = 1; i <= 3; i += 2) {
		struct fgw_view v;

		fgw_begin(&w, 1200, k5[i].pk, 1, 1);
		cr_assert_eq(fgw_add(&w, "api", 3, "k", 1, 1, 0), 0);
		len = fgw_seal_mac(&w, fgw_pairwise_tx(m[0].pw, 1), buf);
		cr_assert_gt(len, 0);
		cr_expect_eq(fgw_open(buf, len, &ring, &v), FGW_BADSIG,
		             "entry %d", i);
		len =
		    fgw_seal_mac(&w, (const uint8_t[FGW_MAC_KEY_SIZE]){0}, buf);
		cr_expect_eq(fgw_open(buf, len, &ring, &v), FGW_BADSIG,
		             "entry %d, zero key", i);
	}
	/* and a's, through the same ring, opens */
	len = sealed(buf, 0, 1);
	{
		struct fgw_view v;

		cr_expect_eq(fgw_open(buf, len, &ring, &v), FGW_OK);
		cr_expect_eq(v.origin, 0);
	}
	fgw_pairwise_free(p);
}

#ifdef UNDER_ASAN
Test(pairwise, key_memory_is_read_only)
{
	cr_skip_test("ASan turns SIGSEGV into a report");
}
#else
Test(pairwise, key_memory_is_read_only, .signal = SIGSEGV)
{
	volatile uint8_t *k = (volatile uint8_t *)fgw_pairwise_tx(m[0].pw, 1);

	cr_assert_not_null((const void *)k);
	k[0] ^= 1; /* must fault */
	cr_assert_fail("wrote to a pairwise key");
}
#endif

/* ------------------------------------------------------------ datagrams */

Test(pairwise, a_mac_datagram_opens_at_its_member_and_is_badsig_elsewhere)
{
	uint8_t buf[FGW_MAX_SIZE];
	size_t len;
	int from, to, at;

	for (from = 0; from < N; from++) {
		for (to = 0; to < N; to++) {
			if (to == from)
				continue;
			len = sealed(buf, from, to);
			for (at = 0; at < N; at++)
				cr_expect_eq(open_at(at, buf, len),
				             at == to ? FGW_OK : FGW_BADSIG,
				             "%d -> %d, opened at %d", from, to,
				             at);
		}
	}
}

Test(pairwise, a_member_cannot_forge_another_origin_toward_a_third)
{
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_writer w;
	size_t len;
	int k;

	/* b claims to be a toward c, with every key b holds. */
	for (k = 0; k < N; k++) {
		const uint8_t *keys_of_b[2] = {fgw_pairwise_tx(m[1].pw, k),
		                               fgw_pairwise_rx(m[1].pw, k)};
		int d;

		for (d = 0; d < 2; d++) {
			if (keys_of_b[d] == NULL)
				continue;
			two_records(&w, 0);
			len = fgw_seal_mac(&w, keys_of_b[d], buf);
			cr_assert_gt(len, 0);
			cr_expect_eq(open_at(2, buf, len), FGW_BADSIG,
			             "key %d/%d", k, d);
		}
	}
	/* What b can make in a's name, only b accepts: the key a -> b is
	 * b's rx key from a. */
	two_records(&w, 0);
	len = fgw_seal_mac(&w, fgw_pairwise_rx(m[1].pw, 0), buf);
	cr_expect_eq(open_at(1, buf, len), FGW_OK);
	cr_expect_eq(open_at(2, buf, len), FGW_BADSIG);
}

Test(pairwise, any_flipped_bit_of_a_mac_datagram_is_rejected)
{
	uint8_t orig[FGW_MAX_SIZE], buf[FGW_MAX_SIZE];
	size_t len = sealed(orig, 0, 1), bit, i;
	enum fgw_drop d, want;

	cr_assert_eq(open_at(1, orig, len), FGW_OK);
	for (bit = 0; bit < len * 8; bit++) {
		i = bit / 8;
		memcpy(buf, orig, len);
		buf[i] ^= (uint8_t)(1u << (bit % 8));
		if (i < 5)
			want = FGW_BADVERSION; /* magic, version, type */
		else if (i == 5 && !((KNOWN_FLAGS >> (bit % 8)) & 1))
			want = FGW_BADVERSION;
		else if (i == 5 && (1u << (bit % 8)) == FGW_F_MAC)
			/* now a sealed datagram, whose depth is some byte
			 * of the records or the MAC: deeper than any, too
			 * short for it, or unsigned */
			want = buf[len - FGW_SIG_SIZE - 1] > FGW_DEPTH_MAX
			           ? FGW_BADVERSION
			       : len < FGW_CONS_HDR +
			                   FGW_SEAL_SIZE(
			                       buf[len - FGW_SIG_SIZE - 1])
			           ? FGW_TRUNCATED
			           : FGW_BADSIG;
		else if (i >= 8 && i < 8 + FGW_PK_SIZE)
			want = FGW_UNKNOWNKEY;
		else
			want = FGW_BADSIG; /* header, batch, records, MAC */
		d = open_at(1, buf, len);
		cr_assert_eq(d, want, "bit %zu (byte %zu): %s, not %s", bit, i,
		             fgw_drop_name(d), fgw_drop_name(want));
	}
	/* nor does a byte more or less pass */
	cr_expect_eq(open_at(1, orig, len - 1), FGW_BADSIG);
	memcpy(buf, orig, len);
	buf[len] = 0;
	cr_expect_eq(open_at(1, buf, len + 1), FGW_BADSIG);
}

Test(pairwise, a_truncated_mac_datagram_is_truncated)
{
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_writer w;
	size_t len, cut;

	/* The shortest MAC'd datagram, no records: shorter than any signed
	 * one, and it opens. */
	fgw_begin(&w, 1200, m[0].pk, 1, 1);
	fgw_set_batch(&w, 3, 4, 0, FGW_F_LAST);
	len = fgw_seal_mac(&w, fgw_pairwise_tx(m[0].pw, 1), buf);
	cr_assert_eq(len, FGW_MAC_MIN);
	cr_assert_lt(len, FGW_MIN_SIZE);
	cr_expect_eq(open_at(1, buf, len), FGW_OK);
	for (cut = 0; cut < FGW_MAC_MIN; cut++)
		cr_expect_eq(open_at(1, buf, cut), FGW_TRUNCATED, "%zu bytes",
		             cut);
	/* Cut after the minimum, a datagram is only wrong: its MAC (now
	 * over other bytes) fails. */
	len = sealed(buf, 0, 1);
	for (cut = FGW_MAC_MIN; cut < len; cut++)
		cr_expect_eq(open_at(1, buf, cut), FGW_BADSIG, "%zu bytes",
		             cut);
	/* A stranger's: TRUNCATED before the keyring is searched; and
	 * unknown flags are BADVERSION once the header is all there. */
	fgw_begin(&w, 1200, stranger.pk, 1, 1);
	len = fgw_seal_mac(&w, fgw_pairwise_tx(m[0].pw, 1), buf);
	cr_expect_eq(open_at(1, buf, len), FGW_UNKNOWNKEY);
	cr_expect_eq(open_at(1, buf, len - 1), FGW_TRUNCATED);
	buf[5] |= 0x80;
	cr_expect_eq(open_at(1, buf, len), FGW_BADVERSION);
	cr_expect_eq(open_at(1, buf, len - 1), FGW_TRUNCATED);
}

Test(pairwise, records_round_trip_through_seal_open_next)
{
	static const struct {
		const char *rule, *key;
		uint64_t count, floor;
	} in[] = {
	    {"api", "k1", 100, 40},
	    {"login", "10.0.0.1", 5, 5},
	    {"g", "x", 0, 0},
	    {"big", "saturated", UINT64_MAX, 7}, /* recent saturates */
	    {"r", "kk", UINT64_C(1) << 40, (UINT64_C(1) << 40) - 9},
	};
	const size_t nin = sizeof in / sizeof in[0];
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_writer w;
	struct fgw_record r;
	struct fgw_view v;
	size_t len, i;

	fgw_begin(&w, 1200, m[2].pk, 0x0102030405060708ull, 99);
	for (i = 0; i < nin; i++)
		cr_assert_eq(fgw_add(&w, in[i].rule, strlen(in[i].rule),
		                     in[i].key, strlen(in[i].key), in[i].count,
		                     in[i].floor),
		             0);
	fgw_set_batch(&w, 1000, 1017, 3, FGW_F_LAST | FGW_F_REPAIR);
	len = fgw_seal_mac(&w, fgw_pairwise_tx(m[2].pw, 0), buf);
	cr_assert_gt(len, 0);

	cr_assert_eq(fgw_open(buf, len, &m[0].ring, &v), FGW_OK);
	cr_expect_eq(v.origin, 2);
	cr_expect_eq(v.type, FGW_TYPE_CONSUMPTION);
	cr_expect_eq(v.incarnation, 0x0102030405060708ull);
	cr_expect_eq(v.seq, 99);
	cr_expect_eq(v.nrec, nin);
	cr_expect_eq(v.flags, FGW_F_LAST | FGW_F_REPAIR | FGW_F_MAC);
	cr_expect_eq(v.from, 1000);
	cr_expect_eq(v.to, 1017);
	cr_expect_eq(v.part, 3);
	cr_expect_eq(v.end, len - FGW_MAC_SIZE);
	for (i = 0; i < nin; i++) {
		uint64_t floor = in[i].count - in[i].floor > UINT32_MAX
		                     ? in[i].count - UINT32_MAX
		                     : in[i].floor;

		cr_assert_eq(fgw_next(&v, &r), 1, "record %zu", i);
		cr_expect_eq(r.rule_len, strlen(in[i].rule));
		cr_expect_eq(memcmp(r.rule, in[i].rule, r.rule_len), 0);
		cr_expect_eq(r.key_len, strlen(in[i].key));
		cr_expect_eq(memcmp(r.key, in[i].key, r.key_len), 0);
		cr_expect_eq(r.count, in[i].count, "record %zu", i);
		cr_expect_eq(r.floor, floor, "record %zu", i);
		cr_expect_leq((size_t)(r.key + r.key_len - buf), v.end,
		              "records end before the MAC");
	}
	cr_expect_eq(fgw_next(&v, &r), 0, "nothing past the last record");
	cr_expect_eq(fgw_next(&v, &r), 0);
}

Test(pairwise, sealed_is_50_bytes_shorter_than_signed_and_leaves_the_writer)
{
	uint8_t ab[FGW_MAX_SIZE], ac[FGW_MAX_SIZE];
	struct fgw_writer w, before;
	struct fgw_view v;
	size_t lab, lac, lsig;
	int i = 0;

	/* A full datagram: records until one no longer fits. */
	fgw_begin(&w, FGW_MAX_SIZE, m[0].pk, 3, 4);
	while (fgw_add(&w, "rule", 4, "key-0123456789abcdef", 20,
	               (uint64_t)i * 3 + 1, (uint64_t)i) == 0)
		i++;
	cr_assert_gt(i, 10);
	fgw_set_batch(&w, 5, 6, 0, FGW_F_LAST);
	memcpy(&before, &w, sizeof w);

	lab = fgw_seal_mac(&w, fgw_pairwise_tx(m[0].pw, 1), ab);
	lac = fgw_seal_mac(&w, fgw_pairwise_tx(m[0].pw, 2), ac);
	cr_expect_eq(memcmp(&w, &before, sizeof w), 0, "writer untouched");
	cr_assert_eq(lab, lac);
	cr_expect_eq(memcmp(ab, ac, lab - FGW_MAC_SIZE), 0,
	             "one datagram, a MAC per member");
	cr_expect_neq(memcmp(ab + lab - FGW_MAC_SIZE, ac + lac - FGW_MAC_SIZE,
	                     FGW_MAC_SIZE),
	              0);
	cr_expect_eq(open_at(1, ab, lab), FGW_OK);
	cr_expect_eq(open_at(2, ac, lac), FGW_OK);

	lsig = fgw_finish(&w, m[0].sk);
	cr_assert_gt(lsig, 0);
	cr_assert_leq(lsig, FGW_MAX_SIZE);
	cr_expect_eq(lsig, lab + FGW_SEAL_FIXED - FGW_MAC_SIZE);
	cr_expect_eq(lsig - lab, 50);
	/* the same bytes but the flag, and both open everywhere they may */
	cr_expect_eq(ab[5], w.buf[5] | FGW_F_MAC);
	cr_expect_eq(memcmp(ab + 6, w.buf + 6, lab - FGW_MAC_SIZE - 6), 0);
	for (i = 0; i < N; i++)
		cr_expect_eq(open_at(i, w.buf, lsig), FGW_OK, "signed at %d",
		             i);
	/* finished: nothing left to seal */
	cr_expect_eq(fgw_seal_mac(&w, fgw_pairwise_tx(m[0].pw, 1), ab), 0);
	cr_expect_eq(fgw_open(ab, lab, &m[1].ring, &v), FGW_OK);
}

Test(pairwise, the_writer_never_sets_the_mac_flag_itself)
{
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_writer w;
	size_t len;

	two_records(&w, 0);
	fgw_set_batch(&w, 20, 30, 2, FGW_F_MAC); /* ignored */
	fgw_set_batch(&w, 20, 30, 2, FGW_F_LAST | FGW_F_MAC);
	len = fgw_finish(&w, m[0].sk);
	cr_assert_eq(open_at(1, w.buf, len), FGW_OK);
	cr_expect_eq(w.buf[5], FGW_F_LAST, "the batch of two_records()");
	cr_expect_eq(fgw_seal_mac(&w, fgw_pairwise_tx(m[0].pw, 1), buf), 0);
}

Test(pairwise, without_pairwise_keys_a_mac_datagram_is_badsig)
{
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_keyring bare = {.n = N, .keys = keys};
	struct fgw_view v;
	size_t len = sealed(buf, 0, 1);

	cr_expect_null(bare.pw);
	cr_expect_eq(fgw_open(buf, len, &bare, &v), FGW_BADSIG);
	cr_expect_eq(v.origin, -1);
	cr_expect_null(v.buf);
	cr_expect_eq(fgw_open(buf, len, &m[1].ring, &v), FGW_OK);
}

Test(pairwise, keys_of_another_keyring_never_check_a_datagram)
{
	struct fgw_peer_key reordered[N];
	struct fgw_keyring stale;
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_writer w;
	struct fgw_view v;
	size_t len;

	/* b's keyring reloaded as c, b, a while its keys are still those of
	 * a, b, c: index 2 is now a, but b's key at index 2 is c's. */
	reordered[0] = keys[2];
	reordered[1] = keys[1];
	reordered[2] = keys[0];
	stale = (struct fgw_keyring){.n = N, .keys = reordered, .pw = m[1].pw};
	/* c, in a's name, with the key c shares with b */
	two_records(&w, 0);
	len = fgw_seal_mac(&w, fgw_pairwise_tx(m[2].pw, 1), buf);
	cr_expect_eq(fgw_open(buf, len, &stale, &v), FGW_BADSIG);
	/* and a's own datagram: its index moved, so no key either */
	len = sealed(buf, 0, 1);
	cr_expect_eq(fgw_open(buf, len, &stale, &v), FGW_BADSIG);
	cr_expect_eq(fgw_open(buf, len, &m[1].ring, &v), FGW_OK);
}

Test(pairwise, the_body_of_a_mac_datagram_is_checked_as_a_signed_ones)
{
	uint8_t buf[FGW_MAX_SIZE];
	const uint8_t *k = fgw_pairwise_tx(m[0].pw, 1);
	size_t len = sealed(buf, 0, 1) - FGW_MAC_SIZE, l;

	/* Re-MAC'd with the right key after each change: only the body
	 * checks stand. */
	buf[7] ^= 1; /* nrec 2 -> 3 */
	cr_expect_eq(open_at(1, buf, mac_raw(buf, len, k)), FGW_MALFORMED);
	buf[7] ^= 1;
	buf[FGW_CONS_HDR] = 0; /* empty rule */
	cr_expect_eq(open_at(1, buf, mac_raw(buf, len, k)), FGW_MALFORMED);
	buf[FGW_CONS_HDR] = 3;
	cr_expect_eq(open_at(1, buf, mac_raw(buf, len, k)), FGW_OK);
	/* the records cut short, one byte at a time (nrec stays 2) */
	for (l = FGW_CONS_HDR; l < len; l++) {
		uint8_t cut[FGW_MAX_SIZE];

		memcpy(cut, buf, l);
		cr_expect_eq(open_at(1, cut, mac_raw(cut, l, k)), FGW_MALFORMED,
		             "%zu bytes", l);
	}
	/* from > to */
	sealed(buf, 0, 1);
	buf[56 + 7] = 0xff; /* from's low byte */
	cr_expect_eq(open_at(1, buf, mac_raw(buf, len, k)), FGW_MALFORMED);
	/* a membership datagram never carries a MAC */
	{
		struct fgw_member mb = {.kind = FGW_PING};
		uint8_t mbuf[FGW_MEMBER_SIZE];

		cr_assert_eq(
		    fgw_member_write(mbuf, m[0].pk, 1, 1, &mb, m[0].sk),
		    FGW_MEMBER_SIZE);
		cr_expect_eq(open_at(1, mbuf, FGW_MEMBER_SIZE), FGW_OK);
		mbuf[5] = FGW_F_MAC;
		cr_expect_eq(
		    open_at(1, mbuf,
		            mac_raw(mbuf, FGW_MEMBER_SIZE - FGW_MAC_SIZE, k)),
		    FGW_BADVERSION);
	}
}
