/* SPDX-License-Identifier: ISC */
/*
 * hex.h - bytes as lowercase hex and back: how keys, which may be any
 * bytes, travel in the control socket's lines and show in the CLI.
 */
#ifndef FGU_HEX_H
#define FGU_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Hex of @len bytes into @out (2 * @len + 1 bytes). */
void fgu_hex(const void *buf, size_t len, char *out);

/* Bytes of hex @s into @out (at most @max); their count, or -1 if @s is
 * empty, odd, too long or not hex. */
int fgu_unhex(const char *s, uint8_t *out, size_t max);

#endif
