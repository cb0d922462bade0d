//! What an operation did to the store's directory, found by comparing the
//! directory before and after it.
//!
//! The tester never parses a store's files: it knows only which bytes an
//! operation changed. That is enough to build every state a crash in the
//! middle of the operation could leave, whatever the format: a write torn
//! after k bytes is the file as it was before, with the first k changed
//! bytes taken from after (for an appending log, the file cut to that
//! length; for a preallocated one, the old bytes, usually zeros, after k).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::check::{Doing, Error, Result};

/// Every regular file under a directory, by path relative to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirState {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl DirState {
    /// Reads every regular file under `dir` (symbolic links are not
    /// followed).
    pub fn read(dir: &Path) -> Result<DirState> {
        let mut state = DirState::default();
        state.read_under(dir, Path::new(""))?;
        Ok(state)
    }

    fn read_under(&mut self, root: &Path, relative: &Path) -> Result<()> {
        let dir = root.join(relative);
        let doing = || format!("read the store's directory {}", dir.display());
        for entry in fs::read_dir(&dir).doing(doing())? {
            let entry = entry.doing(doing())?;
            let kind = entry.file_type().doing(doing())?;
            let path = relative.join(entry.file_name());
            if kind.is_dir() {
                self.read_under(root, &path)?;
            } else if kind.is_file() {
                let bytes = fs::read(root.join(&path))
                    .doing(format!("read {}", root.join(&path).display()))?;
                self.files.insert(path, bytes);
            }
        }
        Ok(())
    }

    /// Writes this state into `dir`, which must be new or empty.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).doing(format!("create {}", dir.display()))?;
        for (path, bytes) in &self.files {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).doing(format!("create {}", parent.display()))?;
            }
            fs::write(&target, bytes).doing(format!("write {}", target.display()))?;
        }
        Ok(())
    }

    /// The bytes of `path`, if the state holds it.
    pub fn file(&self, path: &Path) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// This state with `path` holding `bytes`.
    pub fn with_file(&self, path: &Path, bytes: Vec<u8>) -> DirState {
        let mut files = self.files.clone();
        files.insert(path.to_path_buf(), bytes);
        DirState { files }
    }

    /// This state without `path`.
    pub fn without_file(&self, path: &Path) -> DirState {
        let mut files = self.files.clone();
        files.remove(path);
        DirState { files }
    }

    /// The files' paths, relative to the directory.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// What changed from `self` to `after`, file by file.
    pub fn changes(&self, after: &DirState) -> Vec<FileChange> {
        let paths: std::collections::BTreeSet<&PathBuf> =
            self.files.keys().chain(after.files.keys()).collect();
        paths
            .into_iter()
            .filter_map(|path| {
                let before = self.files.get(path);
                let now = after.files.get(path);
                (before != now).then(|| FileChange::new(path, before, now))
            })
            .collect()
    }
}

/// One file's change between two states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    pub before: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
}

impl FileChange {
    fn new(path: &Path, before: Option<&Vec<u8>>, after: Option<&Vec<u8>>) -> Self {
        FileChange {
            path: path.to_path_buf(),
            before: before.cloned(),
            after: after.cloned(),
        }
    }
}

impl FileChange {
    /// Offsets (in the new file) of every byte that differs from the old
    /// one or lies past its end; none for a deleted file.
    pub fn changed(&self) -> Vec<usize> {
        match (&self.before, &self.after) {
            (before, Some(after)) => {
                changed_positions(before.as_deref().unwrap_or_default(), after)
            }
            (_, None) => Vec::new(),
        }
    }

    /// The offset of the middle changed byte: where `--break` flips a bit,
    /// well inside the record whatever its format.
    pub fn middle_changed_byte(&self) -> Option<usize> {
        let changed = self.changed();
        changed.get(changed.len() / 2).copied()
    }
}

impl fmt::Display for FileChange {
    /// `wal.log: created, 16 bytes`, `wal.log: 31 bytes changed at offsets 170-200`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match (&self.before, &self.after) {
            (None, Some(after)) => write!(f, "{path}: created, {} bytes", after.len()),
            (Some(before), None) => write!(f, "{path}: deleted ({} bytes)", before.len()),
            (Some(before), Some(after)) if after.len() < before.len() => write!(
                f,
                "{path}: shortened from {} to {} bytes",
                before.len(),
                after.len()
            ),
            (Some(before), Some(after)) => {
                let changed = changed_positions(before, after);
                write!(f, "{path}: {}", describe_positions(&changed))
            }
            (None, None) => write!(f, "{path}: unchanged"),
        }
    }
}

/// An operation's bytes in one file: the file before and after it, and the
/// offsets of the bytes it changed, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    /// Offsets (in `after`) of every byte that differs from `before`, or lies
    /// past its end.
    pub changed: Vec<usize>,
}

