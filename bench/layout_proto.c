/* SPDX-License-Identifier: ISC */
/*
 * layout_proto.c - candidate layouts for the 99th-percentile key (issue
 * 14), measured before anyone rewrites shm/table.c.
 *
 * Today (layout 7) 44% of the keys at capacity are outside the slot whose
 * address comes from the hash alone: their slot's address comes from the
 * tags, a load that the slot's load waits for (+4 ns in L1, a second miss
 * cold).  The candidates here give every key two candidate lines known
 * from its hash (2-choice bucketized cuckoo), load both at once and
 * compare the key in place:
 *   A  buckets of one 64-byte line, 2 slots of 32 bytes, load 0.5;
 *   B  buckets of a 128-byte aligned pair of lines, 4 slots, 0.875, 0.8;
 *   C  buckets of one line, 2 slots, load 0.875, with a stash of 16 slots
 *      looked at only when both lines miss.
 * A slot is struct fg_slot: tat | word | key[16]; (tat, word) is one
 * cmpxchg16b pair.  Today's table is built in the same process with the
 * real shm/table.c (fg__table_find_ref() inserts, check_h()'s path checks),
 * so each figure is next to today's, with the same clock, hash and GCRA
 * step, and the limits of table_bench.c measured in turns with them.
 *
 * The design these would keep today's guarantees with (for the session
 * that implements it):
 * - State in the pair.  word = rule:8 | keylen:7 | clean:1 | state:3 |
 *   dest:2 | count:43 (count wraps in 2.4 h at a token a ns; the harvest
 *   takes differences mod 2^43).  States FREE, CLAIMED, READY, MOVING
 *   (frozen: dest names the slot it goes to in its other bucket), COPY, DEAD,
 *   EXT.  No group word, no tombstones, no open/closed groups and no reopen:
 *   a key is only ever in its two buckets (or the stash), so a lookup always
 *   reads both and nothing else decides where it stops.
 * - Insert: claim = one cmpxchg16b of a FREE slot's pair to (TOKEN | time
 *   << 16 | fp16, CLAIMED | rule | len | count): the token is in the claim
 *   itself (today's window of a claim without a token is gone).  Write the
 *   key, then look at both buckets and the stash again: the key READY,
 *   MOVING or COPY there, or a matching claim earlier in the order (bucket
 *   1's slots, bucket 2's, the stash): yield; a matching claim later: wait,
 *   then abandon it when stale (today's proof 3, over 2W + 16 slots).
 *   Publish = cmpxchg16b (token, CLAIMED ..) -> (0, READY ..): a claim
 *   marked DEAD (stale, killed claimer) never publishes; the reap frees
 *   DEAD slots after the grace period.  SIGKILL anywhere leaves a claim
 *   that ages, a COPY that ages (below) or a frozen move anyone finishes.
 * - Move of key K from slot S (bucket X) to a FREE slot D of its other
 *   bucket Y, the path's last edge first (so each move fills a hole):
 *   (1) take K's stripe (a word of 4096, by K's hash: seq | holder pid |
 *   time; +1 on taking and on leaving; stale after 20 ms, then taken over);
 *   (2) claim D as COPY with K's key bytes; (3) freeze S: cmpxchg16b
 *   (t, READY|c) -> (t, MOVING|dest|c); a check whose cmpxchg16b fails
 *   there re-reads, sees MOVING and helps: (4) transfer: cmpxchg16b D
 *   (token, COPY) -> (t, READY) with S's frozen tat (once: it expects
 *   COPY), its cold part from S's (denials; origin so that count - origin
 *   goes on: origin_D = count_D - (count_S - origin_S)); (5) retire S:
 *   cmpxchg16b (t, MOVING) -> (0, FREE); mark both lines dirty; leave the
 *   stripe.  At every instant exactly one slot holds K's live pair (S until
 *   the freeze, D after the transfer; in between nobody commits, and
 *   everybody can finish), so no check double-counts, and K is in X or Y
 *   throughout (the copy exists before S is retired).
 * - A check that finds K in neither line (a miss: rare, the insert path)
 *   confirms it: K's stripe, then X, Y, X again, then the stripe: equal
 *   stripes mean at most the one move the stripe names was under way, and
 *   a move X->Y is seen by a read of Y after a read of X (Y holds K from
 *   the copy on, X until after it), Y->X by X after Y.  A present key's
 *   check never reads the stripe and never waits for a mover.
 * - Keys of 17-40 bytes take both slots of a line (A, C) or two of a
 *   bucket (B: up to 64 in three): an EXT slot holds 24 more key bytes
 *   (all but its word); keys of 41-64 bytes in A and C go to a side table
 *   of 64-byte records (the slot keeps 8 bytes and the record's index):
 *   one more dependent line for them alone (libfloodgate(3)).
 * - Cold part (aux: denials, clean; origin), 16 bytes a slot, in its own
 *   region indexed by slot: a check that admits never touches it.
 * - Eviction as today: the pair to FG_TAT_EVICTED, then READY -> FREE with
 *   counts moved to the rule (no tombstones: a freed slot is just FREE).
 *   A worker whose key finds both buckets full and no path within the
 *   bound evicts a refilled bucket among the 2W candidates and the path's.
 *   The dirty map keeps a bit per 64 lines (4 KiB), set by the first
 *   change after a harvest; the harvest reads the dirty pages' slots (a
 *   line holds whole slots: no metadata to read), keeping its per-bucket
 *   memory by (rule, key), so a moved bucket is one bucket.
 *
 * Usage: layout_proto [-r runs] [-n keys]; one block of figures per run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/layout.h"
#include "shm/pair.h"
#include "shm/table.h"

#define SPREAD_KEYS   1000u
#define SPREAD_ITERS  4000u
#define SPREAD_CHUNKS 8u
#define COLD_CHUNKS   20u
#define RULE          1u
#define GCRA_T        1u          /* a token a ns ... */
#define GCRA_TAU      1000000000u /* ... a second of burst: always admits */
#define STASH         16u
#define MAX_PATH      16u   /* moves an insert may make */
#define BFS_NODES     8192u /* buckets a path search may visit */
#define KEY_BYTES     16u
#define NLAYOUTS      10u

