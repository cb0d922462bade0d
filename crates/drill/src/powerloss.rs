//! The crash a SIGKILL cannot show: a power-loss check of the store's
//! fsyncs.
//!
//! A SIGKILL ends the process and leaves the kernel's page cache alone, so a
//! store that writes and flushes but never fsyncs passes every SIGKILL test
//! and still loses acknowledged writes when the power goes. Like ALICE
//! (OSDI '14), the drill records the store's system calls while it runs
//! (`strace -f -y`), then checks one rule over them ([`rule`]): every `OK` to
//! a write must come after an fsync of each file that request wrote. When
//! the rule fails, the drill builds the disk state a power loss at that
//! moment could leave (the request's unsynced writes undone), restarts the
//! store on it and shows what came back.
//!
//! What it cannot see: writes reordered inside the disk, and a disk cache
//! that claims durability it does not have; both are below the system calls.
//! What it cannot judge (a store writing through a shared `mmap`, replies
//! sent with `splice`, a record cut short) fails the check: see `traces`.
//! This step reads the records (`traces`) and restarts the store on the
//! state a loss leaves; it never reaches into how a store is launched.

use std::path::Path;

use store_protocol::Request;

use crate::check::{Error, Result};
use crate::process::Running;
use crate::session;
use crate::steps::Steps;
use crate::store::Store;
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
        let files: Vec<String> = violation
            .unsynced
            .keys()
            .map(|f| crate::escape::path(f))
            .collect();
        if files.is_empty() {
            steps.step(format_args!(
                "power-loss check: the OK to {request} came before any write of it to a file"
            ))?;
        } else {
            steps.step(format_args!(
                "power-loss check: the OK to {request} came without an fsync of {}",
                files.join(", ")
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
    let names: Vec<String> = violation
        .unsynced
        .keys()
        .map(|f| crate::escape::path(f))
        .collect();
    if let Some((before, after)) = &exchange.around {
        // Nothing written before the OK: the whole request is what a power
        // loss (or any crash) takes back.
        let lost = if violation.unsynced.is_empty() {
            before.clone()
        } else {
            violation
                .unsynced
                .keys()
                .fold(after.clone(), |state, file| match before.file(file) {
                    Some(bytes) => state.with_file(file, bytes.to_vec()),
                    None => state.without_file(file),
                })
        };
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
        let undone = if names.is_empty() {
            "the directory as before the request".to_string()
        } else {
            format!(
                "{} as before the request (its unsynced writes undone)",
                names.join(", ")
            )
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
    let (expected, found) = if violation.unsynced.is_empty() {
        (
            "the record written to a file in the store's directory, and fsync'd, before the OK"
                .to_string(),
            "no write to any file of the store's directory between the request and its OK"
                .to_string(),
        )
    } else {
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
                "{}, then OK with no fsync in between{}",
                files.join("; "),
                if violation.did.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", violation.did.join("; "))
                }
            ),
        )
    };
    Ok(Error::Check {
        what: format!("power-loss check: the OK to {request}"),
        expected,
        found,
        why: Some(
            "the store acknowledges before its record is durable: write the record, call fsync or fdatasync on the log (os.fsync, File::sync_all/sync_data, fsync(2)), and only then reply OK".to_string(),
        ),
    })
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
