//! The one directory that holds all local state.
//!
//! ```text
//! <home>/
//!   bucket/          the local bucket (see `LocalBucket`)
//!   scones.sqlite3   the execution store (+ its -wal/-shm files)
//!   logs/            log files of background runs
//! ```

use std::path::{Path, PathBuf};

use crate::bucket::LocalBucket;
use crate::store::{Store, StoreError};

/// Environment variable that overrides the default home directory.
pub const HOME_ENV: &str = "SCONES_HOME";

/// File name of the execution store inside the home.
pub const STORE_FILE: &str = "scones.sqlite3";

/// Why the home directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// No `--home`, no `SCONES_HOME`, and the platform has no data directory.
    #[error(
        "no home directory for scones: pass --home DIR or set {HOME_ENV} (this platform has no XDG data directory)"
    )]
    NoDataDir,
    /// The home (or one of its directories) exists but is not a directory.
    #[error("{path} is not a directory: point --home (or {HOME_ENV}) at a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A directory of the home could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The local state directory, created on first use.
///
/// Commands that only read ([`Home::locate`]: `eval`, `threshold`, a read-only dashboard)
/// never create it; commands that write ([`Home::resolve`]) create it once they know they
/// will succeed far enough to need it, so a command failing on a new home leaves nothing.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Picks the home and creates it: see [`Home::locate`].
    pub fn resolve(explicit: Option<&Path>) -> Result<Home, HomeError> {
        Home::locate(explicit)?.create()
    }

    /// Picks the home without creating anything: `explicit` (the `--home` flag) if given,
    /// else `$SCONES_HOME` if set and non-empty, else `<XDG data dir>/scones` (e.g.
    /// `~/.local/share/scones`). It may not exist yet; it must not be a file.
    pub fn locate(explicit: Option<&Path>) -> Result<Home, HomeError> {
        let root = match (
            explicit,
            std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()),
        ) {
            (Some(dir), _) => dir.to_path_buf(),
            (None, Some(dir)) => PathBuf::from(dir),
            (None, None) => dirs::data_dir().ok_or(HomeError::NoDataDir)?.join("scones"),
        };
        let home = Home { root };
        home.check_directories()?;
        Ok(home)
    }

    /// Uses `root` as the home, creating it and its sub-directories if needed.
    pub fn at(root: &Path) -> Result<Home, HomeError> {
        Home {
            root: root.to_path_buf(),
        }
        .create()
    }

    /// Creates the home and its sub-directories if needed.
    pub fn create(self) -> Result<Home, HomeError> {
        self.check_directories()?;
        for dir in self.directories() {
            std::fs::create_dir_all(&dir).map_err(|source| HomeError::Create {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(self)
    }

    /// True when the home directory exists.
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    fn directories(&self) -> [PathBuf; 3] {
        [self.root.clone(), self.bucket_dir(), self.logs_dir()]
    }

    /// Each of the home's directories that exists is a directory (`--home` pointing at a
    /// file would otherwise surface as "File exists" from `create_dir_all`).
    fn check_directories(&self) -> Result<(), HomeError> {
        for dir in self.directories() {
            if dir.exists() && !dir.is_dir() {
                return Err(HomeError::NotADirectory { path: dir });
            }
        }
        Ok(())
    }

    /// The home directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local bucket's directory.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.join("bucket")
    }

    /// The local bucket.
    pub fn bucket(&self) -> LocalBucket {
        LocalBucket::new(self.bucket_dir())
    }

    /// The execution store's file.
    pub fn store_path(&self) -> PathBuf {
        self.root.join(STORE_FILE)
    }

    /// Opens (creating if needed) the execution store.
    pub fn open_store(&self) -> Result<Store, StoreError> {
        Store::open(&self.store_path())
    }

    /// The operator's saved settings (the defaults when none are saved).
    pub fn settings(&self) -> Result<crate::Settings, crate::SettingsError> {
        crate::Settings::load(&self.root)
    }

    /// Where log files go.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}

/// Where downloads are cached: `<XDG cache dir>/scones`, or `<home>/cache` on platforms
/// without a cache directory.
pub fn cache_dir(home: &Home) -> PathBuf {
    dirs::cache_dir()
        .map(|d| d.join("scones"))
        .unwrap_or_else(|| home.root().join("cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_home_is_created_with_its_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/b/home");
        let home = Home::resolve(Some(&root)).unwrap();
        assert_eq!(home.root(), root);
        assert!(root.join("bucket").is_dir());
        assert!(root.join("logs").is_dir());
        assert_eq!(home.store_path(), root.join(STORE_FILE));
    }

    #[test]
    fn a_home_that_is_a_file_is_not_a_directory_and_locate_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        for err in [
            Home::locate(Some(&file)).unwrap_err(),
            Home::at(&file).unwrap_err(),
        ] {
            assert!(matches!(err, HomeError::NotADirectory { .. }), "{err:?}");
            assert!(err.to_string().contains("is not a directory"), "{err}");
        }
        let new = tmp.path().join("new");
        let home = Home::locate(Some(&new)).unwrap();
        assert!(!home.exists() && !new.exists());
        let home = home.create().unwrap();
        assert!(home.exists() && new.join("bucket").is_dir());
    }

    #[test]
    fn a_home_that_cannot_be_created_is_a_typed_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = Home::at(&file.join("home")).unwrap_err();
        assert!(matches!(err, HomeError::Create { .. }), "{err:?}");
    }
}
