//! Atomic batches: a batch is one unit on disk under one checksum, so a
//! crash that tears it anywhere recovers all of it or none of it.

mod common;

use std::fs;

use common::{Log, put, puts, read_bytes};
use wal::{KvStore, Op, Record};

/// A transfer: three records that only make sense together.
fn transfer(first_lsn: u64) -> Vec<Record> {
    vec![
        put(first_lsn, b"alice", b"50"),
        put(first_lsn + 1, b"bob", b"150"),
        common::delete(first_lsn + 2, b"pending-transfer"),
    ]
}

/// Two records, then the transfer as one batch, torn after every byte of
/// it: the reader returns the two records and nothing of the batch, until
/// the batch is whole, and then all three; a torn batch is a torn tail.
#[test]
fn a_batch_torn_at_every_byte_recovers_all_or_none() {
    let log = Log::new(&puts(2, 10));
    let batch = wal::encode_batch(&transfer(3), common::FORMAT);
    let mut whole = log.bytes.clone();
    whole.extend_from_slice(&batch);
    for cut in log.bytes.len()..=whole.len() {
        let (records, summary) = read_bytes(&whole[..cut]);
        if cut == whole.len() {
            assert_eq!(records[2..], transfer(3), "the whole batch");
            assert_eq!(summary.damage, None);
        } else {
            assert_eq!(records.len(), 2, "cut at {cut}: none of the batch");
            if cut > log.bytes.len() {
                let damage = summary.damage.expect("a torn batch");
                assert!(damage.is_torn_tail(), "cut at {cut}: {damage}");
            }
        }
    }
}

/// One flipped bit anywhere in a batch (its inner records included) costs
/// the whole batch, never part of it.
#[test]
fn a_flipped_bit_in_a_batch_costs_all_of_it() {
    let log = Log::new(&puts(1, 10));
    let batch = wal::encode_batch(&transfer(2), common::FORMAT);
    let start = log.bytes.len();
    let mut bytes = log.bytes.clone();
    bytes.extend_from_slice(&batch);
    bytes.extend_from_slice(&wal::encode(&put(5, b"after", b"x"), common::FORMAT));
    for at in start..start + batch.len() {
        for bit in [0, 7] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            let (records, summary) = read_bytes(&flipped);
            assert_eq!(
                records.len(),
                1,
                "byte {at} bit {bit}: nothing of the batch"
            );
            let damage = summary.damage.expect("damage");
            assert_eq!(damage.offset, start as u64);
        }
    }
}

/// `KvStore::write_batch` applies the batch to the map and to the log as
/// one; a later store recovers exactly the same map. A batch whose last
/// record is over the caps is refused whole.
#[test]
fn write_batch_applies_everything_and_recovers_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.wal");
    let store = KvStore::create(&path).unwrap();
    store.put("pending-transfer", "50 alice->bob").unwrap();
    let lsns = store
        .write_batch(&[
            (Op::Put, b"alice", b"50"),
            (Op::Put, b"bob", b"150"),
            (Op::Delete, b"pending-transfer", b""),
        ])
        .unwrap();
    assert_eq!(lsns, 2..=4);
    let too_long = vec![0u8; wal::MAX_KEY_LEN as usize + 1];
    assert!(
        store
            .write_batch(&[(Op::Put, b"carol", b"1"), (Op::Put, &too_long, b"")])
            .is_err()
    );
    assert_eq!(store.write_batch(&[]).unwrap().count(), 0);
    let expected = store.snapshot();
    assert_eq!(expected.len(), 2);
    assert_eq!(
        store.put("after", "1").unwrap(),
        5,
        "a refused batch took no LSN"
    );
    drop(store);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 5);
    assert_eq!(report.damage, None);
    let mut recovered = store.snapshot();
    recovered.remove(&b"after"[..]);
    assert_eq!(recovered, expected);
    let bytes = fs::read(&path).unwrap();
    assert_eq!(
        bytes[wal::FILE_HEADER_LEN + 21 + 16 + 13 + 12],
        wal::BATCH_OP,
        "one batch frame on disk"
    );
}

/// A batch behind mid-log damage is found by the search past damage and
/// counted record by record: cutting there would lose it, so it is
/// corruption, not a torn tail.
#[test]
fn a_batch_behind_damage_counts_as_readable_records() {
    let log = Log::new(&puts(2, 10));
    let mut bytes = log.bytes.clone();
    bytes.extend_from_slice(&wal::encode_batch(&transfer(3), common::FORMAT));
    bytes[log.offsets[1] as usize + 25] ^= 1;
    let (records, summary) = read_bytes(&bytes);
    assert_eq!(records.len(), 1);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.records_after, 3, "{damage}");
    assert_eq!(damage.first_readable_after, Some(log.bytes.len() as u64));
    assert!(!damage.is_torn_tail());
}
