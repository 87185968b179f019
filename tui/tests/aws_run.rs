//! The real `scones run --aws` binary against the moto wrapper that scripts/with-moto.sh
//! starts: executions started with `{"s3_bucket", "s3_key"}`, followed to their end, printed
//! one line each plus the summary, the exit status, and the typed errors for a stack that is
//! not deployed.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

mod support;

use std::collections::BTreeSet;

use scones_handlers::ImageRecord;
use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

use support::aws::{Stack, TEST_KEYS};

/// `scones` with only the emulator's settings (no user config, no real credentials).
fn scones(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("scones").unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("AWS_ENDPOINT_URL", support::aws::endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", support::aws::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1");
    cmd
}

/// A saved `terraform output -json scones` of the stack.
fn stack_file(stack: &Stack, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("aws.json");
    std::fs::write(&path, stack.outputs().to_string()).unwrap();
    path
}

/// Runs `cmd` (bounded: executions are followed to their end) and returns its stdout, failing
/// the test with both streams when it does not exit 0.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

/// Lines of the per-execution output (`key \t STATUS \t error \t scores \t ms \t name`).
fn execution_lines(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|l| l.starts_with("test/"))
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn run_random_starts_executions_and_prints_them_with_the_summary() {
    let stack = Stack::create("run-random").await;
    let dir = tempfile::tempdir().unwrap();
    let file = stack_file(&stack, dir.path());

    let mut cmd = scones(dir.path());
    cmd.args(["run", "--aws", "--stack-file"])
        .arg(&file)
        .args(["--random", "2"]);
    let stdout = run_ok(&mut cmd);

    let lines = execution_lines(&stdout);
    assert_eq!(lines.len(), 2, "{stdout}");
    for l in &lines {
        assert_eq!(l.len(), 6, "{l:?}");
        assert!(TEST_KEYS.contains(&l[0].as_str()), "{l:?}");
        assert_eq!(l[1], "SUCCEEDED", "{l:?}");
        assert_eq!(l[2], "-");
        assert_eq!(l[3], "[0.9700, 0.0300]", "{l:?}");
        assert!(l[4].ends_with(" ms"));
    }
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("2 executions: 2 succeeded; p50 "),
        "summary line: {summary}"
    );

    // What moto saw: two executions of this state machine, with exactly the record input.
    let started = stack.executions().await;
    assert_eq!(started.len(), 2);
    let names: BTreeSet<&str> = lines.iter().map(|l| l[5].as_str()).collect();
    for (arn, input) in &started {
        let key = input["s3_key"].as_str().unwrap();
        assert!(TEST_KEYS.contains(&key));
        // The input is the documented execution input: the bucket and the key, nothing else.
        assert_eq!(*input, ImageRecord::execution_input(&stack.bucket, key));
        let name = arn.rsplit(':').next().unwrap();
        assert!(names.contains(name), "{name} not printed: {stdout}");
    }
    // AWS mode leaves no local stack behind (no bucket/, logs/ or store in the default home).
    assert!(!dir.path().join(".local/share/scones").exists());
}

#[tokio::test]
async fn run_key_reports_low_confidence_with_its_scores() {
    let stack = Stack::create("run-key").await;
    stack.fail_low_confidence("motorcycle_s_000002", [0.6, 0.4]);
    let dir = tempfile::tempdir().unwrap();

    // Flags alone name the stack: no Terraform, no saved outputs.
    let mut cmd = scones(dir.path());
    cmd.args(["run", "--aws", "--state-machine-arn"])
        .arg(&stack.state_machine_arn)
        .arg("--bucket")
        .arg(&stack.bucket)
        .args([
            "--key",
            TEST_KEYS[1],
            "--key",
            TEST_KEYS[0],
            "--concurrency",
            "1",
        ]);
    // Like `scones run --local`: executions that ran and failed are results, not errors.
    let stdout = run_ok(&mut cmd);
    let lines = execution_lines(&stdout);
    assert_eq!(lines.len(), 2, "{stdout}");
    let low = lines.iter().find(|l| l[0] == TEST_KEYS[1]).unwrap();
    assert_eq!(low[1], "FAILED", "{low:?}");
    assert_eq!(low[2], "LowConfidence");
    assert_eq!(low[3], "[0.6000, 0.4000]", "scores from the cause: {low:?}");
    let ok = lines.iter().find(|l| l[0] == TEST_KEYS[0]).unwrap();
    assert_eq!(ok[1], "SUCCEEDED");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("2 executions: 1 succeeded, 1 failed (LowConfidence 1); "),
        "{summary}"
    );

    let inputs: Vec<Value> = stack.executions().await.into_values().collect();
    let keys: BTreeSet<&str> = inputs.iter().filter_map(|i| i["s3_key"].as_str()).collect();
    assert_eq!(keys, BTreeSet::from([TEST_KEYS[0], TEST_KEYS[1]]));

    // --quiet: the summary only.
    let mut cmd = scones(dir.path());
    cmd.args(["run", "--aws", "--quiet", "--state-machine-arn"])
        .arg(&stack.state_machine_arn)
        .arg("--bucket")
        .arg(&stack.bucket)
        .args(["--key", TEST_KEYS[2]]);
    let stdout = run_ok(&mut cmd);
    assert!(execution_lines(&stdout).is_empty(), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("1 executions: 1 succeeded"), "{stdout}");
}

