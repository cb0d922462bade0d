//! What a log holds: records, and what can be wrong with the bytes of one.

use std::fmt;

/// Largest key a record may carry, in bytes.
pub const MAX_KEY_LEN: u32 = 64 * 1024;

/// Largest value a record may carry, in bytes.
pub const MAX_VALUE_LEN: u32 = 16 * 1024 * 1024;

/// The operation a record logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Set `key` to `value`.
    Put,
    /// Remove `key`; the value is always empty.
    Delete,
}

impl Op {
    /// The byte that stands for this op on disk.
    pub fn code(self) -> u8 {
        match self {
            Op::Put => 1,
            Op::Delete => 2,
        }
    }

    /// The op for an on-disk byte, if there is one.
    pub fn from_code(code: u8) -> Option<Op> {
        match code {
            1 => Some(Op::Put),
            2 => Some(Op::Delete),
            _ => None,
        }
    }

    /// Lower-case name, as `wal dump` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Delete => "delete",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded, checksum-verified log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Log sequence number: 1 for the first record, then previous + 1.
    pub lsn: u64,
    pub op: Op,
    pub key: Vec<u8>,
    /// Empty for [`Op::Delete`].
    pub value: Vec<u8>,
}

/// A record whose checksum is right but whose content no writer produces,
/// or whose sizes are over the caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidField {
    UnknownOp(u8),
    KeyTooLong(u32),
    ValueTooLong(u32),
    DeleteWithValue(u32),
    /// A batch whose checksum holds but whose records do not add up: a
    /// record count of 0, records that overrun it or leave bytes over, a
    /// record with its own checksum set, or LSNs that do not follow on.
    MalformedBatch,
    /// Every record's LSN is the previous one plus one.
    LsnOutOfSequence {
        expected: u64,
        found: u64,
    },
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidField::UnknownOp(code) => write!(f, "unknown op code {code}"),
            InvalidField::KeyTooLong(len) => {
                write!(f, "key length {len} over the cap of {MAX_KEY_LEN}")
            }
            InvalidField::ValueTooLong(len) => {
                write!(f, "value length {len} over the cap of {MAX_VALUE_LEN}")
            }
            InvalidField::MalformedBatch => write!(f, "malformed batch"),
            InvalidField::DeleteWithValue(len) => {
                write!(f, "delete record carries a {len}-byte value")
            }
            InvalidField::LsnOutOfSequence { expected, found } => {
                write!(f, "LSN {found} where {expected} was expected")
            }
        }
    }
}

/// What is wrong with the bytes at the place a log stops being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamageKind {
    /// The record (or the file header) runs past the end of the file: a
    /// write that did not finish. `bytes` is what is there of it.
    Incomplete { bytes: u64 },
    /// The record is complete but its checksum does not match its bytes.
    ChecksumMismatch { stored: u32, computed: u32 },
    /// Checksum fine (or not checkable), a field impossible.
    InvalidField(InvalidField),
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DamageKind::Incomplete { bytes } => {
                write!(
                    f,
                    "incomplete record: only {bytes} bytes before the end of the file"
                )
            }
            DamageKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            DamageKind::InvalidField(field) => write!(f, "invalid field: {field}"),
        }
    }
}

/// The first place a log stops being readable, and what lies behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damaged record (0 for a damaged file header).
    pub offset: u64,
    pub kind: DamageKind,
    /// Bytes from `offset` to the end of the file.
    pub bytes_to_end: u64,
    /// Records with a valid checksum and a later LSN found behind the damage.
    /// The damaged record itself counts when an LSN ahead of the expected
    /// one is all that is wrong with it (records cut out before it).
    pub records_after: u64,
    /// Offset of the first of those records (`offset` itself in that case).
    pub first_readable_after: Option<u64>,
    /// The damaged record (or the file header) overlaps a 512-byte sector
    /// that is all zeros: what a power failure leaves of a write that was
    /// never synced. Nothing from there on was ever acknowledged (an fsync
    /// that covered a later record would have covered these bytes too), so
    /// this is a torn tail whatever readable records follow.
    pub zero_filled: bool,
    /// The damaged record's last byte is zero, and so is every byte after
    /// it to the end of the file: a write into preallocated (zero-filled)
    /// space cut short, as a write cut short at the end of a growing file
    /// runs past its end. With nothing readable behind it, a torn tail.
    pub ends_in_zeros: bool,
    /// Zero bytes at the end of the file after the last non-zero byte from
    /// `offset` on (preallocated space, and the part of a torn write that
    /// never landed in it): part of `bytes_to_end`, told apart in the
    /// verdict.
    pub zeros_to_end: u64,
    /// The highest LSN among the readable records after the damage, `None`
    /// when there are none. A writer that cuts them keeps their LSNs from
    /// being handed out again (see the skip marker in the format).
    pub highest_lsn_after: Option<u64>,
}

