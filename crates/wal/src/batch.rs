//! Reading a batch: its records, checked whole before any is handed out.
//!
//! A batch (see [`crate::format::BATCH_OP`]) is accepted only when its one
//! checksum holds and its records add up exactly: as many as its header says,
//! each a put or a delete under the caps with its own checksum field 0, LSNs
//! following on from the batch's, filling its bytes to the last one. So a
//! reader returns all of a batch or none of it.

use crate::entry::RecordRef;
use crate::format::{RECORD_HEADER_LEN, RecordCrc, RecordHeader};
use crate::record::{DamageKind, InvalidField, Op};
use crate::record::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// Checks the batch `bytes` (exactly as long as `header` says), whose first
/// record must have LSN `expected_lsn`.
pub(crate) fn check_batch(
    header: &RecordHeader,
    bytes: &[u8],
    expected_lsn: u64,
    crc: &RecordCrc,
) -> Result<(), DamageKind> {
    let computed = crc.of(&bytes[4..]);
    if computed != header.crc {
        return Err(DamageKind::ChecksumMismatch {
            stored: header.crc,
            computed,
        });
    }
    if header.lsn != expected_lsn {
        return Err(DamageKind::InvalidField(InvalidField::LsnOutOfSequence {
            expected: expected_lsn,
            found: header.lsn,
        }));
    }
    let malformed = Err(DamageKind::InvalidField(InvalidField::MalformedBatch));
    let mut at = RECORD_HEADER_LEN;
    for index in 0..u64::from(header.key_len) {
        let Some(lsn) = header.lsn.checked_add(index) else {
            return malformed;
        };
        match inner_at(bytes, at) {
            Some((record, len)) if record.lsn == lsn => at += len,
            _ => return malformed,
        }
    }
    if at != bytes.len() {
        return malformed;
    }
    Ok(())
}

/// The record of a batch starting at `bytes[at..]` and its length, if it is
/// a well-formed one (its LSN is the caller's to check).
pub(crate) fn inner_at(bytes: &[u8], at: usize) -> Option<(RecordRef<'_>, usize)> {
    let head = bytes.get(at..at + RECORD_HEADER_LEN)?;
    let header = RecordHeader::parse(head.try_into().expect("header length"));
    let op = Op::from_code(header.op_code)?;
    let fits = header.crc == 0
        && header.key_len <= MAX_KEY_LEN
        && header.value_len <= MAX_VALUE_LEN
        && (op == Op::Put || header.value_len == 0);
    if !fits {
        return None;
    }
    let len = header.record_len() as usize;
    let body = bytes.get(at + RECORD_HEADER_LEN..at + len)?;
    let (key, value) = body.split_at(header.key_len as usize);
    Some((
        RecordRef {
            lsn: header.lsn,
            op,
            key,
            value,
        },
        len,
    ))
}
