//! The lesson's drill: five operations, the sixth killed on its `OK`; the
//! first bytes of record 6 only; a new PUT after that recovery; the empty
//! log.

use std::path::Path;

use drill::cost::StartCost;
use drill::files::{DirState, FileChange, Written};
use drill::process::Running;
use drill::session::{self, State, show_state};
use drill::{Doing, Error, Options, Result, Steps, Store, expect_because};

use crate::{FIRST_FIVE, Fault, Operation, PARTIAL_LEN, SIXTH, empty_state, model, model_six};

/// Steps this part prints.
pub const STEPS: usize = 6;

/// The store's directories inside the drill's own, one per state tested.
pub const LIVE_DIR: &str = "store";
pub const CRASHED_DIR: &str = "killed-after-put-6";
pub const PARTIAL_DIR: &str = "partial-record-6";
pub const EMPTY_DIR: &str = "empty-log";
/// Copies of the built states as the store first saw them: the store may
/// change the directories above when it recovers.
pub const PARTIAL_AS_BUILT_DIR: &str = "partial-record-6.as-built";
pub const EMPTY_AS_BUILT_DIR: &str = "empty-log.as-built";

/// What the real crash left: the directory before the sixth PUT, and the
/// sixth record's bytes.
pub struct Crashed {
    pub before: DirState,
    pub record: Written,
    /// What each of the first five operations changed, in order: where the
    /// drill finds an earlier record to damage ([`crate::earlier`]).
    pub earlier: Vec<Vec<FileChange>>,
    /// What the store's start on an empty directory cost: what a
    /// recovery's cost is compared with.
    pub empty_start: Option<StartCost>,
}

/// How a restarted store's answers compare with the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// The state after the first five operations.
    Five,
    /// The state after all six (a flipped bit the store's format ignores).
    Six,
}

const APPENDS_BEHIND_TAIL: &str = "the new record went behind the partial record, where a \
     reader stops: cut the torn tail off (truncate the log to the end of the last good record) \
     before appending";

/// The same defect in a log that is written in place (preallocated): the
/// end of the log is where the records stop, not where the non-zero bytes do.
const WRITES_BEHIND_TORN_RECORD: &str = "the new record went behind the partial record, where a \
     reader stops: the log is preallocated, so write the next record right after the last good \
     one (where recovery stopped, not after the last non-zero byte), having overwritten the torn \
     bytes with zeros and fsync'd them";

pub fn run(options: &Options<Fault>, steps: &mut Steps<'_>) -> Result<Crashed> {
    let live = options.dir.join(LIVE_DIR);
    std::fs::create_dir(&live).doing(format!("create {}", live.display()))?;
    let mut store = session::start(
        steps,
        &options.store,
        &live,
        format_args!("started the store on an empty directory {}", live.display()),
    )?;
    let empty_start = store.cost();

    let writes = write_first_five(&mut store, steps)?;
    let mut crashed = kill_after_sixth(options, store, steps)?;
    crashed.empty_start = Some(empty_start);

    let record = &crashed.record;
    let mut partial = crashed
        .before
        .with_file(&record.path, record.torn(partial_len(record)));
    if options.fault == Some(Fault::CorruptRecord) {
        partial = corrupt_operation_3(steps, &partial, &writes[2])?;
    }
    let store = partial_record(options, &crashed, &partial, steps)?;
    new_put_survives(options, store, record, steps)?;
    empty_log(options, &crashed, steps)?;
    crashed.earlier = writes;
    Ok(crashed)
}

