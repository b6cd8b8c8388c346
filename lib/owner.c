/* SPDX-License-Identifier: ISC */
/*
 * owner.c - creating segments and publishing rules.
 *
 * The owner (floodgated, or a program embedding the limiter on one host)
 * writes the rule table; workers only read it.  Owner operations take a
 * lock on the segment file, so two owners never interleave, but workers
 * never take it: a rule's parameters are double-buffered (layout.h), and
 * an owner killed in the middle of an update leaves the live copy whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include "lib/client.h"
#include "shm/clock.h"
#include "shm/gcra.h"
#include "shm/lease.h"
#include "shm/quota.h"
#include "shm/scan.h"
#include "shm/table.h"

_Static_assert(FG_RULE_GLOBAL == FG__RULE_GLOBAL, "flag values");
_Static_assert(FG_RULE_FAIL_CLOSED == FG__RULE_FAIL_CLOSED, "flag values");
_Static_assert(FG_RULE_SHADOW == FG__RULE_SHADOW, "flag values");
_Static_assert(FG_RULE_NAME_MAX + 1 == FG_RULE_NAME_BYTES, "name length");
_Static_assert(FG_KEY_MAX == FG_SLOT_KEY_MAX, "key length");
_Static_assert(FG_RULES_MAX == FG_MAX_RULES, "rule count");

_Static_assert(FG_RULE_IN_FLIGHT == FG__RULE_IN_FLIGHT, "flag values");
_Static_assert(FG_RULE_PENALTY == FG__RULE_PENALTY, "flag values");
_Static_assert(FG_RULE_STRICT == FG__RULE_STRICT, "flag values");
_Static_assert(FG_LEASES_MAX == FG_LEASE_COUNT_MAX, "lease count");
_Static_assert(FG_RULE_SLIDING_WINDOW == FG__RULE_SLIDING_WINDOW, "flags");
_Static_assert(FG_RULE_FIXED_WINDOW == FG__RULE_FIXED_WINDOW, "flag values");
_Static_assert(FG_SLIDING_WINDOW_MAX == FG_WIN_SLIDE_MAX, "sliding limit");

#define RULE_FLAGS                                                             \
	(FG_RULE_GLOBAL | FG_RULE_FAIL_CLOSED | FG_RULE_SHADOW |               \
	 FG_RULE_DEFAULT | FG_RULE_IN_FLIGHT | FG_RULE_SLIDING_WINDOW |        \
	 FG_RULE_FIXED_WINDOW | FG_RULE_PENALTY | FG_RULE_STRICT)
#define RULE_WINDOWS (FG_RULE_SLIDING_WINDOW | FG_RULE_FIXED_WINDOW)
/* What a name keeps for life: what its buckets' tat holds. */
#define RULE_KIND (FG__RULE_IN_FLIGHT | FG__RULE_WINDOWS)

int fg__create(const char *segment, const fg_segment_opts *opts, unsigned flags,
               fg_client **out, int *built)
{
	struct fg_seg seg = {.fd = -1, .shmid = -1};
	char path[sizeof seg.path];
	int r;

	if (out == NULL)
		return FG_EINVAL;
	*out = NULL;
	if (flags & ~FG_CREATE_REPLACE)
		return FG_EINVAL;
	r = fg__seg_path(segment, path, sizeof path);
	if (r != 0)
		return r;
	r = fg__seg_create(path, opts, flags, &seg, built);
	if (r != 0)
		return r;
	r = fg__client_new(&seg, out);
	if (r != 0)
		fg__seg_detach(&seg);
	return r;
}

int fg_create(const char *segment, const fg_segment_opts *opts, unsigned flags,
              fg_client **out)
{
	return fg__create(segment, opts, flags, out, NULL);
}

int fg_unlink(const char *segment)
{
	char path[FG_SEG_PATH_MAX + 16];
	int r = fg__seg_path(segment, path, sizeof path);

	return r != 0 ? r : fg__seg_unlink(path);
}

int fg__rule_name_ok(const char *name)
{
	size_t i, n;

	if (name == NULL)
		return 0;
	n = strlen(name);
	if (n == 0 || n > FG_RULE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("_.:/-", ch)))
			return 0;
	}
	return 1;
}

