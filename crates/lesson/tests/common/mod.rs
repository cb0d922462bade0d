//! A valid lesson document for the tests to start from.

/// Frontmatter with every field; patterns on lines 13 and 14 of a document.
pub const FRONTMATTER: &str = "id: w01-l01
title: \"Hello — world\"
order: 1
duration_minutes: 10
xp: 50
kind: lesson
part: w01
proof:
  type: paste
  instructions: \"Paste the greeting.\"
  regex_patterns:
    - \"hello\"
    - '^done$'
";

/// A document of `frontmatter` and `body`.
pub fn document(frontmatter: &str, body: &str) -> String {
    format!("---\n{frontmatter}---\n{body}")
}
