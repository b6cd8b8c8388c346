/* SPDX-License-Identifier: ISC */
/*
 * http.c - floodgated's HTTP endpoint on libmicrohttpd (see http.h).
 *
 * Threading.  MHD runs without a thread (MHD_USE_EPOLL, external event
 * loop): its epoll descriptor sits in the daemon's poll() set and
 * fgd_http_service() calls MHD_run(), which answers whatever is ready
 * and returns.  Every handler therefore runs on the loop's thread, between
 * gossip rounds, and reads the node without locks.  A handler never
 * blocks: a check is one fg_allow(), /metrics one scan of the table.
 *
 * Hostile requests.  The request line and headers of a connection must
 * fit in FGD_HTTP_MEMORY bytes (MHD answers 431/414 and closes beyond it).
 * No handler reads a request body.  Query values are counted bytes (a %00
 * in a key is refused, not truncated), a parameter given twice is refused
 * rather than guessed, and a key echoed in a JSON body goes through the
 * one JSON writer (util/json.h: valid UTF-8 as it is, control bytes
 * escaped, any other byte as U+FFFD).
 *
 * Slow and many clients.  Each request has an absolute deadline,
 * whatever its bytes do, and one address a bounded number of places; when
 * all are taken a newcomer takes the place of the biggest holder's oldest
 * connection (daemon/httpconns.h).  MHD's own inactivity timer stays as a
 * backstop, at the deadline rounded up to seconds: it never fires first.
 *
 * Several rules.  Both checks take a list of rules (rule=a,b or
 * endpoint=a,b: a comma is in no rule name) for one request, all or none
 * (fg_allow_many()); the answer describes the rule that decided.
 *
 * Methods.  /v1/allow consumes tokens: POST only.  /check consumes too but
 * stays GET, the seed API's method.  /metrics and /healthz are read-only:
 * GET and HEAD (MHD sends a HEAD the headers of the GET).  Any other
 * method is 405 with Allow.
 *
 * Answers to a check (200 and 429) carry RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers-10; with legacy-headers on, also
 * the pre-07 RateLimit-Limit, -Remaining and -Reset), a 429 Retry-After,
 * and every answer Cache-Control: no-store: a decision must never be
 * replayed by a cache.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <urcu/uatomic.h>

#include <microhttpd.h>

#include "daemon/args.h"
#include "daemon/http.h"
#include "daemon/httpconns.h"
#include "daemon/metrics.h"
#include "daemon/strictview.h"
#include "lib/client.h"
#include "shm/clock.h"
#include "shm/layout.h"
#include "util/json.h"

#define FGD_HTTP_MEMORY (16 * 1024) /* per connection: request + headers */
#define JSON            "application/json"

