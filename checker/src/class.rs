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
    File {
        /// The file.
        path: PathBuf,
        /// Whose it is: the student folder it was found in (the first folder
        /// under the class folder), else the file's name without extension.
        student: String,
    },
}

impl Paste {
    /// A file named directly: its student is its stem.
    pub fn file(path: PathBuf) -> Self {
        let student = stem(&path);
        Self::File { path, student }
    }

    /// The name used as a result's `source`.
    pub fn name(&self) -> String {
        match self {
            Self::Stdin => "<stdin>".into(),
            Self::File { path, .. } => path.display().to_string(),
        }
    }

    /// Whose submission it is.
    pub fn student(&self) -> String {
        match self {
            Self::Stdin => "<stdin>".into(),
            Self::File { student, .. } => student.clone(),
        }
    }
}

/// A file's name without its extension (a folder's name), as a student's
/// name ([`student_name`]).
fn stem(path: &Path) -> String {
    let name = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem().or_else(|| path.file_name())
    };
    name.map_or_else(|| path.display().to_string(), student_name)
}

/// A folder or file name as a student's name, one to one: bytes that are
/// not UTF-8 are written `\xNN` and a backslash `\\`, so that two names
/// never merge (`x` followed by the byte 0xff and a folder literally named
/// `x\xff` stay two students).
pub fn student_name(name: &std::ffi::OsStr) -> String {
    name.as_encoded_bytes()
        .utf8_chunks()
        .flat_map(|chunk| {
            let valid = chunk.valid().chars().map(|c| match c {
                '\\' => "\\\\".to_owned(),
                c => String::from(c),
            });
            let invalid = chunk.invalid().iter().map(|b| format!("\\x{b:02x}"));
            valid.chain(invalid).collect::<Vec<_>>()
        })
        .collect()
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

/// Which files of a class folder are submissions (`--include GLOB`): a glob
/// without `/` is matched against the file's name, one with `/` against its
/// path below the class folder; `*` and `?` stay within one path segment,
/// `**` crosses them. No glob: every file.
#[derive(Debug, Clone, Default)]
pub struct Include(Vec<(String, regex::Regex)>);

impl Include {
    /// Compile `globs`; an empty list includes every file.
    pub fn new(globs: &[String]) -> Result<Self, Error> {
        globs
            .iter()
            .map(|glob| {
                let mut pattern = String::from("^");
                let mut chars = glob.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '*' if chars.peek() == Some(&'*') => {
                            chars.next();
                            pattern.push_str(".*");
                        }
                        '*' => pattern.push_str("[^/]*"),
                        '?' => pattern.push_str("[^/]"),
                        c => pattern.push_str(&regex::escape(&c.to_string())),
                    }
                }
                pattern.push('$');
                regex::Regex::new(&pattern)
                    .map(|regex| (glob.clone(), regex))
                    .map_err(|error| Error::Usage(format!("--include {glob}: {error}")))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn includes(&self, relative: &Path) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let path = relative.to_string_lossy().replace('\\', "/");
        let name = relative
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        self.0.iter().any(|(glob, regex)| {
            if glob.contains('/') {
                regex.is_match(&path)
            } else {
                regex.is_match(&name)
            }
        })
    }
}

/// Expand PASTE arguments into submissions. `-` is stdin; a folder stands for
/// every regular file in it and in its subfolders (one per student), sorted
/// by name, that `include` accepts; no argument at all means stdin. Files
/// named directly must be readable regular files (a FIFO would block), and
/// folders must hold a submission: otherwise the command cannot run.
///
/// Whose each submission is: in a class folder, the first folder under it
/// (or a loose file's stem). Among several arguments (a shell's `class/*`),
/// a folder holding only files is one student's, named after it, and files
/// named directly whose stems repeat (`class/*/run.txt`) belong to the
/// folders they are in.
pub fn submissions(arguments: &[PathBuf], include: &Include) -> Result<Submissions, Error> {
    let mut found = Submissions::default();
    if arguments.is_empty() {
        found.pastes.push(Paste::Stdin);
        return Ok(found);
    }
    let mut graded = Vec::new();
    let several = arguments.len() > 1;
    let stems: Vec<String> = arguments.iter().map(|a| stem(a)).collect();
    for (index, argument) in arguments.iter().enumerate() {
        if argument.as_os_str() == "-" {
            found.pastes.push(Paste::Stdin);
        } else if argument.is_dir() {
            let before = found.pastes.len();
            let root =
                fs::canonicalize(argument).map_err(|source| paste_error(argument, source))?;
            let student = (several && holds_only_files(argument)).then(|| stem(argument));
            let mut walk = Walk {
                root: &root,
                top: argument,
                include,
                graded: &mut graded,
                found: &mut found,
            };
            walk.folder(argument, student.as_deref())?;
            if found.pastes.len() == before {
                return Err(Error::EmptyFolder(argument.clone()));
            }
        } else {
            let meta = fs::metadata(argument).map_err(|source| paste_error(argument, source))?;
            if !meta.is_file() {
                return Err(paste_error(
                    argument,
                    io::Error::other("not a regular file (a FIFO or a device would never end)"),
                ));
            }
            fs::File::open(argument).map_err(|source| paste_error(argument, source))?;
            let repeated = stems.iter().filter(|s| **s == stems[index]).count() > 1;
            let folder = argument.parent().filter(|p| !p.as_os_str().is_empty());
            let student = match folder {
                Some(folder) if repeated => stem(folder),
                _ => stems[index].clone(),
            };
            found.pastes.push(Paste::File {
                path: argument.clone(),
                student,
            });
        }
    }
    Ok(found)
}

/// Whether `dir` holds files and no folders (hidden entries aside).
fn holds_only_files(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().all(|entry| {
            entry.file_name().to_string_lossy().starts_with('.')
                || !entry.file_type().is_ok_and(|t| t.is_dir())
        })
    })
}

