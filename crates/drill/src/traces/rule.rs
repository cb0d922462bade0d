//! The power-loss rule over one store process's system calls: every `OK` to
//! a `PUT`, `DEL` or `WALPUT` must come after an fsync (or a synchronous
//! write) of each file that request wrote.
//!
//! The requests are known (the tester sent them), and the replies are the
//! lines the store wrote to its stdout pipe, so the k-th line after `READY`
//! answers the k-th request; the file writes between two replies belong to
//! the request the second one answers. A file is *dirty* from a write until
//! an `fsync`/`fdatasync` of it (or `sync`/`syncfs`); `sync_file_range` does
//! not count, since it neither waits for the device's cache nor writes the
//! metadata that finds the data again.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use store_protocol::Request;

use super::parse::{Event, Traced};

/// An `OK` that a power loss could take back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Index of the request in the process's requests.
    pub request: usize,
    /// The files (relative to the store's directory) written for it and not
    /// synced by its `OK`, with the calls that wrote them; empty when the
    /// `OK` came before any write at all (the record was still in memory).
    pub unsynced: BTreeMap<PathBuf, Vec<String>>,
    /// What the store did about those files while it served the request,
    /// in words: the calls that look like making them durable and are not.
    pub did: Vec<String>,
}

/// A call between two replies that bears on what was made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Sync(PathBuf),
    RangeSync(PathBuf),
    Rename { from: PathBuf, to: PathBuf },
}

/// What the rule found in one process's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// Files created (or renamed into place) whose directory was not
    /// fsync'd before the next `OK`: `(file, the request whose OK it was)`.
    pub unsynced_directories: Vec<(PathBuf, usize)>,
    /// How many `OK`s to writes were checked.
    pub acknowledged_writes: usize,
    /// Whether any write to a file in the store's directory was seen: when
    /// none was, yet writes were acknowledged, the trace cannot judge.
    pub saw_writes: bool,
}

/// What the rule needs to know besides the trace.
pub struct Context<'a> {
    /// The store's directory, as the kernel names it (canonical).
    pub dir: &'a Path,
    /// Files (relative) that existed when the process started.
    pub existing: &'a BTreeSet<PathBuf>,
    /// The inode of the store's stdout pipe.
    pub stdout_inode: u64,
    /// The requests sent, in order.
    pub requests: &'a [Request],
    /// The store's working directory, for paths a call gives relative to it.
    pub cwd: &'a Path,
}

pub fn check(events: &[Traced], context: &Context<'_>) -> Findings {
    let mut state = State {
        dirty: BTreeMap::new(),
        written_since_reply: BTreeSet::new(),
        synchronous: HashSet::new(),
        known: context
            .existing
            .iter()
            .map(|path| context.dir.join(path))
            .collect(),
        created: BTreeMap::new(),
        warned: BTreeSet::new(),
        window: Vec::new(),
        line: Vec::new(),
        replies: 0,
        findings: Findings::default(),
    };
    // A reply counts from the moment its write started (the client may
    // read it before the call returns); everything else from when it
    // returned. A sync covers only writes that returned before it started.
    let mut ordered: Vec<&Traced> = events.iter().collect();
    ordered.sort_by_key(|traced| match traced.event {
        Event::WritePipe { .. } => (traced.started, traced.finished),
        _ => (traced.finished, traced.finished),
    });
    for traced in ordered {
        state.apply(traced, context);
        if state.findings.violation.is_some() {
            break;
        }
    }
    state.findings
}

struct State {
    /// Absolute path -> the calls that wrote it since its last sync, with
    /// the trace line where each returned.
    dirty: BTreeMap<PathBuf, Vec<(String, usize)>>,
    written_since_reply: BTreeSet<PathBuf>,
    /// (fd, path) opened with O_SYNC or O_DSYNC.
    synchronous: HashSet<(i64, PathBuf)>,
    /// Files that exist, as far as the trace tells.
    known: BTreeSet<PathBuf>,
    /// Created files waiting for an fsync of their directory.
    created: BTreeMap<PathBuf, PathBuf>,
    warned: BTreeSet<PathBuf>,
    /// The syncs and renames since the last reply.
    window: Vec<Seen>,
    line: Vec<u8>,
    replies: usize,
    findings: Findings,
}

