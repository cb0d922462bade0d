//! Reading what a writer cut off a log: the `NAME.broken-OFFSET` files.
//!
//! A saved tail holds the log's bytes from the damage on, byte for byte.
//! One cut from a version-2 log starts with a copy of the log's file header,
//! so that its records' checksums can be checked against the log's identity
//! (the preallocated zeros after the log's last byte are not saved); one cut
//! from a version-1 log holds the bytes and nothing else. Neither records the
//! LSN before it. So a tail is read on its own terms: from its first byte, every readable record (any
//! LSN) and every damaged stretch between them, in file order, with offsets
//! as they were in the log (`OFFSET` from the file's name plus the position
//! in the tail). Damaged stretches end where the search past damage finds
//! the next readable record.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::batch;
use crate::entry::Entry;
use crate::error::{Error, IoContext, Result};
use crate::format::{self, BATCH_OP, LogFormat, RECORD_HEADER_LEN, RecordCrc, RecordHeader};
use crate::reader::{check_regular_file, record_at_any_lsn};
use crate::record::DamageKind;
use crate::scan;

/// One stretch of a saved tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailPiece {
    /// A readable record (offset as it was in the log).
    Record(Entry),
    /// Bytes that are not a readable record, up to the next one or the end.
    Damaged {
        offset: u64,
        len: u64,
        /// What is wrong with a record starting there.
        kind: DamageKind,
    },
}

/// A saved tail, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTail {
    pub path: PathBuf,
    /// Offset in the log of the tail's first byte (from the file's name).
    pub origin: u64,
    /// The format of the log it was cut from (from the header it starts
    /// with; version 1 when it starts with none).
    pub format: LogFormat,
    /// The tail's bytes, in order (after the header copy).
    pub bytes: Vec<u8>,
    pub pieces: Vec<TailPiece>,
}

/// The offset a saved tail's name says it was cut at: `NAME.broken-OFFSET`
/// or `NAME.broken-OFFSET.K`. `None` for any other name.
pub fn saved_tail_origin(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let (_, after) = name.rsplit_once(".broken-")?;
    let digits = after.split_once('.').map_or(after, |(offset, k)| {
        if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
            offset
        } else {
            ""
        }
    });
    digits.parse().ok()
}

impl SavedTail {
    /// Reads the saved tail at `path`, which must be named like one. The
    /// whole tail is held in memory: a tail is what one cut removed.
    pub fn open(path: impl AsRef<Path>) -> Result<SavedTail> {
        let path = path.as_ref();
        let origin = saved_tail_origin(path).ok_or_else(|| Error::NotAWal {
            path: path.to_path_buf(),
            reason: "not named like a saved tail (NAME.broken-OFFSET)".to_string(),
        })?;
        check_regular_file(path)?;
        let mut bytes = fs::read(path).at(path)?;
        let format = header_copy(&bytes);
        if let Some(format) = format {
            bytes.drain(..format.header_len());
        }
        let format = format.unwrap_or(LogFormat::V1);
        let trimmed = matches!(format, LogFormat::V2 { .. });
        let pieces = pieces_of(&bytes, origin, &format.crc(), trimmed).at(path)?;
        Ok(SavedTail {
            path: path.to_path_buf(),
            origin,
            format,
            bytes,
            pieces,
        })
    }
}

/// The format of the header a tail cut from a version-2 log starts with.
/// (A version-1 tail starts with whatever the damage was; were that a valid
/// version-2 header, by a one in 2^32 chance, it would be read as one.)
fn header_copy(bytes: &[u8]) -> Option<LogFormat> {
    let len = format::claimed_header_len(bytes);
    match format::check_file_header(bytes.get(..len)?) {
        Ok(found @ LogFormat::V2 { .. }) => Some(found),
        _ => None,
    }
}

