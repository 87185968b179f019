#!/usr/bin/env python3
"""AWS mode end to end on the emulator, with real functions and real predictions: what a user
does after `terraform apply`, checked against what the services recorded.

The stack was applied on the moto wrapper (scripts/terraform-test.sh), whose Lambda tasks run
the real function binaries (functions.py) and whose endpoint answers with a local model
(endpoint.py). In order:

1. one execution started with boto3 runs SerializeImageData -> ClassifyImage ->
   FilterLowConfidence and ends SUCCEEDED with the endpoint's `inferences`, or FAILED with
   the filter's `LowConfidence` (the stack's threshold sits inside the model's confidences);
   ClassifyImage names the model version serving (the training job), not the variant;
2. `scones run --aws --random N`: every execution ends SUCCEEDED or LowConfidence, both occur;
   the filter's log group holds its decision lines between the service's START and REPORT
   lines; the endpoint's capture files and its Invocations metric count the inferences;
   the LowConfidenceDecisions metric (the stack's metric filter) counts the failures;
3. `scones eval --aws`, `scones threshold --aws`, `scones baseline --aws` with a held-out list;
4. the drift schedule fired (POST /scones-api/schedule): monitor-drift runs and reports, and
   `scones drift --aws` prints its verdict;
5. the dashboard (`scones dashboard --aws`, in a private tmux server) on tabs 1-9: each tab
   draws, no error toast;
6. the guard: `scones guard --aws engage` makes the real filter fail confident decisions with
   DriftHold, and `release` lets them pass;
7. review: `scones review --aws list` is the real filter's refused, held and audited
   decisions; labels given with `scones review --aws label` are one object each under
   review/labels/, from the caller's identity, and leave the queue; images of train/ labelled
   with `review import` join `scones train --aws`'s training channel, those of the held-out
   share do not, and the job's name covers them;
8. versions and promotion: `scones models --aws` lists the training jobs and which serves;
   `scones promote --aws` refuses a version whose artefact is missing, then runs the gate
   through a candidate endpoint (deleted after; both versions' measures kept), then with `--force`
   writes the version into Terraform's inputs and applies it; an update SageMaker rolls back
   (played by the emulator) fails naming the alarm and puts the inputs back, and
   `terraform apply` brings the stack in line; then the endpoint serves it, the
   UpdateEndpoint carried the stack's deployment configuration (blue/green, baking, the
   rollback alarms), and a plan afterwards changes nothing (an apply keeps the promotion);
   executions after it name the promoted version as their model (classify-image reads which
   version serves from the endpoint), and the drift baseline's outputs are measured again for
   it; `scones rollback --aws` serves the version before again (and measures them again).

Exits non-zero naming the first check that failed.
Usage: aws_mode.py --endpoint-url URL --scones BIN --tf-dir DIR --home HOME
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import boto3

EXPECTED_STATES = ["SerializeImageData", "ClassifyImage", "FilterLowConfidence"]
RUNS = 16
DRIFT_RUNS = 80
GUARD_FRESH_SECONDS = 30  # lambdas/filter-low-confidence/src/guard_state.rs FRESH_FOR
SERVING_REFRESH_SECONDS = 60  # lambdas/classify-image/src/serving_version.rs REFRESH
ERROR_ON_SCREEN = re.compile(r"failed:|AccessDenied|could not|not implemented|InternalFailure|HTTP 5\d\d|Unsupported", re.I)


class Failed(Exception):
    pass


def execution_rows(out: str) -> list[list[str]]:
    """`scones run`'s execution lines: key, status, error, scores, duration, name."""
    return [line.split("\t") for line in out.splitlines() if line.startswith("test/")]


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


