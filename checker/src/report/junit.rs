//! The JUnit XML report: a test suite per lesson, a test case per output.

use std::collections::BTreeMap;
use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Collected, Reporter, copy_flags, printable, printable_keeping};
use crate::outcome::{Event, Finished, Status, Summary};

/// Writes one XML document when the stream ends.
pub struct Junit {
    out: Box<dyn Write>,
    collected: Collected,
}

impl Junit {
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            collected: Collected::default(),
        }
    }
}

fn test_case(finished: &Finished) -> TestCase {
    let result = &finished.result;
    let status = match result.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Fail | Status::Error => {
            let kind = if result.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(printable(result.message.as_deref().unwrap_or_default()));
            let mut description = String::new();
            for pattern in &result.patterns {
                let mark = if pattern.matched {
                    "matched"
                } else {
                    "missing"
                };
                description.push_str(&format!("{mark}: {}\n", printable(&pattern.pattern)));
            }
            for flag in copy_flags(result) {
                description.push_str(&format!("{flag}\n"));
            }
            description.push_str(&format!(
                "instructions: {}\n",
                printable(&finished.instructions)
            ));
            status.set_description(description);
            status
        }
    };
    let mut case = TestCase::new(printable(&result.source), status);
    case.set_classname(printable(&result.lesson));
    if let Some(duration) = finished.duration {
        case.set_time(duration);
    }
    let flags = copy_flags(result);
    if !flags.is_empty() && result.status == Status::Pass {
        case.set_system_err(flags.join("\n") + "\n");
    }
    if result.status != Status::Pass && !finished.output.is_empty() {
        // XML 1.0 cannot hold most control characters at all.
        case.set_system_out(printable_keeping(&finished.output, &['\n', '\t']));
    }
    case
}

impl Reporter for Junit {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.collected.push(event);
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
        for finished in self.collected.in_order() {
            let lesson = finished.result.lesson.as_str();
            suites
                .entry(lesson)
                .or_insert_with(|| TestSuite::new(lesson))
                .add_test_case(test_case(finished));
        }
        let mut report = Report::new("checker");
        report.add_test_suites(suites.into_values());
        report.serialize(&mut self.out).map_err(io::Error::other)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}
