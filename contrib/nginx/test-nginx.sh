#!/bin/sh
# SPDX-License-Identifier: ISC
# test-nginx.sh - ngx_http_floodgate_module in a real nginx (TAP), from
# make check: finds the module and library built in this tree and nginx
# ($NGINX_BIN, as configure found it; nginx itself reads $NGINX), then runs test_nginx.py.
#
# Skips only when the module was not built (no nginx build tree: install
# nginx-dev) or nginx, ab or python3 are missing, saying which.
srcdir=${srcdir:-.}
skip() {
	echo "1..0 # SKIP $*"
	exit 0
}
lib=$PWD/lib/.libs/libfloodgate.so.0
mod=$PWD/contrib/nginx/objs/ngx_http_floodgate_module.so
[ -f "$mod" ] || skip "nginx module not built (configure found no nginx build tree: install nginx-dev)"
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
[ -x "$NGINX_BIN" ] || skip "nginx not found (install nginx)"
command -v ab >/dev/null 2>&1 || skip "ab not found (install apache2-utils)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"

# A sanitizer build's library needs the ASan runtime loaded first.
if ldd "$lib" 2>/dev/null | grep -q libasan; then
	LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so)
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
	PYTHONMALLOC=malloc
	export LD_PRELOAD ASAN_OPTIONS PYTHONMALLOC
fi
LD_LIBRARY_PATH=$PWD/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
FLOODGATE_LIBRARY=$lib
FLOODGATE_NGINX_MODULE=$mod
PYTHONPATH=$srcdir/contrib:$srcdir/contrib/python
PYTHONDONTWRITEBYTECODE=1
export LD_LIBRARY_PATH FLOODGATE_LIBRARY FLOODGATE_NGINX_MODULE PYTHONPATH \
	PYTHONDONTWRITEBYTECODE NGINX_BIN
exec python3 "$srcdir/contrib/nginx/test_nginx.py" "$@"
