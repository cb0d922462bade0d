//! Real drill runs for the checker's tests: the drills built into their own
//! target folder under cargo's scratch space (so a test never waits on the
//! build lock of the `cargo test` running it), run as the lessons' Verify
//! sections say.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cargo_metadata::Message;
use lesson::Lesson;

pub const DRILLS: &[(&str, &str)] = &[
    ("w09-l07", "test_crash_after_wal"),
    ("w09-l08", "test_crash_mid_write"),
];

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Build the drills; their executables by binary name.
pub fn build() -> Vec<(String, PathBuf)> {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--quiet", "--message-format=json"])
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-drills"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (id, _) in DRILLS {
        command.args(["-p", id]);
    }
    let mut child = command.spawn().expect("cargo starts");
    let messages = BufReader::new(child.stdout.take().unwrap());
    let mut executables = Vec::new();
    for message in Message::parse_stream(messages) {
        if let Message::CompilerArtifact(artifact) = message.unwrap()
            && let Some(exe) = artifact.executable
        {
            executables.push((artifact.target.name.clone(), exe.into_std_path_buf()));
        }
    }
    assert!(child.wait().unwrap().success(), "the drills build");
    executables
}

/// The lesson's Verify section's shell lines: the command, then the echo.
pub fn verify_lines(lesson: &Lesson) -> (String, String) {
    let section = lesson.section("Verify").expect("a Verify section").text;
    let shell: Vec<&str> = section
        .lines()
        .skip_while(|line| !line.starts_with("```"))
        .skip(1)
        .take_while(|line| !line.starts_with("```"))
        .collect();
    let [command, echo] = shell[..] else {
        panic!("two shell lines expected: {shell:?}");
    };
    (command.to_owned(), echo.to_owned())
}

/// Run `exe` as the Verify section does, in a terminal transcript.
pub fn transcript(exe: &Path, command: &str, echo: &str, args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(exe)
        .args(args)
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let code = output.status.code().expect("the drill exits");
    format!(
        "$ {command}\n{}$ {echo}\nexit code: {code}\n",
        String::from_utf8(output.stdout).unwrap()
    )
}

/// `python3` resolved to the interpreter, or `None` off CI when there is
/// none (the README promises tests that need only a Rust toolchain).
pub fn python() -> Option<String> {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|output| output.status.success());
    if output.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI needs python3");
        eprintln!("skipped: python3 is not installed");
    }
    output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
