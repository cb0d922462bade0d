//! Lesson documents and the proof that a lesson is done.
//!
//! A lesson is one Markdown file that starts with YAML frontmatter:
//!
//! ```text
//! ---
//! id: w09-l07
//! ...
//! proof:
//!   type: paste
//!   instructions: "Paste output showing: ..."
//!   regex_patterns:
//!     - "crash|simulate"
//!     - "recover|replay|found"
//! ---
//! # Crash drill — after WAL write, before apply
//! ...
//! ```
//!
//! The proof lives in the document itself so that one source of truth drives
//! every way of grading: a checker running the lesson's drill, an instructor
//! grading what students pasted, and the drill's own tests all call
//! [`Lesson::check`] (or [`ProofMatcher::match_patterns`]) on the same patterns.
//!
//! # Design
//!
//! - **Errors point into the `.md` file.** Authors edit the Markdown file, not
//!   a YAML fragment, so every [`LessonError`] displays as
//!   `path:line:column: message` with the line counted in the document
//!   (the fence, a BOM and CRLF line ends are accounted for).
//! - **Patterns compile once, when the document is parsed.** A bad regex is a
//!   document error found by `Lesson::load`, not a grading-time surprise, and
//!   grading many pastes reuses the compiled [`ProofMatcher`].
//! - **Output is normalised before matching** ([`normalize`]): colour codes,
//!   CRLF and invalid UTF-8 should not decide whether a student passes.
//! - **Patterns are not the whole verdict.** A paste that shows a failed run,
//!   in any language, fails even when every pattern matches, because
//!   `assertion failed: key not recovered` contains "recover". The lines that
//!   show how a run ended live in one table, [`verdict::RULES`], each rule with
//!   its toolchain; the last final line (exit code, runner summary) decides.
//! - **Echoes are not runs.** Patterns count only on lines that are not the
//!   lesson document's own ([`Echoes`]): pasting the `Expected:` line or the
//!   instructions proves nothing. Inside a drill transcript whose receipt
//!   matches, every line is the drill's, even its verdict (which the lesson
//!   quotes as `Expected:`).
//! - **Drill transcripts carry a receipt** ([`receipt`]): a digest of the
//!   lines from the title to the verdict, so a cut or edited transcript
//!   fails. The store a transcript names ([`tested`]) is read only from
//!   those verified lines; the grader decides what to accept.
//! - **Sizes are capped.** Outputs and documents over [`OUTPUT_LIMIT`] are
//!   refused and never read into memory beyond the cap ([`read_limited`]).

mod echo;
mod error;
pub mod fingerprint;
mod frontmatter;
mod line;
mod matcher;
mod output;
pub mod receipt;
pub mod tested;
pub mod verdict;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use echo::Echoes;
pub use error::{LessonError, OutputError};
pub use frontmatter::{FieldPositions, Frontmatter, Position, Proof, ProofKind};
pub use line::{LINE_TEXT_LIMIT, MatchedLine};
pub use matcher::{PatternResult, ProofMatcher, ProofReport};
pub use output::{OUTPUT_LIMIT, escaped, normalize, not_text, read_limited};
pub use receipt::{Receipt, ReceiptProblem, Transcript};
pub use tested::TestedStore;
pub use verdict::{FailedRun, find_failed_run};

use frontmatter::Fragment;

/// A parsed lesson document.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// The fields of the YAML frontmatter.
    pub frontmatter: Frontmatter,
    /// The Markdown after the frontmatter, as written (line ends untouched).
    pub body: String,
    /// The file the lesson was read from (used in messages).
    pub path: PathBuf,
    positions: FieldPositions,
    body_line: usize,
    matcher: ProofMatcher,
    echoes: Echoes,
}

/// A piece of a lesson's body and the document line it starts on: a section
/// (see [`Lesson::section`]) or a quoted example (see
/// [`Lesson::expected_outputs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    /// Line in the document: of a section's heading, or of a quote.
    pub line: usize,
    /// A section's text after its heading line, or the quoted text.
    pub text: &'a str,
}

