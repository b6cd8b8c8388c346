#!/bin/sh
# SPDX-License-Identifier: ISC
# install.sh - make install lays floodgate out as a Debian package would,
# and writes nothing outside DESTDIR and the prefix (TAP).
#
# The build under test is the one make check runs in: it is installed with
# DESTDIR into a directory of its own, in a mount namespace where every
# other mount is read-only, so that anything written elsewhere (a hook
# that forgets DESTDIR, a path taken from the build machine) fails the
# install instead of landing on this machine.  configure is also run once
# more, with a non-root prefix, to check where its defaults put things.
# Needs root for the namespace (CI runs as root).
srcdir=${srcdir:-.}
srcdir=$(cd "$srcdir" && pwd)
build=$(pwd)
unset MAKEFLAGS MFLAGS MAKELEVEL # not the outer make's jobserver
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # check DESCRIPTION COMMAND...: ok if COMMAND succeeds
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }

[ "$(id -u)" -eq 0 ] || skip_all "a mount namespace needs root (CI runs as root)"
command -v unshare >/dev/null || skip_all "unshare (util-linux) not installed"
tmp=$(mktemp -d /tmp/fg-ops-install-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

. "$srcdir/tests/sandbox.sh"

echo "1..10"

# 1. configure's defaults follow a non-root prefix: nothing taken from
# the build machine's systemd (it says /lib/systemd/system).
mkdir -p "$tmp/conf"
if (cd "$tmp/conf" && nice -n 19 "$srcdir/configure" --prefix="$tmp/p" \
	>configure.out 2>&1) &&
	make -s -C "$tmp/conf" install-dirs >"$tmp/conf/dirs" 2>&1; then
	outside=$(sed -n 's/^[a-z]*=//p' "$tmp/conf/dirs" |
		grep -v "^$tmp/p/" | grep -v "^$tmp/p\$")
	if [ -z "$outside" ]; then
		ok "configure --prefix=DIR puts every install directory in DIR"
	else
		echo "$outside" | sed 's/^/# outside the prefix: /'
		not_ok "configure --prefix=DIR puts every install directory in DIR"
	fi
else
	tail -20 "$tmp/conf/configure.out" "$tmp/conf/dirs" | sed 's/^/# /'
	not_ok "configure --prefix=DIR puts every install directory in DIR"
fi

# 2. make install writes nothing outside DESTDIR (and the build tree,
# where libtool relinks the Apache module for its installed place).
make -s install-dirs >"$tmp/dirs" 2>&1 || cat "$tmp/dirs"
. "$tmp/dirs"
mkdir -p "$dest"
fg_sandbox "$tmp" "$build" -- nice -n 19 make -C "$build" install DESTDIR="$dest" \
	>"$tmp/install.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
	ok "make install DESTDIR=... writes nothing outside DESTDIR"
else
	[ $rc -eq 99 ] && echo "# could not make a read-only namespace"
	tail -30 "$tmp/install.out" | sed 's/^/# /'
	not_ok "make install DESTDIR=... writes nothing outside DESTDIR"
fi

# 3. Every file lands in one of the directories configure chose (in the
# prefix, unless configured elsewhere on purpose: --sysconfdir=/etc,
# --prefix=/usr's systemd directories).
roots=$(sed -n 's/^[a-z]*=//p' "$tmp/dirs")
stray=$(cd "$dest" && find . \( -type f -o -type l \) | sed 's/^\.//' |
	while read -r f; do
		hit=
		for r in $roots; do
			case $f in "$r"/*) hit=1 ;; esac
		done
		[ -n "$hit" ] || echo "$f"
	done)
if [ -z "$stray" ] && [ -n "$roots" ]; then
	ok "every installed file is in a configured directory"
else
	echo "$stray" | sed 's/^/# stray: /'
	not_ok "every installed file is in a configured directory"
fi
for r in $roots; do
	case $r in "$prefix" | "$prefix"/*) ;; *) echo "# configured outside the prefix: $r" ;; esac
done

# 4. No libtool archives (Debian policy 10.2).
la=$(find "$dest" -name '*.la')
check "no .la file is installed" test -z "$la"
[ -z "$la" ] || echo "$la" | sed 's/^/# /'

# 5. The unit runs the installed daemon on the installed configuration,
# under ProtectSystem=strict with the directories the configuration uses.
unit=$dest$systemdsystemunitdir/floodgated.service
conf=$dest$fgconfdir/floodgate.conf
unit_ok() {
	grep -qx "ExecStart=$sbindir/floodgated -f -c $fgconfdir/floodgate.conf" "$unit" &&
		grep -qx "ExecReload=$sbindir/floodgated -t -c $fgconfdir/floodgate.conf" "$unit" &&
		grep -qx "ProtectSystem=strict" "$unit" &&
		grep -qx "StateDirectory=floodgate" "$unit" &&
		grep -qx "RuntimeDirectory=floodgate" "$unit" &&
		test -x "$dest$sbindir/floodgated" &&
		cmp -s "$conf" "$srcdir/daemon/floodgate.conf.sample" &&
		grep -q "^snapshot /var/lib/floodgate/" "$conf"
}
check "the unit starts the installed daemon on the installed sample, its snapshot in StateDirectory=" unit_ok

# 6. The sysusers.d file makes the user the sample names, the tmpfiles.d
# file the snapshot's directory, as systemd reads them (into a root of
# their own).
users_ok() {
	systemd-sysusers --root="$tmp/root" "$dest$sysusersdir/floodgate.conf" \
		>/dev/null 2>&1 &&
		user=$(sed -n 's/^user[ 	]*\([^ 	#]*\).*/\1/p' "$conf") &&
		grep -q "^$user:" "$tmp/root/etc/passwd"
}
dirs_ok() {
	systemd-tmpfiles --root="$tmp/root" --create \
		"$dest$tmpfilesdir/floodgate.conf" &&
		[ "$(stat -c %a "$tmp/root/var/lib/floodgate")" = 700 ]
}
mkdir -p "$tmp/root/etc"
check "sysusers.d creates the user the sample configuration names" users_ok
check "tmpfiles.d creates /var/lib/floodgate, mode 0700" dirs_ok

# 7. man 3 fg_allow (and each public function) finds libfloodgate(3).
funcs=$(sed -n 's/^FG_EXPORT.*[ *]\(fg_[a-z_]*\)(.*/\1/p' "$srcdir/lib/floodgate.h")
man_ok() {
	for f in $funcs; do
		p=$(man -M "$dest$mandir" -w 3 "$f" 2>/dev/null)
		[ "$p" = "$dest$mandir/man3/libfloodgate.3" ] ||
			{ echo "# man 3 $f: '$p'"; return 1; }
	done
	MANPAGER=cat man -M "$dest$mandir" -P cat 3 fg_allow 2>/dev/null |
		grep -q "LIBFLOODGATE(3)"
}
check "man 3 FUNCTION shows libfloodgate(3) for each of the $(echo $funcs | wc -w) public functions" man_ok

# 8. The list cannot drift: every function the header exports is named in
# libfloodgate(3) and in the library's version script, and no other.
drift_ok() {
	[ "$(echo $funcs | wc -w)" -ge 13 ] || return 1
	names=$(sed -n 's/^\.Nm \(fg_[a-z_]*\).*/\1/p' "$srcdir/man/libfloodgate.3" | sort)
	syms=$(sed -n 's/^[ 	]*\(fg_[a-z_]*\);/\1/p' "$srcdir/lib/libfloodgate.sym" | sort)
	hdr=$(echo "$funcs" | tr ' ' '\n' | sort)
	[ "$hdr" = "$names" ] && [ "$hdr" = "$syms" ] ||
		{ echo "# header: $hdr" | tr '\n' ' '; echo; return 1; }
}
check "the header's functions are libfloodgate(3)'s NAMEs and the exported symbols" drift_ok

# 9. make uninstall takes everything back (the libraries too, whose .la
# is not there to name them).
make -C "$build" uninstall DESTDIR="$dest" >"$tmp/uninstall.out" 2>&1
left=$(find "$dest" \( -type f -o -type l \))
if [ -z "$left" ]; then
	ok "make uninstall DESTDIR=... removes every file"
else
	echo "$left" | sed 's/^/# left: /'
	not_ok "make uninstall DESTDIR=... removes every file"
fi
[ "$fails" -eq 0 ]
