//! Further than the lesson: record 6 torn after every one of its bytes, and
//! every single bit of it flipped, each on its own copy of the store's
//! directory with the store restarted on it.
//!
//! The cases run a few at a time ([`drill::cases`]), each in a directory of
//! its own that is removed once the case passed; the first failure stops the
//! sweep and is reported with its case, the same one a sequential run would
//! report.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use drill::cost::{self, StartCost};
use drill::files::{DirState, human_size};
use drill::{Doing, Options, Result, Steps, cases};

use crate::Fault;
use crate::scenario::{Crashed, Recovered, expect_recovered, start_on_damage};

/// Steps this part prints.
pub const STEPS: usize = 2;

/// The sweeps' directory inside the drill's own.
pub const SWEEP_DIR: &str = "sweep";

/// Under `--keep`, the first failing case of a sweep: the directory the
/// store restarted on, and the same state as built. The case's name goes in
/// `SWEEP_FAILED_AS_BUILT_DIR.case` beside them, where the `--keep` legend
/// reads it.
pub const SWEEP_FAILED_DIR: &str = "sweep-failed";
pub const SWEEP_FAILED_AS_BUILT_DIR: &str = "sweep-failed.as-built";

/// At most this many bit flips are tried: a store whose records are large
/// (a 4 KiB page per write, say) gets an evenly spread sample.
pub const MAX_FLIPS: usize = 4096;

/// At most this many tears are tried: for a record of more bytes (a store
/// that writes a page per record), the first and last bytes and an even
/// spread between them. Zeros a write grows its file by are not the
/// record's bytes ([`drill::files::Span`]), so preallocation does not make
/// a record long.
pub const MAX_TEARS: usize = 1024;

/// Where record 6 is torn: after each of its first `len - 1` bytes, or a
/// sample of them for a long record.
fn tear_points(len: usize) -> Vec<usize> {
    let all = len.saturating_sub(1);
    if all <= MAX_TEARS {
        return (1..len).collect();
    }
    let edge = 128;
    let middle = MAX_TEARS - 2 * edge;
    let mut points: Vec<usize> = (1..=edge).chain(len - edge..len).collect();
    let span = len - 2 * edge - 1;
    points.extend((0..middle).map(|i| edge + 1 + i * span / middle));
    points.sort_unstable();
    points.dedup();
    points
}

/// One damaged copy of the directory, described: its state is built only
/// when the case runs (and dropped after it), so that hundreds of cases
/// never hold hundreds of copies of the directory at once.
struct Case {
    name: String,
    damage: Damage,
    six_allowed: bool,
    flip: String,
}

/// What a case does to record 6.
enum Damage {
    /// Torn after this many of its bytes.
    Torn(usize),
    /// This bit of this byte flipped.
    Flipped { index: usize, bit: u8 },
}

impl Case {
    /// The directory as the case damages it: the crash's state, sharing
    /// every file but the record's.
    fn state(&self, crashed: &Crashed) -> DirState {
        let record = &crashed.record;
        let bytes = match self.damage {
            Damage::Torn(count) => record.torn(count),
            Damage::Flipped { index, bit } => record.flipped(index, bit).0,
        };
        crashed.before.with_file(&record.path, bytes)
    }
}

