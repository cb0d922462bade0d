//! The drill's transcript: numbered steps and the lines under them.

use std::fmt::Display;
use std::io::Write;

use crate::check::{Error, Result};

/// Prints a drill's output as numbered steps.
///
/// ```text
/// Crash drill 1: ...                              <- title
/// [1/6] created KvStore with WAL at /tmp/...      <- step
///       replay found 1 record                     <- note
///       ok: get(test_key) = "test_value"          <- ok: a check that passed
/// ```
///
/// Notes and checks are indented under their step, so a pasted transcript
/// still shows which step each belongs to.
pub struct Steps<'a> {
    out: &'a mut dyn Write,
    total: usize,
    current: usize,
    indent: String,
}

impl<'a> Steps<'a> {
    /// A transcript of `total` steps written to `out`.
    pub fn new(out: &'a mut dyn Write, total: usize) -> Self {
        let width = format!("[{total}/{total}] ").len();
        Steps {
            out,
            total,
            current: 0,
            indent: " ".repeat(width),
        }
    }

    /// An unnumbered line, flush left: the drill's title.
    pub fn title(&mut self, text: impl Display) -> Result<()> {
        emit(self.out, format_args!("{text}"))
    }

    /// The next numbered step: `[k/n] text`.
    pub fn step(&mut self, text: impl Display) -> Result<()> {
        self.current += 1;
        debug_assert!(self.current <= self.total, "more steps than announced");
        let number = format!("[{}/{}]", self.current, self.total);
        let width = self.indent.len() - 1;
        emit(self.out, format_args!("{number:<width$} {text}"))
    }

    /// The number of the current step (0 before the first).
    pub fn number(&self) -> usize {
        self.current
    }

    /// A line under the current step: what was done or found.
    pub fn note(&mut self, text: impl Display) -> Result<()> {
        emit(self.out, format_args!("{}{text}", self.indent))
    }

    /// A check that passed, under the current step: `ok: text`.
    pub fn ok(&mut self, text: impl Display) -> Result<()> {
        self.note(format_args!("ok: {text}"))
    }
}

/// Writes one line and flushes it, so a transcript cut short by a crash or a
/// kill still shows every step up to it.
fn emit(out: &mut dyn Write, line: std::fmt::Arguments<'_>) -> Result<()> {
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Error::Output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(total: usize, print: impl FnOnce(&mut Steps<'_>) -> Result<()>) -> String {
        let mut out = Vec::new();
        print(&mut Steps::new(&mut out, total)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn steps_are_numbered_and_notes_indented_under_them() {
        let text = transcript(2, |steps| {
            steps.title("Drill")?;
            steps.step("first")?;
            steps.note("found 1 record")?;
            steps.ok("value matches")?;
            steps.step("second")
        });
        assert_eq!(
            text,
            "Drill\n[1/2] first\n      found 1 record\n      ok: value matches\n[2/2] second\n"
        );
    }

    #[test]
    fn two_digit_totals_keep_the_columns_aligned() {
        let text = transcript(10, |steps| {
            steps.step("one")?;
            steps.note("under")
        });
        assert_eq!(text, "[1/10]  one\n        under\n");
    }
}
