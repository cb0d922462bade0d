//! The YAML frontmatter of a lesson document: its fields, and where in the
//! `.md` file each one was written.
//!
//! The frontmatter is the block between the first two `---` lines. It is
//! deserialized with `serde-saphyr`, whose error locations count lines from
//! the start of the YAML fragment; [`Fragment`] knows where the fragment sits
//! in the file and moves every location there, so errors point at the line an
//! author sees in their editor.

use std::fmt;
use std::path::Path;

use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use serde_saphyr::{Location, MessageFormatter, Spanned};

use crate::error::LessonError;

/// The fields at the top of every lesson document.
///
/// ```yaml
/// id: w09-l07
/// title: "Crash drill — after WAL write, before apply"
/// order: 7
/// duration_minutes: 25
/// xp: 75
/// kind: lesson
/// part: w09
/// proof:
///   type: paste
///   instructions: "Paste output showing: ..."
///   regex_patterns:
///     - "crash|simulate"
///     - "recover|replay|found"
/// ```
///
/// Unknown fields are an error: in a hand-written document they are almost
/// always a misspelt field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frontmatter {
    /// Unique id of the lesson, also the name of its folder and of its drill's
    /// package, e.g. `w09-l07`.
    pub id: String,
    /// Title shown to students.
    pub title: String,
    /// Position of the lesson within its part; (part, order) is unique.
    pub order: u32,
    /// Expected time to complete the lesson.
    pub duration_minutes: u32,
    /// Experience points earned by passing the proof.
    pub xp: u32,
    /// Kind of document, e.g. `lesson`.
    pub kind: String,
    /// The part (week) the lesson belongs to, e.g. `w09`.
    pub part: String,
    /// How a student proves the lesson is done.
    pub proof: Proof,
}

/// How a student proves a lesson is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// The kind of proof; written `type` in YAML.
    #[serde(rename = "type")]
    pub kind: ProofKind,
    /// What the student must show; printed when a proof fails.
    pub instructions: String,
    /// Regular expressions that must each match somewhere in the output.
    /// See [`crate::ProofMatcher`] for the matching rules.
    pub regex_patterns: Vec<String>,
}

/// The kinds of proof a lesson can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProofKind {
    /// The student pastes the output of the lesson's drill.
    Paste,
}

impl ProofKind {
    /// The name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paste => "paste",
        }
    }
}

impl fmt::Display for ProofKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Written by hand so that the error names the unknown type in words an author
// understands, rather than serde's "unknown variant".
impl<'de> Deserialize<'de> for ProofKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "paste" => Ok(Self::Paste),
            _ => Err(de::Error::custom(format!(
                "unknown proof type `{name}` (known types: paste)"
            ))),
        }
    }
}

/// A place in a lesson document: 1-based line, 1-based column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line, counting from 1.
    pub line: usize,
    /// Column in characters, counting from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Where the frontmatter's fields were written in the `.md` file, for
/// messages about their values (a wrong id, a duplicate order, a bad regex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPositions {
    /// The value of `id`.
    pub id: Position,
    /// The value of `part`.
    pub part: Position,
    /// The value of `order`.
    pub order: Position,
    /// The value of `proof.regex_patterns` (the list).
    pub regex_patterns: Position,
    /// Each entry of `proof.regex_patterns`, in order.
    pub patterns: Vec<Position>,
}

/// The frontmatter block cut out of a document, with enough bookkeeping to
/// translate fragment locations into document locations.
pub(crate) struct Fragment<'a> {
    /// The YAML between the fences.
    pub yaml: &'a str,
    /// The Markdown after the closing fence.
    pub body: &'a str,
    /// Line of the opening fence (always 1: the fence must come first).
    pub opening_line: usize,
    /// Line of the closing fence.
    pub closing_line: usize,
}

/// `---` possibly followed by spaces, tabs or a CR.
fn is_fence(line: &str) -> bool {
    line.trim_end_matches(['\n', '\r', ' ', '\t']) == "---"
}

