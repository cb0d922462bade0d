//! Looking past damage for records that are still readable.
//!
//! A damaged length field can point past the end of the file and so look
//! exactly like a torn last write, while intact records sit behind it. Only a
//! search of the bytes after the damage tells the two apart, so the reader
//! runs one whenever it stops early.
//!
//! Any byte offset may start a record, and a record may claim up to 16 MiB,
//! so checksumming each candidate's bytes would cost up to file size ×
//! 16 MiB: a crafted 32 MiB file would take hours. The search is one pass
//! instead, whatever the bytes. It keeps the running CRC of everything from
//! the damage on, `C(x)` at offset `x`, and uses the algebra of CRC-32 (see
//! [`crate::crc_algebra`]): the checksum of the bytes between `x` and `y` is
//! `C(y) ⊕ shift(C(x), y − x)`. So for a candidate at `a` that claims `L`
//! bytes and a checksum `s`, the search computes, at `a + 4`, the value
//! `C(a + L)` must have for the checksum to hold, and compares it when the
//! pass reaches `a + L`. Each byte is hashed once and each candidate costs a
//! few multiplications, so the search is linear in the file size.
//!
//! Memory is bounded whatever the file: at most [`WAITING_CAP`] candidates
//! wait for their end (32 bytes each), and at most as many readable records
//! wait to be counted into chains. When either reaches the cap, the search
//! decides every waiting candidate at once by reading ahead, from the file,
//! to the farthest end among them (a copy of the running CRC checks each at
//! its end; the bytes are not kept), and counts what it found. No candidate
//! is dropped, so the verdict is the one an unbounded search gives; the
//! price is at most one record's length (16 MiB) read again per
//! [`WAITING_CAP`] candidates, which only a crafted file pays: intact
//! records after damage never wait (see the shortcut below).
//!
//! The common case, intact records after the damage, takes a shortcut: when
//! no candidate is waiting, a candidate of up to 1 MiB is checked at once by
//! hashing its bytes, and a readable record that will be counted is skipped
//! whole. Each such check forbids another inside its span, so bytes hashed
//! this way stay under twice the file size. (A 256 MiB log damaged near its
//! start: 0.07 s, as fast as the reader; the crafted 32 MiB file of
//! `tests/scan_past_damage.rs`: about 0.5 s. See BENCHMARKS.md.)
//!
//! A candidate must look like a record a writer produced (known op, lengths
//! under the caps and inside the file, an LSN after the last good one) before
//! it is considered; a false positive needs a 32-bit checksum collision too.
//!
//! The search starts *at* the damage, not after it: a record whose only fault
//! is an LSN ahead of the expected one (records cut out of the middle of the
//! log) is intact and must count, or cutting the log there would pass for
//! harmless. For the same reason the LSN may be any distance ahead: bytes
//! removed from a file can hide any number of records in no bytes at all.
//! Readable records are counted in chains of consecutive LSNs, as the reader
//! would return them: from the first readable record with a later LSN, on
//! through records that follow each other with LSNs one apart; where a chain
//! breaks, the search goes on from its end.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Read, Seek, SeekFrom};

use crate::crc_algebra::Shifter;
use crate::format::{BATCH_OP, RECORD_HEADER_LEN, RecordCrc, RecordHeader};
use crate::record::{MAX_KEY_LEN, MAX_VALUE_LEN, Op};

/// Bytes read from the file at a time.
const CHUNK: usize = 64 * 1024;

/// Bytes searched (and read) at a time by a search that stops at the first
/// readable record: a saved tail's damaged stretches are mostly short.
const FIRST_STEP: usize = 4 * 1024;

/// The most candidates waiting for their end, and the most readable records
/// waiting to be counted, before the search decides them all by reading
/// ahead (about 1 MiB and 2 MiB of memory).
const WAITING_CAP: usize = 1 << 15;

/// The longest record the format allows: no candidate claims more.
const MAX_RECORD_LEN: u64 = RECORD_HEADER_LEN as u64 + MAX_KEY_LEN as u64 + MAX_VALUE_LEN as u64;

/// What a search after damage found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub records: u64,
    pub first_offset: Option<u64>,
    /// The highest LSN among the records counted (the LSN given to the
    /// search when there are none).
    pub last_lsn: u64,
}