impl State {
    fn apply(&mut self, traced: &Traced, context: &Context<'_>) {
        let inside = |path: &Path| path.starts_with(context.dir) && path != context.dir;
        let event = absolute(&traced.event, context.cwd);
        match &event {
            Event::WriteFile { path, call } if inside(path) => {
                self.findings.saw_writes = true;
                let synchronous = traced
                    .fd
                    .is_some_and(|fd| self.synchronous.contains(&(fd, path.clone())));
                if !synchronous {
                    self.dirty
                        .entry(path.clone())
                        .or_default()
                        .push((call.clone(), traced.finished));
                }
                self.written_since_reply.insert(path.clone());
            }
            Event::WriteFile { .. } => {}
            Event::Open {
                path,
                fd,
                creates,
                synchronous,
                ..
            } => {
                if *synchronous {
                    self.synchronous.insert((*fd, path.clone()));
                } else {
                    self.synchronous.remove(&(*fd, path.clone()));
                }
                if *creates && inside(path) && self.known.insert(path.clone()) {
                    self.created.insert(path.clone(), parent(path));
                }
            }
            Event::Sync { path } => {
                self.window.push(Seen::Sync(path.clone()));
                if let Some(writes) = self.dirty.get_mut(path) {
                    writes.retain(|(_, returned)| *returned > traced.started);
                    if writes.is_empty() {
                        self.dirty.remove(path);
                    }
                }
                self.created.retain(|_, dir| dir != path);
            }
            Event::SyncAll => {
                for writes in self.dirty.values_mut() {
                    writes.retain(|(_, returned)| *returned > traced.started);
                }
                self.dirty.retain(|_, writes| !writes.is_empty());
                self.created.clear();
            }
            Event::RangeSync { path } => self.window.push(Seen::RangeSync(path.clone())),
            Event::Rename { from, to } => {
                self.window.push(Seen::Rename {
                    from: from.clone(),
                    to: to.clone(),
                });
                if let Some(calls) = self.dirty.remove(from) {
                    self.dirty.insert(to.clone(), calls);
                }
                if self.written_since_reply.remove(from) {
                    self.written_since_reply.insert(to.clone());
                }
                self.known.remove(from);
                self.created.remove(from);
                if inside(to) {
                    self.known.insert(to.clone());
                    self.created.insert(to.clone(), parent(to));
                }
            }
            Event::Unlink { path } => {
                self.dirty.remove(path);
                self.known.remove(path);
                self.created.remove(path);
            }
            Event::WritePipe { inode, bytes } if *inode == context.stdout_inode => {
                for &byte in bytes {
                    if byte == b'\n' {
                        let line = std::mem::take(&mut self.line);
                        self.reply(&line, context);
                    } else {
                        self.line.push(byte);
                    }
                }
            }
            Event::WritePipe { .. } => {}
            // Judged before the rule runs (`traces::judge`).
            Event::Opaque { .. } | Event::SharedMap { .. } | Event::Names { .. } | Event::Ended => {
            }
        }
    }

