//! `checker list`: lessons sorted by part then order, as a table or JSON.

mod common;

use common::{checker, drill, lesson, stdout, workspace, write};
use serde_json::Value;
use tempfile::TempDir;

/// Lessons whose folder names sort differently from (part, order).
fn setup() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    lesson(
        root,
        "a-late",
        "w02",
        1,
        &["ok"],
        "## Verify\n./late_drill\n",
    );
    drill(root, "a-late", "late_drill", "fn main() {}\n");
    lesson(root, "b-second", "w01", 2, &["ok"], "");
    lesson(root, "c-first", "w01", 1, &["ok"], "");
    workspace(root, &["a-late"]);
    dir
}

#[test]
fn human_table_is_sorted_by_part_then_order() {
    let dir = setup();
    let output = checker(dir.path()).arg("list").assert().success();
    let text = stdout(output.get_output());
    let expected = "\
ID        TITLE            PART  ORDER  XP  PROOF  DRILL
c-first   Lesson c-first   w01   1      50  paste  -
b-second  Lesson b-second  w01   2      50  paste  -
a-late    Lesson a-late    w02   1      50  paste  late_drill
";
    assert_eq!(text, expected);
}

#[test]
fn json_has_the_full_frontmatter_and_the_drill() {
    let dir = setup();
    let output = checker(dir.path())
        .args(["list", "--format", "json"])
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    assert_eq!(report["schema"], 1);
    let lessons = report["lessons"].as_array().unwrap();
    let ids: Vec<&str> = lessons.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c-first", "b-second", "a-late"]);
    let late = &lessons[2];
    assert_eq!(late["title"], "Lesson a-late");
    assert_eq!((&late["part"], &late["order"]), (&"w02".into(), &1.into()));
    assert_eq!(
        (&late["xp"], &late["duration_minutes"], &late["kind"]),
        (&50.into(), &10.into(), &"lesson".into())
    );
    assert_eq!(
        late["proof"],
        serde_json::json!({"type": "paste", "instructions": "Show the a-late output.", "regex_patterns": ["ok"]})
    );
    assert_eq!(
        late["drill"],
        serde_json::json!({"package": "a-late", "binary": "late_drill"})
    );
    assert_eq!(lessons[0]["drill"], Value::Null);
    assert!(
        late["path"]
            .as_str()
            .unwrap()
            .ends_with("lessons/a-late/lesson.md")
    );
}

#[test]
fn an_invalid_lesson_stops_the_list_with_its_location() {
    let dir = setup();
    let broken = dir.path().join("lessons/b-second/lesson.md");
    let text = std::fs::read_to_string(&broken)
        .unwrap()
        .replace("xp: 50", "xp: [50]");
    write(&broken, text);
    let output = checker(dir.path()).arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:6:5: invalid frontmatter", broken.display())),
        "{stderr}"
    );
}

#[test]
fn outside_a_workspace_lessons_must_be_named() {
    let dir = tempfile::tempdir().unwrap();
    lesson(dir.path(), "w01-l01", "w01", 1, &["ok"], "");
    let output = checker(dir.path()).arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no cargo workspace"));
    let output = checker(dir.path())
        .args(["list", "--lessons", "lessons"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("w01-l01"));
}
