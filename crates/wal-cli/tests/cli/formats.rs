//! Format versions as `wal` shows them: a version-2 log's header and the
//! zeros a synced writer preallocates after its records, and a version-1
//! log (16-byte header, unseeded checksums) read and appended to as it is.

use std::fs;

use predicates::prelude::*;
use serde_json::Value;
use wal::{LogFormat, Op, Record};

use crate::support::{FOUR_PUTS, Scratch, hex, wal};

/// A log written by `wal put`, as it is on disk: each synced put writes in
/// place into zeros preallocated after the records.
fn put_by_the_cli(puts: &[(&str, &str)]) -> Scratch {
    let scratch = Scratch::new();
    for (key, value) in puts {
        scratch.wal("put", &[key, value]).assert().success();
    }
    scratch
}

/// Where the records of `FOUR_PUTS` end in a version-2 log: a 24-byte
/// header, then 21 bytes + key + value per record.
const FOUR_PUTS_END: u64 = 24 + 29 + 33 + 35 + 33;

#[test]
fn verify_and_dump_say_where_a_preallocated_log_ends() {
    let scratch = put_by_the_cli(&FOUR_PUTS);
    let file_len = scratch.bytes().len() as u64;
    assert!(file_len > FOUR_PUTS_END, "`wal put` preallocates");
    assert!(
        scratch.bytes()[FOUR_PUTS_END as usize..]
            .iter()
            .all(|&b| b == 0)
    );
    let zeros = file_len - FOUR_PUTS_END;

    scratch.wal("verify", &[]).assert().code(0).stdout(format!(
        "{}: clean, 4 records, last LSN 4; the log ends at offset {FOUR_PUTS_END}, \
         {zeros} zero bytes preallocated after it\n",
        scratch.shown()
    ));

    let table = scratch.wal("dump", &[]).output().unwrap();
    assert_eq!(table.status.code(), Some(0), "{table:?}");
    let table = String::from_utf8(table.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}");
    assert!(lines[4].contains("\"damson\""), "{table}");
    assert_eq!(
        lines[5],
        format!(
            "preallocated: {zeros} zero bytes from offset {FOUR_PUTS_END} to the end of the file"
        )
    );
    assert_eq!(lines[6], "clean");

    let json = scratch.wal("dump", &["--json"]).output().unwrap();
    assert_eq!(json.status.code(), Some(0), "{json:?}");
    let document: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(document["records"].as_array().unwrap().len(), 4);
    assert_eq!(
        document["tail"],
        serde_json::json!({
            "state": "clean", "offset": FOUR_PUTS_END, "bytes": 0,
            "preallocated": zeros, "reason": null, "records_after": 0
        })
    );
}

/// A put torn inside the preallocated space (its last bytes never left
/// the zeros) is a torn tail, and the next put cuts it.
#[test]
fn a_put_torn_inside_the_preallocated_zeros_is_a_torn_tail() {
    let scratch = put_by_the_cli(&FOUR_PUTS);
    let fourth = scratch.entries()[3].offset;
    let mut bytes = scratch.bytes();
    bytes[FOUR_PUTS_END as usize - 4..FOUR_PUTS_END as usize].fill(0);
    fs::write(&scratch.path, &bytes).unwrap();
    let to_end = bytes.len() as u64 - fourth;
    // The verdict tells the bytes that landed from the zeros after them.
    let landed = FOUR_PUTS_END - 4 - fourth;
    let verdict = format!(
        "torn tail at offset {fourth} ({landed} bytes, then {} zero bytes)",
        to_end - landed
    );
    scratch.wal("verify", &[]).assert().code(1).stdout(format!(
        "{}: {verdict}; 3 records before it, last LSN 3\n",
        scratch.shown()
    ));
    // `--bytes` shows the torn record, then says the rest is zeros.
    let zeros = bytes.len() as u64 - FOUR_PUTS_END;
    scratch
        .wal("dump", &["--bytes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "  then {zeros} zero bytes up to the next readable record or the end\n{verdict}\n"
        )));
    scratch
        .wal("put", &["elder", "black"])
        .assert()
        .success()
        .stdout("4\n")
        .stderr(format!(
            "{}: cut torn tail at offset {fourth} ({to_end} bytes), saved to {} \
             without the {} zero bytes at its end (preallocated space); \
             kept 3 records, last LSN 3\n",
            scratch.shown(),
            scratch.broken_file(fourth).display(),
            zeros + 4,
        ));
    // The saved tail: the log's header, then the record's bytes up to its
    // last non-zero one (the zeros are not kept).
    let saved = fs::read(scratch.broken_file(fourth)).unwrap();
    assert_eq!(
        saved,
        [
            &bytes[..24],
            &bytes[fourth as usize..FOUR_PUTS_END as usize - 4]
        ]
        .concat()
    );
    assert_eq!(saved.len() as u64 - 24 + zeros + 4, to_end);
}

