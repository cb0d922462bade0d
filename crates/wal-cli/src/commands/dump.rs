//! `wal dump FILE [--json]`: every readable record, then how the log ends.
//!
//! Records are written out as they are read, in both formats, so memory
//! stays bounded by one record whatever the size of the file.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use wal::{Entry, Op, SavedTail, Summary, WalReader};

use super::{print_line, stdout_error};
use crate::exit::Exit;
use crate::json::{JsonDumpWriter, JsonRecord, JsonTail};
use crate::layout::{damaged_table, frame_table, header_table, record_table};
use crate::text::{PREVIEW_CHARS, preallocated_line, quoted_preview};

#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// The log; never modified.
    pub file: PathBuf,
    /// Write one JSON document instead of a table (full keys and values).
    #[arg(long, conflicts_with = "bytes")]
    pub json: bool,
    /// Show every record's bytes in hex under the names of its fields (CRC,
    /// LSN, op, key len, value len, key, value) with their offsets; for a
    /// damaged or partial record, the bytes that are there, the fields they
    /// cover and what is missing.
    #[arg(long)]
    pub bytes: bool,
}

pub const EXAMPLES: &str = "\
The last line (or \"tail\" in JSON) is the verdict: `clean`, `torn tail at
offset X (N bytes)`, or `corrupt at offset X (reason); K readable records
after it`. dump exits 0 whenever it could read the file, whatever the
verdict; `wal verify` turns the verdict into an exit code.

A saved tail (FILE.broken-OFFSET, what a writer or `wal repair` cut off a
log) is read as such: its readable records and its damaged stretches in
order, at the offsets they had in the log. One cut from a version-2 log
starts with a copy of the log's 24-byte header (its log id checks the
records' checksums), which --bytes shows first; one cut from a version-1
log holds the cut bytes alone. A file named like a saved tail whose
records read as a log's from its header on is dumped as a log.

Examples:
  wal dump shop.wal
  wal dump shop.wal --bytes          every field of every record, in hex
  wal dump shop.wal.broken-170       what a cut removed
  wal dump shop.wal --json | jq '.records[] | select(.op == \"delete\")'";

pub fn run(args: &DumpArgs) -> anyhow::Result<Exit> {
    if wal::saved_tail_origin(&args.file).is_some() {
        let tail = SavedTail::open(&args.file)?;
        if !is_a_log(&tail)? {
            return saved_tail::run(&tail, args);
        }
    }
    if args.bytes {
        return dump_bytes(&args.file);
    }
    let mut reader = WalReader::open(&args.file)?;
    if let Some(snapshot) = wal::Snapshot::load_beside(&args.file)?
        && !args.json
    {
        print_line(format_args!(
            "snapshot {}: LSNs up to {}, {}; the log's records at or below it are skipped",
            wal::snapshot_path(&args.file).display(),
            snapshot.lsn,
            crate::text::count(snapshot.map.len() as u64, "key")
        ))?;
    }
    let out = BufWriter::new(io::stdout().lock());
    let mut format = if args.json {
        Format::Json(JsonDumpWriter::begin(out).map_err(stdout_error)?)
    } else {
        Format::Table(Table::begin(out).map_err(stdout_error)?)
    };
    while let Some(entry) = reader.next_entry()? {
        format.record(&entry).map_err(stdout_error)?;
    }
    let summary = reader.finish()?;
    format.finish(&summary).map_err(stdout_error)?;
    Ok(Exit::Success)
}

/// Whether a file named like a saved tail is a log after all (a log can be
/// given any name). One cut from a version-1 log starts with the damage, so
/// a version-1 log is told apart by its header. One cut from a version-2
/// log starts with a copy of the log's header, as a log does: it is a log
/// when its records are readable from that header on (a saved tail starts
/// with the damage that was cut, so read as a log it is damaged at once).
fn is_a_log(tail: &SavedTail) -> anyhow::Result<bool> {
    if tail.format == wal::LogFormat::V1 {
        return Ok(tail.read_at(tail.origin, wal::MAGIC.len() as u64)? == wal::MAGIC);
    }
    let mut reader = WalReader::open(&tail.path)?;
    if reader.next_entry()?.is_some() {
        return Ok(true);
    }
    let damage = reader.finish()?.damage;
    Ok(damage.is_none_or(|damage| damage.offset != tail.format.header_len() as u64))
}

type Stdout = BufWriter<io::StdoutLock<'static>>;

/// The two output formats, fed the same stream of records.
enum Format {
    Table(Table),
    Json(JsonDumpWriter<Stdout>),
}

impl Format {
    fn record(&mut self, entry: &Entry) -> io::Result<()> {
        match self {
            Format::Table(table) => table.record(entry),
            Format::Json(json) => json.record(&JsonRecord::new(entry)),
        }
    }

    fn finish(self, summary: &Summary) -> io::Result<()> {
        let mut out = match self {
            Format::Table(table) => table.finish(summary)?,
            Format::Json(json) => json.finish(&JsonTail::new(summary))?,
        };
        out.flush()
    }
}

/// The human-readable table.
struct Table {
    out: Stdout,
}

impl Table {
    fn begin(mut out: Stdout) -> io::Result<Table> {
        writeln!(
            out,
            "{:>10}  {:>8}  {:<6}  {:<24}  {:>9}  VALUE",
            "OFFSET", "LSN", "OP", "KEY", "VALUE_LEN"
        )?;
        Ok(Table { out })
    }

    fn record(&mut self, entry: &Entry) -> io::Result<()> {
        let record = &entry.record;
        let (len, value) = match record.op {
            Op::Put => (
                record.value.len().to_string(),
                quoted_preview(&record.value, PREVIEW_CHARS),
            ),
            Op::Delete => ("-".to_string(), "-".to_string()),
        };
        writeln!(
            self.out,
            "{:>10}  {:>8}  {:<6}  {:<24}  {:>9}  {value}",
            entry.offset,
            record.lsn,
            record.op.name(),
            quoted_preview(&record.key, PREVIEW_CHARS),
            len,
        )
    }

    /// A line of its own among the rows.
    fn line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())
    }

    fn finish(mut self, summary: &Summary) -> io::Result<Stdout> {
        if let Some(line) = preallocated_line(summary) {
            writeln!(self.out, "{line}")?;
        }
        match &summary.damage {
            None => writeln!(self.out, "clean")?,
            Some(damage) => writeln!(self.out, "{damage}")?,
        }
        Ok(self.out)
    }
}

/// `--bytes` on a log: the header, every readable record, then the damaged
/// or partial record where reading stopped, each field by field.
fn dump_bytes(path: &Path) -> anyhow::Result<Exit> {
    let mut reader = WalReader::open(path)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut file = File::open(path).with_context(|| path.display().to_string())?;
    let head = read_at(&mut file, 0, wal::FILE_HEADER_LEN as u64)
        .with_context(|| path.display().to_string())?;
    // The format is known once the header is read; the reader has read it.
    let format = reader.format();
    let header_len = format.map_or(0, |format| format.header_len());
    let mut entries = 0;
    let mut next = header_len as u64;
    let record_format = format.unwrap_or(wal::LogFormat::V1);
    while let Some(entry) = reader.next_entry()? {
        if let (0, Some(format)) = (entries, format) {
            write!(out, "{}", header_table(&head, format)).map_err(stdout_error)?;
        }
        entries += 1;
        // What the reader steps over between records: batch headers and
        // skip markers, 21 bytes each.
        while next < entry.offset {
            let frame = read_at(&mut file, next, wal::RECORD_HEADER_LEN as u64)
                .with_context(|| path.display().to_string())?;
            write!(out, "{}", frame_table(next, &frame)).map_err(stdout_error)?;
            next += wal::RECORD_HEADER_LEN as u64;
        }
        // The bytes as they are on disk (a record in a batch has CRC 0).
        let bytes = read_at(&mut file, entry.offset, entry.len)
            .with_context(|| path.display().to_string())?;
        write!(out, "{}", record_table(entry.offset, &bytes, record_format))
            .map_err(stdout_error)?;
        next = entry.offset + entry.len;
    }
    let summary = reader.finish()?;
    match &summary.damage {
        None => {
            if let (0, Some(format)) = (entries, format) {
                write!(out, "{}", header_table(&head, format)).map_err(stdout_error)?;
            }
            if let Some(line) = preallocated_line(&summary) {
                writeln!(out, "{line}").map_err(stdout_error)?;
            }
            writeln!(out, "clean").map_err(stdout_error)?;
        }
        Some(damage) => {
            if let (0, Some(format)) = (entries, format) {
                write!(out, "{}", header_table(&head, format)).map_err(stdout_error)?;
            }
            // The damaged bytes up to the first readable record behind them
            // (or the end), as far as a record can run (the caps bound
            // that): the layout shows the damaged record as far as its
            // header claims, or the header's worth when it cannot be
            // believed, and counts the rest.
            let most = (wal::RECORD_HEADER_LEN as u64 + u64::from(wal::MAX_KEY_LEN))
                + u64::from(wal::MAX_VALUE_LEN);
            let damaged = damage
                .first_readable_after
                .filter(|&readable| readable > damage.offset)
                .map_or(damage.bytes_to_end, |readable| readable - damage.offset);
            let bytes = read_at(&mut file, damage.offset, damaged.min(most))
                .with_context(|| path.display().to_string())?;
            let mut why = damage.reason();
            if damage.is_torn_tail() {
                why.push_str("; a torn tail");
            }
            if damage.offset == 0 {
                writeln!(out, "file header at offset 0 ({why})").map_err(stdout_error)?;
            } else {
                let table = damaged_table(damage.offset, &bytes, &why, record_format);
                write!(out, "{table}").map_err(stdout_error)?;
            }
            writeln!(out, "{damage}").map_err(stdout_error)?;
        }
    }
    out.flush().map_err(stdout_error)?;
    Ok(Exit::Success)
}

/// Up to `len` bytes of `file` from `offset`.
fn read_at(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Dumping a saved tail: its records and damaged stretches, in order.
mod saved_tail {
    use std::io::{self, Write};

    use wal::{SavedTail, TailPiece};

    use super::{DumpArgs, Table, damaged_table, header_table, record_table, stdout_error};
    use crate::exit::Exit;
    use crate::text::count;

    pub fn run(tail: &SavedTail, args: &DumpArgs) -> anyhow::Result<Exit> {
        anyhow::ensure!(
            !args.json,
            "{}: --json does not read saved tails; use the table or --bytes",
            tail.path.display()
        );
        let mut out = io::BufWriter::new(io::stdout().lock());
        let header_copy = match tail.format {
            wal::LogFormat::V1 => String::new(),
            format => format!(
                " after a copy of the log's {}-byte header",
                format.header_len()
            ),
        };
        writeln!(
            out,
            "saved tail: the bytes cut off a log at offset {} ({} bytes){header_copy}, \
             shown at the offsets they had in the log",
            tail.origin, tail.len
        )
        .map_err(stdout_error)?;
        if args.bytes && tail.format != wal::LogFormat::V1 {
            // The copy is the log's header byte for byte, at offset 0.
            let header = wal::file_header(tail.format);
            write!(out, "{}", header_table(&header, tail.format)).map_err(stdout_error)?;
        }
        let mut table = (!args.bytes)
            .then(|| Table::begin(out))
            .transpose()
            .map_err(stdout_error)?;
        let mut out = io::BufWriter::new(io::stdout().lock());
        let (mut records, mut damaged) = (0, 0);
        for piece in tail.pieces() {
            match piece? {
                TailPiece::Record(entry) => {
                    records += 1;
                    match &mut table {
                        Some(table) => table.record(&entry),
                        None => {
                            let bytes = record_bytes(tail, &entry)?;
                            write!(out, "{}", record_table(entry.offset, &bytes, tail.format))
                        }
                    }
                    .map_err(stdout_error)?;
                }
                TailPiece::Damaged { offset, len, kind } => {
                    damaged += 1;
                    let line = match &table {
                        Some(_) => format!("damaged at offset {offset} ({len} bytes): {kind}\n"),
                        None => {
                            // As far as a record can run, as for a log.
                            let most = (wal::RECORD_HEADER_LEN as u64
                                + u64::from(wal::MAX_KEY_LEN))
                                + u64::from(wal::MAX_VALUE_LEN);
                            let bytes = tail.read_at(offset, len.min(most))?;
                            damaged_table(offset, &bytes, &kind.to_string(), tail.format)
                        }
                    };
                    match &mut table {
                        Some(table) => table.line(&line),
                        None => write!(out, "{line}"),
                    }
                    .map_err(stdout_error)?;
                }
            }
        }
        let stretches = if damaged == 1 { "stretch" } else { "stretches" };
        let end = format!(
            "saved tail: {}, {damaged} damaged {stretches}\n",
            count(records, "readable record"),
        );
        match table {
            Some(mut table) => table.line(&end).and_then(|()| table.out.flush()),
            None => write!(out, "{end}").and_then(|()| out.flush()),
        }
        .map_err(stdout_error)?;
        Ok(Exit::Success)
    }

    /// A record's bytes as the tail's reader read it: a trimmed tail's last
    /// record with the zeros the cut did not save put back after it.
    fn record_bytes(tail: &SavedTail, entry: &wal::Entry) -> wal::Result<Vec<u8>> {
        let mut bytes = tail.read_at(entry.offset, entry.len)?;
        bytes.resize(entry.len as usize, 0);
        Ok(bytes)
    }
}
