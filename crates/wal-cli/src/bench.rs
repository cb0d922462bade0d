//! `wal bench`: the log's speed next to what the disk and the CPU allow.
//!
//! Every figure is measured in this one process, in one directory, next to a
//! baseline taken in the same run on the same disk out of the raw operations
//! the log is built on: plain 64 KiB `write` calls for buffered appends, a
//! `write` + `sync_data` loop into the log's own file for synced appends and
//! batches, 64 KiB reads through
//! `crc32fast` for replay. A figure's `ratio` says how close the log comes.
//! Measurements and their baselines take turns round after round and each
//! keeps its median, so a disturbance of the machine (another build, the
//! disk's cache flushing) lands on both alike. BENCHMARKS.md has the method,
//! what is cached, and the figures of a full run.

mod append;
mod figure;
mod load;
#[cfg(feature = "okaywal")]
mod okaywal;
mod replay;
mod threads;
mod workload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

pub use figure::Figure;
use workload::{ScratchDir, VALUE_SIZES};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Print the figures as a JSON array of objects with `name`, `value`,
    /// `unit`, `baseline`, `baseline_name`, `ratio`, `target` and
    /// `raw_ratio`.
    #[arg(long)]
    pub json: bool,
    /// Smaller logs and shorter runs: under 20 seconds instead of under 2
    /// minutes. Replay then reads 32 MiB logs instead of 256 MiB ones.
    #[arg(long)]
    pub quick: bool,
    /// Measure in a new directory inside DIR, removed afterwards (default:
    /// the system temp directory). Pick a directory on the disk to measure:
    /// a tmpfs makes every fsync free.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// How much work each measurement does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Timed rounds per figure; the median is kept.
    pub rounds: usize,
    /// Bytes appended per buffered-append round.
    pub append_bytes: u64,
    /// Synced appends per round of the one-fsync-per-record figure.
    pub fsync_records: u64,
    /// Batches per round of the `append_batch` figures.
    pub batches: u64,
    /// Size of the replayed logs.
    pub replay_bytes: u64,
    /// Records replayed by `KvStore` recovery.
    pub recovery_records: u64,
    /// How long the threads of a group-commit round put.
    pub group_window: Duration,
    /// Bytes written per round of the `wal load --sync never` figure.
    pub load_bytes: u64,
    /// Synced appends per round beside okaywal (`--features okaywal`;
    /// unread without it).
    #[cfg_attr(not(feature = "okaywal"), allow(dead_code))]
    pub okaywal_appends: u64,
}

impl Plan {
    const MIB: u64 = 1024 * 1024;

    /// The full run: under 2 minutes on a 2-core machine.
    pub fn full() -> Plan {
        Plan {
            rounds: 5,
            append_bytes: 128 * Plan::MIB,
            fsync_records: 200,
            batches: 20,
            replay_bytes: 256 * Plan::MIB,
            recovery_records: 1_000_000,
            load_bytes: 256 * Plan::MIB,
            group_window: Duration::from_millis(1000),
            okaywal_appends: 2000,
        }
    }

    /// `--quick`: under 20 seconds.
    pub fn quick() -> Plan {
        Plan {
            rounds: 5,
            append_bytes: 32 * Plan::MIB,
            fsync_records: 50,
            batches: 8,
            replay_bytes: 32 * Plan::MIB,
            recovery_records: 100_000,
            load_bytes: 32 * Plan::MIB,
            group_window: Duration::from_millis(250),
            okaywal_appends: 500,
        }
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let started = Instant::now();
    let dir = ScratchDir::create(args.dir.as_deref())?;
    crate::stderr::note(format_args!(
        "wal bench: measuring in {}",
        dir.path().display()
    ));
    let figures = measure(&dir, &plan)?;
    drop(dir);
    crate::stderr::note(format_args!(
        "wal bench: {} figures in {:.1} s",
        figures.len(),
        started.elapsed().as_secs_f64()
    ));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print!("{}", figure::table(&figures));
    }
    Ok(())
}

