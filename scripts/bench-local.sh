#!/usr/bin/env bash
# Local-stack benchmark (release build), in a fresh home so runs are comparable:
#   1. stage the shared data (PNG folder + labels.csv)        -> staging time
#   2. train the default model on train/ (validation held out) -> training time
#   3. evaluate on test/ (never used for training/selection)  -> accuracy
#   4. endpoint inference on every test image                  -> p50/p99 latency
#   5. `scones run --local --random N` (default 10000), twice  -> executions/s with history
#
#   scripts/bench-local.sh            # full benchmark
#   BENCH_RUNS=2000 scripts/bench-local.sh
#   SCONES_BENCH_HOME=/tmp/h scripts/bench-local.sh   # keep (and reuse) the home
#
# Data: $SCONES_SHARED_DATA (default <repo>/../shared/data/cifar100-bikes). Timings are wall
# time on this machine: the load average is printed before and after, since other builds on
# the same cores slow everything down.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

data="$(shared_data_dir)"
[ -f "$data/labels.csv" ] || die "no shared data at $data (set SCONES_SHARED_DATA)"
runs="${BENCH_RUNS:-10000}"
if [ -n "${SCONES_BENCH_HOME:-}" ]; then
    home="$SCONES_BENCH_HOME"
else
    home="$(mktemp -d)"
    trap 'rm -rf "$home"' EXIT
fi

log "building (profile app, what scripts/dashboard.sh runs)"
bin="$(build_scones)"
cargo build --quiet --release -p scones-local --example bench_endpoint
scones() { "$bin" --home "$home" "$@"; }

echo "load before: $(uptime)"
log "stage from $data"
start=$(date +%s%N)
scones stage --local --images "$data" --labels "$data/labels.csv"
echo "stage wall time: $(( ($(date +%s%N) - start) / 1000000 )) ms"

log "train (default configuration)"
scones train --local

log "eval on test/"
scones eval --local --images "$data" --labels "$data/labels.csv" --split test

log "endpoint inference latency"
cargo run --quiet --release -p scones-local --example bench_endpoint -- --home "$home" --n 2000

for i in 1 2; do
    log "scones run --local --random $runs (run $i)"
    scones run --local --random "$runs" --quiet
done
echo "store: $(du -h "$home/scones.sqlite3" | cut -f1) ($(du -sh "$home/bucket/datacapture" | cut -f1) data capture)"
echo "load after: $(uptime)"
