//! `scones stage --aws`: put the staged bucket layout (`train/`, `test/`, `train.lst`,
//! `test.lst`, as written by `scones stage`) into an S3 bucket, skipping objects that are
//! already there unchanged.
//!
//! "Unchanged" means same size and same MD5. A single-part upload's ETag is its MD5 on
//! unencrypted and SSE-S3 buckets, so most objects are decided from the listing alone. On
//! SSE-KMS buckets (the Terraform bucket) the ETag is not the MD5; every upload therefore
//! also records the MD5 in the object's `x-amz-meta-scones-md5`, and objects whose size
//! matches but whose ETag does not are decided with one HEAD request each.
//!
//! Only the layout is uploaded: `models/` and `datacapture/` of a local bucket stay local.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use base64::Engine;
use futures::StreamExt;
use md5::{Digest, Md5};

/// The index files of the layout.
pub const LIST_FILES: [&str; 2] = ["train.lst", "test.lst"];
/// The image directories of the layout.
pub const IMAGE_DIRS: [&str; 2] = ["train", "test"];
/// User metadata key (S3 lower-cases it) holding the hex MD5 of what was uploaded.
pub const MD5_METADATA_KEY: &str = "scones-md5";

/// Why staging stopped. Nothing already uploaded is lost: a re-run skips it.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The source directory is not a staged layout.
    #[error(
        "{} is not a staged bucket layout: {missing} is missing (run `scones stage` first)",
        source_dir.display()
    )]
    MissingLayout {
        /// The directory given.
        source_dir: PathBuf,
        /// What is missing.
        missing: String,
    },
    /// A local file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        #[source]
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file name that cannot become an S3 key.
    #[error("{}: the path is not valid UTF-8, so it cannot be an S3 key", path.display())]
    NonUtf8Path {
        /// The file or directory.
        path: PathBuf,
    },
    /// Listing the bucket failed (missing bucket, no permission, no network).
    #[error("listing s3://{bucket}/{prefix} failed: {message}")]
    List {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
        /// What the service said.
        message: String,
        #[source]
        /// The underlying error.
        source: Box<aws_sdk_s3::Error>,
    },
    /// Reading an object's metadata failed.
    #[error("reading the metadata of s3://{bucket}/{key} failed: {message}")]
    Head {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What the service said.
        message: String,
        #[source]
        /// The underlying error.
        source: Box<aws_sdk_s3::Error>,
    },
    /// An upload failed.
    #[error("uploading {} to s3://{bucket}/{key} failed: {message}", path.display())]
    Upload {
        /// The file or directory.
        path: PathBuf,
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What the service said.
        message: String,
        #[source]
        /// The underlying error.
        source: Box<aws_sdk_s3::Error>,
    },
}

/// One file of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalObject {
    /// The S3 key (`train/bicycle_s_000513.png`, `train.lst`).
    pub key: String,
    /// Where the file is.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// MD5 digest of the content.
    pub md5: [u8; 16],
}

impl LocalObject {
    /// The MD5 as lower-case hex, the form ETags and the metadata use.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }
}

/// What the listing says about an object already in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: Option<String>,
}

/// Why an object is uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadReason {
    /// Not in the bucket.
    Missing,
    /// In the bucket with another size.
    SizeDiffers,
    /// Same size, other content (MD5 from ETag or metadata differs, or is unknown).
    ContentDiffers,
}

/// The decision for one object from the listing alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingDecision {
    /// Identical: leave it.
    Skip,
    /// Upload it.
    Upload(UploadReason),
    /// Same size but the ETag is not the MD5 (SSE-KMS, multipart): the metadata decides.
    CheckMetadata,
}

/// Decides from the listing: size first, then ETag against the MD5.
pub fn decide_from_listing(local: &LocalObject, remote: Option<&RemoteObject>) -> ListingDecision {
    let Some(remote) = remote else {
        return ListingDecision::Upload(UploadReason::Missing);
    };
    if remote.size != local.size {
        return ListingDecision::Upload(UploadReason::SizeDiffers);
    }
    match &remote.etag {
        Some(etag) if etag.eq_ignore_ascii_case(&local.md5_hex()) => ListingDecision::Skip,
        _ => ListingDecision::CheckMetadata,
    }
}

