#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# deps.sh - install what building and testing floodgate needs, if missing.
# Sourced by demo.sh and test.sh; Debian 12 package names.
FG_DEPS="build-essential autoconf automake libtool autoconf-archive pkg-config
liburcu-dev libsodium-dev libcriterion-dev mandoc libmicrohttpd-dev curl
libhiredis-dev redis-server
apache2 apache2-dev apache2-utils wrk gunicorn python3 curl iproute2
prometheus gnuplot-nox clang-format faketime
php8.2-dev php8.2-cli php8.2-fpm libfcgi-bin php-parser
nginx nginx-dev uwsgi uwsgi-plugin-python3
python3-venv python3-pip python3-setuptools python3-wheel
systemd man-db pmccabe binutils"

fg_install_deps() {
	local missing="" p sudo=""
	# the system user floodgated's network process runs as, when started
	# as root (floodgated(8)); make install creates it the same way
	if ! getent passwd floodgate >/dev/null && [ "$(id -u)" -eq 0 ]; then
		systemd-sysusers - \
			<"$(dirname "${BASH_SOURCE[0]}")/../daemon/sysusers.d/floodgate.conf" ||
			return 1
	fi
	for p in $FG_DEPS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "installing:$missing"
	$sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			--no-install-recommends $missing >/dev/null
}

# fg_build DIR [configure args...]: configure (once) and build out of tree.
fg_build() {
	local dir=$1
	shift
	[ -x configure ] && [ configure -nt configure.ac ] &&
		[ Makefile.in -nt Makefile.am ] || autoreconf -fi >/dev/null 2>&1 ||
		{ echo "autoreconf failed"; return 1; }
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && ../configure --enable-Werror "$@" >configure.out 2>&1) ||
			{ cat "$dir/configure.out"; return 1; }
	fi
	make -C "$dir" -j"$(nproc)" >"$dir/build.out" 2>&1 ||
		{ tail -50 "$dir/build.out"; return 1; }
}
