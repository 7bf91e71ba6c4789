//! Writing results (and charts) atomically: a temporary file in the target's
//! directory, flushed and renamed over it, so a crash never leaves half a
//! file.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Check before a long run that `path` can be written: its directory exists
/// and accepts a new file. Leaves nothing behind.
pub fn check_writable(path: &Path) -> Result<()> {
    let io = |reason| cannot_write(path, reason);
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        )));
    }
    if path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    tempfile::NamedTempFile::new_in(dir)
        .map(drop)
        .map_err(|e| io(std::io::Error::from(e.kind())))
}

/// Write `text` to `path` atomically: a temporary file in the same directory,
/// flushed, then renamed over `path`. A crash never leaves half a file.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    check_writable(path)?;
    let io = |reason| cannot_write(path, reason);
    let mut tmp = tempfile::NamedTempFile::new_in(parent_dir(path))
        .map_err(|e| io(std::io::Error::from(e.kind())))?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    persist(tmp, path)
}

/// Flush a finished temporary file, give it the permissions of an ordinary
/// new file (tempfile creates 0600), and rename it over `path`.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    let io = |reason| cannot_write(path, reason);
    tmp.as_file().sync_all().map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    tmp.persist(path)
        .map_err(|e| io(std::io::Error::from(e.error.kind())))?;
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn cannot_write(path: &Path, reason: std::io::Error) -> Error {
    Error::Io {
        action: "cannot write",
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, "first").unwrap();
        write_atomic(&p, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_and_missing_directory_fail_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("r.json");
        assert!(check_writable(&p).is_err());
        assert!(write_atomic(&p, "x").is_err());
        assert!(!p.exists());
    }
}
