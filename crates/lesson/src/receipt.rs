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

use crate::matcher::{MatchedLine, line_at};
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
    /// A drill transcript without a receipt after it, or with fewer lines
    /// above the receipt than it covers.
    CutShort {
        /// The first line of the transcript left uncovered.
        line: MatchedLine,
    },
    /// A receipt that does not match the lines above it, or is not in the
    /// receipt format.
    Edited {
        /// The receipt's line.
        line: usize,
        /// What does not match.
        reason: String,
    },
    /// A receipt printed by another lesson's drill.
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

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The receipts that match their lines.
    pub receipts: Vec<Receipt>,
    /// The byte ranges of the verified transcripts, from the title through
    /// the receipt line.
    pub transcripts: Vec<Range<usize>>,
    /// The stores named in the verified transcripts (see [`crate::tested`]),
    /// read only from lines a receipt vouches for.
    pub stores: Vec<TestedStore>,
    /// The first problem, if any.
    pub problem: Option<ReceiptProblem>,
}

static STEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[\s*\d+/\d+\]\s").expect("the step pattern is valid"));

/// Check every receipt in normalised `text` against the lines above it, and
/// that every drill step line (`[2/6] ...`) is covered by a receipt. Pastes
/// without step lines or receipts (another language's run) have nothing to
/// verify.
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
    for (index, line) in lines.iter().enumerate() {
        let problem = match Receipt::parse(line) {
            None => continue,
            Some(Err(())) => Some(ReceiptProblem::Edited {
                line: index + 1,
                reason: "is not in the receipt format".into(),
            }),
            Some(Ok(receipt)) if receipt.lesson != lesson => Some(ReceiptProblem::OtherLesson {
                line: index + 1,
                lesson: receipt.lesson,
            }),
            Some(Ok(receipt)) if receipt.lines > index => Some(ReceiptProblem::CutShort {
                line: numbered(text, &lines, 0),
            }),
            Some(Ok(receipt)) => {
                let first = index - receipt.lines;
                let found = digest(&receipt.lesson, &receipt.run, &lines[first..index]);
                if found == receipt.digest {
                    covered[first..=index].fill(true);
                    verified.transcripts.push(starts[first]..starts[index + 1]);
                    verified
                        .stores
                        .extend(TestedStore::find(&lines[first..index], first + 1));
                    verified.receipts.push(receipt);
                    None
                } else {
                    Some(ReceiptProblem::Edited {
                        line: index + 1,
                        reason: format!(
                            "does not match the {} lines above it (lines {} to {})",
                            receipt.lines,
                            first + 1,
                            index
                        ),
                    })
                }
            }
        };
        if problem.is_some() && verified.problem.is_none() {
            verified.problem = problem;
        }
    }
    if verified.problem.is_none()
        && let Some(step) = (0..lines.len()).find(|&i| !covered[i] && STEP.is_match(lines[i]))
    {
        // The transcript starts at its title: above the first step, over
        // the lines naming the store under test.
        let uncovered = |i: usize| !covered[i] && !STEP.is_match(lines[i]);
        let mut start = step;
        while start > 0 && uncovered(start - 1) && tested::names_the_store(lines[start - 1]) {
            start -= 1;
        }
        if start > 0 && uncovered(start - 1) {
            start -= 1;
        }
        verified.problem = Some(ReceiptProblem::CutShort {
            line: numbered(text, &lines, start),
        });
    }
    verified
}

/// Line `index` (from 0) of `text`, split into `lines`, as a [`MatchedLine`].
fn numbered(text: &str, lines: &[&str], index: usize) -> MatchedLine {
    let start: usize = text.split_inclusive('\n').take(index).map(str::len).sum();
    if lines.is_empty() {
        return MatchedLine {
            number: 1,
            text: String::new(),
        };
    }
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
