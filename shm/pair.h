/* SPDX-License-Identifier: ISC */
/*
 * pair.h - one atomic step on two adjacent words.
 *
 * Two places in a segment move two words at once.  A bucket's (tat, word)
 * pair: admitting a request moves the theoretical arrival time and adds
 * to the slot's count in one cmpxchg16b (6.8 ns here, against 12 ns for a
 * CAS then an atomic add, in a check budgeted at 40 ns), and every change
 * of a slot's state is one too (shm/cuckoo.c).  A slot's cold part
 * (aux, tag): a denial counts in it and claims it for its key at once
 * (shm/table.c).  Both need a lock-free 16-byte
 * compare-and-swap: cmpxchg16b on x86-64 (-mcx16), casp or ldxp/stxp on
 * arm64.  Emulating it with a lock would break the promise that a worker
 * killed anywhere leaves nothing locked, so there is no fallback.
 *
 * The two halves are loaded separately and may tear; a torn snapshot just
 * fails the CAS, which returns the true current pair for the retry.
 */
#ifndef FG_SHM_PAIR_H
#define FG_SHM_PAIR_H

#include <stdint.h>

#include "shm/layout.h"

#if !defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
#error "floodgate needs a lock-free 16-byte compare-and-swap (x86-64: -mcx16)"
#endif

typedef unsigned __int128 fg_u128;

/*
 * If the 16 bytes at @p (16-aligned) hold (*@lo, *@hi), replace them by
 * (@nlo, @nhi): 1.  Otherwise 0, with *@lo and *@hi set to what is there.
 * A full barrier either way.
 */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
static inline int fg__dwcas(uint64_t *p, uint64_t *lo, uint64_t *hi,
                            uint64_t nlo, uint64_t nhi)
{
	uint64_t olo = *lo, ohi = *hi;
	unsigned char ok;

	/* By hand: the builtin's 128-bit result went through the stack on
	 * the path of every check. */
	__asm__ __volatile__("lock cmpxchg16b %1\n\tsete %0"
	                     : "=q"(ok), "+m"(*(fg_u128 *)(void *)p), "+a"(olo),
	                       "+d"(ohi)
	                     : "b"(nlo), "c"(nhi)
	                     : "memory", "cc");
	if (!ok) {
		*lo = olo;
		*hi = ohi;
	}
	return ok;
}
#else /* the builtin: other CPUs, and what ThreadSanitizer understands */
static inline int fg__dwcas(uint64_t *p, uint64_t *lo, uint64_t *hi,
                            uint64_t nlo, uint64_t nhi)
{
	fg_u128 old = ((fg_u128)*hi << 64) | *lo;
	fg_u128 nw = ((fg_u128)nhi << 64) | nlo;
	fg_u128 cur =
	    __sync_val_compare_and_swap((fg_u128 *)(void *)p, old, nw);

	if (cur == old)
		return 1;
	*lo = (uint64_t)cur;
	*hi = (uint64_t)(cur >> 64);
	return 0;
}
#endif

static inline uint64_t fg__load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

struct fg_pair {
	uint64_t tat;
	uint64_t word;
};

static inline void fg__pair_load(struct fg_slot *s, struct fg_pair *p)
{
	p->tat = fg__load(&s->tat);
	p->word = fg__load(&s->word);
}

/*
 * Set tat to @tat and add @cost to the word's count (modulo 2^42, clearing
 * its clean bit when @cost is not 0) if the pair still holds *p, a live
 * bucket's (READY: a pair frozen by a move must not change, shm/cuckoo.c).
 * Return: 1 on success; 0 with *p reloaded with the current pair.
 */
static inline int fg__pair_advance(struct fg_slot *s, struct fg_pair *p,
                                   uint64_t tat, uint64_t cost)
{
	/* The count wraps at 2^42 within its field (the harvest takes
	 * differences modulo 2^42); cost is below 2^32. */
	uint64_t w = cost ? (p->word & ~(FG_W_COUNT_MASK | FG_W_CLEAN)) |
	                        ((p->word + cost) & FG_W_COUNT_MASK)
	                  : p->word;

	if (__builtin_expect(FG_W_STATE(p->word) != FG_SLOT_READY, 0)) {
		fg__pair_load(s, p);
		return 0;
	}
	return fg__dwcas(&s->tat, &p->tat, &p->word, tat, w);
}

#endif
