/* SPDX-License-Identifier: ISC */
/*
 * tun.h - a TUN device inside a network namespace, for the relay.
 *
 * The relay stays in its own namespace and holds one TUN descriptor per
 * node's namespace: it enters the namespace (setns), opens /dev/net/tun
 * there, so that the device is created in it, gives the device its
 * address and brings it up, then returns to where it came from.  The
 * descriptor keeps working from any namespace: what the node's kernel
 * routes to the device is read from it, and what is written to it enters
 * the node's stack as if received.
 */
#ifndef FGN_TUN_H
#define FGN_TUN_H

#include <stddef.h>
#include <stdint.h>

#define FGN_IFNAME "fgtun0" /* the device's name in every namespace */

/*
 * Create FGN_IFNAME in the network namespace @ns (a name under
 * /run/netns, as `ip netns add` makes, or a path such as
 * /proc/PID/ns/net) with the IPv4 address @addr/@prefix (host order),
 * up, and bring up the namespace's loopback too.  The descriptor
 * (non-blocking, close-on-exec, packets without a header), or -1 with a
 * reason in @err.  The caller is back in its own namespace either way;
 * if it cannot get back, -2: it must not go on.
 */
int fgn_tun_open(const char *ns, uint32_t addr, unsigned prefix, char *err,
                 size_t errlen);

#endif
