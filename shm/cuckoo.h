/* SPDX-License-Identifier: ISC */
/*
 * cuckoo.h - layout C: a 2-choice bucketized cuckoo table of buckets.
 *
 * Every key has two buckets known from its hash, each one 64-byte line of
 * two 32-byte slots (struct fg_slot: the pair (tat, word), then 16 key
 * bytes), so a present key's check loads at most two lines whose
 * addresses it knows before any load, compares the key in place and
 * commits with one cmpxchg16b on the pair.  Load up to 0.875: an insert
 * whose buckets are full moves keys to their other bucket along a
 * breadth-first path (bench/layout_proto.c, BENCHMARKS.md).
 *
 * Long keys.  A key of 17-64 bytes (FG_CK_KEY_MAX) takes a slot like any
 * key, whose 16 key bytes then hold its hash and the index of its record:
 * the key, zero-padded, in a line of its own (FG_CK_REC_KEY bytes) in a
 * region after the buckets, and a head (token, hash: FG_CK_REC_HEAD
 * bytes) in an array beside.  Its check compares the hash in place, then
 * the record's line: one line more than a short key's.  Short keys never
 * read a record (the word's length tells them apart first), so their
 * bucket stays one line and their cost 36.6 bytes a key at 0.875 (54.9
 * with the cold part to come).  A long key, whatever its length, costs
 * its slot and a record: 36.6 + 80 = 116.6 bytes (134.9).  The region
 * holds nr records, sized by whoever makes the table for the long keys it
 * expects, nr * 80 bytes whether they come or not, every one usable: a
 * record is found by a scan of heads, never looked up by its place.  A
 * record is filled before the claim that names it, never moves (a move
 * copies the slot naming it), and is freed by whoever ends the last slot
 * naming it, or by the reap (cuckoo_rec.c).
 *
 * Still to come: the cold part, dirty marks and the stash.  A slot's
 * count is the key's, and moves with it.
 *
 * word = rule:8 | keylen:5 | clean:1 | state:3 | dest:1 | gen:4 |
 * count:42.  keylen is a short key's length (1-16), or FG_W_KEYLEN_REC
 * for a long key, whose length is in its slot's bytes beside its record's
 * index (FG_CK_REC_LEN): 2 bits of the word that go to the count.
 *
 * gen is the slot's: every claim of the slot (an insert's or a move's
 * destination) moves it by one and a freed slot keeps it, so a pair read
 * from a slot before its key left never matches a pair of the key that
 * reuses the slot (ABA): a check's cmpxchg16b on a stale pair fails even
 * when the new key has the same rule, length, tat and count (two fresh
 * keys: (0, count 0)).  Four bits are enough: a stale commit needs 16
 * claims of that one slot (each an insert or a move into it, each after
 * a removal, an eviction or a move out of it) between the check's read
 * of the pair and its cmpxchg16b, a few ns apart unless the checker is
 * descheduled, and then the key in the slot to have the rule, length,
 * tat and count read, which for a key that was ever checked means the
 * same tat to the ns.  With a whole table churning at 10^7 claims a
 * second over 10^6 slots, a slot is claimed 10 times a second: 16 claims
 * take a checker stopped for over a second, and a fresh key (tat 0)
 * landing there at that instant.  What it costs then is bounded and
 * never a lost count: the one check's cost is counted in the newcomer's
 * bucket (harvested as its consumption) instead of the key checked.
 * Eight bits would make that 16 times rarer at the price of the count's
 * range, which decides what a stopped daemon loses: count is modulo 2^42
 * (4.4e12 tokens: 73 minutes at 10^9 tokens a second for one key),
 * read as differences by a harvest that comes every round.
 *
 * A FREE slot is the pair (0, gen).  CLAIMED and COPY slots hold a token
 * in tat (FG_CK_TOKEN | ms:31 | serial:32, unique while it can matter); a
 * DEAD slot, the ms it was abandoned.  Invariants (cuckoo.c, and
 * cuckoo_rec.c for records, prove them):
 *  - a key is only ever in its two buckets, and exactly one slot holds
 *    its live pair (READY) at any instant, or none while it is frozen
 *    (MOVING) and not yet copied: nothing counts twice;
 *  - a check reads both buckets, and a miss is believed only once the
 *    key's stripe word read before and after X, Y, X is unchanged;
 *  - a record is named only by slots of its key's buckets, and freed
 *    only once none names it;
 *  - a process killed at any instruction leaves at most claims, COPY and
 *    MOVING slots, a held stripe and records no slot names, which
 *    fg__cuckoo_reap() undoes once they are older than the table's
 *    stale_ms (twice that for records).
 */
#ifndef FG_SHM_CUCKOO_H
#define FG_SHM_CUCKOO_H

#include <stddef.h>
#include <stdint.h>

#include "shm/layout.h"
#include "shm/pair.h"

