/* SPDX-License-Identifier: ISC */
/*
 * mod_floodgate.c - rate limiting for Apache httpd with libfloodgate.
 *
 * Each request to a location with a FloodgateRule takes FloodgateCost
 * tokens from the bucket of (rule, key) in the shared-memory segment that
 * floodgated owns.  Denied requests end with 429 and Retry-After; denied and
 * allowed ones carry RateLimit-Policy and RateLimit (the httpapi draft's,
 * as libfloodgate's fg_ratelimit_headers() writes them).  The check runs in the
 * fixups phase, after authentication (so FloodgateKey user sees r->user), once
 * per client request: subrequests and internal redirects are not charged again.
 *
 * Where to attach.  The parent attaches in post_config, before it forks
 * the children, and every child uses its inherited copy of the handle.
 * libfloodgate(3) documents this as the intended use: a child's copy of the
 * handle is its own and the mapping is shared, so no child ever opens the
 * segment.  Three things follow.  The segment is validated (magic, version,
 * checksum) once per generation instead of once per child; a child forked
 * in a load spike checks its first request without a system call.  The
 * parent still runs as root then, so the segment can stay 0660 for
 * floodgated's group and need not be opened by www-data at all.  And a
 * missing segment is reported once, by the parent, in the error log.  A
 * graceful restart runs post_config again: the old handle is closed with
 * the configuration pool and a new one opened, so a segment the daemon
 * recreated is picked up by the new generation while the old children
 * finish on their own copy.
 *
 * Failing open.  When the segment cannot be attached, or a rule does not
 * exist, requests are served unlimited and without headers: a limiter must
 * never take the site down.  The parent logs a warning at startup; a child
 * that has no handle retries fg_open() at most every FG_RETRY_SEC (its own
 * permissions permitting) and logs when it succeeds; failed checks are
 * logged at most once a minute per child.
 *
 * Threads.  A handle is used by one thread at a time (floodgate.h): under
 * a threaded MPM each child serialises its checks with a mutex; under
 * prefork, the MPM this module is made for, there is none.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apr_escape.h"
#include "apr_sha1.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "ap_config.h"
#include "ap_mpm.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "httpd.h"

#include <floodgate.h>

#define FG_RETRY_SEC 10
#define FG_WARN_SEC  60

module AP_MODULE_DECLARE_DATA floodgate_module;

enum fg_key_kind { KEY_UNSET = 0, KEY_ADDR, KEY_HEADER, KEY_ENV, KEY_USER };

typedef struct {
	const char *segment; /* NULL: $FLOODGATE_SEGMENT, else "floodgate" */
} fg_server_conf;

typedef struct {
	enum fg_key_kind kind; /* KEY_UNSET: the location's FloodgateKey */
	const char *name;      /* header or variable name */
} fg_keyspec;

typedef struct {
	const char *name;
	fg_keyspec key;
	uint32_t cost; /* 0: the location's FloodgateCost */
	int index;     /* the rule's index once seen, else -1 (per child) */
} fg_rule_conf;

typedef struct {
	apr_array_header_t *rules; /* fg_rule_conf; NULL: inherit; empty: off */
	fg_keyspec key;
	uint32_t cost;             /* 0: unset (1) */
	apr_interval_time_t delay; /* -1: unset; 0: off */
	const char *conc;          /* NULL: inherit; "": off */
	fg_keyspec conc_key;
} fg_dir_conf;

