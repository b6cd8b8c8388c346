/* SPDX-License-Identifier: ISC */
/*
 * ngx_http_floodgate_module.c - rate limiting for nginx with libfloodgate.
 *
 *     http {
 *         floodgate_segment floodgate;
 *         server {
 *             location /api/ {
 *                 floodgate_rule api key=$http_x_api_key cost=1;
 *                 floodgate_rule api-host key=$host;
 *             }
 *         }
 *     }
 *
 * Each request to a location with floodgate_rule directives takes `cost`
 * tokens from the bucket of (rule, key) of each rule, all or none, in the
 * segment floodgated owns: the buckets are shared with
 * every other process of the host (Apache children, PHP-FPM workers) and,
 * for global rules, across hosts.  The model is limit_req: the check runs
 * in the preaccess phase, once per client request (subrequests and
 * internal redirects are not charged again), a denied request ends with
 * floodgate_status (429) and is logged at floodgate_log_level, directives
 * are inherited from the enclosing level only when the current level has
 * none, and $floodgate_status says PASSED, REJECTED or REJECTED_DRY_RUN.
 *
 * Several rules.  Up to FG_TRIPLES_MAX enforced rules are checked as one
 * (fg_allow_many()): the request is admitted only if every rule admits
 * it, and a denial takes nothing from any of them.  A rule in shadow mode
 * (FG_RULE_SHADOW, floodgate.conf(5)) never denies: it is checked after
 * the enforced rules admitted the request (so a denied request charges
 * no dry run either), a would-be denial is logged ("dry run") and shows
 * in $floodgate_status, and the client sees nothing of it.
 *
 * Delay.  With floodgate_delay D, a request the enforced rules cannot
 * admit now is reserved under all of them (fg_reserve_many()) and waits
 * on a timer, as limit_req's delay does (the worker serves others
 * meanwhile), when each rule's wait is within its max-delay (a rule
 * without one admits now or denies) and D; it goes when the slowest rule
 * allows.  The library takes nothing beyond a rule's max-delay, and a
 * reservation cannot be taken back, so a location with a rule whose
 * max-delay exceeds D is not delayed at all, with a warning.
 *
 * Headers.  A limited response carries RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers-10, written by libfloodgate's
 * fg_ratelimit_headers()) of the rule with the fewest tokens left (of a
 * denied request: the rule that denied), and a 429 Retry-After.  They are added
 * by a header filter, so they reach proxied, FastCGI and error_page responses
 * alike.  The request's context, which an internal redirect erases, is
 * found again through the pool cleanup it is allocated in.
 *
 * Keys.  `key` is any mix of text and variables ($remote_addr by
 * default).  An empty key is the client's address (a missing header is no
 * way around a limit); a key longer than FG_KEY_MAX bytes or holding a NUL
 * byte ($binary_remote_addr) is replaced by its SHA-1 in hex.
 *
 * Where to attach.  Each worker attaches in init_process, after the fork,
 * with its own user; the master never opens the segment.  A reload starts
 * new workers, which attach again (so a segment floodgated recreated is
 * picked up).  When the segment cannot be attached or a rule does not
 * exist, requests are served unlimited, with a warning (at most once a
 * minute per worker); a worker without a handle tries again at most every
 * FG_RETRY_SEC seconds.  A limiter must not take the site down.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>

#include <floodgate.h>

#define FG_RETRY_SEC 10
#define FG_WARN_SEC  60

#define FG_STATUS_PASSED           1
#define FG_STATUS_REJECTED         2
#define FG_STATUS_REJECTED_DRY_RUN 3

typedef struct {
	ngx_str_t segment; /* floodgate_segment; unset: fg_open(NULL) */
	ngx_flag_t used;   /* some floodgate_rule exists: attach */
} ngx_http_floodgate_main_conf_t;

typedef struct {
	ngx_str_t name; /* NUL-terminated */
	ngx_http_complex_value_t key;
	uint32_t cost;
	ngx_int_t index; /* the rule's index once seen, else -1 (per worker) */
} ngx_http_floodgate_rule_t;

typedef struct {
	ngx_array_t *rules; /* NULL: inherit; empty: floodgate_rule off */
	ngx_uint_t log_level;
	ngx_uint_t status_code;
	ngx_msec_t delay; /* floodgate_delay; 0: off */
} ngx_http_floodgate_loc_conf_t;

