//! Looking past damage for records that are still readable.
//!
//! A damaged length field can point past the end of the file and so look
//! exactly like a torn last write, while intact records sit behind it. Only a
//! search of the bytes after the damage tells the two apart, so the reader
//! runs one whenever it stops early. A candidate must look like a record a
//! writer produced (known op, lengths under the caps and inside the file, an
//! LSN after the last good one and no further ahead than the bytes in between
//! allow) before its checksum is computed; that keeps the search linear in
//! practice and makes a false positive need a 32-bit checksum collision too.

use std::io::{self, Read, Seek, SeekFrom};

use crate::format::{RECORD_HEADER_LEN, RecordHeader};
use crate::reader::{Step, read_step};
use crate::record::Op;

const WINDOW: u64 = 64 * 1024;

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
    let mut gap_start = damage_offset;
    let mut window: Vec<u8> = Vec::new();
    let mut window_start = 0u64;
    let mut at = damage_offset + 1;
    while at + header_len <= file_len {
        if at < window_start || at + header_len > window_start + window.len() as u64 {
            src.seek(SeekFrom::Start(at))?;
            window.clear();
            src.by_ref().take(WINDOW).read_to_end(&mut window)?;
            window_start = at;
        }
        let start = (at - window_start) as usize;
        let header = RecordHeader::parse(
            window[start..start + RECORD_HEADER_LEN]
                .try_into()
                .expect("header length"),
        );
        if plausible(&header, at, file_len, last_lsn, gap_start) {
            src.seek(SeekFrom::Start(at))?;
            let (chain, end) = follow_chain(src, at, file_len, header.lsn)?;
            if chain > 0 {
                found.first_offset.get_or_insert(at);
                found.records += chain;
                last_lsn = header.lsn + chain - 1;
                gap_start = end;
                at = end + 1;
                window.clear();
                continue;
            }
        }
        at += 1;
    }
    Ok(found)
}

fn plausible(header: &RecordHeader, at: u64, file_len: u64, last_lsn: u64, gap_start: u64) -> bool {
    let Some(op) = Op::from_code(header.op_code) else {
        return false;
    };
    if header.size_problem().is_some() || (op == Op::Delete && header.value_len != 0) {
        return false;
    }
    if at + header.record_len() > file_len || header.lsn <= last_lsn {
        return false;
    }
    // Each record takes at least a header's worth of bytes, so the gap can
    // hide only so many of them.
    let most_hidden = (at - gap_start) / RECORD_HEADER_LEN as u64 + 1;
    header.lsn - last_lsn <= most_hidden + 1
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
    while let Step::Record(_, len) = read_step(src, file_len - pos, first_lsn + count)? {
        pos += len;
        count += 1;
    }
    Ok((count, pos))
}
