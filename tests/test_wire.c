/* SPDX-License-Identifier: ISC */
/*
 * test_wire.c - gossip datagrams (gossip/wire.h) and the replay window
 * (gossip/replay.h).
 *
 * Hostile datagrams are crafted by hand and, where the point is a check
 * that runs after the signature, signed again with the origin's key, so
 * that the drop reason observed is the one the test is about and not an
 * earlier check firing by accident.  Every buffer handed to fgw_open() by
 * the robustness tests is a heap block of exactly its length, so that
 * ASan (--enable-sanitizers) sees any read past the end.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/replay.h"
#include "gossip/wire.h"

TestSuite(wire, .timeout = 30);
TestSuite(replay, .timeout = 30);

/* Every flag a consumption datagram may carry (wire.h); 0x80 is none. */
#define KNOWN_FLAGS  (FGW_F_LAST | FGW_F_REPAIR | FGW_F_FLOOD | FGW_F_MAC)
#define UNKNOWN_FLAG 0x80

/* ------------------------------------------------------------ fixtures */

struct node {
	uint8_t pk[FGW_PK_SIZE];
	uint8_t sk[FGW_SK_SIZE];
};

/* a and b are in the keyring, stranger is not. */
static struct node a, b, stranger;
static struct fgw_peer_key ring_keys[2];
static struct fgw_keyring ring = {.n = 2, .keys = ring_keys};

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	crypto_sign_keypair(a.pk, a.sk);
	crypto_sign_keypair(b.pk, b.sk);
	crypto_sign_keypair(stranger.pk, stranger.sk);
	memcpy(ring_keys[0].pk, a.pk, FGW_PK_SIZE);
	strcpy(ring_keys[0].name, "a");
	memcpy(ring_keys[1].pk, b.pk, FGW_PK_SIZE);
	strcpy(ring_keys[1].name, "b");
}

/* A consumption datagram (not MAC'd): seal [0, len - 66) as a group of
 * one into its last 66 bytes (gossip/seal.h).  Anything else: sign
 * [0, len - 64) into its last 64 bytes. */
static void resign(uint8_t *buf, size_t len, const uint8_t *sk)
{
	if (len >= FGW_SEAL_FIXED && buf[4] == FGW_TYPE_CONSUMPTION &&
	    !(buf[5] & FGW_F_MAC)) {
		const uint8_t *body = buf;
		size_t blen = len - FGW_SEAL_FIXED;
		uint8_t *t = buf + blen;

		cr_assert_eq(fgw_seal_sign(1, &body, &blen, &t, sk),
		             FGW_SEAL_FIXED);
		return;
	}
	cr_assert_geq(len, FGW_MIN_SIZE);
	cr_assert_eq(crypto_sign_detached(buf + len - FGW_SIG_SIZE, NULL, buf,
	                                  len - FGW_SIG_SIZE, sk),
	             0);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The batch block of a consumption datagram (wire.h, offsets 56-75). */
struct batch {
	uint8_t flags;
	uint64_t from, to;
	uint32_t part;
};

/*
 * A raw consumption datagram: header of @origin with @nrec, the batch
 * fields of @bt, then @body (records as bytes, unchecked) at
 * FGW_CONS_HDR, then room for a signature made with @sk.
 */
static size_t raw_batch(uint8_t *buf, const struct node *origin,
                        const struct batch *bt, uint16_t nrec, const void *body,
                        size_t bodylen, const uint8_t *sk)
{
	size_t len = FGW_CONS_HDR + bodylen + FGW_SEAL_FIXED;

	memcpy(buf, FGW_MAGIC, 4);
	buf[4] = FGW_TYPE_CONSUMPTION;
	buf[5] = bt->flags;
	put16(buf + 6, nrec);
	memcpy(buf + 8, origin->pk, FGW_PK_SIZE);
	put64(buf + 40, 7);
	put64(buf + 48, 42);
	put64(buf + 56, bt->from);
	put64(buf + 64, bt->to);
	put32(buf + 72, bt->part);
	memcpy(buf + FGW_CONS_HDR, body, bodylen);
	resign(buf, len, sk);
	return len;
}

/* The same, as the only (last) part of the batch (0, 1]. */
static size_t raw(uint8_t *buf, const struct node *origin, uint16_t nrec,
                  const void *body, size_t bodylen, const uint8_t *sk)
{
	static const struct batch one = {FGW_F_LAST, 0, 1, 0};

	return raw_batch(buf, origin, &one, nrec, body, bodylen, sk);
}

/* A record as bytes: returns its length. */
static size_t rec_recent(uint8_t *p, uint8_t rl, uint8_t kl, uint64_t count,
                         uint32_t recent)
{
	p[0] = rl;
	p[1] = kl;
	put64(p + 2, count);
	put32(p + 10, recent);
	memset(p + FGW_REC_FIXED, 'r', rl);
	memset(p + FGW_REC_FIXED + rl, 'k', kl);
	return FGW_REC_FIXED + (size_t)rl + kl;
}

/* A record with floor 0: all of its count still matters (recent = count,
 * saturated as fgw_add() does). */
static size_t rec(uint8_t *p, uint8_t rl, uint8_t kl, uint64_t count)
{
	return rec_recent(p, rl, kl, count,
	                  count > UINT32_MAX ? UINT32_MAX : (uint32_t)count);
}

/* A small valid datagram from a with two records. */
static size_t sample(uint8_t *buf)
{
	struct fgw_writer w;
	size_t len;

	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 3, 9);
	cr_assert_eq(fgw_add(&w, "api", 3, "10.0.0.1", 8, 5, 0), 0);
	cr_assert_eq(fgw_add(&w, "login", 5, "bob", 3, UINT64_MAX, 0), 0);
	len = fgw_finish(&w, a.sk);
	cr_assert_gt(len, 0);
	memcpy(buf, w.buf, len);
	return len;
}

static enum fgw_drop open_exact(const uint8_t *buf, size_t len)
{
	struct fgw_view v;
	enum fgw_drop d;
	uint8_t *copy = malloc(len ? len : 1);

	cr_assert_not_null(copy);
	if (len)
		memcpy(copy, buf, len);
	d = fgw_open(copy, len, &ring, &v);
	free(copy);
	return d;
}

/* ------------------------------------------------------------ building */

