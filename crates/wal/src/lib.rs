//! A crash-safe write-ahead log (WAL) and the key-value store built on it.
//!
//! The log is the source of truth: a change is appended and made durable
//! before anything else sees it, and after a crash the state is rebuilt by
//! replaying the log. This crate is the reference implementation that the
//! week-9 crash drills run against, so it is explicit about every byte it
//! writes and about everything it finds when reading them back.
//!
//! * [`Wal`] appends records (fsync per [`SyncPolicy`], group commit across
//!   threads, poisoned for good by a failed write or fsync).
//! * [`WalReader`] streams records back and ends with a [`Summary`]: a clean
//!   end, or the first [`Damage`] with what lies behind it.
//! * [`open`] and [`replay`] apply a [`RecoveryMode`] to what the reader found;
//!   `open` also cuts a damaged tail off (saving it first) so that appends stay
//!   reachable.
//! * [`KvStore`] is the map on top: `put`/`delete` go to the log first;
//!   [`KvStore::write_batch`] logs several changes as one atomic batch;
//!   [`KvStore::checkpoint`] writes a [`Snapshot`] beside the log and
//!   restarts the log after it, in an order that survives a crash at every
//!   step (see [`Snapshot`]).
//!
//! # On-disk format (version 2)
//!
//! All integers are little-endian. A file is a 24-byte header followed by
//! records, back to back, with no padding and no blocks, and then, in a log
//! whose writer syncs, zeros to the end of the file (preallocated space).
//!
//! ## File header
//!
//! | offset | size | field      | value                                          |
//! |-------:|-----:|------------|------------------------------------------------|
//! | 0      | 8    | magic      | `4B 56 57 41 4C 0D 0A 1A` (`"KVWAL\r\n\x1a"`)  |
//! | 8      | 2    | version    | `2`                                            |
//! | 10     | 2    | reserved   | `0`                                            |
//! | 12     | 8    | log id     | random, never 0; new for every log (a checkpoint starts a new log) |
//! | 20     | 4    | header CRC | CRC-32 (IEEE) of bytes 0..20                   |
//!
//! The log id ties records to their log: every record's checksum covers it
//! (below), so a record copied in from another log, or left in a reused file
//! by an earlier one, fails its checksum here and is never replayed as ours.
//!
//! A file whose first bytes are not this header is refused
//! ([`Error::NotAWal`]): it is never read as a log with zero records. Three
//! exceptions come from crashes during creation by builds that did not create
//! logs atomically: an empty file is an empty log; a file holding only the
//! first bytes of a header is an empty log with a torn tail at offset 0; and
//! a file whose first sector (512 bytes, or the whole file if shorter) is all
//! zeros, with nothing but zeros after it, is an empty log with a zero-filled
//! torn tail at offset 0. A zeroed first sector with data after it is
//! refused ([`Error::NotAWal`]): that is a header lost in front of records,
//! and cutting it as a torn tail would restart LSNs at 1.
//!
//! ## Record
//!
//! | offset | size        | field     | meaning                                         |
//! |-------:|------------:|-----------|-------------------------------------------------|
//! | 0      | 4           | CRC       | CRC-32 (IEEE) of the log id's 8 bytes, then bytes 4 to the record's end |
//! | 4      | 8           | LSN       | 1 for the first record, then previous + 1 (or skip marker + 1) |
//! | 12     | 1           | op        | `1` put, `2` delete (`3` skip marker, `4` batch: below) |
//! | 13     | 4           | key len   | `K`, at most [`MAX_KEY_LEN`] (64 KiB)            |
//! | 17     | 4           | value len | `V`, at most [`MAX_VALUE_LEN`] (16 MiB); 0 for delete |
//! | 21     | `K`         | key       | raw bytes                                       |
//! | 21 + K | `V`         | value     | raw bytes                                       |
//!
//! A record is `21 + K + V` bytes. The checksum covers every byte of the
//! record except itself, header fields included, so a flipped bit in the
//! LSN, the op or a length is caught like one in the payload; and it starts
//! with the log id, so it holds only in its own log. (The same goes for the
//! checksums of batches and skip markers below.)
//!
//! ## Batch
//!
//! [`Wal::append_batch`] (and [`KvStore::write_batch`]) write their records
//! as one batch: a record header with op `4` whose "key len" field holds the
//! number of records `N` (1 to 65 536) and whose "value len" field the bytes
//! of the records that follow, which are its value:
//!
//! | offset | size | field | value |
//! |-------:|-----:|-------|-------|
//! | 0  | 4 | CRC       | CRC-32 of bytes 4 to the batch's end: every record in it |
//! | 4  | 8 | LSN       | the first record's LSN |
//! | 12 | 1 | op        | `4` |
//! | 13 | 4 | key len   | `N`, the number of records |
//! | 17 | 4 | value len | `B`, the bytes of the records, at most 16 MiB |
//! | 21 | `B` | records | `N` records as above, LSNs following on, each with its CRC field `0` |
//!
//! One checksum covers the whole batch, so a batch torn or damaged anywhere
//! is recovered whole or not at all (a transfer never comes back half done),
//! and since the records inside carry no checksum of their own, the search
//! past damage never mistakes the inside of a torn batch for readable
//! records. The reader hands out a batch's records one by one, after checking
//! the whole batch.
//!
//! ## LSN skip marker
//!
//! A record header alone (21 bytes) with op `3`, key and value lengths 0, and
//! as its LSN the highest LSN the log has handed out, below `u64::MAX`. It is
//! not a record: the reader steps over it and the next record's LSN follows
//! the marker's. A writer that cuts readable records off a damaged log (they
//! are saved beside it) writes one where the cut bytes began, so that their
//! LSNs are never handed out again: an LSN names one record for good, in the
//! log or in a saved tail. The marker is written over the first bytes of the
//! damage and synced before the file is cut after it, so a crash in between
//! leaves the marker followed by old bytes that the next open cuts again.
//! Builds that predate the marker report it as damage (an unknown op), never
//! misread it.
//!
//! ## Preallocated space
//!
//! A writer that fsyncs ([`SyncPolicy::Always`] or [`SyncPolicy::EveryN`])
//! extends the file with zeros ahead of its records (64 KiB, then steps
//! doubling with the file up to 4 MiB, written in the same fsync as the
//! record that needed them) and writes its records over those zeros in
//! place, so that each later `fdatasync` writes the record and not also
//! the file's new size (see the `log_file` module). The log ends at the
//! first record boundary from which every byte to the end of the file is
//! zero: a clean end, reported apart ([`Summary::preallocated`], and by
//! `wal dump` and `wal verify`). No record starts with a zero header (LSNs
//! start at 1), so the zeros cannot be taken for one. A write into the zeros
//! that was cut short (its first bytes landed, its last ones are still
//! zeros, and so is everything after it) is a torn tail
//! ([`Damage::ends_in_zeros`]), as a write cut short at the end of a growing
//! file is.
//!
//! ## Version 1
//!
//! Logs of the first format still open. Version 1 differs in three ways: a
//! 16-byte header (magic, version `1`, reserved, the CRC of bytes 0..12), no
//! log id (record checksums cover the record's bytes alone), and no
//! preallocation (a trailing run of zeros is damage, judged as below). A
//! writer appends to a version-1 log in version 1, so a build that reads
//! only version 1 can still read it; [`KvStore::checkpoint`] replaces it
//! with a version-2 log. So a version-1 log takes no batch
//! ([`Error::BatchNeedsVersion2`]). The one frame it may receive that such
//! a build cannot read is a skip marker after a cut: an LSN never named
//! twice comes first, and the older build stops at the marker as damage
//! (an unknown op), never misreads it. A header of any other version is refused
//! ([`Error::UnsupportedVersion`]), never guessed at.
//!
//! # Reading, and what counts as damage
//!
//! The reader never trusts a length: both lengths are checked against the caps
//! and against the bytes left in the file before anything is allocated or
//! read. It returns records while they are intact and stops at the first
//! record that is not, classifying it ([`DamageKind`]):
//!
//! * **incomplete**: the record runs past the end of the file;
//! * **checksum mismatch**: complete, but its bytes do not match its CRC;
//! * **invalid field**: a length over a cap, an unknown op, a delete with a
//!   value, or an LSN that is not the previous one plus one.
//!
//! It then searches the bytes from the damage on for records with a valid
//! checksum and a later LSN ([`Damage::records_after`]; the damaged record
//! itself counts when an LSN gap is all that is wrong with it, and the gap
//! may be of any size, since bytes cut out of a file take their records with
//! them). That is what tells a
//! **torn tail** (an incomplete last write with nothing readable behind it:
//! the normal result of a crash, safe to cut) from **corruption** (anything
//! else, above all damage with intact records behind it, which a corrupted
//! length field pointing past the end of the file would otherwise pass off as
//! a torn tail).
//!
//! **Zero-filled** damage is a torn tail too ([`Damage::zero_filled`]): the
//! damaged record (or the file header) overlaps a whole 512-byte sector,
//! aligned to the file and inside it, that is all zeros, or the record starts
//! with zeros that run to its sector's end (its checksum at least; or only
//! its checksum's first 1 to 3 bytes, when the rest of the checksum, landed
//! in the next sector, agrees with the record's bytes), and in either case
//! non-zero bytes follow somewhere later. Only the damaged record's own
//! bytes are searched for the sector, up to the first readable record after
//! it: a damaged length can claim the records behind it, and zeros in their
//! values are data. A power failure during
//! an unsynced write leaves exactly that: each sector lands whole or not at
//! all, in any order, and one that never landed reads as what it held before,
//! zeros (a new block, or preallocated space). Nothing from such a record on
//! was ever acknowledged, readable records after it included: an fsync that
//! covered any of them would have covered the zeroed sector too. So a writer
//! cuts it (saving it first) as it cuts any torn tail, and `wal verify`
//! reports the records behind it as never acknowledged. Zeros that run to the
//! end of the file never count here: they are preallocated space, zero
//! whether or not anything was synced, so a damaged length that reaches into
//! them is corruption, not a torn write.
//!
//! A damaged last record whose last byte is zero, with only zeros after it
//! ([`Damage::ends_in_zeros`]), is a torn tail as well, in either version:
//! the write into preallocated space (or into a block allocated but never
//! written) stopped short. Not so when clearing one bit of a length field
//! makes it a whole record whose checksum holds (every non-zero byte
//! inside it): that record was written whole and a bit of its length
//! flipped since, so it is corruption (at the tail only: cuttable, and
//! reported as corrupt). A damaged skip marker with nothing readable after
//! it is a torn tail like any damaged last frame: cutting it loses no
//! record, and the LSNs it protected are still those of the saved tail
//! beside the log, past which a writer that cuts damage skips.
//!
//! The price of both: a sector zeroed by a faulty disk *after* it was synced
//! is taken for a torn write (etcd and LevelDB make the same call); a damaged
//! record whose own bytes hold a whole aligned sector of zeros (a value of
//! zeros with a bit flip elsewhere) is too; and so is a bit flip in a last
//! record that happens to end in a zero byte (a little-endian integer, a key
//! ending in `00`). A torn tail is cut only when nothing readable follows it
//! (or it is zero-filled), so none of these costs a record a reader could
//! still return, but they are reported as torn rather than corrupt.
//!
//! # Recovery modes
//!
//! | mode | accepts | use |
//! |------|---------|-----|
//! | [`RecoveryMode::PointInTime`] (default) | any damage: the readable prefix is kept, the rest skipped with the warning `skipping corrupt record at offset N (...)` (followed by `; a torn tail` when it is one) | what the lessons teach; a crash never costs an acknowledged record |
//! | [`RecoveryMode::TolerateTornTail`] | damage with nothing readable behind it, or zero-filled damage | refuse to drop acknowledged records silently |
//! | [`RecoveryMode::AbsoluteConsistency`] | nothing: any damage is an error | logs that must be byte-perfect |
//!
//! When a writer opens a damaged log ([`open`], [`KvStore::recover`]) and the
//! mode accepts the damage, the bytes from the damage to the end are copied to
//! `NAME.broken-OFFSET` beside the log and fsync'd (for a version-2 log after
//! a copy of its header, which holds the log id their checksums need, and
//! without the zeros after the last non-zero byte), and only then is the log
//! truncated to its readable prefix and fsync'd. Without the cut, every record
//! appended later would sit behind the damage where no reader reaches it.
//! LSNs continue after the last readable record, or after the highest LSN of
//! the readable records cut off, or kept in earlier saved tails beside the
//! log (should the skip marker of an earlier cut be what is damaged),
//! whichever is higher (a skip marker records that). A saved tail is read back with [`SavedTail`] (and `wal dump`).
//! A path that is a symlink has its tail saved beside the file it links to,
//! and anything but a regular file (a FIFO, a directory) is refused before
//! it is opened ([`Error::NotAFile`]); so is a snapshot that is not one (a
//! FIFO, a link to `/dev/zero`), which is read bounded by its size.
//!
//! # Durability
//!
//! * A record is acknowledged (its `append` returns) only after `fdatasync`
//!   under [`SyncPolicy::Always`], the default. [`Wal::append_batch`] covers
//!   many records with one fsync, and concurrent appenders share fsyncs.
//! * Creating a log is atomic: the header is written, fsync'd and locked in a
//!   temporary file beside the log, which is linked to the log's name only if
//!   that name is still free, and the directory is fsync'd. No writer ever
//!   sees a log without its header, so two first writers cannot both write
//!   one (and both hand out LSN 1).
//! * A failed write or fsync poisons the writer ([`Error::Poisoned`]): it never
//!   retries and carries on. **What a failed append leaves behind:** the
//!   writer cuts the file back, best effort, to the length its last
//!   successful fsync covered (and fsyncs that), so records written but
//!   never acknowledged as durable do not come back on a reopen, neither from
//!   the disk nor from a page cache the kernel marked clean after failing to
//!   write it. An append that returned an error was not acknowledged; under
//!   [`SyncPolicy::Never`] or [`SyncPolicy::EveryN`], neither were the
//!   records since the last fsync, and they are gone too. If the cut itself
//!   fails (the disk is gone), what is left is whatever reached the disk: a
//!   reopen reads it as usual, judging any torn or zero-filled end.
//! * Under [`SyncPolicy::Never`] full buffers are written by a thread of the
//!   log's own while appends go on (four writes in flight at most), so a
//!   failed write is reported by a later append that fills a buffer (at
//!   most four buffers later), or at the latest by [`Wal::sync`] or the
//!   log's drop, which wait for every write first. Until then appends go on
//!   returning `Ok`, and buffers handed over after the failed one may be
//!   written past the gap it left; the poisoning cut takes all of it back to
//!   the last fsync. No record since the last fsync was acknowledged as
//!   durable either way.
//! * One writer per log: a writer holds an exclusive advisory lock (`flock`)
//!   on the file while it is open, and a second one gets [`Error::Locked`].
//!   Readers take no lock, and a crashed writer's lock goes with its process.

