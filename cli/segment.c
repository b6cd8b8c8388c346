/*
 * segment.c - what floodgate(1) reads in the segment: the segment itself,
 * its rules and its buckets, and the library's errors said to a person.
 *
 * Reading slots.  A slot is copied (ctl, key, counters) and kept only if
 * its ctl word is the same after the copy: a slot reclaimed and reused
 * meanwhile is skipped, never shown with another key's figures.  The tool
 * never writes a slot except in reset (act.c), through the library's CAS.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/uatomic.h>

#include "cli/cli.h"
#include "shm/hash.h"
#include "shm/table.h"
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

int fgc_slot_read(struct fg_table *t, uint64_t i, struct fgc_item *it)
{
	struct fg_slot *s = &t->slots[i];
	uint64_t c = uatomic_read(&s->ctl);

	if (FG_CTL_STATE(c) != FG_SLOT_READY || FG_CTL_KEYLEN(c) == 0 ||
	    FG_CTL_KEYLEN(c) > FG_KEY_MAX)
		return 0;
	cmm_smp_rmb(); /* key bytes after ctl */
	memset(it, 0, sizeof *it);
	it->slot = i;
	it->ctl = c;
	it->rule = FG_CTL_RULE(c);
	it->klen = (uint8_t)FG_CTL_KEYLEN(c);
	memcpy(it->key, s->key, it->klen);
	it->consumed = uatomic_read(&s->consumed);
	it->denied = uatomic_read(&s->aux);
	it->tat = uatomic_read(&s->tat);
	cmm_smp_rmb();
	return uatomic_read(&s->ctl) == c; /* else reused meanwhile: skip */
}

int fgc_bucket_read(struct fgc *c, unsigned rule, const void *key, size_t len,
                    struct fgc_item *it)
{
	struct fg_table *t = &c->fg->seg.tbl;
	struct fg_slot *s;

	s = fg__table_lookup(t, rule, key, len,
	                     fg__hash64(t->seed, rule, key, len));
	if (s != NULL && fgc_slot_read(t, (uint64_t)(s - t->slots), it))
		return 1;
	memset(it, 0, sizeof *it);
	return 0;
}

int64_t fgc_tokens_left(struct fgc *c, unsigned rule, uint64_t tat,
                        uint64_t now)
{
	const struct fg_rule_cache *rc = fg__rule_params(c->fg, rule);
	uint64_t debt;

	if (!(rc->flags & FG__RULE_ACTIVE))
		return 0;
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

const char *fgc_rule_scope(uint32_t flags)
{
	return flags & FG_RULE_GLOBAL ? "global" : "host";
}

char *fgc_rule_rate(const fg_rule_info *ri, char *buf, size_t len)
{
	return fgu_rate(ri->rate, ri->period_ms, buf, len);
}
