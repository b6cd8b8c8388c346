/* SPDX-License-Identifier: ISC */
/*
 * client.h - what a fg_client holds (private to the library and daemon).
 */
#ifndef FG_LIB_CLIENT_H
#define FG_LIB_CLIENT_H

#include <stdint.h>
#include <string.h>
/* ASan, which GCC announces with __SANITIZE_ADDRESS__ and clang (before
 * 15) only through __has_feature, reports the peek's harmless over-read */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FG_ASAN 1
#endif
#endif
#if defined(__SSE2__) && !defined(__SANITIZE_ADDRESS__) && !defined(FG_ASAN)
#include <emmintrin.h>
#define FG_SSE2_PEEK 1 /* may read past a string's end, within its page */
#endif

#include "lib/floodgate.h"
#include "lib/penalty.h"
#include "shm/hash.h"
#include "shm/pair.h"
#include "shm/override.h"
#include "shm/segment.h"
#include "shm/window.h"

#define FG_NAME_MAP     512u /* open-addressing map of rule names, private */
#define FG_RECENT_RULES 4u   /* names a worker finds without the map */

/* A rule's parameters as this process last validated them. */
struct fg_rule_cache {
	uint64_t seq; /* the rule record's seq they were read at */
	uint64_t interval_ns;
	uint64_t interval_inv; /* fg__recip(interval_ns) */
	uint64_t tau_ns;       /* a window rule's: fg__win_span() */
	uint64_t max_delay_ns; /* fg_reserve(): tau_ns + this at most */
	uint32_t capacity;
	uint32_t flags; /* 0 when the rule is absent, removed or invalid */
	struct fg_penalty pen; /* all 0 without FG__RULE_PENALTY */
};

struct fg_client {
	struct fg_seg seg;
	uint64_t nnames;                /* rule names copied into names[] */
	int recent[FG_RECENT_RULES];    /* rules last looked up, or -1; [0]
	                                 * the last */
	unsigned recent_next;           /* the next of recent[1..] to go */
	int many_hint[FG_TRIPLES_MAX];  /* a multi-rule check's rules, by
	                                 * position, last time (or -1) */
	uint8_t name_map[FG_NAME_MAP];  /* index + 1; 0: empty */
	uint8_t name_len[FG_MAX_RULES]; /* strlen of names[i] */
	struct fg_rule_cache rc[FG_MAX_RULES];
	struct fg_win win[FG_MAX_RULES]; /* a window rule's, as of rc[i] */
	char names[FG_MAX_RULES][FG_RULE_NAME_MAX + 1];
	/* For tests: run at each stage of a multi-rule check (many.c), where
	 * another process may act (NULL: nothing). */
	void (*many_hook)(fg_client *c, unsigned stage, void *arg);
	void *many_arg;
	/* For tests: run by fg__override_set() between an entry's bits in
	 * the filter and the entry (NULL: nothing). */
	void (*ovr_hook)(fg_client *c, void *arg);
	void *ovr_arg;
	/* Buckets this handle's owner moves (debits, restores) changed: they
	 * mark no block for the harvest, and the daemon's snapshot must
	 * know that the buckets changed (daemon/persist.c). */
	uint64_t owner_moves;
};

/* Rule index of @name, or -1. */
int fg__rule_index(fg_client *c, const char *name);

/* The same, trying *@hint first, and leaving the answer there: a caller
 * that asks for the same few names in the same order (the triples of a
 * multi-rule check) compares one name each. */
int fg__rule_index_hint(fg_client *c, const char *name, int *hint);

/* The index of the rule in force named @rule, with its parameters in
 * *@rc; or FG_ENORULE. */
int fg__active_rule(fg_client *c, const char *rule,
                    const struct fg_rule_cache **rc);

/* strnlen(@s, FG_KEY_MAX + 1), without a call when 80 bytes from @s stay
 * in its page (a check's keys are short: one 16-byte compare). */
static inline size_t fg__key_strlen(const char *s)
{
#ifdef FG_SSE2_PEEK
	if (((uintptr_t)s & 4095) <= 4096 - 80) {
		const __m128i zero = _mm_setzero_si128();
		size_t off;

		for (off = 0; off < 80; off += 16) {
			unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			    _mm_loadu_si128(
			        (const __m128i *)(const void *)(s + off)),
			    zero));

			if (m)
				return off + (unsigned)__builtin_ctz(m);
		}
		return 80; /* longer than FG_KEY_MAX */
	}
