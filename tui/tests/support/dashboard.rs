//! Shared pieces of the dashboard tests: a deterministic fixture backend (fixed clock, fixed
//! ids, AWS-shaped histories), app options with a fixed time zone and seed, and a local
//! stack on a temporary home with a deterministic predictor.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::{Value, json};

use scones::dashboard::app::AppOptions;
use scones::dashboard::config::Config;
use scones_workflow::ExecutionStatus;
use scones_workflow::cause::StopReason;
use scones_workflow::class::Class;
use scones_workflow::drift::{
    Cutoffs, DriftView, ImageFeatures, Profile, WindowDrift, WindowSpec, compare,
};
use scones_workflow::guard::{Guard, GuardCommand, GuardMode, GuardState};
use scones_workflow::history::HistoryEvent;
use scones_workflow::models::{
    ModelVersion, ModelsView, Promotion, ServingChange, SetMeasures, TrainedOn,
};
use scones_workflow::port::{
    Backend, BackendError, BackendInfo, BackendKind, BackendResult, CapturePoint, CaptureSample,
    Cursor, EndpointInfo, EndpointMetrics, ExecutionDelta, ExecutionId, ExecutionSummary, LogLevel,
    LogLine, LowConfidenceFailure, LowConfidenceReport, Operation, RecordLink, TimeRange,
};
use scones_workflow::review::{
    LabelRecord, NewLabel, ReviewItem, ReviewQueue, ReviewReason, Verdict,
};
use scones_workflow::run::ExecutionResult;

/// The fixed "now" of the fixtures: 2025-06-01 12:00:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

/// Options: default config, UTC, fixed seed, colours unless `no_color`.
pub fn options(readonly: bool, no_color: bool) -> AppOptions {
    AppOptions {
        config: Config::default(),
        readonly,
        no_color,
        tz: FixedOffset::east_opt(0).unwrap(),
        seed: 7,
        // As `AppOptions::new` with the default images.
        picker: scones::dashboard::components::image::ImageMode::picker(None, no_color),
    }
}

const KEYS: [&str; 6] = [
    "test/bicycle_s_000513.png",
    "test/motorcycle_s_001234.png",
    "test/bicycle_s_002100.png",
    "test/motorcycle_s_000077.png",
    "test/bicycle_s_001999.png",
    "test/motorcycle_s_000450.png",
];

/// The labels of [`KEYS`] (given, as `test.lst` gives them: never read from the name).
const LABELS: [Class; 6] = [
    Class::Bicycle,
    Class::Motorcycle,
    Class::Bicycle,
    Class::Motorcycle,
    Class::Bicycle,
    Class::Motorcycle,
];

