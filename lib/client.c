/* SPDX-License-Identifier: ISC */
/*
 * client.c - a worker's view of a segment, and the check itself.
 *
 * fg_allow() is the request path of every worker: after argument checks it
 * reads the clock, hashes the key, finds the bucket (table.h inline path)
 * and moves it with one double-width CAS.  No lock, no system call, no
 * allocation.  What it needs from the rule table comes from a private
 * cache keyed by the rule record's sequence number: one load of a
 * read-mostly line tells whether the owner changed the rule.
 *
 * Rule names are mapped to indices in private memory too, rebuilt when
 * the owner names a new rule; names are never renamed or recycled, so a
 * cached index stays right.
 */
#include "lib/client.h"

#include <stdlib.h>
#include <string.h>
#include <urcu/uatomic.h>

#include "lib/window.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/hash.h"
#include "shm/lease.h"
#include "shm/pair.h"
#include "shm/table.h"

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* Whether rule @idx is named @name: strcmp, without a call when 32 bytes
 * from @name stay in its page. */
static inline int name_is(const fg_client *c, unsigned idx, const char *name)
{
#ifdef FG_SSE2_PEEK
	if (((uintptr_t)name & 4095) <= 4096 - 32) {
		const char *n = c->names[idx];
		unsigned eq, need = (2u << c->name_len[idx]) - 1;

		eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		         _mm_loadu_si128((const __m128i *)(const void *)name),
		         _mm_loadu_si128((const __m128i *)(const void *)n))) |
		     (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		         _mm_loadu_si128(
		             (const __m128i *)(const void *)(name + 16)),
		         _mm_loadu_si128(
		             (const __m128i *)(const void *)(n + 16))))
		         << 16;
		/* bytes 0..len, the NUL included; len <= 31 */
		return (eq & need) == need;
	}
#endif
	return strcmp(c->names[idx], name) == 0;
}

static int map_find(const fg_client *c, const char *name)
{
	uint32_t h;

	for (h = name_hash(name);; h++) {
		unsigned e = c->name_map[h % FG_NAME_MAP];

		if (e == 0)
			return -1;
		if (strcmp(c->names[e - 1], name) == 0)
			return (int)e - 1;
	}
}

/* Copy in the names the owner added since we last looked. */
static void names_refresh(fg_client *c, uint64_t n)
{
	if (n > FG_MAX_RULES)
		n = FG_MAX_RULES; /* corrupt count: use what can be valid */
	cmm_smp_rmb();            /* names are written before nnames */
	for (; c->nnames < n; c->nnames++) {
		unsigned idx = (unsigned)c->nnames;
		char *name = c->names[idx];
		uint32_t h;

		memcpy(name, c->seg.rules[idx].name, FG_RULE_NAME_MAX);
		name[FG_RULE_NAME_MAX] = '\0';
		c->name_len[idx] = (uint8_t)strlen(name);
		if (name[0] == '\0' || map_find(c, name) >= 0)
			continue; /* corrupt: not findable */
		for (h = name_hash(name);; h++) {
			if (c->name_map[h % FG_NAME_MAP] == 0) {
				c->name_map[h % FG_NAME_MAP] =
				    (uint8_t)(idx + 1);
				break;
			}
		}
	}
}

/* fg__rule_index() past the most recent name: the others (left where
 * they are: a multi-rule check asks for its few in turn), then the map,
 * whose answer becomes the most recent. */
static __attribute__((noinline)) int rule_index_slow(fg_client *c,
                                                     const char *name)
{
	unsigned i;
	int idx;

	for (i = 1; i < FG_RECENT_RULES; i++)
		if (c->recent[i] >= 0 &&
		    name_is(c, (unsigned)c->recent[i], name))
			return c->recent[i];
	idx = map_find(c, name);
	if (idx >= 0) {
		i = c->recent_next; /* the oldest of recent[1..] goes */
		c->recent_next = i % (FG_RECENT_RULES - 1) + 1;
		c->recent[i] = c->recent[0];
		c->recent[0] = idx;
	}
	return idx;
}

