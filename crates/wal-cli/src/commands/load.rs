//! `wal load FILE --records N`: append generated puts, for crash tests and
//! benchmarks.
//!
//! Record `LSN` has key `key-{LSN:08}` and a value of that key repeated and
//! cut to `--value-size` bytes, so a checker can recompute every record from
//! its LSN alone.
//!
//! An `ack LSN` line means "this record is durable" and nothing less:
//! * `always`: one fsync per record, ack right after it;
//! * `batch:N`: N records per [`wal::Wal::append_batch`] (one fsync), acks for
//!   the whole batch right after that fsync;
//! * `never`: no fsync while appending, one at the end; acks, if asked for,
//!   come only after that final fsync (a crash before it acks nothing).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use wal::{Op, SyncPolicy};

use super::{named, open_writer, stdout_error};
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The log; created when missing, appended to otherwise.
    pub file: PathBuf,
    /// How many records to append.
    #[arg(long)]
    pub records: u64,
    /// Bytes in each value.
    #[arg(long, default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(wal::MAX_VALUE_LEN)))]
    pub value_size: u32,
    /// When records are made durable: `always` (fsync per record),
    /// `batch:N` (one fsync per N records) or `never` (one fsync at the end).
    #[arg(long, default_value = "always")]
    pub sync: LoadSync,
    /// Print `ack LSN` on stdout (flushed) once each record is durable.
    #[arg(long)]
    pub acks: bool,
}

pub const EXAMPLES: &str = "\
Output: with --acks, `ack LSN` lines on stdout; always a summary on stderr.

Examples:
  wal load big.wal --records 100000 --sync batch:100
  wal load crash.wal --records 1000000 --acks
      kill it at any moment: every acked record is in the log afterwards";

/// The `--sync` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSync {
    Always,
    Batch(u32),
    Never,
}

impl FromStr for LoadSync {
    type Err = String;

    fn from_str(text: &str) -> Result<LoadSync, String> {
        match text {
            "always" => Ok(LoadSync::Always),
            "never" => Ok(LoadSync::Never),
            _ => match text.strip_prefix("batch:").map(str::parse::<u32>) {
                Some(Ok(n)) if n > 0 => Ok(LoadSync::Batch(n)),
                _ => Err(format!(
                    "`{text}`: expected `always`, `never` or `batch:N` with N >= 1"
                )),
            },
        }
    }
}

impl std::fmt::Display for LoadSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadSync::Always => f.write_str("always"),
            LoadSync::Batch(n) => write!(f, "batch:{n}"),
            LoadSync::Never => f.write_str("never"),
        }
    }
}

/// The key of the record with this LSN.
pub fn key_for(lsn: u64) -> String {
    format!("key-{lsn:08}")
}

/// The value of the record with this key: the key repeated, cut to `size`.
pub fn value_for(key: &str, size: usize) -> Vec<u8> {
    key.bytes().cycle().take(size).collect()
}

pub fn run(args: &LoadArgs) -> anyhow::Result<Exit> {
    let path = &args.file;
    let (policy, batch_len) = match args.sync {
        LoadSync::Always => (SyncPolicy::Always, 1),
        LoadSync::Batch(n) => (SyncPolicy::Always, u64::from(n)),
        LoadSync::Never => (SyncPolicy::Never, 1),
    };
    let mut wal = open_writer(path, policy)?;
    let first = wal.last_lsn() + 1;
    let started = Instant::now();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
    let mut appended = 0;
    while appended < args.records {
        let count = batch_len.min(args.records - appended);
        let start = wal.last_lsn() + 1;
        batch.clear();
        batch.extend((start..start + count).map(|lsn| {
            let key = key_for(lsn);
            let value = value_for(&key, args.value_size as usize);
            (key, value)
        }));
        let lsns = if let [(key, value)] = batch.as_slice() {
            // The loader owns its log, so one record at a time goes the way
            // that takes no lock; it syncs exactly as `append` would.
            let lsn = wal
                .append_exclusive(Op::Put, key.as_bytes(), value)
                .map_err(|err| named(err, path))?;
            lsn..=lsn
        } else {
            wal.append_batch(
                batch
                    .iter()
                    .map(|(key, value)| (Op::Put, key.as_bytes(), value.as_slice())),
            )
            .map_err(|err| named(err, path))?
        };
        anyhow::ensure!(
            *lsns.start() == start,
            "{}: LSNs moved under the loader (expected {start}, got {})",
            path.display(),
            lsns.start()
        );
        if args.acks && args.sync != LoadSync::Never {
            print_acks(&mut out, lsns)?;
        }
        appended += count;
    }
    wal.sync().map_err(|err| named(err, path))?;
    let last = wal.last_lsn();
    if args.acks && args.sync == LoadSync::Never {
        print_acks(&mut out, first..=last)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let lsns = if last >= first {
        format!(" (LSN {first}..={last})")
    } else {
        String::new()
    };
    eprintln!(
        "{}: loaded {} records{lsns} in {seconds:.3} s, {:.0} records/s, sync {}",
        path.display(),
        args.records,
        args.records as f64 / seconds.max(f64::MIN_POSITIVE),
        args.sync
    );
    Ok(Exit::Success)
}

/// Prints `ack LSN` for each of `lsns` and flushes: called only once they
/// are durable.
fn print_acks(out: &mut impl Write, mut lsns: impl Iterator<Item = u64>) -> anyhow::Result<()> {
    lsns.try_for_each(|lsn| writeln!(out, "ack {lsn}"))
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}
