//! Echoes: text copied from the lesson document is not a run's output.
//!
//! A paste of the lesson's `Expected:` line, its proof instructions, its Task
//! or its patterns matches the patterns without any program having run. So a
//! pattern counts only on a line that is not a line of the lesson itself.
//! Lines are compared by [`key`]: case and runs of whitespace do not matter,
//! nor Markdown's list, heading and quote markers, backticks and bold marks;
//! a quoted part of a document line (`Expected: "..."`, a YAML value) counts
//! as a line of its own.

use std::collections::HashSet;

/// The lines of one lesson document, ready to recognise echoes of them.
#[derive(Debug, Clone, Default)]
pub struct Echoes {
    keys: HashSet<String>,
}

impl Echoes {
    /// The echoes of the whole document `text`, frontmatter included.
    pub fn of_document(text: &str) -> Self {
        let mut keys = HashSet::new();
        for line in text.lines() {
            keys.insert(key(line));
            // `key: value` (YAML fields, `Expected: ...`): the value alone.
            if let Some((_, value)) = line.split_once(": ") {
                keys.insert(key(value));
            }
            for quote in ['"', '\''] {
                // Every other piece between quotes is inside a quote.
                for inside in line.split(quote).skip(1).step_by(2) {
                    keys.insert(key(inside));
                }
            }
        }
        keys.remove("");
        Self { keys }
    }

    /// Whether `line` of a paste is a line of the lesson document.
    pub fn is_echo(&self, line: &str) -> bool {
        !self.keys.is_empty() && self.keys.contains(&key(line))
    }
}

/// A line as compared: without Markdown marks, surrounding quotes, case or
/// repeated whitespace.
fn key(line: &str) -> String {
    let mut rest = line.trim();
    loop {
        let before = rest;
        rest = rest
            .trim_start_matches(['#', '>', '-', '*', '+'])
            .trim_start();
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0
            && let Some(after) = rest[digits..].strip_prefix(['.', ')'])
        {
            rest = after.trim_start();
        }
        if rest == before {
            break;
        }
    }
    let rest = rest.trim_matches(['"', '\'']);
    let words: Vec<String> = rest
        .replace(['`'], "")
        .replace("**", "")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_spaces_and_markdown() {
        assert_eq!(key("  ## Crash   Drill "), "crash drill");
        assert_eq!(key("1. Write a `test` that:"), "write a test that:");
        assert_eq!(key("   - Creates a **KVStore**"), "creates a kvstore");
        assert_eq!(key("\"quoted\""), "quoted");
    }

    #[test]
    fn quotes_and_values_count_as_lines() {
        let echoes = Echoes::of_document(
            "  instructions: \"Paste output: crash\"\nExpected: \"Drill passed\"\n",
        );
        assert!(echoes.is_echo("Drill PASSED"));
        assert!(echoes.is_echo("paste output:   crash"));
        assert!(echoes.is_echo("Expected: \"Drill passed\""));
        assert!(!echoes.is_echo("Drill passed: data recovered"));
        assert!(!echoes.is_echo(""));
        assert!(!Echoes::default().is_echo("anything"));
    }
}