Test(wire, round_trip_of_many_records, .init = setup)
{
	struct fgw_writer w;
	struct fgw_record r;
	struct fgw_view v;
	char rule[FGW_RULE_MAX], key[FGW_KEY_MAX];
	size_t len, n = 0, i;

	fgw_begin(&w, FGW_MAX_SIZE, b.pk, UINT64_C(0x0102030405060708),
	          UINT64_MAX - 1);
	fgw_set_batch(&w, 1000, 1070, 4, FGW_F_REPAIR);
	for (;;) {
		size_t rl = 1 + n % FGW_RULE_MAX,
		       kl = 1 + (n * 7) % FGW_KEY_MAX;
		uint64_t count = n * 0x9e3779b97f4a7c15u;

		memset(rule, 'a' + (int)(n % 26), rl);
		memset(key, (int)n, kl);
		/* recent n % 1000: the floor comes back exactly */
		if (fgw_add(&w, rule, rl, key, kl, count, count - n % 1000) !=
		    0)
			break;
		n++;
	}
	cr_assert_gt(n, 10);
	len = fgw_finish(&w, b.sk);
	cr_assert_leq(len, FGW_MAX_SIZE);
	cr_assert_eq(len, w.len);

	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	cr_assert_eq(v.origin, 1);
	cr_assert_eq(v.incarnation, UINT64_C(0x0102030405060708));
	cr_assert_eq(v.seq, UINT64_MAX - 1);
	cr_assert_eq(v.nrec, n);
	cr_assert_eq(v.flags, FGW_F_REPAIR);
	cr_assert_eq(v.from, 1000);
	cr_assert_eq(v.to, 1070);
	cr_assert_eq(v.part, 4);
	for (i = 0; fgw_next(&v, &r); i++) {
		size_t rl = 1 + i % FGW_RULE_MAX,
		       kl = 1 + (i * 7) % FGW_KEY_MAX;

		cr_assert_lt(i, n);
		cr_assert_eq(r.rule_len, rl);
		cr_assert_eq(r.key_len, kl);
		cr_assert_eq(r.count, i * 0x9e3779b97f4a7c15u);
		cr_assert_eq(r.floor, r.count - i % 1000);
		memset(rule, 'a' + (int)(i % 26), rl);
		memset(key, (int)i, kl);
		cr_assert_eq(memcmp(r.rule, rule, rl), 0);
		cr_assert_eq(memcmp(r.key, key, kl), 0);
		cr_assert(r.key + kl <= w.buf + len - FGW_SIG_SIZE);
	}
	cr_assert_eq(i, n);
	cr_assert_eq(fgw_next(&v, &r), 0, "stays at the end");
}

Test(wire, empty_datagram_is_valid, .init = setup)
{
	struct fgw_writer w;
	struct fgw_record r;
	struct fgw_view v;
	size_t len;

	char big[FGW_RULE_MAX + FGW_KEY_MAX];

	/* cap raised to the minimum: room for one record of any size */
	memset(big, 'x', sizeof big);
	fgw_begin(&w, 0, a.pk, 0, 0);
	cr_assert_eq(fgw_add(&w, big, FGW_RULE_MAX, big, FGW_KEY_MAX, 1, 0), 0);
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, 1, 0), -1);
	fgw_begin(&w, 0, a.pk, 0, 0);
	len = fgw_finish(&w, a.sk);
	cr_assert_eq(len, FGW_CONS_MIN);
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	cr_assert_eq(v.nrec, 0);
	cr_assert_eq(fgw_next(&v, &r), 0);
	/* fgw_begin's batch: none, (0, 0], part 0, no flags */
	cr_assert_eq(v.flags, 0);
	cr_assert_eq(v.from, 0);
	cr_assert_eq(v.to, 0);
	cr_assert_eq(v.part, 0);
}

Test(wire, record_that_does_not_fit_is_refused_and_datagram_stays_valid,
     .init = setup)
{
	struct fgw_writer w;
	struct fgw_record r;
	struct fgw_view v;
	size_t len, before, n = 0;
	int i;

	/* cap 370: header 76 + the largest seal 162 leaves 132 = three
	 * 44-byte records. */
	fgw_begin(&w, 370, a.pk, 1, 1);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(fgw_add(&w, "rule", 4,
		                     "0123456789abcdefghijklmnop", 26,
		                     (uint64_t)i, 0),
		             0);
	}
	before = w.len;
	cr_assert_eq(before + FGW_SEAL_MAX, 370);
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, 9, 0), -1, "no byte left");
	cr_assert_eq(w.len, before, "a refused record writes nothing");
	cr_assert_eq(w.nrec, 3);

	fgw_begin(&w, 370, a.pk, 1, 1);
	for (i = 0; i < 2; i++)
		cr_assert_eq(fgw_add(&w, "rule", 4,
		                     "0123456789abcdefghijklmnop", 26, 0, 0),
		             0);
	cr_assert_eq(
	    fgw_add(&w, "rule", 4, "0123456789abcdefghijklmnopq", 27, 0, 0), -1,
	    "one byte too many");
	len = fgw_finish(&w, a.sk);
	cr_assert_eq(len, FGW_CONS_HDR + 88 + FGW_SEAL_FIXED,
	             "a group of one: no path");
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	while (fgw_next(&v, &r))
		n++;
	cr_assert_eq(n, 2);
	/* A finished writer takes nothing more, and is not signed twice. */
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, 1, 0), -1);
	cr_assert_eq(fgw_finish(&w, a.sk), 0);
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
}

Test(wire, add_refuses_bad_lengths, .init = setup)
{
	char rule[FGW_RULE_MAX + 1], key[FGW_KEY_MAX + 1];
	struct fgw_writer w;

	memset(rule, 'r', sizeof rule);
	memset(key, 'k', sizeof key);
	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 1, 1);
	cr_assert_eq(fgw_add(&w, rule, 0, key, 1, 1, 0), -1);
	cr_assert_eq(fgw_add(&w, rule, FGW_RULE_MAX + 1, key, 1, 1, 0), -1);
	cr_assert_eq(fgw_add(&w, rule, 1, key, 0, 1, 0), -1);
	cr_assert_eq(fgw_add(&w, rule, 1, key, FGW_KEY_MAX + 1, 1, 0), -1);
	cr_assert_eq(fgw_add(&w, NULL, 1, key, 1, 1, 0), -1);
	cr_assert_eq(fgw_add(&w, rule, 1, NULL, 1, 1, 0), -1);
	cr_assert_eq(w.len, FGW_CONS_HDR);
	cr_assert_eq(fgw_add(&w, rule, FGW_RULE_MAX, key, FGW_KEY_MAX, 1, 0),
	             0);
	cr_assert_eq(w.nrec, 1);
}

