/* SPDX-License-Identifier: ISC */
/*
 * replay.h - per-origin replay window over (incarnation, seq).
 *
 * Every signed datagram carries its origin's incarnation (changes when the
 * origin restarts) and a per-incarnation seq.  A receiver keeps one struct
 * fgw_replay per origin and asks fgw_replay_check() about each datagram
 * *after* fgw_open() returned FGW_OK: an unauthenticated datagram must
 * never move the window.
 *
 * The window is WireGuard's / RFC 6479's: the highest seq accepted (top)
 * and a bitmap of the FGW_REPLAY_WINDOW seqs at and below it, so UDP
 * reordering within the window is accepted once and only once.  Unlike
 * RFC 6479's ring of blocks, the bitmap here is a 128-bit shift register
 * (bit d is seq top - d), so the window is exactly 128 seqs, never fewer.
 *
 * The counts on the wire are cumulative and merged by max, so a replay
 * would change nothing anyway; the window spares the work of applying it
 * and makes one visible in the FGW_REPLAY counter.
 *
 * A zeroed struct is a valid "nothing seen yet" state (incarnation 0, no
 * seq seen).  Not thread-safe: one writer per origin (the receive loop).
 */
#ifndef FG_GOSSIP_REPLAY_H
#define FG_GOSSIP_REPLAY_H

#include <stdint.h>

#include "gossip/wire.h"

#define FGW_REPLAY_WINDOW 128

struct fgw_replay {
	uint64_t incarnation; /* highest seen */
	uint64_t top;         /* highest seq accepted in that incarnation */
	uint64_t bitmap[2];   /* bit d (of 128; [0] low) set: top - d seen */
};

/* Forget everything: same as zeroing it. */
void fgw_replay_init(struct fgw_replay *r);

/*
 * FGW_OK, and (incarnation, seq) is recorded; FGW_STALE if @incarnation is
 * below the one already seen (a higher one resets the window and is
 * accepted); FGW_REPLAY if @seq was seen or is FGW_REPLAY_WINDOW or more
 * below the highest seq seen.  A drop leaves @r unchanged.
 */
enum fgw_drop fgw_replay_check(struct fgw_replay *r, uint64_t incarnation,
                               uint64_t seq);

/*
 * What fgw_replay_check() would say of (@incarnation, @seq), without
 * recording anything: for a datagram not authenticated yet (node.c drops
 * copies of what it took before checking their signature).
 */
enum fgw_drop fgw_replay_peek(const struct fgw_replay *r, uint64_t incarnation,
                              uint64_t seq);

#endif
