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
//! the next readable record. The tail is read from its file as the pieces
//! are asked for, never whole: a record (or batch) at a time, plus the
//! search's bounded buffers.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::batch;
use crate::entry::Entry;
use crate::error::{Error, IoContext, Result};
use crate::format::{
    self, BATCH_OP, FILE_HEADER_LEN, LogFormat, RECORD_HEADER_LEN, RecordCrc, RecordHeader,
};
use crate::reader::{check_regular_file, record_at_any_lsn};
use crate::record::{DamageKind, MAX_KEY_LEN, MAX_VALUE_LEN};
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

/// A saved tail, open for reading. Its pieces are read from the file as a
/// stream ([`SavedTail::pieces`]): memory holds a record (or a batch) and
/// the search's bounded buffers, whatever the tail's size.
#[derive(Debug)]
pub struct SavedTail {
    pub path: PathBuf,
    /// Offset in the log of the tail's first byte (from the file's name).
    pub origin: u64,
    /// The format of the log it was cut from (from the header it starts
    /// with; version 1 when it starts with none).
    pub format: LogFormat,
    /// How many of the log's bytes the tail holds (after the header copy).
    pub len: u64,
    file: File,
    /// Where the log's bytes start in the file: after the header copy.
    base: u64,
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
    /// Opens the saved tail at `path`, which must be named like one, and
    /// reads the header copy it may start with. Nothing more is read until
    /// [`SavedTail::pieces`] or [`SavedTail::read_at`].
    pub fn open(path: impl AsRef<Path>) -> Result<SavedTail> {
        let path = path.as_ref();
        let origin = saved_tail_origin(path).ok_or_else(|| Error::NotAWal {
            path: path.to_path_buf(),
            reason: "not named like a saved tail (NAME.broken-OFFSET)".to_string(),
        })?;
        check_regular_file(path)?;
        let file = File::open(path).at(path)?;
        let file_len = file.metadata().at(path)?.len();
        let mut head =
            vec![0; FILE_HEADER_LEN.min(usize::try_from(file_len).unwrap_or(usize::MAX))];
        file.read_exact_at(&mut head, 0).at(path)?;
        let format = header_copy(&head);
        let base = format.map_or(0, |format| format.header_len() as u64);
        Ok(SavedTail {
            path: path.to_path_buf(),
            origin,
            format: format.unwrap_or(LogFormat::V1),
            len: file_len - base,
            file,
            base,
        })
    }

    /// The tail's readable records and damaged stretches, in file order,
    /// read from the file as they are handed out.
    pub fn pieces(&self) -> TailPieces<'_> {
        TailPieces {
            tail: self,
            crc: self.format.crc(),
            trimmed: matches!(self.format, LogFormat::V2 { .. }),
            pos: 0,
            padding: None,
            queued: VecDeque::new(),
            failed: false,
        }
    }

    /// The stored bytes at `offset` (as in the log) up to `len` of them:
    /// fewer where the tail ends.
    pub fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let at = offset.saturating_sub(self.origin).min(self.len);
        self.source(0).stored_at(at, len).at(&self.path)
    }

    /// The tail's bytes followed by `padding` zeros that are not stored.
    fn source(&self, padding: u64) -> TailSource<'_> {
        TailSource {
            file: &self.file,
            base: self.base,
            stored: self.len,
            len: self.len + padding,
            pos: 0,
        }
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

/// The pieces of a saved tail, read as they are asked for (see
/// [`SavedTail::pieces`]). A tail cut from a version-2 log (`trimmed`) was
/// saved without the zeros after its last non-zero byte, which may have
/// been the last bytes of its last record: that record is read as if they
/// followed. An I/O error ends the pieces.
pub struct TailPieces<'a> {
    tail: &'a SavedTail,
    crc: RecordCrc,
    trimmed: bool,
    /// Where the next piece starts, from the tail's first byte.
    pos: u64,
    /// The zeros a search of a trimmed tail reads as if they followed;
    /// worked out at the first damaged stretch.
    padding: Option<u64>,
    /// The records of a batch, handed out one by one.
    queued: VecDeque<TailPiece>,
    failed: bool,
}

