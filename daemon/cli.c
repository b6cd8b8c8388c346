/*
 * cli.c - floodgate(1): the operator's view of a segment and its daemon.
 *
 * Two sources, so that the tool works while the daemon is down: what the
 * workers see (rules, buckets, counters) is read straight from the
 * segment, read-only and lock-free like a worker; what only floodgated
 * knows (peers, the remote ledger, gossip counters) is asked over its
 * control socket (daemon/control.h).  When the daemon does not answer, the
 * commands that can say so and go on ("daemon: not running"); those that
 * need it exit EXIT_NODAEMON.
 *
 * Reading slots.  A slot is copied (ctl, key, counters) and kept only if
 * its ctl word is the same after the copy: a slot reclaimed and reused
 * meanwhile is skipped, never shown with another key's figures.
 *
 * Every error has its own exit status (see enum below and floodgate(1));
 * messages go to stderr, results to stdout, as human tables or --json.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <urcu/uatomic.h>

#include <sodium.h>

#include "daemon/args.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/metrics.h"
#include "gossip/keys.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/hash.h"
#include "shm/scan.h"

enum {
	EXIT_DENIED = 1,   /* check: the request would be denied */
	EXIT_NORULE = 2,   /* no such rule in the segment */
	EXIT_NODAEMON = 3, /* floodgated does not answer */
	EXIT_NOSEG = 4,    /* no such segment */
	EXIT_VERSION = 5,  /* a segment of another layout version */
	EXIT_BADSEG = 6,   /* not a floodgate segment, or corrupt */
	EXIT_PERM = 7,     /* permission denied */
	EXIT_DAEMON = 8,   /* floodgated answered with an error */
	EXIT_CONFIG = 9,   /* the -c file does not load */
	EXIT_SYS = 10,     /* out of memory or another system error */
	EXIT_USAGE = 64,   /* bad command line (as sysexits' EX_USAGE) */
};

#define TOP_WINDOW_MS 1000u

struct cli {
	char segment[FGD_PATH_MAX + 1]; /* -s, else config, env, default */
	const char *config;
	int json;
	char seg_path[FG_SEG_PATH_MAX + 16];
	char ctl_path[FGD_CONTROL_MAX + 1]; /* "": no control socket */
	fg_client *fg;
};

__attribute__((format(printf, 1, 2))) static void warnx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "floodgate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: floodgate [-s SEGMENT] [-c CONFIG] [--json] COMMAND "
	        "[ARGS]\n"
	        "commands:\n"
	        "  status                      segment, rules, daemon, peers\n"
	        "  rules                       the rules in force\n"
	        "  list [--rule R] [--prefix P] [--top N [--window MS]]\n"
	        "                              keys and their buckets\n"
	        "  get RULE KEY                one bucket, remote per origin\n"
	        "  check RULE KEY [--cost N]   take N tokens: exit 0 allowed, "
	        "1 denied\n"
	        "  reset RULE KEY              refill one bucket (owner only)\n"
	        "  peers                       the daemon's peers\n"
	        "  stats [--prometheus]        counters\n"
	        "  keygen PATH [NAME]          a new node key pair\n"
	        "  reload                      the daemon re-reads its config\n"
	        "options:\n"
	        "  -s, --segment NAME  segment (default $FLOODGATE_SEGMENT or "
	        "\"floodgate\")\n"
	        "  -c, --config FILE   floodgate.conf: segment and control "
	        "socket\n"
	        "      --json          JSON instead of tables\n"
	        "see floodgate(1) for exit statuses\n");
}

static int fg_exit(int r)
{
	switch (r) {
	case FG_ENOSEG:
		return EXIT_NOSEG;
	case FG_EVERSION:
		return EXIT_VERSION;
	case FG_EBADSEG:
		return EXIT_BADSEG;
	case FG_EACCES:
		return EXIT_PERM;
	case FG_ENORULE:
		return EXIT_NORULE;
	case FG_ENAME:
	case FG_EKEY:
	case FG_EKEYLEN:
	case FG_ECOST:
	case FG_EINVAL:
		return EXIT_USAGE;
	default:
		return EXIT_SYS;
	}
}

/* ---------------------------------------------------------------- output */

static void json_str(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	putchar('"');
	for (i = 0; i < len; i++) {
		uint8_t ch = b[i];

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else if (ch < 0x80)
			putchar(ch);
		else /* not ASCII: as U+00XX (Latin-1), so that any bytes
		      * make valid JSON; key_hex gives them exactly */
			printf("\\u%04x", ch);
	}
	putchar('"');
}

static void json_cstr(const char *s)
{
	json_str(s, strlen(s));
}

/* A key in a table: printable ASCII as is, anything else (and blanks and
 * backslashes, so that a column stays one word) as \xNN. */
static void human_key(const uint8_t *k, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (k[i] > 0x20 && k[i] < 0x7f && k[i] != '\\')
			*out++ = (char)k[i];
		else
			out += sprintf(out, "\\x%02x", k[i]);
	}
	*out = '\0';
}

#define HUMAN_KEY_MAX (4 * FG_KEY_MAX + 1)

/* -------------------------------------------------------- daemon replies */

/* A reply: lines of "TYPE name=value ..." after "ok". */
struct reply {
	char *text;
	size_t n;
	struct rline {
		char *type;
		int nkv;
		char *k[24], *v[24];
	} * l;
};

static void reply_free(struct reply *r)
{
	free(r->text);
	free(r->l);
	memset(r, 0, sizeof *r);
}

