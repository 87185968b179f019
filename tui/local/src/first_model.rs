//! A home's first model, trained on a thread of its own while the dashboard is already open.
//!
//! The first dashboard of a fresh clone would otherwise wait the whole training (about a
//! minute on two cores) before drawing anything. Until the model is saved, the local endpoint
//! is what SageMaker calls `Creating` — the dashboard says so with the time left — and a test
//! execution is refused with the same words; once the model serves, the stack opens on the
//! next execution as it does after `scones train --local`.
//!
//! Quitting while it trains ends the thread with the process: the model is saved, and made
//! to serve, only after the last epoch, so nothing serves and the next start trains again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scones_model::TrainConfig;

use crate::bucket::LocalBucket;
use crate::training::{self, TrainOptions};

/// Where the training stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FirstModelStatus {
    /// Training: epochs done of all, and the time left if an epoch has finished to tell.
    Training {
        /// Epochs finished.
        epoch: usize,
        /// Epochs in all.
        epochs: usize,
        /// Estimated from the epochs so far.
        left: Option<Duration>,
    },
    /// The last epoch is done; the model is being measured and saved.
    Saving,
    /// It serves.
    Done,
    /// Training failed (the message says why).
    Failed(String),
}

impl FirstModelStatus {
    /// What an operator reads: in the dashboard's header and when a test execution is refused.
    pub fn describe(&self) -> String {
        match self {
            FirstModelStatus::Training {
                epoch,
                epochs,
                left,
            } => {
                let left = left.map_or_else(
                    || "estimating the time left".to_owned(),
                    |l| format!("about {} s left", l.as_secs().max(1)),
                );
                format!("the model is training (epoch {epoch}/{epochs}), {left}")
            }
            FirstModelStatus::Saving => "the model is trained and being saved".to_owned(),
            FirstModelStatus::Done => "the model serves".to_owned(),
            FirstModelStatus::Failed(why) => format!(
                "training the first model failed: {why} (run `scones train --local` to see it)"
            ),
        }
    }
}

/// The first model's training, started with [`FirstModel::start`].
#[derive(Debug)]
pub struct FirstModel {
    status: Mutex<FirstModelStatus>,
}

impl FirstModel {
    /// Trains `config` on the staged data of `bucket` in the background (the model serves
    /// when it is saved: it is the home's first).
    pub fn start(
        bucket: LocalBucket,
        config: TrainConfig,
        options: TrainOptions,
    ) -> std::io::Result<Arc<FirstModel>> {
        let first = Arc::new(FirstModel {
            status: Mutex::new(FirstModelStatus::Training {
                epoch: 0,
                epochs: config.epochs,
                left: None,
            }),
        });
        let reporter = Arc::clone(&first);
        std::thread::Builder::new()
            .name("first-model".into())
            .spawn(move || {
                let started = Instant::now();
                let trained = training::train_staged(&bucket, &config, &options, |report| {
                    let per_epoch = started.elapsed() / report.epoch.max(1) as u32;
                    let remaining = report.epochs.saturating_sub(report.epoch) as u32;
                    reporter.set(if remaining == 0 {
                        FirstModelStatus::Saving
                    } else {
                        FirstModelStatus::Training {
                            epoch: report.epoch,
                            epochs: report.epochs,
                            left: Some(per_epoch * remaining),
                        }
                    });
                });
                match trained {
                    Ok(trained) => {
                        tracing::info!(version = %trained.version.version, "the first model serves");
                        reporter.set(FirstModelStatus::Done);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "training the first model failed");
                        reporter.set(FirstModelStatus::Failed(e.to_string()));
                    }
                }
            })?;
        Ok(first)
    }

    /// Where it stands now.
    pub fn status(&self) -> FirstModelStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, status: FirstModelStatus) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }
}
