/* SPDX-License-Identifier: ISC */
/*
 * gcra.h - the script that decides a strict rule's requests in Redis
 * (lib/strict.c has the design): one bucket per (rule, key) for the
 * whole fleet, its TAT in one string key, moved by a GCRA step.
 *
 * Called as EVALSHA SHA 1 KEY T TAU COST WANT, all in microseconds of
 * Redis's clock (TIME) and whole numbers below 2^53, which Lua's doubles
 * hold exactly: T the rule's interval rounded up to a whole microsecond
 * (never faster than configured), TAU = capacity x T, COST the request's
 * tokens and WANT what the daemon would take (COST, or its lease).  The
 * script grants min(WANT, the tokens the bucket holds) if that is at
 * least COST, else nothing; the key expires when its bucket is full
 * again.  Reply: { GRANTED, DEBT }: the tokens taken (0: denied) and
 * the bucket's TAT - now after the call, in microseconds.
 */
#ifndef FGR_GCRA_H
#define FGR_GCRA_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

extern const char fgr_gcra_script[];

/* The key of (@rule, @key) in namespace @ns into @out: its length, or
 * 0 if @len is too small. */
size_t fgr_gcra_key(char *out, size_t len, const char *ns, const char *rule,
                    size_t rule_len, const uint8_t *key, size_t key_len);

/* A reply of the script: 0 with *@granted and *@debt_us, or -1 (not
 * the script's reply: an error, another shape, out of bounds). */
int fgr_gcra_reply(const redisReply *r, uint64_t *granted, uint64_t *debt_us);

#endif
