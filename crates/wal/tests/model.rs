//! A property test: random puts, deletes, writes around the map, reopens,
//! crashes (the file cut at a random byte) and deliberately partial records,
//! checked against a `BTreeMap` model that knows the state after every LSN.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use wal::{Error, FILE_HEADER_LEN, KvStore, Op, RecoveryReport, SyncPolicy, WalOptions};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

const KEYS: [&[u8]; 6] = [
    b"",
    b"a",
    b"b",
    b"\x00\xff",
    b"k",
    b"a-much-longer-key-for-variety",
];

#[derive(Debug, Clone)]
enum Action {
    Put(usize, Vec<u8>),
    Delete(usize),
    /// Append a put to the log without applying it to the map.
    LogOnly(usize, Vec<u8>),
    /// Close the store and recover it with this sync policy.
    Reopen(SyncPolicy),
    /// Close the store, cut the file at a random byte (a crash that lost an
    /// unsynced or half-written tail), and recover.
    Crash(Index),
    /// Write only a prefix of the next record (a crash drill).
    Partial(usize, Vec<u8>, Index),
}

fn action() -> impl Strategy<Value = Action> {
    let key = 0..KEYS.len();
    let value = proptest::collection::vec(any::<u8>(), 0..40);
    let policy = prop_oneof![
        Just(SyncPolicy::Always),
        Just(SyncPolicy::EveryN(3)),
        Just(SyncPolicy::Never),
    ];
    prop_oneof![
        6 => (key.clone(), value.clone()).prop_map(|(k, v)| Action::Put(k, v)),
        3 => key.clone().prop_map(Action::Delete),
        1 => (key.clone(), value.clone()).prop_map(|(k, v)| Action::LogOnly(k, v)),
        2 => policy.prop_map(Action::Reopen),
        2 => any::<Index>().prop_map(Action::Crash),
        1 => (key, value, any::<Index>()).prop_map(|(k, v, i)| Action::Partial(k, v, i)),
    ]
}

/// What the log must hold: the map after each LSN and where each record ends.
struct Model {
    /// `states[lsn]`: the map a replay up to `lsn` gives.
    states: Vec<Map>,
    /// `ends[lsn]`: the file offset just past record `lsn` (`ends[0]` is the
    /// end of the file header).
    ends: Vec<u64>,
    /// What the open store shows (differs from the log after a log-only put).
    live: Map,
    /// Length of a deliberately partial record at the end of the file.
    partial: Option<u64>,
}

impl Model {
    fn last_lsn(&self) -> u64 {
        self.states.len() as u64 - 1
    }

    /// Logs a record; `apply` also applies it to the live map.
    fn log(&mut self, op: Op, key: &[u8], value: &[u8], apply: bool) {
        let mut state = self.states.last().unwrap().clone();
        match op {
            Op::Put => state.insert(key.to_vec(), value.to_vec()),
            Op::Delete => state.remove(key),
        };
        if apply {
            match op {
                Op::Put => self.live.insert(key.to_vec(), value.to_vec()),
                Op::Delete => self.live.remove(key),
            };
        }
        let end = self.ends.last().unwrap() + wal::record_len(key.len(), value.len()) as u64;
        self.states.push(state);
        self.ends.push(end);
    }

    /// Where the logged bytes end: the last record, and a partial one.
    fn logged_len(&self) -> u64 {
        self.ends[self.last_lsn() as usize] + self.partial.unwrap_or(0)
    }

    /// The file was cut to `len` bytes: forget every record not wholly in it.
    fn cut_to(&mut self, len: u64) {
        let kept = self
            .ends
            .iter()
            .take_while(|&&end| end <= len)
            .count()
            .max(1);
        self.states.truncate(kept);
        self.ends.truncate(kept);
        self.partial = None;
    }

