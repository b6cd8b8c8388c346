/* SPDX-License-Identifier: ISC */
/*
 * config.c - floodgate.conf(5): the daemon's configuration, parsed.
 *
 * Shape.  One directive per line, words separated by blanks, '#' starts a
 * comment that runs to the end of the line (anywhere on it: no word may
 * contain '#', and there is no quoting, so no word contains a blank
 * either).  The words of a line go to the handler named by the first word
 * through a table, which also says how many arguments the directive takes
 * and whether it may be repeated (peer, rule) or not (everything else).
 *
 * Purity.  fgd_config_parse() is a function of its bytes: no DNS (addresses
 * are numeric, inet_pton), no user database (user and group are checked for
 * shape, resolved by the daemon), no file system (key paths are checked for
 * shape, read by gossip/keys.c).  So it can be fuzzed, and a reload can be
 * checked whole before anything changes.  fgd_config_read() is the only
 * I/O: one bounded read of a regular file.
 *
 * All or nothing.  The config is built in a private struct and copied to
 * the caller's only when the last line has passed; the first error frees
 * everything, leaves the caller's struct zeroed and says "file:line:
 * reason".  Every rule is checked exactly as fg_rule_set() checks it
 * (name, nonzero fields, at most one token per ns, burst window within
 * FG_TAU_MAX ns), and there are at most FG_RULES_MAX of them, so a config
 * that parses is one the library accepts at publish.
 *
 * Hostile text.  Lines are at most FGD_LINE_MAX bytes, NUL and control
 * bytes other than tab are refused (a trailing CR is tolerated: files
 * edited on Windows), numbers are strict decimal (or octal for mode)
 * with overflow detected, and every list is bounded (FGD_MAX_PEERS,
 * FG_RULES_MAX).  Words echoed in messages are clipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "shm/gcra.h"
#include "shm/segment.h"
#include "daemon/rule.h"
#include "util/num.h"
#include "util/why.h"

#define FGD_LINE_MAX    1024       /* bytes, without the line end */
#define FGD_FILE_MAX    (1u << 20) /* fgd_config_read() reads no more */
#define MAX_WORDS       32         /* the longest rule line has 24 */
#define CAPACITY_MAX    (UINT64_C(1) << 32)
#define INTERVAL_MIN    10u
#define INTERVAL_MAX    10000u
#define LEDGER_MAX      (UINT64_C(1) << 34) /* 1 TiB of marks: no sane host */
#define DEBT_WINDOW_MAX 86400000u
#define CLIP            "%.64s" /* how much of a word a message echoes */

struct parser {
	struct fgd_config cfg; /* handed over only when all is well */
	const char *fname;
	size_t line;
	char *err;
	size_t errlen;
	size_t seen[32]; /* line of each single directive, 0: unseen */
	size_t peers_alloc, rules_alloc;
	size_t v4_peer, v6_peer; /* line of the first peer of each family */
	size_t v4_idx, v6_idx;
	size_t default_line; /* line of the default rule, 0: none */
};

struct directive {
	const char *name;
	int (*parse)(struct parser *p, char **w, int nw);
	int nargs;  /* exact argument count, or -1: the handler checks */
	int repeat; /* may appear more than once */
};

/* "fname:line: reason"; always returns -1. */
__attribute__((format(printf, 2, 3))) static int fail(struct parser *p,
                                                      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	n = snprintf(p->err, p->errlen, "%s:%zu: ", p->fname, p->line);
	if (n < 0) {
		p->err[0] = '\0';
		return -1;
	}
	if ((size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	if (vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap) < 0)
		p->err[n] = '\0';
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------- lexemes */

/* 1..@max bytes of [A-Za-z0-9] and those of @extra. */
static int word_ok(const char *s, size_t max, const char *extra)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr(extra, ch)))
			return 0;
	}
	return 1;
}

/* What the library takes for a segment (fg__seg_path): the daemon, the
 * CLI and the workers must all accept it. */