static int reply_parse(struct reply *r)
{
	char *p = strchr(r->text, '\n'), *line;
	size_t cap = 0;

	p = p ? p + 1 : r->text + strlen(r->text);
	while (*p) {
		struct rline *l;
		char *end = strchr(p, '\n'), *w;

		if (end)
			*end = '\0';
		line = p;
		p = end ? end + 1 : p + strlen(p);
		if (*line == '\0')
			continue;
		if (r->n == cap) {
			struct rline *nl;

			cap = cap ? 2 * cap : 16;
			nl = realloc(r->l, cap * sizeof *nl);
			if (nl == NULL)
				return -1;
			r->l = nl;
		}
		l = &r->l[r->n++];
		memset(l, 0, sizeof *l);
		l->type = strtok_r(line, " ", &w);
		while (l->nkv < 24) {
			char *kv = strtok_r(NULL, " ", &w), *eq;

			if (kv == NULL)
				break;
			eq = strchr(kv, '=');
			if (eq == NULL)
				continue;
			*eq = '\0';
			l->k[l->nkv] = kv;
			l->v[l->nkv++] = eq + 1;
		}
	}
	return 0;
}

static const char *kv(const struct rline *l, const char *name)
{
	int i;

	for (i = 0; i < l->nkv; i++)
		if (strcmp(l->k[i], name) == 0)
			return l->v[i];
	return "";
}

static const struct rline *reply_find(const struct reply *r, const char *t)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->l[i].type, t) == 0)
			return &r->l[i];
	return NULL;
}

/*
 * Ask the daemon.  0 with the reply parsed (unless @raw); EXIT_NODAEMON
 * when nobody answers (said unless @quiet); EXIT_DAEMON when it answers
 * with an error (said).
 */
static int ask(const struct cli *c, const char *req, struct reply *r, int quiet,
               int raw)
{
	int e;

	memset(r, 0, sizeof *r);
	if (c->ctl_path[0] == '\0') {
		if (!quiet)
			warnx("no control socket (control off in the config)");
		return EXIT_NODAEMON;
	}
	e = fgd_ctl_request(c->ctl_path, req, &r->text);
	if (e == -ENOENT || e == -ECONNREFUSED) {
		if (!quiet)
			warnx("daemon not running (nobody answers on %s)",
			      c->ctl_path);
		return EXIT_NODAEMON;
	}
	if (e == -EACCES || e == -EPERM) {
		if (!quiet)
			warnx("%s: permission denied (run as the daemon's "
			      "user or root)",
			      c->ctl_path);
		return EXIT_PERM;
	}
	if (e != 0) {
		if (!quiet)
			warnx("%s: %s", c->ctl_path, strerror(-e));
		return EXIT_NODAEMON;
	}
	if (strncmp(r->text, "ok\n", 3) != 0) {
		char *nl = strchr(r->text, '\n');

		if (nl)
			*nl = '\0';
		if (strncmp(r->text, "error: permission", 17) == 0) {
			warnx("daemon: %s", r->text + 7);
			reply_free(r);
			return EXIT_PERM;
		}
		warnx("daemon: %s", strncmp(r->text, "error: ", 7) == 0
		                        ? r->text + 7
		                        : r->text);
		reply_free(r);
		return EXIT_DAEMON;
	}
	if (!raw && reply_parse(r) != 0) {
		reply_free(r);
		warnx("out of memory");
		return EXIT_SYS;
	}
	return 0;
}

/* A reply line as a JSON object: numbers stay numbers. */
static void json_line(const struct rline *l)
{
	int i;

	putchar('{');
	for (i = 0; i < l->nkv; i++) {
		const char *v = l->v[i];
		size_t d = strspn(v + (v[0] == '-'), "0123456789");

		printf(i ? ", " : "");
		json_cstr(l->k[i]);
		putchar(':');
		if (d > 0 && d < 20 && v[d + (v[0] == '-')] == '\0')
			fputs(v, stdout);
		else
			json_cstr(v);
	}
	putchar('}');
}

/* --------------------------------------------------------------- segment */

static int seg_open(struct cli *c)
{
	int r = fg_open(c->segment, 0, &c->fg);

	if (r == 0) {
		(void)fg__rule_index(c->fg, ""); /* copy in the rule names */
		return 0;
	}
	warnx("segment %s (%s): %s%s", c->segment, c->seg_path, fg_strerror(r),
	      r == FG_ENOSEG ? " (is floodgated running? -s picks another)"
	                     : "");
	return fg_exit(r);
}

/* The rule named @name, active, or EXIT_NORULE (said). */
static int rule_find(struct cli *c, const char *name, unsigned *idx,
                     fg_rule_info *ri)
{
	int i = fg__rule_index(c->fg, name);

	if (i < 0 || fg_rule_get(c->fg, (uint32_t)i, ri) != 0) {
		warnx("no rule %s in segment %s (floodgate rules lists them)",
		      name, c->seg_path);
		return EXIT_NORULE;
	}
	*idx = (unsigned)i;
	return 0;
}

struct item {
	uint64_t slot, id;
	uint64_t consumed, denied, tat;
	uint64_t recent;
	uint64_t remote;
	int remote_known;
	unsigned rule;
	uint8_t klen;
	uint8_t key[FG_KEY_MAX];
};

/* An item from a consistent copy of a bucket (shm/scan.h). */
static void item_of(struct item *it, const struct fg_slot_view *v)
{
	memset(it, 0, sizeof *it);
	it->slot = v->slot;
	it->id = v->id;
	it->rule = v->rule;
	it->klen = (uint8_t)v->keylen;
	memcpy(it->key, v->key, v->keylen);
	it->consumed = v->consumed;
	it->denied = v->denied;
	it->tat = v->tat;
}