/// A 32x32 PNG: a red-to-blue gradient with a white diagonal, so its rendering shows.
pub fn fixture_png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(32, 32, |x, y| {
        if x == y {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb([(x * 8) as u8, 40, (y * 8) as u8])
        }
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn arn(i: usize) -> String {
    format!("arn:aws:states:local:000000000000:execution:scones:exec-{i:04}")
}

fn low_cause(b: f64, m: f64) -> String {
    json!({
        "errorMessage": format!(
            "confidence {:.4} is below the threshold 0.93: p_bicycle={b:.4}, p_motorcycle={m:.4}",
            b.max(m)
        ),
        "errorType": "LowConfidence",
    })
    .to_string()
}

/// The fixture executions: 14 of them, newest last, with every status the list colours.
/// Classified ones carry scores; every fifth image is unlabelled, the others have their
/// label; exec-0008 is accepted but wrong.
pub fn executions() -> Vec<ExecutionSummary> {
    (0..14)
        .map(|i| {
            let start = t0() - chrono::Duration::seconds(600 - 40 * i as i64);
            let (status, error, cause, ms) = match i {
                3 | 9 => (
                    ExecutionStatus::Failed,
                    Some("LowConfidence".to_owned()),
                    Some(low_cause(0.71, 0.29)),
                    412,
                ),
                6 => (
                    ExecutionStatus::Failed,
                    Some("ObjectNotFound".to_owned()),
                    Some(json!({"errorMessage": "s3://scones-local/test/missing.png does not exist", "errorType": "ObjectNotFound"}).to_string()),
                    95,
                ),
                11 => (
                    ExecutionStatus::Aborted,
                    Some("Dashboard.Stopped".to_owned()),
                    Some("stopped from the scones dashboard".to_owned()),
                    2300,
                ),
                13 => (ExecutionStatus::Running, None, None, 0),
                _ => (ExecutionStatus::Succeeded, None, None, 180 + 7 * i as i64),
            };
            let label = (i % 5 != 4).then_some(LABELS[i % KEYS.len()]);
            let leaning = |class: Class, p: f64| match class {
                Class::Bicycle => [p, 1.0 - p],
                Class::Motorcycle => [1.0 - p, p],
            };
            let truth = LABELS[i % KEYS.len()];
            let scores = match (status, error.as_deref()) {
                (ExecutionStatus::Succeeded, _) if i == 8 => Some(leaning(truth.other(), 0.95)),
                (ExecutionStatus::Succeeded, _) => Some(leaning(truth, 0.97)),
                (_, Some("LowConfidence")) => Some([0.71, 0.29]),
                _ => None,
            };
            ExecutionSummary {
                id: ExecutionId::new(arn(i)),
                name: format!("exec-{i:04}"),
                s3_key: Some(KEYS[i % KEYS.len()].to_owned()),
                status,
                start,
                stop: (status != ExecutionStatus::Running)
                    .then(|| start + chrono::Duration::milliseconds(ms)),
                error,
                cause,
                scores,
                label,
                model: scores.map(|_| FIXTURE_MODEL.to_owned()),
            }
        })
        .collect()
}

/// The model version the fixture's executions were classified by.
pub const FIXTURE_MODEL: &str = "20250601T110000.000Z-9bdcf10d";
/// A candidate version of the fixture's registry.
pub const FIXTURE_CANDIDATE: &str = "20250601T115000.000Z-4c2e8a17";

/// The fixture's control loop: the guard, the labels given, the model registry.
pub struct FixtureControl {
    pub guard: GuardState,
    pub labels: Vec<LabelRecord>,
    pub models: ModelsView,
}

fn fixture_models() -> ModelsView {
    let measures = |accuracy: f64, images| SetMeasures {
        images,
        accuracy,
        ece: 0.031,
        coverage: 0.72,
        accepted_accuracy: Some(0.98),
    };
    let version =
        |name: &str, minutes: i64, reviewed, test, production: Option<f64>, serving| ModelVersion {
            version: name.to_owned(),
            created: t0() - chrono::Duration::minutes(minutes),
            trained_on: TrainedOn {
                base: 1000,
                reviewed,
            },
            test: Some(measures(test, 200)),
            production: production.map(|a| measures(a, 64)),
            threshold: 0.93,
            serving,
        };
    ModelsView {
        versions: vec![
            version(FIXTURE_CANDIDATE, 10, 236, 0.905, Some(0.891), false),
            version(FIXTURE_MODEL, 60, 0, 0.91, None, true),
        ],
        serving: Some(FIXTURE_MODEL.to_owned()),
        history: vec![Promotion {
            at: t0() - chrono::Duration::minutes(59),
            who: "ml".to_owned(),
            action: ServingChange::First,
            from: None,
            to: FIXTURE_MODEL.to_owned(),
            gate: None,
            forced: false,
            drift_baseline: None,
        }],
        deployment: None,
    }
}

impl FixtureBackend {
    /// The review queue's items: the low-confidence failures and every fourth accepted
    /// decision as the audit sample, each key once, newest execution per key.
    fn queue_items(&self) -> Vec<ReviewItem> {
        let mut by_key: std::collections::BTreeMap<String, ReviewItem> = Default::default();
        for (i, e) in self.executions.iter().enumerate() {
            let reason = match (e.status, e.error.as_deref()) {
                (_, Some("LowConfidence")) => ReviewReason::LowConfidence,
                (ExecutionStatus::Succeeded, _) if i % 4 == 0 => ReviewReason::Audit,
                _ => continue,
            };
            let Some(key) = e.s3_key.clone() else {
                continue;
            };
            by_key.insert(
                key.clone(),
                ReviewItem {
                    key,
                    reason,
                    execution: Some(e.id.clone()),
                    scores: e.scores,
                    model: e.model.clone(),
                    time: e.stop.unwrap_or(e.start),
                },
            );
        }
        let mut items: Vec<ReviewItem> = by_key.into_values().collect();
        items.sort_by_key(|i| i.time);
        items
    }
}

fn event(id: i64, kind: &str, at: DateTime<Utc>, details_key: &str, details: Value) -> Value {
    let mut e = json!({
        "id": id,
        "previousEventId": id - 1,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "type": kind,
    });
    if !details_key.is_empty() {
        e[details_key] = details;
    }
    e
}

/// The `GetExecutionHistory` of fixture execution `e`, as AWS JSON: three Lambda tasks,
/// ClassifyImage retried once; LowConfidence executions fail in FilterLowConfidence.
pub fn history_json(e: &ExecutionSummary) -> Vec<Value> {
    let key = e.s3_key.clone().unwrap_or_default();
    let input = json!({"s3_bucket": "scones-local", "s3_key": key}).to_string();
    let mut t = e.start;
    let mut step = |ms: i64| {
        t += chrono::Duration::milliseconds(ms);
        t
    };
    let mut out = vec![event(
        1,
        "ExecutionStarted",
        e.start,
        "executionStartedEventDetails",
        json!({"input": input, "roleArn": "arn:aws:iam::000000000000:role/local"}),
    )];
    let record = |inferences: Value| {
        json!({"s3_bucket": "scones-local", "s3_key": key, "image_data": "iVBORw0KGgo=", "inferences": inferences}).to_string()
    };
    let mut id = 1;
    let mut push = |kind: &str, at: DateTime<Utc>, dk: &str, d: Value, out: &mut Vec<Value>| {
        id += 1;
        out.push(event(id, kind, at, dk, d));
    };
    let lambda = json!({"resource": "invoke", "resourceType": "lambda"});
    let states: [(&str, String, String); 3] = [
        ("SerializeImageData", input.clone(), record(json!([]))),
        (
            "ClassifyImage",
            record(json!([])),
            record(json!([0.71, 0.29])),
        ),
        (
            "FilterLowConfidence",
            record(json!([0.71, 0.29])),
            record(json!([0.71, 0.29])),
        ),
    ];
    let low = e.error.as_deref() == Some("LowConfidence");
    let missing = e.error.as_deref() == Some("ObjectNotFound");
    for (name, sin, sout) in states {
        push(
            "TaskStateEntered",
            step(2),
            "stateEnteredEventDetails",
            json!({"name": name, "input": sin}),
            &mut out,
        );
        push(
            "TaskScheduled",
            step(1),
            "taskScheduledEventDetails",
            json!({"resource": "invoke", "resourceType": "lambda", "region": "local", "parameters": "{}"}),
            &mut out,
        );
        push(
            "TaskStarted",
            step(3),
            "taskStartedEventDetails",
            lambda.clone(),
            &mut out,
        );
        if name == "ClassifyImage" {
            push(
                "TaskFailed",
                step(40),
                "taskFailedEventDetails",
                json!({"resource": "invoke", "resourceType": "lambda", "error": "Lambda.TooManyRequestsException", "cause": "Rate exceeded"}),
                &mut out,
            );
            push(
                "TaskScheduled",
                step(1000),
                "taskScheduledEventDetails",
                json!({"resource": "invoke", "resourceType": "lambda", "region": "local", "parameters": "{}"}),
                &mut out,
            );
            push(
                "TaskStarted",
                step(2),
                "taskStartedEventDetails",
                lambda.clone(),
                &mut out,
            );
        }
        let fails_here =
            (missing && name == "SerializeImageData") || (low && name == "FilterLowConfidence");
        if fails_here {
            let cause = e.cause.clone().unwrap_or_default();
            let error = e.error.clone().unwrap_or_default();
            push(
                "TaskFailed",
                step(20),
                "taskFailedEventDetails",
                json!({"resource": "invoke", "resourceType": "lambda", "error": error, "cause": cause}),
                &mut out,
            );
            push(
                "ExecutionFailed",
                step(1),
                "executionFailedEventDetails",
                json!({"error": error, "cause": cause}),
                &mut out,
            );
            return out;
        }
        if e.status == ExecutionStatus::Running && name == "ClassifyImage" {
            return out;
        }
        push(
            "TaskSucceeded",
            step(25),
            "taskSucceededEventDetails",
            json!({"resource": "invoke", "resourceType": "lambda", "output": json!({"Payload": sout, "StatusCode": 200}).to_string()}),
            &mut out,
        );
        push(
            "TaskStateExited",
            step(1),
            "stateExitedEventDetails",
            json!({"name": name, "output": sout}),
            &mut out,
        );
    }
    if e.status == ExecutionStatus::Aborted {
        push(
            "ExecutionAborted",
            step(1),
            "executionAbortedEventDetails",
            json!({"error": e.error, "cause": e.cause}),
            &mut out,
        );
    } else {
        let final_output = record(json!([0.97, 0.03]));
        push(
            "ExecutionSucceeded",
            step(1),
            "executionSucceededEventDetails",
            json!({"output": final_output}),
            &mut out,
        );
    }
    out
}

/// A backend answering from the fixtures, instantly and deterministically. `failing`
/// makes every call fail (for the stale marker).
pub struct FixtureBackend {
    pub executions: Vec<ExecutionSummary>,
    pub failing: AtomicBool,
    pub started: AtomicUsize,
    /// `image` calls answered.
    pub image_calls: AtomicUsize,
    pub home: PathBuf,
    /// Histories served instead of the generated ones, by execution id.
    pub histories: std::sync::Mutex<std::collections::HashMap<ExecutionId, Vec<Value>>>,
    /// The newest drift window is dark traffic (an ALERT) rather than the baseline's.
    pub drifting: AtomicBool,
    /// When the drift report was computed (AWS: the monitor's last run); `None` as locally.
    pub drift_computed: std::sync::Mutex<Option<DateTime<Utc>>>,
    /// The drift baseline has input statistics only.
    pub drift_inputs_only: AtomicBool,
    /// Say it is the AWS backend (mutating keys then ask for confirmation).
    pub aws: AtomicBool,
    /// StopExecution calls.
    pub stops: std::sync::atomic::AtomicUsize,
    /// Logs calls.
    pub logs_calls: std::sync::atomic::AtomicUsize,
    /// Endpoint metrics cover only the last quarter of the window (as CloudWatch answers
    /// for an endpoint created minutes ago).
    pub metrics_late: AtomicBool,
    /// The newest period of the metrics has no invocations (so no latency).
    pub metrics_quiet_now: AtomicBool,
    /// The guard, the labels and the models.
    pub control: std::sync::Mutex<FixtureControl>,
    /// The endpoint's description instead of an `InService` one.
    pub endpoint: std::sync::Mutex<Option<EndpointInfo>>,
}

impl FixtureBackend {
    pub fn new(executions: Vec<ExecutionSummary>) -> Arc<Self> {
        Arc::new(FixtureBackend {
            executions,
            failing: AtomicBool::new(false),
            started: AtomicUsize::new(0),
            image_calls: AtomicUsize::new(0),
            home: PathBuf::from("/home/ml/.local/share/scones"),
            histories: Default::default(),
            drifting: AtomicBool::new(false),
            drift_computed: std::sync::Mutex::new(None),
            drift_inputs_only: AtomicBool::new(false),
            aws: AtomicBool::new(false),
            stops: std::sync::atomic::AtomicUsize::new(0),
            logs_calls: std::sync::atomic::AtomicUsize::new(0),
            metrics_late: AtomicBool::new(false),
            metrics_quiet_now: AtomicBool::new(false),
            control: std::sync::Mutex::new(FixtureControl {
                guard: GuardState::new(GuardMode::Hold, t0()),
                labels: Vec::new(),
                models: fixture_models(),
            }),
            endpoint: std::sync::Mutex::new(None),
        })
    }

    fn check(&self, operation: Operation) -> BackendResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(BackendError::Failed {
                operation,
                message: "connection refused".to_owned(),
            })
        } else {
            Ok(())
        }
    }
}

