#!/bin/sh
# SPDX-License-Identifier: ISC
# readme.sh - README.md's "first ten minutes" on one host, replayed word
# for word (TAP): every command of its "One host" section, as written,
# from a copy of the source tree, including ../configure --prefix=/usr
# --sysconfdir=/etc and sudo make install.
#
# The host it runs on is left alone: the commands run in mount and
# network namespaces of their own, where /usr, /etc and /var are overlays
# whose changes vanish with the test, /run and /dev/shm empty tmpfs, and
# loopback private.  What is not there is stood in for by small scripts
# (tests/readme-shims/): sudo runs the command (we are root), watch runs
# it once, and systemctl and journalctl do with floodgated.service what
# systemd would: make its StateDirectory= and RuntimeDirectory=, run its
# ExecStart= under ProtectSystem=strict (every mount read-only but its
# ReadWritePaths= and those directories), run its ExecReload= lines, and
# keep its output as the journal.  Then the test stops the daemon, loses
# the segment as a reboot does, starts it again, and checks that the
# buckets came back.  What the three-host section says in words (the
# keyring, the edits of the configuration) the test does with cat and
# sed; the key's name node1 is nodeN on host N.  Needs root (CI runs as
# root).
srcdir=${srcdir:-.}
srcdir=$(cd "$srcdir" && pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL # the replay's make is a user's make

skip_all() { echo "1..0 # SKIP $1"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "namespaces and overlays need root (CI runs as root)"
command -v unshare >/dev/null || skip_all "unshare (util-linux) not installed"
command -v ip >/dev/null || skip_all "ip (iproute2) not installed"

tmp=$(mktemp -d /tmp/fg-ops-readme-XXXXXX) || exit 1
trap '[ -n "${FG_KEEP:-}" ] || rm -rf "$tmp"' EXIT # FG_KEEP=1: keep it to look

# The commands: the indented lines of the sections "### One host" and
# "### Three hosts".
section() {
	awk -v h="### $1" '$0 == h { on = 1; next }
	     /^##/ { on = 0 }
	     on && /^    / { print substr($0, 5) }' "$srcdir/README.md"
}
section "One host" >"$tmp/commands"
section "Three hosts" >"$tmp/commands3"
if [ "$(wc -l <"$tmp/commands")" -lt 10 ] || [ "$(wc -l <"$tmp/commands3")" -lt 3 ]; then
	echo "1..1"
	echo "not ok 1 - README.md has its one-host and three-host commands"
	exit 1
fi

# A copy of the source as a reader has it: no build, no git.
mkdir "$tmp/src"
(cd "$srcdir" && tar --exclude='./_build*' --exclude=./_inst \
	--exclude=./.git --exclude=./autom4te.cache -cf - .) |
	tar -C "$tmp/src" -xf - || exit 1

export FG_SHIMS="$srcdir/tests/readme-shims" FG_SRCDIR="$srcdir" FG_TMP="$tmp"
# At the lowest CPU priority: the build must not starve the timed tests
# make check runs beside it.
nice -n 19 unshare -m -n -i --propagation private \
	sh "$srcdir/tests/readme-shims/host.sh" "$tmp/commands" "$tmp/commands3"
