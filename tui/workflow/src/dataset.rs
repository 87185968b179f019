//! The staged dataset's formats, read one way everywhere: the labels CSV of a labelled image
//! folder (`split,filename,label`), SageMaker's `.lst` files (`index \t label \t path`) that
//! the bucket holds for each split, and the rule for an image's file name (it becomes the last
//! segment of an object key). `scones stage`, `scones eval`, the model's loaders and both
//! backends' ground truth go through here.

use std::path::{Path, PathBuf};

use crate::class::Class;

/// A labelled set in the bucket: a .lst file and the prefix its paths are relative to (the
/// test split, or the held-out set a drift baseline's outputs come from).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabelledSet {
    /// The .lst file (`index \t label \t path`).
    pub lst_key: String,
    /// The prefix of its images (`test/`).
    pub image_prefix: String,
}

/// A row of a labels CSV as written (`split,filename,label,...`; extra columns ignored).
#[derive(Debug, serde::Deserialize)]
struct CsvRow {
    split: String,
    filename: String,
    label: String,
}

/// One checked row of a labels CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRow {
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    /// `train` or `test`.
    pub split: String,
    /// The image's file name inside `<root>/<split>/`.
    pub filename: String,
    /// Its class.
    pub label: Class,
}

/// Why a labels CSV cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    /// The file cannot be read or a row is malformed.
    #[error("{}: {reason}", path.display())]
    Unreadable {
        /// The CSV.
        path: PathBuf,
        /// What is wrong (line number included).
        reason: String,
    },
    /// A file name that could reach outside the split's folder, or is not a plain name.
    #[error("{}:{line}: file name {name:?} {reason}", path.display())]
    BadFileName {
        /// The CSV.
        path: PathBuf,
        /// The line.
        line: usize,
        /// The name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The same file listed twice in one split.
    #[error("{}:{line}: {split}/{name} is listed twice", path.display())]
    Duplicate {
        /// The CSV.
        path: PathBuf,
        /// The line of the second listing.
        line: usize,
        /// The split.
        split: String,
        /// The file name.
        name: String,
    },
}

/// Why `name` cannot be an image file name inside a split folder (and so an object key):
/// empty, `.`/`..`, hidden, or holding a path separator, tab, newline or NUL.
pub fn file_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name == "." || name == ".." {
        return Some("is not a file name");
    }
    if name.contains(['/', '\\', '\0', '\t', '\n', '\r']) {
        return Some("contains a path separator, tab, newline or NUL");
    }
    if name.starts_with('.') {
        return Some("is hidden (starts with '.')");
    }
    None
}

/// A labels file of a million images is ~40 MB; anything larger is not a labels file.
pub const MAX_LABELS_BYTES: u64 = 64 << 20;

/// Reads and checks a labels CSV: the one reader of the format, used by `scones stage` and
/// `scones eval` alike. Every row must name the `train` or `test` split, a plain file name
/// ([`file_name_problem`]) and the label 0 or 1, and no file may be listed twice in a split.
pub fn read_labels(path: &Path) -> Result<Vec<LabelRow>, LabelsError> {
    let unreadable = |line: usize, reason: String| LabelsError::Unreadable {
        path: path.to_path_buf(),
        reason: if line == 0 {
            reason
        } else {
            format!("line {line}: {reason}")
        },
    };
    // Bounded, regular files only: `--labels /dev/zero` or a directory is a clear error.
    let bytes = crate::input::read_bounded(path, MAX_LABELS_BYTES).map_err(|e| {
        LabelsError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, row) in reader.deserialize::<CsvRow>().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| unreadable(line, e.to_string()))?;
        let split = row.split.trim().to_owned();
        if split != "train" && split != "test" {
            return Err(unreadable(
                line,
                format!("split {:?} is not train or test", row.split),
            ));
        }
        let label = match row.label.trim() {
            "0" => Class::Bicycle,
            "1" => Class::Motorcycle,
            other => {
                return Err(unreadable(
                    line,
                    format!("label {other:?} is not 0 (bicycle) or 1 (motorcycle)"),
                ));
            }
        };
        let filename = row.filename.trim().to_owned();
        if let Some(reason) = file_name_problem(&filename) {
            return Err(LabelsError::BadFileName {
                path: path.to_path_buf(),
                line,
                name: filename,
                reason,
            });
        }
        if !seen.insert((split.clone(), filename.clone())) {
            return Err(LabelsError::Duplicate {
                path: path.to_path_buf(),
                line,
                split,
                name: filename,
            });
        }
        rows.push(LabelRow {
            line,
            split,
            filename,
            label,
        });
    }
    Ok(rows)
}

