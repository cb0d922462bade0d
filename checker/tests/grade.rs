//! `checker grade`: pastes from files, class folders and stdin, in every
//! format, with normalisation and failed-run detection.

mod common;

use std::path::{Path, PathBuf};

use common::{checker, document, stdout, write};
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

fn setup(patterns: &[&str]) -> (TempDir, PathBuf) {
    common::lesson_outside_workspace(patterns)
}

const PATTERNS: &[&str] = &["crash|simulate", "recover"];
const GOOD: &str =
    "Simulated crash after WAL write\nCrash drill 1 passed: data recovered\nexit code: 0\n";
const BAD: &str = "Simulated crash after WAL write\nnothing came back\n";

fn paste(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    write(&path, text);
    path
}

/// `checker grade --format FORMAT LESSON PASTES...` fed `stdin`: its
/// stdout, after checking the exit code is `code`.
fn grade(format: &str, lesson: &Path, pastes: &[&Path], stdin: &[u8], code: i32) -> String {
    let output = checker(lesson.parent().unwrap())
        .args(["grade", "--format", format])
        .arg(lesson)
        .args(pastes)
        .write_stdin(stdin)
        .assert()
        .code(code);
    stdout(output.get_output())
}

/// [`grade`] in JSON, parsed.
fn grade_json(lesson: &Path, pastes: &[&Path], stdin: &[u8], code: i32) -> Value {
    let text = grade("json", lesson, pastes, stdin, code);
    serde_json::from_str(&text).expect("stdout is one JSON document")
}

#[test]
fn a_passing_paste_shows_marks_lines_xp_and_exits_0() {
    let (dir, lesson) = setup(PATTERNS);
    let good = paste(dir.path(), "good.txt", GOOD);
    let text = grade("human", &lesson, &[&good], b"", 0);
    assert!(text.contains("PASS"), "{text}");
    // The last matching line is quoted: usually the verdict.
    assert!(
        text.contains("✓ crash|simulate  line 2: Crash drill 1 passed: data recovered"),
        "{text}"
    );
    assert!(
        text.contains("✓ recover         line 2: Crash drill 1 passed: data recovered"),
        "{text}"
    );
    assert!(
        text.contains("+75 XP") && text.contains("XP earned: 75 of 75"),
        "{text}"
    );
    assert_eq!(text.lines().last(), Some("1 passed, 0 failed"));
    assert!(
        !text.contains('\u{1b}'),
        "no colour off a terminal: {text:?}"
    );
}

#[test]
fn a_failing_paste_shows_the_instructions_and_exits_1() {
    let (dir, lesson) = setup(PATTERNS);
    let bad = paste(dir.path(), "bad.txt", BAD);
    let text = grade("human", &lesson, &[&bad], b"", 1);
    assert!(text.contains("FAIL"), "{text}");
    assert!(
        text.contains("✗ recover         no matching line"),
        "{text}"
    );
    assert!(text.contains("no line matches `recover`"), "{text}");
    assert!(text.contains("to pass: Show the w01-l01 output."), "{text}");
    assert!(text.contains("XP earned: 0 of 75"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn json_follows_the_schema() {
    let (dir, lesson) = setup(PATTERNS);
    let good = paste(dir.path(), "good.txt", GOOD);
    let bad = paste(dir.path(), "bad.txt", BAD);
    let report = grade_json(&lesson, &[&good, &bad], b"", 1);
    assert_eq!(report["schema"], 3);
    assert_eq!(report["results"][0]["copy_of"], serde_json::json!([]));
    let pass = &report["results"][0];
    assert_eq!(pass["lesson"], "w01-l01");
    assert_eq!(pass["source"], good.display().to_string());
    assert_eq!(pass["status"], "pass");
    assert_eq!(pass["xp"], 75);
    assert_eq!(pass["message"], Value::Null);
    assert_eq!(pass["exit_code"], Value::Null);
    assert_eq!(pass["duration_ms"], Value::Null);
    assert_eq!(
        pass["patterns"][1],
        serde_json::json!({"pattern": "recover", "matched": true, "line": 2,
                           "text": "Crash drill 1 passed: data recovered"})
    );
    // The last matching line, not the first.
    assert_eq!(
        pass["patterns"][0],
        serde_json::json!({"pattern": "crash|simulate", "matched": true, "line": 2,
                           "text": "Crash drill 1 passed: data recovered"})
    );
    let fail = &report["results"][1];
    assert_eq!(fail["status"], "fail");
    assert_eq!(fail["xp"], 0);
    assert_eq!(
        fail["patterns"][1],
        serde_json::json!({"pattern": "recover", "matched": false, "line": null, "text": null})
    );
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 1, "failed": 1, "errors": 0, "xp_earned": 75, "xp_total": 150})
    );
}