/// Counts readable records in `src` after the damage at `damage_offset`,
/// given that the last readable record before it had LSN `last_lsn`.
pub(crate) fn readable_after<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    damage_offset: u64,
    last_lsn: u64,
    crc: &RecordCrc,
) -> io::Result<Found> {
    search(
        src,
        file_len,
        damage_offset,
        last_lsn,
        crc,
        false,
        WAITING_CAP,
    )
}

/// Where the first readable record after `from` starts ([`Found::first_offset`]
/// of [`readable_after`]), searching no further than it takes to know: the
/// search of a saved tail's damaged stretch, which ends there. Searching to
/// the end for each stretch made a tail of many stretches quadratic.
pub(crate) fn first_readable_after<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    from: u64,
    last_lsn: u64,
    crc: &RecordCrc,
) -> io::Result<Option<u64>> {
    Ok(search(src, file_len, from, last_lsn, crc, true, WAITING_CAP)?.first_offset)
}

fn search<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
    damage_offset: u64,
    last_lsn: u64,
    crc: &RecordCrc,
    stop_at_first: bool,
    cap: usize,
) -> io::Result<Found> {
    src.seek(SeekFrom::Start(damage_offset))?;
    let mut pass = Pass {
        bytes: Window::new(src, damage_offset),
        hasher: crc32fast::Hasher::new(),
        hashed_to: damage_offset,
        waiting: BinaryHeap::new(),
        shifter: Shifter::get(),
        chains: Chains::new(damage_offset, last_lsn),
        counted_to: damage_offset,
        looking_at: damage_offset,
        direct_from: damage_offset,
        shift_memo: (u64::MAX, 0),
        crc: crc.clone(),
        cap,
    };
    let header_len = RECORD_HEADER_LEN as u64;
    let mut at = damage_offset;
    while at + header_len <= file_len {
        pass.looking_at = at;
        pass.settle_before(at)?;
        // Once the first chain is counted, nothing found later comes
        // before it.
        if stop_at_first && pass.chains.found.first_offset.is_some() {
            return Ok(pass.chains.found);
        }
        if at.saturating_sub(pass.hashed_to) > CHUNK as u64 {
            // Nothing waits for a CRC before `at`: hash up to it, so the
            // window holds little more than a chunk.
            pass.hash_to(at)?;
        }
        pass.bytes.release(pass.hashed_to.min(at));
        // Almost every offset fails on its op byte: find the next one that
        // does not with a tight search of the buffer, a chunk at most.
        let step = if stop_at_first { FIRST_STEP } else { CHUNK } as u64;
        let limit = (at + step).min(file_len - header_len + 1);
        let ops = pass
            .bytes
            .range(at + OP_OFFSET as u64, limit + OP_OFFSET as u64)?;
        let Some(skip) = ops.iter().position(|&op| is_candidate_op(op)) else {
            at = limit;
            continue;
        };
        at += skip as u64;
        pass.looking_at = at;
        pass.settle_before(at)?;
        let header = pass.bytes.header_at(at)?;
        if let Some(header) = header.filter(|h| plausible(h, at, file_len, last_lsn))
            && let Some(end) = pass.consider(at, &header)?
        {
            at = end;
            continue;
        }
        at += 1;
    }
    pass.looking_at = u64::MAX;
    pass.settle_before(u64::MAX)?;
    Ok(pass.chains.finish())
}

/// A candidate whose checksum is decided when the pass reaches `end`: it
/// holds when the running CRC there equals `expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Waiting {
    end: u64,
    expected: u32,
    len: u32,
    lsn: u64,
    /// Records in it: 1, or a batch's count.
    count: u32,
}

struct Pass<'a, R> {
    bytes: Window<'a, R>,
    /// The CRC of the bytes from the damage to `hashed_to`.
    hasher: crc32fast::Hasher,
    hashed_to: u64,
    /// Candidates not yet decided, soonest end first.
    waiting: BinaryHeap<Reverse<Waiting>>,
    shifter: &'static Shifter,
    chains: Chains,
    /// Where the chains were last counted up to.
    counted_to: u64,
    /// The candidate offset the search is at: bytes from it on are still
    /// to be looked at, so hashing past it must not release them.
    looking_at: u64,
    /// No candidate before this offset is checked directly (see `consider`).
    direct_from: u64,
    /// The last shift factor computed, by length: records of one size
    /// follow each other.
    shift_memo: (u64, u32),
    /// The log's record checksum (seeded with its identity).
    crc: RecordCrc,
    /// [`WAITING_CAP`], smaller in tests.
    cap: usize,
}

