//! Appending: buffered (no fsync), one fsync per record, and batches.

use std::fs::{self, File};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use wal::{FILE_HEADER_LEN, Op, Record, RecoveryMode, SyncPolicy, Wal, WalOptions};

use super::Plan;
use super::figure::Figure;
use super::workload::{
    BLOCK, Keys, ScratchDir, ValueSize, median, per_second, raw_write, record_len, value,
};

/// Buffered appends (sync never) against plain 64 KiB `write` calls of the
/// same bytes, through [`Wal::append`] (shared, takes the lock) and through
/// [`Wal::append_exclusive`] (`&mut`, no lock). A log written first, untimed,
/// gives the bytes the raw baseline writes. Each round then does all three
/// into new files, taking turns at going first, so that whatever one leaves
/// behind (freed page-cache pages, a write-back starting) falls on each alike;
/// the first round warms up and is dropped.
pub fn buffered(dir: &ScratchDir, plan: &Plan, size: ValueSize) -> Result<Vec<Figure>> {
    #[derive(Clone, Copy)]
    enum Way {
        Shared,
        Exclusive,
        Raw,
    }
    const WAYS: [Way; 3] = [Way::Shared, Way::Exclusive, Way::Raw];

    let value = value(size.bytes);
    let records = (plan.append_bytes / record_len(size.bytes)).max(1);
    let payload = records * record_len(size.bytes);
    let path = dir.file("buffered.wal")?;
    fill_new_log(&path, records, &value, |wal, key, value| {
        wal.append(Op::Put, key, value)
    })?;
    let bytes = fs::read(&path).context("read the log back")?;
    ensure!(bytes.len() as u64 == FILE_HEADER_LEN as u64 + payload);
    fs::remove_file(&path)?;

    let mut rates = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..=plan.rounds {
        for turn in 0..WAYS.len() {
            let index = (turn + round) % WAYS.len();
            let time = match WAYS[index] {
                Way::Shared => fill_new_log(&path, records, &value, |wal, key, value| {
                    wal.append(Op::Put, key, value)
                })?,
                Way::Exclusive => fill_new_log(&path, records, &value, |wal, key, value| {
                    wal.append_exclusive(Op::Put, key, value)
                })?,
                Way::Raw => raw_write(&path, &bytes[FILE_HEADER_LEN..], false)?,
            };
            if !matches!(WAYS[index], Way::Raw) {
                ensure!(
                    same_log(&path, records, bytes.len() as u64)?,
                    "every way writes the same records"
                );
            }
            fs::remove_file(&path)?;
            if round > 0 {
                rates[index].push(per_second(payload as f64, time));
            }
        }
    }
    let [shared, exclusive, raw] = rates;
    let raw = median(raw);
    let per_record = record_len(size.bytes) as f64;
    let target = match size.bytes {
        32 => Some(0.4),
        1024 => Some(0.7),
        _ => None,
    };
    let mut figures = Vec::new();
    for (way, rate) in [
        ("buffered", median(shared)),
        ("buffered_exclusive", median(exclusive)),
    ] {
        let baseline = "write 64 KiB blocks";
        figures.push(Figure::rate(
            format!("append/{way}/{}", size.label),
            rate / 1e6,
            "MB/s",
            raw / 1e6,
            baseline,
        ));
        figures.push(Figure::rate(
            format!("append/{way}/{}/records", size.label),
            rate / per_record,
            "records/s",
            raw / per_record,
            baseline,
        ));
    }
    Ok(figures
        .into_iter()
        .map(|figure| match target {
            Some(target) => figure.target(target),
            None => figure,
        })
        .collect())
}

/// Whether the file at `path` is a clean log of `records` records and
/// `len` bytes. (Not the same bytes: each new log has an identity of its
/// own, which every record's checksum covers.) Read through the reader's
/// borrowed records, so the check allocates nothing per record.
pub fn same_log(path: &Path, records: u64, len: u64) -> Result<bool> {
    let mut reader = wal::WalReader::open(path)?;
    while reader.next_ref()?.is_some() {}
    let summary = reader.finish()?;
    Ok(summary.damage.is_none() && summary.records == records && summary.file_len == len)
}

/// Appends `records` puts to a new log (sync never) at `path` through
/// `append`, and times it until the log is closed: dropping it hands the last
/// buffered bytes to the kernel.
fn fill_new_log(
    path: &Path,
    records: u64,
    value: &[u8],
    append: impl Fn(&mut Wal, &[u8], &[u8]) -> wal::Result<u64>,
) -> Result<Duration> {
    let mut wal = Wal::create(path, SyncPolicy::Never)?;
    let mut keys = Keys::new();
    let start = Instant::now();
    for _ in 0..records {
        append(&mut wal, black_box(keys.advance()), black_box(value))?;
    }
    drop(wal);
    Ok(start.elapsed())
}

