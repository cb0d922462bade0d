//! The crash a SIGKILL cannot show: a power-loss check of the store's
//! fsyncs.
//!
//! A SIGKILL ends the process and leaves the kernel's page cache alone, so a
//! store that writes and flushes but never fsyncs passes every SIGKILL test
//! and still loses acknowledged writes when the power goes. Like ALICE
//! (OSDI '14), the drill records the store's system calls while it runs
//! (`strace -f -y`), then checks one rule over them ([`rule`]): every `OK` to
//! a write must come after an fsync of each file that request wrote, and
//! after an fsync of the directory following any rename over an existing
//! name that the `OK` depends on ([`traces::dirops`]). When the rule fails,
//! the drill builds the disk state a power loss at that moment could leave
//! (the request's unsynced writes undone; the renames it depends on undone,
//! the replaced file back as the drill last saw it before the rename),
//! restarts the store on it and shows what came back.
//!
//! What it cannot see: writes reordered inside the disk, and a disk cache
//! that claims durability it does not have; both are below the system calls.
//! What it cannot judge (a store writing through a shared `mmap`, replies
//! sent with `splice`, a record cut short) fails the check: see `traces`.
//! This step reads the records (`traces`) and restarts the store on the
//! state a loss leaves; it never reaches into how a store is launched.

use std::path::{Path, PathBuf};

use store_protocol::Request;

use crate::check::{Error, Result};
use crate::files::DirState;
use crate::process::Running;
use crate::session;
use crate::steps::Steps;
use crate::store::Store;
use crate::traces::dirops::Renamed;
use crate::traces::{self, TracedRun, rule};

/// The drill's last step: the rule over every traced store process, the
/// warnings, and on a violation the loss it allows, shown on a copy. A
/// record that cannot be judged fails the step ("cannot judge: ...").
pub fn check_step(steps: &mut Steps<'_>, store: &Store, dir: &Path, keep: bool) -> Result<()> {
    let Some(recorder) = store.recorder() else {
        return steps.step("power-loss check skipped: this run recorded no system calls");
    };
    if recorder.strace().is_none() {
        return steps.step(
            "power-loss check skipped: strace is not installed (a SIGKILL cannot show a missing fsync; install strace to check)",
        );
    }
    let runs = recorder.runs();
    if let Some(found) = traces::outside_dir(&runs) {
        steps.step(format_args!(
            "system-call record: the store changed a file outside its directory: {found}"
        ))?;
        return Err(Error::Check {
            what: "the store's changes to files".to_string(),
            expected: "changes beneath DIR only".to_string(),
            found: format!("a change outside it: {found}"),
            why: Some("a store keeps every file it writes, creates, renames or removes inside DIR, the directory it is given".to_string()),
        });
    }
    let read_outside = traces::read_outside(&runs).map(|found| {
        format!(
            "warning: the store read a file outside its directory and the files its command names: {found} (a confined store cannot)"
        )
    });
    let judgement = match traces::judge(&runs) {
        Ok(judgement) => judgement,
        Err(reason) => {
            steps.step(format_args!("power-loss check: cannot judge: {reason}"))?;
            explain(steps)?;
            return Err(Error::Check {
                what: "power-loss check".to_string(),
                expected: "a whole record of every store process's system calls, showing each OK the drill received".to_string(),
                found: format!("cannot judge: {reason}"),
                why: Some("the check passes only what it can see: reply with write(2), write files with write(2) and make them durable with fsync".to_string()),
            });
        }
    };
    if let Some((index, violation)) = &judgement.violation {
        let run = &runs[*index];
        let request = &run.exchanges[violation.request].request;
        if !violation.unsynced.is_empty() {
            steps.step(format_args!(
                "power-loss check: the OK to {request} came without an fsync of {}",
                unsynced_names(violation).join(", ")
            ))?;
        } else if let Some(renamed) = violation.renames.last() {
            steps.step(format_args!(
                "power-loss check: the OK to {request} depends on rename {}, with no fsync of the store's directory after it",
                rename_text(renamed)
            ))?;
        } else {
            steps.step(format_args!(
                "power-loss check: the OK to {request} came before any write of it to a file"
            ))?;
        }
        explain(steps)?;
        for warning in judgement.warnings.iter().chain(&read_outside) {
            steps.note(warning)?;
        }
        return Err(show_loss(steps, store, dir, keep, run, violation)?);
    }
    steps.step(format_args!(
        "power-loss check: strace recorded {} store process{}; each of the {} OKs to PUT, DEL or WALPUT came after an fsync of every file its request wrote",
        runs.len(),
        if runs.len() == 1 { "" } else { "es" },
        judgement.acknowledged
    ))?;
    explain(steps)?;
    for warning in judgement.warnings.iter().chain(&read_outside) {
        steps.note(warning)?;
    }
    Ok(())
}

