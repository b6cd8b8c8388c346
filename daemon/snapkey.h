/* SPDX-License-Identifier: ISC */
/*
 * snapkey.h - the key of the snapshots' MAC (daemon/snapshot.h).
 *
 * A node that gossips has a secret key already: the snapshot key is
 * derived from it (keyed BLAKE2b, a label of its own), so nothing more is
 * kept, and a snapshot follows its node key as its marks do.  A single
 * host has none: it makes a random key once, in PATH.key beside the
 * snapshot (O_CREAT|O_EXCL|O_NOFOLLOW, 0600), and afterwards takes only a
 * regular file of 32 bytes that it owns and nobody else may read or
 * write; another is refused at start, with the fix.  Either way the key
 * lives where only the daemon's privileged part reads it
 * (daemon/privsep.h).
 */
#ifndef FGD_SNAPKEY_H
#define FGD_SNAPKEY_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/snapshot.h"

/* The key of the snapshot at @snapshot into @key: from @sk (a node's
 * secret key, FGW_SK_SIZE bytes) when not NULL, else from PATH.key, made
 * when absent if @create.  0; 1 no key file and not @create; -1 with the
 * reason and its fix in @err. */
int fgd_snapkey_get(const char *snapshot, const uint8_t *sk, int create,
                    uint8_t key[FGD_SNAP_KEY_BYTES], char *err, size_t errlen);

#endif