/// One fsync per record (`append` under sync always) against a loop of
/// `write` + `sync_data` of a record of the same size. The two take turns
/// record by record, each going first every other time, so that the disk's
/// moods (its cache flushing, the journal) reach both alike, and they write
/// to the same file: the log's, in two zero-filled regions of it (see
/// [`synced_pair`]).
///
/// Two files side by side sync at rates up to a quarter apart, whichever
/// program writes them, because their blocks land in different places of
/// the disk (measured with two plain files on this project's virtual disk);
/// in one file, both sides land on the same blocks.
pub fn fsync_each(dir: &ScratchDir, plan: &Plan, size: ValueSize) -> Result<Figure> {
    let value = value(size.bytes);
    let path = dir.file("fsync.wal")?;
    let record = encoded_puts(1, &value);
    let (wal, mut raw) = synced_pair(&path, plan, plan.fsync_records, record.len())?;
    ensure!(record.len() as u64 == record_len(size.bytes));
    let mut keys = Keys::new();
    let (rate, raw_rate) = synced_turns(plan, plan.fsync_records, 1, &mut raw, &record, || {
        let start = Instant::now();
        wal.append(Op::Put, keys.advance(), &value)?;
        Ok(start.elapsed())
    })?;
    Ok(Figure::rate(
        format!("append/fsync_each/{}", size.label),
        rate,
        "appends/s",
        raw_rate,
        "write + sync_data loop, in place",
    )
    .target(0.9))
}

/// `append_batch` of 8 and of 64 records, one fsync each, judged twice:
/// against the rate of one fsync per record (`per_record`, from
/// [`fsync_each`]), which is what batching is for, and against one `write`
/// of the same records' bytes + one `sync_data`, which is what the disk
/// allows a batch. The log's batches and the raw ones take turns, batch by
/// batch, in the log's file (see [`fsync_each`] for why one file).
pub fn batches(
    dir: &ScratchDir,
    plan: &Plan,
    size: ValueSize,
    per_record: &Figure,
) -> Result<Vec<Figure>> {
    let value = value(size.bytes);
    let mut figures = Vec::new();
    for batch_len in [8u64, 64] {
        let path = dir.file(&format!("batch-{batch_len}.wal"))?;
        let raw_batch = encoded_puts(batch_len, &value);
        // (A batch frame's header, 21 bytes, on top of its records.)
        let (wal, mut raw) = synced_pair(&path, plan, plan.batches, raw_batch.len() + 21)?;
        ensure!(raw_batch.len() as u64 == batch_len * record_len(size.bytes));
        let mut keys = Keys::new();
        let (rate, raw_rate) =
            synced_turns(plan, plan.batches, batch_len, &mut raw, &raw_batch, || {
                let batch: Vec<[u8; 12]> = (0..batch_len).map(|_| *keys.advance()).collect();
                let start = Instant::now();
                let lsns =
                    wal.append_batch(batch.iter().map(|key| (Op::Put, &key[..], &value[..])))?;
                let elapsed = start.elapsed();
                ensure!(lsns.end() - lsns.start() + 1 == batch_len);
                Ok(elapsed)
            })?;
        // `per_record.baseline` is the raw write + sync_data rate of one
        // record: raw batches over raw single records is what batching
        // gains on this disk with no log in the way.
        let figure = Figure::rate(
            format!("append_batch/{batch_len}/{}", size.label),
            rate,
            "records/s",
            per_record.value,
            "one fsync per record",
        )
        .raw_ratio(raw_rate / per_record.baseline);
        figures.push(if batch_len == 64 {
            figure.target(20.0)
        } else {
            figure
        });
        figures.push(Figure::rate(
            format!("append_batch_vs_raw/{batch_len}/{}", size.label),
            rate,
            "records/s",
            raw_rate,
            "write + sync_data of the same records",
        ));
    }
    Ok(figures)
}

/// `count` puts with `value`, encoded back to back (keys `key-00000001`
/// on): the bytes a raw baseline writes in place of the log's records.
fn encoded_puts(count: u64, value: &[u8]) -> Vec<u8> {
    let mut keys = Keys::new();
    (0..count)
        .flat_map(|_| {
            wal::encode(
                &Record {
                    lsn: 1,
                    op: Op::Put,
                    key: keys.advance().to_vec(),
                    value: value.to_vec(),
                },
                wal::LogFormat::V2 { id: 1 },
            )
        })
        .collect()
}