int fg__rule_index(fg_client *c, const char *name)
{
	uint64_t n = uatomic_read(&c->seg.tbl.hdr->nnames);

	if (n > c->nnames) /* names are only ever added */
		names_refresh(c, n);
	/* A worker mostly asks about one rule, or the few of a multi-rule
	 * check: skip the hash for them. */
	if (c->recent[0] >= 0 && name_is(c, (unsigned)c->recent[0], name))
		return c->recent[0];
	return rule_index_slow(c, name);
}

int fg__rule_index_hint(fg_client *c, const char *name, int *hint)
{
	/* a name, once given to an index, is never taken back */
	if (*hint >= 0 && name_is(c, (unsigned)*hint, name))
		return *hint;
	*hint = fg__rule_index(c, name);
	return *hint;
}

/* Whether @p are parameters this reader may use: of a kind it knows,
 * and of sizes no arithmetic of that kind overflows with. */
static int flags_sane(const struct fg_rule_params *p)
{
	if (!(p->flags & FG__RULE_ACTIVE) || (p->flags & ~FG__RULE_KNOWN))
		return 0;
	if ((p->flags & FG__RULE_WINDOWS) && !fg__win_params_sane(p))
		return 0;
	return !(p->flags & FG__RULE_STRICT) ||
	       !(p->flags &
	         (FG__RULE_GLOBAL | FG__RULE_SHADOW | FG__RULE_IN_FLIGHT |
	          FG__RULE_WINDOWS | FG__RULE_PENALTY));
}

static int params_sane(const struct fg_rule_params *p)
{
	if (!flags_sane(p) || p->interval_ns == 0 || p->capacity == 0)
		return 0;
	if (p->flags & FG__RULE_IN_FLIGHT)
		return p->capacity <= FG_LEASE_COUNT_MAX &&
		       p->max_delay_ns == 0 && fg__penalty_sane(p) &&
		       p->interval_ns % FG_LEASE_QUANTUM_NS == 0 &&
		       p->interval_ns <= fg__lease_epoch_ns(FG_LEASE_MAX_MS);
	return p->capacity <= FG_TAU_MAX / p->interval_ns &&
	       p->max_delay_ns <= FG_TAU_MAX - p->capacity * p->interval_ns &&
	       fg__penalty_sane(p);
}

static void params_refresh(fg_client *c, unsigned idx)
{
	struct fg_rule_rec *r = &c->seg.rules[idx];
	struct fg_rule_cache *rc = &c->rc[idx];
	struct fg_rule_params p;
	uint64_t s1, s2;
	unsigned tries = 0;

	do {
		s1 = uatomic_read(&r->seq);
		cmm_smp_rmb();
		memcpy(&p, (const void *)&r->params[s1 & 1], sizeof p);
		cmm_smp_rmb();
		s2 = uatomic_read(&r->seq);
	} while (s1 != s2 && ++tries < 1000);

	rc->seq = s2;
	rc->flags = 0;
	/* Only a consistent, sane copy is used: a corrupt or torn rule reads
	 * as absent rather than as a division by zero. */
	if (s1 != s2 || s1 == 0 || !params_sane(&p)) {
		rc->seq = s1 != s2 ? UINT64_MAX : s2;
		return;
	}
	rc->interval_ns = p.interval_ns;
	rc->interval_inv = fg__recip(p.interval_ns);
	/* no burst window for leases: nothing of tokens reads it */
	rc->tau_ns = p.flags & FG__RULE_IN_FLIGHT
	                 ? 0
	                 : (uint64_t)p.capacity * p.interval_ns;
	rc->max_delay_ns = p.max_delay_ns;
	rc->capacity = p.capacity;
	fg__penalty_of(&p, &rc->pen);
	if (fg__win_set(&c->win[idx], p.flags, p.period_ms, p.capacity))
		rc->tau_ns = fg__win_span(&c->win[idx]); /* what counts */
	rc->flags = p.flags;
}

const struct fg_rule_cache *fg__rule_refresh(fg_client *c, unsigned idx)
{
	params_refresh(c, idx);
	return &c->rc[idx];
}

