//! The local bucket: a directory laid out like the workflow's S3 bucket.
//!
//! ```text
//! bucket/
//!   train/<file>.png  test/<file>.png   the staged images
//!   train.lst  test.lst                  SageMaker .lst files: index \t label \t path
//!   staged.json                          what was staged, from where (see `stage`)
//!   SYNTHETIC_DATA.txt                   present only when the data is synthetic
//!   models/                              trained models (see `training`)
//!   datacapture/<endpoint>/AllTraffic/YYYY/MM/DD/HH/*.jsonl
//! ```
//!
//! Object keys map to paths below the bucket directory; keys that could escape it
//! (`..`, absolute, empty segments) are refused, and so are symbolic links below the bucket's
//! directory (a link could point anywhere; S3 has no links).

use std::io::Read;
use std::path::{Path, PathBuf};

use scones_handlers::{FetchError, ObjectStore};

/// The bucket name the local workflow uses in `s3_bucket`.
pub const LOCAL_BUCKET_NAME: &str = "scones-local";

/// A directory standing in for the S3 bucket.
#[derive(Debug, Clone)]
pub struct LocalBucket {
    name: String,
    root: PathBuf,
}

impl LocalBucket {
    /// The bucket stored at `root`, named [`LOCAL_BUCKET_NAME`].
    pub fn new(root: impl Into<PathBuf>) -> LocalBucket {
        LocalBucket {
            name: LOCAL_BUCKET_NAME.to_owned(),
            root: root.into(),
        }
    }

    /// The bucket name executions put in `s3_bucket`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bucket's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where trained models live.
    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    /// Where data capture files live.
    pub fn datacapture_dir(&self) -> PathBuf {
        self.root.join("datacapture")
    }

    /// The file of `key`, or why no object can have that key here.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, String> {
        if key.is_empty() {
            return Err("the key is empty".into());
        }
        let mut path = self.root.clone();
        for segment in key.split('/') {
            match segment {
                "" => return Err(format!("key {key:?} has an empty path segment")),
                "." | ".." => return Err(format!("key {key:?} has a {segment:?} segment")),
                s if s.contains(['\\', '\0']) => {
                    return Err(format!("key {key:?} has a backslash or NUL byte"));
                }
                s => path.push(s),
            }
        }
        Ok(path)
    }

    /// The keys of the test images listed in `test.lst` (`test/<path>`), in file order.
    pub fn test_keys(&self) -> Result<Vec<String>, crate::stage::StageError> {
        let entries = crate::stage::read_lst(&self.root.join("test.lst"))?;
        Ok(entries
            .into_iter()
            .map(|e| format!("test/{}", e.path))
            .collect())
    }
}