class Session:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        kw = {"endpoint_url": args.endpoint_url, "region_name": "us-east-1"}
        self.sfn = boto3.client("stepfunctions", **kw)
        self.logs = boto3.client("logs", **kw)
        self.s3 = boto3.client("s3", **kw)
        self.cw = boto3.client("cloudwatch", **kw)
        self.outputs = json.loads(self.terraform("output", "-json"))

    def output(self, name: str):  # noqa: ANN201
        return self.outputs[name]["value"]

    def terraform(self, *argv: str) -> str:
        return subprocess.run(["terraform", *argv], cwd=self.args.tf_dir, check=True, capture_output=True, text=True).stdout

    def scones(self, *argv: str, then: tuple[str, ...] = (), ok_codes: tuple[int, ...] = (0,), timeout: float = 300) -> str:
        """`scones ARGV --aws --tf-dir DIR THEN` (THEN: a subcommand of ARGV, e.g. `guard`'s)."""
        command = [self.args.scones, *argv, "--aws", "--tf-dir", self.args.tf_dir, *then]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        shown = " ".join([*argv, *then])
        if done.returncode not in ok_codes:
            raise Failed(f"scones {shown} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        print(f"$ scones {shown} --aws   (exit {done.returncode})")
        for line in done.stdout.strip().splitlines()[-6:]:
            print(f"    {line}")
        return done.stdout

    def control(self, path: str) -> dict:
        return self.control_json(path, {})

    def control_json(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(f"{self.args.endpoint_url}/scones-api/{path}", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=300) as answer:
            return json.loads(answer.read())


def one_execution(s: Session) -> None:
    """Step 1: the three real functions, through the state machine."""
    machine = s.output("state_machine_arn")
    bucket = s.output("bucket_name")
    key = "test/" + open(os.path.join(s.args.home, "bucket", "test.lst")).readline().split("\t")[2].strip()
    record = {"s3_bucket": bucket, "s3_key": key}
    started = s.sfn.start_execution(stateMachineArn=machine, name=f"emulator-e2e-{int(time.time() * 1000)}", input=json.dumps(record))
    deadline = time.monotonic() + 120
    while (execution := s.sfn.describe_execution(executionArn=started["executionArn"]))["status"] == "RUNNING":
        check(time.monotonic() < deadline, "the execution still runs after 120 s")
        time.sleep(0.2)
    events = s.sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    check(
        entered == EXPECTED_STATES,
        f"states entered {entered}, expected {EXPECTED_STATES}: {execution['status']} {execution.get('error')} {execution.get('cause')}",
    )
    trained_job = s.output("training_job_name")
    check(classified_by(events) == trained_job,
          f"ClassifyImage names the version serving (the training job {trained_job}), not the variant: {classified_by(events)}")
    if execution["status"] == "SUCCEEDED":
        output = json.loads(execution["output"])
        check(output.get("s3_key") == key and output.get("s3_bucket") == bucket, f"record not carried through: {output}")
        scores = output.get("inferences")
        check(isinstance(scores, list) and len(scores) == 2 and abs(sum(scores) - 1) < 1e-3, f"no inferences from the endpoint: {output}")
        outcome = f"SUCCEEDED with inferences {scores}"
    else:
        check(execution["status"] == "FAILED" and execution.get("error") == "LowConfidence", f"execution {execution['status']}: {execution.get('error')} {execution.get('cause')}")
        outcome = f"FAILED LowConfidence: {execution.get('cause', '')[:120]}"
    print(f"execution through {' -> '.join(entered)}: {outcome}")


def classified_by(events: list[dict]) -> str | None:
    """The model version ClassifyImage's output names, from an execution's history."""
    for e in events:
        exited = e.get("stateExitedEventDetails") or {}
        if exited.get("name") == "ClassifyImage":
            return json.loads(exited["output"]).get("model")
    return None


def classify_one(s: Session) -> str | None:
    """Runs one execution to its end; the model version that classified it."""
    key = "test/" + open(os.path.join(s.args.home, "bucket", "test.lst")).readline().split("\t")[2].strip()
    started = s.sfn.start_execution(stateMachineArn=s.output("state_machine_arn"), name=f"emulator-version-{int(time.time() * 1000)}",
                                    input=json.dumps({"s3_bucket": s.output("bucket_name"), "s3_key": key}))
    deadline = time.monotonic() + 120
    while s.sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING":
        check(time.monotonic() < deadline, "the execution still runs after 120 s")
        time.sleep(0.2)
    return classified_by(s.sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)["events"])


def run_and_what_the_services_recorded(s: Session) -> int:
    """Step 2: `scones run --aws`, then logs, capture and metrics."""
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    out = s.scones("run", "--random", str(RUNS))
    rows = execution_rows(out)
    check(len(rows) == RUNS, f"{len(rows)} execution lines, expected {RUNS}")
    statuses = [(r[1], r[2]) for r in rows]
    unexpected = [st for st in statuses if st[0] != "SUCCEEDED" and not (st[0] == "FAILED" and st[1] == "LowConfidence")]
    check(not unexpected, f"executions ended other than SUCCEEDED or LowConfidence: {unexpected}")
    succeeded = sum(1 for st in statuses if st[0] == "SUCCEEDED")
    low = RUNS - succeeded
    check(succeeded > 0 and low > 0, f"{succeeded} succeeded and {low} LowConfidence: the threshold should split them")

    group = s.output("log_groups")["filter-low-confidence"]
    messages = [e["message"] for e in s.logs.filter_log_events(logGroupName=group, startTime=int(since.timestamp() * 1000))["events"]]
    decisions = [json.loads(m) for m in messages if m.startswith("{") and '"decision"' in m]
    kinds = {d["decision"] for d in decisions}
    check({"pass", "low_confidence"} <= kinds, f"decision lines in {group}: {sorted(kinds)} of {len(messages)} lines")
    check(any(m.startswith("START RequestId:") for m in messages) and any(m.startswith("REPORT RequestId:") for m in messages), f"no START/REPORT lines in {group}")
    print(f"{group}: {len(decisions)} decision lines ({sorted(kinds)}), {len(messages)} lines in all")

    end = datetime.now(timezone.utc) + timedelta(minutes=1)
    namespace = s.output("metric_namespace")
    low_metric = s.cw.get_metric_statistics(Namespace=namespace, MetricName="LowConfidenceDecisions", StartTime=since - timedelta(minutes=1), EndTime=end, Period=60, Statistics=["Sum"])
    counted = sum(p["Sum"] for p in low_metric["Datapoints"])
    check(counted >= low, f"LowConfidenceDecisions counted {counted}, the run had {low}")

    endpoint = s.output("endpoint_name")
    invocations = s.cw.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations", Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=since - timedelta(minutes=1), EndTime=end, Period=60, Statistics=["Sum"],
    )
    invoked = sum(p["Sum"] for p in invocations["Datapoints"])
    check(invoked >= RUNS, f"AWS/SageMaker Invocations {invoked}, expected at least {RUNS}")

    time.sleep(2.5)  # capture files are flushed every second
    bucket = s.output("bucket_name")
    pages = s.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [o["Key"] for page in pages for o in page.get("Contents", []) if f"/{endpoint}/AllTraffic/" in o["Key"]]
    lines = sum(len(s.s3.get_object(Bucket=bucket, Key=k)["Body"].read().splitlines()) for k in keys)
    check(lines >= RUNS, f"{lines} captured inferences in {len(keys)} files of {endpoint}/AllTraffic/, expected at least {RUNS}")
    print(f"endpoint {endpoint}: {invoked:.0f} invocations, {lines} captured in {len(keys)} files; {counted:.0f} low-confidence decisions counted")
    return RUNS


