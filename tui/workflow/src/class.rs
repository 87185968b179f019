//! The two classes the workflow tells apart, in the order of the inference vector
//! `[p_bicycle, p_motorcycle]` and of the `.lst`/CSV labels (0, 1): defined once for the
//! model, the handlers, the store's ground truth and the quality measures.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Bicycle (label 0) or motorcycle (label 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Label 0.
    Bicycle,
    /// Label 1.
    Motorcycle,
}

impl Class {
    /// Both, in label order.
    pub const ALL: [Class; 2] = [Class::Bicycle, Class::Motorcycle];

    /// `bicycle` / `motorcycle`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Bicycle => "bicycle",
            Class::Motorcycle => "motorcycle",
        }
    }

    /// The numeric label, also the index into a probability vector.
    pub fn index(self) -> usize {
        match self {
            Class::Bicycle => 0,
            Class::Motorcycle => 1,
        }
    }

    /// The other class.
    pub fn other(self) -> Class {
        match self {
            Class::Bicycle => Class::Motorcycle,
            Class::Motorcycle => Class::Bicycle,
        }
    }

    /// The class of a numeric label; `None` for anything but 0 and 1.
    pub fn from_index(index: i64) -> Option<Class> {
        match index {
            0 => Some(Class::Bicycle),
            1 => Some(Class::Motorcycle),
            _ => None,
        }
    }

    /// The predicted class of `[p_bicycle, p_motorcycle]` (ties go to bicycle, as argmax).
    pub fn predicted(scores: [f64; 2]) -> Class {
        if scores[1] > scores[0] {
            Class::Motorcycle
        } else {
            Class::Bicycle
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
