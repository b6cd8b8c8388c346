/* SPDX-License-Identifier: ISC */
/*
 * wire_seeds.c - writes the seed corpora of the three wire targets,
 * corpus/wire/, corpus/wire_signed/ and corpus/wire_mac/, from the fixed
 * test keys of wire_common.h.
 *
 * From the top of the source tree (FUZZING.md):
 *
 *   cc -std=gnu11 -I. -I_build/lib tests/fuzz/wire_seeds.c gossip/wire.c \
 *       gossip/seal.c gossip/pairwise.c gossip/keys.c -lsodium \
 *       -o /tmp/wire_seeds
 *   /tmp/wire_seeds tests/fuzz/corpus
 *
 * after emptying corpus/wire, corpus/wire_signed and corpus/wire_mac (a
 * seed it no longer writes would stay behind).
 *
 * Not built by make: run it by hand when the wire format changes, and
 * commit what it writes (FUZZING.md).  Ed25519 is deterministic, so the
 * same sources write the same bytes.  Valid datagrams are made with the
 * writer (fgw_begin/fgw_set_batch/fgw_add/fgw_finish, fgw_member_write);
 * the malformed ones by hand, then signed by fuzz-a, so that each fails
 * the one check its name says and no earlier one.  The MAC'd datagrams of
 * corpus/wire are made by fgw_seal_mac() with fuzz-a's key toward fuzz-b
 * (the receiver of fuzz_wire.c).
 *
 * Every consumption datagram signed by fuzz-a (but for its "from-b"
 * variant) is also written, as fuzz_wire_signed.c takes it (flags, nrec,
 * then the bytes between the common header and the signature), to
 * corpus/wire_signed/ under the same name, and as fuzz_wire_mac.c takes
 * it (selector 0, the right key, then the same bytes: that target MACs
 * them) to corpus/wire_mac/.  corpus/wire_mac/ also has a seed for each
 * selector, the shortest MAC'd datagram and one byte less, and one of
 * FGW_MAX_SIZE, longer than the writer makes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/wire_common.h"

/* Never called: wire_common.h comes with fuzz.h's declaration. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}

static const char *out_dir;
static const struct fuzz_ids *ids;
static uint8_t stranger_pk[FGW_PK_SIZE], stranger_sk[FGW_SK_SIZE];

static void put(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* A consumption datagram: seal [0, len - 66) as a group of one into its
 * last 66 bytes (gossip/seal.h).  A membership datagram: sign
 * [0, len - 64) into its last 64. */
static void sign(uint8_t *buf, size_t len, const uint8_t *sk)
{
	if (buf[4] == FGW_TYPE_CONSUMPTION) {
		const uint8_t *b = buf;
		size_t blen = len - FGW_SEAL_FIXED;
		uint8_t *t = buf + blen;

		FUZZ_ASSERT(len >= FGW_HDR_SIZE + FGW_SEAL_FIXED);
		FUZZ_ASSERT(fgw_seal_sign(1, &b, &blen, &t, sk) ==
		            FGW_SEAL_FIXED);
		return;
	}
	FUZZ_ASSERT(len >= FGW_MIN_SIZE);
	FUZZ_ASSERT(crypto_sign_detached(buf + len - FGW_SIG_SIZE, NULL, buf,
	                                 len - FGW_SIG_SIZE, sk) == 0);
}

/* The seal that ends a consumption datagram: its length. */
static size_t seal_of(const uint8_t *buf, size_t len)
{
	size_t t = fgw_seal_size(buf, len);

	FUZZ_ASSERT(t != 0);
	return t;
}

