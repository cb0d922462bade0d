//! What an operation did to the store's directory, found by comparing the
//! directory before and after it.
//!
//! The tester never parses a store's files: it knows only which bytes an
//! operation changed. That is enough to build every state a crash in the
//! middle of the operation could leave, whatever the format. A write is one
//! contiguous range, so the record is the [`Span`] from the first changed
//! byte to the last; zeros the write grew the file by after it are
//! preallocated space, not the record. A write torn after k bytes is the
//! file as it was before, with the record's first k bytes taken from after:
//! for an appending log, the file cut to that length; for a preallocated
//! one, the old bytes (usually zeros) after k, at the file's grown length.

mod pin;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;

use crate::check::{Doing, Error, Result};
use crate::escape;

pub use pin::Pin;

/// The most bytes a store's directory may hold for the drill to read it.
pub const MAX_DIR_BYTES: u64 = 64 << 20;
/// The most files it may hold.
pub const MAX_DIR_FILES: usize = 1000;
/// How deep its folders may nest.
const MAX_DEPTH: usize = 16;

/// Every regular file under a directory, by path relative to it. Files
/// are shared between states (a damaged copy shares every file but one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirState {
    files: BTreeMap<PathBuf, Arc<Vec<u8>>>,
}

impl DirState {
    /// Reads every regular file under `dir`, never following a symbolic
    /// link, after checking that the files fit the drill's bounds
    /// ([`MAX_DIR_BYTES`], [`MAX_DIR_FILES`]): a sparse or huge file is
    /// refused by its size, before a byte of it is read.
    pub fn read(dir: &Path) -> Result<DirState> {
        let is_dir = fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir());
        if !is_dir {
            return Err(Error::Check {
                what: format!("read the store's directory {}", escape::path(dir)),
                expected: "a directory".to_string(),
                found: "something else in its place (a symbolic link?)".to_string(),
                why: None,
            });
        }
        let mut found = Vec::new();
        list_under(dir, Path::new(""), 0, &mut found)?;
        let bytes: u64 = found.iter().map(|(_, size)| size).sum();
        if bytes > MAX_DIR_BYTES || found.len() > MAX_DIR_FILES {
            return Err(Error::Check {
                what: format!("read the store's directory {}", escape::path(dir)),
                expected: format!(
                    "at most {} MiB in at most {MAX_DIR_FILES} files",
                    MAX_DIR_BYTES >> 20
                ),
                found: format!(
                    "DIR holds {} in {} file{}; a store's directory for this drill stays under {} MiB and {MAX_DIR_FILES} files",
                    human_size(bytes),
                    found.len(),
                    if found.len() == 1 { "" } else { "s" },
                    MAX_DIR_BYTES >> 20
                ),
                why: Some("the drill copies the store's directory for every state it tests; keep only the store's own files in it".to_string()),
            });
        }
        let mut state = DirState::default();
        for (path, size) in found {
            let full = dir.join(&path);
            let doing = || format!("read {}", escape::path(&full));
            let file = fs::OpenOptions::new()
                .read(true)
                .custom_flags(OFlag::O_NOFOLLOW.bits())
                .open(&full)
                .doing(doing())?;
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            // The size was checked; a file grown since is read no further.
            file.take(size).read_to_end(&mut bytes).doing(doing())?;
            state.files.insert(path, Arc::new(bytes));
        }
        Ok(state)
    }

    /// Writes this state into `dir`, which must not exist: every folder is
    /// made with `create_dir` and every file is created new, so that a link
    /// planted in the way fails the step instead of redirecting it.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        fs::create_dir(dir).doing(format!("create {}", escape::path(dir)))?;
        for (path, bytes) in &self.files {
            let mut made = dir.to_path_buf();
            if let Some(parent) = path.parent() {
                for part in parent.components() {
                    made.push(part);
                    if !fs::symlink_metadata(&made).is_ok_and(|meta| meta.is_dir()) {
                        fs::create_dir(&made).doing(format!("create {}", escape::path(&made)))?;
                    }
                }
            }
            let target = dir.join(path);
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(OFlag::O_NOFOLLOW.bits())
                .open(&target)
                .and_then(|mut file| file.write_all(bytes))
                .doing(format!("write {}", escape::path(&target)))?;
        }
        Ok(())
    }

    /// The bytes of `path`, if the state holds it.
    pub fn file(&self, path: &Path) -> Option<&[u8]> {
        self.files.get(path).map(|bytes| bytes.as_slice())
    }

    /// How many bytes its files hold, together.
    pub fn bytes(&self) -> u64 {
        self.files.values().map(|bytes| bytes.len() as u64).sum()
    }

    /// This state with `path` holding `bytes`; the other files are shared.
    pub fn with_file(&self, path: &Path, bytes: Vec<u8>) -> DirState {
        let mut files = self.files.clone();
        files.insert(path.to_path_buf(), Arc::new(bytes));
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
                let before = self.files.get(path).map(|bytes| bytes.as_ref());
                let now = after.files.get(path).map(|bytes| bytes.as_ref());
                (before != now).then(|| FileChange::new(path, before, now))
            })
            .collect()
    }
}

