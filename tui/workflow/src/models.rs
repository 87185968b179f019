//! Model versions and the promotion gate: every trained model is a version with what it was
//! trained on and its measures; one serves; a candidate replaces it only through the gate
//! (or a recorded `--force`), and a rollback returns to the version served before.
//!
//! The gate compares the two models on the same images (paired): on the test split the
//! candidate must not be worse than the served model beyond [`TEST_MARGIN`], and on the
//! production validation set (the held-out share of reviewed images) it must be better.
//! Both use McNemar's test on the images where the two disagree, the test for paired
//! proportions: what matters is how many images one gets right and the other wrong, not the
//! two accuracies as if measured on different images.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::class::Class;
use crate::quality::{Calibration, Decisions, Labelled};

/// How much worse on the test split (in accuracy) a candidate may be before the gate looks
/// at whether the loss is real: one point.
pub const TEST_MARGIN: f64 = 0.01;

/// The one-sided significance at which McNemar's test calls a difference real.
pub const SIGNIFICANCE: f64 = 0.05;

/// Fewest production-validation images the gate compares on (below, it refuses: there is
/// no evidence the candidate is better).
pub const MIN_PRODUCTION_IMAGES: usize = 20;

/// The version a SageMaker artefact URL names: the training job that wrote it
/// (`<output>/<job>/output/model.tar.gz` → `<job>`), or the URL itself for an artefact no
/// training job made. On AWS a version is its training job; the CLI and the classify-image
/// function both name what serves with this.
pub fn version_of(model_data_url: &str) -> String {
    model_data_url
        .strip_suffix("/output/model.tar.gz")
        .and_then(|rest| rest.rsplit('/').next())
        .filter(|job| !job.is_empty())
        .map_or_else(|| model_data_url.to_owned(), str::to_owned)
}

/// A model's measures on one labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMeasures {
    /// Images scored.
    pub images: usize,
    /// Share classified right.
    pub accuracy: f64,
    /// Expected calibration error (10 bins).
    pub ece: f64,
    /// Share accepted at the threshold.
    pub coverage: f64,
    /// Accuracy of the accepted (`None`: none accepted).
    pub accepted_accuracy: Option<f64>,
}

impl SetMeasures {
    /// The measures of `predictions` at `threshold` (`None` for an empty set).
    pub fn of(predictions: &[Labelled], threshold: f64) -> Option<SetMeasures> {
        if predictions.is_empty() {
            return None;
        }
        let at = Decisions::at(predictions, threshold);
        let right = predictions.iter().filter(|p| p.correct()).count();
        Some(SetMeasures {
            images: predictions.len(),
            accuracy: right as f64 / predictions.len() as f64,
            ece: Calibration::of(predictions).ece,
            coverage: at.coverage(),
            accepted_accuracy: at.accepted_accuracy(),
        })
    }
}

/// What a version was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TrainedOn {
    /// Images of `train/`.
    pub base: usize,
    /// Reviewed images (outside the held-out share, never of `test/`).
    pub reviewed: usize,
}

/// A trained model version and how good it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Its name (the directory locally, the SageMaker model on AWS).
    pub version: String,
    /// When it was trained.
    pub created: DateTime<Utc>,
    /// What it was trained on.
    pub trained_on: TrainedOn,
    /// On the test split (the offline reference).
    pub test: Option<SetMeasures>,
    /// On the production validation set as it was when measured.
    pub production: Option<SetMeasures>,
    /// The threshold the measures were taken at.
    pub threshold: f64,
    /// It serves now.
    pub serving: bool,
}

/// How a version came to serve (`first`, `promote`, `rollback` in the records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServingChange {
    /// The first model of a home, serving as soon as it was trained.
    First,
    /// Promoted through the gate (or forced past it).
    Promote,
    /// Rolled back to the version served before.
    Rollback,
}

impl ServingChange {
    /// The name in the records and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            ServingChange::First => "first",
            ServingChange::Promote => "promote",
            ServingChange::Rollback => "rollback",
        }
    }
}

impl std::fmt::Display for ServingChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: tables align it with `{:<8}`.
        f.pad(self.as_str())
    }
}

