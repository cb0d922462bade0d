//! Support for a drill crate's integration tests (feature `testing`).
//!
//! Every drill shares the harness's behaviour, so every drill's tests check
//! the same things about it: a passing run's verdict ([`verdict_line`], the
//! line before the receipt) is the passed line, and it leaves no file behind;
//! a fault's verdict is `FAILED: ...` and it never claims to have passed;
//! `--keep` keeps the store's directories and says where; the output
//! proves the lesson. Those checks live here once; the drill crates' tests
//! add what is particular to their drill.
//!
//! Each run gets a fresh, empty `TMPDIR`, so that "nothing left behind" can be
//! checked without knowing the drill's file names, and a kept directory is
//! removed with it even when the test fails.

use std::fs;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use lesson::Lesson;
use tempfile::TempDir;

use crate::{Drill, Error, Options, Result};

/// A built drill binary and the drill it runs.
pub struct DrillBinary<D> {
    exe: PathBuf,
    drill: PhantomData<D>,
}

/// A finished run of the binary: its standard output and the `TMPDIR` it ran
/// with, removed when this is dropped.
pub struct Run {
    pub stdout: String,
    pub tmp: TempDir,
}

impl<D: Drill> DrillBinary<D> {
    /// `exe` is `env!("CARGO_BIN_EXE_<name>")` in the drill crate's tests.
    pub fn new(exe: impl Into<PathBuf>) -> Self {
        DrillBinary {
            exe: exe.into(),
            drill: PhantomData,
        }
    }

    /// Runs the binary with `args` in a fresh `TMPDIR`, asserts its exit
    /// code and returns what it printed.
    pub fn run(&self, args: &[&str], code: i32) -> Run {
        let tmp = TempDir::new().expect("create a TMPDIR for the drill");
        let assert = assert_cmd::Command::new(&self.exe)
            .args(args)
            .env("TMPDIR", tmp.path())
            .assert()
            .code(code);
        let stdout = String::from_utf8(assert.get_output().stdout.clone()).expect("UTF-8 output");
        Run { stdout, tmp }
    }

    /// Runs the drill: exit 0, the passed line last, no file left behind.
    pub fn passes(&self) -> String {
        let run = self.run(&[], 0);
        assert_eq!(verdict_line::<D>(&run.stdout), D::PASSED, "{}", run.stdout);
        let left: Vec<_> = fs::read_dir(run.tmp.path())
            .expect("read the TMPDIR")
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}\n{}", run.stdout);
        assert!(!run.stdout.contains("kept WAL"), "{}", run.stdout);
        run.stdout
    }

    /// Runs the drill with `fault` injected: exit 1, `failed` as the last
    /// line, and nothing that claims the drill passed.
    pub fn fails(&self, fault: D::Fault, failed: &str) -> String {
        let name = fault
            .to_possible_value()
            .expect("faults are not skipped")
            .get_name()
            .to_string();
        let run = self.run(&["--break", &name], 1);
        let stdout = run.stdout;
        assert_eq!(verdict_line::<D>(&stdout), failed, "{stdout}");
        assert!(!stdout.to_lowercase().contains("passed"), "{stdout}");
        // The passed line's claim, such as "data recovered from WAL".
        let claim = D::PASSED
            .split_once(": ")
            .map_or(D::PASSED, |(_, claim)| claim);
        assert!(
            !stdout.contains(claim),
            "{claim:?} in a failed run:\n{stdout}"
        );
        stdout
    }

    /// Runs the drill with `--keep`: exit 0, the kept directory's path,
    /// the passed line last. Returns the run (the kept directory goes when
    /// it is dropped) and the kept directory.
    pub fn keeps(&self) -> (Run, PathBuf) {
        let run = self.run(&["--keep"], 0);
        let stdout = &run.stdout;
        let kept = stdout
            .lines()
            .find_map(|line| line.strip_prefix("kept: "))
            .and_then(|rest| rest.split(" (").next())
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no `kept:` line:\n{stdout}"));
        assert!(kept.starts_with(run.tmp.path()), "{}", kept.display());
        assert!(kept.is_dir(), "{} is not kept", kept.display());
        assert_eq!(verdict_line::<D>(stdout), D::PASSED, "{stdout}");
        (run, kept)
    }

    /// Runs the drill against `store` (a `--store` command line): exit 0,
    /// the passed line last, the store named in the transcript. Returns
    /// what it printed.
    pub fn passes_against(&self, store: &str) -> String {
        let stdout = self.run(&["--store", store], 0).stdout;
        assert_eq!(verdict_line::<D>(&stdout), D::PASSED, "{stdout}");
        assert!(
            stdout.contains("store under test: "),
            "the transcript names the store:\n{stdout}"
        );
        stdout
    }

    /// Runs the drill against a broken `store`: exit 1, a verdict line
    /// `FAILED: ` that contains each of `parts` (the check, what was expected
    /// and found, the likely defect), and nothing that claims a pass.
    /// Returns what it printed.
    pub fn fails_against(&self, store: &str, parts: &[&str]) -> String {
        let stdout = self.run(&["--store", store], 1).stdout;
        let verdict = verdict_line::<D>(&stdout);
        assert!(verdict.starts_with("FAILED: "), "{stdout}");
        for part in parts {
            assert!(
                verdict.contains(part),
                "{part:?} missing from the verdict:\n{verdict}\n\n{stdout}"
            );
        }
        assert!(!stdout.to_lowercase().contains("passed"), "{stdout}");
        stdout
    }

    /// Runs the drill through its library: `run` returns `Ok` and prints
    /// every step but no verdict (that is the harness's line). Returns the
    /// output.
    pub fn library_passes(&self) -> String {
        let (result, text) = self.run_library(None);
        if let Err(err) = result {
            panic!("the drill failed: {err}\n{text}");
        }
        assert!(!text.to_lowercase().contains("passed"), "{text}");
        text
    }

    /// Runs the drill through its library with `fault`: `run` returns the
    /// check failure `what: expected ..., found ...`, with exactly these parts.
    pub fn library_fails(&self, fault: D::Fault, what: &str, expected: &str, found: &str) {
        let (result, text) = self.run_library(Some(fault));
        match result {
            Err(Error::Check {
                what: failed,
                expected: wanted,
                found: got,
                ..
            }) => assert_eq!(
                (failed.as_str(), wanted.as_str(), got.as_str()),
                (what, expected, found),
                "{text}"
            ),
            Err(other) => panic!("expected a check failure, got: {other}\n{text}"),
            Ok(()) => panic!("the drill passed with a fault injected:\n{text}"),
        }
    }

    /// Runs the drill through its library in a temporary directory, the
    /// reference store served by this binary.
    fn run_library(&self, fault: Option<D::Fault>) -> (Result<()>, String) {
        let dir = TempDir::new().expect("create a directory for the drill");
        let traces = TempDir::new().expect("create a directory for the strace records");
        let recorder = crate::traces::Recorder::new(traces.path().join("records"));
        let options = Options {
            dir: dir.path().to_path_buf(),
            store: crate::Store::reference(self.exe.clone()).recorded(recorder),
            fault,
            keep: false,
        };
        let mut out = Vec::new();
        let result = D::run(&options, &mut out);
        (result, String::from_utf8(out).expect("UTF-8 output"))
    }
}

