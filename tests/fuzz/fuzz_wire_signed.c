/*
 * fuzz_wire_signed.c - the record walk behind the signature, as a trusted
 * but buggy or compromised peer could feed it.
 *
 * Input: nrec (2 bytes, big-endian), then the body, the bytes between
 * the header and the signature.  The target writes the header with
 * fgw_begin() (origin fuzz-a, fixed incarnation and seq), patches in
 * nrec, appends the body, signs it all with fuzz-a's key, and opens the
 * result: every input passes the signature, so the fuzzer spends its time
 * in check_records() and fgw_next() instead of on BADSIG.  Inputs whose
 * datagram would exceed FGW_MAX_SIZE are skipped (fuzz_wire.c covers
 * OVERSIZED).
 *
 * Oracles:
 *  - the verdict is OK or MALFORMED, nothing else (the header is ours),
 *    and it agrees with ref_wellformed(), a plain restatement of the
 *    record layout of wire.h: the parser accepts exactly the well-formed
 *    bodies, no more and no fewer;
 *  - an opened datagram walks as fuzz_walk() expects;
 *  - writing its records again with fgw_begin/fgw_add/fgw_finish gives
 *    back the same bytes, signature included (Ed25519 is deterministic):
 *    reader and writer agree on the format.
 *
 * Costs a signature and a verification per input (two signatures when
 * it opens): a few thousand inputs a second, the price of reaching this
 * code at all.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/wire_common.h"

#define INCARNATION UINT64_C(0x0123456789abcdef)
#define SEQ         UINT64_C(42)
#define NREC_OFF    6 /* wire.h */

/* 1 if @body is exactly @nrec records of wire.h's layout. */
static int ref_wellformed(const uint8_t *body, size_t len, unsigned nrec)
{
	unsigned n = 0;
	size_t pos = 0;

	while (pos < len) {
		size_t rule_len, key_len;

		if (len - pos < FGW_REC_FIXED)
			return 0;
		rule_len = body[pos];
		key_len = body[pos + 1];
		if (rule_len < 1 || rule_len > FGW_RULE_MAX)
			return 0;
		if (key_len < 1 || key_len > FGW_KEY_MAX)
			return 0;
		pos += FGW_REC_FIXED;
		if (len - pos < rule_len + key_len)
			return 0;
		pos += rule_len + key_len;
		n++;
	}
	return n == nrec;
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
	int ok;

	if (size < 2 || size - 2 > FGW_MAX_SIZE - FGW_MIN_SIZE)
		return 0;
	nrec = (unsigned)data[0] << 8 | data[1];
	body = size - 2;
	len = FGW_HDR_SIZE + body + FGW_SIG_SIZE;

	/* Exactly @len bytes on the heap: ASan sees a read past the end. */
	w = malloc(sizeof *w);
	dg = malloc(len);
	FUZZ_ASSERT(w != NULL && dg != NULL);
	fgw_begin(w, FGW_MAX_SIZE, pk, INCARNATION, SEQ);
	memcpy(dg, w->buf, FGW_HDR_SIZE);
	dg[NREC_OFF] = data[0];
	dg[NREC_OFF + 1] = data[1];
	memcpy(dg + FGW_HDR_SIZE, data + 2, body);
	FUZZ_ASSERT(crypto_sign_detached(dg + len - FGW_SIG_SIZE, NULL, dg,
	                                 len - FGW_SIG_SIZE, ids->sk[0]) == 0);

	d = fgw_open(dg, len, &ids->ring, &v);
	ok = ref_wellformed(data + 2, body, nrec);
	FUZZ_ASSERT(d == FGW_OK || d == FGW_MALFORMED);
	FUZZ_ASSERT((d == FGW_OK) == ok);
	if (d == FGW_OK) {
		FUZZ_ASSERT(v.origin == 0 && v.nrec == nrec);
		FUZZ_ASSERT(v.incarnation == INCARNATION && v.seq == SEQ);
		fgw_begin(w, FGW_MAX_SIZE, pk, INCARNATION, SEQ);
		(void)fuzz_walk(&v, dg, len, w);
		FUZZ_ASSERT(fgw_finish(w, ids->sk[0]) == len);
		FUZZ_ASSERT(memcmp(w->buf, dg, len) == 0);
	}
	free(dg);
	free(w);
	return 0;
}
