#!/usr/bin/env bash
# Smoke test of the real `scones` dashboard in a real terminal (tmux, 80x24).
#
# On a temporary home it stages a small labelled subset (20+20 train, 5+5 test images from
# $SCONES_SHARED_DATA, else a synthetic set) and trains a tiny model with the CLI, opens
# `scones` (no command: the dashboard), presses `t`, and reads the screen with
# `tmux capture-pane` until the execution appears and ends SUCCEEDED or FAILED. Then it
# presses `q` and checks the process exited 0 and left the terminal as it found it
# (no alternate screen, no mouse reporting, cursor shown, canonical mode and echo back).
# A second dashboard is then ended from outside with SIGINT, a third with SIGQUIT: each
# must restore the terminal the same way.
#
# Usage: scripts/smoke-dashboard.sh [path/to/scones]   (default: builds it with cargo)
# Prints `N passed, M failed`; exits non-zero on any failure. Kills its tmux session on exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SCONES_SHARED_DATA:-$ROOT/../shared/data/cifar100-bikes}
WORK=$(mktemp -d)
SESSION="scones-smoke-$$"
# A private tmux server: its sessions get this script's environment (SCONES_HOME...), not
# that of a tmux server the user already runs, and killing it touches nothing else.
tmx() { tmux -L "$SESSION" "$@"; }
PASSED=0
FAILED=0

cleanup() {
    tmx kill-server 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1"; }
report() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

command -v tmux >/dev/null || { echo "tmux is required"; fail "tmux available"; report; }

if [ $# -ge 1 ]; then
    BIN=$1
else
    echo "building scones (cargo build -p scones)..."
    cargo build -q -p scones --manifest-path "$ROOT/Cargo.toml" || { fail "cargo build"; report; }
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/scones"
fi
[ -x "$BIN" ] && pass "binary $BIN" || { fail "binary $BIN"; report; }

export SCONES_HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/config" NO_COLOR=
# --- a staged and trained local stack, via the CLI ---------------------------------------
if [ -f "$SHARED/labels.csv" ]; then
    mkdir -p "$WORK/data/train" "$WORK/data/test"
    # 20 + 20 train and 5 + 5 test images, by the labels column (never by file name).
    head -1 "$SHARED/labels.csv" > "$WORK/data/labels.csv"
    for spec in "train 0 20" "train 1 20" "test 0 5" "test 1 5"; do
        set -- $spec
        awk -F, -v s="$1" -v l="$2" 'NR > 1 && $1 == s && $3 == l' "$SHARED/labels.csv" \
            | head -n "$3" >> "$WORK/data/labels.csv"
    done
    tail -n +2 "$WORK/data/labels.csv" | while IFS=, read -r split file _; do
        cp "$SHARED/$split/$file" "$WORK/data/$split/"
    done
    STAGE=(stage --local --images "$WORK/data" --labels "$WORK/data/labels.csv")
else
    echo "no shared data at $SHARED: staging the synthetic set"
    STAGE=(stage --local --synthetic)
fi
"$BIN" "${STAGE[@]}" >"$WORK/stage.log" 2>&1 && pass "stage" || { fail "stage: $(tail -3 "$WORK/stage.log")"; report; }
"$BIN" train --local --epochs 1 --width 4 >"$WORK/train.log" 2>&1 \
    && pass "train (1 epoch, width 4)" || { fail "train: $(tail -3 "$WORK/train.log")"; report; }

# --- the dashboard in tmux ---------------------------------------------------------------
# After the dashboard exits, the shell records its exit code and the terminal modes.
tmx new-session -d -s "$SESSION" -x 80 -y 24 \
    "'$BIN' --home '$SCONES_HOME'; echo \"EXIT=\$?\" > '$WORK/exit'; stty -a > '$WORK/stty'; sleep 600"

screen() { tmx capture-pane -p -t "$SESSION"; }
# wait_for SECONDS REGEX: polls the screen until REGEX matches.
wait_for() {
    local deadline=$((SECONDS + $1))
    while [ $SECONDS -lt $deadline ]; do
        screen | grep -Eq "$2" && return 0
        sleep 0.2
    done
    return 1
}

wait_for 30 "Executions 0" && pass "dashboard drawn with an empty list" \
    || { fail "dashboard did not start"; screen; report; }
screen | grep -q "LOCAL" && pass "header shows the LOCAL backend" || fail "header shows the LOCAL backend"

tmx send-keys -t "$SESSION" t
wait_for 20 "Executions 1 " && pass "an execution appears after t" || { fail "no execution after t"; screen; }
wait_for 30 "^│(SUCCEEDED|FAILED) " && pass "it reaches SUCCEEDED or FAILED" \
    || { fail "execution did not finish"; screen; }
screen | grep -Eq "test/[A-Za-z_]+[0-9]" && pass "its s3 key is a staged test image" \
    || fail "s3 key shown"

tmx send-keys -t "$SESSION" q
for _ in $(seq 1 100); do [ -s "$WORK/exit" ] && break; sleep 0.1; done
[ "$(cat "$WORK/exit" 2>/dev/null)" = "EXIT=0" ] && pass "q exits with status 0" \
    || fail "exit status: $(cat "$WORK/exit" 2>/dev/null || echo 'still running')"
for _ in $(seq 1 50); do [ -s "$WORK/stty" ] && break; sleep 0.1; done
MODES=$(tmx display -p -t "$SESSION" '#{alternate_on} #{mouse_any_flag} #{cursor_flag}')
[ "$MODES" = "0 0 1" ] && pass "terminal restored: main screen, no mouse reporting, cursor shown" \
    || fail "terminal modes after exit (alternate mouse cursor): $MODES"
grep -Eq '(^| )icanon( |$)' "$WORK/stty" && grep -Eq '(^| )echo( |$)' "$WORK/stty" \
    && pass "terminal restored: canonical mode and echo" || fail "raw mode left on: $(cat "$WORK/stty")"

# --- a dashboard ended by a signal from outside -------------------------------------------
for sig in INT QUIT; do
    name="$SESSION-$sig"
    rm -f "$WORK/stty"
    tmx new-session -d -s "$name" -x 80 -y 24 \
        "'$BIN' --home '$SCONES_HOME'; stty -a > '$WORK/stty'; sleep 600"
    deadline=$((SECONDS + 30))
    until tmx capture-pane -p -t "$name" | grep -q "Executions"; do
        [ $SECONDS -lt $deadline ] || break
        sleep 0.2
    done
    shell=$(tmx display -p -t "$name" '#{pane_pid}')
    pid=$(pgrep -P "$shell" | head -1)
    [ -n "$pid" ] && kill -"$sig" "$pid"
    for _ in $(seq 1 100); do [ -s "$WORK/stty" ] && break; sleep 0.1; done
    MODES=$(tmx display -p -t "$name" '#{alternate_on} #{mouse_any_flag} #{cursor_flag}')
    [ "$MODES" = "0 0 1" ] && grep -Eq '(^| )icanon( |$)' "$WORK/stty" 2>/dev/null \
        && pass "SIG$sig from outside: terminal restored" \
        || fail "SIG$sig from outside: modes '$MODES', stty: $(cat "$WORK/stty" 2>/dev/null || echo 'dashboard still running')"
done

report
