/* SPDX-License-Identifier: ISC */
/*
 * why.h - the one way a parser says why it refused: a message into the
 * caller's buffer, and -1 to return.  Every parser of outside input
 * (config, rules, snapshots, ledgers, harvest state) reports this way, so
 * a caller gets a sentence it can print and never a half-written buffer.
 */
#ifndef FGU_WHY_H
#define FGU_WHY_H

#include <stddef.h>

/* printf of @fmt into @why (nothing when @why is NULL or @len is 0; an
 * empty string if formatting fails); always -1. */
int fgu_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