impl Lesson {
    /// Read and parse the lesson document at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LessonError> {
        Self::load_collecting(path).map_err(first)
    }

    /// Parse a lesson document; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, LessonError> {
        Self::parse_collecting(path, text).map_err(first)
    }

    /// Like [`Lesson::load`], but report every problem found rather than the
    /// first (e.g. all invalid patterns), for linting. The list is never empty.
    pub fn load_collecting(path: impl AsRef<Path>) -> Result<Self, Vec<LessonError>> {
        let path = path.as_ref();
        let text = read_document(path).map_err(|error| vec![error])?;
        Self::parse_collecting(path, &text)
    }

    /// Like [`Lesson::parse`], but report every problem found rather than the
    /// first. The list is never empty.
    pub fn parse_collecting(path: &Path, text: &str) -> Result<Self, Vec<LessonError>> {
        let fragment = Fragment::split(path, text).map_err(|error| vec![error])?;
        let (frontmatter, positions) = fragment.parse(path).map_err(|error| vec![error])?;
        let matcher =
            ProofMatcher::for_lesson(path, &frontmatter.proof.regex_patterns, &positions)?;
        Ok(Self {
            frontmatter,
            body: fragment.body.to_owned(),
            path: path.to_owned(),
            positions,
            body_line: fragment.body_line(),
            matcher,
            echoes: Echoes::of_document(text),
        })
    }

    /// Grade an output or a paste: normalise it, match every pattern on the
    /// lines that are not the lesson's own text ([`Echoes`]), decide the
    /// run's verdict ([`verdict`]) and verify drill receipts ([`receipt`]).
    /// Passing means every pattern matched a line of the run, no failed run
    /// was found and no drill transcript is cut or edited.
    ///
    /// Inside a verified drill transcript the drill's own verdict decides:
    /// the lines around it (a shell's `exit code:`, a prompt) can only make
    /// the result worse, never turn a `FAILED:` into a pass.
    pub fn check(&self, output: &[u8]) -> ProofReport {
        self.check_text(&normalize(output))
    }

    /// [`Lesson::check`] for output already normalised with [`normalize`].
    pub fn check_text(&self, normalized: &str) -> ProofReport {
        let verified = receipt::verify(&self.frontmatter.id, normalized);
        let ranges: Vec<_> = verified.ranges().collect();
        let drill_failed = verified
            .transcripts
            .last()
            .filter(|transcript| !transcript.passed())
            .map(|transcript| FailedRun::drill_verdict(transcript.verdict.clone()));
        let failed_outside = find_failed_run(&blank_out(normalized, &ranges));
        ProofReport {
            patterns: self
                .matcher
                .match_patterns_except(normalized, &self.echoes, &ranges),
            failed_run: drill_failed.or(failed_outside),
            transcripts: verified.transcripts,
            other_lessons: verified.other_lessons,
            run_ids: verified.run_ids,
            receipt_problem: verified.problem,
        }
    }

    /// What a verified transcript of this lesson's drill shows, on its own:
    /// each pattern matched only on the transcript's lines, and never on a
    /// `FAILED:` verdict (a failed run shows no evidence) nor its receipt.
    pub fn evidence(
        &self,
        normalized: &str,
        transcript: &receipt::Transcript,
    ) -> Vec<PatternResult> {
        let end = if transcript.passed() {
            // Up to the receipt line, which is a digest, not output.
            normalized[..transcript.range.end.saturating_sub(1)]
                .rfind('\n')
                .map_or(transcript.range.start, |n| n + 1)
        } else {
            transcript.verdict_start
        };
        self.matcher
            .match_patterns_within(normalized, transcript.range.start..end)
    }

    /// Check one of the lesson's own example outputs (an `Expected:` quote)
    /// against its proof: like [`Lesson::check`], but the example is the
    /// lesson's text by definition, so echoes count and there is no receipt.
    pub fn check_example(&self, example: &str) -> ProofReport {
        let normalized = normalize(example.as_bytes());
        ProofReport {
            patterns: self.matcher.match_patterns(&normalized),
            failed_run: find_failed_run(&normalized),
            transcripts: Vec::new(),
            other_lessons: Vec::new(),
            run_ids: Vec::new(),
            receipt_problem: None,
        }
    }

    /// The lines of the document, to recognise pastes of them.
    pub fn echoes(&self) -> &Echoes {
        &self.echoes
    }

    /// The compiled proof patterns.
    pub fn matcher(&self) -> &ProofMatcher {
        &self.matcher
    }

    /// Where the frontmatter's fields were written in the document.
    pub fn positions(&self) -> &FieldPositions {
        &self.positions
    }

    /// The document line on which [`Lesson::body`] begins.
    pub fn body_line(&self) -> usize {
        self.body_line
    }

    /// The first section whose ATX heading (`## Verify`) has `title`,
    /// compared case-insensitively. Headings inside fenced code blocks do not
    /// count.
    pub fn section(&self, title: &str) -> Option<Section<'_>> {
        let mut found: Option<(usize, usize, usize)> = None; // (line, level, text start)
        let mut offset = 0;
        let mut in_code = false;
        for (index, line) in self.body.split_inclusive('\n').enumerate() {
            let trimmed = line.trim_start_matches(' ');
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                in_code = !in_code;
            } else if let Some((level, heading)) = heading(line).filter(|_| !in_code) {
                match found {
                    Some((line_number, found_level, start)) if level <= found_level => {
                        return Some(Section {
                            line: line_number,
                            text: &self.body[start..offset],
                        });
                    }
                    None if heading.eq_ignore_ascii_case(title) => {
                        found = Some((self.body_line + index, level, offset + line.len()));
                    }
                    _ => {}
                }
            }
            offset += line.len();
        }
        found.map(|(line, _, start)| Section {
            line,
            text: &self.body[start..],
        })
    }

    /// The example outputs the body quotes on `Expected: "..."` lines, with
    /// their document lines. A lesson's own examples should pass its own proof.
    pub fn expected_outputs(&self) -> Vec<Section<'_>> {
        self.body
            .lines()
            .enumerate()
            .filter_map(|(index, line)| {
                let rest = line.trim_start().strip_prefix("Expected:")?;
                let (inside, _) = rest.trim_start().strip_prefix('"')?.split_once('"')?;
                Some(Section {
                    line: self.body_line + index,
                    text: inside,
                })
            })
            .collect()
    }
}