/// Why this check exists, in two lines.
fn explain(steps: &mut Steps<'_>) -> Result<()> {
    steps.note("why: a SIGKILL leaves the kernel's page cache alone, so a write without fsync still reaches the disk and passes every SIGKILL check;")?;
    steps.note("     a power loss drops the page cache, so the drill records the store's system calls and requires an fsync before every OK")
}

/// Builds the state a power loss right after the violating `OK` could
/// leave, restarts the store on it and prints what came back; returns the
/// check failure.
fn show_loss(
    steps: &mut Steps<'_>,
    store: &Store,
    dir: &Path,
    keep: bool,
    run: &TracedRun,
    violation: &rule::Violation,
) -> Result<Error> {
    let exchange = &run.exchanges[violation.request];
    let request = &exchange.request;
    if let Some((before, after)) = &exchange.around {
        let (lost, undone) = loss_state(run, violation, before, after);
        let copy = dir.join("power-loss");
        lost.write_to(&copy)?;
        let key = request_key(request);
        let expected = match request {
            Request::Put { value, .. } | Request::WalPut { value, .. } => Some(value.as_str()),
            _ => None,
        };
        let (came_back, lost_it) = match Running::start(&store.untraced(), &copy) {
            Ok(mut running) => {
                let answer = running.get(&key);
                let _ = running.close();
                match answer {
                    Ok(value) => (
                        session::answer(value.as_deref()),
                        value.as_deref() != expected,
                    ),
                    Err(err) => (format!("no answer ({err})"), true),
                }
            }
            Err(err) => (format!("no start ({err})"), true),
        };
        let kept = if keep {
            format!(" ({})", copy.display())
        } else {
            String::new()
        };
        let verdict = if lost_it {
            format!("though {request} was acknowledged")
        } else {
            "so nothing was lost this time; but a disk may keep any part of unsynced data, and the rule stands".to_string()
        };
        steps.note(format_args!(
            "a power loss right after that OK can leave {undone}; restarted on that state{kept}, the store answered GET {key} -> {came_back}, {verdict}"
        ))?;
    }
    Ok(failure(run, violation))
}