def quality_commands(s: Session) -> None:
    """Step 3: eval, threshold, baseline on the deployed endpoint."""
    out = s.scones("eval")
    check(re.search(r"^accuracy: [01]\.\d{3}$", out, re.M) is not None, "eval --aws did not end with `accuracy: 0.xxx`")
    out = s.scones("threshold", "--target-accuracy", "0.9", ok_codes=(0, 1))
    check("confidence_threshold" in out or "no threshold" in out.lower(), f"threshold --aws named no Terraform variable:\n{out}")
    # A held-out set under holdout/ (the images of test/ the model never trained on, copied;
    # test.lst itself is refused as a held-out list).
    bucket = s.output("bucket_name")
    rows = open(os.path.join(s.args.home, "bucket", "test.lst")).read().splitlines()[::4]
    for row in rows:
        name = row.split("\t")[2]
        s.s3.copy_object(Bucket=bucket, Key=f"holdout/{name}", CopySource={"Bucket": bucket, "Key": f"test/{name}"})
    s.s3.put_object(Bucket=bucket, Key="holdout.lst", Body=("\n".join(rows) + "\n").encode())
    out = s.scones("baseline", "--held-out-lst", "holdout.lst")
    check("output" in out.lower(), f"baseline --aws with a held-out set reported no output statistics:\n{out}")


