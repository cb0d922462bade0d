//! A store under test, running: the tester's side of the store protocol.
//!
//! Every wait is bounded. The store has [`READY_TIMEOUT`] to recover and say
//! `READY`, and [`REPLY_TIMEOUT`] for each reply; a store that hangs, exits
//! early or prints something that is not a reply is killed, and the check
//! that was waiting fails, quoting what the store printed and the last lines
//! of its stderr. The store's stdout and stderr are read on their own
//! threads, so that the tester waits on a channel with a deadline instead
//! of blocking in `read`.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use store_protocol::{Reply, Request, ready_text};
use wait_timeout::ChildExt;

use crate::check::{Error, Result};
use crate::cost;
use crate::escape::shown;
use crate::files::{DirState, FileChange, Pin};
use crate::launch::{Launched, launch};
use crate::pipes::{self, Line, Stderr};
use crate::store::Store;
use crate::traces::{Exchange, Recorder, TracedRun};
use crate::tree;

mod waiting;

/// How long a store may take to recover and print `READY`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a store may take to answer one request, or to exit after
/// `CRASH` or the end of its input.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long strace may take to finish its record once its tracees died.
const TRACER_EXIT: Duration = Duration::from_secs(5);

/// A store process started on a directory, past its `READY` line.
///
/// When the store is recorded for the power-loss check, the child is
/// `strace`, and the store is strace's child (the *tracee*): signals go to
/// the store's tree, never to strace, which ends once its tracees did and
/// hands its record to the recorder.
pub struct Running {
    pin: Pin,
    child: Child,
    /// Whether `child` is strace.
    tracer: bool,
    traced: Option<(Arc<Recorder>, TracedRun)>,
    /// Under strace, the store's own pid, known once it said `READY`.
    tracee: Option<u32>,
    stdin: Option<ChildStdin>,
    stdout: Receiver<io::Result<Line>>,
    stderr: Stderr,
    /// Every stderr line received so far (bounded by the reader's caps).
    stderr_seen: Vec<String>,
    /// Lines received but not yet handed out by [`Running::new_stderr`].
    stderr_unshown: usize,
    /// How many dropped stderr lines were already said.
    stderr_dropped_said: u64,
    /// How the child ended, once it was reaped.
    reaped: Option<String>,
    /// The free text of its `READY` line.
    pub ready: String,
    /// How long it took from the spawn to `READY`.
    pub started_in: Duration,
    /// The memory it had in use at `READY` ([`cost::memory_in_use`]).
    pub memory_at_ready: Option<u64>,
    /// Its memory, sampled while it recovers.
    sampler: cost::Sampler,
    /// What the same store's start on an empty directory cost, when known:
    /// what a failed start's cost is compared with.
    empty: Option<cost::StartCost>,
    /// The drill's memory limit on the store, in MiB (`--limit-memory`),
    /// when it runs confined.
    memory_limit_mib: Option<u64>,
}

impl Running {
    /// Starts `store` on `dir` and waits for its `READY` line.
    pub fn start(store: &Store, dir: &Path) -> Result<Running> {
        Running::start_compared(store, dir, None)
    }

    /// [`Running::start`], where a failed start's memory is compared with
    /// `empty`, what the same store's start on an empty directory cost.
    pub fn start_compared(
        store: &Store,
        dir: &Path,
        empty: Option<cost::StartCost>,
    ) -> Result<Running> {
        let spawned = Instant::now();
        let pin = Pin::new(dir)?;
        let Launched {
            mut child,
            tracer,
            mut traced,
        } = launch(store, dir)?;
        let stdin = child.stdin.take();
        let stdout_pipe = child.stdout.take().expect("stdout is piped");
        if let Some((_, run)) = traced.as_mut() {
            run.stdout_inode = pipe_inode(&stdout_pipe);
        }
        let stdout = pipes::stdout_lines(stdout_pipe);
        let stderr = pipes::stderr_lines(child.stderr.take().expect("stderr is piped"));
        let sampler = cost::Sampler::new(child.id(), tracer);
        let mut running = Running {
            pin,
            child,
            tracer,
            traced,
            tracee: None,
            stdin,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
            stderr_unshown: 0,
            stderr_dropped_said: 0,
            reaped: None,
            ready: String::new(),
            started_in: Duration::ZERO,
            memory_at_ready: None,
            sampler,
            empty,
            memory_limit_mib: store
                .confinement()
                .map(|confinement| confinement.limits.memory_mib),
        };
        let what = format!("start the store on {}", crate::escape::path(dir));
        let line = running.next_line(&what, "a READY line", READY_TIMEOUT)?;
        match ready_text(&line.text).filter(|_| line.cut == 0) {
            Some(text) => {
                running.ready = text.to_string();
                running.started_in = spawned.elapsed();
                if running.tracer {
                    running.tracee = tree::children(running.child.id()).into_iter().next();
                }
                running.memory_at_ready = cost::memory_in_use(running.pid());
                running.sampler.add(running.memory_at_ready);
            }
            None => {
                return Err(running.fail(
                    &what,
                    "a READY line",
                    line.quoted(),
                    Some(
                        "the first line on stdout must be READY (after recovery); \
                         print logs to stderr, never to stdout",
                    ),
                ));
            }
        }
        Ok(running)
    }

