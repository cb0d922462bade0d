//! The on-disk format: file header and record encoding.
//!
//! Everything here is pure byte manipulation; no I/O. The byte tables live in
//! the crate documentation (`lib.rs`) so that there is one description of the
//! format, and the constants below are the single source of its numbers.

use crate::record::{Op, Record};

/// The first eight bytes of every WAL file.
///
/// The `\r\n` and `\x1a` catch a file that went through a newline-translating
/// copy or a text-mode transfer; the leading letters make `head -c 8` readable.
pub const MAGIC: [u8; 8] = *b"KVWAL\r\n\x1a";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Size of the file header: magic, version, reserved, header checksum.
pub const FILE_HEADER_LEN: usize = 16;

/// Size of a record header: checksum, LSN, op, key length, value length.
pub const RECORD_HEADER_LEN: usize = 21;

/// Largest key a record may carry, in bytes.
pub const MAX_KEY_LEN: u32 = 64 * 1024;

/// Largest value a record may carry, in bytes.
pub const MAX_VALUE_LEN: u32 = 16 * 1024 * 1024;

/// The encoded file header.
pub fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut header = [0u8; FILE_HEADER_LEN];
    header[..8].copy_from_slice(&MAGIC);
    header[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // bytes 10..12 are reserved and stay zero
    let crc = crc32fast::hash(&header[..12]);
    header[12..16].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Why a file header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The magic bytes are wrong: this is not a WAL file.
    BadMagic,
    /// A WAL header of another format version.
    UnsupportedVersion(u16),
    /// Magic is right but the header checksum or reserved bytes are not.
    Damaged,
}

/// Checks a complete 16-byte file header.
pub fn check_file_header(header: &[u8; FILE_HEADER_LEN]) -> Result<(), HeaderProblem> {
    if header[..8] != MAGIC {
        return Err(HeaderProblem::BadMagic);
    }
    let stored = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
    if stored != crc32fast::hash(&header[..12]) || header[10..12] != [0, 0] {
        return Err(HeaderProblem::Damaged);
    }
    let version = u16::from_le_bytes([header[8], header[9]]);
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::UnsupportedVersion(version));
    }
    Ok(())
}

/// True when `bytes` (shorter than a header) could be the start of a header
/// this build writes: a file torn while it was being created.
pub fn is_header_prefix(bytes: &[u8]) -> bool {
    bytes.len() < FILE_HEADER_LEN && file_header().starts_with(bytes)
}

/// The op byte of an LSN skip marker: a record-header-sized entry (key and
/// value empty) whose LSN is the highest one the log has ever used. A writer
/// that cut readable records off the log writes one, so that the LSNs of the
/// records it cut (kept in the saved tail) are never handed out again. The
/// reader steps over it: it is not a record. Its LSN is below `u64::MAX`,
/// leaving room for the record after it.
pub const SKIP_OP: u8 = 3;

/// The op byte of a batch: a record header whose "key len" field holds the
/// number of records in the batch (1 to [`MAX_KEY_LEN`]) and whose value is
/// those records, back to back, each with its checksum field left 0. The
/// batch's one checksum covers them all, so a batch torn or damaged anywhere
/// is recovered whole or not at all. Its LSN is its first record's; the
/// others follow one by one.
pub const BATCH_OP: u8 = 4;

/// Appends a batch frame for records `first_lsn..` to `out`: its header
/// (count and length filled in, checksum left 0 for [`seal`]) and the records
/// `encode_records` writes after it, unsealed. Returns how many records it
/// wrote, or `None` (and `out` as it was) when the batch is empty or over the
/// caps: at most [`MAX_KEY_LEN`] records in at most [`MAX_VALUE_LEN`] bytes.
pub fn encode_batch_unsealed_into(
    out: &mut Vec<u8>,
    first_lsn: u64,
    encode_records: impl FnOnce(&mut Vec<u8>) -> u64,
) -> Option<u64> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER_LEN]);
    let count = encode_records(out);
    let bytes = out.len() - start - RECORD_HEADER_LEN;
    if count == 0 || count > u64::from(MAX_KEY_LEN) || bytes > MAX_VALUE_LEN as usize {
        out.truncate(start);
        return None;
    }
    let header = &mut out[start..start + RECORD_HEADER_LEN];
    header[4..12].copy_from_slice(&first_lsn.to_le_bytes());
    header[12] = BATCH_OP;
    header[13..17].copy_from_slice(&(count as u32).to_le_bytes());
    header[17..21].copy_from_slice(&(bytes as u32).to_le_bytes());
    Some(count)
}

