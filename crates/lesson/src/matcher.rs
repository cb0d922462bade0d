//! Proof matching: compiled patterns, and what they found in an output.

use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

use crate::error::LessonError;
use crate::frontmatter::FieldPositions;

/// Matched lines in reports are cut to this many characters (marked with `…`)
/// so a single enormous line cannot flood a report.
pub const LINE_TEXT_LIMIT: usize = 200;

/// A lesson's proof patterns, compiled once.
///
/// Matching rules:
/// - every pattern must match somewhere in the (normalised) output;
/// - patterns are case-insensitive, because lessons write lowercase stems
///   (`truncat`, `recover`) while outputs start sentences with capitals; a
///   pattern opts out with `(?-i)`;
/// - patterns are multi-line: `^` and `$` match at the start and end of every
///   line, not only of the whole output;
/// - the syntax is that of the `regex` crate (no look-around, no
///   back-references), so matching time is linear in the output size.
#[derive(Debug, Clone)]
pub struct ProofMatcher {
    patterns: Vec<(String, Regex)>,
}

impl ProofMatcher {
    /// Compile `patterns` with the matching rules above.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, regex::Error> {
        let patterns = patterns
            .iter()
            .map(|pattern| Ok((pattern.as_ref().to_owned(), compile(pattern.as_ref())?)))
            .collect::<Result<_, regex::Error>>()?;
        Ok(Self { patterns })
    }

    /// Compile a lesson's patterns, reporting every unusable one with its
    /// place in the document.
    pub(crate) fn for_lesson(
        path: &Path,
        patterns: &[String],
        positions: &FieldPositions,
    ) -> Result<Self, Vec<LessonError>> {
        let mut errors = Vec::new();
        if patterns.is_empty() {
            errors.push(LessonError::Proof {
                path: path.into(),
                line: positions.regex_patterns.line,
                column: positions.regex_patterns.column,
                message: "proof.regex_patterns is empty: a proof needs at least one pattern".into(),
            });
        }
        let mut compiled = Vec::with_capacity(patterns.len());
        for (index, pattern) in patterns.iter().enumerate() {
            let at = positions
                .patterns
                .get(index)
                .copied()
                .unwrap_or(positions.regex_patterns);
            if pattern.is_empty() {
                errors.push(LessonError::Proof {
                    path: path.into(),
                    line: at.line,
                    column: at.column,
                    message: "empty pattern: it would match any output".into(),
                });
                continue;
            }
            match compile(pattern) {
                Ok(regex) => compiled.push((pattern.clone(), regex)),
                Err(error) => errors.push(LessonError::Regex {
                    path: path.into(),
                    line: at.line,
                    column: at.column,
                    pattern: pattern.clone(),
                    message: regex_message(&error),
                }),
            }
        }
        if errors.is_empty() {
            Ok(Self { patterns: compiled })
        } else {
            Err(errors)
        }
    }

    /// The patterns as written, in order.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|(source, _)| source.as_str())
    }

    /// Match every pattern against already normalised text (see
    /// [`crate::normalize`]), in the order the lesson lists them.
    pub fn match_patterns(&self, text: &str) -> Vec<PatternResult> {
        self.patterns
            .iter()
            .map(|(source, regex)| PatternResult {
                pattern: source.clone(),
                first_match: regex.find(text).map(|found| line_at(text, found.start())),
            })
            .collect()
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .multi_line(true)
        .build()
}

/// The regex crate renders syntax errors over several lines (pattern, caret,
/// `error: ...`). Documents' errors are one line each, so keep the last line.
fn regex_message(error: &regex::Error) -> String {
    let rendered = error.to_string();
    rendered
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .unwrap_or(rendered.trim())
        .to_owned()
}

/// The line containing byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> MatchedLine {
    let start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |n| offset + n);
    MatchedLine {
        number: 1 + text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        text: cut(&text[start..end]),
    }
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(LINE_TEXT_LIMIT) {
        Some((index, _)) => format!("{}…", &line[..index]),
        None => line.to_owned(),
    }
}

/// A line of output: its number (from 1) and its text, cut to
/// [`LINE_TEXT_LIMIT`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedLine {
    /// Line number, counting from 1.
    pub number: usize,
    /// The whole line (without its line end), cut if very long.
    pub text: String,
}

/// What one pattern found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternResult {
    /// The pattern as written in the lesson.
    pub pattern: String,
    /// The line where its first match starts; `None` if it does not match.
    pub first_match: Option<MatchedLine>,
}

