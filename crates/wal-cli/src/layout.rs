//! `wal dump --bytes`: each record's bytes under the names of its fields.
//!
//! A record is laid out field by field (offset in the file, the field's
//! bytes in hex, what they mean), following the byte table in the `wal`
//! crate's documentation. Bytes that do not make a whole record are laid
//! out the same way as far as they go: each field they cover, a field they
//! cut short with how many of its bytes are there, and then what is
//! missing, so a partial record reads as "the CRC and 6 bytes of the LSN
//! landed; the rest of the record did not".

use std::fmt::Write as _;

use wal::{LogFormat, MAGIC, Op, RECORD_HEADER_LEN};

use crate::text::{count, quoted_preview};

/// Bytes of a key or value shown in hex before the rest is summarised.
const HEX_SHOWN: usize = 16;

/// One field: its name, where it starts in a record, and its length when
/// that is known (the key and the value take theirs from the header).
struct Field {
    name: &'static str,
    start: usize,
    len: Option<usize>,
}

/// The fields of the record starting at `bytes[0]`, as far as its header
/// says (key and value lengths unknown while the header is cut short).
fn fields(bytes: &[u8]) -> Vec<Field> {
    let length_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    let key_len = length_at(13);
    let value_len = length_at(17);
    let key_start = RECORD_HEADER_LEN;
    vec![
        Field {
            name: "CRC",
            start: 0,
            len: Some(4),
        },
        Field {
            name: "LSN",
            start: 4,
            len: Some(8),
        },
        Field {
            name: "op",
            start: 12,
            len: Some(1),
        },
        Field {
            name: "key len",
            start: 13,
            len: Some(4),
        },
        Field {
            name: "value len",
            start: 17,
            len: Some(4),
        },
        Field {
            name: "key",
            start: key_start,
            len: key_len,
        },
        Field {
            name: "value",
            start: key_start + key_len.unwrap_or(0),
            len: value_len.filter(|_| key_len.is_some()),
        },
    ]
}

/// The table of the fields of a file header in `format`.
pub fn header_table(bytes: &[u8], format: LogFormat) -> String {
    let len = format.header_len();
    let mut out = format!(
        "file header at offset 0 ({len} bytes, format version {})\n",
        format.version()
    );
    let mut rows: Vec<(&str, std::ops::Range<usize>)> =
        vec![("magic", 0..8), ("version", 8..10), ("reserved", 10..12)];
    if format.id().is_some() {
        rows.push(("log id", 12..20));
    }
    rows.push(("header CRC", len - 4..len));
    for (name, range) in rows {
        let field = &bytes[range.clone()];
        let meaning = match name {
            "magic" if field == MAGIC => "\"KVWAL\\r\\n\\x1a\"".to_string(),
            "magic" => "not the WAL magic".to_string(),
            "header CRC" => format!("{:#010x}", le(field)),
            "log id" => format!("{:#018x} (every record's CRC covers it)", le(field)),
            _ => le(field).to_string(),
        };
        row(
            &mut out,
            range.start as u64,
            name,
            &hex_bytes(field),
            &meaning,
        );
    }
    out
}

/// The table of a frame the reader steps over: the header of a batch (its
/// record count and bytes; one checksum for all its records) or an LSN skip
/// marker.
pub fn frame_table(offset: u64, bytes: &[u8]) -> String {
    let lsn = le(&bytes[4..12]);
    let mut out = if bytes[12] == wal::BATCH_OP {
        format!(
            "batch at offset {offset} (LSN {lsn} on, {} in {}; one checksum for all)\n",
            count(le(&bytes[13..17]), "record"),
            count(le(&bytes[17..21]), "byte"),
        )
    } else {
        format!("LSN skip marker at offset {offset} (the next LSN follows {lsn})\n")
    };
    let rows: [(&str, std::ops::Range<usize>); 5] = [
        ("CRC", 0..4),
        ("LSN", 4..12),
        ("op", 12..13),
        ("records", 13..17),
        ("bytes", 17..21),
    ];
    for (name, range) in rows {
        let field = &bytes[range.clone()];
        let meaning = match name {
            "CRC" => format!("{:#010x}", le(field)),
            "op" if field[0] == wal::BATCH_OP => "batch".to_string(),
            "op" => "LSN skip".to_string(),
            _ => le(field).to_string(),
        };
        row(
            &mut out,
            offset + range.start as u64,
            name,
            &hex_bytes(field),
            &meaning,
        );
    }
    out
}