//!
//! # Checkpoints: who holds which file, in what order
//!
//! A checkpoint replaces two files, `NAME.snapshot` and then `NAME`, while
//! other processes may be opening the log to write or to read it. Three
//! rules keep every acknowledged record and every LSN:
//!
//! 1. **Only the lock holder changes files.** A checkpoint runs in the
//!    writer that holds `NAME`'s lock, and the new log is locked (as a
//!    temporary file) before it is renamed over `NAME`, so the lock passes
//!    from the old file to the new one without a gap.
//! 2. **A writer re-checks after locking.** A writer opens `NAME`, takes
//!    its lock (waiting for it), then compares the file it locked with the
//!    one now at `NAME` (device and inode). If a checkpoint renamed a new
//!    log over it meanwhile, it lets the old file go and starts again (a
//!    bounded number of times). Only then does it read the snapshot: none
//!    can change while it holds the lock.
//! 3. **A reader opens the log before it reads the snapshot**
//!    ([`replay_store`]). The snapshot is renamed into place before the log,
//!    so the log a reader holds is never newer than the snapshot it reads
//!    next; records of an older log that the newer snapshot covers are
//!    skipped by LSN.
//!
//! The writer's side, as states:
//!
//! | state | does | next |
//! |-------|------|------|
//! | Opening | `open(NAME)` (missing: create atomically, locked, go to Loaded) | Locking |
//! | Locking | `flock` the file opened (wait at most 1 s, else [`Error::Locked`]) | Checking |
//! | Checking | `fstat` of the file == `stat(NAME)`? | yes: Loaded; no: close, Opening |
//! | Loaded | read `NAME.snapshot`, replay the log after its LSN | Writing |
//! | Writing | append, fsync, acknowledge | Writing, or Checkpointing |
//! | Checkpointing | sync; snapshot of the snapshot + log on disk; write, fsync, rename, fsync dir; new log locked, written, fsync'd, renamed over `NAME`, dir fsync'd | Writing (on the new log); a failure after the log's rename: Poisoned |
//! | Poisoned | refuses every append ([`Error::Poisoned`]) | reopen |