pub fn run(options: &Options<Fault>, crashed: &Crashed, steps: &mut Steps<'_>) -> Result<()> {
    let record = &crashed.record;
    let len = record.len();
    let root = options.dir.join(SWEEP_DIR);
    fs::create_dir(&root).doing(format!("create {}", root.display()))?;

    let tears: Vec<Case> = tear_points(len)
        .into_iter()
        .map(|count| Case {
            name: format!("record 6 torn after {count} of its {len} bytes"),
            damage: Damage::Torn(count),
            six_allowed: false,
            flip: String::new(),
        })
        .collect();
    if tears.len() == len - 1 {
        steps.step(format_args!(
            "cut at every offset: record 6 torn after each of its first 1 to {} bytes, the store restarted on each copy",
            len - 1
        ))?;
    } else {
        steps.step(format_args!(
            "cut at {} offsets: record 6 ({len} bytes) torn after each of its first and last 128 bytes and at an even spread between, the store restarted on each copy",
            tears.len()
        ))?;
    }
    if record.grown_zeros() > 0 {
        steps.note(format_args!(
            "each copy keeps {} at the {} bytes the write grew it to, zeros after the cut: what a power loss mid-write into preallocated space leaves",
            record.path.display(),
            record.after.len()
        ))?;
    }
    let outcomes = run_cases(options, crashed, &root, &tears)?;
    let mut costs: Vec<(&Case, StartCost)> = tears
        .iter()
        .zip(&outcomes)
        .map(|(case, (_, cost))| (case, *cost))
        .collect();
    steps.ok(format_args!(
        "{} of {} torn copies recovered exactly the state after the first 5 operations",
        outcomes.len(),
        tears.len()
    ))?;

    let bits = len * 8;
    let step = bits.div_ceil(MAX_FLIPS);
    let flips: Vec<Case> = (0..bits)
        .step_by(step)
        .map(|bit_index| {
            let (index, bit) = (bit_index / 8, (bit_index % 8) as u8);
            let offset = record.offset(index);
            let old = record.after[offset];
            let new = old ^ (1 << bit);
            Case {
                name: format!(
                    "bit {bit} of byte {index} of record 6 (offset {offset} of {}) flipped",
                    record.path.display()
                ),
                damage: Damage::Flipped { index, bit },
                six_allowed: true,
                flip: format!("the flipped byte 0x{old:02x}->0x{new:02x}"),
            }
        })
        .collect();
    let sampled = if step > 1 {
        format!(", every {step}th of its {bits} bits")
    } else {
        String::new()
    };
    steps.step(format_args!(
        "bit flips: each single-bit flip of record 6 ({} copies{sampled}), the store restarted on each",
        flips.len()
    ))?;
    let outcomes = run_cases(options, crashed, &root, &flips)?;
    costs.extend(
        flips
            .iter()
            .zip(&outcomes)
            .map(|(case, (_, cost))| (case, *cost)),
    );
    let mut by_outcome: BTreeMap<&str, usize> = BTreeMap::new();
    for (outcome, _) in &outcomes {
        let name = match outcome {
            Recovered::Five => "record 6 skipped (state after 5 operations)",
            Recovered::Six => {
                "the flip missed every byte the format uses (state after 6 operations)"
            }
        };
        *by_outcome.entry(name).or_default() += 1;
    }
    let breakdown: Vec<String> = by_outcome
        .iter()
        .map(|(name, count)| format!("{count}: {name}"))
        .collect();
    steps.ok(format_args!(
        "{} of {} flipped copies recovered no changed value and no lost key; {}",
        outcomes.len(),
        flips.len(),
        breakdown.join("; ")
    ))?;
    let starts: Vec<Duration> = costs.iter().map(|(_, cost)| cost.time).collect();
    let median = median(&starts);
    note_slow_start(steps, median, starts.len())?;
    note_costly_recovery(steps, crashed, &costs)?;
    note_slow_recovery(steps, crashed, &costs, median)?;
    fs::remove_dir(&root).doing(format!("remove {}", root.display()))
}

/// A store start slower than this makes the sweeps slow enough to say why.
const SLOW_START: Duration = Duration::from_millis(60);

/// Says so when the store was slow to start, with the usual cause. The
/// median, not the mean: a few slow recoveries are named on their own
/// ([`note_slow_recovery`]), and are no reason to suspect the command.
fn note_slow_start(steps: &mut Steps<'_>, median: Duration, starts: usize) -> Result<()> {
    if median < SLOW_START {
        return Ok(());
    }
    steps.note(format_args!(
        "note: the store took {} ms to start (the median of {} starts here); if its command starts with a version manager's shim (pyenv, asdf), give the interpreter itself, e.g. --store \"$(python3 -c 'import sys; print(sys.executable)') kvstore.py\"",
        median.as_millis(),
        starts
    ))
}

/// The median of `times`; zero for none.
fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Names the case whose recovery held the most memory, when it is far more
/// than the same store's start on an empty directory
/// ([`cost::costly_memory`]): a store that allocates what a damaged length
/// field claims (a flipped high bit) passes where the machine has the
/// memory, and fails elsewhere.
fn note_costly_recovery(
    steps: &mut Steps<'_>,
    crashed: &Crashed,
    costs: &[(&Case, StartCost)],
) -> Result<()> {
    let Some(empty) = crashed.empty_start.and_then(|empty| empty.memory) else {
        return Ok(());
    };
    let Some((case, used)) = costs
        .iter()
        .filter_map(|(case, cost)| Some((*case, cost.memory?)))
        .max_by_key(|(_, used)| *used)
    else {
        return Ok(());
    };
    if !cost::costly_memory(used, empty) {
        return Ok(());
    }
    steps.note(format_args!(
        "warning: recovery of a {}-byte log took {} of memory ({}; an empty start: {}): the store allocates what a damaged length field claims before checking that the bytes exist; where the machine has less memory, or several starts run at once, that start fails",
        log_len(crashed, case),
        human_size(used),
        case.name,
        human_size(empty)
    ))
}