/// Lists the regular files under `root/relative` with their sizes, without
/// following links, within the bounds on depth and count.
fn list_under(
    root: &Path,
    relative: &Path,
    depth: usize,
    found: &mut Vec<(PathBuf, u64)>,
) -> Result<()> {
    let dir = root.join(relative);
    let doing = || format!("read the store's directory {}", escape::path(&dir));
    if depth > MAX_DEPTH {
        return Err(Error::Check {
            what: doing(),
            expected: format!("folders nested at most {MAX_DEPTH} deep"),
            found: format!("{} nested deeper", escape::path(relative)),
            why: None,
        });
    }
    for entry in fs::read_dir(&dir).doing(doing())? {
        let entry = entry.doing(doing())?;
        let meta = fs::symlink_metadata(entry.path()).doing(doing())?;
        let path = relative.join(entry.file_name());
        if meta.is_dir() {
            list_under(root, &path, depth + 1, found)?;
        } else if meta.is_file() {
            found.push((path, meta.len()));
        }
        if found.len() > MAX_DIR_FILES {
            // Enough to refuse: the rest is not listed.
            return Ok(());
        }
    }
    Ok(())
}

/// `1.0 GiB`, `12.5 MiB`, `300 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    UNITS.iter().find(|(_, size)| bytes >= *size).map_or_else(
        || format!("{bytes} bytes"),
        |(unit, size)| format!("{:.1} {unit}", bytes as f64 / *size as f64),
    )
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
        // Cloned: a change outlives the states it was found between.
        FileChange {
            path: path.to_path_buf(),
            before: before.cloned(),
            after: after.cloned(),
        }
    }
}

impl FileChange {
    /// Where the change's bytes lie in the new file; `None` for a deleted
    /// file.
    pub fn span(&self) -> Option<Span> {
        let after = self.after.as_deref()?;
        Some(Span::of(self.before.as_deref().unwrap_or_default(), after))
    }

    /// The offset of the middle byte of the record: where `--break` flips a
    /// bit, well inside the record whatever its format.
    pub fn middle_changed_byte(&self) -> Option<usize> {
        let record = self.span()?.record;
        (!record.is_empty()).then(|| record.start + record.len() / 2)
    }
}

impl fmt::Display for FileChange {
    /// `wal.log: created, 16 bytes`, `wal.log: 31 bytes at offsets 170-200`,
    /// `wal.log: 30 bytes at offsets 0-29, then 65506 zero bytes (preallocated)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = escape::path(&self.path);
        match (&self.before, &self.after) {
            (None, Some(after)) => {
                write!(f, "{path}: created, {} bytes", after.len())?;
                let span = Span::of(&[], after);
                if span.zeros.is_empty() {
                    Ok(())
                } else if span.record.is_empty() {
                    write!(f, ", all zero (preallocated)")
                } else {
                    write!(f, ": {}", span.describe())
                }
            }
            (Some(before), None) => write!(f, "{path}: deleted ({} bytes)", before.len()),
            (Some(before), Some(after)) if after.len() < before.len() => write!(
                f,
                "{path}: shortened from {} to {} bytes",
                before.len(),
                after.len()
            ),
            (Some(before), Some(after)) => {
                write!(f, "{path}: {}", Span::of(before, after).describe())
            }
            (None, None) => write!(f, "{path}: unchanged"),
        }
    }
}