typedef struct {
	ngx_uint_t status; /* FG_STATUS_*, 0 when no rule decided */
	fg_decision d;     /* what the headers report */
	unsigned report : 1;
	unsigned denied : 1;
	unsigned sent : 1;
} ngx_http_floodgate_ctx_t;

/* Per worker process. */
static fg_client *fg;
static time_t fg_next_retry;
static time_t fg_next_warning;
static time_t fg_next_delay_warning; /* its own: never hides the others */

static ngx_http_output_header_filter_pt ngx_http_next_header_filter;

static char *fg_rule_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t fg_add_variables(ngx_conf_t *cf);
static ngx_int_t fg_init(ngx_conf_t *cf);
static void *fg_create_main_conf(ngx_conf_t *cf);
static void *fg_create_loc_conf(ngx_conf_t *cf);
static char *fg_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t fg_init_process(ngx_cycle_t *cycle);
static void fg_exit_process(ngx_cycle_t *cycle);

static ngx_conf_enum_t fg_log_levels[] = {
    {ngx_string("info"), NGX_LOG_INFO},
    {ngx_string("notice"), NGX_LOG_NOTICE},
    {ngx_string("warn"), NGX_LOG_WARN},
    {ngx_string("error"), NGX_LOG_ERR},
    {ngx_null_string, 0}};

static ngx_conf_num_bounds_t fg_status_bounds = {ngx_conf_check_num_bounds, 400,
                                                 599};

