#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# analyze.sh - static and dynamic analysis beyond the compiler's warnings.
#   1. cppcheck over every C source we ship: no finding may be left (a
#      finding that is wrong is silenced in place with a reason:
#      "// cppcheck-suppress ID" plus a comment saying why).
#   2. valgrind memcheck of the floodgate CLI: every subcommand, with good
#      and bad arguments, against a real segment owned by a real floodgated;
#      any invalid access, uninitialised use or leak fails.
# Needs a built tree: scripts/analyze.sh [BUILD_DIR] (default _build).
# Prints "N passed, N failed" like scripts/test.sh.
set -u
cd "$(dirname "$0")/.." || exit 2
. scripts/deps.sh
build=${1:-_build}
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
ko() { fail=$((fail + 1)); echo "FAILED - $*"; }

FG_DEPS="$FG_DEPS cppcheck valgrind"
fg_install_deps || { echo "could not install dependencies"; exit 2; }

# ------------------------------------------------------------ cppcheck
if cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
	--enable=warning,portability,performance \
	--suppress=missingIncludeSystem -D_GNU_SOURCE -D__x86_64__ \
	-D__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16 -I. -Ilib -I"$build/lib" \
	lib shm gossip redis daemon cli util demo bench >"$build/cppcheck.out" 2>&1; then
	ok "cppcheck: no findings"
else
	cat "$build/cppcheck.out"
	ko "cppcheck"
fi

# ------------------------------------------------------------ valgrind
cli="$build/cli/floodgate"
daemon="$build/daemon/floodgated"
if [ ! -x "$cli" ] || [ ! -x "$daemon" ]; then
	ko "valgrind: $cli or $daemon not built"
	echo "$pass passed, $fail failed"
	exit 1
fi
tmp=$(mktemp -d /tmp/fg-analyze.XXXXXX)
seg="fg-analyze-$$"
cleanup() {
	[ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	"$cli" -s "$seg" remove >/dev/null 2>&1 # the name and its memory
	rm -f "/dev/shm/$seg" "/dev/shm/$seg".state*
	rm -rf "$tmp"
}
trap cleanup EXIT
"$daemon" --keygen "$tmp/node.key" self >/dev/null &&
	cp "$tmp/node.key.pub" "$tmp/keyring" || { ko "keygen"; exit 1; }
cat >"$tmp/floodgate.conf" <<EOF
segment $seg
capacity 1024
node-key $tmp/node.key
keyring $tmp/keyring
listen 127.0.0.1:$((25000 + $$ % 1000))
control $tmp/control.sock
rule api capacity 3 rate 1/1h scope global
rule login capacity 2 rate 1/1s on-full closed
EOF
"$daemon" -c "$tmp/floodgate.conf" -f >"$tmp/daemon.log" 2>&1 &
dpid=$!
for _ in $(seq 100); do
	[ -S "$tmp/control.sock" ] && break
	sleep 0.05
done
if [ ! -S "$tmp/control.sock" ]; then
	cat "$tmp/daemon.log"
	ko "valgrind: floodgated did not start"
	echo "$pass passed, $fail failed"
	exit 1
fi

# Each line: the exit status the command must have, then its arguments.
vg_cases() {
	cat <<EOF
0 status
0 --json status
0 rules
0 --json rules
0 check api alice
0 check api alice --cost 2
1 check api alice
0 get api alice
0 --json get api alice
0 list
0 --json list --rule api --prefix al
0 list --top 5 --window 100
0 reset api alice
0 stats
0 stats --prometheus
0 peers
0 --json peers
0 reload
0 --version
0 list --help
0 --json keygen $tmp/vg.key vg
* --json stats --prometheus
* list --top -1
* list --window 10x
* check nosuchrule alice
* check api $(printf 'k%.0s' $(seq 80))
* check api alice --cost 0
* check api alice --cost -1
* get api
* frobnicate
* -s no-such-segment-$$ status
EOF
}
vg() { # vg EXPECTED ARGS...: run the CLI under memcheck
	local want=$1 rc
	shift
	valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --track-origins=yes \
		"$cli" -s "$seg" -c "$tmp/floodgate.conf" "$@" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 99 ] || grep -q "^==[0-9]*==" "$tmp/err"; then
		cat "$tmp/err"
		ko "valgrind: floodgate $* (memcheck errors)"
	elif [ "$want" != "*" ] && [ "$rc" -ne "$want" ]; then
		cat "$tmp/out" "$tmp/err"
		ko "valgrind: floodgate $* exited $rc, not $want"
	elif [ "$want" = "*" ] && [ "$rc" -eq 0 ]; then
		ko "valgrind: floodgate $* accepted a bad argument"
	else
		ok "valgrind: floodgate $*"
	fi
}
while read -r want args; do
	# shellcheck disable=SC2086 # word splitting wanted
	vg "$want" $args
done < <(vg_cases)

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