int fg__untracked(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                  fg_decision *d)
{
	int allowed = !(rc->flags & FG__RULE_FAIL_CLOSED);
	unsigned flags = FG_DECISION_UNTRACKED;

	uatomic_inc(&c->seg.rules[idx].table_full);
	if (!allowed && (rc->flags & FG__RULE_SHADOW)) {
		allowed = 1; /* a shadow rule never denies */
		flags |= FG_DECISION_SHADOW;
	}
	if (d) {
		d->limit = rc->capacity;
		d->remaining = 0;
		d->retry_after_ms =
		    allowed ? 0 : fg__ns_to_ms_ceil(rc->interval_ns);
		d->reset_ms = 0;
		d->flags = flags;
		d->rule = idx;
	}
	return allowed;
}

/* Workers make room only with buckets nobody else is owed anything for:
 * a host-scope rule's (a global rule's consumption may not have been
 * harvested yet: the daemon evicts those); and a rule at its quota only
 * with its own (shm/quota.c). */
struct evictable {
	fg_client *c;
	int only; /* the one rule whose buckets may go, or -1: any */
};

static int worker_may_evict(void *arg, unsigned rule)
{
	const struct evictable *e = arg;

	if (rule >= FG_MAX_RULES || (e->only >= 0 && rule != (unsigned)e->only))
		return 0;
	return (fg__rule_params(e->c, rule)->flags &
	        (FG__RULE_ACTIVE | FG__RULE_GLOBAL)) == FG__RULE_ACTIVE;
}

/* Whose full buckets a worker's insert of a key of rule @idx may evict
 * (*@e, filled in): @idx's alone if @own (at its quota, or before a path
 * of moves is looked for), else any host-scope rule's. */
static void room_of(fg_client *c, unsigned idx, int own, uint64_t now,
                    struct evictable *e, struct fg_room *room)
{
	e->c = c;
	e->only = own ? (int)idx : -1;
	room->evictable = worker_may_evict;
	room->arg = e;
	room->now = now;
}

/* After an insert of a key of rule @idx found no room (@ref says why):
 * 1 if room was made, a few times at most (others may take it, and a
 * full window must stay bounded work); else 0, a quota's refusal
 * counted. */
static int room_for(fg_client *c, unsigned idx, const struct fg_ref *ref,
                    uint64_t h, uint64_t now, int *tries)
{
	struct evictable e;
	struct fg_room room;

	room_of(c, idx, (int)ref->over_quota, now, &e, &room);
	if ((*tries)++ < 4 && fg__table_make_room(&c->seg.tbl, h, &room))
		return 1;
	if (ref->over_quota)
		uatomic_inc(&c->seg.rules[idx].over_quota);
	return 0;
}

/* The decision's details of a bucket left at @next by a check at @now:
 * 1 admitted, else 0 (or 1 for a shadow rule). */
static int decide(unsigned idx, const struct fg_rule_cache *rc, uint64_t next,
                  uint64_t now, uint32_t cost, int admitted, fg_decision *d)
{
	if (d) {
		d->limit = rc->capacity;
		d->remaining = (uint32_t)fg__gcra_remaining_inv(
		    next, now, rc->interval_ns, rc->interval_inv, rc->tau_ns);
		d->retry_after_ms = 0;
		d->reset_ms = fg__ns_to_ms_ceil(fg__gcra_reset(next, now));
		d->flags = 0;
		d->rule = idx;
	}
	if (admitted)
		return 1;
	if (rc->flags & FG__RULE_SHADOW) {
		if (d)
			d->flags = FG_DECISION_SHADOW;
		return 1;
	}
	if (d)
		d->retry_after_ms = fg__ns_to_ms_ceil(fg__gcra_wait(
		    next, now, rc->interval_ns, rc->tau_ns, cost));
	return 0;
}

int fg__bucket_find(fg_client *c, unsigned idx, const void *key, size_t len,
                    uint64_t h, uint64_t now, struct fg_ref *ref,
                    struct fg_pair *p)
{
	struct fg_table *t = &c->seg.tbl;
	struct fg_slot *s = fg__table_find_home(t, idx, key, len, h, ref);
	struct evictable e;
	struct fg_room home;
	int room = 0;