static unsigned opt_runs = 3;
static uint64_t opt_keys = 1000000;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The value at rank @q (0..1) of @n samples (nearest rank); sorts @v. */
static double rank(double *v, unsigned n, double q)
{
	unsigned r = (unsigned)(q * n + 0.999999);

	qsort(v, n, sizeof *v, cmp_double);
	return v[(r < 1 ? 1 : r) - 1];
}

static double median(double *v, unsigned n)
{
	return rank(v, n, 0.5);
}

static void *map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("layout_proto: mmap");
		exit(1);
	}
	return p;
}

/* ------------------------------------------- limits (as table_bench.c) */

static double clock_ns(unsigned iters)
{
	uint64_t t0 = fg__now_ns(), sink = 0;
	unsigned i;

	for (i = 0; i < iters; i++)
		sink += fg__now_ns();
	__asm__ __volatile__("" ::"r"(sink));
	return (double)(fg__now_ns() - t0) / iters;
}

struct pair16 {
	uint64_t tat, consumed;
} __attribute__((aligned(64)));

/* The clock, one GCRA step, one cmpxchg16b: a check with its bucket in
 * hand. */
static double cas_limit_ns(struct pair16 *p, unsigned iters)
{
	typedef unsigned __int128 u128;
	const uint64_t T = 1, tau = UINT64_C(1) << 40;
	uint64_t t0 = fg__now_ns();
	unsigned i;

	for (i = 0; i < iters; i++) {
		uint64_t now = fg__now_ns(), next;
		u128 old = ((u128)p->consumed << 64) | p->tat, nw;

		if (!fg__gcra_take(p->tat, now, T, tau, 1, &next))
			next = p->tat;
		nw = ((u128)(p->consumed + 1) << 64) | next;
		(void)__sync_val_compare_and_swap((u128 *)(void *)p, old, nw);
	}
	return (double)(fg__now_ns() - t0) / iters;
}

/* A random cycle over the @n lines of @buf: line i holds the next. */
static void chase_build(uint64_t *buf, uint64_t n)
{
	uint64_t *perm = malloc(n * sizeof *perm), i;

	if (perm == NULL)
		abort();
	for (i = 0; i < n; i++)
		perm[i] = i;
	for (i = n - 1; i > 0; i--) {
		uint64_t j = rnd() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < n; i++)
		buf[perm[i] * 8] = perm[(i + 1) % n];
	free(perm);
}

static double random_read_ns(const uint64_t *buf, unsigned iters)
{
	uint64_t t0 = fg__now_ns(), at = 0, sink = 0;
	unsigned i;

	for (i = 0; i < iters; i++) {
		sink += fg__now_ns();
		at = buf[at * 8];
	}
	__asm__ __volatile__("" ::"r"(sink), "r"(at));
	return (double)(fg__now_ns() - t0) / iters;
}

/* ------------------------------------------------ the cuckoo tables */

