#!/bin/sh
# test-python.sh - run the Python binding's tests (TAP) against the built
# libfloodgate.  make check sets srcdir; the library is taken from the build
# tree (FLOODGATE_LIBRARY), so nothing needs to be installed.
#
# A sanitizer build's library needs the ASan runtime loaded first: preload it
# into python3 (and the gunicorn it starts), and do not report the leaks of
# the interpreter itself.
srcdir=${srcdir:-.}
here=$srcdir/contrib/python
lib=${FLOODGATE_LIBRARY:-$PWD/lib/.libs/libfloodgate.so.0}
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not installed"
	exit 0
fi
if [ ! -f "$lib" ]; then
	echo "1..0 # SKIP $lib not built"
	exit 0
fi
if ldd "$lib" 2>/dev/null | grep -q libasan; then
	asan=$(${CC:-cc} -print-file-name=libasan.so)
	LD_PRELOAD=$asan${LD_PRELOAD:+:$LD_PRELOAD}
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
	PYTHONMALLOC=malloc # so ASan sees every object
	export LD_PRELOAD ASAN_OPTIONS PYTHONMALLOC
fi
FLOODGATE_LIBRARY=$lib
PYTHONPATH=$here${PYTHONPATH:+:$PYTHONPATH}
PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
export FLOODGATE_LIBRARY PYTHONPATH PYTHONDONTWRITEBYTECODE
exec python3 "$here/test_floodgate.py" "$@"
