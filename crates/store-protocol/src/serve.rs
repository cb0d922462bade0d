//! The reference store: `wal::KvStore` behind the store protocol.
//!
//! What it prints on stderr is part of the course: each write names its LSN,
//! its offset and length in the log and that it was fsync'd, and recovery
//! says what it replayed, what it skipped and what it cut. A drill shows
//! those lines under its steps, so a student reading a transcript of the
//! reference store sees what a store *should* be doing at each step.

use std::io::{self, BufRead, Write};
use std::path::Path;

use wal::{KvStore, Op, RecoveryReport};

use crate::{READY, Reply, Request};

/// The log's file name inside the store's directory.
pub const LOG_FILE: &str = "wal.log";

/// How a served session ended (a `CRASH` never returns: the process exits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The input reached its end: every reply was written.
    EndOfInput,
}

/// Runs the reference store on `dir` (created when missing): recovers
/// `dir/wal.log`, prints `READY ...` on `output`, then answers one request
/// per input line until the input ends.
///
/// `CRASH` ends the *process* at once with exit status 1, through
/// [`std::process::exit`]: no destructor runs and nothing buffered in the
/// store is flushed, which is what the lesson's `_exit(1)` asks for. (Every
/// acknowledged write is already fsync'd, so there is nothing to lose but
/// what a crash should lose.)
///
/// Errors are I/O errors on `output` or `log`, or a log that cannot be
/// opened; a failed write to the WAL is answered with `ERR` instead.
pub fn serve(
    dir: &Path,
    input: impl BufRead,
    mut output: impl Write,
    mut log: impl Write,
) -> io::Result<Ending> {
    // Keeps the mark in every program that can serve the reference store.
    std::hint::black_box(crate::REFERENCE_MARK);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(LOG_FILE);
    let existed = path.exists();
    let (store, report) = KvStore::recover(&path).map_err(io::Error::other)?;
    describe_recovery(&mut log, existed, &report)?;
    let skipped = u64::from(report.damage.is_some());
    writeln!(
        output,
        "{READY} replayed {}, skipped {skipped}",
        report.records_replayed
    )?;
    output.flush()?;

    for line in input.lines() {
        let line = line?;
        let reply = match Request::parse(&line) {
            Err(err) => Reply::Err(err.to_string()),
            Ok(Request::Crash) => {
                writeln!(log, "CRASH: exiting at once (exit status 1), no cleanup")?;
                log.flush()?;
                std::process::exit(1);
            }
            Ok(Request::Get { key }) => match store.get(&key) {
                Some(value) => Reply::Value(String::from_utf8_lossy(&value).into_owned()),
                None => Reply::NotFound,
            },
            Ok(request) => write(&store, &request, &path, &mut log)?,
        };
        writeln!(output, "{reply}")?;
        output.flush()?;
    }
    Ok(Ending::EndOfInput)
}

/// Performs a PUT, DEL or WALPUT and says on `log` where its record went.
fn write(
    store: &KvStore,
    request: &Request,
    path: &Path,
    log: &mut impl Write,
) -> io::Result<Reply> {
    let offset = store.wal().end_offset();
    let file_len = || std::fs::metadata(path).map(|m| m.len());
    let allocated = file_len()?;
    let (op, key, value, applied) = match request {
        Request::Put { key, value } => (Op::Put, key, value.as_str(), true),
        Request::Del { key } => (Op::Delete, key, "", true),
        Request::WalPut { key, value } => (Op::Put, key, value.as_str(), false),
        Request::Get { .. } | Request::Crash => unreachable!("not a write"),
    };
    let appended = match (op, applied) {
        (Op::Put, true) => store.put(key, value),
        (Op::Delete, _) => store.delete(key),
        (Op::Put, false) => store
            .wal()
            .append(Op::Put, key.as_bytes(), value.as_bytes()),
    };
    let lsn = match appended {
        Ok(lsn) => lsn,
        Err(err) => return Ok(Reply::Err(format!("{request}: {err}"))),
    };
    let len = wal::record_len(key.len(), value.len()) as u64;
    let then = if applied {
        "then applied to the map"
    } else {
        "NOT applied to the map"
    };
    writeln!(
        log,
        "{}: LSN {lsn}, {len} bytes at offset {offset} of {LOG_FILE}, fsync'd, {then}",
        request_name(request)
    )?;
    let grown = file_len()?;
    if grown > allocated {
        writeln!(
            log,
            "  ({LOG_FILE} preallocated: zeros after the record up to {grown} bytes, fsync'd \
             with it; the next records overwrite them in place, so their fsyncs write no \
             new file size)"
        )?;
    }
    Ok(Reply::Ok)
}

