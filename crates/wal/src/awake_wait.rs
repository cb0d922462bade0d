//! How the log's helper threads wait for their next piece of work.
//!
//! A helper (reading ahead, writing behind) is usually faster than the
//! thread it serves and spends much of its time waiting for the next buffer.
//! Sleeping there costs twice on a machine like the one the figures in
//! BENCHMARKS.md come from: the other thread must wake the helper for every
//! buffer (a system call and an interrupt to the other core), and the
//! scheduler, seeing one thread wake another, tends to run the woken helper
//! on the waker's core, where the two take turns instead of overlapping
//! (measured: a write-behind load of 32-byte records fell to half the speed
//! of no helper at all, in some runs and not others). A helper that waits
//! awake, yielding its core to anything else runnable, keeps its own core
//! and needs no waking.
//!
//! The thread a helper serves waits for the helper the same way when it is
//! the faster of the two (a reader of large records, an appender of large
//! values): the same wake-ups, the other way round.
//!
//! Waiting awake for a thread that is slow for good (a reader whose caller
//! builds a map, a store appending a record now and then) would burn a core
//! for nothing, so a wait that outlasts [`AWAKE_WAIT`] ends asleep, and the
//! waits after it sleep at once until one finds work waiting.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// How long a helper waits awake before it sleeps: a few times what the
/// thread it serves takes over one buffer of small records.
const AWAKE_WAIT: Duration = Duration::from_micros(200);

/// One side's waiting on a channel between a thread and its helper.
pub(crate) struct AwakeWait {
    stay_awake: bool,
}

impl AwakeWait {
    pub(crate) fn new() -> AwakeWait {
        AwakeWait { stay_awake: true }
    }

    /// The next message, or `None` once every sender is gone.
    pub(crate) fn recv<T>(&mut self, rx: &Receiver<T>) -> Option<T> {
        let awake_until = Instant::now()
            + if self.stay_awake {
                AWAKE_WAIT
            } else {
                Duration::ZERO
            };
        loop {
            match rx.try_recv() {
                Ok(message) => {
                    self.stay_awake = true;
                    return Some(message);
                }
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) if Instant::now() < awake_until => {
                    std::thread::yield_now();
                }
                Err(TryRecvError::Empty) => {
                    self.stay_awake = false;
                    return rx.recv().ok();
                }
            }
        }
    }
}
