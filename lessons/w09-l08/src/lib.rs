//! Crash drill 2 (lesson w09-l08): the machine loses power while a WAL record
//! is being written, leaving a partial record at the end of the log.
//!
//! The reader must notice (the record runs past the end of the file, or its
//! checksum does not match), skip it with the warning `skipping corrupt record
//! at offset N`, and replay every complete record before it. The drill:
//!
//! 1. **The lesson's task** ([`lesson`]): five complete records (with an
//!    overwrite and a delete, so that "the state after the first five
//!    operations" is more than "five keys exist"), then the first
//!    [`PARTIAL_LEN`] bytes of a sixth; a new store must replay exactly five
//!    and match the model. Then an empty (0-byte) WAL must recover as the
//!    empty state. Further than the lesson, the recovered store takes a new
//!    put that survives another restart: recovery cut the torn tail off (and
//!    kept it beside the WAL), so new records are not stranded behind it.
//! 2. **Every tear and every flipped bit** ([`sweep`]): record six cut after
//!    each of its byte offsets, and each single-bit flip of a complete record
//!    six; none may be applied, all five before it must be.
//! 3. **A real crash** ([`real`]): the drill runs itself again as a child
//!    that writes the five records and the partial sixth, fsyncs, and is
//!    killed with SIGKILL; the parent recovers the five.
//!
//! The expected state is never written down by hand: [`model`] applies the
//! operations to a plain map, and every check compares the store with it.

pub mod lesson;
pub mod real;
pub mod sweep;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use drill::{Doing, Drill, Options, Result, Steps, expect, expect_eq, show};
use wal::{DamageKind, FILE_HEADER_LEN, KvStore, Op, Record, RecoveryReport};

/// One logged operation: what the drill writes and what the model applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub op: Op,
    pub key: &'static [u8],
    /// Empty for a delete.
    pub value: &'static [u8],
}

const fn put(key: &'static [u8], value: &'static [u8]) -> Operation {
    Operation {
        op: Op::Put,
        key,
        value,
    }
}

const fn delete(key: &'static [u8]) -> Operation {
    Operation {
        op: Op::Delete,
        key,
        value: b"",
    }
}

/// The five complete records, LSN 1 to 5. The third overwrites the first's
/// key and the fourth deletes the second's.
pub const FIRST_FIVE: [Operation; 5] = [
    put(b"user:1", b"alice"),
    put(b"user:2", b"bob"),
    put(b"user:1", b"alicia"),
    delete(b"user:2"),
    put(b"user:3", b"carol"),
];

/// The sixth record, the one the power loss tears.
pub const SIXTH: Operation = put(b"user:4", b"dave");

/// How much of the sixth record reaches the disk, as the lesson asks.
pub const PARTIAL_LEN: usize = 10;

impl Operation {
    /// `put user:1 = "alice"` or `delete user:2`.
    pub fn describe(&self) -> String {
        match self.op {
            Op::Put => format!("put {} = {}", show::key(self.key), show::value(self.value)),
            Op::Delete => format!("delete {}", show::key(self.key)),
        }
    }

    /// The bytes of this operation as the record with LSN `lsn`.
    pub fn encode(&self, lsn: u64) -> Vec<u8> {
        wal::encode(&Record {
            lsn,
            op: self.op,
            key: self.key.to_vec(),
            value: self.value.to_vec(),
        })
    }

    /// Length of its encoded record.
    pub fn record_len(&self) -> usize {
        wal::record_len(self.key.len(), self.value.len())
    }
}

/// The state after applying `operations` in order to an empty map.
pub fn model(operations: &[Operation]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut state = BTreeMap::new();
    for operation in operations {
        apply(&mut state, operation.op, operation.key, operation.value);
    }
    state
}

