//! A store under test, running: the tester's side of the store protocol.
//!
//! Every wait is bounded. The store has [`READY_TIMEOUT`] to recover and say
//! `READY`, and [`REPLY_TIMEOUT`] for each reply; a store that hangs, exits
//! early or prints something that is not a reply is killed, and the check
//! that was waiting fails, quoting what the store printed and the last lines
//! of its stderr. The store's stdout and stderr are read on their own
//! threads, so that the tester waits on a channel with a deadline instead
//! of blocking in `read`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use std::path::PathBuf;
use std::sync::Arc;

use store_protocol::{Reply, Request, ready_text};
use wait_timeout::ChildExt;

use crate::check::{Doing, Error, Result};
use crate::files::{DirState, FileChange};
use crate::powerloss::{Exchange, Recorder, TracedRun};
use crate::store::Store;

/// How long a store may take to recover and print `READY`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a store may take to answer one request, or to exit after
/// `CRASH` or the end of its input.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many of the store's last stderr lines a failure quotes.
const STDERR_TAIL: usize = 8;

/// A store process started on a directory, past its `READY` line.
///
/// When the store is recorded for the power-loss check, the child is
/// `strace`, and the store is strace's child (the *tracee*): signals go to
/// the tracee, and the trace is handed to the recorder when this ends.
pub struct Running {
    dir: PathBuf,
    child: Child,
    traced: Option<Traced>,
    stdin: Option<ChildStdin>,
    stdout: Receiver<io::Result<String>>,
    stderr: Receiver<String>,
    /// Every stderr line received so far, for failure messages.
    stderr_seen: Vec<String>,
    /// Lines received but not yet handed out by [`Running::new_stderr`].
    stderr_unshown: usize,
    /// The free text of its `READY` line.
    pub ready: String,
    /// How long it took from the spawn to `READY`.
    pub started_in: Duration,
}

struct Traced {
    recorder: Arc<Recorder>,
    run: TracedRun,
    tracee: Option<u32>,
}

impl Running {
    /// Starts `store` on `dir` and waits for its `READY` line.
    pub fn start(store: &Store, dir: &Path) -> Result<Running> {
        let spawned = Instant::now();
        let mut command = store.command(dir);
        let mut traced = None;
        if let Some(recorder) = store.recorder()
            && let Some((wrapped, trace)) = recorder.wrap(&command)
        {
            command = wrapped;
            let existing = DirState::read(dir)?
                .paths()
                .map(Path::to_path_buf)
                .collect();
            let canonical = dir
                .canonicalize()
                .doing(format!("find the real path of {}", dir.display()))?;
            traced = Some(Traced {
                recorder: Arc::clone(recorder),
                run: TracedRun {
                    trace,
                    dir: canonical,
                    existing,
                    cwd: std::env::current_dir().unwrap_or_default(),
                    stdout_inode: 0,
                    exchanges: Vec::new(),
                },
                tracee: None,
            });
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Error::Check {
                what: format!("start the store ({})", store.command_line()),
                expected: "a running process".to_string(),
                found: format!("error: {err}"),
                why: Some(
                    "check the --store command: the program must exist and be executable \
                     (a script needs its interpreter, e.g. \"python3 kvstore.py\")"
                        .to_string(),
                ),
            })?;
        let stdin = child.stdin.take();
        let stdout_pipe = child.stdout.take().expect("stdout is piped");
        if let Some(traced) = traced.as_mut() {
            traced.run.stdout_inode = pipe_inode(&stdout_pipe);
        }
        let stdout = lines_of(stdout_pipe, Ok, Err);
        let stderr = lines_of(
            child.stderr.take().expect("stderr is piped"),
            |line| line,
            |err| format!("(error reading stderr: {err})"),
        );
        let mut running = Running {
            dir: dir.to_path_buf(),
            child,
            traced,
            stdin,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
            stderr_unshown: 0,
            ready: String::new(),
            started_in: Duration::ZERO,
        };
        let what = format!("start the store on {}", dir.display());
        let line = running.next_line(&what, "a READY line", READY_TIMEOUT)?;
        match ready_text(&line) {
            Some(text) => {
                running.ready = text.to_string();
                running.started_in = spawned.elapsed();
                if let Some(traced) = running.traced.as_mut() {
                    traced.tracee = tracee_of(running.child.id());
                }
            }
            None => {
                return Err(running.fail(
                    &what,
                    "a READY line",
                    format!("{line:?}"),
                    Some(
                        "the first line on stdout must be READY (after recovery); \
                         print logs to stderr, never to stdout",
                    ),
                ));
            }
        }
        Ok(running)
    }