static ngx_command_t fg_commands[] = {
    {ngx_string("floodgate_segment"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_MAIN_CONF_OFFSET,
     offsetof(ngx_http_floodgate_main_conf_t, segment), NULL},
    {ngx_string("floodgate_rule"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE123,
     fg_rule_directive, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    {ngx_string("floodgate_log_level"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_enum_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_floodgate_loc_conf_t, log_level), &fg_log_levels},
    {ngx_string("floodgate_status"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_num_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_floodgate_loc_conf_t, status_code), &fg_status_bounds},
    {ngx_string("floodgate_delay"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_msec_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_floodgate_loc_conf_t, delay), NULL},
    ngx_null_command};

static ngx_http_module_t fg_module_ctx = {
    fg_add_variables,    /* preconfiguration */
    fg_init,             /* postconfiguration */
    fg_create_main_conf, /* create main configuration */
    NULL,                /* init main configuration */
    NULL,                /* create server configuration */
    NULL,                /* merge server configuration */
    fg_create_loc_conf,  /* create location configuration */
    fg_merge_loc_conf    /* merge location configuration */
};

ngx_module_t ngx_http_floodgate_module = {
    NGX_MODULE_V1,   &fg_module_ctx, fg_commands,
    NGX_HTTP_MODULE, NULL,           NULL,
    fg_init_process, NULL,           NULL,
    fg_exit_process, NULL,           NGX_MODULE_V1_PADDING};

static ngx_str_t fg_status_names[] = {ngx_string("PASSED"),
                                      ngx_string("REJECTED"),
                                      ngx_string("REJECTED_DRY_RUN")};

/* ------------------------------------------------------------ directives */

static ngx_int_t fg_rule_name_ok(const ngx_str_t *s)
{
	size_t i;

	if (s->len == 0 || s->len > FG_RULE_NAME_MAX)
		return 0;
	for (i = 0; i < s->len; i++) {
		u_char ch = s->data[i];

		if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
			continue;
		if ((ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		    ch == ':' || ch == '/' || ch == '-')
			continue;
		return 0;
	}
	return 1;
}

/* key=... and cost=N of one floodgate_rule into @rule. */
static char *fg_rule_params(ngx_conf_t *cf, ngx_http_floodgate_rule_t *rule)
{
	ngx_str_t *value = cf->args->elts, key = ngx_string("$remote_addr");
	ngx_http_compile_complex_value_t ccv;
	ngx_uint_t i;
	ngx_int_t n;

	rule->cost = 1;
	for (i = 2; i < cf->args->nelts; i++) {
		if (ngx_strncmp(value[i].data, "key=", 4) == 0 &&
		    value[i].len > 4) {
			key.data = value[i].data + 4;
			key.len = value[i].len - 4;
			continue;
		}
		if (ngx_strncmp(value[i].data, "cost=", 5) == 0) {
			n = ngx_atoi(value[i].data + 5, value[i].len - 5);
			if (n < 1 || (uint64_t)n > UINT32_MAX) {
				ngx_conf_log_error(
				    NGX_LOG_EMERG, cf, 0,
				    "invalid cost \"%V\": a whole "
				    "number of tokens, 1 to "
				    "4294967295",
				    &value[i]);
				return NGX_CONF_ERROR;
			}
			rule->cost = (uint32_t)n;
			continue;
		}
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		                   "invalid parameter \"%V\" (key=TEXT, "
		                   "cost=N)",
		                   &value[i]);
		return NGX_CONF_ERROR;
	}
	ngx_memzero(&ccv, sizeof(ccv));
	ccv.cf = cf;
	ccv.value = &key;
	ccv.complex_value = &rule->key;
	if (ngx_http_compile_complex_value(&ccv) != NGX_OK)
		return NGX_CONF_ERROR;
	return NGX_CONF_OK;
}

/* floodgate_rule NAME [key=TEXT] [cost=N] | off */
static char *fg_rule_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_floodgate_loc_conf_t *lcf = conf;
	ngx_http_floodgate_main_conf_t *mcf;
	ngx_http_floodgate_rule_t *rule, *rules;
	ngx_str_t *value = cf->args->elts;
	ngx_uint_t i;
	int off = ngx_strcmp(value[1].data, "off") == 0;

	(void)cmd;
	if (lcf->rules == NULL) {
		lcf->rules = ngx_array_create(cf->pool, 2, sizeof(*rule));
		if (lcf->rules == NULL)
			return NGX_CONF_ERROR;
		if (off)
			return cf->args->nelts == 2 ? NGX_CONF_OK
			                            : "off takes no parameters";
	} else if (off || lcf->rules->nelts == 0) {
		return "\"off\" cannot be mixed with rules at one level";
	}
	if (!fg_rule_name_ok(&value[1]))
		return "needs a rule name of 1-31 of [A-Za-z0-9_.:/-], or off";
	rules = lcf->rules->elts;
	for (i = 0; i < lcf->rules->nelts; i++) {
		if (rules[i].name.len == value[1].len &&
		    ngx_strncmp(rules[i].name.data, value[1].data,
		                value[1].len) == 0)
			return "is duplicate";
	}
	if (lcf->rules->nelts == FG_TRIPLES_MAX)
		return "is one too many: at most 8 rules at one level";
	rule = ngx_array_push(lcf->rules);
	if (rule == NULL)
		return NGX_CONF_ERROR;
	ngx_memzero(rule, sizeof(*rule));
	rule->name = value[1]; /* nginx's arguments are NUL-terminated */
	rule->index = -1;
	mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_floodgate_module);
	mcf->used = 1;
	return fg_rule_params(cf, rule);
}

static void *fg_create_main_conf(ngx_conf_t *cf)
{
	/* segment = {0, NULL}: fg_open(NULL); used = 0 */
	return ngx_pcalloc(cf->pool, sizeof(ngx_http_floodgate_main_conf_t));
}

static void *fg_create_loc_conf(ngx_conf_t *cf)
{
	ngx_http_floodgate_loc_conf_t *conf;

	conf = ngx_pcalloc(cf->pool, sizeof(*conf));
	if (conf == NULL)
		return NULL;
	conf->log_level = NGX_CONF_UNSET_UINT;
	conf->status_code = NGX_CONF_UNSET_UINT;
	conf->delay = NGX_CONF_UNSET_MSEC;
	return conf;
}

static char *fg_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
	ngx_http_floodgate_loc_conf_t *prev = parent, *conf = child;

	if (conf->rules == NULL)
		conf->rules = prev->rules;
	ngx_conf_merge_uint_value(conf->log_level, prev->log_level,
	                          NGX_LOG_ERR);
	ngx_conf_merge_uint_value(conf->status_code, prev->status_code,
	                          NGX_HTTP_TOO_MANY_REQUESTS);
	ngx_conf_merge_msec_value(conf->delay, prev->delay, 0);
	if (conf->delay > 60000) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		                   "floodgate_delay: at most 60s");
		return NGX_CONF_ERROR;
	}
	return NGX_CONF_OK;
}

/* ------------------------------------------------------------ attaching */

static const char *fg_segment_name(ngx_cycle_t *cycle, ngx_str_t *printable)
{
	ngx_http_floodgate_main_conf_t *mcf;

	mcf = ngx_http_cycle_get_module_main_conf(cycle,
	                                          ngx_http_floodgate_module);
	if (mcf == NULL || mcf->segment.data == NULL) {
		ngx_str_set(printable, "(default)");
		return NULL;
	}
	*printable = mcf->segment;
	return (const char *)mcf->segment.data;
}

