#!/usr/bin/env bash
# The local stack in one command, idempotent (each step is skipped when already done):
#   1. stage: from $SCONES_SHARED_DATA (default <repo>/../shared/data/cifar100-bikes) when it
#      is there, else `scones stage` downloads CIFAR-100 (or, offline, stages a loudly
#      labelled synthetic set);
#   2. train the model unless one exists;
#   3. run executions of the workflow (default 200 random test images).
#
#   scripts/run.sh            # 200 executions
#   scripts/run.sh 1000       # 1000 executions
#   SCONES_HOME=/tmp/scones scripts/run.sh   # state elsewhere (default: XDG data dir)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

n="${1:-200}"
data="$(shared_data_dir)"
bin="$(build_scones)"
scones() { "$bin" "$@"; }

if [ -f "$data/labels.csv" ]; then
    scones stage --local --if-missing --images "$data" --labels "$data/labels.csv"
else
    scones stage --local --if-missing
fi
scones train --local --if-missing
scones run --local --random "$n"
