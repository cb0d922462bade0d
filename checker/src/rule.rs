//! The rule for a lesson with a drill: only the drill's verified transcript
//! passes.
//!
//! A lesson whose folder holds a drill package is proved by that drill's
//! output, and the course can ask for it: the drill tests the student's own
//! store and ends its transcript with a receipt. So a paste passes only with
//! a receipt-verified transcript of *this lesson's* drill, whose own verdict
//! passed, that tested a store other than the course's own; the proof
//! patterns count only on that transcript's lines (never on a `FAILED:`
//! verdict), and a line outside it (a shell's `exit code:`) can only make
//! the result worse. Everything else (typed words, a student's own tests,
//! `checker run`'s report, a store's source, another lesson's transcript)
//! fails with a message saying what to paste.
//!
//! `--accept-own-tests` restores the rules for courses whose students paste
//! their own tests ([`lesson::Lesson::check`] alone: a verdict table for
//! every toolchain, echoes of the lesson failing).

use lesson::{Lesson, PatternResult, ProofReport, Transcript};

use crate::course_stores;

/// A lesson's drill, as a student runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillRule {
    /// The drill's cargo package (the lesson id).
    pub package: String,
}

impl DrillRule {
    /// What to paste, in one sentence.
    pub fn what_to_paste(&self) -> String {
        format!(
            "this lesson is graded on its drill's transcript: run `cargo run -q -p {} -- --store \
             \"YOUR STORE\"`, then `echo \"exit code: $?\"`, and paste the whole output, receipt \
             included",
            self.package
        )
    }
}

/// The verdict on one paste under the rule: the patterns to show (matched
/// only on the drill's transcript) and why it fails, if it does.
pub struct Judged {
    /// One result per pattern.
    pub patterns: Vec<PatternResult>,
    /// The reasons it fails; empty on a pass.
    pub reasons: Vec<String>,
    /// The transcript that decided, if one did.
    pub transcript: Option<Transcript>,
}

/// Judge normalised `text`, whose report is `report`, under the rule.
pub fn judge(
    rule: &DrillRule,
    lesson: &Lesson,
    text: &str,
    report: &ProofReport,
    accept_course_stores: bool,
) -> Judged {
    let unmatched = || {
        lesson
            .matcher()
            .patterns()
            .map(|pattern| PatternResult {
                pattern: pattern.to_owned(),
                last_match: None,
                echo: None,
            })
            .collect()
    };
    // The last run of this lesson's drill in the paste decides.
    let Some(transcript) = report.transcripts.last() else {
        let why = if text.trim().is_empty() {
            "the paste is empty".to_owned()
        } else if let Some(problem) = &report.receipt_problem {
            problem.to_string()
        } else if looks_like_checker_run(text) {
            "this is the report of `checker run`, not the drill's transcript".to_owned()
        } else {
            format!(
                "no transcript of the {} drill with its receipt",
                lesson.frontmatter.id
            )
        };
        return Judged {
            patterns: unmatched(),
            reasons: vec![format!("{why}; {}", rule.what_to_paste())],
            transcript: None,
        };
    };
    let patterns = lesson.evidence(text, transcript);
    let mut reasons = Vec::new();
    if let Some(failed) = &report.failed_run {
        reasons.push(failed.to_string());
    }
    if let Some(problem) = &report.receipt_problem {
        reasons.push(problem.to_string());
    }
    match &transcript.store {
        None => reasons.push(format!(
            "the drill's transcript (line {}) names no store under test: run it with \
             --store \"YOUR STORE\"",
            transcript.first_line
        )),
        Some(store) if !accept_course_stores => {
            reasons.extend(course_stores::problem(std::slice::from_ref(store)));
        }
        Some(_) => {}
    }
    let missing: Vec<String> = patterns
        .iter()
        .filter(|result| !result.matched())
        .map(|result| format!("`{}`", result.pattern))
        .collect();
    if !missing.is_empty() && transcript.passed() {
        reasons.push(format!(
            "no line of the drill's transcript matches {}",
            missing.join(", ")
        ));
    }
    Judged {
        patterns,
        reasons,
        transcript: Some(transcript.clone()),
    }
}

/// The lines (from 1) of a paste in which a bare carriage return makes a
/// terminal, and the normalised text, show only what follows it; `[]` for a
/// paste without LF, where a CR ends a line. A drill never prints one.
pub fn overwritten_lines(bytes: &[u8]) -> Vec<usize> {
    if !bytes.contains(&b'\n') {
        return Vec::new();
    }
    bytes
        .split(|&byte| byte == b'\n')
        .enumerate()
        .filter(|(_, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line.contains(&b'\r')
        })
        .map(|(index, _)| index + 1)
        .take(1000)
        .collect()
}

/// Why a verified transcript cannot be trusted for what it shows: a line
/// of it held a carriage return, which hides the text before it (a store's
/// output could have written over the drill's verdict that way).
pub fn hidden_text(report: &ProofReport, overwritten: &[usize]) -> Option<String> {
    let transcript = report.transcripts.last()?;
    let line = overwritten
        .iter()
        .find(|&&line| (transcript.first_line..=transcript.receipt_line).contains(&line))?;
    Some(format!(
        "line {line} of the drill's transcript holds a carriage return that hides what was \
         written before it: paste the output as the drill printed it"
    ))
}

/// Whether `text` is the human report of `checker run` or `checker grade`
/// (`PASS  w09-l07 ...`, `XP earned: ...`).
fn looks_like_checker_run(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("XP earned: "))
        || text
            .lines()
            .any(|line| line.starts_with("PASS  ") || line.starts_with("FAIL  "))
}
