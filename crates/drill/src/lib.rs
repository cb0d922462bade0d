//! The harness the week-9 crash drills share.
//!
//! A crash drill is a small program a student runs, reads and pastes: it
//! damages a write-ahead log the way a crash would, recovers, and checks what
//! came back. Each lesson crate holds one drill's logic (the steps and the
//! checks); this crate holds everything around it, so that every drill
//! behaves the same way:
//!
//! * [`Steps`] prints the numbered step lines (`[2/6] wrote ...`) and the
//!   indented lines under them (`      ok: ...`), so that the output reads as a
//!   transcript a student can follow;
//! * [`expect`], [`expect_eq`] and [`Doing::doing`] turn a failed check or
//!   operation into an [`Error`] whose message says what was expected and what
//!   was found; the drill stops at the first one;
//! * [`child`] runs the drill binary again as a child process, waits until
//!   the child says its write is durable, and kills it with SIGKILL: the real
//!   crash behind every simulated one;
//! * [`main`] is the whole of each drill's `main`: arguments (`--keep`,
//!   `--help`, and the hidden child and fault-injection flags), a temporary
//!   directory that is deleted unless `--keep` is given, the verdict line
//!   (the drill's "passed" line, or `FAILED: ...`), the receipt line after
//!   it (`lesson::receipt`: a digest of the transcript, so that a cut or
//!   edited paste is caught) and the exit code;
//! * `testing` (feature `testing`) checks all of that from a drill crate's
//!   integration tests.
//!
//! # Why the verdict is printed here
//!
//! A drill's [`Drill::run`] prints its steps and returns; the harness prints
//! [`Drill::PASSED`] only when `run` returned `Ok`, after the `--keep` lines.
//! No drill can print its passed line and then go on to fail, and a failure
//! is always the verdict line, followed only by the receipt.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |-----:|---------|
//! | 0 | every check passed |
//! | 1 | a check or an operation failed (`FAILED: ...` says which) |
//! | 2 | bad arguments (clap's usage error) |

mod check;
pub mod child;
mod cli;
mod fault;
pub mod show;
mod steps;
mod store;
mod tee;
#[cfg(feature = "testing")]
pub mod testing;

use std::io::Write;
use std::path::PathBuf;

pub use check::{Doing, Error, Result, expect, expect_eq};
pub use cli::{EXIT_FAILED, EXIT_PASSED, EXIT_USAGE, main};
pub use fault::flip_bit;
pub use steps::Steps;
pub use store::create_store;

/// What one drill run needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options<F> {
    /// An empty directory for the drill's files, deleted after the run
    /// unless `--keep` was given.
    pub dir: PathBuf,
    /// The drill's own binary, run again as the child process that is
    /// killed (see [`child`]). `main` passes the running executable; tests
    /// driving the library pass the built binary.
    pub exe: PathBuf,
    /// A fault to inject, so that tests can watch the drill's checks fail.
    pub fault: Option<F>,
}

/// One crash drill: its name, its steps, and its child process's role.
pub trait Drill {
    /// Faults a test can inject with the hidden `--inject-fault NAME` flag.
    type Fault: clap::ValueEnum + Clone + Send + Sync + 'static;

    /// The binary's name, as the lesson's Verify section runs it.
    const NAME: &'static str;
    /// One sentence for `--help`.
    const ABOUT: &'static str;
    /// The file name of the drill's main WAL inside [`Options::dir`]: the one
    /// `--keep` points the student at.
    const WAL_FILE: &'static str;
    /// The verdict line of a passing run (the line before the receipt).
    const PASSED: &'static str;
    /// The id of the lesson the drill belongs to (`w09-l07`), printed in the
    /// receipt that ends every run.
    const LESSON: &'static str;

    /// Runs the drill, printing every step to `out`. Returns at the first
    /// failed check.
    fn run(options: &Options<Self::Fault>, out: &mut dyn Write) -> Result<()>;

    /// The child process's side of the real crash: write to the WAL at
    /// `wal`, then announce it and wait to be killed with
    /// [`child::ready_and_wait`].
    fn child(wal: &std::path::Path, out: &mut dyn Write) -> Result<()>;
}
