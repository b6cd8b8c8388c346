/* SPDX-License-Identifier: ISC */
/*
 * net.h - the gossip socket: one UDP socket, bound to the listen
 * address, through which the node (gossip/node.h) sends and receives.
 *
 * The node is socket-free; this is the only place its datagrams meet the
 * kernel.  Receiving is bounded per call, so that a flood of datagrams
 * never keeps the loop from its rounds, and what the kernel dropped for a
 * full buffer is counted (SO_RXQ_OVFL).
 */
#ifndef FGD_NET_H
#define FGD_NET_H

#include <stdint.h>

#include "daemon/daemon.h"

/* Open and bind d->sock to the listen address.  0, or -1 logged. */
int fgd_net_open(struct fgd_daemon *d);

/* Hand the node its seeds, fanout, own address and our send function;
 * again after a reload.  0, or -1 out of memory. */
int fgd_net_attach(struct fgd_daemon *d);

/* Read and give the node what waits on the socket (at most 1024
 * datagrams a call). */
void fgd_net_receive(struct fgd_daemon *d, uint64_t now_ms);

#endif
