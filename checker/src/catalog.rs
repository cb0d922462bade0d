//! Finding lessons: the lessons folder, the lesson folders in it, their
//! documents and their drill packages.
//!
//! A lesson folder holds `lesson.md` and, if the lesson has a drill, a cargo
//! package (`Cargo.toml`) whose single binary is the drill. Packages are
//! described by `cargo metadata --no-deps` rather than by reading `Cargo.toml`
//! ourselves, so auto-discovered binaries, renamed targets and workspace
//! inheritance are seen exactly as cargo sees them.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use cargo_metadata::{MetadataCommand, PackageId, TargetKind};
use lesson::{Lesson, LessonError};

use crate::error::Error;

/// The file name of a lesson document inside its folder.
pub const DOCUMENT: &str = "lesson.md";

/// The `lessons/` folder of the cargo workspace containing `start`: the
/// nearest ancestor whose `Cargo.toml` has a `[workspace]` table.
pub fn default_lessons_dir(start: &Path) -> Result<PathBuf, Error> {
    start
        .ancestors()
        .find(|dir| {
            fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|manifest| {
                manifest
                    .lines()
                    .any(|line| line.trim_start().starts_with("[workspace"))
            })
        })
        .map(|root| root.join("lessons"))
        .ok_or_else(|| Error::NoWorkspace { dir: start.into() })
}

/// The default `--lessons`: the `lessons/` folder of the workspace around the
/// current directory.
pub fn workspace_lessons_dir() -> Result<PathBuf, Error> {
    let here = std::env::current_dir().map_err(|source| Error::LessonsDir {
        dir: ".".into(),
        source,
    })?;
    default_lessons_dir(&here)
}

/// The lesson folders inside `lessons_dir`, sorted by name. Hidden folders
/// (`.name`) are skipped.
pub fn lesson_dirs(lessons_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    visible_entries(lessons_dir, Path::is_dir).map_err(|source| Error::LessonsDir {
        dir: lessons_dir.into(),
        source,
    })
}

