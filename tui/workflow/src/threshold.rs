//! The confidence threshold of the FilterLowConfidence step: configuration on both backends
//! (`THRESHOLD` in the function's environment on AWS, a flag or `settings.json` locally), and
//! what every quality and drift computation is taken at.

use std::fmt;
use std::str::FromStr;

/// Why a value cannot be a threshold. The message names `THRESHOLD`, the setting it comes
/// from on AWS; a Lambda binary fails at init with it rather than failing every invocation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("THRESHOLD must be a number in (0, 1], e.g. 0.93; got {value:?}: {reason}")]
pub struct ThresholdError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The Terraform variable that sets the threshold on AWS (it becomes the filter function's
/// `THRESHOLD`): every message that tells an operator how to change it names this one, and a
/// test checks that `terraform/variables.tf` declares it.
pub const TERRAFORM_VARIABLE: &str = "confidence_threshold";

/// The minimum confidence (max of the two probabilities) an image needs to pass
/// FilterLowConfidence. Always within (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Threshold(f64);

impl Threshold {
    /// The workflow's default, 0.93.
    pub const DEFAULT: Threshold = Threshold(0.93);

    /// The threshold `value`, refused unless it is a finite number in (0, 1].
    pub fn new(value: f64) -> Result<Self, ThresholdError> {
        let invalid = |reason: &str| ThresholdError {
            value: value.to_string(),
            reason: reason.to_owned(),
        };
        if !value.is_finite() {
            return Err(invalid("not a finite number"));
        }
        if value <= 0.0 || value > 1.0 {
            return Err(invalid("outside (0, 1]"));
        }
        Ok(Threshold(value))
    }

    /// The number.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The command that makes it the deployed stack's (run in `terraform/`).
    pub fn terraform_apply(self) -> String {
        format!("terraform apply -var {TERRAFORM_VARIABLE}={:.2}", self.0)
    }
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::DEFAULT
    }
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value: f64 = text.trim().parse().map_err(|err| ThresholdError {
            value: text.to_owned(),
            reason: format!("{err}"),
        })?;
        Threshold::new(value).map_err(|err| ThresholdError {
            value: text.to_owned(),
            reason: err.reason,
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_thresholds() {
        assert_eq!("0.93".parse::<Threshold>().unwrap().value(), 0.93);
        assert_eq!(" 1 ".parse::<Threshold>().unwrap().value(), 1.0);
        assert_eq!(Threshold::default(), Threshold::DEFAULT);
    }

    #[test]
    fn refuses_unusable_thresholds_with_the_value_in_the_message() {
        for text in ["", "abc", "0", "-0.5", "1.01", "NaN", "inf", "93%"] {
            let err = text.parse::<Threshold>().unwrap_err();
            assert_eq!(err.value, text, "{text:?} gave {err:?}");
            assert!(
                err.to_string()
                    .starts_with("THRESHOLD must be a number in (0, 1]")
            );
        }
    }
}