    /// The store's process id (under strace, strace's child).
    pub fn pid(&self) -> u32 {
        self.traced
            .as_ref()
            .and_then(|traced| traced.tracee)
            .unwrap_or_else(|| self.child.id())
    }

    /// Sends `request` and returns its reply.
    pub fn request(&mut self, request: &Request) -> Result<Reply> {
        self.send(request)?;
        let what = format!("reply to {request}");
        let line = self.next_line(&what, "one reply line", REPLY_TIMEOUT)?;
        Reply::parse(&line).map_err(|_| {
            self.fail(
                &what,
                "OK, VALUE v, NOT_FOUND or ERR message",
                format!("{line:?}"),
                Some("stdout carries replies only, one per request; print logs to stderr"),
            )
        })
    }

    /// Sends a write (`PUT`, `DEL`, `WALPUT`), checks that it is `OK`, and
    /// returns what it changed in the store's directory by the time the
    /// `OK` arrived.
    pub fn expect_ok(&mut self, request: &Request) -> Result<Vec<FileChange>> {
        let before = DirState::read(&self.dir)?;
        match self.request(request)? {
            Reply::Ok => {}
            other => {
                return Err(self.fail(
                    &format!("reply to {request}"),
                    "OK",
                    other.to_string(),
                    None,
                ));
            }
        }
        let after = DirState::read(&self.dir)?;
        let changes = before.changes(&after);
        if let Some(exchange) = self
            .traced
            .as_mut()
            .and_then(|traced| traced.run.exchanges.last_mut())
        {
            exchange.around = Some((before, after));
        }
        Ok(changes)
    }

    /// `GET key`: `Some(value)` or `None` for `NOT_FOUND`.
    pub fn get(&mut self, key: &str) -> Result<Option<String>> {
        let request = Request::Get {
            key: key.to_string(),
        };
        match self.request(&request)? {
            Reply::Value(value) => Ok(Some(value)),
            Reply::NotFound => Ok(None),
            other => Err(self.fail(
                &format!("reply to {request}"),
                "VALUE v or NOT_FOUND",
                other.to_string(),
                None,
            )),
        }
    }

    /// Sends `CRASH` and waits for the store to exit without a reply.
    pub fn crash(mut self) -> Result<Ended> {
        self.send(&Request::Crash)?;
        let status = self.wait_exit("CRASH", "the store to exit at once, without a reply")?;
        let printed: Vec<String> = self.stdout.try_iter().filter_map(|l| l.ok()).collect();
        if let Some(line) = printed.first() {
            return Err(self.fail(
                "CRASH",
                "no reply (the store exits at once)",
                format!("{line:?} before it exited ({status})"),
                Some("CRASH means _exit(1) at once: no reply, no cleanup, no flush"),
            ));
        }
        Ok(self.ended(status))
    }

    /// Sends `request`, waits for its `OK`, and kills the store with SIGKILL
    /// the moment the reply arrives: the real crash. Returns how it ended
    /// and what the write changed on disk.
    pub fn kill_after_ok(mut self, request: &Request) -> Result<(Ended, Vec<FileChange>)> {
        let changes = self.expect_ok(request)?;
        let pid = self.pid();
        self.sigkill_store()
            .doing(format!("send SIGKILL to the store (PID {pid})"))?;
        let status = self.wait_exit("SIGKILL", "the store to die of SIGKILL")?;
        Ok((self.ended(status), changes))
    }

    /// SIGKILL to the store itself: under strace, to the tracee (strace
    /// then reports its death, ends with the same signal and flushes the
    /// trace).
    ///
    /// A store started through a wrapper (a shell script without `exec`,
    /// `cargo run`, `go run`) runs as a grandchild: its descendants die
    /// with it, or the "crash" would kill only the wrapper.
    fn sigkill_store(&mut self) -> io::Result<()> {
        match self.traced.as_ref().and_then(|traced| traced.tracee) {
            Some(tracee) => {
                let mut pids = descendants(tracee);
                pids.push(tracee);
                sigkill(&pids)
            }
            None => {
                let pids = descendants(self.child.id());
                if !pids.is_empty() {
                    sigkill(&pids)?;
                }
                self.child.kill()
            }
        }
    }

