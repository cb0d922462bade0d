//! Waiting for a store's next line: before `READY`, with its memory
//! sampled meanwhile ([`cost::Sampler`]), and a failed wait explained by
//! what the store did (buffered its stdout, still recovering, ran out of
//! memory).

use std::io;
use std::process::ExitStatus;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use super::{REPLY_TIMEOUT, Running};
use crate::check::{Error, Result};
use crate::cost;
use crate::pipes::Line;

impl Running {
    /// The next stdout line, within `timeout`. Before `READY`, the store's
    /// memory is sampled while the drill waits.
    pub(super) fn next_line(
        &mut self,
        what: &str,
        expected: &str,
        timeout: Duration,
    ) -> Result<Line> {
        let before_ready = self.started_in.is_zero();
        match self.receive(timeout, before_ready) {
            Ok(Ok(line)) => {
                if let Some((_, run)) = self.traced.as_mut() {
                    run.lines_received += 1;
                }
                Ok(line)
            }
            Ok(Err(err)) => Err(self.fail(what, expected, format!("a read error: {err}"), None)),
            Err(RecvTimeoutError::Timeout) => {
                let found = format!(
                    "nothing after {} s (the store was still running; killed)",
                    timeout.as_secs()
                );
                // What it holds now, before it is killed.
                let memory = before_ready
                    .then(|| {
                        self.sampler.sample();
                        self.large_memory()
                    })
                    .flatten();
                let mut err = self.fail(what, expected, found, Some(cost::FLUSH_EACH_LINE));
                // Said on stderr, silent on stdout: recovery, not a buffer.
                if before_ready
                    && !self.stderr_seen.is_empty()
                    && let Error::Check { why, .. } = &mut err
                {
                    *why = Some(cost::still_recovering(timeout, memory.as_deref()));
                }
                Err(err)
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The pipe closes when the store exits; give it the reply
                // bound to do so before calling it a store that closed its
                // stdout and went on running.
                let status = self.child.wait_timeout(REPLY_TIMEOUT).ok().flatten();
                let found = match status {
                    Some(status) => format!("the store exited ({status}) without printing it"),
                    None => {
                        "the store closed its stdout without printing it (still running; killed)"
                            .to_string()
                    }
                };
                let mut err = self.fail(what, expected, found, None);
                let out_of_memory = self.out_of_memory(before_ready, status);
                if let Some(out_of_memory) = out_of_memory
                    && let Error::Check { why, .. } = &mut err
                {
                    *why = Some(out_of_memory);
                }
                Err(err)
            }
        }
    }

    /// The next stdout line, within `timeout`; when `sample`, the store's
    /// memory is sampled every [`cost::SAMPLE_EVERY`] meanwhile.
    fn receive(
        &mut self,
        timeout: Duration,
        sample: bool,
    ) -> std::result::Result<io::Result<Line>, RecvTimeoutError> {
        if !sample {
            return self.stdout.recv_timeout(timeout);
        }
        let deadline = Instant::now() + timeout;
        loop {
            self.sampler.sample();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left.min(cost::SAMPLE_EVERY)) {
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {}
                received => return received,
            }
        }
    }

    /// Why a store that ended before `READY` did, when it ran out of memory:
    /// its stderr says so (with the figure when its memory was large: an
    /// allocation refused at once left none), or it died of a signal with
    /// its memory near the drill's limit. `None` otherwise (after `READY`
    /// too: no sampling).
    fn out_of_memory(&mut self, before_ready: bool, status: Option<ExitStatus>) -> Option<String> {
        if cost::ran_out_of_memory(&self.stderr_seen) {
            return Some(match before_ready.then(|| self.large_memory()).flatten() {
                Some(figure) => format!("{figure}: {}", cost::OUT_OF_MEMORY),
                None => cost::OUT_OF_MEMORY.to_string(),
            });
        }
        let (used, figure) = before_ready.then(|| self.memory_figure()).flatten()?;
        let signal = cost::out_of_memory_signal(&status?)?;
        let limit = self.memory_limit_mib?;
        cost::near_limit(used, limit).then(|| cost::killed_out_of_memory(&figure, signal, limit))
    }

    /// The peak memory sampled, with its figure ([`cost::memory_figure`]).
    fn memory_figure(&mut self) -> Option<(u64, String)> {
        let used = self.sampler.peak()?;
        let dir_bytes = self.pin.read().map_or(0, |state| state.bytes());
        let empty = self.empty.and_then(|empty| empty.memory);
        Some((used, cost::memory_figure(dir_bytes, used, empty)))
    }

    /// The figure of the peak memory sampled, when it is large: near the
    /// drill's limit, or far beyond an empty start's.
    fn large_memory(&mut self) -> Option<String> {
        let (used, figure) = self.memory_figure()?;
        let near = self
            .memory_limit_mib
            .is_some_and(|limit| cost::near_limit(used, limit));
        let costly = self
            .empty
            .and_then(|empty| empty.memory)
            .is_some_and(|empty| cost::costly_memory(used, empty));
        (near || costly).then_some(figure)
    }
}