/// Decides a [`ListingDecision::CheckMetadata`] object from its `scones-md5` metadata.
pub fn decide_from_metadata(local: &LocalObject, metadata_md5: Option<&str>) -> ListingDecision {
    match metadata_md5 {
        Some(md5) if md5.eq_ignore_ascii_case(&local.md5_hex()) => ListingDecision::Skip,
        _ => ListingDecision::Upload(UploadReason::ContentDiffers),
    }
}

/// Checks that `source_dir` has the layout's .lst files and image directories, without
/// reading them (a quick check before any AWS call).
pub fn check_layout(source_dir: &Path) -> Result<(), StageError> {
    let missing = |what: String| StageError::MissingLayout {
        source_dir: source_dir.to_path_buf(),
        missing: what,
    };
    for name in LIST_FILES {
        if !source_dir.join(name).is_file() {
            return Err(missing(name.to_owned()));
        }
    }
    for name in IMAGE_DIRS {
        if !source_dir.join(name).is_dir() {
            return Err(missing(format!("{name}/")));
        }
    }
    Ok(())
}

/// Reads the layout under `source_dir`: the two .lst files and every file under `train/`
/// and `test/` (recursively; names starting with `.` are left out), sorted by key.
pub fn scan_layout(source_dir: &Path) -> Result<Vec<LocalObject>, StageError> {
    check_layout(source_dir)?;

    let mut objects = Vec::new();
    for name in LIST_FILES {
        objects.push(read_object(source_dir, &source_dir.join(name))?);
    }
    for name in IMAGE_DIRS {
        let mut pending = vec![source_dir.join(name)];
        while let Some(dir) = pending.pop() {
            let io = |source| StageError::Io {
                path: dir.clone(),
                source,
            };
            for entry in std::fs::read_dir(&dir).map_err(io)? {
                let entry = entry.map_err(io)?;
                let path = entry.path();
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                // metadata() follows symlinks, so a linked data directory works.
                let metadata = std::fs::metadata(&path).map_err(|source| StageError::Io {
                    path: path.clone(),
                    source,
                })?;
                if metadata.is_dir() {
                    pending.push(path);
                } else if metadata.is_file() {
                    objects.push(read_object(source_dir, &path)?);
                }
            }
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(objects)
}

fn read_object(source_dir: &Path, path: &Path) -> Result<LocalObject, StageError> {
    let relative = path.strip_prefix(source_dir).unwrap_or(path);
    let mut parts = Vec::new();
    for component in relative.components() {
        let part = component
            .as_os_str()
            .to_str()
            .ok_or_else(|| StageError::NonUtf8Path {
                path: path.to_path_buf(),
            })?;
        parts.push(part);
    }
    let io = |source| StageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Md5::new();
    let mut buffer = [0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok(LocalObject {
        key: parts.join("/"),
        path: path.to_path_buf(),
        size,
        md5: hasher.finalize().into(),
    })
}

/// How to stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageOptions {
    /// Requests in flight at once (HEADs and uploads).
    pub concurrency: usize,
    /// Decide but upload nothing.
    pub dry_run: bool,
}

impl Default for StageOptions {
    fn default() -> Self {
        StageOptions {
            concurrency: 16,
            dry_run: false,
        }
    }
}

/// Progress of [`stage_to_s3`], for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageEvent {
    /// The local layout was read.
    Scanned {
        /// Files found.
        files: usize,
        /// Their size in bytes.
        bytes: u64,
    },
    /// The bucket was compared: `upload` objects (`upload_bytes`) will be sent, `skip` are
    /// already there.
    Planned {
        /// Objects to upload.
        upload: usize,
        /// Their size in bytes.
        upload_bytes: u64,
        /// Objects already there.
        skip: usize,
    },
    /// One object was uploaded.
    Uploaded {
        /// The key.
        key: String,
        /// Their size in bytes.
        bytes: u64,
    },
}

/// What [`stage_to_s3`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageReport {
    /// Keys uploaded (or, in a dry run, that would be), sorted.
    pub uploaded: Vec<String>,
    /// Objects left alone because they were already there unchanged.
    pub skipped: usize,
    /// Bytes uploaded (or that would be).
    pub bytes_uploaded: u64,
}

