/* SPDX-License-Identifier: ISC */
/*
 * layout_proto.c - candidate layouts for the 99th-percentile key (issue
 * 14), side by side with today's.  Written when today's was layout 7
 * (blocks of 16 slots); since layout 9, today's is layout C itself, the
 * real shm/table.c, beside its model here.
 *
 * Today (layout 7) 44% of the keys at capacity wait for the tags to know
 * their slot.  Here every key has two buckets known from its hash
 * (2-choice bucketized cuckoo, breadth-first paths of at most MAX_PATH
 * moves), loaded at once, the key compared in place: A, one 64-byte line
 * of 2 slots at a load of 0.5; B, a 128-byte pair of lines of 4 slots at
 * 0.875 and 0.8; C, one line of 2 slots at 0.875.  Today's table is built
 * beside them with the real shm/table.c and checked as check_h() does:
 * same clock, hash, GCRA step, and the limits of bench/limits.h in
 * turns.  "early": hash and prefetch before the clock read; "fenced": the
 * cold pass with an lfence after each check, so that its misses cannot
 * overlap the next check's (table_bench.c's "one check at a time").
 *
 * The design that keeps today's guarantees (for the session that writes
 * it).  word = rule:8 | keylen:7 | clean:1 | state:3 | dest:2 | count:43,
 * states FREE, CLAIMED, READY, MOVING, COPY, DEAD, EXT.  A key lives only
 * in its two buckets (or a 16-slot stash read on a miss, for what finds no
 * path): no group words, tombstones or reopening; a lookup reads both
 * buckets and stops.  A check takes READY, helps MOVING, ignores the rest.
 * - Insert: claim = cmpxchg16b of a FREE pair to (TOKEN | ms | fp16,
 *   CLAIMED | rule | len | count), the token in the claim itself; write
 *   the key; look at both buckets again (the key READY, MOVING or COPY, or
 *   a matching claim earlier in bucket order: yield; a later one: wait,
 *   and mark it DEAD once stale: today's proof 3); publish = cmpxchg16b
 *   (token, CLAIMED) -> (0, READY), which a DEAD claim never passes; the
 *   reap frees DEAD slots after a grace period longer than a ms.
 * - Move of K from slot S (bucket X) to FREE slot D of its other bucket Y,
 *   a path's last edge first: (1) take K's stripe (one of 4096 words by
 *   hash: seq | pid | time; seq +1 on taking and leaving; taken over when
 *   20 ms stale by a holder that first ends the move it finds: nobody else
 *   frees a COPY); (2) claim D as COPY, write K; (3) freeze S: (t, READY|c)
 *   -> (t, MOVING|dest|c): a check's cmpxchg16b on S fails, it re-reads
 *   and helps with (4) D (token, COPY) -> (t, READY), cold part from S's,
 *   origin_D = count_D - (count_S - origin_S), and (5) S -> (0, FREE);
 *   mark both dirty, leave the stripe.  One slot holds K's live pair at
 *   any instant (S until 3, D from 4; nobody commits between, anybody can
 *   finish): nothing counts twice, and K is in X or Y throughout.
 * - A miss (the insert path) is confirmed by K's stripe, X, Y, X, the
 *   stripe: equal stripes leave at most one move under way, and a move
 *   X->Y is seen by a read of Y after one of X, Y->X by X after Y.
 * - Keys of 17-40 bytes take a line's two slots (an EXT slot holds 24 key
 *   bytes), in B two or three slots up to 64; keys of 41-64 in A and C go
 *   to 64-byte records of a side table: one more line for them alone.
 * - The cold part (aux, origin: 16 bytes a slot) is a region of its own.
 *   Eviction as today (pair to FG_TAT_EVICTED, then FREE); a key without a
 *   path evicts a refilled bucket of its buckets or path.  The dirty map
 *   has a bit per 64 lines; the harvest reads dirty pages' slots and keys
 *   its memory by (rule, key), taking READY over MOVING.
 *
 * Usage: layout_proto [-r runs] [-n keys]; one block of figures per run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench/limits.h"
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
#define MAX_PATH      16u         /* moves an insert may make */
#define BFS_NODES     8192u       /* buckets a path search may visit */
#define KEY_BYTES     16u
#define NLAYOUTS      9u

static unsigned opt_runs = 3;
static uint64_t opt_keys = 1000000;
/* ------------------------------------------------ the cuckoo tables */