def drift_on_schedule(s: Session) -> None:
    """Step 4: the schedule fires monitor-drift; its report is what `drift --aws` reads."""
    # The monitor judges traffic after the baseline: enough of it for a verdict (the
    # cut-offs need 50 observations a side).
    s.scones("run", "--random", str(DRIFT_RUNS), "--quiet")
    time.sleep(2.5)  # capture files are flushed every second
    fired = s.control("schedule")["fired"]
    monitors = [f for f in fired if f["target"].endswith("monitor-drift")]
    check(len(monitors) == 1, f"scheduled targets fired: {fired}")
    check(not monitors[0].get("errored") and "skipped" not in monitors[0], f"monitor-drift failed: {monitors[0]}")
    report = json.loads(monitors[0]["answer"])
    check(report.get("inferences", 0) >= 50 and report.get("verdict") != "NOT_ENOUGH_DATA", f"monitor-drift judged too little: {report}")
    print(f"schedule fired monitor-drift: {monitors[0]['answer'][:200]}")
    out = s.scones("drift", ok_codes=(0, 1, 2))
    verdict = re.search(r"^drift: (OK|WARN|ALERT)$", out, re.M)
    check(verdict is not None, f"drift --aws gave no verdict on the monitor's report:\n{out}")


def guard_holds_decisions(s: Session) -> None:
    """Step 6: an operator's `scones guard --aws engage` is honoured by the real filter
    function: confident decisions fail DriftHold, unconfident ones stay LowConfidence;
    after `scones guard --aws release`, they pass again."""
    out = s.scones("guard", then=("engage",))
    check("hold" in out.lower(), f"guard engage printed no hold:\n{out}")
    time.sleep(GUARD_FRESH_SECONDS + 1)  # the filter rereads the state at most this late
    out = s.scones("run", "--random", str(RUNS))
    rows = execution_rows(out)
    errors = {r[2] for r in rows}
    check(all(r[1] == "FAILED" for r in rows) and errors <= {"DriftHold", "LowConfidence"} and "DriftHold" in errors,
          f"while the guard holds, confident decisions fail DriftHold: {[(r[1], r[2]) for r in rows]}")
    s.scones("guard", then=("release",))
    time.sleep(GUARD_FRESH_SECONDS + 1)
    out = s.scones("run", "--random", str(RUNS))
    rows = execution_rows(out)
    check(any(r[1] == "SUCCEEDED" for r in rows) and not any(r[2] == "DriftHold" for r in rows),
          f"released, decisions pass again: {[(r[1], r[2]) for r in rows]}")
    print("guard: `scones guard --aws engage` made the filter fail confident decisions with DriftHold; released, they passed")