struct fgd_http {
	struct MHD_Daemon *mhd;
	fg_client *fg;
	struct fgd_node *node;
	struct fgd_solo *solo;           /* no node: a single host's own */
	const struct fgd_strict *strict; /* NULL: no strict rule */
	int epfd;
	int legacy_headers;
	struct fgd_hc hc; /* deadlines and places (httpconns.h) */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --------------------------------------------------------------- replies */

/* What a check's answer says of its bucket. */
struct limits {
	const fg_decision *d;
	char policy[FG_RATELIMIT_MAX];    /* RateLimit-Policy */
	char ratelimit[FG_RATELIMIT_MAX]; /* RateLimit */
	int legacy;                       /* also the pre-07 names */
};

/*
 * RateLimit-Policy and RateLimit as fg_ratelimit_headers() writes them
 * (the library's one formatter, which every integration shares: see
 * lib/headers.c for the form and the arithmetic), and with legacy-headers
 * on the pre-07 RateLimit-Limit, -Remaining and -Reset.
 */
static enum MHD_Result ratelimit_headers(struct MHD_Response *r,
                                         const struct limits *l)
{
	const fg_decision *d = l->d;
	char v[32];
	enum MHD_Result ok;

	ok = MHD_add_response_header(r, "RateLimit-Policy", l->policy);
	if (ok == MHD_YES)
		ok = MHD_add_response_header(r, "RateLimit", l->ratelimit);
	if (ok != MHD_YES || !l->legacy)
		return ok;
	snprintf(v, sizeof v, "%u", (unsigned)d->limit);
	ok = MHD_add_response_header(r, "RateLimit-Limit", v);
	snprintf(v, sizeof v, "%u", (unsigned)d->remaining);
	if (ok == MHD_YES)
		ok = MHD_add_response_header(r, "RateLimit-Remaining", v);
	snprintf(v, sizeof v, "%llu",
	         (unsigned long long)((d->reset_ms + 999) / 1000));
	if (ok == MHD_YES)
		ok = MHD_add_response_header(r, "RateLimit-Reset", v);
	return ok;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, struct fgd_buf *b,
                             const struct limits *l)
{
	static const char oom[] = "{\"error\":\"out of memory\"}\n";
	struct MHD_Response *r;
	enum MHD_Result ok;
	char v[32];

	if (b->oom) {
		fgd_buf_free(b);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		type = JSON;
		l = NULL;
		r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
		                                    MHD_RESPMEM_PERSISTENT);
	} else {
		r = MHD_create_response_from_buffer(b->len, b->p,
		                                    MHD_RESPMEM_MUST_FREE);
		if (r == NULL)
			fgd_buf_free(b);
	}
	if (r == NULL)
		return MHD_NO;
	memset(b, 0, sizeof *b); /* the response owns the text now */
	ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (ok == MHD_YES)
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
		                             "no-store");
	if (ok == MHD_YES && l != NULL)
		ok = ratelimit_headers(r, l);
	if (ok == MHD_YES && l != NULL &&
	    status == MHD_HTTP_TOO_MANY_REQUESTS) {
		uint64_t s = (l->d->retry_after_ms + 999) / 1000;

		snprintf(v, sizeof v, "%llu", (unsigned long long)(s ? s : 1));
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
	if (ok == MHD_YES)
		ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
                                   const char *what, const char *name)
{
	struct fgd_buf b = {0};
	struct fgu_json j;
	char msg[160];

	if (name != NULL)
		snprintf(msg, sizeof msg, "%s: %s", what, name);
	else
		snprintf(msg, sizeof msg, "%s", what);
	fgu_json_init(&j, &b);
	fgu_json_object(&j);
	fgu_json_kstr(&j, "error", msg);
	fgu_json_object_end(&j);
	fgd_buf_add(&b, "\n", 1);
	return reply(conn, status, JSON, &b, NULL);
}

/* ---------------------------------------------------------------- checks */

struct param {
	const char *name;
	int required;
	const char *v;
	size_t n;
	unsigned count;
};

static enum MHD_Result param_seen(void *cls, enum MHD_ValueKind kind,
                                  const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
	struct param *p;

	(void)kind;
	for (p = cls; p->name != NULL; p++) {
		if (strlen(p->name) != key_size ||
		    memcmp(p->name, key, key_size) != 0)
			continue;
		p->count++;
		p->v = value ? value : "";
		p->n = value ? value_size : 0;
	}
	return MHD_YES;
}

/* Collect @ps (ended by a NULL name): NULL, or why the query is refused
 * (and *@which names the parameter).  Parameters not named are ignored. */
static const char *params_get(struct MHD_Connection *conn, struct param *ps,
                              const char **which)
{
	struct param *p;

	(void)MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND,
	                                  param_seen, ps);
	for (p = ps; p->name != NULL; p++) {
		*which = p->name;
		if (p->count == 0 && p->required)
			return "missing parameter";
		if (p->count > 1)
			return "parameter given twice";
		if (p->count == 1 && memchr(p->v, '\0', p->n) != NULL)
			return "parameter contains a NUL byte";
	}
	return NULL;
}

static enum MHD_Result decided(struct MHD_Connection *conn, struct fgd_http *h,
                               int r, const char *key, uint32_t cost,
                               const fg_decision *d)
{
	struct fgd_buf b = {0};
	struct fgu_json j;
	struct limits l;
	int hr;

	if (r < 0)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, fg_strerror(r),
		                   NULL);
	/* the rule withdrawn meanwhile: say nothing of it */
	hr = fg_ratelimit_headers(h->fg, d, l.policy, sizeof l.policy,
	                          l.ratelimit, sizeof l.ratelimit);
	l.d = d;
	l.legacy = h->legacy_headers;
	fgu_json_init(&j, &b);
	fgu_json_object(&j);
	fgu_json_kbool(&j, "allowed", r);
	fgu_json_kstr(&j, "rule", h->fg->names[d->rule]);
	fgu_json_kstr(&j, "key", key);
	fgu_json_ku64(&j, "cost", cost);
	fgu_json_ku64(&j, "limit", d->limit);
	fgu_json_ku64(&j, "remaining", d->remaining);
	fgu_json_ku64(&j, "reset_ms", d->reset_ms);
	fgu_json_ku64(&j, "retry_after_ms", d->retry_after_ms);
	fgu_json_kbool(&j, "shadow", d->flags & FG_DECISION_SHADOW);
	fgu_json_kbool(&j, "untracked", d->flags & FG_DECISION_UNTRACKED);
	fgu_json_object_end(&j);
	fgd_buf_add(&b, "\n", 1);
	return reply(conn, r ? MHD_HTTP_OK : MHD_HTTP_TOO_MANY_REQUESTS, JSON,
	             &b, hr == 0 ? &l : NULL);
}

