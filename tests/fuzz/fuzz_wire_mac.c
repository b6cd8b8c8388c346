/* SPDX-License-Identifier: ISC */
/*
 * fuzz_wire_mac.c - MAC'd datagrams (FGW_F_MAC, wire.h): which key opens
 * one where, and the checks behind the MAC.
 *
 * Three members, fuzz-a, fuzz-b and fuzz-c (wire_common.h), share one
 * keyring, and each holds it with its own pairwise keys
 * (fgw_pairwise_new), as three daemons would.  fuzz-a is the origin of
 * every datagram; fuzz-b is the receiver.
 *
 * Input: a selector byte, then what fuzz_wire_signed.c takes: flags and
 * nrec (3 bytes, as at offsets 5-7 of wire.h), then the body, the bytes
 * between the common header and the MAC (batch fields, then records).
 * The selector, modulo 6, picks the MAC key and fuzz-b's keyring:
 *
 *   0  a -> b: the key fuzz-a derives for what it sends fuzz-b (right)
 *   1  c -> b: fuzz-c's key toward fuzz-b (another member's)
 *   2  a -> c: fuzz-a's key toward fuzz-c (meant for another member)
 *   3  b -> a: the pair's other direction (fuzz-a's rx key from fuzz-b
 *      used as its tx key: the two directions swapped)
 *   4  32 zero bytes
 *   5  a -> b, but fuzz-b's keyring has no pairwise keys (pw NULL)
 *
 * The target writes the common header with fgw_begin() (origin fuzz-a,
 * fixed incarnation and seq), patches in flags | FGW_F_MAC and nrec,
 * appends the body, then the MAC of it all computed here (keyed BLAKE2b
 * with crypto_generichash, 16 bytes out, under the 32-byte key: wire.h's
 * definition, not fgw_seal_mac), in a heap block of exactly the
 * datagram's size, and opens it at fuzz-b.  Inputs whose datagram would
 * exceed FGW_MAX_SIZE are skipped (fuzz_wire.c covers OVERSIZED).
 *
 * Oracles:
 *  - at fuzz-b, the verdict is fuzz_ref_verdict() for a 16-byte trailer:
 *    with the right key, what fuzz_wire_signed.c holds a signed datagram
 *    to (TRUNCATED below FGW_MAC_MIN, i.e. a body shorter than the batch
 *    fields; BADVERSION for a flag that is not ours; MALFORMED for
 *    from > to or anything but nrec well-formed records; else OK); with
 *    any other key, or without pairwise keys, BADSIG unless TRUNCATED or
 *    BADVERSION comes first;
 *  - the same bytes at fuzz-c open exactly when the key is a -> c, and
 *    at fuzz-a never (it has no key for itself: a datagram reflected to
 *    its origin): a MAC is good for its one receiver only;
 *  - the keys themselves, once: each end derives the same key for a
 *    direction, and the five keys of the selector differ;
 *  - a dropped datagram leaves an empty view that yields no record;
 *  - an opened datagram: origin fuzz-a, the header's fields, and the walk
 *    of fuzz_walk(): nrec records ending at v->end == len - 16;
 *  - writing it again with fgw_begin/fgw_set_batch (its flags without
 *    FGW_F_MAC)/fgw_add (each record with its floor)/fgw_seal_mac under
 *    the key it was made with gives back the same bytes, MAC included.
 *    The writer keeps room for the largest seal (wire.h), so it never
 *    makes a MAC'd datagram longer than FGW_MAX_SIZE - 146: such a
 *    datagram, which the reader accepts all the same, is walked but not
 *    rewritten.
 *
 * Costs at most three keyed BLAKE2b per input (the MAC, and its check at
 * fuzz-b and fuzz-c; fuzz-a has no key to check it with), four when it
 * opens, and no signature: far faster than fuzz_wire_signed.c.
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/wire_common.h"

#define INCARNATION UINT64_C(0x0123456789abcdef)
#define SEQ         UINT64_C(42)

/* wire.h: the header's flags and nrec; the input starts with a selector,
 * then them. */
#define FLAGS_OFF 5
#define NREC_OFF  6
#define IN_HDR    4

enum sel { S_AB, S_CB, S_AC, S_BA, S_ZERO, S_NOPW, NSEL };

