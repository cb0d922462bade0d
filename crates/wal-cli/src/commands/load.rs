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
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use wal::{Op, SyncPolicy, Wal};

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

/// What comes before the LSN's digits in every key.
const KEY_PREFIX: &[u8] = b"key-";

/// The key and value of each record in turn, made from its LSN: the key
/// `key-{LSN:08}`, kept as ASCII digits and counted up in place, and the
/// value, that key repeated and cut to the value size. Moving on to the next
/// LSN rewrites only the digits that changed, in the key and in every copy
/// of it inside the value (usually the last digit alone). Formatting each
/// LSN with `write!` and refilling each value took about a third of the CPU
/// time of a 256 MiB `load --sync never` (`perf`, BENCHMARKS.md).
struct Generated {
    lsn: u64,
    key: Vec<u8>,
    value: Vec<u8>,
    value_size: usize,
}

impl Generated {
    fn starting_at(lsn: u64, value_size: usize) -> Generated {
        let mut generated = Generated {
            lsn,
            key: format!("key-{lsn:08}").into_bytes(),
            value: Vec::new(),
            value_size,
        };
        fill_value(&generated.key, value_size, &mut generated.value);
        generated
    }

    /// Moves on to the next LSN's key and value.
    fn advance(&mut self) {
        // (Wrapping: past LSN u64::MAX the log refuses to append anyway.)
        self.lsn = self.lsn.wrapping_add(1);
        let len = self.key.len();
        let digits = &mut self.key[KEY_PREFIX.len()..];
        // The digits that change: the last one, and each 9 before it that
        // the carry turns into a 0.
        let changed = 1 + digits
            .iter()
            .rev()
            .take_while(|&&digit| digit == b'9')
            .count();
        if changed > digits.len() {
            // 99..9 to 100..0: one digit more, so every copy in the value
            // moves; the value is made anew.
            digits.fill(b'0');
            self.key.insert(KEY_PREFIX.len(), b'1');
            fill_value(&self.key, self.value_size, &mut self.value);
            return;
        }
        for position in len - changed..len {
            self.key[position] = if position == len - changed {
                self.key[position] + 1
            } else {
                b'0'
            };
            // The value's byte `i` is the key's byte `i % len`.
            let digit = self.key[position];
            let mut at = position;
            while let Some(byte) = self.value.get_mut(at) {
                *byte = digit;
                at += len;
            }
        }
    }
}

/// Fills `out` (cleared first, its memory reused) with `key` repeated and
/// cut to `size`: the key once, then what is there copied onto its end,
/// doubling, so a value costs a few `memcpy`s instead of a loop over its
/// bytes.
fn fill_value(key: &[u8], size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(size);
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
        LoadSync::Batch(n) => (SyncPolicy::Always, n),
        LoadSync::Never => (SyncPolicy::Never, 1),
    };
    let mut wal = open_writer(path, policy)?;
    let first = wal.last_lsn() + 1;
    let started = Instant::now();
    let mut out = BufWriter::new(io::stdout().lock());
    let ack_each_append = args.acks && args.sync != LoadSync::Never;
    append_generated(
        &mut wal,
        args.records,
        args.value_size as usize,
        batch_len,
        |lsns| {
            if ack_each_append {
                print_acks(&mut out, lsns)?;
            }
            Ok(())
        },
    )?;
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
    crate::stderr::note(format_args!(
        "{}: loaded {} records{lsns} in {seconds:.3} s, {:.0} records/s, sync {}",
        path.display(),
        args.records,
        args.records as f64 / seconds.max(f64::MIN_POSITIVE),
        args.sync
    ));
    Ok(Exit::Success)
}

/// Appends `records` generated puts (values of `value_size` bytes) to
/// `wal`, continuing its LSNs: one at a time through
/// [`Wal::append_exclusive`] when `batch_len` is 1, otherwise in atomic
/// batches of `batch_len` (the last one shorter). `appended` gets the LSNs
/// of each append once it has returned, so as durable as the log's policy
/// makes them. No final sync: that is the caller's. `wal bench` times this
/// same loop (`load/sync_never`).
pub fn append_generated(
    wal: &mut Wal,
    records: u64,
    value_size: usize,
    batch_len: u32,
    mut appended: impl FnMut(RangeInclusive<u64>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let path = wal.path().to_path_buf();
    let mut generated = Generated::starting_at(wal.last_lsn() + 1, value_size);
    // One key and value buffer per record of a batch, reused for every batch.
    let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut done = 0;
    while done < records {
        let count = u64::from(batch_len).min(records - done);
        let start = generated.lsn;
        let lsns = if count == 1 {
            // The loader owns its log, so one record at a time goes the way
            // that takes no lock; it syncs exactly as `append` would.
            let lsn = wal
                .append_exclusive(Op::Put, &generated.key, &generated.value)
                .map_err(|err| named(err, &path))?;
            generated.advance();
            lsn..=lsn
        } else {
            batch.resize_with(count as usize, Default::default);
            for (key, value) in &mut batch {
                key.clone_from(&generated.key);
                value.clone_from(&generated.value);
                generated.advance();
            }
            wal.append_batch(
                batch
                    .iter()
                    .map(|(key, value)| (Op::Put, key.as_slice(), value.as_slice())),
            )
            .map_err(|err| named(err, &path))?
        };
        anyhow::ensure!(
            *lsns.start() == start,
            "{}: LSNs moved under the loader (expected {start}, got {})",
            path.display(),
            lsns.start()
        );
        appended(lsns)?;
        done += count;
    }
    Ok(())
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

    fn expected(lsn: u64, size: usize) -> (Vec<u8>, Vec<u8>) {
        let key = format!("key-{lsn:08}").into_bytes();
        let value = key.iter().copied().cycle().take(size).collect();
        (key, value)
    }

    /// Counted up in place, keys and values stay exactly the LSN's key and
    /// that key repeated and cut: across every carry (one 9, several, all of
    /// them, where the key grows a digit), for value sizes around the key's
    /// length and its multiples, from any first LSN.
    #[test]
    fn keys_and_values_follow_the_lsn_across_carries() {
        let firsts = [1, 7, 95, 9_990, 99_999_990, 999_999_995, 1_234_567_890];
        for size in [0, 1, 11, 12, 13, 24, 25, 100, 4096, 100_000] {
            for first in firsts {
                let mut generated = Generated::starting_at(first, size);
                for lsn in first..first + 20 {
                    assert_eq!(generated.lsn, lsn);
                    let (key, value) = expected(lsn, size);
                    assert_eq!(generated.key, key, "LSN {lsn}");
                    assert_eq!(generated.value, value, "size {size}, LSN {lsn}");
                    generated.advance();
                }
            }
        }
    }
}
