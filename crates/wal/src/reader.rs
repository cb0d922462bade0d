//! Streaming reader: records in order, then an account of how the log ends.
//!
//! The reader never trusts a length field: a length is checked against the
//! caps and against the bytes left in the file before a single byte of the
//! payload is allocated or read. Memory stays bounded by one record (at most
//! the caps) plus a read buffer (three, read ahead), whatever the size of the
//! file.
//!
//! Records are checked where they lie in the reader's own read buffer: the
//! bytes are copied once (from the kernel), the checksum is one pass over the
//! record, and [`WalReader::next_ref`] hands the record out as slices of that
//! buffer, so reading a log to its end (`wal verify`, [`WalReader::finish`])
//! allocates nothing per record. Owned records ([`WalReader::next_entry`],
//! the iterator) cost one copy of the key and the value each.
//!
//! A log of a megabyte or more, opened from a path or recovered by
//! [`crate::open`], is read ahead by a helper thread, so that the kernel's
//! copy and the checksums run on two cores (see `read_ahead`); what is read
//! does not change.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::batch;
use crate::entry::{Entry, EntryRef, RecordRef};
use crate::error::{Error, IoContext, Result};
use crate::format::{
    self, FILE_HEADER_LEN, HeaderProblem, LogFormat, RECORD_HEADER_LEN, RecordCrc, RecordHeader,
};
use crate::read_ahead::{Chunking, ReadAhead};
use crate::record::{Damage, DamageKind, InvalidField, Op};
use crate::scan;
use crate::zeros;

/// Where the op byte sits in a record header (see the format table).
const OP_OFFSET: usize = 12;

/// Bytes asked of the kernel per read. Large enough that a syscall is rare
/// next to the checksum work, small enough that the buffer stays in the L2
/// cache between the copy and the checksum pass.
const READ_BUFFER: usize = 256 * 1024;

/// How a log read to its end turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Readable records, in order, before any damage.
    pub records: u64,
    /// LSN of the last readable record, or of a skip marker after it; 0
    /// when there is none. The next record's LSN follows it.
    pub last_lsn: u64,
    /// Length of the readable prefix: where an appender continues.
    pub valid_len: u64,
    /// Length of the whole file.
    pub file_len: u64,
    /// Zero bytes after the log's end, from there to the end of the file:
    /// space a version-2 writer preallocated (a clean end, not damage).
    pub preallocated: u64,
    /// The log's format, from its header; `None` when the file holds no
    /// whole header (empty, or torn while it was created).
    pub format: Option<LogFormat>,
    /// `None` for a clean end.
    pub damage: Option<Damage>,
}

/// What a record's header alone says is wrong with it, `remaining` bytes
/// before the end of the file: a size over a cap, or a record that runs past
/// the end. `None` means its bytes can be read and checked.
#[inline]
fn header_damage(header: &RecordHeader, remaining: u64) -> Option<DamageKind> {
    if let Some(problem) = header.size_problem() {
        return Some(DamageKind::InvalidField(problem));
    }
    if header.record_len() > remaining {
        return Some(DamageKind::Incomplete { bytes: remaining });
    }
    None
}

/// Checks a whole encoded record (`bytes` is exactly as long as `header`
/// says) against its checksum and the rules of the format.
// Inlined: returned through memory, its result costs a store-forwarding
// stall per record, a fifth of replaying a small record.
#[inline(always)]
fn check_record<'a>(
    header: &RecordHeader,
    bytes: &'a [u8],
    expected_lsn: u64,
    crc: &RecordCrc,
) -> Result<RecordRef<'a>, DamageKind> {
    debug_assert_eq!(bytes.len() as u64, header.record_len());
    let computed = crc.of(&bytes[4..]);
    if computed != header.crc {
        return Err(DamageKind::ChecksumMismatch {
            stored: header.crc,
            computed,
        });
    }
    let invalid = |field| Err(DamageKind::InvalidField(field));
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
    let (key, value) = bytes[RECORD_HEADER_LEN..].split_at(header.key_len as usize);
    Ok(RecordRef {
        lsn: header.lsn,
        op,
        key,
        value,
    })
}

/// Checks the record at the start of `bytes` (which run to the end of the
/// file), accepting any LSN: what a reader of a saved tail needs, since the
/// LSN before it is not in the file. Returns the record and its length.
pub(crate) fn record_at_any_lsn<'a>(
    bytes: &'a [u8],
    crc: &RecordCrc,
) -> Result<(RecordRef<'a>, u64), DamageKind> {
    let remaining = bytes.len() as u64;
    if remaining < RECORD_HEADER_LEN as u64 {
        return Err(DamageKind::Incomplete { bytes: remaining });
    }
    let header = RecordHeader::parse(bytes[..RECORD_HEADER_LEN].try_into().expect("header"));
    if let Some(kind) = header_damage(&header, remaining) {
        return Err(kind);
    }
    let len = header.record_len();
    check_record(&header, &bytes[..len as usize], header.lsn, crc).map(|record| (record, len))
}