struct ctab {
	struct fg_slot *s; /* nb buckets of @ways slots */
	uint64_t nb;
	unsigned ways, nstash, stash_cap;
	uint64_t seed[2];
	struct fg_slot stash[STASH];
	uint64_t hist[MAX_PATH + 1]; /* inserts by moves made */
	uint64_t failed, in2;        /* no room; keys in their 2nd bucket */
};

static inline __attribute__((always_inline)) void
cbuckets(const struct ctab *t, uint64_t h, uint64_t *b1, uint64_t *b2)
{
	typedef unsigned __int128 u128;

	*b1 = (uint64_t)(((u128)h * t->nb) >> 64);
	*b2 = (uint64_t)(((u128)((h << 32) | (h >> 32)) * t->nb) >> 64);
	if (*b2 == *b1)
		*b2 = *b1 + 1 == t->nb ? 0 : *b1 + 1;
}

static uint64_t slot_hash(const struct ctab *t, const struct fg_slot *s)
{
	return fg__hash64(t->seed, FG_W_RULE(s->word), s->key,
	                  FG_W_KEYLEN(s->word));
}

/* The other bucket of the key in slot @s of bucket @b. */
static uint64_t alt_of(const struct ctab *t, uint64_t b,
                       const struct fg_slot *s)
{
	uint64_t b1, b2;

	cbuckets(t, slot_hash(t, s), &b1, &b2);
	return b == b1 ? b2 : b1;
}

/* A free slot of bucket @b, or -1; *@used, how many are not free. */
static int free_in(const struct ctab *t, uint64_t b, unsigned *used)
{
	const struct fg_slot *s = &t->s[b * t->ways];
	int f = -1;
	unsigned i;

	*used = 0;
	for (i = 0; i < t->ways; i++) {
		if (s[i].word != 0)
			(*used)++;
		else if (f < 0)
			f = (int)i;
	}
	return f;
}

struct node {
	uint64_t b;     /* a bucket the path reaches */
	int parent;     /* the node whose slot @slot's key goes to @b */
	unsigned slot;  /* that slot in the parent's bucket */
	unsigned depth; /* moves to get here */
};

static struct node g_nodes[BFS_NODES];

/* Breadth first from @b1 and @b2 to a bucket with a free slot: the node,
 * with *@hole its free slot, or -1. */
static int bfs(const struct ctab *t, uint64_t b1, uint64_t b2, int *hole)
{
	unsigned head = 0, tail = 2, i, used;

	g_nodes[0] = (struct node){b1, -1, 0, 0};
	g_nodes[1] = (struct node){b2, -1, 0, 0};
	for (; head < tail; head++) {
		const struct node *e = &g_nodes[head];

		*hole = free_in(t, e->b, &used);
		if (*hole >= 0)
			return (int)head;
		if (e->depth == MAX_PATH)
			continue;
		for (i = 0; i < t->ways && tail < BFS_NODES; i++)
			g_nodes[tail++] = (struct node){
			    alt_of(t, e->b, &t->s[e->b * t->ways + i]),
			    (int)head, i, e->depth + 1};
	}
	return -1;
}

static void slot_put(struct fg_slot *s, unsigned rule, const char *key,
                     size_t len)
{
	memset(s->key, 0, sizeof s->key);
	memcpy(s->key, key, len);
	s->tat = 0;
	s->word = FG_W_MAKE(rule, len, s->word & FG_W_COUNT_MASK);
}

/* Make the moves of the path ending at node @e (its free slot @hole),
 * last edge first; the root's freed slot. */
static struct fg_slot *walk(struct ctab *t, int e, int hole)
{
	struct fg_slot *dst = &t->s[g_nodes[e].b * t->ways + (unsigned)hole];

	while (g_nodes[e].parent >= 0) {
		const struct node *n = &g_nodes[e];
		struct fg_slot *src =
		    &t->s[g_nodes[n->parent].b * t->ways + n->slot];

		*dst = *src;
		memset(src, 0, sizeof *src);
		dst = src;
		e = n->parent;
	}
	return dst;
}

/* Insert a key known absent (single process: the moves' protocol is in
 * the opening comment). */
