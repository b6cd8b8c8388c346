/* SPDX-License-Identifier: ISC */
/*
 * policies.c - the PHP extension's several rules, delays and in-flight
 * limits: floodgate_allow_many(), floodgate_reserve(),
 * floodgate_reserve_many(), floodgate_acquire() and FloodgateLease.
 *
 *     $d = floodgate_allow_many([['per-user', $user],
 *                                ['per-ip', $_SERVER['REMOTE_ADDR'], 2]]);
 *
 * A list of checks is [rule, key] or [rule, key, cost] arrays, at most
 * FG_TRIPLES_MAX; each is checked as floodgate_allow() checks its
 * arguments, and a bad one throws before anything is consumed.
 *
 * Leases.  A lease lives in a FloodgateLease object, so that PHP gives it
 * back for the application: release() gives it back at once, and the
 * object's free handler gives back what release() did not, when PHP
 * frees the object, at the latest at the end of the request however it
 * ends (an exception, exit(), a client gone with ignore_user_abort off).
 * A worker killed while it holds one loses it to the rule's lease time,
 * as any process does (libfloodgate(3)).  The lease names its segment, so
 * it is given back through the process's handle, and never twice.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "php.h"
#include "zend_exceptions.h"

#include "php_floodgate.h"

/* ------------------------------------------------------------ checks */

/* One [rule, key(, cost)] of a list into @t: 0, or -1 thrown. */
static int one_check(zval *item, unsigned i, fg_triple *t)
{
	zval *zr, *zk, *zc;
	zend_long cost = 1;

	ZVAL_DEREF(item);
	if (Z_TYPE_P(item) != IS_ARRAY)
		goto bad;
	zr = zend_hash_index_find(Z_ARRVAL_P(item), 0);
	zk = zend_hash_index_find(Z_ARRVAL_P(item), 1);
	zc = zend_hash_index_find(Z_ARRVAL_P(item), 2);
	if (zr == NULL || zk == NULL || Z_TYPE_P(zr) != IS_STRING ||
	    Z_TYPE_P(zk) != IS_STRING ||
	    (zc != NULL && Z_TYPE_P(zc) != IS_LONG))
		goto bad;
	if (zc != NULL)
		cost = Z_LVAL_P(zc);
	if (fgphp_check_args(Z_STR_P(zr), Z_STR_P(zk), cost) != 0)
		return -1;
	t->rule = Z_STRVAL_P(zr);
	t->key = Z_STRVAL_P(zk);
	t->cost = (uint32_t)cost;
	return 0;
bad:
	zend_throw_exception_ex(floodgate_exception_ce, FG_EINVAL,
	                        "%s: check %u is not [rule, key] or "
	                        "[rule, key, cost]",
	                        fg_strerror(FG_EINVAL), i);
	return -1;
}

/* The list @checks into @t: how many, or -1 thrown. */
static int checks_in(HashTable *checks, fg_triple *t)
{
	uint32_t n = zend_hash_num_elements(checks);
	unsigned i = 0;
	zval *item;

	if (n < 1 || n > FG_TRIPLES_MAX) {
		zend_throw_exception_ex(floodgate_exception_ce, FG_EINVAL,
		                        "%s: %u checks (1 to %d)",
		                        fg_strerror(FG_EINVAL), n,
		                        FG_TRIPLES_MAX);
		return -1;
	}
	ZEND_HASH_FOREACH_VAL(checks, item)
	{
		if (one_check(item, i, &t[i]) != 0)
			return -1;
		i++;
	}
	ZEND_HASH_FOREACH_END();
	return (int)i;
}

/* A negative return of a call over @t: thrown, naming the check. */
static void throw_many(int r, const fg_triple *t, int n, unsigned which)
{
	fgphp_throw_call(r, which < (unsigned)n ? t[which].rule : "");
}

static void add_delay(zval *out, uint64_t delay_ns)
{
	add_assoc_long(out, "delay_ns", (zend_long)delay_ns);
	add_assoc_double(out, "delay", (double)delay_ns / 1e9);
}

/* floodgate_allow_many() and, with @reserve, floodgate_reserve_many():
 * one list of checks, the decision, "which", and a reservation's delay. */
static void many(zval *return_value, HashTable *checks, int reserve)
{
	fg_triple t[FG_TRIPLES_MAX];
	uint64_t delay_ns = 0;
	unsigned which = 0;
	fg_decision d;
	fg_client *c;
	int n, r;

	if ((n = checks_in(checks, t)) < 0 || (c = fgphp_client()) == NULL)
		return;
	r = reserve ? fg_reserve_many(c, t, (unsigned)n, &delay_ns, &d, &which)
	            : fg_allow_many(c, t, (unsigned)n, &d, &which);
	if (r < 0) {
		throw_many(r, t, n, which);
		return;
	}
	fgphp_decision(return_value, c, r == 1, &d);
	if (reserve)
		add_delay(return_value, delay_ns);
	add_assoc_long(return_value, "which", (zend_long)which);
}

