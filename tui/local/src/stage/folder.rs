//! Reading a labelled PNG folder: `<dir>/train/*.png`, `<dir>/test/*.png` and a CSV with at
//! least the columns `split`, `filename`, `label` (the layout of `shared/data/cifar100-bikes`).
//! Labels come from the CSV only, never from file names.

use std::path::Path;

use scones_model::LabelsError;

use super::{Split, StageError, StagedImage};
use crate::progress::Progress;

pub(crate) fn read_folder(
    dir: &Path,
    labels: &Path,
    progress: &dyn Progress,
) -> Result<Vec<StagedImage>, StageError> {
    let source_name = labels.display().to_string();
    let rows = scones_model::read_labels(labels).map_err(|e| match e {
        LabelsError::Unreadable { path, reason } => StageError::Labels { path, reason },
        LabelsError::BadFileName {
            line, name, reason, ..
        } => StageError::BadFileName {
            source_name: format!("{source_name}:{line}"),
            name,
            reason: reason.to_owned(),
        },
        LabelsError::Duplicate { split, name, .. } => StageError::DuplicateImage {
            source_name: source_name.clone(),
            split: if split == "train" { "train" } else { "test" },
            name,
        },
    })?;
    // The reader admits only train and test.
    let rows: Vec<(Split, String, u8)> = rows
        .into_iter()
        .filter_map(|r| Some((Split::parse(&r.split)?, r.filename, r.label.index() as u8)))
        .collect();
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
