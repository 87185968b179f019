#!/usr/bin/env bash
# Model benchmark (release build): trains the shipped default configuration on the shared
# train split (a final fit on all of it: no validation part; the configuration's
# cross-validated accuracy is in tui/model/SELECTION.md), prints training wall and CPU time,
# evaluates on the test split (the report ends with `accuracy: 0.xxx`) and times
# decode + forward of one 32x32 PNG (p50/p99).
#
#   scripts/bench-model.sh                 # the benchmark
#   scripts/bench-model.sh --skip-test     # hyper-parameter search: never look at test/
#                                          # (select by 5-fold CV: the cv_model example)
#   scripts/bench-model.sh --config c.json --save /tmp/model
#
# Data: $SCONES_SHARED_DATA (default <repo>/../shared/data/cifar100-bikes).
# Training time is wall time on this machine: report `uptime` load alongside it, since other
# builds on the same cores slow it down.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export SCONES_SHARED_DATA="${SCONES_SHARED_DATA:-$repo/../shared/data/cifar100-bikes}"
echo "load before: $(uptime)"
cargo run --quiet --release -p scones-model --example bench_model -- "$@"
echo "load after: $(uptime)"
