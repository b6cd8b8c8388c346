/* SPDX-License-Identifier: ISC */
/*
 * overconf.c - tiers and overrides in floodgate.conf(5):
 *
 *   tier NAME capacity N rate R/PERIOD
 *   override RULE key KEY tier NAME
 *   override RULE key KEY capacity N rate R/PERIOD
 *   override RULE prefix PREFIX tier NAME
 *   override RULE prefix PREFIX capacity N rate R/PERIOD
 *
 * A tier is a name for a capacity and a rate, defined before the
 * overrides that name it.  An override gives one key of a rule (key) or
 * every key that starts with some bytes (prefix) its own capacity and
 * rate: the key's exact override wins, else its longest prefix
 * (shm/override.c).  Capacity and rate are checked by the rule
 * directive's own words (rule.c, hence the library's fg__rule_check), so
 * a config that parses holds nothing the segment refuses.  The rule of
 * an override must be a rule of tokens of the same config, which is
 * checked once every line is read (rules may come after).
 *
 * Pure, like config.c: what the segment does with them is reload.c's.
 */
#include "daemon/overconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/rule.h"
#include "lib/client.h"
#include "util/why.h"

#define CLIP "%.64s"

/* "capacity N rate R/PERIOD" (in either order) of @what into *@cap,
 * *@rate, *@period: checked as a rule's, by rule.c. */
static int limit_words(const char *what, char **w, int nw, uint32_t *cap,
                       uint32_t *rate, uint32_t *period, char *why, size_t len)
{
	char x[] = "x", *rw[5] = {x};
	struct fgd_rule r;
	char rwhy[256];
	int i;

	if (nw != 4)
		return fgu_why(why, len,
		               "%s: give capacity N rate R/PERIOD, like "
		               "capacity 100 rate 50/1s",
		               what);
	for (i = 0; i < nw; i += 2)
		if (strcmp(w[i], "capacity") != 0 && strcmp(w[i], "rate") != 0)
			return fgu_why(why, len,
			               "%s: unknown keyword '" CLIP
			               "' (capacity, rate)",
			               what, w[i]);
	memcpy(rw + 1, w, 4 * sizeof *w);
	if (fgd_rule_words(rw, 5, &r, rwhy, sizeof rwhy) != 0) {
		/* rule.c's words, about a rule named "x": say whose */
		const char *tail =
		    strncmp(rwhy, "rule 'x': ", 10) == 0 ? rwhy + 10 : rwhy;

		return fgu_why(why, len, "%s: %s", what, tail);
	}
	*cap = r.capacity;
	*rate = r.rate;
	*period = r.period_ms;
	return 0;
}

static const struct fgd_tier *tier_find(const struct fgd_overconf *cfg,
                                        const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ntiers; i++)
		if (strcmp(cfg->tiers[i].name, name) == 0)
			return &cfg->tiers[i];
	return NULL;
}

static int tier_words(struct fgd_overconf *cfg, char **w, int nw, char *why,
                      size_t len)
{
	struct fgd_tier t, *nt;
	char what[64];

	memset(&t, 0, sizeof t);
	if (nw < 2 || !fg__rule_name_ok(w[1]) || strlen(w[1]) > FG_OVR_TIER_MAX)
		return fgu_why(why, len,
		               "tier '" CLIP "': name must be 1..%u of "
		               "[A-Za-z0-9_.:/-]",
		               nw < 2 ? "" : w[1], FG_OVR_TIER_MAX);
	snprintf(what, sizeof what, "tier '%s'", w[1]);
	if (tier_find(cfg, w[1]) != NULL)
		return fgu_why(why, len, "%s: defined twice", what);
	if (cfg->ntiers == FGD_TIERS_MAX)
		return fgu_why(why, len, "more than %u tiers", FGD_TIERS_MAX);
	if (limit_words(what, w + 2, nw - 2, &t.capacity, &t.rate, &t.period_ms,
	                why, len) != 0)
		return -1;
	memcpy(t.name, w[1], strlen(w[1]));
	nt = realloc(cfg->tiers, (cfg->ntiers + 1) * sizeof *nt);
	if (nt == NULL)
		return fgu_why(why, len, "out of memory");
	cfg->tiers = nt;
	cfg->tiers[cfg->ntiers++] = t;
	return 0;
}

