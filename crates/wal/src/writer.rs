//! The appending side: encoding, buffering, fsync policy and group commit.
//!
//! Records are encoded into an in-memory buffer under a mutex and handed to
//! the kernel in large writes. Durability follows the [`SyncPolicy`]: with
//! [`SyncPolicy::Always`], `append` returns only once an fsync that started
//! after the record was written has succeeded. Threads share those fsyncs
//! (group commit): the first thread to need one becomes the leader, writes out
//! everything buffered so far and syncs it outside the lock, while later
//! threads buffer their records and wait; when the leader is done every record
//! it covered is durable, and one of the waiters leads the next round.
//!
//! A version-2 log is preallocated (see [`crate::log_file`]). Under
//! [`SyncPolicy::Never`] full buffers are written by a thread of the log's
//! own while appends fill the next (see [`crate::write_behind`]).
//!
//! A failed write or fsync poisons the writer for good. After a failed fsync
//! the kernel may already have dropped the dirty pages it could not write and
//! marked them clean, so a retried fsync can succeed with the data gone
//! (PostgreSQL learned this in 2018). Every later append and sync therefore
//! fails, and the way on is to reopen the log and recover from what is on disk.

use std::fs::File;
use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::format::{self, LogFormat, RecordCrc};
pub use crate::log_file::{LogEnd, LogFile};
use crate::log_file::{preallocation_end, write_zeros};
use crate::record::Op;
use crate::write_behind::WriteBehind;

/// Buffered bytes that trigger a write to the file even without a sync.
/// Large writes cost the kernel less per byte (measured: 256 KiB writes run
/// about 8% faster than 64 KiB ones), and the buffer still fits in the L2
/// cache between the copy into it and the copy out of it.
const WRITE_THRESHOLD: usize = 256 * 1024;

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// fsync before every append returns (shared between concurrent appenders).
    #[default]
    Always,
    /// fsync once at least this many records are not yet durable; the append
    /// that reaches the count waits for it, the others return at once.
    EveryN(u32),
    /// Never fsync on append; only [`Wal::sync`] makes records durable.
    Never,
}

struct State {
    /// Encoded records not yet handed to the file.
    buffer: Vec<u8>,
    /// How many bytes at the start of `buffer` hold sealed records (their
    /// checksums filled in); the rest are whole records still to be sealed,
    /// which happens just before the buffer goes to the file.
    sealed: usize,
    next_lsn: u64,
    durable_lsn: u64,
    /// Where the log ends once every write handed to the file so far lands
    /// (where the next write goes), and where it ended at the last
    /// successful fsync.
    written_end: u64,
    durable_end: u64,
    /// Whether writes past the file's end preallocate (see
    /// [`crate::log_file`]); turned off for good when zeros do not fit.
    preallocate: bool,
    /// The file's length (preallocated zeros included); `None` when the
    /// file cannot tell its length: then it is neither preallocated nor,
    /// after a failure, cut back.
    allocated: Option<u64>,
    /// A leader is fsyncing outside the lock.
    syncing: bool,
    /// Threads waiting on `synced` for a leader's fsync. A notification
    /// costs a system call even with nobody to wake (std's futex condvar),
    /// a measurable share of a lone writer's synced append: it is sent only
    /// to someone.
    waiting: usize,
    poisoned: Option<(&'static str, String)>,
    ends_in_partial: bool,
    /// Under [`SyncPolicy::Never`], the thread that writes full buffers
    /// while appends go on (see [`crate::write_behind`]); started with the
    /// first full buffer.
    behind: Option<WriteBehind>,
}

impl State {
    /// Fills in the checksums of the records buffered since the last seal.
    fn seal(&mut self, crc: &RecordCrc) {
        format::seal(&mut self.buffer[self.sealed..], crc);
        self.sealed = self.buffer.len();
    }
}

/// An open write-ahead log, ready to append.
///
/// `Wal` is `Sync`: share it between threads (for example in an `Arc`) and
/// their synced appends share fsyncs.
pub struct Wal<F: LogFile = File> {
    /// Shared with the write-behind thread, if one is started.
    file: Arc<F>,
    path: PathBuf,
    policy: SyncPolicy,
    format: LogFormat,
    crc: RecordCrc,
    state: Mutex<State>,
    synced: Condvar,
}

impl<F: LogFile> Wal<F> {
    /// Wraps a log file that ends at `end` (everything before it durable):
    /// appends go on from there, in its format.
    ///
    /// This is the seam for tests that inject a failing [`LogFile`]; real
    /// callers use [`crate::open`], [`Wal::create`] or `KvStore`.
    pub fn from_file(file: F, path: impl Into<PathBuf>, end: LogEnd, policy: SyncPolicy) -> Self {
        let allocated = file.current_len().ok();
        Wal {
            file: Arc::new(file),
            path: path.into(),
            policy,
            format: end.format,
            crc: end.format.crc(),
            state: Mutex::new(State {
                buffer: Vec::with_capacity(WRITE_THRESHOLD * 2),
                sealed: 0,
                // 0 once LSN u64::MAX is used: no LSN is left (see
                // `check_appendable`).
                next_lsn: end.last_lsn.wrapping_add(1),
                durable_lsn: end.last_lsn,
                written_end: end.offset,
                durable_end: end.offset,
                allocated,
                preallocate: matches!(end.format, LogFormat::V2 { .. })
                    && policy != SyncPolicy::Never,
                syncing: false,
                waiting: 0,
                poisoned: None,
                ends_in_partial: false,
                behind: None,
            }),
            synced: Condvar::new(),
        }
    }