static int segment_ok(const char *s)
{
	char path[FG_SEG_PATH_MAX + 16];

	return strlen(s) <= FGD_PATH_MAX &&
	       fg__seg_path(s, path, sizeof path) == 0;
}

/* ---------------------------------------------------------- directives */

static int d_segment(struct parser *p, char **w, int nw)
{
	(void)nw;
	if (!segment_ok(w[1]))
		return fail(p,
		            "segment '" CLIP "': must be a name of 1..%d of "
		            "[A-Za-z0-9._-] not starting with '.', or an "
		            "absolute path of at most %d bytes whose last part "
		            "is 1..%u bytes",
		            w[1], FGD_NAME_MAX, FGD_PATH_MAX, FG_SEG_BASE_MAX);
	strcpy(p->cfg.segment, w[1]);
	return 0;
}

static int d_capacity(struct parser *p, char **w, int nw)
{
	uint64_t v;

	(void)nw;
	if (fgu_parse_uint(w[1], strlen(w[1]), 0, CAPACITY_MAX, &v) != 0 ||
	    v == 0)
		return fail(p,
		            "capacity '" CLIP "': must be a number of keys "
		            "from 1 to %" PRIu64,
		            w[1], CAPACITY_MAX);
	p->cfg.capacity = v;
	return 0;
}

static int d_huge_pages(struct parser *p, char **w, int nw)
{
	(void)nw;
	if (strcmp(w[1], "on") != 0 && strcmp(w[1], "off") != 0)
		return fail(p, "huge-pages '" CLIP "': must be on or off",
		            w[1]);
	p->cfg.huge_pages = strcmp(w[1], "on") == 0;
	return 0;
}

static int d_mode(struct parser *p, char **w, int nw)
{
	const char *s = w[1];
	uint32_t v = 0;
	size_t i, n = strlen(s);

	(void)nw;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7' || v > 07777)
			return fail(
			    p, "mode '" CLIP "': must be octal, like 0660", s);
		v = v * 8 + (uint32_t)(s[i] - '0');
	}
	if (n == 0 || v > 07777)
		return fail(p, "mode '" CLIP "': must be octal, like 0660", s);
	if (v & 07)
		return fail(p,
		            "mode %04o: gives others access; a segment is "
		            "never world-accessible",
		            (unsigned)v);
	if (v & ~0770u)
		return fail(p,
		            "mode %04o: setuid, setgid and sticky bits are not "
		            "allowed (at most 0770)",
		            (unsigned)v);
	if ((v & 0600) != 0600)
		return fail(p,
		            "mode %04o: must include 0600 (the owner reads and "
		            "writes)",
		            (unsigned)v);
	p->cfg.mode = v;
	return 0;
}

static int d_user(struct parser *p, char **w, int nw)
{
	(void)nw;
	if (!word_ok(w[1], FGD_NAME_MAX, "._-"))
		return fail(p,
		            "%s '" CLIP "': must be a name of 1..%d of "
		            "[A-Za-z0-9._-]",
		            w[0], w[1], FGD_NAME_MAX);
	strcpy(strcmp(w[0], "user") == 0 ? p->cfg.user : p->cfg.group, w[1]);
	return 0;
}

static int d_path(struct parser *p, char **w, int nw)
{
	(void)nw;
	if (w[1][0] != '/' || strlen(w[1]) > FGD_PATH_MAX)
		return fail(p,
		            "%s '" CLIP "': must be an absolute path of "
		            "at most %d bytes",
		            w[0], w[1], FGD_PATH_MAX);
	strcpy(strcmp(w[0], "node-key") == 0 ? p->cfg.node_key : p->cfg.keyring,
	       w[1]);
	return 0;
}