static ngx_int_t fg_init_process(ngx_cycle_t *cycle)
{
	ngx_http_floodgate_main_conf_t *mcf;
	const char *seg;
	ngx_str_t shown;
	char why[256];
	int r;

	mcf = ngx_http_cycle_get_module_main_conf(cycle,
	                                          ngx_http_floodgate_module);
	if (mcf == NULL || !mcf->used)
		return NGX_OK; /* no http block, or no rule: never attach */
	seg = fg_segment_name(cycle, &shown);
	r = fg_open(seg, 0, &fg);
	if (r < 0) {
		fg = NULL;
		fg_diagnose(seg, why, sizeof(why));
		ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
		              "floodgate: cannot attach to segment \"%V\": %s "
		              "(%s); requests are not limited",
		              &shown, fg_strerror(r), why);
		fg_next_retry = ngx_time() + FG_RETRY_SEC;
	}
	return NGX_OK; /* fail open: serve, unlimited */
}

static void fg_exit_process(ngx_cycle_t *cycle)
{
	(void)cycle;
	fg_close(fg);
	fg = NULL;
}

/* The worker's handle; a worker without one tries again, at most every
 * FG_RETRY_SEC.  NULL: requests are not limited. */
static fg_client *fg_client_for(ngx_http_request_t *r)
{
	const char *seg;
	ngx_str_t shown;
	int rc;

	if (fg != NULL || ngx_time() < fg_next_retry)
		return fg;
	fg_next_retry = ngx_time() + FG_RETRY_SEC;
	seg = fg_segment_name((ngx_cycle_t *)ngx_cycle, &shown);
	rc = fg_open(seg, 0, &fg);
	if (rc < 0) {
		fg = NULL;
		ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
		               "floodgate: still cannot attach: %s",
		               fg_strerror(rc));
		return NULL;
	}
	ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
	              "floodgate: attached to segment \"%V\"; limiting",
	              &shown);
	return fg;
}

/* ------------------------------------------------------------ context */

static void fg_ctx_cleanup(void *data)
{
	(void)data; /* only a marker: the context lives in the pool */
}

/* The context of the client request r belongs to, also after an internal
 * redirect erased r->ctx: it is the data of a cleanup of the pool. */
static ngx_http_floodgate_ctx_t *fg_ctx_get(ngx_http_request_t *r)
{
	ngx_http_floodgate_ctx_t *ctx;
	ngx_pool_cleanup_t *cln;

	r = r->main;
	ctx = ngx_http_get_module_ctx(r, ngx_http_floodgate_module);
	if (ctx != NULL)
		return ctx;
	for (cln = r->pool->cleanup; cln != NULL; cln = cln->next) {
		if (cln->handler == fg_ctx_cleanup) {
			ctx = cln->data;
			ngx_http_set_ctx(r, ctx, ngx_http_floodgate_module);
			return ctx;
		}
	}
	return NULL;
}

static ngx_http_floodgate_ctx_t *fg_ctx_new(ngx_http_request_t *r)
{
	ngx_pool_cleanup_t *cln;

	cln = ngx_pool_cleanup_add(r->main->pool,
	                           sizeof(ngx_http_floodgate_ctx_t));
	if (cln == NULL)
		return NULL;
	ngx_memzero(cln->data, sizeof(ngx_http_floodgate_ctx_t));
	cln->handler = fg_ctx_cleanup;
	ngx_http_set_ctx(r->main, cln->data, ngx_http_floodgate_module);
	return cln->data;
}

/* ------------------------------------------------------------ checking */

/* The rule's key for this request, NUL-terminated in buf. */
static ngx_int_t fg_key(ngx_http_request_t *r, ngx_http_floodgate_rule_t *rule,
                        u_char buf[FG_KEY_MAX + 1])
{
	ngx_str_t v;
	ngx_sha1_t sha;
	u_char digest[20];

	if (ngx_http_complex_value(r, &rule->key, &v) != NGX_OK)
		return NGX_ERROR;
	if (v.len == 0)
		v = r->connection->addr_text;
	if (v.len <= FG_KEY_MAX &&
	    ngx_strlchr(v.data, v.data + v.len, '\0') == NULL) {
		ngx_memcpy(buf, v.data, v.len);
		buf[v.len] = '\0';
		return NGX_OK;
	}
	ngx_sha1_init(&sha);
	ngx_sha1_update(&sha, v.data, v.len);
	ngx_sha1_final(digest, &sha);
	*ngx_hex_dump(buf, digest, sizeof(digest)) = '\0';
	return NGX_OK;
}

