//! `dump --bytes`, and `dump` of a saved tail (`FILE.broken-OFFSET`): the
//! bytes of every record under the names of its fields, and what a cut
//! removed, read back.

use crate::support::{FOUR_PUTS, Scratch, wal};

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
    assert_eq!(lines[0], "file header at offset 0 (16 bytes)");
    assert!(lines[1].starts_with("           0  magic       4b 56 57 41 4c 0d 0a 1a"));
    assert_eq!(lines[5], "record at offset 16 (LSN 1, 29 bytes)");
    let expected_rows = [
        ("16", "CRC", None),
        ("20", "LSN", Some(("01 00 00 00 00 00 00 00", "1"))),
        ("28", "op", Some(("01", "put"))),
        ("29", "key len", Some(("05 00 00 00", "5"))),
        ("33", "value len", Some(("03 00 00 00", "3"))),
        ("37", "key", Some(("61 70 70 6c 65", "\"apple\""))),
        ("42", "value", Some(("72 65 64", "\"red\""))),
    ];
    for (line, (offset, name, hex_and_meaning)) in lines[6..13].iter().zip(expected_rows) {
        let columns: Vec<&str> = line.split("  ").filter(|c| !c.is_empty()).collect();
        assert_eq!(columns[0].trim(), offset, "{line}");
        assert_eq!(columns[1].trim(), name, "{line}");
        if let Some((hex, meaning)) = hex_and_meaning {
            assert_eq!(columns[2].trim(), hex, "{line}");
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
    // (Offsets from the format: 16-byte header, 21 bytes + key + value.)
    for (line, (offset, key)) in lines[3..5]
        .iter()
        .zip([("78", "cherry"), ("113", "damson")])
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
        lines[5],
        "batch at offset 16 (LSN 1 on, 2 records in 72 bytes; one checksum for all)"
    );
    assert!(lines[8].ends_with("  batch"), "{shown}");
    assert!(
        lines[9].starts_with("          29  records     02 00 00 00"),
        "{shown}"
    );
    assert_eq!(lines[11], "record at offset 37 (LSN 1, 36 bytes)");
    assert!(
        lines[12].starts_with("          37  CRC         00 00 00 00"),
        "{shown}"
    );
    assert!(lines[12].ends_with("0: in a batch, whose checksum covers it"));
    assert_eq!(lines[19], "record at offset 73 (LSN 2, 36 bytes)");
    assert_eq!(*lines.last().unwrap(), "clean");
}