static int d_control(struct parser *p, char **w, int nw)
{
	(void)nw;
	if (strcmp(w[1], "off") != 0 &&
	    (w[1][0] != '/' || strlen(w[1]) > FGD_CONTROL_MAX))
		return fail(p,
		            "control '" CLIP "': must be off or an absolute "
		            "path of at most %d bytes (a Unix socket)",
		            w[1], FGD_CONTROL_MAX);
	strcpy(p->cfg.control, w[1]);
	return 0;
}

static int d_snapshot(struct parser *p, char **w, int nw)
{
	uint64_t ms = 0;

	if (nw != 2 && (nw != 4 || strcmp(w[2], "every") != 0))
		return fail(p, "snapshot: expected 'snapshot PATH [every "
		               "DURATION]'");
	if (w[1][0] != '/' || strlen(w[1]) > FGD_PATH_MAX - 4)
		return fail(p,
		            "snapshot '" CLIP "': must be an absolute path of "
		            "at most %d bytes",
		            w[1], FGD_PATH_MAX - 4);
	if (nw == 4 &&
	    (fgu_parse_duration(w[3], 3600000, &ms) != 0 || ms < 1000))
		return fail(p,
		            "snapshot every '" CLIP "': must be a duration "
		            "from 1s to 1h, like 60s",
		            w[3]);
	strcpy(p->cfg.snapshot, w[1]);
	p->cfg.snapshot_every_ms =
	    nw == 4 ? (uint32_t)ms : FGD_DEFAULT_SNAPSHOT_MS;
	return 0;
}

static int d_listen(struct parser *p, char **w, int nw)
{
	const char *why =
	    fgd_addr_parse(w[1], FGD_DEFAULT_PORT, &p->cfg.listen);

	(void)nw;
	if (why != NULL)
		return fail(p, "listen '" CLIP "': %s", w[1], why);
	return 0;
}

static int d_announce(struct parser *p, char **w, int nw)
{
	const char *why;

	(void)nw;
	if (strcmp(w[1], "off") == 0) {
		p->cfg.announce_off = 1;
		return 0;
	}
	why = fgd_addr_parse(w[1], FGD_DEFAULT_PORT, &p->cfg.announce);
	if (why != NULL)
		return fail(p, "announce '" CLIP "': %s", w[1], why);
	return 0;
}

static int d_peer(struct parser *p, char **w, int nw)
{
	struct fgd_addr a;
	const char *why = fgd_addr_parse(w[1], FGD_DEFAULT_PORT, &a);
	size_t i;

	(void)nw;
	if (why != NULL)
		return fail(p, "peer '" CLIP "': %s", w[1], why);
	if (fgd_addr_wildcard(&a))
		return fail(p, "peer '" CLIP "': not a host's address", w[1]);
	if (p->cfg.npeers == FGD_MAX_PEERS)
		return fail(p, "more than %d peers", FGD_MAX_PEERS);
	for (i = 0; i < p->cfg.npeers; i++)
		if (fgd_addr_eq(&a, &p->cfg.peers[i]))
			return fail(p, "peer '" CLIP "': given twice", w[1]);
	if (p->cfg.npeers == p->peers_alloc) {
		size_t n = p->peers_alloc ? 2 * p->peers_alloc : 8;
		struct fgd_addr *np = realloc(p->cfg.peers, n * sizeof *np);

		if (np == NULL)
			return fail(p, "out of memory");
		p->cfg.peers = np;
		p->peers_alloc = n;
	}
	/* Remember the first peer of each family for the listen check. */
	if (a.ss.ss_family == AF_INET && p->v4_peer == 0) {
		p->v4_peer = p->line;
		p->v4_idx = p->cfg.npeers;
	} else if (a.ss.ss_family == AF_INET6 && p->v6_peer == 0) {
		p->v6_peer = p->line;
		p->v6_idx = p->cfg.npeers;
	}
	p->cfg.peers[p->cfg.npeers++] = a;
	return 0;
}