/// Where the reader is.
enum State {
    Reading,
    Clean,
    Damaged(DamageKind),
}

/// A streaming reader over one WAL file.
///
/// Iterate it (or call [`WalReader::next_entry`], or [`WalReader::next_ref`]
/// to borrow each record instead of copying it) for the readable records,
/// then call [`WalReader::finish`] for how the log ends. Reading stops at the
/// first damaged record; nothing after it is returned as data.
pub struct WalReader<R = File> {
    src: R,
    /// Read buffer: `buf[start..end]` holds the file's bytes from `pos` on.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    path: PathBuf,
    file_len: u64,
    pos: u64,
    records: u64,
    last_lsn: u64,
    state: State,
    /// Inside an accepted batch: where its next record starts in `buf`, and
    /// where the batch ends (the batch starts at `buf[start]`, at `pos`).
    batch: Option<(usize, usize)>,
    format: Option<LogFormat>,
    crc: RecordCrc,
    /// Set when the log ends at a zero-filled region (version 2).
    preallocated: u64,
    /// A helper thread reading the file ahead, for a large log read
    /// through a `File`; `fill` takes its chunks instead of reading `src`.
    ahead: Option<ReadAhead>,
}

impl WalReader<File> {
    /// Opens `path` for reading. The file is never modified.
    ///
    /// Anything but a regular file (a FIFO, a directory, a device) is
    /// refused with [`Error::NotAFile`] before it is opened: opening a FIFO
    /// blocks until a writer comes, and reading a device may never end.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        check_regular_file(path)?;
        let file = File::open(path).at(path)?;
        let len = file.metadata().at(path)?.len();
        let mut reader = WalReader::new(file, len, path)?;
        // The helper duplicates this handle and reads with `pread`, so
        // `src` keeps its position.
        reader.ahead = reader.helper_for(&reader.src, Chunking::DEFAULT);
        Ok(reader)
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
        let claimed = format::claimed_header_len(&head);
        let zeroed_head = !head.is_empty() && head.iter().all(|&byte| byte == 0);
        let mut format = None;
        let state = if zeroed_head && zeros::header_is_zero_filled(&mut src, len).at(&path)? {
            if zeros::data_after_first_sector(&mut src, len).at(&path)? {
                // Cutting it as a torn tail would restart LSNs at 1, and
                // without the header's log id no record behind it reads.
                return Err(not_a_wal(
                    &path,
                    "its first sector is all zeros, with data after it: the header was \
                     lost in front of records (a header torn at creation is followed by \
                     nothing); the file is left as it is",
                ));
            }
            // A crash while the header was written (by a build that did not
            // create logs atomically): an empty log whose header is a torn
            // tail, marked zero-filled by `finish`.
            State::Damaged(if head.len() < claimed {
                DamageKind::Incomplete { bytes: len }
            } else {
                let stored =
                    u32::from_le_bytes(head[claimed - 4..claimed].try_into().expect("4 bytes"));
                DamageKind::ChecksumMismatch {
                    stored,
                    computed: crc32fast::hash(&head[..claimed - 4]),
                }
            })
        } else if head.len() < claimed {
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
            match format::check_file_header(&head[..claimed]) {
                Ok(found) => {
                    format = Some(found);
                    State::Reading
                }
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
        let pos = format.map_or(0, |format| format.header_len() as u64);
        // A version-1 header is shorter than what was read: go back to its end.
        src.seek(SeekFrom::Start(pos)).at(&path)?;
        Ok(WalReader {
            src,
            buf: Vec::new(),
            start: 0,
            end: 0,
            path,
            file_len: len,
            pos,
            records: 0,
            last_lsn: 0,
            state,
            batch: None,
            format,
            crc: format.unwrap_or(LogFormat::V1).crc(),
            preallocated: 0,
            ahead: None,
        })
    }

    /// Reads the rest of the log ahead through `file` (a handle on the file
    /// `src` reads) when there is enough of it to repay a helper thread;
    /// see [`crate::read_ahead`].
    pub(crate) fn read_ahead_through(&mut self, file: &File, chunking: Chunking) {
        self.ahead = self.helper_for(file, chunking);
    }

    fn helper_for(&self, file: &File, chunking: Chunking) -> Option<ReadAhead> {
        let from = self.pos + (self.end - self.start) as u64;
        if !matches!(self.state, State::Reading) || self.file_len - from < chunking.worth_it {
            return None;
        }
        ReadAhead::start(file, from, self.file_len, chunking)
    }

    #[cfg(test)]
    pub(crate) fn has_read_ahead(&self) -> bool {
        self.ahead.is_some()
    }

    /// The next readable record, or `None` at the end or at the first damage.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        Ok(self.next_ref()?.map(|entry| entry.to_entry()))
    }

