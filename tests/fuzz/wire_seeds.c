/*
 * wire_seeds.c - writes the seed corpora of the two wire targets,
 * corpus/wire/ and corpus/wire_signed/, from the fixed test keys of
 * wire_common.h.
 *
 * From the top of the source tree (FUZZING.md):
 *
 *   cc -std=c11 -I. tests/fuzz/wire_seeds.c gossip/wire.c -lsodium \
 *       -o /tmp/wire_seeds
 *   /tmp/wire_seeds tests/fuzz/corpus
 *
 * after emptying corpus/wire and corpus/wire_signed (a seed it no longer
 * writes would stay behind).
 *
 * Not built by make: run it by hand when the wire format changes, and
 * commit what it writes (FUZZING.md).  Ed25519 is deterministic, so the
 * same sources write the same bytes.  Valid datagrams are made with the
 * writer (fgw_begin/fgw_set_batch/fgw_add/fgw_finish, fgw_member_write);
 * the malformed ones by hand, then signed by fuzz-a, so that each fails
 * the one check its name says and no earlier one.
 *
 * Every consumption datagram signed by fuzz-a is also written, as
 * fuzz_wire_signed.c takes it (flags, nrec, then the bytes between the
 * common header and the signature), to corpus/wire_signed/ under the same
 * name.
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

static void sign(uint8_t *buf, size_t len, const uint8_t *sk)
{
	FUZZ_ASSERT(len >= FGW_MIN_SIZE);
	FUZZ_ASSERT(crypto_sign_detached(buf + len - FGW_SIG_SIZE, NULL, buf,
	                                 len - FGW_SIG_SIZE, sk) == 0);
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

/* A consumption datagram signed by fuzz-a, as the wire_signed target
 * takes it. */
static void wire_signed(const char *name, const uint8_t *buf, size_t len)
{
	uint8_t in[FGW_MAX_SIZE];
	size_t body = len - FGW_HDR_SIZE - FGW_SIG_SIZE;

	FUZZ_ASSERT(len >= FGW_MIN_SIZE && buf[4] == FGW_TYPE_CONSUMPTION);
	FUZZ_ASSERT(memcmp(buf + 8, ids->keys[0].pk, FGW_PK_SIZE) == 0);
	memcpy(in, buf + 5, 3); /* flags, nrec */
	memcpy(in + 3, buf + FGW_HDR_SIZE, body);
	write_file("wire_signed", name, in, 3 + body);
}

static void both(const char *name, const uint8_t *buf, size_t len)
{
	wire(name, buf, len);
	wire_signed(name, buf, len);
}

/* A consumption datagram by hand: header, batch, @body, signature. */
static size_t raw(uint8_t *buf, int version, uint8_t flags, uint16_t nrec,
                  uint64_t from, uint64_t to, uint32_t part, const void *body,
                  size_t bodylen)
{
	size_t len = FGW_CONS_HDR + bodylen + FGW_SIG_SIZE;

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
	/* the same, from a future version */
	memcpy(buf, w.buf, len);
	buf[3] = 3;
	sign(buf, len, sk);
	wire("version-3", buf, len);
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
	     raw(buf, 2, FGW_F_LAST, 2, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 6, "api", "10.0.0.1");
	both("malformed-recent-above-count", buf,
	     raw(buf, 2, FGW_F_LAST, 1, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	both("malformed-from-above-to", buf,
	     raw(buf, 2, FGW_F_LAST, 1, 9, 8, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	body[0] = 0; /* a rule of no bytes */
	both("malformed-empty-rule", buf,
	     raw(buf, 2, FGW_F_LAST, 1, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	body[1] = 60; /* a key longer than what follows */
	both("malformed-overrun", buf,
	     raw(buf, 2, FGW_F_LAST, 1, 0, 1, 0, body, n));
	n = rec(body, 3, 8, 5, 5, "api", "10.0.0.1");
	both("unknown-flag", buf, raw(buf, 2, 0x80, 1, 0, 1, 0, body, n));
	/* Version 2's header, version 1's length: no batch fields. */
	len = FGW_HDR_SIZE + FGW_SIG_SIZE;
	raw(buf, 2, 0, 0, 0, 0, 0, NULL, 0);
	sign(buf, len, sk);
	both("truncated-batch", buf, len);
	/* A version 1 datagram (its heartbeat): a cluster is upgraded all
	 * at once. */
	buf[3] = 1;
	put(buf + 40, 1, 8);
	put(buf + 48, 1, 8);
	sign(buf, len, sk);
	wire("version-1", buf, len);
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
	membership();
	return 0;
}
