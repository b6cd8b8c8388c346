/* SPDX-License-Identifier: ISC */
/*
 * window.h - fixed and sliding windows in one word.
 *
 * A window rule admits at most L tokens (its rate's N) per window of W ns
 * (its rate's period).  Windows are numbered by the monotonic clock,
 * n = floor(now / W), and a window's offset is e = now mod W.
 *
 * Fixed window: the tokens taken in window n; admit @cost iff
 *
 *     cur + cost <= L.
 *
 * Sliding window, the two-window approximation: the tokens of window n
 * (cur) and of window n-1 (prev), the latter weighted by the part of the
 * sliding window [now - W, now) that overlaps it; admit @cost iff
 *
 *     prev * (W - e) / W + cur + cost <= L,
 *
 * computed exactly as prev * (W - e) <= (L - cur - cost) * W in 128 bits.
 * It is exact when requests are spread evenly over window n-1; its error
 * is at most prev * (W - e) / W against any true count of the last W ns
 * (Cloudflare measured 0.003% wrong answers on real traffic).
 *
 * The state lives in a bucket's tat (layout.h), whose bit 63 stays clear:
 *
 *     fixed:   id:31 | count:32              (bits 32-62 | 0-31)
 *     sliding: id:23 | prev:20 | cur:20      (bits 40-62 | 20-39 | 0-19)
 *
 * where id = n mod (2^k - 1) + 1 is never 0: a tat of 0, a fresh bucket,
 * names no window, and a window's state is never 0.  An id that aliases
 * (a key idle for a multiple of 2^k - 1 windows, 2^31 - 1 or 2^23 - 1)
 * reads as current, or as the previous window: stricter, for one window
 * at most.  A sliding rule's L is at most FG_WIN_SLIDE_MAX.
 *
 * A bucket is refilled once its window(s) have passed: window n for a
 * fixed one, n and n+1 for a sliding one.  It is then evicted as a full
 * GCRA bucket would be; states written after that carry a later window,
 * so a stale copy of the evicted pair never matches again (table.c,
 * invariant 4), as for GCRA where they carry a later time.
 *
 * Clocks of processes.  A process may read the clock, be stopped, and
 * meet a bucket another moved into a later window since; reading it as a
 * passed window would wipe that window's counts.  So a check that finds
 * a window it does not know (neither its own nor the previous) reads the
 * clock again (fg__win_clock): a window no later than the fresh reading
 * and later than its own is where the bucket is, and the check decides at
 * that window's start, stricter, as an old time is for GCRA.  This costs
 * a clock read once a window a key, when its first check moves it on.
 *
 * A debit (consumption of other hosts) adds to the current window's count,
 * capped; it may take the count past L, and the excess makes the window
 * deny until it passes.  tests/test_window.c checks every function below
 * against decision tables written from these definitions.
 */
#ifndef FG_SHM_WINDOW_H
#define FG_SHM_WINDOW_H

#include <stdint.h>

#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/layout.h"

#define FG_WIN_FIXED_IDS ((UINT64_C(1) << 31) - 1)
#define FG_WIN_SLIDE_IDS ((UINT64_C(1) << 23) - 1)
#define FG_WIN_FIXED_MAX UINT32_MAX                /* a fixed count */
#define FG_WIN_SLIDE_MAX ((UINT32_C(1) << 20) - 1) /* prev, cur; L */
#define FG__RULE_WINDOWS (FG__RULE_SLIDING_WINDOW | FG__RULE_FIXED_WINDOW)

/* A window rule as a check uses it. */
struct fg_win {
	uint64_t W;     /* ns a window */
	uint64_t inv;   /* fg__recip(W) */
	uint32_t limit; /* L */
	unsigned slide; /* 1: sliding; 0: fixed */
};

/* A bucket's counts as seen at one instant. */
struct fg_win_at {
	uint64_t n, e; /* window, offset in it */
	uint64_t prev; /* tokens of window n-1 (sliding only) */
	uint64_t cur;  /* tokens of window n */
};

static inline uint64_t fg__win_id(const struct fg_win *w, uint64_t n)
{
	return n % (w->slide ? FG_WIN_SLIDE_IDS : FG_WIN_FIXED_IDS) + 1;
}

