//! The inference vector `[p_bicycle, p_motorcycle]`, validated.

use crate::error::HandlerError;
use crate::record::json_kind;

/// How far the two probabilities may sum from 1. The SageMaker algorithm computes a float32
/// softmax and prints it with limited digits, so exact equality would reject real answers.
pub const SUM_TOLERANCE: f64 = 1e-3;

/// Two class probabilities that are finite, within [0, 1] and sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Probability of bicycle.
    pub p_bicycle: f64,
    /// Probability of motorcycle.
    pub p_motorcycle: f64,
}

impl Scores {
    /// Validates a vector as two probabilities.
    pub fn from_slice(values: &[f64]) -> Result<Self, HandlerError> {
        let [p_bicycle, p_motorcycle] = values else {
            return Err(HandlerError::malformed(format!(
                "expected 2 probabilities [p_bicycle, p_motorcycle], got {} value(s){}",
                values.len(),
                if values.is_empty() {
                    " (has the record passed ClassifyImage?)"
                } else {
                    ""
                }
            )));
        };
        for (name, p) in [("p_bicycle", p_bicycle), ("p_motorcycle", p_motorcycle)] {
            if !p.is_finite() {
                return Err(HandlerError::malformed(format!("{name} is {p}")));
            }
            if !(0.0..=1.0).contains(p) {
                return Err(HandlerError::malformed(format!(
                    "{name} = {p} is not a probability (outside [0, 1])"
                )));
            }
        }
        let sum = p_bicycle + p_motorcycle;
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(HandlerError::malformed(format!(
                "probabilities sum to {sum}, not 1 (p_bicycle={p_bicycle}, p_motorcycle={p_motorcycle})"
            )));
        }
        Ok(Scores {
            p_bicycle: *p_bicycle,
            p_motorcycle: *p_motorcycle,
        })
    }

    /// Parses the body the SageMaker image-classification algorithm returns: a JSON array of
    /// class probabilities, e.g. `[0.0312, 0.9688]`.
    pub fn from_endpoint_body(body: &[u8]) -> Result<Self, HandlerError> {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|err| {
            HandlerError::malformed(format!(
                "the endpoint answered {} bytes that are not JSON ({err}): {}",
                body.len(),
                preview(body)
            ))
        })?;
        let serde_json::Value::Array(items) = &value else {
            return Err(HandlerError::malformed(format!(
                "the endpoint answered {}, not an array of probabilities: {}",
                json_kind(&value),
                preview(body)
            )));
        };
        let numbers = items
            .iter()
            .map(|item| {
                item.as_f64().ok_or_else(|| {
                    HandlerError::malformed(format!(
                        "the endpoint's array holds {}, not only numbers: {}",
                        json_kind(item),
                        preview(body)
                    ))
                })
            })
            .collect::<Result<Vec<f64>, _>>()?;
        Scores::from_slice(&numbers)
    }

    /// The larger probability: the model's confidence in its prediction.
    pub fn max(&self) -> f64 {
        self.p_bicycle.max(self.p_motorcycle)
    }

    /// The predicted class name (ties go to bicycle, class 0, as argmax does).
    pub fn predicted_class(&self) -> &'static str {
        if self.p_motorcycle > self.p_bicycle {
            crate::CLASSES[1]
        } else {
            crate::CLASSES[0]
        }
    }

    /// `[p_bicycle, p_motorcycle]`, the record's `inferences`.
    pub fn to_vec(&self) -> Vec<f64> {
        vec![self.p_bicycle, self.p_motorcycle]
    }
}

/// The start of a response body for an error message, never more than 80 characters.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(80)]);
    if body.len() > 80 {
        format!("{text:?}...")
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_float32_softmax_rounding() {
        let scores = Scores::from_endpoint_body(b"[0.9999997, 3.1e-07]").unwrap();
        assert_eq!(scores.predicted_class(), "bicycle");
        assert!((scores.max() - 0.9999997).abs() < 1e-12);
    }

    #[test]
    fn error_messages_quote_a_bounded_preview_of_the_body() {
        let body = vec![b'x'; 10_000];
        let message = Scores::from_endpoint_body(&body).unwrap_err().to_string();
        assert!(message.contains("10000 bytes"));
        assert!(message.len() < 300, "{message}");
    }
}
