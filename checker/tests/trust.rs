//! `checker grade` for a lesson with a drill, against the submissions a
//! class really sends: only the drill's verified transcript of the
//! student's own store passes, whatever else is typed, pasted or edited;
//! honest formatting still passes; copies are flagged; the gradebook keeps
//! one row per student per lesson. The transcripts here are built with the
//! drills' own receipt (`lesson::Receipt`); `drills.rs` grades real runs.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{checker, stdout, write};
use lesson::Receipt;
use serde_json::Value;

fn lessons() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons")
}

/// A w09-l07 drill transcript that tested `store` (a file of the student's
/// whose SHA-256 is `hash`), with `verdict` as its last line.
fn transcript(run: &str, hash: &str, verdict: &str) -> String {
    let body = format!(
        "Crash drill 1: the process crashes after the WAL write (fsync'd), before the in-memory apply
store under test: python3 my_store.py DIR
  sha256 {}  /usr/bin/python3
  sha256 {hash}  my_store.py
[1/3] started the store on an empty directory /tmp/test_crash_after_wal-x/store
[2/3] simulated crash: CRASH -> the store exited at once (exit status: 1), before the PUT reached its map
[3/3] restart: a new store process (empty map) on the same directory
      ok: GET test_key -> VALUE test_value: the PUT came back from the WAL
{verdict}
",
        "aa".repeat(32)
    );
    let receipt = Receipt::issue("w09-l07", run, body.as_bytes());
    format!(
        "$ cargo run -q -p w09-l07 -- --store \"python3 my_store.py\"\n{body}{receipt}\n$ echo \"exit code: $?\"\n"
    )
}

const PASSED: &str = "Crash drill 1 passed: data recovered from WAL";
const FAILED: &str = "FAILED: GET test_key after the restart: expected VALUE test_value, found NOT_FOUND. Likely defect: replay the WAL on start";

fn passed(run: &str, hash: &str) -> String {
    transcript(run, hash, PASSED) + "exit code: 0\n"
}

/// `checker grade --format json w09-l07 PASTES... EXTRA...` run in `dir`.
fn grade(dir: &Path, pastes: &[&Path], extra: &[&str]) -> (Value, i32) {
    let output = checker(dir)
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "--format", "json", "w09-l07"])
        .args(extra)
        .args(pastes)
        .output()
        .unwrap();
    let text = stdout(&output);
    let json = serde_json::from_str(&text).unwrap_or_else(|_| {
        panic!("{text}{}", String::from_utf8_lossy(&output.stderr));
    });
    (json, output.status.code().unwrap())
}

fn result<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no result for {name}: {report}"))
}

