/*
 * fuzz_wire_signed.c - the checks behind the signature, as a trusted but
 * buggy or compromised peer could feed them.
 *
 * Input: the header's flags and nrec (3 bytes, as at offsets 5-7 of
 * wire.h: flags, then nrec big-endian), then the body, the bytes between
 * the common header and the signature (a consumption datagram's batch
 * fields, then its records).  The target writes the rest of the header
 * with fgw_begin() (origin fuzz-a, fixed incarnation and seq), patches in
 * flags and nrec, appends the body, signs it all with fuzz-a's key, and
 * opens the result: every input passes the signature, so the fuzzer
 * spends its time in the batch and record checks and fgw_next() instead
 * of on BADSIG.  Inputs whose datagram would exceed FGW_MAX_SIZE are
 * skipped (fuzz_wire.c covers OVERSIZED).
 *
 * Oracles:
 *  - the verdict agrees with ref_verdict(), a plain restatement of the
 *    consumption layout of wire.h: BADVERSION for a flag that is not
 *    ours, TRUNCATED for a body too short for the batch fields, MALFORMED
 *    for from > to or a body that is not exactly nrec well-formed records
 *    with recent <= count, OK otherwise; the parser accepts exactly the
 *    well-formed datagrams, no more and no fewer;
 *  - an opened datagram walks as fuzz_walk() expects;
 *  - writing it again with fgw_begin/fgw_set_batch/fgw_add (each record
 *    with its floor)/fgw_finish gives back the same bytes, signature
 *    included (Ed25519 is deterministic): reader and writer agree on the
 *    format.
 *
 * Costs a signature and a verification per input (two signatures when
 * it opens): a few thousand inputs a second, the price of reaching this
 * code at all.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/wire_common.h"

#define INCARNATION UINT64_C(0x0123456789abcdef)
#define SEQ         UINT64_C(42)

/* wire.h: the header's flags and nrec, and the batch fields after it; the
 * input starts with flags and nrec. */
#define FLAGS_OFF  5
#define NREC_OFF   6
#define IN_HDR     3
#define BATCH_SIZE (FGW_CONS_HDR - FGW_HDR_SIZE)

/* What wire.h says of a consumption datagram from a trusted origin with
 * these flags, nrec and body. */
static enum fgw_drop ref_verdict(unsigned flags, unsigned nrec,
                                 const uint8_t *body, size_t len)
{
	unsigned n = 0;
	size_t pos = BATCH_SIZE;

	if ((flags & ~(unsigned)FUZZ_CONS_FLAGS) != 0)
		return FGW_BADVERSION;
	if (len < BATCH_SIZE)
		return FGW_TRUNCATED;
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

	if (size < IN_HDR || size - IN_HDR > FGW_MAX_SIZE - FGW_MIN_SIZE)
		return 0;
	nrec = (unsigned)data[1] << 8 | data[2];
	body = size - IN_HDR;
	len = FGW_HDR_SIZE + body + FGW_SIG_SIZE;

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
	FUZZ_ASSERT(crypto_sign_detached(dg + len - FGW_SIG_SIZE, NULL, dg,
	                                 len - FGW_SIG_SIZE, ids->sk[0]) == 0);

	d = fgw_open(dg, len, &ids->ring, &v);
	FUZZ_ASSERT(d == ref_verdict(data[0], nrec, data + IN_HDR, body));
	if (d == FGW_OK) {
		FUZZ_ASSERT(v.origin == 0 && v.nrec == nrec);
		FUZZ_ASSERT(v.incarnation == INCARNATION && v.seq == SEQ);
		fgw_begin(w, FGW_MAX_SIZE, pk, INCARNATION, SEQ);
		fgw_set_batch(w, v.from, v.to, v.part, v.flags);
		(void)fuzz_walk(&v, dg, len, w);
		FUZZ_ASSERT(fgw_finish(w, ids->sk[0]) == len);
		FUZZ_ASSERT(memcmp(w->buf, dg, len) == 0);
	}
	free(dg);
	free(w);
	return 0;
}
