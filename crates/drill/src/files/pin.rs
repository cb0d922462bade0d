//! A store's directory, pinned by its device and inode number.
//!
//! A path is not a boundary: a store can rename its directory away and put
//! a link to another folder (or another folder) in its place, and the
//! drill would read, copy and damage that instead. The drill records what
//! the path named when the store started and checks it before every read.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::DirState;
use crate::check::{Doing, Error, Result};
use crate::escape;

/// A directory and the inode it was when pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Pin {
    /// Pins `dir`, which must be a directory (not a link to one).
    pub fn new(dir: &Path) -> Result<Pin> {
        let meta = fs::symlink_metadata(dir)
            .doing(format!("read the store's directory {}", escape::path(dir)))?;
        if !meta.is_dir() {
            return Err(Error::Check {
                what: format!("the store's directory {}", escape::path(dir)),
                expected: "a directory".to_string(),
                found: "something else (a symbolic link?)".to_string(),
                why: None,
            });
        }
        Ok(Pin {
            path: dir.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fails unless the path still names the pinned directory.
    pub fn check(&self) -> Result<()> {
        let now = fs::symlink_metadata(&self.path).ok();
        let same = now
            .as_ref()
            .is_some_and(|meta| meta.is_dir() && meta.dev() == self.dev && meta.ino() == self.ino);
        if same {
            return Ok(());
        }
        let found = match now {
            None => "nothing at that path".to_string(),
            Some(meta) if meta.file_type().is_symlink() => {
                "a symbolic link in its place".to_string()
            }
            Some(meta) if meta.is_dir() => "another directory in its place".to_string(),
            Some(_) => "a file in its place".to_string(),
        };
        Err(Error::Check {
            what: format!("the store's directory {}", escape::path(&self.path)),
            expected: format!("the directory the store started on (device {}, inode {})", self.dev, self.ino),
            found: format!("{found}: the store replaced its directory"),
            why: Some("a store keeps its files inside DIR; it never renames, removes or replaces DIR itself".to_string()),
        })
    }

    /// The directory's files, after checking it is still the one pinned.
    pub fn read(&self) -> Result<DirState> {
        self.check()?;
        DirState::read(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_directory_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        fs::create_dir(&store).unwrap();
        let pin = Pin::new(&store).unwrap();
        pin.read().unwrap();
        fs::rename(&store, dir.path().join("away")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("away"), &store).unwrap();
        let err = pin.read().unwrap_err().to_string();
        assert!(
            err.contains("a symbolic link in its place: the store replaced its directory"),
            "{err}"
        );
        fs::remove_file(&store).unwrap();
        fs::create_dir(&store).unwrap();
        let err = pin.read().unwrap_err().to_string();
        assert!(err.contains("another directory in its place"), "{err}");
    }
}