/// Stages `source_dir` into `bucket`: scans the layout, compares it with the bucket and
/// uploads what is missing or different. `on_event` sees the progress.
pub async fn stage_to_s3(
    s3: &aws_sdk_s3::Client,
    source_dir: &Path,
    bucket: &str,
    options: &StageOptions,
    on_event: &(dyn Fn(StageEvent) + Send + Sync),
) -> Result<StageReport, StageError> {
    let dir = source_dir.to_path_buf();
    let objects = tokio::task::spawn_blocking(move || scan_layout(&dir))
        .await
        .map_err(|join| StageError::Io {
            path: source_dir.to_path_buf(),
            source: std::io::Error::other(join),
        })??;
    on_event(StageEvent::Scanned {
        files: objects.len(),
        bytes: objects.iter().map(|o| o.size).sum(),
    });

    let to_upload = plan_uploads(s3, bucket, objects, options.concurrency.max(1)).await?;
    let (to_upload, skipped) = to_upload;
    let upload_bytes = to_upload.iter().map(|o| o.size).sum();
    on_event(StageEvent::Planned {
        upload: to_upload.len(),
        upload_bytes,
        skip: skipped,
    });

    let mut report = StageReport {
        uploaded: Vec::with_capacity(to_upload.len()),
        skipped,
        bytes_uploaded: 0,
    };
    if options.dry_run {
        report.uploaded = to_upload.into_iter().map(|o| o.key).collect();
        report.bytes_uploaded = upload_bytes;
        return Ok(report);
    }

    let mut uploads = futures::stream::iter(to_upload)
        .map(|object| async move { upload(s3, bucket, object).await })
        .buffer_unordered(options.concurrency.max(1));
    while let Some(done) = uploads.next().await {
        let object = done?;
        report.bytes_uploaded += object.size;
        on_event(StageEvent::Uploaded {
            key: object.key.clone(),
            bytes: object.size,
        });
        report.uploaded.push(object.key);
    }
    report.uploaded.sort();
    Ok(report)
}

/// Splits `objects` into those to upload and a count of those to skip.
async fn plan_uploads(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: Vec<LocalObject>,
    concurrency: usize,
) -> Result<(Vec<LocalObject>, usize), StageError> {
    let mut remote = HashMap::new();
    for prefix in IMAGE_DIRS
        .iter()
        .map(|d| format!("{d}/"))
        .chain(LIST_FILES.iter().map(|f| f.to_string()))
    {
        list_into(s3, bucket, &prefix, &mut remote).await?;
    }

    let mut upload = Vec::new();
    let mut check = Vec::new();
    let mut skipped = 0;
    for object in objects {
        match decide_from_listing(&object, remote.get(&object.key)) {
            ListingDecision::Skip => skipped += 1,
            ListingDecision::Upload(_) => upload.push(object),
            ListingDecision::CheckMetadata => check.push(object),
        }
    }

    let mut checks = futures::stream::iter(check)
        .map(|object| async move {
            let md5 = metadata_md5(s3, bucket, &object.key).await?;
            Ok::<_, StageError>((decide_from_metadata(&object, md5.as_deref()), object))
        })
        .buffer_unordered(concurrency);
    while let Some(checked) = checks.next().await {
        match checked? {
            (ListingDecision::Skip, _) => skipped += 1,
            (_, object) => upload.push(object),
        }
    }
    upload.sort_by(|a, b| a.key.cmp(&b.key));
    Ok((upload, skipped))
}

async fn list_into(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    into: &mut HashMap<String, RemoteObject>,
) -> Result<(), StageError> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| StageError::List {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            message: DisplayErrorContext(&err).to_string(),
            source: Box::new(err.into()),
        })?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            into.insert(
                key.to_owned(),
                RemoteObject {
                    size: object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0),
                    etag: object.e_tag().map(|e| e.trim_matches('"').to_owned()),
                },
            );
        }
    }
    Ok(())
}

async fn metadata_md5(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, StageError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => Ok(head
            .metadata()
            .and_then(|m| m.get(MD5_METADATA_KEY))
            .cloned()),
        // Deleted since the listing: upload it.
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(err) => Err(StageError::Head {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: DisplayErrorContext(&err).to_string(),
            source: Box::new(err.into()),
        }),
    }
}