impl Backend for FixtureBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: if self.aws.load(Ordering::SeqCst) {
                BackendKind::Aws {
                    profile: None,
                    credentials: "env keys".to_owned(),
                    region: "us-east-1".to_owned(),
                }
            } else {
                BackendKind::Local {
                    home: self.home.clone(),
                    synthetic_data: false,
                }
            },
            state_machine: "scones".to_owned(),
            threshold: 0.93,
            supports_redrive: false,
        }
    }

    async fn executions_since(
        &self,
        cursor: Option<Cursor>,
        _limit: usize,
    ) -> BackendResult<ExecutionDelta> {
        self.check(Operation::ListExecutions)?;
        let changed = if cursor.is_some() {
            Vec::new()
        } else {
            self.executions.clone()
        };
        Ok(ExecutionDelta {
            changed,
            cursor: Cursor("all".to_owned()),
            more: false,
            removed: Vec::new(),
        })
    }

    async fn history(&self, id: ExecutionId) -> BackendResult<Vec<HistoryEvent>> {
        self.check(Operation::GetExecutionHistory)?;
        let e = self
            .executions
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| BackendError::NotFound(id.to_string()))?;
        let events = self
            .histories
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or_else(|| history_json(e));
        Ok(events
            .iter()
            .enumerate()
            .map(|(i, v)| HistoryEvent::from_aws_json(i, v).unwrap())
            .collect())
    }

    async fn start_random(&self, count: usize) -> BackendResult<Vec<ExecutionId>> {
        self.check(Operation::StartExecution)?;
        let n = self.started.fetch_add(count, Ordering::SeqCst);
        Ok((n..n + count)
            .map(|i| ExecutionId::new(format!("started-{i}")))
            .collect())
    }

    async fn test_keys(&self) -> BackendResult<Arc<Vec<String>>> {
        Ok(Arc::new(KEYS.iter().map(|k| (*k).to_owned()).collect()))
    }

    async fn start_execution(&self, _s3_key: String) -> BackendResult<ExecutionId> {
        Ok(self.start_random(1).await?.remove(0))
    }

    async fn wait_execution(&self, id: ExecutionId) -> BackendResult<ExecutionResult> {
        Err(BackendError::NotFound(id.to_string()))
    }

    async fn stop(&self, _id: ExecutionId, _reason: StopReason) -> BackendResult<()> {
        self.check(Operation::StopExecution)?;
        self.stops.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn redrive(&self, _id: ExecutionId) -> BackendResult<()> {
        Err(BackendError::Unsupported {
            operation: Operation::RedriveExecution,
            backend: "local",
            reason: "fixture".to_owned(),
        })
    }

    async fn endpoint(&self) -> BackendResult<EndpointInfo> {
        self.check(Operation::DescribeEndpoint)?;
        Ok(self
            .endpoint
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(EndpointInfo {
                name: "scones-local-endpoint".to_owned(),
                status: "InService".to_owned(),
                detail: None,
            }))
    }

    async fn metrics(&self, range: TimeRange, period: Duration) -> BackendResult<EndpointMetrics> {
        self.check(Operation::GetMetricData)?;
        let late = self.metrics_late.load(Ordering::SeqCst);
        let n = if late { 15 } else { 60 };
        let start = if late {
            range.end - chrono::Duration::from_std(period * 15).unwrap_or_default()
        } else {
            range.start
        };
        let inv: Vec<f64> = (0..n)
            .map(|i| f64::from((i * 7 % 13) as u32 + if i > 40 { 10 } else { 2 }))
            .collect();
        let quiet = |i: i32| i == n - 1 && self.metrics_quiet_now.load(Ordering::SeqCst);
        Ok(EndpointMetrics {
            start: Some(start),
            period,
            latency_ms: (0..n)
                .map(|i| (!quiet(i)).then_some(0.6 + f64::from((i % 5) as u32) * 0.05))
                .collect(),
            latency_max_ms: (0..n)
                .map(|i| Some(0.9 + f64::from((i % 7) as u32) * 0.1))
                .collect(),
            errors: (0..n).map(|i| if i == 45 { 2.0 } else { 0.0 }).collect(),
            invocations: inv,
        })
    }

    async fn capture(&self, range: TimeRange, _limit: usize) -> BackendResult<CaptureSample> {
        self.check(Operation::ReadDataCapture)?;
        let span = (range.end - range.start).num_seconds().max(1);
        let points: Vec<CapturePoint> = (0..80)
            .map(|i: i64| {
                let p = 0.55 + ((i * 37) % 45) as f64 / 100.0;
                CapturePoint {
                    time: range.start + chrono::Duration::seconds(span * i / 80),
                    event_id: format!("evt-{i:03}"),
                    p_bicycle: p,
                    p_motorcycle: 1.0 - p,
                }
            })
            .collect();
        Ok(CaptureSample {
            total: points.len() as u64,
            points,
        })
    }

    async fn low_confidence(
        &self,
        range: TimeRange,
        limit: usize,
    ) -> BackendResult<LowConfidenceReport> {
        self.check(Operation::LowConfidenceFailures)?;
        let mut out: Vec<_> = self
            .executions
            .iter()
            .filter(|e| e.error.as_deref() == Some("LowConfidence"))
            .filter(|e| e.stop.is_some_and(|t| range.contains(t)))
            .map(|e| LowConfidenceFailure {
                execution: Some(e.id.clone()),
                s3_key: e.s3_key.clone(),
                label: e.label,
                p_bicycle: 0.71,
                p_motorcycle: 0.29,
                threshold: 0.93,
                time: e.stop.unwrap_or(e.start),
            })
            .collect();
        out.reverse();
        let total = out.len() as u64;
        out.truncate(limit);
        Ok(LowConfidenceReport {
            failures: out,
            total,
            decisions: None,
        })
    }

    async fn image(&self, s3_key: String) -> BackendResult<Vec<u8>> {
        self.check(Operation::GetObject)?;
        self.image_calls.fetch_add(1, Ordering::SeqCst);
        if KEYS.contains(&s3_key.as_str()) {
            Ok(fixture_png())
        } else {
            Err(BackendError::ObjectNotFound(format!(
                "s3://scones-local/{s3_key}"
            )))
        }
    }

    async fn drift(&self, window: WindowSpec, windows: usize) -> BackendResult<DriftView> {
        self.check(Operation::Drift)?;
        let mut view = fixture_drift_with(
            window,
            windows,
            self.drifting.load(Ordering::SeqCst),
            !self.drift_inputs_only.load(Ordering::SeqCst),
        );
        view.computed = *self.drift_computed.lock().unwrap();
        Ok(view)
    }

    async fn logs(&self, execution: ExecutionSummary) -> BackendResult<Vec<LogLine>> {
        self.check(Operation::FilterLogEvents)?;
        self.logs_calls.fetch_add(1, Ordering::SeqCst);
        let events = self.history(execution.id.clone()).await?;
        Ok(events
            .iter()
            .map(|e| LogLine {
                time: e.timestamp,
                source: "states".to_owned(),
                level: if e.event_type().ends_with("Failed") {
                    LogLevel::Error
                } else {
                    LogLevel::Info
                },
                message: format!("{} {}", e.event_type(), e.summary()),
            })
            .collect())
    }

    async fn guard(&self) -> BackendResult<GuardState> {
        self.check(Operation::DescribeGuard)?;
        Ok(self.control.lock().unwrap().guard.clone())
    }

    async fn command_guard(&self, command: GuardCommand) -> BackendResult<GuardState> {
        self.check(Operation::UpdateGuard)?;
        let mut c = self.control.lock().unwrap();
        Guard::command(&mut c.guard, command, t0());
        Ok(c.guard.clone())
    }

    async fn review_queue(&self, limit: usize) -> BackendResult<ReviewQueue> {
        self.check(Operation::ListReviewQueue)?;
        let c = self.control.lock().unwrap();
        let answered = |key: &str| {
            c.labels
                .iter()
                .rev()
                .find(|r| r.key == key)
                .is_some_and(|r| r.label != Verdict::Withdrawn)
        };
        let waiting: Vec<ReviewItem> = self
            .queue_items()
            .into_iter()
            .filter(|i| !answered(&i.key))
            .collect();
        Ok(ReviewQueue {
            waiting: waiting.len() as u64,
            items: waiting.into_iter().take(limit).collect(),
            answered: c
                .labels
                .iter()
                .filter(|r| r.label != Verdict::Withdrawn)
                .count() as u64,
            answered_last_hour: 0,
            unreadable: 0,
        })
    }

    async fn label(&self, label: NewLabel) -> BackendResult<LabelRecord> {
        self.check(Operation::PutLabel)?;
        let mut c = self.control.lock().unwrap();
        let mut record = label.record(
            "ml",
            t0() + chrono::Duration::seconds(c.labels.len() as i64),
        );
        record.id = format!("fixture-{}", c.labels.len());
        c.labels.push(record.clone());
        Ok(record)
    }

    async fn labels(&self) -> BackendResult<Vec<LabelRecord>> {
        self.check(Operation::ListLabels)?;
        let c = self.control.lock().unwrap();
        let mut current: std::collections::BTreeMap<&str, &LabelRecord> = Default::default();
        for r in &c.labels {
            current.insert(&r.key, r);
        }
        Ok(current
            .into_values()
            .filter(|r| r.label != Verdict::Withdrawn)
            .cloned()
            .collect())
    }

    async fn models(&self) -> BackendResult<ModelsView> {
        self.check(Operation::ListModels)?;
        Ok(self.control.lock().unwrap().models.clone())
    }

    async fn promote(&self, version: String, force: bool) -> BackendResult<Promotion> {
        self.check(Operation::PromoteModel)?;
        let mut c = self.control.lock().unwrap();
        if !c.models.versions.iter().any(|v| v.version == version) {
            return Err(BackendError::NotReady {
                operation: Operation::PromoteModel,
                reason: format!("no model version {version:?}"),
            });
        }
        let promotion = Promotion {
            at: t0(),
            who: "ml".to_owned(),
            action: ServingChange::Promote,
            from: c.models.serving.clone(),
            to: version.clone(),
            gate: None,
            forced: force,
            drift_baseline: None,
        };
        for v in &mut c.models.versions {
            v.serving = v.version == version;
        }
        c.models.serving = Some(version);
        c.models.history.push(promotion.clone());
        Ok(promotion)
    }

    async fn rollback(&self) -> BackendResult<Promotion> {
        self.check(Operation::RollbackModel)?;
        let previous = {
            let c = self.control.lock().unwrap();
            c.models.history.last().and_then(|p| p.from.clone())
        };
        match previous {
            Some(v) => {
                let mut p = self.promote(v, false).await?;
                p.action = ServingChange::Rollback;
                Ok(p)
            }
            None => Err(BackendError::NotReady {
                operation: Operation::RollbackModel,
                reason: "no earlier version to roll back to".to_owned(),
            }),
        }
    }

    fn record_link(&self, id: &ExecutionId) -> RecordLink {
        if self.aws.load(Ordering::SeqCst) {
            return RecordLink::Url(format!(
                "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:scones-workflow:{id}"
            ));
        }
        RecordLink::Local {
            path: self.home.join("scones.sqlite3"),
            hint: format!("execution {id}"),
        }
    }
}