impl<'a> Fragment<'a> {
    /// Cut the frontmatter out of `text` (a BOM is skipped). Only the first
    /// two fences count, so `---` rules later in the body are Markdown.
    pub fn split(path: &Path, text: &'a str) -> Result<Self, LessonError> {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n');
        let first = lines.next().unwrap_or("");
        if !is_fence(first) {
            return Err(LessonError::MissingFrontmatter { path: path.into() });
        }
        let yaml_start = first.len();
        let mut offset = yaml_start;
        for (index, line) in lines.enumerate() {
            if is_fence(line) {
                return Ok(Self {
                    yaml: &text[yaml_start..offset],
                    body: &text[offset + line.len()..],
                    opening_line: 1,
                    closing_line: index + 2,
                });
            }
            offset += line.len();
        }
        Err(LessonError::UnclosedFrontmatter {
            path: path.into(),
            line: 1,
        })
    }

    /// Line in the document where the body begins.
    pub fn body_line(&self) -> usize {
        self.closing_line + 1
    }

    /// Deserialize the fields and find where they were written.
    pub fn parse(&self, path: &Path) -> Result<(Frontmatter, FieldPositions), LessonError> {
        let frontmatter: Frontmatter =
            serde_saphyr::from_str(self.yaml).map_err(|error| self.yaml_error(path, &error))?;
        // A second, lenient pass reads only locations. It cannot fail where
        // the first succeeded; if it ever did, the fence is a usable fallback.
        let located: Located = serde_saphyr::from_str(self.yaml).unwrap_or_default();
        let at = |spanned: Option<Location>| self.position(spanned.unwrap_or(Location::UNKNOWN));
        let patterns = located.proof.and_then(|proof| proof.regex_patterns);
        let positions = FieldPositions {
            id: at(located.id.map(|s| s.referenced)),
            part: at(located.part.map(|s| s.referenced)),
            order: at(located.order.map(|s| s.referenced)),
            regex_patterns: at(patterns.as_ref().map(|s| s.referenced)),
            patterns: patterns
                .map(|list| {
                    list.value
                        .iter()
                        .map(|s| self.position(s.referenced))
                        .collect()
                })
                .unwrap_or_default(),
        };
        Ok((frontmatter, positions))
    }

    /// Move a location in the YAML fragment into the document. Locations the
    /// deserializer could not place point at the opening fence; locations past
    /// the end of the fragment (end of input) point at the closing fence.
    fn position(&self, location: Location) -> Position {
        if location.line() == 0 {
            return Position {
                line: self.opening_line,
                column: 1,
            };
        }
        let line = usize::try_from(location.line()).unwrap_or(usize::MAX);
        let line = line.saturating_add(self.opening_line);
        if line >= self.closing_line {
            return Position {
                line: self.closing_line,
                column: 1,
            };
        }
        Position {
            line,
            column: usize::try_from(location.column()).unwrap_or(1).max(1),
        }
    }

    fn yaml_error(&self, path: &Path, error: &serde_saphyr::Error) -> LessonError {
        let position = self.position(error.location().unwrap_or(Location::UNKNOWN));
        let message = serde_saphyr::DefaultMessageFormatter
            .format_message(error.without_snippet())
            .into_owned();
        LessonError::Frontmatter {
            path: path.into(),
            line: position.line,
            column: position.column,
            message,
        }
    }
}

/// Locations of the fields that messages point at; everything else ignored.
#[derive(Default, Deserialize)]
struct Located {
    id: Option<Spanned<IgnoredAny>>,
    part: Option<Spanned<IgnoredAny>>,
    order: Option<Spanned<IgnoredAny>>,
    proof: Option<LocatedProof>,
}

#[derive(Default, Deserialize)]
struct LocatedProof {
    regex_patterns: Option<Spanned<Vec<Spanned<IgnoredAny>>>>,
}
