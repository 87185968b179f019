//! `scones stage --local`: fills the local bucket's `train/`, `test/`, `train.lst` and
//! `test.lst` from one of four sources ([`Source`]):
//!
//! - the CIFAR-100 python archive (`cifar-100-python.tar.gz`), keeping fine labels
//!   8 (bicycle, label 0) and 48 (motorcycle, label 1);
//! - a folder of PNGs with `train/` and `test/` and a labels CSV (`split,filename,label,...`);
//! - the official archive, downloaded (progress, MD5 check) into the user cache;
//! - a synthetic dataset, for when there is no data and no network. It is announced: the
//!   report says so, `staged.json` records it and `SYNTHETIC_DATA.txt` sits in the bucket.
//!
//! Everything is read and validated first (corrupt archives and images are reported by
//! name), written into a temporary directory inside the bucket, and only then renamed into
//! place, so a failed or interrupted stage never leaves half-written data behind.

mod cifar;
mod download;
mod folder;
mod layout;
mod synthetic;

use std::path::{Path, PathBuf};

pub use download::{CIFAR100_MD5, CIFAR100_URL, DownloadError, DownloadSource, fetch_archive};
pub use layout::{
    ClassCounts, LstEntry, MANIFEST_FILE, SYNTHETIC_MARKER, StageManifest, read_lst, read_manifest,
};
pub use synthetic::SyntheticSpec;

use crate::bucket::LocalBucket;
use crate::progress::Progress;

/// Where the data comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The CIFAR-100 python archive at this path.
    Cifar(PathBuf),
    /// A folder with `train/` and `test/` and a labels CSV (columns `split`, `filename`,
    /// `label`; others ignored), e.g. `shared/data/cifar100-bikes`.
    Images {
        /// The folder holding `train/` and `test/`.
        dir: PathBuf,
        /// The labels CSV.
        labels: PathBuf,
    },
    /// Download the archive into `cache_dir` (reused when already there and intact).
    Download {
        /// URL and checksum.
        source: DownloadSource,
        /// Directory for the cached archive.
        cache_dir: PathBuf,
    },
    /// Generated images; `reason` says why (shown to the user and kept in the manifest).
    Synthetic {
        /// Sizes and seed.
        spec: SyntheticSpec,
        /// Why synthetic data is used.
        reason: String,
    },
}

/// The two splits of the staged data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Split {
    /// `train/`: training and validation (the model holds out part of it).
    Train,
    /// `test/`: held-out evaluation only.
    Test,
}

impl Split {
    /// The directory and `.lst` name (`train`, `test`).
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    /// The split named `text` (`train`, `test`).
    pub fn parse(text: &str) -> Option<Split> {
        match text {
            "train" => Some(Split::Train),
            "test" => Some(Split::Test),
            _ => None,
        }
    }
}

/// One image to stage, already validated.
#[derive(Debug, Clone)]
pub(crate) struct StagedImage {
    pub split: Split,
    pub filename: String,
    /// 0 bicycle, 1 motorcycle.
    pub label: u8,
    pub png: Vec<u8>,
}

impl StagedImage {
    /// The image's class.
    pub fn class(&self) -> scones_workflow::class::Class {
        if self.label == 0 {
            scones_workflow::class::Class::Bicycle
        } else {
            scones_workflow::class::Class::Motorcycle
        }
    }
}

