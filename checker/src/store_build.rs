//! Building a student's store from its manifest: the manifest's `build`
//! command, run by `sh -c` in the repository with stdin closed, its output
//! captured (at most [`BUILD_OUTPUT_LIMIT`] bytes kept: the tail says why a
//! build failed), its process group ended at the timeout.

use std::path::Path;
use std::time::Duration;

use crate::drill::{self, Ending};

/// How much of a build's output is kept for its error message.
pub const BUILD_OUTPUT_LIMIT: usize = 4096;

/// Why a build did not produce a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFailure {
    /// What happened: `exited with code 2`, `timed out after 300 s`.
    pub ending: String,
    /// The last lines of its output.
    pub tail: String,
}

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the store's build {}", self.ending)?;
        if !self.tail.is_empty() {
            write!(f, "; its output ended with: {}", self.tail)?;
        }
        Ok(())
    }
}

/// Run `command` (a manifest's `build`) in `repository` under `timeout`.
pub fn build(command: &str, repository: &Path, timeout: Duration) -> Result<(), BuildFailure> {
    let shell = Path::new("/bin/sh");
    let run =
        drill::run(shell, &["-c", command], repository, timeout).map_err(|error| BuildFailure {
            ending: format!("could not start: {error}"),
            tail: String::new(),
        })?;
    let ending = match run.ending {
        Ending::Exited(status) => match drill::describe_failure(status) {
            None => return Ok(()),
            Some(failure) => failure,
        },
        Ending::TimedOut => format!("timed out after {}; killed", crate::run::seconds(timeout)),
    };
    Err(BuildFailure {
        ending,
        tail: tail(&run.output),
    })
}

/// The last lines of `output`, at most [`BUILD_OUTPUT_LIMIT`] bytes, joined
/// with ` | ` and with control characters escaped.
fn tail(output: &[u8]) -> String {
    let text = lesson::normalize(&output[output.len().saturating_sub(BUILD_OUTPUT_LIMIT)..]);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let last = &lines[lines.len().saturating_sub(8)..];
    crate::report::printable(&last.join(" | ")).into_owned()
}