	if (s != NULL) {
		fg__pair_load(s, p);
		if (fg__ref_valid(ref) && p->tat != FG_TAT_EVICTED)
			return 1;
	}
	room_of(c, idx, 1, now, &e, &home);
	for (;;) {
		s = fg__table_find_evict(t, idx, key, len, h, ref, &home);
		if (s == NULL) {
			if (room_for(c, idx, ref, h, now, &room))
				continue;
			return 0;
		}
		fg__pair_load(s, p);
		if (!fg__ref_valid(ref))
			continue;
		if (p->tat != FG_TAT_EVICTED)
			return 1;
		fg__table_bury(t, ref); /* evicted under us: absent now */
	}
}

/*
 * The check in general: a key anywhere in its window, absent, being
 * evicted, or under contention; room made when there is none.
 */
static __attribute__((noinline)) int
check_slow(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
           const void *key, size_t len, uint32_t cost, uint64_t now, uint64_t h,
           unsigned seen, fg_decision *d)
{
	struct fg_table *t = &c->seg.tbl;
	struct evictable e;
	struct fg_room home;
	struct fg_slot *s;
	struct fg_ref ref;
	struct fg_pair p;
	uint64_t next;
	int admitted, room = 0;

	room_of(c, idx, 1, now, &e, &home);
	/* The inline path has looked at both buckets already (@seen). */
	s = fg__table_lookup_from(t, idx, key, len, h, seen, &ref);
	if (s != NULL)
		goto found;
find:
	s = fg__table_find_evict(t, idx, key, len, h, &ref, &home);
	if (s == NULL) {
		if (room_for(c, idx, &ref, h, now, &room))
			goto find;
		return fg__untracked(c, idx, rc, d);
	}
found:
	fg__pair_load(s, &p);
	if (!fg__ref_valid(&ref))
		goto find; /* its slot changed meanwhile: look again */
	for (;;) {
		admitted = fg__gcra_take(p.tat, now, rc->interval_ns,
		                         rc->tau_ns, cost, &next);
		if (!admitted) {
			if (p.tat == FG_TAT_EVICTED) {
				/* evicted under us: the key is absent now */
				fg__table_bury(t, &ref);
				goto find;
			}
			fg__table_deny(t, &ref); /* for operators */
			fg__penalize(c, idx, rc, key, len, now, &ref, &p);
			next = p.tat;
			break;
		}
		if (fg__pair_advance(s, &p, next, cost)) {
			/* the first admission since the owner's harvest */
			if (p.word & FG_W_CLEAN)
				fg__table_touch(t, fg__ref_block(t, &ref));
			break;
		}
		/* The pair moved: by another check, or the key moved or was
		 * evicted (the slot no longer holds it: shm/table.c). */
		if (!fg__ref_valid(&ref))
			goto find;
	}
	return decide(idx, rc, next, now, cost, admitted, d);
}

/*
 * The check at @now.  Inline, the common case: the key in one of its two
 * buckets, not being moved, admits: one cmpxchg16b.  Anything else is
 * check_slow's.
 */
static inline __attribute__((always_inline)) int
check_h(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
        const void *key, size_t len, uint64_t h, uint32_t cost, uint64_t now,
        fg_decision *d)
{
	struct fg_table *t = &c->seg.tbl;
	uint64_t next;
	struct fg_ref ref;
	struct fg_pair p;
	struct fg_slot *s = fg__table_find_home(t, idx, key, len, h, &ref);

	if (caa_unlikely(s == NULL))
		return check_slow(c, idx, rc, key, len, cost, now, h,
		                  FG_INLINE_GROUPS, d);
	fg__pair_load(s, &p);
	if (caa_likely(fg__ref_valid(&ref))) {
		if (fg__gcra_take(p.tat, now, rc->interval_ns, rc->tau_ns, cost,
		                  &next)) {
			if (caa_likely(fg__pair_advance(s, &p, next, cost))) {
				/* the first admission since the harvest */
				if (caa_unlikely(p.word & FG_W_CLEAN))
					fg__table_touch(t,
					                fg__ref_block(t, &ref));
				return d ? decide(idx, rc, next, now, cost, 1,
				                  d)
				         : 1;
			}
		} else if (caa_likely(p.tat != FG_TAT_EVICTED)) {
			fg__table_deny(t, &ref); /* for operators */
			fg__penalize(c, idx, rc, key, len, now, &ref, &p);
			return decide(idx, rc, p.tat, now, cost, 0, d);
		}
	}
	/* contention, a move of the key, or an eviction */
	return check_slow(c, idx, rc, key, len, cost, now, h, 0, d);
}

