//! What goes in comes out: records of every shape survive a reopen exactly,
//! LSNs continue across reopens, and each sync policy makes records durable
//! when it says it does.

mod common;

use std::collections::BTreeMap;

use common::{MemHandle, delete, put, read_bytes, read_path};
use wal::{
    Error, KvStore, MAX_KEY_LEN, MAX_VALUE_LEN, Op, RecoveryMode, SyncPolicy, Wal, WalOptions,
};

#[test]
fn puts_deletes_binary_keys_and_empty_values_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    let every_byte: Vec<u8> = (0..=255).collect();
    let not_utf8 = [0xff, 0xfe, 0x00, 0xc3];
    let store = KvStore::create(&path).unwrap();
    let mut expected = Vec::new();
    let mut lsn = 0;
    let mut log_put = |store: &KvStore, key: &[u8], value: &[u8]| {
        lsn += 1;
        assert_eq!(store.put(key, value).unwrap(), lsn);
        expected.push(put(lsn, key, value));
    };
    log_put(&store, b"plain", b"value");
    log_put(&store, &every_byte, &every_byte);
    log_put(&store, &not_utf8, b"");
    log_put(&store, b"", b"empty key");
    log_put(&store, b"", b"");
    log_put(&store, b"plain", b"overwritten");
    assert_eq!(store.delete(b"").unwrap(), 7);
    expected.push(delete(7, b""));
    assert_eq!(store.delete(b"never there").unwrap(), 8);
    expected.push(delete(8, b"never there"));

    let live = store.snapshot();
    let mut model = BTreeMap::new();
    model.insert(b"plain".to_vec(), b"overwritten".to_vec());
    model.insert(every_byte.clone(), every_byte.clone());
    model.insert(not_utf8.to_vec(), Vec::new());
    assert_eq!(live, model);
    assert_eq!(store.len(), 3);
    assert_eq!(store.get(b""), None);
    assert_eq!(store.get(not_utf8).as_deref(), Some(&b""[..]));
    drop(store);

    let (read, summary) = read_path(&path);
    assert_eq!(read, expected);
    assert_eq!(summary.damage, None);
    assert_eq!(summary.valid_len + summary.preallocated, summary.file_len);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 8);
    assert_eq!(store.snapshot(), model);
}

#[test]
fn keys_and_values_at_the_caps_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caps.wal");
    let key: Vec<u8> = (0..MAX_KEY_LEN).map(|i| (i % 251) as u8).collect();
    let value: Vec<u8> = (0..MAX_VALUE_LEN).map(|i| (i % 241) as u8).collect();
    let store = KvStore::create(&path).unwrap();
    assert_eq!(store.put(&key, &value).unwrap(), 1);
    assert_eq!(store.put(b"small", b"after").unwrap(), 2);
    drop(store);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 2);
    assert_eq!(report.damage, None);
    assert!(
        store.get(&key).unwrap() == value,
        "the capped value differs"
    );
    assert_eq!(store.get("small").as_deref(), Some(&b"after"[..]));
}

#[test]
fn lsns_continue_across_every_kind_of_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    let store = KvStore::create(&path).unwrap();
    assert_eq!(store.put("a", "1").unwrap(), 1);
    assert_eq!(store.put("b", "2").unwrap(), 2);
    drop(store);

    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.last_lsn, 2);
    assert_eq!((store.wal().last_lsn(), store.wal().durable_lsn()), (2, 2));
    assert_eq!(store.delete("a").unwrap(), 3);
    drop(store);

    let mut seen = Vec::new();
    let (wal, report) = wal::open(&path, WalOptions::default(), |r| seen.push(r.lsn)).unwrap();
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(report.last_lsn, 3);
    assert_eq!(wal.append(Op::Put, b"c", b"3").unwrap(), 4);
    assert_eq!(
        wal.append_batch([(Op::Put, &b"d"[..], &b"4"[..])]).unwrap(),
        5..=5
    );
    drop(wal);

    let options = WalOptions {
        sync: SyncPolicy::Never,
        mode: RecoveryMode::AbsoluteConsistency,
    };
    let (store, report) = KvStore::recover_with(&path, options).unwrap();
    assert_eq!(report.records_replayed, 5);
    assert_eq!(store.put("e", "5").unwrap(), 6);
    // Dropping a never-syncing store still hands its records to the kernel.
    drop(store);

    let (read, summary) = read_path(&path);
    assert_eq!(
        read.iter().map(|r| r.lsn).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(summary.damage, None);
    let (store, _) = KvStore::recover(&path).unwrap();
    let keys: Vec<_> = store.snapshot().into_keys().collect();
    assert_eq!(
        keys,
        [b"b".to_vec(), b"c".to_vec(), b"d".to_vec(), b"e".to_vec()]
    );
}

