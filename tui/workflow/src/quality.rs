//! Decision quality, defined once for `scones eval`, `scones threshold` and the dashboard's
//! quality view: how good the accept/refer decisions are at a confidence threshold, and how
//! honest the confidences are.
//!
//! A prediction is *accepted* when its top-class probability reaches the threshold (the
//! filter's rule: `max(p) >= threshold`); the rest are *referred* to a person (the
//! execution fails `LowConfidence`). Everything here works from labelled predictions
//! ([`Labelled`]); unlabelled traffic is counted apart, never guessed.

use serde::Serialize;

pub use crate::class::Class;

/// One prediction with its true class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Labelled {
    /// `[p_bicycle, p_motorcycle]`.
    pub scores: [f64; 2],
    /// The true class.
    pub label: Class,
}

impl Labelled {
    /// The top-class probability.
    pub fn confidence(&self) -> f64 {
        self.scores[0].max(self.scores[1])
    }

    /// True when the predicted class is the true one.
    pub fn correct(&self) -> bool {
        Class::predicted(self.scores) == self.label
    }

    /// True when the filter passes it at `threshold`.
    pub fn accepted(&self, threshold: f64) -> bool {
        self.confidence() >= threshold
    }
}

/// The decisions at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decisions {
    /// The threshold.
    pub threshold: f64,
    /// Predictions scored.
    pub total: usize,
    /// Accepted (passed on automatically).
    pub accepted: usize,
    /// Accepted and right.
    pub accepted_correct: usize,
    /// Referred to a person although the prediction was right (work a person did for
    /// nothing).
    pub rejected_correct: usize,
}

impl Decisions {
    /// The decisions over `predictions` at `threshold`.
    pub fn at(predictions: &[Labelled], threshold: f64) -> Decisions {
        let mut d = Decisions {
            threshold,
            total: predictions.len(),
            accepted: 0,
            accepted_correct: 0,
            rejected_correct: 0,
        };
        for p in predictions {
            match (p.accepted(threshold), p.correct()) {
                (true, true) => {
                    d.accepted += 1;
                    d.accepted_correct += 1;
                }
                (true, false) => d.accepted += 1,
                (false, true) => d.rejected_correct += 1,
                (false, false) => {}
            }
        }
        d
    }

    /// Accepted but wrong: errors let through.
    pub fn accepted_wrong(&self) -> usize {
        self.accepted - self.accepted_correct
    }

    /// Share accepted (coverage); 0 with no predictions.
    pub fn coverage(&self) -> f64 {
        ratio(self.accepted, self.total)
    }

    /// Accuracy of the accepted; `None` when nothing is accepted.
    pub fn accepted_accuracy(&self) -> Option<f64> {
        (self.accepted > 0).then(|| ratio(self.accepted_correct, self.accepted))
    }

    /// Errors let through, as a share of all predictions (the risk).
    pub fn risk(&self) -> f64 {
        ratio(self.accepted_wrong(), self.total)
    }

