//! `checker grade` fails a drill transcript of the course's own stores (the
//! reference store, a shipped example) unless `--accept-course-stores`, and
//! reads the store only from lines the transcript's receipt vouches for.

mod common;

use std::path::Path;

use common::{checker, stdout};
use lesson::Receipt;
use serde_json::Value;
use sha2::{Digest, Sha256};

const REFERENCE: &str =
    "store under test: the reference store (wal::KvStore, as `wal serve DIR`)\n";

/// A drill transcript of w09-l07 naming the store with `store_lines`, with
/// its receipt, as pasted from a terminal.
fn transcript(store_lines: &str) -> String {
    let body = format!(
        "Crash drill 1: the process crashes after the WAL write\n{store_lines}\
         [1/2] simulated crash: CRASH\n[2/2] restart: store: READY replayed 1, skipped 0\n\
         Crash drill 1 passed: data recovered from WAL\n"
    );
    let receipt = Receipt::issue("w09-l07", "0123456789abcdef", body.as_bytes());
    format!("$ ./test_crash_after_wal\n{body}{receipt}\nexit code: 0\n")
}

/// The line naming `path` with the SHA-256 of `bytes`.
fn file_line(bytes: &[u8], path: &str) -> String {
    let hash: String = Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("  sha256 {hash}  {path}\n")
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Grade `pastes` (name, text) in JSON against the real w09-l07 lesson,
/// from a folder outside the workspace, with `args`.
fn grade(pastes: &[(&str, String)], args: &[&str]) -> Vec<Value> {
    let class = tempfile::tempdir().unwrap();
    for (name, text) in pastes {
        std::fs::write(class.path().join(name), text).unwrap();
    }
    let output = checker(class.path())
        .args(["grade", "--format", "json"])
        .args(args)
        .arg(root().join("lessons/w09-l07/lesson.md"))
        .arg(class.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    report["results"].as_array().unwrap().clone()
}

#[test]
fn course_stores_fail_and_a_students_store_passes() {
    let model = std::fs::read(root().join("examples/stores/python/kvstore.py")).unwrap();
    let broken = std::fs::read(root().join("examples/stores/broken/no_replay.py")).unwrap();
    let starter = std::fs::read(root().join("examples/stores/rust-starter/src/main.rs")).unwrap();
    let python = file_line(b"an interpreter", "/usr/bin/python3");
    let store = "store under test: python3 my_store.py DIR\n";
    let mut own = model.clone();
    own.extend_from_slice(b"# changed\n");
    let pastes = [
        ("a-reference.txt", transcript(REFERENCE)),
        (
            "b-model.txt",
            transcript(&format!(
                "{store}{python}{}",
                file_line(&model, "my_store.py")
            )),
        ),
        (
            "c-broken.txt",
            transcript(&format!("{store}{}", file_line(&broken, "b.py"))),
        ),
        (
            "d-starter.txt",
            transcript(&format!("{store}{}", file_line(&starter, "main.rs"))),
        ),
        (
            "e-own.txt",
            transcript(&format!(
                "{store}{python}{}",
                file_line(&own, "my_store.py")
            )),
        ),
    ];
    let results = grade(&pastes, &[]);
    let messages: Vec<&str> = results
        .iter()
        .map(|r| r["message"].as_str().unwrap_or("pass"))
        .collect();
    assert_eq!(
        messages,
        [
            "tested the reference store, not yours (line 3): run the drill with --store \"YOUR STORE\" (README: For students: test your own store)",
            "tested examples/stores/python/kvstore.py, the course's model store, not your own (line 5: my_store.py)",
            "tested examples/stores/broken/no_replay.py, one of the course's broken example stores, not your own (line 4: b.py)",
            "tested examples/stores/rust-starter/src/main.rs, the course's Rust starter, unchanged, not your own (line 4: main.rs)",
            "pass",
        ]
    );
    assert_eq!(results[0]["xp"], 0);

    // The instructor accepts them.
    let accepted = grade(&pastes, &["--accept-course-stores"]);
    assert!(
        accepted.iter().all(|r| r["status"] == "pass"),
        "{accepted:?}"
    );
}

#[test]
fn the_store_is_read_only_from_verified_lines() {
    let own = "store under test: ./my_store DIR\n";
    // Edited to name the student's store: the receipt no longer matches.
    let edited = transcript(REFERENCE).replace(REFERENCE, own);
    // A reference store line outside the transcript is not the drill's.
    let outside = format!("{REFERENCE}{}", transcript(own));
    let results = grade(&[("a-edited.txt", edited), ("b-outside.txt", outside)], &[]);
    assert!(
        results[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("edited: the receipt on line 7 does not match"),
        "{}",
        results[0]
    );
    assert_eq!(results[1]["status"], "pass", "{}", results[1]);
}

/// A copy of a course store whose only changes are comments or blank space
/// is that course store (the drills print each source file's code
/// fingerprint), and a wrapper whose served-by line names the reference
/// store tested the reference store.
#[test]
fn comment_only_copies_and_wrappers_are_the_course_stores() {
    use lesson::fingerprint::code_fingerprint;
    use lesson::tested::{code_line, served_by_line};

    let model = std::fs::read_to_string(root().join("examples/stores/python/kvstore.py")).unwrap();
    let store = "store under test: python3 my_store.py DIR\n";
    let named = |text: &str| {
        let code = code_fingerprint("my_store.py", text.as_bytes()).unwrap();
        format!(
            "{store}{}{}\n",
            file_line(text.as_bytes(), "my_store.py"),
            code_line(&code)
        )
    };
    let commented = format!(
        "# My own store, written by me.\n{}\n\n# the end\n",
        model
            .replace("\n\n\n", "\n\n")
            .replacen("import ", "import  ", 1)
    );
    assert_ne!(commented, model);
    let changed = model.replacen("READY replayed", "READY (mine) replayed", 1);
    assert_ne!(changed, model);
    let wrapper = format!(
        "store under test: ./my_store.sh DIR\n{}[1/2] started\n{}\n",
        file_line(b"#!/bin/sh\nexec wal serve \"$@\"\n", "./my_store.sh"),
        served_by_line("/home/s/target/debug/wal", true),
    );
    let wrapper = transcript(&wrapper);
    let results = grade(
        &[
            ("a-commented.txt", transcript(&named(&commented))),
            ("b-changed.txt", transcript(&named(&changed))),
            ("c-wrapper.txt", wrapper),
        ],
        &[],
    );
    let message = |index: usize| results[index]["message"].as_str().unwrap_or("pass");
    assert_eq!(
        message(0),
        "tested a copy of examples/stores/python/kvstore.py, the course's model store, with only comments or blank space changed, not your own (line 4: my_store.py)"
    );
    assert_eq!(message(1), "pass");
    assert!(
        message(2).starts_with("the store that answered the drill was the reference store, not yours (line 6: served by the reference store (/home/s/target/debug/wal))"),
        "{}",
        message(2)
    );
}