struct ctab {
	struct fg_slot *s; /* nb buckets of @ways slots */
	uint64_t nb;
	unsigned ways;
	uint64_t seed[2];
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

/* The other bucket of the key in slot @s of bucket @b. */
static uint64_t alt_of(const struct ctab *t, uint64_t b,
                       const struct fg_slot *s)
{
	uint64_t b1, b2;

	cbuckets(t,
	         fg__hash64(t->seed, FG_W_RULE(s->word), s->key,
	                    FG_W_KEYLEN(s->word)),
	         &b1, &b2);
	return b == b1 ? b2 : b1;
}

/* A free slot of bucket @b, or -1; *@used, how many are not free. */
static int free_in(const struct ctab *t, uint64_t b, unsigned *used)
{
	const struct fg_slot *s = &t->s[b * t->ways];
	int f = -1;
	unsigned i;

	for (*used = i = 0; i < t->ways; i++)
		if (s[i].word != 0)
			(*used)++;
		else if (f < 0)
			f = (int)i;
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
	/* READY, as the layout's word says a live bucket is (layout 9:
	 * fg__pair_advance() commits nothing else) */
	s->word = FG_W_MAKE(rule, len, s->word & FG_W_COUNT_MASK) |
	          FG_W_STATE_BITS(FG_SLOT_READY);
}

/* The moves of the path to node @e's slot @hole, last first: the root's
 * slot they freed. */
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

/* Insert a key known absent (one process: see the opening comment). */
static void cinsert(struct ctab *t, const char *key, size_t len)
{
	uint64_t h = fg__hash64(t->seed, RULE, key, len), b1, b2;
	unsigned u1, u2;
	int f1, f2, e, hole;

	cbuckets(t, h, &b1, &b2);
	f1 = free_in(t, b1, &u1);
	f2 = free_in(t, b2, &u2);
	if (f1 >= 0 || f2 >= 0) { /* the emptier bucket */
		int one = f1 >= 0 && (f2 < 0 || u1 <= u2);

		slot_put(&t->s[one ? b1 * t->ways + (unsigned)f1
		                   : b2 * t->ways + (unsigned)f2],
		         RULE, key, len);
		t->hist[0]++;
		return;
	}
	if ((e = bfs(t, b1, b2, &hole)) < 0) {
		t->failed++;
		return;
	}
	slot_put(walk(t, e, hole), RULE, key, len);
	t->hist[g_nodes[e].depth]++;
}

/* The key's two buckets, their lines fetched to be written. */
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

/* The key's slot in buckets @x and @y, or NULL: a branch a slot, bucket
 * 1's slots then bucket 2's.  (Every slot compared without a branch, then
 * the first match taken, was 1.14x against 1.04x: BENCHMARKS.md.) */
static inline __attribute__((always_inline)) struct fg_slot *
cfind_first(const unsigned W, struct fg_slot *x, struct fg_slot *y,
            uint64_t ident, const char *key, size_t len)
{
	unsigned i;

	for (i = 0; i < W; i++)
		if (slot_is(&x[i], ident, key, len))
			return &x[i];
	for (i = 0; i < W; i++)
		if (slot_is(&y[i], ident, key, len))
			return &y[i];
	return NULL;
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
	unsigned ways; /* 0: today's table */
	double load;   /* keys / slots */
	unsigned like; /* 1 + the layout whose table this checks; 0 */
	struct ctab c;
	struct fg_table t7;
	size_t size; /* bytes of bucket data (the cold read's span) */
	uint64_t *chase;
	uint64_t chase_at; /* where the next random read goes on */
};

/* A candidate's check, as check_h(): clock, hash, both lines, the key,
 * the GCRA step; EARLY: the clock after the lines' loads are issued. */
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
		s = FIND(W, x, y, ident, key, len);                            \
		if (caa_unlikely(s == NULL))                                   \
			return -1;                                             \
		fg__pair_load(s, &p);                                          \
		return commit(s, &p, ident, now);                              \
	}

CHECK_FN(check_2first, 2, cfind_first, 0)
CHECK_FN(check_2early, 2, cfind_first, 1)
CHECK_FN(check_4first, 4, cfind_first, 0)
CHECK_FN(check_4early, 4, cfind_first, 1)

/* lib/client.c's check_h() on today's table; @early: prefetch, clock. */
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
	    (s = fg__table_lookup_from(t, RULE, key, len, h, FG_INLINE_GROUPS,
	                               &ref)) == NULL)
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