/* Per process.  The parent sets fg in post_config; children inherit it. */
static fg_client *fg;
static apr_thread_mutex_t *fg_mutex; /* threaded MPMs only */
static apr_time_t fg_next_retry;     /* children without a handle */
static apr_time_t fg_next_warning;
static apr_time_t fg_next_delay_warning; /* its own: hides no other */
static int fg_off; /* a threaded child without its mutex: never check */

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
	(void)s;
	return apr_pcalloc(p, sizeof(fg_server_conf));
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
	fg_dir_conf *c = apr_pcalloc(p, sizeof(fg_dir_conf));

	(void)dir;
	c->delay = -1;
	return c;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
	const fg_dir_conf *base = basev, *add = addv;
	fg_dir_conf *c = apr_palloc(p, sizeof(*c));

	c->rules = add->rules ? add->rules : base->rules;
	c->key = add->key.kind != KEY_UNSET ? add->key : base->key;
	c->cost = add->cost ? add->cost : base->cost;
	c->delay = add->delay >= 0 ? add->delay : base->delay;
	c->conc = add->conc ? add->conc : base->conc;
	c->conc_key = add->conc ? add->conc_key : base->conc_key;
	return c;
}

/* ------------------------------------------------------------ directives */

static const char *set_segment(cmd_parms *cmd, void *dummy, const char *arg)
{
	fg_server_conf *sc =
	    ap_get_module_config(cmd->server->module_config, &floodgate_module);
	const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

	(void)dummy;
	if (err)
		return err;
	sc->segment = arg;
	return NULL;
}

static const char *check_name(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n > FG_RULE_NAME_MAX ||
	    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                "0123456789_.:/-") != n)
		return "a rule name is 1-31 of [A-Za-z0-9_.:/-]";
	return NULL;
}

/* addr | user | header NAME | env NAME, the name given apart (@name) or
 * after a colon in @kind (header:NAME); NULL, or why not. */
static const char *parse_key(const char *kind, const char *name, fg_keyspec *k)
{
	const char *colon = strchr(kind, ':');
	size_t n = colon ? (size_t)(colon - kind) : strlen(kind);

	if (colon != NULL && name != NULL)
		return "a key's name is given once";
	if (colon != NULL)
		name = *(colon + 1) ? colon + 1 : NULL;
	if ((n == 4 && !strncasecmp(kind, "addr", n)) ||
	    (n == 7 && !strncasecmp(kind, "address", n)))
		k->kind = KEY_ADDR;
	else if (n == 4 && !strncasecmp(kind, "user", n))
		k->kind = KEY_USER;
	else if (n == 6 && !strncasecmp(kind, "header", n))
		k->kind = KEY_HEADER;
	else if (n == 3 && !strncasecmp(kind, "env", n))
		k->kind = KEY_ENV;
	else
		return "a key is addr | user | header NAME | env NAME";
	if ((k->kind == KEY_HEADER || k->kind == KEY_ENV) != (name != NULL))
		return "header and env take a name; addr and user do not";
	k->name = name;
	return NULL;
}

static const char *parse_cost(const char *arg, uint32_t *cost)
{
	char *end;
	apr_int64_t v = apr_strtoi64(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < 1 || v > UINT32_MAX)
		return "a cost is a whole number of tokens, 1 to 4294967295";
	*cost = (uint32_t)v;
	return NULL;
}

/* FloodgateRule NAME [key=SPEC] [cost=N] (once per rule), or off. */
static const char *set_rule(cmd_parms *cmd, void *dcv, int argc,
                            char *const argv[])
{
	fg_dir_conf *dc = dcv;
	fg_rule_conf *rc;
	const char *err;
	int i;

	if (argc == 0)
		return "FloodgateRule: a rule name, or off";
	if (!strcasecmp(argv[0], "off")) {
		if (argc > 1 || (dc->rules && dc->rules->nelts > 0))
			return "FloodgateRule off: alone, and not with rules";
		dc->rules = apr_array_make(cmd->pool, 1, sizeof(*rc));
		return NULL;
	}
	if (dc->rules == NULL)
		dc->rules = apr_array_make(cmd->pool, 2, sizeof(*rc));
	else if (dc->rules->nelts == 0)
		return "FloodgateRule: off does not mix with rules";
	if (dc->rules->nelts == FG_TRIPLES_MAX)
		return "FloodgateRule: at most 8 rules in one location";
	rc = apr_array_push(dc->rules);
	memset(rc, 0, sizeof(*rc));
	rc->name = argv[0];
	rc->index = -1;
	err = check_name(argv[0]);
	for (i = 1; err == NULL && i < argc; i++) {
		if (!strncasecmp(argv[i], "key=", 4))
			err = parse_key(argv[i] + 4, NULL, &rc->key);
		else if (!strncasecmp(argv[i], "cost=", 5))
			err = parse_cost(argv[i] + 5, &rc->cost);
		else
			err = "unknown parameter (key=SPEC, cost=N)";
	}
	return err ? apr_pstrcat(cmd->pool, "FloodgateRule: ", err, NULL)
	           : NULL;
}