/* Copy slot @i if it holds a live bucket; 1 if it does. */
static int slot_read(struct fg_table *t, uint64_t i, struct item *it)
{
	struct fg_slot_view v;

	if (!fg__slot_read(t, i, &v))
		return 0;
	item_of(it, &v);
	return 1;
}

static int cmp_rule_key(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int d;

	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	d = memcmp(x->key, y->key, n);
	return d ? d : (int)x->klen - (int)y->klen;
}

static int cmp_recent(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->recent != y->recent)
		return x->recent > y->recent ? -1 : 1;
	return cmp_rule_key(a, b);
}

/* -------------------------------------------------------------- commands */

static void print_time(uint64_t ns)
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;
	char buf[64];

	gmtime_r(&s, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs(buf, stdout);
}

static int cmd_status(struct cli *c)
{
	const struct fg_seg_hdr *h;
	fg_segment_stats st;
	fg_rule_info ri;
	struct reply r;
	const struct rline *dl = NULL, *pl = NULL;
	unsigned i, nrules = 0;
	int e = seg_open(c), up;

	if (e)
		return e;
	h = c->fg->seg.tbl.hdr;
	if (fg_stats(c->fg, &st) != 0)
		return EXIT_SYS;
	for (i = 0; i < FG_RULES_MAX; i++)
		nrules += fg_rule_get(c->fg, i, &ri) == 0;
	e = ask(c, "status", &r, 1, 0);
	up = e == 0;
	if (up) {
		dl = reply_find(&r, "status");
		pl = reply_find(&r, "peers");
	}
	if (c->json) {
		printf("{\"segment\": ");
		json_cstr(c->segment);
		printf(", \"path\": ");
		json_cstr(c->seg_path);
		printf(", \"layout_version\": %u, \"size_bytes\": %zu, "
		       "\"capacity\": %" PRIu64 ", \"slots\": %" PRIu64
		       ", \"used\": %" PRIu64 ", \"dead\": %" PRIu64
		       ", \"occupancy\": %.4f, \"rules\": %u, "
		       "\"created\": \"",
		       h->layout_version, c->fg->seg.size, st.capacity,
		       st.nslots, st.used, st.dead,
		       st.capacity ? (double)st.used / (double)st.capacity
		                   : 0.0,
		       nrules);
		print_time(h->created_ns);
		printf("\", \"daemon\": {\"running\": %s", up ? "true"
		                                           : e == EXIT_PERM
		                                               ? "null"
		                                               : "false");
		if (dl) {
			printf(", \"status\": ");
			json_line(dl);
		}
		if (pl) {
			printf(", \"peers\": ");
			json_line(pl);
		}
		printf("}}\n");
	} else {
		printf("segment:   %s (%s)\n", c->segment, c->seg_path);
		printf("layout:    version %u, %zu bytes, created ",
		       h->layout_version, c->fg->seg.size);
		print_time(h->created_ns);
		printf("\nkeys:      %" PRIu64 " of %" PRIu64
		       " (%.1f%%), %" PRIu64 " slots, %" PRIu64 " dead\n",
		       st.used, st.capacity,
		       st.capacity
		           ? 100.0 * (double)st.used / (double)st.capacity
		           : 0.0,
		       st.nslots, st.dead);
		printf("rules:     %u\n", nrules);
		if (dl)
			printf(
			    "daemon:    running, pid %s, up %s ms, gossip %s, "
			    "incarnation %s\n",
			    kv(dl, "pid"), kv(dl, "uptime_ms"),
			    kv(dl, "gossip"), kv(dl, "incarnation"));
		else if (e == EXIT_PERM)
			printf(
			    "daemon:    unknown (permission denied on %s: run "
			    "as the daemon's user or root)\n",
			    c->ctl_path);
		else
			printf(
			    "daemon:    not running (nobody answers on %s)\n",
			    c->ctl_path[0] ? c->ctl_path : "(control off)");
		if (pl)
			printf("peers:     %s: %s alive, %s suspect, %s dead, "
			       "%s never heard\n",
			       kv(pl, "total"), kv(pl, "alive"),
			       kv(pl, "suspect"), kv(pl, "dead"),
			       kv(pl, "unknown"));
	}
	if (up)
		reply_free(&r);
	return 0;
}

static const char *scope(uint32_t f)
{
	return f & FG_RULE_GLOBAL ? "global" : "host";
}

static int cmd_rules(struct cli *c)
{
	fg_rule_info ri;
	unsigned i, n = 0;
	int e = seg_open(c);

	if (e)
		return e;
	if (c->json)
		printf("[");
	else
		printf("%-20s %10s %12s %-6s %-7s %-7s %-7s %10s\n", "RULE",
		       "CAPACITY", "RATE", "SCOPE", "ON-FULL", "MODE",
		       "DEFAULT", "TABLE-FULL");
	for (i = 0; i < FG_RULES_MAX; i++) {
		char rate[40];

		if (fg_rule_get(c->fg, i, &ri) != 0)
			continue;
		if (c->json) {
			printf("%s{\"name\": ", n ? ", " : "");
			json_cstr(ri.name);
			printf(
			    ", \"capacity\": %u, \"rate\": %u, "
			    "\"period_ms\": %u, \"scope\": \"%s\", "
			    "\"on_full\": \"%s\", \"mode\": \"%s\", "
			    "\"default\": %s, \"table_full\": %" PRIu64 "}",
			    ri.capacity, ri.rate, ri.period_ms, scope(ri.flags),
			    ri.flags & FG_RULE_FAIL_CLOSED ? "closed" : "open",
			    ri.flags & FG_RULE_SHADOW ? "shadow" : "enforce",
			    ri.flags & FG_RULE_DEFAULT ? "true" : "false",
			    ri.table_full);
		} else {
			snprintf(rate, sizeof rate, "%u/%ums", ri.rate,
			         ri.period_ms);
			printf("%-20s %10u %12s %-6s %-7s %-7s %-7s %10" PRIu64
			       "\n",
			       ri.name, ri.capacity, rate, scope(ri.flags),
			       ri.flags & FG_RULE_FAIL_CLOSED ? "closed"
			                                      : "open",
			       ri.flags & FG_RULE_SHADOW ? "shadow" : "enforce",
			       ri.flags & FG_RULE_DEFAULT ? "yes" : "no",
			       ri.table_full);
		}
		n++;
	}
	if (c->json)
		printf("]\n");
	return 0;
}