static void fg_warn(ngx_http_request_t *r, ngx_http_floodgate_rule_t *rule,
                    const char *what, time_t *next)
{
	if (ngx_time() < *next)
		return;
	*next = ngx_time() + FG_WARN_SEC;
	ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
	              "floodgate: rule \"%V\": %s", &rule->name, what);
}

/* @rule as it is in force, its index found once per worker (a name keeps
 * its index for the segment's life); 0, or FG_ENORULE. */
static int fg_rule_lookup(fg_client *c, ngx_http_floodgate_rule_t *rule,
                          fg_rule_info *ri)
{
	uint32_t i;

	if (rule->index >= 0 &&
	    fg_rule_get(c, (uint32_t)rule->index, ri) == 0 &&
	    ngx_strcmp(ri->name, rule->name.data) == 0)
		return 0;
	for (i = 0; i < FG_RULES_MAX; i++) {
		if (fg_rule_get(c, i, ri) == 0 &&
		    ngx_strcmp(ri->name, rule->name.data) == 0) {
			rule->index = (ngx_int_t)i;
			return 0;
		}
	}
	return FG_ENORULE;
}

/* One request's rules: the enforced ones as triples, the shadow ones
 * apart; a rule not in force is left out, with a warning. */
typedef struct {
	fg_triple t[FG_TRIPLES_MAX];
	ngx_http_floodgate_rule_t *rule[FG_TRIPLES_MAX];
	ngx_uint_t n;
	fg_triple shadow[FG_TRIPLES_MAX];
	ngx_http_floodgate_rule_t *shadow_rule[FG_TRIPLES_MAX];
	ngx_uint_t nshadow;
	uint32_t max_delay_ms[FG_TRIPLES_MAX]; /* of the enforced rules */
	u_char keys[FG_TRIPLES_MAX][FG_KEY_MAX + 1];
} fg_request_rules;

static ngx_int_t fg_collect(ngx_http_request_t *r, fg_client *c,
                            ngx_http_floodgate_loc_conf_t *lcf,
                            fg_request_rules *q)
{
	ngx_http_floodgate_rule_t *rules = lcf->rules->elts;
	ngx_uint_t i, k;
	fg_rule_info ri;
	fg_triple *t;

	for (i = 0; i < lcf->rules->nelts && i < FG_TRIPLES_MAX; i++) {
		if (fg_rule_lookup(c, &rules[i], &ri) != 0) {
			fg_warn(r, &rules[i],
			        "no such rule; request not limited by it",
			        &fg_next_warning);
			continue;
		}
		k = q->n + q->nshadow;
		if (fg_key(r, &rules[i], q->keys[k]) != NGX_OK)
			return NGX_ERROR;
		if (ri.flags & FG_RULE_SHADOW) {
			q->shadow_rule[q->nshadow] = &rules[i];
			t = &q->shadow[q->nshadow++];
		} else {
			q->max_delay_ms[q->n] = ri.max_delay_ms;
			q->rule[q->n] = &rules[i];
			t = &q->t[q->n++];
		}
		t->rule = (const char *)rules[i].name.data;
		t->key = (const char *)q->keys[k];
		t->cost = rules[i].cost;
	}
	return NGX_OK;
}

/* Whether the enforced rules may delay: floodgate_delay on, some rule
 * with a max-delay, and none's beyond floodgate_delay (else a reservation
 * refused here keeps its tokens). */
static int fg_may_delay(ngx_http_request_t *r,
                        ngx_http_floodgate_loc_conf_t *lcf, fg_request_rules *q)
{
	ngx_uint_t i;
	int some = 0;

	if (lcf->delay == 0)
		return 0;
	for (i = 0; i < q->n; i++) {
		if (q->max_delay_ms[i] == 0)
			continue;
		if (q->max_delay_ms[i] > lcf->delay) {
			fg_warn(r, q->rule[i],
			        "its max-delay exceeds floodgate_delay: not "
			        "delayed",
			        &fg_next_delay_warning);
			return 0;
		}
		some = 1;
	}
	return some;
}

