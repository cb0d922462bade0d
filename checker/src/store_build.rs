//! Building a student's store from its manifest: the manifest's `build`
//! command, run by `sh -c` in the repository with stdin closed, its output
//! captured (at most [`BUILD_OUTPUT_LIMIT`] bytes kept: the tail says why a
//! build failed), its process group ended at the timeout. Confined (a class
//! run), the launcher runs it in `--reap` mode: everything the build started
//! ends when it ends, even what left its process group (`drill::reap`).

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

/// How a build is confined: through a drill binary's launcher (its hidden
/// `--launch`), which restricts itself (Landlock: write access to the
/// repository and a temporary folder only, read and execute access to the
/// system and the toolchains on `PATH`; resource limits; its environment
/// cleared of everything but what finds the toolchains) and then runs the
/// build. The temporary folder is the build's `HOME` and `TMPDIR`.
#[derive(Debug, Clone)]
pub struct Confined<'a> {
    /// A drill binary (every drill is also the launcher).
    pub launcher: &'a Path,
    /// The build's own temporary folder.
    pub temporary: &'a Path,
}

/// The build's limits: a compiler needs more than a store.
const BUILD_LIMITS: &[&str] = &[
    "--limit=memory=4096",
    "--limit=file-size=2048",
    "--limit=open-files=4096",
    "--limit=nproc=8192",
];

/// Run `command` (a manifest's `build`) in `repository` under `timeout`,
/// confined when `confined` says how.
pub fn build(
    command: &str,
    repository: &Path,
    timeout: Duration,
    confined: Option<&Confined<'_>>,
) -> Result<(), BuildFailure> {
    let shell = Path::new("/bin/sh");
    let started = match confined {
        None => drill::run(shell, &["-c", command], repository, timeout),
        Some(confined) => {
            let cpu = format!("--limit=cpu={}", timeout.as_secs().max(1));
            // `--reap`: the launcher ends all the build left (a daemon, a
            // child in a group of its own) before it exits.
            let mut arguments: Vec<String> =
                vec!["--launch".into(), ::drill::reap::REAP_FLAG.into()];
            for dir in [repository, confined.temporary] {
                arguments.push("--dir".into());
                arguments.push(dir.display().to_string());
            }
            // The toolchains on PATH, read-only, and the network: a build
            // may fetch its dependencies (the store it builds gets neither).
            arguments.extend(["--toolchains".into(), "--network".into()]);
            arguments.extend(BUILD_LIMITS.iter().map(|limit| (*limit).to_owned()));
            arguments.push(cpu);
            arguments.extend([
                "--".into(),
                shell.display().to_string(),
                "-c".into(),
                command.into(),
            ]);
            let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
            let temporary = confined.temporary.display().to_string();
            let environment = [("HOME", temporary.as_str()), ("TMPDIR", temporary.as_str())];
            drill::run_with(
                confined.launcher,
                &arguments,
                repository,
                timeout,
                &environment,
            )
        }
    };
    let run = started.map_err(|error| BuildFailure {
        ending: format!("could not start: {error}"),
        tail: String::new(),
    })?;
    let ending = match run.ending {
        Ending::Exited(status) => match drill::describe_failure(status) {
            None => return Ok(()),
            Some(failure) => failure,
        },
        Ending::TimedOut => format!("timed out after {}; killed", drill::seconds(timeout)),
    };
    Err(BuildFailure {
        ending,
        tail: tail(&run.output),
    })
}

/// Whether `launcher` is a drill binary whose launcher answers (its
/// `--launch --probe` names how far Landlock applies, `NotEnforced`
/// included: its limits still do).
pub fn launcher_answers(launcher: &Path) -> bool {
    drill::run(
        launcher,
        &["--launch", "--probe"],
        Path::new("/"),
        Duration::from_secs(30),
    )
    .is_ok_and(|run| {
        matches!(run.ending, Ending::Exited(status) if status.success())
            && String::from_utf8_lossy(&run.output)
                .trim_end()
                .ends_with("Enforced")
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
