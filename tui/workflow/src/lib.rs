//! `scones-workflow`: the scones domain model, each idea defined once and used by the engine,
//! the store, both backends, the handlers, the CLI and the dashboard.
//!
//! - [`status`]: the execution status and its rules (final? redrivable? a name this build
//!   does not know?);
//! - [`history`]: the `GetExecutionHistory` event: written by the local engine, kept by the
//!   store, read back by both backends through one reader;
//! - [`capture`]: SageMaker's data-capture record, one writer and one reader;
//! - [`cause`]: the `LowConfidence` cause and the filter's decision log line, each writer
//!   next to its parser;
//! - [`metric`]: the names of SageMaker's endpoint metrics, which the local endpoint records
//!   and CloudWatch serves;
//! - [`class`]: the two classes, in the order of the inference vector;
//! - [`definition`]: the one workflow definition and its template variables;
//! - [`dataset`]: the staged dataset's formats (labels CSV, `.lst`, file names);
//! - [`drift`]: drift statistics (PSI, Kolmogorov-Smirnov) of captured traffic against a
//!   baseline saved with the model, with OK / WARN / ALERT verdicts;
//! - [`quality`]: decision quality (coverage, accepted accuracy, calibration, the
//!   risk-coverage table, a threshold from a target accuracy);
//! - [`port`]: the [`port::Backend`] trait the dashboard and `scones run` talk to, and the
//!   types it speaks; implemented by `scones-local` and `scones-aws`;
//! - the control loop: [`guard`] (hold decisions on drift ALERT), [`review`] (people's
//!   labels and the queue, one record format on both backends) and [`models`] (versions,
//!   their measures and the promotion gate);
//! - [`run`]: `scones run` over that port, one runner for both backends;
//! - [`threshold`]: the confidence threshold, the setting every decision is taken at;
//! - [`image`] and [`limits`]: the bounded PNG decoding the workflow's images go through (and
//!   their drift statistics), and the payload limits that bound them.
//!
//! No AWS SDK, no terminal, no model code (its one codec is `image`'s PNG decoder, which the
//! serialize step needs anyway): this crate is small enough for the Lambda binaries to link.

pub mod capture;
pub mod cause;
pub mod class;
pub mod dataset;
pub mod definition;
pub mod drift;
pub mod guard;
pub mod history;
pub mod image;
pub mod input;
pub mod limits;
pub mod metric;
pub mod models;
pub mod port;
pub mod quality;
pub mod review;
pub mod run;
pub mod status;
pub mod threshold;

pub use status::ExecutionStatus;
pub use threshold::Threshold;
