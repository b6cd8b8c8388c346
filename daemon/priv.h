/* SPDX-License-Identifier: ISC */
/*
 * priv.h - floodgated's privileged part: the parent of the process that
 * does everything else (privsep.h), and the only one that holds a key.
 *
 * It keeps what would let a thief speak as this node or forge its
 * snapshots: the node's secret key, the pairwise keys we send under (and
 * receive under: the child gets a copy of those), the snapshot key.  It
 * reads no network input; it answers the child's messages (psmsg.h), each
 * checked for its exact length: prove these datagrams, store or load the
 * snapshot, read the config; it forwards signals to the child, removes
 * the child's control socket when it is gone, and exits with its status.
 * What it proves, it proves without judging: a child that is compromised
 * can have anything signed while it runs, but cannot carry the key off.
 */
#ifndef FGD_PRIV_H
#define FGD_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "gossip/pairwise.h"

/* Serve the child @child over @fd until it is gone; its exit status (1
 * when our own start failed: then the child is told nothing, and leaves
 * without a word). */
int fgd_priv_run(const char *cfg_path, const struct fgd_config *cfg, int fd,
                 pid_t child);

/* The answer to a PROVE message of @len bytes at @req (psmsg.h), proved
 * in place with @sk or @pw's send keys, for datagrams of @pk alone: its
 * proofs into @out, their length; -1 when the message breaks its rules
 * or asks what we cannot prove.  What priv.c runs for each, and what
 * bench/gossip_bench runs. */
ssize_t fgd_priv_prove(uint8_t *req, size_t len, const uint8_t *sk,
                       const uint8_t *pk, const struct fgw_pairwise *pw,
                       uint8_t *out, size_t outcap);

/* Answer PROVE messages on @fd with fgd_priv_prove until the other side
 * closes it (0), or a message is not one (-1): a prover alone, for the
 * benches and tests that fork one as floodgated does. */
int fgd_priv_prove_serve(int fd, const uint8_t *sk, const uint8_t *pk,
                         const struct fgw_pairwise *pw);

#endif
