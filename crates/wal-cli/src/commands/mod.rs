//! One module per subcommand, and what several of them share: opening a log
//! as a writer, describing what recovery cut, and naming the file in errors.
//!
//! Readers (`dump`, `verify`, `get`) go through [`wal::WalReader`] or
//! [`wal::replay`] and never modify the file. Writers (`put`, `delete`,
//! `load`) go through [`open_writer`], and `repair` through [`wal::open`]
//! directly, because it chooses the recovery mode.

pub mod checkpoint;
pub mod delete;
pub mod dump;
pub mod get;
pub mod load;
pub mod put;
pub mod repair;
pub mod serve;
pub mod verify;

use std::fmt::Display;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use wal::{CutTail, LogFormat, Op, RecoveryMode, RecoveryReport, SyncPolicy, Wal, WalOptions};

use crate::exit::Exit;
use crate::text::count;

/// Opens `path` for appending, creating it when missing.
///
/// A damaged tail with nothing readable behind it is cut off (saved beside
/// the log first) and reported on stderr. Damage with readable records behind
/// it is refused: the file is left untouched and the error says how to set
/// those records aside with `wal repair --force`.
pub fn open_writer(path: &Path, sync: SyncPolicy) -> anyhow::Result<Wal> {
    let options = WalOptions {
        sync,
        mode: RecoveryMode::TolerateTornTail,
    };
    let (wal, report) = wal::open(path, options, |_| {}).map_err(|err| {
        let advice = format!(
            "refusing to append behind it (the file is untouched); \
             `wal repair --force {}` keeps the records before the damage \
             and saves the rest beside the log",
            path.display()
        );
        explain_refusal(err, path, &advice)
    })?;
    if let Some(note) = cut_note(&report, wal.format()) {
        crate::stderr::note(format_args!("{}: {note}", path.display()));
    }
    Ok(wal)
}

/// Opens `path` as a writer, appends one record durably and prints its LSN:
/// the whole of `put` and `delete`.
pub fn append_one(path: &Path, op: Op, key: &[u8], value: &[u8]) -> anyhow::Result<Exit> {
    let wal = open_writer(path, SyncPolicy::Always)?;
    let lsn = wal.append(op, key, value).map_err(|err| named(err, path))?;
    print_line(lsn)?;
    Ok(Exit::Success)
}

/// What recovery cut off a log in `format`, if it cut anything: the line
/// the writers print on stderr and `repair` on stdout.
pub fn cut_note(report: &RecoveryReport, format: LogFormat) -> Option<String> {
    let (damage, cut) = (report.damage.as_ref()?, report.cut.as_ref()?);
    let what = if damage.is_torn_tail() {
        "torn tail".to_string()
    } else {
        format!("damaged tail ({})", damage.reason())
    };
    let mut note = format!(
        "cut {what} at offset {} ({} bytes), saved to {}",
        cut.offset,
        cut.bytes,
        cut.saved_to.display()
    );
    if let Some(zeros) = zeros_not_saved(cut, format) {
        note.push_str(&format!(
            " without the {} at its end (preallocated space)",
            count(zeros, "zero byte")
        ));
    }
    if damage.records_after > 0 {
        note.push_str(&format!(
            "; the saved bytes hold {}",
            count(damage.records_after, "readable record")
        ));
    }
    let kept = count(report.records_replayed, "record");
    match damage.highest_lsn_after {
        Some(highest) if highest == report.last_lsn => note.push_str(&format!(
            "; kept {kept}; LSNs continue after {highest}, the highest cut off"
        )),
        _ => note.push_str(&format!("; kept {kept}, last LSN {}", report.last_lsn)),
    }
    Some(note)
}

/// How many zero bytes at the end of a cut the saved tail leaves out: a
/// tail cut from a version-2 log is saved as a copy of the log's header
/// and the cut bytes up to the last non-zero one, not with the
/// preallocated zeros after it. `None` when it holds every byte cut, or
/// it cannot be read.
fn zeros_not_saved(cut: &CutTail, format: LogFormat) -> Option<u64> {
    let mut saved = File::open(&cut.saved_to).ok()?;
    let saved_len = saved.metadata().ok()?.len();
    // A header torn or damaged at creation (a cut at 0) has no copy: the
    // cut is the header.
    let header = wal::file_header(format);
    let mut head = vec![0; header.len()];
    let header_copy = format != LogFormat::V1
        && cut.offset > 0
        && saved.read_exact(&mut head).is_ok()
        && head == header;
    let kept = saved_len - if header_copy { header.len() as u64 } else { 0 };
    let zeros = cut.bytes.checked_sub(kept)?;
    (zeros > 0).then_some(zeros)
}

/// A recovery mode's refusal, with `advice` on what to do about it; any
/// other error is passed on with its file named.
pub fn explain_refusal(err: wal::Error, path: &Path, advice: &str) -> anyhow::Error {
    match &err {
        wal::Error::Damaged { damage, .. } => {
            let message = format!("{}: {damage}; {advice}", path.display());
            anyhow::Error::new(err).context(message)
        }
        _ => named(err, path),
    }
}

/// A library error as `wal` reports it: every message names the file.
/// Most library errors already do; the few about a record's content
/// (a key over the cap, say) get `path` put in front.
pub fn named(err: wal::Error, path: &Path) -> anyhow::Error {
    let names_no_file = matches!(
        err,
        wal::Error::KeyTooLong { .. }
            | wal::Error::ValueTooLong { .. }
            | wal::Error::DeleteWithValue
            | wal::Error::PartialTooLong { .. }
    );
    if names_no_file {
        let message = format!("{}: {err}", path.display());
        anyhow::Error::new(err).context(message)
    } else {
        anyhow::Error::new(err)
    }
}

/// Writes one line to stdout and flushes it.
pub fn print_line(line: impl Display) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// An error writing to stdout, with a message that says so.
pub fn stdout_error(err: io::Error) -> anyhow::Error {
    let message = format!("standard output: {err}");
    anyhow::Error::new(err).context(message)
}