impl Damage {
    /// True when nothing readable follows: cutting the log at `offset`
    /// loses no record that a reader could have returned.
    pub fn is_tail_only(&self) -> bool {
        self.records_after == 0
    }

    /// A torn tail: an unfinished last write with nothing readable behind
    /// it (running past the end of the file, or ending in the zeros of
    /// preallocated space), or a zero-filled one (whatever follows it was
    /// never acknowledged either). Everything else is corruption.
    pub fn is_torn_tail(&self) -> bool {
        self.zero_filled
            || (self.is_tail_only()
                && (self.ends_in_zeros || matches!(self.kind, DamageKind::Incomplete { .. })))
    }

    /// A write torn inside preallocated zeros: the damaged record lies
    /// whole in the file, ends in zeros that run to its end, and nothing
    /// readable follows. (A record cut short by the end of the file is torn
    /// the other way, and its zero bytes are its own.)
    pub fn torn_in_preallocated_space(&self) -> bool {
        self.ends_in_zeros
            && self.is_tail_only()
            && !matches!(self.kind, DamageKind::Incomplete { .. })
    }

    /// True when cutting the log at `offset` loses no acknowledged record:
    /// nothing readable follows, or the damage is zero-filled. What a
    /// writer may cut without being told to.
    pub fn is_cuttable(&self) -> bool {
        self.is_tail_only() || self.zero_filled
    }

    /// `"torn"` or `"corrupt"`, as `wal dump --json` names the tail state.
    pub fn state_name(&self) -> &'static str {
        if self.is_torn_tail() {
            "torn"
        } else {
            "corrupt"
        }
    }

    /// The reason in a few words, without the offset.
    pub fn reason(&self) -> String {
        let reason = match (&self.kind, self.records_after) {
            (DamageKind::Incomplete { .. }, n) if n > 0 => {
                "record length runs past the end of the file".to_string()
            }
            (kind, _) => kind.to_string(),
        };
        if self.zero_filled {
            format!("{reason}, zero-filled")
        } else if self.torn_in_preallocated_space() {
            format!("{reason}; its last bytes are still the zeros of preallocated space")
        } else {
            reason
        }
    }
}

impl fmt::Display for Damage {
    /// The verdict line of `wal dump` and `wal verify`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.zero_filled {
            write!(
                f,
                "torn tail at offset {} ({} bytes, zero-filled",
                self.offset, self.bytes_to_end
            )?;
            if self.records_after > 0 {
                write!(
                    f,
                    "; {} after it, never acknowledged",
                    readable_records(self.records_after)
                )?;
            }
            f.write_str(")")
        } else if self.torn_in_preallocated_space() {
            write!(
                f,
                "torn tail at offset {} ({} bytes, then {} zero bytes)",
                self.offset,
                self.bytes_to_end - self.zeros_to_end,
                self.zeros_to_end
            )
        } else if self.is_torn_tail() {
            write!(
                f,
                "torn tail at offset {} ({} bytes)",
                self.offset, self.bytes_to_end
            )
        } else {
            write!(
                f,
                "corrupt at offset {} ({}); {} after it",
                self.offset,
                self.reason(),
                readable_records(self.records_after)
            )
        }
    }
}

/// `"1 readable record"`, `"3 readable records"`.
pub(crate) fn readable_records(count: u64) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} readable record{plural}")
}
