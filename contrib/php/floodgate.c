/* SPDX-License-Identifier: ISC */
/*
 * floodgate.c - the floodgate PHP extension: floodgate_allow() checks a
 * request against a token bucket in floodgated's shared-memory segment.
 *
 *     $d = floodgate_allow('api', $_SERVER['REMOTE_ADDR']);   // cost 1
 *     if (!$d['allowed']) { http_response_code(429); ... }
 *
 * The binding is thin: the returned array is struct fg_decision (plus the
 * two durations in whole seconds, rounded up, as HTTP headers want them,
 * and the values of RateLimit-Policy and RateLimit that libfloodgate's
 * fg_ratelimit_headers() writes, the same as every floodgate front end)
 * and every negative return of libfloodgate becomes a FloodgateException
 * whose code is the FG_E* value and whose message is fg_strerror()'s.
 * Whether to serve a request the limiter could not check is the
 * application's policy, so failing open is a catch block in PHP
 * (example.php), not a setting here.
 *
 * Where to attach.  PHP-FPM runs MINIT in the master and forks the pool's
 * workers after it; a pool's php_admin_value[floodgate.segment] is only
 * applied in the worker, after the fork.  So nothing is attached in MINIT:
 * each worker attaches at its first check, with the segment its pool
 * names and with the worker's own user (www-data needs read and write on
 * the segment: floodgated's group), and keeps the handle for its life, so
 * every later check is the library's one CAS, no system call.  A worker
 * that could not attach (segment not there yet) tries again at its next
 * check.  A worker killed at any instant leaves nothing behind: the handle
 * is a private mapping of the shared table, and the table survives any
 * process dying mid-check (libfloodgate(3)).
 *
 * Several rules, delays and in-flight limits: policies.c.
 *
 * Threads.  A handle is used by one thread at a time (floodgate.h): the
 * handle lives in the module globals, which ZTS builds keep per thread.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "php.h"
#include "php_ini.h"
#include "ext/standard/info.h"
#include "ext/spl/spl_exceptions.h"
#include "zend_exceptions.h"

#include "php_floodgate.h"
#include "floodgate_arginfo.h"

ZEND_DECLARE_MODULE_GLOBALS(floodgate)

zend_class_entry *floodgate_exception_ce;

PHP_INI_BEGIN()
STD_PHP_INI_ENTRY("floodgate.segment", "", PHP_INI_SYSTEM, OnUpdateString,
                  segment, zend_floodgate_globals, floodgate_globals)
PHP_INI_END()

/* A FloodgateException for a libfloodgate error: message "what fg_strerror
 * says[: detail]", code the FG_E* value. */
void fgphp_throw(int code, const char *detail)
{
	if (detail != NULL && *detail != '\0')
		zend_throw_exception_ex(floodgate_exception_ce, code, "%s: %s",
		                        fg_strerror(code), detail);
	else
		zend_throw_exception(floodgate_exception_ce, fg_strerror(code),
		                     code);
}

/* The process's handle, attaching at the first call; NULL with an
 * exception thrown when the segment cannot be attached. */
fg_client *fgphp_client(void)
{
	const char *seg = FG_G(segment);
	char why[512];
	int r;

	if (FG_G(client) != NULL)
		return FG_G(client);
	if (seg != NULL && *seg == '\0')
		seg = NULL; /* $FLOODGATE_SEGMENT, else "floodgate" */
	r = fg_open(seg, 0, &FG_G(client));
	if (r == 0)
		return FG_G(client);
	FG_G(client) = NULL;
	if (r == FG_EACCES) {
		/* names the file, its owner and mode, and the fix */
		fg_diagnose(seg, why, sizeof(why));
	} else {
		snprintf(why, sizeof(why), "segment %s (floodgate.segment)",
		         seg != NULL ? seg : "(default)");
	}
	fgphp_throw(r, why);
	return NULL;
}

static zend_long ms_to_seconds(uint64_t ms)
{
	return (zend_long)((ms + 999) / 1000);
}

/* The header values, or null for both when the rule was withdrawn since
 * the check (then there is nothing to say of it). */
static void add_headers(zval *out, fg_client *c, const fg_decision *d)
{
	char pol[FG_RATELIMIT_MAX], rl[FG_RATELIMIT_MAX];

	if (fg_ratelimit_headers(c, d, pol, sizeof pol, rl, sizeof rl) == 0) {
		add_assoc_string(out, "ratelimit_policy", pol);
		add_assoc_string(out, "ratelimit", rl);
	} else {
		add_assoc_null(out, "ratelimit_policy");
		add_assoc_null(out, "ratelimit");
	}
}

void fgphp_decision(zval *out, fg_client *c, int allowed, const fg_decision *d)
{
	array_init_size(out, 12);
	add_assoc_bool(out, "allowed", allowed);
	add_assoc_long(out, "limit", (zend_long)d->limit);
	add_assoc_long(out, "remaining", (zend_long)d->remaining);
	add_assoc_long(out, "retry_after_ms", (zend_long)d->retry_after_ms);
	add_assoc_long(out, "retry_after", ms_to_seconds(d->retry_after_ms));
	add_assoc_long(out, "reset_ms", (zend_long)d->reset_ms);
	add_assoc_long(out, "reset", ms_to_seconds(d->reset_ms));
	add_assoc_bool(out, "shadow", (d->flags & FG_DECISION_SHADOW) != 0);
	add_assoc_bool(out, "untracked",
	               (d->flags & FG_DECISION_UNTRACKED) != 0);
	add_assoc_long(out, "rule", (zend_long)d->rule);
	add_headers(out, c, d);
}

