//! Further than the lesson: record six torn after every one of its bytes,
//! and every single bit of a complete record six flipped.
//!
//! Each case is a log of the five complete records followed by the damaged
//! sixth, read by [`wal::WalReader`] (the reader recovery itself uses) from
//! memory. Files would add nothing the lesson's part and the real crash do not
//! already show, and cost a lot: rewriting one file a few hundred times makes
//! ext4 wait for the previous write-back at every truncation (about 2 ms
//! each), and recovering through `KvStore` would add four fsyncs per case.

use std::collections::BTreeMap;
use std::io::Cursor;

use drill::{Doing, Result, Steps, expect, show};
use wal::{Damage, DamageKind, WalReader};

use crate::{FIRST_FIVE, SIXTH, apply, model, offset_of};

/// Steps this part prints.
pub const STEPS: usize = 2;

pub fn run(steps: &mut Steps<'_>) -> Result<()> {
    let five = five_records();
    let sixth = SIXTH.encode(6);
    let last_cut = sixth.len() - 1;

    steps.step(format_args!(
        "cut at every offset: record 6 ({} bytes) torn after each of its first 1 to {last_cut} bytes, each log replayed by the WAL reader",
        sixth.len()
    ))?;
    let mut cuts = Tally::default();
    for cut in 1..sixth.len() {
        let case = format!("record 6 cut after {cut} bytes");
        let replayed = replay(&case, &[five.as_slice(), &sixth[..cut]].concat())?;
        let verdict = judge(&replayed).and_then(|damage| {
            if damage.is_torn_tail() {
                Ok(damage)
            } else {
                Err(format!("damage judged as corruption: {damage}"))
            }
        });
        cuts.add(verdict, case);
    }
    cuts.expect_all("cuts of record 6 that recovered exactly 5 records as a torn tail")?;
    steps.ok(format_args!(
        "cut at every offset: {} of {} cuts recovered exactly 5 records and the state after 5 operations, each skipping a torn tail",
        cuts.passed, cuts.total
    ))?;

    steps.step(format_args!(
        "bit flips: each of the {} bits of a complete record 6 flipped in turn, each log replayed by the WAL reader",
        sixth.len() * 8
    ))?;
    let mut flips = Tally::default();
    for byte in 0..sixth.len() {
        for bit in 0..8 {
            let mut flipped = sixth.clone();
            flipped[byte] ^= 1 << bit;
            let case = format!("bit {bit} of byte {byte} of record 6 flipped");
            let replayed = replay(&case, &[five.as_slice(), &flipped].concat())?;
            flips.add(judge(&replayed), case);
        }
    }
    flips.expect_all("single-bit flips of record 6 that were caught and never applied")?;
    steps.ok(format_args!(
        "bit flips: {} of {} single-bit flips in record 6 were caught and never applied (5 records recovered each time): {}",
        flips.passed,
        flips.total,
        flips.breakdown()
    ))
}

/// A file header and [`FIRST_FIVE`] as records 1 to 5.
fn five_records() -> Vec<u8> {
    let mut bytes = wal::file_header().to_vec();
    for (operation, lsn) in FIRST_FIVE.iter().zip(1u64..) {
        bytes.extend(operation.encode(lsn));
    }
    bytes
}

/// What a replay of one case found.
struct Replayed {
    records: u64,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    damage: Option<Damage>,
}

/// Reads the log `bytes` (the case named `case`) to its end, applying every
/// record to an empty state.
fn replay(case: &str, bytes: &[u8]) -> Result<Replayed> {
    let doing = || format!("replay the log with {case}");
    let mut reader = WalReader::new(Cursor::new(bytes), bytes.len() as u64, case).doing(doing())?;
    let mut state = BTreeMap::new();
    while let Some(entry) = reader.next_entry().doing(doing())? {
        let record = entry.record;
        apply(&mut state, record.op, &record.key, &record.value);
    }
    let summary = reader.finish().doing(doing())?;
    Ok(Replayed {
        records: summary.records,
        state,
        damage: summary.damage,
    })
}