/// The state a power loss right after the `OK` can leave, and what it
/// undid, in words: the request's unsynced writes undone, and the renames
/// the `OK` depends on (newest first: the oldest one's replaced file is
/// what comes back).
fn loss_state(
    run: &TracedRun,
    violation: &rule::Violation,
    before: &DirState,
    after: &DirState,
) -> (DirState, String) {
    // Nothing written before the OK: the whole request is what a power
    // loss (or any crash) takes back.
    if violation.unsynced.is_empty() && violation.renames.is_empty() {
        return (
            before.clone(),
            "the directory as before the request".to_string(),
        );
    }
    let mut lost = violation
        .unsynced
        .keys()
        .fold(after.clone(), |state, file| match before.file(file) {
            Some(bytes) => state.with_file(file, bytes.to_vec()),
            None => state.without_file(file),
        });
    let mut undone = Vec::new();
    // A file a rename brought is said with the rename.
    let written: Vec<String> = unsynced_names(violation)
        .into_iter()
        .zip(violation.unsynced.keys())
        .filter(|(_, file)| !violation.renames.iter().any(|renamed| renamed.to == **file))
        .map(|(name, _)| name)
        .collect();
    if !written.is_empty() {
        undone.push(format!(
            "{} as before the request (its unsynced writes undone)",
            written.join(", ")
        ));
    }
    for renamed in violation.renames.iter().rev() {
        // A file, or a folder with the files beneath it.
        let new = beneath(&lost, &renamed.to);
        lost = beneath(&lost, &renamed.to)
            .into_iter()
            .fold(lost, |state, (rest, _)| {
                state.without_file(&joined(&renamed.to, &rest))
            });
        lost = beneath(seen_before(run, renamed.replies), &renamed.to)
            .into_iter()
            .fold(lost, |state, (rest, bytes)| {
                state.with_file(&joined(&renamed.to, &rest), bytes)
            });
        let (to, from) = (
            crate::escape::path(&renamed.to),
            crate::escape::path(&renamed.from),
        );
        lost = if !new.is_empty() && renamed.from_durable {
            undone.push(format!(
                "rename {from} -> {to} undone ({to} as it was before the rename, the new file back under {from})"
            ));
            new.into_iter().fold(lost, |state, (rest, bytes)| {
                state.with_file(&joined(&renamed.from, &rest), bytes)
            })
        } else {
            undone.push(format!(
                "rename {from} -> {to} undone ({to} as it was before the rename; the new file gone, its name {from} never made durable either)"
            ));
            beneath(&lost, &renamed.from)
                .into_iter()
                .fold(lost, |state, (rest, _)| {
                    state.without_file(&joined(&renamed.from, &rest))
                })
        };
    }
    (lost, undone.join(", and "))
}

/// The files of `state` at `root` or beneath it (a renamed file, or a
/// renamed folder's files), by their path below `root` (empty for the file
/// itself).
fn beneath(state: &DirState, root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    state
        .paths()
        .filter_map(|path| {
            let rest = path.strip_prefix(root).ok()?;
            Some((rest.to_path_buf(), state.file(path)?.to_vec()))
        })
        .collect()
}

/// `root` with `rest` below it (`root` itself for an empty `rest`).
fn joined(root: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rest)
    }
}

/// The directory as the drill last saw it before the store's
/// `replies`-th stdout line: at the start (before `READY`), or before the
/// request that line answers. A store that renamed between a reply and the
/// next request may have done so before that snapshot; the state built
/// from it then loses less than a power loss could.
fn seen_before(run: &TracedRun, replies: usize) -> &DirState {
    let Some(serving) = replies.checked_sub(1) else {
        return &run.at_start;
    };
    if let Some((before, _)) = run.exchanges.get(serving).and_then(|e| e.around.as_ref()) {
        return before;
    }
    // An earlier request's snapshot at its reply.
    run.exchanges[..serving.min(run.exchanges.len())]
        .iter()
        .rev()
        .find_map(|exchange| exchange.around.as_ref().map(|(_, after)| after))
        .unwrap_or(&run.at_start)
}

