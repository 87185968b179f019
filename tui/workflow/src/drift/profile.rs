//! The distributions drift compares: a [`Profile`] of a population of inferences, and the
//! [`Baseline`] saved with a model.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Feature, Histogram, ImageFeatures};
use crate::capture::CapturedInference;
use crate::class::Class;

/// Bins of the confidence histogram: 0.01 wide over [0.5, 1], so the share below any
/// two-decimal threshold is exact.
pub const CONFIDENCE_BINS: usize = 50;
/// Bins of each input statistic's histogram (1/50 of its range).
pub const FEATURE_BINS: usize = 50;
/// The file a model's baseline is saved in, next to the model (local) or next to the data
/// capture (AWS).
pub const BASELINE_FILE: &str = "baseline.json";

/// The distributions of a population of inferences. Outputs and inputs are counted
/// separately: an inference whose input was not captured still has an output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The top-class probability, over [0.5, 1].
    pub confidence: Histogram,
    /// Predictions per class: bin 0 bicycle, bin 1 motorcycle.
    pub predicted: Histogram,
    /// Each input statistic.
    pub inputs: BTreeMap<Feature, Histogram>,
}

impl Default for Profile {
    fn default() -> Profile {
        Profile {
            confidence: Histogram::new(0.5, 1.0, CONFIDENCE_BINS),
            predicted: Histogram::new(0.0, 2.0, 2),
            inputs: Feature::ALL
                .iter()
                .map(|&f| {
                    let (lo, hi) = f.range();
                    (f, Histogram::new(lo, hi, FEATURE_BINS))
                })
                .collect(),
        }
    }
}

impl Profile {
    /// Counts one model output `[p_bicycle, p_motorcycle]`.
    pub fn add_scores(&mut self, scores: [f64; 2]) {
        if scores.iter().any(|s| !s.is_finite()) {
            return;
        }
        self.confidence.add(scores[0].max(scores[1]));
        self.predicted.add(Class::predicted(scores).index() as f64);
    }

    /// Counts one input image's statistics.
    pub fn add_image(&mut self, features: &ImageFeatures) {
        for (&feature, histogram) in &mut self.inputs {
            histogram.add(features.get(feature));
        }
    }

    /// Model outputs counted.
    pub fn outputs(&self) -> u64 {
        self.confidence.total()
    }

    /// Input images counted.
    pub fn images(&self) -> u64 {
        self.inputs
            .values()
            .map(Histogram::total)
            .max()
            .unwrap_or(0)
    }

    /// The input histogram of `feature` (empty when this profile has none).
    pub fn input(&self, feature: Feature) -> Histogram {
        self.inputs.get(&feature).cloned().unwrap_or_else(|| {
            let (lo, hi) = feature.range();
            Histogram::new(lo, hi, FEATURE_BINS)
        })
    }
}

/// A captured inference reduced to what drift needs: its time, its scores, and which image
/// it was (a hash of the input bytes and the image's statistics). A window of 10,000 holds
/// no image bytes: the monitor-drift Lambda runs at 128 MB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// When the inference happened.
    pub time: DateTime<Utc>,
    /// The decoded output, when it is one.
    pub scores: Option<[f64; 2]>,
    /// The input, when it was captured.
    pub image: Option<ObservedImage>,
}

/// A captured input: which bytes (their hash), and their statistics (`None`: not an image).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObservedImage {
    /// Hash of the input bytes: the same image sent twice has the same hash.
    pub hash: u64,
    /// Its statistics, `None` when the bytes are not an image this model takes.
    pub features: Option<ImageFeatures>,
}

impl ObservedImage {
    /// The hash of input bytes: one definition for every reader of traffic (`scones
    /// drift`, the dashboard, the monitor Lambda, the local guard), so they agree on what
    /// "the same image" is.
    pub fn hash_of(input: &[u8]) -> u64 {
        let mut hasher = DefaultHasher::new();
        input.hash(&mut hasher);
        hasher.finish()
    }
}

/// Turns captured inferences into [`Observation`]s, decoding each distinct image once
/// (traffic repeats images: the same photo sent again, a retry).
pub struct Observer<F> {
    features: F,
    seen: HashMap<u64, Option<ImageFeatures>>,
}

