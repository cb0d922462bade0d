//! Streaming reader: records in order, then an account of how the log ends.
//!
//! The reader never trusts a length field: a length is checked against the
//! caps and against the bytes left in the file before a single byte of the
//! payload is allocated or read. Memory stays bounded by one record (at most
//! the caps) plus a read buffer, whatever the size of the file.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::format::{self, FILE_HEADER_LEN, HeaderProblem, RECORD_HEADER_LEN, RecordHeader};
use crate::record::{Damage, DamageKind, InvalidField, Op, Record};
use crate::scan;

const READ_BUFFER: usize = 256 * 1024;

/// A record and where it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Byte offset of the record's first byte.
    pub offset: u64,
    /// Encoded size of the record in bytes.
    pub len: u64,
    pub record: Record,
}

/// How a log read to its end turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Readable records, in order, before any damage.
    pub records: u64,
    /// LSN of the last readable record; 0 when there is none.
    pub last_lsn: u64,
    /// Length of the readable prefix: where an appender continues.
    pub valid_len: u64,
    /// Length of the whole file.
    pub file_len: u64,
    /// `None` for a clean end.
    pub damage: Option<Damage>,
}

/// The result of trying to read one record at the current position.
pub(crate) enum Step {
    Record(Record, u64),
    End,
    Damaged(DamageKind),
}

/// Reads the record at the current position of `src`, `remaining` bytes
/// before the end of the file, expecting LSN `expected_lsn`.
pub(crate) fn read_step<R: Read>(
    src: &mut R,
    remaining: u64,
    expected_lsn: u64,
) -> io::Result<Step> {
    if remaining == 0 {
        return Ok(Step::End);
    }
    if remaining < RECORD_HEADER_LEN as u64 {
        return Ok(Step::Damaged(DamageKind::Incomplete { bytes: remaining }));
    }
    let mut header_bytes = [0u8; RECORD_HEADER_LEN];
    src.read_exact(&mut header_bytes)?;
    let header = RecordHeader::parse(&header_bytes);
    if let Some(problem) = header.size_problem() {
        return Ok(Step::Damaged(DamageKind::InvalidField(problem)));
    }
    if header.record_len() > remaining {
        return Ok(Step::Damaged(DamageKind::Incomplete { bytes: remaining }));
    }
    // Both lengths are now under the caps and inside the file.
    let mut key = vec![0u8; header.key_len as usize];
    src.read_exact(&mut key)?;
    let mut value = vec![0u8; header.value_len as usize];
    src.read_exact(&mut value)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header_bytes[4..]);
    hasher.update(&key);
    hasher.update(&value);
    let computed = hasher.finalize();
    if computed != header.crc {
        return Ok(Step::Damaged(DamageKind::ChecksumMismatch {
            stored: header.crc,
            computed,
        }));
    }
    let invalid = |field| Ok(Step::Damaged(DamageKind::InvalidField(field)));
    let Some(op) = Op::from_code(header.op_code) else {
        return invalid(InvalidField::UnknownOp(header.op_code));
    };
    if op == Op::Delete && header.value_len != 0 {
        return invalid(InvalidField::DeleteWithValue(header.value_len));
    }
    if header.lsn != expected_lsn {
        return invalid(InvalidField::LsnOutOfSequence {
            expected: expected_lsn,
            found: header.lsn,
        });
    }
    let len = header.record_len();
    Ok(Step::Record(
        Record {
            lsn: header.lsn,
            op,
            key,
            value,
        },
        len,
    ))
}

/// Where the reader is.
enum State {
    Reading,
    Clean,
    Damaged(DamageKind),
}

/// A streaming reader over one WAL file.
///
/// Iterate it (or call [`WalReader::next_entry`]) for the readable records,
/// then call [`WalReader::finish`] for how the log ends. Reading stops at the
/// first damaged record; nothing after it is returned as data.
pub struct WalReader<R = File> {
    src: BufReader<R>,
    path: PathBuf,
    file_len: u64,
    pos: u64,
    records: u64,
    last_lsn: u64,
    state: State,
}

