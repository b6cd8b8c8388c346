#!/bin/sh
# SPDX-License-Identifier: ISC
# gen-arginfo.sh - regenerate floodgate_arginfo.h from floodgate.stub.php
# with PHP's own gen_stub.php (php8.2-dev) and Debian's PHP-Parser
# (php-parser), offline: gen_stub.php looks for PHP-Parser next to itself
# and would download it, so it runs from a temporary copy that finds
# Debian's instead.  Usage: sh gen-arginfo.sh [PHP_CONFIG]
set -e
here=$(cd "$(dirname "$0")" && pwd)
php_config=${1:-php-config}
build=$($php_config --extension-dir)/build # Debian's phpdir
[ -f "$build/gen_stub.php" ] ||
	{ echo "gen-arginfo.sh: no $build/gen_stub.php (install php-dev)" >&2; exit 1; }
php=$($php_config --php-binary)
[ -f /usr/share/php/PhpParser/Parser.php ] ||
	{ echo "gen-arginfo.sh: install php-parser (PHP-Parser)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$build/gen_stub.php" "$tmp/"
version=$(sed -n 's/^ *\$version = "\([0-9.]*\)";/\1/p' "$tmp/gen_stub.php")
mkdir -p "$tmp/PHP-Parser-$version/lib"
ln -s /usr/share/php/PhpParser "$tmp/PHP-Parser-$version/lib/PhpParser"
"$php" "$tmp/gen_stub.php" -f "$here/floodgate.stub.php"