/* Tokens left in a bucket whose tat is @tat (negative: in debt). */
static int64_t tokens_left(struct cli *c, unsigned rule, uint64_t tat,
                           uint64_t now)
{
	const struct fg_rule_cache *rc = fg__rule_params(c->fg, rule);
	uint64_t debt;

	if (!(rc->flags & FG__RULE_ACTIVE))
		return 0;
#ifdef FG_TAT_EVICTED
	if (tat == FG_TAT_EVICTED)
		return rc->capacity;
#endif
	if (tat <= now)
		return rc->capacity;
	debt = tat - now;
	if (debt <= rc->tau_ns)
		return (int64_t)((rc->tau_ns - debt) / rc->interval_ns);
	debt -= rc->tau_ns;
	return -(int64_t)((debt + rc->interval_ns - 1) / rc->interval_ns);
}

/* Sum the daemon's remote ledger into @it (sorted by rule and key). */
static void remotes_merge(struct cli *c, struct item *it, size_t n,
                          const char *rule)
{
	char req[64];
	struct reply r;
	size_t i;

	snprintf(req, sizeof req, "remotes%s%s", rule ? " " : "",
	         rule ? rule : "");
	if (ask(c, req, &r, 1, 0) != 0)
		return;
	for (i = 0; i < n; i++)
		it[i].remote_known = 1;
	for (i = 0; i < r.n; i++) {
		const struct rline *l = &r.l[i];
		struct item k = {0};
		struct item *f;
		int idx, len;

		if (strcmp(l->type, "remote") != 0)
			continue;
		idx = fg__rule_index(c->fg, kv(l, "rule"));
		len = fgd_ctl_unhex(kv(l, "key"), k.key, sizeof k.key);
		if (idx < 0 || len <= 0)
			continue;
		k.rule = (unsigned)idx;
		k.klen = (uint8_t)len;
		f = bsearch(&k, it, n, sizeof *it, cmp_rule_key);
		if (f)
			f->remote += strtoull(kv(l, "count"), NULL, 10);
	}
	reply_free(&r);
}

