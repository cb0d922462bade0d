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
//!
//! A rename over an existing name is durable only once its directory is
//! fsync'd ([`super::dirops`]): an `OK` whose request wrote the renamed file
//! by its new name, before that fsync, breaks the rule too.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use store_protocol::Request;

use super::dirops::{Pending, Renamed};
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
    /// For an unsynced file renamed into place while the store served the
    /// request: its name when it was written (`wal.log` -> `wal.tmp`).
    pub written_as: BTreeMap<PathBuf, PathBuf>,
    /// The renames over existing names the `OK` depends on, not made
    /// durable by an fsync of their directory before it (paths relative to
    /// the store's directory), oldest first.
    pub renames: Vec<Renamed>,
}

/// A call between two replies that bears on what was made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Sync(PathBuf),
    RangeSync(PathBuf),
    Rename { from: PathBuf, to: PathBuf },
}

/// A name made in the store's directory, not made durable by the next `OK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsyncedName {
    /// The file, relative to the store's directory.
    pub file: PathBuf,
    /// For a rename over an existing file, the name renamed over it: a
    /// power loss brings the old file back rather than dropping this one.
    pub replaced_by: Option<PathBuf>,
    /// The request whose `OK` it was.
    pub request: usize,
}

/// What the rule found in one process's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// Files created (or renamed into place) whose directory was not
    /// fsync'd before the next `OK`, where no `OK` depended on the rename.
    pub unsynced_directories: Vec<UnsyncedName>,
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
        renames: Pending::default(),
        removed: BTreeMap::new(),
        written_data: BTreeSet::new(),
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
    /// Renames over existing names waiting for an fsync of their directory.
    renames: Pending,
    /// Names removed (unlinked, or renamed away) and not yet made durable
    /// by an fsync of their directory, with the trace line where each
    /// removal returned: a power loss can bring the old file back, so a
    /// rename or link onto such a name replaces it as surely as a rename
    /// over it.
    removed: BTreeMap<PathBuf, usize>,
    /// The files written since the last reply, under their names now: like
    /// `written_since_reply`, but a file renamed over is no longer one of
    /// them (the bytes written to it stay in the replaced file).
    written_data: BTreeSet<PathBuf>,
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
                self.written_data.insert(path.clone());
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
            Event::Dup { from, to, path } => {
                // The number `to` now names `from`'s open file: whatever
                // it was opened with before no longer applies.
                self.synchronous.retain(|(fd, _)| fd != to);
                if self.synchronous.contains(&(*from, path.clone())) {
                    self.synchronous.insert((*to, path.clone()));
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
                self.renames.synced(path, traced.started);
                self.removed.retain(|name, returned| {
                    !(parent(name) == *path && traced.started > *returned)
                });
            }
            Event::SyncAll => {
                for writes in self.dirty.values_mut() {
                    writes.retain(|(_, returned)| *returned > traced.started);
                }
                self.dirty.retain(|_, writes| !writes.is_empty());
                self.created.clear();
                self.renames.synced_all(traced.started);
                self.removed
                    .retain(|_, returned| traced.started <= *returned);
            }
            Event::RangeSync { path } => self.window.push(Seen::RangeSync(path.clone())),
            Event::Rename { from, to } => {
                self.window.push(Seen::Rename {
                    from: from.clone(),
                    to: to.clone(),
                });
                // A folder renamed takes the files beneath it along.
                let moved = |path: &PathBuf| -> Option<PathBuf> {
                    let rest = path.strip_prefix(from).ok()?;
                    Some(if rest.as_os_str().is_empty() {
                        to.clone()
                    } else {
                        to.join(rest)
                    })
                };
                let dirty: Vec<PathBuf> = self
                    .dirty
                    .keys()
                    .filter_map(|p| moved(p).map(|_| p.clone()))
                    .collect();
                for path in dirty {
                    if let (Some(calls), Some(new)) = (self.dirty.remove(&path), moved(&path)) {
                        self.dirty.insert(new, calls);
                    }
                }
                self.written_since_reply = std::mem::take(&mut self.written_since_reply)
                    .into_iter()
                    .map(|path| moved(&path).unwrap_or(path))
                    .collect();
                let old_written = self.written_data.remove(to);
                self.written_data = std::mem::take(&mut self.written_data)
                    .into_iter()
                    .map(|path| moved(&path).unwrap_or(path))
                    .collect();
                if inside(to) && (self.exists(to) || self.removed.contains_key(to)) {
                    self.renames.renamed(Renamed {
                        from: from.clone(),
                        to: to.clone(),
                        replies: self.replies,
                        from_durable: !self.created.contains_key(from),
                        old_written,
                        finished: traced.finished,
                    });
                }
                if inside(from) && self.exists(from) {
                    self.removed.insert(from.clone(), traced.finished);
                }
                // The names beneath a renamed folder move with it.
                let beneath: Vec<PathBuf> = self
                    .known
                    .iter()
                    .filter(|path| path.starts_with(from))
                    .cloned()
                    .collect();
                for path in beneath {
                    self.known.remove(&path);
                    if let Some(new) = moved(&path).filter(|new| inside(new)) {
                        self.known.insert(new);
                    }
                }
                self.created.remove(from);
                if inside(to) {
                    self.known.insert(to.clone());
                    self.created.insert(to.clone(), parent(to));
                    self.removed.remove(to);
                }
            }
            Event::Names {
                path: to,
                from: Some(from),
                ..
            } if inside(to) => {
                // A hard link onto a name: like a rename onto it, but the
                // source keeps its name. Its bytes are the source's.
                if let Some(calls) = self.dirty.get(from).cloned() {
                    self.dirty.insert(to.clone(), calls);
                }
                if self.written_data.contains(from) {
                    self.written_data.insert(to.clone());
                }
                if self.exists(to) || self.removed.contains_key(to) {
                    self.renames.renamed(Renamed {
                        from: from.clone(),
                        to: to.clone(),
                        replies: self.replies,
                        from_durable: !self.created.contains_key(from),
                        old_written: false,
                        finished: traced.finished,
                    });
                }
                self.known.insert(to.clone());
                self.created.insert(to.clone(), parent(to));
                self.removed.remove(to);
            }
            Event::Unlink { path } => {
                self.dirty.remove(path);
                if inside(path) && self.known.remove(path) {
                    self.removed.insert(path.clone(), traced.finished);
                }
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
            Event::Opaque { .. }
            | Event::SharedMap { .. }
            | Event::Names { .. }
            | Event::SyncOther { .. }
            | Event::Chdir { .. }
            | Event::Ended => {}
        }
    }

    /// Whether `path` exists as far as the trace tells: a file known, or a
    /// folder holding one.
    fn exists(&self, path: &Path) -> bool {
        self.known.iter().any(|known| known.starts_with(path))
    }

    /// A whole line on stdout: `READY` first, then one reply per request.
    fn reply(&mut self, line: &[u8], context: &Context<'_>) {
        let index = self.replies;
        self.replies += 1;
        let written = std::mem::take(&mut self.written_since_reply);
        let written_data = std::mem::take(&mut self.written_data);
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
                written_as: BTreeMap::new(),
                renames: Vec::new(),
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
        // Names the loss state can hold: beneath DIR once `..` is resolved
        // (a rename out of DIR failed the check before the rule ran).
        let relative = |path: &Path| {
            super::lexical(path)
                .strip_prefix(context.dir)
                .ok()
                .filter(|relative| !relative.as_os_str().is_empty())
                .map(Path::to_path_buf)
        };
        let renames: Vec<Renamed> = self
            .renames
            // A file written beneath a renamed folder depends on it too.
            .depended_on(index, |to| {
                written_data
                    .iter()
                    .any(|path| path == to || path.starts_with(to))
            })
            .into_iter()
            .filter_map(|renamed| {
                Some(Renamed {
                    from: relative(&renamed.from)?,
                    to: relative(&renamed.to)?,
                    ..renamed
                })
            })
            .collect();
        if !unsynced.is_empty() || !renames.is_empty() {
            let mut did: Vec<String> = written
                .iter()
                .filter(|path| self.dirty.contains_key(*path))
                .flat_map(|path| what_it_did(&window, path, context.dir))
                .collect();
            if let Some(last) = renames.last()
                && !unsynced.is_empty()
            {
                did.push(format!(
                    "it did not fsync the directory after renaming {} over {}, so a power loss can undo the rename",
                    crate::escape::path(&last.from),
                    crate::escape::path(&last.to)
                ));
            }
            let written_as = unsynced
                .keys()
                .filter_map(|file| {
                    window.iter().rev().find_map(|seen| match seen {
                        Seen::Rename { from, to }
                            if to.strip_prefix(context.dir).ok() == Some(file.as_path()) =>
                        {
                            Some((file.clone(), relative(from)?))
                        }
                        _ => None,
                    })
                })
                .collect();
            self.findings.violation = Some(Violation {
                request: index - 1,
                unsynced,
                did,
                written_as,
                renames,
            });
            return;
        }
        for file in self.created.keys() {
            if self.warned.insert(file.clone())
                && let Ok(relative) = file.strip_prefix(context.dir)
            {
                let replaced = self.renames.latest_over(file).map(|renamed| {
                    let from = renamed.from.strip_prefix(context.dir);
                    from.unwrap_or(&renamed.from).to_path_buf()
                });
                self.findings.unsynced_directories.push(UnsyncedName {
                    file: relative.to_path_buf(),
                    replaced_by: replaced,
                    request: index - 1,
                });
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
    // `..` resolved too: `sub/../wal.log` is the name `wal.log`.
    let fix = |path: &PathBuf| {
        if path.is_relative() {
            super::lexical(&cwd.join(path))
        } else {
            super::lexical(path)
        }
    };
    match event {
        Event::Rename { from, to } => Event::Rename {
            from: fix(from),
            to: fix(to),
        },
        Event::Unlink { path } => Event::Unlink { path: fix(path) },
        Event::Names { path, call, from } => Event::Names {
            path: fix(path),
            call: call.clone(),
            from: from.as_ref().map(fix),
        },
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
mod tests;