/// The `--store` command line that runs the Python store
/// `examples/stores/<script>` with this machine's Python, resolved to the
/// interpreter itself (a version manager's shim would add a process per
/// start). `None` when there is no `python3`: the caller skips its test, as
/// the README's "only a Rust toolchain" promises, except under CI (`CI`
/// set), where a missing Python is a failure rather than a silent pass.
pub fn python_store(script: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/stores")
        .join(script);
    assert!(path.is_file(), "{} is missing", path.display());
    let python = python()?;
    Some(shell_words::join([python, path.display().to_string()]))
}

/// This machine's Python interpreter itself (not a version manager's shim);
/// `None` when there is no `python3` (a failure under CI).
pub fn python() -> Option<String> {
    let found = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|output| output.status.success());
    let Some(output) = found else {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is needed for the store tests under CI"
        );
        eprintln!("skipped: python3 is not installed, so the Python stores cannot run");
        return None;
    };
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Builds the untouched Rust starter store (`examples/stores/rust-starter`,
/// its own Cargo project) into `target` and returns its executable.
pub fn rust_starter(target: &Path) -> PathBuf {
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stores/rust-starter/Cargo.toml");
    let built =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["build", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", target)
            .status()
            .expect("run cargo");
    assert!(built.success(), "the starter builds");
    target.join("debug/kvstore-starter")
}

/// Whether `strace` is installed, for the power-loss check's tests; under CI
/// a missing strace is a failure (`.ci/run` installs it).
pub fn strace_installed() -> bool {
    let found = crate::program::find_program("strace").is_some();
    assert!(
        found || std::env::var_os("CI").is_none(),
        "CI must install strace"
    );
    if !found {
        eprintln!("skipped: strace is not installed");
    }
    found
}

/// The verdict line of a drill's output: the line before the receipt that
/// ends every run. Asserts that the last line is a receipt of `D`'s lesson
/// that matches the transcript above it.
pub fn verdict_line<D: Drill>(stdout: &str) -> &str {
    let lines: Vec<&str> = stdout.lines().collect();
    let [.., verdict, receipt] = lines[..] else {
        panic!("no verdict and receipt lines:\n{stdout}");
    };
    let parsed = lesson::Receipt::parse(receipt);
    assert!(
        matches!(&parsed, Some(Ok(r)) if r.lesson == D::LESSON),
        "the last line is not a receipt of {}:\n{stdout}",
        D::LESSON
    );
    let verified = lesson::receipt::verify(D::LESSON, stdout);
    assert_eq!(verified.problem, None, "{stdout}");
    verdict
}

/// [`python_store`] for a power-loss test: `None` (after saying why) when
/// strace or python3 is missing, off CI.
pub fn traced_python_store(script: &str) -> Option<String> {
    if !strace_installed() {
        return None;
    }
    python_store(script)
}

/// Asserts that `stdout` passes the proof patterns of the lesson document at
/// `lesson_md` and shows each of the body's `Expected: "..."` quotes (less
/// the `, exit code 0` that the Verify section's `echo` adds).
pub fn assert_proves_lesson(stdout: &str, lesson_md: impl AsRef<Path>) {
    let lesson = Lesson::load(lesson_md.as_ref()).expect("the lesson document parses");
    let report = lesson.check(stdout.as_bytes());
    assert!(report.passed(), "{:?}\n{stdout}", report.failure());
    for expected in lesson.expected_outputs() {
        let printed = expected.text.trim_end_matches(", exit code 0");
        assert!(stdout.contains(printed), "{printed:?} missing:\n{stdout}");
    }
}

/// Asserts that `stdout`, the output of a failed run, does not pass the
/// lesson at `lesson_md` when pasted for grading, though the weak proof
/// patterns alone may match it: the `FAILED:` verdict must sink it.
pub fn assert_fails_lesson(stdout: &str, lesson_md: impl AsRef<Path>) {
    let lesson = Lesson::load(lesson_md.as_ref()).expect("the lesson document parses");
    let report = lesson.check(stdout.as_bytes());
    assert!(
        !report.passed(),
        "a failed run's output passes the lesson:\n{stdout}"
    );
}