static int cmd_list(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"rule", required_argument, NULL, 'r'},
	    {"prefix", required_argument, NULL, 'p'},
	    {"top", required_argument, NULL, 't'},
	    {"window", required_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0}};
	const char *rule = NULL, *prefix = NULL;
	unsigned long top = 0, window = TOP_WINDOW_MS;
	struct fg_table *t;
	struct item *it = NULL, one;
	fg_rule_info ri;
	unsigned ridx = 0;
	size_t n = 0, cap = 0, i, plen = 0, shown;
	uint64_t now, s;
	char *end;
	int o, e;

	while ((o = getopt_long(argc, argv, "r:p:t:w:", lo, NULL)) != -1) {
		switch (o) {
		case 'r':
			rule = optarg;
			break;
		case 'p':
			prefix = optarg;
			plen = strlen(prefix);
			break;
		case 't':
		case 'w':
			errno = 0;
			if (o == 't')
				top = strtoul(optarg, &end, 10);
			else
				window = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' ||
			    (o == 't' && top == 0) ||
			    (o == 'w' && (window == 0 || window > 600000))) {
				warnx("--%s %s: must be a number above 0%s",
				      o == 't' ? "top" : "window", optarg,
				      o == 'w' ? " (ms, at most 600000)" : "");
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		warnx("list: unexpected argument %s", argv[optind]);
		return EXIT_USAGE;
	}
	e = seg_open(c);
	if (e)
		return e;
	if (rule && (e = rule_find(c, rule, &ridx, &ri)) != 0)
		return e;
	t = &c->fg->seg.tbl;
	for (s = 0; s < fg__table_nslots(t); s++) {
		if (!slot_read(t, s, &one) || (rule && one.rule != ridx) ||
		    (prefix &&
		     (one.klen < plen || memcmp(one.key, prefix, plen) != 0)))
			continue;
		if (n == cap) {
			struct item *ni;

			cap = cap ? 2 * cap : 1024;
			ni = realloc(it, cap * sizeof *ni);
			if (ni == NULL) {
				free(it);
				warnx("out of memory");
				return EXIT_SYS;
			}
			it = ni;
		}
		it[n++] = one;
	}
	if (top) {
		/* The abusers: who consumed most over the window. */
		struct timespec ts = {.tv_sec = (time_t)(window / 1000),
		                      .tv_nsec =
		                          (long)(window % 1000) * 1000000};

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		for (i = 0; i < n; i++) {
			uint64_t before = it[i].consumed;

			if (!slot_read(t, it[i].slot, &one) ||
			    one.id != it[i].id) {
				it[i].recent = 0; /* gone or another key now */
				continue;
			}
			it[i].recent = one.consumed - before;
			it[i].consumed = one.consumed;
			it[i].denied = one.denied;
			it[i].tat = one.tat;
		}
	}
	if (n > 0) {
		qsort(it, n, sizeof *it, cmp_rule_key);
		remotes_merge(c, it, n, rule);
		if (top)
			qsort(it, n, sizeof *it, cmp_recent);
	}
	shown = top && top < n ? top : n;
	now = fg__now_ns();
	if (c->json)
		printf("[");
	else if (n)
		printf("%-16s %-24s %8s %8s %10s %10s %8s%s\n", "RULE", "KEY",
		       "LEFT", "CAPACITY", "LOCAL", "REMOTE", "DENIED",
		       top ? "   RECENT" : "");
	for (i = 0; i < shown; i++) {
		const struct item *x = &it[i];
		const char *rn = c->fg->names[x->rule];
		int64_t left = tokens_left(c, x->rule, x->tat, now);
		uint32_t capy = fg__rule_params(c->fg, x->rule)->capacity;
		char hk[HUMAN_KEY_MAX], hex[2 * FG_KEY_MAX + 1], rem[24];

		if (c->json) {
			printf("%s{\"rule\": ", i ? ", " : "");
			json_cstr(rn);
			printf(", \"key\": ");
			json_str(x->key, x->klen);
			fgd_ctl_hex(x->key, x->klen, hex);
			printf(
			    ", \"key_hex\": \"%s\", \"tokens_left\": %" PRId64
			    ", \"capacity\": %u, \"local_consumed\": %" PRIu64
			    ", \"denied\": %" PRIu64,
			    hex, left, capy, x->consumed, x->denied);
			if (x->remote_known)
				printf(", \"remote_consumed\": %" PRIu64,
				       x->remote);
			else
				printf(", \"remote_consumed\": null");
			if (top)
				printf(", \"recent\": %" PRIu64
				       ", \"window_ms\": %lu",
				       x->recent, window);
			printf("}");
			continue;
		}
		human_key(x->key, x->klen, hk);
		if (x->remote_known)
			snprintf(rem, sizeof rem, "%" PRIu64, x->remote);
		else
			snprintf(rem, sizeof rem, "-");
		printf("%-16s %-24s %8" PRId64 " %8u %10" PRIu64
		       " %10s %8" PRIu64,
		       rn, hk, left, capy, x->consumed, rem, x->denied);
		if (top)
			printf(" %8" PRIu64, x->recent);
		putchar('\n');
	}
	if (c->json)
		printf("]\n");
	else if (n == 0)
		printf("no keys\n");
	else if (n && !it[0].remote_known)
		printf("(remote: daemon not running)\n");
	free(it);
	return 0;
}

/* KEY as given on the command line: its bytes. */
static int key_arg(const char *key, size_t *len)
{
	*len = strlen(key);
	if (*len == 0 || *len > FG_KEY_MAX) {
		warnx("key must be 1 to %d bytes", FG_KEY_MAX);
		return EXIT_USAGE;
	}
	return 0;
}

static int cmd_get(struct cli *c, int argc, char **argv)
{
	char hex[2 * FG_KEY_MAX + 1], req[FGD_CTL_LINE_MAX + 1];
	char hk[HUMAN_KEY_MAX];
	const char *rule, *key;
	struct fg_slot_view v;
	struct item x = {0};
	int s;
	struct reply r;
	fg_rule_info ri;
	unsigned idx;
	size_t len, i;
	int64_t left;
	int e, up;

	if (argc != 3) {
		warnx("usage: floodgate get RULE KEY");
		return EXIT_USAGE;
	}
	rule = argv[1];
	key = argv[2];
	if ((e = key_arg(key, &len)) != 0 || (e = seg_open(c)) != 0 ||
	    (e = rule_find(c, rule, &idx, &ri)) != 0)
		return e;
	if (fg__peek(c->fg, rule, key, len, &left) != 0)
		return EXIT_SYS;
	s = fg__bucket_get(&c->fg->seg.tbl, idx, key, len, &v);
	if (s)
		item_of(&x, &v);
	fgd_ctl_hex(key, len, hex);
	snprintf(req, sizeof req, "remote %s %s", rule, hex);
	up = ask(c, req, &r, 1, 0) == 0;
	if (c->json) {
		uint64_t total = 0;

		printf("{\"rule\": ");
		json_cstr(rule);
		printf(", \"key\": ");
		json_str(key, len);
		printf(", \"key_hex\": \"%s\", \"tokens_left\": %" PRId64
		       ", \"capacity\": %u, \"local_consumed\": %" PRIu64
		       ", \"denied\": %" PRIu64 ", \"daemon\": %s",
		       hex, left, ri.capacity, x.consumed, x.denied,
		       up ? "true" : "false");
		if (up) {
			printf(", \"remote\": [");
			for (i = 0; i < r.n; i++) {
				printf("%s", i ? ", " : "");
				json_line(&r.l[i]);
				total +=
				    strtoull(kv(&r.l[i], "count"), NULL, 10);
			}
			printf("], \"remote_consumed\": %" PRIu64, total);
		} else {
			printf(", \"remote\": null, \"remote_consumed\": null");
		}
		printf("}\n");
	} else {
		human_key((const uint8_t *)key, len, hk);
		printf("rule:         %s (capacity %u, %u per %u ms, %s)\n",
		       rule, ri.capacity, ri.rate, ri.period_ms,
		       scope(ri.flags));
		printf("key:          %s\n", hk);
		printf("tokens left:  %" PRId64 "\n", left);
		printf("local:        %" PRIu64 " consumed, %" PRIu64
		       " denied%s\n",
		       x.consumed, x.denied, s ? "" : " (no bucket yet)");
		if (!up)
			printf("remote:       unknown (daemon not running)\n");
		else if (r.n == 0)
			printf("remote:       none\n");
		for (i = 0; up && i < r.n; i++) {
			const char *lag = kv(&r.l[i], "lag_ms");

			printf(
			    "remote:       %s consumed %s, last heard %s%s\n",
			    kv(&r.l[i], "origin"), kv(&r.l[i], "count"),
			    strcmp(lag, "-1") ? lag : "never",
			    strcmp(lag, "-1") ? " ms ago (lag)" : "");
		}
	}
	if (up)
		reply_free(&r);
	return 0;
}