/// Step 2: the five operations, each `OK`, each shown with the bytes it
/// changed; the running store must answer as the model.
fn write_first_five(store: &mut Running, steps: &mut Steps<'_>) -> Result<Vec<Vec<FileChange>>> {
    let mut lines = Vec::new();
    let mut writes = Vec::new();
    for (index, operation) in FIRST_FIVE.iter().enumerate() {
        let request = operation.request();
        let changes = store.expect_ok(&request)?;
        let on_disk: Vec<String> = changes.iter().map(ToString::to_string).collect();
        lines.push(format!(
            "{}. {request}{}  -> OK; on disk: {}",
            index + 1,
            remark(&FIRST_FIVE[..index], operation),
            if on_disk.is_empty() {
                "nothing changed".to_string()
            } else {
                on_disk.join("; ")
            }
        ));
        expect_because(
            &format!("the store's files when {request} was acknowledged"),
            !changes.is_empty(),
            "the record written to the WAL file",
            "no file changed",
            "the store replied OK before writing the record (it is still in a memory buffer): \
             write the record to the log and fsync it before replying OK",
        )?;
        writes.push(changes);
    }
    steps.step("wrote 5 valid records: 5 operations through PUT and DEL, each acknowledged OK")?;
    for line in lines {
        steps.note(line)?;
    }
    session::show_stderr(steps, &store.new_stderr())?;
    let expected = model(&FIRST_FIVE);
    let found = session::read_state(store, &expected)?;
    if found != expected {
        return Err(session::state_differs(
            "GET of every key on the running store",
            &expected,
            &found,
            "the in-memory map does not match the operations the store acknowledged",
        ));
    }
    steps.ok(format_args!(
        "state after these 5 operations: {}",
        show_state(&found)
    ))?;
    Ok(writes)
}

/// Step 3: the sixth PUT, SIGKILL on its `OK`; its bytes are record 6.
/// A restart on a copy must hold all six operations.
fn kill_after_sixth(
    options: &Options<Fault>,
    store: Running,
    steps: &mut Steps<'_>,
) -> Result<Crashed> {
    // Pinned: the directory the store started on, whatever it did to the
    // path since.
    let pin = store.pin().clone();
    let before = pin.read()?;
    let request = SIXTH.request();
    let pid = store.pid();
    let (ended, changes) = store.kill_after_ok(&request)?;
    let after = pin.read()?;
    let record = Written::single(&request.to_string(), &changes)?;
    steps.step(format_args!(
        "real crash: {request} -> OK, then SIGKILL to the store (PID {pid}) at once ({})",
        ended.status
    ))?;
    session::show_stderr(steps, &ended.stderr)?;
    steps.note(format_args!(
        "record 6 is what {request} wrote: {}",
        record.describe()
    ))?;
    let kept = options.dir.join(CRASHED_DIR);
    after.write_to(&kept)?;
    let mut store = Running::start(&options.store, &kept)?;
    let found = session::read_state(&mut store, &model_six())?;
    store.close()?;
    if found != model_six() {
        return Err(session::state_differs(
            &format!(
                "GET of every key after a restart on a copy ({})",
                kept.display()
            ),
            &model_six(),
            &found,
            "an acknowledged PUT was lost by a SIGKILL: write and fsync each record before replying OK, and replay the whole log on start",
        ));
    }
    steps.ok(format_args!(
        "a restart on a copy ({}) holds all 6 operations: nothing acknowledged was lost",
        kept.display()
    ))?;
    Ok(Crashed {
        before,
        record,
        earlier: Vec::new(),
        empty_start: None,
    })
}

/// The lesson's 10 bytes, or fewer for a record that short.
fn partial_len(record: &Written) -> usize {
    PARTIAL_LEN.min(record.len().saturating_sub(1))
}

/// Step 4: only the first bytes of record 6 reached the disk.
fn partial_record(
    options: &Options<Fault>,
    crashed: &Crashed,
    partial: &DirState,
    steps: &mut Steps<'_>,
) -> Result<Running> {
    let record = &crashed.record;
    let len = partial_len(record);
    let dir = options.dir.join(PARTIAL_DIR);
    partial.write_to(&dir)?;
    partial.write_to(&options.dir.join(PARTIAL_AS_BUILT_DIR))?;
    let case = format!(
        "the first {len} of the {} bytes of record 6 on disk",
        record.len()
    );
    let mut store = start_on_damage(&options.store, &dir, &case, crashed.empty_start)?;
    steps.step(format_args!(
        "simulated power loss mid-write: only the first {len} of the {} bytes of record 6 reached the disk ({}); restart on it",
        record.len(),
        dir.display()
    ))?;
    if record.grown_zeros() > 0 {
        steps.note(format_args!(
            "{} keeps the {} bytes the write grew it to (a store that preallocates makes the growth durable before it writes into it): zeros after those {len} bytes",
            record.path.display(),
            record.after.len()
        ))?;
    }
    if options.store.is_reference() {
        steps.note(format_args!(
            "in the reference format those {len} bytes are {}",
            describe_cut(len, &SIXTH)
        ))?;
        let see = if options.keep {
            "its legend at the end shows every byte with `wal dump --bytes`"
        } else {
            "run with --keep to see every byte with `wal dump --bytes`"
        };
        steps.note(format_args!(
            "(the lesson's record ends with its checksum; ours starts with it, so a reader knows what to check before it trusts any length; {see})"
        ))?;
    }
    session::show_ready(steps, &mut store)?;
    expect_recovered(&mut store, &case, false, "")?;
    steps.ok(format_args!(
        "partial record 6 skipped, 5 records recovered: state {} equals the state after the first 5 operations",
        show_state(&model(&FIRST_FIVE))
    ))?;
    Ok(store)
}