/// Where one write's bytes lie in a file that it did not shorten.
///
/// A write is one contiguous range of bytes, so the record is the span from
/// the first byte that differs to the last: bytes inside it that kept their
/// value (a zero of a little-endian length written over preallocated zeros)
/// were written all the same. Past the file's old end, trailing zeros are
/// not the record's: a store that preallocates grows its file with zeros
/// ahead of its writes, so the record ends at the last non-zero byte, and
/// the zeros after it are [`Span::zeros`]. The span starts at the first
/// byte that differs or lies past the old end, so an append's record starts
/// where the old file ended whatever its first byte.
///
/// What no diff can see: a record's own leading or trailing zero bytes
/// written over zeros look like the zeros around them, so such a span
/// starts and ends at the record's first and last byte that changed the
/// file. Likewise an appended record whose last bytes are zeros has them
/// counted as grown zeros: its tears keep them, a state a file system that
/// makes the new size durable before the data can leave as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The record's offsets in the new file; empty when the write only
    /// grew the file by zeros.
    pub record: Range<usize>,
    /// The zero bytes the file grew by after the record: preallocated
    /// space. Empty for a file that grew by its record alone, or kept its
    /// length.
    pub zeros: Range<usize>,
}

impl Span {
    /// The span of the write that turned `before` into `after` (no shorter).
    pub fn of(before: &[u8], after: &[u8]) -> Span {
        let old_end = before.len().min(after.len());
        let differs = |offset: &usize| before[*offset] != after[*offset];
        let last_new = (old_end..after.len())
            .rev()
            .find(|&offset| after[offset] != 0);
        let last = last_new.or_else(|| (0..old_end).rev().find(differs));
        let Some(last) = last else {
            return Span {
                record: old_end..old_end,
                zeros: old_end..after.len(),
            };
        };
        let first = (0..old_end).find(differs).unwrap_or(old_end);
        let zeros_start = (last + 1).max(old_end);
        Span {
            record: first..last + 1,
            zeros: zeros_start..after.len(),
        }
    }

    /// `31 bytes at offsets 170-200`, and for a preallocating write
    /// `, then 65472 zero bytes (preallocated)`.
    fn describe(&self) -> String {
        let record = describe_range(&self.record);
        match (self.record.is_empty(), self.zeros.len()) {
            (_, 0) => record,
            (true, zeros) => {
                format!("grew by {zeros} zero bytes (preallocated), no other byte changed")
            }
            (false, zeros) => format!("{record}, then {zeros} zero bytes (preallocated)"),
        }
    }
}

/// An operation's bytes in one file: the file before and after it, and where
/// its record lies ([`Span`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    /// The record's bytes, and the zeros the write grew the file by.
    pub span: Span,
}

