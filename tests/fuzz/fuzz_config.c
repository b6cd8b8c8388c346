/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config.c - floodgate.conf(5) text: fgd_config_parse().
 *
 * The input is the file's contents, any bytes (NUL, CR, no final
 * newline).  fgd_config_parse() is pure by design (config.h), so nothing
 * is opened or resolved; the parsed config is freed with
 * fgd_config_free().
 *
 * Oracles, from config.h and config.c's design notes:
 *  - all or nothing: a failure leaves @cfg empty and says
 *    "fname:line: reason" in a NUL-terminated @err; a success leaves @err
 *    empty;
 *  - every string field is NUL-terminated within its array, every list
 *    within its bound, every number within its documented range;
 *  - "a config that parses is one the library accepts at publish": each
 *    rule passes rule_publishable(), a restatement of what fg_rule_set()
 *    (lib/owner.c) refuses, rules of tokens and in-flight rules alike,
 *    window, strict and penalty rules too, and at most one rule is the
 *    default;
 *  - each override names a rule of tokens of the config, a key of 1..64
 *    bytes, and a capacity and rate the library takes (ns per token
 *    nonzero, burst within FG_TAU_MAX), at most once per (rule, kind,
 *    key); a tier's name is terminated and names a tier of the config.
 */
#include <string.h>

#include "daemon/config.h"
#include "shm/gcra.h"
#include "tests/fuzz/fuzz.h"

#define FNAME         "fuzz.conf"
#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

/* An in-flight rule (leases, libfloodgate(3)): 1..4095 of them, a lease
 * of 1 ms to a day, no rate, delay, global scope or default. */
static int leases_publishable(const struct fgd_rule *r)
{
	return r->capacity >= 1 && r->capacity <= 4095 && r->lease_ms >= 1 &&
	       r->lease_ms <= 86400000u && r->rate == 0 && r->period_ms == 0 &&
	       r->max_delay_ms == 0 &&
	       !(r->flags & (FG_RULE_GLOBAL | FG_RULE_DEFAULT)) &&
	       (r->flags & FG_RULE_PENALTY) == 0 &&
	       (r->penalty_denials | r->penalty_window_ms |
	        r->penalty_block_ms) == 0;
}

#define WINDOWS (FG_RULE_SLIDING_WINDOW | FG_RULE_FIXED_WINDOW)

/* A window rule: one algorithm, its rate's N a window (capacity N), no
 * delay or penalty, a sliding one's N within FG_SLIDING_WINDOW_MAX. */
static int window_publishable(const struct fgd_rule *r)
{
	return (r->flags & WINDOWS) != WINDOWS && r->capacity == r->rate &&
	       r->max_delay_ms == 0 && !(r->flags & FG_RULE_PENALTY) &&
	       (!(r->flags & FG_RULE_SLIDING_WINDOW) ||
	        r->rate <= FG_SLIDING_WINDOW_MAX);
}

/* A strict rule: decided by Redis alone, so of host scope, enforced, of
 * GCRA, without a delay or penalty. */
static int strict_publishable(const struct fgd_rule *r)
{
	return !(r->flags & (FG_RULE_GLOBAL | FG_RULE_SHADOW |
	                     FG_RULE_IN_FLIGHT | WINDOWS | FG_RULE_PENALTY)) &&
	       r->max_delay_ms == 0;
}

/* A penalty: the flag with its three fields, or neither; N denials in a
 * window and a block that keep every sum of the bucket within FG_TAU_MAX
 * and the block's tokens within 32 bits (lib/penalty.c). */
static int penalty_publishable(const struct fgd_rule *r, uint64_t t)
{
	uint64_t w = (uint64_t)r->penalty_window_ms * 1000000u,
	         b = (uint64_t)r->penalty_block_ms * 1000000u,
	         tau = (uint64_t)r->capacity * t,
	         delay = (uint64_t)r->max_delay_ms * 1000000u;

	if (!(r->flags & FG_RULE_PENALTY))
		return (r->penalty_denials | r->penalty_window_ms |
		        r->penalty_block_ms) == 0;
	return r->penalty_denials != 0 && w != 0 && b != 0 &&
	       r->penalty_denials <= FG_TAU_MAX / w &&
	       b <= FG_TAU_MAX - tau - delay && (tau + b) / t < UINT32_MAX;
}