/* fg__rule_check() of an in-flight rule: leases, host scope, no rate. */
static enum fg__rule_bad in_flight_check(const fg_rule *rule,
                                         uint64_t *interval_ns)
{
	if ((rule->flags & FG_RULE_PENALTY) || rule->penalty_denials ||
	    rule->penalty_window_ms || rule->penalty_block_ms)
		return FG__RULE_BAD_PENALTY; /* leases are not tokens */
	if (rule->capacity == 0 || rule->capacity > FG_LEASES_MAX ||
	    rule->lease_ms == 0 || rule->lease_ms > FG_LEASE_MAX_MS ||
	    rule->rate != 0 || rule->period_ms != 0 ||
	    rule->max_delay_ms != 0 ||
	    (rule->flags & (FG_RULE_GLOBAL | FG_RULE_DEFAULT)))
		return FG__RULE_BAD_LEASES;
	*interval_ns = fg__lease_epoch_ns(rule->lease_ms);
	return FG__RULE_OK;
}

/* fg__rule_check() of a window rule: one algorithm, of tokens, rate N
 * a period all at once (capacity N), no delay, no penalty (a block is a
 * time in tat, which a window's bucket holds counts in). */
static enum fg__rule_bad window_check(const fg_rule *rule)
{
	if ((rule->flags & RULE_WINDOWS) == RULE_WINDOWS)
		return FG__RULE_TWO_WINDOWS;
	if (rule->flags & FG_RULE_IN_FLIGHT)
		return FG__RULE_BAD_VALUE;
	if (rule->flags & FG_RULE_PENALTY)
		return FG__RULE_BAD_PENALTY;
	if (rule->capacity != rule->rate || rule->max_delay_ms != 0 ||
	    ((rule->flags & FG_RULE_SLIDING_WINDOW) &&
	     rule->rate > FG_SLIDING_WINDOW_MAX))
		return FG__RULE_BAD_WINDOW;
	return FG__RULE_OK;
}

/* A strict rule has nothing Redis could not decide alone. */
static int strict_ok(const fg_rule *rule)
{
	return !(rule->flags &
	         (FG_RULE_GLOBAL | FG_RULE_SHADOW | FG_RULE_IN_FLIGHT |
	          RULE_WINDOWS | FG_RULE_PENALTY)) &&
	       rule->max_delay_ms == 0;
}

/* fg__rule_check() of a rule of tokens. */
static enum fg__rule_bad tokens_check(const fg_rule *rule,
                                      uint64_t *interval_ns)
{
	uint64_t period_ns = (uint64_t)rule->period_ms * 1000000u, t;

	if (rule->capacity == 0 || rule->rate == 0 || rule->period_ms == 0 ||
	    rule->lease_ms != 0)
		return FG__RULE_BAD_VALUE;
	if (rule->rate > period_ns)
		return FG__RULE_TOO_FAST;
	t = (period_ns + rule->rate - 1) / rule->rate;
	if (rule->capacity > FG_TAU_MAX / t)
		return FG__RULE_TOO_LONG;
	if ((uint64_t)rule->max_delay_ms * 1000000u >
	    FG_TAU_MAX - rule->capacity * t)
		return FG__RULE_TOO_LATE;
	*interval_ns = t;
	return fg__penalty_check(rule, t) == 0 ? FG__RULE_OK
	                                       : FG__RULE_BAD_PENALTY;
}

enum fg__rule_bad fg__rule_check(const fg_rule *rule, uint64_t *interval_ns)
{
	enum fg__rule_bad bad = FG__RULE_OK;

	if (!fg__rule_name_ok(rule->name))
		return FG__RULE_BAD_NAME;
	if (rule->flags & ~RULE_FLAGS)
		return FG__RULE_BAD_VALUE;
	if (rule->flags & RULE_WINDOWS)
		bad = window_check(rule);
	if (bad == FG__RULE_OK && (rule->flags & FG_RULE_STRICT) &&
	    !strict_ok(rule))
		bad = FG__RULE_BAD_VALUE; /* decided by Redis, alone */
	if (bad != FG__RULE_OK)
		return bad;
	if (rule->flags & FG_RULE_IN_FLIGHT)
		return in_flight_check(rule, interval_ns);
	return tokens_check(rule, interval_ns);
}

void fg__params_publish(fg_client *c, unsigned idx,
                        const struct fg_rule_params *p)
{
	struct fg_rule_rec *r = &c->seg.rules[idx];
	uint64_t s = uatomic_read(&r->seq);

	cmm_smp_wmb(); /* seq's last increment before we overwrite a copy */
	memcpy(&r->params[(s + 1) & 1], p, sizeof *p);
	cmm_smp_wmb(); /* the copy before the seq that makes it live */
	uatomic_set(&r->seq, s + 1);
}

/* The kind of rule @idx as last published, in force or removed: a name
 * keeps its kind, since its buckets hold that kind's state. */
static unsigned kind_of(fg_client *c, unsigned idx)
{
	const struct fg_rule_rec *r = &c->seg.rules[idx];

	return r->params[uatomic_read(&r->seq) & 1].flags & RULE_KIND;
}

