//! Class folders: turning `grade`'s PASTE arguments into submissions.
//!
//! A class arrives as a folder of pastes, or as one folder per student (how
//! GitHub Classroom downloads a class). Both are accepted:
//!
//! ```text
//! class/alice.txt              a submission, shown as class/alice.txt
//! class/bob/run.txt            a submission, shown as class/bob/run.txt
//! class/.DS_Store              skipped: hidden
//! class/bob/old/run.txt        skipped: deeper than one student folder
//! class/carol.txt -> /etc/x    skipped: a symlink leaving the folder
//! ```
//!
//! Nothing is left out silently: every entry not graded is listed as
//! [`Skipped`] with the reason, and the command prints them on stderr.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::Error;

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

/// An entry of a class folder that is not graded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry.
    pub path: PathBuf,
    /// Why it is not a submission.
    pub reason: &'static str,
}

/// The submissions and the entries skipped on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submissions {
    /// In the order given; a folder's files sorted by name.
    pub pastes: Vec<Paste>,
    /// Entries of class folders that are not submissions.
    pub skipped: Vec<Skipped>,
}

/// Expand PASTE arguments into submissions. `-` is stdin; a folder stands for
/// every regular file in it and in its subfolders (one per student), sorted
/// by name; no argument at all means stdin. Files named directly must be
/// readable, and folders must hold a submission: otherwise the command
/// cannot run.
pub fn submissions(arguments: &[PathBuf]) -> Result<Submissions, Error> {
    let mut found = Submissions::default();
    if arguments.is_empty() {
        found.pastes.push(Paste::Stdin);
        return Ok(found);
    }
    for argument in arguments {
        if argument.as_os_str() == "-" {
            found.pastes.push(Paste::Stdin);
        } else if argument.is_dir() {
            let before = found.pastes.len();
            let root =
                fs::canonicalize(argument).map_err(|source| paste_error(argument, source))?;
            walk(&root, argument, 0, &mut found)?;
            if found.pastes.len() == before {
                return Err(Error::EmptyFolder(argument.clone()));
            }
        } else {
            fs::File::open(argument).map_err(|source| paste_error(argument, source))?;
            found.pastes.push(Paste::File(argument.clone()));
        }
    }
    Ok(found)
}

fn paste_error(path: &Path, source: io::Error) -> Error {
    Error::Paste {
        path: path.into(),
        source,
    }
}

/// Add the submissions in `dir` (the class folder at depth 0, a student's
/// folder at depth 1); `root` is the class folder, canonical.
fn walk(root: &Path, dir: &Path, depth: usize, found: &mut Submissions) -> Result<(), Error> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|source| paste_error(dir, source))? {
        entries.push(entry.map_err(|source| paste_error(dir, source))?.path());
    }
    entries.sort();
    for path in entries {
        let skip = |reason| Skipped {
            path: path.clone(),
            reason,
        };
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if hidden {
            found.skipped.push(skip("hidden"));
            continue;
        }
        if is_link {
            match fs::canonicalize(&path) {
                Err(_) => {
                    found.skipped.push(skip("a dangling symlink"));
                    continue;
                }
                Ok(target) if !target.starts_with(root) => {
                    found
                        .skipped
                        .push(skip("a symlink leading out of the class folder"));
                    continue;
                }
                Ok(_) => {}
            }
        }
        // `metadata` follows a symlink that stays inside the folder.
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => found.pastes.push(Paste::File(path)),
            Ok(meta) if meta.is_dir() && depth == 0 => walk(root, &path, 1, found)?,
            Ok(meta) if meta.is_dir() => found.skipped.push(skip(
                "a folder inside a student's folder (one level is searched)",
            )),
            Ok(_) => found.skipped.push(skip("not a regular file")),
            Err(_) => found.skipped.push(skip("cannot be read")),
        }
    }
    Ok(())
}