#endif
	return strnlen(s, FG_KEY_MAX + 1);
}

/* The argument checks of fg_allow(): 0 with *@len set, or the error. */
static inline int fg__key_args(const fg_client *c, const char *rule,
                               const char *key, size_t *len)
{
	if (c == NULL || rule == NULL)
		return FG_EINVAL;
	if (key == NULL || key[0] == '\0')
		return FG_EKEY;
	*len = fg__key_strlen(key);
	return *len > FG_KEY_MAX ? FG_EKEYLEN : 0;
}

/* Re-read rule @idx's parameters (the owner changed them). */
const struct fg_rule_cache *fg__rule_refresh(fg_client *c, unsigned idx);

/* The rule's parameters, re-read if the owner changed them: one load of
 * the rule record's seq when it did not. */
static inline const struct fg_rule_cache *fg__rule_params(fg_client *c,
                                                          unsigned idx)
{
	if (__atomic_load_n(&c->seg.rules[idx].seq, __ATOMIC_ACQUIRE) !=
	    c->rc[idx].seq)
		return fg__rule_refresh(c, idx);
	return &c->rc[idx];
}

/* Write @p as rule @idx's next live copy (caller holds the owner lock). */
void fg__params_publish(fg_client *c, unsigned idx,
                        const struct fg_rule_params *p);

/*
 * Overrides (shm/override.c).  fg__override_apply: the parameters of
 * rule @idx (@rc, which has overrides) for @key, whose entries the
 * filter may hold are in *@k (fg__ovr_filter()): with the key's
 * override, a copy in *@buf with its capacity and rate; @rc when it has
 * none (a false positive of the filter, or an entry removed since).
 */
const struct fg_rule_cache *fg__override_apply(fg_client *c, unsigned idx,
                                               const struct fg_rule_cache *rc,
                                               const void *key, size_t len,
                                               const struct fg_ovr_cands *k,
                                               struct fg_rule_cache *buf);

/* The parameters a check of @key, whose hash in the bucket table is @h,
 * applies: the rule's own unless the rule has overrides (one bit of its
 * private copy: nothing else is read).  With overrides, the filter's
 * words inline, and a call only for a key the filter may hold. */
static inline __attribute__((always_inline)) const struct fg_rule_cache *
fg__rule_key_h(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
               const void *key, size_t len, uint64_t h,
               struct fg_rule_cache *buf)
{
	struct fg_ovr_cands k;

	if (__builtin_expect(!(rc->flags & FG__RULE_OVERRIDES), 1))
		return rc;
	if (!fg__ovr_filter(c->seg.ovr, c->seg.tbl.seed, idx, key, len, h, &k))
		return rc;
	return fg__override_apply(c, idx, rc, key, len, &k, buf);
}

/* The same for a caller that has not hashed the key: with overrides,
 * the hash is made here too. */
static inline const struct fg_rule_cache *
fg__rule_key(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
             const void *key, size_t len, struct fg_rule_cache *buf)
{
	if (__builtin_expect(!(rc->flags & FG__RULE_OVERRIDES), 1))
		return rc;
	return fg__rule_key_h(c, idx, rc, key, len,
	                      fg__hash64(c->seg.tbl.seed, idx, key, len), buf);
}

/* The override in effect for (@idx, @key): its exact entry, else its
 * longest prefix entry; 1 with *@out, or 0. */
static inline int fg__override_get(fg_client *c, unsigned idx, const void *key,
                                   size_t len, struct fg_ovr_entry *out)
{
	return fg__ovr_lookup(c->seg.ovr, c->seg.tbl.seed, idx, key, len,
	                      fg__hash64(c->seg.tbl.seed, idx, key, len), out);
}

/* The owner's (lib/ovrset.c): make @e (rule, kind, key, capacity, rate, period,
 * tier; the rest is computed) the override of its (rule, kind, key).  0, or
 * FG_EINVAL, FG_ERULE (no rate fg_rule_set() takes), FG_ENORULE,
 * FG_EKIND (an in-flight rule), FG_ENOMEM (the table has no room near
 * its home), or the lock's error. */
