/* SPDX-License-Identifier: ISC */
/*
 * segment.c - what floodgate(1) reads in the segment: the segment itself,
 * its rules and its buckets, and the library's errors said to a person.
 *
 * Reading slots.  Buckets are read through shm/scan.h, whose copies are
 * consistent: a slot reclaimed and reused meanwhile is skipped, never
 * shown with another key's figures.  The tool never writes a slot except
 * in reset (act.c), through the same module.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "shm/clock.h"
#include "shm/scan.h"
#include "util/human.h"

/* An error of the library, with what the operator can do about it. */
int fgc_fail(struct fgc *c, const char *what, int r)
{
	char why[512];

	switch (r) {
	case FG_ENOSEG:
		fgc_warn("segment %s (%s) does not exist: start floodgated, or "
		         "name another segment with -s or -c",
		         c->segment, c->seg_path);
		return EXIT_NOSEG;
	case FG_EACCES:
		(void)fg_diagnose(c->seg_path, why, sizeof why);
		fgc_warn("%s", why);
		return EXIT_PERM;
	case FG_EVERSION:
		fgc_warn("%s has another layout version than this floodgate "
		         "reads (%u): use the floodgate of the release that "
		         "created it",
		         c->seg_path, FG_LAYOUT_VERSION);
		return EXIT_VERSION;
	case FG_EBADSEG:
		fgc_warn(
		    "%s is not a floodgate segment, or a corrupt one: name "
		    "the right one with -s",
		    c->seg_path);
		return EXIT_BADSEG;
	case FG_ENORULE:
		fgc_warn("%s: no such rule in segment %s: floodgate rules "
		         "lists them",
		         what, c->segment);
		return EXIT_NORULE;
	case FG_ENOMEM:
		fgc_warn("%s: out of memory", what);
		return EXIT_SYS;
	default:
		fgc_warn("%s: %s", what, fg_strerror(r));
		return r == FG_EINVAL || r == FG_EKEY || r == FG_EKEYLEN ||
		               r == FG_ECOST || r == FG_ENAME
		           ? EXIT_USAGE
		           : EXIT_SYS;
	}
}

int fgc_seg_open(struct fgc *c)
{
	int r;

	if (c->fg != NULL)
		return 0;
	r = fg_open(c->segment, 0, &c->fg);
	if (r != 0)
		return fgc_fail(c, c->segment, r);
	(void)fg__rule_index(c->fg, ""); /* copy in the rule names */
	return 0;
}

int fgc_rule_find(struct fgc *c, const char *name, unsigned *idx,
                  fg_rule_info *ri)
{
	int i = fg__rule_index(c->fg, name);

	if (i < 0 || fg_rule_get(c->fg, (uint32_t)i, ri) != 0) {
		fgc_warn("no rule %s in segment %s: floodgate rules lists them",
		         name, c->segment);
		return EXIT_NORULE;
	}
	*idx = (unsigned)i;
	return 0;
}

int fgc_key_arg(const char *key, size_t *len)
{
	*len = strlen(key);
	if (*len == 0 || *len > FG_KEY_MAX) {
		fgc_warn("a key is 1 to %d bytes, not %zu: give a shorter one",
		         FG_KEY_MAX, *len);
		return EXIT_USAGE;
	}
	return 0;
}

/* An item from a consistent copy of a bucket. */
static void item_of(struct fgc_item *it, const struct fg_slot_view *v)
{
	memset(it, 0, sizeof *it);
	it->slot = v->slot;
	it->id = v->id;
	it->rule = v->rule;
	it->klen = (uint8_t)(v->keylen <= FG_KEY_MAX ? v->keylen : FG_KEY_MAX);
	memcpy(it->key, v->key, it->klen);
	it->consumed = v->consumed;
	it->denied = v->denied;
	it->tat = v->tat;
}

int fgc_slot_read(struct fg_table *t, uint64_t i, struct fgc_item *it)
{
	struct fg_slot_view v;

	if (!fg__slot_read(t, i, &v) || fg__penalty_tally(v.key, v.keylen))
		return 0; /* a penalty's count of denials: not a key */
	item_of(it, &v);
	return 1;
}

int fgc_bucket_read(struct fgc *c, unsigned rule, const void *key, size_t len,
                    struct fgc_item *it)
{
	struct fg_slot_view v;

	if (fg__bucket_get(&c->fg->seg.tbl, rule, key, len, &v)) {
		item_of(it, &v);
		return 1;
	}
	memset(it, 0, sizeof *it);
	return 0;
}

uint64_t fgc_blocked_ms(struct fgc *c, unsigned rule, uint64_t tat,
                        uint64_t now)
{
	return fg__ns_to_ms_ceil(
	    fg__penalty_blocked(&fg__rule_params(c->fg, rule)->pen, tat, now));
}

const struct fg_rule_cache *fgc_key_params(struct fgc *c,
                                           const struct fgc_item *x,
                                           struct fg_rule_cache *buf)
{
	return fg__rule_key(c->fg, x->rule, fg__rule_params(c->fg, x->rule),
	                    x->key, x->klen, buf);
}

int64_t fgc_tokens_left(struct fgc *c, const struct fgc_item *x, uint64_t now)
{
	struct fg_rule_cache buf;
	const struct fg_rule_cache *rc = fgc_key_params(c, x, &buf);
	uint64_t tat = x->tat, debt;

	if (!(rc->flags & FG__RULE_ACTIVE))
		return 0;
	if (rc->flags & FG__RULE_WINDOWS) /* a window's counts */
		return fg__tokens_left(c->fg, x->rule, rc, tat, now);
	if (tat == FG_TAT_EVICTED || tat <= now)
		return rc->capacity;
	debt = tat - now;
	if (debt <= rc->tau_ns)
		return (int64_t)((rc->tau_ns - debt) / rc->interval_ns);
	debt -= rc->tau_ns;
	return -(int64_t)((debt + rc->interval_ns - 1) / rc->interval_ns);
}

int fgc_cmp_rule_key(const void *a, const void *b)
{
	const struct fgc_item *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int d;

	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	d = memcmp(x->key, y->key, n);
	return d ? d : (int)x->klen - (int)y->klen;
}

void fgc_human_key(const uint8_t *k, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (k[i] > 0x20 && k[i] < 0x7f && k[i] != '\\')
			*out++ = (char)k[i];
		else
			out += sprintf(out, "\\x%02x", k[i]);
	}
	*out = '\0';
}

const char *fgc_rule_algorithm(uint32_t flags)
{
	if (flags & FG_RULE_IN_FLIGHT)
		return "in-flight";
	if (flags & FG_RULE_SLIDING_WINDOW)
		return "sliding-window";
	return flags & FG_RULE_FIXED_WINDOW ? "fixed-window" : "gcra";
}

const char *fgc_rule_scope(uint32_t flags)
{
	if (flags & FG_RULE_STRICT)
		return "strict";
	return flags & FG_RULE_GLOBAL ? "global" : "host";
}

char *fgc_rule_rate(const fg_rule_info *ri, char *buf, size_t len)
{
	char d[FGU_HUMAN_MAX];

	if (ri->flags & FG_RULE_IN_FLIGHT) { /* leases at once, no rate */
		snprintf(buf, len, "lease %s",
		         fgu_duration(ri->lease_ms, d, sizeof d));
		return buf;
	}
	return fgu_rate(ri->rate, ri->period_ms, buf, len);
}
