//! Recognising what a power failure leaves of an unsynced write.
//!
//! When power fails while a write sits in the page cache or the drive's
//! cache, each sector lands whole or not at all, in any order, and a sector
//! that was allocated but never written reads back as zeros. So a damaged
//! record overlapping a sector of zeros is the trace of a write that never
//! finished, not of bytes that rotted after they were synced.

use std::io::{self, Read, Seek, SeekFrom};

use crate::format::{RECORD_HEADER_LEN, RecordCrc, RecordHeader};

/// The unit a disk writes whole: the smallest sector in use.
pub(crate) const SECTOR: u64 = 512;

/// True when the damaged record at `offset` shows a write that never
/// landed: it overlaps a whole sector (aligned to the file, all of it inside
/// the file) of zeros, or it starts with zeros that run to its sector's end
/// (four bytes at least, its checksum); for damage at offset 0, when the file header is zero-filled (see
/// [`header_is_zero_filled`]).
///
/// Only zeros *before the data ends* count (before the last non-zero byte
/// from `offset` on): zeros that run to the end of the file are a version-2
/// log's preallocated space, zero whether or not anything was synced, so a
/// damaged length reaching into them proves nothing (and a write torn into
/// them is judged by [`damage_ends_in_zeros`]). Only whole sectors count,
/// too: a few zero bytes are no sign of a lost write (the fuzzer found a
/// single trailing zero byte passing damage with readable records behind it
/// off as a torn tail).
///
/// The zeros at a record's start: in a preallocated log a sector that never
/// landed keeps its old bytes, zeros from the log's end on, so a record
/// boundary followed by zeros to its sector's end is the start of a write
/// that was lost, whatever landed after it in later sectors (none of it was
/// acknowledged: an fsync covering it would have covered this sector too).
/// A record that did land starts with its checksum, zero once in 2^32.
///
/// Fewer than four zero bytes before the sector's end (the checksum's first
/// bytes only) count when the rest of the checksum, which landed in the
/// next sector, agrees with the record's bytes: a record whose checksum
/// merely starts with a zero byte and has a bit flipped elsewhere does not.
///
/// Only the damaged record's own bytes are searched for a zero sector, and
/// never those of a readable record after it (`readable_from`, the first
/// one the search past damage found): a damaged length can claim the
/// records behind it, and a value of zeros in one of them is data, not a
/// lost write.
///
/// `data` is [`data_end`] of the bytes from `offset` to the end of the file.
pub(crate) fn damage_is_zero_filled<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    offset: u64,
    data: u64,
    readable_from: Option<u64>,
    crc: &RecordCrc,
) -> io::Result<bool> {
    if offset == 0 {
        return header_is_zero_filled(src, file_len);
    }
    let sector_end = (offset / SECTOR + 1) * SECTOR;
    // Zeros from the record's start to its sector's end, with data after:
    // at least its checksum field (a real one is zero once in 2^32).
    if data > sector_end && all_zeros(src, offset, sector_end)? {
        let lost = sector_end - offset;
        if lost >= 4 || checksum_agrees_after(src, file_len, offset, lost, crc)? {
            return Ok(true);
        }
    }
    let claimed = offset + damaged_span(src, file_len, offset)?;
    let end = readable_from.map_or(claimed, |readable| claimed.min(readable));
    let mut sector = offset - offset % SECTOR;
    let mut bytes = vec![0u8; SECTOR as usize];
    while sector < end && sector + SECTOR <= data {
        src.seek(SeekFrom::Start(sector))?;
        src.read_exact(&mut bytes)?;
        if bytes.iter().all(|&b| b == 0) {
            return Ok(true);
        }
        sector += SECTOR;
    }
    Ok(false)
}

/// True when the damaged record at `offset` ends in zeros that run on to
/// the end of the file: its last byte (by what its header claims, when
/// that is believable and inside the file) and everything after it are
/// zero. What a write into preallocated space leaves when it is cut short;
/// not a whole record whose length had a bit flipped (see
/// [`a_flipped_length_explains`]). `data` is [`data_end`] of the bytes from `offset` to the end of the file.
pub(crate) fn damage_ends_in_zeros<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    offset: u64,
    data: u64,
    crc: &RecordCrc,
) -> io::Result<bool> {
    if offset == 0 || offset >= file_len {
        return Ok(false);
    }
    let end = offset + damaged_span(src, file_len, offset)?;
    Ok(data < end && !a_flipped_length_explains(src, offset, end, data, crc)?)
}

