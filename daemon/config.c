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

#define FGD_LINE_MAX    1024       /* bytes, without the line end */
#define FGD_FILE_MAX    (1u << 20) /* fgd_config_read() reads no more */
#define MAX_WORDS       16         /* the longest rule line has 13 */
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

__attribute__((format(printf, 3, 4))) static void msg(char *err, size_t errlen,
                                                      const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

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

/* Strict decimal: [0-9]+, at most @max; no sign, blank or junk. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9' || d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

enum { DUR_SYNTAX = -1, DUR_NOUNIT = -2, DUR_RANGE = -3 };

/* A duration with a unit: "500ms", "1s", "1m", "1h"; at most @max ms. */
static int parse_duration(const char *s, uint64_t max, uint64_t *ms)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	size_t n = strspn(s, "0123456789"), i;
	uint64_t v;

	if (n == 0)
		return DUR_SYNTAX;
	if (s[n] == '\0')
		return DUR_NOUNIT;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(s + n, units[i].name) != 0)
			continue;
		if (parse_uint(s, n, max / units[i].ms, &v) != 0)
			return DUR_RANGE;
		*ms = v * units[i].ms;
		return 0;
	}
	return DUR_SYNTAX;
}

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

/* As fg__seg_path() in shm/segment.c accepts. */
static int segment_ok(const char *s)
{
	if (s[0] == '/')
		return strlen(s) <= FGD_PATH_MAX && s[1] != '\0';
	return s[0] != '.' && word_ok(s, FGD_NAME_MAX, "._-");
}

/* As rule_name_ok() in lib/owner.c accepts. */
static int rule_name_ok(const char *s)
{
	return word_ok(s, FG_RULE_NAME_MAX, "_.:/-");
}

/*
 * "A.B.C.D[:PORT]" or "[IPV6][:PORT]", numeric only.  Returns NULL, or
 * why not.
 */
static const char *parse_addr(const char *s, struct fgd_addr *a)
{
	char host[INET6_ADDRSTRLEN];
	const char *end, *port = NULL;
	uint64_t pn = FGD_DEFAULT_PORT;
	int v6 = s[0] == '[';
	size_t n;

	if (v6) {
		s++;
		end = strchr(s, ']');
		if (end == NULL)
			return "missing ']' after the IPv6 address";
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return "junk after ']'";
	} else {
		end = strchr(s, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return "an IPv6 address goes in brackets, "
			       "like [::1]:7420";
		if (end != NULL)
			port = end + 1;
		else
			end = s + strlen(s);
	}
	n = (size_t)(end - s);
	if (n == 0 || n >= sizeof host)
		return v6 ? "not a numeric IPv6 address"
		          : "not a numeric IPv4 address";
	memcpy(host, s, n);
	host[n] = '\0';
	if (port != NULL && parse_uint(port, strlen(port), 65535, &pn) != 0)
		return "port must be a number from 1 to 65535";
	if (pn == 0)
		return "port must be a number from 1 to 65535";

	memset(a, 0, sizeof *a);
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return "not a numeric IPv6 address";
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		a->len = sizeof *sin6;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return "not a numeric IPv4 address (no host names)";
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		a->len = sizeof *sin;
	}
	return NULL;
}

/* The address as IPv6 (IPv4 mapped) and the port: equal keys, same peer. */
static void addr_key(const struct fgd_addr *a, uint8_t key[18])
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&a->ss;

		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		memcpy(key + 16, &sin->sin_port, 2);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&a->ss;

		memcpy(key, &sin6->sin6_addr, 16);
		memcpy(key + 16, &sin6->sin6_port, 2);
	}
}

static int addr_unspecified(const struct fgd_addr *a)
{
	static const uint8_t any4[18] = {[10] = 0xff, [11] = 0xff};
	static const uint8_t any6[18];
	uint8_t key[18];

	addr_key(a, key);
	return memcmp(key, any4, 16) == 0 || memcmp(key, any6, 16) == 0;
}