/// The check's failure: what was expected and what the store did.
fn failure(run: &TracedRun, violation: &rule::Violation) -> Error {
    let request = &run.exchanges[violation.request].request;
    let names = unsynced_names(violation);
    let did = if violation.did.is_empty() {
        String::new()
    } else {
        format!(" ({})", violation.did.join("; "))
    };
    let durable = "write the record, call fsync or fdatasync on the log (os.fsync, File::sync_all/sync_data, fsync(2)), and only then reply OK";
    let dir_fsync = "open the store's directory and fsync it (os.fsync(os.open(DIR, os.O_RDONLY)), File::open(DIR)?.sync_all(), fsync(2) on an O_RDONLY descriptor of DIR)";
    let (expected, found, why) = if let Some(renamed) = violation
        .renames
        .last()
        .filter(|_| violation.unsynced.is_empty())
    {
        let when = match renamed.replies {
            0 => "before READY".to_string(),
            k if k - 1 == violation.request => "while serving it".to_string(),
            k => match run.exchanges.get(k - 1) {
                Some(exchange) => format!("while serving {}", exchange.request),
                None => "earlier".to_string(),
            },
        };
        let to = crate::escape::path(&renamed.to);
        (
            format!(
                "an fsync of the store's directory after rename {} and before the OK",
                rename_text(renamed)
            ),
            format!(
                "rename {} {when}, then the request's record written to the new {to}, then OK with no fsync of the directory in between: a power loss can undo the rename and bring the old {to} back without the record",
                rename_text(renamed)
            ),
            format!(
                "a rename is durable only once its directory is fsync'd: after renaming a new file over {to}, {dir_fsync}, before any OK whose record is only in the new file"
            ),
        )
    } else if violation.unsynced.is_empty() {
        (
            "the record written to a file in the store's directory, and fsync'd, before the OK"
                .to_string(),
            "no write to any file of the store's directory between the request and its OK"
                .to_string(),
            format!("the store acknowledges before its record is durable: {durable}"),
        )
    } else if violation.written_as.is_empty() {
        let files: Vec<String> = violation
            .unsynced
            .iter()
            .map(|(file, calls)| format!("{} to {}", calls.join(", "), crate::escape::path(file)))
            .collect();
        (
            format!(
                "an fsync of {} after its write and before the OK",
                names.join(", ")
            ),
            format!(
                "{}, then OK with no fsync in between{did}",
                files.join("; ")
            ),
            format!("the store acknowledges before its record is durable: {durable}"),
        )
    } else {
        let (mut files, mut fsyncs) = (Vec::new(), Vec::new());
        for (path, calls) in &violation.unsynced {
            let file = crate::escape::path(path);
            match violation.written_as.get(path) {
                Some(written) => {
                    let written = crate::escape::path(written);
                    files.push(format!(
                        "{} to {written}, renamed to {file}",
                        calls.join(", ")
                    ));
                    fsyncs.push(format!("{written} before its rename to {file}"));
                }
                None => {
                    files.push(format!("{} to {file}", calls.join(", ")));
                    fsyncs.push(format!("{file} after its write and before the OK"));
                }
            }
        }
        (
            format!("an fsync of {}", fsyncs.join(", and of ")),
            format!(
                "{}, then OK with no fsync in between{did}",
                files.join("; ")
            ),
            format!(
                "the store renames a file it never fsync'd: a rename moves a name, not the bytes it leads to; write the temporary file, fsync it, rename it, then {dir_fsync}, and only then reply OK"
            ),
        )
    };
    Error::Check {
        what: format!("power-loss check: the OK to {request}"),
        expected,
        found,
        why: Some(why),
    }
}

/// The violation's unsynced files, each by the name it was written under
/// when it was renamed into place (`wal.tmp (renamed to wal.log)`).
fn unsynced_names(violation: &rule::Violation) -> Vec<String> {
    violation
        .unsynced
        .keys()
        .map(|file| match violation.written_as.get(file) {
            Some(written) => format!(
                "{} (renamed to {})",
                crate::escape::path(written),
                crate::escape::path(file)
            ),
            None => crate::escape::path(file),
        })
        .collect()
}

fn rename_text(renamed: &Renamed) -> String {
    format!(
        "{} -> {}",
        crate::escape::path(&renamed.from),
        crate::escape::path(&renamed.to)
    )
}