    /// Checks a recovery of the file that held `bytes` against the model,
    /// then makes the model match the recovered store.
    fn recovered(&mut self, report: &RecoveryReport, store: &KvStore, bytes: &[u8]) {
        let file_len = bytes.len() as u64;
        let last = self.last_lsn();
        assert_eq!(report.records_replayed, last);
        assert_eq!(report.last_lsn, last);
        assert_eq!(store.wal().last_lsn(), last);
        // Where the readable prefix ends: past the header, or nowhere if even
        // the header is torn.
        let valid = if file_len < FILE_HEADER_LEN as u64 {
            0
        } else {
            self.ends[last as usize]
        };
        // Zeros after the last record: preallocated space (or a partial
        // record whose first bytes were zeros), a clean end.
        let zeros_after = valid > 0 && bytes[valid as usize..].iter().all(|&b| b == 0);
        if file_len == valid || file_len == 0 || zeros_after {
            assert_eq!(report.damage, None);
            assert_eq!(report.cut, None);
            assert_eq!(report.preallocated, file_len.saturating_sub(valid));
        } else {
            let damage = report.damage.as_ref().expect("damage past the last record");
            assert!(damage.is_torn_tail(), "{damage}");
            assert_eq!(
                (damage.offset, damage.bytes_to_end),
                (valid, file_len - valid)
            );
            let cut = report.cut.as_ref().expect("a writer cuts a torn tail");
            assert_eq!((cut.offset, cut.bytes), (valid, file_len - valid));
        }
        self.live = self.states[last as usize].clone();
        self.partial = None;
        assert_eq!(store.snapshot(), self.live);
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn run(actions: Vec<Action>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.wal");
    let mut store = KvStore::create(&path).unwrap();
    let mut model = Model {
        states: vec![Map::new()],
        ends: vec![FILE_HEADER_LEN as u64],
        live: Map::new(),
        partial: None,
    };
    for action in actions {
        let blocked = model.partial.is_some();
        match action {
            Action::Put(k, value) => match store.put(KEYS[k], &value) {
                Err(Error::EndsInPartialRecord { .. }) if blocked => {}
                Ok(lsn) if !blocked => {
                    model.log(Op::Put, KEYS[k], &value, true);
                    assert_eq!(lsn, model.last_lsn());
                }
                other => panic!("put after partial {blocked}: {other:?}"),
            },
            Action::Delete(k) => match store.delete(KEYS[k]) {
                Err(Error::EndsInPartialRecord { .. }) if blocked => {}
                Ok(lsn) if !blocked => {
                    model.log(Op::Delete, KEYS[k], b"", true);
                    assert_eq!(lsn, model.last_lsn());
                }
                other => panic!("delete after partial {blocked}: {other:?}"),
            },
            Action::LogOnly(k, value) => match store.wal().append(Op::Put, KEYS[k], &value) {
                Err(Error::EndsInPartialRecord { .. }) if blocked => {}
                Ok(lsn) if !blocked => {
                    model.log(Op::Put, KEYS[k], &value, false);
                    assert_eq!(lsn, model.last_lsn());
                }
                other => panic!("log-only put after partial {blocked}: {other:?}"),
            },
            Action::Partial(k, value, at) => {
                let full = wal::record_len(KEYS[k].len(), value.len());
                let len = 1 + at.index(full - 1);
                match store.wal().append_partial(Op::Put, KEYS[k], &value, len) {
                    Err(Error::EndsInPartialRecord { .. }) if blocked => {}
                    Ok(lsn) if !blocked => {
                        assert_eq!(lsn, model.last_lsn() + 1);
                        let record = wal::Record {
                            lsn,
                            op: Op::Put,
                            key: KEYS[k].to_vec(),
                            value: value.clone(),
                        };
                        let encoded = wal::encode(&record, store.wal().format());
                        let start = model.ends[model.last_lsn() as usize];
                        let in_zeros = file_len(&path) >= start + encoded.len() as u64;
                        if in_zeros && encoded[len..].iter().all(|&b| b == 0) {
                            // Written into preallocated zeros, and the bytes
                            // that did not land were zeros too: the record
                            // is on disk whole (a recovery finds it, though
                            // it was never acknowledged).
                            model.log(Op::Put, KEYS[k], &value, false);
                            model.partial = Some(0);
                        } else {
                            model.partial = Some(len as u64);
                        }
                    }
                    other => panic!("partial after partial {blocked}: {other:?}"),
                }
            }
            Action::Reopen(sync) => {
                let logged = model.logged_len();
                drop(store);
                let bytes = std::fs::read(&path).unwrap();
                assert!(bytes.len() as u64 >= logged);
                assert!(
                    bytes[logged as usize..].iter().all(|&b| b == 0),
                    "the file holds exactly what was logged, then preallocated zeros"
                );
                store = reopen_now(&path, &mut model, sync);
            }
            Action::Crash(at) => {
                drop(store);
                // Cuts near the logged bytes: most of a preallocated file's
                // length is zeros.
                let near = file_len(&path).min(model.logged_len() + 40);
                let len = at.index(near as usize + 1) as u64;
                let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                file.set_len(len).unwrap();
                drop(file);
                model.cut_to(len);
                store = reopen_now(&path, &mut model, SyncPolicy::Always);
            }
        }
        assert_eq!(store.snapshot(), model.live);
        for key in KEYS {
            assert_eq!(store.get(key).as_ref(), model.live.get(key));
        }
    }
    drop(store);
    let store = reopen_now(&path, &mut model, SyncPolicy::Always);
    assert_eq!(store.snapshot(), model.states[model.last_lsn() as usize]);
}

fn reopen_now(path: &Path, model: &mut Model, sync: SyncPolicy) -> KvStore {
    let bytes = std::fs::read(path).unwrap();
    let options = WalOptions {
        sync,
        ..Default::default()
    };
    let (store, report) = KvStore::recover_with(path, options).unwrap();
    model.recovered(&report, &store, &bytes);
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_store_matches_a_model_through_reopens_and_crashes(
        actions in proptest::collection::vec(action(), 1..32)
    ) {
        run(actions);
    }
}
