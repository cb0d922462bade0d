//! `checker run` against a workspace of small drills: passing, failing,
//! timing out, killed by a signal, interleaving stdout and stderr, printing
//! more than the cap, leaving a child behind, and not compiling.
//!
//! The drills are dependency-free and live in one workspace built once per
//! test binary, under cargo's scratch folder for integration tests so that
//! reruns reuse the build.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::{checker, drill, lesson, stdout, workspace};
use serde_json::Value;

const PASS: &str = r#"fn main() {
    println!("alpha ok");
    eprintln!("beta ok");
}
"#;

const INTERLEAVE: &str = r#"use std::io::Write;
fn main() {
    for i in 1..=6 {
        if i % 2 == 1 {
            let mut out = std::io::stdout().lock();
            writeln!(out, "out {i}").unwrap();
            out.flush().unwrap();
        } else {
            writeln!(std::io::stderr().lock(), "err {i}").unwrap();
        }
    }
}
"#;

const MISSING: &str = r#"fn main() {
    println!("alpha ok");
}
"#;

const EXIT3: &str = r#"fn main() {
    println!("alpha ok");
    std::process::exit(3);
}
"#;

const SLEEP: &str = r#"fn main() {
    println!("started");
    std::thread::sleep(std::time::Duration::from_secs(60));
    println!("woke up");
}
"#;

const ABORT: &str = r#"fn main() {
    println!("about to abort");
    std::process::abort();
}
"#;

const FLOOD: &str = r#"use std::io::Write;
fn main() {
    let line = [b'x'; 1023];
    let mut out = std::io::stdout().lock();
    for _ in 0..17 * 1024 {
        out.write_all(&line).unwrap();
        out.write_all(b"\n").unwrap();
    }
}
"#;

const LINGER: &str = r#"fn main() {
    if std::env::args().nth(1).as_deref() == Some("--linger") {
        std::thread::sleep(std::time::Duration::from_secs(30));
        return;
    }
    std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--linger")
        .spawn()
        .unwrap();
    println!("parent done");
}
"#;

const BROKEN: &str = r#"fn main() {
    let count: u32 = "not a number";
    println!("{count}");
}
"#;

const STORE: &str = r#"fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match &args[..] {
        [] => println!("no store"),
        [flag, command, rest @ ..]
            if flag == "--store"
                && command == "./kv --fast"
                && (rest.is_empty() || rest == ["--store-root", "."]) =>
        {
            println!("store: {command}")
        }
        _ => {
            eprintln!("error: unexpected argument '{}' found", args[0]);
            std::process::exit(2);
        }
    }
}
"#;

/// (id, binary, main.rs, patterns), in run order (part w01, order = index + 1).
/// No pattern is a whole output line: that line would be an echo of the
/// lesson document, which lists the patterns.
const DRILLS: &[(&str, &str, &str, &[&str])] = &[
    ("w01-l01", "drill_pass", PASS, &["^alpha ok$", "^beta ok$"]),
    (
        "w01-l02",
        "drill_interleave",
        INTERLEAVE,
        &[r"^out 1\nerr 2\nout 3\nerr 4\nout 5\nerr 6$"],
    ),
    ("w01-l03", "drill_missing", MISSING, &["alpha", "gamma"]),
    ("w01-l04", "drill_exit3", EXIT3, &["alpha"]),
    ("w01-l05", "drill_sleep", SLEEP, &["start"]),
    ("w01-l06", "drill_abort", ABORT, &["about to"]),
    ("w01-l07", "drill_flood", FLOOD, &["x"]),
    ("w01-l08", "drill_linger", LINGER, &["parent"]),
    ("w01-l09", "drill_broken", BROKEN, &["never"]),
    ("w01-l11", "drill_store", STORE, &[r"store: \./kv --fast"]),
];

/// A lesson without a drill.
const NO_DRILL: &str = "w01-l10";

