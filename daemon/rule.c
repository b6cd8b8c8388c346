/* SPDX-License-Identifier: ISC */
/*
 * rule.c - the words of a rule directive (floodgate.conf(5)):
 *
 *   rule NAME capacity N rate R/PERIOD [scope host|global]
 *        [on-full open|closed] [mode enforce|shadow] [default]
 *        [max-delay DURATION] [share P%] [algorithm gcra]
 *        [penalty N denials in DURATION block DURATION]
 *   rule NAME rate N/PERIOD algorithm sliding-window|fixed-window
 *        [capacity N] [scope ...] [on-full ...] [mode ...] [default]
 *        [share P%]
 *   rule NAME in-flight N [lease DURATION] [on-full open|closed]
 *        [mode enforce|shadow] [share P%]
 *   rule NAME capacity N rate R/PERIOD scope strict [lease N]
 *        [on-redis-down allow|deny] [default] [share P%]
 *
 * keywords in any order, each at most once, from one table that also
 * names them in messages.  What the library's fg_rule_set() would refuse
 * is refused here in its own terms, by the library's own check
 * (fg__rule_check), so the config and the owner API cannot drift apart.
 * Pure: no allocation, no state; config.c adds the rule to the config.
 */
#include "daemon/rule.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/client.h"
#include "shm/lease.h"
#include "util/human.h"
#include "util/num.h"
#include "util/why.h"

#define CLIP "%.64s" /* how much of a word a message echoes */

enum {
	K_CAPACITY,
	K_RATE,
	K_SCOPE,
	K_ONFULL,
	K_MODE,
	K_DEFAULT,
	K_MAXDELAY,
	K_INFLIGHT,
	K_LEASE,
	K_SHARE,
	K_PENALTY,
	K_ALGORITHM,
	K_ONDOWN,
	K_N
};

/* What only a rule of tokens takes, and what only an in-flight one does. */
#define K_TOKENS                                                               \
	(1u << K_CAPACITY | 1u << K_RATE | 1u << K_DEFAULT |                   \
	 1u << K_MAXDELAY | 1u << K_PENALTY | 1u << K_ALGORITHM)
#define K_LEASES (1u << K_INFLIGHT | 1u << K_LEASE)

#define LEASE_DEFAULT_MS 60000u /* the lease when none is given */
#define WINDOWS          (FG_RULE_SLIDING_WINDOW | FG_RULE_FIXED_WINDOW)

typedef int parse_fn(const char *name, const char *val, struct fgd_rule *r,
                     char *why, size_t len);
static parse_fn rule_capacity, rule_rate, rule_scope, rule_max_delay,
    rule_leases, rule_share, rule_algorithm;

static const struct keyword {
	const char *kw;
	parse_fn *parse;      /* its value; NULL: off or on */
	const char *off, *on; /* values, without parse */
	uint32_t flag;        /* set by @on, or by the keyword alone */
} kws[K_N] = {
    [K_CAPACITY] = {"capacity", rule_capacity, NULL, NULL, 0},
    [K_RATE] = {"rate", rule_rate, NULL, NULL, 0},
    [K_SCOPE] = {"scope", rule_scope, NULL, NULL, 0},
    [K_ONFULL] = {"on-full", NULL, "open", "closed", FG_RULE_FAIL_CLOSED},
    [K_MODE] = {"mode", NULL, "enforce", "shadow", FG_RULE_SHADOW},
    [K_DEFAULT] = {"default", NULL, NULL, NULL, FG_RULE_DEFAULT},
    [K_MAXDELAY] = {"max-delay", rule_max_delay, NULL, NULL, 0},
    [K_INFLIGHT] = {"in-flight", rule_leases, NULL, NULL, FG_RULE_IN_FLIGHT},
    [K_LEASE] = {"lease", NULL, NULL, NULL, 0}, /* kind_check's */
    [K_SHARE] = {"share", rule_share, NULL, NULL, 0},
    [K_PENALTY] = {"penalty", NULL, NULL, NULL, FG_RULE_PENALTY}, /* words */
    [K_ALGORITHM] = {"algorithm", rule_algorithm, NULL, NULL, 0},
    [K_ONDOWN] = {"on-redis-down", NULL, "allow", "deny", FG_RULE_FAIL_CLOSED},
};

#define STRICT_LEASE_MAX 1000000u /* tokens of one lease */

