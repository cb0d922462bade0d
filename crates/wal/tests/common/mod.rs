//! Helpers shared by the test files: building logs byte by byte and reading
//! them back from memory or from disk.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::Cursor;
use std::path::{Path, PathBuf};

use wal::{LogFormat, Op, Record, Summary, WalReader};

/// The format of the logs the tests build byte by byte: version 2, with an
/// identity of its own.
pub const FORMAT: LogFormat = LogFormat::V2 { id: 0x7e57_1d00 };

/// A put record with the given LSN.
pub fn put(lsn: u64, key: &[u8], value: &[u8]) -> Record {
    Record {
        lsn,
        op: Op::Put,
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

/// A delete record with the given LSN.
pub fn delete(lsn: u64, key: &[u8]) -> Record {
    Record {
        lsn,
        op: Op::Delete,
        key: key.to_vec(),
        value: Vec::new(),
    }
}

/// `n` puts with LSNs 1..=n, keys `key-LSN` and values of `value_len` bytes.
pub fn puts(n: u64, value_len: usize) -> Vec<Record> {
    (1..=n)
        .map(|lsn| {
            let value: Vec<u8> = (0..value_len).map(|i| b'a' + (i % 26) as u8).collect();
            put(lsn, format!("key-{lsn}").as_bytes(), &value)
        })
        .collect()
}

/// What a writer saves when it cuts `tail` off a log of [`FORMAT`]: a copy
/// of the log's header, then the bytes.
pub fn saved_tail(tail: &[u8]) -> Vec<u8> {
    let mut saved = wal::file_header(FORMAT);
    saved.extend_from_slice(tail);
    saved
}

/// The format a log file's header names.
pub fn format_of(bytes: &[u8]) -> LogFormat {
    let reader = WalReader::new(Cursor::new(bytes), bytes.len() as u64, "memory.wal")
        .expect("a log with a valid header");
    reader
        .finish()
        .expect("no I/O error")
        .format
        .expect("a whole header")
}

/// An encoded log: the file header followed by `records`.
pub struct Log {
    pub bytes: Vec<u8>,
    /// Offset of each record's first byte.
    pub offsets: Vec<u64>,
}

impl Log {
    pub fn new(records: &[Record]) -> Log {
        Log::in_format(records, FORMAT)
    }

    pub fn in_format(records: &[Record], format: LogFormat) -> Log {
        let mut bytes = wal::file_header(format);
        let mut offsets = Vec::new();
        for record in records {
            offsets.push(bytes.len() as u64);
            bytes.extend_from_slice(&wal::encode(record, format));
        }
        Log { bytes, offsets }
    }

    /// Offset one past the end of record `index`.
    pub fn end_of(&self, index: usize) -> u64 {
        self.offsets
            .get(index + 1)
            .copied()
            .unwrap_or(self.bytes.len() as u64)
    }
}

/// Reads `bytes` as a log held in memory: the records, then the summary.
pub fn read_bytes(bytes: &[u8]) -> (Vec<Record>, Summary) {
    let reader = WalReader::new(Cursor::new(bytes), bytes.len() as u64, "memory.wal")
        .expect("a log with a valid header");
    drain(reader)
}

/// Reads the log at `path`: the records, then the summary.
pub fn read_path(path: &Path) -> (Vec<Record>, Summary) {
    drain(WalReader::open(path).expect("a readable log"))
}

fn drain<R: std::io::Read + std::io::Seek>(mut reader: WalReader<R>) -> (Vec<Record>, Summary) {
    let mut records = Vec::new();
    while let Some(entry) = reader.next_entry().expect("no I/O error") {
        records.push(entry.record);
    }
    (records, reader.finish().expect("no I/O error"))
}

/// Writes `bytes` to `name` in `dir` and returns the path.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// Called with the 1-based number of each `write_all_at` or `sync_data` call
/// before it does anything; an error fails that call.
pub type Hook = Box<dyn Fn(usize) -> std::io::Result<()> + Send + Sync>;

/// A [`wal::LogFile`] in memory that counts calls, remembers how much of it
/// the last successful sync covered, and lets a test fail or hold any call.
pub struct MemFile {
    pub format: LogFormat,
    data: std::sync::Mutex<Vec<u8>>,
    synced_len: std::sync::Mutex<usize>,
    appends: std::sync::atomic::AtomicUsize,
    syncs: std::sync::atomic::AtomicUsize,
    on_append: Hook,
    on_sync: Hook,
}

/// The handle a `Wal` owns; the test keeps another to look inside.
#[derive(Clone)]
pub struct MemHandle(pub std::sync::Arc<MemFile>);

impl Default for MemHandle {
    /// A file holding a file header, whose calls all succeed.
    fn default() -> Self {
        MemHandle::with_hooks(Box::new(|_| Ok(())), Box::new(|_| Ok(())))
    }
}

impl MemHandle {
    /// A writer over this file, named `mem.wal` in errors, with no records.
    pub fn wal(&self, policy: wal::SyncPolicy) -> wal::Wal<MemHandle> {
        let end = wal::LogEnd {
            format: self.format,
            offset: self.format.header_len() as u64,
            last_lsn: 0,
        };
        wal::Wal::from_file(self.clone(), "mem.wal", end, policy)
    }

    /// A file holding a version-2 log (of [`FORMAT`]), whose calls all
    /// succeed: for batches, which a version-1 log refuses.
    pub fn v2() -> Self {
        MemHandle::in_format(FORMAT, Box::new(|_| Ok(())), Box::new(|_| Ok(())))
    }

    /// A file holding a version-1 log: no preallocation, so that each
    /// write the writer makes is one append, as the hooks count them.
    pub fn with_hooks(on_append: Hook, on_sync: Hook) -> Self {
        MemHandle::in_format(LogFormat::V1, on_append, on_sync)
    }

    pub fn in_format(format: LogFormat, on_append: Hook, on_sync: Hook) -> Self {
        let header = wal::file_header(format);
        MemHandle(std::sync::Arc::new(MemFile {
            format,
            synced_len: std::sync::Mutex::new(header.len()),
            data: std::sync::Mutex::new(header),
            appends: Default::default(),
            syncs: Default::default(),
            on_append,
            on_sync,
        }))
    }
}

impl std::ops::Deref for MemHandle {
    type Target = MemFile;

    fn deref(&self) -> &MemFile {
        &self.0
    }
}

impl MemFile {
    pub fn bytes(&self) -> Vec<u8> {
        self.data.lock().unwrap().clone()
    }

    /// The bytes the last successful sync made durable.
    pub fn synced_bytes(&self) -> Vec<u8> {
        let len = *self.synced_len.lock().unwrap();
        self.data.lock().unwrap()[..len].to_vec()
    }

    pub fn appends(&self) -> usize {
        self.appends.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn syncs(&self) -> usize {
        self.syncs.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl wal::LogFile for MemHandle {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        let call = self
            .0
            .appends
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        (self.0.on_append)(call)?;
        let mut data = self.0.data.lock().unwrap();
        let end = offset as usize + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(buf);
        Ok(())
    }

    fn current_len(&self) -> std::io::Result<u64> {
        Ok(self.0.data.lock().unwrap().len() as u64)
    }

    fn cut_back_to(&self, len: u64) -> std::io::Result<()> {
        self.0.data.lock().unwrap().truncate(len as usize);
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        let call = self
            .0
            .syncs
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        // Only what was appended before the sync started is covered.
        let len = self.0.data.lock().unwrap().len();
        (self.0.on_sync)(call)?;
        let mut synced = self.0.synced_len.lock().unwrap();
        *synced = (*synced).max(len);
        Ok(())
    }
}

/// Spins (yielding) until `done` holds; panics after a generous deadline
/// rather than hang the suite.
pub fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        std::thread::yield_now();
    }
}

/// A [`MemHandle`] whose first fsync announces itself and then holds until
/// the test releases it: a way to make other threads queue up behind a
/// group commit in progress, deterministically.
pub struct HeldSync {
    pub file: MemHandle,
    entered: std::sync::mpsc::Receiver<()>,
    release: std::sync::mpsc::Sender<()>,
}

impl HeldSync {
    /// `fail`: the held fsync fails (with EIO) once released.
    pub fn new(fail: bool) -> HeldSync {
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let (release, release_rx) = std::sync::mpsc::channel::<()>();
        let entered_tx = std::sync::Mutex::new(entered_tx);
        let release_rx = std::sync::Mutex::new(release_rx);
        let file = MemHandle::with_hooks(
            Box::new(|_| Ok(())),
            Box::new(move |call| {
                if call != 1 {
                    return Ok(());
                }
                entered_tx.lock().unwrap().send(()).unwrap();
                release_rx.lock().unwrap().recv().unwrap();
                if fail {
                    return Err(std::io::Error::from_raw_os_error(5));
                }
                Ok(())
            }),
        );
        HeldSync {
            file,
            entered,
            release,
        }
    }

    /// Returns once the first fsync has started (and is held).
    pub fn wait_until_held(&self) {
        self.entered
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("an append reaches its fsync");
    }

    /// Lets the held fsync finish.
    pub fn release(&self) {
        self.release.send(()).unwrap();
    }
}

/// `len` pseudo-random bytes (xorshift), the same for the same seed.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Threads of this process named `name` (a log's helper threads are
/// named). A test counting them must be alone in its binary. A thread just
/// joined can still be listed for a moment (the kernel wakes its joiner
/// before it removes the thread), so a test waits for a count to drop.
pub fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter(|task| {
            let comm = task.as_ref().expect("a task").path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|comm| comm.trim() == name)
        })
        .count()
}

/// Open handles of this process on the file at `path`. A helper thread
/// closes its handle (and with it its share of the writer's lock) before
/// its join returns, so right after a drop this is exact where
/// [`threads_named`] has to wait.
pub fn handles_on(path: &Path) -> usize {
    let path = path.canonicalize().expect("an existing file");
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| *target == path)
        .count()
}
