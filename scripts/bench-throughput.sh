#!/usr/bin/env bash
# Throughput and latency of `scones run --local`, A/B in one sitting: executions/s of
# `run --random N --quiet` (concurrency 64, the default) and the p50/p99 latency of one
# execution at concurrency 64 and 1, for this build and any other binaries given, each run in
# a fresh copy of a trained home's bucket (no store, no capture: as a first run writes them).
# The binaries take turns (A B A B ...) so a change in the machine's load hits both; the
# medians over the rounds are printed last.
#
#   SCONES_BENCH_HOME=/tmp/h scripts/bench-throughput.sh                   # this build
#   SCONES_BENCH_HOME=/tmp/h scripts/bench-throughput.sh /path/to/old/scones
#   BENCH_RUNS=10000 BENCH_SERIAL_RUNS=1000 BENCH_ROUNDS=3 ...             # the defaults
#   SCONES_BENCH_BIN=/path/to/new/scones ... /path/to/old/scones           # two given binaries
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

[ -n "${SCONES_BENCH_HOME:-}" ] || die "set SCONES_BENCH_HOME to a home with a trained model"
runs="${BENCH_RUNS:-10000}"
serial_runs="${BENCH_SERIAL_RUNS:-1000}"
rounds="${BENCH_ROUNDS:-3}"
# SCONES_BENCH_BIN: a binary built elsewhere instead of this checkout's (e.g. two cold builds).
binaries=("${SCONES_BENCH_BIN:-$(build_scones)}" "$@")
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

# run_once BIN CONCURRENCY N: the summary line of N executions in a fresh home.
run_once() {
    local bin=$1 concurrency=$2 n=$3 home
    home="$(fresh_home_from "$SCONES_BENCH_HOME")"
    "$bin" --home "$home" run --local --random "$n" --concurrency "$concurrency" --quiet | tail -1
    rm -rf "$home"
}

echo "load before: $(uptime)"
for round in $(seq "$rounds"); do
    for i in "${!binaries[@]}"; do
        bin="${binaries[$i]}"
        for setting in "64 $runs" "1 $serial_runs"; do
            read -r concurrency n <<<"$setting"
            line="$(run_once "$bin" "$concurrency" "$n")"
            echo "round $round, binary $i ($bin), concurrency $concurrency: $line"
            echo "$i $concurrency $line" >>"$results"
        done
    done
done
echo "load after: $(uptime)"

echo "== medians over $rounds rounds =="
for i in "${!binaries[@]}"; do
    for concurrency in 64 1; do
        grep "^$i $concurrency " "$results" | python3 -c '
import re, statistics, sys
rows = [l for l in sys.stdin]
def median(pattern):
    values = [float(m.group(1)) for l in rows if (m := re.search(pattern, l))]
    return statistics.median(values) if values else float("nan")
rate = median(r"([0-9.]+) executions/s")
p50 = median(r"p50 ([0-9.]+) ms")
p99 = median(r"p99 ([0-9.]+) ms")
print(f"binary {sys.argv[1]} ({sys.argv[2]}), concurrency {sys.argv[3]}: "
      f"{rate:.0f} executions/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
' "$i" "${binaries[$i]}" "$concurrency"
    done
done
