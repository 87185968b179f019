#!/usr/bin/env bash
# Time and peak memory of one monitor-drift run (the AWS drift Lambda's work) over the newest
# 10,000 captured inferences, S3 and CloudWatch served by the emulator on 127.0.0.1:
#
#   scripts/bench-monitor-drift.sh HOME      # a local home with a trained model and traffic
#   BENCH_CAPTURES=10000 BENCH_RUNS=5 scripts/bench-monitor-drift.sh HOME
#
# The goal (issue 13): <= 1 s and <= 100 MB, so the function runs at 128 MB. The emulator's
# S3 is slower than S3 from inside a region; the time is an upper bound of the computation's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
[ $# -eq 1 ] || die "usage: scripts/bench-monitor-drift.sh HOME"
cargo build --quiet --locked --profile lambda-release -p monitor-drift --example bench_monitor
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
scripts/with-moto.sh "${CARGO_TARGET_DIR:-$REPO_ROOT/target}/lambda-release/examples/bench_monitor" "$1"
