//! Crash drill 1 (lesson w09-l07): the process dies after a PUT reached the
//! WAL and was fsync'd, but before the in-memory map was updated.
//!
//! The WAL, not memory, is the source of truth: a new store recovering from
//! the same file must find the PUT and hold the key with its exact value. The
//! drill shows it twice:
//!
//! 1. **Simulated crash** ([`simulated`]), the lesson's task: the record is
//!    appended through [`wal::KvStore::wal`] (bypassing `put`, so the map
//!    never sees it), the store is dropped, and a new store recovers.
//! 2. **Real crash** ([`real`]): the drill binary runs itself again as a child
//!    that writes the same kind of record and announces its LSN; the parent
//!    kills it with SIGKILL and recovers from the child's WAL.
//!
//! The binary's `main` is [`drill::main`]; this crate holds the steps and the
//! checks, so that tests can run them with a [`Fault`] injected.

pub mod real;
pub mod simulated;

use std::io::Write;
use std::path::Path;

use drill::{Doing, Drill, Options, Result, Steps, expect, expect_eq, show};
use wal::{FILE_HEADER_LEN, KvStore, Op, RECORD_HEADER_LEN};

/// The key and value of the simulated crash, as the lesson names them.
pub const KEY: &[u8] = b"test_key";
pub const VALUE: &[u8] = b"test_value";

/// Faults a test can inject (`--inject-fault NAME`) to watch a check fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// Flip a bit in the value of the PUT in `wal.log` before the restart.
    CorruptRecord,
    /// Flip a bit in the value of the child's PUT after it was killed.
    CorruptChildRecord,
}

/// The drill, as [`drill::main`] runs it.
pub struct CrashAfterWal;

impl Drill for CrashAfterWal {
    type Fault = Fault;
    const NAME: &'static str = "test_crash_after_wal";
    const ABOUT: &'static str = "Crash drill 1 (w09-l07): a PUT is fsync'd to the WAL but never \
         applied to memory, then the process crashes; recovery must bring the PUT back.";
    const WAL_FILE: &'static str = simulated::WAL_FILE;
    const PASSED: &'static str = "Crash drill 1 passed: data recovered from WAL";
    const LESSON: &'static str = "w09-l07";

    fn run(options: &Options<Fault>, out: &mut dyn Write) -> Result<()> {
        let mut steps = Steps::new(out, simulated::STEPS + real::STEPS);
        steps.title(
            "Crash drill 1: the process crashes after the WAL write (fsync'd), before the in-memory apply",
        )?;
        simulated::run(options, &mut steps)?;
        real::run(options, &mut steps)
    }

    fn child(wal: &Path, out: &mut dyn Write) -> Result<()> {
        real::child(wal, out)
    }
}

/// Appends `PUT key = value` to the store's WAL without applying it to the
/// map: the lesson's "bypass the normal put path". Returns once the record
/// is fsync'd, with its LSN.
pub fn write_unapplied(store: &KvStore, key: &[u8], value: &[u8]) -> Result<u64> {
    let lsn = store
        .wal()
        .append(Op::Put, key, value)
        .doing(format!("append PUT {} to the WAL", show::key(key)))?;
    expect(
        &format!(
            "get({}) on the running store after the WAL-only write",
            show::key(key)
        ),
        store.get(key).is_none(),
        "nothing (the map was not updated)",
        show::lookup(store.get(key).as_deref()),
    )?;
    Ok(lsn)
}

/// Recovers a new store from `wal` and checks that it holds `key = value`,
/// written as the one record at `lsn`.
pub fn recover_and_check(
    steps: &mut Steps<'_>,
    wal: &Path,
    key: &[u8],
    value: &[u8],
    lsn: u64,
) -> Result<()> {
    let (store, report) =
        KvStore::recover(wal).doing(format!("recover a new KvStore from {}", wal.display()))?;
    let records = plural(report.records_replayed, "record");
    match report.warning() {
        None => steps.note(format_args!(
            "replay found {records} (last LSN {}), the log ends cleanly",
            report.last_lsn
        ))?,
        Some(warning) => steps.note(format_args!(
            "replay found {records} (last LSN {}); warning: {warning}",
            report.last_lsn
        ))?,
    }
    let found = store.get(key);
    let shown_key = show::key(key);
    expect(
        &format!("get({shown_key}) after recovery"),
        found.as_deref() == Some(value),
        show::value(value),
        show::lookup(found.as_deref()),
    )?;
    expect_eq("LSN of the last replayed record", lsn, report.last_lsn)?;
    steps.ok(format_args!(
        "get({shown_key}) = {}: the PUT written at LSN {lsn} was recovered from the WAL",
        show::value(value)
    ))
}

/// Flips one bit inside the value of the first record of `wal`, whose key is
/// `key`: the injected fault that recovery must not paper over.
fn corrupt_first_value(steps: &mut Steps<'_>, wal: &Path, key: &[u8]) -> Result<()> {
    let offset = (FILE_HEADER_LEN + RECORD_HEADER_LEN + key.len()) as u64;
    drill::flip_bit(wal, offset, 0)?;
    steps.note(format_args!(
        "fault injected: flipped bit 0 of byte {offset} of {} (inside the PUT's value)",
        wal.display()
    ))
}

fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
