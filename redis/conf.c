/* SPDX-License-Identifier: ISC */
/*
 * conf.c - the words of the Redis transport's directives (conf.h).
 *
 * The URL is parsed strictly and by hand, being short: a scheme of two,
 * a host of DNS-name characters or a bracketed IPv6 address, a port of
 * 1..65535, a database of 0..FGR_DB_MAX.  What a Redis URL may carry
 * besides (user:password@, query options) is refused with the directive
 * to use instead, and rediss:// (TLS) with the reason: Debian 12's
 * hiredis 0.14 has no TLS.
 */
#include "redis/conf.h"

#include <stdio.h>
#include <string.h>

#include "util/num.h"
#include "util/why.h"

#define CLIP "%.64s" /* how much of a word a message echoes */

void fgr_conf_defaults(struct fgr_conf *c)
{
	memset(c, 0, sizeof *c);
	c->port = FGR_DEFAULT_PORT;
	c->timeout_ms = FGR_TIMEOUT_MS;
	strcpy(c->ns, FGR_DEFAULT_NS);
}

/* 1..@max bytes, each a letter, a digit or one of @extra. */
static int chars_ok(const char *s, size_t n, size_t max, const char *extra)
{
	size_t i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch && strchr(extra, ch))))
			return 0;
	}
	return 1;
}

static int number(const char *s, size_t n, uint64_t min, uint64_t max,
                  uint64_t *out)
{
	return fgu_parse_uint(s, n, min, max, out);
}

/* "[IPv6]" at the start of @s (@n bytes): its address at *@h (*@hn
 * bytes), *@rest after the bracket.  0, or -1 with why. */
static int bracketed(const char *s, size_t n, const char **h, size_t *hn,
                     const char **rest, char *why, size_t len)
{
	const char *end = memchr(s, ']', n);

	if (end == NULL || end == s + 1 ||
	    !chars_ok(s + 1, (size_t)(end - s - 1), 45, ":."))
		return fgu_why(why, len,
		               "sync: '%.*s' is not a bracketed IPv6 address",
		               (int)(n > 64 ? 64 : n), s);
	*h = s + 1;
	*hn = (size_t)(end - s - 1);
	*rest = end + 1;
	if (*rest < s + n && **rest != ':')
		return fgu_why(why, len, "sync: junk after ']'");
	return 0;
}

/* "HOST[:PORT]" of @n bytes: a name or IPv4 address, or "[IPv6]". */
static int host_port(struct fgr_conf *c, const char *s, size_t n, char *why,
                     size_t len)
{
	const char *colon = NULL, *h = s, *end = s + n;
	size_t hn = 0, pn;
	uint64_t port = FGR_DEFAULT_PORT;

	if (n > 0 && s[0] == '[') {
		if (bracketed(s, n, &h, &hn, &colon, why, len) != 0)
			return -1;
		if (colon == end)
			colon = NULL;
	} else {
		colon = memchr(s, ':', n);
		hn = colon ? (size_t)(colon - s) : n;
		if (!chars_ok(s, hn, FGR_HOST_MAX, ".-"))
			return fgu_why(why, len,
			               "sync: host '%.*s' must be a name or "
			               "address of 1..%d of [A-Za-z0-9.-] "
			               "(IPv6 in brackets)",
			               (int)(hn > 64 ? 64 : hn), s,
			               FGR_HOST_MAX);
	}
	pn = colon ? (size_t)(end - colon - 1) : 0;
	if (colon != NULL && number(colon + 1, pn, 1, 65535, &port) != 0)
		return fgu_why(why, len,
		               "sync: port '%.*s' must be a number from 1 to "
		               "65535",
		               (int)(pn > 16 ? 16 : pn), colon + 1);
	memcpy(c->host, h, hn);
	c->host[hn] = '\0';
	c->port = (uint16_t)port;
	return 0;
}

static int db_of(struct fgr_conf *c, const char *s, size_t n, char *why,
                 size_t len)
{
	uint64_t v;

	if (number(s, n, 0, FGR_DB_MAX, &v) != 0)
		return fgu_why(why, len,
		               "sync: database '%.*s' must be a number from 0 "
		               "to %d",
		               (int)(n > 16 ? 16 : n), s, FGR_DB_MAX);
	c->db = (uint32_t)v;
	return 0;
}

/* redis://HOST[:PORT][/DB] */
static int url_tcp(struct fgr_conf *c, const char *s, char *why, size_t len)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (memchr(s, '@', n) != NULL)
		return fgu_why(why, len,
		               "sync: no credentials in the URL: give them "
		               "with redis-auth [USER] PASSWORD-FILE");
	if (strchr(s, '?') != NULL)
		return fgu_why(why, len,
		               "sync: no options in the URL: see "
		               "redis-timeout and redis-namespace");
	if (host_port(c, s, n, why, len) != 0)
		return -1;
	if (slash != NULL && db_of(c, slash + 1, strlen(slash + 1), why, len))
		return -1;
	return 0;
}

/* unix:/PATH[?db=DB] */
static int url_unix(struct fgr_conf *c, const char *s, char *why, size_t len)
{
	const char *q = strchr(s, '?');
	size_t n = q ? (size_t)(q - s) : strlen(s);

	if (n < 2 || s[0] != '/' || n > FGR_UNIX_MAX)
		return fgu_why(why, len,
		               "sync: unix:PATH needs an absolute path of at "
		               "most %d bytes",
		               FGR_UNIX_MAX);
	if (q != NULL && strncmp(q, "?db=", 4) != 0)
		return fgu_why(why, len,
		               "sync: after unix:PATH only ?db=N may follow");
	if (q != NULL && db_of(c, q + 4, strlen(q + 4), why, len) != 0)
		return -1;
	memcpy(c->path, s, n);
	c->path[n] = '\0';
	c->unix_sock = 1;
	return 0;
}

