#!/usr/bin/env bash
# Every Terraform check of scones, offline:
#   1. terraform fmt -check -recursive, init -backend=false, validate
#   2. terraform test (mock providers: no credentials, no network)
#   3. checkov --skip-download: 0 failed checks, every skip justified inline
#   4. apply -> plan (must show no changes) -> destroy against moto on 127.0.0.1 (a free port),
#      started and stopped here. In between, AWS mode end to end (scripts/moto/aws_mode.py):
#      the real function binaries run the executions, the endpoint answers with a quick
#      local model, and the CLI's run, eval, threshold, baseline and drift and the
#      dashboard's tabs are checked against what the services recorded. Then a check that
#      destroy leaves nothing behind.
# Installs what it needs into a project venv (.venv: moto[server], boto3, checkov) only when
# missing. Uses ../shared/terraformrc (the offline provider mirror) only when that mirror
# exists; elsewhere plain `terraform init` downloads the provider.
#
# Usage: scripts/terraform-test.sh [STEP...]   STEP: static test checkov emulator (default: all)
#   SCONES_EMULATOR_HOLD=1 scripts/terraform-test.sh emulator   keeps the applied emulator up
#   (after the checks, until Enter) to use AWS mode by hand; it prints how.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TF_DIR="$ROOT/terraform"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(static test checkov emulator)

# Where the mirror exists (this project's machines), use it; never require it. A
# TF_CLI_CONFIG_FILE naming a file that does not exist counts as unset.
SHARED_RC="$ROOT/../shared/terraformrc"
if [ ! -f "${TF_CLI_CONFIG_FILE:-}" ] && [ -d /opt/tf-plugins ] && [ -f "$SHARED_RC" ]; then
  export TF_CLI_CONFIG_FILE="$SHARED_RC"
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# One provider download per machine when the registry is used (ignored with the mirror).
export TF_PLUGIN_CACHE_DIR="${TF_PLUGIN_CACHE_DIR:-$ROOT/.tools/terraform-plugin-cache}"
mkdir -p "$TF_PLUGIN_CACHE_DIR"

declare -a SUMMARY=()
FAILED=0
TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/scones-tf.XXXXXX")
MOTO_PID=""
EMULATOR_HOME="$TMP_ROOT/home"

