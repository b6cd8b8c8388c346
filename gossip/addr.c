/* SPDX-License-Identifier: ISC */
/*
 * addr.c - see addr.h.
 */
#include "gossip/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util/num.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* A port: 1..65535 in decimal digits only. */
static int port_parse(const char *s, uint16_t *port)
{
	uint64_t v;

	if (fgu_parse_uint(s, strlen(s), 1, 65535, &v) != 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Split @s into its host and port parts: NULL, or why not. */
static const char *split(const char *s, char *host, size_t hlen,
                         const char **port, int *v6)
{
	const char *end;
	size_t n;

	*v6 = s[0] == '[';
	*port = NULL;
	if (*v6) {
		end = strchr(++s, ']');
		if (end == NULL)
			return "missing ']' after the IPv6 address";
		if (end[1] == ':')
			*port = end + 2;
		else if (end[1] != '\0')
			return "junk after ']'";
	} else {
		end = strchr(s, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return "an IPv6 address goes in brackets, like "
			       "[::1]:7420";
		if (end != NULL)
			*port = end + 1;
		else
			end = s + strlen(s);
	}
	n = (size_t)(end - s);
	if (n == 0 || n >= hlen)
		return *v6 ? "not a numeric IPv6 address"
		           : "not a numeric IPv4 address";
	memcpy(host, s, n);
	host[n] = '\0';
	return NULL;
}

const char *fgd_addr_parse(const char *s, uint16_t dflt, struct fgd_addr *a)
{
	char host[INET6_ADDRSTRLEN];
	const char *why, *port_s;
	uint16_t port = dflt;
	uint8_t bytes[16] = {0};
	int v6;

	memset(a, 0, sizeof *a);
	why = split(s, host, sizeof host, &port_s, &v6);
	if (why != NULL)
		return why;
	if (port_s != NULL && port_parse(port_s, &port) != 0)
		return "port must be a number from 1 to 65535";
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bytes) != 1)
		return v6 ? "not a numeric IPv6 address"
		          : "not a numeric IPv4 address (no host names)";
	if (v6) { /* kept as written: bind() and sendto() take it so */
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, bytes, 16);
		a->len = sizeof *s6;
	} else {
		fgd_addr_make(4, port, bytes, a);
	}
	return NULL;
}

int fgd_addr_norm(const struct fgd_addr *a, uint8_t *family, uint16_t *port,
                  uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (a->len >= sizeof(struct sockaddr_in) &&
	    a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&a->ss;

		*family = 4;
		*port = ntohs(s->sin_port);
		memcpy(addr, &s->sin_addr, 4);
		return 0;
	}
	if (a->len >= sizeof(struct sockaddr_in6) &&
	    a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&a->ss;

		*port = ntohs(s->sin6_port);
		if (memcmp(&s->sin6_addr, v4_mapped, 12) == 0) {
			*family = 4;
			memcpy(addr, (const uint8_t *)&s->sin6_addr + 12, 4);
		} else {
			*family = 6;
			memcpy(addr, &s->sin6_addr, 16);
		}
		return 0;
	}
	return -1;
}

void fgd_addr_make(uint8_t family, uint16_t port, const uint8_t addr[16],
                   struct fgd_addr *a)
{
	memset(a, 0, sizeof *a);
	if (family == 4) {
		struct sockaddr_in *s = (void *)&a->ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, addr, 4);
		a->len = sizeof *s;
	} else if (family == 6) {
		struct sockaddr_in6 *s = (void *)&a->ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, addr, 16);
		a->len = sizeof *s;
	}
}

int fgd_addr_eq(const struct fgd_addr *a, const struct fgd_addr *b)
{
	uint8_t fa, fb, xa[16], xb[16];
	uint16_t pa, pb;

	if (fgd_addr_norm(a, &fa, &pa, xa) != 0 ||
	    fgd_addr_norm(b, &fb, &pb, xb) != 0)
		return 0;
	return fa == fb && pa == pb && memcmp(xa, xb, 16) == 0;
}

int fgd_addr_wildcard(const struct fgd_addr *a)
{
	static const uint8_t zero[16];
	uint8_t family, addr[16];
	uint16_t port;

	return fgd_addr_norm(a, &family, &port, addr) == 0 &&
	       memcmp(addr, zero, 16) == 0;
}

void fgd_addr_format(const struct fgd_addr *a, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	uint8_t family, addr[16];
	uint16_t port;

	if (a->len == 0 || fgd_addr_norm(a, &family, &port, addr) != 0) {
		snprintf(out, len, "-");
		return;
	}
	if (family == 4)
		inet_ntop(AF_INET, addr, host, sizeof host);
	else
		inet_ntop(AF_INET6, addr, host, sizeof host);
	snprintf(out, len, family == 4 ? "%s:%u" : "[%s]:%u", host,
	         (unsigned)port);
}