int fg__override_set(fg_client *c, const struct fg_ovr_entry *e);

/* The owner's: remove the override of (@idx, @kind, @key): 1 removed, 0
 * none, or FG_EINVAL or the lock's error. */
int fg__override_remove(fg_client *c, unsigned idx, unsigned kind,
                        const void *key, size_t len);

/* The next live override from *@cursor (0 to start): 1 with *@out, 0 at
 * the end. */
static inline int fg__override_next(fg_client *c, unsigned *cursor,
                                    struct fg_ovr_entry *out)
{
	return fg__ovr_next(c->seg.ovr, cursor, out);
}

/*
 * Find the bucket of (@idx, @key), whose hash is @h, inserting it if it is
 * absent and making room as a check does when there is none (at @now),
 * and copy its pair into *@p, consistent with @ref (the slot still held
 * the bucket after it was copied) and never an eviction's mark (an
 * eviction met on the way is finished).  1 found; 0 when the table has
 * no room.
 */
int fg__bucket_find(fg_client *c, unsigned idx, const void *key, size_t len,
                    uint64_t h, uint64_t now, struct fg_ref *ref,
                    struct fg_pair *p);

/* One (rule, key, cost) of a multi-rule check, the rule by index and the
 * key as counted bytes (1..FG_KEY_MAX), all checked by the caller. */
struct fg__triple {
	unsigned rule;
	const void *key;
	size_t len;
	uint32_t cost;
};

/*
 * fg_allow_many() at @now for @n (1..FG_TRIPLES_MAX) triples whose rules
 * are active and admit their costs: 1 all taken, 0 denied and nothing
 * taken; *@which (if not NULL) gets the position of the triple @d
 * describes.  Never an error.
 */
int fg__check_many(fg_client *c, const struct fg__triple *in, unsigned n,
                   uint64_t now, fg_decision *d, unsigned *which);

/* The same as a reservation (fg_reserve_many()): each rule's tolerance
 * stretched by its max delay, *@delay_ns the longest wait of them. */
int fg__reserve_many(fg_client *c, const struct fg__triple *in, unsigned n,
                     uint64_t now, uint64_t *delay_ns, fg_decision *d,
                     unsigned *which);

/* The answer for a key the table has no room for: the rule's fail policy
 * (a shadow rule never denies), counted in its table_full. */
int fg__untracked(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                  fg_decision *d);

/*
 * fg_reserve() at @now for rule @idx, whose parameters @rc are active and
 * admit @cost, and a key of @len bytes: 1 reserved, to go after
 * *@delay_ns; 0 denied, nothing taken.  Never an error.
 */
int fg__reserve_at(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                   const void *key, size_t len, uint32_t cost, uint64_t now,
                   uint64_t *delay_ns, fg_decision *d);

/*
 * fg_acquire() at @now for the in-flight rule @idx whose parameters are
 * @rc (active), and a key of @len bytes: 1 with *@lease, 0 denied.  And
 * fg_release() at @now.  For tests that choose the time, too.
 */
int fg__acquire_at(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                   const void *key, size_t len, uint64_t now, fg_lease *lease,
                   fg_decision *d);
int fg__release_at(fg_client *c, fg_lease *lease, uint64_t now);

/* The argument checks of a call on (@rule, @key, @cost), as fg_allow()
 * makes them: the rule's index, with *@len and *@rc set, or the error.
 * @kind: 0 for a rule of tokens, FG__RULE_IN_FLIGHT for one of leases
 * (whose cost is not checked); FG_EKIND for a rule of the other kind.
 * *@rc is the key's parameters (an override's in *@buf).  With @hint, the
 * rule's name is looked up by fg__rule_index_hint(). */
static inline int fg__call_args_hint(fg_client *c, const char *rule,
                                     const char *key, unsigned kind,
                                     uint32_t cost, size_t *len,
                                     const struct fg_rule_cache **rc,
                                     struct fg_rule_cache *buf, int *hint)
{
	int idx, r = fg__key_args(c, rule, key, len);

