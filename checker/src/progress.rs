//! Progress of `checker run --class` on stderr: a bar on a terminal (students
//! done, passed, failed), a line per student when piped.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use crate::gradebook::Row;
use crate::outcome::Status;
use crate::report::printable;

/// Progress on stderr: a bar on a terminal, a line per student otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    passed: usize,
    failed: usize,
}

impl Progress {
    pub fn new(students: usize) -> Self {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(students as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} students  {msg}  {elapsed}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Self {
            bar,
            passed: 0,
            failed: 0,
        }
    }

    /// One student done: their rows, whether they were the remembered ones,
    /// and the time taken.
    pub fn done(&mut self, student: &str, rows: &[Row], reused: bool, elapsed: Duration) {
        let all_passed = rows.iter().all(|row| row.status == Status::Pass);
        if all_passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        let lessons: Vec<String> = rows
            .iter()
            .map(|row| {
                let status = match row.status {
                    Status::Pass => "pass",
                    Status::Fail => "fail",
                    Status::Error => "error",
                };
                format!("{} {status}", row.lesson)
            })
            .collect();
        let how = if reused {
            "unchanged since the last run: results kept".to_owned()
        } else {
            format!("built and run in {:.1} s", elapsed.as_secs_f64())
        };
        let line = format!("{}: {} ({how})", printable(student), lessons.join(", "));
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
                bar.set_message(format!("{} passed, {} failed", self.passed, self.failed));
            }
            None => {
                let _ = writeln!(io::stderr(), "checker: {line}");
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