#[test]
fn only_a_verified_transcript_of_the_students_own_store_passes() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    let own = "b3".repeat(32);
    let honest = passed("0123456789abcdef", &own);
    let failed = transcript("1111111111111111", &own, FAILED);
    let cases: Vec<(&str, String, &str)> = vec![
        ("honest.txt", honest.clone(), ""),
        ("quoted.txt", honest.lines().map(|l| format!("> {l}\n")).collect(), ""),
        ("indented.txt", honest.lines().map(|l| format!("    {l}\n")).collect(), ""),
        ("typed-words.txt", "crash\nrecover\n".into(), "no transcript of the w09-l07 drill"),
        (
            "typed-lines.txt",
            "Simulated crash after WAL write\nRecovered test_key from the WAL\nCrash drill 1 passed: data recovered from WAL\n".into(),
            "no transcript of the w09-l07 drill",
        ),
        (
            "pytest.txt",
            "============ test session starts ============\ntest_crash.py::test_crash_after_wal_recovers PASSED\n============ 1 passed in 0.02s ============\n".into(),
            "no transcript of the w09-l07 drill",
        ),
        (
            "checker-run.txt",
            "PASS  w09-l07  test_crash_after_wal  +75 XP\n  ✓ crash|simulate  line 23: Crash drill 1 passed\n  ✓ recover|replay|found  line 23: Crash drill 1 passed\n\nXP earned: 75 of 75\n1 passed, 0 failed\n".into(),
            "this is the report of `checker run`, not the drill's transcript",
        ),
        (
            "source.py",
            "if cmd == b\"CRASH\":\n    os._exit(1)  # simulate a crash\nelse:\n    reply(b\"NOT_FOUND\")  # recover found nothing\n".into(),
            "no transcript of the w09-l07 drill",
        ),
        ("edited-exit.txt", failed.clone() + "exit code: 0\n", "failed run: line 10: FAILED: GET test_key"),
        (
            "edited-verdict.txt",
            failed.replace(FAILED, PASSED) + "exit code: 0\n",
            "edited: the receipt on line 11 does not match",
        ),
        ("empty.txt", "\n\n".into(), "the paste is empty"),
    ];
    for (name, text, _) in &cases {
        write(&class.join(name), text);
    }
    let (report, code) = grade(dir.path(), &[&class], &[]);
    assert_eq!(code, 1);
    for (name, _, expected) in &cases {
        let result = result(&report, name);
        let message = result["message"].as_str().unwrap_or_default();
        if expected.is_empty() {
            assert_eq!(result["status"], "pass", "{name}: {message}");
            let text = result["patterns"][1]["text"].as_str().unwrap();
            assert!(text.ends_with(PASSED), "{name}: {text}");
        } else {
            assert_eq!(result["status"], "fail", "{name}");
            assert!(message.starts_with(expected), "{name}: {message}");
            // Every failure says what to paste instead, or what went wrong.
            if expected.starts_with("no transcript")
                || expected.starts_with("this is")
                || expected.starts_with("the paste")
            {
                assert!(
                    message.ends_with("this lesson is graded on its drill's transcript: run `cargo run -q -p w09-l07 -- --store \"YOUR STORE\"`, then `echo \"exit code: $?\"`, and paste the whole output, receipt included"),
                    "{name}: {message}"
                );
            }
        }
    }
    // A failed run shows no evidence: the FAILED verdict's "found" is no ✓.
    let edited = result(&report, "edited-exit.txt");
    assert_eq!(edited["patterns"][1]["matched"], false, "{edited}");

    // --accept-own-tests: the student's own pytest run passes on the
    // patterns and the runner's verdict; echoes and the edited exit code
    // still fail.
    let (report, _) = grade(dir.path(), &[&class], &["--accept-own-tests"]);
    assert_eq!(result(&report, "pytest.txt")["status"], "pass", "{report}");
    assert_eq!(result(&report, "edited-exit.txt")["status"], "fail");
    assert_eq!(result(&report, "honest.txt")["status"], "pass");
}

