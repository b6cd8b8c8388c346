/* SPDX-License-Identifier: ISC */
/*
 * php_floodgate.h - the floodgate PHP extension's module entry and
 * per-process (per-thread under ZTS) state.
 */
#ifndef PHP_FLOODGATE_H
#define PHP_FLOODGATE_H

#include <floodgate.h>

extern zend_module_entry floodgate_module_entry;
#define phpext_floodgate_ptr &floodgate_module_entry

#define PHP_FLOODGATE_VERSION FG_VERSION_STRING

ZEND_BEGIN_MODULE_GLOBALS(floodgate)
char *segment;     /* floodgate.segment; "" means fg_open(NULL) */
fg_client *client; /* attached at the first check, kept for the
                      process's life */
ZEND_END_MODULE_GLOBALS(floodgate)

ZEND_EXTERN_MODULE_GLOBALS(floodgate)
#define FG_G(v) ZEND_MODULE_GLOBALS_ACCESSOR(floodgate, v)

/* floodgate.c's helpers, shared with policies.c */
extern zend_class_entry *floodgate_exception_ce;
fg_client *fgphp_client(void);
void fgphp_throw(int code, const char *detail);
void fgphp_throw_call(int r, const char *rule);
int fgphp_check_args(const zend_string *rule, const zend_string *key,
                     zend_long cost);
void fgphp_decision(zval *out, fg_client *c, int allowed, const fg_decision *d);
/* policies.c: the FloodgateLease class, at MINIT */
void fgphp_lease_init(zend_class_entry *ce);

#if defined(ZTS) && defined(COMPILE_DL_FLOODGATE)
ZEND_TSRMLS_CACHE_EXTERN()
#endif

#endif /* PHP_FLOODGATE_H */