static int rule_publishable(const struct fgd_rule *r)
{
	const uint32_t known = FG_RULE_GLOBAL | FG_RULE_FAIL_CLOSED |
	                       FG_RULE_SHADOW | FG_RULE_DEFAULT |
	                       FG_RULE_IN_FLIGHT | WINDOWS | FG_RULE_PENALTY |
	                       FG_RULE_STRICT;
	uint64_t period_ns = (uint64_t)r->period_ms * 1000000u, interval_ns;
	size_t i, n;

	if (!TERMINATED(r->name))
		return 0;
	n = strlen(r->name);
	if (n == 0 || n > FG_RULE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = r->name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("_.:/-", ch)))
			return 0;
	}
	if (r->flags & ~known)
		return 0;
	if (((r->flags & WINDOWS) && !window_publishable(r)) ||
	    ((r->flags & FG_RULE_STRICT) && !strict_publishable(r)))
		return 0;
	if (r->flags & FG_RULE_IN_FLIGHT)
		return leases_publishable(r);
	if (r->capacity == 0 || r->rate == 0 || r->period_ms == 0 ||
	    r->rate > period_ns || r->lease_ms != 0)
		return 0;
	interval_ns = (period_ns + r->rate - 1) / r->rate;
	return r->capacity <= FG_TAU_MAX / interval_ns &&
	       (uint64_t)r->max_delay_ms * 1000000u <=
	           FG_TAU_MAX - r->capacity * interval_ns &&
	       penalty_publishable(r, interval_ns);
}

/* sync and redis-*: redis/conf.h */
static void check_redis(const struct fgd_config *cfg)
{
	const struct fgr_conf *r = &cfg->redis;

	FUZZ_ASSERT(TERMINATED(r->host) && TERMINATED(r->path) &&
	            TERMINATED(r->user) && TERMINATED(r->password_file) &&
	            TERMINATED(r->ns));
	FUZZ_ASSERT(r->timeout_ms >= FGR_TIMEOUT_MIN_MS &&
	            r->timeout_ms <= FGR_TIMEOUT_MAX_MS);
	FUZZ_ASSERT(r->ns[0] != '\0' && strpbrk(r->ns, "{}: ") == NULL);
	FUZZ_ASSERT(r->db <= FGR_DB_MAX);
	FUZZ_ASSERT(r->password_file[0] == '\0' || r->password_file[0] == '/');
	FUZZ_ASSERT(r->user[0] == '\0' || r->password_file[0] != '\0');
	if (!r->on) {
		FUZZ_ASSERT(r->password_file[0] == '\0');
		return;
	}
	FUZZ_ASSERT(cfg->node_key[0] != '\0');
	if (r->unix_sock)
		FUZZ_ASSERT(r->path[0] == '/' && r->path[1] != '\0');
	else
		FUZZ_ASSERT(r->host[0] != '\0' && r->port >= 1);
}

static void check_override(const struct fgd_config *cfg,
                           const struct fgd_override *o)
{
	uint64_t period_ns = (uint64_t)o->period_ms * 1000000u, t;
	size_t j;

	FUZZ_ASSERT(TERMINATED(o->rule) && TERMINATED(o->tier));
	FUZZ_ASSERT(o->keylen >= 1 && o->keylen <= FG_KEY_MAX);
	FUZZ_ASSERT(o->prefix <= 1);
	FUZZ_ASSERT(o->capacity >= 1 && o->rate >= 1 && o->rate <= period_ns);
	t = (period_ns + o->rate - 1) / o->rate;
	FUZZ_ASSERT(o->capacity <= FG_TAU_MAX / t);
	for (j = 0; j < cfg->nrules; j++)
		if (strcmp(cfg->rules[j].name, o->rule) == 0)
			break;
	FUZZ_ASSERT(j < cfg->nrules &&
	            !(cfg->rules[j].flags & FG_RULE_IN_FLIGHT));
	if (o->tier[0] == '\0')
		return;
	for (j = 0; j < cfg->ov.ntiers; j++)
		if (strcmp(cfg->ov.tiers[j].name, o->tier) == 0)
			break;
	FUZZ_ASSERT(j < cfg->ov.ntiers);
}