static const char *set_key(cmd_parms *cmd, void *dcv, const char *kind,
                           const char *name)
{
	fg_dir_conf *dc = dcv;
	const char *err = parse_key(kind, name, &dc->key);

	return err ? apr_pstrcat(cmd->pool, "FloodgateKey: ", err, NULL) : NULL;
}

static const char *set_delay(cmd_parms *cmd, void *dcv, const char *arg)
{
	fg_dir_conf *dc = dcv;
	apr_interval_time_t t;

	(void)cmd;
	if (!strcasecmp(arg, "off")) {
		dc->delay = 0;
		return NULL;
	}
	if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS || t < 0 ||
	    t > apr_time_from_sec(60))
		return "FloodgateDelay: a duration up to 60s (500ms, 2s), "
		       "or off";
	dc->delay = t;
	return NULL;
}

/* FloodgateConcurrency RULE [KEY], or off. */
static const char *set_conc(cmd_parms *cmd, void *dcv, const char *rule,
                            const char *key)
{
	fg_dir_conf *dc = dcv;
	const char *err = NULL;

	if (!strcasecmp(rule, "off")) {
		dc->conc = "";
		return key ? "FloodgateConcurrency off: alone" : NULL;
	}
	dc->conc = rule;
	dc->conc_key.kind = KEY_UNSET;
	err = check_name(rule);
	if (err == NULL && key != NULL)
		err = parse_key(key, NULL, &dc->conc_key);
	return err ? apr_pstrcat(cmd->pool, "FloodgateConcurrency: ", err, NULL)
	           : NULL;
}

static const char *set_cost(cmd_parms *cmd, void *dcv, const char *arg)
{
	fg_dir_conf *dc = dcv;
	const char *err = parse_cost(arg, &dc->cost);

	return err ? apr_pstrcat(cmd->pool, "FloodgateCost: ", err, NULL)
	           : NULL;
}

static const command_rec floodgate_cmds[] = {
    AP_INIT_TAKE1("FloodgateSegment", set_segment, NULL, RSRC_CONF,
                  "segment name or absolute path (default: "
                  "$FLOODGATE_SEGMENT, else floodgate)"),
    AP_INIT_TAKE_ARGV("FloodgateRule", set_rule, NULL, RSRC_CONF | ACCESS_CONF,
                      "NAME [key=SPEC] [cost=N]: a rule that limits this "
                      "location (up to 8, all must admit), or off"),
    AP_INIT_TAKE12("FloodgateKey", set_key, NULL, RSRC_CONF | ACCESS_CONF,
                   "addr | user | header NAME | env NAME (default addr)"),
    AP_INIT_TAKE1("FloodgateCost", set_cost, NULL, RSRC_CONF | ACCESS_CONF,
                  "tokens each request takes (default 1)"),
    AP_INIT_TAKE1("FloodgateDelay", set_delay, NULL, RSRC_CONF | ACCESS_CONF,
                  "longest wait before serving instead of a 429 (500ms, "
                  "2s), or off (default)"),
    AP_INIT_TAKE12("FloodgateConcurrency", set_conc, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "RULE [addr|user|header:NAME|env:NAME]: an in-flight "
                   "limit held until the request ends, or off"),
    {NULL}};

/* ------------------------------------------------------------ attaching */