static int d_sync(struct fgr_conf *c, char **w, int nw, char *why, size_t len)
{
	const char *u = w[1];

	if (nw != 2)
		return fgu_why(why, len,
		               "sync: expected 'sync redis://HOST[:PORT][/DB]' "
		               "or 'sync unix:/PATH[?db=DB]'");
	c->on = 1;
	if (strncmp(u, "redis://", 8) == 0)
		return url_tcp(c, u + 8, why, len);
	if (strncmp(u, "unix:", 5) == 0)
		return url_unix(c, u + 5, why, len);
	if (strncmp(u, "rediss://", 9) == 0)
		return fgu_why(why, len,
		               "sync: rediss:// (TLS) is not supported: "
		               "Debian 12's hiredis 0.14 has no TLS; use a "
		               "unix socket, or a TLS tunnel to a local port");
	return fgu_why(why, len,
	               "sync '" CLIP "': expected redis://HOST[:PORT][/DB] "
	               "or unix:/PATH[?db=DB]",
	               u);
}

static int d_auth(struct fgr_conf *c, char **w, int nw, char *why, size_t len)
{
	const char *file = w[nw - 1];

	if (nw != 2 && nw != 3)
		return fgu_why(why, len,
		               "redis-auth: expected 'redis-auth [USER] "
		               "PASSWORD-FILE'");
	if (nw == 3 && !chars_ok(w[1], strlen(w[1]), FGR_USER_MAX, "._@:-"))
		return fgu_why(why, len,
		               "redis-auth: user '" CLIP "' must be 1..%d of "
		               "[A-Za-z0-9._@:-]",
		               w[1], FGR_USER_MAX);
	if (file[0] != '/' || strlen(file) > FGR_FILE_MAX)
		return fgu_why(why, len,
		               "redis-auth: the password file '" CLIP "' must "
		               "be an absolute path of at most %d bytes (the "
		               "password itself is never written in the "
		               "config)",
		               file, FGR_FILE_MAX);
	if (nw == 3)
		strcpy(c->user, w[1]);
	strcpy(c->password_file, file);
	return 0;
}

static int d_timeout(struct fgr_conf *c, char **w, int nw, char *why,
                     size_t len)
{
	uint64_t ms;

	if (nw != 2 || fgu_parse_duration(w[1], FGR_TIMEOUT_MAX_MS, &ms) != 0 ||
	    ms < FGR_TIMEOUT_MIN_MS)
		return fgu_why(why, len,
		               "redis-timeout '" CLIP "': must be a duration "
		               "from 10ms to 10s, like 250ms",
		               nw == 2 ? w[1] : "");
	c->timeout_ms = (uint32_t)ms;
	return 0;
}

static int d_namespace(struct fgr_conf *c, char **w, int nw, char *why,
                       size_t len)
{
	if (nw != 2 || !chars_ok(w[1], strlen(w[1]), FGR_NS_MAX, "._-"))
		return fgu_why(why, len,
		               "redis-namespace '" CLIP "': must be 1..%d of "
		               "[A-Za-z0-9._-]",
		               nw == 2 ? w[1] : "", FGR_NS_MAX);
	strcpy(c->ns, w[1]);
	return 0;
}

int fgr_conf_words(char **w, int nw, struct fgr_conf *c, char *why, size_t len)
{
	static const struct {
		const char *name;
		int (*parse)(struct fgr_conf *, char **, int, char *, size_t);
	} words[] = {
	    {"sync", d_sync},
	    {"redis-auth", d_auth},
	    {"redis-timeout", d_timeout},
	    {"redis-namespace", d_namespace},
	};
	size_t i;

	for (i = 0; nw > 0 && i < sizeof words / sizeof words[0]; i++)
		if (strcmp(w[0], words[i].name) == 0)
			return words[i].parse(c, w, nw, why, len);
	return fgu_why(why, len, "not a Redis directive");
}

int fgr_conf_check(const struct fgr_conf *c, int have_node_key, char *why,
                   size_t len)
{
	struct fgr_conf d;

	fgr_conf_defaults(&d);
	if (!c->on && (c->password_file[0] || c->timeout_ms != d.timeout_ms ||
	               strcmp(c->ns, d.ns) != 0))
		return fgu_why(why, len,
		               "redis-auth, redis-timeout and redis-namespace "
		               "need a sync redis:// or unix: line");
	if (c->on && !have_node_key)
		return fgu_why(why, len,
		               "sync needs node-key: its public key names this "
		               "node in Redis (floodgated --keygen makes one)");
	return 0;
}

void fgr_conf_url(const struct fgr_conf *c, char *out, size_t len)
{
	if (c->unix_sock)
		snprintf(out, len, "unix:%s?db=%u", c->path, (unsigned)c->db);
	else if (strchr(c->host, ':') != NULL)
		snprintf(out, len, "redis://[%s]:%u/%u", c->host,
		         (unsigned)c->port, (unsigned)c->db);
	else
		snprintf(out, len, "redis://%s:%u/%u", c->host,
		         (unsigned)c->port, (unsigned)c->db);
}

int fgr_conf_same(const struct fgr_conf *a, const struct fgr_conf *b)
{
	return a->on == b->on && a->unix_sock == b->unix_sock &&
	       strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       strcmp(a->path, b->path) == 0 && a->db == b->db &&
	       strcmp(a->user, b->user) == 0 &&
	       strcmp(a->password_file, b->password_file) == 0 &&
	       a->timeout_ms == b->timeout_ms && strcmp(a->ns, b->ns) == 0;
}