/// The entries of `dir` that are not hidden (`.name`) and satisfy `keep`,
/// sorted by name.
pub fn visible_entries(dir: &Path, keep: fn(&Path) -> bool) -> io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && keep(&entry.path()) {
            paths.push(entry.path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// The error for an unknown id: the closest known id and the list of ids, or
/// that `lessons_dir` holds no lessons at all.
pub fn unknown_lesson(id: &str, lessons_dir: &Path, expected: PathBuf) -> Error {
    let known: Vec<String> = lesson_dirs(lessons_dir)
        .unwrap_or_default()
        .iter()
        .filter(|dir| dir.join(DOCUMENT).is_file())
        .filter_map(|dir| Some(dir.file_name()?.to_string_lossy().into_owned()))
        .collect();
    if known.is_empty() {
        return Error::NoLessons(lessons_dir.into());
    }
    let closest = known
        .iter()
        .min_by_key(|candidate| strsim::levenshtein(id, candidate))
        .filter(|candidate| strsim::levenshtein(id, candidate) <= candidate.len() / 2)
        .map(|candidate| format!("did you mean `{candidate}`? "))
        .unwrap_or_default();
    Error::UnknownLesson {
        id: id.into(),
        expected,
        hint: format!("{closest}known lessons: {}", known.join(", ")),
    }
}

/// A drill: the cargo package in a lesson folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    /// Package name (lint requires it to equal the lesson id).
    pub package: String,
    /// Cargo's id of the package, to recognise its build artifacts.
    pub package_id: PackageId,
    /// Names of the package's binaries (lint requires exactly one).
    pub binaries: Vec<String>,
    /// The package's manifest.
    pub manifest: PathBuf,
    /// Root of the workspace the package belongs to (where it is built).
    pub workspace_root: PathBuf,
}

impl Drill {
    /// The drill binary, when the package has exactly one.
    pub fn binary(&self) -> Result<&str, String> {
        match self.binaries.as_slice() {
            [only] => Ok(only),
            [] => Err(format!("package `{}` has no binary", self.package)),
            many => Err(format!(
                "package `{}` has {} binaries ({}); a drill is exactly one",
                self.package,
                many.len(),
                many.join(", ")
            )),
        }
    }
}

/// Describe the packages whose manifests are given, calling `cargo metadata`
/// once per workspace: one call usually covers every lesson. A manifest cargo
/// cannot read gets cargo's message instead.
pub fn read_packages(manifests: &[PathBuf]) -> Vec<Result<Drill, String>> {
    let mut found: HashMap<PathBuf, Result<Drill, String>> = HashMap::new();
    let canonical: Vec<PathBuf> = manifests
        .iter()
        .map(|m| fs::canonicalize(m).unwrap_or_else(|_| m.clone()))
        .collect();
    for manifest in &canonical {
        if found.contains_key(manifest) {
            continue;
        }
        match MetadataCommand::new()
            .manifest_path(manifest)
            .no_deps()
            .exec()
        {
            Ok(metadata) => {
                for package in &metadata.packages {
                    let path = package.manifest_path.as_std_path();
                    if canonical.iter().any(|m| m == path) {
                        let drill = Drill {
                            package: package.name.to_string(),
                            package_id: package.id.clone(),
                            binaries: package
                                .targets
                                .iter()
                                .filter(|t| t.is_kind(TargetKind::Bin))
                                .map(|t| t.name.clone())
                                .collect(),
                            manifest: path.to_owned(),
                            workspace_root: metadata.workspace_root.clone().into_std_path_buf(),
                        };
                        found.insert(path.to_owned(), Ok(drill));
                    }
                }
                found
                    .entry(manifest.clone())
                    .or_insert_with(|| Err("cargo metadata does not list this package".to_owned()));
            }
            Err(error) => {
                found.insert(manifest.clone(), Err(one_line(&error.to_string())));
            }
        }
    }
    canonical
        .iter()
        .map(|manifest| found[manifest].clone())
        .collect()
}

/// Cargo's messages span several lines; problems are reported one per line.
/// The source snippet cargo draws under a location (lines starting with `|`
/// after the `-->` line) is left out: the location says where to look.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with('|'))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A lesson with its folder and drill.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The lesson folder.
    pub dir: PathBuf,
    /// The parsed document.
    pub lesson: Lesson,
    /// The drill, if the folder holds a package.
    pub drill: Option<Drill>,
}

/// Every lesson in `lessons_dir`, sorted by part, then order, then id.
///
/// Fails with every invalid document listed when any is invalid: commands
/// that show or run lessons should not silently skip one.
pub fn load(lessons_dir: &Path) -> Result<Vec<Entry>, Error> {
    let mut lessons = Vec::new();
    let mut errors: Vec<LessonError> = Vec::new();
    for dir in lesson_dirs(lessons_dir)? {
        let document = dir.join(DOCUMENT);
        if !document.is_file() {
            continue;
        }
        match Lesson::load(&document) {
            Ok(lesson) => lessons.push((dir, lesson)),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Lessons(errors));
    }
    if lessons.is_empty() {
        return Err(Error::NoLessons(lessons_dir.into()));
    }
    let manifests: Vec<Option<PathBuf>> = lessons
        .iter()
        .map(|(dir, _)| Some(dir.join("Cargo.toml")).filter(|m| m.is_file()))
        .collect();
    let present: Vec<PathBuf> = manifests.iter().flatten().cloned().collect();
    let mut packages = read_packages(&present).into_iter();
    let mut entries = Vec::with_capacity(lessons.len());
    for ((dir, lesson), manifest) in lessons.into_iter().zip(manifests) {
        let drill = match manifest {
            None => None,
            Some(manifest) => {
                let package = packages.next().expect("one package per manifest");
                Some(package.map_err(|message| Error::Package { manifest, message })?)
            }
        };
        entries.push(Entry { dir, lesson, drill });
    }
    entries.sort_by(|a, b| {
        let key = |e: &Entry| {
            let fm = &e.lesson.frontmatter;
            (fm.part.clone(), fm.order, fm.id.clone())
        };
        key(a).cmp(&key(b))
    });
    Ok(entries)
}