    /// The 95% Wilson score interval of the accepted accuracy; `None` when nothing is
    /// accepted.
    pub fn accepted_accuracy_interval(&self) -> Option<(f64, f64)> {
        wilson_interval(self.accepted_correct, self.accepted, Z_95)
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The z of a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `successes` out of `n` at `z`: unlike the normal approximation
/// it stays inside [0, 1] and is honest for small `n` and proportions near 1, which is
/// exactly where a threshold is chosen. `None` for `n == 0`.
pub fn wilson_interval(successes: usize, n: usize, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    Some((
        ((centre - margin) / denominator).max(0.0),
        ((centre + margin) / denominator).min(1.0),
    ))
}

/// The thresholds of the risk-coverage table: 0.50 to 0.99 in steps of 0.01.
pub fn table_thresholds() -> impl Iterator<Item = f64> {
    (50..=99).map(|t| f64::from(t) / 100.0)
}

/// The risk-coverage table: the decisions at each of `thresholds`.
pub fn risk_coverage(
    predictions: &[Labelled],
    thresholds: impl IntoIterator<Item = f64>,
) -> Vec<Decisions> {
    thresholds
        .into_iter()
        .map(|t| Decisions::at(predictions, t))
        .collect()
}

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the confidence bin (inclusive).
    pub lower: f64,
    /// Upper edge (exclusive, but the last bin includes 1.0).
    pub upper: f64,
    /// Predictions in the bin.
    pub count: usize,
    /// Their mean top-class probability; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// The share of them that is right; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// How honest the confidences are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Predictions scored.
    pub total: usize,
    /// Expected calibration error: the count-weighted mean of |accuracy - confidence| over
    /// [`ECE_BINS`] equal-width bins of the top-class probability on [0.5, 1] (a binary
    /// top-class probability is never below 0.5).
    pub ece: f64,
    /// Mean negative log-likelihood of the true class (natural log; probabilities floored at
    /// 1e-12 so a confident miss stays finite).
    pub nll: f64,
    /// Brier score: mean squared error of the probability vector against the one-hot label
    /// (sum over both classes, so 0 is perfect and 2 the worst).
    pub brier: f64,
    /// The reliability table behind the ECE.
    pub bins: Vec<ReliabilityBin>,
}

/// Bins of the expected calibration error.
pub const ECE_BINS: usize = 10;

impl Calibration {
    /// The calibration measures of `predictions`.
    pub fn of(predictions: &[Labelled]) -> Calibration {
        let width = 0.5 / ECE_BINS as f64;
        let mut sums = vec![(0usize, 0.0f64, 0usize); ECE_BINS];
        let (mut nll, mut brier) = (0.0, 0.0);
        for p in predictions {
            let confidence = p.confidence();
            let bin = (((confidence - 0.5) / width).floor().max(0.0) as usize).min(ECE_BINS - 1);
            let slot = &mut sums[bin];
            slot.0 += 1;
            slot.1 += confidence;
            slot.2 += usize::from(p.correct());
            let truth = p.label.index();
            nll -= p.scores[truth].max(1e-12).ln();
            brier += (0..2)
                .map(|c| {
                    let target = if c == truth { 1.0 } else { 0.0 };
                    (p.scores[c] - target).powi(2)
                })
                .sum::<f64>();
        }
        let total = predictions.len();
        let bins: Vec<ReliabilityBin> = sums
            .iter()
            .enumerate()
            .map(|(i, &(count, confidence_sum, correct))| ReliabilityBin {
                lower: 0.5 + i as f64 * width,
                upper: 0.5 + (i + 1) as f64 * width,
                count,
                mean_confidence: (count > 0).then(|| confidence_sum / count as f64),
                accuracy: (count > 0).then(|| correct as f64 / count as f64),
            })
            .collect();
        let ece = bins
            .iter()
            .filter_map(|b| Some(b.count as f64 * (b.accuracy? - b.mean_confidence?).abs()))
            .sum::<f64>()
            / total.max(1) as f64;
        Calibration {
            total,
            ece,
            nll: nll / total.max(1) as f64,
            brier: brier / total.max(1) as f64,
            bins,
        }
    }
}

/// The threshold a target accuracy calls for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recommendation {
    /// The accuracy asked for.
    pub target: f64,
    /// The lowest threshold (of [`table_thresholds`]) whose accepted accuracy reaches the
    /// target; `None` when none does.
    pub threshold: Option<f64>,
    /// The decisions at that threshold.
    pub decisions: Option<Decisions>,
    /// True when the lower end of the 95% interval of the accepted accuracy also reaches the
    /// target: the data support the choice, not just the point estimate.
    pub lower_bound_meets_target: bool,
}

/// Why a target accuracy cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    /// Not a number in (0, 1].
    #[error("the target accuracy must be a number in (0, 1], e.g. 0.98; got {0}")]
    OutOfRange(f64),
    /// No labelled predictions to choose from.
    #[error("no labelled predictions: stage a labelled test split first")]
    NoData,
}