/// Encodes `records` (consecutive LSNs, puts and deletes under the caps) as
/// one sealed batch, as [`crate::Wal::append_batch`] writes them: what a
/// crash drill or a test cuts short.
pub fn encode_batch(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    let first = records.first().map_or(1, |r| r.lsn);
    encode_batch_unsealed_into(&mut out, first, |out| {
        for record in records {
            encode_unsealed_into(out, record.lsn, record.op, &record.key, &record.value);
        }
        records.len() as u64
    });
    seal(&mut out);
    out
}

/// The encoded skip marker for `lsn`.
pub fn skip_marker(lsn: u64) -> [u8; RECORD_HEADER_LEN] {
    let mut marker = [0u8; RECORD_HEADER_LEN];
    marker[4..12].copy_from_slice(&lsn.to_le_bytes());
    marker[12] = SKIP_OP;
    let crc = crc32fast::hash(&marker[4..]);
    marker[..4].copy_from_slice(&crc.to_le_bytes());
    marker
}

/// Total encoded size of a record with these payload sizes.
pub fn record_len(key_len: usize, value_len: usize) -> usize {
    RECORD_HEADER_LEN + key_len + value_len
}

/// Appends one encoded record to `out`.
///
/// Sizes must already be checked against [`MAX_KEY_LEN`] and
/// [`MAX_VALUE_LEN`]; the writer does that and returns an error to its caller.
pub fn encode_into(out: &mut Vec<u8>, lsn: u64, op: Op, key: &[u8], value: &[u8]) {
    let start = out.len();
    encode_unsealed_into(out, lsn, op, key, value);
    seal(&mut out[start..]);
}

/// Appends one record to `out` without its checksum (left zero): the bytes
/// must go through [`seal`] before anything else sees them.
///
/// The writer encodes under its lock and seals a whole buffer of records at
/// once before handing it to the file: the checksums of consecutive small
/// records then overlap in the CPU instead of each waiting on the last, and
/// the lock is held for a copy only.
#[inline]
pub fn encode_unsealed_into(out: &mut Vec<u8>, lsn: u64, op: Op, key: &[u8], value: &[u8]) {
    debug_assert!(key.len() <= MAX_KEY_LEN as usize && value.len() <= MAX_VALUE_LEN as usize);
    let mut header = [0u8; RECORD_HEADER_LEN];
    header[4..12].copy_from_slice(&lsn.to_le_bytes());
    header[12] = op.code();
    header[13..17].copy_from_slice(&(key.len() as u32).to_le_bytes());
    header[17..21].copy_from_slice(&(value.len() as u32).to_le_bytes());
    out.reserve(record_len(key.len(), value.len()));
    out.extend_from_slice(&header);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Fills in the checksum of every record and batch in `records`, which holds
/// whole records and batches written by [`encode_unsealed_into`] and
/// [`encode_batch_unsealed_into`], back to back. A batch gets one checksum
/// over all of it; the records inside keep theirs 0.
pub fn seal(records: &mut [u8]) {
    // One hasher, cloned per record: `crc32fast::hash` would ask the CPU
    // for its features again for every record, a nanosecond each.
    let fresh = crc32fast::Hasher::new();
    let mut rest = records;
    while !rest.is_empty() {
        let header = RecordHeader::parse(rest[..RECORD_HEADER_LEN].try_into().expect("header"));
        let (record, after) = rest.split_at_mut(header.record_len() as usize);
        let mut hasher = fresh.clone();
        hasher.update(&record[4..]);
        let crc = hasher.finalize();
        record[..4].copy_from_slice(&crc.to_le_bytes());
        rest = after;
    }
}

/// Encodes one record into a new buffer: what a crash drill cuts short.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(record_len(record.key.len(), record.value.len()));
    encode_into(&mut out, record.lsn, record.op, &record.key, &record.value);
    out
}

