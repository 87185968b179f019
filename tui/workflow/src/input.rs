//! Files a user names (a CSV to import, a labels file, a dashboard config), read bounded:
//! only a regular file (a FIFO would block for good, a device could be endless) and at most
//! a stated size (`/dev/zero` must not grow the process until it dies).

use std::io::Read;
use std::path::Path;

/// Why a named file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// It is a directory.
    #[error("{0} is a directory, not a file")]
    Directory(String),
    /// It is a FIFO, socket or device.
    #[error("{0} is not a regular file (a FIFO, socket or device)")]
    NotRegular(String),
    /// It is larger than the limit.
    #[error("{path} is larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// Reading it failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The bytes of the regular file `path`, at most `limit` of them (a larger file is an
/// error, not a truncation).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let name = path.display().to_string();
    let io = |source| InputError::Io {
        path: name.clone(),
        source,
    };
    // Following a link the user named is fine; what it names must be a regular file.
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(InputError::Directory(name));
    }
    if !meta.is_file() {
        return Err(InputError::NotRegular(name));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { path: name, limit });
    }
    Ok(bytes)
}

/// [`read_bounded`] as text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, InputError> {
    let bytes = read_bounded(path, limit)?;
    String::from_utf8(bytes).map_err(|e| InputError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_directories_fifos_and_endless_files() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_bounded(tmp.path(), 10),
            Err(InputError::Directory(_))
        ));
        let fifo = tmp.path().join("pipe");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(matches!(
            read_bounded(&fifo, 10),
            Err(InputError::NotRegular(_))
        ));
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 10),
            Err(InputError::NotRegular(_))
        ));
        let big = tmp.path().join("big");
        std::fs::write(&big, vec![b'x'; 11]).unwrap();
        assert!(matches!(
            read_bounded(&big, 10),
            Err(InputError::TooLarge { .. })
        ));
        std::fs::write(&big, b"key,label\n").unwrap();
        assert_eq!(read_text(&big, 100).unwrap(), "key,label\n");
    }
}
