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
	const char *rule; /* NULL: unset (inherit); "" : FloodgateRule off */
	enum fg_key_kind key;
	const char *key_name; /* header or variable name */
	uint32_t cost;        /* 0: unset (1) */
} fg_dir_conf;

/* Per process.  The parent sets fg in post_config; children inherit it. */
static fg_client *fg;
static apr_thread_mutex_t *fg_mutex; /* threaded MPMs only */
static apr_time_t fg_next_retry;     /* children without a handle */
static apr_time_t fg_next_warning;
static int fg_off; /* a threaded child without its mutex: never check */

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
	(void)s;
	return apr_pcalloc(p, sizeof(fg_server_conf));
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
	(void)dir;
	return apr_pcalloc(p, sizeof(fg_dir_conf));
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
	const fg_dir_conf *base = basev, *add = addv;
	fg_dir_conf *c = apr_palloc(p, sizeof(*c));

	c->rule = add->rule ? add->rule : base->rule;
	c->key = add->key != KEY_UNSET ? add->key : base->key;
	c->key_name = add->key != KEY_UNSET ? add->key_name : base->key_name;
	c->cost = add->cost ? add->cost : base->cost;
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

static const char *set_rule(cmd_parms *cmd, void *dcv, const char *arg)
{
	fg_dir_conf *dc = dcv;
	size_t n = strlen(arg);

	(void)cmd;
	if (!strcasecmp(arg, "off")) {
		dc->rule = "";
		return NULL;
	}
	if (n == 0 || n > FG_RULE_NAME_MAX ||
	    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                "0123456789_.:/-") != n)
		return "FloodgateRule: a rule name is 1-31 of "
		       "[A-Za-z0-9_.:/-], "
		       "or off";
	dc->rule = arg;
	return NULL;
}

static const char *set_key(cmd_parms *cmd, void *dcv, const char *kind,
                           const char *name)
{
	fg_dir_conf *dc = dcv;

	(void)cmd;
	if (!strcasecmp(kind, "addr") || !strcasecmp(kind, "address")) {
		dc->key = KEY_ADDR;
	} else if (!strcasecmp(kind, "user")) {
		dc->key = KEY_USER;
	} else if (!strcasecmp(kind, "header")) {
		dc->key = KEY_HEADER;
	} else if (!strcasecmp(kind, "env")) {
		dc->key = KEY_ENV;
	} else {
		return "FloodgateKey: addr | user | header NAME | env NAME";
	}
	if ((dc->key == KEY_HEADER || dc->key == KEY_ENV) != (name != NULL))
		return "FloodgateKey: header and env take a name; addr and "
		       "user "
		       "do not";
	dc->key_name = name;
	return NULL;
}

static const char *set_cost(cmd_parms *cmd, void *dcv, const char *arg)
{
	fg_dir_conf *dc = dcv;
	char *end;
	apr_int64_t v = apr_strtoi64(arg, &end, 10);

	(void)cmd;
	if (*arg == '\0' || *end != '\0' || v < 1 || v > UINT32_MAX)
		return "FloodgateCost: a whole number of tokens, 1 to "
		       "4294967295";
	dc->cost = (uint32_t)v;
	return NULL;
}

