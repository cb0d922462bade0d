//! The lesson's drill: five complete records, a torn sixth, a restart; the
//! empty WAL; and, further, a new put after recovery that survives another
//! restart.

use std::fs;
use std::path::Path;

use drill::{Doing, Drill, Options, Result, Steps, expect, expect_eq, show};
use wal::{KvStore, RECORD_HEADER_LEN, RecoveryReport};

use crate::{
    CrashMidWrite, FIRST_FIVE, Fault, Operation, PARTIAL_LEN, SIXTH, check_state, corrupt_record_3,
    model, offset_of, recover_cleanly, recover_first_five, write_first_five, write_partial_sixth,
};

/// Steps this part prints.
pub const STEPS: usize = 6;

/// The drill's main WAL.
pub const WAL_FILE: &str = "wal.log";

/// A copy of the main WAL as the crash left it, torn tail included: recovery
/// cuts the tail off the WAL itself, and this copy is what `--keep` points
/// the student at, so that `wal dump` shows the torn record.
pub const CRASHED_FILE: &str = "crashed.log";

/// The empty WAL's file, beside the main one.
pub const EMPTY_WAL_FILE: &str = "empty.log";

pub fn run(options: &Options<Fault>, steps: &mut Steps<'_>) -> Result<()> {
    let wal = options.dir.join(WAL_FILE);
    let store = drill::create_store(steps, &wal)?;

    write_first_five(&store)?;
    steps.step("wrote 5 valid records through put and delete, each fsync'd:")?;
    for (index, operation) in FIRST_FIVE.iter().enumerate() {
        let lsn = index + 1;
        let remark = remark(&FIRST_FIVE[..index], operation);
        steps.note(format_args!("LSN {lsn}  {}{remark}", operation.describe()))?;
    }
    steps.note(format_args!(
        "state after these 5 operations: {}",
        show::state(&model(&FIRST_FIVE))
    ))?;

    let lsn = write_partial_sixth(&store)?;
    expect_eq("LSN of the partial record", 6, lsn)?;
    let partial_offset = offset_of(6);
    let len = file_len(&wal)?;
    expect_eq(
        "WAL length after the partial write",
        partial_offset + PARTIAL_LEN as u64,
        len,
    )?;
    steps.step(format_args!(
        "simulated power loss mid-write: only the first {PARTIAL_LEN} of the {} bytes of record 6 ({}) reached the disk, at offset {partial_offset}, fsync'd",
        SIXTH.record_len(),
        SIXTH.describe()
    ))?;
    steps.note(describe_cut(PARTIAL_LEN, &SIXTH))?;
    drop(store);
    if options.fault == Some(Fault::CorruptRecord) {
        corrupt_record_3(steps, &wal)?;
    }
    let crashed = options.dir.join(CrashMidWrite::WAL_FILE);
    fs::copy(&wal, &crashed).doing(format!("copy the WAL to {}", crashed.display()))?;
    steps.note(format_args!(
        "copied the WAL as the crash left it to {}, for `wal dump`",
        crashed.display()
    ))?;

    steps.step(format_args!(
        "restart: new KvStore replaying {} ({len} bytes)",
        wal.display()
    ))?;
    let (store, report) = recover_first_five(steps, &wal)?;

    empty_wal(&options.dir.join(EMPTY_WAL_FILE), steps)?;
    new_put_survives(steps, &wal, store, &report)
}

/// The lesson's second test: a 0-byte WAL recovers as the empty state.
fn empty_wal(path: &Path, steps: &mut Steps<'_>) -> Result<()> {
    fs::File::create(path).doing(format!("create the empty file {}", path.display()))?;
    steps.step(format_args!(
        "empty WAL file (0 bytes) at {}: restart on it",
        path.display()
    ))?;
    let store = recover_cleanly(path, 0, "from the empty WAL")?;
    steps.ok("replay found 0 records and no warning: no crash")?;
    check_state(steps, &store, &[], "no operations (the empty state)")
}

