//! `checker lint`: check every lesson folder and report every problem, each
//! with the file and line to fix.
//!
//! Checks, per folder of the lessons folder:
//! - it holds a `lesson.md` whose frontmatter parses and whose patterns compile;
//! - the lesson `id` equals the folder name;
//! - (`part`, `order`) is not used by another lesson;
//! - every `Expected: "..."` example in the body passes the lesson's own proof;
//! - if the folder holds a cargo package (a drill): the package is named after
//!   the id, has exactly one binary, and the lesson's `## Verify` section
//!   names that binary. A folder without a package is a lesson without a
//!   drill, which is fine.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use lesson::{Lesson, Position};

use crate::catalog::{self, DOCUMENT, Drill};
use crate::error::Error;

/// Check `lessons_dir`, write one line per problem and a summary line to
/// `out`, and return the number of problems.
pub fn lint(lessons_dir: &Path, out: &mut dyn Write) -> Result<usize, Error> {
    let dirs = catalog::lesson_dirs(lessons_dir)?;
    // Not one lesson document: most likely the wrong folder, not a folder
    // of broken lessons.
    if !dirs.iter().any(|dir| dir.join(DOCUMENT).is_file()) {
        return Err(Error::NoLessons(lessons_dir.into()));
    }
    let manifests: Vec<PathBuf> = dirs
        .iter()
        .map(|dir| dir.join("Cargo.toml"))
        .filter(|manifest| manifest.is_file())
        .collect();
    let mut packages: HashMap<&Path, Result<Drill, String>> = HashMap::new();
    for (manifest, package) in manifests.iter().zip(catalog::read_packages(&manifests)) {
        packages.insert(manifest.parent().unwrap_or(manifest), package);
    }

    let mut problems = Vec::new();
    let mut orders: HashMap<(String, u32), (PathBuf, Position)> = HashMap::new();
    for dir in &dirs {
        let folder = dir.file_name().unwrap_or_default().to_string_lossy();
        let document = dir.join(DOCUMENT);
        let lesson = if document.is_file() {
            match Lesson::load_collecting(&document) {
                Ok(lesson) => Some(lesson),
                Err(errors) => {
                    problems.extend(errors.iter().map(ToString::to_string));
                    None
                }
            }
        } else {
            problems.push(format!(
                "{}: no {DOCUMENT} in this lesson folder",
                dir.display()
            ));
            None
        };
        if let Some(lesson) = &lesson {
            check_lesson(lesson, &folder, &mut orders, &mut problems);
        }
        if let Some(package) = packages.get(dir.as_path()) {
            let id = lesson
                .as_ref()
                .map_or(&*folder, |l| l.frontmatter.id.as_str());
            check_drill(
                &dir.join("Cargo.toml"),
                package,
                id,
                lesson.as_ref(),
                &mut problems,
            );
        }
    }

    for problem in &problems {
        writeln!(out, "{problem}")?;
    }
    match problems.len() {
        0 => writeln!(out, "{} lessons checked, no problems", dirs.len())?,
        1 => writeln!(out, "1 problem")?,
        n => writeln!(out, "{n} problems")?,
    }
    out.flush()?;
    Ok(problems.len())
}

fn at(path: &Path, position: Position) -> String {
    format!("{}:{position}", path.display())
}

fn check_lesson(
    lesson: &Lesson,
    folder: &str,
    orders: &mut HashMap<(String, u32), (PathBuf, Position)>,
    problems: &mut Vec<String>,
) {
    let fm = &lesson.frontmatter;
    let positions = lesson.positions();
    if fm.id != folder {
        problems.push(format!(
            "{}: id `{}` differs from its folder name `{folder}`",
            at(&lesson.path, positions.id),
            fm.id
        ));
    }
    let key = (fm.part.clone(), fm.order);
    if let Some((other, other_at)) = orders.get(&key) {
        problems.push(format!(
            "{}: part `{}` order {} is already used by {}",
            at(&lesson.path, positions.order),
            fm.part,
            fm.order,
            at(other, *other_at)
        ));
    } else {
        orders.insert(key, (lesson.path.clone(), positions.order));
    }
    for example in lesson.expected_outputs() {
        if let Some(reason) = lesson.check_example(example.text).failure() {
            problems.push(format!(
                "{}:{}: the expected output \"{}\" fails the lesson's own proof: {reason}",
                lesson.path.display(),
                example.line,
                example.text
            ));
        }
    }
}

fn check_drill(
    manifest: &Path,
    package: &Result<Drill, String>,
    id: &str,
    lesson: Option<&Lesson>,
    problems: &mut Vec<String>,
) {
    let drill = match package {
        Ok(drill) => drill,
        Err(message) => {
            problems.push(format!("{}: {message}", manifest.display()));
            return;
        }
    };
    let text = fs::read_to_string(manifest).unwrap_or_default();
    if drill.package != id {
        problems.push(format!(
            "{}:{}: package `{}` must be named after the lesson id `{id}`",
            manifest.display(),
            package_name_line(&text),
            drill.package
        ));
    }
    let binary = match drill.binary() {
        Ok(binary) => binary,
        Err(reason) => {
            problems.push(format!(
                "{}:{}: {reason}",
                manifest.display(),
                first_bin_line(&text)
            ));
            return;
        }
    };
    let Some(lesson) = lesson else { return };
    match lesson.section("Verify") {
        Some(verify) if verify.text.contains(binary) => {}
        Some(verify) => problems.push(format!(
            "{}:{}: the Verify section does not mention the drill binary `{binary}`",
            lesson.path.display(),
            verify.line
        )),
        None => problems.push(format!(
            "{}:{}: no `## Verify` section; it must show how to run the drill `{binary}`",
            lesson.path.display(),
            lesson.body_line()
        )),
    }
}

/// Line of `name = ...` in the `[package]` table (or of the table, or 1).
fn package_name_line(manifest: &str) -> usize {
    let mut in_package = false;
    let mut table_line = 1;
    for (index, line) in manifest.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            if in_package {
                table_line = index + 1;
            }
        } else if in_package
            && line
                .strip_prefix("name")
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return index + 1;
        }
    }
    table_line
}

/// Line of the first `[[bin]]` table (or of the package name, or 1).
fn first_bin_line(manifest: &str) -> usize {
    manifest
        .lines()
        .position(|line| line.trim() == "[[bin]]")
        .map_or_else(|| package_name_line(manifest), |index| index + 1)
}
