//! `checker grade` on class folders as they come: one subfolder per student,
//! copies, entries that are not submissions, a screenshot; and the output
//! stays safe whatever the file names and pastes hold.

mod common;

use std::path::{Path, PathBuf};

use common::{checker, stdout, write};
use lesson::Receipt;
use serde_json::Value;

const PATTERNS: &[&str] = &["crash|simulate", "recover"];
const GOOD: &str = "Simulated crash after WAL write\nrecovered 5 records\nexit code: 0\n";

fn setup() -> (tempfile::TempDir, PathBuf) {
    common::lesson_outside_workspace(PATTERNS)
}

/// `checker grade --format FORMAT LESSON CLASS`: (stdout, stderr, code).
fn grade(format: &str, lesson: &Path, class: &Path) -> (String, String, i32) {
    let output = checker(class)
        .args(["grade", "--format", format])
        .arg(lesson)
        .arg(class)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    (stdout(&output), stderr, output.status.code().unwrap())
}

fn results(json: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(json).unwrap();
    report["results"].as_array().unwrap().clone()
}

fn source_of<'a>(results: &'a [Value], name: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["source"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no result for {name}"))
}

fn copy_of(result: &Value, class: &Path) -> Vec<String> {
    result["copy_of"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            Path::new(c.as_str().unwrap())
                .strip_prefix(class)
                .unwrap()
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn copies_are_flagged_not_failed() {
    let (dir, lesson) = setup();
    let class = dir.path().join("class");
    write(&class.join("alice.txt"), GOOD);
    // Whitespace and line ends differ only.
    write(
        &class.join("bob.txt"),
        GOOD.replace('\n', "   \r\n").replace(' ', "\t "),
    );
    write(
        &class.join("carol.txt"),
        "Simulated crash\nrecovered 4 records\nexit code: 0\n",
    );
    // Two different-looking pastes of one drill run: the same receipt run id.
    let transcript = "Crash drill 9: a simulated crash\n[1/1] recovered\nCrash drill 9 passed\n";
    let receipt = Receipt::issue("w01-l01", "00112233445566aa", transcript.as_bytes());
    write(
        &class.join("dave.txt"),
        format!("$ ./drill\n{transcript}{receipt}\n"),
    );
    write(
        &class.join("erin.txt"),
        format!("{transcript}{receipt}\nexit code: 0\n"),
    );
    let (json, _, code) = grade("json", &lesson, &class);
    assert_eq!(code, 0, "copies still pass: {json}");
    let results = results(&json);
    assert_eq!(
        copy_of(source_of(&results, "alice.txt"), &class),
        ["bob.txt"]
    );
    assert_eq!(
        copy_of(source_of(&results, "bob.txt"), &class),
        ["alice.txt"]
    );
    assert!(copy_of(source_of(&results, "carol.txt"), &class).is_empty());
    assert_eq!(
        copy_of(source_of(&results, "dave.txt"), &class),
        ["erin.txt"]
    );
    assert_eq!(
        copy_of(source_of(&results, "erin.txt"), &class),
        ["dave.txt"]
    );

    let (text, _, _) = grade("human", &lesson, &class);
    assert!(
        text.contains(&format!("  copy of: {}\n", class.join("bob.txt").display())),
        "{text}"
    );
    let (csv, _, _) = grade("csv", &lesson, &class);
    assert!(csv.starts_with(
        "lesson,source,status,xp,missing_patterns,message,copy_of,copies,same_store_as\n"
    ));
    assert!(
        csv.contains(&format!(
            ",pass,75,,,{},1,\n",
            class.join("erin.txt").display()
        )),
        "{csv}"
    );
    let (xml, _, _) = grade("junit", &lesson, &class);
    assert!(xml.contains("copy of: "), "{xml}");
}

#[test]
#[cfg(unix)]
fn student_subfolders_are_submissions_and_skipped_entries_are_listed() {
    use std::os::unix::fs::symlink;

    let (dir, lesson) = setup();
    let class = dir.path().join("class");
    write(&class.join("alice/run.txt"), GOOD);
    write(&class.join("bob/attempt1.txt"), "Simulated crash\n");
    write(&class.join("bob/attempt2.txt"), GOOD.replace("5", "6"));
    write(&class.join("bob/old/run.txt"), GOOD);
    write(&class.join(".DS_Store"), "x");
    write(&class.join("carol/.hidden.txt"), GOOD);
    write(&dir.path().join("outside.txt"), GOOD);
    symlink(dir.path().join("outside.txt"), class.join("escape.txt")).unwrap();
    symlink(class.join("missing.txt"), class.join("dangling.txt")).unwrap();
    symlink(class.join("alice/run.txt"), class.join("inside.txt")).unwrap();
    let (json, stderr, code) = grade("json", &lesson, &class);
    assert_eq!(code, 1, "{json}");
    let sources: Vec<String> = results(&json)
        .iter()
        .map(|r| r["source"].as_str().unwrap().to_owned())
        .collect();
    let at = |name: &str| class.join(name).display().to_string();
    assert_eq!(
        sources,
        [
            at("alice/run.txt"),
            at("bob/attempt1.txt"),
            at("bob/attempt2.txt"),
            at("inside.txt")
        ]
    );
    for (name, reason) in [
        (".DS_Store", "hidden"),
        (
            "bob/old",
            "a folder inside a student's folder (one level is searched)",
        ),
        ("carol/.hidden.txt", "hidden"),
        ("dangling.txt", "a dangling symlink"),
        ("escape.txt", "a symlink leading out of the class folder"),
    ] {
        let line = format!("checker: skipped {}: {reason}\n", at(name));
        assert!(stderr.contains(&line), "{line:?} missing:\n{stderr}");
    }
    assert_eq!(stderr.lines().count(), 5, "{stderr}");
}

#[test]
fn a_screenshot_is_an_error_result_saying_what_it_looks_like() {
    let (dir, lesson) = setup();
    let class = dir.path().join("class");
    write(
        &class.join("screenshot.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0",
    );
    write(&class.join("notes.bin"), b"crash\0recover\0");
    write(&class.join("run.txt"), GOOD);
    let (json, _, code) = grade("json", &lesson, &class);
    assert_eq!(code, 1);
    let results = results(&json);
    let png = source_of(&results, "screenshot.png");
    assert_eq!(png["status"], "error");
    assert_eq!(
        png["message"],
        "not a text paste: it looks like a PNG image"
    );
    let bin = source_of(&results, "notes.bin");
    assert_eq!(bin["status"], "error");
    assert_eq!(
        bin["message"],
        "not a text paste: it looks like binary data: it holds NUL bytes (UTF-16 text needs a byte-order mark)"
    );
    assert_eq!(source_of(&results, "run.txt")["status"], "pass");
}

#[test]
fn names_and_texts_cannot_inject_formulas_or_terminal_controls() {
    let (dir, lesson) = setup();
    let class = dir.path().join("class");
    write(&class.join("=HYPERLINK(\"http:x\").txt"), GOOD);
    write(
        &class.join("evil\x1b[2J.txt"),
        "Simulated crash \x07\x1b]0;t\x07\nno\n",
    );
    // Named relative to the class folder, the source cell starts with `=`.
    let output = checker(&class)
        .args(["grade", "--format", "csv"])
        .arg(&lesson)
        .arg("=HYPERLINK(\"http:x\").txt")
        .output()
        .unwrap();
    let csv = stdout(&output);
    assert!(
        csv.ends_with("\nw01-l01,\"'=HYPERLINK(\"\"http:x\"\").txt\",pass,75,,,,0,\n"),
        "{csv}"
    );
    let (text, _, _) = grade("human", &lesson, &class);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("evil\\u{1b}[2J.txt"), "{text}");
    let (xml, _, _) = grade("junit", &lesson, &class);
    assert!(!xml.contains('\x1b') && !xml.contains('\x07'), "{xml:?}");
    assert!(xml.contains("Simulated crash \\u{7}"), "{xml}");
}

#[test]
fn a_match_far_into_a_long_line_is_shown() {
    let (dir, lesson) = setup();
    let paste = dir.path().join("long.txt");
    write(
        &paste,
        format!(
            "{} recovered {}\nSimulated crash\n",
            "x".repeat(300),
            "y".repeat(300)
        ),
    );
    let output = checker(dir.path())
        .args(["grade", "--format", "json"])
        .arg(&lesson)
        .arg(&paste)
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let text = report["results"][0]["patterns"][1]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains(" recovered "), "{text}");
    assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
}
