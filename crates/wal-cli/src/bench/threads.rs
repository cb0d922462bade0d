//! Group commit: threads calling `KvStore::put` under sync always share
//! fsyncs, so more threads make more puts per second on the same disk.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use anyhow::{Result, anyhow};
use wal::KvStore;

use super::Plan;
use super::figure::Figure;
use super::workload::{ScratchDir, median, per_second, value};

/// Thread counts the figure is measured at.
pub const THREADS: [usize; 3] = [1, 4, 16];

/// Values of 1 KiB; keys of 12 bytes like every other benchmark record, so
/// one thread's rate compares with the 1 KiB `write` + `sync_data` loop.
const VALUE_LEN: usize = 1024;

/// Synced puts per second for each of [`THREADS`]: one thread against
/// `raw_sync_rate` (the `write` + `sync_data` loop at 1 KiB), more threads
/// against one thread.
pub fn group_commit(dir: &ScratchDir, plan: &Plan, raw_sync_rate: f64) -> Result<Vec<Figure>> {
    let mut figures: Vec<Figure> = Vec::new();
    for threads in THREADS {
        let mut rates = Vec::new();
        for _ in 0..plan.rounds {
            let path = dir.file("group.wal")?;
            let store = Arc::new(KvStore::create(&path)?);
            rates.push(puts_per_second(&store, threads, plan)?);
        }
        let rate = median(rates);
        let name = match threads {
            1 => "group_commit/1_thread".to_string(),
            n => format!("group_commit/{n}_threads"),
        };
        let figure = match figures.first() {
            None => Figure::rate(
                name,
                rate,
                "puts/s",
                raw_sync_rate,
                "write + sync_data loop",
            ),
            Some(one) => Figure::rate(name, rate, "puts/s", one.value, "1 thread"),
        };
        figures.push(if threads == 16 {
            figure.target(4.0)
        } else {
            figure
        });
    }
    Ok(figures)
}

/// Runs `threads` threads putting into `store` for `plan.group_window`;
/// every put is fsync'd before it returns.
fn puts_per_second(store: &Arc<KvStore>, threads: usize, plan: &Plan) -> Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let start_line = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let (store, stop, start_line) = (store.clone(), stop.clone(), start_line.clone());
            std::thread::spawn(move || -> wal::Result<u64> {
                let value = value(VALUE_LEN);
                start_line.wait();
                let mut puts = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    store.put(format!("k{thread:02}-{puts:08}"), &value)?;
                    puts += 1;
                }
                Ok(puts)
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    // The measurement window: how long the threads run, not a wait for them.
    std::thread::sleep(plan.group_window);
    stop.store(true, Ordering::Relaxed);
    let mut total = 0u64;
    for handle in handles {
        total += handle
            .join()
            .map_err(|_| anyhow!("a putting thread panicked"))??;
    }
    Ok(per_second(total as f64, start.elapsed()))
}