static int cmd_check(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"cost", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
	uint32_t cost = 1;
	fg_decision d;
	size_t len;
	int o, e, r;

	while ((o = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		if (o != 'n')
			return EXIT_USAGE;
		if (fgd_arg_cost(optarg, strlen(optarg), &cost) != 0 ||
		    cost == 0) {
			warnx("--cost %s: must be a number of tokens above 0",
			      optarg);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		warnx("usage: floodgate check RULE KEY [--cost N]");
		return EXIT_USAGE;
	}
	if ((e = key_arg(argv[optind + 1], &len)) != 0 ||
	    (e = seg_open(c)) != 0)
		return e;
	r = fg_allow(c->fg, argv[optind], argv[optind + 1], (uint32_t)cost, &d);
	if (r < 0) {
		warnx("check %s: %s", argv[optind], fg_strerror(r));
		return fg_exit(r);
	}
	if (c->json)
		printf("{\"allowed\": %s, \"shadow\": %s, \"untracked\": %s, "
		       "\"limit\": %u, \"remaining\": %u, "
		       "\"retry_after_ms\": %" PRIu64 ", \"reset_ms\": %" PRIu64
		       "}\n",
		       r ? "true" : "false",
		       d.flags & FG_DECISION_SHADOW ? "true" : "false",
		       d.flags & FG_DECISION_UNTRACKED ? "true" : "false",
		       d.limit, d.remaining, d.retry_after_ms, d.reset_ms);
	else if (r)
		printf("allowed: %u of %u left%s\n", d.remaining, d.limit,
		       d.flags & FG_DECISION_SHADOW
		           ? " (shadow rule: would have been denied)"
		           : "");
	else
		printf("denied: retry after %" PRIu64 " ms\n",
		       d.retry_after_ms);
	return r ? 0 : EXIT_DENIED;
}

static int cmd_reset(struct cli *c, int argc, char **argv)
{
	struct fg_slot_view v;
	struct stat st;
	fg_rule_info ri;
	unsigned idx;
	size_t len;
	int e, done = 0;

	if (argc != 3) {
		warnx("usage: floodgate reset RULE KEY");
		return EXIT_USAGE;
	}
	if ((e = key_arg(argv[2], &len)) != 0 || (e = seg_open(c)) != 0)
		return e;
	/* Changing a bucket is the owner's: its user, or root. */
	if (fstat(c->fg->seg.fd, &st) != 0 ||
	    (geteuid() != 0 && geteuid() != st.st_uid)) {
		warnx("reset: permission denied: segment %s belongs to uid %u "
		      "(run as its owner or root)",
		      c->seg_path, (unsigned)st.st_uid);
		return EXIT_PERM;
	}
	if ((e = rule_find(c, argv[1], &idx, &ri)) != 0)
		return e;
	/* Refill: consumed stays (the daemon harvests it); a bucket
	 * already full, or gone, is left alone. */
	if (fg__bucket_get(&c->fg->seg.tbl, idx, argv[2], len, &v))
		done = fg__bucket_refill(&c->fg->seg.tbl, &v, fg__now_ns());
	if (c->json) {
		printf("{\"rule\": ");
		json_cstr(argv[1]);
		printf(", \"key\": ");
		json_str(argv[2], len);
		printf(", \"refilled\": %s, \"capacity\": %u}\n",
		       done ? "true" : "false", ri.capacity);
	} else {
		printf("%s: %u tokens%s\n", done ? "refilled" : "already full",
		       ri.capacity, done ? "" : " (nothing to do)");
	}
	return 0;
}

static int cmd_peers(struct cli *c)
{
	struct reply r;
	size_t i;
	int e = ask(c, "peers", &r, 0, 0), first = 1;

	if (e)
		return e;
	if (c->json) {
		const struct rline *dg = reply_find(&r, "datagrams");

		printf("{\"peers\": [");
		for (i = 0; i < r.n; i++) {
			if (strcmp(r.l[i].type, "peer") != 0)
				continue;
			printf("%s", first ? "" : ", ");
			json_line(&r.l[i]);
			first = 0;
		}
		printf("], \"addresses\": [");
		for (i = 0, first = 1; i < r.n; i++) {
			if (strcmp(r.l[i].type, "address") != 0)
				continue;
			printf("%s", first ? "" : ", ");
			json_cstr(kv(&r.l[i], "addr"));
			first = 0;
		}
		printf("], \"datagrams\": ");
		if (dg)
			json_line(dg);
		else
			printf("null");
		printf("}\n");
	} else {
		const struct rline *dg = reply_find(&r, "datagrams");

		printf("%-20s %-16s %-24s %-8s %-16s %s\n", "PEER", "KEY",
		       "ADDRESS", "STATE", "RECORDS", "LAST HEARD");
		for (i = 0; i < r.n; i++) {
			const struct rline *l = &r.l[i];
			const char *h = kv(l, "heard_ms_ago");
			unsigned long long have, latest;
			char rec[32];

			if (strcmp(l->type, "peer") != 0)
				continue;
			/* versions of its records we hold, of those heard of */
			have = strtoull(kv(l, "have"), NULL, 10);
			latest = strtoull(kv(l, "latest"), NULL, 10);
			if (have >= latest)
				snprintf(rec, sizeof rec, "all (v%llu)", have);
			else
				snprintf(rec, sizeof rec, "%llu behind",
				         latest - have);
			printf("%-20s %-16s %-24s %-8s %-16s %s%s\n",
			       kv(l, "name"), kv(l, "key"), kv(l, "addr"),
			       kv(l, "state"), rec,
			       strcmp(h, "-1") ? h : "never",
			       strcmp(h, "-1") ? " ms ago" : "");
		}
		for (i = 0; i < r.n; i++)
			if (strcmp(r.l[i].type, "address") == 0)
				printf("sends to:  %s\n", kv(&r.l[i], "addr"));
		if (dg)
			printf("datagrams: %s in, %s out, %s rejected, %s send "
			       "errors\n",
			       kv(dg, "in"), kv(dg, "out"), kv(dg, "rejected"),
			       kv(dg, "send_errors"));
		else
			printf("gossip off (no node-key in the config)\n");
	}
	reply_free(&r);
	return 0;
}

/* Allowed and denied per rule, over the live buckets. */
static void per_rule(struct cli *c, uint64_t *allowed, uint64_t *denied)
{
	struct fg_slot_view v;
	uint64_t cur = 0;

	while (fg__slot_next(&c->fg->seg.tbl, &cur, &v)) {
		if (v.rule >= FG_RULES_MAX)
			continue;
		allowed[v.rule] += v.consumed;
		denied[v.rule] += v.denied;
	}
}

static int cmd_stats(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"prometheus", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
	uint64_t allowed[FG_RULES_MAX] = {0}, denied[FG_RULES_MAX] = {0};
	fg_segment_stats st;
	fg_rule_info ri;
	struct reply r;
	unsigned i;
	size_t j;
	int o, e, prom = 0, up, first = 1, k;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o != 'p')
			return EXIT_USAGE;
		prom = 1;
	}
	if (optind != argc) {
		warnx("stats: unexpected argument %s", argv[optind]);
		return EXIT_USAGE;
	}
	if ((e = seg_open(c)) != 0)
		return e;
	if (prom) {
		struct fgd_buf b = {0};

		/* the daemon's figures are a superset of the segment's */
		if (ask(c, "metrics", &r, 1, 1) == 0) {
			fputs(r.text + 3, stdout);
			reply_free(&r);
			return 0;
		}
		fgd_metrics_prometheus(&b, c->fg, NULL,
		                       fg__now_ns() / 1000000u);
		if (b.oom) {
			fgd_buf_free(&b);
			return EXIT_SYS;
		}
		if (b.len)
			fputs(b.p, stdout);
		fgd_buf_free(&b);
		return 0;
	}
	if (fg_stats(c->fg, &st) != 0)
		return EXIT_SYS;
	per_rule(c, allowed, denied);
	up = ask(c, "stats", &r, 1, 0) == 0;
	if (c->json) {
		printf("{\"segment\": {\"used\": %" PRIu64
		       ", \"capacity\": %" PRIu64 ", \"dead\": %" PRIu64
		       ", \"inserts\": %" PRIu64 ", \"abandoned\": %" PRIu64
		       ", \"reaped\": %" PRIu64 ", \"consumed\": %" PRIu64
		       ", \"denied\": %" PRIu64 ", \"table_full\": %" PRIu64
		       "}, \"rules\": [",
		       st.used, st.capacity, st.dead, st.inserts, st.abandoned,
		       st.reaped, st.consumed, st.denied, st.table_full);
		for (i = 0; i < FG_RULES_MAX; i++) {
			if (fg_rule_get(c->fg, i, &ri) != 0)
				continue;
			printf("%s{\"name\": ", first ? "" : ", ");
			json_cstr(ri.name);
			printf(", \"allowed\": %" PRIu64
			       ", \"denied\": %" PRIu64
			       ", \"table_full\": %" PRIu64 "}",
			       allowed[i], denied[i], ri.table_full);
			first = 0;
		}
		printf("], \"daemon\": ");
		if (!up) {
			printf("null");
		} else { /* gossip, members, drops: one object each */
			printf("{");
			for (j = 0; j < r.n; j++) {
				printf("%s", j ? ", " : "");
				json_cstr(r.l[j].type);
				printf(": ");
				json_line(&r.l[j]);
			}
			printf("}");
		}
		printf("}\n");
	} else {
		printf("segment: %" PRIu64 " keys of %" PRIu64 ", %" PRIu64
		       " inserted, %" PRIu64 " abandoned, %" PRIu64
		       " reaped, %" PRIu64 " table full\n",
		       st.used, st.capacity, st.inserts, st.abandoned,
		       st.reaped, st.table_full);
		printf("%-20s %12s %12s %10s\n", "RULE", "ALLOWED", "DENIED",
		       "TABLE-FULL");
		for (i = 0; i < FG_RULES_MAX; i++)
			if (fg_rule_get(c->fg, i, &ri) == 0)
				printf("%-20s %12" PRIu64 " %12" PRIu64
				       " %10" PRIu64 "\n",
				       ri.name, allowed[i], denied[i],
				       ri.table_full);
		if (!up)
			printf("daemon: not running\n");
		else if (r.n == 0)
			printf("daemon: gossip off\n");
		for (j = 0; up && j < r.n; j++)
			for (k = 0; k < r.l[j].nkv; k++)
				printf("%-8s %-18s %s\n", r.l[j].type,
				       r.l[j].k[k], r.l[j].v[k]);
	}
	if (up)
		reply_free(&r);
	return 0;
}