static void cinsert(struct ctab *t, const char *key, size_t len)
{
	uint64_t h = fg__hash64(t->seed, RULE, key, len), b1, b2;
	unsigned u1, u2;
	int f1, f2, e, hole;

	cbuckets(t, h, &b1, &b2);
	f1 = free_in(t, b1, &u1);
	f2 = free_in(t, b2, &u2);
	if (f1 >= 0 && (f2 < 0 || u1 <= u2)) {
		slot_put(&t->s[b1 * t->ways + (unsigned)f1], RULE, key, len);
		t->hist[0]++;
		return;
	}
	if (f2 >= 0) {
		slot_put(&t->s[b2 * t->ways + (unsigned)f2], RULE, key, len);
		t->hist[0]++;
		return;
	}
	e = bfs(t, b1, b2, &hole);
	if (e >= 0) {
		slot_put(walk(t, e, hole), RULE, key, len);
		t->hist[g_nodes[e].depth]++;
	} else if (t->nstash < t->stash_cap) {
		slot_put(&t->stash[t->nstash++], RULE, key, len);
	} else {
		t->failed++;
	}
}

static __attribute__((noinline)) struct fg_slot *
stash_find(struct ctab *t, uint64_t ident, const char *key, size_t len)
{
	unsigned i;

	for (i = 0; i < t->nstash; i++)
		if (FG_W_IDENT(fg__load(&t->stash[i].word)) == ident &&
		    fg__key16_equal(t->stash[i].key, (const uint8_t *)key, len))
			return &t->stash[i];
	return NULL;
}

/* The key's two buckets from its hash, their lines fetched (to be
 * written) before anything is compared. */
static inline __attribute__((always_inline)) void
cpair(const struct ctab *t, const unsigned W, uint64_t h, struct fg_slot **x,
      struct fg_slot **y)
{
	uint64_t b1, b2;
	unsigned i;

	cbuckets(t, h, &b1, &b2);
	*x = &t->s[b1 * W];
	*y = &t->s[b2 * W];
	for (i = 0; i < W; i += 2) {
		__builtin_prefetch(&(*x)[i], 1, 3);
		__builtin_prefetch(&(*y)[i], 1, 3);
	}
}

static inline __attribute__((always_inline)) int
slot_is(const struct fg_slot *s, uint64_t ident, const char *key, size_t len)
{
	return FG_W_IDENT(fg__load(&s->word)) == ident &&
	       fg__key16_equal(s->key, (const uint8_t *)key, len);
}

/* The key's slot in buckets @x and @y: every slot's word and key compared
 * without a branch, then the first match taken ("all"); the stash only
 * when both miss. */
static inline __attribute__((always_inline)) struct fg_slot *
cfind_all(struct ctab *t, const unsigned W, struct fg_slot *x,
          struct fg_slot *y, uint64_t ident, const char *key, size_t len)
{
	const uint8_t *k = (const uint8_t *)key;
	unsigned m = 0, i;

	for (i = 0; i < W; i++) {
		m |= (unsigned)((FG_W_IDENT(fg__load(&x[i].word)) == ident) &
		                fg__key16_equal(x[i].key, k, len))
		     << i;
		m |= (unsigned)((FG_W_IDENT(fg__load(&y[i].word)) == ident) &
		                fg__key16_equal(y[i].key, k, len))
		     << (W + i);
	}
	if (caa_likely(m != 0)) {
		i = (unsigned)__builtin_ctz(m);
		return i < W ? &x[i] : &y[i - W];
	}
	return stash_find(t, ident, key, len);
}

/* The same with a branch a slot, bucket 1's slots then bucket 2's: the
 * first match ends it ("first"). */
static inline __attribute__((always_inline)) struct fg_slot *
cfind_first(struct ctab *t, const unsigned W, struct fg_slot *x,
            struct fg_slot *y, uint64_t ident, const char *key, size_t len)
{
	unsigned i;

	for (i = 0; i < W; i++)
		if (slot_is(&x[i], ident, key, len))
			return &x[i];
	for (i = 0; i < W; i++)
		if (slot_is(&y[i], ident, key, len))
			return &y[i];
	return stash_find(t, ident, key, len);
}

/* The GCRA step with one cmpxchg16b on the pair of @s, as check_h(): 1
 * admitted, 0 denied, -1 if the slot is no longer the key's bucket. */
static inline __attribute__((always_inline)) int
commit(struct fg_slot *s, struct fg_pair *p, uint64_t ident, uint64_t now)
{
	uint64_t next;

	for (;;) {
		if (FG_W_IDENT(p->word) != ident)
			return -1; /* moved or evicted: find it again */
		if (!fg__gcra_take(p->tat, now, GCRA_T, GCRA_TAU, 1, &next))
			return 0;
		if (caa_likely(fg__pair_advance(s, p, next, 1)))
			return 1;
	}
}

/* ------------------------------------------------------- the layouts */