Test(wire, add_refuses_a_floor_above_the_count, .init = setup)
{
	struct fgw_writer w;
	struct fgw_record r;
	struct fgw_view v;
	size_t len;

	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 1, 1);
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, 5, 6), -1);
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, 0, 1), -1);
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, UINT64_MAX - 1, UINT64_MAX),
	             -1);
	cr_assert_eq(w.len, FGW_CONS_HDR, "a refused record writes nothing");
	cr_assert_eq(w.nrec, 0);
	/* floor = count: all of it absorbed, recent 0 */
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, 5, 5), 0);
	len = fgw_finish(&w, a.sk);
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	cr_assert_eq(fgw_next(&v, &r), 1);
	cr_assert_eq(r.count, 5);
	cr_assert_eq(r.floor, 5);
}

Test(wire, recent_saturates_at_2_pow_32_minus_1_and_floor_is_count_minus_recent,
     .init = setup)
{
	static const struct {
		uint64_t count, floor; /* given to fgw_add */
		uint32_t recent;       /* on the wire */
		uint64_t back;         /* the floor fgw_next returns */
	} c[] = {
	    {0, 0, 0, 0},
	    {10, 3, 7, 3},
	    {10, 0, 10, 0},
	    /* recent just fits: no loss */
	    {(UINT64_C(1) << 32) + 4, 5, UINT32_MAX, 5},
	    /* one more: saturated, the floor comes back raised by one */
	    {(UINT64_C(1) << 32) + 4, 4, UINT32_MAX, 5},
	    {UINT64_MAX, 0, UINT32_MAX, UINT64_MAX - UINT32_MAX},
	    {UINT64_MAX, UINT64_MAX, 0, UINT64_MAX},
	};
	const size_t n = sizeof c / sizeof c[0];
	struct fgw_writer w;
	struct fgw_record r;
	struct fgw_view v;
	size_t len, i, pos = FGW_CONS_HDR;

	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 1, 1);
	for (i = 0; i < n; i++)
		cr_assert_eq(
		    fgw_add(&w, "r", 1, "k", 1, c[i].count, c[i].floor), 0,
		    "case %zu", i);
	len = fgw_finish(&w, a.sk);
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	for (i = 0; fgw_next(&v, &r); i++) {
		const uint8_t *p = w.buf + pos;
		uint32_t recent = (uint32_t)p[10] << 24 |
		                  (uint32_t)p[11] << 16 | (uint32_t)p[12] << 8 |
		                  p[13];

		cr_assert_lt(i, n);
		cr_expect_eq(recent, c[i].recent, "case %zu: recent %" PRIu32,
		             i, recent);
		cr_expect_eq(r.count, c[i].count, "case %zu", i);
		cr_expect_eq(r.floor, c[i].back, "case %zu: floor %" PRIu64, i,
		             r.floor);
		cr_expect_eq(r.count - r.floor, recent, "case %zu", i);
		pos += FGW_REC_FIXED + 2;
	}
	cr_assert_eq(i, n);
}

Test(wire, set_batch_round_trips_and_ignores_bad_arguments, .init = setup)
{
	struct fgw_writer w;
	struct fgw_view v;
	size_t len;

	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 1, 1);
	fgw_set_batch(&w, 5, 9, 3, FGW_F_LAST | FGW_F_REPAIR);
	cr_assert_eq(fgw_add(&w, "r", 1, "k", 1, 1, 0), 0);
	len = fgw_finish(&w, a.sk);
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	cr_expect_eq(v.from, 5);
	cr_expect_eq(v.to, 9);
	cr_expect_eq(v.part, 3);
	cr_expect_eq(v.flags, FGW_F_LAST | FGW_F_REPAIR);

	/* extremes, and from = to (a round in which nothing changed) */
	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 1, 2);
	fgw_set_batch(&w, UINT64_MAX, UINT64_MAX, UINT32_MAX, FGW_F_LAST);
	len = fgw_finish(&w, a.sk);
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	cr_expect_eq(v.from, UINT64_MAX);
	cr_expect_eq(v.to, UINT64_MAX);
	cr_expect_eq(v.part, UINT32_MAX);
	cr_expect_eq(v.flags, FGW_F_LAST);

	/* from > to, or a flag that is not ours: the call changes nothing */
	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 1, 3);
	fgw_set_batch(&w, 10, 20, 1, FGW_F_REPAIR);
	fgw_set_batch(&w, 21, 20, 2, FGW_F_LAST);
	fgw_set_batch(&w, 30, 40, 3, UNKNOWN_FLAG);
	fgw_set_batch(&w, 30, 40, 3, FGW_F_LAST | UNKNOWN_FLAG);
	fgw_set_batch(&w, 30, 40, 3, 0x100); /* not even a byte */
	len = fgw_finish(&w, a.sk);
	cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	cr_expect_eq(v.from, 10);
	cr_expect_eq(v.to, 20);
	cr_expect_eq(v.part, 1);
	cr_expect_eq(v.flags, FGW_F_REPAIR);
}

Test(wire, drop_names_are_distinct)
{
	for (int i = 0; i < FGW_NDROPS; i++) {
		cr_assert_not_null(fgw_drop_name((enum fgw_drop)i));
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(fgw_drop_name((enum fgw_drop)i),
			                  fgw_drop_name((enum fgw_drop)j));
	}
	cr_assert_str_eq(fgw_drop_name(FGW_NDROPS), "unknown");
	cr_assert_str_eq(fgw_drop_name((enum fgw_drop) - 1), "unknown");
}

Test(wire, keyring_find, .init = setup)
{
	struct fgw_keyring empty = {.n = 0, .keys = NULL};

	cr_assert_eq(fgw_keyring_find(&ring, a.pk), 0);
	cr_assert_eq(fgw_keyring_find(&ring, b.pk), 1);
	cr_assert_eq(fgw_keyring_find(&ring, stranger.pk), -1);
	cr_assert_eq(fgw_keyring_find(&empty, a.pk), -1);
	cr_assert_eq(fgw_keyring_find(NULL, a.pk), -1);
}

/* ------------------------------------------------------------ drops */

Test(wire, drops_truncated, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_view v;
	size_t len = sample(buf);

	cr_assert_eq(open_exact(buf, 0), FGW_TRUNCATED);
	cr_assert_eq(open_exact(buf, 1), FGW_TRUNCATED);
	cr_assert_eq(open_exact(buf, FGW_MIN_SIZE - 1), FGW_TRUNCATED);
	cr_assert_eq(open_exact(buf, len - 1), FGW_BADSIG);
	cr_assert_eq(fgw_open(NULL, 200, &ring, &v), FGW_TRUNCATED);
	cr_assert_eq(v.origin, -1, "view cleared on a drop");
	cr_assert_null(v.buf);
}

