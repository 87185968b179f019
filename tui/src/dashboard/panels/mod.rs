//! The tabs, in order. A new tab is its own module here and one line in [`all`] (and its key
//! in the key table, `keymap::BINDINGS`).

pub mod capture;
pub mod drift;
pub mod executions;
pub mod logs;
pub mod low_confidence;
pub mod metrics;
pub mod models;
pub mod quality;
pub mod review;

use crate::dashboard::action::View;
use crate::dashboard::panel::Tab;

/// Every tab, in tab order (the number keys follow it).
pub fn all() -> Vec<Box<dyn Tab>> {
    vec![
        Box::new(executions::ExecutionsPanel::default()),
        Box::new(metrics::MetricsPanel::default()),
        Box::new(low_confidence::LowConfidencePanel::default()),
        Box::new(capture::CapturePanel::default()),
        Box::new(logs::LogsPanel::default()),
        Box::new(quality::QualityPanel::default()),
        Box::new(drift::DriftPanel::default()),
        Box::new(review::ReviewPanel::default()),
        Box::new(models::ModelsPanel::default()),
    ]
}

/// The first tab (where Esc from any other tab goes).
pub fn first() -> View {
    executions::VIEW
}
