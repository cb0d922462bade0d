//! Opening a log: replaying it, judging damage by the recovery mode, and
//! cutting a damaged tail (after saving it) so that appends stay reachable.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use crate::cut_tail::CutTail;
use crate::entry::RecordRef;
use crate::error::{Error, IoContext, Result};
use crate::format::{self, LogFormat};
use crate::fsutil::{lock_for_writing, parent_dir, sync_parent_dir};
use crate::hooks;
use crate::read_ahead::Chunking;
use crate::reader::{Summary, WalReader};
use crate::record::Damage;
use crate::snapshot::Snapshot;
use crate::writer::{LogEnd, SyncPolicy, Wal};

/// What recovery accepts, named after RocksDB's WAL recovery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Keep the readable prefix, skip everything from the first damage on
    /// (warning about it). What the lessons teach, and the default.
    #[default]
    PointInTime,
    /// Accept damage only at the tail: nothing readable may follow it,
    /// unless it is zero-filled (nothing after it was acknowledged).
    TolerateTornTail,
    /// Any damage at all is an error.
    AbsoluteConsistency,
}

impl RecoveryMode {
    pub fn name(self) -> &'static str {
        match self {
            RecoveryMode::PointInTime => "point-in-time",
            RecoveryMode::TolerateTornTail => "tolerate-torn-tail",
            RecoveryMode::AbsoluteConsistency => "absolute-consistency",
        }
    }

    fn accepts(self, damage: &Damage) -> bool {
        match self {
            RecoveryMode::PointInTime => true,
            RecoveryMode::TolerateTornTail => damage.is_cuttable(),
            RecoveryMode::AbsoluteConsistency => false,
        }
    }
}

impl fmt::Display for RecoveryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to open a log for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalOptions {
    pub sync: SyncPolicy,
    pub mode: RecoveryMode,
}

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Records handed to the caller, in LSN order.
    pub records_replayed: u64,
    /// The highest LSN the log has used (0 for none); appends continue
    /// after it. That is the last replayed record's, unless a skip marker
    /// follows it, or a writer just cut readable records off (their highest
    /// LSN, then, or the highest in the saved tails beside the log).
    pub last_lsn: u64,
    /// Length of the readable prefix of the file.
    pub valid_len: u64,
    /// Zero bytes preallocated after the log's end (see [`Summary`]).
    pub preallocated: u64,
    /// The first damage, if the log did not end cleanly.
    pub damage: Option<Damage>,
    /// Set when a writer cut the damaged tail off.
    pub cut: Option<CutTail>,
}

impl RecoveryReport {
    fn from_summary(summary: Summary) -> Self {
        RecoveryReport {
            records_replayed: summary.records,
            last_lsn: summary.last_lsn,
            valid_len: summary.valid_len,
            preallocated: summary.preallocated,
            damage: summary.damage,
            cut: None,
        }
    }

    /// The warning recovery gives about skipped bytes, if any:
    /// `skipping corrupt record at offset N (...)`, the lessons' words,
    /// followed by `; a torn tail` when it is one, the words of
    /// [`Damage`]'s verdict (`torn tail at offset N`), so that the two read
    /// as one account.
    pub fn warning(&self) -> Option<String> {
        let damage = self.damage.as_ref()?;
        let mut line = format!(
            "skipping corrupt record at offset {} ({})",
            damage.offset,
            damage.reason()
        );
        if damage.records_after > 0 {
            let after = crate::record::readable_records(damage.records_after);
            line.push_str(&format!(" and the {after} after it"));
        }
        if damage.is_torn_tail() {
            line.push_str("; a torn tail");
        }
        Some(line)
    }
}