struct layout {
	const char *name;
	int (*check)(struct layout *l, const char *key, size_t len);
	unsigned ways;  /* 0: today's table */
	double load;    /* keys / slots */
	unsigned stash; /* 0 or STASH */
	unsigned like;  /* 1 + the layout whose table this checks; 0 */
	struct ctab c;
	struct fg_table t7;
	size_t size; /* bytes of bucket data (the cold read's span) */
	uint64_t *chase;
};

/*
 * A check of a candidate: clock, hash, both lines, the key, the GCRA step
 * (as lib/client.c's check_h()); "early" hashes and issues the two lines'
 * loads before reading the clock, so that the clock's 23 ns overlap a
 * miss.
 */
#define CHECK_FN(NAME, W, FIND, EARLY)                                         \
	static __attribute__((noinline)) int NAME(struct layout *l,            \
	                                          const char *key, size_t len) \
	{                                                                      \
		uint64_t now = 0, ident = FG_W_MAKE(RULE, len, 0), h;          \
		struct fg_slot *x, *y, *s;                                     \
		struct fg_pair p;                                              \
                                                                               \
		if (!(EARLY))                                                  \
			now = fg__now_ns();                                    \
		h = fg__hash64(l->c.seed, RULE, key, len);                     \
		cpair(&l->c, W, h, &x, &y);                                    \
		if (EARLY)                                                     \
			now = fg__now_ns();                                    \
		s = FIND(&l->c, W, x, y, ident, key, len);                     \
		if (caa_unlikely(s == NULL))                                   \
			return -1;                                             \
		fg__pair_load(s, &p);                                          \
		return commit(s, &p, ident, now);                              \
	}

CHECK_FN(check_2all, 2, cfind_all, 0)
CHECK_FN(check_2first, 2, cfind_first, 0)
CHECK_FN(check_2early, 2, cfind_first, 1)
CHECK_FN(check_4first, 4, cfind_first, 0)
CHECK_FN(check_4early, 4, cfind_first, 1)

/* Past the inline groups, as check_slow() starts. */
static __attribute__((noinline)) struct fg_slot *l7_slow(struct fg_table *t,
                                                         const char *key,
                                                         size_t len, uint64_t h,
                                                         struct fg_ref *ref)
{
	return fg__table_lookup_from(t, RULE, key, len, h, FG_INLINE_GROUPS,
	                             ref);
}

/* Today's check (lib/client.c's check_h()) on layout 7; @early: the
 * hash and fg__table_prefetch() before the clock. */
static inline __attribute__((always_inline)) int
l7_check(struct layout *l, const char *key, size_t len, const int early)
{
	struct fg_table *t = &l->t7;
	uint64_t now = early ? 0 : fg__now_ns(), next;
	uint64_t h = fg__hash64(t->seed, RULE, key, len);
	struct fg_ref ref;
	struct fg_pair p;
	struct fg_slot *s;

	if (early) {
		fg__table_prefetch(t, h);
		now = fg__now_ns();
	}
	s = fg__table_find_home(t, RULE, key, len, h, &ref);
	if (caa_unlikely(s == NULL) &&
	    (s = l7_slow(t, key, len, h, &ref)) == NULL)
		return -1;
	fg__pair_load(s, &p);
	if (!fg__ref_valid(&ref))
		return -1;
	for (;;) {
		if (!fg__gcra_take(p.tat, now, GCRA_T, GCRA_TAU, 1, &next))
			return 0;
		if (caa_likely(fg__pair_advance(s, &p, next, 1))) {
			if (caa_unlikely(p.word & FG_W_CLEAN))
				fg__table_touch(t, fg__ref_block(t, &ref));
			return 1;
		}
		if (!fg__ref_valid(&ref))
			return -1;
	}
}

static __attribute__((noinline)) int check_l7(struct layout *l, const char *key,
                                              size_t len)
{
	return l7_check(l, key, len, 0);
}

static __attribute__((noinline)) int check_l7early(struct layout *l,
                                                   const char *key, size_t len)
{
	return l7_check(l, key, len, 1);
}

/* Candidates whose .like is not 0 check the table of layout .like - 1. */
static struct layout g_layouts[NLAYOUTS] = {
    {.name = "L7 today: blocks of 16, tags", .check = check_l7, .load = 0.875},
    {.name = "L7 today, early", .check = check_l7early, .like = 1},
    {.name = "A 2x64B/2, load 0.5, all",
     .check = check_2all,
     .ways = 2,
     .load = 0.5},
    {.name = "A 2x64B/2, load 0.5, first", .check = check_2first, .like = 3},
    {.name = "A 2x64B/2, load 0.5, early", .check = check_2early, .like = 3},
    {.name = "B 2x128B/4, load 0.875, first",
     .check = check_4first,
     .ways = 4,
     .load = 0.875},
    {.name = "B 2x128B/4, load 0.875, early", .check = check_4early, .like = 6},
    {.name = "B 2x128B/4, load 0.8, early",
     .check = check_4early,
     .ways = 4,
     .load = 0.8},
    {.name = "C 2x64B/2, 0.875, stash, first",
     .check = check_2first,
     .ways = 2,
     .load = 0.875,
     .stash = STASH},
    {.name = "C 2x64B/2, 0.875, stash, early",
     .check = check_2early,
     .like = 9},
};

