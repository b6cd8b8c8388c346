/* SPDX-License-Identifier: ISC */
/*
 * strict.h - what a worker and floodgated say about a strict rule's
 * request (lib/strict.c asks, daemon/strict.c answers).
 *
 * A Unix stream socket at the segment's path with ".strict" appended,
 * one request and one reply per connection, both of fixed size and
 * native byte order (they never leave the host).  The magic carries the
 * version: a change of either struct bumps it, and a side that reads
 * another magic answers or takes "down" (the worker's policy decides).
 */
#ifndef FG_LIB_STRICT_H
#define FG_LIB_STRICT_H

#include <stdint.h>

#include "lib/floodgate.h"

#define FG_STRICT_MAGIC  0x31534746u /* "FGS1" */
#define FG_STRICT_SUFFIX ".strict"

struct fg__strict_req {
	uint32_t magic;
	uint32_t cost;    /* 1..the rule's capacity */
	uint8_t rule_len; /* 1..FG_RULE_NAME_MAX */
	uint8_t key_len;  /* 1..FG_KEY_MAX */
	uint8_t pad[6];   /* zero */
	char rule[FG_RULE_NAME_MAX + 1];
	uint8_t key[FG_KEY_MAX];
};

enum fg__strict_verdict {
	FG_STRICT_DENY = 0,  /* the fleet's bucket has not the cost */
	FG_STRICT_GRANT = 1, /* granted by Redis, or from a lease */
	FG_STRICT_DOWN = 2,  /* no answer from Redis: the policy decides */
};

struct fg__strict_rep {
	uint32_t magic;
	uint32_t verdict; /* enum fg__strict_verdict */
	uint64_t debt_ns; /* the fleet's bucket: TAT - now, 0 if unknown */
};

_Static_assert(sizeof(struct fg__strict_req) == 112, "request size");
_Static_assert(sizeof(struct fg__strict_rep) == 16, "reply size");

#endif