/// A decoded record header. Nothing in it is trusted until checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub crc: u32,
    pub lsn: u64,
    pub op_code: u8,
    pub key_len: u32,
    pub value_len: u32,
}

impl RecordHeader {
    pub fn parse(bytes: &[u8; RECORD_HEADER_LEN]) -> Self {
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        RecordHeader {
            crc: u32_at(0),
            lsn: u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes")),
            op_code: bytes[12],
            key_len: u32_at(13),
            value_len: u32_at(17),
        }
    }

    /// Encoded size of the whole record (or batch), as the header claims it.
    pub fn record_len(&self) -> u64 {
        if self.op_code == BATCH_OP {
            // A batch's "key len" is its record count; its records are its value.
            return RECORD_HEADER_LEN as u64 + u64::from(self.value_len);
        }
        RECORD_HEADER_LEN as u64 + u64::from(self.key_len) + u64::from(self.value_len)
    }

    /// The first field that no writer of this format could have produced,
    /// judged from the header alone (before the checksum is known).
    pub fn size_problem(&self) -> Option<crate::InvalidField> {
        use crate::InvalidField;
        if self.key_len > MAX_KEY_LEN {
            return Some(InvalidField::KeyTooLong(self.key_len));
        }
        if self.value_len > MAX_VALUE_LEN {
            return Some(InvalidField::ValueTooLong(self.value_len));
        }
        if self.op_code == BATCH_OP && self.key_len == 0 {
            return Some(InvalidField::MalformedBatch);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_each_damage() {
        let header = file_header();
        assert_eq!(check_file_header(&header), Ok(()));
        let mut bad = header;
        bad[0] ^= 1;
        assert_eq!(check_file_header(&bad), Err(HeaderProblem::BadMagic));
        let mut bad = header;
        bad[13] ^= 1;
        assert_eq!(check_file_header(&bad), Err(HeaderProblem::Damaged));
        let mut other = header;
        other[8] = 9;
        let crc = crc32fast::hash(&other[..12]);
        other[12..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            check_file_header(&other),
            Err(HeaderProblem::UnsupportedVersion(9))
        );
    }

    #[test]
    fn encoded_record_matches_documented_layout() {
        let mut out = Vec::new();
        encode_into(&mut out, 0x0102, Op::Put, b"k", b"vv");
        assert_eq!(out.len(), RECORD_HEADER_LEN + 3);
        assert_eq!(&out[4..12], &0x0102u64.to_le_bytes());
        assert_eq!(out[12], 1);
        assert_eq!(&out[13..17], &1u32.to_le_bytes());
        assert_eq!(&out[17..21], &2u32.to_le_bytes());
        assert_eq!(&out[21..], b"kvv");
        let crc = u32::from_le_bytes(out[..4].try_into().unwrap());
        assert_eq!(crc, crc32fast::hash(&out[4..]));
    }

    #[test]
    fn sealing_a_buffer_checksums_each_record() {
        let mut sealed_one_by_one = Vec::new();
        let mut unsealed = Vec::new();
        for (lsn, value) in [(7, &b""[..]), (8, b"value"), (9, &[0xAB; 300])] {
            encode_into(&mut sealed_one_by_one, lsn, Op::Put, b"key", value);
            encode_unsealed_into(&mut unsealed, lsn, Op::Put, b"key", value);
        }
        assert_eq!(
            &unsealed[..4],
            &[0; 4],
            "unsealed records carry no checksum"
        );
        assert_ne!(unsealed, sealed_one_by_one);
        seal(&mut unsealed);
        assert_eq!(unsealed, sealed_one_by_one);
    }

    #[test]
    fn header_prefix_detection() {
        assert!(is_header_prefix(b""));
        assert!(is_header_prefix(&MAGIC[..5]));
        assert!(!is_header_prefix(b"hello"));
        assert!(!is_header_prefix(&file_header()));
    }
}
