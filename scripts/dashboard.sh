#!/usr/bin/env bash
# The main command: the scones dashboard on the local stack.
#
# First run (idempotent, each step skipped when done): builds `scones` (profile `app`, for
# the local stack only: no AWS SDK unless --aws is given, see lib.sh's build_scones), stages the
# data — the labelled PNGs in $SCONES_SHARED_DATA (default <repo>/../shared/data/cifar100-bikes)
# when they are there, else what `scones stage` does by default (download CIFAR-100, or,
# offline, a loudly labelled synthetic set) — then the dashboard opens and trains the first
# model in the background (the header says how long it has left; `t` works once it serves).
# Press `t` for a test execution, `?` for every key, `q` to quit.
#
#   scripts/dashboard.sh                    # the dashboard on the local stack
#   scripts/dashboard.sh --readonly         # any `scones dashboard` option is passed on
#   scripts/dashboard.sh --aws --tf-dir terraform   # builds with AWS, opens the deployed stack
#   SCONES_HOME=/tmp/scones scripts/dashboard.sh   # state elsewhere (default: XDG data dir)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

data="$(shared_data_dir)"
# The local stack needs no AWS SDK: it is built in only when the dashboard is asked for AWS.
for arg in "$@"; do
    [ "$arg" = --aws ] && export SCONES_AWS=1
done
bin="$(build_scones)"

if [ -f "$data/labels.csv" ]; then
    "$bin" stage --local --if-missing --images "$data" --labels "$data/labels.csv"
fi
exec "$bin" dashboard "$@"