/* The words after "penalty" (N, "denials", "in", T, "block", B). */
#define PENALTY_WORDS 6
#define PENALTY_FORM  "penalty N denials in DURATION block DURATION"
#define DAY_MS        86400000u /* the longest window or block */

/* "R/PERIOD": R tokens every PERIOD, both nonzero and within 32 bits. */
static int rule_rate(const char *name, const char *s, struct fgd_rule *r,
                     char *why, size_t len)
{
	const char *slash = strchr(s, '/');
	uint64_t rate, ms;
	int e;

	if (slash == NULL ||
	    fgu_parse_uint(s, (size_t)(slash - s), 0, UINT32_MAX, &rate) != 0)
		return fgu_why(
		    why, len,
		    "rule '%s': rate must be N/PERIOD like 5/1s, not "
		    "'" CLIP "'",
		    name, s);
	if (rate == 0)
		return fgu_why(why, len, "rule '%s': rate must be at least 1",
		               name);
	e = fgu_parse_duration(slash + 1, UINT32_MAX, &ms);
	if (e == FGU_DUR_NOUNIT)
		return fgu_why(why, len,
		               "rule '%s': rate period '" CLIP "' needs a unit "
		               "(ms, s, m or h), like 5/1s",
		               name, slash + 1);
	if (e == FGU_DUR_RANGE)
		return fgu_why(why, len,
		               "rule '%s': rate period '" CLIP "' is too long",
		               name, slash + 1);
	if (e != 0)
		return fgu_why(
		    why, len,
		    "rule '%s': rate must be N/PERIOD like 5/1s, not "
		    "'" CLIP "'",
		    name, s);
	if (ms == 0)
		return fgu_why(why, len,
		               "rule '%s': rate period must be at least 1ms",
		               name);
	r->rate = (uint32_t)rate;
	r->period_ms = (uint32_t)ms;
	return 0;
}

/* "max-delay DURATION" (how long fg_reserve() may hold a request) or
 * "lease DURATION" (how long an in-flight lease may last) into *@out, at
 * least @min and at most @max ms. */
static int rule_ms(const char *name, const char *kw, const char *s,
                   uint64_t min, uint64_t max, uint32_t *out, char *why,
                   size_t len)
{
	char most[FGU_HUMAN_MAX];
	uint64_t ms;
	int e = fgu_parse_duration(s, max, &ms);

	if (e == FGU_DUR_NOUNIT)
		return fgu_why(why, len,
		               "rule '%s': %s '" CLIP "' needs a unit "
		               "(ms, s, m or h), like 500ms",
		               name, kw, s);
	if (e != 0 || ms < min)
		return fgu_why(
		    why, len,
		    "rule '%s': %s must be a duration like "
		    "500ms, from %" PRIu64 "ms to %s, not '" CLIP "'",
		    name, kw, min, fgu_duration(max, most, sizeof most), s);
	*out = (uint32_t)ms;
	return 0;
}

/* "in-flight N": leases at once. */
static int rule_leases(const char *name, const char *s, struct fgd_rule *r,
                       char *why, size_t len)
{
	uint64_t v;

	if (fgu_parse_uint(s, strlen(s), 1, FG_LEASES_MAX, &v) != 0)
		return fgu_why(why, len,
		               "rule '%s': in-flight '" CLIP "' must be a "
		               "number from 1 to %u",
		               name, s, FG_LEASES_MAX);
	r->capacity = (uint32_t)v;
	r->flags |= FG_RULE_IN_FLIGHT;
	return 0;
}

/* "share P%": the most of the table's slots the rule's keys may hold,
 * 1% to 100% (shm/quota.c). */
static int rule_share(const char *name, const char *s, struct fgd_rule *r,
                      char *why, size_t len)
{
	size_t n = strlen(s);
	uint64_t v;

	if (n < 2 || s[n - 1] != '%' ||
	    fgu_parse_uint(s, n - 1, 1, 100, &v) != 0)
		return fgu_why(why, len,
		               "rule '%s': share must be a percentage of the "
		               "table from 1%% to 100%%, like 25%%, not "
		               "'" CLIP "'",
		               name, s);
	r->share_pct = (uint32_t)v;
	return 0;
}