/// Step 5: a new PUT on the store that recovered from the partial record
/// must survive another restart.
fn new_put_survives(
    options: &Options<Fault>,
    mut store: Running,
    record: &Written,
    steps: &mut Steps<'_>,
) -> Result<()> {
    let request = SIXTH.request();
    store.expect_ok(&request)?;
    // Everything the store said, read to the end of its stderr once it has
    // exited: a line it wrote before a reply can still be in the pipe when
    // the reply is read (two pipes), and must not be lost with the process.
    let stderr = store.close()?.stderr;
    let dir = options.dir.join(PARTIAL_DIR);
    let mut store = Running::start(&options.store, &dir)?;
    steps.step(format_args!(
        "after that recovery: {request} -> OK on the recovered store, then restart again"
    ))?;
    session::show_stderr(steps, &stderr)?;
    session::show_ready(steps, &mut store)?;
    let found = session::read_state(&mut store, &model_six())?;
    session::show_stderr(steps, &store.close()?.stderr)?;
    if found != model_six() {
        return Err(session::state_differs(
            "GET of every key after the new PUT and a restart",
            &model_six(),
            &found,
            if record.is_preallocated() {
                WRITES_BEHIND_TORN_RECORD
            } else {
                APPENDS_BEHIND_TAIL
            },
        ));
    }
    steps.ok(format_args!(
        "{request} survived the restart: state {}",
        show_state(&found)
    ))
}

/// Step 6: the log truncated to 0 bytes is the empty state.
fn empty_log(options: &Options<Fault>, crashed: &Crashed, steps: &mut Steps<'_>) -> Result<()> {
    let dir = options.dir.join(EMPTY_DIR);
    let log = &crashed.record.path;
    let empty = crashed.before.with_file(log, Vec::new());
    empty.write_to(&dir)?;
    empty.write_to(&options.dir.join(EMPTY_AS_BUILT_DIR))?;
    let case = format!("{} truncated to 0 bytes", log.display());
    let mut store = start_on_damage(&options.store, &dir, &case, crashed.empty_start)?;
    steps.step(format_args!(
        "empty WAL file: {case} ({}); restart on it",
        dir.display()
    ))?;
    session::show_ready(steps, &mut store)?;
    let found = session::read_state(&mut store, &empty_state())?;
    session::show_stderr(steps, &store.close()?.stderr)?;
    if found != empty_state() {
        return Err(session::state_differs(
            &format!("GET of every key with {case}"),
            &empty_state(),
            &found,
            "a 0-byte log holds no records: the state must be empty",
        ));
    }
    steps.ok("replay of the empty log gave the empty state, and no crash")
}

/// Starts the store on a directory holding a damaged log. A store that dies
/// or hangs there is failed with the lesson's reason.
pub fn start_on_damage(
    store: &Store,
    dir: &Path,
    case: &str,
    empty: Option<StartCost>,
) -> Result<Running> {
    start_explained(store, dir, case, empty, |why| {
        why.or_else(|| {
            Some(
                "the store died on a damaged log: a partial or corrupt last record \
                 is the end of the log (skip it with a warning and go on), never an error"
                    .to_string(),
            )
        })
    })
}