/* The id in @tat. */
static inline uint64_t fg__win_tat_id(const struct fg_win *w, uint64_t tat)
{
	return tat >> (w->slide ? 40 : 32);
}

/* Where a check at @now must decide, given @fresh, a clock read after
 * the bucket at @tat was: the start of the bucket's window if that is
 * after now's and not after fresh's, else @now. */
static inline uint64_t fg__win_ahead(const struct fg_win *w, uint64_t tat,
                                     uint64_t now, uint64_t fresh)
{
	const uint64_t M = w->slide ? FG_WIN_SLIDE_IDS : FG_WIN_FIXED_IDS;
	uint64_t id = fg__win_tat_id(w, tat), back;
	uint64_t n = fg__div(now, w->W, w->inv);
	uint64_t n2 = fg__div(fresh, w->W, w->inv);

	if (tat == 0 || id == 0 || id > M || n2 <= n)
		return now;
	back = (fg__win_id(w, n2) + M - id) % M; /* n2 - its window */
	return back < n2 - n ? (n2 - back) * w->W : now;
}

/* The time a check read as @now decides the bucket at @tat at: @now,
 * unless the bucket is in a window @now does not know, which may be later
 * (see Clocks above). */
static inline uint64_t fg__win_clock(const struct fg_win *w, uint64_t tat,
                                     uint64_t now)
{
	uint64_t id = fg__win_tat_id(w, tat), n = fg__div(now, w->W, w->inv);

	if (tat == 0 || id == fg__win_id(w, n) ||
	    (n > 0 && id == fg__win_id(w, n - 1)))
		return now;
	return fg__win_ahead(w, tat, now, fg__now_ns());
}

/* The counts of the bucket at @tat as seen at exactly @now. */
static inline void fg__win_decode(const struct fg_win *w, uint64_t tat,
                                  uint64_t now, struct fg_win_at *a)
{
	uint64_t id;

	a->n = fg__div(now, w->W, w->inv);
	a->e = now - a->n * w->W;
	a->prev = a->cur = 0;
	if (w->slide) {
		id = tat >> 40;
		if (id == fg__win_id(w, a->n)) {
			a->prev = (tat >> 20) & FG_WIN_SLIDE_MAX;
			a->cur = tat & FG_WIN_SLIDE_MAX;
		} else if (a->n > 0 && id == fg__win_id(w, a->n - 1)) {
			a->prev = tat & FG_WIN_SLIDE_MAX;
		}
	} else if (tat >> 32 == fg__win_id(w, a->n)) {
		a->cur = tat & UINT32_MAX;
	}
}

/* The counts of the bucket at @tat as a check at @now sees them: at
 * fg__win_clock()'s time, which @a's n and e then describe. */
static inline void fg__win_read(const struct fg_win *w, uint64_t tat,
                                uint64_t now, struct fg_win_at *a)
{
	fg__win_decode(w, tat, fg__win_clock(w, tat, now), a);
}

/* The tat of the counts @a. */
static inline uint64_t fg__win_tat(const struct fg_win *w,
                                   const struct fg_win_at *a)
{
	uint64_t id = fg__win_id(w, a->n);

	if (w->slide)
		return id << 40 | a->prev << 20 | a->cur;
	return id << 32 | a->cur;
}

/* prev's weight at @a: ceil(prev * (W - e) / W) tokens. */
static inline uint64_t fg__win_weighted(const struct fg_win *w,
                                        const struct fg_win_at *a)
{
	unsigned __int128 x = (unsigned __int128)a->prev * (w->W - a->e);

	return (uint64_t)((x + w->W - 1) / w->W);
}

/* Tokens counted against the limit at @a (may exceed it after debits). */
static inline uint64_t fg__win_used(const struct fg_win *w,
                                    const struct fg_win_at *a)
{
	return a->cur + (a->prev ? fg__win_weighted(w, a) : 0);
}

/* Whole tokens available at @a. */
static inline uint64_t fg__win_remaining(const struct fg_win *w,
                                         const struct fg_win_at *a)
{
	uint64_t used = fg__win_used(w, a);

	return used >= w->limit ? 0 : w->limit - used;
}

/* 1 and *@next when @cost tokens are there at @now; 0 otherwise, with the
 * counts in *@a either way. */
