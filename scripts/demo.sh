#!/usr/bin/env bash
# demo.sh - the live demo: worker processes hammer keys of a shared segment
# and the admitted counts are compared with the token-bucket figures.
# Arguments are passed to floodgate-demo (-w WORKERS, -d SECONDS).
set -u
cd "$(dirname "$0")/.." || exit 2
. scripts/deps.sh
fg_install_deps || { echo "could not install dependencies"; exit 2; }
fg_build _build || exit 1
exec ./_build/daemon/floodgate-demo "$@"
