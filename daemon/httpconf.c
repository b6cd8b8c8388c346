/* SPDX-License-Identifier: ISC */
/*
 * httpconf.c - the words of the http directive (floodgate.conf(5)):
 *
 *   http [ADDR:]PORT [timeout D] [connections N] [per-address N]
 *        [legacy-headers on|off]
 *   http off
 *
 * A bare port listens on 127.0.0.1: the endpoint answers the network only
 * where an operator wrote an address.  Keywords from one table, each at
 * most once; "per-address" is checked against "connections" once all are
 * read.  Pure: config.c puts the result in the config.
 */
#include "daemon/httpconf.h"

#include <stdio.h>
#include <string.h>

#include "util/num.h"
#include "util/why.h"

#define CLIP "%.64s" /* how much of a word a message echoes */

/*
 * The http directive's keywords, each with its value: "timeout DURATION"
 * (a request's absolute deadline, daemon/http.c), "connections N",
 * "per-address N" (checked against connections once all are read) and
 * "legacy-headers on|off".
 */
static int http_timeout(struct fgd_http_conf *h, const char *v, char *why,
                        size_t len)
{
	uint64_t ms;

	if (fgu_parse_duration(v, 3600000, &ms) != 0 || ms < 1000)
		return fgu_why(why, len,
		               "http: timeout '" CLIP "' must be a duration "
		               "from 1s to 1h, like 10s",
		               v);
	h->timeout_ms = (uint32_t)ms;
	return 0;
}

static int http_count(const char *what, const char *v, uint32_t *out, char *why,
                      size_t len)
{
	uint64_t n;

	if (fgu_parse_uint(v, strlen(v), 0, FGD_HTTP_CONNECTIONS_MAX, &n) !=
	        0 ||
	    n == 0)
		return fgu_why(why, len,
		               "http: %s '" CLIP
		               "' must be a number from 1 to %d",
		               what, v, FGD_HTTP_CONNECTIONS_MAX);
	*out = (uint32_t)n;
	return 0;
}

static int http_connections(struct fgd_http_conf *h, const char *v, char *why,
                            size_t len)
{
	return http_count("connections", v, &h->connections, why, len);
}

static int http_per_address(struct fgd_http_conf *h, const char *v, char *why,
                            size_t len)
{
	return http_count("per-address", v, &h->per_address, why, len);
}

static int http_legacy(struct fgd_http_conf *h, const char *v, char *why,
                       size_t len)
{
	if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
		return fgu_why(
		    why, len,
		    "http: legacy-headers '" CLIP "' must be on or off", v);
	h->legacy_headers = strcmp(v, "on") == 0;
	return 0;
}

static const struct {
	const char *name;
	int (*set)(struct fgd_http_conf *h, const char *v, char *why,
	           size_t len);
} http_keywords[] = {{"timeout", http_timeout},
                     {"connections", http_connections},
                     {"per-address", http_per_address},
                     {"legacy-headers", http_legacy}};
#define HTTP_NKEYWORDS (sizeof http_keywords / sizeof http_keywords[0])

/* "KEYWORD VALUE" pairs from @w[1]: each keyword once. */
static int http_options(struct fgd_http_conf *h, char **w, int nw, char *why,
                        size_t len)
{
	char names[128] = "";
	unsigned seen = 0;
	size_t k;
	int i;

	for (i = 1; i < nw; i += 2) {
		for (k = 0; k < HTTP_NKEYWORDS; k++)
			if (strcmp(w[i], http_keywords[k].name) == 0)
				break;
		if (k == HTTP_NKEYWORDS) {
			for (k = 0; k < HTTP_NKEYWORDS; k++)
				snprintf(names + strlen(names),
				         sizeof names - strlen(names), "%s%s",
				         k ? ", " : "", http_keywords[k].name);
			return fgu_why(why, len,
			               "http: unknown keyword '" CLIP "' (%s)",
			               w[i], names);
		}
		if (seen & (1u << k))
			return fgu_why(why, len, "http: '%s' given twice",
			               w[i]);
		seen |= 1u << k;
		if (i + 1 >= nw)
			return fgu_why(why, len, "http: '%s' needs a value",
			               w[i]);
		if (http_keywords[k].set(h, w[i + 1], why, len) != 0)
			return -1;
	}
	return 0;
}

int fgd_http_words(char **w, int nw, struct fgd_http_conf *h, char *why,
                   size_t len)
{
	const char *s = w[0], *bad, *after;
	char buf[32];

	if (nw < 1)
		return fgu_why(why, len, "http needs [ADDR:]PORT (or off)");
	if (strcmp(s, "off") == 0) {
		if (nw > 1)
			return fgu_why(why, len,
			               "'http off' takes nothing more");
		memset(&h->addr, 0, sizeof h->addr);
		return 0;
	}
	if (s[strspn(s, "0123456789")] == '\0' && strlen(s) <= 5) {
		snprintf(buf, sizeof buf, "127.0.0.1:%s", s);
		s = buf;
	}
	bad = fgd_addr_parse(s, 0, &h->addr);
	after = s[0] == '[' ? strchr(s, ']') : s;
	if (bad == NULL && (after == NULL || strchr(after, ':') == NULL))
		bad = "needs a port, like 127.0.0.1:8080 or 8080";
	if (bad != NULL)
		return fgu_why(why, len, "http '" CLIP "': %s", w[0], bad);
	h->per_address = 0;
	if (http_options(h, w, nw, why, len) != 0)
		return -1;
	if (h->per_address == 0)
		h->per_address = FGD_HTTP_PER_ADDRESS(h->connections);
	if (h->per_address > h->connections)
		return fgu_why(why, len,
		               "http: per-address %u is above connections %u: "
		               "one address could take every connection",
		               (unsigned)h->per_address,
		               (unsigned)h->connections);
	return 0;
}

void fgd_http_conf_defaults(struct fgd_http_conf *h)
{
	memset(h, 0, sizeof *h);
	h->timeout_ms = FGD_HTTP_TIMEOUT_MS;
	h->connections = FGD_HTTP_CONNECTIONS;
	h->per_address = FGD_HTTP_PER_ADDRESS(FGD_HTTP_CONNECTIONS);
}

int fgd_http_conf_same(const struct fgd_http_conf *a,
                       const struct fgd_http_conf *b)
{
	return a->addr.len == b->addr.len &&
	       memcmp(&a->addr.ss, &b->addr.ss, a->addr.len) == 0 &&
	       a->timeout_ms == b->timeout_ms &&
	       a->connections == b->connections &&
	       a->per_address == b->per_address &&
	       a->legacy_headers == b->legacy_headers;
}