/* Long enough for the common header and a signature, too short for the
 * batch fields: refused before the keyring is searched, whoever signed. */
Test(wire, a_consumption_datagram_shorter_than_FGW_CONS_MIN_is_truncated,
     .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], c[FGW_MAX_SIZE];
	struct fgw_member m = {.kind = FGW_ACK};
	size_t len;

	raw(buf, &a, 0, "", 0, a.sk);
	for (len = FGW_MIN_SIZE; len < FGW_CONS_MIN; len++) {
		memcpy(c, buf, len);
		resign(c, len, a.sk);
		cr_expect_eq(open_exact(c, len), FGW_TRUNCATED, "%zu bytes",
		             len);
		memcpy(c + 8, stranger.pk, FGW_PK_SIZE);
		resign(c, len, stranger.sk);
		cr_expect_eq(open_exact(c, len), FGW_TRUNCATED,
		             "%zu bytes from a stranger", len);
		/* the version and flags are checked first */
		c[5] = UNKNOWN_FLAG;
		cr_expect_eq(open_exact(c, len), FGW_BADVERSION, "%zu bytes",
		             len);
	}
	cr_expect_eq(open_exact(buf, FGW_CONS_MIN), FGW_OK);
	/* A membership datagram that short is a body of the wrong size. */
	cr_assert_eq(fgw_member_write(c, a.pk, 1, 1, &m, a.sk),
	             FGW_MEMBER_SIZE);
	resign(c, FGW_MIN_SIZE, a.sk);
	cr_expect_eq(open_exact(c, FGW_MIN_SIZE), FGW_MALFORMED);
}

Test(wire, drops_oversized, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE + 1] = {0};
	uint8_t body[FGW_MAX_SIZE];
	struct fgw_view v;
	size_t pos = 0;
	int i;

	/* Well-formed records and a good seal: only the size is bad.
	 * 15 records of 79 bytes and one of 74 make 1401 - 142 bytes. */
	for (i = 0; i < 15; i++)
		pos += rec(body + pos, 1, 64, 1);
	pos += rec(body + pos, 30, 30, 1);
	cr_assert_eq(FGW_CONS_MIN + pos, FGW_MAX_SIZE + 1);
	cr_assert_eq(raw(buf, &a, 16, body, pos, a.sk), FGW_MAX_SIZE + 1);
	cr_assert_eq(open_exact(buf, FGW_MAX_SIZE + 1), FGW_OVERSIZED);
	/* Nothing is read past the length check. */
	cr_assert_eq(fgw_open(buf, SIZE_MAX, &ring, &v), FGW_OVERSIZED);
}

Test(wire, drops_bad_magic_version_type_flags_even_when_signed, .init = setup)
{
	static const size_t off[] = {0, 1, 2, 3, 4};
	uint8_t buf[FGW_MAX_SIZE], orig[FGW_MAX_SIZE];
	size_t len = sample(orig), i;

	for (i = 0; i < sizeof off / sizeof off[0]; i++) {
		memcpy(buf, orig, len);
		buf[off[i]] ^= 0x01;
		resign(buf, len, a.sk);
		cr_assert_eq(open_exact(buf, len), FGW_BADVERSION, "byte %zu",
		             off[i]);
	}
	memcpy(buf, orig, len);
	buf[3] = 1; /* version 1: a cluster is upgraded all at once */
	resign(buf, len, a.sk);
	cr_assert_eq(open_exact(buf, len), FGW_BADVERSION);
	memcpy(buf, orig, len);
	buf[3] = 2; /* version 2: a signature per datagram */
	resign(buf, len, a.sk);
	cr_assert_eq(open_exact(buf, len), FGW_BADVERSION);
	memcpy(buf, orig, len);
	buf[3] = 4;
	resign(buf, len, a.sk);
	cr_assert_eq(open_exact(buf, len), FGW_BADVERSION);
	memcpy(buf, orig, len);
	buf[5] = UNKNOWN_FLAG;
	resign(buf, len, a.sk);
	cr_assert_eq(open_exact(buf, len), FGW_BADVERSION);
	cr_assert_eq(open_exact(orig, len), FGW_OK);
}

Test(wire, unknown_flag_bits_are_bad_version_even_when_signed, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], orig[FGW_MAX_SIZE];
	struct fgw_member m = {.kind = FGW_PING};
	size_t len = sample(orig);
	unsigned f;

	/* Consumption: the known flags, in any combination, and nothing
	 * else. */
	for (f = 0; f < 256; f++) {
		int known = (f & ~(unsigned)KNOWN_FLAGS) == 0;

		memcpy(buf, orig, len);
		buf[5] = (uint8_t)f;
		resign(buf, len, a.sk);
		/* FGW_F_MAC: no MAC there, nor keys to check one */
		cr_expect_eq(open_exact(buf, len),
		             !known                 ? FGW_BADVERSION
		             : (f & FGW_F_MAC) != 0 ? FGW_BADSIG
		                                    : FGW_OK,
		             "flags 0x%02x", f);
	}
	/* Membership: none, not even the consumption flags. */
	len = fgw_member_write(orig, a.pk, 1, 1, &m, a.sk);
	cr_assert_eq(len, FGW_MEMBER_SIZE);
	cr_expect_eq(open_exact(orig, len), FGW_OK);
	for (f = 1; f < 256; f++) {
		memcpy(buf, orig, len);
		buf[5] = (uint8_t)f;
		resign(buf, len, a.sk);
		cr_expect_eq(open_exact(buf, len), FGW_BADVERSION,
		             "membership, flags 0x%02x", f);
	}
}

Test(wire, drops_unknown_key, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], body[64];
	size_t n = rec(body, 3, 3, 1);

	cr_assert_eq(
	    open_exact(buf, raw(buf, &stranger, 1, body, n, stranger.sk)),
	    FGW_UNKNOWNKEY);
}

Test(wire, drops_forged_origin, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], body[64];
	size_t n = rec(body, 3, 3, 1);

	/* Claims to be a, signed by a stranger; and by b, also trusted. */
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, stranger.sk)),
	             FGW_BADSIG);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, b.sk)),
	             FGW_BADSIG);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)), FGW_OK);
}

