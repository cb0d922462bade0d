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
//! Stores that write through `mmap` are invisible to it.

mod rule;
mod trace;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use store_protocol::Request;

use crate::check::{Doing, Error, Result};
use crate::files::DirState;
use crate::process::Running;
use crate::session;
use crate::steps::Steps;
use crate::store::{Store, find_program};

/// The calls strace records: what can make data durable, or not.
const TRACED_CALLS: &str = "trace=write,pwrite64,writev,pwritev,pwritev2,ftruncate,truncate,\
fallocate,fsync,fdatasync,sync_file_range,sync,syncfs,open,openat,creat,rename,renameat,\
renameat2,unlink,unlinkat";

/// Collects the traces of a drill's store processes, for the check at the
/// end of the drill.
#[derive(Debug)]
pub struct Recorder {
    strace: Option<PathBuf>,
    dir: PathBuf,
    started: AtomicUsize,
    runs: Mutex<Vec<TracedRun>>,
}

/// One traced store process.
#[derive(Debug, Clone)]
pub struct TracedRun {
    pub trace: PathBuf,
    /// The store's directory, canonical (as strace shows paths).
    pub dir: PathBuf,
    /// The files it held when the process started.
    pub existing: BTreeSet<PathBuf>,
    /// The store's working directory (the drill's own).
    pub cwd: PathBuf,
    pub stdout_inode: u64,
    /// Every request sent, with the directory around each write.
    pub exchanges: Vec<Exchange>,
}

/// A request, and for a write, the store's directory before it and at its
/// reply.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Request,
    pub around: Option<(DirState, DirState)>,
}

impl Recorder {
    /// A recorder writing its traces under `dir`; it traces only when
    /// `strace` is on the `PATH`.
    pub fn new(dir: PathBuf) -> Arc<Recorder> {
        Arc::new(Recorder {
            strace: find_program("strace"),
            dir,
            started: AtomicUsize::new(0),
            runs: Mutex::new(Vec::new()),
        })
    }

    /// The command line prefix that runs a store under strace, writing its
    /// trace to a new file; `None` without strace.
    pub(crate) fn wrap(
        &self,
        store: &std::process::Command,
    ) -> Option<(std::process::Command, PathBuf)> {
        let strace = self.strace.as_ref()?;
        // A program that does not exist is not traced, so that starting it
        // fails as it would without strace, with the same explanation.
        find_program(&store.get_program().to_string_lossy())?;
        fs::create_dir_all(&self.dir).ok()?;
        let number = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let trace = self.dir.join(format!("store-{number}.strace"));
        let mut command = std::process::Command::new(strace);
        command
            .args([
                "-f",
                "--seccomp-bpf",
                "-y",
                "-qq",
                "-s",
                "4096",
                "-e",
                TRACED_CALLS,
                "-o",
            ])
            .arg(&trace)
            .arg("--")
            .arg(store.get_program())
            .args(store.get_args());
        Some((command, trace))
    }

    pub(crate) fn finished(&self, run: TracedRun) {
        self.lock().push(run);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TracedRun>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The drill's last step: the rule over every traced store process, the
/// warnings, and on a violation the loss it allows, shown on a copy.
pub fn check_step(steps: &mut Steps<'_>, store: &Store, dir: &Path, keep: bool) -> Result<()> {
    let Some(recorder) = store.recorder() else {
        return steps.step("power-loss check skipped: this run recorded no system calls");
    };
    if recorder.strace.is_none() {
        return steps.step(
            "power-loss check skipped: strace is not installed (a SIGKILL cannot show a missing fsync; install strace to check)",
        );
    }
    let runs = recorder.lock().clone();
    let mut acknowledged = 0;
    let mut warnings = Vec::new();
    for run in &runs {
        let text = fs::read_to_string(&run.trace)
            .doing(format!("read the trace {}", run.trace.display()))?;
        let events = trace::parse(&text);
        let requests: Vec<Request> = run.exchanges.iter().map(|e| e.request.clone()).collect();
        let findings = rule::check(
            &events,
            &rule::Context {
                dir: &run.dir,
                existing: &run.existing,
                stdout_inode: run.stdout_inode,
                requests: &requests,
                cwd: &run.cwd,
            },
        );
        acknowledged += findings.acknowledged_writes;
        if findings.acknowledged_writes > 0 && !findings.saw_writes && findings.violation.is_none()
        {
            warnings.push(format!(
                "warning: strace saw no write to a file in the store's directory ({}) though writes were acknowledged: the check cannot judge this process (a store writing through mmap, or a path strace names differently)",
                run.dir.display()
            ));
        }
        for (file, request) in &findings.unsynced_directories {
            warnings.push(format!(
                "warning: {} was created (or renamed into place) in the store's directory, and the directory was not fsync'd before the OK to {}: a power loss can drop the whole file; fsync the directory after creating a file in it",
                file.display(),
                requests[*request]
            ));
        }
        if let Some(violation) = findings.violation {
            let files: Vec<String> = violation
                .unsynced
                .keys()
                .map(|f| f.display().to_string())
                .collect();
            if files.is_empty() {
                steps.step(format_args!(
                    "power-loss check: the OK to {} came before any write of it to a file",
                    requests[violation.request]
                ))?;
            } else {
                steps.step(format_args!(
                    "power-loss check: the OK to {} came without an fsync of {}",
                    requests[violation.request],
                    files.join(", ")
                ))?;
            }
            explain(steps)?;
            for warning in &warnings {
                steps.note(warning)?;
            }
            return Err(show_loss(steps, store, dir, keep, run, &violation)?);
        }
    }
    steps.step(format_args!(
        "power-loss check: strace recorded {} store process{}; each of the {acknowledged} OKs to PUT, DEL or WALPUT came after an fsync of every file its request wrote",
        runs.len(),
        if runs.len() == 1 { "" } else { "es" }
    ))?;
    explain(steps)?;
    for warning in &warnings {
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
        .map(|f| f.display().to_string())
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
            .map(|(file, calls)| format!("{} to {}", calls.join(", "), file.display()))
            .collect();
        (
            format!(
                "an fsync of {} after its write and before the OK",
                names.join(", ")
            ),
            format!("{}, then OK with no fsync in between", files.join("; ")),
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