/* The shadow rules of an admitted request: dry runs, never denials. */
static void fg_dry_runs(ngx_http_request_t *r, fg_client *c,
                        ngx_http_floodgate_loc_conf_t *lcf, fg_request_rules *q,
                        ngx_http_floodgate_ctx_t *ctx)
{
	fg_decision d;
	ngx_uint_t i;

	for (i = 0; i < q->nshadow; i++) {
		if (fg_allow(c, q->shadow[i].rule, q->shadow[i].key,
		             q->shadow[i].cost, &d) < 0 ||
		    !(d.flags & FG_DECISION_SHADOW))
			continue;
		ngx_log_error(lcf->log_level, r->connection->log, 0,
		              "limiting requests, dry run, by floodgate "
		              "rule \"%V\"",
		              &q->shadow_rule[i]->name);
		ctx->status = FG_STATUS_REJECTED_DRY_RUN;
	}
}

/* The enforced rules, all or none: NGX_OK, NGX_DECLINED (denied), or
 * NGX_AGAIN with *@delay_ns to wait. */
static ngx_int_t fg_check(ngx_http_request_t *r, fg_client *c,
                          ngx_http_floodgate_loc_conf_t *lcf,
                          fg_request_rules *q, ngx_http_floodgate_ctx_t *ctx,
                          uint64_t *delay_ns)
{
	unsigned which = 0;
	ngx_uint_t i;
	int rc;

	if (fg_may_delay(r, lcf, q))
		rc = fg_reserve_many(c, q->t, (unsigned)q->n, delay_ns, &ctx->d,
		                     &which);
	else
		rc = fg_allow_many(c, q->t, (unsigned)q->n, &ctx->d, &which);
	if (rc < 0) {
		fg_warn(r, q->rule[which < q->n ? which : 0],
		        "cannot be checked; request not limited",
		        &fg_next_warning);
		return NGX_OK;
	}
	ctx->report = 1;
	ctx->status = FG_STATUS_PASSED;
	if (rc == 1)
		return *delay_ns > 0 ? NGX_AGAIN : NGX_OK;
	for (i = 0; i + 1 < q->n && q->rule[i]->index != (ngx_int_t)ctx->d.rule;
	     i++)
		;
	ngx_log_error(lcf->log_level, r->connection->log, 0,
	              "limiting requests by floodgate rule \"%V\", "
	              "retry after %uL ms",
	              &q->rule[i]->name, ctx->d.retry_after_ms);
	ctx->status = FG_STATUS_REJECTED;
	ctx->denied = 1;
	return NGX_DECLINED;
}

/* The write event of a delayed request: on the timer, run the phases
 * again (the handler lets it through: its context is there), as
 * limit_req's delay does. */
static void fg_delay_handler(ngx_http_request_t *r)
{
	ngx_event_t *wev = r->connection->write;

	if (wev->delayed) {
		if (ngx_handle_write_event(wev, 0) != NGX_OK)
			ngx_http_finalize_request(
			    r, NGX_HTTP_INTERNAL_SERVER_ERROR);
		return;
	}
	if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
		ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
		return;
	}
	r->read_event_handler = ngx_http_block_reading;
	r->write_event_handler = ngx_http_core_run_phases;
	ngx_http_core_run_phases(r);
}

static ngx_int_t fg_delay(ngx_http_request_t *r, uint64_t delay_ns)
{
	r->read_event_handler = ngx_http_test_reading;
	r->write_event_handler = fg_delay_handler;
	r->connection->write->delayed = 1;
	ngx_add_timer(r->connection->write,
	              (ngx_msec_t)((delay_ns + 999999) / 1000000));
	return NGX_AGAIN;
}

static ngx_int_t fg_handler(ngx_http_request_t *r)
{
	ngx_http_floodgate_loc_conf_t *lcf;
	ngx_http_floodgate_ctx_t *ctx;
	fg_request_rules q;
	uint64_t delay_ns = 0;
	fg_client *c;
	ngx_int_t rc = NGX_OK;

	lcf = ngx_http_get_module_loc_conf(r, ngx_http_floodgate_module);
	if (lcf->rules == NULL || lcf->rules->nelts == 0)
		return NGX_DECLINED;
	if (fg_ctx_get(r) != NULL)
		return NGX_DECLINED; /* once per client request */
	ctx = fg_ctx_new(r);
	if (ctx == NULL)
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	c = fg_client_for(r);
	if (c == NULL)
		return NGX_DECLINED; /* fail open */
	q.n = q.nshadow = 0;
	if (fg_collect(r, c, lcf, &q) != NGX_OK)
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	if (q.n > 0)
		rc = fg_check(r, c, lcf, &q, ctx, &delay_ns);
	if (rc == NGX_DECLINED)
		return lcf->status_code;
	if (ctx->status == 0 && q.nshadow > 0)
		ctx->status = FG_STATUS_PASSED;
	fg_dry_runs(r, c, lcf, &q, ctx);
	return rc == NGX_AGAIN ? fg_delay(r, delay_ns) : NGX_DECLINED;
}

