//! Promoting a model version (through the gate of `scones_workflow::models`) and rolling
//! back, on the local stack. Both only move the `SERVING` pointer (atomically) and log the
//! step; the endpoints follow the pointer between two inferences.

use chrono::Utc;
use scones_model::{LabeledImage, TrainedModel};
use scones_workflow::models::{GateReport, Paired, Promotion, ServingChange, gate};
use scones_workflow::review::Use;

use crate::bucket::LocalBucket;
use crate::models;
use crate::stage::Split;
use crate::training::{TrainingError, load_staged};

/// What `promote` and `rollback` accept for "the newest version".
pub const LATEST: &str = "latest";

/// Why a promotion or rollback did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// No such version.
    #[error("no model version {version:?} (versions: {known}); `scones models` lists them")]
    NoSuchVersion {
        /// What was asked.
        version: String,
        /// The versions there are.
        known: String,
    },
    /// It serves already.
    #[error("{0} serves already")]
    AlreadyServing(String),
    /// Nothing to promote: no version but the served one.
    #[error("no version to promote: train one with `scones train`")]
    NoCandidate,
    /// Its files are missing or damaged.
    #[error("version {version} cannot be served: {source}")]
    Unusable {
        /// The version.
        version: String,
        /// Why.
        #[source]
        source: TrainingError,
    },
    /// The gate refused it.
    #[error("the gate refused {version}:\n  {}\n(promote anyway with --force: it is recorded)", report.reasons.join("\n  "))]
    Refused {
        /// The version.
        version: String,
        /// The findings.
        report: Box<GateReport>,
    },
    /// Nothing served before the current version.
    #[error("no earlier version to roll back to: {0} is the first one served")]
    NoPrevious(String),
    /// Nothing serves.
    #[error("no model serves yet: train one with `scones train`")]
    NothingServes,
    /// Reading or writing the registry.
    #[error(transparent)]
    Registry(#[from] TrainingError),
}

impl PromoteError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            PromoteError::NoSuchVersion { .. } => "NoSuchVersion",
            PromoteError::AlreadyServing(_) => "AlreadyServing",
            PromoteError::NoCandidate => "NoCandidate",
            PromoteError::Unusable { .. } => "Unusable",
            PromoteError::Refused { .. } => "Refused",
            PromoteError::NoPrevious(_) => "NoPrevious",
            PromoteError::NothingServes => "NothingServes",
            PromoteError::Registry(e) => e.name(),
        }
    }
}

/// The version `name` stands for (`latest`: the newest that does not serve).
fn resolve(bucket: &LocalBucket, name: &str) -> Result<String, PromoteError> {
    let view = models::view(bucket)?;
    if name == LATEST {
        return view
            .versions
            .iter()
            .find(|v| !v.serving)
            .map(|v| v.version.clone())
            .ok_or(PromoteError::NoCandidate);
    }
    if view.versions.iter().any(|v| v.version == name) {
        return Ok(name.to_owned());
    }
    Err(PromoteError::NoSuchVersion {
        version: name.to_owned(),
        known: view
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The version `name` stands for (`latest` too, or the served one with `None`) and its
/// model: what `scones eval --model` scores.
pub fn load_version(
    bucket: &LocalBucket,
    name: Option<&str>,
) -> Result<(String, TrainedModel), PromoteError> {
    let version = match name {
        Some(name) => resolve(bucket, name)?,
        None => models::serving(bucket)?.ok_or(PromoteError::NothingServes)?,
    };
    let model = load(bucket, &version)?;
    Ok((version, model))
}

fn load(bucket: &LocalBucket, version: &str) -> Result<TrainedModel, PromoteError> {
    TrainedModel::load(&bucket.models_dir().join(version)).map_err(|e| PromoteError::Unusable {
        version: version.to_owned(),
        source: e.into(),
    })
}

/// The two models' answers on `images`.
fn paired(
    serving: &TrainedModel,
    candidate: &TrainedModel,
    images: &[LabeledImage],
) -> Vec<Paired> {
    let scores = |m: &TrainedModel, i: &LabeledImage| {
        m.classifier()
            .predict_image(&i.image)
            .ok()
            .map(|[a, b]| [f64::from(a), f64::from(b)])
    };
    images
        .iter()
        .filter_map(|i| {
            Some(Paired {
                label: i.label,
                serving: scores(serving, i)?,
                candidate: scores(candidate, i)?,
            })
        })
        .collect()
}

/// The production validation set: reviewed images of the held-out share with a class.
fn production_images(bucket: &LocalBucket) -> Vec<LabeledImage> {
    match crate::review::LabelStore::new(bucket).labels() {
        Ok((labels, _)) => crate::training::reviewed_images(bucket, &labels, Use::Validate).0,
        Err(_) => Vec::new(),
    }
}

/// The gate's findings for `candidate` against the `served` model, on `test/` and on the
/// production validation set.
fn evaluate(bucket: &LocalBucket, served: &TrainedModel, candidate: &TrainedModel) -> GateReport {
    let test = load_staged(bucket, Split::Test).unwrap_or_default();
    let production = production_images(bucket);
    gate(
        &paired(served, candidate, &test),
        &paired(served, candidate, &production),
    )
}

/// Makes `version` (or `latest`) the served version when it passes the gate, or anyway with
/// `force` (recorded). The pointer moves atomically; the step is logged after it.
pub fn promote(
    bucket: &LocalBucket,
    version: &str,
    force: bool,
    who: &str,
) -> Result<Promotion, PromoteError> {
    let version = resolve(bucket, version)?;
    let serving = models::serving(bucket)?;
    if serving.as_deref() == Some(version.as_str()) {
        return Err(PromoteError::AlreadyServing(version));
    }
    // Loadable before anything moves: a damaged candidate is refused, never served.
    let candidate = load(bucket, &version)?;
    let report = match &serving {
        Some(served) => Some(evaluate(bucket, &load(bucket, served)?, &candidate)),
        None => None,
    };
    if let Some(r) = &report
        && !r.passed
        && !force
    {
        return Err(PromoteError::Refused {
            version,
            report: Box::new(r.clone()),
        });
    }
    let forced = report.as_ref().is_some_and(|r| !r.passed);
    models::set_serving(bucket, &version)?;
    let promotion = Promotion {
        at: Utc::now(),
        who: who.to_owned(),
        action: ServingChange::Promote,
        from: serving,
        to: version,
        gate: report,
        forced,
        drift_baseline: None,
    };
    models::append_history(bucket, &promotion)?;
    Ok(promotion)
}

/// Serves again the version served before the current one was promoted (no gate: it
/// served before). Rolling back twice goes back twice, not back and forth: a version served
/// again by a rollback rolls back to what served before it was first promoted.
pub fn rollback(bucket: &LocalBucket, who: &str) -> Result<Promotion, PromoteError> {
    let serving = models::serving(bucket)?.ok_or(PromoteError::NothingServes)?;
    let previous = models::history(bucket)?
        .into_iter()
        .rev()
        .find(|p| p.to == serving && p.action != ServingChange::Rollback)
        .and_then(|p| p.from)
        .ok_or_else(|| PromoteError::NoPrevious(serving.clone()))?;
    load(bucket, &previous)?;
    models::set_serving(bucket, &previous)?;
    let promotion = Promotion {
        at: Utc::now(),
        who: who.to_owned(),
        action: ServingChange::Rollback,
        from: Some(serving),
        to: previous,
        gate: None,
        forced: false,
        drift_baseline: None,
    };
    models::append_history(bucket, &promotion)?;
    Ok(promotion)
}
