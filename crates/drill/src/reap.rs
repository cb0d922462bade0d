//! The launcher's `--reap` mode: a program run by a launcher that stays
//! beneath it to end everything the program left.
//!
//! A store is `exec`ed by its launcher (no process between the drill and its
//! store), and the drill, a subreaper, ends the store's tree. A build that
//! `checker run --class` starts has no drill above it: the checker's only
//! hold on it is the launcher's process group, which a `setsid` daemon or a
//! child with a group of its own leaves. So with [`REAP_FLAG`], the launcher,
//! once confined, becomes a child subreaper itself, *spawns* the program,
//! waits for it, and then ends every process still beneath it: whatever the
//! program left comes back to the launcher as an orphan when its parent
//! dies. It exits as the program did (a program killed by a signal, the
//! launcher dies of the same signal, so its caller can name it). On SIGTERM,
//! SIGINT or SIGHUP (the checker's timeout and Ctrl-C send SIGTERM to the
//! launcher's group), it ends the program's whole tree first, then dies of
//! that signal.

use std::convert::Infallible;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::tree;

/// The launcher's flag for this mode: `--launch --reap --dir ... -- PROGRAM`.
pub const REAP_FLAG: &str = "--reap";

/// At most this many rounds of ending the program's tree (a process forking
/// as fast as it is killed gets no more).
const ROUNDS: usize = 64;

/// The signal that asked this launcher to end (0: none).
static ENDED_BY: AtomicI32 = AtomicI32::new(0);

/// Runs `program` with `args` and only `environment` as a child of this
/// (confined) launcher, ends everything it left, and exits as it did.
/// Returns only on failure to start it, with the reason.
pub fn run_and_reap(
    program: &Path,
    args: &[OsString],
    environment: Vec<(OsString, OsString)>,
) -> Result<Infallible, String> {
    tree::become_subreaper().map_err(|err| format!("cannot become a subreaper: {err}"))?;
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|err| format!("cannot watch for signals: {err}"))?;
    let mut command = Command::new(program);
    command.args(args).env_clear().envs(environment);
    let mut child = tree::spawn(&mut command)
        .map_err(|err| format!("cannot run {}: {err}", program.display()))?;
    let pid = child.id();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            ENDED_BY.store(signal, Ordering::SeqCst);
            end_beneath(pid);
            die_of(signal);
        }
    });
    let status = child.wait();
    tree::forget(pid);
    tree::end_every_orphan();
    // The program was ended because this launcher was asked to end: it
    // ends of what it was sent, not of the SIGKILL it gave the program.
    let signal = ENDED_BY.load(Ordering::SeqCst);
    if signal != 0 {
        die_of(signal);
    }
    match status {
        Ok(status) => exit_like(status),
        Err(err) => {
            // The program cannot be waited for: it is ended, and so is
            // everything beneath this launcher.
            end_beneath(pid);
            Err(format!("cannot wait for {}: {err}", program.display()))
        }
    }
}

/// Ends the tree of `pid` (its owner reaps it), then every orphan.
fn end_beneath(pid: u32) {
    for _ in 0..ROUNDS {
        // Killed ones stay until reaped (zombies): only the running count.
        let mut doomed = tree::descendants(pid);
        doomed.retain(|&pid| tree::is_running(pid));
        if doomed.is_empty() {
            break;
        }
        for doomed in doomed {
            let _ = tree::sigkill(doomed);
        }
    }
    let _ = tree::sigkill(pid);
    tree::end_every_orphan();
}

/// Exits as `status` says: with its code, or by its signal.
fn exit_like(status: ExitStatus) -> ! {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => std::process::exit(code),
        (None, Some(signal)) => die_of(signal),
        (None, None) => std::process::exit(1),
    }
}

/// Dies of `signal` (its default action), or, for a signal whose default is
/// to be ignored, exits with `128 + signal`, as a shell reports it.
fn die_of(signal: i32) -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(signal);
    std::process::exit(128 + signal)
}