static int d_interval(struct parser *p, char **w, int nw)
{
	uint64_t ms;

	(void)nw;
	if (fgu_parse_duration(w[1], INTERVAL_MAX, &ms) != 0 ||
	    ms < INTERVAL_MIN)
		return fail(p,
		            "interval '" CLIP "': must be a duration from "
		            "10ms to 10s, like 100ms",
		            w[1]);
	p->cfg.interval_ms = (uint32_t)ms;
	return 0;
}

static int d_ledger_size(struct parser *p, char **w, int nw)
{
	uint64_t v;

	(void)nw;
	if (fgu_parse_uint(w[1], strlen(w[1]), 0, LEDGER_MAX, &v) != 0 ||
	    v == 0)
		return fail(p,
		            "ledger-size '" CLIP "': must be a number of marks "
		            "from 1 to %" PRIu64,
		            w[1], LEDGER_MAX);
	p->cfg.ledger_size = v;
	return 0;
}

static int d_debt_window(struct parser *p, char **w, int nw)
{
	uint64_t ms;

	(void)nw;
	if (fgu_parse_duration(w[1], DEBT_WINDOW_MAX, &ms) != 0 || ms < 1000)
		return fail(p,
		            "debt-window '" CLIP "': must be a duration from "
		            "1s to 24h, like 60s",
		            w[1]);
	p->cfg.debt_window_ms = (uint32_t)ms;
	return 0;
}

static int d_max_datagram(struct parser *p, char **w, int nw)
{
	uint64_t v;

	(void)nw;
	if (fgu_parse_uint(w[1], strlen(w[1]), 0, FGD_MAX_DATAGRAM, &v) != 0 ||
	    v < FGD_MIN_DATAGRAM)
		return fail(p,
		            "max-datagram '" CLIP "': must be a number of "
		            "bytes from %d to %d",
		            w[1], FGD_MIN_DATAGRAM, FGD_MAX_DATAGRAM);
	p->cfg.max_datagram = (uint32_t)v;
	return 0;
}

/* "http ...": the words are httpconf.c's. */
static int d_http(struct parser *p, char **w, int nw)
{
	char why[256];

	if (fgd_http_words(w + 1, nw - 1, &p->cfg.http, why, sizeof why) != 0)
		return fail(p, "%s", why);
	return 0;
}

static int d_fanout(struct parser *p, char **w, int nw)
{
	uint64_t v;

	(void)nw;
	if (strcmp(w[1], "all") == 0) {
		p->cfg.fanout = FGD_FANOUT_ALL;
		return 0;
	}
	if (fgu_parse_uint(w[1], strlen(w[1]), 0, FGD_FANOUT_MAX, &v) != 0 ||
	    v < 1)
		return fail(p,
		            "fanout '" CLIP "': must be all or a number of "
		            "peers from 1 to %d",
		            w[1], FGD_FANOUT_MAX);
	p->cfg.fanout = (uint32_t)v;
	return 0;
}

/* "sync", "redis-*": the words are redis/conf.c's. */
static int d_redis(struct parser *p, char **w, int nw)
{
	char why[256];

	if (fgr_conf_words(w, nw, &p->cfg.redis, why, sizeof why) != 0)
		return fail(p, "%s", why);
	return 0;
}

/* "rule NAME ...": the words are rule.c's; here, what makes it one rule
 * of this config (a name used once, one default, the rule limit). */
static int d_rule(struct parser *p, char **w, int nw)
{
	struct fgd_rule r;
	char why[256];
	size_t i;

	if (fgd_rule_words(w + 1, nw - 1, &r, why, sizeof why) != 0)
		return fail(p, "%s", why);
	for (i = 0; i < p->cfg.nrules; i++)
		if (strcmp(p->cfg.rules[i].name, r.name) == 0)
			return fail(p, "rule '%s': defined twice", r.name);
	if ((r.flags & FG_RULE_DEFAULT) && p->default_line != 0)
		return fail(p,
		            "rule '%s': a second default rule (the first is on "
		            "line %zu)",
		            r.name, p->default_line);
	if (p->cfg.nrules == FG_RULES_MAX)
		return fail(p, "more than %d rules", FG_RULES_MAX);
	if (p->cfg.nrules == p->rules_alloc) {
		size_t n = p->rules_alloc ? 2 * p->rules_alloc : 8;
		struct fgd_rule *nr = realloc(p->cfg.rules, n * sizeof *nr);

		if (nr == NULL)
			return fail(p, "out of memory");
		p->cfg.rules = nr;
		p->rules_alloc = n;
	}
	if (r.flags & FG_RULE_DEFAULT)
		p->default_line = p->line;
	p->cfg.rules[p->cfg.nrules++] = r;
	return 0;
}