impl Iterator for TailPieces<'_> {
    type Item = Result<TailPiece>;

    fn next(&mut self) -> Option<Result<TailPiece>> {
        if self.queued.is_empty()
            && !self.failed
            && self.pos < self.tail.len
            && let Err(err) = self.step()
        {
            self.failed = true;
            return Some(Err(Error::io(&self.tail.path, err)));
        }
        self.queued.pop_front().map(Ok)
    }
}

impl TailPieces<'_> {
    /// Reads the piece (or the batch's records) at `pos` and moves past it.
    fn step(&mut self) -> io::Result<()> {
        let (pos, len, origin) = (self.pos, self.tail.len, self.tail.origin);
        let rest = len - pos;
        let source = self.tail.source(0);
        let head = source.stored_at(pos, RECORD_HEADER_LEN as u64)?;
        if self.trimmed
            && let Some(last) = self.last_with_zeros(pos, &head)?
        {
            self.queued.extend(last.into_iter().map(|mut entry| {
                entry.offset += origin + pos;
                TailPiece::Record(entry)
            }));
            self.pos = len;
            return Ok(());
        }
        let header = (head.len() == RECORD_HEADER_LEN)
            .then(|| RecordHeader::parse(head[..].try_into().expect("header length")));
        let whole = header
            .filter(|h| h.size_problem().is_none() && h.record_len() <= rest)
            .map(|h| h.record_len());
        let bytes = match whole {
            Some(record_len) => source.stored_at(pos, record_len)?,
            None => head,
        };
        if let Some(batch_len) = batch_at(&bytes, &self.crc) {
            // A whole batch: its records, at their offsets.
            let entries = batch_entries(&bytes, origin + pos);
            self.queued
                .extend(entries.into_iter().map(TailPiece::Record));
            self.pos += batch_len;
            return Ok(());
        }
        let read = match header {
            // Claims more bytes than the tail has left.
            Some(h) if h.size_problem().is_none() && whole.is_none() => {
                Err(DamageKind::Incomplete { bytes: rest })
            }
            _ => record_at_any_lsn(&bytes, &self.crc),
        };
        match read {
            Ok((record, record_len)) => {
                self.queued.push_back(TailPiece::Record(Entry {
                    offset: origin + pos,
                    len: record_len,
                    record: record.to_record(),
                }));
                self.pos += record_len;
            }
            Err(kind) => {
                // LSN 0 before it: any readable record ends the stretch. In
                // a trimmed tail the last record may lack its final zeros:
                // when nothing stored is readable, the search reads the tail
                // again as if they followed (once: that is the last stretch).
                let padding = match (self.trimmed, self.padding) {
                    (false, _) => 0,
                    (true, Some(padding)) => padding,
                    (true, None) => *self.padding.insert(overrun(&source)?),
                };
                let search = |padding: u64| {
                    let mut src = self.tail.source(padding);
                    scan::first_readable_after(&mut src, len + padding, pos, 0, &self.crc)
                };
                let first = match search(0)? {
                    None if padding > 0 => search(padding)?,
                    found => found,
                };
                let end = first.unwrap_or(len).min(len);
                self.queued.push_back(TailPiece::Damaged {
                    offset: origin + pos,
                    len: end - pos,
                    kind,
                });
                self.pos = end;
            }
        }
        Ok(())
    }

    /// The records of the record or batch that starts at `pos` and runs
    /// past the tail's end, if the zeros it lacks make it whole and valid
    /// (offsets from `pos`); `None` otherwise, or when it does not run past
    /// the end. `head` holds the stored bytes of its header.
    fn last_with_zeros(&self, pos: u64, head: &[u8]) -> io::Result<Option<Vec<Entry>>> {
        let mut padded = head.to_vec();
        padded.resize(RECORD_HEADER_LEN, 0);
        let header = RecordHeader::parse(padded[..].try_into().expect("header length"));
        let rest = self.tail.len - pos;
        let Ok(whole) = usize::try_from(header.record_len()) else {
            return Ok(None);
        };
        if header.size_problem().is_some() || whole as u64 <= rest {
            return Ok(None);
        }
        let stored = self.tail.source(0).stored_at(pos, rest)?;
        // The checksum first, over the zeros without holding them: a header
        // claiming 16 MiB at the end of a small tail must not allocate that
        // much unless the record it claims is really there.
        let body = stored.get(4..).unwrap_or_default();
        let zeros = whole as u64 - 4 - body.len() as u64;
        if self.crc.of_padded(body, zeros) != header.crc {
            return Ok(None);
        }
        padded = stored;
        padded.resize(whole, 0);
        if header.op_code == BATCH_OP {
            return Ok(batch_at(&padded, &self.crc).map(|_| batch_entries(&padded, 0)));
        }
        Ok(record_at_any_lsn(&padded, &self.crc)
            .ok()
            .map(|(record, len)| {
                vec![Entry {
                    offset: 0,
                    len,
                    record: record.to_record(),
                }]
            }))
    }
}

