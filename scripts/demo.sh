#!/usr/bin/env bash
# demo.sh - the live demo: three floodgated daemons on loopback, each with
# its own segment and workers, gossip signed consumption and hold one
# global limit together; the admitted counts are compared with rate x time
# + capacity.  Arguments are passed to floodgate-cluster-demo
# (-d SECONDS, -w WORKERS per node).  The single-host demo is
# _build/daemon/floodgate-demo.
set -u
cd "$(dirname "$0")/.." || exit 2
. scripts/deps.sh
fg_install_deps || { echo "could not install dependencies"; exit 2; }
fg_build _build || exit 1
FLOODGATED=_build/daemon/floodgated exec ./_build/daemon/floodgate-cluster-demo "$@"
