//! The search past damage: whatever the damage looks like (bytes zeroed,
//! inserted or removed, records duplicated), every intact record behind it
//! with a later LSN is found, so damage is called a tail only when cutting
//! there loses nothing a reader could return.

mod common;

use common::{Log, put, puts, read_bytes};
use wal::{DamageKind, InvalidField};

fn splice(log: &Log, from: usize, to: usize, insert: &[u8]) -> Vec<u8> {
    let mut bytes = log.bytes[..from].to_vec();
    bytes.extend_from_slice(insert);
    bytes.extend_from_slice(&log.bytes[to..]);
    bytes
}

#[test]
fn a_zeroed_block_hides_nothing_behind_it() {
    let records = puts(40, 50);
    let log = Log::new(&records);
    // Zero 300 bytes starting inside record 10: records 10..=14 are hit.
    let from = log.offsets[9] as usize + 7;
    let bytes = splice(&log, from, from + 300, &[0; 300]);
    let first_intact = (0..40)
        .find(|&i| log.offsets[i] as usize >= from + 300)
        .unwrap();
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read, records[..9]);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.offset, log.offsets[9]);
    assert_eq!(damage.records_after, (40 - first_intact) as u64, "{damage}");
    assert_eq!(damage.first_readable_after, Some(log.offsets[first_intact]));
}

#[test]
fn garbage_inserted_between_records_hides_nothing() {
    let records = puts(10, 20);
    let log = Log::new(&records);
    let at = log.offsets[4] as usize;
    for garbage in [&b"x"[..], b"\x01", &[0xff; 21], &[1; 100]] {
        let bytes = splice(&log, at, at, garbage);
        let (read, summary) = read_bytes(&bytes);
        assert_eq!(read, records[..4]);
        let damage = summary.damage.unwrap();
        assert_eq!(damage.offset, at as u64);
        assert_eq!(damage.records_after, 6, "{garbage:?}: {damage}");
        assert_eq!(
            damage.first_readable_after,
            Some((at + garbage.len()) as u64)
        );
    }
}

#[test]
fn records_cut_out_of_the_middle_leave_the_rest_readable() {
    // Bytes removed from the middle (a hand edit, a buggy copy): an LSN gap
    // of any size, directly at the damage.
    let records = puts(12, 0);
    let log = Log::new(&records);
    for removed in 1..=5 {
        let from = log.offsets[3] as usize;
        let to = log.offsets[3 + removed] as usize;
        let bytes = splice(&log, from, to, b"");
        let (read, summary) = read_bytes(&bytes);
        assert_eq!(read, records[..3]);
        let damage = summary.damage.unwrap();
        let expected = InvalidField::LsnOutOfSequence {
            expected: 4,
            found: 4 + removed as u64,
        };
        assert_eq!(damage.kind, DamageKind::InvalidField(expected));
        // The record at the damage is intact and counts, as do all after it.
        let after = (12 - 3 - removed) as u64;
        assert_eq!(damage.records_after, after, "{removed} removed: {damage}");
        assert_eq!(damage.first_readable_after, Some(damage.offset));
        assert!(!damage.is_tail_only());
    }
}

#[test]
fn a_gap_before_the_last_record_is_not_a_tail() {
    // Cutting at the damage would throw away an intact record.
    let records = puts(5, 10);
    let mut gapped = records[..4].to_vec();
    gapped.push(put(6, b"key-6", b"after a gap"));
    let log = Log::new(&gapped);
    let (read, summary) = read_bytes(&log.bytes);
    assert_eq!(read, records[..4]);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.offset, log.offsets[4]);
    assert_eq!(damage.records_after, 1, "{damage}");
    assert!(!damage.is_tail_only());
}

#[test]
fn a_duplicated_record_is_damage_with_the_rest_behind_it() {
    let records = puts(6, 10);
    let mut duplicated = records[..3].to_vec();
    duplicated.push(records[2].clone());
    duplicated.extend_from_slice(&records[3..]);
    let log = Log::new(&duplicated);
    let (read, summary) = read_bytes(&log.bytes);
    assert_eq!(read, records[..3]);
    let damage = summary.damage.unwrap();
    assert_eq!(
        damage.kind,
        DamageKind::InvalidField(InvalidField::LsnOutOfSequence {
            expected: 4,
            found: 3
        })
    );
    assert_eq!(damage.records_after, 3, "{damage}");
    assert_eq!(damage.first_readable_after, Some(log.offsets[4]));
}

#[test]
fn several_damaged_places_are_all_searched_past() {
    let records = puts(30, 15);
    let log = Log::new(&records);
    let mut bytes = log.bytes.clone();
    for index in [5, 6, 12, 20, 29] {
        bytes[log.offsets[index] as usize + 25] ^= 0x40;
    }
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read, records[..5]);
    let damage = summary.damage.unwrap();
    // Intact after the first damage: 7..=11, 13..=19, 21..=28.
    assert_eq!(damage.records_after, 5 + 7 + 8, "{damage}");
    assert_eq!(damage.first_readable_after, Some(log.offsets[7]));
}

#[test]
fn records_with_earlier_lsns_behind_the_damage_do_not_count() {
    // A log with an old log's records pasted after its damage: the pasted
    // records are intact but not newer, so nothing newer follows.
    let records = puts(8, 10);
    let log = Log::new(&records);
    let mut bytes = log.bytes.clone();
    bytes.truncate(log.offsets[6] as usize + 5);
    bytes.extend_from_slice(&log.bytes[log.offsets[0] as usize..log.offsets[4] as usize]);
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read, records[..6]);
    assert_eq!(summary.damage.unwrap().records_after, 0);
}

