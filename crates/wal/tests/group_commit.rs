//! Threads appending through one log share fsyncs, and no append returns
//! before a sync covering its record: unique, contiguous LSNs, nothing lost,
//! and a store's map equal to a replay of its log.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{HeldSync, MemHandle, read_bytes, read_path, wait_until};
use wal::{KvStore, Op, SyncPolicy};

#[test]
fn appends_waiting_on_one_fsync_share_the_next() {
    const THREADS: u64 = 8;
    // The first fsync holds until the test lets it go.
    let held = HeldSync::new(false);
    let file = held.file.clone();
    let wal = Arc::new(file.wal(SyncPolicy::Always));
    let append = |i: u64| {
        let (wal, file) = (Arc::clone(&wal), file.clone());
        std::thread::spawn(move || {
            let lsn = wal
                .append(Op::Put, format!("k{i}").as_bytes(), b"v")
                .unwrap();
            // Acknowledged means covered by a finished fsync.
            let (synced, _) = read_bytes(&file.synced_bytes());
            assert!(
                synced.iter().any(|r| r.lsn == lsn),
                "LSN {lsn} acked before its fsync"
            );
            assert!(wal.durable_lsn() >= lsn);
            lsn
        })
    };
    let first = append(0);
    held.wait_until_held();
    let rest: Vec<_> = (1..THREADS).map(append).collect();
    wait_until("every append took its LSN", || wal.last_lsn() == THREADS);
    assert_eq!(
        wal.durable_lsn(),
        0,
        "nothing is durable while the fsync hangs"
    );
    held.release();
    let mut lsns = vec![first.join().unwrap()];
    lsns.extend(rest.into_iter().map(|t| t.join().unwrap()));
    assert_eq!(lsns[0], 1);
    lsns.sort_unstable();
    assert_eq!(lsns, (1..=THREADS).collect::<Vec<_>>());
    // One fsync for the first record, one shared by all the others.
    assert_eq!(file.syncs(), 2);
    assert_eq!(wal.durable_lsn(), THREADS);
    let (read, summary) = read_bytes(&file.synced_bytes());
    assert_eq!(read.len() as u64, THREADS);
    assert_eq!(summary.damage, None);
}

#[test]
fn concurrent_puts_and_deletes_through_one_store_survive_a_reopen() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    let store = Arc::new(KvStore::create(&path).unwrap());
    // A watcher checks that the durable LSN never goes back.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut seen = 0;
            while !done.load(Ordering::SeqCst) {
                let durable = store.wal().durable_lsn();
                assert!(durable >= seen, "durable LSN went from {seen} to {durable}");
                seen = durable;
                std::thread::yield_now();
            }
        })
    };
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut lsns = Vec::new();
                for i in 0..PER_THREAD {
                    // Own keys, plus a few keys every thread fights over.
                    let own = format!("t{t}-{i}");
                    lsns.push(store.put(&own, format!("{t}:{i}")).unwrap());
                    let shared = format!("shared-{}", i % 3);
                    let lsn = if i % 4 == 3 {
                        store.delete(&shared).unwrap()
                    } else {
                        store.put(&shared, format!("{t}:{i}")).unwrap()
                    };
                    assert!(store.wal().durable_lsn() >= lsn);
                    lsns.push(lsn);
                }
                lsns
            })
        })
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        let lsns = handle.join().unwrap();
        assert!(
            lsns.windows(2).all(|w| w[0] < w[1]),
            "one thread's LSNs increase"
        );
        all.extend(lsns);
    }
    let total = (THREADS * PER_THREAD * 2) as u64;
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(unique.len() as u64, total, "every put got its own LSN");
    assert_eq!(unique, (1..=total).collect());
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let live = store.snapshot();
    drop(store);

    let (read, summary) = read_path(&path);
    assert_eq!(summary.damage, None);
    assert_eq!(
        read.iter().map(|r| r.lsn).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let (recovered, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, total);
    // Deletes and puts to the shared keys finished their fsyncs in any
    // order; the live map must still equal the replay in LSN order.
    assert_eq!(live, recovered.snapshot());
    for t in 0..THREADS {
        for i in 0..PER_THREAD {
            let value = recovered.get(format!("t{t}-{i}")).unwrap();
            assert_eq!(value, format!("{t}:{i}").into_bytes());
        }
    }
}

