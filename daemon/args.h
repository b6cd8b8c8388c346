/* SPDX-License-Identifier: ISC */
/*
 * args.h - arguments from operators and HTTP clients that reach the
 * segment.
 *
 * The floodgate CLI's command line and the daemon's HTTP query both name a
 * rule, a key and a cost, and both must refuse the same inputs the same
 * way before anything touches a bucket.  Rule names and keys go to the
 * library as they are (it checks them and says why: FG_ENORULE, FG_EKEY,
 * FG_EKEYLEN); a cost is parsed here.  tests/fuzz/fuzz_args.c drives this
 * path into a real segment.
 */
#ifndef FGD_ARGS_H
#define FGD_ARGS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A cost: 1 to 10 decimal digits and nothing else (no sign, no space, no
 * base prefix), at most UINT32_MAX.  0 parses (the library refuses it
 * with FG_ECOST, which names the rule's bound).  0, or -1 for anything
 * else.
 */
int fgd_arg_cost(const char *s, size_t n, uint32_t *out);

#endif