static apr_status_t close_client(void *unused)
{
	(void)unused;
	fg_close(fg);
	fg = NULL;
	return APR_SUCCESS;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s)
{
	fg_server_conf *sc =
	    ap_get_module_config(s->module_config, &floodgate_module);
	char why[256];
	int r;

	(void)plog;
	(void)ptemp;
	/* The first of the two configuration passes only checks syntax. */
	if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
		return OK;
	/* Closed with the configuration, at a restart or at exit; a child
	 * about to exec() needs nothing: the descriptor is close-on-exec. */
	r = fg_open(sc->segment, 0, &fg);
	if (r < 0) {
		fg_diagnose(sc->segment, why, sizeof(why));
		ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
		             "floodgate: cannot attach to segment %s: %s (%s); "
		             "requests are not limited",
		             sc->segment ? sc->segment : "(default)",
		             fg_strerror(r), why);
		return OK; /* fail open: serve, unlimited */
	}
	apr_pool_cleanup_register(pconf, NULL, close_client,
	                          apr_pool_cleanup_null);
	return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
	int threaded = 0;

	if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS &&
	    threaded != AP_MPMQ_NOT_SUPPORTED &&
	    apr_thread_mutex_create(&fg_mutex, APR_THREAD_MUTEX_DEFAULT,
	                            pchild) != APR_SUCCESS) {
		fg_off = 1;
		ap_log_error(
		    APLOG_MARK, APLOG_ERR, 0, s,
		    "floodgate: cannot create a mutex; requests are not "
		    "limited in this child");
	}
}

/* A child without a handle tries to attach again, at most every
 * FG_RETRY_SEC.  Returns the handle or NULL. */
static fg_client *client_for(request_rec *r)
{
	fg_server_conf *sc;
	apr_time_t now;
	int rc;

	if (fg)
		return fg;
	now = apr_time_now();
	if (now < fg_next_retry)
		return NULL;
	fg_next_retry = now + apr_time_from_sec(FG_RETRY_SEC);
	sc = ap_get_module_config(r->server->module_config, &floodgate_module);
	rc = fg_open(sc->segment, 0, &fg);
	if (rc < 0) {
		ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
		              "floodgate: still cannot attach: %s",
		              fg_strerror(rc));
		return NULL;
	}
	ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
	              "floodgate: attached to the segment; limiting");
	return fg;
}

/* ------------------------------------------------------------ checking */

/* The request's key under @k (KEY_UNSET: the location's FloodgateKey);
 * keys longer than FG_KEY_MAX become their SHA-1 in hex, so a long header
 * can neither be refused nor escape its bucket. */
static const char *request_key(request_rec *r, const fg_dir_conf *dc,
                               const fg_keyspec *k)
{
	const char *v = NULL;
	unsigned char digest[APR_SHA1_DIGESTSIZE];
	apr_sha1_ctx_t sha;

	if (k->kind == KEY_UNSET)
		k = &dc->key;
	switch (k->kind) {
	case KEY_HEADER:
		v = apr_table_get(r->headers_in, k->name);
		break;
	case KEY_ENV:
		v = apr_table_get(r->subprocess_env, k->name);
		break;
	case KEY_USER:
		v = r->user;
		break;
	case KEY_UNSET:
	case KEY_ADDR:
		break;
	}
	/* No header, variable or user: the client's address, so leaving the
	 * key out is no way around the limit. */
	if (v == NULL || *v == '\0')
		v = r->useragent_ip;
	if (v == NULL || *v == '\0')
		return NULL;
	if (strlen(v) <= FG_KEY_MAX)
		return v;
	apr_sha1_init(&sha);
	apr_sha1_update(&sha, v, (unsigned int)strlen(v));
	apr_sha1_final(digest, &sha);
	return apr_pescape_hex(r->pool, digest, sizeof(digest), 0);
}

static apr_uint64_t ceil_sec(uint64_t ms)
{
	return (ms + 999) / 1000;
}