#define TOO_MANY "at most 8 rules in one check"
_Static_assert(FG_TRIPLES_MAX == 8, "TOO_MANY says how many");

/* A rule in force: its index, or -1.  With @fallback, a name that is
 * none means the segment's default rule, as fg_allow_request() has it. */
static int rule_of(struct fgd_http *h, const char *name, size_t n, int fallback)
{
	char buf[FG_RULE_NAME_MAX + 1];
	uint64_t def;
	int idx = -1;

	if (n < sizeof buf) {
		memcpy(buf, name, n);
		buf[n] = '\0';
		idx = fg__rule_index(h->fg, buf);
	}
	if (idx >= 0 &&
	    fg__rule_params(h->fg, (unsigned)idx)->flags & FG__RULE_ACTIVE)
		return idx;
	if (!fallback)
		return -1;
	def = uatomic_read(&h->fg->seg.tbl.hdr->default_rule);
	return def == 0 || def > FG_MAX_RULES ? -1 : (int)def - 1;
}

/*
 * One request, @cost tokens of @key under each rule of the list @v (@n
 * bytes, names separated by commas: a comma is in no rule name), all or
 * none (fg_allow_many()); a rule the list reaches twice is checked once.
 * The result as fg_allow() gives it, @d the deciding rule's figures;
 * FG_EINVAL for more than FG_TRIPLES_MAX rules.
 */
static int check_list(struct fgd_http *h, const char *v, size_t n, int fallback,
                      const char *key, uint32_t cost, fg_decision *d)
{
	struct fg__triple in[FG_TRIPLES_MAX];
	unsigned count = 0, i;
	size_t len, at = 0;
	int r = fg__key_args(h->fg, "", key, &len);

	while (r == 0) {
		const char *comma = memchr(v + at, ',', n - at);
		size_t end = comma ? (size_t)(comma - v) : n;
		int idx = rule_of(h, v + at, end - at, fallback);
		const struct fg_rule_cache *rc;
		struct fg_rule_cache buf;

		if (idx < 0)
			return FG_ENORULE;
		rc = fg__rule_params(h->fg, (unsigned)idx);
		if (rc->flags & FG__RULE_IN_FLIGHT)
			return FG_EKIND; /* leases are not checked here */
		for (i = 0; i < count && in[i].rule != (unsigned)idx; i++)
			;
		if (i == count && count == FG_TRIPLES_MAX)
			return FG_EINVAL;
		/* the key's capacity: its override's, if it has one */
		rc = fg__rule_key(h->fg, (unsigned)idx, rc, key, len, &buf);
		if (cost == 0 || cost > rc->capacity)
			return FG_ECOST;
		in[i] = (struct fg__triple){(unsigned)idx, key, len, cost};
		count += i == count;
		if (comma == NULL)
			break;
		at = end + 1;
	}
	return r ? r : fg__check_many(h->fg, in, count, fg__now_ns(), d, NULL);
}

/* POST /v1/allow?rule=R[,R2...]&key=K[&cost=N] */
static enum MHD_Result allow(struct MHD_Connection *conn, struct fgd_http *h)
{
	struct param ps[] = {{.name = "rule", .required = 1},
	                     {.name = "key", .required = 1},
	                     {.name = "cost"},
	                     {.name = NULL}};
	const char *why, *which = NULL;
	fg_decision d;
	uint32_t cost = 1;
	int r;

	why = params_get(conn, ps, &which);
	if (why != NULL)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, why, which);
	if (ps[2].count == 1 && fgd_arg_cost(ps[2].v, ps[2].n, &cost) != 0)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST,
		                   "cost must be a whole number from 1 to the "
		                   "rule's capacity",
		                   NULL);
	r = check_list(h, ps[0].v, ps[0].n, 0, ps[1].v, cost, &d);
	if (r == FG_EINVAL)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, TOO_MANY, NULL);
	return decided(conn, h, r, ps[1].v, cost, &d);
}