    /// What its start cost: the time to `READY`, and the peak memory of its
    /// processes sampled during recovery.
    pub fn cost(&self) -> cost::StartCost {
        cost::StartCost {
            time: self.started_in,
            memory: self.sampler.peak(),
        }
    }

    /// The store's process id (under strace, strace's child).
    pub fn pid(&self) -> u32 {
        self.tracee.unwrap_or_else(|| self.child.id())
    }

    /// The store's directory, pinned: reading it checks that it is still
    /// the folder the store started on.
    pub fn pin(&self) -> &Pin {
        &self.pin
    }

    /// Sends `request` and returns its reply.
    pub fn request(&mut self, request: &Request) -> Result<Reply> {
        self.send(request)?;
        let what = format!("reply to {request}");
        let line = self.next_line(&what, "one reply line", REPLY_TIMEOUT)?;
        let reply = Reply::parse(&line.text).ok().filter(|_| line.cut == 0);
        if let (Some(Reply::Ok), Some((_, run))) = (&reply, self.traced.as_mut()) {
            run.oks_received += 1;
        }
        reply.ok_or_else(|| {
            self.fail(
                &what,
                "OK, VALUE v, NOT_FOUND or ERR message",
                line.quoted(),
                Some("stdout carries replies only, one per request; print logs to stderr"),
            )
        })
    }

    /// Sends a write (`PUT`, `DEL`, `WALPUT`), checks that it is `OK`, and
    /// returns what it changed in the store's directory by the time the
    /// `OK` arrived.
    pub fn expect_ok(&mut self, request: &Request) -> Result<Vec<FileChange>> {
        let before = self.read_dir()?;
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
        let after = self.read_dir()?;
        let changes = before.changes(&after);
        if let Some(exchange) = self
            .traced
            .as_mut()
            .and_then(|(_, run)| run.exchanges.last_mut())
        {
            exchange.around = Some((before, after));
        }
        Ok(changes)
    }

