//! Damage before the last record: one bit of record 3 of 6 flipped, the
//! store restarted on a copy.
//!
//! A crash only ever tears the last record, so the lesson's task and the
//! sweep never judge what a store does with records *after* a damaged one.
//! The lesson's answer: stop at the first corrupt record. A record after it
//! cannot be trusted to follow it, and replaying it builds a state that
//! never existed (operation 3 lost, 4-6 applied). Refusing to start is not
//! the lesson's behaviour either. A store may cut the readable records
//! after the damage from its log, but they are acknowledged data: cut
//! without being kept anywhere in DIR, they earn a warning. That check is
//! format-agnostic: it looks for each record's bytes, as the store wrote
//! them, in every file of DIR after the restart.

use std::path::Path;

use drill::cost::StartCost;
use drill::files::{DirState, FileChange};
use drill::process::Running;
use drill::session::{self, State, show_state};
use drill::{Error, Options, Result, Steps, Store, escape};

use crate::scenario::{Crashed, start_explained};
use crate::{FIRST_FIVE, Fault, Operation, SIXTH, model, model_six};

/// Steps this part prints.
pub const STEPS: usize = 1;

/// The copy the store restarts on, and the same state as built.
pub const CORRUPT_DIR: &str = "corrupt-record-3";
pub const CORRUPT_AS_BUILT_DIR: &str = "corrupt-record-3.as-built";

/// The operation whose record is damaged (1-based): two records before it
/// (one of them overwritten by it), three after it (a delete among them).
pub const DAMAGED: usize = 3;

/// The step: flip one bit in the middle of record 3 of the six records the
/// real crash left, restart on the copy, compare with the state after
/// operations 1-2, and look for records 4-6 in DIR.
pub fn run(options: &Options<Fault>, crashed: &Crashed, steps: &mut Steps<'_>) -> Result<()> {
    let operations = all_six();
    let all_written = crashed
        .before
        .with_file(&crashed.record.path, crashed.record.after.clone());
    let change = crashed.earlier[DAMAGED - 1]
        .iter()
        .find(|change| change.middle_changed_byte().is_some())
        .ok_or_else(|| Error::Check {
            what: format!("the bytes operation {DAMAGED} wrote"),
            expected: "a record (bytes other than zeros)".to_string(),
            found: "only zeros the file grew by".to_string(),
            why: Some("each operation must write its record to the log".to_string()),
        })?;
    if let Some((number, moved)) = moved_record(&crashed.earlier, &all_written) {
        // The step damages record 3 where the store wrote it; a store that
        // rewrote its log since (a compaction) holds other bytes there, and
        // a flip there would judge a state the drill cannot predict.
        steps.step(format_args!(
            "damage before the last record: not tested: the record operation {number} wrote to {} is no longer where the store wrote it once operation 6 is done",
            escape::path(&moved.path)
        ))?;
        steps.note(format_args!(
            "warning: the store rewrote {} after operation {number} (a compaction?), so the drill cannot damage record {DAMAGED} in place and keep records 4-6 intact after it. To have this step judge your recovery, let the log grow to more than 6 records before it is rewritten",
            escape::path(&moved.path)
        ))?;
        return Ok(());
    }
    let offset = change.middle_changed_byte().unwrap_or_default();
    let mut bytes = all_written.file(&change.path).unwrap_or_default().to_vec();
    let old = bytes[offset];
    bytes[offset] ^= 1;
    let damaged = all_written.with_file(&change.path, bytes);
    let dir = options.dir.join(CORRUPT_DIR);
    damaged.write_to(&dir)?;
    damaged.write_to(&options.dir.join(CORRUPT_AS_BUILT_DIR))?;
    let case = format!(
        "record {DAMAGED} of 6 corrupt (bit 0 of byte {offset} of {} flipped, 0x{old:02x}->0x{:02x})",
        change.path.display(),
        old ^ 1
    );
    let mut store = start_refused(&options.store.untraced(), &dir, &case, crashed.empty_start)?;
    steps.step(format_args!(
        "damage before the last record: {case}, records 4-6 intact after it ({}); restart on it",
        dir.display()
    ))?;
    session::show_ready(steps, &mut store)?;
    let expected = model(&operations[..DAMAGED - 1]);
    let found = session::read_state(&mut store, &expected)?;
    session::show_stderr(steps, &store.close()?.stderr)?;
    if found == model_six() {
        steps.ok(format_args!(
            "all 6 operations recovered: the flipped bit lies in a byte the store's format does not use"
        ))?;
    } else if found != expected {
        return Err(session::state_differs(
            &format!("{case}: GET of every key after the restart"),
            &expected,
            &found,
            &explain(&found, &expected, &operations),
        ));
    } else {
        steps.ok(format_args!(
            "recovery stopped at record {DAMAGED}: state {} is the state after operations 1-{}, nothing after the damage applied",
            show_state(&found),
            DAMAGED - 1
        ))?;
    }
    if let Some(warning) = cut_without_keeping(&DirState::read(&dir)?, crashed, &operations)? {
        steps.note(warning)?;
    }
    Ok(())
}

