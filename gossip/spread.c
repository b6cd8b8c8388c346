/* SPDX-License-Identifier: ISC */
/*
 * spread.c - see spread.h.
 *
 * Positions.  With n keyring entries, m = n - 1 members but the origin
 * stand in the ring; the member k places after the origin in public key
 * order sits at ring offset k (0 .. m - 1), and at position
 * ((k - r) mod m) + 1 of a tree of rotation r; the origin is position 0 of
 * both.  Everything is arithmetic on ranks: no tree is ever built, and a
 * node finds its own children in O(fanout) steps (more when it passes over
 * unreachable ones, at most FGD_SPREAD_VISIT).
 */
#include "gossip/spread.h"

#include <stdlib.h>
#include <string.h>

struct by_key {
	uint8_t pk[FGW_PK_SIZE];
	uint32_t i;
};

static int by_key_cmp(const void *a, const void *b)
{
	const struct by_key *x = a, *y = b;
	int c = memcmp(x->pk, y->pk, FGW_PK_SIZE);

	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

int fgd_spread_init(struct fgd_spread *s, const struct fgw_keyring *kr)
{
	struct by_key *v = NULL;
	size_t i, n = kr->n;

	memset(s, 0, sizeof *s);
	s->rank = calloc(n ? n : 1, sizeof *s->rank);
	s->at_rank = calloc(n ? n : 1, sizeof *s->at_rank);
	v = calloc(n ? n : 1, sizeof *v);
	if (s->rank == NULL || s->at_rank == NULL || v == NULL) {
		free(v);
		fgd_spread_fini(s);
		return -1;
	}
	for (i = 0; i < n; i++) {
		memcpy(v[i].pk, kr->keys[i].pk, FGW_PK_SIZE);
		v[i].i = (uint32_t)i;
	}
	qsort(v, n, sizeof *v, by_key_cmp);
	for (i = 0; i < n; i++) {
		s->at_rank[i] = v[i].i;
		s->rank[v[i].i] = (uint32_t)i;
	}
	s->n = n;
	free(v);
	return 0;
}

void fgd_spread_fini(struct fgd_spread *s)
{
	free(s->rank);
	free(s->at_rank);
	memset(s, 0, sizeof *s);
}

/* SplitMix64's finaliser: a batch's seq into a rotation. */
static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* One tree: its ring (origin's rank, m members), rotation and arity. */
struct tree {
	const struct fgd_spread *s;
	uint64_t orank, m, rot, fanout;
};

static int at_pos(const struct tree *t, uint64_t p)
{
	uint64_t k = (p - 1 + t->rot) % t->m;

	return (int)t->s->at_rank[(t->orank + 1 + k) % t->s->n];
}

static uint64_t pos_of(const struct tree *t, int member)
{
	uint64_t n = t->s->n, k = (t->s->rank[member] + n - t->orank - 1) % n;

	return (k + t->m - t->rot) % t->m + 1;
}

static void add_unique(int *out, size_t *k, int member)
{
	size_t i;

	for (i = 0; i < *k; i++)
		if (out[i] == member)
			return;
	out[(*k)++] = member;
}

/* The reachable children of position @p in @t, breadth first, passing
 * over the unreachable ones; into @out (up to @max in all).  Returns how
 * many were passed over. */
static size_t walk(const struct tree *t, uint64_t p, fgd_reach_fn *reach,
                   void *arg, int *out, size_t *k, size_t max)
{
	uint64_t queue[FGD_SPREAD_VISIT], c, last;
	size_t head = 0, tail = 0, seen = 0, passed = 0;
	int r;

	queue[tail++] = p;
	while (head < tail && *k < max) {
		p = queue[head++];
		last = p * t->fanout + t->fanout;
		for (c = p * t->fanout + 1; c <= last && c <= t->m; c++) {
			int member = at_pos(t, c);

			if (seen == FGD_SPREAD_VISIT || *k >= max)
				return passed;
			seen++;
			r = reach(arg, member);
			if (r > 0) {
				add_unique(out, k, member);
			} else if (r == 0) {
				passed++;
				if (tail < FGD_SPREAD_VISIT)
					queue[tail++] = c;
			}
		}
	}
	return passed;
}

size_t fgd_spread_children(const struct fgd_spread *s, int origin,
                           uint64_t base, int self, unsigned fanout,
                           fgd_reach_fn *reach, void *arg, int *out, size_t max,
                           size_t *passed)
{
	struct tree t = {.s = s, .fanout = fanout > 64 ? 64 : fanout};
	size_t k = 0, gone = 0;
	uint64_t rot;
	int i;

	if (passed != NULL)
		*passed = 0;
	if (s->n < 2 || origin < 0 || (size_t)origin >= s->n || self < 0 ||
	    (size_t)self >= s->n || fanout == 0)
		return 0;
	t.orank = s->rank[origin];
	t.m = s->n - 1;
	rot = mix(base ^ t.orank << 48) % t.m;
	for (i = 0; i < 2; i++) {
		t.rot = (rot + (uint64_t)i * (t.m / 2)) % t.m;
		gone += walk(&t, self == origin ? 0 : pos_of(&t, self), reach,
		             arg, out, &k, max);
	}
	if (passed != NULL)
		*passed = gone;
	return k;
}
