//! Honest confidence: temperature scaling (Guo et al., 2017). The served probabilities are
//! `softmax(logits / T)` with one `T` fitted on predictions of images the network was not
//! trained on, by minimising their negative log-likelihood; never on `test/`. It changes
//! confidences, never the predicted class.
//!
//! Two sources of such predictions ([`FittedOn`]): the stratified holdout of a training run
//! with `validation_fraction > 0`, or, for the shipped final fit (which holds nothing out),
//! the pooled out-of-fold predictions of the configuration's 5-fold cross-validation on
//! `train/`: every training image predicted once by a model that did not see it, 1000
//! predictions instead of a 150-image holdout (whose fitted `T` moved between 0.67 and 1.15
//! from fold to fold). `cv_model` prints that calibration; the default configuration carries
//! it (`TrainConfig::out_of_fold_calibration`, numbers in SELECTION.md).
//!
//! Label smoothing and flip averaging both pull this network's confidences down, so `T`
//! comes out below 1 and sharpens them.

use serde::{Deserialize, Serialize};

/// The calibration saved with a model (`metadata.json`'s `calibration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// `temperature`: the only method so far.
    pub method: String,
    /// The temperature the logits are divided by.
    pub temperature: f64,
    /// Predictions it was fitted on.
    pub images: usize,
    /// Which predictions those were.
    #[serde(default)]
    pub fitted_on: FittedOn,
    /// Their mean negative log-likelihood before scaling.
    pub nll_before: f64,
    /// ... and after.
    pub nll_after: f64,
}

/// The predictions a calibration was fitted on (never `test/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FittedOn {
    /// The training run's own stratified holdout.
    #[default]
    Holdout,
    /// The pooled out-of-fold predictions of a `folds`-fold cross-validation of the same
    /// configuration on `train/`.
    OutOfFold {
        /// Folds.
        folds: usize,
    },
}

impl std::fmt::Display for FittedOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FittedOn::Holdout => f.write_str("held-out training images"),
            FittedOn::OutOfFold { folds } => write!(
                f,
                "out-of-fold predictions of train/ ({folds}-fold cross-validation of this configuration)"
            ),
        }
    }
}

/// The method's name in the file.
pub const TEMPERATURE: &str = "temperature";

/// The search range of `T`: wide enough for any sane network, narrow enough that a
/// degenerate holdout (all right and confident) cannot push it to an extreme.
const T_RANGE: (f64, f64) = (0.05, 20.0);

impl Calibration {
    /// Why this calibration cannot be served, if it cannot: a temperature outside the range
    /// a fit produces. (0 or a negative `T` is no distribution; `1e-30` turns every logit
    /// gap into certainty, so every image would pass any threshold.)
    pub fn problem(&self) -> Option<String> {
        let t = self.temperature;
        (!(t.is_finite() && (T_RANGE.0..=T_RANGE.1).contains(&t))).then(|| {
            format!(
                "calibration temperature {t} is outside [{}, {}], the range a fit produces",
                T_RANGE.0, T_RANGE.1
            )
        })
    }
}

