/* SPDX-License-Identifier: ISC */
/*
 * overapply.c - the config's overrides, into the segment.
 *
 * The config's overrides are the segment's overrides without
 * FG_OVR_RUNTIME; those set with floodgate(1) at run time carry it.  A
 * load or reload sets the config's (not over a run-time one of the same
 * key: the operator's last word stands until floodgate override rm) and
 * then removes the config's that the new config no longer has, so a key
 * whose override changes is never without one in between.  The one
 * failure is a table with no room near a key's place (shm/override.c);
 * reload.c then puts the old rules, and their overrides, back.
 */
#include "daemon/overapply.h"

#include <string.h>
#include <syslog.h>

#include "daemon/log.h"
#include "lib/client.h"
#include "shm/override.h"

/* Whether @e (of the segment, without FG_OVR_RUNTIME) is one of @cfg's. */
static int in_config(fg_client *fg, const struct fgd_config *cfg,
                     const struct fg_ovr_entry *e)
{
	size_t i;

	for (i = 0; i < cfg->ov.noverrides; i++) {
		const struct fgd_override *o = &cfg->ov.overrides[i];

		if (o->keylen == e->keylen && o->prefix == (e->kind & 1u) &&
		    memcmp(o->key, e->key, e->keylen) == 0 &&
		    fg__rule_index(fg, o->rule) == (int)e->rule)
			return 1;
	}
	return 0;
}

/* Set @o unless a run-time override holds its key: 0, or the error. */
static int set_one(fg_client *fg, const struct fgd_override *o)
{
	struct fg_ovr_entry e, cur;
	int idx = fg__rule_index(fg, o->rule);

	if (idx < 0)
		return FG_ENORULE;
	memset(&e, 0, sizeof e);
	e.rule = (uint8_t)idx;
	e.keylen = (uint8_t)o->keylen;
	e.kind = o->prefix ? FG_OVR_PREFIX : 0;
	memcpy(e.key, o->key, o->keylen);
	memcpy(e.tier, o->tier, sizeof e.tier);
	e.capacity = o->capacity;
	e.rate = o->rate;
	e.period_ms = o->period_ms;
	if (fg__ovr_find(fg->seg.ovr, fg->seg.tbl.seed, e.rule, e.kind, e.key,
	                 e.keylen, &cur) &&
	    (cur.kind & FG_OVR_RUNTIME))
		return 0;
	return fg__override_set(fg, &e);
}

int fgd_overrides_apply(fg_client *fg, const struct fgd_config *cfg)
{
	struct fg_ovr_entry e;
	unsigned i = 0;
	size_t k;
	int r;

	for (k = 0; k < cfg->ov.noverrides; k++) {
		const struct fgd_override *o = &cfg->ov.overrides[k];

		r = set_one(fg, o);
		if (r != 0) {
			fgd_log(LOG_ERR, "override %s %s %.*s: %s", o->rule,
			        o->prefix ? "prefix" : "key", (int)o->keylen,
			        (const char *)o->key,
			        r == FG_ENOMEM ? "the override table is full "
			                         "near its slot"
			                       : fg_strerror(r));
			return -1;
		}
	}
	while (fg__override_next(fg, &i, &e))
		if (!(e.kind & FG_OVR_RUNTIME) && !in_config(fg, cfg, &e))
			(void)fg__override_remove(fg, e.rule,
			                          e.kind & FG_OVR_PREFIX, e.key,
			                          e.keylen);
	return 0;
}