/// Whether the damaged record at `offset`, which claims to end at
/// `claimed_end`, is a whole record with one bit of a length field flipped
/// from 0 to 1: with that bit cleared, it ends at or after `data` (every
/// byte that landed is its own) and its checksum holds. Such a record was
/// written whole, and the zeros its claim reaches into are preallocated
/// space, not the rest of a write cut short: corruption, not a torn tail.
///
/// At most 32 candidate lengths, each read and hashed once: bounded by the
/// caps like every record.
fn a_flipped_length_explains<R: Read + Seek>(
    src: &mut R,
    offset: u64,
    claimed_end: u64,
    data: u64,
    crc: &RecordCrc,
) -> io::Result<bool> {
    let header_len = RECORD_HEADER_LEN as u64;
    if claimed_end - offset < header_len {
        return Ok(false);
    }
    let mut record = vec![0u8; (claimed_end - offset) as usize];
    src.seek(SeekFrom::Start(offset))?;
    src.read_exact(&mut record)?;
    let header = RecordHeader::parse(record[..RECORD_HEADER_LEN].try_into().expect("header"));
    // A batch's "key len" is its record count, not a length.
    let fields: &[usize] = if header.op_code == crate::format::BATCH_OP {
        &[17]
    } else {
        &[13, 17]
    };
    for &field in fields {
        let value = u32::from_le_bytes(record[field..field + 4].try_into().expect("4 bytes"));
        for bit in (0..32).filter(|bit| value & (1 << bit) != 0) {
            let Some(len) = (claimed_end - offset).checked_sub(1 << bit) else {
                continue;
            };
            if len < header_len || offset + len < data {
                continue;
            }
            let mut candidate = record[..len as usize].to_vec();
            let cleared = value & !(1 << bit);
            candidate[field..field + 4].copy_from_slice(&cleared.to_le_bytes());
            if crc.of(&candidate[4..]) == header.crc {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Whether the checksum of the record at `offset`, of which the first
/// `lost` bytes (1 to 3) read as zeros, agrees with the record's bytes in
/// the bytes that are left: the record landed whole but for that sector.
fn checksum_agrees_after<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    offset: u64,
    lost: u64,
    crc: &RecordCrc,
) -> io::Result<bool> {
    let span = damaged_span(src, file_len, offset)?;
    if span < RECORD_HEADER_LEN as u64 {
        return Ok(false);
    }
    let mut header = [0u8; RECORD_HEADER_LEN];
    src.seek(SeekFrom::Start(offset))?;
    src.read_exact(&mut header)?;
    let parsed = RecordHeader::parse(&header);
    if parsed.size_problem().is_some() || parsed.record_len() != span {
        return Ok(false);
    }
    // At most a record's length, which the caps bound (16 MiB and 64 KiB).
    let mut record = vec![0u8; span as usize];
    src.seek(SeekFrom::Start(offset))?;
    src.read_exact(&mut record)?;
    let computed = crc.of(&record[4..]).to_le_bytes();
    let lost = lost as usize;
    Ok(computed[lost..] == header[lost..4])
}

/// Whether a file whose first sector is all zeros holds data after that
/// sector: then the zeros are not a header torn at creation (nothing
/// follows one) but a log's first sector lost in front of its records.
pub(crate) fn data_after_first_sector<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
) -> io::Result<bool> {
    let first = file_len.min(SECTOR);
    Ok(data_end(src, first, file_len)? > first)
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

/// True when `src[from..to]` is all zeros (an empty range is).
pub(crate) fn all_zeros<R: Read + Seek>(src: &mut R, from: u64, to: u64) -> io::Result<bool> {
    const CHUNK: u64 = 64 * 1024;
    let mut bytes = vec![0u8; CHUNK.min(to.saturating_sub(from)) as usize];
    src.seek(SeekFrom::Start(from))?;
    let mut at = from;
    while at < to {
        let n = CHUNK.min(to - at) as usize;
        src.read_exact(&mut bytes[..n])?;
        if bytes[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// Where the data in `src[from..to]` ends: one past its last non-zero byte
/// (`from` when it is all zeros). Reads backwards, so a long run of
/// preallocated zeros after a little data costs only that run.
pub(crate) fn data_end<R: Read + Seek>(src: &mut R, from: u64, to: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut bytes = vec![0u8; CHUNK.min(to.saturating_sub(from)) as usize];
    let mut end = to;
    while end > from {
        let start = end.saturating_sub(CHUNK).max(from);
        let chunk = &mut bytes[..(end - start) as usize];
        src.seek(SeekFrom::Start(start))?;
        src.read_exact(chunk)?;
        if let Some(last) = chunk.iter().rposition(|&b| b != 0) {
            return Ok(start + last as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn zero_runs_are_found_across_chunks() {
        let mut bytes = vec![0u8; 200 * 1024];
        bytes[10] = 1;
        bytes[70 * 1024] = 2;
        let len = bytes.len() as u64;
        let mut src = Cursor::new(&bytes);
        assert_eq!(data_end(&mut src, 0, len).unwrap(), 70 * 1024 + 1);
        assert_eq!(data_end(&mut src, 11, 70 * 1024).unwrap(), 11);
        assert_eq!(data_end(&mut src, 0, 11).unwrap(), 11);
        assert!(all_zeros(&mut src, 70 * 1024 + 1, len).unwrap());
        assert!(!all_zeros(&mut src, 11, len).unwrap());
        assert!(all_zeros(&mut src, len, len).unwrap());
    }
}