/// Refuses `path` (below `base`, which is trusted) when it or a folder between them is a
/// symbolic link. A missing part ends the check: nothing is there to reach.
pub fn refuse_links_within(base: &Path, path: &Path) -> std::io::Result<()> {
    let relative = path.strip_prefix(base).map_err(|_| {
        std::io::Error::other(format!(
            "{} is not inside {}",
            path.display(),
            base.display()
        ))
    })?;
    let mut at = base.to_path_buf();
    for part in relative.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link: scones reads, writes and deletes nothing through links",
                    at.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates `dir` (below `base`, which is trusted) and its missing parents below `base`,
/// refusing any that is a symbolic link or not a directory: nothing scones writes may be
/// reached through a link (a link inside the home could point anywhere).
pub fn create_dir_within(base: &Path, dir: &Path) -> std::io::Result<()> {
    let relative = dir.strip_prefix(base).map_err(|_| {
        std::io::Error::other(format!(
            "{} is not inside {}",
            dir.display(),
            base.display()
        ))
    })?;
    let mut path = base.to_path_buf();
    for part in relative.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link: scones writes nothing through links",
                    path.display()
                )));
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&path) {
                    Ok(()) => {}
                    // Another process made it meanwhile: checked again on the next part.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl ObjectStore for LocalBucket {
    /// Reads the file. A plain blocking read on purpose: objects are a few KB, so a read
    /// from the page cache costs microseconds, far less than a `spawn_blocking` hop.
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        if bucket != self.name {
            return Err(FetchError::Unreadable(format!(
                "NoSuchBucket: the local stack has only the bucket {:?}",
                self.name
            )));
        }
        let path = self.path_of(key).map_err(FetchError::Unreadable)?;
        // The local bucket serves only files inside it.
        refuse_links_within(&self.root, &path)
            .map_err(|e| FetchError::Unreadable(format!("key {key:?}: {e}")))?;
        // Only a regular file is an object: opening a FIFO would block until a writer
        // came (forever, with the runtime's thread), and a device or socket is no image.
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => return Err(FetchError::NotFound),
            Ok(meta) if !meta.is_file() => {
                return Err(FetchError::Unreadable(format!(
                    "{} is not a regular file (a FIFO, socket or device): not an object",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FetchError::NotFound);
            }
            Err(e) => return Err(FetchError::Unreadable(format!("{}: {e}", path.display()))),
        }
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FetchError::NotFound);
            }
            Err(e) => return Err(FetchError::Unreadable(format!("{}: {e}", path.display()))),
        };
        let meta = file
            .metadata()
            .map_err(|e| FetchError::Unreadable(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            // S3 has no directories: a prefix is not an object.
            return Err(FetchError::NotFound);
        }
        if meta.len() > max_bytes as u64 {
            return Err(FetchError::TooLarge { size: meta.len() });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // `take` guards against a file that grew since the size check.
        file.take(max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| FetchError::Unreadable(format!("{}: {e}", path.display())))?;
        if bytes.len() > max_bytes {
            return Err(FetchError::TooLarge {
                size: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket() -> (tempfile::TempDir, LocalBucket) {
        let tmp = tempfile::tempdir().unwrap();
        let b = LocalBucket::new(tmp.path());
        std::fs::create_dir_all(tmp.path().join("test")).unwrap();
        std::fs::write(tmp.path().join("test/a.png"), b"12345").unwrap();
        (tmp, b)
    }

    #[tokio::test]
    async fn reads_objects_and_reports_missing_ones() {
        let (_tmp, b) = bucket();
        assert_eq!(
            b.get_object(LOCAL_BUCKET_NAME, "test/a.png", 100).await,
            Ok(b"12345".to_vec())
        );
        assert_eq!(
            b.get_object(LOCAL_BUCKET_NAME, "test/b.png", 100).await,
            Err(FetchError::NotFound)
        );
        assert_eq!(
            b.get_object(LOCAL_BUCKET_NAME, "test", 100).await,
            Err(FetchError::NotFound)
        );
    }

    #[tokio::test]
    async fn refuses_symbolic_links_out_of_the_bucket() {
        let (tmp, b) = bucket();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.png"), b"secret").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.png"),
            tmp.path().join("test/link.png"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("elsewhere")).unwrap();
        for key in ["test/link.png", "elsewhere/secret.png"] {
            let r = b.get_object(LOCAL_BUCKET_NAME, key, 100).await;
            assert!(
                matches!(&r, Err(FetchError::Unreadable(m)) if m.contains("symbolic link")),
                "{key}: {r:?}"
            );
        }
        assert_eq!(
            b.get_object(LOCAL_BUCKET_NAME, "test/a.png", 100).await,
            Ok(b"12345".to_vec())
        );
    }

    /// A FIFO where an image should be is refused before it is opened: opening it would
    /// block the thread until a writer came, for good (issue 27: the execution stayed
    /// RUNNING and Ctrl-C did nothing). Read on its own thread so that a hang fails.
    #[test]
    fn refuses_a_fifo_without_opening_it() {
        let (tmp, b) = bucket();
        let fifo = tmp.path().join("test/pipe.png");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let read =
                futures::executor::block_on(b.get_object(LOCAL_BUCKET_NAME, "test/pipe.png", 100));
            let _ = tx.send(read);
        });
        let read = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("answered at once, not blocked on the FIFO");
        assert!(
            matches!(&read, Err(FetchError::Unreadable(m)) if m.contains("not a regular file")),
            "{read:?}"
        );
    }

    #[tokio::test]
    async fn enforces_the_size_limit_before_reading() {
        let (_tmp, b) = bucket();
        assert_eq!(
            b.get_object(LOCAL_BUCKET_NAME, "test/a.png", 4).await,
            Err(FetchError::TooLarge { size: 5 })
        );
    }

    #[tokio::test]
    async fn refuses_other_buckets_and_escaping_keys() {
        let (_tmp, b) = bucket();
        let other = b.get_object("another-bucket", "test/a.png", 100).await;
        assert!(
            matches!(&other, Err(FetchError::Unreadable(m)) if m.contains("NoSuchBucket")),
            "{other:?}"
        );
        for key in [
            "../x",
            "test/../test/a.png",
            "/etc/passwd",
            "test//a.png",
            "a\\b",
            "",
        ] {
            let r = b.get_object(LOCAL_BUCKET_NAME, key, 100).await;
            assert!(
                matches!(r, Err(FetchError::Unreadable(_))),
                "{key:?}: {r:?}"
            );
        }
    }
}