/// The table of a readable record's fields; `offset` is where it starts.
pub fn record_table(offset: u64, bytes: &[u8], format: LogFormat) -> String {
    let lsn = le(&bytes[4..12]);
    let mut out = format!(
        "record at offset {offset} (LSN {lsn}, {} bytes)\n",
        bytes.len()
    );
    lay_out(&mut out, offset, bytes, format);
    out
}

/// The table of bytes at `offset` that are not a readable record: the
/// fields they cover, and what is missing. `why` says what is wrong.
pub fn damaged_table(offset: u64, bytes: &[u8], why: &str, format: LogFormat) -> String {
    let claimed = claimed_len(bytes);
    let mut out = match claimed {
        Some(len) if len > bytes.len() => format!(
            "partial record at offset {offset} ({} of {len} bytes; {why})\n",
            bytes.len()
        ),
        None => format!(
            "partial record at offset {offset} ({} bytes, less than its \
             {RECORD_HEADER_LEN}-byte header; {why})\n",
            bytes.len()
        ),
        _ => format!(
            "damaged record at offset {offset} ({} bytes; {why})\n",
            bytes.len()
        ),
    };
    let shown = claimed.map_or(bytes.len(), |len| len.min(bytes.len()));
    lay_out(&mut out, offset, &bytes[..shown], format);
    let rest = &bytes[shown..];
    if !rest.is_empty() {
        // All zeros, after a record torn in preallocated space, are the
        // space the writer had not reached yet.
        let what = if rest.iter().all(|&b| b == 0) {
            "zero"
        } else {
            "more"
        };
        let _ = writeln!(
            out,
            "  then {} {what} bytes up to the next readable record or the end",
            rest.len()
        );
    }
    out
}

/// The whole record's length as its header claims, once the header is there.
fn claimed_len(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..RECORD_HEADER_LEN)?;
    Some(RECORD_HEADER_LEN + le(&header[13..17]) as usize + le(&header[17..21]) as usize)
}

fn lay_out(out: &mut String, offset: u64, bytes: &[u8], format: LogFormat) {
    let mut missing = Vec::new();
    for field in fields(bytes) {
        let at = offset + field.start as u64;
        let present = bytes.get(field.start..).unwrap_or(&[]);
        let Some(len) = field.len else {
            row(
                out,
                at,
                field.name,
                "",
                "missing (its length is in the missing header)",
            );
            missing.push(field.name.to_string());
            continue;
        };
        if present.is_empty() && len > 0 {
            let bytes = count(len as u64, "byte");
            row(out, at, field.name, "", &format!("missing ({bytes})"));
            missing.push(format!("{} ({bytes})", field.name));
            continue;
        }
        let got = &present[..len.min(present.len())];
        let meaning = if got.len() < len {
            let short = count((len - got.len()) as u64, "byte");
            missing.push(format!("{short} of the {}", field.name));
            format!("{} of {len} bytes; {} missing", got.len(), len - got.len())
        } else {
            meaning(field.name, got, bytes, format)
        };
        row(out, at, field.name, &hex_bytes(got), &meaning);
    }
    if !missing.is_empty() {
        let _ = writeln!(out, "  missing: {}", missing.join(", "));
    }
}