/* "tier ..." and "override ...": overconf.c's words. */
static int d_override(struct parser *p, char **w, int nw)
{
	char why[320];

	return fgd_overconf_words(&p->cfg.ov, w, nw, p->line, why,
	                          sizeof why) != 0
	           ? fail(p, "%s", why)
	           : 0;
}

static const struct directive directives[] = {
    {"segment", d_segment, 1, 0},
    {"capacity", d_capacity, 1, 0},
    {"huge-pages", d_huge_pages, 1, 0},
    {"mode", d_mode, 1, 0},
    {"user", d_user, 1, 0},
    {"group", d_user, 1, 0},
    {"node-key", d_path, 1, 0},
    {"keyring", d_path, 1, 0},
    {"control", d_control, 1, 0},
    {"snapshot", d_snapshot, -1, 0},
    {"listen", d_listen, 1, 0},
    {"peer", d_peer, 1, 1},
    {"interval", d_interval, 1, 0},
    {"max-datagram", d_max_datagram, 1, 0},
    {"http", d_http, -1, 0},
    {"fanout", d_fanout, 1, 0},
    {"announce", d_announce, 1, 0},
    {"ledger-size", d_ledger_size, 1, 0},
    {"debt-window", d_debt_window, 1, 0},
    {"sync", d_redis, -1, 0},
    {"redis-auth", d_redis, -1, 0},
    {"redis-timeout", d_redis, -1, 0},
    {"redis-namespace", d_redis, -1, 0},
    {"rule", d_rule, -1, 1},
    {"tier", d_override, -1, 1},
    {"override", d_override, -1, 1},
};
_Static_assert(sizeof directives / sizeof directives[0] <=
                   sizeof((struct parser *)0)->seen /
                       sizeof((struct parser *)0)->seen[0],
               "one seen[] entry per directive");

const char *fgd_config_directive(size_t i)
{
	return i < sizeof directives / sizeof directives[0] ? directives[i].name
	                                                    : NULL;
}

/* ---------------------------------------------------------------- lines */

/* The line @s of @n bytes, checked and with its comment cut, into @buf;
 * its words into @w: their number, or -1 (failed). */
static int words_of(struct parser *p, const char *s, size_t n, char *buf,
                    char **w)
{
	char *c;
	size_t i;
	int nw = 0;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > FGD_LINE_MAX)
		return fail(p, "line longer than %d bytes", FGD_LINE_MAX);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\0')
			return fail(p, "NUL byte in the text");
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(p, "control character 0x%02x", ch);
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	c = strchr(buf, '#');
	if (c != NULL)
		*c = '\0';
	for (c = buf + strspn(buf, " \t"); *c != '\0'; c += strspn(c, " \t")) {
		if (nw == MAX_WORDS)
			return fail(p, "too many words (at most %d)",
			            MAX_WORDS);
		w[nw++] = c;
		c += strcspn(c, " \t");
		if (*c != '\0')
			*c++ = '\0';
	}
	return nw;
}

