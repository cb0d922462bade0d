//! The results of grading, as a small set of stable serde types, and the event
//! stream that carries them to reporters.
//!
//! `run` and `grade` both produce [`Event`]s; every output format is a
//! [`crate::report::Reporter`] consuming the same stream, so the formats cannot
//! disagree about what happened.

use std::time::Duration;

use lesson::{Lesson, ProofReport};
use serde::Serialize;

use crate::rule::Judged;

/// The most of a failed output a result keeps for its report.
pub const KEPT_OUTPUT: usize = 64 * 1024;

/// Version of the JSON documents this crate writes. Bumped on any change that
/// could break a consumer (a field removed, renamed or retyped), and on a
/// field added to every result: 2 added `copy_of`; 3 added `copies`,
/// `same_store_as` and `same_store_count`.
pub const SCHEMA_VERSION: u32 = 3;

/// What happened to one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every pattern matched, and the run succeeded.
    Pass,
    /// The output does not prove the lesson: a pattern is missing, the run
    /// failed (non-zero exit, signal, panic, timeout).
    Fail,
    /// No verdict could be reached: the output could not be read, was too
    /// large, or the drill could not be built or started.
    Error,
}

/// One pattern's verdict, as written in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternRecord {
    /// The pattern as written in the lesson.
    pub pattern: String,
    /// Whether it matched somewhere.
    pub matched: bool,
    /// The last line it matched, counting from 1; `null` when not matched.
    pub line: Option<usize>,
    /// Text of that line, cut to a window of 200 characters around the match
    /// when longer; `null` when not matched.
    pub text: Option<String>,
}

/// The verdict on one output (a drill run or a paste), as written in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LessonResult {
    /// Lesson id.
    pub lesson: String,
    /// Where the output came from: the drill binary's name for `run`, the
    /// paste's path (or `<stdin>`) for `grade`.
    pub source: String,
    /// The verdict.
    pub status: Status,
    /// One entry per pattern, in the lesson's order (empty on `error`).
    pub patterns: Vec<PatternRecord>,
    /// The drill's exit code (`run` only; `null` when it was killed).
    pub exit_code: Option<i32>,
    /// How long the drill ran (`run` only).
    pub duration_ms: Option<u64>,
    /// Why the result is not a pass; `null` on a pass.
    pub message: Option<String>,
    /// Experience points earned: the lesson's `xp` on a pass, else 0.
    pub xp: u32,
    /// The other submissions this one is a copy of: identical after
    /// normalising whitespace and line ends, or carrying the same drill
    /// receipt run id (verified or not). Empty when none (always, for
    /// `run`). A flag for the instructor, not a failure. At most
    /// [`crate::copies::MAX_LISTED`] are named.
    pub copy_of: Vec<String>,
    /// How many other submissions are copies of this one (the largest group
    /// it is in), named or not.
    pub copies: usize,
    /// Other students' submissions whose drill transcript tested the same
    /// store files (see [`crate::copies`]); at most
    /// [`crate::copies::MAX_LISTED`] named.
    pub same_store_as: Vec<String>,
    /// How many other students' submissions tested the same store.
    pub same_store_count: usize,
}

/// Totals over all results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Results with status `pass`.
    pub passed: usize,
    /// Results with status `fail`.
    pub failed: usize,
    /// Results with status `error`.
    pub errors: usize,
    /// XP earned over all results.
    pub xp_earned: u64,
    /// XP that all results together could have earned.
    pub xp_total: u64,
}

impl Summary {
    /// Count one finished result.
    pub fn add(&mut self, finished: &Finished) {
        match finished.result.status {
            Status::Pass => self.passed += 1,
            Status::Fail => self.failed += 1,
            Status::Error => self.errors += 1,
        }
        self.xp_earned += u64::from(finished.result.xp);
        self.xp_total += u64::from(finished.xp_available);
    }

    /// Whether everything passed (vacuously true with no results).
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// Something reporters are told about, in the order it happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// A drill started running (only `run` emits this; pastes are instant).
    Started {
        /// Lesson id.
        lesson: String,
        /// The drill binary.
        source: String,
    },
    /// A result is final.
    Finished(Box<Finished>),
}

