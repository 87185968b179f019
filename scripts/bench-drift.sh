#!/usr/bin/env bash
# Drift benchmark on the local stack (app build), in a trained home:
#   1. false alarms: unperturbed test traffic, N windows of W inferences, each judged
#      against the model's baseline -> verdict counts (goal: no WARN or ALERT)
#   2. detection delay: after W unperturbed inferences, each perturbation sent in steps of
#      STEP until the current window (the last W inferences) is ALERT -> inferences needed
#   3. time and peak memory of one drift computation over the last 10,000 inferences
#
#   SCONES_BENCH_HOME=/tmp/h scripts/bench-drift.sh     # a home with a trained model
#   DRIFT_WINDOW=500 DRIFT_WINDOWS=20 DRIFT_STEP=25 scripts/bench-drift.sh
#
# Without SCONES_BENCH_HOME a fresh home is staged from $SCONES_SHARED_DATA (default
# <repo>/../shared/data/cifar100-bikes) and trained (~65 s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

window="${DRIFT_WINDOW:-500}"
windows="${DRIFT_WINDOWS:-20}"
step="${DRIFT_STEP:-25}"
bin="$(build_scones)"
if [ -n "${SCONES_BENCH_HOME:-}" ]; then
    home="$SCONES_BENCH_HOME"
else
    home="$(mktemp -d)"
    trap 'rm -rf "$home"' EXIT
    data="$(shared_data_dir)"
    [ -f "$data/labels.csv" ] || die "no shared data at $data (set SCONES_SHARED_DATA)"
    "$bin" --home "$home" stage --local --images "$data" --labels "$data/labels.csv" >/dev/null
    "$bin" --home "$home" train --local
fi
scones() { "$bin" --home "$home" "$@"; }
verdict() { scones drift --window "$window" --windows 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["windows"][-1]["report"]["verdict"])'; }

echo "load before: $(uptime)"
log "false alarms: $windows windows of $window unperturbed inferences"
scones run --local --random $((window * windows)) --quiet
scones drift --window "$window" --windows "$windows" --json | python3 -c '
import collections, json, sys
d = json.load(sys.stdin)
verdicts = collections.Counter(w["report"]["verdict"] for w in d["windows"])
by_statistic = collections.Counter(
    f["statistic"] if isinstance(f["statistic"], str) else list(f["statistic"].values())[0]
    for w in d["windows"] for f in w["report"]["findings"] if f["verdict"] in ("WARN", "ALERT"))
print("windows:", len(d["windows"]), "verdicts:", dict(verdicts), "statistics not OK:", dict(by_statistic))'

log "time and memory of one drift computation over the last 10,000 inferences"
scones run --local --random $((10000 - window * windows > 0 ? 10000 - window * windows : 0)) --quiet
/usr/bin/time -f "drift over 10000: %e s wall, %M KB peak RSS" "$bin" --home "$home" drift --window 10000 --windows 1 >/dev/null

for kind in darken noise blur one-class; do
    scones run --local --random "$window" --quiet >/dev/null   # the window is clean again
    [ "$(verdict)" = "OK" ] || echo "warning: the window before $kind is $(verdict)"
    sent=0
    while [ "$(verdict)" != "ALERT" ]; do
        scones run --local --random "$step" --quiet --perturb "$kind" >/dev/null
        sent=$((sent + step))
        [ "$sent" -le "$window" ] || { echo "$kind: no ALERT after $sent perturbed inferences"; break; }
    done
    [ "$sent" -gt "$window" ] || echo "$kind: ALERT after $sent perturbed inferences (window $window, steps of $step)"
done
echo "load after: $(uptime)"
