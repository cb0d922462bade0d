//! Zeros judged as a power failure's mark only where a power failure could
//! have left them (issue 23, items 4, 5 and 9): never inside an intact
//! record that follows the damage, never a header lost in front of records,
//! and always a lost sector, however few of the record's bytes it held.

mod common;

use std::fs;

use common::{Log, put, puts, read_bytes, write_file};
use wal::{Error, RecoveryMode, WalOptions};

const SECTOR: usize = 512;

/// Item 4: a flipped bit in a length makes the damaged record claim the
/// records after it; a sector of zeros in one of *their* values is no sign
/// of a lost write. The intact records behind the damage make it corruption,
/// which a writer without point-in-time recovery refuses to cut.
#[test]
fn zeros_inside_a_readable_record_after_the_damage_are_no_lost_sector() {
    let mut records = puts(3, 20);
    records.push(put(4, b"zeros", &[0u8; 1024]));
    records.extend((5..=16).map(|lsn| put(lsn, format!("k{lsn}").as_bytes(), b"v")));
    let log = Log::new(&records);
    let mut bytes = log.bytes.clone();
    // Record 2's value length, bit 12 flipped: it claims 4 KiB more.
    let value_len = log.offsets[1] as usize + 17;
    bytes[value_len + 1] ^= 0x10;
    let damage = read_bytes(&bytes).1.damage.expect("damage");
    assert_eq!(damage.offset, log.offsets[1]);
    assert_eq!(damage.records_after, 14, "{damage}");
    assert!(!damage.zero_filled, "{damage}");
    assert!(!damage.is_cuttable(), "{damage}");

    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "store.wal", &bytes);
    let options = WalOptions {
        mode: RecoveryMode::TolerateTornTail,
        ..Default::default()
    };
    let err = wal::open(&path, options, |_| {}).err().expect("refused");
    assert!(matches!(err, Error::Damaged { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), bytes, "nothing cut");
}

/// Item 5: a zeroed first sector in front of records is not a header torn
/// at creation (that is followed by nothing): cutting the log there would
/// restart LSNs at 1. Refused as not a readable log, the file untouched.
#[test]
fn a_zeroed_first_sector_in_front_of_records_is_refused_not_cut() {
    let log = Log::new(&puts(40, 30));
    let mut bytes = log.bytes.clone();
    assert!(bytes.len() > 2 * SECTOR);
    bytes[..SECTOR].fill(0);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "store.wal", &bytes);
    let err = wal::WalReader::open(&path).err().expect("refused");
    assert!(matches!(err, Error::NotAWal { .. }), "{err}");
    assert!(err.to_string().contains("first sector"), "{err}");
    let err = wal::KvStore::recover(&path).err().expect("refused");
    assert!(matches!(err, Error::NotAWal { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), bytes, "nothing cut");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing saved"
    );
}

/// Item 9: the first unsynced record starts 1 to 3 bytes before a sector
/// boundary, and that sector never landed: its first bytes read as zeros,
/// the rest of it (in the next sector) did land. A lost sector as surely as
/// with 4 zero bytes or more: a torn tail, cut without a refusal.
#[test]
fn a_lost_sector_holding_only_a_records_first_bytes_is_a_torn_tail() {
    for in_lost_sector in 1..=4usize {
        // Records 1..=3 synced; record 4 starts `in_lost_sector` bytes
        // before the end of the first sector.
        // Header 24, two records of 23 bytes, then 22 + the value.
        let value_len = SECTOR - in_lost_sector - 24 - 2 * 23 - 22;
        let mut records = vec![
            put(1, b"a", b"x"),
            put(2, b"b", b"y"),
            put(3, b"c", &vec![b'z'; value_len]),
        ];
        records.push(put(4, b"d", &[b'w'; 600]));
        records.push(put(5, b"e", b"after"));
        let log = Log::new(&records);
        assert_eq!(log.offsets[3] as usize, SECTOR - in_lost_sector);
        let mut bytes = log.bytes.clone();
        // The first sector as it was before the unsynced write: zeros after
        // record 3.
        bytes[SECTOR - in_lost_sector..SECTOR].fill(0);
        bytes.resize(64 * 1024, 0);
        let damage = read_bytes(&bytes).1.damage.expect("record 4 is damaged");
        assert_eq!(damage.offset, log.offsets[3]);
        assert!(
            damage.zero_filled && damage.is_cuttable(),
            "{in_lost_sector} bytes in the lost sector: {damage}"
        );
    }
}

/// Item 9's counterpart: a flipped bit in a record whose checksum happens
/// to start with a zero byte at a sector's end is not a lost sector (the
/// rest of its checksum does not agree with its bytes).
#[test]
fn a_bit_flip_after_a_checksum_with_a_zero_byte_is_still_corruption() {
    let sector_end = SECTOR as u64;
    // Find a record placed 1 byte before the sector end whose checksum's
    // first byte is zero, then flip a bit in its value.
    for seed in 0..100_000u32 {
        // Header 24, then 22 + each value: record 3 starts at 511.
        let records = vec![
            put(1, b"a", &vec![b'z'; SECTOR - 1 - 24 - 2 * 22 - 4]),
            put(2, b"s", b"1234"),
            put(3, b"d", format!("{seed:0600}").as_bytes()),
            put(4, b"e", b"after"),
        ];
        let Some(log) = Some(Log::new(&records)).filter(|log| log.offsets[2] == sector_end - 1)
        else {
            panic!("layout: {:?}", Log::new(&records).offsets);
        };
        if log.bytes[log.offsets[2] as usize] != 0 {
            continue;
        }
        let mut bytes = log.bytes.clone();
        bytes[log.offsets[2] as usize + 100] ^= 4;
        bytes.resize(64 * 1024, 0);
        let damage = read_bytes(&bytes).1.damage.expect("damage");
        assert_eq!(damage.records_after, 1);
        assert!(!damage.zero_filled && !damage.is_cuttable(), "{damage}");
        return;
    }
    panic!("no checksum starting with a zero byte in 100 000 tries");
}

/// Item 10: a flipped bit in the last record's length, pointing into the
/// preallocated zeros, is corruption of a whole record (its checksum holds
/// with the bit cleared), not a write cut short: the verdict says so. It is
/// still damage at the tail only (nothing readable follows).
#[test]
fn a_flipped_length_into_preallocated_zeros_is_corruption_not_a_torn_tail() {
    let log = Log::new(&puts(3, 20));
    for (field, bit) in [(17, 10u8), (17, 3), (13, 12)] {
        let mut bytes = log.bytes.clone();
        bytes.resize(64 * 1024, 0);
        let at = log.offsets[2] as usize + field + usize::from(bit / 8);
        bytes[at] ^= 1 << (bit % 8);
        let damage = read_bytes(&bytes).1.damage.expect("damage");
        assert_eq!(damage.offset, log.offsets[2]);
        assert!(!damage.is_torn_tail(), "field {field} bit {bit}: {damage}");
        assert!(damage.is_cuttable(), "{damage}");
        assert!(damage.to_string().starts_with("corrupt"), "{damage}");
    }
    // A write cut short inside the zeros stays a torn tail.
    let mut torn = log.bytes[..log.end_of(2) as usize - 5].to_vec();
    torn.resize(64 * 1024, 0);
    let damage = read_bytes(&torn).1.damage.expect("damage");
    assert!(damage.is_torn_tail(), "{damage}");
}