static int parse_line(struct parser *p, const char *s, size_t n)
{
	char buf[FGD_LINE_MAX + 1], *w[MAX_WORDS];
	const struct directive *d;
	int nw = words_of(p, s, n, buf, w);
	size_t i;

	if (nw <= 0)
		return nw;
	for (i = 0; i < sizeof directives / sizeof directives[0]; i++)
		if (strcmp(w[0], directives[i].name) == 0)
			break;
	if (i == sizeof directives / sizeof directives[0])
		return fail(p, "unknown directive '" CLIP "'", w[0]);
	d = &directives[i];
	if (!d->repeat && p->seen[i] != 0)
		return fail(p, "'%s' given twice (first on line %zu)", d->name,
		            p->seen[i]);
	if (d->nargs >= 0 && nw - 1 != d->nargs)
		return fail(p, "'%s' takes %d argument%s", d->name, d->nargs,
		            d->nargs == 1 ? "" : "s");
	p->seen[i] = p->line;
	return d->parse(p, w, nw);
}

/* The line of the first Redis directive given, for a message. */
static size_t redis_line(const struct parser *p)
{
	size_t i, line = 0;

	for (i = 0; i < sizeof directives / sizeof directives[0]; i++)
		if (p->seen[i] != 0 &&
		    strncmp(directives[i].name, "redis-", 6) == 0 &&
		    (line == 0 || p->seen[i] < line))
			line = p->seen[i];
	for (i = 0; i < sizeof directives / sizeof directives[0]; i++)
		if (p->seen[i] != 0 && strcmp(directives[i].name, "sync") == 0)
			return p->seen[i];
	return line;
}

/* A strict rule is decided in Redis: it needs sync, and a redis-timeout
 * whose two deadlines (daemon/strict.h) end before the worker's wait. */
static int strict_check(struct parser *p)
{
	size_t i;

	for (i = 0; i < p->cfg.nrules; i++)
		if ((p->cfg.rules[i].flags & FG_RULE_STRICT) &&
		    (!p->cfg.redis.on ||
		     2 * p->cfg.redis.timeout_ms >= FG_STRICT_WAIT_MS))
			return fail(p,
			            "rule '%s': scope strict needs sync "
			            "redis://... (Redis decides its requests) "
			            "and a redis-timeout below %ums (workers "
			            "wait %ums at most)",
			            p->cfg.rules[i].name, FG_STRICT_WAIT_MS / 2,
			            FG_STRICT_WAIT_MS);
	return 0;
}

/* Checks between directives, once every line has been read. */
static int finish(struct parser *p)
{
	const struct fgd_addr *l = &p->cfg.listen;
	char a[FGD_ADDR_TEXT], b[FGD_ADDR_TEXT], why[256];
	const struct fgd_addr *peer = NULL;

	if (strict_check(p) != 0)
		return -1;
	if (fgd_overconf_check(&p->cfg.ov, p->cfg.rules, p->cfg.nrules,
	                       &p->line, why, sizeof why) != 0)
		return fail(p, "%s", why);
	if (fgr_conf_check(&p->cfg.redis, p->cfg.node_key[0] != '\0', why,
	                   sizeof why) != 0) {
		p->line = redis_line(p);
		return fail(p, "%s", why);
	}

	/* One socket: an IPv4 one cannot reach IPv6 peers, and an IPv6 one
	 * reaches IPv4 peers only when bound to [::] (dual stack). */
	if (l->ss.ss_family == AF_INET && p->v6_peer != 0) {
		p->line = p->v6_peer;
		peer = &p->cfg.peers[p->v6_idx];
	} else if (l->ss.ss_family == AF_INET6 && p->v4_peer != 0 &&
	           !fgd_addr_wildcard(l)) {
		p->line = p->v4_peer;
		peer = &p->cfg.peers[p->v4_idx];
	}
	if (peer == NULL)
		return 0;
	fgd_addr_format(peer, a, sizeof a);
	fgd_addr_format(l, b, sizeof b);
	return fail(p,
	            "peer %s cannot be reached from listen %s (another "
	            "address family; listen on [::] to reach both)",
	            a, b);
}

int fgd_config_parse(const char *text, size_t len, const char *fname,
                     struct fgd_config *cfg, char *err, size_t errlen)
{
	struct parser p;
	struct sockaddr_in *sin;
	size_t off = 0;
	int r = -1;

