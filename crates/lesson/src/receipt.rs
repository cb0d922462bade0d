//! Receipts: a drill's proof that a pasted transcript is whole and unedited.
//!
//! Every drill ends its output with one line,
//!
//! ```text
//! receipt: w09-l07 run=5f0c2b9e8a7d6c41 lines=17 sha256=9b1d…(64 hex digits)
//! ```
//!
//! holding the lesson id, a random run id, the number of transcript lines
//! above it (from the drill's title line to its verdict) and the SHA-256 of
//! the lesson id, the run id and those lines. Lines are hashed as
//! [`crate::normalize`] leaves them with trailing whitespace removed, so CRLF
//! line ends, ANSI colours and trailing spaces added by a terminal or an
//! editor do not matter.
//!
//! [`verify`] recomputes the digest over the lines above each receipt: a
//! paste cut short (a drill's step lines but no receipt, or fewer lines than
//! the receipt covers) or edited (any character of a covered line changed)
//! fails, and says which. Shell lines around the transcript (the command,
//! `echo "exit code: $?"`) are outside it and may stay.
//!
//! A receipt is no signature: anyone with this source can compute one for a
//! transcript they wrote. It proves that the lines were not cut or edited by
//! accident or by a casual hand, and gives each run an id that copies share.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::line::{MatchedLine, line_at};
use crate::output::normalize;
use crate::tested::{self, TestedStore};

/// The prefix of a receipt line.
pub const PREFIX: &str = "receipt:";

/// A receipt, as printed after a drill's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The lesson id of the drill that printed it.
    pub lesson: String,
    /// 16 hex digits, random per run.
    pub run: String,
    /// How many transcript lines the receipt covers (the lines right above it).
    pub lines: usize,
    /// SHA-256 of the lesson id, the run id and the covered lines, in hex.
    pub digest: String,
}

impl Receipt {
    /// The receipt of a drill run: `transcript` is everything the drill wrote
    /// to standard output from its title line through its verdict line.
    pub fn issue(lesson: &str, run: &str, transcript: &[u8]) -> Self {
        let text = normalize(transcript);
        let lines: Vec<&str> = text.lines().collect();
        Self {
            lesson: lesson.to_owned(),
            run: run.to_owned(),
            lines: lines.len(),
            digest: digest(lesson, run, &lines),
        }
    }

    /// Parse a receipt line (surrounding whitespace allowed). `None` when the
    /// line is not a receipt line at all, `Some(Err(()))` when it starts like
    /// one but is not in the format.
    pub fn parse(line: &str) -> Option<Result<Self, ()>> {
        static FORMAT: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(
                r"^receipt: (?P<lesson>\S+) run=(?P<run>[0-9a-f]{16}) lines=(?P<lines>\d{1,9}) sha256=(?P<digest>[0-9a-f]{64})$",
            )
            .expect("the receipt format is valid")
        });
        let line = line.trim();
        if !line.starts_with(PREFIX) {
            return None;
        }
        let Some(fields) = FORMAT.captures(line) else {
            return Some(Err(()));
        };
        Some(fields["lines"].parse().map_err(|_| ()).map(|lines| Self {
            lesson: fields["lesson"].to_owned(),
            run: fields["run"].to_owned(),
            lines,
            digest: fields["digest"].to_owned(),
        }))
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} {} run={} lines={} sha256={}",
            self.lesson, self.run, self.lines, self.digest
        )
    }
}

