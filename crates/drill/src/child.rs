//! The real crash: the drill runs itself again as a child process, lets it
//! write to a WAL, and kills it with SIGKILL.
//!
//! The parent never guesses when the child is done: the child prints one
//! line, `ready key=value ...`, after its fsync has returned, and then blocks
//! reading its standard input, which the parent keeps open. The parent waits
//! for that line (up to [`READY_TIMEOUT`], a bound for a broken child rather
//! than a way to synchronise), sends SIGKILL, reaps the child and checks that
//! it died of the signal. No cleanup code, destructor or buffered write of
//! the child runs after its fsync: what recovery finds is what the disk had.
//!
//! If the parent dies first, the child's standard input reaches its end and
//! the child exits on its own.

use std::ffi::OsStr;
use std::fmt::Display;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::check::{Doing, Error, Result, expect};
use crate::steps::Steps;

/// The hidden flag that makes a drill binary play the child:
/// `--child-write PATH`.
pub const CHILD_FLAG: &str = "--child-write";

/// How long the parent waits for the child's `ready` line before it gives up.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

const READY: &str = "ready";

/// The command that runs the drill binary `exe` as the child writing `wal`.
pub fn command(exe: &Path, wal: &Path) -> Command {
    let mut command = Command::new(exe);
    command.arg(CHILD_FLAG).arg(wal);
    command
}

/// A child that announced its write and was then killed.
#[derive(Debug)]
pub struct KilledChild {
    pub pid: u32,
    /// How it ended: killed by SIGKILL (checked by [`crash`]).
    pub status: ExitStatus,
    /// The `key=value` fields of its `ready` line.
    fields: Vec<(String, String)>,
}

impl KilledChild {
    /// The field `name` of the child's `ready` line, parsed.
    pub fn field<T: FromStr>(&self, name: &str) -> Result<T> {
        let value = self
            .fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        match value.map(|v| (v, v.parse::<T>())) {
            Some((_, Ok(parsed))) => Ok(parsed),
            Some((text, Err(_))) => Err(self.bad_field(name, format!("{name}={text}"))),
            None => Err(self.bad_field(name, "no such field".to_string())),
        }
    }

    fn bad_field(&self, name: &str, found: String) -> Error {
        Error::Check {
            what: format!("`{READY}` line of child PID {}", self.pid),
            expected: format!("a valid {name}=... field"),
            found,
        }
    }
}

/// Runs `command` as the child, waits for its `ready` line, kills it with
/// SIGKILL and checks that the signal is what ended it.
pub fn crash(mut command: Command) -> Result<KilledChild> {
    let program = command.get_program().to_owned();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .doing(format!(
            "start the child process {}",
            show_program(&program)
        ))?;
    let pid = child.id();
    let lines = forward_lines(&mut child);
    let fields = match wait_for_ready(&lines) {
        Ok(fields) => fields,
        Err(found) => return Err(no_ready_line(child, pid, found)),
    };
    child
        .kill()
        .doing(format!("send SIGKILL to child PID {pid}"))?;
    let status = child
        .wait()
        .doing(format!("wait for child PID {pid} to die"))?;
    // Only now may the child see the end of its input.
    drop(child.stdin.take());
    expect(
        &format!("how child PID {pid} ended"),
        killed_by_sigkill(status),
        "signal: 9 (SIGKILL)",
        status,
    )?;
    Ok(KilledChild {
        pid,
        status,
        fields,
    })
}

/// The parent's side, as a drill step: runs `exe` as the child writing
/// `wal`, kills it, and prints what happened. `wrote` says what the child
/// wrote (from its `ready` fields) and may check them.
///
/// ```text
/// [5/6] real crash: this drill runs again as a child process writing /tmp/.../child.log
///       child PID 4242 wrote PUT crash_key = "..." to the WAL only: LSN 1, fsync'd
///       child PID 4242 killed with SIGKILL after WAL fsync (signal: 9 (SIGKILL))
/// ```
pub fn crash_step(
    steps: &mut Steps<'_>,
    exe: &Path,
    wal: &Path,
    wrote: impl FnOnce(&KilledChild) -> Result<String>,
) -> Result<KilledChild> {
    steps.step(format_args!(
        "real crash: this drill runs again as a child process writing {}",
        wal.display()
    ))?;
    let killed = crash(command(exe, wal))?;
    let pid = killed.pid;
    steps.note(format_args!("child PID {pid} {}", wrote(&killed)?))?;
    steps.note(format_args!(
        "child PID {pid} killed with SIGKILL after WAL fsync ({})",
        killed.status
    ))?;
    Ok(killed)
}