static inline __attribute__((always_inline)) int
check(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
      const void *key, size_t len, uint32_t cost, uint64_t now, fg_decision *d)
{
	return check_h(c, idx, rc, key, len,
	               fg__hash64(c->seg.tbl.seed, idx, key, len), cost, now,
	               d);
}

int fg__win_check_at(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                     const void *key, size_t len, uint32_t cost, uint64_t now,
                     fg_decision *d)
{
	uint64_t h = fg__hash64(c->seg.tbl.seed, idx, key, len);
	struct fg_ref ref;
	struct fg_pair p;
	int r;

	do { /* found anew when the bucket went (window.c) */
		if (!fg__bucket_find(c, idx, key, len, h, now, &ref, &p))
			return fg__untracked(c, idx, rc, d);
	} while ((r = fg__win_step(&c->seg.tbl, &c->win[idx], idx, rc->flags,
	                           &ref, &p, cost, now, d)) < 0);
	return r;
}

/* fg__check() of all but an active GCRA rule: a window's, or the error */
static __attribute__((noinline)) int check_other(fg_client *c, unsigned idx,
                                                 const struct fg_rule_cache *rc,
                                                 const void *key, size_t len,
                                                 uint32_t cost, fg_decision *d)
{
	if ((rc->flags & (FG__RULE_ACTIVE | FG__RULE_IN_FLIGHT)) !=
	    FG__RULE_ACTIVE)
		return rc->flags & FG__RULE_ACTIVE ? FG_EKIND : FG_ENORULE;
	if (cost == 0 || cost > rc->capacity)
		return FG_ECOST;
	if (rc->flags & FG__RULE_STRICT)
		return FG__STRICT; /* lib/allow.c takes it to lib/strict.c */
	return fg__win_check_at(c, idx, rc, key, len, cost, fg__now_ns(), d);
}

const struct fg_rule_cache *fg__override_apply(fg_client *c, unsigned idx,
                                               const struct fg_rule_cache *rc,
                                               const void *key, size_t len,
                                               const struct fg_ovr_cands *k,
                                               struct fg_rule_cache *buf)
{
	struct fg_ovr_entry e;

	if (!fg__ovr_probe(c->seg.ovr, c->seg.tbl.seed, idx, key, len, k, &e))
		return rc;
	/* what the override means for a live bucket: shm/override.c */
	*buf = *rc;
	buf->interval_ns = e.interval_ns;
	buf->interval_inv = fg__recip(e.interval_ns);
	buf->capacity = e.capacity;
	buf->tau_ns = (uint64_t)e.capacity * e.interval_ns;
	if (buf->max_delay_ns > FG_TAU_MAX - buf->tau_ns)
		buf->max_delay_ns = FG_TAU_MAX - buf->tau_ns;
	return buf;
}

int fg__check(fg_client *c, unsigned idx, const void *key, size_t len,
              uint32_t cost, fg_decision *d)
{
	const struct fg_rule_cache *rc = fg__rule_params(c, idx);
	struct fg_rule_cache buf;
	uint64_t h, now;

	/* one test sends all but an active GCRA rule off the inline path */
	if (caa_unlikely((rc->flags & (FG__RULE_ACTIVE | FG__RULE_IN_FLIGHT |
	                               FG__RULE_WINDOWS | FG__RULE_STRICT)) !=
	                 FG__RULE_ACTIVE))
		return check_other(c, idx, rc, key, len, cost, d);
	/* The key's two lines are asked for before the clock is read: the
	 * clock's read waits for what came before it to finish (lfence;
	 * rdtsc), not for the lines to arrive, so a cold key's misses run
	 * beside it (bench/layout_proto.c, "early"); what comes after (an
	 * override's filter, the compare) runs side by side. */
	h = fg__hash64(c->seg.tbl.seed, idx, key, len); /* table's, filter's */
	fg__table_prefetch(&c->seg.tbl, h);
	now = fg__now_ns();
	rc = fg__rule_key_h(c, idx, rc, key, len, h, &buf);
	if (cost == 0 || cost > rc->capacity)
		return FG_ECOST;
	return check_h(c, idx, rc, key, len, h, cost, now, d);
}