/* The checks every call makes of a (rule, key, cost): 0, or -1 with an
 * exception thrown.  C strings end at a NUL: refuse rather than check
 * another key. */
int fgphp_check_args(const zend_string *rule, const zend_string *key,
                     zend_long cost)
{
	if (memchr(ZSTR_VAL(rule), '\0', ZSTR_LEN(rule)) != NULL) {
		fgphp_throw(FG_EINVAL, "the rule name contains a NUL byte");
		return -1;
	}
	if (memchr(ZSTR_VAL(key), '\0', ZSTR_LEN(key)) != NULL) {
		fgphp_throw(FG_EINVAL, "the key contains a NUL byte");
		return -1;
	}
	if (cost < 1 || (zend_ulong)cost > UINT32_MAX) {
		zend_throw_exception_ex(floodgate_exception_ce, FG_ECOST,
		                        "%s: " ZEND_LONG_FMT,
		                        fg_strerror(FG_ECOST), cost);
		return -1;
	}
	return 0;
}

/* A FloodgateException for a negative return about @rule. */
void fgphp_throw_call(int r, const char *rule)
{
	if (r == FG_ENORULE)
		zend_throw_exception_ex(floodgate_exception_ce, r, "%s: \"%s\"",
		                        fg_strerror(r), rule);
	else
		fgphp_throw(r, NULL);
}

/* {{{ floodgate_allow(string $rule, string $key, int $cost = 1): array */
PHP_FUNCTION(floodgate_allow)
{
	zend_string *rule, *key;
	zend_long cost = 1;
	fg_decision d;
	fg_client *c;
	int r;

	ZEND_PARSE_PARAMETERS_START(2, 3)
	Z_PARAM_STR(rule)
	Z_PARAM_STR(key)
	Z_PARAM_OPTIONAL
	Z_PARAM_LONG(cost)
	ZEND_PARSE_PARAMETERS_END();

	if (fgphp_check_args(rule, key, cost) != 0 ||
	    (c = fgphp_client()) == NULL)
		RETURN_THROWS();
	r = fg_allow(c, ZSTR_VAL(rule), ZSTR_VAL(key), (uint32_t)cost, &d);
	if (r < 0) {
		fgphp_throw_call(r, ZSTR_VAL(rule));
		RETURN_THROWS();
	}
	fgphp_decision(return_value, c, r == 1, &d);
}
/* }}} */

static PHP_GINIT_FUNCTION(floodgate)
{
#if defined(COMPILE_DL_FLOODGATE) && defined(ZTS)
	ZEND_TSRMLS_CACHE_UPDATE();
#endif
	floodgate_globals->segment = NULL;
	floodgate_globals->client = NULL;
}

static PHP_GSHUTDOWN_FUNCTION(floodgate)
{
	fg_close(floodgate_globals->client);
	floodgate_globals->client = NULL;
}

static PHP_MINIT_FUNCTION(floodgate)
{
	REGISTER_INI_ENTRIES();
	floodgate_exception_ce =
	    register_class_FloodgateException(spl_ce_RuntimeException);
	fgphp_lease_init(register_class_FloodgateLease());
	return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(floodgate)
{
	UNREGISTER_INI_ENTRIES();
	return SUCCESS;
}

static PHP_MINFO_FUNCTION(floodgate)
{
	php_info_print_table_start();
	php_info_print_table_row(2, "floodgate support", "enabled");
	php_info_print_table_row(2, "libfloodgate headers", FG_VERSION_STRING);
	php_info_print_table_row(2, "attached in this process",
	                         FG_G(client) != NULL ? "yes" : "no");
	php_info_print_table_end();
	DISPLAY_INI_ENTRIES();
}

static const zend_module_dep floodgate_deps[] = {ZEND_MOD_REQUIRED("spl")
                                                     ZEND_MOD_END};

zend_module_entry floodgate_module_entry = {STANDARD_MODULE_HEADER_EX,
                                            NULL,
                                            floodgate_deps,
                                            "floodgate",
                                            ext_functions,
                                            PHP_MINIT(floodgate),
                                            PHP_MSHUTDOWN(floodgate),
                                            NULL,
                                            NULL,
                                            PHP_MINFO(floodgate),
                                            PHP_FLOODGATE_VERSION,
                                            PHP_MODULE_GLOBALS(floodgate),
                                            PHP_GINIT(floodgate),
                                            PHP_GSHUTDOWN(floodgate),
                                            NULL,
                                            STANDARD_MODULE_PROPERTIES_EX};

#ifdef COMPILE_DL_FLOODGATE
#ifdef ZTS
ZEND_TSRMLS_CACHE_DEFINE()
#endif
ZEND_GET_MODULE(floodgate)
#endif
