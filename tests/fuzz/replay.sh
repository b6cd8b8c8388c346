#!/bin/sh
# SPDX-License-Identifier: ISC
# replay.sh - every fuzz target over its seed corpus, as TAP.
#
# The replay_TARGET programs are the libFuzzer targets of tests/fuzz/
# linked with replay_main.c instead of libFuzzer, built by `make check`
# with the project's compiler: no clang needed.  Each runs over
# $srcdir/tests/fuzz/corpus/TARGET/ (make check exports srcdir), and a
# target's oracle failing aborts it.  `make fuzz` is the real fuzzing.
srcdir=${srcdir:-.}
targets="wire wire_signed wire_mac config keyring segment sysv_name snapshot args redis_reply strict"
n=0
echo "1..$(echo $targets | wc -w)"
for t in $targets; do
	n=$((n + 1))
	corpus="$srcdir/tests/fuzz/corpus/$t"
	if out=$(./tests/fuzz/replay_$t "$corpus" 2>&1); then
		k=$(echo "$out" | sed -n 's/^\([0-9][0-9]*\) inputs$/\1/p' | tail -1)
		echo "ok $n - replay $t ($k inputs)"
	else
		echo "$out" | sed 's/^/# /'
		echo "not ok $n - replay $t"
	fi
done