/* "capacity N": the burst. */
static int rule_capacity(const char *name, const char *val, struct fgd_rule *r,
                         char *why, size_t len)
{
	uint64_t v;

	if (fgu_parse_uint(val, strlen(val), 1, UINT32_MAX, &v) != 0)
		return fgu_why(why, len,
		               "rule '%s': capacity '" CLIP "' must be a "
		               "number from 1 to %" PRIu32,
		               name, val, UINT32_MAX);
	r->capacity = (uint32_t)v;
	return 0;
}

/* "scope host|global|strict". */
static int rule_scope(const char *name, const char *val, struct fgd_rule *r,
                      char *why, size_t len)
{
	if (strcmp(val, "global") == 0)
		r->flags |= FG_RULE_GLOBAL;
	else if (strcmp(val, "strict") == 0)
		r->flags |= FG_RULE_STRICT;
	else if (strcmp(val, "host") != 0)
		return fgu_why(why, len,
		               "rule '%s': scope must be host, global or "
		               "strict, not '" CLIP "'",
		               name, val);
	return 0;
}

static int rule_max_delay(const char *name, const char *val, struct fgd_rule *r,
                          char *why, size_t len)
{
	return rule_ms(name, "max-delay", val, 0, UINT32_MAX, &r->max_delay_ms,
	               why, len);
}

/* "penalty N denials in T block B", @w the PENALTY_WORDS words after
 * "penalty" (the caller counted them). */
static int rule_penalty(const char *name, char **w, struct fgd_rule *r,
                        char *why, size_t len)
{
	uint64_t n;

	if (strcmp(w[1], "denials") != 0 || strcmp(w[2], "in") != 0 ||
	    strcmp(w[4], "block") != 0)
		return fgu_why(why, len,
		               "rule '%s': penalty must read " PENALTY_FORM
		               ", like penalty 5 denials in 10s block 1m",
		               name);
	if (fgu_parse_uint(w[0], strlen(w[0]), 1, 1000000, &n) != 0)
		return fgu_why(why, len,
		               "rule '%s': penalty denials '" CLIP "' must be "
		               "a number from 1 to 1000000",
		               name, w[0]);
	r->penalty_denials = (uint32_t)n;
	r->flags |= FG_RULE_PENALTY;
	if (rule_ms(name, "penalty window", w[3], 1, DAY_MS,
	            &r->penalty_window_ms, why, len) != 0)
		return -1;
	return rule_ms(name, "penalty block", w[5], 1, DAY_MS,
	               &r->penalty_block_ms, why, len);
}

/* The values of "algorithm", and the flags they set. */
static const struct algorithm {
	const char *name;
	uint32_t flag;
} algorithms[] = {
    {"gcra", 0},
    {"sliding-window", FG_RULE_SLIDING_WINDOW},
    {"fixed-window", FG_RULE_FIXED_WINDOW},
};

/* "algorithm gcra|sliding-window|fixed-window". */
static int rule_algorithm(const char *name, const char *s, struct fgd_rule *r,
                          char *why, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
		if (strcmp(s, algorithms[i].name) == 0) {
			r->flags |= algorithms[i].flag;
			return 0;
		}
	return fgu_why(why, len,
	               "rule '%s': algorithm must be gcra, sliding-window or "
	               "fixed-window, not '" CLIP "'",
	               name, s);
}

/* Keyword @k's value @val into @r. */
static int value(const char *name, unsigned k, const char *val,
                 struct fgd_rule *r, char *why, size_t len)
{
	if (kws[k].parse != NULL)
		return kws[k].parse(name, val, r, why, len);
	if (strcmp(val, kws[k].on) == 0)
		r->flags |= kws[k].flag;
	else if (strcmp(val, kws[k].off) != 0)
		return fgu_why(why, len,
		               "rule '%s': %s must be %s or %s, not '" CLIP "'",
		               name, kws[k].kw, kws[k].off, kws[k].on, val);
	return 0;
}

static unsigned keyword(const char *kw)
{
	unsigned k;

	for (k = 0; k < K_N; k++)
		if (strcmp(kw, kws[k].kw) == 0)
			break;
	return k;
}

/* The keywords after the name, each once; their bits into *@seen, and
 * lease's value into *@lease (its meaning waits for the rule's kind). */
