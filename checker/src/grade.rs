//! `checker grade`: grade pasted output against a lesson's proof.
//!
//! Works without any lesson crate and outside a workspace when the lesson is
//! given as a path: instructors only need the `.md` file and the pastes.
//!
//! Every paste is read and graded before the report starts, because copies
//! can only be found once all submissions are known: each result's `copy_of`
//! lists the others that are identical after normalising whitespace and line
//! ends, or that carry a drill receipt with the same run id.
//!
//! A paste must test the student's own store: a drill transcript of the
//! reference store or of a store the course ships fails unless
//! [`Options::accept_course_stores`] (see [`course_stores`]).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use lesson::{Lesson, OUTPUT_LIMIT, normalize, not_text, read_limited};

use crate::catalog::{self, DOCUMENT};
use crate::class::Paste;
use crate::course_stores;
use crate::error::Error;
use crate::outcome::{Event, Finished, Status, Summary};
use crate::report::{self, Reporter};

/// Find the lesson named by `lesson`: a lesson folder (its `lesson.md`), a
/// path when it ends in `.md` or holds a `/`, otherwise an id looked up in
/// `lessons_dir` (computed only then, so a path works outside any
/// workspace).
pub fn find_lesson(
    lesson: &str,
    lessons_dir: impl FnOnce() -> Result<PathBuf, Error>,
) -> Result<Lesson, Error> {
    let given = Path::new(lesson);
    let is_path = lesson.ends_with(".md") || lesson.contains(['/', std::path::MAIN_SEPARATOR]);
    let path = if given.is_dir() {
        given.join(DOCUMENT)
    } else if is_path {
        given.to_owned()
    } else {
        let dir = lessons_dir()?;
        let path = dir.join(lesson).join(DOCUMENT);
        if !path.is_file() {
            return Err(catalog::unknown_lesson(lesson, &dir, path));
        }
        path
    };
    Lesson::load(&path).map_err(|error| Error::Lessons(vec![error]))
}

/// How to grade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Accept drill transcripts of the course's own stores (the reference
    /// store, the shipped examples; see [`course_stores`]), which otherwise
    /// fail: for instructors grading the reference drills themselves.
    pub accept_course_stores: bool,
}

/// Grade every paste against `lesson`, in order, reporting to `reporter`.
/// A paste that cannot be read, is too large or is not text is an `error`
/// result; the others are still graded.
pub fn grade(
    lesson: &Lesson,
    pastes: &[Paste],
    options: &Options,
    reporter: &mut dyn Reporter,
) -> Result<Summary, Error> {
    let mut results = Vec::with_capacity(pastes.len());
    let mut copies = Copies::default();
    for (index, paste) in pastes.iter().enumerate() {
        let result = match read(paste) {
            Ok(bytes) => {
                let text = normalize(&bytes);
                let report = lesson.check_text(&text);
                copies.add(index, &text, report.receipts.iter().map(|r| r.run.as_str()));
                let not_theirs = if options.accept_course_stores {
                    None
                } else {
                    course_stores::problem(&report.stores)
                };
                Finished::graded(index, lesson, paste.name(), text, &report, not_theirs)
            }
            Err(message) => Finished::error(index, lesson, paste.name(), message),
        };
        results.push(result);
    }
    copies.mark(&mut results);
    let events = results
        .into_iter()
        .map(|result| Event::Finished(Box::new(result)));
    report::drive(events, reporter).map_err(Error::Output)
}

fn read(paste: &Paste) -> Result<Vec<u8>, String> {
    let bytes = match paste {
        Paste::Stdin => read_limited(io::stdin().lock(), OUTPUT_LIMIT),
        Paste::File(path) => {
            let file = File::open(path).map_err(|error| format!("cannot read: {error}"))?;
            read_limited(file, OUTPUT_LIMIT)
        }
    };
    let bytes = bytes.map_err(|error| error.to_string())?;
    match not_text(&bytes) {
        Some(what) => Err(format!("not a text paste: it looks like {what}")),
        None => Ok(bytes),
    }
}

/// Submissions grouped by what makes them copies of each other.
#[derive(Default)]
struct Copies {
    /// Whitespace-normalised text → the submissions with it.
    texts: HashMap<String, Vec<usize>>,
    /// Receipt run id → the submissions carrying it.
    runs: HashMap<String, Vec<usize>>,
}

impl Copies {
    fn add<'a>(&mut self, index: usize, text: &str, runs: impl Iterator<Item = &'a str>) {
        let words: Vec<&str> = text.split_whitespace().collect();
        if !words.is_empty() {
            self.texts.entry(words.join(" ")).or_default().push(index);
        }
        for run in runs {
            let holders = self.runs.entry(run.to_owned()).or_default();
            if !holders.contains(&index) {
                holders.push(index);
            }
        }
    }

    /// Fill every result's `copy_of` with the other members of its groups.
    fn mark(self, results: &mut [Finished]) {
        let sources: Vec<String> = results.iter().map(|f| f.result.source.clone()).collect();
        let mut others: Vec<Vec<usize>> = vec![Vec::new(); results.len()];
        for group in self.texts.values().chain(self.runs.values()) {
            for &member in group {
                others[member].extend(group.iter().filter(|&&other| other != member));
            }
        }
        for (result, mut others) in results.iter_mut().zip(others) {
            others.sort_unstable();
            others.dedup();
            if result.result.status != Status::Error {
                result.result.copy_of = others.iter().map(|&i| sources[i].clone()).collect();
            }
        }
    }
}
