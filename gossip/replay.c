/* SPDX-License-Identifier: ISC */
/*
 * replay.c - the per-origin sliding window of replay.h.
 *
 * State: the incarnation, the highest seq accepted in it (top), and a
 * 128-bit register where bit d means "top - d was accepted".  A new seq
 * above top shifts the register left by the distance (everything falls
 * out when it is 128 or more) and sets bit 0; a seq at or below top is
 * accepted iff it lies within the register and its bit is clear.  Every
 * operation is a constant number of word operations: no loop, no
 * division, nothing a peer's seq can make expensive.
 *
 * Zero state is "nothing seen": top = 0 with an empty register, so seq 0
 * (and anything above it) is accepted on first sight.
 */
#include "gossip/replay.h"

#include <string.h>

_Static_assert(FGW_REPLAY_WINDOW == 2 * 64, "two 64-bit words");

void fgw_replay_init(struct fgw_replay *r)
{
	memset(r, 0, sizeof *r);
}

/* The register is bitmap[1]:bitmap[0], bit 0 of bitmap[0] being top. */
static void shift_left(uint64_t b[2], uint64_t d)
{
	if (d >= 128) {
		b[0] = 0;
		b[1] = 0;
	} else if (d >= 64) {
		b[1] = b[0] << (d - 64);
		b[0] = 0;
	} else if (d > 0) {
		b[1] = b[1] << d | b[0] >> (64 - d);
		b[0] <<= d;
	}
}

static int test_bit(const uint64_t b[2], uint64_t d)
{
	return (int)(b[d / 64] >> (d % 64) & 1);
}

enum fgw_drop fgw_replay_check(struct fgw_replay *r, uint64_t incarnation,
                               uint64_t seq)
{
	enum fgw_drop ret;
	uint64_t d;

	if (incarnation < r->incarnation) {
		ret = FGW_STALE;
		goto out;
	}
	if (incarnation > r->incarnation) {
		/* The origin restarted: its seqs start over. */
		r->incarnation = incarnation;
		r->top = seq;
		r->bitmap[0] = 1;
		r->bitmap[1] = 0;
		ret = FGW_OK;
		goto out;
	}
	if (seq > r->top) {
		shift_left(r->bitmap, seq - r->top);
		r->bitmap[0] |= 1;
		r->top = seq;
		ret = FGW_OK;
		goto out;
	}
	d = r->top - seq;
	if (d >= FGW_REPLAY_WINDOW || test_bit(r->bitmap, d)) {
		ret = FGW_REPLAY;
		goto out;
	}
	r->bitmap[d / 64] |= UINT64_C(1) << (d % 64);
	ret = FGW_OK;
out:
	return ret;
}

enum fgw_drop fgw_replay_peek(const struct fgw_replay *r, uint64_t incarnation,
                              uint64_t seq)
{
	uint64_t d;

	if (incarnation != r->incarnation)
		return incarnation < r->incarnation ? FGW_STALE : FGW_OK;
	if (seq > r->top)
		return FGW_OK;
	d = r->top - seq;
	return d >= FGW_REPLAY_WINDOW || test_bit(r->bitmap, d) ? FGW_REPLAY
	                                                        : FGW_OK;
}