fn digest(lesson: &str, run: &str, lines: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{lesson}\n{run}\n"));
    for line in lines {
        hasher.update(line.trim_end());
        hasher.update("\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A fresh run id: 16 hex digits from the standard library's randomly seeded
/// hasher, the time and the process id, through SHA-256. Unpredictable
/// enough to tell runs apart; not a secret.
pub fn fresh_run_id() -> String {
    let mut seed = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    seed.write_u128(now);
    seed.write_u32(std::process::id());
    let hash = Sha256::digest(seed.finish().to_le_bytes());
    hash[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Why a paste's receipt does not vouch for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptProblem {
    /// A drill transcript without a receipt after it.
    CutShort {
        /// The first line of the transcript left uncovered.
        line: MatchedLine,
    },
    /// A receipt that covers more lines than stand above it: the top of the
    /// output was not pasted.
    TopMissing {
        /// The receipt's line.
        line: usize,
        /// How many lines it covers.
        covers: usize,
        /// How many lines stand above it.
        above: usize,
    },
    /// A receipt line split over several lines by a terminal's wrapping.
    Wrapped {
        /// The receipt's first line.
        line: usize,
    },
    /// A receipt that does not match the lines above it, or is not in the
    /// receipt format.
    Edited {
        /// The receipt's line.
        line: usize,
        /// What does not match.
        reason: String,
    },
    /// Only receipts printed by other lessons' drills.
    OtherLesson {
        /// The receipt's line.
        line: usize,
        /// The lesson it names.
        lesson: String,
    },
}

impl fmt::Display for ReceiptProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CutShort { line } => write!(
                f,
                "cut short: the drill transcript from line {} ({}) has no receipt line after it; \
                 paste the drill's whole output",
                line.number, line.text
            ),
            Self::TopMissing {
                line,
                covers,
                above,
            } => write!(
                f,
                "cut short: the receipt on line {line} covers {covers} lines; only {above} are \
                 above it: the top of the output is missing"
            ),
            Self::Wrapped { line } => write!(
                f,
                "the receipt on line {line} looks wrapped: paste it on one line"
            ),
            Self::Edited { line, reason } => {
                write!(f, "edited: the receipt on line {line} {reason}")
            }
            Self::OtherLesson { line, lesson } => write!(
                f,
                "the receipt on line {line} is from lesson {lesson}'s drill, not this lesson's"
            ),
        }
    }
}

/// A drill transcript whose receipt matches the lines above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// Its receipt.
    pub receipt: Receipt,
    /// The line of its title (the first line covered), counting from 1.
    pub first_line: usize,
    /// The line of its receipt, counting from 1.
    pub receipt_line: usize,
    /// Its bytes in the text, from the title through the receipt line.
    pub range: Range<usize>,
    /// The drill's verdict: the last line the receipt covers (without a
    /// quote or indentation the paste added).
    pub verdict: MatchedLine,
    /// Where the verdict line starts in the text.
    pub verdict_start: usize,
    /// The store it names (see [`crate::tested`]), from lines the receipt
    /// vouches for.
    pub store: Option<TestedStore>,
}

impl Transcript {
    /// Whether the drill passed: its verdict is not `FAILED: ...`.
    pub fn passed(&self) -> bool {
        !self.verdict.text.trim_start().starts_with("FAILED:")
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The verified transcripts of the lesson asked about, in paste order.
    pub transcripts: Vec<Transcript>,
    /// Verified transcripts of other lessons' drills: noted, not held
    /// against the paste.
    pub other_lessons: Vec<Transcript>,
    /// The run id of every receipt line checked, verified or not: an edited
    /// copy of a run still carries its run id.
    pub run_ids: Vec<String>,
    /// Receipt lines past [`MAX_RECEIPTS`], not checked.
    pub unchecked: usize,
    /// The first problem, if any.
    pub problem: Option<ReceiptProblem>,
}

impl Verified {
    /// Every verified transcript's byte range, of any lesson.
    pub fn ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.transcripts
            .iter()
            .chain(&self.other_lessons)
            .map(|t| t.range.clone())
    }
}

/// At most this many receipt lines of one paste are checked, and together
/// they hash at most [`HASH_BUDGET`] times the paste's lines: each check
/// hashes the lines it covers, so the work stays linear in the paste.
pub const MAX_RECEIPTS: usize = 64;

/// How many times over the paste's lines the receipts of one paste may hash
/// (honest transcripts cover lines once; the wrapped-line check twice).
pub const HASH_BUDGET: usize = 6;

static STEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[ \t>]*\[\s*\d+/\d+\]\s").expect("the step pattern is valid"));

/// The paste's own prefix on a receipt line (an indentation, a `> ` quote),
/// and the receipt text after it; `None` when the line is no receipt line.
fn split_prefix(line: &str) -> Option<(&str, &str)> {
    let at = line.find(PREFIX)?;
    let prefix = &line[..at];
    prefix
        .chars()
        .all(|c| matches!(c, ' ' | '\t' | '>'))
        .then(|| (prefix, &line[at..]))
}

/// `line` without the paste's `prefix`; a blank line of a quote or an
/// indented block may have lost the prefix's trailing spaces.
fn strip<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)
        .or_else(|| (line.trim_end() == prefix.trim_end()).then_some(""))
}