Test(wire, any_flipped_bit_is_dropped_before_the_records, .init = setup)
{
	uint8_t orig[FGW_MAX_SIZE], *buf;
	struct fgw_writer w;
	struct fgw_view v;
	size_t len, bit;
	enum fgw_drop d;
	unsigned seen[FGW_NDROPS] = {0}, nflags = 0, nbadv = 0, ntrunc = 0;

	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 1, 2);
	cr_assert_eq(fgw_add(&w, "api", 3, "k1", 2, 77, 0), 0);
	fgw_set_batch(&w, 3, 4, 0, 0);
	len = fgw_finish(&w, a.sk);
	memcpy(orig, w.buf, len);
	buf = malloc(len);
	cr_assert_not_null(buf);
	for (bit = 0; bit < len * 8; bit++) {
		memcpy(buf, orig, len);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		d = fgw_open(buf, len, &ring, &v);
		cr_assert(d == FGW_BADVERSION || d == FGW_UNKNOWNKEY ||
		              d == FGW_BADSIG || d == FGW_TRUNCATED,
		          "bit %zu: %s", bit, fgw_drop_name(d));
		seen[d]++;
	}
	free(buf);
	/* The header's first six bytes say BADVERSION, but for the flags a
	 * consumption datagram may carry; the origin's 256 bits say
	 * UNKNOWNKEY; the seal's depth byte (0 here) says BADVERSION for a
	 * depth over FGW_DEPTH_MAX, TRUNCATED for one the datagram has no
	 * room for, BADSIG for the others; and every other bit BADSIG, the
	 * batch fields', the records' and the index's included. */
	for (bit = 0; bit < 8; bit++) {
		size_t depth = (size_t)1 << bit;

		nflags += (KNOWN_FLAGS >> bit) & 1;
		if (depth > FGW_DEPTH_MAX)
			nbadv++;
		else if (len < FGW_CONS_HDR + FGW_SEAL_SIZE(depth))
			ntrunc++;
	}
	cr_assert_eq(seen[FGW_BADVERSION], 6 * 8 - nflags + nbadv);
	cr_assert_eq(seen[FGW_TRUNCATED], ntrunc);
	cr_assert_eq(seen[FGW_UNKNOWNKEY], FGW_PK_SIZE * 8);
	cr_assert_eq(seen[FGW_BADSIG], len * 8 - (6 * 8 - nflags) -
	                                   FGW_PK_SIZE * 8 - nbadv - ntrunc);
}

Test(wire, drops_records_overrunning, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], body[256];
	size_t n = rec(body, 3, 3, 1);

	/* Second record says key_len 40 but only 5 bytes follow. */
	n += rec(body + n, 3, 40, 1) - 35;
	cr_assert_eq(open_exact(buf, raw(buf, &a, 2, body, n, a.sk)),
	             FGW_MALFORMED);
	/* A record's fixed part cut short. */
	n = rec(body, 3, 3, 1) + 9;
	cr_assert_eq(open_exact(buf, raw(buf, &a, 2, body, n, a.sk)),
	             FGW_MALFORMED);
	/* Lengths that add up past the end by one byte. */
	n = rec(body, 5, 5, 1) - 1;
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)),
	             FGW_MALFORMED);
}

Test(wire, drops_nrec_too_high_or_too_low, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], body[256];
	size_t n = rec(body, 3, 3, 1);

	n += rec(body + n, 4, 4, 2);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 2, body, n, a.sk)), FGW_OK);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 3, body, n, a.sk)),
	             FGW_MALFORMED);
	cr_assert_eq(open_exact(buf, raw(buf, &a, UINT16_MAX, body, n, a.sk)),
	             FGW_MALFORMED);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)),
	             FGW_MALFORMED);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 0, body, n, a.sk)),
	             FGW_MALFORMED);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, 0, a.sk)),
	             FGW_MALFORMED);
}

Test(wire, a_record_more_recent_than_its_count_is_malformed, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], body[256];
	size_t n;

	n = rec_recent(body, 3, 3, 5, 6);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)),
	             FGW_MALFORMED);
	n = rec_recent(body, 3, 3, 0, 1);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)),
	             FGW_MALFORMED);
	n = rec_recent(body, 3, 3, UINT32_MAX - 1, UINT32_MAX);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)),
	             FGW_MALFORMED);
	/* one bad record spoils the datagram, wherever it is */
	n = rec_recent(body, 3, 3, 5, 5);
	n += rec_recent(body + n, 3, 3, 5, 6);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 2, body, n, a.sk)),
	             FGW_MALFORMED);
	/* recent = count is all of it, and fine */
	n = rec_recent(body, 3, 3, 5, 5);
	n += rec_recent(body + n, 3, 3, UINT32_MAX, UINT32_MAX);
	n += rec_recent(body + n, 3, 3, 0, 0);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 3, body, n, a.sk)), FGW_OK);
}

Test(wire, a_batch_whose_from_is_above_its_to_is_malformed, .init = setup)
{
	static const struct batch bad[] = {
	    {0, 8, 7, 0},
	    {FGW_F_LAST, 1, 0, 0},
	    {FGW_F_REPAIR, UINT64_MAX, 0, 3},
	    {FGW_F_LAST | FGW_F_REPAIR, UINT64_MAX, UINT64_MAX - 1, 0},
	};
	static const struct batch good[] = {
	    {0, 0, 0, 0},
	    {0, 7, 7, 0}, /* nothing changed */
	    {FGW_F_LAST, 7, 8, 5},
	    {FGW_F_REPAIR, 0, UINT64_MAX, UINT32_MAX},
	};
	uint8_t buf[FGW_MAX_SIZE], body[64];
	size_t n = rec(body, 3, 3, 1), i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_expect_eq(open_exact(buf, raw_batch(buf, &a, &bad[i], 1,
		                                       body, n, a.sk)),
		             FGW_MALFORMED, "bad %zu", i);
		cr_expect_eq(open_exact(buf, raw_batch(buf, &a, &bad[i], 0,
		                                       body, 0, a.sk)),
		             FGW_MALFORMED, "bad %zu, no record", i);
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_expect_eq(open_exact(buf, raw_batch(buf, &a, &good[i], 1,
		                                       body, n, a.sk)),
		             FGW_OK, "good %zu", i);
}