impl WalReader<File> {
    /// Opens `path` for reading. The file is never modified.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).at(path)?;
        let len = file.metadata().at(path)?.len();
        WalReader::new(file, len, path)
    }
}

impl<R: Read + Seek> WalReader<R> {
    /// Reads from `src`, which holds `len` bytes starting at position 0.
    /// `path` only names the source in errors.
    ///
    /// An empty source is an empty log (a crash right after creating the
    /// file); so is one that holds only the first bytes of a header, reported
    /// as damage at offset 0. Anything else that does not start with a valid
    /// header is refused with [`Error::NotAWal`].
    pub fn new(mut src: R, len: u64, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        src.seek(SeekFrom::Start(0)).at(&path)?;
        let mut head = Vec::with_capacity(FILE_HEADER_LEN);
        (&mut src)
            .take(FILE_HEADER_LEN as u64)
            .read_to_end(&mut head)
            .at(&path)?;
        let state = if head.len() < FILE_HEADER_LEN {
            if head.len() as u64 != len.min(FILE_HEADER_LEN as u64) {
                return Err(Error::io(&path, io::ErrorKind::UnexpectedEof.into()));
            }
            if !format::is_header_prefix(&head) {
                return Err(not_a_wal(
                    &path,
                    "too short for a WAL header and does not start like one",
                ));
            }
            if head.is_empty() {
                State::Clean
            } else {
                State::Damaged(DamageKind::Incomplete { bytes: len })
            }
        } else {
            match format::check_file_header(&head[..].try_into().expect("16 bytes")) {
                Ok(()) => State::Reading,
                Err(HeaderProblem::BadMagic) => return Err(not_a_wal(&path, "wrong magic bytes")),
                Err(HeaderProblem::Damaged) => {
                    return Err(not_a_wal(&path, "the file header is damaged"));
                }
                Err(HeaderProblem::UnsupportedVersion(found)) => {
                    return Err(Error::UnsupportedVersion {
                        path,
                        found,
                        supported: format::FORMAT_VERSION,
                    });
                }
            }
        };
        let pos = if matches!(state, State::Reading) {
            FILE_HEADER_LEN as u64
        } else {
            0
        };
        Ok(WalReader {
            src: BufReader::with_capacity(READ_BUFFER, src),
            path,
            file_len: len,
            pos,
            records: 0,
            last_lsn: 0,
            state,
        })
    }

    /// The next readable record, or `None` at the end or at the first damage.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        if !matches!(self.state, State::Reading) {
            return Ok(None);
        }
        let remaining = self.file_len - self.pos;
        match read_step(&mut self.src, remaining, self.last_lsn + 1).at(&self.path)? {
            Step::Record(record, len) => {
                let entry = Entry {
                    offset: self.pos,
                    len,
                    record,
                };
                self.pos += len;
                self.records += 1;
                self.last_lsn = entry.record.lsn;
                Ok(Some(entry))
            }
            Step::End => {
                self.state = State::Clean;
                Ok(None)
            }
            Step::Damaged(kind) => {
                self.state = State::Damaged(kind);
                Ok(None)
            }
        }
    }

    /// Reads whatever records are left, then says how the log ends. When it
    /// ends in damage, scans past the damage for readable records.
    pub fn finish(mut self) -> Result<Summary> {
        while self.next_entry()?.is_some() {}
        let damage = match std::mem::replace(&mut self.state, State::Clean) {
            State::Damaged(kind) => {
                let found =
                    scan::readable_after(&mut self.src, self.file_len, self.pos, self.last_lsn)
                        .at(&self.path)?;
                Some(Damage {
                    offset: self.pos,
                    kind,
                    bytes_to_end: self.file_len - self.pos,
                    records_after: found.records,
                    first_readable_after: found.first_offset,
                })
            }
            _ => None,
        };
        Ok(Summary {
            records: self.records,
            last_lsn: self.last_lsn,
            valid_len: self.pos,
            file_len: self.file_len,
            damage,
        })
    }

    /// The path this reader names in errors.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<R: Read + Seek> Iterator for WalReader<R> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

fn not_a_wal(path: &Path, reason: &str) -> Error {
    Error::NotAWal {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}