fn request_key(request: &Request) -> String {
    match request {
        Request::Put { key, .. }
        | Request::Del { key }
        | Request::Get { key }
        | Request::WalPut { key, .. } => key.clone(),
        Request::Crash => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;

    use super::*;
    use crate::traces::Exchange;

    fn put(key: &str) -> Request {
        Request::Put {
            key: key.into(),
            value: "v".into(),
        }
    }

    fn state(files: &[(&str, &str)]) -> DirState {
        files
            .iter()
            .fold(DirState::default(), |state, (name, bytes)| {
                state.with_file(Path::new(name), bytes.as_bytes().to_vec())
            })
    }

    /// A process that started on `at_start` and served `exchanges`.
    fn run(at_start: DirState, exchanges: Vec<Exchange>) -> TracedRun {
        TracedRun {
            trace: PathBuf::new(),
            dir: PathBuf::from("/s"),
            existing: BTreeSet::new(),
            at_start,
            cwd: PathBuf::from("/"),
            stdout_inode: 9,
            exchanges,
            readable: Vec::new(),
            lines_received: 0,
            oks_received: 0,
        }
    }

    fn renamed(replies: usize, from_durable: bool) -> Renamed {
        Renamed {
            from: PathBuf::from("wal.tmp"),
            to: PathBuf::from("wal.log"),
            replies,
            from_durable,
            old_written: false,
            finished: 0,
        }
    }

    fn violation(request: usize, renames: Vec<Renamed>) -> rule::Violation {
        rule::Violation {
            request,
            unsynced: BTreeMap::new(),
            did: Vec::new(),
            written_as: BTreeMap::new(),
            renames,
        }
    }

    #[test]
    fn a_rename_before_ready_is_undone_to_the_directory_at_the_start() {
        let after = state(&[("wal.log", "compacted+b")]);
        let before = state(&[("wal.log", "compacted")]);
        let run = run(
            state(&[("wal.log", "a1 a2")]),
            vec![Exchange {
                request: put("b"),
                around: Some((before.clone(), after.clone())),
            }],
        );
        // The temporary name never durable: the new file is gone.
        let (lost, undone) = loss_state(
            &run,
            &violation(0, vec![renamed(0, false)]),
            &before,
            &after,
        );
        assert_eq!(lost, state(&[("wal.log", "a1 a2")]));
        assert!(undone.starts_with("rename wal.tmp -> wal.log undone (wal.log as it was before the rename; the new file gone"), "{undone}");
        // A durable temporary name: the new file is back under it.
        let (lost, undone) =
            loss_state(&run, &violation(0, vec![renamed(0, true)]), &before, &after);
        assert_eq!(
            lost,
            state(&[("wal.log", "a1 a2"), ("wal.tmp", "compacted+b")])
        );
        assert!(
            undone.contains("the new file back under wal.tmp"),
            "{undone}"
        );
    }

    #[test]
    fn a_rename_while_serving_a_request_is_undone_to_the_directory_before_it() {
        let first = (state(&[("wal.log", "a")]), state(&[("wal.log", "c")]));
        let second = (state(&[("wal.log", "c")]), state(&[("wal.log", "cb")]));
        let run = run(
            DirState::default(),
            vec![
                Exchange {
                    request: put("a"),
                    around: Some(first.clone()),
                },
                Exchange {
                    request: Request::Get { key: "a".into() },
                    around: None,
                },
                Exchange {
                    request: put("b"),
                    around: Some(second.clone()),
                },
            ],
        );
        // Renamed while serving request 0 (line 1 answers it).
        let (lost, _) = loss_state(
            &run,
            &violation(2, vec![renamed(1, false)]),
            &second.0,
            &second.1,
        );
        assert_eq!(lost, state(&[("wal.log", "a")]));
        // While serving the GET: the last snapshot before it is PUT a's reply.
        assert_eq!(seen_before(&run, 2), &first.1);
        // Two renames: the oldest one's replaced file comes back.
        let (lost, undone) = loss_state(
            &run,
            &violation(2, vec![renamed(1, false), renamed(3, false)]),
            &second.0,
            &second.1,
        );
        assert_eq!(lost, state(&[("wal.log", "a")]));
        assert_eq!(
            undone.matches("rename wal.tmp -> wal.log undone").count(),
            2
        );
    }
}