static inline int fg__win_take(const struct fg_win *w, uint64_t tat,
                               uint64_t now, uint64_t cost, struct fg_win_at *a,
                               uint64_t *next)
{
	fg__win_read(w, tat, now, a);
	if (cost > fg__win_remaining(w, a))
		return 0;
	a->cur += cost;
	*next = fg__win_tat(w, a);
	return 1;
}

/* The earliest offset in a window whose previous one holds @prev tokens
 * and whose own holds @cur at which @cost more fit: W when none does. */
static inline uint64_t fg__win_fit(const struct fg_win *w, uint64_t prev,
                                   uint64_t cur, uint64_t cost)
{
	uint64_t room;

	if (cur + cost > w->limit)
		return w->W;
	room = w->limit - cur - cost; /* prev*(W - e) <= room*W */
	if (prev <= room)
		return 0;
	return w->W - (uint64_t)((unsigned __int128)room * w->W / prev);
}

/* ns until @cost tokens are there (0 if they are now). */
static inline uint64_t fg__win_wait(const struct fg_win *w,
                                    const struct fg_win_at *a, uint64_t cost)
{
	uint64_t e;

	if (!w->slide)
		return a->cur + cost <= w->limit ? 0 : w->W - a->e;
	e = fg__win_fit(w, a->prev, a->cur, cost);
	if (e < w->W)
		return e > a->e ? e - a->e : 0;
	/* the next window: this one's tokens weigh as prev */
	return w->W - a->e + fg__win_fit(w, a->cur, 0, cost);
}

/* ns until the bucket is as good as new (every count has passed). */
static inline uint64_t fg__win_reset(const struct fg_win *w,
                                     const struct fg_win_at *a)
{
	if (a->cur)
		return (w->slide ? 2 * w->W : w->W) - a->e;
	return a->prev ? w->W - a->e : 0;
}

/* The tat after a debit of @cost tokens at @now, the current window's
 * count capped at @most (and its field); the tokens the cap kept out in
 * *@capped. */
static inline uint64_t fg__win_debit(const struct fg_win *w, uint64_t tat,
                                     uint64_t now, uint64_t cost, uint64_t most,
                                     uint64_t *capped)
{
	uint64_t field = w->slide ? FG_WIN_SLIDE_MAX : FG_WIN_FIXED_MAX;
	struct fg_win_at a;

	fg__win_read(w, tat, now, &a);
	if (most > field)
		most = field;
	if (a.cur >= most) {
		*capped = cost;
		return tat;
	}
	*capped = cost > most - a.cur ? cost - (most - a.cur) : 0;
	a.cur += cost - *capped;
	return fg__win_tat(w, &a);
}

/* The tat with the counts at least @prev and @cur at @now (a snapshot's
 * restore; never lowers a count, never counts as consumption). */
static inline uint64_t fg__win_raise(const struct fg_win *w, uint64_t tat,
                                     uint64_t now, uint64_t prev, uint64_t cur)
{
	uint64_t field = w->slide ? FG_WIN_SLIDE_MAX : FG_WIN_FIXED_MAX;
	struct fg_win_at a;

	fg__win_read(w, tat, now, &a);
	if (w->slide && prev > a.prev)
		a.prev = prev > field ? field : prev;
	if (cur > a.cur)
		a.cur = cur > field ? field : cur;
	return fg__win_tat(w, &a);
}

/* Tokens left at @now in the bucket at @tat: negative when debits took
 * its count past the limit. */
static inline int64_t fg__win_left(const struct fg_win *w, uint64_t tat,
                                   uint64_t now)
{
	struct fg_win_at a;

	fg__win_read(w, tat, now, &a);
	return (int64_t)w->limit - (int64_t)fg__win_used(w, &a);
}

/* The tat after giving back @cost tokens of a take that left the bucket
 * at @took, now that it is at @tat (fg_allow_many()'s refund): from the
 * window they were taken in, if it still counts; never below 0. */