impl Written {
    /// The bytes one operation wrote, when it changed exactly one file,
    /// made it no shorter and wrote more than zeros; otherwise a check
    /// failure that says which files changed and why the drill needs one
    /// log.
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
        match (&change.after, change.span()) {
            (Some(after), Some(span)) if after.len() >= before.len() && !span.record.is_empty() => {
                Ok(Written {
                    path: change.path.clone(),
                    span,
                    before,
                    after: after.clone(),
                })
            }
            (Some(after), _) if after.len() < before.len() => Err(Error::Check {
                what: format!("files changed by {operation}"),
                expected: "one file that gained bytes (the WAL)".to_string(),
                found: listed(),
                // A store that is right to rewrite its log (a compaction)
                // is told why the drill cannot use this write, not that it
                // wrote several files.
                why: Some(format!(
                    "the store rewrote {} shorter rather than appending a record to it (a compaction?); the drill tears and flips the bytes of the record the operation it crashes appends, so that operation must append: rewrite the log on another request",
                    escape::path(&change.path)
                )),
            }),
            _ => Err(Error::Check {
                what: format!("files changed by {operation}"),
                expected: "one file that gained bytes (the WAL)".to_string(),
                found: listed(),
                why: Some(why.to_string()),
            }),
        }
    }

    /// How many bytes the record has.
    pub fn len(&self) -> usize {
        self.span.record.len()
    }

    /// Never true: [`Written::single`] refuses a write without a record.
    pub fn is_empty(&self) -> bool {
        self.span.record.is_empty()
    }

    /// The offset in the file of the record's `index`-th byte.
    pub fn offset(&self, index: usize) -> usize {
        self.span.record.start + index
    }

    /// How many zero bytes the write grew the file by after the record
    /// (preallocated space); 0 for a plain append or an in-place write.
    pub fn grown_zeros(&self) -> usize {
        self.span.zeros.len()
    }

    /// Whether the file holds bytes after the record: a store that writes
    /// into space it grew ahead of its writes, not one that appends.
    pub fn is_preallocated(&self) -> bool {
        self.span.record.end < self.after.len()
    }

    /// The file with only the first `count` bytes of the record written: a
    /// write torn after `count` bytes. The rest of the record keeps the
    /// old bytes. A file that grew by its record alone (an append) is cut
    /// after the torn prefix; a file that grew by zeros past the record
    /// keeps its grown length, zeros after the prefix.
    ///
    /// That is what a power loss mid-write leaves in a preallocated log:
    /// the store made the growth durable (fsync) before writing the record
    /// into it, as the store protocol asks, so the length survives the
    /// tear. The drill does not also tear with the growth lost: a lost size
    /// change drops every byte past the old end, which leaves the old file
    /// with at most the record's bytes that lay inside it, a record cut at
    /// the file's end: the torn tail every appending log's tears already
    /// exercise, and for a record that starts at the old end, the file as
    /// it was before the write. Adding those states would double the
    /// restarts of the sweep for no new kind of damage.
    pub fn torn(&self, count: usize) -> Vec<u8> {
        let start = self.span.record.start;
        let end = start + count;
        let mut bytes = self.before.clone();
        let len = if self.span.zeros.is_empty() {
            bytes.len().max(end)
        } else {
            self.after.len()
        };
        bytes.resize(len, 0);
        bytes[start..end].copy_from_slice(&self.after[start..end]);
        bytes
    }

    /// The file after the write, with bit `bit` of the record's `index`-th
    /// byte flipped; returns the bytes and the byte's old and new value.
    pub fn flipped(&self, index: usize, bit: u8) -> (Vec<u8>, u8, u8) {
        let mut bytes = self.after.clone();
        let offset = self.offset(index);
        let old = bytes[offset];
        bytes[offset] ^= 1 << bit;
        let new = bytes[offset];
        (bytes, old, new)
    }

    /// `31 bytes at offsets 170-200 of wal.log`, and for a write that grew
    /// the file ahead of itself `; the file also grew by 65472 zero bytes
    /// (preallocated)`.
    pub fn describe(&self) -> String {
        let record = format!(
            "{} of {}",
            describe_range(&self.span.record),
            self.path.display()
        );
        match self.grown_zeros() {
            0 => record,
            zeros => format!("{record}; the file also grew by {zeros} zero bytes (preallocated)"),
        }
    }
}

/// `31 bytes at offsets 170-200`, `1 byte at offset 9`.
fn describe_range(range: &Range<usize>) -> String {
    match range.len() {
        0 => "no bytes changed".to_string(),
        1 => format!("1 byte at offset {}", range.start),
        len => format!("{len} bytes at offsets {}-{}", range.start, range.end - 1),
    }
}
