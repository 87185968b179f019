#!/usr/bin/env bash
# Store benchmark: bytes per execution, capture bytes per inference and executions/s of
# `scones run --local --random N`, and `scones gc` over the result, for this build and
# (optionally) another binary in the same sitting (A/B):
#
#   SCONES_BENCH_HOME=/tmp/h scripts/bench-store.sh                 # a home with a trained model
#   SCONES_BENCH_HOME=/tmp/h scripts/bench-store.sh /path/to/old/scones
#   BENCH_RUNS=20000 ...                                             # executions per binary
#
# Each binary runs in a fresh copy of the home's bucket (staged data and models, no store,
# no capture), so both start from the same place. The store is checkpointed before it is
# measured (the WAL folded into the file).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

[ -n "${SCONES_BENCH_HOME:-}" ] || die "set SCONES_BENCH_HOME to a home with a trained model"
runs="${BENCH_RUNS:-20000}"
binaries=("$(build_scones)" "$@")
python="$VENV_DIR/bin/python"
[ -x "$python" ] || python=python3

echo "load before: $(uptime)"
for bin in "${binaries[@]}"; do
    home="$(fresh_home_from "$SCONES_BENCH_HOME")"
    log "$bin: run --local --random $runs"
    "$bin" --home "$home" run --local --random "$runs" | tail -1
    "$python" - "$home/scones.sqlite3" "$runs" <<'PY'
import sqlite3, sys, os
path, runs = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(path)
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
n = c.execute("select count(*) from executions").fetchone()[0]
size = os.path.getsize(path)
print(f"store: {size/1e6:.1f} MB for {n} executions = {size/max(n,1):.0f} bytes/execution")
PY
    capture=$(du -sb "$home/bucket/datacapture" | cut -f1)
    echo "capture: $((capture / 1000000)) MB = $((capture / runs)) bytes/inference"
    if "$bin" gc --help >/dev/null 2>&1; then
        start=$(date +%s%N)
        "$bin" --home "$home" gc --keep 1000
        echo "gc --keep 1000: $(( ($(date +%s%N) - start) / 1000000 )) ms"
    fi
    rm -rf "$home"
done
echo "load after: $(uptime)"