cleanup() {
  if [ -n "$MOTO_PID" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null
    wait "$MOTO_PID" 2>/dev/null
  fi
  rm -rf "$TMP_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n==> %s\n' "$*"; }

# run_step NAME FUNCTION: runs it, records pass/fail and seconds for the summary.
run_step() {
  local name=$1 fn=$2 start end status
  start=$(date +%s)
  log "$name"
  "$fn"
  status=$?
  end=$(date +%s)
  if [ $status -eq 0 ]; then
    SUMMARY+=("$(printf 'PASS  %-44s %4ss' "$name" $((end - start)))")
  else
    SUMMARY+=("$(printf 'FAIL  %-44s %4ss' "$name" $((end - start)))")
    FAILED=1
  fi
  return $status
}

want() {
  local s
  for s in "${STEPS[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

# ---- tools ---------------------------------------------------------------------------------

ensure_venv() {
  if ! command -v terraform >/dev/null; then
    echo "terraform is not on PATH (1.9 or newer is needed)" >&2
    return 1
  fi
  # The emulator step drives the dashboard in tmux (scripts/moto/aws_mode.py).
  if want emulator; then
    (source "$ROOT/scripts/lib.sh" && apt_ensure tmux tmux) || return 1
  fi
  local need=()
  want checkov && need+=(checkov)
  want emulator && need+=(moto boto3 flask)
  [ ${#need[@]} -eq 0 ] && return 0
  if want checkov; then
    "$ROOT/scripts/moto/ensure-venv.sh" --checkov || return 1
  else
    "$ROOT/scripts/moto/ensure-venv.sh" || return 1
  fi
}

# ---- 1. static ---------------------------------------------------------------------------

step_static() {
  (
    cd "$TF_DIR" || exit 1
    terraform fmt -check -recursive -diff || { echo "terraform fmt found unformatted files (run: terraform -chdir=terraform fmt -recursive)"; exit 1; }
    python3 tests/readme_tables.py --check || exit 1
    python3 tests/operator_policy.py || exit 1
    terraform init -backend=false -input=false >/dev/null || exit 1
    terraform validate || exit 1
    # Destroy order, which no plan shows: the bucket must depend on its KMS key, so a
    # destroy that stops at a non-empty bucket never schedules the key's deletion while
    # the bucket's objects still need it.
    # (The graph is read whole first: `grep -q` stopping early would give `terraform graph`
    # a broken pipe, which pipefail reports as a failure.)
    graph="$(terraform graph)" || exit 1
    grep -qF '"module.storage.aws_s3_bucket.this" -> "module.storage.aws_kms_key.this"' <<<"$graph" || {
      echo "the bucket does not depend on its KMS key: destroy could delete the key and leave the bucket unreadable"
      exit 1
    }
  )
}

# ---- 2. terraform test ---------------------------------------------------------------------

step_test() {
  (
    cd "$TF_DIR" || exit 1
    terraform init -backend=false -input=false >/dev/null || exit 1
    terraform test
  )
}

# ---- 3. checkov ----------------------------------------------------------------------------

step_checkov() {
  # The configuration only; the test fixtures and helper module create nothing.
  "$VENV/bin/checkov" --directory "$TF_DIR" --framework terraform --skip-download \
    --skip-path 'terraform/tests' --quiet --compact
}

# ---- 4. emulator ---------------------------------------------------------------------------

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_moto() {
  local port=$1 bin=${2:-} i
  # With a CLI, InvokeEndpoint is answered by `scones serve` on the trained home.
  if [ -n "$bin" ]; then
    export SCONES_EMULATOR_SCONES="$bin" SCONES_EMULATOR_HOME="$EMULATOR_HOME"
  fi
  "$PY" "$ROOT/scripts/moto/scones_moto.py" --port "$port" >"$TMP_ROOT/moto.log" 2>&1 &
  MOTO_PID=$!
  for i in $(seq 1 100); do
    if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
      echo "moto (pid $MOTO_PID) listening on 127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      echo "moto exited:" >&2
      cat "$TMP_ROOT/moto.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "moto did not answer on 127.0.0.1:$port within 20 s" >&2
  return 1
}

# A throw-away copy of the root module plus the emulator override file (see
# terraform/tests/emulator/README.md for why not a calling module), set to stage and train
# through the scones binary $2.
prepare_emulator_root() {
  local work=$1 package_dir
  mkdir -p "$work"
  cp "$TF_DIR"/*.tf "$work"/
  cp -r "$TF_DIR/modules" "$TF_DIR/workflow" "$work"/
  cp "$TF_DIR/tests/emulator/emulator_override.tf" "$work"/

  # The real function zips: the emulator runs them (scripts/moto/functions.py).
  package_dir="$ROOT/target/lambda"
  local fn
  for fn in serialize-image-data classify-image filter-low-confidence monitor-drift; do
    if [ ! -f "$package_dir/$fn/bootstrap.zip" ]; then
      echo "target/lambda/$fn/bootstrap.zip is missing: building the function zips (scripts/build-lambdas.sh)"
      "$ROOT/scripts/build-lambdas.sh" || return 1
      break
    fi
  done

  local bin=$2
  # The training path end to end: `scones stage --aws` uploads the staged layout of a
  # local home to moto's S3 and `scones train --aws` runs the job (moto completes it at
  # once); the endpoint then serves the artifact Terraform derived from the job name, and
  # the emulator answers it with that home's model (EMULATOR_HOME, see start_moto).
  make_trained_home "$bin" "$EMULATOR_HOME" || return 1
  echo "training through $bin (stage --aws, train --aws)"
  cat >"$work/emulator.auto.tfvars" <<EOF
lambda_package_dir   = "$package_dir"
bucket_force_destroy = true
create_sns_topic     = true
run_training_job     = true
scones_command       = "$bin"
staged_data_dir      = "$EMULATOR_HOME/bucket"
# The quick model's confidences on the synthetic test images cluster near 0.58 and 0.68:
# this threshold makes some executions pass and some fail LowConfidence.
confidence_threshold = 0.65
EOF
}

# The scones binary, if one exists that has the AWS stage and train commands.
scones_cli_with_aws() {
  local candidate
  for candidate in "${SCONES_BIN:-}" "$ROOT/target/release/scones" "$ROOT/target/debug/scones" \
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/scones"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    # A build without the `aws` feature parses --aws too; its --version says so.
    if ! "$candidate" --version 2>/dev/null | grep -q 'local stack only' &&
      "$candidate" train --help 2>/dev/null | grep -q -- '--job-spec' &&
      "$candidate" stage --help 2>/dev/null | grep -q -- '--aws'; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# A local home with the synthetic dataset staged and a quick model trained on it (seconds):
# real PNGs for the functions to decode, and the model the emulator's endpoint serves.
make_trained_home() {
  local bin=$1 home=$2
  "$bin" --home "$home" stage --local --synthetic >"$TMP_ROOT/stage-local.log" 2>&1 &&
    "$bin" --home "$home" train --local --epochs 1 --width 4 >"$TMP_ROOT/train-local.log" 2>&1 || {
    cat "$TMP_ROOT/stage-local.log" "$TMP_ROOT/train-local.log"
    echo "could not stage and train the emulator's local model in $home"
    return 1
  }
}

# The applied drift monitor is wired as terraform/modules/drift says: its rule runs on the
# schedule and targets the function, the function's environment names the baseline and the
# reports, and both alarms watch what the function publishes.
check_drift_monitor() {
  local drift
  drift=$(terraform output -json drift) || return 1
  "$PY" - "$AWS_ENDPOINT_URL" "$drift" <<'PYEOF'
import json, sys, boto3
endpoint, drift = sys.argv[1], json.loads(sys.argv[2])
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
fn = drift["function_name"]
events, lam, cw = boto3.client("events", **kw), boto3.client("lambda", **kw), boto3.client("cloudwatch", **kw)
rule = events.describe_rule(Name=fn)
assert rule["ScheduleExpression"] == f"rate({drift['schedule_minutes']} minutes)", rule
targets = events.list_targets_by_rule(Rule=fn)["Targets"]
config = lam.get_function_configuration(FunctionName=fn)
assert [t["Arn"] for t in targets] == [config["FunctionArn"]], (targets, config["FunctionArn"])
env = config["Environment"]["Variables"]
assert env["BASELINE_KEY"] == drift["baseline_key"] and env["REPORT_PREFIX"] == drift["reports_prefix"], env
assert config["Runtime"] == "provided.al2023", config["Runtime"]
alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=fn.rsplit("-monitor-drift", 1)[0] + "-drift")["MetricAlarms"]}
alert = [a for a in alarms.values() if a["MetricName"] == "DriftVerdict"]
assert len(alert) == 1 and alert[0]["Namespace"] == drift["metric_namespace"] and alert[0]["Threshold"] == 2.0, alarms
assert any(a["MetricName"] == "Errors" and a["Namespace"] == "AWS/Lambda" for a in alarms.values()), alarms
print(f"drift monitor: {fn} every {drift['schedule_minutes']} min, alarms {sorted(alarms)}")
PYEOF
}

step_emulator() {
  local port work status=0 plan_status bin
  # The CLI stages and trains during apply and is checked in AWS mode after it; a fresh
  # clone that runs this script alone builds it first.
  if ! bin=$(scones_cli_with_aws); then
    echo "building the scones CLI (cargo build -p scones)"
    (cd "$ROOT" && cargo build -p scones --locked -q) || return 1
    bin=$(scones_cli_with_aws) || { echo "no scones binary after cargo build"; return 1; }
  fi
  port=$(free_port) || return 1
  work="$TMP_ROOT/emulator-root"
  prepare_emulator_root "$work" "$bin" || return 1
  start_moto "$port" "$bin" || return 1

  (
    cd "$work" || exit 1
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    unset AWS_PROFILE AWS_SESSION_TOKEN

    t0=$(date +%s)
    terraform init -input=false >/dev/null || exit 1
    if ! terraform apply -auto-approve -input=false -no-color >"$TMP_ROOT/apply.log" 2>&1; then
      tail -40 "$TMP_ROOT/apply.log"
      echo "apply failed (full log above; moto log: $TMP_ROOT/moto.log is removed on exit)"
      tail -20 "$TMP_ROOT/moto.log"
      terraform destroy -auto-approve -input=false >/dev/null 2>&1
      exit 1
    fi
    t1=$(date +%s)
    grep -E '^Apply complete' "$TMP_ROOT/apply.log"
    # What `scones stage --aws` / `scones train --aws` said, when training ran.
    grep -F '(local-exec):' "$TMP_ROOT/apply.log" | grep -v 'Executing:' | sed 's/^/  /'
    echo "apply: $((t1 - t0)) s; slowest resources:"
    grep -E 'Creation complete after' "$TMP_ROOT/apply.log" |
      sed -E 's/^(.*): Creation complete after ([0-9ms]+).*/\2 \1/' | sort -t' ' -k1,1 -h -r | head -5 | sed 's/^/  /' 

    check_drift_monitor || status=1
    # AWS mode as a user meets it, on real functions and real predictions.
    "$PY" "$ROOT/scripts/moto/aws_mode.py" --endpoint-url "$AWS_ENDPOINT_URL" --scones "$bin" \
      --tf-dir "$work" --home "$EMULATOR_HOME" || {
      echo "--- the emulator's log (last 40 lines) ---"
      tail -40 "$TMP_ROOT/moto.log"
      status=1
    }
    # To try AWS mode by hand on the applied emulator before it is destroyed.
    if [ -n "${SCONES_EMULATOR_HOLD:-}" ]; then
      echo "the emulator stays up until you press Enter here; in another terminal:"
      echo "  AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \\"
      echo "    $bin dashboard --aws --tf-dir $work"
      echo "  curl -X POST $AWS_ENDPOINT_URL/scones-api/schedule   # fire the drift monitor now"
      read -r _ </dev/tty || true
    fi

    terraform plan -detailed-exitcode -input=false -no-color >"$TMP_ROOT/plan.log" 2>&1
    plan_status=$?
    t2=$(date +%s)
    case $plan_status in
      0) echo "re-plan: no changes ($((t2 - t1)) s)" ;;
      2) grep -E '^  # |will be|must be' "$TMP_ROOT/plan.log" | head -40
         echo "re-plan after apply wants changes: the configuration does not converge"
         status=1 ;;
      *) tail -30 "$TMP_ROOT/plan.log"; echo "re-plan failed"; status=1 ;;
    esac

    # A bucket created anew (here planned with -replace; deleted out of band is the same
    # create of a bucket whose ARN is unknown until apply) is staged again: staging follows
    # the bucket, not its name. (Deleting the bucket through moto first leaves its S3 state
    # inconsistent, so the out-of-band case is planned rather than staged.)
    terraform plan -input=false -no-color -replace=module.storage.aws_s3_bucket.this \
      >"$TMP_ROOT/plan-recreated.log" 2>&1
    if grep -q 'module.training.terraform_data.staged_data\[0\] must be replaced' "$TMP_ROOT/plan-recreated.log"; then
      echo "a bucket created anew is staged again (plan -replace of the bucket replaces staged_data)"
    else
      grep -E '^  # ' "$TMP_ROOT/plan-recreated.log" | head -20
      echo "a bucket created anew would not be staged again"
      status=1
    fi

    if ! terraform destroy -auto-approve -input=false -no-color >"$TMP_ROOT/destroy.log" 2>&1; then
      tail -30 "$TMP_ROOT/destroy.log"
      echo "--- the emulator's log (errors) ---"
      grep -v '" 200 -' "$TMP_ROOT/moto.log" | tail -40
      echo "destroy failed"
      exit 1
    fi
    t3=$(date +%s)
    grep -E '^Destroy complete' "$TMP_ROOT/destroy.log"
    echo "destroy: $((t3 - t2)) s"
    "$PY" "$ROOT/scripts/moto/assert_empty.py" --endpoint-url "$AWS_ENDPOINT_URL" --name scones || status=1
    exit $status
  )
  status=$?

  kill "$MOTO_PID" 2>/dev/null
  wait "$MOTO_PID" 2>/dev/null
  MOTO_PID=""
  return $status
}

# ---- main ----------------------------------------------------------------------------------

TOTAL_START=$(date +%s)
run_step "tools (terraform, tmux, venv: moto, boto3, checkov)" ensure_venv || {
  printf '%s\n' "${SUMMARY[@]}"
  exit 1
}
want static && run_step "fmt -check, README tables, init, validate" step_static
want test && run_step "terraform test (mock providers)" step_test
want checkov && run_step "checkov (offline)" step_checkov
want emulator && run_step "apply -> plan (no changes) -> destroy on moto" step_emulator

TOTAL=$(($(date +%s) - TOTAL_START))
echo
echo "==== terraform checks ($TOTAL s) ===="
printf '%s\n' "${SUMMARY[@]}"
passed=0 failed=0
for line in "${SUMMARY[@]}"; do
  case $line in PASS*) passed=$((passed + 1)) ;; FAIL*) failed=$((failed + 1)) ;; esac
done
echo "$passed passed, $failed failed"
exit $FAILED
