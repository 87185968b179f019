#!/usr/bin/env bash
# The control loop rehearsed on the local stack, end to end, with the commands an operator
# uses (issue 25), and what it measures:
#   1. a home staged from the labelled data and trained: the first version serves
#   2. unshifted traffic: the guard accepts
#   3. shifted traffic made from train/ images (never test/), one execution at a time:
#      inferences from the start of the shift until the guard holds (DriftHold), and the
#      wrong decisions accepted before it held (labels from labels.csv)
#   4. the queue fills; labels come from labels.csv through `scones review import`,
#      standing in for a person, in steps (LABEL_STEPS); after each step the model is
#      retrained and scored on the shifted copy of test/ (`scones eval --perturb`, in
#      memory, never trained on): labels needed for 0.85, and its plain test/ accuracy
#   5. the rest of the queue labelled and a retrain; `scones models` compares and
#      `scones promote latest` runs the gate
#   6. shifted traffic again: drift against the new version's baseline, the guard releasing
#   7. a promotion and a rollback during a running burst of executions: failures other
#      than LowConfidence/DriftHold, and how long after each command the endpoint switched
#
#   scripts/rehearse.sh                       # a fresh home in a temporary directory
#   SCONES_REHEARSAL_HOME=/tmp/r PERTURB=overexpose LABEL_STEPS="100 200 300" scripts/rehearse.sh
#
# Data: $SCONES_SHARED_DATA (default <repo>/../shared/data/cifar100-bikes) with labels.csv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

kind="${PERTURB:-overexpose}"
steps="${LABEL_STEPS:-50 100 150 200 300}"
target="${TARGET_ACCURACY:-0.85}"
data="$(shared_data_dir)"
labels_csv="$data/labels.csv"
[ -f "$labels_csv" ] || die "no labelled data at $data (set SCONES_SHARED_DATA)"
bin="$(build_scones)"
if [ -n "${SCONES_REHEARSAL_HOME:-}" ]; then
    home="$SCONES_REHEARSAL_HOME"
    mkdir -p "$home"
else
    home="$(mktemp -d)"
    trap 'rm -rf "$home"' EXIT
fi
scones() { "$bin" --home "$home" "$@"; }
# Reads stdin with python3, the script given as the argument.
py() { python3 -c "$1" "${@:2}"; }
accuracy() { scones eval --local --json "$@" | py 'import json,sys; print("%.3f" % json.load(sys.stdin)["classification"]["accuracy"])'; }

echo "load before: $(uptime)"
log "1. stage and train"
scones stage --local --images "$data" --labels "$labels_csv" >/dev/null
scones train --local | tail -n 3
first="$(scones models --json | py 'import json,sys; print(next(v["version"] for v in json.load(sys.stdin)["versions"] if v["serving"]))')"
plain_before="$(accuracy)"
shifted_before="$(accuracy --perturb "$kind")"
echo "served: $first; test/ accuracy $plain_before; shifted ($kind) copy of test/ $shifted_before"

log "2. unshifted traffic (600 inferences)"
scones run --local --random 600 --quiet | tail -n 1
scones guard | tail -n 1

log "3. shifted traffic ($kind, from train/), one execution at a time"
shifted_log="$home/shifted-1.tsv"
scones run --local --random 400 --concurrency 1 --perturb "$kind" >"$shifted_log" || true
py '
import csv, sys
truth = {r["filename"]: int(r["label"]) for r in csv.DictReader(open(sys.argv[1])) if r["split"] == "train"}
lines = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.count("\t") >= 5]
held_at, wrong, accepted = None, 0, 0
for i, (key, status, error, scores, _ms, _name) in enumerate(lines, 1):
    if error == "DriftHold":
        held_at = i
        break
    if status == "SUCCEEDED":
        accepted += 1
        b, m = (float(x) for x in scores.strip("[]").split(","))
        wrong += (0 if b >= m else 1) != truth[key.rsplit("/", 1)[1]]
print(f"guard held at shifted inference {held_at} (goal <= 150); accepted before: {accepted}, wrong among them: {wrong} (goal <= 20)")
holds = sum(1 for l in lines if l[2] == "DriftHold")
print(f"of {len(lines)} shifted executions: {holds} held for review")
' "$labels_csv" "$shifted_log"
scones guard | tail -n 3
scones drift --windows 1 | grep -E "verdict|ALERT" | head -n 5 || true