#[test]
fn copies_edited_or_not_are_flagged_and_held_in_the_gradebook() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    let alice = passed("0123456789abcdef", &"a1".repeat(32));
    write(
        &class.join("alice/first.txt"),
        transcript("2222222222222222", &"a1".repeat(32), FAILED) + "exit code: 1\n",
    );
    write(&class.join("alice/run.txt"), &alice);
    // Bob pasted Alice's run with the store's name changed: it fails as
    // edited, and both are flagged.
    write(
        &class.join("bob/run.txt"),
        alice.replace("my_store.py", "bob_store.py"),
    );
    // Carol and Dave tested the same store file in runs of their own.
    write(
        &class.join("carol/run.txt"),
        passed("3333333333333333", &"cc".repeat(32)),
    );
    write(
        &class.join("dave/run.txt"),
        passed("4444444444444444", &"cc".repeat(32)),
    );
    write(
        &class.join("erin.txt"),
        passed("5555555555555555", &"ee".repeat(32)),
    );

    let (report, _) = grade(dir.path(), &[&class], &[]);
    let alice_run = result(&report, "alice/run.txt");
    assert_eq!(
        alice_run["copy_of"][0].as_str().unwrap(),
        class.join("bob/run.txt").display().to_string()
    );
    assert!(
        result(&report, "bob/run.txt")["message"]
            .as_str()
            .unwrap()
            .starts_with("edited: ")
    );
    assert_eq!(result(&report, "bob/run.txt")["copies"], 1);
    assert_eq!(
        result(&report, "carol/run.txt")["same_store_as"][0]
            .as_str()
            .unwrap(),
        class.join("dave/run.txt").display().to_string()
    );
    // The interpreter every student shares is no shared store.
    assert_eq!(
        result(&report, "erin.txt")["same_store_as"],
        serde_json::json!([])
    );

    let gradebook = |extra: &[&str]| {
        let output = checker(dir.path())
            .arg("--lessons")
            .arg(lessons())
            .args(["grade", "--format", "csv", "--gradebook", "w09-l07"])
            .args(extra)
            .arg(&class)
            .output()
            .unwrap();
        (stdout(&output), output.status.code().unwrap())
    };
    let (csv, code) = gradebook(&[]);
    assert_eq!(code, 1);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "student,lesson,status,xp,message,copy_of,same_store_as,held,file,submissions,duration_ms,fingerprint"
    );
    assert_eq!(rows.len(), 6, "{csv}");
    let row = |student: &str| {
        *rows
            .iter()
            .find(|r| r.starts_with(&format!("{student},")))
            .unwrap()
    };
    // Alice's best of two submissions decides; it is held as a copy.
    assert!(
        row("alice").starts_with("alice,w09-l07,pass,0,XP held: copy of: "),
        "{csv}"
    );
    assert!(
        row("alice").ends_with(&format!(
            ",true,{},2,,",
            class.join("alice/run.txt").display()
        )),
        "{csv}"
    );
    assert!(
        row("bob").starts_with("bob,w09-l07,fail,0,\"edited: "),
        "{csv}"
    );
    assert!(row("carol").starts_with("carol,w09-l07,pass,0,"), "{csv}");
    assert!(
        row("erin").starts_with("erin,w09-l07,pass,75,,,,false,"),
        "{csv}"
    );
    // Cleared by the instructor, by flag or by file.
    let (csv, _) = gradebook(&["--clear", "alice"]);
    assert!(csv.contains("\nalice,w09-l07,pass,75,,"), "{csv}");
    let cleared = dir.path().join("cleared.txt");
    fs::write(&cleared, "# checked by hand\ncarol\ndave\n").unwrap();
    let (csv, _) = gradebook(&["--clear-file", cleared.to_str().unwrap()]);
    assert!(
        csv.contains("\ncarol,w09-l07,pass,75,") && csv.contains("\ndave,w09-l07,pass,75,"),
        "{csv}"
    );
}

#[test]
fn all_grades_every_lesson_folder_and_a_parent_folder_says_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    write(
        &class.join("w09-l07/alice/run.txt"),
        passed("0123456789abcdef", &"a1".repeat(32)),
    );
    write(&class.join("w09-l08/alice/run.txt"), "crash\nrecover\n");
    write(&class.join("w09-l08/bob.txt"), "partial\nskip\n");
    write(&class.join("notes/readme.txt"), "not a lesson");
    let output = checker(dir.path())
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "--format", "json", "--all"])
        .arg(&class)
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rows = report["gradebook"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["student"].as_str().unwrap(),
                r["lesson"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("alice", "w09-l07", "pass"),
            ("alice", "w09-l08", "fail"),
            ("bob", "w09-l08", "fail")
        ]
    );
    assert_eq!(report["totals"]["students"], 2);
    assert_eq!(output.status.code(), Some(1));

    let output = checker(dir.path())
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "w09-l07"])
        .arg(&class)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("holds lesson folders (w09-l07, w09-l08), not submissions"),
        "{stderr}"
    );
    assert!(stderr.contains("--all"), "{stderr}");
}