/// Every figure, in the order the table shows them.
pub fn measure(dir: &ScratchDir, plan: &Plan) -> Result<Vec<Figure>> {
    // Synced figures first, while no write-back of the big files runs.
    let mut per_record = Vec::new();
    let mut batched = Vec::new();
    for size in VALUE_SIZES {
        progress(&format!("one fsync per record, {} values", size.label));
        let figure = append::fsync_each(dir, plan, size)?;
        progress(&format!("append_batch, {} values", size.label));
        batched.extend(append::batches(dir, plan, size, &figure)?);
        per_record.push(figure);
    }
    #[cfg(feature = "okaywal")]
    {
        progress("synced appends beside okaywal and a preallocated file");
        per_record.extend(okaywal::synced_appends(dir, plan)?);
    }
    progress("group commit, 1/4/16 threads");
    let raw_sync_1k = per_record[1].baseline;
    let group = threads::group_commit(dir, plan, raw_sync_1k)?;
    let mut buffered = Vec::new();
    for size in VALUE_SIZES {
        progress(&format!("buffered append, {} values", size.label));
        buffered.extend(append::buffered(dir, plan, size)?);
    }
    progress("wal load --sync never");
    buffered.push(load::sync_never(dir, plan)?);
    let mut replayed = Vec::new();
    for size in VALUE_SIZES {
        progress(&format!("replay, {} values", size.label));
        replayed.extend(replay::replay(dir, plan, size)?);
    }
    progress("KvStore recovery");
    let recovery = replay::kvstore_recovery(dir, plan)?;
    let mut figures = buffered;
    figures.extend(per_record);
    figures.extend(batched);
    figures.extend(group);
    figures.extend(replayed);
    figures.push(recovery);
    #[cfg(feature = "okaywal")]
    {
        progress("recovery beside okaywal");
        figures.extend(okaywal::recovery(dir, plan)?);
    }
    Ok(figures)
}

fn progress(what: &str) {
    crate::stderr::note(format_args!("wal bench: {what}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan so small it only shows that every measurement runs and
    /// checks what it read: the figures themselves mean nothing.
    fn tiny() -> Plan {
        Plan {
            rounds: 1,
            append_bytes: 256 * 1024,
            fsync_records: 2,
            batches: 1,
            replay_bytes: 256 * 1024,
            recovery_records: 500,
            load_bytes: 256 * 1024,
            group_window: Duration::from_millis(20),
            okaywal_appends: 2,
        }
    }

    #[test]
    fn every_figure_is_measured_with_its_baseline() {
        let parent = tempfile::tempdir().unwrap();
        let dir = ScratchDir::create(Some(parent.path())).unwrap();
        let figures = measure(&dir, &tiny()).unwrap();
        let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
        for name in [
            "append/buffered/32B",
            "append/buffered/1KiB/records",
            "append/buffered_exclusive/32B",
            "load/sync_never/256KiB",
            "append/fsync_each/64KiB",
            "append_batch/8/1KiB",
            "append_batch/64/32B",
            "append_batch_vs_raw/64/64KiB",
            "group_commit/1_thread",
            "group_commit/16_threads",
            "replay/1KiB",
            "replay/64KiB/records",
            "replay_owned/32B",
            "kvstore_recover/500",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let beside_okaywal = [
            "okaywal/fsync_each/2x100B",
            "append/fsync_each_vs_preallocated/2x100B",
            "okaywal/open/500",
            "okaywal/recover/500",
            "okaywal/recover_chunks_of_1000/500",
        ];
        for name in beside_okaywal {
            assert_eq!(
                names.contains(&name),
                cfg!(feature = "okaywal"),
                "{name} in {names:?}"
            );
        }
        let okaywal = if cfg!(feature = "okaywal") { 5 } else { 0 };
        assert_eq!(names.len(), 12 + 1 + 3 + 12 + 3 + 9 + 1 + okaywal);
        for figure in &figures {
            assert_eq!(
                figure.raw_ratio.is_some(),
                figure.name.starts_with("append_batch/"),
                "{figure:?}"
            );
            assert!(
                figure.value > 0.0 && figure.baseline > 0.0 && figure.ratio > 0.0,
                "{figure:?}"
            );
            assert!(figure.value.is_finite() && figure.baseline.is_finite());
        }
        drop(dir);
        let left: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert!(left.is_empty(), "the bench directory is removed");
    }
}