/// Starts the store on `dir`; a failed start names `case` and has its
/// likely defect rewritten by `explain` (given the one the check found).
/// Its cost is compared with `empty`, the store's start on an empty
/// directory.
pub fn start_explained(
    store: &Store,
    dir: &Path,
    case: &str,
    empty: Option<StartCost>,
    explain: impl FnOnce(Option<String>) -> Option<String>,
) -> Result<Running> {
    Running::start_compared(store, dir, empty).map_err(|err| match err {
        Error::Check {
            what,
            expected,
            found,
            why,
        } => Error::Check {
            what: format!("{case}: {what}"),
            expected,
            found,
            why: explain(why),
        },
        other => other,
    })
}

/// Reads every key and compares with the state after five operations (or,
/// when `six_allowed`, after six). `flip` describes a flipped byte for the
/// explanation (empty for a tear).
pub fn expect_recovered(
    store: &mut Running,
    case: &str,
    six_allowed: bool,
    flip: &str,
) -> Result<Recovered> {
    let five = model(&FIRST_FIVE);
    let found = session::read_state(store, &five)?;
    if !flip.is_empty() {
        expect_no_flipped_key(store, case, flip)?;
    }
    if found == five {
        return Ok(Recovered::Five);
    }
    if six_allowed && found == model_six() {
        return Ok(Recovered::Six);
    }
    let why = explain(&found, six_allowed, flip);
    let expected = if six_allowed {
        format!("{} (or all 6 operations)", show_state(&five))
    } else {
        show_state(&five)
    };
    Err(Error::Check {
        what: format!("{case}: GET of every key after the restart"),
        expected,
        found: show_state(&found),
        why: Some(why),
    })
}

/// A flip in record 6's key could replay it under another key, which a
/// `GET` of the drill's own keys never sees: every single-bit variant of the
/// key that the protocol allows must answer `NOT_FOUND`.
fn expect_no_flipped_key(store: &mut Running, case: &str, flip: &str) -> Result<()> {
    for variant in flipped_keys(SIXTH.key) {
        if let Some(value) = store.get(&variant)? {
            return Err(Error::Check {
                what: format!("{case}: GET {variant} after the restart"),
                expected: "NOT_FOUND (no operation wrote that key)".to_string(),
                found: format!("VALUE {value}"),
                why: Some(format!(
                    "{flip} came back as a new key {variant}={value}: nothing checked the record's integrity; a checksum over the whole record, key included, catches this"
                )),
            });
        }
    }
    Ok(())
}

/// Every key one bit away from `key` that the protocol allows (printable
/// ASCII, no space), other than the drill's own keys.
fn flipped_keys(key: &str) -> Vec<String> {
    let own = empty_state();
    let mut variants = Vec::new();
    for index in 0..key.len() {
        for bit in 0..8 {
            let mut bytes = key.as_bytes().to_vec();
            bytes[index] ^= 1 << bit;
            if let Ok(text) = String::from_utf8(bytes)
                && store_protocol::check_token(&text).is_ok()
                && !own.contains_key(&text)
            {
                variants.push(text);
            }
        }
    }
    variants
}

/// The likely defect behind a wrong state: a value no operation ever wrote
/// came from a damaged record; an older or missing one means records were
/// lost.
fn explain(found: &State, six_allowed: bool, flip: &str) -> String {
    let all = [FIRST_FIVE.as_slice(), &[SIXTH]].concat();
    let never_written: Vec<String> = found
        .iter()
        .filter_map(|(key, value)| {
            let value = value.as_deref()?;
            let written = all
                .iter()
                .any(|op| op.key == key && op.value == Some(value));
            (!written).then(|| format!("{key}={value}"))
        })
        .collect();
    if !never_written.is_empty() && !flip.is_empty() {
        return format!(
            "{flip} came back as {}: nothing checked the record's integrity; a checksum over the whole record catches this",
            never_written.join(", ")
        );
    }
    let sixth_applied = found.get(SIXTH.key).cloned().flatten().as_deref() == SIXTH.value;
    if !never_written.is_empty() || (sixth_applied && !six_allowed) {
        let shown = if never_written.is_empty() {
            format!("{}={}", SIXTH.key, SIXTH.value.unwrap_or_default())
        } else {
            never_written.join(", ")
        };
        return format!(
            "the store replayed a partial record as if it were whole ({shown}): check that all of a record's bytes are there and its checksum holds before applying it"
        );
    }
    "intact records before the damaged one were lost: replay every complete record up to the \
     damage, then stop (never discard the whole log, nor what precedes the damage)"
        .to_string()
}

