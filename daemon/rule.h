/* SPDX-License-Identifier: ISC */
/*
 * rule.h - the words of a rule directive (rule.c).
 */
#ifndef FGD_RULE_H
#define FGD_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/floodgate.h"

/* A rule of the config, as fg_rule_set() takes it. */
struct fgd_rule {
	char name[FG_RULE_NAME_MAX + 1];
	uint32_t capacity;
	uint32_t rate;
	uint32_t period_ms;
	uint32_t flags;        /* FG_RULE_* */
	uint32_t max_delay_ms; /* 0: none */
	uint32_t lease_ms;     /* in-flight rules */
	uint32_t share_pct;    /* of the table's slots; 0: the default */

	uint32_t penalty_denials;   /* FG_RULE_PENALTY: N denials ... */
	uint32_t penalty_window_ms; /* ... within this ... */
	uint32_t penalty_block_ms;  /* ... block for this */
	uint32_t strict_lease; /* scope strict: "lease N" tokens; 0: none */
};

/* @r as fg_rule_set() takes it (its name is @r's). */
void fgd_rule_lib(const struct fgd_rule *r, fg_rule *out);

/* The words of a rule directive after "rule", the name first: 0 and @r
 * filled, or -1 and why in @why ("rule 'api': ..."). */
int fgd_rule_words(char **w, int nw, struct fgd_rule *r, char *why, size_t len);

#endif