static char (*g_keys)[KEY_BYTES]; /* key i: "user-i" */
static uint8_t *g_len;

static void keys_make(void)
{
	uint64_t i;

	g_keys = malloc(opt_keys * sizeof *g_keys);
	g_len = malloc(opt_keys);
	if (g_keys == NULL || g_len == NULL)
		abort();
	for (i = 0; i < opt_keys; i++)
		g_len[i] =
		    (uint8_t)snprintf(g_keys[i], KEY_BYTES, "user-%" PRIu64, i);
}

static void build_l7(struct layout *l)
{
	struct fg_table *t = &l->t7;
	struct fg_ref ref;
	uint64_t i, lost = 0;

	t->nblocks = FG_BLOCKS_FOR(opt_keys);
	l->size = t->nblocks * sizeof(struct fg_block);
	t->blocks = map(l->size);
	t->hdr = map(sizeof *t->hdr);
	t->seed[0] = rnd();
	t->seed[1] = rnd();
	for (i = 0; i < opt_keys; i++)
		if (fg__table_find_ref(
		        t, RULE, g_keys[i], g_len[i],
		        fg__hash64(t->seed, RULE, g_keys[i], g_len[i]),
		        &ref) == NULL)
			lost++;
	printf("%-34s %8" PRIu64 " blocks, %6.1f B/key (832 B / 14), "
	       "%" PRIu64 " found no room\n",
	       l->name, t->nblocks, (double)l->size / (double)opt_keys, lost);
}

/* The share of inserts that made @k moves or more; *@at the
 * nearest-rank @q quantile of moves. */
static void path_stats(const struct ctab *c, double q, unsigned *at,
                       unsigned *max)
{
	uint64_t n = 0, sum = 0;
	unsigned k;

	for (k = 0; k <= MAX_PATH; k++)
		n += c->hist[k];
	*at = *max = 0;
	for (k = 0; k <= MAX_PATH; k++) {
		if (c->hist[k] != 0)
			*max = k;
		if (sum < (uint64_t)(q * (double)n + 0.999999))
			*at = k;
		sum += c->hist[k];
	}
}

/* Find every key again: how many are in their second bucket, and that
 * none is lost. */
static void census(struct ctab *c)
{
	uint64_t i, h, lost = 0;
	struct fg_slot *x, *y, *s;

	for (i = 0; i < opt_keys; i++) {
		h = fg__hash64(c->seed, RULE, g_keys[i], g_len[i]);
		cpair(c, c->ways, h, &x, &y);
		s = cfind_first(c, c->ways, x, y, FG_W_MAKE(RULE, g_len[i], 0),
		                g_keys[i], g_len[i]);
		c->in2 += s >= y && s < y + c->ways;
		lost += s == NULL;
	}
	if (lost != c->failed) {
		fprintf(stderr, "layout_proto: %" PRIu64 " keys lost\n", lost);
		exit(1);
	}
}

static void build_cuckoo(struct layout *l)
{
	struct ctab *c = &l->c;
	uint64_t slots = (uint64_t)((double)opt_keys / l->load + 0.5), i, moved;
	unsigned p999, max;

	c->ways = l->ways;
	c->nb = (slots + c->ways - 1) / c->ways;
	l->size = c->nb * c->ways * sizeof(struct fg_slot);
	c->s = map(l->size);
	c->seed[0] = rnd();
	c->seed[1] = rnd();
	c->stash_cap = l->stash;
	for (i = 0; i < opt_keys; i++)
		cinsert(c, g_keys[i], g_len[i]);
	census(c);
	path_stats(c, 0.999, &p999, &max);
	moved = opt_keys - c->hist[0] - c->failed - c->nstash;
	printf("%-34s %8" PRIu64 " buckets, %6.1f B/key (+%4.1f cold), "
	       "moves: %.2f%% of inserts, p99.9 %u, max %u; stashed %u, "
	       "failed %" PRIu64 "; in bucket 2: %.1f%%\n",
	       l->name, c->nb, (double)l->size / (double)opt_keys,
	       16.0 / l->load, 100.0 * (double)moved / (double)opt_keys, p999,
	       max, c->nstash, c->failed,
	       100.0 * (double)c->in2 / (double)opt_keys);
}