/// What an earlier operation on the same key makes of this one.
fn remark(earlier: &[Operation], operation: &Operation) -> String {
    let previous = earlier.iter().rposition(|e| e.key == operation.key);
    match (operation.value, previous) {
        (Some(_), Some(index)) => format!("  (overwrites operation {})", index + 1),
        (None, Some(index)) => format!("  (removes what operation {} set)", index + 1),
        _ => String::new(),
    }
}

/// Flips one bit in the middle of the bytes operation 3 wrote, in the copy
/// that holds the partial record: the injected fault.
fn corrupt_operation_3(
    steps: &mut Steps<'_>,
    state: &DirState,
    changes: &[FileChange],
) -> Result<DirState> {
    let change = &changes[0];
    let Some(offset) = change.middle_changed_byte() else {
        return Ok(state.clone());
    };
    let mut bytes = state.file(&change.path).unwrap_or_default().to_vec();
    bytes[offset] ^= 1;
    steps.note(format_args!(
        "fault injected: flipped bit 0 of byte {offset} of {} (inside operation 3's record)",
        change.path.display()
    ))?;
    Ok(state.with_file(&change.path, bytes))
}

/// Record fields of the reference format in on-disk order, with their sizes
/// (key and value last).
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
        == wal::RECORD_HEADER_LEN
);

/// Which fields of `operation`'s record in the reference format the first
/// `len` bytes hold, and which never reached the disk.
pub fn describe_cut(len: usize, operation: &Operation) -> String {
    let payload = [
        ("key", operation.key.len()),
        ("value", operation.value.unwrap_or_default().len()),
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
        "{}; never written: {}",
        on_disk.join(", "),
        missing.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_description_names_whole_partial_and_missing_fields() {
        assert_eq!(
            describe_cut(10, &SIXTH),
            "checksum, 6 of the 8 LSN bytes; never written: the rest of the LSN, \
             op, key length, value length, key, value"
        );
    }

    #[test]
    fn flipped_keys_are_valid_tokens_other_than_the_drills() {
        let keys = flipped_keys("user:4");
        assert!(keys.contains(&"user:5".to_string()));
        assert!(keys.contains(&"tser:4".to_string()));
        assert!(!keys.iter().any(|k| k == "user:1" || k == "user:4"));
        assert!(keys.len() <= 48 && keys.len() > 20, "{}", keys.len());
    }

    #[test]
    fn remarks_name_overwrites_and_deletes() {
        assert_eq!(
            remark(&FIRST_FIVE[..2], &FIRST_FIVE[2]),
            "  (overwrites operation 1)"
        );
        assert_eq!(
            remark(&FIRST_FIVE[..3], &FIRST_FIVE[3]),
            "  (removes what operation 2 set)"
        );
        assert_eq!(remark(&FIRST_FIVE[..1], &FIRST_FIVE[1]), "");
    }

    #[test]
    fn explanations_name_the_likely_defect() {
        let mut partial = model(&FIRST_FIVE);
        partial.insert("user:4".into(), Some("da".into()));
        let partial_whole = explain(&partial, false, "");
        assert!(
            partial_whole
                .starts_with("the store replayed a partial record as if it were whole (user:4=da)"),
            "{partial_whole}"
        );
        let unchecked = explain(&partial, true, "byte 0x61->0x63");
        assert!(
            unchecked.starts_with("byte 0x61->0x63 came back as user:4=da: nothing checked"),
            "{unchecked}"
        );
        let lost = "intact records before the damaged one were lost";
        assert!(explain(&empty_state(), false, "").starts_with(lost));
        // Older values are records lost, not damage applied.
        let older = model(&FIRST_FIVE[..2]);
        assert!(explain(&older, false, "").starts_with(lost));
        let mut whole = model(&FIRST_FIVE);
        whole.insert("user:4".into(), Some("dave".into()));
        assert!(explain(&whole, false, "").contains("as if it were whole (user:4=dave)"));
    }
}