/// How a promotion or rollback was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub who: String,
    /// What happened.
    pub action: ServingChange,
    /// The version served before.
    pub from: Option<String>,
    /// The version served after.
    pub to: String,
    /// The gate's findings (absent for a rollback or the first model).
    pub gate: Option<GateReport>,
    /// The gate was overridden (`--force`).
    pub forced: bool,
    /// On AWS, what became of the endpoint's drift baseline (its output statistics belong to
    /// the version that served): measured again for this one, or why not. Locally each
    /// version keeps its own baseline (`None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_baseline: Option<String>,
}

impl Promotion {
    /// What happened, in words, a line each (`scones promote` and the Models tab say the
    /// same): the gate's findings, an override, then `promote: <to> serves (was <from>)`.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .gate
            .iter()
            .flat_map(|g| g.reasons.iter().map(|r| format!("gate: {r}")))
            .collect();
        if self.forced {
            lines.push(match self.gate {
                Some(_) => "the gate refused it: promoted anyway (--force, recorded)".to_owned(),
                // On AWS the gate's measures are not taken yet.
                None => "promoted without the gate's measures (--force, recorded)".to_owned(),
            });
        }
        lines.push(format!(
            "{}: {} serves (was {})",
            self.action,
            self.to,
            self.from.as_deref().unwrap_or("nothing")
        ));
        lines.extend(
            self.drift_baseline
                .iter()
                .map(|b| format!("drift baseline: {b}")),
        );
        lines
    }
}

/// The serving history and the versions, as `scones models` and the Models tab show them.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ModelsView {
    /// Every version, newest first.
    pub versions: Vec<ModelVersion>,
    /// The version serving.
    pub serving: Option<String>,
    /// Promotions and rollbacks, oldest first.
    pub history: Vec<Promotion>,
    /// A deployment in progress (AWS: an endpoint update), in words.
    pub deployment: Option<String>,
}

/// The two models' answers on one labelled image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// The true class.
    pub label: Class,
    /// The served model's scores.
    pub serving: [f64; 2],
    /// The candidate's scores.
    pub candidate: [f64; 2],
}

/// One side of the gate: the two models compared on one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Images compared.
    pub images: usize,
    /// Served model's accuracy.
    pub serving_accuracy: f64,
    /// Candidate's accuracy.
    pub candidate_accuracy: f64,
    /// Images only the served model got right.
    pub serving_only: usize,
    /// Images only the candidate got right.
    pub candidate_only: usize,
    /// McNemar's exact one-sided p-value that the candidate is worse (served-only more than
    /// chance).
    pub p_worse: f64,
    /// ... that it is better.
    pub p_better: f64,
}

impl Comparison {
    /// The comparison of paired answers (`None` for no images).
    pub fn of(pairs: &[Paired]) -> Option<Comparison> {
        if pairs.is_empty() {
            return None;
        }
        let right = |scores: [f64; 2], label| Class::predicted(scores) == label;
        let (mut s, mut c, mut sr, mut cr) = (0, 0, 0, 0);
        for p in pairs {
            let a = right(p.serving, p.label);
            let b = right(p.candidate, p.label);
            sr += usize::from(a);
            cr += usize::from(b);
            match (a, b) {
                (true, false) => s += 1,
                (false, true) => c += 1,
                _ => {}
            }
        }
        let n = pairs.len() as f64;
        Some(Comparison {
            images: pairs.len(),
            serving_accuracy: sr as f64 / n,
            candidate_accuracy: cr as f64 / n,
            serving_only: s,
            candidate_only: c,
            p_worse: binomial_tail(s, s + c),
            p_better: binomial_tail(c, s + c),
        })
    }

    /// Candidate minus served accuracy.
    pub fn difference(&self) -> f64 {
        self.candidate_accuracy - self.serving_accuracy
    }
}

