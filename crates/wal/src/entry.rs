//! What a reader hands out: a record, owned or borrowed from the reader's
//! buffer, and where it sits in the file.

use crate::record::{Op, Record};

/// A record and where it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Byte offset of the record's first byte.
    pub offset: u64,
    /// Encoded size of the record in bytes.
    pub len: u64,
    pub record: Record,
}

/// A checksum-verified record whose key and value are borrowed from the
/// reader's buffer: valid until the reader moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub lsn: u64,
    pub op: Op,
    pub key: &'a [u8],
    /// Empty for [`Op::Delete`].
    pub value: &'a [u8],
}

impl RecordRef<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            lsn: self.lsn,
            op: self.op,
            key: self.key.to_vec(),
            value: self.value.to_vec(),
        }
    }
}

/// A borrowed record and where it sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Byte offset of the record's first byte.
    pub offset: u64,
    /// Encoded size of the record in bytes.
    pub len: u64,
    pub record: RecordRef<'a>,
}

impl EntryRef<'_> {
    /// An owned copy.
    pub fn to_entry(&self) -> Entry {
        Entry {
            offset: self.offset,
            len: self.len,
            record: self.record.to_record(),
        }
    }
}