#define FG_CK_WAYS      2u    /* slots a bucket: one line */
#define FG_CK_STRIPES   4096u /* stripe words: a move holds its key's */
#define FG_CK_KEY_MAX   64u   /* FG_SLOT_KEY_MAX */
#define FG_CK_INLINE    16u   /* key bytes in the slot; longer: a record */
#define FG_CK_REC_KEY   64u   /* a record's key: one line */
#define FG_CK_REC_HEAD  16u   /* and its head */
#define FG_CK_PATH_MAX  10u   /* moves an insert may make */
#define FG_CK_BFS_NODES 2048u /* buckets a path search may visit */
#define FG_CK_BFS_NEAR  16u   /* and a near one, before eviction */
#define FG_CK_HEAD      64u   /* the serial counter's line */
#define FG_CK_YIELDS    1024u /* held paths an insert yields for, then naps */

#define FG_CK_COUNT_MASK  ((UINT64_C(1) << 42) - 1)
#define FG_CK_GEN_SHIFT   42
#define FG_CK_GEN_MASK    (UINT64_C(0xf) << FG_CK_GEN_SHIFT)
#define FG_CK_DEST_SHIFT  46
#define FG_CK_STATE_SHIFT 47
#define FG_CK_STATE(w)    ((unsigned)((w) >> FG_CK_STATE_SHIFT) & 7u)
#define FG_CK_DEST(w)     ((unsigned)((w) >> FG_CK_DEST_SHIFT) & 1u)
#define FG_CK_GEN(w)      ((unsigned)((w) >> FG_CK_GEN_SHIFT) & 0xfu)
/* A long key's slot bytes: its hash, then its record's index (low 32
 * bits) and its length (the next 8); the word's keylen says only
 * "a record" (FG_W_KEYLEN_REC). */
#define FG_CK_REC_OF(b1)     ((b1)&UINT64_C(0xffffffff))
#define FG_CK_REC_LEN(b1)    ((unsigned)((b1) >> 32) & 0xffu)
#define FG_CK_REC_B1(r, len) ((r) | (uint64_t)(len) << 32)
#define FG_CK_COUNT(w)       ((w)&FG_CK_COUNT_MASK)
#define FG_CK_WORD(ident, state, dest, count)                                  \
	((ident) | ((uint64_t)(state) << FG_CK_STATE_SHIFT) |                  \
	 ((uint64_t)(dest) << FG_CK_DEST_SHIFT) | ((count)&FG_CK_COUNT_MASK))
#define FG_CK_TOKEN (UINT64_C(1) << 63)

enum fg_ck_state {
	FG_CK_FREE = 0,    /* (0, gen): anyone may claim it */
	FG_CK_CLAIMED = 1, /* an inserter writes its key */
	FG_CK_READY = 2,   /* a key's live pair */
	FG_CK_MOVING = 3,  /* frozen: its pair goes to slot dest of Y */
	FG_CK_COPY = 4,    /* a move's destination, key written */
	FG_CK_DEAD = 5,    /* an abandoned claim, FREE after stale_ms */
};

/* A process's view of a table in memory it was given (shared or not). */
struct fg_cuckoo {
	struct fg_slot *s;     /* 2 * nb slots, bucket b at s[2b] */
	uint64_t *stripes;     /* FG_CK_STRIPES words: seq:24 | ms:40 */
	uint64_t *serial;      /* tokens' serial numbers */
	uint64_t *frees;       /* slots freed, ever (serial's line) */
	uint64_t *vain;        /* 1 + frees when a path search last failed */
	int hint;              /* heed *vain: more buckets than a search sees */
	uint64_t nb;           /* buckets (at least 2) */
	uint64_t seed[2];      /* the hash's */
	uint64_t stale_ms;     /* a claim, COPY or stripe this old is dead */
	struct fg_ck_rkey *rk; /* nr records' keys */
	struct fg_ck_rhead *rh; /* and heads */
	uint64_t nr;            /* records (may be 0: no long keys) */
};

/* A long key's record: its bytes, then apart, who holds it. */
struct fg_ck_rkey {
	uint8_t b[FG_CK_REC_KEY]; /* zero-padded */
} __attribute__((aligned(64)));

struct fg_ck_rhead {
	uint64_t tok; /* 0: FREE; else FG_CK_TOKEN | ms:30 | serial:32 */
	uint64_t h;   /* its key's hash: where the slots naming it are */
} __attribute__((aligned(16)));

_Static_assert(sizeof(struct fg_ck_rkey) == FG_CK_REC_KEY, "a line");
_Static_assert(sizeof(struct fg_ck_rhead) == FG_CK_REC_HEAD, "a pair");
_Static_assert(FG_CK_KEY_MAX == FG_SLOT_KEY_MAX, "every key fits");
_Static_assert(FG_CK_INLINE == sizeof(((struct fg_slot *)0)->key),
               "a slot's key bytes");

