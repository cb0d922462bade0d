//! Reasons a command could not run at all (exit code 2).
//!
//! A failing or unreadable *submission* is not an error of the command: it is
//! a result with status `fail` or `error` (exit code 1). These errors are about
//! the command itself: its arguments, the lessons, cargo, or writing the report.

use std::io;
use std::path::PathBuf;

use lesson::LessonError;

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Ctrl-C during a class run (exit code 130).
    #[error(
        "interrupted: every build and drill was ended; {finished} of {students} students \
         finished and are remembered in {}; no gradebook was written (it would be \
         incomplete): run the same command again to grade the rest",
        .results.display()
    )]
    Interrupted {
        /// Students graded before Ctrl-C.
        finished: usize,
        /// Students in the class.
        students: usize,
        /// The remembered results.
        results: PathBuf,
    },

    /// No `--lessons` given and no workspace above the current directory.
    #[error(
        "no cargo workspace contains {}; pass --lessons DIR or a path to a lesson .md",
        .dir.display()
    )]
    NoWorkspace {
        /// The directory searched from.
        dir: PathBuf,
    },

    /// The lessons folder cannot be listed.
    #[error("{}: cannot list lessons: {source}", .dir.display())]
    LessonsDir {
        /// The lessons folder.
        dir: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },

    /// A lesson id does not name a lesson folder.
    #[error("unknown lesson `{id}`: there is no {}; {hint}", .expected.display())]
    UnknownLesson {
        /// The id asked for.
        id: String,
        /// Where its document would be.
        expected: PathBuf,
        /// The closest id, and the known ids.
        hint: String,
    },

    /// The lessons folder holds no lesson folder with a `lesson.md`.
    #[error(
        "{}: no lessons here (no folder in it holds a lesson.md); pass --lessons DIR",
        .0.display()
    )]
    NoLessons(PathBuf),

    /// A lesson asked to run has no drill, or its drill is not one binary.
    #[error("lesson `{id}` cannot be run: {reason}")]
    NotRunnable {
        /// Lesson id.
        id: String,
        /// Why not.
        reason: String,
    },

    /// Lesson documents are invalid; every problem is listed, one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Lessons(Vec<LessonError>),

    /// A lesson package could not be described by `cargo metadata`.
    #[error("{}: {message}", .manifest.display())]
    Package {
        /// The package's manifest.
        manifest: PathBuf,
        /// What cargo said.
        message: String,
    },

    /// A paste named on the command line cannot be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Paste {
        /// The paste.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },

    /// A drill's executable changed after it was built.
    #[error(
        "{}: the drill changed after it was built (a store it ran may have replaced it); \
         refusing to run it: rebuild with `cargo build` and run again",
        .0.display()
    )]
    DrillChanged(PathBuf),

    /// The command line cannot be used as given.
    #[error("{0}")]
    Usage(String),

    /// A paste folder holds no files.
    #[error("{}: the folder holds no files to grade", .0.display())]
    EmptyFolder(PathBuf),

    /// Cargo could not be started or its messages not read.
    #[error("cargo build: {0}")]
    Cargo(io::Error),

    /// The report could not be written.
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),
}