Test(wire, drops_zero_or_overlong_rule_and_key_lengths, .init = setup)
{
	static const uint8_t bad[][2] = {
	    {0, 3},
	    {3, 0},
	    {0, 0},
	    {FGW_RULE_MAX + 1, 3},
	    {3, FGW_KEY_MAX + 1},
	    {255, 255},
	};
	uint8_t buf[FGW_MAX_SIZE], body[600];
	size_t i, n;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = rec(body, bad[i][0], bad[i][1], 1);
		cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)),
		             FGW_MALFORMED, "rule_len %u key_len %u", bad[i][0],
		             bad[i][1]);
	}
	n = rec(body, FGW_RULE_MAX, FGW_KEY_MAX, 1);
	cr_assert_eq(open_exact(buf, raw(buf, &a, 1, body, n, a.sk)), FGW_OK);
}

Test(wire, drops_trailing_bytes, .init = setup)
{
	uint8_t buf[FGW_MAX_SIZE], body[256];
	size_t n = rec(body, 3, 3, 1), extra;

	for (extra = 1; extra <= 2 * FGW_REC_FIXED; extra++) {
		memset(body + n, 0, extra);
		cr_assert_eq(
		    open_exact(buf, raw(buf, &a, 1, body, n + extra, a.sk)),
		    FGW_MALFORMED, "%zu trailing bytes", extra);
	}
}

/* ------------------------------------------------------------ robustness */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static void mutate(uint8_t *buf, size_t *len, size_t cap)
{
	int k, nmut = 1 + (int)(rnd() % 4);
	size_t i;

	for (k = 0; k < nmut; k++) {
		switch (rnd() % 6) {
		case 0: /* flip a bit */
			if (*len)
				buf[rnd() % *len] ^=
				    (uint8_t)(1u << (rnd() % 8));
			break;
		case 1: /* set a byte */
			if (*len)
				buf[rnd() % *len] = (uint8_t)rnd();
			break;
		case 2: /* interesting value */
			if (*len) {
				static const uint8_t v[] = {
				    0, 1, 0x7f, 0x80, 0xff, 31, 32, 64, 65};
				buf[rnd() % *len] = v[rnd() % sizeof v];
			}
			break;
		case 3: /* truncate */
			if (*len)
				*len = rnd() % *len;
			break;
		case 4: /* extend with random bytes */
			for (i = rnd() % 16; i > 0 && *len < cap; i--)
				buf[(*len)++] = (uint8_t)rnd();
			break;
		default: /* overwrite a run */
			if (*len) {
				size_t at = rnd() % *len, n = rnd() % 16;

				for (i = 0; i < n && at + i < *len; i++)
					buf[at + i] = (uint8_t)rnd();
			}
			break;
		}
	}
}

/* Open @buf as an exact-size heap block and walk its records. */
static enum fgw_drop open_and_walk(const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct fgw_record r;
	struct fgw_view v;
	enum fgw_drop d;
	size_t n = 0;

	cr_assert_not_null(copy);
	if (len)
		memcpy(copy, buf, len);
	d = fgw_open(copy, len, &ring, &v);
	cr_assert_lt((unsigned)d, FGW_NDROPS);
	cr_assert(d != FGW_STALE && d != FGW_REPLAY);
	if (d == FGW_OK) {
		while (fgw_next(&v, &r)) {
			cr_assert(r.rule >=
			          copy + FGW_CONS_HDR + FGW_REC_FIXED);
			cr_assert(r.floor <= r.count);
			cr_assert(r.count - r.floor <= UINT32_MAX);
			cr_assert(r.key + r.key_len <=
			          copy + len - FGW_SIG_SIZE);
			cr_assert(r.rule_len >= 1 &&
			          r.rule_len <= FGW_RULE_MAX);
			cr_assert(r.key_len >= 1 && r.key_len <= FGW_KEY_MAX);
			n++;
		}
		cr_assert_eq(n, v.nrec);
	} else {
		cr_assert_eq(fgw_next(&v, &r), 0, "a dropped view is empty");
	}
	free(copy);
	return d;
}

Test(wire, random_and_mutated_datagrams_never_crash, .init = setup)
{
	uint8_t orig[FGW_MAX_SIZE], buf[FGW_MAX_SIZE + 64];
	const char *env = getenv("FGW_SEED");
	struct fgw_writer w;
	size_t olen, len, i;
	unsigned kinds[3] = {0}, ok_resigned = 0;
	enum fgw_drop d;
	int k;

	rng_state = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	if (rng_state == 0)
		rng_state = 1;
	cr_log_info("FGW_SEED=%" PRIu64, rng_state);

	fgw_begin(&w, FGW_MAX_SIZE, a.pk, 5, 6);
	for (k = 0; k < 8; k++)
		cr_assert_eq(fgw_add(&w, "rule", 4, "key-0123456789",
		                     4 + (size_t)k, (uint64_t)k * 1000,
		                     (uint64_t)k * 999),
		             0);
	/* from and to close together: a mutation can swap their order */
	fgw_set_batch(&w, 100, 108, 2, FGW_F_LAST);
	olen = fgw_finish(&w, a.sk);
	memcpy(orig, w.buf, olen);
	cr_assert_eq(open_and_walk(orig, olen), FGW_OK);

	for (i = 0; i < 100000; i++) {
		int kind = (int)(rnd() % 10);

		if (kind < 4) {
			/* Noise, half of it with our magic and a known origin
			 * so that it gets as far as the signature. */
			len = rnd() % (sizeof buf + 1);
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)rnd();
			if (len >= FGW_MIN_SIZE && (rnd() & 1)) {
				memcpy(buf, orig, FGW_HDR_SIZE);
				put16(buf + 6, (uint16_t)rnd());
			}
			d = open_and_walk(buf, len);
			cr_assert_neq(d, FGW_OK, "iteration %zu: noise", i);
			kinds[0]++;
		} else if (kind < 7) {
			/* A mutated datagram: OK only if it is unchanged. */
			memcpy(buf, orig, olen);
			len = olen;
			mutate(buf, &len, sizeof buf);
			d = open_and_walk(buf, len);
			if (len == olen && memcmp(buf, orig, olen) == 0)
				cr_assert_eq(d, FGW_OK);
			else
				cr_assert_neq(d, FGW_OK, "iteration %zu", i);
			kinds[1]++;
		} else {
			/* Mutated, then signed by a trusted origin: only the
			 * record checks stand between it and fgw_next(). */
			memcpy(buf, orig, olen);
			len = olen;
			mutate(buf, &len, sizeof buf);
			if (len < FGW_CONS_MIN || len > FGW_MAX_SIZE)
				continue;
			memcpy(buf, orig, 8); /* magic .. nrec */
			put16(buf + 6, (uint16_t)(rnd() % 4 ? 8 : rnd() % 12));
			memcpy(buf + 8, a.pk, FGW_PK_SIZE);
			resign(buf, len, a.sk);
			d = open_and_walk(buf, len);
			cr_assert(d == FGW_OK || d == FGW_MALFORMED,
			          "iteration %zu: %s", i, fgw_drop_name(d));
			ok_resigned += d == FGW_OK;
			kinds[2]++;
		}
	}
	cr_log_info("noise %u, mutated %u, re-signed %u (%u of them OK)",
	            kinds[0], kinds[1], kinds[2], ok_resigned);
	cr_assert_gt(kinds[2], 0);
}

