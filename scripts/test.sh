#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what .ci/run calls.
# Installs what it needs (Rust tools into .tools/, Python packages into .venv/) when missing.
#
# Each suite reports passed/failed counts; the last line is the total:
#   N passed, M failed
# Exit status is non-zero when anything failed.
#
# SCONES_TEST_SUITES="rust lambdas" limits the run to some suites (default: all).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

ALL_SUITES="lint rust aws dashboard conformance lambdas terraform"
SUITES="${SCONES_TEST_SUITES:-$ALL_SUITES}"
LOG_DIR="$REPO_ROOT/target/test-logs"
mkdir -p "$LOG_DIR"

TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()

record() { # suite passed failed seconds
    TOTAL_PASSED=$((TOTAL_PASSED + $2))
    TOTAL_FAILED=$((TOTAL_FAILED + $3))
    SUMMARY+=("$(printf '%-12s %5d passed %5d failed %6ss' "$1" "$2" "$3" "$4")")
}

# check SUITE NAME COMMAND...: one pass/fail check whose output goes to a log file.
check() {
    local suite=$1 name=$2; shift 2
    local log="$LOG_DIR/$suite-$name.log" start=$SECONDS
    log "$suite: $name"
    if "$@" >"$log" 2>&1; then
        record "$suite:$name" 1 0 $((SECONDS - start))
    else
        echo "FAILED: $suite: $name (log: $log)"; tail -40 "$log"
        record "$suite:$name" 0 1 $((SECONDS - start))
    fi
}

# counted SUITE COMMAND...: a command whose output ends with a "N passed, M failed" line.
counted() {
    local suite=$1; shift
    local log="$LOG_DIR/$suite.log" start=$SECONDS
    log "$suite: $*"
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    local line passed=0 failed=0
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    if [ -n "$line" ]; then
        passed=${line%% passed*}
        failed=${line#*, }; failed=${failed%% failed*}
    fi
    # A crash before the summary, or a non-zero exit with no failure counted, is a failure.
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    record "$suite" "$passed" "$failed" $((SECONDS - start))
}

suite_lint() {
    check lint rustfmt cargo fmt --all --check
    # Dependencies nothing uses (a renamed library is listed in the crate's
    # [package.metadata.cargo-machete] with the reason).
    cargo_tool_ensure cargo-machete cargo-machete@0.9.2
    check lint deps cargo-machete
    check lint clippy cargo clippy --workspace --all-targets --locked \
        --features scones/moto-tests,scones-aws/moto-tests -- -D warnings
    # The build scripts/dashboard.sh makes: the `aws` feature off (its cfgs compile).
    check lint clippy-without-aws cargo clippy -p scones --lib --bins --locked \
        --no-default-features -- -D warnings
}

# cargo_counted SUITE COMMAND...: a cargo test run, counted from its "test result:" lines.
cargo_counted() {
    local suite=$1; shift
    local log="$LOG_DIR/$suite.log" start=$SECONDS
    log "$suite: $*"
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    local passed failed
    passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
    failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # build error
    record "$suite" "$passed" "$failed" $((SECONDS - start))
}

suite_rust() {
    cargo_counted rust cargo test --workspace --locked --no-fail-fast
}

suite_aws() {
    # Every over-the-wire test (staging, training, the dashboard's AWS backend, `scones run
    # --aws`) against one moto server that with-moto.sh starts and stops (the tests fail
    # without it, never skip). --workspace (not -p scones) keeps the dependency features the
    # rust suite built with: selecting one package re-resolves them and rebuilds the AWS SDK
    # crates.
    cargo_counted aws scripts/with-moto.sh cargo test --workspace --locked --no-fail-fast \
        --features scones/moto-tests,scones-aws/moto-tests \
        --test aws_backend --test aws_run --test stage_moto --test training_moto
}

# without_aws BIN: in a build without the `aws` feature, every command given --aws answers one
# line saying how to get it, exit 1, before doing anything else (no terminal taken, no home
# read). (The smoke test then drives the local stack with the same binary.)
without_aws() {
    local bin=$1 home out status
    home=$(mktemp -d)
    for command in dashboard run stage train eval threshold drift baseline guard models promote rollback; do
        case $command in
            threshold) args=(threshold --aws --target-accuracy 0.9) ;;
            promote) args=(promote latest --aws) ;;
            run) args=(run --aws --random 1) ;;
            *) args=("$command" --aws) ;;
        esac
        out=$("$bin" --home "$home" "${args[@]}" 2>&1 </dev/null); status=$?
        if [ "$status" -ne 1 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] \
            || ! grep -q 'scripts/dashboard.sh --aws' <<<"$out"; then
            echo "scones ${args[*]}: exit $status, answered:"; echo "$out"; rm -rf "$home"; return 1
        fi
    done
    rm -rf "$home"
    "$bin" --version | grep -q 'local stack only' || { echo "--version does not say it"; return 1; }
    echo "every --aws command answered: $out"
}

suite_dashboard() {
    # The binary the README's main command builds (lib.sh's build_scones: profile app, the
    # local stack only), in tmux on a fresh local stack: press t, see an execution finish.
    (apt_ensure tmux tmux) || true   # without tmux the smoke script fails loudly
    local bin
    if ! bin=$(build_scones); then
        record dashboard 0 1 0
        return
    fi
    check dashboard without-aws without_aws "$bin"
    counted dashboard scripts/smoke-dashboard.sh "$bin"
}

suite_conformance() {
    # The pass counts are a report (the floor that may not regress is pinned by a cargo
    # test); this check fails only if the harness itself cannot run.
    check conformance harness scripts/conformance.sh
    grep -E '^(jsonpath|jsonata):' "$LOG_DIR/conformance-harness.log" || true
}

suite_lambdas() {
    check lambdas build-zips scripts/build-lambdas.sh
}

suite_terraform() {
    counted terraform scripts/terraform-test.sh
}

for suite in $SUITES; do
    case " $ALL_SUITES " in
        *" $suite "*) "suite_$suite" ;;
        *) die "unknown suite $suite (known: $ALL_SUITES)" ;;
    esac
done

echo
echo "== summary =="
printf '%s\n' "${SUMMARY[@]}"
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