/// An ATX heading: its level and its text without `#`s around it.
fn heading(line: &str) -> Option<(usize, &str)> {
    let line = line.trim_end_matches(['\n', '\r']);
    let hashes = line.len() - line.trim_start_matches('#').len();
    let rest = &line[hashes..];
    if !(1..=6).contains(&hashes) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((hashes, rest.trim().trim_end_matches('#').trim_end()))
}

/// `text` with the bytes in `ranges` (whole lines) left out, but their line
/// ends kept, so that line numbers stay those of `text`.
fn blank_out(text: &str, ranges: &[std::ops::Range<usize>]) -> String {
    if ranges.is_empty() {
        return text.to_owned();
    }
    let mut sorted = ranges.to_vec();
    sorted.sort_by_key(|range| range.start);
    let mut kept = String::with_capacity(text.len());
    let mut at = 0;
    for range in sorted {
        let start = range.start.max(at);
        if start >= range.end {
            continue;
        }
        kept.push_str(&text[at..start]);
        kept.extend(text[start..range.end].matches('\n'));
        at = range.end;
    }
    kept.push_str(&text[at..]);
    kept
}

fn first(mut errors: Vec<LessonError>) -> LessonError {
    errors.swap_remove(0)
}

/// Read a document under the size cap and check it is UTF-8, pointing at the
/// first invalid byte if not.
fn read_document(path: &Path) -> Result<String, LessonError> {
    let read_error = |source| LessonError::Read {
        path: path.into(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let bytes = read_limited(file, OUTPUT_LIMIT).map_err(|error| match error {
        OutputError::Io(source) => read_error(source),
        OutputError::TooLarge { limit } => LessonError::TooLarge {
            path: path.into(),
            limit,
        },
    })?;
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        // The prefix is valid UTF-8 by definition of `valid_up_to`.
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let line_start = valid.rfind('\n').map_or(0, |n| n + 1);
        LessonError::NotUtf8 {
            path: path.into(),
            line: 1 + valid.matches('\n').count(),
            column: 1 + valid[line_start..].chars().count(),
        }
    })
}
