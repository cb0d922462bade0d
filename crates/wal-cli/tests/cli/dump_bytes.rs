//! `dump --bytes`, and `dump` of a saved tail (`FILE.broken-OFFSET`): the
//! bytes of every record under the names of its fields, and what a cut
//! removed, read back.

use crate::support::{FOUR_PUTS, Scratch, hex, wal};

fn stdout_of(scratch: &Scratch, args: &[&str]) -> String {
    let output = scratch.wal("dump", args).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Three whole records and the first 10 bytes of the fourth (LSN 4): the
/// whole records field by field, then the partial one's CRC and 6 of its 8
/// LSN bytes, and the list of what is missing.
#[test]
fn bytes_lays_out_whole_records_and_what_a_partial_one_holds() {
    let scratch = Scratch::with_puts(&FOUR_PUTS);
    let fourth = scratch.entries()[3].offset;
    let mut bytes = scratch.bytes();
    bytes.truncate(fourth as usize + 10);
    std::fs::write(&scratch.path, &bytes).unwrap();

    let shown = stdout_of(&scratch, &["--bytes"]);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        "file header at offset 0 (24 bytes, format version 2)"
    );
    assert!(lines[1].starts_with("           0  magic       4b 56 57 41 4c 0d 0a 1a"));
    assert_eq!(lines[6], "record at offset 24 (LSN 1, 29 bytes)");
    // The first record's checksum covers the log's identity, then its bytes.
    let first = &bytes[24..53];
    let crc = format!("{:#010x}", scratch.format().record_crc(&first[4..]));
    let expected_rows = [
        ("24", "CRC", Some((hex(&first[..4]), crc.as_str()))),
        ("28", "LSN", Some(("01 00 00 00 00 00 00 00".into(), "1"))),
        ("36", "op", Some(("01".into(), "put"))),
        ("37", "key len", Some(("05 00 00 00".into(), "5"))),
        ("41", "value len", Some(("03 00 00 00".into(), "3"))),
        ("45", "key", Some(("61 70 70 6c 65".into(), "\"apple\""))),
        ("50", "value", Some(("72 65 64".into(), "\"red\""))),
    ];
    for (line, (offset, name, hex_and_meaning)) in lines[7..14].iter().zip(expected_rows) {
        let columns: Vec<&str> = line.split("  ").filter(|c| !c.is_empty()).collect();
        assert_eq!(columns[0].trim(), offset, "{line}");
        assert_eq!(columns[1].trim(), name, "{line}");
        if let Some((hex, meaning)) = hex_and_meaning {
            assert_eq!(columns[2].trim(), hex.as_str(), "{line}");
            assert_eq!(columns.last().unwrap().trim(), meaning, "{line}");
        }
    }
    let partial = lines
        .iter()
        .position(|l| l.starts_with("partial record at offset"))
        .expect("the partial record is laid out");
    assert_eq!(
        lines[partial],
        format!(
            "partial record at offset {fourth} (10 bytes, less than its 21-byte header; \
             incomplete record: only 10 bytes before the end of the file; a torn tail)"
        )
    );
    assert!(lines[partial + 1].contains(&format!("{fourth}  CRC ")));
    assert!(lines[partial + 2].contains("04 00 00 00 00 00 "), "{shown}");
    assert!(
        lines[partial + 2].ends_with("6 of 8 bytes; 2 missing"),
        "{shown}"
    );
    assert!(lines[partial + 3].ends_with("missing (1 byte)"), "{shown}");
    assert_eq!(
        lines[partial + 8],
        "  missing: 2 bytes of the LSN, op (1 byte), key len (4 bytes), \
         value len (4 bytes), key, value"
    );
    assert_eq!(
        lines[partial + 9],
        format!("torn tail at offset {fourth} (10 bytes)")
    );
    assert_eq!(lines.len(), partial + 10, "{shown}");
}

/// Damage with readable records behind it: `--bytes` lays out the damaged
/// record and stops where the next readable record starts, not at the end
/// of the file.
#[test]
fn bytes_of_mid_log_damage_ends_at_the_next_readable_record() {
    let scratch = Scratch::corrupt_mid_log();
    let damage = crate::support::damage_of(&scratch.path);
    let shown = stdout_of(&scratch, &["--bytes"]);
    let lines: Vec<&str> = shown.lines().collect();
    let damaged = lines
        .iter()
        .position(|l| l.starts_with("damaged record at offset"))
        .expect("the damaged record is laid out");
    assert_eq!(
        lines[damaged],
        format!(
            "damaged record at offset 53 (33 bytes; {})",
            damage.reason()
        )
    );
    assert!(lines[damaged + 1].contains("(the bytes give 0x"), "{shown}");
    // Its seven fields, then the verdict: no bytes counted past it.
    assert_eq!(lines.len(), damaged + 9, "{shown}");
    assert_eq!(lines[damaged + 8], damage.to_string());
}