static void warn(request_rec *r, const char *what, const char *rule, int err,
                 apr_time_t *next)
{
	apr_time_t now = apr_time_now();

	if (now < *next)
		return;
	*next = now + apr_time_from_sec(FG_WARN_SEC);
	ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
	              "floodgate: rule %s: %s%s%s", rule,
	              err ? fg_strerror(err) : "", err ? "; " : "", what);
}

/* One request's check: what it asks and what it was told.  The fields
 * after the mutex are filled under it (a handle is one thread's at a
 * time). */
struct check {
	request_rec *r;
	const fg_dir_conf *dc;
	fg_triple t[FG_TRIPLES_MAX];
	unsigned n;
	const char *conc_key;
	fg_client *c;
	fg_lease *lease; /* held until the request's pool goes */
	int conc;        /* fg_acquire(): 1 (or no limit), 0, or an error */
	int held;        /* a lease is held */
	int allowed;     /* the rate rules: 1, 0, or an error */
	unsigned which;  /* the rule of an error */
	uint64_t delay_ns;
	fg_decision d;
	char policy[FG_RATELIMIT_MAX], ratelimit[FG_RATELIMIT_MAX];
	int headers; /* policy and ratelimit are set */
};

/* The request pool's cleanup: the lease goes back when the request ends,
 * whatever ended it (the client gone included). */
static apr_status_t release_lease(void *lease)
{
	if (fg_mutex && apr_thread_mutex_lock(fg_mutex) != APR_SUCCESS)
		return APR_SUCCESS; /* the lease ends by itself */
	if (fg)
		(void)fg_release(fg, lease);
	if (fg_mutex)
		apr_thread_mutex_unlock(fg_mutex);
	return APR_SUCCESS;
}

/* The index of @rc's rule, found once per child (a name keeps its index
 * for the segment's life), or -1. */
static int rule_index(fg_client *c, fg_rule_conf *rc, fg_rule_info *ri)
{
	uint32_t i;

	if (rc->index >= 0 && fg_rule_get(c, (uint32_t)rc->index, ri) == 0 &&
	    !strcmp(ri->name, rc->name))
		return rc->index;
	for (i = 0; i < FG_RULES_MAX; i++)
		if (fg_rule_get(c, i, ri) == 0 && !strcmp(ri->name, rc->name))
			return rc->index = (int)i;
	return -1;
}

/* Whether the location's rules may delay: FloodgateDelay on, some rule
 * with a max-delay, and none's max-delay beyond FloodgateDelay (else a
 * reservation past this bound would keep its tokens). */
static int may_delay(struct check *k)
{
	fg_rule_conf *rc = (fg_rule_conf *)k->dc->rules->elts;
	fg_rule_info ri;
	unsigned i, some = 0;

	if (k->dc->delay <= 0)
		return 0;
	for (i = 0; i < k->n; i++) {
		if (rule_index(k->c, &rc[i], &ri) < 0 || ri.max_delay_ms == 0)
			continue;
		if ((apr_interval_time_t)ri.max_delay_ms * 1000 >
		    k->dc->delay) {
			warn(
			    k->r,
			    "its max-delay exceeds FloodgateDelay: not delayed",
			    rc[i].name, 0, &fg_next_delay_warning);
			return 0;
		}
		some = 1;
	}
	return some;
}

/* Under the mutex: the lease, then the rate rules, then the headers. */
static void check_locked(struct check *k)
{
	k->conc = 1;
	if (k->conc_key) {
		k->lease = apr_pcalloc(k->r->pool, sizeof(*k->lease));
		k->conc =
		    fg_acquire(k->c, k->dc->conc, k->conc_key, k->lease, NULL);
		if (k->conc == 0)
			return;
		k->held = k->conc == 1;
		if (k->held)
			apr_pool_cleanup_register(k->r->pool, k->lease,
			                          release_lease,
			                          apr_pool_cleanup_null);
	}
	k->allowed = 1;
	if (k->n == 0)
		return;
	if (may_delay(k))
		k->allowed = fg_reserve_many(k->c, k->t, k->n, &k->delay_ns,
		                             &k->d, &k->which);
	else
		k->allowed = fg_allow_many(k->c, k->t, k->n, &k->d, &k->which);
	if (k->allowed >= 0)
		k->headers = fg_ratelimit_headers(
		                 k->c, &k->d, k->policy, sizeof k->policy,
		                 k->ratelimit, sizeof k->ratelimit) == 0;
	if (k->allowed == 0 && k->held) { /* denied: the place back now */
		apr_pool_cleanup_kill(k->r->pool, k->lease, release_lease);
		(void)fg_release(k->c, k->lease); /* the mutex is held */
	}
}

