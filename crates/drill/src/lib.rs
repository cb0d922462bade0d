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
//! * [`Store`] is the store under test: the reference store (`wal::KvStore`,
//!   served by the drill binary itself with the hidden `--serve DIR`) or a
//!   student's `--store CMD`; [`process::Running`] drives it over the store
//!   protocol (`docs/store-protocol.md`) with a bound on every wait, and
//!   kills it with SIGKILL for the real crash; [`confine`] and [`tree`] keep
//!   it in a box (Landlock, rlimits) and end everything it starts;
//! * [`files`] finds the bytes an operation changed in the store's directory
//!   and builds the torn and bit-flipped copies a crash could leave, without
//!   ever parsing the store's format; [`cases`] restarts the store on
//!   hundreds of them on a few threads; [`session`] holds the steps every
//!   scenario takes (start, GET and compare, show the store's stderr);
//! * [`main`] is the whole of each drill's `main`: arguments (`--store`,
//!   `--keep`, `--help`, and the hidden serve and fault-injection flags), a temporary
//!   directory that is deleted unless `--keep` is given, the verdict line
//!   (the drill's "passed" line, or `FAILED: ...`), the receipt line after
//!   it (`lesson::receipt`: a digest of the transcript, so that a cut or
//!   edited paste is caught) and the exit code;
//! * `testing` (feature `testing`) checks all of that from a drill crate's
//!   integration tests.
//!
//! # One scenario, any store
//!
//! A drill's scenario is written once, against the protocol. The reference
//! store is not a special path through it: the drill starts it as a process
//! like any other store. What the reference adds is words on its stderr
//! (LSNs, offsets, what recovery cut), which the transcript shows under each
//! step as it shows a student's own logs, and, because its format is ours,
//! a field-by-field reading of the bytes a crash tore.
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
//! | 130, 143 | interrupted by SIGINT or SIGTERM: every store process ended, the temporary folders removed |

pub mod cases;
mod check;
mod cli;
pub mod confine;
pub mod cost;
pub mod escape;
mod fault;
pub mod files;
mod launch;
pub mod pipes;
pub mod powerloss;
pub mod process;
mod program;
pub mod readable;
pub mod reap;
mod served;
pub mod session;
pub mod show;
mod steps;
mod store;
mod tee;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traces;
pub mod tree;

use std::io::Write;
use std::path::PathBuf;

pub use check::{Doing, Error, Result, expect, expect_because, expect_eq};
pub use cli::{EXIT_FAILED, EXIT_PASSED, EXIT_USAGE, main};
pub use fault::flip_bit;
pub use steps::Steps;
pub use store::{Program, SERVE_FLAG, Store, StoreError};

/// What one drill run needs to know.
#[derive(Debug, Clone)]
pub struct Options<F> {
    /// An empty directory for the drill's files, deleted after the run
    /// unless `--keep` was given. Each step's store directory goes inside.
    pub dir: PathBuf,
    /// The store under test: the reference store, or `--store CMD`.
    pub store: Store,
    /// Damage to inject (`--break NAME`), to watch a check fail.
    pub fault: Option<F>,
    /// Whether [`Options::dir`] is kept after the run (`--keep`): only then
    /// may the transcript point at files in it.
    pub keep: bool,
}

/// A directory a drill leaves behind, as the `--keep` legend shows it.
///
/// A directory whose state is only known at run time (the first failing
/// case of a sweep) is named by a one-line file `DIR.case` beside it,
/// written by the drill: the legend adds that line to [`Kept::holds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// Its name inside the drill's directory.
    pub dir: &'static str,
    /// What state it holds, in a phrase.
    pub holds: &'static str,
    /// The `wal` subcommand that shows the reference store's log in it
    /// (`dump`, or `dump --bytes` where single bytes matter).
    pub show: &'static str,
}

/// One crash drill: its name and its scenario.
pub trait Drill {
    /// Damage a student (or a test) can inject with `--break NAME`, to watch
    /// a check fail; each variant's doc comment is its `--help` text.
    type Fault: clap::ValueEnum + Clone + Send + Sync + 'static;

    /// The binary's name, as the lesson's Verify section runs it.
    const NAME: &'static str;
    /// One sentence for `--help`.
    const ABOUT: &'static str;
    /// The verdict line of a passing run (the line before the receipt).
    const PASSED: &'static str;
    /// The directories a run leaves in [`Options::dir`], for the legend
    /// `--keep` prints.
    const KEPT: &'static [Kept];
    /// The id of the lesson the drill belongs to (`w09-l07`), printed in the
    /// receipt that ends every run.
    const LESSON: &'static str;

    /// Runs the drill's scenario against [`Options::store`], printing every
    /// step to `out`. Returns at the first failed check.
    fn run(options: &Options<Self::Fault>, out: &mut dyn Write) -> Result<()>;
}
