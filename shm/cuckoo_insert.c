/* SPDX-License-Identifier: ISC */
/*
 * cuckoo_insert.c - the layout C table's insert: find or claim, and make
 * room by moves along a breadth-first path when both buckets are full.
 *
 * Insert (no lock): survey the key's buckets; claim a FREE slot with a
 * token in the claim itself, write the key, fence, survey again.  The key
 * live elsewhere, or a claim for it earlier in bucket order (X0 X1 Y0 Y1):
 * give the slot back.  A later claim: wait until it is published or given
 * back, or mark it DEAD once stale.  Of two claimers that both wrote then
 * read (Dekker), one sees the other, and the earlier alone publishes:
 * (token, CLAIMED) -> (0, READY), which a claim marked DEAD never passes.
 *
 * Room: breadth first from the key's buckets to one with a FREE slot,
 * through READY keys' other buckets, read without a lock; the path's
 * moves go last first, each rechecking what it moves (fg__cuckoo_move()).
 * A move whose key's stripe is held waits: for a live mover, yielding; a
 * killed one's until its stripe is stale and taken over (busy_again()).
 * A search that fails has read FG_CK_BFS_NODES buckets and hashed the key
 * of every slot in them: in a table full of buckets nobody may evict,
 * every new key would pay that (25 us at 100 k keys, table_bench).  So it
 * leaves the count of slots freed it started from (*vain, plus one), and
 * no insert searches again until a slot is freed for good (removed,
 * evicted, reaped; freed_one()).  Another key's search might have found
 * what this one did not, but only in a table past its capacity (at 0.875
 * none fails: test_cuckoo's million keys), whose room the owner's
 * eviction makes.  Only in a table of more buckets than a search visits
 * (t->hint): a small one's search covers the part of the table its key
 * can reach, another key's part may still have room, and the search
 * costs little there (a table full to its last slot: test_metrics).
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "shm/cuckoo_int.h"

struct node {
	uint64_t b;     /* a bucket a path reaches */
	int32_t parent; /* the node whose slot @slot's key goes to @b */
	uint8_t slot;   /* that slot in the parent's bucket */
	uint8_t depth;  /* moves to get here */
};

static int is_free(const struct fg_cuckoo *t, uint64_t b, unsigned i)
{
	return FG_CK_STATE(fg__load(&t->s[b * FG_CK_WAYS + i].word)) ==
	       FG_CK_FREE;
}

static int free_at(const struct fg_cuckoo *t, uint64_t b, unsigned *hole)
{
	unsigned i;

	for (i = 0; i < FG_CK_WAYS; i++)
		if (is_free(t, b, i)) {
			*hole = i;
			return 1;
		}
	return 0;
}

/* Breadth first from @k's buckets to one with a FREE slot, visiting at
 * most @nodes buckets: its node, with *@hole that slot, or -1.  Reads
 * without a lock: moves recheck. */
static int bfs(struct fg_cuckoo *t, const struct fg_ck_key *k, struct node *n,
               unsigned nodes, unsigned *hole)
{
	unsigned head, tail = 2, i;

	n[0] = (struct node){k->x, -1, 0, 0};
	n[1] = (struct node){k->y, -1, 0, 0};
	for (head = 0; head < tail; head++) {
		if (free_at(t, n[head].b, hole))
			return (int)head;
		if (n[head].depth == FG_CK_PATH_MAX)
			continue;
		for (i = 0; i < FG_CK_WAYS && tail < nodes; i++) {
			const struct fg_slot *s =
			    &t->s[n[head].b * FG_CK_WAYS + i];
			uint64_t w = fg__load(&s->word);
			struct fg_ck_key sk;

			if (FG_CK_STATE(w) != FG_CK_READY)
				continue;
			fg__ck_key_of(t, s, w, &sk);
			n[tail++] = (struct node){other(&sk, n[head].b),
			                          (int32_t)head, (uint8_t)i,
			                          (uint8_t)(n[head].depth + 1)};
		}
	}
	return -1;
}

/* Free a slot in one of @k's buckets by moves, the path's last first,
 * searching at most @nodes buckets; -ENOSPC without a search if a whole
 * one failed and no slot was freed since. */