    /// The file this log writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// The log's format: version 2 (with its identity) for every log this
    /// build creates, version 1 for an older log it appends to.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Where the log ends once the writes handed to the file land: the
    /// offset of the next record.
    pub fn end_offset(&self) -> u64 {
        let state = self.lock();
        state.written_end + state.buffer.len() as u64
    }

    /// LSN of the last record appended (durable or not); 0 for none.
    pub fn last_lsn(&self) -> u64 {
        self.lock().next_lsn.wrapping_sub(1)
    }

    /// LSN up to which every record is known to be on stable storage.
    pub fn durable_lsn(&self) -> u64 {
        self.lock().durable_lsn
    }

    /// Appends one record and returns its LSN once the sync policy is met.
    #[inline]
    pub fn append(&self, op: Op, key: &[u8], value: &[u8]) -> Result<u64> {
        // The batch path for one record, minus its bookkeeping: small
        // records are appended at tens of millions a second, where every
        // step inside the lock shows.
        check_sizes(op, key, value)?;
        let mut state = self.lock();
        check_appendable(&self.path, &state)?;
        let lsn = state.next_lsn;
        format::encode_unsealed_into(&mut state.buffer, lsn, op, key, value);
        state.next_lsn = lsn.wrapping_add(1);
        self.meet_policy(state, lsn)?;
        Ok(lsn)
    }

    /// [`Wal::append`] for a caller that holds the log exclusively.
    ///
    /// The `&mut` borrow proves that no other thread is appending, so the
    /// record is buffered without taking the lock, which is a third of the
    /// cost of appending a small record. Durability is exactly that of
    /// `append`: whenever the sync policy asks for a write or an fsync, this
    /// takes the lock and goes the same way.
    #[inline]
    pub fn append_exclusive(&mut self, op: Op, key: &[u8], value: &[u8]) -> Result<u64> {
        check_sizes(op, key, value)?;
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|poison| poison.into_inner());
        check_appendable(&self.path, state)?;
        let lsn = state.next_lsn;
        format::encode_unsealed_into(&mut state.buffer, lsn, op, key, value);
        state.next_lsn = lsn.wrapping_add(1);
        if needs_sync(self.policy, state.durable_lsn, lsn) || state.buffer.len() >= WRITE_THRESHOLD
        {
            self.meet_policy(self.lock(), lsn)?;
        }
        Ok(lsn)
    }