static void write_file(const char *target, const char *name, const uint8_t *buf,
                       size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", out_dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* A datagram for the wire target. */
static void wire(const char *name, const uint8_t *buf, size_t len)
{
	write_file("wire", name, buf, len);
}

/* A consumption datagram sealed by fuzz-a, as the wire_signed target
 * takes it (which seals it again, alone). */
static void wire_signed(const char *name, const uint8_t *buf, size_t len)
{
	uint8_t in[FGW_MAX_SIZE];
	size_t body = len - FGW_HDR_SIZE - seal_of(buf, len);

	FUZZ_ASSERT(len >= FGW_HDR_SIZE + FGW_SEAL_FIXED &&
	            buf[4] == FGW_TYPE_CONSUMPTION);
	FUZZ_ASSERT(memcmp(buf + 8, ids->keys[0].pk, FGW_PK_SIZE) == 0);
	memcpy(in, buf + 5, 3); /* flags, nrec */
	memcpy(in + 3, buf + FGW_HDR_SIZE, body);
	write_file("wire_signed", name, in, 3 + body);
}

/* An input of the wire_mac target: @sel, then flags and nrec, then
 * @body (@len bytes: batch fields, then records). */
static void wire_mac(const char *name, uint8_t sel, uint8_t flags,
                     uint16_t nrec, const uint8_t *body, size_t len)
{
	uint8_t in[4 + FGW_MAX_SIZE];

	FUZZ_ASSERT(len <= FGW_MAX_SIZE - FGW_HDR_SIZE - FGW_MAC_SIZE);
	in[0] = sel;
	in[1] = flags;
	put(in + 2, nrec, 2);
	memcpy(in + 4, body, len);
	write_file("wire_mac", name, in, 4 + len);
}

/* A consumption datagram of fuzz-a, signed or MAC'd (@trailer: the
 * length of its signature or MAC), as the wire_mac target takes it with
 * selector @sel. */
static void wire_mac_of(const char *name, uint8_t sel, const uint8_t *buf,
                        size_t len, size_t trailer)
{
	FUZZ_ASSERT(len >= FGW_HDR_SIZE + trailer &&
	            buf[4] == FGW_TYPE_CONSUMPTION);
	FUZZ_ASSERT(memcmp(buf + 8, ids->keys[0].pk, FGW_PK_SIZE) == 0);
	wire_mac(name, sel, buf[5], (uint16_t)(buf[6] << 8 | buf[7]),
	         buf + FGW_HDR_SIZE, len - FGW_HDR_SIZE - trailer);
}

/* A consumption datagram sealed by fuzz-a, for the three targets. */
static void both(const char *name, const uint8_t *buf, size_t len)
{
	wire(name, buf, len);
	wire_signed(name, buf, len);
	wire_mac_of(name, 0, buf, len, seal_of(buf, len));
}

/* A consumption datagram by hand: header, batch, @body, a seal of its
 * own. */
static size_t raw(uint8_t *buf, int version, uint8_t flags, uint16_t nrec,
                  uint64_t from, uint64_t to, uint32_t part, const void *body,
                  size_t bodylen)
{
	size_t len = FGW_CONS_HDR + bodylen + FGW_SEAL_FIXED;

	memset(buf, 0, len);
	memcpy(buf, "FGW", 3);
	buf[3] = (uint8_t)version;
	buf[4] = FGW_TYPE_CONSUMPTION;
	buf[5] = flags;
	put(buf + 6, nrec, 2);
	memcpy(buf + 8, ids->keys[0].pk, FGW_PK_SIZE);
	put(buf + 40, 1, 8);
	put(buf + 48, 5, 8);
	put(buf + 56, from, 8);
	put(buf + 64, to, 8);
	put(buf + 72, part, 4);
	if (bodylen)
		memcpy(buf + FGW_CONS_HDR, body, bodylen);
	sign(buf, len, ids->sk[0]);
	return len;
}

/* A record by hand; returns its length. */
static size_t rec(uint8_t *p, uint8_t rl, uint8_t kl, uint64_t count,
                  uint32_t recent, const char *rule, const char *key)
{
	p[0] = rl;
	p[1] = kl;
	put(p + 2, count, 8);
	put(p + 10, recent, 4);
	memcpy(p + FGW_REC_FIXED, rule, rl);
	memcpy(p + FGW_REC_FIXED + rl, key, kl);
	return FGW_REC_FIXED + (size_t)rl + kl;
}

#define ADD(w, rule, key, count, floor)                                        \
	FUZZ_ASSERT(fgw_add(w, rule, strlen(rule), key, sizeof key - 1, count, \
	                    floor) == 0)

static void consumption(void)
{
	static struct fgw_writer w;
	uint8_t buf[FGW_MAX_SIZE], body[FGW_MAX_SIZE];
	const uint8_t *a = ids->keys[0].pk, *sk = ids->sk[0];
	char key[32];
	size_t len, n;
	unsigned i;

	/* The only part of a round: versions (0, 1]. */
	fgw_begin(&w, FGW_MAX_SIZE, a, UINT64_C(0x18bcfe56800), 2);
	fgw_set_batch(&w, 0, 1, 0, FGW_F_LAST);
	ADD(&w, "api", "10.0.0.1", 5, 0);
	len = fgw_finish(&w, sk);
	both("one-record", w.buf, len);
	/* ... changed after signing; then cut below any header */
	memcpy(buf, w.buf, len);
	buf[FGW_CONS_HDR + 5] ^= 0x01;
	wire("bad-signature", buf, len);
	wire("truncated", buf, 100);

	/* From fuzz-b, the other key of the keyring (wire_signed: the same
	 * records, signed by fuzz-a as everything there). */
	for (i = 0; i < 2; i++) {
		fgw_begin(&w, FGW_MAX_SIZE, ids->keys[1 - i].pk, 3, 9);
		fgw_set_batch(&w, 4, 6, 0, FGW_F_LAST);
		ADD(&w, "login", "user:alice", 3, 0);
		ADD(&w, "login", "user:bob", 4, 1);
		len = fgw_finish(&w, ids->sk[1 - i]);
		if (i == 0)
			wire("from-b", w.buf, len);
		else
			wire_signed("from-b", w.buf, len);
	}

	/* A middle part of a round, filled to a 1200-byte cap. */
	fgw_begin(&w, 1200, a, 2, 77);
	fgw_set_batch(&w, 100, 160, 1, 0);
	for (i = 0;; i++) {
		n = (size_t)snprintf(key, sizeof key, "203.0.113.%u", i);
		if (fgw_add(&w, "api", 3, key, n, (uint64_t)i * 1000,
		            (uint64_t)i * 500) != 0)
			break;
	}
	len = fgw_finish(&w, sk);
	both("full-1200", w.buf, len);

	/* A round in which nothing changed. */
	fgw_begin(&w, FGW_MAX_SIZE, a, 1, 1);
	fgw_set_batch(&w, 7, 7, 0, FGW_F_LAST);
	len = fgw_finish(&w, sk);
	both("heartbeat", w.buf, len);
	/* the same, from a future version, and from version 2 (a
	 * signature per datagram) */
	memcpy(buf, w.buf, len);
	buf[3] = 4;
	sign(buf, len, sk);
	wire("version-4", buf, len);
	memcpy(buf, w.buf, len);
	buf[3] = 2;
	FUZZ_ASSERT(crypto_sign_detached(buf + len - FGW_SIG_SIZE, NULL, buf,
	                                 len - FGW_SIG_SIZE, sk) == 0);
	wire("version-2", buf, len);
	/* one soon after a change: relays forward it */
	fgw_begin(&w, FGW_MAX_SIZE, a, 1, 2);
	fgw_set_batch(&w, 9, 9, 0, FGW_F_LAST | FGW_F_FLOOD);
	len = fgw_finish(&w, sk);
	both("heartbeat-flood", w.buf, len);

	/* The answer to a digest: unicast, floors, a saturated recent. */
	fgw_begin(&w, FGW_MAX_SIZE, a, 1, 8);
	fgw_set_batch(&w, 12, 40, 0, FGW_F_LAST | FGW_F_REPAIR);
	ADD(&w, "login", "user:carol", 1000, 990);
	ADD(&w, "api", "198.51.100.9", UINT64_C(1) << 40, 0);
	len = fgw_finish(&w, sk);
	both("repair", w.buf, len);

	/* Longest rule and key, extreme counts, binary key bytes. */
	fgw_begin(&w, FGW_MAX_SIZE, a, 7, 1000);
	fgw_set_batch(&w, 0, 3, 0, FGW_F_LAST);
	ADD(&w, "api", "198.51.100.7", 123456789, 123456000);
	memset(body, 'r', FGW_RULE_MAX);
	memset(body + FGW_RULE_MAX, 'k', FGW_KEY_MAX);
	FUZZ_ASSERT(fgw_add(&w, (const char *)body, FGW_RULE_MAX,
	                    body + FGW_RULE_MAX, FGW_KEY_MAX, UINT64_MAX,
	                    0) == 0);
	ADD(&w, "l", "\x00\xff", 0, 0);
	len = fgw_finish(&w, sk);
	both("three-records-max-lengths", w.buf, len);

	/* Signed by nobody we know. */
	fgw_begin(&w, FGW_MAX_SIZE, stranger_pk, 1, 1);
	fgw_set_batch(&w, 0, 1, 0, FGW_F_LAST);
	ADD(&w, "api", "k", 1, 0);
	len = fgw_finish(&w, stranger_sk);
	wire("unknown-origin", w.buf, len);

	/* By hand, signed: each fails one check. */
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	both("malformed-nrec", buf,
	     raw(buf, FGW_VERSION, FGW_F_LAST, 2, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 6, "api", "10.0.0.1");
	both("malformed-recent-above-count", buf,
	     raw(buf, FGW_VERSION, FGW_F_LAST, 1, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	both("malformed-from-above-to", buf,
	     raw(buf, FGW_VERSION, FGW_F_LAST, 1, 9, 8, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	body[0] = 0; /* a rule of no bytes */
	both("malformed-empty-rule", buf,
	     raw(buf, FGW_VERSION, FGW_F_LAST, 1, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	body[1] = 60; /* a key longer than what follows */
	both("malformed-overrun", buf,
	     raw(buf, FGW_VERSION, FGW_F_LAST, 1, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	both("unknown-flag", buf,
	     raw(buf, FGW_VERSION, 0x80, 1, 0, 1, 0, body, n));
	/* No room for the batch fields: the common header and a seal. */
	len = FGW_HDR_SIZE + FGW_SEAL_FIXED;
	raw(buf, FGW_VERSION, 0, 0, 0, 0, 0, NULL, 0);
	sign(buf, len, sk);
	both("truncated-batch", buf, len);
	/* A version 1 datagram (its heartbeat): a cluster is upgraded all
	 * at once. */
	buf[3] = 1;
	put(buf + 40, 1, 8);
	put(buf + 48, 1, 8);
	sign(buf, len, sk);
	wire("version-1", buf, len);

	/* Sealed, but flagged as MAC'd: the MAC (the signature's last 16
	 * bytes) is checked instead, and fails (wire_signed: no pairwise
	 * keys at all). */
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	both(
	    "signed-with-mac-flag", buf,
	    raw(buf, FGW_VERSION, FGW_F_LAST | FGW_F_MAC, 1, 0, 1, 0, body, n));
}

/* Seal groups (gossip/seal.h): datagrams of groups of 5 (depth 3) and 64
 * (depth 6, the deepest), each opening on its own; and seals that fail
 * one check each. */
static void groups(void)
{
	static struct fgw_writer w[FGW_GROUP_MAX];
	struct fgw_writer *wp[FGW_GROUP_MAX];
	static const size_t sizes[] = {5, FGW_GROUP_MAX};
	uint8_t buf[FGW_MAX_SIZE];
	char key[32], name[64];
	size_t z, i, n, len, t;

	for (z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
		n = sizes[z];
		for (i = 0; i < n; i++) {
			fgw_begin(&w[i], 1200, ids->keys[0].pk, 4, 300 + i);
			fgw_set_batch(&w[i], 50, 60, (uint32_t)i,
			              i + 1 == n ? FGW_F_LAST : 0);
			snprintf(key, sizeof key, "10.1.%zu.%zu", z, i);
			FUZZ_ASSERT(fgw_add(&w[i], "api", 3, key, strlen(key),
			                    i + 1, 0) == 0);
			wp[i] = &w[i];
		}
		FUZZ_ASSERT(fgw_finish_group(wp, n, ids->sk[0]) == 0);
		for (i = 0; i<n; i += n - 1> 3 ? (n - 1) / 3 : 1) {
			snprintf(name, sizeof name, "group-%zu-part-%zu", n, i);
			both(name, w[i].buf, w[i].len);
		}
	}
	/* of the group of 64 (depth 6): the last datagram, its depth one
	 * too many; its index beyond the depth of a group of 5; a hash of
	 * its path altered */
	len = w[n - 1].len;
	t = len - FGW_SEAL_MAX;
	memcpy(buf, w[n - 1].buf, len);
	buf[len - FGW_SIG_SIZE - 1] = FGW_DEPTH_MAX + 1;
	wire("seal-too-deep", buf, len);
	memcpy(buf, w[n - 1].buf, len);
	buf[t + FGW_DEPTH_MAX * FGW_HASH_SIZE] = 200;
	wire("seal-index-beyond-depth", buf, len);
	memcpy(buf, w[n - 1].buf, len);
	buf[t + 2 * FGW_HASH_SIZE] ^= 0x04;
	wire("seal-path-altered", buf, len);
}

/* MAC'd datagrams: fuzz-a's for fuzz-b, the receiver of the wire target;
 * the wire_mac target's own seeds. */
static void mac(void)
{
	static struct fgw_writer w;
	uint8_t buf[FGW_MAX_SIZE], body[FGW_MAX_SIZE];
	const uint8_t *a = ids->keys[FUZZ_A].pk;
	static const char *const sel_names[] = {
	    "key-a-to-b", "key-c-to-b", "key-a-to-c",
	    "key-b-to-a", "key-zero",   "ring-without-pw"};
	size_t len, n, i;

	/* A round's only part, MAC'd for fuzz-b. */
	fgw_begin(&w, FGW_MAX_SIZE, a, 3, 9);
	fgw_set_batch(&w, 4, 6, 0, FGW_F_LAST);
	ADD(&w, "login", "user:alice", 3, 0);
	ADD(&w, "login", "user:bob", 4, 1);
	len = fgw_seal_mac(&w, ids->mac_ab, buf);
	FUZZ_ASSERT(len > 0);
	wire("mac-two-records", buf, len);
	/* the same for every selector of wire_mac (that target MACs it
	 * with the key the selector names) */
	for (i = 0; i < sizeof sel_names / sizeof sel_names[0]; i++)
		wire_mac_of(sel_names[i], (uint8_t)i, buf, len, FGW_MAC_SIZE);

	/* The shortest of all: a heartbeat, FGW_MAC_MIN bytes; then one
	 * byte less. */
	fgw_begin(&w, FGW_MAX_SIZE, a, 3, 10);
	fgw_set_batch(&w, 6, 6, 0, FGW_F_LAST);
	len = fgw_seal_mac(&w, ids->mac_ab, buf);
	FUZZ_ASSERT(len == FGW_MAC_MIN);
	wire("mac-minimum", buf, len);
	wire("mac-truncated", buf, len - 1);
	wire_mac_of("minimum-92", 0, buf, len, FGW_MAC_SIZE);
	wire_mac("truncated-91", 0, buf[5], 0, buf + FGW_HDR_SIZE,
	         FGW_MAC_MIN - FGW_HDR_SIZE - FGW_MAC_SIZE - 1);

	/* A repair MAC'd by fuzz-b "for itself": it has no such key, its
	 * tx key toward fuzz-a is the nearest (BADSIG at fuzz-b). */
	fgw_begin(&w, FGW_MAX_SIZE, ids->keys[FUZZ_B].pk, 2, 4);
	fgw_set_batch(&w, 12, 40, 0, FGW_F_LAST | FGW_F_REPAIR);
	ADD(&w, "login", "user:carol", 1000, 990);
	len = fgw_seal_mac(&w, fgw_pairwise_tx(ids->ring_b.pw, FUZZ_A), buf);
	FUZZ_ASSERT(len > 0);
	wire("mac-from-b", buf, len);

	/* FGW_MAX_SIZE bytes MAC'd: 12 records of the longest rule and
	 * key.  The reader takes it; the writer, which keeps room for the
	 * largest seal, never makes one this long. */
	memset(body, 0, 20); /* batch: (0, 0], part 0 */
	for (i = 0, n = 20; i < 12; i++) {
		char rule[FGW_RULE_MAX], key[FGW_KEY_MAX];

		memset(rule, 'r', sizeof rule);
		memset(key, 'a' + (int)i, sizeof key);
		n += rec(body + n, FGW_RULE_MAX, FGW_KEY_MAX, i * 7,
		         (uint32_t)i, rule, key);
	}
	FUZZ_ASSERT(FGW_HDR_SIZE + n + FGW_MAC_SIZE == FGW_MAX_SIZE);
	wire_mac("full-1400", 0, FGW_F_LAST, 12, body, n);
}

/* @m from fuzz-a; if @off, then @val at @off, signed again. */
static void member(const char *name, uint64_t seq, const struct fgw_member *m,
                   size_t off, uint8_t val)
{
	uint8_t buf[FGW_MEMBER_SIZE];

	FUZZ_ASSERT(fgw_member_write(buf, ids->keys[0].pk, 5, seq, m,
	                             ids->sk[0]) == FGW_MEMBER_SIZE);
	if (off != 0) {
		buf[off] = val;
		sign(buf, FGW_MEMBER_SIZE, ids->sk[0]);
	}
	wire(name, buf, FGW_MEMBER_SIZE);
}

static void membership(void)
{
	const uint8_t *b = ids->keys[1].pk;
	struct fgw_member m;

	/* A ping with its digest: "I hold fuzz-b up to version 41". */
	memset(&m, 0, sizeof m);
	m.kind = FGW_PING;
	m.family = 4;
	m.port = 7420;
	memcpy(m.addr, "\x7f\x00\x00\x01", 4);
	m.nonce = UINT64_C(0x1122334455667788);
	memcpy(m.target, b, FGW_PK_SIZE);
	m.digest_inc = 3;
	m.digest_have = 41;
	member("member-ping", 9, &m, 0, 0);
	/* The ack of a ping sent for fuzz-b's ping-req. */
	m.kind = FGW_ACK;
	memcpy(m.requester, b, FGW_PK_SIZE);
	m.digest_inc = m.digest_have = 0;
	member("member-ack-indirect", 10, &m, 0, 0);
	/* A ping-req from a member on IPv6. */
	m.kind = FGW_PING_REQ;
	m.family = 6;
	memset(m.addr, 0, 16);
	m.addr[15] = 1;
	memset(m.requester, 0, FGW_PK_SIZE);
	member("member-ping-req-v6", 11, &m, 0, 0);
	/* An announcement: an address and nothing else. */
	memset(&m, 0, sizeof m);
	m.kind = FGW_ANNOUNCE;
	m.family = 4;
	m.port = 1;
	memcpy(m.addr, "\x0a\x00\x00\x02", 4);
	member("member-announce", 12, &m, 0, 0);
	/* A sync request to fuzz-b. */
	memset(&m, 0, sizeof m);
	m.kind = FGW_SYNC;
	m.family = 4;
	m.port = 7420;
	memcpy(m.addr, "\x7f\x00\x00\x01", 4);
	memcpy(m.target, b, FGW_PK_SIZE);
	m.digest_inc = 3;
	m.digest_have = 40;
	member("member-sync", 14, &m, 0, 0);
	/* Malformed, signed: a kind we do not know; a digest in an ack
	 * (digest_have's last byte). */
	memset(&m, 0, sizeof m);
	m.kind = FGW_ACK;
	member("member-malformed-kind", 13, &m, FGW_HDR_SIZE + 0, 9);
	m.nonce = 1;
	member("member-malformed-digest", 15, &m, FGW_HDR_SIZE + 107, 1);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 64;
	}
	out_dir = argv[1];
	ids = fuzz_ids();
	fuzz_keypair(FUZZ_SEED_STRANGER, stranger_pk, stranger_sk);
	consumption();
	groups();
	mac();
	membership();
	return 0;
}
