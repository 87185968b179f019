//! The evaluation report, as text for people and JSON for machines.

use std::fmt;

use scones_model::{Class, Evaluation};
use scones_workflow::quality::{Calibration, Decisions, risk_coverage, table_thresholds};
use serde::Serialize;

use super::predictions::{CalibrationState, ModelInfo, Scored};

/// Everything `scones eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// What was scored.
    pub source: String,
    /// Which model answered.
    pub model: ModelInfo,
    /// The staged data is the synthetic stand-in: the numbers say nothing of the real task.
    pub synthetic: bool,
    /// Accuracy, per-class precision and recall, the confusion matrix.
    pub classification: Evaluation,
    /// How honest the confidences are.
    pub calibration: Calibration,
    /// The threshold in force, or the one asked for (`threshold_asked`).
    pub threshold: f64,
    /// Whether `threshold` was asked for (`--threshold`), not the one in force.
    pub threshold_asked: bool,
    /// The decisions at that threshold.
    pub at_threshold: Decisions,
    /// The risk-coverage table, thresholds 0.50 to 0.99.
    pub risk_coverage: Vec<Decisions>,
}

impl EvalReport {
    /// The report of `scored`.
    pub fn of(scored: &Scored) -> EvalReport {
        let predictions = &scored.predictions;
        let classification = Evaluation::from_pairs(
            predictions
                .iter()
                .map(|p| (p.label, Class::predicted(p.scores))),
        );
        EvalReport {
            source: scored.source.clone(),
            model: scored.model.clone(),
            synthetic: scored.synthetic,
            classification,
            calibration: Calibration::of(predictions),
            threshold: scored.threshold,
            threshold_asked: scored.threshold_asked,
            at_threshold: Decisions::at(predictions, scored.threshold),
            risk_coverage: risk_coverage(predictions, table_thresholds()),
        }
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "model: {}", self.model.name)?;
        writeln!(f, "data: {}", self.source)?;
        if self.synthetic {
            writeln!(
                f,
                "SYNTHETIC DATA: these numbers say nothing about the real task"
            )?;
        }
        match &self.model.calibration {
            CalibrationState::Temperature {
                temperature,
                images,
                fitted_on,
            } => writeln!(
                f,
                "calibration: temperature {temperature:.3}, fitted on {images} {fitted_on}"
            )?,
            CalibrationState::Uncalibrated => writeln!(
                f,
                "calibration: NONE: this model serves its raw softmax (trained before \
                 calibration existed, or with a configuration that carries none); retrain \
                 it (`scones train --local`) to calibrate it"
            )?,
            CalibrationState::Unknown => writeln!(
                f,
                "calibration: not known (the endpoint's own probabilities)"
            )?,
        }
        writeln!(f)?;
        self.classification.write_tables(f)?;
        writeln!(f)?;
        let cal = &self.calibration;
        writeln!(
            f,
            "calibration: ECE {:.4} ({} equal-width bins of the top-class probability on [0.5, 1]), \
             NLL {:.4}, Brier {:.4}",
            cal.ece,
            cal.bins.len(),
            cal.nll,
            cal.brier
        )?;
        writeln!(
            f,
            "reliability:  confidence bin  images  mean conf.  accuracy"
        )?;
        for b in cal.bins.iter().filter(|b| b.count > 0) {
            writeln!(
                f,
                "              [{:.2}, {:.2}) {:>7}  {:>10}  {:>8}",
                b.lower,
                b.upper,
                b.count,
                percent(b.mean_confidence),
                percent(b.accuracy)
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "risk-coverage (accepted: top-class probability >= threshold; the rest go to a person):"
        )?;
        writeln!(
            f,
            "  threshold  accepted  accuracy of accepted  errors let through  right but referred"
        )?;
        for d in &self.risk_coverage {
            let marked = (d.threshold - self.threshold).abs() < 1e-9;
            writeln!(
                f,
                "{} {:>8.2}  {:>8}  {:>20}  {:>18}  {:>18}",
                if marked { "▶" } else { " " },
                d.threshold,
                percent(Some(d.coverage())),
                percent(d.accepted_accuracy()),
                d.accepted_wrong(),
                d.rejected_correct
            )?;
        }
        let t = &self.at_threshold;
        let interval = t
            .accepted_accuracy_interval()
            .map(|(lo, hi)| format!(" (95% CI {:.1}%-{:.1}%)", lo * 100.0, hi * 100.0))
            .unwrap_or_default();
        writeln!(
            f,
            "at {}, {}: {} accepted ({}), accuracy of accepted {}{}, {} errors let through",
            if self.threshold_asked {
                "the threshold asked for (--threshold)"
            } else {
                "the threshold in force"
            },
            self.threshold,
            t.accepted,
            percent(Some(t.coverage())),
            percent(t.accepted_accuracy()),
            interval,
            t.accepted_wrong()
        )?;
        write!(f, "accuracy: {:.3}", self.classification.accuracy)
    }
}
