//! The texts the workflow writes for people and machines to read back, each writer next to
//! its parser so the two cannot drift apart:
//!
//! - the `LowConfidence` cause ([`LowConfidenceCause`]): the filter handler's error message,
//!   which Step Functions records as the execution's `cause`;
//! - the filter's decision log line ([`Decision`]): one JSON line per decision, which the
//!   Terraform metric filter counts and the AWS backend lists;
//! - the error names other than the handlers' own that the dashboard and the CLI write
//!   ([`STOPPED_ERROR`]).

use std::fmt;

use serde_json::Value;

/// The error name of a low-confidence execution: the filter handler's `errorType`, which
/// Step Functions records as the execution's `error`.
pub const LOW_CONFIDENCE_ERROR: &str = "LowConfidence";

/// The error name of a decision the guard held for review while drift was ALERT: the
/// filter handler's `errorType`.
pub const DRIFT_HOLD_ERROR: &str = "DriftHold";

/// The error given to StopExecution by the dashboard and by `scones run` on Ctrl-C.
pub const STOPPED_ERROR: &str = "Scones.Stopped";

/// Why scones stopped an execution: the `error` and `cause` StopExecution records, so the
/// history says who stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReason {
    /// The error name ([`STOPPED_ERROR`]).
    pub error: &'static str,
    /// What happened, for a person.
    pub cause: &'static str,
}

impl StopReason {
    /// The operator pressed the stop key in the dashboard.
    pub const DASHBOARD: StopReason = StopReason {
        error: STOPPED_ERROR,
        cause: "stopped from the scones dashboard",
    };

    /// `scones run` was interrupted (Ctrl-C, its output closed, a full disk): the executions
    /// it had running are stopped with it.
    pub const RUN_INTERRUPTED: StopReason = StopReason {
        error: STOPPED_ERROR,
        cause: "stopped by scones run: the run was interrupted",
    };
}

/// The human part of a `cause`: Lambda errors arrive as a JSON error document whose
/// `errorMessage` is what a person wants to read; any other cause is returned as it is.
pub fn cause_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned())
}

/// Why an image was refused: its two scores and the threshold neither reached.
///
/// Written (its `Display`) as
/// `confidence 0.7100 is below the threshold 0.93: p_bicycle=0.7100, p_motorcycle=0.2900`
/// and read back by [`LowConfidenceCause::parse`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LowConfidenceCause {
    /// The threshold in force.
    pub threshold: f64,
    /// Probability of bicycle.
    pub p_bicycle: f64,
    /// Probability of motorcycle.
    pub p_motorcycle: f64,
}

impl LowConfidenceCause {
    /// The larger probability.
    pub fn confidence(&self) -> f64 {
        self.p_bicycle.max(self.p_motorcycle)
    }

    /// Reads a cause written by [`fmt::Display`], bare or inside the Lambda error document
    /// Step Functions records (`{"errorMessage": "...", "errorType": "LowConfidence"}`).
    /// `None` for any other text.
    pub fn parse(cause: &str) -> Option<LowConfidenceCause> {
        let message = cause_message(cause);
        let rest = message.strip_prefix("confidence ")?;
        let (_, rest) = rest.split_once(" is below the threshold ")?;
        let (threshold, rest) = rest.split_once(": p_bicycle=")?;
        let (p_bicycle, p_motorcycle) = rest.split_once(", p_motorcycle=")?;
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        Some(LowConfidenceCause {
            threshold: number(threshold)?,
            p_bicycle: number(p_bicycle)?,
            p_motorcycle: number(p_motorcycle)?,
        })
    }
}

impl fmt::Display for LowConfidenceCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "confidence {:.4} is below the threshold {}: p_bicycle={:.4}, p_motorcycle={:.4}",
            self.confidence(),
            self.threshold,
            self.p_bicycle,
            self.p_motorcycle
        )
    }
}

/// Why a confident decision was held: the guard was holding (drift ALERT on these
/// statistics since then, or an operator's hold), with the scores it would have accepted.
///
/// Written (its `Display`) as
/// `held for review: drift ALERT on contrast, sharpness since 2026-12-06T21:00:00Z; p_bicycle=0.9700, p_motorcycle=0.0300`
/// (`held for review: held by an operator since ...` for a manual hold) and read back by
/// [`DriftHoldCause::parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct DriftHoldCause {
    /// Since when the guard holds.
    pub since: chrono::DateTime<chrono::Utc>,
    /// The statistics at ALERT (empty: an operator's hold).
    pub statistics: Vec<String>,
    /// Probability of bicycle.
    pub p_bicycle: f64,
    /// Probability of motorcycle.
    pub p_motorcycle: f64,
}

impl DriftHoldCause {
    const PREFIX: &'static str = "held for review: ";
    const BY_OPERATOR: &'static str = "held by an operator";
    const BY_DRIFT: &'static str = "drift ALERT on ";