/* The keys of the location's rules and lease; 0 when a key is missing. */
static int collect(struct check *k)
{
	const fg_dir_conf *dc = k->dc;
	const fg_rule_conf *rc;
	int i;

	if (dc->conc && *dc->conc &&
	    (k->conc_key = request_key(k->r, dc, &dc->conc_key)) == NULL)
		return 0;
	for (i = 0; dc->rules && i < dc->rules->nelts; i++) {
		rc = &((const fg_rule_conf *)dc->rules->elts)[i];
		k->t[i].rule = rc->name;
		k->t[i].key = request_key(k->r, dc, &rc->key);
		k->t[i].cost = rc->cost ? rc->cost : dc->cost ? dc->cost : 1;
		if (k->t[i].key == NULL)
			return 0;
	}
	k->n = (unsigned)i;
	return k->n > 0 || k->conc_key != NULL;
}

static int too_many(request_rec *r, uint64_t retry_after_ms)
{
	apr_table_setn(r->err_headers_out, "Retry-After",
	               apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
	                            ceil_sec(retry_after_ms) > 0
	                                ? ceil_sec(retry_after_ms)
	                                : 1));
	return HTTP_TOO_MANY_REQUESTS;
}

static int fixups(request_rec *r)
{
	struct check k = {.r = r};

	k.dc = ap_get_module_config(r->per_dir_config, &floodgate_module);
	/* once per client request: not for subrequests nor redirects */
	if (r->main || r->prev || fg_off || !collect(&k))
		return DECLINED;
	if (fg_mutex && apr_thread_mutex_lock(fg_mutex) != APR_SUCCESS)
		return DECLINED;
	k.c = client_for(r);
	if (k.c)
		check_locked(&k);
	if (fg_mutex)
		apr_thread_mutex_unlock(fg_mutex);
	if (!k.c)
		return DECLINED;
	if (k.conc < 0)
		warn(r, "request not limited in flight", k.dc->conc, k.conc,
		     &fg_next_warning);
	if (k.conc == 0) /* every place taken: one may end any moment */
		return too_many(r, 1000);
	if (k.allowed < 0) {
		warn(r, "request not limited",
		     k.which < k.n ? k.t[k.which].rule : k.t[0].rule, k.allowed,
		     &fg_next_warning);
		return DECLINED;
	}
	/* err_headers_out: kept on error responses and internal redirects */
	if (k.headers) {
		apr_table_set(r->err_headers_out, "RateLimit-Policy", k.policy);
		apr_table_set(r->err_headers_out, "RateLimit", k.ratelimit);
	}
	if (!k.allowed)
		return too_many(r, k.d.retry_after_ms);
	if (k.delay_ns > 0) /* within FloodgateDelay: may_delay() */
		apr_sleep((apr_interval_time_t)((k.delay_ns + 999) / 1000));
	return DECLINED;
}

static void register_hooks(apr_pool_t *p)
{
	(void)p;
	ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
	ap_hook_fixups(fixups, NULL, NULL, APR_HOOK_FIRST);
}

AP_DECLARE_MODULE(floodgate) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    NULL,
    floodgate_cmds,
    register_hooks,
#ifdef AP_MODULE_FLAG_NONE
    AP_MODULE_FLAG_NONE,
#endif
};
