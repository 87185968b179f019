//! Writing the staged layout into the bucket (temp dir + renames) and reading it back.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Split, StageError, StagedImage};
use crate::bucket::LocalBucket;
use crate::progress::Progress;

/// The manifest written into the bucket after a successful stage.
pub const MANIFEST_FILE: &str = "staged.json";
/// Present in the bucket only when the staged data is synthetic.
pub const SYNTHETIC_MARKER: &str = "SYNTHETIC_DATA.txt";
/// Prefix of temporary directories inside the bucket (removed by the next stage if a
/// previous one was killed).
const STAGING_PREFIX: &str = ".staging-";

/// Images per class in a split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// Label 0.
    pub bicycle: usize,
    /// Label 1.
    pub motorcycle: usize,
}

impl ClassCounts {
    /// Both classes together.
    pub fn total(&self) -> usize {
        self.bicycle + self.motorcycle
    }
}

/// What is staged in the bucket (`staged.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageManifest {
    /// Human-readable description of the source.
    pub source: String,
    /// When it was staged (RFC 3339, UTC).
    pub staged_at: String,
    /// True when the images are generated, not CIFAR-100.
    pub synthetic: bool,
    /// Why synthetic data was used (only when `synthetic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic_reason: Option<String>,
    /// Images in `train/`.
    pub train: ClassCounts,
    /// Images in `test/`.
    pub test: ClassCounts,
}

/// A line of a `.lst` file (the domain model's reader and writer).
pub use scones_workflow::dataset::LstEntry;