/// One line of a SageMaker `.lst` file: `index \t label \t path`, the path relative to the
/// split's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct LstEntry {
    /// Unique index.
    pub index: u64,
    /// The class.
    pub label: Class,
    /// File name inside `train/` or `test/`.
    pub path: String,
}

impl LstEntry {
    /// The line as written (label as an integer; no newline).
    pub fn to_line(&self) -> String {
        format!("{}\t{}\t{}", self.index, self.label.index(), self.path)
    }
}

/// Why a `.lst` file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LstError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses a `.lst` file's text. Labels may be written as integers or floats (`1` or
/// `1.000000`), as SageMaker accepts both; paths must be plain file names
/// ([`file_name_problem`]); blank lines are skipped.
pub fn parse_lst(text: &str) -> Result<Vec<LstEntry>, LstError> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |reason: String| LstError {
            line: i + 1,
            reason,
        };
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [index, label, file] = fields.as_slice() else {
            return Err(bad(format!(
                "expected 3 tab-separated fields, found {}",
                fields.len()
            )));
        };
        let index: u64 = index
            .trim()
            .parse()
            .map_err(|e| bad(format!("index {index:?}: {e}")))?;
        let label_value: f64 = label
            .trim()
            .parse()
            .map_err(|e| bad(format!("label {label:?}: {e}")))?;
        let label = if label_value == 0.0 {
            Class::Bicycle
        } else if label_value == 1.0 {
            Class::Motorcycle
        } else {
            return Err(bad(format!("label {label:?} is not 0 or 1")));
        };
        let file = file.trim();
        if let Some(reason) = file_name_problem(file) {
            return Err(bad(format!("file name {file:?} {reason}")));
        }
        entries.push(LstEntry {
            index,
            label,
            path: file.to_owned(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lst_lines_parse_and_write_back() {
        let text = "0\t0\tbicycle_s_000513.png\n\n1\t1.000000\tmotorcycle_s_000001.png\n";
        let entries = parse_lst(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].label, Class::Motorcycle);
        assert_eq!(entries[1].to_line(), "1\t1\tmotorcycle_s_000001.png");
        let again = parse_lst(&entries[0].to_line()).unwrap();
        assert_eq!(again[0], entries[0]);
    }

    #[test]
    fn bad_lst_lines_name_their_line() {
        for (text, line) in [
            ("0\t0\ta.png\nnot a line\n", 2),
            ("x\t0\ta.png\n", 1),
            ("0\t2\ta.png\n", 1),
            ("0\t0\t../etc/passwd\n", 1),
            ("0\t0\t.hidden\n", 1),
        ] {
            assert_eq!(parse_lst(text).unwrap_err().line, line, "{text:?}");
        }
    }

    fn csv(text: &str) -> Result<Vec<LabelRow>, LabelsError> {
        // A directory of its own, removed on drop (a shared one was left behind by every run).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.csv");
        std::fs::write(&path, text).unwrap();
        read_labels(&path)
    }

    #[test]
    fn the_labels_csv_refuses_what_stage_refuses() {
        let ok = csv("split,filename,label\ntrain,a.png,0\ntest,a.png,1\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].label, Class::Motorcycle);
        assert!(matches!(
            csv("split,filename,label\ntest,a.png,0\ntest,a.png,0\n"),
            Err(LabelsError::Duplicate { line: 3, .. })
        ));
        for name in ["../x.png", "/etc/passwd", ".hidden", ""] {
            let text = format!("split,filename,label\ntest,{name},0\n");
            assert!(
                matches!(
                    csv(&text),
                    Err(LabelsError::BadFileName { .. }) | Err(LabelsError::Unreadable { .. })
                ),
                "{name:?}"
            );
        }
        assert!(matches!(
            csv("split,filename,label\nvalid,a.png,0\n"),
            Err(LabelsError::Unreadable { .. })
        ));
        assert!(matches!(
            csv("split,filename,label\ntest,a.png,7\n"),
            Err(LabelsError::Unreadable { .. })
        ));
        // A directory or a device is named as such, not read as an empty or endless file.
        let dir = tempfile::tempdir().unwrap();
        let message = read_labels(dir.path()).unwrap_err().to_string();
        assert!(message.contains("is a directory"), "{message}");
        let message = read_labels(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(message.contains("not a regular file"), "{message}");
    }
}