    /// Like [`WalReader::next_entry`], but the record's key and value are
    /// borrowed from the reader's buffer instead of copied.
    pub fn next_ref(&mut self) -> Result<Option<EntryRef<'_>>> {
        if self.batch.is_some() {
            return Ok(Some(self.next_in_batch()));
        }
        while self.skip_marker()? {}
        if !matches!(self.state, State::Reading) {
            return Ok(None);
        }
        let remaining = self.file_len - self.pos;
        if remaining == 0 {
            self.state = State::Clean;
            return Ok(None);
        }
        if remaining < RECORD_HEADER_LEN as u64 {
            self.state = State::Damaged(DamageKind::Incomplete { bytes: remaining });
            return Ok(None);
        }
        self.fill(RECORD_HEADER_LEN).at(&self.path)?;
        let header_bytes = &self.buf[self.start..self.start + RECORD_HEADER_LEN];
        let header = RecordHeader::parse(header_bytes.try_into().expect("header length"));
        if let Some(kind) = header_damage(&header, remaining) {
            self.state = State::Damaged(kind);
            return Ok(None);
        }
        // Both lengths are now under the caps and inside the file.
        let len = header.record_len();
        self.fill(len as usize).at(&self.path)?;
        if header.op_code == format::BATCH_OP {
            let bytes = &self.buf[self.start..self.start + len as usize];
            return match batch::check_batch(&header, bytes, self.last_lsn + 1, &self.crc) {
                Ok(()) => {
                    let start = self.start;
                    self.batch = Some((start + RECORD_HEADER_LEN, start + len as usize));
                    Ok(Some(self.next_in_batch()))
                }
                Err(kind) => {
                    self.state = State::Damaged(kind);
                    Ok(None)
                }
            };
        }
        let bytes = &self.buf[self.start..self.start + len as usize];
        match check_record(&header, bytes, self.last_lsn + 1, &self.crc) {
            Ok(record) => {
                let offset = self.pos;
                self.pos += len;
                self.start += len as usize;
                self.records += 1;
                self.last_lsn = record.lsn;
                Ok(Some(EntryRef {
                    offset,
                    len,
                    record,
                }))
            }
            Err(kind) => {
                self.state = State::Damaged(kind);
                Ok(None)
            }
        }
    }

    /// The next record of the batch being read (checked whole already);
    /// after its last one, moves on past the batch.
    fn next_in_batch(&mut self) -> EntryRef<'_> {
        let (at, end) = self.batch.expect("inside a batch");
        let (lsn, len) = {
            let (record, len) = batch::inner_at(&self.buf[..end], at).expect("a checked batch");
            (record.lsn, len)
        };
        let offset = self.pos + (at - self.start) as u64;
        self.records += 1;
        self.last_lsn = lsn;
        if at + len == end {
            self.pos += (end - self.start) as u64;
            self.start = end;
            self.batch = None;
        } else {
            self.batch = Some((at + len, end));
        }
        let (record, _) = batch::inner_at(&self.buf[..end], at).expect("a checked batch");
        EntryRef {
            offset,
            len: len as u64,
            record,
        }
    }

    /// Steps over an LSN skip marker at the current position, if there is
    /// a valid one: it moves the LSN on to its own and is not a record. An
    /// invalid one is left for `next_ref` to report (an unknown op).
    fn skip_marker(&mut self) -> Result<bool> {
        // The common case, on the path of every record: a buffered header
        // whose op byte says it is no marker.
        if self.end - self.start >= RECORD_HEADER_LEN
            && self.buf[self.start + OP_OFFSET] != format::SKIP_OP
        {
            return Ok(false);
        }
        let remaining = self.file_len - self.pos;
        if !matches!(self.state, State::Reading) || remaining < RECORD_HEADER_LEN as u64 {
            return Ok(false);
        }
        self.fill(RECORD_HEADER_LEN).at(&self.path)?;
        let bytes = &self.buf[self.start..self.start + RECORD_HEADER_LEN];
        let header = RecordHeader::parse(bytes.try_into().expect("header length"));
        let valid = header.op_code == format::SKIP_OP
            && header.key_len == 0
            && header.value_len == 0
            && header.lsn > self.last_lsn
            // A marker leaves room for the record after it.
            && header.lsn < u64::MAX
            && self.crc.of(&bytes[4..]) == header.crc;
        if valid {
            self.pos += RECORD_HEADER_LEN as u64;
            self.start += RECORD_HEADER_LEN;
            self.last_lsn = header.lsn;
        }
        Ok(valid)
    }

    /// Makes sure the buffer holds at least `need` bytes from `pos` on;
    /// `need` never exceeds the bytes left in the file, so the buffer grows
    /// past [`READ_BUFFER`] only for a record that is itself larger (and
    /// under the caps: lengths are checked before this is called).
    fn fill(&mut self, need: usize) -> io::Result<()> {
        let buffered = self.end - self.start;
        if buffered >= need {
            return Ok(());
        }
        if let Some(ahead) = &mut self.ahead {
            return ahead.fill(&mut self.buf, &mut self.start, &mut self.end, need);
        }
        let mut unread = self.file_len - self.pos - buffered as u64;
        if self.buf.len() - self.start < need {
            // Move the start of the record to the front of the buffer.
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = buffered;
            if self.buf.len() < need {
                let wanted = (buffered as u64 + unread).min(READ_BUFFER as u64) as usize;
                self.buf.resize(need.max(wanted), 0);
            }
        }
        while self.end - self.start < need {
            let room = ((self.buf.len() - self.end) as u64).min(unread) as usize;
            match self.src.read(&mut self.buf[self.end..self.end + room]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.end += n;
                    unread -= n as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Reads whatever records are left, then says how the log ends. When it
    /// ends in damage, scans past the damage for readable records.
    pub fn finish(mut self) -> Result<Summary> {
        while self.next_ref()?.is_some() {}
        self.ahead = None;
        // Where the data after the stop ends: one pass backwards from the
        // end of the file, which every judgement below shares.
        let data_end = match self.state {
            State::Damaged(_) => {
                zeros::data_end(&mut self.src, self.pos, self.file_len).at(&self.path)?
            }
            _ => self.file_len,
        };
        // Zeros are never a record (no record has LSN 0), so the reader
        // stops at them as at damage, and only here are they told apart:
        // the space a version-2 writer preallocated ends the log.
        if data_end == self.pos && matches!(self.format, Some(LogFormat::V2 { .. })) {
            self.state = State::Clean;
            self.preallocated = self.file_len - self.pos;
        }
        let damage = match std::mem::replace(&mut self.state, State::Clean) {
            State::Damaged(kind) => {
                // The search reads on its own, in one pass from the damage.
                self.buf = Vec::new();
                let found = scan::readable_after(
                    &mut self.src,
                    self.file_len,
                    self.pos,
                    self.last_lsn,
                    &self.crc,
                )
                .at(&self.path)?;
                let zero_filled = zeros::damage_is_zero_filled(
                    &mut self.src,
                    self.file_len,
                    self.pos,
                    data_end,
                    found.first_offset,
                    &self.crc,
                )
                .at(&self.path)?;
                let ends_in_zeros = zeros::damage_ends_in_zeros(
                    &mut self.src,
                    self.file_len,
                    self.pos,
                    data_end,
                    &self.crc,
                )
                .at(&self.path)?;
                let zeros_to_end = self.file_len - data_end;
                Some(Damage {
                    offset: self.pos,
                    kind,
                    bytes_to_end: self.file_len - self.pos,
                    records_after: found.records,
                    first_readable_after: found.first_offset,
                    zero_filled,
                    ends_in_zeros,
                    zeros_to_end,
                    highest_lsn_after: (found.records > 0).then_some(found.last_lsn),
                })
            }
            _ => None,
        };
        Ok(Summary {
            records: self.records,
            last_lsn: self.last_lsn,
            valid_len: self.pos,
            file_len: self.file_len,
            preallocated: self.preallocated,
            format: self.format,
            damage,
        })
    }

    /// The log's format, from its header; `None` when the file holds no
    /// whole header.
    pub fn format(&self) -> Option<LogFormat> {
        self.format
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

/// Refuses `path` unless it is a regular file (following symlinks), before
/// anything opens it. A missing file passes: opening it reports that.
pub(crate) fn check_regular_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let file_type = match std::fs::metadata(path) {
        Ok(metadata) => metadata.file_type(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(Error::io(path, err)),
    };
    let kind = if file_type.is_file() {
        return Ok(());
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "device"
    } else {
        "special file"
    };
    Err(Error::NotAFile {
        path: path.to_path_buf(),
        kind,
    })
}

fn not_a_wal(path: &Path, reason: &str) -> Error {
    Error::NotAWal {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}
