//! Proof matching: compiled patterns, and what they found in an output.

use std::ops::Range;
use std::path::Path;

use regex::{Regex, RegexBuilder};

use crate::echo::Echoes;
use crate::error::LessonError;
use crate::frontmatter::FieldPositions;
use crate::line::{MatchedLine, line_at};
use crate::receipt::{ReceiptProblem, Transcript};
use crate::verdict::FailedRun;

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
        self.match_patterns_except(text, &Echoes::default(), &[])
    }

    /// Like [`ProofMatcher::match_patterns`], but a match on a line that
    /// `echoes` recognises as the lesson's own text does not count, and the
    /// first such line is kept as [`PatternResult::echo`] to explain a miss.
    /// Lines starting inside one of the byte ranges `vouched` (drill
    /// transcripts whose receipt matches, see [`crate::receipt`]) are the
    /// drill's output whatever they say: a drill's verdict is also the
    /// lesson's `Expected:` line.
    ///
    /// The line reported is the *last* one that matches: a run's first
    /// matches are usually its set-up (`store: READY replayed 0`), its last
    /// is usually the verdict (`Crash drill 1 passed: data recovered from
    /// WAL`), the line that shows what the lesson asks for.
    pub fn match_patterns_except(
        &self,
        text: &str,
        echoes: &Echoes,
        vouched: &[Range<usize>],
    ) -> Vec<PatternResult> {
        self.scan(text, 0..text.len(), |line_start, line| {
            vouched.iter().any(|range| range.contains(&line_start)) || !echoes.is_echo(line)
        })
    }

    /// Match every pattern on the lines that start inside `within` (a
    /// verified drill transcript) and nowhere else: every such line is the
    /// drill's own, echoes of the lesson included.
    pub fn match_patterns_within(&self, text: &str, within: Range<usize>) -> Vec<PatternResult> {
        self.scan(text, within, |_, _| true)
    }

    /// One result per pattern: the last line starting in `span` that it
    /// matches and that `counts`; the first line it matches that does not
    /// count is kept as [`PatternResult::echo`].
    fn scan(
        &self,
        text: &str,
        span: Range<usize>,
        counts: impl Fn(usize, &str) -> bool,
    ) -> Vec<PatternResult> {
        self.patterns
            .iter()
            .map(|(source, regex)| {
                let mut echo = None;
                let mut last_match = None;
                let mut from = span.start;
                // One match per line: after each, the search goes on from
                // the next line, so the scan stays linear in the text.
                while let Some(found) = regex.find_at(text, from) {
                    let start = text[..found.start()].rfind('\n').map_or(0, |n| n + 1);
                    if start >= span.end {
                        break;
                    }
                    let end = text[found.start()..]
                        .find('\n')
                        .map_or(text.len(), |n| found.start() + n);
                    if counts(start, &text[start..end]) {
                        last_match = Some((start, found.start()));
                    } else {
                        echo.get_or_insert_with(|| line_at(text, start, found.start()));
                    }
                    if end >= text.len() {
                        break;
                    }
                    from = end + 1;
                }
                let last_match = last_match.map(|(start, at)| line_at(text, start, at));
                PatternResult {
                    pattern: source.clone(),
                    echo: if last_match.is_none() { echo } else { None },
                    last_match,
                }
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

/// What one pattern found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternResult {
    /// The pattern as written in the lesson.
    pub pattern: String,
    /// The last line of the run it matches (see
    /// [`ProofMatcher::match_patterns_except`]); `None` if it does not match.
    pub last_match: Option<MatchedLine>,
    /// When it does not match a line of the run but matches text copied from
    /// the lesson itself: the first such line.
    pub echo: Option<MatchedLine>,
}

impl PatternResult {
    /// Whether the pattern matched.
    pub fn matched(&self) -> bool {
        self.last_match.is_some()
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
    /// The verified drill transcripts of this lesson (see
    /// [`crate::receipt`]), with the stores they name. The report does not
    /// judge the stores: which a grade accepts is the grader's policy.
    pub transcripts: Vec<Transcript>,
    /// Verified transcripts of other lessons' drills in the same paste.
    pub other_lessons: Vec<Transcript>,
    /// The run id of every receipt line checked, verified or not.
    pub run_ids: Vec<String>,
    /// Set when a drill transcript is cut short or edited; the proof then
    /// fails.
    pub receipt_problem: Option<ReceiptProblem>,
}

impl ProofReport {
    /// Every pattern matched a line of the run, the output does not show a
    /// failed run, and no drill transcript in it is cut or edited.
    pub fn passed(&self) -> bool {
        self.failed_run.is_none()
            && self.receipt_problem.is_none()
            && self.patterns.iter().all(PatternResult::matched)
    }

    /// The patterns that did not match.
    pub fn missing(&self) -> impl Iterator<Item = &str> {
        self.patterns
            .iter()
            .filter(|result| !result.matched())
            .map(|result| result.pattern.as_str())
    }

    /// Why the proof failed, in one line; `None` when it passed. Example:
    /// ``failed run: line 3: Segmentation fault; no line matches `recover` ``.
    pub fn failure(&self) -> Option<String> {
        let mut reasons: Vec<String> = self.failed_run.iter().map(ToString::to_string).collect();
        reasons.extend(self.receipt_problem.iter().map(ToString::to_string));
        for result in &self.patterns {
            if let (None, Some(echo)) = (&result.last_match, &result.echo) {
                reasons.push(format!(
                    "`{}` matches only text copied from the lesson itself (line {}: {}), not a run's output",
                    result.pattern, echo.number, echo.text
                ));
            }
        }
        let missing: Vec<String> = self
            .patterns
            .iter()
            .filter(|result| !result.matched() && result.echo.is_none())
            .map(|result| format!("`{}`", result.pattern))
            .collect();
        if !missing.is_empty() {
            reasons.push(format!("no line matches {}", missing.join(", ")));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}
