//! Scoring a classifier on a labelled image set: accuracy, per-class precision and recall,
//! and the confusion matrix.

use std::fmt;

use crate::ModelError;
use crate::classifier::{Classifier, predicted_index};
use crate::data::{Class, LabeledImage, RgbImage};

/// Metrics of one class.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClassMetrics {
    /// The class.
    pub class: Class,
    /// Of the images predicted as this class, the fraction that are; `None` (JSON `null`,
    /// printed `-`) when none was predicted as it: 0/0 is no score, and 0 would read as
    /// "every such prediction was wrong".
    pub precision: Option<f64>,
    /// Of the images of this class, the fraction predicted as it; `None` when none present.
    pub recall: Option<f64>,
    /// Images of this class in the set.
    pub support: usize,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Images scored.
    pub total: usize,
    /// Fraction predicted correctly (0 for an empty set).
    pub accuracy: f64,
    /// Precision/recall per class, in label order.
    pub per_class: [ClassMetrics; 2],
    /// `confusion[actual][predicted]` counts, in label order.
    pub confusion: [[usize; 2]; 2],
}

impl Evaluation {
    /// Builds the metrics from `(actual, predicted)` label indices (each 0 or 1).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Class, Class)>) -> Evaluation {
        let mut confusion = [[0usize; 2]; 2];
        for (actual, predicted) in pairs {
            confusion[actual.index()][predicted.index()] += 1;
        }
        let total: usize = confusion.iter().flatten().sum();
        let correct = confusion[0][0] + confusion[1][1];
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        let metrics = |class: Class| {
            let k = class.index();
            let predicted_as_k = confusion[0][k] + confusion[1][k];
            let actual_k = confusion[k][0] + confusion[k][1];
            ClassMetrics {
                class,
                precision: ratio(confusion[k][k], predicted_as_k),
                recall: ratio(confusion[k][k], actual_k),
                support: actual_k,
            }
        };
        Evaluation {
            total,
            accuracy: ratio(correct, total).unwrap_or(0.0),
            per_class: [metrics(Class::Bicycle), metrics(Class::Motorcycle)],
            confusion,
        }
    }
}

/// Predicts every image and compares with its label.
pub fn evaluate(
    classifier: &Classifier,
    images: &[LabeledImage],
) -> Result<Evaluation, ModelError> {
    let decoded: Vec<RgbImage> = images.iter().map(|i| i.image.clone()).collect();
    let predictions = classifier.predict_batch(&decoded)?;
    Ok(Evaluation::from_pairs(images.iter().zip(&predictions).map(
        |(example, probs)| {
            let predicted = if predicted_index(probs) == 0 {
                Class::Bicycle
            } else {
                Class::Motorcycle
            };
            (example.label, predicted)
        },
    )))
}

impl Evaluation {
    /// The precision/recall table per class and the confusion matrix, a line each row (what
    /// every report of an evaluation shows between its header and its accuracy line).
    pub fn write_tables(&self, f: &mut impl fmt::Write) -> fmt::Result {
        writeln!(
            f,
            "{:<12} {:>9} {:>9} {:>9}",
            "class", "precision", "recall", "support"
        )?;
        let score = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        for m in &self.per_class {
            writeln!(
                f,
                "{:<12} {:>9} {:>9} {:>9}",
                m.class.name(),
                score(m.precision),
                score(m.recall),
                m.support
            )?;
        }
        writeln!(f, "confusion (rows actual, columns predicted):")?;
        writeln!(f, "{:<12} {:>10} {:>10}", "", "bicycle", "motorcycle")?;
        for class in Class::ALL {
            let row = self.confusion[class.index()];
            writeln!(f, "{:<12} {:>10} {:>10}", class.name(), row[0], row[1])?;
        }
        Ok(())
    }
}

impl fmt::Display for Evaluation {
    /// A human-readable report; the last line is always `accuracy: 0.xxx`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "images: {}", self.total)?;
        self.write_tables(f)?;
        write!(f, "accuracy: {:.3}", self.accuracy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Class::{Bicycle as B, Motorcycle as M};

    #[test]
    fn metrics_from_a_known_confusion_matrix() {
        // 3 bicycles (2 right), 2 motorcycles (1 right).
        let eval = Evaluation::from_pairs([(B, B), (B, B), (B, M), (M, M), (M, B)]);
        assert_eq!(eval.total, 5);
        assert_eq!(eval.confusion, [[2, 1], [1, 1]]);
        assert!((eval.accuracy - 0.6).abs() < 1e-12);
        assert!((eval.per_class[0].precision.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((eval.per_class[0].recall.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((eval.per_class[1].precision.unwrap() - 0.5).abs() < 1e-12);
        assert!((eval.per_class[1].recall.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(eval.per_class[1].support, 2);
    }

    #[test]
    fn empty_set_has_zero_metrics_and_no_nan() {
        let eval = Evaluation::from_pairs([]);
        assert_eq!(eval.accuracy, 0.0);
        assert_eq!(eval.per_class[0].precision, None);
        assert!(eval.to_string().ends_with("accuracy: 0.000"));
        // Nothing predicted as motorcycle: its precision is undefined, printed "-".
        let eval = Evaluation::from_pairs([(B, B), (M, B)]);
        assert_eq!(eval.per_class[1].precision, None);
        assert_eq!(eval.per_class[1].recall, Some(0.0));
        let text = eval.to_string();
        let row = text.lines().find(|l| l.starts_with("motorcycle")).unwrap();
        assert_eq!(row.split_whitespace().nth(1), Some("-"), "{text}");
    }

    #[test]
    fn report_ends_with_accuracy_line() {
        let eval = Evaluation::from_pairs([(B, B), (M, B), (M, M)]);
        let text = eval.to_string();
        assert!(text.ends_with("accuracy: 0.667"), "{text}");
        assert!(
            text.contains("confusion (rows actual, columns predicted)"),
            "{text}"
        );
        // The matrix itself: actual motorcycles, 1 predicted bicycle and 1 motorcycle.
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["motorcycle", "1", "1"]),
            "{text}"
        );
    }
}