/// Applies one operation to a state, as replay does.
pub fn apply(state: &mut BTreeMap<Vec<u8>, Vec<u8>>, op: Op, key: &[u8], value: &[u8]) {
    match op {
        Op::Put => {
            state.insert(key.to_vec(), value.to_vec());
        }
        Op::Delete => {
            state.remove(key);
        }
    }
}

/// Byte offset of record `lsn` in a log holding [`FIRST_FIVE`] then
/// [`SIXTH`]: where the partial record starts when `lsn` is 6.
pub fn offset_of(lsn: u64) -> u64 {
    let before: usize = FIRST_FIVE
        .iter()
        .take(lsn as usize - 1)
        .map(Operation::record_len)
        .sum();
    (FILE_HEADER_LEN + before) as u64
}

/// Faults a test can inject (`--inject-fault NAME`) to watch a check fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// Flip a bit in record 3 of `wal.log` before the restart.
    CorruptRecord,
    /// Flip a bit in record 3 of the child's WAL after it was killed.
    CorruptChildRecord,
}

/// The drill, as [`drill::main`] runs it.
pub struct CrashMidWrite;

impl Drill for CrashMidWrite {
    type Fault = Fault;
    const NAME: &'static str = "test_crash_mid_write";
    const ABOUT: &'static str = "Crash drill 2 (w09-l08): power is lost while a WAL record is \
         written; recovery must skip the partial record and replay every complete one before it.";
    const WAL_FILE: &'static str = lesson::CRASHED_FILE;
    const PASSED: &'static str =
        "Crash drill 2 passed: 5 records recovered, 1 partial record skipped";
    const LESSON: &'static str = "w09-l08";

    fn run(options: &Options<Fault>, out: &mut dyn Write) -> Result<()> {
        let mut steps = Steps::new(out, lesson::STEPS + sweep::STEPS + real::STEPS);
        steps.title(
            "Crash drill 2: power is lost in the middle of a WAL write, leaving a partial record",
        )?;
        lesson::run(options, &mut steps)?;
        sweep::run(&mut steps)?;
        real::run(options, &mut steps)
    }

    fn child(wal: &Path, out: &mut dyn Write) -> Result<()> {
        real::child(wal, out)
    }
}

/// Writes [`FIRST_FIVE`] through the store's normal `put` and `delete`
/// (each fsync'd) and checks that they got LSNs 1 to 5.
pub fn write_first_five(store: &KvStore) -> Result<()> {
    for (operation, expected_lsn) in FIRST_FIVE.iter().zip(1u64..) {
        let doing = || operation.describe();
        let lsn = match operation.op {
            Op::Put => store.put(operation.key, operation.value).doing(doing())?,
            Op::Delete => store.delete(operation.key).doing(doing())?,
        };
        expect_eq(&format!("LSN of {}", doing()), expected_lsn, lsn)?;
    }
    Ok(())
}

/// Tears [`SIXTH`] after [`PARTIAL_LEN`] bytes, fsync'd; returns its LSN.
pub fn write_partial_sixth(store: &KvStore) -> Result<u64> {
    store
        .wal()
        .append_partial(SIXTH.op, SIXTH.key, SIXTH.value, PARTIAL_LEN)
        .doing(format!(
            "write the first {PARTIAL_LEN} bytes of record 6 ({})",
            SIXTH.describe()
        ))
}

