//! A class folder of real drill runs, graded as an instructor would: the
//! drills run against stores this test builds (a student's C store compiled
//! here, Python stores of their own, a broken one), then the pastes students
//! really send are made from those runs (copies, edits, a quote, the
//! reference store, their own tests), and every verdict is checked.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::real::{DRILLS, build, python, root, transcript, verify_lines};
use common::{checker, stdout, write};
use lesson::Lesson;
use serde_json::Value;

/// `cc` compiles `source` to `exe`; `None` off CI when there is no C
/// compiler (the README promises tests that need only a Rust toolchain).
fn compile(source: &Path, exe: &Path) -> Option<()> {
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(exe)
        .arg(source)
        .status();
    match status {
        Ok(status) if status.success() => Some(()),
        _ => {
            assert!(std::env::var_os("CI").is_none(), "CI needs a C compiler");
            eprintln!("skipped: no C compiler");
            None
        }
    }
}

#[test]
fn a_class_of_real_runs_gets_the_instructors_verdicts() {
    let Some(python) = python() else { return };
    let stores = tempfile::tempdir().unwrap();
    let c_store = stores.path().join("alice_store");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/student_store.c");
    if compile(&fixture, &c_store).is_none() {
        return;
    }
    let executables = build();
    let (id, binary) = DRILLS[0];
    let lesson_md = root().join("lessons").join(id).join("lesson.md");
    let lesson = Lesson::load(&lesson_md).unwrap();
    let exe = &executables.iter().find(|(n, _)| n == binary).unwrap().1;
    let (command, echo) = verify_lines(&lesson);
    let run = |store: &str| transcript(exe, &command, &echo, &["--store", store]);

    // Bob's Python store: the model with code of his own (a READY text).
    let model = fs::read_to_string(root().join("examples/stores/python/kvstore.py")).unwrap();
    let own = model.replacen("READY replayed", "READY (bob) replayed", 1);
    assert_ne!(own, model);
    let bob_store = stores.path().join("bob_store.py");
    fs::write(&bob_store, own).unwrap();
    // Carol's store forgets to apply what it replays.
    let broken = model.replacen(
        "            self.apply(op, key, value)\n            self.next_lsn = lsn + 1",
        "            self.next_lsn = lsn + 1",
        1,
    );
    assert_ne!(broken, model);
    let carol_store = stores.path().join("carol_store.py");
    fs::write(&carol_store, broken).unwrap();

    // Ivan's "own" store: the model with comments and blank lines added.
    let ivan_store = stores.path().join("ivan_store.py");
    fs::write(
        &ivan_store,
        format!("# Ivan's store\n\n{model}\n# the end\n"),
    )
    .unwrap();
    // Judy's store is a script that runs the reference store: a copy of the
    // drill binary beside it (where the confinement lets it run), `--serve`.
    let judy_dir = stores.path().join("judy");
    fs::create_dir_all(&judy_dir).unwrap();
    let judy_kv = judy_dir.join("kv");
    fs::copy(exe, &judy_kv).unwrap();
    let judy_store = judy_dir.join("judy_store.sh");
    fs::write(
        &judy_store,
        format!("#!/bin/sh\nexec {} --serve \"$@\"\n", judy_kv.display()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&judy_store)
        .status()
        .unwrap();

    // Kim's store is a script running the model from beside it, with the
    // system's interpreter (the confinement lets a store run the system's
    // programs, not a version manager's the command does not name).
    let kim_dir = stores.path().join("kim");
    fs::create_dir_all(&kim_dir).unwrap();
    fs::write(kim_dir.join("kvstore.py"), &model).unwrap();
    let kim_store = kim_dir.join("run.sh");
    fs::write(
        &kim_store,
        "#!/bin/sh\nexec /usr/bin/python3 \"$(dirname \"$0\")/kvstore.py\" \"$1\"\n",
    )
    .unwrap();

    let alice = run(&c_store.display().to_string());
    let bob = run(&format!("{python} {}", bob_store.display()));
    let carol = run(&format!("{python} {}", carol_store.display()));
    let hank = run(&c_store.display().to_string());
    let frank = transcript(exe, &command, &echo, &[]);
    assert!(
        carol.contains("\nFAILED: ") && carol.ends_with("exit code: 1\n"),
        "{carol}"
    );

    let class = tempfile::tempdir().unwrap();
    let class = class.path();
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("alice/run.txt", alice.clone(), "pass", ""),
        ("bob/run.txt", bob, "pass", ""),
        ("carol/run.txt", carol.clone(), "fail", "failed run: line "),
        (
            "dave/run.txt",
            alice.replace("alice_store", "dave_store"),
            "fail",
            "edited: the receipt on line ",
        ),
        (
            "erin/run.txt",
            carol.replace("exit code: 1", "exit code: 0"),
            "fail",
            "failed run: line ",
        ),
        (
            "frank/run.txt",
            frank,
            "fail",
            "tested the reference store, not yours",
        ),
        (
            "gina/run.txt",
            "$ pytest\ntest_crash.py::test_recover PASSED\n===== 1 passed in 0.01s =====\n".into(),
            "fail",
            "no transcript of the w09-l07 drill with its receipt",
        ),
        (
            "ivan/run.txt",
            run(&format!("{python} {}", ivan_store.display())),
            "fail",
            "tested a copy of examples/stores/python/kvstore.py, the course's model store, with only comments or blank space changed",
        ),
        (
            "judy/run.txt",
            run(&judy_store.display().to_string()),
            "fail",
            "the store that answered the drill was the reference store, not yours",
        ),
        (
            "kim/run.txt",
            run(&format!("sh {}", kim_store.display())),
            "fail",
            "tested examples/stores/python/kvstore.py, the course's model store, not your own",
        ),
        (
            "hank/run.md",
            format!("My run:\n\n```\n{hank}```\n")
                .lines()
                .map(|l| format!("> {l}\n"))
                .collect(),
            "pass",
            "",
        ),
    ];
    for (name, text, _, _) in &cases {
        write(&class.join(name), text);
    }
    let output = checker(class)
        .args(["grade", "--format", "json"])
        .arg(&lesson_md)
        .arg(class)
        .output()
        .unwrap();
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    let find = |name: &str| {
        results
            .iter()
            .find(|r| r["source"].as_str().unwrap().ends_with(name))
            .unwrap()
    };
    for (name, _, status, message) in &cases {
        let result = find(name);
        assert_eq!(result["status"], *status, "{name}: {result}");
        let text = result["message"].as_str().unwrap_or_default();
        assert!(text.starts_with(message), "{name}: {text}");
    }
    // The failed run's message is the drill's own verdict.
    let erin = find("erin/run.txt")["message"].as_str().unwrap();
    assert!(
        erin.contains(": FAILED: GET test_key after the restart"),
        "{erin}"
    );
    // Dave's edited copy and Alice's run name each other.
    let at = |name: &str| class.join(name).display().to_string();
    assert_eq!(
        find("alice/run.txt")["copy_of"],
        serde_json::json!([at("dave/run.txt")])
    );
    assert_eq!(
        find("dave/run.txt")["copy_of"],
        serde_json::json!([at("alice/run.txt")])
    );
    // Erin's edit of Carol's run is a copy of it, too.
    assert_eq!(
        find("carol/run.txt")["copy_of"],
        serde_json::json!([at("erin/run.txt")])
    );
    // Hank ran the same binary as Alice: the same store.
    assert_eq!(
        find("hank/run.md")["same_store_as"],
        serde_json::json!([at("alice/run.txt")])
    );
    assert_eq!(find("bob/run.txt")["same_store_as"], serde_json::json!([]));
}
