//! Directory operations in the power-loss model: a rename is durable only
//! once its directory is fsync'd.
//!
//! A name lives in its directory, so creating, renaming and removing a file
//! change the directory, not the file; an fsync of the file leaves them in
//! the page cache, and a power loss can undo them. What the drill does with
//! each:
//!
//! - **A rename over an existing name** (the compaction idiom: write
//!   `wal.tmp`, fsync it, rename it over `wal.log`) is tracked here until an
//!   fsync of the directory (or `sync`/`syncfs`) that started after it
//!   returned. An `OK` whose request wrote the renamed file by its new name
//!   depends on the rename: undone, the old file is back under that name,
//!   and the data only the new file holds is gone. That `OK` breaks the
//!   rule. Undone, the new file is back under its old name if that name was
//!   durable (its creation's directory fsync'd before the rename), and gone
//!   otherwise. The file's own fsync does not help: its contents are durable,
//!   but under a name a power loss can take away.
//! - **A new name** (a file created, or renamed to a name that did not
//!   exist) without a directory fsync is a warning (`rule`): a power loss can
//!   drop the whole file, and with it the store's whole log, but a store
//!   that starts on a directory without its log is a state recovery must
//!   handle anyway.
//! - **A name removed, then given to another file** (an unlink or a rename
//!   away, then a rename or hard link onto the name, with no directory fsync
//!   between) is a rename over it: a power loss can undo both and bring the
//!   old file back (`rule` tracks the removed names).
//! - **An unlink** on its own is not undone in any state the drill builds,
//!   and never breaks the rule: the file that comes back held data the store
//!   no longer needs (a stale temporary file, a log already compacted). A
//!   store whose recovery would replay such a file twice is not judged.

use std::path::{Path, PathBuf};

/// A rename over an existing name, not yet made durable by an fsync of its
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// The file's name before the rename (absolute in the rule, relative to
    /// the store's directory in a [`super::rule::Violation`]).
    pub from: PathBuf,
    /// The name it replaced.
    pub to: PathBuf,
    /// How many lines the store had written to its stdout when it renamed:
    /// 0 before `READY`, k while it served the k-th request.
    pub replies: usize,
    /// Whether `from` was a durable name when the rename came: undone, the
    /// renamed file is back under it; otherwise it is gone.
    pub from_durable: bool,
    /// Whether the replaced file was written while the store served the
    /// same request, before the rename: that request's record went to the
    /// old file (the rule has seen it fsync'd), so undoing the rename keeps
    /// it, and only the `OK`s after it depend on the rename.
    pub old_written: bool,
    /// The trace line where the rename returned: only a directory fsync
    /// that started after it covers it.
    pub finished: usize,
}

/// The renames over existing names that a power loss can still undo.
#[derive(Debug, Default)]
pub struct Pending {
    renames: Vec<Renamed>,
}

impl Pending {
    pub fn renamed(&mut self, renamed: Renamed) {
        self.renames.push(renamed);
    }

    /// An fsync of `dir` that started at trace line `started`.
    pub fn synced(&mut self, dir: &Path, started: usize) {
        self.renames
            .retain(|renamed| !(parent(&renamed.to) == dir && started > renamed.finished));
    }

    /// `sync` or `syncfs`, started at trace line `started`.
    pub fn synced_all(&mut self, started: usize) {
        self.renames.retain(|renamed| started <= renamed.finished);
    }

    /// The latest pending rename over `to`.
    pub fn latest_over(&self, to: &Path) -> Option<&Renamed> {
        self.renames.iter().rev().find(|renamed| renamed.to == to)
    }

    /// The renames the `OK` ending the `replies`-th line's window depends
    /// on, oldest first: those that gave one of `written` (the files its
    /// request wrote, under their names now) that name, unless the request
    /// wrote its record to the replaced file before renaming over it.
    pub fn depended_on(&self, replies: usize, written: impl Fn(&Path) -> bool) -> Vec<Renamed> {
        self.renames
            .iter()
            .filter(|renamed| written(&renamed.to))
            .filter(|renamed| !(renamed.old_written && renamed.replies == replies))
            .cloned()
            .collect()
    }
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renamed(to: &str, finished: usize) -> Renamed {
        Renamed {
            from: PathBuf::from("/s/wal.tmp"),
            to: PathBuf::from(to),
            replies: 1,
            from_durable: false,
            old_written: false,
            finished,
        }
    }

    #[test]
    fn a_directory_fsync_after_the_rename_makes_it_durable() {
        let mut pending = Pending::default();
        pending.renamed(renamed("/s/wal.log", 5));
        let wrote_log = |path: &Path| path == Path::new("/s/wal.log");
        // Begun before the rename returned, or of another directory: no.
        pending.synced(Path::new("/s"), 5);
        pending.synced(Path::new("/other"), 9);
        assert_eq!(pending.depended_on(1, wrote_log).len(), 1);
        // Another file's write does not depend on it.
        assert!(
            pending
                .depended_on(1, |path| path == Path::new("/s/other"))
                .is_empty()
        );
        pending.synced(Path::new("/s"), 6);
        assert!(pending.depended_on(1, wrote_log).is_empty());
    }

    #[test]
    fn sync_all_covers_every_rename_before_it() {
        let mut pending = Pending::default();
        pending.renamed(renamed("/s/a", 3));
        pending.renamed(renamed("/s/b", 8));
        pending.synced_all(5);
        let left = pending.depended_on(1, |_| true);
        assert_eq!(left, [renamed("/s/b", 8)]);
    }
}
