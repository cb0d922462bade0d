//! Reading a log back: replay, and `KvStore` recovery.
//!
//! Each log is written and fsync'd once, then read once before anything is
//! timed, so that every timed pass, baseline or not, reads it from the page
//! cache (dropping the cache takes root; see BENCHMARKS.md).

use std::fs;
use std::hint::black_box;
use std::time::Instant;

use anyhow::{Result, ensure};
use wal::{KvStore, RecoveryMode, WalReader};

use super::Plan;
use super::figure::Figure;
use super::workload::{
    KEY_LEN, ScratchDir, ValueSize, free_then_settle, median, per_second, read_crc, record_len,
    write_log,
};

const BASELINE: &str = "read 64 KiB blocks + crc32fast";

/// Replay of a log of `plan.replay_bytes` against reading the same file in
/// 64 KiB blocks and checksumming it. Two ways of reading are measured:
/// borrowed records ([`WalReader::next_ref`], what `wal verify` does) and
/// owned ones ([`wal::replay`], what recovery hands its callback).
pub fn replay(dir: &ScratchDir, plan: &Plan, size: ValueSize) -> Result<Vec<Figure>> {
    let path = dir.file("replay.wal")?;
    let records = (plan.replay_bytes / record_len(size.bytes)).max(1);
    let file_len = write_log(&path, size.bytes, records)? as f64;
    read_crc(&path)?;
    let (mut borrowed, mut owned, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.rounds {
        let (raw_time, read) = read_crc(&path)?;
        ensure!(read as f64 == file_len);
        baseline.push(per_second(file_len, raw_time));

        let start = Instant::now();
        let mut reader = WalReader::open(&path)?;
        // A consumer looks at each record; this one adds up their sizes.
        let mut payload = 0u64;
        while let Some(entry) = reader.next_ref()? {
            payload += (entry.record.key.len() + entry.record.value.len()) as u64;
        }
        let summary = reader.finish()?;
        borrowed.push(per_second(file_len, start.elapsed()));
        ensure!(payload == records * (KEY_LEN + size.bytes) as u64);
        ensure!(summary.records == records && summary.damage.is_none());

        let start = Instant::now();
        let mut seen = 0u64;
        let report = wal::replay(&path, RecoveryMode::AbsoluteConsistency, |record| {
            black_box(record);
            seen += 1;
        })?;
        owned.push(per_second(file_len, start.elapsed()));
        ensure!(seen == records && report.records_replayed == records);
    }
    fs::remove_file(&path)?;
    let (borrowed, owned, baseline) = (median(borrowed), median(owned), median(baseline));
    let record = file_len / records as f64;
    let target = (size.bytes == 1024).then_some(0.7);
    let with_target = |figure: Figure| match target {
        Some(target) => figure.target(target),
        None => figure,
    };
    Ok(vec![
        with_target(Figure::rate(
            format!("replay/{}", size.label),
            borrowed / 1e6,
            "MB/s",
            baseline / 1e6,
            BASELINE,
        )),
        with_target(Figure::rate(
            format!("replay/{}/records", size.label),
            borrowed / record,
            "records/s",
            baseline / record,
            BASELINE,
        )),
        Figure::rate(
            format!("replay_owned/{}", size.label),
            owned / 1e6,
            "MB/s",
            baseline / 1e6,
            BASELINE,
        ),
    ])
}

/// `KvStore` open + recovery of `plan.recovery_records` puts (100-byte
/// values, like `wal load`'s default), in seconds, against reading the same
/// file in 64 KiB blocks and checksumming it.
pub fn kvstore_recovery(dir: &ScratchDir, plan: &Plan) -> Result<Figure> {
    const VALUE_LEN: usize = 100;
    let path = dir.file("recover.wal")?;
    write_log(&path, VALUE_LEN, plan.recovery_records)?;
    read_crc(&path)?;
    let (mut times, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds {
        baseline.push(read_crc(&path)?.0.as_secs_f64());
        let start = Instant::now();
        let (store, report) = KvStore::recover(&path)?;
        times.push(start.elapsed().as_secs_f64());
        ensure!(report.records_replayed == plan.recovery_records);
        ensure!(store.len() as u64 == plan.recovery_records);
        // Freeing the map is not part of recovery, nor of the baseline.
        free_then_settle(store, &path)?;
    }
    fs::remove_file(&path)?;
    Ok(Figure::seconds(
        format!("kvstore_recover/{}", count_label(plan.recovery_records)),
        median(times),
        median(baseline),
        BASELINE,
    ))
}

/// `1M` for a million, `100k` for a hundred thousand.
pub fn count_label(count: u64) -> String {
    match count {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}