#[test]
fn junit_has_a_case_per_paste() {
    let (dir, lesson) = setup(PATTERNS);
    let good = paste(dir.path(), "good.txt", GOOD);
    let bad = paste(dir.path(), "bad.txt", BAD);
    let xml = grade("junit", &lesson, &[&good, &bad], b"", 1);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(r#"<testsuite name="w01-l01" tests="2""#),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    assert!(
        xml.contains(&format!(
            r#"<testcase name="{}" classname="w01-l01""#,
            bad.display()
        )),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"no line matches `recover`\""),
        "{xml}"
    );
    assert!(
        xml.contains("nothing came back"),
        "the failing output is attached: {xml}"
    );
}

#[test]
fn csv_grades_a_class_folder_in_name_order_with_copies() {
    let (dir, lesson) = setup(PATTERNS);
    let class = dir.path().join("class");
    paste(&class, "carol.txt", GOOD.replace('\n', "  \r\n"));
    paste(&class, "alice.txt", GOOD);
    paste(&class, "bob, jr.txt", BAD);
    paste(&class, ".DS_Store", "not a submission");
    paste(&class.join("dave"), "run.txt", BAD);
    let csv = grade("csv", &lesson, &[&class], b"", 1);
    let at = |name: &str| class.join(name).display().to_string();
    let expected = format!(
        "lesson,source,status,xp,missing_patterns,message,copy_of,copies,same_store_as\n\
         w01-l01,{},pass,75,,,{},1,\n\
         w01-l01,\"{}\",fail,0,recover,no line matches `recover`,{},1,\n\
         w01-l01,{},pass,75,,,{},1,\n\
         w01-l01,{},fail,0,recover,no line matches `recover`,\"{}\",1,\n",
        at("alice.txt"),
        at("carol.txt"),
        at("bob, jr.txt"),
        at("dave/run.txt"),
        at("carol.txt"),
        at("alice.txt"),
        at("dave/run.txt"),
        at("bob, jr.txt"),
    );
    assert_eq!(csv, expected);
}

#[test]
fn a_class_folder_in_human_and_json() {
    let (dir, lesson) = setup(PATTERNS);
    let class = dir.path().join("class");
    paste(&class, "a.txt", GOOD);
    paste(&class, "b.txt", BAD);
    let text = grade("human", &lesson, &[&class], b"", 1);
    assert_eq!(text.lines().last(), Some("1 passed, 1 failed"));
    let report = grade_json(&lesson, &[&class], b"", 1);
    let sources: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            class.join("a.txt").to_str().unwrap(),
            class.join("b.txt").to_str().unwrap()
        ]
    );
}

#[test]
fn stdin_is_read_without_paste_and_for_dash() {
    let (_dir, lesson) = setup(PATTERNS);
    for pastes in [&[][..], &[Path::new("-")][..]] {
        let report = grade_json(&lesson, pastes, GOOD.as_bytes(), 0);
        assert_eq!(report["results"][0]["source"], "<stdin>");
        assert_eq!(report["results"][0]["status"], "pass");
    }
}

#[test]
fn ansi_escapes_are_removed_before_matching() {
    let (_dir, lesson) = setup(&["^Crash drill 1 passed$"]);
    let coloured = "\u{1b}[1;32mCrash drill 1 passed\u{1b}[0m\n";
    let text = grade("human", &lesson, &[], coloured.as_bytes(), 0);
    assert!(text.contains("line 1: Crash drill 1 passed\n"), "{text}");
}

#[test]
fn crlf_pastes_match_anchored_patterns() {
    let (_dir, lesson) = setup(&["^5 records recovered$", "^1 partial record skipped$"]);
    let crlf = b"5 records recovered\r\n1 partial record skipped\r\n";
    grade("human", &lesson, &[], crlf, 0);
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let (_dir, lesson) = setup(&["recovered caf. ok"]);
    let bytes: &[u8] = b"recovered caf\xe9 ok\n\xff\xfe\n";
    let report = grade_json(&lesson, &[], bytes, 0);
    assert_eq!(
        report["results"][0]["patterns"][0]["text"],
        "recovered caf\u{fffd} ok"
    );
}

