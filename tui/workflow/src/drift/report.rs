//! Judging a window of traffic against a baseline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::histogram::{ks, psi};
use super::{Cutoffs, Feature, Histogram, Ks, Profile, Verdict};

/// Bins merged into one for PSI: 50 fine bins become the convention's 10 (see [`Cutoffs`]).
const PSI_COARSENING: usize = 5;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// The distribution of the top-class probability.
    Confidence,
    /// The mix of predicted classes.
    PredictedClass,
    /// The share of inferences below the threshold (only a rise is drift: fewer rejections
    /// than the baseline is not a safety problem).
    LowConfidenceRate,
    /// An input statistic.
    Input(Feature),
}

impl Statistic {
    /// The name in reports, JSON and metric names.
    pub fn name(self) -> &'static str {
        match self {
            Statistic::Confidence => "confidence",
            Statistic::PredictedClass => "predicted_class",
            Statistic::LowConfidenceRate => "low_confidence_rate",
            Statistic::Input(f) => f.name(),
        }
    }

    /// The name a person reads in a report or on screen: what the two-bin statistics'
    /// values are (the share predicted bicycle, the rate below the threshold).
    pub fn label(self) -> &'static str {
        match self {
            Statistic::PredictedClass => "bicycle share",
            Statistic::LowConfidenceRate => "low-confidence rate",
            s => s.name(),
        }
    }

    /// Every statistic, in report order.
    pub fn all() -> impl Iterator<Item = Statistic> {
        [
            Statistic::Confidence,
            Statistic::PredictedClass,
            Statistic::LowConfidenceRate,
        ]
        .into_iter()
        .chain(Feature::ALL.into_iter().map(Statistic::Input))
    }
}

/// One statistic of a window against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What it is about.
    pub statistic: Statistic,
    /// The baseline's distribution.
    pub baseline: Histogram,
    /// The window's distribution.
    pub current: Histogram,
    /// The baseline's mean (for the low-confidence rate and the class mix: the share of
    /// the first bin, i.e. the rate below the threshold, the share predicted bicycle).
    pub baseline_mean: Option<f64>,
    /// The window's mean (likewise).
    pub current_mean: Option<f64>,
    /// Population stability index of the window against the baseline.
    pub psi: Option<f64>,
    /// Kolmogorov-Smirnov test of the window against the baseline.
    pub ks: Option<Ks>,
    /// The judgement.
    pub verdict: Verdict,
}

/// A window judged against a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The threshold the low-confidence rate is taken at.
    pub threshold: f64,
    /// Model outputs in the window.
    pub inferences: u64,
    /// Input images in the window.
    pub images: u64,
    /// The cut-offs the verdicts come from.
    pub cutoffs: Cutoffs,
    /// One finding per statistic, in [`Statistic::all`] order.
    pub findings: Vec<Finding>,
    /// The worst verdict of the findings (NOT ENOUGH DATA only when every finding is).
    pub verdict: Verdict,
}

impl DriftReport {
    /// The finding on `statistic`.
    pub fn finding(&self, statistic: Statistic) -> Option<&Finding> {
        self.findings.iter().find(|f| f.statistic == statistic)
    }

    /// The labels of the statistics at ALERT (what a guard's hold names).
    pub fn alerting(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.verdict == Verdict::Alert)
            .map(|f| f.statistic.label().to_owned())
            .collect()
    }
}

/// One window of traffic judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowDrift {
    /// The first inference's time (`None`: an empty window).
    pub from: Option<DateTime<Utc>>,
    /// The last inference's time.
    pub to: Option<DateTime<Utc>>,
    /// Inferences in the window.
    pub inferences: u64,
    /// Of them, repeats of an image counted already (counted once).
    pub repeats: u64,
    /// The judgement.
    pub report: DriftReport,
}