/// Recovers a new store from `wal`, which holds [`FIRST_FIVE`] and a partial
/// sixth record of [`PARTIAL_LEN`] bytes, and checks that exactly the five
/// were replayed, the sixth skipped, and the state is the model's.
pub fn recover_first_five(steps: &mut Steps<'_>, wal: &Path) -> Result<(KvStore, RecoveryReport)> {
    let (store, report) = recover(wal)?;
    let warning = report.warning();
    steps.note(format_args!(
        "warning: {}",
        warning.as_deref().unwrap_or("(none)")
    ))?;
    let partial_offset = offset_of(6);
    expect_eq("records replayed", 5, report.records_replayed)?;
    expect_eq("LSN of the last replayed record", 5, report.last_lsn)?;
    let expected_warning = format!("skipping corrupt record at offset {partial_offset} (");
    expect(
        "recovery warning",
        warning
            .as_deref()
            .is_some_and(|w| w.starts_with(&expected_warning)),
        format!("{expected_warning}...)"),
        warning.as_deref().unwrap_or("no warning"),
    )?;
    let damage = report.damage.as_ref().map(|damage| &damage.kind);
    expect(
        "what was skipped",
        damage
            == Some(&DamageKind::Incomplete {
                bytes: PARTIAL_LEN as u64,
            }),
        format!("an incomplete record of {PARTIAL_LEN} bytes"),
        damage.map_or("nothing".to_string(), |kind| kind.to_string()),
    )?;
    steps.ok(format_args!(
        "5 records replayed (LSN 1 to 5); the partial record 6 at offset {partial_offset} was skipped"
    ))?;
    check_state(steps, &store, &FIRST_FIVE, "the first 5 operations")?;
    expect(
        &format!("get({}) after recovery", show::key(SIXTH.key)),
        store.get(SIXTH.key).is_none(),
        "nothing (record 6 never completed)",
        show::lookup(store.get(SIXTH.key).as_deref()),
    )?;
    Ok((store, report))
}

/// Recovers a new store from `wal`.
pub fn recover(wal: &Path) -> Result<(KvStore, RecoveryReport)> {
    KvStore::recover(wal).doing(format!("recover a new KvStore from {}", wal.display()))
}

/// Recovers a new store from `wal`, which must replay `records` records and
/// end cleanly; `when` completes the checks' names.
pub fn recover_cleanly(wal: &Path, records: u64, when: &str) -> Result<KvStore> {
    let (store, report) = recover(wal)?;
    expect_eq(
        &format!("records replayed {when}"),
        records,
        report.records_replayed,
    )?;
    let warning = report.warning();
    expect(
        &format!("recovery warning {when}"),
        warning.is_none(),
        "no warning",
        warning.unwrap_or_default(),
    )?;
    Ok(store)
}

/// Checks that the store's whole state equals the model of `operations`.
pub fn check_state(
    steps: &mut Steps<'_>,
    store: &KvStore,
    operations: &[Operation],
    named: &str,
) -> Result<()> {
    let expected = model(operations);
    let found = store.snapshot();
    expect(
        &format!("state after recovery (the model of {named})"),
        found == expected,
        show::state(&expected),
        show::state(&found),
    )?;
    steps.ok(format_args!(
        "state {} equals the state after {named}",
        show::state(&found)
    ))
}

/// Flips one bit inside the key of record 3: the injected fault that
/// recovery must not paper over.
fn corrupt_record_3(steps: &mut Steps<'_>, wal: &Path) -> Result<()> {
    let offset = offset_of(3) + wal::RECORD_HEADER_LEN as u64;
    drill::flip_bit(wal, offset, 0)?;
    steps.note(format_args!(
        "fault injected: flipped bit 0 of byte {offset} of {} (inside record 3's key)",
        wal.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_applies_overwrite_and_delete_in_order() {
        let state = model(&FIRST_FIVE);
        let pairs: Vec<(&[u8], &[u8])> = state
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        assert_eq!(
            pairs,
            [(&b"user:1"[..], &b"alicia"[..]), (b"user:3", b"carol")]
        );
    }

    #[test]
    fn offsets_follow_the_encoded_records() {
        assert_eq!(offset_of(1), FILE_HEADER_LEN as u64);
        let encoded: usize = FIRST_FIVE
            .iter()
            .zip(1u64..)
            .map(|(operation, lsn)| operation.encode(lsn).len())
            .sum();
        assert_eq!(offset_of(6), (FILE_HEADER_LEN + encoded) as u64);
        assert!(PARTIAL_LEN < SIXTH.record_len());
    }
}
