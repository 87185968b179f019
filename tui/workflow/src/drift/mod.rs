//! Drift: whether the traffic the endpoint sees today still looks like what the model was
//! trained and calibrated on. One implementation for the local stack, the `monitor-drift`
//! Lambda and the dashboard.
//!
//! - a [`Profile`] is the distributions of a population of inferences: the top-class
//!   confidence, the predicted class, and label-free statistics of the input images
//!   ([`Feature`]), each a fixed-bin [`Histogram`];
//! - a [`Baseline`] is the profile of held-out data saved with a model;
//! - [`compare`] judges a window of captured traffic against it: for each statistic the
//!   population stability index ([`psi`]) says how far the distribution moved, the
//!   Kolmogorov-Smirnov test ([`ks`]) whether the move is more than sampling noise, and the
//!   [`Cutoffs`] turn both into a [`Verdict`].

mod features;
mod histogram;
mod judge;
pub mod metrics;
mod profile;
mod report;
mod window;

pub use features::{Feature, ImageFeatures};
pub use histogram::{Histogram, Ks, kolmogorov_q, ks, psi};
pub use judge::{DriftOptions, Reading, judge};
pub use profile::{
    BASELINE_FILE, Baseline, CONFIDENCE_BINS, FEATURE_BINS, Observation, ObservedImage, Observer,
    Profile, WindowCounter,
};
pub use report::{DriftReport, DriftView, Finding, Statistic, WindowDrift, compare};
pub use window::{WindowSpec, WindowSpecError, split_windows};

use serde::{Deserialize, Serialize};

/// The judgement on one statistic (or, as the worst of them, on a window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Fewer observations than [`Cutoffs::min_samples`] on either side: no judgement.
    NotEnoughData,
    /// No shift beyond sampling noise, or one too small to matter.
    Ok,
    /// A moderate shift: worth a look.
    Warn,
    /// A major shift: the model is seeing traffic it was not validated on.
    Alert,
}

impl Verdict {
    /// `OK`, `WARN`, `ALERT`, `NOT ENOUGH DATA`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NotEnoughData => "NOT ENOUGH DATA",
            Verdict::Ok => "OK",
            Verdict::Warn => "WARN",
            Verdict::Alert => "ALERT",
        }
    }
}

/// Where verdicts change. The defaults, and why:
///
/// - a statistic is judged to have moved only when the Kolmogorov-Smirnov test says the move
///   is more than chance at this window's size, at p < 0.001: under no drift about one
///   statistic-window in a thousand passes, so twenty windows of nine statistics give a false
///   WARN with a chance of ~0.2 in total, while every perturbation scones can send moves its
///   statistic so far that the p-value is below 1e-10 within a hundred images;
/// - then PSI sizes the move, with the convention of credit-risk monitoring where PSI comes
///   from: below 0.1 no real change (OK), 0.1-0.25 moderate (WARN), above 0.25 major
///   (ALERT). PSI alone cannot be the test: two samples of one distribution differ by about
///   `(bins - 1) (1/n + 1/m)` of PSI by chance, ~0.1 at 10 bins and 100 images, so a small
///   window would cross the WARN line on noise alone half the time (measured: the 200 test
///   images against the 1000 of train/ gave up to 0.14 on brightness);
/// - at least 50 distinct images (an image classified twice, by a retry or sent again, is one
///   observation) on each side; below, "not enough data", never an alarm on a handful of
///   points. 50 because the test's false-alarm rate holds from a few dozen observations
///   (Stephens' correction) and because a change that touches one kind of image only (one
///   class of the 200 test images: 100 images) must still be judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cutoffs {
    /// PSI at or above which a moved statistic is WARN.
    pub psi_warn: f64,
    /// PSI at or above which it is ALERT.
    pub psi_alert: f64,
    /// The KS p-value below which a move counts as real.
    pub significance: f64,
    /// Fewest observations on each side for any verdict but NOT ENOUGH DATA.
    pub min_samples: u64,
}

impl Default for Cutoffs {
    fn default() -> Cutoffs {
        Cutoffs {
            psi_warn: 0.1,
            psi_alert: 0.25,
            significance: 0.001,
            min_samples: 50,
        }
    }
}