#[test]
fn a_paste_showing_a_failed_run_fails_even_when_patterns_match() {
    let (_dir, lesson) = setup(PATTERNS);
    for (paste, reason) in [
        (
            "Simulated crash\nthread 'main' panicked at src/main.rs:9:5:\nassertion failed: key not recovered\n",
            "failed run: line 2: thread 'main' panicked at",
        ),
        (
            "Simulated crash\ndata recovered\nexit code: 101\n",
            "failed run: line 3: exit code: 101",
        ),
        (
            "Simulated crash, recovered\nerror: process didn't exit successfully: `target/debug/drill` (exit status: 1)\n",
            "failed run: line 2: error: process didn't exit successfully",
        ),
    ] {
        let report = grade_json(&lesson, &[], paste.as_bytes(), 1);
        let result = &report["results"][0];
        assert_eq!(result["status"], "fail", "{paste}");
        assert!(
            result["patterns"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["matched"] == true)
        );
        let message = result["message"].as_str().unwrap();
        assert!(message.starts_with(reason), "{message}");
    }
    // A success reported in words is not a failure.
    let success = b"simulated crash: 5 records recovered, 1 partial record skipped, exit code 0\n";
    grade("human", &lesson, &[], success, 0);
}

#[test]
fn patterns_are_case_insensitive_unless_they_opt_out() {
    let (_dir, lesson) = setup(&["crash drill", "(?-i)PASSED"]);
    grade("human", &lesson, &[], b"Crash Drill 1 PASSED\n", 0);
    let text = grade("human", &lesson, &[], b"Crash Drill 1 passed\n", 1);
    assert!(text.contains("✗ (?-i)PASSED"), "{text}");
}

#[test]
fn a_paste_over_16_mib_is_an_error_result() {
    let (dir, lesson) = setup(PATTERNS);
    let mut big = GOOD.as_bytes().to_vec();
    big.resize(16 * 1024 * 1024 + 1, b'x');
    let huge = paste(dir.path(), "huge.txt", &big);
    let good = paste(dir.path(), "good.txt", GOOD);
    let report = grade_json(&lesson, &[&huge, &good], b"", 1);
    assert_eq!(report["results"][0]["status"], "error");
    assert_eq!(report["results"][0]["message"], "output exceeded 16 MiB");
    assert_eq!(
        report["results"][1]["status"], "pass",
        "the other paste is still graded"
    );
    assert_eq!(report["summary"]["errors"], 1);
}

#[test]
fn grade_by_id_looks_in_the_lessons_folder() {
    let dir = tempfile::tempdir().unwrap();
    common::lesson(dir.path(), "w02-l03", "w02", 3, PATTERNS, "");
    checker(dir.path())
        .args(["grade", "w02-l03", "--lessons", "lessons"])
        .write_stdin(GOOD)
        .assert()
        .success();
    checker(dir.path())
        .args(["grade", "w02-l04", "--lessons", "lessons"])
        .write_stdin(GOOD)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown lesson `w02-l04`"));
}