#[test]
fn batches_from_several_threads_get_disjoint_contiguous_ranges() {
    const THREADS: u64 = 4;
    const BATCHES: u64 = 10;
    const SIZE: u64 = 5;
    // Version 2: a version-1 log takes no batch.
    let file = MemHandle::v2();
    let wal = Arc::new(file.wal(SyncPolicy::Always));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                (0..BATCHES)
                    .map(|b| {
                        let keys: Vec<Vec<u8>> = (0..SIZE)
                            .map(|i| format!("{t}-{b}-{i}").into_bytes())
                            .collect();
                        let batch = keys.iter().map(|k| (Op::Put, &k[..], &b"v"[..]));
                        let range = wal.append_batch(batch).unwrap();
                        (range, keys)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let batches: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let (read, _) = read_bytes(&file.synced_bytes());
    assert_eq!(read.len() as u64, THREADS * BATCHES * SIZE);
    for (range, keys) in batches {
        assert_eq!(range.end() - range.start() + 1, SIZE);
        for (lsn, key) in range.zip(keys) {
            assert_eq!(
                read[(lsn - 1) as usize].key,
                key,
                "batch records stay together"
            );
        }
    }
    assert!(file.syncs() as u64 <= THREADS * BATCHES);
}

/// Issue 23, item 7: a waiter whose record another thread's fsync made
/// durable, woken after a later append poisoned the log, returned
/// `Err(Poisoned)` for a record that comes back on reopen. It is
/// acknowledged: the poisoning cut keeps everything the fsync covered.
#[test]
fn a_waiter_whose_record_was_synced_is_acknowledged_despite_a_later_poison() {
    use std::sync::{Arc, Mutex, mpsc};
    let (sync_entered_tx, sync_entered) = mpsc::channel();
    let (sync_release, sync_release_rx) = mpsc::channel::<()>();
    let (sync_entered_tx, sync_release_rx) =
        (Mutex::new(sync_entered_tx), Mutex::new(sync_release_rx));
    let file = MemHandle::with_hooks(
        // The third write (record 4's) fails.
        Box::new(|call| match call {
            3 => Err(std::io::Error::from_raw_os_error(5)),
            _ => Ok(()),
        }),
        // The first fsync (record 1's) holds until released.
        Box::new(move |call| {
            if call == 1 {
                sync_entered_tx.lock().unwrap().send(()).unwrap();
                sync_release_rx.lock().unwrap().recv().unwrap();
            }
            Ok(())
        }),
    );
    let wal = Arc::new(file.wal(wal::SyncPolicy::Always));
    let first = {
        let wal = Arc::clone(&wal);
        std::thread::spawn(move || wal.append(wal::Op::Put, b"k1", b"1"))
    };
    sync_entered.recv().unwrap();
    let (woken_tx, woken) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let waiter = {
        let wal = Arc::clone(&wal);
        std::thread::spawn(move || {
            let mut once = Some((woken_tx, go_rx));
            wal::set_step_hook(Some(Box::new(move |step| {
                if step == "woken by a group fsync"
                    && let Some((woken_tx, go_rx)) = once.take()
                {
                    woken_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                }
                Ok(())
            })));
            wal.append(wal::Op::Put, b"k2", b"2")
        })
    };
    wait_until("record 2 waits for the fsync", || wal.last_lsn() == 2);
    sync_release.send(()).unwrap();
    assert_eq!(first.join().unwrap().unwrap(), 1);
    woken.recv().unwrap();
    // Record 3's fsync covers record 2 too; record 4's write fails.
    assert_eq!(wal.append(wal::Op::Put, b"k3", b"3").unwrap(), 3);
    assert!(wal.durable_lsn() >= 2);
    let failed = wal.append(wal::Op::Put, b"k4", b"4");
    assert!(
        matches!(failed, Err(wal::Error::Poisoned { .. })),
        "{failed:?}"
    );
    go.send(()).unwrap();
    let acknowledged = waiter.join().unwrap();
    assert_eq!(acknowledged.unwrap(), 2, "record 2 was durable");
    let (records, _) = read_bytes(&file.bytes());
    let lsns: Vec<u64> = records.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, [1, 2, 3], "what came back on reopen");
}
