//! Missing files, files that are not WALs, and read-only commands that must
//! leave the file byte-identical.

use std::fs;

use predicates::prelude::*;

use crate::support::{Scratch, wal};

/// Every subcommand that takes a file, with the arguments after it.
const FILE_COMMANDS: [(&str, &[&str]); 7] = [
    ("put", &["k", "v"]),
    ("delete", &["k"]),
    ("get", &["k"]),
    ("dump", &[]),
    ("verify", &[]),
    ("repair", &[]),
    ("load", &["--records", "2"]),
];

#[test]
fn missing_file_exits_2_naming_it_for_readers_and_repair() {
    let scratch = Scratch::new();
    for subcommand in ["get", "dump", "verify", "repair"] {
        let args: &[&str] = if subcommand == "get" { &["k"] } else { &[] };
        scratch
            .wal(subcommand, args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(scratch.shown()));
        assert!(!scratch.path.exists(), "{subcommand} created the log");
    }
    scratch.wal("dump", &["--json"]).assert().code(2).stdout("");
}

#[test]
fn not_a_wal_exits_2_for_every_subcommand_and_is_left_alone() {
    let texts: [&[u8]; 3] = [
        b"hello, this is a text file and not a log\n",
        b"short\n",
        // Right magic, damaged header.
        &[
            b'K', b'V', b'W', b'A', b'L', b'\r', b'\n', 0x1a, 1, 0, 0, 0, 0, 0, 0, 0, 1,
        ],
    ];
    for text in texts {
        let scratch = Scratch::new();
        fs::write(&scratch.path, text).unwrap();
        for (subcommand, rest) in FILE_COMMANDS {
            scratch
                .wal(subcommand, rest)
                .assert()
                .code(2)
                .stdout("")
                .stderr(
                    predicate::str::contains(scratch.shown())
                        .and(predicate::str::contains("not a WAL")),
                );
            assert_eq!(fs::read(&scratch.path).unwrap(), text, "{subcommand}");
        }
        assert_eq!(scratch.files(), ["test.wal"]);
    }
}

#[test]
fn readers_leave_damaged_logs_byte_identical() {
    for scratch in [Scratch::torn(5), Scratch::corrupt_mid_log()] {
        let before = scratch.bytes();
        let runs: [&[&str]; 5] = [
            &["dump"],
            &["dump", "--json"],
            &["verify"],
            &["get", "apple"],
            &["get", "nothing"],
        ];
        for args in runs {
            let output = scratch.wal(args[0], &args[1..]).output().unwrap();
            assert_ne!(output.status.code(), Some(2), "{args:?}: {output:?}");
            assert_eq!(scratch.bytes(), before, "{args:?} modified the log");
        }
        assert_eq!(
            scratch.files(),
            ["test.wal"],
            "a reader saved or created files"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    wal().assert().code(2);
    wal().arg("frobnicate").assert().code(2);
    wal().args(["put", "only-a-file"]).assert().code(2);
    wal().args(["dump"]).assert().code(2);
}

#[test]
fn a_closed_stdout_stops_dump_quietly() {
    let scratch = Scratch::new();
    scratch
        .wal("load", &["--sync", "never", "--records", "5000"])
        .assert()
        .success();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("wal"))
        .arg("dump")
        .arg(&scratch.path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read nothing and close the pipe: dump's writes fail with EPIPE.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(output.stderr, b"");
}

#[test]
fn writers_refuse_a_log_another_writer_holds_and_readers_do_not_mind() {
    let scratch = Scratch::with_puts(&[("a", "1")]);
    let holder = wal::KvStore::recover(&scratch.path).expect("open the log as a writer");
    let before = scratch.bytes();
    for (subcommand, rest) in [
        ("put", &["k", "v"][..]),
        ("delete", &["a"]),
        ("load", &["--records", "2"]),
    ] {
        scratch
            .wal(subcommand, rest)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("another writer has this log open"))
            .stderr(predicate::str::contains(scratch.shown()));
    }
    assert_eq!(scratch.bytes(), before, "a refused writer changed the log");
    scratch.wal("get", &["a"]).assert().code(0).stdout("1\n");
    scratch.wal("verify", &[]).assert().code(0);
    drop(holder);
    scratch
        .wal("put", &["k", "v"])
        .assert()
        .code(0)
        .stdout("2\n");
}