impl PatternResult {
    /// Whether the pattern matched.
    pub fn matched(&self) -> bool {
        self.first_match.is_some()
    }
}

/// The verdict on one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofReport {
    /// One result per pattern, in the lesson's order.
    pub patterns: Vec<PatternResult>,
    /// Set when the output shows that the run failed; the proof then fails
    /// whatever the patterns say.
    pub failed_run: Option<FailedRun>,
}

impl ProofReport {
    /// Every pattern matched and the output does not show a failed run.
    pub fn passed(&self) -> bool {
        self.failed_run.is_none() && self.patterns.iter().all(PatternResult::matched)
    }

    /// The patterns that did not match.
    pub fn missing(&self) -> impl Iterator<Item = &str> {
        self.patterns
            .iter()
            .filter(|result| !result.matched())
            .map(|result| result.pattern.as_str())
    }

    /// Why the proof failed, in one line; `None` when it passed. Example:
    /// ``the run panicked (line 3: ...); no line matches `recover` ``.
    pub fn failure(&self) -> Option<String> {
        let mut reasons: Vec<String> = self.failed_run.iter().map(ToString::to_string).collect();
        let missing: Vec<String> = self.missing().map(|p| format!("`{p}`")).collect();
        if !missing.is_empty() {
            reasons.push(format!("no line matches {}", missing.join(", ")));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// A line of a paste showing that the run failed.
///
/// Patterns alone cannot tell success from failure: `assertion failed: key
/// not recovered` matches `recover`. A paste is therefore also searched for
/// the marks a failed run leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRun {
    /// What kind of failure the line shows.
    pub kind: FailedRunKind,
    /// The line it was found on.
    pub line: MatchedLine,
}

/// The marks of a failed run that [`find_failed_run`] recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedRunKind {
    /// A Rust panic message (`panicked at`).
    Panic,
    /// An `exit code: N` line (the colon is optional) with N ≠ 0; holds N as
    /// written.
    ExitCode(String),
    /// Cargo's `error: process didn't exit successfully` line.
    CargoRunFailed,
    /// A line starting with `FAILED:`, the verdict a drill prints when one of
    /// its checks fails; it stands even when the paste lacks an exit code.
    CheckFailed,
    /// A C or C++ `assert` that fired (glibc prints ``Assertion `x' failed``).
    AssertionFailed,
}

impl fmt::Display for FailedRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            FailedRunKind::Panic => "the run panicked".to_owned(),
            FailedRunKind::ExitCode(code) => format!("the run exited with code {code}"),
            FailedRunKind::CargoRunFailed => "cargo reports the run failed".to_owned(),
            FailedRunKind::CheckFailed => "the drill reports a failed check".to_owned(),
            FailedRunKind::AssertionFailed => "an assertion failed".to_owned(),
        };
        write!(f, "{what} (line {}: {})", self.line.number, self.line.text)
    }
}

static EXIT_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)\bexit code[ \t]*:?[ \t]*(-?[0-9]+)").expect("the exit-code pattern is valid")
});

static C_ASSERTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Assertion [`'].*' failed").expect("the assertion pattern is valid")
});

/// Find the first line of normalised `text` that shows a failed run: a Rust
/// panic (`panicked at`), an `exit code: N` line with N ≠ 0 (case-insensitive,
/// colon optional), cargo's `error: process didn't exit successfully`, a drill's
/// `FAILED:` verdict at the start of a line, or a C assertion
/// (``Assertion `…' failed``).
/// `exit code: 0` is a success and is not reported.
pub fn find_failed_run(text: &str) -> Option<FailedRun> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let kind = if line.contains("panicked at") {
            Some(FailedRunKind::Panic)
        } else if line.contains("error: process didn't exit successfully") {
            Some(FailedRunKind::CargoRunFailed)
        } else if line.trim_start().starts_with("FAILED:") {
            Some(FailedRunKind::CheckFailed)
        } else if C_ASSERTION.is_match(line) {
            Some(FailedRunKind::AssertionFailed)
        } else {
            EXIT_CODE
                .captures_iter(line)
                .map(|captures| captures[1].to_owned())
                .find(|code| !code.trim_start_matches(['-', '0']).is_empty())
                .map(FailedRunKind::ExitCode)
        };
        if let Some(kind) = kind {
            return Some(FailedRun {
                kind,
                line: line_at(text, offset),
            });
        }
        offset += line.len();
    }
    None
}