// ---- the local stack on a temporary home --------------------------------------------

use scones_local::endpoint::{PredictError, Predictor};
use scones_local::stage::{self, Source, SyntheticSpec};
use scones_local::{Home, LocalStack, NoProgress, StackOptions};
use scones_local::{LocalBackend, LocalOptions};
use scones_workflow::Threshold;
use scones_workflow::run::{Keys, run_to_end};

/// Always the same answer.
pub struct FixedPredictor(pub [f32; 2]);

impl Predictor for FixedPredictor {
    fn predict_png(&self, _png: &[u8]) -> Result<[f32; 2], PredictError> {
        Ok(self.0)
    }
}

/// Takes its time (so an execution stays RUNNING long enough to be stopped).
pub struct SlowPredictor(pub Duration);

impl Predictor for SlowPredictor {
    fn predict_png(&self, _png: &[u8]) -> Result<[f32; 2], PredictError> {
        std::thread::sleep(self.0);
        Ok([0.97, 0.03])
    }
}

/// A home in `root` with a small synthetic dataset staged (5 test images per class).
pub fn staged_home(root: &std::path::Path) -> Home {
    let home = Home::at(root).unwrap();
    let source = Source::Synthetic {
        spec: SyntheticSpec {
            train_per_class: 2,
            test_per_class: 5,
            seed: 11,
        },
        reason: "dashboard tests".into(),
    };
    stage::stage(&home.bucket(), &source, &NoProgress).unwrap();
    home
}

