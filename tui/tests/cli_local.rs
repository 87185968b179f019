//! The `scones` binary end to end on the local stack, with a temporary `--home`: stage from a
//! labelled PNG folder, train a tiny model, evaluate, and run executions that SUCCEED, fail
//! with LowConfidence and fail with ObjectNotFound, each with its full history in the store.

#![allow(clippy::unwrap_used)] // a test or bench: a panic is its failure message

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use scones_local::stage::{self, Source, SyntheticSpec, read_lst};
use scones_local::store::{ExecutionStatus, Store};
use scones_local::{Home, LocalBucket, NoProgress};
use serde_json::Value;

fn scones(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("scones").unwrap();
    cmd.arg("--home").arg(home).env_remove("SCONES_HOME");
    cmd
}

/// A small labelled PNG folder in the layout of shared/data/cifar100-bikes.
fn labelled_folder(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let source = LocalBucket::new(root.join("source"));
    let spec = SyntheticSpec {
        train_per_class: 40,
        test_per_class: 8,
        seed: 5,
    };
    stage::stage(
        &source,
        &Source::Synthetic {
            spec,
            reason: "cli test".into(),
        },
        &NoProgress,
    )
    .unwrap();
    let mut csv = String::from("split,filename,label,class_name,cifar100_fine_label\n");
    for split in ["train", "test"] {
        for e in read_lst(&source.root().join(format!("{split}.lst"))).unwrap() {
            csv.push_str(&format!("{split},{},{},x,0\n", e.path, e.label.index()));
        }
    }
    let labels = root.join("labels.csv");
    std::fs::write(&labels, csv).unwrap();
    (source.root().to_path_buf(), labels)
}

/// (key, status, error, name) of each execution line of `scones run`.
fn lines(stdout: &str) -> Vec<(String, String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 6).then(|| (f[0].into(), f[1].into(), f[2].into(), f[5].into()))
        })
        .collect()
}

fn best(store: &Store, name: &str) -> f64 {
    let e = store.execution(name).unwrap().unwrap();
    let [b, m] = e.summary.scores.unwrap();
    b.max(m)
}

/// `root/home` with the synthetic data staged and a quick model trained on it.
fn trained_home(root: &Path) -> std::path::PathBuf {
    let home = root.join("home");
    scones(&home)
        .args(["stage", "--synthetic"])
        .assert()
        .success();
    scones(&home)
        .args(["train", "--epochs", "1", "--width", "4"])
        .assert()
        .success();
    home
}

