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

#if defined(ZTS) && defined(COMPILE_DL_FLOODGATE)
ZEND_TSRMLS_CACHE_EXTERN()
#endif

#endif /* PHP_FLOODGATE_H */
