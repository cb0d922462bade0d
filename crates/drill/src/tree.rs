//! Whole process trees: a store and everything it starts end with its step.
//!
//! Each store runs in a process group of its own (the launcher makes it the
//! leader), so one `killpg` reaches every process it forked, however deep,
//! unless one left the group. For those the drill binary makes itself a
//! *child subreaper* ([`become_subreaper`]): a process whose parent dies is
//! handed to the drill instead of to init, so the drill finds it among its
//! own children and ends it too. Only the drill binary does that (a test
//! process running stores in the background has other children it must
//! not touch): without it, the group is what is ended.
//!
//! The children that `std::process::Child` owns are registered here while
//! they run: reaping one of them by pid would steal its exit status from
//! its owner. Every other child of a subreaper drill is an orphan from a
//! store, killed and reaped here.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How long ending a tree waits for its killed orphans to be reaped.
const REAP_BOUND: Duration = Duration::from_secs(2);
/// At most this many processes are followed in one tree (pids can be
/// reused while the tree is walked).
const TREE_BOUND: usize = 1024;
/// At most this many rounds of ending orphans ([`end_every_orphan`]): a
/// process forking as fast as it is killed gets no more.
const ORPHAN_ROUNDS: usize = 64;

static SUBREAPER: AtomicBool = AtomicBool::new(false);
/// Set on SIGINT/SIGTERM: no store starts any more.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// The pids of the children a `Child` owns, and the process groups of the
/// stores that run.
#[derive(Default)]
struct Registry {
    owned: BTreeSet<u32>,
    groups: BTreeSet<u32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    owned: BTreeSet::new(),
    groups: BTreeSet::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes this process a child subreaper: the orphans of its stores come
/// back to it. Called once by the drill binary's `main`.
/// (Linux only: elsewhere orphans go to init, and the group is what ends.)
pub fn become_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)?;
        SUBREAPER.store(true, Ordering::SeqCst);
    }
    Ok(())
}

/// Spawns `command` and registers its pid, as one step under the
/// registry's lock, so that no sweep for orphans sees the new child first.
pub fn spawn(command: &mut Command) -> io::Result<Child> {
    let mut registry = registry();
    if STOPPING.load(Ordering::SeqCst) {
        return Err(io::Error::other("the drill is stopping (interrupted)"));
    }
    let child = command.spawn()?;
    registry.owned.insert(child.id());
    Ok(child)
}

/// Records `pgid` as a running store's group, for [`end_all`].
pub fn track_group(pgid: u32) {
    registry().groups.insert(pgid);
}

/// After its `Child` reaped `pid`: no longer owned.
pub fn forget(pid: u32) {
    registry().owned.remove(&pid);
}

/// The processes in group `pgid` that still run (zombies are done).
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat_of(pid).is_some_and(|stat| stat.pgrp == pgid && stat.state != 'Z'))
        .collect()
}

/// What `/proc/PID/stat` says of a process.
struct Stat {
    state: char,
    pgrp: u32,
}

fn stat_of(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start
    // after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, pgrp })
}

/// Whether `pid` still runs (not gone, not a zombie).
pub fn is_running(pid: u32) -> bool {
    stat_of(pid).is_some_and(|stat| stat.state != 'Z')
}

/// The children of `pid`, from every thread's `children` file.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Every descendant of `pid`, parents before their children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        for child in children(next) {
            if found.len() < TREE_BOUND && !found.contains(&child) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

/// The children of this process that no `Child` owns: orphans of stores,
/// handed to the subreaper. Empty unless this process is one.
pub fn orphans() -> Vec<u32> {
    if !SUBREAPER.load(Ordering::SeqCst) {
        return Vec::new();
    }
    let registry = registry();
    children(std::process::id())
        .into_iter()
        .filter(|pid| !registry.owned.contains(pid))
        .collect()
}

/// The command line of `pid`, as the transcript may show it (escaped,
/// bounded).
pub fn command_of(pid: u32) -> String {
    let bytes = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = bytes
        .split(|&b| b == 0)
        .filter(|word| !word.is_empty())
        .take(8)
        .map(|word| String::from_utf8_lossy(&word[..word.len().min(120)]).into_owned())
        .collect();
    crate::escape::shown(&words.join(" ")).into_owned()
}

