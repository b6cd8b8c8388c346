/* SPDX-License-Identifier: ISC */
/*
 * hash.h - where a key lives in the table.
 *
 * A seeded multiply-mix hash in the style of wyhash (Wang Yi's public
 * domain design): about 1 ns for a short key, against 12 ns for SipHash,
 * in a check budgeted at 40 ns.  It is not a cryptographic hash.  What an
 * attacker who picks keys could do with it is collide them, and three
 * things bound that: the 128-bit seed is random per segment and never
 * leaves it (the segment is not world-readable); every probe sequence is
 * bounded by FG_PROBE_MAX; and a key that finds no room is answered by its
 * rule's fail-open/closed policy.  Room is only ever made by evicting a
 * bucket that is full again (which decides as an absent one would), so
 * colliding keys cannot push a limited key out of the table.
 */
#ifndef FG_SHM_HASH_H
#define FG_SHM_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FG__P0 UINT64_C(0xa0761d6478bd642f)
#define FG__P1 UINT64_C(0xe7037ed1a0b428db)
#define FG__P2 UINT64_C(0x8ebc6af09c88c6e3)

static inline void fg__mum(uint64_t *a, uint64_t *b)
{
	unsigned __int128 r = (unsigned __int128)*a * *b;

	*a = (uint64_t)r;
	*b = (uint64_t)(r >> 64);
}

static inline uint64_t fg__mix(uint64_t a, uint64_t b)
{
	fg__mum(&a, &b);
	return a ^ b;
}

static inline uint64_t fg__rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t fg__rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Hash of (tag, bytes): tag separates rules, so equal keys under two rules
 * are unrelated. */
static inline uint64_t fg__hash64(const uint64_t seed[2], uint64_t tag,
                                  const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *)data;
	uint64_t s = seed[0] ^ fg__mix(seed[1] ^ FG__P0, tag ^ FG__P2);
	uint64_t a, b;

	if (len <= 16) {
		if (len >= 4) {
			size_t q = (len >> 3) << 2;

			a = (fg__rd32(p) << 32) | fg__rd32(p + q);
			b = (fg__rd32(p + len - 4) << 32) |
			    fg__rd32(p + len - 4 - q);
		} else if (len > 0) {
			a = ((uint64_t)p[0] << 16) |
			    ((uint64_t)p[len >> 1] << 8) | p[len - 1];
			b = 0;
		} else {
			a = b = 0;
		}
	} else {
		size_t i = len;

		while (i > 16) {
			s = fg__mix(fg__rd64(p) ^ FG__P1, fg__rd64(p + 8) ^ s);
			p += 16;
			i -= 16;
		}
		a = fg__rd64(p + i - 16);
		b = fg__rd64(p + i - 8);
	}
	a ^= FG__P1;
	b ^= s;
	fg__mum(&a, &b);
	return fg__mix(a ^ FG__P0 ^ len, b ^ FG__P1);
}

#endif