#[test]
#[cfg(unix)]
fn hostile_class_folders_cannot_steer_the_grader() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    write(
        &class.join("alice.txt"),
        passed("0123456789abcdef", &"a1".repeat(32)),
    );
    // A link back to the class folder grades nobody twice.
    std::os::unix::fs::symlink(".", class.join("loop")).unwrap();
    // A FIFO among the files is not a submission, and one named as a PASTE
    // is refused at once instead of blocking.
    let fifo = class.join("pipe.txt");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let output = checker(dir.path())
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "--format", "json", "w09-l07"])
        .arg(&class)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["results"].as_array().unwrap().len(), 1, "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("loop: a symlink to a folder already graded"),
        "{stderr}"
    );
    assert!(stderr.contains("pipe.txt: not a regular file"), "{stderr}");
    checker(dir.path())
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "w09-l07"])
        .arg(&fifo)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a regular file"));

    // `checker grade w09-l07 *` where a student named a file after an
    // option: refused, unless the pastes come after `--`.
    let names = dir.path().join("names");
    write(&names.join("--accept-course-stores"), "x");
    write(&names.join("bob.txt"), "crash\nrecover\n");
    checker(&names)
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "w09-l07", "--accept-course-stores", "bob.txt"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "`--accept-course-stores` is an option, but a file here has that name",
        ));
    checker(&names)
        .arg("--lessons")
        .arg(lessons())
        .args([
            "grade",
            "--format",
            "json",
            "w09-l07",
            "--",
            "--accept-course-stores",
            "bob.txt",
        ])
        .assert()
        .code(1);

    // Lessons inside the folder being graded could be a student's.
    let evil = class.join("evil");
    fs::create_dir_all(evil.join("w09-l07")).unwrap();
    fs::copy(
        lessons().join("w09-l07/lesson.md"),
        evil.join("w09-l07/lesson.md"),
    )
    .unwrap();
    checker(dir.path())
        .arg("--lessons")
        .arg(&evil)
        .args(["grade", "w09-l07"])
        .arg(&class)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "is inside the folder being graded",
        ));
}

#[test]
fn junit_and_csv_stay_well_formed_for_any_name_or_text() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    write(
        &class.join("odd\u{FFFE}\u{FFFF}\u{1b}[2J\u{7}.txt"),
        "crash \u{FFFF}\u{8}\nrecover\n",
    );
    let run = |format: &str| {
        let output = checker(dir.path())
            .arg("--lessons")
            .arg(lessons())
            .args(["grade", "--format", format, "w09-l07"])
            .arg(&class)
            .output()
            .unwrap();
        stdout(&output)
    };
    let xml = run("junit");
    assert!(
        !xml.contains(['\u{FFFE}', '\u{FFFF}', '\u{1b}', '\u{7}', '\u{8}']),
        "{xml:?}"
    );
    assert!(
        xml.contains("odd\\u{fffe}\\u{ffff}\\u{1b}[2J\\u{7}.txt"),
        "{xml}"
    );
    let csv = run("csv");
    assert!(
        !csv.contains(['\u{FFFE}', '\u{FFFF}', '\u{1b}', '\u{7}', '\u{8}']),
        "{csv:?}"
    );
}

/// The built-in list of lessons with a drill is the workspace's, so a copy
/// of a lesson document graded elsewhere keeps its drill rule.
#[test]
fn a_copied_lesson_document_keeps_its_drill_rule() {
    let mut with_drill: Vec<String> = fs::read_dir(lessons())
        .unwrap()
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    with_drill.sort();
    assert_eq!(with_drill, checker::grade::DRILL_LESSONS);

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy/lesson.md");
    write(
        &copy,
        fs::read_to_string(lessons().join("w09-l07/lesson.md")).unwrap(),
    );
    let typed = dir.path().join("typed.txt");
    write(
        &typed,
        "simulated crash after the WAL write\nrecovered the put by replay\n",
    );
    let output = checker(dir.path())
        .args(["grade", "--format", "json"])
        .arg(&copy)
        .arg(&typed)
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["results"][0]["status"], "fail", "{report}");
    assert!(
        report["results"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("no transcript of the w09-l07 drill"),
        "{report}"
    );
}