/// Check every receipt in normalised `text` against the lines above it, and
/// that every drill step line (`[2/6] ...`) is covered by a receipt. Pastes
/// without step lines or receipts (another language's run) have nothing to
/// verify. A transcript indented or quoted as a whole (`    `, a tab,
/// `> `) verifies after its common prefix is removed, and one whose long
/// lines a terminal hard-wrapped verifies once they are joined again.
pub fn verify(lesson: &str, text: &str) -> Verified {
    let lines: Vec<&str> = text.lines().collect();
    // Where each line starts, and where the text ends.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.split_inclusive('\n').scan(0, |end, line| {
            *end += line.len();
            Some(*end)
        }))
        .collect();
    let mut verified = Verified::default();
    let mut covered = vec![false; lines.len()];
    let mut other_lesson = None;
    let mut checked = 0;
    let mut budget = HASH_BUDGET * lines.len().max(64);
    for (index, line) in lines.iter().enumerate() {
        let Some((prefix, receipt_text)) = split_prefix(line) else {
            continue;
        };
        if checked == MAX_RECEIPTS {
            verified.unchecked += 1;
            continue;
        }
        checked += 1;
        let receipt = match Receipt::parse(receipt_text) {
            Some(Ok(receipt)) => receipt,
            _ => {
                let problem = if joins_into_a_receipt(&lines, index, prefix) {
                    ReceiptProblem::Wrapped { line: index + 1 }
                } else {
                    ReceiptProblem::Edited {
                        line: index + 1,
                        reason: "is not in the receipt format".into(),
                    }
                };
                verified.problem.get_or_insert(problem);
                continue;
            }
        };
        verified.run_ids.push(receipt.run.clone());
        if receipt.lines > index {
            verified.problem.get_or_insert(ReceiptProblem::TopMissing {
                line: index + 1,
                covers: receipt.lines,
                above: index,
            });
            continue;
        }
        // A plain check, then the wrapped-line check over up to four times
        // the lines: what the budget is charged.
        let cost = receipt.lines.saturating_mul(6);
        if cost > budget {
            verified.unchecked += 1;
            continue;
        }
        budget -= cost;
        let Some(found) = covered_lines(&lines, index, prefix, &receipt) else {
            verified.problem.get_or_insert(ReceiptProblem::Edited {
                line: index + 1,
                reason: format!(
                    "does not match the {} lines above it (lines {} to {})",
                    receipt.lines,
                    index + 1 - receipt.lines,
                    index
                ),
            });
            continue;
        };
        covered[found.first..=index].fill(true);
        let body: Vec<&str> = found.lines.iter().map(String::as_str).collect();
        let transcript = Transcript {
            first_line: found.first + 1,
            receipt_line: index + 1,
            range: starts[found.first]..starts[index + 1],
            verdict: MatchedLine {
                number: found.verdict + 1,
                text: body.last().copied().unwrap_or_default().to_owned(),
            },
            verdict_start: starts[found.verdict],
            store: TestedStore::find(&body, found.first + 1),
            receipt,
        };
        if transcript.receipt.lesson == lesson {
            verified.transcripts.push(transcript);
        } else {
            other_lesson.get_or_insert((index + 1, transcript.receipt.lesson.clone()));
            verified.other_lessons.push(transcript);
        }
    }
    if verified.problem.is_none()
        && let Some(step) = (0..lines.len()).find(|&i| !covered[i] && STEP.is_match(lines[i]))
    {
        // The transcript starts at its title: above the first step, over
        // the lines naming the store under test.
        let uncovered = |i: usize| !covered[i] && !STEP.is_match(lines[i]);
        let mut start = step;
        while start > 0 && uncovered(start - 1) && names_the_store(lines[start - 1]) {
            start -= 1;
        }
        if start > 0 && uncovered(start - 1) {
            start -= 1;
        }
        verified.problem = Some(ReceiptProblem::CutShort {
            line: numbered(text, &starts, start),
        });
    }
    if verified.problem.is_none()
        && verified.transcripts.is_empty()
        && let Some((line, lesson)) = other_lesson
    {
        verified.problem = Some(ReceiptProblem::OtherLesson { line, lesson });
    }
    verified
}

/// Whether `line` names the store (see [`tested::names_the_store`]), also
/// under a quote or an indentation the paste added.
fn names_the_store(line: &str) -> bool {
    let bare = line.trim_start_matches(['>', ' ', '\t']);
    tested::names_the_store(line)
        || tested::names_the_store(bare)
        || tested::names_the_store(&format!("  {bare}"))
}

/// Whether the receipt line at `index`, which is not in the format, is one
/// once the next line or two (a terminal's wrapping) are joined to it.
fn joins_into_a_receipt(lines: &[&str], index: usize, prefix: &str) -> bool {
    let mut joined = lines[index][prefix.len()..].trim_end().to_owned();
    for next in lines.iter().skip(index + 1).take(2) {
        let Some(rest) = strip(next, prefix) else {
            return false;
        };
        joined.push_str(rest.trim());
        if matches!(Receipt::parse(&joined), Some(Ok(_))) {
            return true;
        }
    }
    false
}

/// The lines a verified receipt covers.
struct Covered {
    /// The index of the first line.
    first: usize,
    /// The index of the (first line of the) verdict.
    verdict: usize,
    /// The transcript's lines as the drill printed them: the paste's prefix
    /// removed, hard-wrapped lines joined.
    lines: Vec<String>,
}