/// What a whole field's bytes mean.
fn meaning(name: &str, field: &[u8], record: &[u8], format: LogFormat) -> String {
    match name {
        "CRC" if le(field) == 0 && claimed_len(record) == Some(record.len()) => {
            "0: in a batch, whose checksum covers it".to_string()
        }
        "CRC" => {
            let stored = le(field) as u32;
            let computed = format.record_crc(&record[4..]);
            if claimed_len(record) == Some(record.len()) && stored != computed {
                format!("{stored:#010x} (the bytes give {computed:#010x})")
            } else {
                format!("{stored:#010x}")
            }
        }
        "op" => Op::from_code(field[0]).map_or_else(
            || format!("unknown op {}", field[0]),
            |op| op.name().to_string(),
        ),
        "key" | "value" => quoted_preview(field, 40),
        _ => le(field).to_string(),
    }
}

fn row(out: &mut String, offset: u64, name: &str, hex: &str, meaning: &str) {
    let _ = writeln!(out, "  {offset:>10}  {name:<10}  {hex:<48}  {meaning}");
}

/// Space-separated hex of `bytes`, the first [`HEX_SHOWN`] of a long field.
fn hex_bytes(bytes: &[u8]) -> String {
    let mut out = bytes
        .iter()
        .take(HEX_SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    if bytes.len() > HEX_SHOWN {
        let _ = write!(out, " … ({} bytes)", bytes.len());
    }
    out
}

/// A little-endian integer of up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |n, &b| (n << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: LogFormat = LogFormat::V2 { id: 9 };

    /// `put k vv` with LSN 6: 24 bytes.
    fn sixth_record() -> Vec<u8> {
        let record = wal::Record {
            lsn: 6,
            op: Op::Put,
            key: b"k".to_vec(),
            value: b"vv".to_vec(),
        };
        wal::encode(&record, FORMAT)
    }

    #[test]
    fn a_record_is_laid_out_under_its_field_names() {
        let bytes = sixth_record();
        let table = record_table(100, &bytes, FORMAT);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "record at offset 100 (LSN 6, 24 bytes)");
        assert!(lines[2].starts_with("         104  LSN         06 00 00 00 00 00 00 00"));
        assert!(lines[2].ends_with("  6"), "{}", lines[2]);
        assert!(lines[3].ends_with("  put"));
        assert!(lines[6].starts_with("         121  key         6b "));
        assert!(lines[7].starts_with("         122  value       76 76 "));
        assert!(lines[7].ends_with("\"vv\""));
        assert_eq!(lines.len(), 8, "{table}");
    }

    #[test]
    fn a_partial_record_shows_what_landed_and_what_is_missing() {
        let bytes = sixth_record();
        let table = damaged_table(170, &bytes[..10], "incomplete record", FORMAT);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "partial record at offset 170 (10 bytes, less than its 21-byte header; \
             incomplete record)"
        );
        assert!(lines[1].starts_with("         170  CRC  "), "{table}");
        assert!(lines[2].starts_with("         174  LSN         06 00 00 00 00 00  "));
        assert!(lines[2].ends_with("6 of 8 bytes; 2 missing"), "{table}");
        assert!(lines[3].ends_with("missing (1 byte)"), "{table}");
        assert!(lines[6].ends_with("missing (its length is in the missing header)"));
        assert_eq!(
            *lines.last().unwrap(),
            "  missing: 2 bytes of the LSN, op (1 byte), key len (4 bytes), \
             value len (4 bytes), key, value"
        );
        // With the header there, the record's length is known.
        let table = damaged_table(170, &bytes[..22], "incomplete record", FORMAT);
        assert!(
            table.starts_with("partial record at offset 170 (22 of 24 bytes;"),
            "{table}"
        );
        assert!(table.ends_with("  missing: value (2 bytes)\n"), "{table}");
        let table = damaged_table(170, &bytes[..23], "incomplete record", FORMAT);
        assert!(
            table.ends_with("  missing: 1 byte of the value\n"),
            "{table}"
        );
    }
}
