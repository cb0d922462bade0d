//! Checkpoints: a snapshot of the map beside the log, so the log can restart.
//!
//! `NAME.snapshot` holds every key and value as of one LSN, under one
//! checksum:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic `4B 56 53 4E 50 0D 0A 1A` (`"KVSNP\r\n\x1a"`) |
//! | 8  | 2 | version `1` |
//! | 10 | 2 | reserved `0` |
//! | 12 | 8 | LSN: the last record the snapshot includes |
//! | 20 | 8 | `N`, the number of keys |
//! | 28 | … | `N` times: key length (4), key, value length (4), value |
//! | end − 4 | 4 | CRC-32 of every byte before it |
//!
//! A checkpoint ([`crate::KvStore::checkpoint`]) goes in an order that a
//! crash between any two file-changing calls survives:
//!
//! 1. the snapshot is written to a temporary file beside the log, fsync'd,
//!    renamed over `NAME.snapshot`, and the directory fsync'd: until the
//!    rename the old snapshot (or none) and the whole log hold everything;
//!    after it, the new snapshot does, and the log's records at or below its
//!    LSN are skipped on replay (replay stays idempotent);
//! 2. a new log (its header, then a skip marker at the snapshot's LSN, so its
//!    LSNs follow the snapshot's) is written to a locked temporary file,
//!    fsync'd, renamed over `NAME`, and the directory fsync'd: the rename
//!    removes the old log in the same step that puts the new one in place.
//!
//! Recovery loads the snapshot, if there is one, and replays the log's later
//! records. A snapshot that does not check out is an error, never an empty
//! map: the records it held are no longer in the log.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

const MAGIC: [u8; 8] = *b"KVSNP\r\n\x1a";
const VERSION: u16 = 1;
const FIXED: usize = 28;

/// A checkpoint's snapshot: the map as of `lsn`, kept in `NAME.snapshot`
/// beside the log (magic `"KVSNP\r\n\x1a"`, version 1, the LSN, the key
/// count, then each key and value with its length, and a CRC-32 of it all).
///
/// [`crate::KvStore::checkpoint`] writes it to a temporary file, fsyncs it,
/// renames it over `NAME.snapshot` and fsyncs the directory; only then does
/// it rename a new log (header, then a skip marker at this LSN) over the old
/// one. A crash between any two of those calls leaves either the old
/// snapshot (or none) with the whole log, or the new snapshot with a log
/// whose records at or below its LSN are skipped on replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last LSN the snapshot includes; the log's records up to it are
    /// skipped on replay.
    pub lsn: u64,
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// What `wal verify` finds beside a log: its checkpoint's snapshot, or the
/// lack of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotCheck {
    /// No snapshot, and the log does not start after a checkpoint.
    None,
    /// A snapshot that checks out: the LSN it covers, and its keys.
    Ok { lsn: u64, keys: u64 },
    /// A snapshot that does not check out ([`Error::DamagedSnapshot`]'s
    /// reason, or why it cannot be read): recovery refuses the store.
    Damaged { reason: String },
    /// No snapshot, but the log starts with a checkpoint's skip marker at
    /// `after` (its first entry): the keys as of that LSN are in no file.
    Missing { after: u64 },
}

impl SnapshotCheck {
    /// Looks at the snapshot beside the log at `log`, and at the log's
    /// first entry. Never modifies either.
    pub fn of(log: &Path) -> SnapshotCheck {
        match Snapshot::load_beside(log) {
            Ok(Some(snapshot)) => SnapshotCheck::Ok {
                lsn: snapshot.lsn,
                keys: snapshot.map.len() as u64,
            },
            Ok(None) => match starts_after_checkpoint(log) {
                Some(after) => SnapshotCheck::Missing { after },
                None => SnapshotCheck::None,
            },
            Err(Error::DamagedSnapshot { reason, .. }) => SnapshotCheck::Damaged { reason },
            Err(err) => SnapshotCheck::Damaged {
                reason: err.to_string(),
            },
        }
    }

    /// Whether recovery of the store would refuse it or lose keys.
    pub fn is_bad(&self) -> bool {
        matches!(
            self,
            SnapshotCheck::Damaged { .. } | SnapshotCheck::Missing { .. }
        )
    }
}

/// The LSN of the skip marker a log starts with (right after its header),
/// as a checkpoint's new log does, when it starts with one that checks out
/// and no saved tail beside the log explains it (a cut of the log's first
/// records writes a marker there too).
fn starts_after_checkpoint(log: &Path) -> Option<u64> {
    use crate::format::{self, RECORD_HEADER_LEN, RecordHeader, SKIP_OP};
    use std::io::Read;
    crate::reader::check_regular_file(log).ok()?;
    let mut head = Vec::new();
    let file = std::fs::File::open(log).ok()?;
    file.take((crate::FILE_HEADER_LEN + RECORD_HEADER_LEN) as u64)
        .read_to_end(&mut head)
        .ok()?;
    let header_len = format::claimed_header_len(&head);
    let log_format = format::check_file_header(head.get(..header_len)?).ok()?;
    let marker: &[u8; RECORD_HEADER_LEN] = head
        .get(header_len..header_len + RECORD_HEADER_LEN)?
        .try_into()
        .ok()?;
    let parsed = RecordHeader::parse(marker);
    let is_marker = parsed.op_code == SKIP_OP
        && parsed.key_len == 0
        && parsed.value_len == 0
        && log_format.crc().of(&marker[4..]) == parsed.crc;
    let cut_before = crate::cut_tail::highest_saved_lsn(log).ok()?.unwrap_or(0);
    (is_marker && parsed.lsn > cut_before).then_some(parsed.lsn)
}