/* ------------------------------------------------------------ timing */

Test(wire, sign_and_verify_cost, .init = setup)
{
	struct fgw_writer w;
	struct fgw_view v;
	struct timespec t0, t1, t2;
	char key[FGW_KEY_MAX];
	size_t len = 0, body;
	int i, n = 200, k = 0;

	/* 13 records of 14 + 4 + 56 bytes fill 1200 - 76 - 162 exactly. */
	memset(key, 'k', sizeof key);
	fgw_begin(&w, 1200, a.pk, 1, 1);
	while (fgw_add(&w, "rule", 4, key, 56, (uint64_t)k, 0) == 0)
		k++;
	cr_assert_eq(k, 13);
	body = w.len;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		w.len = body; /* sign the same records again */
		w.cap = 1200;
		len = fgw_finish(&w, a.sk);
	}
	cr_assert_eq(len, 1200 - FGW_SEAL_MAX + FGW_SEAL_FIXED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0; i < n; i++)
		cr_assert_eq(fgw_open(w.buf, len, &ring, &v), FGW_OK);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	cr_log_info(
	    "%zu-byte datagram, %d records: sign %.1f us, open %.1f us", len, k,
	    ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n /
	        1e3,
	    ((t2.tv_sec - t1.tv_sec) * 1e9 + (t2.tv_nsec - t1.tv_nsec)) / n /
	        1e3);
}

/* ------------------------------------------------------------ replay */

Test(replay, zero_state_accepts_first_datagram)
{
	struct fgw_replay r;

	fgw_replay_init(&r);
	cr_assert_eq(fgw_replay_check(&r, 0, 0), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 0, 0), FGW_REPLAY);
}

Test(replay, in_order_accepted)
{
	struct fgw_replay r = {0};

	for (uint64_t s = 1; s <= 1000; s++)
		cr_assert_eq(fgw_replay_check(&r, 1, s), FGW_OK, "seq %" PRIu64,
		             s);
}

Test(replay, duplicate_is_replay)
{
	struct fgw_replay r = {0};

	cr_assert_eq(fgw_replay_check(&r, 1, 5), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, 5), FGW_REPLAY);
	cr_assert_eq(fgw_replay_check(&r, 1, 6), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, 5), FGW_REPLAY);
	cr_assert_eq(fgw_replay_check(&r, 1, 6), FGW_REPLAY);
}

Test(replay, reordered_within_window_accepted_once)
{
	struct fgw_replay r = {0};
	uint64_t s;

	cr_assert_eq(fgw_replay_check(&r, 1, 1000), FGW_OK);
	/* 1000 - 127 is the oldest seq the window still holds. */
	for (s = 999; s > 1000 - 127; s -= 3)
		cr_assert_eq(fgw_replay_check(&r, 1, s), FGW_OK, "seq %" PRIu64,
		             s);
	for (s = 999; s > 1000 - 127; s -= 3)
		cr_assert_eq(fgw_replay_check(&r, 1, s), FGW_REPLAY);
	cr_assert_eq(fgw_replay_check(&r, 1, 1000 - 127), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, 1000 - 128), FGW_REPLAY);
}

Test(replay, older_than_window_is_replay)
{
	struct fgw_replay r = {0};

	cr_assert_eq(fgw_replay_check(&r, 1, 500), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, 500 - FGW_REPLAY_WINDOW),
	             FGW_REPLAY);
	cr_assert_eq(fgw_replay_check(&r, 1, 0), FGW_REPLAY);
	/* A jump past the whole window forgets it, but not what it implies. */
	cr_assert_eq(fgw_replay_check(&r, 1, 10000), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, 9999), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, 500), FGW_REPLAY);
	cr_assert_eq(fgw_replay_check(&r, 1, UINT64_MAX), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, UINT64_MAX), FGW_REPLAY);
	cr_assert_eq(fgw_replay_check(&r, 1, UINT64_MAX - 127), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 1, UINT64_MAX - 128), FGW_REPLAY);
}

Test(replay, new_incarnation_resets_window)
{
	struct fgw_replay r = {0};

	cr_assert_eq(fgw_replay_check(&r, 1, 500), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 2, 0), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 2, 1), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 2, 500), FGW_OK);
	cr_assert_eq(fgw_replay_check(&r, 2, 500), FGW_REPLAY);
}

Test(replay, old_incarnation_is_stale)
{
	struct fgw_replay r = {0}, saved;

	cr_assert_eq(fgw_replay_check(&r, 5, 10), FGW_OK);
	saved = r;
	cr_assert_eq(fgw_replay_check(&r, 4, 11), FGW_STALE);
	cr_assert_eq(fgw_replay_check(&r, 0, 0), FGW_STALE);
	cr_assert_eq(memcmp(&r, &saved, sizeof r), 0, "a drop changes nothing");
	cr_assert_eq(fgw_replay_check(&r, 5, 11), FGW_OK);
}

/* Against a model that remembers every seq: accept iff unseen and not
 * 128 or more below the highest accepted. */
Test(replay, matches_a_model_on_random_sequences)
{
	enum { SPAN = 4096 };
	static uint8_t seen[SPAN];
	struct fgw_replay r = {0};
	uint64_t top = 0, s;
	int i, want;

	rng_state = 0x5eed;
	for (i = 0; i < 200000; i++) {
		uint64_t x = rnd();

		/* Mostly just ahead, sometimes behind, sometimes far. */
		if (x % 8 < 5)
			s = top + x % 70;
		else if (x % 8 < 7)
			s = top - (top < 200 ? top : (x >> 8) % 200);
		else
			s = (x >> 8) % SPAN;
		if (s >= SPAN) {
			memset(seen, 0, sizeof seen);
			memset(&r, 0, sizeof r);
			top = 0;
			continue;
		}
		want = !seen[s] && s + FGW_REPLAY_WINDOW > top;
		cr_assert_eq(fgw_replay_check(&r, 9, s),
		             want ? FGW_OK : FGW_REPLAY, "step %d seq %" PRIu64,
		             i, s);
		if (want) {
			seen[s] = 1;
			if (s > top)
				top = s;
		}
	}
}

