//! `KvStore`: an in-memory map whose every change is logged first.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::entry::RecordRef;
use crate::error::Result;
use crate::record::Op;
use crate::recovery::{self, RecoveryReport, WalOptions};
use crate::snapshot::Snapshot;
use crate::writer::Wal;

/// A key's latest state and the LSN that set it.
///
/// Concurrent writers to one key can finish their fsync waits in either
/// order; applying a change only over an older LSN keeps the map equal to a
/// replay of the log. Deletes made at run time therefore leave a tombstone
/// (`value: None`) carrying their LSN; recovery, which applies in order,
/// simply removes the key.
struct Slot {
    lsn: u64,
    value: Option<Vec<u8>>,
}

/// A key-value store whose write-ahead log is the source of truth.
///
/// Every `put` and `delete` is appended to the log and made durable (per the
/// log's sync policy) before the in-memory map changes; a new store recovers
/// the map by replaying the log. `KvStore` is `Sync`: threads writing through
/// one store share fsyncs.
pub struct KvStore {
    wal: Wal,
    map: RwLock<BTreeMap<Vec<u8>, Slot>>,
}

impl KvStore {
    /// Creates a store with a new, empty log at `path` (which must not exist).
    pub fn create(path: impl AsRef<Path>) -> Result<KvStore> {
        let wal = Wal::create(path, Default::default())?;
        Ok(KvStore {
            wal,
            map: RwLock::new(BTreeMap::new()),
        })
    }

    /// Opens the log at `path` (creating it when missing) and rebuilds the
    /// map by replaying it, with the default options: sync always,
    /// point-in-time recovery.
    pub fn recover(path: impl AsRef<Path>) -> Result<(KvStore, RecoveryReport)> {
        KvStore::recover_with(path, WalOptions::default())
    }

    /// [`KvStore::recover`] with a chosen sync policy and recovery mode.
    pub fn recover_with(
        path: impl AsRef<Path>,
        options: WalOptions,
    ) -> Result<(KvStore, RecoveryReport)> {
        // A checkpoint's snapshot holds everything up to its LSN; the log's
        // records at or below it are skipped (they are in the snapshot). It
        // is read once the log is locked, so no checkpoint runs in between.
        let start = |snapshot: Option<Snapshot>| {
            let floor = snapshot.as_ref().map_or(0, |s| s.lsn);
            let map: BTreeMap<Vec<u8>, Slot> = snapshot
                .into_iter()
                .flat_map(|s| s.map)
                .map(|(key, value)| {
                    let slot = Slot {
                        lsn: floor,
                        value: Some(value),
                    };
                    (key, slot)
                })
                .collect();
            (floor, map)
        };
        let replay = |(floor, map): &mut (u64, BTreeMap<Vec<u8>, Slot>), record: RecordRef<'_>| {
            if record.lsn <= *floor {
                return;
            }
            match record.op {
                Op::Put => {
                    map.insert(
                        record.key.to_vec(),
                        Slot {
                            lsn: record.lsn,
                            value: Some(record.value.to_vec()),
                        },
                    );
                }
                Op::Delete => {
                    map.remove(record.key);
                }
            }
        };
        let (wal, report, (_, map)) = recovery::open_with(path.as_ref(), options, start, replay)?;
        Ok((
            KvStore {
                wal,
                map: RwLock::new(map),
            },
            report,
        ))
    }

    /// Logs `key = value`, then applies it. Returns the record's LSN.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<u64> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let lsn = self.wal.append(Op::Put, key, value)?;
        self.apply(lsn, key, Some(value.to_vec()));
        Ok(lsn)
    }

    /// Logs the removal of `key`, then applies it. Returns the record's LSN.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        let key = key.as_ref();
        let lsn = self.wal.append(Op::Delete, key, &[])?;
        self.apply(lsn, key, None);
        Ok(lsn)
    }

    /// Logs several puts and deletes as one batch, then applies them all at
    /// once: after a crash, recovery finds all of them or none, wherever the
    /// write was torn, and no reader of the map sees part of the batch.
    /// Each item is `(Op::Put, key, value)` or `(Op::Delete, key, b"")`.
    /// Returns the batch's LSNs (an empty range for an empty batch).
    pub fn write_batch(&self, batch: &[(Op, &[u8], &[u8])]) -> Result<RangeInclusive<u64>> {
        let lsns = self.wal.append_batch(batch.iter().copied())?;
        let mut map = self.write_map();
        for ((op, key, value), lsn) in batch.iter().zip(lsns.clone()) {
            let value = (*op == Op::Put).then(|| value.to_vec());
            apply_to(&mut map, lsn, key, value);
        }
        Ok(lsns)
    }

    /// Checkpoints the store: writes a snapshot of the map tagged with the
    /// last LSN (`NAME.snapshot`, atomically), then replaces the log with a
    /// new one whose LSNs follow the snapshot's, so the log no longer grows
    /// forever and recovery replays only what came after. A crash at any
    /// point loses nothing (see the `snapshot` module for the order). Returns
    /// the LSN the snapshot covers.
    ///
    /// The snapshot is built from the log on disk (and the snapshot before
    /// it), not from the map: a record appended through [`KvStore::wal`]
    /// and not applied is in it too. The map itself is left as it is. Once
    /// the new log is in place, a failure (the directory's fsync) poisons
    /// the store: reopen it.
    pub fn checkpoint(&mut self) -> Result<u64> {
        let (wal, lsn) = crate::checkpoint::checkpoint(&self.wal)?;
        self.wal = wal;
        Ok(lsn)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        self.read_map()
            .get(key.as_ref())
            .and_then(|slot| slot.value.clone())
    }

    /// Number of keys present.
    pub fn len(&self) -> usize {
        self.read_map()
            .values()
            .filter(|slot| slot.value.is_some())
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the whole map, sorted by key.
    pub fn snapshot(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.read_map()
            .iter()
            .filter_map(|(key, slot)| Some((key.clone(), slot.value.clone()?)))
            .collect()
    }

    /// The store's log. Appending to it directly writes a record *without*
    /// applying it to the map: the crash drills' way of stopping between
    /// the log write and the apply.
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    fn apply(&self, lsn: u64, key: &[u8], value: Option<Vec<u8>>) {
        apply_to(&mut self.write_map(), lsn, key, value);
    }

    fn read_map(&self) -> RwLockReadGuard<'_, BTreeMap<Vec<u8>, Slot>> {
        self.map.read().unwrap_or_else(|poison| poison.into_inner())
    }

    fn write_map(&self) -> RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Slot>> {
        self.map
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Sets `key`'s slot to `value` as of `lsn`, unless a later LSN set it.
fn apply_to(map: &mut BTreeMap<Vec<u8>, Slot>, lsn: u64, key: &[u8], value: Option<Vec<u8>>) {
    match map.get_mut(key) {
        Some(slot) if slot.lsn > lsn => {}
        Some(slot) => *slot = Slot { lsn, value },
        None => {
            map.insert(key.to_vec(), Slot { lsn, value });
        }
    }
}