def held_out(key: str) -> bool:
    """The production validation share: scones_workflow::review::is_held_out (20 % of keys by
    the first 8 bytes of the key's SHA-256)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 100 < 20


def review_and_retrain(s: Session) -> None:
    """Step 7: the review queue from the real filter's decisions, labels in the bucket, and
    the labelled images of the training side in the next training job."""
    bucket = s.output("bucket_name")
    queue = json.loads(s.scones("review", then=("list", "--json", "--limit", "500")))
    reasons = {item["reason"] for item in queue["items"]}
    check(queue["waiting"] > 0 and {"drift_hold", "low_confidence"} <= reasons,
          f"the queue holds the held and refused decisions of the runs: {queue['waiting']} waiting, {reasons}")
    picked = queue["items"][:3]
    for item in picked:
        s.scones("review", then=("label", item["key"], "motorcycle"))
    after = json.loads(s.scones("review", then=("list", "--json", "--limit", "500")))
    listed = {item["key"] for item in after["items"]}
    check(after["answered"] >= len(picked) and not listed & {i["key"] for i in picked},
          f"labelled images leave the queue: answered {after['answered']}, still listed {listed & {i['key'] for i in picked}}")
    objects = s.s3.list_objects_v2(Bucket=bucket, Prefix="review/labels/").get("Contents", [])
    records = [json.loads(s.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in objects]
    check(len(records) == len(picked) and all(r["who"].startswith("arn:aws:") for r in records),
          f"one object per label, from the caller's identity: {records}")

    # Images of train/ labelled from outside the queue: two on the training side, one held out.
    train_keys = [o["Key"] for o in s.s3.list_objects_v2(Bucket=bucket, Prefix="train/")["Contents"]]
    trained = [k for k in train_keys if not held_out(k)][:2]
    held = [k for k in train_keys if held_out(k)][:1]
    check(len(trained) == 2 and len(held) == 1, f"train/ has images on both sides of the split: {len(train_keys)} keys")
    csv = os.path.join(s.args.home, "reviewed.csv")
    with open(csv, "w") as f:
        f.write("key,label\n" + "".join(f"{k},bicycle\n" for k in trained + held))
    s.scones("review", then=("import", csv))
    spec = s.terraform("output", "-json", "training_job_spec")
    done = subprocess.run([s.args.scones, "train", "--aws", "--job-spec", spec, "--poll-seconds", "1"],
                          capture_output=True, text=True, timeout=300)
    out = done.stdout
    print(f"$ scones train --aws --job-spec ...   (exit {done.returncode})")
    for line in out.strip().splitlines():
        print(f"    {line}")
    check(done.returncode == 0, f"train --aws with reviewed images failed:\n{out}\n{done.stderr[-2000:]}")
    check("reviewed images: 2 added" in out and "1 held out" in out,
          f"the two images of the training side joined, the held-out one did not:\n{out}")
    job = json.loads(spec)["job_name"]
    created = re.search(r"created training job (\S+)", out)
    check(created is not None and created.group(1).startswith(job) and created.group(1) != job,
          f"the job's name covers the reviewed images (Terraform's {job} plus their digest):\n{out}")
    print("review: the queue held the runs' refused and held decisions; 3 labels, one object each, left it; "
          "train --aws added the 2 labelled images of the training side, not the held-out one")


def endpoint_model_url(s: Session) -> str:
    """The artefact the endpoint's current configuration serves."""
    sm = boto3.client("sagemaker", endpoint_url=s.args.endpoint_url, region_name="us-east-1")
    endpoint = sm.describe_endpoint(EndpointName=s.output("endpoint_name"))
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return model["PrimaryContainer"]["ModelDataUrl"]


def check_baseline_follows(s: Session, version: str, said: str, since: float) -> None:
    """The drift baseline's outputs belong to the version that serves: a promotion or a
    rollback measures them again through the endpoint on the baseline's held-out set (step 3),
    keeps the inputs, and says so."""
    key = s.output("scones")["drift"]["baseline_key"]
    baseline = json.loads(s.s3.get_object(Bucket=s.output("bucket_name"), Key=key)["Body"].read())
    # chrono writes nanoseconds; fromisoformat takes at most microseconds.
    created = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", baseline["created"]).replace("Z", "+00:00")).timestamp()
    check(baseline["model"].endswith(f"serving {version}") and created >= since
          and baseline.get("held_out", {}).get("lst_key") == "holdout.lst"
          and f"serving {version}" in (baseline.get("outputs_from") or "")
          and "drift baseline: outputs measured again" in said,
          f"the drift baseline's outputs are measured again for {version}: {baseline['model']}, "
          f"{baseline.get('outputs_from')}, created {baseline['created']}; said:\n{said}")
    print(f"drift baseline: outputs measured again for {version} ({baseline['outputs_from']})")


