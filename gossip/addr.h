/* SPDX-License-Identifier: ISC */
/*
 * addr.h - a peer's UDP address: the one module that parses, prints and
 * compares them, for the config (floodgate.conf(5)), the membership of
 * the gossip (members.c, which also turns them into and out of signed
 * datagrams) and the operators' views.
 *
 * Numeric only: a name would need DNS, which the config's parser must not
 * depend on (config.h: parsing is a pure function of the text).  An
 * IPv4-mapped IPv6 address is the same peer as its IPv4 address.
 */
#ifndef FGD_ADDR_H
#define FGD_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define FGD_ADDR_TEXT (INET6_ADDRSTRLEN + 8) /* "[v6]:65535" and a NUL */

struct fgd_addr {
	struct sockaddr_storage ss;
	socklen_t len; /* 0: no address */
};

/* "1.2.3.4", "1.2.3.4:PORT", "[::1]" or "[::1]:PORT" into @a, the port
 * @dflt when none is given: NULL, or why not (a phrase for a message). */
const char *fgd_addr_parse(const char *s, uint16_t dflt, struct fgd_addr *a);

/* "1.2.3.4:PORT" or "[::1]:PORT", "-" for no address. */
void fgd_addr_format(const struct fgd_addr *a, char *out, size_t len);

/* (family 4 or 6, port, 16 address bytes, IPv4 in the first 4) of @a;
 * 0, or -1 if @a is no IP address. */
int fgd_addr_norm(const struct fgd_addr *a, uint8_t *family, uint16_t *port,
                  uint8_t addr[16]);

/* The address of (@family, @port, @addr) as fgd_addr_norm gives them;
 * len 0 for a family that is neither 4 nor 6. */
void fgd_addr_make(uint8_t family, uint16_t port, const uint8_t addr[16],
                   struct fgd_addr *a);

/* 1 if @a and @b name the same peer (IPv4-mapped equals IPv4). */
int fgd_addr_eq(const struct fgd_addr *a, const struct fgd_addr *b);

/* 1 if @a is a wildcard (0.0.0.0, ::), which names no host to reach. */
int fgd_addr_wildcard(const struct fgd_addr *a);

#endif
