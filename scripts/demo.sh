#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# demo.sh - the live demo: three floodgated daemons on loopback, each with
# its own segment and workers, gossip signed consumption and hold one
# global limit together.  On a terminal a chart shows the cluster's
# admitted rate against the limit as it runs (plain lines when the output
# is not a terminal); the summary compares the admitted counts with
# rate x time + capacity and with each daemon's own counters.  Arguments
# are passed to floodgate-cluster-demo (-d SECONDS, -w WORKERS per node,
# -m auto|chart|lines).  The single-host demo is _build/demo/floodgate-demo.
set -u
cd "$(dirname "$0")/.." || exit 2
. scripts/deps.sh
fg_install_deps || { echo "could not install dependencies"; exit 2; }
fg_build _build || exit 1
FLOODGATED=_build/daemon/floodgated exec ./_build/demo/floodgate-cluster-demo "$@"
