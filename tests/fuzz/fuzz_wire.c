/*
 * fuzz_wire.c - a datagram off the network: fgw_open(), then fgw_next().
 *
 * The input is the datagram, exactly as recvfrom() would return it, and
 * the receiver trusts the two fixed keys of wire_common.h.  This target
 * covers everything a stranger can reach: the length bounds, the magic,
 * version, type and flags, the keyring lookup, and the signature check
 * (which the fuzzer cannot pass by itself: the seed corpus holds datagrams
 * signed by fuzz-a, and a mutation of one mostly lands on BADSIG).  The
 * record walk behind the signature is fuzz_wire_signed.c's job.
 *
 * Oracles: a drop reason fgw_open() can give (never STALE or REPLAY,
 * which are the replay window's), a dropped view that yields no record,
 * and for an opened datagram the record walk of fuzz_walk().  libFuzzer
 * hands over a heap block of exactly @size bytes, so any read past the
 * datagram is an ASan report.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/wire_common.h"

#define ORIGIN_OFF 8 /* wire.h */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_ids *ids = fuzz_ids();
	struct fgw_record r;
	struct fgw_view v;
	enum fgw_drop d;

	d = fgw_open(data, size, &ids->ring, &v);
	FUZZ_ASSERT((unsigned)d < FGW_NDROPS);
	FUZZ_ASSERT(d != FGW_STALE && d != FGW_REPLAY);
	FUZZ_ASSERT(strcmp(fgw_drop_name(d), "unknown") != 0);
	if (d != FGW_OK) {
		FUZZ_ASSERT(v.buf == NULL && v.origin == -1);
		FUZZ_ASSERT(fgw_next(&v, &r) == 0);
		return 0;
	}
	FUZZ_ASSERT(v.origin >= 0 && (size_t)v.origin < ids->ring.n);
	FUZZ_ASSERT(memcmp(data + ORIGIN_OFF, ids->ring.keys[v.origin].pk,
	                   FGW_PK_SIZE) == 0);
	(void)fuzz_walk(&v, data, size, NULL);
	/* A view walked to its end stays there. */
	FUZZ_ASSERT(fgw_next(&v, &r) == 0);
	return 0;
}