/// P(X >= k) for X ~ Binomial(n, 1/2): McNemar's exact one-sided test on `n` discordant
/// pairs of which `k` went one way.
pub fn binomial_tail(k: usize, n: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    // Sum C(n, i) / 2^n for i >= k, in logs (n can be thousands).
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_c = ln_choose(n, k);
    let mut total = 0.0;
    for i in k..=n {
        total += (ln_c + ln_half_n).exp();
        // C(n, i + 1) = C(n, i) (n - i) / (i + 1)
        ln_c += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    total.min(1.0)
}

fn ln_choose(n: usize, k: usize) -> f64 {
    (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum()
}

/// The gate's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// On the test split.
    pub test: Option<Comparison>,
    /// On the production validation set.
    pub production: Option<Comparison>,
    /// Passed.
    pub passed: bool,
    /// Why it passed or not, one line per finding.
    pub reasons: Vec<String>,
}

/// The promotion gate on paired answers of the served model and a candidate.
///
/// - Test split: refused when the candidate's accuracy is more than [`TEST_MARGIN`] below
///   the served model's **and** McNemar's test says the loss is real (p < [`SIGNIFICANCE`]).
///   A non-inferiority proof at a one-point margin needs thousands of test images; with the
///   few hundred there are, the gate can only refuse a loss that is both larger than the
///   margin and unlikely to be chance.
/// - Production validation set: at least [`MIN_PRODUCTION_IMAGES`] images, and the candidate
///   gets more of them right than the served model (its accuracy is higher); McNemar's
///   p-value is reported as the strength of that evidence.
pub fn gate(test: &[Paired], production: &[Paired]) -> GateReport {
    let test_cmp = Comparison::of(test);
    let prod_cmp = Comparison::of(production);
    let mut reasons = Vec::new();
    let mut passed = true;
    match &test_cmp {
        None => {
            passed = false;
            reasons.push("no test images to compare on (stage the data)".to_owned());
        }
        Some(t) => {
            let worse = -t.difference();
            if worse > TEST_MARGIN && t.p_worse < SIGNIFICANCE {
                passed = false;
                reasons.push(format!(
                    "worse on test/: {:.1}% against {:.1}% ({} images only the served model \
                     gets right, {} only the candidate; McNemar p = {:.3})",
                    t.candidate_accuracy * 100.0,
                    t.serving_accuracy * 100.0,
                    t.serving_only,
                    t.candidate_only,
                    t.p_worse
                ));
            } else {
                reasons.push(format!(
                    "not worse on test/ beyond {:.0} point: {:.1}% against {:.1}% (McNemar p \
                     for worse = {:.3})",
                    TEST_MARGIN * 100.0,
                    t.candidate_accuracy * 100.0,
                    t.serving_accuracy * 100.0,
                    t.p_worse
                ));
            }
        }
    }
    match &prod_cmp {
        Some(p) if p.images >= MIN_PRODUCTION_IMAGES => {
            if p.candidate_only > p.serving_only {
                reasons.push(format!(
                    "better on the production validation set: {:.1}% against {:.1}% on {} \
                     reviewed images (McNemar p = {:.3})",
                    p.candidate_accuracy * 100.0,
                    p.serving_accuracy * 100.0,
                    p.images,
                    p.p_better
                ));
            } else {
                passed = false;
                reasons.push(format!(
                    "not better on the production validation set: {:.1}% against {:.1}% on \
                     {} reviewed images",
                    p.candidate_accuracy * 100.0,
                    p.serving_accuracy * 100.0,
                    p.images
                ));
            }
        }
        other => {
            passed = false;
            reasons.push(format!(
                "only {} reviewed images in the production validation set (the held-out \
                 share); the gate needs {MIN_PRODUCTION_IMAGES}: label more images",
                other.as_ref().map_or(0, |p| p.images)
            ));
        }
    }
    GateReport {
        test: test_cmp,
        production: prod_cmp,
        passed,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_the_job_that_made_the_artefact() {
        assert_eq!(
            version_of(
                "s3://b/models/scones-ic-0123456789abcdef-r0a1b2c3d4e5f/output/model.tar.gz"
            ),
            "scones-ic-0123456789abcdef-r0a1b2c3d4e5f"
        );
        assert_eq!(
            version_of("s3://b/pretrained/model.tar.gz"),
            "s3://b/pretrained/model.tar.gz"
        );
        assert_eq!(version_of("/output/model.tar.gz"), "/output/model.tar.gz");
    }

    #[test]
    fn a_forced_promotion_says_whether_a_gate_refused_it_or_none_ran() {
        let p = Promotion {
            at: Utc::now(),
            who: "ann".into(),
            action: ServingChange::Promote,
            from: Some("a".into()),
            to: "b".into(),
            gate: None,
            forced: true,
            drift_baseline: None,
        };
        assert_eq!(
            p.describe(),
            [
                "promoted without the gate's measures (--force, recorded)",
                "promote: b serves (was a)"
            ]
        );
        let refused = Promotion {
            gate: Some(GateReport {
                passed: false,
                test: None,
                production: None,
                reasons: vec!["too few images".into()],
            }),
            ..p
        };
        assert_eq!(
            refused.describe()[..2],
            [
                "gate: too few images".to_owned(),
                "the gate refused it: promoted anyway (--force, recorded)".to_owned()
            ]
        );
    }

    #[test]
    fn a_promotion_on_aws_says_what_became_of_the_drift_baseline_and_old_records_still_read() {
        let p = Promotion {
            at: Utc::now(),
            who: "ann".into(),
            action: ServingChange::Rollback,
            from: Some("b".into()),
            to: "a".into(),
            gate: None,
            forced: false,
            drift_baseline: Some("outputs measured again for a".into()),
        };
        assert_eq!(
            p.describe(),
            [
                "rollback: a serves (was b)",
                "drift baseline: outputs measured again for a"
            ]
        );
        // A record written before the field existed.
        let mut old = serde_json::to_value(&p).unwrap();
        old.as_object_mut().unwrap().remove("drift_baseline");
        let read: Promotion = serde_json::from_value(old).unwrap();
        assert_eq!(read.drift_baseline, None);
    }

    fn pairs(
        both: usize,
        serving_only: usize,
        candidate_only: usize,
        neither: usize,
    ) -> Vec<Paired> {
        let right = [0.9, 0.1];
        let wrong = [0.1, 0.9];
        let mut v = Vec::new();
        let mut push = |n, s, c| {
            for _ in 0..n {
                v.push(Paired {
                    label: Class::Bicycle,
                    serving: s,
                    candidate: c,
                });
            }
        };
        push(both, right, right);
        push(serving_only, right, wrong);
        push(candidate_only, wrong, right);
        push(neither, wrong, wrong);
        v
    }

    #[test]
    fn mcnemar_tail_matches_the_binomial() {
        assert_eq!(binomial_tail(0, 10), 1.0);
        // P(X >= 9 | n = 10) = 11 / 1024
        assert!((binomial_tail(9, 10) - 11.0 / 1024.0).abs() < 1e-12);
        assert!((binomial_tail(5, 10) - 0.623_046_875).abs() < 1e-9);
        assert!(binomial_tail(3000, 4000) < 1e-100);
        assert_eq!(binomial_tail(11, 10), 0.0);
    }

    #[test]
    fn a_better_candidate_passes_and_a_real_loss_on_test_fails() {
        let test = pairs(180, 3, 3, 14);
        let production = pairs(20, 2, 30, 8);
        let r = gate(&test, &production);
        assert!(r.passed, "{:?}", r.reasons);
        // 12 more test images wrong: 6 points, real.
        let r = gate(&pairs(170, 14, 2, 14), &production);
        assert!(!r.passed);
        assert!(
            r.reasons[0].starts_with("worse on test/"),
            "{:?}",
            r.reasons
        );
        // A 2-point loss on discordant pairs of 5 vs 1: beyond the margin, but chance.
        let r = gate(&pairs(180, 5, 1, 14), &production);
        assert!(r.passed, "{:?}", r.reasons);
    }

    #[test]
    fn the_production_side_must_show_an_improvement_on_enough_images() {
        let test = pairs(180, 3, 3, 14);
        assert!(
            !gate(&test, &pairs(20, 5, 5, 10)).passed,
            "equal is not better"
        );
        assert!(!gate(&test, &pairs(5, 0, 5, 0)).passed, "too few images");
        assert!(!gate(&test, &[]).passed);
        assert!(!gate(&[], &pairs(20, 2, 30, 8)).passed);
    }
}
