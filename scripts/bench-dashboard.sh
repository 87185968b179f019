#!/usr/bin/env bash
# Dashboard benchmarks (release builds):
#   1. frame render time per view at 80x24 and 160x48, and the UI-thread cost of merging a
#      refresh / typing a filter, with 10k and 100k executions in the store (criterion);
#   2. per size, in a fresh process: initial load time, frame time p50/p99, RSS and peak
#      RSS, and backend calls per refresh at steady state on each view;
#   3. idle CPU of the real `scones dashboard` in tmux (80x24) over 30 s on the largest store.
# Goals (issue 6): <= 2 ms per frame, <= 150 MB.
#
# Env: SCONES_BENCH_SIZES (default 10000,100000), SCONES_BENCH_IDLE_SECONDS (default 30).
# Numbers taken while other builds run are noisy: repeat them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SIZES=${SCONES_BENCH_SIZES:-10000,100000}
IDLE=${SCONES_BENCH_IDLE_SECONDS:-30}
WORK=$(mktemp -d)
SESSION="scones-bench-$$"
# A private tmux server: its sessions get this script's environment (SCONES_HOME...), not
# that of a tmux server the user already runs, and killing it touches nothing else.
tmx() { tmux -L "$SESSION" "$@"; }
cleanup() {
    tmx kill-server 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$ROOT"

echo "== frame render time (criterion) =="
SCONES_BENCH_SIZES=$SIZES cargo bench -q -p scones --bench dashboard_render -- --noplot 2>&1 \
    | grep -E '^frame/|time:' || true

LARGEST=""
for n in ${SIZES//,/ }; do
    echo
    echo "== $n executions: load, frames, memory, calls per refresh (fresh process) =="
    cargo bench -q -p scones --bench dashboard_memory -- populate "$WORK/home-$n" "$n"
    cargo bench -q -p scones --bench dashboard_memory -- measure "$WORK/home-$n" "$n"
    LARGEST=$n
done

echo
echo "== idle CPU of the running dashboard ($LARGEST executions, ${IDLE} s, 80x24) =="
if command -v tmux >/dev/null; then
    cargo build -q --release -p scones
    BIN="$TARGET/release/scones"
    tmx new-session -d -s "$SESSION" -x 80 -y 24 \
        "SCONES_HOME='$WORK/home-$LARGEST' XDG_CONFIG_HOME='$WORK/config' exec '$BIN' dashboard --readonly --no-setup"
    PID=$(tmx display -p -t "$SESSION" '#{pane_pid}')
    # Let it load the list and settle.
    for _ in $(seq 1 300); do
        tmx capture-pane -p -t "$SESSION" | grep -q "Executions $LARGEST " && break
        sleep 0.1
    done
    sleep 5
    ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
    HZ=$(getconf CLK_TCK)
    before=$(ticks)
    sleep "$IDLE"
    after=$(ticks)
    RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    awk -v d=$((after - before)) -v hz="$HZ" -v s="$IDLE" -v rss="$RSS" 'BEGIN {
        printf "idle CPU %.2f%% of one core (%d ticks in %d s); RSS %.1f MB\n", 100 * d / hz / s, d, s, rss / 1024 }'
    tmx send-keys -t "$SESSION" q
else
    echo "tmux not installed: skipped"
fi
