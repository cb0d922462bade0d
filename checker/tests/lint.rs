//! `checker lint`: every problem of every lesson, each with its file and line.

mod common;

use std::path::Path;

use common::{checker, document, drill, lesson, stdout, workspace, write};

const VERIFY: &str = "## Verify\n\n```bash\n./good_drill\n```\n";

fn lint(dir: &Path) -> (Option<i32>, String) {
    let output = checker(dir).arg("lint").output().unwrap();
    (output.status.code(), stdout(&output))
}

#[test]
fn a_clean_lessons_folder_passes() {
    let dir = tempfile::tempdir().unwrap();
    lesson(dir.path(), "w01-l01", "w01", 1, &["ok"], VERIFY);
    drill(dir.path(), "w01-l01", "good_drill", "fn main() {}\n");
    lesson(
        dir.path(),
        "w01-l02",
        "w01",
        2,
        &["ok"],
        "A lesson without a drill.\n",
    );
    workspace(dir.path(), &["w01-l01"]);
    let (code, text) = lint(dir.path());
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text, "2 lessons checked, no problems\n");
}

/// Writes `lessons/<id>/lesson.md` as `text`.
fn raw(root: &Path, id: &str, text: &str) {
    write(&root.join("lessons").join(id).join("lesson.md"), text);
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = |id: &str, order: u32| document(id, "w01", order, 10, &["ok", "fine"], VERIFY);

    // A valid lesson with a drill, for reference.
    lesson(root, "w01-l01", "w01", 1, &["ok"], VERIFY);
    drill(root, "w01-l01", "good_drill", "fn main() {}\n");
    // Frontmatter problems.
    raw(
        root,
        "w01-l02",
        &good("w01-l02", 2).replace("order: 2", "order: 2: 3"),
    );
    raw(
        root,
        "w01-l03",
        &good("w01-l03", 3).replace("xp: 10", "xp: lots"),
    );
    raw(
        root,
        "w01-l04",
        &good("w01-l04", 4)
            .replace("'fine'", "'fine('")
            .replace("'ok'", "'[ok'"),
    );
    raw(root, "w01-l05", &good("w01-l99", 5));
    raw(root, "w01-l06", &good("w01-l06", 1));
    raw(
        root,
        "w01-l07",
        &good("w01-l07", 7).replace("type: paste", "type: video"),
    );
    // Drill problems.
    lesson(
        root,
        "w01-l08",
        "w01",
        8,
        &["ok"],
        "## Verify\n\n./w01-l08\n",
    );
    drill(root, "w01-l08", "w01-l08", "fn main() {}\n");
    let manifest = root.join("lessons/w01-l08/Cargo.toml");
    let renamed = std::fs::read_to_string(&manifest).unwrap().replace(
        "name = \"w01-l08\"\nversion",
        "name = \"wrong-name\"\nversion",
    );
    write(&manifest, renamed);
    lesson(root, "w01-l09", "w01", 9, &["ok"], VERIFY);
    drill(root, "w01-l09", "good_drill", "fn main() {}\n");
    let manifest = root.join("lessons/w01-l09/Cargo.toml");
    let two = std::fs::read_to_string(&manifest).unwrap()
        + "\n[[bin]]\nname = \"second\"\npath = \"src/main.rs\"\n";
    write(&manifest, two);
    lesson(
        root,
        "w01-l10",
        "w01",
        10,
        &["ok"],
        "# Title\n\n## Verify\n\nRun the other one.\n\n## Done\n./other_drill\n",
    );
    drill(root, "w01-l10", "other_drill", "fn main() {}\n");
    lesson(
        root,
        "w01-l11",
        "w01",
        11,
        &["ok"],
        "# Title\n\nNo verify section.\n",
    );
    drill(root, "w01-l11", "some_drill", "fn main() {}\n");
    // Body and folder problems.
    lesson(
        root,
        "w01-l12",
        "w01",
        12,
        &["recover"],
        "# T\n\nExpected: \"Crash drill passed\"\n",
    );
    std::fs::create_dir_all(root.join("lessons/w01-l13")).unwrap();
    workspace(
        root,
        &["w01-l01", "w01-l08", "w01-l09", "w01-l10", "w01-l11"],
    );

    let (code, text) = lint(root);
    assert_eq!(code, Some(2), "{text}");
    let lessons = root.join("lessons");
    let path = |rest: &str| format!("{}/{rest}", lessons.display());
    let expected = [
        path("w01-l02/lesson.md:4:9: invalid frontmatter"),
        path("w01-l03/lesson.md:6:5: invalid frontmatter: invalid u32"),
        path("w01-l04/lesson.md:13:7: invalid regex pattern `[ok`"),
        path("w01-l04/lesson.md:14:7: invalid regex pattern `fine(`"),
        path("w01-l05/lesson.md:2:5: id `w01-l99` differs from its folder name `w01-l05`"),
        path(&format!(
            "w01-l06/lesson.md:4:8: part `w01` order 1 is already used by {}",
            path("w01-l01/lesson.md:4:8")
        )),
        path("w01-l07/lesson.md:10:9: invalid frontmatter: unknown proof type `video`"),
        path(
            "w01-l08/Cargo.toml:2: package `wrong-name` must be named after the lesson id `w01-l08`",
        ),
        path(
            "w01-l09/Cargo.toml:7: package `w01-l09` has 2 binaries (good_drill, second); a drill is exactly one",
        ),
        path(
            "w01-l10/lesson.md:17: the Verify section does not mention the drill binary `other_drill`",
        ),
        path(
            "w01-l11/lesson.md:15: no `## Verify` section; it must show how to run the drill `some_drill`",
        ),
        path(
            "w01-l12/lesson.md:17: the expected output \"Crash drill passed\" fails the lesson's own proof: no line matches `recover`",
        ),
        path("w01-l13: no lesson.md in this lesson folder"),
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{text}");
    for (line, prefix) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(prefix.as_str()),
            "\n{line}\ndoes not start with\n{prefix}"
        );
    }
    assert_eq!(lines.last(), Some(&"13 problems"));
}

#[test]
fn a_package_cargo_cannot_read_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    lesson(dir.path(), "w01-l01", "w01", 1, &["ok"], VERIFY);
    write(
        &dir.path().join("lessons/w01-l01/Cargo.toml"),
        "[package\nname = \n",
    );
    let output = checker(dir.path())
        .args(["lint", "--lessons", "lessons"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.starts_with("lessons/w01-l01/Cargo.toml: "), "{text}");
    assert!(
        text.contains("Cargo.toml:1:9"),
        "cargo's location is kept: {text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn a_missing_lessons_folder_cannot_be_linted() {
    let dir = tempfile::tempdir().unwrap();
    checker(dir.path())
        .args(["lint", "--lessons", "nowhere"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nowhere: cannot list lessons"));
}
