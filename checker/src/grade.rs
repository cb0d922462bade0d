//! `checker grade`: grade pasted output against a lesson's proof.
//!
//! Works without any lesson crate and outside a workspace when the lesson is
//! given as a path: instructors only need the `.md` file and the pastes.
//!
//! A lesson with a drill is proved only by that drill's verified transcript
//! of a store other than the course's own ([`rule`]); a lesson without one
//! (a `lesson.md` given by path, with no drill package beside it), or any
//! lesson under [`Options::accept_own_tests`], is graded on its patterns and
//! the verdict of the run pasted ([`lesson::Lesson::check`]). Either way a
//! drill transcript of the reference store or of a store the course ships
//! fails unless [`Options::accept_course_stores`] (see [`course_stores`]).
//!
//! Every paste is graded before the report starts, because copies can only
//! be found once all submissions are known ([`crate::copies`]).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use lesson::{Lesson, OUTPUT_LIMIT, normalize, not_text, read_limited};

use crate::catalog::{self, DOCUMENT};
use crate::class::Paste;
use crate::copies::Copies;
use crate::course_stores;
use crate::error::Error;
use crate::outcome::{Event, Finished, Summary};
use crate::report::{self, Reporter};
use crate::rule::{self, DrillRule};

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

/// The lessons of this course that have a drill, built in: a copy of one
/// of their `lesson.md` files graded away from the workspace is still
/// graded on its drill. A test keeps the list equal to the lesson folders
/// with a drill package.
pub const DRILL_LESSONS: &[&str] = &["w09-l07", "w09-l08"];

/// The rule of a lesson with a drill (see [`rule`]): its folder holds a
/// drill package, or its id is one of [`DRILL_LESSONS`]; `None` for a
/// lesson without a drill, graded on its patterns.
pub fn drill_rule(lesson: &Lesson) -> Option<DrillRule> {
    let id = &lesson.frontmatter.id;
    let beside = lesson
        .path
        .parent()
        .is_some_and(|folder| folder.join("Cargo.toml").is_file());
    (beside || DRILL_LESSONS.contains(&id.as_str())).then(|| DrillRule {
        package: id.clone(),
    })
}

/// How to grade.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Accept drill transcripts of the course's own stores (the reference
    /// store, the shipped examples; see [`course_stores`]), which otherwise
    /// fail: for instructors grading the reference drills themselves.
    pub accept_course_stores: bool,
    /// Grade a lesson with a drill as one without (`--accept-own-tests`):
    /// a student's own test output passes on the patterns and the verdict
    /// table, as for courses whose students paste their own tests.
    pub accept_own_tests: bool,
    /// The lesson's drill, when it has one (see [`drill_rule`]).
    pub drill: Option<DrillRule>,
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
    let results = grade_all(lesson, pastes, options);
    let events = results
        .into_iter()
        .map(|result| Event::Finished(Box::new(result)));
    report::drive(events, reporter).map_err(Error::Output)
}

/// Grade every paste against `lesson`, copies flagged. Only what the report
/// shows is kept of each paste (the output attached to a failure is cut,
/// see [`Finished::keep_output`]), so memory follows the largest paste, not
/// the class.
pub fn grade_all(lesson: &Lesson, pastes: &[Paste], options: &Options) -> Vec<Finished> {
    let mut results = Vec::with_capacity(pastes.len());
    let mut copies = Copies::default();
    for (index, paste) in pastes.iter().enumerate() {
        let result = match read(paste) {
            Ok(bytes) => {
                let text = normalize(&bytes);
                let overwritten = rule::overwritten_lines(&bytes);
                drop(bytes);
                let report = lesson.check_text(&text);
                copies.add(index, paste.student(), &text, &report);
                let rule = options.drill.as_ref().filter(|_| !options.accept_own_tests);
                let mut finished = match rule {
                    Some(rule) => {
                        let mut judged =
                            rule::judge(rule, lesson, &text, &report, options.accept_course_stores);
                        judged
                            .reasons
                            .extend(rule::hidden_text(&report, &overwritten));
                        copies.store(index, judged.transcript.as_ref());
                        Finished::judged(index, lesson, paste.name(), &judged)
                    }
                    None => {
                        let not_theirs = if options.accept_course_stores {
                            None
                        } else {
                            let stores: Vec<_> = report
                                .transcripts
                                .iter()
                                .filter_map(|t| t.store.clone())
                                .collect();
                            course_stores::problem(&stores)
                        };
                        copies.store(index, report.transcripts.last());
                        Finished::graded(
                            index,
                            lesson,
                            paste.name(),
                            String::new(),
                            &report,
                            not_theirs,
                        )
                    }
                };
                finished.keep_output(&text);
                finished
            }
            Err(message) => Finished::error(index, lesson, paste.name(), message),
        };
        results.push(result);
    }
    copies.mark(&mut results);
    results
}

fn read(paste: &Paste) -> Result<Vec<u8>, String> {
    let bytes = match paste {
        Paste::Stdin => read_limited(io::stdin().lock(), OUTPUT_LIMIT),
        Paste::File { path, .. } => {
            // A FIFO or a device named as a paste would block or never end.
            match std::fs::metadata(path) {
                Ok(meta) if !meta.is_file() => {
                    return Err("not a regular file (a FIFO, a device or a folder)".into());
                }
                Err(error) => return Err(format!("cannot read: {error}")),
                Ok(_) => {}
            }
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
