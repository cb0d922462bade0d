//! Errors name the file and the line and column in the `.md` file.

mod common;

use std::path::Path;

use common::{FRONTMATTER, document};
use lesson::{Lesson, LessonError};

fn good() -> String {
    document(FRONTMATTER, "body\n")
}

fn error_of(text: &str) -> String {
    match Lesson::parse(Path::new("lessons/x/lesson.md"), text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(error) => error.to_string(),
    }
}

fn assert_starts(text: &str, prefix: &str, mentions: &str) {
    let message = error_of(text);
    assert!(
        message.starts_with(prefix),
        "{message:?} does not start with {prefix:?}"
    );
    assert!(
        message.contains(mentions),
        "{message:?} does not mention {mentions:?}"
    );
}

#[test]
fn yaml_syntax_error_points_at_its_line() {
    let text = good().replace("order: 1", "order: 1: 2");
    assert_starts(&text, "lessons/x/lesson.md:4:", "invalid frontmatter");
    let text = good().replace("title: \"Hello — world\"", "title: [unclosed");
    assert_starts(&text, "lessons/x/lesson.md:3:8:", "invalid frontmatter");
}

#[test]
fn type_error_points_at_the_value() {
    let text = good().replace("xp: 50", "xp: lots");
    assert_starts(&text, "lessons/x/lesson.md:6:5:", "invalid frontmatter");
}

#[test]
fn lines_count_from_the_file_with_bom_and_crlf() {
    let text = format!(
        "\u{feff}{}",
        good().replace("xp: 50", "xp: lots").replace('\n', "\r\n")
    );
    assert_starts(&text, "lessons/x/lesson.md:6:5:", "invalid frontmatter");
}

#[test]
fn unknown_proof_type_is_named() {
    let text = good().replace("type: paste", "type: video");
    assert_starts(
        &text,
        "lessons/x/lesson.md:10:9:",
        "unknown proof type `video`",
    );
}

#[test]
fn unknown_and_missing_fields_are_errors() {
    assert_starts(
        &good().replace("kind: lesson", "knid: lesson"),
        "lessons/x/lesson.md:7:1:",
        "knid",
    );
    assert_starts(
        &good().replace("kind: lesson\n", ""),
        "lessons/x/lesson.md:",
        "missing field `kind`",
    );
}

#[test]
fn bad_regex_points_at_its_pattern() {
    let text = good().replace("'^done$'", "'fine('");
    let message = error_of(&text);
    assert!(
        message.starts_with("lessons/x/lesson.md:14:7: invalid regex pattern `fine(`"),
        "{message}"
    );
    assert!(message.contains("unclosed group"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn every_bad_regex_is_reported_when_collecting() {
    let text = good()
        .replace("\"hello\"", "\"[ok\"")
        .replace("'^done$'", "'fine('");
    let errors = match Lesson::parse_collecting(Path::new("l.md"), &text) {
        Ok(_) => panic!("expected errors"),
        Err(errors) => errors,
    };
    let lines: Vec<Option<usize>> = errors.iter().map(LessonError::line).collect();
    assert_eq!(lines, [Some(13), Some(14)]);
}

#[test]
fn empty_proofs_are_refused() {
    let none = good().replace("\n    - \"hello\"\n    - '^done$'", " []");
    assert_starts(
        &none,
        "lessons/x/lesson.md:12:19:",
        "regex_patterns is empty",
    );
    let empty = good().replace("'^done$'", "''");
    assert_starts(&empty, "lessons/x/lesson.md:14:7:", "empty pattern");
}

#[test]
fn fence_problems_point_at_the_fence() {
    assert_starts(
        "# no frontmatter\n",
        "lessons/x/lesson.md:1:1:",
        "missing frontmatter",
    );
    assert_starts(
        "\n---\nid: x\n---\n",
        "lessons/x/lesson.md:1:1:",
        "missing frontmatter",
    );
    assert_starts("---\nid: x\n", "lessons/x/lesson.md:1:1:", "never closed");
}

#[test]
fn a_truncated_frontmatter_points_inside_the_document() {
    let message = error_of("---\nid: x\n---\n");
    let line: usize = message.split(':').nth(1).unwrap().parse().unwrap();
    assert!((2..=3).contains(&line), "{message}");
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.md");
    let message = Lesson::load(&missing).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("{}: cannot read", missing.display())),
        "{message}"
    );

    let binary = dir.path().join("binary.md");
    std::fs::write(&binary, b"---\nid: w\xff\n---\n").unwrap();
    let message = Lesson::load(&binary).unwrap_err().to_string();
    assert_eq!(
        message,
        format!("{}:2:6: not valid UTF-8", binary.display())
    );
}
