use wal::{KvStore, Op, WalReader};

#[test]
fn put_crash_recover() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    let store = KvStore::create(&path).unwrap();
    assert_eq!(store.put("a", "1").unwrap(), 1);
    assert_eq!(store.delete("a").unwrap(), 2);
    let lsn = store.wal().append(Op::Put, b"b", b"2").unwrap();
    assert_eq!(lsn, 3);
    assert_eq!(store.get("b"), None);
    store.wal().append_partial(Op::Put, b"c", b"3", 10).unwrap();
    drop(store);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 3);
    assert_eq!(store.get("b").as_deref(), Some(&b"2"[..]));
    assert_eq!(store.get("a"), None);
    let damage = report.damage.clone().unwrap();
    assert!(damage.is_torn_tail(), "{damage}");
    assert_eq!(
        damage.to_string(),
        format!("torn tail at offset {} (10 bytes)", damage.offset)
    );
    assert!(report.cut.as_ref().unwrap().saved_to.exists());
    println!("{}", report.warning().unwrap());
    assert_eq!(store.put("d", "4").unwrap(), 4);
    drop(store);
    let summary = WalReader::open(&path).unwrap().finish().unwrap();
    assert_eq!(summary.records, 4);
    assert!(summary.damage.is_none());
}