/// Rounds of `turns` turns in which the log (`log_turn`, which times its own
/// work) and one `write` + `sync_data` of `raw_bytes` into `raw` take turns,
/// each going first every other time. Returns the median rates of the log
/// and of the raw side, in `per_turn` records per turn, the first round
/// dropped as a warm-up.
/// The raw side of a synced figure: `write` + `sync_data` in place, over
/// zeros the file already holds, as the log's preallocated appends write.
struct InPlace {
    file: File,
    at: u64,
}

impl InPlace {
    fn write_sync(&mut self, bytes: &[u8]) -> Result<Duration> {
        use std::os::unix::fs::FileExt;
        let start = Instant::now();
        self.file
            .write_all_at(bytes, self.at)
            .context("raw write")?;
        self.file.sync_data().context("raw sync_data")?;
        self.at += bytes.len() as u64;
        Ok(start.elapsed())
    }
}

/// A new log under sync always at `path`, whose file is zero-filled and
/// fsync'd ahead of both sides of a synced figure: the log's records go in
/// place from its header on (as its own preallocation would have them), and
/// the raw side's `turns` writes of `turn_bytes` per round go in place into
/// a second region after it. Neither side's `fdatasync` has a new file size
/// to write, and neither writes over the other.
fn synced_pair(path: &Path, plan: &Plan, turns: u64, turn_bytes: usize) -> Result<(Wal, InPlace)> {
    drop(Wal::create(path, SyncPolicy::Always)?);
    let room = (plan.rounds as u64 + 1) * turns * turn_bytes as u64 + 64 * 1024;
    let raw_from = FILE_HEADER_LEN as u64 + room;
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("{}: open", path.display()))?;
    let zeros = vec![0u8; BLOCK];
    let mut at = FILE_HEADER_LEN as u64;
    while at < raw_from + room {
        let n = (raw_from + room - at).min(BLOCK as u64) as usize;
        std::os::unix::fs::FileExt::write_all_at(&file, &zeros[..n], at).context("zero-fill")?;
        at += n as u64;
    }
    file.sync_all().context("zero-fill sync")?;
    let options = WalOptions {
        sync: SyncPolicy::Always,
        mode: RecoveryMode::AbsoluteConsistency,
    };
    let (wal, report) = wal::open(path, options, |_| {})?;
    ensure!(report.records_replayed == 0 && report.damage.is_none());
    ensure!(report.preallocated == raw_from + room - FILE_HEADER_LEN as u64);
    Ok((wal, InPlace { file, at: raw_from }))
}

fn synced_turns(
    plan: &Plan,
    turns: u64,
    per_turn: u64,
    raw: &mut InPlace,
    raw_bytes: &[u8],
    mut log_turn: impl FnMut() -> Result<Duration>,
) -> Result<(f64, f64)> {
    let (mut rates, mut raw_rates) = (Vec::new(), Vec::new());
    for round in 0..=plan.rounds {
        let (mut log_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
        for turn in 0..turns {
            let raw_first = turn % 2 == 0;
            if raw_first {
                raw_time += raw.write_sync(raw_bytes)?;
            }
            log_time += log_turn()?;
            if !raw_first {
                raw_time += raw.write_sync(raw_bytes)?;
            }
        }
        if round > 0 {
            let records = (turns * per_turn) as f64;
            rates.push(per_second(records, log_time));
            raw_rates.push(per_second(records, raw_time));
        }
    }
    Ok((median(rates), median(raw_rates)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The synced figures' log and their raw loop share one zero-filled
    /// file: both write in place (neither grows the file, which would cost
    /// its `fdatasync` the new size), and neither over the other's bytes.
    #[test]
    fn synced_log_and_baseline_write_in_place_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fsync.wal");
        let plan = Plan::quick();
        let record = encoded_puts(1, b"value");
        let (wal, mut raw) = synced_pair(&path, &plan, 4, record.len()).unwrap();
        let len = fs::metadata(&path).unwrap().len();
        let raw_at = raw.at;
        raw.write_sync(&record).unwrap();
        wal.append(Op::Put, b"key-00000001", b"value").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), len);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(
            &bytes[raw_at as usize..raw_at as usize + record.len()],
            &record[..]
        );
        let log: Vec<_> = wal::WalReader::open(&path)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(log.len(), 1);
        assert!(log[0].offset + log[0].len <= raw_at);
    }
}