/// The longest candidate checked directly, by hashing its bytes.
const DIRECT_MAX: u64 = 1024 * 1024;

impl<R: Read + Seek> Pass<'_, R> {
    /// Decides every candidate that ends before `offset`.
    fn settle_before(&mut self, offset: u64) -> io::Result<()> {
        while let Some(Reverse(next)) = self.waiting.peek().copied() {
            if next.end >= offset {
                break;
            }
            self.waiting.pop();
            self.hash_to(next.end)?;
            let crc = self.hasher.clone().finalize();
            self.decided(next, crc);
        }
        // Records that start more than a record-length back are all known;
        // counting them now and then keeps few of them in memory.
        let known = offset.saturating_sub(MAX_RECORD_LEN + 1);
        if known >= self.counted_to + CHUNK as u64 || offset == u64::MAX {
            self.chains.advance(known);
            self.counted_to = known;
        }
        Ok(())
    }

    /// A plausible header at `at`: works out what the running CRC must be at
    /// its end for its checksum to hold.
    ///
    /// The common case goes faster: when no candidate is waiting, a record of
    /// at most [`DIRECT_MAX`] bytes is checked at once by hashing it, and if
    /// it holds and would be counted (it starts or continues a chain), the
    /// pass skips its bytes: nothing inside a counted record is looked at, as
    /// the chains would not look there either. Returns where to go on then.
    /// Every direct check forbids another one inside its span, so the bytes
    /// hashed directly stay under twice the file's size whatever the content.
    fn consider(&mut self, at: u64, header: &RecordHeader) -> io::Result<Option<u64>> {
        let len = header.record_len();
        if self.waiting.len() >= self.cap || self.chains.pending.len() >= self.cap {
            self.decide_all_waiting()?;
            // Every candidate before `at` is decided: every readable record
            // starting before it is known.
            self.chains.advance(at);
        }
        if self.waiting.is_empty() && at >= self.direct_from && len <= DIRECT_MAX {
            self.direct_from = at + len;
            let bytes = self.bytes.range(at, at + len)?;
            if self.crc.of(&bytes[4..]) != header.crc {
                return Ok(None);
            }
            // Nothing waits: every record before `at` is known.
            self.chains.advance(at);
            self.chains
                .add(at, Readable::new(len, header.lsn, records_in(header)));
            if !self.chains.would_count(at, header.lsn) {
                return Ok(None);
            }
            self.chains.advance(at + 1);
            // No candidate depends on the running CRC: start it afresh after
            // the record, whose bytes the pass skips.
            self.hasher = crc32fast::Hasher::new();
            self.hashed_to = at + len;
            return Ok(Some(at + len));
        }
        // Candidates ending by `at + 4` must be decided before the hash
        // moves past them; none can end sooner than `at + 21`.
        self.settle_before(at + 5)?;
        self.hash_to(at + 4)?;
        let before = self.hasher.clone().finalize();
        if self.shift_memo.0 != len {
            self.shift_memo = (len, self.shifter.factor(len - 4));
        }
        // The checksum holds when CRC(seed ++ body) = stored, where the
        // body's CRC is the running CRC at its end less the shifted CRC
        // before it; the seed's CRC shifts over the body the same way.
        let expected =
            header.crc ^ crate::crc_algebra::multiply(self.shift_memo.1, before ^ self.crc.seed());
        self.waiting.push(Reverse(Waiting {
            end: at + len,
            expected,
            len: u32::try_from(len).expect("a record under the caps"),
            lsn: header.lsn,
            count: records_in(header),
        }));
        Ok(None)
    }

    /// A candidate's checksum is decided: `crc` is the running CRC at its end.
    fn decided(&mut self, candidate: Waiting, crc: u32) {
        if crc == candidate.expected {
            let start = candidate.end - u64::from(candidate.len);
            self.chains.add(
                start,
                Readable::new(u64::from(candidate.len), candidate.lsn, candidate.count),
            );
        }
    }

    /// Decides every waiting candidate now, soonest end first, with a copy
    /// of the running CRC carried ahead to each end: the bytes in the window
    /// from it, the rest read from the file a chunk at a time and not kept.
    /// The file's position and the pass's own CRC are left where they were.
    fn decide_all_waiting(&mut self) -> io::Result<()> {
        let mut hasher = self.hasher.clone();
        let mut pos = self.hashed_to;
        let window_end = self.bytes.start + self.bytes.buf.len() as u64;
        let mut chunk = Vec::new();
        while let Some(Reverse(next)) = self.waiting.pop() {
            while pos < next.end {
                if pos < window_end {
                    let to = next.end.min(window_end);
                    let from = (pos - self.bytes.start) as usize;
                    let upto = (to - self.bytes.start) as usize;
                    hasher.update(&self.bytes.buf[from..upto]);
                    pos = to;
                } else {
                    chunk.resize(CHUNK, 0);
                    let n = usize::try_from(next.end - pos).map_or(CHUNK, |n| n.min(CHUNK));
                    self.bytes.src.read_exact(&mut chunk[..n])?;
                    hasher.update(&chunk[..n]);
                    pos += n as u64;
                }
            }
            let crc = hasher.clone().finalize();
            self.decided(next, crc);
        }
        if pos > window_end {
            self.bytes.src.seek(SeekFrom::Start(window_end))?;
        }
        Ok(())
    }

    fn hash_to(&mut self, offset: u64) -> io::Result<()> {
        while self.hashed_to < offset {
            let end = offset.min(self.hashed_to + CHUNK as u64);
            let bytes = self.bytes.range(self.hashed_to, end)?;
            self.hasher.update(bytes);
            self.hashed_to = end;
            let done = self.hashed_to.min(self.looking_at);
            if self.bytes.start + (2 * CHUNK) as u64 <= done {
                // Only at the end does the hash run far ahead of the
                // candidates; what it and the search have both passed is
                // not needed again.
                self.bytes.release(done);
            }
        }
        Ok(())
    }
}

