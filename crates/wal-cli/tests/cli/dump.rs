//! `dump`: the table and the JSON document, on clean, torn and corrupt logs.

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::support::{Scratch, damage_of, wal};

const HEADER: &str = "    OFFSET       LSN  OP      KEY                       VALUE_LEN  VALUE\n";

/// Rows of the first three records of `FOUR_PUTS` (offsets from the format:
/// a 24-byte file header, then 21 bytes + key + value per record).
const FIRST_THREE_ROWS: &str =
    "        24         1  put     \"apple\"                           3  \"red\"
        53         2  put     \"banana\"                          6  \"yellow\"
        86         3  put     \"cherry\"                          8  \"dark red\"
";

fn dump_table(scratch: &Scratch) -> String {
    let output = scratch.wal("dump", &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn dump_json(scratch: &Scratch) -> Value {
    let output = scratch.wal("dump", &["--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.ends_with(b"}\n"));
    serde_json::from_slice(&output.stdout).expect("dump --json writes one JSON document")
}

fn json_record(offset: u64, lsn: u64, key: &str, value: &str) -> Value {
    json!({"offset": offset, "lsn": lsn, "op": "put", "key": key, "value": value})
}

fn first_three_json() -> Vec<Value> {
    vec![
        json_record(24, 1, "apple", "red"),
        json_record(53, 2, "banana", "yellow"),
        json_record(86, 3, "cherry", "dark red"),
    ]
}

#[test]
fn table_of_a_clean_log() {
    let scratch = Scratch::with_puts(&crate::support::FOUR_PUTS);
    let expected = format!(
        "{HEADER}{FIRST_THREE_ROWS}       121         4  put     \"damson\"                          6  \"purple\"\nclean\n"
    );
    assert_eq!(dump_table(&scratch), expected);
}

#[test]
fn table_previews_long_values_and_escapes_unprintable_bytes() {
    let scratch = Scratch::with_puts(&[("long", &"x".repeat(100)), ("ctl", "a\tb\u{1}")]);
    let store = wal::KvStore::recover(&scratch.path).unwrap().0;
    store.delete("long").unwrap();
    drop(store);
    let table = dump_table(&scratch);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 6, "{table}");
    assert!(
        rows[1].ends_with(&format!("  100  \"{}\"…", "x".repeat(40))),
        "{}",
        rows[1]
    );
    assert!(rows[2].ends_with(r#"  4  "a\tb\u{1}""#), "{}", rows[2]);
    assert!(rows[3].contains("delete  \"long\""), "{}", rows[3]);
    assert!(rows[3].ends_with("  -  -"), "{}", rows[3]);
    // The synced delete grew the file by a preallocation step; the log ends
    // after its 25 bytes (24 + 125 + 28 + 25).
    let zeros = scratch.bytes().len() - 202;
    assert_eq!(
        rows[4],
        format!("preallocated: {zeros} zero bytes from offset 202 to the end of the file")
    );
    assert_eq!(rows[5], "clean");
}

#[test]
fn table_of_a_torn_log_ends_with_the_torn_tail() {
    let scratch = Scratch::torn(5);
    // The fourth record is 33 bytes; 28 of them made it.
    let expected = format!("{HEADER}{FIRST_THREE_ROWS}torn tail at offset 121 (28 bytes)\n");
    assert_eq!(dump_table(&scratch), expected);
}

#[test]
fn table_of_a_corrupt_log_names_the_damage_and_what_follows_it() {
    let scratch = Scratch::corrupt_mid_log();
    let damage = damage_of(&scratch.path);
    let table = dump_table(&scratch);
    let first_row = FIRST_THREE_ROWS.lines().next().unwrap();
    assert_eq!(
        table,
        format!(
            "{HEADER}{first_row}\ncorrupt at offset 53 ({}); 2 readable records after it\n",
            damage.reason()
        )
    );
    assert!(damage.reason().starts_with("checksum mismatch"));
}

#[test]
fn json_of_a_clean_log() {
    let scratch = Scratch::with_puts(&crate::support::FOUR_PUTS);
    let mut records = first_three_json();
    records.push(json_record(121, 4, "damson", "purple"));
    assert_eq!(
        dump_json(&scratch),
        json!({
            "records": records,
            "tail": {
                "state": "clean", "offset": 154, "bytes": 0, "preallocated": 0,
                "reason": null, "records_after": 0
            }
        })
    );
}

#[test]
fn json_of_a_torn_log() {
    let scratch = Scratch::torn(5);
    assert_eq!(
        dump_json(&scratch),
        json!({
            "records": first_three_json(),
            "tail": {
                "state": "torn", "offset": 121, "bytes": 28, "preallocated": 0,
                "reason": damage_of(&scratch.path).reason(), "records_after": 0
            }
        })
    );
}

#[test]
fn json_of_a_corrupt_log() {
    let scratch = Scratch::corrupt_mid_log();
    let damage = damage_of(&scratch.path);
    assert_eq!(
        dump_json(&scratch),
        json!({
            "records": [json_record(24, 1, "apple", "red")],
            "tail": {
                "state": "corrupt", "offset": 53, "bytes": 154 - 53, "preallocated": 0,
                "reason": damage.reason(), "records_after": 2
            }
        })
    );
}

#[test]
fn json_keeps_every_byte_and_marks_deletes() {
    let scratch = Scratch::new();
    let store = wal::KvStore::create(&scratch.path).unwrap();
    store.put(b"k\xff", b"\x00v\xfe").unwrap();
    store.put("text", "").unwrap();
    store.delete("text").unwrap();
    drop(store);
    let records = dump_json(&scratch)["records"].clone();
    assert_eq!(
        records,
        json!([
            {"offset": 24, "lsn": 1, "op": "put", "key": "k\u{fffd}", "key_hex": "6bff",
             "value": "\u{0}v\u{fffd}", "value_hex": "0076fe"},
            {"offset": 24 + 21 + 5, "lsn": 2, "op": "put", "key": "text", "value": ""},
            {"offset": 24 + 21 + 5 + 21 + 4, "lsn": 3, "op": "delete", "key": "text", "value": null},
        ])
    );
}

#[test]
fn json_of_an_empty_file_is_a_clean_empty_log() {
    let scratch = Scratch::new();
    std::fs::write(&scratch.path, b"").unwrap();
    assert_eq!(
        dump_json(&scratch),
        json!({"records": [], "tail": {
            "state": "clean", "offset": 0, "bytes": 0, "preallocated": 0,
            "reason": null, "records_after": 0
        }})
    );
}

#[test]
fn dump_of_a_large_log_streams_every_record() {
    let scratch = Scratch::new();
    wal()
        .args([
            "load",
            "--sync",
            "never",
            "--records",
            "20000",
            "--value-size",
            "10",
        ])
        .arg(&scratch.path)
        .assert()
        .success();
    let document = dump_json(&scratch);
    let records = document["records"].as_array().unwrap();
    assert_eq!(records.len(), 20000);
    assert_eq!(records[19999]["key"], "key-00020000");
    assert_eq!(document["tail"]["state"], "clean");
    scratch
        .wal("dump", &[])
        .assert()
        .success()
        .stdout(predicate::str::ends_with("10  \"key-000200\"\nclean\n"));
}
