//! Errors of this crate.
//!
//! Every error about a lesson document names the file and, when the problem
//! has a place, the line and column *in the `.md` file* (1-based), so that an
//! editor can jump to it: `lessons/w09-l07/lesson.md:14:5: message`.

use std::io;
use std::path::PathBuf;

/// A lesson document could not be read or is not a valid lesson.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The lesson document.
        path: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// The file is larger than [`crate::OUTPUT_LIMIT`]; nothing was parsed.
    #[error("{}: larger than {limit} bytes; refusing to read it", path.display())]
    TooLarge {
        /// The lesson document.
        path: PathBuf,
        /// The limit in bytes.
        limit: usize,
    },

    /// The file is not valid UTF-8.
    #[error("{}:{line}:{column}: not valid UTF-8", path.display())]
    NotUtf8 {
        /// The lesson document.
        path: PathBuf,
        /// Line of the first invalid byte.
        line: usize,
        /// Column (in characters) of the first invalid byte.
        column: usize,
    },

    /// The first line is not a `---` fence.
    #[error(
        "{}:1:1: missing frontmatter: a lesson document starts with a `---` line",
        path.display()
    )]
    MissingFrontmatter {
        /// The lesson document.
        path: PathBuf,
    },

    /// The opening `---` fence has no closing `---` fence.
    #[error(
        "{}:{line}:1: frontmatter opened here is never closed by a `---` line",
        path.display()
    )]
    UnclosedFrontmatter {
        /// The lesson document.
        path: PathBuf,
        /// Line of the opening fence.
        line: usize,
    },

    /// The frontmatter is not valid YAML or does not have the lesson fields.
    #[error("{}:{line}:{column}: invalid frontmatter: {message}", path.display())]
    Frontmatter {
        /// The lesson document.
        path: PathBuf,
        /// Line in the `.md` file.
        line: usize,
        /// Column (in characters) in the `.md` file.
        column: usize,
        /// What the YAML deserializer reported.
        message: String,
    },

    /// A proof pattern is not a valid regular expression.
    #[error(
        "{}:{line}:{column}: invalid regex pattern `{pattern}`: {message}",
        path.display()
    )]
    Regex {
        /// The lesson document.
        path: PathBuf,
        /// Line of the pattern in the `.md` file.
        line: usize,
        /// Column of the pattern in the `.md` file.
        column: usize,
        /// The pattern as written.
        pattern: String,
        /// What the regex compiler reported.
        message: String,
    },

    /// The proof is well-formed YAML but cannot grade anything, e.g. it has no
    /// patterns or an empty one (which every output would match).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Proof {
        /// The lesson document.
        path: PathBuf,
        /// Line in the `.md` file.
        line: usize,
        /// Column in the `.md` file.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl LessonError {
    /// The line in the lesson document this error points at, if it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Read { .. } | Self::TooLarge { .. } => None,
            Self::MissingFrontmatter { .. } => Some(1),
            Self::NotUtf8 { line, .. }
            | Self::UnclosedFrontmatter { line, .. }
            | Self::Frontmatter { line, .. }
            | Self::Regex { line, .. }
            | Self::Proof { line, .. } => Some(*line),
        }
    }
}

/// Program output or a paste could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// The output is larger than the limit; it was not kept.
    #[error("output exceeded {} MiB", .limit / (1024 * 1024))]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}