struct mac_ids {
	const struct fuzz_ids *ids;
	struct fgw_keyring ring[3]; /* as fuzz-a, fuzz-b, fuzz-c hold it */
	struct fgw_keyring bare;    /* fuzz-b's, without pairwise keys */
	uint8_t key[NSEL][FGW_MAC_KEY_SIZE];
};

static void key_of(uint8_t out[FGW_MAC_KEY_SIZE], const uint8_t *k)
{
	FUZZ_ASSERT(k != NULL);
	memcpy(out, k, FGW_MAC_KEY_SIZE);
}

/* Made on first use and never freed: the same for every input. */
static const struct mac_ids *mac_ids(void)
{
	static struct mac_ids m;
	static int ready;
	const struct fgw_pairwise *pw[3];
	int i, j;

	if (ready)
		return &m;
	m.ids = fuzz_ids();
	for (i = 0; i < 3; i++) {
		m.ring[i] =
		    (struct fgw_keyring){.n = 3, .keys = m.ids->ring.keys};
		m.ring[i].pw = pw[i] =
		    fuzz_pairwise(&m.ring[i], m.ids->sk[i], m.ids->keys[i].pk);
	}
	m.bare = m.ring[FUZZ_B];
	m.bare.pw = NULL;
	key_of(m.key[S_AB], fgw_pairwise_tx(pw[FUZZ_A], FUZZ_B));
	key_of(m.key[S_CB], fgw_pairwise_tx(pw[FUZZ_C], FUZZ_B));
	key_of(m.key[S_AC], fgw_pairwise_tx(pw[FUZZ_A], FUZZ_C));
	key_of(m.key[S_BA], fgw_pairwise_rx(pw[FUZZ_A], FUZZ_B));
	memset(m.key[S_ZERO], 0, FGW_MAC_KEY_SIZE);
	memcpy(m.key[S_NOPW], m.key[S_AB], FGW_MAC_KEY_SIZE);
	/* Both ends of a direction agree, nobody has a key for itself, the
	 * two-member keys of fuzz_ids() are these, and the five keys the
	 * selector picks from differ. */
	for (i = 0; i < 3; i++) {
		FUZZ_ASSERT(fgw_pairwise_tx(pw[i], i) == NULL);
		FUZZ_ASSERT(fgw_pairwise_rx(pw[i], i) == NULL);
		for (j = 0; j < 3; j++)
			if (i != j)
				FUZZ_ASSERT(memcmp(fgw_pairwise_tx(pw[i], j),
				                   fgw_pairwise_rx(pw[j], i),
				                   FGW_MAC_KEY_SIZE) == 0);
	}
	FUZZ_ASSERT(memcmp(m.key[S_AB], m.ids->mac_ab, FGW_MAC_KEY_SIZE) == 0);
	for (i = 0; i < S_NOPW; i++)
		for (j = i + 1; j < S_NOPW; j++)
			FUZZ_ASSERT(
			    memcmp(m.key[i], m.key[j], FGW_MAC_KEY_SIZE) != 0);
	ready = 1;
	return &m;
}

/* Whether @ring checks a MAC from fuzz-a with @key. */
static int accepts(const struct fgw_keyring *ring, const uint8_t *key)
{
	const uint8_t *rx = fgw_pairwise_rx(ring->pw, FUZZ_A);

	return rx != NULL && memcmp(rx, key, FGW_MAC_KEY_SIZE) == 0;
}

