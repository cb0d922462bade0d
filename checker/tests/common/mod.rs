//! Helpers shared by the checker's integration tests: lesson documents,
//! lesson folders and the checker command.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

pub mod real;

use std::fs;
use std::path::Path;

/// A lesson document with the given fields and body.
pub fn document(
    id: &str,
    part: &str,
    order: u32,
    xp: u32,
    patterns: &[&str],
    body: &str,
) -> String {
    let patterns: String = patterns
        .iter()
        .map(|p| format!("    - '{}'\n", p.replace('\'', "''")))
        .collect();
    format!(
        "---\nid: {id}\ntitle: \"Lesson {id}\"\norder: {order}\nduration_minutes: 10\nxp: {xp}\n\
         kind: lesson\npart: {part}\nproof:\n  type: paste\n  instructions: \"Show the {id} output.\"\n\
         \x20 regex_patterns:\n{patterns}---\n{body}"
    )
}

/// Write `text` to `path`, creating folders.
pub fn write(path: &Path, text: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// Write a lesson folder `lessons/<id>/lesson.md` under `root`.
pub fn lesson(root: &Path, id: &str, part: &str, order: u32, patterns: &[&str], body: &str) {
    let text = document(id, part, order, 50, patterns, body);
    write(&root.join("lessons").join(id).join("lesson.md"), text);
}

/// Make `lessons/<id>` a drill package with one binary `binary` whose
/// `main.rs` is `main`.
pub fn drill(root: &Path, id: &str, binary: &str, main: &str) {
    let dir = root.join("lessons").join(id);
    write(
        &dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{id}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
             [[bin]]\nname = \"{binary}\"\npath = \"src/main.rs\"\n"
        ),
    );
    write(&dir.join("src/main.rs"), main);
}

/// Make `root` a cargo workspace of the given lesson packages. (Members are
/// listed: a `lessons/*` glob would also match folders without a package.)
pub fn workspace(root: &Path, ids: &[&str]) {
    let members: Vec<String> = ids.iter().map(|id| format!("\"lessons/{id}\"")).collect();
    write(
        &root.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    );
}

/// The checker binary, run in `dir`.
pub fn checker(dir: &Path) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(env!("CARGO_BIN_EXE_checker"));
    command.current_dir(dir).env_remove("NO_COLOR");
    command
}

/// Stdout of a finished command, as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A folder with `lesson.md` (lesson `w01-l01`, 75 XP, `patterns`) outside
/// any workspace, as an instructor grading pastes has it.
pub fn lesson_outside_workspace(patterns: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lesson = dir.path().join("lesson.md");
    write(
        &lesson,
        document("w01-l01", "w01", 1, 75, patterns, "# Lesson\n"),
    );
    (dir, lesson)
}