	if (r != 0)
		return r;
	idx = hint != NULL ? fg__rule_index_hint(c, rule, hint)
	                   : fg__rule_index(c, rule);
	if (idx < 0)
		return FG_ENORULE;
	*rc = fg__rule_params(c, (unsigned)idx);
	if (!((*rc)->flags & FG__RULE_ACTIVE))
		return FG_ENORULE;
	if (((*rc)->flags & (FG__RULE_IN_FLIGHT | FG__RULE_STRICT)) != kind)
		return FG_EKIND;
	*rc = fg__rule_key(c, (unsigned)idx, *rc, key, *len, buf);
	if (kind == 0 && (cost == 0 || cost > (*rc)->capacity))
		return FG_ECOST;
	return idx;
}

static inline int fg__call_args(fg_client *c, const char *rule, const char *key,
                                unsigned kind, uint32_t cost, size_t *len,
                                const struct fg_rule_cache **rc,
                                struct fg_rule_cache *buf)
{
	return fg__call_args_hint(c, rule, key, kind, cost, len, rc, buf, NULL);
}

/* What fg__check() returns for a strict rule whose cost is valid: its
 * answer is fg__strict_check()'s (lib/allow.c). */
#define FG__STRICT 2

/* fg_allow() for a key of @len bytes (1..FG_KEY_MAX, any bytes). */
int fg__check(fg_client *c, unsigned rule, const void *key, size_t len,
              uint32_t cost, fg_decision *d);

/* The same at @now (CLOCK_MONOTONIC ns), for a rule whose parameters @rc
 * are active and admit @cost. */
int fg__check_at(fg_client *c, unsigned rule, const struct fg_rule_cache *rc,
                 const void *key, size_t len, uint32_t cost, uint64_t now,
                 fg_decision *d);

/* The check of a window rule, as fg__check_at. */
int fg__win_check_at(fg_client *c, unsigned rule,
                     const struct fg_rule_cache *rc, const void *key,
                     size_t len, uint32_t cost, uint64_t now, fg_decision *d);

/*
 * Debit @cost tokens of consumption reported by another host from the
 * bucket of (@rule, @key), creating it if needed: the bucket may go into
 * debt, TAT - now capped at @max_debt_ns.  For the daemon; never denies.
 * *@capped (if not NULL) gets the tokens the cap kept out.
 * Return: 0, FG_ENORULE, FG_ENOMEM (no room in the table), FG_EINVAL.
 */
int fg__debit(fg_client *c, unsigned rule, const void *key, size_t len,
              uint64_t cost, uint64_t max_debt_ns, uint64_t *capped);

/*
 * Make the bucket of (@rule, @key) carry at least @debt_ns of debt from
 * now (TAT >= now + @debt_ns), creating it if needed; never lowers it and
 * never counts as consumption.  For restoring a snapshot.
 * Return: 0, FG_ENORULE, FG_ENOMEM (no room in the table), FG_EINVAL.
 */
int fg__raise(fg_client *c, unsigned rule, const void *key, size_t len,
              uint64_t debt_ns);

/*
 * Make the bucket of (@rule, @key), of a window rule, count at least
 * @prev tokens in the previous window (sliding) and @cur in the current
 * one, creating it if needed; never lowers a count and never counts as
 * consumption.  For restoring a snapshot.  (fg__raise() changes nothing
 * in a window rule's bucket, nor this in a GCRA rule's.)
 * Return: 0, FG_ENORULE, FG_ENOMEM, FG_EINVAL.
 */
int fg__raise_window(fg_client *c, unsigned rule, const void *key, size_t len,
                     uint64_t prev, uint64_t cur);

/* Whole tokens left at @now in a bucket of rule @rule (active, with
 * parameters @rc) whose tat is @tat; negative while it is in debt. */
int64_t fg__tokens_left(fg_client *c, unsigned rule,
                        const struct fg_rule_cache *rc, uint64_t tat,
                        uint64_t now);

/*
 * Whole tokens left in the bucket of (@rule, @key) now, without taking
 * any and without creating the bucket (an absent key has a full one);
 * negative while the bucket is in debt.  For operators, tests and demos.
 * Return: 0 and *@left, FG_ENORULE, FG_EKEY, FG_EKEYLEN, FG_EINVAL.
 */