def promote_and_rollback(s: Session) -> None:
    """Step 8: versions, a promotion through Terraform's deployment guardrails, a rollback."""
    bucket = s.output("bucket_name")
    trained_job = s.output("training_job_name")
    view = json.loads(s.scones("models", then=("--json",)))
    versions = [v["version"] for v in view["versions"]]
    candidates = [v for v in versions if v.startswith(trained_job + "-r")]
    check(view["serving"] == trained_job and candidates,
          f"the versions are the stack's training jobs, Terraform's serving: {view['serving']} of {versions}")
    candidate = candidates[0]
    url = f"s3://{bucket}/models/{candidate}/output/model.tar.gz"

    command = [s.args.scones, "promote", "--aws", "--tf-dir", s.args.tf_dir, candidate, "--force"]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=600)
    check(refused.returncode == 1 and "is missing" in refused.stderr,
          f"a version whose artefact is missing is refused (the emulator's jobs write none):\n{refused.stderr}")
    s.s3.put_object(Bucket=bucket, Key=f"models/{candidate}/output/model.tar.gz", Body=b"a model")

    # The gate: a candidate endpoint answers test/ and the production validation set beside
    # the served one (the emulator answers both with the same model: not worse on test/),
    # and one held-out reviewed image is too few to show it better.
    gated = subprocess.run(command[:-1], capture_output=True, text=True, timeout=900)
    check(gated.returncode == 1 and "the gate refused" in gated.stderr and "not worse on test/" in gated.stderr
          and "only 1 reviewed images" in gated.stderr,
          f"the gate measured through a candidate endpoint and refused (too few production images):\n{gated.stderr}")
    sm = boto3.client("sagemaker", endpoint_url=s.args.endpoint_url, region_name="us-east-1")
    left = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    check(left == [s.output("endpoint_name")], f"the candidate endpoint is deleted after measuring: {left}")
    view = json.loads(s.scones("models", then=("--json",)))
    measured = {v["version"]: v["test"] for v in view["versions"] if v["test"]}
    check(set(measured) == {candidate, trained_job} and all(t["images"] == 200 for t in measured.values()),
          f"both versions' measures on the 200 test/ images are kept: {measured}")
    print(f"gate: measured {candidate} and {trained_job} on test/ through a candidate endpoint "
          f"(accuracy {measured[candidate]['accuracy']:.3f} / {measured[trained_job]['accuracy']:.3f}); "
          "refused: " + gated.stderr.strip().splitlines()[-1][:200])
    # SageMaker rolls the update back (an alarm fired while the new fleet baked): the apply
    # succeeds, the endpoint is InService on the old version, and the promotion must say so
    # and put Terraform's inputs back; `terraform apply` then brings the stack in line.
    rollback_alarm = s.output("scones")["models"]["deployment"]["rollback_alarms"][0]
    s.control_json("endpoint-rollback", {"alarm": rollback_alarm})
    history_before = json.loads(s.scones("models", then=("--json",)))["history"]
    rolled = subprocess.run(command, capture_output=True, text=True, timeout=900)
    check(rolled.returncode == 1 and "rolled it back" in rolled.stderr and rollback_alarm in rolled.stderr
          and f"not {candidate}" in rolled.stderr,
          f"a promotion SageMaker rolled back fails naming the alarm:\n{rolled.stderr}")
    check(not os.path.exists(os.path.join(s.args.tf_dir, "scones-serving.auto.tfvars.json")),
          "after a rolled-back promotion Terraform's inputs name what serves again (no serving file)")
    check(json.loads(s.scones("models", then=("--json",)))["history"] == history_before,
          "a rolled-back promotion is not recorded as serving")
    applied = subprocess.run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
                             cwd=s.args.tf_dir, capture_output=True, text=True, timeout=900)
    check(applied.returncode == 0 and endpoint_model_url(s).endswith(f"/{trained_job}/output/model.tar.gz"),
          f"terraform apply after the rollback serves {trained_job} from configurations it owns:\n{applied.stdout[-1500:]}{applied.stderr[-1500:]}")
    print(f"rolled back by SageMaker ({rollback_alarm}): promote said so and put the inputs back; "
          f"terraform apply re-created {trained_job}'s configuration: " + rolled.stderr.strip().splitlines()[-1][:160])

    started = time.time()
    out = s.scones("promote", then=(candidate, "--force"), timeout=900)
    check(f"promote: {candidate} serves" in out, f"promote --force said:\n{out}")
    promoted = time.time()
    check_baseline_follows(s, candidate, out, since=started)
    check(endpoint_model_url(s) == url, f"the endpoint serves {endpoint_model_url(s)}, not {url}")
    served = json.loads(open(os.path.join(s.args.tf_dir, "scones-serving.auto.tfvars.json")).read())
    check(served == {"serving_model_data_url": url}, f"the promotion is Terraform's input: {served}")
    deployment = sm.describe_endpoint(EndpointName=s.output("endpoint_name")).get("LastDeploymentConfig", {})
    routing = deployment.get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration", {})
    alarms = sorted(a["AlarmName"] for a in deployment.get("AutoRollbackConfiguration", {}).get("Alarms", []))
    wanted = sorted(s.output("scones")["models"]["deployment"]["rollback_alarms"])
    check(routing.get("Type") == "ALL_AT_ONCE" and routing.get("WaitIntervalInSeconds") == 600 and alarms == wanted and alarms,
          f"UpdateEndpoint carries the guardrails (one instance: all at once, baking 600 s, rollback alarms {wanted}): {deployment}")
    plan = subprocess.run(["terraform", "plan", "-refresh=false", "-detailed-exitcode", "-input=false", "-no-color"],
                          cwd=s.args.tf_dir, capture_output=True, text=True)
    check(plan.returncode == 0, f"after a promotion Terraform's config is the promoted version: a plan changes nothing:\n{plan.stdout[-2000:]}")
    print(f"promotion: {candidate} serves through terraform apply ({time.time() - started:.0f} s), "
          f"UpdateEndpoint carried {routing.get('Type')} + {routing.get('WaitIntervalInSeconds')} s baking + alarms {alarms}; a plan after it is empty")
    # classify-image reads which version serves at most once a minute per environment
    # (serving_version.rs REFRESH): after that, decisions name the promoted version.
    time.sleep(max(0.0, promoted + SERVING_REFRESH_SECONDS + 1 - time.time()))
    check(classify_one(s) == candidate, f"after the promotion, ClassifyImage names {candidate}")
    print(f"an execution after the promotion names {candidate} as its model")

    view = json.loads(s.scones("models", then=("--json",)))
    check(view["serving"] == candidate and view["history"][-1]["to"] == candidate and view["history"][-1]["forced"],
          f"models shows the promoted version serving and the forced promotion: {view['serving']}, {view['history']}")
    rolled_back = time.time()
    out = s.scones("rollback", timeout=900)
    check(f"rollback: {trained_job} serves" in out, f"rollback said:\n{out}")
    check_baseline_follows(s, trained_job, out, since=rolled_back)
    check(endpoint_model_url(s).endswith(f"/{trained_job}/output/model.tar.gz"), f"rolled back, the endpoint serves {endpoint_model_url(s)}")
    check(not os.path.exists(os.path.join(s.args.tf_dir, "scones-serving.auto.tfvars.json")),
          "rolled back to Terraform's own artefact, the serving file is gone")
    print(f"rollback: {trained_job} serves again")