#[test]
fn commands_that_cannot_run_exit_2() {
    let (dir, lesson) = setup(PATTERNS);
    // A missing paste.
    checker(dir.path())
        .arg("grade")
        .arg(&lesson)
        .arg(dir.path().join("missing.txt"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.txt: cannot read"));
    // An empty class folder.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    checker(dir.path())
        .arg("grade")
        .arg(&lesson)
        .arg(dir.path().join("empty"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds no files"));
    // An invalid lesson document, reported with its line and column.
    let broken = dir.path().join("broken.md");
    write(&broken, document("x", "p", 1, 1, &["ok("], ""));
    checker(dir.path())
        .arg("grade")
        .arg(&broken)
        .write_stdin(GOOD)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:13:7: invalid regex pattern `ok(`",
            broken.display()
        )));
    // An id outside any workspace, without --lessons.
    checker(dir.path())
        .args(["grade", "w01-l01"])
        .write_stdin(GOOD)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no cargo workspace"));
    // Usage errors.
    checker(dir.path()).args(["grade"]).assert().code(2);
    checker(dir.path())
        .args(["grade", "--format", "yaml"])
        .arg(&lesson)
        .assert()
        .code(2);
}

#[test]
fn the_real_lessons_expected_output_pasted_alone_is_an_echo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    for (id, expected, pattern) in [
        (
            "w09-l07",
            "Crash drill 1 passed: data recovered from WAL\nexit code: 0\n",
            "crash|simulate",
        ),
        (
            "w09-l08",
            "5 records recovered, 1 partial record skipped, exit code 0\n",
            "partial|truncat|corrupt",
        ),
    ] {
        let paste = paste(dir.path(), "paste.txt", expected);
        let lesson = root.join("lessons").join(id).join("lesson.md");
        // Under the rules for students' own tests: an echo.
        let output = checker(dir.path())
            .args(["grade", "--format", "json", "--accept-own-tests"])
            .arg(&lesson)
            .arg(&paste)
            .assert()
            .code(1);
        let report: Value = serde_json::from_str(&stdout(output.get_output())).unwrap();
        let message = report["results"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "`{pattern}` matches only text copied from the lesson itself (line 1: "
            )),
            "{message}"
        );
        // A lesson with a drill asks for the drill's transcript.
        let report = grade_json(&lesson, &[&paste], b"", 1);
        let message = report["results"][0]["message"].as_str().unwrap();
        assert_eq!(
            message,
            format!(
                "no transcript of the {id} drill with its receipt; this lesson is graded on \
                 its drill's transcript: run `cargo run -q -p {id} -- --store \"YOUR STORE\"`, \
                 then `echo \"exit code: $?\"`, and paste the whole output, receipt included"
            )
        );
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    use anstream::ColorChoice;
    use checker::cli::color_choice;
    assert_eq!(
        color_choice(true, false, ColorChoice::Always),
        ColorChoice::Always
    );
    assert_eq!(
        color_choice(true, true, ColorChoice::Always),
        ColorChoice::Never
    );
    assert_eq!(
        color_choice(false, false, ColorChoice::Always),
        ColorChoice::Never
    );
    assert_eq!(
        color_choice(true, false, ColorChoice::Never),
        ColorChoice::Never
    );
}

#[test]
fn an_unknown_id_suggests_the_closest_and_lists_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    common::lesson(dir.path(), "w05-l07", "w05", 7, PATTERNS, "");
    common::lesson(dir.path(), "w05-l08", "w05", 8, PATTERNS, "");
    checker(dir.path())
        .args(["grade", "w05-l7", "--lessons", "lessons"])
        .write_stdin(GOOD)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown lesson `w05-l7`: there is no lessons/w05-l7/lesson.md; \
             did you mean `w05-l07`? known lessons: w05-l07, w05-l08",
        ));
    // Nothing close: only the list.
    checker(dir.path())
        .args(["grade", "intro", "--lessons", "lessons"])
        .write_stdin(GOOD)
        .assert()
        .code(2)
        .stderr(predicate::str::ends_with(
            "there is no lessons/intro/lesson.md; known lessons: w05-l07, w05-l08\n",
        ));
    // A lesson folder stands for its lesson.md.
    checker(dir.path())
        .args(["grade", "lessons/w05-l07"])
        .write_stdin(GOOD)
        .assert()
        .success();
}

#[test]
fn a_lessons_folder_without_lessons_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("empty/not-a-lesson")).unwrap();
    for args in [&["grade", "w09-l07"][..], &["list"], &["lint"], &["run"]] {
        checker(dir.path())
            .args(args)
            .args(["--lessons", "empty"])
            .write_stdin(GOOD)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "empty: no lessons here (no folder in it holds a lesson.md)",
            ));
    }
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_with_0() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use wait_timeout::ChildExt;

    let (dir, lesson) = setup(PATTERNS);
    let class = dir.path().join("class");
    // Far more report than a pipe holds.
    for n in 0..400 {
        paste(&class, &format!("{n:04}.txt"), format!("{GOOD}{n}\n"));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_checker"))
        .arg("grade")
        .arg(&lesson)
        .arg(&class)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("grading w01-l01 against "), "{first}");
    first.clear();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("PASS"), "{first}");
    drop(reader);
    // The reader is gone: like `checker grade ... | head -1`.
    let status = child
        .wait_timeout(std::time::Duration::from_secs(60))
        .unwrap()
        .expect("the checker ends");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}

#[test]
fn help_has_examples_and_exit_codes() {
    let output = checker(Path::new(".")).arg("--help").assert().success();
    let help = stdout(output.get_output());
    for part in [
        "Examples:",
        "checker grade w09-l07 class/ --format csv",
        "checker run --store",
        "Exit codes:",
        "  2  the command could not run",
    ] {
        assert!(help.contains(part), "{part:?} missing:\n{help}");
    }
}