int fg__check_at(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                 const void *key, size_t len, uint32_t cost, uint64_t now,
                 fg_decision *d)
{
	if (rc->flags & FG__RULE_WINDOWS)
		return fg__win_check_at(c, idx, rc, key, len, cost, now, d);
	return check(c, idx, rc, key, len, cost, now, d);
}

/*
 * The owner's way of moving a bucket: set TAT to @next(TAT) (never
 * counted as consumption: consumed is this host's admissions only, what
 * the daemon harvests, and remote debits must not echo back), creating
 * the bucket if needed.  An eviction met on the way is finished and the
 * key looked up again, as a check does.
 */
struct owner_move {
	uint64_t (*next)(struct owner_move *m, uint64_t tat, uint64_t now,
	                 const struct fg_rule_cache *rc);
	const struct fg_win *win;   /* a window rule's, else NULL */
	uint64_t cost, max_debt_ns; /* debit */
	uint64_t capped;            /* debit: tokens the cap kept out */
	uint64_t debt_ns;           /* raise */
	uint64_t prev, cur;         /* raise of a window rule */
};

/* Whether @m may move a bucket of rule @idx (@rc): leases are no debt;
 * a window rule's moves by its counts. */
static int move_fits(fg_client *c, unsigned idx, const struct fg_rule_cache *rc,
                     struct owner_move *m)
{
	m->win = rc->flags & FG__RULE_WINDOWS ? &c->win[idx] : NULL;
	return !(rc->flags & FG__RULE_IN_FLIGHT);
}

static int owner_move(fg_client *c, unsigned idx, const void *key, size_t len,
                      struct owner_move *m)
{
	struct fg_table *t = &c->seg.tbl;
	const struct fg_rule_cache *rc;
	struct fg_rule_cache buf;
	struct fg_slot *s;
	struct fg_ref ref;
	struct fg_pair p;
	uint64_t now, h, next;

	if (idx >= FG_MAX_RULES || len == 0 || len > FG_KEY_MAX)
		return FG_EINVAL;
	rc = fg__rule_params(c, idx);
	if (!(rc->flags & FG__RULE_ACTIVE))
		return FG_ENORULE;
	if (!move_fits(c, idx, rc, m))
		return FG_EKIND;
	rc = fg__rule_key(c, idx, rc, key, len, &buf); /* T of the key */
	h = fg__hash64(t->seed, idx, key, len);
	now = fg__now_ns();
find:
	s = fg__table_find_ref(t, idx, key, len, h, &ref);
	if (s == NULL)
		return FG_ENOMEM;
	fg__pair_load(s, &p);
	if (!fg__ref_valid(&ref))
		goto find;
	for (;;) {
		if (p.tat == FG_TAT_EVICTED) {
			fg__table_bury(t, &ref);
			goto find;
		}
		next = m->next(m, p.tat, now, rc);
		if (next == p.tat)
			return 0;
		if (fg__pair_advance(s, &p, next, 0)) {
			c->owner_moves++;
			return 0;
		}
		if (!fg__ref_valid(&ref))
			goto find;
	}
}

static uint64_t debit_next(struct owner_move *m, uint64_t tat, uint64_t now,
                           const struct fg_rule_cache *rc)
{
	uint64_t next;

	if (m->win != NULL) /* the window's count, up to the debt in tokens */
		return fg__win_debit(m->win, tat, now, m->cost,
		                     m->max_debt_ns / rc->interval_ns,
		                     &m->capped);
	next =
	    fg__gcra_debit(tat, now, rc->interval_ns, m->cost, m->max_debt_ns);
	uint64_t moved = (next - fg__gcra_base(tat, now)) / rc->interval_ns;

	m->capped = m->cost - (moved < m->cost ? moved : m->cost);
	return next;
}

