#!/bin/sh
# SPDX-License-Identifier: ISC
# test-rules.sh - the alerting rules are valid (promtool check rules) and
# fire when they should, with the text they should (promtool test rules
# floodgate.test.yml).  TAP; make check sets srcdir.  promtool comes with
# Debian's prometheus package (scripts/deps.sh).
srcdir=${srcdir:-.}
here=$srcdir/contrib/prometheus
echo "1..2"
if ! command -v promtool >/dev/null 2>&1; then
	echo "not ok 1 - promtool not found: install Debian's prometheus package"
	echo "not ok 2 - promtool not found"
	exit 1
fi
rc=0
if out=$(promtool check rules "$here/floodgate.rules.yml" 2>&1); then
	echo "ok 1 - promtool check rules floodgate.rules.yml"
else
	echo "$out" | sed 's/^/# /'
	echo "not ok 1 - promtool check rules floodgate.rules.yml"
	rc=1
fi
# promtool test rules resolves rule_files against the test file's directory
if out=$(cd "$here" && promtool test rules floodgate.test.yml 2>&1); then
	echo "ok 2 - promtool test rules floodgate.test.yml"
else
	echo "$out" | sed 's/^/# /'
	echo "not ok 2 - promtool test rules floodgate.test.yml"
	rc=1
fi
exit $rc