/// A final result plus what reporters need beyond the JSON record.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Position in the requested order; machine-readable reports sort by it
    /// because parallel drills finish in any order.
    pub index: usize,
    /// The record written to JSON.
    pub result: LessonResult,
    /// The lesson's `xp`, earned or not.
    pub xp_available: u32,
    /// The lesson's proof instructions, shown when it fails.
    pub instructions: String,
    /// The normalised output that was graded (empty on `error`).
    pub output: String,
    /// How long a drill ran, when one did.
    pub duration: Option<Duration>,
}

impl Finished {
    /// A result graded from an output: `pass` when `report` passed and there
    /// is no `failure` (a reason found outside the text, such as the drill's
    /// exit status), `fail` otherwise.
    pub fn graded(
        index: usize,
        lesson: &Lesson,
        source: String,
        output: String,
        report: &ProofReport,
        failure: Option<String>,
    ) -> Self {
        let reasons: Vec<String> = failure.into_iter().chain(report.failure()).collect();
        let (status, message) = if reasons.is_empty() {
            (Status::Pass, None)
        } else {
            (Status::Fail, Some(reasons.join("; ")))
        };
        let mut finished = Self::new(index, lesson, source, status, message);
        finished.result.patterns = report.patterns.iter().map(pattern_record).collect();
        finished.output = output;
        finished
    }

    /// A result judged under a lesson's drill rule (see [`crate::rule`]).
    pub fn judged(index: usize, lesson: &Lesson, source: String, judged: &Judged) -> Self {
        let (status, message) = if judged.reasons.is_empty() {
            (Status::Pass, None)
        } else {
            (Status::Fail, Some(judged.reasons.join("; ")))
        };
        let mut finished = Self::new(index, lesson, source, status, message);
        finished.result.patterns = judged.patterns.iter().map(pattern_record).collect();
        finished
    }

    /// Keep what a report shows of the output that was graded: the whole of
    /// it for a failure up to [`KEPT_OUTPUT`] bytes (JUnit attaches it),
    /// nothing for a pass. Grading a class keeps every result until the
    /// report, so this bounds what a class costs.
    pub fn keep_output(&mut self, output: &str) {
        self.output.clear();
        if self.result.status == Status::Pass {
            return;
        }
        let mut end = output.len().min(KEPT_OUTPUT);
        while !output.is_char_boundary(end) {
            end -= 1;
        }
        self.output.push_str(&output[..end]);
        if end < output.len() {
            self.output.push_str(&format!(
                "\n[… {} more bytes not kept]\n",
                output.len() - end
            ));
        }
    }

    /// A result without a verdict.
    pub fn error(index: usize, lesson: &Lesson, source: String, message: String) -> Self {
        Self::new(index, lesson, source, Status::Error, Some(message))
    }

    fn new(
        index: usize,
        lesson: &Lesson,
        source: String,
        status: Status,
        message: Option<String>,
    ) -> Self {
        let fm = &lesson.frontmatter;
        Self {
            index,
            result: LessonResult {
                lesson: fm.id.clone(),
                source,
                status,
                patterns: Vec::new(),
                exit_code: None,
                duration_ms: None,
                message,
                xp: if status == Status::Pass { fm.xp } else { 0 },
                copy_of: Vec::new(),
                copies: 0,
                same_store_as: Vec::new(),
                same_store_count: 0,
            },
            xp_available: fm.xp,
            instructions: fm.proof.instructions.clone(),
            output: String::new(),
            duration: None,
        }
    }

    /// Record how long a drill ran.
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.result.duration_ms = Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        self.duration = Some(duration);
        self
    }
}

fn pattern_record(result: &lesson::PatternResult) -> PatternRecord {
    PatternRecord {
        pattern: result.pattern.clone(),
        matched: result.matched(),
        line: result.last_match.as_ref().map(|m| m.number),
        text: result.last_match.as_ref().map(|m| m.text.clone()),
    }
}