static int make_room(struct fg_cuckoo *t, const struct fg_ck_key *k,
                     unsigned nodes)
{
	const uint64_t f = __atomic_load_n(t->frees, __ATOMIC_ACQUIRE);
	struct node n[FG_CK_BFS_NODES];
	unsigned hole;
	int e;

	if (t->hint && __atomic_load_n(t->vain, __ATOMIC_RELAXED) == f + 1)
		return -ENOSPC;
	HOOK(t, FG_CK_AT_SEARCH, NULL);
	e = bfs(t, k, n, nodes, &hole);
	if (e < 0) {
		if (t->hint && nodes == FG_CK_BFS_NODES)
			__atomic_store_n(t->vain, f + 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	while (n[e].parent >= 0) {
		const struct node *p = &n[n[e].parent];

		if (fg__cuckoo_move(t, p->b, n[e].slot, hole) != 0)
			return -EBUSY;
		hole = n[e].slot;
		e = n[e].parent;
	}
	return 0;
}

/* A FREE slot of @k's buckets, in the emptier one, or NULL. */
static struct fg_slot *free_slot(struct fg_cuckoo *t, const struct fg_ck_key *k)
{
	unsigned hx = 0, hy = 0, i, used[2] = {0, 0};
	int fx = free_at(t, k->x, &hx), fy = free_at(t, k->y, &hy);

	for (i = 0; i < FG_CK_WAYS; i++) {
		used[0] += !is_free(t, k->x, i);
		used[1] += !is_free(t, k->y, i);
	}
	if (fx && (!fy || used[0] <= used[1]))
		return &t->s[k->x * FG_CK_WAYS + hx];
	if (fy)
		return &t->s[k->y * FG_CK_WAYS + hy];
	return NULL;
}

/* A rival claim in the way: mark it DEAD once stale, else let it run. */
static void wait_for(struct fg_cuckoo *t, struct fg_slot *s)
{
	uint64_t now = now_ms();
	struct fg_pair p;

	HOOK(t, FG_CK_AT_WAIT, s);
	fg__pair_load(s, &p);
	if (FG_CK_STATE(p.word) == FG_CK_CLAIMED &&
	    token_age(p.tat, now) > t->stale_ms)
		(void)swap(s, p.tat, p.word, now, WITH(p.word, FG_CK_DEAD));
	else
		sched_yield();
}

/* Our claim @D (token @tok, word @cw) of @k: publish it, or give it back
 * (-EAGAIN: start over) to the key or to an earlier claim for it, or when
 * the reap is judging a long key's record (token @rtok: cuckoo_rec.c). */
static int settle(struct fg_cuckoo *t, const struct fg_ck_key *k,
                  struct fg_slot *D, uint64_t tok, uint64_t cw, uint64_t rtok)
{
	struct survey v;

	for (;;) {
		fg__ck_survey(t, k, D, &v);
		if (v.ready || v.moving || v.copy || v.before) {
			(void)swap(D, tok, cw, 0, FREED(cw));
			return -EAGAIN;
		}
		if (v.after == NULL)
			break;
		wait_for(t, v.after);
	}
	if (k->ext && !fg__ck_rec_still(t, k->b[1], rtok)) {
		(void)swap(D, tok, cw, 0, FREED(cw));
		return -EAGAIN;
	}
	if (swap(D, tok, cw, 0, WITH(cw, FG_CK_READY)))
		return 1;
	return -EAGAIN; /* marked DEAD by a rival that found us stale */
}

/* Claim the FREE slot @D for @k, a long key's record taken first, and
 * settle the claim: 1 published, else the record given back too. */
static int place(struct fg_cuckoo *t, const struct fg_ck_key *k,
                 struct fg_slot *D)
{
	struct fg_ck_key ck = *k; /* a long one's slot bytes name its record */
	uint64_t tok, cw, rtok = 0;
	int rc = -EAGAIN;

	if (ck.ext && fg__ck_rec_take(t, &ck, &rtok) != 0)
		return -ENOSPC;
	tok = fg__ck_claim(t, D, FG_CK_WORD(ck.ident, FG_CK_CLAIMED, 0, 0), &ck,
	                   &cw);
	if (tok != 0) {
		HOOK(t, FG_CK_AT_CLAIMED, D);
		rc = settle(t, &ck, D, tok, cw, rtok);
	}
	if (rc != 1 && ck.ext)
		fg__ck_rec_drop(t, ck.b[1], rtok);
	return rc;
}

/* One attempt: 1 inserted, 0 found, -EAGAIN start over, -EBUSY or
 * -ENOSPC no room made. */
static int insert_once(struct fg_cuckoo *t, const struct fg_ck_key *k,
                       unsigned nodes)
{
	struct fg_slot *D;
	struct survey v;
	struct fg_pair p;

	fg__ck_survey(t, k, NULL, &v);
	if (v.ready || v.moving || v.copy)
		return fg__cuckoo_get(t, k, &p) != NULL ? 0 : -EAGAIN;
	if (v.before != NULL) {
		wait_for(t, v.before);
		return -EAGAIN;
	}
	D = free_slot(t, k);
	if (D == NULL) {
		int rc = make_room(t, k, nodes);

		return rc == 0 ? -EAGAIN : rc;
	}
	return place(t, k, D);
}

/*
 * Whether an insert whose path a move holds (-EBUSY) tries again, after
 * a pause: 1 until twice stale_ms past its first -EBUSY (*@until, 0
 * until then).  A live mover is done in microseconds; a killed one's
 * stripe is taken over once stale_ms old (cuckoo.c), so the insert
 * outlasts it.  Giving up sooner left the key without a bucket, its
 * check uncounted, for as long as the dead stripe was fresh.  The first
 * FG_CK_YIELDS pauses yield (a preempted mover), the rest sleep a
 * millisecond (a dead one: nothing to gain by spinning).
 */
static int busy_again(const struct fg_cuckoo *t, uint64_t *until,
                      unsigned *tries)
{
	static const struct timespec ms = {0, 1000000};
	uint64_t now = now_ms();

	if (*until == 0)
		*until = now + 2 * (uint64_t)t->stale_ms + 1;
	if (now > *until)
		return 0;
	if (++*tries < FG_CK_YIELDS)
		(void)sched_yield();
	else
		(void)nanosleep(&ms, NULL);
	return 1;
}

int fg__cuckoo_insert_within(struct fg_cuckoo *t, const struct fg_ck_key *k,
                             unsigned nodes)
{
	uint64_t until = 0;
	unsigned tries = 0;
	int rc;

	if (nodes < 2 || nodes > FG_CK_BFS_NODES)
		nodes = FG_CK_BFS_NODES;
	for (;;) {
		rc = insert_once(t, k, nodes);
		if (rc == -EBUSY && busy_again(t, &until, &tries))
			continue;
		if (rc == -EBUSY)
			return -EAGAIN;
		if (rc != -EAGAIN)
			return rc;
	}
}

int fg__cuckoo_insert(struct fg_cuckoo *t, const struct fg_ck_key *k)
{
	return fg__cuckoo_insert_within(t, k, FG_CK_BFS_NODES);
}
