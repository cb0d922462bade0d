//! The log beside the okaywal crate (issue 12), built only with
//! `--features okaywal`.
//!
//! Two figures, both with okaywal as the baseline and the same work on both
//! sides: synced appends of 100-byte values (one record per fsync: ours
//! `Wal::append` under sync always, okaywal one entry of one chunk holding
//! the same key and value, committed), and recovery of a million such
//! records into a map (ours `KvStore::recover`; okaywal's
//! `WriteAheadLog::recover` with a manager that inserts every chunk into a
//! `BTreeMap`; and again with the records as chunks of large entries). A third figure puts the synced appends next to what the disk
//! allows a preallocated file: a `write` + `sync_data` loop overwriting a
//! zero-filled, fsync'd file in place, which is what okaywal's segments are.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use okaywal::{Configuration, Entry, EntryId, LogManager, SegmentReader, WriteAheadLog};
use wal::{KvStore, Op, SyncPolicy, Wal};

use super::Plan;
use super::figure::Figure;
use super::replay::count_label;
use super::workload::{KEY_LEN, Keys, ScratchDir, median, per_second, value, write_log};

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
        let okaywal = WriteAheadLog::recover(&okaywal_dir, Collect::new())
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

/// Recovery of `plan.recovery_records` puts of 100-byte values into a map:
/// ours against okaywal's, twice. First with one okaywal entry per record,
/// as a store that commits each put writes it (our log has one record per
/// put); then with the records as chunks of entries of 1000, okaywal's best
/// case: most of its per-entry work gone. Both logs are written and synced
/// first, untimed, and read once, so both recoveries read from the page
/// cache.
pub fn recovery(dir: &ScratchDir, plan: &Plan) -> Result<Vec<Figure>> {
    let records = plan.recovery_records;
    let log_path = dir.file("okaywal-recover.wal")?;
    write_log(&log_path, VALUE_LEN, records)?;
    warm(&log_path)?;
    let mut figures = Vec::new();
    for (shape, chunks_per_entry, target) in [
        ("recover", 1, Some(10.0)),
        ("recover_chunks_of_1000", 1000, None),
    ] {
        let okaywal_dir = dir.file("okaywal-recover")?;
        write_okaywal(&okaywal_dir, records, chunks_per_entry)?;
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..plan.rounds {
            let start = Instant::now();
            let (store, report) = KvStore::recover(&log_path)?;
            ours.push(start.elapsed().as_secs_f64());
            ensure!(report.records_replayed == records && store.len() as u64 == records);
            drop(store);

            let map = Arc::new(Mutex::new(BTreeMap::new()));
            let start = Instant::now();
            let okaywal = never_checkpointed(&okaywal_dir).open(Collect(Arc::clone(&map)))?;
            theirs.push(start.elapsed().as_secs_f64());
            let recovered = map.lock().unwrap_or_else(PoisonError::into_inner).len() as u64;
            ensure!(
                recovered == records,
                "okaywal recovered {recovered} of {records}"
            );
            okaywal.shutdown()?;
        }
        fs::remove_dir_all(&okaywal_dir)?;
        let figure = Figure::seconds(
            format!("okaywal/{shape}/{}", count_label(records)),
            median(ours),
            median(theirs),
            "okaywal recover into a BTreeMap",
        );
        figures.push(match target {
            Some(target) => figure.target(target),
            None => figure,
        });
    }
    fs::remove_file(&log_path)?;
    Ok(figures)
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
    let okaywal = never_checkpointed(&build).open(Collect::new())?;
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

/// A manager that puts every recovered chunk into a map, key (its first
/// [`KEY_LEN`] bytes) to value, as `KvStore` recovery does with records,
/// and checkpoints nothing. Logs being written start empty: they get one
/// with a map of their own ([`Collect::new`]) that stays empty.
#[derive(Debug)]
struct Collect(Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>);

impl Collect {
    fn new() -> Collect {
        Collect(Arc::default())
    }
}

impl LogManager for Collect {
    fn recover(&mut self, entry: &mut Entry<'_>) -> std::io::Result<()> {
        let Some(chunks) = entry.read_all_chunks()? else {
            return Ok(());
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for mut key in chunks {
            let value = key.split_off(KEY_LEN.min(key.len()));
            map.insert(key, value);
        }
        Ok(())
    }

    fn checkpoint_to(
        &mut self,
        _last_checkpointed_id: EntryId,
        _checkpointed_entries: &mut SegmentReader,
        _wal: &WriteAheadLog,
    ) -> std::io::Result<()> {
        Ok(())
    }
}