    /// Closes the store's input and checks that it exits with status 0.
    pub fn close(mut self) -> Result<Ended> {
        drop(self.stdin.take());
        let status = self.wait_exit("end of input", "the store to exit with status 0")?;
        if !status.success() {
            return Err(self.fail(
                "exit at the end of input",
                "exit status 0",
                status.to_string(),
                Some("when its stdin ends, a store exits normally with status 0"),
            ));
        }
        Ok(self.ended(status))
    }

    /// Kills the store (if it still runs) and returns the stderr lines not
    /// handed out yet, all of them: the pipe is read to its end.
    pub fn stop_and_take_stderr(&mut self) -> Vec<String> {
        self.reap();
        self.collect_stderr_until_closed();
        let rest = self.stderr_seen[self.stderr_unshown..].to_vec();
        self.stderr_unshown = self.stderr_seen.len();
        rest
    }

    /// The stderr lines that arrived since the last call, in order.
    pub fn new_stderr(&mut self) -> Vec<String> {
        self.collect_stderr();
        let new = self.stderr_seen[self.stderr_unshown..].to_vec();
        self.stderr_unshown = self.stderr_seen.len();
        new
    }

    fn send(&mut self, request: &Request) -> Result<()> {
        if let Some(traced) = self.traced.as_mut() {
            traced.run.exchanges.push(Exchange {
                request: request.clone(),
                around: None,
            });
        }
        let sent = match self.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{request}").and_then(|()| stdin.flush()),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        };
        sent.map_err(|err| {
            let found = match self.child.try_wait() {
                Ok(Some(status)) => format!("the store had exited ({status})"),
                _ => format!("error: {err}"),
            };
            self.fail(
                &format!("send {request}"),
                "the store reading its input",
                found,
                None,
            )
        })
    }

    /// The next stdout line, within `timeout`.
    fn next_line(&mut self, what: &str, expected: &str, timeout: Duration) -> Result<String> {
        match self.stdout.recv_timeout(timeout) {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(err)) => Err(self.fail(what, expected, format!("a read error: {err}"), None)),
            Err(RecvTimeoutError::Timeout) => {
                let found = format!(
                    "nothing after {} s (the store was still running; killed)",
                    timeout.as_secs()
                );
                Err(self.fail(what, expected, found, Some("every reply must be flushed at once (a pipe is block-buffered: flush stdout after each line)")))
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The pipe closes when the store exits; give it the reply
                // bound to do so before calling it a store that closed its
                // stdout and went on running.
                let found = match self.child.wait_timeout(REPLY_TIMEOUT) {
                    Ok(Some(status)) => format!("the store exited ({status}) without printing it"),
                    _ => "the store closed its stdout without printing it (still running; killed)"
                        .to_string(),
                };
                Err(self.fail(what, expected, found, None))
            }
        }
    }

    /// Waits up to [`REPLY_TIMEOUT`] for the process to end.
    fn wait_exit(&mut self, what: &str, expected: &str) -> Result<ExitStatus> {
        match self.child.wait_timeout(REPLY_TIMEOUT) {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(self.fail(
                what,
                expected,
                format!("still running after {} s (killed)", REPLY_TIMEOUT.as_secs()),
                None,
            )),
            Err(err) => Err(Error::Operation {
                doing: format!("wait for the store (PID {}) to exit", self.pid()),
                error: Box::new(err),
            }),
        }
    }

    /// A failed check about this store: kills it, and adds what it said on
    /// stderr to `found`.
    fn fail(&mut self, what: &str, expected: &str, found: String, why: Option<&str>) -> Error {
        self.reap();
        self.collect_stderr_until_closed();
        let tail = stderr_excerpt(&self.stderr_seen);
        let found = if tail.is_empty() {
            found
        } else {
            format!(
                "{found}; the store's stderr ended with: {}",
                tail.join(" | ")
            )
        };
        Error::Check {
            what: what.to_string(),
            expected: expected.to_string(),
            found,
            why: why.map(str::to_string),
        }
    }

    /// Kills the process if it still runs and waits for it. Under strace,
    /// the store first: a tracer killed alone leaves its tracee running.
    fn reap(&mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.to_string();
        }
        // The store and everything it started, before its parent: a tracer
        // or wrapper killed alone leaves its children running.
        let pids = descendants(self.child.id());
        if !pids.is_empty() {
            let _ = sigkill(&pids);
        }
        let _ = self.child.kill();
        self.child
            .wait()
            .map_or_else(|err| format!("unknown: {err}"), |status| status.to_string())
    }

    fn collect_stderr(&mut self) {
        self.stderr_seen.extend(self.stderr.try_iter());
    }

    /// After the process ended: the rest of its stderr, up to a bound (a
    /// grandchild may still hold the pipe open).
    fn collect_stderr_until_closed(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(_) => break,
            }
        }
    }

    fn ended(mut self, status: ExitStatus) -> Ended {
        self.collect_stderr_until_closed();
        let stderr = self.stderr_seen[self.stderr_unshown..].to_vec();
        Ended { status, stderr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A store left behind by a failed check must not outlive the drill.
        self.reap();
        if let Some(traced) = self.traced.take() {
            traced.recorder.finished(traced.run);
        }
    }
}

