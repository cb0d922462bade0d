//! `wal load --sync never`: a bulk load's own loop against writing the same
//! bytes raw.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use wal::{FILE_HEADER_LEN, SyncPolicy, Wal};

use super::Plan;
use super::append::same_log;
use super::figure::Figure;
use super::workload::{KEY_LEN, ScratchDir, median, per_second, raw_write};
use crate::commands::load::append_generated;

/// `wal load`'s default value size.
const VALUE_LEN: usize = 100;

/// The loop of `wal load --sync never` ([`append_generated`]: the records
/// made from their LSNs, `append_exclusive`, then the final `sync`) writing
/// `plan.load_bytes` into a new log, against the same bytes written to a new
/// file in 64 KiB `write` calls and one `sync_data` (as `dd bs=64K
/// conv=fsync` does). The bytes are those of a log loaded first, untimed;
/// every round checks that the loader wrote as many, the same records (the
/// bytes differ: each log has an identity its checksums cover). Each round creates
/// both files outside the timing, and the two take turns at going first;
/// the first round warms up and is dropped.
pub fn sync_never(dir: &ScratchDir, plan: &Plan) -> Result<Figure> {
    let records = (plan.load_bytes / wal::record_len(KEY_LEN, VALUE_LEN) as u64).max(1);
    let path = dir.file("load.wal")?;
    load(&path, records)?;
    let bytes = fs::read(&path).context("read the loaded log back")?;
    fs::remove_file(&path)?;
    let payload = &bytes[FILE_HEADER_LEN..];

    let (mut loaded, mut raw) = (Vec::new(), Vec::new());
    for round in 0..=plan.rounds {
        for turn in 0..2 {
            if (turn + round) % 2 == 0 {
                let time = load(&path, records)?;
                ensure!(
                    same_log(&path, records, bytes.len() as u64)?,
                    "the load wrote other records"
                );
                loaded.push(time);
            } else {
                raw.push(raw_write(&path, payload, true)?);
            }
            fs::remove_file(&path)?;
        }
    }
    // The warm-up round.
    loaded.remove(0);
    raw.remove(0);
    let rate = |times: Vec<Duration>| {
        median(
            times
                .into_iter()
                .map(|time| per_second(payload.len() as f64, time) / 1e6)
                .collect(),
        )
    };
    Ok(Figure::rate(
        format!("load/sync_never/{}", size_label(plan.load_bytes)),
        rate(loaded),
        "MB/s",
        rate(raw),
        "write 64 KiB blocks + sync_data",
    )
    .target(1.0 / 1.5))
}

/// A new log at `path` filled by the loader's loop, timed from its first
/// append to the end of its final sync.
fn load(path: &Path, records: u64) -> Result<Duration> {
    let mut wal = Wal::create(path, SyncPolicy::Never)?;
    let start = Instant::now();
    append_generated(&mut wal, records, VALUE_LEN, 1, |_| Ok(()))?;
    wal.sync()?;
    Ok(start.elapsed())
}

/// `256MiB`, or `256KiB` below a MiB.
fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{}MiB", bytes >> 20)
    } else {
        format!("{}KiB", bytes >> 10)
    }
}
