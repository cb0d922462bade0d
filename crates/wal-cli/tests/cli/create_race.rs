//! Two `wal put` processes racing to create the same log, round after round:
//! both must be acknowledged with their own LSN, and the log must hold both
//! records and verify clean. Before creation was atomic, the loser of the
//! race could append a second header and a second LSN 1.

use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

use crate::support::Scratch;

const ROUNDS: usize = 100;
/// Generous: a `put` takes milliseconds; only a hang comes near this.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn racing_puts_create_one_log_holding_both_records() {
    let scratch = Scratch::new();
    for round in 0..ROUNDS {
        let path = scratch.dir.path().join(format!("race-{round}.wal"));
        let children: Vec<_> = ["left", "right"]
            .into_iter()
            .map(|key| {
                let child = Command::new(assert_cmd::cargo::cargo_bin!("wal"))
                    .args(["put", path.to_str().unwrap(), key, "acknowledged"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn wal put");
                (key, child)
            })
            .collect();
        let mut acks = Vec::new();
        for (key, mut child) in children {
            let status = child
                .wait_timeout(PATIENCE)
                .expect("wait for wal put")
                .unwrap_or_else(|| {
                    let _ = child.kill();
                    panic!("round {round}: `wal put` did not finish");
                });
            let output = child.wait_with_output().expect("collect output");
            assert!(
                status.success(),
                "round {round}: {key}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let lsn: u64 = String::from_utf8(output.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            acks.push((lsn, key.as_bytes().to_vec()));
        }
        acks.sort();
        let lsns: Vec<u64> = acks.iter().map(|(lsn, _)| *lsn).collect();
        assert_eq!(lsns, [1, 2], "round {round}: one LSN each");
        let summary = wal::WalReader::open(&path).unwrap();
        let records: Vec<_> = summary
            .map(|entry| {
                let record = entry.unwrap().record;
                (record.lsn, record.key)
            })
            .collect();
        assert_eq!(records, acks, "round {round}: both acknowledged records");
        let damage = wal::WalReader::open(&path)
            .unwrap()
            .finish()
            .unwrap()
            .damage;
        assert_eq!(damage, None, "round {round}: the log verifies clean");
    }
}
