#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# check.sh - build floodgate's Debian packages in a copy of the tree and
# check them; what .ci/run's "Debian packages" stage runs.
#
#   bash debian/check.sh [DIR]    DIR keeps the .debs, .changes and logs
#
# 1. The copy: the files git knows of (tracked, or new and not ignored),
#    as they are in the work tree, so that _build*/ and a configured
#    srcdir are neither used nor touched.
# 2. dpkg-buildpackage -us -uc -b with nocheck (the suite is CI's first
#    stage; HACKING.md says how to build with it), after installing the
#    build dependencies and lintian when they are missing (as root).
# 3. lintian, failing on any error, warning or info tag that is not
#    overridden (with its reason) in debian/*.lintian-overrides.
# 4. dpkg-deb: each package has the files and dependencies it must have,
#    read from the places upstream's tools name (apxs, php-config, the
#    header), not from a list that could drift with the packaging.
# 5. As root: the packages installed with dpkg, maintainer scripts and
#    all, into an overlay of / in a mount namespace of its own, which
#    vanishes with it: the daemon's user, directory, conffile and unit;
#    a program built with pkg-config against the installed library;
#    Apache, nginx and PHP loading their modules; then a purge.
#
# Prints ok / not ok lines and closes with "N passed, N failed".
# shellcheck disable=SC2317 # the checks are functions check() calls
set -u
src=$(cd "$(dirname "$0")/.." && pwd) || exit 2
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
n_ok=0
n_fail=0
ok() { n_ok=$((n_ok + 1)); echo "ok - $1"; }
not_ok() { n_fail=$((n_fail + 1)); echo "not ok - $1"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
finish() {
	echo "$n_ok passed, $n_fail failed"
	[ "$n_fail" -eq 0 ]
	exit
}

version=$(sed -n 's/^AC_INIT(\[floodgate\], \[\([^]]*\)\].*/\1/p' "$src/configure.ac")
arch=$(dpkg --print-architecture)
keep=${1:-}
work=$(mktemp -d /tmp/fg-deb-XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT
tree=$work/floodgate-$version

# ---------------------------------------------------------------- sources
check "debian/changelog's version is configure.ac's AC_INIT version ($version)" \
	test "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)" = "$version"
sym_names() { sed -n 's/^[[:space:]]*\(fg_[a-z_]*\);.*/\1/p' "$src/lib/libfloodgate.sym" | sort; }
deb_names() { sed -n 's/^ \(fg_[a-z_]*\)@.*/\1/p' "$src/debian/libfloodgate0.symbols" | sort; }
check "debian/libfloodgate0.symbols names the symbols of lib/libfloodgate.sym" \
	test "$(sym_names)" = "$(deb_names)" -a -n "$(sym_names)"

mkdir -p "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
		tar -xf - -C "$tree"
else
	(cd "$src" && tar --exclude='./_build*' --exclude=./.git -cf - .) |
		tar -xf - -C "$tree"
fi

# ---------------------------------------------------------------- tools
deps_ok() {
	(cd "$tree" && dpkg-checkbuilddeps -P nocheck) >/dev/null 2>&1 &&
		command -v lintian >/dev/null
}
if ! deps_ok && [ "$(id -u)" -eq 0 ]; then
	echo "installing the build dependencies (apt-get build-dep) and lintian"
	{ apt-get update -qq &&
		apt-get build-dep -y -qq -P nocheck --no-install-recommends "$tree/" &&
		apt-get install -y -qq --no-install-recommends lintian; } \
		>"$work/apt.log" 2>&1 || tail -20 "$work/apt.log"
fi
if ! deps_ok; then
	(cd "$tree" && dpkg-checkbuilddeps -P nocheck)
	not_ok "the build dependencies and lintian are installed"
	finish
fi

# ---------------------------------------------------------------- build
start=$(date +%s)
if (cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	DEB_BUILD_PROFILES=nocheck dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds the packages ($(($(date +%s) - start)) s)"
else
	tail -60 "$work/build.log"
	not_ok "dpkg-buildpackage -us -uc -b builds the packages"
	finish
fi
[ -z "$keep" ] || { mkdir -p "$keep" && cp "$work"/*.deb "$work"/*.changes \
	"$work"/*.buildinfo "$work"/build.log "$keep"/; }

# ---------------------------------------------------------------- lintian
# bogus-mail-host, the placeholder maintainer address, is overridden in
# each package; the .changes file and the -dbgsym packages dh_strip makes
# cannot carry an override, so it is suppressed here for them too.
if lintian --fail-on error,warning,info --display-info --pedantic \
	--suppress-tags bogus-mail-host "$work/floodgate_${version}_$arch.changes" \
	>"$work/lintian.log" 2>&1; then
	grep -v '^running with root privileges' "$work/lintian.log"
	ok "lintian: no error, warning or info tag that is not overridden"
else
	cat "$work/lintian.log"
	not_ok "lintian: no error, warning or info tag that is not overridden"
fi

# ---------------------------------------------------------------- contents
deb() { echo "$work/${1}_${version}_$arch.deb"; }
paths() { dpkg-deb -c "$(deb "$1")" | awk '{ sub(/^\./, "", $6); print $6 }'; }
has() { # has PACKAGE PATH...: every PATH is in PACKAGE
	local p=$1 f list
	shift
	list=$(paths "$p") || return 1
	for f; do
		grep -qxF "$f" <<<"$list" || { echo "# $p lacks $f"; return 1; }
	done
}
depends() { # depends PACKAGE NAME...: each NAME begins an alternative of Depends
	local p=$1 dep n
	shift
	dep=$(dpkg-deb -f "$(deb "$p")" Depends | tr ',|' '\n' | sed 's/^ *//')
	for n; do
		grep -q "^$n\( \|$\)" <<<"$dep" || { echo "# $p does not depend on $n: $dep"; return 1; }
	done
}
member() { dpkg-deb --fsys-tarfile "$(deb "$1")" | tar -xOf - ".$2"; }
script() { dpkg-deb -I "$(deb "$1")" "$2" 2>/dev/null; }

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
check "libfloodgate0: the library and its SONAME link" \
	has libfloodgate0 "/usr/lib/$ma/libfloodgate.so.0.0.0" "/usr/lib/$ma/libfloodgate.so.0"
symbols_ok() {
	script libfloodgate0 symbols | grep -q '^libfloodgate.so.0 libfloodgate0 #MINVER#' &&
		[ "$(script libfloodgate0 symbols | sed -n 's/^ \(fg_[a-z_]*\)@.*/\1/p' | sort)" = "$(sym_names)" ]
}
check "libfloodgate0: its symbols file lists every exported function" symbols_ok
funcs=$(sed -n 's/^FG_EXPORT.*[ *]\(fg_[a-z_]*\)(.*/\1/p' "$src/lib/floodgate.h")
man3=$(for f in $funcs; do echo "/usr/share/man/man3/$f.3.gz"; done)
# shellcheck disable=SC2086 # one path a word
check "libfloodgate-dev: header, .so link, floodgate.pc, libfloodgate(3) and a man link for each of the $(echo $funcs | wc -w) functions" \
	has libfloodgate-dev /usr/include/floodgate.h /usr/include/floodgate-version.h \
	"/usr/lib/$ma/libfloodgate.so" "/usr/lib/$ma/pkgconfig/floodgate.pc" \
	/usr/share/man/man3/libfloodgate.3.gz $man3
check "libfloodgate-dev: depends on this very libfloodgate0" \
	test "$(dpkg-deb -f "$(deb libfloodgate-dev)" Depends)" = "libfloodgate0 (= $version)"
pc_ok() { member libfloodgate-dev "/usr/lib/$ma/pkgconfig/floodgate.pc" | grep -qx "Version: $version"; }
check "libfloodgate-dev: floodgate.pc says version $version" pc_ok
check "floodgated: daemon, CLI, unit, sysusers.d, tmpfiles.d, configuration and man pages" \
	has floodgated /usr/sbin/floodgated /usr/bin/floodgate \
	/lib/systemd/system/floodgated.service /usr/lib/sysusers.d/floodgate.conf \
	/usr/lib/tmpfiles.d/floodgate.conf /etc/floodgate/floodgate.conf \
	/usr/share/man/man1/floodgate.1.gz /usr/share/man/man5/floodgate.conf.5.gz \
	/usr/share/man/man8/floodgated.8.gz
conf_ok() {
	[ "$(script floodgated conffiles)" = /etc/floodgate/floodgate.conf ] &&
		member floodgated /etc/floodgate/floodgate.conf |
		cmp -s - "$src/daemon/floodgate.conf.sample"
}
check "floodgated: /etc/floodgate/floodgate.conf is a conffile, and the sample" conf_ok
unit_ok() {
	member floodgated /lib/systemd/system/floodgated.service |
		grep -qx 'ExecStart=/usr/sbin/floodgated -f -c /etc/floodgate/floodgate.conf'
}
check "floodgated: the unit starts /usr/sbin/floodgated on /etc/floodgate/floodgate.conf" unit_ok
scripts_ok() {
	script floodgated postinst | grep -q 'systemd-sysusers .*floodgate.conf' &&
		script floodgated postinst | grep -q 'systemd-tmpfiles .*--create floodgate.conf' &&
		script floodgated postinst | grep -q "deb-systemd-helper enable 'floodgated.service'" &&
		script floodgated postrm | grep -q 'deb-systemd-helper purge'
}
check "floodgated: debhelper's maintainer scripts make the user and directory and enable the unit" scripts_ok
check "floodgated: depends on libsodium, libmicrohttpd, libhiredis and systemd-sysusers" \
	depends floodgated 'libsodium[0-9]*' 'libmicrohttpd[0-9]*' 'libhiredis[0-9.]*' systemd

apachemod=$(apxs -q LIBEXECDIR 2>/dev/null)/mod_floodgate.so
check "libapache2-mod-floodgate: $apachemod, floodgate.load and floodgate.conf" \
	has libapache2-mod-floodgate "$apachemod" /etc/apache2/mods-available/floodgate.load \
	/etc/apache2/mods-available/floodgate.conf
load_ok() {
	member libapache2-mod-floodgate /etc/apache2/mods-available/floodgate.load |
		grep -qx "LoadModule floodgate_module $apachemod"
}
check "libapache2-mod-floodgate: floodgate.load loads $apachemod" load_ok
apache_deps_ok() {
	depends libapache2-mod-floodgate 'apache2-api-[0-9]*' libfloodgate0 &&
		script libapache2-mod-floodgate postinst | grep -q 'apache2_invoke enmod'
}
check "libapache2-mod-floodgate: depends on Apache's module API and libfloodgate0; a2enmod on install" \
	apache_deps_ok

ngxabi=$(sed -n 's/^nginx:abi=//p' /usr/share/nginx/src/debian/libnginx-mod.abisubstvars 2>/dev/null)
ngxmod=/usr/lib/nginx/modules/ngx_http_floodgate_module.so
ngx_ok() {
	has libnginx-mod-http-floodgate "$ngxmod" \
		/usr/share/nginx/modules-available/mod-http-floodgate.conf &&
		member libnginx-mod-http-floodgate \
			/usr/share/nginx/modules-available/mod-http-floodgate.conf |
		grep -qx "load_module $ngxmod;"
}
check "libnginx-mod-http-floodgate: the module, and a load_module snippet naming it" ngx_ok
check "libnginx-mod-http-floodgate: depends on nginx's ABI (${ngxabi:-unknown}) and libfloodgate0" \
	depends libnginx-mod-http-floodgate "${ngxabi:-nginx-abi-}" libfloodgate0

phpext=$(php-config8.2 --extension-dir 2>/dev/null)/floodgate.so
phpapi=phpapi-$(php-config8.2 --phpapi 2>/dev/null)
check "php8.2-floodgate: $phpext and floodgate.ini for phpenmod" \
	has php8.2-floodgate "$phpext" /etc/php/8.2/mods-available/floodgate.ini
check "php8.2-floodgate: depends on $phpapi and libfloodgate0" \
	depends php8.2-floodgate "$phpapi" libfloodgate0

# ---------------------------------------------------------------- install
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
	echo "ok - installed into an overlay of / # SKIP needs root and unshare (CI runs as root)"
	finish
fi
mkdir -p "$work/ovl" "$work/ovl-mnt"
cp "$work"/*.deb "$work/ovl/" && rm -f "$work"/ovl/*-dbgsym_*.deb
cat >"$work/ovl/probe.c" <<'EOF'
/* The installed library end to end: a segment in the namespace's own
 * /dev/shm, a rule of capacity 3, five checks of one key: three pass. */
#include <floodgate.h>
#include <stdio.h>
int main(void)
{
	fg_client *c = NULL;
	fg_segment_opts o = { .capacity = 1000, .mode = 0600 };
	fg_rule r = { .name = "probe", .capacity = 3, .rate = 1,
	              .period_ms = 3600000, .flags = 0 };
	int rc = fg_create("fg-debian-probe", &o, 0, &c), allowed = 0;
	if (rc == 0)
		rc = fg_rule_set(c, &r);
	for (int i = 0; rc == 0 && i < 5; i++) {
		int a = fg_allow(c, "probe", "k", 1, NULL);
		if (a < 0)
			rc = a;
		allowed += a == 1;
	}
	fg_close(c);
	if (rc == 0)
		rc = fg_unlink("fg-debian-probe");
	printf("%s %d %d\n", FG_VERSION_STRING, allowed, rc);
	if (rc != 0)
		fprintf(stderr, "probe: %s\n", fg_strerror(rc));
	return rc != 0;
}
EOF
# Run in the chroot, with dpkg's view of an ordinary system: no init
# system running (/run is empty), policy-rc.d forbids starting services.
cat >"$work/ovl/inside.sh" <<'EOF'
set -u
cd /tmp/debs || exit 1
v=$1
pass() { echo "ok - installed: $1"; }
fail() { echo "not ok - installed: $1"; }
try() { d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
# What the packages' scripts make must not be there already (the
# machine's own tests may have made some of it outside the overlay).
fresh() {
	userdel floodgate 2>/dev/null
	groupdel floodgate 2>/dev/null
	rm -rf /etc/floodgate /var/lib/floodgate \
		/etc/systemd/system/multi-user.target.wants/floodgated.service
	! getent passwd floodgate >/dev/null && ! getent group floodgate >/dev/null
}
try "before: no floodgate user or group, /etc/floodgate or /var/lib/floodgate" fresh
try "dpkg -i libfloodgate0, libfloodgate-dev and floodgated" \
	dpkg -i "libfloodgate0_${v}_"*.deb "libfloodgate-dev_${v}_"*.deb "floodgated_${v}_"*.deb
try "the floodgate system user exists (sysusers.d)" \
	sh -c 'getent passwd floodgate | grep -q ":/usr/sbin/nologin$"'
try "/var/lib/floodgate is root's, mode 0700 (tmpfiles.d)" \
	test "$(stat -c %U:%a /var/lib/floodgate 2>/dev/null)" = root:700
try "floodgated.service is enabled" \
	test -L /etc/systemd/system/multi-user.target.wants/floodgated.service
try "dpkg knows /etc/floodgate/floodgate.conf as a conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' floodgated | grep -q '^ /etc/floodgate/floodgate.conf '"
try "floodgated -t accepts the installed configuration" \
	sh -c 'floodgated -t -c /etc/floodgate/floodgate.conf >/tmp/t.out 2>&1 || { cat /tmp/t.out; exit 1; }'
try "floodgate --version prints $v" sh -c "floodgate --version 2>&1 | grep -qF '$v'"
probe() {
	cc -o /tmp/probe /tmp/debs/probe.c $(pkg-config --cflags --libs floodgate) || return 1
	ldd /tmp/probe | grep "libfloodgate.so.0 => " | sed 's/^[[:space:]]*/# /'
	ldd /tmp/probe | grep -q "libfloodgate.so.0 => \(/usr\)\{0,1\}/lib/.*/libfloodgate.so.0 " &&
		out=$(/tmp/probe) && echo "# probe: $out" && [ "$out" = "$v 3 0" ]
}
try "a program built with pkg-config links the installed library: 3 of 5 pass a bucket of 3" probe
try "dpkg -i the Apache, nginx and PHP modules" dpkg -i \
	"libapache2-mod-floodgate_${v}_"*.deb "libnginx-mod-http-floodgate_${v}_"*.deb \
	"php8.2-floodgate_${v}_"*.deb
try "a2enmod enabled floodgate, and Apache loads it" sh -c \
	'test -L /etc/apache2/mods-enabled/floodgate.load &&
	 apache2ctl -M 2>&1 | grep -q "floodgate_module (shared)"'
try "nginx -t loads the module from modules-enabled" sh -c \
	'test -L /etc/nginx/modules-enabled/50-mod-http-floodgate.conf &&
	 nginx -t -q -g "error_log stderr;"'
try "phpenmod enabled the extension, and php loads it" sh -c \
	'php -r "exit(function_exists(\"floodgate_allow\") ? 0 : 1);"'
try "dpkg --purge removes all six" dpkg --purge libapache2-mod-floodgate \
	libnginx-mod-http-floodgate php8.2-floodgate floodgated libfloodgate-dev libfloodgate0
try "nothing is left: configuration, modules-enabled links, library" sh -c \
	'! test -e /etc/floodgate && ! test -e /etc/apache2/mods-enabled/floodgate.load &&
	 ! test -e /etc/nginx/modules-enabled/50-mod-http-floodgate.conf &&
	 ! ls /etc/php/8.2/*/conf.d/*floodgate* >/dev/null 2>&1 &&
	 ! ldconfig -p | grep -q libfloodgate'
EOF
# Outside the chroot, in the namespace: the overlay and its mounts.
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m --propagation private sh -c '
	set -e
	w=$1; v=$2
	mount -t tmpfs tmpfs "$w/ovl-mnt"
	mkdir "$w/ovl-mnt/upper" "$w/ovl-mnt/work" "$w/ovl-mnt/root"
	r=$w/ovl-mnt/root
	mount -t overlay overlay -o "lowerdir=/,upperdir=$w/ovl-mnt/upper,workdir=$w/ovl-mnt/work" "$r"
	mount -t proc proc "$r/proc"
	mount -t tmpfs tmpfs "$r/dev"
	for d in null zero full random urandom; do
		touch "$r/dev/$d"; mount --bind "/dev/$d" "$r/dev/$d"
	done
	mkdir "$r/dev/shm"
	mount -t tmpfs tmpfs "$r/run"
	mkdir -m 1777 "$r/run/lock"
	mount -t tmpfs tmpfs "$r/tmp"
	mkdir "$r/tmp/debs"
	cp "$w"/ovl/* "$r/tmp/debs/"
	printf "#!/bin/sh\nexit 101\n" >"$r/usr/sbin/policy-rc.d"
	chmod 755 "$r/usr/sbin/policy-rc.d"
	set +e
	chroot "$r" /bin/sh /tmp/debs/inside.sh "$v"
' sh "$work" "$version" >"$work/install.log" 2>&1
i_ok=$(grep -c '^ok ' "$work/install.log")
i_fail=$(grep -c '^not ok ' "$work/install.log")
if [ "$i_fail" -eq 0 ] && [ "$i_ok" -gt 0 ]; then
	grep -E '^(ok|# probe)' "$work/install.log"
else
	cat "$work/install.log"
fi
n_ok=$((n_ok + i_ok))
n_fail=$((n_fail + i_fail))
[ "$i_ok" -gt 0 ] || not_ok "installed into an overlay of / (namespace or overlay failed)"
[ -n "$keep" ] && cp "$work/install.log" "$work/lintian.log" "$keep/"
finish