impl Written {
    /// The bytes one operation wrote, when it changed exactly one file and
    /// made it no shorter; otherwise a check failure that says which files
    /// changed and why the drill needs one log.
    pub fn single(operation: &str, changes: &[FileChange]) -> Result<Written> {
        let listed = || {
            changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let why = "the drill tears and flips the bytes of one record; a store whose write \
                   touches several files (or none) cannot be torn the lesson's way. Append \
                   each record to one log file";
        let [change] = changes else {
            return Err(Error::Check {
                what: format!("files changed by {operation}"),
                expected: "exactly one file (the WAL) with new bytes".to_string(),
                found: if changes.is_empty() {
                    "no file changed".to_string()
                } else {
                    listed()
                },
                why: Some(why.to_string()),
            });
        };
        let before = change.before.clone().unwrap_or_default();
        match &change.after {
            Some(after) if after.len() >= before.len() => Ok(Written {
                path: change.path.clone(),
                changed: change.changed(),
                before,
                after: after.clone(),
            }),
            _ => Err(Error::Check {
                what: format!("files changed by {operation}"),
                expected: "one file that gained bytes (the WAL)".to_string(),
                found: listed(),
                why: Some(why.to_string()),
            }),
        }
    }

    /// The file with only the first `count` changed bytes written: a write
    /// torn after `count` bytes.
    pub fn torn(&self, count: usize) -> Vec<u8> {
        let mut bytes = self.before.clone();
        for &offset in &self.changed[..count] {
            if offset >= bytes.len() {
                bytes.resize(offset + 1, 0);
            }
            bytes[offset] = self.after[offset];
        }
        bytes
    }

    /// The file after the write, with bit `bit` of the `index`-th changed
    /// byte flipped; returns the bytes and the byte's old and new value.
    pub fn flipped(&self, index: usize, bit: u8) -> (Vec<u8>, u8, u8) {
        let mut bytes = self.after.clone();
        let offset = self.changed[index];
        let old = bytes[offset];
        bytes[offset] ^= 1 << bit;
        let new = bytes[offset];
        (bytes, old, new)
    }

    /// `31 bytes at offsets 170-200 of wal.log`.
    pub fn describe(&self) -> String {
        format!(
            "{} of {}",
            describe_positions(&self.changed),
            self.path.display()
        )
    }
}

fn changed_positions(before: &[u8], after: &[u8]) -> Vec<usize> {
    (0..after.len())
        .filter(|&offset| before.get(offset) != Some(&after[offset]))
        .collect()
}

/// `31 bytes at offsets 170-200`, or with several runs `3 bytes at offsets 0-1, 9`.
fn describe_positions(positions: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &offset in positions {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == offset => *end = offset,
            _ => runs.push((offset, offset)),
        }
    }
    let shown: Vec<String> = runs
        .iter()
        .map(|&(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect();
    let noun = if positions.len() == 1 {
        "byte"
    } else {
        "bytes"
    };
    let at = if shown.len() == 1 && runs[0].0 == runs[0].1 {
        "offset"
    } else {
        "offsets"
    };
    if positions.is_empty() {
        "no bytes changed".to_string()
    } else {
        format!("{} {noun} at {at} {}", positions.len(), shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(files: &[(&str, &[u8])]) -> DirState {
        DirState {
            files: files
                .iter()
                .map(|(path, bytes)| (PathBuf::from(path), bytes.to_vec()))
                .collect(),
        }
    }

    #[test]
    fn an_append_tears_as_a_cut_file() {
        let before = state(&[("wal.log", b"HDR")]);
        let after = state(&[("wal.log", b"HDRabcd")]);
        let written = Written::single("PUT", &before.changes(&after)).unwrap();
        assert_eq!(written.changed, [3, 4, 5, 6]);
        assert_eq!(written.torn(0), b"HDR");
        assert_eq!(written.torn(2), b"HDRab");
        assert_eq!(written.describe(), "4 bytes at offsets 3-6 of wal.log");
        let (flipped, old, new) = written.flipped(1, 0);
        assert_eq!(flipped, b"HDRaccd");
        assert_eq!((old, new), (b'b', b'c'));
    }

    #[test]
    fn a_preallocated_write_keeps_the_old_bytes_after_the_tear() {
        let before = state(&[("wal.log", &[0u8; 8])]);
        let after = state(&[("wal.log", &[0, 7, 7, 0, 7, 0, 0, 0])]);
        let written = Written::single("PUT", &before.changes(&after)).unwrap();
        assert_eq!(written.changed, [1, 2, 4]);
        assert_eq!(written.torn(2), [0, 7, 7, 0, 0, 0, 0, 0]);
        assert_eq!(written.describe(), "3 bytes at offsets 1-2, 4 of wal.log");
    }

    #[test]
    fn several_files_or_none_is_a_check_failure_naming_them() {
        let before = state(&[("a.log", b"x")]);
        let after = state(&[("a.log", b"xy"), ("b.idx", b"1")]);
        let err = Written::single("PUT user:4 dave", &before.changes(&after))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("found a.log: 1 byte at offset 1; b.idx: created, 1 bytes"),
            "{err}"
        );
        let err = Written::single("PUT", &before.changes(&before))
            .unwrap_err()
            .to_string();
        assert!(err.contains("found no file changed"), "{err}");
    }

    #[test]
    fn states_round_trip_through_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let original = state(&[("wal.log", b"abc"), ("sub/x", b"")]);
        original.write_to(&dir.path().join("copy")).unwrap();
        assert_eq!(DirState::read(&dir.path().join("copy")).unwrap(), original);
    }
}