/* ------------------------------------------------------------ seal groups */

/* @n writers of origin a, datagram i holding records "k<i>-<j>". */
static void group_of(struct fgw_writer *w, struct fgw_writer **wp, size_t n)
{
	char key[32];
	size_t i;
	int j;

	for (i = 0; i < n; i++) {
		fgw_begin(&w[i], 1200, a.pk, 5, 100 + i);
		for (j = 0; j < 3; j++) {
			snprintf(key, sizeof key, "k%zu-%d", i, j);
			cr_assert_eq(fgw_add(&w[i], "api", 3, key, strlen(key),
			                     i * 10 + (size_t)j + 1, 0),
			             0);
		}
		fgw_set_batch(&w[i], 1, 2, (uint32_t)i,
		              i + 1 == n ? FGW_F_LAST : 0);
		wp[i] = &w[i];
	}
}

Test(wire, every_datagram_of_a_seal_group_opens_on_its_own, .init = setup)
{
	static struct fgw_writer w[FGW_GROUP_MAX];
	struct fgw_writer *wp[FGW_GROUP_MAX];
	struct fgw_record r;
	struct fgw_view v;
	size_t n, i, depth;

	for (n = 1; n <= FGW_GROUP_MAX; n++) {
		group_of(w, wp, n);
		cr_assert_eq(fgw_finish_group(wp, n, a.sk), 0);
		for (depth = 0; ((size_t)1 << depth) < n; depth++)
			;
		for (i = 0; i < n; i++) {
			cr_assert_eq(w[i].len, w[i].cap, "finished");
			cr_assert_eq(fgw_seal_size(w[i].buf, w[i].len),
			             FGW_SEAL_SIZE(depth), "%zu of %zu", i, n);
			cr_assert_eq(open_exact(w[i].buf, w[i].len), FGW_OK,
			             "datagram %zu of %zu", i, n);
			cr_assert_eq(fgw_open(w[i].buf, w[i].len, &ring, &v),
			             FGW_OK);
			cr_assert_eq(v.part, i);
			cr_assert_eq(fgw_next(&v, &r), 1);
			cr_assert_eq(r.count, i * 10 + 1);
		}
		cr_assert_eq(fgw_finish_group(wp, n, a.sk), -1,
		             "a finished group is not sealed twice");
	}
	cr_assert_eq(fgw_finish_group(wp, 0, a.sk), -1);
	cr_assert_eq(fgw_finish_group(wp, FGW_GROUP_MAX + 1, a.sk), -1);
}

Test(wire, a_group_costs_one_signature_check_and_the_cache_is_never_poisoned,
     .init = setup)
{
	static struct fgw_writer w[FGW_GROUP_MAX], f[4];
	struct fgw_writer *wp[FGW_GROUP_MAX], *fp[4];
	struct fgw_roots roots;
	struct fgw_view v;
	size_t i;

	memset(&roots, 0, sizeof roots);
	group_of(w, wp, FGW_GROUP_MAX);
	cr_assert_eq(fgw_finish_group(wp, FGW_GROUP_MAX, a.sk), 0);
	for (i = 0; i < FGW_GROUP_MAX; i++)
		cr_assert_eq(
		    fgw_open_cached(w[i].buf, w[i].len, &ring, &roots, &v),
		    FGW_OK);
	cr_expect_eq(roots.misses, 1, "one signature checked");
	cr_expect_eq(roots.hits, FGW_GROUP_MAX - 1);
	/* a group in a's name sealed by b: refused, and refused again, its
	 * root never remembered */
	group_of(f, fp, 4);
	cr_assert_eq(fgw_finish_group(fp, 4, b.sk), 0);
	for (i = 0; i < 2 * 4; i++)
		cr_assert_eq(fgw_open_cached(f[i % 4].buf, f[i % 4].len, &ring,
		                             &roots, &v),
		             FGW_BADSIG);
	cr_expect_eq(roots.hits, FGW_GROUP_MAX - 1, "no forged root cached");
}

Test(wire, a_datagram_changed_under_a_verified_root_is_badsig, .init = setup)
{
	static struct fgw_writer w[8];
	struct fgw_writer *wp[8];
	uint8_t buf[FGW_MAX_SIZE];
	struct fgw_roots roots;
	struct fgw_view v;
	size_t len, t, depth = 3;

	memset(&roots, 0, sizeof roots);
	group_of(w, wp, 8);
	cr_assert_eq(fgw_finish_group(wp, 8, a.sk), 0);
	cr_assert_eq(fgw_open_cached(w[0].buf, w[0].len, &ring, &roots, &v),
	             FGW_OK, "the root is verified and remembered");
	len = w[5].len;
	t = len - FGW_SEAL_SIZE(depth);
	/* a record's count; its place in the group; a hash of its path;
	 * the path of another datagram */
	memcpy(buf, w[5].buf, len);
	buf[FGW_CONS_HDR + 9] ^= 1;
	cr_expect_eq(fgw_open_cached(buf, len, &ring, &roots, &v), FGW_BADSIG);
	memcpy(buf, w[5].buf, len);
	buf[t + depth * FGW_HASH_SIZE] = 4;
	cr_expect_eq(fgw_open_cached(buf, len, &ring, &roots, &v), FGW_BADSIG);
	memcpy(buf, w[5].buf, len);
	buf[t + FGW_HASH_SIZE + 3] ^= 0x10;
	cr_expect_eq(fgw_open_cached(buf, len, &ring, &roots, &v), FGW_BADSIG);
	memcpy(buf, w[5].buf, len);
	memcpy(buf + t, w[4].buf + w[4].len - FGW_SEAL_SIZE(depth),
	       depth * FGW_HASH_SIZE);
	cr_expect_eq(fgw_open_cached(buf, len, &ring, &roots, &v), FGW_BADSIG);
	/* an index beyond the depth */
	memcpy(buf, w[5].buf, len);
	buf[t + depth * FGW_HASH_SIZE] = 8;
	cr_expect_eq(fgw_open_cached(buf, len, &ring, &roots, &v), FGW_BADSIG);
	cr_expect_eq(fgw_open_cached(w[5].buf, len, &ring, &roots, &v), FGW_OK);
	/* each altered one was checked in full, but the index beyond the
	 * depth, refused before */
	cr_expect_eq(roots.misses, 5);
}