#[tokio::test]
async fn a_stack_that_is_not_deployed_is_one_clear_error() {
    let stack = Stack::create("run-missing").await;
    let dir = tempfile::tempdir().unwrap();

    // Outputs that name a state machine that does not exist (destroyed, wrong region).
    let mut outputs = stack.outputs();
    outputs["state_machine_arn"] = json!(format!(
        "arn:aws:states:us-east-1:{}:stateMachine:scones-destroyed",
        support::aws::ACCOUNT
    ));
    let file = dir.path().join("gone.json");
    std::fs::write(&file, outputs.to_string()).unwrap();
    let out = scones(dir.path())
        .args(["run", "--aws", "--stack-file"])
        .arg(&file)
        .args(["--random", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("nothing is deployed") && stderr.contains("scones-destroyed"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(stack.executions().await.is_empty());

    // --threshold is the local stack's: on AWS it is refused with where the threshold lives.
    let file = stack_file(&stack, dir.path());
    let out = scones(dir.path())
        .args(["run", "--aws", "--stack-file"])
        .arg(&file)
        .args(["--random", "1", "--threshold", "0.9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--threshold is a local setting") && stderr.contains("terraform apply"),
        "{stderr}"
    );
    assert!(stack.executions().await.is_empty());

    // Empty outputs (a Terraform directory that was never applied).
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let out = scones(dir.path())
        .args(["run", "--aws", "--stack-file"])
        .arg(&empty)
        .args(["--key", TEST_KEYS[0]])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("nothing is deployed"), "{stderr}");

    // A bucket without test images: --random says how to upload them.
    stack.delete_test_images().await;
    let file = stack_file(&stack, dir.path());
    let out = scones(dir.path())
        .args(["run", "--aws", "--stack-file"])
        .arg(&file)
        .args(["--random", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("scones stage --aws"), "{stderr}");
    assert!(stack.executions().await.is_empty());
}

#[tokio::test]
async fn baseline_aws_writes_the_input_statistics_of_train_where_the_monitor_reads_them() {
    let stack = Stack::create("baseline").await;
    let dir = tempfile::tempdir().unwrap();
    let file = stack_file(&stack, dir.path());

    // Refused before any call: the test split is never a baseline.
    let out = scones(dir.path())
        .args(["baseline", "--aws", "--stack-file"])
        .arg(&file)
        .args(["--held-out-lst", "test.lst"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("neither trained nor tested on"), "{stderr}");

    // A staged training split: train.lst and its PNGs (one of them not a PNG).
    let mut lst = String::new();
    for i in 0..40u8 {
        let name = format!("img_{i}.png");
        lst.push_str(&format!("{i}\t{}\t{name}\n", i % 2));
        let body = if i == 0 {
            b"not a png".to_vec()
        } else {
            scones_handlers::fakes::png(8, 8, [i * 5, 100, 200 - i * 3])
        };
        support::aws::put_object(&stack.s3, &stack.bucket, &format!("train/{name}"), body).await;
    }
    support::aws::put_object(&stack.s3, &stack.bucket, "train.lst", lst.into_bytes()).await;

    let stdout = run_ok(
        scones(dir.path())
            .args(["baseline", "--aws", "--stack-file"])
            .arg(&file),
    );
    let key = stack.drift_baseline_key();
    assert!(
        stdout.contains(&format!("wrote s3://{}/{key}", stack.bucket)),
        "{stdout}"
    );
    assert!(stdout.contains("outputs: none"), "{stdout}");
    let object = stack
        .s3
        .get_object()
        .bucket(&stack.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let baseline: scones_workflow::drift::Baseline = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(baseline.profile.images(), 39);
    assert_eq!(baseline.profile.outputs(), 0);
    assert!(baseline.outputs_from.is_none());
    assert!(
        baseline.inputs_from.contains("1 unreadable as PNG"),
        "{}",
        baseline.inputs_from
    );

    // A baseline that judges outputs (as `--held-out-lst` writes) is not replaced by one
    // that cannot, unless asked: the refusal names the way back and writes nothing.
    let mut with_outputs = baseline.clone();
    with_outputs.outputs_from = Some("50 held-out images of s3://b/holdout.lst".to_owned());
    let judged = serde_json::to_vec(&with_outputs).unwrap();
    support::aws::put_object(&stack.s3, &stack.bucket, &key, judged.clone()).await;
    let out = scones(dir.path())
        .args(["baseline", "--aws", "--stack-file"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("judges the endpoint's outputs (50 held-out images")
            && stderr.contains("--held-out-lst again, or --no-outputs"),
        "{stderr}"
    );
    let kept = support::aws::get_object(&stack.s3, &stack.bucket, &key).await;
    assert_eq!(kept, judged, "the refused run wrote nothing");
    let stdout = run_ok(
        scones(dir.path())
            .args(["baseline", "--aws", "--no-outputs", "--stack-file"])
            .arg(&file),
    );
    assert!(stdout.contains("outputs: none"), "{stdout}");

    // `scones drift --aws` before the monitor ran: what will write the report, and when.
    let out = scones(dir.path())
        .args(["drift", "--aws", "--stack-file"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no drift report yet") && stderr.contains("every 15 min"),
        "{stderr}"
    );

    // After a run (no traffic yet): the report, printed as locally.
    let drift = stack.resources().drift.unwrap();
    let monitor = monitor_drift::Monitor {
        s3: stack.s3.clone(),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&stack.config),
        config: monitor_drift::Config {
            bucket: stack.bucket.clone(),
            endpoint: stack.endpoint_name.clone(),
            capture_prefix: format!("datacapture/{}/AllTraffic/", stack.endpoint_name),
            baseline_key: drift.baseline_key,
            report_prefix: drift.reports_prefix,
            namespace: drift.metric_namespace,
            options: scones_workflow::drift::DriftOptions {
                window: "1h".parse().unwrap(),
                windows: 3,
                threshold: 0.93,
                cutoffs: Default::default(),
            },
            guard_mode: scones_workflow::guard::GuardMode::Hold,
        },
    };
    monitor.run(chrono::Utc::now()).await.unwrap();
    let stdout = run_ok(
        scones(dir.path())
            .args(["drift", "--aws", "--stack-file"])
            .arg(&file),
    );
    assert!(stdout.starts_with("report: "), "{stdout}");
    assert!(stdout.contains("baseline outputs: none"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("drift: NOT ENOUGH DATA"),
        "{stdout}"
    );
}

/// `--profile` is the credentials used even when the environment has keys, and a profile that
/// does not exist is one error naming it (issue 18, item 3).
#[tokio::test]
async fn profile_wins_over_environment_keys_and_a_missing_one_is_named() {
    let stack = Stack::create("profile").await;
    let dir = tempfile::tempdir().unwrap();
    let file = stack_file(&stack, dir.path());
    let config = dir.path().join("aws-config");
    std::fs::write(&config, "[profile emulator]\nregion = us-east-1\n").unwrap();
    let credentials = dir.path().join("aws-credentials");
    std::fs::write(
        &credentials,
        "[emulator]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    let with_files = |cmd: &mut Command| {
        cmd.env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials);
    };

    // The environment has working keys (scones() sets them); the named profile does not
    // exist: before, the keys were used silently and this succeeded.
    let mut cmd = scones(dir.path());
    with_files(&mut cmd);
    let out = cmd
        .args(["run", "--aws", "--profile", "nosuch", "--stack-file"])
        .arg(&file)
        .args(["--key", TEST_KEYS[0]])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("profile \"nosuch\" gives no credentials"),
        "{stderr}"
    );
    assert!(stack.executions().await.is_empty());

    // A profile that exists is used.
    let mut cmd = scones(dir.path());
    with_files(&mut cmd);
    let stdout = run_ok(
        cmd.args(["run", "--aws", "--profile", "emulator", "--stack-file"])
            .arg(&file)
            .args(["--key", TEST_KEYS[0]]),
    );
    assert!(stdout.contains("1 executions"), "{stdout}");
}