/// The drift of a model's traffic, window by window: what `scones drift` prints and the
/// dashboard's drift view shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftView {
    /// The model the traffic went to.
    pub model: String,
    /// What the baseline's input statistics were computed on.
    pub inputs_from: String,
    /// What its output statistics were computed on (`None`: inputs only).
    pub outputs_from: Option<String>,
    /// How the windows were cut (e.g. "the last 500 inferences").
    pub window: String,
    /// The windows, oldest first; the last is the current one.
    pub windows: Vec<WindowDrift>,
    /// Captured records that could not be used.
    pub unreadable: usize,
    /// When it was computed (on AWS the monitor's run: the report can be minutes old).
    #[serde(default)]
    pub computed: Option<DateTime<Utc>>,
}

impl DriftView {
    /// The newest window.
    pub fn current(&self) -> Option<&WindowDrift> {
        self.windows.last()
    }

    /// The current window's verdict (NOT ENOUGH DATA without traffic).
    pub fn verdict(&self) -> Verdict {
        self.current()
            .map_or(Verdict::NotEnoughData, |w| w.report.verdict)
    }
}

/// Judges `current` against `baseline`, the low-confidence rate at `threshold`.
pub fn compare(
    baseline: &Profile,
    current: &Profile,
    threshold: f64,
    cutoffs: &Cutoffs,
) -> DriftReport {
    let findings: Vec<Finding> = Statistic::all()
        .map(|statistic| {
            let (base, now) = distributions(statistic, baseline, current, threshold);
            judge(statistic, base, now, cutoffs)
        })
        .collect();
    let verdict = findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::NotEnoughData);
    DriftReport {
        threshold,
        inferences: current.outputs(),
        images: current.images(),
        cutoffs: *cutoffs,
        findings,
        verdict,
    }
}

/// The two histograms a statistic compares.
fn distributions(
    statistic: Statistic,
    baseline: &Profile,
    current: &Profile,
    threshold: f64,
) -> (Histogram, Histogram) {
    match statistic {
        Statistic::Confidence => (baseline.confidence.clone(), current.confidence.clone()),
        Statistic::PredictedClass => (baseline.predicted.clone(), current.predicted.clone()),
        Statistic::LowConfidenceRate => (
            below_and_above(&baseline.confidence, threshold),
            below_and_above(&current.confidence, threshold),
        ),
        Statistic::Input(feature) => (baseline.input(feature), current.input(feature)),
    }
}

/// Two bins: the observations below `threshold` and those at or above it.
fn below_and_above(confidence: &Histogram, threshold: f64) -> Histogram {
    let total = confidence.total();
    let below = confidence
        .share_below(threshold)
        .map_or(0, |share| (share * total as f64).round() as u64)
        .min(total);
    Histogram {
        lo: 0.0,
        hi: 2.0,
        counts: vec![below, total - below],
    }
}