#define L7_FN(NAME, EARLY)                                                     \
	static __attribute__((noinline)) int NAME(struct layout *l,            \
	                                          const char *key, size_t len) \
	{                                                                      \
		return l7_check(l, key, len, EARLY);                           \
	}
L7_FN(check_l7, 0)
L7_FN(check_l7early, 1)

/* Name, check, slots a bucket, load; a layout whose last field is not 0
 * checks the table of layout (that - 1) instead of its own. */
#define LAYOUT(N, F, W, L, LIKE)                                               \
	{                                                                      \
		.name = N, .check = F, .ways = W, .load = L, .like = LIKE      \
	}
static struct layout g_layouts[NLAYOUTS] = {
    LAYOUT("today: shm/table.c (layout 9)", check_l7, 0, 0, 0),
    LAYOUT("today, early", check_l7early, 0, 0, 1),
    LAYOUT("A 2x64B/2, load 0.5, first", check_2first, 2, 0.5, 0),
    LAYOUT("A 2x64B/2, load 0.5, early", check_2early, 0, 0, 3),
    LAYOUT("B 2x128B/4, load 0.875, first", check_4first, 4, 0.875, 0),
    LAYOUT("B 2x128B/4, load 0.875, early", check_4early, 0, 0, 5),
    LAYOUT("B 2x128B/4, load 0.8, early", check_4early, 4, 0.8, 0),
    LAYOUT("C 2x64B/2, load 0.875, first", check_2first, 2, 0.875, 0),
    LAYOUT("C 2x64B/2, load 0.875, early", check_2early, 0, 0, 8),
};

/* The keys, "user-N"; shuffled after the tables are built. */
static struct key {
	char s[KEY_BYTES];
	size_t len;
} * g_keys;

static void keys_make(void)
{
	uint64_t i;

	if ((g_keys = malloc(opt_keys * sizeof *g_keys)) == NULL)
		abort();
	for (i = 0; i < opt_keys; i++)
		g_keys[i].len = (size_t)snprintf(g_keys[i].s, KEY_BYTES,
		                                 "user-%" PRIu64, i);
}

static void build_l7(struct layout *l)
{
	struct fg_table *t = &l->t7;
	uint64_t i, lost = 0, nb = FG_BUCKETS_FOR(opt_keys), seed[2];
	struct fg_ref ref;

	seed[0] = fgb_rnd();
	seed[1] = fgb_rnd();
	l->size = fg__table_region_size(nb, 0);
	if (fg__table_init(
	        t, fgb_map(sizeof *t->hdr), NULL, fgb_map(l->size),
	        fgb_map(nb * FG_BUCKET_SLOTS * sizeof(struct fg_cold)), NULL,
	        nb, 0, seed) != 0)
		abort();
	for (i = 0; i < opt_keys; i++)
		if (fg__table_find_ref(
		        t, RULE, g_keys[i].s, g_keys[i].len,
		        fg__hash64(t->seed, RULE, g_keys[i].s, g_keys[i].len),
		        &ref) == NULL)
			lost++;
	printf("%-34s %8" PRIu64 " buckets, %6.1f B/key (layout %u), "
	       "%" PRIu64 " found no room\n",
	       l->name, nb, (double)l->size / (double)opt_keys,
	       FG_LAYOUT_VERSION, lost);
}

/* Of the @n inserts' moves: the nearest-rank @q quantile, and the most. */
static void path_stats(const struct ctab *c, uint64_t n, double q, unsigned *at,
                       unsigned *max)
{
	uint64_t sum = 0;
	unsigned k;

	for (*at = *max = k = 0; k <= MAX_PATH; sum += c->hist[k++]) {
		*max = c->hist[k] ? k : *max;
		*at = sum < (uint64_t)(q * (double)n + 0.999999) ? k : *at;
	}
}