/// The longest record the format allows: the most zeros a trimmed tail's
/// last record can lack.
const MAX_RECORD_LEN: u64 = RECORD_HEADER_LEN as u64 + MAX_KEY_LEN as u64 + MAX_VALUE_LEN as u64;

/// Bytes read at a time where a tail is read in chunks.
const CHUNK: u64 = 64 * 1024;

/// How far past the end of the tail a record that starts in it could
/// claim to run: the zeros a search of a trimmed tail must read as if they
/// followed. Only headers a writer could have produced count (a known op,
/// lengths under the caps), so an ordinary tail needs few or none, and a
/// crafted one at most a record's length. Reads the last record-length of
/// the tail a chunk at a time.
fn overrun(source: &TailSource<'_>) -> io::Result<u64> {
    let len = source.stored;
    let mut most = 0u64;
    let mut header = [0u8; RECORD_HEADER_LEN];
    let mut from = len.saturating_sub(MAX_RECORD_LEN);
    while from < len {
        // A chunk, and the header bytes of its last offsets.
        let bytes = source.stored_at(from, CHUNK + RECORD_HEADER_LEN as u64)?;
        for i in 0..bytes.len().min(CHUNK as usize) {
            let op = bytes.get(i + 12).copied().unwrap_or(0);
            if crate::record::Op::from_code(op).is_none() && op != BATCH_OP {
                continue;
            }
            let present = &bytes[i..bytes.len().min(i + RECORD_HEADER_LEN)];
            header.fill(0);
            header[..present.len()].copy_from_slice(present);
            let parsed = RecordHeader::parse(&header);
            if parsed.size_problem().is_none() {
                let end = from + i as u64 + parsed.record_len();
                most = most.max(end.saturating_sub(len));
            }
        }
        from += CHUNK;
    }
    Ok(most)
}

/// A tail's stored bytes, read from its file, followed by zeros that are
/// not stored up to `len`: what the search past damage reads.
struct TailSource<'a> {
    file: &'a File,
    /// Where the tail's bytes start in the file.
    base: u64,
    stored: u64,
    len: u64,
    pos: u64,
}

impl TailSource<'_> {
    /// The stored bytes from `at`, `len` of them or up to the end of the
    /// stored bytes.
    fn stored_at(&self, at: u64, len: u64) -> io::Result<Vec<u8>> {
        let len = len.min(self.stored.saturating_sub(at));
        let mut out = vec![0; usize::try_from(len).map_err(|_| io::ErrorKind::OutOfMemory)?];
        self.file.read_exact_at(&mut out, self.base + at)?;
        Ok(out)
    }
}

impl Read for TailSource<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let stored = usize::try_from(self.stored.saturating_sub(self.pos))
            .unwrap_or(usize::MAX)
            .min(n);
        if stored > 0 {
            self.file
                .read_exact_at(&mut out[..stored], self.base + self.pos)?;
        }
        out[stored..n].fill(0);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for TailSource<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(at) => at,
            SeekFrom::End(delta) => self.len.saturating_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.saturating_add_signed(delta),
        };
        Ok(self.pos)
    }
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
        let dir = tempfile::tempdir().unwrap();
        let pieces_after = |header: LogFormat| {
            let path = dir.path().join("store.wal.broken-100");
            std::fs::write(&path, [&crate::file_header(header)[..], &bytes].concat()).unwrap();
            let tail = SavedTail::open(&path).unwrap();
            tail.pieces().collect::<Result<Vec<_>>>().unwrap()
        };
        assert!(
            pieces_after(LogFormat::new_log())
                .iter()
                .all(|piece| matches!(piece, TailPiece::Damaged { .. })),
            "another log's batch is no record of this one"
        );
        let pieces = pieces_after(format);
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