log "4. labels from labels.csv through review import, retrain, score"
scones review list --json --limit 100000 | py '
import csv, json, sys
truth = {r["filename"]: r["label"] for r in csv.DictReader(open(sys.argv[1])) if r["split"] == "train"}
queue = json.load(sys.stdin)
print("queue:", queue["waiting"], "waiting", file=sys.stderr)
with open(sys.argv[2], "w") as out:
    out.write("key,label\n")
    for item in queue["items"]:
        name = item["key"].rsplit("/", 1)[1]
        if item["key"].startswith("perturbed/") and name in truth:
            out.write(item["key"] + "," + truth[name] + "\n")
' "$labels_csv" "$home/queue-labels.csv"
available=$(($(wc -l <"$home/queue-labels.csv") - 1))
echo "shifted images queued with a label available: $available"
given=0
reached=""
printf '%8s %14s %14s %s\n' labels "shifted test" "plain test" version
for n in $steps; do
    [ "$n" -le "$available" ] || { echo "only $available queued images: stopping at $given labels"; break; }
    { echo "key,label"; sed -n "$((given + 2)),$((n + 1))p" "$home/queue-labels.csv"; } >"$home/step.csv"
    scones review import "$home/step.csv" >/dev/null
    given=$n
    scones train --local >/dev/null
    shifted="$(accuracy --model latest --perturb "$kind")"
    plain="$(accuracy --model latest)"
    printf '%8s %14s %14s %s\n' "$n" "$shifted" "$plain" "$(scones models --json | py 'import json,sys; print(json.load(sys.stdin)["versions"][0]["version"])')"
    if [ -z "$reached" ] && py 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$shifted" "$target"; then
        reached=$n
        break
    fi
done
echo "labels needed for $target on the shifted copy of test/: ${reached:-not reached} (goal <= 300);" \
    "plain test/ before $plain_before, after ${plain:-?} (goal: at most 1 point lower)"

log "5. the rest of the queue labelled, retrain, compare, promote through the gate"
if [ "$given" -lt "$available" ]; then
    { echo "key,label"; tail -n +"$((given + 2))" "$home/queue-labels.csv"; } >"$home/step.csv"
    scones review import "$home/step.csv"
    scones train --local >/dev/null
fi
echo "labels given: $available; shifted test $(accuracy --model latest --perturb "$kind"), plain test $(accuracy --model latest)"
scones models
scones promote latest || echo "the gate refused the candidate (see above)"

log "6. shifted traffic again, judged against the new version's baseline"
scones run --local --random 800 --perturb "$kind" --quiet | tail -n 1 || true
scones drift --windows 1 | tail -n 1 || true
scones guard | tail -n 2
scones eval --local --production

log "7. a promotion and a rollback during a running burst (3000 executions, one at a time, ~4 s)"
scones run --local --random 3000 --concurrency 1 >"$home/burst.tsv" 2>&1 &
burst=$!
sleep 0.5
scones promote "$first" --force | tail -n 1
sleep 0.5
/usr/bin/time -f "rollback command: %e s wall" "$bin" --home "$home" rollback | tail -n 1
wait "$burst" || true
py '
import datetime, json, sqlite3, sys
home = sys.argv[1]
lines = [l.rstrip("\n").split("\t") for l in open(home + "/burst.tsv") if l.count("\t") >= 5]
switch = [l for l in lines if l[2] not in ("-", "LowConfidence", "DriftHold")]
print(f"burst: {len(lines)} executions, {len(switch)} failed for another reason than LowConfidence/DriftHold (goal 0)")
history = [json.loads(l) for l in open(home + "/bucket/models/history.jsonl")][-2:]
db = sqlite3.connect(home + "/scones.sqlite3")
ms = lambda t: datetime.datetime.fromisoformat(t[:26] + "+00:00").timestamp() * 1000
for h, after in zip(history, history[1:] + [None]):
    at, until = ms(h["at"]), ms(after["at"]) if after else float("inf")
    first = db.execute("SELECT min(start_ms) FROM executions WHERE model = ? AND start_ms >= ?", (h["to"], at)).fetchone()[0]
    last = db.execute("SELECT max(start_ms) FROM executions WHERE model = ? AND start_ms >= ? AND start_ms < ?", (h["from"], at, until)).fetchone()[0]
    if first is None or last is None:
        print(h["action"], ": no execution after it")
    else:
        print("%s: first execution on %s %.0f ms after the command, last on the version before %.0f ms after" % (h["action"], h["to"], first - at, last - at))
' "$home"
echo "load after: $(uptime)"
