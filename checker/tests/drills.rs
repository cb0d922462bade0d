//! `checker grade` on the real drills' output, produced here by building and
//! running the drill binaries (never a stored fixture that could rot): pasted
//! whole with the lesson's Verify shell lines it passes; cut after any line
//! before the receipt, or with any one number changed, it fails and says why.
//!
//! The drills are built into their own target folder under cargo's scratch
//! space, so this test never waits on the build lock of the `cargo test`
//! running it; reruns reuse that build.

mod common;

use std::path::Path;

use common::real::{DRILLS, build, python, root, transcript, verify_lines};
use common::{checker, stdout};
use lesson::Lesson;
use serde_json::Value;

/// Grade every file of `folder` against `lesson_md` in JSON, with the
/// options `args`.
fn grade_folder(lesson_md: &Path, folder: &Path, args: &[&str]) -> Value {
    let output = checker(folder)
        .args(["grade", "--format", "json"])
        .args(args)
        .arg(lesson_md)
        .arg(folder)
        .output()
        .unwrap();
    serde_json::from_str(&stdout(&output)).expect("one JSON document")
}

#[test]
fn real_drill_output_passes_whole_and_fails_cut_or_edited() {
    let executables = build();
    for (id, binary) in DRILLS {
        let lesson_md = root().join("lessons").join(id).join("lesson.md");
        let lesson = Lesson::load(&lesson_md).unwrap();
        let exe = &executables
            .iter()
            .find(|(name, _)| name == binary)
            .unwrap_or_else(|| panic!("{binary} was built"))
            .1;
        let (command, echo) = verify_lines(&lesson);
        let whole = transcript(exe, &command, &echo, &[]);

        // Whole, with the shell lines: passes when the reference store is
        // accepted, and fails otherwise, naming the store line.
        let dir = tempfile::tempdir().unwrap();
        let paste = dir.path().join("whole.txt");
        std::fs::write(&paste, &whole).unwrap();
        checker(dir.path())
            .args(["grade", "--accept-course-stores"])
            .arg(&lesson_md)
            .arg(&paste)
            .assert()
            .success();
        let report = grade_folder(&lesson_md, dir.path(), &[]);
        assert_eq!(
            report["results"][0]["message"],
            "tested the reference store, not yours (line 3): run the drill with \
             --store \"YOUR STORE\" (README: For students: test your own store)",
            "{id}"
        );

        // Cut after every line before the receipt, and every number changed.
        let lines: Vec<&str> = whole.lines().collect();
        let receipt = lines
            .iter()
            .position(|line| line.starts_with("receipt: "))
            .expect("a receipt line");
        let class = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        for cut in 1..receipt {
            let text: String = lines[..cut].iter().map(|l| format!("{l}\n")).collect();
            let name = format!("cut-{cut:03}.txt");
            std::fs::write(class.path().join(&name), text).unwrap();
            expected.push((name, "cut"));
        }
        for (index, line) in lines.iter().enumerate().take(receipt).skip(1) {
            let Some(at) = line.find(|c: char| c.is_ascii_digit()) else {
                continue;
            };
            let digit = line.as_bytes()[at] - b'0';
            let changed = format!("{}{}{}", &line[..at], (digit + 1) % 10, &line[at + 1..]);
            let mut edited = lines.clone();
            edited[index] = &changed;
            let name = format!("edit-{index:03}.txt");
            std::fs::write(class.path().join(&name), edited.join("\n") + "\n").unwrap();
            expected.push((name, "edited"));
        }
        let report = grade_folder(&lesson_md, class.path(), &["--accept-course-stores"]);
        let results = report["results"].as_array().unwrap();
        assert_eq!(results.len(), expected.len());
        for (result, (name, why)) in results.iter().zip(&expected) {
            assert!(result["source"].as_str().unwrap().ends_with(name.as_str()));
            assert_eq!(result["status"], "fail", "{id} {name}: {result}");
            let message = result["message"].as_str().unwrap();
            match *why {
                // A cut inside the transcript says so; a cut before any step
                // line only lacks what the lesson asks for.
                "cut" => assert!(
                    message.contains("cut short")
                        || message.starts_with(&format!("no transcript of the {id} drill")),
                    "{id} {name}: {message}"
                ),
                _ => assert!(
                    message.starts_with(&format!(
                        "edited: the receipt on line {} does not match",
                        receipt + 1
                    )),
                    "{id} {name}: {message}"
                ),
            }
        }
        // Once the first step line is in, every cut is reported as cut
        // short from the title (line 2, under the command), above the line
        // naming the store.
        let first_step = lines.iter().position(|l| l.starts_with('[')).unwrap();
        assert!(lines[2].starts_with("store under test: "), "{whole}");
        for (result, (name, _)) in results.iter().zip(&expected).skip(first_step) {
            if name.starts_with("cut") {
                let message = result["message"].as_str().unwrap();
                let from = format!(
                    "cut short: the drill transcript from line 2 ({}) ",
                    lines[1]
                );
                assert!(message.starts_with(&from), "{id} {name}: {message}");
            }
        }
    }
}