/// The fixture workspace, written (only where changed, so cargo can reuse its
/// build) and built once per test binary.
fn fixture() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("checker-run-fixture");
        let staging = tempfile::tempdir().unwrap();
        let ids: Vec<&str> = DRILLS.iter().map(|(id, ..)| *id).collect();
        workspace(staging.path(), &ids);
        for (order, (id, binary, main, patterns)) in DRILLS.iter().enumerate() {
            let body = format!("## Verify\n\n```bash\n./{binary}\n```\n");
            lesson(staging.path(), id, "w01", order as u32 + 1, patterns, &body);
            drill(staging.path(), id, binary, main);
        }
        lesson(staging.path(), NO_DRILL, "w01", 10, &["anything"], "");
        sync(staging.path(), &root);
        // Build once up front; `checker run` then finds everything fresh.
        // The broken drill fails to compile, on purpose.
        let _ = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--keep-going", "--workspace"])
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", root.join("target"))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        root
    })
}

/// Copy every file of `from` into `to`, writing only files whose content
/// differs (cargo decides freshness by modification time).
fn sync(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            sync(&entry.path(), &target);
        } else {
            let text = fs::read(entry.path()).unwrap();
            if fs::read(&target).ok().as_deref() != Some(text.as_slice()) {
                common::write(&target, text);
            }
        }
    }
}

fn run(args: &[&str]) -> Output {
    let root = fixture();
    checker(root)
        .arg("run")
        .args(args)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .output()
        .unwrap()
}

fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["lesson"] == id)
        .unwrap_or_else(|| panic!("no result for {id}: {report}"))
}

#[test]
fn every_drill_in_json() {
    let output = run(&["--timeout", "1", "--format", "json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["schema"], 3);
    let order: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["lesson"].as_str().unwrap())
        .collect();
    let drill_ids: Vec<&str> = DRILLS.iter().map(|(id, ..)| *id).collect();
    assert_eq!(
        order, drill_ids,
        "results in lesson order; lessons without drills skipped"
    );

    let pass = result(&report, "w01-l01");
    assert_eq!(
        (&pass["status"], &pass["exit_code"], &pass["xp"]),
        (&"pass".into(), &0.into(), &50.into())
    );
    assert_eq!(pass["source"], "drill_pass");
    assert_eq!(
        pass["copy_of"],
        serde_json::json!([]),
        "run never flags copies"
    );
    assert!(pass["duration_ms"].is_u64());
    assert_eq!(pass["patterns"][1]["text"], "beta ok", "stderr is captured");

    let interleaved = result(&report, "w01-l02");
    assert_eq!(
        interleaved["status"], "pass",
        "stdout and stderr keep their order: {interleaved}"
    );
    assert_eq!(interleaved["patterns"][0]["line"], 1);

    let missing = result(&report, "w01-l03");
    assert_eq!(missing["status"], "fail");
    assert_eq!(missing["message"], "no line matches `gamma`");

    let exit3 = result(&report, "w01-l04");
    assert_eq!(
        (&exit3["status"], &exit3["exit_code"]),
        (&"fail".into(), &3.into())
    );
    assert_eq!(exit3["message"], "exited with code 3");
    assert_eq!(
        exit3["patterns"][0]["matched"], true,
        "patterns alone would pass"
    );

    let sleeper = result(&report, "w01-l05");
    assert_eq!(
        (&sleeper["status"], &sleeper["exit_code"]),
        (&"fail".into(), &Value::Null)
    );
    assert_eq!(sleeper["message"], "timed out after 1 s; killed");
    assert_eq!(
        sleeper["patterns"][0]["matched"], true,
        "output before the kill is kept"
    );
    let waited = sleeper["duration_ms"].as_u64().unwrap();
    assert!(
        (1000..30_000).contains(&waited),
        "killed at the timeout, not at the end: {waited}"
    );

    let aborted = result(&report, "w01-l06");
    assert_eq!(
        (&aborted["status"], &aborted["exit_code"]),
        (&"fail".into(), &Value::Null)
    );
    assert_eq!(aborted["message"], "killed by signal 6 (SIGABRT)");
    assert_eq!(aborted["patterns"][0]["text"], "about to abort");

    let flood = result(&report, "w01-l07");
    assert_eq!(flood["status"], "error");
    assert_eq!(flood["message"], "output exceeded 16 MiB");

    let linger = result(&report, "w01-l08");
    assert_eq!(
        linger["status"], "pass",
        "a child holding the output does not hang the run: {linger}"
    );

    let broken = result(&report, "w01-l09");
    assert_eq!(broken["status"], "error");
    assert_eq!(
        broken["message"],
        "the drill did not build (see cargo's messages above)"
    );

    let no_store = result(&report, "w01-l11");
    assert_eq!(no_store["status"], "fail", "run without --store");

    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 3, "failed": 5, "errors": 2, "xp_earned": 150, "xp_total": 500})
    );
}

