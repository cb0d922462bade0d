//! `wal load FILE --records N`: append generated puts, for crash tests and
//! benchmarks.
//!
//! Record `LSN` has key `key-{LSN:08}` and a value of that key repeated and
//! cut to `--value-size` bytes, so a checker can recompute every record from
//! its LSN alone.
//!
//! An `ack LSN` line means "this record is durable" and nothing less:
//! * `always`: one fsync per record, ack right after it;
//! * `batch:N`: N records per [`wal::Wal::append_batch`]: one atomic batch on
//!   disk (recovered whole or not at all) and one fsync; acks for the whole
//!   batch right after that fsync;
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
                Some(Ok(n)) if n > 0 && n <= wal::MAX_KEY_LEN => Ok(LoadSync::Batch(n)),
                _ => Err(format!(
                    "`{text}`: expected `always`, `never` or `batch:N` with N from 1 to {} \
                     (the records of a batch)",
                    wal::MAX_KEY_LEN
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

/// Writes the key of the record with this LSN, `key-{LSN:08}`, into `out`
/// (cleared first).
fn write_key(lsn: u64, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    write!(out, "key-{lsn:08}").expect("writing to a String");
}

/// Writes the value of the record with this key, the key repeated and cut to
/// `size`, into `out` (cleared first, its memory reused): the key once, then what is there copied onto its end, doubling, so a
/// value costs a few `memcpy`s instead of a loop over its bytes (which took
/// 90% of a `load --sync never`).
fn fill_value(key: &[u8], size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(size);
    if key.is_empty() {
        return;
    }
    out.extend_from_slice(&key[..key.len().min(size)]);
    while out.len() < size {
        // `out` holds whole repetitions of the key, so copying a prefix of
        // it onto its end continues the pattern.
        let more = out.len().min(size - out.len());
        out.extend_from_within(..more);
    }
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
    // One key and value buffer per record of a batch, reused for every batch.
    let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
    let mut appended = 0;
    while appended < args.records {
        let count = batch_len.min(args.records - appended);
        let start = wal.last_lsn() + 1;
        batch.resize_with(count as usize, Default::default);
        for (lsn, (key, value)) in (start..).zip(batch.iter_mut()) {
            write_key(lsn, key);
            fill_value(key.as_bytes(), args.value_size as usize, value);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The doubling fill gives exactly the key repeated and cut, for sizes
    /// around the key's length and its multiples, into a reused buffer.
    #[test]
    fn values_are_the_key_repeated_and_cut() {
        let mut buffer = Vec::new();
        for size in [0, 1, 11, 12, 13, 24, 25, 100, 4096, 100_000] {
            for lsn in [1, 12_345_678, 123_456_789] {
                let mut key = String::new();
                write_key(lsn, &mut key);
                let expected: Vec<u8> = key.bytes().cycle().take(size).collect();
                fill_value(key.as_bytes(), size, &mut buffer);
                assert_eq!(buffer, expected, "size {size}, key {key}");
            }
        }
        let mut key = String::from("old");
        write_key(7, &mut key);
        assert_eq!(key, "key-00000007");
    }
}
