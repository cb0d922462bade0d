//! The CSV report for instructors: one row per submission, streamed.
//!
//! Columns: `lesson,source,status,xp,missing_patterns,message,copy_of,
//! copies,same_store_as`. `missing_patterns` lists the patterns that did not
//! match, `copy_of` the submissions this one is a copy of (at most ten named,
//! `copies` counts them all) and `same_store_as` other students' submissions
//! that tested the same store, each separated by `; `. Control characters
//! are escaped (`\u{1b}`), so a file name cannot reach a terminal that shows
//! the file. Fields are
//! quoted as RFC 4180 asks (commas, quotes, line ends), and a field that a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab
//! or CR: a file named `=HYPERLINK(...)`) is prefixed with `'`, as OWASP's
//! CSV-injection advice says.

use std::io::{self, Write};

use super::{Reporter, printable_keeping};
use crate::outcome::{Event, Status, Summary};

/// Writes the header at once and a row per finished result.
pub struct Csv {
    out: Box<dyn Write>,
    header_written: bool,
}

impl Csv {
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            header_written: false,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            writeln!(
                self.out,
                "lesson,source,status,xp,missing_patterns,message,copy_of,copies,same_store_as"
            )?;
        }
        Ok(())
    }
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
    }
}

/// One CSV cell: controls escaped, formulas neutralised, quoted as needed.
pub fn field(value: &str) -> String {
    let value = printable_keeping(value, &[]);
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.into_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

impl Reporter for Csv {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.header()?;
        let Event::Finished(finished) = event else {
            return Ok(());
        };
        let result = &finished.result;
        let missing: Vec<&str> = result
            .patterns
            .iter()
            .filter(|p| !p.matched)
            .map(|p| p.pattern.as_str())
            .collect();
        let row = [
            field(&result.lesson),
            field(&result.source),
            field(status(result.status)),
            result.xp.to_string(),
            field(&missing.join("; ")),
            field(result.message.as_deref().unwrap_or("")),
            field(&result.copy_of.join("; ")),
            result.copies.to_string(),
            field(&result.same_store_as.join("; ")),
        ];
        writeln!(self.out, "{}", row.join(","))
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.header()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn formulas_are_neutralised_and_separators_quoted() {
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for risky in ["+1", "-1", "@SUM(A1)"] {
            assert!(
                field(risky).trim_start_matches('"').starts_with('\''),
                "{risky:?}"
            );
        }
        // Controls never reach the cell raw: a tab or CR that could start a
        // formula, and ESC, BEL, BS from a file name meant for a terminal.
        assert_eq!(field("\tx"), "\\u{9}x");
        assert_eq!(field("\rx"), "\\u{d}x");
        assert_eq!(
            field("a\u{1b}]52;c;x\u{7}\u{8}b"),
            "a\\u{1b}]52;c;x\\u{7}\\u{8}b"
        );
        assert_eq!(field("two\nlines"), "two\\u{a}lines");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("plain"), "plain");
    }
}
