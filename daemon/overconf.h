/* SPDX-License-Identifier: ISC */
/*
 * overconf.h - the tier and override directives of floodgate.conf(5)
 * (overconf.c), and what the daemon does with them.
 */
#ifndef FGD_OVERCONF_H
#define FGD_OVERCONF_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/rule.h"
#include "lib/floodgate.h"
#include "shm/layout.h"

#define FGD_TIERS_MAX     64u   /* tier directives in one config */
#define FGD_OVERRIDES_MAX 1024u /* override directives in one config */

/* "tier NAME capacity N rate R/PERIOD" */
struct fgd_tier {
	char name[FG_OVR_TIER_MAX + 1];
	uint32_t capacity, rate, period_ms;
};

/* "override RULE key|prefix KEY tier NAME|capacity N rate R/PERIOD" */
struct fgd_override {
	char rule[FG_RULE_NAME_MAX + 1];
	uint8_t key[FG_KEY_MAX];
	uint32_t keylen;
	uint32_t prefix;                /* 1: KEY is a prefix */
	char tier[FG_OVR_TIER_MAX + 1]; /* "" when given as numbers */
	uint32_t capacity, rate, period_ms;
	size_t line; /* of the config, for messages */
};

/* The tiers and overrides of a config. */
struct fgd_overconf {
	struct fgd_tier *tiers;
	size_t ntiers;
	struct fgd_override *overrides;
	size_t noverrides;
};

/* The words of a tier (@w[0] "tier") or override (@w[0] "override")
 * directive at @line into @oc: 0, or -1 with why in @why. */
int fgd_overconf_words(struct fgd_overconf *oc, char **w, int nw, size_t line,
                       char *why, size_t len);

/* Once every line is read: each override's rule is a rule of tokens of
 * the config's @nrules @rules.  0, or -1 with why in @why and its line in
 * *@line. */
int fgd_overconf_check(const struct fgd_overconf *oc,
                       const struct fgd_rule *rules, size_t nrules,
                       size_t *line, char *why, size_t len);

void fgd_overconf_free(struct fgd_overconf *oc);

#endif
