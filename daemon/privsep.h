/* SPDX-License-Identifier: ISC */
/*
 * privsep.h - floodgated in two processes, the OpenBSD way (ntpd, smtpd).
 *
 *     floodgated (parent, priv.c)        floodgated (child, everything else)
 *     root, or whoever started it        the "floodgate" user, when started
 *     the node key, pairwise tx keys,    as root; the gossip socket, HTTP,
 *     the snapshot key; the snapshot     the control socket, Redis, the
 *     file; the config file              segment; no key it could give away
 *                  \___ socketpair, psmsg.h ___/
 *
 * The parent forks before it reads a key: the child never had one in
 * memory.  The child opens what needs root (the segment and its owner,
 * the sockets, HTTP) while it still is root, then drops to the daemon's
 * user for good (groups, gid, uid; no new privileges; not dumpable) before
 * it reads a byte from the network, and dies with its parent.  Whatever
 * needs a key goes to the parent: the proofs of a round's datagrams, asked
 * in one message (gossip/xmit.h: one signature a seal group, of its root,
 * and each membership or MAC'd datagram's own), the snapshot's MAC, with
 * its file, and the config at a reload (the parent can read where the
 * child cannot).
 * floodgated(8), SECURITY, says what each side can do for an attacker.
 */
#ifndef FGD_PRIVSEP_H
#define FGD_PRIVSEP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/psmsg.h"
#include "daemon/snapshot.h"
#include "gossip/xmit.h"

#ifndef FGD_USER
#define FGD_USER "floodgate" /* daemon/sysusers.d makes it */
#endif

struct fgd_ps {
	int fd; /* -1: not split */
	pid_t parent;
	uint8_t *buf; /* FGD_MSG_MAX bytes: what the parent sends */
	uint8_t *out; /* FGD_MSG_MAX bytes: what we send it */
	struct fgd_msg_hello hello;
	uint8_t *rx; /* hello.nrx entries: pk[32], rx[32] */
};

/* Split in two: the child's pid in the parent, 0 in the child (whose
 * @ps then talks to the parent), -1 with errno. */
pid_t fgd_ps_fork(struct fgd_ps *ps);

/* The segment's owner when the config names none (*@uid -1): the
 * daemon's user when we are root, who will run this process (and must
 * reopen the segment to lock it); else left.  0, or -1 with @err. */
int fgd_ps_owner(int64_t *uid, char *err, size_t errlen);

/* Child: wait for the parent's hello (our identity, what of it we may
 * hold).  0; -1 when the parent could not start (it said why). */
int fgd_ps_hello(struct fgd_ps *ps);

/* Child: become FGD_USER if we are root, for good, and die with the
 * parent.  0, or -1 logged. */
int fgd_ps_drop(struct fgd_ps *ps);

/* Child: the rx-only pairwise table of @kr from the hello (NULL and 0
 * when it has none); -1 when @kr is not the parent's keyring. */
int fgd_ps_pairwise(const struct fgd_ps *ps, const struct fgw_keyring *kr,
                    struct fgw_pairwise **out);

/* Child: an fgd_prove_fn (xmit.h); @arg is the fgd_ps. */
int fgd_ps_prove(void *arg, struct fgd_proof *p, size_t n);

/* Child: the parent writes @b as the snapshot.  0, or -1 with @err. */
int fgd_ps_snap_store(struct fgd_ps *ps, const struct fgd_snap_body *b,
                      char *err, size_t errlen);

/* Child: the parent reads and checks the snapshot; each part of it goes
 * to @apply (@b has its counts; @first the index of @recs[0]).  0; 1 no
 * snapshot; -1 with @err (refused). */
int fgd_ps_snap_load(struct fgd_ps *ps,
                     void (*apply)(void *arg, const struct fgd_snap_body *b,
                                   uint64_t elapsed_ns, uint64_t first,
                                   const void *recs, uint64_t n),
                     void *arg, char *err, size_t errlen);

/* Child: the config file's text, as the parent reads it (free it).  0,
 * or -1 with @err. */
int fgd_ps_conf_read(struct fgd_ps *ps, char **text, size_t *len, char *err,
                     size_t errlen);

/* Child: the control socket we made, for the parent to remove. */
void fgd_ps_ctl_path(struct fgd_ps *ps, const char *path);

void fgd_ps_close(struct fgd_ps *ps);

#endif
