//! The JSON report: `{"schema":3,"results":[...],"summary":{...}}`.

use std::io::{self, Write};

use serde::Serialize;

use super::{Collected, Reporter};
use crate::outcome::{Event, LessonResult, SCHEMA_VERSION, Summary};

/// Writes one JSON document when the stream ends.
pub struct Json {
    out: Box<dyn Write>,
    collected: Collected,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: u32,
    results: Vec<&'a LessonResult>,
    summary: &'a Summary,
}

impl Json {
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            collected: Collected::default(),
        }
    }
}

impl Reporter for Json {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.collected.push(event);
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let document = Document {
            schema: SCHEMA_VERSION,
            results: self
                .collected
                .in_order()
                .iter()
                .map(|f| &f.result)
                .collect(),
            summary,
        };
        serde_json::to_writer_pretty(&mut self.out, &document)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}