#[test]
fn append_batch_returns_the_range_of_its_lsns_and_syncs_once() {
    let file = MemHandle::v2();
    let wal = file.wal(SyncPolicy::Always);
    let batch = [
        (Op::Put, &b"a"[..], &b"1"[..]),
        (Op::Put, &b"b"[..], &b"2"[..]),
        (Op::Delete, &b"a"[..], &b""[..]),
    ];
    assert_eq!(wal.append_batch(batch).unwrap(), 1..=3);
    assert_eq!(file.syncs(), 1);
    assert_eq!(wal.durable_lsn(), 3);
    let empty = wal.append_batch(std::iter::empty()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(file.syncs(), 1, "an empty batch does not sync");
    assert_eq!(
        wal.append_batch([(Op::Put, &b"c"[..], &b"3"[..])]).unwrap(),
        4..=4
    );
    assert_eq!(file.syncs(), 2);
    let (read, _) = read_bytes(&file.synced_bytes());
    assert_eq!(
        read,
        [
            put(1, b"a", b"1"),
            put(2, b"b", b"2"),
            delete(3, b"a"),
            put(4, b"c", b"3")
        ]
    );
}

#[test]
fn sync_always_makes_each_record_durable_before_append_returns() {
    let file = MemHandle::default();
    let wal = file.wal(SyncPolicy::Always);
    for lsn in 1..=5u64 {
        assert_eq!(wal.append(Op::Put, b"k", &[lsn as u8]).unwrap(), lsn);
        assert_eq!(wal.durable_lsn(), lsn);
        let (read, summary) = read_bytes(&file.synced_bytes());
        assert_eq!(read.len() as u64, lsn, "record {lsn} not covered by a sync");
        assert_eq!(summary.damage, None);
    }
    assert_eq!(file.syncs(), 5);
}

#[test]
fn sync_every_n_syncs_on_the_nth_record() {
    let file = MemHandle::default();
    let wal = file.wal(SyncPolicy::EveryN(3));
    for round in 0..3u64 {
        for i in 1..=3u64 {
            let lsn = round * 3 + i;
            assert_eq!(wal.append(Op::Put, b"k", b"v").unwrap(), lsn);
            let durable = if i == 3 { lsn } else { round * 3 };
            assert_eq!(wal.durable_lsn(), durable, "after record {lsn}");
            assert_eq!(file.syncs() as u64, durable / 3);
        }
    }
    assert_eq!(wal.append(Op::Put, b"k", b"v").unwrap(), 10);
    wal.sync().unwrap();
    assert_eq!((wal.durable_lsn(), file.syncs()), (10, 4));
    let (read, _) = read_bytes(&file.synced_bytes());
    assert_eq!(read.len(), 10);
}

#[test]
fn sync_never_leaves_durability_to_an_explicit_sync() {
    let file = MemHandle::default();
    let wal = file.wal(SyncPolicy::Never);
    for lsn in 1..=20 {
        assert_eq!(wal.append(Op::Put, b"key", b"value").unwrap(), lsn);
    }
    assert_eq!(
        (wal.last_lsn(), wal.durable_lsn(), file.syncs()),
        (20, 0, 0)
    );
    wal.sync().unwrap();
    assert_eq!((wal.durable_lsn(), file.syncs()), (20, 1));
    let (read, summary) = read_bytes(&file.synced_bytes());
    assert_eq!((read.len(), summary.damage), (20, None));
    wal.sync().unwrap();
    assert_eq!(file.syncs(), 1, "nothing new to sync");
}

#[test]
fn creating_over_an_existing_file_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    let store = KvStore::create(&path).unwrap();
    store.put("k", "v").unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();
    let err = Wal::create(&path, SyncPolicy::Always).err().unwrap();
    assert!(
        matches!(&err, Error::AlreadyExists { path: p } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
    assert!(matches!(
        KvStore::create(&path),
        Err(Error::AlreadyExists { .. })
    ));
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "not a log").unwrap();
    assert!(matches!(
        KvStore::create(&other),
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read(&other).unwrap(), b"not a log");
}

#[test]
fn a_record_written_around_the_store_reaches_the_map_only_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    let store = KvStore::create(&path).unwrap();
    assert_eq!(store.put("k", "old").unwrap(), 1);
    assert_eq!(
        store.wal().append(Op::Put, b"k", b"logged only").unwrap(),
        2
    );
    assert_eq!(store.wal().append(Op::Delete, b"gone", b"").unwrap(), 3);
    assert_eq!(store.get("k").as_deref(), Some(&b"old"[..]));
    drop(store);
    let (store, _) = KvStore::recover(&path).unwrap();
    assert_eq!(store.get("k").as_deref(), Some(&b"logged only"[..]));
}

#[test]
fn append_partial_writes_exactly_the_prefix_and_blocks_later_appends() {
    let file = MemHandle::default();
    let wal = file.wal(SyncPolicy::Always);
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    let full = wal::encode(&put(2, b"key", b"value"), wal.format());
    let err = wal
        .append_partial(Op::Put, b"key", b"value", full.len())
        .unwrap_err();
    assert!(matches!(err, Error::PartialTooLong { .. }), "{err:?}");
    let before = file.bytes();
    assert_eq!(wal.append_partial(Op::Put, b"key", b"value", 7).unwrap(), 2);
    let after = file.synced_bytes();
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(
        after[before.len()..],
        full[..7],
        "the first 7 bytes of record 2"
    );
    assert_eq!(wal.durable_lsn(), 1);
    let err = wal.append(Op::Put, b"b", b"2").unwrap_err();
    assert!(matches!(err, Error::EndsInPartialRecord { .. }), "{err:?}");
    assert!(matches!(
        wal.append_partial(Op::Put, b"b", b"2", 3),
        Err(Error::EndsInPartialRecord { .. })
    ));
    assert_eq!(file.bytes(), after, "refused appends write nothing");
    let (read, summary) = read_bytes(&after);
    assert_eq!(read, [put(1, b"a", b"1")]);
    assert!(summary.damage.unwrap().is_torn_tail());
}

#[test]
fn a_second_writer_is_locked_out_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    let store = wal::KvStore::create(&path).unwrap();
    store.put("k", "v").unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = wal::KvStore::recover(&path)
        .err()
        .expect("a second writer must be refused");
    assert!(matches!(err, wal::Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("log.wal"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the refused writer changed the file"
    );
    // Readers need no lock.
    assert_eq!(
        wal::WalReader::open(&path)
            .unwrap()
            .finish()
            .unwrap()
            .records,
        1
    );
    drop(store);
    let (store, report) = wal::KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 1);
    assert_eq!(store.get("k").as_deref(), Some(&b"v"[..]));
}