static int cmd_keygen(int argc, char **argv)
{
	char err[512], host[64];
	const char *name = argc > 2 ? argv[2] : NULL;

	if (argc < 2 || argc > 3) {
		warnx("usage: floodgate keygen PATH [NAME]");
		return EXIT_USAGE;
	}
	if (name == NULL) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "node");
		host[sizeof host - 1] = '\0';
		name = host;
	}
	if (sodium_init() < 0) {
		warnx("libsodium failed to initialise");
		return EXIT_SYS;
	}
	if (fgk_keygen(argv[1], name, err, sizeof err) != 0) {
		warnx("%s", err);
		return errno == EACCES ? EXIT_PERM : EXIT_SYS;
	}
	printf("secret key: %s\npublic key: %s.pub (add its line to every "
	       "node's keyring)\n",
	       argv[1], argv[1]);
	return 0;
}

static int cmd_reload(struct cli *c)
{
	struct reply r;
	int e = ask(c, "reload", &r, 0, 0);

	if (e)
		return e;
	reply_free(&r);
	if (c->json)
		printf("{\"reloaded\": true}\n");
	else
		printf("reloaded\n");
	return 0;
}

/* ------------------------------------------------------------------ main */

/* --json may follow the command too: take it out of its arguments (up to
 * a "--", after which a key may be "--json"). */
