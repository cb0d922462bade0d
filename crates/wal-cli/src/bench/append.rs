//! Appending: buffered (no fsync), one fsync per record, and batches.

use std::fs::{self, File};
use std::hint::black_box;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use wal::{FILE_HEADER_LEN, Op, Record, RecoveryMode, SyncPolicy, Wal, WalOptions};

use super::Plan;
use super::figure::Figure;
use super::workload::{
    BLOCK, Keys, ScratchDir, ValueSize, median, open_append, per_second, raw_write, raw_write_sync,
    record_len, value,
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
                    same_contents(&path, &bytes)?,
                    "every way writes the same bytes"
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

/// Whether the file at `path` holds exactly `expected`, read in blocks
/// rather than whole, so the check allocates nothing big between timings.
pub fn same_contents(path: &Path, expected: &[u8]) -> Result<bool> {
    let mut file = fs::File::open(path).with_context(|| format!("{}: open", path.display()))?;
    let mut block = vec![0u8; BLOCK];
    let mut at = 0;
    loop {
        let n = file
            .read(&mut block)
            .with_context(|| format!("{}: read", path.display()))?;
        if n == 0 {
            return Ok(at == expected.len());
        }
        if expected.get(at..at + n) != Some(&block[..n]) {
            return Ok(false);
        }
        at += n;
    }
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
/// moods (its cache flushing, the journal) reach both alike, and they append
/// to the same file: the log's.
///
/// Two files side by side sync at rates up to a quarter apart, whichever
/// program writes them, because their blocks land in different places of
/// the disk (measured with two plain files on this project's virtual disk);
/// in one file, both sides land on the same blocks. The log never reads its
/// file back, so the baseline's bytes in it change nothing; the file is
/// scratch.
pub fn fsync_each(dir: &ScratchDir, plan: &Plan, size: ValueSize) -> Result<Figure> {
    let value = value(size.bytes);
    let path = dir.file("fsync.wal")?;
    let wal = synced_appending_log(&path)?;
    let mut raw = open_append(&path)?;
    let record = encoded_puts(1, &value);
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
        "write + sync_data loop",
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
        let wal = synced_appending_log(&path)?;
        let mut raw = open_append(&path)?;
        let raw_batch = encoded_puts(batch_len, &value);
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
            wal::encode(&Record {
                lsn: 1,
                op: Op::Put,
                key: keys.advance().to_vec(),
                value: value.to_vec(),
            })
        })
        .collect()
}

/// Rounds of `turns` turns in which the log (`log_turn`, which times its own
/// work) and one `write` + `sync_data` of `raw_bytes` into `raw` take turns,
/// each going first every other time. Returns the median rates of the log
/// and of the raw side, in `per_turn` records per turn, the first round
/// dropped as a warm-up.
/// A new log under sync always at `path`, opened again for appending:
/// `Wal::create` hands back the file it created, which writes at its own
/// cursor, while `wal::open` opens an existing log with `O_APPEND`. Only the
/// latter appends after the baseline's bytes in the shared file; the former
/// would overwrite them in place, an `fdatasync` with no new file size to
/// write, and read faster than the appending baseline (1.4-2.1x, seen after
/// `8427c68`).
fn synced_appending_log(path: &Path) -> Result<Wal> {
    drop(Wal::create(path, SyncPolicy::Always)?);
    let options = WalOptions {
        sync: SyncPolicy::Always,
        mode: RecoveryMode::AbsoluteConsistency,
    };
    let (wal, report) = wal::open(path, options, |_| {})?;
    ensure!(report.records_replayed == 0 && report.damage.is_none());
    Ok(wal)
}

fn synced_turns(
    plan: &Plan,
    turns: u64,
    per_turn: u64,
    raw: &mut File,
    raw_bytes: &[u8],
    mut log_turn: impl FnMut() -> Result<Duration>,
) -> Result<(f64, f64)> {
    let (mut rates, mut raw_rates) = (Vec::new(), Vec::new());
    for round in 0..=plan.rounds {
        let (mut log_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
        for turn in 0..turns {
            let raw_first = turn % 2 == 0;
            if raw_first {
                raw_time += raw_write_sync(raw, raw_bytes)?;
            }
            log_time += log_turn()?;
            if !raw_first {
                raw_time += raw_write_sync(raw, raw_bytes)?;
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

    /// The synced figures' log and their raw loop share one file: each must
    /// append after the other's bytes, never write over them (which would
    /// spare the log's `fdatasync` the new file size and flatter it).
    #[test]
    fn synced_log_appends_after_the_baselines_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fsync.wal");
        let wal = synced_appending_log(&path).unwrap();
        let mut raw = open_append(&path).unwrap();
        let record = encoded_puts(1, b"value");
        raw_write_sync(&mut raw, &record).unwrap();
        wal.append(Op::Put, b"key-00000001", b"value").unwrap();
        let len = fs::metadata(&path).unwrap().len();
        assert_eq!(len, (FILE_HEADER_LEN + 2 * record.len()) as u64);
    }
}
