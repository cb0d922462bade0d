//! The CSV report for instructors: one row per submission, streamed.
//!
//! Columns: `lesson,source,status,xp,missing_patterns,message,copy_of`.
//! `missing_patterns` lists the patterns that did not match and `copy_of` the
//! submissions this one is a copy of, each separated by `; `. Fields are
//! quoted as RFC 4180 asks (commas, quotes, line ends), and a field that a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab
//! or CR: a file named `=HYPERLINK(...)`) is prefixed with `'`, as OWASP's
//! CSV-injection advice says.

use std::io::{self, Write};

use super::Reporter;
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
                "lesson,source,status,xp,missing_patterns,message,copy_of"
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

fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
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
        for risky in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                field(risky).trim_start_matches('"').starts_with('\''),
                "{risky:?}"
            );
        }
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("plain"), "plain");
    }
}