/// The local backend over a real store and runner whose endpoint answers with `predictor`.
pub fn local_backend(home: &Home, predictor: Arc<dyn Predictor>) -> LocalBackend {
    let stack = LocalStack::with_predictor(home, &StackOptions::default(), predictor).unwrap();
    LocalBackend::with_stack(home, stack, Threshold::DEFAULT).unwrap()
}

/// A read-only local backend (no stack: watches the store only).
pub fn readonly_backend(home: &Home) -> LocalBackend {
    LocalBackend::open(
        home,
        LocalOptions {
            readonly: true,
            ..LocalOptions::default()
        },
    )
    .unwrap()
}

/// A second stack on the same home: stands for `scones run` in another terminal.
pub fn other_runner(home: &Home) -> Arc<LocalBackend> {
    Arc::new(local_backend(home, Arc::new(FixedPredictor([0.03, 0.97]))))
}

/// Runs `n` executions on random test images through `runner` and waits for their ends to
/// be in the store.
pub async fn run_random(runner: &Arc<LocalBackend>, n: u64) {
    run_to_end(Arc::clone(runner), Keys::Random(n), 4)
        .await
        .unwrap();
    runner.finish(Duration::from_secs(10)).await;
}

/// A drift view of fixed traffic: `windows` windows of 300 inferences like the baseline's
/// (mid-grey images); with `drifting`, the newest window's are much darker (brightness ALERT)
/// and less confident.
pub fn fixture_drift(window: WindowSpec, windows: usize, drifting: bool) -> DriftView {
    fixture_drift_with(window, windows, drifting, true)
}

