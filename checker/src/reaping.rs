//! A class run's hold on everything it starts: nothing outlives it.
//!
//! Each build and drill runs in a process group of its own, registered while
//! it runs (`drill::tree`, the same registry the drills keep for their
//! stores). A build runs under a launcher in `--reap` mode that ends all the
//! build left, and a drill ends its stores' trees itself; this module is the
//! last line, for what escapes those (a launcher or drill killed by SIGKILL
//! leaves its orphans to the nearest subreaper):
//!
//! * [`take_charge`] makes the checker a child subreaper, so such orphans
//!   come back to it rather than to init, and [`end_escaped`] ends them:
//!   every child of the checker that no `Child` owns is one;
//! * on Ctrl-C (SIGINT, or SIGTERM), no new build or drill starts (the
//!   registry refuses to spawn), every running one is asked to end
//!   (SIGTERM to its group) and, after [`crate::drill::TERM_GRACE`], killed
//!   with its group (SIGKILL); the class run then writes what finished and
//!   exits 130. A second Ctrl-C ends everything at once and exits 130.
//!
//! Only the `checker` binary's class run takes charge: a process running
//! class runs in its own threads (a test) has children of its own that a
//! sweep must not touch.

use std::io;
use std::time::Instant;

use drill::tree;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::drill::{TERM_GRACE, signal_group};

/// The exit code of a class run ended by Ctrl-C (128 + SIGINT, as a shell
/// reports it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Makes this process a child subreaper and ends its builds and drills on
/// SIGINT or SIGTERM (see the module's text).
pub fn take_charge() -> io::Result<()> {
    tree::become_subreaper()?;
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("class-run-signals".into())
        .spawn(move || {
            let mut signals = signals.forever();
            if signals.next().is_none() {
                return;
            }
            tree::stop_starting();
            eprintln!(
                "checker: interrupted: ending every build and drill that runs (Ctrl-C again ends them at once)"
            );
            std::thread::spawn(end_running);
            if signals.next().is_some() {
                for pgid in tree::groups() {
                    signal_group(pgid, true);
                }
                end_escaped();
                eprintln!("checker: interrupted again: everything ended at once; results not saved");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        })?;
    Ok(())
}

/// Whether Ctrl-C stopped the run.
pub fn interrupted() -> bool {
    tree::stopping()
}

/// SIGTERM to every running group, then SIGKILL to those still tracked
/// after the grace (each group is untracked when its leader is reaped).
fn end_running() {
    let asked = tree::groups();
    for &pgid in &asked {
        signal_group(pgid, false);
    }
    let deadline = Instant::now() + TERM_GRACE;
    while Instant::now() < deadline && tree::groups().iter().any(|pgid| asked.contains(pgid)) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for pgid in tree::groups() {
        signal_group(pgid, true);
    }
}

/// Ends every process that escaped a build or a drill and came back to this
/// subreaper (with what it started).
/// Nothing happens unless [`take_charge`] made this process a subreaper.
pub fn end_escaped() {
    tree::end_every_orphan();
}
