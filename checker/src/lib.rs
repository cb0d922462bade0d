//! The course checker: runs every lesson's drill, and grades pasted output,
//! against the proof patterns written in each lesson's frontmatter.
//!
//! ```text
//! checker list                        lessons, sorted by part then order
//! checker lint                        every problem in every lesson, with file:line
//! checker run [ID...] [--store CMD]   build and run drills, grade their output
//! checker grade LESSON [PASTE...]     grade pastes: files, class folders, stdin
//! ```
//!
//! # Design
//!
//! - **One source of truth.** The proof lives in the lesson document and is
//!   read by the `lesson` crate; `run` and `grade` differ only in where the
//!   output comes from. A drill passes when it exits 0 and every pattern
//!   matches; a paste passes when every pattern matches a line of the run
//!   (not an echo of the lesson), the run's own verdict is not a failure (in
//!   any language: `lesson::verdict`), and no drill transcript is cut or
//!   edited (`lesson::receipt`). A graded paste must also have tested the
//!   student's own store, not the reference or a shipped example
//!   ([`course_stores`]); `run` knows what it ran and does not ask.
//! - **Copies are flagged, not failed.** `grade` reads every submission
//!   before reporting, so each result can list the others it copies
//!   (`copy_of`); the instructor decides.
//! - **Engine separate from the interface.** [`cli`] parses arguments and maps
//!   outcomes to exit codes; the other modules do the work and can be driven
//!   from tests without a process.
//! - **One event stream, many reporters.** `run` and `grade` emit
//!   [`outcome::Event`]s; human, JSON, JUnit and CSV output are
//!   [`report::Reporter`]s of the same stream, and JSON is a small set of
//!   stable serde types ([`outcome::LessonResult`], [`outcome::Summary`])
//!   versioned by [`outcome::SCHEMA_VERSION`].
//! - **Cargo is asked, not imitated.** Lesson packages are described by
//!   `cargo metadata`, drills are built by one `cargo build` whose JSON
//!   messages name the executables: no guessing of target paths.
//! - **Child processes with `std` only.** Each drill runs with stdin closed
//!   and stdout and stderr on one pipe (so they interleave in write order),
//!   under a timeout, with its output capped at 16 MiB; see [`drill`].
//!
//! Exit codes: 0 every result passed (or the reader of the report went away);
//! 1 a result failed or errored; 2 the command could not run (usage, unknown
//! lesson, no lessons, unreadable file, invalid lesson document), and `lint`
//! found problems.

pub mod catalog;
pub mod class;
pub mod class_run;
pub mod cli;
pub mod copies;
pub mod course_stores;
pub mod drill;
pub mod error;
pub mod grade;
pub mod gradebook;
pub mod lint;
pub mod list;
pub mod manifest;
pub mod outcome;
pub mod progress;
pub mod reaping;
pub mod report;
pub mod rule;
pub mod run;
pub mod store_build;
pub mod survey;

pub use error::Error;
