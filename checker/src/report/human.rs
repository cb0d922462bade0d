//! The human report: a block per result as it finishes, then the totals.
//!
//! ```text
//! PASS  w09-l07  paste.txt  +75 XP
//!   ✓ crash|simulate             line 2: Simulated crash after WAL write
//!   ✓ recover|replay|found       line 4: Crash drill 1 passed: data recovered
//! FAIL  w09-l07  bob.txt
//!   ✓ crash|simulate             line 1: crash simulated
//!   ✗ recover|replay|found       no matching line
//!   no line matches `recover|replay|found`
//!   to pass: Paste output showing: ...
//! PASS  w09-l07  carol.txt  +75 XP
//!   ...
//!   copy of: dave.txt
//!
//! XP earned: 75 of 150
//! 1 passed, 1 failed
//! ```
//!
//! Styles are always written; the stream given to [`Human::new`] decides
//! whether they reach the terminal (see `crate::cli::human_stdout`).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{Reporter, copy_flags, printable};
use crate::outcome::{Event, Finished, Status, Summary};

const PASS: Style = AnsiColor::Green.on_default().bold();
const FAIL: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();
const COPY: Style = AnsiColor::Yellow.on_default().bold();

/// Writes each result as it finishes.
pub struct Human {
    out: Box<dyn Write>,
}

impl Human {
    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write>) -> Self {
        Self { out }
    }

    fn finished(&mut self, finished: &Finished) -> io::Result<()> {
        let result = &finished.result;
        let (label, style) = match result.status {
            Status::Pass => ("PASS ", PASS),
            Status::Fail => ("FAIL ", FAIL),
            Status::Error => ("ERROR", FAIL),
        };
        write!(
            self.out,
            "{style}{label}{style:#} {} {DIM}{}{DIM:#}",
            printable(&result.lesson),
            printable(&result.source)
        )?;
        if result.xp > 0 {
            write!(self.out, "  {PASS}+{} XP{PASS:#}", result.xp)?;
        }
        writeln!(self.out)?;

        let width = result
            .patterns
            .iter()
            .map(|p| p.pattern.chars().count())
            .max();
        for pattern in &result.patterns {
            let pad = " ".repeat(width.unwrap_or(0) - pattern.pattern.chars().count());
            match (pattern.line, &pattern.text) {
                (Some(line), Some(text)) => writeln!(
                    self.out,
                    "  {PASS}✓{PASS:#} {}{pad}  {DIM}line {line}:{DIM:#} {}",
                    printable(&pattern.pattern),
                    printable(text)
                )?,
                _ => writeln!(
                    self.out,
                    "  {FAIL}✗{FAIL:#} {}{pad}  {DIM}no matching line{DIM:#}",
                    printable(&pattern.pattern)
                )?,
            }
        }
        let mut facts = Vec::new();
        if let Some(code) = result.exit_code {
            facts.push(format!("exit code {code}"));
        }
        if let Some(duration) = finished.duration {
            facts.push(format!("{:.2} s", duration.as_secs_f64()));
        }
        if !facts.is_empty() {
            writeln!(self.out, "  {DIM}{}{DIM:#}", facts.join(", "))?;
        }
        if let Some(message) = &result.message {
            writeln!(self.out, "  {style}{}{style:#}", printable(message))?;
        }
        for flag in copy_flags(result) {
            writeln!(self.out, "  {COPY}{flag}{COPY:#}")?;
        }
        if result.status == Status::Fail {
            writeln!(self.out, "  to pass: {}", printable(&finished.instructions))?;
        }
        Ok(())
    }
}

impl Reporter for Human {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Started { lesson, source } => {
                let (lesson, source) = (printable(lesson), printable(source));
                writeln!(self.out, "{DIM}RUN   {lesson} {source}{DIM:#}")?;
            }
            Event::Finished(finished) => self.finished(finished)?,
        }
        self.out.flush()
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        writeln!(self.out)?;
        writeln!(
            self.out,
            "XP earned: {} of {}",
            summary.xp_earned, summary.xp_total
        )?;
        if summary.errors > 0 {
            writeln!(
                self.out,
                "{} could not be graded (counted as failed)",
                summary.errors
            )?;
        }
        writeln!(
            self.out,
            "{} passed, {} failed",
            summary.passed,
            summary.failed + summary.errors
        )?;
        self.out.flush()
    }
}