/// The pieces of `bytes`, a tail cut at `origin`. A `trimmed` tail (cut
/// from a version-2 log) was saved without the zeros after its last non-zero
/// byte, which may have been the last bytes of its last record: that record
/// is read as if they followed.
fn pieces_of(
    bytes: &[u8],
    origin: u64,
    crc: &RecordCrc,
    trimmed: bool,
) -> std::io::Result<Vec<TailPiece>> {
    let len = bytes.len() as u64;
    let mut pieces = Vec::new();
    let mut pos = 0u64;
    // Computed once: it looks at up to a record's length of the tail.
    let padding = if trimmed { overrun(bytes) } else { 0 };
    while pos < len {
        if trimmed && let Some(last) = last_with_zeros(&bytes[pos as usize..], crc) {
            pieces.extend(last.into_iter().map(|mut entry| {
                entry.offset += origin + pos;
                TailPiece::Record(entry)
            }));
            break;
        }
        if let Some(batch_len) = batch_at(&bytes[pos as usize..], crc) {
            // A whole batch: its records, at their offsets.
            let batch = &bytes[pos as usize..(pos + batch_len) as usize];
            let entries = batch_entries(batch, origin + pos);
            pieces.extend(entries.into_iter().map(TailPiece::Record));
            pos += batch_len;
            continue;
        }
        match record_at_any_lsn(&bytes[pos as usize..], crc) {
            Ok((record, record_len)) => {
                pieces.push(TailPiece::Record(Entry {
                    offset: origin + pos,
                    len: record_len,
                    record: record.to_record(),
                }));
                pos += record_len;
            }
            Err(kind) => {
                // LSN 0 before it: any readable record ends the stretch. In
                // a trimmed tail the last record may lack its final zeros:
                // when nothing stored is readable, the search reads the tail
                // again as if they followed (once: that is the last stretch).
                let search = |padding: u64| {
                    let mut src = ZeroPadded::new(bytes, padding);
                    scan::first_readable_after(&mut src, len + padding, pos, 0, crc)
                };
                let first = match search(0)? {
                    None if padding > 0 => search(padding)?,
                    found => found,
                };
                let end = first.unwrap_or(len).min(len);
                pieces.push(TailPiece::Damaged {
                    offset: origin + pos,
                    len: end - pos,
                    kind,
                });
                pos = end;
            }
        }
    }
    Ok(pieces)
}

/// The longest record the format allows: the most zeros a trimmed tail's
/// last record can lack.
const MAX_RECORD_LEN: u64 =
    RECORD_HEADER_LEN as u64 + format::MAX_KEY_LEN as u64 + format::MAX_VALUE_LEN as u64;

/// How far past the end of `bytes` a record that starts in them could
/// claim to run: the zeros a search of a trimmed tail must read as if they
/// followed. Only headers a writer could have produced count (a known op,
/// lengths under the caps), so an ordinary tail needs few or none, and a
/// crafted one at most a record's length.
fn overrun(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let from = len.saturating_sub(MAX_RECORD_LEN as usize);
    let mut most = 0u64;
    let mut header = [0u8; RECORD_HEADER_LEN];
    for at in from..len {
        let op = bytes.get(at + 12).copied().unwrap_or(0);
        if crate::record::Op::from_code(op).is_none() && op != BATCH_OP {
            continue;
        }
        let present = &bytes[at..len.min(at + RECORD_HEADER_LEN)];
        header.fill(0);
        header[..present.len()].copy_from_slice(present);
        let parsed = RecordHeader::parse(&header);
        if parsed.size_problem().is_none() {
            let end = at as u64 + parsed.record_len();
            most = most.max(end.saturating_sub(len as u64));
        }
    }
    most
}

/// A tail's bytes followed by `padding` zeros that are not stored.
struct ZeroPadded<'a> {
    bytes: &'a [u8],
    len: u64,
    pos: u64,
}

impl<'a> ZeroPadded<'a> {
    fn new(bytes: &'a [u8], padding: u64) -> Self {
        ZeroPadded {
            bytes,
            len: bytes.len() as u64 + padding,
            pos: 0,
        }
    }
}

impl Read for ZeroPadded<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let stored = self.bytes.get(self.pos as usize..).unwrap_or_default();
        let copied = n.min(stored.len());
        out[..copied].copy_from_slice(&stored[..copied]);
        out[copied..n].fill(0);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ZeroPadded<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(at) => at,
            SeekFrom::End(delta) => self.len.saturating_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.saturating_add_signed(delta),
        };
        Ok(self.pos)
    }
}