static int words(char **w, int nw, struct fgd_rule *r, unsigned *seen,
                 const char **lease, char *why, size_t len)
{
	const char *name = w[0];
	int i;

	for (i = 1; i < nw; i++) {
		unsigned k = keyword(w[i]);

		if (k == K_N)
			return fgu_why(
			    why, len,
			    "rule '%s': unknown keyword '" CLIP "' "
			    "(capacity, rate, scope, on-full, mode, "
			    "default, max-delay, in-flight, lease, share, "
			    "penalty, algorithm or on-redis-down)",
			    name, w[i]);
		if (*seen & (1u << k))
			return fgu_why(why, len, "rule '%s': '%s' given twice",
			               name, w[i]);
		*seen |= 1u << k;
		if (k == K_DEFAULT) {
			r->flags |= FG_RULE_DEFAULT;
			continue;
		}
		if (k == K_PENALTY) {
			if (nw - i <= PENALTY_WORDS)
				return fgu_why(why, len,
				               "rule '%s': penalty needs "
				               "its words: " PENALTY_FORM,
				               name);
			if (rule_penalty(name, w + i + 1, r, why, len) != 0)
				return -1;
			i += PENALTY_WORDS;
			continue;
		}
		if (i + 1 == nw)
			return fgu_why(why, len,
			               "rule '%s': '%s' needs a value", name,
			               w[i]);
		if (k == K_LEASE)
			*lease = w[++i];
		else if (value(name, k, w[++i], r, why, len) != 0)
			return -1;
	}
	return 0;
}

void fgd_rule_lib(const struct fgd_rule *r, fg_rule *out)
{
	*out = (fg_rule){.name = r->name,
	                 .capacity = r->capacity,
	                 .rate = r->rate,
	                 .period_ms = r->period_ms,
	                 .flags = r->flags,
	                 .max_delay_ms = r->max_delay_ms,
	                 .lease_ms = r->lease_ms,
	                 .penalty_denials = r->penalty_denials,
	                 .penalty_window_ms = r->penalty_window_ms,
	                 .penalty_block_ms = r->penalty_block_ms};
}

/* What fg_rule_set() refuses, refused here, in its terms. */
static int library_check(const struct fgd_rule *r, char *why, size_t len)
{
	uint64_t interval_ns;
	fg_rule lr;

	fgd_rule_lib(r, &lr);

	switch (fg__rule_check(&lr, &interval_ns)) {
	case FG__RULE_OK:
		return 0;
	case FG__RULE_TOO_FAST:
		return fgu_why(why, len,
		               "rule '%s': rate %" PRIu32 "/%" PRIu32 "ms is "
		               "above one token per nanosecond",
		               r->name, r->rate, r->period_ms);
	case FG__RULE_TOO_LONG:
		return fgu_why(
		    why, len,
		    "rule '%s': capacity / rate spans more than 2^56 "
		    "ns (834 days) of refill",
		    r->name);
	case FG__RULE_TOO_LATE:
		return fgu_why(why, len,
		               "rule '%s': capacity / rate plus max-delay "
		               "spans more than 2^56 ns (834 days)",
		               r->name);
	case FG__RULE_BAD_PENALTY:
		if (r->flags & (FG_RULE_SLIDING_WINDOW | FG_RULE_FIXED_WINDOW))
			return fgu_why(why, len,
			               "rule '%s': a window rule takes no "
			               "penalty",
			               r->name);
		return fgu_why(why, len,
		               "rule '%s': the penalty's block plus capacity "
		               "/ rate and max-delay spans more than 2^56 ns, "
		               "or is 2^32 tokens or more of the rate",
		               r->name);
	case FG__RULE_BAD_WINDOW:
		return fgu_why(why, len,
		               "rule '%s': a window rule admits its rate's N "
		               "a window: capacity, if given, must be N, no "
		               "max-delay, and a sliding window's N is at most "
		               "%u",
		               r->name, FG_SLIDING_WINDOW_MAX);
	case FG__RULE_BAD_LEASES:
		return fgu_why(why, len,
		               "rule '%s': an in-flight rule takes 1 to %u "
		               "leases of 1ms to 24h",
		               r->name, FG_LEASES_MAX);
	default:
		return fgu_why(why, len, "rule '%s': refused by the library",
		               r->name);
	}
}

/* A strict rule: "lease N" tokens, on-redis-down (its FAIL_CLOSED, so
 * not on-full too), and nothing Redis could not decide alone. */