#[test]
fn the_search_ends_on_a_large_damaged_region() {
    // 2 MiB of pseudo-random bytes after the damage, then two thousand fake
    // record headers: plausible op, lengths and LSNs, no valid checksum.
    let records = puts(3, 10);
    let log = Log::new(&records);
    let mut bytes = log.bytes[..log.offsets[2] as usize + 3].to_vec();
    bytes.extend(common::pseudo_random_bytes(2 << 20, 0x2545_F491_4F6C_DD1D));
    let mut fake = Vec::new();
    for lsn in 3..2000u64 {
        fake.extend_from_slice(&[0, 0, 0, 0]);
        fake.extend_from_slice(&lsn.to_le_bytes());
        fake.push(1);
        fake.extend_from_slice(&0u32.to_le_bytes());
        fake.extend_from_slice(&(lsn as u32 * 7).to_le_bytes());
    }
    bytes.extend_from_slice(&fake);
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read, records[..2]);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.records_after, 0, "{damage}");
}

/// A reader that counts the bytes it hands out and refuses to hand out more
/// than `limit`: the search past damage must read each byte about once.
struct Counting<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        assert!(
            self.read <= self.limit,
            "read {} bytes, more than the {} allowed: the search is not linear",
            self.read,
            self.limit
        );
        Ok(n)
    }
}

impl<R: std::io::Seek> std::io::Seek for Counting<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A crafted 32 MiB file in which every eighth offset looks like the header
/// of a 16 MiB record (a known op, lengths under the caps and inside the
/// file, a later LSN), followed by one intact record. Checksumming each
/// candidate's bytes, as the search once did, reads 16 MiB two million
/// times; the search must read the file about once, plus one record's
/// length for every 32,768 candidates (what it reads again to keep at most
/// that many waiting; `memory.rs` measures the memory), and still find the
/// one readable record.
#[test]
fn a_crafted_file_of_plausible_headers_is_searched_in_one_pass() {
    const SIZE: usize = 32 * 1024 * 1024;
    let mut bytes = wal::file_header(common::FORMAT);
    // Period 8: `01 00 00 00 00 00 00 00`. At offsets 4 past each `01`
    // (counted from the first record) the op byte is 1, the key length 0
    // and the value length 0x01000000, the 16 MiB cap.
    bytes.extend((0..SIZE).map(|i| u8::from(i % 8 == 0)));
    let intact_at = bytes.len() as u64;
    bytes.extend_from_slice(&wal::encode(&put(7, b"found", b"me"), common::FORMAT));
    let len = bytes.len() as u64;
    let src = Counting {
        inner: std::io::Cursor::new(&bytes),
        read: 0,
        limit: 2 * len + (SIZE as u64 / 8 / 32_768 + 1) * (17 << 20),
    };
    let summary = wal::WalReader::new(src, len, "crafted.wal")
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(summary.records, 0);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.offset, wal::FILE_HEADER_LEN as u64);
    assert_eq!(damage.records_after, 1, "{damage}");
    assert_eq!(damage.first_readable_after, Some(intact_at));
}

/// Hostile LSNs after damage: the largest LSN there is, then an LSN that a
/// wrapping addition would take for its successor. Neither may overflow
/// (a debug build panicked), and only the first is a readable record with a
/// later LSN (a release build counted the LSN-0 record too).
#[test]
fn an_lsn_of_u64_max_after_damage_ends_its_chain() {
    let log = Log::new(&puts(2, 10));
    let mut bytes = log.bytes.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let at = bytes.len() as u64;
    bytes.extend_from_slice(&wal::encode(&put(u64::MAX, b"max", b"1"), common::FORMAT));
    bytes.extend_from_slice(&wal::encode(&put(0, b"wrapped", b"2"), common::FORMAT));
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read.len(), 1);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.records_after, 1, "{damage}");
    assert_eq!(damage.first_readable_after, Some(at));
}

/// Issue 23, item 11: the search released the bytes before a candidate it
/// had just hashed past (a long candidate still waiting, then one found
/// late in a chunk's search), and the next offset it looked at lay before
/// what it kept: an integer underflow, a panic in every command. Crafted:
/// a damaged record claiming 1.5 MiB, zeros, and a plausible header two
/// chunks of the search later.
#[test]
fn a_candidate_found_late_in_a_chunk_does_not_release_bytes_still_needed() {
    const CHUNK: usize = 64 * 1024;
    let log = Log::new(&[put(1, b"a", b"1")]);
    let damage = log.bytes.len();
    let mut bytes = log.bytes.clone();
    bytes.resize(damage + 2_200_000, 0);
    let claims_long = |lsn: u64, value_len: u32| {
        let mut header = vec![0xAB; 4];
        header.extend_from_slice(&lsn.to_le_bytes());
        header.push(1);
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&value_len.to_le_bytes());
        header
    };
    bytes[damage..damage + 21].copy_from_slice(&claims_long(2, 1_500_000));
    for late in [2 * CHUNK - 4, 2 * CHUNK - 2, 2 * CHUNK] {
        let mut bytes = bytes.clone();
        let at = damage + late;
        bytes[at..at + 21].copy_from_slice(&claims_long(3, 1));
        let (read, summary) = read_bytes(&bytes);
        assert_eq!(read.len(), 1);
        let damage_found = summary.damage.expect("damage");
        assert_eq!(damage_found.offset, damage as u64);
        assert_eq!(damage_found.records_after, 0, "{damage_found}");
    }
}