/// The first of the records of operations 3-5 whose bytes are no longer
/// where the store wrote them in `all_written` (the directory once all six
/// operations were written): the store rewrote the file since.
fn moved_record<'a>(
    earlier: &'a [Vec<FileChange>],
    all_written: &DirState,
) -> Option<(usize, &'a FileChange)> {
    earlier
        .iter()
        .enumerate()
        .skip(DAMAGED - 1)
        .find_map(|(index, changes)| {
            changes
                .iter()
                .find(|change| {
                    let (Some(span), Some(after)) = (change.span(), change.after.as_deref()) else {
                        return false;
                    };
                    let now = all_written.file(&change.path);
                    now.and_then(|now| now.get(span.record.clone()))
                        != after.get(span.record.clone())
                })
                .map(|change| (index + 1, change))
        })
}

/// The six operations in order.
fn all_six() -> Vec<Operation> {
    [FIRST_FIVE.as_slice(), &[SIXTH]].concat()
}

/// Starts the store on the damaged copy; a store that dies or refuses is
/// told that this is not the lesson's behaviour.
fn start_refused(
    store: &Store,
    dir: &Path,
    case: &str,
    empty: Option<StartCost>,
) -> Result<Running> {
    start_explained(store, dir, case, empty, |why| {
        Some(format!(
            "{}the store would not start on a log with a corrupt record before its last: \
             refusing to start is not the lesson's behaviour either. Stop at the first \
             corrupt record, replay the records before it, never apply the ones after it \
             (keep them aside if you cut them), and start",
            why.map(|why| format!("{why}; ")).unwrap_or_default()
        ))
    })
}

/// The operations after the damaged record whose effect the store shows:
/// the key holds what the operation left, where the expected state differs.
/// A delete alone is no evidence (its key is also missing when the PUT
/// before it was lost), so it is counted only beside an applied PUT.
fn applied_after_damage<'a>(
    found: &State,
    expected: &State,
    operations: &'a [Operation],
) -> Vec<(usize, &'a Operation)> {
    let applied: Vec<(usize, &Operation)> = operations
        .iter()
        .enumerate()
        .skip(DAMAGED)
        .filter(|(_, operation)| {
            let left = operation.value.map(str::to_string);
            found.get(operation.key) == Some(&left) && expected.get(operation.key) != Some(&left)
        })
        .map(|(index, operation)| (index + 1, operation))
        .collect();
    if applied
        .iter()
        .any(|(_, operation)| operation.value.is_some())
    {
        applied
    } else {
        Vec::new()
    }
}

/// `4-6` for a run of operation numbers, `4, 6` otherwise.
fn numbers(applied: &[(usize, &Operation)]) -> String {
    let first = applied.first().map_or(0, |(number, _)| *number);
    let last = applied.last().map_or(0, |(number, _)| *number);
    if applied.len() > 2 && last - first + 1 == applied.len() {
        return format!("{first}-{last}");
    }
    let listed: Vec<String> = applied.iter().map(|(n, _)| n.to_string()).collect();
    listed.join(", ")
}

/// The likely defect behind a wrong state after damage in record 3.
fn explain(found: &State, expected: &State, operations: &[Operation]) -> String {
    let applied = applied_after_damage(found, expected, operations);
    if !applied.is_empty() {
        let requests: Vec<String> = applied
            .iter()
            .map(|(_, operation)| operation.request().to_string())
            .collect();
        let (noun, verb) = if applied.len() == 1 {
            ("operation", "was")
        } else {
            ("operations", "were")
        };
        return format!(
            "record {DAMAGED} is corrupt, yet {noun} {} {verb} applied ({}): recovery must stop at the first corrupt record. A record after a damaged one cannot be trusted to follow it: replaying past the damage builds a state that never existed (operation {DAMAGED} lost, later ones applied)",
            numbers(&applied),
            requests.join(", ")
        );
    }
    let damaged = &operations[DAMAGED - 1];
    let value = found.get(damaged.key).cloned().flatten();
    let written = operations
        .iter()
        .any(|op| op.key == damaged.key && op.value.map(str::to_string) == value);
    if let Some(value) = value.as_deref().filter(|_| !written) {
        return format!(
            "the flipped bit came back as {}={value}: nothing checked record {DAMAGED}'s integrity; a checksum over the whole record catches this",
            damaged.key,
        );
    }
    if value.as_deref() == damaged.value {
        return format!(
            "operation {DAMAGED}'s record was applied though one of its bits is flipped: check each record's checksum before applying it"
        );
    }
    format!(
        "intact records before the damaged one were lost: replay every record before record {DAMAGED}, then stop (never discard what precedes the damage)"
    )
}

