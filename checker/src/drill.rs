//! Building drills with cargo and running one drill under a timeout.
//!
//! Only `std` is used for child processes. Output capture has three
//! requirements that shape this module:
//!
//! - stdout and stderr are captured *together, in the order written*: both are
//!   the write end of one pipe, so the kernel orders the writes;
//! - the pipe is drained continuously by a reader thread (a full pipe would
//!   block the drill), but at most [`lesson::OUTPUT_LIMIT`] bytes are kept;
//! - the drill may start children that inherit the pipe and outlive it. Once
//!   the drill has exited, the reader gets [`DRAIN_GRACE`] to reach end of
//!   file, and is then abandoned rather than waited for forever.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use cargo_metadata::{Message, PackageId, TargetKind};
use lesson::OUTPUT_LIMIT;
use wait_timeout::ChildExt;

use crate::catalog::Drill;
use crate::error::Error;

/// How long to keep reading after a drill has exited, for output still held
/// by processes it started.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How long a drill past its timeout gets, after SIGTERM, to end the stores
/// it started and remove its temporary folders, before its whole process
/// group is killed.
pub const TERM_GRACE: Duration = Duration::from_secs(5);

/// Build the given drills with one `cargo build` per workspace (normally
/// exactly one) and return the executable of each drill that built, keyed by
/// package id. Cargo's progress and diagnostics go to stderr, rendered.
pub fn build(drills: &[&Drill]) -> Result<HashMap<PackageId, PathBuf>, Error> {
    let mut by_workspace: HashMap<&Path, Vec<&Drill>> = HashMap::new();
    for drill in drills {
        by_workspace
            .entry(&drill.workspace_root)
            .or_default()
            .push(drill);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut executables = HashMap::new();
    for (root, drills) in by_workspace {
        let mut command = Command::new(&cargo);
        command
            .arg("build")
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .args(["--message-format=json-render-diagnostics", "--keep-going"]);
        for drill in &drills {
            command.arg("-p").arg(&drill.package);
        }
        // Not registered with `drill::tree`: a class run sweeps for escaped
        // processes only once its students run, after this build.
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(Error::Cargo)?;
        let stdout = child.stdout.take().expect("stdout is piped");
        for message in Message::parse_stream(BufReader::new(stdout)) {
            let Message::CompilerArtifact(artifact) = message.map_err(Error::Cargo)? else {
                continue;
            };
            let Some(executable) = artifact.executable else {
                continue;
            };
            let is_drill = artifact.target.is_kind(TargetKind::Bin)
                && drills.iter().any(|d| {
                    d.package_id == artifact.package_id
                        && d.binaries.contains(&artifact.target.name)
                });
            if is_drill {
                executables.insert(artifact.package_id, executable.into_std_path_buf());
            }
        }
        // Failures are per drill: a drill without an executable is reported
        // as an error result, the others still run.
        child.wait().map_err(Error::Cargo)?;
    }
    Ok(executables)
}

/// How a drill run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited on its own.
    Exited(ExitStatus),
    /// It ran past the timeout and was killed.
    TimedOut,
}

/// Everything observed about one drill run.
#[derive(Debug)]
pub struct Run {
    /// How it ended.
    pub ending: Ending,
    /// Time from start to exit (or to the kill).
    pub duration: Duration,
    /// Interleaved stdout and stderr, at most [`OUTPUT_LIMIT`] bytes.
    pub output: Vec<u8>,
    /// The drill wrote more than [`OUTPUT_LIMIT`] bytes; `output` is partial.
    pub overflowed: bool,
    /// Processes started by the drill still held the output open
    /// [`DRAIN_GRACE`] after it exited; reading stopped there.
    pub abandoned: bool,
}

#[derive(Default)]
struct Capture {
    bytes: Vec<u8>,
    overflowed: bool,
}

/// Run `executable` with `arguments` in `dir` with stdin closed, stdout and
/// stderr captured together, killed after `timeout`.
pub fn run(
    executable: &Path,
    arguments: &[&str],
    dir: &Path,
    timeout: Duration,
) -> io::Result<Run> {
    run_with(executable, arguments, dir, timeout, &[])
}

