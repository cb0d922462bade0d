//! The schema of `wal dump --json`, as a small set of stable serde types.
//!
//! The document is one JSON object, written as the log is read so that
//! memory stays bounded whatever the size of the file:
//!
//! ```json
//! {"records":[{"offset":24,"lsn":1,"op":"put","key":"a","value":"1"}, ...],
//!  "tail":{"state":"clean","offset":70,"bytes":0,"preallocated":65466,
//!          "reason":null,"records_after":0}}
//! ```
//!
//! Keys and values are bytes. `key` and `value` hold them as text (invalid
//! UTF-8 replaced by U+FFFD); when that replacement was needed, `key_hex` or
//! `value_hex` also holds the exact bytes in lower-case hex, so the text
//! fields stay convenient and no byte is ever lost. A delete has
//! `"value": null`, which keeps it apart from a put of an empty value.

use std::io::{self, Write};

use serde::Serialize;
use wal::{Entry, Op, Summary};

use crate::text::hex;

/// One readable record, in file order.
#[derive(Debug, Serialize)]
pub struct JsonRecord {
    /// Byte offset of the record's first byte in the file.
    pub offset: u64,
    pub lsn: u64,
    pub op: JsonOp,
    /// The key as text (lossy UTF-8).
    pub key: String,
    /// The key's exact bytes in hex; present only when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hex: Option<String>,
    /// The value as text (lossy UTF-8); `null` for a delete.
    pub value: Option<String>,
    /// The value's exact bytes in hex; present only when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_hex: Option<String>,
}

/// The operation of a record.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonOp {
    Put,
    Delete,
}

/// How the log ends.
#[derive(Debug, Serialize)]
pub struct JsonTail {
    pub state: TailState,
    /// Where the readable records end: the end of the log when clean (the
    /// end of the file, or where its preallocated zeros begin), otherwise
    /// the offset of the first damaged record.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file that are damage (0 when
    /// clean).
    pub bytes: u64,
    /// Zero bytes preallocated after a clean log's end (0 when damaged).
    pub preallocated: u64,
    /// What is wrong at `offset`; `null` when clean.
    pub reason: Option<String>,
    /// Readable records found behind the damage (0 when clean or torn).
    pub records_after: u64,
}

/// `clean`: the file ends after its last record (or after it come only the
/// zeros a synced writer preallocated). `torn`: an unfinished last
/// write with nothing readable behind it. `corrupt`: any other damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TailState {
    Clean,
    Torn,
    Corrupt,
}

impl JsonRecord {
    pub fn new(entry: &Entry) -> JsonRecord {
        let record = &entry.record;
        let (key, key_hex) = text_and_hex(&record.key);
        let (value, value_hex) = match record.op {
            Op::Put => {
                let (text, hex) = text_and_hex(&record.value);
                (Some(text), hex)
            }
            Op::Delete => (None, None),
        };
        JsonRecord {
            offset: entry.offset,
            lsn: record.lsn,
            op: match record.op {
                Op::Put => JsonOp::Put,
                Op::Delete => JsonOp::Delete,
            },
            key,
            key_hex,
            value,
            value_hex,
        }
    }
}

impl JsonTail {
    pub fn new(summary: &Summary) -> JsonTail {
        match &summary.damage {
            None => JsonTail {
                state: TailState::Clean,
                offset: summary.valid_len,
                bytes: 0,
                preallocated: summary.preallocated,
                reason: None,
                records_after: 0,
            },
            Some(damage) => JsonTail {
                state: if damage.is_torn_tail() {
                    TailState::Torn
                } else {
                    TailState::Corrupt
                },
                offset: damage.offset,
                bytes: damage.bytes_to_end,
                preallocated: 0,
                reason: Some(damage.reason()),
                records_after: damage.records_after,
            },
        }
    }
}

fn text_and_hex(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(hex(bytes)),
        ),
    }
}

/// Writes the document piece by piece: records as they are read, the tail
/// last. Errors are `io::Error`s (serde_json hands back the original one),
/// so a closed pipe is recognised as such.
pub struct JsonDumpWriter<W: Write> {
    out: W,
    records_written: u64,
}

impl<W: Write> JsonDumpWriter<W> {
    pub fn begin(mut out: W) -> io::Result<Self> {
        out.write_all(b"{\"records\":[")?;
        Ok(JsonDumpWriter {
            out,
            records_written: 0,
        })
    }

    pub fn record(&mut self, record: &JsonRecord) -> io::Result<()> {
        if self.records_written > 0 {
            self.out.write_all(b",")?;
        }
        serde_json::to_writer(&mut self.out, record)?;
        self.records_written += 1;
        Ok(())
    }

    /// Closes the document with its tail; returns the writer.
    pub fn finish(mut self, tail: &JsonTail) -> io::Result<W> {
        self.out.write_all(b"],\"tail\":")?;
        serde_json::to_writer(&mut self.out, tail)?;
        self.out.write_all(b"}\n")?;
        Ok(self.out)
    }
}