/* GET /check?user_id=U&endpoint=E[,E2...]: fg_allow_request(U, E) for
 * each, all or none, with the decision's figures (the public call gives
 * none). */
static enum MHD_Result check(struct MHD_Connection *conn, struct fgd_http *h)
{
	struct param ps[] = {{.name = "user_id", .required = 1},
	                     {.name = "endpoint", .required = 1},
	                     {.name = NULL}};
	const char *why, *which = NULL;
	fg_decision d;
	int r;

	why = params_get(conn, ps, &which);
	if (why != NULL)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, why, which);
	r = check_list(h, ps[1].v, ps[1].n, 1, ps[0].v, 1, &d);
	if (r == FG_EINVAL)
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, TOO_MANY, NULL);
	return decided(conn, h, r, ps[0].v, 1, &d);
}

/* ----------------------------------------------------------------- other */

/* The endpoint's own connections: open, and ended by httpconns.c. */
static void conns_metrics(struct fgd_buf *b, const struct fgd_hc *hc)
{
	const struct fgd_metrics_sample d[] = {{"per-address", hc->refused},
	                                       {"displaced", hc->displaced},
	                                       {"deadline", hc->expired},
	                                       {"no-memory", hc->untracked}};

	fgd_metrics_scalar(b, "http_connections_open", "gauge",
	                   "Connections the HTTP endpoint holds.", hc->nlive);
	fgd_metrics_labelled(b, "http_connections_dropped_total", "counter",
	                     "HTTP connections the endpoint ended or refused, "
	                     "by why: over the per-address limit, displaced by "
	                     "a newcomer when all were taken, past their "
	                     "request's deadline, no memory to track.",
	                     "reason", d, sizeof d / sizeof d[0]);
}

static enum MHD_Result metrics(struct MHD_Connection *conn, struct fgd_http *h)
{
	struct fgd_buf b = {0};

	fgd_metrics_scrape(&b, h->fg, h->node, h->solo, mono_ms());
	if (h->strict != NULL)
		fgd_strict_metrics(&b, h->strict);
	conns_metrics(&b, &h->hc);
	return reply(conn, MHD_HTTP_OK,
	             "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
}

/* Healthy while the segment we own is the one workers find: a segment
 * file removed under us would leave new workers without limits. */
static enum MHD_Result healthz(struct MHD_Connection *conn, struct fgd_http *h)
{
	struct fgd_buf b = {0};
	struct stat st;

	if (fstat(h->fg->seg.fd, &st) != 0 || st.st_nlink == 0)
		return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		                   "segment file removed", NULL);
	fgd_buf_printf(&b, "ok\n");
	return reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", &b, NULL);
}

/* ------------------------------------------------------------- routing */

enum { M_GET = 1, M_HEAD = 2, M_POST = 4 };

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {{MHD_HTTP_METHOD_GET, M_GET},
               {MHD_HTTP_METHOD_HEAD, M_HEAD},
               {MHD_HTTP_METHOD_POST, M_POST}};

static const struct route {
	const char *path;
	unsigned methods; /* M_* */
	enum MHD_Result (*fn)(struct MHD_Connection *, struct fgd_http *);
} routes[] = {{"/v1/allow", M_POST, allow},
              {"/check", M_GET, check},
              {"/metrics", M_GET | M_HEAD, metrics},
              {"/healthz", M_GET | M_HEAD, healthz}};

