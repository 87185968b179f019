//! `scones-local`: the whole scones workflow on one machine, no AWS account needed.
//!
//! - [`Home`]: the one directory holding all local state (`--home`, `SCONES_HOME`, or the XDG
//!   data dir), created on first use.
//! - [`LocalBucket`]: a directory laid out like the S3 bucket (`train/`, `test/`, `train.lst`,
//!   `test.lst`, `models/`, `datacapture/`); it is the handlers' [`scones_handlers::ObjectStore`].
//! - [`stage`]: fills the bucket from the CIFAR-100 archive, a labelled PNG folder, a download,
//!   or (offline, loudly) a synthetic dataset.
//! - [`training`]: trains the CPU model on the staged train split and keeps it under `models/`.
//! - [`endpoint`]: the local endpoint (PNG -> `[p_bicycle, p_motorcycle]`) with SageMaker-style
//!   metrics and data capture; it is the handlers' [`scones_handlers::Endpoint`].
//! - [`store`]: the SQLite execution store shared by processes (executions, history, metrics).
//! - [`runner`]: [`LocalStack`] runs the one workflow definition on the local engine with the
//!   real handlers, persisting every execution as it happens.
//! - [`backend`]: [`LocalBackend`], the local stack behind the port the dashboard and
//!   `scones run` talk to ([`scones_workflow::port::Backend`]).

pub mod backend;
pub mod bucket;
pub mod drift;
pub mod endpoint;
pub mod files;
pub mod first_model;
pub mod guard;
pub mod home;
pub mod models;
pub mod perturb;
pub mod progress;
pub mod promotion;
pub mod review;
pub mod runner;
pub mod settings;
pub mod stage;
pub mod store;
pub mod training;
pub mod workflow;

pub use backend::{LocalBackend, LocalBackendError, LocalOptions};
pub use bucket::{LOCAL_BUCKET_NAME, LocalBucket};
pub use home::{HOME_ENV, Home, HomeError};
pub use progress::{NoProgress, Progress};
pub use runner::{LocalStack, StackError, StackOptions, StartedExecution};
pub use settings::{Settings, SettingsError};
pub use store::{Store, StoreError, StoreWriter};