    /// Reads a cause written by [`fmt::Display`], bare or inside the Lambda error document.
    pub fn parse(cause: &str) -> Option<DriftHoldCause> {
        let message = cause_message(cause);
        let rest = message.strip_prefix(Self::PREFIX)?;
        let (who, rest) = rest.split_once(" since ")?;
        let statistics = if who == Self::BY_OPERATOR {
            Vec::new()
        } else {
            who.strip_prefix(Self::BY_DRIFT)?
                .split(", ")
                .map(str::to_owned)
                .collect()
        };
        let (since, rest) = rest.split_once("; p_bicycle=")?;
        let (p_bicycle, p_motorcycle) = rest.split_once(", p_motorcycle=")?;
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        Some(DriftHoldCause {
            since: chrono::DateTime::parse_from_rfc3339(since.trim())
                .ok()?
                .with_timezone(&chrono::Utc),
            statistics,
            p_bicycle: number(p_bicycle)?,
            p_motorcycle: number(p_motorcycle)?,
        })
    }
}

impl fmt::Display for DriftHoldCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::PREFIX)?;
        if self.statistics.is_empty() {
            f.write_str(Self::BY_OPERATOR)?;
        } else {
            write!(f, "{}{}", Self::BY_DRIFT, self.statistics.join(", "))?;
        }
        write!(
            f,
            " since {}; p_bicycle={:.4}, p_motorcycle={:.4}",
            self.since
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.p_bicycle,
            self.p_motorcycle
        )
    }
}

/// What the filter decided about one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    /// Confident enough: passed on.
    Pass,
    /// Below the threshold: the execution fails with `LowConfidence`.
    LowConfidence,
    /// Confident, but the guard holds decisions: the execution fails with `DriftHold`.
    DriftHold,
}

