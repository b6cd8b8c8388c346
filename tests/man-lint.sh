#!/bin/sh
# SPDX-License-Identifier: ISC
# man-lint.sh - every man page passes mandoc -Tlint (TAP output).
srcdir=${srcdir:-.}
pages="$srcdir/man/floodgate.1 $srcdir/man/libfloodgate.3 $srcdir/man/floodgate.conf.5 $srcdir/man/floodgated.8"
n=0
echo "1..$(echo $pages | wc -w)"
for p in $pages; do
	n=$((n + 1))
	if ! command -v mandoc >/dev/null 2>&1; then
		echo "ok $n - $(basename "$p") # SKIP mandoc not installed"
	elif out=$(mandoc -Tlint -Wwarning "$p" 2>&1) && [ -z "$out" ]; then
		echo "ok $n - $(basename "$p") lints clean"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok $n - $(basename "$p") lints clean"
	fi
done