static inline uint64_t fg__win_refund(const struct fg_win *w, uint64_t tat,
                                      uint64_t took, uint64_t now,
                                      uint64_t cost)
{
	uint64_t id = took >> (w->slide ? 40 : 32), *n;
	struct fg_win_at a;

	fg__win_read(w, tat, now, &a);
	if (id == fg__win_id(w, a.n))
		n = &a.cur;
	else if (w->slide && a.n > 0 && id == fg__win_id(w, a.n - 1))
		n = &a.prev;
	else
		return tat; /* that window no longer counts */
	if (*n == 0)
		return tat;
	*n = *n > cost ? *n - cost : 0;
	return fg__win_tat(w, &a);
}

/* 1 if the bucket at @tat is refilled at @now: its window(s) passed. */
static inline int fg__win_passed(const struct fg_win *w, uint64_t tat,
                                 uint64_t now)
{
	struct fg_win_at a;

	if (tat == 0)
		return 0; /* never moved (table.c, invariant 4) */
	now = fg__win_clock(w, tat, now);
	fg__win_decode(w, tat, now, &a);
	if (a.prev || a.cur)
		return 0;
	/* zero counts of the current window (an operator's reset) pass with
	 * it: a state of a window only passes once the window has */
	return w->slide ? tat >> 40 != fg__win_id(w, a.n) &&
	                      (a.n == 0 || tat >> 40 != fg__win_id(w, a.n - 1))
	                : tat >> 32 != fg__win_id(w, a.n);
}

/* How long counts of a window rule matter (its tau for the daemon: the
 * debt it may carry, how long its gossip is kept): one window, or two
 * for a sliding one. */
static inline uint64_t fg__win_span(const struct fg_win *w)
{
	return w->slide ? 2 * w->W : w->W;
}

/* Whether the parameters @p of a window rule are ones a reader may use:
 * one algorithm, tokens, a period, rate N as the capacity, no delay. */
static inline int fg__win_params_sane(const struct fg_rule_params *p)
{
	return (p->flags & FG__RULE_WINDOWS) != FG__RULE_WINDOWS &&
	       !(p->flags & FG__RULE_IN_FLIGHT) && p->period_ms != 0 &&
	       p->rate == p->capacity && p->max_delay_ns == 0 &&
	       (!(p->flags & FG__RULE_SLIDING_WINDOW) ||
	        p->capacity <= FG_WIN_SLIDE_MAX);
}

/* The window rule of parameters @flags, @period_ms and @rate into *@w:
 * 1, or 0 when it is none (or its period is 0: a corrupt record). */
static inline int fg__win_set(struct fg_win *w, uint32_t flags,
                              uint32_t period_ms, uint32_t rate)
{
	if (!(flags & FG__RULE_WINDOWS) || period_ms == 0)
		return 0;
	w->W = (uint64_t)period_ms * 1000000u;
	w->inv = fg__recip(w->W);
	w->limit = rate;
	w->slide = (flags & FG__RULE_SLIDING_WINDOW) != 0;
	return 1;
}

/* The window rule of a rule record's live parameters into *@w: 1, or 0
 * when it is none. */
static inline int fg__win_of_rec(const struct fg_rule_rec *r, struct fg_win *w)
{
	uint64_t seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
	const struct fg_rule_params *p = &r->params[seq & 1];

	return fg__win_set(w, __atomic_load_n(&p->flags, __ATOMIC_RELAXED),
	                   __atomic_load_n(&p->period_ms, __ATOMIC_RELAXED),
	                   __atomic_load_n(&p->rate, __ATOMIC_RELAXED));
}

/*
 * 1 if the bucket at (@tat, @word) decides as an absent one would at
 * @now, so it may be evicted: a moved GCRA bucket whose tat is past, a
 * window bucket whose window(s) passed.  A rule's algorithm never changes
 * under its buckets (fg_rule_set refuses); its period may, which makes the
 * windows of its buckets read as passed, or (rarely) as current.
 */
static inline int fg__bucket_refilled(const struct fg_rule_rec *rules,
                                      uint64_t tat, uint64_t word, uint64_t now)
{
	struct fg_win w;

	if (tat == FG_TAT_EVICTED)
		return 0; /* being evicted already */
	if (rules != NULL && FG_W_RULE(word) < FG_MAX_RULES &&
	    fg__win_of_rec(&rules[FG_W_RULE(word)], &w))
		return fg__win_passed(&w, tat, now);
	return tat != 0 && tat < now;
}

#endif