/* The limit of an override: "tier NAME" or capacity and rate. */
static int override_limit(const struct fgd_overconf *cfg, const char *what,
                          char **w, int nw, struct fgd_override *o, char *why,
                          size_t len)
{
	const struct fgd_tier *t;

	if (nw < 1 || strcmp(w[0], "tier") != 0)
		return limit_words(what, w, nw, &o->capacity, &o->rate,
		                   &o->period_ms, why, len);
	if (nw != 2)
		return fgu_why(why, len, "%s: give tier NAME", what);
	t = tier_find(cfg, w[1]);
	if (t == NULL)
		return fgu_why(why, len,
		               "%s: no tier '" CLIP "' (define it with tier "
		               "NAME capacity N rate R/PERIOD above)",
		               what, w[1]);
	memcpy(o->tier, t->name, sizeof o->tier);
	o->capacity = t->capacity;
	o->rate = t->rate;
	o->period_ms = t->period_ms;
	return 0;
}

static int same_override(const struct fgd_override *a,
                         const struct fgd_override *b)
{
	return strcmp(a->rule, b->rule) == 0 && a->prefix == b->prefix &&
	       a->keylen == b->keylen && memcmp(a->key, b->key, a->keylen) == 0;
}

static int override_words(struct fgd_overconf *cfg, char **w, int nw,
                          size_t line, char *why, size_t len)
{
	struct fgd_override o, *no;
	char what[160];
	size_t i, klen;

	memset(&o, 0, sizeof o);
	if (nw < 4 || !fg__rule_name_ok(w[1]) ||
	    (strcmp(w[2], "key") != 0 && strcmp(w[2], "prefix") != 0))
		return fgu_why(why, len,
		               "override needs RULE key|prefix KEY and tier "
		               "NAME or capacity N rate R/PERIOD");
	klen = strlen(w[3]);
	snprintf(what, sizeof what, "override %s %s '" CLIP "'", w[1], w[2],
	         w[3]);
	if (klen > FG_KEY_MAX)
		return fgu_why(why, len, "%s: longer than %d bytes", what,
		               FG_KEY_MAX);
	strcpy(o.rule, w[1]);
	memcpy(o.key, w[3], klen);
	o.keylen = (uint32_t)klen;
	o.prefix = w[2][0] == 'p';
	o.line = line;
	if (override_limit(cfg, what, w + 4, nw - 4, &o, why, len) != 0)
		return -1;
	for (i = 0; i < cfg->noverrides; i++)
		if (same_override(&cfg->overrides[i], &o))
			return fgu_why(why, len,
			               "%s: given twice (first on line %zu)",
			               what, cfg->overrides[i].line);
	if (cfg->noverrides == FGD_OVERRIDES_MAX)
		return fgu_why(why, len, "more than %u overrides",
		               FGD_OVERRIDES_MAX);
	no = realloc(cfg->overrides, (cfg->noverrides + 1) * sizeof *no);
	if (no == NULL)
		return fgu_why(why, len, "out of memory");
	cfg->overrides = no;
	cfg->overrides[cfg->noverrides++] = o;
	return 0;
}

int fgd_overconf_words(struct fgd_overconf *cfg, char **w, int nw, size_t line,
                       char *why, size_t len)
{
	if (strcmp(w[0], "tier") == 0)
		return tier_words(cfg, w, nw, why, len);
	return override_words(cfg, w, nw, line, why, len);
}

int fgd_overconf_check(const struct fgd_overconf *cfg,
                       const struct fgd_rule *rules, size_t nrules,
                       size_t *line, char *why, size_t len)
{
	size_t i, j;

	for (i = 0; i < cfg->noverrides; i++) {
		const struct fgd_override *o = &cfg->overrides[i];

		for (j = 0; j < nrules; j++)
			if (strcmp(rules[j].name, o->rule) == 0)
				break;
		*line = o->line;
		if (j == nrules)
			return fgu_why(why, len,
			               "override %s: no rule '%s' in this "
			               "config",
			               o->rule, o->rule);
		if (rules[j].flags &
		    (FG_RULE_IN_FLIGHT | FG_RULE_STRICT |
		     FG_RULE_SLIDING_WINDOW | FG_RULE_FIXED_WINDOW))
			return fgu_why(why, len,
			               "override %s: only a gcra rule of host "
			               "or global scope takes overrides (not "
			               "in-flight, strict or a window)",
			               o->rule);
	}
	return 0;
}

void fgd_overconf_free(struct fgd_overconf *cfg)
{
	free(cfg->tiers);
	free(cfg->overrides);
	cfg->tiers = NULL;
	cfg->overrides = NULL;
	cfg->ntiers = cfg->noverrides = 0;
}
