//! Running many independent cases (a store restarted on each of hundreds of
//! damaged copies of its directory) on a few threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use crate::check::Result;

/// How many cases run at once: store processes spend most of their time
/// starting up and waiting on the disk, so a few more than the cores.
pub fn workers() -> usize {
    thread::available_parallelism()
        .map_or(2, |cores| cores.get() * 2)
        .clamp(2, 8)
}

/// Runs `run` on every case, on [`workers`] threads, and returns the
/// outcomes in the cases' order; at the first failure no new case starts.
///
/// The error returned is the failure of the lowest-numbered case, the same
/// one a run on one thread would return: every case below a failed one was
/// claimed before it, and claimed cases always finish.
pub fn run_all<C: Sync, O: Send>(
    cases: &[C],
    run: impl Fn(&C) -> Result<O> + Sync,
) -> Result<Vec<O>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<O>>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    thread::scope(|scope| {
        for _ in 0..workers().min(cases.len()) {
            scope.spawn(|| {
                while !failed.load(Ordering::SeqCst) {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(index) else { break };
                    let outcome = run(case);
                    if outcome.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(outcome);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut outcomes = Vec::with_capacity(cases.len());
    for result in results {
        match result {
            Some(Ok(outcome)) => outcomes.push(outcome),
            Some(Err(err)) => return Err(err),
            // Not started because an earlier case failed; that failure
            // comes first in this loop.
            None => unreachable!("a case was skipped without an earlier failure"),
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::expect;

    #[test]
    fn outcomes_keep_the_cases_order() {
        let cases: Vec<u32> = (0..100).collect();
        let doubled = run_all(&cases, |&n| Ok(n * 2)).unwrap();
        assert_eq!(doubled, (0..100).map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_lowest_failing_case_is_reported() {
        let cases: Vec<u32> = (0..200).collect();
        for _ in 0..20 {
            let err = run_all(&cases, |&n| expect("case", n % 50 != 37, "fine", n))
                .unwrap_err()
                .to_string();
            assert_eq!(err, "case: expected fine, found 37");
        }
    }
}
