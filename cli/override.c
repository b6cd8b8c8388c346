/* SPDX-License-Identifier: ISC */
/*
 * override.c - floodgate override set|rm|list: a key's own capacity and
 * rate, at run time.
 *
 * Overrides live in the segment (shm/override.c), so the CLI writes them
 * itself, under the segment's owner lock, as reset does: the segment's
 * owner or root only.  A worker sees one at its next check of the rule;
 * no daemon is needed.  Those set here are marked as set at run time:
 * the daemon's reloads leave them alone, and its snapshots keep them
 * across a restart on a new segment.  The words after set are those of
 * floodgate.conf(5)'s override directive (daemon/overconf.c), so both
 * take and refuse the same things; tier NAME needs -c CONFIG, whose
 * tiers it names.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/config.h"
#include "shm/override.h"
#include "util/human.h"

#define KIND_WORD(e) ((e)->kind & FG_OVR_PREFIX ? "prefix" : "key")

void fgc_override_say(const struct fg_ovr_entry *e, char *buf, size_t len)
{
	char hk[HUMAN_KEY_MAX], rate[FGU_HUMAN_MAX];

	fgc_human_key(e->key, e->keylen, hk);
	snprintf(buf, len, "%s %s%s%s%s: capacity %" PRIu32 ", %s (%s)",
	         KIND_WORD(e), hk, e->tier[0] ? " (tier " : "", e->tier,
	         e->tier[0] ? ")" : "", e->capacity,
	         fgu_rate(e->rate, e->period_ms, rate, sizeof rate),
	         e->kind & FG_OVR_RUNTIME ? "run time" : "config");
}

void fgc_override_json(struct fgc *c, const char *rule,
                       const struct fg_ovr_entry *e)
{
	struct fgu_json *j = &c->j;

	fgu_json_object(j);
	if (rule != NULL)
		fgu_json_kstr(j, "rule", rule);
	fgu_json_kstr(j, "kind", KIND_WORD(e));
	fgu_json_name(j, "match");
	fgu_json_bytes(j, e->key, e->keylen);
	if (e->tier[0])
		fgu_json_kstr(j, "tier", e->tier);
	fgu_json_ku64(j, "capacity", e->capacity);
	fgu_json_ku64(j, "rate", e->rate);
	fgu_json_ku64(j, "period_ms", e->period_ms);
	fgu_json_kstr(j, "origin",
	              e->kind & FG_OVR_RUNTIME ? "runtime" : "config");
	fgu_json_object_end(j);
}

/* The override of set's words (@argv: RULE key|prefix KEY ...) in *@e. */
static int set_words(struct fgc *c, int argc, char **argv,
                     struct fg_ovr_entry *e)
{
	struct fgd_overconf cfg;
	const struct fgd_override *o;
	char *w[16], why[320], word[] = "override";
	int i;

	if (argc < 4 || argc > 15)
		return fgc_usage_error(c);
	memset(&cfg, 0, sizeof cfg);
	cfg.tiers = c->tiers;
	cfg.ntiers = c->ntiers;
	w[0] = word;
	for (i = 0; i < argc; i++)
		w[i + 1] = argv[i];
	if (fgd_overconf_words(&cfg, w, argc + 1, 0, why, sizeof why) != 0) {
		fgc_warn("%s%s", why,
		         strstr(why, "no tier") && c->ntiers == 0
		             ? " (tiers come from the config: give -c CONFIG)"
		             : "");
		free(cfg.overrides);
		return EXIT_USAGE;
	}
	o = &cfg.overrides[0];
	memset(e, 0, sizeof *e);
	e->keylen = (uint8_t)o->keylen;
	memcpy(e->key, o->key, o->keylen);
	e->kind = FG_OVR_RUNTIME | (o->prefix ? FG_OVR_PREFIX : 0);
	memcpy(e->tier, o->tier, sizeof e->tier);
	e->capacity = o->capacity;
	e->rate = o->rate;
	e->period_ms = o->period_ms;
	free(cfg.overrides);
	return 0;
}