/// Reads a `.lst` file ([`scones_workflow::dataset::parse_lst`]: integer or float labels,
/// plain file names).
pub fn read_lst(path: &Path) -> Result<Vec<LstEntry>, StageError> {
    let text = std::fs::read_to_string(path).map_err(|e| StageError::io(path, e))?;
    scones_workflow::dataset::parse_lst(&text).map_err(|e| StageError::Lst {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads `staged.json`; `Ok(None)` when nothing is staged.
pub fn read_manifest(bucket: &LocalBucket) -> Result<Option<StageManifest>, StageError> {
    let path = bucket.root().join(MANIFEST_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StageError::Lst {
                path,
                reason: format!("not a stage manifest: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StageError::io(path, e)),
    }
}

/// Writes the images, `.lst` files and manifest into a temporary directory in the bucket,
/// then renames them into place. The manifest is moved away first and back last, so an
/// interrupted swap reads as "not staged" rather than as a mix passed off as complete.
pub(super) fn write(
    bucket: &LocalBucket,
    images: &[StagedImage],
    description: &str,
    synthetic_reason: Option<String>,
    progress: &dyn Progress,
) -> Result<StageManifest, StageError> {
    let root = bucket.root();
    std::fs::create_dir_all(root).map_err(|e| StageError::io(root, e))?;
    remove_stale_staging_dirs(root)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let staging = root.join(format!("{STAGING_PREFIX}{id}"));
    let result = write_staging(&staging, images, description, synthetic_reason, progress)
        .and_then(|manifest| swap_into_place(root, &staging, &id).map(|()| manifest));
    // Best effort: on success it is empty already; on failure it holds the partial copy.
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn write_staging(
    staging: &Path,
    images: &[StagedImage],
    description: &str,
    synthetic_reason: Option<String>,
    progress: &dyn Progress,
) -> Result<StageManifest, StageError> {
    let mut manifest = StageManifest {
        source: description.to_owned(),
        staged_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        synthetic: synthetic_reason.is_some(),
        synthetic_reason: synthetic_reason.clone(),
        train: ClassCounts::default(),
        test: ClassCounts::default(),
    };
    progress.begin("writing images", Some(images.len() as u64));
    for split in [Split::Train, Split::Test] {
        let dir = staging.join(split.as_str());
        std::fs::create_dir_all(&dir).map_err(|e| StageError::io(&dir, e))?;
        let mut in_split: Vec<&StagedImage> = images.iter().filter(|i| i.split == split).collect();
        in_split.sort_by(|a, b| a.filename.cmp(&b.filename));
        let mut lst = String::new();
        for (index, image) in in_split.iter().enumerate() {
            let path = dir.join(&image.filename);
            std::fs::write(&path, &image.png).map_err(|e| StageError::io(&path, e))?;
            let line = LstEntry {
                index: index as u64,
                label: image.class(),
                path: image.filename.clone(),
            }
            .to_line();
            lst.push_str(&line);
            lst.push('\n');
            let counts = match split {
                Split::Train => &mut manifest.train,
                Split::Test => &mut manifest.test,
            };
            if image.label == 0 {
                counts.bicycle += 1;
            } else {
                counts.motorcycle += 1;
            }
            progress.advance(1);
        }
        let lst_path = staging.join(format!("{}.lst", split.as_str()));
        std::fs::write(&lst_path, lst).map_err(|e| StageError::io(&lst_path, e))?;
    }
    progress.end();
    if let Some(reason) = &synthetic_reason {
        let marker = staging.join(SYNTHETIC_MARKER);
        let text = format!(
            "THE IMAGES IN THIS BUCKET ARE SYNTHETIC, NOT CIFAR-100.\n\n{reason}\n\n\
             Accuracy and confidence numbers obtained on them say nothing about the real task.\n\
             Stage real data with `scones stage --local --cifar PATH` or `--images DIR --labels CSV`.\n"
        );
        std::fs::write(&marker, text).map_err(|e| StageError::io(&marker, e))?;
    }
    let manifest_path = staging.join(super::MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| StageError::Lst {
        path: manifest_path.clone(),
        reason: e.to_string(),
    })?;
    let mut file =
        std::fs::File::create(&manifest_path).map_err(|e| StageError::io(&manifest_path, e))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(|e| StageError::io(&manifest_path, e))?;
    Ok(manifest)
}

/// The entries a stage owns in the bucket, in swap order: manifest first, so it is absent
/// while the others are exchanged.
const STAGED_ENTRIES: [&str; 6] = [
    MANIFEST_FILE,
    SYNTHETIC_MARKER,
    "train",
    "test",
    "train.lst",
    "test.lst",
];

fn swap_into_place(root: &Path, staging: &Path, id: &str) -> Result<(), StageError> {
    let old = root.join(format!("{STAGING_PREFIX}{id}.old"));
    std::fs::create_dir_all(&old).map_err(|e| StageError::io(&old, e))?;
    for name in STAGED_ENTRIES {
        let current = root.join(name);
        if current.symlink_metadata().is_ok() {
            std::fs::rename(&current, old.join(name)).map_err(|e| StageError::io(&current, e))?;
        }
    }
    // Manifest last: it is the "staging is complete" mark.
    for name in STAGED_ENTRIES.iter().rev() {
        let new = staging.join(name);
        if new.symlink_metadata().is_ok() {
            let target = root.join(name);
            std::fs::rename(&new, &target).map_err(|e| StageError::io(&target, e))?;
        }
    }
    std::fs::remove_dir_all(&old).map_err(|e| StageError::io(&old, e))
}

fn remove_stale_staging_dirs(root: &Path) -> Result<(), StageError> {
    let entries = std::fs::read_dir(root).map_err(|e| StageError::io(root, e))?;
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
        {
            let path: PathBuf = entry.path();
            std::fs::remove_dir_all(&path).map_err(|e| StageError::io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lst_accepts_integer_and_float_labels_and_rejects_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.lst");
        std::fs::write(&p, "0\t0\ta.png\n1\t1.000000\tb.png\n").unwrap();
        let e = read_lst(&p).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[1].index, e[1].label, e[1].path.as_str()),
            (1, scones_workflow::class::Class::Motorcycle, "b.png")
        );
        for bad in [
            "0\t2\ta.png\n",
            "0 0 a.png\n",
            "x\t0\ta.png\n",
            "0\t0\t../a.png\n",
        ] {
            std::fs::write(&p, bad).unwrap();
            assert!(read_lst(&p).is_err(), "{bad:?}");
        }
    }
}