/// The child's side, once its write is durable: tells the parent with a
/// line `ready name=value ...`, then blocks until the parent kills it.
///
/// Returns only if the parent closed the child's input, that is, went away
/// without killing it. Keep the store open until then, so that nothing of it
/// is dropped before the kill.
pub fn ready_and_wait(out: &mut dyn Write, fields: &[(&str, &dyn Display)]) -> Result<()> {
    announce_ready(out, fields)?;
    io::copy(&mut io::stdin().lock(), &mut io::sink())
        .map(|_| ())
        .doing("wait on standard input for SIGKILL")
}

fn announce_ready(out: &mut dyn Write, fields: &[(&str, &dyn Display)]) -> Result<()> {
    let mut line = READY.to_string();
    for (name, value) in fields {
        line.push_str(&format!(" {name}={value}"));
    }
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Error::Output)
}

/// Reads the child's output lines on a thread, so the parent can wait for
/// them with a bound.
fn forward_lines(child: &mut Child) -> mpsc::Receiver<io::Result<String>> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The fields of the `ready` line, or what came instead of it.
fn wait_for_ready(
    lines: &mpsc::Receiver<io::Result<String>>,
) -> std::result::Result<Vec<(String, String)>, String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut other_lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(Ok(line)) => line,
            Ok(Err(err)) => return Err(format!("a read error: {err}")),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("nothing after {} s", READY_TIMEOUT.as_secs()));
            }
            Err(RecvTimeoutError::Disconnected) if other_lines.is_empty() => {
                return Err("no output".to_string());
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!("only {:?}", other_lines.join("\n")));
            }
        };
        match line.strip_prefix(READY) {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
                return Ok(parse_fields(rest));
            }
            _ => other_lines.push(line),
        }
    }
}

fn parse_fields(text: &str) -> Vec<(String, String)> {
    text.split_whitespace()
        .map(|field| match field.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => (field.to_string(), String::new()),
        })
        .collect()
}

/// The error for a child that never said it was ready: stops it, and says
/// how it ended and what it printed to stderr.
fn no_ready_line(mut child: Child, pid: u32, found: String) -> Error {
    let _ = child.kill();
    let status = child
        .wait()
        .map_or_else(|err| format!("unknown ({err})"), |s| s.to_string());
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let stderr = stderr.trim();
    let stderr = if stderr.is_empty() {
        String::new()
    } else {
        format!(", stderr: {stderr}")
    };
    Error::Check {
        what: format!("child PID {pid}"),
        expected: format!("a `{READY}` line once its write was fsync'd"),
        found: format!("{found} ({status}{stderr})"),
    }
}

fn show_program(program: &OsStr) -> String {
    Path::new(program).display().to_string()
}

#[cfg(unix)]
fn killed_by_sigkill(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    const SIGKILL: i32 = 9;
    status.signal() == Some(SIGKILL)
}

#[cfg(not(unix))]
fn killed_by_sigkill(status: ExitStatus) -> bool {
    // Child::kill terminates the process; there is no signal to check.
    !status.success()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        command
    }

    #[test]
    fn kills_a_ready_child_and_reads_its_fields() {
        // `exec cat` blocks on the stdin the parent holds open, like a drill child.
        let killed = crash(shell(
            "echo starting; echo ready lsn=6 offset=138; exec cat",
        ))
        .unwrap();
        assert!(killed_by_sigkill(killed.status), "{}", killed.status);
        assert_eq!(killed.field::<u64>("lsn").unwrap(), 6);
        assert_eq!(killed.field::<u64>("offset").unwrap(), 138);
        let err = killed.field::<u64>("missing").unwrap_err().to_string();
        assert!(
            err.contains("expected a valid missing=... field, found no such field"),
            "{err}"
        );
    }

    #[test]
    fn unparsable_field_is_a_check_failure() {
        let killed = crash(shell("echo ready lsn=six; exec cat")).unwrap();
        let err = killed.field::<u64>("lsn").unwrap_err().to_string();
        assert!(err.contains("found lsn=six"), "{err}");
    }

    #[test]
    fn child_that_exits_without_ready_line_is_explained() {
        let err = crash(shell("echo working; echo 'disk full' >&2; exit 3"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a `ready` line"), "{err}");
        assert!(err.contains("found only \"working\""), "{err}");
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("stderr: disk full"), "{err}");
    }

    #[test]
    fn missing_program_names_it() {
        let err = crash(Command::new("/nonexistent/drill-binary"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("start the child process /nonexistent/drill-binary"),
            "{err}"
        );
    }

    #[test]
    fn announce_writes_one_parsable_line() {
        let mut out = Vec::new();
        announce_ready(&mut out, &[("lsn", &6), ("offset", &138)]).unwrap();
        assert_eq!(out, b"ready lsn=6 offset=138\n");
        assert_eq!(
            parse_fields(" lsn=6 offset=138"),
            [("lsn".into(), "6".into()), ("offset".into(), "138".into())]
        );
    }
}
