//! `checker list`: the lessons, sorted by part then order.

use std::io::Write;
use std::path::Path;

use lesson::Frontmatter;
use serde::Serialize;

use crate::catalog::{self, Entry};
use crate::error::Error;

/// Version of `list --format json`. It stays 1 while the results of `run` and
/// `grade` moved to 2 (`copy_of`): the list's document did not change.
pub const LIST_SCHEMA_VERSION: u32 = 1;

/// One lesson in `list --format json`: its full frontmatter, its document and
/// its drill.
#[derive(Debug, Serialize)]
pub struct ListedLesson<'a> {
    /// Every frontmatter field, at the top level of the object.
    #[serde(flatten)]
    pub frontmatter: &'a Frontmatter,
    /// The lesson document.
    pub path: String,
    /// The drill, or `null` for a lesson without one.
    pub drill: Option<ListedDrill<'a>>,
}

/// A drill in `list --format json`.
#[derive(Debug, Serialize)]
pub struct ListedDrill<'a> {
    /// The cargo package.
    pub package: &'a str,
    /// The drill binary; `null` unless the package has exactly one binary.
    pub binary: Option<&'a str>,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: u32,
    lessons: Vec<ListedLesson<'a>>,
}

/// Write the lessons in `lessons_dir` as JSON (`json`) or as a table.
pub fn list(lessons_dir: &Path, json: bool, out: &mut dyn Write) -> Result<(), Error> {
    let entries = catalog::load(lessons_dir)?;
    if json {
        let document = Document {
            schema: LIST_SCHEMA_VERSION,
            lessons: entries.iter().map(listed).collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &document).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        table(&entries, out)?;
    }
    out.flush()?;
    Ok(())
}

fn listed(entry: &Entry) -> ListedLesson<'_> {
    ListedLesson {
        frontmatter: &entry.lesson.frontmatter,
        path: entry.lesson.path.display().to_string(),
        drill: entry.drill.as_ref().map(|drill| ListedDrill {
            package: &drill.package,
            binary: drill.binary().ok(),
        }),
    }
}

fn table(entries: &[Entry], out: &mut dyn Write) -> std::io::Result<()> {
    let header = ["ID", "TITLE", "PART", "ORDER", "XP", "PROOF", "DRILL"].map(String::from);
    let mut rows = vec![header];
    for entry in entries {
        let fm = &entry.lesson.frontmatter;
        let drill = match &entry.drill {
            None => "-".to_owned(),
            Some(drill) => drill
                .binary()
                .map_or_else(|_| drill.binaries.join(","), str::to_owned),
        };
        rows.push([
            fm.id.clone(),
            fm.title.clone(),
            fm.part.clone(),
            fm.order.to_string(),
            fm.xp.to_string(),
            fm.proof.kind.to_string(),
            drill,
        ]);
    }
    let mut widths = [0; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    if entries.is_empty() {
        writeln!(out, "(no lessons)")?;
    }
    Ok(())
}