/// The lowest threshold whose accepted accuracy on `predictions` reaches `target`.
/// Thresholds are those of the risk-coverage table, so the recommendation is one of its rows.
pub fn recommend_threshold(
    predictions: &[Labelled],
    target: f64,
) -> Result<Recommendation, TargetError> {
    if !(target > 0.0 && target <= 1.0) {
        return Err(TargetError::OutOfRange(target));
    }
    if predictions.is_empty() {
        return Err(TargetError::NoData);
    }
    let found = table_thresholds()
        .map(|t| Decisions::at(predictions, t))
        .find(|d| d.accepted_accuracy().is_some_and(|a| a >= target));
    Ok(Recommendation {
        target,
        threshold: found.map(|d| d.threshold),
        lower_bound_meets_target: found
            .and_then(|d| d.accepted_accuracy_interval())
            .is_some_and(|(low, _)| low >= target),
        decisions: found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(b: f64, label: Class) -> Labelled {
        Labelled {
            scores: [b, 1.0 - b],
            label,
        }
    }

    #[test]
    fn decisions_count_by_hand() {
        use Class::*;
        // confident right, confident wrong, unsure right, unsure wrong.
        let preds = [
            p(0.97, Bicycle),
            p(0.02, Bicycle),
            p(0.60, Bicycle),
            p(0.45, Bicycle),
        ];
        let d = Decisions::at(&preds, 0.93);
        assert_eq!((d.total, d.accepted, d.accepted_correct), (4, 2, 1));
        assert_eq!((d.accepted_wrong(), d.rejected_correct), (1, 1));
        assert_eq!(d.coverage(), 0.5);
        assert_eq!(d.accepted_accuracy(), Some(0.5));
        assert_eq!(d.risk(), 0.25);
        // The filter's rule is inclusive.
        assert_eq!(Decisions::at(&[p(0.93, Bicycle)], 0.93).accepted, 1);
        assert_eq!(Decisions::at(&[], 0.9).accepted_accuracy(), None);
    }

    #[test]
    fn wilson_matches_a_hand_computed_interval() {
        // 190 of 200: p = 0.95; Wilson 95%: [0.9104, 0.9726] (computed by hand).
        let (low, high) = wilson_interval(190, 200, Z_95).unwrap();
        assert!((low - 0.9104).abs() < 5e-4, "{low}");
        assert!((high - 0.9726).abs() < 5e-4, "{high}");
        // All right: the upper end is 1, the lower end is not.
        let (low, high) = wilson_interval(20, 20, Z_95).unwrap();
        assert_eq!(high, 1.0);
        assert!((low - 0.8389).abs() < 5e-4, "{low}");
        assert_eq!(wilson_interval(0, 0, Z_95), None);
    }

    #[test]
    fn calibration_of_a_known_set() {
        use Class::*;
        // Two bins used: 0.95-bin with 0.96, 0.96 (one right, one wrong) -> |0.5-0.96|;
        // 0.70-bin with 0.70 right -> |1-0.7|. ECE = (2*0.46 + 1*0.3)/3.
        let preds = [p(0.96, Bicycle), p(0.04, Bicycle), p(0.70, Bicycle)];
        let c = Calibration::of(&preds);
        assert!((c.ece - (2.0 * 0.46 + 0.3) / 3.0).abs() < 1e-9, "{}", c.ece);
        let nll = -(0.96f64.ln() + 0.04f64.ln() + 0.70f64.ln()) / 3.0;
        assert!((c.nll - nll).abs() < 1e-9);
        let brier = (2.0 * 0.04f64.powi(2) + 2.0 * 0.96f64.powi(2) + 2.0 * 0.3f64.powi(2)) / 3.0;
        assert!((c.brier - brier).abs() < 1e-9);
        assert_eq!(c.bins.iter().map(|b| b.count).sum::<usize>(), 3);
        // Perfect, confident predictions are perfectly calibrated.
        let perfect = Calibration::of(&[p(1.0, Bicycle), p(0.0, Motorcycle)]);
        assert!(perfect.ece < 1e-12 && perfect.brier < 1e-12);
    }

    #[test]
    fn the_recommendation_is_the_lowest_threshold_reaching_the_target() {
        use Class::*;
        let preds = [
            p(0.99, Bicycle),
            p(0.97, Bicycle),
            p(0.95, Bicycle),
            p(0.10, Bicycle), // confidence 0.90, wrong
            p(0.80, Bicycle),
        ];
        let r = recommend_threshold(&preds, 1.0).unwrap();
        assert_eq!(r.threshold, Some(0.91));
        assert_eq!(r.decisions.map(|d| d.accepted), Some(3));
        assert!(!r.lower_bound_meets_target, "3 of 3 does not prove 100%");
        let none = recommend_threshold(&[p(0.99, Motorcycle)], 0.9).unwrap();
        assert_eq!(none.threshold, None);
        assert_eq!(
            recommend_threshold(&preds, 0.0),
            Err(TargetError::OutOfRange(0.0))
        );
        assert_eq!(
            recommend_threshold(&preds, 1.5),
            Err(TargetError::OutOfRange(1.5))
        );
        assert_eq!(recommend_threshold(&[], 0.9), Err(TargetError::NoData));
    }

    proptest! {
        #[test]
        fn coverage_falls_and_counts_add_up_as_the_threshold_rises(
            preds in prop::collection::vec(
                (0.0f64..=1.0, any::<bool>()).prop_map(|(b, m)| p(b, if m { Class::Motorcycle } else { Class::Bicycle })),
                0..60,
            )
        ) {
            let table = risk_coverage(&preds, table_thresholds());
            for pair in table.windows(2) {
                prop_assert!(pair[1].accepted <= pair[0].accepted);
            }
            for d in &table {
                let correct = preds.iter().filter(|p| p.correct()).count();
                prop_assert_eq!(d.accepted_correct + d.rejected_correct, correct);
            }
            let c = Calibration::of(&preds);
            prop_assert!((0.0..=1.0).contains(&c.ece));
            prop_assert!((0.0..=2.0).contains(&c.brier));
        }
    }
}
