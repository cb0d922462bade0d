//! The log beside the okaywal crate (issue 12), built only with
//! `--features okaywal`.
//!
//! Every figure has okaywal (or a raw loop) as its baseline and the same work
//! on both sides:
//! - synced appends of 100-byte values, one record per fsync: ours
//!   `Wal::append` under sync always, okaywal one entry of one chunk holding
//!   the same key and value, committed; and the same appends next to what the
//!   disk allows a preallocated file (a `write` + `sync_data` loop
//!   overwriting a zero-filled, fsync'd file in place, which is what
//!   okaywal's segments are);
//! - opening a log of a million such records for appending, every record
//!   read and its checksum verified, nothing kept: ours `wal::open`, okaywal's
//!   `WriteAheadLog::recover` with a manager that reads every chunk whole
//!   and checks its CRC. This is the log's own recovery, and what issue 12's
//!   10x is judged on (BENCHMARKS.md says why);
//! - the same recovery building a map of the million keys: ours
//!   `KvStore::recover`, okaywal's manager inserting every chunk into a
//!   `BTreeMap`; and again with the records as chunks of large entries.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use okaywal::{
    Configuration, Entry, EntryId, LogManager, ReadChunkResult, SegmentReader, WriteAheadLog,
};
use wal::{KvStore, Op, SyncPolicy, Wal, WalOptions};

use super::Plan;
use super::figure::Figure;
use super::replay::count_label;
use super::workload::{
    KEY_LEN, Keys, ScratchDir, free_then_settle, median, per_second, value, write_log,
};

/// The value size of issue 12's comparison.
const VALUE_LEN: usize = 100;