def dashboard_tabs(s: Session) -> None:
    """Step 5: the dashboard in tmux, tabs 1-9 in turn."""
    if shutil.which("tmux") is None:
        raise Failed("tmux is not installed (scripts/test.sh installs it)")
    server = f"scones-e2e-{os.getpid()}"
    tmux = ["tmux", "-L", server]
    command = f"{s.args.scones} dashboard --aws --tf-dir {s.args.tf_dir}"
    env = dict(os.environ, TERM="xterm-256color")
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "34", command], check=True, env=env)
    try:
        screens = {}
        time.sleep(4)
        for tab in "123456789":
            subprocess.run([*tmux, "send-keys", tab], check=True)
            time.sleep(2.5)
            screens[tab] = subprocess.run([*tmux, "capture-pane", "-p"], check=True, capture_output=True, text=True).stdout
        for tab, screen in screens.items():
            check(screen.strip() != "", f"tab {tab}: the dashboard drew nothing (did it exit?)")
            # A toast reads "<Operation> failed: <cause>"; a panel shows its own error in place.
            bad = [line for line in screen.splitlines() if ERROR_ON_SCREEN.search(line)]
            check(not bad, f"tab {tab} shows an error:\n" + "\n".join(bad) + "\n--- screen ---\n" + screen)
        print("dashboard tabs 1-9 drawn without an error; tabs 3, 7, 8 and 9:")
        for tab in "3789":
            print("\n".join("    " + line for line in screens[tab].splitlines()[:14]))
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--scones", required=True, help="the scones binary (with the aws feature)")
    parser.add_argument("--tf-dir", required=True, help="the applied Terraform directory")
    parser.add_argument("--home", required=True, help="the local home whose model the emulator serves")
    args = parser.parse_args(argv)
    session = Session(args)
    try:
        one_execution(session)
        run_and_what_the_services_recorded(session)
        quality_commands(session)
        drift_on_schedule(session)
        dashboard_tabs(session)
        guard_holds_decisions(session)
        review_and_retrain(session)
        promote_and_rollback(session)
    except Failed as failed:
        print(f"AWS mode end to end: {failed}")
        return 1
    print("AWS mode end to end: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
