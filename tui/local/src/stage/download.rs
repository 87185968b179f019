//! Downloading the CIFAR-100 python archive into the user cache, with progress and an MD5
//! check. The file is written under a temporary name and renamed only once its checksum
//! matches, so the cache never holds a partial or corrupt archive under the real name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

use crate::progress::Progress;

/// The official location of the archive.
pub const CIFAR100_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz";
/// Its published MD5.
pub const CIFAR100_MD5: &str = "eb9058c3a382ffc7106e4002c42a8d85";

/// Where to download from, and the MD5 the file must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSource {
    /// HTTP(S) URL; its last path segment is the cached file name.
    pub url: String,
    /// Lower-case hex MD5.
    pub md5: String,
}

impl DownloadSource {
    /// The official CIFAR-100 python archive.
    pub fn official() -> DownloadSource {
        DownloadSource {
            url: CIFAR100_URL.to_owned(),
            md5: CIFAR100_MD5.to_owned(),
        }
    }

    fn file_name(&self) -> String {
        self.url
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty() && !s.starts_with('.'))
            .unwrap_or("download.tar.gz")
            .to_owned()
    }
}

/// Why the archive could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server could not be reached or did not hand out the file (no network, DNS,
    /// proxy refusal, HTTP error status). This is what "offline" means for staging.
    #[error("cannot download {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The file arrived but its MD5 is wrong; it was discarded.
    #[error(
        "downloaded {url} but its MD5 is {actual}, expected {expected}; the file was discarded"
    )]
    Checksum {
        /// The URL.
        url: String,
        /// Published MD5.
        expected: String,
        /// MD5 of what arrived.
        actual: String,
    },
    /// Writing the cache failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl DownloadError {
    /// True when the failure means "no network / no such file there", for which staging
    /// falls back to synthetic data; false for failures that must be fixed (checksum, disk).
    pub fn is_offline(&self) -> bool {
        matches!(self, DownloadError::Unreachable { .. })
    }
}

/// Returns the path of the archive in `cache_dir`, downloading it unless an intact copy is
/// already there.
pub fn fetch_archive(
    source: &DownloadSource,
    cache_dir: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf, DownloadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DownloadError::Io { path, source }
    };
    std::fs::create_dir_all(cache_dir).map_err(io(cache_dir))?;
    let target = cache_dir.join(source.file_name());
    if target.is_file() {
        progress.begin("checking cached archive", None);
        let cached = md5_of_file(&target).map_err(io(&target))?;
        progress.end();
        if cached.eq_ignore_ascii_case(&source.md5) {
            return Ok(target);
        }
        tracing::warn!(path = %target.display(), "cached archive has the wrong MD5; downloading again");
        std::fs::remove_file(&target).map_err(io(&target))?;
    }

    let unreachable = |reason: String| DownloadError::Unreachable {
        url: source.url.clone(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(30)))
        .build()
        .into();
    let response = agent
        .get(&source.url)
        .call()
        .map_err(|e| unreachable(e.to_string()))?;
    let total = response.body().content_length();
    let mut body = response.into_body().into_reader();

    let part = cache_dir.join(format!(
        ".{}.part-{}",
        source.file_name(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&part).map_err(io(&part))?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 256 * 1024];
        progress.begin("downloading CIFAR-100", total);
        loop {
            let n = body
                .read(&mut buf)
                .map_err(|e| unreachable(format!("connection lost: {e}")))?;
            if n == 0 {
                break;
            }
            let chunk = buf.get(..n).unwrap_or_default();
            hasher.update(chunk);
            file.write_all(chunk).map_err(io(&part))?;
            progress.advance(n as u64);
        }
        progress.end();
        file.sync_all().map_err(io(&part))?;
        let actual = hex::encode(hasher.finalize());
        if !actual.eq_ignore_ascii_case(&source.md5) {
            return Err(DownloadError::Checksum {
                url: source.url.clone(),
                expected: source.md5.clone(),
                actual,
            });
        }
        std::fs::rename(&part, &target).map_err(io(&target))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result.map(|()| target)
}

fn md5_of_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(hasher.finalize()))
}
