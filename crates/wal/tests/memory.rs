//! Memory while reading files a length field cannot be trusted in: the
//! search past damage and a saved tail's reader hold a bounded amount,
//! whatever the file's size (issue 23, item 13). Measured as the rise of
//! the process's peak resident size over each read (`VmHWM`, reset before
//! it); the tests take turns, and each file is written, a buffer at a time,
//! before the measure starts. (The crate forbids unsafe code, so no
//! counting allocator here; the fuzz targets have one.)

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use common::{FORMAT, put};
use wal::{SavedTail, TailPiece, WalReader};

/// The most a read may add to the process's peak resident memory, whatever
/// the file's size: the reader's buffers and the search's capped
/// candidates, about 3 MiB, and room for the allocator's own ways.
const BOUND: u64 = 8 << 20;

/// One measure at a time: the peak is the process's.
static TURN: Mutex<()> = Mutex::new(());

/// The process's peak resident size (`VmHWM`), in bytes.
fn peak_resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .expect("a VmHWM line");
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kib * 1024
}

/// How far `read` raised the process's peak resident memory: the peak is
/// reset to the current size first (`clear_refs`), then read after.
fn peak_of<T>(read: impl FnOnce() -> T) -> (T, u64) {
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident size");
    let before = peak_resident();
    let out = read();
    (out, peak_resident().saturating_sub(before))
}

/// Writes `len` bytes in which every eighth offset (counted from `from`)
/// looks like the header of a 16 MiB put with a later LSN: `01 00 00 00 00
/// 00 00 00` over and over.
fn write_plausible_headers(out: &mut impl Write, len: usize) {
    let period: [u8; 8] = [1, 0, 0, 0, 0, 0, 0, 0];
    let block: Vec<u8> = period.iter().copied().cycle().take(64 * 1024).collect();
    for _ in 0..len / block.len() {
        out.write_all(&block).unwrap();
    }
}

/// A 34 MiB crafted file of plausible headers (a candidate every eight
/// bytes, each claiming 16 MiB) then one intact record: the search once
/// held every candidate still waiting, 126 MiB for this file.
#[test]
fn the_search_past_damage_holds_a_bounded_number_of_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.wal");
    let mut out = BufWriter::new(File::create(&path).unwrap());
    out.write_all(&wal::file_header(FORMAT)).unwrap();
    write_plausible_headers(&mut out, 34 << 20);
    out.write_all(&wal::encode(&put(7, b"found", b"me"), FORMAT))
        .unwrap();
    drop(out);
    let (summary, peak) = peak_of(|| WalReader::open(&path).unwrap().finish().unwrap());
    let damage = summary.damage.expect("damage");
    assert_eq!(damage.records_after, 1, "{damage}");
    assert!(
        peak <= BOUND,
        "the search held {peak} bytes at once for a 34 MiB file"
    );
}

/// Writes a saved tail of `records` puts of `value_len` bytes each, a few
/// damaged bytes between every hundred, as a writer saves it (a copy of the
/// log's header first); returns its path.
fn write_saved_tail(dir: &Path, records: u64, value_len: usize) -> std::path::PathBuf {
    let path = dir.join("store.wal.broken-4096");
    let mut out = BufWriter::new(File::create(&path).unwrap());
    out.write_all(&wal::file_header(FORMAT)).unwrap();
    let value = vec![b'v'; value_len];
    for lsn in 1..=records {
        if lsn % 100 == 0 {
            out.write_all(&[0xEE; 5]).unwrap();
        }
        let record = put(lsn, format!("key-{lsn}").as_bytes(), &value);
        out.write_all(&wal::encode(&record, FORMAT)).unwrap();
    }
    drop(out);
    path
}

/// A 40 MB saved tail is read as a stream: its records and damaged
/// stretches one at a time, never the whole file (it once took 352 MiB for
/// a 133 MB tail).
#[test]
fn a_large_saved_tail_is_read_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let records = 40_000;
    let path = write_saved_tail(dir.path(), records, 1000);
    let ((read, damaged), peak) = peak_of(|| {
        let tail = SavedTail::open(&path).unwrap();
        let (mut read, mut damaged) = (0u64, 0u64);
        for piece in tail.pieces() {
            match piece.unwrap() {
                TailPiece::Record(_) => read += 1,
                TailPiece::Damaged { .. } => damaged += 1,
            }
        }
        (read, damaged)
    });
    assert_eq!(read, records);
    assert_eq!(damaged, records / 100);
    assert!(
        peak <= BOUND,
        "reading a 40 MB saved tail held {peak} bytes at once"
    );
}

/// Found by the `saved_tail` fuzz target: a header at the end of a small
/// saved tail that claims a 16 MiB record. The tail's last record is read
/// as if the zeros the cut left off followed it, and the reader built it
/// whole, 16 MiB of zeros, before its checksum said it was no record. The
/// checksum is now checked over the zeros without holding them.
#[test]
fn a_long_claim_at_the_end_of_a_saved_tail_allocates_nothing_like_it() {
    let dir = tempfile::tempdir().unwrap();
    // A readable record, then the claim where the next piece starts.
    let mut tail = wal::file_header(FORMAT);
    tail.extend_from_slice(&wal::encode(&put(4, b"k", b"v"), FORMAT));
    let mut header = vec![0xAB; 4];
    header.extend_from_slice(&5u64.to_le_bytes());
    header.push(wal::Op::Put.code());
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&wal::MAX_VALUE_LEN.to_le_bytes());
    header.push(b'k');
    tail.extend_from_slice(&header);
    let path = dir.path().join("store.wal.broken-4096");
    std::fs::write(&path, &tail).unwrap();
    let (pieces, peak) = peak_of(|| {
        let tail = SavedTail::open(&path).unwrap();
        tail.pieces().collect::<wal::Result<Vec<_>>>().unwrap()
    });
    assert!(matches!(pieces[0], TailPiece::Record(_)), "{pieces:?}");
    assert!(
        matches!(pieces[1..], [TailPiece::Damaged { .. }]),
        "{pieces:?}"
    );
    assert!(
        peak <= BOUND,
        "a {}-byte saved tail held {peak} bytes at once",
        tail.len()
    );
}