/// The synced-append figures: ours against okaywal, and ours against a raw
/// loop into a preallocated file.
pub fn synced_appends(dir: &ScratchDir, plan: &Plan) -> Result<Vec<Figure>> {
    let value = value(VALUE_LEN);
    let appends = plan.okaywal_appends;
    let (mut ours, mut theirs, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=plan.rounds {
        // New files every round, created outside the timing (ours fsyncs
        // its header and directory, okaywal preallocates its segment), so
        // that where the file system puts them varies from round to round.
        let log_path = dir.file("okaywal-ours.wal")?;
        let okaywal_dir = dir.file("okaywal")?;
        let raw_path = dir.file("okaywal-raw.bin")?;
        let wal = Wal::create(&log_path, SyncPolicy::Always)?;
        let okaywal = WriteAheadLog::recover(&okaywal_dir, Manager::collect())
            .with_context(|| format!("{}: okaywal cannot open", okaywal_dir.display()))?;
        let record = wal::record_len(KEY_LEN, VALUE_LEN);
        let raw_file = preallocated(&raw_path, appends * record as u64)?;
        let raw_record = vec![b'r'; record];

        let mut keys = Keys::new();
        let mut chunk = Vec::with_capacity(KEY_LEN + VALUE_LEN);
        let mut times = [Duration::ZERO; 3];
        for append in 0..appends {
            let key = *keys.advance();
            // Each of the three goes first in turn.
            for turn in 0..3 {
                let side = (turn + append as usize) % 3;
                let start = Instant::now();
                match side {
                    0 => {
                        wal.append(Op::Put, &key, &value)?;
                    }
                    1 => {
                        chunk.clear();
                        chunk.extend_from_slice(&key);
                        chunk.extend_from_slice(&value);
                        let mut entry = okaywal.begin_entry()?;
                        entry.write_chunk(&chunk)?;
                        entry.commit()?;
                    }
                    _ => {
                        raw_file.write_all_at(&raw_record, append * record as u64)?;
                        raw_file.sync_data()?;
                    }
                }
                times[side] += start.elapsed();
            }
        }
        drop(wal);
        okaywal.shutdown()?;
        fs::remove_file(&log_path)?;
        fs::remove_dir_all(&okaywal_dir)?;
        fs::remove_file(&raw_path)?;
        if round > 0 {
            ours.push(per_second(appends as f64, times[0]));
            theirs.push(per_second(appends as f64, times[1]));
            raw.push(per_second(appends as f64, times[2]));
        }
    }
    let ours = median(ours);
    Ok(vec![
        Figure::rate(
            format!("okaywal/fsync_each/{appends}x100B"),
            ours,
            "appends/s",
            median(theirs),
            "okaywal, one entry of one chunk, committed",
        )
        .target(1.0),
        Figure::rate(
            format!("append/fsync_each_vs_preallocated/{appends}x100B"),
            ours,
            "appends/s",
            median(raw),
            "write + sync_data overwriting a zero-filled file",
        )
        .target(0.9),
    ])
}

/// Recovery of `plan.recovery_records` puts of 100-byte values: ours
/// against okaywal's, three times. First the log's own recovery, opening it
/// for appending with every record read and verified and nothing kept
/// ([`open_figure`]). Then recovery into a map, with one okaywal entry per
/// record, as a store that commits each put writes it (our log has one
/// record per put); and with the records as chunks of entries of 1000,
/// okaywal's best case: most of its per-entry work gone. Both logs are
/// written and synced first, untimed, and read once, so both recoveries read
/// from the page cache.
pub fn recovery(dir: &ScratchDir, plan: &Plan) -> Result<Vec<Figure>> {
    let records = plan.recovery_records;
    let log_path = dir.file("okaywal-recover.wal")?;
    write_log(&log_path, VALUE_LEN, records)?;
    warm(&log_path)?;
    let mut figures = Vec::new();
    for (shape, chunks_per_entry) in [("recover", 1), ("recover_chunks_of_1000", 1000)] {
        let okaywal_dir = dir.file("okaywal-recover")?;
        write_okaywal(&okaywal_dir, records, chunks_per_entry)?;
        if chunks_per_entry == 1 {
            figures.push(open_figure(&log_path, &okaywal_dir, plan)?);
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..plan.rounds {
            let start = Instant::now();
            let (store, report) = KvStore::recover(&log_path)?;
            ours.push(start.elapsed().as_secs_f64());
            ensure!(report.records_replayed == records && store.len() as u64 == records);
            free_then_settle(store, &log_path)?;

            let map = Arc::new(Mutex::new(BTreeMap::new()));
            let start = Instant::now();
            let okaywal =
                never_checkpointed(&okaywal_dir).open(Manager::Collect(Arc::clone(&map)))?;
            theirs.push(start.elapsed().as_secs_f64());
            let recovered = map.lock().unwrap_or_else(PoisonError::into_inner).len() as u64;
            ensure!(
                recovered == records,
                "okaywal recovered {recovered} of {records}"
            );
            okaywal.shutdown()?;
            free_then_settle(map, &log_path)?;
        }
        fs::remove_dir_all(&okaywal_dir)?;
        figures.push(Figure::seconds(
            format!("okaywal/{shape}/{}", count_label(records)),
            median(ours),
            median(theirs),
            "okaywal recover into a BTreeMap",
        ));
    }
    fs::remove_file(&log_path)?;
    Ok(figures)
}

/// The log's own recovery: opening it for appending, which is what a log
/// must do before its first append after a restart, with every record read
/// and verified and nothing kept. Ours is [`wal::open`] with the options
/// `KvStore::recover` uses and a callback that only looks at each record:
/// it locks the file, reads every record and checks its checksum and
/// fields, finds where the readable log ends and leaves a writer there.
/// okaywal's is `WriteAheadLog::recover` with [`Manager::Verify`]:
/// every chunk read whole and its CRC checked (a chunk its manager does not
/// read, okaywal steps over unchecked), then okaywal leaves its writer after
/// the last entry. Each takes turns at going first.
fn open_figure(log_path: &Path, okaywal_dir: &Path, plan: &Plan) -> Result<Figure> {
    let records = plan.recovery_records;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..plan.rounds {
        for turn in 0..2 {
            if (round + turn) % 2 == 0 {
                let start = Instant::now();
                let (wal, report) = wal::open(log_path, WalOptions::default(), |record| {
                    black_box(record);
                })?;
                ours.push(start.elapsed().as_secs_f64());
                ensure!(report.records_replayed == records && report.damage.is_none());
                drop(wal);
            } else {
                let chunks = Arc::new(AtomicU64::new(0));
                let start = Instant::now();
                let okaywal = never_checkpointed(okaywal_dir).open(Manager::verify(&chunks))?;
                theirs.push(start.elapsed().as_secs_f64());
                let verified = chunks.load(Ordering::Relaxed);
                ensure!(
                    verified == records,
                    "okaywal verified {verified} of {records}"
                );
                okaywal.shutdown()?;
            }
        }
    }
    Ok(Figure::seconds(
        format!("okaywal/open/{}", count_label(records)),
        median(ours),
        median(theirs),
        "okaywal recover, every chunk read and its CRC checked",
    )
    .target(10.0))
}

/// An okaywal log of `records` chunks (key + 100-byte value) in entries of
/// `chunks_per_entry`, never checkpointed (so that recovery finds them
/// all), at `path`. okaywal fsyncs every entry it commits, and a million
/// fsyncs take minutes on a disk, so the log is built in a tmpfs
/// (`/dev/shm`) where an fsync costs nothing, then copied into `path` and
/// fsync'd there; without a `/dev/shm`, it is built in place.
fn write_okaywal(path: &Path, records: u64, chunks_per_entry: u64) -> Result<()> {
    let shm = Path::new("/dev/shm");
    let staging = if shm.is_dir() {
        Some(ScratchDir::create(Some(shm))?)
    } else {
        None
    };
    let build = staging
        .as_ref()
        .map_or_else(|| path.to_path_buf(), |dir| dir.path().join("okaywal"));
    let okaywal = never_checkpointed(&build).open(Manager::collect())?;
    let value = value(VALUE_LEN);
    let mut keys = Keys::new();
    let mut chunk = Vec::with_capacity(KEY_LEN + VALUE_LEN);
    let mut written = 0;
    while written < records {
        let mut entry = okaywal.begin_entry()?;
        for _ in 0..chunks_per_entry.min(records - written) {
            chunk.clear();
            chunk.extend_from_slice(keys.advance());
            chunk.extend_from_slice(&value);
            entry.write_chunk(&chunk)?;
            written += 1;
        }
        entry.commit()?;
    }
    okaywal.shutdown()?;
    if staging.is_some() {
        fs::create_dir(path)?;
        for file in fs::read_dir(&build)? {
            let from = file?.path();
            let to = path.join(from.file_name().context("a file name")?);
            fs::copy(&from, &to)?;
            File::open(&to)?.sync_all()?;
        }
        File::open(path)?.sync_all()?;
    }
    for file in fs::read_dir(path)? {
        warm(&file?.path())?;
    }
    Ok(())
}

/// okaywal's defaults (1 MiB segments, 16 KiB buffer) without a
/// checkpoint, which would hand the entries away instead of recovering them.
fn never_checkpointed(path: &Path) -> Configuration {
    Configuration::default_for(path).checkpoint_after_bytes(u64::MAX)
}

/// A file of `len` zero bytes, written and fsync'd with its directory, for
/// the raw loop to overwrite in place.
fn preallocated(path: &Path, len: u64) -> Result<File> {
    let mut file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    file.write_all(&vec![0; len as usize])?;
    file.sync_all()?;
    if let Some(parent) = path.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(file)
}

/// Reads a file once, so that the timed passes find it in the page cache.
fn warm(path: &Path) -> Result<()> {
    std::io::copy(&mut File::open(path)?, &mut std::io::sink())?;
    Ok(())
}

/// okaywal's log manager here: what recovery does with each entry; it
/// checkpoints nothing.
#[derive(Debug)]
enum Manager {
    /// Every chunk into a map, key (its first [`KEY_LEN`] bytes) to value,
    /// as `KvStore` recovery does with records. Logs being written start
    /// empty: they get a map of their own that stays empty
    /// ([`Manager::collect`]).
    Collect(Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>),
    /// Every chunk read whole into one reused buffer and its CRC checked
    /// (okaywal checks a chunk only when asked, after all of its bytes were
    /// read), nothing kept; counts the chunks of complete entries.
    Verify {
        chunks: Arc<AtomicU64>,
        buffer: Vec<u8>,
    },
}

impl Manager {
    fn collect() -> Manager {
        Manager::Collect(Arc::default())
    }

    fn verify(chunks: &Arc<AtomicU64>) -> Manager {
        Manager::Verify {
            chunks: Arc::clone(chunks),
            buffer: Vec::new(),
        }
    }
}

impl LogManager for Manager {
    fn recover(&mut self, entry: &mut Entry<'_>) -> io::Result<()> {
        match self {
            Manager::Collect(map) => {
                let Some(chunks) = entry.read_all_chunks()? else {
                    return Ok(());
                };
                let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
                for mut key in chunks {
                    let value = key.split_off(KEY_LEN.min(key.len()));
                    map.insert(key, value);
                }
            }
            Manager::Verify { chunks, buffer } => {
                let mut complete = 0;
                loop {
                    match entry.read_chunk()? {
                        ReadChunkResult::Chunk(mut chunk) => {
                            buffer.resize(chunk.bytes_remaining() as usize, 0);
                            chunk.read_exact(buffer)?;
                            if !chunk.check_crc()? {
                                return Err(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    "okaywal chunk: CRC mismatch",
                                ));
                            }
                            black_box(&buffer);
                            complete += 1;
                        }
                        ReadChunkResult::EndOfEntry => break,
                        // An entry a crash cut short: okaywal drops it whole.
                        ReadChunkResult::AbortedEntry => return Ok(()),
                    }
                }
                chunks.fetch_add(complete, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn checkpoint_to(
        &mut self,
        _last_checkpointed_id: EntryId,
        _checkpointed_entries: &mut SegmentReader,
        _wal: &WriteAheadLog,
    ) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The okaywal side of `okaywal/open` verifies what it reads: a flipped
    /// byte in one chunk's value fails its recovery, while the intact log
    /// counts every chunk.
    #[test]
    fn verify_reads_every_chunk_and_refuses_a_flipped_byte() {
        let parent = tempfile::tempdir().unwrap();
        let dir = ScratchDir::create(Some(parent.path())).unwrap();
        let okaywal_dir = dir.file("okaywal").unwrap();
        write_okaywal(&okaywal_dir, 10, 1).unwrap();
        let chunks = Arc::new(AtomicU64::new(0));
        let okaywal = never_checkpointed(&okaywal_dir)
            .open(Manager::verify(&chunks))
            .unwrap();
        okaywal.shutdown().unwrap();
        assert_eq!(chunks.load(Ordering::Relaxed), 10);

        let segment = fs::read_dir(&okaywal_dir)
            .unwrap()
            .map(|file| file.unwrap().path())
            .find(|path| {
                path.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("wal-")
            })
            .unwrap();
        let mut bytes = fs::read(&segment).unwrap();
        let key = bytes
            .windows(KEY_LEN)
            .position(|window| window == b"key-00000005")
            .unwrap();
        bytes[key + KEY_LEN + 50] ^= 1;
        fs::write(&segment, &bytes).unwrap();
        let err = never_checkpointed(&okaywal_dir)
            .open(Manager::verify(&chunks))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    }
}