static void build_all(void)
{
	unsigned i;

	for (i = 0; i < NLAYOUTS; i++) {
		struct layout *l = &g_layouts[i];

		if (l->like != 0) { /* the same table, another check */
			struct layout *of = &g_layouts[l->like - 1];

			l->ways = of->ways;
			l->load = of->load;
			l->c = of->c;
			l->t7 = of->t7;
			l->size = of->size;
			l->chase = of->chase;
			continue;
		}
		if (l->ways == 0)
			build_l7(l);
		else
			build_cuckoo(l);
		l->chase = map(l->size);
		chase_build(l->chase, l->size / 64);
		fflush(stdout);
	}
}

/* ------------------------------------------------------- measurements */

/* ns per check of one key back to back, with the CAS limit in turns
 * (medians of SPREAD_CHUNKS chunks), as table_bench.c's key_ns(). */
static void key_ns(struct layout *l, uint64_t key, double *ns, double *limit)
{
	static struct pair16 pair;
	double v[SPREAD_CHUNKS], lim[SPREAD_CHUNKS];
	const unsigned n = SPREAD_ITERS / SPREAD_CHUNKS;
	unsigned i, k;
	int sink = 0;

	for (i = 0; i < 100; i++)
		sink += l->check(l, g_keys[key], g_len[key]);
	for (k = 0; k < SPREAD_CHUNKS; k++) {
		uint64_t t0;

		lim[k] = cas_limit_ns(&pair, n);
		t0 = fg__now_ns();
		for (i = 0; i < n; i++)
			sink += l->check(l, g_keys[key], g_len[key]);
		v[k] = (double)(fg__now_ns() - t0) / n;
	}
	if (sink != (int)(SPREAD_ITERS + 100)) {
		fprintf(stderr, "layout_proto: %s: a check failed\n", l->name);
		exit(1);
	}
	*ns = median(v, SPREAD_CHUNKS);
	*limit = median(lim, SPREAD_CHUNKS);
}

/* Whether key @i is in its preferred slot of today's table. */
static int l7_pref(struct layout *l, uint64_t i)
{
	struct fg_table *t = &l->t7;
	uint64_t h = fg__hash64(t->seed, RULE, g_keys[i], g_len[i]);
	struct fg_ref ref;

	return fg__table_lookup(t, RULE, g_keys[i], g_len[i], h, &ref) &&
	       (uint64_t)(ref.b - t->blocks) == fg__table_home(t, h) &&
	       ref.j == fg__table_pref(h);
}

struct figures {
	double clock, cas; /* limits, ns */
	double med[NLAYOUTS], p99[NLAYOUTS], ns_med[NLAYOUTS];
	double pref; /* L7's preferred-slot keys: median */
	double cold[NLAYOUTS], read[NLAYOUTS]; /* ns */
	double rcold[NLAYOUTS]; /* median of the chunks' cold / read */
};

static double g_r[NLAYOUTS][SPREAD_KEYS], g_ns[NLAYOUTS][SPREAD_KEYS];

/* SPREAD_KEYS random present keys, each on every layout in turn. */
static void spread(struct figures *f)
{
	double pref[SPREAD_KEYS], lim[SPREAD_KEYS * NLAYOUTS];
	unsigned k, i, np = 0, nl = 0;

	for (k = 0; k < SPREAD_KEYS; k++) {
		uint64_t key = rnd() % opt_keys;

		for (i = 0; i < NLAYOUTS; i++) {
			key_ns(&g_layouts[i], key, &g_ns[i][k], &lim[nl]);
			g_r[i][k] = g_ns[i][k] / lim[nl++];
		}
		if (l7_pref(&g_layouts[0], key))
			pref[np++] = g_r[0][k];
	}
	for (i = 0; i < NLAYOUTS; i++) {
		f->med[i] = median(g_r[i], SPREAD_KEYS);
		f->p99[i] = rank(g_r[i], SPREAD_KEYS, 0.99);
		f->ns_med[i] = median(g_ns[i], SPREAD_KEYS);
	}
	f->pref = np ? median(pref, np) : -1;
	f->cas = median(lim, nl);
}

/* Every key once, in random order, copied so that the keys themselves
 * are read in sequence (as table_bench.c's). */
static char (*g_okeys)[KEY_BYTES];
static uint8_t *g_olen;

