//! The JUnit XML report: a test suite per lesson, a test case per output.

use std::collections::BTreeMap;
use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Collected, Reporter};
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
            status.set_message(result.message.clone().unwrap_or_default());
            let mut description = String::new();
            for pattern in &result.patterns {
                let mark = if pattern.matched {
                    "matched"
                } else {
                    "missing"
                };
                description.push_str(&format!("{mark}: {}\n", pattern.pattern));
            }
            description.push_str(&format!("instructions: {}\n", finished.instructions));
            status.set_description(description);
            status
        }
    };
    let mut case = TestCase::new(result.source.clone(), status);
    case.set_classname(result.lesson.clone());
    if let Some(duration) = finished.duration {
        case.set_time(duration);
    }
    if result.status != Status::Pass && !finished.output.is_empty() {
        case.set_system_out(finished.output.clone());
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