static const command_rec floodgate_cmds[] = {
    AP_INIT_TAKE1("FloodgateSegment", set_segment, NULL, RSRC_CONF,
                  "segment name or absolute path (default: "
                  "$FLOODGATE_SEGMENT, else floodgate)"),
    AP_INIT_TAKE1("FloodgateRule", set_rule, NULL, RSRC_CONF | ACCESS_CONF,
                  "rule that limits this location, or off"),
    AP_INIT_TAKE12("FloodgateKey", set_key, NULL, RSRC_CONF | ACCESS_CONF,
                   "addr | user | header NAME | env NAME (default addr)"),
    AP_INIT_TAKE1("FloodgateCost", set_cost, NULL, RSRC_CONF | ACCESS_CONF,
                  "tokens each request takes (default 1)"),
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

/* The request's key; keys longer than FG_KEY_MAX become their SHA-1 in
 * hex, so a long header can neither be refused nor escape its bucket. */
static const char *request_key(request_rec *r, const fg_dir_conf *dc)
{
	const char *k = NULL;
	unsigned char digest[APR_SHA1_DIGESTSIZE];
	apr_sha1_ctx_t sha;

	switch (dc->key) {
	case KEY_HEADER:
		k = apr_table_get(r->headers_in, dc->key_name);
		break;
	case KEY_ENV:
		k = apr_table_get(r->subprocess_env, dc->key_name);
		break;
	case KEY_USER:
		k = r->user;
		break;
	case KEY_UNSET:
	case KEY_ADDR:
		break;
	}
	/* No header, variable or user: the client's address, so leaving the
	 * key out is no way around the limit. */
	if (k == NULL || *k == '\0')
		k = r->useragent_ip;
	if (k == NULL || *k == '\0')
		return NULL;
	if (strlen(k) <= FG_KEY_MAX)
		return k;
	apr_sha1_init(&sha);
	apr_sha1_update(&sha, k, (unsigned int)strlen(k));
	apr_sha1_final(digest, &sha);
	return apr_pescape_hex(r->pool, digest, sizeof(digest), 0);
}

static apr_uint64_t ceil_sec(uint64_t ms)
{
	return (ms + 999) / 1000;
}

/* The decision's RateLimit-Policy and RateLimit, as libfloodgate writes
 * them; *@ok 0 when the rule was withdrawn since (then none). */
struct fg_hdrs {
	char policy[FG_RATELIMIT_MAX], ratelimit[FG_RATELIMIT_MAX];
	int ok;
};

static int fixups(request_rec *r)
{
	const fg_dir_conf *dc =
	    ap_get_module_config(r->per_dir_config, &floodgate_module);
	struct fg_hdrs h = {.ok = 0};
	fg_decision d;
	fg_client *c;
	const char *key;
	apr_time_t now;
	int allowed;

	/* once per client request: not for subrequests nor redirects */
	if (!dc->rule || !*dc->rule || r->main || r->prev || fg_off)
		return DECLINED;
	key = request_key(r, dc);
	if (!key)
		return DECLINED;
	if (fg_mutex && apr_thread_mutex_lock(fg_mutex) != APR_SUCCESS)
		return DECLINED;
	c = client_for(r);
	allowed = c ? fg_allow(c, dc->rule, key, dc->cost ? dc->cost : 1, &d)
	            : FG_ENOSEG;
	if (allowed >= 0)
		h.ok =
		    fg_ratelimit_headers(c, &d, h.policy, sizeof h.policy,
		                         h.ratelimit, sizeof h.ratelimit) == 0;
	if (fg_mutex)
		apr_thread_mutex_unlock(fg_mutex);
	if (!c)
		return DECLINED;
	if (allowed < 0) {
		now = apr_time_now();
		if (now >= fg_next_warning) {
			fg_next_warning = now + apr_time_from_sec(FG_WARN_SEC);
			ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
			              "floodgate: rule %s: %s; request not "
			              "limited",
			              dc->rule, fg_strerror(allowed));
		}
		return DECLINED;
	}
	/* err_headers_out: kept on error responses and internal redirects */
	if (h.ok) {
		apr_table_set(r->err_headers_out, "RateLimit-Policy", h.policy);
		apr_table_set(r->err_headers_out, "RateLimit", h.ratelimit);
	}
	if (allowed)
		return DECLINED;
	apr_table_setn(r->err_headers_out, "Retry-After",
	               apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
	                            ceil_sec(d.retry_after_ms) > 0
	                                ? ceil_sec(d.retry_after_ms)
	                                : 1));
	return HTTP_TOO_MANY_REQUESTS;
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
