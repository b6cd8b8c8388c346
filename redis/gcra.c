/* SPDX-License-Identifier: ISC */
/*
 * gcra.c - the strict rules' script (gcra.h), its keys and its reply.
 * The key is {NS}:s:LL:RULE:KEY, LL the rule name's length in two hex
 * digits: rule names may hold ':', keys any byte.
 */
#include "redis/gcra.h"

#include <stdio.h>
#include <string.h>

#define DEBT_MAX (UINT64_C(1) << 53) /* what Lua counts exactly */

const char fgr_gcra_script[] =
    "-- floodgate's strict rules, GCRA (redis/gcra.h)\n"
    "local T, tau = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local cost, want = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "if tat < now then tat = now end\n"
    "local n = math.floor((now + tau - tat) / T)\n"
    "if n > want then n = want end\n"
    "if n < cost then return {0, tat - now} end\n"
    "tat = tat + n * T\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',\n"
    "           math.floor((tat - now) / 1000) + 1)\n"
    "return {n, tat - now}\n";

size_t fgr_gcra_key(char *out, size_t len, const char *ns, const char *rule,
                    size_t rule_len, const uint8_t *key, size_t key_len)
{
	int n = snprintf(out, len, "{%s}:s:%02zx:%.*s:", ns, rule_len,
	                 (int)rule_len, rule);

	if (n < 0 || (size_t)n + key_len > len)
		return 0;
	memcpy(out + n, key, key_len);
	return (size_t)n + key_len;
}

int fgr_gcra_reply(const redisReply *r, uint64_t *granted, uint64_t *debt_us)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_INTEGER ||
	    r->element[0]->integer < 0 || r->element[1]->integer < 0 ||
	    (uint64_t)r->element[1]->integer > DEBT_MAX)
		return -1;
	*granted = (uint64_t)r->element[0]->integer;
	*debt_us = (uint64_t)r->element[1]->integer;
	return 0;
}