int fg__peek(fg_client *c, const char *rule, const void *key, size_t len,
             int64_t *left);

/* How many overrides each rule has in force (by index), for operators:
 * a pass over the override table. */
void fg__override_counts(fg_client *c, uint32_t n[FG_MAX_RULES]);

/*
 * 1 if the bucket of (@rule, @key) is full at @now_ns (absent, evicted,
 * TAT <= now, or nothing counted in a window rule's windows): whatever
 * was consumed from it before no longer matters to any decision.  0 if
 * not.  For the daemon's ledger.  FG_EINVAL.
 */
int fg__bucket_full(fg_client *c, unsigned rule, const void *key, size_t len,
                    uint64_t now_ns);

/*
 * Move the bucket of (@rule, @key) to max(TAT - @back_ns (not below now),
 * now + @debt_ns), creating it if needed; never counts as consumption.
 * A strict check's refund of a denial and its mirror of the fleet's
 * bucket (lib/strict.c).  Return: 0, FG_ENORULE, FG_ENOMEM, FG_EINVAL.
 */
int fg__settle(fg_client *c, unsigned rule, const void *key, size_t len,
               uint64_t back_ns, uint64_t debt_ns);

/*
 * fg_allow() on the strict rule @idx, whose parameters @rc are active and
 * admit @cost (lib/strict.c): the local pre-filter, then floodgated's
 * answer within FG_STRICT_WAIT_MS, or the rule's on-redis-down policy.
 */
int fg__strict_check(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                     const void *key, size_t len, uint32_t cost,
                     fg_decision *d);

/* 1 if @name is a rule name: 1..FG_RULE_NAME_MAX of [A-Za-z0-9_.:/-]. */
int fg__rule_name_ok(const char *name);

/* What is wrong with @rule, for fg_rule_set() and the daemon's config,
 * which must refuse the same rules; with FG__RULE_OK, *@interval_ns is
 * its ns per token. */
enum fg__rule_bad {
	FG__RULE_OK,
	FG__RULE_BAD_NAME,   /* FG_ENAME */
	FG__RULE_BAD_VALUE,  /* a zero, or unknown flags */
	FG__RULE_TOO_FAST,   /* more than a token per nanosecond */
	FG__RULE_TOO_LONG,   /* capacity / rate beyond FG_TAU_MAX of refill */
	FG__RULE_TOO_LATE,   /* the same with max_delay_ms added */
	FG__RULE_BAD_LEASES, /* in-flight: capacity, lease, or a rate's field */
	FG__RULE_BAD_PENALTY, /* penalty: flag and fields disagree, a zero, a
	                       * window of over 2^56 ns, or a block too long */
	FG__RULE_BAD_WINDOW,  /* a window rule: capacity not its rate, a delay,
	                       * or sliding over FG_SLIDING_WINDOW_MAX */
	FG__RULE_TWO_WINDOWS, /* both window flags: FG_EINVAL */
};
enum fg__rule_bad fg__rule_check(const fg_rule *rule, uint64_t *interval_ns);

/* After a denial by rule @idx of @rc (not a shadow's): the penalty, if
 * the rule has one (lib/penalty.c).  Inline, so that a rule without pays
 * a test of a flag. */
static inline void fg__penalize(fg_client *c, unsigned idx,
                                const struct fg_rule_cache *rc, const void *key,
                                size_t len, uint64_t now, struct fg_ref *ref,
                                struct fg_pair *p)
{
	if (__builtin_expect(
	        (rc->flags & (FG__RULE_PENALTY | FG__RULE_SHADOW)) ==
	            FG__RULE_PENALTY,
	        0))
		(void)fg__penalty(&c->seg.tbl, &c->seg.rules[idx], idx,
		                  &rc->pen, key, len, now, ref, p);
}

/* fg_create(); *@built (if not NULL) is 1 when it made a new segment
 * (the daemon then restores its snapshot). */
int fg__create(const char *segment, const fg_segment_opts *opts, unsigned flags,
               fg_client **out, int *built);

/* Allocate a client around an attached segment. */
int fg__client_new(struct fg_seg *seg, fg_client **out);

#endif