/* @dg, opened as @v, made with @key: check it, then write it again. */
static void opened(struct fgw_view *v, const uint8_t *dg, size_t len,
                   unsigned flags, unsigned nrec, const uint8_t *key)
{
	const uint8_t *a = mac_ids()->ids->keys[FUZZ_A].pk;
	struct fgw_writer *w = malloc(sizeof *w);
	uint8_t *out = malloc(FGW_MAX_SIZE);
	struct fgw_record r;
	int writable;

	FUZZ_ASSERT(w != NULL && out != NULL);
	FUZZ_ASSERT(v->origin == FUZZ_A && v->type == FGW_TYPE_CONSUMPTION);
	FUZZ_ASSERT(v->flags == flags && (v->flags & FGW_F_MAC));
	FUZZ_ASSERT(v->nrec == nrec);
	FUZZ_ASSERT(v->incarnation == INCARNATION && v->seq == SEQ);
	FUZZ_ASSERT(v->end == len - FGW_MAC_SIZE);
	/* What the writer makes keeps room for the largest seal. */
	writable = len - FGW_MAC_SIZE + FGW_SEAL_MAX <= FGW_MAX_SIZE;
	fgw_begin(w, FGW_MAX_SIZE, a, INCARNATION, SEQ);
	fgw_set_batch(w, v->from, v->to, v->part, v->flags & ~FGW_F_MAC);
	FUZZ_ASSERT(fuzz_walk(v, dg, len, writable ? w : NULL) == nrec);
	FUZZ_ASSERT(fgw_next(v, &r) == 0);
	if (writable) {
		FUZZ_ASSERT(fgw_seal_mac(w, key, out) == len);
		FUZZ_ASSERT(memcmp(out, dg, len) == 0);
	}
	free(out);
	free(w);
}

/* Open @dg at @ring, expecting what wire.h says with @proof. */
static void open_at(const struct fgw_keyring *ring, const uint8_t *dg,
                    size_t len, const uint8_t *in, size_t body,
                    const uint8_t *key, int proof)
{
	unsigned flags = dg[FLAGS_OFF];
	unsigned nrec = (unsigned)in[2] << 8 | in[3];
	struct fgw_record r;
	struct fgw_view v;
	enum fgw_drop d;

	d = fgw_open(dg, len, ring, &v);
	FUZZ_ASSERT(d == fuzz_ref_verdict(flags, nrec, in + IN_HDR, body,
	                                  FGW_MAC_SIZE, proof));
	if (d != FGW_OK) {
		FUZZ_ASSERT(v.buf == NULL && v.origin == -1);
		FUZZ_ASSERT(fgw_next(&v, &r) == 0);
		return;
	}
	opened(&v, dg, len, flags, nrec, key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mac_ids *m = mac_ids();
	const uint8_t *key;
	struct fgw_writer *w;
	size_t body, len;
	uint8_t *dg;
	enum sel sel;

	if (size < IN_HDR ||
	    size - IN_HDR > FGW_MAX_SIZE - FGW_HDR_SIZE - FGW_MAC_SIZE)
		return 0;
	sel = (enum sel)(data[0] % NSEL);
	key = m->key[sel];
	body = size - IN_HDR;
	len = FGW_HDR_SIZE + body + FGW_MAC_SIZE;

	/* Exactly @len bytes on the heap: ASan sees a read past the end. */
	w = malloc(sizeof *w);
	dg = malloc(len);
	FUZZ_ASSERT(w != NULL && dg != NULL);
	fgw_begin(w, FGW_MAX_SIZE, m->ids->keys[FUZZ_A].pk, INCARNATION, SEQ);
	memcpy(dg, w->buf, FGW_HDR_SIZE);
	free(w);
	dg[FLAGS_OFF] = data[1] | FGW_F_MAC;
	dg[NREC_OFF] = data[2];
	dg[NREC_OFF + 1] = data[3];
	memcpy(dg + FGW_HDR_SIZE, data + IN_HDR, body);
	FUZZ_ASSERT(crypto_generichash(dg + len - FGW_MAC_SIZE, FGW_MAC_SIZE,
	                               dg, len - FGW_MAC_SIZE, key,
	                               FGW_MAC_KEY_SIZE) == 0);

	/* At fuzz-b: only the right key, with pairwise keys, opens. */
	if (sel == S_NOPW)
		open_at(&m->bare, dg, len, data, body, key, 0);
	else
		open_at(&m->ring[FUZZ_B], dg, len, data, body, key,
		        sel == S_AB);
	FUZZ_ASSERT(accepts(&m->ring[FUZZ_B], key) ==
	            (sel == S_AB || sel == S_NOPW));
	/* Elsewhere: at fuzz-c with the key a -> c only, never at fuzz-a. */
	open_at(&m->ring[FUZZ_C], dg, len, data, body, key, sel == S_AC);
	FUZZ_ASSERT(accepts(&m->ring[FUZZ_C], key) == (sel == S_AC));
	open_at(&m->ring[FUZZ_A], dg, len, data, body, key, 0);
	free(dg);
	return 0;
}