	memset(&p, 0, sizeof p);
	p.fname = fname != NULL ? fname : "(config)";
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (cfg == NULL || (text == NULL && len != 0)) {
		(void)fail(&p, "invalid argument");
		goto out;
	}
	memset(cfg, 0, sizeof *cfg);

	strcpy(p.cfg.segment, FG_DEFAULT_SEGMENT);
	p.cfg.capacity = FG_DEFAULT_CAPACITY;
	p.cfg.mode = 0660;
	sin = (struct sockaddr_in *)&p.cfg.listen.ss;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	sin->sin_port = htons(FGD_DEFAULT_PORT);
	p.cfg.listen.len = sizeof *sin;
	p.cfg.interval_ms = FGD_DEFAULT_INTERVAL_MS;
	p.cfg.snapshot_every_ms = FGD_DEFAULT_SNAPSHOT_MS;
	p.cfg.max_datagram = FGD_DEFAULT_DATAGRAM;
	fgd_http_conf_defaults(&p.cfg.http);
	fgr_conf_defaults(&p.cfg.redis);

	while (off < len) {
		const char *s = text + off, *nl = memchr(s, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - off;

		p.line++;
		if (parse_line(&p, s, n) != 0)
			goto out;
		off += n + (nl != NULL);
	}
	if (finish(&p) != 0)
		goto out;
	*cfg = p.cfg;
	memset(&p.cfg, 0, sizeof p.cfg);
	r = 0;
out:
	fgd_config_free(&p.cfg);
	return r;
}

/* All of @fd, a regular file, into @buf (FGD_FILE_MAX + 1 bytes): its
 * length, or -1 with why in @err. */
static ssize_t file_read(int fd, const char *path, char *buf, char *err,
                         size_t errlen)
{
	struct stat st;
	size_t n = 0;

	if (fstat(fd, &st) != 0)
		return fgu_why(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fgu_why(err, errlen, "%s: not a regular file", path);
	/* Read one byte past the limit: the file may grow under us. */
	while (n <= FGD_FILE_MAX) {
		ssize_t k = read(fd, buf + n, FGD_FILE_MAX + 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return fgu_why(err, errlen, "%s: %s", path,
			               strerror(errno));
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > FGD_FILE_MAX)
		return fgu_why(err, errlen, "%s: larger than %u bytes", path,
		               FGD_FILE_MAX);
	return (ssize_t)n;
}

int fgd_config_read(const char *path, char **text, size_t *len, char *err,
                    size_t errlen)
{
	char *buf;
	ssize_t n = -1;
	int fd;

	*text = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO put in the file's place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fgu_why(err, errlen, "%s: %s", path, strerror(errno));
	buf = malloc(FGD_FILE_MAX + 1);
	if (buf == NULL)
		fgu_why(err, errlen, "%s: out of memory", path);
	else
		n = file_read(fd, path, buf, err, errlen);
	close(fd);
	if (n < 0) {
		free(buf);
		return -1;
	}
	*text = buf;
	*len = (size_t)n;
	return 0;
}

int fgd_config_load(const char *path, struct fgd_config *cfg, char *err,
                    size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int r = -1;

	if (cfg != NULL)
		memset(cfg, 0, sizeof *cfg);
	if (path == NULL || cfg == NULL)
		return fgu_why(err, errlen, "invalid argument");
	if (fgd_config_read(path, &text, &len, err, errlen) == 0)
		r = fgd_config_parse(text, len, path, cfg, err, errlen);
	free(text);
	return r;
}

int fgd_config_http_same(const struct fgd_config *a, const struct fgd_config *b)
{
	return fgd_http_conf_same(&a->http, &b->http);
}

void fgd_config_free(struct fgd_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->peers);
	free(cfg->rules);
	fgd_overconf_free(&cfg->ov);
	memset(cfg, 0, sizeof *cfg);
}