#[test]
fn a_real_failing_drill_run_fails_with_its_verdict_line() {
    let executables = build();
    let (id, binary) = DRILLS[0];
    let lesson_md = root().join("lessons").join(id).join("lesson.md");
    let lesson = Lesson::load(&lesson_md).unwrap();
    let exe = &executables
        .iter()
        .find(|(name, _)| name == binary)
        .unwrap()
        .1;
    let (command, echo) = verify_lines(&lesson);
    let failed = transcript(exe, &command, &echo, &["--break", "corrupt-record"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("failed.txt"), &failed).unwrap();
    let report = grade_folder(&lesson_md, dir.path(), &["--accept-course-stores"]);
    let message = report["results"][0]["message"].as_str().unwrap();
    // The drill's verified verdict decides, and says what went wrong.
    let verdict = failed
        .lines()
        .position(|l| l.starts_with("FAILED: "))
        .unwrap();
    let start = format!(
        "failed run: line {}: {}",
        verdict + 1,
        failed.lines().nth(verdict).unwrap()
    );
    assert!(message.starts_with(&start), "{message}\n{failed}");
    // The shell's exit code edited to 0 changes nothing.
    let edited = failed.replace("exit code: 1", "exit code: 0");
    assert_ne!(edited, failed);
    std::fs::write(dir.path().join("failed.txt"), &edited).unwrap();
    let report = grade_folder(&lesson_md, dir.path(), &["--accept-course-stores"]);
    assert_eq!(report["results"][0]["status"], "fail", "{report}");
    let message = report["results"][0]["message"].as_str().unwrap();
    assert!(message.starts_with(&start), "{message}");
    // Nor under --accept-own-tests.
    let report = grade_folder(
        &lesson_md,
        dir.path(),
        &["--accept-course-stores", "--accept-own-tests"],
    );
    assert_eq!(report["results"][0]["status"], "fail", "{report}");
}

/// `checker run` without `--store` ran the reference store itself, on
/// purpose (CI does): it passes.
#[test]
fn run_without_a_store_passes_on_the_reference_store() {
    build();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-drills");
    let json = checker(&root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "w09-l07", "--format", "json"])
        .output()
        .unwrap();
    let text = stdout(&json);
    assert!(json.status.success(), "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["results"][0]["status"], "pass", "{text}");
}

/// A drill run against a student's store passes `grade`; against the
/// course's model or a broken example store it fails and names the file;
/// cut short, it points at the drill's title, above the store lines.
#[test]
fn grade_accepts_a_students_store_and_names_a_shipped_one() {
    let Some(python) = python() else { return };
    let executables = build();
    let (id, binary) = DRILLS[0];
    let lesson_md = root().join("lessons").join(id).join("lesson.md");
    let lesson = Lesson::load(&lesson_md).unwrap();
    let exe = &executables.iter().find(|(n, _)| n == binary).unwrap().1;
    let (command, echo) = verify_lines(&lesson);
    let class = tempfile::tempdir().unwrap();
    let stores = tempfile::tempdir().unwrap();
    let model = root().join("examples/stores/python/kvstore.py");
    let own = stores.path().join("my_store.py");
    // A change to the code (a comment alone would leave it the model).
    let text = std::fs::read_to_string(&model).unwrap().replacen(
        "READY replayed",
        "READY (mine) replayed",
        1,
    );
    std::fs::write(&own, text).unwrap();
    let broken = root().join("examples/stores/broken/no_fsync.py");
    let run = |store: &Path| {
        let store = format!("{python} {}", store.display());
        transcript(exe, &command, &echo, &["--store", &store])
    };
    let own_run = run(&own);
    let lines: Vec<&str> = own_run.lines().collect();
    let first_step = lines.iter().position(|l| l.starts_with('[')).unwrap();
    assert!(lines[3].starts_with("  sha256 "), "{own_run}");
    let cut: String = lines[..=first_step]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    for (name, text) in [
        ("a-own.txt", own_run.clone()),
        ("b-model.txt", run(&model)),
        ("c-broken.txt", run(&broken)),
        ("d-cut.txt", cut),
    ] {
        std::fs::write(class.path().join(name), text).unwrap();
    }
    let report = grade_folder(&lesson_md, class.path(), &[]);
    let results = report["results"].as_array().unwrap();
    let message = |index: usize| results[index]["message"].as_str().unwrap_or_default();
    assert_eq!(results[0]["status"], "pass", "{own_run}");
    assert_eq!(
        results[0]["patterns"][1]["text"], "Crash drill 1 passed: data recovered from WAL",
        "the last matching line, the verdict"
    );
    assert_eq!(
        message(1),
        format!(
            "tested examples/stores/python/kvstore.py, the course's model store, not your own \
             (line 5: {})",
            model.display()
        )
    );
    assert!(
        message(2).contains(
            "tested examples/stores/broken/no_fsync.py, one of the course's broken example stores, not your own (line 5: "
        ),
        "{}",
        message(2)
    );
    assert_eq!(results[3]["status"], "fail");
    assert!(
        message(3).starts_with(&format!(
            "cut short: the drill transcript from line 2 ({}) has no receipt line after it",
            lines[1]
        )),
        "{}",
        message(3)
    );
    // The instructor's flag accepts the shipped stores.
    let accepted = grade_folder(&lesson_md, class.path(), &["--accept-course-stores"]);
    assert_eq!(accepted["results"][1]["status"], "pass", "{accepted}");
}

#[test]
fn run_with_a_store_grades_both_lessons_in_json_and_junit() {
    let Some(python) = python() else { return };
    build();
    let store = format!("{python} examples/stores/python/kvstore.py");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-drills");
    let json = checker(&root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "--store", &store, "--format", "json"])
        .output()
        .unwrap();
    let text = stdout(&json);
    assert!(json.status.success(), "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{text}");
    for result in results {
        assert_eq!(result["status"], "pass", "{result}");
    }

    // A broken store fails the lesson whose drill catches it, in JUnit too.
    let broken = format!("{python} examples/stores/broken/no_replay.py");
    let junit = checker(&root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "w09-l07", "--store", &broken, "--format", "junit"])
        .output()
        .unwrap();
    let xml = stdout(&junit);
    assert_eq!(junit.status.code(), Some(1), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains("GET test_key after the restart: expected VALUE test_value, found NOT_FOUND"),
        "{xml}"
    );
    // The human report shows the drill's FAILED line and likely defect
    // under the failed lesson, not only its exit code.
    let human = checker(&root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "w09-l07", "--store", &broken])
        .output()
        .unwrap();
    let text = stdout(&human);
    assert!(
        text.contains(
            "  exited with code 1: FAILED: GET test_key after the restart: expected VALUE test_value, found NOT_FOUND. Likely defect: "
        ),
        "{text}"
    );
}