static void check_overrides(const struct fgd_config *cfg)
{
	size_t i, j;

	FUZZ_ASSERT(cfg->ov.ntiers <= FGD_TIERS_MAX &&
	            cfg->ov.noverrides <= FGD_OVERRIDES_MAX);
	for (i = 0; i < cfg->ov.ntiers; i++)
		FUZZ_ASSERT(TERMINATED(cfg->ov.tiers[i].name));
	for (i = 0; i < cfg->ov.noverrides; i++) {
		const struct fgd_override *o = &cfg->ov.overrides[i];

		check_override(cfg, o);
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(
			    strcmp(o->rule, cfg->ov.overrides[j].rule) ||
			    o->prefix != cfg->ov.overrides[j].prefix ||
			    o->keylen != cfg->ov.overrides[j].keylen ||
			    memcmp(o->key, cfg->ov.overrides[j].key,
			           o->keylen) != 0);
	}
}

static void check_config(const struct fgd_config *cfg)
{
	size_t i, j, ndefault = 0;

	FUZZ_ASSERT(TERMINATED(cfg->segment) && cfg->segment[0] != '\0');
	FUZZ_ASSERT(TERMINATED(cfg->user) && TERMINATED(cfg->group));
	FUZZ_ASSERT(TERMINATED(cfg->node_key) && TERMINATED(cfg->keyring));
	FUZZ_ASSERT(cfg->capacity >= 1);
	FUZZ_ASSERT((cfg->mode & 0600) == 0600 && (cfg->mode & ~0770u) == 0);
	FUZZ_ASSERT(cfg->interval_ms >= 10 && cfg->interval_ms <= 10000);
	FUZZ_ASSERT(cfg->max_datagram >= FGD_MIN_DATAGRAM &&
	            cfg->max_datagram <= FGD_MAX_DATAGRAM);
	FUZZ_ASSERT(cfg->listen.len > 0 &&
	            cfg->listen.len <= sizeof cfg->listen.ss);
	FUZZ_ASSERT(cfg->npeers <= FGD_MAX_PEERS);
	FUZZ_ASSERT((cfg->npeers == 0) == (cfg->peers == NULL));
	for (i = 0; i < cfg->npeers; i++) {
		const struct fgd_addr *a = &cfg->peers[i];

		FUZZ_ASSERT(a->ss.ss_family == AF_INET ||
		            a->ss.ss_family == AF_INET6);
		/* One socket reaches them all (config.c, finish()). */
		if (cfg->listen.ss.ss_family == AF_INET)
			FUZZ_ASSERT(a->ss.ss_family == AF_INET);
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(a->len != cfg->peers[j].len ||
			            memcmp(&a->ss, &cfg->peers[j].ss, a->len) !=
			                0);
	}
	FUZZ_ASSERT(cfg->nrules <= FG_RULES_MAX);
	FUZZ_ASSERT((cfg->nrules == 0) == (cfg->rules == NULL));
	for (i = 0; i < cfg->nrules; i++) {
		FUZZ_ASSERT(rule_publishable(&cfg->rules[i]));
		ndefault += (cfg->rules[i].flags & FG_RULE_DEFAULT) != 0;
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(cfg->rules[i].name,
			                   cfg->rules[j].name) != 0);
	}
	FUZZ_ASSERT(ndefault <= 1);
	check_overrides(cfg);
	check_redis(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fgd_config empty;
	struct fgd_config cfg;
	char err[256];
	int r;

	memset(err, 'x', sizeof err);
	r = fgd_config_parse((const char *)data, size, FNAME, &cfg, err,
	                     sizeof err);
	FUZZ_ASSERT(r == 0 || r == -1);
	FUZZ_ASSERT(TERMINATED(err));
	if (r != 0) {
		FUZZ_ASSERT(memcmp(&cfg, &empty, sizeof cfg) == 0);
		FUZZ_ASSERT(strncmp(err, FNAME ":", strlen(FNAME ":")) == 0);
		return 0;
	}
	FUZZ_ASSERT(err[0] == '\0');
	check_config(&cfg);
	fgd_config_free(&cfg);
	FUZZ_ASSERT(cfg.peers == NULL && cfg.rules == NULL &&
	            cfg.ov.tiers == NULL && cfg.ov.overrides == NULL);
	return 0;
}