#[test]
fn human_report_of_passing_drills_in_the_default_lessons_folder() {
    let output = run(&["w01-l02", "w01-l01"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("RUN   w01-l01 drill_pass"), "{text}");
    assert!(text.contains("PASS  w01-l01 drill_pass  +50 XP"), "{text}");
    assert!(text.contains("✓ ^alpha ok$  line 1: alpha ok"), "{text}");
    assert!(text.contains("exit code 0, "), "{text}");
    assert!(text.contains("XP earned: 100 of 100"), "{text}");
    assert_eq!(text.lines().last(), Some("2 passed, 0 failed"));
    assert!(!text.contains('\u{1b}'), "no colour off a terminal");
}

#[test]
fn human_report_of_a_killed_drill_shows_the_signal_and_instructions() {
    let output = run(&["w01-l06"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  w01-l06 drill_abort"), "{text}");
    assert!(text.contains("killed by signal 6 (SIGABRT)"), "{text}");
    assert!(text.contains("to pass: Show the w01-l06 output."), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn junit_report_carries_failures_and_their_output() {
    let output = run(&["w01-l03", "w01-l04", "w01-l01", "--format", "junit"]);
    let xml = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{xml}");
    assert!(
        xml.contains(r#"<testsuites name="checker" tests="3""#),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="2""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="drill_exit3" classname="w01-l04""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<failure message="exited with code 3""#),
        "{xml}"
    );
    assert!(xml.contains("<system-out>alpha ok"), "{xml}");
}

#[test]
fn a_child_left_behind_holding_the_output_does_not_hang_the_run() {
    // The drill exits at once; its child holds the output pipe for 30 s.
    let started = std::time::Instant::now();
    let output = run(&["w01-l08", "--format", "json"]);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        elapsed < std::time::Duration::from_secs(20),
        "the checker waited for the child: {elapsed:?}"
    );
}

#[test]
fn store_is_passed_to_every_drill_and_a_refusal_is_reported() {
    let output = run(&[
        "w01-l11",
        "w01-l01",
        "--store",
        "./kv --fast",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert_eq!(
        result(&report, "w01-l11")["status"],
        "pass",
        "the argument reached argv"
    );

    for format in ["json", "junit"] {
        let output = run(&["w01-l11", "--store", "./other", "--format", format]);
        assert_eq!(output.status.code(), Some(1));
        let message = "exited with code 2: the drill refused its arguments `--store ./other` \
                       (a usage error: does this drill support --store?)";
        let text = stdout(&output);
        assert!(text.contains(message), "{format}: {text}");
    }
}

#[test]
fn unknown_lessons_and_lessons_without_drills_cannot_run() {
    let output = run(&["w99-l99"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown lesson `w99-l99`"));

    let output = run(&[NO_DRILL]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no drill"));

    let output = run(&["--timeout", "soon"]);
    assert_eq!(output.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn without_store_the_folders_manifest_is_built_and_used() {
    let root = fixture();
    let student = tempfile::tempdir().unwrap();
    let manifest = student.path().join("store.toml");
    let run_in = |manifest_text: &str| {
        fs::write(&manifest, manifest_text).unwrap();
        checker(student.path())
            .arg("--lessons")
            .arg(root.join("lessons"))
            .args(["run", "w01-l11", "--format", "json"])
            .env("CARGO_TARGET_DIR", root.join("target"))
            .output()
            .unwrap()
    };
    let output = run_in("build = \"echo built > built.txt\"\nrun = \"./kv --fast\"\n");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result(&report, "w01-l11")["status"], "pass", "{report}");
    assert_eq!(
        fs::read_to_string(student.path().join("built.txt")).unwrap(),
        "built\n"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("checker: using store.toml: run `./kv --fast`"),
        "{stderr}"
    );

    let output = run_in("build = \"echo oops; exit 3\"\nrun = \"./kv --fast\"\n");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the store's build exited with code 3; its output ended with: oops"),
        "{stderr}"
    );

    let output = run_in("run = \"./kv --fast\"\nbuid = \"make\"\n");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("store.toml:2: unknown field `buid`"),
        "{stderr}"
    );
}
