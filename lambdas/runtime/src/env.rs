//! Configuration read from the Lambda environment.

use scones_handlers::ConfigError;
use scones_workflow::Threshold;

/// `THRESHOLD`, default 0.93; set but unusable is an error, never a silent default.
pub fn threshold() -> Result<Threshold, ConfigError> {
    threshold_from(std::env::var("THRESHOLD").ok().as_deref())
}

fn threshold_from(value: Option<&str>) -> Result<Threshold, ConfigError> {
    match value {
        None => Ok(Threshold::DEFAULT),
        Some(text) => Ok(text.parse()?),
    }
}

/// A variable that must be set and non-empty, e.g. `ENDPOINT_NAME`.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing { name }),
    }
}

/// A variable parsed with `FromStr`, `default` when unset; set but unparsable is an error.
pub fn parsed_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    parse_or(name, std::env::var(name).ok().as_deref(), default)
}

fn parse_or<T>(name: &'static str, value: Option<&str>, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                value: text.to_owned(),
                reason: e.to_string(),
            }),
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

    #[test]
    fn parsed_settings_default_only_when_unset() {
        assert_eq!(parse_or("N", None, 6usize), Ok(6));
        assert_eq!(parse_or("N", Some(" 4 "), 6usize), Ok(4));
        let err = parse_or("N", Some("six"), 6usize).unwrap_err();
        assert!(err.to_string().contains("N cannot be \"six\""), "{err}");
    }
}
