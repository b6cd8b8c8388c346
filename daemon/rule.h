/*
 * rule.h - the words of a rule directive (rule.c).
 */
#ifndef FGD_RULE_H
#define FGD_RULE_H

#include <stddef.h>

#include "daemon/config.h"

/* The words of a rule directive after "rule", the name first: 0 and @r
 * filled, or -1 and why in @why ("rule 'api': ..."). */
int fgd_rule_words(char **w, int nw, struct fgd_rule *r, char *why, size_t len);

#endif