fn request_name(request: &Request) -> String {
    match request {
        Request::Put { key, .. } => format!("PUT {key}"),
        Request::Del { key } => format!("DEL {key}"),
        Request::WalPut { key, .. } => format!("WALPUT {key}"),
        other => other.to_string(),
    }
}

fn describe_recovery(
    log: &mut impl Write,
    existed: bool,
    report: &RecoveryReport,
) -> io::Result<()> {
    if !existed {
        return writeln!(
            log,
            "created {LOG_FILE} (header fsync'd, directory fsync'd)"
        );
    }
    match report.records_replayed {
        0 => writeln!(log, "replayed 0 records from {LOG_FILE}")?,
        n => writeln!(
            log,
            "replayed {n} record{} from {LOG_FILE} (last LSN {})",
            if n == 1 { "" } else { "s" },
            report.last_lsn
        )?,
    }
    if let Some(warning) = report.warning() {
        writeln!(log, "{warning}")?;
    }
    if let Some(cut) = &report.cut {
        let saved = cut.saved_to.file_name().map_or_else(
            || cut.saved_to.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let zeros = cut.bytes - cut.saved_bytes;
        let preallocated = if zeros > 0 {
            format!(", and the {zeros} preallocated zero bytes after them")
        } else {
            String::new()
        };
        writeln!(
            log,
            "cut {} damaged byte{} off at offset {}{preallocated} before appending (saved to {saved})",
            cut.saved_bytes,
            if cut.saved_bytes == 1 { "" } else { "s" },
            cut.offset
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wal::FILE_HEADER_LEN;

    fn session(dir: &Path, input: &str) -> (String, String) {
        let mut output = Vec::new();
        let mut log = Vec::new();
        let ending = serve(dir, input.as_bytes(), &mut output, &mut log).unwrap();
        assert_eq!(ending, Ending::EndOfInput);
        (
            String::from_utf8(output).unwrap(),
            String::from_utf8(log).unwrap(),
        )
    }

    #[test]
    fn answers_every_request_and_recovers_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (out, log) = session(
            dir.path(),
            "PUT a 1\nWALPUT b 2\nGET a\nGET b\nDEL a\nGET a\nbogus\n",
        );
        assert_eq!(
            out,
            "READY replayed 0, skipped 0\nOK\nOK\nVALUE 1\nNOT_FOUND\nOK\nNOT_FOUND\n\
             ERR unknown command \"bogus\" (expected PUT, DEL, GET, WALPUT or CRASH)\n"
        );
        assert!(log.starts_with("created wal.log"), "{log}");
        let (header, record) = (FILE_HEADER_LEN, wal::record_len(1, 1));
        let put = format!(
            "PUT a: LSN 1, {record} bytes at offset {header} of wal.log, fsync'd, then applied"
        );
        assert!(log.contains(&put), "{log}");
        let walput = format!(
            "WALPUT b: LSN 2, {record} bytes at offset {}",
            header + record
        );
        assert!(log.contains(&walput), "{log}");
        assert!(log.contains("NOT applied"), "{log}");
        assert!(
            log.contains("wal.log preallocated: zeros after the record up to 65536 bytes"),
            "{log}"
        );

        let (out, log) = session(dir.path(), "GET a\nGET b\n");
        assert_eq!(out, "READY replayed 3, skipped 0\nNOT_FOUND\nVALUE 2\n");
        assert!(
            log.contains("replayed 3 records from wal.log (last LSN 3)"),
            "{log}"
        );
    }

    #[test]
    fn a_torn_tail_is_skipped_cut_and_said() {
        let dir = tempfile::tempdir().unwrap();
        session(dir.path(), "PUT a 1\nPUT b 2\n");
        let path = dir.path().join(LOG_FILE);
        // Record 2's last 5 bytes never landed: zeros, as preallocated.
        let second = FILE_HEADER_LEN + wal::record_len(1, 1);
        let end = second + wal::record_len(1, 1);
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > end, "preallocated");
        bytes[end - 5..end].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let (out, log) = session(dir.path(), "GET a\nGET b\n");
        assert_eq!(out, "READY replayed 1, skipped 1\nVALUE 1\nNOT_FOUND\n");
        let skipped = format!("skipping corrupt record at offset {second} (");
        assert!(log.contains(&skipped), "{log}");
        assert!(log.contains("; a torn tail"), "{log}");
        let cut = format!(
            "cut {} damaged bytes off at offset {second}, and the {} preallocated zero bytes",
            wal::record_len(1, 1) - 5,
            bytes.len() - end + 5
        );
        assert!(log.contains(&cut), "{log}");
    }
}
