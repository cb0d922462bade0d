//! Writing full buffers on a second thread, for a log that is not synced
//! per append.
//!
//! Under [`crate::SyncPolicy::Never`] an append returns once its record is
//! buffered, and a full buffer goes to the kernel in one `write`. Done by
//! the appending thread, that write (the kernel copying the buffer into the
//! page cache and reserving its blocks) is half of a bulk load's time, and
//! the appender encodes nothing meanwhile. Here a helper thread writes full
//! buffers while the appender fills the next, as PostgreSQL's WAL writer
//! writes the WAL of asynchronous commits in the background.
//!
//! A few writes may be in flight ([`DEPTH`]): with one, the two threads
//! take turns more than they overlap, each waking the other for every
//! buffer. The buffers go round, handed back once written. A failed write
//! is known at the first hand-over that finds it finished (at most
//! [`DEPTH`] hand-overs later), or by any `sync` or drop, which wait for
//! every write first, and poisons the log then. The helper writes each
//! buffer where the log's end was when it was handed over, in order, so the
//! file receives the same writes as without it. It ends when the log is
//! dropped, after the last write.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use crate::awake_wait::AwakeWait;
use crate::log_file::LogFile;

/// Writes in flight at most.
const DEPTH: usize = 4;

/// A buffer to write and where.
struct Job {
    buffer: Vec<u8>,
    at: u64,
}

/// The appender's side of the helper thread.
pub(crate) struct WriteBehind {
    jobs: Option<Sender<Job>>,
    done: Receiver<(Vec<u8>, io::Result<()>)>,
    helper: Option<JoinHandle<()>>,
    in_flight: usize,
    /// Written buffers, emptied, to fill again.
    free: VecDeque<Vec<u8>>,
    /// The first failed write, until the writer collects it.
    failed: Option<io::Error>,
    /// How the appender waits for a write, when it is the faster one.
    waiting: AwakeWait,
}

impl WriteBehind {
    /// Starts a helper writing to `file`, or `None` if no thread can be
    /// started (the caller then writes on its own).
    pub(crate) fn start<F: LogFile>(file: &Arc<F>) -> Option<WriteBehind> {
        let file = Arc::clone(file);
        let (jobs, job_rx) = channel::<Job>();
        let (done_tx, done) = channel();
        let helper = std::thread::Builder::new()
            // PostgreSQL's name for its own; a thread's name is at most
            // 15 bytes.
            .name("wal-writer".into())
            .spawn(move || {
                let mut waiting = AwakeWait::new();
                while let Some(Job { buffer, at }) = waiting.recv(&job_rx) {
                    let written = file.write_all_at(&buffer, at);
                    if done_tx.send((buffer, written)).is_err() {
                        return;
                    }
                }
            })
            .ok()?;
        Some(WriteBehind {
            jobs: Some(jobs),
            done,
            helper: Some(helper),
            in_flight: 0,
            free: Default::default(),
            failed: None,
            waiting: AwakeWait::new(),
        })
    }

    /// Hands `buffer` over to be written at `at` and returns an empty one
    /// to fill next, or the error of a write before it (then `buffer` is
    /// not written). Waits only while [`DEPTH`] writes are in flight.
    pub(crate) fn write(&mut self, buffer: Vec<u8>, at: u64) -> io::Result<Vec<u8>> {
        self.take_back(false)?;
        let jobs = self.jobs.as_ref().expect("sending until dropped");
        // The helper stops early only after a panic; the next collection
        // reports the write as failed then.
        let capacity = buffer.capacity();
        let _ = jobs.send(Job { buffer, at });
        self.in_flight += 1;
        Ok(self
            .free
            .pop_front()
            .unwrap_or_else(|| Vec::with_capacity(capacity)))
    }

    /// Waits for every write in flight; the first failure among them (or
    /// among earlier ones not yet reported) is returned.
    pub(crate) fn wait_all(&mut self) -> io::Result<()> {
        self.take_back(true)
    }

    /// Takes back the finished writes' buffers: every write in flight when
    /// `all`, else those already done, waiting only while [`DEPTH`] are in
    /// flight. Returns the first failure not yet reported.
    fn take_back(&mut self, all: bool) -> io::Result<()> {
        while self.in_flight > 0 {
            let done = if all || self.in_flight >= DEPTH {
                self.waiting.recv(&self.done)
            } else {
                match self.done.try_recv() {
                    Ok(done) => Some(done),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            self.in_flight -= 1;
            match done {
                Some((mut buffer, Ok(()))) => {
                    buffer.clear();
                    self.free.push_back(buffer);
                }
                Some((_, Err(err))) => {
                    self.failed.get_or_insert(err);
                }
                None => {
                    let ended = io::Error::other("the log's writing thread ended early");
                    self.failed.get_or_insert(ended);
                }
            }
        }
        self.failed.take().map_or(Ok(()), Err)
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        // The writer waits for the writes in flight before it drops this;
        // closing the channel ends the helper's loop.
        self.jobs = None;
        if let Some(helper) = self.helper.take() {
            let _ = helper.join();
        }
    }
}