/// The op bytes a candidate may have: a record's, or a batch's.
fn is_candidate_op(op: u8) -> bool {
    Op::from_code(op).is_some() || op == BATCH_OP
}

/// How many records a candidate holds: a batch's count, else 1.
fn records_in(header: &RecordHeader) -> u32 {
    if header.op_code == BATCH_OP {
        header.key_len
    } else {
        1
    }
}

fn plausible(header: &RecordHeader, at: u64, file_len: u64, last_lsn: u64) -> bool {
    if header.op_code == BATCH_OP {
        // Its records' LSNs must not run past the last one there is.
        return header.size_problem().is_none()
            && header
                .lsn
                .checked_add(u64::from(header.key_len - 1))
                .is_some()
            && at + header.record_len() <= file_len
            && header.lsn > last_lsn;
    }
    let Some(op) = Op::from_code(header.op_code) else {
        return false;
    };
    if header.size_problem().is_some() || (op == Op::Delete && header.value_len != 0) {
        return false;
    }
    at + header.record_len() <= file_len && header.lsn > last_lsn
}

/// The file's bytes from the damage on, read once, front to back.
///
/// Keeps what the pass still needs: from the lower of the hash position and
/// the candidate position on.
struct Window<'a, R> {
    src: &'a mut R,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
}

impl<'a, R: Read> Window<'a, R> {
    fn new(src: &'a mut R, start: u64) -> Self {
        Window {
            src,
            buf: Vec::new(),
            start,
        }
    }

    /// Forgets the bytes before `offset` (once there are enough of them to
    /// be worth moving the rest): the pass never looks back.
    fn release(&mut self, offset: u64) {
        let drop = (offset - self.start) as usize;
        if drop > CHUNK {
            self.buf.drain(..drop);
            self.start = offset;
        }
    }