/* 405, with the route's methods in Allow (which a 405 must carry) */
static enum MHD_Result not_allowed(struct MHD_Connection *conn,
                                   const struct route *rt)
{
	static const char body[] = "{\"error\":\"method not allowed\"}\n";
	struct MHD_Response *r;
	enum MHD_Result ok;
	char allow[32] = "";
	size_t i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (rt->methods & methods[i].bit)
			snprintf(allow + strlen(allow),
			         sizeof allow - strlen(allow), "%s%s",
			         allow[0] ? ", " : "", methods[i].name);
	r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
	                                    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (ok == MHD_YES)
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		                             JSON);
	if (ok == MHD_YES)
		ok = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	const size_t nroutes = sizeof routes / sizeof routes[0];
	struct fgd_http *h = cls;
	unsigned bit = 0;
	size_t i, m;

	(void)version;
	(void)upload_data;
	for (i = 0; i < nroutes; i++)
		if (strcmp(url, routes[i].path) == 0)
			break;
	if (i == nroutes)
		return reply_error(conn, MHD_HTTP_NOT_FOUND, "no such path",
		                   NULL);
	for (m = 0; m < sizeof methods / sizeof methods[0]; m++)
		if (strcmp(method, methods[m].name) == 0)
			bit = methods[m].bit;
	if (!(routes[i].methods & bit))
		return not_allowed(conn, &routes[i]);
	/* A reply queued at the first call, before MHD has seen the end of
	 * the request, makes it close the connection; the answer waits for
	 * the second call, so that clients keep theirs alive.  A request
	 * announcing a body is refused at once (and closed): no body is ever
	 * read, parameters go in the query string. */
	if (*req_cls == NULL) {
		const char *cl = MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		if ((cl != NULL && strcmp(cl, "0") != 0) ||
		    MHD_lookup_connection_value(
		        conn, MHD_HEADER_KIND,
		        MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
			return reply_error(
			    conn, MHD_HTTP_CONTENT_TOO_LARGE,
			    "no request body is read: parameters "
			    "go in the query string",
			    NULL);
		*req_cls = h;
		return MHD_YES;
	}
	if (*upload_data_size != 0)
		return MHD_NO; /* a body after all: close */
	return routes[i].fn(conn, h);
}

/* ------------------------------------------------------------- lifecycle */

int fgd_http_start(struct fgd_http **out, const struct fgd_config *cfg,
                   fg_client *fg, struct fgd_node *node, struct fgd_solo *solo,
                   char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct fgd_http *h;
	unsigned flags = MHD_USE_EPOLL;

	*out = NULL;
	if (cfg->http.addr.len == 0)
		return 0;
	h = calloc(1, sizeof *h);
	if (h == NULL) {
		snprintf(err, errlen, "http: out of memory");
		return -1;
	}
	h->fg = fg;
	h->node = node;
	h->solo = solo;
	h->legacy_headers = cfg->http.legacy_headers;
	fgd_hc_init(&h->hc, cfg->http.timeout_ms, cfg->http.connections,
	            cfg->http.per_address);
	if (cfg->http.addr.ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	h->mhd = MHD_start_daemon(
	    flags, 0, fgd_hc_accept, &h->hc, handle, h, MHD_OPTION_SOCK_ADDR,
	    (const struct sockaddr *)&cfg->http.addr.ss,
	    MHD_OPTION_CONNECTION_LIMIT,
	    FGD_HC_MHD_LIMIT(cfg->http.connections),
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)((cfg->http.timeout_ms + 999) / 1000),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FGD_HTTP_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, fgd_hc_notify, &h->hc,
	    MHD_OPTION_NOTIFY_COMPLETED, fgd_hc_completed, &h->hc,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
	if (h->mhd == NULL) {
		snprintf(err, errlen, "http: cannot listen%s%s",
		         errno ? ": " : "", errno ? strerror(errno) : "");
		free(h);
		return -1;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		snprintf(err, errlen, "http: no epoll descriptor");
		fgd_http_stop(h);
		return -1;
	}
	h->epfd = info->epoll_fd;
	*out = h;
	return 0;
}

unsigned fgd_http_pollfd(struct fgd_http *h, struct pollfd *pfd,
                         int *timeout_ms)
{
	MHD_UNSIGNED_LONG_LONG t;
	uint64_t next;

	if (h == NULL)
		return 0;
	next = fgd_hc_next(&h->hc, mono_ms());
	pfd->fd = h->epfd;
	pfd->events = POLLIN;
	pfd->revents = 0;
	if (MHD_get_timeout(h->mhd, &t) != MHD_YES)
		t = ULLONG_MAX;
	if (next < t) /* a request's deadline comes first */
		t = next;
	if (t != ULLONG_MAX &&
	    (*timeout_ms < 0 || t < (MHD_UNSIGNED_LONG_LONG)*timeout_ms))
		*timeout_ms = t > INT_MAX ? INT_MAX : (int)t;
	return 1;
}

void fgd_http_service(struct fgd_http *h)
{
	if (h == NULL)
		return;
	/* first the deadlines, so that this run already closes what they
	 * shut down; MHD_run also closes what its own timer ended, so it
	 * runs at every wake-up, not only when the descriptor is ready */
	fgd_hc_expire(&h->hc, mono_ms());
	(void)MHD_run(h->mhd);
}

void fgd_http_attach(struct fgd_http *h, struct fgd_node *node,
                     const struct fgd_strict *strict)
{
	if (h == NULL)
		return;
	h->node = node;
	h->strict = strict;
}

void fgd_http_stop(struct fgd_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd); /* notifies every close: the list empties */
	free(h);
}