async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    object: LocalObject,
) -> Result<LocalObject, StageError> {
    let body = ByteStream::from_path(&object.path)
        .await
        .map_err(|err| StageError::Io {
            path: object.path.clone(),
            source: std::io::Error::other(err),
        })?;
    let content_type = if object.key.ends_with(".png") {
        "image/png"
    } else {
        "text/plain"
    };
    s3.put_object()
        .bucket(bucket)
        .key(&object.key)
        .body(body)
        .content_length(i64::try_from(object.size).unwrap_or(i64::MAX))
        // S3 rejects the upload if the bytes it received do not hash to this.
        .content_md5(base64::engine::general_purpose::STANDARD.encode(object.md5))
        .content_type(content_type)
        .metadata(MD5_METADATA_KEY, object.md5_hex())
        .send()
        .await
        .map_err(|err| StageError::Upload {
            path: object.path.clone(),
            bucket: bucket.to_owned(),
            key: object.key.clone(),
            message: DisplayErrorContext(&err).to_string(),
            source: Box::new(err.into()),
        })?;
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(content: &[u8]) -> LocalObject {
        LocalObject {
            key: "train/a.png".into(),
            path: PathBuf::from("a.png"),
            size: content.len() as u64,
            md5: Md5::digest(content).into(),
        }
    }

    #[test]
    fn missing_and_resized_objects_are_uploaded() {
        let object = local(b"png bytes");
        assert_eq!(
            decide_from_listing(&object, None),
            ListingDecision::Upload(UploadReason::Missing)
        );
        let resized = RemoteObject {
            size: 3,
            etag: Some(object.md5_hex()),
        };
        assert_eq!(
            decide_from_listing(&object, Some(&resized)),
            ListingDecision::Upload(UploadReason::SizeDiffers)
        );
    }

    #[test]
    fn matching_etag_skips_without_a_head_request() {
        let object = local(b"png bytes");
        let same = RemoteObject {
            size: object.size,
            etag: Some(object.md5_hex().to_uppercase()),
        };
        assert_eq!(
            decide_from_listing(&object, Some(&same)),
            ListingDecision::Skip
        );
    }

    #[test]
    fn kms_etag_defers_to_the_metadata() {
        let object = local(b"png bytes");
        // An SSE-KMS ETag is not the MD5 of the content.
        let kms = RemoteObject {
            size: object.size,
            etag: Some("1b2cf535f27731c974343645a3985328".into()),
        };
        assert_eq!(
            decide_from_listing(&object, Some(&kms)),
            ListingDecision::CheckMetadata
        );
        assert_eq!(
            decide_from_metadata(&object, Some(&object.md5_hex())),
            ListingDecision::Skip
        );
        assert_eq!(
            decide_from_metadata(&object, Some("00000000000000000000000000000000")),
            ListingDecision::Upload(UploadReason::ContentDiffers)
        );
        // Uploaded by another tool: no metadata, so it cannot be proven equal.
        assert_eq!(
            decide_from_metadata(&object, None),
            ListingDecision::Upload(UploadReason::ContentDiffers)
        );
    }

    fn write(path: &Path, content: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    #[test]
    fn scan_reads_the_layout_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("train.lst"), b"0\t0\ttrain/a.png\n");
        write(&root.join("test.lst"), b"0\t1\ttest/b.png\n");
        write(&root.join("train/a.png"), b"aaaa");
        write(&root.join("train/nested/c.png"), b"cc");
        write(&root.join("train/.DS_Store"), b"x");
        write(&root.join("test/b.png"), b"bbb");
        write(&root.join("models/model.json"), b"{}");
        write(&root.join("datacapture/x.jsonl"), b"{}");

        let objects = scan_layout(root).unwrap();
        let keys: Vec<_> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "test.lst",
                "test/b.png",
                "train.lst",
                "train/a.png",
                "train/nested/c.png"
            ]
        );
        let a = objects.iter().find(|o| o.key == "train/a.png").unwrap();
        assert_eq!(a.size, 4);
        assert_eq!(a.md5_hex(), "74b87337454200d4d33f80c4663dc5e5"); // md5("aaaa")
    }

    #[test]
    fn scan_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("train.lst"), b"");
        write(&dir.path().join("test.lst"), b"");
        write(&dir.path().join("train/a.png"), b"a");
        let err = scan_layout(dir.path()).unwrap_err();
        assert!(
            matches!(&err, StageError::MissingLayout { missing, .. } if missing == "test/"),
            "{err}"
        );
        assert!(err.to_string().contains("run `scones stage` first"));

        let empty = tempfile::tempdir().unwrap();
        let err = scan_layout(empty.path()).unwrap_err();
        assert!(
            matches!(&err, StageError::MissingLayout { missing, .. } if missing == "train.lst")
        );
    }
}