/* {{{ floodgate_allow_many(array $checks): array */
PHP_FUNCTION(floodgate_allow_many)
{
	HashTable *checks;

	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_ARRAY_HT(checks)
	ZEND_PARSE_PARAMETERS_END();

	many(return_value, checks, 0);
}
/* }}} */

/* {{{ floodgate_reserve_many(array $checks): array */
PHP_FUNCTION(floodgate_reserve_many)
{
	HashTable *checks;

	ZEND_PARSE_PARAMETERS_START(1, 1)
	Z_PARAM_ARRAY_HT(checks)
	ZEND_PARSE_PARAMETERS_END();

	many(return_value, checks, 1);
}
/* }}} */

/* {{{ floodgate_reserve(string $rule, string $key, int $cost = 1): array */
PHP_FUNCTION(floodgate_reserve)
{
	zend_string *rule, *key;
	zend_long cost = 1;
	uint64_t delay_ns = 0;
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
	r = fg_reserve(c, ZSTR_VAL(rule), ZSTR_VAL(key), (uint32_t)cost,
	               &delay_ns, &d);
	if (r < 0) {
		fgphp_throw_call(r, ZSTR_VAL(rule));
		RETURN_THROWS();
	}
	fgphp_decision(return_value, c, r == 1, &d);
	add_delay(return_value, delay_ns);
}
/* }}} */

/* ------------------------------------------------------------ leases */

typedef struct {
	fg_lease lease; /* empty once given back (fg_release) */
	zend_object std;
} lease_obj;

static zend_class_entry *lease_ce;
static zend_object_handlers lease_handlers;

static lease_obj *lease_of(zend_object *o)
{
	return (lease_obj *)((char *)o - XtOffsetOf(lease_obj, std));
}

static zend_object *lease_create(zend_class_entry *ce)
{
	lease_obj *l = zend_object_alloc(sizeof(lease_obj), ce);

	memset(&l->lease, 0, sizeof l->lease); /* holds nothing */
	zend_object_std_init(&l->std, ce);
	object_properties_init(&l->std, ce);
	l->std.handlers = &lease_handlers;
	return &l->std;
}

/* 1 given back, 0 nothing held (fg_release() empties it: never twice). */
static int lease_give_back(lease_obj *l)
{
	fg_client *c = FG_G(client);

	return c != NULL && fg_release(c, &l->lease) == 1;
}

static void lease_free(zend_object *o)
{
	(void)lease_give_back(lease_of(o));
	zend_object_std_dtor(o);
}

/* {{{ FloodgateLease::release(): bool */
PHP_METHOD(FloodgateLease, release)
{
	ZEND_PARSE_PARAMETERS_NONE();
	RETURN_BOOL(lease_give_back(lease_of(Z_OBJ_P(ZEND_THIS))));
}
/* }}} */

void fgphp_lease_init(zend_class_entry *ce)
{
	lease_ce = ce;
	lease_ce->create_object = lease_create;
	lease_ce->ce_flags |= ZEND_ACC_NOT_SERIALIZABLE;
	memcpy(&lease_handlers, zend_get_std_object_handlers(),
	       sizeof lease_handlers);
	lease_handlers.offset = XtOffsetOf(lease_obj, std);
	lease_handlers.free_obj = lease_free;
	lease_handlers.clone_obj = NULL; /* a lease is given back once */
}

/* {{{ floodgate_acquire(string $rule, string $key): array */
PHP_FUNCTION(floodgate_acquire)
{
	zend_string *rule, *key;
	fg_decision d;
	fg_client *c;
	zval lease;
	int r;

	ZEND_PARSE_PARAMETERS_START(2, 2)
	Z_PARAM_STR(rule)
	Z_PARAM_STR(key)
	ZEND_PARSE_PARAMETERS_END();

	if (fgphp_check_args(rule, key, 1) != 0 || (c = fgphp_client()) == NULL)
		RETURN_THROWS();
	object_init_ex(&lease, lease_ce);
	r = fg_acquire(c, ZSTR_VAL(rule), ZSTR_VAL(key),
	               &lease_of(Z_OBJ(lease))->lease, &d);
	if (r < 0) {
		zval_ptr_dtor(&lease);
		fgphp_throw_call(r, ZSTR_VAL(rule));
		RETURN_THROWS();
	}
	fgphp_decision(return_value, c, r == 1, &d);
	if (r == 1) {
		add_assoc_zval(return_value, "lease", &lease);
	} else {
		zval_ptr_dtor(&lease);
		add_assoc_null(return_value, "lease");
	}
}
/* }}} */