    /// Appends several records as one batch, with at most one fsync: a
    /// batch is one unit on disk under one checksum, so recovery finds all
    /// of its records or none, wherever a crash tears it. Returns the range
    /// of their LSNs; an empty batch is an error-free no-op that returns an
    /// empty range. A batch holds at most [`crate::MAX_KEY_LEN`] records in at most
    /// [`crate::MAX_VALUE_LEN`] bytes ([`Error::BatchTooLarge`]). A
    /// version-1 log takes no batch ([`Error::BatchNeedsVersion2`]).
    pub fn append_batch<'a>(
        &self,
        records: impl IntoIterator<Item = (Op, &'a [u8], &'a [u8])>,
    ) -> Result<RangeInclusive<u64>> {
        let mut state = self.lock();
        check_appendable(&self.path, &state)?;
        if self.format == LogFormat::V1 {
            // A version-1 log stays readable by builds that read only
            // version 1, which know no batch frame.
            return Err(Error::BatchNeedsVersion2 {
                path: self.path.clone(),
            });
        }
        let first = state.next_lsn;
        let start_len = state.buffer.len();
        let mut refused = None;
        let mut bytes = 0usize;
        let written = format::encode_batch_unsealed_into(&mut state.buffer, first, |out| {
            let mut count = 0u64;
            for (op, key, value) in records {
                if let Err(err) = check_sizes(op, key, value) {
                    refused = Some(err);
                    return 0;
                }
                // No LSN after u64::MAX: the batch would wrap to 0.
                let Some(lsn) = first.checked_add(count) else {
                    refused = Some(Error::LsnsExhausted {
                        path: self.path.clone(),
                    });
                    return 0;
                };
                format::encode_unsealed_into(out, lsn, op, key, value);
                count += 1;
            }
            bytes = out.len() - start_len - format::RECORD_HEADER_LEN;
            count
        });
        if let Some(err) = refused {
            // Nothing of this batch stays buffered.
            return Err(err);
        }
        let Some(count) = written else {
            if bytes == 0 {
                #[allow(clippy::reversed_empty_ranges)]
                return Ok(first..=first - 1);
            }
            return Err(Error::BatchTooLarge { bytes });
        };
        let last = first + (count - 1);
        state.next_lsn = last.wrapping_add(1);
        self.meet_policy(state, last)?;
        Ok(first..=last)
    }

    /// After records up to `last` were buffered: waits for their fsync when
    /// the sync policy asks for one, else hands a full buffer to the file.
    #[inline]
    fn meet_policy(&self, mut state: MutexGuard<'_, State>, last: u64) -> Result<()> {
        if needs_sync(self.policy, state.durable_lsn, last) {
            self.wait_durable(state, last)
        } else if state.buffer.len() < WRITE_THRESHOLD {
            Ok(())
        } else if self.policy == SyncPolicy::Never {
            self.write_behind(&mut state)
        } else {
            self.write_out(&mut state)
        }
    }

    /// Hands the full buffer to the write-behind thread (starting it the
    /// first time) and goes on with an empty one. A failed earlier write
    /// poisons the log here.
    fn write_behind(&self, state: &mut State) -> Result<()> {
        debug_assert!(!state.preallocate, "no zeros to write behind");
        if state.behind.is_none() {
            state.behind = WriteBehind::start(&self.file);
        }
        state.seal(&self.crc);
        let full_len = state.buffer.len() as u64;
        let at = state.written_end;
        let Some(behind) = state.behind.as_mut() else {
            return self.write_out(state);
        };
        match behind.write(std::mem::take(&mut state.buffer), at) {
            Ok(empty) => state.buffer = empty,
            Err(err) => return Err(self.poison(state, "write", err)),
        }
        let end = at + full_len;
        if let Some(allocated) = state.allocated {
            state.allocated = Some(allocated.max(end));
        }
        state.written_end = end;
        state.sealed = 0;
        Ok(())
    }

    /// Waits for the write-behind thread's writes in flight, if any; a
    /// failed one poisons the log.
    fn wait_behind(&self, state: &mut State) -> Result<()> {
        match state.behind.as_mut().map(WriteBehind::wait_all) {
            Some(Err(err)) => Err(self.poison(state, "write", err)),
            _ => Ok(()),
        }
    }

    /// Makes every record appended so far durable.
    pub fn sync(&self) -> Result<()> {
        let state = self.lock();
        self.check_usable(&state)?;
        let last = state.next_lsn.wrapping_sub(1);
        self.wait_durable(state, last)
    }

    /// Moves the next LSN past `lsn` with a skip marker, made durable: for
    /// a log that is behind its checkpoint's snapshot (a log removed after a
    /// checkpoint, say), so that no LSN the snapshot covers is handed out
    /// again. Does nothing when the log is already past `lsn`.
    pub(crate) fn skip_to(&self, lsn: u64) -> Result<()> {
        let mut state = self.lock();
        self.check_usable(&state)?;
        if lsn < state.next_lsn || lsn == u64::MAX || state.next_lsn == 0 {
            return Ok(());
        }
        state.seal(&self.crc);
        state
            .buffer
            .extend_from_slice(&format::skip_marker(lsn, self.format));
        state.sealed = state.buffer.len();
        state.next_lsn = lsn + 1;
        self.wait_durable(state, lsn)
    }

    /// Crash-drill helper: writes only the first `len` bytes of the record that
    /// would come next, fsyncs, and takes no more appends. Returns the LSN the
    /// partial record would have had.
    pub fn append_partial(&self, op: Op, key: &[u8], value: &[u8], len: usize) -> Result<u64> {
        check_sizes(op, key, value)?;
        let mut state = self.lock();
        check_appendable(&self.path, &state)?;
        let lsn = state.next_lsn;
        let mut encoded = Vec::new();
        format::encode_into(&mut encoded, &self.crc, lsn, op, key, value);
        if len >= encoded.len() {
            return Err(Error::PartialTooLong {
                requested: len,
                len: encoded.len(),
            });
        }
        state.seal(&self.crc);
        state.buffer.extend_from_slice(&encoded[..len]);
        // Already sealed: `encode_into` filled in the checksum.
        state.sealed = state.buffer.len();
        state.ends_in_partial = true;
        self.write_out(&mut state)?;
        if let Err(err) = self.file.sync_data() {
            return Err(self.poison(&mut state, "fsync", err));
        }
        state.durable_lsn = lsn - 1;
        state.durable_end = state.written_end;
        Ok(lsn)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated
        // in a way that matters more than poisoning does; keep going.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn check_usable(&self, state: &State) -> Result<()> {
        check_state(&self.path, state)
    }

    /// Poisons the writer and, best effort, cuts the file back to the
    /// length the last successful fsync covered: bytes written after it were
    /// never acknowledged as durable, and after a failed write or fsync the
    /// kernel may still hold some of them (or have marked them clean without
    /// writing them), so a reopen could otherwise replay records nobody was
    /// told are durable, or miss ones it read from a stale page cache.
    fn poison(&self, state: &mut State, operation: &'static str, err: io::Error) -> Error {
        // No write may land after the cut.
        if let Some(behind) = state.behind.as_mut() {
            let _ = behind.wait_all();
        }
        if state.allocated.is_some() {
            // Best effort: the writer is unusable either way, and the
            // reader judges whatever is left. (Preallocated space goes too.)
            let _ = self.file.cut_back_to(state.durable_end);
        }
        state.poisoned = Some((operation, err.to_string()));
        self.synced.notify_all();
        Error::Poisoned {
            path: self.path.clone(),
            operation,
            message: err.to_string(),
        }
    }

    /// Poisons the log for a failure outside its own writes: a checkpoint
    /// that renamed a new log over this one and then failed.
    pub(crate) fn poison_with(&self, operation: &'static str, err: io::Error) -> Error {
        let mut state = self.lock();
        self.poison(&mut state, operation, err)
    }

    /// Hands the buffer to the file. Called with the lock held, so writes
    /// reach the file in LSN order.
    fn write_out(&self, state: &mut State) -> Result<()> {
        self.wait_behind(state)?;
        if state.buffer.is_empty() {
            return Ok(());
        }
        state.seal(&self.crc);
        let at = state.written_end;
        let end = at + state.buffer.len() as u64;
        if let Err(err) = self.file.write_all_at(&state.buffer, at) {
            return Err(self.poison(state, "write", err));
        }
        if let Some(allocated) = state.allocated {
            let mut file_end = allocated.max(end);
            if state.preallocate && end > allocated {
                // The fsync that makes these records durable covers the
                // zeros and the file's new length too.
                file_end = preallocation_end(end, allocated);
                if write_zeros(&*self.file, end, file_end).is_err() {
                    // No room for them (a full disk, a file-size limit):
                    // zeros are no data, so take back what was written of
                    // them and go on appending without preallocation.
                    if let Err(err) = self.file.cut_back_to(end) {
                        return Err(self.poison(state, "write", err));
                    }
                    state.preallocate = false;
                    file_end = end;
                }
            }
            state.allocated = Some(file_end);
        }
        state.written_end = end;
        state.buffer.clear();
        state.sealed = 0;
        Ok(())
    }

    /// Returns once `lsn` is durable, leading a group commit if nobody is.
    fn wait_durable<'a>(&'a self, mut state: MutexGuard<'a, State>, lsn: u64) -> Result<()> {
        loop {
            // Durable first: a record an fsync covered stays acknowledged
            // even if the log was poisoned since (the poisoning cut keeps
            // everything up to the last good fsync).
            if state.durable_lsn >= lsn {
                return Ok(());
            }
            self.check_usable_for_wait(&state)?;
            if state.syncing {
                state.waiting += 1;
                state = self
                    .synced
                    .wait(state)
                    .unwrap_or_else(|poison| poison.into_inner());
                state.waiting -= 1;
                if crate::hooks::installed() {
                    // A test holds this waiter here, the lock let go.
                    drop(state);
                    let held = crate::hooks::step("woken by a group fsync");
                    state = self.lock();
                    held.map_err(|err| Error::io(&self.path, err))?;
                }
                continue;
            }
            self.write_out(&mut state)?;
            let target = state.next_lsn.wrapping_sub(1);
            let target_end = state.written_end;
            state.syncing = true;
            drop(state);
            let synced = self.file.sync_data();
            state = self.lock();
            state.syncing = false;
            match synced {
                Ok(()) => {
                    // A failed write that poisoned the log meanwhile cut the
                    // file back under this fsync: nothing it covered is left.
                    if state.poisoned.is_none() {
                        state.durable_lsn = state.durable_lsn.max(target);
                        state.durable_end = state.durable_end.max(target_end);
                    }
                    if state.waiting > 0 {
                        self.synced.notify_all();
                    }
                }
                Err(err) => return Err(self.poison(&mut state, "fsync", err)),
            }
        }
    }

    fn check_usable_for_wait(&self, state: &State) -> Result<()> {
        match &state.poisoned {
            Some(_) => self.check_usable(state),
            None => Ok(()),
        }
    }
}

impl<F: LogFile> Drop for Wal<F> {
    /// Hands buffered records to the kernel, like a clean process exit would;
    /// no fsync, since a drop cannot report its failure.
    fn drop(&mut self) {
        let mut state = self.lock();
        // The write in flight lands first; a failed one poisons the log,
        // and nothing more is written.
        let _ = self.wait_behind(&mut state);
        if state.poisoned.is_none() && !state.buffer.is_empty() {
            state.seal(&self.crc);
            let _ = self.file.write_all_at(&state.buffer, state.written_end);
            state.buffer.clear();
            state.sealed = 0;
        }
        // Ends the write-behind thread.
        let behind = state.behind.take();
        drop(state);
        drop(behind);
    }
}

mod checks;
use checks::{check_appendable, check_sizes, check_state, needs_sync};

#[cfg(test)]
mod tests;