int fg__debit(fg_client *c, unsigned idx, const void *key, size_t len,
              uint64_t cost, uint64_t max_debt_ns, uint64_t *capped)
{
	struct owner_move m = {
	    .next = debit_next, .cost = cost, .max_debt_ns = max_debt_ns};
	int r;

	if (capped != NULL)
		*capped = max_debt_ns == 0 ? cost : 0;
	if (cost == 0 || max_debt_ns == 0)
		return 0; /* nothing to take (invariant 4 wants a move) */
	r = owner_move(c, idx, key, len, &m);
	if (capped != NULL && r == 0)
		*capped = m.capped;
	return r;
}

/* Give back @m->back ns (not below now), then raise to now + debt_ns. */
static uint64_t settle_next(struct owner_move *m, uint64_t tat, uint64_t now,
                            const struct fg_rule_cache *rc)
{
	uint64_t next = tat > now + m->cost ? tat - m->cost : now;

	(void)rc;
	return next > now + m->debt_ns ? next : now + m->debt_ns;
}

int fg__settle(fg_client *c, unsigned idx, const void *key, size_t len,
               uint64_t back_ns, uint64_t debt_ns)
{
	struct owner_move m = {
	    .next = settle_next, .cost = back_ns, .debt_ns = debt_ns};

	if (debt_ns > FG_TAU_MAX || back_ns > FG_TAU_MAX)
		return FG_EINVAL;
	return owner_move(c, idx, key, len, &m);
}

static uint64_t raise_next(struct owner_move *m, uint64_t tat, uint64_t now,
                           const struct fg_rule_cache *rc)
{
	(void)rc;
	if (m->win != NULL)
		return fg__win_raise(m->win, tat, now, m->prev, m->cur);
	return tat > now + m->debt_ns ? tat : now + m->debt_ns;
}

int fg__raise(fg_client *c, unsigned idx, const void *key, size_t len,
              uint64_t debt_ns)
{
	struct owner_move m = {.next = raise_next, .debt_ns = debt_ns};

	if (debt_ns > FG_TAU_MAX)
		return FG_EINVAL;
	if (debt_ns == 0)
		return 0; /* no debt: a full bucket, present or not */
	return owner_move(c, idx, key, len, &m);
}

int fg__raise_window(fg_client *c, unsigned idx, const void *key, size_t len,
                     uint64_t prev, uint64_t cur)
{
	struct owner_move m = {.next = raise_next, .prev = prev, .cur = cur};

	if (prev == 0 && cur == 0)
		return 0; /* nothing counted: as good as absent */
	return owner_move(c, idx, key, len, &m);
}

int fg__client_new(struct fg_seg *seg, fg_client **out)
{
	fg_client *c = calloc(1, sizeof *c);
	unsigned i;

	if (c == NULL)
		return FG_ENOMEM;
	c->seg = *seg;
	for (i = 0; i < FG_RECENT_RULES; i++)
		c->recent[i] = -1;
	c->recent_next = 1;
	for (i = 0; i < FG_TRIPLES_MAX; i++)
		c->many_hint[i] = -1;
	for (i = 0; i < FG_MAX_RULES; i++)
		c->rc[i].seq = UINT64_MAX; /* never a record's seq: re-read */
	*out = c;
	return 0;
}

int fg_open(const char *segment, unsigned flags, fg_client **out)
{
	struct fg_seg seg = {.fd = -1, .shmid = -1};
	char path[sizeof seg.path];
	int r;

	if (out == NULL)
		return FG_EINVAL;
	*out = NULL;
	if (flags != 0)
		return FG_EINVAL;
	r = fg__seg_path(segment, path, sizeof path);
	if (r != 0)
		return r;
	r = fg__seg_attach(path, &seg);
	if (r != 0)
		return r;
	r = fg__client_new(&seg, out);
	if (r != 0)
		fg__seg_detach(&seg);
	return r;
}

void fg_close(fg_client *c)
{
	if (c == NULL)
		return;
	fg__seg_detach(&c->seg);
	free(c);
}