/// The lines that `receipt`, on line `index`, covers, when its digest
/// matches: the `receipt.lines` lines right above it with the paste's
/// `prefix` removed, or the lines a terminal hard-wrapped joined again.
/// `None` when neither matches.
fn covered_lines(lines: &[&str], index: usize, prefix: &str, receipt: &Receipt) -> Option<Covered> {
    if receipt.lines == 0 {
        return None; // a transcript has at least its verdict
    }
    let first = index - receipt.lines;
    let above: Option<Vec<&str>> = lines[first..index]
        .iter()
        .map(|line| strip(line, prefix))
        .collect();
    match above {
        Some(above) if digest(&receipt.lesson, &receipt.run, &above) == receipt.digest => {
            Some(Covered {
                first,
                verdict: index.saturating_sub(1).max(first),
                lines: above.into_iter().map(str::to_owned).collect(),
            })
        }
        _ => unwrapped(lines, index, prefix, receipt),
    }
}

/// A terminal that hard-wraps at W columns splits every longer line into
/// pieces of exactly W characters and a last piece. Join them again: going
/// up from the receipt, a line belongs to the line below it when it is
/// exactly W characters long, W being the longest line in reach (no wider
/// than the terminal). Checks the digest of the joined lines.
fn unwrapped(lines: &[&str], index: usize, prefix: &str, receipt: &Receipt) -> Option<Covered> {
    // A wrapped transcript has more lines than the receipt covers; look a
    // few times further up, no further.
    let reach = index.min(receipt.lines.saturating_mul(4));
    let base = index - reach;
    let stripped: Vec<&str> = lines[base..index]
        .iter()
        .map(|line| strip(line, prefix))
        .collect::<Option<_>>()?;
    // The terminal's width: a length that several lines share exactly (the
    // pieces of wrapped lines), most shared first; a longer unwrapped line
    // above the transcript does not set it.
    let mut counts: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for line in &stripped {
        let length = line.chars().count();
        if length >= 20 {
            *counts.entry(length).or_default() += 1;
        }
    }
    let mut widths: Vec<(usize, usize)> = counts.into_iter().filter(|&(_, n)| n >= 2).collect();
    widths.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    widths
        .iter()
        .take(2)
        .find_map(|&(width, _)| joined_at(&stripped, base, width, receipt))
}

/// The lines above a receipt joined where they are exactly `width`
/// characters long, when their digest matches.
fn joined_at(stripped: &[&str], base: usize, width: usize, receipt: &Receipt) -> Option<Covered> {
    let mut joined: Vec<String> = Vec::with_capacity(receipt.lines);
    let mut verdict = None;
    let mut at = stripped.len();
    while joined.len() < receipt.lines && at > 0 {
        let end = at;
        at -= 1;
        while at > 0 && stripped[at - 1].chars().count() == width {
            at -= 1;
        }
        verdict.get_or_insert(base + at);
        joined.push(stripped[at..end].concat());
    }
    if joined.len() < receipt.lines || at == stripped.len() - receipt.lines {
        return None; // nothing was joined: the plain check already failed
    }
    joined.reverse();
    let check: Vec<&str> = joined.iter().map(String::as_str).collect();
    (digest(&receipt.lesson, &receipt.run, &check) == receipt.digest).then(|| Covered {
        first: base + at,
        verdict: verdict.unwrap_or(base + at),
        lines: joined,
    })
}

/// Line `index` (from 0) of `text` as a [`MatchedLine`]; `starts` holds
/// where each line starts.
fn numbered(text: &str, starts: &[usize], index: usize) -> MatchedLine {
    let start = starts
        .get(index)
        .copied()
        .unwrap_or(text.len())
        .min(text.len());
    line_at(text, start, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_line_parses_back() {
        let receipt = Receipt::issue(
            "w09-l07",
            "0123456789abcdef",
            b"title\r\n\x1b[1mverdict\x1b[0m  \n",
        );
        assert_eq!(receipt.lines, 2);
        let line = receipt.to_string();
        assert!(line.starts_with("receipt: w09-l07 run=0123456789abcdef lines=2 sha256="));
        assert_eq!(
            Receipt::parse(&format!("  {line}  ")),
            Some(Ok(receipt.clone()))
        );
        // CRLF, colour and trailing spaces do not change the digest.
        assert_eq!(
            Receipt::issue("w09-l07", "0123456789abcdef", b"title\nverdict\n"),
            receipt
        );
        assert_eq!(Receipt::parse("receipt: w09-l07 run=xyz"), Some(Err(())));
        assert_eq!(Receipt::parse("no receipt"), None);
    }

    #[test]
    fn run_ids_are_16_hex_digits_and_differ() {
        let ids: Vec<String> = (0..8).map(|_| fresh_run_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 16);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }
}
