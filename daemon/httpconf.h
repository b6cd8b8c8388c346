/* SPDX-License-Identifier: ISC */
/*
 * httpconf.h - the HTTP endpoint's settings, and the words of the http
 * directive (httpconf.c).
 */
#ifndef FGD_HTTPCONF_H
#define FGD_HTTPCONF_H

#include <stddef.h>
#include <stdint.h>

#include "gossip/addr.h"

#define FGD_HTTP_TIMEOUT_MS      10000 /* a request's absolute deadline */
#define FGD_HTTP_CONNECTIONS     64    /* HTTP connections at once */
#define FGD_HTTP_CONNECTIONS_MAX 1024
/* connections from one address: by default a quarter of "connections" */
#define FGD_HTTP_PER_ADDRESS(connections)                                      \
	((connections) >= 4 ? (connections) / 4 : 1)

struct fgd_http_conf {
	struct fgd_addr addr; /* len 0: off (the default) */
	uint32_t timeout_ms;  /* each request's absolute deadline */
	uint32_t connections; /* at once, from all addresses */
	uint32_t per_address; /* at once, from one address (IPv6: /64) */
	int legacy_headers;   /* also RateLimit-Limit/-Remaining/-Reset */
};

/* Off, with the default limits. */
void fgd_http_conf_defaults(struct fgd_http_conf *h);

/* The words after "http" into @h (its defaults set before): 0, or -1 and
 * why in @why. */
int fgd_http_words(char **w, int nw, struct fgd_http_conf *h, char *why,
                   size_t len);

/* 1 when @a and @b configure the same endpoint. */
int fgd_http_conf_same(const struct fgd_http_conf *a,
                       const struct fgd_http_conf *b);

#endif
