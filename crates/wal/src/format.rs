//! The on-disk format: file header and record encoding.
//!
//! Everything here is pure byte manipulation; no I/O. The byte tables live in
//! the crate documentation (`lib.rs`) so that there is one description of the
//! format, and the constants below are the single source of its numbers.

use crate::record::{MAX_KEY_LEN, MAX_VALUE_LEN, Op, Record};

/// The first eight bytes of every WAL file.
///
/// The `\r\n` and `\x1a` catch a file that went through a newline-translating
/// copy or a text-mode transfer; the leading letters make `head -c 8` readable.
pub const MAGIC: [u8; 8] = *b"KVWAL\r\n\x1a";

/// The format version this build writes. It reads version 1 too.
pub const FORMAT_VERSION: u16 = 2;

/// Size of a version-2 file header: magic, version, reserved, log identity,
/// header checksum.
pub const FILE_HEADER_LEN: usize = 24;

/// Size of a version-1 file header: magic, version, reserved, header
/// checksum.
pub const FILE_HEADER_LEN_V1: usize = 16;

/// Size of a record header: checksum, LSN, op, key length, value length.
pub const RECORD_HEADER_LEN: usize = 21;

/// Which format a log is in, and for version 2 the log's identity.
///
/// A version-2 log carries a random 64-bit identity in its header, and every
/// record's checksum is seeded with it: the CRC covers the identity's eight
/// bytes before the record's own. A record copied in from another log (or
/// left in a reused file by an older log) then fails its checksum here, as a
/// foreign record should. Version-1 records carry no identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    V1,
    V2 { id: u64 },
}

impl LogFormat {
    /// A version-2 format with a new random identity (never 0), for a new
    /// log.
    pub fn new_log() -> LogFormat {
        loop {
            let id = getrandom::u64().unwrap_or_else(|_| fallback_id());
            if id != 0 {
                return LogFormat::V2 { id };
            }
        }
    }

    pub fn version(self) -> u16 {
        match self {
            LogFormat::V1 => 1,
            LogFormat::V2 { .. } => 2,
        }
    }

    /// The log's identity; `None` for version 1.
    pub fn id(self) -> Option<u64> {
        match self {
            LogFormat::V1 => None,
            LogFormat::V2 { id } => Some(id),
        }
    }

    /// Where the first record starts.
    pub fn header_len(self) -> usize {
        match self {
            LogFormat::V1 => FILE_HEADER_LEN_V1,
            LogFormat::V2 { .. } => FILE_HEADER_LEN,
        }
    }

    /// The checksum a record (or batch, or skip marker) of this log must
    /// carry, given its bytes after the checksum field.
    pub fn record_crc(self, body: &[u8]) -> u32 {
        self.crc().of(body)
    }

    pub(crate) fn crc(self) -> RecordCrc {
        let mut seeded = crc32fast::Hasher::new();
        if let LogFormat::V2 { id } = self {
            seeded.update(&id.to_le_bytes());
        }
        let seed = seeded.clone().finalize();
        RecordCrc { seeded, seed }
    }
}

/// When the operating system has no random numbers to give: the time, the
/// process and a per-process random hash key, mixed. Two logs made by one
/// process in one nanosecond still differ by the counter.
#[cold]
fn fallback_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// A log's record checksum: CRC-32 (IEEE) of its identity's bytes (none for
/// version 1) followed by the record's. Cloned per record: the hasher
/// already holds the identity's part.
#[derive(Clone)]
pub(crate) struct RecordCrc {
    seeded: crc32fast::Hasher,
    /// The CRC of the identity's bytes alone (0 for none): what the search
    /// past damage folds in when it works out a checksum from CRCs of
    /// ranges (see `scan`).
    seed: u32,
}

impl RecordCrc {
    #[inline]
    pub(crate) fn of(&self, body: &[u8]) -> u32 {
        let mut hasher = self.seeded.clone();
        hasher.update(body);
        hasher.finalize()
    }

    pub(crate) fn seed(&self) -> u32 {
        self.seed
    }

    /// The checksum of `body` followed by `zeros` zero bytes, without
    /// holding the zeros: a saved tail's last record, whose zeros the cut
    /// left off, is checked before it is rebuilt whole.
    pub(crate) fn of_padded(&self, body: &[u8], zeros: u64) -> u32 {
        const ZEROS: [u8; 4096] = [0; 4096];
        let mut hasher = self.seeded.clone();
        hasher.update(body);
        let mut left = zeros;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64);
            hasher.update(&ZEROS[..n as usize]);
            left -= n;
        }
        hasher.finalize()
    }
}