/// The folders of `class` named after a lesson of `lessons_dir` (a lesson
/// folder holding `lesson.md`), sorted: what `grade --all CLASS` grades.
pub fn lesson_folders(class: &Path, lessons_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut folders = Vec::new();
    for entry in fs::read_dir(class).map_err(|source| paste_error(class, source))? {
        let path = entry.map_err(|source| paste_error(class, source))?.path();
        let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if let Some(name) = path.file_name().filter(|_| is_dir)
            && !name.to_string_lossy().starts_with('.')
            && lessons_dir.join(name).join("lesson.md").is_file()
        {
            folders.push(path);
        }
    }
    folders.sort();
    Ok(folders)
}

/// A PASTE folder that holds lesson folders (`CLASS/w09-l07/...`) is the
/// parent of the submissions, not a class: say where they are.
pub fn refuse_a_parent_of_lesson_folders(
    pastes: &[PathBuf],
    lessons_dir: &Path,
) -> Result<(), Error> {
    for paste in pastes.iter().filter(|paste| paste.is_dir()) {
        let found = lesson_folders(paste, lessons_dir)?;
        if !found.is_empty() {
            let names: Vec<String> = found
                .iter()
                .filter_map(|f| Some(f.file_name()?.to_string_lossy().into_owned()))
                .collect();
            return Err(Error::Usage(format!(
                "{} holds lesson folders ({}), not submissions: grade {} for one lesson, or \
                 every lesson at once with --all {}",
                paste.display(),
                names.join(", "),
                found[0].display(),
                paste.display()
            )));
        }
    }
    Ok(())
}

fn paste_error(path: &Path, source: io::Error) -> Error {
    Error::Paste {
        path: path.into(),
        source,
    }
}

/// One class folder being walked.
struct Walk<'a> {
    /// The class folder, canonical.
    root: &'a Path,
    /// The class folder as given.
    top: &'a Path,
    include: &'a Include,
    /// Canonical folders already walked, so a link back to one (`→ .`)
    /// grades nobody twice.
    graded: &'a mut Vec<PathBuf>,
    found: &'a mut Submissions,
}

impl Walk<'_> {
    /// Add the submissions in `dir`: the class folder (`student` `None`) or
    /// a student's folder.
    fn folder(&mut self, dir: &Path, student: Option<&str>) -> Result<(), Error> {
        if let Ok(canonical) = fs::canonicalize(dir) {
            self.graded.push(canonical);
        }
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir).map_err(|source| paste_error(dir, source))? {
            entries.push(entry.map_err(|source| paste_error(dir, source))?.path());
        }
        entries.sort();
        for path in entries {
            self.entry(path, student)?;
        }
        Ok(())
    }

    fn entry(&mut self, path: PathBuf, student: Option<&str>) -> Result<(), Error> {
        let mut skip = |reason| {
            self.found.skipped.push(Skipped {
                path: path.clone(),
                reason,
            });
            Ok(())
        };
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden {
            return skip("hidden");
        }
        let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            match fs::canonicalize(&path) {
                Err(_) => return skip("a dangling symlink"),
                Ok(target) if !target.starts_with(self.root) => {
                    return skip("a symlink leading out of the class folder");
                }
                Ok(target) if self.graded.contains(&target) => {
                    return skip("a symlink to a folder already graded");
                }
                Ok(_) => {}
            }
        }
        // `metadata` follows a symlink that stays inside the folder.
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {
                let relative = path.strip_prefix(self.top).unwrap_or(&path);
                if !self.include.includes(relative) {
                    return skip("not matched by --include");
                }
                let student = student.map_or_else(|| stem(&path), str::to_owned);
                self.found.pastes.push(Paste::File { path, student });
                Ok(())
            }
            Ok(meta) if meta.is_dir() && student.is_none() => {
                let name = stem(&path);
                self.folder(&path, Some(&name))
            }
            Ok(meta) if meta.is_dir() => {
                skip("a folder inside a student's folder (one level is searched)")
            }
            Ok(_) => skip("not a regular file"),
            Err(_) => skip("cannot be read"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::student_name;

    #[test]
    fn student_names_never_merge() {
        let names = [
            OsStr::from_bytes(b"x\xff"),
            OsStr::from_bytes(b"x\xfe"),
            OsStr::new("x\\xff"),
            OsStr::new("x\u{fffd}"),
            OsStr::new("x"),
        ];
        let shown: Vec<String> = names.iter().map(|name| student_name(name)).collect();
        for (index, name) in shown.iter().enumerate() {
            assert!(!shown[..index].contains(name), "{shown:?}");
        }
        assert_eq!(shown[0], "x\\xff");
        assert_eq!(student_name(OsStr::new("alice")), "alice");
    }
}
