//! The CSV report for instructors: one row per submission, streamed.
//!
//! Columns: `lesson,source,status,xp,missing_patterns,message`.
//! `missing_patterns` lists the patterns that did not match, separated by
//! `; `. Fields are quoted as RFC 4180 asks (commas, quotes, line ends).

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
            writeln!(self.out, "lesson,source,status,xp,missing_patterns,message")?;
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
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
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
            status(result.status).to_owned(),
            result.xp.to_string(),
            field(&missing.join("; ")),
            field(result.message.as_deref().unwrap_or("")),
        ];
        writeln!(self.out, "{}", row.join(","))
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.header()?;
        self.out.flush()
    }
}
