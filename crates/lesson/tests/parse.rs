//! Parsing lesson documents as real files write them.

mod common;

use std::path::Path;

use common::{FRONTMATTER, document};
use lesson::{Lesson, ProofKind};

fn parse(text: &str) -> Lesson {
    Lesson::parse(Path::new("lesson.md"), text).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn reads_every_field() {
    let lesson = parse(&document(FRONTMATTER, "# Hello\n"));
    let fm = &lesson.frontmatter;
    assert_eq!(fm.id, "w01-l01");
    assert_eq!(fm.title, "Hello — world");
    assert_eq!((fm.order, fm.duration_minutes, fm.xp), (1, 10, 50));
    assert_eq!((fm.kind.as_str(), fm.part.as_str()), ("lesson", "w01"));
    assert_eq!(fm.proof.kind, ProofKind::Paste);
    assert_eq!(fm.proof.instructions, "Paste the greeting.");
    assert_eq!(fm.proof.regex_patterns, ["hello", "^done$"]);
    assert_eq!(lesson.body, "# Hello\n");
    assert_eq!(lesson.body_line(), 16);
    assert_eq!(lesson.path, Path::new("lesson.md"));
}

#[test]
fn accepts_crlf_bom_and_spaces_after_fences() {
    let text = format!(
        "\u{feff}---  \r\n{}--- \t\r\n# Body\r\n",
        FRONTMATTER.replace('\n', "\r\n")
    );
    let lesson = parse(&text);
    assert_eq!(lesson.frontmatter.id, "w01-l01");
    assert_eq!(lesson.frontmatter.proof.regex_patterns, ["hello", "^done$"]);
    assert_eq!(lesson.body, "# Body\r\n");
}

#[test]
fn accepts_block_style_and_flow_style_yaml() {
    let block = FRONTMATTER
        .replace("title: \"Hello — world\"", "title: >-\n  Hello —\n  world")
        .replace(
            "    - \"hello\"\n    - '^done$'\n",
            "    - hello\n    - |-\n      ^done$\n",
        );
    let lesson = parse(&document(&block, ""));
    assert_eq!(lesson.frontmatter.title, "Hello — world");
    assert_eq!(lesson.frontmatter.proof.regex_patterns, ["hello", "^done$"]);

    let flow = FRONTMATTER.replace(
        "  regex_patterns:\n    - \"hello\"\n    - '^done$'\n",
        "  regex_patterns: [hello, '^done$']\n",
    );
    assert_eq!(
        parse(&document(&flow, "")).frontmatter.proof.regex_patterns,
        ["hello", "^done$"]
    );
}

#[test]
fn later_fence_lines_belong_to_the_body() {
    let lesson = parse(&document(FRONTMATTER, "# A\n\n---\n\ntext\n---\n"));
    assert_eq!(lesson.body, "# A\n\n---\n\ntext\n---\n");
}

#[test]
fn records_where_fields_were_written() {
    let lesson = parse(&document(FRONTMATTER, ""));
    let positions = lesson.positions();
    assert_eq!((positions.id.line, positions.id.column), (2, 5));
    assert_eq!(positions.order.line, 4);
    assert_eq!(positions.part.line, 8);
    let lines: Vec<usize> = positions.patterns.iter().map(|p| p.line).collect();
    assert_eq!(lines, [13, 14]);
}

#[test]
fn finds_sections_outside_code_blocks() {
    let body = "# Title\n\n```md\n## Verify\nnot this one\n```\n\n## Verify\n\n```bash\n./drill\n## not a heading\n```\n\n### Detail\nstill inside\n\n## Done When\nafter\n";
    let lesson = parse(&document(FRONTMATTER, body));
    let verify = lesson.section("verify").expect("the Verify section");
    assert_eq!(verify.line, 16 + 7);
    assert!(verify.text.contains("./drill"));
    assert!(verify.text.contains("still inside"));
    assert!(!verify.text.contains("after"));
    assert!(lesson.section("Missing").is_none());
}

#[test]
fn lists_expected_outputs() {
    let body = "Expected behavior: not an example\n\nExpected: \"Drill passed: 3 records\"\n  Expected:\"second\" trailing\n";
    let lesson = parse(&document(FRONTMATTER, body));
    let quotes: Vec<(usize, &str)> = lesson
        .expected_outputs()
        .iter()
        .map(|q| (q.line, q.text))
        .collect();
    assert_eq!(quotes, [(18, "Drill passed: 3 records"), (19, "second")]);
}

#[test]
fn load_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lesson.md");
    std::fs::write(&path, document(FRONTMATTER, "body\n")).unwrap();
    let lesson = Lesson::load(&path).unwrap();
    assert_eq!(lesson.path, path);
    assert_eq!(lesson.body, "body\n");
}
