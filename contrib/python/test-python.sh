#!/bin/sh
# SPDX-License-Identifier: ISC
# test-python.sh - the Python package as a user gets it (TAP), from make
# check: pip installs ./contrib/python into a fresh venv (offline: Debian's
# setuptools through --system-site-packages, --no-build-isolation), and the
# venv's python runs test_floodgate.py from a directory without the
# sources, so the tests import the installed package.  The library is the
# one built in this tree (FLOODGATE_LIBRARY); the test of the package's own
# search for it builds a prefix of its own.
#
# A sanitizer build's library needs the ASan runtime loaded first: preload
# it into python3 (and the servers it starts), and do not report the leaks
# of the interpreter itself.
#
# Skips only when python3 with venv and pip (python3-venv) is missing.
srcdir=${srcdir:-.}
here=$srcdir/contrib/python
lib=${FLOODGATE_LIBRARY:-$PWD/lib/.libs/libfloodgate.so.0}
skip() {
	echo "1..0 # SKIP $*"
	exit 0
}
# Debian's python3: the one gunicorn, uWSGI's plugin and setuptools are for
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || skip "python3 not installed"
[ -f "$lib" ] || skip "$lib not built"
"$py" -c 'import venv, ensurepip' 2>/dev/null ||
	skip "$py has no venv or ensurepip (install python3-venv)"

tmp=$(mktemp -d /tmp/fg-int-python.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
chmod 755 "$tmp" # uWSGI's workers may run as nobody

# pip builds in the directory it is given: a copy keeps the tree clean (and
# make distcheck's read-only source tree possible).
mkdir "$tmp/src" "$tmp/t"
cp "$here/pyproject.toml" "$here/README.md" "$here/floodgate.py" \
	"$here/floodgate_wsgi.py" "$tmp/src/"
cp "$here/test_floodgate.py" "$here/testapp.py" "$srcdir/contrib/fgtest.py" \
	"$tmp/t/"
if ! "$py" -m venv --system-site-packages "$tmp/venv" >"$tmp/log" 2>&1 ||
	! "$tmp/venv/bin/python" -m pip install --no-build-isolation \
		--no-index --no-cache-dir -q "$tmp/src" >>"$tmp/log" 2>&1; then
	echo "1..1"
	sed 's/^/# /' "$tmp/log"
	echo "not ok 1 - pip install ./contrib/python into a venv"
	exit 1
fi

if ldd "$lib" 2>/dev/null | grep -q libasan; then
	asan=$(${CC:-cc} -print-file-name=libasan.so)
	LD_PRELOAD=$asan${LD_PRELOAD:+:$LD_PRELOAD}
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
	PYTHONMALLOC=malloc # so ASan sees every object
	export LD_PRELOAD ASAN_OPTIONS PYTHONMALLOC
fi
# uWSGI's workers run as nobody, who may not enter the build tree (a CI
# checkout under a 0700 directory): they load a copy from $tmp.
mkdir "$tmp/lib" && cp "$lib" "$tmp/lib/" && chmod 755 "$tmp/lib" || exit 1
lib=$tmp/lib/$(basename "$lib")
chmod 644 "$lib"
FLOODGATE_LIBRARY=$lib
FG_TEST_INSTALLED=1
PYTHONDONTWRITEBYTECODE=1
export FLOODGATE_LIBRARY FG_TEST_INSTALLED PYTHONDONTWRITEBYTECODE
unset PYTHONPATH
cd "$tmp/t" && "$tmp/venv/bin/python" test_floodgate.py "$@"
