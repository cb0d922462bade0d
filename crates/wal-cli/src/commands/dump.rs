//! `wal dump FILE [--json]`: every readable record, then how the log ends.
//!
//! Records are written out as they are read, in both formats, so memory
//! stays bounded by one record whatever the size of the file.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use wal::{Entry, Op, Summary, WalReader};

use super::stdout_error;
use crate::exit::Exit;
use crate::json::{JsonDumpWriter, JsonRecord, JsonTail};
use crate::text::{PREVIEW_CHARS, quoted_preview};

#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// The log; never modified.
    pub file: PathBuf,
    /// Write one JSON document instead of a table (full keys and values).
    #[arg(long)]
    pub json: bool,
}

pub const EXAMPLES: &str = "\
The last line (or \"tail\" in JSON) is the verdict: `clean`, `torn tail at
offset X (N bytes)`, or `corrupt at offset X (reason); K readable records
after it`. dump exits 0 whenever it could read the file, whatever the
verdict; `wal verify` turns the verdict into an exit code.

Examples:
  wal dump shop.wal
  wal dump shop.wal --json | jq '.records[] | select(.op == \"delete\")'";

pub fn run(args: &DumpArgs) -> anyhow::Result<Exit> {
    let mut reader = WalReader::open(&args.file)?;
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

    fn finish(mut self, summary: &Summary) -> io::Result<Stdout> {
        match &summary.damage {
            None => writeln!(self.out, "clean")?,
            Some(damage) => writeln!(self.out, "{damage}")?,
        }
        Ok(self.out)
    }
}
