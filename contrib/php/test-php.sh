#!/bin/sh
# SPDX-License-Identifier: ISC
# test-php.sh - the PHP extension in php-cli and a real php-fpm (TAP), from
# make check: finds what configure found ($PHP_CONFIG, $PHP_FPM) and the
# extension and library built in this tree, then runs test_php.py.
#
# Skips only when the extension was not built (no php-config: install
# php8.2-dev) or php-fpm, cgi-fcgi or python3 are missing, and in a
# sanitizer build (see below), saying which.
srcdir=${srcdir:-.}
skip() {
	echo "1..0 # SKIP $*"
	exit 0
}
lib=$PWD/lib/.libs/libfloodgate.so.0
ext=$PWD/contrib/php/build/modules/floodgate.so
[ -f "$ext" ] || skip "PHP extension not built (configure found no php-config: install php8.2-dev)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"
PHP=$(${PHP_CONFIG:-php-config} --php-binary 2>/dev/null)
[ -x "$PHP" ] || skip "no php binary (php-config --php-binary; install php8.2-cli)"
[ -n "$PHP_FPM" ] && [ -x "$PHP_FPM" ] || skip "php-fpm not found (install php8.2-fpm)"
command -v cgi-fcgi >/dev/null 2>&1 || skip "cgi-fcgi not found (install libfcgi-bin)"

# PHP loads extensions with dlopen(RTLD_DEEPBIND), which AddressSanitizer
# refuses: a sanitizer build's library cannot be loaded into php.  The
# normal build (scripts/test.sh) runs this test.
if ldd "$lib" 2>/dev/null | grep -q libasan; then
	skip "sanitizer build: PHP's RTLD_DEEPBIND dlopen cannot load an ASan library (the normal build runs this test)"
fi
LD_LIBRARY_PATH=$PWD/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
FLOODGATE_LIBRARY=$lib
FLOODGATE_PHP_EXT=$ext
PYTHONPATH=$srcdir/contrib:$srcdir/contrib/python
PYTHONDONTWRITEBYTECODE=1
export LD_LIBRARY_PATH FLOODGATE_LIBRARY FLOODGATE_PHP_EXT PYTHONPATH \
	PYTHONDONTWRITEBYTECODE PHP PHP_FPM
exec python3 "$srcdir/contrib/php/test_php.py" "$@"