/// The inode of a pipe, as strace names it (`pipe:[INODE]`).
fn pipe_inode(pipe: &impl std::os::fd::AsRawFd) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", pipe.as_raw_fd())).map_or(0, |meta| meta.ino())
}

/// The first child of process `pid`: under strace, the store.
fn tracee_of(pid: u32) -> Option<u32> {
    children(pid).into_iter().next()
}

/// The children of `pid`, from every thread's `children` file.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Every descendant of `pid`, deepest last; bounded, since pids can be
/// reused while we walk.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        for child in children(next) {
            if found.len() < 1024 && !found.contains(&child) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

/// SIGKILL to processes that are not our children (std can only kill its
/// own children; `unsafe` is forbidden, so no libc): the `kill` program,
/// or the shell's built-in `kill` where there is no such program.
fn sigkill(pids: &[u32]) -> io::Result<()> {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let run = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .args(&pids)
            .stderr(Stdio::null())
            .status()
    };
    let status = match run("kill", &["-KILL"]) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            run("sh", &["-c", "kill -KILL \"$@\"", "sh"])?
        }
        other => other?,
    };
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill -KILL {}: {status}",
            pids.join(" ")
        )))
    }
}

/// How a store process ended, and the stderr lines not shown yet.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    pub stderr: Vec<String>,
}

impl Ended {
    /// Whether SIGKILL ended it.
    pub fn killed_by_sigkill(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            self.status.signal() == Some(9)
        }
        #[cfg(not(unix))]
        {
            !self.status.success()
        }
    }
}

/// The part of a store's stderr a failure quotes: a Rust panic's message
/// (not the backtrace after it, which `RUST_BACKTRACE` may add), else the
/// last lines, where a traceback ends with its exception.
fn stderr_excerpt(lines: &[String]) -> Vec<&str> {
    if let Some(panic) = lines.iter().position(|line| line.contains("panicked at")) {
        return lines[panic..]
            .iter()
            .take(3)
            .take_while(|line| !line.starts_with("stack backtrace:"))
            .map(String::as_str)
            .collect();
    }
    let start = lines.len().saturating_sub(STDERR_TAIL);
    lines[start..].iter().map(String::as_str).collect()
}

/// Reads `pipe` line by line on a thread; each line (or read error) goes
/// through `line`/`error` into the returned channel, which disconnects at
/// the end of the pipe.
fn lines_of<T: Send + 'static>(
    pipe: impl Read + Send + 'static,
    line: fn(String) -> T,
    error: fn(io::Error) -> T,
) -> Receiver<T> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for read in BufReader::new(pipe).lines() {
            let item = match read {
                Ok(text) => line(text),
                Err(err) => error(err),
            };
            if sender.send(item).is_err() {
                break;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_panic_is_quoted_without_its_backtrace() {
        let stderr = lines(
            "starting\nthread 'main' panicked at src/main.rs:94:9:\nnot yet implemented: w09-l07: replay\nstack backtrace:\n   0: frame",
        );
        assert_eq!(
            stderr_excerpt(&stderr),
            [
                "thread 'main' panicked at src/main.rs:94:9:",
                "not yet implemented: w09-l07: replay"
            ]
        );
    }

    #[test]
    fn otherwise_the_last_lines_are_quoted() {
        let stderr: Vec<String> = (0..20).map(|n| format!("line {n}")).collect();
        let excerpt = stderr_excerpt(&stderr);
        assert_eq!(excerpt.len(), STDERR_TAIL);
        assert_eq!(excerpt.last(), Some(&"line 19"));
    }
}