/* A key and where it may be, computed once per operation. */
struct fg_ck_key {
	uint64_t ident; /* FG_W_MAKE(rule, len, 0) */
	unsigned len;   /* its length */
	uint64_t b[2];  /* a slot's key bytes: the key, zero-padded; or for
	                 * a long one its hash and its record (if known) */
	uint64_t h;     /* its hash */
	uint64_t x, y;  /* its buckets, x first in bucket order */
	int ext;        /* a long key (over FG_CK_INLINE bytes) */
	uint64_t full[FG_CK_KEY_MAX / 8]; /* a long key, zero-padded */
};

/* Bytes of memory for @nb buckets and @nr records; buckets for @keys
 * keys at 0.875. */
size_t fg__cuckoo_size(uint64_t nb, uint64_t nr);
uint64_t fg__cuckoo_buckets_for(uint64_t keys);

/*
 * Attach @t to @mem (64-aligned, fg__cuckoo_size(nb, nr) bytes, zero when
 * the table is new: every slot and record FREE).  Return 0, or -EINVAL.
 */
int fg__cuckoo_attach(struct fg_cuckoo *t, void *mem, uint64_t nb, uint64_t nr,
                      const uint64_t seed[2], uint64_t stale_ms);

/* Fill @k for (@rule, @key, @len); -EINVAL if @len is over 64. */
int fg__cuckoo_key(const struct fg_cuckoo *t, struct fg_ck_key *k,
                   unsigned rule, const void *key, size_t len);

/*
 * The slot holding @k's live pair, its pair in *@p, or NULL when the key
 * is absent (a miss confirmed by the stripe).  Helps a move it meets.
 */
struct fg_slot *fg__cuckoo_get(struct fg_cuckoo *t, const struct fg_ck_key *k,
                               struct fg_pair *p);

/*
 * Find or insert @k.  Return 1 inserted, 0 found, -ENOSPC when no path of
 * moves makes room (or none was searched for: a search failed and no
 * slot has been freed since; or no record is free for a long key),
 * -EAGAIN when moves kept failing under contention.
 */
int fg__cuckoo_insert(struct fg_cuckoo *t, const struct fg_ck_key *k);

/* The same, a search for a path of moves visiting at most @nodes buckets
 * (2 .. FG_CK_BFS_NODES): a near one, before eviction is tried. */
int fg__cuckoo_insert_within(struct fg_cuckoo *t, const struct fg_ck_key *k,
                             unsigned nodes);

/*
 * The check: take @cost tokens of a bucket (@T ns a token, @tau of burst)
 * at @now.  Return 1 admitted, 0 denied, -ENOENT if the key is absent.
 */
int fg__cuckoo_check(struct fg_cuckoo *t, const struct fg_ck_key *k,
                     uint64_t now, uint64_t T, uint64_t tau, uint64_t cost);

/*
 * Remove @k, only if its bucket is full at @full_at (tat <= @full_at: an
 * eviction decides as absence would) unless @full_at is UINT64_MAX.
 * Return 0, -ENOENT, -EBUSY (not full, or a move of it under way).
 */
int fg__cuckoo_remove(struct fg_cuckoo *t, const struct fg_ck_key *k,
                      uint64_t full_at);

/*
 * Move the key of slot @slot (0 or 1) of bucket @b to slot @dest of its
 * other bucket.  Return 0, -EAGAIN (not READY, @dest not FREE) or -EBUSY
 * (its stripe held).  Inserts call it along a path; tests, directly.
 */
int fg__cuckoo_move(struct fg_cuckoo *t, uint64_t b, unsigned slot,
                    unsigned dest);

/*
 * The owner's reap at @now_ms: finish or undo the moves of dead movers,
 * mark claims older than stale_ms DEAD and free DEAD slots older than
 * that, release stripes held that long.  Safe beside live workers.
 */
void fg__cuckoo_reap(struct fg_cuckoo *t, uint64_t now_ms);

/* CLOCK_MONOTONIC in ms, the unit of tokens, DEAD slots and stripes. */
uint64_t fg__cuckoo_now_ms(void);

#ifdef FG_CK_TEST_HOOKS
/*
 * Test builds only (tests/test_cuckoo.c compiles its own cuckoo.c with
 * FG_CK_TEST_HOOKS): fg__cuckoo_hook, when set, is called at the instants
 * below, where another process's steps could fall, so that a test plays
 * them there deterministically.  The library has no such pointer.
 */
enum fg_ck_at {
	FG_CK_AT_TAKE,    /* a check read @s's pair, before its cmpxchg16b */
	FG_CK_AT_CLAIMED, /* an insert claimed @s, before it looks again */
	FG_CK_AT_WAIT,    /* an insert waits for the later claim @s */
	FG_CK_AT_SEARCH,  /* an insert searches for a path of moves (@s NULL) */
};
extern void (*fg__cuckoo_hook)(struct fg_cuckoo *t, enum fg_ck_at at,
                               struct fg_slot *s);
#endif

#endif