impl DecisionKind {
    /// The `decision` field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Pass => "pass",
            DecisionKind::LowConfidence => "low_confidence",
            DecisionKind::DriftHold => "drift_hold",
        }
    }

    fn parse(text: &str) -> Option<DecisionKind> {
        [
            DecisionKind::Pass,
            DecisionKind::LowConfidence,
            DecisionKind::DriftHold,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One decision of the filter, as it logs it: a JSON line with the fields at the top level
/// (`{"decision": "low_confidence", "s3_key": .., "threshold": .., "p_bicycle": ..,
/// "p_motorcycle": .., ...}`), which the Terraform metric filter
/// `{ $.decision = "low_confidence" }` counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What was decided.
    pub kind: DecisionKind,
    /// The image.
    pub s3_key: String,
    /// The threshold in force.
    pub threshold: f64,
    /// Probability of bicycle.
    pub p_bicycle: f64,
    /// Probability of motorcycle.
    pub p_motorcycle: f64,
    /// The model version that gave the scores, when known.
    pub model: Option<String>,
    /// An accepted decision drawn for the review's audit sample.
    pub audit: bool,
}

impl Decision {
    /// The term a log query uses to find low-confidence lines (the query is plain text; each
    /// line found is then checked with [`Decision::parse`]).
    pub const LOW_CONFIDENCE_TERM: &'static str = "low_confidence";

    /// Why this decision goes to a person, if it does: refused (low confidence), held
    /// (drift), or accepted and drawn for the audit sample.
    pub fn review_reason(&self) -> Option<crate::review::ReviewReason> {
        use crate::review::ReviewReason;
        match self.kind {
            DecisionKind::LowConfidence => Some(ReviewReason::LowConfidence),
            DecisionKind::DriftHold => Some(ReviewReason::DriftHold),
            DecisionKind::Pass if self.audit => Some(ReviewReason::Audit),
            DecisionKind::Pass => None,
        }
    }

    /// Logs the decision as one INFO event whose fields are the line's fields (with the
    /// Lambda runtime's flattened JSON format they land at the top level).
    pub fn log(&self) {
        tracing::info!(
            decision = self.kind.as_str(),
            s3_key = %self.s3_key,
            threshold = self.threshold,
            p_bicycle = self.p_bicycle,
            p_motorcycle = self.p_motorcycle,
            model = self.model.as_deref().unwrap_or(""),
            audit = self.audit,
            "confidence filter"
        );
    }

    /// Reads a decision line; `None` for any other line. Lambda may prefix lines (timestamp,
    /// request id) in its text log format, so the JSON starts at the first brace; a
    /// non-flattened formatter nests the fields under `fields`, which is read too.
    pub fn parse(message: &str) -> Option<Decision> {
        let json = &message[message.find('{')?..];
        let v: Value = serde_json::from_str(json).ok()?;
        let fields = v.get("fields").filter(|f| f.is_object()).unwrap_or(&v);
        let number = |k: &str| fields.get(k)?.as_f64();
        Some(Decision {
            kind: DecisionKind::parse(fields.get("decision")?.as_str()?)?,
            s3_key: fields
                .get("s3_key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            threshold: number("threshold")?,
            p_bicycle: number("p_bicycle")?,
            p_motorcycle: number("p_motorcycle")?,
            model: fields
                .get("model")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            audit: fields
                .get("audit")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// The cause of the execution's failure, for a low-confidence decision.
    pub fn cause(&self) -> Option<LowConfidenceCause> {
        (self.kind == DecisionKind::LowConfidence).then_some(LowConfidenceCause {
            threshold: self.threshold,
            p_bicycle: self.p_bicycle,
            p_motorcycle: self.p_motorcycle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn the_cause_reads_back_bare_and_inside_the_error_document() {
        let cause = LowConfidenceCause {
            threshold: 0.93,
            p_bicycle: 0.71,
            p_motorcycle: 0.29,
        };
        let text = cause.to_string();
        assert_eq!(
            text,
            "confidence 0.7100 is below the threshold 0.93: p_bicycle=0.7100, p_motorcycle=0.2900"
        );
        assert_eq!(LowConfidenceCause::parse(&text), Some(cause));
        let doc = json!({"errorMessage": text, "errorType": LOW_CONFIDENCE_ERROR}).to_string();
        assert_eq!(LowConfidenceCause::parse(&doc), Some(cause));
        assert_eq!(LowConfidenceCause::parse("something else"), None);
        assert_eq!(LowConfidenceCause::parse("confidence x is below"), None);
    }

    proptest! {
        #[test]
        fn any_cause_round_trips_to_four_decimals(
            threshold in 0.001f64..=1.0,
            p in 0.0f64..=1.0,
        ) {
            let cause = LowConfidenceCause { threshold, p_bicycle: p, p_motorcycle: 1.0 - p };
            let back = LowConfidenceCause::parse(&cause.to_string()).unwrap();
            prop_assert_eq!(back.threshold, threshold);
            prop_assert!((back.p_bicycle - p).abs() <= 5e-5);
            prop_assert!((back.p_motorcycle - (1.0 - p)).abs() <= 5e-5);
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".*") {
            let _ = DriftHoldCause::parse(&text);
            let _ = LowConfidenceCause::parse(&text);
            let _ = Decision::parse(&text);
        }
    }

    #[test]
    fn a_drift_hold_cause_reads_back_for_drift_and_for_an_operator() {
        use chrono::TimeZone;
        let since = chrono::Utc.with_ymd_and_hms(2026, 12, 6, 21, 0, 0).unwrap();
        let cause = DriftHoldCause {
            since,
            statistics: vec!["contrast".into(), "bicycle share".into()],
            p_bicycle: 0.97,
            p_motorcycle: 0.03,
        };
        let text = cause.to_string();
        assert_eq!(
            text,
            "held for review: drift ALERT on contrast, bicycle share since 2026-12-06T21:00:00Z; p_bicycle=0.9700, p_motorcycle=0.0300"
        );
        assert_eq!(DriftHoldCause::parse(&text), Some(cause.clone()));
        let doc = json!({"errorMessage": text, "errorType": DRIFT_HOLD_ERROR}).to_string();
        assert_eq!(DriftHoldCause::parse(&doc), Some(cause.clone()));
        let manual = DriftHoldCause {
            statistics: Vec::new(),
            ..cause
        };
        assert!(manual.to_string().contains("held by an operator since"));
        assert_eq!(DriftHoldCause::parse(&manual.to_string()), Some(manual));
        assert_eq!(DriftHoldCause::parse("confidence 0.5 is below"), None);
    }

    #[test]
    fn decision_lines_read_flat_nested_and_prefixed() {
        let flat = r#"{"timestamp":"t","level":"INFO","decision":"low_confidence","s3_key":"test/a.png","threshold":0.93,"p_bicycle":0.6,"p_motorcycle":0.4}"#;
        let d = Decision::parse(flat).unwrap();
        assert_eq!(d.kind, DecisionKind::LowConfidence);
        assert_eq!(d.s3_key, "test/a.png");
        assert_eq!(
            d.cause().map(|c| c.confidence()),
            Some(0.6),
            "the cause of a refusal"
        );
        let nested = r#"2025-01-01T00:00:00Z abc {"fields":{"decision":"pass","s3_key":"k","threshold":0.5,"p_bicycle":0.9,"p_motorcycle":0.1}}"#;
        let d = Decision::parse(nested).unwrap();
        assert_eq!(d.kind, DecisionKind::Pass);
        assert_eq!(d.cause(), None);
        assert_eq!(
            Decision::parse(r#"{"decision":"maybe","threshold":1}"#),
            None
        );
        assert_eq!(Decision::parse("START RequestId: x"), None);
    }
}
