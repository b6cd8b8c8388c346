#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# test.sh - build and run the whole test suite (make check).
#   scripts/test.sh                 the normal build, in _build/
#   scripts/test.sh --sanitizers    an ASan+UBSan build, in _build-san/
#   scripts/test.sh --tsan          a ThreadSanitizer build, in _build-tsan/,
#                                   running the threaded tests only
# Prints the totals as "N passed, N failed" and the logs of failing tests.
set -u
cd "$(dirname "$0")/.." || exit 2
. scripts/deps.sh

dir=_build
args=()
tests=()
case "${1:-}" in
--sanitizers)
	dir=_build-san
	args=(--enable-sanitizers)
	;;
--tsan)
	dir=_build-tsan
	args=(--enable-sanitizers=thread)
	tests=("TESTS=tests/test_threads")
	;;
esac
fg_install_deps || { echo "could not install dependencies"; exit 2; }
fg_build "$dir" "${args[@]}" || { echo "0 passed, 1 failed"; exit 1; }

make -C "$dir" -j"$(nproc)" check "${tests[@]}" >"$dir/check.out" 2>&1
rc=$?
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP)' "$dir/check.out" | grep -v '^PASS' || true
log="$dir/test-suite.log"
count() { sed -n "s/^# $1: *//p" "$log" | head -1; }
if [ -f "$log" ]; then
	pass=$(count PASS)
	fail=$(($(count FAIL) + $(count ERROR) + $(count XPASS)))
else
	pass=0
	fail=1
	tail -50 "$dir/check.out"
fi
if [ "$fail" -ne 0 ] || [ "$rc" -ne 0 ]; then
	echo "---- logs of failing tests ($log) ----"
	[ -f "$log" ] && cat "$log"
	[ "$fail" -eq 0 ] && fail=1
fi
echo "${pass:-0} passed, $fail failed"
[ "$fail" -eq 0 ]