/// The records of the record or batch that starts `rest` and runs past its
/// end, if the zeros it lacks make it whole and valid (offsets from the
/// start of `rest`); `None` otherwise, or when it does not run past the end.
fn last_with_zeros(rest: &[u8], crc: &RecordCrc) -> Option<Vec<Entry>> {
    let mut padded = rest.get(..RECORD_HEADER_LEN).unwrap_or(rest).to_vec();
    padded.resize(RECORD_HEADER_LEN, 0);
    let header = RecordHeader::parse(padded[..].try_into().expect("header length"));
    let whole = usize::try_from(header.record_len()).ok()?;
    if header.size_problem().is_some() || whole <= rest.len() {
        return None;
    }
    padded = rest.to_vec();
    padded.resize(whole, 0);
    if header.op_code == BATCH_OP {
        batch_at(&padded, crc)?;
        return Some(batch_entries(&padded, 0));
    }
    let (record, len) = record_at_any_lsn(&padded, crc).ok()?;
    Some(vec![Entry {
        offset: 0,
        len,
        record: record.to_record(),
    }])
}

/// The records of a checked batch, at their offsets from `base` (the
/// batch's own).
fn batch_entries(batch: &[u8], base: u64) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut at = RECORD_HEADER_LEN;
    while let Some((record, record_len)) = batch::inner_at(batch, at) {
        entries.push(Entry {
            offset: base + at as u64,
            len: record_len as u64,
            record: record.to_record(),
        });
        at += record_len;
    }
    entries
}

/// The length of the batch at the start of `bytes`, if a whole, valid one
/// starts there (any first LSN).
fn batch_at(bytes: &[u8], crc: &RecordCrc) -> Option<u64> {
    let head = bytes.get(..RECORD_HEADER_LEN)?;
    let header = RecordHeader::parse(head.try_into().expect("header length"));
    if header.op_code != BATCH_OP || header.size_problem().is_some() {
        return None;
    }
    let len = header.record_len();
    let batch = bytes.get(..usize::try_from(len).ok()?)?;
    batch::check_batch(&header, batch, header.lsn, crc).ok()?;
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved tail holding a batch lists the batch's records.
    #[test]
    fn a_batch_in_a_saved_tail_is_read_record_by_record() {
        let records: Vec<_> = (5..8)
            .map(|lsn| crate::Record {
                lsn,
                op: crate::Op::Put,
                key: vec![b'k'],
                value: vec![b'v'; 3],
            })
            .collect();
        let format = LogFormat::new_log();
        let mut bytes = vec![0xEE; 7];
        bytes.extend_from_slice(&crate::format::encode_batch(&records, format));
        assert!(
            pieces_of(&bytes, 100, &LogFormat::new_log().crc(), false)
                .unwrap()
                .iter()
                .all(|piece| matches!(piece, TailPiece::Damaged { .. })),
            "another log's batch is no record of this one"
        );
        let pieces = pieces_of(&bytes, 100, &format.crc(), false).unwrap();
        assert!(matches!(
            pieces[0],
            TailPiece::Damaged {
                offset: 100,
                len: 7,
                ..
            }
        ));
        let found: Vec<_> = pieces[1..]
            .iter()
            .map(|piece| match piece {
                TailPiece::Record(entry) => (entry.offset, entry.record.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            found.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
            records
        );
        assert_eq!(found[0].0, 107 + RECORD_HEADER_LEN as u64);
    }

    #[test]
    fn names_of_saved_tails_give_their_offset() {
        for (name, origin) in [
            ("shop.wal.broken-170", Some(170)),
            ("dir/shop.wal.broken-16.2", Some(16)),
            ("shop.wal", None),
            ("shop.wal.broken-", None),
            ("shop.wal.broken-12x", None),
            ("shop.wal.broken-12.x", None),
        ] {
            assert_eq!(saved_tail_origin(Path::new(name)), origin, "{name}");
        }
    }
}