/// The damage found where record 6 starts, if the case recovered exactly
/// the five records and their state; otherwise what was wrong.
fn judge(replayed: &Replayed) -> std::result::Result<&Damage, String> {
    let expected_state = model(&FIRST_FIVE);
    if replayed.records != 5 {
        return Err(format!("{} records replayed", replayed.records));
    }
    if replayed.state != expected_state {
        return Err(format!("state {}", show::state(&replayed.state)));
    }
    match &replayed.damage {
        Some(damage) if damage.offset == offset_of(6) => Ok(damage),
        Some(damage) => Err(format!("damage reported at offset {}", damage.offset)),
        None => Err("no damage reported".to_string()),
    }
}

/// Counts of a sweep: how many cases passed, how the damage was classified,
/// and the first case that failed.
#[derive(Default)]
struct Tally {
    total: usize,
    passed: usize,
    by_kind: BTreeMap<&'static str, usize>,
    first_failure: Option<String>,
}

impl Tally {
    fn add(&mut self, verdict: std::result::Result<&Damage, String>, case: String) {
        self.total += 1;
        match verdict {
            Ok(damage) => {
                self.passed += 1;
                *self.by_kind.entry(kind_name(&damage.kind)).or_default() += 1;
            }
            Err(what) => {
                self.first_failure.get_or_insert(format!("{case}: {what}"));
            }
        }
    }

    fn expect_all(&self, what: &str) -> Result<()> {
        expect(
            what,
            self.passed == self.total,
            format!("{} of {}", self.total, self.total),
            format!(
                "{} of {} (first failure: {})",
                self.passed,
                self.total,
                self.first_failure.as_deref().unwrap_or("none")
            ),
        )
    }

    /// `200 checksum mismatches, 40 ...`, most frequent first.
    fn breakdown(&self) -> String {
        let mut kinds: Vec<_> = self.by_kind.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1));
        let parts: Vec<String> = kinds
            .into_iter()
            .map(|(kind, count)| format!("{count} {kind}"))
            .collect();
        parts.join(", ")
    }
}

fn kind_name(kind: &DamageKind) -> &'static str {
    match kind {
        DamageKind::ChecksumMismatch { .. } => "by checksum mismatch",
        DamageKind::Incomplete { .. } => "by a length running past the end of the file",
        DamageKind::InvalidField(_) => "by an impossible field",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay_five_and(sixth: &[u8]) -> Replayed {
        replay("test", &[five_records().as_slice(), sixth].concat()).unwrap()
    }

    #[test]
    fn judge_accepts_only_five_records_and_damage_at_record_6() {
        let torn = replay_five_and(&SIXTH.encode(6)[..10]);
        assert!(judge(&torn).unwrap().is_torn_tail());

        let applied = replay_five_and(&SIXTH.encode(6));
        assert_eq!(judge(&applied).unwrap_err(), "6 records replayed");

        let clean = replay_five_and(&[]);
        assert_eq!(judge(&clean).unwrap_err(), "no damage reported");

        let mut wrong_state = replay_five_and(&SIXTH.encode(6)[..10]);
        wrong_state.state.remove(&b"user:3"[..]);
        assert_eq!(
            judge(&wrong_state).unwrap_err(),
            "state {user:1=\"alicia\"}"
        );
    }

    #[test]
    fn tally_reports_the_first_failure() {
        let torn = replay_five_and(&SIXTH.encode(6)[..3]);
        let mut tally = Tally::default();
        tally.add(judge(&torn), "case a".into());
        tally.add(Err("6 records replayed".into()), "case b".into());
        tally.add(Err("no damage reported".into()), "case c".into());
        let err = tally.expect_all("cases").unwrap_err().to_string();
        assert_eq!(
            err,
            "cases: expected 3 of 3, found 1 of 3 (first failure: case b: 6 records replayed)"
        );
        assert_eq!(
            tally.breakdown(),
            "1 by a length running past the end of the file"
        );
    }
}
