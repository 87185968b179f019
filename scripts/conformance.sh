#!/usr/bin/env bash
# Replays the AWS-validated Step Functions cases (tui/asl/conformance/cases.jsonl, Apache-2.0,
# from LocalStack's AWS-validated snapshots; see tui/asl/conformance/README.md)
# through the local ASL engine and prints a per-area table, then
#   jsonpath: N passed, M failed
#   jsonata: N passed, M failed
# Exits non-zero only if the harness itself cannot run; the counts are the report.
# Extra arguments go to the harness: --verbose SUBSTRING (diff one case), --failures,
# --cases PATH. SCONES_CONFORMANCE_DIR overrides the cases directory.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p scones-asl --example conformance -- "$@"