/// The bytes of each operation's record after the damaged one, as the
/// store wrote them.
fn later_records<'a>(crashed: &'a Crashed) -> Vec<(usize, &'a [u8])> {
    let record_bytes = |change: &'a FileChange| {
        let span = change.span()?;
        let after = change.after.as_deref()?;
        Some(&after[span.record])
    };
    let mut records: Vec<(usize, &[u8])> = crashed
        .earlier
        .iter()
        .enumerate()
        .skip(DAMAGED)
        .filter_map(|(index, changes)| {
            let bytes = changes.iter().find_map(record_bytes)?;
            Some((index + 1, bytes))
        })
        .collect();
    let sixth = &crashed.record;
    records.push((6, &sixth.after[sixth.span.record.clone()]));
    records
}

/// A warning when the bytes of a record after the damage exist in no file
/// of `after` (the store's directory after the restart).
fn cut_without_keeping(
    after: &DirState,
    crashed: &Crashed,
    operations: &[Operation],
) -> Result<Option<String>> {
    let missing: Vec<(usize, &Operation)> = later_records(crashed)
        .into_iter()
        .filter(|(_, bytes)| !bytes.is_empty() && !held_anywhere(after, bytes))
        .map(|(number, _)| (number, &operations[number - 1]))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let noun = if missing.len() == 1 {
        "operation"
    } else {
        "operations"
    };
    Ok(Some(format!(
        "warning: the readable records after the damage ({noun} {}) are in no file of the store's directory any more: the store cut them without keeping them anywhere. A corrupt record before the last is not a crash's torn tail (a disk or a bug did it), and the records after it were acknowledged: copy them aside (the reference store writes wal.log.broken-OFFSET beside the log) before cutting them",
        numbers(&missing)
    )))
}

/// Whether `bytes` occur in any file of `state`.
fn held_anywhere(state: &DirState, bytes: &[u8]) -> bool {
    state.paths().any(|path| {
        state
            .file(path)
            .is_some_and(|file| file.windows(bytes.len()).any(|window| window == bytes))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaying_past_the_damage_names_the_operations_applied() {
        let operations = all_six();
        let expected = model(&operations[..2]);
        let past: Vec<Operation> = [&operations[..2], &operations[3..]].concat();
        let why = explain(&model(&past), &expected, &operations);
        assert!(
            why.starts_with(
                "record 3 is corrupt, yet operations 4-6 were applied (DEL user:2, PUT user:3 carol, PUT user:4 dave): recovery must stop at the first corrupt record"
            ),
            "{why}"
        );
        let one: Vec<Operation> = [&operations[..2], &operations[4..5]].concat();
        let why = explain(&model(&one), &expected, &operations);
        assert!(
            why.starts_with("record 3 is corrupt, yet operation 5 was applied (PUT user:3 carol)"),
            "{why}"
        );
    }

    #[test]
    fn other_wrong_states_name_their_defect() {
        let operations = all_six();
        let expected = model(&operations[..2]);
        let mut changed = expected.clone();
        changed.insert("user:1".into(), Some("alic`a".into()));
        assert!(explain(&changed, &expected, &operations).contains("nothing checked record 3"));
        let applied = model(&operations[..3]);
        assert!(explain(&applied, &expected, &operations).contains("was applied though"));
        for lost in [model(&operations[..1]), model(&[])] {
            let why = explain(&lost, &expected, &operations);
            assert!(why.starts_with("intact records"), "{why}");
        }
    }

    /// The changes of operations that each append `records` to wal.log.
    fn appends(records: &[&[u8]]) -> (Vec<Vec<FileChange>>, Vec<u8>) {
        let mut log = Vec::new();
        let mut earlier = Vec::new();
        for record in records {
            let before = log.clone();
            log.extend_from_slice(record);
            earlier.push(vec![FileChange {
                path: "wal.log".into(),
                before: Some(before),
                after: Some(log.clone()),
            }]);
        }
        (earlier, log)
    }

    #[test]
    fn a_log_rewritten_after_record_3_is_found() {
        let (earlier, log) = appends(&[b"r1", b"r2", b"r3", b"r4", b"r5"]);
        let appended =
            DirState::default().with_file(Path::new("wal.log"), [log, b"r6".to_vec()].concat());
        assert!(moved_record(&earlier, &appended).is_none());
        // A compaction during operation 4: the log now holds other bytes
        // where operations 3 and 4 wrote theirs.
        let compacted = DirState::default().with_file(Path::new("wal.log"), b"c1c4r5r6".to_vec());
        let (number, change) = moved_record(&earlier, &compacted).expect("record 3 moved");
        assert_eq!((number, change.path.as_path()), (3, Path::new("wal.log")));
        // Record 3 in place, record 5 not (rewritten from operation 5 on).
        let late = DirState::default().with_file(Path::new("wal.log"), b"r1r2r3r4xxr6".to_vec());
        assert_eq!(moved_record(&earlier, &late).map(|(n, _)| n), Some(5));
    }

    #[test]
    fn bytes_are_found_in_any_file() {
        let state = DirState::default()
            .with_file(Path::new("wal.log"), b"abc".to_vec())
            .with_file(Path::new("wal.log.broken-3"), b"xxdefxx".to_vec());
        assert!(held_anywhere(&state, b"def"));
        assert!(held_anywhere(&state, b"bc"));
        assert!(!held_anywhere(&state, b"cd"));
    }
}