/// What a writer cut off is a file `dump` reads: its records, then its
/// damage, at the offsets they had in the log.
#[test]
fn a_saved_tail_is_dumped_with_its_records_and_its_damage() {
    let scratch = Scratch::corrupt_mid_log();
    let second = crate::support::damage_of(&scratch.path).offset;
    scratch.wal("repair", &["--force"]).assert().success();
    let saved = scratch.broken_file(second);
    assert!(saved.is_file());

    let output = wal().arg("dump").arg(&saved).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    assert!(lines[0].starts_with(&format!(
        "saved tail: the bytes cut off a log at offset {second}"
    )));
    assert!(
        lines[2].starts_with(&format!("damaged at offset {second} (")),
        "{shown}"
    );
    assert!(lines[2].contains("checksum mismatch"), "{shown}");
    // The two records behind the damage, at their offsets in the log.
    // (Offsets from the format: 24-byte header, 21 bytes + key + value.)
    for (line, (offset, key)) in lines[3..5]
        .iter()
        .zip([("86", "cherry"), ("121", "damson")])
    {
        assert!(line.trim_start().starts_with(offset), "{shown}");
        assert!(line.contains(key), "{shown}");
    }
    assert_eq!(
        lines[5],
        "saved tail: 2 readable records, 1 damaged stretch"
    );

    let output = wal()
        .args(["dump", "--bytes"])
        .arg(&saved)
        .output()
        .unwrap();
    let shown = String::from_utf8(output.stdout).unwrap();
    assert!(
        shown.contains(&format!("damaged record at offset {second} (")),
        "{shown}"
    );
    assert!(
        shown.contains("(the bytes give 0x"),
        "the mismatch is shown: {shown}"
    );
    assert!(
        shown.contains("record at offset") && shown.contains("\"damson\""),
        "{shown}"
    );
}

/// A batch (`load --sync batch:N`) shows its header, with its record count
/// and one checksum, then its records with their checksum fields 0.
#[test]
fn bytes_shows_a_batch_frame_and_its_records() {
    let scratch = Scratch::new();
    scratch
        .wal(
            "load",
            &["--records", "2", "--value-size", "3", "--sync", "batch:2"],
        )
        .assert()
        .success();
    let shown = stdout_of(&scratch, &["--bytes"]);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[6],
        "batch at offset 24 (LSN 1 on, 2 records in 72 bytes; one checksum for all)"
    );
    assert!(lines[9].ends_with("  batch"), "{shown}");
    assert!(
        lines[10].starts_with("          37  records     02 00 00 00"),
        "{shown}"
    );
    assert_eq!(lines[12], "record at offset 45 (LSN 1, 36 bytes)");
    assert!(
        lines[13].starts_with("          45  CRC         00 00 00 00"),
        "{shown}"
    );
    assert!(lines[13].ends_with("0: in a batch, whose checksum covers it"));
    assert_eq!(lines[20], "record at offset 81 (LSN 2, 36 bytes)");
    // `load --sync batch:N` syncs, so the file was preallocated.
    let zeros = scratch.bytes().len() - 117;
    assert_eq!(
        lines[lines.len() - 2],
        format!("preallocated: {zeros} zero bytes from offset 117 to the end of the file")
    );
    assert_eq!(*lines.last().unwrap(), "clean");
}

/// Issue 23, item 11: a saved tail whose last record ends in zero bytes is
/// saved without them; `--bytes` shows the record with the zeros it was
/// read with, instead of slicing past the end of the file (a panic).
#[test]
fn dump_bytes_of_a_saved_tail_whose_last_record_ends_in_zeros() {
    let scratch = Scratch::new();
    let format = wal::LogFormat::V2 { id: 0x5eed };
    let record = wal::Record {
        lsn: 9,
        op: wal::Op::Put,
        key: b"k".to_vec(),
        value: b"v\0\0".to_vec(),
    };
    let mut saved = wal::file_header(format);
    saved.extend_from_slice(&wal::encode(&record, format));
    saved.truncate(saved.len() - 2);
    let path = scratch.dir.path().join("test.wal.broken-500");
    std::fs::write(&path, &saved).unwrap();
    let output = crate::support::wal()
        .args(["dump", "--bytes"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 readable record, 0 damaged"), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
