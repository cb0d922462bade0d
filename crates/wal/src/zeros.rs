//! Recognising what a power failure leaves of an unsynced write.
//!
//! When power fails while a write sits in the page cache or the drive's
//! cache, each sector lands whole or not at all, in any order, and a sector
//! that was allocated but never written reads back as zeros. So a damaged
//! record overlapping a sector of zeros is the trace of a write that never
//! finished, not of bytes that rotted after they were synced.

use std::io::{self, Read, Seek, SeekFrom};

use crate::format::{RECORD_HEADER_LEN, RecordHeader};

/// The unit a disk writes whole: the smallest sector in use.
pub(crate) const SECTOR: u64 = 512;

/// True when the damaged record at `offset` overlaps a whole sector
/// (aligned to the file, all of it inside the file) of zeros; for damage at
/// offset 0, when the header is zero-filled (see [`header_is_zero_filled`]).
///
/// Only whole sectors count: a few zero bytes at the end of a file are no
/// sign of a lost write (the fuzzer found a single trailing zero byte passing
/// damage with readable records behind it off as a torn tail).
pub(crate) fn damage_is_zero_filled<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    offset: u64,
) -> io::Result<bool> {
    if offset == 0 {
        return header_is_zero_filled(src, file_len);
    }
    let end = offset + damaged_span(src, file_len, offset)?;
    let mut sector = offset - offset % SECTOR;
    let mut bytes = vec![0u8; SECTOR as usize];
    while sector < end && sector + SECTOR <= file_len {
        src.seek(SeekFrom::Start(sector))?;
        src.read_exact(&mut bytes)?;
        if bytes.iter().all(|&b| b == 0) {
            return Ok(true);
        }
        sector += SECTOR;
    }
    Ok(false)
}

/// How many bytes from `offset` the damaged record covers: what its header
/// claims when that is believable, else just the header.
fn damaged_span<R: Read + Seek>(src: &mut R, file_len: u64, offset: u64) -> io::Result<u64> {
    let remaining = file_len - offset;
    if remaining < RECORD_HEADER_LEN as u64 {
        return Ok(remaining);
    }
    let mut header = [0u8; RECORD_HEADER_LEN];
    src.seek(SeekFrom::Start(offset))?;
    src.read_exact(&mut header)?;
    let header = RecordHeader::parse(&header);
    Ok(if header.size_problem().is_some() {
        RECORD_HEADER_LEN as u64
    } else {
        header.record_len().min(remaining)
    })
}

/// True when `head` (a file's first bytes, at most a header) and the rest of
/// the file's first sector are zeros: a header that never reached the disk.
pub(crate) fn header_is_zero_filled<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
) -> io::Result<bool> {
    if file_len == 0 {
        return Ok(false);
    }
    let mut bytes = vec![0u8; file_len.min(SECTOR) as usize];
    src.seek(SeekFrom::Start(0))?;
    src.read_exact(&mut bytes)?;
    Ok(bytes.iter().all(|&b| b == 0))
}