static int strict_check(struct fgd_rule *r, unsigned seen, const char *lease,
                        char *why, size_t len)
{
	uint64_t v;

	if (seen & (1u << K_ONFULL))
		return fgu_why(
		    why, len,
		    "rule '%s': a strict rule takes on-redis-down "
		    "allow|deny, which answers for a full table too, "
		    "not on-full",
		    r->name);
	if ((r->flags & (FG_RULE_SHADOW | WINDOWS)) ||
	    (seen & (1u << K_MAXDELAY | 1u << K_INFLIGHT | 1u << K_PENALTY)))
		return fgu_why(why, len,
		               "rule '%s': a strict rule takes no mode shadow, "
		               "max-delay, in-flight, penalty or window "
		               "algorithm",
		               r->name);
	if (lease != NULL &&
	    fgu_parse_uint(lease, strlen(lease), 1, STRICT_LEASE_MAX, &v) != 0)
		return fgu_why(why, len,
		               "rule '%s': lease '" CLIP "' must be a number "
		               "of tokens from 1 to %u",
		               r->name, lease, STRICT_LEASE_MAX);
	r->strict_lease = lease != NULL ? (uint32_t)v : 0;
	return 0;
}

/* Strict's words on a strict rule only. */
static int scope_check(struct fgd_rule *r, unsigned seen, const char *lease,
                       char *why, size_t len)
{
	if (r->flags & FG_RULE_STRICT)
		return strict_check(r, seen, lease, why, len);
	if (seen & 1u << K_ONDOWN)
		return fgu_why(why, len,
		               "rule '%s': on-redis-down is for scope strict",
		               r->name);
	return 0;
}

/* A rule of tokens needs capacity and rate; an in-flight one has its
 * leases and a lease (LEASE_DEFAULT_MS unless given), and no keyword of
 * tokens. */
static int kind_check(struct fgd_rule *r, unsigned seen, const char *lease,
                      char *why, size_t len)
{
	unsigned k;

	if (scope_check(r, seen, lease, why, len) != 0)
		return -1;
	if (seen & (1u << K_INFLIGHT)) {
		for (k = 0; k < K_N; k++)
			if (seen & K_TOKENS & (1u << k))
				return fgu_why(
				    why, len,
				    "rule '%s': an in-flight rule "
				    "takes no '%s' (in-flight limits "
				    "are per host, of requests at "
				    "once)",
				    r->name, kws[k].kw);
		if (r->flags & FG_RULE_GLOBAL)
			return fgu_why(why, len,
			               "rule '%s': in-flight limits are per "
			               "host: scope global is refused",
			               r->name);
		if (lease == NULL)
			r->lease_ms = LEASE_DEFAULT_MS;
		return lease == NULL
		           ? 0
		           : rule_ms(r->name, "lease", lease, 1,
		                     FG_LEASE_MAX_MS, &r->lease_ms, why, len);
	}
	if ((seen & K_LEASES) && !(r->flags & FG_RULE_STRICT))
		return fgu_why(why, len,
		               "rule '%s': lease is for in-flight and strict "
		               "rules",
		               r->name);
	/* a window's limit is its rate's N: capacity says nothing more */
	if (!(seen & (1u << K_CAPACITY)) && !(r->flags & WINDOWS))
		return fgu_why(why, len,
		               "rule '%s': needs capacity N (or in-flight N)",
		               r->name);
	if (!(seen & (1u << K_RATE)))
		return fgu_why(why, len,
		               "rule '%s': needs rate R/PERIOD, like 5/1s",
		               r->name);
	if (!(seen & (1u << K_CAPACITY)))
		r->capacity = r->rate;
	return 0;
}

int fgd_rule_words(char **w, int nw, struct fgd_rule *r, char *why, size_t len)
{
	const char *lease = NULL;
	unsigned seen = 0;

	memset(r, 0, sizeof *r);
	if (nw < 1)
		return fgu_why(
		    why, len,
		    "rule needs a name, capacity N and rate R/PERIOD");
	if (!fg__rule_name_ok(w[0]))
		return fgu_why(why, len,
		               "rule '" CLIP "': name must be 1..%d of "
		               "[A-Za-z0-9_.:/-]",
		               w[0], FG_RULE_NAME_MAX);
	strcpy(r->name, w[0]);
	if (words(w, nw, r, &seen, &lease, why, len) != 0)
		return -1;
	if (kind_check(r, seen, lease, why, len) != 0)
		return -1;
	return library_check(r, why, len);
}
