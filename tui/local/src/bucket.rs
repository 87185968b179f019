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

use crate::files::refuse_links_within;

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

    /// The file of the object `key`: a regular file inside the bucket, reached through no
    /// symbolic link. A directory or nothing is no object (NotFound, as S3 says); a FIFO,
    /// socket or device is refused before it is opened (opening a FIFO blocks until a writer
    /// comes, forever, with the thread that opened it).
    pub fn object_file(&self, key: &str) -> Result<PathBuf, FetchError> {
        let path = self.path_of(key).map_err(FetchError::Unreadable)?;
        refuse_links_within(&self.root, &path)
            .map_err(|e| FetchError::Unreadable(format!("key {key:?}: {e}")))?;
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(meta) if meta.is_dir() => Err(FetchError::NotFound),
            Ok(_) => Err(FetchError::Unreadable(format!(
                "{} is not a regular file (a FIFO, socket or device): not an object",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(FetchError::NotFound),
            Err(e) => Err(FetchError::Unreadable(format!("{}: {e}", path.display()))),
        }
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
        let path = self.object_file(key)?;
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