/* Every key once in random order on every layout, in chunks: chunk k of
 * each layout right after a chunk of random reads over its size, so that
 * each ratio is of figures a few ms apart (medians of the chunks). */
static void cold(struct figures *f)
{
	double v[NLAYOUTS][COLD_CHUNKS], r[NLAYOUTS][COLD_CHUNKS];
	double q[NLAYOUTS][COLD_CHUNKS];
	uint64_t n = opt_keys / COLD_CHUNKS, i;
	unsigned k, j;
	int sink = 0;

	for (k = 0; k < COLD_CHUNKS; k++)
		for (j = 0; j < NLAYOUTS; j++) {
			struct layout *l = &g_layouts[j];
			uint64_t t0;

			r[j][k] = random_read_ns(l->chase, 20000);
			t0 = fg__now_ns();
			for (i = k * n; i < (k + 1) * n; i++)
				sink += l->check(l, g_okeys[i], g_olen[i]);
			v[j][k] = (double)(fg__now_ns() - t0) / (double)n;
			q[j][k] = v[j][k] / r[j][k];
		}
	__asm__ __volatile__("" ::"r"(sink));
	for (j = 0; j < NLAYOUTS; j++) {
		f->cold[j] = median(v[j], COLD_CHUNKS);
		f->read[j] = median(r[j], COLD_CHUNKS);
		f->rcold[j] = median(q[j], COLD_CHUNKS);
	}
}

static void shuffle_order(void)
{
	uint64_t i;

	for (i = 0; i < opt_keys; i++) {
		memcpy(g_okeys[i], g_keys[i], KEY_BYTES);
		g_olen[i] = g_len[i];
	}
	for (i = opt_keys - 1; i > 0; i--) {
		uint64_t j = rnd() % (i + 1);
		char x[KEY_BYTES];
		uint8_t n = g_olen[i];

		memcpy(x, g_okeys[i], KEY_BYTES);
		memcpy(g_okeys[i], g_okeys[j], KEY_BYTES);
		memcpy(g_okeys[j], x, KEY_BYTES);
		g_olen[i] = g_olen[j];
		g_olen[j] = n;
	}
}

static void report(unsigned run, const struct figures *f)
{
	double load[3] = {0, 0, 0};
	unsigned i;

	if (getloadavg(load, 3) < 0)
		load[0] = -1;
	printf("\nrun %u (load average %.2f %.2f %.2f): clock %.1f ns, "
	       "CAS limit %.1f ns\n",
	       run, load[0], load[1], load[2], f->clock, f->cas);
	printf("  %-34s %9s %7s %7s %8s %8s %7s %6s\n", "layout", "median ns",
	       "median", "p99", "cold ns", "read ns", "-read", "cold");
	for (i = 0; i < NLAYOUTS; i++)
		printf("  %-34s %9.1f %6.2fx %6.2fx %8.1f %8.1f %7.1f %5.2fx\n",
		       g_layouts[i].name, f->ns_med[i], f->med[i], f->p99[i],
		       f->cold[i], f->read[i], f->cold[i] - f->read[i],
		       f->rcold[i]);
	printf("  L7, keys in their preferred slot: median %.2fx (the same "
	       "keys' fg_allow, in table_bench: its \"preferred slot\" row)\n",
	       f->pref);
	fflush(stdout);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: layout_proto [-r runs] [-n keys]\n"
	             "  -r  runs, each printed (default 3)\n"
	             "  -n  keys inserted in each layout (default 1000000)\n");
}

int main(int argc, char **argv)
{
	static struct pair16 pair;
	struct figures f;
	unsigned run;
	int opt;

	while ((opt = getopt(argc, argv, "r:n:h")) != -1) {
		if (opt == 'r')
			opt_runs = (unsigned)atoi(optarg);
		else if (opt == 'n')
			opt_keys = strtoull(optarg, NULL, 10);
		else {
			usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (opt_runs < 1 || opt_keys < 10000 || opt_keys > UINT32_MAX) {
		usage(stderr);
		return 2;
	}
	keys_make();
	g_okeys = malloc(opt_keys * sizeof *g_okeys);
	g_olen = malloc(opt_keys);
	if (g_okeys == NULL || g_olen == NULL)
		abort();
	printf("layout_proto: %" PRIu64 " keys \"user-N\" in each layout\n",
	       opt_keys);
	build_all();
	for (run = 1; run <= opt_runs; run++) {
		f.clock = clock_ns(1u << 20);
		(void)cas_limit_ns(&pair, 1u << 20);
		spread(&f);
		shuffle_order();
		cold(&f);
		report(run, &f);
	}
	return 0;
}