/// Names the case whose start took longest, when it is far longer than the
/// same store's start on an empty directory ([`cost::slow_start`]), or than
/// the sweep's `median` start if that is longer: the empty start ran alone,
/// the sweep's run several at once on a machine that may be busy, and a few
/// slow cases do not move the median.
fn note_slow_recovery(
    steps: &mut Steps<'_>,
    crashed: &Crashed,
    costs: &[(&Case, StartCost)],
    median: Duration,
) -> Result<()> {
    let Some(empty) = crashed.empty_start.map(|empty| empty.time) else {
        return Ok(());
    };
    let Some((case, took)) = costs
        .iter()
        .map(|(case, cost)| (*case, cost.time))
        .max_by_key(|(_, took)| *took)
    else {
        return Ok(());
    };
    if !cost::slow_start(took, empty.max(median)) {
        return Ok(());
    }
    steps.note(format_args!(
        "warning: recovery of a {}-byte log took {:.1} s to READY ({}; an empty start: {} ms, the median start of this sweep: {} ms): the store's recovery reads, waits for or allocates far more than the log holds, most likely what a damaged length field claims; several such starts at once, or a slower machine, run out of the {} s a start has",
        log_len(crashed, case),
        took.as_secs_f64(),
        case.name,
        empty.as_millis(),
        median.as_millis(),
        drill::process::READY_TIMEOUT.as_secs()
    ))
}

/// The length of the log a case damaged.
fn log_len(crashed: &Crashed, case: &Case) -> usize {
    case.state(crashed)
        .file(&crashed.record.path)
        .map_or(0, <[u8]>::len)
}

/// Runs every case in a directory of its own under `root`: how each
/// recovered, and how long the store took to start.
fn run_cases(
    options: &Options<Fault>,
    crashed: &Crashed,
    root: &Path,
    cases: &[Case],
) -> Result<Vec<(Recovered, StartCost)>> {
    let numbered: Vec<(usize, &Case)> = cases.iter().enumerate().collect();
    let outcomes = cases::run_all(&numbered, |(number, case)| {
        let dir = root.join(format!("case-{number}"));
        case.state(crashed).write_to(&dir)?;
        let mut store = start_on_damage(
            &options.store.untraced(),
            &dir,
            &case.name,
            crashed.empty_start,
        )?;
        let recovered = expect_recovered(&mut store, &case.name, case.six_allowed, &case.flip)?;
        let cost = store.cost();
        store.close()?;
        fs::remove_dir_all(&dir).doing(format!("remove {}", dir.display()))?;
        Ok((recovered, cost))
    });
    if outcomes.is_err() && options.keep {
        keep_first_failure(options, crashed, root, cases)?;
    }
    outcomes
}

/// Keeps the first failing case of a sweep under names the `--keep` legend
/// shows. A passed case's directory is removed as soon as it passed, so the
/// lowest-numbered case directory left is the first case that failed: every
/// case below a failed one was claimed before it and finished, and the
/// failure reported is the lowest one ([`cases::run_all`]). Other failed
/// cases that ran at the same time are removed with the sweep's directory.
fn keep_first_failure(
    options: &Options<Fault>,
    crashed: &Crashed,
    root: &Path,
    cases: &[Case],
) -> Result<()> {
    let entries = fs::read_dir(root).doing(format!("list {}", root.display()))?;
    let first = entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            name.to_str()?.strip_prefix("case-")?.parse::<usize>().ok()
        })
        .min();
    if let Some(number) = first.filter(|&number| number < cases.len()) {
        let case = &cases[number];
        let kept = options.dir.join(SWEEP_FAILED_DIR);
        let from = root.join(format!("case-{number}"));
        fs::rename(&from, &kept).doing(format!("move {} to {}", from.display(), kept.display()))?;
        case.state(crashed)
            .write_to(&options.dir.join(SWEEP_FAILED_AS_BUILT_DIR))?;
        let named = options
            .dir
            .join(format!("{SWEEP_FAILED_AS_BUILT_DIR}.case"));
        fs::write(&named, &case.name).doing(format!("write {}", named.display()))?;
    }
    fs::remove_dir_all(root).doing(format!("remove {}", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_start_ignores_a_few_slow_ones() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(
            median(&[ms(90), ms(5_200), ms(80), ms(100), ms(85)]),
            ms(90)
        );
    }

    #[test]
    fn short_records_are_torn_everywhere_long_ones_sampled() {
        assert_eq!(tear_points(5), [1, 2, 3, 4]);
        let long = tear_points(1 << 20);
        assert!(long.len() <= MAX_TEARS && long.len() > MAX_TEARS - 10);
        assert_eq!(long[..3], [1, 2, 3]);
        assert_eq!(long.last(), Some(&((1 << 20) - 1)));
        assert!(long.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
