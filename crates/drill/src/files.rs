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

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::ops::Range;
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
        let path = self.path.display();
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
        assert_eq!(written.span.record, 3..7);
        assert_eq!(written.grown_zeros(), 0);
        assert_eq!(written.torn(0), b"HDR");
        assert_eq!(written.torn(2), b"HDRab");
        assert_eq!(written.describe(), "4 bytes at offsets 3-6 of wal.log");
        let (flipped, old, new) = written.flipped(1, 0);
        assert_eq!(flipped, b"HDRaccd");
        assert_eq!((old, new), (b'b', b'c'));
    }

    /// A record written over zeros keeps some of them (the high bytes of a
    /// little-endian number): they are bytes of the record all the same.
    #[test]
    fn a_record_written_over_zeros_is_one_span() {
        let before = state(&[("wal.log", &[0u8; 8])]);
        let after = state(&[("wal.log", &[0, 7, 7, 0, 7, 0, 0, 0])]);
        let changes = before.changes(&after);
        assert_eq!(changes[0].to_string(), "wal.log: 4 bytes at offsets 1-4");
        assert_eq!(changes[0].middle_changed_byte(), Some(3));
        let written = Written::single("PUT", &changes).unwrap();
        assert_eq!(written.span.record, 1..5);
        assert_eq!(written.grown_zeros(), 0, "the file kept its length");
        assert_eq!(written.torn(2), [0, 7, 7, 0, 0, 0, 0, 0]);
        assert_eq!(written.torn(3), [0, 7, 7, 0, 0, 0, 0, 0]);
        assert_eq!(written.describe(), "4 bytes at offsets 1-4 of wal.log");
        let (flipped, old, new) = written.flipped(2, 3);
        assert_eq!(flipped, [0, 7, 7, 8, 7, 0, 0, 0], "the record's own zero");
        assert_eq!((old, new), (0, 8));
    }

    /// A write that grows the file by zeros past its record: the zeros are
    /// preallocated space, not the record; a tear keeps the grown length.
    #[test]
    fn zeros_grown_past_the_record_are_not_its_bytes() {
        let mut grown = b"HDR".to_vec();
        grown.extend([1, 0, 0, 2]);
        grown.extend([0; 10]);
        let before = state(&[("wal.log", b"HDR")]);
        let after = state(&[("wal.log", &grown)]);
        let changes = before.changes(&after);
        assert_eq!(
            changes[0].to_string(),
            "wal.log: 4 bytes at offsets 3-6, then 10 zero bytes (preallocated)"
        );
        let written = Written::single("PUT", &changes).unwrap();
        assert_eq!((written.span.record.clone(), written.len()), (3..7, 4));
        assert_eq!(written.span.zeros, 7..17);
        assert_eq!(
            written.describe(),
            "4 bytes at offsets 3-6 of wal.log; the file also grew by 10 zero bytes (preallocated)"
        );
        let mut torn = b"HDR".to_vec();
        torn.push(1);
        torn.resize(17, 0);
        assert_eq!(written.torn(1), torn, "grown length, zeros after the tear");
        assert_eq!(written.torn(4), grown);
    }

    /// An append starts at the old end whatever its first byte; one that
    /// ends in zeros has them read as grown zeros (documented on [`Span`]).
    #[test]
    fn an_appends_zero_bytes_at_either_end() {
        let before = state(&[("wal.log", b"HDR")]);
        let leading = state(&[("wal.log", b"HDR\0ab")]);
        let written = Written::single("PUT", &before.changes(&leading)).unwrap();
        assert_eq!(written.span.record, 3..6);
        assert_eq!(written.torn(1), b"HDR\0");
        let trailing = state(&[("wal.log", b"HDRab\0\0")]);
        let written = Written::single("PUT", &before.changes(&trailing)).unwrap();
        assert_eq!(
            (written.span.record.clone(), written.grown_zeros()),
            (3..5, 2)
        );
        assert_eq!(written.torn(1), b"HDRa\0\0\0");
    }

    /// A record that starts in the old preallocated zeros and runs past the
    /// old end, which the write moved on by a whole step.
    #[test]
    fn a_record_across_the_old_end_spans_both_sides() {
        let before = state(&[("wal.log", &[9, 9, 0, 0, 0, 0, 0, 0])]);
        let mut grown = vec![9, 9, 5, 0, 0, 0, 0, 0, 0, 6];
        grown.resize(16, 0);
        let after = state(&[("wal.log", &grown)]);
        let written = Written::single("PUT", &before.changes(&after)).unwrap();
        assert_eq!(written.span.record, 2..10);
        assert_eq!(written.span.zeros, 10..16);
        let mut torn = vec![9, 9, 5];
        torn.resize(16, 0);
        assert_eq!(written.torn(1), torn);
        assert_eq!(written.offset(7), 9);
    }

    #[test]
    fn a_created_file_shows_its_preallocated_zeros() {
        let before = state(&[]);
        let mut bytes = vec![4, 2];
        bytes.resize(16, 0);
        let after = state(&[("wal.log", &bytes)]);
        assert_eq!(
            before.changes(&after)[0].to_string(),
            "wal.log: created, 16 bytes: 2 bytes at offsets 0-1, then 14 zero bytes (preallocated)"
        );
        let zeros = state(&[("wal.log", &[0; 16])]);
        assert_eq!(
            before.changes(&zeros)[0].to_string(),
            "wal.log: created, 16 bytes, all zero (preallocated)"
        );
        let plain = state(&[("wal.log", b"abc")]);
        assert_eq!(
            before.changes(&plain)[0].to_string(),
            "wal.log: created, 3 bytes"
        );
    }

    /// Growing the file by zeros alone writes no record: the drill has
    /// nothing to tear.
    #[test]
    fn a_write_of_zeros_only_is_no_record() {
        let before = state(&[("wal.log", b"HDR")]);
        let after = state(&[("wal.log", b"HDR\0\0\0\0")]);
        let changes = before.changes(&after);
        assert_eq!(
            changes[0].to_string(),
            "wal.log: grew by 4 zero bytes (preallocated), no other byte changed"
        );
        assert_eq!(changes[0].middle_changed_byte(), None);
        let err = Written::single("PUT", &changes).unwrap_err().to_string();
        assert!(err.contains("expected one file that gained bytes"), "{err}");
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
