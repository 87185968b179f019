//! Configuration read from the Lambda environment.

use scones_handlers::{ConfigError, Threshold};

/// `THRESHOLD`, default 0.93; set but unusable is an error, never a silent default.
pub fn threshold() -> Result<Threshold, ConfigError> {
    threshold_from(std::env::var("THRESHOLD").ok().as_deref())
}

fn threshold_from(value: Option<&str>) -> Result<Threshold, ConfigError> {
    match value {
        None => Ok(Threshold::DEFAULT),
        Some(text) => text.parse(),
    }
}

/// A variable that must be set and non-empty, e.g. `ENDPOINT_NAME`.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing { name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_defaults_only_when_unset() {
        assert_eq!(threshold_from(None).unwrap(), Threshold::DEFAULT);
        assert_eq!(threshold_from(Some("0.8")).unwrap().value(), 0.8);
        assert!(threshold_from(Some("")).is_err());
        assert!(threshold_from(Some("high")).is_err());
    }
}