static void addr_str(const struct fgd_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int v6 = a->ss.ss_family == AF_INET6;
	const void *src;
	unsigned port;

	if (v6) {
		const struct sockaddr_in6 *sin6 = (const void *)&a->ss;

		src = &sin6->sin6_addr;
		port = ntohs(sin6->sin6_port);
	} else {
		const struct sockaddr_in *sin = (const void *)&a->ss;

		src = &sin->sin_addr;
		port = ntohs(sin->sin_port);
	}
	if (inet_ntop(a->ss.ss_family, src, host, sizeof host) == NULL)
		strcpy(host, "?");
	if (snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", host, port) < 0)
		buf[0] = '\0';
}

/* ---------------------------------------------------------- directives */

static int d_segment(struct parser *p, char **w, int nw)
{
	(void)nw;
	if (!segment_ok(w[1]))
		return fail(p,
		            "segment '" CLIP "': must be a name of 1..%d of "
		            "[A-Za-z0-9._-] not starting with '.', or an "
		            "absolute path of at most %d bytes",
		            w[1], FGD_NAME_MAX, FGD_PATH_MAX);
	strcpy(p->cfg.segment, w[1]);
	return 0;
}

static int d_capacity(struct parser *p, char **w, int nw)
{
	uint64_t v;

	(void)nw;
	if (parse_uint(w[1], strlen(w[1]), CAPACITY_MAX, &v) != 0 || v == 0)
		return fail(p,
		            "capacity '" CLIP "': must be a number of keys "
		            "from 1 to %" PRIu64,
		            w[1], CAPACITY_MAX);
	p->cfg.capacity = v;
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
	if (nw == 4 && (parse_duration(w[3], 3600000, &ms) != 0 || ms < 1000))
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
	const char *why = parse_addr(w[1], &p->cfg.listen);

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
	why = parse_addr(w[1], &p->cfg.announce);
	if (why != NULL)
		return fail(p, "announce '" CLIP "': %s", w[1], why);
	return 0;
}

static int d_peer(struct parser *p, char **w, int nw)
{
	struct fgd_addr a;
	const char *why = parse_addr(w[1], &a);
	uint8_t key[18], other[18];
	size_t i;

	(void)nw;
	if (why != NULL)
		return fail(p, "peer '" CLIP "': %s", w[1], why);
	if (addr_unspecified(&a))
		return fail(p, "peer '" CLIP "': not a host's address", w[1]);
	if (p->cfg.npeers == FGD_MAX_PEERS)
		return fail(p, "more than %d peers", FGD_MAX_PEERS);
	addr_key(&a, key);
	for (i = 0; i < p->cfg.npeers; i++) {
		addr_key(&p->cfg.peers[i], other);
		if (memcmp(key, other, sizeof key) == 0)
			return fail(p, "peer '" CLIP "': given twice", w[1]);
	}
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
	if (parse_duration(w[1], INTERVAL_MAX, &ms) != 0 || ms < INTERVAL_MIN)
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
	if (parse_uint(w[1], strlen(w[1]), LEDGER_MAX, &v) != 0 || v == 0)
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
	if (parse_duration(w[1], DEBT_WINDOW_MAX, &ms) != 0 || ms < 1000)
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
	if (parse_uint(w[1], strlen(w[1]), FGD_MAX_DATAGRAM, &v) != 0 ||
	    v < FGD_MIN_DATAGRAM)
		return fail(p,
		            "max-datagram '" CLIP "': must be a number of "
		            "bytes from %d to %d",
		            w[1], FGD_MIN_DATAGRAM, FGD_MAX_DATAGRAM);
	p->cfg.max_datagram = (uint32_t)v;
	return 0;
}

/*
 * "http [ADDR:]PORT [timeout DURATION] [connections N]" or "http off".
 * A bare port listens on 127.0.0.1: the endpoint answers the network
 * only where an operator wrote an address.  MHD counts whole seconds.
 */
static int d_http(struct parser *p, char **w, int nw)
{
	const char *s = w[1], *why, *after;
	char buf[32];
	uint64_t v;
	unsigned seen = 0;
	int i;

	if (nw < 2)
		return fail(p, "http needs [ADDR:]PORT (or off)");
	if (strcmp(s, "off") == 0) {
		if (nw > 2)
			return fail(p, "'http off' takes nothing more");
		memset(&p->cfg.http, 0, sizeof p->cfg.http);
		return 0;
	}
	if (s[strspn(s, "0123456789")] == '\0' && strlen(s) <= 5) {
		snprintf(buf, sizeof buf, "127.0.0.1:%s", s);
		s = buf;
	}
	why = parse_addr(s, &p->cfg.http);
	after = s[0] == '[' ? strchr(s, ']') : s;
	if (why == NULL && (after == NULL || strchr(after, ':') == NULL))
		why = "needs a port, like 127.0.0.1:8080 or 8080";
	if (why != NULL)
		return fail(p, "http '" CLIP "': %s", w[1], why);
	for (i = 2; i < nw; i += 2) {
		int k = strcmp(w[i], "timeout") == 0       ? 1
		        : strcmp(w[i], "connections") == 0 ? 2
		                                           : 0;

		if (k == 0)
			return fail(p,
			            "http: unknown keyword '" CLIP "' (timeout "
			            "or connections)",
			            w[i]);
		if (seen & (1u << k))
			return fail(p, "http: '%s' given twice", w[i]);
		seen |= 1u << k;
		if (i + 1 >= nw)
			return fail(p, "http: '%s' needs a value", w[i]);
		if (k == 1) {
			if (parse_duration(w[i + 1], 3600000, &v) != 0 ||
			    v < 1000)
				return fail(p,
				            "http: timeout '" CLIP
				            "' must be a "
				            "duration from 1s to 1h, like 10s",
				            w[i + 1]);
			p->cfg.http_timeout_s = (uint32_t)((v + 999) / 1000);
		} else if (parse_uint(w[i + 1], strlen(w[i + 1]),
		                      FGD_HTTP_CONNECTIONS_MAX, &v) != 0 ||
		           v == 0) {
			return fail(p,
			            "http: connections '" CLIP "' must be a "
			            "number from 1 to %d",
			            w[i + 1], FGD_HTTP_CONNECTIONS_MAX);
		} else {
			p->cfg.http_connections = (uint32_t)v;
		}
	}
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
	if (parse_uint(w[1], strlen(w[1]), FGD_FANOUT_MAX, &v) != 0 || v < 1)
		return fail(p,
		            "fanout '" CLIP "': must be all or a number of "
		            "peers from 1 to %d",
		            w[1], FGD_FANOUT_MAX);
	p->cfg.fanout = (uint32_t)v;
	return 0;
}

/* "R/PERIOD": R tokens every PERIOD, both nonzero and within 32 bits. */
static int rule_rate(struct parser *p, const char *name, const char *s,
                     struct fgd_rule *r)
{
	const char *slash = strchr(s, '/');
	uint64_t rate, ms;
	int e;

	if (slash == NULL ||
	    parse_uint(s, (size_t)(slash - s), UINT32_MAX, &rate) != 0)
		return fail(p,
		            "rule '%s': rate must be N/PERIOD like 5/1s, not "
		            "'" CLIP "'",
		            name, s);
	if (rate == 0)
		return fail(p, "rule '%s': rate must be at least 1", name);
	e = parse_duration(slash + 1, UINT32_MAX, &ms);
	if (e == DUR_NOUNIT)
		return fail(p,
		            "rule '%s': rate period '" CLIP "' needs a unit "
		            "(ms, s, m or h), like 5/1s",
		            name, slash + 1);
	if (e == DUR_RANGE)
		return fail(p, "rule '%s': rate period '" CLIP "' is too long",
		            name, slash + 1);
	if (e != 0)
		return fail(p,
		            "rule '%s': rate must be N/PERIOD like 5/1s, not "
		            "'" CLIP "'",
		            name, s);
	if (ms == 0)
		return fail(p, "rule '%s': rate period must be at least 1ms",
		            name);
	r->rate = (uint32_t)rate;
	r->period_ms = (uint32_t)ms;
	return 0;
}

/*
 * "rule NAME capacity N rate R/PERIOD [scope host|global]
 *  [on-full open|closed] [mode enforce|shadow] [default]", keywords in any
 * order, each at most once.
 */
static int d_rule(struct parser *p, char **w, int nw)
{
	enum { K_CAPACITY, K_RATE, K_SCOPE, K_ONFULL, K_MODE, K_DEFAULT };
	static const struct {
		const char *kw;
		const char *off, *on; /* values; NULL: takes a number */
		uint32_t flag;        /* set by @on */
	} kws[] = {
	    [K_CAPACITY] = {"capacity", NULL, NULL, 0},
	    [K_RATE] = {"rate", NULL, NULL, 0},
	    [K_SCOPE] = {"scope", "host", "global", FG_RULE_GLOBAL},
	    [K_ONFULL] = {"on-full", "open", "closed", FG_RULE_FAIL_CLOSED},
	    [K_MODE] = {"mode", "enforce", "shadow", FG_RULE_SHADOW},
	    [K_DEFAULT] = {"default", NULL, NULL, FG_RULE_DEFAULT},
	};
	const char *name = w[1];
	struct fgd_rule r = {.flags = 0};
	unsigned seen = 0, k;
	uint64_t period_ns, interval_ns, v;
	int i;

	if (nw < 2)
		return fail(p, "rule needs a name, capacity N and rate "
		               "R/PERIOD");
	if (!rule_name_ok(name))
		return fail(p,
		            "rule '" CLIP "': name must be 1..%d of "
		            "[A-Za-z0-9_.:/-]",
		            name, FG_RULE_NAME_MAX);
	for (i = 0; (size_t)i < p->cfg.nrules; i++)
		if (strcmp(p->cfg.rules[i].name, name) == 0)
			return fail(p, "rule '%s': defined twice", name);
	strcpy(r.name, name);

	for (i = 2; i < nw; i++) {
		const char *kw = w[i], *val = i + 1 < nw ? w[i + 1] : NULL;

		for (k = 0; k < sizeof kws / sizeof kws[0]; k++)
			if (strcmp(kw, kws[k].kw) == 0)
				break;
		if (k == sizeof kws / sizeof kws[0])
			return fail(p,
			            "rule '%s': unknown keyword '" CLIP "' "
			            "(capacity, rate, scope, on-full, mode or "
			            "default)",
			            name, kw);
		if (seen & (1u << k))
			return fail(p, "rule '%s': '%s' given twice", name, kw);
		seen |= 1u << k;
		if (k == K_DEFAULT) {
			r.flags |= FG_RULE_DEFAULT;
			continue;
		}
		if (val == NULL)
			return fail(p, "rule '%s': '%s' needs a value", name,
			            kw);
		i++;
		if (k == K_CAPACITY) {
			if (parse_uint(val, strlen(val), UINT32_MAX, &v) != 0 ||
			    v == 0)
				return fail(
				    p,
				    "rule '%s': capacity '" CLIP "' "
				    "must be a number from 1 to %" PRIu32,
				    name, val, UINT32_MAX);
			r.capacity = (uint32_t)v;
		} else if (k == K_RATE) {
			if (rule_rate(p, name, val, &r) != 0)
				return -1;
		} else if (strcmp(val, kws[k].on) == 0) {
			r.flags |= kws[k].flag;
		} else if (strcmp(val, kws[k].off) != 0) {
			return fail(p,
			            "rule '%s': %s must be %s or %s, not "
			            "'" CLIP "'",
			            name, kw, kws[k].off, kws[k].on, val);
		}
	}
	if (!(seen & (1u << K_CAPACITY)))
		return fail(p, "rule '%s': needs capacity N", name);
	if (!(seen & (1u << K_RATE)))
		return fail(p, "rule '%s': needs rate R/PERIOD, like 5/1s",
		            name);

	/* What fg_rule_set() refuses, refused here, in its terms. */
	period_ns = (uint64_t)r.period_ms * 1000000u;
	if (r.rate > period_ns)
		return fail(p,
		            "rule '%s': rate %" PRIu32 "/%" PRIu32 "ms is "
		            "above one token per nanosecond",
		            name, r.rate, r.period_ms);
	interval_ns = (period_ns + r.rate - 1) / r.rate;
	if (r.capacity > FG_TAU_MAX / interval_ns)
		return fail(
		    p,
		    "rule '%s': capacity / rate spans more than 2^56 ns "
		    "(834 days) of refill",
		    name);
	if ((r.flags & FG_RULE_DEFAULT) && p->default_line != 0)
		return fail(p,
		            "rule '%s': a second default rule (the first is on "
		            "line %zu)",
		            name, p->default_line);
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

static const struct directive directives[] = {
    {"segment", d_segment, 1, 0},
    {"capacity", d_capacity, 1, 0},
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
    {"rule", d_rule, -1, 1},
};
_Static_assert(sizeof directives / sizeof directives[0] <=
                   sizeof((struct parser *)0)->seen /
                       sizeof((struct parser *)0)->seen[0],
               "one seen[] entry per directive");

/* ---------------------------------------------------------------- lines */

static int parse_line(struct parser *p, const char *s, size_t n)
{
	char buf[FGD_LINE_MAX + 1], *w[MAX_WORDS], *c;
	const struct directive *d = NULL;
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

	for (c = buf;;) {
		c += strspn(c, " \t");
		if (*c == '\0')
			break;
		if (nw == MAX_WORDS)
			return fail(p, "too many words (at most %d)",
			            MAX_WORDS);
		w[nw++] = c;
		c += strcspn(c, " \t");
		if (*c != '\0')
			*c++ = '\0';
	}
	if (nw == 0)
		return 0;

	for (i = 0; i < sizeof directives / sizeof directives[0]; i++) {
		if (strcmp(w[0], directives[i].name) == 0) {
			d = &directives[i];
			break;
		}
	}
	if (d == NULL)
		return fail(p, "unknown directive '" CLIP "'", w[0]);
	if (!d->repeat && p->seen[i] != 0)
		return fail(p, "'%s' given twice (first on line %zu)", d->name,
		            p->seen[i]);
	if (d->nargs >= 0 && nw - 1 != d->nargs)
		return fail(p, "'%s' takes %d argument%s", d->name, d->nargs,
		            d->nargs == 1 ? "" : "s");
	p->seen[i] = p->line;
	return d->parse(p, w, nw);
}

/* Checks between directives, once every line has been read. */
static int finish(struct parser *p)
{
	const struct fgd_addr *l = &p->cfg.listen;
	char a[INET6_ADDRSTRLEN + 8], b[INET6_ADDRSTRLEN + 8];
	const struct fgd_addr *peer = NULL;

	/* One socket: an IPv4 one cannot reach IPv6 peers, and an IPv6 one
	 * reaches IPv4 peers only when bound to [::] (dual stack). */
	if (l->ss.ss_family == AF_INET && p->v6_peer != 0) {
		p->line = p->v6_peer;
		peer = &p->cfg.peers[p->v6_idx];
	} else if (l->ss.ss_family == AF_INET6 && p->v4_peer != 0 &&
	           !addr_unspecified(l)) {
		p->line = p->v4_peer;
		peer = &p->cfg.peers[p->v4_idx];
	}
	if (peer == NULL)
		return 0;
	addr_str(peer, a, sizeof a);
	addr_str(l, b, sizeof b);
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
	p.cfg.http_timeout_s = FGD_HTTP_TIMEOUT_S;
	p.cfg.http_connections = FGD_HTTP_CONNECTIONS;

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

int fgd_config_read(const char *path, char **text, size_t *len, char *err,
                    size_t errlen)
{
	char *buf = NULL;
	struct stat st;
	size_t n = 0;
	int fd = -1, r = -1;

	*text = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO put in the file's place must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		msg(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		msg(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		msg(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)FGD_FILE_MAX) {
		msg(err, errlen, "%s: larger than %u bytes", path,
		    FGD_FILE_MAX);
		goto out;
	}
	buf = malloc(FGD_FILE_MAX + 1);
	if (buf == NULL) {
		msg(err, errlen, "%s: out of memory", path);
		goto out;
	}
	/* Read one byte past the limit: the file may grow under us. */
	while (n <= FGD_FILE_MAX) {
		ssize_t k = read(fd, buf + n, FGD_FILE_MAX + 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			msg(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > FGD_FILE_MAX) {
		msg(err, errlen, "%s: larger than %u bytes", path,
		    FGD_FILE_MAX);
		goto out;
	}
	*text = buf;
	*len = n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

int fgd_config_load(const char *path, struct fgd_config *cfg, char *err,
                    size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int r = -1;

	if (cfg != NULL)
		memset(cfg, 0, sizeof *cfg);
	if (path == NULL || cfg == NULL) {
		msg(err, errlen, "invalid argument");
		return -1;
	}
	if (fgd_config_read(path, &text, &len, err, errlen) == 0)
		r = fgd_config_parse(text, len, path, cfg, err, errlen);
	free(text);
	return r;
}

void fgd_config_free(struct fgd_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->peers);
	free(cfg->rules);
	memset(cfg, 0, sizeof *cfg);
}
