//! How scones writes in its home: never through a symbolic link (a link inside the home
//! could point anywhere), and whole files only (written aside, then renamed over the old
//! one, so a crash or a full disk leaves the old file or the new one, never half of one).

use std::io::Write;
use std::path::Path;

/// `path` relative to `base`, or why it is not inside it.
fn within<'a>(base: &Path, path: &'a Path) -> std::io::Result<&'a Path> {
    path.strip_prefix(base).map_err(|_| {
        std::io::Error::other(format!(
            "{} is not inside {}",
            path.display(),
            base.display()
        ))
    })
}

/// `at`'s metadata, `None` when nothing is there; a symbolic link is refused.
fn metadata_refusing_links(at: &Path) -> std::io::Result<Option<std::fs::Metadata>> {
    match std::fs::symlink_metadata(at) {
        Ok(meta) if meta.file_type().is_symlink() => Err(std::io::Error::other(format!(
            "{} is a symbolic link: scones reads, writes and deletes nothing through links",
            at.display()
        ))),
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Refuses `path` (below `base`, which is trusted) when it or a folder between them is a
/// symbolic link. A missing part ends the check: nothing is there to reach.
pub fn refuse_links_within(base: &Path, path: &Path) -> std::io::Result<()> {
    let relative = within(base, path)?;
    let mut at = base.to_path_buf();
    for part in relative.components() {
        at.push(part);
        if metadata_refusing_links(&at)?.is_none() {
            return Ok(());
        }
    }
    Ok(())
}

/// Creates `dir` (below `base`, which is trusted) and its missing parents below `base`,
/// refusing any that is a symbolic link or not a directory: nothing scones writes may be
/// reached through a link (a link inside the home could point anywhere).
pub fn create_dir_within(base: &Path, dir: &Path) -> std::io::Result<()> {
    let relative = within(base, dir)?;
    let mut path = base.to_path_buf();
    for part in relative.components() {
        path.push(part);
        match metadata_refusing_links(&path)? {
            Some(meta) if !meta.is_dir() => {
                return Err(std::io::Error::other(format!(
                    "{} is not a directory",
                    path.display()
                )));
            }
            Some(_) => {}
            None => match std::fs::create_dir(&path) {
                Ok(()) => {}
                // Another process made it meanwhile: checked again on the next part.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            },
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` whole: into a temporary file beside it (a name of its own, so
/// two writers never share one), then renamed over `path`. A failed write (a full disk)
/// removes the temporary file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_file_replaces_the_old_one_and_leaves_nothing_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
        // A target that cannot be replaced (a directory): an error, no temporary left.
        let dir = tmp.path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("x"), b"x").unwrap();
        assert!(write_atomically(&dir, b"new").is_err());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
    }
}