/// [`fixture_drift`], with a baseline that has input statistics only when `outputs` is false
/// (an AWS baseline written without a held-out set).
pub fn fixture_drift_with(
    window: WindowSpec,
    windows: usize,
    drifting: bool,
    outputs: bool,
) -> DriftView {
    let grey = |level: u8, i: usize| {
        let pixels: Vec<u8> = (0..16usize)
            .flat_map(|p| {
                let v = level.saturating_add(((p * 7 + i) % 40) as u8);
                [v, v, v]
            })
            .collect();
        ImageFeatures::of_rgb(4, 4, &pixels).unwrap()
    };
    let profile = |n: usize, level: u8, confidence: f64| {
        let mut p = Profile::default();
        for i in 0..n {
            let c = confidence + (i % 10) as f64 / 100.0;
            p.add_scores(if i % 2 == 0 {
                [c, 1.0 - c]
            } else {
                [1.0 - c, c]
            });
            p.add_image(&grey(level, i));
        }
        p
    };
    let mut baseline = profile(1000, 100, 0.9);
    if !outputs {
        let empty = Profile::default();
        baseline.confidence = empty.confidence;
        baseline.predicted = empty.predicted;
    }
    let judged = (0..windows)
        .map(|w| {
            let dark = drifting && w + 1 == windows;
            let current = profile(
                300,
                if dark { 30 } else { 100 },
                if dark { 0.6 } else { 0.9 },
            );
            WindowDrift {
                from: Some(t0() + chrono::Duration::seconds(60 * w as i64)),
                to: Some(t0() + chrono::Duration::seconds(60 * w as i64 + 59)),
                inferences: 300,
                repeats: 0,
                report: compare(&baseline, &current, 0.93, &Cutoffs::default()),
            }
        })
        .collect();
    DriftView {
        model: "20260101T000000Z-fixture".into(),
        inputs_from: "the 1000 images of train/".into(),
        outputs_from: outputs.then(|| "1000 out-of-fold predictions of train/".into()),
        window: window.describe(),
        windows: judged,
        unreadable: 0,
        computed: None,
    }
}