/// Why staging failed. Nothing was changed in the bucket when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The archive is not a readable gzip'd tar of CIFAR pickles.
    #[error("archive {path} is corrupt: {reason}")]
    CorruptArchive {
        /// The archive.
        path: PathBuf,
        /// What is wrong (member name included).
        reason: String,
    },
    /// The archive lacks a member the CIFAR-100 layout has.
    #[error("archive {path} has no member {member:?}: is it cifar-100-python.tar.gz?")]
    MissingArchiveMember {
        /// The archive.
        path: PathBuf,
        /// The missing member.
        member: String,
    },
    /// The labels CSV is unreadable or a row is wrong.
    #[error("labels file {path}: {reason}")]
    Labels {
        /// The CSV.
        path: PathBuf,
        /// What is wrong (line number included).
        reason: String,
    },
    /// An image listed for staging is not a decodable PNG.
    #[error("image {path} cannot be staged: {reason}")]
    CorruptImage {
        /// The image file (or `archive:member/filename`).
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// A file name that cannot be an object key in the bucket.
    #[error("{source_name}: file name {name:?} {reason}")]
    BadFileName {
        /// Where the name came from.
        source_name: String,
        /// The name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// Two images of a split have the same file name.
    #[error("{source_name}: {split}/{name} appears twice")]
    DuplicateImage {
        /// Where the names came from.
        source_name: String,
        /// The split.
        split: &'static str,
        /// The file name.
        name: String,
    },
    /// A split would be empty or hold a single class: nothing could be trained or tested.
    #[error("{source_name}: the {split} split {problem}")]
    NotEnoughImages {
        /// Where the data came from.
        source_name: String,
        /// The split.
        split: &'static str,
        /// What is missing.
        problem: String,
    },
    /// A `.lst` file is malformed.
    #[error("{path}: {reason}")]
    Lst {
        /// The file.
        path: PathBuf,
        /// What is wrong (line number included).
        reason: String,
    },
    /// Downloading the archive failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl StageError {
    /// Stable name of the variant, for logs and the dashboard.
    pub fn name(&self) -> &'static str {
        match self {
            StageError::CorruptArchive { .. } => "CorruptArchive",
            StageError::MissingArchiveMember { .. } => "MissingArchiveMember",
            StageError::Labels { .. } => "Labels",
            StageError::CorruptImage { .. } => "CorruptImage",
            StageError::BadFileName { .. } => "BadFileName",
            StageError::DuplicateImage { .. } => "DuplicateImage",
            StageError::NotEnoughImages { .. } => "NotEnoughImages",
            StageError::Lst { .. } => "Lst",
            StageError::Download(_) => "Download",
            StageError::Io { .. } => "Io",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StageError {
        StageError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Stages `source` into `bucket`, replacing previously staged data (models and data
/// capture are kept). Returns what was staged (also written to `staged.json`).
pub fn stage(
    bucket: &LocalBucket,
    source: &Source,
    progress: &dyn Progress,
) -> Result<StageManifest, StageError> {
    let (images, description, synthetic_reason) = match source {
        Source::Cifar(path) => (
            cifar::read_archive(path, progress)?,
            format!("cifar-100 archive {}", path.display()),
            None,
        ),
        Source::Images { dir, labels } => (
            folder::read_folder(dir, labels, progress)?,
            format!("images {} labels {}", dir.display(), labels.display()),
            None,
        ),
        Source::Download { source, cache_dir } => {
            let path = fetch_archive(source, cache_dir, progress)?;
            (
                cifar::read_archive(&path, progress)?,
                format!(
                    "cifar-100 archive {} (downloaded from {})",
                    path.display(),
                    source.url
                ),
                None,
            )
        }
        Source::Synthetic { spec, reason } => (
            synthetic::generate(spec),
            format!("SYNTHETIC dataset (seed {})", spec.seed),
            Some(reason.clone()),
        ),
    };
    check_splits(&description, &images)?;
    layout::write(bucket, &images, &description, synthetic_reason, progress)
}

/// Stages with no explicit source: the download, or — only when the download cannot be
/// reached (offline) — the synthetic dataset with the reason recorded. Other download
/// failures (a checksum mismatch, a full disk) are errors, never silently synthetic.
pub fn stage_default(
    bucket: &LocalBucket,
    cache_dir: &Path,
    progress: &dyn Progress,
) -> Result<StageManifest, StageError> {
    stage_with_fallback(bucket, &DownloadSource::official(), cache_dir, progress)
}

/// [`stage_default`] with another download source.
pub fn stage_with_fallback(
    bucket: &LocalBucket,
    source: &DownloadSource,
    cache_dir: &Path,
    progress: &dyn Progress,
) -> Result<StageManifest, StageError> {
    let download = Source::Download {
        source: source.clone(),
        cache_dir: cache_dir.to_path_buf(),
    };
    match stage(bucket, &download, progress) {
        Err(StageError::Download(err)) if err.is_offline() => {
            let reason = format!(
                "no --cifar or --images given and the CIFAR-100 archive could not be downloaded \
                 ({err}); these images are generated, not CIFAR-100"
            );
            let source = Source::Synthetic {
                spec: SyntheticSpec::default(),
                reason,
            };
            stage(bucket, &source, progress)
        }
        other => other,
    }
}

/// Both splits must hold both classes.
fn check_splits(source_name: &str, images: &[StagedImage]) -> Result<(), StageError> {
    for split in [Split::Train, Split::Test] {
        let mut counts = [0usize; 2];
        for image in images.iter().filter(|i| i.split == split) {
            if let Some(c) = counts.get_mut(usize::from(image.label)) {
                *c += 1;
            }
        }
        if counts[0] == 0 || counts[1] == 0 {
            return Err(StageError::NotEnoughImages {
                source_name: source_name.to_owned(),
                split: split.as_str(),
                problem: format!(
                    "has {} bicycle and {} motorcycle image(s); both classes are needed",
                    counts[0], counts[1]
                ),
            });
        }
    }
    Ok(())
}

/// Checks that `name` is usable as the last segment of an object key.
/// (The rule is the labels reader's, [`scones_model::file_name_problem`].)
pub(crate) fn check_file_name(source_name: &str, name: &str) -> Result<(), StageError> {
    match scones_model::file_name_problem(name) {
        Some(reason) => Err(StageError::BadFileName {
            source_name: source_name.to_owned(),
            name: name.to_owned(),
            reason: reason.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Decodes `png` to check it is an image the model takes (32x32, CIFAR-100's size); returns
/// what is wrong otherwise. Staging refuses the others by name rather than leave them to
/// fail training or evaluation later.
pub(crate) fn check_png(png: &[u8]) -> Result<(), String> {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    let side = scones_model::IMAGE_SIDE as u32;
    if (image.width(), image.height()) != (side, side) {
        return Err(format!(
            "it is {}x{}, the model takes {side}x{side} images (CIFAR-100's size): resize it \
             or leave it out of the labels file",
            image.width(),
            image.height()
        ));
    }
    Ok(())
}
