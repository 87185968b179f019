//! Reading a labelled PNG folder: `<dir>/train/*.png`, `<dir>/test/*.png` and a CSV with at
//! least the columns `split`, `filename`, `label` (the layout of `shared/data/cifar100-bikes`).
//! Labels come from the CSV only, never from file names.

use std::collections::HashSet;
use std::path::Path;

use super::{Split, StageError, StagedImage};
use crate::progress::Progress;

#[derive(Debug, serde::Deserialize)]
struct Row {
    split: String,
    filename: String,
    label: String,
}

pub(crate) fn read_folder(
    dir: &Path,
    labels: &Path,
    progress: &dyn Progress,
) -> Result<Vec<StagedImage>, StageError> {
    let labels_error = |line: usize, reason: String| StageError::Labels {
        path: labels.to_path_buf(),
        reason: if line == 0 {
            reason
        } else {
            format!("line {line}: {reason}")
        },
    };
    let mut reader = csv::Reader::from_path(labels).map_err(|e| labels_error(0, e.to_string()))?;
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        // The header is line 1.
        let line = i + 2;
        let row = row.map_err(|e| labels_error(line, e.to_string()))?;
        let split = Split::parse(row.split.trim()).ok_or_else(|| {
            labels_error(line, format!("split {:?} is not train or test", row.split))
        })?;
        let label = match row.label.trim() {
            "0" => 0u8,
            "1" => 1u8,
            other => {
                return Err(labels_error(
                    line,
                    format!("label {other:?} is not 0 (bicycle) or 1 (motorcycle)"),
                ));
            }
        };
        let filename = row.filename.trim().to_owned();
        super::check_file_name(&format!("{}:{line}", labels.display()), &filename)?;
        rows.push((split, filename, label));
    }
    let mut seen = HashSet::new();
    for (split, filename, _) in &rows {
        if !seen.insert((*split, filename.clone())) {
            return Err(StageError::DuplicateImage {
                source_name: labels.display().to_string(),
                split: split.as_str(),
                name: filename.clone(),
            });
        }
    }
    progress.begin("reading images", Some(rows.len() as u64));
    let mut images = Vec::with_capacity(rows.len());
    for (split, filename, label) in rows {
        let path = dir.join(split.as_str()).join(&filename);
        let png = std::fs::read(&path).map_err(|e| StageError::io(&path, e))?;
        super::check_png(&png).map_err(|reason| StageError::CorruptImage {
            path: path.clone(),
            reason,
        })?;
        images.push(StagedImage {
            split,
            filename,
            label,
            png,
        });
        progress.advance(1);
    }
    progress.end();
    Ok(images)
}