    /// The bytes `from..to`, read from the file as needed.
    fn range(&mut self, from: u64, to: u64) -> io::Result<&[u8]> {
        debug_assert!(from >= self.start);
        let need = (to - self.start) as usize;
        while self.buf.len() < need {
            let have = self.buf.len();
            // Whole chunks, but no more than the next one: a search that
            // stops at the first readable record reads little.
            let want = (need - have).next_multiple_of(FIRST_STEP).min(CHUNK);
            self.buf.resize(have + want, 0);
            let read = self.src.read(&mut self.buf[have..])?;
            self.buf.truncate(have + read);
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let from = (from - self.start) as usize;
        Ok(&self.buf[from..need])
    }

    /// The record header at `at` (its bytes are inside the file).
    fn header_at(&mut self, at: u64) -> io::Result<Option<RecordHeader>> {
        let bytes = self.range(at, at + RECORD_HEADER_LEN as u64)?;
        // Almost every offset fails on its op byte; test that byte before
        // decoding a whole header.
        if !is_candidate_op(bytes[OP_OFFSET]) {
            return Ok(None);
        }
        Ok(Some(RecordHeader::parse(
            bytes.try_into().expect("header length"),
        )))
    }
}

/// Where the op byte sits in a record header (see the format table).
const OP_OFFSET: usize = 12;

/// A readable record or batch: its length, its first and last LSN, and how
/// many records it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Readable {
    len: u64,
    first: u64,
    last: u64,
    count: u64,
}

impl Readable {
    /// `count` records from LSN `first` in `len` bytes (the caller checked
    /// that their LSNs fit).
    fn new(len: u64, first: u64, count: u32) -> Readable {
        Readable {
            len,
            first,
            last: first + (u64::from(count) - 1),
            count: u64::from(count),
        }
    }
}

/// Readable records found so far, counted in chains of consecutive LSNs in
/// file order once no earlier record can still turn up.
struct Chains {
    /// Readable records (and batches) not yet counted, by offset.
    pending: BTreeMap<u64, Readable>,
    /// Where the next chain may start.
    at: u64,
    last_lsn: u64,
    found: Found,
}

impl Chains {
    fn new(at: u64, last_lsn: u64) -> Self {
        Chains {
            pending: BTreeMap::new(),
            at,
            last_lsn,
            found: Found {
                records: 0,
                first_offset: None,
                last_lsn,
            },
        }
    }

    /// True when a readable record at `offset` with this LSN will be
    /// counted, once everything before it is: the next chain may start there
    /// and its LSN is later than the last counted.
    fn would_count(&self, offset: u64, lsn: u64) -> bool {
        offset >= self.at && lsn > self.last_lsn
    }

    fn add(&mut self, offset: u64, readable: Readable) {
        self.pending.insert(offset, readable);
    }

    /// Counts the chains that start before `known`: every readable record
    /// starting before `known` has been found.
    fn advance(&mut self, known: u64) {
        // Records before `at` lie inside counted chains: never counted.
        self.pending = self.pending.split_off(&self.at);
        while let Some((&offset, &first)) = self.pending.first_key_value() {
            if offset >= known {
                break;
            }
            if first.first <= self.last_lsn {
                self.pending.remove(&offset);
                continue;
            }
            // A chain's later records may not be known yet; it then stops
            // short, and they start a chain of their own when they are,
            // which counts the same.
            let (end, last) = self.follow(offset, first);
            self.found.first_offset.get_or_insert(offset);
            self.last_lsn = last;
            self.at = end;
            self.pending = self.pending.split_off(&end);
        }
    }

    /// Follows a chain from `first` at `offset` through the records known
    /// so far, counts its records, and returns where it ends and its last LSN.
    fn follow(&mut self, offset: u64, first: Readable) -> (u64, u64) {
        let (mut end, mut lsn, mut count) = (offset + first.len, first.last, first.count);
        while let Some(next_lsn) = lsn.checked_add(1) {
            match self.pending.get(&end) {
                Some(next) if next.first == next_lsn => {
                    end += next.len;
                    lsn = next.last;
                    count += next.count;
                }
                _ => break,
            }
        }
        self.found.records += count;
        (end, lsn)
    }

    fn finish(mut self) -> Found {
        self.advance(u64::MAX);
        self.found.last_lsn = self.last_lsn;
        self.found
    }
}

#[cfg(test)]
mod tests;