/// Fits the temperature on held-out `logits` with their true class indices. `None` when
/// there is nothing to fit on.
pub fn fit_temperature(logits: &[[f32; 2]], labels: &[usize]) -> Option<Calibration> {
    if logits.is_empty() || logits.len() != labels.len() {
        return None;
    }
    let nll = |t: f64| mean_nll(logits, labels, t);
    // NLL is convex in 1/T, so unimodal in ln T: golden-section search on ln T.
    let (mut low, mut high) = (T_RANGE.0.ln(), T_RANGE.1.ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut a = high - ratio * (high - low);
    let mut b = low + ratio * (high - low);
    let (mut fa, mut fb) = (nll(a.exp()), nll(b.exp()));
    for _ in 0..80 {
        if fa <= fb {
            high = b;
            b = a;
            fb = fa;
            a = high - ratio * (high - low);
            fa = nll(a.exp());
        } else {
            low = a;
            a = b;
            fa = fb;
            b = low + ratio * (high - low);
            fb = nll(b.exp());
        }
    }
    let temperature = ((low + high) / 2.0).exp();
    Some(Calibration {
        method: TEMPERATURE.to_owned(),
        temperature,
        images: logits.len(),
        fitted_on: FittedOn::Holdout,
        nll_before: nll(1.0),
        nll_after: nll(temperature),
    })
}

/// `softmax(logits / t)` in f64: the probabilities a classifier calibrated with temperature
/// `t` answers for these raw logits.
pub fn probabilities(logits: [f32; 2], t: f64) -> [f64; 2] {
    let z = logits.map(|l| f64::from(l) / t);
    let top = z[0].max(z[1]);
    let e = z.map(|v| (v - top).exp());
    e.map(|v| v / (e[0] + e[1]))
}

/// Mean negative log-likelihood of the true classes under `softmax(logits / t)`.
fn mean_nll(logits: &[[f32; 2]], labels: &[usize], t: f64) -> f64 {
    let total: f64 = logits
        .iter()
        .zip(labels)
        .map(|(l, &label)| {
            let z = [f64::from(l[0]) / t, f64::from(l[1]) / t];
            let top = z[0].max(z[1]);
            let log_sum = top + ((z[0] - top).exp() + (z[1] - top).exp()).ln();
            log_sum - z[label.min(1)]
        })
        .sum();
    total / logits.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_confident_logits_get_a_temperature_below_one() {
        // Logit gaps of 1.5 for 19 right answers and one wrong: the best temperature is the
        // one whose sigmoid(1.5 / T) is 0.95, T = 1.5 / ln(19) ≈ 0.5094.
        let mut logits = vec![[1.5f32, 0.0]; 19];
        logits.push([0.0, 1.5]);
        let labels = vec![0usize; 20];
        let c = fit_temperature(&logits, &labels).unwrap();
        assert!((c.temperature - 1.5 / 19f64.ln()).abs() < 1e-4, "{c:?}");
        assert!(c.nll_after < c.nll_before);
        assert_eq!(c.images, 20);
    }

    #[test]
    fn over_confident_logits_get_a_temperature_above_one() {
        // Gap 6 (p ≈ 0.9975) but only 80% right: T = 6 / ln(4) ≈ 4.328.
        let mut logits = vec![[6.0f32, 0.0]; 8];
        logits.extend([[0.0, 6.0], [0.0, 6.0]]);
        let c = fit_temperature(&logits, &[0; 10]).unwrap();
        assert!((c.temperature - 6.0 / 4f64.ln()).abs() < 1e-3, "{c:?}");
    }

    #[test]
    fn a_calibration_saved_before_fitted_on_existed_was_fitted_on_a_holdout() {
        let old = r#"{"method":"temperature","temperature":0.8,"images":150,"nll_before":0.3,"nll_after":0.25}"#;
        let c: Calibration = serde_json::from_str(old).unwrap();
        assert_eq!(c.fitted_on, FittedOn::Holdout);
        let new = serde_json::to_value(Calibration {
            fitted_on: FittedOn::OutOfFold { folds: 5 },
            ..c
        })
        .unwrap();
        assert_eq!(
            new["fitted_on"],
            serde_json::json!({"kind": "out_of_fold", "folds": 5})
        );
    }

    #[test]
    fn nothing_to_fit_on_is_none() {
        assert_eq!(fit_temperature(&[], &[]), None);
        assert_eq!(fit_temperature(&[[1.0, 0.0]], &[]), None);
    }

    #[test]
    fn a_perfect_holdout_stays_within_the_range() {
        let c = fit_temperature(&[[5.0, 0.0]; 10], &[0; 10]).unwrap();
        assert!(c.temperature >= T_RANGE.0 * 0.999, "{c:?}");
    }
}