    /// The store's directory now; a failure kills the store.
    fn read_dir(&mut self) -> Result<DirState> {
        self.pin.read().inspect_err(|_| {
            self.reap();
        })
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

    /// Sends `CRASH` and waits for the store to exit without a reply; a
    /// process it leaves running is a defect of its own.
    pub fn crash(mut self) -> Result<Ended> {
        self.send(&Request::Crash)?;
        let store_gone = match self.tracee {
            // Under strace, the store is not our child: watch it end.
            Some(tracee) => {
                let deadline = Instant::now() + REPLY_TIMEOUT;
                while tree::is_running(tracee) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
                !tree::is_running(tracee)
            }
            None if self.tracer => false,
            None => matches!(self.child.wait_timeout(REPLY_TIMEOUT), Ok(Some(_))),
        };
        let left = if store_gone {
            self.left_running()
        } else {
            Vec::new()
        };
        // A process that named itself is the one to blame (an intermediate
        // of a double fork may be gone by now).
        let named = left
            .iter()
            .map(|&pid| (pid, tree::command_of(pid)))
            .find(|(_, command)| !command.is_empty())
            .or_else(|| left.first().map(|&pid| (pid, String::new())));
        if let Some((pid, command)) = named {
            return Err(self.fail(
                "CRASH",
                "the store and every process it started gone at once",
                format!("the store left PID {pid} (`{command}`) running after CRASH"),
                Some("CRASH means _exit(1) at once: a process the store started must not outlive it (it could go on writing after the crash)"),
            ));
        }
        let status = self.wait_exit("CRASH", "the store to exit at once, without a reply")?;
        let printed: Vec<Line> = self.stdout.try_iter().filter_map(|l| l.ok()).collect();
        if let Some(line) = printed.first() {
            return Err(self.fail(
                "CRASH",
                "no reply (the store exits at once)",
                format!("{} before it exited ({status})", line.quoted()),
                Some("CRASH means _exit(1) at once: no reply, no cleanup, no flush"),
            ));
        }
        Ok(self.ended(status))
    }

    /// The processes of the store's tree that still run, besides strace.
    fn left_running(&self) -> Vec<u32> {
        let mut left: Vec<u32> = self
            .groups()
            .into_iter()
            .flat_map(tree::group_members)
            .chain(tree::orphans())
            .filter(|&pid| !(self.tracer && pid == self.child.id()))
            .collect();
        left.sort_unstable();
        left.dedup();
        left
    }

    /// The process groups the store's processes start in: the store's own
    /// (its launcher leads one), and the group the drill started it in.
    fn groups(&self) -> Vec<u32> {
        let mut groups = vec![self.child.id()];
        groups.extend(self.tracee);
        groups
    }

    /// Sends `request`, waits for its `OK`, and kills the store with SIGKILL
    /// the moment the reply arrives: the real crash. Returns how it ended
    /// and what the write changed on disk.
    pub fn kill_after_ok(mut self, request: &Request) -> Result<(Ended, Vec<FileChange>)> {
        let changes = self.expect_ok(request)?;
        // The store's whole tree: a store started through a wrapper (a
        // shell script without `exec`, `cargo run`) runs as a grandchild,
        // and a crash of the wrapper alone would leave it running. Under
        // strace, strace is spared: it sees the store die, ends with the
        // same signal and finishes its record.
        self.end_store_tree();
        let status = self.wait_exit("SIGKILL", "the store to die of SIGKILL")?;
        Ok((self.ended(status), changes))
    }

    /// SIGKILL to every process of the store's tree but strace.
    fn end_store_tree(&mut self) {
        let spare = self.tracer.then(|| self.child.id());
        if self.tracer && self.tracee.is_none() {
            self.tracee = tree::children(self.child.id()).into_iter().next();
        }
        for group in self.groups() {
            tree::end_tree(group, spare);
        }
        if let Some(tracee) = self.tracee {
            let _ = tree::sigkill(tracee);
            for pid in tree::descendants(tracee) {
                let _ = tree::sigkill(pid);
            }
        }
        if !self.tracer {
            let _ = self.child.kill();
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
        self.take_unshown()
    }

    /// The stderr lines that arrived since the last call, in order.
    pub fn new_stderr(&mut self) -> Vec<String> {
        self.collect_stderr();
        self.take_unshown()
    }

    /// The lines not handed out yet, then how many were not kept.
    fn take_unshown(&mut self) -> Vec<String> {
        let mut new = self.stderr_seen[self.stderr_unshown..].to_vec();
        self.stderr_unshown = self.stderr_seen.len();
        let dropped = self.stderr.dropped.load(Ordering::Relaxed);
        if dropped > self.stderr_dropped_said {
            new.push(format!(
                "... {} more lines (the drill keeps the first {} lines or {} KiB of each start)",
                dropped - self.stderr_dropped_said,
                pipes::MAX_STDERR_LINES,
                pipes::MAX_STDERR_BYTES >> 10
            ));
            self.stderr_dropped_said = dropped;
        }
        new
    }

    fn send(&mut self, request: &Request) -> Result<()> {
        if let Some((_, run)) = self.traced.as_mut() {
            run.exchanges.push(Exchange {
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
        let tail = cost::stderr_excerpt(&self.stderr_seen);
        let found = if tail.is_empty() {
            shown(&found).into_owned()
        } else {
            format!(
                "{}; the store's stderr ended with: {}",
                shown(&found),
                shown(&tail.join(" | "))
            )
        };
        Error::Check {
            what: what.to_string(),
            expected: expected.to_string(),
            found,
            why: why.map(str::to_string),
        }
    }

    /// Ends the store's whole tree and reaps the child. Under strace, the
    /// store's processes first, then strace is given its bound to finish
    /// the record (a tracer killed first leaves it cut short).
    fn reap(&mut self) -> String {
        if let Some(status) = &self.reaped {
            return status.clone();
        }
        self.end_store_tree();
        let status = if self.tracer {
            match self.child.wait_timeout(TRACER_EXIT) {
                Ok(Some(status)) => Ok(status),
                _ => {
                    let _ = self.child.kill();
                    self.child.wait()
                }
            }
        } else {
            self.child.wait()
        };
        tree::forget(self.child.id());
        // Orphans handed back while strace ended.
        tree::end_orphans();
        let status =
            status.map_or_else(|err| format!("unknown: {err}"), |status| status.to_string());
        self.reaped = Some(status.clone());
        status
    }

    fn collect_stderr(&mut self) {
        self.stderr_seen.extend(self.stderr.lines.try_iter());
    }

    /// After the process ended: the rest of its stderr, up to a bound (a
    /// grandchild may still hold the pipe open).
    fn collect_stderr_until_closed(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.lines.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(_) => break,
            }
        }
    }

    fn ended(mut self, status: ExitStatus) -> Ended {
        self.collect_stderr_until_closed();
        let stderr = self.take_unshown();
        Ended { status, stderr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A store left behind by a failed check must not outlive the drill,
        // nor anything it started.
        self.reap();
        if let Some((recorder, run)) = self.traced.take() {
            recorder.finished(run);
        }
    }
}

/// The inode of a pipe, as strace names it (`pipe:[INODE]`).
fn pipe_inode(pipe: &impl std::os::fd::AsRawFd) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", pipe.as_raw_fd())).map_or(0, |meta| meta.ino())
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