/// [`run`] with `environment` set for the child.
pub fn run_with(
    executable: &Path,
    arguments: &[&str],
    dir: &Path,
    timeout: Duration,
    environment: &[(&str, &str)],
) -> io::Result<Run> {
    let (mut reader, writer) = io::pipe()?;
    let mut command = Command::new(executable);
    command
        .envs(environment.iter().copied())
        .args(arguments)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    // Its own process group, so that a timeout ends everything it started
    // that stayed in it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let started = Instant::now();
    // Registered (and its group tracked) while it runs: a class run's sweep
    // for escaped processes leaves it to this owner, and Ctrl-C asks its
    // group to end (crate::reaping).
    let mut child = ::drill::tree::spawn(&mut command)?;
    let pid = child.id();
    ::drill::tree::track_group(pid);
    // The command holds our copies of the write end; closing them lets the
    // reader see end of file once the drill (and its children) are done.
    drop(command);

    let capture = Arc::new(Mutex::new(Capture::default()));
    let (done_tx, done_rx) = mpsc::channel();
    let shared = Arc::clone(&capture);
    thread::Builder::new()
        .name("drill-output".into())
        .spawn(move || {
            let mut buffer = vec![0; 64 * 1024];
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => keep(&shared, &buffer[..n]),
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            // The receiver is gone when the drill was abandoned.
            let _ = done_tx.send(());
        })?;

    let ending = wait_ending(&mut child, timeout);
    ::drill::tree::forget(pid);
    ::drill::tree::untrack_group(pid);
    let ending = ending?;
    let duration = started.elapsed();
    let abandoned = done_rx.recv_timeout(DRAIN_GRACE).is_err();
    let mut capture = capture.lock().unwrap_or_else(|poison| poison.into_inner());
    Ok(Run {
        ending,
        duration,
        output: std::mem::take(&mut capture.bytes),
        overflowed: capture.overflowed,
        abandoned,
    })
}

/// Waits for `child` (the leader of its own group) until `timeout`; past it,
/// ends it: SIGTERM to its group, then, after [`TERM_GRACE`], SIGKILL. A run
/// ended by Ctrl-C (the class run's [`crate::reaping`]) has what is left of
/// its group killed too.
fn wait_ending(child: &mut std::process::Child, timeout: Duration) -> io::Result<Ending> {
    let ending = match child.wait_timeout(timeout)? {
        Some(status) => Ending::Exited(status),
        None => {
            // Asked first: a drill ends its stores' process trees and removes
            // its temporary folders on SIGTERM. Then the whole group goes.
            signal_group(child.id(), false);
            if child.wait_timeout(TERM_GRACE)?.is_none() {
                let _ = child.kill();
            }
            signal_group(child.id(), true);
            child.wait()?;
            Ending::TimedOut
        }
    };
    if ::drill::tree::stopping() {
        signal_group(child.id(), true);
    }
    Ok(ending)
}

/// Send SIGTERM (or SIGKILL when `kill`) to the process group led by `pid`.
/// A group already gone is no error.
pub fn signal_group(pid: u32, kill: bool) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let signal = if kill {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        if let Ok(pid) = i32::try_from(pid) {
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, kill);
}

/// The SHA-256 of the file at `path`, read as a stream, in hex.
pub fn file_sha256(path: &Path) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// Keep `chunk` unless that would exceed the cap; past the cap, only note it.
fn keep(capture: &Mutex<Capture>, chunk: &[u8]) {
    let mut capture = capture.lock().unwrap_or_else(|poison| poison.into_inner());
    if capture.bytes.len() + chunk.len() <= OUTPUT_LIMIT {
        capture.bytes.extend_from_slice(chunk);
    } else {
        capture.overflowed = true;
    }
}

/// Why an exit status is not a success, in words; `None` for exit code 0.
pub fn describe_failure(status: ExitStatus) -> Option<String> {
    if status.success() {
        return None;
    }
    if let Some(code) = status.code() {
        return Some(format!("exited with code {code}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Some(match signal_name(signal) {
                Some(name) => format!("killed by signal {signal} ({name})"),
                None => format!("killed by signal {signal}"),
            });
        }
    }
    Some(format!("ended abnormally ({status})"))
}

/// Names of the signals whose numbers are the same on Linux and macOS.
#[cfg(unix)]
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// `60 s`, `0.5 s`.
pub fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}