/// Further than the lesson: the torn tail was cut (and kept), so a new put
/// lands where a reader finds it, and survives another restart.
fn new_put_survives(
    steps: &mut Steps<'_>,
    wal: &Path,
    store: KvStore,
    report: &RecoveryReport,
) -> Result<()> {
    steps.step(format_args!(
        "after recovery: {} through the recovered store, then restart again",
        SIXTH.describe()
    ))?;
    let partial_offset = offset_of(6);
    let Some(cut) = &report.cut else {
        return expect(
            "the torn tail after recovery",
            false,
            format!("cut off at offset {partial_offset} and saved beside the WAL"),
            "left in place",
        );
    };
    expect_eq(
        "offset where recovery cut the WAL",
        partial_offset,
        cut.offset,
    )?;
    let saved = fs::read(&cut.saved_to).doing(format!("read {}", cut.saved_to.display()))?;
    let torn = &SIXTH.encode(6)[..PARTIAL_LEN];
    expect(
        &format!("bytes saved in {}", cut.saved_to.display()),
        saved == torn,
        format!("the {PARTIAL_LEN} torn bytes of record 6"),
        format!("{} bytes that differ", saved.len()),
    )?;
    expect_eq("WAL length after the cut", partial_offset, file_len(wal)?)?;
    steps.ok(format_args!(
        "recovery cut the torn tail off at offset {partial_offset} and kept its {PARTIAL_LEN} bytes in {}",
        cut.saved_to.display()
    ))?;

    let lsn = store.put(SIXTH.key, SIXTH.value).doing(SIXTH.describe())?;
    expect_eq(&format!("LSN of the new {}", SIXTH.describe()), 6, lsn)?;
    drop(store);
    let store = recover_cleanly(wal, 6, "after the second restart")?;
    steps.ok(format_args!(
        "{} landed at LSN {lsn} and survived another restart: 6 records replayed, no warning",
        SIXTH.describe()
    ))?;
    let all_six = [FIRST_FIVE.as_slice(), &[SIXTH]].concat();
    check_state(steps, &store, &all_six, "all 6 operations")
}

/// What an earlier operation on the same key makes of this one.
fn remark(earlier: &[Operation], operation: &Operation) -> String {
    let previous = earlier.iter().rposition(|e| e.key == operation.key);
    match (operation.op, previous) {
        (wal::Op::Put, Some(index)) => format!("  (overwrites LSN {})", index + 1),
        (wal::Op::Delete, Some(index)) => format!("  (removes what LSN {} set)", index + 1),
        _ => String::new(),
    }
}

/// Record fields in on-disk order, with their sizes (key and value last).
const HEADER_FIELDS: [(&str, usize); 5] = [
    ("checksum", 4),
    ("LSN", 8),
    ("op", 1),
    ("key length", 4),
    ("value length", 4),
];
const _: () = assert!(
    HEADER_FIELDS[0].1
        + HEADER_FIELDS[1].1
        + HEADER_FIELDS[2].1
        + HEADER_FIELDS[3].1
        + HEADER_FIELDS[4].1
        == RECORD_HEADER_LEN
);

/// Which fields of `operation`'s record the first `len` bytes hold, and
/// which never reached the disk.
pub fn describe_cut(len: usize, operation: &Operation) -> String {
    let payload = [
        ("key", operation.key.len()),
        ("value", operation.value.len()),
    ];
    let mut on_disk = Vec::new();
    let mut missing = Vec::new();
    let mut start = 0;
    for (name, size) in HEADER_FIELDS.into_iter().chain(payload) {
        let end = start + size;
        if end <= len {
            on_disk.push(name.to_string());
        } else if start < len {
            on_disk.push(format!("{} of the {size} {name} bytes", len - start));
            missing.push(format!("the rest of the {name}"));
        } else {
            missing.push(name.to_string());
        }
        start = end;
    }
    format!(
        "on disk: {}; never written: {}",
        on_disk.join(", "),
        missing.join(", ")
    )
}

fn file_len(path: &Path) -> Result<u64> {
    fs::metadata(path)
        .map(|meta| meta.len())
        .doing(format!("read the length of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_description_names_whole_partial_and_missing_fields() {
        assert_eq!(
            describe_cut(10, &SIXTH),
            "on disk: checksum, 6 of the 8 LSN bytes; never written: the rest of the LSN, \
             op, key length, value length, key, value"
        );
        assert_eq!(
            describe_cut(SIXTH.record_len() - 1, &SIXTH),
            "on disk: checksum, LSN, op, key length, value length, key, 3 of the 4 value bytes; \
             never written: the rest of the value"
        );
    }

    #[test]
    fn remarks_name_overwrites_and_deletes() {
        assert_eq!(
            remark(&FIRST_FIVE[..2], &FIRST_FIVE[2]),
            "  (overwrites LSN 1)"
        );
        assert_eq!(
            remark(&FIRST_FIVE[..3], &FIRST_FIVE[3]),
            "  (removes what LSN 2 set)"
        );
        assert_eq!(remark(&FIRST_FIVE[..1], &FIRST_FIVE[1]), "");
    }
}