fn types(history: &[Value]) -> Vec<&str> {
    history
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

#[test]
fn stage_train_eval_and_run_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let (images, labels) = labelled_folder(tmp.path());

    let out = scones(&home)
        .args(["stage", "--local", "--images"])
        .arg(&images)
        .arg("--labels")
        .arg(&labels)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("train    80 images (40 bicycle, 40 motorcycle)"),
        "{out}"
    );
    // Idempotent on request.
    scones(&home)
        .args(["stage", "--if-missing"])
        .assert()
        .success()
        .stdout(predicates::str::contains("skipping"));

    // Running before training names the missing step.
    scones(&home)
        .args(["run", "--random", "1"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("scones train --local"));

    // A final fit (nothing held out) says so instead of printing a NaN accuracy...
    scones(&home)
        .args(["train", "--epochs", "1", "--width", "4", "--holdout", "0"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "final fit on all 80 images, nothing held out",
        ));
    // ...a holdout reports its validation accuracy; an impossible one is refused by name.
    scones(&home)
        .args(["train", "--epochs", "1", "--width", "4", "--holdout", "1.5"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("validation_fraction"));
    scones(&home)
        .args([
            "train",
            "--epochs",
            "2",
            "--width",
            "4",
            "--holdout",
            "0.25",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "on 20 held-out images (60 trained on)",
        ));

    let eval = scones(&home)
        .args(["eval"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let eval = String::from_utf8(eval).unwrap();
    let last = eval.lines().last().unwrap();
    assert!(
        last.starts_with("accuracy: 0.") || last == "accuracy: 1.000",
        "{eval}"
    );
    assert!(eval.contains("at the threshold in force, 0.93"), "{eval}");
    // A threshold asked for is not called the one in force.
    let asked = scones(&home)
        .args(["eval", "--threshold", "0.8"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let asked = String::from_utf8(asked).unwrap();
    assert!(
        asked.contains("at the threshold asked for (--threshold), 0.8")
            && !asked.contains("in force"),
        "{asked}"
    );
    for section in [
        "confusion (rows actual",
        "calibration: ECE",
        "risk-coverage",
        "▶ ",
    ] {
        assert!(eval.contains(section), "{section}: {eval}");
    }
    let eval = scones(&home)
        .args(["eval", "--images"])
        .arg(&images)
        .arg("--labels")
        .arg(&labels)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8(eval).unwrap().contains("(16 images)"));
    let json = scones(&home)
        .args(["eval", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["classification"]["total"], 16);
    assert_eq!(json["risk_coverage"].as_array().unwrap().len(), 50);
    assert!(json["calibration"]["ece"].as_f64().is_some());

    // A threshold from a target accuracy: bad targets are refused with the range...
    for bad in ["1.5", "0", "-1"] {
        scones(&home)
            .args(["threshold", "--target-accuracy", bad])
            .assert()
            .failure()
            .stderr(predicates::str::contains(
                "--target-accuracy must be a number in (0, 1]",
            ));
    }
    // ... a reachable one is recommended and can be saved as the local stack's.
    let recommended = scones(&home)
        .args(["threshold", "--target-accuracy", "0.5", "--save"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let recommended = String::from_utf8(recommended).unwrap();
    assert!(
        recommended.contains("recommended threshold: 0.50"),
        "{recommended}"
    );
    assert!(recommended.contains("saved"), "{recommended}");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(home.join("settings.json")).unwrap()).unwrap();
    assert_eq!(saved["threshold"], 0.5);
    std::fs::remove_file(home.join("settings.json")).unwrap();

    // Threshold 0.5: every classified image passes.
    let run = scones(&home)
        .args([
            "run",
            "--random",
            "12",
            "--threshold",
            "0.5",
            "--concurrency",
            "4",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let run = String::from_utf8(run).unwrap();
    let first = lines(&run);
    assert_eq!(first.len(), 12, "{run}");
    assert!(first.iter().all(|l| l.1 == "SUCCEEDED"), "{run}");
    assert!(
        run.lines()
            .last()
            .unwrap()
            .starts_with("12 executions: 12 succeeded"),
        "{run}"
    );

    // `scones history`: a finished execution's packed history, whole, as the AWS CLI prints
    // one; an unknown execution is one line.
    let history: Value = serde_json::from_slice(
        &scones(&home)
            .args(["history", &first[0].3])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 17, "{history}");
    assert_eq!(events[16]["type"], "ExecutionSucceeded");
    assert!(
        events[4]["taskSucceededEventDetails"]["output"]
            .as_str()
            .unwrap()
            .contains("image_data"),
        "{history}"
    );
    scones(&home)
        .args(["history", "no-such-execution"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("no execution no-such-execution"));

    // Drift: the model's baseline against its captured traffic, twelve inferences so far
    // (too few to judge, said as such; never an alarm on a handful).
    let drift = scones(&home)
        .args(["drift", "--window", "6", "--windows", "2"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let drift = String::from_utf8(drift).unwrap();
    assert!(
        drift.contains("baseline inputs: the 80 images of train/"),
        "{drift}"
    );
    assert!(drift.contains("baseline outputs: none"), "{drift}");
    assert!(drift.contains("6 inferences"), "{drift}");
    assert_eq!(
        drift.lines().last(),
        Some("drift: NOT ENOUGH DATA"),
        "{drift}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &scones(&home)
            .args(["drift", "--window", "1h", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(json["windows"].as_array().unwrap().len(), 6);
    assert_eq!(json["windows"][5]["inferences"], 12);
    scones(&home)
        .args(["drift", "--window", "0"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("neither a count of inferences"));

    // `scones gc`: nothing is 90 days old; a dry run keeping one would remove the others,
    // and removes nothing.
    let gc = scones(&home).arg("gc").assert().success();
    let out = String::from_utf8_lossy(&gc.get_output().stdout).into_owned();
    assert!(out.starts_with("removed 0 executions"), "{out}");
    let total = Home::at(&home)
        .unwrap()
        .open_store()
        .unwrap()
        .status_counts()
        .unwrap()
        .total();
    let gc = scones(&home)
        .args(["gc", "--keep", "1", "--dry-run"])
        .assert()
        .success();
    let out = String::from_utf8_lossy(&gc.get_output().stdout).into_owned();
    assert!(
        out.starts_with(&format!("would remove {} executions", total - 1)),
        "{out}"
    );
    assert_eq!(
        Home::at(&home)
            .unwrap()
            .open_store()
            .unwrap()
            .status_counts()
            .unwrap()
            .total(),
        total
    );

    // A threshold between the most and the least confident answers splits them.
    let store = Home::at(&home).unwrap().open_store().unwrap();
    let mut scored: Vec<(f64, String)> = first
        .iter()
        .map(|l| (best(&store, &l.3), l.0.clone()))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (low, high) = (
        scored.first().unwrap().clone(),
        scored.last().unwrap().clone(),
    );
    assert!(
        high.0 - low.0 > 1e-4,
        "all answers equally confident: {scored:?}"
    );
    let threshold = format!("{:.6}", (high.0 + low.0) / 2.0);
    let run = scones(&home)
        .args([
            "run",
            "--threshold",
            &threshold,
            "--key",
            &high.1,
            "--key",
            &low.1,
        ])
        .args(["--key", "test/no-such-image.png"])
        .assert()
        // ObjectNotFound is not an outcome the workflow is designed for: exit status 1.
        .code(1)
        .get_output()
        .stdout
        .clone();
    let run = String::from_utf8(run).unwrap();
    let results = lines(&run);
    let find = |key: &str| results.iter().find(|l| l.0 == key).unwrap().clone();
    let summary = run.lines().last().unwrap();
    assert!(
        summary.starts_with("3 executions: 1 succeeded, 2 failed"),
        "{summary}"
    );
    assert!(
        summary.contains("LowConfidence 1") && summary.contains("ObjectNotFound 1"),
        "{summary}"
    );

    let ok = find(&high.1);
    assert_eq!((ok.1.as_str(), ok.2.as_str()), ("SUCCEEDED", "-"));
    let history = store
        .history(&store.execution(&ok.3).unwrap().unwrap().summary.arn)
        .unwrap();
    assert_eq!(types(&history).len(), 17);
    assert_eq!(types(&history).last(), Some(&"ExecutionSucceeded"));

    let low_run = find(&low.1);
    assert_eq!(
        (low_run.1.as_str(), low_run.2.as_str()),
        ("FAILED", "LowConfidence")
    );
    let detail = store.execution(&low_run.3).unwrap().unwrap();
    assert_eq!(detail.summary.status, ExecutionStatus::Failed);
    assert!(detail.summary.scores.is_some());
    let history = store.history(&detail.summary.arn).unwrap();
    let t = types(&history);
    assert_eq!(t.len(), 16, "{t:?}");
    assert_eq!(t[t.len() - 2..], ["TaskFailed", "ExecutionFailed"]);
    let failed = &history[history.len() - 1]["executionFailedEventDetails"];
    assert_eq!(failed["error"], "LowConfidence");
    assert!(
        failed["cause"].as_str().unwrap().contains(&threshold[..4]),
        "{failed}"
    );

    let missing = find("test/no-such-image.png");
    assert_eq!(
        (missing.1.as_str(), missing.2.as_str()),
        ("FAILED", "ObjectNotFound")
    );

    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
    assert_eq!(store.status_counts().unwrap().total(), 15);
}

#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    scones(&home)
        .args(["stage", "--cifar"])
        .arg(tmp.path().join("missing.tar.gz"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("missing.tar.gz"));
    let corrupt = tmp.path().join("corrupt.tar.gz");
    std::fs::write(&corrupt, b"not an archive").unwrap();
    scones(&home)
        .args(["stage", "--cifar"])
        .arg(&corrupt)
        .assert()
        .failure()
        .stderr(predicates::str::contains("corrupt.tar.gz is corrupt"));
    assert!(!home.join("bucket/staged.json").exists());
    // `scones gc`: an age that is not one, and a home with no store, are one line each.
    scones(&home)
        .args(["gc", "--older-than", "500"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("is not an age such as 90d"));
    // Nothing to collect is success: a cron job on a home that never ran must not fail.
    scones(&home)
        .args(["gc", "--dry-run"])
        .assert()
        .success()
        .stdout(predicates::str::contains("nothing to collect"));
    // A negative value is a value, not an unknown flag: the range is what is said.
    for bad in ["1.5", "-1"] {
        scones(&home)
            .args(["run", "--key", "x", "--threshold", bad])
            .assert()
            .failure()
            .stderr(predicates::str::contains(
                "THRESHOLD must be a number in (0, 1]",
            ));
    }
    // On AWS the windows are the monitor's (Terraform's drift_window): refused, not ignored.
    for flag in [&["--window", "1h"][..], &["--windows", "3"][..]] {
        scones(&home)
            .args(["drift", "--aws"])
            .args(flag)
            .assert()
            .failure()
            .stderr(predicates::str::contains(
                "'--aws' cannot be used with '--window",
            ));
    }
}

/// stdout closed by its reader (`| head -0`): the command ends quietly with 141, as a Unix
/// tool killed by SIGPIPE; stdout on a full disk (`> /dev/full`): a one-line error, exit 1.
/// Neither panics.
#[test]
fn a_closed_or_full_stdout_ends_the_command_without_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    scones(&home)
        .args(["stage", "--synthetic"])
        .assert()
        .success();
    let again = || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("scones"));
        cmd.arg("--home")
            .arg(&home)
            .env_remove("SCONES_HOME")
            .args(["stage", "--synthetic", "--if-missing"]);
        cmd
    };
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = again()
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(closed.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "quiet: {stderr}");

    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = again()
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot write to stdout: No space left on device"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A careless user's home: a file as `--home` is "not a directory"; a command that fails on a
/// new home (`run` without a model, `eval`, `train` with nothing staged) leaves nothing
/// behind; the dashboard without a terminal says so in one line and exits 2 without writing
/// escape codes, before any set-up.
#[test]
fn a_careless_home_is_told_what_is_wrong_and_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    scones(&file)
        .args(["run", "--key", "test/x.png"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("is not a directory"))
        .stderr(predicates::str::contains("File exists").not());

    let home = tmp.path().join("new-home");
    for args in [
        &["run", "--key", "test/x.png"][..],
        &["eval"][..],
        &["train"][..],
        &["threshold", "--target-accuracy", "0.9"][..],
        &["dashboard", "--readonly"][..],
        &["dashboard"][..],
    ] {
        let out = scones(&home).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!home.exists(), "{args:?} created {}", home.display());
    }
    let out = scones(&home).args(["run", "--key", "x"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("scones train --local").count(),
        1,
        "the fix said once: {stderr}"
    );

    // No terminal (assert_cmd pipes stdout): one line, exit 2, nothing on stdout.
    let out = scones(&home).arg("dashboard").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no escape codes into a pipe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stdout is not a terminal"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// `scones run --random 1000000000` starts at once (keys are drawn as executions start, not
/// all up front), and Ctrl-C ends it: the executions still running are stopped (ABORTED in
/// the store, none left RUNNING for another process to reap), the summary of what ran is
/// printed, and the exit status is 130.
#[test]
fn ctrl_c_ends_a_huge_run_with_its_summary_and_nothing_left_running() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let home = trained_home(tmp.path());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scones"))
        .arg("--home")
        .arg(&home)
        .env_remove("SCONES_HOME")
        .args(["run", "--random", "1000000000", "--concurrency", "8"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let started = std::time::Instant::now();
    let mut line = String::new();
    for _ in 0..20 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the run ended early"
        );
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "a billion keys must not be drawn before the first execution"
    );
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let summary = rest.lines().last().unwrap_or_default();
    assert!(
        summary.contains(" executions: "),
        "the summary last: {rest}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    let counts = Store::open(&home.join("scones.sqlite3"))
        .unwrap()
        .status_counts()
        .unwrap();
    assert_eq!(counts.running, 0, "{counts:?}");
    assert!(counts.total() >= 20, "{counts:?}");
}

/// A full disk during a run (issue 15): the run ends at the first execution the store cannot
/// record, with an error that names the store; the store stays sound and keeps everything
/// recorded before. Filling a real filesystem needs a mount of its own (root); the test uses
/// the nearest thing any user can set: a file-size limit (`ulimit -f`, SIGXFSZ ignored), under
/// which a write that would grow a file past the limit fails as one on a full disk does.
#[test]
fn a_full_disk_ends_the_run_with_the_store_named_and_sound() {
    let tmp = tempfile::tempdir().unwrap();
    let home = trained_home(tmp.path());
    scones(&home)
        .args(["run", "--random", "20"])
        .assert()
        .success();
    let store_path = home.join("scones.sqlite3");
    let before = Store::open(&store_path).unwrap().status_counts().unwrap();
    assert_eq!(before.total(), 20);
    // Room for a few hundred more executions in the largest file there is now.
    let largest = walk(&home).into_iter().max().unwrap();
    let limit_kb = largest / 1024 + 512;
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {limit_kb}; exec \"$0\" \"$@\""
        ))
        .arg(assert_cmd::cargo::cargo_bin("scones"))
        .arg("--home")
        .arg(&home)
        .env_remove("SCONES_HOME")
        .args(["run", "--random", "100000", "--quiet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not be recorded") && stderr.contains(&*store_path.to_string_lossy()),
        "{stderr}"
    );
    // The writer's warnings went to a pipe: plain text, no colour codes.
    assert!(
        stderr.contains("WARN") && !stderr.contains('\u{1b}'),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ran: usize = stdout
        .lines()
        .last()
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {stdout}"));
    assert!(ran < 100_000, "the run went on: {stdout}");

    let store = Store::open(&store_path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
    assert_eq!(store.reference_check().unwrap(), Vec::<String>::new());
    let after = store.status_counts().unwrap();
    assert!(after.succeeded + after.failed >= before.succeeded + before.failed);
    for e in store
        .latest_executions(&Default::default(), 1000)
        .unwrap()
        .iter()
        .filter(|e| e.status.is_final())
    {
        assert!(!store.history(&e.arn).unwrap().is_empty(), "{}", e.arn);
    }
}

/// Sizes of the files under `dir`.
fn walk(dir: &Path) -> Vec<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .flat_map(|entry| {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                walk(&entry.path())
            } else {
                vec![meta.len()]
            }
        })
        .collect()
}

/// The control loop from the command line: the review queue fills from refused decisions,
/// a label and a CSV import land (bad CSV lines named, nothing imported), export prints
/// them, the guard is released and engaged, `models` lists the versions, `promote` refuses
/// what the gate refuses (and a version that does not exist), `rollback` with nothing
/// before says so.
#[test]
fn review_guard_models_and_promotion_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let home = trained_home(tmp.path());
    // A threshold nothing reaches: every decision is refused, so the queue fills.
    scones(&home)
        .args(["run", "--random", "20", "--threshold", "1.0"])
        .assert()
        .success();
    let out = scones(&home)
        .args(["review", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let queue: Value = serde_json::from_slice(&out.stdout).unwrap();
    let waiting = queue["waiting"].as_u64().unwrap();
    assert!(waiting > 0, "{queue}");
    let key = queue["items"][0]["key"].as_str().unwrap().to_owned();
    assert_eq!(queue["items"][0]["reason"], "low_confidence");

    // Without login variables (a container, cron) the label still names who gave it.
    let out = scones(&home)
        .args(["review", "label", &key, "bicycle"])
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("queued as low_confidence"), "{stdout}");
    assert!(!stdout.contains("by unknown"), "{stdout}");
    // A key that is no image, and a label that is no label: clear errors.
    let out = scones(&home)
        .args(["review", "label", "test/nope.png", "bicycle"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an image of the bucket"));
    let out = scones(&home)
        .args(["review", "label", &key, "car"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses the label");

    // A CSV with a bad line imports nothing and names the line.
    let second = queue["items"][1]["key"].as_str().unwrap().to_owned();
    let csv = tmp.path().join("labels.csv");
    std::fs::write(
        &csv,
        format!("key,label\n{second},motorcycle\n{second},lorry\n"),
    )
    .unwrap();
    let out = scones(&home)
        .args(["review", "import"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{out:?}"
    );
    std::fs::write(&csv, format!("key,label\n{second},motorcycle\n")).unwrap();
    scones(&home)
        .args(["review", "import"])
        .arg(&csv)
        .assert()
        .success();
    let out = scones(&home).args(["review", "export"]).output().unwrap();
    let export = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        export.starts_with("key,label,who,at,reason,model\n"),
        "{export}"
    );
    assert!(export.contains(&format!("{key},bicycle,")), "{export}");
    assert!(
        export.contains(&format!("{second},motorcycle,")),
        "{export}"
    );
    let out = scones(&home)
        .args(["review", "list", "--json"])
        .output()
        .unwrap();
    let after: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after["waiting"].as_u64().unwrap(), waiting - 2);

    // The guard: engage, then release; the status says so.
    let out = scones(&home).args(["guard", "engage"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("guard: HOLDING"),
        "{out:?}"
    );
    let out = scones(&home).args(["guard"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("held since"));
    let out = scones(&home).args(["guard", "release"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("guard: ACCEPTING"));

    // Models: one version, serving; nothing to promote; no such version; no rollback.
    let out = scones(&home).args(["models", "--json"]).output().unwrap();
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["versions"].as_array().unwrap().len(), 1);
    assert_eq!(view["versions"][0]["serving"], true);
    let out = scones(&home).args(["promote", "latest"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no version to promote"));
    let out = scones(&home).args(["promote", "v9"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model version \"v9\""));
    let out = scones(&home).args(["rollback"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no earlier version"));
}

/// The second hardening pass (issue 27), each item as a careless user meets it.
#[test]
fn careless_input_second_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let no_panic = |out: &std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_ne!(out.status.code(), Some(101), "{stderr}");
        stderr
    };
    let fresh = tmp.path().join("fresh");
    // Ages and windows past the calendar: a clear error, not an overflow panic.
    for args in [
        &["gc", "--older-than", "100000000d"][..],
        &["drift", "--window", "100000000d"][..],
        &["drift", "--window", "3000000d", "--windows", "40"][..],
    ] {
        let out = scones(&fresh).args(args).output().unwrap();
        let stderr = no_panic(&out);
        assert!(!out.status.success(), "{args:?}: {stderr}");
    }
    // --perturb is for --random: with --key it would send the key unperturbed.
    let out = scones(&fresh)
        .args(["run", "--key", "test/a.png", "--perturb", "darken"])
        .output()
        .unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(!fresh.exists());
    // An empty SCONES_HOME means unset, as it does to a shell user.
    let xdg = tmp.path().join("xdg");
    let out = Command::cargo_bin("scones")
        .unwrap()
        .env("SCONES_HOME", "")
        .env("XDG_DATA_HOME", &xdg)
        .args(["gc", "--dry-run"])
        .output()
        .unwrap();
    let stderr = no_panic(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&xdg.join("scones").display().to_string())
    );
    // A labels file that cannot be read stages nothing (no bucket/, no logs/).
    let dir = tmp.path().join("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let bad_csv = tmp.path().join("bad.csv");
    std::fs::write(&bad_csv, "split,filename,label\nvalid,a.png,7\n").unwrap();
    let out = scones(&fresh)
        .args(["stage", "--images"])
        .arg(&dir)
        .arg("--labels")
        .arg(&bad_csv)
        .output()
        .unwrap();
    no_panic(&out);
    assert!(!out.status.success());
    assert!(
        !fresh.exists(),
        "a bad labels file created {}",
        fresh.display()
    );

    let home = trained_home(tmp.path());
    // A directory as --labels is named as one.
    let out = scones(&home)
        .args(["eval", "--images"])
        .arg(&dir)
        .arg("--labels")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(no_panic(&out).contains("is a directory"));
    // --json is JSON alone: the hints go to stderr.
    let out = scones(&home)
        .args(["threshold", "--target-accuracy", "0.5", "--json"])
        .output()
        .unwrap();
    no_panic(&out);
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert!(json.get("target").is_some(), "{json}");
    // A closed pipe ends eval and threshold quietly (141); a full one says it is stdout.
    let std_scones = |args: &[&str]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("scones"));
        cmd.arg("--home")
            .arg(&home)
            .env_remove("SCONES_HOME")
            .args(args)
            .stderr(std::process::Stdio::piped());
        cmd
    };
    for args in [
        &["eval", "--json"][..],
        &["threshold", "--target-accuracy", "0.5", "--json"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std_scones(args).stdout(writer).output().unwrap();
        let stderr = no_panic(&out);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        let full = std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std_scones(args).stdout(full).output().unwrap();
        let stderr = no_panic(&out);
        assert!(
            stderr.contains("cannot write to stdout"),
            "{args:?}: {stderr}"
        );
    }
    // --save from one image: whichever label makes it right, one image cannot back a
    // target, so nothing is saved without --force.
    let one = tmp.path().join("one");
    std::fs::create_dir_all(one.join("test")).unwrap();
    let staged = home.join("bucket/test");
    let first = read_lst(&home.join("bucket/test.lst")).unwrap()[0]
        .path
        .clone();
    std::fs::copy(staged.join(&first), one.join("test").join(&first)).unwrap();
    let mut refused = 0;
    for label in [0, 1] {
        let csv = tmp.path().join(format!("one-{label}.csv"));
        std::fs::write(
            &csv,
            format!("split,filename,label\ntest,{first},{label}\n"),
        )
        .unwrap();
        let save = |force: bool| {
            let mut cmd = scones(&home);
            cmd.args([
                "threshold",
                "--target-accuracy",
                "0.5",
                "--save",
                "--images",
            ])
            .arg(&one)
            .arg("--labels")
            .arg(&csv);
            if force {
                cmd.arg("--force");
            }
            cmd.output().unwrap()
        };
        let out = save(false);
        let stderr = no_panic(&out);
        if stderr.contains("not saved") {
            refused += 1;
            assert!(!out.status.success());
            let settings = std::fs::read_to_string(home.join("settings.json")).unwrap_or_default();
            assert!(!settings.contains("threshold"), "{settings}");
            assert!(save(true).status.success(), "--force saves");
        }
    }
    assert_eq!(
        refused, 1,
        "the label that makes the image right is refused"
    );
    // Re-staging other images under a trained model: said, not silent.
    let (images, labels) = labelled_folder(tmp.path());
    let out = scones(&home)
        .args(["stage", "--images"])
        .arg(&images)
        .arg("--labels")
        .arg(&labels)
        .output()
        .unwrap();
    let stderr = no_panic(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("trained on the images staged before"),
        "{stderr}"
    );
    // Training where the model cannot be saved is refused before any epoch.
    let models = home.join("bucket/models");
    std::fs::rename(&models, tmp.path().join("models-aside")).unwrap();
    std::fs::write(&models, b"not a folder").unwrap();
    let out = scones(&home)
        .args(["train", "--epochs", "1", "--width", "4"])
        .output()
        .unwrap();
    let stderr = no_panic(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("nothing was trained"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("epoch"),
        "no epoch ran"
    );
    // A damaged store is refused by every command that opens it, with the way out.
    std::fs::write(home.join("scones.sqlite3"), vec![0x42; 8192]).unwrap();
    for args in [
        &["gc"][..],
        &["gc", "--keep", "10"][..],
        &["history", "x"][..],
    ] {
        let out = scones(&home).args(args).output().unwrap();
        let stderr = no_panic(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr.contains("damaged") && stderr.contains("mv "),
            "{args:?}: {stderr}"
        );
    }
}

/// The Terraform variables `variables.tf` declares.
fn terraform_variables() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/variables.tf");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("variable \""))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The Terraform variables a text tells the operator to set: `-var NAME=` and
/// "Terraform's `NAME` variable".
fn named_variables(text: &str) -> Vec<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut names = Vec::new();
    for piece in text.split("-var ").skip(1) {
        names.extend(piece.split('=').next().map(str::to_owned));
    }
    for piece in text.split("Terraform's `").skip(1) {
        let (name, rest) = piece.split_once('`').unwrap_or((piece, ""));
        if rest.trim_start().starts_with("variable") {
            names.push(name.to_owned());
        }
    }
    names
}

/// Every Terraform variable the CLI names (help, refusals, hints) is one `variables.tf`
/// declares: `-var threshold=0.97` failed with "undeclared variable" (the variable is
/// `confidence_threshold`).
#[test]
fn every_terraform_variable_the_cli_names_is_declared() {
    let declared = terraform_variables();
    assert!(
        declared.contains(&"confidence_threshold".to_owned()),
        "{declared:?}"
    );
    let home = tempfile::tempdir().unwrap();
    let mut texts = Vec::new();
    for command in ["run", "threshold", "drift", "eval", "dashboard"] {
        let out = scones(home.path())
            .args([command, "--help"])
            .output()
            .unwrap();
        texts.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    #[cfg(feature = "aws")]
    for args in [
        &["threshold", "--aws", "--save", "--target-accuracy", "0.9"][..],
        &["run", "--aws", "--threshold", "0.9", "--random", "1"][..],
        // Refused, not ignored (the dashboard's `t` would not use it).
        &["dashboard", "--aws", "--threshold", "0.5"][..],
    ] {
        let out = scones(home.path()).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !named_variables(&stderr).is_empty(),
            "{args:?} names no variable: {stderr}"
        );
        texts.push(stderr);
    }
    let named: Vec<String> = texts.iter().flat_map(|t| named_variables(t)).collect();
    assert!(
        named.contains(&"confidence_threshold".to_owned()),
        "{named:?}"
    );
    for name in named {
        assert!(
            declared.contains(&name),
            "the CLI names the Terraform variable `{name}`, which variables.tf does not declare"
        );
    }
}

/// `scones serve` (what the AWS emulator's InvokeEndpoint runs): each framed request is
/// answered with the served model's own prediction, a body that is not an image is the
/// caller's fault (a 4XX on SageMaker), an oversized frame is refused, end of input ends it.
#[test]
fn serve_answers_each_framed_request_with_the_served_model() {
    use std::io::{BufRead, BufReader, Write};

    let tmp = tempfile::tempdir().unwrap();
    let home = trained_home(tmp.path());
    let bucket = Home::at(&home).unwrap().bucket();
    let model = scones_local::training::load_serving(&bucket).unwrap();
    let version = scones_local::models::serving(&bucket).unwrap().unwrap();
    let png = std::fs::read(
        bucket
            .root()
            .join("test")
            .join(&read_lst(&bucket.root().join("test.lst")).unwrap()[0].path),
    )
    .unwrap();

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scones"))
        .arg("--home")
        .arg(&home)
        .arg("serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |body: &[u8]| -> Value {
        input.write_all(&(body.len() as u32).to_le_bytes()).unwrap();
        input.write_all(body).unwrap();
        input.flush().unwrap();
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };

    let answer = ask(&png);
    let expected = model.classifier().predict_png(&png).unwrap();
    let got: Vec<f32> = serde_json::from_value(answer["probabilities"].clone()).unwrap();
    assert_eq!(got, expected.to_vec(), "{answer}");
    assert_eq!(answer["version"], version.as_str());

    let answer = ask(b"not a png");
    assert_eq!(answer["client_error"], true, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("PNG"),
        "{answer}"
    );
    drop(input);
    assert!(child.wait().unwrap().success());

    // A frame longer than an endpoint takes is refused before it is read.
    let out = scones(&home)
        .arg("serve")
        .write_stdin(u32::MAX.to_le_bytes().to_vec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("more than the 6291456"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