impl<F: Fn(&[u8]) -> Option<ImageFeatures>> Observer<F> {
    /// An observer decoding inputs with `features`.
    pub fn new(features: F) -> Observer<F> {
        Observer {
            features,
            seen: HashMap::new(),
        }
    }

    /// The observation of one captured inference.
    pub fn observe(&mut self, inference: &CapturedInference) -> Observation {
        let image = inference.input.as_deref().map(|input| {
            let hash = ObservedImage::hash_of(input);
            let features = *self
                .seen
                .entry(hash)
                .or_insert_with(|| (self.features)(input));
            ObservedImage { hash, features }
        });
        Observation {
            time: inference.time,
            scores: inference.scores,
            image,
        }
    }
}

/// Counts a window's observations into a [`Profile`], each distinct input image once: an
/// image classified twice (a retry, a photo sent again) is one observation of the traffic,
/// and counting it twice would make the tests over-confident.
#[derive(Debug, Default)]
pub struct WindowCounter {
    /// What was counted.
    pub profile: Profile,
    /// Inferences offered.
    pub inferences: u64,
    /// Inferences whose input had been counted already.
    pub repeats: u64,
    /// Inferences with no usable scores, or whose input could not be read as an image.
    pub unusable: u64,
    seen: HashSet<u64>,
}

impl WindowCounter {
    /// Counts one observation: its scores, and its input's statistics unless the same bytes
    /// were counted before. An inference captured without its input counts its scores only.
    pub fn add(&mut self, observation: &Observation) {
        self.inferences += 1;
        let Some(scores) = observation.scores else {
            self.unusable += 1;
            return;
        };
        let Some(image) = observation.image else {
            self.profile.add_scores(scores);
            return;
        };
        if !self.seen.insert(image.hash) {
            self.repeats += 1;
            return;
        }
        self.profile.add_scores(scores);
        match image.features {
            Some(f) => self.profile.add_image(&f),
            None => self.unusable += 1,
        }
    }
}

/// The reference a model's traffic is judged against, saved with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The format of this file (1).
    pub format: u32,
    /// When it was computed.
    pub created: DateTime<Utc>,
    /// The model it belongs to (its directory or SageMaker model name).
    pub model: String,
    /// What the input statistics were computed on.
    pub inputs_from: String,
    /// What the output statistics were computed on; `None` when no held-out predictions of
    /// this model's recipe exist (the output statistics are then not judged).
    pub outputs_from: Option<String>,
    /// On AWS, the held-out set in the bucket the outputs came from, so that a promotion can
    /// measure the new version's outputs on the same images (absent locally, where each
    /// version keeps its own baseline, and in baselines written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<crate::dataset::LabelledSet>,
    /// The distributions.
    pub profile: Profile,
}

impl Baseline {
    /// The current format.
    pub const FORMAT: u32 = 1;

    /// The largest baseline file read (a baseline is a few KB of histograms): the monitor
    /// and `scones baseline --aws` refuse the same objects.
    pub const MAX_BYTES: u64 = 1024 * 1024;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn captured(input: Option<&[u8]>, p: f64) -> CapturedInference {
        CapturedInference {
            event_id: "e".into(),
            time: DateTime::<Utc>::UNIX_EPOCH,
            scores: Some([p, 1.0 - p]),
            input: input.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn each_distinct_image_is_decoded_once_and_counted_once() {
        let decoded = Cell::new(0);
        let mut observer = Observer::new(|bytes: &[u8]| {
            decoded.set(decoded.get() + 1);
            let v = bytes[0];
            ImageFeatures::of_rgb(1, 1, &[v, v, v])
        });
        let traffic = [
            captured(Some(b"a"), 0.9),
            captured(Some(b"b"), 0.8),
            captured(Some(b"a"), 0.9), // the same image again
            captured(None, 0.7),       // captured without its input
        ];
        let observed: Vec<Observation> = traffic.iter().map(|c| observer.observe(c)).collect();
        assert_eq!(decoded.get(), 2);
        let mut counter = WindowCounter::default();
        for o in &observed {
            counter.add(o);
        }
        assert_eq!(
            (counter.inferences, counter.repeats, counter.unusable),
            (4, 1, 0)
        );
        assert_eq!(counter.profile.images(), 2);
        assert_eq!(counter.profile.outputs(), 3);
    }
}
