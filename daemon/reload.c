/* SPDX-License-Identifier: ISC */
/*
 * reload.c - see reload.h.
 *
 * A reload is all or nothing.  A configuration with an error is
 * rejected whole, with its file:line (config.c parses it purely, and
 * checks every rule as fg_rule_set() would), and so is one the segment
 * cannot hold: a rule name, once given, is the segment's for its life
 * (lib/owner.c keeps rule indices stable for workers), so a segment holds
 * FG_RULES_MAX names over all its configurations, removed rules
 * included.  Both are checked before anything changes; the answer says
 * why, and how to recover: a restart on a new segment, whose snapshot
 * (written at exit, restored into the new segment by name) keeps the
 * buckets of the rules that still exist.  After that only a failure of
 * the segment's lock can stop fg_rule_set half-way; the old rules are then
 * put back.  What a running daemon cannot change (the segment, the keys,
 * the sockets, HTTP, Redis) is said to take effect at restart.  The
 * config's overrides follow its rules (overapply.c).
 */
#include "daemon/reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon/log.h"
#include "daemon/net.h"
#include "daemon/overapply.h"
#include "daemon/strict.h"
#include "lib/client.h"

/* The first rule of @cfg whose kind or algorithm is not the one its name
 * holds in the segment, removed or not (fg_rule_set() would refuse it,
 * half-way through the rules), or NULL. */
static const struct fgd_rule *kind_changed(fg_client *fg,
                                           const struct fgd_config *cfg)
{
	const uint32_t kind =
	    FG_RULE_IN_FLIGHT | FG_RULE_SLIDING_WINDOW | FG_RULE_FIXED_WINDOW;
	size_t i;

	for (i = 0; i < cfg->nrules; i++) {
		int idx = fg__rule_index(fg, cfg->rules[i].name);
		const struct fg_rule_rec *r;

		if (idx < 0)
			continue;
		r = &fg->seg.rules[idx];
		if ((r->params[__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) & 1]
		         .flags ^
		     cfg->rules[i].flags) &
		    kind)
			return &cfg->rules[i];
	}
	return NULL;
}

int fgd_rules_fit(fg_client *fg, const struct fgd_config *cfg, char *why,
                  size_t whylen)
{
	size_t i, fresh = 0, used, gone = 0;
	char seg[FG_SEG_PATH_MAX + FGD_PATH_MAX + 2];
	const struct fgd_rule *changed;
	fg_rule_info ri;
	unsigned idx;

	(void)fg__rule_index(fg, ""); /* the names given so far */
	if ((changed = kind_changed(fg, cfg)) != NULL) {
		snprintf(why, whylen,
		         "rule '%s': its kind or algorithm differs from what "
		         "its buckets hold (a rule keeps both while the "
		         "segment lives); nothing changed.  Give it a new "
		         "name, or restart on a new segment",
		         changed->name);
		return -1;
	}
	used = fg->nnames;
	for (i = 0; i < cfg->nrules; i++)
		fresh += fg__rule_index(fg, cfg->rules[i].name) < 0;
	if (used + fresh <= FG_RULES_MAX)
		return 0;
	for (idx = 0; idx < used; idx++)
		gone += fg_rule_get(fg, idx, &ri) != 0;
	if (fg__seg_path(cfg->segment, seg, sizeof seg) != 0)
		memcpy(seg, cfg->segment, sizeof cfg->segment);
	snprintf(why, whylen,
	         "rule table full: the segment has names for %d rules, %zu "
	         "given (%zu to rules since removed), and this configuration "
	         "needs %zu more; nothing changed.  To apply it, restart on "
	         "a new segment: stop floodgated, remove %s, start it, then "
	         "restart the workers%s",
	         FG_RULES_MAX, used, gone, fresh, seg,
	         cfg->snapshot[0] ? "; the snapshot written at exit keeps the "
	                            "buckets of the rules that still exist"
	                          : "; without a snapshot directive, buckets "
	                            "start full");
	return -1;
}

int fgd_rules_apply(fg_client *fg, const struct fgd_config *cfg)
{
	fg_rule_info ri;
	size_t i;
	unsigned idx;
	int r;

	for (i = 0; i < cfg->nrules; i++) {
		const struct fgd_rule *cr = &cfg->rules[i];
		fg_rule rule;

		fgd_rule_lib(cr, &rule);
		r = fg_rule_set(fg, &rule);
		if (r == 0) /* 0: the default, also when it was dropped */
			r = fg_rule_share_set(fg, cr->name, cr->share_pct);
		if (r != 0) {
			fgd_log(LOG_ERR, "rule %s: %s", cr->name,
			        fg_strerror(r));
			return -1;
		}
	}
	for (idx = 0; idx < FG_RULES_MAX; idx++) {
		int keep = 0;

		if (fg_rule_get(fg, idx, &ri) != 0)
			continue;
		for (i = 0; i < cfg->nrules && !keep; i++)
			keep = strcmp(cfg->rules[i].name, ri.name) == 0;
		if (!keep && fg_rule_remove(fg, ri.name) == 0)
			fgd_log(LOG_INFO, "rule %s removed", ri.name);
	}
	/* the overrides of the rules just set (daemon/overconf.c) */
	return fgd_overrides_apply(fg, cfg);
}

