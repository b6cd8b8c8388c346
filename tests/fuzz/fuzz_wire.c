/* SPDX-License-Identifier: ISC */
/*
 * fuzz_wire.c - a datagram off the network: fgw_open(), then fgw_next().
 *
 * The input is the datagram, exactly as recvfrom() would return it, and
 * the receiver is fuzz-b: it trusts the two fixed keys of wire_common.h
 * and holds its pairwise keys (`ring_b`), so a datagram MAC'd by fuzz-a
 * for fuzz-b opens.  This target covers everything a stranger can reach:
 * the length bounds, the magic, version, type and flags, the keyring
 * lookup, and the seal, signature or MAC check (which the fuzzer cannot
 * pass by itself: the seed corpus holds datagrams sealed by fuzz-a, alone
 * and in groups of up to 64, membership datagrams signed by fuzz-a, and
 * datagrams MAC'd by fuzz-a for fuzz-b, and a mutation of one mostly lands
 * on BADSIG).  The record walk behind the seal is fuzz_wire_signed.c's
 * job, behind the MAC fuzz_wire_mac.c's.
 *
 * Oracles: a drop reason fgw_open() can give (never STALE or REPLAY,
 * which are the replay window's), a dropped view that yields no record,
 * and for an opened datagram the record walk of fuzz_walk(); an opened
 * sealed datagram folds to a root fuzz-a signed, by fuzz_ref_seal(),
 * which restates seal.h without seal.c.  An opened
 * MAC'd datagram comes from fuzz-a (fuzz-b has no key for itself) and
 * ends with the MAC of the rest under the key fuzz-a derives toward
 * fuzz-b (recomputed here).  The pairwise keys matter only there: the
 * same MAC'd datagram given to a fuzz-b without them (pw NULL) gets the
 * same verdict, except that one that passed the MAC check is BADSIG.
 * libFuzzer hands over a heap block of exactly @size bytes, so any read
 * past the datagram is an ASan report.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/wire_common.h"

/* wire.h */
#define TYPE_OFF   4
#define FLAGS_OFF  5
#define ORIGIN_OFF 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_ids *ids = fuzz_ids();
	struct fgw_record r;
	struct fgw_view v;
	enum fgw_drop d, bare;
	int mac;

	mac = size > FLAGS_OFF && data[TYPE_OFF] == FGW_TYPE_CONSUMPTION &&
	      (data[FLAGS_OFF] & FGW_F_MAC);
	d = fgw_open(data, size, &ids->ring_b, &v);
	FUZZ_ASSERT((unsigned)d < FGW_NDROPS);
	FUZZ_ASSERT(d != FGW_STALE && d != FGW_REPLAY);
	FUZZ_ASSERT(strcmp(fgw_drop_name(d), "unknown") != 0);
	if (mac) {
		struct fgw_view v2;

		/* Without pairwise keys, only the MAC check changes. */
		bare = fgw_open(data, size, &ids->ring, &v2);
		FUZZ_ASSERT(
		    bare ==
		    ((d == FGW_OK || d == FGW_MALFORMED) ? FGW_BADSIG : d));
		FUZZ_ASSERT(v2.buf == NULL);
	}
	if (d != FGW_OK) {
		FUZZ_ASSERT(v.buf == NULL && v.origin == -1);
		FUZZ_ASSERT(fgw_next(&v, &r) == 0);
		return 0;
	}
	FUZZ_ASSERT(v.origin >= 0 && (size_t)v.origin < ids->ring_b.n);
	FUZZ_ASSERT(memcmp(data + ORIGIN_OFF, ids->ring_b.keys[v.origin].pk,
	                   FGW_PK_SIZE) == 0);
	if (mac) {
		uint8_t tag[FGW_MAC_SIZE];

		FUZZ_ASSERT(v.origin == FUZZ_A && v.end == size - FGW_MAC_SIZE);
		FUZZ_ASSERT(crypto_generichash(tag, sizeof tag, data, v.end,
		                               ids->mac_ab,
		                               FGW_MAC_KEY_SIZE) == 0);
		FUZZ_ASSERT(memcmp(tag, data + v.end, FGW_MAC_SIZE) == 0);
	}
	/* A sealed datagram that opened: its seal is what seal.h defines,
	 * computed here without seal.c. */
	if (v.type == FGW_TYPE_CONSUMPTION && !mac)
		FUZZ_ASSERT(
		    fuzz_ref_seal(data, size, ids->ring_b.keys[v.origin].pk));
	(void)fuzz_walk(&v, data, size, NULL);
	/* A view walked to its end stays there. */
	FUZZ_ASSERT(fgw_next(&v, &r) == 0);
	return 0;
}