/// `--bytes` lays out the 24 bytes of a version-2 header, the log's
/// identity among them.
#[test]
fn bytes_shows_the_version_2_header_and_its_log_id() {
    let scratch = Scratch::with_puts(&FOUR_PUTS[..1]);
    let LogFormat::V2 { id } = scratch.format() else {
        panic!("a new log is version 2")
    };
    let output = scratch.wal("dump", &["--bytes"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    let header = &scratch.bytes()[..24];
    let row = |offset: &str, name: &str, bytes: &[u8], meaning: &str| {
        format!("  {offset:>10}  {name:<10}  {:<48}  {meaning}", hex(bytes))
    };
    let crc = u32::from_le_bytes(header[20..24].try_into().unwrap());
    assert_eq!(
        lines[..6],
        [
            "file header at offset 0 (24 bytes, format version 2)".to_string(),
            row("0", "magic", &header[..8], r#""KVWAL\r\n\x1a""#),
            row("8", "version", &[2, 0], "2"),
            row("10", "reserved", &[0, 0], "0"),
            row(
                "12",
                "log id",
                &id.to_le_bytes(),
                &format!("{id:#018x} (every record's CRC covers it)")
            ),
            row("20", "header CRC", &header[20..24], &format!("{crc:#010x}")),
        ],
        "{shown}"
    );
    assert_eq!(lines[6], "record at offset 24 (LSN 1, 29 bytes)");
}

/// A saved tail of a version-2 log starts with a copy of the log's
/// header: `--bytes` shows it (with the log's id) before the cut bytes.
#[test]
fn bytes_of_a_saved_tail_shows_the_header_copy() {
    let scratch = Scratch::torn(5);
    let LogFormat::V2 { id } = scratch.format() else {
        panic!("a new log is version 2")
    };
    scratch.wal("repair", &[]).assert().success();
    let saved = scratch.broken_file(121);
    let output = wal()
        .args(["dump", "--bytes"])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        "saved tail: the bytes cut off a log at offset 121 (28 bytes) after a copy of \
         the log's 24-byte header, shown at the offsets they had in the log"
    );
    assert_eq!(
        lines[1],
        "file header at offset 0 (24 bytes, format version 2)"
    );
    assert!(lines[5].ends_with(&format!("{id:#018x} (every record's CRC covers it)")));
    assert!(
        lines[7].starts_with("partial record at offset 121 (28 of 33 bytes;"),
        "{shown}"
    );
}

/// A version-2 log that happens to be named like a saved tail starts with
/// a header as a saved tail does; its records read from the header on, so
/// it is dumped as the log it is (offsets from 24, `--json` allowed).
#[test]
fn a_log_named_like_a_saved_tail_is_dumped_as_a_log() {
    let scratch = Scratch::with_puts(&FOUR_PUTS);
    let renamed = scratch.broken_file(7);
    fs::copy(&scratch.path, &renamed).unwrap();
    let log_table = scratch.wal("dump", &[]).output().unwrap().stdout;
    let output = wal().arg("dump").arg(&renamed).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(output.stdout, log_table);
    wal()
        .args(["dump", "--json"])
        .arg(&renamed)
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""offset":24,"lsn":1"#));
}

/// The bytes of a version-1 log of `records`: a 16-byte header, records
/// with unseeded checksums.
fn version_1_log(records: &[Record]) -> Vec<u8> {
    let mut bytes = wal::file_header(LogFormat::V1);
    for record in records {
        bytes.extend_from_slice(&wal::encode(record, LogFormat::V1));
    }
    bytes
}

fn put(lsn: u64, key: &str, value: &str) -> Record {
    Record {
        lsn,
        op: Op::Put,
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

/// A version-1 log is dumped and verified at its own offsets (records from
/// 16), and `wal put` appends to it in version 1: no header rewritten, no
/// identity in the new record's checksum, no preallocation.
#[test]
fn a_version_1_log_is_read_and_appended_to_as_version_1() {
    let scratch = Scratch::new();
    let records = [put(1, "apple", "red"), put(2, "banana", "yellow")];
    let bytes = version_1_log(&records);
    fs::write(&scratch.path, &bytes).unwrap();

    scratch.wal("verify", &[]).assert().code(0).stdout(format!(
        "{}: clean, 2 records, last LSN 2\n",
        scratch.shown()
    ));
    scratch.wal("dump", &[]).assert().success().stdout(
        "    OFFSET       LSN  OP      KEY                       VALUE_LEN  VALUE
        16         1  put     \"apple\"                           3  \"red\"
        45         2  put     \"banana\"                          6  \"yellow\"
clean
",
    );
    let output = scratch.wal("dump", &["--bytes"]).output().unwrap();
    let shown = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        "file header at offset 0 (16 bytes, format version 1)"
    );
    assert!(lines[2].contains("version     01 00 "), "{shown}");
    assert!(lines[4].contains("  12  header CRC  "), "{shown}");
    assert!(!shown.contains("log id"), "{shown}");
    assert_eq!(lines[5], "record at offset 16 (LSN 1, 29 bytes)");
    // The stored checksum is the one a version-1 reader computes.
    assert!(!shown.contains("the bytes give"), "{shown}");

    scratch
        .wal("put", &["cherry", "dark red"])
        .assert()
        .success()
        .stdout("3\n");
    let third = put(3, "cherry", "dark red");
    assert_eq!(
        scratch.bytes(),
        [bytes, wal::encode(&third, LogFormat::V1)].concat(),
        "appended in version 1, in place of nothing"
    );
    assert_eq!(scratch.format(), LogFormat::V1);
    scratch.wal("verify", &[]).assert().code(0).stdout(format!(
        "{}: clean, 3 records, last LSN 3\n",
        scratch.shown()
    ));
}

/// A version-1 record's checksum is not seeded: one flipped byte is still
/// a mismatch `verify` reports at the record's version-1 offset.
#[test]
fn damage_in_a_version_1_log_is_reported_at_its_offset() {
    let scratch = Scratch::new();
    let mut bytes = version_1_log(&[put(1, "apple", "red"), put(2, "banana", "yellow")]);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&scratch.path, &bytes).unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "corrupt at offset 45 (checksum mismatch",
        ));
}
