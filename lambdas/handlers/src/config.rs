//! Handler configuration that comes from the environment (AWS) or flags (local).

use scones_workflow::threshold::ThresholdError;

/// A configuration value that cannot be used. Lambda binaries fail at init with this message
/// rather than failing every invocation later.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The threshold is not a number in (0, 1].
    #[error(transparent)]
    InvalidThreshold(#[from] ThresholdError),
    /// A setting is set to something unusable.
    #[error("{name} cannot be {value:?}: {reason}")]
    Invalid {
        /// The environment variable.
        name: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required setting is unset or empty.
    #[error("{name} must be set to a non-empty value")]
    Missing {
        /// The environment variable.
        name: &'static str,
    },
}