    /// A whole line on stdout: `READY` first, then one reply per request.
    fn reply(&mut self, line: &[u8], context: &Context<'_>) {
        let index = self.replies;
        self.replies += 1;
        let written = std::mem::take(&mut self.written_since_reply);
        let window = std::mem::take(&mut self.window);
        // Line 0 is READY; line k answers request k - 1.
        let Some(request) = index.checked_sub(1).and_then(|i| context.requests.get(i)) else {
            return;
        };
        let ok = line.strip_suffix(b"\r").unwrap_or(line) == b"OK";
        if !(ok && request.writes()) {
            return;
        }
        self.findings.acknowledged_writes += 1;
        if written.is_empty() {
            // Nothing reached a file between the request and its OK: the
            // record was acknowledged from memory.
            self.findings.violation = Some(Violation {
                request: index - 1,
                unsynced: BTreeMap::new(),
                did: Vec::new(),
            });
            return;
        }
        let unsynced: BTreeMap<PathBuf, Vec<String>> = written
            .iter()
            .filter_map(|path| {
                let calls = self.dirty.get(path)?;
                let relative = path.strip_prefix(context.dir).ok()?.to_path_buf();
                Some((
                    relative,
                    calls.iter().map(|(call, _)| call.clone()).collect(),
                ))
            })
            .collect();
        if !unsynced.is_empty() {
            let did = written
                .iter()
                .filter(|path| self.dirty.contains_key(*path))
                .flat_map(|path| what_it_did(&window, path, context.dir))
                .collect();
            self.findings.violation = Some(Violation {
                request: index - 1,
                unsynced,
                did,
            });
            return;
        }
        for file in self.created.keys() {
            if self.warned.insert(file.clone())
                && let Ok(relative) = file.strip_prefix(context.dir)
            {
                self.findings
                    .unsynced_directories
                    .push((relative.to_path_buf(), index - 1));
            }
        }
    }
}

/// In words, what the store did about `path` (left unsynced) between the
/// request and its `OK`: a `sync_file_range` instead of an fsync, an fsync
/// before the last write, the directory fsync'd but not the file, the file
/// written under another name and renamed into place.
fn what_it_did(window: &[Seen], path: &Path, dir: &Path) -> Vec<String> {
    let shown = |p: &Path| crate::escape::path(p.strip_prefix(dir).unwrap_or(p));
    let mut names = vec![path.to_path_buf()];
    let mut did = Vec::new();
    for seen in window {
        if let Seen::Rename { from, to } = seen
            && to == path
        {
            names.push(from.clone());
            did.push(format!(
                "it wrote {}, then renamed it to {} with no fsync of {} before the rename (a rename moves a name, not the bytes the name leads to)",
                shown(from),
                shown(to),
                shown(from)
            ));
        }
    }
    // An fsync of `path` before a rename onto it was of the file the rename
    // replaced, not an fsync of these bytes that came too early.
    let replaced_until = window
        .iter()
        .rposition(|seen| matches!(seen, Seen::Rename { to, .. } if to == path));
    let of_replaced =
        |index: usize, p: &Path| p == path && replaced_until.is_some_and(|at| index < at);
    for (index, seen) in window.iter().enumerate() {
        match seen {
            Seen::RangeSync(p) if names.contains(p) => did.push(format!(
                "it called sync_file_range on {}: that starts writeback, but waits for neither the disk's cache nor the file's metadata, so it is no fsync",
                shown(p)
            )),
            Seen::Sync(p) if names.contains(p) && !of_replaced(index, p) => did.push(format!(
                "it fsync'd {} before its last write to it: the fsync must come after the last write",
                shown(p)
            )),
            _ => {}
        }
    }
    let synced_file = window
        .iter()
        .any(|seen| matches!(seen, Seen::Sync(p) if names.contains(p)));
    let synced_dir = window
        .iter()
        .any(|seen| matches!(seen, Seen::Sync(p) if *p == parent(path)));
    if synced_dir && !synced_file {
        did.push(format!(
            "it fsync'd the directory, not {}: a directory's fsync makes its names durable, never a file's bytes",
            shown(path)
        ));
    }
    did.dedup();
    did
}

