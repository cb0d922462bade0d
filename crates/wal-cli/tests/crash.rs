//! Real crashes: a child `wal load --acks` killed with SIGKILL at
//! pseudo-random moments, over and over on the same log.
//!
//! After every kill, every record the child acknowledged must be in the log
//! with its exact value, the readable records must have contiguous LSNs from
//! 1, and `wal verify` must find at most a damaged tail (exit 0 or 1), never
//! damage with readable records behind it (exit 3). The next round's `load`
//! recovers the same file (cutting any torn tail) and must continue right
//! after the last readable record.
//!
//! The moment of each kill is "after the child has printed K acks", with K
//! drawn from a seeded xorshift, so the test synchronises on the child's own
//! output, never on sleeps. Rounds and wall-clock time are both bounded.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wal::WalReader;

/// xorshift64: small, deterministic, good enough to spread kill points.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Value sizes to cycle through: large values make a kill in the middle of
/// a record's `write` (a torn tail) likely; small ones many records per
/// round.
const VALUE_SIZES: [usize; 6] = [0, 17, 100, 4096, 100_000, 700_000];

fn key_for(lsn: u64) -> String {
    format!("key-{lsn:08}")
}

fn value_for(lsn: u64, size: usize) -> Vec<u8> {
    key_for(lsn).bytes().cycle().take(size).collect()
}

/// What the log must hold: which value size each run of LSNs was written
/// with, and the highest LSN ever acknowledged.
struct Expectation {
    /// `(first LSN of a round, value size of that round)`, in order.
    sizes: Vec<(u64, usize)>,
    max_acked: u64,
}

impl Expectation {
    fn size_of(&self, lsn: u64) -> usize {
        self.sizes
            .iter()
            .rev()
            .find(|(first, _)| *first <= lsn)
            .expect("every LSN was written by some round")
            .1
    }
}

struct Round {
    acks: Vec<u64>,
    stderr: String,
}

/// Runs `wal load` on `path` until it has printed `kill_after` acks, then
/// kills it with SIGKILL and collects every ack it printed.
fn load_and_kill(path: &Path, sync: &str, value_size: usize, kill_after: u64) -> Round {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("wal"))
        .arg("load")
        .arg(path)
        .args(["--records", "1000000", "--sync", sync, "--acks"])
        .args(["--value-size", &value_size.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wal load");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    let mut ended_early = false;
    while (acks.len() as u64) < kill_after {
        match lines.next() {
            Some(line) => acks.push(parse_ack(&line.expect("read ack"))),
            None => {
                ended_early = true;
                break;
            }
        }
    }
    child.kill().expect("SIGKILL the loader");
    let status = child.wait().expect("reap the loader");
    // Acks the child printed before it died count too: each is a promise.
    for line in lines {
        acks.push(parse_ack(&line.expect("read ack")));
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        !ended_early,
        "wal load ended by itself ({status}) after {} acks: {stderr}",
        acks.len()
    );
    Round { acks, stderr }
}

fn parse_ack(line: &str) -> u64 {
    line.strip_prefix("ack ")
        .and_then(|lsn| lsn.parse().ok())
        .unwrap_or_else(|| panic!("not an ack line: {line:?}"))
}

/// Checks the log after a kill; returns its last readable LSN.
fn check_log(path: &Path, expectation: &Expectation) -> u64 {
    let mut reader = WalReader::open(path).expect("open the log");
    let mut lsn = 0;
    while let Some(entry) = reader.next_entry().expect("read the log") {
        lsn += 1;
        let record = &entry.record;
        assert_eq!(record.lsn, lsn, "LSNs are contiguous from 1");
        assert_eq!(record.key, key_for(lsn).into_bytes(), "key of LSN {lsn}");
        assert!(
            record.value == value_for(lsn, expectation.size_of(lsn)),
            "value of LSN {lsn} is not what load wrote"
        );
    }
    let summary = reader.finish().expect("finish reading the log");
    assert!(
        lsn >= expectation.max_acked,
        "acked LSN {} lost: the log ends at LSN {lsn} ({:?})",
        expectation.max_acked,
        summary.damage
    );
    if let Some(damage) = &summary.damage {
        assert!(
            damage.is_tail_only(),
            "a kill left mid-log damage: {damage}"
        );
    }
    let verify = Command::new(assert_cmd::cargo::cargo_bin!("wal"))
        .arg("verify")
        .arg(path)
        .output()
        .expect("run wal verify");
    assert!(
        matches!(verify.status.code(), Some(0 | 1)),
        "wal verify: {verify:?}"
    );
    lsn
}

/// The log a series of crash rounds left behind.
struct CrashRun {
    rounds: u32,
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl CrashRun {
    /// Says what the kills did, for whoever reads the test output.
    fn report(&self, name: &str) {
        let cut_tails = fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|entry| {
                let name = entry.as_ref().unwrap().file_name();
                name.to_string_lossy().contains(".broken-")
            })
            .count();
        let records = WalReader::open(&self.path)
            .unwrap()
            .finish()
            .unwrap()
            .records;
        println!(
            "{name}: {} kills, {cut_tails} damaged tails cut, {records} records in the log",
            self.rounds
        );
        assert!(self.rounds >= 2, "only {} rounds ran", self.rounds);
    }
}

/// Kills `wal load --sync SYNC` up to `max_rounds` times (within `budget`)
/// and checks the log after each kill.
fn crash_rounds(
    seed: u64,
    sync: impl Fn(&mut Xorshift) -> String,
    max_acks: u64,
    max_rounds: u32,
    budget: Duration,
) -> CrashRun {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.wal");
    let mut rng = Xorshift(seed);
    let mut expectation = Expectation {
        sizes: Vec::new(),
        max_acked: 0,
    };
    let mut last_lsn = 0;
    let mut rounds = 0;
    while rounds < max_rounds && started.elapsed() < budget {
        let value_size = VALUE_SIZES[(rounds as usize) % VALUE_SIZES.len()];
        let kill_after = rng.below(max_acks + 1);
        let sync = sync(&mut rng);
        expectation.sizes.push((last_lsn + 1, value_size));
        let round = load_and_kill(&path, &sync, value_size, kill_after);
        // Acks continue right after the log's last readable record.
        for (index, lsn) in round.acks.iter().enumerate() {
            assert_eq!(
                *lsn,
                last_lsn + 1 + index as u64,
                "round {rounds} ({sync}): acks out of order; stderr: {}",
                round.stderr
            );
        }
        if let Some(last) = round.acks.last() {
            expectation.max_acked = *last;
        }
        last_lsn = check_log(&path, &expectation);
        rounds += 1;
    }
    CrashRun { rounds, dir, path }
}

#[test]
fn sigkill_during_sync_always_loses_no_acked_record() {
    crash_rounds(
        0x9e37_79b9_7f4a_7c15,
        |_| "always".to_string(),
        60,
        14,
        Duration::from_secs(12),
    )
    .report("always");
}

#[test]
fn sigkill_during_batched_sync_loses_no_acked_record() {
    crash_rounds(
        0xd1b5_4a32_d192_ed03,
        |rng| format!("batch:{}", 2 + rng.below(31)),
        150,
        6,
        Duration::from_secs(6),
    )
    .report("batch");
}