/* Say what a running daemon does not take from @nc. */
static void restart_only(const struct fgd_config *nc,
                         const struct fgd_config *cfg)
{
	if (strcmp(nc->segment, cfg->segment) != 0 ||
	    nc->capacity != cfg->capacity ||
	    strcmp(nc->node_key, cfg->node_key) != 0 ||
	    strcmp(nc->keyring, cfg->keyring) != 0 ||
	    nc->listen.len != cfg->listen.len ||
	    memcmp(&nc->listen.ss, &cfg->listen.ss, nc->listen.len) != 0)
		fgd_log(LOG_WARNING, "segment, capacity, keys and listen take "
		                     "effect at restart only");
	if (!fgd_config_http_same(nc, cfg))
		fgd_log(LOG_WARNING, "http takes effect at restart only");
	if (!fgr_conf_same(&nc->redis, &cfg->redis))
		fgd_log(LOG_WARNING, "sync and redis-* take effect at restart "
		                     "only");
}

/* Take what a running node can change from @nc: peers, interval, size,
 * rules (@nc keeps what it gave away as NULL). */
static void take(struct fgd_daemon *d, struct fgd_config *nc)
{
	free(d->cfg.peers);
	d->cfg.peers = nc->peers;
	d->cfg.npeers = nc->npeers;
	nc->peers = NULL;
	d->cfg.interval_ms = nc->interval_ms;
	d->cfg.max_datagram = nc->max_datagram;
	d->cfg.fanout = nc->fanout;
	d->cfg.announce = nc->announce;
	d->cfg.announce_off = nc->announce_off;
	free(d->cfg.rules);
	d->cfg.rules = nc->rules;
	d->cfg.nrules = nc->nrules;
	nc->rules = NULL;
	if (d->node_ok) {
		if (d->cfg.npeers > d->node.counts.npeers)
			d->node.counts.npeers = d->cfg.npeers;
		if (fgd_net_attach(d) != 0)
			fgd_log(LOG_ERR,
			        "reload: out of memory: old peers kept");
		d->node.x.max_datagram = d->cfg.max_datagram;
		d->node.members.interval_ms = d->cfg.interval_ms;
	}
}

/* The first strict rule of @nc: its socket opens before the rule is
 * published, so that no worker finds the rule and not the socket.  It
 * stays open if a later reload drops every strict rule (a request for a
 * rule that is not strict is dropped). */
static void strict_start(struct fgd_daemon *d, const struct fgd_config *nc)
{
	struct fgd_config with = *nc;
	char err[512];

	if (d->strict.lfd >= 0 || !fgd_strict_wanted(nc))
		return;
	if (!d->cfg.redis.on) {
		fgd_log(LOG_ERR, "reload: strict rules need the sync of a "
		                 "restart: their checks fall back to "
		                 "on-redis-down until then");
		return;
	}
	with.redis = d->cfg.redis; /* redis-* change at restart only */
	if (fgd_strict_open(&d->strict, d->fg, &with, &d->strict_pw, fgd_log,
	                    err, sizeof err) != 0) {
		fgd_log(LOG_ERR, "reload: %s", err);
		return;
	}
	d->strict.cfg = &d->cfg; /* @nc's rules are about to be ours */
	d->ctl.env.strict = &d->strict;
	fgd_http_attach(d->http, d->node_ok ? &d->node : NULL, &d->strict);
	fgd_log(LOG_INFO, "strict rules: requests at %s", d->strict.path);
}

int fgd_reload(struct fgd_daemon *d, char *why, size_t whylen)
{
	struct fgd_config nc;
	char err[1024], *text = NULL;
	size_t len = 0;
	int r;

	/* read by the privileged process: it can where we may not */
	r = fgd_ps_conf_read(&d->ps, &text, &len, err, sizeof err);
	if (r == 0)
		r = fgd_config_parse(text, len, d->cfg_path, &nc, err,
		                     sizeof err);
	free(text);
	if (r != 0) {
		fgd_log(LOG_ERR, "reload rejected, old config kept: %s", err);
		snprintf(why, whylen, "reload rejected, old config kept: %s",
		         err);
		return -1;
	}
	if (fgd_rules_fit(d->fg, &nc, err, sizeof err) != 0) {
		fgd_log(LOG_ERR, "reload refused: %s", err);
		snprintf(why, whylen, "reload refused: %s", err);
		fgd_config_free(&nc);
		return -1;
	}
	restart_only(&nc, &d->cfg);
	strict_start(d, &nc);
	if (fgd_rules_apply(d->fg, &nc) != 0) {
		/* the lock failed half-way: put the old rules back */
		(void)fgd_rules_apply(d->fg, &d->cfg);
		fgd_log(LOG_ERR, "reload failed, old rules put back");
		snprintf(why, whylen,
		         "reload failed, old rules put back: "
		         "the segment's lock failed (see the log)");
		fgd_config_free(&nc);
		return -1;
	}
	take(d, &nc);
	fgd_config_free(&nc);
	fgd_log(LOG_INFO, "configuration reloaded: %zu rules, %zu peers",
	        d->cfg.nrules, d->cfg.npeers);
	return 0;
}

int fgd_reload_ctl(void *arg, char *why, size_t whylen)
{
	return fgd_reload(arg, why, whylen);
}
