//! `checker grade`: grade pasted output against a lesson's proof.
//!
//! Works without any lesson crate and outside a workspace when the lesson is
//! given as a path: instructors only need the `.md` file and the pastes.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use lesson::{Lesson, OUTPUT_LIMIT, normalize, read_limited};

use crate::catalog::{self, DOCUMENT};
use crate::error::Error;
use crate::outcome::{Event, Finished, Summary};
use crate::report::{self, Reporter};

/// One submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paste {
    /// Standard input (`-`, or no PASTE at all).
    Stdin,
    /// A file, named directly or found in a folder.
    File(PathBuf),
}

impl Paste {
    /// The name used as a result's `source`.
    pub fn name(&self) -> String {
        match self {
            Self::Stdin => "<stdin>".into(),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// Find the lesson named by `lesson`: a path when it ends in `.md` or holds a
/// `/`, otherwise an id looked up in `lessons_dir` (computed only then, so a
/// path works outside any workspace).
pub fn find_lesson(
    lesson: &str,
    lessons_dir: impl FnOnce() -> Result<PathBuf, Error>,
) -> Result<Lesson, Error> {
    let is_path = lesson.ends_with(".md") || lesson.contains(['/', std::path::MAIN_SEPARATOR]);
    let path = if is_path {
        PathBuf::from(lesson)
    } else {
        let path = lessons_dir()?.join(lesson).join(DOCUMENT);
        if !path.is_file() {
            return Err(Error::UnknownLesson {
                id: lesson.into(),
                expected: path,
            });
        }
        path
    };
    Lesson::load(&path).map_err(|error| Error::Lessons(vec![error]))
}

/// Expand PASTE arguments into submissions. `-` is stdin; a folder stands for
/// every regular, non-hidden file directly inside it, sorted by name; no
/// argument at all means stdin. Files named directly must be readable, and
/// folders must hold a file: otherwise the command cannot run.
pub fn pastes(arguments: &[PathBuf]) -> Result<Vec<Paste>, Error> {
    if arguments.is_empty() {
        return Ok(vec![Paste::Stdin]);
    }
    let mut pastes = Vec::new();
    for argument in arguments {
        if argument.as_os_str() == "-" {
            pastes.push(Paste::Stdin);
        } else if argument.is_dir() {
            let before = pastes.len();
            pastes.extend(folder(argument)?.into_iter().map(Paste::File));
            if pastes.len() == before {
                return Err(Error::EmptyFolder(argument.clone()));
            }
        } else {
            File::open(argument).map_err(|source| Error::Paste {
                path: argument.clone(),
                source,
            })?;
            pastes.push(Paste::File(argument.clone()));
        }
    }
    Ok(pastes)
}

fn folder(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    catalog::visible_entries(dir, Path::is_file).map_err(|source| Error::Paste {
        path: dir.into(),
        source,
    })
}

/// Grade every paste against `lesson`, in order, reporting to `reporter`.
/// A paste that cannot be read, or is too large, is an `error` result; the
/// others are still graded.
pub fn grade(
    lesson: &Lesson,
    pastes: &[Paste],
    reporter: &mut dyn Reporter,
) -> Result<Summary, Error> {
    let events = pastes.iter().enumerate().map(|(index, paste)| {
        let result = match read(paste) {
            Ok(bytes) => {
                let text = normalize(&bytes);
                let report = lesson.check_text(&text);
                Finished::graded(index, lesson, paste.name(), text, &report, None)
            }
            Err(message) => Finished::error(index, lesson, paste.name(), message),
        };
        Event::Finished(Box::new(result))
    });
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
    bytes.map_err(|error| error.to_string())
}