/* Every key found again (none lost); how many in their second bucket. */
static void census(struct ctab *c)
{
	uint64_t i, h, lost = 0;
	struct fg_slot *x, *y, *s;

	for (i = 0; i < opt_keys; i++) {
		h = fg__hash64(c->seed, RULE, g_keys[i].s, g_keys[i].len);
		cpair(c, c->ways, h, &x, &y);
		s = cfind_first(c->ways, x, y,
		                FG_W_MAKE(RULE, g_keys[i].len, 0), g_keys[i].s,
		                g_keys[i].len);
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
	c->s = fgb_map(l->size);
	c->seed[0] = fgb_rnd();
	c->seed[1] = fgb_rnd();
	for (i = 0; i < opt_keys; i++)
		cinsert(c, g_keys[i].s, g_keys[i].len);
	census(c);
	path_stats(c, opt_keys - c->failed, 0.999, &p999, &max);
	moved = opt_keys - c->hist[0] - c->failed;
	printf("%-34s %8" PRIu64 " buckets, %6.1f B/key (+%4.1f cold), "
	       "moves: %.2f%% of inserts, p99.9 %u, max %u; "
	       "failed %" PRIu64 "; in bucket 2: %.1f%%\n",
	       l->name, c->nb, (double)l->size / (double)opt_keys,
	       16.0 / l->load, 100.0 * (double)moved / (double)opt_keys, p999,
	       max, c->failed, 100.0 * (double)c->in2 / (double)opt_keys);
}

static void build_all(void)
{
	unsigned i;

	for (i = 0; i < NLAYOUTS; i++) {
		struct layout *l = &g_layouts[i];

		if (l->like != 0) { /* the same table, another check */
			struct layout own = *l;

			*l = g_layouts[own.like - 1];
			l->name = own.name;
			l->check = own.check;
			continue;
		}
		if (l->ways == 0)
			build_l7(l);
		else
			build_cuckoo(l);
		l->chase = fgb_map(l->size);
		fgb_chase_build(l->chase, l->size / 64);
		fflush(stdout);
	}
}

/* ------------------------------------------------------- measurements */

/* As table_bench.c's key_ns(): one key back to back, the limit in turns. */
static void key_ns(struct layout *l, uint64_t key, double *ns, double *limit)
{
	static struct fgb_pair16 pair;
	double v[SPREAD_CHUNKS], lim[SPREAD_CHUNKS];
	const unsigned n = SPREAD_ITERS / SPREAD_CHUNKS;
	unsigned i, k;
	int sink = 0;

	for (i = 0; i < 100; i++) /* its lines into L1, its branches learnt */
		sink += l->check(l, g_keys[key].s, g_keys[key].len);
	for (k = 0; k < SPREAD_CHUNKS; k++) {
		uint64_t t0;

		lim[k] = fgb_cas_limit_ns(&pair, n);
		t0 = fg__now_ns();
		for (i = 0; i < n; i++)
			sink += l->check(l, g_keys[key].s, g_keys[key].len);
		v[k] = (double)(fg__now_ns() - t0) / n;
	}
	if (sink != (int)(SPREAD_ITERS + 100)) {
		fprintf(stderr, "layout_proto: %s: a check failed\n", l->name);
		exit(1);
	}
	*ns = fgb_median(v, SPREAD_CHUNKS);
	*limit = fgb_median(lim, SPREAD_CHUNKS);
}

struct figures {
	double clock, cas; /* limits, ns */
	double med[NLAYOUTS], p99[NLAYOUTS], ns_med[NLAYOUTS];
	double read[NLAYOUTS];
	double cold[2][NLAYOUTS];  /* ns: back to back, one at a time */
	double rcold[2][NLAYOUTS]; /* medians of the chunks' cold / read */
};

static double g_r[NLAYOUTS][SPREAD_KEYS], g_ns[NLAYOUTS][SPREAD_KEYS];

/* SPREAD_KEYS random present keys, each on every layout in turn. */
static void spread(struct figures *f)
{
	double lim[SPREAD_KEYS * NLAYOUTS];
	unsigned k, i, nl = 0;

	for (k = 0; k < SPREAD_KEYS; k++) {
		uint64_t key = fgb_rnd() % opt_keys;

		for (i = 0; i < NLAYOUTS; i++) {
			key_ns(&g_layouts[i], key, &g_ns[i][k], &lim[nl]);
			g_r[i][k] = g_ns[i][k] / lim[nl++];
		}
	}
	for (i = 0; i < NLAYOUTS; i++) {
		f->med[i] = fgb_median(g_r[i], SPREAD_KEYS);
		f->p99[i] = fgb_rank(g_r[i], SPREAD_KEYS, 0.99);
		f->ns_med[i] = fgb_median(g_ns[i], SPREAD_KEYS);
	}
	f->cas = fgb_median(lim, nl);
}

/* ns a check of each of the @n keys from @i on @l; @fenced: an lfence
 * after each, so that no check's misses overlap the next one's. */
static double pass_ns(struct layout *l, uint64_t i, uint64_t n, int fenced)
{
	uint64_t t0 = fg__now_ns(), end = i + n;
	int sink = 0;

	for (; i < end; i++) {
		sink += l->check(l, g_keys[i].s, g_keys[i].len);
		if (fenced)
			__asm__ __volatile__("lfence" ::: "memory");
	}
	__asm__ __volatile__("" ::"r"(sink));
	return (double)(fg__now_ns() - t0) / (double)n;
}

/* Every key once in random order on every layout, in chunks: chunk k of
 * each layout right after a chunk of random reads over its size, so that
 * each ratio is of figures a few ms apart (medians of the chunks); half
 * of each chunk's keys back to back, half one at a time (fenced). */
static void cold(struct figures *f)
{
	double v[2][NLAYOUTS][COLD_CHUNKS], r[NLAYOUTS][COLD_CHUNKS];
	double q[2][NLAYOUTS][COLD_CHUNKS];
	uint64_t n = opt_keys / COLD_CHUNKS / 2;
	unsigned k, j, w;

	for (k = 0; k < COLD_CHUNKS; k++)
		for (j = 0; j < NLAYOUTS; j++) {
			r[j][k] = fgb_random_read_ns(
			    g_layouts[j].chase, &g_layouts[j].chase_at, 20000);
			for (w = 0; w < 2; w++) {
				v[w][j][k] = pass_ns(&g_layouts[j],
				                     (2 * k + w) * n, n, w);
				q[w][j][k] = v[w][j][k] / r[j][k];
			}
		}
	for (j = 0; j < NLAYOUTS; j++) {
		f->read[j] = fgb_median(r[j], COLD_CHUNKS);
		for (w = 0; w < 2; w++) {
			f->cold[w][j] = fgb_median(v[w][j], COLD_CHUNKS);
			f->rcold[w][j] = fgb_median(q[w][j], COLD_CHUNKS);
		}
	}
}

/* The keys in a new random order: the cold pass reads them in sequence
 * (as table_bench.c's), their buckets at random. */
static void shuffle_keys(void)
{
	uint64_t i, j;

	for (i = opt_keys - 1; i > 0; i--) {
		struct key x = g_keys[i];

		j = fgb_rnd() % (i + 1);
		g_keys[i] = g_keys[j];
		g_keys[j] = x;
	}
}

static void report(unsigned run, const struct figures *f)
{
	double load[3] = {-1, -1, -1};
	unsigned i;

	(void)getloadavg(load, 3);
	printf("\nrun %u (load average %.2f %.2f %.2f): clock %.1f ns, "
	       "CAS limit %.1f ns\n",
	       run, load[0], load[1], load[2], f->clock, f->cas);
	printf("  %-34s %9s %6s %6s %7s %7s %6s %7s %6s\n", "layout",
	       "median ns", "median", "p99", "read ns", "cold ns", "cold",
	       "fenced", "ratio");
	for (i = 0; i < NLAYOUTS; i++)
		printf("  %-34s %9.1f %5.2fx %5.2fx %7.1f %7.1f %5.2fx %7.1f "
		       "%5.2fx\n",
		       g_layouts[i].name, f->ns_med[i], f->med[i], f->p99[i],
		       f->read[i], f->cold[0][i], f->rcold[0][i], f->cold[1][i],
		       f->rcold[1][i]);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct figures f;
	unsigned run;
	int opt;

	while ((opt = getopt(argc, argv, "r:n:")) != -1) {
		if (opt == 'r')
			opt_runs = (unsigned)atoi(optarg);
		else if (opt == 'n')
			opt_keys = strtoull(optarg, NULL, 10);
		else
			opt_runs = 0;
	}
	if (opt_runs < 1 || opt_keys < 10000 || optind != argc) {
		fprintf(stderr, "usage: layout_proto [-r runs (3)] "
		                "[-n keys (1000000)]\n");
		return 2;
	}
	keys_make();
	printf("layout_proto: %" PRIu64 " keys \"user-N\" in each layout\n",
	       opt_keys);
	build_all();
	for (run = 1; run <= opt_runs; run++) {
		f.clock = fgb_clock_ns(1u << 20);
		spread(&f);
		shuffle_keys();
		cold(&f);
		report(run, &f);
	}
	return 0;
}