/// The encoded file header of a log in `format`.
pub fn file_header(format: LogFormat) -> Vec<u8> {
    let mut header = vec![0u8; format.header_len()];
    header[..8].copy_from_slice(&MAGIC);
    header[8..10].copy_from_slice(&format.version().to_le_bytes());
    // bytes 10..12 are reserved and stay zero
    if let LogFormat::V2 { id } = format {
        header[12..20].copy_from_slice(&id.to_le_bytes());
    }
    let end = header.len() - 4;
    let crc = crc32fast::hash(&header[..end]);
    header[end..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Why a file header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The magic bytes are wrong: this is not a WAL file.
    BadMagic,
    /// A WAL header of another format version.
    UnsupportedVersion(u16),
    /// Magic is right but the header checksum, the reserved bytes or the
    /// identity (0 is never one) are not.
    Damaged,
}

/// The version a header's first bytes claim, once magic and version are
/// there.
fn claimed_version(bytes: &[u8]) -> Option<u16> {
    let version = bytes.get(8..10)?;
    Some(u16::from_le_bytes([version[0], version[1]]))
}

/// The header length of the version `bytes` claim: what to read before
/// [`check_file_header`]. Unknown versions claim the longest.
pub fn claimed_header_len(bytes: &[u8]) -> usize {
    match claimed_version(bytes) {
        Some(1) => FILE_HEADER_LEN_V1,
        _ => FILE_HEADER_LEN,
    }
}

/// Checks a complete file header (`bytes` is exactly
/// [`claimed_header_len`] long) and says which format it starts.
pub fn check_file_header(bytes: &[u8]) -> Result<LogFormat, HeaderProblem> {
    if bytes.get(..8) != Some(&MAGIC[..]) {
        return Err(HeaderProblem::BadMagic);
    }
    let version = claimed_version(bytes).ok_or(HeaderProblem::Damaged)?;
    let format = match version {
        1 => LogFormat::V1,
        2 => {
            let id = u64::from_le_bytes(
                bytes
                    .get(12..20)
                    .ok_or(HeaderProblem::Damaged)?
                    .try_into()
                    .expect("8 bytes"),
            );
            LogFormat::V2 { id }
        }
        other => return Err(HeaderProblem::UnsupportedVersion(other)),
    };
    if bytes.len() != format.header_len() || bytes[10..12] != [0, 0] || format.id() == Some(0) {
        return Err(HeaderProblem::Damaged);
    }
    let end = bytes.len() - 4;
    let stored = u32::from_le_bytes(bytes[end..].try_into().expect("4 bytes"));
    if stored != crc32fast::hash(&bytes[..end]) {
        return Err(HeaderProblem::Damaged);
    }
    Ok(format)
}

/// True when `bytes` (shorter than the header they begin) could be the
/// start of a header some build wrote: a file torn while it was being
/// created (version 1, before creation was atomic) or cut short since.
/// A version-2 identity is random, so only the fixed bytes are compared.
pub fn is_header_prefix(bytes: &[u8]) -> bool {
    if bytes.len() >= claimed_header_len(bytes) {
        return false;
    }
    let v2 = file_header(LogFormat::V2 { id: 1 });
    let fixed = bytes.len().min(12);
    file_header(LogFormat::V1).starts_with(bytes) || v2[..fixed] == bytes[..fixed]
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
pub fn encode_batch(records: &[Record], format: LogFormat) -> Vec<u8> {
    let mut out = Vec::new();
    let first = records.first().map_or(1, |r| r.lsn);
    encode_batch_unsealed_into(&mut out, first, |out| {
        for record in records {
            encode_unsealed_into(out, record.lsn, record.op, &record.key, &record.value);
        }
        records.len() as u64
    });
    seal(&mut out, &format.crc());
    out
}

/// The encoded skip marker for `lsn` in a log of `format`.
pub fn skip_marker(lsn: u64, format: LogFormat) -> [u8; RECORD_HEADER_LEN] {
    let mut marker = [0u8; RECORD_HEADER_LEN];
    marker[4..12].copy_from_slice(&lsn.to_le_bytes());
    marker[12] = SKIP_OP;
    let crc = format.record_crc(&marker[4..]);
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
pub(crate) fn encode_into(
    out: &mut Vec<u8>,
    crc: &RecordCrc,
    lsn: u64,
    op: Op,
    key: &[u8],
    value: &[u8],
) {
    let start = out.len();
    encode_unsealed_into(out, lsn, op, key, value);
    seal(&mut out[start..], crc);
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
pub(crate) fn seal(records: &mut [u8], crc: &RecordCrc) {
    // One hasher, cloned per record: `crc32fast::hash` would ask the CPU
    // for its features again for every record, a nanosecond each.
    let mut rest = records;
    while !rest.is_empty() {
        let header = RecordHeader::parse(rest[..RECORD_HEADER_LEN].try_into().expect("header"));
        let (record, after) = rest.split_at_mut(header.record_len() as usize);
        let crc = crc.of(&record[4..]);
        record[..4].copy_from_slice(&crc.to_le_bytes());
        rest = after;
    }
}

/// Encodes one record of a log in `format` into a new buffer: what a crash
/// drill cuts short.
pub fn encode(record: &Record, format: LogFormat) -> Vec<u8> {
    let mut out = Vec::with_capacity(record_len(record.key.len(), record.value.len()));
    let crc = format.crc();
    encode_into(
        &mut out,
        &crc,
        record.lsn,
        record.op,
        &record.key,
        &record.value,
    );
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
        for format in [LogFormat::V1, LogFormat::new_log()] {
            let header = file_header(format);
            assert_eq!(claimed_header_len(&header), header.len());
            assert_eq!(check_file_header(&header), Ok(format));
            let mut bad = header.clone();
            bad[0] ^= 1;
            assert_eq!(check_file_header(&bad), Err(HeaderProblem::BadMagic));
            for byte in 10..header.len() {
                let mut bad = header.clone();
                bad[byte] ^= 1;
                assert_eq!(
                    check_file_header(&bad),
                    Err(HeaderProblem::Damaged),
                    "byte {byte}"
                );
            }
            let mut other = header.clone();
            other[8] = 9;
            assert_eq!(
                check_file_header(&other),
                Err(HeaderProblem::UnsupportedVersion(9))
            );
        }
    }

    #[test]
    fn version_2_headers_carry_a_new_identity_each() {
        let (a, b) = (LogFormat::new_log(), LogFormat::new_log());
        assert_ne!(a, b);
        let header = file_header(a);
        assert_eq!(header.len(), FILE_HEADER_LEN);
        assert_eq!(&header[8..10], &2u16.to_le_bytes());
        assert_eq!(&header[12..20], &a.id().unwrap().to_le_bytes());
        assert_eq!(
            &header[20..24],
            &crc32fast::hash(&header[..20]).to_le_bytes()
        );
        // An identity of 0 is never written, so never accepted.
        let zero = file_header(LogFormat::V2 { id: 0 });
        assert_eq!(check_file_header(&zero), Err(HeaderProblem::Damaged));
    }

    #[test]
    fn a_record_checksum_covers_the_log_identity() {
        let record = Record {
            lsn: 1,
            op: Op::Put,
            key: b"k".to_vec(),
            value: b"v".to_vec(),
        };
        let ours = LogFormat::V2 { id: 7 };
        let bytes = encode(&record, ours);
        let mut seeded = 7u64.to_le_bytes().to_vec();
        seeded.extend_from_slice(&bytes[4..]);
        assert_eq!(&bytes[..4], &crc32fast::hash(&seeded).to_le_bytes());
        assert_ne!(bytes, encode(&record, LogFormat::V2 { id: 8 }));
        let v1 = encode(&record, LogFormat::V1);
        assert_eq!(&v1[..4], &crc32fast::hash(&v1[4..]).to_le_bytes());
        assert_eq!(ours.crc().seed(), crc32fast::hash(&7u64.to_le_bytes()));
        assert_eq!(LogFormat::V1.crc().seed(), 0);
    }

    #[test]
    fn encoded_record_matches_documented_layout() {
        let mut out = Vec::new();
        encode_into(&mut out, &LogFormat::V1.crc(), 0x0102, Op::Put, b"k", b"vv");
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
        let crc = LogFormat::new_log().crc();
        for (lsn, value) in [(7, &b""[..]), (8, b"value"), (9, &[0xAB; 300])] {
            encode_into(&mut sealed_one_by_one, &crc, lsn, Op::Put, b"key", value);
            encode_unsealed_into(&mut unsealed, lsn, Op::Put, b"key", value);
        }
        assert_eq!(
            &unsealed[..4],
            &[0; 4],
            "unsealed records carry no checksum"
        );
        assert_ne!(unsealed, sealed_one_by_one);
        seal(&mut unsealed, &crc);
        assert_eq!(unsealed, sealed_one_by_one);
    }

    #[test]
    fn header_prefix_detection() {
        assert!(is_header_prefix(b""));
        assert!(is_header_prefix(&MAGIC[..5]));
        assert!(!is_header_prefix(b"hello"));
        let v1 = file_header(LogFormat::V1);
        assert!(is_header_prefix(&v1[..14]));
        assert!(!is_header_prefix(&v1));
        let v2 = file_header(LogFormat::new_log());
        assert!(is_header_prefix(&v2[..23]));
        assert!(!is_header_prefix(&v2));
        let mut other_version = v2[..20].to_vec();
        other_version[8] = 3;
        assert!(!is_header_prefix(&other_version));
    }
}