/// Replays `path` without modifying it: calls `on_record` for every readable
/// record in order and judges damage by `mode`.
pub fn replay(
    path: impl AsRef<Path>,
    mode: RecoveryMode,
    on_record: impl FnMut(RecordRef<'_>),
) -> Result<RecoveryReport> {
    let path = path.as_ref();
    let summary = read_all(WalReader::open(path)?, on_record)?;
    judge(path, mode, &summary)?;
    Ok(RecoveryReport::from_summary(summary))
}

/// [`replay`] of a store that may have been checkpointed: `start` is handed
/// the snapshot beside the log, and what it returns goes to `on_record` with
/// every record of the log (those at or below the snapshot's LSN included:
/// the snapshot holds them), and back to the caller.
///
/// The log is opened before the snapshot is read. A checkpoint renames its
/// snapshot into place before its new log, so the log opened is never newer
/// than the snapshot read after it, and every record the snapshot does not
/// hold is still in that log; reading them the other way round could pair
/// an old snapshot with a new log, missing every record in between.
pub fn replay_store<T>(
    path: impl AsRef<Path>,
    mode: RecoveryMode,
    start: impl FnOnce(Option<Snapshot>) -> T,
    mut on_record: impl FnMut(&mut T, RecordRef<'_>),
) -> Result<(RecoveryReport, T)> {
    let path = path.as_ref();
    let reader = WalReader::open(path)?;
    hooks::step("log opened for reading").at(path)?;
    let mut state = start(Snapshot::load_beside(path)?);
    let summary = read_all(reader, |record| on_record(&mut state, record))?;
    judge(path, mode, &summary)?;
    Ok((RecoveryReport::from_summary(summary), state))
}

fn read_all<R: Read + Seek>(
    mut reader: WalReader<R>,
    mut on_record: impl FnMut(RecordRef<'_>),
) -> Result<Summary> {
    // Borrowed: a caller that keeps nothing (a writer opening its log)
    // copies nothing, and one that keeps records copies only those.
    while let Some(entry) = reader.next_ref()? {
        on_record(entry.record);
    }
    reader.finish()
}

fn judge(path: &Path, mode: RecoveryMode, summary: &Summary) -> Result<()> {
    match &summary.damage {
        Some(damage) if !mode.accepts(damage) => Err(Error::Damaged {
            path: path.to_path_buf(),
            damage: Box::new(damage.clone()),
            mode: mode.name(),
        }),
        _ => Ok(()),
    }
}

/// Opens `path` for appending, creating it when missing.
///
/// An existing log is replayed first (`on_record` sees every readable record)
/// and judged by `options.mode`. If it ends in damage the mode accepts, the
/// damaged bytes are copied to a file beside the log (`NAME.broken-OFFSET`),
/// that copy is made durable, and only then is the log cut back to its
/// readable prefix; otherwise every later append would sit behind the damage
/// where no reader reaches it.
pub fn open(
    path: impl AsRef<Path>,
    options: WalOptions,
    mut on_record: impl FnMut(RecordRef<'_>),
) -> Result<(Wal, RecoveryReport)> {
    let (wal, report, ()) = open_with(path.as_ref(), options, |_| (), |(), r| on_record(r))?;
    Ok((wal, report))
}

/// How many times a writer opens the log again after finding that the file
/// it locked is no longer the one at the path (a checkpoint renamed a new
/// log over it meanwhile). Each retry means a whole checkpoint finished in
/// between, so this many in a row is a store checkpointing without pause.
const REOPEN_ATTEMPTS: u32 = 20;

/// [`open`] for a caller that starts from the checkpoint's snapshot:
/// `start` is handed the snapshot beside the log, read only once the log is
/// locked (so that no checkpoint can replace the snapshot and the log
/// between the two reads), and what it returns goes to `on_record` with
/// every record, and back to the caller.
pub(crate) fn open_with<T>(
    path: &Path,
    options: WalOptions,
    start: impl FnOnce(Option<Snapshot>) -> T,
    mut on_record: impl FnMut(&mut T, RecordRef<'_>),
) -> Result<(Wal, RecoveryReport, T)> {
    // Bounded: losing the creation race means the log now exists, and only
    // a log removed again at once could send us round more than twice.
    let mut attempts = 0;
    let file = loop {
        attempts += 1;
        if attempts > REOPEN_ATTEMPTS {
            return Err(Error::io(
                path,
                io::Error::other(format!(
                    "the log was replaced {REOPEN_ATTEMPTS} times while it was being opened"
                )),
            ));
        }
        crate::reader::check_regular_file(path)?;
        hooks::step("opening the log").at(path)?;
        // Not O_APPEND: a preallocated log is written in place, at its
        // end, before the end of the file.
        match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => {
                hooks::step("log opened, not yet locked").at(path)?;
                lock_for_writing(&file, path)?;
                // A checkpoint that finished while we waited for the lock
                // renamed a new log over the file we hold: appends to it
                // would go to a file no longer at the path, and be lost.
                if is_at_path(&file, path)? {
                    break file;
                }
                continue;
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io(path, err)),
        }
        match create_atomically(path, BesideSnapshot::Follow) {
            Ok((file, end)) => {
                let wal = Wal::from_file(file, path, end, options.sync);
                let mut report = RecoveryReport {
                    records_replayed: 0,
                    last_lsn: 0,
                    valid_len: wal.end_offset(),
                    preallocated: 0,
                    damage: None,
                    cut: None,
                };
                let snapshot = Snapshot::load_beside(path)?;
                let floor = snapshot.as_ref().map(|s| s.lsn);
                let state = start(snapshot);
                follow_snapshot(&wal, &mut report, floor)?;
                return Ok((wal, report, state));
            }
            // Another writer created it between our open and our create:
            // open theirs.
            Err(Error::AlreadyExists { .. }) => {}
            Err(err) => return Err(err),
        }
    };
    // What a checkpoint killed half way left: no live one can own it now.
    crate::fsutil::remove_stale_temporaries(path)?;
    // The snapshot only now: a checkpoint replaces it only while it holds
    // the log's lock, which is ours.
    let snapshot = Snapshot::load_beside(path)?;
    let floor = snapshot.as_ref().map(|s| s.lsn);
    let mut state = start(snapshot);
    let len = file.metadata().at(path)?.len();
    let mut reader = WalReader::new(&file, len, path)?;
    reader.read_ahead_through(&file, Chunking::DEFAULT);
    let summary = read_all(reader, |record| on_record(&mut state, record))?;
    judge(path, options.mode, &summary)?;
    let found_format = summary.format;
    let mut report = RecoveryReport::from_summary(summary);
    // LSNs of readable records about to be cut off must never be handed out
    // again: a skip marker in their place moves the LSN past them.
    // So must those of records cut before, kept in the saved tails beside
    // the log: the skip marker that moved past them may be what is damaged.
    let saved_before = match report.damage {
        Some(_) => crate::cut_tail::highest_saved_lsn(path)?,
        None => None,
    };
    let skip_to = report
        .damage
        .as_ref()
        .and_then(|damage| damage.highest_lsn_after)
        .max(saved_before)
        // (A cut record with LSN u64::MAX, which only a hostile file holds,
        // leaves no LSN to continue at: it is not skipped past.)
        .filter(|&highest| highest > report.last_lsn && highest < u64::MAX);
    if let Some(damage) = &report.damage {
        // (Damage in the header leaves no log for a marker: one follows
        // the new header below.)
        let marker = found_format.and(skip_to).zip(found_format);
        report.cut = Some(crate::cut_tail::cut_tail(
            path,
            &file,
            damage,
            len,
            marker,
            found_format,
        )?);
        report.preallocated = 0;
        if marker.is_some() {
            report.valid_len += format::RECORD_HEADER_LEN as u64;
        }
    }
    let format = if let Some(format) = found_format {
        format
    } else {
        // An empty file, or one torn while its header was written (the tail
        // cut above left it empty): give it a header now, a new log's, and
        // the marker the cut could not put in the header's place.
        use std::os::unix::fs::FileExt;
        let format = LogFormat::new_log();
        let mut head = format::file_header(format);
        if let Some(lsn) = skip_to {
            head.extend_from_slice(&format::skip_marker(lsn, format));
        }
        file.write_all_at(&head, 0).at(path)?;
        file.sync_all().at(path)?;
        sync_parent_dir(path)?;
        report.valid_len = head.len() as u64;
        format
    };
    if found_format.is_some() && report.cut.is_none() {
        // The records just replayed may exist only in the page cache (a
        // writer that never synced, then died). Make them durable before the
        // new writer counts them as durable and the caller acts on them.
        file.sync_data().at(path)?;
    }
    if let Some(highest) = skip_to {
        report.last_lsn = highest;
    }
    let end = LogEnd {
        format,
        offset: report.valid_len,
        last_lsn: report.last_lsn,
    };
    let wal = Wal::from_file(file, path, end, options.sync);
    follow_snapshot(&wal, &mut report, floor)?;
    // A skip marker written after the snapshot took its bytes from the
    // preallocated zeros.
    let marker = wal.end_offset() - report.valid_len;
    report.valid_len += marker;
    report.preallocated = report.preallocated.saturating_sub(marker);
    Ok((wal, report, state))
}

/// Whether `file` is still the file at `path` (the same device and inode;
/// through a symlink, the file it links to).
fn is_at_path(file: &File, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata().at(path)?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(named.dev() == held.dev() && named.ino() == held.ino()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(Error::io(path, err)),
    }
}

/// A log behind its checkpoint's snapshot (created anew after the log was
/// removed, or an older copy put back) must still hand out LSNs after the
/// snapshot's (`floor`, when there is one): a skip marker moves it on.
fn follow_snapshot(wal: &Wal, report: &mut RecoveryReport, floor: Option<u64>) -> Result<()> {
    if let Some(floor) = floor {
        wal.skip_to(floor)?;
        report.last_lsn = report.last_lsn.max(floor);
    }
    Ok(())
}

impl Wal {
    /// Creates a new, empty log at `path`; fails if the file exists.
    /// The header and the directory entry are fsync'd before it returns.
    ///
    /// Creation is atomic: the header is written and fsync'd in a temporary
    /// file beside the log, which is locked, and only then linked to `path`
    /// if that name is still free. No other process can ever see the log
    /// without its header, nor take its lock before its creator has it.
    ///
    /// A checkpoint's snapshot beside `path` is refused
    /// ([`Error::SnapshotBeside`]): its keys and LSNs belong to the store
    /// this log's name had, and a new log starting at LSN 1 beside it would
    /// have its records skipped by recovery as already in the snapshot.
    /// [`crate::open`] and [`crate::KvStore::recover`] continue such a store.
    pub fn create(path: impl AsRef<Path>, policy: SyncPolicy) -> Result<Wal> {
        let path = path.as_ref();
        let (file, end) = create_atomically(path, BesideSnapshot::Refuse)?;
        Ok(Wal::from_file(file, path, end, policy))
    }
}

/// What creating a log does about a checkpoint's snapshot beside it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BesideSnapshot {
    /// Refuse: the caller asked for a new, empty store.
    Refuse,
    /// Create the log; the caller follows the snapshot's LSN (recovery of
    /// a store whose log was removed).
    Follow,
}

/// Writes a new log's header into a locked temporary file in `path`'s
/// directory and links it to `path` only if no file has that name; returns
/// the file, still locked, and where its log ends.
fn create_atomically(path: &Path, beside_snapshot: BesideSnapshot) -> Result<(File, LogEnd)> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wal".into());
    // Mode 0666 less the umask, as a plain `open(O_CREAT)` would give (a
    // temporary file's own default is 0600).
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".creating")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .at(path)?;
    // Locked before it has its name: a writer that opens the new log at once
    // waits for us instead of appending to it first.
    lock_for_writing(temp.as_file(), path)?;
    let format = LogFormat::new_log();
    let header = format::file_header(format);
    temp.as_file().write_all(&header).at(path)?;
    temp.as_file().sync_all().at(path)?;
    if beside_snapshot == BesideSnapshot::Refuse {
        let snapshot = crate::snapshot::snapshot_path(path);
        if std::fs::symlink_metadata(&snapshot).is_ok() {
            return Err(Error::SnapshotBeside {
                path: path.to_path_buf(),
                snapshot,
            });
        }
    }
    let file = temp.persist_noclobber(path).map_err(|err| {
        if err.error.kind() == io::ErrorKind::AlreadyExists {
            Error::AlreadyExists {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, err.error)
        }
    })?;
    sync_parent_dir(path)?;
    let end = LogEnd {
        format,
        offset: header.len() as u64,
        last_lsn: 0,
    };
    Ok((file, end))
}