/// Where the snapshot of the log at `log` lives: `NAME.snapshot` beside it
/// (beside the file it links to, when `log` is a symlink).
pub fn snapshot_path(log: &Path) -> PathBuf {
    let log = crate::fsutil::through_symlink(log);
    let mut name = log.file_name().unwrap_or_default().to_os_string();
    name.push(".snapshot");
    log.with_file_name(name)
}

impl Snapshot {
    /// The snapshot beside the log at `log`, `None` when there is none. A
    /// snapshot that does not check out is [`Error::DamagedSnapshot`].
    pub fn load_beside(log: &Path) -> Result<Option<Snapshot>> {
        let path = snapshot_path(log);
        let Some(bytes) = read_regular_file(&path)? else {
            return Ok(None);
        };
        Snapshot::decode(&bytes)
            .map(Some)
            .map_err(|reason| Error::DamagedSnapshot {
                path,
                reason: reason.to_string(),
            })
    }

    fn decode(bytes: &[u8]) -> Result<Snapshot, &'static str> {
        if bytes.len() < FIXED + 4 || bytes[..8] != MAGIC {
            return Err("not a snapshot (wrong magic or too short)");
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err("checksum mismatch");
        }
        if u16::from_le_bytes([body[8], body[9]]) != VERSION || body[10..12] != [0, 0] {
            return Err("unknown snapshot version");
        }
        let lsn = u64::from_le_bytes(body[12..20].try_into().expect("8 bytes"));
        let count = u64::from_le_bytes(body[20..28].try_into().expect("8 bytes"));
        let mut rest = &body[FIXED..];
        let take = |rest: &mut &[u8]| -> Result<Vec<u8>, &'static str> {
            let (len, after) = rest.split_at_checked(4).ok_or("truncated entry")?;
            let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
            let (field, after) = after.split_at_checked(len).ok_or("truncated entry")?;
            *rest = after;
            Ok(field.to_vec())
        };
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let key = take(&mut rest)?;
            let value = take(&mut rest)?;
            map.insert(key, value);
        }
        if !rest.is_empty() {
            return Err("bytes after the last entry");
        }
        Ok(Snapshot { lsn, map })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.lsn.to_le_bytes());
        out.extend_from_slice(&(self.map.len() as u64).to_le_bytes());
        for (key, value) in &self.map {
            for field in [key, value] {
                out.extend_from_slice(&(field.len() as u32).to_le_bytes());
                out.extend_from_slice(field);
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Step 1 of a checkpoint: writes the snapshot beside the log at `log`
    /// and puts it in place atomically (temporary file, fsync, rename,
    /// directory fsync).
    pub(crate) fn save_beside(&self, log: &Path) -> Result<()> {
        let path = snapshot_path(log);
        let mut temp = temp_beside(&path)?;
        crash_point("snapshot's temporary file created");
        temp.write_all(&self.encode()).at(&path)?;
        crash_point("snapshot written");
        temp.as_file().sync_all().at(&path)?;
        crash_point("snapshot synced");
        temp.persist(&path)
            .map_err(|err| Error::io(&path, err.error))?;
        crash_point("snapshot renamed");
        crate::fsutil::sync_parent_dir(&path)?;
        crash_point("snapshot's directory synced");
        Ok(())
    }
}

/// The bytes of the regular file at `path`, `None` when there is none.
///
/// Anything but a regular file is refused before it is opened (a FIFO
/// would block every command, a link to `/dev/zero` would never end), and
/// checked again on the handle opened; the read is bounded by the size the
/// handle reports, so a file growing meanwhile cannot make it read forever.
fn read_regular_file(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    crate::reader::check_regular_file(path)?;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io(path, err)),
    };
    let metadata = file.metadata().at(path)?;
    if !metadata.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
            kind: "special file",
        });
    }
    let len = metadata.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 30));
    file.take(len).read_to_end(&mut bytes).at(path)?;
    Ok(Some(bytes))
}

/// A temporary file in `path`'s directory, named after it.
pub(crate) fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .at(path)
}

/// Crash tests of checkpoints: with `WAL_CRASH_AT=N` in the environment, the
/// process kills itself with SIGKILL at the N-th of these points (each right
/// after a file-changing system call), so a test can stop a checkpoint
/// between any two of them. Without the variable, nothing happens.
pub(crate) fn crash_point(_after: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static REACHED: AtomicU32 = AtomicU32::new(0);
    let Some(at) = std::env::var("WAL_CRASH_AT")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return;
    };
    if REACHED.fetch_add(1, Ordering::SeqCst) + 1 == at {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // SIGKILL is not deliverable late; should `kill` be missing, abort.
        std::process::abort();
    }
}
