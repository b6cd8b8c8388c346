/* SPDX-License-Identifier: ISC */
/*
 * fuzz_wire_signed.c - the checks behind the seal, as a trusted but buggy
 * or compromised peer could feed them.
 *
 * Input: the header's flags and nrec (3 bytes, as at offsets 5-7 of
 * wire.h: flags, then nrec big-endian), then the body, the bytes between
 * the common header and the seal (a consumption datagram's batch fields,
 * then its records).  The target writes the rest of the header with
 * fgw_begin() (origin fuzz-a, fixed incarnation and seq), patches in
 * flags and nrec, appends the body, seals it all as a group of one with
 * fuzz-a's key (fgw_seal_sign: index 0, depth 0, the signature of its
 * leaf), and opens the result: every input passes the seal, so the fuzzer
 * spends its time in the batch and record checks and fgw_next() instead
 * of on BADSIG.  Inputs whose datagram would exceed FGW_MAX_SIZE are
 * skipped (fuzz_wire.c covers OVERSIZED; it and its seeds cover the seals
 * of larger groups).
 *
 * The keyring (wire_common.h's `ring`) has no pairwise keys: FGW_F_MAC
 * makes fgw_open() check a MAC over all but the last 16 bytes instead of
 * the seal, and with no key to check it with that is BADSIG.
 * fuzz_wire_mac.c covers the MAC'd datagrams themselves.
 *
 * Oracles:
 *  - the verdict agrees with fuzz_ref_verdict() (wire_common.h), a plain
 *    restatement of the consumption layout of wire.h: BADVERSION for a
 *    flag that is not ours, then BADSIG for FGW_F_MAC (no pairwise keys),
 *    TRUNCATED for a body too short for the batch fields, MALFORMED for
 *    from > to or a body that is not exactly nrec well-formed records
 *    with recent <= count, OK otherwise; the parser accepts exactly the
 *    well-formed datagrams, no more and no fewer;
 *  - a dropped datagram leaves an empty view;
 *  - an opened datagram walks as fuzz_walk() expects, and its seal is
 *    what fuzz_ref_seal() computes;
 *  - writing it again with fgw_begin/fgw_set_batch/fgw_add (each record
 *    with its floor)/fgw_finish gives back the same bytes, seal included
 *    (Ed25519 is deterministic): reader and writer agree on the format.
 *    The writer keeps room for the largest seal (wire.h), so it never
 *    makes a datagram sealed alone longer than FGW_MAX_SIZE - 96: such a
 *    datagram, which the reader accepts all the same, is walked but not
 *    rewritten.
 *
 * Costs a signature and a verification per input (two signatures when
 * it opens): a few thousand inputs a second, the price of reaching this
 * code at all.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/wire_common.h"

#define INCARNATION UINT64_C(0x0123456789abcdef)
#define SEQ         UINT64_C(42)

/* wire.h: the header's flags and nrec; the input starts with them. */
#define FLAGS_OFF 5
#define NREC_OFF  6
#define IN_HDR    3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_ids *ids = fuzz_ids();
	const uint8_t *pk = ids->ring.keys[0].pk;
	struct fgw_writer *w = NULL;
	uint8_t *dg = NULL;
	size_t body, len;
	struct fgw_view v;
	enum fgw_drop d;
	unsigned nrec;

	if (size < IN_HDR ||
	    size - IN_HDR > FGW_MAX_SIZE - FGW_HDR_SIZE - FGW_SEAL_FIXED)
		return 0;
	nrec = (unsigned)data[1] << 8 | data[2];
	body = size - IN_HDR;
	len = FGW_HDR_SIZE + body + FGW_SEAL_FIXED;

	/* Exactly @len bytes on the heap: ASan sees a read past the end. */
	w = malloc(sizeof *w);
	dg = malloc(len);
	FUZZ_ASSERT(w != NULL && dg != NULL);
	fgw_begin(w, FGW_MAX_SIZE, pk, INCARNATION, SEQ);
	memcpy(dg, w->buf, FGW_HDR_SIZE);
	dg[FLAGS_OFF] = data[0];
	dg[NREC_OFF] = data[1];
	dg[NREC_OFF + 1] = data[2];
	memcpy(dg + FGW_HDR_SIZE, data + IN_HDR, body);
	{
		const uint8_t *b = dg;
		size_t blen = len - FGW_SEAL_FIXED;
		uint8_t *t = dg + blen;

		FUZZ_ASSERT(fgw_seal_sign(1, &b, &blen, &t, ids->sk[0]) ==
		            FGW_SEAL_FIXED);
	}

	/* The seal always verifies; a MAC never does (the keyring has no
	 * pairwise keys). */
	d = fgw_open(dg, len, &ids->ring, &v);
	FUZZ_ASSERT(d == fuzz_ref_verdict(data[0], nrec, data + IN_HDR, body,
	                                  FGW_SEAL_FIXED,
	                                  !(data[0] & FGW_F_MAC)));
	if (d != FGW_OK) {
		FUZZ_ASSERT(v.buf == NULL && v.origin == -1);
	} else {
		int writable =
		    len - FGW_SEAL_FIXED + FGW_SEAL_MAX <= FGW_MAX_SIZE;

		FUZZ_ASSERT(v.origin == 0 && v.nrec == nrec);
		FUZZ_ASSERT(v.incarnation == INCARNATION && v.seq == SEQ);
		FUZZ_ASSERT(fuzz_ref_seal(dg, len, pk));
		fgw_begin(w, FGW_MAX_SIZE, pk, INCARNATION, SEQ);
		fgw_set_batch(w, v.from, v.to, v.part, v.flags);
		(void)fuzz_walk(&v, dg, len, writable ? w : NULL);
		if (writable) {
			FUZZ_ASSERT(fgw_finish(w, ids->sk[0]) == len);
			FUZZ_ASSERT(memcmp(w->buf, dg, len) == 0);
		}
	}
	free(dg);
	free(w);
	return 0;
}
