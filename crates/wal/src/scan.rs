//! Looking past damage for records that are still readable.
//!
//! A damaged length field can point past the end of the file and so look
//! exactly like a torn last write, while intact records sit behind it. Only a
//! search of the bytes after the damage tells the two apart, so the reader
//! runs one whenever it stops early. A candidate must look like a record a
//! writer produced (known op, lengths under the caps and inside the file, an
//! LSN after the last good one) before its checksum is computed; that keeps
//! the search linear in practice and makes a false positive need a 32-bit
//! checksum collision too.
//!
//! The search starts *at* the damage, not after it: a record whose only fault
//! is an LSN ahead of the expected one (records cut out of the middle of the
//! log) is intact and must count, or cutting the log there would pass for
//! harmless. For the same reason the LSN may be any distance ahead: bytes
//! removed from a file can hide any number of records in no bytes at all.

use std::io::{self, Read, Seek, SeekFrom};

use crate::format::{RECORD_HEADER_LEN, RecordHeader};
use crate::reader::{Step, read_step};
use crate::record::Op;

const WINDOW: u64 = 64 * 1024;

/// Where the op byte sits in a record header (see the format table).
const OP_OFFSET: usize = 12;

/// What a search after damage found.
pub(crate) struct Found {
    pub records: u64,
    pub first_offset: Option<u64>,
}

/// Counts readable records in `src` after the damage at `damage_offset`,
/// given that the last readable record before it had LSN `last_lsn`.
pub(crate) fn readable_after<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    damage_offset: u64,
    mut last_lsn: u64,
) -> io::Result<Found> {
    let header_len = RECORD_HEADER_LEN as u64;
    let mut found = Found {
        records: 0,
        first_offset: None,
    };
    let mut window: Vec<u8> = Vec::new();
    let mut window_start = 0u64;
    let mut at = damage_offset;
    while at + header_len <= file_len {
        if at < window_start || at + header_len > window_start + window.len() as u64 {
            src.seek(SeekFrom::Start(at))?;
            window.clear();
            src.by_ref().take(WINDOW).read_to_end(&mut window)?;
            window_start = at;
        }
        let start = (at - window_start) as usize;
        // Almost every offset fails on its op byte; test that byte before
        // decoding a whole header (a tenfold speed-up in debug builds).
        if Op::from_code(window[start + OP_OFFSET]).is_none() {
            at += 1;
            continue;
        }
        let header = RecordHeader::parse(
            window[start..start + RECORD_HEADER_LEN]
                .try_into()
                .expect("header length"),
        );
        if plausible(&header, at, file_len, last_lsn) {
            src.seek(SeekFrom::Start(at))?;
            let (chain, end) = follow_chain(src, at, file_len, header.lsn)?;
            if chain > 0 {
                found.first_offset.get_or_insert(at);
                found.records += chain;
                last_lsn = header.lsn + chain - 1;
                // The record at `end` broke the chain but may still be
                // intact (an LSN gap): it is the next candidate.
                at = end;
                window.clear();
                continue;
            }
        }
        at += 1;
    }
    Ok(found)
}

fn plausible(header: &RecordHeader, at: u64, file_len: u64, last_lsn: u64) -> bool {
    let Some(op) = Op::from_code(header.op_code) else {
        return false;
    };
    if header.size_problem().is_some() || (op == Op::Delete && header.value_len != 0) {
        return false;
    }
    at + header.record_len() <= file_len && header.lsn > last_lsn
}

/// Reads valid records with contiguous LSNs from `at`; returns how many and
/// the offset where the run stops.
fn follow_chain<R: Read + Seek>(
    src: &mut R,
    at: u64,
    file_len: u64,
    first_lsn: u64,
) -> io::Result<(u64, u64)> {
    let mut pos = at;
    let mut count = 0;
    while let Step::Record(len) = read_step(src, file_len - pos, first_lsn + count)? {
        pos += len;
        count += 1;
    }
    Ok((count, pos))
}