static int strip_json(struct cli *c, int argc, char **argv)
{
	int i, n = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0)
			c->json = 1;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

/* Where the segment and the control socket are: -s, -c, environment. */
static int locate(struct cli *c, const char *seg_opt)
{
	struct fgd_config cfg;
	char err[512];
	int r;

	memset(&cfg, 0, sizeof cfg);
	if (c->config != NULL) {
		if (fgd_config_load(c->config, &cfg, err, sizeof err) != 0) {
			warnx("%s", err);
			return EXIT_CONFIG;
		}
	} else {
		const char *env = getenv("FLOODGATE_SEGMENT");

		seg_opt = seg_opt         ? seg_opt
		          : env && env[0] ? env
		                          : FG_DEFAULT_SEGMENT;
	}
	if (seg_opt != NULL && strlen(seg_opt) > FGD_PATH_MAX) {
		warnx("segment %.64s...: longer than %d bytes", seg_opt,
		      FGD_PATH_MAX);
		fgd_config_free(&cfg);
		return EXIT_USAGE;
	}
	if (seg_opt != NULL) /* -s wins over the config */
		strcpy(cfg.segment, seg_opt);
	memcpy(c->segment, cfg.segment, sizeof c->segment);
	r = fg__seg_path(cfg.segment, c->seg_path, sizeof c->seg_path);
	if (r != 0) {
		warnx("segment %s: %s", cfg.segment, fg_strerror(r));
		fgd_config_free(&cfg);
		return EXIT_USAGE;
	}
	if (fgd_ctl_path(&cfg, c->ctl_path, sizeof c->ctl_path) != 0)
		c->ctl_path[0] = '\0';
	fgd_config_free(&cfg);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"segment", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	struct cli c = {0};
	const char *seg_opt = NULL, *cmd;
	int o, e, sub_argc;
	char **sub_argv;

	while ((o = getopt_long(argc, argv, "+s:c:h", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			seg_opt = optarg;
			break;
		case 'c':
			c.config = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("floodgate %s\n", FG_VERSION_STRING);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	sub_argc = argc - optind;
	sub_argv = argv + optind;
	optind = 0; /* each command parses its own options (0: glibc starts
	             * afresh, in its default, permuting mode) */
	sub_argc = strip_json(&c, sub_argc, sub_argv);
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(sub_argc, sub_argv);
	if ((e = locate(&c, seg_opt)) != 0)
		return e;
	if (strcmp(cmd, "list") == 0)
		e = cmd_list(&c, sub_argc, sub_argv);
	else if (strcmp(cmd, "get") == 0)
		e = cmd_get(&c, sub_argc, sub_argv);
	else if (strcmp(cmd, "check") == 0)
		e = cmd_check(&c, sub_argc, sub_argv);
	else if (strcmp(cmd, "reset") == 0)
		e = cmd_reset(&c, sub_argc, sub_argv);
	else if (strcmp(cmd, "stats") == 0)
		e = cmd_stats(&c, sub_argc, sub_argv);
	else if (sub_argc != 1) {
		warnx("%s: unexpected argument %s", cmd, sub_argv[1]);
		e = EXIT_USAGE;
	} else {
		if (strcmp(cmd, "status") == 0)
			e = cmd_status(&c);
		else if (strcmp(cmd, "rules") == 0)
			e = cmd_rules(&c);
		else if (strcmp(cmd, "peers") == 0)
			e = cmd_peers(&c);
		else if (strcmp(cmd, "reload") == 0)
			e = cmd_reload(&c);
		else {
			warnx(
			    "unknown command %s (floodgate --help lists them)",
			    cmd);
			e = EXIT_USAGE;
		}
	}
	fg_close(c.fg);
	fflush(stdout);
	return ferror(stdout) ? EXIT_SYS : e;
}