mod awake_wait;
mod batch;
mod checkpoint;
mod crc_algebra;
mod cut_tail;
mod entry;
mod error;
mod format;
mod fsutil;
mod hooks;
mod log_file;
mod read_ahead;
mod reader;
mod record;
mod recovery;
mod saved_tail;
mod scan;
mod snapshot;
mod store;
mod write_behind;
mod writer;
mod zeros;

pub use cut_tail::CutTail;
pub use entry::{Entry, EntryRef, RecordRef};
pub use error::{Error, Result};
pub use format::{
    BATCH_OP, FILE_HEADER_LEN, FILE_HEADER_LEN_V1, FORMAT_VERSION, LogFormat, MAGIC,
    RECORD_HEADER_LEN, SKIP_OP, encode, encode_batch, file_header, record_len, skip_marker,
};
#[doc(hidden)]
pub use hooks::{StepHook, set_step_hook};
pub use reader::{Summary, WalReader};
pub use record::{Damage, DamageKind, InvalidField, MAX_KEY_LEN, MAX_VALUE_LEN, Op, Record};
pub use recovery::{RecoveryMode, RecoveryReport, WalOptions, open, replay, replay_store};
pub use saved_tail::{SavedTail, TailPiece, TailPieces, saved_tail_origin};
pub use snapshot::{Snapshot, SnapshotCheck, snapshot_path};
pub use store::KvStore;
pub use writer::{LogEnd, LogFile, SyncPolicy, Wal};