/// The event with its paths made absolute against `cwd` (a plain `rename`
/// or `unlink` names paths relative to the working directory).
fn absolute(event: &Event, cwd: &Path) -> Event {
    let fix = |path: &PathBuf| {
        if path.is_relative() {
            cwd.join(path)
        } else {
            path.clone()
        }
    };
    match event {
        Event::Rename { from, to } => Event::Rename {
            from: fix(from),
            to: fix(to),
        },
        Event::Unlink { path } => Event::Unlink { path: fix(path) },
        Event::WriteFile { path, call } => Event::WriteFile {
            path: fix(path),
            call: call.clone(),
        },
        other => other.clone(),
    }
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::parse::parse;

    fn findings(trace: &str, requests: &[&str]) -> Findings {
        let requests: Vec<Request> = requests
            .iter()
            .map(|line| Request::parse(line).unwrap())
            .collect();
        let existing = BTreeSet::new();
        check(
            &parse(trace),
            &Context {
                dir: Path::new("/s"),
                existing: &existing,
                stdout_inode: 9,
                requests: &requests,
                cwd: Path::new("/s"),
            },
        )
    }

    const CREATE: &str = "1 openat(AT_FDCWD</>, \"/s/wal.log\", O_RDWR|O_CREAT|O_APPEND, 0644) = 3</s/wal.log>\n\
                          1 fsync(3</s/wal.log>) = 0\n";
    const DIR_SYNC: &str = "1 openat(AT_FDCWD</>, \"/s\", O_RDONLY) = 4</s>\n1 fsync(4</s>) = 0\n";
    const READY: &str = "1 write(1<pipe:[9]>, \"READY\\n\", 6) = 6\n";

    #[test]
    fn an_fsync_before_each_ok_passes() {
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fdatasync(3</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        );
        let found = findings(&trace, &["PUT a 1"]);
        assert_eq!(found.violation, None);
        assert_eq!(found.acknowledged_writes, 1);
        assert!(found.unsynced_directories.is_empty());
    }

    #[test]
    fn a_write_without_fsync_before_its_ok_is_a_violation() {
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(1<pipe:[9]>, \"VALUE x\\n\", 8) = 8\n1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n"
        );
        let found = findings(&trace, &["GET a", "PUT a 1"]);
        let violation = found.violation.expect("a violation");
        assert_eq!(violation.request, 1);
        assert_eq!(
            violation.unsynced,
            BTreeMap::from([(PathBuf::from("wal.log"), vec!["write".to_string()])])
        );
    }

    #[test]
    fn sync_file_range_and_other_pipes_do_not_count() {
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 sync_file_range(3</s/wal.log>, 0, 3, SYNC_FILE_RANGE_WRITE) = 0\n1 write(1<pipe:[7]>, \"OK\\n\", 3) = 3\n1 write(1<pipe:[9]>, \"O\", 1) = 1\n1 write(1<pipe:[9]>, \"K\\n\", 2) = 2\n"
        );
        assert!(findings(&trace, &["WALPUT a 1"]).violation.is_some());
    }

    /// What the store did, as the violation says it.
    fn did(trace: &str) -> Vec<String> {
        findings(trace, &["WALPUT a 1"]).violation.unwrap().did
    }

    #[test]
    fn the_calls_that_are_no_fsync_are_named() {
        let range = did(&format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 sync_file_range(3</s/wal.log>, 0, 3, SYNC_FILE_RANGE_WRITE) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        ));
        assert_eq!(range.len(), 1, "{range:?}");
        assert!(
            range[0].starts_with("it called sync_file_range on wal.log"),
            "{range:?}"
        );

        let early = did(&format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"re\", 2) = 2\n1 fsync(3</s/wal.log>) = 0\n1 write(3</s/wal.log>, \"c\", 1) = 1\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        ));
        assert_eq!(
            early,
            [
                "it fsync'd wal.log before its last write to it: the fsync must come after the last write"
            ]
        );

        let directory = did(&format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(4</s>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        ));
        assert_eq!(directory.len(), 1, "{directory:?}");
        assert!(
            directory[0].starts_with("it fsync'd the directory, not wal.log"),
            "{directory:?}"
        );

        let renamed = did(&format!(
            "{CREATE}{DIR_SYNC}{READY}1 openat(AT_FDCWD</>, \"/s/wal.tmp\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.tmp>\n1 write(5</s/wal.tmp>, \"rec\", 3) = 3\n1 rename(\"/s/wal.tmp\", \"/s/wal.log\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        ));
        assert_eq!(renamed.len(), 1, "{renamed:?}");
        assert!(
            renamed[0].starts_with(
                "it wrote wal.tmp, then renamed it to wal.log with no fsync of wal.tmp"
            ),
            "{renamed:?}"
        );

        // A compaction after an fsync'd append: the fsync of wal.log was of
        // the file the rename replaced, not one that came too early.
        let compacted = did(&format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fdatasync(3</s/wal.log>) = 0\n1 openat(AT_FDCWD</>, \"/s/wal.log.tmp\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.log.tmp>\n1 write(5</s/wal.log.tmp>, \"all\", 3) = 3\n1 rename(\"/s/wal.log.tmp\", \"/s/wal.log\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        ));
        assert_eq!(compacted.len(), 1, "{compacted:?}");
        assert!(
            compacted[0].starts_with(
                "it wrote wal.log.tmp, then renamed it to wal.log with no fsync of wal.log.tmp"
            ),
            "{compacted:?}"
        );

        // A plain write with nothing else said: no claim.
        let plain = did(&format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        ));
        assert!(plain.is_empty(), "{plain:?}");
    }

    #[test]
    fn synchronous_opens_and_sync_all_count_as_fsync() {
        let osync = format!(
            "1 openat(AT_FDCWD</>, \"/s/wal.log\", O_WRONLY|O_CREAT|O_DSYNC, 0644) = 3</s/wal.log>\n{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        );
        assert_eq!(findings(&osync, &["PUT a 1"]).violation, None);
        let sync = format!(
            "{CREATE}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 sync() = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        );
        let found = findings(&sync, &["PUT a 1"]);
        assert_eq!(found.violation, None);
        assert!(
            found.unsynced_directories.is_empty(),
            "sync() covers the directory too"
        );
    }

    #[test]
    fn a_created_file_without_a_directory_fsync_is_a_warning() {
        let trace = format!(
            "{CREATE}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        );
        let found = findings(&trace, &["PUT a 1", "PUT b 2"]);
        assert_eq!(found.violation, None);
        assert_eq!(found.unsynced_directories, [(PathBuf::from("wal.log"), 0)]);
        assert_eq!(found.acknowledged_writes, 2);
    }

    #[test]
    fn a_file_renamed_into_place_needs_its_directory_synced() {
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 openat(AT_FDCWD</>, \"/s/snap.tmp\", O_WRONLY|O_CREAT, 0644) = 5</s/snap.tmp>\n1 write(5</s/snap.tmp>, \"x\", 1) = 1\n1 fsync(5</s/snap.tmp>) = 0\n1 rename(\"/s/snap.tmp\", \"/s/snap\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        );
        let found = findings(&trace, &["PUT a 1"]);
        assert_eq!(found.violation, None);
        assert_eq!(found.unsynced_directories, [(PathBuf::from("snap"), 0)]);
    }

    #[test]
    fn an_ok_before_any_write_is_a_violation() {
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n"
        );
        let violation = findings(&trace, &["PUT a 1"])
            .violation
            .expect("a violation");
        assert!(violation.unsynced.is_empty());
    }

    #[test]
    fn an_unsynced_file_renamed_over_the_log_is_a_violation() {
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 openat(AT_FDCWD</>, \"/s/wal.tmp\", O_WRONLY|O_CREAT, 0644) = 5</s/wal.tmp>\n1 write(5</s/wal.tmp>, \"all\", 3) = 3\n1 rename(\"wal.tmp\", \"wal.log\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        );
        let violation = findings(&trace, &["PUT a 1"])
            .violation
            .expect("a violation");
        assert_eq!(
            violation.unsynced.keys().collect::<Vec<_>>(),
            [&PathBuf::from("wal.log")]
        );
    }

    #[test]
    fn an_fsync_that_began_before_the_write_returned_does_not_cover_it() {
        // Thread 2's fdatasync starts while thread 1's write is in flight.
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3 <unfinished ...>\n2 fdatasync(3</s/wal.log> <unfinished ...>\n1 <... write resumed>) = 3\n2 <... fdatasync resumed>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        );
        assert!(findings(&trace, &["PUT a 1"]).violation.is_some());
    }

    #[test]
    fn a_reply_counts_from_when_its_write_started() {
        // The OK is on its way while another thread's fsync runs.
        let trace = format!(
            "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3 <unfinished ...>\n2 fsync(3</s/wal.log>) = 0\n1 <... write resumed>) = 3\n"
        );
        assert!(findings(&trace, &["PUT a 1"]).violation.is_some());
    }
}
