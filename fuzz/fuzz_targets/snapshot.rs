//! Fuzz target `snapshot`: arbitrary bytes as a checkpoint's snapshot
//! (`NAME.snapshot` beside a log).
//!
//! The first input byte chooses whether the rest keeps its own checksum or
//! gets a correct one (odd: the last four bytes are replaced by the CRC-32
//! of those before them), so that the decoder behind the checksum is reached
//! too. The bytes are written beside a log's path and loaded as recovery
//! loads them. Besides "no panic":
//!
//! * loading answers exactly what a decoder written from the format table
//!   in `snapshot.rs` answers (the same map and LSN, or a refusal), and
//!   `SnapshotCheck` (what `wal verify` says) agrees;
//! * no single allocation is larger than a fixed allowance plus a small
//!   multiple of the input (a key count or length is never trusted);
//! * a snapshot that loads rejects damage: any one bit flipped (CRC-32
//!   catches every single-bit error) is refused as a damaged snapshot;
//! * a snapshot that loads round-trips: encoded again from the table, it
//!   loads to the same snapshot; and a store recovered from it alone (no
//!   log) holds its map, and its checkpoint writes it back equal.

#![no_main]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{MAX_INPUT, check_allocations, clear, work_dir};
use libfuzzer_sys::fuzz_target;
use wal::{Error, KvStore, Snapshot, SnapshotCheck};

fuzz_target!(|input: &[u8]| {
    let Some((&choice, rest)) = input.split_first() else {
        return;
    };
    let mut data = rest[..rest.len().min(MAX_INPUT)].to_vec();
    if choice & 1 == 1 && data.len() >= 4 {
        let body = data.len() - 4;
        let crc = crc32fast::hash(&data[..body]);
        data[body..].copy_from_slice(&crc.to_le_bytes());
    }
    let log = work_dir().join("log.wal");
    let path = wal::snapshot_path(&log);
    fs::write(&path, &data).expect("write the input file");
    common::reset_allocations();
    let loaded = Snapshot::load_beside(&log);
    check_allocations(&data, "loading a snapshot");
    let expected = decode(&data);
    let loaded = match (loaded, &expected) {
        (Ok(Some(snapshot)), Some(expected)) => {
            assert_eq!(&snapshot, expected, "the map and LSN the table gives");
            snapshot
        }
        (Err(Error::DamagedSnapshot { .. }), None) => {
            assert!(
                matches!(SnapshotCheck::of(&log), SnapshotCheck::Damaged { .. }),
                "verify must call a refused snapshot damaged"
            );
            clear(work_dir());
            return;
        }
        (loaded, expected) => panic!("loaded {loaded:?}, the table gives {expected:?}"),
    };
    assert_eq!(
        SnapshotCheck::of(&log),
        SnapshotCheck::Ok {
            lsn: loaded.lsn,
            keys: loaded.map.len() as u64
        }
    );
    check_damage_refused(&log, &path, &data);
    check_round_trip(&log, &path, &loaded);
    clear(work_dir());
});

/// One bit flipped, at a place the input chooses, is refused.
fn check_damage_refused(log: &Path, path: &Path, data: &[u8]) {
    let bits = data.len() * 8;
    let spread = data.iter().fold(0usize, |n, &b| {
        n.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let bit = spread % bits;
    let mut damaged = data.to_vec();
    damaged[bit / 8] ^= 1 << (bit % 8);
    fs::write(path, &damaged).expect("write the damaged copy");
    match Snapshot::load_beside(log) {
        Err(Error::DamagedSnapshot { .. }) => {}
        other => panic!("bit {bit} flipped: {other:?}"),
    }
}

/// Encoded again from the table, and through a store's recovery and
/// checkpoint, the snapshot stays the same.
fn check_round_trip(log: &Path, path: &Path, loaded: &Snapshot) {
    fs::write(path, encode(loaded)).expect("write the encoding");
    let again = Snapshot::load_beside(log).expect("load the encoding");
    assert_eq!(again.as_ref(), Some(loaded), "encoded again");
    // A store holds only keys and values under the caps, and needs an LSN
    // after the snapshot's for its next record.
    let storable = loaded.lsn < u64::MAX
        && loaded.map.iter().all(|(key, value)| {
            key.len() <= wal::MAX_KEY_LEN as usize && value.len() <= wal::MAX_VALUE_LEN as usize
        });
    if !storable {
        return;
    }
    let (mut store, report) = KvStore::recover(log).expect("recover from the snapshot alone");
    assert_eq!(store.snapshot(), loaded.map, "the recovered map");
    assert_eq!(
        report.last_lsn, loaded.lsn,
        "LSNs continue after the snapshot"
    );
    store.checkpoint().expect("checkpoint");
    drop(store);
    let written = Snapshot::load_beside(log).expect("load the checkpoint's snapshot");
    assert_eq!(
        written.as_ref(),
        Some(loaded),
        "the checkpoint writes it back"
    );
}

const MAGIC: &[u8; 8] = b"KVSNP\r\n\x1a";

/// The snapshot format, decoded from its table alone: magic, version 1,
/// reserved 0, LSN, key count, each key and value after its 4-byte
/// length, nothing more, then the CRC-32 of all before it.
fn decode(bytes: &[u8]) -> Option<Snapshot> {
    let body = bytes.get(..bytes.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_le_bytes()[..] != bytes[body.len()..] {
        return None;
    }
    if body.get(..8)? != MAGIC || body.get(8..12)? != [1, 0, 0, 0] {
        return None;
    }
    let lsn = u64::from_le_bytes(body.get(12..20)?.try_into().ok()?);
    let count = u64::from_le_bytes(body.get(20..28)?.try_into().ok()?);
    let mut at = 28;
    let mut field = || -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
        let value = body.get(at + 4..(at + 4).checked_add(len)?)?.to_vec();
        at += 4 + len;
        Some(value)
    };
    let mut map = BTreeMap::new();
    for _ in 0..count {
        let key = field()?;
        let value = field()?;
        map.insert(key, value);
    }
    (at == body.len()).then_some(Snapshot { lsn, map })
}

/// The table's encoding of `snapshot` (keys in order).
fn encode(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.extend_from_slice(&snapshot.lsn.to_le_bytes());
    out.extend_from_slice(&(snapshot.map.len() as u64).to_le_bytes());
    for (key, value) in &snapshot.map {
        for field in [key, value] {
            out.extend_from_slice(&(field.len() as u32).to_le_bytes());
            out.extend_from_slice(field);
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
