//! Reporters: one per output format, all fed by the same event stream.

mod csv;
mod human;
mod json;
mod junit;

use std::borrow::Cow;
use std::io::{self, Write};

use crate::outcome::{Event, Finished, Summary};

pub use csv::field as csv_field;
pub use human::Human;

/// Output formats of `run` and `grade` (`list` supports human and json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Readable text; colour only on a terminal and never with `NO_COLOR`.
    Human,
    /// One JSON document with `"schema": 3`.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
    /// Comma-separated values, one row per result (grade only).
    Csv,
}

/// `text` with control characters (and the bidirectional overrides that can
/// reorder what a terminal shows) escaped as `\u{1b}`, so that a file name or
/// a pasted line cannot move the cursor, recolour or rewrite a report.
/// `keep` lists the controls to leave alone (`\n` in multi-line output).
pub fn printable_keeping<'a>(text: &'a str, keep: &[char]) -> Cow<'a, str> {
    lesson::escaped(text, keep)
}

/// [`printable_keeping`] with every control escaped: for one-line texts.
pub fn printable(text: &str) -> Cow<'_, str> {
    printable_keeping(text, &[])
}

/// The copy flags of a result, one line each: `copy of: a.txt, b.txt (and 3
/// more)`, `same store as: ...`; empty when it has none.
pub fn copy_flags(result: &crate::outcome::LessonResult) -> Vec<String> {
    let line = |label: &str, names: &[String], count: usize| {
        let shown: Vec<_> = names
            .iter()
            .map(|name| printable(name).into_owned())
            .collect();
        let more = count.saturating_sub(names.len());
        let more = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        format!("{label}: {}{more}", shown.join(", "))
    };
    let mut flags = Vec::new();
    if !result.copy_of.is_empty() {
        flags.push(line("copy of", &result.copy_of, result.copies));
    }
    if !result.same_store_as.is_empty() {
        flags.push(line(
            "same store as",
            &result.same_store_as,
            result.same_store_count,
        ));
    }
    flags
}

/// Consumes events as they happen and writes a report.
pub trait Reporter {
    /// Called for every event, in the order they happen.
    fn event(&mut self, event: &Event) -> io::Result<()>;
    /// Called once after the last event.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// A reporter for `format` writing to `out`. Human output uses `out` as is:
/// pass a stream that strips styles when colour is off.
pub fn reporter(format: Format, out: Box<dyn Write>) -> Box<dyn Reporter> {
    match format {
        Format::Human => Box::new(Human::new(out)),
        Format::Json => Box::new(json::Json::new(out)),
        Format::Junit => Box::new(junit::Junit::new(out)),
        Format::Csv => Box::new(csv::Csv::new(out)),
    }
}

/// Feed `events` to `reporter`, then finish it with the totals.
pub fn drive(
    events: impl IntoIterator<Item = Event>,
    reporter: &mut dyn Reporter,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    for event in events {
        if let Event::Finished(finished) = &event {
            summary.add(finished);
        }
        reporter.event(&event)?;
    }
    reporter.finish(&summary)?;
    Ok(summary)
}

/// Results collected for formats written as one document at the end, in the
/// requested order (parallel drills finish in any order).
#[derive(Default)]
struct Collected(Vec<Finished>);

impl Collected {
    fn push(&mut self, event: &Event) {
        if let Event::Finished(finished) = event {
            self.0.push((**finished).clone());
        }
    }

    fn in_order(&mut self) -> &[Finished] {
        self.0.sort_by_key(|finished| finished.index);
        &self.0
    }
}