fn judge(statistic: Statistic, baseline: Histogram, current: Histogram, c: &Cutoffs) -> Finding {
    let two_bins = baseline.counts.len() == 2;
    // Shares and rates read better than bin-centre means for two-bin distributions.
    let mean = |h: &Histogram| {
        if two_bins {
            h.share_below(h.lo + (h.hi - h.lo) / 2.0)
        } else {
            h.mean()
        }
    };
    let coarse = |h: &Histogram| {
        if two_bins {
            h.clone()
        } else {
            h.coarsen(PSI_COARSENING)
        }
    };
    let psi = psi(&coarse(&baseline), &coarse(&current));
    let ks = ks(&baseline, &current);
    let (baseline_mean, current_mean) = (mean(&baseline), mean(&current));
    // Only more rejections than the baseline is a safety problem.
    let wrong_way = statistic == Statistic::LowConfidenceRate
        && matches!((baseline_mean, current_mean), (Some(b), Some(n)) if n <= b);
    let verdict = if baseline.total() < c.min_samples || current.total() < c.min_samples {
        Verdict::NotEnoughData
    } else {
        match (psi, ks) {
            (Some(psi), Some(ks)) if ks.p_value < c.significance && !wrong_way => {
                if psi >= c.psi_alert {
                    Verdict::Alert
                } else if psi >= c.psi_warn {
                    Verdict::Warn
                } else {
                    Verdict::Ok
                }
            }
            (Some(_), Some(_)) => Verdict::Ok,
            _ => Verdict::NotEnoughData,
        }
    };
    Finding {
        statistic,
        baseline: coarse(&baseline),
        current: coarse(&current),
        baseline_mean,
        current_mean,
        psi,
        ks,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::ImageFeatures;

    fn grey(level: u8) -> ImageFeatures {
        let pixels: Vec<u8> = (0..16u8)
            .flat_map(|i| {
                let v = level.saturating_add(i * 3);
                [v, v, v]
            })
            .collect();
        ImageFeatures::of_rgb(4, 4, &pixels).unwrap()
    }

    fn profile(
        n: usize,
        confidence: impl Fn(usize) -> f64,
        level: impl Fn(usize) -> u8,
    ) -> Profile {
        let mut p = Profile::default();
        for i in 0..n {
            let c = confidence(i);
            p.add_scores(if i % 2 == 0 {
                [c, 1.0 - c]
            } else {
                [1.0 - c, c]
            });
            p.add_image(&grey(level(i)));
        }
        p
    }

    #[test]
    fn the_same_traffic_is_ok_and_a_darker_one_is_an_alert() {
        let conf = |i: usize| 0.5 + (i % 50) as f64 / 100.0;
        let level = |i: usize| 60 + (i % 100) as u8;
        let baseline = profile(1000, conf, level);
        let same = compare(
            &baseline,
            &profile(400, conf, level),
            0.93,
            &Cutoffs::default(),
        );
        assert_eq!(same.verdict, Verdict::Ok, "{same:#?}");
        assert_eq!(same.inferences, 400);

        let dark = compare(
            &baseline,
            &profile(400, conf, |i| level(i) / 3),
            0.93,
            &Cutoffs::default(),
        );
        let brightness = dark.finding(Statistic::Input(Feature::Brightness)).unwrap();
        assert_eq!(brightness.verdict, Verdict::Alert, "{brightness:#?}");
        assert!(brightness.current_mean < brightness.baseline_mean);
        assert_eq!(
            dark.finding(Statistic::Confidence).unwrap().verdict,
            Verdict::Ok
        );
        assert_eq!(dark.verdict, Verdict::Alert);

        let few = compare(
            &baseline,
            &profile(5, conf, |_| 0),
            0.93,
            &Cutoffs::default(),
        );
        assert_eq!(few.verdict, Verdict::NotEnoughData);
    }

    #[test]
    fn only_a_rise_of_the_low_confidence_rate_counts() {
        let baseline = profile(1000, |i| if i % 2 == 0 { 0.7 } else { 0.99 }, |_| 100);
        let fewer = compare(
            &baseline,
            &profile(500, |_| 0.99, |_| 100),
            0.93,
            &Cutoffs::default(),
        );
        let rate = fewer.finding(Statistic::LowConfidenceRate).unwrap();
        assert_eq!(
            (rate.baseline_mean, rate.current_mean),
            (Some(0.5), Some(0.0))
        );
        assert_eq!(rate.verdict, Verdict::Ok);
        let more = compare(
            &baseline,
            &profile(500, |_| 0.7, |_| 100),
            0.93,
            &Cutoffs::default(),
        );
        assert_eq!(
            more.finding(Statistic::LowConfidenceRate).unwrap().verdict,
            Verdict::Alert
        );
    }

    #[test]
    fn one_predicted_class_is_an_alert() {
        let baseline = profile(1000, |_| 0.95, |_| 100);
        let mut one_class = Profile::default();
        for _ in 0..300 {
            one_class.add_scores([0.05, 0.95]);
        }
        let report = compare(&baseline, &one_class, 0.93, &Cutoffs::default());
        let mix = report.finding(Statistic::PredictedClass).unwrap();
        assert_eq!(mix.verdict, Verdict::Alert, "{mix:#?}");
        assert_eq!(mix.current_mean, Some(0.0));
        // No images in the window: the input statistics cannot be judged.
        let brightness = report
            .finding(Statistic::Input(Feature::Brightness))
            .unwrap();
        assert_eq!(brightness.verdict, Verdict::NotEnoughData);
    }
}