/// `checker grade w09-l07 -- class/*` (each student's folder named) and
/// `class/*/run.txt` (each student's file) keep one row per student.
#[test]
fn students_keep_their_names_when_a_shell_expands_the_class() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    for student in ["alice", "bob", "carol"] {
        write(&class.join(student).join("run.txt"), "crash\nrecover\n");
    }
    write(&class.join("bob/second.txt"), "crash\nrecover\n");
    let students = |arguments: Vec<PathBuf>| -> Vec<String> {
        let output = checker(dir.path())
            .arg("--lessons")
            .arg(lessons())
            .args(["grade", "--format", "json", "--gradebook", "w09-l07", "--"])
            .args(arguments)
            .output()
            .unwrap();
        let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
        report["gradebook"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                format!(
                    "{} {}",
                    row["student"].as_str().unwrap(),
                    row["submissions"]
                )
            })
            .collect()
    };
    let folders: Vec<PathBuf> = ["alice", "bob", "carol"]
        .iter()
        .map(|s| class.join(s))
        .collect();
    assert_eq!(students(folders), ["alice 1", "bob 2", "carol 1"]);
    let files: Vec<PathBuf> = ["alice", "bob", "carol"]
        .iter()
        .map(|s| class.join(s).join("run.txt"))
        .collect();
    assert_eq!(students(files), ["alice 1", "bob 1", "carol 1"]);
    // One folder is a class: its subfolders are the students.
    assert_eq!(
        students(vec![class.clone()]),
        ["alice 1", "bob 2", "carol 1"]
    );
}

/// Names that are not UTF-8 never merge two students.
#[test]
#[cfg(unix)]
fn names_that_are_not_utf8_stay_apart() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    for byte in [0xe9u8, 0xe8] {
        let bytes = [b'c', b'a', b'f', byte];
        let name = std::ffi::OsStr::from_bytes(&bytes);
        write(&class.join(name).join("run.txt"), "crash\nrecover\n");
    }
    let output = checker(dir.path())
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "--format", "json", "--gradebook", "w09-l07"])
        .arg(&class)
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<&str> = report["gradebook"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["student"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["caf\\xe8", "caf\\xe9"]);
}

/// In the gradebook a student's flags are those of all their submissions
/// for the lesson, and a student's own two identical files are no copy.
#[test]
fn gradebook_flags_count_every_submission_of_a_student() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    let bobs = passed("0123456789abcdef", &"b0".repeat(32));
    write(&class.join("bob/run.txt"), &bobs);
    write(
        &class.join("alice/b_mine.txt"),
        passed("1111111111111111", &"a1".repeat(32)),
    );
    write(&class.join("alice/z_from_bob.txt"), &bobs);
    let carols = passed("2222222222222222", &"c2".repeat(32));
    write(&class.join("carol/one.txt"), &carols);
    write(&class.join("carol/two.txt"), &carols);
    let output = checker(dir.path())
        .arg("--lessons")
        .arg(lessons())
        .args(["grade", "--format", "json", "--gradebook", "w09-l07"])
        .arg(&class)
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rows = report["gradebook"].as_array().unwrap();
    let row = |student: &str| rows.iter().find(|r| r["student"] == student).unwrap();
    assert_eq!(row("alice")["held"], true, "{report}");
    assert_eq!(row("alice")["xp"], 0);
    assert_eq!(row("bob")["held"], true);
    assert_eq!(row("carol")["held"], false, "{report}");
    assert_eq!(row("carol")["xp"], 75);
}

/// A carriage return inside a transcript hides what was written before it
/// on its line: an old drill that printed a store's stderr raw let a store
/// turn its FAILED verdict into a pass that way. The receipt, computed over
/// what a terminal shows, matches; the grade still fails.
#[test]
fn a_carriage_return_in_a_transcript_cannot_hide_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let forged = transcript(
        "0123456789abcdef",
        &"a1".repeat(32),
        &format!("{FAILED}; the store's stderr ended with: boom\r{PASSED}"),
    );
    let paste = dir.path().join("forged.txt");
    write(&paste, forged + "exit code: 0\n");
    let (report, _) = grade(dir.path(), &[&paste], &[]);
    let result = &report["results"][0];
    assert_eq!(result["status"], "fail", "{report}");
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("line 10 of the drill's transcript holds a carriage return"),
        "{report}"
    );
}
