#!/bin/sh
# SPDX-License-Identifier: ISC
# test-dashboard.sh - the Grafana dashboard is well formed, and every
# metric it and the alerting rules name is exported by a real floodgated
# (check_dashboard.py; TAP).  make check sets srcdir, FLOODGATED and
# FLOODGATE_CLI.
srcdir=${srcdir:-.}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec python3 "$srcdir/contrib/grafana/check_dashboard.py" \
	"$srcdir/contrib/grafana/floodgate.json" \
	"$srcdir/contrib/prometheus/floodgate.rules.yml" \
	"${FLOODGATED:-./daemon/floodgated}" "${FLOODGATE_CLI:-./cli/floodgate}"