static int override_set(struct fgc *c, int argc, char **argv)
{
	struct fg_ovr_entry e;
	fg_rule_info ri;
	unsigned idx;
	char say[512];
	int r;

	if ((r = set_words(c, argc, argv, &e)) != 0 ||
	    (r = fgc_seg_open(c)) != 0 ||
	    (r = fgc_owner_only(c, "set an override")) != 0 ||
	    (r = fgc_rule_find(c, argv[0], &idx, &ri)) != 0)
		return r;
	e.rule = (uint8_t)idx;
	r = fg__override_set(c->fg, &e);
	if (r == FG_ENOMEM) {
		fgc_warn("override %s: the override table has no room near "
		         "this key's slot: remove overrides no longer needed "
		         "(floodgate override list)",
		         argv[0]);
		return EXIT_SYS;
	}
	if (r == FG_EKIND) {
		fgc_warn("override %s: an in-flight rule takes no overrides",
		         argv[0]);
		return EXIT_USAGE;
	}
	if (r != 0)
		return fgc_fail(c, argv[0], r);
	if (c->json) {
		fgc_override_json(c, argv[0], &e);
	} else {
		fgc_override_say(&e, say, sizeof say);
		fgc_out(c, "override %s %s\n", argv[0], say);
	}
	return 0;
}

static int override_rm(struct fgc *c, int argc, char **argv)
{
	fg_rule_info ri;
	unsigned idx;
	size_t len;
	int r, prefix;

	if (argc != 3 ||
	    (strcmp(argv[1], "key") != 0 && strcmp(argv[1], "prefix") != 0))
		return fgc_usage_error(c);
	prefix = argv[1][0] == 'p';
	if ((r = fgc_key_arg(argv[2], &len)) != 0 ||
	    (r = fgc_seg_open(c)) != 0 ||
	    (r = fgc_owner_only(c, "remove an override")) != 0 ||
	    (r = fgc_rule_find(c, argv[0], &idx, &ri)) != 0)
		return r;
	r = fg__override_remove(c->fg, idx, prefix ? FG_OVR_PREFIX : 0, argv[2],
	                        len);
	if (r < 0)
		return fgc_fail(c, argv[0], r);
	if (c->json) {
		fgu_json_object(&c->j);
		fgu_json_kbool(&c->j, "removed", r);
		fgu_json_object_end(&c->j);
	} else {
		fgc_out(c, "%s\n",
		        r ? "removed" : "no such override (nothing to do)");
	}
	return 0;
}

static int override_list(struct fgc *c, int argc, char **argv)
{
	struct fg_ovr_entry e;
	fg_rule_info ri;
	unsigned i = 0, idx = FG_RULES_MAX;
	char say[512];
	int r;

	if (argc > 1)
		return fgc_usage_error(c);
	if ((r = fgc_seg_open(c)) != 0 ||
	    (argc == 1 && (r = fgc_rule_find(c, argv[0], &idx, &ri)) != 0))
		return r;
	if (c->json)
		fgu_json_array(&c->j);
	while (fg__override_next(c->fg, &i, &e)) {
		if ((idx != FG_RULES_MAX && e.rule != idx) ||
		    fg_rule_get(c->fg, e.rule, &ri) != 0)
			continue;
		if (c->json) {
			fgc_override_json(c, ri.name, &e);
			continue;
		}
		fgc_override_say(&e, say, sizeof say);
		fgc_out(c, "%-20s %s\n", ri.name, say);
	}
	if (c->json)
		fgu_json_array_end(&c->j);
	return 0;
}

int fgc_cmd_override(struct fgc *c, int argc, char **argv)
{
	if (argc < 2) /* no word: list them all */
		return override_list(c, 0, argv + 1);
	if (strcmp(argv[1], "set") == 0)
		return override_set(c, argc - 2, argv + 2);
	if (strcmp(argv[1], "rm") == 0)
		return override_rm(c, argc - 2, argv + 2);
	if (strcmp(argv[1], "list") == 0)
		return override_list(c, argc - 2, argv + 2);
	return fgc_usage_error(c);
}