static void default_set(fg_client *c, unsigned idx, int on)
{
	struct fg_seg_hdr *h = c->seg.tbl.hdr;

	if (on)
		uatomic_set(&h->default_rule, idx + 1);
	else if (uatomic_read(&h->default_rule) == idx + 1)
		uatomic_set(&h->default_rule, 0);
}

int fg_rule_set(fg_client *c, const fg_rule *rule)
{
	struct fg_rule_params p = {0};
	struct fg_seg_hdr *h;
	enum fg__rule_bad bad;
	int idx, r;

	if (c == NULL || rule == NULL)
		return FG_EINVAL;
	bad = fg__rule_check(rule, &p.interval_ns);
	if (bad == FG__RULE_TWO_WINDOWS)
		return FG_EINVAL;
	if (bad != FG__RULE_OK)
		return bad == FG__RULE_BAD_NAME ? FG_ENAME : FG_ERULE;
	p.max_delay_ns = (uint64_t)rule->max_delay_ms * 1000000u;
	p.capacity = rule->capacity;
	p.rate = rule->rate;
	p.period_ms =
	    rule->flags & FG_RULE_IN_FLIGHT ? rule->lease_ms : rule->period_ms;
	p.flags = FG__RULE_ACTIVE | (rule->flags & ~FG_RULE_DEFAULT);
	p.penalty_denials = rule->penalty_denials;
	p.penalty_window_ms = rule->penalty_window_ms;
	p.penalty_block_ms = rule->penalty_block_ms;

	r = fg__seg_lock(&c->seg);
	if (r != 0)
		return r;
	h = c->seg.tbl.hdr;
	idx = fg__rule_index(c, rule->name);
	if (idx < 0) {
		uint64_t n = uatomic_read(&h->nnames);

		if (n >= FG_MAX_RULES) {
			r = FG_ERULES;
			goto out;
		}
		idx = (int)n;
		memset(c->seg.rules[idx].name, 0,
		       sizeof c->seg.rules[idx].name);
		memcpy(c->seg.rules[idx].name, rule->name, strlen(rule->name));
		fg__params_publish(c, (unsigned)idx, &p);
		/* a new rule's share: the default (fg_rule_share_set) */
		uatomic_set(&c->seg.rules[idx].slot_quota,
		            fg__quota_of(fg__table_nslots(&c->seg.tbl),
		                         FG_SHARE_DEFAULT));
		cmm_smp_wmb(); /* name and params before the name is counted */
		uatomic_set(&h->nnames, n + 1);
	} else if (kind_of(c, (unsigned)idx) != (p.flags & RULE_KIND)) {
		r = FG_EKIND; /* its buckets hold another kind of state */
		goto out;
	} else {
		const struct fg_rule_rec *rec = &c->seg.rules[idx];

		/* overrides stay with the rule (lib/ovrset.c) */
		p.flags |= rec->params[uatomic_read(&rec->seq) & 1].flags &
		           FG__RULE_OVERRIDES;
		fg__params_publish(c, (unsigned)idx, &p);
	}
	default_set(c, (unsigned)idx, (rule->flags & FG_RULE_DEFAULT) != 0);
out:
	fg__seg_unlock(&c->seg);
	return r;
}

int fg_rule_remove(fg_client *c, const char *name)
{
	struct fg_rule_params p;
	struct fg_rule_rec *rec;
	int idx, r;

	if (c == NULL || name == NULL)
		return FG_EINVAL;
	r = fg__seg_lock(&c->seg);
	if (r != 0)
		return r;
	idx = fg__rule_index(c, name);
	if (idx < 0 ||
	    !(fg__rule_params(c, (unsigned)idx)->flags & FG__RULE_ACTIVE)) {
		r = FG_ENORULE;
		goto out;
	}
	rec = &c->seg.rules[idx];
	memcpy(&p, &rec->params[uatomic_read(&rec->seq) & 1], sizeof p);
	p.flags &= ~FG__RULE_ACTIVE;
	fg__params_publish(c, (unsigned)idx, &p);
	default_set(c, (unsigned)idx, 0);
out:
	fg__seg_unlock(&c->seg);
	return r;
}