/* ------------------------------------------------------------ headers */

static ngx_int_t fg_add_header(ngx_http_request_t *r, const char *name,
                               const char *value)
{
	ngx_table_elt_t *h;
	size_t len = ngx_strlen(value);
	u_char *p;

	h = ngx_list_push(&r->headers_out.headers);
	if (h == NULL)
		return NGX_ERROR;
	p = ngx_pnalloc(r->pool, len);
	if (p == NULL)
		return NGX_ERROR;
	h->hash = 1;
#if nginx_version >= 1023000
	h->next = NULL; /* nginx 1.23 links repeated headers */
#endif
	h->key.data = (u_char *)name;
	h->key.len = ngx_strlen(name);
	h->value.data = p;
	h->value.len = len;
	ngx_memcpy(p, value, len);
	return NGX_OK;
}

/* RateLimit-Policy and RateLimit as libfloodgate writes them (the one
 * formatter every floodgate front end shares), and a denial's Retry-After:
 * seconds, rounded up, at least 1.  A rule withdrawn since the check has
 * no figures to give: only Retry-After then. */
static ngx_int_t fg_header_filter(ngx_http_request_t *r)
{
	char pol[FG_RATELIMIT_MAX], rl[FG_RATELIMIT_MAX], ra[NGX_INT64_LEN + 1];
	ngx_http_floodgate_ctx_t *ctx;
	uint64_t retry;

	if (r != r->main)
		return ngx_http_next_header_filter(r);
	ctx = fg_ctx_get(r);
	if (ctx == NULL || !ctx->report || ctx->sent)
		return ngx_http_next_header_filter(r);
	ctx->sent = 1;
	if (fg != NULL &&
	    fg_ratelimit_headers(fg, &ctx->d, pol, sizeof pol, rl, sizeof rl) ==
	        0 &&
	    (fg_add_header(r, "RateLimit-Policy", pol) != NGX_OK ||
	     fg_add_header(r, "RateLimit", rl) != NGX_OK))
		return NGX_ERROR;
	if (ctx->denied) {
		retry = (ctx->d.retry_after_ms + 999) / 1000;
		*ngx_sprintf((u_char *)ra, "%uL", retry > 0 ? retry : 1) = '\0';
		if (fg_add_header(r, "Retry-After", ra) != NGX_OK)
			return NGX_ERROR;
	}
	return ngx_http_next_header_filter(r);
}

/* ------------------------------------------------------------ variables */

static ngx_int_t fg_status_variable(ngx_http_request_t *r,
                                    ngx_http_variable_value_t *v,
                                    uintptr_t data)
{
	ngx_http_floodgate_ctx_t *ctx = fg_ctx_get(r);

	(void)data;
	if (ctx == NULL || ctx->status == 0) {
		v->not_found = 1;
		return NGX_OK;
	}
	v->valid = 1;
	v->no_cacheable = 0;
	v->not_found = 0;
	v->len = fg_status_names[ctx->status - 1].len;
	v->data = fg_status_names[ctx->status - 1].data;
	return NGX_OK;
}

static ngx_int_t fg_add_variables(ngx_conf_t *cf)
{
	ngx_str_t name = ngx_string("floodgate_status");
	ngx_http_variable_t *var;

	var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
	if (var == NULL)
		return NGX_ERROR;
	var->get_handler = fg_status_variable;
	return NGX_OK;
}

static ngx_int_t fg_init(ngx_conf_t *cf)
{
	ngx_http_core_main_conf_t *cmcf;
	ngx_http_handler_pt *h;

	cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
	h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
	if (h == NULL)
		return NGX_ERROR;
	*h = fg_handler;
	ngx_http_next_header_filter = ngx_http_top_header_filter;
	ngx_http_top_header_filter = fg_header_filter;
	return NGX_OK;
}
