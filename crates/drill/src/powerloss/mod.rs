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
pub fn check_step(steps: &mut Steps<'_>, store: &Store, dir: &Path) -> Result<()> {
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
            },
        );
        acknowledged += findings.acknowledged_writes;
        for (file, request) in &findings.unsynced_directories {
            warnings.push(format!(
                "warning: {} was created (or renamed into place) in the store's directory, and the directory was not fsync'd before the OK to {}: a power loss can drop the whole file; fsync the directory after creating a file in it",
                file.display(),
                requests[*request]
            ));
        }
        if let Some(violation) = findings.violation {
            steps.step(format_args!(
                "power-loss check: the OK to {} came before an fsync of what it wrote",
                requests[violation.request]
            ))?;
            explain(steps)?;
            for warning in &warnings {
                steps.note(warning)?;
            }
            return Err(show_loss(steps, store, dir, run, &violation)?);
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
    run: &TracedRun,
    violation: &rule::Violation,
) -> Result<Error> {
    let exchange = &run.exchanges[violation.request];
    let request = &exchange.request;
    let files: Vec<String> = violation
        .unsynced
        .iter()
        .map(|(file, calls)| format!("{} to {}", calls.join(", "), file.display()))
        .collect();
    let names: Vec<String> = violation
        .unsynced
        .keys()
        .map(|f| f.display().to_string())
        .collect();
    if let Some((before, after)) = &exchange.around {
        let mut lost = after.clone();
        for file in violation.unsynced.keys() {
            lost = match before.file(file) {
                Some(bytes) => lost.with_file(file, bytes.to_vec()),
                None => lost.without_file(file),
            };
        }
        let copy = dir.join("power-loss");
        lost.write_to(&copy)?;
        let key = request_key(request);
        let came_back = match Running::start(&store.untraced(), &copy) {
            Ok(mut running) => {
                let answer = running.get(&key).map(|v| session::answer(v.as_deref()));
                let _ = running.close();
                answer.unwrap_or_else(|err| format!("no answer ({err})"))
            }
            Err(err) => format!("no start ({err})"),
        };
        steps.note(format_args!(
            "a power loss right after that OK can leave {} as before the request (its unsynced writes undone); restarted on that state ({}), the store answered GET {key} -> {came_back}, though {request} was acknowledged",
            names.join(", "),
            copy.display()
        ))?;
    }
    Ok(Error::Check {
        what: format!("power-loss check: the OK to {request}"),
        expected: format!("an fsync of {} after its write and before the OK", names.join(", ")),
        found: format!("{}, then OK with no fsync in between", files.join("; ")),
        why: Some(
            "the store writes (and flushes) but does not fsync before replying: call fsync or fdatasync on the log (os.fsync, File::sync_all/sync_data, fsync(2)) after writing each record and before replying OK".to_string(),
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
