#!/usr/bin/env bash
# Runs a command against the moto server wrapper (scripts/moto/scones_moto.py) on a free
# 127.0.0.1 port, then stops moto whatever happened.
#
#   scripts/with-moto.sh cargo test -p scones --features moto-tests --test aws_backend
#
# The command sees:
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT   (every SDK honours it)
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY = test, AWS_REGION / AWS_DEFAULT_REGION = us-east-1
#   SCONES_MOTO_ENDPOINT=http://127.0.0.1:PORT (the over-the-wire tests require it: set but
#     unreachable is a test failure, never a skip)
# AWS_PROFILE and AWS_SESSION_TOKEN are unset so no real credentials are ever used.
# Deployed functions whose zip holds a real bootstrap run it (scripts/moto/functions.py); with
# SCONES_EMULATOR_SCONES=BIN and SCONES_EMULATOR_HOME=DIR set, InvokeEndpoint is answered by
# `BIN --home DIR serve` (endpoint.py); SCONES_EMULATOR_SCHEDULE_SECONDS=N fires scheduled
# rules every N seconds (schedule.py).
# Installs moto into .venv when missing (scripts/moto/ensure-venv.sh). The exit status is the
# command's.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: scripts/with-moto.sh COMMAND [ARGS...]"

"$REPO_ROOT/scripts/moto/ensure-venv.sh" || die "cannot install moto into $VENV_DIR"
PY="$VENV_DIR/bin/python"

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') ||
    die "no free port"
MOTO_LOG=$(mktemp "${TMPDIR:-/tmp}/scones-moto.XXXXXX.log")
"$PY" "$REPO_ROOT/scripts/moto/scones_moto.py" --port "$PORT" >"$MOTO_LOG" 2>&1 &
MOTO_PID=$!

stop_moto() {
    if kill -0 "$MOTO_PID" 2>/dev/null; then
        kill "$MOTO_PID" 2>/dev/null
        wait "$MOTO_PID" 2>/dev/null
    fi
    rm -f "$MOTO_LOG"
}
trap stop_moto EXIT
trap 'exit 130' INT TERM

ready=0
for _ in $(seq 1 150); do
    if "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/', timeout=1)" 2>/dev/null; then
        ready=1
        break
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
        cat "$MOTO_LOG" >&2
        die "moto exited before answering"
    fi
    sleep 0.2
done
[ "$ready" = 1 ] || { tail -20 "$MOTO_LOG" >&2; die "moto did not answer on 127.0.0.1:$PORT within 30 s"; }
log "moto (pid $MOTO_PID) on 127.0.0.1:$PORT"

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export SCONES_MOTO_ENDPOINT="$AWS_ENDPOINT_URL"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

"$@"