/// SIGKILL to one process; a process already gone is not an error.
pub fn sigkill(pid: u32) -> io::Result<()> {
    match kill(pid_of(pid), Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Ends the store tree of group `pgid`, except `spare` (a tracer that must
/// see its tracees die to write the end of its record): every member of the
/// group and each one's descendants, then every orphan, which is reaped.
pub fn end_tree(pgid: u32, spare: Option<u32>) {
    match spare {
        // One killpg reaches every member; a process that left the group
        // is an orphan of this subreaper once its parent died, or a
        // descendant of one, and ends with the orphans.
        None => {
            let _ = killpg(pid_of(pgid), Signal::SIGKILL);
        }
        // A tracer in the group must outlive its tracees, so the group is
        // killed member by member, again while members remain (a member
        // may fork while it is being killed).
        Some(spare) => {
            for _ in 0..16 {
                let mut doomed: Vec<u32> = group_members(pgid);
                for pid in doomed.clone() {
                    doomed.extend(descendants(pid));
                }
                doomed.retain(|&pid| pid != spare);
                if doomed.is_empty() {
                    break;
                }
                for pid in doomed {
                    let _ = sigkill(pid);
                }
            }
        }
    }
    end_orphans();
    registry().groups.remove(&pgid);
}

/// Kills every orphan of this subreaper (and their descendants) and reaps
/// them, each within a bound.
pub fn end_orphans() {
    for orphan in orphans() {
        for pid in descendants(orphan) {
            let _ = sigkill(pid);
        }
        let _ = sigkill(orphan);
        reap(orphan);
    }
}

/// [`end_orphans`] again until none is left (an orphan may fork while it
/// is ended), within [`ORPHAN_ROUNDS`] rounds: for a launcher in `--reap`
/// mode and a class run, whose every orphan is a process that escaped.
pub fn end_every_orphan() {
    for _ in 0..ORPHAN_ROUNDS {
        if orphans().is_empty() {
            return;
        }
        end_orphans();
    }
}

/// Whether SIGINT or SIGTERM stopped the drill.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// For SIGINT and SIGTERM: no process starts from now on, and every one
/// that runs is ended.
pub fn stop_everything() {
    stop_starting();
    end_all();
}

/// No process starts from now on ([`spawn`] refuses): what runs is left to
/// its owner to end.
pub fn stop_starting() {
    let _registry = registry();
    STOPPING.store(true, Ordering::SeqCst);
}

/// The process groups tracked now (see [`track_group`]).
pub fn groups() -> Vec<u32> {
    registry().groups.iter().copied().collect()
}

/// After the group `pgid` ended some other way than [`end_tree`].
pub fn untrack_group(pgid: u32) {
    registry().groups.remove(&pgid);
}

/// Ends every store group that still runs and every orphan: for SIGINT,
/// SIGTERM and the end of the drill.
pub fn end_all() {
    for pgid in groups() {
        end_tree(pgid, None);
    }
    end_orphans();
}

/// Waits (bounded) for a killed orphan to be gone.
fn reap(pid: u32) {
    let deadline = Instant::now() + REAP_BOUND;
    while Instant::now() < deadline {
        match waitpid(pid_of(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(1)),
            _ => return,
        }
    }
}

fn pid_of(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_group_is_ended_with_its_grandchildren() {
        // A shell in its own group that starts a background grandchild.
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 600 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0);
        let mut child = spawn(&mut command).unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        assert!(is_running(grandchild));
        assert_eq!(group_members(child.id()).len(), 2);
        end_tree(child.id(), None);
        child.wait().unwrap();
        forget(child.id());
        // The grandchild's parent (the shell) is reaped; init reaps it in
        // turn, so it is gone or a zombie, never running.
        let deadline = Instant::now() + Duration::from_secs(5);
        while is_running(grandchild) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!is_running(grandchild));
        assert!(group_members(child.id()).is_empty());
    }
}
