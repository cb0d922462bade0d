//! The log's record format: yours to design (w09-l08).
//!
//! A record must let recovery tell a whole record from a partial or damaged
//! one, whatever byte a crash cut it at and whatever bit it flipped: give it a
//! checksum over the whole record ([`crc32`] is here for that) and check it
//! before trusting any field. Keep an LSN in each record, too.

// Until your Store::replay() and Store::append() call into this module.
#![allow(dead_code)]

use crate::Op;

/// The bytes of one record for `op` with log sequence number `lsn`.
pub fn encode(lsn: u64, op: &Op) -> Vec<u8> {
    todo!(
        "w09-l08: encode record {lsn} ({op:?}) in a format of your design: the LSN, the \
         operation, the key and the value, with lengths or separators, and a checksum \
         (crc32() below) over the whole record, so that decode() can reject a partial record"
    )
}

/// Decode the record at the front of `bytes`: the LSN, the operation and the
/// record's length in bytes. `Err` says why the record is partial or damaged;
/// never panic here, whatever the bytes are.
pub fn decode(bytes: &[u8]) -> Result<(u64, Op, usize), String> {
    todo!(
        "w09-l08: decode one record from {} bytes: return Err(reason) when there are not \
         enough bytes for a whole record (a partial record) or the checksum does not match; \
         never trust a length field before the checksum vouches for it",
        bytes.len()
    )
}

/// CRC-32 (the IEEE polynomial, as zlib and crc32fast compute it), one bit at
/// a time: slow but short, and plenty for a log of a few records.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let low_bit_set = crc & 1 == 1;
            crc >>= 1;
            if low_bit_set {
                crc ^= 0xEDB8_8320;
            }
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