int fg_rule_get(fg_client *c, uint32_t index, fg_rule_info *out)
{
	const struct fg_rule_cache *rc;
	struct fg_rule_params p;
	struct fg_rule_rec *rec;

	if (c == NULL || out == NULL)
		return FG_EINVAL;
	if (index >= FG_MAX_RULES)
		return FG_ENORULE;
	(void)fg__rule_index(c, ""); /* refresh the name copies */
	if (index >= c->nnames)
		return FG_ENORULE;
	rc = fg__rule_params(c, index);
	if (!(rc->flags & FG__RULE_ACTIVE))
		return FG_ENORULE;
	rec = &c->seg.rules[index];
	memcpy(&p, &rec->params[rc->seq & 1], sizeof p);
	memset(out, 0, sizeof *out);
	memcpy(out->name, c->names[index], sizeof out->name);
	out->index = index;
	out->capacity = rc->capacity;
	out->rate = p.rate;
	out->period_ms = p.period_ms;
	if (rc->flags & FG__RULE_IN_FLIGHT) { /* its period is the lease */
		out->lease_ms = p.period_ms;
		out->period_ms = 0;
	}
	out->flags = rc->flags & ~(FG__RULE_ACTIVE | FG__RULE_OVERRIDES);
	if (uatomic_read(&c->seg.tbl.hdr->default_rule) == index + 1)
		out->flags |= FG_RULE_DEFAULT;
	out->interval_ns = rc->interval_ns;
	out->table_full = uatomic_read(&rec->table_full);
	out->max_delay_ms = (uint32_t)(rc->max_delay_ns / 1000000u);
	out->penalty_denials = p.penalty_denials;
	out->penalty_window_ms = p.penalty_window_ms;
	out->penalty_block_ms = p.penalty_block_ms;
	out->penalties = uatomic_read(&rec->penalties);
	return 0;
}

int fg_rule_share_set(fg_client *c, const char *name, uint32_t share_pct)
{
	int idx, r;

	if (c == NULL || name == NULL || share_pct > 100)
		return FG_EINVAL;
	r = fg__seg_lock(&c->seg);
	if (r != 0)
		return r;
	idx = fg__rule_index(c, name);
	if (idx < 0 ||
	    !(fg__rule_params(c, (unsigned)idx)->flags & FG__RULE_ACTIVE))
		r = FG_ENORULE;
	else
		uatomic_set(
		    &c->seg.rules[idx].slot_quota,
		    fg__quota_of(fg__table_nslots(&c->seg.tbl),
		                 share_pct ? share_pct : FG_SHARE_DEFAULT));
	fg__seg_unlock(&c->seg);
	return r;
}

int fg_rule_share_get(fg_client *c, uint32_t index, fg_share_info *out)
{
	const struct fg_rule_rec *rec;
	fg_rule_info ri;
	int64_t held;
	int r;

	if (c == NULL || out == NULL)
		return FG_EINVAL;
	r = fg_rule_get(c, index, &ri);
	if (r != 0)
		return r;
	rec = &c->seg.rules[index];
	held = fg__quota_held(uatomic_read(&rec->slots));
	out->slots = held > 0 ? (uint64_t)held : 0;
	out->slot_quota = uatomic_read(&rec->slot_quota);
	out->over_quota = uatomic_read(&rec->over_quota);
	return 0;
}

int fg_stats(fg_client *c, fg_segment_stats *out)
{
	struct fg_table_sums *sums;
	struct fg_table *t;
	unsigned i;

	if (c == NULL || out == NULL)
		return FG_EINVAL;
	sums = malloc(sizeof *sums);
	if (sums == NULL)
		return FG_ENOMEM;
	t = &c->seg.tbl;
	fg__table_sums(t, sums);
	memset(out, 0, sizeof *out);
	out->capacity = c->seg.capacity;
	out->nslots = fg__table_nslots(t);
	out->used = sums->used;
	out->dead = sums->dead;
	out->consumed = sums->consumed; /* live buckets only */
	out->denied = sums->denied;
	for (i = 0; i < FG_MAX_RULES; i++)
		out->table_full += uatomic_read(&c->seg.rules[i].table_full);
	free(sums);
	out->inserts = uatomic_read(&t->hdr->inserts);
	out->abandoned = uatomic_read(&t->hdr->abandoned);
	out->reaped = uatomic_read(&t->hdr->reaped);
	out->evicted = uatomic_read(&t->hdr->evicted);
	return 0;
}

int fg_reap(fg_client *c, uint64_t min_age_ms)
{
	uint64_t n;
	int r;

	if (c == NULL || min_age_ms > UINT64_MAX / 1000000u)
		return FG_EINVAL;
	/* Reopening groups is for one owner at a time (table.c). */
	r = fg__seg_lock(&c->seg);
	if (r != 0)
		return r;
	n = fg__table_reap(&c->seg.tbl, fg__now_ns(), min_age_ms * 1000000u);
	(void)fg__table_quota_resync(&c->seg.tbl);
	fg__seg_unlock(&c->seg);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}
